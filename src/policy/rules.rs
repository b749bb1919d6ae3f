//! Rules about one resource at a time: what the schema cannot say (sums, one-of choices,
//! syntax inside strings, rules that shadow each other).

use super::Sink;
use super::finding::Code;
use super::names;
use super::path::{Path, field};
use crate::api::Resource;
use crate::api::gateway::{HTTPRouteSpec, PathMatchType, ValueMatchType};
use crate::api::meshctl::{CanarySpec, WorkloadSpec};
use crate::api::networking::{
    DestinationRuleSpec, HttpMatchRequest, HttpRoute, HttpRouteDestination, LoadBalancerSettings, Resolution,
    ServiceEntrySpec, SidecarSpec, StringMatch, TrafficPolicy, VirtualServiceSpec,
};
use crate::api::security::{Action, AuthorizationPolicySpec, PeerAuthenticationSpec, RequestAuthenticationSpec, Rule};

pub(super) fn check(resource: &Resource, sink: &mut Sink) {
    match resource {
        Resource::VirtualService(vs) => {
            export_to(&vs.spec.export_to, false, sink);
            virtual_service(&vs.spec, sink);
        }
        Resource::DestinationRule(dr) => {
            export_to(&dr.spec.export_to, false, sink);
            destination_rule(&dr.spec, sink);
        }
        Resource::ServiceEntry(se) => {
            export_to(&se.spec.export_to, true, sink);
            service_entry(&se.spec, sink);
        }
        Resource::Sidecar(sidecar) => sidecar_egress(&sidecar.spec, resource.namespace(), sink),
        Resource::HTTPRoute(route) => gateway_api_route(&route.spec, sink),
        Resource::Gateway(gateway) => gateway_listeners(&gateway.spec, sink),
        // What the schema checks is all there is to them.
        Resource::GatewayClass(_) | Resource::ReferenceGrant(_) => {}
        Resource::IstioGateway(gateway) => gateway_servers(&gateway.spec, sink),
        Resource::PeerAuthentication(pa) => peer_authentication(&pa.spec, sink),
        Resource::AuthorizationPolicy(ap) => authorization_policy(&ap.spec, sink),
        Resource::RequestAuthentication(ra) => request_authentication(&ra.spec, sink),
        Resource::Canary(c) => canary(&c.spec, sink),
        // One flag, which the schema checks.
        Resource::CertificateRotation(_) => {}
        Resource::Workload(w) => workload(&w.spec, sink),
    }
}

/// An `exportTo`: namespaces, `.` (its own), or `*` (every namespace) alone; or, for a service
/// (`to_none`), `~` (none) alone. Istio hides no VirtualService or DestinationRule from every
/// namespace.
fn export_to(namespaces: &[String], to_none: bool, sink: &mut Sink) {
    for (i, namespace) in namespaces.iter().enumerate() {
        let at = field!["spec", "exportTo", i];
        if namespace == "~" && !to_none {
            sink.path(&at, Code::InvalidValue, format!("{at}: \"~\" (no namespace) exports only services: export to \".\" to keep this to its own namespace"));
            continue;
        }
        let alone = matches!(namespace.as_str(), "*" | "~");
        if alone && namespaces.len() > 1 {
            let meaning = if namespace == "*" { "every namespace" } else { "no namespace" };
            sink.path(
                &at,
                Code::ConflictingSettings,
                format!("{at}: {namespace:?} ({meaning}) stands alone in exportTo; remove it or the other entries"),
            );
        } else if !alone && namespace != "." && !names::is_dns_label(namespace) {
            sink.path(&at, Code::InvalidValue, format!("{at}: {namespace:?} is not a namespace: use a namespace's name, \".\" (this one's), \"*\" (every one) or \"~\" (none)"));
        } else if namespaces[..i].contains(namespace) {
            sink.path(&at, Code::SuspiciousSetting, format!("{at}: {namespace:?} is already in exportTo; remove it"));
        }
    }
}

/// A Sidecar's egress: one listener (more need ports, which meshctl does not support), whose
/// hosts are `NAMESPACE/DNS_NAME`.
fn sidecar_egress(spec: &SidecarSpec, namespace: &str, sink: &mut Sink) {
    if spec.egress.len() > 1 {
        sink.path(&field!["spec", "egress", 1], Code::Unsupported, "spec.egress[1]: more than one egress listener is valid Istio when each has a port, which meshctl does not support; put every host in spec.egress[0].hosts");
    }
    for (e, egress) in spec.egress.iter().enumerate() {
        for (h, host) in egress.hosts.iter().enumerate() {
            let at = field!["spec", "egress", e, "hosts", h];
            let Some((ns, name)) = host.split_once('/') else {
                sink.path(&at, Code::InvalidHost, format!("{at}: {host:?} names no namespace: write NAMESPACE/HOST, such as \"./*\" (the workload's namespace), \"*/{host}\" or \"istio-system/*\""));
                continue;
            };
            if !matches!(ns, "*" | "." | "~") && !names::is_dns_label(ns) {
                sink.path(&at, Code::InvalidHost, format!("{at}: {ns:?} is not a namespace: use a namespace's name, \".\" (the workload's), \"*\" (any) or \"~\" (none)"));
            } else if !names::is_host(name) {
                sink.path(&at, Code::InvalidHost, format!("{at}: {name:?} is not a valid host: use a fully qualified name like `profile.shop.svc.cluster.local`, `*.example.com` or `*`"));
            } else if name != "*" && !name.contains('.') {
                let ns = if matches!(ns, "." | "*") { namespace } else { ns };
                sink.path(&at, Code::SuspiciousSetting, format!("{at}: {name:?} is a short name, and egress hosts match services by their fully qualified names only; write {}", names::service_host(name, ns)));
            }
        }
    }
}

