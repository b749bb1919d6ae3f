//! Policy enforced by real Envoy, with real HTTP: a gateway Envoy fed by meshctl's ADS server,
//! routing to demo apps. Weight changes take effect without a restart and without a failed
//! request; new subsets are reachable before any route points at them.

use super::common;
use super::common::envoy::Ads;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use meshctl::api::Protocol;
use meshctl::demo_app::{self, DemoApp};
use meshctl::policy::{self, Options, Source};
use meshctl::translate::{
    self, Credentials, Gateway, Instance, MeshSnapshot, Origin, Proxy, Service, ServicePort, Translation,
};
use meshctl::xds::{self, Desired, SyncState};
use tokio::sync::watch;

const NODE: &str = "gateway";

fn localhost(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// A demo app for `profile` `version` that answers at once and never fails.
fn profile(version: &str) -> DemoApp {
    DemoApp::new("profile", version)
}

/// Starts a demo app on a free port, in this process.
async fn start(app: DemoApp) -> Instance {
    let listener = tokio::net::TcpListener::bind(localhost(0)).await.unwrap();
    let address = listener.local_addr().unwrap();
    let labels = BTreeMap::from([("version".to_string(), app.version.clone())]);
    tokio::spawn(demo_app::serve(app, listener));
    Instance {
        ip: address.ip(),
        ports: BTreeMap::from([(80, address.port())]),
        labels,
        service_account: "profile".into(),
    }
}

/// A VirtualService splitting `profile` by `weights` and the DestinationRule with its subsets.
fn split(weights: &[(&str, u32)]) -> String {
    let routes: String = weights
        .iter()
        .map(|(subset, w)| format!("    - destination: {{host: profile, subset: {subset}}}\n      weight: {w}\n"))
        .collect();
    let subsets: String =
        weights.iter().map(|(s, _)| format!("  - name: {s}\n    labels: {{version: {s}}}\n")).collect();
    format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: profile}}\nspec:\n  hosts: [profile]\n  http:\n  - route:\n{routes}---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {{name: profile}}\nspec:\n  host: profile\n  subsets:\n{subsets}"
    )
}

/// The instances here are bare apps with no sidecar, so they speak plaintext only.
const PLAINTEXT: &str = "apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec: {mtls: {mode: DISABLE}}
";

/// What the gateway should run for `policy` over `instances` of `profile`.
fn desired(policy: &str, instances: &[Instance], gateway: SocketAddr) -> Desired {
    let sources = [
        Source { name: "policy.yaml".into(), text: policy.into() },
        Source { name: "plaintext.yaml".into(), text: PLAINTEXT.into() },
    ];
    let report = policy::check(&sources, &Options::default());
    assert_eq!(report.count(policy::Severity::Error), 0, "{:?}", report.findings);
    let service = Service {
        name: "profile".into(),
        namespace: "default".into(),
        ports: vec![ServicePort { name: "http".into(), number: 80, protocol: Protocol::Http }],
        addresses: vec![],
        origin: Origin::Registry,
        exported: Default::default(),
        instances: instances.to_vec(),
    };
    let snapshot = MeshSnapshot::new(vec![service], report.resources.iter().map(|c| &c.resource));
    let credentials = Credentials::default();
    let proxy = Proxy::Gateway(Gateway {
        serves: None,
        node_id: NODE.into(),
        namespace: "default".into(),
        listen: gateway,
        labels: Default::default(),
        credentials,
    });
    let resources = Translation::new(&snapshot).proxy(&proxy);
    Arc::new(HashMap::from([(NODE.to_string(), Arc::new(resources))]))
}

#[derive(Debug)]
struct Answer {
    status: u16,
    version: String,
    elapsed: Duration,
}

struct Mesh {
    desired: watch::Sender<Desired>,
    server: xds::Server,
    gateway: SocketAddr,
    xds: SocketAddr,
    envoy: Option<common::envoy::Running>,
}

