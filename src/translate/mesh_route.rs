//! HTTPRoutes attached to Services (the Gateway API's mesh routes, GAMMA) as Envoy routes: the
//! rules of every route attached to one Service make that Service's routes, in the Gateway
//! API's order of precedence, with their filters.
//!
//! ```text
//!   HTTPRoute a ─┐  each (rule, match) ─ sorted: exact path, regex, longest prefix, method,
//!   HTTPRoute b ─┴▶ of every route        most headers, most query params, oldest route ─▶ Envoy routes
//!   (parent: Service profile)                                                              of profile's port
//! ```

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use envoy_types::pb::envoy::config::core::v3::{
    HeaderValue, HeaderValueOption, RuntimeFractionalPercent, header_value_option,
};
use envoy_types::pb::envoy::config::route::v3::{
    DirectResponseAction, HeaderMatcher, QueryParameterMatcher, RedirectAction, Route, RouteAction, RouteConfiguration,
    RouteMatch, VirtualHost, WeightedCluster, header_matcher, query_parameter_matcher, redirect_action, route,
    route_action, route_match, weighted_cluster,
};
use envoy_types::pb::envoy::r#type::matcher::v3::{RegexMatchAndSubstitute, StringMatcher, string_matcher};

use super::route::{default_retries, destination_hash, regex, with_grpc_deadlines};
use super::{Class, MeshSnapshot, cluster_name, pb};
use crate::api::gateway::{
    FilterType, HTTPBackendRef, HTTPRoute, HTTPRouteFilter, HTTPRouteMatch, HTTPRouteRule, HeaderModifier,
    PathMatchType, PathModifier, ValueMatch, ValueMatchType,
};
use crate::ingress::{Judged, Served};
use crate::policy::service_host;

/// Every (rule, match) of the mesh routes, by the fully qualified host of the Service each
/// attaches to, in order of precedence.
#[derive(Clone, Debug, Default)]
pub(super) struct MeshRoutes {
    by_host: HashMap<String, Vec<MatchedRule>>,
}

/// One match of one rule, with where it stands and what it came from.
#[derive(Clone, Debug)]
struct MatchedRule {
    precedence: Precedence,
    /// `ROUTE.RULE`: the route's name and the rule's (or its index), as its statistics go.
    name: String,
    namespace: String,
    rule: HTTPRouteRule,
    request: HTTPRouteMatch,
    /// The parent's port: the rule takes only requests to it; any port when unset.
    port: Option<u16>,
}

impl MeshRoutes {
    pub(super) fn new<'a>(routes: impl IntoIterator<Item = &'a HTTPRoute>) -> Self {
        let mut by_host: HashMap<String, Vec<MatchedRule>> = HashMap::new();
        for route in routes {
            let namespace = super::namespace(&route.metadata);
            for parent in route.spec.parent_refs.iter().filter(|p| p.is_service()) {
                let host = service_host(&parent.name, parent.namespace.as_deref().unwrap_or(namespace));
                by_host.entry(host).or_default().extend(matched_rules(route, parent.port));
            }
        }
        for rules in by_host.values_mut() {
            rules.sort_by(|a, b| a.precedence.cmp(&b.precedence));
        }
        MeshRoutes { by_host }
    }

    /// Whether a route attaches to the Service of `host`.
    pub(super) fn attach_to(&self, host: &str) -> bool {
        self.by_host.contains_key(host)
    }

    /// The Envoy routes of requests to `port` of the Service of `host`; none when no route
    /// attaches to it.
    pub(super) fn routes(&self, snapshot: &MeshSnapshot, class: Class, host: &str, port: u16) -> Option<Vec<Route>> {
        let rules = self.by_host.get(host)?;
        let on_port = |r: &&MatchedRule| r.port.is_none_or(|p| p == port);
        Some(rules.iter().filter(on_port).map(|r| envoy_route(snapshot, class, r)).collect())
    }
}

