//! The seed's story on the cluster: `meshctl demo --kubeconfig` deploys the demo as
//! Deployments of meshctl's image in namespace `demo`, and every hint it prints is run as
//! printed, in order, while users' requests go through the gateway: the slow v2 found by `top`
//! and `trace`, the dashboard's graph, traffic shifted to v1, the canary of v2 rolled back,
//! the circuit breaker, mTLS required. Then a fixed v3 goes out as a canary and is promoted.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

use super::DEADLINE;
use super::common::dashboard::{Dashboard, edge};
use super::common::node::{self, Node};
use super::mesh::{Load, call};

const NS: &str = "demo";

/// The commands a demo prints, in order, without their comments.
fn hints(demo_output: &str) -> Vec<String> {
    demo_output
        .lines()
        .map(|l| l.split(" #").next().unwrap().trim())
        .filter(|l| ["meshctl ", "curl ", "kubectl "].iter().any(|c| l.starts_with(c)))
        .map(String::from)
        .collect()
}

/// Runs a printed `curl -H 'Host: H' http://ADDRESS/` once: the version that answered.
fn curl(line: &str) -> Result<String, String> {
    let host = line.split("'Host: ").nth(1).and_then(|h| h.split('\'').next()).expect("a Host header");
    let url = line.split_whitespace().last().unwrap();
    let address: SocketAddr = url.trim_start_matches("http://").trim_end_matches('/').parse().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(call(address, host))
}

/// `meshctl ARGS` as printed (the words after `meshctl`), with `stdin`.
fn meshctl(line: &str, more: &[&str], stdin: &str) -> super::common::Run {
    let mut args: Vec<&str> = line.split_whitespace().skip(1).collect();
    args.extend(more);
    super::common::meshctl_with_input(&args, stdin)
}

/// A printed `kubectl … &`, running until dropped.
struct Background(Child);

