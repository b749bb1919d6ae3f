#![allow(dead_code)] // each bench uses a different part of this module

//! The mesh the cluster benches store on a test kube-apiserver, and the meshctl controller they
//! run beside it: N Services in namespace `bench`, each with three Pods (v1, v2, v3) injected as
//! meshctl injects them and running, an EndpointSlice listing them, a DestinationRule (a subset
//! per version) and a VirtualService (80/15/5).

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use meshctl::controller::Report;
use serde_json::{Value, json};

pub const VERSIONS: [&str; 3] = ["v1", "v2", "v3"];
pub const NAMESPACE: &str = "bench";

pub fn localhost(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// The address of version `v` of service `s`.
pub fn ip(s: usize, v: usize) -> String {
    let n = s * VERSIONS.len() + v + 1;
    format!("10.{}.{}.{}", (n >> 16) as u8, (n >> 8) as u8, n as u8)
}

/// The objects of a kind, in `bench` when `namespaced`.
pub fn api(client: &kube::Client, group: &str, version: &str, kind: &str, namespaced: bool) -> Api<DynamicObject> {
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
    match namespaced {
        true => Api::namespaced_with(client.clone(), NAMESPACE, &resource),
        false => Api::all_with(client.clone(), &resource),
    }
}

pub async fn create(api: &Api<DynamicObject>, object: Value) {
    api.create(&PostParams::default(), &serde_json::from_value(object).unwrap()).await.unwrap();
}

/// `meshctl install` on the API server at `kubeconfig`, with its webhooks narrowed to no
/// namespace: the API server cannot reach them without a cluster network, and calling them
/// would slow every write. (What they judge is tested on the real node.)
pub async fn install_meshctl(client: &kube::Client, kubeconfig: &Path) {
    let install = super::common::meshctl_in(&["install", "--kubeconfig", kubeconfig.to_str().unwrap()], "", &[]);
    assert_eq!(install.code, 0, "{}", install.stderr);
    let nowhere = json!({ "matchLabels": { "meshctl.io/bench": "no-namespace-has-this" } });
    for kind in ["ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"] {
        let configurations = api(client, "admissionregistration.k8s.io", "v1", kind, false);
        for mut configuration in configurations.list(&Default::default()).await.unwrap() {
            for webhook in configuration.data["webhooks"].as_array_mut().into_iter().flatten() {
                webhook["namespaceSelector"] = nowhere.clone();
            }
            let name = configuration.metadata.name.clone().unwrap();
            configurations.replace(&name, &PostParams::default(), &configuration).await.unwrap();
        }
    }
}

/// Lists every custom kind once, when it can be. An API server builds a kind's watch cache at
/// its first request and answers 429 until it is ready: the first controller ever to start on
/// a fresh API server would wait for that, which one on a cluster that has been up does not.
pub async fn warm(client: &kube::Client) {
    let crds = api(client, "apiextensions.k8s.io", "v1", "CustomResourceDefinition", false);
    for crd in crds.list(&Default::default()).await.unwrap() {
        let spec = &crd.data["spec"];
        let group = spec["group"].as_str().unwrap();
        let version = spec["versions"].as_array().unwrap().iter().find(|v| v["storage"] == true).unwrap();
        let version = version["name"].as_str().unwrap();
        let resource = ApiResource {
            group: group.into(),
            version: version.into(),
            api_version: format!("{group}/{version}"),
            kind: spec["names"]["kind"].as_str().unwrap().into(),
            plural: spec["names"]["plural"].as_str().unwrap().into(),
        };
        let all: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
        let deadline = Instant::now() + Duration::from_secs(30);
        while all.list(&kube::api::ListParams::default().limit(1)).await.is_err() {
            assert!(Instant::now() < deadline, "{} cannot be listed", resource.plural);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The namespace and `services` Services, each with its three running Pods and its
/// EndpointSlice, many requests at a time.
pub async fn store_services(client: &kube::Client, services: usize) {
    let namespace = json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": NAMESPACE } });
    create(&api(client, "", "v1", "Namespace", false), namespace).await;
    // No controller-manager makes the namespace's default ServiceAccount, which Pods run as.
    let account = json!({ "apiVersion": "v1", "kind": "ServiceAccount", "metadata": { "name": "default" } });
    create(&api(client, "", "v1", "ServiceAccount", true), account).await;
    each_service(client, services, |client, s| async move {
        create(&api(&client, "", "v1", "Service", true), service(s)).await;
        let pods = api(&client, "", "v1", "Pod", true);
        for (v, version) in VERSIONS.iter().enumerate() {
            create(&pods, pod(s, v)).await;
            let status = json!({ "status": {
                "phase": "Running", "podIP": ip(s, v), "podIPs": [{ "ip": ip(s, v) }],
                "conditions": [{ "type": "Ready", "status": "True" }],
            } });
            pods.patch_status(&format!("svc-{s}-{version}"), &PatchParams::default(), &Patch::Merge(status))
                .await
                .unwrap();
        }
        create(&api(&client, "discovery.k8s.io", "v1", "EndpointSlice", true), slice(s)).await;
    })
    .await;
}

/// Every Service's DestinationRule and VirtualService, many requests at a time.
pub async fn store_policy(client: &kube::Client, services: usize) {
    // The API server takes up the narrowed webhooks a moment after `install_meshctl`: a dry run
    // tells when it no longer calls meshctl's validator.
    let rules = api(client, "networking.istio.io", "v1", "DestinationRule", true);
    let dry_run = PostParams { dry_run: true, ..PostParams::default() };
    let deadline = Instant::now() + Duration::from_secs(30);
    while let Err(e) = rules.create(&dry_run, &serde_json::from_value(destination_rule(0)).unwrap()).await {
        assert!(Instant::now() < deadline, "the validator is still called: {e}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    each_service(client, services, |client, s| async move {
        create(&api(&client, "networking.istio.io", "v1", "DestinationRule", true), destination_rule(s)).await;
        create(&api(&client, "networking.istio.io", "v1", "VirtualService", true), virtual_service(s, 0)).await;
    })
    .await;
}

/// Runs `write` for every service, 32 at a time.
async fn each_service<F>(client: &kube::Client, services: usize, write: impl Fn(kube::Client, usize) -> F)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let semaphore = Arc::new(tokio::sync::Semaphore::new(32));
    let mut writes = tokio::task::JoinSet::new();
    for s in 0..services {
        let (semaphore, written) = (semaphore.clone(), write(client.clone(), s));
        writes.spawn(async move {
            let _permit = semaphore.acquire().await.unwrap();
            written.await
        });
    }
    writes.join_all().await;
}

fn service(s: usize) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": { "name": format!("svc-{s}"), "namespace": NAMESPACE },
        "spec": { "selector": { "app": format!("svc-{s}") }, "ports": [{ "name": "http", "port": 80, "targetPort": 8080 }] },
    })
}