fn host(host: &str, at: &Path, sink: &mut Sink) {
    if !names::is_host(host) {
        sink.path(at, Code::InvalidHost, format!("{at}: {host:?} is not a valid host: use a service name like `profile` or `profile.shop.svc.cluster.local`"));
    }
}

fn virtual_service(spec: &VirtualServiceSpec, sink: &mut Sink) {
    if spec.hosts.is_empty() {
        sink.path(
            &field!["spec", "hosts"],
            Code::MissingField,
            "spec.hosts is empty: name at least one host this VirtualService routes",
        );
    }
    for (i, h) in spec.hosts.iter().enumerate() {
        host(h, &field!["spec", "hosts", i], sink);
    }
    for (i, route) in spec.http.iter().enumerate() {
        http_route(route, &field!["spec", "http", i], sink);
    }
    for (i, route) in spec.tcp.iter().enumerate() {
        destinations(&route.route, &field!["spec", "tcp", i], "connections", sink);
    }
    for (i, route) in spec.tls.iter().enumerate() {
        let at = field!["spec", "tls", i];
        destinations(&route.route, &at, "connections", sink);
        for (m, matched) in route.matches.iter().enumerate() {
            for (s, sni) in matched.sni_hosts.iter().enumerate() {
                let at = at.child("match").child(m).child("sniHosts").child(s);
                if !spec.hosts.iter().any(|h| crate::api::host_matches(h, sni) || crate::api::host_matches(sni, h)) {
                    sink.path(&at, Code::InvalidHost, format!("{at}: {sni} is not one of the VirtualService's hosts [{}], so no connection for it is routed here; add it to spec.hosts or fix the name", spec.hosts.join(", ")));
                }
            }
        }
    }
    unreachable_rules(&spec.http, sink);
}

/// A rule's destinations: at least one, each a valid host, and weights that add up to 100.
fn destinations(route: &[HttpRouteDestination], at: &Path, what: &str, sink: &mut Sink) {
    if route.is_empty() {
        sink.path(
            at,
            Code::MissingDestination,
            format!("{at} has no `route`: add at least one destination for the {what} it matches"),
        );
    }
    for (d, dest) in route.iter().enumerate() {
        host(&dest.destination.host, &at.child("route").child(d).child("destination").child("host"), sink);
    }
    let sum: u32 = route.iter().map(|d| d.weight.unwrap_or(0)).sum();
    if route.len() > 1 && sum != 100 {
        let detail = if sum == 0 {
            "all are 0, so no destination would get traffic".to_string()
        } else {
            format!("they add up to {sum}")
        };
        sink.path(
            &at.child("route"),
            Code::WeightSum,
            format!(
                "{at}: the weights of the destinations must add up to 100, but {detail}; adjust them so they total 100"
            ),
        );
    } else if route.len() == 1 && matches!(route[0].weight, Some(w) if w != 100) {
        sink.path(
            &at.child("route").child(0).child("weight"),
            Code::WeightSum,
            format!("{at}: a single destination takes all the traffic; set its weight to 100 or remove it"),
        );
    }
}

fn http_route(route: &HttpRoute, at: &Path, sink: &mut Sink) {
    for (m, request) in route.matches.iter().enumerate() {
        let at = at.child("match").child(m);
        let fields = [("uri", &request.uri), ("method", &request.method), ("authority", &request.authority)];
        for (field, sm) in fields {
            if let Some(sm) = sm {
                string_match(sm, &at.child(field), sink);
            }
        }
        let maps = [
            ("headers", &request.headers),
            ("queryParams", &request.query_params),
            ("withoutHeaders", &request.without_headers),
        ];
        for (field, map) in maps {
            for (name, sm) in map {
                let at = at.child(field).child(name);
                if field != "queryParams" && name.chars().any(|c| c.is_ascii_uppercase()) {
                    sink.path(
                        &at,
                        Code::InvalidMatch,
                        format!("{at}: header names must be lowercase; write {:?}", name.to_ascii_lowercase()),
                    );
                }
                string_match(sm, &at, sink);
            }
        }
    }
    destinations(&route.route, at, "requests", sink);
    if let Some(mirror) = &route.mirror {
        host(&mirror.host, &at.child("mirror").child("host"), sink);
    } else if route.mirror_percentage.is_some() {
        sink.path(
            &at.child("mirrorPercentage"),
            Code::SuspiciousSetting,
            format!("{at}: mirrorPercentage has no effect without `mirror`"),
        );
    }
    if let Some(retries) = &route.retries {
        if let Some(retry_on) = &retries.retry_on {
            retry_conditions(retry_on, &at.child("retries").child("retryOn"), sink);
        }
        if let (Some(per_try), Some(timeout)) = (retries.per_try_timeout, route.timeout)
            && !timeout.0.is_zero()
            && per_try > timeout
        {
            sink.path(
                &at.child("retries").child("perTryTimeout"),
                Code::SuspiciousSetting,
                format!("{at}: perTryTimeout ({per_try}) is longer than the route's timeout ({timeout}), so no retry would ever run"),
            );
        }
    }
    if let Some(fault) = &route.fault
        && fault.delay.is_none()
        && fault.abort.is_none()
    {
        sink.path(&at.child("fault"), Code::ConflictingSettings, format!("{at}: fault needs a `delay` or an `abort`"));
    }
}

