//! A minimal HTTP/1.1 client for the mesh's own traffic: the demo app's upstream calls through
//! its sidecar, scraping proxies' admin endpoints, and tests; and the server loop of meshctl's
//! own small HTTP endpoints (the span collector, the status port, the dashboard).

use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("cannot connect to {addr}: {source}")]
    Connect { addr: SocketAddr, source: std::io::Error },
    #[error("request to {addr} failed: {source}")]
    Request { addr: SocketAddr, source: hyper::Error },
    #[error("no answer from {addr} within {timeout:?}")]
    Timeout { addr: SocketAddr, timeout: Duration },
    #[error("invalid request: {0}")]
    Invalid(#[from] hyper::http::Error),
}

/// A response: status, headers and body.
#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
}

/// `GET path` with `Host: host` from the server at `addr`, on a fresh connection.
pub async fn get(addr: SocketAddr, host: &str, path: &str, timeout: Duration) -> Result<Response, HttpError> {
    request(addr, hyper::Method::GET, host, path, &[], timeout).await
}

/// A request with extra headers, on a fresh connection.
pub async fn request(
    addr: SocketAddr,
    method: hyper::Method,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
    timeout: Duration,
) -> Result<Response, HttpError> {
    let request = build(method, host, path, headers)?;
    let exchange = async {
        let stream =
            tokio::net::TcpStream::connect(addr).await.map_err(|source| HttpError::Connect { addr, source })?;
        send(addr, stream, request).await
    };
    tokio::time::timeout(timeout, exchange).await.map_err(|_| HttpError::Timeout { addr, timeout })?
}

/// A request with no body.
pub fn build(
    method: hyper::Method,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<hyper::Request<Empty<Bytes>>, HttpError> {
    let mut builder = hyper::Request::builder().method(method).uri(path).header(hyper::header::HOST, host);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    Ok(builder.body(Empty::<Bytes>::new())?)
}

/// Sends `request` over `connection`, an open connection (plain or TLS) to `addr`, and reads
/// the whole response.
pub async fn send<C>(
    addr: SocketAddr,
    connection: C,
    request: hyper::Request<Empty<Bytes>>,
) -> Result<Response, HttpError>
where
    C: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(connection))
        .await
        .map_err(|source| HttpError::Request { addr, source })?;
    tokio::spawn(connection);
    let response = sender.send_request(request).await.map_err(|source| HttpError::Request { addr, source })?;
    let (head, body) = response.into_parts();
    let body = body.collect().await.map_err(|source| HttpError::Request { addr, source })?.to_bytes();
    Ok(Response { status: head.status.as_u16(), headers: head.headers, body })
}

/// Serves `answer` on every connection `listener` accepts, until the task is dropped.
pub async fn serve<F, A>(listener: tokio::net::TcpListener, answer: F)
where
    F: Fn(hyper::Request<hyper::body::Incoming>) -> A + Clone + Send + Sync + 'static,
    A: std::future::Future<Output = hyper::Response<http_body_util::Full<Bytes>>> + Send + 'static,
{
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let answer = answer.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let answer = answer(request);
                async move { Ok::<_, std::convert::Infallible>(answer.await) }
            });
            // A client that goes away mid-request is its own business.
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

/// An answer of one of meshctl's endpoints, never kept by a cache: what they serve is the
/// mesh's state now.
pub fn reply(
    status: hyper::StatusCode,
    content_type: &str,
    body: impl Into<Bytes>,
) -> hyper::Response<http_body_util::Full<Bytes>> {
    hyper::Response::builder()
        .status(status)
        .header(hyper::header::CONTENT_TYPE, content_type)
        .header(hyper::header::CACHE_CONTROL, "no-store")
        .body(http_body_util::Full::new(body.into()))
        .expect("a response with a status, headers and a body")
}

/// `value` as a JSON answer.
pub fn json<T: serde::Serialize>(value: &T) -> hyper::Response<http_body_util::Full<Bytes>> {
    reply(hyper::StatusCode::OK, "application/json", serde_json::to_vec(value).expect("meshctl's answers serialize"))
}
