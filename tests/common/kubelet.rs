//! The kubelet's part, played by tests. No kubelet runs beside the test API server (see
//! `kube.rs`), so a test that needs a running Pod asks this module: it binds the Pod to a node,
//! gives it a network namespace of its own, runs its containers there as local processes, and
//! reports the Pod's IP and readiness through the status subresource, as a kubelet would.
//!
//! ```text
//!   root network namespace                              the Pod's network namespace meshctl-X-Y
//!   kube-apiserver ──pods/proxy──▶ 10.237.X.Y/32 dev meshctl-X-Y ══ veth ══ eth0 10.237.X.Y/32
//!   probes, tests                  10.237.0.1/32 on every Pod link         lo up, default via 10.237.0.1
//!                                                                          containers: local processes
//! ```
//!
//! Pods' addresses come from 10.237.0.0/16, which exists only on these links (loopback will
//! not do: the API server refuses to proxy to it). Each Pod link holds the host's address
//! 10.237.0.1, the Pods' gateway and their `hostIP`, and forwards, so Pods reach one another
//! through the host as they do through a node.
//!
//! Many tests, in one process or several, run Pods at once. An address is claimed by binding
//! the abstract Unix socket `meshctl-test-kubelet/meshctl-X-Y`, which the kernel releases when
//! its process dies however it dies; the namespace and the host's end of the veth pair are both
//! named `meshctl-X-Y` after it. A namespace or link of that name whose socket no one holds is a
//! leftover of a killed run and is removed. Every container is killed with the process that
//! started it (`PR_SET_PDEATHSIG`), and a `Kubelet` removes its processes, links and namespaces
//! when dropped, however the test ends.
//!
//! Containers run the Pod's stored spec: an image stands for a local program (`Kubelet::image`;
//! meshctl and Envoy are known), run with the container's `args` (a `command` is run as it
//! is, since containers share the host's files — a bare name is looked for beside the image's
//! program first, as in the image's own filesystem), its `env` (values, and `fieldRef`s to the
//! Pod's name, namespace, IP and node; `$(VAR)` in command and args expanded as Kubernetes
//! does) and a clean environment otherwise. A container runs as the user and group its
//! `securityContext` (else the Pod's) names, so rules that match a process's owner, such as
//! traffic capture's, see what they would on a node; since tests hand containers files from
//! their own private temporary directories rather than volumes, it keeps the capability to
//! read any file (`CAP_DAC_READ_SEARCH`), and nothing more. Names given to `Kubelet::resolve`
//! resolve in every Pod started after (the namespace's `/etc/hosts`), as cluster DNS would.
//! Projected volumes of ServiceAccount tokens (minted by TokenRequest, bound to the Pod) and
//! downward-API fields are written, and they and `hostPath` volumes are mounted where
//! containers ask, under `/run` (each such container gets a `/run` of its own, so nothing is
//! made on the host); other volumes are not. Regular init containers run to completion first; init
//! containers with `restartPolicy: Always` (native sidecars) keep running beside the main ones,
//! which start without waiting for them. A container is ready when its `readinessProbe`
//! (`tcpSocket` or `httpGet`, to the Pod's IP from the host, as a kubelet probes) succeeds, or
//! at once without one. The kubelet does not watch: it acts when the test calls it, so a Pod
//! deleted through the API rather than by `Kubelet::delete` stays terminating.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

use hyper::Method;
use serde_json::{Value, json};

use super::kube::KubeApiServer;

/// The first two octets of every Pod's address: a /16 in 10/8 that clusters, VPNs and
/// container runtimes rarely use (those favour 10.0-10.96, 10.244 and 172.16/12).
const POD_NETWORK: [u8; 2] = [10, 237];
/// The host's address on every Pod's link: the Pods' default gateway and their `hostIP`. A
/// process on the host that binds it (or 0.0.0.0) is reachable from every Pod.
pub const HOST_IP: Ipv4Addr = Ipv4Addr::new(POD_NETWORK[0], POD_NETWORK[1], 0, 1);
/// The node every Pod run here is bound to. No Node object exists; none is needed.
pub const NODE_NAME: &str = "meshctl-test-node";
/// The image that stands for the meshctl binary under test.
pub const MESHCTL_IMAGE: &str = "meshctl.io/meshctl:test";
/// The image that stands for the Envoy the tests use (`envoy::binary`).
pub const ENVOY_IMAGE: &str = "envoyproxy/envoy:v1.40";

/// How long a Pod's containers get to become ready, or an init container to finish.
const START_DEADLINE: Duration = Duration::from_secs(30);
/// How long a container gets to exit after SIGTERM when its Pod is deleted.
const GRACE: Duration = Duration::from_secs(5);
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// The prefix of every namespace and link made here; nothing else may use it.
const NAME_PREFIX: &str = "meshctl-";

/// A Pod the kubelet runs: where to reach it, and what the test may check on the host.
#[derive(Clone, Debug)]
pub struct RunningPod {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub ip: Ipv4Addr,
    /// The network namespace's name, for `ip netns exec`.
    pub netns: String,
}

/// The test's kubelet on the API server `server`. Dropping it stops every Pod it runs.
pub struct Kubelet<'s> {
    server: &'s KubeApiServer,
    images: HashMap<String, PathBuf>,
    hosts: Mutex<Vec<(String, Ipv4Addr)>>,
    dir: tempfile::TempDir,
    sandboxes: Mutex<Vec<Sandbox>>,
}