fn string_match(sm: &StringMatch, at: &Path, sink: &mut Sink) {
    let set = [sm.exact.is_some(), sm.prefix.is_some(), sm.regex.is_some()].iter().filter(|s| **s).count();
    if set != 1 {
        sink.path(
            at,
            Code::InvalidMatch,
            format!("{at}: set exactly one of `exact`, `prefix` or `regex` (found {set})"),
        );
    }
    if let Some(re) = &sm.regex {
        regex(re, &at.child("regex"), sink);
    }
}

fn regex(re: &str, at: &Path, sink: &mut Sink) {
    if let Err(e) = regex_syntax::Parser::new().parse(re) {
        // regex-syntax draws the pattern with a caret; its last line says what is wrong.
        let text = e.to_string();
        let reason = text.lines().last().unwrap_or_default().trim().trim_start_matches("error: ");
        sink.path(at, Code::InvalidMatch, format!("{at}: {re:?} is not a valid RE2 regular expression: {reason}"));
    }
}

/// An Istio Gateway's servers: hosts, each `[namespace/]host`.
fn gateway_servers(spec: &crate::api::networking::GatewaySpec, sink: &mut Sink) {
    for (i, server) in spec.servers.iter().enumerate() {
        for (h, (namespace, name)) in server.host_entries().enumerate() {
            let at = field!["spec", "servers", i, "hosts", h];
            if !(matches!(namespace, "*" | ".") || names::is_dns_label(namespace)) {
                sink.path(
                    &at,
                    Code::InvalidHost,
                    format!("{at}: {namespace:?} is not a namespace: write `NAMESPACE/HOST`, `*/HOST` or `HOST`"),
                );
            }
            if name != "*" {
                host(name, &at, sink);
            }
        }
    }
}

/// A Gateway of the Gateway API: what its listeners ask that meshctl's gateways cannot serve.
/// The Gateway is stored all the same, and its listeners' status says so.
fn gateway_listeners(spec: &crate::api::gateway::GatewaySpec, sink: &mut Sink) {
    for (i, listener) in spec.listeners.iter().enumerate() {
        let at = field!["spec", "listeners", i];
        if !matches!(listener.protocol.as_str(), "HTTP" | "HTTPS") {
            let at = at.child("protocol");
            sink.path(&at, Code::UnresolvedReference, format!("{at}: meshctl's gateways serve HTTP and HTTPS listeners, not {}; this listener will not be programmed", listener.protocol));
        }
        for (c, certificate) in listener.tls.iter().flat_map(|t| t.certificate_refs.iter()).enumerate() {
            if !certificate.is_secret() {
                let at = at.child("tls").child("certificateRefs").child(c);
                sink.path(&at, Code::UnresolvedReference, format!("{at}: a certificate is a Secret (group: \"\", kind: Secret); this listener will not be programmed"));
            }
        }
    }
}

