//! AuthorizationPolicy and RequestAuthentication to a sidecar's inbound HTTP filters (and
//! AuthorizationPolicy to its TCP ports' network filters), in
//! Istio's order: `jwt_authn` (which tokens are valid; a missing one passes, a bad one gets
//! 401), then RBAC with the DENY policies, then RBAC with the ALLOW policies (present only when
//! an ALLOW policy selects the workload; then a request no rule allows gets 403).
//!
//! Within a rule, `from` entries are alternatives, as are `to` entries; a rule needs one of
//! each, and every `when`. Within an entry every field must match, and a field matches when
//! any of its values does, and none of its `not` values.

use std::collections::BTreeMap;

use envoy_types::pb::envoy::config::cluster::v3::{Cluster, cluster};
use envoy_types::pb::envoy::config::core::v3::{CidrRange, DataSource, HttpUri, data_source, http_uri};
use envoy_types::pb::envoy::config::listener::v3::{Filter, filter};
use envoy_types::pb::envoy::config::rbac::v3::{
    Permission, Policy, Principal, Rbac as Rules, SourcedMetadata, permission, principal, rbac,
};
use envoy_types::pb::envoy::config::route::v3::{HeaderMatcher, RouteMatch, header_matcher, route_match};
use envoy_types::pb::envoy::extensions::filters::http::jwt_authn::v3 as jwt;
use envoy_types::pb::envoy::extensions::filters::http::rbac::v3::Rbac as RbacFilter;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3 as hcm;
use envoy_types::pb::envoy::extensions::filters::network::rbac::v3::Rbac as NetworkRbac;
use envoy_types::pb::envoy::r#type::matcher::v3::{
    ListMatcher, MetadataMatcher, OrMatcher, PathMatcher, RegexMatcher, StringMatcher, ValueMatcher, list_matcher,
    metadata_matcher, path_matcher, string_matcher, value_matcher,
};
use envoy_types::pb::google::protobuf::{Any, UInt32Value};
use prost::Name;

use super::{MeshSnapshot, pb};
use crate::api::ROOT_NAMESPACE;
use crate::api::security::{
    Action, AuthorizationPolicy, Condition, JwtRule, Operation, Rule, Source, WorkloadSelector,
};

const JWT_FILTER: &str = "envoy.filters.http.jwt_authn";
/// Where jwt_authn leaves a verified token's claims, for RBAC to match request principals.
const PAYLOAD: &str = "payload";
const JWKS_FETCH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
const JWKS_CACHE: std::time::Duration = std::time::Duration::from_secs(300);

/// Whether a policy in `policy_namespace` with `selector` applies to a workload in `namespace`
/// with `labels`.
fn applies(
    policy_namespace: Option<&String>,
    selector: Option<&WorkloadSelector>,
    namespace: &str,
    labels: &BTreeMap<String, String>,
) -> bool {
    let ns = policy_namespace.map_or("default", String::as_str);
    (ns == namespace || ns == ROOT_NAMESPACE) && selector.is_none_or(|s| s.selects(labels))
}

/// The AuthorizationPolicies with `action` that apply to the workload.
fn policies<'a>(
    snapshot: &'a MeshSnapshot,
    namespace: &str,
    labels: &BTreeMap<String, String>,
    action: Action,
) -> Vec<&'a AuthorizationPolicy> {
    snapshot
        .authorization_policies
        .iter()
        .copied()
        .filter(|ap| applies(ap.metadata.namespace.as_ref(), ap.spec.selector.as_ref(), namespace, labels))
        .filter(|ap| ap.spec.action.unwrap_or(Action::Allow) == action)
        .collect()
}

