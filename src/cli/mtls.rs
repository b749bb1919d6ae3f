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

use super::local::wait_for;
use super::place::Place;
use super::printer::{self, paint};
use super::resources::{apply_sources, object_name, stored};
use super::{Exit, Failure, ListFormat, Outcome, Printer};
use crate::api::ROOT_NAMESPACE;
use crate::api::Resource;
use crate::api::meshctl::{CertificateRotation, CertificateRotationSpec, RotationStage, RotationStatus};
use crate::api::security::{MtlsMode, effective_mtls};
use crate::mesh::InstanceView;
use crate::policy::Source;
use crate::store::ObjectRef;

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
    /// refused; and the stage of the newest certificate rotation.
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
    place: Place,
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
    place: Place,
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
    place: Place,
}

pub async fn run(command: Command, printer: &Printer) -> Outcome {
    match command {
        Command::Enable(args) => {
            let mode = match args.mode {
                Mode::Strict => MtlsMode::Strict,
                Mode::Permissive => MtlsMode::Permissive,
            };
            change_mode(&args.scope, Some(mode), printer).await
        }
        Command::Disable(args) => change_mode(&args, None, printer).await,
        Command::Status(args) => status(args, printer).await,
        Command::Rotate(args) => rotate(args, printer).await,
    }
}

/// Applies (`Some`) or removes (`None`) the scope's PeerAuthentication `default`, waits for the
/// proxies, and prints whose mode changed.
async fn change_mode(scope: &ScopeArgs, mode: Option<MtlsMode>, printer: &Printer) -> Outcome {
    let mesh = scope.place.connect().await?;
    let status = mesh.view().await?;
    let store = mesh.store();
    let before = modes(&stored(store).await?, &status.instances);
    let namespace = scope.namespace.clone().unwrap_or_else(|| ROOT_NAMESPACE.to_string());
    match mode {
        Some(mode) => {
            let text = super::generate::documents(&crate::generate::mtls(Some(&namespace), mode));
            let source = Source { name: "<mtls enable>".into(), text };
            let exit = apply_sources(&[source], namespace.clone(), false, &*mesh, printer).await?;
            if exit != Exit::Success {
                return Ok(exit);
            }
        }
        None => {
            let object = ObjectRef {
                kind: crate::api::Kind::PeerAuthentication,
                namespace: namespace.clone(),
                name: "default".into(),
            };
            let deleted = store.delete(std::slice::from_ref(&object)).await?;
            if deleted.iter().any(|(_, gone)| *gone) {
                printer.write(&format!("{} deleted\n", object_name(&object)))?;
            } else {
                printer.write(&format!("{} not found: nothing to disable\n", object_name(&object)))?;
                return Ok(Exit::Success);
            }
        }
    }
    let revision = store.written();
    let status =
        wait_for(&*mesh, scope.timeout.0, printer, "waiting for every proxy to ACK", |s| s.runs(&revision)).await?;
    let after = modes(&stored(store).await?, &status.instances);
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
fn modes(resources: &[Resource], instances: &[InstanceView]) -> BTreeMap<String, MtlsMode> {
    let policies: Vec<_> = resources
        .iter()
        .filter_map(|r| match r {
            Resource::PeerAuthentication(pa) => Some(&**pa),
            _ => None,
        })
        .collect();
    instances
        .iter()
        .map(|i| {
            let mode = effective_mtls(policies.iter().copied(), &i.namespace, &i.labels, i.ports.first().map(|p| p.0));
            (i.node_id.clone(), mode)
        })
        .collect()
}

/// The newest certificate rotation stored: its name, whether it replaces the root, and its
/// status.
fn latest_rotation(resources: &[Resource]) -> Option<(String, bool, RotationStatus)> {
    resources
        .iter()
        .filter_map(|r| match r {
            Resource::CertificateRotation(r) => Some(r),
            _ => None,
        })
        .max_by_key(|r| (r.metadata.creation_timestamp.clone().map(|t| t.0), r.metadata.name.clone()))
        .map(|r| (r.metadata.name.clone().unwrap_or_default(), r.spec.root, r.status.clone().unwrap_or_default()))
}

/// What a sidecar does under `mode`: UNSET left to nothing above it is PERMISSIVE.
fn in_effect(mode: MtlsMode) -> MtlsMode {
    if mode == MtlsMode::Unset { MtlsMode::Permissive } else { mode }
}

/// The mode as Istio spells it, as in the policy.
fn mode_name(mode: MtlsMode) -> &'static str {
    match in_effect(mode) {
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
    /// Serialized as Istio spells it (`STRICT`, ...).
    mode: MtlsMode,
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
            MtlsMode::Strict => self.mtls_ok && self.plaintext_refused,
            MtlsMode::Permissive | MtlsMode::Unset => self.mtls_ok && !self.plaintext_refused,
            MtlsMode::Disable => !self.plaintext_refused,
        }
    }
}

/// How long the probes wait for a sidecar.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

