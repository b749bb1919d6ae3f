//! Metrics straight from the proxies: Envoy's own statistics, read from each admin endpoint in
//! the Prometheus text format, keyed by the names the translator chose, and turned into rates,
//! success rates and latency quantiles over a window — always from the difference of two
//! scrapes, never from totals since start. Shared by `meshctl top`, the canary gates and the
//! dashboard. Everything here but [`scrape`] is pure.

mod prometheus;
pub mod scrape;

use std::collections::BTreeMap;

use serde::Serialize;

pub use prometheus::{ParseError, Sample, parse};

/// Cumulative request counts and latency histogram of one stream of requests, and the
/// connections that carried them (what a TCP service has instead of requests).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Traffic {
    pub completed: f64,
    /// Requests answered 5xx.
    pub errors: f64,
    /// Latency histogram in milliseconds: (upper bound, cumulative count), rising bounds.
    pub buckets: Vec<(f64, f64)>,
    pub connections: Connections,
}

/// Connections opened, and bytes sent each way, cumulative.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Connections {
    pub opened: f64,
    /// From the client towards the service.
    pub bytes_in: f64,
    /// From the service back to the client.
    pub bytes_out: f64,
}

impl Connections {
    fn since(&self, earlier: &Connections) -> Connections {
        if self.opened < earlier.opened {
            return *self;
        }
        Connections {
            opened: self.opened - earlier.opened,
            bytes_in: (self.bytes_in - earlier.bytes_in).max(0.0),
            bytes_out: (self.bytes_out - earlier.bytes_out).max(0.0),
        }
    }

    fn add(&mut self, other: &Connections) {
        self.opened += other.opened;
        self.bytes_in += other.bytes_in;
        self.bytes_out += other.bytes_out;
    }
}

impl Traffic {
    /// What happened between `earlier` and `self`. A counter that went down means the proxy
    /// restarted; then everything since the restart is the window's.
    pub fn since(&self, earlier: &Traffic) -> Traffic {
        let connections = self.connections.since(&earlier.connections);
        if self.completed < earlier.completed {
            return Traffic { connections, ..self.clone() };
        }
        let buckets = self
            .buckets
            .iter()
            .map(|(le, n)| {
                let before = earlier.buckets.iter().find(|(l, _)| l == le).map_or(0.0, |(_, c)| *c);
                (*le, (n - before).max(0.0))
            })
            .collect();
        Traffic {
            completed: self.completed - earlier.completed,
            errors: (self.errors - earlier.errors).max(0.0),
            buckets,
            connections,
        }
    }

    /// The sum of two streams (histograms with the same bounds add bucket by bucket).
    pub fn add(&mut self, other: &Traffic) {
        self.completed += other.completed;
        self.errors += other.errors;
        self.connections.add(&other.connections);
        for (le, n) in &other.buckets {
            match self.buckets.iter_mut().find(|(l, _)| l == le) {
                Some((_, c)) => *c += n,
                None => self.buckets.push((*le, *n)),
            }
        }
        self.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    }

    /// The latency below which a share `q` of requests completed, interpolated linearly
    /// within its bucket as Prometheus's `histogram_quantile` does. None without requests.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let total = self.buckets.last().map(|(_, n)| *n)?;
        if total <= 0.0 {
            return None;
        }
        let rank = q * total;
        let mut lower = (0.0, 0.0);
        for &(le, count) in &self.buckets {
            if count >= rank {
                if le.is_infinite() {
                    // Beyond the last finite bound all we know is "more than it".
                    return Some(lower.0);
                }
                let share = if count > lower.1 { (rank - lower.1) / (count - lower.1) } else { 1.0 };
                return Some(lower.0 + (le - lower.0) * share);
            }
            lower = (le, count);
        }
        Some(lower.0)
    }
}

/// A window's figures, as `top` shows them.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Figures {
    pub requests: u64,
    pub rps: f64,
    /// Share of requests not answered 5xx, 0.0-1.0; None without requests.
    pub success_rate: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p90_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// Connections opened in the window, and per second.
    pub connections: u64,
    pub cps: f64,
    /// Bytes per second towards the service and back.
    pub bytes_in_per_second: f64,
    pub bytes_out_per_second: f64,
}