/// Every (rule, match) of `route`, for requests to `port` (any when unset).
fn matched_rules(route: &HTTPRoute, port: Option<u16>) -> Vec<MatchedRule> {
    let namespace = super::namespace(&route.metadata);
    let route_name = route.metadata.name.as_deref().unwrap_or_default();
    let mut rules = Vec::new();
    for (r, rule) in route.spec.rules.iter().enumerate() {
        let name = format!("{route_name}.{}", rule.name.clone().unwrap_or_else(|| r.to_string()));
        for (m, request) in rule.matches().into_iter().enumerate() {
            rules.push(MatchedRule {
                precedence: Precedence::of(route, &request, (r, m)),
                name: name.clone(),
                namespace: namespace.to_string(),
                rule: rule.clone(),
                request,
                port,
            });
        }
    }
    rules
}

/// The routes of a Gateway's listeners on `port`: a virtual host per hostname its routes serve
/// there, each with the rules of every route that serves it, in order of precedence. A request
/// is the most specific listener's that takes its host (an exact name, then the longest
/// wildcard, then a listener without hostname), so a name is served only with the routes of
/// that listener; a host no listener takes answers 404.
pub(super) fn gateway_routes(snapshot: &MeshSnapshot, served: &Served<'_>, port: u16) -> RouteConfiguration {
    let listeners: Vec<&Judged<'_>> = served.on_port(port).collect();
    let mut by_domain: BTreeMap<String, Vec<MatchedRule>> = BTreeMap::new();
    let mut seen: BTreeSet<(String, String, String)> = BTreeSet::new();
    for judged in &listeners {
        for (route, hostnames) in &judged.routes {
            for hostname in hostnames {
                let owner = listeners.iter().max_by_key(|l| specificity(l.listener.hostname.as_deref(), hostname));
                if !owner.is_some_and(|o| std::ptr::eq(*o, *judged)) {
                    continue;
                }
                let key = (
                    hostname.clone(),
                    super::namespace(&route.metadata).to_string(),
                    route.metadata.name.clone().unwrap_or_default(),
                );
                if seen.insert(key) {
                    by_domain.entry(hostname.clone()).or_default().extend(matched_rules(route, None));
                }
            }
        }
    }
    let gateway = served.gateway.metadata.name.as_deref().unwrap_or_default();
    let virtual_hosts = by_domain
        .into_iter()
        .map(|(domain, mut rules)| {
            rules.sort_by(|a, b| a.precedence.cmp(&b.precedence));
            VirtualHost {
                // As `metrics::RouteKey` reads it: stat names are dot-separated.
                name: format!(
                    "gateway_{}_{}_{}",
                    super::namespace(&served.gateway.metadata),
                    gateway,
                    domain.replace('.', "_")
                ),
                domains: vec![domain],
                routes: rules.iter().map(|r| envoy_route(snapshot, super::choice::COMMON, r)).collect(),
                ..VirtualHost::default()
            }
        })
        .collect();
    RouteConfiguration {
        name: gateway_route_name(port),
        virtual_hosts,
        // Routes match the name a request is for, whatever port its Host names; the Host goes
        // on as it came.
        ignore_port_in_host_matching: true,
        ..RouteConfiguration::default()
    }
}

/// The name of a Gateway proxy's route configuration for one port.
pub(super) fn gateway_route_name(port: u16) -> String {
    format!("gateway.{port}")
}

/// How specifically a listener of `hostname` takes `host`: exactly, by a wildcard (the longer
/// the more), as the catch-all, or not at all (`None`).
fn specificity(hostname: Option<&str>, host: &str) -> Option<usize> {
    match hostname {
        None => Some(0),
        Some(h) if h == host => Some(usize::MAX),
        Some(h) if crate::ingress::covers(h, host) => Some(h.len()),
        Some(_) => None,
    }
}

/// Where a (rule, match) stands among those of every route attached to the same Service: the
/// Gateway API's order, then the route's age and name, then its place in the route.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
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