impl<'s> Kubelet<'s> {
    /// A kubelet that knows `MESHCTL_IMAGE` and `ENVOY_IMAGE`. It needs root and iproute2.
    pub fn new(server: &'s KubeApiServer) -> Kubelet<'s> {
        assert!(
            rustix::process::geteuid().is_root(),
            "the test kubelet makes network namespaces and veth pairs: run the tests as root"
        );
        ip(&["-V"]).unwrap_or_else(|e| panic!("the test kubelet needs iproute2's `ip`: {e}"));
        let mut images = HashMap::new();
        images.insert(MESHCTL_IMAGE.to_string(), PathBuf::from(env!("CARGO_BIN_EXE_meshctl")));
        images.insert(ENVOY_IMAGE.to_string(), super::envoy::binary());
        let dir = tempfile::Builder::new().prefix("meshctl-kubelet-").tempdir().unwrap();
        Kubelet { server, images, hosts: Mutex::default(), dir, sandboxes: Mutex::new(Vec::new()) }
    }

    /// Lets Pods use `image`, which runs `program`.
    pub fn image(mut self, image: &str, program: impl Into<PathBuf>) -> Kubelet<'s> {
        self.images.insert(image.to_string(), program.into());
        self
    }

    /// Makes `name` resolve to `ip` in the Pods started from now on.
    pub fn resolve(&self, name: &str, ip: Ipv4Addr) {
        self.hosts.lock().unwrap().push((name.to_string(), ip));
    }

    /// Creates `pod` (bound to this node; its namespace's `default` ServiceAccount made first
    /// when it uses that one, as kube-controller-manager would have) and runs it until ready.
    pub fn run(&self, mut pod: Value) -> RunningPod {
        let namespace = pod["metadata"]["namespace"].as_str().expect("the Pod names its namespace").to_string();
        if pod["spec"]["serviceAccountName"].as_str().is_none_or(|sa| sa == "default") {
            self.ensure_default_service_account(&namespace);
        }
        if pod["spec"]["nodeName"].is_null() {
            pod["spec"]["nodeName"] = json!(NODE_NAME);
        }
        let created = self.server.post(&format!("/api/v1/namespaces/{namespace}/pods"), &pod);
        assert_eq!(created.status, 201, "creating Pod {namespace}/{}: {}", pod["metadata"]["name"], created.json());
        self.start(created.json())
    }

    /// Runs a Pod that is already stored (made by meshctl, say), binding it to this node as the
    /// scheduler would when it is not bound yet.
    pub fn take(&self, namespace: &str, name: &str) -> RunningPod {
        let path = format!("/api/v1/namespaces/{namespace}/pods/{name}");
        let mut pod = self.server.get(&path).json();
        if pod["spec"]["nodeName"].is_null() {
            let binding = json!({
                "apiVersion": "v1", "kind": "Binding",
                "metadata": {"name": name},
                "target": {"apiVersion": "v1", "kind": "Node", "name": NODE_NAME},
            });
            let bound = self.server.post(&format!("{path}/binding"), &binding);
            assert_eq!(bound.status, 201, "binding Pod {namespace}/{name}: {}", bound.json());
            pod = self.server.get(&path).json();
        }
        self.start(pod)
    }

    /// Reports the Pod ready or not, as a failing or recovering readiness probe would.
    pub fn set_ready(&self, pod: &RunningPod, ready: bool) {
        let status = self.with_sandbox(pod, |sandbox| sandbox.status(ready));
        self.write_status(pod, status);
    }

    /// Deletes the Pod as a kubelet sees it through: the API server marks it deleted, the
    /// kubelet reports it not ready, stops its containers (SIGTERM, then SIGKILL after a grace
    /// period), removes its sandbox, and lets the object go.
    pub fn delete(&self, pod: &RunningPod) {
        let path = format!("/api/v1/namespaces/{}/pods/{}", pod.namespace, pod.name);
        let deleting = self.server.request(Method::DELETE, &path, None);
        assert_eq!(deleting.status, 200, "deleting Pod {}/{}: {}", pod.namespace, pod.name, deleting.json());
        self.set_ready(pod, false);
        let mut sandbox = {
            let mut sandboxes = self.sandboxes.lock().unwrap();
            let at = sandboxes.iter().position(|s| s.pod.uid == pod.uid).expect("the kubelet runs this Pod");
            sandboxes.remove(at)
        };
        sandbox.stop_gracefully();
        drop(sandbox);
        let options = json!({"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0,
            "preconditions": {"uid": pod.uid}});
        let gone = self.server.request(Method::DELETE, &path, Some(&options));
        assert!(
            matches!(gone.status, 200 | 404),
            "finishing the deletion of {}/{}: {}",
            pod.namespace,
            pod.name,
            gone.json()
        );
        super::poll(&format!("Pod {}/{} is gone", pod.namespace, pod.name), START_DEADLINE, || {
            self.server.get(&path).status == 404
        });
    }

    /// The ids of the Pod's running container processes.
    pub fn pids(&self, pod: &RunningPod) -> Vec<u32> {
        self.with_sandbox(pod, |sandbox| {
            sandbox.containers.iter().filter_map(|c| Some(c.child.as_ref()?.id())).collect()
        })
    }

    /// The output of each of the Pod's containers so far, for failure messages.
    pub fn logs(&self, pod: &RunningPod) -> String {
        self.with_sandbox(pod, |sandbox| sandbox.logs())
    }

    fn with_sandbox<T>(&self, pod: &RunningPod, f: impl FnOnce(&mut Sandbox) -> T) -> T {
        let mut sandboxes = self.sandboxes.lock().unwrap();
        let sandbox = sandboxes
            .iter_mut()
            .find(|s| s.pod.uid == pod.uid)
            .unwrap_or_else(|| panic!("the kubelet does not run Pod {}/{}", pod.namespace, pod.name));
        f(sandbox)
    }

