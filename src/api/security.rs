//! `security.istio.io/v1`: PeerAuthentication (mTLS modes), AuthorizationPolicy (who may call
//! what) and RequestAuthentication (which JWTs are accepted), with Istio's field names.

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Selects workloads by their labels; no selector means every workload in the namespace (or,
/// in the root namespace, the whole mesh).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadSelector {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
}

/// What a workload's sidecar accepts: mTLS only, mTLS and plaintext, or plaintext.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "security.istio.io",
    version = "v1",
    kind = "PeerAuthentication",
    doc = "Istio PeerAuthentication: the mTLS mode workloads accept",
    namespaced,
    shortname = "pa"
)]
#[serde(rename_all = "camelCase")]
pub struct PeerAuthenticationSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<WorkloadSelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtls: Option<MutualTls>,
    /// Per-port overrides, keyed by the workload's port number. The keys are strings, as in
    /// JSON; a structural CRD schema cannot constrain them, so validation checks they are ports.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub port_level_mtls: BTreeMap<String, MutualTls>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MutualTls {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<MtlsMode>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MtlsMode {
    /// Inherit from the parent (namespace, then mesh); PERMISSIVE when nothing is set.
    Unset,
    Disable,
    Permissive,
    Strict,
}

impl WorkloadSelector {
    /// Whether a workload with `labels` is selected.
    pub fn selects(&self, labels: &BTreeMap<String, String>) -> bool {
        super::has_labels(&self.match_labels, labels)
    }
}

impl PeerAuthentication {
    /// The mode this policy sets, if it sets one (UNSET defers to the parent).
    pub fn mode(&self) -> Option<MtlsMode> {
        self.spec.mtls.as_ref().and_then(|m| m.mode).filter(|m| *m != MtlsMode::Unset)
    }
}

/// The policy's selector, when it selects anything narrower than its namespace.
fn narrow_selector(pa: &PeerAuthentication) -> Option<&WorkloadSelector> {
    pa.spec.selector.as_ref().filter(|s| !s.match_labels.is_empty())
}

fn in_namespace(pa: &PeerAuthentication, namespace: &str) -> bool {
    pa.metadata.namespace.as_deref().unwrap_or("default") == namespace
}

/// Which of `policies` decides the mTLS mode of a workload in `namespace`, by Istio's
/// precedence: a policy in the namespace whose selector picks the workload (`selects` says
/// which do), then the namespace's policy without a selector, then the mesh-wide one in the
/// root namespace. Policies that leave the mode UNSET are passed over. Returns its index.
pub fn decide_mtls<'a>(
    policies: impl IntoIterator<Item = &'a PeerAuthentication>,
    namespace: &str,
    selects: impl Fn(&WorkloadSelector) -> bool,
) -> Option<(usize, MtlsMode)> {
    let candidates: Vec<(usize, &PeerAuthentication, MtlsMode)> =
        policies.into_iter().enumerate().filter_map(|(i, pa)| pa.mode().map(|m| (i, pa, m))).collect();
    let by_workload =
        candidates.iter().find(|(_, pa, _)| in_namespace(pa, namespace) && narrow_selector(pa).is_some_and(&selects));
    let by_namespace =
        |ns: &str| candidates.iter().find(|(_, pa, _)| in_namespace(pa, ns) && narrow_selector(pa).is_none());
    by_workload
        .or_else(|| by_namespace(namespace))
        .or_else(|| by_namespace(crate::api::ROOT_NAMESPACE))
        .map(|(i, _, m)| (*i, *m))
}

