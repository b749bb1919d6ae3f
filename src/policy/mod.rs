//! Validation: YAML text in, typed resources and findings out. This is the one conversion
//! `meshctl validate`, `apply` and the controller all run, so a resource that got past it can
//! be trusted by everything downstream.
//!
//! ```text
//!   Source ─yaml::parse─▶ document ─envelope─▶ schema::Walker ─Kind::decode─▶ Resource
//!                                                                      │
//!                                             rules (one resource) ◀───┤
//!                                             mesh  (across them)  ◀───┘
//! ```

mod finding;
mod live;
mod mesh;
mod names;
mod path;
mod rules;
mod schema;
mod selector;

use crate::api::yaml::{self, Node, Pos, Value};
use crate::api::{Kind, Resource};

pub use finding::{Code, Finding, Severity};
pub use live::{Live, LiveInstance, LiveProxy};
pub use names::{DOMAIN_SUFFIX, host_namespace, resolve_host, service_host};
use path::Path;
pub use selector::{Selector, SelectorError};

/// One input text and the name it is reported under (a path, or `-` for stdin).
#[derive(Clone, Debug)]
pub struct Source {
    pub name: String,
    pub text: String,
}

#[derive(Clone, Debug)]
pub struct Options {
    /// The namespace of resources that name none, as `kubectl apply -n` would give them.
    pub namespace: String,
    /// Report kinds meshctl does not handle as errors instead of skipping them.
    pub reject_unknown: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options { namespace: "default".into(), reject_unknown: false }
    }
}

/// A resource that passed the schema, with where it came from.
#[derive(Clone, Debug)]
pub struct Checked {
    pub resource: Resource,
    /// The document it was read from; `None` for an object of the mesh (stored, or made by
    /// meshctl itself), which has no source text.
    source: Option<(String, Node)>,
}

impl Checked {
    /// An object of the mesh, already typed.
    fn object(resource: Resource) -> Checked {
        Checked { resource, source: None }
    }

    /// `file:line` of the document, for findings that point at another resource.
    pub fn location(&self) -> String {
        match &self.source {
            Some((file, root)) => format!("{file}:{}", root.pos.line),
            None => "in the mesh".into(),
        }
    }

    fn key(&self) -> (Kind, &str, &str) {
        (self.resource.kind(), self.resource.namespace(), self.resource.name())
    }
}

/// A Kubernetes Service or meshctl Workload seen in the input: together they are the service
/// registry, and when there is one, hosts are checked against it.
#[derive(Clone, Debug, PartialEq)]
struct RegistryEntry {
    host: String,
    labels: std::collections::BTreeMap<String, String>,
    /// Its ports by number, with what each carries.
    ports: Vec<(u16, crate::api::Protocol)>,
}

#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Sorted by file, line and column.
    pub findings: Vec<Finding>,
    pub resources: Vec<Checked>,
    pub documents: usize,
}

impl Report {
    pub fn count(&self, severity: Severity) -> usize {
        self.findings.iter().filter(|f| f.severity == severity).count()
    }
}

/// Checks every document of every source, and the resources against each other.
pub fn check(sources: &[Source], options: &Options) -> Report {
    let (mut report, registry) = documents(sources, options);
    mesh::check(&report.resources, &registry, &[], Knowledge::Partial, &mut report.findings);
    report.sort();
    report
}

/// Checks documents as they would stand in the mesh: each input object takes the place of the
/// stored object it names, and `removed` objects are gone. Findings on the input are all
/// reported; those on stored objects only when the change brings them about (a stored
/// VirtualService routing to a subset the input's DestinationRule drops), unless `all` asks
/// for everything wrong with the mesh, as `meshctl analyze` does.
pub fn check_change(
    sources: &[Source],
    options: &Options,
    stored: &[Resource],
    removed: &dyn Fn(&Resource) -> bool,
    all: bool,
) -> Report {
    check_against(sources, options, stored, removed, all, &[])
}

/// `check_change`, knowing also the workloads that run (`running`), which stored objects may
/// not describe (a cluster's Pods).
fn check_against(
    sources: &[Source],
    options: &Options,
    stored: &[Resource],
    removed: &dyn Fn(&Resource) -> bool,
    all: bool,
    running: &[RegistryEntry],
) -> Report {
    let (mut report, registry) = documents(sources, options);
    let verdict = judge(&report.resources, registry, stored, removed, all, running);
    report.findings.extend(verdict.findings);
    if all {
        // A whole mesh's objects are checked one by one too: they may predate a rule.
        for c in verdict.mesh.iter().filter(|c| c.source.is_none()) {
            rules::check(&c.resource, &mut Sink::for_checked(c, &mut report.findings));
        }
        report.resources = verdict.mesh;
    }
    report.sort();
    report
}