/// `matched` as an Envoy route, hashing as the DestinationRules of `class` say.
fn envoy_route(snapshot: &MeshSnapshot, class: Class, matched: &MatchedRule) -> Route {
    let rule = &matched.rule;
    let (request_headers_to_add, request_headers_to_remove) = headers(&rule.filters, FilterType::RequestHeaderModifier);
    let (response_headers_to_add, response_headers_to_remove) =
        headers(&rule.filters, FilterType::ResponseHeaderModifier);
    let mut route = Route {
        name: matched.name.clone(),
        stat_prefix: super::route::rule_stat_name(Some(&matched.name), 0),
        r#match: Some(route_match(&matched.request)),
        request_headers_to_add,
        request_headers_to_remove,
        response_headers_to_add,
        response_headers_to_remove,
        ..Route::default()
    };
    let redirect =
        rule.filters.iter().filter(|f| f.kind == FilterType::RequestRedirect).find_map(|f| f.request_redirect.as_ref());
    route.action = Some(match redirect {
        Some(redirect) => route::Action::Redirect(redirect_action(redirect, &matched.request)),
        None => forward(snapshot, class, matched),
    });
    route
}

/// Sends the request to the rule's backends, by weight, rewritten and mirrored as its filters
/// say; a rule with no backend left (none written, or all of weight 0) answers 500, as the
/// Gateway API requires.
fn forward(snapshot: &MeshSnapshot, class: Class, matched: &MatchedRule) -> route::Action {
    let rule = &matched.rule;
    let backends: Vec<&HTTPBackendRef> = rule.backend_refs.iter().filter(|b| b.weight > 0).collect();
    if backends.is_empty() {
        return route::Action::DirectResponse(DirectResponseAction { status: 500, ..DirectResponseAction::default() });
    }
    let host_of = |b: &HTTPBackendRef| service_host(&b.name, b.namespace.as_deref().unwrap_or(&matched.namespace));
    // A backend the route cannot send to (not a Service of the mesh with that port, or in a
    // namespace that grants no reference) names a cluster that does not exist, so its share of
    // the requests answers 500, as the Gateway API requires.
    let cluster_of = |b: &HTTPBackendRef| match resolves(snapshot, &matched.namespace, b) {
        true => cluster_name(b.port.unwrap_or_default(), None, &host_of(b)),
        false => format!("unresolved|{}|{}", b.namespace.as_deref().unwrap_or(&matched.namespace), b.name),
    };
    let clusters = WeightedCluster {
        clusters: backends
            .iter()
            .map(|b| {
                let (request_headers_to_add, request_headers_to_remove) =
                    headers(&b.filters, FilterType::RequestHeaderModifier);
                let (response_headers_to_add, response_headers_to_remove) =
                    headers(&b.filters, FilterType::ResponseHeaderModifier);
                weighted_cluster::ClusterWeight {
                    name: cluster_of(b),
                    weight: Some(pb::uint32(b.weight)),
                    request_headers_to_add,
                    request_headers_to_remove,
                    response_headers_to_add,
                    response_headers_to_remove,
                    ..weighted_cluster::ClusterWeight::default()
                }
            })
            .collect(),
        ..WeightedCluster::default()
    };
    let timeouts = rule.timeouts.as_ref();
    let mut retries = default_retries();
    retries.per_try_timeout = timeouts.and_then(|t| t.backend_request).map(|d| pb::duration(d.0));
    let mut action = RouteAction {
        cluster_specifier: Some(route_action::ClusterSpecifier::WeightedClusters(clusters)),
        // No timeout unless the route sets one, as for a VirtualService.
        timeout: Some(pb::duration(timeouts.and_then(|t| t.request).map_or(std::time::Duration::ZERO, |d| d.0))),
        retry_policy: Some(retries),
        cluster_not_found_response_code: route_action::ClusterNotFoundResponseCode::InternalServerError as i32,
        hash_policy: destination_hash(snapshot, class, &host_of(backends[0])),
        ..RouteAction::default()
    };
    if let Some(rewrite) =
        rule.filters.iter().find(|f| f.kind == FilterType::URLRewrite).and_then(|f| f.url_rewrite.as_ref())
    {
        if let Some(host) = &rewrite.hostname {
            action.host_rewrite_specifier = Some(route_action::HostRewriteSpecifier::HostRewriteLiteral(host.clone()));
        }
        match &rewrite.path {
            Some(PathModifier::ReplaceFullPath { replace_full_path }) => {
                action.regex_rewrite = Some(whole_path(replace_full_path));
            }
            Some(PathModifier::ReplacePrefixMatch { replace_prefix_match }) => {
                match prefix_replacement(&matched.request, replace_prefix_match) {
                    PrefixReplacement::Prefix(prefix) => action.prefix_rewrite = prefix,
                    PrefixReplacement::Regex(regex) => action.regex_rewrite = Some(regex),
                }
            }
            None => {}
        }
    }
    action.request_mirror_policies = rule
        .filters
        .iter()
        .filter(|f| f.kind == FilterType::RequestMirror)
        .filter_map(|f| f.request_mirror.as_ref())
        .map(|mirror| route_action::RequestMirrorPolicy {
            cluster: cluster_of(&mirror.backend_ref),
            runtime_fraction: Some(RuntimeFractionalPercent {
                default_value: Some(pb::percent(f64::from(mirror.percent.unwrap_or(100)))),
                ..RuntimeFractionalPercent::default()
            }),
            ..route_action::RequestMirrorPolicy::default()
        })
        .collect();
    route::Action::Route(with_grpc_deadlines(action))
}

