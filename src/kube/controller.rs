//! The controller's backend on a cluster (`meshctl controller --kubernetes`): the registry is
//! the cluster's Services, EndpointSlices and Pods, seen through reflectors; the store is the
//! API (`kube::store`); the CA is the one `meshctl install` keeps in its Secret; the status
//! sink serves each pass's [`Report`] as JSON on the status port (Istio's 15014), where the
//! CLI reads it through the API server's `pods/proxy`. A CLI outside the cluster cannot reach
//! Pods, so the status port also makes `mtls status`'s handshake probes of every instance, from
//! where the mesh's traffic runs.
//!
//! Every replica serves xDS to the proxies that connect to it and reports on those.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use hyper::body::Bytes;
use hyper::{Request, StatusCode};
use tokio::sync::watch;

use super::client::{Cluster, Target};
use super::identity::TokenReviewer;
use super::registry::KubeRegistry;
use super::store::KubeStore;
use super::webhook;
use crate::controller::rotation::Observer;
use crate::controller::{Pacing, Plane, Registry as _, Report, Rotations, StatusSink};
use crate::http::{json, reply};
use crate::observe::collector::Collector;
use crate::pki;
use crate::pki::probe::{ProbeTarget, TlsProbe};
use crate::pki::serving::ServingCert;
use crate::translate::{OutboundPolicy, Tracing};
use crate::xds::{self, Desired};

/// How long the controller waits for the cluster's first listing before it serves.
/// How long a replica goes on serving once its Pod is told to stop (see
/// `Pacing::termination_drain`): long enough for kube-proxy to act on the endpoint change, well
/// inside the Pod's 30 s grace period.
pub const TERMINATION_DRAIN: std::time::Duration = std::time::Duration::from_secs(5);

const FIRST_LIST: std::time::Duration = std::time::Duration::from_secs(30);

/// The path the status sink serves the last report on.
pub const STATUS_PATH: &str = "/debug/status";

/// The path that probes every instance's mTLS (`?timeout_ms=N`), answering a JSON object of
/// [`TlsProbe`]s by mesh address.
pub const TLS_PROBE_PATH: &str = "/debug/tls";

/// The longest a probe may be asked to wait.
const PROBE_TIMEOUT_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);

#[derive(Clone, Debug)]
pub struct Settings {
    pub target: Target,
    /// The namespace meshctl was installed in: where its CA Secret is.
    pub namespace: String,
    pub xds: SocketAddr,
    pub status: SocketAddr,
    pub webhook: SocketAddr,
    /// How long the certificate the controller serves xDS with lives (renewed at half).
    pub serving_cert_lifetime: std::time::Duration,
    /// How long a proxy's xDS stream lives before the proxy must prove itself again.
    pub max_stream_age: std::time::Duration,
    /// What the sidecar injector adds to a Pod (images, the control plane's namespace).
    pub injection: super::install::Settings,
    pub pacing: Pacing,
    pub tracing: Tracing,
    pub outbound_policy: OutboundPolicy,
    /// This replica's name, for the Lease, and how long the Lease lasts unrenewed.
    pub identity: String,
    pub lease_duration: std::time::Duration,
}

