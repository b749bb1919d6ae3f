//! The gateways' objects: the Envoy bootstrap of a proxy on a cluster, install's ingress
//! gateway (its ConfigMap, Deployment and Service), the Deployment and Service of any gateway's
//! Envoy, and the GatewayClass whose Gateways meshctl serves.

use std::net::SocketAddr;

use serde_json::{Value, json};

use super::controller::{controller_host, downward_env, locked_down};
use super::{
    ADMIN_PORT, GATEWAY, GATEWAY_HTTP_PORT, GatewayService, Object, ObjectKind, STATS_PORT, Settings, XDS_PORT,
    cluster_scoped, namespaced, pod_labels,
};
use crate::api;
use crate::translate::{self, ControlPlane, static_cluster, static_http_listener};

/// The ingress gateway's Envoy bootstrap: the controller's Service as the control plane.
pub fn gateway_bootstrap_json(settings: &Settings) -> Value {
    proxy_bootstrap_json(&controller_host(settings))
}

/// The gateway Pod's labels: its component's, and the one Istio's Gateways select by.
fn gateway_pod_labels() -> Value {
    let mut labels = pod_labels(GATEWAY);
    let (key, value) = api::networking::INGRESS_GATEWAY_LABEL;
    labels[key] = json!(value);
    labels
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
        tls: crate::kube::roots::upstream_tls(controller_host, "h2"),
        http_filters: crate::kube::identity::credential_filters(),
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

pub(super) fn gateway_bootstrap(settings: &Settings) -> Object {
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

pub(super) fn gateway_deployment(settings: &Settings) -> Object {
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
                    "annotations": { crate::kube::identity::CREDENTIAL_ANNOTATION: crate::kube::identity::credential_sds() },
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
                            crate::kube::identity::mount(),
                            crate::kube::roots::mount(),
                        ],
                    }],
                    "volumes": [
                        { "name": "bootstrap", "configMap": { "name": GATEWAY } },
                        crate::kube::identity::volume(),
                        crate::kube::roots::volume(),
                    ],
                },
            },
        }}),
    )
}

/// The GatewayClass whose Gateways meshctl serves, each with a proxy of its own.
pub(super) fn gateway_class() -> Object {
    let spec = serde_json::to_value(api::gateway::meshctl_class()).expect("a GatewayClass spec serializes");
    let component = Some(crate::kube::gateways::COMPONENT);
    cluster_scoped(ObjectKind::GatewayClass, api::gateway::GATEWAY_CLASS, component, json!({ "spec": spec }))
}

pub(super) fn gateway_service(settings: &Settings) -> Object {
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