/// The mode a workload in `namespace` with `labels`, serving on `port` (or on a port no
/// policy can name), accepts: the mode of the policy that decides (see [`decide_mtls`]),
/// PERMISSIVE when none does, unless the workload's own policy (the one whose selector picks
/// it, even if it leaves the mode UNSET) sets the port in `portLevelMtls`.
pub fn effective_mtls<'a>(
    policies: impl IntoIterator<Item = &'a PeerAuthentication> + Clone,
    namespace: &str,
    labels: &BTreeMap<String, String>,
    port: Option<u16>,
) -> MtlsMode {
    let mode = decide_mtls(policies.clone(), namespace, |s| s.selects(labels)).map_or(MtlsMode::Permissive, |(_, m)| m);
    let own = policies
        .into_iter()
        .find(|pa| in_namespace(pa, namespace) && narrow_selector(pa).is_some_and(|s| s.selects(labels)));
    own.zip(port)
        .and_then(|(pa, port)| pa.spec.port_level_mtls.get(&port.to_string()))
        .and_then(|m| m.mode)
        .filter(|m| *m != MtlsMode::Unset)
        .unwrap_or(mode)
}

/// Access control on workloads: DENY policies are checked first, then ALLOW policies.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "security.istio.io",
    version = "v1",
    kind = "AuthorizationPolicy",
    doc = "Istio AuthorizationPolicy: which callers may make which requests",
    namespaced,
    shortname = "ap"
)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizationPolicySpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<WorkloadSelector>,
    /// A request matching any rule triggers the action. With no rules, ALLOW allows nothing and
    /// DENY denies nothing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<Rule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Action {
    Allow,
    Deny,
    Audit,
    Custom,
}

/// Matches when every present field matches: any `from`, any `to`, and every `when`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub from: Vec<RuleFrom>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub to: Vec<RuleTo>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub when: Vec<Condition>,
}

/// The `when` keys a TCP connection has (Istio's list for TCP); every other key is about an
/// HTTP request.
const CONNECTION_KEYS: [&str; 6] =
    ["source.ip", "source.namespace", "source.principal", "destination.ip", "destination.port", "connection.sni"];

