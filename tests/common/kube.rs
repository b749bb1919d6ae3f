//! A real Kubernetes API server for tests: etcd and kube-apiserver as `scripts/kube-testenv`
//! builds them, on free loopback ports, with their data, certificates and kubeconfig in a temp
//! dir, stopped (with the dir removed) when dropped, however the test ends.
//!
//! ```text
//!   test ──HTTPS, admin client certificate──▶ kube-apiserver ──http──▶ etcd
//!   meshctl, kube clients ──kubeconfig()───┘   RBAC, admission webhooks, service-account tokens
//! ```
//!
//! Nothing else of a cluster runs. No controller-manager: a namespace gets no `default`
//! ServiceAccount by itself (the ServiceAccount admission plugin is on, so a test creates the
//! ServiceAccounts its Pods name), Pods get no EndpointSlices, nothing is garbage-collected. No
//! kubelet: a test that needs a running Pod runs on the real node (`node.rs`).

use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use base64::Engine;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::{Value, json};

/// The issuer the API server's ServiceAccount tokens name (`scripts/test-node`'s too).
pub const TOKEN_ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

/// How long etcd and kube-apiserver get to become ready (about 3 s on 2 cores).
const START_DEADLINE: Duration = Duration::from_secs(60);
/// Longer than the API server may wait for an admission webhook (meshctl's waits 10 s, and a
/// webhook whose Service has just lost its endpoints takes that long to fail).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The Kubernetes version `scripts/kube-testenv` builds: the script is the one place it is named.
pub fn version() -> String {
    let script = super::root().join("scripts/kube-testenv");
    let text = std::fs::read_to_string(&script).unwrap_or_else(|e| panic!("{}: {e}", script.display()));
    text.lines()
        .find_map(|line| line.strip_prefix("kubernetes_version="))
        .unwrap_or_else(|| panic!("{} names no kubernetes_version=", script.display()))
        .to_string()
}

/// Where the script puts the binaries: `MESHCTL_KUBE_TESTENV`, else its per-version cache.
pub fn binary_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("MESHCTL_KUBE_TESTENV").filter(|d| !d.is_empty()) {
        return dir.into();
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache"));
    cache.join("meshctl/kube-testenv").join(version())
}

/// etcd and kube-apiserver; a missing one fails the test, saying how to build them.
fn binaries() -> (PathBuf, PathBuf) {
    let dir = binary_dir();
    let (etcd, apiserver) = (dir.join("etcd"), dir.join("kube-apiserver"));
    for binary in [&etcd, &apiserver] {
        assert!(
            binary.is_file(),
            "{} is missing: run `scripts/kube-testenv` once (it builds kube-apiserver {} and etcd from their \
             Go modules into a cache outside the clone, about 7 minutes the first time), or set \
             MESHCTL_KUBE_TESTENV to a directory holding both",
            binary.display(),
            version(),
        );
    }
    (etcd, apiserver)
}

/// A running etcd and kube-apiserver, stopped when dropped.
pub struct KubeApiServer {
    processes: Processes,
    api: Api,
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for KubeApiServer {
    type Target = Api;
    fn deref(&self) -> &Api {
        &self.api
    }
}

/// A Kubernetes API server as its admin reaches it, with the files a test may read beside it:
/// the admin's kubeconfig, the audit log, the key ServiceAccount tokens are signed with.
pub struct Api {
    /// The API server's secure port.
    pub addr: SocketAddr,
    admin: Arc<rustls::ClientConfig>,
    /// Holds `kubeconfig`, `audit.log` and `service-account.key`; kubeconfigs made for tests
    /// are written here too.
    dir: PathBuf,
}

/// An answer from the API server.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Bytes,
}

impl Answer {
    /// The body as JSON; fails the test, showing the body, when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!("HTTP {} with a body that is not JSON ({e}): {}", self.status, String::from_utf8_lossy(&self.body))
        })
    }
}

