//! What meshctl made of its GatewayClasses and Gateways, as the Gateway API's status says it:
//! a class is `Accepted`; a Gateway is `Accepted` (its listeners are valid, or which are not)
//! and `Programmed` (its proxy runs, reachable at `addresses`, or what it waits for), and each
//! listener says what it takes, how many routes attach, and whether it is accepted, resolved
//! and programmed. Pure: the leader's loop writes what this returns.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use serde_json::Value;

use super::route_status::condition;
use crate::api::Resource;
use crate::api::gateway::{GATEWAY_CONTROLLER, GatewayClassStatus, GatewayStatus, ListenerStatus};
use crate::ingress::{Environment, Ingress, Served};
use crate::store::ObjectRef;

/// The status of each GatewayClass of meshctl's and each Gateway it serves that differs from
/// the one stored, as JSON for the status subresource.
pub fn changed(
    resources: &[Resource],
    ingress: &Ingress<'_>,
    environment: &Environment,
    now: &Time,
) -> Vec<(ObjectRef, Value)> {
    let mut changed = Vec::new();
    for resource in resources {
        match resource {
            Resource::GatewayClass(class) if class.spec.controller_name == GATEWAY_CONTROLLER => {
                let old = class.status.clone().unwrap_or_default();
                let kept = old.conditions.iter().find(|c| c.type_ == "Accepted");
                let accepted = (true, "Accepted", "meshctl runs a proxy for each Gateway of this class".to_string());
                let new = GatewayClassStatus {
                    conditions: vec![condition("Accepted", accepted, class.metadata.generation, kept, now)],
                };
                if new != old {
                    changed.push((ObjectRef::of(resource), serde_json::to_value(new).expect("a status serializes")));
                }
            }
            Resource::Gateway(gateway) => {
                let name = gateway.metadata.name.as_deref().unwrap_or_default();
                let Some(served) = ingress.gateway(resource.namespace(), name) else { continue };
                let old = gateway.status.clone().unwrap_or_default();
                let new = gateway_status(served, environment, &old, now);
                if new != old {
                    changed.push((ObjectRef::of(resource), serde_json::to_value(new).expect("a status serializes")));
                }
            }
            _ => {}
        }
    }
    changed
}

fn gateway_status(served: &Served<'_>, environment: &Environment, old: &GatewayStatus, now: &Time) -> GatewayStatus {
    let gateway = served.gateway;
    let generation = gateway.metadata.generation;
    let namespace = gateway.metadata.namespace.clone().unwrap_or_default();
    let name = gateway.metadata.name.clone().unwrap_or_default();
    // A condition of `kind`, its transition time kept from `before` while its status holds.
    let stamp = |before: &[Condition], kind: &str, verdict: (bool, &str, String)| {
        condition(kind, verdict, generation, before.iter().find(|c| c.type_ == kind), now)
    };

    let invalid: Vec<&str> =
        served.listeners.iter().filter(|j| j.accepted.is_err()).map(|j| j.listener.name.as_str()).collect();
    let accepted = match (invalid.len(), served.listeners.len()) {
        (0, _) => (true, "Accepted", "every listener is valid".to_string()),
        (bad, all) => (
            bad < all,
            "ListenersNotValid",
            format!("listeners {} are not valid (see their status); the others are served", invalid.join(", ")),
        ),
    };
    let deployed = environment.gateways.get(&(namespace, name)).cloned().unwrap_or_default();
    let proxy = &deployed.proxy;
    // A proxy runs for every Gateway with a valid listener, even one whose certificate is
    // missing: that listener alone is not programmed.
    let programmed = if served.listeners.iter().all(|j| j.accepted.is_err()) {
        (false, "Invalid", "no listener is valid, so it has no proxy: see the listeners' status".to_string())
    } else if proxy.is_empty() {
        (false, "Pending", "meshctl is making this Gateway's proxy".to_string())
    } else if deployed.waiting_for_load_balancer {
        (
            false,
            "AddressNotAssigned",
            format!(
                "the cluster has given {proxy} (type LoadBalancer) no address yet; where it has no load balancer, \
                 choose another type with the Gateway's annotation networking.istio.io/service-type, or install's \
                 --gateway-service-type"
            ),
        )
    } else if !deployed.ready {
        (false, "Pending", format!("{proxy} is not ready yet"))
    } else {
        (true, "Programmed", format!("served by {proxy}"))
    };
    let conditions =
        vec![stamp(&old.conditions, "Accepted", accepted), stamp(&old.conditions, "Programmed", programmed)];
    let listeners = served
        .listeners
        .iter()
        .map(|judged| {
            let name = &judged.listener.name;
            let before =
                old.listeners.iter().find(|l| l.name == *name).map(|l| l.conditions.as_slice()).unwrap_or_default();
            let verdict = |result: &Result<(), crate::ingress::Refusal>, kind: &'static str, ok: &str| match result {
                Ok(()) => (true, kind, ok.to_string()),
                Err((reason, message)) => (false, *reason, message.clone()),
            };
            let programmed = match judged.programmed() {
                true => (true, "Programmed", "served by the Gateway's proxy".to_string()),
                false => (false, "Invalid", "not served: see its Accepted and ResolvedRefs conditions".to_string()),
            };
            let mut routes: Vec<(&str, &str)> = judged
                .routes
                .iter()
                .map(|(r, _)| {
                    (
                        r.metadata.namespace.as_deref().unwrap_or_default(),
                        r.metadata.name.as_deref().unwrap_or_default(),
                    )
                })
                .collect();
            routes.sort_unstable();
            routes.dedup();
            ListenerStatus {
                name: name.clone(),
                supported_kinds: judged.kinds.clone(),
                attached_routes: i32::try_from(routes.len()).unwrap_or(i32::MAX),
                conditions: vec![
                    stamp(before, "Accepted", verdict(&judged.accepted, "Accepted", "valid")),
                    stamp(before, "Programmed", programmed),
                    stamp(
                        before,
                        "ResolvedRefs",
                        verdict(&judged.resolved, "ResolvedRefs", "every reference resolved"),
                    ),
                ],
            }
        })
        .collect();
    GatewayStatus { addresses: deployed.addresses, conditions, listeners }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingress::Deployed;

    const GATEWAY: &str = "apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: meshctl, generation: 2}
