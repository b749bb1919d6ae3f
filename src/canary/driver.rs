//! The canary driver, run by the controller: for every rollout under way it measures the
//! canary and stable subsets by what their own sidecars served (every request that reached
//! them, retried ones included: a caller's retry must not hide a failing canary), asks the
//! engine what to do, writes the weights into the service's routes (its VirtualService, or the
//! HTTPRoutes attached to it) and the progress into the Canary's status — all through the
//! store, so a rollout goes on when the CLI exits and resumes from its recorded step after a
//! controller restart.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{Decision, Hold, Observation, Phase, Progress, Sample, decide};
use crate::api::meshctl::{
    Canary, CanaryStatus, Condition, Evaluation, ManualDecision, PROMOTED, RouteApi, WindowFigures,
};
use crate::api::networking::{Destination, HttpRoute, HttpRouteDestination, VirtualService, VirtualServiceSpec};
use crate::api::{Kind, Resource, time};
use crate::metrics::Traffic;
use crate::metrics::scrape::{Served, Target, scrape_all};

use crate::policy::{self, Severity, resolve_host};
use crate::store::{ObjectRef, Store, StoreError};

/// Why a rollout could not be moved on.
#[derive(Debug, thiserror::Error)]
pub enum DriveError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the routes that set {weight}% would break the mesh, so they were not written: {errors}")]
    Invalid { weight: u32, errors: String },
}

/// Evaluations kept in a Canary's status.
const KEEP_EVALUATIONS: usize = 20;

/// Traffic of both subsets when a rollout's evaluation period began.
struct Baseline {
    step_started: f64,
    canary: Traffic,
    stable: Traffic,
}

#[derive(Default)]
pub struct Driver {
    baselines: HashMap<ObjectRef, Baseline>,
}

fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

fn timestamp(seconds: f64) -> String {
    time::rfc3339(UNIX_EPOCH + Duration::from_secs_f64(seconds.max(0.0)))
}

fn seconds(rfc3339: &str) -> Option<f64> {
    time::parse_rfc3339(rfc3339).and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map(|d| d.as_secs_f64())
}

impl Driver {
    /// One round over every rollout in `resources`; `running` says whether every proxy
    /// connected to this controller runs a configuration built from them. Returns problems to
    /// report.
    pub async fn tick(
        &mut self,
        store: &(dyn Store + Sync),
        resources: &[Resource],
        proxies: &[Target],
        running: bool,
    ) -> Vec<String> {
        let all = resources.iter().filter_map(|r| match r {
            Resource::Canary(c) => Some(&**c),
            _ => None,
        });
        let mut problems = Vec::new();
        // A reading of a cluster's store may hold a rollout's last status before the routes
        // written just ahead of it (each kind comes on its own watch): those routes must be in
        // what the proxies run.
        let settled = |c: &&Canary| {
            let weight = c.status.as_ref().and_then(|s| s.weight).unwrap_or(0);
            phase(c).is_finished() && outcome_pending(c) && running && routes_hold(resources, c, weight)
        };
        for canary in all.clone().filter(settled) {
            if let Err(e) = settle(store, canary).await {
                problems.push(format!("canary {}: {e}", canary.metadata.name.as_deref().unwrap_or_default()));
            }
        }
        let canaries: Vec<&Canary> = all.filter(|c| !phase(c).is_finished()).collect();
        self.baselines.retain(|r, _| canaries.iter().any(|c| ObjectRef::named(Kind::Canary, &c.metadata) == *r));
        if canaries.is_empty() {
            return Vec::new();
        }
        let scraped = scrape_all(proxies, Duration::from_secs(1)).await;
        let traffic: Vec<(&Served, Traffic)> = proxies
            .iter()
            .zip(scraped)
            .filter_map(|(target, stats)| Some((target.serves.as_ref()?, stats.ok()?.inbound?)))
            .collect();
        for canary in canaries {
            if let Err(e) = self.drive(store, resources, canary, &traffic).await {
                problems.push(format!("canary {}: {e}", canary.metadata.name.as_deref().unwrap_or_default()));
            }
        }
        problems
    }

