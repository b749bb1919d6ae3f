//! The bootstrap every proxy starts from: who it is, where its admin endpoint listens, and the
//! static clusters that reach the control plane (xDS, and the span collector); everything
//! else arrives over ADS.

use std::net::SocketAddr;

use envoy_types::pb::envoy::config::bootstrap::v3::{
    Admin, Bootstrap, LayeredRuntime, RuntimeLayer, bootstrap, runtime_layer,
};
use envoy_types::pb::envoy::config::cluster::v3::{Cluster, cluster};
use envoy_types::pb::envoy::config::core::v3 as core;
use envoy_types::pb::envoy::config::metrics::v3 as metrics;

use super::{COLLECTOR_CLUSTER, load_assignment, pb};

/// The name of the static cluster that leads to the xDS server.
pub const XDS_CLUSTER: &str = "xds";

/// A bootstrap for the proxy `node_id` in service `cluster` (Envoy's `--service-cluster`),
/// with its admin endpoint on `admin`, fed by the ADS server at `xds`, reporting spans to the
/// collector at `collector`.
pub fn bootstrap(node_id: &str, cluster: &str, admin: SocketAddr, xds: SocketAddr, collector: SocketAddr) -> Bootstrap {
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
        static_resources: Some(bootstrap::StaticResources {
            clusters: vec![xds_cluster(xds), collector_cluster(collector)],
            ..Default::default()
        }),
        layered_runtime: Some(span_flushing()),
        stats_config: Some(stats_config()),
        // Histograms reach the admin endpoint when stats are flushed (every 5 s by default);
        // latency quantiles over a 2 s window need fresher ones.
        stats_flush_interval: Some(pb::duration(std::time::Duration::from_secs(1))),
        dynamic_resources: Some(bootstrap::DynamicResources {
            ads_config: Some(ads),
            cds_config: Some(pb::ads()),
            lds_config: Some(pb::ads()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Request-time histogram boundaries, in milliseconds: fine enough that a p99 read from bucket
/// counts is meaningful anywhere from 1 ms to 30 s (Envoy's defaults jump from 1 to 5 ms and from
/// 10 to 25 s).
pub const LATENCY_BUCKETS_MS: [f64; 40] = [
    0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.5, 10.0, 12.5, 15.0, 20.0, 25.0, 30.0, 40.0, 50.0, 60.0, 75.0,
    100.0, 125.0, 150.0, 200.0, 250.0, 300.0, 400.0, 500.0, 750.0, 1000.0, 1500.0, 2000.0, 2500.0, 3000.0, 4000.0,
    5000.0, 7500.0, 10000.0, 20000.0, 30000.0,
];

fn stats_config() -> metrics::StatsConfig {
    use envoy_types::pb::envoy::r#type::matcher::v3::{StringMatcher, string_matcher::MatchPattern};
    let buckets = |suffix: &str| metrics::HistogramBucketSettings {
        r#match: Some(StringMatcher { match_pattern: Some(MatchPattern::Suffix(suffix.into())), ..Default::default() }),
        buckets: LATENCY_BUCKETS_MS.to_vec(),
        ..Default::default()
    };
    metrics::StatsConfig {
        histogram_bucket_settings: vec![buckets("upstream_rq_time"), buckets("downstream_rq_time")],
        ..Default::default()
    }
}

/// How a proxy sends the spans it holds (Envoy's runtime keys): at least every second (Envoy's
/// default is 5 s, long for someone waiting on a trace). The batch stays Envoy's 5 spans: the
/// request that fills a batch pays for sending it, and larger batches made the mesh bench's
/// traced p99 worse (1.1 ms at 5, 2.7 ms at 25, 14 ms at 100) for a smaller median.
pub const SPAN_REPORTING: [(&str, u32); 1] = [("tracing.zipkin.flush_interval_ms", 1000)];

fn span_flushing() -> LayeredRuntime {
    use envoy_types::pb::google::protobuf::{Struct, Value, value::Kind};
    let fields = SPAN_REPORTING
        .iter()
        .map(|(key, value)| (key.to_string(), Value { kind: Some(Kind::NumberValue(f64::from(*value))) }))
        .collect();
    LayeredRuntime {
        layers: vec![RuntimeLayer {
            name: "static".into(),
            layer_specifier: Some(runtime_layer::LayerSpecifier::StaticLayer(Struct { fields })),
        }],
    }
}

fn collector_cluster(collector: SocketAddr) -> Cluster {
    Cluster {
        name: COLLECTOR_CLUSTER.into(),
        cluster_discovery_type: Some(cluster::ClusterDiscoveryType::Type(cluster::DiscoveryType::Static as i32)),
        connect_timeout: Some(pb::duration(std::time::Duration::from_secs(1))),
        load_assignment: Some(load_assignment(COLLECTOR_CLUSTER, [(collector, false)])),
        ..Default::default()
    }
}

/// gRPC needs HTTP/2 to the control plane.
fn xds_cluster(xds: SocketAddr) -> Cluster {
    Cluster {
        name: XDS_CLUSTER.into(),
        cluster_discovery_type: Some(cluster::ClusterDiscoveryType::Type(cluster::DiscoveryType::Static as i32)),
        connect_timeout: Some(pb::duration(std::time::Duration::from_secs(1))),
        load_assignment: Some(load_assignment(XDS_CLUSTER, [(xds, false)])),
        typed_extension_protocol_options: [(
            pb::HTTP_PROTOCOL_OPTIONS.to_string(),
            pb::http_protocol_options(true, None),
        )]
        .into(),
        ..Default::default()
    }
}
