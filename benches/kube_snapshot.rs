//! The controller's start on a cluster: with 1,000 Services stored on the real kube-apiserver,
//! each with three mesh Pods (v1, v2, v3) and an EndpointSlice listing them, the time from
//! `meshctl controller --kubernetes` starting to its status port reporting every proxy (lists,
//! reflectors, the registry; no proxy connects, so none is configured), and the controller's
//! peak memory. Then, with a DestinationRule and a
//! VirtualService stored for each Service, what a synced controller costs while nothing
//! changes: its CPU time, the API server's and etcd's beside theirs without a controller, and
//! the requests it makes (from the audit log); and then what one VirtualService change costs:
//! the time from its write to a configuration built from it, and the requests meanwhile. Run with `cargo bench --bench kube_snapshot`
//! (`MESHCTL_BENCH_SERVICES=N` for another size); under `cargo test --all-targets` it does the
//! same with 5 services once and a short idle window, as a smoke test.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "shared/kube_mesh.rs"]
mod kube_mesh;

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::kube::KubeApiServer;
use kube::api::PatchParams;
use kube_mesh::{Controller, VERSIONS, api, report, start_controller};
use meshctl::api::Kind;
use meshctl::store::{Revision, written_at};
use serde_json::json;

/// Starts a controller and times it to a report that covers every proxy; where its status
/// port is.
async fn first_snapshot(server: &KubeApiServer, proxies: usize) -> (Controller, Duration) {
    let start = Instant::now();
    let controller = start_controller(&server.kubeconfig(), Stdio::inherit());
    let deadline = start + Duration::from_secs(300);
    loop {
        if let Some(report) = report(controller.status).await
            && report.proxies.len() == proxies
        {
            return (controller, start.elapsed());
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
    let (controller, _) = runtime.block_on(first_snapshot(server, proxies));
    // The first pass's writes (statuses, the ingress gateway's objects) are done by then.
    std::thread::sleep(Duration::from_secs(5));
    let pid = [controller.process.0.id()];
    let seen = server.requests().len();
    let (controller_before, server_before) = (cpu(&pid), cpu(&server_pids));
    std::thread::sleep(idle);
    let (spent, server_spent) = (cpu(&pid) - controller_before, cpu(&server_pids) - server_before);
    println!(
        "idle for {idle:?}: controller {spent:.2} CPU-s; API server and etcd {server_spent:.2} CPU-s ({baseline:.2} without a controller)"
    );
    let requests = server.requests();
    println!("the controller's requests: {:?}", common::kube::counted(&common::kube::not_the_tests(&requests[seen..])));
    changes(runtime, server, client, controller.status, if idle > Duration::from_secs(5) { 300 } else { 2 });
}

/// `count` changes of one VirtualService's weights, one at a time: each timed from its write
/// to the controller's report of a configuration built from it, and the controller's requests
/// meanwhile.
fn changes(
    runtime: &tokio::runtime::Runtime,
    server: &KubeApiServer,
    client: kube::Client,
    status: SocketAddr,
    count: usize,
) {
    let routes = api(&client, "networking.istio.io", "v1", "VirtualService", true);
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
            if report.is_some_and(|r| r.revision.holds(&written)) {
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
    let requests = server.requests();
    println!(
        "the controller's requests meanwhile: {:?}",
        common::kube::counted(&common::kube::not_the_tests(&requests[seen..]))
    );
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
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = runtime.block_on(common::kube::client(&kubeconfig));
    runtime.block_on(kube_mesh::install_meshctl(&client, &kubeconfig));
    let stored = Instant::now();
    runtime.block_on(kube_mesh::store_services(&client, services));
    let proxies = services * VERSIONS.len();
    if !bench {
        runtime.block_on(first_snapshot(&server, proxies));
        runtime.block_on(kube_mesh::store_policy(&client, services));
        idle_cost(&runtime, &server, client, proxies, Duration::from_secs(1));
        return;
    }
    println!(
        "stored {services} Services, {proxies} Pods, {services} EndpointSlices in {:.1} s",
        stored.elapsed().as_secs_f64()
    );
    runtime.block_on(kube_mesh::warm(&client));
    let mut runs: Vec<(Duration, f64)> = (0..3)
        .map(|_| {
            let (controller, time) = runtime.block_on(first_snapshot(&server, proxies));
            (time, common::memory::peak_mb(&controller.process.0.id().to_string()))
        })
        .collect();
    runs.sort_by_key(|(time, _)| *time);
    let times: Vec<String> = runs.iter().map(|(t, _)| format!("{:.2} s", t.as_secs_f64())).collect();
    println!("controller start to a report for every proxy: {} (3 starts, fastest first)", times.join(", "));
    let peak = runs.iter().map(|(_, mb)| *mb).fold(0.0, f64::max);
    println!("controller peak memory: {peak:.0} MB");
    let stored = Instant::now();
    runtime.block_on(kube_mesh::store_policy(&client, services));
    println!("stored a DestinationRule and a VirtualService for each in {:.1} s", stored.elapsed().as_secs_f64());
    idle_cost(&runtime, &server, client, proxies, Duration::from_secs(30));
}
