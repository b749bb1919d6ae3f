//! The local supervisor: every replica of every Workload becomes two processes, the
//! application and its Envoy sidecar, each on ports of its own; the ingress gateway is one more
//! Envoy, and so is each Gateway API Gateway meshctl serves, whose listeners bind 127.0.0.1 at
//! the Gateway's own ports. Crashed processes are restarted with backoff. What runs where is
//! recorded in [`InstanceStatus`] and [`GatewayStatus`], which a restarted controller uses to
//! adopt the processes its predecessor left running instead of restarting them.
//!
//! Ports come from one [`PortAllocator`] per mesh, so no two parts share one. A part that
//! finds its port taken by some other process anyway is moved to a new port: an application
//! or a sidecar that exits (an Envoy cannot start without its admin port) before it restarts,
//! a sidecar listener that Envoy could not bind while that Envoy runs on.

pub mod controller;
pub mod ports;
pub mod process;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::api::Identity;
use crate::api::meshctl::{Workload, WorkloadPort};
use crate::translate::{self, Credentials, InboundPort, Instance, Proxy, Service, ServicePort, Sidecar};
use ports::{PortAllocator, held_elsewhere};
use process::{Launch, Process};

/// The ports of one instance, all on 127.0.0.1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ports {
    /// Each of the workload's ports, in its order.
    pub served: Vec<ServedPort>,
    /// The sidecar's outbound listener (the application's `HTTP_PROXY`).
    pub outbound: u16,
    pub admin: u16,
}

/// One port of a workload, as one instance serves it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServedPort {
    /// Where the application listens (its `PORT_NAME`).
    pub app: u16,
    /// The sidecar's inbound listener for it: the instance's address in the mesh.
    pub inbound: u16,
}

impl Ports {
    /// New ports for an instance serving `count` ports, or none: the ones taken before a
    /// failure are given back.
    fn allocate(ports: &mut PortAllocator, count: usize) -> std::io::Result<Ports> {
        let mut taken = Vec::new();
        for _ in 0..2 + 2 * count {
            match ports.take() {
                Ok(port) => taken.push(port),
                Err(e) => {
                    taken.into_iter().for_each(|p| ports.release(p));
                    return Err(e);
                }
            }
        }
        let served = taken[2..].chunks(2).map(|pair| ServedPort { app: pair[0], inbound: pair[1] }).collect();
        Ok(Ports { served, outbound: taken[0], admin: taken[1] })
    }

    fn all(&self) -> Vec<u16> {
        let served = self.served.iter().flat_map(|s| [s.app, s.inbound]);
        [self.outbound, self.admin].into_iter().chain(served).collect()
    }
}

fn localhost(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// One replica of a workload as it should run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InstanceSpec {
    pub workload: String,
    pub namespace: String,
    pub replica: u32,
    pub service: String,
    pub ports: Vec<WorkloadPort>,
    pub labels: BTreeMap<String, String>,
    /// The identity its sidecar presents (`spiffe://…/ns/NAMESPACE/sa/SERVICE_ACCOUNT`).
    #[serde(default)]
    pub service_account: String,
    pub app: Launch,
}

impl InstanceSpec {
    /// The sidecar's node id: unique per replica.
    pub fn node_id(&self) -> String {
        format!("{}-{}.{}", self.workload, self.replica, self.namespace)
    }
}

/// What the controller records about each instance (and reads back after a restart).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InstanceStatus {
    pub node_id: String,
    pub spec: InstanceSpec,
    pub ports: Ports,
    pub app_pid: Option<u32>,
    pub sidecar_pid: Option<u32>,
    pub restarts: u32,
    pub last_error: Option<String>,
}

/// What the controller records about the Envoy of a Gateway API Gateway (and reads back after a
/// restart).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GatewayStatus {
    pub node_id: String,
    pub namespace: String,
    pub name: String,
    pub admin: u16,
    /// The ports of the Gateway's listeners.
    pub ports: BTreeSet<u16>,
    pub pid: Option<u32>,
    pub last_error: Option<String>,
}

/// A Gateway API Gateway meshctl serves, as its Envoy should run: the Gateway (namespace,
/// name) and the ports of its listeners.
pub type GatewaySpec = ((String, String), BTreeSet<u16>);

/// The node id of the Envoy that serves the Gateway API's Gateway `name` in `namespace`.
pub fn gateway_node(namespace: &str, name: &str) -> String {
    format!("gw-{name}.{namespace}")
}

