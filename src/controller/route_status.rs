//! What the mesh made of each HTTPRoute, as the Gateway API's route status says it: per parent
//! (a Service, for mesh traffic, or a Gateway meshctl serves), `Accepted` (the route routes
//! that Service's traffic or attaches to the Gateway's listeners, or why not) and
//! `ResolvedRefs` (every backend can be sent to, or which cannot and why). A route that does
//! nothing always says why here. Pure: the leader's loop writes what this returns.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use crate::api::Resource;
use crate::api::gateway::{
    GATEWAY_CONTROLLER, HTTPRoute, MESH_CONTROLLER, ReferenceGrant, RouteParentStatus, RouteStatus, reference_granted,
};
use crate::ingress::Ingress;
use crate::policy::{resolve_host, service_host};
use crate::store::ObjectRef;
use crate::translate::Service;

/// Each service's ports by its fully qualified host: what a route's parents and backends are
/// checked against.
pub type ServicePorts = BTreeMap<String, BTreeSet<u16>>;

pub fn service_ports(services: &[Service]) -> ServicePorts {
    services.iter().map(|s| (s.host(), s.ports.iter().map(|p| p.number).collect())).collect()
}

/// The status each HTTPRoute among `resources` should have that it does not have yet: its
/// other controllers' parent statuses kept, meshctl's replaced. `now` stamps conditions whose
/// status changed.
pub fn changed(
    resources: &[Resource],
    ingress: &Ingress<'_>,
    ports: &ServicePorts,
    now: Time,
) -> Vec<(ObjectRef, RouteStatus)> {
    let grants: Vec<&ReferenceGrant> = resources
        .iter()
        .filter_map(|r| match r {
            Resource::ReferenceGrant(g) => Some(&**g),
            _ => None,
        })
        .collect();
    let gateways: BTreeSet<(String, String)> = resources
        .iter()
        .filter(|r| matches!(r, Resource::Gateway(_)))
        .map(|r| (r.namespace().to_string(), r.name().to_string()))
        .collect();
    // Only a VirtualService that routes in the mesh takes a Service's mesh traffic.
    let routed: BTreeMap<String, String> = resources
        .iter()
        .filter_map(|r| match r {
            Resource::VirtualService(vs) if vs.spec.in_mesh() => Some((vs, r.namespace())),
            _ => None,
        })
        .flat_map(|(vs, ns)| {
            let name = format!("{ns}/{}", vs.metadata.name.as_deref().unwrap_or_default());
            vs.spec.hosts.iter().map(move |h| (resolve_host(h, ns), name.clone()))
        })
        .collect();
    resources
        .iter()
        .filter_map(|r| match r {
            Resource::HTTPRoute(route) => Some((ObjectRef::of(r), route)),
            _ => None,
        })
        .filter_map(|(object, route)| {
            let old = route.status.clone().unwrap_or_default();
            let judged = Judged { gateways: &gateways, ports, routed: &routed, grants: &grants, ingress };
            let new = status(route, &judged, &old, &now);
            (new != old).then_some((object, new))
        })
        .collect()
}

/// The namespace and name of the Gateway a parentRef of a route in `namespace` names.
fn parent_key(parent: &crate::api::gateway::ParentReference, namespace: &str) -> (String, String) {
    (parent.namespace.clone().unwrap_or_else(|| namespace.to_string()), parent.name.clone())
}

/// What a route is judged against.
struct Judged<'a> {
    /// Every Gateway, of any class, by namespace and name.
    gateways: &'a BTreeSet<(String, String)>,
    ports: &'a ServicePorts,
    /// The hosts VirtualServices route in the mesh, and which one.
    routed: &'a BTreeMap<String, String>,
    grants: &'a [&'a ReferenceGrant],
    ingress: &'a Ingress<'a>,
}

