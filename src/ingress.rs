//! The Gateway API's Gateways that meshctl serves, judged: which listeners can be programmed,
//! which routes attach to which listener with which hostnames, and why a route or a listener
//! does not. Pure: the translator builds the gateways' listeners from it, and the leader writes
//! the statuses it implies (`controller::route_status`, `controller::gateway_status`).
//!
//! ```text
//!   GatewayClass (controllerName: meshctl.io/gateway-controller)
//!     └─ Gateway ── listeners (port, protocol, hostname, allowedRoutes, tls)
//!          ▲            │ valid? certificate resolved?
//!          │ parentRefs ▼
//!        HTTPRoute ── attaches to each listener that its sectionName/port names, that allows
//!                     its namespace and kind, and whose hostname intersects its hostnames
//! ```

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use crate::api::Resource;
use crate::api::gateway::{
    GATEWAY_CONTROLLER, Gateway, GatewayAddress, HTTPRoute, Listener, ParentReference, ReferenceGrant, RouteGroupKind,
    reference_granted,
};

/// The Gateway API's group.
pub const GROUP: &str = "gateway.networking.k8s.io";

/// What the Gateway API's objects are judged against besides each other: the namespaces'
/// labels (`allowedRoutes` selectors) and the certificates Gateways name.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Environment {
    pub namespace_labels: BTreeMap<String, BTreeMap<String, String>>,
    /// TLS Secrets by namespace and name: their certificate chain and key (PEM), or why they
    /// cannot serve.
    pub certificates: BTreeMap<(String, String), Result<Certificate, String>>,
    /// Why there are no Secrets at all (the local mesh): what a listener naming one is told.
    pub no_secrets: Option<&'static str>,
    /// Each Gateway's proxy as it runs, by the Gateway's namespace and name.
    pub gateways: BTreeMap<(String, String), Deployed>,
    /// The ports of every Service the cluster has, in the mesh or not, by fully qualified host:
    /// what makes a route's reference to one resolve.
    pub services: BTreeMap<String, std::collections::BTreeSet<u16>>,
}

/// A Gateway's proxy as it runs: what it is, where it is reachable, and whether it is ready.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Deployed {
    /// The proxy as a status message names it (`the proxy behind Service NS/NAME`); empty
    /// while none is made.
    pub proxy: String,
    pub addresses: Vec<GatewayAddress>,
    pub ready: bool,
    /// A LoadBalancer Service the cluster has given no address yet.
    pub waiting_for_load_balancer: bool,
}

#[derive(Clone, PartialEq)]
pub struct Certificate {
    pub chain: String,
    pub key: String,
}

impl std::fmt::Debug for Certificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificate").finish_non_exhaustive()
    }
}

/// A verdict that does not hold: the Gateway API's reason, and a message that says what to do.
pub type Refusal = (&'static str, String);

/// Every Gateway of a class meshctl serves, and every HTTPRoute's verdict at each of them.
#[derive(Debug, Default)]
pub struct Ingress<'a> {
    pub gateways: Vec<Served<'a>>,
    /// The names of the GatewayClasses whose controller is meshctl's.
    pub classes: Vec<&'a str>,
}

/// One Gateway meshctl serves.
#[derive(Debug)]
pub struct Served<'a> {
    pub gateway: &'a Gateway,
    pub listeners: Vec<Judged<'a>>,
    /// Each route with a parentRef to this Gateway: that parentRef, and the listeners it
    /// attached to, or why none.
    pub routes: Vec<(&'a HTTPRoute, &'a ParentReference, Result<(), Refusal>)>,
}

/// A listener, judged.
#[derive(Debug)]
pub struct Judged<'a> {
    pub listener: &'a Listener,
    /// `UnsupportedProtocol` when meshctl cannot serve it at all.
    pub accepted: Result<(), Refusal>,
    /// The route kinds it takes (none when it is not accepted, or allows only kinds meshctl
    /// does not know).
    pub kinds: Vec<RouteGroupKind>,
    /// `InvalidRouteKinds`, `InvalidCertificateRef` or `RefNotPermitted`.
    pub resolved: Result<(), Refusal>,
    /// For HTTPS, the Secret (namespace, name) whose certificate it serves, when resolved.
    pub certificate: Option<(String, String)>,
    /// The routes attached, each with the hostnames it serves here.
    pub routes: Vec<(&'a HTTPRoute, Vec<String>)>,
}

