//! Traces, pure: the spans the proxies report (Zipkin v2 JSON, as Envoy's Zipkin tracer sends
//! it), kept within a fixed bound, and assembled into traces for `meshctl trace` and the
//! dashboard.
//!
//! Every proxy reports its own spans, in batches, whenever it flushes: a trace's spans arrive
//! from several proxies, in any order, and are put together by trace id. The oldest traces are
//! dropped first once the store holds [`SPAN_CAPACITY`] spans.

use std::collections::{HashMap, VecDeque};

use serde::{Deserialize, Serialize};

/// The most spans the controller keeps. A span takes a few hundred bytes (ids, names and the
/// indexes), so this bounds the traces' memory to tens of megabytes: at the demo's rate that
/// is the last few minutes.
pub const SPAN_CAPACITY: usize = 50_000;

/// Which side of a call a proxy saw: a sidecar's inbound listener serves (`server`), its
/// outbound listener calls (`client`); the gateway reports both.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Server,
    Client,
}

/// One span, as `meshctl trace -o json` and `/api/traces` show it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Span {
    pub span_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    pub service: String,
    pub namespace: String,
    pub version: String,
    /// The operation: the route's destination (`profile.default.svc.cluster.local:80/*`).
    pub name: String,
    pub kind: Kind,
    pub start_unix_ms: f64,
    pub duration_ms: f64,
    /// The HTTP status the proxy saw; 0 when no response came (the upstream was unreachable).
    pub status_code: u16,
}

impl Span {
    fn end_unix_ms(&self) -> f64 {
        self.start_unix_ms + self.duration_ms
    }
}

/// One request's spans across the mesh.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    pub trace_id: String,
    /// From the first span's start to the last one's end.
    pub duration_ms: f64,
    /// The root span, as `SERVICE: NAME`; `SERVICE (incomplete)` while the server span of the
    /// proxy whose call starts what arrived has not.
    pub root: String,
    /// The span that spent the most time itself, not waiting on a span it called: where a
    /// slow trace was slow.
    pub slowest: String,
    /// In order of start.
    pub spans: Vec<Span>,
}

impl Trace {
    fn new(trace_id: &str, spans: &[Span]) -> Trace {
        let mut spans = spans.to_vec();
        spans.sort_by(|a, b| a.start_unix_ms.total_cmp(&b.start_unix_ms).then(b.duration_ms.total_cmp(&a.duration_ms)));
        let start = spans.iter().map(|s| s.start_unix_ms).fold(f64::INFINITY, f64::min);
        let end = spans.iter().map(Span::end_unix_ms).fold(f64::NEG_INFINITY, f64::max);
        let has_parent = |s: &Span| s.parent_id.as_ref().is_some_and(|p| spans.iter().any(|o| &o.span_id == p));
        // The first span whose caller is not here. A server span's caller may be outside the
        // mesh (a request that came with its own trace context); a client span's is the same
        // proxy's server span, which has not arrived yet (a proxy flushes its spans every
        // second), so the trace is named by that proxy's service until it has.
        let root = spans.iter().find(|s| !has_parent(s)).map(|s| match (s.kind, &s.parent_id) {
            (Kind::Client, Some(_)) => format!("{} (incomplete)", s.service),
            _ => format!("{}: {}", s.service, s.name),
        });
        // A span whose parent has not arrived (a proxy flushes its spans every second) counts
        // as called by the shortest span that encloses it, so that its time is not taken for
        // its caller's own.
        let callers: Vec<Option<&str>> = spans
            .iter()
            .map(|s| {
                if has_parent(s) {
                    return s.parent_id.as_deref();
                }
                spans
                    .iter()
                    .filter(|o| o.span_id != s.span_id)
                    .filter(|o| o.start_unix_ms <= s.start_unix_ms && o.end_unix_ms() >= s.end_unix_ms())
                    .min_by(|a, b| a.duration_ms.total_cmp(&b.duration_ms))
                    .map(|o| o.span_id.as_str())
            })
            .collect();
        let own_time = |s: &Span| {
            let called: f64 = spans
                .iter()
                .zip(&callers)
                .filter(|(_, caller)| **caller == Some(s.span_id.as_str()))
                .map(|(c, _)| c.duration_ms)
                .sum();
            (s.duration_ms - called).max(0.0)
        };
        let slowest = spans.iter().max_by(|a, b| own_time(a).total_cmp(&own_time(b))).map(|s| s.span_id.clone());
        // To the microsecond, as the proxies measure.
        let duration_ms = if spans.is_empty() { 0.0 } else { ((end - start) * 1000.0).round() / 1000.0 };
        Trace {
            trace_id: trace_id.to_string(),
            duration_ms,
            root: root.unwrap_or_default(),
            slowest: slowest.unwrap_or_default(),
            spans,
        }
    }
}

