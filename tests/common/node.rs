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
use std::sync::{OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use serde_json::{Value, json};

use super::Run;
use super::kube::Api;

/// The node's address, where its API server listens (on 6443) and its kubelet serves.
pub const NODE_IP: Ipv4Addr = Ipv4Addr::new(10, 236, 0, 2);
/// The host's end of the link to the node: a server the test binds here is outside the
/// cluster, and reachable from its Pods.
pub const HOST_IP: Ipv4Addr = Ipv4Addr::new(10, 236, 0, 1);

/// A running node. Tests reach its API server through the [`Api`] it dereferences to.
pub struct Node {
    api: Api,
    dir: PathBuf,
    /// The script, whose stdin the node lives by; dropped only with the process.
    _supervisor: Child,
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

/// The CPU the shared mesh's proxies request (see `INSTALL`).
pub const PROXY_CPU: &str = "10m";

/// How the shared mesh is installed: the images of the binaries under test, every request
/// traced (as the local mesh does by default), gateways on cluster IPs (the node has no load
/// balancer, and its host, where the tests and the conformance suite run, reaches cluster IPs),
/// proxies that ask for little CPU (the node's two cores are all the scheduler can give, and the
/// conformance suite alone runs some thirty meshed Pods), waiting until the mesh is ready.
pub const INSTALL: [&str; 12] = [
    "install",
    "--image",
    super::images::MESHCTL,
    "--envoy-image",
    super::images::ENVOY,
    "--trace-sampling",
    "100",
    "--gateway-service-type",
    "ClusterIP",
    "--proxy-cpu-request",
    PROXY_CPU,
    "--wait",
];

/// The mesh installed on the shared node, and what a user saw doing it.
pub struct Mesh {
    pub node: &'static Node,
    /// The first `meshctl install` (`INSTALL`).
    pub install: Run,
    /// The same again, at once.
    pub reinstall: Run,
    /// `meshctl check` right after, before any test ran a workload in the mesh.
    pub check: Run,
    turns: RwLock<()>,
}

impl Mesh {
    /// A turn on the mesh beside other tests', for a test whose workloads live in namespaces
    /// of its own.
    pub fn share(&self) -> RwLockReadGuard<'_, ()> {
        self.turns.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The mesh alone, for a test that disturbs everyone's: one that stops the controller.
    pub fn alone(&self) -> RwLockWriteGuard<'_, ()> {
        self.turns.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The shared node with the mesh installed on it, once per test binary, its injector trusted by
/// the API server.
pub fn mesh() -> &'static Mesh {
    static MESH: OnceLock<Mesh> = OnceLock::new();
    MESH.get_or_init(|| {
        let node = shared();
        let install = node.install();
        let reinstall = node.meshctl(&INSTALL);
        let check = node.meshctl(&["check"]);
        Mesh { node, install, reinstall, check, turns: RwLock::new(()) }
    })
}

/// Puts the mesh back as [`INSTALL`] makes it when dropped, for a test that changes or removes
/// it; after a failure too (without judging the install), so that the other tests meet
/// install's mesh.
pub struct Reinstall<'n>(pub &'n Node);

impl Drop for Reinstall<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.meshctl(&INSTALL);
        } else {
            self.0.install();
        }
    }
}

/// A namespace of one test's objects, deleted (without waiting) when dropped, so that what a
/// test leaves does not pile up on the shared node.
pub struct Namespace<'n> {
    node: &'n Node,
    pub name: String,
}

