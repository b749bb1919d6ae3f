//! The local controller (`meshctl controller --local`): reads the store, runs the workloads
//! and the gateway through the supervisor, translates the mesh for every proxy and serves it
//! over ADS, and writes what it sees to `status.json` for the CLI.
//!
//! ```text
//!   store ──(revision)──▶ supervisor.reconcile ──▶ services + proxies ──translate──▶ xDS
//!     ▲                                                                         │
//!   CLI apply                          status.json ◀── supervisor + xDS status ◀┘
//! ```
//!
//! A controller that is killed leaves the proxies running on their last configuration; the
//! next one binds the same xDS port, adopts the processes recorded in `status.json`, and the
//! proxies reconnect to it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::api::Resource;
use crate::mesh::{CaReport, ProxyReport};
use crate::pki;
use crate::runtime::{self, InstanceStatus, Supervisor};
use crate::store::{LocalStore, Store, write_atomically};
use crate::translate::{self, MeshSnapshot};
use crate::xds::{self, Desired, Resources, SyncState};

pub const STATUS_FILE: &str = "status.json";

/// The namespace short host names resolve in at the gateway.
const GATEWAY_NAMESPACE: &str = "default";

#[derive(Clone, Debug)]
pub struct Settings {
    pub state_dir: PathBuf,
    pub envoy: PathBuf,
    pub gateway_port: u16,
    /// How long workload certificates live.
    pub cert_lifetime: Duration,
    /// How often the controller looks at its processes and the CA when nothing wakes it.
    pub resync_period: Duration,
}