    fn ensure_default_service_account(&self, namespace: &str) {
        let path = format!("/api/v1/namespaces/{namespace}/serviceaccounts");
        if self.server.get(&format!("{path}/default")).status == 200 {
            return;
        }
        let created = self.server.post(&path, &json!({"metadata": {"name": "default"}}));
        // 409: another test's kubelet made it first.
        assert!(matches!(created.status, 201 | 409), "creating ServiceAccount {namespace}/default: {}", created.json());
    }

    /// Starts a stored Pod's sandbox and containers, reports it Running, and Ready once every
    /// container's probe succeeds.
    fn start(&self, pod: Value) -> RunningPod {
        let namespace = pod["metadata"]["namespace"].as_str().unwrap().to_string();
        let name = pod["metadata"]["name"].as_str().unwrap().to_string();
        let address = Address::claim();
        let running = RunningPod {
            namespace,
            name,
            uid: pod["metadata"]["uid"].as_str().expect("a stored Pod has a uid").to_string(),
            ip: address.ip(),
            netns: address.name(),
        };
        let dir = self.dir.path().join(format!("{}.{}", running.namespace, running.name));
        std::fs::create_dir_all(&dir).unwrap();
        // From here on, dropping the sandbox removes whatever part of it exists.
        let mut sandbox = Sandbox {
            pod: running.clone(),
            address,
            volumes: Vec::new(),
            containers: Vec::new(),
            started_at: now(),
            dir,
        };
        sandbox.address.set_up_network(&self.hosts.lock().unwrap());
        for volume in pod["spec"]["volumes"].as_array().into_iter().flatten() {
            self.project(&mut sandbox, volume, &pod);
        }

        let spec = &pod["spec"];
        for container in spec["initContainers"].as_array().into_iter().flatten() {
            let sidecar = container["restartPolicy"] == "Always";
            sandbox.spawn(container, &pod, self.program(container), if sidecar { Role::Sidecar } else { Role::Init });
            if !sidecar {
                sandbox.wait_completed();
            }
        }
        for container in spec["containers"].as_array().expect("a Pod has containers") {
            sandbox.spawn(container, &pod, self.program(container), Role::Main);
        }
        self.write_status(&running, sandbox.status(false));

        let probes: Vec<Probe> = spec["initContainers"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(spec["containers"].as_array().into_iter().flatten())
            .filter_map(|c| Probe::of(c, running.ip))
            .collect();
        let start = Instant::now();
        while let Some(failing) = probes.iter().find(|p| !p.succeeds()) {
            if let Some(exited) = sandbox.exited() {
                panic!(
                    "container {exited} of Pod {}/{} exited while starting\n{}",
                    running.namespace,
                    running.name,
                    sandbox.logs()
                );
            }
            if start.elapsed() > START_DEADLINE {
                panic!(
                    "Pod {}/{} was not ready after {START_DEADLINE:?}: {failing:?} fails\n{}",
                    running.namespace,
                    running.name,
                    sandbox.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.write_status(&running, sandbox.status(true));
        self.sandboxes.lock().unwrap().push(sandbox);
        running
    }

    /// Writes a projected volume made only of ServiceAccount tokens and downward-API fields
    /// into the sandbox, or takes a host path, for its containers to mount.
    fn project(&self, sandbox: &mut Sandbox, volume: &Value, pod: &Value) {
        if let Some(path) = volume["hostPath"]["path"].as_str() {
            sandbox.volumes.push((volume["name"].as_str().unwrap().to_string(), PathBuf::from(path)));
            return;
        }
        let Some(sources) = volume["projected"]["sources"].as_array() else { return };
        let supported = |s: &Value| s["serviceAccountToken"].is_object() || s["downwardAPI"].is_object();
        if !sources.iter().all(supported) {
            return;
        }
        let name = volume["name"].as_str().unwrap();
        let dir = sandbox.dir.join("volumes").join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let (namespace, pod_name) = (&sandbox.pod.namespace, &sandbox.pod.name);
        for source in sources {
            if let Some(token) = source["serviceAccountToken"].as_object() {
                let account = pod["spec"]["serviceAccountName"].as_str().unwrap_or("default");
                let request = json!({ "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {
                    "audiences": [token["audience"]],
                    "expirationSeconds": token.get("expirationSeconds").cloned().unwrap_or(json!(3600)),
                    "boundObjectRef": { "apiVersion": "v1", "kind": "Pod", "name": pod_name, "uid": sandbox.pod.uid },
                }});
                let path = format!("/api/v1/namespaces/{namespace}/serviceaccounts/{account}/token");
                let minted = self.server.post(&path, &request);
                assert_eq!(minted.status, 201, "a token for Pod {namespace}/{pod_name}: {}", minted.json());
                let text = minted.json()["status"]["token"].as_str().unwrap().to_string();
                std::fs::write(dir.join(token["path"].as_str().unwrap()), text).unwrap();
            }
            for item in source["downwardAPI"]["items"].as_array().into_iter().flatten() {
                let field = item["fieldRef"]["fieldPath"].as_str().expect("a downward-API field");
                let value = match field.strip_prefix("metadata.annotations['").and_then(|f| f.strip_suffix("']")) {
                    Some(key) => pod["metadata"]["annotations"][key].as_str().unwrap_or_default().to_string(),
                    None => {
                        env_value(&json!({ "valueFrom": { "fieldRef": { "fieldPath": field } } }), pod, sandbox.pod.ip)
                    }
                };
                std::fs::write(dir.join(item["path"].as_str().unwrap()), value).unwrap();
            }
        }
        sandbox.volumes.push((name.to_string(), dir));
    }

    /// The local program for a container: its `command`, else its image's program.
    fn program(&self, container: &Value) -> Vec<String> {
        let args = container["args"].as_array().into_iter().flatten().map(|a| a.as_str().unwrap().to_string());
        let image = container["image"].as_str().unwrap_or_default();
        if let Some(command) = container["command"].as_array() {
            let mut command: Vec<String> = command.iter().map(|c| c.as_str().unwrap().to_string()).collect();
            let beside_image = self
                .images
                .get(image)
                .and_then(|program| program.parent())
                .map(|dir| dir.join(&command[0]))
                .filter(|path| !command[0].contains('/') && path.exists());
            if let Some(path) = beside_image {
                command[0] = path.to_str().unwrap().to_string();
            }
            return command.into_iter().chain(args).collect();
        }
        let program = self.images.get(image).unwrap_or_else(|| {
            panic!(
                "the test kubelet has no program for image {image:?}; it knows {:?} (Kubelet::image)",
                self.images.keys()
            )
        });
        std::iter::once(program.to_str().unwrap().to_string()).chain(args).collect()
    }

    /// Replaces the Pod's status, retrying when another writer changed the Pod in between.
    fn write_status(&self, pod: &RunningPod, status: Value) {
        let path = format!("/api/v1/namespaces/{}/pods/{}", pod.namespace, pod.name);
        let start = Instant::now();
        loop {
            let mut current = self.server.get(&path).json();
            // The API server sets the QoS class from the containers' resources when the Pod is
            // made; it never changes.
            let qos = current["status"]["qosClass"].clone();
            current["status"] = status.clone();
            current["status"]["qosClass"] = qos;
            let written = self.server.request(Method::PUT, &format!("{path}/status"), Some(&current));
            match written.status {
                200 => return,
                409 if start.elapsed() < START_DEADLINE => continue,
                _ => panic!("writing the status of Pod {}/{}: {}", pod.namespace, pod.name, written.json()),
            }
        }
    }
}

impl Drop for Kubelet<'_> {
    fn drop(&mut self) {
        // A test that failed while holding the lock must still leave nothing behind.
        let sandboxes = std::mem::take(self.sandboxes.get_mut().unwrap_or_else(|poisoned| poisoned.into_inner()));
        drop(sandboxes);
    }
}

/// Makes (or updates) the EndpointSlice of Service `namespace/service` from the Pods its
/// selector picks, as kube-controller-manager's EndpointSlice controller would; call it again
/// after Pods change. Returns the stored slice.
pub fn sync_endpoint_slice(server: &KubeApiServer, namespace: &str, service: &str) -> Value {
    let service = server.get(&format!("/api/v1/namespaces/{namespace}/services/{service}")).json();
    let name = service["metadata"]["name"].as_str().expect("the Service exists").to_string();
    let selector = service["spec"]["selector"].as_object().expect("the Service has a selector");
    let selector: Vec<String> = selector.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap())).collect();
    let pods = server
        .get(&format!("/api/v1/namespaces/{namespace}/pods?labelSelector={}", query_escape(&selector.join(","))))
        .json();
    let pods: Vec<&Value> =
        pods["items"].as_array().unwrap().iter().filter(|p| p["status"]["podIP"].is_string()).collect();
    let service_ports = service["spec"]["ports"].as_array().cloned().unwrap_or_default();
    let ports: Vec<Value> = service_ports
        .iter()
        .map(|port| {
            // A named target port is resolved on the first Pod that has it: the tests' Pods
            // of one Service share their ports, so one slice holds them all.
            let target = match &port["targetPort"] {
                Value::Null => port["port"].clone(),
                Value::String(named) => {
                    pods.iter().find_map(|pod| container_port(pod, named)).map(|p| json!(p)).unwrap_or(Value::Null)
                }
                number => number.clone(),
            };
            let mut out = json!({"port": target, "protocol": port["protocol"].as_str().unwrap_or("TCP")});
            for field in ["name", "appProtocol"] {
                if port[field].is_string() {
                    out[field] = port[field].clone();
                }
            }
            out
        })
        .collect();
    let endpoints: Vec<Value> = pods
        .iter()
        .map(|pod| {
            let ready = pod["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Ready" && c["status"] == "True");
            let terminating = pod["metadata"]["deletionTimestamp"].is_string();
            json!({
                "addresses": [pod["status"]["podIP"]],
                "conditions": {"ready": ready && !terminating, "serving": ready, "terminating": terminating},
                "nodeName": pod["spec"]["nodeName"],
                "targetRef": {"kind": "Pod", "namespace": namespace, "name": pod["metadata"]["name"],
                    "uid": pod["metadata"]["uid"]},
            })
        })
        .collect();
    let slices = format!("/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices");
    let existing = server
        .get(&format!("{slices}?labelSelector={}", query_escape(&format!("kubernetes.io/service-name={name}"))))
        .json();
    let mut slice = existing["items"].as_array().and_then(|items| items.first().cloned()).unwrap_or_else(|| {
        json!({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {
                "generateName": format!("{name}-"),
                "namespace": namespace,
                "labels": {
                    "kubernetes.io/service-name": name,
                    "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
                },
                "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": name,
                    "uid": service["metadata"]["uid"], "controller": true, "blockOwnerDeletion": true}],
            },
            "addressType": "IPv4",
        })
    });
    slice["endpoints"] = json!(endpoints);
    slice["ports"] = json!(ports);
    let written = match slice["metadata"]["name"].as_str() {
        Some(existing) => server.request(Method::PUT, &format!("{slices}/{existing}"), Some(&slice)),
        None => server.post(&slices, &slice),
    };
    assert!(
        matches!(written.status, 200 | 201),
        "writing the EndpointSlice of Service {namespace}/{name}: {}",
        written.json()
    );
    written.json()
}