/// Checks objects that are already typed (made by meshctl, not read from text) with the
/// mesh's stored objects, as `check_change` checks documents: each one on its own, and all of
/// them against the stored ones. The findings are those the objects bring about.
pub fn check_objects(objects: &[Resource], stored: &[Resource]) -> Vec<Finding> {
    let mut findings = Vec::new();
    let checked: Vec<Checked> = objects.iter().cloned().map(Checked::object).collect();
    for c in &checked {
        rules::check(&c.resource, &mut Sink::for_checked(c, &mut findings));
    }
    let registry = checked.iter().filter_map(|c| registry_entry(&c.resource)).collect();
    findings.extend(judge(&checked, registry, stored, &|_| false, false, &[]).findings);
    findings
}

/// The mesh a change leaves, and the findings across it that the change brings about.
struct Verdict {
    mesh: Vec<Checked>,
    findings: Vec<Finding>,
}

/// Runs the cross-resource rules over the stored mesh with `change` in place: a changed object
/// takes its stored namesake's place (so order-dependent findings, like a host routed twice,
/// land where they did before), new ones come last. A finding the mesh already had (same
/// code, object and field) is not the change's doing: on a stored object it is left out, on
/// the changed object it is kept as a warning. With `all`, every finding counts.
fn judge(
    change: &[Checked],
    mut registry: Vec<RegistryEntry>,
    stored: &[Resource],
    removed: &dyn Fn(&Resource) -> bool,
    all: bool,
    running: &[RegistryEntry],
) -> Verdict {
    let before: Vec<Checked> = stored.iter().cloned().map(Checked::object).collect();
    let mut taken = std::collections::HashSet::new();
    let mut mesh: Vec<Checked> = Vec::new();
    for c in &before {
        if let Some(new) = change.iter().find(|n| n.key() == c.key()) {
            taken.insert(c.key());
            mesh.push(new.clone());
        } else if !removed(&c.resource) {
            registry.extend(registry_entry(&c.resource));
            mesh.push(c.clone());
        }
    }
    mesh.extend(change.iter().filter(|c| !taken.contains(&c.key())).cloned());
    let mut found = Vec::new();
    mesh::check(&mesh, &registry, running, Knowledge::Whole, &mut found);
    if all {
        return Verdict { mesh, findings: found };
    }
    let mut known = Vec::new();
    let registry: Vec<_> = before.iter().filter_map(|c| registry_entry(&c.resource)).collect();
    mesh::check(&before, &registry, running, Knowledge::Whole, &mut known);
    let id = |f: &Finding| (f.code, f.resource.clone(), f.path.clone());
    let known: std::collections::HashSet<_> = known.iter().map(id).collect();
    let changed: std::collections::HashSet<String> = change.iter().map(|c| resource_name(&c.resource)).collect();
    let findings = found
        .into_iter()
        .filter_map(|mut f| {
            let ours = f.resource.as_ref().is_some_and(|r| changed.contains(r));
            match (known.contains(&id(&f)), ours) {
                (false, _) => Some(f),
                (true, false) => None,
                (true, true) => {
                    if f.severity == Severity::Error {
                        f.severity = Severity::Warning;
                        f.message.push_str(" (so it already is in the mesh; this change does not make it worse)");
                    }
                    Some(f)
                }
            }
        })
        .collect();
    Verdict { mesh, findings }
}

/// Everything wrong with the mesh, as `meshctl analyze` reports it: every rule over the stored
/// objects (with `sources` as if they were applied), then what only the running mesh can
/// answer.
pub fn analyze(sources: &[Source], options: &Options, stored: &[Resource], live: &Live) -> Report {
    let running: Vec<RegistryEntry> = live
        .instances
        .iter()
        .map(|i| RegistryEntry {
            host: names::service_host(&i.service, &i.namespace),
            labels: i.labels.clone(),
            ports: i.ports.clone(),
        })
        .collect();
    let mut report = check_against(sources, options, stored, &|_| false, true, &running);
    live::check(&report.resources, live, &mut report.findings);
    report.sort();
    report
}

