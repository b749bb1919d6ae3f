//! How fast a policy change reaches the proxies: a local mesh of 21 proxies (20 sidecars and
//! the gateway), 100 weight changes to one service, each timed from `meshctl apply`
//! returning to every proxy having ACKed it (what `apply --wait` waits for) and to the
//! gateway routing by the new weights (the first request answered by the version the change
//! sends all traffic to). Run with `cargo bench --bench converge`; under `cargo test` it does
//! nothing.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::local_mesh::LocalMesh;
use serde_json::Value;

const CHANGES: usize = 100;
/// Sidecars besides profile's two.
const FILLERS: usize = 18;

fn mesh_yaml() -> String {
    let mut yaml = String::new();
    for version in ["v1", "v2"] {
        yaml += &common::demo_workload(&format!("profile-{version}"), "profile", Some(version), &["--name", "profile"]);
        yaml += "---\n";
    }
    for i in 0..FILLERS {
        yaml +=
            &common::demo_workload(&format!("filler-{i}"), &format!("filler-{i}"), Some("v1"), &["--name", "filler"]);
        yaml += "---\n";
    }
    yaml + "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: profile}\nspec:\n  host: profile\n  subsets:\n  - {name: v1, labels: {version: v1}}\n  - {name: v2, labels: {version: v2}}\n"
}

/// The VirtualService sending every request to `to`.
fn all_to(to: &str) -> String {
    let weight = |v: &str| if v == to { 100 } else { 0 };
    format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: profile}}\nspec:\n  hosts: [profile]\n  http:\n  - route:\n    - {{destination: {{host: profile, subset: v1}}, weight: {}}}\n    - {{destination: {{host: profile, subset: v2}}, weight: {}}}\n",
        weight("v1"),
        weight("v2")
    )
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let mesh = LocalMesh::install();
    assert_eq!(mesh.meshctl(&["apply", "-f", "-"], &mesh_yaml()).code, 0);
    assert_eq!(mesh.meshctl(&["apply", "-f", "-", "--wait"], &all_to("v1")).code, 0);
    mesh.wait_healthy();
    let proxies = mesh.status()["proxies"].as_array().unwrap().len();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let gateway = std::net::SocketAddr::from(([127, 0, 0, 1], mesh.gateway));
    let answered_by = |version: &str| {
        runtime
            .block_on(meshctl::http::get(gateway, "profile", "/", Duration::from_secs(5)))
            .ok()
            .and_then(|r| serde_json::from_slice::<Value>(&r.body).ok())
            .is_some_and(|body| body["version"] == version)
    };
    let (mut acked, mut routed) = (Vec::new(), Vec::new());
    for i in 0..CHANGES {
        let to = if i % 2 == 0 { "v2" } else { "v1" };
        assert_eq!(mesh.meshctl(&["apply", "-f", "-"], &all_to(to)).code, 0);
        let applied = Instant::now();
        let revision = mesh.store_revision();
        let (mut ack, mut route) = (None, None);
        while ack.is_none() || route.is_none() {
            if ack.is_none() && mesh.proxies_run(revision) {
                ack = Some(applied.elapsed());
            }
            if route.is_none() && answered_by(to) {
                route = Some(applied.elapsed());
            }
            assert!(applied.elapsed() < Duration::from_secs(30), "change {i} did not converge");
        }
        acked.push(ack.unwrap().as_secs_f64() * 1000.0);
        routed.push(route.unwrap().as_secs_f64() * 1000.0);
    }
    println!("convergence: {proxies} proxies, {CHANGES} weight changes, ms from `apply` returning");
    for (what, times) in [("every proxy ACKed", &mut acked), ("gateway routes by it", &mut routed)] {
        times.sort_by(f64::total_cmp);
        println!(
            "  {what:<22} median {:>6.1} ms   p99 {:>6.1} ms   max {:>6.1} ms",
            quantile(times, 0.5),
            quantile(times, 0.99),
            times[times.len() - 1]
        );
    }
}
