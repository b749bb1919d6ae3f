//! VirtualServices to routes: one virtual host per service (its names as callers write them),
//! whose routes are the VirtualService's HTTP rules in order, else its HTTPRoutes'
//! (`mesh_route.rs`), else a single default route.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::sync::Arc;

use envoy_types::pb::envoy::config::core::v3::RuntimeFractionalPercent;
use envoy_types::pb::envoy::config::route::v3::{
    Decorator, HeaderMatcher, QueryParameterMatcher, RetryPolicy, Route, RouteAction, RouteConfiguration, RouteMatch,
    VirtualHost, WeightedCluster, header_matcher, query_parameter_matcher, route, route_action, route_match,
    weighted_cluster,
};
use envoy_types::pb::envoy::extensions::filters::common::fault::v3::{FaultDelay, fault_delay};
use envoy_types::pb::envoy::extensions::filters::http::fault::v3::{FaultAbort, HttpFault, fault_abort};
use envoy_types::pb::envoy::r#type::matcher::v3::{RegexMatcher, StringMatcher, string_matcher};
use envoy_types::pb::google::protobuf::BoolValue;

use prost::Message;

use super::{Class, Encoded, MeshSnapshot, Origin, Service, ServicePort, cluster_name, pb};
use crate::api::Protocol;
use crate::api::networking::{
    ConsistentHashLb, Destination, HttpMatchRequest, HttpRoute, HttpRouteDestination, StringMatch, VirtualService,
    VirtualServiceSpec,
};
use crate::policy::{DOMAIN_SUFFIX, resolve_host};

pub(super) const FAULT_FILTER: &str = "envoy.filters.http.fault";

/// Istio's retry policy for routes whose VirtualService says nothing about retries.
const DEFAULT_RETRY_ON: &str = "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes";
const DEFAULT_ATTEMPTS: u32 = 2;

/// One service's virtual hosts in every caller's outbound routes, a port each, encoded: built
/// again only when what they were built from changes, so a change to one service of a thousand
/// builds one service's routes, not a thousand.
pub(super) struct ServiceRoutes {
    inputs: Inputs,
    hosts: Vec<EncodedHost>,
    /// The other hosts its routes send to.
    destinations: BTreeSet<String>,
}

/// What a service's routes are built from: the service but for its instances, its
/// VirtualService, and the ports and consistent hashing of every host the routes looked up (a
/// destination without a port takes its service's; a route hashes as its destination's
/// DestinationRule says).
/// Routes from HTTPRoutes look up more than that (grants, backends), so a service that has
/// them is built again every time.
struct Inputs {
    service: Service,
    virtual_service: Option<(String, VirtualServiceSpec)>,
    looked_up: Vec<(String, Option<Vec<ServicePort>>, Option<ConsistentHashLb>)>,
    meshed: bool,
}

/// One service port's virtual host, encoded in two pieces whose concatenation is the whole:
/// its name and domains, which differ for callers in the service's namespace (who may use its
/// short name), and its routes, the same for every caller. Protobuf encodes a message's fields
/// one after another, and prost in the order the message declares them (name, domains, routes,
/// then the rest, all unset here), so the two pieces written one after the other are the
/// message prost would write.
struct EncodedHost {
    name: String,
    /// The domains of callers elsewhere, then of callers in the service's namespace.
    domains: [Vec<String>; 2],
    heads: [Vec<u8>; 2],
    routes: Vec<u8>,
    /// An HTTP port's routes as a route configuration of their own, whatever the host: what a
    /// captured sidecar routes a request to the service's address by. One service's change
    /// then sends each proxy one small configuration, not the thousand services' one (which
    /// each Envoy builds anew whole, ~25 ms of its CPU at a thousand services).
    alone: Option<(u16, Arc<Encoded>)>,
}