/// The answer of `/api/traces` and `meshctl trace -o json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Traces {
    pub traces: Vec<Trace>,
}

/// Which traces to show.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Query {
    /// Only traces with a span of this service, `(namespace, name)`.
    pub service: Option<(String, String)>,
    /// Only traces at least this long.
    pub min_duration_ms: f64,
    /// At most this many, slowest first.
    pub limit: usize,
    /// Only the trace of this id (the dashboard opens one by its id).
    pub trace_id: Option<String>,
}

impl Query {
    /// The query as URL parameters, for a controller's traces endpoint.
    pub fn to_params(&self) -> String {
        let mut params = vec![format!("min_duration_ms={}", self.min_duration_ms), format!("limit={}", self.limit)];
        if let Some((namespace, name)) = &self.service {
            params.push(format!("namespace={namespace}"));
            params.push(format!("service={name}"));
        }
        if let Some(id) = &self.trace_id {
            params.push(format!("trace_id={id}"));
        }
        params.join("&")
    }

    /// The query that URL parameters ask for; a parameter that does not parse is left at its
    /// default, with no limit meaning `default_limit`.
    pub fn from_params(params: &str, default_limit: usize) -> Query {
        let value = |key: &str| params.split('&').find_map(|p| p.strip_prefix(key)?.strip_prefix('='));
        let service = value("service").filter(|s| !s.is_empty());
        Query {
            service: service.map(|s| (value("namespace").unwrap_or("default").to_string(), s.to_string())),
            min_duration_ms: value("min_duration_ms").and_then(|v| v.parse().ok()).unwrap_or(0.0),
            limit: value("limit").and_then(|v| v.parse().ok()).unwrap_or(default_limit),
            trace_id: value("trace_id").filter(|id| !id.is_empty()).map(str::to_string),
        }
    }

    fn matches(&self, trace: &Trace) -> bool {
        // The gateway's spans are in no namespace: it serves them all.
        let of_service = self.service.as_ref().is_none_or(|(namespace, name)| {
            trace.spans.iter().any(|s| &s.service == name && (&s.namespace == namespace || s.namespace.is_empty()))
        });
        let the_one = self.trace_id.as_ref().is_none_or(|id| &trace.trace_id == id);
        of_service && the_one && trace.duration_ms >= self.min_duration_ms
    }
}

/// The recent spans, by trace, within a bound.
#[derive(Debug)]
pub struct TraceStore {
    capacity: usize,
    traces: HashMap<String, Vec<Span>>,
    /// Trace ids in the order their first span arrived: the oldest is dropped first.
    arrival: VecDeque<String>,
    spans: usize,
}

impl TraceStore {
    pub fn new(capacity: usize) -> TraceStore {
        TraceStore { capacity, traces: HashMap::new(), arrival: VecDeque::new(), spans: 0 }
    }

    /// Keeps `span` of trace `trace_id`, dropping the oldest traces beyond the bound. A span
    /// reported twice is kept once.
    pub fn add(&mut self, trace_id: &str, span: Span) {
        let spans = match self.traces.get_mut(trace_id) {
            Some(spans) => spans,
            None => {
                self.arrival.push_back(trace_id.to_string());
                self.traces.entry(trace_id.to_string()).or_default()
            }
        };
        if spans.iter().any(|s| s.span_id == span.span_id && s.kind == span.kind) {
            return;
        }
        spans.push(span);
        self.spans += 1;
        while self.spans > self.capacity {
            let Some(oldest) = self.arrival.pop_front() else { break };
            self.spans -= self.traces.remove(&oldest).map_or(0, |s| s.len());
        }
    }

