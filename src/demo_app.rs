//! The demo application (`meshctl demo-app`): an HTTP service that answers with its service
//! name and version, and can be told to be slow, to fail a share of requests, and to call
//! other services through its sidecar. It is what the demo mesh and the tests run as
//! workloads.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use tokio::net::TcpListener;

use crate::http;

#[derive(Clone, Debug)]
pub struct DemoApp {
    pub service: String,
    pub version: String,
    /// Added to every answer.
    pub latency: Duration,
    /// Share of requests answered 503, 0.0-1.0, spread evenly (not at random), so a test
    /// knows exactly how many fail.
    pub error_rate: f64,
    /// Services called on every request, as `HOST[/PATH]`, through `proxy`.
    pub calls: Vec<String>,
    /// The sidecar's outbound listener.
    pub proxy: Option<SocketAddr>,
    /// Traffic this app sends by itself, as a load generator inside the mesh.
    pub load: Option<Load>,
}

/// Requests sent at a steady rate to one service, through the sidecar.
#[derive(Clone, Debug)]
pub struct Load {
    /// `HOST[/PATH]`, as for calls.
    pub target: String,
    pub per_second: f64,
}

#[derive(Serialize)]
struct Answer<'a> {
    service: &'a str,
    version: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    upstream: Vec<Upstream>,
}

#[derive(Serialize)]
struct Upstream {
    call: String,
    status: u16,
    body: String,
}

/// Serves `app` on `listener` (and sends its load) until the task is dropped.
pub async fn serve(app: DemoApp, listener: TcpListener) {
    let app = Arc::new(app);
    if let (Some(load), Some(proxy)) = (app.load.clone(), app.proxy) {
        tokio::spawn(generate(load, proxy));
    }
    let counter = Arc::new(AtomicU64::new(0));
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let (app, counter) = (app.clone(), counter.clone());
        tokio::spawn(async move {
            let service = service_fn(move |request| answer(app.clone(), counter.clone(), request));
            // A client that goes away mid-request is its own business.
            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

/// Sends `load.target` a request every `1 / per_second` seconds, each on its own task so a
/// slow answer does not slow the rate.
async fn generate(load: Load, proxy: SocketAddr) {
    let mut interval = tokio::time::interval(Duration::from_secs_f64(1.0 / load.per_second.max(0.01)));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (host, path) = split_call(&load.target);
    loop {
        interval.tick().await;
        let (host, path) = (host.to_string(), path.clone());
        tokio::spawn(async move {
            // The load generator only makes traffic; the mesh's metrics count the outcome.
            let _ = http::get(proxy, &host, &path, Duration::from_secs(30)).await;
        });
    }
}

/// `HOST[/PATH]` as host and path.
fn split_call(call: &str) -> (&str, String) {
    call.split_once('/').map_or((call, "/".to_string()), |(h, p)| (h, format!("/{p}")))
}

async fn answer(
    app: Arc<DemoApp>,
    counter: Arc<AtomicU64>,
    request: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if request.uri().path() == "/healthz" {
        return Ok(Response::new(Full::new(Bytes::from_static(b"ok\n"))));
    }
    let n = counter.fetch_add(1, Ordering::Relaxed);
    if !app.latency.is_zero() {
        tokio::time::sleep(app.latency).await;
    }
    let mut upstream = Vec::new();
    for call in &app.calls {
        let (host, path) = split_call(call);
        let (status, body) = match app.proxy {
            None => (502, "no sidecar to call through: MESH_OUTBOUND is not set".to_string()),
            Some(proxy) => match http::get(proxy, host, &path, Duration::from_secs(30)).await {
                Ok(r) => (r.status, String::from_utf8_lossy(&r.body).into_owned()),
                Err(e) => (502, e.to_string()),
            },
        };
        upstream.push(Upstream { call: call.clone(), status, body });
    }
    // Fails exactly `error_rate` of requests: request n fails when the running count of
    // failures owed steps up.
    let fails = (((n + 1) as f64) * app.error_rate).floor() > ((n as f64) * app.error_rate).floor();
    let upstream_failed = upstream.iter().any(|u| u.status >= 500);
    let status = if fails || upstream_failed { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK };
    let body =
        serde_json::to_vec(&Answer { service: &app.service, version: &app.version, upstream }).unwrap_or_default();
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("application/json"));
    Ok(response)
}