impl Judged<'_> {
    /// Whether it is programmed into the gateway: accepted, with its references resolved.
    pub fn programmed(&self) -> bool {
        self.accepted.is_ok() && self.resolved.is_ok()
    }
}

impl<'a> Ingress<'a> {
    pub fn new(resources: impl IntoIterator<Item = &'a Resource>, environment: &Environment) -> Self {
        let mut classes = Vec::new();
        let mut gateways = Vec::new();
        let mut routes = Vec::new();
        let mut grants = Vec::new();
        for resource in resources {
            match resource {
                Resource::GatewayClass(c) if c.spec.controller_name == GATEWAY_CONTROLLER => {
                    classes.push(c.metadata.name.as_deref().unwrap_or_default())
                }
                Resource::Gateway(g) => gateways.push(&**g),
                Resource::HTTPRoute(r) => routes.push(&**r),
                Resource::ReferenceGrant(g) => grants.push(&**g),
                _ => {}
            }
        }
        let gateways = gateways
            .into_iter()
            .filter(|g| classes.contains(&g.spec.gateway_class_name.as_str()))
            .map(|gateway| {
                let listeners =
                    gateway.spec.listeners.iter().map(|l| judge(gateway, l, &grants, environment)).collect();
                let mut served = Served { gateway, listeners, routes: Vec::new() };
                for route in &routes {
                    for parent in route.spec.parent_refs.iter().filter(|p| names(p, route, gateway)) {
                        let verdict = served.attach(route, parent, environment);
                        served.routes.push((route, parent, verdict));
                    }
                }
                served
            })
            .collect();
        Ingress { gateways, classes }
    }

    /// The Gateway a gateway proxy serves.
    pub fn gateway(&self, namespace: &str, name: &str) -> Option<&Served<'a>> {
        self.gateways
            .iter()
            .find(|s| ns(&s.gateway.metadata) == namespace && s.gateway.metadata.name.as_deref() == Some(name))
    }
}

impl<'a> Served<'a> {
    /// Attaches `route` by `parent` to the listeners that take it, or says why none does.
    fn attach(
        &mut self,
        route: &'a HTTPRoute,
        parent: &ParentReference,
        environment: &Environment,
    ) -> Result<(), Refusal> {
        let gateway = self.gateway.metadata.name.as_deref().unwrap_or_default();
        let named: Vec<usize> = (0..self.listeners.len())
            .filter(|&i| {
                let l = self.listeners[i].listener;
                parent.section_name.as_ref().is_none_or(|s| *s == l.name) && parent.port.is_none_or(|p| p == l.port)
            })
            .collect();
        if named.is_empty() {
            let which = match (&parent.section_name, parent.port) {
                (Some(section), _) => format!("no listener named {section:?}"),
                (None, Some(port)) => format!("no listener on port {port}"),
                (None, None) => "no listeners".to_string(),
            };
            return Err(("NoMatchingParent", format!("Gateway {gateway} has {which}")));
        }
        let route_namespace = ns(&route.metadata);
        let allowing: Vec<usize> = named
            .into_iter()
            .filter(|&i| {
                let judged = &self.listeners[i];
                judged.accepted.is_ok()
                    && judged.kinds.iter().any(|k| k.kind == "HTTPRoute")
                    && allows(judged.listener, ns(&self.gateway.metadata), route_namespace, environment)
            })
            .collect();
        if allowing.is_empty() {
            return Err((
                "NotAllowedByListeners",
                format!(
                    "no listener of Gateway {gateway} it names allows HTTPRoutes from namespace {route_namespace}; \
                     see the listeners' allowedRoutes"
                ),
            ));
        }
        let mut attached = false;
        for i in allowing {
            let hostnames = intersect(self.listeners[i].listener.hostname.as_deref(), &route.spec.hostnames);
            if !hostnames.is_empty() {
                self.listeners[i].routes.push((route, hostnames));
                attached = true;
            }
        }
        match attached {
            true => Ok(()),
            false => Err((
                "NoMatchingListenerHostname",
                format!(
                    "none of the route's hostnames ({}) is one that a listener of Gateway {gateway} it names serves",
                    route.spec.hostnames.join(", ")
                ),
            )),
        }
    }

