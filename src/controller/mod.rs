//! The controller: the same loop wherever the mesh runs. It reads the store, asks the
//! backend's [`Registry`] what runs (services, instances, proxies and their identities),
//! issues certificates, translates the mesh for every proxy and serves it over ADS, drives
//! canary rollouts, and hands what it saw to the backend's [`StatusSink`].
//!
//! ```text
//!   Store ──watch──▶ loop ──reconcile──▶ Registry (local: processes; a cluster: Pods)
//!                      │  ◀─services, proxies─┘
//!                      ├──translate──▶ xDS server ──ACK/NACK──▶ loop
//!                      ├──targets──▶ canary driver ──▶ Store (weights, Canary status)
//!                      ├──route status (leader) ──▶ Store (HTTPRoute status)
//!                      ├──targets──▶ span collector (which proxy runs what)
//!                      └──Report──▶ StatusSink (local: status.json; a cluster: the status port)
//! ```
//!
//! A pass runs when something it depends on changes: the store, what the registry watches (or
//! its own look, for a registry that must poll), the CA, a proxy's ACK or NACK, leadership,
//! the canary driver's problems, or a certificate falling due. Idle, the loop does nothing.
//!
//! Only the registry and the sink know their backend; the translator and the xDS server never
//! learn which one feeds them.

mod gateway_status;
pub mod rotation;
mod route_status;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::api::Identity;
use crate::api::Resource;
use crate::metrics::scrape::Target;
use crate::observe::collector::Collector;
use crate::pki;
use crate::publish::SendChanged;
use crate::store::{Revision, Store};
use crate::translate::{
    Carried, Credentials, MeshSnapshot, OutboundPolicy, Proxy, Resources, Service, Tracing, Translation,
};
use crate::xds::{self, Desired, SyncState};

/// Says how far the proxy of a node id is with its configuration.
pub type Syncing<'a> = &'a (dyn Fn(&str) -> SyncState + Sync);

/// Where the mesh's workloads run, as the controller sees them.
#[async_trait::async_trait]
pub trait Registry: Send {
    /// Brings what runs in line with the stored objects (the local mesh starts and stops
    /// processes). What fails is tried again on the next call.
    fn reconcile(&mut self, resources: &[Resource]) -> Result<(), String>;

    /// Resolves when what runs may have changed without the controller's doing (a cluster's
    /// watch saw a Pod start), or when the registry must be ticked to find out (the local
    /// supervisor looks at its processes every so often). Nothing else wakes an idle loop but
    /// the store, the CA, the proxies and a certificate falling due.
    async fn changed(&mut self);