/// Runs a replica until it is told to stop. `replicas` makes, from the cluster and the
/// namespace, what sees every replica's reports for the leader's rotations: the mesh handle's
/// view of the cluster, which sits above this backend and so is passed in.
pub async fn run(settings: Settings, replicas: impl FnOnce(&Cluster, &str) -> Arc<dyn Observer>) -> anyhow::Result<()> {
    let cluster = Cluster::connect(&settings.target).await?;
    // Every replica follows the CA in its Secret, where the leader's rotations write.
    let kept = super::ca::follow(cluster.client().clone(), &settings.namespace).await?;
    let ca = pki::Authority::following(kept.clone())?;
    let ca_changed = Arc::new(tokio::sync::Notify::new());
    tokio::spawn({
        let (mut kept, ca_changed) = (kept.clone(), ca_changed.clone());
        async move {
            while kept.changed().await.is_ok() {
                ca_changed.notify_one();
            }
        }
    });
    let (desired_tx, desired_rx) = watch::channel::<Desired>(Arc::default());
    let reviewer = TokenReviewer::new(cluster.client().clone());
    let server = xds::Server::new(desired_rx).with_authenticator(Arc::new(reviewer), settings.max_stream_age);
    let (report_tx, report) = watch::channel(Arc::new(Report::default()));
    let (targets_tx, targets) = watch::channel(Vec::new());
    let collector = Collector::default();
    let gate = SpanGate { reviewer: TokenReviewer::new(cluster.client().clone()), proven: Default::default() };
    // The proxies' one port: xDS and their spans, over TLS, each stream and post proven by the
    // Pod's token, which so never crosses the network in clear.
    let xds_listener = tokio::net::TcpListener::bind(settings.xds)
        .await
        .with_context(|| format!("cannot serve xDS on {}", settings.xds))?;
    let names = webhook::service_names(&settings.namespace);
    let xds_tls = ServingCert::new(kept.clone(), names, settings.serving_cert_lifetime).server_config(&[b"h2"]);
    let intake = span_intake(collector.clone(), Arc::new(gate));
    let serving = server.clone();
    tokio::spawn(async move {
        if let Err(e) = serving.serve_tls(xds_listener, xds_tls, intake).await {
            tracing::error!("xDS server stopped: {e}");
        }
    });
    let status = tokio::net::TcpListener::bind(settings.status)
        .await
        .with_context(|| format!("cannot serve the status on {}", settings.status))?;
    let prober = Prober { ca: kept.clone(), namespace: settings.namespace.clone(), targets };
    tokio::spawn(serve_status(status, report, Arc::new(prober), collector.clone()));
    let injector = tokio::net::TcpListener::bind(settings.webhook)
        .await
        .with_context(|| format!("cannot serve the sidecar injector on {}", settings.webhook))?;
    // The validator judges with what the loop reads: the store's watches.
    let store = Arc::new(KubeStore::new(cluster.clone()));
    tokio::spawn(webhook::keep_trusted(cluster.clone(), kept.clone()));
    tokio::spawn(super::roots::publish(cluster.clone(), kept.clone()));
    tokio::spawn(webhook::serve(injector, kept, settings.injection.clone(), store.clone()));
    let mut registry = KubeRegistry::start(
        cluster.client().clone(),
        super::registry::Settings { namespace: settings.namespace.clone(), ..Default::default() },
    );
    // The first configuration is of the whole mesh, not of what happened to arrive first; a
    // watch that cannot list says why in the status.
    if tokio::time::timeout(FIRST_LIST, registry.listed()).await.is_err() {
        tracing::warn!(problems = ?registry.problems(), "not every kind is listed yet; serving what is");
    }
    tracing::info!(xds = %settings.xds, status = %settings.status, server = cluster.server(), "controller on the cluster");
    let lease = super::lease::Settings {
        namespace: settings.namespace.clone(),
        identity: settings.identity.clone(),
        duration: settings.lease_duration,
    };
    let (leading, resign) = super::lease::elect(cluster.client().clone(), lease);
    let gateway_service = settings.injection.gateway_service;
    registry.provision_gateways(cluster.clone(), settings.injection.clone(), gateway_service, leading.clone());
    let plane = Plane {
        store,
        ca,
        server,
        desired: desired_tx,
        pacing: settings.pacing,
        leading,
        resign: Some(Box::new(move || _ = resign.send(()))),
        tracing: settings.tracing,
        outbound_policy: settings.outbound_policy,
        collector,
        rotations: Rotations {
            keeper: Arc::new(super::ca::SecretKeeper::new(cluster.client().clone(), &settings.namespace)),
            replicas: Some(replicas(&cluster, &settings.namespace)),
        },
        ca_changed,
    };
    crate::controller::reconcile_until_stopped(
        plane,
        &mut registry,
        &mut StatusPort { report: report_tx, targets: targets_tx },
    )
    .await
}

/// Probes the instances the registry knows, as a mesh client with a certificate of its own.
struct Prober {
    ca: watch::Receiver<pki::Kept>,
    namespace: String,
    targets: watch::Receiver<Vec<ProbeTarget>>,
}

impl Prober {
    async fn probe(&self, timeout: std::time::Duration) -> anyhow::Result<BTreeMap<String, TlsProbe>> {
        let prober = crate::api::Identity::new(&self.namespace, "meshctl-probe");
        let targets = self.targets.borrow().clone();
        let ca = pki::Authority::from_kept(&self.ca.borrow().clone())?;
        let probes = pki::probe::probe_all(&ca, &prober, &targets, timeout).await?;
        Ok(targets.iter().map(|t| t.address.to_string()).zip(probes).collect())
    }
}

/// The probe timeout a request asks for (`timeout_ms`), within bounds.
fn probe_timeout(query: Option<&str>) -> std::time::Duration {
    let millis = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|pair| pair.strip_prefix("timeout_ms="))
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    std::time::Duration::from_millis(millis).min(PROBE_TIMEOUT_LIMIT)
}

/// How long a proven token is taken for its Pod's proxy without asking the API server again:
/// the proxies flush spans every second.
const PROVEN_FOR: std::time::Duration = std::time::Duration::from_secs(60);