/// How much of the mesh a check sees: the input alone, whose missing pieces may live
/// elsewhere, or the whole mesh, where a missing piece is missing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Knowledge {
    Partial,
    Whole,
}

/// `Kind/namespace/name`, as findings name resources.
pub fn resource_name(r: &Resource) -> String {
    format!("{}/{}/{}", r.kind().name(), r.namespace(), r.name())
}

/// What a Kubernetes Service adds to the service registry: its host, its selector (which its
/// Pods' labels hold) and its TCP ports; whatever of those it does not say well is left out.
fn kubernetes_service(root: &Node, name: &str, namespace: &str) -> RegistryEntry {
    let service: Option<k8s_openapi::api::core::v1::Service> = serde_json::from_value(root.to_json()).ok();
    let spec = service.and_then(|s| s.spec).unwrap_or_default();
    let ports = spec
        .ports
        .iter()
        .flatten()
        .filter(|p| p.protocol.as_deref().is_none_or(|p| p == "TCP"))
        .filter_map(|p| {
            let protocol = crate::api::Protocol::select(p.app_protocol.as_deref(), p.name.as_deref());
            Some((u16::try_from(p.port).ok()?, protocol))
        })
        .collect();
    RegistryEntry { host: names::service_host(name, namespace), labels: spec.selector.unwrap_or_default(), ports }
}

/// What a Workload adds to the service registry.
fn registry_entry(resource: &Resource) -> Option<RegistryEntry> {
    match resource {
        Resource::Workload(w) => {
            // Its instances carry their service's name as `app` unless it says otherwise.
            let mut labels = w.spec.labels.clone();
            labels.entry(crate::api::APP_LABEL.into()).or_insert_with(|| w.spec.service.clone());
            Some(RegistryEntry {
                host: names::service_host(&w.spec.service, resource.namespace()),
                labels,
                ports: w.spec.ports.iter().map(|p| (p.port as u16, p.protocol())).collect(),
            })
        }
        _ => None,
    }
}

impl Report {
    fn sort(&mut self) {
        self.findings.sort_by(|a, b| {
            (&a.file, a.line, a.column, &a.resource, a.code).cmp(&(&b.file, b.line, b.column, &b.resource, b.code))
        });
        self.findings.dedup();
    }
}

/// Every document of every source, each checked on its own, and the service registry they make.
fn documents(sources: &[Source], options: &Options) -> (Report, Vec<RegistryEntry>) {
    let mut report = Report::default();
    let mut registry = Vec::new();
    for source in sources {
        let (docs, syntax) = yaml::parse(&source.text);
        for doc in docs {
            let Some(root) = doc.root else { continue };
            report.documents += 1;
            if let Some(checked) = document(root, &source.name, options, &mut report.findings, &mut registry) {
                report.resources.push(checked);
            }
        }
        if let Some(e) = syntax {
            let mut sink = Sink { file: Some(&source.name), root: None, resource: None, out: &mut report.findings };
            sink.at(e.pos, Code::YamlSyntax, format!("invalid YAML: {}", e.message));
        }
    }
    (report, registry)
}

/// Older API versions (Istio's, the Gateway API's) that name the same kinds with the same shape as v1.
const OLDER_VERSIONS: &[(&str, &str)] = &[
    ("networking.istio.io/v1beta1", "networking.istio.io/v1"),
    ("networking.istio.io/v1alpha3", "networking.istio.io/v1"),
    ("security.istio.io/v1beta1", "security.istio.io/v1"),
    ("gateway.networking.k8s.io/v1beta1", "gateway.networking.k8s.io/v1"),
];

