//! The mesh on a cluster, end to end against the real kube-apiserver: `meshctl install`, the
//! controller (`meshctl controller --kubernetes`) signed in as the ServiceAccount install made,
//! Pods with real Envoy sidecars in network namespaces of their own (the test plays the
//! kubelet), and traffic through the ingress gateway's Pod.
//!
//! ```text
//!   test ──HTTP──▶ gateway Pod (Envoy) ──▶ profile-v1 / profile-v2 Pods (Envoy :15006 ─▶ app)
//!                        ▲ ADS (the controller Pod's IP) ▲
//!   controller Pod (meshctl controller --kubernetes) ─────┘ ◀── lists and watches ── kube-apiserver
//! ```

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use common::control_plane;
use common::kube::KubeApiServer;
use common::kubelet::{self, ENVOY_IMAGE, Kubelet, MESHCTL_IMAGE, RunningPod, mk_container, mk_pod};
use meshctl::kube::identity;
use meshctl::kube::install::{self, GATEWAY, NAMESPACE, STATS_PORT};
use serde_json::{Value, json};

const DEADLINE: Duration = Duration::from_secs(60);
/// Where the gateway's Envoy takes traffic in its Pod.
const GATEWAY_PORT: u16 = install::GATEWAY_HTTP_PORT;
const APP_PORT: u16 = 8080;
/// The host the requests name: profile's Service in namespace shop.
const PROFILE: &str = "profile.shop.svc.cluster.local";

fn ok(answer: common::kube::Answer, what: &str) -> Value {
    assert!(answer.status < 300, "{what}: {}", answer.json());
    answer.json()
}

/// Envoy as a Pod's proxy container, started from `bootstrap`, its node id `POD.NAMESPACE`,
/// ready once the control plane has configured it.
fn mk_proxy(bootstrap: &Path) -> Value {
    let field = |path: &str| json!({ "fieldRef": { "fieldPath": path } });
    json!({
        "name": meshctl::kube::registry::PROXY_CONTAINER,
        "image": ENVOY_IMAGE,
        "args": [
            "-c", bootstrap.to_str().unwrap(),
            "--service-node", "$(POD_NAME).$(POD_NAMESPACE)", "--service-cluster", "$(POD_NAMESPACE)",
            "--disable-hot-restart", "--concurrency", "1", "--log-level", "warning",
        ],
        "env": [
            { "name": "POD_NAME", "valueFrom": field("metadata.name") },
            { "name": "POD_NAMESPACE", "valueFrom": field("metadata.namespace") },
        ],
        "readinessProbe": { "httpGet": { "path": "/ready", "port": STATS_PORT }, "periodSeconds": 1 },
        "volumeMounts": [identity::mount()],
    })
}

/// A Pod of `containers` whose proxy can prove the Pod's identity: the token volume, and the
/// annotation its SDS file is projected from, as injection gives them.
fn mk_mesh_pod(namespace: &str, name: &str, labels: &[(&str, &str)], containers: Vec<Value>) -> Value {
    let mut pod = mk_pod(namespace, name, labels, containers);
    pod["metadata"]["annotations"] = json!({ identity::CREDENTIAL_ANNOTATION: identity::credential_sds() });
    pod["spec"]["volumes"] = json!([identity::volume()]);
    pod
}

fn mk_profile(version: &str, extra: &[&str], bootstrap: &Path) -> Value {
    let mut args =
        vec!["demo-app", "--name", "profile", "--version", version, "--address", "0.0.0.0", "--port", "8080"];
    args.extend(extra);
    let app = mk_container("app", MESHCTL_IMAGE, &args, APP_PORT);
    mk_mesh_pod(
        "shop",
        &format!("profile-{version}"),
        &[("app", "profile"), ("version", version)],
        vec![app, mk_proxy(bootstrap)],
    )
}

/// Profile's route, with Istio's default retries: a failing canary must be found all the same.
fn mk_route(v1: u32, v2: u32) -> Value {
    json!({
        "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
        "metadata": { "name": "profile", "namespace": "shop" },
        "spec": { "hosts": ["profile"], "http": [{ "route": [
            { "destination": { "host": "profile", "subset": "v1" }, "weight": v1 },
            { "destination": { "host": "profile", "subset": "v2" }, "weight": v2 },
        ]}]},
    })
}

