//! The controller's registry (`meshctl::kube::registry`), run in the test process against the
//! node: Pods started by the kubelet, EndpointSlices written by kube-controller-manager, and
//! the registry's reflectors turning them into the mesh's services and proxies.

use std::net::{IpAddr, SocketAddr};

use meshctl::api::Identity;
use meshctl::controller::Registry;
use meshctl::kube::registry::{KubeRegistry, PROXY_CONTAINER, Settings};
use meshctl::translate::{Credentials, Proxy};
use serde_json::{Value, json};

use super::DEADLINE;
use super::common::images;
use super::common::node::{self, Node};

const NS: &str = "registry";
/// Where a Pod's readiness probe looks: the Pod is not ready while the file exists.
const UNREADY: &str = "/tmp/unready";

/// A Deployment of profile's `version`, run as `profile`: the demo app on port `http` (8080),
/// ready while [`UNREADY`] does not exist, and a `meshctl-proxy` container. The namespace is not
/// labelled for injection and this test calls no proxy, so a process that only waits stands
/// for the sidecar.
fn mesh_deployment(version: &str) -> Value {
    let mut deployment = node::demo_deployment(NS, "profile", &[("version", version)], &["--version", version]);
    let spec = &mut deployment["spec"]["template"]["spec"];
    spec["serviceAccountName"] = json!("profile");
    // The stand-in sidecar ignores SIGTERM.
    spec["terminationGracePeriodSeconds"] = json!(1);
    spec["containers"][0]["readinessProbe"] =
        json!({ "exec": { "command": ["sh", "-c", format!("! test -e {UNREADY}")] }, "periodSeconds": 1 });
    let proxy = json!({
        "name": PROXY_CONTAINER, "image": images::MESHCTL, "imagePullPolicy": "Never", "command": ["sleep", "infinity"],
    });
    spec["containers"].as_array_mut().unwrap().push(proxy);
    deployment
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
    let held = super::common::within(DEADLINE, || {
        *moved |= runtime.block_on(registry.tick(&|_| meshctl::xds::SyncState::Synced));
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
    services
        .iter()
        .filter(|s| s.name == "profile")
        .flat_map(|s| s.instances.iter().filter_map(|i| i.address(80)))
        .collect()
}

fn nodes(registry: &KubeRegistry) -> Vec<String> {
    let mut nodes: Vec<String> =
        registry.proxies(&|_| Some(Credentials::default())).iter().map(|p| p.node_id().to_string()).collect();
    nodes.retain(|n| n.ends_with(&format!(".{NS}")));
    nodes
}

/// Pod `pod`'s name and its address.
fn pod(node: &Node, version: &str) -> (String, IpAddr) {
    let name = node.pod_named(NS, &format!("version={version}"));
    let ip = node.kubectl_ok(&["-n", NS, "get", "pod", &name, "-o", "jsonpath={.status.podIP}"]);
    (name, ip.parse().expect("the Pod's IP"))
}

#[test]
fn the_registry_follows_mesh_pods_their_readiness_and_their_deletion() {
    let mesh = node::mesh();
    let (node, _turn) = (mesh.node, mesh.share());
    let _namespace = node.namespace(NS, &[]);
    node.kubectl_ok(&["-n", NS, "create", "serviceaccount", "profile"]);
    let objects = [node::service(NS, "profile"), mesh_deployment("v1"), mesh_deployment("v2")];
    node.apply(&objects.iter().map(Value::to_string).collect::<Vec<_>>().join("\n---\n"));
    node.wait(NS, "deployment", "condition=Available", DEADLINE);
    let ((v1, v1_ip), (v2, v2_ip)) = (pod(node, "v1"), pod(node, "v2"));
    let (v1_node, v2_node) = (format!("{v1}.{NS}"), format!("{v2}.{NS}"));
    let inbound = |ip: IpAddr| SocketAddr::new(ip, 15006);

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = runtime.block_on(super::common::kube::client(&node.kubeconfig()));
    let mut registry = runtime.block_on(async { KubeRegistry::start(client, Settings::default()) });
    let listed = runtime.block_on(async { tokio::time::timeout(DEADLINE, registry.listed()).await });
    assert!(listed.is_ok(), "every store has its first list: {:#?}", registry.problems());
    // Instances come by address; which Pod got the lower one is the CNI's choice.
    let mut both = vec![inbound(v1_ip), inbound(v2_ip)];
    both.sort();
    let mut sorted_nodes = vec![v1_node.clone(), v2_node.clone()];
    sorted_nodes.sort();
    let mut moved = false;
    settle(&runtime, &mut registry, &mut moved, "both Pods are profile's instances with proxies", |r| {
        instances(r) == both && nodes(r) == sorted_nodes
    });
    assert!(moved, "tick said the registry changed");
    let woken = runtime.block_on(async { tokio::time::timeout(DEADLINE, registry.changed()).await });
    assert!(woken.is_ok(), "the watches wake the controller");
    let services = registry.services();
    let service = services.iter().find(|s| s.namespace == NS).expect("profile's Service");
    let ports: Vec<u16> = service.ports.iter().map(|p| p.number).collect();
    assert_eq!((service.name.as_str(), ports), ("profile", vec![80]));
    let first = service.instances.iter().find(|i| i.address(80) == Some(inbound(v1_ip))).unwrap();
    assert_eq!(first.labels.get("version").map(String::as_str), Some("v1"));
    assert_eq!(first.service_account, "profile");
    let profile = Identity::new(NS, "profile");
    let ours: Vec<(String, Identity)> =
        registry.identities().iter().filter(|(node, _)| sorted_nodes.contains(node)).cloned().collect();
    assert_eq!(ours, sorted_nodes.iter().map(|node| (node.clone(), profile.clone())).collect::<Vec<_>>());
    let stats: Vec<(String, SocketAddr)> = registry
        .scrape_targets()
        .iter()
        .filter(|t| t.node_id == v1_node)
        .map(|t| (t.node_id.clone(), t.admin))
        .collect();
    assert_eq!(stats, [(v1_node.clone(), SocketAddr::new(v1_ip, 15090))]);
    let given = |node: &str| Some(Credentials { cert_chain: format!("chain of {node}"), ..Credentials::default() });
    let proxies = registry.proxies(&given);
    let Some(Proxy::Sidecar(sidecar)) = proxies.iter().find(|p| p.node_id() == v1_node) else {
        panic!("a sidecar for {v1_node}: {proxies:?}")
    };
    let port = &sidecar.ports[..];
    assert_eq!((sidecar.service.as_str(), port.len()), ("profile", 1));
    assert_eq!(
        (port[0].listen, port[0].app, sidecar.outbound),
        (SocketAddr::new(v1_ip, 15006), "127.0.0.1:8080".parse().unwrap(), "127.0.0.1:15001".parse().unwrap())
    );
    assert_eq!(sidecar.credentials.cert_chain, format!("chain of {v1_node}"));
    assert_eq!(registry.problems(), Vec::<String>::new());

    // Not ready: no longer an instance, still a proxy.
    node.kubectl_ok(&["-n", NS, "exec", &v2, "-c", "app", "--", "touch", UNREADY]);
    settle(&runtime, &mut registry, &mut moved, "profile-v2 is no instance once not ready", |r| {
        instances(r) == [inbound(v1_ip)]
    });
    assert_eq!(nodes(&registry), sorted_nodes);

    node.kubectl_ok(&["-n", NS, "delete", "deployment", "profile-v2", "--wait=false"]);
    settle(&runtime, &mut registry, &mut moved, "profile-v2's proxy is gone with its Pod", |r| {
        nodes(r) == [v1_node.clone()]
    });
    assert_eq!(instances(&registry), [inbound(v1_ip)]);
    registry.shut_down();
}
