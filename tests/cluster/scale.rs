//! What the control plane costs the API server when nothing changes, read from the API
//! server's audit log.

use std::time::Duration;

use meshctl::kube::install::{self, NAMESPACE};
use serde_json::Value;

use super::common::kube::{self, counted};
use super::common::node;

/// How long the mesh is watched idle, as the issue that asked for it measures.
const IDLE: Duration = Duration::from_secs(60);

/// A synced controller learns of a change from its watches: over a minute in which nobody
/// writes one of the mesh's objects, it lists and gets none of them, and asks the API server
/// for little besides its lease. A change then reaches the proxies without a listing.
#[test]
fn an_idle_controller_lists_none_of_the_meshs_objects_nor_does_a_change() {
    let mesh = node::mesh();
    // Nobody else's test writes to the mesh meanwhile.
    let _turn = mesh.alone();
    let node = mesh.node;
    let namespace = node.namespace("scale", &[]);
    let ns = namespace.name.as_str();
    let dir = tempfile::tempdir().unwrap();
    let apply = |objects: &[Value]| {
        // JSON is YAML: one document per object.
        let path = dir.path().join("mesh.yaml");
        let documents: Vec<String> = objects.iter().map(Value::to_string).collect();
        std::fs::write(&path, documents.join("\n---\n")).unwrap();
        let run = node.meshctl(&["apply", "-n", ns, "-f", path.to_str().unwrap(), "--wait"]);
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    };
    apply(&[node::profile_subsets(ns), node::profile_route(ns, 90, 10)]);

    let groups: Vec<String> = install::CLUSTER_KINDS.iter().map(|k| k.crd().spec.group).collect();
    let ours = |r: &Value| groups.iter().any(|g| r["objectRef"]["apiGroup"] == g.as_str());
    let controller = format!("system:serviceaccount:{NAMESPACE}:{}", install::CONTROLLER);
    // A status the controller writes is a change too; the window starts once there are none.
    let mut tries = 0;
    let window = loop {
        // A write just before the window may be read just inside it: the writes are looked
        // for from a few seconds earlier.
        let settle = node.requests().len();
        std::thread::sleep(Duration::from_secs(3));
        let start = node.requests().len();
        std::thread::sleep(IDLE);
        let mut window: Vec<Value> = node.requests().split_off(settle);
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
    let by_controller = requests_of(&window, &controller);
    // An audit log names meshctl's requests, as it names kubectl's.
    let unnamed: Vec<&&Value> =
        by_controller.iter().filter(|r| !r["userAgent"].as_str().is_some_and(|a| a.starts_with("meshctl/v"))).collect();
    assert!(unnamed.is_empty(), "the controller's requests do not say they are meshctl's: {unnamed:#?}");
    let reads: Vec<&&Value> =
        by_controller.iter().filter(|r| ours(r) && matches!(r["verb"].as_str(), Some("list" | "get"))).collect();
    assert!(reads.is_empty(), "an idle controller read the mesh's objects: {reads:#?}");
    let besides_lease: Vec<&&Value> = by_controller.iter().filter(|r| r["objectRef"]["resource"] != "leases").collect();
    println!("an idle controller's requests over {IDLE:?}: {:?}", counted(&by_controller));
    assert!(
        besides_lease.len() <= IDLE_REQUESTS,
        "an idle controller asked for more than its lease {} times: {:?}",
        besides_lease.len(),
        counted(&by_controller)
    );

    // One change, judged by the validator and run by every proxy: the controller lists nothing.
    let before = node.requests().len();
    apply(&[node::profile_route(ns, 50, 50)]);
    let changed = node.requests().split_off(before);
    let by_controller = requests_of(&changed, &controller);
    let lists: Vec<&&Value> = by_controller.iter().filter(|r| r["verb"] == "list").collect();
    assert!(lists.is_empty(), "a change had the controller list: {lists:#?}");
    println!("the controller's requests for one change: {:?}", counted(&by_controller));
}

/// At most this many requests of an idle controller over [`IDLE`] are not about its lease:
/// each of its watches is asked for again now and then.
const IDLE_REQUESTS: usize = 10;

/// The requests `user` made among `requests`, once each.
fn requests_of<'a>(requests: &'a [Value], user: &str) -> Vec<&'a Value> {
    kube::once_each(requests).into_iter().filter(|r| r["user"]["username"] == user).collect()
}