/// Sends `n` requests through the gateway; the versions that answered, and how many failed.
fn send(runtime: &tokio::runtime::Runtime, gateway: std::net::SocketAddr, n: usize) -> (usize, usize, usize) {
    runtime.block_on(async {
        let (mut v1, mut v2, mut failed) = (0, 0, 0);
        for _ in 0..n {
            match meshctl::http::get(gateway, PROFILE, "/", Duration::from_secs(5)).await {
                Ok(r) if r.status == 200 => {
                    let body: Value = serde_json::from_slice(&r.body).unwrap_or_default();
                    match body["version"].as_str() {
                        Some("v1") => v1 += 1,
                        Some("v2") => v2 += 1,
                        _ => failed += 1,
                    }
                }
                _ => failed += 1,
            }
        }
        (v1, v2, failed)
    })
}

/// A cluster running the mesh: install; the controller in a Pod made from install's
/// Deployment (signed in as install's ServiceAccount, with install's ClusterRole, not as
/// admin); profile's Service with subsets v1 and v2 and a Pod of each (v2's demo app started
/// with `v2_args`); the route `weights`, when given; and a gateway Pod. The Pods are removed
/// when it is dropped.
struct MeshOnCluster<'s> {
    server: &'s KubeApiServer,
    kubelet: Kubelet<'s>,
    /// The controller's replicas.
    controllers: Vec<RunningPod>,
    gateway: std::net::SocketAddr,
    gateway_pod: RunningPod,
    _dir: tempfile::TempDir,
}

impl<'s> MeshOnCluster<'s> {
    fn start(server: &'s KubeApiServer, weights: Option<(u32, u32)>, v2_args: &[&str]) -> MeshOnCluster<'s> {
        Self::with_replicas(server, weights, v2_args, 1)
    }

    fn with_replicas(
        server: &'s KubeApiServer,
        weights: Option<(u32, u32)>,
        v2_args: &[&str],
        replicas: usize,
    ) -> MeshOnCluster<'s> {
        let kubelet = control_plane::kubelet(server);
        let controllers = control_plane::install_and_run(server, &kubelet, replicas, &[], &[]);

        // Every proxy starts from the bootstrap a cluster's proxies get, with the controllers'
        // Pod addresses instead of their Service's name (no DNS runs here): a proxy whose
        // controller goes away connects to another, as through the Service.
        let dir = tempfile::tempdir().unwrap();
        let bootstrap = dir.path().join("bootstrap.json");
        let mut bootstrap_json = install::proxy_bootstrap_json(&controllers[0].ip.to_string());
        let xds = bootstrap_json["static_resources"]["clusters"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|c| c["name"] == meshctl::translate::XDS_CLUSTER)
            .unwrap();
        let endpoints = xds["load_assignment"]["endpoints"][0]["lb_endpoints"].as_array_mut().unwrap();
        let first = endpoints[0].clone();
        for controller in &controllers[1..] {
            let mut endpoint = first.clone();
            endpoint["endpoint"]["address"]["socket_address"]["address"] = json!(controller.ip.to_string());
            endpoints.push(endpoint);
        }
        std::fs::write(&bootstrap, bootstrap_json.to_string()).unwrap();

        let namespace = json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": "shop" } });
        ok(server.post("/api/v1/namespaces", &namespace), "namespace");
        control_plane::profile_service(server, APP_PORT);
        if let Some((v1, v2)) = weights {
            let route = mk_route(v1, v2);
            ok(server.post("/apis/networking.istio.io/v1/namespaces/shop/virtualservices", &route), "VirtualService");
        }

        kubelet.run(mk_profile("v1", &[], &bootstrap));
        kubelet.run(mk_profile("v2", v2_args, &bootstrap));
        kubelet::sync_endpoint_slice(server, "shop", "profile");
        let mut gateway_pod = mk_mesh_pod(NAMESPACE, "meshctl-ingressgateway-0", &[], vec![mk_proxy(&bootstrap)]);
        gateway_pod["metadata"]["labels"] = install::pod_labels(GATEWAY);
        gateway_pod["spec"]["serviceAccountName"] = json!(GATEWAY);
        let gateway_pod = kubelet.run(gateway_pod);
        let gateway = std::net::SocketAddr::from((gateway_pod.ip, GATEWAY_PORT));
        MeshOnCluster { server, kubelet, controllers, gateway, gateway_pod, _dir: dir }
    }