/// A client for the cluster of `kubeconfig`, as a test's own.
pub async fn client(kubeconfig: &Path) -> kube::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let file = kube::config::Kubeconfig::read_from(kubeconfig).expect("a kubeconfig");
    let mut config = kube::Config::from_custom_kubeconfig(file, &Default::default()).await.expect("a kubeconfig");
    // The audit log tells the test's requests from meshctl's (`meshctl/v…`).
    config.headers.push((hyper::header::USER_AGENT, hyper::header::HeaderValue::from_static("meshctl-tests")));
    kube::Client::try_from(config).expect("a client for the kubeconfig")
}

impl KubeApiServer {
    /// The process ids of etcd and the API server, for a benchmark of what they spend.
    pub fn pids(&self) -> Vec<u32> {
        self.processes.running.iter().map(|(_, pid, _)| *pid).collect()
    }

    /// Starts etcd and kube-apiserver and waits until the API server is ready (`/readyz`).
    pub fn start() -> KubeApiServer {
        let (etcd, apiserver) = binaries();
        let dir = tempfile::Builder::new().prefix("meshctl-kube-").tempdir().unwrap();
        let credentials = Credentials::write(dir.path());
        // Every request, who made it and how it ended, for tests of what a client needs.
        std::fs::write(
            dir.path().join("audit-policy.yaml"),
            "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n",
        )
        .unwrap();
        let (etcd_client, etcd_peer, port) = (super::free_port(), super::free_port(), super::free_port());
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let path = |name: &str| dir.path().join(name).to_str().expect("the temp dir is UTF-8").to_string();
        let etcd_url = format!("http://127.0.0.1:{etcd_client}");
        let peer_url = format!("http://127.0.0.1:{etcd_peer}");
        let etcd = Launch {
            name: "etcd",
            program: etcd,
            log: dir.path().join("etcd.log"),
            args: vec![
                format!("--data-dir={}", path("etcd")),
                format!("--listen-client-urls={etcd_url}"),
                format!("--advertise-client-urls={etcd_url}"),
                format!("--listen-peer-urls={peer_url}"),
                format!("--initial-advertise-peer-urls={peer_url}"),
                format!("--initial-cluster=default={peer_url}"),
                // The data dies with the test: no need to wait for the disk.
                "--unsafe-no-fsync=true".into(),
                "--log-level=warn".into(),
            ],
        };
        let apiserver = Launch {
            name: "kube-apiserver",
            program: apiserver,
            log: dir.path().join("kube-apiserver.log"),
            args: vec![
                format!("--etcd-servers={etcd_url}"),
                "--bind-address=127.0.0.1".into(),
                "--advertise-address=127.0.0.1".into(),
                // The endpoint reconciler refuses a loopback address for the `kubernetes`
                // Service; no in-cluster client runs here to use its endpoints.
                "--endpoint-reconciler-type=none".into(),
                format!("--secure-port={port}"),
                format!("--cert-dir={}", path("certs")),
                format!("--tls-cert-file={}", path("serving.crt")),
                format!("--tls-private-key-file={}", path("serving.key")),
                format!("--client-ca-file={}", path("ca.crt")),
                "--authorization-mode=RBAC".into(),
                // On by default; named because the mesh's sidecar injection depends on them.
                "--enable-admission-plugins=MutatingAdmissionWebhook,ValidatingAdmissionWebhook".into(),
                format!("--service-account-issuer={}", TOKEN_ISSUER),
                format!("--service-account-key-file={}", path("service-account.pub")),
                format!("--service-account-signing-key-file={}", path("service-account.key")),
                "--service-cluster-ip-range=10.96.0.0/16".into(),
                // As a kubeadm cluster allows (and envtest).
                "--allow-privileged=true".into(),
                format!("--audit-policy-file={}", path("audit-policy.yaml")),
                format!("--audit-log-path={}", path("audit.log")),
                "--audit-log-format=json".into(),
                // Written as they happen, so a test reads them at once.
                "--audit-log-mode=blocking".into(),
            ],
        };
        let api = Api { addr, admin: credentials.admin, dir: dir.path().to_path_buf() };
        let server = KubeApiServer { processes: Processes::start(vec![apiserver, etcd]), api, _dir: dir };
        server.wait_ready();
        server.write_kubeconfig(&credentials.ca_pem, &credentials.admin_pem);
        server
    }

