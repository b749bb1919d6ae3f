//! The controller's backend on a cluster (`meshctl controller --kubernetes`): the registry is
//! the cluster's Services, EndpointSlices and Pods, seen through reflectors; the store is the
//! API (`kube::store`); the CA is the one `meshctl install` keeps in its Secret; the status
//! sink serves each pass's [`Report`] as JSON on the status port (Istio's 15014), where the
//! CLI reads it through the API server's `pods/proxy`.
//!
//! Every replica serves xDS to the proxies that connect to it and reports on those.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use base64::Engine;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::sync::watch;

use super::{Pacing, Registry as _, Report, StatusSink};
use crate::kube::client::{Cluster, Target};
use crate::kube::install::{CA_SECRET, ObjectKind};
use crate::kube::registry::KubeRegistry;
use crate::kube::store::KubeStore;
use crate::pki;
use crate::xds::{self, Desired};

/// How long the controller waits for the cluster's first listing before it serves.
const FIRST_LIST: std::time::Duration = std::time::Duration::from_secs(30);

/// The path the status sink serves the last report on.
pub const STATUS_PATH: &str = "/debug/status";

#[derive(Clone, Debug)]
pub struct Settings {
    pub target: Target,
    /// The namespace meshctl was installed in: where its CA Secret is.
    pub namespace: String,
    pub xds: SocketAddr,
    pub status: SocketAddr,
    pub pacing: Pacing,
    /// This replica's name, for the Lease, and how long the Lease lasts unrenewed.
    pub identity: String,
    pub lease_duration: std::time::Duration,
}

pub async fn run(settings: Settings) -> anyhow::Result<()> {
    let cluster = Cluster::connect(&settings.target).await?;
    let ca = read_ca(&cluster, &settings.namespace).await?;
    let (desired_tx, desired_rx) = watch::channel::<Desired>(Arc::default());
    let server = xds::Server::new(desired_rx);
    server.clone().spawn(settings.xds).await.with_context(|| format!("cannot serve xDS on {}", settings.xds))?;
    let (report_tx, report) = watch::channel(Report::default());
    let status = tokio::net::TcpListener::bind(settings.status)
        .await
        .with_context(|| format!("cannot serve the status on {}", settings.status))?;
    tokio::spawn(serve_status(status, report));
    let mut registry = KubeRegistry::start(
        cluster.client().clone(),
        crate::kube::registry::Settings { namespace: settings.namespace.clone(), ..Default::default() },
    );
    // The first configuration is of the whole mesh, not of what happened to arrive first; a
    // watch that cannot list says why in the status.
    if tokio::time::timeout(FIRST_LIST, registry.listed()).await.is_err() {
        tracing::warn!(problems = ?registry.problems(), "not every kind is listed yet; serving what is");
    }
    tracing::info!(xds = %settings.xds, status = %settings.status, server = cluster.server(), "controller on the cluster");
    let lease = crate::kube::lease::Settings {
        namespace: settings.namespace.clone(),
        identity: settings.identity.clone(),
        duration: settings.lease_duration,
    };
    let leading = crate::kube::lease::elect(cluster.client().clone(), lease);
    let plane = super::Plane {
        store: Arc::new(KubeStore::new(cluster)),
        ca,
        server,
        desired: desired_tx,
        pacing: settings.pacing,
        leading,
    };
    super::reconcile_until_stopped(plane, &mut registry, &mut StatusPort(report_tx)).await
}

/// The mesh CA from the Secret `meshctl install` made.
async fn read_ca(cluster: &Cluster, namespace: &str) -> anyhow::Result<pki::Authority> {
    let secret = cluster.get(ObjectKind::Secret, Some(namespace), CA_SECRET).await?.with_context(|| {
        format!("no mesh CA: Secret {namespace}/{CA_SECRET} is missing; run `meshctl install` on this cluster first")
    })?;
    let field = |key: &str| -> anyhow::Result<String> {
        let encoded = secret.data["data"][key]
            .as_str()
            .with_context(|| format!("Secret {namespace}/{CA_SECRET} has no {key}; run `meshctl install` again"))?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .with_context(|| format!("Secret {namespace}/{CA_SECRET}: {key} is not base64"))?;
        String::from_utf8(bytes).with_context(|| format!("Secret {namespace}/{CA_SECRET}: {key} is not PEM"))
    };
    Ok(pki::Authority::from_root(&field("ca-cert.pem")?, &field("ca-key.pem")?)?)
}

/// Serves the last report as JSON until the process ends.
async fn serve_status(listener: tokio::net::TcpListener, report: watch::Receiver<Report>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let report = report.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                let body = (request.uri().path() == STATUS_PATH)
                    .then(|| serde_json::to_vec(&*report.borrow()).expect("reports serialize"));
                async move {
                    match body {
                        Some(body) => Response::builder()
                            .header(hyper::header::CONTENT_TYPE, "application/json")
                            .body(Full::new(Bytes::from(body))),
                        None => Response::builder().status(StatusCode::NOT_FOUND).body(Full::new(Bytes::new())),
                    }
                }
            });
            // A reader that goes away mid-request is its own business.
            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

/// The cluster's status sink: the last report, for the status port to serve.
struct StatusPort(watch::Sender<Report>);

impl StatusSink<KubeRegistry> for StatusPort {
    fn record(&mut self, report: &Report, _: &KubeRegistry) {
        self.0.send_if_modified(|last| {
            let changed = last != report;
            *last = report.clone();
            changed
        });
    }
}
