//! Transparent capture on a cluster, end to end: Pods created through the real kube-apiserver
//! in a namespace labelled for injection get their sidecar from the controller's webhook; the
//! test kubelet runs what the API server stored — the capture init container writes real
//! iptables rules in the Pod's network namespace, Envoy runs as UID 1337 — and the
//! applications know nothing of a proxy.
//!
//! ```text
//!   client Pod: curl http://CLUSTER_IP/ ─nat─▶ Envoy :15001 ══mTLS══▶ profile Pod: nat ─▶ Envoy :15006 ─▶ app :8080
//!   host: curl http://PROFILE_POD_IP:8080/ ──────────────────────────▶ nat ─▶ Envoy :15006 (STRICT: refused)
//! ```

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::time::Duration;

use common::control_plane;
use common::dashboard::{Dashboard, edge};
use common::kube::KubeApiServer;
use common::kubelet::{self, HOST_IP, MESHCTL_IMAGE, RunningPod, mk_container, mk_pod};
use serde_json::{Value, json};

const DEADLINE: Duration = Duration::from_secs(60);
const APP_PORT: u16 = 8080;

fn ok(answer: common::kube::Answer, what: &str) -> Value {
    assert!(answer.status < 300, "{what}: {}", answer.json());
    answer.json()
}

/// `curl ARGS` run by a process in `pod`'s network namespace (`None`: on the host); its
/// output, or `None` when curl failed.
fn curl(pod: Option<&RunningPod>, args: &[&str]) -> Option<String> {
    let mut command = match pod {
        Some(pod) => {
            let mut command = Command::new("ip");
            command.args(["netns", "exec", &pod.netns, "curl"]);
            command
        }
        None => Command::new("curl"),
    };
    let output = command.args(["--silent", "--max-time", "5"]).args(args).output().expect("curl runs");
    output.status.success().then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The versions that answered `n` requests to `url` from `pod` (one connection, as an app
/// that keeps it alive), and how many failed.
fn versions(pod: &RunningPod, url: &str, n: usize) -> (usize, usize, usize) {
    let mut args = vec!["--write-out", "\n%{http_code}\n"];
    args.extend(std::iter::repeat_n(url, n));
    let out = curl(Some(pod), &args).unwrap_or_default();
    let lines: Vec<&str> = out.lines().collect();
    let (mut v1, mut v2, mut failed) = (0, 0, n);
    for answer in lines.chunks(2) {
        let [body, code] = answer else { continue };
        let version = serde_json::from_str::<Value>(body).ok().and_then(|b| b["version"].as_str().map(String::from));
        match (*code, version.as_deref()) {
            ("200", Some("v1")) => v1 += 1,
            ("200", Some("v2")) => v2 += 1,
            _ => continue,
        }
        failed -= 1;
    }
    (v1, v2, failed)
}

fn app_pod(name: &str, labels: &[(&str, &str)], args: &[&str]) -> Value {
    let mut app = mk_container("app", MESHCTL_IMAGE, args, APP_PORT);
    app["readinessProbe"] = json!({ "httpGet": { "path": "/healthz", "port": APP_PORT }, "periodSeconds": 1 });
    mk_pod("shop", name, labels, vec![app])
}

/// A server on the host, outside the mesh, answering every connection with `body`.
fn outside_server(body: &'static str) -> std::net::SocketAddr {
    let listener = TcpListener::bind((HOST_IP, 0)).expect("the host's address on the Pods' links");
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf);
            let reply = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
            let _ = stream.write_all(reply.as_bytes());
        }
    });
    addr
}

