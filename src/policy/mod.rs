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
mod mesh;
mod names;
mod path;
mod rules;
mod schema;
mod selector;

use crate::api::yaml::{self, Node, Pos, Value};
use crate::api::{Kind, Resource};

pub use finding::{Code, Finding, Severity};
pub use names::{DOMAIN_SUFFIX, ROOT_NAMESPACE, host_namespace, resolve_host, service_host};
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
    pub file: String,
    root: Node,
}

impl Checked {
    /// `file:line` of the document, for findings that point at another resource.
    pub fn location(&self) -> String {
        format!("{}:{}", self.file, self.root.pos.line)
    }
}

/// A Kubernetes Service or meshctl Workload seen in the input: together they are the service
/// registry, and when there is one, hosts are checked against it.
#[derive(Clone, Debug, PartialEq)]
struct RegistryEntry {
    host: String,
    labels: std::collections::BTreeMap<String, String>,
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
            let mut sink = Sink { file: &source.name, root: None, resource: None, out: &mut report.findings };
            sink.at(e.pos, Code::YamlSyntax, format!("invalid YAML: {}", e.message));
        }
    }
    mesh::check(&report.resources, &registry, &mut report.findings);
    report.findings.sort_by(|a, b| (&a.file, a.line, a.column, a.code).cmp(&(&b.file, b.line, b.column, b.code)));
    report.findings.dedup();
    report
}

/// Istio API versions that name the same kinds with the same shape as v1.
const OLDER_VERSIONS: &[(&str, &str)] = &[
    ("networking.istio.io/v1beta1", "networking.istio.io/v1"),
    ("networking.istio.io/v1alpha3", "networking.istio.io/v1"),
    ("security.istio.io/v1beta1", "security.istio.io/v1"),
];

fn document(
    root: Node,
    file: &str,
    options: &Options,
    out: &mut Vec<Finding>,
    registry: &mut Vec<RegistryEntry>,
) -> Option<Checked> {
    let sink = &mut Sink { file, root: None, resource: None, out };
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
            registry.push(RegistryEntry { host: names::service_host(name, &namespace), labels: Default::default() });
            return None;
        }
        if let Some(known) = Kind::from_name(kind_name).filter(|k| same_group(k.api_version(), api_version)) {
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
    let sink =
        &mut Sink { file, root: Some(&root), resource: Some(format!("{}/{namespace}/{name}", kind.name())), out };
    let before = sink.errors();
    check_metadata(&root, sink);
    schema::Walker { kind, sink }.object(&root);
    if sink.errors() > before {
        return None;
    }

    let mut json = root.to_json();
    json["apiVersion"] = kind.api_version().into();
    json["metadata"]["namespace"] = namespace.into();
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
    if let Resource::Workload(w) = &resource {
        registry.push(RegistryEntry {
            host: names::service_host(&w.spec.service, resource.namespace()),
            labels: w.spec.labels.clone(),
        });
    }
    Some(Checked { resource, file: file.to_string(), root })
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
    file: &'a str,
    root: Option<&'a Node>,
    resource: Option<String>,
    out: &'a mut Vec<Finding>,
}

impl<'a> Sink<'a> {
    fn for_checked(checked: &'a Checked, out: &'a mut Vec<Finding>) -> Self {
        let r = &checked.resource;
        Sink {
            file: &checked.file,
            root: Some(&checked.root),
            resource: Some(format!("{}/{}/{}", r.kind().name(), r.namespace(), r.name())),
            out,
        }
    }

    pub fn at(&mut self, pos: Pos, code: Code, message: impl Into<String>) {
        self.report(pos, code, code.severity(), message.into());
    }

    pub fn path(&mut self, path: &Path, code: Code, message: impl Into<String>) {
        self.path_as(path, code, code.severity(), message);
    }

    pub fn path_as(&mut self, path: &Path, code: Code, severity: Severity, message: impl Into<String>) {
        let pos = self.root.map_or_else(Pos::default, |root| path.locate(root));
        self.report(pos, code, severity, message.into());
    }

    fn report(&mut self, pos: Pos, code: Code, severity: Severity, message: String) {
        self.out.push(Finding {
            file: self.file.to_string(),
            line: pos.line,
            column: pos.column,
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
        report.findings.iter().map(|f| (f.code, f.line)).collect()
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
        let mesh_strict = mk_peer_auth(ROOT_NAMESPACE, None, "STRICT");
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
        assert_eq!(report.findings[0].column, 5);
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