impl Background {
    fn start(line: &str) -> Background {
        let words: Vec<&str> = line.trim_end_matches('&').split_whitespace().collect();
        let child = Command::new(super::common::kube::binary_dir().join(words[0]))
            .args(&words[1..])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("kubectl starts");
        Background(child)
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_demo_runs_on_the_cluster_and_every_printed_hint_works() {
    let mesh = node::mesh();
    // `check` and `mtls status` judge the whole mesh: no other test's workloads come and go.
    let _alone = mesh.alone();
    let node = mesh.node;
    let _namespace = node.namespace(NS, &[]);
    let kubeconfig = node.kubeconfig();
    let kubeconfig = kubeconfig.to_str().unwrap();
    let demo = super::common::meshctl(&["demo", "--kubeconfig", kubeconfig]);
    assert_eq!(demo.code, 0, "{}{}", demo.stdout, demo.stderr);
    assert!(demo.stdout.contains("demo mesh ready in namespace demo"), "{}", demo.stdout);
    let hints = hints(&demo.stdout);
    assert!(hints.len() >= 14, "{}", demo.stdout);
    // The demo's images are the installed controller's; its Pods run with their sidecars.
    let pods = node.kubectl_ok(&["-n", NS, "get", "pods", "-o", "jsonpath={.items[*].spec.initContainers[*].name}"]);
    assert_eq!(pods.matches("meshctl-proxy").count(), 5, "{pods}");

    // Users' traffic through the gateway all along.
    let gateway = node.gateway();
    let loads: Vec<Load> =
        ["frontend", "profile", "profile"].iter().map(|h| Load::start(gateway, format!("{h}.{NS}"))).collect();
    let mut port_forward = None;
    for hint in &hints {
        if hint.starts_with("kubectl ") && hint.ends_with('&') {
            port_forward = Some(Background::start(hint));
            continue;
        }
        if hint.starts_with("curl ") {
            let answered = super::common::within(DEADLINE, || curl(hint).is_ok());
            assert!(answered, "{hint}: {:?}", curl(hint));
            if hint.contains("Host: profile") {
                let versions: Vec<String> = (0..10).map(|_| curl(hint).unwrap()).collect();
                assert_eq!(versions, vec!["v1"; 10], "{hint}: always v1 once shifted");
            }
            continue;
        }
        // Ends the demo for everyone; the namespace goes with the test.
        if hint.starts_with("meshctl uninstall") || hint.starts_with("kubectl ") {
            continue;
        }
        if hint.starts_with("meshctl top") {
            // `top` refreshes until stopped: one window of it, as JSON.
            let slow =
                super::common::within(DEADLINE, || {
                    let run = meshctl(hint, &["--once", "-o", "json"], "");
                    assert_eq!(run.code, 0, "{hint}: {}", run.stderr);
                    let window: Value = serde_json::from_str(&run.stdout).unwrap();
                    window["rows"].as_array().unwrap().iter().any(|r| {
                        r["service"] == "profile" && r["version"] == "v2" && r["p99_ms"].as_f64() >= Some(1000.0)
                    })
                });
            assert!(slow, "{hint} finds profile v2's p99 at 2 s");
            continue;
        }
        if hint.starts_with("meshctl trace") {
            let slowest = super::common::within(DEADLINE, || {
                let run = meshctl(hint, &[], "");
                assert_eq!(run.code, 0, "{hint}: {}", run.stderr);
                run.stdout.lines().any(|l| l.contains("◀ slowest") && l.trim_start().starts_with("profile v2 "))
            });
            assert!(slowest, "{hint} marks profile v2's span the slowest");
            continue;
        }
        if hint.starts_with("meshctl dashboard") {
            let args: Vec<&str> = hint.split_whitespace().skip(2).collect();
            let dashboard = Dashboard::start(&args, &[]);
            let calls = [
                ("gateway", format!("{NS}/frontend/v1")),
                (&format!("{NS}/frontend/v1"), format!("{NS}/profile/v1")),
                (&format!("{NS}/frontend/v1"), format!("{NS}/profile/v2")),
                (&format!("{NS}/frontend/v1"), format!("{NS}/board/v1")),
            ];
            let mut graph = Value::Null;
            let drawn = super::common::within(DEADLINE, || {
                graph = dashboard.get("/api/graph");
                calls.iter().all(|(from, to)| edge(&graph, from, to).is_some_and(|e| e["rps"].as_f64() > Some(0.0)))
            });
            assert!(drawn, "the dashboard's graph has every call of the demo: {graph:#}");
            continue;
        }
        if hint.starts_with("meshctl mtls status") {
            strict(hint);
            continue;
        }
        let (command, stdin) = match hint.split_once(" | ") {
            Some((generate, apply)) => {
                let run = meshctl(generate, &[], "");
                assert_eq!(run.code, 0, "{generate}: {}", run.stderr);
                (apply, run.stdout)
            }
            None => (hint.as_str(), String::new()),
        };
        let run = meshctl(command, &[], &stdin);
        let expected = if hint.starts_with("meshctl canary start") { 1 } else { 0 };
        assert_eq!(run.code, expected, "{hint}: {}{}", run.stdout, run.stderr);
        if hint.starts_with("meshctl canary start") {
            assert!(run.stdout.contains("RolledBack"), "the slow v2 is rolled back: {}", run.stdout);
        }
    }
    assert!(port_forward.is_some(), "the demo prints how to reach the gateway");
    // Plaintext from outside the mesh, straight to profile's Pod, is refused under STRICT.
    let ip = node.kubectl_ok(&[
        "-n",
        NS,
        "get",
        "pod",
        "-l",
        "version=v1,app=profile",
        "-o",
        "jsonpath={.items[0].status.podIP}",
    ]);
    let pod = SocketAddr::new(ip.parse().unwrap(), 8080);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    assert!(runtime.block_on(call(pod, "profile")).is_err(), "plaintext from outside the mesh is refused");

    fixed_version_promoted(node, kubeconfig);
    for (load, host) in loads.into_iter().zip(["frontend", "profile", "profile"]) {
        let tally = load.stop();
        println!("the demo's story on the cluster, {host} through the gateway: {tally}");
        assert!(tally.sent > 0 && tally.failures.is_empty(), "requests to {host} failed while the hints ran: {tally}");
    }
}

/// `meshctl mtls status -o json` until every workload of the demo is STRICT, refuses
/// plaintext and completes mTLS.
fn strict(hint: &str) {
    let mut last = Value::Null;
    let judged = super::common::within(DEADLINE, || {
        let run = meshctl(hint, &["-o", "json"], "");
        last = serde_json::from_str(&run.stdout).unwrap_or_default();
        let ours: Vec<&Value> =
            last["workloads"].as_array().into_iter().flatten().filter(|w| w["namespace"] == NS).collect();
        ours.len() == 5
            && ours.iter().all(|w| w["mode"] == "STRICT" && w["mtls_ok"] == true && w["plaintext_refused"] == true)
    });
    assert!(judged, "{hint}: every demo workload is STRICT: {last:#}");
}

/// A fixed v3 of profile, rolled out from v1 as a canary and promoted.
fn fixed_version_promoted(node: &Node, kubeconfig: &str) {
    node.apply(&node::demo_deployment(NS, "profile", &[("version", "v3")], &["--version", "v3"]).to_string());
    node.wait(NS, "deployment/profile-v3", "condition=Available", DEADLINE);
    let mut rule: Value =
        serde_json::from_str(&node.kubectl_ok(&["-n", NS, "get", "destinationrule", "profile", "-o", "json"])).unwrap();
    rule["spec"]["subsets"].as_array_mut().unwrap().push(json!({ "name": "v3", "labels": { "version": "v3" } }));
    node.apply(&json!({ "apiVersion": rule["apiVersion"], "kind": rule["kind"], "metadata": { "name": "profile", "namespace": NS }, "spec": rule["spec"] }).to_string());
    let args = ["canary", "start", "profile", "-n", NS, "--from", "v1", "--to", "v3", "--interval", "2s"];
    let run = super::common::meshctl(&[&args[..], &["--max-p99", "500ms", "--kubeconfig", kubeconfig]].concat());
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("promoted"), "{}", run.stdout);
    let gateway = node.gateway();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let versions: Vec<String> =
        (0..20).map(|_| runtime.block_on(call(gateway, &format!("profile.{NS}"))).unwrap()).collect();
    assert_eq!(versions, vec!["v3"; 20], "v3 takes all of profile's traffic once promoted");
}
