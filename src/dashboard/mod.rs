//! `meshctl dashboard`'s server: the page (embedded in the binary: no CDN, works offline) and
//! the JSON API it reads, all from one handle on the mesh, so it works wherever the mesh runs.
//!
//! ```text
//!   every REFRESH: view + stored objects ──▶ Layout ──┐
//!                  scrape every proxy ───────────────┼─▶ History (graph, series by version)
//!                  analyze stored objects + view ────┴─▶ findings
//!   GET /api/graph, /api/services/NS/NAME/metrics, /api/findings  ◀── History, findings
//!   GET /api/traces?…                                             ◀── Mesh::traces
//! ```

mod graph;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Method, Request, Response, StatusCode};
use serde::Serialize;

use crate::api::Resource;
use crate::http::{json, reply};
use crate::mesh::Mesh;
use crate::observe::trace::Query;
use crate::policy::{self, Code, Options, Severity};
use graph::{History, Layout, service_of_host};

/// How often the dashboard reads the mesh: each graph and point is the window between two
/// reads (as `top`'s default interval).
pub const REFRESH: Duration = Duration::from_secs(2);

/// How many refreshes the charts keep: ten minutes.
const HISTORY: usize = 300;

/// How long one proxy may take to answer a scrape.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(1);

const INDEX: &str = include_str!("index.html");
const SCRIPT: &str = include_str!("app.js");
const STYLE: &str = include_str!("app.css");

/// A finding about the live mesh, with the services it is about (`NAMESPACE/NAME`), for the
/// page to mark them on the graph.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MarkedFinding {
    pub severity: Severity,
    pub code: Code,
    pub message: String,
    pub resource: Option<String>,
    pub services: Vec<String>,
}

/// `/api/findings`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
struct Findings {
    findings: Vec<MarkedFinding>,
    /// Why the last refresh could not read part of the mesh (a proxy that did not answer).
    problems: Vec<String>,
}

struct State {
    mesh: Arc<dyn Mesh>,
    history: Mutex<History>,
    findings: Mutex<Findings>,
}

/// Serves the dashboard on `listener` until the process ends, reading the mesh every
/// [`REFRESH`].
pub async fn serve(listener: tokio::net::TcpListener, mesh: Arc<dyn Mesh>) {
    let state = Arc::new(State { mesh, history: Mutex::new(History::new(HISTORY)), findings: Mutex::default() });
    tokio::spawn(refresh(state.clone()));
    crate::http::serve(listener, move |request| {
        let state = state.clone();
        async move { answer(&state, request).await }
    })
    .await
}

/// Reads the mesh every [`REFRESH`] into the history and the findings.
async fn refresh(state: Arc<State>) {
    let mut every = tokio::time::interval(REFRESH);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut previous = None;
    loop {
        every.tick().await;
        let mut problems = Vec::new();
        let view = match state.mesh.view().await {
            Ok(view) => view,
            Err(e) => {
                state.findings.lock().expect("findings lock").problems = vec![e.to_string()];
                continue;
            }
        };
        let resources: Vec<Resource> = match state.mesh.store().contents().await {
            Ok(contents) => contents.resources().into_iter().flatten().collect(),
            Err(e) => {
                problems.push(e.to_string());
                Vec::new()
            }
        };
        let layout = Layout::of(&view, &resources);
        let proxies: Vec<String> = layout.proxies.keys().cloned().collect();
        let scraped = state.mesh.scrape(&proxies, SCRAPE_TIMEOUT).await;
        let at = Instant::now();
        let stats: Vec<_> = proxies
            .into_iter()
            .zip(scraped)
            .filter_map(|(proxy, stats)| {
                stats.map_err(|e| problems.push(format!("{proxy}: {e}"))).ok().map(|s| (proxy, s))
            })
            .collect();
        if let Some((then, before)) = previous.replace((at, stats)) {
            let (_, after) = previous.as_ref().expect("just set");
            let seconds = at.duration_since(then).as_secs_f64();
            let now =
                SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_secs_f64() * 1000.0;
            state.history.lock().expect("history lock").record(now, seconds, &before, after, &layout);
        }
        let options = Options { namespace: "default".into(), reject_unknown: false };
        let report = policy::analyze(&[], &options, &resources, &view.live());
        let findings = report
            .findings
            .into_iter()
            .filter(|f| f.severity != Severity::Info)
            .map(|f| {
                let about = resources.iter().find(|r| Some(policy::resource_name(r)) == f.resource);
                MarkedFinding {
                    severity: f.severity,
                    code: f.code,
                    message: f.message,
                    services: about.map(services_of).unwrap_or_default(),
                    resource: f.resource,
                }
            })
            .collect();
        problems.extend(view.errors);
        *state.findings.lock().expect("findings lock") = Findings { findings, problems };
    }
}

/// The services a resource is about, as `NAMESPACE/NAME`: the hosts it routes or sets
/// policy for.
fn services_of(resource: &Resource) -> Vec<String> {
    let hosts: Vec<&str> = match resource {
        Resource::DestinationRule(rule) => vec![rule.spec.host.as_str()],
        Resource::VirtualService(vs) => vs.spec.hosts.iter().map(String::as_str).collect(),
        Resource::Canary(canary) => vec![canary.spec.service.as_str()],
        Resource::HTTPRoute(route) => {
            // The Services it is attached to and those it sends to.
            let namespace = resource.namespace();
            let parents = route.spec.parent_refs.iter().filter(|p| p.is_service()).map(|p| (&p.namespace, &p.name));
            let rules = route.spec.rules.iter().flat_map(|r| &r.backend_refs);
            let backends = rules.filter(|b| b.is_service()).map(|b| (&b.namespace, &b.name));
            let mut services: Vec<String> = parents
                .chain(backends)
                .map(|(ns, name)| format!("{}/{name}", ns.as_deref().unwrap_or(namespace)))
                .collect();
            services.sort_unstable();
            services.dedup();
            return services;
        }
        _ => Vec::new(),
    };
    hosts
        .into_iter()
        .filter_map(|host| service_of_host(host, resource.namespace()))
        .map(|(name, namespace)| format!("{namespace}/{name}"))
        .collect()
}

async fn answer(state: &State, request: Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
    if request.method() != Method::GET {
        return reply(StatusCode::METHOD_NOT_ALLOWED, "text/plain", "the dashboard only answers GET\n");
    }
    let path = request.uri().path();
    match path.split('/').collect::<Vec<_>>().as_slice() {
        ["", ""] => reply(StatusCode::OK, "text/html; charset=utf-8", INDEX),
        ["", "app.js"] => reply(StatusCode::OK, "text/javascript; charset=utf-8", SCRIPT),
        ["", "app.css"] => reply(StatusCode::OK, "text/css; charset=utf-8", STYLE),
        ["", "api", "graph"] => json(&state.history.lock().expect("history lock").graph()),
        ["", "api", "findings"] => json(&*state.findings.lock().expect("findings lock")),
        ["", "api", "services", namespace, name, "metrics"] => {
            json(&state.history.lock().expect("history lock").service(namespace, name))
        }
        ["", "api", "traces"] => {
            let query =
                Query::from_params(request.uri().query().unwrap_or_default(), crate::observe::collector::DEFAULT_LIMIT);
            match state.mesh.traces(&query).await {
                Ok(traces) => json(&traces),
                Err(e) => reply(StatusCode::BAD_GATEWAY, "text/plain", format!("cannot read traces: {e}\n")),
            }
        }
        _ => reply(StatusCode::NOT_FOUND, "text/plain", format!("no such page: {path}\n")),
    }
}
