//! Request latency through the mesh, side by side in one run: straight to a demo app, through
//! the gateway Envoy, through the gateway and the app's sidecar (in plaintext and over mTLS,
//! and over mTLS with every request traced, reporting to meshctl's collector), and from a client's sidecar to the app's over mTLS two ways: the local mesh's explicit
//! proxy on loopback, and a cluster's transparent capture, between two network namespaces
//! whose iptables rules `meshctl capture` writes (the client there calls a Service address and
//! knows of no proxy).
//! Beside them, the floor: two stock Envoys configured by hand with the least that makes the
//! sidecar-to-sidecar hops over mTLS, and meshctl's path as a ratio to it.
//! Then gRPC unary calls, TCP round trips and TCP echo throughput, each straight to the app and
//! from a client's sidecar to the app's over mTLS.
//! Real Envoy 1.40, configured over ADS by meshctl's own server; keep-alive connections,
//! sequential requests. Run with `cargo bench --bench mesh` (as root, for the namespaces); under
//! `cargo test --all-targets` it makes a few requests on each path as a smoke test.
//!
//! ```text
//!   host:        client ─▶ 127.0.0.1 client sidecar (outbound) ══mTLS══▶ app sidecar (inbound) ─▶ app
//!   namespaces:  [mcbench-a: client ─nat─▶ Envoy :15001] ══mTLS══▶ [mcbench-b: nat ─▶ Envoy :15006 ─▶ app]
//! ```

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use meshctl::api::Protocol;
use meshctl::api::security::{MtlsMode, MutualTls, PeerAuthentication, PeerAuthenticationSpec, WorkloadSelector};
use meshctl::demo_app::{self, DemoApp};
use meshctl::observe::collector::Collector;
use meshctl::translate::Resources;
use meshctl::translate::{
    self, ControlPlane, Credentials, Gateway, InboundPort, Instance, MeshSnapshot, Origin, Proxy, Service, ServicePort,
    Sidecar, Tracing, Translation,
};
use meshctl::xds::{self, SyncState};

fn localhost(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn http_port() -> ServicePort {
    ServicePort { name: "http".into(), number: 80, protocol: Protocol::Http }
}

/// A sidecar's one port: the service's HTTP port 80, taken at `listen` for the app at `app`.
fn serving(listen: SocketAddr, app: SocketAddr) -> Vec<InboundPort> {
    vec![InboundPort { service_port: http_port(), listen, app }]
}

fn free_port() -> u16 {
    meshctl::runtime::ports::reserve().unwrap()
}

fn envoy_binary() -> PathBuf {
    std::env::var_os("MESHCTL_ENVOY").map(PathBuf::from).unwrap_or_else(|| {
        let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/envoy");
        if venv.exists() { venv } else { PathBuf::from("envoy") }
    })
}

/// An Envoy killed when dropped, with the directory of its bootstrap.
struct Envoy {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Envoy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_envoy(node: &str, xds: SocketAddr, collector: SocketAddr) -> Envoy {
    let bootstrap = translate::bootstrap(localhost(free_port()), &ControlPlane::Local { xds, collector });
    spawn_envoy(&bootstrap, node)
}

/// Starts Envoy on a static `bootstrap`, with no control plane.
fn start_static_envoy(bootstrap: &serde_json::Value) -> Envoy {
    spawn_envoy(bootstrap, "bare")
}

/// Envoy as node `node` on `bootstrap`, written to a directory of its own, with the flags the
/// mesh's proxies run with.
fn spawn_envoy(bootstrap: &serde_json::Value, node: &str) -> Envoy {
    let (dir, args) = bootstrap_file(bootstrap, node);
    let child = Command::new(envoy_binary())
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("Envoy runs (install it into .venv, or set MESHCTL_ENVOY)");
    Envoy { child, _dir: dir }
}

/// `bootstrap` written to a directory of its own, and Envoy's command line for node `node` on it.
fn bootstrap_file(bootstrap: &serde_json::Value, node: &str) -> (tempfile::TempDir, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bootstrap.json");
    std::fs::write(&path, bootstrap.to_string()).unwrap();
    let args = translate::envoy_args(&["-c", path.to_str().unwrap(), "--concurrency", "1"], node, node);
    (dir, args)
}

/// The floor under meshctl's sidecar-to-sidecar path: two stock Envoys configured by hand
/// with the least that makes the same hops — an HTTP listener that sends everything on over
/// mTLS, and a listener that requires the client's certificate and hands requests to the app —
/// with certificates from the same CA. No control plane, no policy filters, no statistics
/// beyond Envoy's own.
fn bare_pair(client: SocketAddr, server: SocketAddr, app: SocketAddr, ca: &meshctl::pki::Authority) -> [Envoy; 2] {
    use meshctl::translate::{static_cluster, static_http_listener};
    let tls = |identity: &str| {
        let leaf = ca.issue(&meshctl::api::Identity::new("default", identity), Duration::from_secs(3600)).unwrap();
        serde_json::json!({
            "tls_certificates": [{
                "certificate_chain": { "inline_string": leaf.cert_pem },
                "private_key": { "inline_string": leaf.key_pem },
            }],
            "validation_context": { "trusted_ca": { "inline_string": ca.trust_bundle() } },
        })
    };
    let everything_to =
        |cluster: &str| vec![serde_json::json!({ "match": { "prefix": "/" }, "route": { "cluster": cluster } })];
    let mut to_server = static_cluster("peer", "127.0.0.1", server.port());
    to_server["transport_socket"] = serde_json::json!({
        "name": "envoy.transport_sockets.tls",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
            "common_tls_context": tls("bare-client"),
        },
    });
    let client_side = serde_json::json!({ "static_resources": {
        "listeners": [static_http_listener("out", client.port(), everything_to("peer"))],
        "clusters": [to_server],
    }});
    let mut inbound = static_http_listener("in", server.port(), everything_to("app"));
    inbound["filter_chains"][0]["transport_socket"] = serde_json::json!({
        "name": "envoy.transport_sockets.tls",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
            "require_client_certificate": true,
            "common_tls_context": tls("bare-server"),
        },
    });
    let server_side = serde_json::json!({ "static_resources": {
        "listeners": [inbound],
        "clusters": [static_cluster("app", &app.ip().to_string(), app.port())],
    }});
    [start_static_envoy(&client_side), start_static_envoy(&server_side)]
}