/// A place in a rule: `to[INDEX].operation.NAME`, `from[INDEX].source.NAME` or `when[INDEX]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleField {
    To(usize, &'static str),
    From(usize, &'static str),
    When(usize),
}

impl Rule {
    /// Where the rule names what only an HTTP request has: hosts, methods, paths, request
    /// principals, request headers and claims.
    pub fn http_only_fields(&self) -> Vec<RuleField> {
        let mut fields = Vec::new();
        for (i, to) in self.to.iter().enumerate() {
            let o = &to.operation;
            let named = [
                ("hosts", &o.hosts),
                ("notHosts", &o.not_hosts),
                ("methods", &o.methods),
                ("notMethods", &o.not_methods),
                ("paths", &o.paths),
                ("notPaths", &o.not_paths),
            ];
            fields.extend(named.iter().filter(|(_, v)| !v.is_empty()).map(|(n, _)| RuleField::To(i, n)));
        }
        for (i, from) in self.from.iter().enumerate() {
            let s = &from.source;
            let named =
                [("requestPrincipals", &s.request_principals), ("notRequestPrincipals", &s.not_request_principals)];
            fields.extend(named.iter().filter(|(_, v)| !v.is_empty()).map(|(n, _)| RuleField::From(i, n)));
        }
        let http_keys = self.when.iter().enumerate().filter(|(_, c)| !CONNECTION_KEYS.contains(&c.key.as_str()));
        fields.extend(http_keys.map(|(i, _)| RuleField::When(i)));
        fields
    }

    /// The rule as it applies to a TCP connection: its HTTP-only fields dropped, so an entry
    /// left empty matches any connection.
    pub fn without_http_fields(&self) -> Rule {
        let mut rule = self.clone();
        for to in &mut rule.to {
            let o = &mut to.operation;
            for field in
                [&mut o.hosts, &mut o.not_hosts, &mut o.methods, &mut o.not_methods, &mut o.paths, &mut o.not_paths]
            {
                field.clear();
            }
        }
        for from in &mut rule.from {
            from.source.request_principals.clear();
            from.source.not_request_principals.clear();
        }
        rule.when.retain(|c| CONNECTION_KEYS.contains(&c.key.as_str()));
        rule
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct RuleFrom {
    pub source: Source,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct RuleTo {
    pub operation: Operation,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Source {
    /// Peer identities from mTLS, `TRUST_DOMAIN/ns/NAMESPACE/sa/SERVICE_ACCOUNT`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub principals: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_principals: Vec<String>,
    /// JWT identities, `ISSUER/SUBJECT`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub request_principals: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_request_principals: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_namespaces: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip_blocks: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_ip_blocks: Vec<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_hosts: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_ports: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_methods: Vec<String>,
    /// Exact paths, or a prefix (`/api/*`) or suffix (`*.js`) with one `*`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_paths: Vec<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// An Istio attribute, e.g. `request.headers[x-user]`, `source.namespace`,
    /// `request.auth.claims[iss]`.
    pub key: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_values: Vec<String>,
}

/// Which JWTs a workload accepts. A request with an invalid token is rejected (401); one with
/// no token passes unless an AuthorizationPolicy requires a request principal.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "security.istio.io",
    version = "v1",
    kind = "RequestAuthentication",
    doc = "Istio RequestAuthentication: which JWTs workloads accept",
    namespaced,
    shortname = "ra"
)]
#[serde(rename_all = "camelCase")]
pub struct RequestAuthenticationSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<WorkloadSelector>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub jwt_rules: Vec<JwtRule>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JwtRule {
    /// The `iss` the token must carry.
    pub issuer: String,
    /// Accepted `aud` values; any audience when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audiences: Vec<String>,
    /// Where to fetch the public keys (JWKS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// The public keys inline, as a JWKS JSON document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<String>,
    /// Where the token is read from; `Authorization: Bearer` by default.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub from_headers: Vec<JwtHeader>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub from_params: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_payload_to_header: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward_original_token: Option<bool>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JwtHeader {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pa(
        namespace: &str,
        selector: &[(&str, &str)],
        mode: Option<MtlsMode>,
        ports: &[(u16, MtlsMode)],
    ) -> PeerAuthentication {
        let selector = (!selector.is_empty()).then(|| WorkloadSelector {
            match_labels: selector.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        });
        let spec = PeerAuthenticationSpec {
            selector,
            mtls: mode.map(|m| MutualTls { mode: Some(m) }),
            port_level_mtls: ports.iter().map(|(p, m)| (p.to_string(), MutualTls { mode: Some(*m) })).collect(),
        };
        let mut pa = PeerAuthentication::new("p", spec);
        pa.metadata.namespace = Some(namespace.into());
        pa
    }

    #[test]
    fn the_workload_beats_the_namespace_which_beats_the_mesh() {
        let labels = BTreeMap::from([("app".to_string(), "profile".to_string())]);
        let mesh = pa("istio-system", &[], Some(MtlsMode::Strict), &[]);
        let namespace = pa("shop", &[], Some(MtlsMode::Disable), &[]);
        let workload = pa("shop", &[("app", "profile")], Some(MtlsMode::Permissive), &[]);
        let other = pa("shop", &[("app", "board")], Some(MtlsMode::Strict), &[]);
        let mode = |all: &[&PeerAuthentication]| effective_mtls(all.iter().copied(), "shop", &labels, Some(80));
        assert_eq!(mode(&[]), MtlsMode::Permissive);
        assert_eq!(mode(&[&mesh]), MtlsMode::Strict);
        assert_eq!(mode(&[&mesh, &namespace]), MtlsMode::Disable);
        assert_eq!(mode(&[&mesh, &namespace, &workload, &other]), MtlsMode::Permissive);
        assert_eq!(effective_mtls([&mesh, &namespace], "default", &labels, Some(80)), MtlsMode::Strict);
    }

    #[test]
    fn a_workload_policy_without_a_mode_inherits_it_and_still_sets_its_ports() {
        let labels = BTreeMap::from([("app".to_string(), "profile".to_string())]);
        let namespace = pa("shop", &[], Some(MtlsMode::Strict), &[]);
        let ports_only = pa("shop", &[("app", "profile")], None, &[(8080, MtlsMode::Disable)]);
        assert_eq!(effective_mtls([&namespace, &ports_only], "shop", &labels, Some(80)), MtlsMode::Strict);
        assert_eq!(effective_mtls([&namespace, &ports_only], "shop", &labels, Some(8080)), MtlsMode::Disable);
    }
}