struct RunningGateway {
    admin: u16,
    ports: BTreeSet<u16>,
    envoy: Process,
}

struct Running {
    spec: InstanceSpec,
    ports: Ports,
    app: Process,
    sidecar: Process,
}

/// Where the supervisor finds its tools and puts its files.
#[derive(Clone, Debug)]
pub struct Settings {
    pub state_dir: PathBuf,
    pub envoy: PathBuf,
    /// The program a Workload command of `meshctl` runs: this binary.
    pub meshctl: PathBuf,
    pub xds: SocketAddr,
    /// Where the proxies report spans.
    pub collector: SocketAddr,
    pub gateway: SocketAddr,
    pub gateway_admin: u16,
}

pub struct Supervisor {
    settings: Settings,
    /// Every port of the mesh: the settings' ones and every instance's.
    ports: PortAllocator,
    instances: BTreeMap<String, Running>,
    gateway: Process,
    /// The Gateway API's Gateways' Envoys, by the Gateway's namespace and name.
    gateways: BTreeMap<(String, String), RunningGateway>,
}

/// The node id of the ingress gateway.
pub const GATEWAY_NODE: &str = "gateway";

/// How long a process is given to exit after SIGTERM before it is killed.
const GRACE: Duration = Duration::from_secs(3);

/// Where a local mesh at `state_dir` keeps its processes' logs, the controller's among them.
pub fn logs_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("logs")
}

impl Supervisor {
    /// Starts the gateway, or adopts the one `previous` recorded. `ports` holds the ports in
    /// `settings` already.
    pub fn new(settings: Settings, ports: PortAllocator, previous_gateway_pid: Option<u32>) -> std::io::Result<Self> {
        for dir in ["logs", "proxies"] {
            std::fs::create_dir_all(settings.state_dir.join(dir))?;
        }
        let launch = gateway_launch(&settings, GATEWAY_NODE, settings.gateway_admin)?;
        let gateway = match previous_gateway_pid.and_then(|pid| Process::adopt(launch.clone(), pid)) {
            Some(p) => p,
            None => Process::start(launch),
        };
        Ok(Supervisor { settings, ports, instances: BTreeMap::new(), gateway, gateways: BTreeMap::new() })
    }

    pub fn gateway_pid(&self) -> Option<u32> {
        self.gateway.pid()
    }

    /// Why the gateway is down, when it is.
    pub fn gateway_error(&self) -> Option<&str> {
        if self.gateway.running() { None } else { self.gateway.last_error.as_deref() }
    }

    /// Makes the running instances match `workloads`: starts new replicas, stops removed ones,
    /// restarts those whose launch changed. `previous` lets it adopt what an earlier
    /// controller left running.
    pub fn reconcile(&mut self, workloads: &[Workload], previous: &[InstanceStatus]) -> std::io::Result<()> {
        let wanted: BTreeMap<String, InstanceSpec> =
            workloads.iter().flat_map(|w| self.specs(w)).map(|s| (s.node_id(), s)).collect();
        let gone: Vec<String> = self.instances.keys().filter(|k| !wanted.contains_key(*k)).cloned().collect();
        for node in gone {
            if let Some(mut r) = self.instances.remove(&node) {
                r.app.stop(GRACE);
                r.sidecar.stop(GRACE);
                r.ports.all().into_iter().for_each(|p| self.ports.release(p));
            }
        }
        let mut new = Vec::new();
        for (node, spec) in wanted {
            if let Some(running) = self.instances.get_mut(&node) {
                if running.spec == spec {
                    continue;
                }
                if running.spec.ports != spec.ports {
                    // Its listeners change: a new instance, with new ports.
                    let mut gone = self.instances.remove(&node).expect("the instance is running");
                    gone.app.stop(GRACE);
                    gone.sidecar.stop(GRACE);
                    gone.ports.all().into_iter().for_each(|p| self.ports.release(p));
                    new.push((node, spec));
                    continue;
                }
                if running.spec.app != spec.app {
                    running.app.stop(GRACE);
                    running.app = Process::start(with_ports(&spec, &running.ports, self.settings.gateway));
                }
                running.spec = spec;
                continue;
            }
            let adopted = previous.iter().find(|p| p.node_id == node && p.spec == spec).and_then(|p| {
                let app = Process::adopt(with_ports(&spec, &p.ports, self.settings.gateway), p.app_pid?)?;
                let sidecar = Process::adopt(sidecar_launch(&self.settings, &spec, &p.ports).ok()?, p.sidecar_pid?)?;
                Some(Running { spec: spec.clone(), ports: p.ports.clone(), app, sidecar })
            });
            match adopted {
                Some(r) => {
                    r.ports.all().into_iter().for_each(|p| self.ports.hold(p));
                    self.instances.insert(node, r);
                }
                None => new.push((node, spec)),
            }
        }
        // What an earlier controller left and this one does not take over (its workload went
        // or changed while no controller ran) would run on beside its replacement.
        for p in previous {
            if self.instances.get(&p.node_id).is_none_or(|r| r.app.pid() != p.app_pid) {
                [p.app_pid, p.sidecar_pid].into_iter().flatten().for_each(|pid| process::stop_left(pid, GRACE));
            }
        }
        // New instances get their ports once every adopted instance's are held. One that
        // cannot start gives its ports back and keeps the others from nothing.
        let mut failed = Vec::new();
        for (node, spec) in new {
            let ports = match Ports::allocate(&mut self.ports, spec.ports.len()) {
                Ok(ports) => ports,
                Err(e) => {
                    failed.push(format!("{node}: {e}"));
                    continue;
                }
            };
            match sidecar_launch(&self.settings, &spec, &ports) {
                Ok(launch) => {
                    let sidecar = Process::start(launch);
                    let app = Process::start(with_ports(&spec, &ports, self.settings.gateway));
                    self.instances.insert(node, Running { spec, ports, app, sidecar });
                }
                Err(e) => {
                    ports.all().into_iter().for_each(|p| self.ports.release(p));
                    failed.push(format!("{node}: {e}"));
                }
            }
        }
        if failed.is_empty() { Ok(()) } else { Err(std::io::Error::other(failed.join("; "))) }
    }