    /// The listeners on `port` that can be programmed.
    pub fn on_port(&self, port: u16) -> impl Iterator<Item = &Judged<'a>> {
        self.listeners.iter().filter(move |j| j.listener.port == port && j.programmed())
    }

    /// The ports its programmed listeners take, each once, in order.
    pub fn ports(&self) -> Vec<u16> {
        let mut ports: Vec<u16> = self.listeners.iter().filter(|j| j.programmed()).map(|j| j.listener.port).collect();
        ports.sort_unstable();
        ports.dedup();
        ports
    }
}

/// Whether `parent` names `gateway` (a parentRef's namespace is its route's unless it says).
fn names(parent: &ParentReference, route: &HTTPRoute, gateway: &Gateway) -> bool {
    parent.is_gateway()
        && gateway.metadata.name.as_deref() == Some(parent.name.as_str())
        && parent.namespace.as_deref().unwrap_or(ns(&route.metadata)) == ns(&gateway.metadata)
}

fn judge<'a>(
    gateway: &Gateway,
    listener: &'a Listener,
    grants: &[&ReferenceGrant],
    environment: &Environment,
) -> Judged<'a> {
    let mut judged = Judged {
        listener,
        accepted: Ok(()),
        kinds: Vec::new(),
        resolved: Ok(()),
        certificate: None,
        routes: Vec::new(),
    };
    let https = match listener.protocol.as_str() {
        "HTTP" => false,
        "HTTPS" => true,
        other => {
            judged.accepted =
                Err(("UnsupportedProtocol", format!("meshctl's gateways serve HTTP and HTTPS listeners, not {other}")));
            return judged;
        }
    };
    let http_route = || RouteGroupKind { group: Some(GROUP.into()), kind: "HTTPRoute".into() };
    let asked = listener.allowed_routes.as_ref().map(|a| a.kinds.as_slice()).unwrap_or_default();
    if asked.is_empty() {
        judged.kinds.push(http_route());
    } else {
        let known = |k: &RouteGroupKind| k.group.as_deref().is_none_or(|g| g == GROUP) && k.kind == "HTTPRoute";
        if asked.iter().any(known) {
            judged.kinds.push(http_route());
        }
        if let Some(unknown) = asked.iter().find(|k| !known(k)) {
            judged.resolved =
                Err(("InvalidRouteKinds", format!("meshctl's gateways take HTTPRoutes, not {}", unknown.kind)));
        }
    }
    if https {
        let gateway_namespace = ns(&gateway.metadata);
        let refs = listener.tls.as_ref().map(|t| t.certificate_refs.as_slice()).unwrap_or_default();
        let certificate = match refs.first() {
            None => {
                Err(("InvalidCertificateRef", "an HTTPS listener needs a certificateRef to a TLS Secret".to_string()))
            }
            Some(r) if !r.is_secret() => Err((
                "InvalidCertificateRef",
                format!("certificateRef {} is not a Secret (group \"\", kind Secret)", r.name),
            )),
            Some(r) => {
                let namespace = r.namespace.as_deref().unwrap_or(gateway_namespace);
                let key = (namespace.to_string(), r.name.clone());
                if !reference_granted(
                    grants.iter().copied(),
                    ("Gateway", gateway_namespace),
                    ("Secret", namespace, &r.name),
                ) {
                    Err((
                        "RefNotPermitted",
                        format!(
                            "Secret {namespace}/{} is in another namespace, and no ReferenceGrant there lets Gateways \
                             in {gateway_namespace} use it",
                            r.name
                        ),
                    ))
                } else {
                    match environment.certificates.get(&key) {
                        Some(Ok(_)) => Ok(key),
                        Some(Err(why)) => {
                            Err(("InvalidCertificateRef", format!("Secret {namespace}/{}: {why}", r.name)))
                        }
                        None => Err((
                            "InvalidCertificateRef",
                            match environment.no_secrets {
                                Some(why) => format!("no TLS Secret {namespace}/{}: {why}", r.name),
                                None => format!("no TLS Secret {namespace}/{} (type kubernetes.io/tls)", r.name),
                            },
                        )),
                    }
                }
            }
        };
        match certificate {
            Ok(key) => judged.certificate = Some(key),
            // An unknown route kind is said first; the certificate is the next thing to fix.
            Err(refusal) if judged.resolved.is_ok() => judged.resolved = Err(refusal),
            Err(_) => {}
        }
    }
    judged
}