    /// Looks after what runs between changes (restarts, moved ports); `syncing` says how far a
    /// proxy is with its configuration. Returns whether an address the proxies' configuration
    /// names has moved.
    async fn tick(&mut self, syncing: Syncing<'_>) -> bool;

    /// The mesh's services and where their instances take traffic.
    fn services(&self) -> Vec<Service>;

    /// Every proxy the registry knows, by node id, with the identity it runs as; the control
    /// plane configures those connected to it.
    fn identities(&self) -> Arc<[(String, Identity)]>;

    /// The proxies `credentials` gives credentials for (by node id), each with them.
    fn proxies(&self, credentials: &dyn Fn(&str) -> Option<Credentials>) -> Vec<Proxy>;

    /// What the Gateway API's objects are judged with besides each other (namespaces' labels,
    /// certificates, the Gateways' proxies); none where the registry keeps none.
    fn environment(&self) -> crate::ingress::Environment {
        crate::ingress::Environment::default()
    }

    /// Where each proxy's statistics are read, for the canary gates.
    fn scrape_targets(&self) -> Arc<[Target]>;

    /// What keeps part of the mesh from running (a process that cannot start).
    fn problems(&self) -> Vec<String>;

    /// The controller is stopping: stop what it started.
    fn shut_down(&mut self);
}

/// What the controller saw on one pass.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The store revision the proxies' configuration was built from.
    pub revision: Revision,
    /// How many ready instances of each service (`NAMESPACE/NAME`) that configuration routes
    /// to: what a command waits on to know the proxies run with a workload that just started.
    #[serde(default)]
    pub routed: Arc<BTreeMap<String, usize>>,
    pub proxies: Vec<ProxyReport>,
    pub ca: CaReport,
    pub errors: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProxyReport {
    pub node_id: String,
    pub sync: SyncState,
    /// The configuration version the proxy last ACKed, by xDS type (SDS, CDS, EDS, LDS, RDS).
    pub versions: Vec<(String, String)>,
    /// The SPIFFE identity in its certificate.
    #[serde(default)]
    pub identity: String,
    /// When its certificate was issued and when it expires (RFC 3339), and the root that
    /// signed it.
    #[serde(default)]
    pub cert_issued: String,
    #[serde(default)]
    pub cert_expires: String,
    #[serde(default)]
    pub cert_root: String,
    /// Tells this certificate from the one before it.
    #[serde(default)]
    pub cert_fingerprint: String,
    /// Why the proxy is sent no certificate: it did not prove the identity its node id claims.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CaReport {
    /// The root that signs workload certificates now.
    pub signing: String,
    /// Every root the proxies trust.
    pub trusted: Vec<String>,
    /// Where a root rotation under way stands.
    pub rotation: Option<crate::pki::Rotation>,
    /// Certificates issued before this moment (milliseconds since the Unix epoch) are being
    /// replaced: the last reissue asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reissue_before_unix_ms: Option<u64>,
}

impl ProxyReport {
    /// The configuration version the proxy last ACKed of xDS type `t`.
    pub fn version(&self, t: crate::translate::Type) -> Option<&str> {
        self.versions.iter().find(|(name, _)| name == t.short()).map(|(_, v)| v.as_str())
    }
}

/// Where the controller records what it saw, for the CLI to read; `registry` adds what only
/// its backend knows.
pub trait StatusSink<R: ?Sized>: Send {
    fn record(&mut self, report: &Arc<Report>, registry: &R);

