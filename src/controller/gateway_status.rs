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
    let kept = |conditions: &'_ [Condition], kind: &str| conditions.iter().find(|c| c.type_ == kind).cloned();

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
    let service = format!("Service {}", deployed.service);
    // A proxy runs for every Gateway with a valid listener, even one whose certificate is
    // missing: that listener alone is not programmed.
    let programmed = if served.listeners.iter().all(|j| j.accepted.is_err()) {
        (false, "Invalid", "no listener is valid, so it has no proxy: see the listeners' status".to_string())
    } else if deployed.service.is_empty() {
        (false, "Pending", "meshctl is making this Gateway's proxy".to_string())
    } else if deployed.waiting_for_load_balancer {
        (
            false,
            "AddressNotAssigned",
            format!(
                "the cluster has given {service} (type LoadBalancer) no address yet; where it has no load balancer, \
                 choose another type with the Gateway's annotation networking.istio.io/service-type, or install's \
                 --gateway-service-type"
            ),
        )
    } else if !deployed.ready {
        (false, "Pending", format!("the proxy behind {service} is not ready yet; see its Pods in meshctl's namespace"))
    } else {
        (true, "Programmed", format!("served by its proxy behind {service}"))
    };
    let conditions = vec![
        condition("Accepted", accepted, generation, kept(&old.conditions, "Accepted").as_ref(), now),
        condition("Programmed", programmed, generation, kept(&old.conditions, "Programmed").as_ref(), now),
    ];
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
                    condition(
                        "Accepted",
                        verdict(&judged.accepted, "Accepted", "valid"),
                        generation,
                        kept(before, "Accepted").as_ref(),
                        now,
                    ),
                    condition("Programmed", programmed, generation, kept(before, "Programmed").as_ref(), now),
                    condition(
                        "ResolvedRefs",
                        verdict(&judged.resolved, "ResolvedRefs", "every reference resolved"),
                        generation,
                        kept(before, "ResolvedRefs").as_ref(),
                        now,
                    ),
                ],
            }
        })
        .collect();
    GatewayStatus { addresses: deployed.addresses, conditions, listeners }
}