fn document(
    root: Node,
    file: &str,
    options: &Options,
    out: &mut Vec<Finding>,
    registry: &mut Vec<RegistryEntry>,
) -> Option<Checked> {
    let sink = &mut Sink { file: Some(file), root: None, resource: None, out };
    if !matches!(root.value, Value::Map(_)) {
        sink.at(
            root.pos,
            Code::NotAnObject,
            format!(
                "expected a Kubernetes object (a mapping with apiVersion and kind), found a {}",
                root.value.type_name()
            ),
        );
        return None;
    }
    let api_version = root.get("apiVersion").and_then(Node::as_str);
    let kind_name = root.get("kind").and_then(Node::as_str);
    let (Some(mut api_version), Some(kind_name)) = (api_version, kind_name) else {
        let missing = if api_version.is_none() { "apiVersion" } else { "kind" };
        sink.at(
            root.pos,
            Code::BadType,
            format!("missing `{missing}`: every document must say what kind of object it is"),
        );
        return None;
    };
    let namespace = match root.get("metadata").and_then(|m| m.get("namespace")).and_then(Node::as_str) {
        Some(ns) => ns.to_string(),
        None => options.namespace.clone(),
    };
    let name = root.get("metadata").and_then(|m| m.get("name")).and_then(Node::as_str).unwrap_or_default();
    if let Some((old, new)) = OLDER_VERSIONS.iter().find(|(old, _)| *old == api_version)
        && Kind::from_type(new, kind_name).is_some()
    {
        sink.resource = Some(format!("{kind_name}/{namespace}/{name}"));
        sink.at(
            root.get("apiVersion").map_or(root.pos, |n| n.pos),
            Code::OldApiVersion,
            format!("{old} is an older version of {new}; meshctl reads it as {new}: update apiVersion"),
        );
        api_version = new;
    }
    let Some(kind) = Kind::from_type(api_version, kind_name) else {
        if (api_version, kind_name) == ("v1", "Service") {
            registry.push(kubernetes_service(&root, name, &namespace));
            return None;
        }
        if let Some(known) =
            Kind::ALL.into_iter().find(|k| k.name() == kind_name && same_group(k.api_version(), api_version))
        {
            // A mesh kind under a version that does not exist is most likely a typo; skipping
            // it would let a policy silently go missing.
            sink.at(
                root.get("apiVersion").map_or(root.pos, |n| n.pos),
                Code::BadType,
                format!("{api_version} has no kind {kind_name}: use apiVersion {}", known.api_version()),
            );
            return None;
        }
        let severity = if options.reject_unknown { Severity::Error } else { Severity::Info };
        sink.report(
            root.pos,
            Code::UnknownKind,
            severity,
            format!("{api_version} {kind_name} {name:?} is not a kind meshctl handles; skipped"),
        );
        return None;
    };
    // A GatewayClass belongs to the cluster, not to a namespace.
    let namespace = if kind.namespaced() { namespace } else { String::new() };
    let resource = match kind.namespaced() {
        true => format!("{}/{namespace}/{name}", kind.name()),
        false => format!("{}/{name}", kind.name()),
    };
    let sink = &mut Sink { file: Some(file), root: Some(&root), resource: Some(resource), out };
    let before = sink.errors();
    check_metadata(&root, sink);
    schema::Walker { kind, sink }.object(&root);
    if sink.errors() > before {
        return None;
    }

    let mut json = root.to_json();
    json["apiVersion"] = kind.api_version().into();
    if kind.namespaced() {
        json["metadata"]["namespace"] = namespace.into();
    }
    let resource = match kind.decode(json) {
        Ok(resource) => resource,
        Err(e) => {
            // The schema check should have caught anything serde refuses; say so plainly
            // rather than lose the document.
            sink.at(root.pos, Code::WrongType, format!("cannot read this {}: {e}", kind.name()));
            return None;
        }
    };
    rules::check(&resource, sink);
    registry.extend(registry_entry(&resource));
    Some(Checked { resource, source: Some((file.to_string(), root)) })
}

fn same_group(a: &str, b: &str) -> bool {
    a.split_once('/').map(|(g, _)| g) == b.split_once('/').map(|(g, _)| g)
}

fn check_metadata(root: &Node, sink: &mut Sink) {
    let metadata = root.get("metadata");
    match metadata.and_then(|m| m.get("name")) {
        None => sink.at(
            metadata.map_or(root.pos, |m| m.pos),
            Code::InvalidMetadata,
            "missing `metadata.name`: every object needs a name",
        ),
        Some(n) => match n.as_str() {
            Some(name) if names::is_dns_subdomain(name) => {}
            Some(name) => sink.at(
                n.pos,
                Code::InvalidMetadata,
                format!("metadata.name {name:?} is not a valid name: use lowercase letters, digits, '-' and '.'"),
            ),
            None => {} // the schema walk reports the type
        },
    }
    if let Some(n) = metadata.and_then(|m| m.get("namespace"))
        && let Some(ns) = n.as_str()
        && !names::is_dns_label(ns)
    {
        sink.at(
            n.pos,
            Code::InvalidMetadata,
            format!("metadata.namespace {ns:?} is not a valid namespace: use lowercase letters, digits and '-'"),
        );
    }
    if let Some(Value::Map(labels)) = metadata.and_then(|m| m.get("labels")).map(|l| &l.value) {
        for (key, value) in labels {
            if !names::is_label_key(&key.text) {
                sink.at(key.pos, Code::InvalidMetadata, format!("label key {:?} is not valid: use a name of letters, digits, '-', '_' and '.', with an optional DNS prefix and '/'", key.text));
            }
            if let Some(v) = value.as_str().filter(|v| !names::is_label_value(v)) {
                sink.at(value.pos, Code::InvalidMetadata, format!("label value {v:?} is not valid: at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit"));
            }
        }
    }
}

