//! The controller's start on a cluster: with 1,000 Services stored on the real kube-apiserver,
//! each with three mesh Pods (v1, v2, v3) and an EndpointSlice listing them, the time from
//! `meshctl controller --kubernetes` starting to its status port reporting a configuration for
//! every proxy (the first full snapshot: lists, reflectors, a certificate per proxy,
//! translation), and the controller's peak memory. Then, with a DestinationRule and a
//! VirtualService stored for each Service, what a synced controller costs while nothing
//! changes: its CPU time, the API server's and etcd's beside theirs without a controller, and
//! the requests it makes (from the audit log); and then what one VirtualService change costs:
//! the time from its write to a configuration built from it, and the requests meanwhile. Run with `cargo bench --bench kube_snapshot`
//! (`MESHCTL_BENCH_SERVICES=N` for another size); under `cargo test --all-targets` it does the
//! same with 5 services once and a short idle window, as a smoke test.

#[path = "../tests/common/mod.rs"]
mod common;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::kube::KubeApiServer;
use kube::api::{Api, DynamicObject, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use meshctl::api::Kind;
use meshctl::store::{Revision, written_at};
use serde_json::{Value, json};

const VERSIONS: [&str; 3] = ["v1", "v2", "v3"];
const NAMESPACE: &str = "bench";

/// Version `v` of service `s`'s Pods, with the sidecar container that makes it a mesh Pod.
fn pod(s: usize, v: usize) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": format!("svc-{s}-{}", VERSIONS[v]),
            "namespace": NAMESPACE,
            "labels": { "app": format!("svc-{s}"), "version": VERSIONS[v] },
        },
        "spec": {
            "containers": [
                { "name": "app", "image": "app", "ports": [{ "containerPort": 8080 }] },
                { "name": "meshctl-proxy", "image": "envoy" },
            ],
        },
    })
}

fn ip(s: usize, v: usize) -> String {
    let n = s * VERSIONS.len() + v + 1;
    format!("10.{}.{}.{}", (n >> 16) as u8, (n >> 8) as u8, n as u8)
}

fn service(s: usize) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": { "name": format!("svc-{s}"), "namespace": NAMESPACE },
        "spec": { "selector": { "app": format!("svc-{s}") }, "ports": [{ "port": 80, "targetPort": 8080 }] },
    })
}

fn slice(s: usize) -> Value {
    let endpoints: Vec<Value> = (0..VERSIONS.len())
        .map(|v| {
            json!({
                "addresses": [ip(s, v)],
                "conditions": { "ready": true },
                "targetRef": { "kind": "Pod", "namespace": NAMESPACE, "name": format!("svc-{s}-{}", VERSIONS[v]) },
            })
        })
        .collect();
    json!({
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": format!("svc-{s}"),
            "namespace": NAMESPACE,
            "labels": { "kubernetes.io/service-name": format!("svc-{s}") },
        },
        "addressType": "IPv4",
        "ports": [{ "port": 8080 }],
        "endpoints": endpoints,
    })
}

fn api(client: &kube::Client, group: &str, version: &str, kind: &str) -> Api<DynamicObject> {
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
    Api::namespaced_with(client.clone(), NAMESPACE, &resource)
}

