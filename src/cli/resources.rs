//! `apply`, `get` and `delete`: the mesh's resources in the store, as kubectl handles a
//! cluster's. `apply` runs the same validation as `meshctl validate` and writes nothing when
//! it finds an error.

use std::path::PathBuf;
use std::time::SystemTime;

use anyhow::anyhow;

use super::local::StateDir;
use super::{Exit, Failure, ListFormat, Outcome, Printer, validate};
use crate::api::{Kind, Resource, time};
use crate::policy::{self, Options, Severity, Source};
use crate::store::{Change, LocalStore, ObjectRef, Store, StoreError};

pub(super) fn open(state: &StateDir) -> Result<LocalStore, Failure> {
    LocalStore::open(&state.path()).map_err(store_failure)
}

pub(super) fn store_failure(e: StoreError) -> Failure {
    let exit = match e {
        StoreError::NotInstalled(_) | StoreError::Io { .. } | StoreError::Corrupt { .. } => Exit::Environment,
        StoreError::Conflict { .. } => Exit::Failed,
    };
    Failure { exit, error: e.into() }
}

/// `virtualservice.networking.istio.io/profile`, as kubectl names an object in its messages.
pub(super) fn object_name(r: &ObjectRef) -> String {
    let group = r.kind().map(|k| k.api_version().split('/').next().unwrap_or_default().to_string()).unwrap_or_default();
    format!("{}.{group}/{}", r.kind.to_lowercase(), r.name)
}

#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    /// A file, a directory or `-` for stdin, as for `meshctl validate`.
    #[arg(short = 'f', long = "filename", value_name = "PATH", required = true)]
    files: Vec<PathBuf>,
    /// The namespace of resources that do not name one.
    #[arg(short = 'n', long, default_value = "default", env = "MESHCTL_NAMESPACE")]
    namespace: String,
    /// Validate and report what would change, but write nothing.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    state: StateDir,
}

pub fn apply(args: ApplyArgs, printer: &Printer) -> Outcome {
    let sources = validate::read_sources(&args.files)?;
    apply_sources(&sources, args.namespace, args.dry_run, &args.state, printer)
}

/// Validates `sources` and stores their resources, all or nothing, printing what changed as
/// kubectl does.
pub fn apply_sources(
    sources: &[Source],
    namespace: String,
    dry_run: bool,
    state: &StateDir,
    printer: &Printer,
) -> Outcome {
    let report = policy::check(sources, &Options { namespace, reject_unknown: false });
    let shown: Vec<_> = report.findings.iter().filter(|f| f.severity != Severity::Info).cloned().collect();
    if !shown.is_empty() {
        let findings = policy::Report { findings: shown, ..report.clone() };
        printer.write(&validate::findings_text(&findings, sources, printer.terminal()))?;
    }
    if report.count(Severity::Error) > 0 {
        printer.error(&anyhow!("nothing was applied: fix the errors above and apply again"));
        return Ok(Exit::Failed);
    }
    let store = open(state)?;
    let resources: Vec<Resource> = report.resources.into_iter().map(|c| c.resource).collect();
    let changes = store.apply(&resources, dry_run).map_err(store_failure)?;
    let suffix = if dry_run { " (dry run)" } else { "" };
    let mut out = String::new();
    for (r, change) in changes {
        let verb = match change {
            Change::Created => "created",
            Change::Configured => "configured",
            Change::Unchanged => "unchanged",
        };
        out.push_str(&format!("{} {verb}{suffix}\n", object_name(&r)));
    }
    printer.write(&out)?;
    Ok(Exit::Success)
}

/// The kind a user means by `vs`, `virtualservices`, `VirtualService`, ...
fn parse_kind(name: &str) -> Result<Kind, Failure> {
    let lower = name.to_ascii_lowercase();
    Kind::ALL
        .into_iter()
        .find(|k| {
            let crd = k.crd();
            let names = &crd.spec.names;
            lower == k.name().to_ascii_lowercase()
                || lower == names.plural
                || names.singular.as_deref() == Some(lower.as_str())
                || names.short_names.iter().flatten().any(|s| *s == lower)
        })
        .ok_or_else(|| {
            let known: Vec<String> = Kind::ALL.iter().map(|k| k.crd().spec.names.plural).collect();
            Failure::usage(anyhow!(
                "the server doesn't have a resource type {name:?}; meshctl knows {}",
                known.join(", ")
            ))
        })
}