/// An HTTPRoute: attached to Services (mesh traffic) or Gateways (ingress), and sending to
/// Services by port.
fn gateway_api_route(spec: &HTTPRouteSpec, sink: &mut Sink) {
    if spec.parent_refs.is_empty() {
        sink.path(
            &field!["spec", "parentRefs"],
            Code::MissingField,
            "spec.parentRefs is empty, so the route applies nowhere: name the Service whose traffic it routes (group: \"\", kind: Service), or the Gateway it serves",
        );
    }
    for (i, parent) in spec.parent_refs.iter().enumerate() {
        if parent.is_service() && parent.section_name.is_some() {
            let at = field!["spec", "parentRefs", i, "sectionName"];
            sink.path(
                &at,
                Code::Unsupported,
                format!("{at}: meshctl does not pick a Service's port by its name; name it by number with `port`"),
            );
        }
        if !parent.is_service() && !parent.is_gateway() {
            let at = field!["spec", "parentRefs", i];
            let kind = parent.kind.as_deref().unwrap_or("Gateway");
            sink.path(&at, Code::UnresolvedReference, format!("{at}: meshctl attaches HTTPRoutes to Services (group: \"\", kind: Service) and Gateways, not to a {kind}"));
        }
    }
    for (r, rule) in spec.rules.iter().enumerate() {
        let at = field!["spec", "rules", r];
        for (m, request) in rule.matches.iter().enumerate() {
            let at = at.child("matches").child(m);
            if request.path.kind == PathMatchType::RegularExpression {
                regex(&request.path.value, &at.child("path").child("value"), sink);
            } else if !request.path.value.starts_with('/') {
                let path = at.child("path").child("value");
                sink.path(
                    &path,
                    Code::InvalidMatch,
                    format!("{path}: a path starts with `/`; write \"/{}\"", request.path.value),
                );
            }
            for (field, values) in [("headers", &request.headers), ("queryParams", &request.query_params)] {
                for (v, value) in values.iter().enumerate() {
                    if value.kind == ValueMatchType::RegularExpression {
                        regex(&value.value, &at.child(field).child(v).child("value"), sink);
                    }
                }
            }
        }
        for (f, filter) in rule.filters.iter().enumerate() {
            if let Some(mirror) = &filter.request_mirror {
                let at = at.child("filters").child(f).child("requestMirror").child("backendRef");
                if !mirror.backend_ref.is_service() || mirror.backend_ref.port.is_none() {
                    sink.path(&at, Code::MissingField, format!("{at}: a mirror goes to a Service, with its `port`"));
                }
            }
        }
        for (b, backend) in rule.backend_refs.iter().enumerate() {
            let at = at.child("backendRefs").child(b);
            if !backend.is_service() {
                let kind = backend.kind.as_deref().unwrap_or("Service");
                sink.path(
                    &at,
                    Code::UnresolvedReference,
                    format!("{at}: meshctl sends requests to Services only, not to a {kind}; requests this backend would take fail with 500"),
                );
            } else if backend.port.is_none() {
                sink.path(
                    &at,
                    Code::MissingField,
                    format!("{at}: a Service backend needs its `port`: add the port of {} to send to", backend.name),
                );
            }
        }
        if let Some(timeouts) = &rule.timeouts
            && let (Some(request), Some(backend)) = (timeouts.request, timeouts.backend_request)
            && !request.0.is_zero()
            && backend > request
        {
            let at = at.child("timeouts").child("backendRequest");
            sink.path(&at, Code::ConflictingSettings, format!("{at} ({backend}) is longer than the request timeout ({request}); the Gateway API requires it to be no longer"));
        }
    }
}

/// Conditions Envoy's router accepts in `x-envoy-retry-on` (and gRPC's `x-envoy-retry-grpc-on`).
const RETRY_ON: &[&str] = &[
    "5xx",
    "gateway-error",
    "reset",
    "reset-before-request",
    "connect-failure",
    "envoy-ratelimited",
    "retriable-4xx",
    "refused-stream",
    "retriable-status-codes",
    "retriable-headers",
    "http3-post-connect-failure",
    "cancelled",
    "deadline-exceeded",
    "internal",
    "resource-exhausted",
    "unavailable",
];

fn retry_conditions(retry_on: &str, at: &Path, sink: &mut Sink) {
    for condition in retry_on.split(',').map(str::trim) {
        let is_status = condition.parse::<u16>().is_ok_and(|s| (100..=599).contains(&s));
        if !is_status && !RETRY_ON.contains(&condition) {
            let hint = names::nearest(condition, RETRY_ON.iter().copied())
                .map(|n| format!("did you mean {n}? "))
                .unwrap_or_default();
            sink.path(at, Code::InvalidRetryOn, format!("{at}: {condition:?} is not a retry condition; {hint}use e.g. 5xx, connect-failure, gateway-error or a status code"));
        }
    }
}

/// Warns about HTTP rules that can never match because an earlier rule matches every request
/// they would.
fn unreachable_rules(routes: &[HttpRoute], sink: &mut Sink) {
    for (j, later) in routes.iter().enumerate().skip(1) {
        let shadowing = routes[..j].iter().position(|earlier| {
            let catch_all =
                earlier.matches.is_empty() || earlier.matches.iter().any(|m| covers(m, &HttpMatchRequest::default()));
            catch_all
                || (!later.matches.is_empty()
                    && later.matches.iter().all(|b| earlier.matches.iter().any(|a| covers(a, b))))
        });
        if let Some(i) = shadowing {
            sink.path(
                &field!["spec", "http", j],
                Code::UnreachableRule,
                format!("spec.http[{j}] can never match: spec.http[{i}] comes first and matches every request it would; move it above, or narrow the earlier rule"),
            );
        }
    }
}

