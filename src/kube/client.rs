//! Talking to a cluster: a client from a kubeconfig (or a Pod's ServiceAccount), and the calls
//! install, uninstall and the demo make (get, server-side apply, list by label, delete), with
//! errors that name the server, the verb and the resource.

use std::collections::BTreeSet;
use std::path::PathBuf;

use kube::api::{ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use serde_json::Value;

use super::install::{self, FIELD_MANAGER, MANAGED_BY, MANAGED_BY_VALUE, Object, ObjectKind, reference};

/// Which cluster: kubectl's `--kubeconfig` and `--context`.
#[derive(Clone, Debug, Default)]
pub struct Target {
    /// The kubeconfig file; `None` reads `KUBECONFIG`, then `~/.kube/config`.
    pub kubeconfig: Option<PathBuf>,
    /// The context; `None` is the kubeconfig's current context.
    pub context: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "cannot use the kubeconfig ({where_}): {reason}; pass --kubeconfig FILE, set KUBECONFIG, or name another \
         --context"
    )]
    Kubeconfig { where_: String, reason: String },
    #[error("cannot use this Pod's ServiceAccount to reach the cluster; pass --kubeconfig FILE instead")]
    InCluster {
        #[source]
        source: kube::config::InClusterError,
    },
    #[error("cannot make a client for the cluster at {server}; check the kubeconfig's certificates")]
    Client {
        server: String,
        #[source]
        source: kube::Error,
    },
    #[error(
        "cannot reach the cluster at {server} (while trying to {verb} {what}); check that it runs and that \
         --context/--kubeconfig name the cluster you mean"
    )]
    Unreachable {
        server: String,
        verb: &'static str,
        what: String,
        #[source]
        source: kube::Error,
    },
    #[error(
        "forbidden: the cluster at {server} does not let you {verb} {resource}{}; ask an administrator of the \
         cluster for that permission, or use a context that has it (the API server said: {message})",
        name.as_deref().map(|n| format!(" {n:?}")).unwrap_or_default()
    )]
    Forbidden { server: String, verb: &'static str, resource: String, name: Option<String>, message: String },
    #[error(
        "namespace {namespace} on the cluster at {server} is still being deleted (by an earlier `uninstall \
         --purge`), so nothing can be created in it; install again once `kubectl get namespace {namespace}` \
         finds none"
    )]
    Terminating { server: String, namespace: String },
    #[error("a cluster keeps no {kind}: that kind describes the local mesh's processes; on a cluster, run Pods")]
    Unsupported { kind: String },
    #[error("cannot {verb} {what} on the cluster at {server}: {message} ({reason}, HTTP {code})")]
    Api { server: String, verb: &'static str, what: String, code: u16, reason: String, message: String },
}

impl ClusterError {
    /// Whether the environment is at fault (no cluster, no permission) rather than the request.
    pub fn is_environment(&self) -> bool {
        !matches!(self, ClusterError::Api { .. } | ClusterError::Unsupported { .. })
    }
}

/// What server-side apply did to an object, as kubectl reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    Created,
    Configured,
    Unchanged,
}

impl std::fmt::Display for Applied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Applied::Created => "created",
            Applied::Configured => "configured",
            Applied::Unchanged => "unchanged",
        })
    }
}

/// What is wrong with a kubeconfig, each cause once: kube's own message for an unreadable
/// file repeats its cause and quotes the path twice, and the path is said already.
fn kubeconfig_reason(error: &kube::config::KubeconfigError) -> String {
    if let kube::config::KubeconfigError::ReadConfig(io, _) = error {
        return io.to_string();
    }
    let mut said = error.to_string();
    let mut cause = std::error::Error::source(error);
    while let Some(next) = cause {
        let text = next.to_string();
        if !said.contains(&text) {
            said = format!("{said}: {text}");
        }
        cause = next.source();
    }
    said
}