/// Whether `listener` of a Gateway in `gateway_namespace` takes routes from `route_namespace`.
fn allows(listener: &Listener, gateway_namespace: &str, route_namespace: &str, environment: &Environment) -> bool {
    let namespaces = listener.allowed_routes.as_ref().and_then(|a| a.namespaces.as_ref());
    match namespaces.and_then(|n| n.from.as_deref()).unwrap_or("Same") {
        "All" => true,
        "Selector" => {
            let labels = environment.namespace_labels.get(route_namespace).cloned().unwrap_or_default();
            namespaces.and_then(|n| n.selector.as_ref()).is_some_and(|s| selects(s, &labels))
        }
        _ => gateway_namespace == route_namespace,
    }
}

/// Whether a label selector picks an object with `labels`.
fn selects(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let matched = selector.match_labels.as_ref().is_none_or(|m| crate::api::has_labels(m, labels));
    matched
        && selector.match_expressions.iter().flatten().all(|e| {
            let value = labels.get(&e.key);
            let values = e.values.as_deref().unwrap_or_default();
            match e.operator.as_str() {
                "In" => value.is_some_and(|v| values.contains(v)),
                "NotIn" => value.is_none_or(|v| !values.contains(v)),
                "Exists" => value.is_some(),
                "DoesNotExist" => value.is_none(),
                _ => false,
            }
        })
}

/// The hostnames a route with `hostnames` serves at a listener of `listener` hostname: those
/// both allow, each as specific as the more specific of the two. A route or a listener
/// without hostnames allows any; `*` stands for any in the result.
pub fn intersect(listener: Option<&str>, hostnames: &[String]) -> Vec<String> {
    let Some(listener) = listener else {
        return if hostnames.is_empty() { vec!["*".to_string()] } else { hostnames.to_vec() };
    };
    if hostnames.is_empty() {
        return vec![listener.to_string()];
    }
    let mut served: Vec<String> = Vec::new();
    for hostname in hostnames {
        let narrower = if hostname == listener || covers(listener, hostname) {
            Some(hostname.as_str())
        } else if covers(hostname, listener) {
            Some(listener)
        } else {
            None
        };
        if let Some(name) = narrower
            && !served.iter().any(|s| s == name)
        {
            served.push(name.to_string());
        }
    }
    served
}

/// Whether the wildcard `pattern` (`*.example.com`) takes `name` (`a.example.com`,
/// `a.b.example.com`, or a narrower wildcard `*.a.example.com`); a plain name takes none but
/// itself.
pub fn covers(pattern: &str, name: &str) -> bool {
    let Some(suffix) = pattern.strip_prefix('*') else { return false };
    let rest = name.strip_prefix('*').unwrap_or(name);
    rest.len() > suffix.len() && rest.ends_with(suffix)
}

