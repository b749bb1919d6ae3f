//! Blast radius of a bad canary: how many failed requests users receive before it is rolled
//! back, with the sequential test and with threshold-only gates, on a real local mesh at a
//! fixed request rate; and how often an A/A canary (identical to stable) is rolled back.
//! About 16 minutes of real traffic: run with `cargo bench --bench canary`; under `cargo test`
//! it does nothing.

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::local_mesh::LocalMesh;
use serde_json::Value;

/// Requests per second sent through the gateway to profile.
const RATE: u64 = 100;
const RUNS: usize = 3;
const AA_RUNS: usize = 100;

fn workloads(v1_errors: &str, v3_errors: &str) -> String {
    let workload = |version: &str, errors: &str| {
        format!(
            "---\napiVersion: meshctl.io/v1alpha1\nkind: Workload\nmetadata: {{name: profile-{version}}}\nspec: {{service: profile, labels: {{version: {version}}}, command: [meshctl, demo-app], args: [--name, profile, --error-rate, '{errors}']}}\n"
        )
    };
    format!(
        "{}{}---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {{name: profile}}\nspec:\n  host: profile\n  subsets:\n  - {{name: v1, labels: {{version: v1}}}}\n  - {{name: v3, labels: {{version: v3}}}}\n---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: profile}}\nspec:\n  hosts: [profile]\n  http:\n  - route:\n    - destination: {{host: profile, subset: v1}}\n      weight: 100\n    - destination: {{host: profile, subset: v3}}\n      weight: 0\n    retries: {{attempts: 0}}\n",
        workload("v1", v1_errors),
        workload("v3", v3_errors)
    )
}

fn canary(interval: &str, sequential: bool) -> String {
    format!(
        "apiVersion: meshctl.io/v1alpha1\nkind: Canary\nmetadata: {{name: profile}}\nspec:\n  service: profile\n  stable: v1\n  canary: v3\n  steps: [10, 50, 100]\n  interval: {interval}\n  gates: {{minSuccessRate: 99, minRequests: 20, sequentialTest: {sequential}}}\n"
    )
}

/// Sends RATE requests a second until stopped; counts the failed ones.
fn load(gateway: u16, failed: Arc<AtomicUsize>, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        runtime.block_on(async move {
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], gateway));
            let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / RATE));
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                let failed = failed.clone();
                tokio::spawn(async move {
                    let ok = meshctl::http::get(addr, "profile", "/", Duration::from_secs(5))
                        .await
                        .is_ok_and(|r| r.status == 200);
                    failed.fetch_add(usize::from(!ok), Ordering::Relaxed);
                });
            }
        });
    })
}

/// Runs one rollout to its end: (phase, failed requests meanwhile, seconds).
fn rollout(mesh: &LocalMesh, failed: &AtomicUsize, canary_yaml: &str, base: &str) -> (String, usize, f64) {
    assert!(mesh.meshctl(&["delete", "canary", "profile"], "").code <= 1);
    assert_eq!(mesh.meshctl(&["apply", "-f", "-"], base).code, 0);
    mesh.wait_healthy();
    let before = failed.load(Ordering::Relaxed);
    let start = Instant::now();
    assert_eq!(mesh.meshctl(&["apply", "-f", "-"], canary_yaml).code, 0);
    let mut phase = String::new();
    common::poll("the rollout ends", Duration::from_secs(300), || {
        let run = mesh.meshctl(&["get", "canary", "profile", "-o", "json"], "");
        phase = serde_json::from_str::<Value>(&run.stdout)
            .ok()
            .and_then(|c| c["status"]["phase"].as_str().map(String::from))
            .unwrap_or_default();
        matches!(phase.as_str(), "Promoted" | "RolledBack" | "Failed")
    });
    (phase, failed.load(Ordering::Relaxed) - before, start.elapsed().as_secs_f64())
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let mesh = LocalMesh::install();
    assert_eq!(mesh.meshctl(&["apply", "-f", "-"], &workloads("0", "0")).code, 0);
    mesh.wait_healthy();
    let failed = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let traffic = load(mesh.gateway, failed.clone(), stop.clone());

    println!(
        "canary blast radius: {RATE} requests/s through the gateway, steps 10/50/100, interval 10s, minSuccessRate 99%, failureThreshold 1"
    );
    for errors in ["100", "10"] {
        let base = workloads("0", errors);
        for sequential in [true, false] {
            let mut counts: Vec<(usize, f64)> = (0..RUNS)
                .map(|_| {
                    let (phase, failures, seconds) = rollout(&mesh, &failed, &canary("10s", sequential), &base);
                    assert_eq!(phase, "RolledBack");
                    (failures, seconds)
                })
                .collect();
            counts.sort_by_key(|c| c.0);
            let (median, seconds) = counts[RUNS / 2];
            let gates = if sequential { "sequential test + gates" } else { "threshold-only gates" };
            println!(
                "  canary failing {errors:>3}%, {gates:<24}: median {median:>4} failed requests, rolled back after {seconds:.1}s (runs: {:?})",
                counts.iter().map(|c| c.0).collect::<Vec<_>>()
            );
        }
    }
    // A/A: stable and canary fail the same 0.5% of requests.
    let base = workloads("0.5", "0.5");
    let rollbacks =
        (0..AA_RUNS).filter(|_| rollout(&mesh, &failed, &canary("2s", true), &base).0 != "Promoted").count();
    println!("  A/A (both versions fail 0.5%), interval 2s: {rollbacks} of {AA_RUNS} rollouts not promoted");
    stop.store(true, Ordering::Relaxed);
    traffic.join().unwrap();
}
