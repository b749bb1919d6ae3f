//! The Gateway API's Gateways on a cluster. Each Gateway of a class meshctl serves gets an
//! Envoy of its own, as Istio and Envoy Gateway do: a Deployment and a Service in meshctl's
//! namespace (beside install's ingress gateway, with its ServiceAccount and bootstrap), named
//! after the Gateway, listening on the Gateway's ports. Its own address keeps Gateways apart
//! that listen on the same port for the same names. The leader makes and removes them; the
//! registry reads back where each one is reachable and whether its proxy is ready
//! ([`deployments`]), which the Gateway's status says.
//!
//! ```text
//!   Gateway shop/web (class meshctl) ──▶ Deployment + Service meshctl-system/gw-shop-web
//!                                          Pods: gateway.networking.k8s.io/gateway-name=web,
//!                                                meshctl.io/gateway-namespace=shop
//!                                          ──xDS──▶ listeners of Gateway shop/web
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Service;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio_stream::StreamExt as _;

use super::client::Cluster;
use super::install::{self, GatewayService, Object, ObjectKind};
use super::pod::Pod;
use crate::api::Resource;
use crate::api::gateway::{GATEWAY_CONTROLLER, Gateway, GatewayAddress};
use crate::ingress::Deployed;
use crate::publish::SendChanged;

/// The component a Gateway's Deployment, Service and Pods belong to.
pub const COMPONENT: &str = "meshctl-gateway";
/// The Gateway a proxy serves, by name (the Gateway API's label) and namespace (meshctl's).
pub const NAME_LABEL: &str = "gateway.networking.k8s.io/gateway-name";
pub const NAMESPACE_LABEL: &str = "meshctl.io/gateway-namespace";
/// Istio's annotation on a Gateway that picks its Service's type; the default is install's
/// `--gateway-service-type`.
pub const SERVICE_TYPE_ANNOTATION: &str = "networking.istio.io/service-type";

/// The Gateway (namespace, name) a Pod with `labels` serves.
pub fn served(labels: &BTreeMap<String, String>) -> Option<(String, String)> {
    Some((labels.get(NAMESPACE_LABEL)?.clone(), labels.get(NAME_LABEL)?.clone()))
}

/// The name of the Deployment and Service of the Gateway `name` in `namespace`: readable, and
/// within the 63 characters a Service's name may have (a hash tells long ones apart).
pub fn object_name(namespace: &str, name: &str) -> String {
    let full = format!("gw-{namespace}-{name}");
    if full.len() <= 63 {
        return full;
    }
    // FNV-1a: stable across builds, which a std hasher is not promised to be.
    let hash = full.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    let kept: String = full.chars().take(54).collect();
    format!("{}-{:08x}", kept.trim_end_matches('-'), hash as u32)
}

fn selector(namespace: &str, name: &str) -> Value {
    let mut labels = install::pod_labels(COMPONENT);
    labels[NAME_LABEL] = json!(name);
    labels[NAMESPACE_LABEL] = json!(namespace);
    labels
}

/// The Deployment and Service of `gateway`, whose Service is `default` unless the Gateway's
/// annotation says otherwise; none when no listener can be served.
pub fn objects(settings: &install::Settings, gateway: &Gateway, default: GatewayService) -> Vec<Object> {
    let namespace = gateway.metadata.namespace.as_deref().unwrap_or_default();
    let name = gateway.metadata.name.as_deref().unwrap_or_default();
    let mut ports: Vec<(String, u16)> = gateway
        .spec
        .listeners
        .iter()
        .filter(|l| matches!(l.protocol.as_str(), "HTTP" | "HTTPS"))
        .map(|l| (format!("{}-{}", l.protocol.to_ascii_lowercase(), l.port), l.port))
        .collect();
    ports.sort_by_key(|(_, port)| *port);
    ports.dedup_by_key(|(_, port)| *port);
    if ports.is_empty() {
        return Vec::new();
    }
    let kind = gateway
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(SERVICE_TYPE_ANNOTATION))
        .and_then(|t| GatewayService::parse(t))
        .unwrap_or(default);
    let object = object_name(namespace, name);
    let labels = selector(namespace, name);
    let service_ports: Vec<Value> = ports
        .iter()
        .map(|(port_name, port)| json!({ "name": port_name, "port": port, "targetPort": port, "protocol": "TCP" }))
        .collect();
    let mut objects = vec![
        install::proxy_deployment(settings, (&object, COMPONENT), labels.clone(), labels.clone(), &ports),
        install::proxy_service(settings, (&object, COMPONENT), kind, labels, &service_ports),
    ];
    // Both say which Gateway they serve, for `kubectl get -l`.
    for o in &mut objects {
        o.json["metadata"]["labels"][NAME_LABEL] = json!(name);
        o.json["metadata"]["labels"][NAMESPACE_LABEL] = json!(namespace);
    }
    objects
}