#[test]
fn captured_pods_reach_each_other_through_both_sidecars_with_nothing_set_in_the_app() {
    let server = KubeApiServer::start();
    let kubelet = control_plane::kubelet(&server);
    // Every request traced, as the local mesh does by default.
    let controller = control_plane::injecting_mesh(&server, &kubelet, &["--trace-sampling", "100"], &[]);
    let service = control_plane::profile_service(&server, APP_PORT);
    let cluster_ip = service["spec"]["clusterIP"].as_str().unwrap().to_string();
    let route = json!({
        "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
        "metadata": { "name": "profile", "namespace": "shop" },
        "spec": { "hosts": ["profile"], "http": [{ "route": [
            { "destination": { "host": "profile", "subset": "v1" }, "weight": 90 },
            { "destination": { "host": "profile", "subset": "v2" }, "weight": 10 },
        ]}]},
    });
    ok(server.post("/apis/networking.istio.io/v1/namespaces/shop/virtualservices", &route), "VirtualService");

    let serve = |version: &'static str| {
        let args = ["demo-app", "--name", "profile", "--version", version, "--address", "0.0.0.0", "--port", "8080"];
        kubelet.run(app_pod(&format!("profile-{version}"), &[("app", "profile"), ("version", version)], &args))
    };
    let v1 = serve("v1");
    let _v2 = serve("v2");
    kubelet::sync_endpoint_slice(&server, "shop", "profile");
    let client_args = ["demo-app", "--name", "client", "--address", "0.0.0.0", "--port", "8080"];
    let client = kubelet.run(app_pod("client", &[("app", "client")], &client_args));
    let stored = server.get("/api/v1/namespaces/shop/pods/client").json();
    assert_eq!(stored["spec"]["initContainers"][0]["name"], meshctl::kube::inject::INIT_CONTAINER, "injected");
    let logs = || format!("controller:\n{}\nclient:\n{}", kubelet.logs(&controller), kubelet.logs(&client));

    // The application calls the Service's cluster IP, with no proxy setting: capture takes the
    // call to its sidecar, which routes it by the VirtualService over mTLS to profile's Pods.
    let url = format!("http://{cluster_ip}/");
    let routed = common::within(DEADLINE, || versions(&client, &url, 10).2 == 0);
    assert!(routed, "the client's calls to {url} never all succeeded\n{}", logs());
    let (to_v1, to_v2, failed) = versions(&client, &url, 400);
    assert_eq!(failed, 0, "{}", logs());
    assert!((20..=60).contains(&to_v2), "90/10 split gave v1 {to_v1}, v2 {to_v2}");

    // Both proxies report their spans to the controller; `meshctl trace` reads them through the
    // API server, one trace per call: the client's sidecar's span, and profile's below it.
    let kubeconfig = server.kubeconfig();
    let cluster = ["--kubeconfig", kubeconfig.to_str().unwrap()];
    let mut trace = Value::Null;
    common::poll("the client's calls are traced", DEADLINE, || {
        let run = common::meshctl(
            &[&["trace", "profile", "-n", "shop", "--limit", "5", "-o", "json"], &cluster[..]].concat(),
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
        let traces: Value = serde_json::from_str(&run.stdout).unwrap();
        trace = traces["traces"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["spans"].as_array().unwrap().len() == 2)
            .cloned()
            .unwrap_or_default();
        !trace.is_null()
    });
    let spans = trace["spans"].as_array().unwrap();
    let (caller, callee) = (&spans[0], &spans[1]);
    assert_eq!(
        (&caller["service"], &caller["namespace"], &caller["kind"]),
        (&json!("client"), &json!("shop"), &json!("client")),
        "{trace}"
    );
    assert_eq!(
        (&callee["service"], &callee["kind"], &callee["parent_id"]),
        (&json!("profile"), &json!("server"), &caller["span_id"]),
        "{trace}"
    );
    assert!(["v1", "v2"].contains(&callee["version"].as_str().unwrap()), "{trace}");
    // The dashboard on the cluster: the client's calls on its graph, each version's share.
    let dashboard = Dashboard::start(&cluster, &[]);
    common::poll("the dashboard's graph has the client's calls to profile", DEADLINE, || {
        versions(&client, &url, 10);
        let graph = dashboard.get("/api/graph");
        edge(&graph, "shop/client", "shop/profile/v1").is_some_and(|e| e["rps"].as_f64() > Some(0.0))
    });

    // An address outside the mesh is passed through as the application addressed it.
    let outside = outside_server("outside the mesh");
    let answer = curl(Some(&client), &[&format!("http://{outside}/")]);
    assert_eq!(answer.as_deref(), Some("outside the mesh"), "{}", logs());

    // Under STRICT, a plaintext client outside the mesh is refused at profile's Pod address,
    // on the application's port and on the proxy's own; mesh traffic goes on.
    let strict = json!({
        "apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
        "metadata": { "name": "default", "namespace": "shop" },
        "spec": { "mtls": { "mode": "STRICT" } },
    });
    let plain = format!("http://{}:{APP_PORT}/", v1.ip);
    assert!(curl(None, &[&plain]).is_some(), "PERMISSIVE lets plaintext in");
    ok(server.post("/apis/security.istio.io/v1/namespaces/shop/peerauthentications", &strict), "PeerAuthentication");
    common::poll("STRICT refuses plaintext at profile's Pod", DEADLINE, || curl(None, &[&plain]).is_none());
    for port in [15006, 15001, 9999] {
        let around = format!("http://{}:{port}/", v1.ip);
        assert_eq!(curl(None, &[&around]), None, "plaintext reached {around} under STRICT");
    }
    let (_, _, failed) = versions(&client, &url, 50);
    assert_eq!(failed, 0, "mesh traffic under STRICT\n{}", logs());
    // The kubelet still reaches the application's readiness check, rewritten to the proxy's
    // health port, which capture leaves alone.
    let probe = format!("http://{}:{}/app-health/app/readyz", v1.ip, meshctl::kube::inject::HEALTH_PORT);
    assert_eq!(curl(None, &[&probe]).as_deref(), Some("ok\n"), "the rewritten probe under STRICT");
}
