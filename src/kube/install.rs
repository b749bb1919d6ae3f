//! What `meshctl install` puts on a cluster, as plain objects in the order they are applied.
//! Pure: the caller looks at the cluster first (which CRDs are Istio's, whether the mesh CA
//! exists) and says so in [`Found`]; this module does no I/O, so `--dry-run -o yaml` prints
//! exactly what an install applies.
//!
//! ```text
//!   CRDs ─▶ Namespace ─▶ ServiceAccounts ─▶ ClusterRole(+Binding), Role(+Binding)
//!        ─▶ CA Secret ─▶ gateway ConfigMap ─▶ Services ─▶ Deployments
//! ```
//!
//! Every object carries `app.kubernetes.io/managed-by: meshctl`: that label is how `uninstall`
//! finds what install made, and how install tells its own CRDs from Istio's.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use base64::Engine as _;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::{Value, json};

use crate::api;
use crate::translate::{self, ControlPlane, OutboundPolicy, Tracing, static_cluster, static_http_listener};

/// The namespace the control plane and the ingress gateway run in.
pub const NAMESPACE: &str = "meshctl-system";
/// The field manager of every server-side apply meshctl makes.
pub const FIELD_MANAGER: &str = "meshctl";
/// The label every object install makes carries, with this value.
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY_VALUE: &str = "meshctl";
/// The controller's ServiceAccount, ClusterRole, Role, bindings, Deployment and Service.
pub const CONTROLLER: &str = "meshctl-controller";
/// The ingress gateway's ServiceAccount, ConfigMap, Deployment and Service.
pub const GATEWAY: &str = "meshctl-ingressgateway";
/// The Secret that holds the mesh CA.
pub const CA_SECRET: &str = "meshctl-ca";

/// Istio's ports, so users' habits and tooling carry over: xDS over TLS (with the proxies'
/// spans), the webhooks, and the status on the controller Pod's loopback.
pub const XDS_PORT: u16 = 15012;
pub const WEBHOOK_PORT: u16 = 15017;
pub const STATUS_PORT: u16 = 15014;
/// Envoy's admin endpoint, on the Pod's loopback only.
pub const ADMIN_PORT: u16 = 15000;
/// Envoy's Prometheus statistics (and readiness), for the API server's `pods/proxy`.
pub const STATS_PORT: u16 = 15090;
/// Where the gateway's HTTP listener binds: above 1024, as it does not run as root.
pub const GATEWAY_HTTP_PORT: u16 = 8080;

/// The Envoy image the gateway runs unless told otherwise: the release the translator is
/// checked against (DESIGN.md).
pub const DEFAULT_ENVOY_IMAGE: &str = "docker.io/envoyproxy/envoy:v1.40.0";

/// The CPU a proxy requests unless told otherwise, as Istio's sidecars do.
pub const DEFAULT_PROXY_CPU: &str = "100m";

/// The controller image unless told otherwise: this very version of meshctl.
pub fn default_image() -> String {
    format!("ghcr.io/meshctl/meshctl:{}", env!("CARGO_PKG_VERSION"))
}

/// What the user chose.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// The meshctl image the controller runs.
    pub image: String,
    /// The Envoy image the ingress gateway runs.
    pub envoy_image: String,
    pub namespace: String,
    pub gateway_service: GatewayService,
    /// The CPU each proxy (sidecar or gateway) requests, unless a Pod's annotation says.
    pub proxy_cpu: String,
    /// How the proxies trace requests: the controller's setting.
    pub tracing: Tracing,
    /// Where calls to hosts outside the registry go: the controller's setting.
    pub outbound_policy: OutboundPolicy,
}

impl Settings {
    pub fn new(image: String, envoy_image: String, gateway_service: GatewayService) -> Self {
        Settings {
            image,
            envoy_image,
            namespace: NAMESPACE.to_string(),
            gateway_service,
            proxy_cpu: DEFAULT_PROXY_CPU.to_string(),
            tracing: Tracing::CLUSTER_DEFAULT,
            outbound_policy: OutboundPolicy::AllowAny,
        }
    }
}

/// How the ingress gateway is reached from outside the cluster. `LoadBalancer` is the default,
/// as Istio's: where no load balancer exists (kind, minikube, bare metal) the Service still
/// gets a node port, so the gateway is reachable either way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GatewayService {
    LoadBalancer,
    NodePort,
    ClusterIP,
}

impl GatewayService {
    pub const ALL: [GatewayService; 3] =
        [GatewayService::LoadBalancer, GatewayService::NodePort, GatewayService::ClusterIP];