impl ServiceRoutes {
    /// A service's virtual hosts: a port's routes are its VirtualService's rules that apply to
    /// the port, else its HTTPRoutes', else a default route; a TCP or TLS port's one route
    /// takes HTTP `CONNECT` tunnels to it (how an application whose traffic is not captured
    /// reaches it through its `HTTP_PROXY`; listeners that do not accept `CONNECT` refuse them).
    pub(super) fn build(snapshot: &MeshSnapshot, class: Class, service: &Service, host: &str) -> ServiceRoutes {
        let builder = Routes::new(snapshot, class);
        let default_port = service.default_http_port().map(|p| p.number);
        let mut destinations = BTreeSet::new();
        let hosts = service
            .ports
            .iter()
            .map(|port| {
                let routes = builder.port(host, port);
                destinations.extend(routes.iter().flat_map(route_clusters).filter_map(cluster_host));
                if port.protocol == Protocol::Tls {
                    let rules = builder.tls_rules(host, port.number).into_iter();
                    destinations.extend(rules.flat_map(|r| r.destinations).filter_map(|(c, _)| cluster_host(&c)));
                }
                let bare = default_port == Some(port.number);
                // Stat names are dot-separated, so the name that heads a route's stats has none.
                let name = format!("{}_{}_{}", service.name.replace('.', "-"), service.namespace, port.number);
                let domains = [false, true].map(|near| domains(service, host, port.number, near, bare));
                let heads = domains.each_ref().map(|domains| {
                    VirtualHost { name: name.clone(), domains: domains.clone(), ..Default::default() }.encode_to_vec()
                });
                let routes = VirtualHost { routes, ..Default::default() }.encode_to_vec();
                let alone = port.protocol.is_http().then(|| {
                    let any = VirtualHost { name: name.clone(), domains: vec!["*".into()], ..Default::default() };
                    let name = alone_name(host, port.number);
                    let config = configuration(&name, [(Cow::Owned(any.encode_to_vec()), &routes[..])], vec![]);
                    (port.number, super::encoded_routes(name, config))
                });
                EncodedHost { name, domains, heads, routes, alone }
            })
            .collect();
        let looked_up = builder
            .looked_up
            .into_inner()
            .into_iter()
            .map(|h| {
                let ports = snapshot.service(&h).map(|s| s.ports.clone());
                let hash = consistent_hash(snapshot, class, &h).cloned();
                (h, ports, hash)
            })
            .collect();
        let inputs = Inputs {
            service: Service {
                name: service.name.clone(),
                namespace: service.namespace.clone(),
                ports: service.ports.clone(),
                addresses: service.addresses.clone(),
                instances: Vec::new(),
                origin: service.origin.clone(),
                exported: service.exported.clone(),
            },
            virtual_service: snapshot
                .virtual_service(class, host)
                .map(|vs| (super::namespace(&vs.metadata).to_string(), vs.spec.clone())),
            looked_up,
            meshed: snapshot.mesh_routes.attach_to(host),
        };
        destinations.remove(host);
        ServiceRoutes { inputs, hosts, destinations }
    }

    /// The route configuration of its HTTP `port` alone (see `EncodedHost::alone`).
    pub(super) fn alone(&self, port: u16) -> Option<&Arc<Encoded>> {
        self.hosts.iter().find_map(|h| h.alone.as_ref().filter(|(p, _)| *p == port).map(|(_, e)| e))
    }

    /// Whether building them looked up a host that `matches`.
    pub(super) fn looks_up(&self, matches: impl Fn(&str) -> bool) -> bool {
        self.inputs.looked_up.iter().any(|(host, _, _)| matches(host))
    }

    /// The other hosts its routes send to.
    pub(super) fn destinations(&self) -> impl Iterator<Item = &str> {
        self.destinations.iter().map(String::as_str)
    }

    /// Whether building the routes of `service` (at `host`) for `class` in `snapshot` would
    /// make these.
    pub(super) fn built_from(&self, snapshot: &MeshSnapshot, class: Class, service: &Service, host: &str) -> bool {
        let inputs = &self.inputs;
        let was = &inputs.service;
        let virtual_service =
            snapshot.virtual_service(class, host).map(|vs| (super::namespace(&vs.metadata), &vs.spec));
        !inputs.meshed
            && !snapshot.mesh_routes.attach_to(host)
            && (was.name == service.name && was.namespace == service.namespace && was.ports == service.ports)
            && (was.addresses == service.addresses && was.origin == service.origin)
            && virtual_service == inputs.virtual_service.as_ref().map(|(ns, spec)| (ns.as_str(), spec))
            && inputs.looked_up.iter().all(|(h, ports, hash)| {
                snapshot.service(h).map(|s| &s.ports) == ports.as_ref()
                    && consistent_hash(snapshot, class, h) == hash.as_ref()
            })
    }
}

