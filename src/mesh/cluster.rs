//! A mesh on a cluster as the CLI's [`Mesh`]: its store is the API, and everything else is read
//! through the API server too, so the CLI needs nothing but a kubeconfig — no Prometheus. What
//! the controller knows (each proxy's sync state and certificate, the CA, the problems it sees)
//! comes from each controller Pod's status port, on the Pod's loopback, through
//! `pods/portforward` (which the API server authorises, as it does for istioctl); what
//! runs (instances, the gateway) from the Pods, Services and EndpointSlices themselves, turned
//! into the registry's view; each proxy's statistics from its Pod's stats port.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use k8s_openapi::api::core::v1::{Pod, Service as KubeService};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, ListParams};

use super::{GatewayView, InstanceView, Mesh, MeshError, MeshView};
use crate::controller::{ProxyReport, Report};
use crate::kube::client::Cluster;
use crate::kube::controller::{STATUS_PATH, TLS_PROBE_PATH};
use crate::kube::install::{CONTROLLER, STATUS_PORT, pod_labels};
use crate::kube::ports::STATS_PORT;
use crate::kube::registry::{self, PROXY_CONTAINER};
use crate::kube::store::KubeStore;
use crate::metrics::{ProxyStats, parse};
use crate::observe::collector::TRACES_PATH;
use crate::observe::trace::{self, Query, Traces};
use crate::pki::probe::TlsProbe;
use crate::store::Store;
use crate::translate::Proxy;
use crate::xds::SyncState;

pub struct ClusterMesh {
    cluster: Cluster,
    store: KubeStore,
    /// The namespace meshctl was installed in.
    namespace: String,
}

impl ClusterMesh {
    pub fn new(cluster: Cluster, namespace: String) -> Self {
        ClusterMesh { store: KubeStore::new(cluster.clone()), cluster, namespace }
    }

    fn unavailable(&self, verb: &'static str, what: &str, error: kube::Error) -> MeshError {
        let error = self.cluster.failed(verb, what.to_string(), what.to_string(), None, error);
        MeshError::Unavailable(error.into())
    }

    async fn list<K>(&self, what: &str, selector: Option<&str>) -> Result<Vec<Arc<K>>, MeshError>
    where
        K: kube::Resource<DynamicType = ()> + Clone + std::fmt::Debug + serde::de::DeserializeOwned,
    {
        let api: Api<K> = Api::all(self.cluster.client().clone());
        let params = selector.map_or_else(ListParams::default, |s| ListParams::default().labels(s));
        let list = api.list(&params).await.map_err(|e| self.unavailable("list", what, e))?;
        Ok(list.items.into_iter().map(Arc::new).collect())
    }

    /// The names of the controller replicas that run (have an address), or why there are none.
    async fn controllers(&self) -> Result<Vec<String>, MeshError> {
        let labels = pod_labels(CONTROLLER);
        let selector: Vec<String> = labels
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
            .collect();
        let pods: Vec<Arc<Pod>> = self.list("pods", Some(&selector.join(","))).await?;
        let running: Vec<String> = pods
            .iter()
            .filter(|p| p.metadata.namespace.as_deref() == Some(&self.namespace))
            .filter(|p| p.status.as_ref().and_then(|s| s.pod_ip.as_ref()).is_some())
            // One on its way out reports only until it goes, which may be before it is asked.
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .filter_map(|p| p.metadata.name.clone())
            .collect();
        if running.is_empty() {
            return Err(MeshError::NotRunning(format!(
                "no meshctl controller runs on the cluster at {} (no ready Pod in namespace {}); run `meshctl \
                 install`, and see `kubectl -n {} get pods`",
                self.cluster.server(),
                self.namespace,
                self.namespace
            )));
        }
        Ok(running)
    }

    /// A JSON answer from a controller replica's status port.
    async fn ask<T: serde::de::DeserializeOwned>(&self, controller: &str, path: &str) -> Result<T, MeshError> {
        let body = from_status_port(self.cluster.client(), &self.namespace, controller, path)
            .await
            .map_err(MeshError::Unavailable)?;
        serde_json::from_slice(&body)
            .map_err(|e| MeshError::Unavailable(anyhow::anyhow!("controller {controller} answered {path} with {e}")))
    }