#[derive(Debug, clap::Args)]
pub struct GetArgs {
    /// The kind: a name, plural or short name (vs, dr, pa, ap, ra, canary, workload).
    kind: String,
    /// One object's name; all of the kind when omitted.
    name: Option<String>,
    #[arg(short = 'n', long, default_value = "default", env = "MESHCTL_NAMESPACE")]
    namespace: String,
    /// Across all namespaces.
    #[arg(short = 'A', long)]
    all_namespaces: bool,
    #[arg(short = 'o', long, value_enum, default_value_t = ListFormat::Table)]
    output: ListFormat,
    #[command(flatten)]
    state: StateDir,
}

impl GetArgs {
    /// A table of every object of `kind`, as `get KIND` prints it.
    pub fn list(kind: &str, namespace: String, all_namespaces: bool, state: StateDir) -> GetArgs {
        GetArgs { kind: kind.into(), name: None, namespace, all_namespaces, output: ListFormat::Table, state }
    }
}

pub fn get(args: GetArgs, printer: &Printer) -> Outcome {
    let kind = parse_kind(&args.kind)?;
    let contents = open(&args.state)?.contents().map_err(store_failure)?;
    let objects: Vec<&serde_json::Value> = contents
        .objects
        .iter()
        .filter(|o| o["kind"] == kind.name())
        .filter(|o| args.all_namespaces || o["metadata"]["namespace"] == args.namespace.as_str())
        .filter(|o| args.name.as_ref().is_none_or(|n| o["metadata"]["name"] == n.as_str()))
        .collect();
    if let Some(name) = &args.name
        && objects.is_empty()
    {
        return Err(Failure {
            exit: Exit::Failed,
            error: anyhow!(
                "{}.{} {name:?} not found in namespace {}",
                kind.crd().spec.names.plural,
                kind.crd().spec.group,
                args.namespace
            ),
        });
    }
    match args.output.structured() {
        Some(format) => {
            let value = match (&args.name, objects.as_slice()) {
                (Some(_), [one]) => (*one).clone(),
                _ => serde_json::json!({
                    "apiVersion": "v1",
                    "kind": "List",
                    "items": objects,
                    "metadata": {"resourceVersion": ""},
                }),
            };
            super::print_structured(printer, &value, format)
        }
        None => {
            if objects.is_empty() {
                let scope =
                    if args.all_namespaces { String::new() } else { format!(" in {} namespace", args.namespace) };
                printer.error(&anyhow!("No resources found{scope}."));
                return Ok(Exit::Success);
            }
            let wide = args.output == ListFormat::Wide;
            let mut headers = vec!["NAME"];
            if args.all_namespaces {
                headers.insert(0, "NAMESPACE");
            }
            let columns = columns(kind, wide);
            headers.extend(columns.iter().map(|(h, _)| *h));
            headers.push("AGE");
            let mut table = super::table(&headers);
            let now = SystemTime::now();
            for o in objects {
                let mut row = Vec::new();
                if args.all_namespaces {
                    row.push(text(&o["metadata"]["namespace"]));
                }
                row.push(text(&o["metadata"]["name"]));
                row.extend(columns.iter().map(|(_, path)| text(&pointer(o, path))));
                let created = o["metadata"]["creationTimestamp"].as_str().and_then(time::parse_rfc3339);
                row.push(created.map_or("<unknown>".into(), |c| time::age(now.duration_since(c).unwrap_or_default())));
                table.add_row(row);
            }
            printer.write(&format!("{table}\n"))?;
            Ok(Exit::Success)
        }
    }
}

