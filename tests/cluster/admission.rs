//! The validating webhook on the node: writes of mesh kinds through the cluster's own kubectl,
//! judged by the controller as `meshctl apply` and `delete` judge theirs.

use serde_json::{Value, json};

use super::common::node::{self, profile_subsets};

const NS: &str = "admission";

/// A route for profile whose one destination is `subset`.
fn route(name: &str, subset: &str) -> Value {
    json!({
        "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
        "metadata": { "name": name, "namespace": NS },
        "spec": { "hosts": [format!("{name}.{NS}.svc.cluster.local")], "http": [{ "route": [
            { "destination": { "host": "profile", "subset": subset } },
        ]}]},
    })
}

#[test]
fn kubectl_writes_are_judged_as_meshctl_judges_its_own() {
    let mesh = node::mesh();
    // A test below takes the validator away for a moment, as an older meshctl would have.
    let (node, _turn) = (mesh.node, mesh.alone());
    let _namespace = node.namespace(NS, &[]);
    let apply = |object: &Value, extra: &[&str]| {
        let args = [&["apply", "-f", "-"][..], extra].concat();
        node.kubectl_with_input(&args, &object.to_string())
    };
    let exists = |name: &str| node.kubectl(&["-n", NS, "get", "virtualservice", name]).code == 0;
    let created = apply(&profile_subsets(NS), &[]);
    assert_eq!(created.code, 0, "{}", created.stderr);

    // A route to a subset no rule defines: refused with the finding's code and text, by
    // kubectl's server-side dry run too, and nothing is stored.
    for extra in [&["--dry-run=server"][..], &[]] {
        let refused = apply(&route("profile", "v3"), extra);
        assert_ne!(refused.code, 0, "{extra:?}: {}", refused.stdout);
        assert!(
            refused.stderr.contains(meshctl::kube::admission::WEBHOOK)
                && refused.stderr.contains("MESH0202")
                && refused.stderr.contains("subset \"v3\""),
            "{extra:?}: {}",
            refused.stderr
        );
    }
    assert!(!exists("profile"), "a refused route is not stored");
    let dry = apply(&route("profile", "v1"), &["--dry-run=server"]);
    assert!(dry.code == 0 && dry.stdout.contains("(server dry run)"), "{}{}", dry.stdout, dry.stderr);
    assert!(!exists("profile"), "a dry run stores nothing");
    let admitted = apply(&route("profile", "v1"), &[]);
    assert_eq!(admitted.code, 0, "a correct route is admitted: {}", admitted.stderr);

    // The rule the route needs cannot go.
    let delete = node.kubectl(&["-n", NS, "delete", "destinationrule", "profile"]);
    assert_ne!(delete.code, 0, "{}", delete.stdout);
    assert!(
        delete.stderr.contains("MESH0202") && delete.stderr.contains(&format!("VirtualService/{NS}/profile")),
        "{}",
        delete.stderr
    );

    // A directory applied at once goes object by object, in kubectl's order (files by name):
    // a route before the rule it needs is refused until the rule is stored.
    let dir = tempfile::tempdir().unwrap();
    let ledger_rule = json!({
        "apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
        "metadata": { "name": "ledger", "namespace": NS },
        "spec": { "host": "ledger", "subsets": [{ "name": "blue", "labels": { "version": "blue" } }] },
    });
    let mut ledger_route = route("ledger", "blue");
    ledger_route["spec"]["http"][0]["route"][0]["destination"]["host"] = json!("ledger");
    std::fs::write(dir.path().join("a-route.yaml"), ledger_route.to_string()).unwrap();
    std::fs::write(dir.path().join("b-rule.yaml"), ledger_rule.to_string()).unwrap();
    let path = dir.path().to_str().unwrap();
    let first = node.kubectl(&["apply", "-f", path]);
    assert_ne!(first.code, 0, "{}", first.stdout);
    assert!(
        first.stderr.contains("MESH0202") && first.stdout.contains("destinationrule"),
        "{}{}",
        first.stdout,
        first.stderr
    );
    let second = node.kubectl(&["apply", "-f", path]);
    assert_eq!(second.code, 0, "applied again, the route finds its rule: {}", second.stderr);

    // A problem stored before the validator was there (an older meshctl) does not block an
    // unrelated fix, and `analyze` still reports it.
    let validator = format!("validatingwebhookconfiguration/{}", meshctl::kube::admission::CONFIGURATION);
    let _reinstall = node::Reinstall(node);
    assert_eq!(node.kubectl(&["delete", &validator]).code, 0);
    assert_eq!(apply(&route("broken", "v9"), &[]).code, 0, "stored without the validator");
    let run = node.meshctl(&node::INSTALL);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let mut retuned = profile_subsets(NS);
    retuned["spec"]["trafficPolicy"] = json!({ "connectionPool": { "tcp": { "maxConnections": 100 } } });
    super::common::poll("the validator is back", super::DEADLINE, || {
        apply(&route("probe", "v3"), &["--dry-run=server"]).stderr.contains("MESH0202")
    });
    let fix = apply(&retuned, &[]);
    assert_eq!(fix.code, 0, "an unrelated change is admitted: {}", fix.stderr);
    let analyzed = node.meshctl(&["analyze", "-n", NS]);
    assert!(analyzed.stdout.contains("\"v9\""), "{}{}", analyzed.stdout, analyzed.stderr);
}
