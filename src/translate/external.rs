//! Services outside the registry (ServiceEntry) and traffic to hosts no one declared (the
//! mesh's outbound traffic policy).
//!
//! ```text
//!   ServiceEntry host ──▶ Service { origin: Entry }  ── resolution STATIC: EDS, like the registry's
//!                                                     ├─ DNS / DNS_ROUND_ROBIN: the proxy resolves
//!                                                     └─ NONE: as addressed (forward proxy)
//!   unknown host ──▶ the routes' last virtual host ── ALLOW_ANY: PassthroughCluster
//!                                                     └─ REGISTRY_ONLY: 502
//! ```

use std::collections::BTreeMap;
use std::net::IpAddr;

use envoy_types::pb::envoy::config::cluster::v3::{Cluster, cluster};
use envoy_types::pb::envoy::config::core::v3 as core;
use envoy_types::pb::envoy::config::endpoint::v3::ClusterLoadAssignment;
use envoy_types::pb::envoy::config::route::v3::{
    DirectResponseAction, Route, RouteAction, RouteMatch, VirtualHost, route, route_action, route_match,
};
use envoy_types::pb::envoy::extensions::clusters::dynamic_forward_proxy::v3 as dfp_cluster;
use envoy_types::pb::envoy::extensions::common::dynamic_forward_proxy::v3::DnsCacheConfig;
use envoy_types::pb::envoy::extensions::filters::http::dynamic_forward_proxy::v3 as dfp_filter;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3 as hcm;

use super::{Instance, Service, ServicePort, pb};
use crate::api::networking::{Exported, Location, Resolution, ServiceEntry};

/// Where a proxy's calls to a host neither the registry nor a ServiceEntry names go: Istio's
/// MeshConfig `outboundTrafficPolicy.mode`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OutboundPolicy {
    /// On, as addressed.
    #[default]
    AllowAny,
    /// Nowhere: an HTTP request is answered 502, a connection is closed.
    RegistryOnly,
}

impl OutboundPolicy {
    /// Istio's names for the modes.
    pub fn name(self) -> &'static str {
        match self {
            OutboundPolicy::AllowAny => "ALLOW_ANY",
            OutboundPolicy::RegistryOnly => "REGISTRY_ONLY",
        }
    }

    /// A mode as a flag gives it, by Istio's name in any case.
    pub fn parse(text: &str) -> Result<OutboundPolicy, String> {
        [OutboundPolicy::AllowAny, OutboundPolicy::RegistryOnly]
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(&text.replace('-', "_")))
            .ok_or_else(|| format!("{text} is not an outbound traffic policy: use ALLOW_ANY or REGISTRY_ONLY"))
    }
}

/// Where a service is declared, which decides its name and how its instances are found.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Origin {
    /// The registry (a Kubernetes Service, local Workloads): named `NAME.NAMESPACE.svc...`,
    /// its instances run sidecars.
    #[default]
    Registry,
    /// A host of a ServiceEntry.
    Entry(Entry),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub host: String,
    pub location: Location,
    pub resolution: Resolution,
    /// For DNS resolution, the names to resolve: the endpoints', or the host itself when the
    /// entry lists none.
    pub names: Vec<DnsName>,
}

/// An instance of a DNS-resolved entry.
#[derive(Clone, Debug, PartialEq)]
pub struct DnsName {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// Where it listens for each service port, by the service port's number.
    pub ports: BTreeMap<u16, u16>,
}

/// The services a ServiceEntry declares: one per host. STATIC endpoints become instances; a
/// MESH_INTERNAL one runs a sidecar with the endpoint's (or `default`) service account.
pub(super) fn services(entry: &ServiceEntry) -> Vec<Service> {
    let spec = &entry.spec;
    let namespace = super::namespace(&entry.metadata).to_string();
    let resolution = spec.resolution.unwrap_or(Resolution::None);
    let ports: Vec<ServicePort> = spec
        .ports
        .iter()
        .map(|p| ServicePort { name: p.name.clone(), number: p.number as u16, protocol: p.protocol() })
        .collect();
    // Where an endpoint listens for each service port.
    let endpoint_ports = |named: &BTreeMap<String, u32>| -> BTreeMap<u16, u16> {
        spec.ports
            .iter()
            .map(|p| {
                let target = named.get(&p.name).copied().or(p.target_port).unwrap_or(p.number);
                (p.number as u16, target as u16)
            })
            .collect()
    };
    let instances: Vec<Instance> = match resolution {
        Resolution::Static => spec
            .endpoints
            .iter()
            .filter_map(|e| {
                Some(Instance {
                    ip: e.address.parse().ok()?,
                    ports: endpoint_ports(&e.ports),
                    labels: e.labels.clone(),
                    service_account: e.service_account.clone().unwrap_or_else(|| "default".into()),
                })
            })
            .collect(),
        _ => Vec::new(),
    };
    let addresses: Vec<IpAddr> = spec.addresses.iter().filter_map(|a| a.parse().ok()).collect();
    spec.hosts
        .iter()
        .map(|host| {
            let names = match spec.endpoints.as_slice() {
                [] => vec![DnsName {
                    name: host.clone(),
                    labels: BTreeMap::new(),
                    ports: endpoint_ports(&BTreeMap::new()),
                }],
                endpoints => endpoints
                    .iter()
                    .map(|e| DnsName {
                        name: e.address.clone(),
                        labels: e.labels.clone(),
                        ports: endpoint_ports(&e.ports),
                    })
                    .collect(),
            };
            Service {
                name: host.clone(),
                namespace: namespace.clone(),
                ports: ports.clone(),
                addresses: addresses.clone(),
                instances: instances.clone(),
                origin: Origin::Entry(Entry {
                    host: host.clone(),
                    location: spec.location.unwrap_or(Location::MeshExternal),
                    resolution,
                    names,
                }),
                exported: Exported::new(&spec.export_to, &namespace),
            }
        })
        .collect()
}