impl Figures {
    pub fn of(window: &Traffic, seconds: f64) -> Figures {
        let requests = window.completed.round().max(0.0) as u64;
        let per_second = |n: f64| if seconds > 0.0 { n / seconds } else { 0.0 };
        let c = &window.connections;
        Figures {
            requests,
            rps: if seconds > 0.0 { window.completed / seconds } else { 0.0 },
            success_rate: (window.completed > 0.0).then(|| 1.0 - window.errors / window.completed),
            p50_ms: window.quantile(0.5),
            p90_ms: window.quantile(0.9),
            p99_ms: window.quantile(0.99),
            connections: c.opened.round().max(0.0) as u64,
            cps: per_second(c.opened),
            bytes_in_per_second: per_second(c.bytes_in),
            bytes_out_per_second: per_second(c.bytes_out),
        }
    }
}

/// An outbound cluster, as the translator named it: `outbound|PORT|SUBSET|NAME.NS.svc...`,
/// whose stats name is the same with `.` and `|` made `_`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ClusterKey {
    pub service: String,
    pub namespace: String,
    /// The subset (version); empty for the whole service.
    pub subset: String,
    pub port: u16,
}

impl ClusterKey {
    /// Reads a stats name back. Service, namespace and subset names have no `_` (they are DNS
    /// labels), so the split is unambiguous.
    pub fn from_stat_name(name: &str) -> Option<ClusterKey> {
        let mut parts = name.split('_');
        if parts.next()? != "outbound" {
            return None;
        }
        let port = parts.next()?.parse().ok()?;
        let subset = parts.next()?.to_string();
        let service = parts.next()?.to_string();
        let namespace = parts.next()?.to_string();
        (parts.next()? == "svc").then_some(ClusterKey { service, namespace, subset, port })
    }
}

/// A route of a virtual host, by its rule (its name, or `http<index>`), as the translator
/// names them: a service's virtual host is `NAME_NAMESPACE_PORT`; install's ingress gateway has
/// `gateway_NAMESPACE_VIRTUALSERVICE`, and a Gateway API Gateway's proxy
/// `gateway_NAMESPACE_GATEWAY_HOSTNAME`, whose service is `gateway/GATEWAY`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct RouteKey {
    pub service: String,
    pub namespace: String,
    pub route: String,
}

impl RouteKey {
    fn from_labels(virtual_host: &str, route: &str) -> Option<RouteKey> {
        let parts: Vec<&str> = virtual_host.split('_').collect();
        let (service, namespace) = match parts.as_slice() {
            [service, namespace, port] if port.parse::<u16>().is_ok() => (service.to_string(), namespace),
            ["gateway", namespace, _] => ("gateway".to_string(), namespace),
            ["gateway", namespace, gateway, _, ..] => (format!("gateway/{gateway}"), namespace),
            _ => return None,
        };
        Some(RouteKey { service, namespace: namespace.to_string(), route: route.into() })
    }
}

/// What one proxy's statistics say about the traffic it handled.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProxyStats {
    /// Requests its inbound listener served (sidecars only).
    pub inbound: Option<Traffic>,
    /// Requests it sent, by destination cluster.
    pub outbound: BTreeMap<ClusterKey, Traffic>,
    /// Requests it routed, by route.
    pub routes: BTreeMap<RouteKey, Traffic>,
}