    /// Every running controller replica's last report.
    async fn reports(&self) -> Result<Vec<(String, Report)>, MeshError> {
        let mut reports = Vec::new();
        for name in self.controllers().await? {
            let report = self.ask(&name, STATUS_PATH).await?;
            reports.push((name, report));
        }
        Ok(reports)
    }
}

/// What every replica's proxies run, for the leader's certificate rotations: each proxy as the
/// replica it is connected to reports it, and the CA only when every replica works with the
/// same one (an empty one while a replica has yet to take a change).
#[async_trait::async_trait]
impl crate::controller::rotation::Observer for ClusterMesh {
    async fn report(&self) -> anyhow::Result<Report> {
        let reports = self.reports().await?;
        let first = reports.first().map(|(_, r)| r.ca.clone()).unwrap_or_default();
        let ca = if reports.iter().all(|(_, r)| r.ca == first) { first } else { Default::default() };
        Ok(Report { proxies: merged(&reports), ca, ..Report::default() })
    }
}

/// Every proxy the replicas report, each as the one it is connected to reports it.
fn merged(reports: &[(String, Report)]) -> Vec<ProxyReport> {
    let mut proxies: BTreeMap<String, ProxyReport> = BTreeMap::new();
    for (_, report) in reports {
        for p in &report.proxies {
            if proxies.get(&p.node_id).is_none_or(|known| rank(&p.sync) > rank(&known.sync)) {
                proxies.insert(p.node_id.clone(), p.clone());
            }
        }
    }
    proxies.into_values().collect()
}

/// `GET path` from the status port of controller Pod `pod` in `namespace`, through a
/// port-forward to the Pod's loopback; an answer other than 200 is an error that says it.
pub async fn from_status_port(
    client: &kube::Client,
    namespace: &str,
    pod: &str,
    path: &str,
) -> anyhow::Result<hyper::body::Bytes> {
    let what = format!("port-forward to controller {namespace}/{pod}");
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let mut forwarder = pods.portforward(pod, &[STATUS_PORT]).await.with_context(|| {
        format!("cannot {what}; reading the controller's status needs `get` and `create` on `pods/portforward` in {namespace}")
    })?;
    let stream =
        forwarder.take_stream(STATUS_PORT).with_context(|| format!("{what}: the API server gave no stream"))?;
    let at = SocketAddr::from(([127, 0, 0, 1], STATUS_PORT));
    let request = crate::http::build(hyper::Method::GET, "localhost", path, &[])?;
    let answer = crate::http::send(at, stream, request).await;
    forwarder.abort();
    let answer = answer.with_context(|| what.clone())?;
    if answer.status != 200 {
        let body = String::from_utf8_lossy(&answer.body);
        anyhow::bail!("controller {pod} answered {path} with HTTP {}: {body}", answer.status);
    }
    Ok(answer.body)
}

/// A GET through the API server's proxy to a port of a Pod.
async fn through_pod(
    cluster: &Cluster,
    namespace: &str,
    pod: &str,
    port: u16,
    path: &str,
) -> Result<String, kube::Error> {
    let uri = format!("/api/v1/namespaces/{namespace}/pods/{pod}:{port}/proxy{path}");
    let request = hyper::Request::get(uri).body(Vec::new()).map_err(kube::Error::HttpError)?;
    cluster.client().request_text(request).await
}

/// The sync state that says the most: a proxy connects to one replica and is disconnected
/// from the others.
fn rank(sync: &SyncState) -> u8 {
    match sync {
        SyncState::Synced => 3,
        SyncState::Nack(_) => 2,
        SyncState::Stale => 1,
        SyncState::Disconnected => 0,
    }
}

