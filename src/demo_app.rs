//! The demo application (`meshctl demo-app`): an HTTP service that answers with its service
//! name and version, and can be told to be slow, to fail a share of requests, and to call
//! other services through its sidecar. It is what the demo mesh and the tests run as
//! workloads.
//!
//! Its requests go where it is told (a local sidecar's outbound listener, the local mesh's
//! gateway) or, told nothing, to the host it calls, by name and on port 80 unless the name
//! has one: as any app in a Pod, whose connection the captured sidecar takes.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Frame};
use hyper::header::HeaderValue;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use tokio::net::TcpListener;

use crate::{grpc, http};

#[derive(Clone, Debug)]
pub struct DemoApp {
    pub service: String,
    pub version: String,
    /// Added to every answer.
    pub latency: Duration,
    /// Share of requests answered 503, 0.0-1.0, spread evenly (not at random), so a test
    /// knows exactly how many fail.
    pub error_rate: f64,
    /// Services called on every request, as `HOST[:PORT][/PATH]`, through `proxy`.
    pub calls: Vec<String>,
    /// The sidecar's outbound listener (`ADDRESS:PORT`); without it, each call goes to its host.
    pub proxy: Option<String>,
    /// Traffic this app sends by itself, as a load generator.
    pub load: Option<Load>,
    /// Answer with the request's path and headers too.
    pub echo: bool,
}

impl DemoApp {
    /// An app of `service` `version` that answers at once, never fails and calls nothing.
    pub fn new(service: &str, version: &str) -> DemoApp {
        DemoApp {
            service: service.into(),
            version: version.into(),
            latency: Duration::ZERO,
            error_rate: 0.0,
            calls: vec![],
            proxy: None,
            load: None,
            echo: false,
        }
    }
}

/// Requests sent at a steady rate to one service.
#[derive(Clone, Debug)]
pub struct Load {
    /// `HOST[/PATH]`, as for calls.
    pub target: String,
    pub per_second: f64,
    /// Where they go in (`HOST:PORT`): the sidecar's outbound listener, or the mesh's ingress
    /// gateway as for clients outside the mesh; without it, the target's host.
    pub entry: Option<String>,
}

/// The headers that carry a trace (W3C trace context, Zipkin's B3 in both forms, and Envoy's
/// request id), copied from the request an app serves to the calls it makes for it, so that
/// the proxies' spans of both join one trace.
pub const TRACE_HEADERS: [&str; 10] = [
    "traceparent",
    "tracestate",
    "b3",
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-parentspanid",
    "x-b3-sampled",
    "x-b3-flags",
    "x-request-id",
    "x-ot-span-context",
];

#[derive(Serialize)]
struct Answer<'a> {
    service: &'a str,
    version: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    upstream: Vec<Upstream>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request: Option<Echo>,
}