impl ProxyStats {
    pub fn from_samples(samples: &[Sample]) -> ProxyStats {
        let mut stats = ProxyStats::default();
        // gRPC calls fail with an HTTP 200 whose `grpc-status` says so: the gRPC statistics
        // filter's count of failures (every call that did not end OK, whatever the HTTP status)
        // is a gRPC cluster's error count, by cluster; the inbound side's, by its listener.
        let mut grpc_failures: BTreeMap<ClusterKey, f64> = BTreeMap::new();
        let mut inbound_grpc_failures = 0.0;
        for s in samples {
            let label = |name: &str| s.labels.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
            if s.name == "envoy_cluster_grpc_failure" {
                let cluster = label("envoy_cluster_name").unwrap_or_default();
                match ClusterKey::from_stat_name(cluster) {
                    Some(key) => *grpc_failures.entry(key).or_default() += s.value,
                    None if cluster.starts_with("inbound_") => inbound_grpc_failures += s.value,
                    None => {}
                }
                continue;
            }
            if let Some((side, counter)) = connection_counter(&s.name) {
                let connections = match side {
                    // A TCP port's proxy, on the inbound side: per listener port, summed.
                    Side::Downstream if label("envoy_tcp_prefix").is_some_and(|p| p.starts_with("inbound_")) => {
                        &mut stats.inbound.get_or_insert_with(Traffic::default).connections
                    }
                    Side::Upstream => match label("envoy_cluster_name").and_then(ClusterKey::from_stat_name) {
                        Some(key) => &mut stats.outbound.entry(key).or_default().connections,
                        None => continue,
                    },
                    Side::Downstream => continue,
                };
                match counter {
                    Counter::Opened => connections.opened = s.value,
                    Counter::BytesIn => connections.bytes_in = s.value,
                    Counter::BytesOut => connections.bytes_out = s.value,
                }
                continue;
            }
            let is_inbound = label("envoy_http_conn_manager_prefix") == Some("inbound");
            let traffic = match s.name.as_str() {
                n if n.starts_with("envoy_http_downstream_rq") && is_inbound => {
                    stats.inbound.get_or_insert_with(Traffic::default)
                }
                n if n.starts_with("envoy_cluster_upstream_rq") => {
                    match label("envoy_cluster_name").and_then(ClusterKey::from_stat_name) {
                        Some(key) => stats.outbound.entry(key).or_default(),
                        None => continue,
                    }
                }
                n if n.starts_with("envoy_vhost_route_upstream_rq") => {
                    let key = label("envoy_virtual_host")
                        .zip(label("envoy_route"))
                        .and_then(|(v, r)| RouteKey::from_labels(v, r));
                    match key {
                        Some(key) => stats.routes.entry(key).or_default(),
                        None => continue,
                    }
                }
                _ => continue,
            };
            record(traffic, s, label("envoy_response_code_class"), label("le"));
        }
        for (key, failures) in grpc_failures {
            if let Some(traffic) = stats.outbound.get_mut(&key) {
                traffic.errors = failures;
            }
        }
        // The inbound listener's figures mix a sidecar's ports; a gRPC app answers 200 even to
        // the calls it fails, so its failures come on top of the HTTP ports' 5xx.
        if let Some(inbound) = stats.inbound.as_mut() {
            inbound.errors += inbound_grpc_failures;
        }
        stats
    }
}

/// Which end of a proxy a connection statistic counts.
enum Side {
    /// Connections a TCP proxy accepted (`tcp.PREFIX.downstream_cx_*`).
    Downstream,
    /// Connections to a cluster's instances (`cluster.NAME.upstream_cx_*`).
    Upstream,
}

enum Counter {
    Opened,
    BytesIn,
    BytesOut,
}

/// The connection counters `top` reads, in the direction of the service: what a TCP proxy
/// receives from its client goes in, what a cluster's instances send back goes out.
fn connection_counter(name: &str) -> Option<(Side, Counter)> {
    Some(match name {
        "envoy_tcp_downstream_cx_total" => (Side::Downstream, Counter::Opened),
        "envoy_tcp_downstream_cx_rx_bytes_total" => (Side::Downstream, Counter::BytesIn),
        "envoy_tcp_downstream_cx_tx_bytes_total" => (Side::Downstream, Counter::BytesOut),
        "envoy_cluster_upstream_cx_total" => (Side::Upstream, Counter::Opened),
        "envoy_cluster_upstream_cx_tx_bytes_total" => (Side::Upstream, Counter::BytesIn),
        "envoy_cluster_upstream_cx_rx_bytes_total" => (Side::Upstream, Counter::BytesOut),
        _ => return None,
    })
}

