//! The listeners of a sidecar whose Pod's traffic is captured (`kube::capture`): the
//! application calls `http://SERVICE_IP:PORT/` knowing nothing of a proxy, and callers send
//! to `PodIP:PORT`; the Pod's rules redirect both to the proxy, which reads the original
//! destination back (`original_dst` listener filter) and chooses a filter chain by it.
//!
//! ```text
//!   outbound :15001  destination a service's cluster IP and port ─▶ HTTP, that service port's routes
//!                    a ServiceEntry's port (any address, if it has none) ─▶ as the entry says
//!                    anything else ─────────────────────────────────▶ PassthroughCluster (as addressed),
//!                                                                      BlackHoleCluster with REGISTRY_ONLY
//!   inbound  :15006  destination the application's port ───────────▶ mTLS / plaintext chains, as
//!                                                                      PeerAuthentication says
//!                    destination the proxy's own capture ports ─────▶ BlackHoleCluster (no loops)
//!                    any other port, unless STRICT ─────────────────▶ InboundPassthroughCluster
//! ```
//!
//! The names of the three clusters are Istio's, so dashboards and habits carry over.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use envoy_types::pb::envoy::config::cluster::v3::{Cluster, cluster};
use envoy_types::pb::envoy::config::core::v3 as core;
use envoy_types::pb::envoy::config::listener::v3::{
    Filter, FilterChain, FilterChainMatch, Listener, ListenerFilter, filter, listener_filter,
};
use envoy_types::pb::envoy::extensions::filters::listener::original_dst::v3::OriginalDst;
use envoy_types::pb::envoy::extensions::filters::network::tcp_proxy::v3::{TcpProxy, tcp_proxy};

use prost::{Message as _, Name as _};

use super::route::ServiceRoutes;
use super::{Encoded, MeshSnapshot, Origin, OutboundPolicy, Service, pb};
use crate::api::Protocol;
use crate::api::security::MtlsMode;

/// Connections to addresses outside the mesh, sent on as they were addressed.
pub const PASSTHROUGH: &str = "PassthroughCluster";
/// Connections to ports of the Pod no service names, sent on to the application's address.
pub const INBOUND_PASSTHROUGH: &str = "InboundPassthroughCluster";
/// Where connections that must go nowhere go.
pub const BLACKHOLE: &str = "BlackHoleCluster";
/// The address the proxy sends inbound traffic from, which the capture rules
/// (`kube::capture`) let through instead of capturing it again (Istio's).
pub const INBOUND_SOURCE: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 6);

fn original_destination_filter() -> ListenerFilter {
    ListenerFilter {
        name: "envoy.filters.listener.original_dst".into(),
        config_type: Some(listener_filter::ConfigType::TypedConfig(pb::any(&OriginalDst::default()))),
        ..Default::default()
    }
}

/// A TCP proxy to `cluster`.
pub(super) fn tcp_to(stat_prefix: &str, cluster: &str) -> Filter {
    tcp_split(stat_prefix, &[(cluster.to_string(), 100)])
}

/// A TCP proxy to one of `destinations`, chosen per connection by relative weight.
fn tcp_split(stat_prefix: &str, destinations: &[(String, u32)]) -> Filter {
    let cluster_specifier = match destinations {
        [(only, _)] => tcp_proxy::ClusterSpecifier::Cluster(only.clone()),
        _ => tcp_proxy::ClusterSpecifier::WeightedClusters(tcp_proxy::WeightedCluster {
            clusters: destinations
                .iter()
                .map(|(name, weight)| tcp_proxy::weighted_cluster::ClusterWeight {
                    name: name.clone(),
                    weight: *weight,
                    ..Default::default()
                })
                .collect(),
        }),
    };
    let proxy =
        TcpProxy { stat_prefix: stat_prefix.into(), cluster_specifier: Some(cluster_specifier), ..Default::default() };
    Filter {
        name: "envoy.filters.network.tcp_proxy".into(),
        config_type: Some(filter::ConfigType::TypedConfig(pb::any(&proxy))),
    }
}

fn to_port(port: u16) -> FilterChainMatch {
    FilterChainMatch { destination_port: Some(pb::uint32(u32::from(port))), ..Default::default() }
}

/// A captured sidecar's outbound listener, and the route configurations its chains load.
pub(super) struct Outbound {
    pub listener: Arc<Encoded>,
    /// Of services' HTTP ports, each once.
    pub routes: Vec<Arc<Encoded>>,
    /// Whether a chain routes by the host a request names, with the outbound routes.
    pub by_host: bool,
}