    /// The traces `query` asks for, slowest first.
    pub fn query(&self, query: &Query) -> Traces {
        let mut traces: Vec<Trace> =
            self.traces.iter().map(|(id, spans)| Trace::new(id, spans)).filter(|t| query.matches(t)).collect();
        sort_and_limit(&mut traces, query.limit);
        Traces { traces }
    }
}

/// Traces of the same requests from several collectors (a cluster's controller replicas each
/// hear from the proxies connected to them), put together and queried again.
pub fn merge(answers: impl IntoIterator<Item = Traces>, query: &Query) -> Traces {
    let mut store = TraceStore::new(usize::MAX);
    for trace in answers.into_iter().flat_map(|a| a.traces) {
        for span in trace.spans {
            store.add(&trace.trace_id, span);
        }
    }
    store.query(query)
}

fn sort_and_limit(traces: &mut Vec<Trace>, limit: usize) {
    traces.sort_by(|a, b| b.duration_ms.total_cmp(&a.duration_ms).then_with(|| a.trace_id.cmp(&b.trace_id)));
    traces.truncate(limit);
}

/// Where a proxy runs, as spans name it. A proxy that is not a workload's (the gateway) is
/// named by the service it reports and is in no namespace.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Origin {
    pub service: String,
    pub namespace: String,
    pub version: String,
}

/// A span as Envoy's Zipkin tracer reports it (`collector_endpoint_version: HTTP_JSON`):
/// times in microseconds since the epoch, every tag a string.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ZipkinSpan {
    pub trace_id: String,
    pub id: String,
    #[serde(default)]
    pub parent_id: Option<String>,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub timestamp: u64,
    #[serde(default)]
    pub duration: u64,
    #[serde(default)]
    pub local_endpoint: Option<ZipkinEndpoint>,
    #[serde(default)]
    pub tags: HashMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ZipkinEndpoint {
    #[serde(default)]
    pub service_name: String,
}

impl ZipkinSpan {
    /// The node id of the proxy that reported it.
    pub fn node_id(&self) -> Option<&str> {
        self.tags.get("node_id").map(String::as_str)
    }

    /// The span, placed by `origin` (what runs at the reporting proxy, when it is known);
    /// `None` for a span of a kind a proxy does not report.
    pub fn into_span(self, origin: Option<&Origin>) -> Option<(String, Span)> {
        let kind = match self.kind.as_deref() {
            Some("SERVER") => Kind::Server,
            Some("CLIENT") => Kind::Client,
            _ => return None,
        };
        let reported = self.local_endpoint.map(|e| e.service_name).unwrap_or_default();
        let origin = origin.cloned().unwrap_or(Origin { service: reported, ..Origin::default() });
        let status_code = self.tags.get("http.status_code").and_then(|c| c.parse().ok()).unwrap_or(0);
        // A client span is named by Envoy after the cluster's statistics name (`router
        // outbound_80__profile_default_svc_cluster_local egress`); the cluster it called, which
        // it tags, names it as the server spans are named: the route's destination.
        let name = match (kind, self.tags.get("upstream_cluster").and_then(|c| destination(c))) {
            (Kind::Client, Some(destination)) => destination,
            _ => self.name,
        };
        let span = Span {
            span_id: self.id,
            parent_id: self.parent_id,
            service: origin.service,
            namespace: origin.namespace,
            version: origin.version,
            name,
            kind,
            start_unix_ms: self.timestamp as f64 / 1000.0,
            duration_ms: self.duration as f64 / 1000.0,
            status_code,
        };
        Some((self.trace_id, span))
    }
}