fn status(route: &HTTPRoute, judged: &Judged<'_>, old: &RouteStatus, now: &Time) -> RouteStatus {
    let namespace = route.metadata.namespace.as_deref().unwrap_or_default();
    let generation = route.metadata.generation;
    let resolved = resolved_refs(route, namespace, judged);
    let ours = [MESH_CONTROLLER, GATEWAY_CONTROLLER];
    let mut parents: Vec<RouteParentStatus> =
        old.parents.iter().filter(|p| !ours.contains(&p.controller_name.as_str())).cloned().collect();
    for parent in &route.spec.parent_refs {
        let (controller, accepted) = if parent.is_service() {
            (MESH_CONTROLLER, mesh_parent(parent, namespace, judged))
        } else {
            let verdict = judged
                .ingress
                .gateways
                .iter()
                .flat_map(|s| &s.routes)
                .find(|(r, p, _)| std::ptr::eq(*r, route) && *p == parent);
            let accepted = match verdict {
                Some((_, _, Ok(()))) => (true, "Accepted", "attached to the Gateway's listeners".to_string()),
                Some((_, _, Err((reason, message)))) => (false, *reason, message.clone()),
                // No Gateway of that name at all: no controller would say so but meshctl's.
                None if parent.is_gateway() && !judged.gateways.contains(&parent_key(parent, namespace)) => {
                    let (ns, name) = parent_key(parent, namespace);
                    (false, "NoMatchingParent", format!("no Gateway {ns}/{name}"))
                }
                // A Gateway of another controller's class is not meshctl's to speak for.
                None => continue,
            };
            (GATEWAY_CONTROLLER, accepted)
        };
        let previous = old.parents.iter().find(|p| p.controller_name == controller && p.parent_ref == *parent);
        let kept = |kind: &str| previous.and_then(|p| p.conditions.iter().find(|c| c.type_ == kind));
        let conditions = vec![
            condition("Accepted", accepted, generation, kept("Accepted"), now),
            condition("ResolvedRefs", resolved.clone(), generation, kept("ResolvedRefs"), now),
        ];
        parents.push(RouteParentStatus {
            parent_ref: parent.clone(),
            controller_name: controller.to_string(),
            conditions,
        });
    }
    RouteStatus { parents }
}

/// Whether a route attached to a Service takes its mesh traffic, or why not.
fn mesh_parent(
    parent: &crate::api::gateway::ParentReference,
    namespace: &str,
    judged: &Judged<'_>,
) -> (bool, &'static str, String) {
    let host = service_host(&parent.name, parent.namespace.as_deref().unwrap_or(namespace));
    match (judged.ports.get(&host), judged.routed.get(&host)) {
        (None, _) => (false, "NoMatchingParent", format!("no Service {host} in the mesh")),
        (Some(numbers), _) if parent.port.is_some_and(|p| !numbers.contains(&p)) => {
            let port = parent.port.unwrap_or_default();
            (false, "NoMatchingParent", format!("Service {host} has no port {port}"))
        }
        (Some(_), Some(vs)) => (
            false,
            "OverriddenByVirtualService",
            format!(
                "VirtualService {vs} routes {host}, and a Service's mesh traffic follows one API: this route is \
                     not used; remove the VirtualService (or this route)"
            ),
        ),
        (Some(_), None) => (true, "Accepted", format!("routes the mesh traffic to {host}")),
    }
}

/// Whether every backend of every rule can be sent to: a Service of the mesh, with the port,
/// in the route's namespace or one that grants the reference. Of several failures, a wrong
/// kind is said first, then a reference not granted, then what is missing.
fn resolved_refs(route: &HTTPRoute, namespace: &str, judged: &Judged<'_>) -> (bool, &'static str, String) {
    let mut missing = Vec::new();
    let backends = route.spec.rules.iter().flat_map(|r| &r.backend_refs);
    if let Some(backend) = backends.clone().find(|b| !b.is_service()) {
        let kind = backend.kind.as_deref().unwrap_or("Service");
        return (false, "InvalidKind", format!("backend {} is a {kind}; meshctl sends to Services only", backend.name));
    }
    let refused = backends.clone().find(|b| {
        let to = b.namespace.as_deref().unwrap_or(namespace);
        !reference_granted(judged.grants.iter().copied(), ("HTTPRoute", namespace), ("Service", to, &b.name))
    });
    if let Some(backend) = refused {
        let to = backend.namespace.as_deref().unwrap_or(namespace);
        return (
            false,
            "RefNotPermitted",
            format!(
                "backend {to}/{} is in another namespace, and no ReferenceGrant there lets HTTPRoutes in {namespace} \
                 send to it; requests that would go there fail",
                backend.name
            ),
        );
    }
    for backend in backends {
        let host = service_host(&backend.name, backend.namespace.as_deref().unwrap_or(namespace));
        match (judged.ports.get(&host), backend.port) {
            (None, _) => missing.push(format!("no Service {host}")),
            (Some(numbers), Some(port)) if !numbers.contains(&port) => {
                missing.push(format!("Service {host} has no port {port}"))
            }
            _ => {}
        }
    }
    if missing.is_empty() {
        (true, "ResolvedRefs", "every backend is a Service of the mesh".into())
    } else {
        let message = format!("{}; requests that would go there fail", missing.join(", "));
        (false, "BackendNotFound", message)
    }
}

