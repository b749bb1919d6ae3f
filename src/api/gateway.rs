//! `gateway.networking.k8s.io/v1`: the Kubernetes Gateway API. HTTPRoute, for mesh traffic
//! (GAMMA: a route whose parent is a Service) and for ingress (a route whose parent is a
//! Gateway); Gateway and GatewayClass, which meshctl's ingress gateways serve; ReferenceGrant,
//! which lets a route or a Gateway in one namespace name a Service or a Secret in another.
//! Only the fields meshctl enforces are modelled; the rest of the API is named in
//! [`super::UNSUPPORTED`].
//!
//! The schemas are the Gateway API's own, not generated from these types: its standard-channel
//! CRDs at [`BUNDLE_VERSION`] (`third_party/gateway-api/`) are what `validate` checks documents
//! against and what `install` applies, so a route meshctl accepts is one any implementation
//! accepts.

use std::sync::OnceLock;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResource;
use serde::{Deserialize, Serialize};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

use super::Duration;

/// The Gateway API release whose CRDs meshctl carries.
pub const BUNDLE_VERSION: &str = "v1.6.3";
/// The annotation on each of the Gateway API's CRDs that names its release.
pub const BUNDLE_VERSION_ANNOTATION: &str = "gateway.networking.k8s.io/bundle-version";

/// The controller name meshctl writes its routes' parent statuses under, as Istio writes
/// `istio.io/mesh-controller`.
pub const MESH_CONTROLLER: &str = "meshctl.io/mesh-controller";

/// The controller name of the GatewayClasses whose Gateways meshctl serves.
pub const GATEWAY_CONTROLLER: &str = "meshctl.io/gateway-controller";

/// The GatewayClass `meshctl install` creates, with [`GATEWAY_CONTROLLER`].
pub const GATEWAY_CLASS: &str = "meshctl";

/// The spec of the GatewayClass [`GATEWAY_CLASS`], on a cluster and on the local mesh.
pub fn meshctl_class() -> GatewayClassSpec {
    GatewayClassSpec {
        controller_name: GATEWAY_CONTROLLER.into(),
        description: Some("Gateways served by meshctl: an Envoy for each Gateway".into()),
    }
}

/// The standard channel's CRDs as the Gateway API publishes them, in file order.
const STANDARD_CRDS: [&str; 10] = [
    include_str!("../../third_party/gateway-api/gateway.networking.k8s.io_backendtlspolicies.yaml"),
    include_str!("../../third_party/gateway-api/gateway.networking.k8s.io_gatewayclasses.yaml"),
    include_str!("../../third_party/gateway-api/gateway.networking.k8s.io_gateways.yaml"),
    include_str!("../../third_party/gateway-api/gateway.networking.k8s.io_grpcroutes.yaml"),
    include_str!("../../third_party/gateway-api/gateway.networking.k8s.io_httproutes.yaml"),
    include_str!("../../third_party/gateway-api/gateway.networking.k8s.io_listenersets.yaml"),
    include_str!("../../third_party/gateway-api/gateway.networking.k8s.io_referencegrants.yaml"),
    include_str!("../../third_party/gateway-api/gateway.networking.k8s.io_tcproutes.yaml"),
    include_str!("../../third_party/gateway-api/gateway.networking.k8s.io_tlsroutes.yaml"),
    include_str!("../../third_party/gateway-api/gateway.networking.k8s.io_udproutes.yaml"),
];

/// Every CRD of the Gateway API's standard channel at [`BUNDLE_VERSION`].
pub fn standard_crds() -> &'static [CustomResourceDefinition] {
    static CRDS: OnceLock<Vec<CustomResourceDefinition>> = OnceLock::new();
    CRDS.get_or_init(|| {
        STANDARD_CRDS
            .iter()
            .map(|text| {
                let (documents, error) = super::yaml::parse(text);
                assert!(error.is_none(), "the Gateway API's CRDs parse: {error:?}");
                let root = documents.first().and_then(|d| d.root.as_ref()).expect("a CRD per file");
                serde_json::from_value(root.to_json()).expect("the Gateway API's CRDs decode")
            })
            .collect()
    })
}

/// The Gateway API's CRD of `kind`.
pub fn crd(kind: &str) -> &'static CustomResourceDefinition {
    standard_crds().iter().find(|c| c.spec.names.kind == kind).expect("a kind of the Gateway API's standard channel")
}

