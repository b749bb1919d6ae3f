//! Translation at scale: a mesh of 1,000 services, each with three subsets (one instance each),
//! a DestinationRule defining them and a VirtualService splitting between them. Times one
//! proxy's configuration (translated and encoded for ADS, as the controller does) from a new
//! snapshot, which builds what every proxy shares, and from a snapshot that has it; new
//! snapshots in which one service changed (an instance moved, or its VirtualService's weights),
//! carrying over what the others' inputs left as it was; then every proxy's (1,000 sidecars),
//! and reports the process's peak memory. For each change (and for a service added), the bytes it sends one proxy: as
//! meshctl's ADS server sends them (state of the world: every resource of each type that
//! changed) and as incremental xDS would (only the resources that changed). Last, two real
//! Envoys run a sidecar's configuration side by side, one seeing every service and one scoped
//! by a Sidecar to ten, and their resident memory is reported. Run with
//! `cargo bench --bench translate`; under `cargo test --all-targets` it translates a mesh of
//! 20 services once and runs the two Envoys on it, as a smoke test.

#[path = "../tests/common/mod.rs"]
mod common;

use common::memory;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use meshctl::api::{Protocol, Resource};
use meshctl::policy::{Options, Source, check};
use meshctl::translate::{
    Carried, Credentials, InboundPort, Instance, MeshSnapshot, Origin, Proxy, Service, ServicePort, Sidecar,
    Translation,
};
use meshctl::translate::{Resources, Type};
use prost::Message as _;

/// The controller's allocator, so that the figures are the controller's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SUBSETS: [&str; 3] = ["v1", "v2", "v3"];

fn address(service: usize, subset: usize) -> SocketAddr {
    let n = service * SUBSETS.len() + subset;
    SocketAddr::from(([10, (n >> 16) as u8, (n >> 8) as u8, n as u8], 15006))
}

fn http() -> ServicePort {
    ServicePort { name: "http".into(), number: 80, protocol: Protocol::Http }
}

fn mk_policy(services: usize) -> Vec<Resource> {
    let mut yaml = String::new();
    for s in 0..services {
        let subsets: String =
            SUBSETS.iter().map(|v| format!("  - {{name: {v}, labels: {{version: {v}}}}}\n")).collect();
        let routes: String = SUBSETS
            .iter()
            .zip([80, 15, 5])
            .map(|(v, w)| format!("    - {{destination: {{host: svc-{s}, subset: {v}}}, weight: {w}}}\n"))
            .collect();
        yaml += &format!(
            "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {{name: svc-{s}}}\nspec:\n  host: svc-{s}\n  subsets:\n{subsets}---\n\
             apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: svc-{s}}}\nspec:\n  hosts: [svc-{s}]\n  http:\n  - route:\n{routes}---\n"
        );
    }
    let report = check(&[Source { name: "bench".into(), text: yaml }], &Options::default());
    report.resources.into_iter().map(|c| c.resource).collect()
}

fn mk_services(services: usize) -> Vec<Service> {
    (0..services)
        .map(|s| Service {
            name: format!("svc-{s}"),
            namespace: "default".into(),
            ports: vec![http()],
            addresses: vec![],
            origin: Origin::Registry,
            exported: Default::default(),
            instances: SUBSETS
                .iter()
                .enumerate()
                .map(|(i, v)| Instance {
                    ip: address(s, i).ip(),
                    ports: BTreeMap::from([(80, address(s, i).port())]),
                    labels: BTreeMap::from([("version".to_string(), v.to_string())]),
                    service_account: format!("svc-{s}"),
                })
                .collect(),
        })
        .collect()
}

fn mk_sidecar(service: usize) -> Proxy {
    Proxy::Sidecar(Sidecar {
        node_id: format!("svc-{service}-v1.default"),
        service: format!("svc-{service}"),
        namespace: "default".into(),
        ports: vec![InboundPort {
            service_port: http(),
            listen: address(service, 0),
            app: SocketAddr::from(([127, 0, 0, 1], 8080)),
        }],
        outbound: SocketAddr::from(([127, 0, 0, 1], 15001)),
        capture: None,
        labels: BTreeMap::from([("version".to_string(), "v1".to_string())]),
        credentials: Credentials::default(),
    })
}