/// Where findings about one document go: it knows the file, the resource and the source
/// tree, so rules name a field path and the sink finds its line and column.
pub(crate) struct Sink<'a> {
    /// `None` for an object of the mesh: its findings have no file, line or column.
    file: Option<&'a str>,
    root: Option<&'a Node>,
    resource: Option<String>,
    out: &'a mut Vec<Finding>,
}

impl<'a> Sink<'a> {
    fn for_checked(checked: &'a Checked, out: &'a mut Vec<Finding>) -> Self {
        let (file, root) = match &checked.source {
            Some((file, root)) => (Some(file.as_str()), Some(root)),
            None => (None, None),
        };
        Sink { file, root, resource: Some(resource_name(&checked.resource)), out }
    }

    pub fn at(&mut self, pos: Pos, code: Code, message: impl Into<String>) {
        self.report(pos, code, code.severity(), message.into());
    }

    pub fn path(&mut self, path: &Path, code: Code, message: impl Into<String>) {
        self.path_as(path, code, code.severity(), message);
    }

    pub fn path_as(&mut self, path: &Path, code: Code, severity: Severity, message: impl Into<String>) {
        let pos = self.root.map_or_else(Pos::default, |root| path.locate(root));
        self.report_at(pos, Some(path), code, severity, message.into());
    }

    fn report(&mut self, pos: Pos, code: Code, severity: Severity, message: String) {
        self.report_at(pos, None, code, severity, message);
    }

    fn report_at(&mut self, pos: Pos, path: Option<&Path>, code: Code, severity: Severity, message: String) {
        let place = self.file.map(|_| pos);
        self.out.push(Finding {
            file: self.file.map(str::to_string),
            line: place.map(|p| p.line),
            column: place.map(|p| p.column),
            path: path.map(|p| p.to_string()),
            severity,
            code,
            message,
            resource: self.resource.clone(),
        });
    }

