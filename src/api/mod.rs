//! The resource types meshctl reads and writes: Istio's v1 policy kinds, the Gateway API's
//! HTTPRoute and meshctl's own; their CRDs (generated from the same types, or the Gateway API's
//! own); and YAML with source positions.
//!
//! ```text
//!   YAML text ──yaml::parse──▶ Node tree (positions) ──policy::check──▶ typed Resource + findings
//!                                                     (schema from Kind::schema, the CRD's own)
//! ```

mod duration;
/// The namespace whose policies without a selector apply to the whole mesh (Istio's root
/// namespace).
pub const ROOT_NAMESPACE: &str = "istio-system";
/// The trust domain of workload identities (`spiffe://TRUST_DOMAIN/ns/NS/sa/SA`).
pub const TRUST_DOMAIN: &str = "cluster.local";

/// A workload identity: `spiffe://TRUST_DOMAIN/ns/NAMESPACE/sa/SERVICE_ACCOUNT`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Identity {
    pub namespace: String,
    pub service_account: String,
}

impl Identity {
    pub fn new(namespace: &str, service_account: &str) -> Self {
        Identity { namespace: namespace.to_string(), service_account: service_account.to_string() }
    }

    /// The identity the ingress gateway presents to the sidecars it calls.
    pub fn gateway() -> Self {
        Identity::new(ROOT_NAMESPACE, "meshctl-gateway")
    }

    pub fn uri(&self) -> String {
        format!("spiffe://{TRUST_DOMAIN}/ns/{}/sa/{}", self.namespace, self.service_account)
    }
}

pub mod gateway;
pub mod meshctl;
pub mod networking;
mod protocol;
pub mod security;
pub mod time;
pub mod yaml;

use std::sync::{Arc, OnceLock};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::{CustomResourceExt, Resource as _};

pub use duration::{Duration, DurationError};
pub use protocol::Protocol;

/// Every kind meshctl understands, in the order they are listed and generated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    VirtualService,
    DestinationRule,
    ServiceEntry,
    IstioGateway,
    Sidecar,
    GatewayClass,
    Gateway,
    HTTPRoute,
    ReferenceGrant,
    PeerAuthentication,
    AuthorizationPolicy,
    RequestAuthentication,
    Canary,
    CertificateRotation,
    Workload,
}