/// Whether the route in `namespace` can send to `backend`: a Service of the mesh with the port,
/// in the route's namespace or one whose ReferenceGrants let HTTPRoutes from there name it.
pub(crate) fn resolves(snapshot: &MeshSnapshot, namespace: &str, backend: &HTTPBackendRef) -> bool {
    let backend_namespace = backend.namespace.as_deref().unwrap_or(namespace);
    let host = service_host(&backend.name, backend_namespace);
    backend.is_service()
        && backend.port.is_some_and(|p| snapshot.service(&host).is_some_and(|s| s.port(p).is_some()))
        && crate::api::gateway::reference_granted(
            snapshot.reference_grants.iter().copied(),
            ("HTTPRoute", namespace),
            ("Service", backend_namespace, &backend.name),
        )
}

/// The headers to add and to remove that `filters`' modifier of `kind` (request or response)
/// says; none without one.
fn headers(filters: &[HTTPRouteFilter], kind: FilterType) -> (Vec<HeaderValueOption>, Vec<String>) {
    let modifier = filters.iter().filter(|f| f.kind == kind).find_map(|f| match kind {
        FilterType::ResponseHeaderModifier => f.response_header_modifier.as_ref(),
        _ => f.request_header_modifier.as_ref(),
    });
    modifier.map(|m| (headers_to_add(m), m.remove.clone())).unwrap_or_default()
}

fn headers_to_add(modifier: &HeaderModifier) -> Vec<HeaderValueOption> {
    use header_value_option::HeaderAppendAction::{AppendIfExistsOrAdd, OverwriteIfExistsOrAdd};
    let option = |h: &crate::api::gateway::Header, action: header_value_option::HeaderAppendAction| HeaderValueOption {
        header: Some(HeaderValue {
            key: h.name.to_ascii_lowercase(),
            value: h.value.clone(),
            ..HeaderValue::default()
        }),
        append_action: action as i32,
        ..HeaderValueOption::default()
    };
    let set = modifier.set.iter().map(|h| option(h, OverwriteIfExistsOrAdd));
    set.chain(modifier.add.iter().map(|h| option(h, AppendIfExistsOrAdd))).collect()
}

fn redirect_action(redirect: &crate::api::gateway::RequestRedirect, request: &HTTPRouteMatch) -> RedirectAction {
    use redirect_action::{PathRewriteSpecifier, RedirectResponseCode, SchemeRewriteSpecifier};
    let code = match redirect.status_code.unwrap_or(302) {
        301 => RedirectResponseCode::MovedPermanently,
        303 => RedirectResponseCode::SeeOther,
        307 => RedirectResponseCode::TemporaryRedirect,
        308 => RedirectResponseCode::PermanentRedirect,
        _ => RedirectResponseCode::Found,
    };
    let path = redirect.path.as_ref().map(|path| match path {
        PathModifier::ReplaceFullPath { replace_full_path } => {
            PathRewriteSpecifier::PathRedirect(replace_full_path.clone())
        }
        PathModifier::ReplacePrefixMatch { replace_prefix_match } => {
            match prefix_replacement(request, replace_prefix_match) {
                PrefixReplacement::Prefix(prefix) => PathRewriteSpecifier::PrefixRewrite(prefix),
                PrefixReplacement::Regex(regex) => PathRewriteSpecifier::RegexRewrite(regex),
            }
        }
    });
    RedirectAction {
        scheme_rewrite_specifier: redirect.scheme.clone().map(SchemeRewriteSpecifier::SchemeRedirect),
        host_redirect: redirect.hostname.clone().unwrap_or_default(),
        port_redirect: u32::from(redirect.port.unwrap_or_default()),
        strip_query: false,
        response_code: code as i32,
        path_rewrite_specifier: path,
    }
}