/// The proxies' one DNS cache for the hosts they forward to as addressed.
fn dns_cache() -> DnsCacheConfig {
    DnsCacheConfig {
        name: "meshctl_forward".into(),
        // A name that has both (`localhost`) is reached over IPv4, where services mostly listen.
        dns_lookup_family: cluster::DnsLookupFamily::V4Preferred as i32,
        ..Default::default()
    }
}

/// The HTTP filter that resolves, for a forwarding cluster, the host a request names.
pub(super) fn forward_filter() -> hcm::HttpFilter {
    let config = dfp_filter::FilterConfig {
        implementation_specifier: Some(dfp_filter::filter_config::ImplementationSpecifier::DnsCacheConfig(dns_cache())),
        ..Default::default()
    };
    super::http_filter("envoy.filters.http.dynamic_forward_proxy", &config)
}

/// A cluster that connects to the host (and port) each request or `CONNECT` names.
pub(super) fn forward_cluster(name: &str) -> Cluster {
    let config = dfp_cluster::ClusterConfig {
        cluster_implementation_specifier: Some(
            dfp_cluster::cluster_config::ClusterImplementationSpecifier::DnsCacheConfig(dns_cache()),
        ),
        ..Default::default()
    };
    Cluster {
        name: name.to_string(),
        alt_stat_name: name.replace(['.', '|'], "_"),
        cluster_discovery_type: Some(cluster::ClusterDiscoveryType::ClusterType(cluster::CustomClusterType {
            name: "envoy.clusters.dynamic_forward_proxy".into(),
            typed_config: Some(pb::any(&config)),
        })),
        lb_policy: cluster::LbPolicy::ClusterProvided as i32,
        connect_timeout: Some(pb::duration(super::cluster::CONNECT_TIMEOUT)),
        ..Default::default()
    }
}

/// The endpoints of a DNS-resolved entry's cluster: the names whose labels `selects` takes,
/// at their port for service port `number`.
pub(super) fn dns_assignment(
    cluster: &str,
    entry: &Entry,
    number: u16,
    selects: impl Fn(&BTreeMap<String, String>) -> bool,
) -> ClusterLoadAssignment {
    let names = entry.names.iter().filter(|n| selects(&n.labels));
    super::dns_load_assignment(
        cluster,
        names.map(|n| (n.name.as_str(), n.ports.get(&number).copied().unwrap_or(number))),
    )
}

/// The last virtual host of a sidecar's outbound routes: what a request to a host no service
/// has gets, as `policy` says. Envoy matches the most specific domain first, so `*` is only
/// ever the last resort.
pub(super) fn unknown_hosts(policy: OutboundPolicy) -> VirtualHost {
    let action = match policy {
        OutboundPolicy::AllowAny => route::Action::Route(RouteAction {
            cluster_specifier: Some(route_action::ClusterSpecifier::Cluster(super::capture::PASSTHROUGH.into())),
            timeout: Some(pb::duration(std::time::Duration::ZERO)),
            ..Default::default()
        }),
        OutboundPolicy::RegistryOnly => route::Action::DirectResponse(DirectResponseAction {
            status: 502,
            body: None,
            body_format: Some(core::SubstitutionFormatString {
                format: Some(core::substitution_format_string::Format::TextFormatSource(core::DataSource {
                    specifier: Some(core::data_source::Specifier::InlineString(
                        "meshctl: no service or ServiceEntry in the mesh has host %REQ(:AUTHORITY)%, and the \
                         outbound traffic policy is REGISTRY_ONLY; declare the host with a ServiceEntry\n"
                            .into(),
                    )),
                    ..Default::default()
                })),
                content_type: "text/plain".into(),
                ..Default::default()
            }),
        }),
    };
    let connect = RouteMatch {
        path_specifier: Some(route_match::PathSpecifier::ConnectMatcher(route_match::ConnectMatcher::default())),
        ..Default::default()
    };
    let mut tunnel = route::Action::clone(&action);
    if let route::Action::Route(tunnel) = &mut tunnel {
        tunnel.upgrade_configs = vec![super::route::connect_upgrade()];
    }
    VirtualHost {
        name: match policy {
            OutboundPolicy::AllowAny => "allow_any",
            OutboundPolicy::RegistryOnly => "block_all",
        }
        .into(),
        domains: vec!["*".into()],
        routes: vec![
            Route { r#match: Some(connect), action: Some(tunnel), ..Default::default() },
            Route { r#match: Some(super::route::prefix_match("/")), action: Some(action), ..Default::default() },
        ],
        ..Default::default()
    }
}