    /// The type Kubernetes names (`LoadBalancer`, `NodePort`, `ClusterIP`).
    pub fn parse(name: &str) -> Option<GatewayService> {
        GatewayService::ALL.into_iter().find(|t| t.type_name() == name)
    }

    pub fn type_name(self) -> &'static str {
        match self {
            GatewayService::LoadBalancer => "LoadBalancer",
            GatewayService::NodePort => "NodePort",
            GatewayService::ClusterIP => "ClusterIP",
        }
    }
}

/// A mesh CA to store: a root certificate and its key, PEM. Debug output leaves the key out.
#[derive(Clone, PartialEq, Eq)]
pub struct CaMaterial {
    pub cert_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for CaMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaMaterial").field("cert_pem", &self.cert_pem).finish_non_exhaustive()
    }
}

/// What install found on the cluster that changes what it applies.
#[derive(Clone, Debug, Default)]
pub struct Found {
    /// CRDs (by name) that exist and are not meshctl's — Istio's: used as they are, never
    /// replaced.
    pub foreign_crds: BTreeSet<String>,
    /// A new CA when the cluster has none; `None` when it has one, which is kept (workload
    /// certificates stay trusted across a reinstall).
    pub new_ca: Option<CaMaterial>,
}

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
pub const CLUSTER_KINDS: [api::Kind; 13] = [
    api::Kind::VirtualService,
    api::Kind::DestinationRule,
    api::Kind::ServiceEntry,
    api::Kind::IstioGateway,
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
fn crds() -> Vec<CustomResourceDefinition> {
    let generated = CLUSTER_KINDS.iter().filter(|k| k.generated()).map(|k| k.crd());
    generated.chain(api::gateway::standard_crds().iter().cloned()).collect()
}

/// The names of the CRDs install applies (`virtualservices.networking.istio.io`, ...).
pub fn crd_names() -> Vec<String> {
    crds().into_iter().map(|c| c.metadata.name.unwrap_or_default()).collect()
}

/// Everything install applies, in order.
pub fn objects(settings: &Settings, found: &Found) -> Vec<Object> {
    let mut objects: Vec<Object> =
        crds().into_iter().map(crd).filter(|o| !found.foreign_crds.contains(o.name())).collect();
    objects.push(namespace(settings));
    objects.push(service_account(settings, CONTROLLER, true));
    // The gateway never calls the API server; it proves itself to the controller with a
    // projected token of its own (kube::identity).
    objects.push(service_account(settings, GATEWAY, false));
    objects.extend(rbac(settings));
    if let Some(ca) = &found.new_ca {
        objects.push(ca_secret(settings, ca));
    }
    objects.push(gateway_bootstrap(settings));
    objects.push(controller_service(settings));
    objects.push(gateway_service(settings));
    objects.push(controller_network_policy(settings));
    objects.push(controller_deployment(settings));
    objects.push(gateway_deployment(settings));
    objects.push(gateway_class());
    objects.push(super::webhook::configuration(settings));
    objects.push(super::admission::configuration(settings));
    objects
}

/// The objects as a multi-document YAML stream, as `--dry-run -o yaml` prints them.
pub fn to_yaml(objects: &[Object]) -> String {
    objects.iter().map(|o| format!("---\n{}", api::yaml::to_string(&o.json))).collect()
}

/// `-o json`: a `v1/List`, as kubectl prints several objects.
pub fn to_json_list(objects: &[Object]) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "List",
        "items": objects.iter().map(|o| o.json.clone()).collect::<Vec<_>>(),
    })
}

/// The labels of an object install makes; `component` names the part of the mesh it belongs to.
fn labels(component: Option<&str>) -> Value {
    let mut labels = json!({ MANAGED_BY: MANAGED_BY_VALUE, "app.kubernetes.io/part-of": "meshctl" });
    if let Some(component) = component {
        labels["app.kubernetes.io/name"] = json!(component);
    }
    labels
}

/// The labels a component's Pods carry and its Service selects: not `managed-by`, as the Pods
/// are made by a ReplicaSet, not by meshctl.
/// The gateway Pod's labels: its component's, and the one Istio's Gateways select by.
fn gateway_pod_labels() -> Value {
    let mut labels = pod_labels(GATEWAY);
    let (key, value) = api::networking::INGRESS_GATEWAY_LABEL;
    labels[key] = json!(value);
    labels
}

