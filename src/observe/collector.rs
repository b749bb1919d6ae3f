//! The controller's span collector: takes the spans the proxies post, places each by the
//! proxy that reported it (service, namespace, version), and answers queries for traces.
//! The local controller serves it on a port of its own; on a cluster the proxies post to their
//! TLS port (xDS's), and traces are read on the status port.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::{Method, Request, Response, StatusCode};

use super::trace::{Origin, Query, SPAN_CAPACITY, TraceStore, Traces, ZipkinSpan};
use crate::http::{json, reply};
use crate::metrics::scrape::Target;
use crate::translate::SPANS_PATH;

/// Where a controller answers trace queries (`?service=&namespace=&min_duration_ms=&limit=`).
pub const TRACES_PATH: &str = "/debug/traces";

/// How many traces a query without a limit gets.
pub const DEFAULT_LIMIT: usize = 20;

/// The largest batch of spans taken in one request; Envoy sends a few at a time.
const MAX_BATCH_BYTES: usize = 4 << 20;

/// The collector; clones share it.
#[derive(Clone)]
pub struct Collector {
    store: Arc<Mutex<TraceStore>>,
    /// What runs at each proxy, by node id.
    origins: Arc<RwLock<HashMap<String, Origin>>>,
}

impl Default for Collector {
    fn default() -> Self {
        Collector::new(SPAN_CAPACITY)
    }
}

impl Collector {
    pub fn new(capacity: usize) -> Collector {
        Collector { store: Arc::new(Mutex::new(TraceStore::new(capacity))), origins: Arc::default() }
    }

    /// The proxies now in the mesh, whose spans it places. A proxy that is not a workload's
    /// (the gateway) is known by the name it reports.
    pub fn know(&self, proxies: &[Target]) {
        let origins = proxies
            .iter()
            .filter_map(|t| {
                let served = t.serves.as_ref()?;
                let origin = Origin {
                    service: served.service().to_string(),
                    namespace: served.namespace.clone(),
                    version: served.labels.get("version").cloned().unwrap_or_default(),
                };
                Some((t.node_id.clone(), origin))
            })
            .collect();
        *self.origins.write().expect("origins lock") = origins;
    }

    /// Keeps the spans of one batch (a JSON array of Zipkin v2 spans); returns how many.
    pub fn ingest(&self, batch: &[u8]) -> Result<usize, serde_json::Error> {
        let spans: Vec<ZipkinSpan> = serde_json::from_slice(batch)?;
        let origins = self.origins.read().expect("origins lock");
        let placed: Vec<_> = spans
            .into_iter()
            .filter_map(|s| {
                let origin = s.node_id().and_then(|n| origins.get(n));
                s.into_span(origin)
            })
            .collect();
        drop(origins);
        let count = placed.len();
        let mut store = self.store.lock().expect("trace store lock");
        for (trace, span) in placed {
            store.add(&trace, span);
        }
        Ok(count)
    }

    pub fn traces(&self, query: &Query) -> Traces {
        self.store.lock().expect("trace store lock").query(query)
    }

    /// Keeps a posted batch, and answers it as Zipkin does.
    pub fn receive(&self, batch: &[u8]) -> Response<Full<Bytes>> {
        match self.ingest(batch) {
            // Zipkin's answer; Envoy counts anything else as a dropped report.
            Ok(_) => reply(StatusCode::ACCEPTED, "text/plain", Bytes::new()),
            Err(e) => reply(StatusCode::BAD_REQUEST, "text/plain", format!("not Zipkin v2 JSON spans: {e}")),
        }
    }

    /// The answer to a request for the collector (spans posted, traces asked for), or `None`
    /// for a path that is not its own.
    pub async fn answer(&self, request: Request<hyper::body::Incoming>) -> Option<Response<Full<Bytes>>> {
        let text = |status: StatusCode, body: String| reply(status, "text/plain", body);
        match (request.method(), request.uri().path()) {
            (&Method::POST, SPANS_PATH) => {
                let body = match Limited::new(request.into_body(), MAX_BATCH_BYTES).collect().await {
                    Ok(body) => body.to_bytes(),
                    Err(e) => return Some(text(StatusCode::PAYLOAD_TOO_LARGE, e.to_string())),
                };
                Some(self.receive(&body))
            }
            (&Method::GET, TRACES_PATH) => {
                let query = Query::from_params(request.uri().query().unwrap_or_default(), DEFAULT_LIMIT);
                Some(json(&self.traces(&query)))
            }
            _ => None,
        }
    }
}

/// Serves the collector alone on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, collector: Collector) {
    crate::http::serve(listener, move |request| {
        let collector = collector.clone();
        async move {
            let answer = collector.answer(request).await;
            answer.unwrap_or_else(|| reply(StatusCode::NOT_FOUND, "text/plain", Bytes::new()))
        }
    })
    .await
}
