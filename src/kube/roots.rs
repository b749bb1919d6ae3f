//! The mesh's roots where every proxy can read them: a ConfigMap ([`CONFIGMAP`]) in every
//! namespace, kept by the controller, as Istio keeps `istio-ca-root-cert`. A proxy mounts it
//! and trusts the controller's xDS certificate by it. The file Envoy reads is an SDS file,
//! which Envoy reads again when the kubelet swaps the volume's files, so new roots reach
//! running proxies without a restart. Nothing in it is secret.
//!
//! Each ConfigMap is owned by the controller's ClusterRole: uninstall deletes that, and the
//! garbage collector takes the ConfigMaps with it, in every namespace.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::runtime::watcher;
use kube::{Api, ResourceExt};
use serde_json::{Value, json};
use tokio_stream::StreamExt;

use super::client::Cluster;
use super::install::{self, CONTROLLER, Object, ObjectKind};

/// The ConfigMap, in every namespace, and the Pod volume that mounts it.
pub const CONFIGMAP: &str = "meshctl-root-cert";
/// Its keys: the roots as PEM, for people and tools; and as the SDS file Envoy reads.
pub const PEM_KEY: &str = "root-cert.pem";
const SDS_KEY: &str = "xds-root.json";
/// The name of the SDS secret in the file.
const SECRET: &str = "xds-root";
/// Where a proxy container mounts it.
pub const DIR: &str = "/var/run/meshctl/root";
/// The field manager of the ConfigMaps.
const MANAGER: &str = "meshctl-controller";
/// How long to wait before trying a namespace again whose ConfigMap could not be written.
const RETRY: Duration = Duration::from_secs(5);

/// A proxy Pod's volume of the ConfigMap.
pub fn volume() -> Value {
    json!({ "name": CONFIGMAP, "configMap": { "name": CONFIGMAP } })
}

/// Where the proxy container mounts [`volume`].
pub fn mount() -> Value {
    json!({ "name": CONFIGMAP, "mountPath": DIR, "readOnly": true })
}

/// The TLS of a proxy's connections to the controller (`host`, the name it is called by): the
/// certificate must be for that name, from one of the mesh's roots as the mounted file has them
/// now.
pub fn upstream_tls(host: &str, alpn: &str) -> Value {
    json!({
        "name": "envoy.transport_sockets.tls",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
            "sni": host,
            "common_tls_context": {
                "alpn_protocols": [alpn],
                "combined_validation_context": {
                    "default_validation_context": {
                        "match_typed_subject_alt_names": [{ "san_type": "DNS", "matcher": { "exact": host } }],
                    },
                    "validation_context_sds_secret_config": {
                        "name": SECRET,
                        "sds_config": {
                            "path_config_source": {
                                "path": format!("{DIR}/{SDS_KEY}"),
                                // The kubelet updates a ConfigMap volume by renaming a directory.
                                "watched_directory": { "path": DIR },
                            },
                            "resource_api_version": "V3",
                        },
                    },
                },
            },
        },
    })
}

/// What the ConfigMap holds for `roots` (PEM).
pub fn data(roots: &str) -> Value {
    let sds = json!({ "resources": [{
        "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret",
        "name": SECRET,
        "validation_context": { "trusted_ca": { "inline_string": roots } },
    }]});
    json!({ PEM_KEY: roots, SDS_KEY: sds.to_string() })
}

/// The ConfigMap of `namespace`, owned by `owner` (the ClusterRole's reference).
fn configmap(namespace: &str, data: &Value, owner: &Value) -> Object {
    let kind = ObjectKind::ConfigMap;
    Object {
        kind,
        json: json!({
            "apiVersion": kind.api_version(),
            "kind": kind.kind(),
            "metadata": {
                "name": CONFIGMAP,
                "namespace": namespace,
                "labels": { install::MANAGED_BY: install::MANAGED_BY_VALUE },
                "ownerReferences": [owner],
            },
            "data": data,
        }),
    }
}

