//! Observing the demo mesh: traces collected from real proxies' spans, through the CLI.

mod common;

use std::time::Duration;

use common::local_mesh::LocalMesh;
use serde_json::Value;

/// `meshctl trace ARGS -o json`'s traces.
fn traces(mesh: &LocalMesh, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["trace", "-o", "json"];
    all.extend(args);
    let run = mesh.meshctl(&all, "");
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let answer: Value = serde_json::from_str(&run.stdout).unwrap();
    answer["traces"].as_array().unwrap().clone()
}

fn slowest(trace: &Value) -> &Value {
    trace["spans"].as_array().unwrap().iter().find(|s| s["span_id"] == trace["slowest"]).unwrap()
}

#[test]
fn traces_of_the_demo_find_the_slow_version() {
    let (mesh, _) = LocalMesh::start("demo", &[]);

    // The load generator's requests reach profile v2 (2 s) half the time.
    let mut slow = Vec::new();
    common::poll("slow traces through profile are collected", Duration::from_secs(10), || {
        slow = traces(&mesh, &["profile", "--min-duration", "1s"]);
        !slow.is_empty()
    });
    for trace in &slow {
        assert!(trace["duration_ms"].as_f64().unwrap() >= 1000.0, "{trace}");
        let span = slowest(trace);
        assert_eq!(
            (&span["service"], &span["version"], &span["kind"]),
            (&"profile".into(), &"v2".into(), &"server".into()),
            "{trace}"
        );
        assert!(span["duration_ms"].as_f64().unwrap() >= 1500.0, "{trace}");
    }
    // Slowest first, within the limit.
    let durations: Vec<f64> =
        traces(&mesh, &["--limit", "3"]).iter().map(|t| t["duration_ms"].as_f64().unwrap()).collect();
    assert!(durations.len() <= 3 && durations.windows(2).all(|w| w[0] >= w[1]), "{durations:?}");

    // A request from outside: one trace from the gateway through frontend to profile and
    // board, every span's parent the span that caused it.
    assert_eq!(mesh.get("frontend").0, 200);
    let mut from_outside = Value::Null;
    common::poll("the request through the gateway is traced whole", Duration::from_secs(10), || {
        from_outside = traces(&mesh, &["gateway", "--limit", "1"]).into_iter().next().unwrap_or_default();
        from_outside["spans"].as_array().is_some_and(|s| s.len() == 7)
    });
    let spans = from_outside["spans"].as_array().unwrap();
    let who: Vec<String> = spans
        .iter()
        .map(|s| {
            format!(
                "{} {} {}",
                s["service"].as_str().unwrap(),
                s["version"].as_str().unwrap(),
                s["kind"].as_str().unwrap()
            )
        })
        .collect();
    let mut sorted = who.clone();
    sorted.sort();
    let profile =
        if who.iter().any(|w| w.starts_with("profile v2")) { "profile v2 server" } else { "profile v1 server" };
    let mut expected = vec![
        "board v1 server",
        "frontend v1 client",
        "frontend v1 client",
        "frontend v1 server",
        "gateway  client",
        "gateway  server",
        profile,
    ];
    expected.sort();
    assert_eq!(sorted, expected, "{from_outside}");
    assert!(
        from_outside["root"].as_str().unwrap().starts_with("gateway: frontend.default.svc.cluster.local:80/"),
        "{from_outside}"
    );
    let ids: Vec<&Value> = spans.iter().map(|s| &s["span_id"]).collect();
    let roots = spans.iter().filter(|s| s.get("parent_id").is_none()).count();
    assert_eq!(roots, 1, "{from_outside}");
    for span in spans.iter().filter(|s| s.get("parent_id").is_some()) {
        assert!(ids.contains(&&span["parent_id"]), "{span} has no parent in {from_outside}");
        for field in ["namespace", "name", "start_unix_ms", "duration_ms", "status_code"] {
            assert!(span.get(field).is_some(), "{span} has no {field}");
        }
    }

    // The waterfall marks the slow span.
    let run = mesh.meshctl(&["trace", "profile", "--min-duration", "1s", "--limit", "1"], "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let marked: Vec<&str> = run.stdout.lines().filter(|l| l.contains("◀ slowest")).collect();
    assert_eq!(marked.len(), 1, "{}", run.stdout);
    assert!(marked[0].trim_start().starts_with("profile v2  server  200"), "{}", run.stdout);
}

#[test]
fn trace_refuses_a_bad_query_and_needs_a_mesh() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().to_str().unwrap();
    let run = common::meshctl(&["trace", "--limit", "0", "--state-dir", state]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    let run = common::meshctl(&["trace", "--min-duration", "soon", "--state-dir", state]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    let run = common::meshctl(&["trace", "--state-dir", state]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("no local mesh at"), "{}", run.stderr);
}