    /// Makes the Gateways' Envoys match `wanted`: starts one for each new Gateway (or adopts
    /// the one `previous` recorded), stops those of Gateways gone, even while no controller ran.
    /// A Gateway whose listeners change keeps its Envoy, which takes them over xDS.
    pub fn reconcile_gateways(&mut self, wanted: &[GatewaySpec], previous: &[GatewayStatus]) -> std::io::Result<()> {
        let wanted: BTreeMap<&(String, String), &BTreeSet<u16>> = wanted.iter().map(|(g, p)| (g, p)).collect();
        for left in previous.iter().filter(|p| !wanted.contains_key(&(p.namespace.clone(), p.name.clone()))) {
            left.pid.into_iter().for_each(|pid| process::stop_left(pid, GRACE));
        }
        let gone: Vec<(String, String)> = self.gateways.keys().filter(|g| !wanted.contains_key(g)).cloned().collect();
        for gateway in gone {
            if let Some(mut g) = self.gateways.remove(&gateway) {
                g.envoy.stop(GRACE);
                [g.admin].iter().chain(&g.ports).for_each(|p| self.ports.release(*p));
            }
        }
        let mut failed = Vec::new();
        for (gateway @ (namespace, name), ports) in wanted {
            if let Some(running) = self.gateways.get_mut(gateway) {
                running.ports.difference(ports).for_each(|p| self.ports.release(*p));
                ports.iter().for_each(|p| self.ports.hold(*p));
                running.ports = ports.clone();
                continue;
            }
            let node = gateway_node(namespace, name);
            let recorded = previous.iter().find(|p| p.namespace == *namespace && p.name == *name);
            let adopted = recorded.and_then(|p| {
                let launch = gateway_launch(&self.settings, &node, p.admin).ok()?;
                Some((p.admin, Process::adopt(launch, p.pid?)?))
            });
            let started = match adopted {
                Some((admin, envoy)) => {
                    self.ports.hold(admin);
                    Ok((admin, envoy))
                }
                None => self.start_gateway(&node),
            };
            let (admin, envoy) = match started {
                Ok(started) => started,
                Err(e) => {
                    failed.push(format!("{node}: {e}"));
                    continue;
                }
            };
            ports.iter().for_each(|p| self.ports.hold(*p));
            self.gateways.insert(gateway.clone(), RunningGateway { admin, ports: ports.clone(), envoy });
        }
        if failed.is_empty() { Ok(()) } else { Err(std::io::Error::other(failed.join("; "))) }
    }