/// Keeps the ConfigMap holding the mesh's roots in every namespace until the process ends:
/// written in each namespace that appears, again wherever it is deleted or changed, and in
/// every namespace when the roots change (a rotation).
pub async fn publish(cluster: Cluster, mut ca: tokio::sync::watch::Receiver<crate::pki::Kept>) {
    let mut data = data(&ca.borrow_and_update().bundle);
    let owner = loop {
        match cluster.get(ObjectKind::ClusterRole, None, CONTROLLER).await {
            Ok(Some(role)) => {
                let kind = ObjectKind::ClusterRole;
                break json!({
                    "apiVersion": kind.api_version(), "kind": kind.kind(),
                    "name": CONTROLLER, "uid": role.uid().unwrap_or_default(),
                });
            }
            Ok(None) => tracing::warn!("ClusterRole {CONTROLLER} is missing; run `meshctl install` again"),
            Err(e) => tracing::warn!(error = %e, "cannot read ClusterRole {CONTROLLER}; trying again"),
        }
        tokio::time::sleep(RETRY).await;
    };
    let client = cluster.client().clone();
    let namespaces = watcher(Api::<Namespace>::all(client.clone()), watcher::Config::default()).map(Seen::Namespace);
    let maps = watcher(
        Api::<ConfigMap>::all(client),
        watcher::Config::default().fields(&format!("metadata.name={CONFIGMAP}")),
    )
    .map(Seen::ConfigMap);
    let mut events = std::pin::pin!(namespaces.merge(maps));
    // The namespaces that exist, and whether each holds the roots as they should be.
    let mut current: HashMap<String, bool> = HashMap::new();
    let mut failing: HashSet<String> = HashSet::new();
    let mut retry = tokio::time::interval(RETRY);
    loop {
        let mut due: Vec<String> = Vec::new();
        tokio::select! {
            Some(seen) = events.next() => match seen {
                Seen::Namespace(Ok(watcher::Event::Apply(ns) | watcher::Event::InitApply(ns))) => {
                    let terminating = ns.metadata.deletion_timestamp.is_some()
                        || ns.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Terminating");
                    if terminating {
                        current.remove(&ns.name_any());
                    } else if !current.get(&ns.name_any()).copied().unwrap_or(false) {
                        current.insert(ns.name_any(), false);
                        due.push(ns.name_any());
                    }
                }
                Seen::Namespace(Ok(watcher::Event::Delete(ns))) => {
                    current.remove(&ns.name_any());
                    failing.remove(&ns.name_any());
                }
                // Only a namespace's own events say it is there: a ConfigMap's may come late,
                // from a namespace already being deleted.
                Seen::ConfigMap(Ok(watcher::Event::Apply(map) | watcher::Event::InitApply(map))) => {
                    let namespace = map.namespace().unwrap_or_default();
                    let right = serde_json::to_value(&map.data).unwrap_or_default() == data;
                    if let Some(state) = current.get_mut(&namespace) {
                        *state = right;
                        if !right {
                            due.push(namespace);
                        }
                    }
                }
                // Written again at the next retry rather than at once: a namespace being deleted
                // loses its ConfigMaps, and its own watch may say so a moment later.
                Seen::ConfigMap(Ok(watcher::Event::Delete(map))) => {
                    let namespace = map.namespace().unwrap_or_default();
                    if let Some(state) = current.get_mut(&namespace) {
                        *state = false;
                        failing.insert(namespace);
                    }
                }
                Seen::Namespace(Ok(_)) | Seen::ConfigMap(Ok(_)) => {}
                Seen::Namespace(Err(e)) | Seen::ConfigMap(Err(e)) => {
                    tracing::debug!(error = %e, "watching for the roots' namespaces");
                }
            },
            _ = retry.tick() => due.extend(failing.drain()),
            Ok(()) = ca.changed() => {
                data = self::data(&ca.borrow_and_update().bundle);
                current.values_mut().for_each(|right| *right = false);
                due.extend(current.keys().cloned());
            }
        }
        for namespace in due {
            if !current.contains_key(&namespace) {
                continue;
            }
            match cluster.apply_as(MANAGER, &configmap(&namespace, &data, &owner)).await {
                Ok(()) => {
                    current.insert(namespace, true);
                }
                Err(e) => {
                    tracing::debug!(%namespace, error = %e, "cannot write the mesh's roots; trying again");
                    failing.insert(namespace);
                }
            }
        }
    }
}

enum Seen {
    Namespace(Result<watcher::Event<Namespace>, watcher::Error>),
    ConfigMap(Result<watcher::Event<ConfigMap>, watcher::Error>),
}