/// A Pod in `namespace` with `labels` and `containers` (see `mk_container`).
pub fn mk_pod(namespace: &str, name: &str, labels: &[(&str, &str)], containers: Vec<Value>) -> Value {
    let labels: serde_json::Map<String, Value> = labels.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"containers": containers},
    })
}

/// A container of `image` run with `args`, serving `port` (named `http`), ready when `port`
/// accepts connections.
pub fn mk_container(name: &str, image: &str, args: &[&str], port: u16) -> Value {
    json!({
        "name": name,
        "image": image,
        "args": args,
        "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
        "readinessProbe": {"tcpSocket": {"port": port}, "periodSeconds": 1},
    })
}

/// The number of a container port named `name` in `pod`.
fn container_port(pod: &Value, name: &str) -> Option<u64> {
    pod["spec"]["containers"]
        .as_array()?
        .iter()
        .find_map(|c| c["ports"].as_array()?.iter().find(|p| p["name"] == name)?["containerPort"].as_u64())
}

fn query_escape(text: &str) -> String {
    text.replace('=', "%3D").replace(',', "%2C").replace('/', "%2F")
}

/// What a container is to its Pod.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Role {
    /// An init container: runs to completion before the next starts.
    Init,
    /// An init container with `restartPolicy: Always`: runs beside the main containers.
    Sidecar,
    Main,
}

