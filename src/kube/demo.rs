//! The demo mesh on a cluster: each of the demo's `Workload`s as a cluster runs it, in a
//! namespace labelled for injection, so that every Pod gets its sidecar from the webhook.
//!
//! ```text
//!   Workload frontend (service frontend, labels, command, args)
//!     ──▶ ServiceAccount frontend   the workload's identity
//!         Deployment frontend       meshctl's image running the command, listening on 0.0.0.0:8080
//!         Service frontend          port 80 (the workload's) to 8080, selecting app=frontend
//! ```
//!
//! A local workload learns its port and the gateway from the local mesh's environment (`PORT`,
//! `MESH_GATEWAY`); here the Deployment gives the same variables their cluster values. It
//! calls other services by name, as any app in a Pod, and its sidecar captures the calls.
//! The objects carry no label of install's, so `meshctl uninstall` leaves them serving.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::install::{GATEWAY, NAMESPACE as SYSTEM_NAMESPACE, Object, ObjectKind};
use crate::api::meshctl::{WorkloadPort, WorkloadSpec};

/// Where `meshctl demo` puts the demo on a cluster unless told otherwise.
pub const NAMESPACE: &str = "demo";
/// The port every demo container listens on.
const APP_PORT: u16 = 8080;
/// What marks the demo's objects, for `kubectl get all -l` and for nothing of install's.
const PART_OF: (&str, &str) = ("app.kubernetes.io/part-of", "meshctl-demo");

/// The namespace, labelled for injection, and each workload's ServiceAccount, Deployment and
/// Service (one per service), in the order they are applied; `image` is meshctl's, which has
/// the demo app.
pub fn objects(workloads: &[(String, WorkloadSpec)], namespace: &str, image: &str) -> Vec<Object> {
    let mut labelled = object(ObjectKind::Namespace, namespace, None, json!({}));
    labelled.json["metadata"]["labels"]["meshctl.io/inject"] = json!("enabled");
    let mut objects = vec![labelled];
    let accounts: BTreeMap<&str, ()> = workloads.iter().map(|(_, w)| (account(w), ())).collect();
    for account in accounts.keys() {
        objects.push(object(ObjectKind::ServiceAccount, account, Some(namespace), json!({})));
    }
    // A service's ports are its first workload's, each sent to the container port of its name.
    let mut services: BTreeMap<&str, &[WorkloadPort]> = BTreeMap::new();
    for (name, workload) in workloads {
        objects.push(deployment(name, workload, namespace, image));
        services.entry(&workload.service).or_insert(&workload.ports);
    }
    for (service, ports) in services {
        let ports: Vec<Value> = ports
            .iter()
            .map(|p| {
                let mut port = json!({ "name": p.name, "port": p.port, "targetPort": p.name });
                if let Some(protocol) = &p.app_protocol {
                    port["appProtocol"] = json!(protocol);
                }
                port
            })
            .collect();
        let spec = json!({ "spec": { "selector": { "app": service }, "ports": ports } });
        objects.push(object(ObjectKind::Service, service, Some(namespace), spec));
    }
    objects
}

fn account(workload: &WorkloadSpec) -> &str {
    workload.service_account.as_deref().unwrap_or(&workload.service)
}

fn deployment(name: &str, workload: &WorkloadSpec, namespace: &str, image: &str) -> Object {
    let mut labels = json!({ "app": workload.service });
    for (key, value) in &workload.labels {
        labels[key] = json!(value);
    }
    let gateway = format!("{GATEWAY}.{SYSTEM_NAMESPACE}:80");
    // The application listens on consecutive ports from APP_PORT, one per workload port.
    let app_ports: Vec<u16> = (APP_PORT..).take(workload.ports.len()).collect();
    let mut env = vec![json!({ "name": "PORT", "value": APP_PORT.to_string() })];
    for (port, number) in workload.ports.iter().zip(&app_ports) {
        env.push(json!({ "name": port.variable(), "value": number.to_string() }));
    }
    env.push(json!({ "name": "MESH_GATEWAY", "value": gateway }));
    env.extend(workload.env.iter().map(|e| json!({ "name": e.name, "value": e.value })));
    // The local mesh's workloads listen on loopback behind their sidecar; a Pod's app is
    // reached on the Pod's address.
    let mut args = workload.args.clone();
    args.extend(["--address".to_string(), "0.0.0.0".to_string()]);
    let spec = json!({ "spec": {
        "replicas": workload.replicas,
        "selector": { "matchLabels": labels },
        "template": {
            "metadata": { "labels": labels },
            "spec": {
                "serviceAccountName": account(workload),
                "containers": [{
                    "name": "app",
                    "image": image,
                    "command": workload.command,
                    "args": args,
                    "env": env,
                    "ports": workload.ports.iter().zip(&app_ports)
                        .map(|(p, number)| json!({ "name": p.name, "containerPort": number }))
                        .collect::<Vec<_>>(),
                    // The demo app's health check; injection sends it through the proxy, which
                    // asks the app (a TCP probe would be answered by the capture, always).
                    "readinessProbe": { "httpGet": { "path": "/healthz", "port": APP_PORT }, "periodSeconds": 2 },
                }],
            },
        },
    }});
    object(ObjectKind::Deployment, name, Some(namespace), spec)
}

/// An object of the demo's: `rest` holds its fields after `metadata` (spec, ...).
fn object(kind: ObjectKind, name: &str, namespace: Option<&str>, rest: Value) -> Object {
    let mut json = json!({
        "apiVersion": kind.api_version(),
        "kind": kind.kind(),
        "metadata": { "name": name, "labels": { PART_OF.0: PART_OF.1 } },
    });
    if let Some(namespace) = namespace {
        json["metadata"]["namespace"] = json!(namespace);
    }
    if let (Value::Object(into), Value::Object(from)) = (&mut json, rest) {
        into.extend(from);
    }
    Object { kind, json }
}