/// The times of `runs` calls of `f` (given the run's index), shortest first.
fn time(runs: usize, mut f: impl FnMut(usize)) -> Vec<Duration> {
    let mut times: Vec<Duration> = (0..runs)
        .map(|i| {
            let start = Instant::now();
            f(i);
            start.elapsed()
        })
        .collect();
    times.sort();
    times
}

/// The bytes of resources a change from `before` to `after` sends a proxy, by type: as
/// meshctl's ADS server sends them (state of the world) and as incremental xDS would (the
/// resources that changed, and the names of those removed).
fn pushed(before: &Resources, after: &Resources) -> Vec<(Type, usize, usize)> {
    let size = |e: &Arc<meshctl::translate::Encoded>| e.any.encoded_len();
    Type::ALL
        .into_iter()
        .filter(|&t| before.version_of(t) != after.version_of(t))
        .map(|t| {
            let (old, new) = (before.get(t), after.get(t));
            let was: HashMap<&str, _> = old.iter().map(|e| (e.name.as_str(), e)).collect();
            let changed = new.iter().filter(|e| was.get(e.name.as_str()).is_none_or(|w| w != e));
            let names: HashSet<&str> = new.iter().map(|e| e.name.as_str()).collect();
            let removed = old.iter().filter(|e| !names.contains(e.name.as_str())).map(|e| e.name.len());
            let sotw = meshctl::xds::carried(t, &old, &new).map(size).sum();
            (t, sotw, changed.map(size).sum::<usize>() + removed.sum::<usize>())
        })
        .collect()
}

/// The services a scoped sidecar calls.
const CALLEES: usize = 10;

/// What one real Envoy holds running a sidecar's configuration.
struct Held {
    clusters: usize,
    /// The bytes of its configuration, as encoded for ADS.
    bytes: usize,
    resident_mb: f64,
}

