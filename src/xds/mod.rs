//! The ADS server: state-of-the-world xDS to every proxy over one gRPC stream each.
//!
//! The controller publishes the desired [`Resources`] of every proxy (by node id) on a watch
//! channel; each stream sends a proxy what it subscribed to whenever that changes, and records
//! what the proxy ACKed or NACKed, which is what `meshctl proxy-status` reports.
//!
//! Changes are made before they break: secrets go out as soon as they are asked for (a
//! listener or cluster that needs one waits for it in Envoy); when clusters change, the new
//! clusters (together with the old ones) go out first, and routes and listeners only once the
//! proxy has ACKed them and their endpoints; clusters no longer used are removed after the
//! routes have moved away.

mod stream;

pub use stream::carried;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_server::{
    AggregatedDiscoveryService, AggregatedDiscoveryServiceServer,
};
use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest, DiscoveryResponse,
};
use serde::Serialize;
use tokio::sync::watch;
use tokio_stream::wrappers::ReceiverStream;

use crate::translate::{Resources, Type};

/// How long a client has to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// What every proxy should run, by node id.
pub type Desired = Arc<HashMap<String, Arc<Resources>>>;

/// What the control plane knows of one proxy's configuration.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ProxyStatus {
    pub connected: bool,
    /// The stream that reports for this proxy now; an older stream of a restarted proxy may
    /// end after the new one began, and must not mark it disconnected.
    #[serde(skip)]
    pub stream: u64,
    /// The version the proxy last ACKed, by type.
    pub acked: BTreeMap<Type, String>,
    /// Envoy's reason for refusing the last configuration of a type, until it accepts one of
    /// that type: an ACK of routes says nothing about the listeners it refused.
    pub nacks: BTreeMap<Type, String>,
    /// Why the proxy gets no certificates: it could not prove the identity its node id claims.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

/// Decides whether the proxy that opened a stream may have the certificates of the node id it
/// names. Without one, every proxy may (the local mesh, whose proxies are its own processes).
#[async_trait::async_trait]
pub trait Authenticator: Send + Sync {
    /// `token` is the stream's bearer token, if it sent one. Err says why not, for the proxy's
    /// status and the log.
    async fn authenticate(&self, node_id: &str, token: Option<&str>) -> Result<(), String>;
}

/// Whether a proxy runs what the control plane wants it to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub enum SyncState {
    Synced,
    Stale,
    Nack(String),
    Disconnected,
}

#[derive(Clone)]
pub struct Server {
    desired: watch::Receiver<Desired>,
    authenticator: Option<Arc<dyn Authenticator>>,
    /// How long a stream of an authenticated server lives before it is closed, so that the
    /// proxy reconnects and proves itself again with its current token.
    max_age: Option<std::time::Duration>,
    status: Arc<Mutex<BTreeMap<String, ProxyStatus>>>,
    /// Told whenever a proxy connects, ACKs, NACKs or goes away.
    changed: Arc<tokio::sync::Notify>,
    streams: Arc<std::sync::atomic::AtomicU64>,
}

impl Server {
    pub fn new(desired: watch::Receiver<Desired>) -> Self {
        Server {
            desired,
            authenticator: None,
            max_age: None,
            status: Arc::default(),
            changed: Arc::default(),
            streams: Arc::default(),
        }
    }

    /// A server that sends secrets only to proxies `authenticator` accepts, and closes each
    /// stream after about `max_age` so that a proxy whose proof no longer holds (its token
    /// revoked, its ServiceAccount deleted) loses its certificates when it reconnects.
    pub fn with_authenticator(self, authenticator: Arc<dyn Authenticator>, max_age: std::time::Duration) -> Self {
        Server { authenticator: Some(authenticator), max_age: Some(max_age), ..self }
    }

    /// Completes when a proxy's status has changed since the last call (at once if it
    /// already has), so the controller reports an ACK when it comes, not at its next tick.
    pub async fn status_changed(&self) {
        self.changed.notified().await
    }

