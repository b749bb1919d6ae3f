//! Canary rollouts. [`decide`] is the pure decision engine: from a rollout's spec, where it
//! stands and what the last observation window showed, it says what to do next. The driver
//! (`driver`, run by the controller's leader) feeds it windows from the metrics module and
//! writes weights through the store.
//!
//! Two kinds of evidence decide:
//! - **gates** at the end of each step's dwell, as Flagger and Argo Rollouts check them:
//!   success rate, p99 latency, and enough requests to judge;
//! - an **anytime-valid sequential test** on the canary's error rate, checked on every window,
//!   so a clearly bad canary is rolled back within seconds instead of at the end of the dwell
//!   (see [`Sequential`]).

mod driver;

use serde::{Deserialize, Serialize};

pub use crate::api::meshctl::CanaryPhase as Phase;
pub use driver::Driver;

use crate::api::Resource;
use crate::api::meshctl::{CanarySpec, RouteApi};
use crate::policy::resolve_host;

/// A rollout's standing between two decisions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub phase: Phase,
    /// Index into the spec's steps; meaningful while progressing or paused.
    pub step: usize,
    /// The canary's weight in percent now.
    pub weight: u32,
    /// When the current evaluation period began (a step's start, or a retry after a failed
    /// gate), in seconds on the driver's clock. The driver's observations count from here, so
    /// when it changes the driver takes a new baseline.
    pub step_started: f64,
    /// Failed gate evaluations so far.
    pub failures: u32,
}

impl Progress {
    pub fn start(now: f64) -> Progress {
        Progress { phase: Phase::Pending, step: 0, weight: 0, step_started: now, failures: 0 }
    }
}

/// Requests and failures of one version in one window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub requests: u64,
    pub errors: u64,
    pub p99_ms: Option<f64>,
}

impl Sample {
    pub fn success_rate(&self) -> Option<f64> {
        (self.requests > 0).then(|| 1.0 - self.errors as f64 / self.requests as f64)
    }
}

/// What the proxies saw since the current evaluation period began ([`Progress::step_started`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    pub canary: Sample,
    pub stable: Sample,
}

/// What to do next.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Decision {
    /// Keep the weight, for this reason.
    Hold(Hold),
    /// Move the canary to this weight (the next step).
    Advance(u32),
    /// All traffic to the canary; the rollout is done.
    Promote,
    /// All traffic back to stable.
    RollBack(String),
    /// Stop without a verdict (no usable traffic within the progress deadline).
    Fail(String),
}

/// Why a rollout keeps its weight.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Hold {
    /// It is over; only a new rollout moves traffic.
    Ended(Phase),
    Paused,
    /// The step's minimum time is not up: nothing is judged yet.
    Dwelling {
        step: usize,
        seconds_left: f64,
    },
    /// Too few canary requests to judge the step.
    TooLittleTraffic {
        requests: u64,
        needed: u32,
    },
    /// A gate failed, with fewer failures than the threshold: judged again over a new dwell.
    GateFailed {
        reason: String,
        failures: u32,
        allowed: u32,
    },
}

impl Hold {
    /// Whether the canary was judged on what it did (and the evaluation is worth recording).
    pub fn judged(&self) -> bool {
        matches!(self, Hold::GateFailed { .. })
    }
}

impl std::fmt::Display for Hold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Hold::Ended(phase) => write!(f, "the rollout has ended ({phase:?})"),
            Hold::Paused => f.write_str("paused"),
            Hold::Dwelling { step, seconds_left } => write!(f, "step {} dwells {seconds_left:.0}s more", step + 1),
            Hold::TooLittleTraffic { requests, needed } => {
                write!(f, "not enough traffic to judge: {requests} canary requests this step, {needed} needed")
            }
            Hold::GateFailed { reason, failures, allowed } => {
                write!(f, "{reason} ({failures} of {allowed} failures allowed)")
            }
        }
    }
}

/// Significance of the sequential test: the chance that a canary no worse than allowed is ever
/// rolled back by it, however long it runs.
pub const ALPHA: f64 = 0.01;

/// An error rate the sequential test always allows, so a stable version with no errors at
/// all does not make a single canary error look damning.
const ERROR_FLOOR: f64 = 0.01;

