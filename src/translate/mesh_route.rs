//! HTTPRoutes attached to Services (the Gateway API's mesh routes, GAMMA) as the VirtualServices
//! the rest of the translator reads, as Istio does: one per parent Service, holding the rules of
//! every route attached to it, in the Gateway API's order of precedence.
//!
//! ```text
//!   HTTPRoute a ─┐  each (rule, match) ─ sorted: exact path, regex, longest prefix, method,
//!   HTTPRoute b ─┴▶ of every route        most headers, most query params, oldest route ─▶ VirtualService
//!   (parent: Service profile)                                                               hosts: [profile.NS.svc…]
//! ```

use std::cmp::Reverse;
use std::collections::BTreeMap;

use crate::api::gateway::{HTTPRoute, HTTPRouteMatch, HTTPRouteRule, PathMatchType, ValueMatch, ValueMatchType};
use crate::api::networking::{
    Destination, HttpMatchRequest, HttpRetry, HttpRoute, HttpRouteDestination, PortSelector, StringMatch, VirtualService,
    VirtualServiceSpec,
};
use crate::policy::service_host;

/// The VirtualServices that `routes` make, one per Service they attach to, in host order.
pub(super) fn virtual_services<'a>(routes: impl IntoIterator<Item = &'a HTTPRoute>) -> Vec<VirtualService> {
    let mut by_host: BTreeMap<String, Vec<(Precedence, HttpRoute)>> = BTreeMap::new();
    for route in routes {
        let namespace = super::namespace(&route.metadata);
        let name = route.metadata.name.as_deref().unwrap_or_default();
        for parent in route.spec.parent_refs.iter().filter(|p| p.is_service()) {
            let host = service_host(&parent.name, parent.namespace.as_deref().unwrap_or(namespace));
            let rules = by_host.entry(host).or_default();
            for (r, rule) in route.spec.rules.iter().enumerate() {
                for (m, request) in rule.matches().iter().enumerate() {
                    let precedence = Precedence::of(route, request, (r, m));
                    rules.push((precedence, http_rule(name, namespace, r, rule, request, parent.port)));
                }
            }
        }
    }
    by_host
        .into_iter()
        .map(|(host, mut rules)| {
            rules.sort_by(|a, b| a.0.cmp(&b.0));
            let spec = VirtualServiceSpec {
                hosts: vec![host.clone()],
                gateways: vec![],
                http: rules.into_iter().map(|(_, rule)| rule).collect(),
                tcp: vec![],
                tls: vec![],
                export_to: vec![],
            };
            let mut vs = VirtualService::new(&format!("httproutes.{host}"), spec);
            vs.metadata.namespace = crate::policy::host_namespace(&host).map(str::to_string);
            vs
        })
        .collect()
}

/// Where a (rule, match) stands among those of every route attached to the same Service: the
/// Gateway API's order, then the route's age and name, then its place in the route.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Precedence {
    path: (u8, Reverse<usize>),
    method: bool,
    headers: Reverse<usize>,
    query_params: Reverse<usize>,
    created: Option<k8s_openapi::jiff::Timestamp>,
    namespace: String,
    name: String,
    place: (usize, usize),
}

impl Precedence {
    fn of(route: &HTTPRoute, request: &HTTPRouteMatch, place: (usize, usize)) -> Self {
        // Where a regular expression stands is the implementation's choice: before prefixes,
        // as in Envoy Gateway, so that a catch-all `/` leaves it reachable.
        let kind = match request.path.kind {
            PathMatchType::Exact => 0,
            PathMatchType::RegularExpression => 1,
            PathMatchType::PathPrefix => 2,
        };
        Precedence {
            path: (kind, Reverse(request.path.value.len())),
            method: request.method.is_none(),
            headers: Reverse(request.headers.len()),
            query_params: Reverse(request.query_params.len()),
            created: route.metadata.creation_timestamp.as_ref().map(|t| t.0),
            namespace: super::namespace(&route.metadata).to_string(),
            name: route.metadata.name.clone().unwrap_or_default(),
            place,
        }
    }
}

/// One (rule, match) of route `name` as a VirtualService rule, taking requests to `port` (any
/// port when unset). Its statistics go under the route's name and the rule's.
fn http_rule(
    name: &str,
    namespace: &str,
    index: usize,
    rule: &HTTPRouteRule,
    request: &HTTPRouteMatch,
    port: Option<u16>,
) -> HttpRoute {
    let route = rule
        .backend_refs
        .iter()
        .filter(|b| b.is_service())
        .map(|b| HttpRouteDestination {
            destination: Destination {
                host: service_host(&b.name, b.namespace.as_deref().unwrap_or(namespace)),
                subset: None,
                port: b.port.map(|number| PortSelector { number: u32::from(number) }),
            },
            weight: Some(b.weight),
        })
        .collect();
    let timeouts = rule.timeouts.as_ref();
    HttpRoute {
        name: Some(format!("{name}.{}", rule.name.clone().unwrap_or_else(|| index.to_string()))),
        matches: vec![http_match(request, port)],
        route,
        timeout: timeouts.and_then(|t| t.request),
        retries: timeouts.and_then(|t| t.backend_request).map(|per_try| HttpRetry {
            attempts: super::route::DEFAULT_ATTEMPTS,
            per_try_timeout: Some(per_try),
            retry_on: None,
        }),
        ..HttpRoute::default()
    }
}

fn http_match(request: &HTTPRouteMatch, port: Option<u16>) -> HttpMatchRequest {
    let value = &request.path.value;
    let uri = match request.path.kind {
        PathMatchType::Exact => StringMatch { exact: Some(value.clone()), ..StringMatch::default() },
        PathMatchType::RegularExpression => StringMatch { regex: Some(value.clone()), ..StringMatch::default() },
        // A prefix is whole path segments: `/foo` takes `/foo` and `/foo/bar`, not `/foobar`.
        PathMatchType::PathPrefix => match value.trim_end_matches('/') {
            "" => StringMatch { prefix: Some("/".into()), ..StringMatch::default() },
            segments => StringMatch {
                regex: Some(format!("{}(/.*)?", regex_syntax::escape(segments))),
                ..StringMatch::default()
            },
        },
    };
    HttpMatchRequest {
        uri: Some(uri),
        method: request.method.as_ref().map(|m| StringMatch { exact: Some(m.clone()), ..StringMatch::default() }),
        // Header names are case-insensitive; of two entries for one name, the first counts.
        headers: first_of_each(&request.headers, |n| n.to_ascii_lowercase()),
        query_params: first_of_each(&request.query_params, str::to_string),
        port: port.map(u32::from),
        ..HttpMatchRequest::default()
    }
}

fn first_of_each(values: &[ValueMatch], key: impl Fn(&str) -> String) -> BTreeMap<String, StringMatch> {
    let mut matches = BTreeMap::new();
    for v in values {
        matches.entry(key(&v.name)).or_insert_with(|| match v.kind {
            ValueMatchType::Exact => StringMatch { exact: Some(v.value.clone()), ..StringMatch::default() },
            ValueMatchType::RegularExpression => StringMatch { regex: Some(v.value.clone()), ..StringMatch::default() },
        });
    }
    matches
}