/// Whether every request matching `b` also matches `a`. Conservative: when unsure, false.
fn covers(a: &HttpMatchRequest, b: &HttpMatchRequest) -> bool {
    let field = |fa: &Option<StringMatch>, fb: &Option<StringMatch>| match (fa, fb) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(x), Some(y)) => match_covers(x, y),
    };
    let map = |ma: &std::collections::BTreeMap<String, StringMatch>,
               mb: &std::collections::BTreeMap<String, StringMatch>| {
        ma.iter().all(|(k, x)| mb.get(k).is_some_and(|y| match_covers(x, y)))
    };
    a.ignore_uri_case.unwrap_or(false) == b.ignore_uri_case.unwrap_or(false)
        && field(&a.uri, &b.uri)
        && field(&a.method, &b.method)
        && field(&a.authority, &b.authority)
        && map(&a.headers, &b.headers)
        && map(&a.query_params, &b.query_params)
        && a.without_headers.iter().all(|(k, x)| b.without_headers.get(k) == Some(x))
}

fn match_covers(a: &StringMatch, b: &StringMatch) -> bool {
    let b_text = b.exact.as_ref().or(b.prefix.as_ref());
    match (&a.exact, &a.prefix, &a.regex) {
        (Some(x), None, None) => b.exact.as_ref() == Some(x),
        (None, Some(p), None) => p.is_empty() || b_text.is_some_and(|t| t.starts_with(p.as_str())),
        (None, None, Some(r)) => r == ".*" || b.regex.as_ref() == Some(r),
        _ => false,
    }
}

fn destination_rule(spec: &DestinationRuleSpec, sink: &mut Sink) {
    host(&spec.host, &field!["spec", "host"], sink);
    if let Some(policy) = &spec.traffic_policy {
        traffic_policy(policy, &field!["spec", "trafficPolicy"], sink);
    }
    for (i, subset) in spec.subsets.iter().enumerate() {
        let at = field!["spec", "subsets", i];
        if let Some(first) = spec.subsets[..i].iter().position(|s| s.name == subset.name) {
            sink.path(
                &at.child("name"),
                Code::DuplicateSubset,
                format!(
                    "subset {:?} is defined twice (spec.subsets[{first}] and spec.subsets[{i}]); rename or remove one",
                    subset.name
                ),
            );
        }
        if !names::is_dns_label(&subset.name) {
            sink.path(
                &at.child("name"),
                Code::InvalidHost,
                format!("subset name {:?} is not valid: use lowercase letters, digits and '-'", subset.name),
            );
        }
        labels(&subset.labels, &at.child("labels"), Code::InvalidMetadata, sink);
        if let Some(policy) = &subset.traffic_policy {
            traffic_policy(policy, &at.child("trafficPolicy"), sink);
        }
    }
}

/// A ServiceEntry's hosts are the names callers write, so they must be fully qualified: a
/// short name would be taken for a Kubernetes service by the routes that name it.
fn service_entry(spec: &ServiceEntrySpec, sink: &mut Sink) {
    let invalid = Code::InvalidServiceEntry;
    for (i, h) in spec.hosts.iter().enumerate() {
        let at = field!["spec", "hosts", i];
        if h.contains('*') {
            sink.path(
                &at,
                Code::Unsupported,
                format!("{at}: wildcard hosts ({h}) are not supported by meshctl: list each host"),
            );
        } else if !h.contains('.') {
            sink.path(
                &at,
                Code::InvalidHost,
                format!("{at}: {h:?} is a short name; a ServiceEntry host is fully qualified, as in `api.example.com`"),
            );
        } else {
            host(h, &at, sink);
        }
    }
    for (i, address) in spec.addresses.iter().enumerate() {
        if address.parse::<std::net::IpAddr>().is_err() {
            let at = field!["spec", "addresses", i];
            let (code, what) = match is_address_block(address) {
                true => (Code::Unsupported, "is an address block, which meshctl does not support: list each address"),
                false => (invalid, "is not an IP address"),
            };
            sink.path(&at, code, format!("{at}: {address:?} {what}"));
        }
    }
    for (i, port) in spec.ports.iter().enumerate() {
        let at = field!["spec", "ports", i];
        if let Some(first) = spec.ports[..i].iter().position(|p| p.number == port.number || p.name == port.name) {
            sink.path(
                &at,
                invalid,
                format!("{at} has the number or name of spec.ports[{first}]; each port needs its own"),
            );
        }
    }
    let resolution = spec.resolution.unwrap_or(Resolution::None);
    match resolution {
        Resolution::None if !spec.endpoints.is_empty() => sink.path(
            &field!["spec", "endpoints"],
            invalid,
            "spec.endpoints are not used with resolution NONE (the caller's destination is kept); set resolution STATIC or DNS, or remove them",
        ),
        Resolution::Static if spec.endpoints.is_empty() => sink.path(
            &field!["spec", "resolution"],
            invalid,
            "resolution STATIC needs spec.endpoints with the instances' IP addresses",
        ),
        Resolution::DnsRoundRobin if spec.endpoints.len() > 1 => sink.path(
            &field!["spec", "endpoints"],
            invalid,
            "resolution DNS_ROUND_ROBIN takes one endpoint; use DNS for several",
        ),
        _ => {}
    }
    for (i, endpoint) in spec.endpoints.iter().enumerate() {
        let at = field!["spec", "endpoints", i];
        let is_ip = endpoint.address.parse::<std::net::IpAddr>().is_ok();
        if resolution == Resolution::Static && !is_ip {
            let at = at.child("address");
            sink.path(
                &at,
                invalid,
                format!(
                    "{at}: {:?} is not an IP address, which resolution STATIC needs; use resolution DNS for names",
                    endpoint.address
                ),
            );
        } else if !is_ip && !names::is_dns_subdomain(&endpoint.address) {
            let at = at.child("address");
            sink.path(&at, invalid, format!("{at}: {:?} is neither an IP address nor a DNS name", endpoint.address));
        }
        for (name, &number) in &endpoint.ports {
            if !(1..=65535).contains(&number) {
                let at = at.child("ports").child(name.as_str());
                sink.path(&at, Code::OutOfRange, format!("{at}: {number} is not a port number (1 to 65535)"));
            }
            if !spec.ports.iter().any(|p| &p.name == name) {
                let at = at.child("ports").child(name.as_str());
                let declared: Vec<&str> = spec.ports.iter().map(|p| p.name.as_str()).collect();
                sink.path(
                    &at,
                    invalid,
                    format!("{at}: spec.ports has no port named {name:?}; the ports are [{}]", declared.join(", ")),
                );
            }
        }
        labels(&endpoint.labels, &at.child("labels"), Code::InvalidMetadata, sink);
    }
}

