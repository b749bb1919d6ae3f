//! meshctl beside istiod, on the same work. One test kube-apiserver holds N Services (three
//! Pods each, injected and running, an EndpointSlice, a DestinationRule and a VirtualService);
//! each control plane in turn (istiod as it comes, istiod with its debounce at 1 ms, meshctl)
//! runs against it alone and configures M stock Envoy 1.40 sidecars. For each the bench times
//! its start to every proxy ACKing; 100 VirtualService writes, each to every proxy ACKing the
//! routes it changed (istiod's `/debug/syncz`, meshctl's status port) and to the last proxy
//! reloading them (the proxies' own clocks, the same observation for both); and reads the bytes
//! each proxy received, the control plane's memory and CPU, and its requests to the API server
//! during the changes and idle (the audit log). istiod (pilot-discovery) is built by
//! scripts/istiod-tools; docs/performance.md ("Beside istiod") says why each setting is what it
//! is. Run with `cargo bench --bench peer` (MESHCTL_BENCH_SERVICES, MESHCTL_BENCH_PROXIES,
//! MESHCTL_BENCH_CHANGES, MESHCTL_BENCH_IDLE_S, MESHCTL_BENCH_POLL_MS, MESHCTL_BENCH_PLANES).

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "shared/kube_mesh.rs"]
mod kube_mesh;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::kube::KubeApiServer;
use kube::api::{Patch, PatchParams, PostParams};
use kube_mesh::{NAMESPACE, Process, api, create, ip, localhost, report};
use meshctl::api::Kind;
use meshctl::controller::Report;
use meshctl::store::{Revision, written_at};
use meshctl::xds::SyncState;
use serde_json::{Value, json};

