//! DestinationRules to clusters: one per service and one per subset, each with the traffic
//! policy that applies to it (the subset's own, field by field over the rule's).

use std::net::SocketAddr;

use envoy_types::pb::envoy::config::cluster::v3::{
    CircuitBreakers, Cluster, OutlierDetection as EnvoyOutlierDetection, circuit_breakers, cluster,
};
use envoy_types::pb::envoy::config::core::v3 as core;
use envoy_types::pb::envoy::config::endpoint::v3::ClusterLoadAssignment;
use envoy_types::pb::envoy::r#type::v3::Percent;

use super::{
    InboundPort, Instance, Origin, Service, ServicePort, cluster_name, external, load_assignment, pb, security,
};
use crate::api::Protocol;
use crate::api::networking::{ClientTlsMode, DestinationRule, Resolution, SimpleLb, TrafficPolicy};

/// Istio's defaults where a policy says nothing.
pub(super) const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
const EJECTION_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);
const BASE_EJECTION_TIME: std::time::Duration = std::time::Duration::from_secs(30);
const MAX_EJECTION_PERCENT: u32 = 10;
const CONSECUTIVE_5XX: u32 = 5;

/// The clusters of one port of a service: the whole service's and one per subset of its
/// DestinationRule, with their endpoints where they come by EDS.
pub(super) fn outbound(
    service: &Service,
    port: &ServicePort,
    rule: Option<&DestinationRule>,
    accepts_mtls: &dyn Fn(&Instance) -> bool,
) -> Vec<(Cluster, Option<ClusterLoadAssignment>)> {
    let host = service.host();
    let top = rule.and_then(|r| r.spec.traffic_policy.as_ref());
    let peers = Peers::of(service);
    let target = Target { service, port, host: &host, peers: &peers, accepts_mtls };
    let mut out = vec![target.cluster(None, top, |_| true)];
    for subset in rule.map(|r| r.spec.subsets.as_slice()).unwrap_or_default() {
        let policy = merge(top, subset.traffic_policy.as_ref());
        let selects =
            |labels: &std::collections::BTreeMap<String, String>| crate::api::has_labels(&subset.labels, labels);
        out.push(target.cluster(Some(&subset.name), policy.as_ref(), selects));
    }
    out
}

/// One port of a service, as its clusters reach it.
struct Target<'a> {
    service: &'a Service,
    port: &'a ServicePort,
    host: &'a str,
    peers: &'a Peers,
    accepts_mtls: &'a dyn Fn(&Instance) -> bool,
}

impl Target<'_> {
    fn cluster(
        &self,
        subset: Option<&str>,
        policy: Option<&TrafficPolicy>,
        selects: impl Fn(&std::collections::BTreeMap<String, String>) -> bool,
    ) -> (Cluster, Option<ClusterLoadAssignment>) {
        let Target { service, port, host, peers: instance_peers, accepts_mtls } = *self;
        let name = cluster_name(port.number, subset, host);
        let discovery = |kind: cluster::DiscoveryType| Some(cluster::ClusterDiscoveryType::Type(kind as i32));
        let mut cluster = match &service.origin {
            Origin::Entry(entry) if entry.resolution == Resolution::None => external::forward_cluster(&name),
            Origin::Entry(entry) if entry.resolution != Resolution::Static => Cluster {
                cluster_discovery_type: discovery(match entry.resolution {
                    Resolution::DnsRoundRobin => cluster::DiscoveryType::LogicalDns,
                    _ => cluster::DiscoveryType::StrictDns,
                }),
                dns_lookup_family: cluster::DnsLookupFamily::V4Preferred as i32,
                load_assignment: Some(external::dns_assignment(&name, entry, port.number, &selects)),
                lb_policy: cluster::LbPolicy::LeastRequest as i32,
                ..Default::default()
            },
            _ => Cluster {
                cluster_discovery_type: discovery(cluster::DiscoveryType::Eds),
                eds_cluster_config: Some(cluster::EdsClusterConfig {
                    eds_config: Some(pb::ads()),
                    service_name: String::new(),
                }),
                lb_policy: cluster::LbPolicy::LeastRequest as i32,
                ..Default::default()
            },
        };
        cluster.name = name.clone();
        // Envoy's Prometheus output cuts a stat name at its first dot, so stats use this form.
        cluster.alt_stat_name = name.replace(['.', '|'], "_");
        cluster.connect_timeout = Some(pb::duration(CONNECT_TIMEOUT));
        cluster.circuit_breakers = Some(circuit_breakers(policy));
        if let Some(policy) = policy {
            apply(&mut cluster, policy, port.protocol);
        }
        speak_http2(&mut cluster, port);
        let instances: Vec<(&Instance, SocketAddr)> = service
            .instances
            .iter()
            .filter(|i| selects(&i.labels))
            .filter_map(|i| Some((i, i.address(port.number)?)))
            .collect();
        let tls = policy.and_then(|p| p.tls.as_ref());
        // The identities the callers accept: the rule's subjectAltNames, or whoever runs the
        // service's instances.
        let names = tls.map(|t| t.subject_alt_names.as_slice()).unwrap_or_default();
        let peers = if names.is_empty() { &instance_peers.identities } else { names };
        // An explicit tls.mode wins; without one, mTLS goes to the instances that accept it.
        let automatic = match tls.and_then(|t| t.mode) {
            Some(ClientTlsMode::IstioMutual) => {
                cluster.transport_socket = Some(security::upstream_tls(peers, tls.and_then(|t| t.sni.as_deref())));
                false
            }
            Some(ClientTlsMode::Simple) => {
                cluster.transport_socket = tls.map(|t| security::simple_tls(t, host));
                false
            }
            Some(_) => false,
            None => true,
        };
        let mtls: Vec<bool> = instances.iter().map(|(i, _)| automatic && accepts_mtls(i)).collect();
        if mtls.contains(&true) {
            let socket = if names.is_empty() { instance_peers.auto_mtls.clone() } else { security::auto_mtls(names) };
            cluster.transport_socket_matches = vec![socket];
        }
        let eds = cluster.eds_cluster_config.is_some();
        let endpoints = load_assignment(&name, instances.iter().zip(mtls).map(|((_, address), mtls)| (*address, mtls)));
        (cluster, eds.then_some(endpoints))
    }
}