    /// The controller has stopped, and shut the registry down.
    fn stopped(&mut self) {}
}

/// Whether this replica leads: only the leader drives canaries. A controller that runs alone
/// (the local mesh's) always leads.
pub type Leading = watch::Receiver<bool>;

/// How the loop paces itself.
#[derive(Clone, Copy, Debug)]
pub struct Pacing {
    /// How long workload certificates live.
    pub cert_lifetime: Duration,
    /// How long to go on serving once asked to stop. A replica on a cluster leaves its
    /// Services' endpoints as its Pod starts terminating, but kube-proxy takes a moment to stop
    /// sending it connections (the API server's webhook calls, new proxy streams): refused,
    /// they would fail Pod creation in injected namespaces.
    pub termination_drain: Duration,
}

/// What the loop works with, whichever backend feeds it.
pub struct Plane {
    pub store: Arc<dyn Store>,
    pub ca: pki::Authority,
    /// The ADS server, serving what `desired` holds.
    pub server: xds::Server,
    pub desired: watch::Sender<Desired>,
    pub pacing: Pacing,
    pub leading: Leading,
    /// Gives up leading when the replica is asked to stop, so that another leads at once
    /// rather than when this one's Lease runs out; none for a controller that runs alone.
    pub resign: Option<Box<dyn FnOnce() + Send>>,
    /// How the proxies trace requests, and the collector their spans go to.
    pub tracing: Tracing,
    pub outbound_policy: OutboundPolicy,
    pub collector: Collector,
    /// How the leader carries out certificate rotations.
    pub rotations: Rotations,
    /// Told when the CA may have changed where it is kept, so the loop reads it again at once.
    pub ca_changed: Arc<tokio::sync::Notify>,
}

/// Where the CA's material is kept, and who tells the leader what every proxy runs.
pub struct Rotations {
    pub keeper: Arc<dyn pki::Keeper>,
    /// Every replica's reports; none for a controller that runs alone, whose own report says it.
    pub replicas: Option<Arc<dyn rotation::Observer>>,
}

/// Runs the loop until SIGTERM or Ctrl-C, then shuts the registry down.
pub async fn reconcile_until_stopped<R: Registry, S: StatusSink<R>>(
    plane: Plane,
    backend: &mut R,
    sink: &mut S,
) -> anyhow::Result<()> {
    let Plane {
        store,
        mut ca,
        server,
        desired: desired_tx,
        pacing,
        leading,
        mut resign,
        tracing,
        outbound_policy,
        collector,
        rotations,
        ca_changed,
    } = plane;
    let server = &server;
    let mut certificates = Certificates::default();
    let mut reconciled = None;
    let mut translated: Option<Revision> = None;
    // What each service's shared part was built from and came to, for the next translation.
    let mut carried = Carried::default();
    let mut routed: Arc<BTreeMap<String, usize>> = Arc::default();
    let (targets_tx, targets) = watch::channel(Arc::from([]));
    let (problems, mut canary_problems) = watch::channel(Vec::new());
    // The store revision every proxy connected to this replica runs, for the canary driver to
    // tell when a rollout's outcome reached the traffic.
    let (running_tx, running) = watch::channel(Revision::default());
    let (report_tx, reports) = watch::channel(Arc::new(Report::default()));
    let observer = rotations.replicas.unwrap_or_else(|| Arc::new(reports));
    // What the loop decoded, for the tasks beside it: one decoding of the store per change.
    let (decoded_tx, decoded) = watch::channel((Revision::default(), Arc::new(Vec::new())));
    let decoded = Decoded(decoded);
    rotation::spawn(store.clone(), decoded.clone(), rotations.keeper, observer, ca_changed.clone(), leading.clone());
    spawn_canaries(store.clone(), decoded, targets, problems, running, leading.clone());
    // Shared with the status task: every ACK's pass compares it with what that task holds.
    let mut service_ports: Arc<route_status::ServicePorts> = Arc::default();
    let (judging_tx, judging) = watch::channel(None);
    let (problems, mut status_problems) = watch::channel(Vec::new());
    spawn_statuses(store.clone(), judging, problems, leading.clone());
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let store_changed = Arc::new(tokio::sync::Notify::new());
    let notify = store_changed.clone();
    store.watch(Box::new(move || notify.notify_one()))?;
    let mut report = Arc::new(Report::default());
    let mut decoded: Option<(Revision, Arc<Vec<Resource>>, Vec<String>)> = None;
    let mut decoder = crate::store::Decoder::default();
    let mut store_moved = true;
    let mut leaving: Option<tokio::time::Instant> = None;
    loop {
        let drained = async {
            match leaving {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        // A certificate falls due on the clock, not on an event.
        let renewal = crate::api::time::sleep_until(certificates.next_due());
        let stop = tokio::select! {
            _ = renewal => false,
            _ = store_changed.notified() => {
                store_moved = true;
                false
            }
            _ = ca_changed.notified() => false,
            _ = server.status_changed() => false,
            _ = backend.changed() => false,
            // The tasks beside the loop follow the leadership themselves; their problems go
            // into the report.
            Ok(()) = canary_problems.changed() => false,
            Ok(()) = status_problems.changed() => false,
            _ = terminate.recv(), if leaving.is_none() => true,
            _ = tokio::signal::ctrl_c(), if leaving.is_none() => true,
            _ = drained => break,
        };
        if stop {
            if let Some(resign) = resign.take() {
                resign();
            }
            if pacing.termination_drain.is_zero() {
                break;
            }
            tracing::info!(
                "stopping: leading no more, serving on for {:?} while the cluster stops sending here",
                pacing.termination_drain
            );
            leaving = Some(tokio::time::Instant::now() + pacing.termination_drain);
        }
        let mut errors = Vec::new();
        // The store is read when its watch says it changed: a pass for an ACK, a registry
        // change or a certificate works from the objects the last pass decoded.
        if store_moved || decoded.is_none() {
            store_moved = false;
            let contents = match store.contents().await {
                Ok(c) => c,
                Err(e) => {
                    store_moved = true;
                    Arc::make_mut(&mut report).errors = vec![e.to_string()];
                    sink.record(&report, backend);
                    continue;
                }
            };
            if decoded.as_ref().is_none_or(|(revision, _, _)| *revision != contents.revision) {
                let (mut resources, mut unreadable) = (Vec::new(), Vec::new());
                for r in decoder.resources(&contents) {
                    r.map_or_else(|e| unreadable.push(e), |r| resources.push(r));
                }
                let resources = Arc::new(resources);
                decoded_tx.send_replace((contents.revision.clone(), resources.clone()));
                decoded = Some((contents.revision, resources, unreadable));
            }
        }
        let (revision, resources, unreadable) = decoded.as_ref().expect("decoded by now");
        let (revision, resources) = (revision.clone(), resources.clone());
        errors.extend(unreadable.iter().cloned());
        if reconciled.as_ref() != Some(&revision) {
            match backend.reconcile(&resources) {
                Err(e) => errors.push(e),
                Ok(()) => reconciled = Some(revision.clone()),
            }
        }
        let moved = backend.tick(&|node: &str| server.sync_state(node)).await;
        let identities = backend.identities();
        // Only the proxies connected to this replica are configured and given certificates, as
        // istiod does: a mesh of thousands of Pods costs what its connected proxies cost, and a
        // proxy that connects is configured on the pass its connection makes.
        let connected = server.connected();
        let serving: Vec<(String, Identity)> =
            identities.iter().filter(|(node, _)| connected.contains(node)).cloned().collect();

        let pki_changed = ca.reload().unwrap_or_else(|e| {
            errors.push(format!("certificate authority: {e}"));
            false
        });
        let renewed = certificates.renew(&ca, &serving, pacing.cert_lifetime, &mut errors);

        // What the proxies should run depends only on the store, the registry (which changes
        // when the store does, or when an address moves) and the certificates: translate when
        // one of them moved. A proxy that only connected, or only got a certificate, is
        // translated alone; the others keep what they were built.
        let registry_moved = translated.as_ref() != Some(&revision) || moved;
        let everyone = registry_moved || pki_changed;
        let configured = desired_tx.borrow().clone();
        let unchanged = |node: &str| !everyone && !renewed.contains(node) && configured.contains_key(node);
        if everyone || serving.iter().any(|(node, _)| !unchanged(node)) || configured.len() != serving.len() {
            let services = backend.services();
            routed =
                Arc::new(services.iter().map(|s| (format!("{}/{}", s.namespace, s.name), s.instances.len())).collect());
            service_ports = Arc::new(route_status::service_ports(&services));
            let mut snapshot = MeshSnapshot::new(services, resources.iter());
            snapshot.environment = backend.environment();
            snapshot.tracing = tracing;
            snapshot.outbound_policy = outbound_policy;
            let translation = Translation::carrying(&snapshot, &mut carried);
            let credentials =
                |node: &str| connected.contains(node).then(|| certificates.credentials(node, ca.trust_bundle()));
            let desired: HashMap<String, Arc<Resources>> = backend
                .proxies(&credentials)
                .iter()
                .map(|p| {
                    let node = p.node_id();
                    let resources = match configured.get(node) {
                        Some(built) if unchanged(node) => built.clone(),
                        _ => Arc::new(translation.proxy(p)),
                    };
                    (node.to_string(), resources)
                })
                .collect();
            let desired = Arc::new(desired);
            if *desired_tx.borrow() != desired {
                tracing::info!(
                    revision = %revision,
                    proxies = desired.len(),
                    "new configuration for the proxies"
                );
                desired_tx.send_replace(desired);
            }
            translated = Some(revision.clone());
        }

        // The routes' and Gateways' status follows from the stored objects, the environment and
        // the services' ports: judged beside the loop when one of them moved.
        let environment = backend.environment();
        judging_tx.send_if_modified(|held| {
            // Compared before anything is copied: every ACK makes a pass, and a thousand
            // services' ports are a thousand names.
            let same = held.as_ref().is_some_and(|held| {
                held.revision == revision && held.environment == environment && held.service_ports == service_ports
            });
            if !same {
                let (revision, resources, service_ports) = (revision.clone(), resources.clone(), service_ports.clone());
                *held = Some(Judging { revision, resources, environment, service_ports });
            }
            !same
        });

        // Not on every ACK: a mesh of thousands of Pods has thousands of targets (a registry
        // keeps them while its proxies stay the same, which a comparison finds by pointer).
        if registry_moved && targets_tx.send_changed(backend.scrape_targets()) {
            collector.know(&targets_tx.borrow());
        }
        errors.extend(canary_problems.borrow().iter().cloned());
        errors.extend(status_problems.borrow().iter().cloned());
        errors.extend(backend.problems());
        // Shared, not copied, with the sink and the tasks: at thousands of Pods a report is
        // thousands of entries, and every ACK makes one.
        report = Arc::new(Report {
            revision: revision.clone(),
            routed: routed.clone(),
            proxies: proxy_reports(server, &identities, &certificates),
            ca: CaReport {
                signing: ca.state().signing.clone(),
                trusted: ca.state().trusted.clone(),
                rotation: ca.rotation(),
                reissue_before_unix_ms: ca.state().reissue_before_unix_ms,
            },
            errors,
        });
        // A replica vouches for the proxies connected to it; one connected to another replica
        // (or to none, whose configuration nobody can change) is Disconnected here.
        let connected = report.proxies.iter().filter(|p| p.sync != SyncState::Disconnected);
        let runs = connected.clone().all(|p| p.sync == SyncState::Synced) && connected.count() > 0;
        if translated.as_ref() == Some(&revision) && runs {
            running_tx.send_if_modified(|running| {
                let newer = !running.holds(&revision);
                *running = running.join(&revision);
                newer
            });
        }
        sink.record(&report, backend);
        report_tx.send_replace(report.clone());
    }
    backend.shut_down();
    sink.stopped();
    Ok(())
}

/// The stored objects as the loop last decoded them, with the revision they were read at: what
/// the tasks beside the loop judge from, rather than each decoding the whole store on its own
/// timer.
#[derive(Clone)]
pub struct Decoded(watch::Receiver<(Revision, Arc<Vec<Resource>>)>);

impl Decoded {
    /// The objects and the revision they were read at, once they hold every write made through
    /// `store`'s handle; none while they lag it. A task that judged from a reading older than
    /// its own last write would take the same step twice.
    pub fn holding_writes_of(&self, store: &dyn Store) -> Option<(Revision, Arc<Vec<Resource>>)> {
        let (revision, resources) = self.0.borrow().clone();
        revision.holds(&store.written()).then_some((revision, resources))
    }
}

/// What the routes' and Gateways' status is judged from; the resources are those read at the
/// revision.
#[derive(Clone)]
struct Judging {
    revision: Revision,
    resources: Arc<Vec<Resource>>,
    environment: crate::ingress::Environment,
    service_ports: Arc<route_status::ServicePorts>,
}

impl Judging {
    /// Writes the status of each route and Gateway whose status it changes; why any could not
    /// be written.
    async fn write(&self, store: &dyn Store) -> Vec<String> {
        let now = k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now());
        let ingress = crate::ingress::Ingress::new(self.resources.iter(), &self.environment);
        // A route may name a Service the cluster has that is not in the mesh (yet): the
        // reference resolves.
        let mut known = route_status::ServicePorts::clone(&self.service_ports);
        for (host, ports) in &self.environment.services {
            known.entry(host.clone()).or_default().extend(ports);
        }
        let routes = route_status::changed(&self.resources, &ingress, &known, now.clone())
            .into_iter()
            .map(|(object, status)| (object, serde_json::to_value(&status).expect("a route status serializes")));
        let gateways = gateway_status::changed(&self.resources, &ingress, &self.environment, &now);
        let mut errors = Vec::new();
        for (object, status) in gateways.into_iter().chain(routes) {
            if let Err(e) = store.set_status(&object, status).await {
                errors.push(format!("the status of {} {}/{}: {e}", object.kind.name(), object.namespace, object.name));
            }
        }
        errors
    }
}

/// How long after a status could not be written it is tried again.
const STATUS_RETRY: Duration = Duration::from_secs(1);

/// Writes the routes' and Gateways' status beside the loop, as the leader, when what they are
/// judged from moves: the loop must not wait on the API server's answers (and a thousand
/// routes' judging) to report an ACK. A new leader judges anew; a status that could not be
/// written is tried again, and why it could not goes into the report meanwhile.
fn spawn_statuses(
    store: Arc<dyn Store>,
    mut judging: watch::Receiver<Option<Judging>>,
    problems: watch::Sender<Vec<String>>,
    mut leading: Leading,
) {
    tokio::spawn(async move {
        // Whether the inputs moved since they were last judged, and whether that failed.
        let (mut moved, mut failed) = (true, false);
        loop {
            if !*leading.borrow_and_update() {
                (moved, failed) = (true, false);
                problems.send_changed(Vec::new());
            } else if moved || failed {
                let inputs = judging.borrow_and_update().clone();
                if let Some(inputs) = inputs {
                    let errors = inputs.write(store.as_ref()).await;
                    (moved, failed) = (false, !errors.is_empty());
                    problems.send_changed(errors);
                }
            }
            tokio::select! {
                Ok(()) = judging.changed() => moved = true,
                Ok(()) = leading.changed() => {}
                _ = tokio::time::sleep(STATUS_RETRY), if failed => {}
                else => break,
            }
        }
    });
}

/// Canary rollouts are judged once a second.
const CANARY_EVERY: Duration = Duration::from_secs(1);

/// Runs the canary driver beside the controller's loop, which must not wait on its scrapes
/// (up to a second) to report an ACK. The loop hands it the stored objects as it decoded them
/// and the proxies to scrape, and reports its problems.
fn spawn_canaries(
    store: Arc<dyn Store>,
    decoded: Decoded,
    targets: watch::Receiver<Arc<[Target]>>,
    problems: watch::Sender<Vec<String>>,
    running: watch::Receiver<Revision>,
    leading: Leading,
) {
    tokio::spawn(async move {
        let mut driver = crate::canary::Driver::default();
        let mut every = tokio::time::interval(CANARY_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            if !*leading.borrow() {
                // A follower measures nothing: a new leader judges from its own first look, as
                // after a restart, and goes on from the step the status records.
                driver = crate::canary::Driver::default();
                problems.send_changed(Vec::new());
                continue;
            }
            let Some((read, resources)) = decoded.holding_writes_of(store.as_ref()) else { continue };
            let proxies = targets.borrow().clone();
            // The proxies run everything the driver reads.
            let current = running.borrow().holds(&read);
            // Told only when they change: each telling wakes the loop.
            problems.send_changed(driver.tick(store.as_ref(), &resources, &proxies, current).await);
        }
    });
}

fn proxy_reports(
    server: &xds::Server,
    proxies: &[(String, Identity)],
    certificates: &Certificates,
) -> Vec<ProxyReport> {
    let all = server.status();
    proxies
        .iter()
        .map(|(node, _)| {
            let status = all.get(node);
            let versions = status
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
                refused: status.and_then(|s| s.refused.clone()),
                node_id: node.clone(),
            }
        })
        .collect()
}

/// Every proxy's current certificate, by node id; issued in memory, never written down.
#[derive(Default)]
struct Certificates {
    leaves: HashMap<String, (Identity, pki::Leaf)>,
    /// When to try again to issue what could not be issued.
    retry_at: Option<SystemTime>,
    /// The proxies and the authority the last renewal looked at: while both stay as they were,
    /// no certificate needs replacing before `next_due`, and a pass (every ACK makes one)
    /// does not look at thousands of them again.
    looked_at: Option<(Vec<(String, Identity)>, pki::State)>,
    /// Why the last renewal could not issue, told on every pass until it can.
    failures: Vec<String>,
}

/// How long after a certificate could not be issued it is tried again.
const ISSUE_RETRY: Duration = Duration::from_secs(1);

impl Certificates {
    /// Issues a certificate to every proxy that has none, or one that must be replaced, and
    /// forgets proxies that are gone. Returns the proxies whose certificate changed.
    fn renew(
        &mut self,
        ca: &pki::Authority,
        proxies: &[(String, Identity)],
        lifetime: Duration,
        errors: &mut Vec<String>,
    ) -> HashSet<String> {
        let now = SystemTime::now();
        let mut changed = HashSet::new();
        let unchanged = self.looked_at.as_ref().is_some_and(|(p, state)| p == proxies && state == ca.state());
        if unchanged && self.next_due().is_none_or(|due| now < due) {
            errors.extend(self.failures.iter().cloned());
            return changed;
        }
        self.looked_at = Some((proxies.to_vec(), ca.state().clone()));
        self.retry_at = None;
        self.failures.clear();
        let present: HashSet<&str> = proxies.iter().map(|(node, _)| node.as_str()).collect();
        self.leaves.retain(|node, _| present.contains(node.as_str()));
        for (node, identity) in proxies {
            let current = self.leaves.get(node).filter(|(id, leaf)| id == identity && !ca.must_reissue(leaf, now));
            if current.is_some() {
                continue;
            }
            match ca.issue(identity, lifetime) {
                Ok(leaf) => {
                    self.leaves.insert(node.clone(), (identity.clone(), leaf));
                    changed.insert(node.clone());
                }
                Err(e) => {
                    self.failures.push(format!("{node}: cannot issue a certificate: {e}"));
                    self.retry_at = Some(now + ISSUE_RETRY);
                }
            }
        }
        errors.extend(self.failures.iter().cloned());
        changed
    }

