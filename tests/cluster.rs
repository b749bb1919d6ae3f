//! meshctl on a real one-node cluster (`scripts/test-node`): a real kubelet, containerd, runc,
//! CNI, kube-proxy and CoreDNS, running meshctl's own images as a user's cluster would. The
//! tests of this binary share the node, each in namespaces of its own, and the mesh one of them
//! installs.

mod common;

use common::images;
use common::node::{self, Node};

/// `meshctl install` with the images built from the binaries under test.
fn install(node: &Node) -> common::Run {
    node.meshctl(&["install", "--image", images::MESHCTL, "--envoy-image", images::ENVOY, "--wait"])
}

#[test]
fn install_waits_for_a_mesh_that_runs_then_changes_nothing_and_check_passes() {
    let node = node::shared();
    let first = install(node);
    assert_eq!(
        first.code,
        0,
        "{}{}\n{}",
        first.stdout,
        first.stderr,
        node.kubectl(&["-n", "meshctl-system", "get", "pods,events", "-o", "wide"]).stdout
    );
    assert!(first.stdout.contains("2 Deployment(s) available"), "{}", first.stdout);
    // The Pods run meshctl's image and Envoy's, as containers of the kubelet.
    let images = node.kubectl_ok(&[
        "-n",
        "meshctl-system",
        "get",
        "pods",
        "-o",
        "jsonpath={range .items[*]}{.status.containerStatuses[*].image}{\"\\n\"}{end}",
    ]);
    assert!(images.contains(images::MESHCTL) && images.contains(images::ENVOY), "{images}");

    let second = install(node);
    assert_eq!(second.code, 0, "{}{}", second.stdout, second.stderr);
    let changed: Vec<&str> =
        second.stdout.lines().filter(|l| !l.contains(" unchanged") && !l.starts_with('✓') && !l.is_empty()).collect();
    assert!(changed.is_empty(), "a second install changed: {changed:?}\n{}", second.stdout);

    // What a user runs next, and what the stand-in kubelet hid: the gateway's container is not
    // a sidecar, and it is listening.
    let check = node.meshctl(&["check"]);
    assert_eq!(check.code, 0, "{}{}", check.stdout, check.stderr);
    assert!(!check.stdout.contains('✗'), "{}", check.stdout);
}
