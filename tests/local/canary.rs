//! Canary rollouts on a real local mesh: applied as a Canary resource, driven by the
//! controller through the metrics of real Envoys, promoted or rolled back by the gates.

use super::common;

use std::time::Duration;

use common::local_mesh::LocalMesh;
use serde_json::Value;

/// profile v1 (stable) and v3 (the canary, with `v3_args`), their subsets, and a route that
/// does not retry, so every failure the canary causes reaches the client.
fn mesh_yaml(v3_args: &str) -> String {
    format!(
        "apiVersion: meshctl.io/v1alpha1
kind: Workload
metadata: {{name: profile-v1}}
spec: {{service: profile, labels: {{version: v1}}, command: [meshctl, demo-app], args: [--name, profile]}}
---
apiVersion: meshctl.io/v1alpha1
kind: Workload
metadata: {{name: profile-v3}}
spec: {{service: profile, labels: {{version: v3}}, command: [meshctl, demo-app], args: [--name, profile{v3_args}]}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: profile}}
spec:
  host: profile
  subsets:
  - {{name: v1, labels: {{version: v1}}}}
  - {{name: v3, labels: {{version: v3}}}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: profile}}
spec:
  hosts: [profile]
  http:
  - route:
    - destination: {{host: profile, subset: v1}}
    retries: {{attempts: 0}}
"
    )
}

const CANARY: &str = "apiVersion: meshctl.io/v1alpha1
kind: Canary
metadata: {name: profile}
spec:
  service: profile
  stable: v1
  canary: v3
  steps: [10, 50, 100]
  interval: 2s
  gates: {minSuccessRate: 99, maxP99: 500ms, minRequests: 5}
";

fn canary_status(mesh: &LocalMesh) -> Value {
    let run = mesh.meshctl(&["get", "canary", "profile", "-o", "json"], "");
    serde_json::from_str::<Value>(&run.stdout).map(|c| c["status"].clone()).unwrap_or(Value::Null)
}