/// The filters a workload in `namespace` with `labels`, serving HTTP on `port`, runs before
/// routing, and the clusters its remote JWKS are fetched through.
pub fn inbound_filters(
    snapshot: &MeshSnapshot,
    namespace: &str,
    labels: &BTreeMap<String, String>,
    port: u16,
) -> (Vec<hcm::HttpFilter>, Vec<Cluster>) {
    let mut filters = Vec::new();
    let mut clusters = Vec::new();

    let jwt_rules: Vec<&JwtRule> = snapshot
        .request_authentications
        .iter()
        .filter(|ra| applies(ra.metadata.namespace.as_ref(), ra.spec.selector.as_ref(), namespace, labels))
        .flat_map(|ra| &ra.spec.jwt_rules)
        .collect();
    if !jwt_rules.is_empty() {
        let (filter, fetch) = jwt_authn(&jwt_rules);
        filters.push(filter);
        clusters.extend(fetch);
    }

    for action in [Action::Deny, Action::Allow] {
        let chosen = policies(snapshot, namespace, labels, action);
        if !chosen.is_empty() {
            let (suffix, rules) = rules(action, &chosen, port, false);
            let config = RbacFilter { rules_stat_prefix: format!("meshctl_{suffix}_"), ..Default::default() };
            filters.push(hcm::HttpFilter {
                name: format!("envoy.filters.http.rbac.{suffix}"),
                config_type: Some(hcm::http_filter::ConfigType::TypedConfig(with_rules(&config, &rules))),
                ..Default::default()
            });
        }
    }
    (filters, clusters)
}

/// The filters a workload in `namespace` with `labels` runs on the TCP connections to `port`
/// before they go on: RBAC on what a connection has (its peer's identity and namespace, its
/// addresses and port). As Istio does for TCP
/// (<https://istio.io/latest/docs/tasks/security/authorization/authz-tcp/>), an ALLOW rule that
/// names an HTTP-only field never matches, and a DENY rule's HTTP-only fields are dropped, so it
/// denies more rather than less.
pub fn inbound_tcp_filters(
    snapshot: &MeshSnapshot,
    namespace: &str,
    labels: &BTreeMap<String, String>,
    port: u16,
) -> Vec<Filter> {
    let mut filters = Vec::new();
    for action in [Action::Deny, Action::Allow] {
        let chosen = policies(snapshot, namespace, labels, action);
        if !chosen.is_empty() {
            let (suffix, rules) = rules(action, &chosen, port, true);
            let config = NetworkRbac { stat_prefix: format!("meshctl_{suffix}_tcp_"), ..Default::default() };
            filters.push(Filter {
                name: format!("envoy.filters.network.rbac.{suffix}"),
                config_type: Some(filter::ConfigType::TypedConfig(with_rules(&config, &rules))),
            });
        }
    }
    filters
}

/// An RBAC filter's `config` with its `rules` (encoded by [`rules`]) in field 1, where both
/// Envoy's HTTP and network RBAC filters keep them.
fn with_rules<M: prost::Message + Name>(config: &M, rules: &[u8]) -> Any {
    let mut value = config.encode_to_vec();
    pb::append_message_field(1, rules, &mut value);
    Any { type_url: M::type_url(), value }
}

/// The policies' rules for one RBAC filter, encoded (with their names in order, so the same
/// policies encode the same), and the filter's name suffix. `tcp`: as a TCP connection sees
/// them.
fn rules(action: Action, policies: &[&AuthorizationPolicy], port: u16, tcp: bool) -> (&'static str, Vec<u8>) {
    let mut named = BTreeMap::new();
    for ap in policies {
        let name = format!(
            "ns[{}]-policy[{}]",
            ap.metadata.namespace.as_deref().unwrap_or("default"),
            ap.metadata.name.as_deref().unwrap_or_default()
        );
        if ap.spec.rules.is_empty() && action == Action::Allow {
            // An ALLOW policy without rules allows nothing, but still makes the workload
            // deny whatever no other ALLOW policy allows.
            let never = Policy {
                permissions: vec![Permission::never()],
                principals: vec![Principal::never()],
                ..Default::default()
            };
            named.insert(format!("{name}-rule[0]"), never);
        }
        for (i, rule) in ap.spec.rules.iter().enumerate() {
            let rule = match (tcp, action) {
                (false, _) => rule.clone(),
                (true, Action::Deny) => rule.without_http_fields(),
                (true, _) if rule.http_only_fields().is_empty() => rule.clone(),
                (true, _) => continue,
            };
            named.insert(format!("{name}-rule[{i}]"), policy(&rule, port));
        }
    }
    let (envoy_action, suffix) = match action {
        Action::Deny => (rbac::Action::Deny, "deny"),
        _ => (rbac::Action::Allow, "allow"),
    };
    (suffix, pb::encode_with_sorted_map(&Rules { action: envoy_action as i32, ..Default::default() }, 2, &named))
}

