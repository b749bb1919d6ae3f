//! The local mesh as a [`Mesh`]: the store and the CA's files in the state directory, the
//! controller's `status.json`, and the processes and ports it records on 127.0.0.1. Nothing
//! else in the CLI knows that these exist.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{GatewayView, InstanceView, Mesh, MeshError, MeshView};
use crate::api::Identity;
use crate::metrics::{ProxyStats, scrape};
use crate::observe::collector::TRACES_PATH;
use crate::observe::trace::{Query, Traces};
use crate::pki::probe::{self, ProbeTarget, TlsProbe};
use crate::pki::{self, PkiError};
use crate::runtime::controller::MeshStatus;
use crate::runtime::{GATEWAY_NODE, process};
use crate::store::{LocalStore, Store};

pub struct LocalMesh {
    dir: PathBuf,
    store: LocalStore,
}

impl LocalMesh {
    /// The mesh installed at `dir`. Its store can be used whether or not its controller runs,
    /// as a cluster's API answers while its controllers are down; what only the controller
    /// knows ([`Mesh::view`]) needs it running.
    pub fn open(dir: &Path) -> Result<Self, MeshError> {
        let store = LocalStore::open(dir).map_err(|e| MeshError::NotRunning(e.to_string()))?;
        Ok(LocalMesh { dir: dir.to_path_buf(), store })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn status(&self) -> Result<MeshStatus, MeshError> {
        running_controller(&self.dir).ok_or_else(|| not_running(&self.dir))
    }
}

fn not_running(dir: &Path) -> MeshError {
    MeshError::NotRunning(format!("no local mesh runs at {}: start one with `meshctl install --local`", dir.display()))
}

/// How [`start`] runs the controller: the flags `meshctl controller --local` takes.
pub struct Launch<'a> {
    pub envoy: &'a Path,
    pub gateway_port: u16,
    pub cert_lifetime: crate::api::Duration,
    /// The percentage of requests the proxies trace.
    pub trace_sampling: f64,
    pub outbound_policy: crate::translate::OutboundPolicy,
}

/// A controller [`start`] left running in the background.
pub struct Started {
    pub pid: u32,
}

impl Started {
    /// Whether it has exited (its log, `logs/controller.log`, says why).
    pub fn exited(&self) -> bool {
        !process::alive(self.pid)
    }
}

/// Makes the mesh's state directory `dir` (its store and logs) and starts its controller in
/// the background, in a process group of its own so that it outlives the command that
/// started it; its output goes to `logs/controller.log`.
pub fn start(dir: &Path, launch: &Launch) -> Result<Started, MeshError> {
    let unavailable =
        |e: std::io::Error, what: &str| MeshError::Unavailable(anyhow::Error::new(e).context(what.to_string()));
    LocalStore::create(dir).map_err(|e| MeshError::Unavailable(e.into()))?;
    let logs = crate::runtime::logs_dir(dir);
    std::fs::create_dir_all(&logs).map_err(|e| unavailable(e, &format!("cannot make {}", logs.display())))?;
    let log_path = logs.join("controller.log");
    let log = std::fs::File::create(&log_path)
        .map_err(|e| unavailable(e, &format!("cannot write {}", log_path.display())))?;
    let exe = std::env::current_exe().map_err(|e| unavailable(e, "cannot find meshctl's own binary"))?;
    let mut command = std::process::Command::new(exe);
    command
        .args(["controller", "--local", "--state-dir"])
        .arg(dir)
        .arg("--envoy")
        .arg(launch.envoy)
        .args(["--gateway-port", &launch.gateway_port.to_string()])
        .args(["--cert-lifetime", &launch.cert_lifetime.to_string()])
        .args(["--trace-sampling", &launch.trace_sampling.to_string()])
        .args(["--outbound-traffic-policy", launch.outbound_policy.name()])
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().map_err(|e| unavailable(e, "cannot share the controller's log"))?)
        .stderr(log);
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let child = command.spawn().map_err(|e| unavailable(e, "cannot start the controller"))?;
    // The controller outlives this process; its exit is noticed through `Started::exited`.
    Ok(Started { pid: child.id() })
}

/// Stops the mesh at `dir`: its controller gets SIGTERM and 20 s to stop what it runs, then
/// SIGKILL, and whatever a killed controller left running is killed too. Whether one ran.
pub fn stop(dir: &Path) -> bool {
    let Some(status) = running_controller(dir) else { return false };
    process::signal(status.pid, rustix::process::Signal::TERM);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while process::alive(status.pid) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    if process::alive(status.pid) {
        process::signal(status.pid, rustix::process::Signal::KILL);
    }
    let gateways = status.gateways.iter().map(|g| g.pid);
    let pids =
        status.instances.iter().flat_map(|i| [i.app_pid, i.sidecar_pid]).chain(gateways).chain([status.gateway_pid]);
    for pid in pids.flatten().filter(|p| process::alive(*p)) {
        process::signal(pid, rustix::process::Signal::KILL);
    }
    true
}

/// Removes a stopped mesh's state directory `dir` (its resources and logs); whether there was
/// one.
pub fn purge(dir: &Path) -> Result<bool, MeshError> {
    if !dir.exists() {
        return Ok(false);
    }
    std::fs::remove_dir_all(dir).map_err(|e| {
        MeshError::Unavailable(anyhow::Error::new(e).context(format!("cannot remove {}", dir.display())))
    })?;
    Ok(true)
}