/// Stores the mesh: Services, their Pods (running, with an IP) and EndpointSlices, many
/// requests at a time.
async fn store(client: kube::Client, services: usize) {
    let pods = api(&client, "", "v1", "Pod");
    let namespace = json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": NAMESPACE } });
    let namespace_kind = ApiResource::from_gvk(&GroupVersionKind::gvk("", "v1", "Namespace"));
    let namespaces: Api<DynamicObject> = Api::all_with(client.clone(), &namespace_kind);
    namespaces.create(&PostParams::default(), &serde_json::from_value(namespace).unwrap()).await.unwrap();
    // No controller-manager makes the namespace's default ServiceAccount, which Pods run as.
    let account = json!({ "apiVersion": "v1", "kind": "ServiceAccount", "metadata": { "name": "default" } });
    let accounts = api(&client, "", "v1", "ServiceAccount");
    accounts.create(&PostParams::default(), &serde_json::from_value(account).unwrap()).await.unwrap();
    let semaphore = Arc::new(tokio::sync::Semaphore::new(32));
    let mut writes = tokio::task::JoinSet::new();
    for s in 0..services {
        let (client, pods, semaphore) = (client.clone(), pods.clone(), semaphore.clone());
        writes.spawn(async move {
            let _permit = semaphore.acquire().await.unwrap();
            let create = |api: Api<DynamicObject>, object: Value| async move {
                api.create(&PostParams::default(), &serde_json::from_value(object).unwrap()).await.unwrap()
            };
            create(api(&client, "", "v1", "Service"), service(s)).await;
            for (v, version) in VERSIONS.iter().enumerate() {
                let name = format!("svc-{s}-{version}");
                create(pods.clone(), pod(s, v)).await;
                let status = json!({ "status": {
                    "phase": "Running",
                    "podIP": ip(s, v),
                    "podIPs": [{ "ip": ip(s, v) }],
                    "conditions": [{ "type": "Ready", "status": "True" }],
                } });
                pods.patch_status(&name, &PatchParams::default(), &kube::api::Patch::Merge(status)).await.unwrap();
            }
            create(api(&client, "discovery.k8s.io", "v1", "EndpointSlice"), slice(s)).await;
        });
    }
    writes.join_all().await;
}

/// Service `s`'s DestinationRule (a subset per version) and VirtualService (80/15/5).
fn policy(s: usize) -> [Value; 2] {
    let host = format!("svc-{s}");
    let subsets: Vec<Value> = VERSIONS.iter().map(|v| json!({ "name": v, "labels": { "version": v } })).collect();
    let routes: Vec<Value> = VERSIONS
        .iter()
        .zip([80, 15, 5])
        .map(|(v, weight)| json!({ "destination": { "host": host, "subset": v }, "weight": weight }))
        .collect();
    [
        json!({
            "apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
            "metadata": { "name": host, "namespace": NAMESPACE },
            "spec": { "host": host, "subsets": subsets },
        }),
        json!({
            "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
            "metadata": { "name": host, "namespace": NAMESPACE },
            "spec": { "hosts": [host], "http": [{ "route": routes }] },
        }),
    ]
}