/// Who runs a service's instances, and the automatic mTLS that checks for them: the same for
/// the service's cluster and each subset's, so made once.
struct Peers {
    identities: Vec<String>,
    auto_mtls: cluster::TransportSocketMatch,
}

impl Peers {
    fn of(service: &Service) -> Peers {
        let mut identities: Vec<String> = service.instances.iter().map(|i| i.identity(&service.namespace)).collect();
        identities.sort();
        identities.dedup();
        let auto_mtls = security::auto_mtls(&identities);
        Peers { identities, auto_mtls }
    }
}

/// Istio's merge: each of the four parts of a subset's policy replaces the rule's whole part.
fn merge(top: Option<&TrafficPolicy>, subset: Option<&TrafficPolicy>) -> Option<TrafficPolicy> {
    match (top, subset) {
        (None, None) => None,
        (Some(t), None) => Some(t.clone()),
        (None, Some(s)) => Some(s.clone()),
        (Some(t), Some(s)) => Some(TrafficPolicy {
            load_balancer: s.load_balancer.clone().or_else(|| t.load_balancer.clone()),
            connection_pool: s.connection_pool.clone().or_else(|| t.connection_pool.clone()),
            outlier_detection: s.outlier_detection.clone().or_else(|| t.outlier_detection.clone()),
            tls: s.tls.clone().or_else(|| t.tls.clone()),
        }),
    }
}

/// The port's application speaks HTTP/2 (gRPC, h2c): so must the cluster. (Options a policy
/// set say so already.)
fn speak_http2(cluster: &mut Cluster, port: &ServicePort) {
    if port.protocol.is_http2() {
        let options = &mut cluster.typed_extension_protocol_options;
        options.entry(pb::HTTP_PROTOCOL_OPTIONS.into()).or_insert_with(|| pb::http_protocol_options(true, None));
    }
}