    /// Polls `/readyz` until it answers 200; fails the test, with the processes' logs, when a
    /// process exits or the deadline passes first.
    fn wait_ready(&self) {
        let start = Instant::now();
        loop {
            if let Some(exited) = self.processes.exited() {
                panic!("{exited} exited while starting\n{}", self.processes.logs());
            }
            match self.readiness() {
                Ok(()) => return,
                Err(last) if start.elapsed() > START_DEADLINE => {
                    panic!("kube-apiserver was not ready after {START_DEADLINE:?}: {last}\n{}", self.processes.logs())
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    fn write_kubeconfig(&self, ca_pem: &str, admin: &(String, String)) {
        let b64 = |pem: &str| base64::engine::general_purpose::STANDARD.encode(pem);
        // JSON is YAML: every kubeconfig reader takes it.
        let config = json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "kube-testenv", "cluster": {
                "server": format!("https://{}", self.addr),
                "certificate-authority-data": b64(ca_pem),
            }}],
            "users": [{"name": "admin", "user": {
                "client-certificate-data": b64(&admin.0),
                "client-key-data": b64(&admin.1),
            }}],
            "contexts": [{"name": "kube-testenv", "context": {"cluster": "kube-testenv", "user": "admin"}}],
            "current-context": "kube-testenv",
        });
        std::fs::write(self.kubeconfig(), serde_json::to_string_pretty(&config).unwrap()).unwrap();
    }
}

impl Drop for KubeApiServer {
    fn drop(&mut self) {
        self.processes.stop();
    }
}