/// Latencies of `n` sequential GETs with `Host: host` over one keep-alive connection.
async fn measure(addr: SocketAddr, host: &str, n: usize) -> Vec<Duration> {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(connection);
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let request = hyper::Request::get("/").header("host", host).body(Empty::<Bytes>::new()).unwrap();
        let start = Instant::now();
        sender.ready().await.unwrap();
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(response.status(), 200);
        response.into_body().collect().await.unwrap();
        times.push(start.elapsed());
    }
    times
}

/// `n` sequential calls of the demo gRPC method on one HTTP/2 connection to `addr`.
async fn measure_grpc(addr: SocketAddr, authority: &str, n: usize) -> Vec<Duration> {
    let mut channel = meshctl::grpc::Channel::connect(addr).await.unwrap();
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        let outcome = channel.call(authority, Duration::from_secs(5)).await.unwrap();
        assert_eq!(outcome.status, Some(meshctl::grpc::OK), "{outcome:?}");
        times.push(start.elapsed());
    }
    times
}

/// A tunnel to `authority` through the HTTP proxy at `proxy`, past its answer's head.
async fn tunnel(proxy: SocketAddr, authority: &str) -> tokio::net::TcpStream {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(proxy).await.unwrap();
    stream.write_all(format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n").as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(stream.read_u8().await.unwrap());
    }
    assert!(head.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&head));
    stream
}

/// Reads the demo app's greeting, then times `n` round trips of a short line, after `warmup`.
async fn tcp_round_trips(mut stream: tokio::net::TcpStream, warmup: usize, n: usize) -> Vec<Duration> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream.set_nodelay(true).unwrap();
    let mut greeting = [0u8; 11];
    stream.read_exact(&mut greeting).await.unwrap();
    assert_eq!(&greeting, b"profile v1\n");
    let mut times = Vec::with_capacity(n);
    let mut echo = [0u8; 5];
    for i in 0..warmup + n {
        let start = Instant::now();
        stream.write_all(b"ping\n").await.unwrap();
        stream.read_exact(&mut echo).await.unwrap();
        if i >= warmup {
            times.push(start.elapsed());
        }
    }
    times
}