pub fn pod_labels(component: &str) -> Value {
    json!({ "app.kubernetes.io/name": component, "app.kubernetes.io/part-of": "meshctl" })
}

fn namespaced(kind: ObjectKind, settings: &Settings, name: &str, component: &str, rest: Value) -> Object {
    let mut json = json!({
        "apiVersion": kind.api_version(),
        "kind": kind.kind(),
        "metadata": { "name": name, "namespace": settings.namespace, "labels": labels(Some(component)) },
    });
    merge(&mut json, rest);
    Object { kind, json }
}

pub fn cluster_scoped(kind: ObjectKind, name: &str, component: Option<&str>, rest: Value) -> Object {
    let mut json = json!({
        "apiVersion": kind.api_version(),
        "kind": kind.kind(),
        "metadata": { "name": name, "labels": labels(component) },
    });
    merge(&mut json, rest);
    Object { kind, json }
}

/// Adds `rest`'s top-level fields (spec, data, rules, ...) after the header.
fn merge(json: &mut Value, rest: Value) {
    if let (Value::Object(into), Value::Object(from)) = (json, rest) {
        into.extend(from);
    }
}

fn crd(crd: CustomResourceDefinition) -> Object {
    let mut json = serde_json::to_value(crd).expect("CRDs serialize");
    json["metadata"]["labels"] = labels(None);
    Object { kind: ObjectKind::CustomResourceDefinition, json }
}

fn namespace(settings: &Settings) -> Object {
    cluster_scoped(ObjectKind::Namespace, &settings.namespace, None, json!({}))
}

fn service_account(settings: &Settings, name: &str, token: bool) -> Object {
    namespaced(ObjectKind::ServiceAccount, settings, name, name, json!({ "automountServiceAccountToken": token }))
}

/// One RBAC rule the controller holds, and why it needs it. The rules are kept to what the
/// controller does (DESIGN.md, "Kubernetes mode"); part 2's test compares them with the
/// requests a running controller makes.
#[derive(Clone, Copy, Debug)]
pub struct Grant {
    pub group: &'static str,
    pub resources: &'static [&'static str],
    /// Only these objects, when not empty.
    pub names: &'static [&'static str],
    pub verbs: &'static [&'static str],
    pub why: &'static str,
}

/// What a reflector or a watched listing needs: no single `get`.
const WATCH: &[&str] = &["list", "watch"];

