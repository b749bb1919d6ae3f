//! Ports that never collide, and a mesh that heals (issue 9): a part of the mesh whose port
//! another process takes moves to a new port and traffic flows again, and many meshes, one
//! after another and side by side, all come up.

use super::common;

use std::net::TcpListener;
use std::time::Duration;

use common::local_mesh::LocalMesh;
use serde_json::Value;

/// How long a healed mesh may take to serve again: a restart or two and a configuration push.
const HEALED_WITHIN: Duration = Duration::from_secs(20);

/// A mesh with one instance of `profile`, ready.
fn mesh_with_profile() -> LocalMesh {
    let mesh = LocalMesh::install();
    let run = mesh.meshctl(&["apply", "-f", "-"], &common::demo_workload("profile", "profile", None, &[]));
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    mesh.wait_healthy();
    mesh
}

/// What the status file says of one instance.
fn instance(mesh: &LocalMesh, node: &str) -> Value {
    let status = mesh.status();
    status["instances"].as_array().unwrap().iter().find(|i| i["node_id"] == node).cloned().unwrap_or(Value::Null)
}

fn kill(pid: &Value) {
    meshctl::runtime::process::signal(pid.as_u64().unwrap() as u32, rustix::process::Signal::KILL);
}

/// Binds `port` as soon as the process that held it is gone, and holds it without answering.
fn take(port: &Value) -> TcpListener {
    let port = port.as_u64().unwrap() as u16;
    let mut taken = None;
    common::poll(&format!("port {port} is free to take"), Duration::from_secs(5), || {
        taken = TcpListener::bind(("127.0.0.1", port)).ok();
        taken.is_some()
    });
    taken.unwrap()
}

/// Whether `host` answers 200 through the gateway (a request to a port held by a listener that
/// never answers waits until the timeout).
fn answers(mesh: &LocalMesh, host: &str) -> bool {
    matches!(mesh.try_get(host, Duration::from_secs(2)), Ok((200, _)))
}

/// Where the status records each of an instance's ports (of its one service port).
const PORTS: [&str; 4] = ["/ports/served/0/app", "/ports/served/0/inbound", "/ports/outbound", "/ports/admin"];

/// Kills one of profile's processes (`pid`: `app_pid` or `sidecar_pid`), takes one of its ports
/// (`port`, one of `PORTS`) as soon as it is free, and waits until profile answers again with
/// that port moved.
fn heals_when_taken(pid: &str, port: &str) {
    let mesh = mesh_with_profile();
    let before = instance(&mesh, "profile-0.default");
    kill(&before[pid]);
    let _taken = take(before.pointer(port).unwrap_or(&Value::Null));

    common::poll(&format!("profile answers with a new {port} port"), HEALED_WITHIN, || {
        instance(&mesh, "profile-0.default").pointer(port) != before.pointer(port) && answers(&mesh, "profile")
    });
    mesh.wait_healthy();
    let after = instance(&mesh, "profile-0.default");
    for other in PORTS.into_iter().filter(|p| p != &port) {
        assert_eq!(after.pointer(other), before.pointer(other), "only the {port} port moves");
    }
}

#[test]
fn an_application_whose_port_is_taken_restarts_on_a_new_one() {
    heals_when_taken("app_pid", PORTS[0]);
}

/// The restarted Envoy refuses the listener it cannot bind and runs on: the supervisor learns
/// from its admin endpoint which listeners it lacks.
#[test]
fn a_sidecar_whose_inbound_port_is_taken_listens_on_a_new_one() {
    heals_when_taken("sidecar_pid", PORTS[1]);
}

/// Envoy cannot start without its admin port.
#[test]
fn a_sidecar_whose_admin_port_is_taken_restarts_on_a_new_one() {
    heals_when_taken("sidecar_pid", PORTS[3]);
}

/// frontend calling profile (two versions) and board, three replicas each: twelve instances
/// with four ports each. So many ports made one mesh in five collide when ports were chosen by
/// binding port 0 and closing it, which hands out one of only about 7,000 ports on Linux.
fn workloads() -> String {
    let replicated = |workload: String| workload.replacen("spec: {", "spec: {replicas: 3, ", 1);
    [
        common::demo_workload("frontend", "frontend", None, &["--call", "profile", "--call", "board"]),
        common::demo_workload("profile-v1", "profile", Some("v1"), &[]),
        common::demo_workload("profile-v2", "profile", Some("v2"), &[]),
        common::demo_workload("board", "board", None, &[]),
    ]
    .map(replicated)
    .join("---\n")
}

/// Installs a mesh, applies the workloads and waits until `meshctl check` passes.
fn a_mesh_comes_up() {
    let mesh = LocalMesh::install();
    let run = mesh.meshctl(&["apply", "-f", "-"], &workloads());
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    mesh.wait_healthy();
    assert_eq!(mesh.status()["instances"].as_array().unwrap().len(), 12);
    assert_eq!(mesh.get("frontend").0, 200);
}

#[test]
fn many_meshes_one_after_another_and_side_by_side_all_come_up() {
    for _ in 0..6 {
        a_mesh_comes_up();
    }
    let side_by_side: Vec<_> = (0..3).map(|_| std::thread::spawn(a_mesh_comes_up)).collect();
    for mesh in side_by_side {
        if let Err(panic) = mesh.join() {
            std::panic::resume_unwind(panic);
        }
    }
}