fn policy(rule: &Rule, port: u16) -> Policy {
    let (when_permissions, when_principals): (Vec<_>, Vec<_>) = rule.when.iter().map(|c| condition(c, port)).unzip();
    let when_permissions: Vec<Permission> = when_permissions.into_iter().flatten().collect();
    let when_principals: Vec<Principal> = when_principals.into_iter().flatten().collect();
    let mut permissions: Vec<Vec<Permission>> = rule.to.iter().map(|to| operation(&to.operation, port)).collect();
    if permissions.is_empty() {
        permissions.push(vec![]);
    }
    let mut principals: Vec<Vec<Principal>> = rule.from.iter().map(|from| source(&from.source)).collect();
    if principals.is_empty() {
        principals.push(vec![]);
    }
    Policy {
        permissions: permissions
            .into_iter()
            .map(|mut all| {
                all.extend(when_permissions.iter().cloned());
                Permission::all(all)
            })
            .collect(),
        principals: principals
            .into_iter()
            .map(|mut all| {
                all.extend(when_principals.iter().cloned());
                Principal::all(all)
            })
            .collect(),
        ..Default::default()
    }
}

/// A field of a rule with its `not` form: some value must match, and no `not` value.
fn field<M: Matcher>(values: &[String], not_values: &[String], each: &dyn Fn(&str) -> M) -> Vec<M> {
    let any_of = |values: &[String]| M::either(values.iter().map(|v| each(v)).collect());
    let mut all = Vec::new();
    if !values.is_empty() {
        all.push(any_of(values));
    }
    if !not_values.is_empty() {
        all.push(any_of(not_values).negate());
    }
    all
}

/// One `to.operation`: every field that is set must match.
fn operation(op: &Operation, served: u16) -> Vec<Permission> {
    let path = |v: &str| {
        let path = PathMatcher { rule: Some(path_matcher::Rule::Path(string(v, false))) };
        Permission { rule: Some(permission::Rule::UrlPath(path)) }
    };
    [
        field(&op.hosts, &op.not_hosts, &|v| permission_header(":authority", v, true)),
        field(&op.methods, &op.not_methods, &|v| permission_header(":method", v, false)),
        field(&op.paths, &op.not_paths, &path),
        field(&op.ports, &op.not_ports, &|v| port(v, served)),
    ]
    .concat()
}

/// A port as policies name it: the port the workload serves, its service's. The sidecar's own
/// listener port is meshctl's business, so the match is settled here, once.
fn port(value: &str, served: u16) -> Permission {
    match value.parse::<u16>() {
        Ok(port) if port == served => Permission::any(),
        _ => Permission::never(),
    }
}

/// One `from.source`: every field that is set must match.
fn source(s: &Source) -> Vec<Principal> {
    [
        field(&s.principals, &s.not_principals, &peer_principal),
        field(&s.request_principals, &s.not_request_principals, &request_principal),
        field(&s.namespaces, &s.not_namespaces, &peer_namespace),
        field(&s.ip_blocks, &s.not_ip_blocks, &|v| ip(v, false)),
    ]
    .concat()
}