/// The controller's rights across the cluster (its ClusterRole).
pub const CLUSTER_GRANTS: &[Grant] = &[
    Grant {
        group: "",
        resources: &["services", "pods"],
        names: &[],
        verbs: WATCH,
        why: "the mesh's services, and each proxy's Pod: labels, ServiceAccount, readiness",
    },
    Grant {
        group: "",
        resources: &["namespaces"],
        names: &[],
        verbs: WATCH,
        why: "every namespace gets the mesh's roots, which its proxies trust the controller by",
    },
    Grant {
        group: "",
        resources: &["configmaps"],
        names: &[super::roots::CONFIGMAP],
        verbs: &["list", "watch", "patch"],
        why: "the mesh's roots in every namespace, kept as they should be",
    },
    Grant {
        group: "",
        resources: &["configmaps"],
        names: &[],
        verbs: &["create"],
        why: "the mesh's roots in a new namespace (the API server cannot limit a create by name)",
    },
    Grant {
        group: "rbac.authorization.k8s.io",
        resources: &["clusterroles"],
        names: &[CONTROLLER],
        verbs: &["get"],
        why: "the owner of the roots' ConfigMaps, so that uninstall takes them all",
    },
    Grant {
        group: "discovery.k8s.io",
        resources: &["endpointslices"],
        names: &[],
        verbs: WATCH,
        why: "the endpoints behind each service",
    },
    Grant {
        group: "networking.istio.io",
        resources: &["destinationrules", "serviceentries", "gateways"],
        names: &[],
        verbs: WATCH,
        why: "traffic policy, the services outside the registry, and what the ingress gateway serves, \
              translated into each proxy's configuration",
    },
    Grant {
        group: "networking.istio.io",
        resources: &["virtualservices"],
        names: &[],
        verbs: &["get", "list", "watch", "create", "patch"],
        why: "routes, translated into each proxy's; the canary driver reads a VirtualService and writes \
              its weights by server-side apply (making one for a service that has none)",
    },
    Grant {
        group: "gateway.networking.k8s.io",
        resources: &["httproutes"],
        names: &[],
        verbs: &["get", "list", "watch", "patch"],
        why: "the Gateway API's mesh routes, translated into each proxy's routes as VirtualServices are; the \
              leader reads one before it writes its status, and the canary driver writes its weights by \
              server-side apply",
    },
    Grant {
        group: "gateway.networking.k8s.io",
        resources: &["gatewayclasses", "gateways"],
        names: &[],
        verbs: &["get", "list", "watch"],
        why: "the Gateways of meshctl's classes, each served by a gateway Deployment of its own; the leader \
              reads one before it writes its status",
    },
    Grant {
        group: "gateway.networking.k8s.io",
        resources: &["referencegrants"],
        names: &[],
        verbs: WATCH,
        why: "which routes may send to Services, and which Gateways may serve Secrets, in other namespaces",
    },
    Grant {
        group: "gateway.networking.k8s.io",
        resources: &["httproutes/status", "gateways/status", "gatewayclasses/status"],
        names: &[],
        verbs: &["patch"],
        why: "whether a route, a Gateway and its listeners, and a GatewayClass are accepted and programmed, \
              and why not",
    },
    Grant {
        group: "",
        resources: &["secrets"],
        names: &[],
        verbs: WATCH,
        why: "the certificates the Gateways' HTTPS listeners name (only Secrets of type kubernetes.io/tls are \
              watched)",
    },
    Grant {
        group: "security.istio.io",
        resources: &["peerauthentications", "authorizationpolicies", "requestauthentications"],
        names: &[],
        verbs: WATCH,
        why: "mTLS, authorization and JWT policy",
    },
    Grant {
        group: "meshctl.io",
        resources: &["canaries"],
        names: &[],
        verbs: &["get", "list", "watch"],
        why: "the rollouts to drive; the driver reads one before it writes its status",
    },
    Grant {
        group: "meshctl.io",
        resources: &["canaries/status"],
        names: &[],
        verbs: &["patch"],
        why: "a rollout's phase, step and every gate evaluation",
    },
    Grant {
        group: "meshctl.io",
        resources: &["certificaterotations"],
        names: &[],
        verbs: &["get", "list", "watch"],
        why: "the certificate rotations to carry out; the leader reads one before it writes its status",
    },
    Grant {
        group: "meshctl.io",
        resources: &["certificaterotations/status"],
        names: &[],
        verbs: &["patch"],
        why: "a rotation's stage",
    },
    Grant {
        group: "authentication.k8s.io",
        resources: &["tokenreviews"],
        names: &[],
        verbs: &["create"],
        why: "proxies' identity: the Pod token each presents on its xDS stream, before it gets a certificate",
    },
    Grant {
        group: "admissionregistration.k8s.io",
        resources: &["mutatingwebhookconfigurations"],
        names: &[super::webhook::CONFIGURATION],
        verbs: &["patch"],
        why: "the sidecar injector's caBundle: the mesh CA, which signs the webhook's certificate",
    },
    Grant {
        group: "admissionregistration.k8s.io",
        resources: &["validatingwebhookconfigurations"],
        names: &[super::admission::CONFIGURATION],
        verbs: &["patch"],
        why: "the validator's caBundle: the mesh CA, which signs the webhook's certificate",
    },
];

/// The controller's rights in its own namespace (its Role).
pub const NAMESPACE_GRANTS: &[Grant] = &[
    Grant {
        group: "",
        resources: &["pods/portforward"],
        names: &[],
        // A port-forward over WebSocket is a GET, which Kubernetes 1.35 and later also
        // authorises as `create`.
        verbs: &["get", "create"],
        why: "the leader reads every replica's report (on its Pod's loopback) to tell when every proxy runs a \
              rotation's stage",
    },
    Grant {
        group: "coordination.k8s.io",
        resources: &["leases"],
        names: &[],
        verbs: &["get", "create", "update"],
        why: "leader election: only the leader drives canaries",
    },
    Grant {
        group: "",
        resources: &["secrets"],
        names: &[CA_SECRET],
        verbs: &["get", "list", "watch", "update"],
        why: "the mesh CA, which signs workload certificates: followed by every replica, and changed by the \
              leader's certificate rotations",
    },
    Grant {
        group: "apps",
        resources: &["deployments"],
        names: &[],
        verbs: &["get", "list", "create", "patch", "delete"],
        why: "each Gateway's proxy, run beside install's ingress gateway and removed with its Gateway",
    },
    Grant {
        group: "",
        resources: &["services"],
        names: &[],
        verbs: &["get", "create", "patch", "delete"],
        why: "each Gateway's address",
    },
];

