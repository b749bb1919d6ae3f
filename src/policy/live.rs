//! Rules only the running mesh can answer: whether a subset selects any instance, whether a
//! route's destination has one ready, whether a rollout can go on, whether every proxy took
//! its configuration. Pure: the caller says what runs ([`Live`]); `meshctl analyze` and
//! `meshctl check` run these after the stored objects' own rules.

use std::collections::BTreeMap;

use super::finding::{Code, Finding};
use super::path::field;
use super::{Checked, Sink, names};
use crate::api::Resource;
use crate::api::meshctl::CanaryPhase;

/// What runs in the mesh now.
#[derive(Clone, Debug, Default)]
pub struct Live {
    pub instances: Vec<LiveInstance>,
    pub proxies: Vec<LiveProxy>,
}

/// One running replica of a workload.
#[derive(Clone, Debug)]
pub struct LiveInstance {
    pub namespace: String,
    pub service: String,
    pub labels: BTreeMap<String, String>,
    /// The ports of its service it serves, with what each carries.
    pub ports: Vec<(u16, crate::api::Protocol)>,
    /// Its application and its sidecar are both up.
    pub ready: bool,
}

/// One proxy and, when it refused its configuration, Envoy's reason.
#[derive(Clone, Debug)]
pub struct LiveProxy {
    pub node_id: String,
    /// `Kind/namespace/name` of the object it runs for; `None` for the gateway.
    pub resource: Option<String>,
    pub refused: Option<String>,
}

pub(super) fn check(resources: &[Checked], live: &Live, out: &mut Vec<Finding>) {
    let instances = |fqdn: &str| -> Vec<&LiveInstance> {
        live.instances.iter().filter(|i| names::service_host(&i.service, &i.namespace) == fqdn).collect()
    };
    // A subset's labels, by host and subset name, to find the instances a route reaches.
    let mut subsets: BTreeMap<(String, &str), &BTreeMap<String, String>> = BTreeMap::new();
    for c in resources {
        if let Resource::DestinationRule(dr) = &c.resource {
            let fqdn = names::resolve_host(&dr.spec.host, c.resource.namespace());
            for s in &dr.spec.subsets {
                subsets.insert((fqdn.clone(), s.name.as_str()), &s.labels);
            }
        }
    }
    // The instances of `fqdn` a destination reaches, or `None` when the mesh runs no instance
    // of that host at all (another rule speaks of unknown hosts).
    let reached = |fqdn: &str, subset: Option<&str>| -> Option<Vec<&LiveInstance>> {
        let all = instances(fqdn);
        if all.is_empty() {
            return None;
        }
        let labels = match subset {
            Some(s) => *subsets.get(&(fqdn.to_string(), s))?,
            None => return Some(all),
        };
        Some(all.into_iter().filter(|i| crate::api::has_labels(labels, &i.labels)).collect())
    };
    for c in resources {
        let mut sink = Sink::for_checked(c, out);
        let namespace = c.resource.namespace();
        match &c.resource {
            Resource::DestinationRule(dr) => {
                let fqdn = names::resolve_host(&dr.spec.host, namespace);
                for (i, s) in dr.spec.subsets.iter().enumerate() {
                    if reached(&fqdn, Some(&s.name)).is_some_and(|found| found.is_empty()) {
                        sink.path(
                            &field!["spec", "subsets", i, "labels"],
                            Code::EmptySubset,
                            format!("subset {:?} of {fqdn} selects no running instance; requests routed to it fail (503): run a Workload with labels {}, or fix them", s.name, labels_text(&s.labels)),
                        );
                    }
                }
            }
            Resource::VirtualService(vs) => {
                for (h, rule) in vs.spec.http.iter().enumerate() {
                    let single = rule.route.len() == 1;
                    for (d, dest) in rule.route.iter().enumerate() {
                        if dest.weight.unwrap_or(if single { 100 } else { 0 }) == 0 {
                            continue;
                        }
                        let fqdn = names::resolve_host(&dest.destination.host, namespace);
                        let subset = dest.destination.subset.as_deref();
                        let Some(found) = reached(&fqdn, subset) else { continue };
                        if !found.iter().any(|i| i.ready) {
                            let target = subset.map(|s| format!("subset {s:?} of {fqdn}")).unwrap_or(fqdn.clone());
                            sink.path(
                                &field!["spec", "http", h, "route", d, "destination"],
                                Code::NoReadyInstance,
                                format!("{target} has no ready instance ({} selected), so the requests this route sends it fail (503): start or fix its workload, or route elsewhere", found.len()),
                            );
                        }
                    }
                }
            }
            // The leader's verdict on a route, as its status records it.
            Resource::HTTPRoute(route) => {
                for (parent, condition) in route.status.iter().flat_map(|s| s.failing()) {
                    let (kind, reason, message) = (&condition.type_, &condition.reason, &condition.message);
                    sink.path(
                        &field!["spec", "parentRefs"],
                        Code::RouteNotProgrammed,
                        format!(
                            "for {} {}, {kind} is False ({reason}): {message}",
                            if parent.is_service() { "Service" } else { "Gateway" },
                            parent.name
                        ),
                    );
                }
            }
            Resource::Canary(canary) => {
                let phase = canary.status.as_ref().and_then(|s| s.phase);
                if phase.is_some_and(CanaryPhase::is_finished) {
                    continue;
                }
                let fqdn = names::resolve_host(&canary.spec.service, namespace);
                for (field, subset) in [("stable", &canary.spec.stable), ("canary", &canary.spec.canary)] {
                    if reached(&fqdn, Some(subset)).is_some_and(|found| !found.iter().any(|i| i.ready)) {
                        sink.path(
                            &field!["spec", field],
                            Code::StuckCanary,
                            format!("the rollout cannot go on: its {field} subset {subset:?} has no ready instance; start it, or abort the rollout (`meshctl canary abort {}`)", c.resource.name()),
                        );
                    }
                }
            }
            _ => {}
        }
    }
    for proxy in &live.proxies {
        let Some(reason) = &proxy.refused else { continue };
        out.push(Finding {
            file: None,
            line: None,
            column: None,
            severity: Code::ProxyRefused.severity(),
            code: Code::ProxyRefused,
            message: format!("proxy {} refused its configuration and runs its last good one: {reason}", proxy.node_id),
            resource: proxy.resource.clone(),
            path: None,
        });
    }
}

fn labels_text(labels: &BTreeMap<String, String>) -> String {
    let pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("[{}]", pairs.join(", "))
}