/// What the controller reports, and what a restarted controller picks up from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MeshStatus {
    pub pid: u32,
    pub running: bool,
    /// When this was written (RFC 3339).
    pub updated: String,
    pub xds_port: u16,
    pub gateway_port: u16,
    pub gateway_admin_port: u16,
    pub gateway_pid: Option<u32>,
    /// The store revision the configuration was built from.
    pub revision: u64,
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
    let mut ports = runtime::ports::PortAllocator::default();
    // Proxies left running by an earlier controller know its xDS port; reuse it.
    let xds_port = ports.hold_or_take(previous.xds_port)?;
    let gateway_admin = ports.hold_or_take(previous.gateway_admin_port)?;
    let gateway_port = ports.hold_or_take(settings.gateway_port)?;
    let xds_addr = SocketAddr::from(([127, 0, 0, 1], xds_port));

    let (desired_tx, desired_rx) = watch::channel::<Desired>(Arc::default());
    let server = xds::Server::new(desired_rx);
    serve_xds(&server, xds_addr).await.with_context(|| format!("cannot serve xDS on {xds_addr}"))?;

    let meshctl = std::env::current_exe().context("cannot find the meshctl binary")?;
    let supervisor_settings = runtime::Settings {
        state_dir: settings.state_dir.clone(),
        envoy: settings.envoy.clone(),
        meshctl,
        xds: xds_addr,
        gateway: SocketAddr::from(([127, 0, 0, 1], gateway_port)),
        gateway_admin,
    };
    let previous_gateway = (previous.gateway_port == gateway_port).then_some(previous.gateway_pid).flatten();
    let mut supervisor = Supervisor::new(supervisor_settings, ports, previous_gateway)?;
    let mut ca = pki::Authority::open(&settings.state_dir)?;
    let mut certificates = Certificates::default();
    // The CA state the proxies' desired configuration was last built from.
    let mut sent_ca: Option<pki::State> = None;

    let mut status = MeshStatus {
        pid: std::process::id(),
        running: true,
        xds_port,
        gateway_port,
        gateway_admin_port: gateway_admin,
        ..MeshStatus::default()
    };
    let mut adoptable = previous.instances;
    let mut last_revision = None;
    let mut translated: Option<u64> = None;
    let (targets_tx, targets) = watch::channel(Vec::new());
    let (problems, canary_problems) = watch::channel(Vec::new());
    spawn_canaries(store.clone(), targets, problems);
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut interval = tokio::time::interval(settings.resync_period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let store_changed = Arc::new(tokio::sync::Notify::new());
    let notify = store_changed.clone();
    store.watch(Box::new(move || notify.notify_one())).context("cannot watch the store")?;
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = store_changed.notified() => {}
            _ = server.status_changed() => {}
            _ = terminate.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        }
        let mut errors = Vec::new();
        let contents = match store.contents().await {
            Ok(c) => c,
            Err(e) => {
                status.errors = vec![e.to_string()];
                write_status(&settings.state_dir, &mut status);
                continue;
            }
        };
        let resources: Vec<Resource> =
            contents.resources().into_iter().filter_map(|r| r.map_err(|e| errors.push(e)).ok()).collect();
        if last_revision != Some(contents.revision) {
            let workloads: Vec<_> = resources
                .iter()
                .filter_map(|r| match r {
                    Resource::Workload(w) => Some(w.clone()),
                    _ => None,
                })
                .collect();
            match supervisor.reconcile(&workloads, &adoptable) {
                // What could not start is tried again on the next pass.
                Err(e) => errors.push(format!("cannot start workloads: {e}")),
                Ok(()) => last_revision = Some(contents.revision),
            }
            adoptable.clear();
        }
        // A listener that cannot bind is refused (NACKed) until it can: only then is it worth
        // asking that Envoy which of its ports it holds.
        let behind = |node: &str| matches!(server.sync_state(node), SyncState::Nack(_));
        let moved = supervisor.tick() | supervisor.move_unbound_listeners(&behind).await;
        let identities = supervisor.identities();

        // A root rotation moves on only once every proxy has ACKed a configuration built from
        // its current step: the step must have been sent (it is what the proxies' desired
        // state holds), and each proxy must have ACKed that state since.
        let mut pki_changed = ca.reload().unwrap_or_else(|e| {
            errors.push(format!("certificate authority: {e}"));
            false
        });
        let step_sent = !pki_changed && sent_ca.as_ref() == Some(ca.state()) && translated == Some(contents.revision);
        let every_proxy_runs_it = || {
            identities.iter().all(|(node, _)| server.sync_state(node) == SyncState::Synced)
                && certificates.all_signed_by(&ca.state().signing)
        };
        if ca.rotation().is_some() && step_sent && every_proxy_runs_it() {
            match ca.advance_rotation() {
                Ok(()) => pki_changed = true,
                Err(e) => errors.push(format!("certificate authority: {e}")),
            }
        }
        let renewed = certificates.renew(&ca, &identities, settings.cert_lifetime, &mut errors);

        // What the proxies should run depends only on the store, the instances (which change
        // when the store does, or when one's port moves) and their certificates: translate when
        // one of them moved.
        if translated != Some(contents.revision) || pki_changed || renewed || moved {
            let snapshot = MeshSnapshot::new(supervisor.services(), &resources);
            let credentials = |node: &str| certificates.credentials(node, ca.trust_bundle());
            let desired: HashMap<String, Arc<Resources>> = supervisor
                .proxies(GATEWAY_NAMESPACE, &credentials)
                .iter()
                .map(|p| (p.node_id().to_string(), Arc::new(Resources::from(&translate::translate(&snapshot, p)))))
                .collect();
            let desired = Arc::new(desired);
            if *desired_tx.borrow() != desired {
                tracing::info!(
                    revision = contents.revision,
                    proxies = desired.len(),
                    "new configuration for the proxies"
                );
                desired_tx.send_replace(desired);
            }
            translated = Some(contents.revision);
            sent_ca = Some(ca.state().clone());
        }

        let proxies = scrape_targets(&supervisor, gateway_admin);
        targets_tx.send_if_modified(|targets| {
            let changed = *targets != proxies;
            *targets = proxies;
            changed
        });
        errors.extend(canary_problems.borrow().iter().cloned());
        errors.extend(
            supervisor.status().iter().filter_map(|i| i.last_error.as_ref().map(|e| format!("{}: {e}", i.node_id))),
        );
        errors.extend(supervisor.gateway_error().map(|e| format!("gateway: {e}")));
        status.revision = contents.revision;
        status.instances = supervisor.status();
        status.gateway_pid = supervisor.gateway_pid();
        status.proxies = proxy_reports(&server, &identities, &certificates);
        status.ca = CaReport {
            signing: ca.state().signing.clone(),
            trusted: ca.state().trusted.clone(),
            rotation: ca.rotation().map(str::to_string),
        };
        status.errors = errors;
        write_status(&settings.state_dir, &mut status);
    }
    supervisor.stop_all();
    status.running = false;
    status.gateway_pid = None;
    status.instances.clear();
    status.proxies.clear();
    write_status(&settings.state_dir, &mut status);
    Ok(())
}

/// Canary rollouts are judged once a second.
const CANARY_EVERY: Duration = Duration::from_secs(1);

/// Serves xDS on `addr`. A controller killed a moment ago may still hold the port while the
/// kernel tears it down: its successor, which must bind the same port for the proxies to find
/// it, tries for a few seconds before it gives up.
async fn serve_xds(server: &xds::Server, addr: SocketAddr) -> std::io::Result<SocketAddr> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match server.clone().spawn(addr).await {
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            bound => return bound,
        }
    }
}