fn rules(grants: &[Grant]) -> Value {
    let rules: Vec<Value> = grants
        .iter()
        .map(|g| {
            let mut rule = json!({ "apiGroups": [g.group], "resources": g.resources });
            if !g.names.is_empty() {
                rule["resourceNames"] = json!(g.names);
            }
            rule["verbs"] = json!(g.verbs);
            rule
        })
        .collect();
    json!(rules)
}

fn rbac(settings: &Settings) -> Vec<Object> {
    let subject = json!([{ "kind": "ServiceAccount", "name": CONTROLLER, "namespace": settings.namespace }]);
    let role_ref = |kind: &str| json!({ "apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": CONTROLLER });
    vec![
        cluster_scoped(
            ObjectKind::ClusterRole,
            CONTROLLER,
            Some(CONTROLLER),
            json!({ "rules": rules(CLUSTER_GRANTS) }),
        ),
        cluster_scoped(
            ObjectKind::ClusterRoleBinding,
            CONTROLLER,
            Some(CONTROLLER),
            json!({ "roleRef": role_ref("ClusterRole"), "subjects": subject }),
        ),
        namespaced(ObjectKind::Role, settings, CONTROLLER, CONTROLLER, json!({ "rules": rules(NAMESPACE_GRANTS) })),
        namespaced(
            ObjectKind::RoleBinding,
            settings,
            CONTROLLER,
            CONTROLLER,
            json!({ "roleRef": role_ref("Role"), "subjects": subject }),
        ),
    ]
}

/// The keys of the CA Secret, as Istio names those of its own CA secret.
pub const CA_CERT_KEY: &str = "ca-cert.pem";
pub const CA_KEY_KEY: &str = "ca-key.pem";
/// The roots every proxy trusts; the signing root alone until a rotation.
pub const ROOT_CERT_KEY: &str = "root-cert.pem";

fn ca_secret(settings: &Settings, ca: &CaMaterial) -> Object {
    let b64 = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
    namespaced(
        ObjectKind::Secret,
        settings,
        CA_SECRET,
        CONTROLLER,
        json!({
            "type": "meshctl.io/ca-root",
            "data": {
                CA_CERT_KEY: b64(&ca.cert_pem),
                CA_KEY_KEY: b64(&ca.key_pem),
                ROOT_CERT_KEY: b64(&ca.cert_pem),
            },
        }),
    )
}

/// What a container may do: nothing beyond running its one program.
fn locked_down() -> Value {
    json!({
        "allowPrivilegeEscalation": false,
        "readOnlyRootFilesystem": true,
        "capabilities": { "drop": ["ALL"] },
    })
}

/// The Pod's name and namespace, which a proxy's node id (`POD.NAMESPACE`) and the
/// controller's lease are made of.
pub fn downward_env() -> Value {
    json!([
        { "name": "POD_NAME", "valueFrom": { "fieldRef": { "fieldPath": "metadata.name" } } },
        { "name": "POD_NAMESPACE", "valueFrom": { "fieldRef": { "fieldPath": "metadata.namespace" } } },
    ])
}

fn controller_deployment(settings: &Settings) -> Object {
    namespaced(
        ObjectKind::Deployment,
        settings,
        CONTROLLER,
        CONTROLLER,
        json!({ "spec": {
            "replicas": 1,
            "selector": { "matchLabels": pod_labels(CONTROLLER) },
            "template": {
                "metadata": { "labels": pod_labels(CONTROLLER) },
                "spec": {
                    "serviceAccountName": CONTROLLER,
                    "securityContext": {
                        // The image's own non-root user (the Dockerfile's USER).
                        "runAsNonRoot": true,
                        "runAsUser": 65532,
                        "runAsGroup": 65532,
                        "seccompProfile": { "type": "RuntimeDefault" },
                    },
                    "containers": [{
                        "name": "controller",
                        "image": settings.image,
                        "args": [
                            "controller", "--kubernetes",
                            // What the sidecar injector adds to Pods: this install's images.
                            "--init-image", settings.image, "--proxy-image", settings.envoy_image,
                            "--trace-sampling", settings.tracing.sampling.to_string(),
                            "--outbound-traffic-policy", settings.outbound_policy.name(),
                            "--gateway-service-type", settings.gateway_service.type_name(),
                            "--proxy-cpu-request", settings.proxy_cpu,
                        ],
                        "env": downward_env(),
                        "ports": [
                            { "name": "tls-xds", "containerPort": XDS_PORT, "protocol": "TCP" },
                            { "name": "https-webhook", "containerPort": WEBHOOK_PORT, "protocol": "TCP" },
                        ],
                        // Every replica serves xDS, so one that accepts connections is ready.
                        "readinessProbe": { "tcpSocket": { "port": XDS_PORT }, "periodSeconds": 5 },
                        "resources": {
                            "requests": { "cpu": "100m", "memory": "128Mi" },
                            "limits": { "memory": "512Mi" },
                        },
                        "securityContext": locked_down(),
                    }],
                },
            },
        }}),
    )
}