/// Whether this process runs in a Pod (Kubernetes sets `KUBERNETES_SERVICE_HOST` in every
/// container) and no kubeconfig names another cluster.
fn in_a_pod_without_kubeconfig() -> bool {
    let home_config = std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".kube/config"));
    std::env::var_os("KUBERNETES_SERVICE_HOST").is_some()
        && std::env::var_os("KUBECONFIG").is_none()
        && !home_config.is_some_and(|path| path.exists())
}

/// A connection to one cluster.
#[derive(Clone)]
pub struct Cluster {
    client: Client,
    server: String,
}

/// What meshctl calls itself to the API server.
const USER_AGENT: &str = concat!("meshctl/v", env!("CARGO_PKG_VERSION"));

impl Cluster {
    /// A client for `target`'s cluster. Nothing is sent yet: an unreachable server shows on
    /// the first request, which names it.
    pub async fn connect(target: &Target) -> Result<Cluster, ClusterError> {
        // kube's rustls uses the process's default provider; this crate builds rustls with ring.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let options = KubeConfigOptions { context: target.context.clone(), cluster: None, user: None };
        let where_ = match &target.kubeconfig {
            Some(path) => path.display().to_string(),
            None => "KUBECONFIG, else ~/.kube/config".to_string(),
        };
        let config = match &target.kubeconfig {
            Some(path) => match Kubeconfig::read_from(path) {
                Ok(file) => Config::from_custom_kubeconfig(file, &options).await,
                Err(e) => Err(e),
            },
            // In a Pod with no kubeconfig, as kubectl there: the Pod's ServiceAccount.
            None if target.context.is_none() && in_a_pod_without_kubeconfig() => {
                Ok(Config::incluster().map_err(|source| ClusterError::InCluster { source })?)
            }
            None => Config::from_kubeconfig(&options).await,
        }
        .map_err(|error| ClusterError::Kubeconfig { where_, reason: kubeconfig_reason(&error) })?;
        // As kubectl names itself: the API server's audit log then says which requests are
        // meshctl's (kube's client sends no User-Agent of its own).
        let mut config = config;
        config.headers.push((hyper::header::USER_AGENT, hyper::header::HeaderValue::from_static(USER_AGENT)));
        let server = config.cluster_url.to_string().trim_end_matches('/').to_string();
        let client =
            Client::try_from(config).map_err(|source| ClusterError::Client { server: server.clone(), source })?;
        Ok(Cluster { client, server })
    }

    /// The API server's URL, as the kubeconfig names it.
    pub fn server(&self) -> &str {
        &self.server
    }

    fn api(&self, kind: ObjectKind, namespace: Option<&str>) -> Api<DynamicObject> {
        let resource = ApiResource {
            group: kind.group().to_string(),
            version: kind.version().to_string(),
            api_version: kind.api_version(),
            kind: kind.kind().to_string(),
            plural: kind.plural().to_string(),
        };
        match namespace {
            Some(ns) if kind.namespaced() => Api::namespaced_with(self.client.clone(), ns, &resource),
            _ => Api::all_with(self.client.clone(), &resource),
        }
    }

    /// The client, for the store and the reflectors.
    pub fn client(&self) -> &Client {
        &self.client
    }

    fn error(&self, verb: &'static str, kind: ObjectKind, name: Option<&str>, error: kube::Error) -> ClusterError {
        let what = name.map_or_else(|| kind.resource(), |n| reference(kind, n));
        self.failed(verb, kind.resource(), what, name, error)
    }

