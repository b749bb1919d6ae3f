//! The real one-node cluster the Kubernetes tests run on: `scripts/test-node` starts etcd,
//! kube-apiserver, kube-controller-manager, kube-scheduler, containerd, kubelet, kube-proxy and
//! CoreDNS in a network namespace of their own, with meshctl's and Envoy's images (built by
//! `scripts/images` from the binaries under test) imported into containerd.
//!
//! ```text
//!   test process ── stdin ──▶ scripts/test-node up DIR      (removes the node when stdin closes)
//!        │                      └─ node 10.236.0.2: API server :6443, kubelet, Pods 10.237.0.0/24
//!        └── HTTPS, kubectl, meshctl ─────────┘                Services 10.238.0.0/16
//! ```
//!
//! One node runs on a machine at a time, so the tests of a test binary share one ([`shared`]),
//! each in namespaces of its own. The node lives as long as the test process: the script holds
//! the other end of a pipe and tears everything down when it closes, however the process ends.

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use super::Run;
use super::kube::Api;

/// The node's address, where its API server listens (on 6443) and its kubelet serves.
pub const NODE_IP: Ipv4Addr = Ipv4Addr::new(10, 236, 0, 2);
/// The node's name, as its kubelet registers it.
pub const NODE_NAME: &str = "meshctl-node";

/// A running node. Tests reach its API server through the [`Api`] it dereferences to.
pub struct Node {
    api: Api,
    dir: PathBuf,
    /// The script, whose stdin the node lives by; dropped only with the process.
    _supervisor: Mutex<Child>,
}

impl std::ops::Deref for Node {
    type Target = Api;
    fn deref(&self) -> &Api {
        &self.api
    }
}

/// The node this test binary's tests share, started on first use.
pub fn shared() -> &'static Node {
    static NODE: OnceLock<Node> = OnceLock::new();
    NODE.get_or_init(Node::start)
}

impl Node {
    fn start() -> Node {
        assert!(
            rustix::process::geteuid().is_root(),
            "a node makes network namespaces, cgroups and mounts: run the tests as root"
        );
        let images = tempfile::Builder::new().prefix("meshctl-images-").tempdir().unwrap();
        let archives = [super::images::meshctl(images.path()), super::images::envoy(images.path())];
        // The script makes the directory and removes it when the node stops.
        let dir = std::env::temp_dir().join(format!("meshctl-node-{}", std::process::id()));
        let mut supervisor = Command::new("bash")
            .arg(super::root().join("scripts/test-node"))
            .arg("up")
            .arg(&dir)
            .args(archives.iter().map(|image| &image.archive))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            // Its own group: a signal to the test's group does not cut its teardown short.
            .process_group(0)
            .spawn()
            .expect("scripts/test-node starts");
        let stdout = BufReader::new(supervisor.stdout.take().expect("stdout is piped"));
        let mut lines = Vec::new();
        for line in stdout.lines() {
            let line = line.expect("the script writes lines");
            if line == "ready" {
                let api = Api::from_dir(SocketAddr::from((NODE_IP, 6443)), &dir);
                return Node { api, dir, _supervisor: Mutex::new(supervisor) };
            }
            lines.push(line);
        }
        let status = supervisor.wait().expect("the script is waited for");
        panic!("scripts/test-node stopped before the node was ready ({status}); it said:\n{}", lines.join("\n"));
    }

    /// Runs the cluster's own `kubectl` as the admin.
    pub fn kubectl(&self, args: &[&str]) -> Run {
        let output = Command::new(super::kube::binary_dir().join("kubectl"))
            .arg("--kubeconfig")
            .arg(self.kubeconfig())
            .args(args)
            .output()
            .expect("kubectl runs");
        Run {
            code: output.status.code().expect("kubectl exits, not killed"),
            stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
        }
    }

    /// `kubectl ARGS`, which must succeed; its output.
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let run = self.kubectl(args);
        assert_eq!(run.code, 0, "kubectl {}: {}{}", args.join(" "), run.stdout, run.stderr);
        run.stdout
    }

    /// Runs `meshctl ARGS --kubeconfig ADMIN` against the node.
    pub fn meshctl(&self, args: &[&str]) -> Run {
        let kubeconfig = self.kubeconfig();
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--kubeconfig", kubeconfig.to_str().expect("a UTF-8 path")]);
        super::meshctl(&all)
    }

    /// The end of the log of a node process (`kubelet`, `containerd`, ...), to show why a test
    /// failed.
    pub fn log_tail(&self, process: &str) -> String {
        let text = std::fs::read_to_string(self.dir.join("logs").join(format!("{process}.log"))).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Makes namespace `name`, labelled with `labels` (`key=value`), for one test's objects.
    pub fn namespace(&self, name: &str, labels: &[&str]) {
        self.kubectl_ok(&["create", "namespace", name]);
        if !labels.is_empty() {
            let mut args = vec!["label", "namespace", name];
            args.extend(labels);
            self.kubectl_ok(&args);
        }
    }

    /// Waits up to `timeout` for `kubectl wait` condition `condition` on `target` in `namespace`.
    pub fn wait(&self, namespace: &str, target: &str, condition: &str, timeout: Duration) {
        let timeout = format!("{}s", timeout.as_secs());
        let run =
            self.kubectl(&["-n", namespace, "wait", target, &format!("--for={condition}"), "--timeout", &timeout]);
        assert_eq!(
            run.code,
            0,
            "{target} in {namespace} is not {condition} after {timeout}: {}{}\n{}",
            run.stdout,
            run.stderr,
            self.kubectl(&["-n", namespace, "get", "pods,events", "-o", "wide"]).stdout
        );
    }
}