fn traffic_policy(policy: &TrafficPolicy, at: &Path, sink: &mut Sink) {
    if let Some(lb) = &policy.load_balancer {
        load_balancer(lb, &at.child("loadBalancer"), sink);
    }
    if let Some(od) = &policy.outlier_detection
        && od.consecutive_5xx_errors == Some(0)
        && od.consecutive_gateway_errors.unwrap_or(0) == 0
    {
        sink.path(&at.child("outlierDetection"), Code::SuspiciousSetting, format!("{at}.outlierDetection: with consecutive5xxErrors 0 and no consecutiveGatewayErrors, no instance is ever ejected"));
    }
}

fn load_balancer(lb: &LoadBalancerSettings, at: &Path, sink: &mut Sink) {
    match (&lb.simple, &lb.consistent_hash) {
        (Some(_), Some(_)) => {
            sink.path(at, Code::ConflictingSettings, format!("{at}: set either `simple` or `consistentHash`, not both"))
        }
        (None, None) => sink.path(at, Code::ConflictingSettings, format!("{at}: set `simple` or `consistentHash`")),
        (None, Some(hash)) => {
            let keys = [
                hash.http_header_name.is_some(),
                hash.http_cookie.is_some(),
                hash.use_source_ip.is_some(),
                hash.http_query_parameter_name.is_some(),
            ];
            let set = keys.iter().filter(|k| **k).count();
            if set != 1 {
                sink.path(&at.child("consistentHash"), Code::ConflictingSettings, format!("{at}.consistentHash: set exactly one of httpHeaderName, httpCookie, useSourceIp or httpQueryParameterName (found {set})"));
            }
        }
        (Some(_), None) => {}
    }
}

fn labels(labels: &std::collections::BTreeMap<String, String>, at: &Path, code: Code, sink: &mut Sink) {
    for (key, value) in labels {
        if !names::is_label_key(key) || !names::is_label_value(value) {
            sink.path(&at.child(key), code, format!("{at}: {key}={value:?} is not a valid label: keys and values use letters, digits, '-', '_' and '.', at most 63"));
        }
    }
}

fn peer_authentication(spec: &PeerAuthenticationSpec, sink: &mut Sink) {
    if !spec.port_level_mtls.is_empty() && spec.selector.as_ref().is_none_or(|s| s.match_labels.is_empty()) {
        sink.path(&field!["spec", "portLevelMtls"], Code::ConflictingSettings, "spec.portLevelMtls needs a workload `selector`: port numbers only mean something for the selected workloads");
    }
    for port in spec.port_level_mtls.keys() {
        if !port.parse::<u16>().is_ok_and(|p| p > 0) {
            sink.path(
                &field!["spec", "portLevelMtls", port],
                Code::OutOfRange,
                format!("spec.portLevelMtls: {port:?} is not a port number (1-65535)"),
            );
        }
    }
    if let Some(selector) = &spec.selector {
        labels(&selector.match_labels, &field!["spec", "selector", "matchLabels"], Code::InvalidMetadata, sink);
    }
}

/// Attributes an AuthorizationPolicy condition may test, as Istio names them; a `[...]` suffix
/// takes a header or claim name.
const CONDITION_KEYS: &[&str] = &[
    "request.headers[",
    "source.ip",
    "remote.ip",
    "source.namespace",
    "source.principal",
    "request.auth.principal",
    "request.auth.audiences",
    "request.auth.presenter",
    "request.auth.claims[",
    "destination.ip",
    "destination.port",
    "connection.sni",
];