    /// Turns a failed request on `resource` (`virtualservices.networking.istio.io`) into an
    /// error that names the server, the verb and the object (`what`).
    pub fn failed(
        &self,
        verb: &'static str,
        resource: String,
        what: String,
        name: Option<&str>,
        error: kube::Error,
    ) -> ClusterError {
        // The cause the API server gives when a namespace being deleted refuses new objects.
        let terminating = |status: &kube::core::Status| {
            status.details.as_ref().is_some_and(|d| d.causes.iter().any(|c| c.reason == "NamespaceTerminating"))
        };
        match error {
            kube::Error::Api(status) if terminating(&status) => ClusterError::Terminating {
                server: self.server.clone(),
                namespace: status.details.map(|d| d.name).unwrap_or_default(),
            },
            kube::Error::Api(status) if status.is_forbidden() => {
                // The details name the resource the server refused, which for a request on a
                // subresource or through an aggregated API is not always the one we asked for.
                let resource = status
                    .details
                    .as_ref()
                    .filter(|d| !d.kind.is_empty())
                    .map(|d| if d.group.is_empty() { d.kind.clone() } else { format!("{}.{}", d.kind, d.group) })
                    .unwrap_or(resource);
                ClusterError::Forbidden {
                    server: self.server.clone(),
                    verb,
                    resource,
                    name: name.map(str::to_string),
                    message: status.message,
                }
            }
            kube::Error::Api(status) => ClusterError::Api {
                server: self.server.clone(),
                verb,
                what,
                code: status.code,
                reason: status.reason,
                message: status.message,
            },
            source => ClusterError::Unreachable { server: self.server.clone(), verb, what, source },
        }
    }

    /// The object, if it exists.
    pub async fn get(
        &self,
        kind: ObjectKind,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Option<DynamicObject>, ClusterError> {
        self.api(kind, namespace).get_opt(name).await.map_err(|e| self.error("get", kind, Some(name), e))
    }

    /// Applies `object` server-side as meshctl, taking over fields another manager holds
    /// (install owns what it makes). `unchanged` when the object's resourceVersion did not
    /// move: the API server does not write an apply that changes nothing, so a version that
    /// stayed the same means the object is as it was, and one that moved means it changed.
    pub async fn apply(&self, object: &Object) -> Result<Applied, ClusterError> {
        let api = self.api(object.kind, object.namespace());
        let name = object.name();
        let before = api.get_opt(name).await.map_err(|e| self.error("get", object.kind, Some(name), e))?;
        // Applying an object that does not exist yet is authorized as `create`.
        let verb = if before.is_some() { "patch" } else { "create" };
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let after = api
            .patch(name, &params, &Patch::Apply(&object.json))
            .await
            .map_err(|e| self.error(verb, object.kind, Some(name), e))?;
        Ok(match before {
            None => Applied::Created,
            Some(before) if before.metadata.resource_version == after.metadata.resource_version => Applied::Unchanged,
            Some(_) => Applied::Configured,
        })
    }

    /// Applies the fields of `object` server-side as `manager`, which then owns them and
    /// nothing else: a field the controller keeps on an object install makes.
    pub async fn apply_as(&self, manager: &str, object: &Object) -> Result<(), ClusterError> {
        let name = object.name();
        let params = PatchParams::apply(manager).force();
        self.api(object.kind, object.namespace())
            .patch(name, &params, &Patch::Apply(&object.json))
            .await
            .map_err(|e| self.error("patch", object.kind, Some(name), e))?;
        Ok(())
    }

    /// The objects of `kind` (in `namespace`, for a namespaced kind) that carry `selector`.
    pub async fn list(
        &self,
        kind: ObjectKind,
        namespace: Option<&str>,
        selector: &str,
    ) -> Result<Vec<DynamicObject>, ClusterError> {
        let list = self
            .api(kind, namespace)
            .list(&ListParams::default().labels(selector))
            .await
            .map_err(|e| self.error("list", kind, None, e))?;
        Ok(list.items)
    }

    /// Deletes an object, its dependents in the background; `false` when it was gone already.
    pub async fn delete(&self, kind: ObjectKind, namespace: Option<&str>, name: &str) -> Result<bool, ClusterError> {
        match self.api(kind, namespace).delete(name, &DeleteParams::background()).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(status)) if status.is_not_found() => Ok(false),
            Err(e) => Err(self.error("delete", kind, Some(name), e)),
        }
    }
}

