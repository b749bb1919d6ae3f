//! meshctl's control plane on the test API server, as a cluster runs it: `meshctl install`,
//! then the controller's Pods made from install's Deployment, run by the test kubelet.

use std::time::Duration;

use meshctl::kube::install::{self, NAMESPACE};
use serde_json::json;

use super::kube::KubeApiServer;
use super::kubelet::{self, Kubelet, RunningPod};

const DEADLINE: Duration = Duration::from_secs(30);

/// Installs the mesh and runs `replicas` controllers, each signed in as install's
/// ServiceAccount (its roles, not admin) with a short resync and Lease. The controller's
/// Service points at them, so the API server reaches the sidecar injector.
pub fn install_and_run(server: &KubeApiServer, kubelet: &Kubelet, replicas: usize) -> Vec<RunningPod> {
    let installed = super::meshctl(&["install", "--kubeconfig", server.kubeconfig().to_str().unwrap()]);
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
            kubelet.run(pod)
        })
        .collect();
    kubelet::sync_endpoint_slice(server, NAMESPACE, install::CONTROLLER);
    controllers
}
