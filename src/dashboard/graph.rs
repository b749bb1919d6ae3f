//! The service graph and per-version series, pure: from two scrapes of every proxy (the
//! metrics core's windows, as `top` and the canary gates read them) to who calls whom, how
//! often, how well and how fast, and to each version's figures over the last minutes.
//!
//! A node is a service's version; an edge is what the callers' proxies saw of their calls to
//! it (their outbound clusters), so a request from outside the mesh starts at the gateway's
//! node. Calls that no subset routes (no DestinationRule subsets) reach the service as a
//! whole: they go to its version when it has one, and to a node for the whole service when it
//! has several.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::Serialize;

use crate::api::Resource;
use crate::mesh::MeshView;
use crate::metrics::{self, Direction, Figures, Grouping, ProxyStats, Traffic};

/// A service's version (or the gateway), as the graph and its callers name it.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Node {
    pub id: String,
    pub service: String,
    /// Empty for the gateway, which serves every namespace.
    pub namespace: String,
    /// Empty for the gateway, and for a whole service reached without a subset.
    pub version: String,
}

impl Node {
    pub fn workload(namespace: &str, service: &str, version: &str) -> Node {
        let id = match version {
            "" => format!("{namespace}/{service}"),
            v => format!("{namespace}/{service}/{v}"),
        };
        Node { id, service: service.into(), namespace: namespace.into(), version: version.into() }
    }

    pub fn gateway(name: &str) -> Node {
        Node { id: name.into(), service: name.into(), ..Node::default() }
    }
}

/// Calls from one node to another over a window.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Edge {
    pub source: String,
    pub target: String,
    pub rps: f64,
    /// Share of calls not answered 5xx, 0.0–1.0; null without calls.
    pub success_rate: Option<f64>,
    pub p99_ms: Option<f64>,
    /// Connections opened per second to TCP and TLS ports, which carry no requests to count,
    /// and the bytes per second both ways.
    pub cps: f64,
    pub bytes_per_second: f64,
}

/// `/api/graph`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
}

/// What the graph needs to know of the mesh besides the proxies' statistics.
#[derive(Clone, Debug, Default)]
pub struct Layout {
    /// The node each proxy is, by node id; proxies not in it are not callers in the graph.
    pub proxies: BTreeMap<String, Node>,
    /// The version label of each subset, `(namespace, service, subset)` → version, from the
    /// DestinationRules; a subset not in it is taken to be the version of its name.
    pub subsets: BTreeMap<(String, String, String), String>,
}

impl Layout {
    /// The layout of a running mesh: its instances and gateways as `view` reports them, and
    /// the subsets of its DestinationRules among `resources`.
    pub fn of(view: &MeshView, resources: &[Resource]) -> Layout {
        let mut proxies: BTreeMap<String, Node> = view
            .instances
            .iter()
            .map(|i| (i.node_id.clone(), Node::workload(&i.namespace, &i.service, i.version())))
            .collect();
        // Every gateway is where traffic from outside the mesh comes in.
        proxies.extend(view.gateways().into_iter().map(|node| (node, Node::gateway(GATEWAY))));
        let mut subsets = BTreeMap::new();
        for resource in resources {
            let Resource::DestinationRule(rule) = resource else { continue };
            let Some((service, namespace)) = service_of_host(&rule.spec.host, resource.namespace()) else { continue };
            for subset in &rule.spec.subsets {
                if let Some(version) = subset.labels.get("version") {
                    subsets.insert((namespace.clone(), service.clone(), subset.name.clone()), version.clone());
                }
            }
        }
        Layout { proxies, subsets }
    }

    /// The node calls to `key` reach.
    fn target(&self, key: &metrics::ClusterKey) -> Node {
        if !key.subset.is_empty() {
            let subset = (key.namespace.clone(), key.service.clone(), key.subset.clone());
            let version = self.subsets.get(&subset).unwrap_or(&key.subset);
            return Node::workload(&key.namespace, &key.service, version);
        }
        let versions: BTreeSet<&str> = self
            .proxies
            .values()
            .filter(|n| n.service == key.service && n.namespace == key.namespace)
            .map(|n| n.version.as_str())
            .collect();
        match versions.len() {
            1 => Node::workload(&key.namespace, &key.service, versions.first().expect("one version")),
            _ => Node::workload(&key.namespace, &key.service, ""),
        }
    }
}