/// A `when` condition, as a permission (about the request's destination) or a principal
/// (about its source).
fn condition(c: &Condition, served: u16) -> (Option<Permission>, Option<Principal>) {
    let key = c.key.as_str();
    let on_source =
        |each: &dyn Fn(&str) -> Principal| (None, Some(Principal::all(field(&c.values, &c.not_values, each))));
    let on_destination =
        |each: &dyn Fn(&str) -> Permission| (Some(Permission::all(field(&c.values, &c.not_values, each))), None);
    if let Some(header) = key.strip_prefix("request.headers[").and_then(|k| k.strip_suffix(']')) {
        return on_source(&|v| principal_header(header, v));
    }
    if let Some(claims) = key.strip_prefix("request.auth.claims") {
        let path: Vec<&str> =
            claims.trim_start_matches('[').trim_end_matches(']').split("][").filter(|s| !s.is_empty()).collect();
        return on_source(&|v| claim(&path, v));
    }
    match key {
        "source.ip" => on_source(&|v| ip(v, false)),
        "remote.ip" => on_source(&|v| ip(v, true)),
        "source.namespace" => on_source(&peer_namespace),
        "source.principal" => on_source(&peer_principal),
        "request.auth.principal" => on_source(&request_principal),
        "request.auth.audiences" => on_source(&|v| claim(&["aud"], v)),
        "request.auth.presenter" => on_source(&|v| claim(&["azp"], v)),
        "destination.port" => on_destination(&|v| port(v, served)),
        "destination.ip" => on_destination(&|v| match cidr(v) {
            Some(range) => Permission { rule: Some(permission::Rule::DestinationIp(range)) },
            None => Permission::never(),
        }),
        "connection.sni" => {
            on_destination(&|v| Permission { rule: Some(permission::Rule::RequestedServerName(string(v, false))) })
        }
        // Validation admits only the keys above; an unknown one matches nothing.
        _ => (None, Some(Principal::never())),
    }
}

/// Istio's wildcards: `*` is anything non-empty, `x*` a prefix, `*x` a suffix.
fn string(value: &str, ignore_case: bool) -> StringMatcher {
    use string_matcher::MatchPattern;
    let pattern = if value == "*" {
        MatchPattern::SafeRegex(regex(".+"))
    } else if let Some(prefix) = value.strip_suffix('*') {
        MatchPattern::Prefix(prefix.into())
    } else if let Some(suffix) = value.strip_prefix('*') {
        MatchPattern::Suffix(suffix.into())
    } else {
        MatchPattern::Exact(value.into())
    };
    StringMatcher { match_pattern: Some(pattern), ignore_case }
}

fn regex(regex: &str) -> RegexMatcher {
    RegexMatcher { regex: regex.into(), ..Default::default() }
}

/// A peer's mTLS identity, written as Istio writes principals: without `spiffe://`.
fn peer_principal(value: &str) -> Principal {
    let name = if value.starts_with('*') { string(value, false) } else { string(&format!("spiffe://{value}"), false) };
    Principal {
        identifier: Some(principal::Identifier::Authenticated(principal::Authenticated { principal_name: Some(name) })),
    }
}

/// Every peer identity in a namespace (with Istio's wildcards on the namespace's name).
fn peer_namespace(value: &str) -> Principal {
    let namespace = match value {
        "*" => ".+".to_string(),
        v => v.split('*').map(regex_syntax::escape).collect::<Vec<_>>().join(".*"),
    };
    let name = StringMatcher {
        match_pattern: Some(string_matcher::MatchPattern::SafeRegex(regex(&format!(
            "spiffe://[^/]+/ns/{namespace}/sa/[^/]+"
        )))),
        ignore_case: false,
    };
    Principal {
        identifier: Some(principal::Identifier::Authenticated(principal::Authenticated { principal_name: Some(name) })),
    }
}

/// A verified token's `ISSUER/SUBJECT` (split at the last `/`, as issuers are often URLs);
/// `*` is any verified token.
fn request_principal(value: &str) -> Principal {
    let (issuer, subject) = match value.rsplit_once('/') {
        Some((issuer, subject)) => (issuer, subject),
        None if value.starts_with('*') && value != "*" => ("*", value),
        None if value.ends_with('*') => (value, "*"),
        None => (value, ""),
    };
    let claim_matches = |name: &str, v: &str| {
        let matcher = string(v, false);
        metadata(&[name], ValueMatcher { match_pattern: Some(value_matcher::MatchPattern::StringMatch(matcher)) })
    };
    Principal::all(vec![claim_matches("iss", issuer), claim_matches("sub", subject)])
}

