//! `meshctl mtls`: require mutual TLS with one command, see what every sidecar really accepts,
//! and reissue certificates or rotate the root without dropping a request.
//!
//! `enable` and `disable` are policy changes like any other (a PeerAuthentication named
//! `default`, through the same validation as `apply`); they return once every proxy has ACKed
//! the result. `status` does not trust the configuration: it knocks on each sidecar, once with
//! a mesh certificate and once in plaintext.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use anyhow::anyhow;
use serde::Serialize;

use super::local::{StateDir, mesh_status, wait_for};
use super::printer::{self, paint};
use super::resources::{apply_sources, object_name, open, store_failure, stored};
use super::{Exit, Failure, ListFormat, Outcome, Printer};
use crate::api::Resource;
use crate::api::security::{MtlsMode, effective_mtls};
use crate::pki::{self, Identity, probe};
use crate::policy::{ROOT_NAMESPACE, Source};
use crate::runtime::InstanceStatus;
use crate::store::{ObjectRef, Store};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Require mTLS: apply a PeerAuthentication (mesh-wide, or for one namespace with -n) and
    /// wait until every proxy runs it.
    ///
    /// Exit status: 0 every proxy runs it, 1 invalid or refused by a proxy, 3 no mesh or no
    /// answer in time.
    Enable(EnableArgs),
    /// Remove the PeerAuthentication `enable` made: back to the mesh default, PERMISSIVE
    /// (sidecars still speak mTLS to each other, and accept plaintext again). To turn mTLS off
    /// entirely, apply a PeerAuthentication with mode DISABLE.
    Disable(ScopeArgs),
    /// Every workload's mode, identity and certificate expiry, and what its sidecar really
    /// does: whether an mTLS handshake with a mesh certificate succeeds and plaintext is
    /// refused.
    ///
    /// Exit status: 0 every sidecar behaves as its mode says, 1 one does not.
    Status(StatusArgs),
    /// Reissue every workload certificate now (the proxies take them without a restart); with
    /// --root, replace the root too, trusting old and new until every proxy holds a
    /// certificate from the new one.
    Rotate(RotateArgs),
}

#[derive(Debug, clap::Args)]
pub struct ScopeArgs {
    /// The namespace to act on; without it, the whole mesh (the PeerAuthentication goes in
    /// istio-system).
    #[arg(short = 'n', long)]
    namespace: Option<String>,
    /// How long to wait for the proxies.
    #[arg(long, default_value = "60s")]
    timeout: crate::api::Duration,
    #[command(flatten)]
    state: StateDir,
}

#[derive(Debug, clap::Args)]
pub struct EnableArgs {
    #[command(flatten)]
    scope: ScopeArgs,
    /// STRICT accepts mTLS only; PERMISSIVE accepts mTLS and plaintext (a step on the way).
    #[arg(long, value_enum, default_value_t = Mode::Strict)]
    mode: Mode,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Mode {
    Strict,
    Permissive,
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = ListFormat::Table)]
    output: ListFormat,
    #[command(flatten)]
    state: StateDir,
}

#[derive(Debug, clap::Args)]
pub struct RotateArgs {
    /// Rotate the root as well: a new root is trusted everywhere before it signs, and the old
    /// one is dropped once no proxy holds a certificate from it.
    #[arg(long)]
    root: bool,
    /// How long to wait for the proxies.
    #[arg(long, default_value = "60s")]
    timeout: crate::api::Duration,
    #[command(flatten)]
    state: StateDir,
}

pub fn run(command: Command, printer: &Printer) -> Outcome {
    match command {
        Command::Enable(args) => {
            let mode = match args.mode {
                Mode::Strict => MtlsMode::Strict,
                Mode::Permissive => MtlsMode::Permissive,
            };
            change_mode(&args.scope, Some(mode), printer)
        }
        Command::Disable(args) => change_mode(&args, None, printer),
        Command::Status(args) => status(args, printer),
        Command::Rotate(args) => rotate(args, printer),
    }
}

