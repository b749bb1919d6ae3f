//! Rules across resources: subsets that routes name, hosts routed twice, TLS settings that a
//! destination's PeerAuthentication would refuse, hosts missing from the service registry.

use std::collections::HashMap;

use super::finding::{Code, Finding, Severity};
use super::names;
use super::path::{Path, field};
use super::{Checked, Knowledge, RegistryEntry, Sink};
use crate::api::Resource;
use crate::api::meshctl::{CanaryPhase, RouteApi};
use crate::api::networking::{ClientTlsMode, Destination, DestinationRule, Exported, SidecarSpec, TrafficPolicy};
use crate::api::security::{
    Action, AuthorizationPolicy, MtlsMode, PeerAuthentication, Rule as SecurityRule, RuleField, decide_mtls,
};
use crate::api::{Protocol, ROOT_NAMESPACE};

/// The cross-resource rules over `resources`, with the service `registry` they name hosts
/// from, and the workloads known to be `running` besides.
pub(super) fn check(
    resources: &[Checked],
    registry: &[RegistryEntry],
    running: &[RegistryEntry],
    knowledge: Knowledge,
    out: &mut Vec<Finding>,
) {
    let rules: Vec<Rule> = resources
        .iter()
        .filter_map(|c| match &c.resource {
            Resource::DestinationRule(dr) => {
                Some((c, &**dr, names::resolve_host(&dr.spec.host, c.resource.namespace())))
            }
            _ => None,
        })
        .collect();
    let mut by_host: HashMap<&str, Vec<&Rule>> = HashMap::new();
    let mut wildcard = Vec::new();
    for rule in &rules {
        match rule.2.contains('*') {
            true => wildcard.push(rule),
            false => by_host.entry(rule.2.as_str()).or_default().push(rule),
        }
    }
    let mesh = Mesh { by_host, wildcard, registry, running, resources, knowledge };
    let mut seen: HashMap<(&str, &str, &str), &Checked> = HashMap::new();
    let mut sidecars: Vec<&Checked> = Vec::new();
    let mut routed: HashMap<String, &Checked> = HashMap::new();
    // Where a VirtualService and HTTPRoutes route one Service, the VirtualService is used.
    let virtually_routed: HashMap<String, &Checked> = resources
        .iter()
        .filter_map(|c| match &c.resource {
            Resource::VirtualService(vs) if vs.spec.in_mesh() => Some((vs, c)),
            _ => None,
        })
        .flat_map(|(vs, c)| vs.spec.hosts.iter().map(move |h| (names::resolve_host(h, c.resource.namespace()), c)))
        .collect();
    for checked in resources {
        let mut sink = Sink::for_checked(checked, out);
        let r = &checked.resource;
        let key = (r.kind().name(), r.namespace(), r.name());
        if let Some(first) = seen.insert(key, checked) {
            sink.path(
                &field!["metadata", "name"],
                Code::DuplicateResource,
                format!("{}/{}/{} is also defined at {}; keep one", key.0, key.1, key.2, first.location()),
            );
        }
        match r {
            Resource::VirtualService(vs) => {
                let ns = r.namespace();
                for (i, (g_ns, g_name)) in vs.spec.bound_gateways(ns) {
                    let known = resources.iter().any(|c| {
                        matches!(c.resource, Resource::IstioGateway(_))
                            && c.resource.namespace() == g_ns
                            && c.resource.name() == g_name
                    });
                    if !known && mesh.knowledge == Knowledge::Whole {
                        let at = field!["spec", "gateways", i];
                        sink.path(&at, Code::UnknownGateway, format!("{at}: no Gateway {g_ns}/{g_name} in the mesh, so nothing these routes serve is reached; apply the Gateway, or name it as `NAMESPACE/NAME`"));
                    }
                }
                for (i, host) in vs.spec.hosts.iter().enumerate() {
                    let fqdn = names::resolve_host(host, ns);
                    mesh.known_host(&fqdn, &field!["spec", "hosts", i], &mut sink);
                    if let Some(other) = routed.get(&fqdn).filter(|other| other.key() != checked.key()) {
                        sink.path(
                            &field!["spec", "hosts", i],
                            Code::DuplicateHost,
                            format!("host {fqdn} is also routed by VirtualService {}/{} ({}); merge the two into one VirtualService", other.resource.namespace(), other.resource.name(), other.location()),
                        );
                    }
                    routed.entry(fqdn).or_insert(checked);
                }
                let exported = Exported::new(&vs.spec.export_to, ns);
                let callers = mesh.callers(exported, vs.spec.hosts.iter().map(|h| names::resolve_host(h, ns)));
                let destination = |dest: &Destination, at: &Path, sink: &mut Sink| {
                    mesh.destination(dest, ns, at, sink);
                    mesh.seen_by(&names::resolve_host(&dest.host, ns), &callers, &at.child("host"), sink);
                };
                for (h, route) in vs.spec.http.iter().enumerate() {
                    let at = field!["spec", "http", h];
                    for (d, dest) in route.route.iter().enumerate() {
                        destination(&dest.destination, &at.child("route").child(d).child("destination"), &mut sink);
                    }
                    if let Some(mirror) = &route.mirror {
                        destination(mirror, &at.child("mirror"), &mut sink);
                    }
                }
                for (kind, rules) in [
                    ("tcp", vs.spec.tcp.iter().map(|r| &r.route).collect::<Vec<_>>()),
                    ("tls", vs.spec.tls.iter().map(|r| &r.route).collect()),
                ] {
                    for (t, route) in rules.into_iter().enumerate() {
                        for (d, dest) in route.iter().enumerate() {
                            destination(
                                &dest.destination,
                                &field!["spec", kind, t, "route", d, "destination"],
                                &mut sink,
                            );
                        }
                    }
                }
            }
            Resource::HTTPRoute(route) => {
                let ns = r.namespace();
                for (i, parent) in route.spec.parent_refs.iter().enumerate().filter(|(_, p)| p.is_service()) {
                    let fqdn = names::service_host(&parent.name, parent.namespace.as_deref().unwrap_or(ns));
                    mesh.known_host(&fqdn, &field!["spec", "parentRefs", i, "name"], &mut sink);
                    mesh.known_port(&fqdn, parent.port, &field!["spec", "parentRefs", i, "port"], &mut sink);
                    if let Some(vs) = virtually_routed.get(&fqdn) {
                        let (ns, name) = (vs.resource.namespace(), vs.resource.name());
                        sink.path(
                            &field!["spec", "parentRefs", i],
                            Code::RouteOverridden,
                            format!("VirtualService {ns}/{name} ({}) also routes {fqdn}, and the VirtualService wins: this route is not used (as Istio advises, route one Service with one API); remove one of them", vs.location()),
                        );
                    }
                }
                for (i, rule) in route.spec.rules.iter().enumerate() {
                    for (b, backend) in rule.backend_refs.iter().enumerate().filter(|(_, b)| b.is_service()) {
                        let fqdn = names::service_host(&backend.name, backend.namespace.as_deref().unwrap_or(ns));
                        let at = field!["spec", "rules", i, "backendRefs", b];
                        mesh.known_host(&fqdn, &at.child("name"), &mut sink);
                        mesh.known_port(&fqdn, backend.port, &at.child("port"), &mut sink);
                    }
                }
            }
            Resource::DestinationRule(dr) => {
                let fqdn = names::resolve_host(&dr.spec.host, r.namespace());
                mesh.known_host(&fqdn, &field!["spec", "host"], &mut sink);
                if let Some(policy) = &dr.spec.traffic_policy {
                    mesh.client_tls(&fqdn, None, policy, &field!["spec", "trafficPolicy"], &mut sink);
                }
                for (i, subset) in dr.spec.subsets.iter().enumerate() {
                    if let Some(policy) = &subset.traffic_policy {
                        let at = field!["spec", "subsets", i, "trafficPolicy"];
                        mesh.client_tls(&fqdn, Some(&subset.labels), policy, &at, &mut sink);
                    }
                }
            }
            Resource::Sidecar(sidecar) => {
                let ns = r.namespace();
                let same = sidecars.iter().filter(|c| c.resource.namespace() == ns).find_map(|c| match &c.resource {
                    Resource::Sidecar(other) => mesh.overlap(ns, &sidecar.spec, &other.spec).map(|why| (c, why)),
                    _ => None,
                });
                if let Some((other, why)) = same {
                    sink.path(
                        &field!["spec"],
                        Code::ConflictingSidecars,
                        format!("Sidecar {ns}/{} ({}) also applies to {why}, and a workload takes one Sidecar only; merge the two, or give each a workloadSelector that picks other workloads", other.resource.name(), other.location()),
                    );
                }
                sidecars.push(checked);
            }
            Resource::AuthorizationPolicy(ap) => {
                for (i, rule) in ap.spec.rules.iter().enumerate() {
                    mesh.http_rule_on_tcp(ap, r.namespace(), rule, &field!["spec", "rules", i], &mut sink);
                }
            }
            // A finished rollout is history: its subsets may go.
            Resource::Canary(canary)
                if !canary.status.as_ref().and_then(|s| s.phase).is_some_and(CanaryPhase::is_finished) =>
            {
                let fqdn = names::resolve_host(&canary.spec.service, r.namespace());
                mesh.known_host(&fqdn, &field!["spec", "service"], &mut sink);
                for (field, part) in [("stable", &canary.spec.stable), ("canary", &canary.spec.canary)] {
                    match canary.spec.api {
                        RouteApi::Istio => mesh.subset(&fqdn, part, &field!["spec", field], &mut sink),
                        RouteApi::Gateway => {
                            let service = names::service_host(part, r.namespace());
                            mesh.known_host(&service, &field!["spec", field], &mut sink);
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

/// A DestinationRule with its host resolved.
type Rule<'a> = (&'a Checked, &'a DestinationRule, String);

struct Mesh<'a> {
    /// DestinationRules by exact host, and those with a wildcard host.
    by_host: HashMap<&'a str, Vec<&'a Rule<'a>>>,
    wildcard: Vec<&'a Rule<'a>>,
    registry: &'a [RegistryEntry],
    /// Running workloads (a cluster's Pods), which the stored objects do not describe.
    running: &'a [RegistryEntry],
    resources: &'a [Checked],
    knowledge: Knowledge,
}

impl Mesh<'_> {
    /// The namespaces whose proxies take a VirtualService `exported` so for `hosts`: those it
    /// is exported to that see one of the hosts.
    fn callers(&self, exported: Exported, hosts: impl Iterator<Item = String>) -> Exported {
        let mut seeing = Some(std::collections::BTreeSet::new());
        for host in hosts {
            match (self.exported(&host), seeing.as_mut()) {
                (Exported::Everywhere, _) => seeing = None,
                (Exported::To(namespaces), Some(seeing)) => seeing.extend(namespaces),
                (Exported::To(_), None) => {}
            }
        }
        match (exported, seeing) {
            (exported, None) => exported,
            (Exported::Everywhere, Some(seeing)) => Exported::To(seeing),
            (Exported::To(to), Some(seeing)) => Exported::To(to.intersection(&seeing).cloned().collect()),
        }
    }

    /// The namespaces whose proxies see `fqdn`, as far as the input says: a ServiceEntry's
    /// `exportTo`; every namespace for a service it says nothing of.
    fn exported(&self, fqdn: &str) -> Exported {
        let entry = self.resources.iter().find_map(|c| match &c.resource {
            Resource::ServiceEntry(se) if se.spec.hosts.iter().any(|h| h == fqdn) => Some((se, c.resource.namespace())),
            _ => None,
        });
        entry.map_or(Exported::Everywhere, |(se, ns)| Exported::new(&se.spec.export_to, ns))
    }

    /// Reports a destination `fqdn` that some of a route's `callers` do not see: their sidecars
    /// have no cluster for it.
    fn seen_by(&self, fqdn: &str, callers: &Exported, at: &Path, sink: &mut Sink) {
        let Exported::To(seeing) = self.exported(fqdn) else { return };
        let blind: Vec<&str> = match callers {
            Exported::Everywhere => vec!["every other namespace"],
            Exported::To(callers) => callers.difference(&seeing).map(String::as_str).collect(),
        };
        if blind.is_empty() {
            return;
        }
        let seeing: Vec<&str> = seeing.iter().map(String::as_str).collect();
        let seeing = if seeing.is_empty() { "no namespace".to_string() } else { seeing.join(", ") };
        sink.path(
            at,
            Code::HiddenHost,
            format!("{at}: {fqdn} is exported to {seeing} only, but this route also serves callers in {}, whose requests to it fail (503); export it to them, or send them elsewhere", blind.join(", ")),
        );
    }

    /// What two Sidecars of `namespace` both apply to, if anything: the namespace's workloads
    /// without a Sidecar of their own (both without a selector), or workloads both select.
    fn overlap(&self, namespace: &str, a: &SidecarSpec, b: &SidecarSpec) -> Option<String> {
        if a.is_default() && b.is_default() {
            return Some(format!("the workloads of {namespace} that no Sidecar selects"));
        }
        let selector = |s: &SidecarSpec| s.workload_selector.as_ref().map(|w| w.labels.clone());
        if selector(a) == selector(b) {
            return Some("the workloads its selector picks".into());
        }
        let both = self.registry.iter().chain(self.running).find(|e| {
            names::host_namespace(&e.host) == Some(namespace) && a.selects(&e.labels) && b.selects(&e.labels)
        });
        both.map(|e| format!("the workloads of {} it selects", e.host))
    }

    /// Reports a rule with HTTP-only fields when every port it is about (those it names, else
    /// all) of every workload the policy selects carries TCP: a connection has no path or
    /// method, so an ALLOW rule never matches and a DENY rule denies it all (Istio,
    /// <https://istio.io/latest/docs/tasks/security/authorization/authz-tcp/>).
    fn http_rule_on_tcp(
        &self,
        policy: &AuthorizationPolicy,
        namespace: &str,
        rule: &SecurityRule,
        at: &Path,
        sink: &mut Sink,
    ) {
        let fields = rule.http_only_fields();
        if fields.is_empty() {
            return;
        }
        let selector = policy.spec.selector.as_ref();
        let selected = self.registry.iter().chain(self.running).filter(|e| {
            (namespace == ROOT_NAMESPACE || names::host_namespace(&e.host) == Some(namespace))
                && selector.is_none_or(|s| s.selects(&e.labels))
        });
        let named: Vec<u16> = rule.to.iter().flat_map(|t| &t.operation.ports).filter_map(|p| p.parse().ok()).collect();
        let ports: Vec<&(u16, Protocol)> =
            selected.flat_map(|e| &e.ports).filter(|(n, _)| named.is_empty() || named.contains(n)).collect();
        if ports.is_empty() || ports.iter().any(|(_, protocol)| protocol.is_http()) {
            return;
        }
        let mut numbers: Vec<u16> = ports.iter().map(|(n, _)| *n).collect();
        numbers.sort_unstable();
        numbers.dedup();
        let numbers: Vec<String> = numbers.iter().map(u16::to_string).collect();
        let outcome = match policy.spec.action.unwrap_or(Action::Allow) {
            Action::Deny => "this DENY rule would deny every connection",
            _ => "this ALLOW rule would never match",
        };
        for place in fields {
            let path = match place {
                RuleField::To(i, name) => at.child("to").child(i).child("operation").child(name),
                RuleField::From(i, name) => at.child("from").child(i).child("source").child(name),
                RuleField::When(i) => at.child("when").child(i).child("key"),
            };
            sink.path(
                &path,
                Code::HttpRuleOnTcp,
                format!(
                    "{path}: the workloads this policy selects serve port(s) {} over TCP, where a connection has no \
                     HTTP request to match, so {outcome}; match on principals, namespaces, ipBlocks or ports, \
                     or name the port for HTTP (`http-...` or appProtocol)",
                    numbers.join(", ")
                ),
            );
        }
    }

    /// Reports a `port` that the registry's service of `fqdn` does not have (a host it does not
    /// know is [`Self::known_host`]'s to report).
    fn known_port(&self, fqdn: &str, port: Option<u16>, at: &Path, sink: &mut Sink) {
        let Some(port) = port else { return };
        let entries: Vec<&RegistryEntry> = self.registry.iter().filter(|e| e.host == fqdn).collect();
        if entries.is_empty() || entries.iter().any(|e| e.ports.iter().any(|(n, _)| *n == port)) {
            return;
        }
        let mut ports: Vec<String> = entries.iter().flat_map(|e| &e.ports).map(|(n, _)| n.to_string()).collect();
        ports.sort();
        ports.dedup();
        sink.path(
            at,
            Code::UnknownHost,
            format!("{fqdn} has no port {port}; use one of its ports: {}", ports.join(", ")),
        );
    }

    /// Reports a host no registered service or ServiceEntry provides. The input's registry
    /// speaks only for the namespaces it has services in; a host outside the cluster domain is
    /// served only by a ServiceEntry, so any registry speaks for it.
    fn known_host(&self, fqdn: &str, at: &Path, sink: &mut Sink) {
        let covered = match names::host_namespace(fqdn) {
            Some(ns) => self.registry.iter().any(|e| names::host_namespace(&e.host) == Some(ns)),
            None => !self.registry.is_empty(),
        };
        let entered =
            |c: &Checked| matches!(&c.resource, Resource::ServiceEntry(se) if se.spec.hosts.iter().any(|h| h == fqdn));
        if !covered
            || fqdn.contains('*')
            || self.registry.iter().any(|e| e.host == fqdn)
            || self.resources.iter().any(entered)
        {
            return;
        }
        let entries = self.resources.iter().flat_map(|c| match &c.resource {
            Resource::ServiceEntry(se) => se.spec.hosts.as_slice(),
            _ => &[],
        });
        let hosts = self.registry.iter().map(|e| e.host.as_str()).chain(entries.map(String::as_str));
        let hint = names::nearest(fqdn, hosts).map(|h| format!("did you mean {h}? ")).unwrap_or_default();
        let place = match self.knowledge {
            Knowledge::Partial => "the input",
            Knowledge::Whole => "the mesh",
        };
        sink.path(
            at,
            Code::UnknownHost,
            format!(
                "no service in {place} provides {fqdn}; {hint}define it with a Workload, Service or ServiceEntry, or fix the name"
            ),
        );
    }

    fn destination(&self, dest: &Destination, namespace: &str, at: &Path, sink: &mut Sink) {
        let fqdn = names::resolve_host(&dest.host, namespace);
        self.known_host(&fqdn, &at.child("host"), sink);
        if let Some(subset) = &dest.subset {
            self.subset(&fqdn, subset, &at.child("subset"), sink);
        }
    }

    /// A subset must be defined by a DestinationRule for its host. With no rule for the host in
    /// the input, the rule may live elsewhere, so that is only a warning; in the whole mesh, an
    /// error.
    fn subset(&self, fqdn: &str, subset: &str, at: &Path, sink: &mut Sink) {
        let exact = self.by_host.get(fqdn).into_iter().flatten();
        let rules: Vec<_> =
            exact.chain(self.wildcard.iter().filter(|(_, _, host)| crate::api::host_matches(host, fqdn))).collect();
        if rules.is_empty() && self.knowledge == Knowledge::Whole {
            sink.path(
                at,
                Code::UndefinedSubset,
                format!("no DestinationRule in the mesh defines subset {subset:?} of {fqdn}, so requests to it fail (503); define it in a DestinationRule for {fqdn}"),
            );
            return;
        }
        if rules.is_empty() {
            sink.path_as(
                at,
                Code::UndefinedSubset,
                Severity::Warning,
                format!("no DestinationRule for {fqdn} in the input defines subset {subset:?}; requests to it fail (503) until one does"),
            );
            return;
        }
        if !rules.iter().any(|(_, dr, _)| dr.spec.subsets.iter().any(|s| s.name == subset)) {
            let (checked, dr, _) = rules[0];
            let defined: Vec<&str> = dr.spec.subsets.iter().map(|s| s.name.as_str()).collect();
            let hint = names::nearest(subset, defined.iter().copied())
                .map(|n| format!("did you mean {n:?}? "))
                .unwrap_or_default();
            sink.path(
                at,
                Code::UndefinedSubset,
                format!("subset {subset:?} is not defined by DestinationRule {}/{} ({}), which has [{}]; {hint}add it there or fix the name", checked.resource.namespace(), checked.resource.name(), checked.location(), defined.join(", ")),
            );
        }
    }

    /// Client TLS to a host must agree with what its workloads accept: plaintext to a STRICT
    /// workload, or mTLS to one that has mTLS disabled, fails every request.
    fn client_tls(
        &self,
        fqdn: &str,
        subset: Option<&std::collections::BTreeMap<String, String>>,
        policy: &TrafficPolicy,
        at: &Path,
        sink: &mut Sink,
    ) {
        let Some(mode) = policy.tls.as_ref().and_then(|t| t.mode) else { return };
        let Some(namespace) = names::host_namespace(fqdn) else { return };
        let service_labels: Vec<_> = self
            .registry
            .iter()
            .filter(|e| e.host == fqdn)
            .filter(|e| subset.is_none_or(|want| crate::api::has_labels(want, &e.labels)))
            .map(|e| &e.labels)
            .collect();
        let Some((server, source)) = self.server_mode(namespace, &service_labels) else { return };
        let conflict = match (mode, server) {
            (ClientTlsMode::Disable, MtlsMode::Strict) => "DISABLE sends plaintext, but {fqdn} accepts mTLS only",
            (ClientTlsMode::Simple, MtlsMode::Strict) => {
                "SIMPLE sends TLS without a mesh certificate, but {fqdn} accepts mTLS only"
            }
            (ClientTlsMode::IstioMutual, MtlsMode::Disable) => {
                "ISTIO_MUTUAL sends mTLS, but {fqdn} accepts plaintext only"
            }
            _ => return,
        };
        sink.path(
            &at.child("tls").child("mode"),
            Code::MtlsConflict,
            format!(
                "tls.mode {} ({source}); every request would fail: remove tls.mode, or change the PeerAuthentication",
                conflict.replace("{fqdn}", fqdn)
            ),
        );
    }

    /// The mode workloads in `namespace` (with any of `labels`, when known) accept, and the
    /// PeerAuthentication that decides it: workload selector first, then namespace, then mesh.
    fn server_mode(
        &self,
        namespace: &str,
        labels: &[&std::collections::BTreeMap<String, String>],
    ) -> Option<(MtlsMode, String)> {
        let policies: Vec<(&Checked, &PeerAuthentication)> = self
            .resources
            .iter()
            .filter_map(|c| match &c.resource {
                Resource::PeerAuthentication(pa) => Some((c, &**pa)),
                _ => None,
            })
            .collect();
        let describe = |c: &Checked| {
            format!("PeerAuthentication {}/{} at {}", c.resource.namespace(), c.resource.name(), c.location())
        };
        let selects =
            |s: &crate::api::security::WorkloadSelector| !labels.is_empty() && labels.iter().all(|l| s.selects(l));
        decide_mtls(policies.iter().map(|(_, pa)| *pa), namespace, selects)
            .map(|(i, mode)| (mode, describe(policies[i].0)))
    }
}
