//! Safety on a live mesh: a change is judged by the mesh it would leave, `analyze` and `check`
//! see what breaks requests, commands that move traffic return when the proxies run it, the
//! controller acts on a change without waiting for its next look, and the demo's printed hints,
//! run as printed under load, fail no request. Real Envoy, real HTTP.

use super::common;

use std::time::Duration;

use common::local_mesh::LocalMesh;
use serde_json::Value;

/// profile v1 and v3 (one replica each), routed all to v1, with both subsets defined.
fn profile_mesh() -> String {
    format!(
        "{}---\n{}---\n{}---\n{}",
        common::demo_workload("profile-v1", "profile", Some("v1"), &["--name", "profile"]),
        common::demo_workload("profile-v3", "profile", Some("v3"), &["--name", "profile"]),
        split(100, 0),
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: profile}\nspec:\n  host: profile\n  subsets:\n  - {name: v1, labels: {version: v1}}\n  - {name: v3, labels: {version: v3}}\n"
    )
}

fn split(v1: u32, v3: u32) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: profile}}\nspec:\n  hosts: [profile]\n  http:\n  - route:\n    - {{destination: {{host: profile, subset: v1}}, weight: {v1}}}\n    - {{destination: {{host: profile, subset: v3}}, weight: {v3}}}\n"
    )
}

/// The versions that answered `n` requests for profile through the gateway.
fn versions(mesh: &LocalMesh, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| {
            let (status, body) = mesh.get("profile");
            assert_eq!(status, 200, "{body}");
            body["version"].as_str().unwrap_or_default().to_string()
        })
        .collect()
}

fn analyze_json(mesh: &LocalMesh, args: &[&str], stdin: &str) -> (i32, Vec<Value>) {
    let mut all = vec!["analyze", "-o", "json"];
    all.extend(args);
    let run = mesh.meshctl(&all, stdin);
    let report: Value =
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}{}", run.stdout, run.stderr));
    (run.code, report["findings"].as_array().unwrap().clone())
}