impl Kind {
    pub const ALL: [Kind; 15] = [
        Kind::VirtualService,
        Kind::DestinationRule,
        Kind::ServiceEntry,
        Kind::IstioGateway,
        Kind::Sidecar,
        Kind::GatewayClass,
        Kind::Gateway,
        Kind::HTTPRoute,
        Kind::ReferenceGrant,
        Kind::PeerAuthentication,
        Kind::AuthorizationPolicy,
        Kind::RequestAuthentication,
        Kind::Canary,
        Kind::CertificateRotation,
        Kind::Workload,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::VirtualService => "VirtualService",
            Kind::DestinationRule => "DestinationRule",
            Kind::ServiceEntry => "ServiceEntry",
            Kind::IstioGateway | Kind::Gateway => "Gateway",
            Kind::Sidecar => "Sidecar",
            Kind::GatewayClass => "GatewayClass",
            Kind::HTTPRoute => "HTTPRoute",
            Kind::ReferenceGrant => "ReferenceGrant",
            Kind::PeerAuthentication => "PeerAuthentication",
            Kind::AuthorizationPolicy => "AuthorizationPolicy",
            Kind::RequestAuthentication => "RequestAuthentication",
            Kind::Canary => "Canary",
            Kind::CertificateRotation => "CertificateRotation",
            Kind::Workload => "Workload",
        }
    }

    /// The kind with its API group, as kubectl names it where the name alone is ambiguous
    /// (`Gateway.networking.istio.io`).
    pub fn qualified_name(self) -> String {
        format!("{}.{}", self.name(), self.group())
    }

    /// Its API group (`networking.istio.io`).
    pub fn group(self) -> &'static str {
        self.api_version().split('/').next().unwrap_or_default()
    }

    /// Whether meshctl generates the kind's CRD from its types (into `crds/`); the Gateway API's
    /// CRDs are carried as the Gateway API publishes them.
    pub fn generated(self) -> bool {
        !self.is_gateway_api()
    }

    /// Whether the kind is the Gateway API's (`gateway.networking.k8s.io`).
    pub fn is_gateway_api(self) -> bool {
        matches!(self, Kind::GatewayClass | Kind::Gateway | Kind::HTTPRoute | Kind::ReferenceGrant)
    }

    /// Whether its objects live in a namespace; a GatewayClass belongs to the cluster.
    pub fn namespaced(self) -> bool {
        self != Kind::GatewayClass
    }

    pub fn crd(self) -> CustomResourceDefinition {
        match self {
            Kind::VirtualService => networking::VirtualService::crd(),
            Kind::DestinationRule => networking::DestinationRule::crd(),
            Kind::ServiceEntry => networking::ServiceEntry::crd(),
            Kind::IstioGateway => networking::Gateway::crd(),
            Kind::Sidecar => networking::Sidecar::crd(),
            Kind::GatewayClass | Kind::Gateway | Kind::HTTPRoute | Kind::ReferenceGrant => {
                gateway::crd(self.name()).clone()
            }
            Kind::PeerAuthentication => security::PeerAuthentication::crd(),
            Kind::AuthorizationPolicy => security::AuthorizationPolicy::crd(),
            Kind::RequestAuthentication => security::RequestAuthentication::crd(),
            Kind::Canary => meshctl::Canary::crd(),
            Kind::CertificateRotation => meshctl::CertificateRotation::crd(),
            Kind::Workload => meshctl::Workload::crd(),
        }
    }

    pub fn api_version(self) -> &'static str {
        match self {
            Kind::VirtualService | Kind::DestinationRule | Kind::ServiceEntry | Kind::IstioGateway | Kind::Sidecar => {
                "networking.istio.io/v1"
            }
            Kind::PeerAuthentication | Kind::AuthorizationPolicy | Kind::RequestAuthentication => {
                "security.istio.io/v1"
            }
            Kind::GatewayClass | Kind::Gateway | Kind::HTTPRoute | Kind::ReferenceGrant => {
                "gateway.networking.k8s.io/v1"
            }
            Kind::Canary | Kind::CertificateRotation | Kind::Workload => "meshctl.io/v1alpha1",
        }
    }

    /// The kind named by a document's `apiVersion` and `kind`, if meshctl knows it.
    pub fn from_type(api_version: &str, kind: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.api_version() == api_version && k.name() == kind)
    }

    /// The kind of this name in API group `group`, in any of its versions.
    pub fn from_group(group: &str, kind: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == kind && k.group() == group)
    }

    /// The kind of an object, by its `apiVersion` and `kind` (two kinds share a name: Istio's
    /// Gateway and the Gateway API's).
    pub fn of(object: &serde_json::Value) -> Option<Kind> {
        Kind::from_type(object["apiVersion"].as_str()?, object["kind"].as_str()?)
    }

    /// The CRD's OpenAPI schema for a whole object of this kind: what the API server enforces,
    /// and what `meshctl validate` checks documents against.
    pub fn schema(self) -> &'static serde_json::Value {
        static SCHEMAS: OnceLock<Vec<serde_json::Value>> = OnceLock::new();
        let schemas = SCHEMAS.get_or_init(|| {
            Kind::ALL
                .iter()
                .map(|k| {
                    let crd = k.crd();
                    let version = k.api_version().rsplit('/').next();
                    let version = crd.spec.versions.iter().find(|v| Some(v.name.as_str()) == version);
                    let schema = version.and_then(|v| v.schema.as_ref()).and_then(|s| s.open_api_v3_schema.as_ref());
                    serde_json::to_value(schema).expect("a CRD schema serializes")
                })
                .collect()
        });
        &schemas[self as usize]
    }

    /// Decodes an object of this kind from JSON that has passed the schema check.
    pub fn decode(self, json: serde_json::Value) -> Result<Resource, serde_json::Error> {
        fn de<T: serde::de::DeserializeOwned>(json: serde_json::Value) -> Result<Arc<T>, serde_json::Error> {
            serde_json::from_value(json).map(Arc::new)
        }
        Ok(match self {
            Kind::VirtualService => Resource::VirtualService(de(json)?),
            Kind::DestinationRule => Resource::DestinationRule(de(json)?),
            Kind::ServiceEntry => Resource::ServiceEntry(de(json)?),
            Kind::IstioGateway => Resource::IstioGateway(de(json)?),
            Kind::Sidecar => Resource::Sidecar(de(json)?),
            Kind::GatewayClass => Resource::GatewayClass(de(json)?),
            Kind::Gateway => Resource::Gateway(de(json)?),
            Kind::HTTPRoute => Resource::HTTPRoute(de(json)?),
            Kind::ReferenceGrant => Resource::ReferenceGrant(de(json)?),
            Kind::PeerAuthentication => Resource::PeerAuthentication(de(json)?),
            Kind::AuthorizationPolicy => Resource::AuthorizationPolicy(de(json)?),
            Kind::RequestAuthentication => Resource::RequestAuthentication(de(json)?),
            Kind::Canary => Resource::Canary(de(json)?),
            Kind::CertificateRotation => Resource::CertificateRotation(de(json)?),
            Kind::Workload => Resource::Workload(de(json)?),
        })
    }
}