    /// Waits until the gateway routes profile's requests.
    fn wait_routed(&self, runtime: &tokio::runtime::Runtime) {
        let routed = common::within(DEADLINE, || send(runtime, self.gateway, 20).2 == 0);
        assert!(
            routed,
            "no route through the gateway: controller:\n{}\ngateway:\n{}",
            self.controller_log(),
            self.kubelet.logs(&self.gateway_pod)
        );
    }

    fn controller_log(&self) -> String {
        self.controllers.iter().map(|c| self.kubelet.logs(c)).collect::<Vec<_>>().join("\n")
    }

    /// The controller's last report, from its status port through the API server.
    fn status(&self) -> Value {
        let path = format!(
            "/api/v1/namespaces/{NAMESPACE}/pods/{}:{}/proxy/debug/status",
            self.controllers[0].name,
            install::METRICS_PORT
        );
        ok(self.server.get(&path), "the controller's status")
    }

    /// `meshctl ARGS` on this cluster, as its admin.
    fn meshctl(&self, args: &[&str], stdin: &str) -> common::Run {
        let kubeconfig = self.server.kubeconfig();
        let mut all = args.to_vec();
        all.extend(["--kubeconfig", kubeconfig.to_str().unwrap()]);
        common::meshctl_with_input(&all, stdin)
    }
}

#[test]
fn a_weighted_route_splits_traffic_through_the_gateway_on_a_cluster() {
    let server = KubeApiServer::start();
    let mesh = MeshOnCluster::start(&server, Some((90, 10)), &[]);
    let gateway_addr = mesh.gateway;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    mesh.wait_routed(&runtime);

    let (v1, v2, failed) = send(&runtime, gateway_addr, 1000);
    assert_eq!(failed, 0, "every request is answered");
    assert!((850..=950).contains(&v1), "90% to v1, within 5 points: v1 {v1}, v2 {v2}");

    // A weight change under load fails no request.
    let load = Load::start(gateway_addr);
    let patch = mk_route(0, 100);
    let replaced = server.request_with(
        hyper::Method::PATCH,
        "/apis/networking.istio.io/v1/namespaces/shop/virtualservices/profile",
        "application/merge-patch+json",
        Some(&json!({ "spec": patch["spec"] })),
    );
    ok(replaced, "the weight change");
    common::poll("v2 takes all traffic", DEADLINE, || send(&runtime, gateway_addr, 20).0 == 0);
    let (sent, lost) = load.stop();
    assert!(sent > 0);
    assert_eq!(lost, 0, "no request failed while the weights moved");

    // The controller reports every proxy as running its configuration.
    // A report is of one moment: a push under way shows a proxy Stale until it ACKs.
    let mut status = Value::Null;
    let synced = common::within(DEADLINE, || {
        status = mesh.status();
        status["proxies"].as_array().is_some_and(|p| p.iter().all(|p| p["sync"] == "Synced"))
    });
    assert!(synced, "{status:#}");
    let mut nodes: Vec<&str> =
        status["proxies"].as_array().unwrap().iter().map(|p| p["node_id"].as_str().unwrap()).collect();
    nodes.sort();
    assert_eq!(nodes, ["meshctl-ingressgateway-0.meshctl-system", "profile-v1.shop", "profile-v2.shop"]);
    assert_eq!(status["errors"], json!([]), "{status:#}");
}

/// Requests through the gateway, one after another from a thread of its own, until stopped.
struct Load {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicUsize>,
    lost: Arc<AtomicUsize>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Load {
    fn start(gateway: std::net::SocketAddr) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let (sent, lost) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let thread = {
            let (stop, sent, lost) = (stop.clone(), sent.clone(), lost.clone());
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                while !stop.load(Ordering::Relaxed) {
                    let (_, _, failed) = send(&runtime, gateway, 1);
                    sent.fetch_add(1, Ordering::Relaxed);
                    lost.fetch_add(failed, Ordering::Relaxed);
                }
            })
        };
        Load { stop, sent, lost, thread: Some(thread) }
    }

    /// Stops the load; how many requests were sent, and how many failed.
    fn stop(mut self) -> (usize, usize) {
        self.halt();
        (self.sent.load(Ordering::Relaxed), self.lost.load(Ordering::Relaxed))
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.halt();
    }
}