/// The clusters a route sends to, mirrors included.
fn route_clusters(route: &Route) -> Vec<&str> {
    let Some(route::Action::Route(action)) = &route.action else { return vec![] };
    let mut clusters: Vec<&str> = match &action.cluster_specifier {
        Some(route_action::ClusterSpecifier::Cluster(name)) => vec![name],
        Some(route_action::ClusterSpecifier::WeightedClusters(weighted)) => {
            weighted.clusters.iter().map(|c| c.name.as_str()).collect()
        }
        _ => vec![],
    };
    clusters.extend(action.request_mirror_policies.iter().map(|m| m.cluster.as_str()));
    clusters
}

/// The host of an outbound cluster.
fn cluster_host(cluster: &str) -> Option<String> {
    super::outbound_cluster(cluster).map(|(_, _, host)| host.to_string())
}

/// The outbound routes of a proxy whose short names resolve in `namespace`, encoded as Envoy
/// takes them over RDS: every service port's virtual host as `services` hold it, less the
/// domains `claimed` (by a gateway's own virtual hosts; one left without domains is left out),
/// then `extra`.
pub(super) fn outbound(
    services: &[Arc<ServiceRoutes>],
    namespace: &str,
    claimed: &[String],
    extra: Vec<VirtualHost>,
) -> Vec<u8> {
    let hosts = services.iter().flat_map(|service| {
        let near = usize::from(service.inputs.service.namespace == namespace);
        service.hosts.iter().filter_map(move |host| {
            let domains = &host.domains[near];
            let head = if domains.iter().any(|d| claimed.contains(d)) {
                let domains: Vec<String> = domains.iter().filter(|d| !claimed.contains(d)).cloned().collect();
                if domains.is_empty() {
                    return None;
                }
                Cow::Owned(VirtualHost { name: host.name.clone(), domains, ..Default::default() }.encode_to_vec())
            } else {
                Cow::Borrowed(&host.heads[near][..])
            };
            Some((head, &host.routes[..]))
        })
    });
    configuration(super::OUTBOUND_ROUTES, hosts, extra)
}

/// A route configuration named `name` of virtual hosts each encoded in two pieces (see
/// `EncodedHost`), then `extra`, encoded as Envoy takes it over RDS.
fn configuration<'a>(
    name: &str,
    hosts: impl IntoIterator<Item = (Cow<'a, [u8]>, &'a [u8])>,
    extra: Vec<VirtualHost>,
) -> Vec<u8> {
    use prost::encoding::{WireType, encode_key, encode_varint};
    let mut config = RouteConfiguration { name: name.to_string(), ..Default::default() }.encode_to_vec();
    for (head, routes) in hosts {
        // Field 2, `virtual_hosts`, one message each.
        encode_key(2, WireType::LengthDelimited, &mut config);
        encode_varint((head.len() + routes.len()) as u64, &mut config);
        config.extend_from_slice(&head);
        config.extend_from_slice(routes);
    }
    config.extend(RouteConfiguration { virtual_hosts: extra, ..Default::default() }.encode_to_vec());
    config
}

/// The name of the route configuration of `port` of the service at `host` alone.
fn alone_name(host: &str, port: u16) -> String {
    format!("{host}:{port}")
}