impl Mesh {
    async fn start(policy: &str, instances: &[Instance]) -> Mesh {
        Mesh::start_speaking(Ads::Incremental, policy, instances).await
    }

    async fn start_speaking(ads: Ads, policy: &str, instances: &[Instance]) -> Mesh {
        let gateway = localhost(common::free_port());
        let (tx, rx) = watch::channel(desired(policy, instances, gateway));
        let server = xds::Server::new(rx);
        let xds_addr = server.clone().spawn(localhost(0)).await.unwrap();
        let admin = localhost(common::free_port());
        let envoy = common::envoy::start_speaking(ads, NODE, admin, xds_addr);
        let mesh = Mesh { desired: tx, server, gateway, xds: xds_addr, envoy: Some(envoy) };
        mesh.wait_synced().await;
        mesh
    }

    /// Publishes a new policy and waits until the gateway runs it.
    async fn apply(&self, policy: &str, instances: &[Instance]) {
        self.apply_within(policy, instances, Duration::from_secs(20)).await;
    }

    /// `apply`, which must be done within `limit`.
    async fn apply_within(&self, policy: &str, instances: &[Instance], limit: Duration) {
        self.desired.send(desired(policy, instances, self.gateway)).unwrap();
        self.wait_synced_within(limit).await;
    }

    async fn wait_synced(&self) {
        self.wait_synced_within(Duration::from_secs(20)).await;
    }

    async fn wait_synced_within(&self, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            match self.server.sync_state(NODE) {
                SyncState::Synced => return,
                SyncState::Nack(reason) => panic!("Envoy refused the configuration: {reason}"),
                _ => {}
            }
            assert!(tokio::time::Instant::now() < deadline, "the gateway did not sync: {:?}", self.server.status());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The version that answered one request for `profile`, or the failure.
    async fn call(&self) -> Result<String, String> {
        let answer = self.send(&[]).await;
        match answer.status {
            200 => Ok(answer.version),
            status => Err(format!("status {status}: {}", answer.version)),
        }
    }

    /// One request for `profile` with `headers`: its status, the version that answered (or
    /// the body, when none did), and how long it took.
    async fn send(&self, headers: &[(&str, &str)]) -> Answer {
        let start = std::time::Instant::now();
        let response =
            meshctl::http::request(self.gateway, hyper::Method::GET, "profile", "/", headers, Duration::from_secs(10))
                .await
                .expect("the gateway answers");
        let body: serde_json::Value = serde_json::from_slice(&response.body).unwrap_or_default();
        let version = match body["version"].as_str() {
            Some(v) => v.to_string(),
            None => String::from_utf8_lossy(&response.body).into_owned(),
        };
        Answer { status: response.status, version, elapsed: start.elapsed() }
    }

    /// Sends `n` requests and counts the answers by version; fails on any failed request.
    async fn tally(&self, n: usize) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for _ in 0..n {
            let version = self.call().await.unwrap_or_else(|e| panic!("a request failed: {e}"));
            *counts.entry(version).or_default() += 1;
        }
        counts
    }

    /// Runs requests in the background until `stop`; returns the number sent and failed.
    fn load(self: &Arc<Self>, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<(usize, Vec<String>)> {
        let mesh = self.clone();
        let sent = Arc::new(AtomicUsize::new(0));
        tokio::spawn(async move {
            let mut failures = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                sent.fetch_add(1, Ordering::Relaxed);
                if let Err(e) = mesh.call().await {
                    failures.push(e);
                }
            }
            (sent.load(Ordering::Relaxed), failures)
        })
    }
}