    /// Starts the Envoy of a Gateway on an admin port of its own, given back if it cannot.
    fn start_gateway(&mut self, node: &str) -> std::io::Result<(u16, Process)> {
        let admin = self.ports.take()?;
        match gateway_launch(&self.settings, node, admin) {
            Ok(launch) => Ok((admin, Process::start(launch))),
            Err(e) => {
                self.ports.release(admin);
                Err(e)
            }
        }
    }

    pub fn gateway_status(&self) -> Vec<GatewayStatus> {
        self.gateways
            .iter()
            .map(|((namespace, name), g)| GatewayStatus {
                node_id: gateway_node(namespace, name),
                namespace: namespace.clone(),
                name: name.clone(),
                admin: g.admin,
                ports: g.ports.clone(),
                pid: g.envoy.pid(),
                last_error: (!g.envoy.running()).then(|| g.envoy.last_error.clone()).flatten(),
            })
            .collect()
    }

    fn specs(&self, w: &Workload) -> Vec<InstanceSpec> {
        let namespace = w.metadata.namespace.clone().unwrap_or_else(|| "default".into());
        let name = w.metadata.name.clone().unwrap_or_default();
        let program = match w.spec.command.first().map(String::as_str) {
            Some("meshctl") | None => self.settings.meshctl.clone(),
            Some(p) => PathBuf::from(p),
        };
        let mut args: Vec<String> = w.spec.command.iter().skip(1).cloned().collect();
        args.extend(w.spec.args.iter().cloned());
        (0..w.spec.replicas)
            .map(|replica| {
                let mut labels = w.spec.labels.clone();
                labels.entry(crate::api::APP_LABEL.into()).or_insert_with(|| w.spec.service.clone());
                let mut env: Vec<(String, String)> = vec![
                    ("MESHCTL_SERVICE".into(), w.spec.service.clone()),
                    ("MESHCTL_NAMESPACE".into(), namespace.clone()),
                    ("MESHCTL_WORKLOAD".into(), format!("{name}-{replica}")),
                    ("MESHCTL_VERSION".into(), labels.get("version").cloned().unwrap_or_default()),
                ];
                env.extend(w.spec.env.iter().map(|e| (e.name.clone(), e.value.clone())));
                let log = logs_dir(&self.settings.state_dir).join(format!("{name}-{replica}.{namespace}.log"));
                InstanceSpec {
                    workload: name.clone(),
                    namespace: namespace.clone(),
                    replica,
                    service: w.spec.service.clone(),
                    ports: w.spec.ports.clone(),
                    labels,
                    service_account: w.spec.service_account.clone().unwrap_or_else(|| w.spec.service.clone()),
                    app: Launch { program: program.clone(), args: args.clone(), env, log },
                }
            })
            .collect()
    }

    /// Restarts whatever exited; call it often. An application or a sidecar that exited while
    /// another process holds its port (the sidecar's admin port, which Envoy needs to start)
    /// restarts on a new one. Says whether a port moved: the mesh must be translated again.
    pub fn tick(&mut self) -> bool {
        self.gateway.tick();
        let mut moved = false;
        for ((namespace, name), g) in &mut self.gateways {
            if g.envoy.tick() && held_elsewhere(g.admin) {
                let node = gateway_node(namespace, name);
                let launch = relocate(&mut self.ports, &node, "admin", &mut g.admin)
                    .and_then(|()| gateway_launch(&self.settings, &node, g.admin).map_err(|e| e.to_string()));
                match launch {
                    Ok(launch) => (g.envoy.launch, moved) = (launch, true),
                    Err(e) => g.envoy.last_error = Some(e),
                }
            }
        }
        let gateway = self.settings.gateway;
        for (node, r) in &mut self.instances {
            if r.app.tick() {
                for served in &mut r.ports.served {
                    if !held_elsewhere(served.app) {
                        continue;
                    }
                    match relocate(&mut self.ports, node, "application", &mut served.app) {
                        Ok(()) => moved = true,
                        Err(e) => r.app.last_error = Some(e),
                    }
                }
                if moved {
                    r.app.launch = with_ports(&r.spec, &r.ports, gateway);
                }
            }
            if r.sidecar.tick() && held_elsewhere(r.ports.admin) {
                let launch = relocate(&mut self.ports, node, "admin", &mut r.ports.admin).and_then(|()| {
                    sidecar_launch(&self.settings, &r.spec, &r.ports)
                        .map_err(|e| format!("cannot write the bootstrap with admin port {}: {e}", r.ports.admin))
                });
                match launch {
                    Ok(launch) => (r.sidecar.launch, moved) = (launch, true),
                    Err(e) => r.sidecar.last_error = Some(e),
                }
            }
        }
        moved
    }