/// Said by its name, as an object's `kind` says it.
impl serde::Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// A typed resource of any kind meshctl understands. Each is shared, not copied, by a clone: the
/// controller reads thousands of them on every change and hands them to several tasks.
#[derive(Clone, Debug)]
pub enum Resource {
    VirtualService(Arc<networking::VirtualService>),
    DestinationRule(Arc<networking::DestinationRule>),
    ServiceEntry(Arc<networking::ServiceEntry>),
    IstioGateway(Arc<networking::Gateway>),
    Sidecar(Arc<networking::Sidecar>),
    GatewayClass(Arc<gateway::GatewayClass>),
    Gateway(Arc<gateway::Gateway>),
    HTTPRoute(Arc<gateway::HTTPRoute>),
    ReferenceGrant(Arc<gateway::ReferenceGrant>),
    PeerAuthentication(Arc<security::PeerAuthentication>),
    AuthorizationPolicy(Arc<security::AuthorizationPolicy>),
    RequestAuthentication(Arc<security::RequestAuthentication>),
    Canary(Arc<meshctl::Canary>),
    CertificateRotation(Arc<meshctl::CertificateRotation>),
    Workload(Arc<meshctl::Workload>),
}

impl Resource {
    pub fn kind(&self) -> Kind {
        match self {
            Resource::VirtualService(_) => Kind::VirtualService,
            Resource::DestinationRule(_) => Kind::DestinationRule,
            Resource::ServiceEntry(_) => Kind::ServiceEntry,
            Resource::IstioGateway(_) => Kind::IstioGateway,
            Resource::Sidecar(_) => Kind::Sidecar,
            Resource::GatewayClass(_) => Kind::GatewayClass,
            Resource::Gateway(_) => Kind::Gateway,
            Resource::HTTPRoute(_) => Kind::HTTPRoute,
            Resource::ReferenceGrant(_) => Kind::ReferenceGrant,
            Resource::PeerAuthentication(_) => Kind::PeerAuthentication,
            Resource::AuthorizationPolicy(_) => Kind::AuthorizationPolicy,
            Resource::RequestAuthentication(_) => Kind::RequestAuthentication,
            Resource::Canary(_) => Kind::Canary,
            Resource::CertificateRotation(_) => Kind::CertificateRotation,
            Resource::Workload(_) => Kind::Workload,
        }
    }