/// Rolls profile out from v1 to v2 (its demo app started with `v2_args`) under load, from
/// `route` (none: profile has no VirtualService), with the controller on the cluster driving
/// it; the Canary and the route's weights when it ends.
/// Rolls profile out and waits, as `kubectl wait --for=condition=Promoted` would, until the
/// outcome is settled; returns the Canary, the route's weights, and where 40 requests sent then
/// went (v1, v2, failed).
fn roll_out(
    server: &KubeApiServer,
    route: Option<(u32, u32)>,
    v2_args: &[&str],
) -> (Value, (u64, u64), (usize, usize, usize)) {
    let mesh = MeshOnCluster::start(server, route, v2_args);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    mesh.wait_routed(&runtime);
    let load = Load::start(mesh.gateway);
    start_canary(server, "2s");
    let last = wait_for_outcome(&mesh);
    drop(load);
    (last, route_weights(server), send(&runtime, mesh.gateway, 40))
}

const CANARY: &str = "/apis/meshctl.io/v1alpha1/namespaces/shop/canaries/profile";

/// Rolls profile out from v1 to v2 in two steps, 50% and 100%, of `interval` each.
fn start_canary(server: &KubeApiServer, interval: &str) {
    let rollout = meshctl::generate::CanaryRollout {
        service: "profile".into(),
        namespace: "shop".into(),
        stable: "v1".into(),
        canary: "v2".into(),
        steps: vec![50, 100],
        interval: interval.parse().unwrap(),
        min_success_rate: 95.0,
        max_p99: None,
        min_requests: 10,
        sequential_test: true,
    };
    let canary = meshctl::generate::canary(&rollout)[0].to_json();
    ok(server.post("/apis/meshctl.io/v1alpha1/namespaces/shop/canaries", &canary), "Canary");
}

/// The Canary once its rollout has ended and every proxy runs the outcome: its `Promoted`
/// condition is no longer `Unknown`.
fn wait_for_outcome(mesh: &MeshOnCluster) -> Value {
    let mut last = Value::Null;
    let finished = common::within(Duration::from_secs(90), || {
        last = mesh.server.get(CANARY).json();
        matches!(last["status"]["conditions"][0]["status"].as_str(), Some("True" | "False"))
    });
    assert!(finished, "the rollout did not end: {last:#}\ncontroller log:\n{}", mesh.controller_log());
    last
}

/// Profile's route's weights to v1 and v2.
fn route_weights(server: &KubeApiServer) -> (u64, u64) {
    let route = server.get("/apis/networking.istio.io/v1/namespaces/shop/virtualservices/profile").json();
    let weight = |i: usize| route["spec"]["http"][0]["route"][i]["weight"].as_u64().unwrap_or(0);
    (weight(0), weight(1))
}

#[test]
fn a_healthy_canary_on_a_cluster_is_promoted_and_the_controller_uses_every_right_it_holds() {
    let server = KubeApiServer::start();
    // No VirtualService yet: the driver makes one.
    let (canary, weights, sent) = roll_out(&server, None, &[]);
    assert_eq!(canary["status"]["phase"], "Promoted", "{canary:#}");
    assert_eq!(weights, (0, 100));
    assert_promoted_condition(&canary, "True");
    assert_eq!(sent, (0, 40, 0), "once Promoted is True, v2 takes all traffic");
    let evaluations = canary["status"]["evaluations"].as_array().unwrap();
    assert!(!evaluations.is_empty(), "{canary:#}");
    assert!(evaluations.iter().all(|e| e["canary"]["requests"].as_u64().is_some()), "{canary:#}");

    // Least privilege, shown: the controller, which has now done all its work (watch the mesh,
    // read the CA, make and move a route, record a rollout), was refused nothing, and every
    // right install's ClusterRole and Role give it was used.
    let user = format!("system:serviceaccount:{NAMESPACE}:{}", install::CONTROLLER);
    let requests: Vec<Value> =
        server.requests().into_iter().filter(|r| r["user"]["username"] == user.as_str()).collect();
    let refused: Vec<&Value> = requests.iter().filter(|r| r["responseStatus"]["code"] == 403).collect();
    assert!(refused.is_empty(), "the controller was refused: {refused:#?}");
    let mut used = std::collections::BTreeSet::new();
    for r in &requests {
        let object = &r["objectRef"];
        let mut resource = object["resource"].as_str().unwrap_or_default().to_string();
        if let Some(sub) = object["subresource"].as_str() {
            resource = format!("{resource}/{sub}");
        }
        let group = object["apiGroup"].as_str().unwrap_or_default().to_string();
        let verb = r["verb"].as_str().unwrap_or_default().to_string();
        // A server-side apply that makes an object is authorized as `create`.
        if verb == "patch" && r["responseStatus"]["code"] == 201 {
            used.insert((group.clone(), resource.clone(), "create".to_string()));
        }
        used.insert((group, resource, verb));
    }
    for grant in install::CLUSTER_GRANTS.iter().chain(install::NAMESPACE_GRANTS) {
        for resource in grant.resources {
            for verb in grant.verbs {
                let right = (grant.group.to_string(), resource.to_string(), verb.to_string());
                assert!(used.contains(&right), "granted but never used: {right:?} ({}); used: {used:#?}", grant.why);
            }
        }
    }
}