/// The gateway's node: where requests from outside the mesh start, on the local mesh and on a
/// cluster alike.
pub const GATEWAY: &str = "gateway";

/// The service a host names from `namespace`, as `(name, namespace)`; `None` for a host
/// outside the cluster's domain.
pub fn service_of_host(host: &str, namespace: &str) -> Option<(String, String)> {
    let fqdn = crate::policy::resolve_host(host, namespace);
    let mut labels = fqdn.split('.');
    let (name, namespace) = (labels.next()?, labels.next()?);
    (labels.next() == Some("svc")).then(|| (name.to_string(), namespace.to_string()))
}

/// The graph of the window between two scrapes of the same proxies, `seconds` apart. Every
/// proxy's node is in it, called or not.
pub fn graph(before: &[(String, ProxyStats)], after: &[(String, ProxyStats)], layout: &Layout, seconds: f64) -> Graph {
    let mut nodes: BTreeSet<Node> = layout.proxies.values().cloned().collect();
    let mut calls: BTreeMap<(String, String), Traffic> = BTreeMap::new();
    for (proxy, now) in after {
        let (Some(source), Some((_, then))) = (layout.proxies.get(proxy), before.iter().find(|(p, _)| p == proxy))
        else {
            continue;
        };
        // Every proxy has a cluster for every service; one it never called is no edge. One
        // it called before stays, so traffic that stops shows as falling to zero.
        for (key, traffic) in now.outbound.iter().filter(|(_, t)| t.completed > 0.0 || t.connections.opened > 0.0) {
            let window = traffic.since(&then.outbound.get(key).cloned().unwrap_or_default());
            let target = layout.target(key);
            calls.entry((source.id.clone(), target.id.clone())).or_default().add(&window);
            nodes.insert(target);
        }
    }
    let edges = calls
        .into_iter()
        .map(|((source, target), traffic)| {
            let figures = Figures::of(&traffic, seconds);
            Edge {
                source,
                target,
                rps: figures.rps,
                success_rate: figures.success_rate,
                p99_ms: figures.p99_ms,
                cps: figures.cps,
                bytes_per_second: figures.bytes_in_per_second + figures.bytes_out_per_second,
            }
        })
        .collect();
    Graph { nodes: nodes.into_iter().collect(), edges }
}

/// One version's figures at one moment.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Point {
    /// The end of the window, in milliseconds since the epoch.
    pub t_unix_ms: f64,
    #[serde(flatten)]
    pub figures: Figures,
}

/// A version's points over the kept minutes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VersionSeries {
    pub version: String,
    pub points: Vec<Point>,
}

/// `/api/services/{ns}/{name}/metrics`: what the service's versions served, window by window.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ServiceSeries {
    pub service: String,
    pub namespace: String,
    pub window_seconds: f64,
    pub versions: Vec<VersionSeries>,
}

/// One refresh: the graph and what each version served.
#[derive(Clone, Debug)]
struct Sample {
    t_unix_ms: f64,
    seconds: f64,
    graph: Graph,
    /// Inbound figures by `(namespace, service, version)`.
    served: BTreeMap<(String, String, String), Figures>,
}

/// The last minutes of samples, oldest dropped first.
#[derive(Debug)]
pub struct History {
    capacity: usize,
    samples: VecDeque<Sample>,
    /// Nodes a proxy of which had no window, by how many windows in a row.
    silent: BTreeMap<String, usize>,
}

/// How many windows in a row a node one of whose proxies had none keeps its last figures. A
/// proxy that misses one scrape (slow to answer on a busy machine) has no window in two: the
/// one it missed and the next, which has nothing to count from. Its calls did not stop, so the graph keeps what
/// it last saw, as a scraper's lookback does, while the findings name the proxy; a node
/// silent for longer drops its edges.
const CARRIED_WINDOWS: usize = 2;

impl History {
    /// Keeps `capacity` samples.
    pub fn new(capacity: usize) -> History {
        History { capacity, samples: VecDeque::new(), silent: BTreeMap::new() }
    }