/// The columns of a kind's table: header and JSON path (`*` collects a list's items).
fn columns(kind: Kind, wide: bool) -> Vec<(&'static str, &'static str)> {
    let mut columns = match kind {
        Kind::VirtualService => vec![("GATEWAYS", "/spec/gateways"), ("HOSTS", "/spec/hosts")],
        Kind::DestinationRule => vec![("HOST", "/spec/host")],
        Kind::PeerAuthentication => vec![("MODE", "/spec/mtls/mode")],
        Kind::AuthorizationPolicy => vec![("ACTION", "/spec/action")],
        Kind::RequestAuthentication => vec![("ISSUERS", "/spec/jwtRules/*/issuer")],
        Kind::Canary => vec![("SERVICE", "/spec/service"), ("PHASE", "/status/phase"), ("WEIGHT", "/status/weight")],
        Kind::Workload => {
            vec![("SERVICE", "/spec/service"), ("VERSION", "/spec/labels/version"), ("REPLICAS", "/spec/replicas")]
        }
    };
    if wide {
        match kind {
            Kind::DestinationRule => columns.push(("SUBSETS", "/spec/subsets/*/name")),
            Kind::Workload => columns.push(("COMMAND", "/spec/command")),
            Kind::Canary => columns.push(("STEPS", "/spec/steps")),
            _ => {}
        }
    }
    columns
}

/// The value at a JSON pointer, where a `*` segment maps over a list.
fn pointer(value: &serde_json::Value, path: &str) -> serde_json::Value {
    match path.split_once("/*") {
        Some((list, rest)) => serde_json::Value::Array(
            value
                .pointer(list)
                .and_then(|l| l.as_array())
                .into_iter()
                .flatten()
                .map(|item| pointer(item, rest))
                .collect(),
        ),
        None if path.is_empty() => value.clone(),
        None => value.pointer(path).cloned().unwrap_or(serde_json::Value::Null),
    }
}

fn text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => "<none>".into(),
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(items) if items.is_empty() => "<none>".into(),
        serde_json::Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

#[derive(Debug, clap::Args)]
pub struct DeleteArgs {
    /// The kind (with NAME), as for `get`.
    #[arg(required_unless_present = "files", conflicts_with = "files")]
    kind: Option<String>,
    #[arg(requires = "kind")]
    name: Option<String>,
    /// Delete the objects a file (or directory, or `-`) describes.
    #[arg(short = 'f', long = "filename", value_name = "PATH")]
    files: Vec<PathBuf>,
    #[arg(short = 'n', long, default_value = "default", env = "MESHCTL_NAMESPACE")]
    namespace: String,
    #[command(flatten)]
    state: StateDir,
}

pub fn delete(args: DeleteArgs, printer: &Printer) -> Outcome {
    let refs: Vec<ObjectRef> = match (&args.kind, &args.name) {
        (Some(kind), Some(name)) => {
            vec![ObjectRef {
                kind: parse_kind(kind)?.name().to_string(),
                namespace: args.namespace.clone(),
                name: name.clone(),
            }]
        }
        (Some(_), None) => return Err(Failure::usage(anyhow!("name the object to delete: meshctl delete KIND NAME"))),
        _ => {
            let sources = validate::read_sources(&args.files)?;
            let report = policy::check(&sources, &Options { namespace: args.namespace.clone(), reject_unknown: false });
            report.resources.iter().map(|c| ObjectRef::of(&c.resource)).collect()
        }
    };
    let results = open(&args.state)?.delete(&refs).map_err(store_failure)?;
    let mut out = String::new();
    let mut missing = Vec::new();
    for (r, deleted) in results {
        if deleted {
            out.push_str(&format!("{} deleted\n", object_name(&r)));
        } else {
            missing.push(format!("{} not found in namespace {}", object_name(&r), r.namespace));
        }
    }
    printer.write(&out)?;
    if missing.is_empty() {
        Ok(Exit::Success)
    } else {
        Err(Failure { exit: Exit::Failed, error: anyhow!(missing.join("; ")) })
    }
}
