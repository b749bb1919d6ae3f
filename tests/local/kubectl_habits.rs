//! kubectl's habits on every command that reads (issue 9): several kinds at once (`get vs,dr`,
//! `delete vs,dr NAME`), `KIND/NAME`, label selectors, `-o name`, `-o json|yaml` on
//! `canary list` and `check`, and `-o` meaning the same everywhere, through the real binary on
//! a real local mesh.

use super::common;

use common::local_mesh::LocalMesh;
use serde_json::Value;

/// In `default`: routes and a DestinationRule for profile and board, labelled to be selected.
/// In `rollouts`: a Canary on checkout, away from what the selectors look at, since the
/// controller rewrites its service's routes.
const POLICIES: &str = "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: profile, labels: {app: profile, tier: api}}
spec:
  hosts: [profile]
  http:
  - route:
    - destination: {host: profile, subset: v1}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: profile, labels: {app: profile}}
spec:
  host: profile
  subsets:
  - {name: v1, labels: {version: v1}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: board, labels: {app: board}}
spec:
  hosts: [board]
  http:
  - route:
    - destination: {host: board}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: checkout, namespace: rollouts}
spec:
  host: checkout
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: meshctl.io/v1alpha1
kind: Canary
metadata: {name: checkout, namespace: rollouts}
spec: {service: checkout, stable: v1, canary: v2, interval: 1m}
";

fn json(run: &common::Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}{}", run.stdout, run.stderr))
}

#[test]
fn reads_take_several_kinds_selectors_and_every_output_format() {
    let mesh = LocalMesh::install();
    let run = mesh.meshctl(&["check", "-o", "json"], "");
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let check = json(&run);
    assert_eq!(check["healthy"], true, "{check}");
    let checks = check["checks"].as_array().unwrap();
    assert!(!checks.is_empty() && checks.iter().all(|c| c["ok"] == true && c["message"].is_string()), "{check}");
    assert!(checks[0]["message"].as_str().unwrap().starts_with("control plane:"), "{check}");

    let run = mesh.meshctl(&["apply", "-f", "-"], POLICIES);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);

    // One table per kind, names saying their kind, a blank line between.
    let run = mesh.meshctl(&["get", "vs,dr"], "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let tables: Vec<Vec<&str>> = run.stdout.split("\n\n").map(|t| t.lines().collect()).collect();
    assert_eq!(tables.len(), 2, "{}", run.stdout);
    assert!(tables[0][0].starts_with("NAME") && tables[0][0].contains("HOSTS"), "{}", run.stdout);
    assert!(tables[0][1].starts_with("virtualservice.networking.istio.io/profile "), "{}", run.stdout);
    assert!(tables[0][2].starts_with("virtualservice.networking.istio.io/board "), "{}", run.stdout);
    assert!(tables[1][0].starts_with("NAME") && tables[1][0].contains("HOST"), "{}", run.stdout);
    assert!(tables[1][1].starts_with("destinationrule.networking.istio.io/profile "), "{}", run.stdout);
    assert_eq!(tables[1].len(), 2, "{}", run.stdout);

    // Across namespaces, JSON and YAML are one List of every kind.
    let list = json(&mesh.meshctl(&["get", "vs,dr", "-A", "-o", "json"], ""));
    assert_eq!(list["kind"], "List");
    let items: Vec<(&str, &str)> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["kind"].as_str().unwrap(), i["metadata"]["name"].as_str().unwrap()))
        .collect();
    assert!(items.contains(&("DestinationRule", "checkout")) && items.contains(&("VirtualService", "board")), "{list}");
    let yaml = mesh.meshctl(&["get", "vs,dr", "-A", "-o", "yaml"], "").stdout;
    assert!(yaml.contains("kind: List") && yaml.contains("kind: DestinationRule"), "{yaml}");

    // -o name, by selector and by KIND/NAME.
    let names = |args: &[&str]| {
        let run = mesh.meshctl(&[&["get"], args, &["-o", "name"]].concat(), "");
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        run.stdout
    };
    assert_eq!(names(&["vs", "-l", "app=profile"]), "virtualservice.networking.istio.io/profile\n");
    assert_eq!(names(&["vs,dr", "-l", "app=profile,tier!=api"]), "destinationrule.networking.istio.io/profile\n");
    assert_eq!(names(&["vs", "-l", "!tier"]), "virtualservice.networking.istio.io/board\n");
    assert_eq!(names(&["vs,dr", "-l", "tier"]), "virtualservice.networking.istio.io/profile\n");
    assert_eq!(
        names(&["dr/profile", "vs/board"]),
        "destinationrule.networking.istio.io/profile\nvirtualservice.networking.istio.io/board\n"
    );
    let run = mesh.meshctl(&["get", "vs", "-l", "app=nothing"], "");
    assert!(run.stdout.is_empty() && run.stderr.contains("No resources found"), "{}{}", run.stdout, run.stderr);

    // canary list is get: json, yaml, name and wide.
    let canaries = json(&mesh.meshctl(&["canary", "list", "-n", "rollouts", "-o", "json"], ""));
    assert_eq!(canaries["kind"], "List");
    assert_eq!(canaries["items"][0]["kind"], "Canary", "{canaries}");
    assert_eq!(canaries["items"][0]["spec"]["service"], "checkout", "{canaries}");
    assert_eq!(mesh.meshctl(&["canary", "list", "-A", "-o", "name"], "").stdout, "canary.meshctl.io/checkout\n");
    let wide = mesh.meshctl(&["canary", "list", "-n", "rollouts", "-o", "wide"], "").stdout;
    assert!(wide.starts_with("NAME") && wide.contains("STEPS"), "{wide}");
    // -o wide is a table wherever -o is offered, never JSON.
    for args in [&["proxy-status", "-o", "wide"][..], &["canary", "status", "checkout", "-n", "rollouts", "-o", "wide"]]
    {
        let run = mesh.meshctl(args, "");
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        assert!(!run.stdout.starts_with(['{', '[']), "{args:?} printed JSON: {}", run.stdout);
    }

    // delete takes several kinds too, and says which of them had no such object.
    let run = mesh.meshctl(&["delete", "vs,dr", "profile"], "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "virtualservice.networking.istio.io/profile deleted\ndestinationrule.networking.istio.io/profile deleted\n"
    );
    let run = mesh.meshctl(&["delete", "vs,dr", "board"], "");
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.stdout, "virtualservice.networking.istio.io/board deleted\n");
    assert!(run.stderr.contains("destinationrule.networking.istio.io/board not found"), "{}", run.stderr);
    assert_eq!(names(&["vs,dr"]), "");
}