    /// Adds the window between two scrapes `seconds` apart, the second at `t_unix_ms`.
    pub fn record(
        &mut self,
        t_unix_ms: f64,
        seconds: f64,
        before: &[(String, ProxyStats)],
        after: &[(String, ProxyStats)],
        layout: &Layout,
    ) {
        let mut graph = graph(before, after, layout, seconds);
        let instances: BTreeMap<String, metrics::Origin> = layout
            .proxies
            .iter()
            .filter(|(_, n)| !n.namespace.is_empty())
            .map(|(proxy, n)| {
                let origin = metrics::Origin {
                    service: n.service.clone(),
                    namespace: n.namespace.clone(),
                    version: n.version.clone(),
                    ..metrics::Origin::default()
                };
                (proxy.clone(), origin)
            })
            .collect();
        let mut served: BTreeMap<_, _> = metrics::rows(before, after, &instances, Grouping::Service, seconds)
            .into_iter()
            .filter(|r| r.direction == Direction::Inbound)
            .map(|r| ((r.origin.namespace, r.origin.service, r.origin.version), r.figures))
            .collect();
        self.carry_silent(before, after, layout, &mut graph, &mut served);
        self.samples.push_back(Sample { t_unix_ms, seconds, graph, served });
        while self.samples.len() > self.capacity {
            self.samples.pop_front();
        }
    }

    /// Gives each node a proxy of which had no window, for at most [`CARRIED_WINDOWS`] in a
    /// row, the edges and figures of the last sample that this window lacks: what only the
    /// silent proxy called or served still shows; what the others did is not overwritten.
    fn carry_silent(
        &mut self,
        before: &[(String, ProxyStats)],
        after: &[(String, ProxyStats)],
        layout: &Layout,
        graph: &mut Graph,
        served: &mut BTreeMap<(String, String, String), Figures>,
    ) {
        let answered = |proxy: &String| [before, after].iter().all(|s| s.iter().any(|(p, _)| p == proxy));
        let silent: BTreeSet<&Node> = layout.proxies.iter().filter(|(p, _)| !answered(p)).map(|(_, n)| n).collect();
        self.silent.retain(|id, _| silent.iter().any(|n| &n.id == id));
        let Some(last) = self.samples.back() else { return };
        for node in silent {
            let windows = self.silent.entry(node.id.clone()).or_default();
            *windows += 1;
            if *windows > CARRIED_WINDOWS {
                continue;
            }
            for edge in last.graph.edges.iter().filter(|e| e.source == node.id) {
                if !graph.edges.iter().any(|e| e.source == edge.source && e.target == edge.target) {
                    graph.edges.push(edge.clone());
                }
            }
            let key = (node.namespace.clone(), node.service.clone(), node.version.clone());
            if let Some(figures) = last.served.get(&key) {
                served.entry(key).or_insert_with(|| figures.clone());
            }
        }
        graph.edges.sort_by(|a, b| (&a.source, &a.target).cmp(&(&b.source, &b.target)));
    }

    /// The latest graph; empty before the first window.
    pub fn graph(&self) -> Graph {
        self.samples.back().map(|s| s.graph.clone()).unwrap_or_default()
    }