/// Regression: the gates read what callers saw, after their retries, and Istio's default
/// retries turned half the canary's answers into successes: it was promoted.
#[test]
fn a_failing_canary_on_a_cluster_is_rolled_back_though_callers_retry() {
    let server = KubeApiServer::start();
    let (canary, weights, sent) = roll_out(&server, Some((100, 0)), &["--error-rate", "50"]);
    assert_eq!(canary["status"]["phase"], "RolledBack", "{canary:#}");
    assert_eq!(weights, (100, 0));
    assert_promoted_condition(&canary, "False");
    assert_eq!(sent, (40, 0, 0), "once Promoted is False, v1 takes all traffic");
}

/// The status answers the Canary's current spec, and its `Promoted` condition (what `kubectl
/// wait --for=condition=Promoted` reads) says how the rollout ended.
fn assert_promoted_condition(canary: &Value, status: &str) {
    let generation = &canary["metadata"]["generation"];
    assert!(generation.as_i64().is_some(), "{canary:#}");
    assert_eq!(&canary["status"]["observedGeneration"], generation, "{canary:#}");
    let conditions = canary["status"]["conditions"].as_array().unwrap();
    assert_eq!(conditions.len(), 1, "{canary:#}");
    assert_eq!(conditions[0]["type"], "Promoted", "{canary:#}");
    assert_eq!(conditions[0]["status"], status, "{canary:#}");
    assert_eq!(conditions[0]["reason"], canary["status"]["phase"], "{canary:#}");
}

const HALF_AND_HALF: &str = "\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: profile}
spec:
  hosts: [profile]
  http:
  - route:
    - {destination: {host: profile, subset: v1}, weight: 50}
    - {destination: {host: profile, subset: v2}, weight: 50}
";