    /// Moves the sidecar listeners that another process keeps from binding to new ports.
    /// `behind(node)` says whether that proxy runs a configuration other than the one it
    /// should (it refused it, or has not taken it yet): only such a proxy can lack a listener.
    /// Says whether a port moved: the mesh must be translated again.
    pub async fn move_unbound_listeners(&mut self, behind: &(dyn Fn(&str) -> bool + Sync)) -> bool {
        let mut moved = false;
        for (node, r) in &mut self.instances {
            if !r.sidecar.running() || !behind(node) {
                continue;
            }
            // Held first, then not in this Envoy's list: a listener it had bound before the
            // probe is in the list, so what remains is held by someone else.
            let held = |port: u16| held_elsewhere(port).then_some(port);
            let listeners = std::iter::once(r.ports.outbound).chain(r.ports.served.iter().map(|s| s.inbound));
            let taken: Vec<u16> = listeners.filter_map(held).collect();
            if taken.is_empty() {
                continue;
            }
            let Some(bound) = ports::bound_by_envoy(localhost(r.ports.admin)).await else { continue };
            let inbound = r.ports.served.iter_mut().map(|s| ("inbound", &mut s.inbound));
            for (what, port) in std::iter::once(("outbound", &mut r.ports.outbound)).chain(inbound) {
                if taken.contains(port) && !bound.contains(port) {
                    moved |= relocate(&mut self.ports, node, what, port).is_ok();
                }
            }
        }
        moved
    }

    /// Stops every process, the gateways last.
    pub fn stop_all(&mut self) {
        for r in self.instances.values_mut() {
            r.app.stop(GRACE);
            r.sidecar.stop(GRACE);
        }
        for g in self.gateways.values_mut() {
            g.envoy.stop(GRACE);
        }
        self.gateway.stop(GRACE);
    }

    pub fn status(&self) -> Vec<InstanceStatus> {
        self.instances
            .iter()
            .map(|(node, r)| InstanceStatus {
                node_id: node.clone(),
                spec: r.spec.clone(),
                ports: r.ports.clone(),
                app_pid: r.app.pid(),
                sidecar_pid: r.sidecar.pid(),
                restarts: r.app.restarts + r.sidecar.restarts,
                // Why a process is down; once restarted, its last exit is history.
                last_error: [&r.app, &r.sidecar].iter().find(|p| !p.running()).and_then(|p| p.last_error.clone()),
            })
            .collect()
    }

    /// The mesh's services, with each instance at its sidecar's inbound addresses. A service's
    /// ports are its first workload's (by name).
    pub fn services(&self) -> Vec<Service> {
        let mut services: BTreeMap<(String, String), Service> = BTreeMap::new();
        for r in self.instances.values() {
            let s = &r.spec;
            let service = services.entry((s.namespace.clone(), s.service.clone())).or_insert_with(|| Service {
                name: s.service.clone(),
                namespace: s.namespace.clone(),
                ports: s.ports.iter().map(service_port).collect(),
                addresses: vec![],
                instances: vec![],
                origin: crate::translate::Origin::Registry,
                exported: Default::default(),
            });
            service.instances.push(Instance {
                ip: std::net::Ipv4Addr::LOCALHOST.into(),
                ports: s.ports.iter().zip(&r.ports.served).map(|(p, served)| (p.port as u16, served.inbound)).collect(),
                labels: s.labels.clone(),
                service_account: s.service_account.clone(),
            });
        }
        services.into_values().collect()
    }

    /// Every proxy of the local mesh, with the identity it runs as.
    pub fn identities(&self) -> Vec<(String, Identity)> {
        let mut all = vec![(GATEWAY_NODE.to_string(), Identity::gateway())];
        all.extend(self.gateways.keys().map(|(namespace, name)| (gateway_node(namespace, name), Identity::gateway())));
        all.extend(
            self.instances
                .iter()
                .map(|(node, r)| (node.clone(), Identity::new(&r.spec.namespace, &r.spec.service_account))),
        );
        all
    }