fn share(counts: &BTreeMap<String, usize>, version: &str) -> f64 {
    let total: usize = counts.values().sum();
    counts.get(version).copied().unwrap_or(0) as f64 / total as f64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_weighted_split_is_enforced_and_changes_without_restart_or_failure() {
    let instances = [start(profile("v1")).await, start(profile("v2")).await];
    let mesh = Arc::new(Mesh::start(&split(&[("v1", 90), ("v2", 10)]), &instances).await);

    let counts = mesh.tally(1000).await;
    let v1 = share(&counts, "v1");
    assert!((0.85..=0.95).contains(&v1), "90/10 split sent {:.1}% to v1: {counts:?}", v1 * 100.0);

    let stop = Arc::new(AtomicBool::new(false));
    let load = mesh.load(stop.clone());
    tokio::time::sleep(Duration::from_millis(200)).await;
    mesh.apply(&split(&[("v1", 10), ("v2", 90)]), &instances).await;
    let counts = mesh.tally(1000).await;
    stop.store(true, Ordering::Relaxed);
    let (sent, failures) = load.await.unwrap();

    let v2 = share(&counts, "v2");
    assert!((0.85..=0.95).contains(&v2), "10/90 split sent {:.1}% to v2: {counts:?}", v2 * 100.0);
    assert!(sent > 50, "the background load sent only {sent} requests");
    assert!(
        failures.is_empty(),
        "{} of {sent} requests failed during the change: {:?}",
        failures.len(),
        &failures[..failures.len().min(3)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_subset_is_reachable_before_routes_use_it_and_an_old_one_after() {
    let v1 = start(profile("v1")).await;
    let v3 = start(profile("v3")).await;
    let mesh = Arc::new(Mesh::start(&split(&[("v1", 100)]), std::slice::from_ref(&v1)).await);

    let stop = Arc::new(AtomicBool::new(false));
    let load = mesh.load(stop.clone());
    tokio::time::sleep(Duration::from_millis(200)).await;
    // v3's cluster and endpoints are new in the same change that routes half the traffic there.
    let both = [v1.clone(), v3.clone()];
    mesh.apply(&split(&[("v1", 50), ("v3", 50)]), &both).await;
    let counts = mesh.tally(200).await;
    assert!(counts.get("v3").copied().unwrap_or(0) > 50, "v3 got too little: {counts:?}");
    // And back: the v1 subset disappears in the same change that moves all traffic to v3.
    mesh.apply(&split(&[("v3", 100)]), std::slice::from_ref(&v3)).await;
    let counts = mesh.tally(100).await;
    stop.store(true, Ordering::Relaxed);
    let (sent, failures) = load.await.unwrap();

    assert_eq!(counts.get("v3"), Some(&100), "{counts:?}");
    assert!(
        failures.is_empty(),
        "{} of {sent} requests failed during the changes: {:?}",
        failures.len(),
        &failures[..failures.len().min(3)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_that_moves_is_followed_and_the_endpoints_that_stayed_are_kept() {
    for ads in [Ads::Incremental, Ads::StateOfTheWorld] {
        an_instance_moves(ads).await;
    }
}

async fn an_instance_moves(ads: Ads) {
    // A change sends the proxy only the endpoints that changed; it keeps the others.
    let v1 = start(profile("v1")).await;
    let policy = split(&[("v1", 50), ("v2", 50)]);
    let mesh = Mesh::start_speaking(ads, &policy, &[v1.clone(), start(profile("v2")).await]).await;
    // v2's instance moves: another app, on another port, in the same subset.
    let mut moved = start(profile("v2-moved")).await;
    moved.labels.insert("version".into(), "v2".into());
    mesh.apply(&policy, &[v1, moved]).await;
    let counts = mesh.tally(60).await;
    assert!(counts.get("v1").is_some_and(|&n| n > 10), "{ads:?}: v1 kept its endpoints: {counts:?}");
    assert!(counts.get("v2-moved").is_some_and(|&n| n > 10), "{ads:?}: v2 moved: {counts:?}");
    assert_eq!(counts.get("v2"), None, "{ads:?}: v2's old endpoint is gone: {counts:?}");
}

/// A VirtualService for `profile` with these HTTP rules (YAML list items at 2 spaces).
fn virtual_service(http: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: profile}}\nspec:\n  hosts: [profile]\n  http:\n{http}"
    )
}

/// A DestinationRule for `profile` with subsets v1 and v2 and this traffic policy.
fn destination_rule(traffic_policy: &str) -> String {
    format!(
        "---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {{name: profile}}\nspec:\n  host: profile\n  trafficPolicy: {traffic_policy}\n  subsets:\n  - {{name: v1, labels: {{version: v1}}}}\n  - {{name: v2, labels: {{version: v2}}}}\n"
    )
}

/// Rules without Istio's default retries, so the test sees every failure.
const NO_RETRIES: &str = "retries: {attempts: 0}";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_header_match_picks_the_subset() {
    let instances = [start(profile("v1")).await, start(profile("v2")).await];
    let http = "  - match: [{headers: {x-user: {exact: tester}}}]\n    route: [{destination: {host: profile, subset: v2}}]\n  - route: [{destination: {host: profile, subset: v1}}]\n";
    let mesh = Mesh::start(&format!("{}{}", virtual_service(http), destination_rule("{}")), &instances).await;
    for _ in 0..20 {
        assert_eq!(mesh.send(&[("x-user", "tester")]).await.version, "v2");
        assert_eq!(mesh.send(&[("x-user", "someone")]).await.version, "v1");
        assert_eq!(mesh.send(&[]).await.version, "v1");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_backend_gets_504_when_the_timeout_expires() {
    let slow = start(DemoApp { latency: Duration::from_secs(3), ..profile("v1") }).await;
    let http = format!("  - route: [{{destination: {{host: profile}}}}]\n    timeout: 300ms\n    {NO_RETRIES}\n");
    let mesh = Mesh::start(&virtual_service(&http), &[slow]).await;
    let answer = mesh.send(&[]).await;
    assert_eq!(answer.status, 504, "{answer:?}");
    assert!(answer.elapsed < Duration::from_secs(2), "the timeout did not cut the request short: {answer:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_turn_a_flaky_backend_into_a_reliable_one() {
    let flaky = start(DemoApp { error_rate: 0.5, ..profile("v1") }).await;
    let without = format!("  - route: [{{destination: {{host: profile}}}}]\n    {NO_RETRIES}\n");
    let mesh = Mesh::start(&virtual_service(&without), std::slice::from_ref(&flaky)).await;
    let mut failed = 0;
    for _ in 0..40 {
        failed += usize::from(mesh.send(&[]).await.status == 503);
    }
    assert_eq!(failed, 20, "half of the requests to the flaky backend should fail without retries");

    let with = "  - route: [{destination: {host: profile}}]\n    retries: {attempts: 3, retryOn: 5xx}\n";
    mesh.apply(&virtual_service(with), std::slice::from_ref(&flaky)).await;
    for _ in 0..40 {
        let answer = mesh.send(&[]).await;
        assert_eq!(answer.status, 200, "{answer:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_faults_abort_and_delay_requests() {
    let instances = [start(profile("v1")).await];
    let abort = "  - route: [{destination: {host: profile}}]\n    fault: {abort: {httpStatus: 418, percentage: {value: 100}}}\n";
    let mesh = Mesh::start(&virtual_service(abort), &instances).await;
    for _ in 0..10 {
        assert_eq!(mesh.send(&[]).await.status, 418);
    }
    let delay = "  - route: [{destination: {host: profile}}]\n    fault: {delay: {fixedDelay: 500ms, percentage: {value: 100}}}\n";
    mesh.apply(&virtual_service(delay), &instances).await;
    let answer = mesh.send(&[]).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    // Envoy's timers may fire a little early; an undelayed answer takes a few milliseconds.
    assert!(answer.elapsed >= Duration::from_millis(400), "no delay was injected: {answer:?}");
    let half = "  - route: [{destination: {host: profile}}]\n    fault: {abort: {httpStatus: 503, percentage: {value: 50}}}\n    retries: {attempts: 0}\n";
    mesh.apply(&virtual_service(half), &instances).await;
    let mut aborted = 0;
    for _ in 0..400 {
        aborted += usize::from(mesh.send(&[]).await.status == 503);
    }
    assert!((150..=250).contains(&aborted), "a 50% abort aborted {aborted} of 400");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outlier_detection_ejects_a_failing_instance() {
    let good = start(profile("v1")).await;
    let bad = start(DemoApp { error_rate: 1.0, ..profile("v1") }).await;
    let http = format!("  - route: [{{destination: {{host: profile}}}}]\n    {NO_RETRIES}\n");
    let policy =
        "{outlierDetection: {consecutive5xxErrors: 2, interval: 1s, baseEjectionTime: 60s, maxEjectionPercent: 100}}";
    let mesh = Mesh::start(&format!("{}{}", virtual_service(&http), destination_rule(policy)), &[good, bad]).await;
    let mut failures = Vec::new();
    for i in 0..100 {
        if mesh.send(&[]).await.status != 200 {
            failures.push(i);
        }
    }
    assert!(!failures.is_empty(), "the failing instance was never tried");
    assert!(failures.len() <= 4, "the failing instance was not ejected: failed requests {failures:?}");
    assert!(failures.iter().all(|i| *i < 20), "failures after ejection: {failures:?}");
}

/// One connection and one waiting request to a backend that takes 1.5 s to answer.
const TIGHT_POOL: &str = "{connectionPool: {tcp: {maxConnections: 1}, http: {http1MaxPendingRequests: 1}}}";

/// Six requests at once, which a tight pool must mostly turn away at once.
async fn assert_overflow(mesh: &Arc<Mesh>) {
    let requests: Vec<_> = (0..6)
        .map(|_| {
            let mesh = mesh.clone();
            tokio::spawn(async move { mesh.send(&[]).await })
        })
        .collect();
    let mut answers = Vec::new();
    for r in requests {
        answers.push(r.await.unwrap());
    }
    let overflowed: Vec<&Answer> = answers.iter().filter(|a| a.status == 503).collect();
    assert!(answers.iter().any(|a| a.status == 200), "{answers:?}");
    assert!(overflowed.len() >= 3, "one connection and one waiting request leave the rest to overflow: {answers:?}");
    assert!(
        overflowed.iter().all(|a| a.elapsed < Duration::from_millis(1000)),
        "overflow was not answered at once: {answers:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_connection_pool_answers_503_at_once() {
    let slow = start(DemoApp { latency: Duration::from_millis(1500), ..profile("v1") }).await;
    let http = format!("  - route: [{{destination: {{host: profile}}}}]\n    {NO_RETRIES}\n");
    let mesh =
        Arc::new(Mesh::start(&format!("{}{}", virtual_service(&http), destination_rule(TIGHT_POOL)), &[slow]).await);
    assert_overflow(&mesh).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_that_changes_while_its_endpoints_stay_is_taken_up_at_once() {
    for ads in [Ads::Incremental, Ads::StateOfTheWorld] {
        a_cluster_changes(ads).await;
    }
}

async fn a_cluster_changes(ads: Ads) {
    // Envoy warms a changed cluster anew and waits for its endpoints, which it does not ask
    // for again: the control plane must send them though they did not change.
    let slow = start(DemoApp { latency: Duration::from_millis(1500), ..profile("v1") }).await;
    let http = format!("  - route: [{{destination: {{host: profile}}}}]\n    {NO_RETRIES}\n");
    let roomy = "{connectionPool: {tcp: {maxConnections: 100}}}";
    let policy = |pool: &str| format!("{}{}", virtual_service(&http), destination_rule(pool));
    let mesh = Arc::new(Mesh::start_speaking(ads, &policy(roomy), std::slice::from_ref(&slow)).await);
    // Envoy would give up waiting after 15 s (its initial fetch timeout); a change takes
    // milliseconds, so 5 s is a wide margin on a busy machine.
    mesh.apply_within(&policy(TIGHT_POOL), &[slow], Duration::from_secs(5)).await;
    assert_overflow(&mesh).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configuration_envoy_refuses_is_reported_with_its_reason() {
    use envoy_types::pb::envoy::config::route::v3::{RouteConfiguration, VirtualHost};
    let instances = [start(profile("v1")).await];
    let mesh = Mesh::start(&split(&[("v1", 100)]), &instances).await;
    // Validation never lets such a route through; the server must still report Envoy's no.
    let mut config = (*mesh.desired.borrow().get(NODE).unwrap().clone()).clone();
    let bad = RouteConfiguration {
        name: translate::OUTBOUND_ROUTES.into(),
        virtual_hosts: vec![
            VirtualHost { name: "a".into(), domains: vec!["same".into()], ..Default::default() },
            VirtualHost { name: "b".into(), domains: vec!["same".into()], ..Default::default() },
        ],
        ..Default::default()
    };
    config.replace(translate::Type::Route, vec![translate::Encoded::new(bad.name.clone(), translate::pack(&bad))]);
    mesh.desired.send(Arc::new(HashMap::from([(NODE.to_string(), Arc::new(config))]))).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let SyncState::Nack(reason) = mesh.server.sync_state(NODE) {
            assert!(reason.starts_with("RDS:") && reason.contains("same"), "{reason}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no NACK reported: {:?}", mesh.server.status());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The proxy keeps serving its last good configuration.
    assert_eq!(mesh.call().await, Ok("v1".to_string()));
}

/// The controller builds configuration only for connected proxies, so a proxy connects before
/// there is any for it: it reads stale, not synced, until it runs what is then published.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_connected_before_its_configuration_is_built_is_stale_until_it_runs_it() {
    let instances = [start(profile("v1")).await];
    let (tx, rx) = watch::channel(Desired::default());
    let server = xds::Server::new(rx);
    let xds = server.clone().spawn(localhost(0)).await.unwrap();
    let envoy = common::envoy::start_speaking(Ads::Incremental, NODE, localhost(common::free_port()), xds);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !server.connected().contains(NODE) {
        assert!(tokio::time::Instant::now() < deadline, "the proxy never connected");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(server.sync_state(NODE), SyncState::Stale, "{:?}", server.status());
    let mesh = Mesh { desired: tx, server, gateway: localhost(common::free_port()), xds, envoy: Some(envoy) };
    mesh.apply(&split(&[("v1", 100)]), &instances).await;
    assert_eq!(mesh.call().await, Ok("v1".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_proxy_is_not_marked_disconnected_when_its_old_stream_ends() {
    let instances = [start(profile("v1")).await];
    let mut mesh = Mesh::start(&split(&[("v1", 100)]), &instances).await;
    // The same proxy again (as after a restart) while its old connection is still open ...
    let admin = localhost(common::free_port());
    let second = common::envoy::start(NODE, admin, mesh.xds);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while mesh.server.status()[NODE].stream < 2 {
        assert!(tokio::time::Instant::now() < deadline, "the second proxy never connected");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    mesh.wait_synced().await;
    // ... and then the old connection closes.
    mesh.envoy = None;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(mesh.server.sync_state(NODE), SyncState::Synced, "{:?}", mesh.server.status());
    mesh.envoy = Some(second);
    assert_eq!(mesh.call().await, Ok("v1".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_the_control_plane_has_no_configuration_for_keeps_serving_with_what_it_runs() {
    // As on a replica that took over: the proxy's stream is open before the replica has
    // translated anything for it.
    let instances = [start(profile("v1")).await, start(profile("v2")).await];
    let mesh = Mesh::start(&split(&[("v1", 100)]), &instances).await;
    mesh.desired.send(Arc::new(HashMap::new())).unwrap();
    let until = tokio::time::Instant::now() + Duration::from_secs(1);
    while tokio::time::Instant::now() < until {
        assert_eq!(mesh.call().await, Ok("v1".to_string()), "the proxy lost its configuration");
    }
    // Once there is one, it is sent.
    mesh.apply(&split(&[("v2", 100)]), &instances).await;
    assert_eq!(mesh.call().await, Ok("v2".to_string()));
}