/// Applies (`Some`) or removes (`None`) the scope's PeerAuthentication `default`, waits for the
/// proxies, and prints whose mode changed.
fn change_mode(scope: &ScopeArgs, mode: Option<MtlsMode>, printer: &Printer) -> Outcome {
    let dir = scope.state.path();
    let status = mesh_status(&dir)?;
    let store = open(&scope.state)?;
    let before = modes(&stored(&store)?, &status.instances);
    let namespace = scope.namespace.clone().unwrap_or_else(|| ROOT_NAMESPACE.to_string());
    match mode {
        Some(mode) => {
            let text = super::generate::documents(&crate::generate::mtls(Some(&namespace), mode));
            let source = Source { name: "<mtls enable>".into(), text };
            let exit = apply_sources(&[source], namespace.clone(), false, &scope.state, printer)?;
            if exit != Exit::Success {
                return Ok(exit);
            }
        }
        None => {
            let object =
                ObjectRef { kind: "PeerAuthentication".into(), namespace: namespace.clone(), name: "default".into() };
            let deleted = store.delete(std::slice::from_ref(&object)).map_err(store_failure)?;
            if deleted.iter().any(|(_, gone)| *gone) {
                printer.write(&format!("{} deleted\n", object_name(&object)))?;
            } else {
                printer.write(&format!("{} not found: nothing to disable\n", object_name(&object)))?;
                return Ok(Exit::Success);
            }
        }
    }
    let revision = store.contents().map_err(store_failure)?.revision;
    let status = wait_for(&dir, scope.timeout.0, printer, "waiting for every proxy to ACK", |s| s.runs(revision))?;
    let after = modes(&stored(&store)?, &status.instances);
    let mut out = String::new();
    for (node, mode) in &after {
        let old = before.get(node).copied().unwrap_or(MtlsMode::Permissive);
        if old != *mode {
            out.push_str(&format!("  {node}: {} → {}\n", mode_name(old), mode_name(*mode)));
        }
    }
    if out.is_empty() {
        out = "no workload's mode changed\n".into();
    }
    printer.write(&format!("{} every proxy runs it\n{out}", paint(printer::GOOD, "✓")))?;
    Ok(Exit::Success)
}

/// The mode each instance accepts under the PeerAuthentications among `resources`, by node id.
fn modes(resources: &[Resource], instances: &[InstanceStatus]) -> BTreeMap<String, MtlsMode> {
    let policies: Vec<_> = resources
        .iter()
        .filter_map(|r| match r {
            Resource::PeerAuthentication(pa) => Some(pa),
            _ => None,
        })
        .collect();
    instances
        .iter()
        .map(|i| {
            let mode = effective_mtls(policies.iter().copied(), &i.spec.namespace, &i.spec.labels, i.spec.service_port);
            (i.node_id.clone(), mode)
        })
        .collect()
}

fn mode_name(mode: MtlsMode) -> &'static str {
    match mode {
        MtlsMode::Strict => "STRICT",
        MtlsMode::Permissive | MtlsMode::Unset => "PERMISSIVE",
        MtlsMode::Disable => "DISABLE",
    }
}

/// One workload's row in `mtls status -o json`.
#[derive(Debug, Serialize)]
struct WorkloadTls {
    workload: String,
    namespace: String,
    service: String,
    version: String,
    mode: &'static str,
    identity: String,
    cert_expires: String,
    inbound_port: u16,
    mtls_ok: bool,
    plaintext_refused: bool,
}

impl WorkloadTls {
    /// Whether the sidecar does what its mode promises.
    fn consistent(&self) -> bool {
        match self.mode {
            "STRICT" => self.mtls_ok && self.plaintext_refused,
            "PERMISSIVE" => self.mtls_ok && !self.plaintext_refused,
            _ => !self.plaintext_refused,
        }
    }
}

/// How long the probes wait for a sidecar.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