/// A condition of `kind`, stamped `now` unless `previous` had the same status.
pub(super) fn condition(
    kind: &str,
    (holds, reason, message): (bool, &str, String),
    generation: Option<i64>,
    previous: Option<&Condition>,
    now: &Time,
) -> Condition {
    let status = if holds { "True" } else { "False" };
    let since = previous.filter(|c| c.status == status).map_or_else(|| now.clone(), |c| c.last_transition_time.clone());
    Condition {
        type_: kind.to_string(),
        status: status.to_string(),
        reason: reason.to_string(),
        message,
        observed_generation: generation,
        last_transition_time: since,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Protocol;
    use crate::translate::{Origin, ServicePort};

    fn service(name: &str) -> Service {
        Service {
            name: name.into(),
            namespace: "shop".into(),
            ports: vec![ServicePort { name: "http".into(), number: 80, protocol: Protocol::Http }],
            addresses: vec![],
            instances: vec![],
            origin: Origin::Registry,
            exported: Default::default(),
        }
    }

    fn decoded(yaml: &str) -> Resource {
        let (documents, _) = crate::api::yaml::parse(yaml);
        let json = documents[0].root.as_ref().unwrap().to_json();
        let kind = crate::api::Kind::of(&json).unwrap();
        kind.decode(json).unwrap()
    }

    const ROUTE: &str = "apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: profile, namespace: shop, generation: 3}
spec:
  parentRefs: [{group: '', kind: Service, name: profile}]
  rules:
  - backendRefs: [{name: profile, port: 80}, {name: profile-v3, port: 80}]
";

    fn conditions(status: &RouteStatus) -> Vec<(String, String, String)> {
        let ours = status.parents.iter().filter(|p| p.controller_name == MESH_CONTROLLER);
        ours.flat_map(|p| &p.conditions).map(|c| (c.type_.clone(), c.status.clone(), c.reason.clone())).collect()
    }

    #[test]
    fn a_missing_backend_is_named_and_a_route_a_virtual_service_overrides_says_so() {
        let now = Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH);
        let route = decoded(ROUTE);
        let services = [service("profile")];
        let written =
            changed(std::slice::from_ref(&route), &Ingress::default(), &service_ports(&services), now.clone());
        let status = &written[0].1;
        let expected = [("Accepted", "True", "Accepted"), ("ResolvedRefs", "False", "BackendNotFound")];
        let expected: Vec<_> = expected.iter().map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())).collect();
        assert_eq!(conditions(status), expected);
        let resolved = &status.parents[0].conditions[1];
        assert!(resolved.message.contains("no Service profile-v3.shop.svc.cluster.local"), "{}", resolved.message);
        assert_eq!(resolved.observed_generation, Some(3));

        // Written back, nothing changes; a VirtualService for the host makes it not Accepted.
        let Resource::HTTPRoute(mut stored) = route else { unreachable!() };
        std::sync::Arc::make_mut(&mut stored).status = Some(status.clone());
        let stored = Resource::HTTPRoute(stored);
        let later = Time(k8s_openapi::jiff::Timestamp::from_second(60).unwrap());
        assert!(
            changed(std::slice::from_ref(&stored), &Ingress::default(), &service_ports(&services), later.clone())
                .is_empty()
        );
        let vs = decoded(
            "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: profile, namespace: shop}
spec:
  hosts: [profile]
  http: [{route: [{destination: {host: profile}}]}]
",
        );
        let written = changed(&[stored, vs], &Ingress::default(), &service_ports(&services), later.clone());
        let accepted = &written[0].1.parents[0].conditions[0];
        assert_eq!((accepted.status.as_str(), accepted.reason.as_str()), ("False", "OverriddenByVirtualService"));
        assert!(accepted.message.contains("VirtualService shop/profile"), "{}", accepted.message);
        assert_eq!(accepted.last_transition_time, later);
        // ResolvedRefs did not change status, so it keeps when it last did.
        assert_eq!(written[0].1.parents[0].conditions[1].last_transition_time, now);

        // A route to a Gateway nobody has is not left without a word.
        let lost = decoded(
            "apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: lost, namespace: shop}
spec: {parentRefs: [{name: nowhere}]}
",
        );
        let written = changed(&[lost], &Ingress::default(), &service_ports(&services), later.clone());
        let parent = &written[0].1.parents[0];
        assert_eq!(parent.controller_name, GATEWAY_CONTROLLER);
        let accepted = &parent.conditions[0];
        assert_eq!(
            (accepted.reason.as_str(), accepted.message.as_str()),
            ("NoMatchingParent", "no Gateway shop/nowhere")
        );
    }
}
