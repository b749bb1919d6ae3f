//! The kinds of object install makes, in the order they are applied, and the mesh's own
//! kinds a cluster keeps, with their CRDs.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::Value;

use super::labels;
use crate::api;

/// The kinds of object install makes, in the order they are applied: what others refer to
/// comes first (a CRD before the kinds it defines, a namespace before what is in it, a
/// ServiceAccount before the Deployment that runs as it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ObjectKind {
    CustomResourceDefinition,
    Namespace,
    ServiceAccount,
    ClusterRole,
    ClusterRoleBinding,
    Role,
    RoleBinding,
    Secret,
    ConfigMap,
    Service,
    NetworkPolicy,
    Deployment,
    /// meshctl's class of Gateways, once the controller that accepts it is being made.
    GatewayClass,
    /// The sidecar injector's and the validator's; last, so that the controller serving them
    /// is being made first (and, deleted first, they stop calling it before it goes).
    MutatingWebhookConfiguration,
    ValidatingWebhookConfiguration,
}

impl ObjectKind {
    pub const ALL: [ObjectKind; 15] = [
        ObjectKind::CustomResourceDefinition,
        ObjectKind::Namespace,
        ObjectKind::ServiceAccount,
        ObjectKind::ClusterRole,
        ObjectKind::ClusterRoleBinding,
        ObjectKind::Role,
        ObjectKind::RoleBinding,
        ObjectKind::Secret,
        ObjectKind::ConfigMap,
        ObjectKind::Service,
        ObjectKind::NetworkPolicy,
        ObjectKind::Deployment,
        ObjectKind::GatewayClass,
        ObjectKind::MutatingWebhookConfiguration,
        ObjectKind::ValidatingWebhookConfiguration,
    ];

    pub fn kind(self) -> &'static str {
        match self {
            ObjectKind::CustomResourceDefinition => "CustomResourceDefinition",
            ObjectKind::Namespace => "Namespace",
            ObjectKind::ServiceAccount => "ServiceAccount",
            ObjectKind::ClusterRole => "ClusterRole",
            ObjectKind::ClusterRoleBinding => "ClusterRoleBinding",
            ObjectKind::Role => "Role",
            ObjectKind::RoleBinding => "RoleBinding",
            ObjectKind::Secret => "Secret",
            ObjectKind::ConfigMap => "ConfigMap",
            ObjectKind::Service => "Service",
            ObjectKind::NetworkPolicy => "NetworkPolicy",
            ObjectKind::Deployment => "Deployment",
            ObjectKind::GatewayClass => "GatewayClass",
            ObjectKind::MutatingWebhookConfiguration => "MutatingWebhookConfiguration",
            ObjectKind::ValidatingWebhookConfiguration => "ValidatingWebhookConfiguration",
        }
    }

    /// The API group; empty for the core group.
    pub fn group(self) -> &'static str {
        match self {
            ObjectKind::CustomResourceDefinition => "apiextensions.k8s.io",
            ObjectKind::Namespace
            | ObjectKind::ServiceAccount
            | ObjectKind::Secret
            | ObjectKind::ConfigMap
            | ObjectKind::Service => "",
            ObjectKind::ClusterRole | ObjectKind::ClusterRoleBinding | ObjectKind::Role | ObjectKind::RoleBinding => {
                "rbac.authorization.k8s.io"
            }
            ObjectKind::Deployment => "apps",
            ObjectKind::NetworkPolicy => "networking.k8s.io",
            ObjectKind::GatewayClass => "gateway.networking.k8s.io",
            ObjectKind::MutatingWebhookConfiguration | ObjectKind::ValidatingWebhookConfiguration => {
                "admissionregistration.k8s.io"
            }
        }
    }

    pub fn version(self) -> &'static str {
        "v1"
    }

    pub fn api_version(self) -> String {
        match self.group() {
            "" => self.version().to_string(),
            group => format!("{group}/{}", self.version()),
        }
    }

    /// The resource name in URLs and RBAC rules.
    pub fn plural(self) -> &'static str {
        match self {
            ObjectKind::CustomResourceDefinition => "customresourcedefinitions",
            ObjectKind::Namespace => "namespaces",
            ObjectKind::ServiceAccount => "serviceaccounts",
            ObjectKind::ClusterRole => "clusterroles",
            ObjectKind::ClusterRoleBinding => "clusterrolebindings",
            ObjectKind::Role => "roles",
            ObjectKind::RoleBinding => "rolebindings",
            ObjectKind::Secret => "secrets",
            ObjectKind::ConfigMap => "configmaps",
            ObjectKind::Service => "services",
            ObjectKind::NetworkPolicy => "networkpolicies",
            ObjectKind::Deployment => "deployments",
            ObjectKind::GatewayClass => "gatewayclasses",
            ObjectKind::MutatingWebhookConfiguration => "mutatingwebhookconfigurations",
            ObjectKind::ValidatingWebhookConfiguration => "validatingwebhookconfigurations",
        }
    }

    pub fn namespaced(self) -> bool {
        matches!(
            self,
            ObjectKind::ServiceAccount
                | ObjectKind::Role
                | ObjectKind::RoleBinding
                | ObjectKind::Secret
                | ObjectKind::ConfigMap
                | ObjectKind::Service
                | ObjectKind::NetworkPolicy
                | ObjectKind::Deployment
        )
    }

    /// `resource.group`, as RBAC and error messages name a resource (`deployments.apps`).
    pub fn resource(self) -> String {
        qualified(self.plural(), self.group())
    }
}