    async fn drive(
        &mut self,
        store: &dyn Store,
        resources: &[Resource],
        canary: &Canary,
        traffic: &[(&Served, Traffic)],
    ) -> Result<(), DriveError> {
        let namespace = canary.metadata.namespace.as_deref().unwrap_or("default");
        let host = host_of(canary);
        let name = host.split('.').next().unwrap_or_default().to_string();
        let service_ns = crate::policy::host_namespace(&host).unwrap_or(namespace).to_string();
        let current = |part: &str| match canary.spec.api {
            RouteApi::Istio => served(traffic, resources, &host, (&service_ns, &name), part),
            RouteApi::Gateway => served_by_service(traffic, &service_ns, part),
        };
        let object = ObjectRef::named(Kind::Canary, &canary.metadata);
        // Whole seconds, as the status records times: what is stored is what was used.
        let now = now().floor();
        let status = canary.status.clone().unwrap_or_default();
        let mut progress = Progress {
            phase: phase(canary),
            step: status.step.unwrap_or(0) as usize,
            weight: status.weight.unwrap_or(0),
            step_started: status.step_started_at.as_deref().and_then(seconds).unwrap_or(now),
            failures: status.failures.unwrap_or(0),
        };

        // A person's word comes first.
        let manual = match (canary.spec.decision, canary.spec.paused, progress.phase) {
            (Some(ManualDecision::Promote), ..) => {
                Some((Decision::Promote, Phase::Promoted, 100, "promoted by hand".to_string()))
            }
            (Some(ManualDecision::Abort), ..) => {
                Some((Decision::RollBack("aborted by hand".into()), Phase::RolledBack, 0, "aborted by hand".into()))
            }
            (None, true, Phase::Progressing) => {
                Some((Decision::Hold(Hold::Paused), Phase::Paused, progress.weight, Hold::Paused.to_string()))
            }
            _ => None,
        };
        if let Some((decision, phase, weight, message)) = manual {
            progress.phase = phase;
            progress.weight = weight;
            return self
                .record(store, resources, canary, &object, &host, &progress, &decision, None, message, now)
                .await;
        }
        if !canary.spec.paused && progress.phase == Phase::Paused {
            progress.phase = Phase::Progressing;
            progress.step_started = now;
        }
        if let Some(message) = cannot_start(resources, canary, &host) {
            progress.phase = Phase::Failed;
            return self
                .record(
                    store,
                    resources,
                    canary,
                    &object,
                    &host,
                    &progress,
                    &Decision::Fail(message.clone()),
                    None,
                    message,
                    now,
                )
                .await;
        }

        // Observations count from the start of the evaluation period; after a controller
        // restart, from the first look.
        let baseline = self.baselines.entry(object.clone()).or_insert_with(|| Baseline {
            step_started: progress.step_started,
            canary: current(&canary.spec.canary),
            stable: current(&canary.spec.stable),
        });
        if baseline.step_started != progress.step_started {
            *baseline = Baseline {
                step_started: progress.step_started,
                canary: current(&canary.spec.canary),
                stable: current(&canary.spec.stable),
            };
        }
        let window = |now: Traffic, then: &Traffic| {
            let w = now.since(then);
            Sample { requests: w.completed.round() as u64, errors: w.errors.round() as u64, p99_ms: w.quantile(0.99) }
        };
        let observation = Observation {
            canary: window(current(&canary.spec.canary), &baseline.canary),
            stable: window(current(&canary.spec.stable), &baseline.stable),
        };
        let (decision, next) = decide(&canary.spec, &progress, &observation, now);
        let message = match &decision {
            Decision::Hold(hold) => hold.to_string(),
            Decision::RollBack(reason) | Decision::Fail(reason) => reason.clone(),
            Decision::Advance(w) => format!("advanced to {w}%"),
            Decision::Promote => "promoted: the canary takes all traffic".into(),
        };
        let evaluated = !matches!(&decision, Decision::Hold(hold) if !hold.judged());
        self.record(
            store,
            resources,
            canary,
            &object,
            &host,
            &next,
            &decision,
            evaluated.then_some(observation),
            message,
            now,
        )
        .await
    }