/// A one-sided sequential probability ratio test on the canary's error rate (Wald's SPRT).
/// H0: the canary fails at most `p0` of requests — the larger of what the gate allows and what
/// stable shows (at least [`ERROR_FLOOR`]); H1: it fails `p1 = min(2·p0 + 5%, 99%)`. The
/// likelihood ratio is a nonnegative supermartingale under H0, so by Ville's inequality it
/// crosses `1/ALPHA` with probability at most `ALPHA` at any time: checking after every window
/// is safe. A canary failing 50% (against `p0` = 1%) crosses after about 5 requests, one
/// failing 10% after about 35.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Sequential {
    pub requests: u64,
    pub errors: u64,
}

impl From<Sample> for Sequential {
    fn from(s: Sample) -> Self {
        Sequential { requests: s.requests, errors: s.errors.min(s.requests) }
    }
}

impl Sequential {
    /// The log likelihood ratio of H1 to H0 for the tally so far.
    pub fn log_likelihood_ratio(&self, p0: f64) -> f64 {
        let p1 = (2.0 * p0 + 0.05).min(0.99);
        let (n, k) = (self.requests as f64, self.errors as f64);
        k * (p1 / p0).ln() + (n - k) * ((1.0 - p1) / (1.0 - p0)).ln()
    }

    pub fn rejects(&self, p0: f64) -> bool {
        self.log_likelihood_ratio(p0) >= (1.0 / ALPHA).ln()
    }
}

/// The error rate the sequential test's H0 allows.
pub fn allowed_error_rate(spec: &CanarySpec, stable: Sample) -> f64 {
    let gate = 1.0 - spec.gates.min_success_rate / 100.0;
    let seen = stable.success_rate().map_or(0.0, |s| 1.0 - s);
    gate.max(seen).clamp(ERROR_FLOOR, 0.9)
}

/// The next decision and the rollout's new standing, at time `now` (seconds) after a window
/// `observation`. Pure: the driver applies the decision.
pub fn decide(spec: &CanarySpec, progress: &Progress, observation: &Observation, now: f64) -> (Decision, Progress) {
    let mut next = progress.clone();
    let steps = &spec.steps;
    match progress.phase {
        Phase::Promoted | Phase::RolledBack | Phase::Failed => {
            return (Decision::Hold(Hold::Ended(progress.phase)), next);
        }
        Phase::Paused => return (Decision::Hold(Hold::Paused), next),
        Phase::Pending => {
            let first = steps.first().copied().unwrap_or(100);
            next.phase = Phase::Progressing;
            next.step = 0;
            next.weight = first;
            next.step_started = now;
            return (Decision::Advance(first), next);
        }
        Phase::Progressing => {}
    }

    // The sequential test looks at the evidence whenever it comes, however little.
    let p0 = allowed_error_rate(spec, observation.stable);
    let tally = Sequential::from(observation.canary);
    if spec.gates.sequential_test && tally.rejects(p0) {
        return roll_back(
            next,
            format!(
                "the canary failed {} of {} requests, clearly more than {:.1}% (sequential test, alpha {ALPHA})",
                tally.errors,
                tally.requests,
                p0 * 100.0
            ),
        );
    }

    let elapsed = now - progress.step_started;
    let dwell = spec.interval.0.as_secs_f64();
    if elapsed < dwell {
        return (Decision::Hold(Hold::Dwelling { step: progress.step, seconds_left: dwell - elapsed }), next);
    }
    if observation.canary.requests < u64::from(spec.gates.min_requests) {
        let deadline = spec.progress_deadline.map(|d| d.0.as_secs_f64());
        if let Some(deadline) = deadline.filter(|d| elapsed - dwell > *d) {
            next.phase = Phase::Failed;
            return (
                Decision::Fail(format!(
                    "too little traffic to judge for {deadline:.0}s past the dwell (the progress deadline)"
                )),
                next,
            );
        }
        return (
            Decision::Hold(Hold::TooLittleTraffic {
                requests: observation.canary.requests,
                needed: spec.gates.min_requests,
            }),
            next,
        );
    }

    if let Some(reason) = gate_failure(spec, &observation.canary) {
        next.failures += 1;
        if next.failures >= spec.failure_threshold {
            return roll_back(next, reason);
        }
        // Judge afresh over another dwell.
        next.step_started = now;
        let hold = Hold::GateFailed { reason, failures: next.failures, allowed: spec.failure_threshold };
        return (Decision::Hold(hold), next);
    }

    next.step_started = now;
    match steps.get(progress.step + 1) {
        Some(&weight) if weight < 100 => {
            next.step += 1;
            next.weight = weight;
            (Decision::Advance(weight), next)
        }
        _ => {
            next.step = steps.len().saturating_sub(1);
            next.weight = 100;
            next.phase = Phase::Promoted;
            (Decision::Promote, next)
        }
    }
}

