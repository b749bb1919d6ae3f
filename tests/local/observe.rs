//! Observing the demo mesh: traces collected from real proxies' spans, through the CLI, and
//! the dashboard's API and page (in headless Chromium) as the traffic changes.

use super::common;

use std::time::Duration;

use common::dashboard::{Dashboard, edge};
use common::local_mesh::LocalMesh;
use serde_json::Value;

/// The last point of a version in `/api/services/NS/NAME/metrics`.
fn latest<'a>(series: &'a Value, version: &str) -> Option<&'a Value> {
    let versions = series["versions"].as_array()?;
    versions.iter().find(|v| v["version"] == version)?["points"].as_array()?.last()
}

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

    // A request from outside, whose client starts a trace of its own (W3C trace context): one
    // trace of that id from the gateway through frontend to profile and board, every span's
    // parent the span that caused it.
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let traceparent = format!("00-{trace_id}-00f067aa0ba902b7-01");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let gateway = std::net::SocketAddr::from(([127, 0, 0, 1], mesh.gateway));
    let headers = [("traceparent", traceparent.as_str())];
    let sent = meshctl::http::request(gateway, hyper::Method::GET, "frontend", "/", &headers, Duration::from_secs(10));
    assert_eq!(runtime.block_on(sent).unwrap().status, 200);
    let mut from_outside = Value::Null;
    common::poll("the request through the gateway is traced whole", Duration::from_secs(10), || {
        from_outside = traces(&mesh, &["--id", trace_id]).into_iter().next().unwrap_or_default();
        from_outside["spans"].as_array().is_some_and(|s| s.len() == 7)
    });
    assert_eq!(from_outside["trace_id"], trace_id);
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
    let roots: Vec<&Value> = spans.iter().filter(|s| !ids.contains(&&s["parent_id"])).collect();
    assert_eq!(roots.len(), 1, "{from_outside}");
    assert_eq!(roots[0]["parent_id"], "00f067aa0ba902b7", "the client's span is the gateway's parent");
    for span in spans {
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

#[test]
fn the_dashboard_shows_the_demo_mesh_as_its_traffic_moves() {
    let (mesh, _) = LocalMesh::start("demo", &[]);
    let dashboard = Dashboard::start(&[], &[("MESHCTL_STATE_DIR", mesh.state_dir().to_str().unwrap())]);
    const FRONTEND: &str = "default/frontend/v1";
    let calls = [
        ("gateway", FRONTEND),
        (FRONTEND, "default/profile/v1"),
        (FRONTEND, "default/profile/v2"),
        (FRONTEND, "default/board/v1"),
    ];
    let mut graph = Value::Null;
    common::poll("the graph shows every call of the demo, and v2's slowness", Duration::from_secs(10), || {
        graph = dashboard.get("/api/graph");
        let slow = edge(&graph, FRONTEND, "default/profile/v2").and_then(|e| e["p99_ms"].as_f64());
        calls.iter().all(|(s, t)| edge(&graph, s, t).is_some_and(|e| e["rps"].as_f64() > Some(0.0)))
            && slow.is_some_and(|p99| p99 >= 1500.0)
    });
    // loadgen sends 5 requests a second through the gateway. The first windows also count the
    // retries of requests sent while the mesh was coming up; then the edge carries loadgen's
    // rate, give or take a request or two in a 2 s window.
    common::poll("the gateway's edge carries loadgen's 5 requests a second", Duration::from_secs(20), || {
        graph = dashboard.get("/api/graph");
        edge(&graph, "gateway", FRONTEND).and_then(|e| e["rps"].as_f64()).is_some_and(|rps| (3.5..=6.5).contains(&rps))
    });
    let profile = dashboard.get("/api/services/default/profile/metrics");
    assert!(latest(&profile, "v1").is_some(), "{profile}");

    // A slow trace, whole, to open on the page.
    let mut slow = Value::Null;
    common::poll("a whole slow trace is collected", Duration::from_secs(10), || {
        let traces = dashboard.get("/api/traces?namespace=default&service=profile&min_duration_ms=1000&limit=20");
        slow = traces["traces"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["spans"].as_array().unwrap().len() == 7)
            .cloned()
            .unwrap_or_default();
        !slow.is_null()
    });
    let trace_id = slow["trace_id"].as_str().unwrap();

    // A DestinationRule one of whose subsets selects nothing: a finding, on the resource and
    // on board's node.
    let broken = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: board}\nspec:\n  host: board\n  subsets:\n  - {name: v1, labels: {version: v1}}\n  - {name: v9, labels: {version: v9}}\n";
    assert_eq!(mesh.meshctl(&["apply", "-f", "-"], broken).code, 0);
    common::poll("the dashboard finds the empty subset", Duration::from_secs(10), || {
        let findings = dashboard.get("/api/findings");
        findings["findings"].as_array().unwrap().iter().any(|f| {
            f["code"] == "MESH0501"
                && f["resource"] == "DestinationRule/default/board"
                && f["services"] == serde_json::json!(["default/board"])
        })
    });

    let dir = tempfile::tempdir().unwrap();
    let page = common::browser::render(
        &format!("{}#service=default/profile&trace={trace_id}", dashboard.url()),
        dir.path(),
        "dashboard",
    );
    assert!(page.console.is_empty(), "the page logged: {:?}", page.console);
    for node in
        ["gateway", FRONTEND, "default/profile/v1", "default/profile/v2", "default/board/v1", "default/loadgen/v1"]
    {
        assert_eq!(page.count("data-node-id", node), 1, "no node {node} in the graph:\n{}", page.dom);
    }
    for (source, target) in calls {
        assert_eq!(
            page.count("data-edge", &format!("{source} {target}")),
            1,
            "no edge {source} -> {target}:\n{}",
            page.dom
        );
    }
    // Every edge's label on its own edge, over no node, label or other edge, as the browser
    // laid them out; loadgen, which sends through the gateway, drawn apart as idle.
    assert_eq!(page.attribute_of("id", "graph", "data-label-overlaps").as_deref(), Some("0"), "{}", page.dom);
    assert_eq!(page.count("data-label-edge", &format!("gateway {FRONTEND}")), 1, "{}", page.dom);
    let loadgen = page.dom.split("data-node-id=").find(|n| n.starts_with("\"default/loadgen/v1\"")).unwrap();
    assert!(page.dom.contains("class=\"node idle-node\" data-node-id=\"default/loadgen/v1\""), "{loadgen}");
    // Each chart has a time axis, and no raw Envoy name shows anywhere.
    assert_eq!(page.count("data-axis", "x"), 4, "{}", page.dom);
    for raw in ["outbound_", "inbound_", "router "] {
        assert!(!page.dom.contains(raw), "the page shows Envoy's name {raw:?}: {}", page.dom);
    }
    // Profile's four charts, a line for each version.
    assert_eq!(
        (page.count("data-chart-version", "v1"), page.count("data-chart-version", "v2")),
        (4, 4),
        "{}",
        page.dom
    );
    // The trace's waterfall, its slow span marked.
    assert_eq!(page.attribute_of("id", "waterfall", "data-trace-id").as_deref(), Some(trace_id));
    for service in ["gateway", "frontend", "profile", "board"] {
        assert!(page.count("data-span-service", service) >= 1, "no {service} span in the waterfall");
    }
    assert_eq!(page.attribute_of("class", "row server slowest", "data-span-version").as_deref(), Some("v2"));
    // The finding, listed and marked on board's node (and on no other).
    assert_eq!(page.count("data-code", "MESH0501"), 1, "{}", page.dom);
    let board = page.dom.split("data-node-id=").find(|n| n.starts_with("\"default/board/v1\"")).unwrap();
    assert!(board.contains("data-findings=\"1\""), "no mark on board's node: {board}");
    assert_eq!(page.dom.matches("data-findings=").count(), 1, "{}", page.dom);
    let png = std::fs::read(&page.screenshot).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "no screenshot at {}", page.screenshot.display());

    // Traffic shifted back to v1: v2's calls fall to zero on the graph and its chart.
    let split =
        common::meshctl(&["generate", "traffic-split", "profile", "--subset", "v1=100", "--subset", "v2=0"]).stdout;
    assert_eq!(mesh.meshctl(&["apply", "-f", "-"], &split).code, 0);
    mesh.wait_healthy();
    // Requests v2 took before the change end within 2 s; the next window has none.
    common::poll("v2's traffic falls to zero", Duration::from_secs(10), || {
        let graph = dashboard.get("/api/graph");
        let series = dashboard.get("/api/services/default/profile/metrics");
        edge(&graph, FRONTEND, "default/profile/v2").is_some_and(|e| e["rps"] == 0.0)
            && latest(&series, "v2").is_some_and(|p| p["rps"] == 0.0)
    });
    let page = common::browser::render(&format!("{}#service=default/profile", dashboard.url()), dir.path(), "shifted");
    assert!(page.console.is_empty(), "the page logged: {:?}", page.console);
    let v2 = format!("{FRONTEND} default/profile/v2");
    assert_eq!(page.attribute_of("data-edge", &v2, "data-rps").as_deref(), Some("0.000"));
    // The first chart is the request rate.
    assert_eq!(page.attribute_of("data-chart-version", "v2", "data-last").as_deref(), Some("0"));
    assert!(
        page.attribute_of("data-edge", &format!("{FRONTEND} default/profile/v1"), "data-rps")
            .is_some_and(|r| r != "0.000")
    );
}