    fn errors(&self) -> usize {
        self.out.iter().filter(|f| f.severity == Severity::Error).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The codes and lines `check` reports for one YAML text.
    fn findings(text: &str) -> Vec<(Code, usize)> {
        let report = check(&[Source { name: "t.yaml".into(), text: text.into() }], &Options::default());
        report.findings.iter().map(|f| (f.code, f.line.unwrap())).collect()
    }

    fn mk_routes(matches: &[&str]) -> String {
        let mut text = String::from(
            "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: r}\nspec:\n  hosts: [profile]\n  http:\n",
        );
        for m in matches {
            match *m {
                "" => text.push_str("  - route: [{destination: {host: profile}}]\n"),
                m => text.push_str(&format!("  - match: [{m}]\n    route: [{{destination: {{host: profile}}}}]\n")),
            }
        }
        text
    }

    fn mk_peer_auth(namespace: &str, selector: Option<&str>, mode: &str) -> String {
        let selector = selector.map(|s| format!("  selector: {{matchLabels: {{{s}}}}}\n")).unwrap_or_default();
        format!(
            "---\napiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {{name: pa-{}, namespace: {namespace}}}\nspec:\n{selector}  mtls: {{mode: {mode}}}\n",
            selector.len()
        )
    }

    fn mk_workload(name: &str, namespace: &str, labels: &str) -> String {
        format!(
            "---\napiVersion: meshctl.io/v1alpha1\nkind: Workload\nmetadata: {{name: {name}, namespace: {namespace}}}\nspec: {{service: ledger, labels: {{{labels}}}, command: [x]}}\n"
        )
    }

    fn mk_disable_tls(namespace: &str) -> String {
        format!(
            "---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {{name: ledger, namespace: {namespace}}}\nspec:\n  host: ledger\n  trafficPolicy: {{tls: {{mode: DISABLE}}}}\n"
        )
    }

    #[test]
    fn a_rule_is_unreachable_only_when_earlier_rules_cover_all_of_it() {
        let shadowed = |m: &[&str]| findings(&mk_routes(m)).iter().any(|(c, _)| *c == Code::UnreachableRule);
        assert!(shadowed(&["{uri: {prefix: /api}}", "{uri: {exact: /api/users}}"]));
        // Conservative: a header match is not proven to be covered by a uri match.
        assert!(!shadowed(&["{uri: {prefix: /}}", "{headers: {x-user: {exact: a}}}"]));
        assert!(!shadowed(&["{uri: {prefix: /}}", "{uri: {regex: '.*'}}"]));
        assert!(shadowed(&["{uri: {regex: '.*'}}", "{uri: {exact: /a}}"]));
        assert!(shadowed(&["{headers: {x-user: {prefix: a}}}", "{headers: {x-user: {exact: ab}}, uri: {prefix: /x}}"]));
        assert!(!shadowed(&["{uri: {exact: /api/users}}", "{uri: {prefix: /api}}"]));
        assert!(!shadowed(&["{uri: {prefix: /api}, method: {exact: GET}}", "{uri: {prefix: /api}}"]));
        assert!(shadowed(&["", "{uri: {prefix: /api}}"]));
        assert!(!shadowed(&["{uri: {prefix: /api}}", ""]));
    }

    #[test]
    fn mtls_precedence_is_workload_then_namespace_then_mesh() {
        let conflict = |text: String| findings(&text).iter().any(|(c, _)| *c == Code::MtlsConflict);
        let mesh_strict = mk_peer_auth(crate::api::ROOT_NAMESPACE, None, "STRICT");
        let workload = mk_workload("ledger", "bank", "app: ledger");
        assert!(conflict(format!("{mesh_strict}{workload}{}", mk_disable_tls("bank"))));
        let ns_permissive = mk_peer_auth("bank", None, "PERMISSIVE");
        assert!(!conflict(format!("{mesh_strict}{ns_permissive}{workload}{}", mk_disable_tls("bank"))));
        let selected_strict = mk_peer_auth("bank", Some("app: ledger"), "STRICT");
        assert!(conflict(format!("{ns_permissive}{selected_strict}{workload}{}", mk_disable_tls("bank"))));
        let other_strict = mk_peer_auth("bank", Some("app: other"), "STRICT");
        assert!(!conflict(format!("{ns_permissive}{other_strict}{workload}{}", mk_disable_tls("bank"))));
        let unset = mk_peer_auth("bank", None, "UNSET");
        assert!(conflict(format!("{mesh_strict}{unset}{workload}{}", mk_disable_tls("bank"))));
    }

    #[test]
    fn an_export_to_that_cannot_be_is_refused_where_it_is_written() {
        let text = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: p}\nspec:\n  host: profile\n  exportTo:\n  - \"*\"\n  - \".\"\n";
        let report = check(&[Source { name: "t.yaml".into(), text: text.into() }], &Options::default());
        let found: Vec<_> = report.findings.iter().map(|f| (f.code, f.line, f.column, f.severity)).collect();
        assert_eq!(found, [(Code::ConflictingSettings, Some(7), Some(5), Severity::Error)], "{:?}", report.findings);
        assert!(report.findings[0].message.starts_with("spec.exportTo[0]: \"*\""), "{:?}", report.findings);
        // Either alone is what Istio takes.
        assert!(findings(&text.replace("  - \".\"\n", "")).is_empty());
        assert!(findings(&text.replace("  - \"*\"\n", "")).is_empty());
    }

    #[test]
    fn short_hosts_in_different_namespaces_are_different_hosts() {
        let vs = |ns: &str| {
            format!(
                "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: p, namespace: {ns}}}\nspec:\n  hosts: [profile]\n  http: [{{route: [{{destination: {{host: profile}}}}]}}]\n"
            )
        };
        assert!(findings(&format!("{}{}", vs("a"), vs("b"))).is_empty());
        assert_eq!(findings(&format!("{}{}", vs("a"), vs("a"))), [(Code::DuplicateResource, 11)]);
    }

    #[test]
    fn positions_point_at_the_offending_node() {
        let f = findings(
            "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: d}\nspec:\n  host: p\n  subsets:\n  - name: v1\n  - name: v1\n",
        );
        assert_eq!(f, [(Code::DuplicateSubset, 8)]);
        let report = check(&[Source { name: "t.yaml".into(), text: "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: d}\nspec:\n  host: p\n  subsets:\n  - name: v1\n  - name: v1\n".into() }], &Options::default());
        assert_eq!(report.findings[0].column, Some(5));
    }