fn authorization_policy(spec: &AuthorizationPolicySpec, sink: &mut Sink) {
    let action = spec.action.unwrap_or(Action::Allow);
    if action == Action::Allow && spec.rules.is_empty() {
        sink.path(&field!["spec"], Code::AllowNothing, "this ALLOW policy has no rules, so it allows nothing: every request to the selected workloads is denied (403)");
    }
    for (i, rule) in spec.rules.iter().enumerate() {
        authorization_rule(rule, &field!["spec", "rules", i], sink);
    }
}

fn authorization_rule(rule: &Rule, at: &Path, sink: &mut Sink) {
    for (f, from) in rule.from.iter().enumerate() {
        let s = &from.source;
        let lists = [
            &s.principals,
            &s.not_principals,
            &s.request_principals,
            &s.not_request_principals,
            &s.namespaces,
            &s.not_namespaces,
            &s.ip_blocks,
            &s.not_ip_blocks,
        ];
        for (field, blocks) in [("ipBlocks", &s.ip_blocks), ("notIpBlocks", &s.not_ip_blocks)] {
            for (b, block) in blocks.iter().enumerate() {
                if !is_address_block(block) {
                    let at = at.child("from").child(f).child("source").child(field);
                    sink.path(
                        &at.child(b),
                        Code::InvalidAuthorization,
                        format!("{at}: {block:?} is not an address or block: use 10.1.2.3 or 10.0.0.0/8"),
                    );
                }
            }
        }
        if lists.iter().all(|l| l.is_empty()) {
            sink.path(
                &at.child("from").child(f).child("source"),
                Code::InvalidAuthorization,
                format!("{at}.from[{f}].source is empty: name principals, namespaces, requestPrincipals or ipBlocks"),
            );
        }
    }
    for (t, to) in rule.to.iter().enumerate() {
        let op = &to.operation;
        let at = at.child("to").child(t).child("operation");
        for (field, paths) in [("paths", &op.paths), ("notPaths", &op.not_paths)] {
            for (p, pattern) in paths.iter().enumerate() {
                let stars = pattern.matches('*').count();
                let ok = pattern.starts_with('/') && stars == 0
                    || pattern == "*"
                    || stars == 1 && (pattern.starts_with('*') || pattern.ends_with('*'));
                if !ok {
                    sink.path(&at.child(field).child(p), Code::InvalidAuthorization, format!("{at}.{field}: {pattern:?} is not a path pattern: use an exact path (/api/users), a prefix (/api/*) or a suffix (*.js)"));
                }
            }
        }
        for (field, ports) in [("ports", &op.ports), ("notPorts", &op.not_ports)] {
            for (p, port) in ports.iter().enumerate() {
                if !port.parse::<u16>().is_ok_and(|p| p > 0) {
                    sink.path(
                        &at.child(field).child(p),
                        Code::InvalidAuthorization,
                        format!("{at}.{field}: {port:?} is not a port number (1-65535)"),
                    );
                }
            }
        }
    }
    for (w, condition) in rule.when.iter().enumerate() {
        let at = at.child("when").child(w);
        let key = &condition.key;
        let known = CONDITION_KEYS.iter().any(|k| match k.strip_suffix('[') {
            Some(prefix) => key
                .strip_prefix(prefix)
                .and_then(|r| r.strip_prefix('['))
                .is_some_and(|r| r.len() > 1 && r.ends_with(']')),
            None => key == k,
        });
        if !known {
            sink.path(&at.child("key"), Code::InvalidAuthorization, format!("{at}.key: {key:?} is not a condition Istio knows; use e.g. request.headers[x-name], source.namespace or request.auth.claims[iss]"));
        }
        if condition.values.is_empty() && condition.not_values.is_empty() {
            sink.path(&at, Code::InvalidAuthorization, format!("{at}: a condition needs `values` or `notValues`"));
        }
    }
}

fn request_authentication(spec: &RequestAuthenticationSpec, sink: &mut Sink) {
    for (i, rule) in spec.jwt_rules.iter().enumerate() {
        let at = field!["spec", "jwtRules", i];
        if rule.issuer.trim().is_empty() {
            sink.path(
                &at.child("issuer"),
                Code::MissingField,
                format!("{at}.issuer is empty: name the `iss` that tokens must carry"),
            );
        }
        match (&rule.jwks_uri, &rule.jwks) {
            (None, None) => sink.path(&at, Code::JwtKeys, format!("{at} has no keys: set `jwksUri` (where to fetch the JWKS) or `jwks` (the JWKS inline); meshctl does not discover keys from the issuer")),
            (Some(_), Some(_)) => sink.path(&at.child("jwksUri"), Code::SuspiciousSetting, format!("{at}: both `jwks` and `jwksUri` are set; the inline `jwks` wins and jwksUri is ignored")),
            _ => {}
        }
        if let Some(uri) = &rule.jwks_uri
            && !(uri.starts_with("https://") || uri.starts_with("http://"))
        {
            sink.path(&at.child("jwksUri"), Code::JwtKeys, format!("{at}.jwksUri: {uri:?} is not an http(s) URL"));
        }
        if let Some(jwks) = &rule.jwks {
            let keys = serde_json::from_str::<serde_json::Value>(jwks)
                .ok()
                .and_then(|v| v.get("keys").and_then(|k| k.as_array()).cloned());
            for (k, key) in keys.iter().flatten().enumerate() {
                if let Err(problem) = jwk(key) {
                    sink.path(
                        &at.child("jwks"),
                        Code::JwtKeys,
                        format!("{at}.jwks: key {k}: {problem}; Envoy would refuse the whole configuration"),
                    );
                }
            }
            if keys.is_none_or(|k| k.is_empty()) {
                sink.path(
                    &at.child("jwks"),
                    Code::JwtKeys,
                    format!(
                        "{at}.jwks is not a JWKS: it must be JSON like {{\"keys\": [{{...}}]}} with at least one key"
                    ),
                );
            }
        }
    }
}

