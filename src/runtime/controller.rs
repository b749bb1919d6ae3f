//! The local controller's backend (`meshctl controller --local`): the registry is the
//! supervisor, which runs the workloads, their sidecars and the gateways as processes on
//! 127.0.0.1; the status sink is `status.json` in the state directory, which the CLI reads.
//!
//! A controller that is killed leaves the proxies running on their last configuration; the
//! next one binds the same xDS port, adopts the processes recorded in `status.json`, and the
//! proxies reconnect to it.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::{GatewayStatus, InstanceStatus, Supervisor};
use crate::api::Identity;
use crate::api::Resource;
use crate::api::gateway::GatewayAddress;
use crate::controller::{CaReport, Pacing, Plane, ProxyReport, Registry, Report, Rotations, StatusSink, Syncing};
use crate::ingress::Deployed;
use crate::metrics::scrape::{Served, Target};
use crate::observe::{self, collector::Collector};
use crate::pki;
use crate::store::{LocalStore, Revision, Store, write_atomically};
use crate::translate::{Credentials, OutboundPolicy, Proxy, Service, Tracing};
use crate::xds::{self, Desired, SyncState};

pub const STATUS_FILE: &str = "status.json";

/// The namespace short host names resolve in at the gateway.
const GATEWAY_NAMESPACE: &str = "default";
/// The label Kubernetes gives every namespace, its name: what `allowedRoutes` selectors
/// commonly pick namespaces by.
const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

#[derive(Clone, Debug)]
pub struct Settings {
    pub state_dir: PathBuf,
    pub envoy: PathBuf,
    pub gateway_port: u16,
    pub pacing: Pacing,
    /// How often to look at the processes (exits, moved ports) when nothing else wakes the
    /// controller.
    pub resync_period: Duration,
    pub tracing: Tracing,
    pub outbound_policy: OutboundPolicy,
}

/// What the controller reports, and what a restarted controller picks up from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MeshStatus {
    pub pid: u32,
    pub running: bool,
    /// When this last changed (RFC 3339).
    pub updated: String,
    pub xds_port: u16,
    /// Where the proxies report spans, and `meshctl trace` asks for traces.
    #[serde(default)]
    pub collector_port: u16,
    pub gateway_port: u16,
    pub gateway_admin_port: u16,
    pub gateway_pid: Option<u32>,
    /// The Envoys of the Gateway API's Gateways.
    #[serde(default)]
    pub gateways: Vec<GatewayStatus>,
    /// The store revision the configuration was built from.
    pub revision: Revision,
    /// How many ready instances of each service that configuration routes to.
    #[serde(default)]
    pub routed: BTreeMap<String, usize>,
    pub instances: Vec<InstanceStatus>,
    pub proxies: Vec<ProxyReport>,
    /// The certificate authority: its roots, and where a root rotation stands.
    #[serde(default)]
    pub ca: CaReport,
    /// Problems that keep part of the mesh from working (a process that cannot start, an
    /// object that cannot be read).
    pub errors: Vec<String>,
}