/// An object install made, found on the cluster by its label.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Installed {
    pub kind: ObjectKind,
    pub namespace: Option<String>,
    pub name: String,
}

impl Installed {
    pub fn reference(&self) -> String {
        reference(self.kind, &self.name)
    }
}

/// Whether an object carries meshctl's label.
pub(super) fn managed(object: &DynamicObject) -> bool {
    object.metadata.labels.as_ref().and_then(|l| l.get(MANAGED_BY)).is_some_and(|v| v == MANAGED_BY_VALUE)
}

impl Cluster {
    /// The CRDs install would apply that exist already without meshctl's label: Istio's, the
    /// Gateway API's (or another tool's), which install uses as they are.
    pub async fn foreign_crds(&self) -> Result<BTreeSet<String>, ClusterError> {
        let mut foreign = BTreeSet::new();
        for name in install::crd_names() {
            if let Some(crd) = self.get(ObjectKind::CustomResourceDefinition, None, &name).await?
                && !managed(&crd)
            {
                foreign.insert(name);
            }
        }
        Ok(foreign)
    }

    /// Every object of install's kinds that carries meshctl's label (the namespaced ones in
    /// `namespace`), in the order to delete them: the reverse of the order they are applied.
    pub async fn installed(&self, namespace: &str) -> Result<Vec<Installed>, ClusterError> {
        let selector = format!("{MANAGED_BY}={MANAGED_BY_VALUE}");
        let mut found = Vec::new();
        for kind in ObjectKind::ALL.into_iter().rev() {
            let ns = kind.namespaced().then_some(namespace);
            // One being deleted already (a namespace waiting for its contents to go) is gone.
            let listed = match self.list(kind, ns, &selector).await {
                // A kind of a CRD that is gone (the Gateway API's, after a purge) has none.
                Err(ClusterError::Api { code: 404, .. }) => continue,
                listed => listed?,
            };
            for object in listed.into_iter().filter(|o| o.metadata.deletion_timestamp.is_none()) {
                found.push(Installed {
                    kind,
                    namespace: ns.map(str::to_string),
                    name: object.metadata.name.unwrap_or_default(),
                });
            }
        }
        Ok(found)
    }
}

/// The status of an object's condition of this type (`"True"`, `"False"`, `"Unknown"`).
pub fn condition<'a>(object: &'a Value, kind: &str) -> Option<&'a str> {
    object["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == kind)?["status"].as_str()
}

/// Whether an object applied by install is ready: a CRD Established, a Deployment Available
/// for its latest generation; other kinds are ready once stored.
pub fn ready(kind: ObjectKind, object: &Value) -> bool {
    match kind {
        ObjectKind::CustomResourceDefinition => condition(object, "Established") == Some("True"),
        ObjectKind::Deployment => {
            let generation = object["metadata"]["generation"].as_i64().unwrap_or(0);
            let observed = object["status"]["observedGeneration"].as_i64().unwrap_or(-1);
            observed >= generation && condition(object, "Available") == Some("True")
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_deployment_is_ready_only_when_available_for_its_latest_generation() {
        let mk = |generation: i64, observed: i64, available: &str| {
            json!({
                "metadata": { "generation": generation },
                "status": { "observedGeneration": observed, "conditions": [{ "type": "Available", "status": available }] },
            })
        };
        assert!(ready(ObjectKind::Deployment, &mk(2, 2, "True")));
        assert!(!ready(ObjectKind::Deployment, &mk(3, 2, "True")), "a status from the previous rollout");
        assert!(!ready(ObjectKind::Deployment, &mk(2, 2, "False")));
        assert!(!ready(ObjectKind::Deployment, &json!({ "metadata": { "generation": 1 } })));
        let crd = json!({ "status": { "conditions": [{ "type": "Established", "status": "True" }] } });
        assert!(ready(ObjectKind::CustomResourceDefinition, &crd));
        assert!(!ready(ObjectKind::CustomResourceDefinition, &json!({})));
    }
}