    /// Writes the weight the decision leaves into the routes, then the status.
    #[allow(clippy::too_many_arguments)]
    async fn record(
        &mut self,
        store: &dyn Store,
        resources: &[Resource],
        canary: &Canary,
        object: &ObjectRef,
        host: &str,
        progress: &Progress,
        decision: &Decision,
        observation: Option<Observation>,
        message: String,
        now: f64,
    ) -> Result<(), DriveError> {
        if canary.status.as_ref().and_then(|s| s.weight) != Some(progress.weight)
            || !matches!(decision, Decision::Hold(_))
        {
            let routes = routes_at(resources, canary, host, progress.weight);
            // Written as `apply` would write them: checked with the rest of the mesh first. Going
            // back to stable is never held up: it is what a failing canary needs most.
            let errors: Vec<String> = policy::check_objects(&routes, resources)
                .into_iter()
                .filter(|f| f.severity == Severity::Error)
                .map(|f| format!("{} ({})", f.message, f.code))
                .collect();
            if progress.weight > 0 && !errors.is_empty() {
                return Err(DriveError::Invalid { weight: progress.weight, errors: errors.join("; ") });
            }
            store.apply(&routes, false).await?;
        }
        let mut status = canary.status.clone().unwrap_or_default();
        let moved = status.phase != Some(progress.phase) || status.weight != Some(progress.weight);
        status.phase = Some(progress.phase);
        status.step = Some(progress.step as u32);
        status.weight = Some(progress.weight);
        status.failures = Some(progress.failures);
        status.step_started_at = Some(timestamp(progress.step_started));
        status.started_at.get_or_insert_with(|| timestamp(now));
        if moved {
            status.last_transition_time = Some(timestamp(now));
        }
        status.message = Some(message.clone());
        status.observed_generation = canary.metadata.generation;
        // An outcome is settled only once the proxies run it (see `settle`).
        promoted_condition(&mut status, "Unknown", format!("{:?}", progress.phase), &message, canary, now);
        if let Some(o) = observation {
            let figures = |s: Sample| WindowFigures {
                requests: s.requests,
                success_rate: s.success_rate().map(|r| r * 100.0),
                p99_ms: s.p99_ms,
            };
            status.evaluations.push(Evaluation {
                time: timestamp(now),
                step: progress.step as u32,
                weight: progress.weight,
                canary: figures(o.canary),
                stable: figures(o.stable),
                verdict: message,
            });
            let excess = status.evaluations.len().saturating_sub(KEEP_EVALUATIONS);
            status.evaluations.drain(..excess);
        }
        store.set_status(object, serde_json::to_value(&status).expect("status serializes")).await?;
        Ok(())
    }
}

/// Sets the `Promoted` condition, keeping its transition time while its status holds.
fn promoted_condition(
    status: &mut CanaryStatus,
    value: &str,
    reason: String,
    message: &str,
    canary: &Canary,
    now: f64,
) {
    let since = match status.conditions.iter().find(|c| c.type_ == PROMOTED) {
        Some(c) if c.status == value => c.last_transition_time.clone(),
        _ => timestamp(now),
    };
    status.conditions = vec![Condition {
        type_: PROMOTED.into(),
        status: value.into(),
        reason,
        message: message.into(),
        last_transition_time: since,
        observed_generation: canary.metadata.generation,
    }];
}

/// The routes of `canary`'s service (`host`) as they are with `weight` percent to the canary.
fn routes_at(resources: &[Resource], canary: &Canary, host: &str, weight: u32) -> Vec<Resource> {
    match canary.spec.api {
        RouteApi::Istio => vec![Resource::VirtualService(routes_with_weight(resources, canary, host, weight).into())],
        RouteApi::Gateway => mesh_routes_with_weight(resources, canary, host, weight),
    }
}

/// Whether `resources` hold `canary`'s routes at `weight` percent already.
fn routes_hold(resources: &[Resource], canary: &Canary, weight: u32) -> bool {
    let spec = |r: &Resource| r.to_json()["spec"].clone();
    routes_at(resources, canary, &host_of(canary), weight).iter().all(|route| {
        let stored = resources.iter().find(|r| ObjectRef::of(r) == ObjectRef::of(route));
        stored.is_some_and(|stored| spec(stored) == spec(route))
    })
}

/// The host of the service `canary` rolls out.
fn host_of(canary: &Canary) -> String {
    resolve_host(&canary.spec.service, canary.metadata.namespace.as_deref().unwrap_or("default"))
}

/// Whether a finished rollout's outcome still waits for the proxies.
fn outcome_pending(canary: &Canary) -> bool {
    let conditions = canary.status.as_ref().map(|s| s.conditions.as_slice()).unwrap_or_default();
    conditions.iter().find(|c| c.type_ == PROMOTED).is_none_or(|c| c.status == "Unknown")
}

/// Settles a finished rollout's `Promoted` condition once every proxy runs its final weights,
/// so that `kubectl wait --for=condition=Promoted` returns when the traffic has moved, not
/// when the controller decided to move it.
async fn settle(store: &dyn Store, canary: &Canary) -> Result<(), DriveError> {
    let mut status = canary.status.clone().unwrap_or_default();
    let phase = phase(canary);
    let message = format!(
        "{}; every proxy runs weight {}%",
        status.message.as_deref().unwrap_or_default(),
        status.weight.unwrap_or(0)
    );
    promoted_condition(&mut status, phase.promoted(), format!("{phase:?}"), &message, canary, now().floor());
    let object = ObjectRef::named(Kind::Canary, &canary.metadata);
    store.set_status(&object, serde_json::to_value(&status).expect("status serializes")).await?;
    Ok(())
}