fn qualified(name: &str, group: &str) -> String {
    if group.is_empty() { name.to_string() } else { format!("{name}.{group}") }
}

/// One object to apply: its kind and its JSON, `apiVersion` and `kind` included.
#[derive(Clone, Debug, PartialEq)]
pub struct Object {
    pub kind: ObjectKind,
    pub json: Value,
}

impl Object {
    pub fn name(&self) -> &str {
        self.json["metadata"]["name"].as_str().unwrap_or_default()
    }

    pub fn namespace(&self) -> Option<&str> {
        self.json["metadata"]["namespace"].as_str()
    }

    /// How kubectl names it in what it prints: `deployment.apps/meshctl-controller`.
    pub fn reference(&self) -> String {
        reference(self.kind, self.name())
    }
}

/// `kind.group/name`, as kubectl prints an object.
pub fn reference(kind: ObjectKind, name: &str) -> String {
    format!("{}/{name}", qualified(&kind.kind().to_ascii_lowercase(), kind.group()))
}

/// The mesh kinds a cluster keeps. `Workload` is left out: it describes a process of the local
/// mesh; on a cluster, workloads are Pods.
pub const CLUSTER_KINDS: [api::Kind; 14] = [
    api::Kind::VirtualService,
    api::Kind::DestinationRule,
    api::Kind::ServiceEntry,
    api::Kind::IstioGateway,
    api::Kind::Sidecar,
    api::Kind::GatewayClass,
    api::Kind::Gateway,
    api::Kind::HTTPRoute,
    api::Kind::ReferenceGrant,
    api::Kind::PeerAuthentication,
    api::Kind::AuthorizationPolicy,
    api::Kind::RequestAuthentication,
    api::Kind::Canary,
    api::Kind::CertificateRotation,
];

/// The CRDs install applies: those of the cluster kinds meshctl generates, and the Gateway
/// API's whole standard channel (as `kubectl apply -f standard-install.yaml` would).
pub(super) fn crds() -> Vec<CustomResourceDefinition> {
    let generated = CLUSTER_KINDS.iter().filter(|k| k.generated()).map(|k| k.crd());
    generated.chain(api::gateway::standard_crds().iter().cloned()).collect()
}

/// The names of the CRDs install applies (`virtualservices.networking.istio.io`, ...).
pub fn crd_names() -> Vec<String> {
    crds().into_iter().map(|c| c.metadata.name.unwrap_or_default()).collect()
}

pub(super) fn crd(crd: CustomResourceDefinition) -> Object {
    let mut json = serde_json::to_value(crd).expect("CRDs serialize");
    json["metadata"]["labels"] = labels(None);
    Object { kind: ObjectKind::CustomResourceDefinition, json }
}