    pub fn meta(&self) -> &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
        match self {
            Resource::VirtualService(r) => r.meta(),
            Resource::DestinationRule(r) => r.meta(),
            Resource::ServiceEntry(r) => r.meta(),
            Resource::IstioGateway(r) => r.meta(),
            Resource::Sidecar(r) => r.meta(),
            Resource::GatewayClass(r) => r.meta(),
            Resource::Gateway(r) => r.meta(),
            Resource::HTTPRoute(r) => r.meta(),
            Resource::ReferenceGrant(r) => r.meta(),
            Resource::PeerAuthentication(r) => r.meta(),
            Resource::AuthorizationPolicy(r) => r.meta(),
            Resource::RequestAuthentication(r) => r.meta(),
            Resource::Canary(r) => r.meta(),
            Resource::CertificateRotation(r) => r.meta(),
            Resource::Workload(r) => r.meta(),
        }
    }

    pub fn name(&self) -> &str {
        self.meta().name.as_deref().unwrap_or_default()
    }

    pub fn namespace(&self) -> &str {
        self.meta().namespace.as_deref().unwrap_or_default()
    }

    /// The object as Kubernetes serializes it (`apiVersion`, `kind`, `metadata`, `spec`, ...).
    pub fn to_json(&self) -> serde_json::Value {
        let value = match self {
            Resource::VirtualService(r) => serde_json::to_value(r),
            Resource::DestinationRule(r) => serde_json::to_value(r),
            Resource::ServiceEntry(r) => serde_json::to_value(r),
            Resource::IstioGateway(r) => serde_json::to_value(r),
            Resource::Sidecar(r) => serde_json::to_value(r),
            Resource::GatewayClass(r) => serde_json::to_value(r),
            Resource::Gateway(r) => serde_json::to_value(r),
            Resource::HTTPRoute(r) => serde_json::to_value(r),
            Resource::ReferenceGrant(r) => serde_json::to_value(r),
            Resource::PeerAuthentication(r) => serde_json::to_value(r),
            Resource::AuthorizationPolicy(r) => serde_json::to_value(r),
            Resource::RequestAuthentication(r) => serde_json::to_value(r),
            Resource::Canary(r) => serde_json::to_value(r),
            Resource::CertificateRotation(r) => serde_json::to_value(r),
            Resource::Workload(r) => serde_json::to_value(r),
        };
        value.expect("resources serialize to JSON")
    }
}

