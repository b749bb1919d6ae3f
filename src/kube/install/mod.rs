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
//!
//! Here: the names, ports and settings, and the order. By job: `kinds` (the kinds of object
//! and the CRDs), `rbac` (the controller's rights), `controller` (its Secret, Deployment,
//! Service and NetworkPolicy) and `proxy` (the proxies' bootstrap and the gateways' objects).

mod controller;
mod kinds;
mod proxy;
mod rbac;

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::api;
use crate::translate::{OutboundPolicy, Tracing};

pub use controller::{CA_CERT_KEY, CA_KEY_KEY, ROOT_CERT_KEY, controller_host, downward_env};
pub use kinds::{CLUSTER_KINDS, Object, ObjectKind, crd_names, reference};
pub use proxy::{
    BOOTSTRAP_FILE, POD_NODE, gateway_args, gateway_bootstrap_json, proxy_bootstrap_json, proxy_deployment,
    proxy_service,
};
pub use rbac::{CLUSTER_GRANTS, Grant, NAMESPACE_GRANTS};

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

/// Everything install applies, in order.
pub fn objects(settings: &Settings, found: &Found) -> Vec<Object> {
    let mut objects: Vec<Object> =
        kinds::crds().into_iter().map(kinds::crd).filter(|o| !found.foreign_crds.contains(o.name())).collect();
    objects.push(namespace(settings));
    objects.push(service_account(settings, CONTROLLER, true));
    // The gateway never calls the API server; it proves itself to the controller with a
    // projected token of its own (kube::identity).
    objects.push(service_account(settings, GATEWAY, false));
    objects.extend(rbac::rbac(settings));
    if let Some(ca) = &found.new_ca {
        objects.push(controller::ca_secret(settings, ca));
    }
    objects.push(proxy::gateway_bootstrap(settings));
    objects.push(controller::service(settings));
    objects.push(proxy::gateway_service(settings));
    objects.push(controller::network_policy(settings));
    objects.push(controller::deployment(settings));
    objects.push(proxy::gateway_deployment(settings));
    objects.push(proxy::gateway_class());
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

fn namespace(settings: &Settings) -> Object {
    cluster_scoped(ObjectKind::Namespace, &settings.namespace, None, json!({}))
}

fn service_account(settings: &Settings, name: &str, token: bool) -> Object {
    namespaced(ObjectKind::ServiceAccount, settings, name, name, json!({ "automountServiceAccountToken": token }))
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
        assert_eq!(order.iter().filter(|k| **k == ObjectKind::CustomResourceDefinition).count(), kinds::crds().len());
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
                assert_eq!(g.verbs, rbac::WATCH, "secrets other than the CA's are only read: {g:?}");
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
