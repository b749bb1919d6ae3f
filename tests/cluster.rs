//! meshctl on a real one-node cluster (`scripts/test-node`): a real kubelet, containerd, runc,
//! CNI, kube-proxy and CoreDNS, running meshctl's own images as a user's cluster would. The
//! tests of this binary share the node and the mesh installed on it (`node::mesh`), each in
//! namespaces of its own.

#[path = "cluster/admission.rs"]
mod admission;
#[path = "cluster/archives.rs"]
mod archives;
mod common;
#[path = "cluster/demo.rs"]
mod demo;
#[path = "cluster/gateway_api.rs"]
mod gateway_api;
#[path = "cluster/identity.rs"]
mod identity;
#[path = "cluster/inject.rs"]
mod inject;
#[path = "cluster/mesh.rs"]
mod mesh;
#[path = "cluster/registry.rs"]
mod registry;
#[path = "cluster/scale.rs"]
mod scale;
#[path = "cluster/security.rs"]
mod security;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use common::dashboard::{Dashboard, edge};
use common::images;
use common::node::{self, Node, demo_deployment, profile_route, profile_subsets, service};
use serde_json::{Value, json};

const DEADLINE: Duration = Duration::from_secs(60);

#[test]
fn install_waits_for_a_mesh_that_runs_then_changes_nothing_and_check_passes() {
    let mesh = node::mesh();
    let (node, _turn) = (mesh.node, mesh.share());
    assert!(mesh.install.stdout.contains("2 Deployment(s) available"), "{}", mesh.install.stdout);
    // The Pods run meshctl's image and Envoy's, as containers of the kubelet.
    let images = node.kubectl_ok(&[
        "-n",
        "meshctl-system",
        "get",
        "pods",
        "-o",
        "jsonpath={range .items[*]}{.status.containerStatuses[*].image}{\"\\n\"}{end}",
    ]);
    assert!(images.contains(images::MESHCTL) && images.contains(images::ENVOY), "{images}");

    let second = &mesh.reinstall;
    assert_eq!(second.code, 0, "{}{}", second.stdout, second.stderr);
    let changed: Vec<&str> =
        second.stdout.lines().filter(|l| !l.contains(" unchanged") && !l.starts_with('✓') && !l.is_empty()).collect();
    assert!(changed.is_empty(), "a second install changed: {changed:?}\n{}", second.stdout);

    // What a user runs next, and what the stand-in kubelet hid: the gateway's container is not
    // a sidecar, and it is listening.
    let check = &mesh.check;
    assert_eq!(check.code, 0, "{}{}", check.stdout, check.stderr);
    assert!(!check.stdout.contains('✗') && check.stdout.contains("gateway"), "{}", check.stdout);
}