/// The request as it arrived (`--echo`); a header sent several times has its values joined by
/// commas, as HTTP reads them.
#[derive(Serialize)]
struct Echo {
    path: String,
    headers: std::collections::BTreeMap<String, String>,
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
    if let Some(load) = app.load.clone() {
        tokio::spawn(generate(load));
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

/// Serves the demo gRPC method on `listener` over h2c: it answers with the app's service and
/// version after the app's latency, and fails `error_rate` of calls with UNAVAILABLE, as a gRPC
/// server fails one: an HTTP 200 whose `grpc-status` says so.
pub async fn serve_grpc(app: DemoApp, listener: TcpListener) {
    let app = Arc::new(app);
    let counter = Arc::new(AtomicU64::new(0));
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        // An answer's frames go out at once, not held for the next answer's.
        let _ = stream.set_nodelay(true);
        let (app, counter) = (app.clone(), counter.clone());
        tokio::spawn(async move {
            let service = service_fn(move |request| answer_grpc(app.clone(), counter.clone(), request));
            let builder = hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new());
            // A client that goes away mid-call is its own business.
            let _ = builder.serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

type GrpcBody = http_body_util::StreamBody<tokio_stream::Iter<std::vec::IntoIter<Result<Frame<Bytes>, Infallible>>>>;

async fn answer_grpc(
    app: Arc<DemoApp>,
    counter: Arc<AtomicU64>,
    request: Request<hyper::body::Incoming>,
) -> Result<Response<GrpcBody>, Infallible> {
    let unimplemented = request.uri().path() != grpc::DEMO_METHOD;
    // The request message is read whole before the answer, as a server decodes it; a stream
    // answered while its request is still arriving is reset, and a client that keeps its
    // connection would see it closed after enough of those.
    if request.into_body().collect().await.is_err() {
        return Ok(Response::new(GrpcBody::new(tokio_stream::iter(vec![]))));
    }
    let status = if unimplemented {
        grpc::UNIMPLEMENTED
    } else {
        if !app.latency.is_zero() {
            tokio::time::sleep(app.latency).await;
        }
        if fails(counter.fetch_add(1, Ordering::Relaxed), app.error_rate) { grpc::UNAVAILABLE } else { grpc::OK }
    };
    let mut response = Response::new(GrpcBody::new(tokio_stream::iter(vec![])));
    response.headers_mut().insert(hyper::header::CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    if status != grpc::OK {
        // A failure with no message is "trailers-only", as common gRPC servers send it: an HTTP
        // 200 whose headers carry the status, which lets a proxy retry the call.
        response.headers_mut().insert("grpc-status", HeaderValue::from(status));
        return Ok(response);
    }
    let hello = grpc::Hello { service: app.service.clone(), version: app.version.clone() };
    let mut trailers = hyper::HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from(grpc::OK));
    let frames =
        vec![Ok(Frame::data(grpc::frame(&prost::Message::encode_to_vec(&hello)))), Ok(Frame::trailers(trailers))];
    *response.body_mut() = GrpcBody::new(tokio_stream::iter(frames));
    Ok(response)
}

/// Whether request `n` (counting from 0) is one of the `error_rate` that fail: request n
/// fails when the running count of failures owed steps up, so failures are spread evenly.
fn fails(n: u64, error_rate: f64) -> bool {
    (((n + 1) as f64) * error_rate).floor() > ((n as f64) * error_rate).floor()
}

/// Serves `listener` as the app's TCP port: each connection is greeted with a line naming the
/// service and version (`profile v1`), so a client can tell which instance it reached, and
/// everything it sends after that is echoed back.
pub async fn serve_tcp(service: String, version: String, listener: TcpListener) {
    let greeting = Arc::new(format!("{service} {version}\n"));
    loop {
        let Ok((mut stream, _)) = listener.accept().await else { continue };
        let greeting = greeting.clone();
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            let (mut reader, mut writer) = stream.split();
            // A client that goes away is its own business.
            if writer.write_all(greeting.as_bytes()).await.is_ok() {
                let _ = tokio::io::copy(&mut reader, &mut writer).await;
            }
        });
    }
}

/// Sends `load.target` a request every `1 / per_second` seconds, each on its own task so a
/// slow answer does not slow the rate.
async fn generate(load: Load) {
    let mut interval = tokio::time::interval(Duration::from_secs_f64(1.0 / load.per_second.max(0.01)));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let grpc = load.target.strip_prefix(GRPC_SCHEME);
    let (host, path) = split_call(grpc.unwrap_or(&load.target));
    loop {
        interval.tick().await;
        let (entry, host, path) = (load.entry.clone(), host.to_string(), path.clone());
        // The load generator only makes traffic; the mesh's metrics count the outcome.
        match grpc {
            Some(_) => tokio::spawn(async move {
                if let Ok(address) = resolve(entry.as_deref(), &host).await {
                    let _ = grpc::call(address, &host, Duration::from_secs(30)).await;
                }
            }),
            None => tokio::spawn(async move {
                let _ = send(entry.as_deref(), &host, &path, &[]).await;
            }),
        };
    }
}

/// A target of `--generate` with this scheme is called with the demo gRPC method.
pub const GRPC_SCHEME: &str = "grpc://";

/// Where a call to `host` goes: `entry`, or else `host` itself (port 80 unless it names one).
async fn resolve(entry: Option<&str>, host: &str) -> Result<std::net::SocketAddr, String> {
    let entry = match entry {
        Some(entry) => entry.to_string(),
        None if host.contains(':') => host.to_string(),
        None => format!("{host}:80"),
    };
    tokio::net::lookup_host(&entry)
        .await
        .ok()
        .and_then(|mut addresses| addresses.next())
        .ok_or_else(|| format!("cannot resolve {entry}"))
}

/// A GET of `path` on `host`, sent where [`resolve`] says.
async fn send(entry: Option<&str>, host: &str, path: &str, headers: &[(&str, &str)]) -> Result<http::Response, String> {
    let address = resolve(entry, host).await?;
    http::request(address, hyper::Method::GET, host, path, headers, Duration::from_secs(30))
        .await
        .map_err(|e| e.to_string())
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
    let trace: Vec<(&str, &str)> =
        TRACE_HEADERS.iter().filter_map(|name| Some((*name, request.headers().get(*name)?.to_str().ok()?))).collect();
    let mut upstream = Vec::new();
    for call in &app.calls {
        let (host, path) = split_call(call);
        let (status, body) = match send(app.proxy.as_deref(), host, &path, &trace).await {
            Ok(r) => (r.status, String::from_utf8_lossy(&r.body).into_owned()),
            Err(e) => (502, e),
        };
        upstream.push(Upstream { call: call.clone(), status, body });
    }
    let upstream_failed = upstream.iter().any(|u| u.status >= 500);
    let status =
        if fails(n, app.error_rate) || upstream_failed { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK };
    let request = app.echo.then(|| Echo {
        path: request.uri().path_and_query().map_or("/", |p| p.as_str()).to_string(),
        headers: request
            .headers()
            .keys()
            .map(|name| {
                let values: Vec<_> =
                    request.headers().get_all(name).iter().map(|v| String::from_utf8_lossy(v.as_bytes())).collect();
                (name.to_string(), values.join(","))
            })
            .collect(),
    });
    let answer = Answer { service: &app.service, version: &app.version, upstream, request };
    let body = serde_json::to_vec(&answer).unwrap_or_default();
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("application/json"));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[tokio::test]
    async fn a_call_made_for_a_request_carries_its_trace_and_nothing_else() {
        // The "sidecar" the app calls through: it keeps what it was sent.
        let sidecar = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = sidecar.local_addr().unwrap();
        let seen = tokio::spawn(async move {
            let (mut stream, _) = sidecar.accept().await.unwrap();
            let mut head = Vec::new();
            let mut buf = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = stream.read(&mut buf).await.unwrap();
                head.extend_from_slice(&buf[..n]);
            }
            stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}").await.unwrap();
            String::from_utf8(head).unwrap().to_lowercase()
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let app_addr = listener.local_addr().unwrap();
        let app = DemoApp {
            calls: vec!["profile/".into()],
            proxy: Some(proxy.to_string()),
            ..DemoApp::new("frontend", "v1")
        };
        tokio::spawn(serve(app, listener));
        let headers = [
            ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            ("x-b3-traceid", "4bf92f3577b34da6a3ce929d0e0e4736"),
            ("x-request-id", "r-1"),
            ("x-unrelated", "stays"),
        ];
        let answer = http::request(app_addr, hyper::Method::GET, "frontend", "/", &headers, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(answer.status, 200);
        let head = seen.await.unwrap();
        for (name, value) in &headers[..3] {
            assert!(head.contains(&format!("{name}: {value}")), "{name} missing from\n{head}");
        }
        assert!(!head.contains("x-unrelated"), "{head}");
    }
}