fn phase(canary: &Canary) -> Phase {
    canary.status.as_ref().and_then(|s| s.phase).unwrap_or(Phase::Pending)
}

/// What the instances of `subset` of `host` (`(namespace, name)`) served, together.
fn served(
    traffic: &[(&Served, Traffic)],
    resources: &[Resource],
    host: &str,
    (namespace, name): (&str, &str),
    subset: &str,
) -> Traffic {
    let labels = resources.iter().find_map(|r| match r {
        Resource::DestinationRule(dr) if resolve_host(&dr.spec.host, r.namespace()) == host => {
            dr.spec.subsets.iter().find(|s| s.name == subset).map(|s| &s.labels)
        }
        _ => None,
    });
    let mut total = Traffic::default();
    let Some(labels) = labels else { return total };
    for (instance, t) in traffic {
        let selected = crate::api::has_labels(labels, &instance.labels);
        if instance.namespace == namespace && instance.service() == name && selected {
            total.add(t);
        }
    }
    total
}

/// What an instance of Service `service` in `namespace` served, together: the Pods every
/// such Service selects (a Pod may be selected by several).
fn served_by_service(traffic: &[(&Served, Traffic)], namespace: &str, service: &str) -> Traffic {
    let mut total = Traffic::default();
    for (instance, t) in traffic {
        if instance.namespace == namespace && instance.services.iter().any(|s| s == service) {
            total.add(t);
        }
    }
    total
}

/// Why the rollout cannot start: a subset no DestinationRule defines or, in the Gateway API,
/// no HTTPRoute attached to the service that sends to the stable Service.
fn cannot_start(resources: &[Resource], canary: &Canary, host: &str) -> Option<String> {
    match canary.spec.api {
        RouteApi::Istio => missing_subset(resources, canary, host).map(|missing| {
            format!("subset {missing:?} of {host} is not defined by a DestinationRule; define it, then start again")
        }),
        RouteApi::Gateway => {
            let stable = &canary.spec.stable;
            let sends = crate::canary::mesh_routes(resources, host)
                .any(|(route, _)| route.spec.rules.iter().flat_map(|r| &r.backend_refs).any(|b| b.name == *stable));
            (!sends).then(|| {
                format!(
                    "no HTTPRoute attached to {host} sends to Service {stable}; write one (`meshctl generate \
                     traffic-split ... --api gateway`), then start again"
                )
            })
        }
    }
}

/// The HTTPRoutes attached to the service, each rule that sends to the stable or the canary
/// Service split `100 - weight` / `weight` between them (the canary's backend made from the
/// stable's where the rule has none); other backends are left as they are.
fn mesh_routes_with_weight(resources: &[Resource], canary: &Canary, host: &str, weight: u32) -> Vec<Resource> {
    let (stable, rolled) = (&canary.spec.stable, &canary.spec.canary);
    crate::canary::mesh_routes(resources, host)
        .map(|(route, _)| {
            let mut route = route.clone();
            for rule in &mut route.spec.rules {
                let ours = |b: &crate::api::gateway::HTTPBackendRef| {
                    b.is_service() && (b.name == *stable || b.name == *rolled)
                };
                let Some(template) = rule.backend_refs.iter().find(|b| ours(b)).cloned() else { continue };
                let backend = |name: &str, weight: u32| {
                    let existing = rule.backend_refs.iter().find(|b| ours(b) && b.name == name);
                    let base = existing.cloned().unwrap_or_else(|| template.clone());
                    crate::api::gateway::HTTPBackendRef { name: name.to_string(), weight, ..base }
                };
                let split = [backend(stable, 100 - weight), backend(rolled, weight)];
                rule.backend_refs.retain(|b| !ours(b));
                rule.backend_refs.extend(split);
            }
            // Written over the version read (its resourceVersion stays): a route changed or
            // deleted since is a conflict, and the next round starts from a fresh read.
            route.status = None;
            Resource::HTTPRoute(route.into())
        })
        .collect()
}

/// The stable or canary subset that no DestinationRule for the host defines, if any.
fn missing_subset<'a>(resources: &[Resource], canary: &'a Canary, host: &str) -> Option<&'a str> {
    let defined = |subset: &str| {
        resources.iter().any(|r| match r {
            Resource::DestinationRule(dr) => {
                resolve_host(&dr.spec.host, r.namespace()) == host && dr.spec.subsets.iter().any(|s| s.name == subset)
            }
            _ => false,
        })
    };
    [canary.spec.stable.as_str(), canary.spec.canary.as_str()].into_iter().find(|s| !defined(s))
}