fn roll_back(mut next: Progress, reason: String) -> (Decision, Progress) {
    next.phase = Phase::RolledBack;
    next.weight = 0;
    (Decision::RollBack(reason), next)
}

/// Why the canary's window fails the gates, if it does.
///
/// The success gate fails only when the evidence says the canary is below the minimum: the
/// upper end of a one-sided 97.5% Wilson interval around its success rate. With 20 requests a
/// single failure (95%) is within chance of a 99% version, and a step must not roll back a
/// good canary for it; five failures are not.
fn gate_failure(spec: &CanarySpec, canary: &Sample) -> Option<String> {
    let success = canary.success_rate().unwrap_or(0.0);
    let upper = wilson_upper(success, canary.requests);
    if upper * 100.0 < spec.gates.min_success_rate {
        return Some(format!(
            "success rate {:.2}% is below {}% (at most {:.2}% with 97.5% confidence)",
            success * 100.0,
            spec.gates.min_success_rate,
            upper * 100.0
        ));
    }
    match (spec.gates.max_p99, canary.p99_ms) {
        (Some(max), Some(p99)) if p99 > max.0.as_secs_f64() * 1000.0 => Some(format!("p99 {p99:.0}ms is above {max}")),
        _ => None,
    }
}

/// The upper bound of the one-sided 97.5% Wilson score interval for a share `p` of `n` trials.
pub fn wilson_upper(p: f64, n: u64) -> f64 {
    if n == 0 {
        return 1.0;
    }
    const Z: f64 = 1.96;
    let n = n as f64;
    let centre = p + Z * Z / (2.0 * n);
    let spread = Z * (p * (1.0 - p) / n + Z * Z / (4.0 * n * n)).sqrt();
    ((centre + spread) / (1.0 + Z * Z / n)).min(1.0)
}

/// What a service's routes weigh most: the stable subset (or, in the Gateway API, the stable
/// Service), when a rollout does not say.
pub fn stable(resources: &[Resource], service: &str, namespace: &str, api: RouteApi) -> Option<String> {
    let host = resolve_host(service, namespace);
    if api == RouteApi::Gateway {
        return mesh_routes(resources, &host)
            .flat_map(|(route, ns)| route.spec.rules.iter().flat_map(|r| &r.backend_refs).map(move |b| (b, ns)))
            .max_by_key(|(b, _)| b.weight)
            .map(|(b, _)| b.name.clone());
    }
    resources
        .iter()
        .filter_map(|r| match r {
            Resource::VirtualService(vs) => Some((vs, r.namespace())),
            _ => None,
        })
        .flat_map(|(vs, ns)| vs.spec.http.iter().flat_map(|h| &h.route).map(move |d| (d, ns)))
        .filter(|(d, ns)| resolve_host(&d.destination.host, ns) == host)
        .filter_map(|(d, _)| Some((d.destination.subset.clone()?, d.weight.unwrap_or(100))))
        .max_by_key(|(_, w)| *w)
        .map(|(s, _)| s)
}