impl Drop for Namespace<'_> {
    fn drop(&mut self) {
        self.node.kubectl(&["delete", "namespace", &self.name, "--wait=false"]);
    }
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
                return Node { api, dir, _supervisor: supervisor };
            }
            lines.push(line);
        }
        let status = supervisor.wait().expect("the script is waited for");
        panic!("scripts/test-node stopped before the node was ready ({status}); it said:\n{}", lines.join("\n"));
    }

    /// `meshctl install` as [`INSTALL`] says, which must succeed, then waits until the API
    /// server trusts the injector (the controller sets its caBundle); what install printed.
    pub fn install(&self) -> Run {
        let install = self.meshctl(&INSTALL);
        assert_eq!(
            install.code,
            0,
            "{}{}\n{}",
            install.stdout,
            install.stderr,
            self.kubectl(&["-n", "meshctl-system", "get", "pods,events", "-o", "wide"]).stdout
        );
        let webhook = format!("mutatingwebhookconfiguration/{}", meshctl::kube::webhook::CONFIGURATION);
        super::poll("the controller sets the injector's caBundle", Duration::from_secs(60), || {
            let bundles = self.kubectl_ok(&["get", &webhook, "-o", "jsonpath={.webhooks[*].clientConfig.caBundle}"]);
            !bundles.trim().is_empty()
        });
        install
    }

    /// Runs the cluster's own `kubectl` as the admin.
    pub fn kubectl(&self, args: &[&str]) -> Run {
        self.kubectl_with_input(args, "")
    }

    /// Runs the cluster's own `kubectl` as the admin, with `stdin` as its input.
    pub fn kubectl_with_input(&self, args: &[&str], stdin: &str) -> Run {
        let mut child = Command::new(super::kube::binary_dir().join("kubectl"))
            .arg("--kubeconfig")
            .arg(self.kubeconfig())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl runs");
        std::io::Write::write_all(&mut child.stdin.take().expect("stdin is piped"), stdin.as_bytes()).unwrap();
        let output = child.wait_with_output().expect("kubectl runs");
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

    /// Runs `curl ARGS` (at most 5 s) in the network namespace of Pod `namespace/pod`, as a
    /// process of its application would: its output, or `None` when curl failed.
    pub fn curl_in_pod(&self, namespace: &str, pod: &str, args: &[&str]) -> Option<String> {
        self.curl_in_pod_with_input(namespace, pod, args, &[]).map(|out| String::from_utf8_lossy(&out).into_owned())
    }

    /// `curl_in_pod` with `input` on curl's standard input, and its output as bytes.
    pub fn curl_in_pod_with_input(&self, namespace: &str, pod: &str, args: &[&str], input: &[u8]) -> Option<Vec<u8>> {
        use std::io::Write;
        let pid = self.pod_process(namespace, pod);
        let mut child = Command::new("nsenter")
            .args(["--target", &pid.to_string(), "--net", "curl", "--silent", "--max-time", "5"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("nsenter runs");
        child.stdin.take().expect("piped").write_all(input).expect("curl reads its input");
        let output = child.wait_with_output().expect("curl ends");
        output.status.success().then_some(output.stdout)
    }

    /// The host pid of the first application container of Pod `namespace/pod`, as containerd
    /// reports it.
    pub fn pod_process(&self, namespace: &str, pod: &str) -> u32 {
        let id = self.kubectl_ok(&[
            "-n",
            namespace,
            "get",
            "pod",
            pod,
            "-o",
            "jsonpath={.status.containerStatuses[0].containerID}",
        ]);
        let id =
            id.strip_prefix("containerd://").unwrap_or_else(|| panic!("{namespace}/{pod} runs no container: {id:?}"));
        let output = Command::new(super::kube::binary_dir().join("ctr"))
            .arg("--address")
            .arg(self.dir.join("containerd/containerd.sock"))
            .args(["-n", "k8s.io", "tasks", "ls"])
            .output()
            .expect("ctr runs");
        let tasks = String::from_utf8_lossy(&output.stdout);
        tasks
            .lines()
            .find_map(|line| {
                let mut fields = line.split_whitespace();
                (fields.next() == Some(id)).then(|| fields.next()?.parse().ok())?
            })
            .unwrap_or_else(|| panic!("containerd runs no task {id}:\n{tasks}"))
    }

    /// The mesh's ingress gateway, at its Service's cluster IP (which the host routes to).
    pub fn gateway(&self) -> SocketAddr {
        let service = format!("service/{}", meshctl::kube::install::GATEWAY);
        let ip = self.kubectl_ok(&["-n", "meshctl-system", "get", &service, "-o", "jsonpath={.spec.clusterIP}"]);
        SocketAddr::new(ip.parse().expect("the gateway's cluster IP"), 80)
    }

    /// Imports the OCI image archive at `archive` into the node's containerd, as the images
    /// the node starts with are: Pods with `imagePullPolicy: IfNotPresent` then find it.
    pub fn import_image(&self, archive: &std::path::Path) {
        let output = Command::new(super::kube::binary_dir().join("ctr"))
            .arg("--address")
            .arg(self.dir.join("containerd/containerd.sock"))
            .args(["-n", "k8s.io", "images", "import"])
            .arg(archive)
            .output()
            .expect("ctr runs");
        assert!(
            output.status.success(),
            "ctr images import {}: {}",
            archive.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// The name of the one Pod in `namespace` that `selector` (`key=value`) picks.
    pub fn pod_named(&self, namespace: &str, selector: &str) -> String {
        let names = self.kubectl_ok(&["-n", namespace, "get", "pods", "-l", selector, "-o", "name"]);
        let names: Vec<&str> = names.lines().filter_map(|n| n.strip_prefix("pod/")).collect();
        assert_eq!(names.len(), 1, "Pods {selector} in {namespace}: {names:?}");
        names[0].to_string()
    }

    /// The controller's one Pod, once a rollout (another test's reinstall, or this one's) has
    /// finished: `rollout status` returns while the old Pod is still terminating.
    pub fn controller_pod(&self) -> String {
        let selector = format!("app.kubernetes.io/name={}", meshctl::kube::install::CONTROLLER);
        let namespace = meshctl::kube::install::NAMESPACE;
        super::poll("one controller Pod runs", Duration::from_secs(120), || {
            self.kubectl_ok(&["-n", namespace, "get", "pods", "-l", &selector, "-o", "name"]).lines().count() == 1
        });
        self.pod_named(namespace, &selector)
    }

    /// `kubectl apply -f -` of `manifest`, which must succeed.
    pub fn apply(&self, manifest: &str) {
        let run = self.kubectl_with_input(&["apply", "-f", "-"], manifest);
        assert_eq!(run.code, 0, "kubectl apply:\n{manifest}\n{}", run.stderr);
    }

    /// Runs the controller with `args` more; put back as install made it when the guard is
    /// dropped.
    pub fn controller_with(&self, args: &[&str]) -> Reinstall<'_> {
        let at = "/spec/template/spec/containers/0/args/-";
        let patch: Vec<Value> = args.iter().map(|a| json!({ "op": "add", "path": at, "value": a })).collect();
        let deployment = format!("deployment/{}", meshctl::kube::install::CONTROLLER);
        let reinstall = Reinstall(self);
        let patch = Value::Array(patch).to_string();
        self.kubectl_ok(&["-n", meshctl::kube::install::NAMESPACE, "patch", &deployment, "--type=json", "-p", &patch]);
        let status = ["-n", meshctl::kube::install::NAMESPACE, "rollout", "status", &deployment, "--timeout=120s"];
        self.kubectl_ok(&status);
        reinstall
    }

    /// Makes namespace `name`, labelled with `labels` (`key=value`), for one test's objects.
    pub fn namespace(&self, name: &str, labels: &[&str]) -> Namespace<'_> {
        self.kubectl_ok(&["create", "namespace", name]);
        let namespace = Namespace { node: self, name: name.to_string() };
        if !labels.is_empty() {
            let mut args = vec!["label", "namespace", name];
            args.extend(labels);
            self.kubectl_ok(&args);
        }
        namespace
    }

    /// Waits up to `timeout` for `kubectl wait` condition `condition` on `target` in `namespace`:
    /// one object (`deployment/x`) or every one of a kind (`deployment`).
    pub fn wait(&self, namespace: &str, target: &str, condition: &str, timeout: Duration) {
        let timeout = format!("{}s", timeout.as_secs());
        let condition = format!("--for={condition}");
        let mut args = vec!["-n", namespace, "wait", target, &condition, "--timeout", &timeout];
        if !target.contains('/') {
            args.push("--all");
        }
        let run = self.kubectl(&args);
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

/// A Deployment of one demo app `name` (labels `app: name` and `labels`, after which it is
/// named) in `namespace`, run from meshctl's image with `args` more, ready when the app answers
/// its health check.
pub fn demo_deployment(namespace: &str, name: &str, labels: &[(&str, &str)], args: &[&str]) -> Value {
    let mut pod_labels = json!({ "app": name });
    for (key, value) in labels {
        pod_labels[key] = json!(value);
    }
    let deployment_name = labels.iter().fold(name.to_string(), |n, (_, v)| format!("{n}-{v}"));
    let mut command = vec!["demo-app", "--name", name, "--address", "0.0.0.0", "--port", "8080"];
    command.extend(args);
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": { "name": deployment_name, "namespace": namespace },
        "spec": {
            "replicas": 1,
            "selector": { "matchLabels": pod_labels },
            "template": {
                "metadata": { "labels": pod_labels },
                "spec": { "containers": [{
                    "name": "app",
                    "image": super::images::MESHCTL,
                    "imagePullPolicy": "Never",
                    "args": command,
                    "ports": [{ "name": "http", "containerPort": 8080 }],
                    "readinessProbe": { "httpGet": { "path": "/healthz", "port": 8080 }, "periodSeconds": 1 },
                }]},
            },
        },
    })
}

/// Service `name` in `namespace`: port 80 to the demo apps' 8080.
pub fn service(namespace: &str, name: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": { "name": name, "namespace": namespace },
        "spec": { "selector": { "app": name }, "ports": [{ "name": "http", "port": 80, "targetPort": 8080 }] },
    })
}

/// Profile's subsets v1 and v2, by the `version` label, in `namespace`.
pub fn profile_subsets(namespace: &str) -> Value {
    json!({
        "apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
        "metadata": { "name": "profile", "namespace": namespace },
        "spec": { "host": "profile", "subsets": [
            { "name": "v1", "labels": { "version": "v1" } },
            { "name": "v2", "labels": { "version": "v2" } },
        ]},
    })
}

/// Profile's route, with Istio's default retries: a failing canary must be found all the same.
pub fn profile_route(ns: &str, v1: u32, v2: u32) -> Value {
    json!({
        "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
        "metadata": { "name": "profile", "namespace": ns },
        "spec": { "hosts": ["profile"], "http": [{ "route": [
            { "destination": { "host": "profile", "subset": "v1" }, "weight": v1 },
            { "destination": { "host": "profile", "subset": "v2" }, "weight": v2 },
        ]}]},
    })
}