/// Where scripts/istiod-tools keeps pilot-discovery and Istio's CRDs; built the first time.
fn istiod_tools() -> PathBuf {
    let out = Command::new("bash").arg(common::root().join("scripts/istiod-tools")).output().expect("bash runs");
    assert!(out.status.success(), "scripts/istiod-tools failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let last = stdout.lines().last().and_then(|l| l.strip_prefix("istiod-tools: ")).expect("the tools' directory");
    PathBuf::from(last)
}

/// Istio's CRDs, as its chart installs them, each established before this returns.
async fn install_crds(client: &kube::Client, file: &Path) {
    let crds = api(client, "apiextensions.k8s.io", "v1", "CustomResourceDefinition", false);
    let (documents, error) = meshctl::api::yaml::parse(&std::fs::read_to_string(file).unwrap());
    assert!(error.is_none(), "{error:?}");
    let mut names = Vec::new();
    for document in documents {
        let Some(root) = document.root else { continue };
        let crd = root.to_json();
        let name = crd["metadata"]["name"].as_str().unwrap().to_string();
        // meshctl's install has the kinds both define, serving v1 as istiod reads them.
        if crds.get_opt(&name).await.unwrap().is_none() {
            create(&crds, crd).await;
        }
        names.push(name);
    }
    for name in names {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let crd = crds.get(&name).await.unwrap();
            let established = crd.data["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Established" && c["status"] == "True");
            if established {
                break;
            }
            assert!(Instant::now() < deadline, "{name} is not established");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// What istiod needs besides the mesh: its namespace, and mTLS off mesh-wide (so that stock
/// Envoy needs no SDS).
async fn store_istio_system(client: &kube::Client) {
    let namespace = json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": "istio-system" } });
    create(&api(client, "", "v1", "Namespace", false), namespace).await;
    let peer = kube::core::ApiResource::from_gvk(&kube::core::GroupVersionKind::gvk(
        "security.istio.io",
        "v1",
        "PeerAuthentication",
    ));
    let peers = kube::Api::namespaced_with(client.clone(), "istio-system", &peer);
    let disable = json!({
        "apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
        "metadata": { "name": "default", "namespace": "istio-system" },
        "spec": { "mtls": { "mode": "DISABLE" } },
    });
    create(&peers, disable).await;
}

/// istiod's ports.
struct Istiod {
    process: Process,
    grpc: SocketAddr,
    http: SocketAddr,
}

/// istiod with the flags the comparison needs (the README's Scale section says why each), and
/// `debounce` as `PILOT_DEBOUNCE_AFTER` where given (100ms by default).
fn start_istiod(binary: &Path, kubeconfig: &Path, dir: &Path, debounce: Option<&str>) -> Istiod {
    let mesh = dir.join("mesh.yaml");
    std::fs::write(
        &mesh,
        "enableAutoMtls: false\nenableTracing: false\ningressControllerMode: \"OFF\"\naccessLogFile: \"\"\n\
         defaultConfig:\n  discoveryAddress: 127.0.0.1:15010\n",
    )
    .unwrap();
    let networks = dir.join("networks.yaml");
    std::fs::write(&networks, "networks: {}\n").unwrap();
    let (grpc, http, monitoring, ctrlz) =
        (common::free_port(), common::free_port(), common::free_port(), common::free_port());
    let log = std::fs::File::create(dir.join("istiod.log")).unwrap();
    let child = Command::new(binary)
        .arg("discovery")
        .arg(format!("--kubeconfig={}", kubeconfig.display()))
        .arg(format!("--meshConfig={}", mesh.display()))
        .arg(format!("--networksConfig={}", networks.display()))
        .args(["--domain=cluster.local", "--clusterID=Kubernetes", "--secureGRPCAddr=", "--httpsAddr="])
        .arg(format!("--grpcAddr=127.0.0.1:{grpc}"))
        .arg(format!("--httpAddr=127.0.0.1:{http}"))
        .arg(format!("--monitoringAddr=127.0.0.1:{monitoring}"))
        .arg(format!("--ctrlz_port={ctrlz}"))
        .envs([
            ("POD_NAMESPACE", "istio-system"),
            ("POD_NAME", "istiod-bench"),
            ("PILOT_ENABLE_METADATA_EXCHANGE", "false"),
            ("PILOT_ENABLE_ALPN_FILTER", "false"),
            ("INJECT_ENABLED", "false"),
            ("INJECTION_WEBHOOK_CONFIG_NAME", ""),
            ("VALIDATION_WEBHOOK_CONFIG_NAME", ""),
            ("PILOT_ENABLE_IP_AUTOALLOCATE", "false"),
            ("PILOT_ENABLE_GATEWAY_API", "false"),
        ])
        .envs(debounce.map(|d| ("PILOT_DEBOUNCE_AFTER", d)))
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("pilot-discovery runs");
    Istiod { process: Process(child), grpc: localhost(grpc), http: localhost(http) }
}

/// A stock Envoy for the sidecar of Pod `svc-{s}-v1`, fed by istiod at `xds`.
fn start_envoy(s: usize, xds: SocketAddr, dir: &Path) -> Envoy {
    let pod = format!("svc-{s}-v1");
    let admin = common::free_port();
    let cluster = |name: &str, address: Value| {
        json!({
            "name": name, "type": "STATIC", "connect_timeout": "1s",
            "typed_extension_protocol_options": { "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                "explicit_http_config": { "http2_protocol_options": {} },
            } },
            "load_assignment": { "cluster_name": name, "endpoints": [{ "lb_endpoints": [{ "endpoint": { "address": address } }] }] },
        })
    };
    let bootstrap = json!({
        "node": {
            "id": format!("sidecar~{}~{pod}.{NAMESPACE}~{NAMESPACE}.svc.cluster.local", ip(s, 0)),
            "cluster": format!("svc-{s}.{NAMESPACE}"),
            "metadata": {
                "ISTIO_VERSION": "1.32.0", "CLUSTER_ID": "Kubernetes", "NAMESPACE": NAMESPACE,
                "INSTANCE_IPS": ip(s, 0), "LABELS": { "app": format!("svc-{s}"), "version": "v1" },
                "INTERCEPTION_MODE": "REDIRECT", "NAME": pod, "WORKLOAD_NAME": format!("svc-{s}"),
                "SERVICE_ACCOUNT": "default",
            },
        },
        "admin": { "address": { "socket_address": { "address": "127.0.0.1", "port_value": admin } } },
        "dynamic_resources": {
            "ads_config": { "api_type": "DELTA_GRPC", "transport_api_version": "V3", "set_node_on_first_message_only": true,
                            "grpc_services": [{ "envoy_grpc": { "cluster_name": "xds-grpc" } }] },
            "cds_config": { "ads": {}, "resource_api_version": "V3", "initial_fetch_timeout": "0s" },
            "lds_config": { "ads": {}, "resource_api_version": "V3", "initial_fetch_timeout": "0s" },
        },
        "static_resources": { "clusters": [
            cluster("xds-grpc", json!({ "socket_address": { "address": "127.0.0.1", "port_value": xds.port() } })),
            cluster("sds-grpc", json!({ "pipe": { "path": dir.join("no-sds.sock") } })),
        ] },
    });
    let path = dir.join(format!("{pod}.json"));
    std::fs::write(&path, bootstrap.to_string()).unwrap();
    let log = std::fs::File::create(dir.join(format!("{pod}.log"))).unwrap();
    let child = Command::new(common::envoy::binary())
        .args(["-c", path.to_str().unwrap(), "--concurrency", "1", "--disable-hot-restart", "--log-level", "warning"])
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("envoy runs");
    Envoy { process: Process(child), admin: localhost(admin) }
}

/// A stock Envoy for the sidecar of Pod `svc-{s}-v1`, on the bootstrap meshctl injects, but
/// with its files (the Pod's token, the mesh's roots) in `dir` and the controller at `xds`.
async fn start_meshctl_envoy(client: &kube::Client, s: usize, xds: SocketAddr, dir: &Path) -> Envoy {
    use meshctl::kube::{identity, install, roots};
    let pod = format!("svc-{s}-v1");
    let files = dir.join(&pod);
    let (secrets, root) = (files.join("secrets"), files.join("root"));
    std::fs::create_dir_all(&secrets).unwrap();
    std::fs::create_dir_all(&root).unwrap();
    // The token the kubelet would project: for meshctl's audience, bound to the Pod.
    let uid = api(client, "", "v1", "Pod", true).get(&pod).await.unwrap().metadata.uid.unwrap();
    let request = json!({ "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {
        "audiences": [identity::TOKEN_AUDIENCE], "expirationSeconds": 3600,
        "boundObjectRef": { "kind": "Pod", "apiVersion": "v1", "name": pod, "uid": uid },
    } });
    let accounts = api(client, "", "v1", "ServiceAccount", true);
    let answer: Value =
        accounts.create_subresource("token", "default", &PostParams::default(), &request).await.unwrap();
    std::fs::write(secrets.join("token"), answer["status"]["token"].as_str().unwrap()).unwrap();
    let moved = |text: String| {
        text.replace(identity::TOKEN_DIR, secrets.to_str().unwrap()).replace(roots::DIR, root.to_str().unwrap())
    };
    std::fs::write(secrets.join("xds-credential.json"), moved(identity::credential_sds())).unwrap();
    // The controller writes the roots into every namespace's ConfigMap.
    let configmaps = api(client, "", "v1", "ConfigMap", true);
    let deadline = Instant::now() + Duration::from_secs(60);
    let configmap = loop {
        if let Some(found) = configmaps.get_opt(roots::CONFIGMAP).await.unwrap() {
            break found;
        }
        assert!(Instant::now() < deadline, "no {} in {NAMESPACE}", roots::CONFIGMAP);
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    for (key, value) in configmap.data["data"].as_object().unwrap() {
        std::fs::write(root.join(key), value.as_str().unwrap()).unwrap();
    }
    let settings = install::Settings::new(String::new(), String::new(), install::GatewayService::ClusterIP);
    let mut bootstrap: Value =
        serde_json::from_str(&moved(install::proxy_bootstrap_json(&install::controller_host(&settings)).to_string()))
            .unwrap();
    let admin = common::free_port();
    bootstrap["admin"]["address"]["socket_address"]["port_value"] = json!(admin);
    // Many Envoys on one host: no fixed ports besides what the controller sends.
    bootstrap["static_resources"]["listeners"] = json!([]);
    for cluster in bootstrap["static_resources"]["clusters"].as_array_mut().unwrap() {
        let to_controller = cluster["name"] != "admin";
        if to_controller {
            cluster["type"] = json!("STATIC");
        }
        let address =
            &mut cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]["socket_address"];
        match to_controller {
            true => address
                .as_object_mut()
                .unwrap()
                .extend([("address".into(), json!("127.0.0.1")), ("port_value".into(), json!(xds.port()))]),
            false => address["port_value"] = json!(admin),
        }
    }
    let path = files.join("bootstrap.json");
    std::fs::write(&path, bootstrap.to_string()).unwrap();
    let log = std::fs::File::create(files.join("envoy.log")).unwrap();
    let node = format!("{pod}.{NAMESPACE}");
    let args = meshctl::translate::envoy_args(
        &["-c", path.to_str().unwrap(), "--concurrency", "1"],
        &node,
        &format!("svc-{s}"),
    );
    let child = Command::new(common::envoy::binary())
        .args(args)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("envoy runs");
    Envoy { process: Process(child), admin: localhost(admin) }
}

/// A stock Envoy, and its admin address.
struct Envoy {
    process: Process,
    admin: SocketAddr,
}

/// How many bytes `envoys` have received from their control plane, together: their xDS
/// cluster's (`xds-grpc` on istiod's bootstrap, `xds` on meshctl's).
fn received(runtime: &tokio::runtime::Runtime, envoys: &[Envoy]) -> u64 {
    let read = |admin: SocketAddr| async move {
        let path = "/stats?filter=upstream_cx_rx_bytes_total";
        let answer = meshctl::http::get(admin, "localhost", path, Duration::from_secs(5)).await.unwrap();
        let stats = String::from_utf8(answer.body.to_vec()).unwrap();
        let line = stats
            .lines()
            .find_map(|line| ["cluster.xds-grpc.", "cluster.xds."].iter().find_map(|prefix| line.strip_prefix(prefix)));
        let value = line.and_then(|l| l.strip_prefix("upstream_cx_rx_bytes_total: ")).expect("the xDS cluster's bytes");
        value.parse::<u64>().unwrap()
    };
    envoys.iter().map(|envoy| runtime.block_on(read(envoy.admin))).sum()
}

/// Whether every one of `nodes` has ACKed a configuration built from what `written` holds.
fn meshctl_synced(report: &Report, nodes: &[String], written: &Revision) -> bool {
    let synced = |node: &String| report.proxies.iter().any(|p| p.node_id == *node && p.sync == SyncState::Synced);
    report.revision.holds(written) && nodes.iter().all(synced)
}

/// istiod's view of each connected proxy's xDS (`/debug/syncz`), by proxy.
async fn syncz(http: SocketAddr) -> Vec<Value> {
    let Ok(answer) = meshctl::http::get(http, "localhost", "/debug/syncz", Duration::from_secs(5)).await else {
        return vec![];
    };
    serde_json::from_slice::<Vec<Value>>(&answer.body).unwrap_or_default()
}

/// Whether proxy `p` has ACKed everything sent it, each type, with nothing refused.
fn synced(p: &Value) -> bool {
    ["cluster", "listener", "route", "endpoint"].iter().all(|t| {
        let (sent, acked) = (&p[format!("{t}_sent")], &p[format!("{t}_acked")]);
        sent.as_str().is_some_and(|s| !s.is_empty()) && sent == acked
    }) && p["resources"]
        .as_object()
        .is_none_or(|r| r.values().all(|v| v["lastError"].as_str().is_none_or(str::is_empty)))
}

async fn all_synced(http: SocketAddr, proxies: usize, deadline: Duration) -> Vec<Value> {
    let start = Instant::now();
    loop {
        let state = syncz(http).await;
        if state.len() == proxies && state.iter().all(synced) {
            return state;
        }
        assert!(start.elapsed() < deadline, "not every proxy synced within {deadline:?}: {state:#?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// What one control plane's run measured.
struct Measured {
    start: Duration,
    changes: Changes,
    /// How long the changes took, the bench's looking included.
    changing: Duration,
    resident_mb: f64,
    /// Its proxies' resident memory, on average: what its configuration costs the data plane.
    proxy_mb: f64,
    /// The CPU it spent on the changes, and then idle.
    changes_cpu_s: f64,
    idle_cpu_s: f64,
    /// The bytes each proxy received: the first configuration, and per change.
    first_bytes: u64,
    change_bytes: u64,
    /// The requests it made during the changes, and then idle.
    changes_requests: Vec<Value>,
    idle_requests: Vec<Value>,
}

/// What a control plane's run shares, whichever it is: it started at `started`, and its
/// proxies all run the first configuration; `changed` times the changes, and `pid` is the
/// control plane's process.
fn measure(plan: &Plan, started: Instant, pid: u32, envoys: &[Envoy], changed: impl FnOnce() -> Changes) -> Measured {
    let start = started.elapsed();
    let (proxies, server) = (envoys.len() as u64, plan.server);
    let first_bytes = received(plan.runtime, envoys) / proxies;
    let (requests, cpu) = (server.requests().len(), common::memory::cpu_seconds(&pid.to_string()));
    let began = Instant::now();
    let changes = changed();
    let changing = began.elapsed();
    let changes_cpu_s = common::memory::cpu_seconds(&pid.to_string()) - cpu;
    let change_bytes = (received(plan.runtime, envoys) / proxies - first_bytes) / plan.changes as u64;
    let changes_requests = requests_since(server, requests);
    let (requests, cpu) = (server.requests().len(), common::memory::cpu_seconds(&pid.to_string()));
    std::thread::sleep(plan.idle);
    let idle_cpu_s = common::memory::cpu_seconds(&pid.to_string()) - cpu;
    let idle_requests = requests_since(server, requests);
    let resident_mb = common::memory::resident_mb(&pid.to_string());
    let each = envoys.iter().map(|envoy| common::memory::resident_mb(&envoy.process.0.id().to_string()));
    let proxy_mb = each.sum::<f64>() / proxies as f64;
    Measured {
        start,
        changes,
        changing,
        resident_mb,
        proxy_mb,
        changes_cpu_s,
        idle_cpu_s,
        first_bytes,
        change_bytes,
        changes_requests,
        idle_requests,
    }
}

/// The requests made of `server` since it had answered `seen`, but the bench's own: the
/// control plane's, which runs alone.
fn requests_since(server: &KubeApiServer, seen: usize) -> Vec<Value> {
    common::kube::not_the_tests(&server.requests()[seen..]).into_iter().cloned().collect()
}

/// istiod: its start to every proxy ACKing, then `changes` VirtualService writes, each to every
/// proxy ACKing the routes it changed (from `/debug/syncz`).
fn run_istiod(plan: &Plan, debounce: Option<&str>) -> Measured {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let istiod = start_istiod(&plan.tools.join("bin/pilot-discovery"), plan.kubeconfig, dir.path(), debounce);
    let envoys: Vec<Envoy> = (0..plan.proxies).map(|s| start_envoy(s, istiod.grpc, dir.path())).collect();
    let first = plan.runtime.block_on(all_synced(istiod.http, plan.proxies, Duration::from_secs(300)));
    let acked_routes = |state: &[Value]| -> std::collections::BTreeMap<String, String> {
        let acked = |p: &Value| {
            (p["proxy"].as_str().unwrap_or_default().into(), p["route_acked"].as_str().unwrap_or_default().into())
        };
        state.iter().map(acked).collect()
    };
    let mut last = acked_routes(&first);
    measure(plan, started, istiod.process.0.id(), &envoys, || {
        each_change(plan, &envoys, |_, began| {
            let state = plan.runtime.block_on(syncz(istiod.http));
            let now = acked_routes(&state);
            let moved = now.iter().all(|(proxy, acked)| last.get(proxy).is_some_and(|l| l != acked));
            let done = state.len() == plan.proxies && state.iter().all(synced) && moved;
            if done {
                last = now;
            }
            assert!(began.elapsed() < Duration::from_secs(60), "a change was not ACKed: {state:#?}");
            done
        })
    })
}

/// meshctl: the same, from its status port.
fn run_meshctl(plan: &Plan) -> Measured {
    let (runtime, dir) = (plan.runtime, tempfile::tempdir().unwrap());
    let started = Instant::now();
    let log = std::fs::File::create(dir.path().join("controller.log")).unwrap();
    let controller = kube_mesh::start_controller(plan.kubeconfig, Stdio::from(log));
    let envoys: Vec<Envoy> = (0..plan.proxies)
        .map(|s| runtime.block_on(start_meshctl_envoy(plan.client, s, controller.xds, dir.path())))
        .collect();
    let nodes: Vec<String> = (0..plan.proxies).map(|s| format!("svc-{s}-v1.{NAMESPACE}")).collect();
    let synced_since = |written: &Revision| {
        runtime.block_on(report(controller.status)).is_some_and(|r| meshctl_synced(&r, &nodes, written))
    };
    common::poll("every proxy runs meshctl's configuration", Duration::from_secs(300), || {
        synced_since(&Revision::default())
    });
    measure(plan, started, controller.process.0.id(), &envoys, || {
        each_change(plan, &envoys, |written, began| {
            assert!(began.elapsed() < Duration::from_secs(60), "a change was not ACKed");
            synced_since(written)
        })
    })
}

/// What both runs share: the API server with the mesh stored, and what to measure.
struct Plan<'a> {
    runtime: &'a tokio::runtime::Runtime,
    client: &'a kube::Client,
    server: &'a KubeApiServer,
    tools: &'a Path,
    kubeconfig: &'a Path,
    proxies: usize,
    changes: usize,
    idle: Duration,
}

/// How often a change's progress is looked at (MESHCTL_BENCH_POLL_MS, 5 ms by default): each
/// look costs the control plane a report (meshctl's status of every proxy it knows, istiod's
/// syncz of those connected).
fn poll_every() -> Duration {
    Duration::from_millis(std::env::var("MESHCTL_BENCH_POLL_MS").map_or(5, |n| n.parse().expect("a number")))
}

/// What the changes took: from each write to every proxy ACKing it, and to the last proxy
/// reloading its routes (by the proxies' own clocks: the same observation of both control
/// planes, which costs neither a report).
struct Changes {
    acked: Vec<Duration>,
    reloaded: Vec<Duration>,
}

/// Writes the plan's VirtualService changes to svc-0, one at a time, each timed from the write
/// to `done` (given the write's revision and when it began) saying every proxy runs it.
fn each_change(plan: &Plan, envoys: &[Envoy], mut done: impl FnMut(&Revision, Instant) -> bool) -> Changes {
    let routes = api(plan.client, "networking.istio.io", "v1", "VirtualService", true);
    let (mut acked, mut reloaded) = (Vec::new(), Vec::new());
    for change in 0..plan.changes {
        let object = kube_mesh::virtual_service(0, (change % 10 + 1) as u32);
        let patch = Patch::Merge(json!({ "spec": object["spec"] }));
        let (began, wrote_at) = (Instant::now(), std::time::SystemTime::now());
        let written = plan.runtime.block_on(routes.patch("svc-0", &PatchParams::default(), &patch)).unwrap();
        let written = Revision::of_kinds([(Kind::VirtualService, written_at(&written.metadata).unwrap())]);
        while !done(&written, began) {
            std::thread::sleep(poll_every());
        }
        acked.push(began.elapsed());
        let last = envoys.iter().map(|envoy| plan.runtime.block_on(routes_reloaded(envoy.admin))).max().unwrap();
        reloaded.push(last.duration_since(wrote_at).unwrap_or_default());
    }
    acked.sort();
    reloaded.sort();
    Changes { acked, reloaded }
}

/// When an Envoy last reloaded a route configuration, by its clock (`config_reload_time_ms` of
/// each it loads over RDS).
async fn routes_reloaded(admin: SocketAddr) -> std::time::SystemTime {
    let path = "/stats?type=Gauges&filter=config_reload_time_ms";
    let answer = meshctl::http::get(admin, "localhost", path, Duration::from_secs(5)).await.unwrap();
    let stats = String::from_utf8(answer.body.to_vec()).unwrap();
    let reloads = stats.lines().filter(|line| line.contains(".rds.")).filter_map(|line| line.rsplit_once(": "));
    let last = reloads.filter_map(|(_, ms)| ms.parse::<u64>().ok()).max().expect("routes loaded over RDS");
    std::time::UNIX_EPOCH + Duration::from_millis(last)
}

/// The bench, or under `cargo test --all-targets` meshctl's side of it on a small mesh (istiod
/// is built only for the bench), so that the harness keeps working.
fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let number = |name: &str, default: usize, smoke: usize| match bench {
        true => std::env::var(name).map_or(default, |n| n.parse().expect("a number")),
        false => smoke,
    };
    let (services, proxies) = (number("MESHCTL_BENCH_SERVICES", 100, 2), number("MESHCTL_BENCH_PROXIES", 4, 1));
    let changes = number("MESHCTL_BENCH_CHANGES", 100, 2);
    let idle = Duration::from_secs(number("MESHCTL_BENCH_IDLE_S", 30, 1) as u64);
    let tools = if bench { istiod_tools() } else { PathBuf::new() };
    let server = KubeApiServer::start();
    let kubeconfig = server.kubeconfig();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = runtime.block_on(common::kube::client(&kubeconfig));
    runtime.block_on(kube_mesh::install_meshctl(&client, &kubeconfig));
    if bench {
        runtime.block_on(install_crds(&client, &tools.join("crd-all.gen.yaml")));
        runtime.block_on(store_istio_system(&client));
    }
    let stored = Instant::now();
    runtime.block_on(kube_mesh::store_services(&client, services));
    runtime.block_on(kube_mesh::store_policy(&client, services));
    runtime.block_on(kube_mesh::warm(&client));
    println!(
        "stored {services} Services x 3 Pods, slices, rules and routes in {:.1} s",
        stored.elapsed().as_secs_f64()
    );
    let plan = Plan {
        runtime: &runtime,
        client: &client,
        server: &server,
        tools: &tools,
        kubeconfig: &kubeconfig,
        proxies,
        changes,
        idle,
    };
    // MESHCTL_BENCH_PLANES: which to run, of `istiod`, `istiod-1ms` and `meshctl`.
    let chosen = std::env::var("MESHCTL_BENCH_PLANES").unwrap_or("istiod,istiod-1ms,meshctl".into());
    let planes: [(&str, &str, &dyn Fn() -> Measured); 3] = [
        ("istiod", "istiod", &|| run_istiod(&plan, None)),
        ("istiod-1ms", "istiod, PILOT_DEBOUNCE_AFTER=1ms", &|| run_istiod(&plan, Some("1ms"))),
        ("meshctl", "meshctl", &|| run_meshctl(&plan)),
    ];
    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1e3);
    let (median, p99) =
        (|t: &[Duration]| ms(t[t.len() / 2]), |t: &[Duration]| ms(t[((t.len() - 1) as f64 * 0.99).round() as usize]));
    let per_minute = |requests: &[Value], over: Duration| requests.len() as f64 * 60.0 / over.as_secs_f64();
    let requests = |r: &[Value]| common::kube::counted(&r.iter().collect::<Vec<_>>());
    let chosen = |key: &str| if bench { chosen.split(',').any(|c| c == key) } else { key == "meshctl" };
    for (_, name, run) in planes.into_iter().filter(|(key, _, _)| chosen(key)) {
        let m = run();
        let Changes { acked, reloaded } = &m.changes;
        println!("{name}:");
        println!(
            "  start to {proxies} proxies ACKing: {:.2} s, {} kB each",
            m.start.as_secs_f64(),
            m.first_bytes / 1000
        );
        println!(
            "  VirtualService write to every proxy ACKing: median {}, p99 {}; to the last reloading its routes: median {}, p99 {} ({} changes); {} bytes a change to each proxy",
            median(acked),
            p99(acked),
            median(reloaded),
            p99(reloaded),
            acked.len(),
            m.change_bytes
        );
        println!(
            "  {:.0} MB resident (each proxy {:.0} MB); {:.2} CPU-s for the changes, {:.2} idle for {} s",
            m.resident_mb,
            m.proxy_mb,
            m.changes_cpu_s,
            m.idle_cpu_s,
            idle.as_secs()
        );
        println!(
            "  API requests: {:.0}/min during the changes {:?}, {:.0}/min idle {:?}",
            per_minute(&m.changes_requests, m.changing),
            requests(&m.changes_requests),
            per_minute(&m.idle_requests, idle),
            requests(&m.idle_requests)
        );
    }
}