async fn status(args: StatusArgs, printer: &Printer) -> Outcome {
    let mesh = args.place.connect().await?;
    let status = mesh.view().await?;
    // A client only serves nothing to accept mTLS on.
    let serving: Vec<InstanceView> = status.instances.iter().filter(|i| i.address.is_some()).cloned().collect();
    let stored = stored(mesh.store()).await?;
    let modes = modes(&stored, &serving);
    let rotation = latest_rotation(&stored);
    let probes = mesh.probe_tls(&serving, PROBE_TIMEOUT).await?;
    let rows: Vec<WorkloadTls> = serving
        .iter()
        .zip(probes)
        .map(|(instance, probe)| {
            let proxy = status.proxies.iter().find(|p| p.node_id == instance.node_id);
            WorkloadTls {
                workload: instance.name.clone(),
                namespace: instance.namespace.clone(),
                service: instance.service.clone(),
                version: instance.version().to_string(),
                mode: in_effect(modes.get(&instance.node_id).copied().unwrap_or(MtlsMode::Permissive)),
                identity: proxy.map(|p| p.identity.clone()).unwrap_or_default(),
                cert_expires: proxy.map(|p| p.cert_expires.clone()).unwrap_or_default(),
                inbound_port: instance.address.map_or(0, |a| a.port()),
                mtls_ok: probe.mtls_ok,
                plaintext_refused: probe.plaintext_refused,
            }
        })
        .collect();
    let exit = if rows.iter().all(WorkloadTls::consistent) { Exit::Success } else { Exit::Failed };
    if let Some(format) = args.output.structured() {
        let rotation = rotation.as_ref().map(|(name, root, status)| {
            serde_json::json!({ "name": name, "root": root, "stage": status.stage, "message": status.message })
        });
        let value = serde_json::json!({ "workloads": rows, "rotation": rotation });
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
            (MtlsMode::Strict, refused) => mark(refused, "refused", "accepted"),
            (_, true) => mark(false, "refused", "refused"),
            (_, false) => "accepted".to_string(),
        };
        table.add_row(vec![
            r.workload.clone(),
            r.namespace.clone(),
            r.service.clone(),
            r.version.clone(),
            mode_name(r.mode).to_string(),
            r.identity.clone(),
            expires,
            r.inbound_port.to_string(),
            mark(r.mtls_ok, "ok", "failed"),
            plaintext,
        ]);
    }
    printer.write(&format!("{table}\n"))?;
    if let Some((name, _, status)) = &rotation {
        let stage = status.stage.map_or("not started".to_string(), |s| format!("{s:?}"));
        let message = status.message.as_deref().map(|m| format!(": {m}")).unwrap_or_default();
        printer.write(&format!("rotation {name}: {stage}{message}\n"))?;
    }
    if exit != Exit::Success {
        printer.error(&anyhow!("a sidecar does not behave as its mode says (see the ✗ above)"));
    }
    Ok(exit)
}

async fn rotate(args: RotateArgs, printer: &Printer) -> Outcome {
    let mesh = args.place.connect().await?;
    let store = mesh.store();
    let now = SystemTime::now();
    let millis = now.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_millis();
    let name = format!("{}-{millis}", if args.root { "root" } else { "certificates" });
    let mut rotation = CertificateRotation::new(&name, CertificateRotationSpec { root: args.root });
    // Beside the control plane: a cluster has that namespace, where Istio's root one may not be.
    rotation.metadata.namespace = Some(crate::kube::install::NAMESPACE.to_string());
    let resource = Resource::CertificateRotation(rotation.into());
    let object = ObjectRef::of(&resource);
    store.apply(&[resource], false).await?;
    printer.write(&format!("{} created\n", object_name(&object)))?;
    // Each stage as the controller reaches it; done when it completes or fails.
    let deadline = tokio::time::Instant::now() + args.timeout.0;
    let mut told: Option<RotationStage> = None;
    let mut progress = printer.progress("waiting for the controller to start the rotation");
    loop {
        let status = rotation_status(store, &object).await?;
        if status.stage != told
            && let Some(stage) = status.stage
        {
            progress.finish();
            let message = status.message.clone().unwrap_or_default();
            let new = status.new_root.as_deref().unwrap_or_default();
            let line = match stage {
                RotationStage::Trusting => format!("new root {new}: {message}"),
                RotationStage::Signing => {
                    format!("{} every proxy trusts root {new}; it signs from now on", paint(printer::GOOD, "✓"))
                }
                RotationStage::Reissuing => {
                    format!("reissuing every certificate from root {}", status.old_root.as_deref().unwrap_or_default())
                }
                RotationStage::Completed if args.root => format!(
                    "{} root {new} signs every certificate; the old root is no longer trusted",
                    paint(printer::GOOD, "✓")
                ),
                RotationStage::Completed => {
                    format!("{} every certificate reissued; every proxy runs its new one", paint(printer::GOOD, "✓"))
                }
                RotationStage::Failed => {
                    return Err(Failure {
                        exit: Exit::Failed,
                        error: anyhow!("{} failed: {message}", object_name(&object)),
                    });
                }
            };
            printer.write(&format!("{line}\n"))?;
            if stage == RotationStage::Completed {
                return Ok(Exit::Success);
            }
            told = Some(stage);
            progress = printer.progress(&message);
        }
        if tokio::time::Instant::now() > deadline {
            progress.finish();
            let stage = told.map_or("not started".to_string(), |s| format!("{s:?}"));
            return Err(Failure {
                exit: Exit::Environment,
                error: anyhow!(
                    "{} is not done within {:?} (stage: {stage}; {}); it goes on: see `meshctl get certificaterotations -n {}` and `meshctl proxy-status`",
                    object_name(&object),
                    args.timeout.0,
                    status.message.unwrap_or_default(),
                    object.namespace,
                ),
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The status of the rotation `object` as stored now.
async fn rotation_status(store: &dyn crate::store::Store, object: &ObjectRef) -> Result<RotationStatus, Failure> {
    let contents = store.contents().await?;
    let found = contents.resources().into_iter().flatten().find_map(|r| match &r {
        Resource::CertificateRotation(rotation) if ObjectRef::of(&r) == *object => Some(rotation.clone()),
        _ => None,
    });
    let rotation = found.ok_or_else(|| Failure {
        exit: Exit::Failed,
        error: anyhow!("{} was deleted before it completed", object_name(object)),
    })?;
    Ok(rotation.status.clone().unwrap_or_default())
}