/// Version `v` of service `s`'s Pods, as meshctl injects one: its traffic captured, its proxy
/// beside the app.
fn pod(s: usize, v: usize) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": format!("svc-{s}-{}", VERSIONS[v]), "namespace": NAMESPACE,
            "labels": { "app": format!("svc-{s}"), "version": VERSIONS[v] },
        },
        "spec": {
            "initContainers": [{ "name": "meshctl-init", "image": "meshctl" }],
            "containers": [
                { "name": "app", "image": "app", "ports": [{ "containerPort": 8080 }] },
                { "name": "meshctl-proxy", "image": "envoy" },
            ],
        },
    })
}

fn slice(s: usize) -> Value {
    let endpoints: Vec<Value> = (0..VERSIONS.len())
        .map(|v| {
            json!({
                "addresses": [ip(s, v)], "conditions": { "ready": true },
                "targetRef": { "kind": "Pod", "namespace": NAMESPACE, "name": format!("svc-{s}-{}", VERSIONS[v]) },
            })
        })
        .collect();
    json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": { "name": format!("svc-{s}"), "namespace": NAMESPACE, "labels": { "kubernetes.io/service-name": format!("svc-{s}") } },
        "addressType": "IPv4", "ports": [{ "name": "http", "port": 8080 }], "endpoints": endpoints,
    })
}

fn destination_rule(s: usize) -> Value {
    let subsets: Vec<Value> = VERSIONS.iter().map(|v| json!({ "name": v, "labels": { "version": v } })).collect();
    json!({
        "apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
        "metadata": { "name": format!("svc-{s}"), "namespace": NAMESPACE },
        "spec": { "host": format!("svc-{s}"), "subsets": subsets },
    })
}

/// Service `s`'s VirtualService, 80/15/5 shifted by `shift` points from v1 to v2.
pub fn virtual_service(s: usize, shift: u32) -> Value {
    let host = format!("svc-{s}");
    let weights = [80 - shift, 15 + shift, 5];
    let routes: Vec<Value> = VERSIONS
        .iter()
        .zip(weights)
        .map(|(v, weight)| json!({ "destination": { "host": host, "subset": v }, "weight": weight }))
        .collect();
    json!({
        "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
        "metadata": { "name": host, "namespace": NAMESPACE },
        "spec": { "hosts": [host], "http": [{ "route": routes }] },
    })
}

/// A process killed when dropped.
pub struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `meshctl controller --kubernetes` as a process beside the API server, its output to `log`.
pub struct Controller {
    pub process: Process,
    pub xds: SocketAddr,
    pub status: SocketAddr,
}

pub fn start_controller(kubeconfig: &Path, log: Stdio) -> Controller {
    let (xds, status) = (localhost(super::common::free_port()), localhost(super::common::free_port()));
    // The API server calls no webhook here (`install_meshctl`), but the controller serves them.
    let webhook = localhost(super::common::free_port());
    let child = Command::new(env!("CARGO_BIN_EXE_meshctl"))
        .args(["controller", "--kubernetes", "--kubeconfig", kubeconfig.to_str().unwrap()])
        .args(["--xds-address", &xds.to_string(), "--status-address", &status.to_string()])
        .args(["--webhook-address", &webhook.to_string()])
        .args(["--system-namespace", meshctl::kube::install::NAMESPACE])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("meshctl runs");
    Controller { process: Process(child), xds, status }
}

/// The controller's report, if its status port answers: read as meshctl's own type, which at
/// thousands of proxies costs the bench a fraction of what a JSON tree would (a bench that
/// looks every few milliseconds takes CPU from what it measures).
pub async fn report(status: SocketAddr) -> Option<Report> {
    let answer = meshctl::http::get(status, "localhost", "/debug/status", Duration::from_secs(5)).await.ok()?;
    serde_json::from_slice(&answer.body).ok()
}