/// The versions that answered `n` requests to `url` made from Pod `namespace/pod` (one
/// connection, as an app that keeps it alive; curl `options` first), and how many failed.
fn versions(node: &Node, namespace: &str, pod: &str, options: &[&str], url: &str, n: usize) -> (usize, usize, usize) {
    let mut args = options.to_vec();
    args.extend(["--write-out", "\n%{http_code}\n"]);
    args.extend(std::iter::repeat_n(url, n));
    let out = node.curl_in_pod(namespace, pod, &args).unwrap_or_default();
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

/// A server on the host, outside the cluster, answering every connection with `body`.
fn outside_server(body: &'static str) -> std::net::SocketAddr {
    let listener = TcpListener::bind((node::HOST_IP, 0)).expect("the host's address on the node's link");
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
fn injected_pods_reach_each_other_through_both_sidecars_with_nothing_set_in_the_app() {
    let mesh = node::mesh();
    let (node, _turn) = (mesh.node, mesh.share());
    let ns = "capture";
    let _namespace = node.namespace(ns, &["meshctl.io/inject=enabled"]);
    let objects = [
        service(ns, "profile"),
        profile_subsets(ns),
        profile_route(ns, 90, 10),
        demo_deployment(ns, "profile", &[("version", "v1")], &["--version", "v1"]),
        demo_deployment(ns, "profile", &[("version", "v2")], &["--version", "v2"]),
        demo_deployment(ns, "client", &[], &[]),
    ];
    node.apply(&objects.iter().map(Value::to_string).collect::<Vec<_>>().join("\n---\n"));
    node.wait(ns, "deployment", "condition=Available", DEADLINE);
    let (client, v1) = (node.pod_named(ns, "app=client"), node.pod_named(ns, "version=v1"));
    let stored: Value =
        serde_json::from_str(&node.kubectl_ok(&["-n", ns, "get", "pod", &client, "-o", "json"])).unwrap();
    let init: Vec<&str> =
        stored["spec"]["initContainers"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(init, [meshctl::kube::inject::INIT_CONTAINER, meshctl::kube::registry::PROXY_CONTAINER], "injected");
    let logs = || {
        format!(
            "controller:\n{}\nclient's proxy:\n{}",
            node.kubectl(&["-n", "meshctl-system", "logs", "deployment/meshctl-controller", "--tail", "30"]).stdout,
            node.kubectl(&["-n", ns, "logs", &client, "-c", "meshctl-proxy", "--tail", "30"]).stdout,
        )
    };

    // The application calls the Service by its short name, with no proxy setting: cluster DNS
    // answers in the Pod (curl runs in its network, not its files, so it is told the answer),
    // capture takes the call to its sidecar, which routes it by the VirtualService over mTLS to
    // profile's Pods.
    let resolved = node.kubectl_ok(&["-n", ns, "exec", &client, "-c", "app", "--", "getent", "hosts", "profile"]);
    let cluster_ip = resolved.split_whitespace().next().unwrap_or_default().to_string();
    let service_ip = node.kubectl_ok(&["-n", ns, "get", "service", "profile", "-o", "jsonpath={.spec.clusterIP}"]);
    assert_eq!(cluster_ip, service_ip, "profile resolves to its Service in the client's Pod: {resolved}");
    let resolve = format!("profile:80:{cluster_ip}");
    let dns = ["--resolve", resolve.as_str()];
    let url = "http://profile/";
    let routed = common::within(DEADLINE, || versions(node, ns, &client, &dns, url, 10).2 == 0);
    assert!(routed, "the client's calls to {url} never all succeeded\n{}", logs());
    let (to_v1, to_v2, failed) = versions(node, ns, &client, &dns, url, 400);
    assert_eq!(failed, 0, "{}", logs());
    assert!((20..=60).contains(&to_v2), "90/10 split gave v1 {to_v1}, v2 {to_v2}");

    // Both proxies report their spans to the controller; `meshctl trace` reads them through the
    // API server, one trace per call: the client's sidecar's span, and profile's below it.
    let mut trace = Value::Null;
    common::poll("the client's calls are traced", DEADLINE, || {
        let run = node.meshctl(&["trace", "profile", "-n", ns, "--limit", "5", "-o", "json"]);
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
        (&json!("client"), &json!(ns), &json!("client")),
        "{trace}"
    );
    assert_eq!(
        (&callee["service"], &callee["kind"], &callee["parent_id"]),
        (&json!("profile"), &json!("server"), &caller["span_id"]),
        "{trace}"
    );
    assert!(["v1", "v2"].contains(&callee["version"].as_str().unwrap()), "{trace}");
    // The dashboard on the cluster: the client's calls on its graph, each version's share.
    let kubeconfig = node.kubeconfig();
    let dashboard = Dashboard::start(&["--kubeconfig", kubeconfig.to_str().unwrap()], &[]);
    common::poll("the dashboard's graph has the client's calls to profile", DEADLINE, || {
        versions(node, ns, &client, &dns, url, 10);
        let graph = dashboard.get("/api/graph");
        edge(&graph, &format!("{ns}/client"), &format!("{ns}/profile/v1"))
            .is_some_and(|e| e["rps"].as_f64() > Some(0.0))
    });

    // An address outside the mesh is passed through as the application addressed it.
    let outside = outside_server("outside the mesh");
    let answer = node.curl_in_pod(ns, &client, &[&format!("http://{outside}/")]);
    assert_eq!(answer.as_deref(), Some("outside the mesh"), "{}", logs());

    // Under STRICT, a plaintext client outside the mesh is refused at profile's Pod address,
    // on the application's port and on the proxy's own; mesh traffic goes on.
    let v1_ip = node.kubectl_ok(&["-n", ns, "get", "pod", &v1, "-o", "jsonpath={.status.podIP}"]);
    let plain = format!("http://{v1_ip}:8080/");
    let from_host = |url: &str| {
        let output = std::process::Command::new("curl").args(["--silent", "--max-time", "5", url]).output().unwrap();
        output.status.success().then(|| String::from_utf8_lossy(&output.stdout).into_owned())
    };
    assert!(from_host(&plain).is_some(), "PERMISSIVE lets plaintext in");
    let strict = json!({
        "apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
        "metadata": { "name": "default", "namespace": ns },
        "spec": { "mtls": { "mode": "STRICT" } },
    });
    node.apply(&strict.to_string());
    common::poll("STRICT refuses plaintext at profile's Pod", DEADLINE, || from_host(&plain).is_none());
    for port in [15006, 15001, 9999] {
        let around = format!("http://{v1_ip}:{port}/");
        assert_eq!(from_host(&around), None, "plaintext reached {around} under STRICT");
    }
    let (_, _, failed) = versions(node, ns, &client, &dns, url, 50);
    assert_eq!(failed, 0, "mesh traffic under STRICT\n{}", logs());
    // The kubelet still finds profile ready, through the probe rewritten to the proxy's health
    // port, which capture leaves alone.
    let probe = format!("http://{v1_ip}:{}/app-health/app/readyz", meshctl::kube::inject::HEALTH_PORT);
    assert_eq!(from_host(&probe).as_deref(), Some("ok\n"), "the rewritten probe under STRICT");
    node.wait(ns, &format!("pod/{v1}"), "condition=Ready", DEADLINE);
}

/// The status of container `name` of `pod` (an init container's or an application's).
fn container_status<'p>(pod: &'p Value, name: &str) -> &'p Value {
    let statuses = pod["status"]["initContainerStatuses"].as_array().into_iter().flatten();
    statuses
        .chain(pod["status"]["containerStatuses"].as_array().into_iter().flatten())
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no status of container {name}: {}", pod["status"]))
}

fn pod_json(node: &Node, namespace: &str, pod: &str) -> Value {
    serde_json::from_str(&node.kubectl_ok(&["-n", namespace, "get", "pod", pod, "-o", "json"])).unwrap()
}

#[test]
fn the_app_starts_once_its_proxy_is_configured_and_a_meshed_job_completes() {
    let mesh = node::mesh();
    let (node, _turn) = (mesh.node, mesh.share());
    let ns = "lifecycle";
    let _namespace = node.namespace(ns, &["meshctl.io/inject=enabled"]);
    let profile = demo_deployment(ns, "profile", &[], &[]);
    node.apply(&format!("{}\n---\n{profile}", service(ns, "profile")));
    node.wait(ns, "deployment/profile", "condition=Available", DEADLINE);
    let pod = node.pod_named(ns, "app=profile");
    let stored = pod_json(node, ns, &pod);

    // Capture's init container ran to completion under runc, then the native sidecar started,
    // and the kubelet held the app back until the proxy's startup probe (its configuration from
    // the controller) passed.
    let capture = container_status(&stored, meshctl::kube::inject::INIT_CONTAINER);
    assert_eq!(capture["state"]["terminated"]["exitCode"], 0, "{capture}");
    let proxy = container_status(&stored, meshctl::kube::registry::PROXY_CONTAINER);
    assert_eq!((&proxy["started"], &proxy["ready"]), (&json!(true), &json!(true)), "{proxy}");
    let app = container_status(&stored, "app");
    let started = |status: &Value| status["state"]["running"]["startedAt"].as_str().unwrap_or_default().to_string();
    assert!(!started(app).is_empty() && started(app) >= started(proxy), "app {app}\nproxy {proxy}");

    // What a user types: logs of the proxy, a command in the app's container, which runs as the
    // image's user while the proxy runs as Istio's.
    let logs = node.kubectl(&["-n", ns, "logs", &pod, "-c", meshctl::kube::registry::PROXY_CONTAINER]);
    assert_eq!(logs.code, 0, "{}", logs.stderr);
    let id = |container: &str| node.kubectl_ok(&["-n", ns, "exec", &pod, "-c", container, "--", "id", "-u"]);
    assert_eq!(id("app").trim(), "65532");
    assert_eq!(id(meshctl::kube::registry::PROXY_CONTAINER).trim(), "1337");

    // A Job's Pod in the mesh finishes: its sidecar stops once the Job's container exits.
    let job = json!({
        "apiVersion": "batch/v1", "kind": "Job", "metadata": { "name": "once", "namespace": ns },
        "spec": { "backoffLimit": 0, "template": { "spec": {
            "restartPolicy": "Never",
            "containers": [{ "name": "once", "image": images::MESHCTL, "imagePullPolicy": "Never", "args": ["--version"] }],
        }}},
    });
    node.apply(&job.to_string());
    node.wait(ns, "job/once", "condition=Complete", DEADLINE);
    let phase =
        node.kubectl_ok(&["-n", ns, "get", "pods", "-l", "job-name=once", "-o", "jsonpath={.items[*].status.phase}"]);
    assert_eq!(phase, "Succeeded");
}

#[test]
fn a_pod_whose_proxy_gets_no_configuration_never_starts_its_app() {
    let mesh = node::mesh();
    let (node, _turn) = (mesh.node, mesh.share());
    let ns = "unconfigured";
    let _namespace = node.namespace(ns, &[]);
    // Injected offline as the webhook would, but its proxy told of a control plane that does
    // not exist.
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": { "name": "stranded", "namespace": ns, "labels": { "app": "stranded" } },
        "spec": { "containers": [{
            "name": "app", "image": images::MESHCTL, "imagePullPolicy": "Never",
            "args": ["demo-app", "--name", "stranded", "--address", "0.0.0.0", "--port", "8080"],
        }]},
    });
    let injected = common::meshctl_with_input(
        &["inject", "-f", "-", "--image", images::MESHCTL, "--envoy-image", images::ENVOY],
        &pod.to_string(),
    );
    assert_eq!(injected.code, 0, "{}", injected.stderr);
    let controller = format!("{}.{}.svc", meshctl::kube::install::CONTROLLER, meshctl::kube::install::NAMESPACE);
    assert!(injected.stdout.contains(&controller), "{}", injected.stdout);
    node.apply(&injected.stdout.replace(&controller, &format!("nowhere.{}.svc", meshctl::kube::install::NAMESPACE)));

    // The proxy runs and keeps failing its startup probe; the app is never started.
    common::poll("the stranded proxy runs", DEADLINE, || {
        let stored = pod_json(node, ns, "stranded");
        stored["status"]["initContainerStatuses"].as_array().is_some_and(|s| {
            s.iter().any(|c| c["name"] == meshctl::kube::registry::PROXY_CONTAINER && c["state"]["running"].is_object())
        })
    });
    let held = common::within(Duration::from_secs(10), || {
        let stored = pod_json(node, ns, "stranded");
        container_status(&stored, "app")["state"]["waiting"].is_null()
    });
    let stored = pod_json(node, ns, "stranded");
    assert!(!held, "the app started without a configured proxy: {}", stored["status"]);
    let ready = stored["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["type"] == "Ready" && c["status"] == "True");
    assert!(!ready, "{}", stored["status"]);
}

#[test]
fn uninstall_leaves_meshed_workloads_serving_and_their_next_pods_run_plain() {
    let mesh = node::mesh();
    // The mesh goes away for everyone, and comes back with the guard.
    let _alone = mesh.alone();
    let node = mesh.node;
    let ns = "uninstalled";
    let _namespace = node.namespace(ns, &["meshctl.io/inject=enabled"]);
    let objects = [service(ns, "profile"), demo_deployment(ns, "profile", &[("version", "v1")], &["--version", "v1"])];
    node.apply(&objects.iter().map(Value::to_string).collect::<Vec<_>>().join("\n---\n"));
    node.wait(ns, "deployment", "condition=Available", DEADLINE);
    let meshed = node.pod_named(ns, "app=profile");
    let init =
        |pod: &str| node.kubectl_ok(&["-n", ns, "get", "pod", pod, "-o", "jsonpath={.spec.initContainers[*].name}"]);
    assert!(init(&meshed).contains(meshctl::kube::registry::PROXY_CONTAINER), "{}", init(&meshed));
    let ip = node.kubectl_ok(&["-n", ns, "get", "service", "profile", "-o", "jsonpath={.spec.clusterIP}"]);
    let address = std::net::SocketAddr::new(ip.parse().unwrap(), 80);

    // Callers from outside the mesh, through the Service, while the mesh is removed.
    let load = mesh::Load::start(address, format!("profile.{ns}"));
    let _reinstall = node::Reinstall(node);
    let run = node.meshctl(&["uninstall"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    common::poll("the mesh's Pods are gone", DEADLINE, || {
        node.kubectl_ok(&["-n", meshctl::kube::install::NAMESPACE, "get", "pods", "-o", "name"]).trim().is_empty()
    });
    // Still answering with no control plane: the sidecar keeps what it runs.
    common::poll("requests go on being answered", DEADLINE, || load_answers(address, ns, 20));
    let tally = load.stop();
    println!("uninstall under load, through profile's Service: {tally}");
    assert!(tally.sent > 0 && tally.failures.is_empty(), "requests failed while the mesh was removed: {tally}");

    // The next Pod is a plain one, and serves.
    node.kubectl_ok(&["-n", ns, "rollout", "restart", "deployment/profile-v1"]);
    node.kubectl_ok(&["-n", ns, "rollout", "status", "deployment/profile-v1", "--timeout=120s"]);
    common::poll("the meshed Pod is gone", Duration::from_secs(120), || {
        node.kubectl(&["-n", ns, "get", "pod", &meshed]).code != 0
    });
    let plain = node.pod_named(ns, "app=profile");
    assert_eq!(init(&plain), "", "the Pod made after uninstall has no sidecar");
    common::poll("the plain Pod answers through the Service", DEADLINE, || load_answers(address, ns, 5));
}

/// Whether `n` requests to profile's Service at `address` are all answered by v1.
fn load_answers(address: std::net::SocketAddr, ns: &str, n: usize) -> bool {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    (0..n).all(|_| runtime.block_on(mesh::call(address, &format!("profile.{ns}"))).as_deref() == Ok("v1"))
}

/// What a TCP server at `address` says to a client in Pod `namespace/pod` that sends `line`:
/// everything until the server closes or a second passes with nothing more.
fn tcp_in_pod(node: &Node, namespace: &str, pod: &str, address: &str, line: &str) -> String {
    let pid = node.pod_process(namespace, pod);
    let (host, port) = address.rsplit_once(':').unwrap();
    let script = format!(
        "import socket\ns=socket.create_connection(('{host}',{port}),timeout=5)\ns.sendall(b'{line}\\n')\n\
         s.settimeout(1)\nout=b''\ntry:\n  while True:\n    d=s.recv(100)\n    if not d: break\n    out+=d\n\
         except Exception: pass\nprint(out.decode(), end='')\n"
    );
    let output = std::process::Command::new("nsenter")
        .args(["--target", &pid.to_string(), "--net", "python3", "-c", &script])
        .output()
        .expect("nsenter runs");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn every_port_of_a_service_is_meshed_and_strict_refuses_plaintext_on_each() {
    let mesh = node::mesh();
    let (node, _turn) = (mesh.node, mesh.share());
    let ns = "ports";
    let _namespace = node.namespace(ns, &["meshctl.io/inject=enabled"]);
    let db = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": { "name": "db", "namespace": ns },
        "spec": { "selector": { "app": "db" }, "ports": [
            { "name": "http", "port": 80, "targetPort": 8080 },
            { "name": "tcp-echo", "port": 5432, "targetPort": 5432 },
            { "name": "api", "port": 9090, "targetPort": 9090, "appProtocol": "grpc" },
        ]},
    });
    let strict = json!({
        "apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
        "metadata": { "name": "default", "namespace": ns },
        "spec": { "mtls": { "mode": "STRICT" } },
    });
    let objects = [
        db,
        strict,
        demo_deployment(
            ns,
            "db",
            &[("version", "v1")],
            &["--version", "v1", "--tcp-port", "5432", "--grpc-port", "9090"],
        ),
        demo_deployment(ns, "client", &[], &[]),
    ];
    node.apply(&objects.iter().map(Value::to_string).collect::<Vec<_>>().join("\n---\n"));
    node.wait(ns, "deployment", "condition=Available", DEADLINE);
    let (client, db_pod) = (node.pod_named(ns, "app=client"), node.pod_named(ns, "app=db"));
    let ip = node.kubectl_ok(&["-n", ns, "get", "service", "db", "-o", "jsonpath={.spec.clusterIP}"]);
    let logs = || node.kubectl(&["-n", ns, "logs", &client, "-c", "meshctl-proxy", "--tail", "30"]).stdout;

    // The client calls both ports by the Service's address, knowing nothing of a proxy.
    let resolve = format!("db:80:{ip}");
    let http = || node.curl_in_pod(ns, &client, &["--resolve", &resolve, "http://db/"]);
    common::poll("the client's HTTP calls to db answer", DEADLINE, || http().is_some_and(|b| b.contains("\"db\"")));
    let tcp = format!("{ip}:5432");
    let echoed = common::within(DEADLINE, || tcp_in_pod(node, ns, &client, &tcp, "ping") == "db v1\nping\n");
    assert!(
        echoed,
        "db's TCP port through both sidecars: {:?}\n{}",
        tcp_in_pod(node, ns, &client, &tcp, "ping"),
        logs()
    );

    // From the host, outside the mesh, plaintext to db's Pod is refused on both ports.
    let pod_ip = node.kubectl_ok(&["-n", ns, "get", "pod", &db_pod, "-o", "jsonpath={.status.podIP}"]);
    for port in [8080, 5432] {
        let plain = std::net::TcpStream::connect((pod_ip.as_str(), port)).and_then(|mut stream| {
            use std::io::{Read, Write};
            stream.set_read_timeout(Some(Duration::from_secs(3)))?;
            stream.write_all(b"GET / HTTP/1.1\r\nHost: db\r\n\r\n")?;
            let mut answer = Vec::new();
            stream.read_to_end(&mut answer)?;
            Ok(answer)
        });
        assert!(plain.as_ref().is_ok_and(Vec::is_empty) || plain.is_err(), "plaintext to {pod_ip}:{port}: {plain:?}");
    }

    // A rule about paths on db's TCP port, stored by kubectl: `analyze` knows the port's
    // protocol from the Pods that run, and says the rule can never match.
    let http_on_tcp = json!({
        "apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
        "metadata": { "name": "db-paths", "namespace": ns },
        "spec": { "selector": { "matchLabels": { "app": "db" } }, "rules": [
            { "to": [{ "operation": { "ports": ["5432"], "paths": ["/admin"] } }] },
        ]},
    });
    node.apply(&http_on_tcp.to_string());
    let run = node.meshctl(&["analyze", "-n", ns, "-o", "json"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    let finding = report["findings"].as_array().unwrap().iter().find(|f| f["code"] == "MESH0305").cloned();
    let finding = finding.unwrap_or_else(|| panic!("no MESH0305: {report}"));
    assert_eq!(finding["resource"], format!("AuthorizationPolicy/{ns}/db-paths"), "{finding}");
}

#[test]
fn service_entries_reach_servers_outside_the_cluster_and_registry_only_closes_the_rest() {
    let mesh = node::mesh();
    // The outbound traffic policy is the whole mesh's.
    let (node, _turn) = (mesh.node, mesh.alone());
    let ns = "external";
    let _namespace = node.namespace(ns, &["meshctl.io/inject=enabled"]);
    let (billing, ledger, unknown) =
        (outside_server("billing"), outside_server("ledger"), outside_server("nobody declared me"));
    let entries = format!(
        "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {{name: billing, namespace: {ns}}}\n\
         spec:\n  hosts: [billing.example.test]\n  addresses: [240.0.0.10]\n  resolution: STATIC\n\
         \x20 ports: [{{number: 80, name: http, protocol: HTTP}}]\n\
         \x20 endpoints: [{{address: {host}, ports: {{http: {}}}}}]\n---\n\
         apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {{name: ledger, namespace: {ns}}}\n\
         spec:\n  hosts: [ledger.example.test]\n  resolution: NONE\n\
         \x20 ports: [{{number: {}, name: http, protocol: HTTP}}]\n",
        billing.port(),
        ledger.port(),
        host = node::HOST_IP,
    );
    node.apply(&entries);
    node.apply(&demo_deployment(ns, "client", &[], &[]).to_string());
    node.wait(ns, "deployment", "condition=Available", DEADLINE);
    let client = node.pod_named(ns, "app=client");
    // The application resolves the names itself (curl is told what it would find): the
    // billing entry's virtual address, and the ledger server's own.
    let call = |resolve: String, url: String| {
        node.curl_in_pod(ns, &client, &["--resolve", &resolve, "--write-out", " %{http_code}", &url])
    };
    let to_billing = || call("billing.example.test:80:240.0.0.10".into(), "http://billing.example.test/".into());
    let to_ledger = || {
        let port = ledger.port();
        call(
            format!("ledger.example.test:{port}:{ledger}", ledger = node::HOST_IP),
            format!("http://ledger.example.test:{port}/"),
        )
    };
    let to_unknown = || node.curl_in_pod(ns, &client, &["--write-out", " %{http_code}", &format!("http://{unknown}/")]);
    common::poll("the billing entry answers", DEADLINE, || to_billing().as_deref() == Some("billing 200"));
    assert_eq!(to_ledger().as_deref(), Some("ledger 200"), "a NONE entry, at the address the caller resolved");
    assert_eq!(to_unknown().as_deref(), Some("nobody declared me 200"), "ALLOW_ANY, the default, lets it through");

    let _reinstall = node::Reinstall(node);
    let registry_only = [&node::INSTALL[..], &["--outbound-traffic-policy", "REGISTRY_ONLY"]].concat();
    let run = node.meshctl(&registry_only);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    common::poll("REGISTRY_ONLY closes connections to undeclared addresses", DEADLINE, || to_unknown().is_none());
    assert_eq!(to_billing().as_deref(), Some("billing 200"), "a declared host still answers");
    assert_eq!(to_ledger().as_deref(), Some("ledger 200"));
    // On a port an entry opens to any address, a host no one declared gets an answer that
    // says why.
    let port = ledger.port();
    let stranger = call(
        format!("stranger.example.test:{port}:{}", node::HOST_IP),
        format!("http://stranger.example.test:{port}/"),
    );
    let stranger = stranger.unwrap_or_default();
    assert!(stranger.ends_with(" 502") && stranger.contains("REGISTRY_ONLY"), "{stranger}");
}

#[test]
fn tls_the_application_owns_is_routed_by_the_name_it_asks_for() {
    let mesh = node::mesh();
    let (node, _turn) = (mesh.node, mesh.share());
    let ns = "sni";
    let _namespace = node.namespace(ns, &["meshctl.io/inject=enabled"]);
    let ca = common::tls::TestCa::new();
    let host = std::net::IpAddr::from(node::HOST_IP);
    let alpha = ca.server(host, &["alpha.example.test", "beta.example.test"], "alpha");
    let beta = ca.server(host, &["beta.example.test"], "beta");
    let entry = |name: &str, port: u16| {
        format!(
            "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {{name: {name}, namespace: {ns}}}\n\
             spec:\n  hosts: [{name}.example.test]\n  resolution: STATIC\n\
             \x20 ports: [{{number: 443, name: tls, protocol: TLS}}]\n\
             \x20 endpoints: [{{address: {host}, ports: {{tls: {port}}}}}]\n"
        )
    };
    node.apply(&[entry("alpha", alpha.port()), entry("beta", beta.port())].join("---\n"));
    node.apply(&demo_deployment(ns, "client", &[], &[]).to_string());
    node.wait(ns, "deployment", "condition=Available", DEADLINE);
    let client = node.pod_named(ns, "app=client");
    // Both names resolve to one address the mesh does not know: only the name the client
    // asks for in its handshake tells them apart.
    let root = ca.root_file.to_str().unwrap().to_string();
    let get = |name: &str| {
        let resolve = format!("{name}:443:240.0.0.30");
        node.curl_in_pod(ns, &client, &["--resolve", &resolve, "--cacert", &root, &format!("https://{name}/")])
    };
    common::poll("alpha answers by its name", DEADLINE, || get("alpha.example.test").as_deref() == Some("alpha"));
    assert_eq!(get("beta.example.test").as_deref(), Some("beta"));

    let reroute = json!({
        "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
        "metadata": { "name": "beta", "namespace": ns },
        "spec": { "hosts": ["beta.example.test"], "tls": [{
            "match": [{ "port": 443, "sniHosts": ["beta.example.test"] }],
            "route": [{ "destination": { "host": "alpha.example.test" } }],
        }]},
    });
    node.apply(&reroute.to_string());
    common::poll("the tls rule sends beta's name to alpha", DEADLINE, || {
        get("beta.example.test").as_deref() == Some("alpha")
    });
}

#[test]
fn spans_posted_from_outside_the_mesh_are_refused_and_not_stored() {
    use meshctl::kube::install::{GATEWAY, NAMESPACE as SYSTEM, XDS_PORT};
    let mesh = node::mesh();
    let (node, _turn) = (mesh.node, mesh.share());
    let controller = node.controller_pod();
    let ip = node.kubectl_ok(&["-n", SYSTEM, "get", "pod", &controller, "-o", "jsonpath={.status.podIP}"]);
    let gateway = node.pod_named(SYSTEM, &format!("app.kubernetes.io/name={GATEWAY}"));
    // A span as the gateway's Envoy would send it, naming the gateway as its reporter.
    let trace_id = "0123456789abcdef0123456789abcdef";
    let span = json!([{
        "traceId": trace_id, "id": "0123456789abcdef", "kind": "SERVER", "name": "forged",
        "timestamp": 1_795_896_185_462_457u64, "duration": 1355,
        "localEndpoint": { "serviceName": "gateway" },
        "tags": { "node_id": format!("{gateway}.{SYSTEM}"), "http.status_code": "200" },
    }]);
    // Over TLS, on the proxies' port; a caller from outside the mesh need not check whose
    // certificate it is.
    let url = format!("https://{ip}:{XDS_PORT}{}", meshctl::translate::SPANS_PATH);
    for credential in [None, Some("Bearer not-a-token")] {
        let mut curl = std::process::Command::new("curl");
        curl.args([
            "--silent",
            "--insecure",
            "--http2",
            "--max-time",
            "5",
            "--write-out",
            " %{http_code}",
            "-X",
            "POST",
        ]);
        curl.args(["-H", "content-type: application/json", "--data", &span.to_string()]);
        if let Some(credential) = credential {
            curl.args(["-H", &format!("authorization: {credential}")]);
        }
        let output = curl.arg(&url).output().unwrap();
        let answer = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            answer.ends_with(" 401") && answer.contains("only from the mesh's proxies"),
            "{credential:?}: {answer}"
        );
    }
    let stored = node.controller_status(SYSTEM, &controller, &format!("/debug/traces?trace_id={trace_id}"));
    assert_eq!(stored["traces"], json!([]), "the forged span is not among the traces: {stored}");
}