/// An IP address, or a CIDR block (`10.0.0.0/8`, `2001:db8::/32`).
fn is_address_block(value: &str) -> bool {
    let (address, len) = value.split_once('/').map_or((value, None), |(a, l)| (a, Some(l)));
    match address.parse::<std::net::IpAddr>() {
        Ok(ip) => len.is_none_or(|l| l.parse::<u8>().is_ok_and(|l| l <= if ip.is_ipv4() { 32 } else { 128 })),
        Err(_) => false,
    }
}

/// Whether a JWK has the members its key type needs, each proper unpadded base64url.
fn jwk(key: &serde_json::Value) -> Result<(), String> {
    use base64::Engine;
    let member = |name: &str| -> Result<(), String> {
        let value = key.get(name).and_then(|v| v.as_str()).ok_or_else(|| format!("`{name}` is missing"))?;
        match base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(value) {
            Ok(bytes) if !bytes.is_empty() => Ok(()),
            _ => Err(format!("`{name}` is not base64url (unpadded)")),
        }
    };
    match key.get("kty").and_then(|v| v.as_str()) {
        Some("RSA") => member("n").and(member("e")),
        Some("EC") => match key.get("crv").and_then(|v| v.as_str()) {
            Some("P-256" | "P-384" | "P-521") => member("x").and(member("y")),
            other => Err(format!("EC curve {other:?} is not P-256, P-384 or P-521")),
        },
        Some("OKP") => member("x"),
        Some("oct") => member("k"),
        other => Err(format!("key type {other:?} is not RSA, EC, OKP or oct")),
    }
}

fn canary(spec: &CanarySpec, sink: &mut Sink) {
    host(&spec.service, &field!["spec", "service"], sink);
    if spec.stable == spec.canary {
        sink.path(
            &field!["spec", "canary"],
            Code::InvalidCanary,
            format!("spec.canary and spec.stable are both {:?}: the canary must be another subset", spec.canary),
        );
    }
    if spec.steps.windows(2).any(|w| w[0] >= w[1]) {
        sink.path(
            &field!["spec", "steps"],
            Code::InvalidCanary,
            "spec.steps must rise step by step (for example 10, 50, 100)",
        );
    }
    if spec.steps.last().is_some_and(|last| *last != 100) {
        sink.path(
            &field!["spec", "steps"],
            Code::InvalidCanary,
            "spec.steps must end at 100, where the canary takes all traffic and is promoted",
        );
    }
    if spec.interval.0.is_zero() {
        sink.path(
            &field!["spec", "interval"],
            Code::InvalidCanary,
            "spec.interval must be longer than 0s: each step needs time to gather evidence",
        );
    }
}

fn workload(spec: &WorkloadSpec, sink: &mut Sink) {
    if !names::is_dns_label(&spec.service) {
        sink.path(
            &field!["spec", "service"],
            Code::InvalidWorkload,
            format!(
                "spec.service {:?} is not a valid service name: use lowercase letters, digits and '-'",
                spec.service
            ),
        );
    }
    if let Some(sa) = spec.service_account.as_ref().filter(|sa| !names::is_dns_subdomain(sa)) {
        sink.path(
            &field!["spec", "serviceAccount"],
            Code::InvalidWorkload,
            format!("spec.serviceAccount {sa:?} is not a valid name: use lowercase letters, digits, '-' and '.'"),
        );
    }
    labels(&spec.labels, &field!["spec", "labels"], Code::InvalidWorkload, sink);
    if spec.command.first().is_some_and(|c| c.trim().is_empty()) {
        sink.path(
            &field!["spec", "command", 0],
            Code::InvalidWorkload,
            "spec.command[0] is empty: name the program to run",
        );
    }
    for (i, var) in spec.env.iter().enumerate() {
        let valid = var.name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && var.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            sink.path(
                &field!["spec", "env", i, "name"],
                Code::InvalidWorkload,
                format!("spec.env[{i}].name {:?} is not a valid variable name: use letters, digits and '_'", var.name),
            );
        }
    }
}