/// What one service adds to the outbound listener: a chain for each of its ports at each of
/// its addresses. Built with the service's routes and kept while they are (a thousand
/// services' chains, each with its HTTP connection manager, were most of the listener's cost,
/// built again on every change to any route).
pub(super) struct ServiceChains {
    chains: Vec<Chain>,
}

/// One chain, and what it matches: its port, its address (`None` is any), and for TLS the
/// names the client asks for. No two chains of a listener may match the same.
struct Chain {
    port: u16,
    ip: Option<IpAddr>,
    names: Vec<String>,
    carries: Carries,
    chain: FilterChain,
    /// The chain as a field of the listener (`as_field`).
    encoded: Vec<u8>,
}

/// What a chain does with a connection.
enum Carries {
    /// Proxies it over TCP.
    Tcp,
    /// Routes its HTTP by its service port's own route configuration; by host, with the
    /// outbound routes, where it has none.
    Http(Option<Arc<Encoded>>),
}

impl Chain {
    fn new(port: u16, ip: Option<IpAddr>, names: Vec<String>, carries: Carries, chain: FilterChain) -> Chain {
        let encoded = as_field(chain.clone());
        Chain { port, ip, names, carries, chain, encoded }
    }
}

/// A chain encoded as a field of the outbound listener: a message's encoding is its fields' one
/// after another, and a repeated field's entries may come anywhere among them.
fn as_field(chain: FilterChain) -> Vec<u8> {
    Listener { filter_chains: vec![chain], ..Default::default() }.encode_to_vec()
}

impl ServiceChains {
    /// The chains of `service`, whose routes are `service_routes`: an HTTP port's at each
    /// address go into `http` with the routes of that service port alone, so that a request
    /// goes by the address it was sent to, as it would without the mesh, whatever host it
    /// names; a TCP or TLS port's are a TCP proxy to its cluster. A ServiceEntry without
    /// addresses has chains to any address: an HTTP port's route by the host each request
    /// names, with the outbound routes.
    pub(super) fn build(
        snapshot: &MeshSnapshot,
        class: super::Class,
        service: &Service,
        service_routes: &ServiceRoutes,
        http: &mut impl FnMut(&str) -> Filter,
    ) -> ServiceChains {
        let routes = super::route::Routes::new(snapshot, class);
        let addresses: Vec<Option<IpAddr>> = match (&service.origin, service.addresses.as_slice()) {
            (Origin::Entry(_), []) => vec![None],
            (_, addresses) => addresses.iter().copied().map(Some).collect(),
        };
        let host = service.host();
        let mut chains = Vec::new();
        for port in &service.ports {
            for &ip in &addresses {
                let at = ip.map_or_else(|| "any".to_string(), |ip| ip.to_string());
                let matching = |names: Vec<String>| FilterChainMatch {
                    prefix_ranges: ip.into_iter().map(cidr).collect(),
                    server_names: names,
                    ..to_port(port.number)
                };
                if port.protocol.is_http() {
                    let alone = ip.and_then(|_| service_routes.alone(port.number)).cloned();
                    let route_name = alone.as_ref().map_or(super::OUTBOUND_ROUTES, |a| a.name.as_str());
                    let chain = FilterChain {
                        name: format!("outbound_{at}_{}", port.number),
                        filter_chain_match: Some(matching(Vec::new())),
                        filters: vec![http(route_name)],
                        ..Default::default()
                    };
                    chains.push(Chain::new(port.number, ip, Vec::new(), Carries::Http(alone), chain));
                    continue;
                }
                let mut rules = Vec::new();
                if port.protocol == Protocol::Tls {
                    let tls = routes.tls_rules(&host, port.number);
                    rules.extend(tls.into_iter().map(|rule| (rule.names, rule.destinations)));
                }
                // What no rule takes; to any address, TLS is told apart by the name the client
                // asks for.
                let rest = if ip.is_none() && port.protocol == Protocol::Tls { vec![host.clone()] } else { vec![] };
                rules.push((rest, routes.tcp_destinations(&host, port.number)));
                let stat_prefix = super::cluster_name(port.number, None, &host).replace(['.', '|'], "_");
                for (names, destinations) in rules {
                    let chain = FilterChain {
                        name: tcp_chain_name(&at, port.number, &names),
                        filter_chain_match: Some(matching(names.clone())),
                        filters: vec![tcp_split(&stat_prefix, &destinations)],
                        ..Default::default()
                    };
                    chains.push(Chain::new(port.number, ip, names, Carries::Tcp, chain));
                }
            }
        }
        ServiceChains { chains }
    }
}