    #[test]
    fn a_document_with_schema_errors_yields_no_resource() {
        let report = check(
            &[Source { name: "t.yaml".into(), text: mk_routes(&[""]).replace("hosts:", "hostz:") }],
            &Options::default(),
        );
        assert!(report.resources.is_empty());
        assert_eq!(report.documents, 1);
    }
}

#[cfg(test)]
mod change_tests {
    use super::*;

    fn mk_stored(text: &str) -> Vec<Resource> {
        let report = check(&[Source { name: "stored.yaml".into(), text: text.into() }], &Options::default());
        assert_eq!(report.count(Severity::Error), 0, "{:?}", report.findings);
        report.resources.into_iter().map(|c| c.resource).collect()
    }

    fn mk_change(stored: &[Resource], input: &str) -> Report {
        check_change(
            &[Source { name: "in.yaml".into(), text: input.into() }],
            &Options::default(),
            stored,
            &|_| false,
            false,
        )
    }

    const WORKLOADS: &str = "apiVersion: meshctl.io/v1alpha1\nkind: Workload\nmetadata: {name: p1}\nspec: {service: profile, labels: {version: v1}, command: [x]}\n---\napiVersion: meshctl.io/v1alpha1\nkind: Workload\nmetadata: {name: p3}\nspec: {service: profile, labels: {version: v3}, command: [x]}\n";
    const SPLIT: &str = "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: profile}\nspec:\n  hosts: [profile]\n  http:\n  - route:\n    - {destination: {host: profile, subset: v1}, weight: 100}\n    - {destination: {host: profile, subset: v3}, weight: 0}\n---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: profile}\nspec:\n  host: profile\n  subsets:\n  - {name: v1, labels: {version: v1}}\n  - {name: v3, labels: {version: v3}}\n";
    const BREAKER: &str = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: profile}\nspec:\n  host: profile\n  trafficPolicy: {outlierDetection: {consecutive5xxErrors: 2}}\n";

    #[test]
    fn a_rule_that_drops_subsets_breaks_the_stored_routes_and_names_both() {
        let stored = mk_stored(&format!("{WORKLOADS}{SPLIT}"));
        let report = mk_change(&stored, BREAKER);
        let broken: Vec<_> = report.findings.iter().filter(|f| f.severity == Severity::Error).collect();
        assert_eq!(broken.len(), 2, "{broken:?}");
        for f in broken {
            assert_eq!(f.code, Code::UndefinedSubset);
            assert_eq!(f.resource.as_deref(), Some("VirtualService/default/profile"));
            assert_eq!(f.file, None);
            assert!(f.message.contains("DestinationRule default/profile (in.yaml:1)"), "{}", f.message);
        }
        // The same rule with the subsets kept is fine.
        let keeps = BREAKER.to_string()
            + "  subsets:\n  - {name: v1, labels: {version: v1}}\n  - {name: v3, labels: {version: v3}}\n";
        assert!(mk_change(&stored, &keeps).findings.is_empty());
    }

    #[test]
    fn a_second_route_for_a_stored_host_is_reported_on_the_input() {
        let stored = mk_stored(&format!("{WORKLOADS}{SPLIT}"));
        let other = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: other}\nspec:\n  hosts: [profile]\n  http: [{route: [{destination: {host: profile}}]}]\n";
        let report = mk_change(&stored, other);
        assert_eq!(report.findings.len(), 1, "{:?}", report.findings);
        let f = &report.findings[0];
        assert_eq!((f.code, f.file.as_deref(), f.line), (Code::DuplicateHost, Some("in.yaml"), Some(5)));
        assert!(f.message.contains("VirtualService default/profile (in the mesh)"), "{}", f.message);
    }

    #[test]
    fn removing_the_rule_that_defines_routed_subsets_is_an_error() {
        let stored = mk_stored(&format!("{WORKLOADS}{SPLIT}"));
        let removed = |r: &Resource| r.kind() == Kind::DestinationRule;
        let report = check_change(&[], &Options::default(), &stored, &removed, false);
        assert_eq!(report.count(Severity::Error), 2, "{:?}", report.findings);
        assert!(report.findings.iter().all(|f| f.resource.as_deref() == Some("VirtualService/default/profile")));
    }

    #[test]
    fn what_was_already_wrong_with_the_mesh_does_not_block_an_unrelated_change() {
        // A route to a subset no rule defines (stored by an older meshctl, say).
        let stored = mk_stored(&format!(
            "{WORKLOADS}{}",
            &SPLIT[..SPLIT.find("---\napiVersion: networking.istio.io/v1\nkind: DestinationRule").unwrap()]
        ));
        let unrelated = "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default}\nspec: {mtls: {mode: STRICT}}\n";
        assert!(mk_change(&stored, unrelated).findings.is_empty());
        // ... but `analyze` (all findings) reports it.
        let all = check_change(&[], &Options::default(), &stored, &|_| false, true);
        assert_eq!(all.count(Severity::Error), 2, "{:?}", all.findings);
    }

    #[test]
    fn an_older_problem_neither_hides_a_new_one_nor_blocks_a_reapply() {
        // profile's routes already name v9, which no rule defines.
        let broken = SPLIT.replace("subset: v3}, weight: 0", "subset: v9}, weight: 0");
        let stored = mk_stored_loose(&format!("{WORKLOADS}{broken}"));
        // Dropping v1 as well is new breakage on the same object, and refused.
        let report = mk_change(&stored, BREAKER);
        let errors: Vec<_> = report.findings.iter().filter(|f| f.severity == Severity::Error).collect();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].message.contains("\"v1\""), "{}", errors[0].message);
        // Re-applying one of two VirtualServices that already route the same host is no worse.
        let other = "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: other}\nspec:\n  hosts: [profile]\n  http: [{route: [{destination: {host: profile}}]}]\n";
        let stored =
            mk_stored(&format!("{WORKLOADS}{SPLIT}")).into_iter().chain(mk_stored_loose(other)).collect::<Vec<_>>();
        let vs = &SPLIT[..SPLIT.find("---\napiVersion: networking.istio.io/v1\nkind: DestinationRule").unwrap()];
        let report = mk_change(&stored, vs);
        assert_eq!(report.count(Severity::Error), 0, "{:?}", report.findings);
    }

    /// Objects as a store may hold them: decoded without the cross-resource rules.
    fn mk_stored_loose(text: &str) -> Vec<Resource> {
        check(&[Source { name: "stored.yaml".into(), text: text.into() }], &Options::default())
            .resources
            .into_iter()
            .map(|c| c.resource)
            .collect()
    }

    #[test]
    fn a_finished_canary_may_lose_its_subsets_but_a_running_one_may_not() {
        let canary = |phase: &str| {
            format!(
                "---\napiVersion: meshctl.io/v1alpha1\nkind: Canary\nmetadata: {{name: profile}}\nspec: {{service: profile, stable: v1, canary: v3}}\nstatus: {{phase: {phase}}}\n"
            )
        };
        let only_v1 = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: profile}\nspec:\n  host: profile\n  subsets: [{name: v1, labels: {version: v1}}]\n---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: profile}\nspec:\n  hosts: [profile]\n  http: [{route: [{destination: {host: profile, subset: v1}}]}]\n";
        let stored = mk_stored(&format!("{WORKLOADS}{SPLIT}{}", canary("Promoted")));
        assert!(mk_change(&stored, only_v1).findings.is_empty());
        let stored = mk_stored(&format!("{WORKLOADS}{SPLIT}{}", canary("Progressing")));
        let report = mk_change(&stored, only_v1);
        assert!(
            report.findings.iter().any(|f| f.resource.as_deref() == Some("Canary/default/profile")),
            "{:?}",
            report.findings
        );
    }

    #[test]
    fn typed_objects_are_checked_with_the_stored_mesh() {
        let stored = mk_stored(&format!("{WORKLOADS}{SPLIT}"));
        let canary = |to: &str| {
            crate::generate::canary(&crate::generate::CanaryRollout {
                service: "profile".into(),
                namespace: "default".into(),
                stable: "v1".into(),
                canary: to.into(),
                steps: vec![10, 50, 100],
                interval: "30s".parse().unwrap(),
                min_success_rate: 99.0,
                max_p99: None,
                min_requests: 20,
                sequential_test: true,
                api: crate::api::meshctl::RouteApi::Istio,
            })
        };
        assert!(check_objects(&canary("v3"), &stored).is_empty());
        let findings = check_objects(&canary("v9"), &stored);
        assert_eq!(findings.iter().map(|f| f.code).collect::<Vec<_>>(), [Code::UndefinedSubset]);
    }
}
