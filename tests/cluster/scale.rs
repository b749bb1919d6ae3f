//! What the control plane costs the API server when nothing changes, read from the API
//! server's audit log.

use std::collections::BTreeMap;
use std::time::Duration;

use meshctl::kube::install::{self, NAMESPACE};
use serde_json::Value;

use super::common::node;

/// How long the mesh is watched idle, as the issue that asked for it measures.
const IDLE: Duration = Duration::from_secs(60);

/// A synced controller learns of a change from its watches: over a minute in which nobody
/// writes one of the mesh's objects, it lists and gets none of them.
#[test]
fn an_idle_controller_lists_none_of_the_meshs_objects() {
    let mesh = node::mesh();
    // Nobody else's test writes to the mesh meanwhile.
    let _turn = mesh.alone();
    let groups: Vec<String> = install::CLUSTER_KINDS.iter().map(|k| k.crd().spec.group).collect();
    let ours = |r: &Value| groups.iter().any(|g| r["objectRef"]["apiGroup"] == g.as_str());
    let controller = format!("system:serviceaccount:{NAMESPACE}:{}", install::CONTROLLER);
    // A status the controller writes is a change too; the window starts once there are none.
    let mut tries = 0;
    let window = loop {
        // A write just before the window may be read just inside it: the writes are looked
        // for from a few seconds earlier.
        let settle = mesh.node.requests().len();
        std::thread::sleep(Duration::from_secs(3));
        let start = mesh.node.requests().len();
        std::thread::sleep(IDLE);
        let mut window: Vec<Value> = mesh.node.requests().split_off(settle);
        let writes: Vec<&Value> = window
            .iter()
            .filter(|r| {
                let verb = r["verb"].as_str();
                // A namespace being deleted takes its objects with it, kind by kind.
                ours(r) && matches!(verb, Some("create" | "update" | "patch" | "delete" | "deletecollection"))
            })
            .collect();
        if writes.is_empty() {
            break window.split_off(start - settle);
        }
        tries += 1;
        assert!(tries < 3, "the mesh's objects are written all the time, even idle: {writes:#?}");
    };
    let by_controller: Vec<&Value> = window.iter().filter(|r| r["user"]["username"] == controller.as_str()).collect();
    let reads: Vec<&&Value> =
        by_controller.iter().filter(|r| ours(r) && matches!(r["verb"].as_str(), Some("list" | "get"))).collect();
    assert!(reads.is_empty(), "an idle controller read the mesh's objects: {reads:#?}");
    let mut counted: BTreeMap<String, usize> = BTreeMap::new();
    for r in &by_controller {
        let what = format!(
            "{} {}",
            r["verb"].as_str().unwrap_or_default(),
            r["objectRef"]["resource"].as_str().unwrap_or_default()
        );
        *counted.entry(what).or_default() += 1;
    }
    println!("an idle controller's requests over {IDLE:?}: {counted:?}");
}