/// Sends `volume` bytes through the demo app's echo and reads them back at once: MB/s of the
/// whole, each way.
async fn tcp_throughput(stream: tokio::net::TcpStream, volume: usize) -> f64 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut reader, mut writer) = stream.into_split();
    let mut greeting = [0u8; 11];
    reader.read_exact(&mut greeting).await.unwrap();
    let start = Instant::now();
    let sending = tokio::spawn(async move {
        let chunk = vec![b'x'; 64 << 10];
        for _ in 0..volume / chunk.len() {
            writer.write_all(&chunk).await.unwrap();
        }
        writer
    });
    let mut buffer = vec![0u8; 64 << 10];
    let mut received = 0;
    while received < volume {
        received += reader.read(&mut buffer).await.unwrap();
    }
    let _writer = sending.await.unwrap();
    volume as f64 / start.elapsed().as_secs_f64() / 1e6
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1]
}

/// The cluster IP the captured client calls, and the namespaces' addresses (a range the test
/// kubelet does not use, so both may run at once).
const SERVICE_IP: [u8; 4] = [10, 96, 0, 10];
/// These proxies trace nothing (their snapshots have no tracing), so their collector is the
/// discard port.
const NO_COLLECTOR: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, 9));
const HOST: [u8; 4] = [10, 236, 0, 1];
const CLIENT_POD: [u8; 4] = [10, 236, 0, 2];
const SERVER_POD: [u8; 4] = [10, 236, 0, 3];
const APP_PORT: u16 = 8080;
/// `profile`'s gRPC and TCP ports.
const GRPC_PORT: u16 = 9090;
const TCP_PORT: u16 = 5432;
const CLIENT_MODE: &str = "--measure-from-namespace";
/// The floor's path, and meshctl's that it is the floor of.
const BARE: &str = "two stock Envoys configured by hand, mTLS";
const FLOORED: &str = "sidecar to sidecar, mTLS, explicit proxy";

/// Two network namespaces joined to the host by veth pairs, removed when dropped with every
/// process in them.
struct Namespaces {
    processes: Vec<Child>,
}

impl Namespaces {
    const NAMES: [&str; 2] = ["mcbench-a", "mcbench-b"];

    fn make() -> Namespaces {
        Namespaces::remove();
        let host = std::net::Ipv4Addr::from(HOST).to_string();
        for (name, pod) in Namespaces::NAMES.into_iter().zip([CLIENT_POD, SERVER_POD]) {
            let pod = format!("{}/32", std::net::Ipv4Addr::from(pod));
            let steps: [&[&str]; 10] = [
                &["netns", "add", name],
                &["link", "add", name, "type", "veth", "peer", "name", "eth0", "netns", name],
                &["addr", "add", &format!("{host}/32"), "dev", name],
                &["link", "set", name, "up"],
                &["route", "add", &pod, "dev", name],
                &["-n", name, "link", "set", "lo", "up"],
                &["-n", name, "addr", "add", &pod, "dev", "eth0"],
                &["-n", name, "link", "set", "eth0", "up"],
                &["-n", name, "route", "add", &format!("{host}/32"), "dev", "eth0"],
                &["-n", name, "route", "add", "default", "via", &host, "dev", "eth0"],
            ];
            for step in steps {
                let status = Command::new("ip").args(step).status().unwrap();
                assert!(status.success(), "ip {} failed (the captured path needs root)", step.join(" "));
            }
            std::fs::write(format!("/proc/sys/net/ipv4/conf/{name}/forwarding"), "1").unwrap();
        }
        Namespaces { processes: Vec::new() }
    }

    fn remove() {
        for name in Namespaces::NAMES {
            let pids = Command::new("ip").args(["netns", "pids", name]).output().map(|o| o.stdout).unwrap_or_default();
            for pid in String::from_utf8_lossy(&pids).split_whitespace() {
                let _ = Command::new("kill").args(["-9", pid]).status();
            }
            let _ = Command::new("ip").args(["link", "del", name]).stderr(Stdio::null()).status();
            let _ = Command::new("ip").args(["netns", "del", name]).stderr(Stdio::null()).status();
        }
    }

