//! The bootstrap every proxy starts from, local or on a cluster, gateway or sidecar: where its
//! admin endpoint listens, the static clusters that reach the control plane (xDS, and the span
//! collector), and how it keeps statistics; everything else arrives over ADS. It is Envoy's
//! JSON, which a local proxy reads from a file and a Pod's from a ConfigMap or its command
//! line. The node id and service are on the command line ([`envoy_args`]), so the Pods of one
//! Deployment share one bootstrap.

use std::net::SocketAddr;

use serde_json::{Value, json};

use super::COLLECTOR_CLUSTER;

/// The name of the static cluster that leads to the xDS server.
pub const XDS_CLUSTER: &str = "xds";

/// Where a proxy's control plane is.
pub enum ControlPlane<'a> {
    /// The local controller: xDS and the span collector at their own loopback addresses, in
    /// plaintext.
    Local { xds: SocketAddr, collector: SocketAddr },
    /// A cluster's controller, serving both at `host:port` (a name the cluster's DNS resolves)
    /// over `tls` (an upstream transport socket), with `http_filters` on every request (the
    /// proxy's credentials).
    Cluster { host: &'a str, port: u16, tls: Value, http_filters: Value },
}

/// The bootstrap of a proxy whose admin endpoint is `admin`, fed by `control_plane`.
pub fn bootstrap(admin: SocketAddr, control_plane: &ControlPlane) -> Value {
    // gRPC needs HTTP/2 to the control plane.
    let http2 = |cluster: &mut Value, filters: Option<&Value>| {
        let mut options = json!({
            "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
            "explicit_http_config": { "http2_protocol_options": {} },
        });
        if let Some(filters) = filters {
            options["http_filters"] = filters.clone();
        }
        cluster["typed_extension_protocol_options"] =
            json!({ "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": options });
    };
    let clusters = match control_plane {
        ControlPlane::Local { xds, collector } => {
            let mut to_xds = static_cluster(XDS_CLUSTER, &xds.ip().to_string(), xds.port());
            http2(&mut to_xds, None);
            vec![to_xds, static_cluster(COLLECTOR_CLUSTER, &collector.ip().to_string(), collector.port())]
        }
        // The controller serves spans beside xDS, on the same port and the same terms: every
        // stream and every batch of spans proves the proxy's Pod.
        ControlPlane::Cluster { host, port, tls, http_filters } => [XDS_CLUSTER, COLLECTOR_CLUSTER]
            .map(|name| {
                let mut cluster = static_cluster(name, host, *port);
                cluster["type"] = json!("STRICT_DNS");
                cluster["transport_socket"] = tls.clone();
                http2(&mut cluster, Some(http_filters));
                cluster
            })
            .to_vec(),
    };
    let ads_source = json!({ "ads": {}, "resource_api_version": "V3" });
    let buckets = |suffix: &str| json!({ "match": { "suffix": suffix }, "buckets": LATENCY_BUCKETS_MS.as_slice() });
    let span_reporting: serde_json::Map<String, Value> =
        SPAN_REPORTING.iter().map(|(key, value)| (key.to_string(), json!(value))).collect();
    json!({
        "admin": { "address": socket_address(&admin.ip().to_string(), admin.port()) },
        "static_resources": { "listeners": [], "clusters": clusters },
        "dynamic_resources": {
            "ads_config": {
                "api_type": "DELTA_GRPC",
                "transport_api_version": "V3",
                "grpc_services": [{ "envoy_grpc": { "cluster_name": XDS_CLUSTER } }],
                "set_node_on_first_message_only": true,
            },
            "cds_config": ads_source,
            "lds_config": ads_source,
        },
        "stats_config": {
            "histogram_bucket_settings": [buckets("upstream_rq_time"), buckets("downstream_rq_time")],
        },
        // Histograms reach the admin endpoint when stats are flushed (every 5 s by default);
        // latency quantiles over a 2 s window need fresher ones.
        "stats_flush_interval": "1s",
        "layered_runtime": { "layers": [{ "name": "static", "static_layer": span_reporting }] },
    })
}

/// Envoy's command line (after `envoy`): `config`, the bootstrap's flag (`-c FILE` or
/// `--config-yaml TEXT`) and any of the caller's own, then the proxy's node id and service
/// (Envoy's `--service-cluster`), and what every proxy of the mesh runs with.
pub fn envoy_args(config: &[&str], node: &str, service: &str) -> Vec<String> {
    let rest = [
        "--service-node",
        node,
        "--service-cluster",
        service,
        // Hot restart needs shared memory of its own per Envoy on one host, and a read-only
        // Pod has none to offer; the local supervisor restarts a proxy, Kubernetes rolls Pods.
        "--disable-hot-restart",
        // A listener change (an mTLS mode, an authorization policy) binds connections opened
        // before it only once they close: tell them to close at once, and cut them after a
        // few seconds, so a policy is in force everywhere within that time.
        "--drain-strategy",
        "immediate",
        "--drain-time-s",
        "5",
        "--log-level",
        "warning",
    ];
    config.iter().chain(&rest).map(|s| s.to_string()).collect()
}

/// A cluster of one fixed address.
pub fn static_cluster(name: &str, address: &str, port: u16) -> Value {
    json!({
        "name": name,
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": { "cluster_name": name, "endpoints": [{ "lb_endpoints": [
            { "endpoint": { "address": socket_address(address, port) } },
        ]}]},
    })
}

/// A static HTTP listener on every address of the host, serving `routes` and nothing else.
pub fn static_http_listener(name: &str, port: u16, routes: Vec<Value>) -> Value {
    json!({
        "name": name,
        "address": socket_address("0.0.0.0", port),
        "filter_chains": [{ "filters": [{
            "name": "envoy.filters.network.http_connection_manager",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                "stat_prefix": name,
                "route_config": { "virtual_hosts": [{ "name": name, "domains": ["*"], "routes": routes }] },
                "http_filters": [{
                    "name": "envoy.filters.http.router",
                    "typed_config": { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" },
                }],
            },
        }]}],
    })
}

fn socket_address(address: &str, port: u16) -> Value {
    json!({ "socket_address": { "address": address, "port_value": port } })
}

/// Request-time histogram boundaries, in milliseconds: fine enough that a p99 read from bucket
/// counts is meaningful anywhere from 1 ms to 30 s (Envoy's defaults jump from 1 to 5 ms and from
/// 10 to 25 s).
pub const LATENCY_BUCKETS_MS: [f64; 40] = [
    0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.5, 10.0, 12.5, 15.0, 20.0, 25.0, 30.0, 40.0, 50.0, 60.0, 75.0,
    100.0, 125.0, 150.0, 200.0, 250.0, 300.0, 400.0, 500.0, 750.0, 1000.0, 1500.0, 2000.0, 2500.0, 3000.0, 4000.0,
    5000.0, 7500.0, 10000.0, 20000.0, 30000.0,
];

/// How a proxy sends the spans it holds (Envoy's runtime keys): at least every second (Envoy's
/// default is 5 s, long for someone waiting on a trace). The batch stays Envoy's 5 spans: the
/// request that fills a batch pays for sending it, and larger batches made the mesh bench's
/// traced p99 worse (1.1 ms at 5, 2.7 ms at 25, 14 ms at 100) for a smaller median.
const SPAN_REPORTING: [(&str, u32); 1] = [("tracing.zipkin.flush_interval_ms", 1000)];
