//! The resource store: where the CLI writes what the mesh should be (spec) and the controller
//! reads it, as kubectl and a controller share the Kubernetes API. One trait, one
//! implementation per backend: files in the state directory (`local`) and the Kubernetes API
//! (`kube::store`).

mod local;

use serde::{Deserialize, Serialize};

use crate::api::{Kind, Resource};

pub use local::{LocalStore, write_atomically, write_private};

/// Which object: kind, namespace and name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ObjectRef {
    pub kind: Kind,
    pub namespace: String,
    pub name: String,
}

impl ObjectRef {
    pub fn of(resource: &Resource) -> Self {
        ObjectRef {
            kind: resource.kind(),
            namespace: resource.namespace().to_string(),
            name: resource.name().to_string(),
        }
    }
}

/// What an apply did to one object, as kubectl says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Created,
    Configured,
    Unchanged,
}

/// The store revision that last changed an object (its `resourceVersion`, which both stores
/// keep as a number); `None` for one never stored.
pub fn written_at(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> Option<u64> {
    meta.resource_version.as_deref().and_then(|v| v.parse().ok())
}

/// Every object in the store at one revision.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Contents {
    /// Rises with every write; an object's `metadata.resourceVersion` is the revision that last
    /// changed it.
    pub revision: u64,
    /// Objects as Kubernetes serializes them, in apply order.
    pub objects: Vec<serde_json::Value>,
}

impl Contents {
    /// The version of the most recently written object: what the mesh has caught up with
    /// once its configuration is built from this revision or a later one.
    pub fn newest(&self) -> u64 {
        let version = |o: &serde_json::Value| o["metadata"]["resourceVersion"].as_str().and_then(|v| v.parse().ok());
        self.objects.iter().filter_map(version).max().unwrap_or(0)
    }

    /// The objects as typed resources. They were validated on the way in; one that no longer
    /// decodes (written by another meshctl version) is reported, not dropped silently.
    pub fn resources(&self) -> Vec<Result<Resource, String>> {
        self.objects
            .iter()
            .map(|o| {
                let kind =
                    Kind::of(o).ok_or_else(|| format!("unknown kind in store: {} {}", o["apiVersion"], o["kind"]))?;
                kind.decode(o.clone()).map_err(|e| format!("{} {}: {e}", kind.name(), o["metadata"]["name"]))
            })
            .collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no local mesh at {0}: run `meshctl install --local` first, or point --state-dir at one")]
    NotInstalled(std::path::PathBuf),
    #[error("{path}: {source}")]
    Io { path: std::path::PathBuf, source: std::io::Error },
    #[error("{path} is damaged: {source}; remove it to start over")]
    Corrupt { path: std::path::PathBuf, source: serde_json::Error },
    /// A store on a cluster's API could not be used (unreachable, forbidden); the error names
    /// the server, the verb and the object.
    #[error(transparent)]
    Cluster(Box<dyn std::error::Error + Send + Sync>),
    /// The API server refused a request for what it asked (an object it judged invalid, a kind
    /// it does not keep); the error names the server, the verb and the object.
    #[error(transparent)]
    Rejected(Box<dyn std::error::Error + Send + Sync>),
    /// The change's admission refused it, in view of what was stored when it was written.
    #[error("the change was refused")]
    Refused,
    #[error(
        "{kind}/{name} in {namespace} was changed by someone else (resourceVersion {expected}, now {actual}); get it again and retry"
    )]
    Conflict { kind: String, namespace: String, name: String, expected: String, actual: String },
}

/// What a change must pass before it is written: called with the objects stored at that
/// moment, it says whether the change may go ahead.
pub type Admission<'a> = &'a mut (dyn FnMut(&[Resource]) -> bool + Send);

/// A place that keeps the mesh's resources. Async, as a cluster's API is; every object has
/// its own opaque `metadata.resourceVersion`, and a `metadata.generation` that rises only when
/// its spec changes (a status write leaves it alone), as Kubernetes keeps them.
#[async_trait::async_trait]
pub trait Store: Send + Sync {
    async fn contents(&self) -> Result<Contents, StoreError>;

    /// Creates or replaces every object. An object that carries a `metadata.resourceVersion`
    /// is written only if that is still its version. With `dry_run`, says what it would do
    /// and writes nothing. The local store writes all of them at once or none.
    async fn apply(&self, resources: &[Resource], dry_run: bool) -> Result<Vec<(ObjectRef, Change)>, StoreError> {
        self.apply_admitted(resources, dry_run, &mut |_| true).await
    }

    /// Like `apply`, once `admit` accepts the change in view of the objects stored at the
    /// moment it is written (`Refused` otherwise): no other write comes between the judgement
    /// and the change, so two changes that are each fine cannot together break the mesh.
    async fn apply_admitted(
        &self,
        resources: &[Resource],
        dry_run: bool,
        admit: Admission<'_>,
    ) -> Result<Vec<(ObjectRef, Change)>, StoreError>;

    /// Removes the objects; the result says which existed.
    async fn delete(&self, refs: &[ObjectRef]) -> Result<Vec<(ObjectRef, bool)>, StoreError> {
        self.delete_admitted(refs, &mut |_| true).await
    }

    /// Like `delete`, once `admit` accepts it, as for `apply_admitted`.
    async fn delete_admitted(
        &self,
        refs: &[ObjectRef],
        admit: Admission<'_>,
    ) -> Result<Vec<(ObjectRef, bool)>, StoreError>;

    /// Replaces an object's `status` (what the controller observed), leaving its spec alone.
    /// Returns false when the object no longer exists.
    async fn set_status(&self, object: &ObjectRef, status: serde_json::Value) -> Result<bool, StoreError>;

    /// The revision this handle's own writes reach: a listing at or past it holds every object
    /// they wrote and none they deleted. What a command that wrote waits for the control plane
    /// to reach; not the store's newest revision, which on a cluster moves with every write to
    /// anything (a Pod's status, a lease), and which a controller that lists again only when
    /// one of its kinds changes need never reach.
    fn written(&self) -> u64;

    /// Calls `changed` whenever the stored objects change, so a reader learns of a change at
    /// once instead of at its next look; for as long as the process lives.
    fn watch(&self, changed: Box<dyn Fn() + Send + Sync>) -> Result<(), StoreError>;
}