/// A claim of the verified token, a string or a list holding the value.
fn claim(path: &[&str], value: &str) -> Principal {
    let is = ValueMatcher { match_pattern: Some(value_matcher::MatchPattern::StringMatch(string(value, false))) };
    let holds = ValueMatcher {
        match_pattern: Some(value_matcher::MatchPattern::ListMatch(Box::new(ListMatcher {
            match_pattern: Some(list_matcher::MatchPattern::OneOf(Box::new(is.clone()))),
        }))),
    };
    metadata(
        path,
        ValueMatcher {
            match_pattern: Some(value_matcher::MatchPattern::OrMatch(OrMatcher { value_matchers: vec![is, holds] })),
        },
    )
}

fn metadata(path: &[&str], value: ValueMatcher) -> Principal {
    let segment = |key: &str| metadata_matcher::PathSegment {
        segment: Some(metadata_matcher::path_segment::Segment::Key(key.into())),
    };
    let matcher = MetadataMatcher {
        filter: JWT_FILTER.into(),
        path: std::iter::once(PAYLOAD).chain(path.iter().copied()).map(segment).collect(),
        value: Some(value),
        invert: false,
    };
    Principal {
        identifier: Some(principal::Identifier::SourcedMetadata(SourcedMetadata {
            metadata_matcher: Some(matcher),
            ..Default::default()
        })),
    }
}

fn permission_header(name: &str, value: &str, ignore_case: bool) -> Permission {
    Permission { rule: Some(permission::Rule::Header(header(name, value, ignore_case))) }
}

fn principal_header(name: &str, value: &str) -> Principal {
    Principal { identifier: Some(principal::Identifier::Header(header(name, value, false))) }
}

fn header(name: &str, value: &str, ignore_case: bool) -> HeaderMatcher {
    let specifier = if value == "*" {
        header_matcher::HeaderMatchSpecifier::PresentMatch(true)
    } else {
        header_matcher::HeaderMatchSpecifier::StringMatch(string(value, ignore_case))
    };
    HeaderMatcher { name: name.into(), header_match_specifier: Some(specifier), ..Default::default() }
}

/// An address block: `10.0.0.0/8`, or one address.
fn cidr(value: &str) -> Option<CidrRange> {
    let (address, len) = match value.split_once('/') {
        Some((address, len)) => (address, Some(len.parse::<u32>().ok()?)),
        None => (value, None),
    };
    let ip: std::net::IpAddr = address.parse().ok()?;
    let full = if ip.is_ipv4() { 32 } else { 128 };
    let len = len.unwrap_or(full);
    (len <= full).then(|| CidrRange { address_prefix: ip.to_string(), prefix_len: Some(UInt32Value { value: len }) })
}

/// The connection's peer address, or (`remote`) the client's as forwarded headers say.
fn ip(value: &str, remote: bool) -> Principal {
    match cidr(value) {
        Some(range) if remote => Principal { identifier: Some(principal::Identifier::RemoteIp(range)) },
        Some(range) => Principal { identifier: Some(principal::Identifier::DirectRemoteIp(range)) },
        // Validation admits only address blocks; anything else matches nothing.
        None => Principal::never(),
    }
}

/// What RBAC combines: permissions (about the request) and principals (about its source)
/// are two message types built the same way.
trait Matcher: Sized {
    fn any() -> Self;
    fn negate(self) -> Self;
    fn and_set(items: Vec<Self>) -> Self;
    fn or_set(items: Vec<Self>) -> Self;

    fn never() -> Self {
        Self::any().negate()
    }

    /// Every one of `items`. Envoy refuses empty sets: no condition at all is "anything".
    fn all(mut items: Vec<Self>) -> Self {
        match items.len() {
            0 => Self::any(),
            1 => items.remove(0),
            _ => Self::and_set(items),
        }
    }

    /// One of `items`, which are never none.
    fn either(mut items: Vec<Self>) -> Self {
        match items.len() {
            1 => items.remove(0),
            _ => Self::or_set(items),
        }
    }
}