fn ns(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> &str {
    meta.namespace.as_deref().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resources(yaml: &str) -> Vec<Resource> {
        let (documents, error) = crate::api::yaml::parse(yaml);
        assert!(error.is_none(), "{error:?}");
        let json = |d: &crate::api::yaml::Document| d.root.as_ref().unwrap().to_json();
        documents.iter().map(|d| crate::api::Kind::of(&json(d)).unwrap().decode(json(d)).unwrap()).collect()
    }

    const MESH: &str = "apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: meshctl}
spec: {controllerName: meshctl.io/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: web, namespace: infra}
spec:
  gatewayClassName: meshctl
  listeners:
  - {name: http, port: 80, protocol: HTTP}
  - {name: bar, port: 80, protocol: HTTP, hostname: '*.bar.com', allowedRoutes: {namespaces: {from: Selector, selector: {matchLabels: {team: a}}}}}
  - {name: odd, port: 1111, protocol: INVALID}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: theirs, namespace: infra}
spec: {gatewayClassName: other, listeners: [{name: http, port: 80, protocol: HTTP}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: everywhere, namespace: infra}
spec: {parentRefs: [{name: web}, {name: theirs}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: stranger, namespace: apps}
spec: {parentRefs: [{name: web, namespace: infra, sectionName: http}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: nowhere, namespace: infra}
spec: {parentRefs: [{name: web, sectionName: https}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: elsewhere, namespace: infra}
spec: {parentRefs: [{name: web, sectionName: bar}], hostnames: [x.foo.com]}
";

    #[test]
    fn routes_attach_to_the_listeners_that_take_them_and_say_why_not() {
        let resources = resources(MESH);
        let environment = Environment {
            namespace_labels: [("infra".to_string(), [("team".to_string(), "a".to_string())].into())].into(),
            ..Environment::default()
        };
        let ingress = Ingress::new(&resources, &environment);
        assert_eq!(ingress.gateways.len(), 1, "only Gateways of meshctl's classes are served");
        let web = ingress.gateway("infra", "web").unwrap();
        let verdicts: Vec<(&str, Option<&str>)> = web
            .routes
            .iter()
            .map(|(r, _, v)| (r.metadata.name.as_deref().unwrap(), v.as_ref().err().map(|(reason, _)| *reason)))
            .collect();
        assert_eq!(
            verdicts,
            [
                ("everywhere", None),
                ("stranger", Some("NotAllowedByListeners")),
                ("nowhere", Some("NoMatchingParent")),
                ("elsewhere", Some("NoMatchingListenerHostname")),
            ]
        );
        let attached = |i: usize| {
            web.listeners[i].routes.iter().map(|(r, h)| (r.metadata.name.clone(), h.clone())).collect::<Vec<_>>()
        };
        assert_eq!(attached(0), [(Some("everywhere".to_string()), vec!["*".to_string()])]);
        assert_eq!(attached(1), [(Some("everywhere".to_string()), vec!["*.bar.com".to_string()])]);
        let odd = &web.listeners[2];
        assert_eq!(odd.accepted.as_ref().unwrap_err().0, "UnsupportedProtocol");
        assert!(odd.kinds.is_empty() && odd.routes.is_empty());
        assert_eq!(web.ports(), [80]);
    }

    #[test]
    fn hostnames_intersect_as_the_gateway_api_says() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(intersect(None, &[]), names(&["*"]));
        assert_eq!(intersect(Some("very.specific.com"), &[]), names(&["very.specific.com"]));
        let route = names(&["non.matching.com", "*.nonmatchingwildcard.io", "very.specific.com"]);
        assert_eq!(intersect(Some("very.specific.com"), &route), names(&["very.specific.com"]));
        // A wildcard listener narrows to the route's names under it, several labels deep.
        let route = names(&["non.matching.com", "wildcard.io", "foo.wildcard.io", "foo.bar.wildcard.io"]);
        assert_eq!(intersect(Some("*.wildcard.io"), &route), names(&["foo.wildcard.io", "foo.bar.wildcard.io"]));
        // A wildcard route narrows to the listener's name under it.
        assert_eq!(intersect(Some("very.specific.com"), &names(&["*.specific.com"])), names(&["very.specific.com"]));
        assert_eq!(
            intersect(Some("*.anotherwildcard.io"), &names(&["*.anotherwildcard.io"])),
            names(&["*.anotherwildcard.io"])
        );
        assert_eq!(intersect(Some("*.foo.com"), &names(&["*.com"])), names(&["*.foo.com"]));
        assert!(intersect(Some("specific.com"), &names(&["*.specific.com"])).is_empty());
    }
}