/// The ingress gateway's routes: the outbound routes (every service by its names), and a
/// virtual host for each VirtualService bound to an Istio Gateway that selects it, serving
/// `hosts` (its own, that the Gateway serves; `*` for any) with its rules for requests to
/// `port`. A name such a VirtualService serves is its, not a service's; of two that serve one
/// name, the first takes it.
pub(super) fn gateway(
    snapshot: &MeshSnapshot,
    services: &[Arc<ServiceRoutes>],
    namespace: &str,
    bound: &[(&VirtualService, Vec<String>)],
    port: u16,
) -> Vec<u8> {
    let builder = Routes::new(snapshot, snapshot.class(namespace));
    let mut claimed: Vec<String> = Vec::new();
    let mut bound_hosts = Vec::new();
    for (vs, hosts) in bound {
        let domains: Vec<String> = hosts
            .iter()
            .flat_map(|h| if h == "*" { vec![h.clone()] } else { vec![h.clone(), format!("{h}:*")] })
            .filter(|d| !claimed.contains(d))
            .collect();
        if domains.is_empty() {
            continue;
        }
        claimed.extend(domains.iter().cloned());
        let mut routes = builder.rules(vs, port);
        for route in &mut routes {
            route.decorator = Some(super::trace::operation(&hosts[0], port));
        }
        let vs_ns = super::namespace(&vs.metadata);
        let name = format!("gateway_{vs_ns}_{}", vs.metadata.name.as_deref().unwrap_or_default());
        bound_hosts.push(VirtualHost { name, domains, routes, ..Default::default() });
    }
    outbound(services, namespace, &claimed, bound_hosts)
}

/// A VirtualService `tls` rule for one port: the names (SNI) it takes, and where it sends
/// them by relative weight.
pub(super) struct TlsRule {
    pub names: Vec<String>,
    pub destinations: Vec<(String, u32)>,
}

