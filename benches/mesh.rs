//! Request latency through the mesh, side by side in one run: straight to a demo app, through
//! the gateway Envoy, and through the gateway and the app's sidecar (the local mesh's path),
//! in plaintext and over mTLS.
//! Real Envoy 1.40, configured over ADS by meshctl's own server; keep-alive connections,
//! sequential requests. Run with `cargo bench --bench mesh`; under `cargo test --all-targets`
//! it makes a few requests on each path as a smoke test.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use meshctl::api::security::{MtlsMode, MutualTls, PeerAuthentication, PeerAuthenticationSpec, WorkloadSelector};
use meshctl::demo_app::{self, DemoApp};
use meshctl::translate::{self, Credentials, Gateway, Instance, MeshSnapshot, Proxy, Service, Sidecar, Translation};
use meshctl::xds::{self, Resources, SyncState};
use prost::Message;

fn localhost(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
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

fn start_envoy(node: &str, xds: SocketAddr) -> Envoy {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bootstrap.pb");
    let bootstrap = translate::bootstrap(node, node, localhost(free_port()), xds);
    std::fs::write(&path, bootstrap.encode_to_vec()).unwrap();
    let child = Command::new(envoy_binary())
        .args(["--disable-hot-restart", "--concurrency", "1", "--log-level", "error", "-c"])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("Envoy runs (install it into .venv, or set MESHCTL_ENVOY)");
    Envoy { child, _dir: dir }
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

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let listener = tokio::net::TcpListener::bind(localhost(0)).await.unwrap();
    let app = listener.local_addr().unwrap();
    let demo = DemoApp {
        service: "profile".into(),
        version: "v1".into(),
        latency: Duration::ZERO,
        error_rate: 0.0,
        calls: vec![],
        proxy: None,
        load: None,
    };
    tokio::spawn(demo_app::serve(demo, listener));

    let port = || localhost(free_port());
    let (gateway, inbound, outbound, plain_inbound, plain_outbound) = (port(), port(), port(), port(), port());
    // Workloads labelled `mtls: off` accept plaintext only (a PeerAuthentication says so).
    let labels = |app: &str| {
        let mut labels =
            BTreeMap::from([("version".to_string(), "v1".to_string()), ("app".to_string(), app.to_string())]);
        if app != "profile" {
            labels.insert("mtls".into(), "off".into());
        }
        labels
    };
    let service = |name: &str, address| Service {
        name: name.into(),
        namespace: "default".into(),
        port: 80,
        cluster_ip: None,
        instances: vec![Instance { address, labels: labels(name), service_account: name.into() }],
    };
    // The same app three ways: `profile` through its sidecar over mTLS, as in any mesh;
    // `profile-plain` through a second sidecar in plaintext; `profile-direct` with no sidecar.
    let services =
        vec![service("profile", inbound), service("profile-plain", plain_inbound), service("profile-direct", app)];
    let mut snapshot = MeshSnapshot::new(services, []);
    let plaintext = PeerAuthenticationSpec {
        selector: Some(WorkloadSelector { match_labels: BTreeMap::from([("mtls".to_string(), "off".to_string())]) }),
        mtls: Some(MutualTls { mode: Some(MtlsMode::Disable) }),
        ..Default::default()
    };
    let mut plaintext = PeerAuthentication::new("plaintext", plaintext);
    plaintext.metadata.namespace = Some("default".into());
    snapshot.peer_authentications.push(plaintext);
    let pki = tempfile::tempdir().unwrap();
    let ca = meshctl::pki::Authority::open(pki.path()).unwrap();
    let credentials = |namespace: &str, account: &str| {
        let leaf = ca.issue(&meshctl::pki::Identity::new(namespace, account), Duration::from_secs(3600)).unwrap();
        Credentials { cert_chain: leaf.cert_pem, private_key: leaf.key_pem, trust_bundle: ca.trust_bundle().into() }
    };
    let proxies = [
        Proxy::Gateway(Gateway {
            node_id: "gateway".into(),
            namespace: "default".into(),
            listen: gateway,
            credentials: credentials("istio-system", "meshctl-gateway"),
        }),
        Proxy::Sidecar(Sidecar {
            node_id: "sidecar".into(),
            service: "profile".into(),
            namespace: "default".into(),
            inbound,
            app,
            outbound,
            captured: false,
            labels: labels("profile"),
            credentials: credentials("default", "profile"),
        }),
        Proxy::Sidecar(Sidecar {
            node_id: "sidecar-plain".into(),
            service: "profile-plain".into(),
            namespace: "default".into(),
            inbound: plain_inbound,
            app,
            outbound: plain_outbound,
            captured: false,
            labels: labels("profile-plain"),
            credentials: credentials("default", "profile-plain"),
        }),
    ];
    let translation = Translation::new(&snapshot);
    let desired: HashMap<String, Arc<Resources>> =
        proxies.iter().map(|p| (p.node_id().to_string(), Arc::new(translation.proxy(p)))).collect();
    let (_tx, rx) = tokio::sync::watch::channel(Arc::new(desired));
    let server = xds::Server::new(rx);
    let xds_addr = server.clone().spawn(localhost(0)).await.unwrap();
    let nodes = ["gateway", "sidecar", "sidecar-plain"];
    let _envoys = nodes.map(|node| start_envoy(node, xds_addr));
    let deadline = Instant::now() + Duration::from_secs(30);
    while nodes.iter().any(|n| server.sync_state(n) != SyncState::Synced) {
        assert!(Instant::now() < deadline, "the proxies did not sync: {:?}", server.status());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let (warmup, n) = if benchmarking { (500, 5000) } else { (5, 20) };
    let paths = [
        ("direct to the app", app, "profile"),
        ("through the gateway", gateway, "profile-direct"),
        ("through the gateway and a sidecar, plaintext", gateway, "profile-plain"),
        ("through the gateway and a sidecar, mTLS", gateway, "profile"),
    ];
    if benchmarking {
        println!("mesh latency: {n} sequential GETs per path over one keep-alive connection, Envoy --concurrency 1");
    }
    for (what, addr, host) in paths {
        measure(addr, host, warmup).await;
        let mut times = measure(addr, host, n).await;
        times.sort();
        if benchmarking {
            println!(
                "  {what:<46} median {:>7.1} µs   p99 {:>7.1} µs",
                quantile(&times, 0.5).as_secs_f64() * 1e6,
                quantile(&times, 0.99).as_secs_f64() * 1e6
            );
        }
    }
}