    /// The service's versions over the kept samples; a version that served nothing in a
    /// sample has a point of zero requests there, so a version whose traffic stopped falls to
    /// zero rather than ending.
    pub fn service(&self, namespace: &str, service: &str) -> ServiceSeries {
        let versions: BTreeSet<&str> = self
            .samples
            .iter()
            .flat_map(|s| s.served.keys())
            .filter(|(ns, name, _)| ns == namespace && name == service)
            .map(|(_, _, version)| version.as_str())
            .collect();
        let versions = versions
            .into_iter()
            .map(|version| {
                let key = (namespace.to_string(), service.to_string(), version.to_string());
                let points = self
                    .samples
                    .iter()
                    .map(|s| Point { t_unix_ms: s.t_unix_ms, figures: s.served.get(&key).cloned().unwrap_or_default() })
                    .collect();
                VersionSeries { version: version.to_string(), points }
            })
            .collect();
        ServiceSeries {
            service: service.into(),
            namespace: namespace.into(),
            window_seconds: self.samples.back().map_or(0.0, |s| s.seconds),
            versions,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::ClusterKey;

    fn traffic(completed: f64, errors: f64, slow: f64) -> Traffic {
        // `slow` of the requests took over a second.
        Traffic {
            completed,
            errors,
            buckets: vec![(10.0, completed - slow), (2000.0, completed), (f64::INFINITY, completed)],
            ..Traffic::default()
        }
    }

    fn key(service: &str, subset: &str) -> ClusterKey {
        ClusterKey { service: service.into(), namespace: "default".into(), subset: subset.into(), port: 80 }
    }

    fn calling(calls: &[(ClusterKey, Traffic)]) -> ProxyStats {
        ProxyStats { outbound: calls.iter().cloned().collect(), ..ProxyStats::default() }
    }

    fn serving(t: Traffic) -> ProxyStats {
        ProxyStats { inbound: Some(t), ..ProxyStats::default() }
    }

    /// The demo's shape: gateway → frontend → profile v1/v2 (subsets) and board (none).
    fn layout() -> Layout {
        let proxies = [
            ("gateway-0", Node::gateway(GATEWAY)),
            ("frontend-0", Node::workload("default", "frontend", "v1")),
            ("frontend-1", Node::workload("default", "frontend", "v1")),
            ("profile-v1-0", Node::workload("default", "profile", "v1")),
            ("profile-v2-0", Node::workload("default", "profile", "v2")),
            ("board-0", Node::workload("default", "board", "v1")),
        ];
        Layout {
            proxies: proxies.into_iter().map(|(p, n)| (p.to_string(), n)).collect(),
            subsets: BTreeMap::from([(("default".into(), "profile".into(), "slow".into()), "v2".into())]),
        }
    }

    fn scrapes(n: f64) -> Vec<(String, ProxyStats)> {
        vec![
            ("gateway-0".into(), calling(&[(key("frontend", ""), traffic(20.0 * n, 0.0, 0.0))])),
            (
                "frontend-0".into(),
                calling(&[
                    (key("profile", "v1"), traffic(5.0 * n, 0.0, 0.0)),
                    (key("profile", "slow"), traffic(5.0 * n, 1.0 * n, 5.0 * n)),
                    (key("board", ""), traffic(10.0 * n, 0.0, 0.0)),
                ]),
            ),
            ("frontend-1".into(), calling(&[(key("board", ""), traffic(10.0 * n, 0.0, 0.0))])),
            ("profile-v2-0".into(), serving(traffic(5.0 * n, 1.0 * n, 5.0 * n))),
            ("stranger".into(), calling(&[(key("board", ""), traffic(99.0 * n, 0.0, 0.0))])),
            // Never called.
            ("board-0".into(), calling(&[(key("profile", "v1"), traffic(0.0, 0.0, 0.0))])),
        ]
    }

    #[test]
    fn edges_are_what_callers_saw_over_the_window() {
        let graph = graph(&scrapes(1.0), &scrapes(3.0), &layout(), 2.0);
        let edges: Vec<(&str, &str, f64)> =
            graph.edges.iter().map(|e| (e.source.as_str(), e.target.as_str(), e.rps)).collect();
        assert_eq!(
            edges,
            [
                ("default/frontend/v1", "default/board/v1", 20.0),
                ("default/frontend/v1", "default/profile/v1", 5.0),
                ("default/frontend/v1", "default/profile/v2", 5.0),
                ("gateway", "default/frontend/v1", 20.0),
            ]
        );
        let slow = &graph.edges[2];
        assert_eq!(slow.success_rate, Some(0.8));
        assert!(slow.p99_ms.unwrap() > 1000.0, "{slow:?}");
        let ids: Vec<&str> = graph.nodes.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(
            ids,
            ["default/board/v1", "default/frontend/v1", "default/profile/v1", "default/profile/v2", "gateway"]
        );
    }

    #[test]
    fn calls_without_a_subset_to_a_service_of_several_versions_reach_the_whole_service() {
        let mut layout = layout();
        layout.proxies.insert("board-v2-0".into(), Node::workload("default", "board", "v2"));
        let graph = graph(&scrapes(1.0), &scrapes(2.0), &layout, 1.0);
        assert!(graph.edges.iter().any(|e| e.target == "default/board"), "{graph:?}");
        assert!(graph.nodes.iter().any(|n| n.id == "default/board" && n.version.is_empty()));
    }

    #[test]
    fn hosts_name_services_in_the_cluster_only() {
        assert_eq!(service_of_host("profile", "shop"), Some(("profile".into(), "shop".into())));
        assert_eq!(
            service_of_host("board.default.svc.cluster.local", "shop"),
            Some(("board".into(), "default".into()))
        );
        assert_eq!(service_of_host("example.com", "shop"), None);
    }

    #[test]
    fn a_version_whose_traffic_stops_falls_to_zero() {
        let mut history = History::new(3);
        let layout = layout();
        history.record(1000.0, 1.0, &scrapes(1.0), &scrapes(2.0), &layout);
        // No more calls to v2: its counters stand still.
        history.record(2000.0, 1.0, &scrapes(2.0), &scrapes(2.0), &layout);
        let series = history.service("default", "profile");
        assert_eq!(series.versions.len(), 1);
        let rps: Vec<f64> = series.versions[0].points.iter().map(|p| p.figures.rps).collect();
        assert_eq!((series.versions[0].version.as_str(), rps), ("v2", vec![5.0, 0.0]));
        let v2 = history.graph().edges.into_iter().find(|e| e.target == "default/profile/v2").unwrap();
        assert_eq!((v2.rps, v2.success_rate), (0.0, None));
        for t in [3000.0, 4000.0] {
            history.record(t, 1.0, &scrapes(2.0), &scrapes(2.0), &layout);
        }
        let times: Vec<f64> =
            history.service("default", "profile").versions[0].points.iter().map(|p| p.t_unix_ms).collect();
        assert_eq!(times, [2000.0, 3000.0, 4000.0], "the oldest sample goes first");
    }

    #[test]
    fn a_proxy_that_misses_a_scrape_keeps_its_last_figures_for_two_windows_only() {
        let mut history = History::new(10);
        let layout = layout();
        let without = |n: f64, proxies: &[&str]| -> Vec<(String, ProxyStats)> {
            scrapes(n).into_iter().filter(|(p, _)| !proxies.contains(&p.as_str())).collect()
        };
        let rps = |history: &History, target: &str| {
            history.graph().edges.into_iter().find(|e| e.target == target).map(|e| e.rps)
        };
        let served =
            |history: &History| history.service("default", "profile").versions[0].points.last().map(|p| p.figures.rps);
        history.record(1000.0, 1.0, &scrapes(1.0), &scrapes(2.0), &layout);
        assert_eq!((rps(&history, "default/profile/v1"), rps(&history, "default/board/v1")), (Some(5.0), Some(20.0)));
        // frontend-0, the one caller of profile, and profile v2 miss the scrape that ends this
        // window...
        let missed = ["frontend-0", "profile-v2-0"];
        history.record(2000.0, 1.0, &scrapes(2.0), &without(3.0, &missed), &layout);
        assert_eq!((rps(&history, "default/profile/v1"), served(&history)), (Some(5.0), Some(5.0)));
        // ...(what frontend-1 saw of board is this window's, not overwritten)...
        assert_eq!(rps(&history, "default/board/v1"), Some(10.0));
        // ...and the next has nothing to count from.
        history.record(3000.0, 1.0, &without(3.0, &missed), &scrapes(4.0), &layout);
        assert_eq!((rps(&history, "default/profile/v1"), served(&history)), (Some(5.0), Some(5.0)));
        let edges = history.graph().edges;
        assert!(edges.windows(2).all(|w| (&w[0].source, &w[0].target) < (&w[1].source, &w[1].target)), "{edges:?}");
        // Answering again, they are counted again.
        history.record(4000.0, 2.0, &scrapes(4.0), &scrapes(8.0), &layout);
        assert_eq!((rps(&history, "default/profile/v1"), served(&history)), (Some(10.0), Some(10.0)));
        // Silent for longer, what they did is no longer shown.
        for t in [5000.0, 6000.0, 7000.0] {
            history.record(t, 1.0, &scrapes(8.0), &without(9.0, &missed), &layout);
        }
        assert_eq!((rps(&history, "default/profile/v1"), served(&history)), (None, Some(0.0)));
    }
}