/// A controller that answers: its status is fresh and its process alive.
pub fn running_controller(dir: &Path) -> Option<MeshStatus> {
    MeshStatus::read(dir).filter(|s| s.running && process::alive(s.pid))
}

fn localhost(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// What the CLI sees of a local controller's status: process ids become "running or not".
pub fn view(status: &MeshStatus) -> MeshView {
    let gateway = localhost(status.gateway_port);
    MeshView {
        control_plane: format!("pid {}, xDS on {}", status.pid, localhost(status.xds_port)),
        revision: status.revision.clone(),
        routed: status.routed.clone(),
        gateway: GatewayView {
            node_id: GATEWAY_NODE.into(),
            address: gateway,
            listening: TcpStream::connect_timeout(&gateway, Duration::from_secs(1)).is_ok(),
        },
        instances: status
            .instances
            .iter()
            .map(|i| InstanceView {
                node_id: i.node_id.clone(),
                name: format!("{}-{}", i.spec.workload, i.spec.replica),
                resource: format!("Workload/{}/{}", i.spec.namespace, i.spec.workload),
                namespace: i.spec.namespace.clone(),
                service: i.spec.service.clone(),
                ports: i.spec.ports.iter().map(|p| (p.port as u16, p.protocol())).collect(),
                service_account: i.spec.service_account.clone(),
                labels: i.spec.labels.clone(),
                address: i.ports.served.first().map(|s| localhost(s.inbound)),
                app_running: i.app_pid.is_some_and(process::alive),
                sidecar_running: i.sidecar_pid.is_some_and(process::alive),
                restarts: i.restarts,
            })
            .collect(),
        proxies: status.proxies.clone(),
        ca: status.ca.clone(),
        errors: status.errors.clone(),
    }
}

fn pki_error(e: PkiError) -> MeshError {
    MeshError::Unavailable(e.into())
}

#[async_trait::async_trait]
impl Mesh for LocalMesh {
    fn place(&self) -> String {
        format!("the local mesh at {}", self.dir.display())
    }

    fn store(&self) -> &dyn Store {
        &self.store
    }

    /// A view is a read of the status file.
    fn poll_period(&self) -> Duration {
        Duration::from_millis(20)
    }

    async fn view(&self) -> Result<MeshView, MeshError> {
        Ok(view(&self.status()?))
    }

    async fn scrape(&self, node_ids: &[String], timeout: Duration) -> Vec<Result<ProxyStats, String>> {
        let status = match self.status() {
            Ok(status) => status,
            Err(e) => return node_ids.iter().map(|_| Err(e.to_string())).collect(),
        };
        let target = |node: &str| {
            if node == GATEWAY_NODE {
                let admin = localhost(status.gateway_admin_port);
                return Some(scrape::Target { node_id: node.into(), admin, serves: None });
            }
            if let Some(g) = status.gateways.iter().find(|g| g.node_id == node) {
                return Some(scrape::Target { node_id: node.into(), admin: localhost(g.admin), serves: None });
            }
            let i = status.instances.iter().find(|i| i.node_id == node)?;
            let serves = scrape::Served {
                namespace: i.spec.namespace.clone(),
                services: vec![i.spec.service.clone()],
                labels: i.spec.labels.clone(),
            };
            Some(scrape::Target { node_id: node.into(), admin: localhost(i.ports.admin), serves: Some(serves) })
        };
        let targets: Vec<Result<scrape::Target, String>> =
            node_ids.iter().map(|node| target(node).ok_or_else(|| format!("{node}: no such proxy"))).collect();
        let reachable: Vec<scrape::Target> = targets.iter().filter_map(|t| t.as_ref().ok().cloned()).collect();
        let mut scraped = scrape::scrape_all(&reachable, timeout).await.into_iter();
        targets.into_iter().map(|t| t.and_then(|_| scraped.next().expect("one answer per target"))).collect()
    }

    async fn probe_tls(&self, instances: &[InstanceView], timeout: Duration) -> Result<Vec<TlsProbe>, MeshError> {
        let ca = pki::Authority::open_existing(&self.dir).map_err(pki_error)?;
        let targets: Vec<ProbeTarget> = instances
            .iter()
            .map(|i| {
                Ok(ProbeTarget {
                    address: i.address.ok_or_else(|| super::serves_nothing(i))?,
                    identity: Identity::new(&i.namespace, &i.service_account).uri(),
                    host: i.service.clone(),
                })
            })
            .collect::<Result<_, MeshError>>()?;
        let prober = Identity::new(crate::api::ROOT_NAMESPACE, "meshctl");
        probe::probe_all(&ca, &prober, &targets, timeout).await.map_err(pki_error)
    }

    async fn traces(&self, query: &Query) -> Result<Traces, MeshError> {
        let status = self.status()?;
        let collector = localhost(status.collector_port);
        let path = format!("{TRACES_PATH}?{}", query.to_params());
        let unavailable =
            |e: String| MeshError::Unavailable(anyhow::anyhow!("the controller's collector at {collector}: {e}"));
        let response = crate::http::get(collector, "localhost", &path, Duration::from_secs(5))
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        if response.status != 200 {
            return Err(unavailable(format!("answered {}", response.status)));
        }
        serde_json::from_slice(&response.body).map_err(|e| unavailable(e.to_string()))
    }
}