    /// Runs `program` in namespace `name`, as `user` when given; killed with the namespace.
    fn spawn(&mut self, name: &str, user: Option<u32>, program: &[&str]) {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", name]);
        if let Some(uid) = user {
            command.args(["setpriv", &format!("--reuid={uid}"), &format!("--regid={uid}"), "--clear-groups"]);
            // Envoy and its bootstrap may sit in directories private to root (a temporary
            // checkout): reading any file is the one right the proxy's user keeps.
            command.args(["--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search", "--"]);
        }
        self.processes.push(command.args(program).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap());
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        Namespaces::remove();
        for child in &mut self.processes {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Starts Envoy for `node` in namespace `name` as the proxy's user, whose own connections
/// capture leaves alone.
fn start_captured_envoy(namespaces: &mut Namespaces, name: &str, node: &str, xds: SocketAddr) -> tempfile::TempDir {
    let bootstrap = translate::bootstrap(localhost(15000), &ControlPlane::Local { xds, collector: NO_COLLECTOR });
    let (dir, args) = bootstrap_file(&bootstrap, node);
    let uid = meshctl::kube::inject::PROXY_UID as u32;
    let envoy = envoy_binary();
    let program: Vec<&str> = std::iter::once(envoy.to_str().unwrap()).chain(args.iter().map(String::as_str)).collect();
    namespaces.spawn(name, Some(uid), &program);
    dir
}

/// `meshctl capture` in namespace `name`, as the injected init container runs it.
fn capture(name: &str) {
    let status = Command::new("ip")
        .args(["netns", "exec", name, env!("CARGO_BIN_EXE_meshctl"), "capture", "--outbound-port=15001"])
        .args(["--inbound-port=15006", "--proxy-uid=1337", "--exclude-inbound-ports=15090,15021"])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "meshctl capture in {name}");
}

/// Latencies measured by this program run again inside namespace `name` (`CLIENT_MODE`).
fn measure_from(name: &str, addr: SocketAddr, warmup: usize, n: usize) -> Vec<Duration> {
    let me = std::env::current_exe().unwrap();
    let output = Command::new("ip")
        .args(["netns", "exec", name])
        .arg(me)
        .args([CLIENT_MODE, &addr.to_string(), &warmup.to_string(), &n.to_string()])
        .output()
        .unwrap();
    assert!(output.status.success(), "the client in {name}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).lines().map(|l| Duration::from_nanos(l.parse().unwrap())).collect()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(CLIENT_MODE) {
        // Run inside a namespace: the client of the captured path, which only addresses the
        // Service.
        let addr: SocketAddr = args[2].parse().unwrap();
        measure(addr, &addr.ip().to_string(), args[3].parse().unwrap()).await;
        for t in measure(addr, &addr.ip().to_string(), args[4].parse().unwrap()).await {
            println!("{}", t.as_nanos());
        }
        return;
    }
    let benchmarking = args.iter().any(|a| a == "--bench");
    let listener = tokio::net::TcpListener::bind(localhost(0)).await.unwrap();
    let app = listener.local_addr().unwrap();
    let demo = DemoApp::new("profile", "v1");
    // The same app's gRPC method and TCP echo, on ports of their own.
    let grpc_listener = tokio::net::TcpListener::bind(localhost(0)).await.unwrap();
    let tcp_listener = tokio::net::TcpListener::bind(localhost(0)).await.unwrap();
    let (grpc_app, tcp_app) = (grpc_listener.local_addr().unwrap(), tcp_listener.local_addr().unwrap());
    tokio::spawn(demo_app::serve_grpc(demo.clone(), grpc_listener));
    tokio::spawn(demo_app::serve_tcp("profile".into(), "v1".into(), tcp_listener));
    tokio::spawn(demo_app::serve(demo, listener));

    let (warmup, n) = if benchmarking { (500, 5000) } else { (5, 20) };
    let port = || localhost(free_port());
    let (gateway, inbound, outbound, plain_inbound, plain_outbound) = (port(), port(), port(), port(), port());
    let (grpc_inbound, tcp_inbound) = (port(), port());
    let (traced_gateway, traced_inbound, traced_outbound) = (port(), port(), port());
    // Workloads labelled `mtls: off` accept plaintext only (a PeerAuthentication says so).
    let labels = |app: &str| {
        let mut labels =
            BTreeMap::from([("version".to_string(), "v1".to_string()), ("app".to_string(), app.to_string())]);
        if app != "profile" {
            labels.insert("mtls".into(), "off".into());
        }
        labels
    };
    let instance = |address: SocketAddr, app: &str, account: &str| Instance {
        ip: address.ip(),
        ports: BTreeMap::from([(80, address.port())]),
        labels: labels(app),
        service_account: account.into(),
    };
    let service = |name: &str, address| Service {
        name: name.into(),
        namespace: "default".into(),
        ports: vec![http_port()],
        addresses: vec![],
        origin: Origin::Registry,
        exported: Default::default(),
        instances: vec![instance(address, name, name)],
    };
    // The same app three ways: `profile` through its sidecar over mTLS, as in any mesh;
    // `profile-plain` through a second sidecar in plaintext; `profile-direct` with no sidecar.
    let captured_service =
        Service { addresses: vec![SERVICE_IP.into()], ..service("profile-captured", (SERVER_POD, APP_PORT).into()) };
    // `profile-traced` is `profile` behind a gateway and a sidecar that trace every request.
    let traced_service = Service {
        instances: vec![instance(traced_inbound, "profile", "profile")],
        ..service("profile-traced", traced_inbound)
    };
    // `profile` also serves gRPC on 9090 and TCP on 5432, through the same sidecar.
    let mut profile = service("profile", inbound);
    profile.ports.extend([
        ServicePort { name: "grpc".into(), number: GRPC_PORT, protocol: Protocol::Grpc },
        ServicePort { name: "tcp".into(), number: TCP_PORT, protocol: Protocol::Tcp },
    ]);
    profile.instances[0].ports.extend([(GRPC_PORT, grpc_inbound.port()), (TCP_PORT, tcp_inbound.port())]);
    let services = vec![
        profile.clone(),
        service("profile-plain", plain_inbound),
        service("profile-direct", app),
        captured_service,
        traced_service,
    ];
    let plaintext = PeerAuthenticationSpec {
        selector: Some(WorkloadSelector { match_labels: BTreeMap::from([("mtls".to_string(), "off".to_string())]) }),
        mtls: Some(MutualTls { mode: Some(MtlsMode::Disable) }),
        ..Default::default()
    };
    let mut plaintext = PeerAuthentication::new("plaintext", plaintext);
    plaintext.metadata.namespace = Some("default".into());
    let plaintext = [meshctl::api::Resource::PeerAuthentication(plaintext.into())];
    let snapshot = MeshSnapshot::new(services, &plaintext);
    let pki = tempfile::tempdir().unwrap();
    let ca = meshctl::pki::Authority::open(pki.path()).unwrap();
    let credentials = |namespace: &str, account: &str| {
        let leaf = ca.issue(&meshctl::api::Identity::new(namespace, account), Duration::from_secs(3600)).unwrap();
        Credentials { cert_chain: leaf.cert_pem, private_key: leaf.key_pem, trust_bundle: ca.trust_bundle().into() }
    };
    let proxies = [
        Proxy::Gateway(Gateway {
            serves: None,
            node_id: "gateway".into(),
            namespace: "default".into(),
            listen: gateway,
            labels: Default::default(),
            credentials: credentials("istio-system", "meshctl-gateway"),
        }),
        Proxy::Sidecar(Sidecar {
            node_id: "sidecar".into(),
            service: "profile".into(),
            namespace: "default".into(),
            ports: profile
                .ports
                .iter()
                .zip([(inbound, app), (grpc_inbound, grpc_app), (tcp_inbound, tcp_app)])
                .map(|(port, (listen, app))| InboundPort { service_port: port.clone(), listen, app })
                .collect(),
            outbound,
            capture: None,
            labels: labels("profile"),
            credentials: credentials("default", "profile"),
        }),
        Proxy::Sidecar(Sidecar {
            node_id: "sidecar-plain".into(),
            service: "profile-plain".into(),
            namespace: "default".into(),
            ports: serving(plain_inbound, app),
            outbound: plain_outbound,
            capture: None,
            labels: labels("profile-plain"),
            credentials: credentials("default", "profile-plain"),
        }),
        // The namespaces' sidecars, as injection makes them.
        Proxy::Sidecar(Sidecar {
            node_id: "captured-client".into(),
            service: "client".into(),
            namespace: "default".into(),
            ports: vec![],
            outbound: SocketAddr::from(([0, 0, 0, 0], 15001)),
            capture: Some(SocketAddr::from(([0, 0, 0, 0], 15006))),
            labels: BTreeMap::from([("app".to_string(), "client".to_string())]),
            credentials: credentials("default", "client"),
        }),
        Proxy::Sidecar(Sidecar {
            node_id: "captured-server".into(),
            service: "profile-captured".into(),
            namespace: "default".into(),
            ports: serving(SocketAddr::from((SERVER_POD, APP_PORT)), localhost(APP_PORT)),
            outbound: SocketAddr::from(([0, 0, 0, 0], 15001)),
            capture: Some(SocketAddr::from(([0, 0, 0, 0], 15006))),
            labels: labels("profile"),
            credentials: credentials("default", "profile-captured"),
        }),
    ];
    let mut traced_snapshot = snapshot.clone();
    traced_snapshot.tracing = Tracing { sampling: 100.0 };
    let traced_proxies = [
        Proxy::Gateway(Gateway {
            serves: None,
            node_id: "gateway-traced".into(),
            namespace: "default".into(),
            listen: traced_gateway,
            labels: Default::default(),
            credentials: credentials("istio-system", "meshctl-gateway"),
        }),
        Proxy::Sidecar(Sidecar {
            node_id: "sidecar-traced".into(),
            service: "profile-traced".into(),
            namespace: "default".into(),
            ports: serving(traced_inbound, app),
            outbound: traced_outbound,
            capture: None,
            labels: labels("profile"),
            credentials: credentials("default", "profile"),
        }),
    ];
    let translation = Translation::new(&snapshot);
    let traced_translation = Translation::new(&traced_snapshot);
    let desired: HashMap<String, Arc<Resources>> = proxies
        .iter()
        .map(|p| (p.node_id().to_string(), Arc::new(translation.proxy(p))))
        .chain(traced_proxies.iter().map(|p| (p.node_id().to_string(), Arc::new(traced_translation.proxy(p)))))
        .collect();
    let collector = Collector::default();
    let spans = tokio::net::TcpListener::bind(localhost(0)).await.unwrap();
    let collector_addr = spans.local_addr().unwrap();
    tokio::spawn(meshctl::observe::collector::serve(spans, collector.clone()));
    let (_tx, rx) = tokio::sync::watch::channel(Arc::new(desired));
    let server = xds::Server::new(rx);
    // On every address, so that the namespaces' proxies reach it through the host.
    let xds_port = server.clone().spawn(SocketAddr::from(([0, 0, 0, 0], 0))).await.unwrap().port();
    let xds_addr = localhost(xds_port);
    let _envoys = ["gateway", "sidecar", "sidecar-plain"].map(|node| start_envoy(node, xds_addr, NO_COLLECTOR));
    let _traced = ["gateway-traced", "sidecar-traced"].map(|node| start_envoy(node, xds_addr, collector_addr));
    let (bare_client, bare_server) = (port(), port());
    let _bare = bare_pair(bare_client, bare_server, app, &ca);
    let mut namespaces = Namespaces::make();
    let [client_ns, server_ns] = Namespaces::NAMES;
    let port = APP_PORT.to_string();
    let demo = [
        env!("CARGO_BIN_EXE_meshctl"),
        "demo-app",
        "--name",
        "profile-captured",
        "--address",
        "0.0.0.0",
        "--port",
        &port,
    ];
    namespaces.spawn(server_ns, None, &demo);
    // The namespaces' own cost, before anything is captured: the client straight to the app.
    let server_pod = SocketAddr::from((SERVER_POD, APP_PORT));
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect_timeout(&server_pod, Duration::from_millis(100)).is_err() {
        assert!(Instant::now() < deadline, "the app in {server_ns} did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let between = measure_from(client_ns, server_pod, warmup, n);
    for name in Namespaces::NAMES {
        capture(name);
    }
    let xds_from_namespaces = SocketAddr::from((HOST, xds_port));
    let _captured = [(client_ns, "captured-client"), (server_ns, "captured-server")]
        .map(|(name, node)| start_captured_envoy(&mut namespaces, name, node, xds_from_namespaces));
    let nodes = [
        "gateway",
        "sidecar",
        "sidecar-plain",
        "captured-client",
        "captured-server",
        "gateway-traced",
        "sidecar-traced",
    ];
    let deadline = Instant::now() + Duration::from_secs(30);
    while nodes.iter().any(|n| server.sync_state(n) != SyncState::Synced) {
        assert!(Instant::now() < deadline, "the proxies did not sync: {:?}", server.status());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let mut results: Vec<(&str, Vec<Duration>)> = Vec::new();
    let paths = [
        ("direct to the app", app, "profile"),
        ("through the gateway", gateway, "profile-direct"),
        ("through the gateway and a sidecar, plaintext", gateway, "profile-plain"),
        ("through the gateway and a sidecar, mTLS", gateway, "profile"),
        ("the same, every request traced", traced_gateway, "profile-traced"),
        ("sidecar to sidecar, mTLS, explicit proxy", plain_outbound, "profile"),
        (BARE, bare_client, "profile"),
    ];
    if benchmarking {
        println!("mesh latency: {n} sequential GETs per path over one keep-alive connection, Envoy --concurrency 1");
    }
    for (what, addr, host) in paths {
        measure(addr, host, warmup).await;
        results.push((what, measure(addr, host, n).await));
    }
    // Every traced request's spans reach the collector: the gateway's two and the sidecar's.
    let traced = meshctl::observe::trace::Query { limit: usize::MAX, ..Default::default() };
    let deadline = Instant::now() + Duration::from_secs(10);
    while collector.traces(&traced).traces.iter().filter(|t| t.spans.len() == 3).count() < warmup + n {
        assert!(Instant::now() < deadline, "the traced requests' spans did not all arrive");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let service = SocketAddr::from((SERVICE_IP, 80));
    results.push(("between two namespaces, no proxy", between));
    results.push(("sidecar to sidecar, mTLS, captured", measure_from(client_ns, service, warmup, n)));
    drop(namespaces);
    // gRPC unary calls and TCP round trips, each straight to the app and from a client's
    // sidecar to the app's over mTLS (the local mesh's explicit proxy: HTTP/2 for gRPC, a
    // CONNECT tunnel for TCP).
    let grpc_authority = format!("profile:{GRPC_PORT}");
    for (what, addr) in [("gRPC direct to the app", grpc_app), ("gRPC sidecar to sidecar, mTLS", plain_outbound)] {
        measure_grpc(addr, &grpc_authority, warmup).await;
        results.push((what, measure_grpc(addr, &grpc_authority, n).await));
    }
    let tcp_direct = || async { tokio::net::TcpStream::connect(tcp_app).await.unwrap() };
    let tcp_mesh = || async { tunnel(plain_outbound, &format!("profile:{TCP_PORT}")).await };
    results.push(("TCP round trip direct to the app", tcp_round_trips(tcp_direct().await, warmup, n).await));
    results.push(("TCP round trip sidecar to sidecar, mTLS", tcp_round_trips(tcp_mesh().await, warmup, n).await));
    let volume = if benchmarking { 256 << 20 } else { 1 << 20 };
    let throughput = [
        ("TCP echo throughput direct to the app", tcp_throughput(tcp_direct().await, volume).await),
        ("TCP echo throughput sidecar to sidecar, mTLS", tcp_throughput(tcp_mesh().await, volume).await),
    ];
    let mut figures: HashMap<&str, (Duration, Duration)> = HashMap::new();
    for (what, mut times) in results {
        assert_eq!(times.len(), n, "{what}");
        times.sort();
        let (p50, p99) = (quantile(&times, 0.5), quantile(&times, 0.99));
        figures.insert(what, (p50, p99));
        if benchmarking {
            println!(
                "  {what:<46} median {:>7.1} µs   p99 {:>7.1} µs",
                p50.as_secs_f64() * 1e6,
                p99.as_secs_f64() * 1e6
            );
        }
    }
    if benchmarking {
        let ((mesh_p50, mesh_p99), (bare_p50, bare_p99)) = (figures[FLOORED], figures[BARE]);
        println!(
            "  meshctl's sidecar-to-sidecar path over the floor: {:.2}× at the median, {:.2}× at p99",
            mesh_p50.as_secs_f64() / bare_p50.as_secs_f64(),
            mesh_p99.as_secs_f64() / bare_p99.as_secs_f64()
        );
    }
    if benchmarking {
        println!("TCP throughput: {} MiB echoed back over one connection", volume >> 20);
        for (what, mb_per_second) in throughput {
            println!("  {what:<46} {mb_per_second:>7.1} MB/s");
        }
    }
}