/// A container's process and its output.
struct ContainerProcess {
    name: String,
    image: String,
    role: Role,
    /// `None` once it has exited and been reaped.
    child: Option<Child>,
    exit_code: Option<i32>,
    log: PathBuf,
    started_at: String,
    finished_at: Option<String>,
}

/// One Pod's network namespace, link and processes; dropping it removes them all.
struct Sandbox {
    pod: RunningPod,
    address: Address,
    /// The projected volumes written for the Pod, by name.
    volumes: Vec<(String, PathBuf)>,
    containers: Vec<ContainerProcess>,
    started_at: String,
    dir: PathBuf,
}

impl Sandbox {
    fn spawn(&mut self, container: &Value, pod: &Value, program: Vec<String>, role: Role) {
        let name = container["name"].as_str().expect("a container has a name").to_string();
        let log_path = self.dir.join(format!("{name}.log"));
        let log = std::fs::File::create(&log_path).unwrap();
        let env: Vec<(String, String)> = container["env"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|var| (var["name"].as_str().unwrap().to_string(), env_value(var, pod, self.pod.ip)))
            .collect();
        let program: Vec<String> = program.iter().map(|word| expand(word, &env)).collect();
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.pod.netns]);
        let mounts: Vec<(&str, &PathBuf)> = container["volumeMounts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| {
                let source = self.volumes.iter().find(|(name, _)| m["name"] == name.as_str())?;
                Some((m["mountPath"].as_str().unwrap(), &source.1))
            })
            .collect();
        if !mounts.is_empty() {
            // `ip netns exec` runs its command in a mount namespace of its own, so these
            // mounts are the container's alone; a tmpfs on /run holds their mount points.
            let mut script = String::from("mount -t tmpfs meshctl-run /run");
            for (at, source) in &mounts {
                assert!(
                    at.starts_with("/run/") || at.starts_with("/var/run/"),
                    "the test kubelet mounts volumes under /run only, not at {at}"
                );
                script.push_str(&format!(" && mkdir -p '{at}' && mount --bind '{}' '{at}'", source.display()));
            }
            script.push_str(" && exec \"$@\"");
            command.args(["sh", "-c", &script, "sh"]);
        }
        let id = |field: &str| {
            container["securityContext"][field].as_u64().or(pod["spec"]["securityContext"][field].as_u64())
        };
        if let Some(user) = id("runAsUser").filter(|uid| *uid != 0) {
            let group = id("runAsGroup").unwrap_or(user);
            command.args([
                "setpriv",
                &format!("--reuid={user}"),
                &format!("--regid={group}"),
                "--clear-groups",
                "--inh-caps=+dac_read_search",
                "--ambient-caps=+dac_read_search",
                "--",
            ]);
        }
        command
            .args(&program)
            .current_dir(container["workingDir"].as_str().map(PathBuf::from).unwrap_or_else(|| self.dir.clone()))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOSTNAME", &self.pod.name)
            .envs(env);
        command.stdin(Stdio::null()).stdout(log.try_clone().unwrap()).stderr(log).process_group(0);
        let child = spawn_for_life(command).unwrap_or_else(|e| {
            panic!("container {name} of Pod {}/{} ({program:?}) does not start: {e}", self.pod.namespace, self.pod.name)
        });
        self.containers.push(ContainerProcess {
            name,
            image: container["image"].as_str().unwrap_or_default().to_string(),
            role,
            child: Some(child),
            exit_code: None,
            log: log_path,
            started_at: now(),
            finished_at: None,
        });
    }

    /// Waits until the init container started last exits; it must succeed.
    fn wait_completed(&mut self) {
        let start = Instant::now();
        loop {
            let container = self.containers.last_mut().unwrap();
            let child = container.child.as_mut().unwrap();
            if let Some(status) = child.try_wait().unwrap() {
                container.child = None;
                container.exit_code = status.code();
                container.finished_at = Some(now());
                if status.success() {
                    return;
                }
                let name = container.name.clone();
                panic!(
                    "init container {name} of Pod {}/{} failed: {status}\n{}",
                    self.pod.namespace,
                    self.pod.name,
                    self.logs()
                );
            }
            if start.elapsed() > START_DEADLINE {
                let name = container.name.clone();
                panic!(
                    "init container {name} of Pod {}/{} still runs after {START_DEADLINE:?}\n{}",
                    self.pod.namespace,
                    self.pod.name,
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The name of a running container whose process has exited, if one has.
    fn exited(&mut self) -> Option<String> {
        let at = self
            .containers
            .iter_mut()
            .position(|c| c.child.as_mut().is_some_and(|child| child.try_wait().ok().flatten().is_some()))?;
        Some(self.containers[at].name.clone())
    }

    /// The Pod's status as a kubelet reports it: Running, its IP, and ready or not.
    fn status(&self, ready: bool) -> Value {
        let state = |c: &ContainerProcess| match c.exit_code {
            Some(code) => json!({"terminated": {"exitCode": code, "reason": "Completed",
                "startedAt": c.started_at, "finishedAt": c.finished_at}}),
            None => json!({"running": {"startedAt": c.started_at}}),
        };
        let statuses = |main: bool| -> Vec<Value> {
            self.containers
                .iter()
                .filter(|c| (c.role == Role::Main) == main)
                .map(|c| {
                    json!({
                        "name": c.name,
                        "image": c.image,
                        "imageID": "",
                        "containerID": format!("meshctl-test://{}", c.child.as_ref().map_or(0, Child::id)),
                        "ready": if c.role == Role::Init { c.exit_code == Some(0) } else { ready },
                        "started": c.role != Role::Init,
                        "restartCount": 0,
                        "state": state(c),
                    })
                })
                .collect()
        };
        let now = now();
        let condition = |kind: &str, status: bool| json!({"type": kind, "status": if status { "True" } else { "False" }, "lastTransitionTime": now});
        json!({
            "phase": "Running",
            "conditions": [
                condition("PodReadyToStartContainers", true),
                condition("Initialized", true),
                condition("Ready", ready),
                condition("ContainersReady", ready),
                condition("PodScheduled", true),
            ],
            "hostIP": HOST_IP.to_string(),
            "hostIPs": [{"ip": HOST_IP.to_string()}],
            "podIP": self.pod.ip.to_string(),
            "podIPs": [{"ip": self.pod.ip.to_string()}],
            "startTime": self.started_at,
            "initContainerStatuses": statuses(false),
            "containerStatuses": statuses(true),
        })
    }

    /// The last lines of each container's output.
    fn logs(&self) -> String {
        let mut out = String::new();
        for c in &self.containers {
            let text = std::fs::read_to_string(&c.log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(30)..].join("\n");
            out.push_str(&format!("--- container {} ({}), last lines:\n{tail}\n", c.name, c.log.display()));
        }
        out
    }

    /// SIGTERM to every container, SIGKILL to those still running after the grace period.
    fn stop_gracefully(&mut self) {
        for child in self.containers.iter().filter_map(|c| c.child.as_ref()) {
            signal_group(child, rustix::process::Signal::TERM);
        }
        let start = Instant::now();
        while start.elapsed() < GRACE
            && self.containers.iter_mut().any(|c| c.child.as_mut().is_some_and(|ch| matches!(ch.try_wait(), Ok(None))))
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill();
    }

    fn kill(&mut self) {
        for child in self.containers.iter_mut().filter_map(|c| c.child.as_mut()) {
            signal_group(child, rustix::process::Signal::KILL);
            let _ = child.wait();
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.kill();
        remove_network(&self.pod.netns);
    }
}

fn signal_group(child: &Child, signal: rustix::process::Signal) {
    // Each container leads its own process group, whose id is its pid.
    let _ = rustix::process::kill_process_group(rustix::process::Pid::from_child(child), signal);
}

/// An environment variable's value: given, or from the Pod (the downward API's `fieldRef`).
fn env_value(var: &Value, pod: &Value, ip: Ipv4Addr) -> String {
    if let Some(value) = var["value"].as_str() {
        return value.to_string();
    }
    let field = var["valueFrom"]["fieldRef"]["fieldPath"].as_str();
    match field {
        Some("metadata.name") => pod["metadata"]["name"].as_str().unwrap().to_string(),
        Some("metadata.namespace") => pod["metadata"]["namespace"].as_str().unwrap().to_string(),
        Some("metadata.uid") => pod["metadata"]["uid"].as_str().unwrap().to_string(),
        Some("spec.nodeName") => NODE_NAME.to_string(),
        Some("spec.serviceAccountName") => pod["spec"]["serviceAccountName"].as_str().unwrap_or("default").to_string(),
        Some("status.podIP") => ip.to_string(),
        Some("status.hostIP") => HOST_IP.to_string(),
        None if var["valueFrom"].is_null() => String::new(),
        _ => panic!("the test kubelet cannot fill environment variable {var}"),
    }
}

/// `text` with each `$(NAME)` of a variable in `env` replaced by its value and `$$` by `$`, as
/// Kubernetes expands a container's command and args; other references stay as they are.
fn expand(text: &str, env: &[(String, String)]) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        if let Some(after) = rest.strip_prefix("$$") {
            out.push('$');
            rest = after;
            continue;
        }
        let reference = rest.strip_prefix("$(").and_then(|r| Some(&r[..r.find(')')?]));
        match reference.and_then(|name| env.iter().find(|(k, _)| k == name)) {
            Some((name, value)) => {
                out.push_str(value);
                rest = &rest[name.len() + 3..];
            }
            None => {
                out.push('$');
                rest = &rest[1..];
            }
        }
    }
    out + rest
}

/// A container's readiness probe, aimed at the Pod's IP.
#[derive(Debug)]
enum Probe {
    Tcp(SocketAddr),
    Http { addr: SocketAddr, path: String },
}

impl Probe {
    fn of(container: &Value, ip: Ipv4Addr) -> Option<Probe> {
        let probe = &container["readinessProbe"];
        if probe.is_null() {
            return None;
        }
        let port = |port: &Value| -> SocketAddr {
            let number = match port {
                Value::String(named) => container["ports"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|p| p["name"] == *named)
                    .and_then(|p| p["containerPort"].as_u64())
                    .unwrap_or_else(|| panic!("no container port named {named} in {container}")),
                number => number.as_u64().expect("a port is a number or a name"),
            };
            SocketAddr::new(IpAddr::V4(ip), u16::try_from(number).unwrap())
        };
        if probe["tcpSocket"].is_object() {
            return Some(Probe::Tcp(port(&probe["tcpSocket"]["port"])));
        }
        if probe["httpGet"].is_object() {
            let get = &probe["httpGet"];
            assert!(get["scheme"].as_str().is_none_or(|s| s == "HTTP"), "the test kubelet probes over plain HTTP only");
            let path = get["path"].as_str().unwrap_or("/").to_string();
            return Some(Probe::Http { addr: port(&get["port"]), path });
        }
        panic!("the test kubelet runs tcpSocket and httpGet probes, not {probe}");
    }

    fn succeeds(&self) -> bool {
        match self {
            Probe::Tcp(addr) => TcpStream::connect_timeout(addr, PROBE_TIMEOUT).is_ok(),
            Probe::Http { addr, path } => http_status(*addr, path).is_some_and(|status| (200..400).contains(&status)),
        }
    }
}

/// The status code of `GET path` from `addr`, as a kubelet's HTTP probe asks it.
fn http_status(addr: SocketAddr, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect_timeout(&addr, PROBE_TIMEOUT).ok()?;
    stream.set_read_timeout(Some(PROBE_TIMEOUT)).ok()?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: kube-probe/test\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// A Pod's address, held while its abstract socket is bound.
struct Address {
    octets: [u8; 2],
    _claim: UnixListener,
}

impl Address {
    /// Claims a free address, removing a killed run's leftovers of it.
    fn claim() -> Address {
        static PREPARED: OnceLock<()> = OnceLock::new();
        PREPARED.get_or_init(|| {
            refuse_clashing_routes();
            remove_leftovers();
        });
        // Processes start at different places, so that parallel runs rarely try the same one.
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let base = std::process::id().wrapping_mul(2654435761);
        for _ in 0..u16::MAX {
            let index = base.wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed)) % 65536;
            let octets = [(index >> 8) as u8, index as u8];
            // .0.0 is the network, .0.1 the host, .255.255 the broadcast address.
            if matches!(octets, [0, 0] | [0, 1] | [255, 255]) {
                continue;
            }
            if let Some(claim) = try_claim(&name(octets)) {
                // Holding the claim, whatever carries its name is a dead run's.
                remove_network(&name(octets));
                return Address { octets, _claim: claim };
            }
        }
        panic!("every address in {}.{}.0.0/16 is taken", POD_NETWORK[0], POD_NETWORK[1]);
    }

    fn ip(&self) -> Ipv4Addr {
        Ipv4Addr::new(POD_NETWORK[0], POD_NETWORK[1], self.octets[0], self.octets[1])
    }

    fn name(&self) -> String {
        name(self.octets)
    }

    /// The namespace, the veth pair, addresses and routes, and the names `hosts` in its
    /// `/etc/hosts`; fails the test (its sandbox removes what was made) when a step fails.
    fn set_up_network(&self, hosts: &[(String, Ipv4Addr)]) {
        let (name, address, host) = (self.name(), self.ip(), HOST_IP.to_string());
        let pod_ip = format!("{address}/32");
        let steps: [&[&str]; 10] = [
            &["netns", "add", &name],
            // The Pod's end is made inside the namespace: no name of it ever exists on the host.
            &["link", "add", &name, "type", "veth", "peer", "name", "eth0", "netns", &name],
            &["addr", "add", &format!("{host}/32"), "dev", &name],
            &["link", "set", &name, "up"],
            &["route", "add", &pod_ip, "dev", &name],
            &["-n", &name, "link", "set", "lo", "up"],
            &["-n", &name, "addr", "add", &pod_ip, "dev", "eth0"],
            &["-n", &name, "link", "set", "eth0", "up"],
            &["-n", &name, "route", "add", &format!("{host}/32"), "dev", "eth0"],
            &["-n", &name, "route", "add", "default", "via", &host, "dev", "eth0"],
        ];
        for step in steps {
            ip(step).unwrap_or_else(|e| panic!("setting up the network of Pod address {address}: {e}"));
        }
        // Forwarding on this link only, so Pods reach one another through the host without
        // changing how the host forwards anything else.
        let forwarding = format!("/proc/sys/net/ipv4/conf/{name}/forwarding");
        std::fs::write(&forwarding, "1").unwrap_or_else(|e| panic!("{forwarding}: {e}"));
        if !hosts.is_empty() {
            // `ip netns exec` mounts the files of /etc/netns/NAME over /etc's for what it runs.
            let dir = etc_dir(&name);
            let lines: String = hosts.iter().map(|(host, ip)| format!("{ip} {host}\n")).collect();
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("hosts"), format!("127.0.0.1 localhost\n{lines}")).unwrap();
            // No DNS server answers here: a query to the host's would wait out its timeouts
            // before a resolver falls back to the hosts file; one to the Pod's loopback is
            // refused at once.
            std::fs::write(dir.join("resolv.conf"), "nameserver 127.0.0.1\n").unwrap();
        }
    }
}