/// Stores every Service's DestinationRule and VirtualService, many requests at a time.
async fn store_policy(client: kube::Client, services: usize) {
    // The API server cannot reach the validator's Service without a cluster network: it lets
    // the writes through rather than refuse them. (What the validator judges is tested on the
    // real node.)
    let kind = ApiResource::from_gvk(&GroupVersionKind::gvk(
        "admissionregistration.k8s.io",
        "v1",
        "ValidatingWebhookConfiguration",
    ));
    let configurations: Api<DynamicObject> = Api::all_with(client.clone(), &kind);
    let ignore = json!({ "webhooks": [{ "name": meshctl::kube::admission::WEBHOOK, "failurePolicy": "Ignore" }] });
    let patch = kube::api::Patch::Strategic(ignore);
    configurations.patch(meshctl::kube::admission::CONFIGURATION, &PatchParams::default(), &patch).await.unwrap();
    // The API server takes up a changed configuration a moment later: a dry run tells when.
    let rules = api(&client, "networking.istio.io", "v1", "DestinationRule");
    let dry_run = PostParams { dry_run: true, ..PostParams::default() };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while let Err(e) = rules.create(&dry_run, &serde_json::from_value(policy(0)[0].clone()).unwrap()).await {
        assert!(std::time::Instant::now() < deadline, "the validator is still called: {e}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let semaphore = Arc::new(tokio::sync::Semaphore::new(32));
    let mut writes = tokio::task::JoinSet::new();
    for s in 0..services {
        let (client, semaphore) = (client.clone(), semaphore.clone());
        writes.spawn(async move {
            let _permit = semaphore.acquire().await.unwrap();
            for (object, kind) in policy(s).into_iter().zip(["DestinationRule", "VirtualService"]) {
                let api = api(&client, "networking.istio.io", "v1", kind);
                api.create(&PostParams::default(), &serde_json::from_value(object).unwrap()).await.unwrap();
            }
        });
    }
    writes.join_all().await;
}

/// Lists each kind the controller follows once. An API server builds a custom resource's
/// watch cache at the first request for it, and answers 429 (Retry-After: 1) until it is
/// ready: the first controller ever to start on a fresh API server waited a second for it,
/// which a cluster that has been up does not make it wait.
async fn warm(client: kube::Client) {
    let mut lists = tokio::task::JoinSet::new();
    for kind in meshctl::kube::install::CLUSTER_KINDS {
        let meta = kube::core::TypeMeta { api_version: kind.api_version().into(), kind: kind.name().into() };
        let gvk = GroupVersionKind::try_from(&meta).unwrap();
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &ApiResource::from_gvk(&gvk));
        lists.spawn(async move { api.list(&kube::api::ListParams::default().limit(1)).await.unwrap() });
    }
    lists.join_all().await;
}

/// The controller's last report, if its status port answers.
async fn report(status: SocketAddr) -> Option<Value> {
    let answer = meshctl::http::get(status, "localhost", "/debug/status", Duration::from_secs(5)).await.ok()?;
    serde_json::from_slice(&answer.body).ok()
}

struct Controller(Child);

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts a controller and times it to a report that covers every proxy; where its status
/// port is.
async fn first_snapshot(server: &KubeApiServer, proxies: usize) -> (Controller, SocketAddr, Duration) {
    let (xds, status) = (common::free_port(), common::free_port());
    let status_addr = SocketAddr::from(([127, 0, 0, 1], status));
    let kubeconfig = server.kubeconfig();
    let start = Instant::now();
    let controller = Controller(
        Command::new(env!("CARGO_BIN_EXE_meshctl"))
            .args(["controller", "--kubernetes", "--kubeconfig", kubeconfig.to_str().unwrap()])
            .args(["--xds-address", &format!("127.0.0.1:{xds}"), "--status-address", &status_addr.to_string()])
            .args(["--system-namespace", meshctl::kube::install::NAMESPACE])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("meshctl runs"),
    );
    let deadline = start + Duration::from_secs(300);
    loop {
        if let Some(report) = report(status_addr).await
            && report["proxies"].as_array().is_some_and(|p| p.len() == proxies)
        {
            return (controller, status_addr, start.elapsed());
        }
        assert!(Instant::now() < deadline, "no full snapshot within 300 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What `pids` have spent of the CPU, together, in seconds.
fn cpu(pids: &[u32]) -> f64 {
    pids.iter().map(|pid| common::memory::cpu_seconds(&pid.to_string())).sum()
}

/// Over `idle`, with nothing changing: the API server's and etcd's CPU without a controller,
/// then a synced controller's, theirs beside it, and the requests it made, by verb and resource.
fn idle_cost(
    runtime: &tokio::runtime::Runtime,
    server: &KubeApiServer,
    client: kube::Client,
    proxies: usize,
    idle: Duration,
) {
    let server_pids = server.pids();
    let before = cpu(&server_pids);
    std::thread::sleep(idle);
    let baseline = cpu(&server_pids) - before;
    let (controller, status, _) = runtime.block_on(first_snapshot(server, proxies));
    // The first pass's writes (statuses, the ingress gateway's objects) are done by then.
    std::thread::sleep(Duration::from_secs(5));
    let pid = [controller.0.id()];
    let seen = server.requests().len();
    let (controller_before, server_before) = (cpu(&pid), cpu(&server_pids));
    std::thread::sleep(idle);
    let (spent, server_spent) = (cpu(&pid) - controller_before, cpu(&server_pids) - server_before);
    println!(
        "idle for {idle:?}: controller {spent:.2} CPU-s; API server and etcd {server_spent:.2} CPU-s ({baseline:.2} without a controller)"
    );
    println!("the controller's requests: {}", counted(&server.requests()[seen..]));
    changes(runtime, server, client, status, if idle > Duration::from_secs(5) { 300 } else { 2 });
}

/// Requests by verb and resource, but the API server's own to itself.
fn counted(requests: &[Value]) -> String {
    let mut counted: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for r in requests.iter().filter(|r| r["user"]["username"] != "system:apiserver") {
        let what = format!(
            "{} {}",
            r["verb"].as_str().unwrap_or_default(),
            r["objectRef"]["resource"].as_str().unwrap_or_default()
        );
        *counted.entry(what).or_default() += 1;
    }
    format!("{counted:?}")
}

/// `count` changes of one VirtualService's weights, one at a time: each timed from its write
/// to the controller's report of a configuration built from it, and every request made meanwhile
/// (the bench's own are the patches).
fn changes(
    runtime: &tokio::runtime::Runtime,
    server: &KubeApiServer,
    client: kube::Client,
    status: SocketAddr,
    count: usize,
) {
    let routes = api(&client, "networking.istio.io", "v1", "VirtualService");
    let seen = server.requests().len();
    let mut times = Vec::new();
    for i in 0..count {
        let weight = 80 - (i % 2) as u32;
        let patch = json!({ "spec": { "http": [{ "route": [
            { "destination": { "host": "svc-0", "subset": "v1" }, "weight": weight },
            { "destination": { "host": "svc-0", "subset": "v2" }, "weight": 100 - weight },
        ]}]}});
        let start = Instant::now();
        let written =
            runtime.block_on(routes.patch("svc-0", &PatchParams::default(), &kube::api::Patch::Merge(patch))).unwrap();
        let written = Revision::of_kinds([(Kind::VirtualService, written_at(&written.metadata).unwrap())]);
        let deadline = start + Duration::from_secs(30);
        loop {
            let report = runtime.block_on(report(status));
            let revision = report.and_then(|r| serde_json::from_value::<Revision>(r["revision"].clone()).ok());
            if revision.is_some_and(|r| r.holds(&written)) {
                break;
            }
            assert!(Instant::now() < deadline, "change {i} was not configured within 30 s");
            // Each report of 3,000 proxies is serialized for the asking: asked too often, the
            // bench would be timing its own load on the controller.
            std::thread::sleep(Duration::from_millis(20));
        }
        times.push(start.elapsed());
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "one VirtualService changed, write to a configuration built from it: median {:.1} ms, p99 {:.1} ms ({count} changes)",
        ms(times[times.len() / 2]),
        ms(times[((times.len() - 1) as f64 * 0.99).round() as usize])
    );
    println!("requests meanwhile: {}", counted(&server.requests()[seen..]));
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let services: usize = match std::env::var("MESHCTL_BENCH_SERVICES") {
        Ok(n) => n.parse().expect("MESHCTL_BENCH_SERVICES is a number"),
        Err(_) if bench => 1000,
        Err(_) => 5,
    };
    let server = KubeApiServer::start();
    let kubeconfig = server.kubeconfig();
    let install = common::meshctl_in(&["install", "--kubeconfig", kubeconfig.to_str().unwrap()], "", &[]);
    assert_eq!(install.code, 0, "{}", install.stderr);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = runtime.block_on(async {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let config = kube::Config::from_custom_kubeconfig(
            kube::config::Kubeconfig::read_from(&kubeconfig).unwrap(),
            &kube::config::KubeConfigOptions::default(),
        )
        .await
        .unwrap();
        kube::Client::try_from(config).unwrap()
    });
    let stored = Instant::now();
    runtime.block_on(store(client.clone(), services));
    let proxies = services * VERSIONS.len();
    if !bench {
        runtime.block_on(first_snapshot(&server, proxies));
        runtime.block_on(store_policy(client.clone(), services));
        idle_cost(&runtime, &server, client, proxies, Duration::from_secs(1));
        return;
    }
    println!(
        "stored {services} Services, {proxies} Pods, {services} EndpointSlices in {:.1} s",
        stored.elapsed().as_secs_f64()
    );
    runtime.block_on(warm(client.clone()));
    let mut runs: Vec<(Duration, f64)> = (0..3)
        .map(|_| {
            let (controller, _, time) = runtime.block_on(first_snapshot(&server, proxies));
            (time, common::memory::peak_mb(&controller.0.id().to_string()))
        })
        .collect();
    runs.sort_by_key(|(time, _)| *time);
    let times: Vec<String> = runs.iter().map(|(t, _)| format!("{:.2} s", t.as_secs_f64())).collect();
    println!("controller start to a report for every proxy: {} (3 starts, fastest first)", times.join(", "));
    let peak = runs.iter().map(|(_, mb)| *mb).fold(0.0, f64::max);
    println!("controller peak memory: {peak:.0} MB");
    let stored = Instant::now();
    runtime.block_on(store_policy(client.clone(), services));
    println!("stored a DestinationRule and a VirtualService for each in {:.1} s", stored.elapsed().as_secs_f64());
    idle_cost(&runtime, &server, client, proxies, Duration::from_secs(30));
}