    /// When to issue next: when the first certificate must be renewed, or, after one could not
    /// be issued (a renewal overdue among them), a moment later; none without certificates.
    fn next_due(&self) -> Option<SystemTime> {
        self.retry_at.or_else(|| self.leaves.values().map(|(_, leaf)| leaf.renew_at()).min())
    }

    fn credentials(&self, node: &str, trust_bundle: &str) -> Credentials {
        let leaf = self.leaves.get(node).map(|(_, leaf)| leaf);
        Credentials {
            cert_chain: leaf.map(|l| l.cert_pem.clone()).unwrap_or_default(),
            private_key: leaf.map(|l| l.key_pem.clone()).unwrap_or_default(),
            trust_bundle: trust_bundle.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificates_are_looked_at_again_when_due_or_soon_after_one_could_not_be_issued() {
        let dir = tempfile::tempdir().unwrap();
        let ca = pki::Authority::open(dir.path()).unwrap();
        let lifetime = Duration::from_secs(3600);
        let mut certificates = Certificates::default();
        assert_eq!(certificates.next_due(), None, "nothing to renew, nothing to wait for");

        let good = ("a".to_string(), Identity::new("shop", "a"));
        let (mut errors, start) = (Vec::new(), SystemTime::now());
        assert!(certificates.renew(&ca, std::slice::from_ref(&good), lifetime, &mut errors).contains("a"));
        assert!(errors.is_empty(), "{errors:?}");
        let due = certificates.next_due().unwrap();
        assert!(due > start + lifetime / 3 && due < start + lifetime, "renewed at half-life, not {due:?}");

        // A URI a certificate cannot carry: issuing fails, and is tried again in a moment, not
        // at once (the loop would spin) nor at the next half-life (the proxy would wait).
        let bad = ("b".to_string(), Identity::new("shop", "sä"));
        assert!(certificates.renew(&ca, &[good.clone(), bad.clone()], lifetime, &mut errors).is_empty());
        assert_eq!(errors.len(), 1, "{errors:?}");
        let retry = certificates.next_due().unwrap().duration_since(SystemTime::now()).unwrap();
        assert!(retry <= ISSUE_RETRY && retry > Duration::ZERO, "{retry:?}");

        // Until then, a pass issues nothing and still tells why.
        let mut again = Vec::new();
        assert!(certificates.renew(&ca, &[good.clone(), bad], lifetime, &mut again).is_empty());
        assert_eq!(again, errors);

        assert!(certificates.renew(&ca, std::slice::from_ref(&good), lifetime, &mut Vec::new()).is_empty());
        assert_eq!(certificates.next_due(), Some(due));
    }

    #[test]
    fn certificates_not_due_are_replaced_when_the_authority_asks_for_it() {
        let kept = pki::Kept::new(pki::make_root().unwrap());
        let ca = pki::Authority::from_kept(&kept).unwrap();
        let lifetime = Duration::from_secs(3600);
        let mut certificates = Certificates::default();
        let proxies = [("a".to_string(), Identity::new("shop", "a"))];
        assert!(certificates.renew(&ca, &proxies, lifetime, &mut Vec::new()).contains("a"));
        assert!(certificates.renew(&ca, &proxies, lifetime, &mut Vec::new()).is_empty(), "nothing is due");
        let first = certificates.leaves["a"].1.fingerprint.clone();

        // `meshctl mtls rotate`: every certificate issued before the request is issued again
        // (a second ahead, so that the first cannot fall in the request's millisecond).
        let asked = kept.reissue_before(SystemTime::now() + Duration::from_secs(1));
        let asked = pki::Authority::from_kept(&asked).unwrap();
        assert!(certificates.renew(&asked, &proxies, lifetime, &mut Vec::new()).contains("a"));
        assert_ne!(certificates.leaves["a"].1.fingerprint, first);
        assert!(certificates.renew(&asked, &proxies, lifetime, &mut Vec::new()).is_empty());
    }
}