fn controller_service(settings: &Settings) -> Object {
    namespaced(
        ObjectKind::Service,
        settings,
        CONTROLLER,
        CONTROLLER,
        json!({ "spec": {
            "type": "ClusterIP",
            "selector": pod_labels(CONTROLLER),
            "ports": [
                { "name": "tls-xds", "port": XDS_PORT, "targetPort": XDS_PORT, "protocol": "TCP" },
                // The API server calls webhooks on 443 unless told otherwise.
                { "name": "https-webhook", "port": 443, "targetPort": WEBHOOK_PORT, "protocol": "TCP" },
            ],
        }}),
    )
}

/// What may reach the controller's Pods: the proxies (xDS and spans, on [`XDS_PORT`]) and the
/// API server (the webhooks), from anywhere, since neither can be told by its address; nothing
/// else. Enforced where the cluster's network plugin enforces NetworkPolicy.
fn controller_network_policy(settings: &Settings) -> Object {
    let port = |port: u16| json!({ "protocol": "TCP", "port": port });
    namespaced(
        ObjectKind::NetworkPolicy,
        settings,
        CONTROLLER,
        CONTROLLER,
        json!({ "spec": {
            "podSelector": { "matchLabels": pod_labels(CONTROLLER) },
            "policyTypes": ["Ingress"],
            "ingress": [{ "ports": [port(XDS_PORT), port(WEBHOOK_PORT)] }],
        }}),
    )
}

/// The controller's address inside the cluster, as the gateway's bootstrap names it.
pub fn controller_host(settings: &Settings) -> String {
    format!("{CONTROLLER}.{}.svc", settings.namespace)
}

/// The ingress gateway's Envoy bootstrap: the controller's Service as the control plane.
pub fn gateway_bootstrap_json(settings: &Settings) -> Value {
    proxy_bootstrap_json(&controller_host(settings))
}

/// The Envoy bootstrap of a proxy on a cluster, the gateway's or a sidecar's: the controller
/// (`controller_host`, a name the cluster's DNS resolves) serves xDS and collects spans on
/// [`XDS_PORT`], over TLS, with a certificate for that name from the mesh's roots
/// (`roots::upstream_tls`); a static listener serves the statistics and readiness on
/// [`STATS_PORT`] without exposing the rest of the admin API.
pub fn proxy_bootstrap_json(controller_host: &str) -> Value {
    let control_plane = ControlPlane::Cluster {
        host: controller_host,
        port: XDS_PORT,
        tls: super::roots::upstream_tls(controller_host, "h2"),
        http_filters: super::identity::credential_filters(),
    };
    let mut bootstrap = translate::bootstrap(SocketAddr::from(([127, 0, 0, 1], ADMIN_PORT)), &control_plane);
    let to_admin = |path: &str| json!({ "match": { "path": path }, "route": { "cluster": "admin" } });
    let stats = static_http_listener("stats", STATS_PORT, vec![to_admin("/stats/prometheus"), to_admin("/ready")]);
    let resources = &mut bootstrap["static_resources"];
    resources["listeners"] = json!([stats]);
    resources["clusters"].as_array_mut().expect("the bootstrap has clusters").push(static_cluster(
        "admin",
        "127.0.0.1",
        ADMIN_PORT,
    ));
    bootstrap
}

/// The file the bootstrap is mounted as in the gateway's Pod.
pub const BOOTSTRAP_FILE: &str = "bootstrap.yaml";
const BOOTSTRAP_DIR: &str = "/etc/meshctl";

fn gateway_bootstrap(settings: &Settings) -> Object {
    let text = api::yaml::to_string(&gateway_bootstrap_json(settings));
    namespaced(ObjectKind::ConfigMap, settings, GATEWAY, GATEWAY, json!({ "data": { BOOTSTRAP_FILE: text } }))
}