impl Api {
    /// The API server at `addr`, signed in to with the admin kubeconfig in `dir`, whose files
    /// are as [`Api`] says.
    pub fn from_dir(addr: SocketAddr, dir: &Path) -> Api {
        let config: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("kubeconfig")).unwrap()).unwrap();
        let pem = |value: &Value| {
            base64::engine::general_purpose::STANDARD.decode(value.as_str().expect("embedded data")).unwrap()
        };
        let (ca, user) = (&config["clusters"][0]["cluster"], &config["users"][0]["user"]);
        let admin = client_config(
            &pem(&ca["certificate-authority-data"]),
            &pem(&user["client-certificate-data"]),
            &pem(&user["client-key-data"]),
        );
        Api { addr, admin, dir: dir.to_path_buf() }
    }

    /// The requests the API server has answered so far, or started to answer (a watch
    /// answers until it ends): audit events with `user.username`, `verb`, `objectRef` and
    /// `responseStatus.code`.
    pub fn requests(&self) -> Vec<Value> {
        let log = std::fs::read_to_string(self.dir.join("audit.log")).unwrap_or_default();
        log.lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|event| matches!(event["stage"].as_str(), Some("ResponseStarted" | "ResponseComplete")))
            .collect()
    }

    /// The key the API server signs ServiceAccount tokens with (PKCS#8 PEM, ECDSA P-256), for
    /// a test that must make a token the API server would never issue (an expired one).
    pub fn token_signing_key(&self) -> String {
        std::fs::read_to_string(self.dir.join("service-account.key")).unwrap()
    }

    /// A kubeconfig whose current context is this API server's admin (group `system:masters`).
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.join("kubeconfig")
    }

    /// A kubeconfig that signs in as ServiceAccount `name` of namespace `default`, with only
    /// the rights `rules` (a ClusterRole's) give: what a user or a controller with those
    /// rights, and no more, sees.
    pub fn kubeconfig_for(&self, name: &str, rules: Value) -> PathBuf {
        let ok = |answer: Answer, what: &str| {
            assert!(answer.status < 300, "{what}: {}", answer.json());
            answer.json()
        };
        let sa = json!({ "apiVersion": "v1", "kind": "ServiceAccount", "metadata": { "name": name } });
        ok(self.post("/api/v1/namespaces/default/serviceaccounts", &sa), "ServiceAccount");
        let role = json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": { "name": name },
            "rules": rules,
        });
        ok(self.post("/apis/rbac.authorization.k8s.io/v1/clusterroles", &role), "ClusterRole");
        let binding = json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": { "name": name },
            "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name },
            "subjects": [{ "kind": "ServiceAccount", "name": name, "namespace": "default" }],
        });
        ok(self.post("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", &binding), "ClusterRoleBinding");
        self.kubeconfig_as("default", name)
    }

    /// A kubeconfig that signs in as the existing ServiceAccount `namespace/name`, with a
    /// token the API server issues for it.
    pub fn kubeconfig_as(&self, namespace: &str, name: &str) -> PathBuf {
        let request = json!({ "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {} });
        let answer = self.post(&format!("/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token"), &request);
        assert!(answer.status < 300, "a token for {namespace}/{name}: {}", answer.json());
        let mut config: Value = serde_json::from_str(&std::fs::read_to_string(self.kubeconfig()).unwrap()).unwrap();
        config["users"][0]["user"] = json!({ "token": answer.json()["status"]["token"] });
        let path = self.dir.join(format!("kubeconfig-{namespace}-{name}"));
        std::fs::write(&path, config.to_string()).unwrap();
        path
    }

    /// `GET path` from the status port of controller Pod `pod` in `namespace` (on the Pod's
    /// loopback), through a port-forward as the user of `kubeconfig`.
    pub fn controller_status_as(
        &self,
        kubeconfig: &Path,
        namespace: &str,
        pod: &str,
        path: &str,
    ) -> Result<Value, String> {
        let (kubeconfig, namespace, pod, path) =
            (kubeconfig.to_path_buf(), namespace.to_string(), pod.to_string(), path.to_string());
        block_on(async move {
            let client = client(&kubeconfig).await;
            let body = meshctl::mesh::cluster::from_status_port(&client, &namespace, &pod, &path)
                .await
                .map_err(|e| format!("{e:#}"))?;
            serde_json::from_slice(&body).map_err(|e| e.to_string())
        })
    }

    /// `GET path` from a controller Pod's status port, as the admin; fails the test when there
    /// is no JSON answer.
    pub fn controller_status(&self, namespace: &str, pod: &str, path: &str) -> Value {
        self.controller_status_as(&self.kubeconfig(), namespace, pod, path)
            .unwrap_or_else(|e| panic!("{path} from {namespace}/{pod}: {e}"))
    }

    /// `GET path`, as the admin.
    pub fn get(&self, path: &str) -> Answer {
        self.request(hyper::Method::GET, path, None)
    }

    /// `POST path` with a JSON body, as the admin.
    pub fn post(&self, path: &str, body: &Value) -> Answer {
        self.request(hyper::Method::POST, path, Some(body))
    }

    /// A request as the admin, on a fresh connection; fails the test when there is no answer.
    pub fn request(&self, method: hyper::Method, path: &str, body: Option<&Value>) -> Answer {
        self.request_with(method, path, "application/json", body)
    }

    /// A request whose JSON body is of another content type: a server-side apply
    /// (`application/apply-patch+yaml`) or a merge patch (`application/merge-patch+json`).
    pub fn request_with(&self, method: hyper::Method, path: &str, content_type: &str, body: Option<&Value>) -> Answer {
        self.try_request(method.clone(), path, content_type, body)
            .unwrap_or_else(|e| panic!("{method} https://{}{path}: {e}", self.addr))
    }

    fn try_request(
        &self,
        method: hyper::Method,
        path: &str,
        content_type: &str,
        body: Option<&Value>,
    ) -> Result<Answer, String> {
        let request = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, self.addr.to_string())
            .header(hyper::header::ACCEPT, "application/json")
            .header(hyper::header::CONTENT_TYPE, content_type)
            .body(Full::new(Bytes::from(body.map(|b| b.to_string()).unwrap_or_default())))
            .map_err(|e| e.to_string())?;
        let (addr, config) = (self.addr, self.admin.clone());
        block_on(async move {
            let exchange = async {
                let tcp = tokio::net::TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
                let name = ServerName::try_from("localhost").expect("a valid DNS name");
                let tls =
                    tokio_rustls::TlsConnector::from(config).connect(name, tcp).await.map_err(|e| e.to_string())?;
                let (mut sender, connection) =
                    hyper::client::conn::http1::handshake(TokioIo::new(tls)).await.map_err(|e| e.to_string())?;
                tokio::spawn(connection);
                let response = sender.send_request(request).await.map_err(|e| e.to_string())?;
                let status = response.status().as_u16();
                let body = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
                Ok(Answer { status, body })
            };
            tokio::time::timeout(REQUEST_TIMEOUT, exchange)
                .await
                .unwrap_or_else(|_| Err(format!("no answer within {REQUEST_TIMEOUT:?}")))
        })
    }

    /// Whether the API server is ready and has made the namespace tests' objects go to; why
    /// not when it is not.
    pub fn readiness(&self) -> Result<(), String> {
        match self.try_request(hyper::Method::GET, "/readyz?verbose", "application/json", None) {
            Ok(answer) if answer.status != 200 => {
                Err(format!("HTTP {}: {}", answer.status, String::from_utf8_lossy(&answer.body)))
            }
            // The namespace is made by a controller in the API server, sometimes just after it
            // is ready.
            Ok(_) if self.get("/api/v1/namespaces/default").status != 200 => Err("no namespace default yet".into()),
            Ok(_) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// Runs `future` to completion on a runtime of its own, on a thread of its own, so that a test
/// may call the server from inside a runtime too.
fn block_on<T: Send>(future: impl std::future::Future<Output = T> + Send) -> T {
    std::thread::scope(|scope| {
        scope
            .spawn(|| tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(future))
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// The certificates and keys the API server and its admin use, written into `dir`.
struct Credentials {
    ca_pem: String,
    /// The admin's certificate and key, PEM.
    admin_pem: (String, String),
    admin: Arc<rustls::ClientConfig>,
}

impl Credentials {
    fn write(dir: &Path) -> Credentials {
        let write = |name: &str, pem: &str| std::fs::write(dir.join(name), pem).unwrap();
        // One CA signs the serving certificate and the admin's client certificate.
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.distinguished_name.push(DnType::CommonName, "kube-testenv CA");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
        let issuer = Issuer::new(ca, ca_key);
        write("ca.crt", &ca_pem);

        let serving_key = KeyPair::generate().unwrap();
        let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        let mut serving = CertificateParams::new(names).unwrap();
        serving.distinguished_name.push(DnType::CommonName, "kube-apiserver");
        serving.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        write("serving.crt", &serving.signed_by(&serving_key, &issuer).unwrap().pem());
        write("serving.key", &serving_key.serialize_pem());

        // The API server takes a client certificate's CN as the user and its O as the groups.
        let admin_key = KeyPair::generate().unwrap();
        let mut admin = CertificateParams::new(Vec::<String>::new()).unwrap();
        admin.distinguished_name.push(DnType::CommonName, "kube-testenv-admin");
        admin.distinguished_name.push(DnType::OrganizationName, "system:masters");
        admin.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let admin_pem = (admin.signed_by(&admin_key, &issuer).unwrap().pem(), admin_key.serialize_pem());

        let service_account = KeyPair::generate().unwrap();
        write("service-account.key", &service_account.serialize_pem());
        write("service-account.pub", &service_account.public_key_pem());

        let admin = client_config(ca_pem.as_bytes(), admin_pem.0.as_bytes(), admin_pem.1.as_bytes());
        Credentials { ca_pem, admin_pem, admin }
    }
}

/// A TLS client that trusts `ca` and signs in with `cert` and `key` (PEM).
fn client_config(ca: &[u8], cert: &[u8], key: &[u8]) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_slice(ca).unwrap()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(
            vec![CertificateDer::from_pem_slice(cert).unwrap()],
            PrivateKeyDer::from_pem_slice(key).unwrap(),
        )
        .unwrap();
    Arc::new(config)
}

/// A process to run, with its output going to `log`.
struct Launch {
    name: &'static str,
    program: PathBuf,
    args: Vec<String>,
    log: PathBuf,
}

/// Processes started, and later killed, by a thread of their own. Each runs in its own process
/// group, which is killed whole, and dies with that thread (`PR_SET_PDEATHSIG`, which follows the
/// thread that forked, not the process): a test killed without unwinding (Ctrl-C, a harness's
/// timeout) leaves nothing running either, and the server may be shared between tests' threads.
struct Processes {
    running: Vec<(&'static str, u32, PathBuf)>,
    stop: Option<mpsc::Sender<()>>,
    keeper: Option<std::thread::JoinHandle<()>>,
}

impl Processes {
    fn start(launches: Vec<Launch>) -> Processes {
        let (started_tx, started_rx) = mpsc::channel();
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let keeper = std::thread::spawn(move || {
            let mut children: Vec<Child> = Vec::new();
            for launch in &launches {
                match spawn(launch) {
                    Ok(child) => {
                        started_tx.send(Ok((launch.name, child.id(), launch.log.clone()))).unwrap();
                        children.push(child);
                    }
                    Err(e) => {
                        started_tx.send(Err(format!("{} does not start: {e}", launch.program.display()))).unwrap();
                        break;
                    }
                }
            }
            drop(started_tx);
            // Until told to stop, or until the server is dropped without being told.
            let _ = stop_rx.recv();
            for child in &mut children {
                // Its own group's id is its pid.
                let group = rustix::process::Pid::from_child(child);
                let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
                let _ = child.wait();
            }
        });
        let mut processes = Processes { running: Vec::new(), stop: Some(stop_tx), keeper: Some(keeper) };
        for started in started_rx {
            match started {
                Ok(process) => processes.running.push(process),
                Err(e) => {
                    processes.stop();
                    panic!("{e}");
                }
            }
        }
        processes
    }

    /// The name of a process that has exited, if one has.
    fn exited(&self) -> Option<&'static str> {
        self.running.iter().find(|(_, pid, _)| !meshctl::runtime::process::alive(*pid)).map(|(name, _, _)| *name)
    }

    /// The end of each process's log, to show why it failed.
    fn logs(&self) -> String {
        let mut out = String::new();
        for (name, _, log) in &self.running {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(30)..].join("\n");
            out.push_str(&format!("--- {name} ({}), last lines:\n{tail}\n", log.display()));
        }
        out
    }

    /// Kills every process and waits until they are gone.
    fn stop(&mut self) {
        drop(self.stop.take());
        if let Some(keeper) = self.keeper.take() {
            let _ = keeper.join();
        }
    }
}

fn spawn(launch: &Launch) -> std::io::Result<Child> {
    let log = std::fs::File::create(&launch.log)?;
    let mut command = Command::new(&launch.program);
    command.args(&launch.args).stdin(Stdio::null()).stdout(log.try_clone()?).stderr(log).process_group(0);
    // SAFETY: prctl(PR_SET_PDEATHSIG) is a single system call, safe between fork and exec.
    unsafe {
        command.pre_exec(|| {
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))?;
            Ok(())
        });
    }
    command.spawn()
}

/// Each of `requests` (from [`KubeApiServer::requests`]) once, though a watch is logged when it
/// starts and when it ends, and none of the API server's own to itself.
pub fn once_each(requests: &[Value]) -> Vec<&Value> {
    let mut seen = std::collections::BTreeSet::new();
    requests
        .iter()
        .filter(|r| r["user"]["username"] != "system:apiserver" && seen.insert(r["auditID"].to_string()))
        .collect()
}

/// Each of `requests` once but the test's own (by their User-Agent, [`client`]'s).
pub fn not_the_tests(requests: &[Value]) -> Vec<&Value> {
    once_each(requests).into_iter().filter(|r| r["userAgent"] != "meshctl-tests").collect()
}

/// How many of `requests` there are of each verb and resource.
pub fn counted(requests: &[&Value]) -> std::collections::BTreeMap<String, usize> {
    let mut counted = std::collections::BTreeMap::new();
    for r in requests {
        let what = format!(
            "{} {}",
            r["verb"].as_str().unwrap_or_default(),
            r["objectRef"]["resource"].as_str().unwrap_or_default()
        );
        *counted.entry(what).or_default() += 1;
    }
    counted
}