/// `HOST:PORT/*` of an outbound cluster's name.
fn destination(cluster: &str) -> Option<String> {
    crate::translate::outbound_cluster(cluster).map(|(port, _, host)| format!("{host}:{port}/*"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slowest(trace: &Trace) -> &Span {
        trace.spans.iter().find(|s| s.span_id == trace.slowest).expect("the slowest span is in the trace")
    }

    fn held(store: &TraceStore) -> usize {
        store.query(&Query { limit: usize::MAX, ..Query::default() }).traces.iter().map(|t| t.spans.len()).sum()
    }

    fn mk_span(id: &str, parent: Option<&str>, service: &str, start: f64, duration: f64) -> Span {
        Span {
            span_id: id.into(),
            parent_id: parent.map(str::to_string),
            service: service.into(),
            namespace: "default".into(),
            version: String::new(),
            name: format!("{service}.default.svc.cluster.local:80/*"),
            kind: Kind::Server,
            start_unix_ms: start,
            duration_ms: duration,
            status_code: 200,
        }
    }

    /// gateway → frontend → (profile, slow; board).
    fn mk_trace(store: &mut TraceStore, trace: &str, profile_ms: f64) {
        store.add(trace, mk_span("b", Some("f"), "board", 1.0, 2.0));
        store.add(trace, mk_span("g", None, "gateway", 0.0, profile_ms + 5.0));
        store.add(trace, mk_span("f", Some("g"), "frontend", 0.5, profile_ms + 4.0));
        store.add(trace, mk_span("p", Some("f"), "profile", 3.5, profile_ms));
    }

    #[test]
    fn a_trace_is_put_together_from_spans_in_any_order_and_names_its_slow_span() {
        let mut store = TraceStore::new(100);
        mk_trace(&mut store, "t1", 1500.0);
        let traces = store.query(&Query { limit: 10, ..Query::default() }).traces;
        assert_eq!(traces.len(), 1);
        let trace = &traces[0];
        assert_eq!(trace.duration_ms, 1505.0);
        assert_eq!(trace.root, "gateway: gateway.default.svc.cluster.local:80/*");
        // The gateway and frontend spans are longer, but they spent that time waiting.
        assert_eq!(slowest(trace).service, "profile");
        let order: Vec<&str> = trace.spans.iter().map(|s| s.span_id.as_str()).collect();
        assert_eq!(order, ["g", "f", "b", "p"]);
    }

    #[test]
    fn a_trace_whose_root_has_not_arrived_is_named_by_the_service_that_started_what_did() {
        let mut store = TraceStore::new(100);
        store.add("t1", mk_span("f", Some("gc"), "frontend", 0.5, 14.0));
        // The gateway's call, reported before the request it was made for.
        store.add("t1", Span { kind: Kind::Client, ..mk_span("gc", Some("g"), "gateway", 0.2, 14.5) });
        let trace = &store.query(&Query { limit: 10, ..Query::default() }).traces[0];
        assert_eq!(trace.root, "gateway (incomplete)");
        store.add("t1", mk_span("g", None, "gateway", 0.0, 15.0));
        let trace = &store.query(&Query { limit: 10, ..Query::default() }).traces[0];
        assert_eq!(trace.root, "gateway: gateway.default.svc.cluster.local:80/*");
    }

    #[test]
    fn queries_pick_by_service_and_duration_slowest_first() {
        let mut store = TraceStore::new(100);
        mk_trace(&mut store, "fast", 10.0);
        mk_trace(&mut store, "slow", 1500.0);
        mk_trace(&mut store, "slower", 2000.0);
        store.add("other", mk_span("x", None, "gateway", 0.0, 3000.0));
        let ids = |q: &Query| store.query(q).traces.into_iter().map(|t| t.trace_id).collect::<Vec<_>>();
        let profile = Some(("default".to_string(), "profile".to_string()));
        assert_eq!(
            ids(&Query { service: profile.clone(), min_duration_ms: 1000.0, limit: 10, trace_id: None }),
            ["slower", "slow"]
        );
        assert_eq!(ids(&Query { service: profile.clone(), limit: 1, ..Query::default() }), ["slower"]);
        assert_eq!(ids(&Query { limit: 2, ..Query::default() }), ["other", "slower"]);
        assert_eq!(ids(&Query { limit: 2, trace_id: Some("slow".into()), ..Query::default() }), ["slow"]);
        let elsewhere = Some(("shop".to_string(), "profile".to_string()));
        assert!(ids(&Query { service: elsewhere, limit: 10, ..Query::default() }).is_empty());
    }

    #[test]
    fn the_oldest_traces_go_first_once_the_bound_is_reached() {
        let mut store = TraceStore::new(10);
        for i in 0..5 {
            mk_trace(&mut store, &format!("t{i}"), 10.0);
        }
        // Five traces of four spans: only the last two fit.
        assert_eq!(held(&store), 8);
        let mut ids: Vec<String> =
            store.query(&Query { limit: 10, ..Query::default() }).traces.into_iter().map(|t| t.trace_id).collect();
        ids.sort();
        assert_eq!(ids, ["t3", "t4"]);
        // A span sent again is not counted again.
        store.add("t4", mk_span("p", Some("f"), "profile", 3.5, 10.0));
        assert_eq!(held(&store), 8);
    }

    #[test]
    fn parts_of_a_trace_from_several_collectors_make_one_trace() {
        let mut a = TraceStore::new(100);
        let mut b = TraceStore::new(100);
        a.add("t", mk_span("g", None, "gateway", 0.0, 1505.0));
        b.add("t", mk_span("p", Some("g"), "profile", 3.5, 1500.0));
        let all = Query { limit: 10, ..Query::default() };
        let merged = merge([a.query(&all), b.query(&all)], &all);
        assert_eq!(merged.traces.len(), 1);
        assert_eq!(merged.traces[0].spans.len(), 2);
        assert_eq!(slowest(&merged.traces[0]).service, "profile");
    }

    #[test]
    fn a_span_whose_caller_has_not_arrived_is_not_taken_for_its_callers_callers_time() {
        let mut store = TraceStore::new(100);
        store.add("t", mk_span("g", None, "gateway", 0.0, 1505.0));
        // The frontend span between them is missing.
        store.add("t", mk_span("p", Some("f"), "profile", 3.5, 1500.0));
        let trace = &store.query(&Query { limit: 1, ..Query::default() }).traces[0];
        assert_eq!(slowest(trace).service, "profile");
    }

    #[test]
    fn a_query_goes_through_url_parameters_unchanged() {
        let query = Query {
            service: Some(("shop".into(), "profile".into())),
            min_duration_ms: 1000.0,
            limit: 5,
            trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".into()),
        };
        assert_eq!(Query::from_params(&query.to_params(), 20), query);
        assert_eq!(Query::from_params("limit=x", 20), Query { limit: 20, ..Query::default() });
    }

    #[test]
    fn envoy_zipkin_spans_become_spans_of_the_proxy_that_reported_them() {
        // As Envoy 1.40 sends them (trimmed): a sidecar's server span, and one of an unknown proxy.
        let body = r#"[
          {"traceId":"048f6dba3fe03169c1fb1ddb084e514f","id":"c1fb1ddb084e514f","parentId":"aa","kind":"SERVER",
           "name":"profile.default.svc.cluster.local:80/*","timestamp":1795896185462457,"duration":1355,
           "localEndpoint":{"serviceName":"profile","ipv4":"192.0.2.2","port":0},
           "tags":{"http.status_code":"503","node_id":"profile-v2-0","error":"true"}},
          {"traceId":"048f6dba3fe03169c1fb1ddb084e514f","id":"bb","kind":"CLIENT",
           "name":"router outbound_80__frontend_default_svc_cluster_local egress","timestamp":1,
           "localEndpoint":{"serviceName":"gateway"},
           "tags":{"upstream_cluster":"outbound|80||frontend.default.svc.cluster.local"}}
        ]"#;
        let spans: Vec<ZipkinSpan> = serde_json::from_str(body).unwrap();
        let origin = Origin { service: "profile".into(), namespace: "default".into(), version: "v2".into() };
        let mut spans = spans.into_iter();
        let first = spans.next().unwrap();
        assert_eq!(first.node_id(), Some("profile-v2-0"));
        let (trace, span) = first.into_span(Some(&origin)).unwrap();
        assert_eq!(trace, "048f6dba3fe03169c1fb1ddb084e514f");
        assert_eq!((span.version.as_str(), span.kind, span.status_code), ("v2", Kind::Server, 503));
        assert_eq!((span.start_unix_ms, span.duration_ms), (1795896185462.457, 1.355));
        let (_, unknown) = spans.next().unwrap().into_span(None).unwrap();
        assert_eq!((unknown.service.as_str(), unknown.kind, unknown.status_code), ("gateway", Kind::Client, 0));
        assert_eq!(unknown.name, "frontend.default.svc.cluster.local:80/*", "named as the server spans are");
    }
}