/// A TCP port's cluster takes no HTTP options.
fn apply(cluster: &mut Cluster, policy: &TrafficPolicy, protocol: Protocol) {
    // A forwarding cluster picks its host by the request, not from a pool.
    if let Some(lb) =
        policy.load_balancer.as_ref().filter(|_| cluster.lb_policy != cluster::LbPolicy::ClusterProvided as i32)
    {
        cluster.lb_policy = match (lb.simple, &lb.consistent_hash) {
            (_, Some(_)) => cluster::LbPolicy::RingHash,
            (Some(SimpleLb::Random), None) => cluster::LbPolicy::Random,
            (Some(SimpleLb::RoundRobin), None) => cluster::LbPolicy::RoundRobin,
            _ => cluster::LbPolicy::LeastRequest,
        } as i32;
    }
    if let Some(pool) = &policy.connection_pool {
        if let Some(timeout) = pool.tcp.as_ref().and_then(|t| t.connect_timeout) {
            cluster.connect_timeout = Some(pb::duration(timeout.0));
        }
        let http = pool.http.as_ref();
        let common = core::HttpProtocolOptions {
            idle_timeout: http.and_then(|h| h.idle_timeout).map(|d| pb::duration(d.0)),
            max_connection_duration: pool
                .tcp
                .as_ref()
                .and_then(|t| t.max_connection_duration)
                .map(|d| pb::duration(d.0)),
            max_requests_per_connection: http.and_then(|h| h.max_requests_per_connection).map(pb::uint32),
            ..Default::default()
        };
        if protocol.is_http() && common != core::HttpProtocolOptions::default() {
            let options = pb::http_protocol_options(protocol.is_http2(), Some(common));
            cluster.typed_extension_protocol_options.insert(pb::HTTP_PROTOCOL_OPTIONS.into(), options);
        }
    }
    if let Some(od) = &policy.outlier_detection {
        let consecutive_5xx = od.consecutive_5xx_errors.unwrap_or(CONSECUTIVE_5XX);
        let gateway = od.consecutive_gateway_errors.unwrap_or(0);
        cluster.outlier_detection = Some(EnvoyOutlierDetection {
            consecutive_5xx: Some(pb::uint32(consecutive_5xx)),
            // Envoy enforces gateway failures 0% and 5xx 100% by default; say both, and turn
            // off the success-rate algorithm Istio does not expose.
            enforcing_consecutive_5xx: Some(pb::uint32(if consecutive_5xx > 0 { 100 } else { 0 })),
            consecutive_gateway_failure: (gateway > 0).then(|| pb::uint32(gateway)),
            enforcing_consecutive_gateway_failure: Some(pb::uint32(if gateway > 0 { 100 } else { 0 })),
            enforcing_success_rate: Some(pb::uint32(0)),
            interval: Some(pb::duration(od.interval.map_or(EJECTION_INTERVAL, |d| d.0))),
            base_ejection_time: Some(pb::duration(od.base_ejection_time.map_or(BASE_EJECTION_TIME, |d| d.0))),
            max_ejection_percent: Some(pb::uint32(od.max_ejection_percent.unwrap_or(MAX_EJECTION_PERCENT))),
            ..Default::default()
        });
        // Istio turns Envoy's panic mode off unless minHealthPercent asks for it, so ejected
        // instances really stop receiving traffic.
        cluster.common_lb_config = Some(cluster::CommonLbConfig {
            healthy_panic_threshold: Some(Percent { value: f64::from(od.min_health_percent.unwrap_or(0)) }),
            ..Default::default()
        });
    }
}

/// Connection-pool limits. Envoy's own defaults (1024, and 3 retries) would cap traffic that
/// no policy limits, so, as Istio does, anything unset is unlimited.
fn circuit_breakers(policy: Option<&TrafficPolicy>) -> CircuitBreakers {
    let pool = policy.and_then(|p| p.connection_pool.as_ref());
    let tcp = pool.and_then(|p| p.tcp.as_ref());
    let http = pool.and_then(|p| p.http.as_ref());
    let limit = |v: Option<u32>| Some(pb::uint32(v.unwrap_or(u32::MAX)));
    CircuitBreakers {
        thresholds: vec![circuit_breakers::Thresholds {
            max_connections: limit(tcp.and_then(|t| t.max_connections)),
            max_pending_requests: limit(http.and_then(|h| h.http1_max_pending_requests)),
            max_requests: limit(http.and_then(|h| h.http2_max_requests)),
            max_retries: limit(http.and_then(|h| h.max_retries)),
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// The sidecar's cluster to its own application's port, in the protocol the port carries.
pub(super) fn inbound(port: &InboundPort) -> Cluster {
    let name = format!("inbound|{}||", port.service_port.number);
    let mut cluster = Cluster {
        alt_stat_name: name.replace('|', "_"),
        cluster_discovery_type: Some(cluster::ClusterDiscoveryType::Type(cluster::DiscoveryType::Static as i32)),
        connect_timeout: Some(pb::duration(CONNECT_TIMEOUT)),
        load_assignment: Some(load_assignment(&name, [(port.app, false)])),
        circuit_breakers: Some(circuit_breakers(None)),
        name,
        ..Default::default()
    };
    speak_http2(&mut cluster, &port.service_port);
    cluster
}