fn wait_for_phase(mesh: &LocalMesh, phases: &[&str], deadline: Duration) -> Value {
    let start = std::time::Instant::now();
    loop {
        let last = canary_status(mesh);
        if phases.iter().any(|p| last["phase"] == *p) {
            return last;
        }
        if start.elapsed() > deadline {
            let proxies = mesh.meshctl(&["proxy-status"], "").stdout;
            panic!("the canary did not reach {phases:?} within {deadline:?}: {last}\n{proxies}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A local mesh whose v3 runs with `v3_args`, and CANARY applied to it under load: the mesh,
/// the Canary's final status, and the requests sent and failed meanwhile.
fn applied_rollout(v3_args: &str) -> (LocalMesh, Value, usize, usize) {
    let mesh = LocalMesh::install();
    assert_eq!(mesh.meshctl(&["apply", "-f", "-"], &mesh_yaml(v3_args)).code, 0);
    mesh.wait_healthy();
    let traffic = mesh.load("profile");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(mesh.meshctl(&["apply", "-f", "-"], CANARY).code, 0);
    let status = wait_for_phase(&mesh, &["Promoted", "RolledBack", "Failed"], Duration::from_secs(60));
    let (sent, failed) = traffic.stop();
    (mesh, status, sent, failed)
}

#[test]
fn a_healthy_canary_is_promoted_step_by_step_without_a_failed_request() {
    let (mesh, status, sent, failed) = applied_rollout("");
    assert_eq!(status["phase"], "Promoted", "{status}");
    // Settled once every proxy runs the final weights, for `kubectl wait`-style callers.
    let mut settled = Value::Null;
    let promoted = common::within(Duration::from_secs(10), || {
        settled = canary_status(&mesh);
        settled["conditions"][0]["status"] == "True"
    });
    assert!(promoted, "{settled:#}");
    assert_eq!(settled["conditions"][0]["type"], "Promoted", "{settled:#}");
    assert_eq!(settled["conditions"][0]["reason"], "Promoted", "{settled:#}");
    assert!(settled["observedGeneration"].as_i64().is_some(), "{settled:#}");
    let weights: Vec<u64> =
        status["evaluations"].as_array().unwrap().iter().map(|e| e["weight"].as_u64().unwrap()).collect();
    assert_eq!(weights, [10, 50, 100], "{status}");
    assert_eq!(failed, 0, "{failed} of {sent} requests failed during the rollout");
    // All traffic is on v3 once every proxy has the last weights.
    mesh.wait_healthy();
    for _ in 0..10 {
        assert_eq!(mesh.get("profile").1["version"], "v3");
    }
}

#[test]
fn a_canary_failing_half_its_requests_is_rolled_back_to_stable() {
    let (mesh, status, sent, failed) = applied_rollout(", --error-rate, '50'");
    assert_eq!(status["phase"], "RolledBack", "{status}");
    assert_eq!(status["weight"], 0);
    assert!(status["message"].as_str().unwrap().contains("sequential test"), "{status}");
    // Only the few requests the canary saw at 10% failed before it was rolled back.
    assert!(failed > 0 && failed < sent / 10, "{failed} of {sent} failed");
    mesh.wait_healthy();
    for _ in 0..20 {
        assert_eq!(mesh.get("profile").1["version"], "v1");
    }
}

#[test]
fn canary_start_watches_to_the_end_and_says_how_it_ended() {
    let mesh = LocalMesh::install();
    assert_eq!(mesh.meshctl(&["apply", "-f", "-"], &mesh_yaml("")).code, 0);
    mesh.wait_healthy();
    let traffic = mesh.load("profile");
    let start =
        ["canary", "start", "profile", "--to", "v3", "--steps", "10,50,100", "--interval", "2s", "--min-requests", "5"];
    let run = mesh.meshctl(&start, "");
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("profile: promoted, v3 takes all traffic"), "{}", run.stdout);
    // The stable subset was inferred from the routes: v1.
    let status: Value =
        serde_json::from_str(&mesh.meshctl(&["canary", "status", "profile", "-o", "json"], "").stdout).unwrap();
    assert_eq!((status["phase"].as_str(), status["weight"].as_u64()), (Some("Promoted"), Some(100)), "{status}");
    assert_eq!(status["evaluations"].as_array().unwrap().len(), 3, "{status}");

    // Rolling back to v1 is a canary too, and a subset no DestinationRule defines is refused.
    let run = mesh.meshctl(&["canary", "start", "profile", "--to", "v9", "--from", "v3"], "");
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("\"v9\""), "{}", run.stderr);
    let (sent, failed) = traffic.stop();
    assert_eq!(failed, 0, "{failed} of {sent} failed");
    let list = mesh.meshctl(&["canary", "list"], "").stdout;
    assert!(list.contains("Promoted"), "{list}");
}

#[test]
fn promote_and_abort_act_at_once_and_a_restarted_controller_resumes_the_step() {
    let mesh = LocalMesh::install();
    assert_eq!(mesh.meshctl(&["apply", "-f", "-"], &mesh_yaml("")).code, 0);
    mesh.wait_healthy();
    let traffic = mesh.load("profile");
    let start = |interval: &str| {
        let run = mesh.meshctl(
            &[
                "canary",
                "start",
                "profile",
                "--from",
                "v1",
                "--to",
                "v3",
                "--interval",
                interval,
                "--min-requests",
                "5",
                "--no-wait",
            ],
            "",
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
        wait_for_weight(&mesh, 10);
    };

    start("1m");
    let begun = std::time::Instant::now();
    let run = mesh.meshctl(&["canary", "promote", "profile"], "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(begun.elapsed() < Duration::from_secs(3), "promote took {:?}", begun.elapsed());
    assert_eq!(canary_status(&mesh)["weight"], 100);

    start("1m");
    let begun = std::time::Instant::now();
    assert_eq!(mesh.meshctl(&["canary", "abort", "profile"], "").code, 0);
    assert!(begun.elapsed() < Duration::from_secs(3), "abort took {:?}", begun.elapsed());
    assert_eq!(
        (canary_status(&mesh)["phase"].as_str(), canary_status(&mesh)["weight"].as_u64()),
        (Some("RolledBack"), Some(0))
    );

    // Killed at 50%, the rollout continues from 50% under the next controller.
    start("3s");
    wait_for_weight(&mesh, 50);
    let pid = mesh.status()["pid"].as_u64().unwrap();
    assert!(std::process::Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap().success());
    // A killed process takes a moment to go; until then `install` sees a controller running.
    common::poll("the killed controller is gone", Duration::from_secs(10), || !common::local_mesh::alive(pid as u32));
    let run = mesh.meshctl(&["install", "--local", "--gateway-port", &mesh.gateway.to_string()], "");
    let log = std::fs::read_to_string(mesh.state_dir().join("logs/controller.log")).unwrap_or_default();
    assert_eq!(run.code, 0, "{}\ncontroller log:\n{log}", run.stderr);
    let status = wait_for_phase(&mesh, &["Promoted", "RolledBack", "Failed"], Duration::from_secs(60));
    assert_eq!(status["phase"], "Promoted", "{status}");
    let weights: Vec<u64> =
        status["evaluations"].as_array().unwrap().iter().map(|e| e["weight"].as_u64().unwrap()).collect();
    assert_eq!(weights, [10, 50, 100], "the rollout went back to an earlier step: {status}");
    let (sent, failed) = traffic.stop();
    assert_eq!(failed, 0, "{failed} of {sent} failed");
}

fn wait_for_weight(mesh: &LocalMesh, weight: u64) {
    common::poll(&format!("the canary is at {weight}%"), Duration::from_secs(30), || {
        canary_status(mesh)["weight"] == weight
    });
}

#[test]
fn a_canary_slower_than_the_p99_gate_is_rolled_back_when_its_step_ends() {
    let mesh = LocalMesh::install();
    assert_eq!(mesh.meshctl(&["apply", "-f", "-"], &mesh_yaml(", --latency, 700ms")).code, 0);
    mesh.wait_healthy();
    let traffic = mesh.load("profile");
    let start =
        ["canary", "start", "profile", "--to", "v3", "--interval", "2s", "--min-requests", "2", "--max-p99", "500ms"];
    let run = mesh.meshctl(&start, "");
    let (_, failed) = traffic.stop();
    assert_eq!(run.code, 1, "a rolled-back canary exits 1: {}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("RolledBack") && run.stdout.contains("is above 500ms"), "{}", run.stdout);
    assert_eq!(failed, 0, "a slow canary fails no request, it is only slow");
    assert_eq!(canary_status(&mesh)["weight"], 0);
}

/// `greeter` v1 answers the demo gRPC method, v2 fails every call with UNAVAILABLE;
/// `loadgen` calls it 20 times a second through its sidecar; and a Canary from v1 to v2.
fn grpc_rollout() -> String {
    let workloads = [
        common::demo_workload_serving("greeter-v1", "greeter", Some("v1"), &[], &[("grpc", 9090)]),
        common::demo_workload_serving("greeter-v2", "greeter", Some("v2"), &["--error-rate", "100"], &[("grpc", 9090)]),
        common::demo_workload("loadgen", "loadgen", None, &["--generate", "grpc://greeter:9090", "--rate", "20"]),
    ];
    format!("{}---\n{GREETER_ROLLOUT}", workloads.join("---\n"))
}

const GREETER_ROLLOUT: &str = "apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: greeter}
spec:
  host: greeter
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: greeter}
spec:
  hosts: [greeter]
  http:
  - route: [{destination: {host: greeter, subset: v1}}]
---
apiVersion: meshctl.io/v1alpha1
kind: Canary
metadata: {name: greeter}
spec:
  service: greeter
  stable: v1
  canary: v2
  steps: [20, 50, 100]
  interval: 3s
  gates: {minSuccessRate: 99, minRequests: 5}
";

#[test]
fn a_grpc_canary_failing_with_unavailable_is_rolled_back() {
    let mesh = LocalMesh::install();
    let run = mesh.meshctl(&["apply", "-f", "-"], &grpc_rollout());
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let mut status = Value::Null;
    let ended = common::within(Duration::from_secs(60), || {
        let run = mesh.meshctl(&["get", "canary", "greeter", "-o", "json"], "");
        status = serde_json::from_str::<Value>(&run.stdout).map(|c| c["status"].clone()).unwrap_or_default();
        ["Promoted", "RolledBack", "Failed"].iter().any(|p| status["phase"] == *p)
    });
    assert!(ended, "the rollout did not end: {status:#}");
    assert_eq!(status["phase"], "RolledBack", "{status:#}");
    // The gate saw the failed calls as failures, not as the HTTP 200s they arrived in.
    let canary = &status["evaluations"].as_array().unwrap().last().unwrap()["canary"];
    assert!(canary["successRate"].as_f64().is_some_and(|r| r < 50.0), "{status:#}");

    // Once every proxy runs the rollback, every call goes to v1 and succeeds.
    mesh.wait_healthy();
    let outbound = common::local_mesh::local(&mesh.instance("loadgen")["ports"]["outbound"]);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    for _ in 0..50 {
        let outcome = runtime.block_on(meshctl::grpc::call(outbound, "greeter:9090", Duration::from_secs(5))).unwrap();
        assert_eq!(outcome.status, Some(meshctl::grpc::OK), "a call after the rollback: {outcome:?}");
        assert_eq!(outcome.answer.map(|a| a.version).as_deref(), Some("v1"));
    }
}