    /// Serves ADS on `listener` until the future is dropped. Each connection sends at once
    /// (`TCP_NODELAY`), as `serve_tls`'s do: a push is a gRPC message of many TCP segments (a
    /// thousand services' routes are half a megabyte), and with Nagle's algorithm its last
    /// segment waited for the proxy's delayed ACK of the ones before, 40 ms on Linux.
    pub async fn serve(self, listener: tokio::net::TcpListener) -> Result<(), tonic::transport::Error> {
        use tokio_stream::StreamExt as _;
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener).map(|accepted| {
            let stream = accepted?;
            stream.set_nodelay(true)?;
            Ok::<_, std::io::Error>(stream)
        });
        tonic::transport::Server::builder()
            .add_service(AggregatedDiscoveryServiceServer::new(self))
            .serve_with_incoming(incoming)
            .await
    }

    /// Serves ADS over TLS on `listener` until the future is dropped, and `beside` (other
    /// routes for the same clients, the span collector's) on the same port. A slow handshake
    /// holds up no one else's.
    pub async fn serve_tls(
        self,
        listener: tokio::net::TcpListener,
        tls: Arc<rustls::ServerConfig>,
        beside: axum::Router,
    ) -> Result<(), tonic::transport::Error> {
        let acceptor = tokio_rustls::TlsAcceptor::from(tls);
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let (stream, peer) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot accept an xDS connection");
                        continue;
                    }
                };
                if let Err(e) = stream.set_nodelay(true) {
                    tracing::warn!(%peer, error = %e, "cannot send an xDS connection's pushes without delay");
                }
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => {
                            let _ = tx.send(Ok::<_, std::io::Error>(stream)).await;
                        }
                        // A proxy that does not trust this certificate, or a client speaking
                        // plaintext: it never gets a stream.
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "xDS TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "xDS TLS handshake timed out"),
                    }
                });
            }
        });
        let mut routes = tonic::service::Routes::new(AggregatedDiscoveryServiceServer::new(self));
        *routes.axum_router_mut() = std::mem::take(routes.axum_router_mut()).merge(beside);
        tonic::transport::Server::builder().add_routes(routes).serve_with_incoming(ReceiverStream::new(rx)).await
    }

    /// Binds `addr` and serves ADS there in the background; returns the bound address.
    pub async fn spawn(self, addr: SocketAddr) -> std::io::Result<SocketAddr> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let bound = listener.local_addr()?;
        self.serve_in_background(listener);
        Ok(bound)
    }

    /// Serves ADS on `listener` in the background.
    pub fn serve_in_background(self, listener: tokio::net::TcpListener) {
        tokio::spawn(async move {
            if let Err(e) = self.serve(listener).await {
                tracing::error!("xDS server stopped: {e}");
            }
        });
    }

    /// Every proxy that has connected, with what it has ACKed.
    pub fn status(&self) -> BTreeMap<String, ProxyStatus> {
        self.status.lock().expect("status lock").clone()
    }

    /// The node ids of the proxies connected now.
    pub fn connected(&self) -> HashSet<String> {
        let status = self.status.lock().expect("status lock");
        status.iter().filter(|(_, s)| s.connected).map(|(node, _)| node.clone()).collect()
    }

    /// How a proxy's configuration compares with what it should run. A connected proxy with no
    /// configuration yet (the controller has not built one since it connected) is stale.
    pub fn sync_state(&self, node_id: &str) -> SyncState {
        let status = self.status.lock().expect("status lock").get(node_id).cloned().unwrap_or_default();
        if !status.connected {
            return SyncState::Disconnected;
        }
        if let Some(reason) = status.nacks.into_values().next() {
            return SyncState::Nack(reason);
        }
        let Some(desired) = self.desired.borrow().get(node_id).cloned() else { return SyncState::Stale };
        // A proxy refused its identity is sent no secrets: it runs all it is sent.
        let types = Type::ALL.iter().filter(|t| status.refused.is_none() || **t != Type::Secret);
        let synced = types.into_iter().all(|t| {
            let unsent = desired.is_empty(*t) && !status.acked.contains_key(t);
            unsent || status.acked.get(t).is_some_and(|acked| acked == desired.version_of(*t))
        });
        if synced { SyncState::Synced } else { SyncState::Stale }
    }
}

impl Server {
    /// Serves a proxy's stream, whose responses go to `wire`, on a task of its own.
    fn open<R>(&self, request: tonic::Request<tonic::Streaming<R>>, wire: stream::Wire)
    where
        R: Send + 'static,
        stream::Request: From<R>,
    {
        use tokio_stream::StreamExt as _;
        let id = self.streams.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let token = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_string);
        let identity = self.authenticator.clone().map(|authenticator| stream::Proof {
            authenticator,
            token,
            // Spread over the last tenth of the age, so proxies that connected together do not
            // all reconnect together.
            max_age: self.max_age.map(|age| age - age.mul_f64((id.wrapping_mul(2_654_435_761) % 100) as f64 / 1000.0)),
        });
        let stream =
            stream::Stream::new(id, self.desired.clone(), self.status.clone(), self.changed.clone(), wire, identity);
        let requests = request.into_inner().map(|r| r.map(stream::Request::from));
        // One span per stream; it learns its proxy's node id from the first request.
        let span = tracing::info_span!("xds", stream = id, node = tracing::field::Empty);
        tokio::spawn(tracing::Instrument::instrument(stream.run(requests), span));
    }
}

#[tonic::async_trait]
impl AggregatedDiscoveryService for Server {
    type StreamAggregatedResourcesStream = ReceiverStream<Result<DiscoveryResponse, tonic::Status>>;
    type DeltaAggregatedResourcesStream = ReceiverStream<Result<DeltaDiscoveryResponse, tonic::Status>>;

    async fn stream_aggregated_resources(
        &self,
        request: tonic::Request<tonic::Streaming<DiscoveryRequest>>,
    ) -> Result<tonic::Response<Self::StreamAggregatedResourcesStream>, tonic::Status> {
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        self.open(request, stream::Wire::StateOfTheWorld(tx));
        Ok(tonic::Response::new(ReceiverStream::new(rx)))
    }

    async fn delta_aggregated_resources(
        &self,
        request: tonic::Request<tonic::Streaming<DeltaDiscoveryRequest>>,
    ) -> Result<tonic::Response<Self::DeltaAggregatedResourcesStream>, tonic::Status> {
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        self.open(request, stream::Wire::Incremental(tx));
        Ok(tonic::Response::new(ReceiverStream::new(rx)))
    }
}