#[test]
fn the_cli_speaks_to_a_cluster_through_its_api_server_alone() {
    let server = KubeApiServer::start();
    let mesh = MeshOnCluster::start(&server, Some((100, 0)), &[]);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    mesh.wait_routed(&runtime);

    // proxy-status: each proxy as the controller sees it, read through pods/proxy.
    let run = mesh.meshctl(&["proxy-status", "-o", "json"], "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let proxies: Value = serde_json::from_str(&run.stdout).unwrap();
    let synced: Vec<&str> = proxies
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["sync"] == "Synced")
        .map(|p| p["node_id"].as_str().unwrap())
        .collect();
    assert_eq!(synced.len(), 3, "{proxies:#}");

    // apply --wait returns when every proxy runs the change: the next requests split.
    let run = mesh.meshctl(&["apply", "-n", "shop", "-f", "-", "--wait"], HALF_AND_HALF);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("virtualservice.networking.istio.io/profile configured"), "{}", run.stdout);
    let (v1, v2, failed) = send(&runtime, mesh.gateway, 400);
    assert_eq!(failed, 0);
    assert!((170..=230).contains(&v1), "50% to v1, within 7.5 points: v1 {v1}, v2 {v2}");

    let run = mesh.meshctl(&["get", "vs,dr", "-n", "shop", "-o", "name"], "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "virtualservice.networking.istio.io/profile\ndestinationrule.networking.istio.io/profile\n");

    // A change that would break a stored object is refused, and nothing is changed.
    let run = mesh.meshctl(&["delete", "dr", "profile", "-n", "shop"], "");
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("nothing was deleted"), "{}", run.stderr);
    assert!(run.stdout.contains("VirtualService/shop/profile"), "the broken object is named: {}", run.stdout);
    let dr = server.get("/apis/networking.istio.io/v1/namespaces/shop/destinationrules/profile");
    assert_eq!(dr.status, 200);

    // top: each sidecar's statistics through the API server's pods/proxy.
    let load = Load::start(mesh.gateway);
    let run = mesh.meshctl(&["top", "-n", "shop", "--once", "-o", "json"], "");
    let (sent, lost) = load.stop();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let window: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(window["unreachable"], json!([]), "{window:#}");
    let served = |version: &str| {
        window["rows"].as_array().unwrap().iter().any(|r| {
            r["service"] == "profile" && r["version"] == version && r["requests"].as_u64().is_some_and(|n| n > 0)
        })
    };
    assert!(served("v1") && served("v2"), "{window:#}");
    assert!(sent > 0 && lost == 0, "sent {sent}, lost {lost}");

    let run = mesh.meshctl(&["analyze", "-n", "shop"], "");
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let run = mesh.meshctl(&["check"], "");
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);

    // A rollout started from the CLI, driven by the controller, watched to its end.
    let load = Load::start(mesh.gateway);
    let args = ["canary", "start", "profile", "-n", "shop", "--from", "v1", "--to", "v2", "--steps", "100"];
    let run = mesh.meshctl(&[&args[..], &["--interval", "1s", "--min-requests", "5", "--timeout", "60s"]].concat(), "");
    let (_, lost) = load.stop();
    assert_eq!(run.code, 0, "{}\n{}\ncontroller:\n{}", run.stdout, run.stderr, mesh.controller_log());
    assert!(run.stdout.contains("promoted"), "{}", run.stdout);
    assert_eq!(lost, 0);
    let (v1, _, failed) = send(&runtime, mesh.gateway, 50);
    assert_eq!((v1, failed), (0, 0), "v2 takes all traffic once `canary start` says promoted");

    // mtls: the controller knocks on every instance from inside the cluster, and its answer
    // reaches the CLI through the API server.
    let tls = |expected_mode: &str, plaintext_refused: bool| {
        let run = mesh.meshctl(&["mtls", "status", "-o", "json"], "");
        assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
        let status: Value = serde_json::from_str(&run.stdout).unwrap();
        let workloads = status["workloads"].as_array().unwrap();
        assert_eq!(workloads.len(), 2, "{status:#}");
        for w in workloads {
            assert_eq!(w["mode"], expected_mode, "{status:#}");
            assert_eq!(w["mtls_ok"], true, "{status:#}");
            assert_eq!(w["plaintext_refused"], plaintext_refused, "{status:#}");
            assert!(w["identity"].as_str().unwrap().starts_with("spiffe://cluster.local/ns/shop/sa/"), "{status:#}");
        }
    };
    tls("PERMISSIVE", false);
    let run = mesh.meshctl(&["mtls", "enable", "-n", "shop"], "");
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    tls("STRICT", true);
    let (_, v2, failed) = send(&runtime, mesh.gateway, 50);
    assert_eq!((v2, failed), (50, 0), "mesh traffic goes on under STRICT");
}

#[test]
fn when_the_leader_dies_another_replica_takes_the_lease_and_finishes_the_rollout() {
    let server = KubeApiServer::start();
    let mesh = MeshOnCluster::with_replicas(&server, Some((100, 0)), &[], 2);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    mesh.wait_routed(&runtime);
    let lease = format!("/apis/coordination.k8s.io/v1/namespaces/{NAMESPACE}/leases/{}", meshctl::kube::lease::LEASE);
    let holder = || server.get(&lease).json()["spec"]["holderIdentity"].as_str().map(str::to_string);
    let mut leader = None;
    common::poll("a replica leads", DEADLINE, || {
        leader = holder();
        leader.is_some()
    });
    let leader = leader.unwrap();

    let load = Load::start(mesh.gateway);
    start_canary(&server, "4s");
    common::poll("the rollout is at its first step", DEADLINE, || server.get(CANARY).json()["status"]["weight"] == 50);
    let dead = mesh.controllers.iter().find(|c| c.name == leader).expect("the leader is one of the replicas");
    mesh.kubelet.delete(dead);

    let canary = wait_for_outcome(&mesh);
    assert_eq!(canary["status"]["phase"], "Promoted", "{canary:#}");
    assert_eq!(route_weights(&server), (0, 100));
    let now = holder().unwrap();
    assert!(now != leader && mesh.controllers.iter().any(|c| c.name == now), "the other replica leads: {now}");
    assert!(server.get(&lease).json()["spec"]["leaseTransitions"].as_u64().is_some_and(|t| t >= 1));
    let (sent, lost) = load.stop();
    assert!(sent > 0);
    assert_eq!(lost, 0, "the data plane went on while the control plane changed hands");
}
