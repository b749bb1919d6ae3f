//! `apply`, `get` and `delete`: the mesh's resources in the store, as kubectl handles a
//! cluster's. `apply` runs the same validation as `meshctl validate` and writes nothing when
//! it finds an error.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::SystemTime;

use anyhow::anyhow;
use serde_json::Value;

use super::local::wait_for;
use super::place::Place;
use super::printer::{self, paint};
use super::{Exit, Failure, GetFormat, Outcome, Printer, validate};
use crate::api::{Kind, Resource, time};
use crate::mesh::Mesh;
use crate::policy::{self, Options, Selector, Severity, Source};
use crate::store::{Change, ObjectRef, Store};

/// `virtualservice.networking.istio.io/profile`, as kubectl names an object in its messages.
pub(super) fn object_name(r: &ObjectRef) -> String {
    format!("{}/{}", r.kind.qualified_name().to_lowercase(), r.name)
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
    #[arg(long, conflicts_with = "wait")]
    dry_run: bool,
    /// Return only when every proxy has ACKed the configuration the change makes.
    #[arg(long)]
    wait: bool,
    /// With --wait, how long to wait before giving up (exit 3).
    #[arg(long, default_value = "60s", requires = "wait")]
    timeout: crate::api::Duration,
    #[command(flatten)]
    place: Place,
}

pub async fn apply(args: ApplyArgs, printer: &Printer) -> Outcome {
    let sources = validate::read_sources(&args.files)?;
    validate::require_objects("apply", &args.files, &sources)?;
    let mesh = args.place.connect().await?;
    let applied = apply_sources(&sources, args.namespace, args.dry_run, mesh.as_ref(), printer).await?;
    if applied != Exit::Success || !args.wait {
        return Ok(applied);
    }
    let revision = mesh.store().written();
    wait_for(mesh.as_ref(), args.timeout.0, printer, "waiting for every proxy to ACK", |s| s.runs(&revision)).await?;
    printer.write(&format!("{} every proxy runs store revision {revision}\n", paint(printer::GOOD, "✓")))?;
    Ok(Exit::Success)
}