/// Whether the Pod's container `name` is ready, and the restarts of all its containers.
fn containers(pod: &Pod) -> (bool, bool, u32) {
    let statuses = pod.status.as_ref().and_then(|s| s.container_statuses.clone()).unwrap_or_default();
    let init = pod.status.as_ref().and_then(|s| s.init_container_statuses.clone()).unwrap_or_default();
    let sidecar = statuses.iter().chain(&init).any(|c| c.name == PROXY_CONTAINER && c.ready);
    let app = statuses.iter().any(|c| c.name != PROXY_CONTAINER && c.ready);
    let restarts = statuses.iter().chain(&init).map(|c| c.restart_count.max(0) as u32).sum();
    (app, sidecar, restarts)
}

/// Whether the kubelet reports the Pod `Ready`: every container passes its readiness probe.
fn ready(pod: &Pod) -> bool {
    let conditions = pod.status.as_ref().and_then(|s| s.conditions.as_deref()).unwrap_or_default();
    conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True")
}

#[async_trait::async_trait]
impl Mesh for ClusterMesh {
    fn place(&self) -> String {
        format!("the cluster at {}", self.cluster.server())
    }

    fn store(&self) -> &dyn Store {
        &self.store
    }

    /// A view costs three lists and a request to each controller replica.
    fn poll_period(&self) -> Duration {
        Duration::from_millis(500)
    }

    async fn view(&self) -> Result<MeshView, MeshError> {
        let reports = self.reports().await?;
        let pods: Vec<Arc<Pod>> = self.list("pods", None).await?;
        let services: Vec<Arc<KubeService>> = self.list("services", None).await?;
        let slices: Vec<Arc<EndpointSlice>> = self.list("endpointslices.discovery.k8s.io", None).await?;
        let settings = registry::Settings { namespace: self.namespace.clone(), ..Default::default() };
        let registered: Vec<Arc<crate::kube::pod::Pod>> = pods.iter().map(|p| Arc::new(p.as_ref().into())).collect();
        let running = registry::view(&registered, &services, &slices, &settings);
        // A proxy's node id is its Pod's `NAME.NAMESPACE`.
        let by_node: std::collections::HashMap<String, &Pod> = pods
            .iter()
            .map(|p| {
                let (name, namespace) = (p.metadata.name.as_deref(), p.metadata.namespace.as_deref());
                (format!("{}.{}", name.unwrap_or_default(), namespace.unwrap_or_default()), p.as_ref())
            })
            .collect();
        let pod = |node: &str| by_node.get(node).copied();

        let mut instances = Vec::new();
        let mut gateway = None;
        for proxy in &running.proxies {
            let (app_running, sidecar_running, restarts) =
                pod(proxy.proxy.node_id()).map_or((false, false, 0), containers);
            match &proxy.proxy {
                Proxy::Sidecar(s) => {
                    let name = s.node_id.rsplit_once('.').map_or(s.node_id.as_str(), |(name, _)| name).to_string();
                    instances.push(InstanceView {
                        node_id: s.node_id.clone(),
                        resource: format!("Pod/{}/{name}", s.namespace),
                        name,
                        namespace: s.namespace.clone(),
                        service: s.service.clone(),
                        ports: s.ports.iter().map(|p| (p.service_port.number, p.service_port.protocol)).collect(),
                        service_account: proxy.identity.service_account.clone(),
                        labels: s.labels.clone(),
                        address: s.ports.first().map(|p| p.listen),
                        app_running,
                        sidecar_running,
                        restarts,
                    });
                }
                Proxy::Gateway(g) if gateway.is_none() => {
                    let ip = proxy.stats.ip();
                    gateway = Some(GatewayView {
                        node_id: g.node_id.clone(),
                        address: SocketAddr::new(ip, g.listen.port()),
                        // The gateway's Envoy is its Pod's one container, ready once Envoy says
                        // its listeners are configured; it is not named as a sidecar is.
                        listening: pod(proxy.proxy.node_id()).is_some_and(ready),
                    });
                }
                Proxy::Gateway(_) => {}
            }
        }
        let names: Vec<&str> = reports.iter().map(|(name, _)| name.as_str()).collect();
        let mut errors: Vec<String> = reports.iter().flat_map(|(_, r)| r.errors.iter().cloned()).collect();
        // A mesh whose gateway is down still runs inside; `check` says the gateway is not
        // listening, and why.
        let gateway = gateway.unwrap_or_else(|| {
            errors.push(format!(
                "no ingress gateway Pod runs on the cluster at {} (namespace {}); see `kubectl -n {} get pods`",
                self.cluster.server(),
                self.namespace,
                self.namespace
            ));
            GatewayView { node_id: String::new(), address: SocketAddr::from(([0, 0, 0, 0], 0)), listening: false }
        });
        errors.sort();
        errors.dedup();
        Ok(MeshView {
            control_plane: format!("{} replica(s): {}", names.len(), names.join(", ")),
            // Every replica must have built from the revision for the mesh to run it.
            revision: reports.iter().map(|(_, r)| r.revision.clone()).reduce(|a, b| a.meet(&b)).unwrap_or_default(),
            // What every replica's proxies run with: the fewest instances any replica routes to
            // (none, for a replica that has not seen the service).
            routed: reports
                .iter()
                .flat_map(|(_, r)| r.routed.keys())
                .map(|service| {
                    let fewest = reports.iter().map(|(_, r)| r.routed.get(service).copied().unwrap_or(0)).min();
                    (service.clone(), fewest.unwrap_or(0))
                })
                .collect(),
            gateway,
            instances,
            proxies: merged(&reports),
            ca: reports[0].1.ca.clone(),
            errors,
        })
    }