fn status(args: StatusArgs, printer: &Printer) -> Outcome {
    let dir = args.state.path();
    let status = mesh_status(&dir)?;
    let store = open(&args.state)?;
    let modes = modes(&stored(&store)?, &status.instances);
    // The probe presents a certificate of its own, from the mesh's CA, as any mesh client would.
    let ca = pki::Authority::open_existing(&dir).map_err(|e| Failure { exit: Exit::Environment, error: e.into() })?;
    let certificate = ca
        .issue(&Identity::new(ROOT_NAMESPACE, "meshctl"), Duration::from_secs(300))
        .map_err(|e| Failure { exit: Exit::Environment, error: e.into() })?;
    let client = std::sync::Arc::new(probe::MtlsClient { certificate, trust_bundle: ca.trust_bundle().to_string() });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure { exit: Exit::Environment, error: e.into() })?;
    let rows: Vec<WorkloadTls> = runtime.block_on(async {
        let mut probes = tokio::task::JoinSet::new();
        for (index, instance) in status.instances.iter().enumerate() {
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], instance.ports.inbound));
            let identity = Identity::new(&instance.spec.namespace, &instance.spec.service_account).uri();
            let (client, host) = (client.clone(), instance.spec.service.clone());
            probes.spawn(async move {
                let mtls = client.request(addr, &identity, hyper::Method::GET, &host, "/", &[], PROBE_TIMEOUT).await;
                let plaintext = crate::http::get(addr, &host, "/", PROBE_TIMEOUT).await;
                (index, mtls.is_ok(), plaintext.is_err())
            });
        }
        let mut results = probes.join_all().await;
        results.sort_by_key(|(index, ..)| *index);
        results
            .into_iter()
            .map(|(index, mtls_ok, plaintext_refused)| {
                let instance = &status.instances[index];
                let proxy = status.proxies.iter().find(|p| p.node_id == instance.node_id);
                WorkloadTls {
                    workload: format!("{}-{}", instance.spec.workload, instance.spec.replica),
                    namespace: instance.spec.namespace.clone(),
                    service: instance.spec.service.clone(),
                    version: instance.spec.labels.get("version").cloned().unwrap_or_default(),
                    mode: mode_name(modes.get(&instance.node_id).copied().unwrap_or(MtlsMode::Permissive)),
                    identity: proxy.map(|p| p.identity.clone()).unwrap_or_default(),
                    cert_expires: proxy.map(|p| p.cert_expires.clone()).unwrap_or_default(),
                    inbound_port: instance.ports.inbound,
                    mtls_ok,
                    plaintext_refused,
                }
            })
            .collect()
    });
    let exit = if rows.iter().all(WorkloadTls::consistent) { Exit::Success } else { Exit::Failed };
    if let Some(format) = args.output.structured() {
        let value = serde_json::json!({ "workloads": rows });
        super::print_structured(printer, &value, format)?;
        return Ok(exit);
    }
    let mut table = super::table(&[
        "WORKLOAD",
        "NAMESPACE",
        "SERVICE",
        "VERSION",
        "MODE",
        "IDENTITY",
        "CERT EXPIRES",
        "INBOUND",
        "MTLS",
        "PLAINTEXT",
    ]);
    let now = SystemTime::now();
    for r in &rows {
        let expires = crate::api::time::parse_rfc3339(&r.cert_expires)
            .and_then(|t| t.duration_since(now).ok())
            .map_or("-".to_string(), |left| format!("in {}", crate::api::time::age(left)));
        // Plain marks: table cells are measured before colour would be stripped.
        let mark = |ok: bool, yes: &str, no: &str| if ok { format!("✓ {yes}") } else { format!("✗ {no}") };
        let plaintext = match (r.mode, r.plaintext_refused) {
            ("STRICT", refused) => mark(refused, "refused", "accepted"),
            (_, true) => mark(false, "refused", "refused"),
            (_, false) => "accepted".to_string(),
        };
        table.add_row(vec![
            r.workload.clone(),
            r.namespace.clone(),
            r.service.clone(),
            r.version.clone(),
            r.mode.to_string(),
            r.identity.clone(),
            expires,
            r.inbound_port.to_string(),
            mark(r.mtls_ok, "ok", "failed"),
            plaintext,
        ]);
    }
    printer.write(&format!("{table}\n"))?;
    if exit != Exit::Success {
        printer.error(&anyhow!("a sidecar does not behave as its mode says (see the ✗ above)"));
    }
    Ok(exit)
}

fn rotate(args: RotateArgs, printer: &Printer) -> Outcome {
    let dir = args.state.path();
    let running = mesh_status(&dir)?;
    let pki_failure = |e: pki::PkiError| {
        let exit = if matches!(e, pki::PkiError::RotationUnderWay) { Exit::Failed } else { Exit::Environment };
        Failure { exit, error: e.into() }
    };
    if args.root {
        let root = pki::stage_root_rotation(&dir).map_err(pki_failure)?;
        printer.write(&format!("new root {root}: trusted beside the old one as soon as every proxy has it\n"))?;
        wait_for(&dir, args.timeout.0, printer, "spreading the new root", |s| s.ca.signing == root)?;
        printer
            .write(&format!("{} every proxy trusts root {root}; it signs from now on\n", paint(printer::GOOD, "✓")))?;
        let status = wait_for(&dir, args.timeout.0, printer, "reissuing every certificate from the new root", |s| {
            s.ca.signing == root
                && s.ca.rotation.is_none()
                && s.proxies.iter().all(|p| p.cert_root == root)
                && s.synced()
        })?;
        printer.write(&format!(
            "{} root {root} signs all {} certificates; the old root is no longer trusted\n",
            paint(printer::GOOD, "✓"),
            status.proxies.len()
        ))?;
    } else {
        let before: BTreeMap<String, String> =
            running.proxies.into_iter().map(|p| (p.node_id, p.cert_fingerprint)).collect();
        pki::request_reissue(&dir, SystemTime::now()).map_err(pki_failure)?;
        let replaced = |p: &crate::controller::ProxyReport| before.get(&p.node_id) != Some(&p.cert_fingerprint);
        let status = wait_for(&dir, args.timeout.0, printer, "reissuing certificates", |s| {
            s.proxies.iter().all(replaced) && s.synced()
        })?;
        printer.write(&format!(
            "{} {} certificates reissued; every proxy runs its new one\n",
            paint(printer::GOOD, "✓"),
            status.proxies.len()
        ))?;
    }
    Ok(Exit::Success)
}