/// A TCP chain's name: where it goes, and the first name it takes.
fn tcp_chain_name(at: &str, port: u16, names: &[String]) -> String {
    match names.first() {
        Some(first) => format!("outbound_{at}_{port}_{first}"),
        None => format!("outbound_{at}_{port}"),
    }
}

/// The outbound listener on `address`, of the chains of the services its sidecars see, in
/// order: a match an earlier service's chain took is not another's, and a TLS chain keeps the
/// names no earlier one took. Connections no chain takes pass through, or with REGISTRY_ONLY,
/// go nowhere.
pub(super) fn outbound<'s>(
    outbound_policy: OutboundPolicy,
    services: impl IntoIterator<Item = &'s ServiceChains>,
    address: SocketAddr,
) -> Outbound {
    // The (port, address, SNI name) each chain matches, which no two chains may share.
    let mut taken: BTreeSet<(u16, Option<IpAddr>, Option<&str>)> = BTreeSet::new();
    let mut encoded = Vec::new();
    // HTTP chains come after the others, by port and address.
    let mut http_chains: BTreeMap<(u16, Option<IpAddr>), (&Option<Arc<Encoded>>, &[u8])> = BTreeMap::new();
    // The ports of chains told apart by name, which the TLS inspector must look at.
    let mut by_name: BTreeSet<u16> = BTreeSet::new();
    for chain in services.into_iter().flat_map(|s| &s.chains) {
        if let Carries::Http(alone) = &chain.carries {
            if taken.insert((chain.port, chain.ip, None)) {
                http_chains.insert((chain.port, chain.ip), (alone, &chain.encoded));
            }
            continue;
        }
        if chain.names.is_empty() {
            if taken.insert((chain.port, chain.ip, None)) {
                encoded.extend_from_slice(&chain.encoded);
            }
            continue;
        }
        // A name goes to the first chain that has it.
        let fresh: Vec<String> =
            chain.names.iter().filter(|n| taken.insert((chain.port, chain.ip, Some(n.as_str())))).cloned().collect();
        if fresh.is_empty() {
            continue;
        }
        by_name.insert(chain.port);
        if fresh.len() == chain.names.len() {
            encoded.extend_from_slice(&chain.encoded);
            continue;
        }
        let at = chain.ip.map_or_else(|| "any".to_string(), |ip| ip.to_string());
        let mut trimmed = chain.chain.clone();
        trimmed.name = tcp_chain_name(&at, chain.port, &fresh);
        trimmed.filter_chain_match.as_mut().expect("a TLS chain matches names").server_names = fresh;
        encoded.extend(as_field(trimmed));
    }
    let mut routes: BTreeMap<&str, &Arc<Encoded>> = BTreeMap::new();
    let mut by_host = false;
    for (alone, chain) in http_chains.into_values() {
        match alone {
            Some(alone) => _ = routes.insert(&alone.name, alone),
            None => by_host = true,
        }
        encoded.extend_from_slice(chain);
    }
    let unknown = match outbound_policy {
        OutboundPolicy::AllowAny => PASSTHROUGH,
        OutboundPolicy::RegistryOnly => BLACKHOLE,
    };
    let listener = Listener {
        name: "outbound".into(),
        address: Some(pb::socket_address(address)),
        listener_filters: std::iter::once(original_destination_filter())
            .chain((!by_name.is_empty()).then(|| tls_inspector_on(&by_name)))
            .collect(),
        traffic_direction: core::TrafficDirection::Outbound as i32,
        default_filter_chain: Some(FilterChain {
            name: "passthrough".into(),
            filters: vec![tcp_to(unknown, unknown)],
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut value = listener.encode_to_vec();
    value.extend(encoded);
    let any = envoy_types::pb::google::protobuf::Any { type_url: Listener::type_url(), value };
    Outbound { listener: Encoded::new(listener.name, any), routes: routes.into_values().cloned().collect(), by_host }
}

/// The TLS inspector, on connections to `ports` only: on other ports it would hold up a
/// server that speaks first (a database's greeting) until the client sends something.
fn tls_inspector_on(ports: &BTreeSet<u16>) -> ListenerFilter {
    use envoy_types::pb::envoy::config::listener::v3::ListenerFilterChainMatchPredicate as Predicate;
    use envoy_types::pb::envoy::config::listener::v3::listener_filter_chain_match_predicate::{MatchSet, Rule};
    let port = |&p: &u16| Predicate {
        rule: Some(Rule::DestinationPortRange(envoy_types::pb::envoy::r#type::v3::Int32Range {
            start: i32::from(p),
            end: i32::from(p) + 1,
        })),
    };
    // A set has at least two members.
    let on = match ports.iter().map(port).collect::<Vec<_>>() {
        mut one if one.len() == 1 => one.remove(0),
        rules => Predicate { rule: Some(Rule::OrMatch(MatchSet { rules })) },
    };
    ListenerFilter {
        filter_disabled: Some(Predicate { rule: Some(Rule::NotMatch(Box::new(on))) }),
        ..super::security::tls_inspector()
    }
}

fn cidr(ip: IpAddr) -> core::CidrRange {
    core::CidrRange {
        address_prefix: ip.to_string(),
        prefix_len: Some(pb::uint32(if ip.is_ipv4() { 32 } else { 128 })),
    }
}

/// The inbound listener on `address`: for each port the application serves, that port's
/// chains (its mTLS and plaintext chains, as PeerAuthentication's `mode` for it says); the
/// proxy's own capture ports go nowhere (a connection to them would be captured back into this
/// listener, round and round); other ports pass through to the application unless the
/// workload's `mode` is STRICT, which lets nothing in without mTLS.
pub(super) fn inbound(
    address: SocketAddr,
    served: Vec<(u16, Vec<FilterChain>)>,
    own_ports: [u16; 2],
    mode: MtlsMode,
) -> Listener {
    let mut filter_chains: Vec<FilterChain> = served
        .into_iter()
        .flat_map(|(port, chains)| {
            chains.into_iter().map(move |mut chain| {
                let matched = chain.filter_chain_match.take().unwrap_or_default();
                chain.name = format!("{}_{port}", chain.name);
                chain.filter_chain_match =
                    Some(FilterChainMatch { destination_port: to_port(port).destination_port, ..matched });
                chain
            })
        })
        .collect();
    let inspect_tls =
        filter_chains.iter().any(|c| c.filter_chain_match.as_ref().is_some_and(|m| !m.transport_protocol.is_empty()));
    for port in own_ports {
        filter_chains.push(FilterChain {
            name: format!("blackhole_{port}"),
            filter_chain_match: Some(to_port(port)),
            filters: vec![tcp_to(BLACKHOLE, BLACKHOLE)],
            ..Default::default()
        });
    }
    let default_filter_chain = (mode != MtlsMode::Strict).then(|| FilterChain {
        name: "inbound-passthrough".into(),
        filters: vec![tcp_to(INBOUND_PASSTHROUGH, INBOUND_PASSTHROUGH)],
        ..Default::default()
    });
    Listener {
        name: "inbound".into(),
        address: Some(pb::socket_address(address)),
        listener_filters: std::iter::once(original_destination_filter())
            .chain(inspect_tls.then(super::security::tls_inspector))
            .collect(),
        filter_chains,
        default_filter_chain,
        traffic_direction: core::TrafficDirection::Inbound as i32,
        ..Default::default()
    }
}

/// A cluster that connects to where each captured connection was addressed.
pub(super) fn original_destination(name: &str) -> Cluster {
    Cluster {
        name: name.into(),
        alt_stat_name: name.replace(['.', '|'], "_"),
        cluster_discovery_type: Some(cluster::ClusterDiscoveryType::Type(cluster::DiscoveryType::OriginalDst as i32)),
        lb_policy: cluster::LbPolicy::ClusterProvided as i32,
        connect_timeout: Some(pb::duration(super::cluster::CONNECT_TIMEOUT)),
        ..Default::default()
    }
}

/// The clusters the captured listeners send to.
pub(super) fn clusters() -> Vec<Cluster> {
    let mut inbound = original_destination(INBOUND_PASSTHROUGH);
    inbound.upstream_bind_config = Some(core::BindConfig {
        source_address: Some(core::SocketAddress {
            address: INBOUND_SOURCE.to_string(),
            port_specifier: Some(core::socket_address::PortSpecifier::PortValue(0)),
            ..Default::default()
        }),
        ..Default::default()
    });
    let blackhole = Cluster {
        name: BLACKHOLE.into(),
        cluster_discovery_type: Some(cluster::ClusterDiscoveryType::Type(cluster::DiscoveryType::Static as i32)),
        connect_timeout: Some(pb::duration(std::time::Duration::from_secs(10))),
        ..Default::default()
    };
    vec![original_destination(PASSTHROUGH), inbound, blackhole]
}
