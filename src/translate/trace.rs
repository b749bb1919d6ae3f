//! Tracing: each HTTP connection manager reports spans with Envoy's Zipkin tracer to the
//! controller's collector (the bootstrap's [`COLLECTOR_CLUSTER`]), in Zipkin's v2 JSON, which
//! needs nothing but a JSON parser on the other end.
//!
//! A sidecar's inbound listener reports the server side of each call, its outbound listener
//! the client side; the gateway reports both. Every span has an id of its own whose parent is
//! the span that caused it (no span id shared between caller and callee), so a trace is a
//! plain tree. Context travels in B3 headers and W3C `traceparent` both, read and written, so
//! an application that forwards either one joins its calls to the trace.

use envoy_types::pb::envoy::config::route::v3::Decorator;
use envoy_types::pb::envoy::config::trace::v3::{
    ZipkinConfig, tracing::Http, tracing::http::ConfigType, zipkin_config,
};
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3 as hcm;
use envoy_types::pb::envoy::r#type::v3::Percent;
use envoy_types::pb::google::protobuf::BoolValue;

use super::pb;

/// The bootstrap's cluster that leads to the controller's span collector.
pub const COLLECTOR_CLUSTER: &str = "meshctl_collector";

/// Where the collector takes spans: Zipkin's own path, so any Zipkin-speaking tool could
/// stand in for it.
pub const SPANS_PATH: &str = "/api/v2/spans";

/// How the mesh traces requests.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Tracing {
    /// The percentage of requests that start a trace (0 to 100; 0 traces nothing). A request
    /// that arrives as part of a trace is traced as its caller decided.
    pub sampling: f64,
}

impl Tracing {
    /// Every request, on the local mesh, as Istio's demo profile: a developer's few requests
    /// all show up.
    pub const LOCAL_DEFAULT: Tracing = Tracing { sampling: 100.0 };
    /// One request in a hundred, on a cluster, as Istio's default profile.
    pub const CLUSTER_DEFAULT: Tracing = Tracing { sampling: 1.0 };

    /// A sampling percentage as a flag gives it.
    pub fn parse(text: &str) -> Result<Tracing, String> {
        match text.parse::<f64>() {
            Ok(sampling) if (0.0..=100.0).contains(&sampling) => Ok(Tracing { sampling }),
            _ => Err(format!("{text} is not a percentage from 0 to 100")),
        }
    }

    /// The connection manager's tracing; `spawn_upstream_span` for a proxy that reports both
    /// sides of a call from one listener (the gateway).
    pub(super) fn manager(&self, spawn_upstream_span: bool) -> Option<hcm::http_connection_manager::Tracing> {
        if self.sampling <= 0.0 {
            return None;
        }
        let zipkin = ZipkinConfig {
            collector_cluster: COLLECTOR_CLUSTER.into(),
            collector_endpoint: SPANS_PATH.into(),
            collector_endpoint_version: zipkin_config::CollectorEndpointVersion::HttpJson as i32,
            trace_id_128bit: true,
            shared_span_context: Some(BoolValue { value: false }),
            trace_context_option: zipkin_config::TraceContextOption::UseB3WithW3cPropagation as i32,
            ..Default::default()
        };
        Some(hcm::http_connection_manager::Tracing {
            random_sampling: Some(Percent { value: self.sampling }),
            spawn_upstream_span: Some(BoolValue { value: spawn_upstream_span }),
            provider: Some(Http {
                name: "envoy.tracers.zipkin".into(),
                config_type: Some(ConfigType::TypedConfig(pb::any(&zipkin))),
            }),
            ..Default::default()
        })
    }
}

/// The span name of a call to a service, the same on the caller's route and the callee's
/// (Envoy lets the caller's name win, so two names would make the callee's span take the
/// caller's anyway): `HOST:PORT/*`, as Istio names them.
pub(super) fn operation(host: &str, port: u16) -> Decorator {
    Decorator { operation: format!("{host}:{port}/*"), ..Default::default() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sampling_of_zero_leaves_tracing_off() {
        assert_eq!(Tracing { sampling: 0.0 }.manager(false), None);
        let on = Tracing { sampling: 2.5 }.manager(true).unwrap();
        assert_eq!(on.random_sampling.unwrap().value, 2.5);
        assert!(on.spawn_upstream_span.unwrap().value);
    }

    #[test]
    fn a_sampling_is_a_percentage() {
        assert_eq!(Tracing::parse("100"), Ok(Tracing { sampling: 100.0 }));
        assert_eq!(Tracing::parse("0.5"), Ok(Tracing { sampling: 0.5 }));
        for bad in ["101", "-1", "all", "NaN"] {
            assert!(Tracing::parse(bad).unwrap_err().contains("not a percentage from 0 to 100"), "{bad}");
        }
    }
}