/// One cluster, or several split by weight.
fn clusters(weighted: &[(String, u32)]) -> route_action::ClusterSpecifier {
    match weighted {
        [(only, _)] => route_action::ClusterSpecifier::Cluster(only.clone()),
        _ => route_action::ClusterSpecifier::WeightedClusters(WeightedCluster {
            clusters: weighted
                .iter()
                .map(|(name, weight)| weighted_cluster::ClusterWeight {
                    name: name.clone(),
                    weight: Some(pb::uint32(*weight)),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
    }
}

/// The route of a `CONNECT` tunnel to `destinations`: the tunnel ends here, and its bytes go on.
fn connect_route(destinations: Vec<(String, u32)>) -> Route {
    Route {
        r#match: Some(RouteMatch {
            path_specifier: Some(route_match::PathSpecifier::ConnectMatcher(route_match::ConnectMatcher::default())),
            ..Default::default()
        }),
        action: Some(route::Action::Route(RouteAction {
            cluster_specifier: Some(clusters(&destinations)),
            upgrade_configs: vec![connect_upgrade()],
            timeout: Some(pb::duration(std::time::Duration::ZERO)),
            ..Default::default()
        })),
        ..Default::default()
    }
}

/// A `CONNECT` tunnel ends at this proxy, which sends its bytes on.
pub(super) fn connect_upgrade() -> route_action::UpgradeConfig {
    route_action::UpgradeConfig {
        upgrade_type: "CONNECT".into(),
        connect_config: Some(route_action::upgrade_config::ConnectConfig::default()),
        ..Default::default()
    }
}

/// The sidecar's inbound routes: everything to its own application, as `operation` in traces.
pub(super) fn inbound(cluster: &str, operation: Decorator) -> RouteConfiguration {
    RouteConfiguration {
        name: "inbound".into(),
        virtual_hosts: vec![VirtualHost {
            name: "inbound".into(),
            domains: vec!["*".into()],
            routes: vec![Route {
                r#match: Some(prefix_match("/")),
                action: Some(route::Action::Route(RouteAction {
                    cluster_specifier: Some(route_action::ClusterSpecifier::Cluster(cluster.to_string())),
                    timeout: Some(pb::duration(std::time::Duration::ZERO)),
                    ..Default::default()
                })),
                decorator: Some(operation),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// Every name a caller may use for the service's `port`: with the port, and also without it
/// when it is the port a request that names none goes to (`bare`). A caller in the service's
/// own namespace (`near`) may use its short name too; one whose traffic is captured, its
/// addresses.
fn domains(service: &Service, host: &str, port: u16, near: bool, bare: bool) -> Vec<String> {
    let mut names = match &service.origin {
        Origin::Registry => {
            let (name, namespace) = (&service.name, &service.namespace);
            let mut names = vec![
                format!("{name}.{namespace}.svc.{DOMAIN_SUFFIX}"),
                format!("{name}.{namespace}.svc"),
                format!("{name}.{namespace}"),
            ];
            if near {
                names.push(name.to_string());
            }
            with_port(names, port, bare)
        }
        Origin::Entry(_) => with_port(vec![host.to_string()], port, bare),
    };
    names.extend(with_port(service.addresses.iter().map(|ip| ip.to_string()).collect(), port, bare));
    names
}

/// `names` with `:port`, and without it too when the port is the one a request that names no
/// port goes to (`bare`).
fn with_port(names: Vec<String>, port: u16, bare: bool) -> Vec<String> {
    let with_port = names.iter().map(|n| format!("{n}:{port}"));
    if bare { names.iter().cloned().chain(with_port).collect() } else { with_port.collect() }
}

pub(super) fn prefix_match(prefix: &str) -> RouteMatch {
    RouteMatch { path_specifier: Some(route_match::PathSpecifier::Prefix(prefix.into())), ..Default::default() }
}

/// Builds routes from a snapshot, noting each host whose service or DestinationRule it looked
/// up: what the routes depend on besides their own service and VirtualService.
pub(super) struct Routes<'a> {
    snapshot: &'a MeshSnapshot<'a>,
    /// Whose VirtualServices and DestinationRules they take.
    class: Class,
    looked_up: RefCell<BTreeSet<String>>,
}

impl<'a> Routes<'a> {
    pub(super) fn new(snapshot: &'a MeshSnapshot<'a>, class: Class) -> Self {
        Routes { snapshot, class, looked_up: RefCell::default() }
    }

    fn service(&self, host: &str) -> Option<&'a Service> {
        self.looked_up.borrow_mut().insert(host.to_string());
        self.snapshot.service(host)
    }

    /// The routes of the service at `host` for requests to `port`.
    fn port(&self, host: &str, port: &ServicePort) -> Vec<Route> {
        if port.protocol.is_http() {
            let mut routes = match self.snapshot.virtual_service(self.class, host) {
                Some(vs) => self.rules(vs, port.number),
                None => self
                    .snapshot
                    .mesh_routes
                    .routes(self.snapshot, self.class, host, port.number)
                    .unwrap_or_else(|| vec![self.default_route(host, port.number)]),
            };
            for route in &mut routes {
                route.decorator = Some(super::trace::operation(host, port.number));
            }
            routes
        } else if port.protocol == Protocol::Tls {
            // A tunnel is opened before its TLS: the client will most likely ask for the
            // name it opened the tunnel to.
            vec![connect_route(self.tls_destinations(host, port.number, host))]
        } else {
            vec![connect_route(self.tcp_destinations(host, port.number))]
        }
    }

    /// Where connections to TCP `port` of the service at `host` go, by relative weight: the
    /// destinations of the first `tcp` rule of its VirtualService that takes the port, else
    /// that port of the service. Never empty; a destination with weight 0 is left out.
    pub(super) fn tcp_destinations(&self, host: &str, port: u16) -> Vec<(String, u32)> {
        let rule = self
            .snapshot
            .virtual_service(self.class, host)
            .and_then(|vs| vs.spec.tcp.iter().find(|r| r.applies_to(port)).map(|r| (vs, &r.route)));
        let weighted =
            rule.map(|(vs, route)| self.weighted(super::namespace(&vs.metadata), route, port)).unwrap_or_default();
        if weighted.is_empty() { vec![(cluster_name(port, None, host), 100)] } else { weighted }
    }

    /// The `tls` rules of the service at `host` for its TLS `port`, in order.
    pub(super) fn tls_rules(&self, host: &str, port: u16) -> Vec<TlsRule> {
        let Some(vs) = self.snapshot.virtual_service(self.class, host) else { return vec![] };
        vs.spec
            .tls
            .iter()
            .map(|rule| TlsRule {
                names: rule.sni_hosts(port).into_iter().map(str::to_string).collect(),
                destinations: self.weighted(super::namespace(&vs.metadata), &rule.route, port),
            })
            .filter(|rule| !rule.names.is_empty() && !rule.destinations.is_empty())
            .collect()
    }

    /// Where a connection to TLS `port` of the service at `host` that asks for `sni` goes: the
    /// first `tls` rule that takes the name, else as [`Routes::tcp_destinations`] says.
    fn tls_destinations(&self, host: &str, port: u16, sni: &str) -> Vec<(String, u32)> {
        let takes = |rule: &TlsRule| rule.names.iter().any(|n| crate::api::host_matches(n, sni));
        match self.tls_rules(host, port).into_iter().find(takes) {
            Some(rule) => rule.destinations,
            None => self.tcp_destinations(host, port),
        }
    }

    /// A rule's destinations (hosts in `namespace`) as clusters with their weights; those with
    /// weight 0 are left out, and a lone destination without a weight takes everything.
    fn weighted(&self, namespace: &str, route: &[HttpRouteDestination], port: u16) -> Vec<(String, u32)> {
        route
            .iter()
            .map(|d| {
                let weight = d.weight.unwrap_or(if route.len() == 1 { 100 } else { 0 });
                (self.cluster(&d.destination, namespace, port), weight)
            })
            .filter(|(_, w)| *w > 0)
            .collect()
    }

    fn default_route(&self, host: &str, port: u16) -> Route {
        Route {
            stat_prefix: "default".into(),
            r#match: Some(prefix_match("/")),
            action: Some(route::Action::Route(with_grpc_deadlines(RouteAction {
                cluster_specifier: Some(route_action::ClusterSpecifier::Cluster(cluster_name(port, None, host))),
                timeout: Some(pb::duration(std::time::Duration::ZERO)),
                retry_policy: Some(default_retries()),
                hash_policy: self.hash_policy(host),
                ..Default::default()
            }))),
            ..Default::default()
        }
    }

    /// The VirtualService's HTTP rules for requests to `port`: a match that names another
    /// port is left out, and so is a rule left with no match.
    fn rules(&self, vs: &VirtualService, port: u16) -> Vec<Route> {
        let namespace = super::namespace(&vs.metadata);
        let mut routes = Vec::new();
        for (i, rule) in vs.spec.http.iter().enumerate() {
            let action = self.action(rule, namespace, port);
            let stat_prefix = rule_stat_name(rule.name.as_deref(), i);
            let faults = fault(rule);
            let catch_all = [HttpMatchRequest::default()];
            let matches = if rule.matches.is_empty() { &catch_all[..] } else { &rule.matches };
            let on_port = |m: &&HttpMatchRequest| m.port.is_none_or(|p| p == u32::from(port));
            for request in matches.iter().filter(on_port) {
                let mut route = Route {
                    name: rule.name.clone().unwrap_or_default(),
                    stat_prefix: stat_prefix.clone(),
                    r#match: Some(route_match(request)),
                    action: Some(route::Action::Route(action.clone())),
                    ..Default::default()
                };
                if let Some(f) = &faults {
                    route.typed_per_filter_config.insert(FAULT_FILTER.into(), pb::any(f));
                }
                routes.push(route);
            }
        }
        routes
    }

    /// The cluster of a destination of a request to `port`. A destination that names no port
    /// is its service's port of the same number, else the service's default HTTP port.
    fn cluster(&self, dest: &Destination, namespace: &str, port: u16) -> String {
        let host = resolve_host(&dest.host, namespace);
        let port = match &dest.port {
            Some(p) => p.number as u16,
            None => match self.service(&host) {
                Some(service) if service.port(port).is_some() => port,
                Some(service) => service.default_http_port().map_or(port, |p| p.number),
                None => port,
            },
        };
        cluster_name(port, dest.subset.as_deref(), &host)
    }

    fn action(&self, rule: &HttpRoute, namespace: &str, port: u16) -> RouteAction {
        let cluster_specifier = clusters(&self.weighted(namespace, &rule.route, port));
        let retry_policy = match &rule.retries {
            None => Some(default_retries()),
            Some(r) if r.attempts == 0 => None,
            Some(r) => Some(RetryPolicy {
                retry_on: r.retry_on.clone().unwrap_or_else(|| DEFAULT_RETRY_ON.into()),
                num_retries: Some(pb::uint32(r.attempts)),
                per_try_timeout: r.per_try_timeout.map(|d| pb::duration(d.0)),
                retriable_status_codes: retriable_status_codes(r.retry_on.as_deref().unwrap_or(DEFAULT_RETRY_ON)),
                ..Default::default()
            }),
        };
        let request_mirror_policies = rule
            .mirror
            .iter()
            .map(|m| route_action::RequestMirrorPolicy {
                cluster: self.cluster(m, namespace, port),
                runtime_fraction: Some(RuntimeFractionalPercent {
                    default_value: Some(pb::percent(rule.mirror_percentage.map_or(100.0, |p| p.value))),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .collect();
        let first_host = rule.route.first().map(|d| resolve_host(&d.destination.host, namespace)).unwrap_or_default();
        with_grpc_deadlines(RouteAction {
            cluster_specifier: Some(cluster_specifier),
            // Istio's default is no timeout; Envoy's would be 15 s.
            timeout: Some(pb::duration(rule.timeout.map_or(std::time::Duration::ZERO, |d| d.0))),
            retry_policy,
            request_mirror_policies,
            hash_policy: self.hash_policy(&first_host),
            ..Default::default()
        })
    }

    fn hash_policy(&self, host: &str) -> Vec<route_action::HashPolicy> {
        self.looked_up.borrow_mut().insert(host.to_string());
        destination_hash(self.snapshot, self.class, host)
    }
}

/// The hash key of the destination's consistent-hash load balancing, if it has one.
pub(super) fn destination_hash(snapshot: &MeshSnapshot, class: Class, host: &str) -> Vec<route_action::HashPolicy> {
    consistent_hash(snapshot, class, host).map(hash_policy).into_iter().collect()
}

/// The consistent hashing of the destination's load balancing, if its DestinationRule has one.
fn consistent_hash<'a>(snapshot: &'a MeshSnapshot, class: Class, host: &str) -> Option<&'a ConsistentHashLb> {
    snapshot
        .destination_rule(class, host)
        .and_then(|r| r.spec.traffic_policy.as_ref())
        .and_then(|p| p.load_balancer.as_ref())
        .and_then(|lb| lb.consistent_hash.as_ref())
}

/// The name a rule's statistics go under: its own name made stat-safe, else `http<index>`
/// (its place in the VirtualService), as `meshctl top --by route` shows it.
pub fn rule_stat_name(name: Option<&str>, index: usize) -> String {
    match name.filter(|n| !n.is_empty()) {
        Some(n) => n.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect(),
        None => format!("http{index}"),
    }
}

fn hash_policy(hash: &ConsistentHashLb) -> route_action::HashPolicy {
    use route_action::hash_policy::{ConnectionProperties, Cookie, Header, PolicySpecifier, QueryParameter};
    let specifier = if let Some(name) = &hash.http_header_name {
        PolicySpecifier::Header(Header { header_name: name.clone(), ..Default::default() })
    } else if let Some(cookie) = &hash.http_cookie {
        PolicySpecifier::Cookie(Cookie {
            name: cookie.name.clone(),
            path: cookie.path.clone().unwrap_or_default(),
            ttl: cookie.ttl.map(|d| pb::duration(d.0)),
            ..Default::default()
        })
    } else if let Some(name) = &hash.http_query_parameter_name {
        PolicySpecifier::QueryParameter(QueryParameter { name: name.clone() })
    } else {
        PolicySpecifier::ConnectionProperties(ConnectionProperties { source_ip: true })
    };
    route_action::HashPolicy { policy_specifier: Some(specifier), ..Default::default() }
}

/// `action`, where a gRPC call's deadline (its `grpc-timeout` header) is its timeout, up to the
/// route's own (`0`: no cap); Envoy ignores the header unless told to read it. As Istio does,
/// with the deprecated `max_grpc_timeout`: its replacement, `max_stream_duration`, also turns
/// off the route's timeout for requests that are not gRPC.
#[allow(deprecated)]
pub(super) fn with_grpc_deadlines(action: RouteAction) -> RouteAction {
    RouteAction { max_grpc_timeout: action.timeout, ..action }
}

pub(super) fn default_retries() -> RetryPolicy {
    RetryPolicy {
        retry_on: DEFAULT_RETRY_ON.into(),
        num_retries: Some(pb::uint32(DEFAULT_ATTEMPTS)),
        retriable_status_codes: vec![503],
        ..Default::default()
    }
}

/// Status codes in a `retryOn` list become Envoy's retriable status codes.
fn retriable_status_codes(retry_on: &str) -> Vec<u32> {
    let codes: Vec<u32> = retry_on.split(',').filter_map(|c| c.trim().parse().ok()).collect();
    if codes.is_empty() && retry_on.contains("retriable-status-codes") { vec![503] } else { codes }
}

fn route_match(request: &HttpMatchRequest) -> RouteMatch {
    let path_specifier = match &request.uri {
        None => route_match::PathSpecifier::Prefix("/".into()),
        Some(StringMatch { exact: Some(p), .. }) => route_match::PathSpecifier::Path(p.clone()),
        Some(StringMatch { prefix: Some(p), .. }) => route_match::PathSpecifier::Prefix(p.clone()),
        Some(StringMatch { regex: Some(r), .. }) => route_match::PathSpecifier::SafeRegex(regex(r)),
        Some(_) => route_match::PathSpecifier::Prefix("/".into()),
    };
    let mut headers: Vec<HeaderMatcher> = Vec::new();
    let pseudo = [(":method", &request.method), (":authority", &request.authority)];
    for (name, sm) in pseudo {
        if let Some(sm) = sm {
            headers.push(header(name, sm, false));
        }
    }
    headers.extend(request.headers.iter().map(|(name, sm)| header(name, sm, false)));
    headers.extend(request.without_headers.iter().map(|(name, sm)| header(name, sm, true)));
    let query_parameters = request
        .query_params
        .iter()
        .map(|(name, sm)| QueryParameterMatcher {
            name: name.clone(),
            query_parameter_match_specifier: Some(query_parameter_matcher::QueryParameterMatchSpecifier::StringMatch(
                string_matcher(sm),
            )),
        })
        .collect();
    RouteMatch {
        path_specifier: Some(path_specifier),
        case_sensitive: request.ignore_uri_case.map(|i| BoolValue { value: !i }),
        headers,
        query_parameters,
        ..Default::default()
    }
}

fn header(name: &str, sm: &StringMatch, invert: bool) -> HeaderMatcher {
    HeaderMatcher {
        name: name.to_string(),
        invert_match: invert,
        header_match_specifier: Some(header_matcher::HeaderMatchSpecifier::StringMatch(string_matcher(sm))),
        ..Default::default()
    }
}

fn string_matcher(sm: &StringMatch) -> StringMatcher {
    let pattern = match sm {
        StringMatch { exact: Some(e), .. } => string_matcher::MatchPattern::Exact(e.clone()),
        StringMatch { prefix: Some(p), .. } => string_matcher::MatchPattern::Prefix(p.clone()),
        StringMatch { regex: Some(r), .. } => string_matcher::MatchPattern::SafeRegex(regex(r)),
        // Validation requires exactly one; an empty match matches any value.
        _ => string_matcher::MatchPattern::Prefix(String::new()),
    };
    StringMatcher { match_pattern: Some(pattern), ..Default::default() }
}

pub(super) fn regex(pattern: &str) -> RegexMatcher {
    RegexMatcher { regex: pattern.to_string(), ..Default::default() }
}

fn fault(rule: &HttpRoute) -> Option<HttpFault> {
    let f = rule.fault.as_ref()?;
    Some(HttpFault {
        delay: f.delay.as_ref().map(|d| FaultDelay {
            fault_delay_secifier: Some(fault_delay::FaultDelaySecifier::FixedDelay(pb::duration(d.fixed_delay.0))),
            percentage: Some(pb::percent(d.percentage.map_or(100.0, |p| p.value))),
        }),
        abort: f.abort.as_ref().map(|a| FaultAbort {
            error_type: Some(fault_abort::ErrorType::HttpStatus(a.http_status)),
            percentage: Some(pb::percent(a.percentage.map_or(100.0, |p| p.value))),
            ..Default::default()
        }),
        ..Default::default()
    })
}