    async fn scrape(&self, node_ids: &[String], timeout: Duration) -> Vec<Result<ProxyStats, String>> {
        // One request per proxy, at once, each with its own timeout: a proxy that does not
        // answer is reported and never hides the others.
        let mut scrapes = tokio::task::JoinSet::new();
        for (index, node) in node_ids.iter().enumerate() {
            let (cluster, node) = (self.cluster.clone(), node.clone());
            scrapes.spawn(async move {
                let Some((pod, namespace)) = node.rsplit_once('.') else {
                    return (index, Err(format!("{node}: not a Pod's proxy")));
                };
                let path = "/stats/prometheus";
                let answer =
                    tokio::time::timeout(timeout, through_pod(&cluster, namespace, pod, STATS_PORT, path)).await;
                let stats = match answer {
                    Ok(Ok(text)) => {
                        parse(&text).map(|s| ProxyStats::from_samples(&s)).map_err(|e| format!("{node}: {e}"))
                    }
                    Ok(Err(e)) => Err(format!("{node}: {e}")),
                    Err(_) => Err(format!("{node}: no answer within {timeout:?}")),
                };
                (index, stats)
            });
        }
        let mut results = scrapes.join_all().await;
        results.sort_by_key(|(index, _)| *index);
        results.into_iter().map(|(_, stats)| stats).collect()
    }

    async fn probe_tls(&self, instances: &[InstanceView], timeout: Duration) -> Result<Vec<TlsProbe>, MeshError> {
        // Every replica sees the same instances; the first one probes them, from inside.
        let controllers = self.controllers().await?;
        let path = format!("{TLS_PROBE_PATH}?timeout_ms={}", timeout.as_millis());
        let probes: BTreeMap<String, TlsProbe> = self.ask(&controllers[0], &path).await?;
        instances
            .iter()
            .map(|instance| {
                let address = instance.address.ok_or_else(|| super::serves_nothing(instance))?;
                probes.get(&address.to_string()).copied().ok_or_else(|| {
                    MeshError::Unavailable(anyhow::anyhow!(
                        "controller {} does not know {} ({address}) yet; try again",
                        controllers[0],
                        instance.node_id,
                    ))
                })
            })
            .collect()
    }

    async fn traces(&self, query: &Query) -> Result<Traces, MeshError> {
        // Each replica collects the spans of the proxies whose reports reached it: a trace
        // may be in parts on several.
        let path = format!("{TRACES_PATH}?{}", query.to_params());
        let mut answers = Vec::new();
        for controller in self.controllers().await? {
            answers.push(self.ask(&controller, &path).await?);
        }
        Ok(trace::merge(answers, query))
    }
}