/// Envoy's command line in the gateway's Pod (after `envoy`).
pub fn gateway_args() -> Vec<String> {
    translate::envoy_args(&["-c", &format!("{BOOTSTRAP_DIR}/{BOOTSTRAP_FILE}")], POD_NODE, GATEWAY)
}

/// A Pod's proxy's node id, `POD.NAMESPACE`, as Envoy's command line names it: Kubernetes
/// expands `$(VAR)` from the container's environment ([`downward_env`]).
pub const POD_NODE: &str = "$(POD_NAME).$(POD_NAMESPACE)";

fn gateway_deployment(settings: &Settings) -> Object {
    let ports = [("http".to_string(), GATEWAY_HTTP_PORT)];
    proxy_deployment(settings, (GATEWAY, GATEWAY), pod_labels(GATEWAY), gateway_pod_labels(), &ports)
}

/// The Deployment of a gateway's Envoy, `name` of `component`, whose Pods carry `labels` (and
/// are selected by `selector`) and listen on `ports` (name, number; numbers under 1024 too,
/// as the Pod lets its unprivileged user bind them).
pub fn proxy_deployment(
    settings: &Settings,
    (name, component): (&str, &str),
    selector: Value,
    labels: Value,
    ports: &[(String, u16)],
) -> Object {
    let mut container_ports: Vec<Value> =
        ports.iter().map(|(name, port)| json!({ "name": name, "containerPort": port, "protocol": "TCP" })).collect();
    container_ports.push(json!({ "name": "http-envoy-prom", "containerPort": STATS_PORT, "protocol": "TCP" }));
    namespaced(
        ObjectKind::Deployment,
        settings,
        name,
        component,
        json!({ "spec": {
            "replicas": 1,
            "selector": { "matchLabels": selector },
            "template": {
                "metadata": {
                    "labels": labels,
                    "annotations": { super::identity::CREDENTIAL_ANNOTATION: super::identity::credential_sds() },
                },
                "spec": {
                    "serviceAccountName": GATEWAY,
                    "automountServiceAccountToken": false,
                    "securityContext": {
                        // Istio's proxy user, which part 2's traffic capture exempts.
                        "runAsNonRoot": true,
                        "runAsUser": 1337,
                        "runAsGroup": 1337,
                        "seccompProfile": { "type": "RuntimeDefault" },
                        // A Gateway's listeners take ports such as 80 and 443 (a safe sysctl,
                        // namespaced to the Pod, allowed by every kubelet since 1.22).
                        "sysctls": [{ "name": "net.ipv4.ip_unprivileged_port_start", "value": "0" }],
                    },
                    "containers": [{
                        "name": "envoy",
                        "image": settings.envoy_image,
                        "command": ["envoy"],
                        "args": gateway_args(),
                        "env": downward_env(),
                        "ports": container_ports,
                        // Envoy's /ready: live once its first configuration arrived over ADS.
                        "readinessProbe": {
                            "httpGet": { "path": "/ready", "port": STATS_PORT },
                            "periodSeconds": 5,
                        },
                        "resources": {
                            "requests": { "cpu": settings.proxy_cpu, "memory": "128Mi" },
                            "limits": { "memory": "1Gi" },
                        },
                        "securityContext": locked_down(),
                        "volumeMounts": [
                            { "name": "bootstrap", "mountPath": BOOTSTRAP_DIR, "readOnly": true },
                            super::identity::mount(),
                            super::roots::mount(),
                        ],
                    }],
                    "volumes": [
                        { "name": "bootstrap", "configMap": { "name": GATEWAY } },
                        super::identity::volume(),
                        super::roots::volume(),
                    ],
                },
            },
        }}),
    )
}

/// The GatewayClass whose Gateways meshctl serves, each with a proxy of its own.
fn gateway_class() -> Object {
    let spec = serde_json::to_value(api::gateway::meshctl_class()).expect("a GatewayClass spec serializes");
    let component = Some(super::gateways::COMPONENT);
    cluster_scoped(ObjectKind::GatewayClass, api::gateway::GATEWAY_CLASS, component, json!({ "spec": spec }))
}

fn gateway_service(settings: &Settings) -> Object {
    let ports = [json!({ "name": "http", "port": 80, "targetPort": GATEWAY_HTTP_PORT, "protocol": "TCP" })];
    proxy_service(settings, (GATEWAY, GATEWAY), settings.gateway_service, pod_labels(GATEWAY), &ports)
}