/// Where each Gateway's proxy is reachable and whether one is ready, from the Services and
/// Pods in meshctl's `namespace`.
pub fn deployments(
    namespace: &str,
    services: &[Arc<Service>],
    pods: &[Arc<Pod>],
) -> BTreeMap<(String, String), Deployed> {
    let mut deployed: BTreeMap<(String, String), Deployed> = BTreeMap::new();
    let ours = |meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
        (meta.namespace.as_deref() == Some(namespace)).then(|| meta.labels.as_ref().and_then(served)).flatten()
    };
    for service in services {
        let Some(gateway) = ours(&service.metadata) else { continue };
        let spec = service.spec.clone().unwrap_or_default();
        let entry = deployed.entry(gateway).or_default();
        entry.proxy =
            format!("the proxy behind Service {namespace}/{}", service.metadata.name.as_deref().unwrap_or_default());
        if spec.type_.as_deref() == Some("LoadBalancer") {
            let ingress =
                service.status.as_ref().and_then(|s| s.load_balancer.as_ref()).and_then(|l| l.ingress.clone());
            for point in ingress.unwrap_or_default() {
                let address = match (point.ip, point.hostname) {
                    (Some(ip), _) => GatewayAddress { kind: "IPAddress".into(), value: ip },
                    (None, Some(host)) => GatewayAddress { kind: "Hostname".into(), value: host },
                    (None, None) => continue,
                };
                entry.addresses.push(address);
            }
            entry.waiting_for_load_balancer = entry.addresses.is_empty();
        } else if let Some(ip) = spec.cluster_ip.filter(|ip| !ip.is_empty() && ip != "None") {
            entry.addresses.push(GatewayAddress { kind: "IPAddress".into(), value: ip });
        }
    }
    for pod in pods {
        let Some(gateway) = ours(&pod.metadata) else { continue };
        let ready = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
        let entry = deployed.entry(gateway).or_default();
        entry.ready |= ready && pod.metadata.deletion_timestamp.is_none();
    }
    deployed
}

/// Makes and removes the Gateways' Deployments and Services while this replica leads: on
/// every change of what is wanted, when it comes to lead (one whose Gateway went while
/// another replica led goes), and when one of them is deleted or its spec changed by someone
/// else (it comes back as it should be). Idle, it asks the API server for nothing.
pub struct Provisioner {
    wanted: watch::Sender<Vec<Object>>,
    problem: watch::Receiver<Option<String>>,
    task: tokio::task::JoinHandle<()>,
}

impl Provisioner {
    pub fn start(cluster: Cluster, namespace: String, mut leading: watch::Receiver<bool>) -> Provisioner {
        let (wanted, mut objects) = watch::channel(Vec::<Object>::new());
        let (said, problem) = watch::channel(None);
        let task = tokio::spawn(async move {
            let mut drift = std::pin::pin!(drift(&cluster, &namespace));
            loop {
                if *leading.borrow_and_update() {
                    let current = objects.borrow_and_update().clone();
                    let outcome = provision(&cluster, &namespace, &current).await;
                    if let Err(problem) = &outcome {
                        tracing::warn!(%problem, "the Gateways' proxies");
                    }
                    said.send_changed(outcome.err());
                }
                tokio::select! {
                    changed = objects.changed() => if changed.is_err() { return },
                    _ = leading.changed() => {}
                    Some(()) = drift.next() => {}
                }
            }
        });
        Provisioner { wanted, problem, task }
    }