enum PrefixReplacement {
    Prefix(String),
    Regex(RegexMatchAndSubstitute),
}

/// How to replace the part of the path the rule's prefix matched. Envoy swaps the matched
/// prefix for another; `/` as the new prefix would leave a double slash (`/foo/bar` to
/// `//bar`), so that case is a regular expression that takes the slashes after the prefix too.
fn prefix_replacement(request: &HTTPRouteMatch, replacement: &str) -> PrefixReplacement {
    let matched = request.path.value.trim_end_matches('/');
    match replacement.trim_end_matches('/') {
        "" => PrefixReplacement::Regex(RegexMatchAndSubstitute {
            pattern: Some(regex(&format!("^{}/*", regex_syntax::escape(matched)))),
            substitution: "/".into(),
        }),
        prefix => PrefixReplacement::Prefix(prefix.to_string()),
    }
}

/// Replaces the whole path (Envoy keeps the query string).
fn whole_path(path: &str) -> RegexMatchAndSubstitute {
    RegexMatchAndSubstitute { pattern: Some(regex("^.*$")), substitution: path.replace('\\', "\\\\") }
}

fn route_match(request: &HTTPRouteMatch) -> RouteMatch {
    let value = &request.path.value;
    let path = match request.path.kind {
        PathMatchType::Exact => route_match::PathSpecifier::Path(value.clone()),
        PathMatchType::RegularExpression => route_match::PathSpecifier::SafeRegex(regex(value)),
        // A prefix is whole path segments: `/foo` takes `/foo` and `/foo/bar`, not `/foobar`.
        PathMatchType::PathPrefix => match value.trim_end_matches('/') {
            "" => route_match::PathSpecifier::Prefix("/".into()),
            segments => route_match::PathSpecifier::PathSeparatedPrefix(segments.to_string()),
        },
    };
    let mut headers = Vec::new();
    if let Some(method) = &request.method {
        headers.push(header_matcher(
            ":method",
            &ValueMatch { name: String::new(), value: method.clone(), ..ValueMatch::default() },
        ));
    }
    // Header names are case-insensitive; of two entries for one name, the first counts.
    for (i, h) in request.headers.iter().enumerate() {
        if !request.headers[..i].iter().any(|e| e.name.eq_ignore_ascii_case(&h.name)) {
            headers.push(header_matcher(&h.name.to_ascii_lowercase(), h));
        }
    }
    let query_parameters = request
        .query_params
        .iter()
        .enumerate()
        .filter(|(i, q)| !request.query_params[..*i].iter().any(|e| e.name == q.name))
        .map(|(_, q)| QueryParameterMatcher {
            name: q.name.clone(),
            query_parameter_match_specifier: Some(query_parameter_matcher::QueryParameterMatchSpecifier::StringMatch(
                value_matcher(q),
            )),
        })
        .collect();
    RouteMatch { path_specifier: Some(path), headers, query_parameters, ..RouteMatch::default() }
}

fn header_matcher(name: &str, value: &ValueMatch) -> HeaderMatcher {
    HeaderMatcher {
        name: name.to_string(),
        header_match_specifier: Some(header_matcher::HeaderMatchSpecifier::StringMatch(value_matcher(value))),
        ..HeaderMatcher::default()
    }
}

fn value_matcher(value: &ValueMatch) -> StringMatcher {
    let pattern = match value.kind {
        ValueMatchType::Exact => string_matcher::MatchPattern::Exact(value.value.clone()),
        ValueMatchType::RegularExpression => string_matcher::MatchPattern::SafeRegex(regex(&value.value)),
    };
    StringMatcher { match_pattern: Some(pattern), ..StringMatcher::default() }
}