#[test]
fn a_bad_selector_or_a_muddled_command_line_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let envs = [("MESHCTL_STATE_DIR", dir.path().to_str().unwrap())];
    let cases: [(&[&str], &str); 8] = [
        (&["get", "vs", "-l", "app=a=b"], "\"a=b\" is not a label value"),
        (&["get", "vs", "-l", "app=web,,tier"], "empty requirement"),
        (&["get", "vs", "-l", "env in (a,b)"], "set-based selectors (in, notin) are not supported"),
        (&["get", "vs", "profile", "-l", "app=web"], "a selector picks objects by their labels"),
        (&["get", "vs,nope"], "doesn't have a resource type \"nope\""),
        (&["get", "vs", "dr/profile"], "not both"),
        (&["get", "vs/profile", "board"], "\"board\" is not KIND/NAME"),
        (&["delete", "vs,dr"], "name the objects to delete"),
    ];
    for (args, says) in cases {
        let run = common::meshctl_in(args, "", &envs);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(says), "{args:?}: {}", run.stderr);
    }
}

#[test]
fn check_in_json_says_unhealthy_and_exits_1_without_a_mesh() {
    let dir = tempfile::tempdir().unwrap();
    let run = common::meshctl_in(&["check", "-o", "json"], "", &[("MESHCTL_STATE_DIR", dir.path().to_str().unwrap())]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let check = json(&run);
    assert_eq!(check["healthy"], false, "{check}");
    assert_eq!(check["checks"][0]["ok"], false, "{check}");
    assert!(check["checks"][0]["message"].as_str().unwrap().contains("meshctl install --local"), "{check}");
}

#[test]
fn an_error_says_each_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    let unreachable = dir.path().join("unreachable");
    let config = serde_json::json!({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{ "name": "c", "cluster": { "server": "https://127.0.0.1:1" } }],
        "contexts": [{ "name": "c", "context": { "cluster": "c", "user": "u" } }],
        "users": [{ "name": "u", "user": { "token": "t" } }],
    });
    std::fs::write(&unreachable, config.to_string()).unwrap();
    let missing = dir.path().join("missing");
    // What is wrong first, what to do last.
    let cases: [(&[&str], &str, &str); 4] = [
        (
            &["get", "vs", "--kubeconfig", "/nonexistent"],
            "cannot use the kubeconfig (/nonexistent): No such file",
            "pass --kubeconfig FILE",
        ),
        (&["get", "vs", "--kubeconfig", unreachable.to_str().unwrap()], "https://127.0.0.1:1", "check that it runs"),
        (
            &["get", "vs", "--state-dir", missing.to_str().unwrap()],
            missing.to_str().unwrap(),
            "meshctl install --local",
        ),
        (&["apply", "-f", "/nonexistent.yaml"], "cannot read /nonexistent.yaml", "check the path"),
    ];
    for (args, says, remedy) in cases {
        let run = common::meshctl(args);
        assert_ne!(run.code, 0, "{args:?}");
        assert!(run.stderr.contains(says), "{args:?}: {}", run.stderr);
        assert!(run.stderr.lines().last().unwrap().contains(remedy), "{args:?}: {}", run.stderr);
        assert!(!run.stderr.contains("'\""), "a path quoted twice: {}", run.stderr);
        let lines: Vec<&str> =
            run.stderr.lines().map(|l| l.trim_start_matches("  caused by: ").trim_start_matches("  hint: ")).collect();
        for (i, line) in lines.iter().enumerate().skip(1) {
            assert!(!lines[..i].iter().any(|above| above.contains(line)), "{line:?} said twice: {}", run.stderr);
        }
    }
}