/// The service's VirtualService with every route to its stable or canary subset split
/// `100 - weight` / `weight`; a new one named after the service when it has none.
fn routes_with_weight(resources: &[Resource], canary: &Canary, host: &str, weight: u32) -> VirtualService {
    let namespace = canary.metadata.namespace.clone().unwrap_or_else(|| "default".into());
    let split = |dest_host: &str| {
        let subset = |name: &str, weight: u32| HttpRouteDestination {
            destination: Destination { host: dest_host.to_string(), subset: Some(name.to_string()), port: None },
            weight: Some(weight),
        };
        vec![subset(&canary.spec.stable, 100 - weight), subset(&canary.spec.canary, weight)]
    };
    let existing = resources.iter().find_map(|r| match r {
        Resource::VirtualService(vs) if vs.spec.hosts.iter().any(|h| resolve_host(h, r.namespace()) == host) => {
            Some((VirtualService::clone(vs), r.namespace().to_string()))
        }
        _ => None,
    });
    match existing {
        Some((mut vs, vs_ns)) => {
            for rule in &mut vs.spec.http {
                let ours = rule.route.iter().find(|d| {
                    resolve_host(&d.destination.host, &vs_ns) == host
                        && d.destination
                            .subset
                            .as_deref()
                            .is_some_and(|s| s == canary.spec.stable || s == canary.spec.canary)
                });
                if let Some(d) = ours {
                    rule.route = split(&d.destination.host.clone());
                }
            }
            // Written over the version read, as the routes above are.
            vs
        }
        None => {
            let spec = VirtualServiceSpec {
                hosts: vec![canary.spec.service.clone()],
                gateways: vec![],
                http: vec![HttpRoute { route: split(&canary.spec.service), ..HttpRoute::default() }],
                tcp: vec![],
                tls: vec![],
                export_to: vec![],
            };
            let mut vs = VirtualService::new(host.split('.').next().unwrap_or_default(), spec);
            vs.metadata.namespace = Some(namespace);
            vs
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::LocalStore;

    fn mk_mesh(extra_rule: &str) -> Vec<Resource> {
        let text = format!(
            "apiVersion: meshctl.io/v1alpha1\nkind: Workload\nmetadata: {{name: p1}}\nspec: {{service: profile, labels: {{version: v1}}, command: [x]}}\n---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {{name: profile}}\nspec:\n  host: profile\n  subsets:\n  - {{name: v1, labels: {{version: v1}}}}\n  - {{name: v3, labels: {{version: v3}}}}\n---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: profile}}\nspec:\n  hosts: [profile]\n  http:\n{extra_rule}  - route: [{{destination: {{host: profile, subset: v1}}}}]\n---\napiVersion: meshctl.io/v1alpha1\nkind: Canary\nmetadata: {{name: profile}}\nspec: {{service: profile, stable: v1, canary: v3}}\n"
        );
        // Parsed without the cross-resource rules: a stored mesh may hold what they refuse.
        let (docs, _) = crate::api::yaml::parse(&text);
        docs.into_iter()
            .map(|d| {
                let mut json = d.root.unwrap().to_json();
                json["metadata"]["namespace"] = "default".into();
                let kind = crate::api::Kind::of(&json).unwrap();
                kind.decode(json).unwrap()
            })
            .collect()
    }

    async fn stored_vs(store: &LocalStore) -> std::sync::Arc<serde_json::Value> {
        store.contents().await.unwrap().objects.into_iter().find(|o| o["kind"] == "VirtualService").unwrap()
    }

    #[tokio::test]
    async fn the_weights_are_written_even_where_the_mesh_had_a_problem_before() {
        // The second case's VirtualService already routes to a subset no rule defines; the
        // rollout is not what broke it, so it is not held up by it.
        for extra_rule in
            ["", "  - match: [{uri: {prefix: /old}}]\n    route: [{destination: {host: profile, subset: v9}}]\n"]
        {
            let dir = tempfile::tempdir().unwrap();
            let store = LocalStore::create(dir.path()).unwrap();
            let resources = mk_mesh(extra_rule);
            store.apply(&resources, false).await.unwrap();
            let problems = Driver::default().tick(&store, &resources, &[], false).await;
            assert!(problems.is_empty(), "{problems:?}");
            let routes = &stored_vs(&store).await["spec"]["http"];
            let last = &routes[routes.as_array().unwrap().len() - 1]["route"];
            assert_eq!((last[0]["weight"].as_u64(), last[1]["weight"].as_u64()), (Some(90), Some(10)));
        }
    }
}