impl Matcher for Permission {
    fn any() -> Self {
        Permission { rule: Some(permission::Rule::Any(true)) }
    }

    fn negate(self) -> Self {
        Permission { rule: Some(permission::Rule::NotRule(Box::new(self))) }
    }

    fn and_set(rules: Vec<Self>) -> Self {
        Permission { rule: Some(permission::Rule::AndRules(permission::Set { rules })) }
    }

    fn or_set(rules: Vec<Self>) -> Self {
        Permission { rule: Some(permission::Rule::OrRules(permission::Set { rules })) }
    }
}

impl Matcher for Principal {
    fn any() -> Self {
        Principal { identifier: Some(principal::Identifier::Any(true)) }
    }

    fn negate(self) -> Self {
        Principal { identifier: Some(principal::Identifier::NotId(Box::new(self))) }
    }

    fn and_set(ids: Vec<Self>) -> Self {
        Principal { identifier: Some(principal::Identifier::AndIds(principal::Set { ids })) }
    }

    fn or_set(ids: Vec<Self>) -> Self {
        Principal { identifier: Some(principal::Identifier::OrIds(principal::Set { ids })) }
    }
}

/// jwt_authn with one provider per rule; a request passes with a token one of them verifies,
/// or with none at all.
fn jwt_authn(rules: &[&JwtRule]) -> (hcm::HttpFilter, Vec<Cluster>) {
    let mut providers = BTreeMap::new();
    let mut clusters: BTreeMap<String, Cluster> = BTreeMap::new();
    for (i, rule) in rules.iter().enumerate() {
        let keys = match (&rule.jwks, &rule.jwks_uri) {
            (Some(inline), _) => jwt::jwt_provider::JwksSourceSpecifier::LocalJwks(DataSource {
                specifier: Some(data_source::Specifier::InlineString(inline.clone())),
                ..Default::default()
            }),
            (None, uri) => {
                let uri = uri.clone().unwrap_or_default();
                let fetch = jwks_cluster(&uri);
                let remote = jwt::RemoteJwks {
                    http_uri: Some(HttpUri {
                        uri,
                        timeout: Some(pb::duration(JWKS_FETCH_TIMEOUT)),
                        http_upstream_type: Some(http_uri::HttpUpstreamType::Cluster(fetch.name.clone())),
                    }),
                    cache_duration: Some(pb::duration(JWKS_CACHE)),
                    ..Default::default()
                };
                clusters.insert(fetch.name.clone(), fetch);
                jwt::jwt_provider::JwksSourceSpecifier::RemoteJwks(remote)
            }
        };
        let provider = jwt::JwtProvider {
            issuer: rule.issuer.clone(),
            audiences: rule.audiences.clone(),
            forward: rule.forward_original_token.unwrap_or(false),
            from_headers: rule
                .from_headers
                .iter()
                .map(|h| jwt::JwtHeader { name: h.name.clone(), value_prefix: h.prefix.clone().unwrap_or_default() })
                .collect(),
            from_params: rule.from_params.clone(),
            forward_payload_header: rule.output_payload_to_header.clone().unwrap_or_default(),
            payload_in_metadata: PAYLOAD.into(),
            jwks_source_specifier: Some(keys),
            ..Default::default()
        };
        providers.insert(format!("origins-{i}"), provider);
    }
    let mut requirements: Vec<jwt::JwtRequirement> = providers
        .keys()
        .map(|name| jwt::JwtRequirement {
            requires_type: Some(jwt::jwt_requirement::RequiresType::ProviderName(name.clone())),
        })
        .collect();
    requirements.push(jwt::JwtRequirement {
        requires_type: Some(jwt::jwt_requirement::RequiresType::AllowMissing(Default::default())),
    });
    let config = jwt::JwtAuthentication {
        rules: vec![jwt::RequirementRule {
            r#match: Some(RouteMatch {
                path_specifier: Some(route_match::PathSpecifier::Prefix("/".into())),
                ..Default::default()
            }),
            requirement_type: Some(jwt::requirement_rule::RequirementType::Requires(jwt::JwtRequirement {
                requires_type: Some(jwt::jwt_requirement::RequiresType::RequiresAny(jwt::JwtRequirementOrList {
                    requirements,
                })),
            })),
        }],
        ..Default::default()
    };
    let value = pb::encode_with_sorted_map(&config, 1, &providers);
    let filter = hcm::HttpFilter {
        name: JWT_FILTER.into(),
        config_type: Some(hcm::http_filter::ConfigType::TypedConfig(Any {
            type_url: jwt::JwtAuthentication::type_url(),
            value,
        })),
        ..Default::default()
    };
    (filter, clusters.into_values().collect())
}