/// Two sidecars of the mesh of `services` on real Envoys, fed by meshctl's ADS server: one that
/// sees every service, and one that a Sidecar scopes to `CALLEES` of them. Both present real
/// certificates, as the mesh's clusters ask for them. Their memory is read once both have
/// ACKed everything.
fn envoy_memory(services: usize, policy: &[Resource]) -> [Held; 2] {
    let hosts: String =
        (0..services.min(CALLEES)).map(|i| format!("    - ./svc-{i}.default.svc.cluster.local\n")).collect();
    let sidecar = format!(
        "apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {{name: narrow}}\nspec:\n  workloadSelector:\n    labels: {{scope: narrow}}\n  egress:\n  - hosts:\n{hosts}"
    );
    let report = check(&[Source { name: "sidecar".into(), text: sidecar }], &Options::default());
    assert!(report.findings.is_empty(), "{:?}", report.findings);
    let resources: Vec<Resource> =
        policy.iter().cloned().chain(report.resources.into_iter().map(|c| c.resource)).collect();
    let snapshot = MeshSnapshot::new(mk_services(services), &resources);

    let ca_dir = tempfile::tempdir().unwrap();
    let ca = meshctl::pki::Authority::open(ca_dir.path()).unwrap();
    let leaf = ca.issue(&meshctl::api::Identity::new("default", "svc-0"), Duration::from_secs(3600)).unwrap();
    let credentials =
        Credentials { cert_chain: leaf.cert_pem, private_key: leaf.key_pem, trust_bundle: ca.trust_bundle().into() };
    let localhost = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
    let proxy = |node: &str, labels: &[(&str, &str)]| {
        let Proxy::Sidecar(sidecar) = mk_sidecar(0) else { unreachable!("a sidecar") };
        let mut port = sidecar.ports[0].clone();
        port.listen = localhost(common::free_port());
        Proxy::Sidecar(Sidecar {
            node_id: node.into(),
            ports: vec![port],
            outbound: localhost(common::free_port()),
            labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            credentials: credentials.clone(),
            ..sidecar
        })
    };
    let proxies = [proxy("wide", &[("version", "v1")]), proxy("narrow", &[("version", "v1"), ("scope", "narrow")])];
    let translation = Translation::new(&snapshot);
    let configured: Vec<Arc<Resources>> = proxies.iter().map(|p| Arc::new(translation.proxy(p))).collect();
    let desired: meshctl::xds::Desired =
        Arc::new(proxies.iter().map(|p| p.node_id().to_string()).zip(configured.iter().cloned()).collect());

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (_tx, rx) = tokio::sync::watch::channel(desired);
    let server = meshctl::xds::Server::new(rx);
    let xds = runtime.block_on(server.clone().spawn(localhost(0))).unwrap();
    let envoys = proxies.each_ref().map(|p| common::envoy::start(p.node_id(), localhost(common::free_port()), xds));
    for p in &proxies {
        common::poll(&format!("{} runs its configuration", p.node_id()), Duration::from_secs(300), || {
            match server.sync_state(p.node_id()) {
                meshctl::xds::SyncState::Nack(reason) => panic!("{} refused its configuration: {reason}", p.node_id()),
                state => state == meshctl::xds::SyncState::Synced,
            }
        });
    }
    let held = |i: usize| {
        let bytes =
            Type::ALL.iter().flat_map(|&t| configured[i].get(t).into_owned()).map(|e| e.any.encoded_len()).sum();
        let clusters = configured[i].get(Type::Cluster).len();
        Held { clusters, bytes, resident_mb: memory::resident_mb(&envoys[i].pid().to_string()) }
    };
    [held(0), held(1)]
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let services = match std::env::var("MESHCTL_BENCH_SERVICES") {
        Ok(n) => n.parse().expect("MESHCTL_BENCH_SERVICES is a number"),
        Err(_) if bench => 1000,
        Err(_) => 20,
    };
    let policy = mk_policy(services);
    assert_eq!(policy.len(), services * 2, "every generated object is valid");
    let snapshot = MeshSnapshot::new(mk_services(services), &policy);
    let proxies: Vec<Proxy> = (0..services).map(mk_sidecar).collect();
    if !bench {
        // A cluster per subset of every service, besides the proxy's own.
        let clusters = Translation::new(&snapshot).proxy(&proxies[0]).get(Type::Cluster).len();
        assert!(clusters >= services * SUBSETS.len(), "{clusters} clusters");
        let [wide, narrow] = envoy_memory(services, &policy);
        assert!(narrow.clusters < wide.clusters, "{} clusters scoped, {} not", narrow.clusters, wide.clusters);
        return;
    }

    let cold = time(20, |i| {
        std::hint::black_box(Translation::new(&snapshot).proxy(&proxies[i % proxies.len()]));
    });
    // One service changes at a time, and the translation carries over what every other
    // service's inputs left as it was: an instance moves, or a VirtualService's weights change.
    let moved: Vec<MeshSnapshot> = (0..20)
        .map(|i| {
            let mut mesh = mk_services(services);
            mesh[i % services].instances[0].ports.insert(80, 20_000 + i as u16);
            MeshSnapshot::new(mesh, &policy)
        })
        .collect();
    let mut carried = Carried::default();
    drop(Translation::carrying(&snapshot, &mut carried));
    let carried = std::cell::RefCell::new(carried);
    let carrying = |changed: &[MeshSnapshot], runs| {
        time(runs, |i| {
            std::hint::black_box(Translation::carrying(&changed[i % changed.len()], &mut carried.borrow_mut()));
        })
    };
    let proxy_carrying = |changed: &[MeshSnapshot]| {
        time(20, |i| {
            let translation = Translation::carrying(&changed[i % changed.len()], &mut carried.borrow_mut());
            std::hint::black_box(translation.proxy(&proxies[i % proxies.len()]));
        })
    };
    // A proxy that calls the changed service and is not one of its own.
    let caller = &proxies[services - 1];
    let before = Translation::new(&snapshot).proxy(caller);
    let moved_bytes = pushed(&before, &Translation::new(&moved[0]).proxy(caller));
    let moved_carried = carrying(&moved, 20);
    let moved_proxy = proxy_carrying(&moved);
    // Twenty snapshots at a time, so the peak is comparable with a run that made only these.
    drop(moved);
    let policies: Vec<Vec<Resource>> = (0..20)
        .map(|i| {
            let mut policy = policy.clone();
            let name = format!("svc-{}", i % services);
            for resource in &mut policy {
                if let Resource::VirtualService(vs) = resource
                    && vs.metadata.name.as_ref() == Some(&name)
                {
                    let route = &mut std::sync::Arc::make_mut(vs).spec.http[0].route;
                    let shift = (i % 10) as u32;
                    route[0].weight = Some(80 - shift);
                    route[1].weight = Some(15 + shift);
                }
            }
            policy
        })
        .collect();
    let reweighted: Vec<MeshSnapshot> =
        policies.iter().map(|policy| MeshSnapshot::new(mk_services(services), policy)).collect();
    let reweighted_bytes = pushed(&before, &Translation::new(&reweighted[1]).proxy(caller));
    let grown_policy = mk_policy(services + 1);
    let grown = MeshSnapshot::new(mk_services(services + 1), &grown_policy);
    let added_bytes = pushed(&before, &Translation::new(&grown).proxy(caller));
    drop(grown);
    let reweighted_carried = carrying(&reweighted, 20);
    let reweighted_proxy = proxy_carrying(&reweighted);
    // What the controller does on a change: every proxy's configuration again.
    let reweighted_all = time(5, |i| {
        let translation = Translation::carrying(&reweighted[i], &mut carried.borrow_mut());
        let configured: Vec<Resources> = proxies.iter().map(|p| translation.proxy(p)).collect();
        std::hint::black_box(configured);
    });
    let translation = Translation::new(&snapshot);
    let warm = time(200, |i| {
        std::hint::black_box(translation.proxy(&proxies[i % proxies.len()]));
    });
    // What the controller keeps: every proxy's configuration at once.
    let all = time(5, |_| {
        let translation = Translation::new(&snapshot);
        let configured: Vec<Resources> = proxies.iter().map(|p| translation.proxy(p)).collect();
        std::hint::black_box(configured);
    });
    println!("mesh: {services} services x {} subsets, {} proxies", SUBSETS.len(), proxies.len());
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let line = |what: &str, times: &[Duration]| {
        println!(
            "{what}: median {:.2} ms, p99 {:.2} ms ({} runs)",
            ms(quantile(times, 0.5)),
            ms(quantile(times, 0.99)),
            times.len()
        );
    };
    line("one proxy, new snapshot", &cold);
    line("an instance moved: the translation, carried over", &moved_carried);
    line("an instance moved: one proxy, carried over", &moved_proxy);
    line("a VirtualService changed: the translation, carried over", &reweighted_carried);
    line("a VirtualService changed: one proxy, carried over", &reweighted_proxy);
    line("a VirtualService changed: all proxies, carried over", &reweighted_all);
    line("one proxy, snapshot built", &warm);
    line("all proxies", &all);
    let bytes = |what: &str, pushed: &[(Type, usize, usize)]| {
        let kb = |n: usize| n as f64 / 1e3;
        let (sotw, delta) = pushed.iter().fold((0, 0), |(s, d), (_, ts, td)| (s + ts, d + td));
        let by_type: Vec<String> =
            pushed.iter().map(|(t, s, d)| format!("{} {:.1} / {:.1} kB", t.short(), kb(*s), kb(*d))).collect();
        println!(
            "{what}: bytes sent one proxy: {:.1} kB state of the world, {:.1} kB incremental ({})",
            kb(sotw),
            kb(delta),
            by_type.join(", ")
        );
    };
    bytes("an instance moved", &moved_bytes);
    bytes("a VirtualService changed", &reweighted_bytes);
    bytes("a service added", &added_bytes);
    println!("peak memory: {:.0} MB", memory::peak_mb("self"));
    for (what, held) in ["every service", "scoped to 10 (a Sidecar)"].iter().zip(envoy_memory(services, &policy)) {
        println!(
            "a sidecar's Envoy, {what}: {} clusters, {:.0} kB of configuration, {:.0} MB resident",
            held.clusters,
            held.bytes as f64 / 1e3,
            held.resident_mb
        );
    }
}