fn record(traffic: &mut Traffic, s: &Sample, class: Option<&str>, le: Option<&str>) {
    let metric = ["envoy_http_downstream_rq", "envoy_cluster_upstream_rq", "envoy_vhost_route_upstream_rq"]
        .iter()
        .find_map(|prefix| s.name.strip_prefix(prefix))
        .unwrap_or_default();
    match metric {
        "_completed" => traffic.completed = s.value,
        "_xx" if class == Some("5") => traffic.errors = s.value,
        "_time_bucket" => {
            let bound = match le {
                Some("+Inf") => f64::INFINITY,
                Some(v) => match v.parse() {
                    Ok(b) => b,
                    Err(_) => return,
                },
                None => return,
            };
            traffic.buckets.push((bound, s.value));
            traffic.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        }
        _ => {}
    }
}

/// Which way a row's requests went through the proxies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// What workloads served: their sidecars' inbound listeners.
    Inbound,
    /// What callers saw: every proxy's clusters for the destination.
    Outbound,
}

/// What a row is about: a service's version, one of its instances, or one of its routes.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Origin {
    pub service: String,
    pub namespace: String,
    pub version: String,
    /// The instance (sidecar node id); empty for rows about a whole service or version.
    pub workload: String,
    /// The VirtualService rule, for rows by route; empty otherwise.
    pub route: String,
}

/// One line of `top`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Row {
    #[serde(flatten)]
    pub origin: Origin,
    pub direction: Direction,
    #[serde(flatten)]
    pub figures: Figures,
}

/// How rows are grouped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grouping {
    /// One row per service and version.
    Service,
    /// One row per workload instance (inbound only: callers' clusters do not see instances).
    Workload,
    /// One row per route of a service (what callers' proxies routed there).
    Route,
}