impl MeshStatus {
    pub fn read(state_dir: &Path) -> Option<MeshStatus> {
        let bytes = std::fs::read(state_dir.join(STATUS_FILE)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

pub async fn run(settings: Settings) -> anyhow::Result<()> {
    let store = LocalStore::create(&settings.state_dir)?;
    let previous = MeshStatus::read(&settings.state_dir).unwrap_or_default();
    let mut ports = super::ports::PortAllocator::default();
    // Proxies left running by an earlier controller know its xDS and collector ports; reuse
    // them.
    let xds_port = ports.hold_or_take(previous.xds_port)?;
    let collector_port = ports.hold_or_take(previous.collector_port)?;
    let gateway_admin = ports.hold_or_take(previous.gateway_admin_port)?;
    let gateway_port = ports.hold_or_take(settings.gateway_port)?;
    let xds_addr = SocketAddr::from(([127, 0, 0, 1], xds_port));

    let collector_addr = SocketAddr::from(([127, 0, 0, 1], collector_port));

    let (desired_tx, desired_rx) = watch::channel::<Desired>(Arc::default());
    let server = xds::Server::new(desired_rx);
    let listener = bind_reclaiming(xds_addr).await.with_context(|| format!("cannot serve xDS on {xds_addr}"))?;
    server.clone().serve_in_background(listener);
    let collector = Collector::default();
    let listener =
        bind_reclaiming(collector_addr).await.with_context(|| format!("cannot collect spans on {collector_addr}"))?;
    tokio::spawn(observe::collector::serve(listener, collector.clone()));

    let meshctl = std::env::current_exe().context("cannot find the meshctl binary")?;
    let supervisor_settings = super::Settings {
        state_dir: settings.state_dir.clone(),
        envoy: settings.envoy.clone(),
        meshctl,
        xds: xds_addr,
        collector: collector_addr,
        gateway: SocketAddr::from(([127, 0, 0, 1], gateway_port)),
        gateway_admin,
    };
    let previous_gateway = (previous.gateway_port == gateway_port).then_some(previous.gateway_pid).flatten();
    let supervisor = Supervisor::new(supervisor_settings, ports, previous_gateway)?;
    let ca = pki::Authority::open(&settings.state_dir)?;
    ensure_gateway_class(&store).await?;
    let mut processes = Processes {
        supervisor,
        adoptable: previous.instances,
        adoptable_gateways: previous.gateways,
        gateway_admin,
        namespaces: BTreeSet::new(),
        programmed: BTreeSet::new(),
        resync_period: settings.resync_period,
    };
    let mut status = StatusFile {
        dir: settings.state_dir.clone(),
        status: MeshStatus {
            pid: std::process::id(),
            running: true,
            xds_port,
            collector_port,
            gateway_port,
            gateway_admin_port: gateway_admin,
            ..MeshStatus::default()
        },
        written: None,
    };
    // The local controller runs alone: it always leads.
    let (_alone, leading) = watch::channel(true);
    let plane = Plane {
        store: Arc::new(store),
        ca,
        server,
        desired: desired_tx,
        pacing: settings.pacing,
        leading,
        resign: None,
        tracing: settings.tracing,
        outbound_policy: settings.outbound_policy,
        collector,
        rotations: Rotations { keeper: Arc::new(crate::pki::StateDir(settings.state_dir.clone())), replicas: None },
        // The rotator tells it, having written the CA's files.
        ca_changed: Arc::default(),
    };
    crate::controller::reconcile_until_stopped(plane, &mut processes, &mut status).await
}

/// Stores the GatewayClass `meshctl`, as `meshctl install` makes it on a cluster, unless one by
/// that name is stored (a user's is kept as it is).
async fn ensure_gateway_class(store: &LocalStore) -> anyhow::Result<()> {
    use crate::api::gateway::{GATEWAY_CLASS, GatewayClass};
    let stored = store.contents().await?.resources();
    let ours =
        |r: &Resource| matches!(r, Resource::GatewayClass(c) if c.metadata.name.as_deref() == Some(GATEWAY_CLASS));
    if stored.iter().flatten().any(ours) {
        return Ok(());
    }
    let class = GatewayClass::new(GATEWAY_CLASS, crate::api::gateway::meshctl_class());
    store
        .apply(&[Resource::GatewayClass(class.into())], false)
        .await
        .context("cannot store the GatewayClass meshctl")?;
    Ok(())
}

/// Binds `addr`, a port the proxies know. A controller killed a moment ago may still hold it
/// while the kernel tears it down: its successor, which must bind the same port for the
/// proxies to find it, tries for a few seconds before it gives up.
async fn bind_reclaiming(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match tokio::net::TcpListener::bind(addr).await {
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            bound => return bound,
        }
    }
}

/// The local registry: the supervisor's processes.
struct Processes {
    supervisor: Supervisor,
    /// Instances and Gateways' Envoys an earlier controller left running, taken over on the
    /// first reconcile.
    adoptable: Vec<InstanceStatus>,
    adoptable_gateways: Vec<GatewayStatus>,
    gateway_admin: u16,
    /// The namespaces the stored objects are in: the only ones the local mesh has.
    namespaces: BTreeSet<String>,
    /// The Gateways' Envoys that run a configuration of theirs: they took one since they
    /// connected, and refuse none (as a listener that cannot bind is refused).
    programmed: BTreeSet<String>,
    resync_period: Duration,
}

/// The local status sink: `status.json`, which also tells a restarted controller what to
/// adopt.
struct StatusFile {
    dir: PathBuf,
    status: MeshStatus,
    /// What the file holds, so that a pass that changed nothing leaves it alone.
    written: Option<MeshStatus>,
}

#[async_trait::async_trait]
impl Registry for Processes {
    fn reconcile(&mut self, resources: &[Resource]) -> Result<(), String> {
        let workloads: Vec<_> = resources
            .iter()
            .filter_map(|r| match r {
                Resource::Workload(w) => Some(crate::api::meshctl::Workload::clone(w)),
                _ => None,
            })
            .collect();
        let adoptable = std::mem::take(&mut self.adoptable);
        let workloads =
            self.supervisor.reconcile(&workloads, &adoptable).map_err(|e| format!("cannot start workloads: {e}"));
        self.namespaces =
            resources.iter().filter_map(|r| r.meta().namespace.clone()).chain(["default".to_string()]).collect();
        let ingress = crate::ingress::Ingress::new(resources, &crate::ingress::Environment::default());
        let gateways: Vec<super::GatewaySpec> = ingress
            .gateways
            .iter()
            .filter(|s| s.listeners.iter().any(|j| j.accepted.is_ok()))
            .map(|s| {
                let meta = &s.gateway.metadata;
                let gateway = (meta.namespace.clone().unwrap_or_default(), meta.name.clone().unwrap_or_default());
                (gateway, s.listeners.iter().filter(|j| j.accepted.is_ok()).map(|j| j.listener.port).collect())
            })
            .collect();
        let adoptable = std::mem::take(&mut self.adoptable_gateways);
        let gateways = self
            .supervisor
            .reconcile_gateways(&gateways, &adoptable)
            .map_err(|e| format!("cannot start the Gateways' proxies: {e}"));
        workloads.and(gateways)
    }

    async fn changed(&mut self) {
        // Nothing tells the supervisor that a process exited: it looks when ticked.
        tokio::time::sleep(self.resync_period).await
    }

    async fn tick(&mut self, syncing: Syncing<'_>) -> bool {
        // A Gateway's ports are the user's, not moved: its Envoy is not programmed while another
        // process holds one. One that is only behind (a newer configuration on its way) stays
        // programmed.
        let gateways: BTreeSet<String> = self.supervisor.gateway_status().into_iter().map(|g| g.node_id).collect();
        self.programmed.retain(|node| gateways.contains(node));
        for node in gateways {
            match syncing(&node) {
                SyncState::Synced => self.programmed.insert(node),
                SyncState::Stale => continue,
                SyncState::Nack(_) | SyncState::Disconnected => self.programmed.remove(&node),
            };
        }
        // A listener that cannot bind is refused (NACKed) until it can: only then is it worth
        // asking that Envoy which of its ports it holds.
        let refusing = |node: &str| matches!(syncing(node), SyncState::Nack(_));
        self.supervisor.tick() | self.supervisor.move_unbound_listeners(&refusing).await
    }

    fn services(&self) -> Vec<Service> {
        self.supervisor.services()
    }

    fn identities(&self) -> Arc<[(String, Identity)]> {
        self.supervisor.identities().into()
    }

    fn proxies(&self, credentials: &dyn Fn(&str) -> Option<Credentials>) -> Vec<Proxy> {
        self.supervisor.proxies(GATEWAY_NAMESPACE, credentials)
    }

    /// No TLS Secrets, and namespaces with only the label Kubernetes gives every one.
    fn environment(&self) -> crate::ingress::Environment {
        let namespace_labels = self
            .namespaces
            .iter()
            .map(|ns| (ns.clone(), [(NAMESPACE_NAME_LABEL.to_string(), ns.clone())].into()))
            .collect();
        let gateways = self
            .supervisor
            .gateway_status()
            .into_iter()
            .map(|g| {
                let deployed = Deployed {
                    proxy: format!("its Envoy {} on 127.0.0.1", g.node_id),
                    addresses: vec![GatewayAddress { kind: "IPAddress".into(), value: "127.0.0.1".into() }],
                    ready: g.pid.is_some() && self.programmed.contains(&g.node_id),
                    waiting_for_load_balancer: false,
                };
                ((g.namespace, g.name), deployed)
            })
            .collect();
        let no_secrets = Some("the local mesh has no Secrets, so HTTPS listeners are served on a cluster only");
        crate::ingress::Environment { namespace_labels, gateways, no_secrets, ..Default::default() }
    }

    fn scrape_targets(&self) -> Arc<[Target]> {
        let admin = |port| SocketAddr::from(([127, 0, 0, 1], port));
        let gateway = Target { node_id: super::GATEWAY_NODE.into(), admin: admin(self.gateway_admin), serves: None };
        let gateways = self.supervisor.gateway_status().into_iter().map(|g| Target {
            node_id: g.node_id,
            admin: admin(g.admin),
            serves: None,
        });
        let sidecars = self.supervisor.status().into_iter().map(|i| Target {
            node_id: i.node_id,
            admin: admin(i.ports.admin),
            serves: Some(Served { namespace: i.spec.namespace, services: vec![i.spec.service], labels: i.spec.labels }),
        });
        std::iter::once(gateway).chain(gateways).chain(sidecars).collect()
    }

    fn problems(&self) -> Vec<String> {
        let instances = self.supervisor.status();
        let failed = instances.iter().filter_map(|i| i.last_error.as_ref().map(|e| format!("{}: {e}", i.node_id)));
        let gateways = self
            .supervisor
            .gateway_status()
            .into_iter()
            .filter_map(|g| Some(format!("{}: {}", g.node_id, g.last_error?)));
        failed.chain(gateways).chain(self.supervisor.gateway_error().map(|e| format!("gateway: {e}"))).collect()
    }

    fn shut_down(&mut self) {
        self.supervisor.stop_all();
    }
}

impl StatusSink<Processes> for StatusFile {
    fn record(&mut self, report: &Arc<Report>, processes: &Processes) {
        self.status.revision = report.revision.clone();
        self.status.routed = BTreeMap::clone(&report.routed);
        self.status.instances = processes.supervisor.status();
        self.status.gateway_pid = processes.supervisor.gateway_pid();
        self.status.gateways = processes.supervisor.gateway_status();
        self.status.proxies = report.proxies.clone();
        self.status.ca = report.ca.clone();
        self.status.errors = report.errors.clone();
        self.write();
    }

    fn stopped(&mut self) {
        self.status.running = false;
        self.status.gateway_pid = None;
        self.status.gateways.clear();
        self.status.instances.clear();
        self.status.proxies.clear();
        self.write();
    }
}

impl StatusFile {
    fn write(&mut self) {
        // `updated` is only ever set here: equal to what was written means nothing changed.
        if self.written.as_ref() == Some(&self.status) {
            return;
        }
        self.status.updated = crate::api::time::now_rfc3339();
        let bytes = serde_json::to_vec_pretty(&self.status).expect("status serializes");
        match write_atomically(&self.dir.join(STATUS_FILE), &bytes) {
            Ok(()) => self.written = Some(self.status.clone()),
            Err(e) => tracing::error!("cannot write status: {e}"),
        }
    }
}