/// Runs the canary driver beside the controller's loop, which must not wait on its scrapes
/// (up to a second) to report an ACK. They speak through the store, as the CLI and the
/// controller do; the loop hands it the proxies to scrape and reports its problems.
fn spawn_canaries(
    store: LocalStore,
    targets: watch::Receiver<Vec<crate::metrics::scrape::Target>>,
    problems: watch::Sender<Vec<String>>,
) {
    tokio::spawn(async move {
        let mut driver = crate::canary::Driver::default();
        let mut every = tokio::time::interval(CANARY_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let found = match store.contents().await {
                Ok(contents) => {
                    let resources: Vec<Resource> = contents.resources().into_iter().flatten().collect();
                    let proxies = targets.borrow().clone();
                    driver.tick(&store, &resources, &proxies).await
                }
                Err(e) => vec![format!("canaries: {e}")],
            };
            problems.send_replace(found);
        }
    });
}

/// Every proxy's admin endpoint, for scraping.
fn scrape_targets(supervisor: &Supervisor, gateway_admin: u16) -> Vec<crate::metrics::scrape::Target> {
    let admin = |port| SocketAddr::from(([127, 0, 0, 1], port));
    let mut targets =
        vec![crate::metrics::scrape::Target { node_id: runtime::GATEWAY_NODE.into(), admin: admin(gateway_admin) }];
    targets.extend(
        supervisor
            .status()
            .into_iter()
            .map(|i| crate::metrics::scrape::Target { node_id: i.node_id, admin: admin(i.ports.admin) }),
    );
    targets
}

fn proxy_reports(
    server: &xds::Server,
    proxies: &[(String, pki::Identity)],
    certificates: &Certificates,
) -> Vec<ProxyReport> {
    let all = server.status();
    proxies
        .iter()
        .map(|(node, _)| {
            let versions = all
                .get(node)
                .map(|s| s.acked.iter().map(|(t, v)| (t.short().to_string(), v.clone())).collect())
                .unwrap_or_default();
            let leaf = certificates.leaves.get(node);
            let time = |t: Option<SystemTime>| t.map(crate::api::time::rfc3339).unwrap_or_default();
            ProxyReport {
                sync: server.sync_state(node),
                versions,
                identity: leaf.map(|(id, _)| id.uri()).unwrap_or_default(),
                cert_issued: time(leaf.map(|(_, l)| l.issued())),
                cert_expires: time(leaf.map(|(_, l)| l.not_after)),
                cert_root: leaf.map(|(_, l)| l.root.clone()).unwrap_or_default(),
                cert_fingerprint: leaf.map(|(_, l)| l.fingerprint.clone()).unwrap_or_default(),
                node_id: node.clone(),
            }
        })
        .collect()
}

/// Every proxy's current certificate, by node id; issued in memory, never written down.
#[derive(Default)]
struct Certificates {
    leaves: HashMap<String, (pki::Identity, pki::Leaf)>,
}

impl Certificates {
    /// Issues a certificate to every proxy that has none, or one that must be replaced, and
    /// forgets proxies that are gone. Returns whether anything changed.
    fn renew(
        &mut self,
        ca: &pki::Authority,
        proxies: &[(String, pki::Identity)],
        lifetime: Duration,
        errors: &mut Vec<String>,
    ) -> bool {
        let now = SystemTime::now();
        let before = self.leaves.len();
        self.leaves.retain(|node, _| proxies.iter().any(|(n, _)| n == node));
        let mut changed = self.leaves.len() != before;
        for (node, identity) in proxies {
            let current = self.leaves.get(node).filter(|(id, leaf)| id == identity && !ca.must_reissue(leaf, now));
            if current.is_some() {
                continue;
            }
            match ca.issue(identity, lifetime) {
                Ok(leaf) => {
                    self.leaves.insert(node.clone(), (identity.clone(), leaf));
                    changed = true;
                }
                Err(e) => errors.push(format!("{node}: cannot issue a certificate: {e}")),
            }
        }
        changed
    }

    fn all_signed_by(&self, root: &str) -> bool {
        self.leaves.values().all(|(_, leaf)| leaf.root == root)
    }

    fn credentials(&self, node: &str, trust_bundle: &str) -> translate::Credentials {
        let leaf = self.leaves.get(node).map(|(_, leaf)| leaf);
        translate::Credentials {
            cert_chain: leaf.map(|l| l.cert_pem.clone()).unwrap_or_default(),
            private_key: leaf.map(|l| l.key_pem.clone()).unwrap_or_default(),
            trust_bundle: trust_bundle.to_string(),
        }
    }
}

fn write_status(dir: &Path, status: &mut MeshStatus) {
    status.updated = crate::api::time::now_rfc3339();
    let bytes = serde_json::to_vec_pretty(status).expect("status serializes");
    if let Err(e) = write_atomically(&dir.join(STATUS_FILE), &bytes) {
        tracing::error!("cannot write status: {e}");
    }
}