/// The rows for a window from two scrapes of the same proxies. `instances` names the sidecar
/// of each node id; proxies not in it (the gateway) only count as callers.
pub fn rows(
    before: &[(String, ProxyStats)],
    after: &[(String, ProxyStats)],
    instances: &BTreeMap<String, Origin>,
    grouping: Grouping,
    seconds: f64,
) -> Vec<Row> {
    let mut windows: BTreeMap<(Direction, Origin), Traffic> = BTreeMap::new();
    for (node, now) in after {
        let Some((_, then)) = before.iter().find(|(n, _)| n == node) else { continue };
        if grouping == Grouping::Route {
            for (key, traffic) in &now.routes {
                let window = traffic.since(&then.routes.get(key).cloned().unwrap_or_default());
                let origin = Origin {
                    service: key.service.clone(),
                    namespace: key.namespace.clone(),
                    route: key.route.clone(),
                    ..Origin::default()
                };
                windows.entry((Direction::Outbound, origin)).or_default().add(&window);
            }
            continue;
        }
        if let (Some(origin), Some(inbound)) = (instances.get(node), &now.inbound) {
            let window = inbound.since(&then.inbound.clone().unwrap_or_default());
            let origin = match grouping {
                Grouping::Service => Origin { workload: String::new(), ..origin.clone() },
                _ => origin.clone(),
            };
            windows.entry((Direction::Inbound, origin)).or_default().add(&window);
        }
        if grouping == Grouping::Service {
            for (key, traffic) in &now.outbound {
                let window = traffic.since(&then.outbound.get(key).cloned().unwrap_or_default());
                let origin = Origin {
                    service: key.service.clone(),
                    namespace: key.namespace.clone(),
                    version: key.subset.clone(),
                    ..Origin::default()
                };
                windows.entry((Direction::Outbound, origin)).or_default().add(&window);
            }
        }
    }
    windows
        .into_iter()
        .map(|((direction, origin), traffic)| Row { origin, direction, figures: Figures::of(&traffic, seconds) })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn traffic(completed: f64, errors: f64, buckets: &[(f64, f64)]) -> Traffic {
        Traffic { completed, errors, buckets: buckets.to_vec(), connections: Connections::default() }
    }

    #[test]
    fn quantiles_interpolate_within_buckets() {
        // 100 requests: 50 under 10 ms, 40 more under 100 ms, 10 more under 1 s.
        let t = traffic(100.0, 0.0, &[(10.0, 50.0), (100.0, 90.0), (1000.0, 100.0), (f64::INFINITY, 100.0)]);
        assert_eq!(t.quantile(0.5), Some(10.0));
        assert_eq!(t.quantile(0.9), Some(100.0));
        assert_eq!(t.quantile(0.99), Some(910.0));
        assert_eq!(t.quantile(0.25), Some(5.0));
        assert_eq!(traffic(0.0, 0.0, &[(10.0, 0.0)]).quantile(0.5), None);
        let beyond = traffic(10.0, 0.0, &[(10.0, 0.0), (f64::INFINITY, 10.0)]);
        assert_eq!(beyond.quantile(0.99), Some(10.0));
    }

    #[test]
    fn windows_are_differences_and_survive_restarts() {
        let before = traffic(100.0, 5.0, &[(10.0, 60.0), (f64::INFINITY, 100.0)]);
        let after = traffic(150.0, 15.0, &[(10.0, 70.0), (f64::INFINITY, 150.0)]);
        let window = after.since(&before);
        assert_eq!(window, traffic(50.0, 10.0, &[(10.0, 10.0), (f64::INFINITY, 50.0)]));
        let f = Figures::of(&window, 2.0);
        assert_eq!((f.requests, f.rps, f.success_rate), (50, 25.0, Some(0.8)));
        let restarted = traffic(7.0, 0.0, &[(10.0, 7.0), (f64::INFINITY, 7.0)]);
        assert_eq!(restarted.since(&before), restarted);
    }

    #[test]
    fn rows_group_inbound_by_version_and_outbound_by_subset() {
        let origin = |version: &str, workload: &str| Origin {
            service: "profile".into(),
            namespace: "default".into(),
            version: version.into(),
            workload: workload.into(),
            route: String::new(),
        };
        let instances = BTreeMap::from([("a".to_string(), origin("v1", "a")), ("b".to_string(), origin("v1", "b"))]);
        let served = |n: f64| ProxyStats {
            inbound: Some(traffic(n, 0.0, &[(10.0, n), (f64::INFINITY, n)])),
            ..Default::default()
        };
        let key = ClusterKey { service: "profile".into(), namespace: "default".into(), subset: "v1".into(), port: 80 };
        let sent = |n: f64| ProxyStats {
            outbound: BTreeMap::from([(key.clone(), traffic(n, 1.0, &[(f64::INFINITY, n)]))]),
            ..Default::default()
        };
        let before =
            [("a".to_string(), served(10.0)), ("b".to_string(), served(0.0)), ("gateway".to_string(), sent(0.0))];
        let after =
            [("a".to_string(), served(30.0)), ("b".to_string(), served(20.0)), ("gateway".to_string(), sent(40.0))];
        let rows = rows(&before, &after, &instances, Grouping::Service, 2.0);
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (rows[0].direction, rows[0].origin.version.as_str(), rows[0].figures.requests),
            (Direction::Inbound, "v1", 40)
        );
        assert_eq!(rows[0].figures.rps, 20.0);
        assert_eq!(
            (rows[1].direction, rows[1].figures.requests, rows[1].figures.success_rate),
            (Direction::Outbound, 40, Some(1.0))
        );
        let by_workload = super::rows(&before, &after, &instances, Grouping::Workload, 2.0);
        assert_eq!(by_workload.iter().map(|r| r.origin.workload.as_str()).collect::<Vec<_>>(), ["a", "b"]);
    }

    #[test]
    fn cluster_names_read_back() {
        let key = ClusterKey::from_stat_name("outbound_80_v2_profile_default_svc_cluster_local").unwrap();
        assert_eq!((key.service.as_str(), key.namespace.as_str(), key.subset.as_str()), ("profile", "default", "v2"));
        assert_eq!(ClusterKey::from_stat_name("outbound_80__board_shop_svc_cluster_local").unwrap().subset, "");
        assert_eq!(ClusterKey::from_stat_name("inbound_15006__"), None);
        assert_eq!(ClusterKey::from_stat_name("xds"), None);
        let route = RouteKey::from_labels("profile_default_80", "testers-see-v2").unwrap();
        assert_eq!(
            (route.service.as_str(), route.namespace.as_str(), route.route.as_str()),
            ("profile", "default", "testers-see-v2")
        );
        assert_eq!(RouteKey::from_labels("inbound", "x"), None);
        let of = |host: &str| RouteKey::from_labels(host, "r").map(|k| (k.service, k.namespace));
        assert_eq!(of("gateway_shop_bookinfo"), Some(("gateway".into(), "shop".into())));
        assert_eq!(of("gateway_shop_web_*_shop_example"), Some(("gateway/web".into(), "shop".into())));
        assert_eq!(of("gateway_default_80"), Some(("gateway".into(), "default".into())), "a Service named gateway");
    }

    #[test]
    fn captured_envoy_stats_are_keyed_by_service_and_version() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/metrics");
        let gateway =
            ProxyStats::from_samples(&parse(&std::fs::read_to_string(root.join("gateway.prom")).unwrap()).unwrap());
        assert!(gateway.inbound.is_none());
        let key = |subset: &str| ClusterKey {
            service: "profile".into(),
            namespace: "default".into(),
            subset: subset.into(),
            port: 80,
        };
        assert_eq!(gateway.outbound[&key("v1")].completed, 9.0);
        assert_eq!(gateway.outbound[&key("v2")].completed, 11.0);
        // Envoy merges histograms when it flushes stats, so they may trail the counters.
        assert_eq!(gateway.outbound[&key("v2")].buckets.last().unwrap(), &(f64::INFINITY, 9.0));
        // v2 answers after 2 s: all its requests are in the buckets from 2 s up.
        assert_eq!(gateway.outbound[&key("v2")].buckets.iter().find(|(le, _)| *le == 1500.0).unwrap().1, 0.0);
        let sidecar = ProxyStats::from_samples(
            &parse(&std::fs::read_to_string(root.join("sidecar-profile-v1.prom")).unwrap()).unwrap(),
        );
        let inbound = sidecar.inbound.unwrap();
        assert_eq!((inbound.completed, inbound.errors), (74.0, 0.0));
        assert_eq!(inbound.buckets.len(), crate::translate::LATENCY_BUCKETS_MS.len() + 1);
    }

    #[test]
    fn a_grpc_call_that_fails_in_an_http_200_counts_as_an_error_on_both_sides() {
        let text = r#"envoy_cluster_upstream_rq_completed{envoy_cluster_name="outbound_9090_v2_greeter_default_svc_cluster_local"} 10
envoy_cluster_upstream_rq_xx{envoy_response_code_class="2",envoy_cluster_name="outbound_9090_v2_greeter_default_svc_cluster_local"} 10
envoy_cluster_grpc_failure{envoy_cluster_name="outbound_9090_v2_greeter_default_svc_cluster_local"} 4
envoy_cluster_upstream_rq_completed{envoy_cluster_name="outbound_80_v2_greeter_default_svc_cluster_local"} 5
envoy_cluster_upstream_rq_xx{envoy_response_code_class="5",envoy_cluster_name="outbound_80_v2_greeter_default_svc_cluster_local"} 1
envoy_http_downstream_rq_completed{envoy_http_conn_manager_prefix="inbound"} 12
envoy_http_downstream_rq_xx{envoy_response_code_class="5",envoy_http_conn_manager_prefix="inbound"} 1
envoy_cluster_grpc_failure{envoy_cluster_name="inbound_9090__"} 3
"#;
        let stats = ProxyStats::from_samples(&parse(text).unwrap());
        let key =
            |port| ClusterKey { service: "greeter".into(), namespace: "default".into(), subset: "v2".into(), port };
        assert_eq!((stats.outbound[&key(9090)].completed, stats.outbound[&key(9090)].errors), (10.0, 4.0));
        assert_eq!(stats.outbound[&key(80)].errors, 1.0, "an HTTP port keeps its 5xx");
        let inbound = stats.inbound.unwrap();
        assert_eq!(
            (inbound.completed, inbound.errors),
            (12.0, 4.0),
            "the HTTP port's 5xx and the gRPC port's failures"
        );
    }
}