/// The Service of a gateway's Envoy, `name` of `component`: `ports` of the Pods `selector`
/// picks.
pub fn proxy_service(
    settings: &Settings,
    (name, component): (&str, &str),
    kind: GatewayService,
    selector: Value,
    ports: &[Value],
) -> Object {
    namespaced(
        ObjectKind::Service,
        settings,
        name,
        component,
        json!({ "spec": { "type": kind.type_name(), "selector": selector, "ports": ports } }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings::new("example.test/meshctl:dev".into(), DEFAULT_ENVOY_IMAGE.into(), GatewayService::LoadBalancer)
    }

    fn mk_ca() -> CaMaterial {
        CaMaterial { cert_pem: "CERT".into(), key_pem: "KEY".into() }
    }

    #[test]
    fn every_object_is_labelled_and_comes_after_what_it_needs() {
        let objects = objects(&settings(), &Found { new_ca: Some(mk_ca()), ..Found::default() });
        for o in &objects {
            assert_eq!(o.json["metadata"]["labels"][MANAGED_BY], MANAGED_BY_VALUE, "{}", o.reference());
            assert_eq!(o.json["apiVersion"], o.kind.api_version(), "{}", o.reference());
            assert_eq!(o.json["kind"], o.kind.kind(), "{}", o.reference());
            assert_eq!(o.namespace().is_some(), o.kind.namespaced(), "{}", o.reference());
        }
        let order: Vec<ObjectKind> = objects.iter().map(|o| o.kind).collect();
        assert!(order.is_sorted(), "{order:?}");
        assert_eq!(order.iter().filter(|k| **k == ObjectKind::CustomResourceDefinition).count(), crds().len());
        assert_eq!(order.iter().filter(|k| **k == ObjectKind::Secret).count(), 1);
    }

    #[test]
    fn istio_crds_found_on_the_cluster_and_an_existing_ca_are_left_alone() {
        let foreign: BTreeSet<String> = ["virtualservices.networking.istio.io".to_string()].into();
        let objects = objects(&settings(), &Found { foreign_crds: foreign, new_ca: None });
        let names: Vec<String> = objects.iter().map(Object::reference).collect();
        assert!(!names.iter().any(|n| n.contains("virtualservices")), "{names:?}");
        assert!(names.iter().any(|n| n.contains("destinationrules")), "{names:?}");
        assert!(!objects.iter().any(|o| o.kind == ObjectKind::Secret), "{names:?}");
    }

    #[test]
    fn the_controller_may_watch_every_mesh_kind_and_holds_no_wildcard() {
        for kind in CLUSTER_KINDS {
            let crd = kind.crd();
            let (group, plural) = (crd.spec.group.as_str(), crd.spec.names.plural.as_str());
            let readable = |verb: &str| {
                CLUSTER_GRANTS
                    .iter()
                    .any(|g| g.group == group && g.resources.contains(&plural) && g.verbs.contains(&verb))
            };
            assert!(["list", "watch"].iter().all(|v| readable(v)), "{plural}.{group}");
        }
        for g in CLUSTER_GRANTS.iter().chain(NAMESPACE_GRANTS) {
            assert!(!g.resources.contains(&"*") && !g.verbs.contains(&"*"), "{g:?}");
            // Gateways' certificates may be in any namespace, as Istio's istiod reads them; the
            // controller may read them, never write or delete a Secret it does not own.
            if g.resources.contains(&"secrets") && g.names.is_empty() {
                assert_eq!(g.verbs, WATCH, "secrets other than the CA's are only read: {g:?}");
            }
        }
    }

    #[test]
    fn references_read_as_kubectl_prints_them() {
        assert_eq!(reference(ObjectKind::Deployment, "x"), "deployment.apps/x");
        assert_eq!(reference(ObjectKind::Namespace, "x"), "namespace/x");
        assert_eq!(ObjectKind::ClusterRole.resource(), "clusterroles.rbac.authorization.k8s.io");
        assert!(!format!("{:?}", mk_ca()).contains("KEY"), "Debug leaves the key out");
    }

    #[test]
    fn the_gateway_bootstrap_reaches_the_controller_service_over_http2() {
        let bootstrap = gateway_bootstrap_json(&settings());
        let xds = &bootstrap["static_resources"]["clusters"][0];
        assert_eq!(xds["name"], crate::translate::XDS_CLUSTER);
        let address = &xds["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"];
        assert_eq!(address["socket_address"]["address"], "meshctl-controller.meshctl-system.svc");
        assert_eq!(address["socket_address"]["port_value"], XDS_PORT);
    }
}
