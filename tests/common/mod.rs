//! Running the real `meshctl` binary from tests, and comparing output with golden files.

#![allow(dead_code)] // each test crate uses a different part of this module

pub mod browser;
pub mod dashboard;
pub mod docs;
pub mod envoy;
pub mod images;
pub mod kube;
pub mod local_mesh;
pub mod memory;
pub mod node;
pub mod tls;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The repository root: tests run there, so paths in output are stable and relative.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One YAML document: a Workload running `meshctl demo-app` for `service`, labelled with
/// `version` when there is one, with the demo app's `args`.
pub fn demo_workload(name: &str, service: &str, version: Option<&str>, args: &[&str]) -> String {
    demo_workload_serving(name, service, version, args, &[])
}

/// `demo_workload` whose service has `ports` (name, number) besides HTTP on 80: the demo app
/// serves its TCP echo on a port named `tcp` and its gRPC method on one named `grpc`.
pub fn demo_workload_serving(
    name: &str,
    service: &str,
    version: Option<&str>,
    args: &[&str],
    ports: &[(&str, u16)],
) -> String {
    let labels = version.map(|v| format!(", labels: {{version: {v}}}")).unwrap_or_default();
    let args: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
    let ports = match ports {
        [] => String::new(),
        more => {
            let more: Vec<String> =
                more.iter().map(|(name, port)| format!(", {{name: {name}, port: {port}}}")).collect();
            format!(", ports: [{{name: http, port: 80}}{}]", more.concat())
        }
    };
    format!(
        "apiVersion: meshctl.io/v1alpha1\nkind: Workload\nmetadata: {{name: {name}}}\nspec: {{service: {service}{labels}, command: [meshctl, demo-app], args: [{}]{ports}}}\n",
        args.join(", ")
    )
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `meshctl ARGS` in the repository root with `stdin` as input, colour off.
pub fn meshctl_with_input(args: &[&str], stdin: &str) -> Run {
    meshctl_in(args, stdin, &[])
}

/// Runs `meshctl ARGS` with `stdin` and these environment variables (and no other meshctl
/// settings from the test's own environment).
pub fn meshctl_in(args: &[&str], stdin: &str, envs: &[(&str, &str)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_meshctl"));
    command
        .args(args)
        .current_dir(root())
        .env("NO_COLOR", "1")
        .env_remove("MESHCTL_NAMESPACE")
        .env_remove("MESHCTL_STATE_DIR")
        .env_remove("MESHCTL_ENVOY")
        // Without a state directory, a command goes to the cluster of a kubeconfig it finds.
        .env_remove("KUBECONFIG")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .envs(envs.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("meshctl starts");
    child.stdin.take().expect("stdin is piped").write_all(stdin.as_bytes()).expect("stdin is written");
    let Output { status, stdout, stderr } = child.wait_with_output().expect("meshctl runs");
    Run {
        code: status.code().expect("meshctl exits, not killed"),
        stdout: String::from_utf8(stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(stderr).expect("stderr is UTF-8"),
    }
}

pub fn meshctl(args: &[&str]) -> Run {
    meshctl_with_input(args, "")
}

/// Compares `actual` with the golden file at `path` (relative to the repository root).
/// With `UPDATE_GOLDEN=1` the file is rewritten instead, for reviewing with `git diff`.
pub fn assert_golden(path: impl AsRef<Path>, actual: &str) {
    let path = root().join(path);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}; run with UPDATE_GOLDEN=1 to create it", path.display()));
    if expected != actual {
        panic!(
            "{} is stale; run `UPDATE_GOLDEN=1 cargo test` and review the diff.\n--- expected\n{expected}\n--- actual\n{actual}",
            path.display()
        );
    }
}

/// The files in a directory of the repository with the given extension, sorted.
pub fn files(dir: &str, extension: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == extension))
        .map(|p| p.strip_prefix(root()).unwrap().to_path_buf())
        .collect();
    files.sort();
    files
}

/// A port nothing listens on now, which the OS gives no one else for a minute (the caller binds
/// it soon after).
pub fn free_port() -> u16 {
    meshctl::runtime::ports::reserve().unwrap()
}

/// Polls `ready` until it holds; fails the test with `what` after `deadline`.
pub fn poll(what: &str, deadline: std::time::Duration, ready: impl FnMut() -> bool) {
    assert!(within(deadline, ready), "timed out after {deadline:?} waiting until {what}");
}

/// Polls `ready` until it holds or `deadline` has passed; says whether it held.
pub fn within(deadline: std::time::Duration, mut ready: impl FnMut() -> bool) -> bool {
    let start = std::time::Instant::now();
    while !ready() {
        if start.elapsed() >= deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    true
}