#[test]
fn a_change_that_breaks_the_mesh_is_refused_and_analyze_and_check_see_what_fails() {
    let mesh = LocalMesh::install();
    assert_eq!(mesh.meshctl(&["apply", "-f", "-", "--wait"], &profile_mesh()).code, 0);
    mesh.wait_healthy();
    let (code, findings) = analyze_json(&mesh, &[], "");
    assert_eq!((code, findings.len()), (0, 0), "{findings:?}");

    // The circuit breaker without subsets would replace the rule the routes need.
    let breaker = mesh.meshctl(&["generate", "circuit-breaker", "profile", "--consecutive-errors", "2"], "").stdout;
    for dry_run in [true, false] {
        let args: &[&str] = if dry_run { &["apply", "-f", "-", "--dry-run"] } else { &["apply", "-f", "-"] };
        let run = mesh.meshctl(args, &breaker);
        assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
        assert!(
            run.stdout.contains("in the mesh: error[MESH0202]")
                && run.stdout.contains("DestinationRule default/profile (-:")
                && run.stdout.contains("(VirtualService/default/profile)"),
            "the finding names the input and the stored object it breaks: {}",
            run.stdout
        );
        assert!(run.stderr.contains("nothing was applied") && run.stderr.contains("VirtualService/default/profile"));
    }
    let stored: Value =
        serde_json::from_str(&mesh.meshctl(&["get", "dr", "profile", "-o", "json"], "").stdout).unwrap();
    assert_eq!(stored["spec"]["subsets"].as_array().unwrap().len(), 2, "nothing was stored");
    assert!(versions(&mesh, 10).iter().all(|v| v == "v1"));
    // CI asks the same question offline of the live mesh.
    let (code, findings) = analyze_json(&mesh, &["-f", "-"], &breaker);
    assert_eq!(code, 1);
    assert!(findings.iter().any(|f| f["code"] == "MESH0202" && f["resource"] == "VirtualService/default/profile"));
    // Deleting the rule is refused the same way.
    let run = mesh.meshctl(&["delete", "dr", "profile"], "");
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("nothing was deleted"), "{}", run.stderr);

    // With subsets it is accepted; a subset that selects nothing is a warning.
    let keeps = mesh
        .meshctl(&["generate", "circuit-breaker", "profile", "--subset", "v1", "--subset", "v3", "--subset", "v4"], "");
    assert_eq!(mesh.meshctl(&["apply", "-f", "-", "--wait"], &keeps.stdout).code, 0);
    let (code, findings) = analyze_json(&mesh, &[], "");
    assert_eq!(code, 0, "{findings:?}");
    assert!(
        findings.iter().any(|f| f["code"] == "MESH0501"
            && f["severity"] == "warning"
            && f["resource"] == "DestinationRule/default/profile"
            && f["message"].as_str().unwrap().contains("\"v4\"")),
        "{findings:?}"
    );
    assert_eq!(mesh.meshctl(&["check"], "").code, 0, "warnings leave the mesh healthy");

    // Half the traffic to v3, then v3's only Workload goes: requests to it would fail, and
    // check says so.
    assert_eq!(mesh.meshctl(&["apply", "-f", "-", "--wait"], &split(50, 50)).code, 0);
    assert_eq!(mesh.meshctl(&["delete", "workload", "profile-v3"], "").code, 0);
    common::poll("check reports the route to no instance", Duration::from_secs(20), || {
        let run = mesh.meshctl(&["check"], "");
        run.code == 1
            && run.stdout.contains("✗ configuration: VirtualService/default/profile")
            && run.stdout.contains("MESH0502")
    });
    let (code, findings) = analyze_json(&mesh, &[], "");
    assert_eq!(code, 1);
    assert!(findings.iter().any(|f| f["code"] == "MESH0502" && f["resource"] == "VirtualService/default/profile"));
}

#[test]
fn commands_that_move_traffic_return_when_every_proxy_runs_it() {
    let mesh = LocalMesh::install();
    assert_eq!(mesh.meshctl(&["apply", "-f", "-", "--wait"], &profile_mesh()).code, 0);
    // apply --wait: the next request already goes where the change says.
    let run = mesh.meshctl(&["apply", "-f", "-", "--wait"], &split(0, 100));
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("every proxy runs store revision"), "{}", run.stdout);
    assert!(versions(&mesh, 20).iter().all(|v| v == "v3"));
    assert_eq!(mesh.meshctl(&["apply", "-f", "-", "--wait"], &split(100, 0)).code, 0);
    assert!(versions(&mesh, 20).iter().all(|v| v == "v1"));

    // A canary that is promoted: when `canary start` exits, every request reaches it.
    let load = mesh.load("profile");
    let run = mesh.meshctl(
        &[
            "canary",
            "start",
            "profile",
            "--from",
            "v1",
            "--to",
            "v3",
            "--steps",
            "50,100",
            "--interval",
            "1s",
            "--min-requests",
            "5",
        ],
        "",
    );
    let (_, failed) = load.stop();
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("promoted"), "{}", run.stdout);
    assert_eq!(versions(&mesh, 100), vec!["v3".to_string(); 100]);
    assert_eq!(failed, 0);
    let status: Value =
        serde_json::from_str(&mesh.meshctl(&["canary", "status", "profile", "-o", "json"], "").stdout).unwrap();
    assert_eq!(status["phase"], "Promoted");
    let run = mesh.meshctl(&["canary", "abort", "profile"], "");
    assert_eq!(run.code, 1, "a finished rollout cannot be aborted");
    assert!(run.stderr.contains("is over (Promoted)"), "{}", run.stderr);

    // An abort puts stable back before it returns.
    let run = mesh.meshctl(
        &[
            "canary",
            "start",
            "profile",
            "--from",
            "v3",
            "--to",
            "v1",
            "--steps",
            "50,100",
            "--interval",
            "1h",
            "--no-wait",
        ],
        "",
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    common::poll("the rollout sends v1 half the traffic", Duration::from_secs(20), || {
        versions(&mesh, 10).iter().any(|v| v == "v1")
    });
    let run = mesh.meshctl(&["canary", "abort", "profile"], "");
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(versions(&mesh, 20), vec!["v3".to_string(); 20]);
}

