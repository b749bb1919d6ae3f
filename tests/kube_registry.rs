//! The controller's registry on a cluster (`meshctl::kube::registry`) against the real API
//! server: Pods run by the test kubelet, EndpointSlices as kube-controller-manager would write
//! them, and the registry's reflectors turning them into the mesh's services and proxies.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use common::kube::KubeApiServer;
use common::kubelet::{Kubelet, MESHCTL_IMAGE, RunningPod, mk_container, mk_pod, sync_endpoint_slice};
use meshctl::controller::Registry;
use meshctl::kube::registry::{KubeRegistry, PROXY_CONTAINER, Settings};
use meshctl::pki::Identity;
use meshctl::translate::{Credentials, Proxy};
use serde_json::{Value, json};

/// How long the registry gets to see a change the API server stored.
const DEADLINE: Duration = Duration::from_secs(30);

#[test]
fn the_registry_follows_mesh_pods_their_readiness_and_their_deletion() {
    let server = KubeApiServer::start();
    created(server.post("/api/v1/namespaces", &json!({ "metadata": { "name": "shop" } })));
    created(server.post("/api/v1/namespaces/shop/serviceaccounts", &json!({ "metadata": { "name": "profile" } })));
    let service = json!({
        "metadata": { "name": "profile", "namespace": "shop" },
        "spec": { "selector": { "app": "profile" }, "ports": [{ "port": 80, "targetPort": "http" }] },
    });
    created(server.post("/api/v1/namespaces/shop/services", &service));
    let kubelet = Kubelet::new(&server);
    let v1 = kubelet.run(mesh_pod("profile-v1", "v1"));
    let v2 = kubelet.run(mesh_pod("profile-v2", "v2"));
    sync_endpoint_slice(&server, "shop", "profile");

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut registry =
        runtime.block_on(async { KubeRegistry::start(client(&server.kubeconfig()).await, Settings::default()) });

    let listed = runtime.block_on(async { tokio::time::timeout(DEADLINE, registry.listed()).await });
    assert!(listed.is_ok(), "every store has its first list: {:#?}", registry.problems());
    // Instances come by address; which Pod got the lower one is the kubelet's choice.
    let mut both = vec![inbound(&v1), inbound(&v2)];
    both.sort();
    let mut moved = false;
    settle(&runtime, &mut registry, &mut moved, "both Pods are profile's instances with proxies", |r| {
        instances(r) == both && nodes(r) == ["profile-v1.shop", "profile-v2.shop"]
    });
    assert!(moved, "tick said the registry changed");
    let woken = runtime.block_on(async { tokio::time::timeout(Duration::from_secs(1), registry.changed()).await });
    assert!(woken.is_ok(), "the watches wake the controller");
    let service = &registry.services()[0];
    assert_eq!((service.name.as_str(), service.namespace.as_str(), service.port), ("profile", "shop", 80));
    let first = service.instances.iter().find(|i| i.address == inbound(&v1)).unwrap();
    assert_eq!(first.labels.get("version").map(String::as_str), Some("v1"));
    assert_eq!(first.service_account, "profile");
    let profile = Identity::new("shop", "profile");
    assert_eq!(
        registry.identities(),
        [("profile-v1.shop".to_string(), profile.clone()), ("profile-v2.shop".to_string(), profile)]
    );
    let stats: Vec<(String, SocketAddr)> =
        registry.scrape_targets().into_iter().map(|t| (t.node_id, t.admin)).collect();
    assert_eq!(
        stats,
        [("profile-v1.shop".to_string(), at(&v1, 15090)), ("profile-v2.shop".to_string(), at(&v2, 15090))]
    );
    let given = |node: &str| Credentials { cert_chain: format!("chain of {node}"), ..Credentials::default() };
    let proxies = registry.proxies(&given);
    let Proxy::Sidecar(sidecar) = &proxies[0] else { panic!("a sidecar: {proxies:?}") };
    assert_eq!((sidecar.service.as_str(), sidecar.inbound), ("profile", at(&v1, 15006)));
    assert_eq!(
        (sidecar.app, sidecar.outbound),
        ("127.0.0.1:8080".parse().unwrap(), "127.0.0.1:15001".parse().unwrap())
    );
    assert_eq!(sidecar.credentials.cert_chain, "chain of profile-v1.shop");
    assert_eq!(registry.problems(), Vec::<String>::new());
    assert!(!runtime.block_on(registry.tick(&|_| false)), "nothing changed since the last tick");

    // Not ready: no longer an instance, still a proxy.
    kubelet.set_ready(&v2, false);
    sync_endpoint_slice(&server, "shop", "profile");
    settle(&runtime, &mut registry, &mut moved, "profile-v2 is no instance once not ready", |r| {
        instances(r) == [inbound(&v1)]
    });
    assert_eq!(nodes(&registry), ["profile-v1.shop", "profile-v2.shop"]);

    kubelet.delete(&v2);
    settle(&runtime, &mut registry, &mut moved, "profile-v2's proxy is gone with its Pod", |r| {
        nodes(r) == ["profile-v1.shop"] && r.identities().len() == 1 && r.scrape_targets().len() == 1
    });
    assert_eq!(instances(&registry), [inbound(&v1)]);
    registry.shut_down();
}