/// Parts of Istio's API and the Gateway API that meshctl does not enforce, as `KIND:PATH`
/// where PATH is a field path with list indices written `[]`. A document that uses one gets a
/// "not supported by meshctl" finding rather than having the field silently ignored.
/// `PATH=VALUE` names an enum value.
pub const UNSUPPORTED: &[&str] = &[
    "VirtualService:spec.tls[].match[].destinationSubnets",
    "VirtualService:spec.tls[].match[].sourceLabels",
    "VirtualService:spec.tls[].match[].gateways",
    "VirtualService:spec.tls[].match[].sourceNamespace",
    "VirtualService:spec.tcp[].match[].destinationSubnets",
    "VirtualService:spec.tcp[].match[].sourceLabels",
    "VirtualService:spec.tcp[].match[].gateways",
    "VirtualService:spec.tcp[].match[].sourceNamespace",
    "VirtualService:spec.tcp[].match[].sourceSubnet",
    "VirtualService:spec.http[].redirect",
    "VirtualService:spec.http[].directResponse",
    "VirtualService:spec.http[].delegate",
    "VirtualService:spec.http[].rewrite",
    "VirtualService:spec.http[].headers",
    "VirtualService:spec.http[].mirrors",
    "VirtualService:spec.http[].mirrorPercent",
    "VirtualService:spec.http[].corsPolicy",
    "VirtualService:spec.http[].match[].scheme",
    "VirtualService:spec.http[].match[].sourceLabels",
    "VirtualService:spec.http[].match[].gateways",
    "VirtualService:spec.http[].match[].sourceNamespace",
    "VirtualService:spec.http[].match[].statPrefix",
    "VirtualService:spec.http[].route[].headers",
    "VirtualService:spec.http[].retries.retryRemoteLocalities",
    "VirtualService:spec.http[].fault.delay.exponentialDelay",
    "VirtualService:spec.http[].fault.delay.percent",
    "VirtualService:spec.http[].fault.abort.grpcStatus",
    "VirtualService:spec.http[].fault.abort.http2Error",
    "DestinationRule:spec.workloadSelector",
    "Sidecar:spec.ingress",
    "Sidecar:spec.egress[].port",
    "Sidecar:spec.egress[].bind",
    "Sidecar:spec.egress[].captureMode",
    "Sidecar:spec.outboundTrafficPolicy",
    "Sidecar:spec.inboundConnectionPool",
    "ServiceEntry:spec.workloadSelector",
    "ServiceEntry:spec.endpoints[].network",
    "ServiceEntry:spec.endpoints[].locality",
    "ServiceEntry:spec.endpoints[].weight",
    "DestinationRule:trafficPolicy.portLevelSettings",
    "DestinationRule:trafficPolicy.tunnel",
    "DestinationRule:trafficPolicy.proxyProtocol",
    "DestinationRule:trafficPolicy.loadBalancer.localityLbSetting",
    "DestinationRule:trafficPolicy.loadBalancer.warmupDurationSecs",
    "DestinationRule:trafficPolicy.loadBalancer.warmup",
    "DestinationRule:trafficPolicy.loadBalancer.simple=PASSTHROUGH",
    "DestinationRule:trafficPolicy.loadBalancer.consistentHash.ringHash",
    "DestinationRule:trafficPolicy.loadBalancer.consistentHash.maglev",
    "DestinationRule:trafficPolicy.loadBalancer.consistentHash.minimumRingSize",
    "DestinationRule:trafficPolicy.connectionPool.tcp.tcpKeepalive",
    "DestinationRule:trafficPolicy.connectionPool.http.h2UpgradePolicy",
    "DestinationRule:trafficPolicy.connectionPool.http.useClientProtocol",
    "DestinationRule:trafficPolicy.connectionPool.http.maxConcurrentStreams",
    "DestinationRule:trafficPolicy.outlierDetection.splitExternalLocalOriginErrors",
    "DestinationRule:trafficPolicy.outlierDetection.consecutiveLocalOriginFailures",
    "DestinationRule:trafficPolicy.outlierDetection.consecutiveErrors",
    "DestinationRule:trafficPolicy.tls.mode=MUTUAL",
    "DestinationRule:trafficPolicy.tls.clientCertificate",
    "DestinationRule:trafficPolicy.tls.privateKey",
    "DestinationRule:trafficPolicy.tls.credentialName",
    "DestinationRule:trafficPolicy.tls.caCrl",
    "AuthorizationPolicy:spec.action=AUDIT",
    "AuthorizationPolicy:spec.action=CUSTOM",
    "AuthorizationPolicy:spec.provider",
    "AuthorizationPolicy:spec.targetRef",
    "AuthorizationPolicy:spec.targetRefs",
    "AuthorizationPolicy:spec.rules[].from[].source.remoteIpBlocks",
    "AuthorizationPolicy:spec.rules[].from[].source.notRemoteIpBlocks",
    "AuthorizationPolicy:spec.rules[].from[].source.serviceAccounts",
    "AuthorizationPolicy:spec.rules[].from[].source.notServiceAccounts",
    "RequestAuthentication:spec.targetRef",
    "RequestAuthentication:spec.targetRefs",
    "RequestAuthentication:spec.jwtRules[].outputClaimToHeaders",
    "RequestAuthentication:spec.jwtRules[].fromCookies",
    "RequestAuthentication:spec.jwtRules[].timeout",
    "PeerAuthentication:spec.targetRef",
    "PeerAuthentication:spec.targetRefs",
    "Gateway:spec.servers[].port.protocol=HTTPS",
    "Gateway:spec.servers[].port.protocol=HTTP2",
    "Gateway:spec.servers[].port.protocol=GRPC",
    "Gateway:spec.servers[].port.protocol=GRPC-WEB",
    "Gateway:spec.servers[].port.protocol=TCP",
    "Gateway:spec.servers[].port.protocol=TLS",
    "Gateway:spec.servers[].port.protocol=MONGO",
    "Gateway:spec.servers[].tls",
    "Gateway:spec.servers[].bind",
    "Gateway:spec.servers[].defaultEndpoint",
    "Gateway:spec.addresses",
    "Gateway:spec.allowedListeners",
    "Gateway:spec.infrastructure",
    "Gateway:spec.tls",
    "Gateway:spec.listeners[].tls.options",
    "Gateway:spec.listeners[].tls.mode=Passthrough",
    "GatewayClass:spec.parametersRef",
    "HTTPRoute:spec.rules[].filters[].type=ExtensionRef",
    "HTTPRoute:spec.rules[].filters[].type=CORS",
    "HTTPRoute:spec.rules[].filters[].extensionRef",
    "HTTPRoute:spec.rules[].filters[].cors",
    "HTTPRoute:spec.rules[].filters[].requestMirror.fraction",
    "HTTPRoute:spec.rules[].backendRefs[].filters[].type=RequestRedirect",
    "HTTPRoute:spec.rules[].backendRefs[].filters[].type=URLRewrite",
    "HTTPRoute:spec.rules[].backendRefs[].filters[].type=RequestMirror",
    "HTTPRoute:spec.rules[].backendRefs[].filters[].type=ExtensionRef",
    "HTTPRoute:spec.rules[].backendRefs[].filters[].type=CORS",
];