fn name(octets: [u8; 2]) -> String {
    // At most 15 characters, as a link's name must be.
    format!("{NAME_PREFIX}{}-{}", octets[0], octets[1])
}

/// The octets a namespace or link name made here stands for, if it is one.
fn octets_of(name: &str) -> Option<[u8; 2]> {
    let (x, y) = name.strip_prefix(NAME_PREFIX)?.split_once('-')?;
    let octets = [x.parse().ok()?, y.parse().ok()?];
    (self::name(octets) == name).then_some(octets)
}

fn try_claim(name: &str) -> Option<UnixListener> {
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(format!("meshctl-test-kubelet/{name}")).unwrap();
    UnixListener::bind_addr(&addr).ok()
}

/// Removes the namespaces and links of runs that were killed before they could.
fn remove_leftovers() {
    let netns = ip(&["netns", "list"]).unwrap_or_default();
    let links = ip(&["-o", "link", "show"]).unwrap_or_default();
    let mut names: Vec<String> =
        netns.lines().filter_map(|line| line.split_whitespace().next()).map(str::to_string).collect();
    // `2: meshctl-0-2@if2: <...` on one line per link.
    names.extend(
        links.lines().filter_map(|line| line.split(": ").nth(1)).map(|n| n.split('@').next().unwrap().to_string()),
    );
    let etc = std::fs::read_dir(etc_dir("x").parent().unwrap()).into_iter().flatten().flatten();
    names.extend(etc.filter_map(|entry| entry.file_name().into_string().ok()));
    names.sort();
    names.dedup();
    for name in names.iter().filter(|n| octets_of(n).is_some()) {
        if let Some(_claim) = try_claim(name) {
            remove_network(name);
        }
    }
}