#[test]
fn a_watch_the_controller_may_not_make_is_a_problem_that_names_the_resource() {
    let server = KubeApiServer::start();
    // An account that may watch Services and EndpointSlices, but not Pods.
    let sa = json!({ "metadata": { "name": "half-blind" } });
    created(server.post("/api/v1/namespaces/default/serviceaccounts", &sa));
    let role = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": { "name": "half-blind" },
        "rules": [
            { "apiGroups": [""], "resources": ["services"], "verbs": ["list", "watch"] },
            { "apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"] },
        ],
    });
    created(server.post("/apis/rbac.authorization.k8s.io/v1/clusterroles", &role));
    let binding = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": { "name": "half-blind" },
        "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "half-blind" },
        "subjects": [{ "kind": "ServiceAccount", "name": "half-blind", "namespace": "default" }],
    });
    created(server.post("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", &binding));
    let request = json!({ "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {} });
    let token = created(server.post("/api/v1/namespaces/default/serviceaccounts/half-blind/token", &request));
    let mut config: Value = serde_json::from_str(&std::fs::read_to_string(server.kubeconfig()).unwrap()).unwrap();
    config["users"][0]["user"] = json!({ "token": token["status"]["token"] });
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, config.to_string()).unwrap();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut registry = runtime.block_on(async { KubeRegistry::start(client(&kubeconfig).await, Settings::default()) });

    let mut problems = Vec::new();
    let found = common::within(DEADLINE, || {
        runtime.block_on(registry.tick(&|_| false));
        problems = registry.problems();
        problems.len() == 1 && problems[0].contains("may not list and watch pods")
    });
    assert!(found, "the only problem is the forbidden watch of Pods: {problems:#?}");
    assert!(problems[0].contains("forbidden"), "the API server's own words are kept: {problems:#?}");
    registry.shut_down();
}

/// A Pod of profile's `version`, run as `profile`: the demo app on the Pod's IP, port `http`
/// (8080), and a `meshctl-proxy` container (part 1 has no injection; any long-running program
/// stands for the sidecar, which this test does not call).
fn mesh_pod(name: &str, version: &str) -> Value {
    let args = ["demo-app", "--name", "profile", "--version", version, "--address", "$(POD_IP)", "--port", "8080"];
    let mut app = mk_container("app", MESHCTL_IMAGE, &args, 8080);
    app["env"] = json!([{ "name": "POD_IP", "valueFrom": { "fieldRef": { "fieldPath": "status.podIP" } } }]);
    let proxy = json!({ "name": PROXY_CONTAINER, "image": "busybox", "command": ["sleep", "600"] });
    let mut pod = mk_pod("shop", name, &[("app", "profile"), ("version", version)], vec![app, proxy]);
    pod["spec"]["serviceAccountName"] = json!("profile");
    pod
}

/// A client for the cluster of `kubeconfig`, as `meshctl controller --kubeconfig` makes one.
async fn client(kubeconfig: &Path) -> kube::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let file = kube::config::Kubeconfig::read_from(kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(file, &kube::config::KubeConfigOptions::default()).await.unwrap();
    kube::Client::try_from(config).unwrap()
}

/// Ticks the registry, as the controller's loop does, until `ready` holds of it; fails with
/// what it last showed after the deadline. `moved` records whether any tick reported a change.
fn settle(
    runtime: &tokio::runtime::Runtime,
    registry: &mut KubeRegistry,
    moved: &mut bool,
    what: &str,
    mut ready: impl FnMut(&KubeRegistry) -> bool,
) {
    let held = common::within(DEADLINE, || {
        *moved |= runtime.block_on(registry.tick(&|_| false));
        ready(registry)
    });
    assert!(
        held,
        "timed out after {DEADLINE:?} waiting until {what}: services {:#?}, proxies {:?}, problems {:#?}",
        registry.services(),
        nodes(registry),
        registry.problems()
    );
}

fn instances(registry: &KubeRegistry) -> Vec<SocketAddr> {
    let services = registry.services();
    services.iter().filter(|s| s.name == "profile").flat_map(|s| s.instances.iter().map(|i| i.address)).collect()
}

fn nodes(registry: &KubeRegistry) -> Vec<String> {
    registry.proxies(&|_| Credentials::default()).iter().map(|p| p.node_id().to_string()).collect()
}

fn inbound(pod: &RunningPod) -> SocketAddr {
    at(pod, 15006)
}

fn at(pod: &RunningPod, port: u16) -> SocketAddr {
    SocketAddr::from((pod.ip, port))
}

fn created(answer: common::kube::Answer) -> Value {
    assert!(matches!(answer.status, 200 | 201), "{}", answer.json());
    answer.json()
}