    /// The proxies `credentials` gives credentials for (by node id), each with them.
    pub fn proxies(&self, gateway_namespace: &str, credentials: &dyn Fn(&str) -> Option<Credentials>) -> Vec<Proxy> {
        let mut proxies = vec![Proxy::Gateway(translate::Gateway {
            serves: None,
            node_id: GATEWAY_NODE.into(),
            namespace: gateway_namespace.into(),
            listen: self.settings.gateway,
            labels: [crate::api::networking::INGRESS_GATEWAY_LABEL]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            credentials: Credentials::default(),
        })];
        proxies.extend(self.gateways.keys().map(|(namespace, name)| {
            let node_id = gateway_node(namespace, name);
            Proxy::Gateway(translate::Gateway {
                serves: Some((namespace.clone(), name.clone())),
                credentials: Credentials::default(),
                node_id,
                namespace: namespace.clone(),
                // Its listeners bind this address at the Gateway's ports.
                listen: localhost(0),
                labels: BTreeMap::new(),
            })
        }));
        proxies.extend(self.instances.iter().map(|(node, r)| {
            Proxy::Sidecar(Sidecar {
                node_id: node.clone(),
                service: r.spec.service.clone(),
                namespace: r.spec.namespace.clone(),
                ports: r
                    .spec
                    .ports
                    .iter()
                    .zip(&r.ports.served)
                    .map(|(port, served)| InboundPort {
                        service_port: service_port(port),
                        listen: localhost(served.inbound),
                        app: localhost(served.app),
                    })
                    .collect(),
                outbound: localhost(r.ports.outbound),
                capture: None,
                labels: r.spec.labels.clone(),
                credentials: Credentials::default(),
            })
        }));
        proxies.iter().filter_map(|p| p.credentialed(credentials)).collect()
    }
}

/// Moves `port`, which another process holds, to a new one; says in the log what it did, or
/// why it could not.
fn relocate(ports: &mut PortAllocator, node: &str, what: &str, port: &mut u16) -> Result<(), String> {
    let old = *port;
    let outcome = ports
        .replace(port)
        .map_err(|e| format!("{what} port {old} is held by another process, and no other port is free: {e}"));
    match &outcome {
        Ok(()) => tracing::warn!(node, "{what} port {old} is held by another process; moved to {port}"),
        Err(e) => tracing::error!(node, "{e}"),
    }
    outcome
}

fn service_port(port: &WorkloadPort) -> ServicePort {
    ServicePort { name: port.name.clone(), number: port.port as u16, protocol: port.protocol() }
}

fn gateway_launch(settings: &Settings, node: &str, admin: u16) -> std::io::Result<Launch> {
    envoy_launch(settings, node, "gateway", admin)
}

fn sidecar_launch(settings: &Settings, spec: &InstanceSpec, ports: &Ports) -> std::io::Result<Launch> {
    envoy_launch(settings, &spec.node_id(), &spec.service, ports.admin)
}

/// The application's launch with its ports in the environment (`PORT` its first, and
/// `PORT_NAME` each by name), and where traffic from outside the mesh enters it
/// (`MESH_GATEWAY`), for a load generator that plays such clients.
fn with_ports(spec: &InstanceSpec, ports: &Ports, gateway: SocketAddr) -> Launch {
    let mut launch = spec.app.clone();
    let outbound = format!("127.0.0.1:{}", ports.outbound);
    for (port, served) in spec.ports.iter().zip(&ports.served) {
        launch.env.push((port.variable(), served.app.to_string()));
    }
    launch.env.extend([
        ("PORT".to_string(), ports.served.first().map_or(0, |s| s.app).to_string()),
        ("MESH_OUTBOUND".to_string(), outbound.clone()),
        ("HTTP_PROXY".to_string(), format!("http://{outbound}")),
        ("MESH_GATEWAY".to_string(), gateway.to_string()),
    ]);
    launch
}

/// The launch of proxy `node` of `service`, its admin endpoint at `admin`, its bootstrap
/// written to the state directory.
fn envoy_launch(settings: &Settings, node: &str, service: &str, admin: u16) -> std::io::Result<Launch> {
    let control_plane = translate::ControlPlane::Local { xds: settings.xds, collector: settings.collector };
    let bootstrap = translate::bootstrap(localhost(admin), &control_plane);
    let path: PathBuf = settings.state_dir.join("proxies").join(format!("{node}.json"));
    write_file(&path, bootstrap.to_string().as_bytes())?;
    Ok(Launch {
        program: settings.envoy.clone(),
        args: translate::envoy_args(&["-c", &path.display().to_string(), "--concurrency", "1"], node, service),
        env: vec![],
        log: logs_dir(&settings.state_dir).join(format!("{node}.envoy.log")),
    })
}

fn write_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    crate::store::write_atomically(path, bytes).map_err(std::io::Error::other)
}
