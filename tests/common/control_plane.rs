//! meshctl's control plane on the test API server, as a cluster runs it: `meshctl install`,
//! then the controller's Pods made from install's Deployment, run by the test kubelet.

use std::time::Duration;

use meshctl::kube::install::{self, NAMESPACE};
use serde_json::json;

use super::kube::KubeApiServer;
use super::kubelet::{self, Kubelet, RunningPod};

/// A kubelet that runs install's images too: meshctl's, and the Envoy injection adds.
pub fn kubelet(server: &KubeApiServer) -> Kubelet<'_> {
    Kubelet::new(server)
        .image(&install::default_image(), env!("CARGO_BIN_EXE_meshctl"))
        .image(install::DEFAULT_ENVOY_IMAGE, super::envoy::binary())
}

/// The mesh installed with one controller whose injector the API server trusts, its Service's
/// name resolving in the Pods started from now on, and namespace `shop` labelled for
/// injection; installed with `install` more, the controller run with `args` more. The
/// controller's Pod.
pub fn injecting_mesh(server: &KubeApiServer, kubelet: &Kubelet, install: &[&str], args: &[&str]) -> RunningPod {
    let controller = install_and_run(server, kubelet, 1, install, args).remove(0);
    // Cluster DNS for the proxies' bootstrap, which names the controller's Service.
    kubelet.resolve(&format!("{}.{NAMESPACE}.svc", install::CONTROLLER), controller.ip);
    wait_for_injector(server);
    make_namespace(server, "shop", json!({ "meshctl.io/inject": "enabled" }));
    controller
}

/// Service `shop/profile` (port 80 to `app_port`) and a DestinationRule with subsets v1 and v2
/// by the `version` label; the stored Service.
pub fn profile_service(server: &KubeApiServer, app_port: u16) -> serde_json::Value {
    let service = json!({
        "apiVersion": "v1", "kind": "Service", "metadata": { "name": "profile", "namespace": "shop" },
        "spec": { "selector": { "app": "profile" }, "ports": [{ "name": "http", "port": 80, "targetPort": app_port }] },
    });
    let stored = server.post("/api/v1/namespaces/shop/services", &service);
    assert_eq!(stored.status, 201, "Service: {}", stored.json());
    let subsets = json!({
        "apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
        "metadata": { "name": "profile", "namespace": "shop" },
        "spec": { "host": "profile", "subsets": [
            { "name": "v1", "labels": { "version": "v1" } },
            { "name": "v2", "labels": { "version": "v2" } },
        ]},
    });
    let made = server.post("/apis/networking.istio.io/v1/namespaces/shop/destinationrules", &subsets);
    assert_eq!(made.status, 201, "DestinationRule: {}", made.json());
    stored.json()
}

const DEADLINE: Duration = Duration::from_secs(30);

/// Installs the mesh (`install` more on its command line) and runs `replicas` controllers,
/// each signed in as install's
/// ServiceAccount (its roles, not admin) with a short resync and Lease, and `args` more. The
/// controller's Service points at them, so the API server reaches the sidecar injector.
pub fn install_and_run(
    server: &KubeApiServer,
    kubelet: &Kubelet,
    replicas: usize,
    install: &[&str],
    args: &[&str],
) -> Vec<RunningPod> {
    let kubeconfig = server.kubeconfig();
    let installed = super::meshctl(&[&["install", "--kubeconfig", kubeconfig.to_str().unwrap()], install].concat());
    assert_eq!(installed.code, 0, "{}", installed.stderr);
    for name in install::crd_names() {
        super::poll(&format!("CRD {name} is Established"), DEADLINE, || {
            let crd = server.get(&format!("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")).json();
            crd["status"]["conditions"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["type"] == "Established" && c["status"] == "True"))
        });
    }
    // The controller's Pods, as the Deployment's ReplicaSet would make them; no token is
    // mounted here, so each is given a kubeconfig for its ServiceAccount instead.
    let deployment = server.get(&format!("/apis/apps/v1/namespaces/{NAMESPACE}/deployments/{}", install::CONTROLLER));
    let template = &deployment.json()["spec"]["template"];
    let kubeconfig = server.kubeconfig_in_pod_as(NAMESPACE, install::CONTROLLER);
    let more = args;
    let controllers = (0..replicas)
        .map(|replica| {
            let mut pod = json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {
                    "name": format!("meshctl-controller-{replica}"),
                    "namespace": NAMESPACE,
                    "labels": template["metadata"]["labels"],
                },
                "spec": template["spec"],
            });
            let args = pod["spec"]["containers"][0]["args"].as_array_mut().unwrap();
            let extra =
                ["--kubeconfig", kubeconfig.to_str().unwrap(), "--resync-period", "1s", "--lease-duration", "3s"];
            args.extend(extra.map(|a| json!(a)));
            args.extend(more.iter().map(|a| json!(a)));
            kubelet.run(pod)
        })
        .collect();
    kubelet::sync_endpoint_slice(server, NAMESPACE, install::CONTROLLER);
    controllers
}

/// Waits until the controller has made the sidecar injector trusted (its `caBundle`), so that
/// the API server's calls to it succeed.
pub fn wait_for_injector(server: &KubeApiServer) {
    let path = format!(
        "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/{}",
        meshctl::kube::webhook::CONFIGURATION
    );
    super::poll("the controller sets the injector's caBundle", DEADLINE, || {
        let stored = server.get(&path).json();
        stored["webhooks"].as_array().is_some_and(|w| w.iter().all(|w| w["clientConfig"]["caBundle"].is_string()))
    });
}

/// Makes namespace `name` with `labels`, and its `default` ServiceAccount, as
/// kube-controller-manager would.
pub fn make_namespace(server: &KubeApiServer, name: &str, labels: serde_json::Value) {
    let namespace = json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": name, "labels": labels } });
    let made = server.post("/api/v1/namespaces", &namespace);
    assert_eq!(made.status, 201, "namespace {name}: {}", made.json());
    let account = json!({ "metadata": { "name": "default" } });
    let made = server.post(&format!("/api/v1/namespaces/{name}/serviceaccounts"), &account);
    assert_eq!(made.status, 201, "ServiceAccount {name}/default: {}", made.json());
}