/// Whether `path` (a field path with `[]` for indices) of a `kind` document, or the enum
/// `value` at it, is part of Istio's API that meshctl does not support. Traffic policies
/// stand at several places in a DestinationRule, so those entries match any path ending in
/// them.
pub fn unsupported(kind: Kind, path: &str, value: Option<&str>) -> bool {
    UNSUPPORTED.iter().any(|entry| {
        let Some((k, rest)) = entry.split_once(':') else { return false };
        let (pattern, want) = match rest.split_once('=') {
            Some((p, v)) => (p, Some(v)),
            None => (rest, None),
        };
        let path_matches = path == pattern || path.strip_suffix(pattern).is_some_and(|p| p.ends_with('.'));
        k == kind.name() && path_matches && want == value
    })
}

/// The CRDs meshctl generates as one multi-document YAML stream, ready for `kubectl apply -f -`.
pub fn crds_yaml() -> String {
    Kind::ALL.iter().filter(|k| k.generated()).map(|k| format!("---\n{}", crd_file(*k).1)).collect()
}

/// The file a kind's CRD is kept in under `crds/`, and its YAML.
pub fn crd_file(kind: Kind) -> (String, String) {
    let crd = kind.crd();
    let name = format!("{}.yaml", crd.metadata.name.as_deref().unwrap_or_default());
    (name, yaml::to_string(&serde_json::to_value(crd).expect("CRDs serialize")))
}

/// The label meshctl's generators select a service's workloads by, as Istio's conventions do,
/// and that a Workload's instances carry as their service's name unless it says otherwise.
pub const APP_LABEL: &str = "app";

/// Whether a host pattern (which may start with `*.`) covers `host`.
pub fn host_matches(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix('*') {
        Some("") => true,
        Some(suffix) => host.ends_with(suffix),
        None => pattern == host,
    }
}

/// Whether `labels` carry every one of `required` with its value: how a Service's selector, a
/// subset's labels and a policy's `matchLabels` pick workloads. Nothing required picks all.
pub fn has_labels(
    required: &std::collections::BTreeMap<String, String>,
    labels: &std::collections::BTreeMap<String, String>,
) -> bool {
    required.iter().all(|(k, v)| labels.get(k) == Some(v))
}