spec: {controllerName: meshctl.io/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: web, namespace: infra, generation: 4}
spec:
  gatewayClassName: meshctl
  listeners:
  - {name: http, port: 80, protocol: HTTP}
  - {name: odd, port: 1111, protocol: INVALID}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: infra}
spec: {parentRefs: [{name: web}]}
";

    fn reasons(status: &Value, at: &str) -> Vec<(String, String)> {
        let conditions = status.pointer(at).and_then(Value::as_array).cloned().unwrap_or_default();
        conditions.iter().map(|c| (c["type"].as_str().unwrap().into(), c["reason"].as_str().unwrap().into())).collect()
    }

    #[test]
    fn a_gateway_says_which_listeners_are_served_and_whether_its_proxy_runs() {
        let (documents, _) = crate::api::yaml::parse(GATEWAY);
        let json = |d: &crate::api::yaml::Document| d.root.as_ref().unwrap().to_json();
        let resources: Vec<Resource> =
            documents.iter().map(|d| crate::api::Kind::of(&json(d)).unwrap().decode(json(d)).unwrap()).collect();
        let now = Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH);
        let mut environment = Environment::default();
        let changed_with = |environment: &Environment| {
            let ingress = Ingress::new(&resources, environment);
            changed(&resources, &ingress, environment, &now)
        };

        let written = changed_with(&environment);
        assert_eq!(written.len(), 2, "the class and the Gateway: {written:#?}");
        assert_eq!(reasons(&written[0].1, "/conditions"), [("Accepted".into(), "Accepted".into())]);
        assert_eq!(written[0].1["conditions"][0]["observedGeneration"], 2);
        let gateway = &written[1].1;
        let expected = [("Accepted", "ListenersNotValid"), ("Programmed", "Pending")];
        assert_eq!(reasons(gateway, "/conditions"), expected.map(|(a, b)| (a.to_string(), b.to_string())));
        assert_eq!(gateway["listeners"][0]["attachedRoutes"], 1);
        assert_eq!(gateway["listeners"][1]["supportedKinds"], serde_json::json!([]));
        let odd = reasons(gateway, "/listeners/1/conditions");
        assert_eq!(odd[0], ("Accepted".to_string(), "UnsupportedProtocol".to_string()));

        // Once its proxy is ready behind a Service with an address, it is Programmed there.
        let address = crate::api::gateway::GatewayAddress { kind: "IPAddress".into(), value: "10.238.0.9".into() };
        let deployed = Deployed {
            proxy: "the proxy behind Service meshctl-system/gw-infra-web".into(),
            addresses: vec![address],
            ready: true,
            ..Deployed::default()
        };
        environment.gateways.insert(("infra".into(), "web".into()), deployed);
        let gateway = &changed_with(&environment)[1].1;
        assert_eq!(reasons(gateway, "/conditions")[1], ("Programmed".to_string(), "Programmed".to_string()));
        assert_eq!(gateway["addresses"], serde_json::json!([{ "type": "IPAddress", "value": "10.238.0.9" }]));
        assert_eq!(gateway["conditions"][1]["observedGeneration"], 4);
    }
}
