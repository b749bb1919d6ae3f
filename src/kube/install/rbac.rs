//! The controller's rights: each rule it holds, why, and the ClusterRole and Role they make.

use serde_json::{Value, json};

use super::{CA_SECRET, CONTROLLER, Object, ObjectKind, Settings, cluster_scoped, namespaced};

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
pub(super) const WATCH: &[&str] = &["list", "watch"];

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
        names: &[crate::kube::roots::CONFIGMAP],
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
        resources: &["destinationrules", "serviceentries", "gateways", "sidecars"],
        names: &[],
        verbs: WATCH,
        why: "traffic policy, the services outside the registry, what the ingress gateway serves, and what \
              each sidecar sees, translated into each proxy's configuration",
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
        names: &[crate::kube::webhook::CONFIGURATION],
        verbs: &["list", "watch", "patch"],
        why: "the sidecar injector's caBundle: the mesh CA, which signs the webhook's certificate, set again when \
              another writer changes it",
    },
    Grant {
        group: "admissionregistration.k8s.io",
        resources: &["validatingwebhookconfigurations"],
        names: &[crate::kube::admission::CONFIGURATION],
        verbs: &["list", "watch", "patch"],
        why: "the validator's caBundle: the mesh CA, which signs the webhook's certificate, set again when another \
              writer changes it",
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
        verbs: &["get", "list", "watch", "create", "patch", "delete"],
        why: "each Gateway's proxy, run beside install's ingress gateway, put back when deleted or changed by \
              hand, and removed with its Gateway",
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

pub(super) fn rbac(settings: &Settings) -> Vec<Object> {
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
