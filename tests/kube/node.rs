//! The test node itself (`scripts/test-node`): what it changes on the machine is undone when it
//! stops, and after a run killed before it could clean up, by the next one.

use super::common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

/// What the node may leave on the machine, read from the machine itself: its network
/// namespace, its cgroups, its processes, and the kernel settings the kubelet changes.
#[derive(Debug, PartialEq)]
struct Traces {
    netns: bool,
    cgroups: Vec<String>,
    processes: usize,
    settings: Vec<String>,
}

fn traces() -> Traces {
    let netns = Path::new("/run/netns/meshctl-node").exists();
    let mut cgroups = Vec::new();
    let mut processes = 0;
    for hierarchy in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        let cgroup = hierarchy.path().join("meshctl-node");
        if cgroup.is_dir() {
            cgroups.push(cgroup.display().to_string());
        }
    }
    if let Ok(procs) = std::fs::read_to_string("/sys/fs/cgroup/freezer/meshctl-node/cgroup.procs") {
        processes = procs.lines().count();
    }
    let settings = ["vm/overcommit_memory", "kernel/panic", "kernel/panic_on_oops"]
        .iter()
        .map(|key| format!("{key}={}", std::fs::read_to_string(format!("/proc/sys/{key}")).unwrap().trim()))
        .collect();
    Traces { netns, cgroups, processes, settings }
}

#[test]
fn a_node_killed_without_cleaning_up_is_swept_by_the_next_run() {
    // Another test binary's node is torn down after that process ends, by its script, which
    // holds the node's lock until everything is undone.
    let ledger = common::kube::binary_dir().join("node");
    std::fs::create_dir_all(&ledger).unwrap();
    let lock = std::fs::File::create(ledger.join("lock")).unwrap();
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive).unwrap();
    let before = traces();
    drop(lock);
    assert!(!before.netns && before.cgroups.is_empty(), "a node runs already: {before:?}");
    let dir = tempfile::Builder::new().prefix("meshctl-node-test-").tempdir().unwrap();
    let state = dir.path().join("node");
    let script = common::root().join("scripts/test-node");
    let mut node = Command::new("bash")
        .arg(&script)
        .arg("up")
        .arg(&state)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let ready = BufReader::new(node.stdout.take().unwrap()).lines().map_while(Result::ok).any(|l| l == "ready");
    assert!(ready, "the node never said ready");
    let running = traces();
    assert!(running.netns && running.processes > 5, "{running:?}");
    assert_ne!(running.settings, before.settings, "the kubelet changed no kernel setting: the test shows nothing");

    // Killed outright: no teardown runs, and the node's processes go on without it.
    node.kill().unwrap();
    node.wait().unwrap();
    let left = traces();
    assert!(left.netns && left.processes > 5 && state.exists(), "{left:?}");

    let swept = Command::new("bash").arg(&script).arg("sweep").output().unwrap();
    assert!(swept.status.success(), "{}", String::from_utf8_lossy(&swept.stderr));
    assert_eq!(traces(), before);
    assert!(!state.exists(), "the node's directory is left: {}", state.display());
}
