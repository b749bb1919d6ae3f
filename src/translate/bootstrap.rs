//! The bootstrap every proxy starts from: who it is, where its admin endpoint listens, and the
//! one static cluster that reaches the control plane; everything else arrives over ADS.

use std::net::SocketAddr;

use envoy_types::pb::envoy::config::bootstrap::v3::{Admin, Bootstrap, bootstrap};
use envoy_types::pb::envoy::config::cluster::v3::{Cluster, cluster};
use envoy_types::pb::envoy::config::core::v3 as core;

use super::{load_assignment, pb};

/// The name of the static cluster that leads to the xDS server.
pub const XDS_CLUSTER: &str = "xds";

/// A bootstrap for the proxy `node_id` in service `cluster` (Envoy's `--service-cluster`),
/// with its admin endpoint on `admin`, fed by the ADS server at `xds`.
pub fn bootstrap(node_id: &str, cluster: &str, admin: SocketAddr, xds: SocketAddr) -> Bootstrap {
    let ads = core::ApiConfigSource {
        api_type: core::api_config_source::ApiType::Grpc as i32,
        transport_api_version: core::ApiVersion::V3 as i32,
        grpc_services: vec![core::GrpcService {
            target_specifier: Some(core::grpc_service::TargetSpecifier::EnvoyGrpc(core::grpc_service::EnvoyGrpc {
                cluster_name: XDS_CLUSTER.into(),
                ..Default::default()
            })),
            ..Default::default()
        }],
        set_node_on_first_message_only: true,
        ..Default::default()
    };
    Bootstrap {
        node: Some(core::Node { id: node_id.into(), cluster: cluster.into(), ..Default::default() }),
        admin: Some(Admin { address: Some(pb::socket_address(admin)), ..Default::default() }),
        static_resources: Some(bootstrap::StaticResources { clusters: vec![xds_cluster(xds)], ..Default::default() }),
        dynamic_resources: Some(bootstrap::DynamicResources {
            ads_config: Some(ads),
            cds_config: Some(pb::ads()),
            lds_config: Some(pb::ads()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// gRPC needs HTTP/2 to the control plane.
fn xds_cluster(xds: SocketAddr) -> Cluster {
    Cluster {
        name: XDS_CLUSTER.into(),
        cluster_discovery_type: Some(cluster::ClusterDiscoveryType::Type(cluster::DiscoveryType::Static as i32)),
        connect_timeout: Some(pb::duration(std::time::Duration::from_secs(1))),
        load_assignment: Some(load_assignment(XDS_CLUSTER, [xds])),
        typed_extension_protocol_options: [(
            pb::HTTP_PROTOCOL_OPTIONS.to_string(),
            pb::http_protocol_options(true, None),
        )]
        .into(),
        ..Default::default()
    }
}
