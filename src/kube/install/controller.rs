//! The controller's objects: its CA Secret, Deployment, Service and NetworkPolicy.

use base64::Engine as _;
use serde_json::{Value, json};

use super::{
    CA_SECRET, CONTROLLER, CaMaterial, Object, ObjectKind, Settings, WEBHOOK_PORT, XDS_PORT, namespaced, pod_labels,
};

/// The keys of the CA Secret, as Istio names those of its own CA secret.
pub const CA_CERT_KEY: &str = "ca-cert.pem";
pub const CA_KEY_KEY: &str = "ca-key.pem";
/// The roots every proxy trusts; the signing root alone until a rotation.
pub const ROOT_CERT_KEY: &str = "root-cert.pem";

pub(super) fn ca_secret(settings: &Settings, ca: &CaMaterial) -> Object {
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
pub(super) fn locked_down() -> Value {
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

pub(super) fn deployment(settings: &Settings) -> Object {
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

pub(super) fn service(settings: &Settings) -> Object {
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
pub(super) fn network_policy(settings: &Settings) -> Object {
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
