//! kubectl's habits on every command that reads (issue 9): `-o` means the same everywhere it
//! is offered, through the real binary on a real local mesh.

mod common;

use common::local_mesh::LocalMesh;

/// In `default`: routes and a DestinationRule for profile and board, labelled to be selected.
/// In `rollouts`: a Canary on checkout, away from what the selectors look at, since the
/// controller rewrites its service's routes.
const POLICIES: &str = "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: profile, labels: {app: profile, tier: api}}
spec:
  hosts: [profile]
  http:
  - route:
    - destination: {host: profile, subset: v1}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: profile, labels: {app: profile}}
spec:
  host: profile
  subsets:
  - {name: v1, labels: {version: v1}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: board, labels: {app: board}}
spec:
  hosts: [board]
  http:
  - route:
    - destination: {host: board}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: checkout, namespace: rollouts}
spec:
  host: checkout
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: meshctl.io/v1alpha1
kind: Canary
metadata: {name: checkout, namespace: rollouts}
spec: {service: checkout, stable: v1, canary: v2, interval: 1m}
";

#[test]
fn reads_take_every_output_format() {
    let mesh = LocalMesh::install();
    let run = mesh.meshctl(&["apply", "-f", "-"], POLICIES);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);

    // -o wide is a table wherever -o is offered, never JSON.
    for args in [&["proxy-status", "-o", "wide"][..], &["canary", "status", "checkout", "-n", "rollouts", "-o", "wide"]]
    {
        let run = mesh.meshctl(args, "");
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        assert!(!run.stdout.starts_with(['{', '[']), "{args:?} printed JSON: {}", run.stdout);
    }
}
