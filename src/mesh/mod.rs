//! One handle on a running mesh, wherever it runs: what every command that speaks to a mesh
//! speaks to. The CLI resolves its flags into one [`Mesh`]; each backend keeps its own
//! addresses to itself. Starting and stopping a local mesh is here too (`local::start`,
//! `local::stop`): the CLI never touches a process or a state file.
//!
//! ```text
//!   cli ──▶ dyn Mesh ──┬─ store()      the resources (spec), through the store trait
//!                      ├─ view()       what the control plane reports (proxies, instances, CA)
//!                      ├─ scrape()     each proxy's statistics, however this backend reaches them
//!                      ├─ probe_tls()  what each sidecar accepts on its mesh address
//!                      ├─ traces()     recent traces, from the control plane's collector
//!                      └─ rotate_*()   certificate authority requests
//!   local: the state directory, status.json, processes on 127.0.0.1   (mesh::local)
//!   cluster: the API server; controller Pods' reports through pods/portforward (mesh::cluster)
//! ```

pub mod cluster;
pub mod local;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use crate::controller::{CaReport, ProxyReport};
use crate::metrics::ProxyStats;
use crate::observe::trace::{Query, Traces};
use crate::pki::probe::TlsProbe;
use crate::store::Revision;
use crate::store::Store;
use crate::xds::SyncState;

/// A running mesh.
#[async_trait::async_trait]
pub trait Mesh: Send + Sync {
    /// Where the mesh is, as messages name it (`the local mesh at DIR`).
    fn place(&self) -> String;

    /// Its resources.
    fn store(&self) -> &dyn Store;

    /// What its control plane reports now.
    async fn view(&self) -> Result<MeshView, MeshError>;

    /// How often a command waiting on the mesh reads its view again: often enough to add
    /// little to how long a change takes, rarely enough that reading stays cheap.
    fn poll_period(&self) -> Duration;

    /// The statistics of each proxy named, in that order; a proxy that does not answer within
    /// `timeout` is reported and never hides the others.
    async fn scrape(&self, node_ids: &[String], timeout: Duration) -> Vec<Result<ProxyStats, String>>;

    /// Whether each instance's mesh address completes a mutual-TLS request and refuses a
    /// plaintext one, probed as a mesh client would from where the mesh's traffic runs.
    /// What each of `instances`, which must serve a port, accepts there.
    async fn probe_tls(&self, instances: &[InstanceView], timeout: Duration) -> Result<Vec<TlsProbe>, MeshError>;

    /// The recent traces `query` asks for, as the control plane collected them.
    async fn traces(&self, query: &Query) -> Result<Traces, MeshError>;
}

#[derive(Debug, thiserror::Error)]
pub enum MeshError {
    /// No control plane answers for the mesh.
    #[error("{0}")]
    NotRunning(String),
    /// The mesh's own files, processes or API cannot be used.
    #[error(transparent)]
    Unavailable(anyhow::Error),
}

/// What a mesh's control plane reports about it.
#[derive(Clone, Debug, PartialEq)]
pub struct MeshView {
    /// The control plane in a few words, for `check` (`pid 12, xDS on 127.0.0.1:15010`).
    pub control_plane: String,
    /// The store revision the proxies' configuration was built from.
    pub revision: Revision,
    /// How many ready instances of each service (`NAMESPACE/NAME`) that configuration routes to.
    pub routed: BTreeMap<String, usize>,
    pub gateway: GatewayView,
    pub instances: Vec<InstanceView>,
    pub proxies: Vec<ProxyReport>,
    pub ca: CaReport,
    /// Problems that keep part of the mesh from working.
    pub errors: Vec<String>,
}

/// The ingress gateway.
#[derive(Clone, Debug, PartialEq)]
pub struct GatewayView {
    /// Empty when no gateway runs (a cluster's gateway Pod is down; the view's errors say so).
    pub node_id: String,
    /// Where it takes traffic from outside the mesh.
    pub address: SocketAddr,
    /// It accepts connections there.
    pub listening: bool,
}

/// One replica of a workload with its sidecar.
#[derive(Clone, Debug, PartialEq)]
pub struct InstanceView {
    pub node_id: String,
    /// The replica's own name (`profile-v2-0`).
    pub name: String,
    /// The object it runs for, as findings name it (`Workload/NAMESPACE/NAME`, `Pod/...`).
    pub resource: String,
    pub namespace: String,
    pub service: String,
    /// The ports of its service it serves, with what each carries; the first is the one
    /// `address` serves. None for a client only.
    pub ports: Vec<(u16, crate::api::Protocol)>,
    pub service_account: String,
    pub labels: BTreeMap<String, String>,
    /// Its address in the mesh for its service's first port: where its sidecar takes that
    /// port's traffic.
    pub address: Option<SocketAddr>,
    pub app_running: bool,
    pub sidecar_running: bool,
    pub restarts: u32,
}

/// The error of asking about the mesh address of an instance that serves no port.
pub(crate) fn serves_nothing(instance: &InstanceView) -> MeshError {
    MeshError::Unavailable(anyhow::anyhow!(
        "{} serves no port of its service (a client only), so it has no mesh address to ask about",
        instance.node_id
    ))
}

impl InstanceView {
    pub fn version(&self) -> &str {
        self.labels.get("version").map_or("", String::as_str)
    }
}

impl MeshView {
    /// The node ids of the gateways' proxies: install's ingress gateway and each Gateway API
    /// Gateway's, every proxy that is not an instance's sidecar.
    pub fn gateways(&self) -> Vec<String> {
        let sidecar = |node: &str| self.instances.iter().any(|i| i.node_id == node);
        let mut nodes: Vec<String> = self.proxies.iter().map(|p| &p.node_id).filter(|n| !sidecar(n)).cloned().collect();
        if !self.gateway.node_id.is_empty() && !nodes.contains(&self.gateway.node_id) {
            nodes.insert(0, self.gateway.node_id.clone());
        }
        nodes
    }

    /// Whether every proxy has ACKed a configuration built from a store revision that holds
    /// `revision`: what a command that moves traffic waits for before it says it is done.
    pub fn runs(&self, revision: &Revision) -> bool {
        self.revision.holds(revision) && self.synced()
    }

    /// Whether every proxy has ACKed what the controller wants it to run.
    pub fn synced(&self) -> bool {
        self.proxies.iter().all(|p| p.sync == SyncState::Synced)
    }

    /// A proxy's sync state; one the control plane does not know of is disconnected.
    pub fn sync(&self, node_id: &str) -> SyncState {
        self.proxies.iter().find(|p| p.node_id == node_id).map_or(SyncState::Disconnected, |p| p.sync.clone())
    }

    /// What runs in the mesh, as analysis needs it.
    pub fn live(&self) -> crate::policy::Live {
        let instances = self
            .instances
            .iter()
            .map(|i| crate::policy::LiveInstance {
                namespace: i.namespace.clone(),
                service: i.service.clone(),
                labels: i.labels.clone(),
                ports: i.ports.clone(),
                ready: i.app_running && i.sidecar_running,
            })
            .collect();
        let proxies = self
            .proxies
            .iter()
            .map(|p| crate::policy::LiveProxy {
                node_id: p.node_id.clone(),
                resource: self.instances.iter().find(|i| i.node_id == p.node_id).map(|i| i.resource.clone()),
                refused: match &p.sync {
                    SyncState::Nack(reason) => Some(reason.clone()),
                    _ => None,
                },
            })
            .collect();
        crate::policy::Live { instances, proxies }
    }
}