/// Fails the test when the host already routes part of the Pods' range elsewhere: the Pods would
/// shadow it, or it them.
fn refuse_clashing_routes() {
    let routes = ip(&["-4", "-o", "route", "show", "table", "all"]).expect("`ip route` lists the host's routes");
    for route in routes.lines() {
        if route.contains(&format!("dev {NAME_PREFIX}")) {
            continue;
        }
        let mut words = route.split_whitespace();
        let mut destination = words.next().unwrap_or_default();
        if ["local", "broadcast", "unreachable", "blackhole", "prohibit", "throw", "anycast", "multicast"]
            .contains(&destination)
        {
            destination = words.next().unwrap_or_default();
        }
        let (address, length) = destination.split_once('/').unwrap_or((destination, "32"));
        let (Ok(address), Ok(length)) = (address.parse::<Ipv4Addr>(), length.parse::<u32>()) else { continue };
        let shared = length.min(16);
        let mask = if shared == 0 { 0 } else { u32::MAX << (32 - shared) };
        let pods = u32::from(Ipv4Addr::new(POD_NETWORK[0], POD_NETWORK[1], 0, 0));
        assert!(
            length == 0 || (u32::from(address) ^ pods) & mask != 0,
            "the host routes {destination} ({route}), which overlaps the test Pods' {}.{}.0.0/16: \
             change POD_NETWORK in tests/common/kubelet.rs",
            POD_NETWORK[0],
            POD_NETWORK[1]
        );
    }
}