#[test]
fn the_controller_acts_on_a_change_at_once_not_at_its_next_look() {
    // An hour between looks: only the store's wake-up can bring the change to the proxies.
    let mesh = LocalMesh::controller(&["--resync-period", "1h"]);
    assert_eq!(mesh.meshctl(&["apply", "-f", "-"], &profile_mesh()).code, 0);
    common::poll("profile answers through the gateway", Duration::from_secs(30), || {
        mesh.meshctl(&["check"], "").code == 0
    });
    assert_eq!(mesh.meshctl(&["apply", "-f", "-", "--wait", "--timeout", "20s"], &split(0, 100)).code, 0);
    assert_eq!(versions(&mesh, 10), vec!["v3".to_string(); 10]);
}

/// The `meshctl` commands and curls a demo prints, in order.
fn hints(demo_output: &str) -> Vec<String> {
    demo_output
        .lines()
        .map(|l| l.split(" #").next().unwrap().trim())
        .filter(|l| l.starts_with("meshctl ") || l.starts_with("curl "))
        .map(String::from)
        .collect()
}

/// Runs one printed `curl [-H 'Host: H'] http://127.0.0.1:PORT/`: whether it was answered.
fn curl(line: &str) -> bool {
    let host = line.split("'Host: ").nth(1).and_then(|h| h.split('\'').next()).unwrap_or("localhost");
    let url = line.split_whitespace().last().unwrap();
    let port: u16 = url.trim_start_matches("http://127.0.0.1:").trim_end_matches('/').parse().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    runtime.block_on(meshctl::http::get(addr, host, "/", Duration::from_secs(5))).is_ok_and(|r| r.status == 200)
}

#[test]
fn the_demos_printed_hints_run_in_order_fail_no_request() {
    let (mesh, demo) = LocalMesh::start("demo", &[]);
    let hints = hints(&demo.stdout);
    assert!(hints.len() >= 10, "{}", demo.stdout);
    // Users' traffic through the gateway all along (the canary's figures come from it too).
    let loads: Vec<_> = ["frontend", "profile", "profile", "profile"].iter().map(|h| mesh.load(h)).collect();
    let mut plaintext_answers = Vec::new();
    for hint in &hints {
        if hint.starts_with("curl ") {
            // The one to profile's sidecar port, before and after `mtls enable`.
            if !hint.contains("Host:") {
                plaintext_answers.push(curl(hint));
            } else {
                assert!(curl(hint), "{hint}");
            }
            continue;
        }
        // `top` and `dashboard` run until stopped (the dashboard's own test opens it) and
        // `uninstall` ends the demo: none is a step to check.
        if hint == "meshctl top" || hint == "meshctl dashboard" || hint.starts_with("meshctl uninstall") {
            continue;
        }
        if hint.starts_with("meshctl trace") {
            // Spans arrive within a second or two of their request's end.
            let args: Vec<&str> = hint.split_whitespace().skip(1).collect();
            common::poll("the printed trace hint marks profile v2's span the slowest", Duration::from_secs(15), || {
                let run = mesh.meshctl(&args, "");
                assert_eq!(run.code, 0, "{hint}: {}", run.stderr);
                run.stdout.lines().any(|l| l.contains("◀ slowest") && l.trim_start().starts_with("profile v2 "))
            });
            continue;
        }
        let (command, stdin) = match hint.split_once(" | ") {
            Some((generate, apply)) => {
                let run = mesh.meshctl(&generate.split_whitespace().skip(1).collect::<Vec<_>>(), "");
                assert_eq!(run.code, 0, "{generate}: {}", run.stderr);
                (apply, run.stdout)
            }
            None => (hint.as_str(), String::new()),
        };
        let run = mesh.meshctl(&command.split_whitespace().skip(1).collect::<Vec<_>>(), &stdin);
        let expected = if hint.starts_with("meshctl canary start") { 1 } else { 0 };
        assert_eq!(run.code, expected, "{hint}: {}{}", run.stdout, run.stderr);
        if hint.starts_with("meshctl canary start") {
            assert!(run.stdout.contains("RolledBack"), "the slow v2 is rolled back: {}", run.stdout);
        }
        if hint.contains("circuit-breaker") {
            let dr: Value =
                serde_json::from_str(&mesh.meshctl(&["get", "dr", "profile", "-o", "json"], "").stdout).unwrap();
            assert!(dr["spec"]["trafficPolicy"]["outlierDetection"].is_object());
            assert_eq!(dr["spec"]["subsets"].as_array().map(Vec::len), Some(2), "the breaker keeps the subsets");
        }
    }
    assert_eq!(plaintext_answers, [true, false], "plaintext answered before `mtls enable`, refused after");
    let results: Vec<(usize, usize)> = loads.into_iter().map(|l| l.stop()).collect();
    let sent: usize = results.iter().map(|r| r.0).sum();
    let failed: usize = results.iter().map(|r| r.1).sum();
    assert!(sent > 100, "{results:?}");
    assert_eq!(failed, 0, "requests failed while the hints ran: {results:?}");
}

