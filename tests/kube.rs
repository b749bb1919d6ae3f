//! meshctl against the real Kubernetes API server (`scripts/kube-testenv` builds it), each test
//! with a server of its own and no node: install and its manifests, inject, the store and the
//! registry; and the test node's own hygiene (`node`), which needs no node running beside it.

mod common;
#[path = "kube/inject.rs"]
mod inject;
#[path = "kube/install.rs"]
mod install;
#[path = "kube/node.rs"]
mod node;
#[path = "kube/registry.rs"]
mod registry;
#[path = "kube/store.rs"]
mod store;

use std::time::Duration;

use common::kube::KubeApiServer;
use meshctl::api::Kind;
use serde_json::Value;

#[test]
fn the_api_server_runs_the_built_version_and_establishes_a_mesh_crd() {
    let server = KubeApiServer::start();

    let version = server.get("/version");
    assert_eq!(version.status, 200, "{version:?}");
    assert_eq!(version.json()["gitVersion"], common::kube::version());

    let crd = serde_json::to_value(Kind::VirtualService.crd()).unwrap();
    let name = crd["metadata"]["name"].as_str().unwrap().to_string();
    let created = server.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", &crd);
    assert_eq!(created.status, 201, "{}", created.json());

    common::poll(&format!("CRD {name} is Established"), Duration::from_secs(30), || {
        let crd = server.get(&format!("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")).json();
        condition(&crd, "Established") == Some("True")
    });

    assert!(server.kubeconfig().is_file());
}

/// The status of an object's condition of this type, if it has one.
fn condition<'a>(object: &'a Value, kind: &str) -> Option<&'a str> {
    object["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == kind)?["status"].as_str()
}