/// Validates `sources` and stores their resources, all or nothing, printing what changed as
/// kubectl does.
pub async fn apply_sources(
    sources: &[Source],
    namespace: String,
    dry_run: bool,
    mesh: &dyn Mesh,
    printer: &Printer,
) -> Outcome {
    let store = mesh.store();
    let options = Options { namespace, reject_unknown: false };
    let resources: Vec<Resource> = policy::check(sources, &options).resources.into_iter().map(|c| c.resource).collect();
    // Judged against what is stored when it is written, under the store's lock.
    let mut verdict = Ok(false);
    let written = store
        .apply_admitted(&resources, dry_run, &mut |stored| {
            let report = policy::check_change(sources, &options, stored, &|_| false, false);
            let change = Proposal {
                what: "it".into(),
                scope: format!("{} document(s), {} file(s)", report.documents, sources.len()),
                done: "applied",
                remedy: "apply them changed along with this, or change the input",
            };
            verdict = refused(&report, sources, &change, printer);
            matches!(verdict, Ok(false))
        })
        .await;
    if verdict? {
        return Ok(Exit::Failed);
    }
    let changes = written?;
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

/// The objects stored in the mesh, typed. One that no longer decodes (written by another
/// meshctl version) cannot be judged, and is left out rather than blocking every change.
pub(super) async fn stored(store: &dyn Store) -> Result<Vec<Resource>, Failure> {
    Ok(store.contents().await?.resources().into_iter().flatten().collect())
}

/// Prints the findings of a change (infos aside) and says whether its errors refuse it; then
/// nothing was `done`, and `remedy` says what to do about the stored objects it would break.
fn refused(report: &policy::Report, sources: &[Source], change: &Proposal, printer: &Printer) -> Result<bool, Failure> {
    let shown: Vec<_> = report.findings.iter().filter(|f| f.severity != Severity::Info).cloned().collect();
    if !shown.is_empty() {
        let findings = policy::Report { findings: shown, ..report.clone() };
        printer.write(&validate::findings_text(&findings, sources, printer.terminal(), &change.scope))?;
    }
    let errors: Vec<_> = report.findings.iter().filter(|f| f.severity == Severity::Error).collect();
    if errors.is_empty() {
        return Ok(false);
    }
    let broken: std::collections::BTreeSet<&str> =
        errors.iter().filter(|f| f.file.is_none()).filter_map(|f| f.resource.as_deref()).collect();
    let why = match broken.len() {
        0 => "fix the errors above and try again".to_string(),
        _ => format!(
            "{} would break {} that the mesh runs ({}); {}",
            change.what,
            if broken.len() == 1 { "an object" } else { "objects" },
            broken.into_iter().collect::<Vec<_>>().join(", "),
            change.remedy
        ),
    };
    printer.error(&anyhow!("nothing was {}: {why}", change.done));
    Ok(true)
}

/// How a refused change is told: what it was, what was checked, what it would have done, and
/// what to do about the stored objects it would break.
struct Proposal {
    what: String,
    scope: String,
    done: &'static str,
    remedy: &'static str,
}

/// The kind a user means by `vs`, `virtualservices`, `VirtualService`, ..., or with its group
/// (`gateways.networking.istio.io`), as kubectl reads them. `gateway` alone is the Gateway
/// API's, as kubectl resolves it where both are installed; Istio's is `gw` or qualified.
fn parse_kind(name: &str) -> Result<Kind, Failure> {
    let lower = name.to_ascii_lowercase();
    let (word, group) = match lower.split_once('.') {
        Some((word, group)) => (word, Some(group)),
        None => (lower.as_str(), None),
    };
    let mut kinds = Kind::ALL.to_vec();
    kinds.sort_by_key(|k| *k == Kind::IstioGateway);
    kinds
        .into_iter()
        .filter(|k| group.is_none_or(|g| k.group() == g))
        .find(|k| {
            let crd = k.crd();
            let names = &crd.spec.names;
            word == k.name().to_ascii_lowercase()
                || word == names.plural
                || names.singular.as_deref() == Some(word)
                || names.short_names.iter().flatten().any(|s| s == word)
        })
        .ok_or_else(|| {
            let known: Vec<String> = Kind::ALL.iter().map(|k| k.crd().spec.names.plural).collect();
            Failure::usage(anyhow!(
                "the server doesn't have a resource type {name:?}; meshctl knows {}",
                known.join(", ")
            ))
        })
}

/// The objects a command line names, as kubectl reads `KIND[,KIND...] [NAME...]` or
/// `KIND/NAME...`: each kind once, in the order given, with the names asked for (none: every
/// object of the kind).
#[derive(Debug)]
struct Targets(Vec<(Kind, Vec<String>)>);

impl Targets {
    fn parse(kinds: &str, names: &[String]) -> Result<Targets, Failure> {
        let mut targets = Targets(Vec::new());
        if kinds.contains('/') {
            for word in std::iter::once(kinds).chain(names.iter().map(String::as_str)) {
                let (kind, name) = word
                    .split_once('/')
                    .filter(|(_, name)| !name.is_empty() && !name.contains('/'))
                    .ok_or_else(|| {
                        Failure::usage(anyhow!("{word:?} is not KIND/NAME; after one KIND/NAME, name every object so"))
                    })?;
                targets.add(parse_kind(kind)?, &[name.to_string()]);
            }
        } else {
            if let Some(name) = names.iter().find(|n| n.contains('/')) {
                return Err(Failure::usage(anyhow!(
                    "{name:?}: name objects as KIND[,KIND...] NAME... or as KIND/NAME..., not both"
                )));
            }
            for kind in kinds.split(',') {
                targets.add(parse_kind(kind)?, names);
            }
        }
        Ok(targets)
    }

    fn add(&mut self, kind: Kind, names: &[String]) {
        let Some((_, known)) = self.0.iter_mut().find(|(k, _)| *k == kind) else {
            self.0.push((kind, names.to_vec()));
            return;
        };
        for name in names {
            if !known.contains(name) {
                known.push(name.clone());
            }
        }
    }

    /// Whether objects are asked for by name; then every kind has names.
    fn named(&self) -> bool {
        self.0.iter().any(|(_, names)| !names.is_empty())
    }

    /// Whether one object is asked for by name, so JSON and YAML show it rather than a List
    /// (kubectl's "single item implied").
    fn single(&self) -> bool {
        matches!(self.0.as_slice(), [(_, names)] if names.len() == 1)
    }
}

#[derive(Debug, clap::Args)]
pub struct GetArgs {
    /// Kinds, comma-separated, each a name, plural or short name (vs, dr, pa, ap, ra, canary,
    /// workload); or KIND/NAME for one object.
    #[arg(value_name = "KIND[,KIND...]")]
    kinds: String,
    /// Objects of those kinds by name; all of them when omitted. After a KIND/NAME, more
    /// KIND/NAMEs.
    #[arg(value_name = "NAME")]
    names: Vec<String>,
    #[arg(short = 'n', long, default_value = "default", env = "MESHCTL_NAMESPACE")]
    namespace: String,
    /// Across all namespaces.
    #[arg(short = 'A', long)]
    all_namespaces: bool,
    /// Only objects whose labels match: `k=v`, `k!=v`, `k` (has the label), `!k` (has not),
    /// joined by commas, all of which must hold.
    #[arg(short = 'l', long, value_name = "SELECTOR")]
    selector: Option<Selector>,
    /// A table (wide: more columns), the objects whole (json, yaml, a List for several), or
    /// their names as `KIND.GROUP/NAME` lines for scripts (name).
    #[arg(short = 'o', long, value_enum, default_value_t = GetFormat::Table)]
    output: GetFormat,
    #[command(flatten)]
    place: Place,
}

impl GetArgs {
    /// Every object of `kind`, as `get KIND -o OUTPUT` prints them.
    pub fn list(kind: &str, namespace: String, all_namespaces: bool, output: GetFormat, place: Place) -> GetArgs {
        GetArgs { kinds: kind.into(), names: Vec::new(), namespace, all_namespaces, selector: None, output, place }
    }
}

pub async fn get(args: GetArgs, printer: &Printer) -> Outcome {
    let targets = Targets::parse(&args.kinds, &args.names)?;
    if args.selector.is_some() && targets.named() {
        return Err(Failure::usage(anyhow!("a selector picks objects by their labels: name none with it")));
    }
    let contents = args.place.connect().await?.store().contents().await?;
    // A GatewayClass belongs to no namespace: it is found from any.
    let selected = |kind: Kind, o: &Value| {
        (args.all_namespaces || !kind.namespaced() || o["metadata"]["namespace"] == args.namespace.as_str())
            && args.selector.as_ref().is_none_or(|s| s.matches(&labels(o)))
    };
    let named = |o: &Value, name: &str| o["metadata"]["name"] == name;
    let scope = if args.all_namespaces { "any namespace".to_string() } else { format!("namespace {}", args.namespace) };
    let mut found: Vec<(Kind, Vec<&Value>)> = Vec::new();
    let mut missing = Vec::new();
    for (kind, names) in &targets.0 {
        let objects: Vec<&Value> = contents
            .objects
            .iter()
            .map(|o| &**o)
            .filter(|o| o["kind"] == kind.name() && selected(*kind, o))
            .filter(|o| names.is_empty() || names.iter().any(|n| named(o, n)))
            .collect();
        let crd = kind.crd();
        let place = if kind.namespaced() { format!(" in {scope}") } else { String::new() };
        for name in names.iter().filter(|n| !objects.iter().any(|o| named(o, n))) {
            missing.push(format!("{}.{} {name:?} not found{place}", crd.spec.names.plural, crd.spec.group));
        }
        found.push((*kind, objects));
    }
    let objects: Vec<&Value> = found.iter().flat_map(|(_, objects)| objects.iter().copied()).collect();
    if let Some(format) = args.output.structured() {
        let value = match (targets.single(), objects.as_slice()) {
            (true, [one]) => Some((*one).clone()),
            // Nothing to show: the error below says what is missing.
            (true, []) => None,
            (_, items) => Some(serde_json::json!({
                "apiVersion": "v1",
                "kind": "List",
                "items": items,
                "metadata": {"resourceVersion": ""},
            })),
        };
        if let Some(value) = value {
            super::print_structured(printer, &value, format)?;
        }
    } else if args.output == GetFormat::Name {
        let names: String = found
            .iter()
            .flat_map(|(kind, objects)| objects.iter().map(|o| format!("{}\n", object_name(&reference(*kind, o)))))
            .collect();
        printer.write(&names)?;
    } else if objects.is_empty() && missing.is_empty() {
        let scope = if args.all_namespaces { String::new() } else { format!(" in {} namespace", args.namespace) };
        printer.error(&anyhow!("No resources found{scope}."));
    } else {
        // As kubectl: one table per kind, and names that say their kind when there are several.
        let with_kind = targets.0.len() > 1;
        let tables: Vec<String> = found
            .iter()
            .filter(|(_, objects)| !objects.is_empty())
            .map(|(kind, objects)| kind_table(*kind, objects, &args, with_kind))
            .collect();
        printer.write(&tables.join("\n"))?;
    }
    if missing.is_empty() {
        Ok(Exit::Success)
    } else {
        Err(Failure { exit: Exit::Failed, error: anyhow!(missing.join("; ")) })
    }
}

fn labels(object: &Value) -> BTreeMap<String, String> {
    serde_json::from_value(object["metadata"]["labels"].clone()).unwrap_or_default()
}

/// Which object a stored one is.
fn reference(kind: Kind, object: &Value) -> ObjectRef {
    let field = |f: &str| object["metadata"][f].as_str().unwrap_or_default().to_string();
    ObjectRef { kind, namespace: field("namespace"), name: field("name") }
}

/// One kind's table, as `get` prints it; with `with_kind`, each name is `KIND.GROUP/NAME`.
fn kind_table(kind: Kind, objects: &[&Value], args: &GetArgs, with_kind: bool) -> String {
    let mut headers = vec!["NAME"];
    if args.all_namespaces {
        headers.insert(0, "NAMESPACE");
    }
    let columns = columns(kind, args.output == GetFormat::Wide);
    headers.extend(columns.iter().map(|(h, _)| *h));
    headers.push("AGE");
    let mut table = super::table(&headers);
    let now = SystemTime::now();
    for o in objects {
        let mut row = Vec::new();
        if args.all_namespaces {
            row.push(text(&o["metadata"]["namespace"]));
        }
        row.push(if with_kind { object_name(&reference(kind, o)) } else { text(&o["metadata"]["name"]) });
        row.extend(columns.iter().map(|(_, path)| text(&pointer(o, path))));
        let created = o["metadata"]["creationTimestamp"].as_str().and_then(time::parse_rfc3339);
        row.push(created.map_or("<unknown>".into(), |c| time::age(now.duration_since(c).unwrap_or_default())));
        table.add_row(row);
    }
    format!("{table}\n")
}

/// The columns of a kind's table: header and JSON path (`*` collects a list's items).
fn columns(kind: Kind, wide: bool) -> Vec<(&'static str, &'static str)> {
    let mut columns = match kind {
        Kind::VirtualService => vec![("GATEWAYS", "/spec/gateways"), ("HOSTS", "/spec/hosts")],
        Kind::DestinationRule => vec![("HOST", "/spec/host")],
        Kind::ServiceEntry => {
            vec![("HOSTS", "/spec/hosts"), ("LOCATION", "/spec/location"), ("RESOLUTION", "/spec/resolution")]
        }
        Kind::IstioGateway => vec![("SELECTOR", "/spec/selector"), ("HOSTS", "/spec/servers/*/hosts")],
        Kind::Sidecar => vec![("SELECTOR", "/spec/workloadSelector/labels"), ("EGRESS", "/spec/egress/*/hosts")],
        Kind::GatewayClass => vec![("CONTROLLER", "/spec/controllerName")],
        Kind::Gateway => vec![("CLASS", "/spec/gatewayClassName"), ("ADDRESS", "/status/addresses/*/value")],
        Kind::ReferenceGrant => vec![("FROM", "/spec/from/*/kind"), ("TO", "/spec/to/*/kind")],
        Kind::HTTPRoute => vec![("PARENTS", "/spec/parentRefs/*/name"), ("HOSTNAMES", "/spec/hostnames")],
        Kind::PeerAuthentication => vec![("MODE", "/spec/mtls/mode")],
        Kind::AuthorizationPolicy => vec![("ACTION", "/spec/action")],
        Kind::RequestAuthentication => vec![("ISSUERS", "/spec/jwtRules/*/issuer")],
        Kind::Canary => vec![("SERVICE", "/spec/service"), ("PHASE", "/status/phase"), ("WEIGHT", "/status/weight")],
        Kind::CertificateRotation => {
            vec![("ROOT", "/spec/root"), ("STAGE", "/status/stage"), ("NEW ROOT", "/status/newRoot")]
        }
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
    /// Kinds, as for `get`, with NAMEs; or KIND/NAME.
    #[arg(value_name = "KIND[,KIND...]", required_unless_present = "files", conflicts_with = "files")]
    kinds: Option<String>,
    /// The objects to delete: each name in every kind given. After a KIND/NAME, more
    /// KIND/NAMEs.
    #[arg(value_name = "NAME", requires = "kinds")]
    names: Vec<String>,
    /// Delete the objects a file (or directory, or `-`) describes.
    #[arg(short = 'f', long = "filename", value_name = "PATH")]
    files: Vec<PathBuf>,
    #[arg(short = 'n', long, default_value = "default", env = "MESHCTL_NAMESPACE")]
    namespace: String,
    #[command(flatten)]
    place: Place,
}

pub async fn delete(args: DeleteArgs, printer: &Printer) -> Outcome {
    let refs: Vec<ObjectRef> = match &args.kinds {
        Some(kinds) => {
            let targets = Targets::parse(kinds, &args.names)?;
            if !targets.named() {
                return Err(Failure::usage(anyhow!(
                    "name the objects to delete: meshctl delete KIND[,KIND...] NAME..., or KIND/NAME..."
                )));
            }
            targets
                .0
                .iter()
                .flat_map(|(kind, names)| {
                    let namespace = if kind.namespaced() { args.namespace.clone() } else { String::new() };
                    names.iter().map(move |name| ObjectRef {
                        kind: *kind,
                        namespace: namespace.clone(),
                        name: name.clone(),
                    })
                })
                .collect()
        }
        None => {
            let sources = validate::read_sources(&args.files)?;
            validate::require_objects("delete", &args.files, &sources)?;
            let report = policy::check(&sources, &Options { namespace: args.namespace.clone(), reject_unknown: false });
            report.resources.iter().map(|c| ObjectRef::of(&c.resource)).collect()
        }
    };
    let mesh = args.place.connect().await?;
    let store = mesh.store();
    let removed = |r: &Resource| refs.contains(&ObjectRef::of(r));
    let names: Vec<String> = refs.iter().map(object_name).collect();
    let change = Proposal {
        what: format!("deleting {}", names.join(", ")),
        scope: "the mesh".into(),
        done: "deleted",
        remedy: "change or delete them first",
    };
    let mut verdict = Ok(false);
    let results = store
        .delete_admitted(&refs, &mut |stored| {
            let report = policy::check_change(&[], &Options::default(), stored, &removed, false);
            verdict = refused(&report, &[], &change, printer);
            matches!(verdict, Ok(false))
        })
        .await;
    if verdict? {
        return Ok(Exit::Failed);
    }
    let results = results?;
    let mut out = String::new();
    let mut missing = Vec::new();
    for (r, deleted) in results {
        if deleted {
            out.push_str(&format!("{} deleted\n", object_name(&r)));
        } else {
            let place = if r.kind.namespaced() { format!(" in namespace {}", r.namespace) } else { String::new() };
            missing.push(format!("{} not found{place}", object_name(&r)));
        }
    }
    printer.write(&out)?;
    if missing.is_empty() {
        Ok(Exit::Success)
    } else {
        Err(Failure { exit: Exit::Failed, error: anyhow!(missing.join("; ")) })
    }
}