/// The HTTPRoutes attached to the Service of `host`, with their namespaces.
pub(crate) fn mesh_routes<'r>(
    resources: &'r [Resource],
    host: &'r str,
) -> impl Iterator<Item = (&'r crate::api::gateway::HTTPRoute, &'r str)> {
    resources.iter().filter_map(move |r| match r {
        Resource::HTTPRoute(route)
            if route.spec.parent_refs.iter().any(|p| {
                p.is_service()
                    && crate::policy::service_host(&p.name, p.namespace.as_deref().unwrap_or(r.namespace())) == host
            }) =>
        {
            Some((&**route, r.namespace()))
        }
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Duration;
    use crate::api::meshctl::Gates;
    use proptest::prelude::*;

    fn mk_spec(steps: &[u32], interval_s: u64) -> CanarySpec {
        CanarySpec {
            service: "profile".into(),
            stable: "v1".into(),
            canary: "v3".into(),
            api: RouteApi::Istio,
            steps: steps.to_vec(),
            interval: Duration(std::time::Duration::from_secs(interval_s)),
            gates: Gates {
                min_success_rate: 99.0,
                max_p99: Some(Duration(std::time::Duration::from_millis(500))),
                min_requests: 20,
                sequential_test: true,
            },
            failure_threshold: 1,
            progress_deadline: Some(Duration(std::time::Duration::from_secs(60))),
            paused: false,
            decision: None,
        }
    }

    fn mk_window(requests: u64, errors: u64, p99_ms: f64) -> Observation {
        Observation {
            canary: Sample { requests, errors, p99_ms: Some(p99_ms) },
            stable: Sample { requests: requests * 9, errors: 0, p99_ms: Some(10.0) },
        }
    }

    /// Runs the engine once a second until the rollout ends; `per_second` is the traffic of
    /// one second, and the engine sees all of it since its evaluation period began.
    fn run(spec: &CanarySpec, per_second: impl Fn(u32) -> Observation) -> (Vec<Decision>, Progress) {
        let mut progress = Progress::start(0.0);
        let mut decisions = Vec::new();
        for t in 0..1000 {
            let seconds = (t as f64 - progress.step_started) as u64;
            let one = per_second(progress.weight);
            let scale =
                |s: Sample| Sample { requests: s.requests * seconds, errors: s.errors * seconds, p99_ms: s.p99_ms };
            let observed = Observation { canary: scale(one.canary), stable: scale(one.stable) };
            let (d, next) = decide(spec, &progress, &observed, t as f64);
            progress = next;
            decisions.push(d);
            if matches!(progress.phase, Phase::Promoted | Phase::RolledBack | Phase::Failed) {
                break;
            }
        }
        (decisions, progress)
    }

    #[test]
    fn a_healthy_canary_is_promoted_through_every_step() {
        let spec = mk_spec(&[10, 50, 100], 5);
        let (decisions, end) = run(&spec, |_| mk_window(50, 0, 20.0));
        let moves: Vec<&Decision> = decisions.iter().filter(|d| !matches!(d, Decision::Hold(_))).collect();
        assert_eq!(moves, [&Decision::Advance(10), &Decision::Advance(50), &Decision::Promote]);
        assert_eq!((end.phase, end.weight), (Phase::Promoted, 100));
    }

    #[test]
    fn a_canary_failing_half_its_requests_is_rolled_back_within_one_window() {
        let spec = mk_spec(&[10, 50, 100], 30);
        let (decisions, end) = run(&spec, |_| mk_window(20, 10, 20.0));
        assert_eq!((end.phase, end.weight), (Phase::RolledBack, 0));
        assert_eq!(decisions.len(), 2, "started, then rolled back after the first second: {decisions:?}");
        assert!(matches!(&decisions[1], Decision::RollBack(r) if r.contains("sequential")));
    }

    #[test]
    fn without_the_sequential_test_a_bad_canary_waits_for_the_end_of_its_step() {
        let mut spec = mk_spec(&[10, 50, 100], 30);
        spec.gates.sequential_test = false;
        let (decisions, end) = run(&spec, |_| mk_window(20, 10, 20.0));
        assert_eq!((end.phase, decisions.len()), (Phase::RolledBack, 31), "{decisions:?}");
    }

    #[test]
    fn a_slow_canary_fails_the_p99_gate_at_the_end_of_the_dwell() {
        let spec = mk_spec(&[10, 50, 100], 5);
        let (decisions, end) = run(&spec, |_| mk_window(50, 0, 900.0));
        assert_eq!((end.phase, end.weight), (Phase::RolledBack, 0));
        assert!(matches!(decisions.last(), Some(Decision::RollBack(r)) if r.contains("p99 900ms")), "{decisions:?}");
        assert_eq!(decisions.len(), 6, "started, held 4 s, rolled back when the 5 s dwell ended");
    }

    #[test]
    fn no_traffic_holds_and_then_fails_at_the_deadline() {
        let spec = mk_spec(&[10, 50, 100], 5);
        let (decisions, end) = run(&spec, |_| mk_window(0, 0, 0.0));
        assert_eq!(end.phase, Phase::Failed);
        assert_eq!(end.weight, 10, "a failed rollout says so and leaves the weight for a person");
        assert!(
            decisions[6..decisions.len() - 1]
                .iter()
                .all(|d| matches!(d, Decision::Hold(Hold::TooLittleTraffic { .. })))
        );
        assert!(matches!(decisions.last(), Some(Decision::Fail(_))));
    }

    #[test]
    fn one_failure_in_a_small_step_is_chance_five_are_not() {
        let spec = mk_spec(&[10, 100], 5);
        assert_eq!(gate_failure(&spec, &Sample { requests: 20, errors: 1, p99_ms: None }), None);
        assert!(gate_failure(&spec, &Sample { requests: 20, errors: 5, p99_ms: None }).is_some());
        assert!(gate_failure(&spec, &Sample { requests: 2000, errors: 100, p99_ms: None }).is_some());
        assert!((wilson_upper(0.95, 20) - 0.9911).abs() < 0.001, "{}", wilson_upper(0.95, 20));
    }

    #[test]
    fn a_paused_rollout_holds() {
        let spec = mk_spec(&[10, 100], 1);
        let paused = Progress { phase: Phase::Paused, weight: 10, ..Progress::start(0.0) };
        let (d, next) = decide(&spec, &paused, &mk_window(100, 0, 1.0), 100.0);
        assert_eq!((d, next), (Decision::Hold(Hold::Paused), paused));
    }

    #[test]
    fn a_failed_gate_below_the_threshold_judges_again_over_a_new_dwell() {
        let spec = CanarySpec { failure_threshold: 2, ..mk_spec(&[10, 100], 5) };
        let progressing = Progress { phase: Phase::Progressing, weight: 10, ..Progress::start(0.0) };
        let slow = mk_window(100, 0, 900.0);
        let (d, next) = decide(&spec, &progressing, &slow, 5.0);
        assert!(matches!(d, Decision::Hold(Hold::GateFailed { failures: 1, allowed: 2, .. })));
        assert_eq!((next.failures, next.step_started, next.weight), (1, 5.0, 10));
        let (d, next) = decide(&spec, &next, &slow, 10.0);
        assert!(matches!(d, Decision::RollBack(_)));
        assert_eq!(next.weight, 0);
    }

    #[test]
    fn the_sequential_test_tolerates_the_allowed_error_rate() {
        // A canary failing exactly 1% of a million requests never trips the test.
        let s = Sequential { requests: 1_000_000, errors: 10_000 };
        assert!(!s.rejects(0.01));
        assert!(Sequential { requests: 6, errors: 3 }.rejects(0.01));
        assert!(!Sequential { requests: 6, errors: 1 }.rejects(0.01));
    }

    #[test]
    fn the_sequential_test_rarely_rolls_back_a_canary_as_good_as_allowed() {
        // 200 canaries failing exactly the allowed 1%, each watched after every 10 of 3,000
        // requests: Ville's inequality bounds the share ever rolled back by alpha (1%).
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut uniform = move || {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut false_alarms = 0;
        for _ in 0..200 {
            let mut tally = Sequential::default();
            for i in 1..=3000 {
                tally.requests += 1;
                tally.errors += u64::from(uniform() < 0.01);
                if i % 10 == 0 && tally.rejects(0.01) {
                    false_alarms += 1;
                    break;
                }
            }
        }
        assert!(false_alarms <= 4, "{false_alarms} of 200 good canaries rolled back");
    }

    fn window_strategy() -> impl Strategy<Value = Observation> {
        (0u64..200, 0u64..200, 0.0f64..2000.0, 0u64..2000, 0u64..50).prop_map(
            |(requests, errors, p99, stable, stable_errors)| Observation {
                canary: Sample { requests, errors: errors.min(requests), p99_ms: Some(p99) },
                stable: Sample { requests: stable, errors: stable_errors.min(stable), p99_ms: Some(10.0) },
            },
        )
    }

    proptest! {
        #[test]
        fn weights_move_only_along_the_steps(
            windows in prop::collection::vec(window_strategy(), 1..60),
            interval in 0u64..5,
        ) {
            let spec = mk_spec(&[10, 25, 50, 100], interval);
            let mut progress = Progress::start(0.0);
            for (t, w) in windows.iter().enumerate() {
                let before = progress.clone();
                let (decision, next) = decide(&spec, &progress, w, t as f64);
                match &decision {
                    Decision::Advance(weight) => {
                        prop_assert!(spec.steps.contains(weight));
                        prop_assert_eq!(next.weight, *weight);
                        prop_assert!(*weight > before.weight || before.phase == Phase::Pending);
                    }
                    Decision::Promote => prop_assert_eq!((next.weight, next.phase), (100, Phase::Promoted)),
                    Decision::RollBack(_) => prop_assert_eq!((next.weight, next.phase), (0, Phase::RolledBack)),
                    Decision::Hold(_) | Decision::Fail(_) => prop_assert_eq!(next.weight, before.weight),
                }
                // Never advance or promote without enough requests.
                if w.canary.requests < u64::from(spec.gates.min_requests) && before.phase == Phase::Progressing {
                    prop_assert!(!matches!(decision, Decision::Advance(_) | Decision::Promote));
                }
                progress = next;
            }
        }
    }
}