/// The span collector's door on a cluster: spans are taken only from the mesh's proxies, which
/// prove their Pod with its token as they do on xDS, so no one else can post spans into the
/// mesh's traces.
struct SpanGate {
    reviewer: TokenReviewer,
    /// Tokens proven lately, and when.
    proven: std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>,
}

impl SpanGate {
    async fn admits(&self, headers: &hyper::HeaderMap) -> Result<(), String> {
        let token = headers
            .get(hyper::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let recent = |proven: &std::collections::HashMap<String, std::time::Instant>, token: &str| {
            proven.get(token).is_some_and(|at| at.elapsed() < PROVEN_FOR)
        };
        if let Some(token) = token
            && recent(&self.proven.lock().expect("the proven tokens' lock is never poisoned"), token)
        {
            return Ok(());
        }
        self.reviewer.pod_of(token).await?;
        let mut proven = self.proven.lock().expect("the proven tokens' lock is never poisoned");
        proven.retain(|_, at| at.elapsed() < PROVEN_FOR);
        proven.extend(token.map(|t| (t.to_string(), std::time::Instant::now())));
        Ok(())
    }
}

/// A report and its JSON.
type Serialized = Option<(Arc<Report>, Bytes)>;

/// Serves the last report, probes on request, and the collected traces, until the process
/// ends. It listens on the Pod's loopback: only a caller the API server lets port-forward to the
/// controller's Pods reaches it (docs/security.md).
async fn serve_status(
    listener: tokio::net::TcpListener,
    report: watch::Receiver<Arc<Report>>,
    prober: Arc<Prober>,
    collector: Collector,
) {
    // The last report asked for, serialized: at thousands of proxies a report is megabytes of
    // JSON, and a watcher (`meshctl status --watch`, `--wait`) asks for it more often than it
    // changes.
    let serialized: Arc<Mutex<Serialized>> = Arc::default();
    crate::http::serve(listener, move |request: Request<hyper::body::Incoming>| {
        let (report, prober, collector) = (report.clone(), prober.clone(), collector.clone());
        let serialized = serialized.clone();
        async move {
            let path = request.uri().path().to_string();
            let query = request.uri().query().map(str::to_string);
            // Spans come in on the proxies' TLS port, each batch proven.
            if request.method() == hyper::Method::GET
                && let Some(answer) = collector.answer(request).await
            {
                return answer;
            }
            match path.as_str() {
                STATUS_PATH => {
                    let report = report.borrow().clone();
                    let mut last = serialized.lock().expect("the serialized report's lock is never poisoned");
                    let bytes = match &*last {
                        Some((of, bytes)) if Arc::ptr_eq(of, &report) => bytes.clone(),
                        _ => {
                            let bytes = Bytes::from(serde_json::to_vec(&*report).expect("reports serialize"));
                            *last = Some((report, bytes.clone()));
                            bytes
                        }
                    };
                    reply(StatusCode::OK, "application/json", bytes)
                }
                TLS_PROBE_PATH => match prober.probe(probe_timeout(query.as_deref())).await {
                    Ok(probes) => json(&probes),
                    Err(e) => reply(StatusCode::INTERNAL_SERVER_ERROR, "text/plain", format!("cannot probe: {e:#}")),
                },
                _ => reply(StatusCode::NOT_FOUND, "text/plain", Vec::new()),
            }
        }
    })
    .await
}

/// The span collector's intake on the proxies' port, behind `gate`.
fn span_intake(collector: Collector, gate: Arc<SpanGate>) -> axum::Router {
    let take = move |headers: hyper::HeaderMap, batch: Bytes| {
        let (collector, gate) = (collector.clone(), gate.clone());
        async move {
            match gate.admits(&headers).await {
                Ok(()) => collector.receive(&batch),
                Err(why) => reply(
                    StatusCode::UNAUTHORIZED,
                    "text/plain",
                    format!("spans are taken only from the mesh's proxies: {why}\n"),
                ),
            }
        }
    };
    axum::Router::new().route(crate::translate::SPANS_PATH, axum::routing::post(take))
}

/// The cluster's status sink: the last report for the status port to serve, and the instances
/// it probes.
struct StatusPort {
    report: watch::Sender<Arc<Report>>,
    targets: watch::Sender<Vec<ProbeTarget>>,
}

impl StatusSink<KubeRegistry> for StatusPort {
    fn record(&mut self, report: &Arc<Report>, registry: &KubeRegistry) {
        self.report.send_if_modified(|held| {
            let changed = **held != **report;
            if changed {
                *held = report.clone();
            }
            changed
        });
        self.targets.send_if_modified(|held| {
            let changed = held.as_slice() != registry.probe_targets();
            if changed {
                *held = registry.probe_targets().to_vec();
            }
            changed
        });
    }
}