/// A kind of ingress gateway, and the controller that serves it.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "gateway.networking.k8s.io",
    version = "v1",
    kind = "GatewayClass",
    status = "GatewayClassStatus",
    schema = "disabled"
)]
#[serde(rename_all = "camelCase")]
pub struct GatewayClassSpec {
    pub controller_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GatewayClassStatus {
    #[serde(default)]
    pub conditions: Vec<Condition>,
}

/// An ingress gateway: where it listens, for which names, and which routes may attach.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "gateway.networking.k8s.io",
    version = "v1",
    kind = "Gateway",
    namespaced,
    status = "GatewayStatus",
    schema = "disabled"
)]
#[serde(rename_all = "camelCase")]
pub struct GatewaySpec {
    pub gateway_class_name: String,
    pub listeners: Vec<Listener>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Listener {
    pub name: String,
    /// Requests for other names are not this listener's; any name when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    pub port: u16,
    pub protocol: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<ListenerTls>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_routes: Option<AllowedRoutes>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ListenerTls {
    /// `Terminate` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub certificate_refs: Vec<SecretReference>,
}

/// A reference to a Secret (or another kind, which meshctl refuses) holding a certificate.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "camelCase")]
pub struct SecretReference {
    /// `""` (the core group) when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// `Secret` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub name: String,
    /// The Gateway's own namespace when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

impl SecretReference {
    pub fn is_secret(&self) -> bool {
        matches!(self.group.as_deref(), None | Some("")) && matches!(self.kind.as_deref(), None | Some("Secret"))
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AllowedRoutes {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<RouteNamespaces>,
    /// The kinds of route that may attach; the protocol's own when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<RouteGroupKind>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RouteNamespaces {
    /// `Same` (the Gateway's namespace, the default), `All`, or `Selector`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "camelCase")]
pub struct RouteGroupKind {
    /// `gateway.networking.k8s.io` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    pub kind: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GatewayStatus {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<GatewayAddress>,
    #[serde(default)]
    pub conditions: Vec<Condition>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub listeners: Vec<ListenerStatus>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct GatewayAddress {
    /// `IPAddress` or `Hostname`.
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ListenerStatus {
    pub name: String,
    pub supported_kinds: Vec<RouteGroupKind>,
    pub attached_routes: i32,
    pub conditions: Vec<Condition>,
}

/// Lets objects of one kind in another namespace refer to objects in this one.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(group = "gateway.networking.k8s.io", version = "v1", kind = "ReferenceGrant", namespaced, schema = "disabled")]
#[serde(rename_all = "camelCase")]
pub struct ReferenceGrantSpec {
    pub from: Vec<ReferenceGrantFrom>,
    pub to: Vec<ReferenceGrantTo>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ReferenceGrantFrom {
    pub group: String,
    pub kind: String,
    pub namespace: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ReferenceGrantTo {
    pub group: String,
    pub kind: String,
    /// Every object of the kind when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Whether a ReferenceGrant in `to_namespace` among `grants` lets a `from_kind` (of the Gateway
/// API's group) in `from_namespace` refer to the `to_kind` (of the core group) named `name`.
/// A reference within one namespace needs none.
pub fn reference_granted<'a>(
    grants: impl IntoIterator<Item = &'a ReferenceGrant>,
    (from_kind, from_namespace): (&str, &str),
    (to_kind, to_namespace, name): (&str, &str, &str),
) -> bool {
    from_namespace == to_namespace
        || grants.into_iter().filter(|g| g.metadata.namespace.as_deref() == Some(to_namespace)).any(|g| {
            let from = g.spec.from.iter().any(|f| {
                f.group == "gateway.networking.k8s.io" && f.kind == from_kind && f.namespace == from_namespace
            });
            let to = g
                .spec
                .to
                .iter()
                .any(|t| t.group.is_empty() && t.kind == to_kind && t.name.as_deref().is_none_or(|n| n == name));
            from && to
        })
}

/// Rules for HTTP requests to a Service (a mesh route) or through a Gateway.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "gateway.networking.k8s.io",
    version = "v1",
    kind = "HTTPRoute",
    namespaced,
    status = "RouteStatus",
    schema = "disabled"
)]
#[serde(rename_all = "camelCase")]
pub struct HTTPRouteSpec {
    /// What the route attaches to: a Service (mesh traffic to it) or a Gateway.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parent_refs: Vec<ParentReference>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hostnames: Vec<String>,
    /// Absent, one rule sends every request to no backend (and so answers 500).
    #[serde(default = "default_rules")]
    pub rules: Vec<HTTPRouteRule>,
}

fn default_rules() -> Vec<HTTPRouteRule> {
    vec![HTTPRouteRule::default()]
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "camelCase")]
pub struct ParentReference {
    /// `gateway.networking.k8s.io` when unset; `""` (the core group) for a Service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// `Gateway` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The route's own namespace when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section_name: Option<String>,
    /// For a Service: the one port whose traffic the route takes; every port when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
}

impl RouteStatus {
    /// The conditions meshctl wrote that do not hold, with the parent they are about.
    pub fn failing(&self) -> impl Iterator<Item = (&ParentReference, &Condition)> {
        let ours =
            self.parents.iter().filter(|p| [MESH_CONTROLLER, GATEWAY_CONTROLLER].contains(&p.controller_name.as_str()));
        ours.flat_map(|p| p.conditions.iter().filter(|c| c.status == "False").map(move |c| (&p.parent_ref, c)))
    }
}

impl ParentReference {
    /// Whether the parent is a Service: the route is a mesh route (GAMMA).
    pub fn is_service(&self) -> bool {
        self.group.as_deref() == Some("") && self.kind.as_deref() == Some("Service")
    }

    /// Whether the parent is a Gateway of the Gateway API: the route is an ingress route.
    pub fn is_gateway(&self) -> bool {
        matches!(self.group.as_deref(), None | Some("gateway.networking.k8s.io"))
            && matches!(self.kind.as_deref(), None | Some("Gateway"))
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HTTPRouteRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Any of which selects the rule; absent (or empty), every request: see [`Self::matches`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matches: Vec<HTTPRouteMatch>,
    /// Applied in order to every request the rule takes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<HTTPRouteFilter>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backend_refs: Vec<HTTPBackendRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeouts: Option<HTTPRouteTimeouts>,
}

/// What to do to a request, or instead of sending it on. The one field named by `type` is set
/// (the schema's rules enforce it).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HTTPRouteFilter {
    #[serde(rename = "type")]
    pub kind: FilterType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_header_modifier: Option<HeaderModifier>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_header_modifier: Option<HeaderModifier>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_redirect: Option<RequestRedirect>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_rewrite: Option<UrlRewrite>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_mirror: Option<RequestMirror>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilterType {
    RequestHeaderModifier,
    ResponseHeaderModifier,
    RequestRedirect,
    URLRewrite,
    RequestMirror,
    ExtensionRef,
    #[serde(rename = "CORS")]
    Cors,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HeaderModifier {
    /// Replace the header's value (or add it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub set: Vec<Header>,
    /// Add a value, beside any the header has.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add: Vec<Header>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove: Vec<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Header {
    pub name: String,
    pub value: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RequestRedirect {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathModifier>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// 302 when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct UrlRewrite {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathModifier>,
}

/// A new path: the whole of it, or the part the rule's path prefix matched.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "type")]
pub enum PathModifier {
    #[serde(rename_all = "camelCase")]
    ReplaceFullPath { replace_full_path: String },
    #[serde(rename_all = "camelCase")]
    ReplacePrefixMatch { replace_prefix_match: String },
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RequestMirror {
    pub backend_ref: HTTPBackendRef,
    /// Share of requests mirrored, 0-100; all when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<u32>,
}

impl HTTPRouteRule {
    /// The matches that select the rule: those written, or a `/` prefix (every request), which
    /// is what the API server fills in for a rule written without any.
    pub fn matches(&self) -> Vec<HTTPRouteMatch> {
        if self.matches.is_empty() { vec![HTTPRouteMatch::default()] } else { self.matches.clone() }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HTTPRouteMatch {
    #[serde(default = "default_path")]
    pub path: HTTPPathMatch,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<ValueMatch>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub query_params: Vec<ValueMatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
}

fn default_path() -> HTTPPathMatch {
    HTTPPathMatch::default()
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HTTPPathMatch {
    #[serde(default, rename = "type")]
    pub kind: PathMatchType,
    #[serde(default = "root_path")]
    pub value: String,
}

impl Default for HTTPPathMatch {
    fn default() -> Self {
        HTTPPathMatch { kind: PathMatchType::PathPrefix, value: root_path() }
    }
}

fn root_path() -> String {
    "/".to_string()
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PathMatchType {
    Exact,
    #[default]
    PathPrefix,
    RegularExpression,
}

/// A header's or a query parameter's match.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ValueMatch {
    #[serde(default, rename = "type")]
    pub kind: ValueMatchType,
    pub name: String,
    pub value: String,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ValueMatchType {
    #[default]
    Exact,
    RegularExpression,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HTTPBackendRef {
    /// `""` (the core group) when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// `Service` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub name: String,
    /// The route's own namespace when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Required for a Service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Relative share of the rule's requests; 1 when unset.
    #[serde(default = "default_weight")]
    pub weight: u32,
    /// Applied to the requests sent to this backend only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<HTTPRouteFilter>,
}

impl HTTPBackendRef {
    /// Whether the backend is a Service (the only kind of backend meshctl sends to).
    pub fn is_service(&self) -> bool {
        matches!(self.group.as_deref(), None | Some("")) && matches!(self.kind.as_deref(), None | Some("Service"))
    }
}

fn default_weight() -> u32 {
    1
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HTTPRouteTimeouts {
    /// From the request's start to its response's end, retries included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<Duration>,
    /// Each attempt to a backend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend_request: Option<Duration>,
}

/// What each parent made of the route, as the API defines it.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RouteStatus {
    #[serde(default)]
    pub parents: Vec<RouteParentStatus>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RouteParentStatus {
    pub parent_ref: ParentReference,
    pub controller_name: String,
    #[serde(default)]
    pub conditions: Vec<Condition>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_carried_crds_are_the_standard_channel_of_one_release() {
        let crds = standard_crds();
        assert_eq!(crds.len(), STANDARD_CRDS.len());
        for crd in crds {
            let annotations = crd.metadata.annotations.clone().unwrap_or_default();
            let name = crd.metadata.name.as_deref().unwrap_or_default();
            assert_eq!(annotations.get(BUNDLE_VERSION_ANNOTATION).map(String::as_str), Some(BUNDLE_VERSION), "{name}");
            assert_eq!(annotations.get("gateway.networking.k8s.io/channel").map(String::as_str), Some("standard"));
        }
        let schema = crate::api::Kind::HTTPRoute.schema();
        assert!(schema["properties"]["spec"]["properties"]["parentRefs"].is_object(), "{schema}");
    }
}
