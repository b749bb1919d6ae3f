//! A Gateway API Gateway's proxy: a listener per port its programmed listeners take, HTTP, or
//! HTTPS with a filter chain per hostname (by SNI) presenting that listener's certificate, and
//! the routes of each port (`mesh_route::gateway_routes`).

use envoy_types::pb::envoy::config::core::v3::TrafficDirection;
use envoy_types::pb::envoy::config::listener::v3::{FilterChain, FilterChainMatch, Listener};
use envoy_types::pb::envoy::config::route::v3::RouteConfiguration;
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::Secret;

use super::{MeshSnapshot, http_manager, mesh_route, network_filter, pb, rds, security};
use crate::ingress::Served;

/// The listeners, route configurations and served certificates of the proxy of `served`, its
/// listeners bound at `ip`.
pub(super) fn gateway(
    snapshot: &MeshSnapshot,
    served: &Served<'_>,
    ip: std::net::IpAddr,
) -> (Vec<Listener>, Vec<RouteConfiguration>, Vec<Secret>) {
    let mut listeners = Vec::new();
    let mut configs = Vec::new();
    let mut secrets: Vec<Secret> = Vec::new();
    for port in served.ports() {
        let config = mesh_route::gateway_routes(snapshot, served, port);
        let manager = http_manager("gateway", rds(&config.name), Vec::new(), snapshot.tracing.manager(true));
        let http = network_filter(&manager);
        configs.push(config);
        let https: Vec<_> = served.on_port(port).filter(|j| j.listener.protocol == "HTTPS").collect();
        let mut listener = Listener {
            name: format!("gateway.{port}"),
            address: Some(pb::socket_address(std::net::SocketAddr::new(ip, port))),
            traffic_direction: TrafficDirection::Unspecified as i32,
            ..Default::default()
        };
        if https.is_empty() {
            listener.filter_chains = vec![FilterChain { filters: vec![http], ..Default::default() }];
        } else {
            listener.listener_filters = vec![security::tls_inspector()];
            for judged in https {
                let Some((namespace, name)) = &judged.certificate else { continue };
                let Some(Ok(certificate)) = snapshot.environment.certificates.get(&(namespace.clone(), name.clone()))
                else {
                    continue;
                };
                let names: Vec<String> = judged.listener.hostname.iter().cloned().collect();
                // Of two listeners for one name, the first serves it (the second conflicts).
                let taken = |c: &FilterChain| c.filter_chain_match.as_ref().is_some_and(|m| m.server_names == names);
                if listener.filter_chains.iter().any(taken) {
                    continue;
                }
                let secret = format!("kubernetes://{namespace}/{name}");
                if !secrets.iter().any(|s| s.name == secret) {
                    secrets.push(security::certificate_secret(&secret, &certificate.chain, &certificate.key));
                }
                listener.filter_chains.push(FilterChain {
                    name: judged.listener.name.clone(),
                    filter_chain_match: Some(FilterChainMatch { server_names: names, ..Default::default() }),
                    filters: vec![http.clone()],
                    transport_socket: Some(security::serving_tls(&secret)),
                    ..Default::default()
                });
            }
        }
        listeners.push(listener);
    }
    (listeners, configs, secrets)
}