/// The cluster a JWKS URI is fetched through: its host by DNS, over TLS for https with the
/// system's roots.
fn jwks_cluster(uri: &str) -> Cluster {
    // Validation admits only http(s) URLs.
    let (scheme, rest) = uri.split_once("://").unwrap_or(("http", uri));
    let https = scheme.eq_ignore_ascii_case("https");
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let (host, port) = match authority.rsplit_once(':') {
        // A colon inside brackets belongs to an IPv6 address, not to a port.
        Some((host, port)) if !port.contains(']') => (host, port.parse().ok()),
        _ => (authority, None),
    };
    let host = host.trim_matches(['[', ']']).to_string();
    let port: u16 = port.unwrap_or(if https { 443 } else { 80 });
    let name = format!("jwks|{host}|{port}");
    let mut cluster = Cluster {
        alt_stat_name: name.replace(['.', '|', ':'], "_"),
        cluster_discovery_type: Some(cluster::ClusterDiscoveryType::Type(cluster::DiscoveryType::StrictDns as i32)),
        connect_timeout: Some(pb::duration(JWKS_FETCH_TIMEOUT)),
        load_assignment: Some(super::dns_load_assignment(&name, [(host.as_str(), port)])),
        name,
        ..Default::default()
    };
    if https {
        cluster.transport_socket = Some(super::security::origination(&host, Some(super::security::system_roots())));
    }
    cluster
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jwks_uri_names_the_cluster_it_is_fetched_through() {
        let cases = [
            ("https://auth.example.com/.well-known/jwks.json", "jwks|auth.example.com|443", true),
            ("http://127.0.0.1:8080/jwks.json", "jwks|127.0.0.1|8080", false),
            ("https://[::1]:8443/keys", "jwks|::1|8443", true),
            ("http://[::1]/keys", "jwks|::1|80", false),
            ("https://user@auth.example.com:9443?x=1", "jwks|auth.example.com|9443", true),
        ];
        for (uri, name, tls) in cases {
            let cluster = jwks_cluster(uri);
            assert_eq!((cluster.name.as_str(), cluster.transport_socket.is_some()), (name, tls), "{uri}");
        }
    }

    #[test]
    fn a_port_is_the_one_the_workload_serves() {
        assert_eq!(port("80", 80), Permission::any());
        assert_eq!(port("8080", 80), Permission::never());
        assert_eq!(port("http", 80), Permission::never());
    }

    #[test]
    fn istio_wildcards_become_string_matchers() {
        use string_matcher::MatchPattern::*;
        let pattern = |v: &str| string(v, false).match_pattern.unwrap();
        assert_eq!(pattern("*"), SafeRegex(regex(".+")));
        assert_eq!(pattern("/api/*"), Prefix("/api/".into()));
        assert_eq!(pattern("*.js"), Suffix(".js".into()));
        assert_eq!(pattern("/exact"), Exact("/exact".into()));
    }

    #[test]
    fn a_namespace_matches_whole_path_segments_of_the_identity() {
        let Some(principal::Identifier::Authenticated(a)) = peer_namespace("shop.v1").identifier else { panic!() };
        let Some(string_matcher::MatchPattern::SafeRegex(r)) = a.principal_name.unwrap().match_pattern else {
            panic!()
        };
        assert_eq!(r.regex, r"spiffe://[^/]+/ns/shop\.v1/sa/[^/]+", "dots are literal");
    }
}
