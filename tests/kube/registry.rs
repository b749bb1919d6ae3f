//! The controller's registry (`meshctl::kube::registry`) against the real API server, for what
//! needs no running Pod: a watch its account may not make. How it follows Pods, their
//! readiness and their deletion is shown on the real node (`tests/cluster/registry.rs`).

use super::common;

use std::time::Duration;

use common::kube::KubeApiServer;
use meshctl::controller::Registry;
use meshctl::kube::registry::{KubeRegistry, Settings};
use serde_json::json;

#[test]
fn a_watch_the_controller_may_not_make_is_a_problem_that_names_the_resource() {
    let server = KubeApiServer::start();
    // An account that may watch all the registry watches but Pods.
    let kubeconfig = server.kubeconfig_for(
        "half-blind",
        json!([
            { "apiGroups": [""], "resources": ["services", "namespaces", "secrets"], "verbs": ["list", "watch"] },
            { "apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"] },
        ]),
    );

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = runtime.block_on(common::kube::client(&kubeconfig));
    let mut registry = runtime.block_on(async { KubeRegistry::start(client, Settings::default()) });

    let mut problems = Vec::new();
    let found = common::within(Duration::from_secs(30), || {
        runtime.block_on(registry.tick(&|_| meshctl::xds::SyncState::Synced));
        problems = registry.problems();
        problems.len() == 1 && problems[0].contains("may not list and watch pods")
    });
    assert!(found, "the only problem is the forbidden watch of Pods: {problems:#?}");
    assert!(problems[0].contains("forbidden"), "the API server's own words are kept: {problems:#?}");
    registry.shut_down();
}
