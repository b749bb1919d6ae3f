//! `meshctl top` on a real local mesh: the figures agree with traffic sent at a known rate,
//! latency and error rate.

use super::common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::local_mesh::LocalMesh;
use serde_json::Value;

/// profile answers after 100 ms and fails every fifth request; the route does not retry, so
/// what profile served is exactly what was sent.
fn mesh_yaml() -> String {
    let profile = common::demo_workload(
        "profile-v1",
        "profile",
        Some("v1"),
        &["--name", "profile", "--latency", "100ms", "--error-rate", "20"],
    );
    format!("{profile}---\n{ROUTE}")
}

const ROUTE: &str = "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: profile}
spec:
  hosts: [profile]
  http:
  - route: [{destination: {host: profile}}]
    retries: {attempts: 0}
";

const SENT: usize = 50;

/// `top --once -o json` over a 3 s window by `by`, started now and read with `read`.
fn top(mesh: &LocalMesh, by: &str) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_meshctl"))
        .args(["top", "--once", "-o", "json", "--interval", "3s", "--outbound", "--by", by])
        .env("MESHCTL_STATE_DIR", mesh.state_dir())
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn read(child: std::process::Child) -> Value {
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn top_reports_the_traffic_that_was_sent() {
    let mesh = LocalMesh::install();
    assert_eq!(mesh.meshctl(&["apply", "-f", "-"], &mesh_yaml()).code, 0);
    mesh.wait_healthy();

    // Windows of 3 s, by version and by route; the requests go out well inside them.
    let (by_service, by_route) = (top(&mesh, "service"), top(&mesh, "route"));
    std::thread::sleep(Duration::from_millis(700));
    let answers = mesh.get_many("profile", SENT);
    let failed = answers.iter().filter(|(status, ..)| *status == 503).count();
    assert_eq!(failed, SENT / 5, "the demo app fails every fifth request");
    let (window, routes) = (read(by_service), read(by_route));
    let mut waited: Vec<f64> = answers.iter().map(|(.., elapsed)| elapsed.as_secs_f64() * 1000.0).collect();
    waited.sort_by(f64::total_cmp);
    let client_quantile = |q: f64| waited[((q * waited.len() as f64).ceil() as usize).clamp(1, waited.len()) - 1];

    let seconds = window["window_seconds"].as_f64().unwrap();
    assert!((2.9..4.0).contains(&seconds), "{window}");
    let row = |direction: &str| {
        window["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["service"] == "profile" && r["direction"] == direction)
            .cloned()
            .unwrap_or_else(|| panic!("no {direction} row for profile: {window}"))
    };
    for direction in ["inbound", "outbound"] {
        let r = row(direction);
        assert_eq!(r["requests"], SENT, "{direction}: {r}");
        assert_eq!(r["success_rate"], 0.8, "{direction}: {r}");
        let rps = r["rps"].as_f64().unwrap();
        assert!((rps - SENT as f64 / seconds).abs() < 0.01, "{direction}: {r}");
        // Quantiles are as exact as the histogram's buckets. A proxy never sees more than the
        // client waited, nor less than the app's 100 ms; so each lies from the bucket below
        // 100 ms to the bucket boundary above what the client measured at the same quantile.
        for (q, at) in [("p50_ms", 0.5), ("p99_ms", 0.99)] {
            let v = r[q].as_f64().unwrap();
            let ceiling = bucket_ceiling(client_quantile(at));
            assert!((75.0..=ceiling).contains(&v), "{direction}: {q} {v} outside 75..={ceiling}: {r}");
        }
    }
    assert_eq!(row("inbound")["version"], "v1");

    // The VirtualService's only rule, unnamed, is `http0`.
    let route = routes["rows"].as_array().unwrap().iter().find(|r| r["service"] == "profile").cloned().unwrap();
    assert_eq!(
        (&route["route"], &route["requests"], &route["success_rate"]),
        (&Value::from("http0"), &Value::from(SENT), &Value::from(0.8)),
        "{routes}"
    );
    assert!(window["unreachable"].as_array().unwrap().is_empty(), "{window}");
}

/// The smallest histogram bucket boundary at or above `ms`.
fn bucket_ceiling(ms: f64) -> f64 {
    meshctl::translate::LATENCY_BUCKETS_MS.into_iter().find(|&b| b >= ms).unwrap_or(f64::INFINITY)
}

#[test]
fn top_without_a_mesh_is_an_environment_error() {
    let dir = tempfile::tempdir().unwrap();
    let run = common::meshctl_in(&["top", "--once"], "", &[("MESHCTL_STATE_DIR", dir.path().to_str().unwrap())]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let run = common::meshctl(&["top", "--interval", "0s"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
}

/// With retries on, as the README says: outbound and route rows count the requests callers
/// made, by how they ended (a request retried to success is one success); inbound rows count
/// what the workload served, every attempt.
#[test]
fn with_retries_on_callers_rows_count_requests_and_the_workloads_rows_count_attempts() {
    let mesh = LocalMesh::install();
    let retrying = ROUTE.replace("retries: {attempts: 0}", "retries: {attempts: 2, retryOn: 5xx}");
    let profile =
        common::demo_workload("profile-v1", "profile", Some("v1"), &["--name", "profile", "--error-rate", "20"]);
    assert_eq!(mesh.meshctl(&["apply", "-f", "-"], &format!("{profile}---\n{retrying}")).code, 0);
    mesh.wait_healthy();
    let (by_service, by_route) = (top(&mesh, "service"), top(&mesh, "route"));
    std::thread::sleep(Duration::from_millis(700));
    // One at a time: the app fails every fifth request it counts, so a retry, counted next,
    // succeeds. (Concurrent requests' retries could land on the next failing counts.)
    let statuses: Vec<u16> = (0..SENT).map(|_| mesh.get("profile").0).collect();
    assert!(statuses.iter().all(|status| *status == 200), "every failure is retried to a success: {statuses:?}");
    let (window, routes) = (read(by_service), read(by_route));
    let row = |rows: &Value, direction: &str| {
        rows["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["service"] == "profile" && r["direction"] == direction)
            .cloned()
            .unwrap_or_else(|| panic!("no {direction} row for profile: {rows}"))
    };
    let (inbound, outbound, route) = (row(&window, "inbound"), row(&window, "outbound"), row(&routes, "outbound"));
    let served = inbound["requests"].as_u64().unwrap();
    assert!(served > SENT as u64, "the app served the retries too: {inbound}");
    // The demo app fails every fifth request it serves, so each failure was retried once, to
    // a success: every failed attempt is one served request more than callers made.
    let failed = served - (inbound["success_rate"].as_f64().unwrap() * served as f64).round() as u64;
    assert!(failed >= SENT as u64 / 5, "{inbound}");
    assert_eq!(served, SENT as u64 + failed, "{inbound}");
    for r in [&outbound, &route] {
        assert_eq!((&r["requests"], &r["success_rate"]), (&Value::from(SENT), &Value::from(1.0)), "{r}");
    }
}

/// `db` serves HTTP on 80 and the demo app's TCP echo on 5432; `client` is where calls start.
fn tcp_mesh() -> String {
    [
        common::demo_workload_serving("db", "db", Some("v1"), &[], &[("tcp", 5432)]),
        common::demo_workload("client", "client", None, &[]),
    ]
    .join("---\n")
}

#[test]
fn top_reports_a_tcp_services_connections_and_bytes() {
    use std::io::Write;
    let mesh = LocalMesh::install();
    assert_eq!(mesh.meshctl(&["apply", "-f", "-"], &tcp_mesh()).code, 0);
    mesh.wait_healthy();
    let outbound = common::local_mesh::local(&mesh.instance("client")["ports"]["outbound"]);

    let window = top(&mesh, "service");
    let table = Command::new(env!("CARGO_BIN_EXE_meshctl"))
        .args(["top", "--once", "--interval", "3s"])
        .env("MESHCTL_STATE_DIR", mesh.state_dir())
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    let connections = 20;
    for _ in 0..connections {
        let mut stream = common::local_mesh::tunnel(outbound, "db:5432").unwrap();
        stream.write_all(b"ping\n").unwrap();
        assert_eq!(common::local_mesh::first_line(&mut stream).unwrap(), "db v1\n");
        assert_eq!(common::local_mesh::first_line(&mut stream).unwrap(), "ping\n");
    }
    let window = read(window);
    let seconds = window["window_seconds"].as_f64().unwrap();
    let row = |direction: &str| {
        let rows = window["rows"].as_array().unwrap();
        rows.iter().find(|r| r["service"] == "db" && r["direction"] == direction).cloned().unwrap_or_else(|| {
            panic!("no {direction} row for db: {window}");
        })
    };
    // (The client's sidecar also counts each tunnel as the request that opened it.)
    assert_eq!(row("inbound")["requests"], 0, "{}", row("inbound"));
    for direction in ["inbound", "outbound"] {
        let r = row(direction);
        assert_eq!(r["connections"], connections, "{direction}: {r}");
        let cps = r["cps"].as_f64().unwrap();
        assert!((cps - connections as f64 / seconds).abs() < 0.01, "{direction}: {r}");
    }
    // What db's sidecar handed over each way: "ping\n" in, its greeting and the echo out.
    let bytes = |field: &str| (row("inbound")[field].as_f64().unwrap() * seconds).round();
    assert_eq!((bytes("bytes_in_per_second"), bytes("bytes_out_per_second")), (100.0, 220.0), "{}", row("inbound"));

    // The table shows them in a TCP service's columns.
    let table = String::from_utf8(table.wait_with_output().unwrap().stdout).unwrap();
    let db = table.lines().find(|l| l.starts_with("db ")).unwrap_or_default();
    assert!(table.starts_with("SERVICE") && table.lines().next().unwrap().contains("CONN/S"), "{table}");
    assert!(db.contains("B/s"), "{table}");

    // The dashboard's graph has the edge, with its connections and bytes.
    let dashboard =
        common::dashboard::Dashboard::start(&[], &[("MESHCTL_STATE_DIR", mesh.state_dir().to_str().unwrap())]);
    common::poll("the graph shows client's connections to db", Duration::from_secs(30), || {
        let mut stream = common::local_mesh::tunnel(outbound, "db:5432").unwrap();
        stream.write_all(b"ping\n").unwrap();
        let _ = common::local_mesh::first_line(&mut stream);
        let graph = dashboard.get("/api/graph");
        common::dashboard::edge(&graph, "default/client", "default/db/v1")
            .is_some_and(|e| e["cps"].as_f64() > Some(0.0) && e["bytes_per_second"].as_f64() > Some(0.0))
    });
}