/// Kills whatever runs in the namespace `name`, then removes the link and the namespace.
/// Errors are ignored: this runs while unwinding, and on names that may not exist.
fn remove_network(name: &str) {
    if let Ok(pids) = ip(&["netns", "pids", name]) {
        for pid in pids.split_whitespace().filter_map(|p| p.parse::<i32>().ok()) {
            if let Some(pid) = rustix::process::Pid::from_raw(pid) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
        }
    }
    // Deleting the host's end takes the Pod's with it, at once; a namespace's own links go
    // only when the kernel gets round to it.
    let _ = ip(&["link", "del", name]);
    let _ = ip(&["netns", "del", name]);
    let _ = std::fs::remove_dir_all(etc_dir(name));
    // The parent too once empty, as it was before the first Pod.
    let _ = std::fs::remove_dir(etc_dir(name).parent().unwrap());
}

/// The files `ip netns exec` puts over /etc's in namespace `name`.
fn etc_dir(name: &str) -> PathBuf {
    PathBuf::from("/etc/netns").join(name)
}

/// Runs `ip ARGS`; its output, or what it said when it failed.
fn ip(args: &[&str]) -> Result<String, String> {
    let output = Command::new("ip").args(args).output().map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(format!("ip {}: {}", args.join(" "), String::from_utf8_lossy(&output.stderr).trim()))
    }
}

/// Spawns `command` with `PR_SET_PDEATHSIG` from a thread that lives as long as the process:
/// the signal follows the thread that forked, so containers die with the test process, however
/// it ends, yet not with the test thread that happened to start them.
fn spawn_for_life(command: Command) -> std::io::Result<Child> {
    type Request = (Command, mpsc::Sender<std::io::Result<Child>>);
    static SPAWNER: OnceLock<mpsc::Sender<Request>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (requests, incoming) = mpsc::channel::<Request>();
        std::thread::spawn(move || {
            for (mut command, reply) in incoming {
                // SAFETY: prctl(PR_SET_PDEATHSIG) is a single system call, safe between fork and exec.
                unsafe {
                    command.pre_exec(|| {
                        rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))?;
                        Ok(())
                    });
                }
                let _ = reply.send(command.spawn());
            }
        });
        requests
    });
    let (reply, answer) = mpsc::channel();
    spawner.send((command, reply)).expect("the spawner thread runs");
    answer.recv().expect("the spawner thread answers")
}

/// Now, as the API's timestamps are written (RFC 3339, UTC, seconds).
fn now() -> String {
    let t = time::OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}