    /// Brings the Deployments and Services in line with the Gateways among `resources`.
    pub fn want(&self, resources: &[Resource], settings: &install::Settings, default: GatewayService) {
        let classes: Vec<&str> = resources
            .iter()
            .filter_map(|r| match r {
                Resource::GatewayClass(c) if c.spec.controller_name == GATEWAY_CONTROLLER => c.metadata.name.as_deref(),
                _ => None,
            })
            .collect();
        let objects: Vec<Object> = resources
            .iter()
            .filter_map(|r| match r {
                Resource::Gateway(g) if classes.contains(&g.spec.gateway_class_name.as_str()) => Some(g),
                _ => None,
            })
            .flat_map(|g| objects(settings, g, default))
            .collect();
        self.wanted.send_changed(objects);
    }

    pub fn problem(&self) -> Option<String> {
        self.problem.borrow().clone()
    }

    /// Resolves when the problem changes, for the controller to report it.
    pub async fn problem_changed(&mut self) {
        if self.problem.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

impl Drop for Provisioner {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A stream that yields when one of the Gateways' Deployments or Services in `namespace` comes,
/// goes or has its spec changed (its generation moves); not for changes of their status, nor
/// for the provisioner's own writes that change nothing.
fn drift(cluster: &Cluster, namespace: &str) -> impl tokio_stream::Stream<Item = ()> + use<> {
    use k8s_openapi::api::apps::v1::Deployment;
    use kube::runtime::watcher;
    let config = watcher::Config::default().labels(&format!("app.kubernetes.io/name={COMPONENT}"));
    let generation =
        |meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| meta.generation.map(|g| g.to_string());
    let client = cluster.client().clone();
    let api = kube::Api::<Deployment>::namespaced(client.clone(), namespace);
    let deployments = super::watch::changes(api, config.clone(), generation, "the Gateways' Deployments".into());
    let api = kube::Api::<Service>::namespaced(client, namespace);
    deployments.merge(super::watch::changes(api, config, generation, "the Gateways' Services".into()))
}

async fn provision(cluster: &Cluster, namespace: &str, objects: &[Object]) -> Result<(), String> {
    let mut failed = Vec::new();
    for object in objects {
        if let Err(e) = cluster.apply(object).await {
            failed.push(format!("the proxy of a Gateway: {e}"));
        }
    }
    let selector = format!("app.kubernetes.io/name={COMPONENT}");
    for kind in [ObjectKind::Service, ObjectKind::Deployment] {
        let existing = match cluster.list(kind, Some(namespace), &selector).await {
            Ok(existing) => existing,
            Err(e) => {
                failed.push(format!("the proxies of Gateways: {e}"));
                continue;
            }
        };
        for object in existing {
            let name = object.metadata.name.unwrap_or_default();
            if !objects.iter().any(|o| o.kind == kind && o.name() == name)
                && let Err(e) = cluster.delete(kind, Some(namespace), &name).await
            {
                failed.push(format!("the proxy of a removed Gateway: {e}"));
            }
        }
    }
    if failed.is_empty() { Ok(()) } else { Err(failed.join("; ")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_stay_readable_and_within_a_services_limit() {
        assert_eq!(object_name("shop", "web"), "gw-shop-web");
        let long = object_name("gateway-conformance-infra", "gateway-supported-and-unsupported-protocols");
        assert!(long.len() <= 63 && long.starts_with("gw-gateway-conformance-infra-"), "{long}");
        assert_ne!(long, object_name("gateway-conformance-infra", "gateway-supported-and-unsupported-protocolz"));
    }
}