/// Whether a docs example only reads the local mesh: what runs against the demo beside its own
/// hints. Synopses, placeholders (`NAME`, `FILE`), files and a cluster's flags are not examples;
/// what changes the mesh or runs until stopped is run by the demo's hints and the other tests.
fn reads_the_mesh(command: &str) -> bool {
    let words: Vec<&str> = command.split_whitespace().collect();
    let reads = match (words.get(1).copied(), words.get(2).copied()) {
        (Some("get" | "proxy-status" | "check" | "analyze" | "trace"), _) => true,
        (Some("top"), _) => words.contains(&"--once"),
        (Some("canary"), Some("status" | "list")) | (Some("mtls"), Some("status")) => true,
        _ => false,
    };
    let placeholder = words.iter().any(|w| w.len() > 1 && w.chars().all(|c| c.is_ascii_uppercase() || c == '_'));
    let elsewhere = ["-f", "--context", "--kubeconfig", "--pre"].iter().any(|flag| words.contains(flag));
    reads && !placeholder && !elsewhere && !command.contains(['[', '|', '<', '>'])
}

#[test]
fn the_docs_examples_that_read_a_mesh_run_on_the_demo() {
    let (mesh, _) = LocalMesh::start("demo", &[]);
    // The demo's load generator gives `top` and `trace` something to show.
    common::poll("a trace through profile", Duration::from_secs(20), || {
        mesh.meshctl(&["trace", "profile", "-o", "json"], "").stdout.contains("trace_id")
    });
    let (dir, envoy) = (mesh.state_dir(), common::envoy::binary());
    let envs = [("MESHCTL_STATE_DIR", dir.to_str().unwrap()), ("MESHCTL_ENVOY", envoy.to_str().unwrap())];
    let examples: Vec<_> =
        common::docs::blocks().into_iter().flatten().filter(|e| reads_the_mesh(&e.command)).collect();
    for example in &examples {
        common::docs::check(example, &common::docs::run(example, &dir, &envs));
    }
    assert!(
        examples.len() >= 15,
        "only {} examples ran: {:?}",
        examples.len(),
        examples.iter().map(|e| &e.command).collect::<Vec<_>>()
    );
}
