//! Just enough gRPC for traffic through the mesh: the demo app's unary method, served and
//! called over HTTP/2 without TLS (h2c), with gRPC's length-prefixed messages and the outcome
//! in `grpc-status`. meshctl's control plane speaks gRPC through tonic; this is the other side,
//! where the demo app, the tests and the benchmarks must see exactly what went over the wire.

use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo};
use prost::Message;

use crate::http::HttpError;

/// The demo app's one method.
pub const DEMO_METHOD: &str = "/meshctl.demo.Demo/Hello";

/// The status of a call that succeeded.
pub const OK: u32 = 0;
/// The status the demo app fails calls with, and what a client sees when no instance answers.
pub const UNAVAILABLE: u32 = 14;
/// The status of a call to a method the server does not have.
pub const UNIMPLEMENTED: u32 = 12;

/// The demo method's answer: who served the call.
#[derive(Clone, PartialEq, Message)]
pub struct Hello {
    #[prost(string, tag = "1")]
    pub service: String,
    #[prost(string, tag = "2")]
    pub version: String,
}

/// `message` as gRPC frames it: not compressed, then its length, then its bytes.
pub fn frame(message: &[u8]) -> Bytes {
    let mut framed = Vec::with_capacity(5 + message.len());
    framed.push(0);
    framed.extend_from_slice(&(message.len() as u32).to_be_bytes());
    framed.extend_from_slice(message);
    framed.into()
}

/// The first message of a framed body, if the body holds a whole uncompressed one.
pub fn unframe(body: &[u8]) -> Option<&[u8]> {
    let (&[0, a, b, c, d], rest) = body.split_first_chunk::<5>()? else { return None };
    rest.get(..u32::from_be_bytes([a, b, c, d]) as usize)
}

/// How a call ended.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// The HTTP status (200 for every call a gRPC server answered, failed or not).
    pub http_status: u16,
    /// `grpc-status`, from the trailers or, in a trailers-only answer, the headers.
    pub status: Option<u32>,
    /// `grpc-message`, from the same place: why a call failed, when it says.
    pub message: Option<String>,
    pub answer: Option<Hello>,
}

/// One call of the demo method on `authority` (`HOST:PORT`, as the caller addresses the
/// service) through `addr`, on a connection of its own: see [`Channel::call`].
pub async fn call(addr: SocketAddr, authority: &str, deadline: Duration) -> Result<Outcome, HttpError> {
    let timeout = deadline + Duration::from_secs(1);
    let exchange = async { Channel::connect(addr).await?.call(authority, deadline).await };
    tokio::time::timeout(timeout, exchange).await.map_err(|_| HttpError::Timeout { addr, timeout })?
}

/// An HTTP/2 connection for calls one after another, as a gRPC client keeps one.
pub struct Channel {
    addr: SocketAddr,
    sender: hyper::client::conn::http2::SendRequest<Full<Bytes>>,
}

impl Channel {
    /// Connects to `addr`: the service itself, or an HTTP/2 listener of a sidecar in between.
    pub async fn connect(addr: SocketAddr) -> Result<Channel, HttpError> {
        let stream =
            tokio::net::TcpStream::connect(addr).await.map_err(|source| HttpError::Connect { addr, source })?;
        // A call's frames go out at once, not held for the next call's (Nagle's algorithm).
        stream.set_nodelay(true).map_err(|source| HttpError::Connect { addr, source })?;
        let (sender, connection) = hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .map_err(|source| HttpError::Request { addr, source })?;
        tokio::spawn(connection);
        Ok(Channel { addr, sender })
    }

    /// One call of the demo method on `authority`. Its deadline is `deadline`, sent in
    /// `grpc-timeout` as gRPC clients do, so a proxy on the way may end it;
    /// this side gives up a second later.
    pub async fn call(&mut self, authority: &str, deadline: Duration) -> Result<Outcome, HttpError> {
        let addr = self.addr;
        let request = hyper::Request::post(format!("http://{authority}{DEMO_METHOD}"))
            .header(hyper::header::CONTENT_TYPE, "application/grpc")
            .header(hyper::header::TE, "trailers")
            .header("grpc-timeout", format!("{}m", deadline.as_millis()))
            .body(Full::new(frame(&[])))?;
        let exchange = async {
            let failed = |source| HttpError::Request { addr, source };
            self.sender.ready().await.map_err(failed)?;
            let response = self.sender.send_request(request).await.map_err(failed)?;
            let http_status = response.status().as_u16();
            let headers = response.headers().clone();
            let collected = response.into_body().collect().await.map_err(failed)?;
            // A trailers-only answer has the status in its headers.
            let ending = match collected.trailers() {
                Some(trailers) if status_of(&headers).is_none() => trailers.clone(),
                _ => headers,
            };
            let status = status_of(&ending);
            let message = ending.get("grpc-message").and_then(|m| m.to_str().ok()).map(String::from);
            let body = collected.to_bytes();
            let answer = unframe(&body).and_then(|m| Hello::decode(m).ok());
            Ok(Outcome { http_status, status, message, answer })
        };
        let timeout = deadline + Duration::from_secs(1);
        tokio::time::timeout(timeout, exchange).await.map_err(|_| HttpError::Timeout { addr, timeout })?
    }
}

fn status_of(headers: &hyper::HeaderMap) -> Option<u32> {
    headers.get("grpc-status")?.to_str().ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_framed_message_unframes_to_itself_and_a_short_body_to_nothing() {
        let message = Hello { service: "profile".into(), version: "v1".into() }.encode_to_vec();
        let framed = frame(&message);
        assert_eq!(framed.len(), 5 + message.len());
        assert_eq!(unframe(&framed), Some(&message[..]));
        assert_eq!(unframe(&framed[..framed.len() - 1]), None);
        assert_eq!(unframe(&[1, 0, 0, 0, 0]), None, "a compressed message is not read");
    }
}
