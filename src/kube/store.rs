//! The store on a cluster's API: the mesh's policy (install's CRDs: Istio's kinds, the Gateway
//! API's HTTPRoute, Canary and CertificateRotation) kept by the API server, behind the same
//! [`Store`] trait as the local files. Writes are server-side applies as `meshctl`; statuses go
//! through the status subresource; a watch on each kind wakes the controller.
//!
//! What the API cannot promise, this store does not claim: a change of several objects is
//! checked whole by the API server first (a dry run of every object), then written object by
//! object, so a refused object leaves the others unwritten, but a change that races another
//! writer is not atomic. The admission sees the objects as the store reads them just before the
//! writes: listed then, or a watched store's index.
//!
//! An unwatched store (a command's) lists every kind on each reading: `Contents::revision` is
//! then each kind's list `resourceVersion`. A watched store (the controller's) serves the
//! [`Index`] its watches keep, and asks the API server nothing to read. Either way a command
//! that wrote waits for the revision its own writes were given ([`Store::written`]), kind by
//! kind: the API server's resourceVersions are etcd revisions, which move with every write to
//! anything, and a kind's watch reaches a write of that kind and says nothing of the others.

use std::sync::{Arc, Mutex, OnceLock};

use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, WatchEvent, WatchParams,
};
use serde_json::Value;

use super::client::{Cluster, ClusterError};
use super::index::{Index, Source};
use super::install::FIELD_MANAGER;
use crate::api::{Kind, Resource};
use crate::store::{Admission, Change, Contents, ObjectRef, Revision, Store, StoreError, written_at};

/// The kinds a cluster keeps: install's CRDs.
const KINDS: [Kind; 14] = super::install::CLUSTER_KINDS;

#[derive(Clone)]
pub struct KubeStore {
    cluster: Cluster,
    /// Once watched, what the watches keep: the controller, its validator and its canary driver
    /// read the store on every change, and must not list every kind for each.
    index: Arc<OnceLock<Arc<Index>>>,
    /// Kind by kind, the highest resourceVersion this handle's writes and deletes were given.
    written: Arc<Mutex<Revision>>,
}

/// Where the API serves `kind`, from its CRD.
fn api_resource(kind: Kind) -> ApiResource {
    let crd = kind.crd();
    let version = crd.spec.versions.first().map(|v| v.name.clone()).unwrap_or_default();
    ApiResource {
        api_version: format!("{}/{version}", crd.spec.group),
        group: crd.spec.group,
        version,
        kind: kind.name().to_string(),
        plural: crd.spec.names.plural,
    }
}

/// No cluster or no permission is the environment's fault; a request the API server refuses
/// for its content is the request's.
fn store_error(error: ClusterError) -> StoreError {
    match error.is_environment() {
        true => StoreError::Cluster(Box::new(error)),
        false => StoreError::Rejected(Box::new(error)),
    }
}

/// How long a delete's event is waited for (seconds).
const DELETE_SEEN: u32 = 10;

/// The revision of the first DELETED event `events` bring, if one comes before they end.
async fn deleted_at(
    events: impl tokio_stream::Stream<Item = Result<WatchEvent<DynamicObject>, kube::Error>>,
) -> Option<u64> {
    use tokio_stream::StreamExt as _;
    let mut events = std::pin::pin!(events);
    let wait = async {
        while let Some(Ok(event)) = events.next().await {
            if let WatchEvent::Deleted(object) = event {
                return written_at(&object.metadata);
            }
        }
        None
    };
    tokio::time::timeout(std::time::Duration::from_secs(DELETE_SEEN.into()), wait).await.ok().flatten()
}

/// `virtualservices.networking.istio.io`, as the API names a resource.
fn resource_name(kind: Kind) -> String {
    let resource = api_resource(kind);
    format!("{}.{}", resource.plural, resource.group)
}

/// The object as a user wrote it: what server-side apply is given. The server sets the rest,
/// and the status has its own subresource. A `resourceVersion` stays: the server then writes
/// only if it is still the object's, as the local store does.
fn applied_part(resource: &Resource) -> Value {
    let mut object = resource.to_json();
    if let Some(meta) = object["metadata"].as_object_mut() {
        for field in ["creationTimestamp", "uid", "generation", "managedFields"] {
            meta.remove(field);
        }
    }
    if let Some(map) = object.as_object_mut() {
        map.remove("status");
    }
    object
}

/// What tells two states of an object apart for a person: labels, annotations and spec.
fn written_part(object: &DynamicObject) -> (Value, Value, Value) {
    let labels = serde_json::to_value(&object.metadata.labels).unwrap_or_default();
    let annotations = serde_json::to_value(&object.metadata.annotations).unwrap_or_default();
    (labels, annotations, object.data.get("spec").cloned().unwrap_or_default())
}

impl KubeStore {
    pub fn new(cluster: Cluster) -> Self {
        KubeStore { cluster, index: Arc::default(), written: Arc::default() }
    }

    /// The revision a listing through `api` (of `kind`, where `r` is) made now is at: past
    /// every write so far.
    async fn listed_at(&self, api: &Api<DynamicObject>, kind: Kind, r: &ObjectRef) -> Result<u64, StoreError> {
        let list = api.list_metadata(&ListParams::default().limit(1)).await;
        let list = list.map_err(|e| self.failed("list", kind, Some(r), e))?;
        Ok(list.metadata.resource_version.as_deref().and_then(|v| v.parse().ok()).unwrap_or(0))
    }

    /// Every object of the kinds a cluster keeps, listed now, watched or not.
    pub async fn list(&self) -> Result<Contents, StoreError> {
        let mut contents = Contents::default();
        let mut marks = Vec::new();
        for kind in KINDS {
            let list = match self.api(kind, None).list(&ListParams::default()).await {
                Ok(list) => list,
                // The kind's CRD is not installed: the cluster keeps none of it.
                Err(kube::Error::Api(status)) if status.is_not_found() => continue,
                Err(e) => return Err(self.failed("list", kind, None, e)),
            };
            marks.push((kind, list.metadata.resource_version.as_deref().and_then(|v| v.parse().ok()).unwrap_or(0)));
            let resource = api_resource(kind);
            contents.objects.extend(list.items.into_iter().map(|o| Arc::new(super::index::served(o, &resource).1)));
        }
        contents.revision = Revision::of_kinds(marks);
        Ok(contents)
    }

    fn api(&self, kind: Kind, namespace: Option<&str>) -> Api<DynamicObject> {
        let resource = api_resource(kind);
        let client = self.cluster.client().clone();
        match namespace.filter(|_| kind.namespaced()) {
            Some(ns) => Api::namespaced_with(client, ns, &resource),
            None => Api::all_with(client, &resource),
        }
    }

    fn failed(&self, verb: &'static str, kind: Kind, object: Option<&ObjectRef>, error: kube::Error) -> StoreError {
        let resource = resource_name(kind);
        let what = match object {
            Some(r) => format!("{}/{} in namespace {}", resource, r.name, r.namespace),
            None => resource.clone(),
        };
        store_error(self.cluster.failed(verb, resource, what, object.map(|r| r.name.as_str()), error))
    }

    fn kind_of(r: &ObjectRef) -> Result<Kind, StoreError> {
        match KINDS.contains(&r.kind) {
            true => Ok(r.kind),
            false => Err(store_error(ClusterError::Unsupported { kind: r.kind.name().to_string() })),
        }
    }

    /// Applies one object server-side; `dry_run` asks the API server to check it and store
    /// nothing.
    async fn apply_one(&self, resource: &Resource, dry_run: bool) -> Result<(ObjectRef, Change), StoreError> {
        let r = ObjectRef::of(resource);
        let kind = resource.kind();
        let api = self.api(kind, Some(&r.namespace));
        let before = api.get_opt(&r.name).await.map_err(|e| self.failed("get", kind, Some(&r), e))?;
        let object = applied_part(resource);
        let conflict = |before: Option<DynamicObject>| StoreError::Conflict {
            kind: r.kind.name().to_string(),
            namespace: r.namespace.clone(),
            name: r.name.clone(),
            expected: object["metadata"]["resourceVersion"].as_str().unwrap_or_default().to_string(),
            actual: before.and_then(|b| b.metadata.resource_version).unwrap_or_else(|| "none".into()),
        };
        // A write that names the version it was based on must not bring back an object deleted
        // since: an apply would create it, with a right (`create`) the writer may not hold.
        if before.is_none() && object["metadata"]["resourceVersion"].is_string() {
            return Err(conflict(before));
        }
        // Applying an object that does not exist yet is authorized as `create`.
        let verb = if before.is_some() { "patch" } else { "create" };
        let mut params = PatchParams::apply(FIELD_MANAGER).force();
        params.dry_run = dry_run;
        let after = match api.patch(&r.name, &params, &Patch::Apply(&object)).await {
            Ok(after) => after,
            // meshctl judged the change whole; the validator judges each object alone, and
            // cannot see what else the change brings (a rule a route needs, written before
            // the route when it is written for real).
            Err(kube::Error::Api(status)) if dry_run && status.message.contains(super::admission::WEBHOOK) => {
                return Ok((r, if before.is_some() { Change::Configured } else { Change::Created }));
            }
            Err(kube::Error::Api(status)) if status.code == 409 => return Err(conflict(before)),
            Err(e) => return Err(self.failed(verb, kind, Some(&r), e)),
        };
        if !dry_run {
            self.wrote(kind, written_at(&after.metadata).unwrap_or(0));
        }
        let change = match before {
            None => Change::Created,
            Some(before) if written_part(&before) == written_part(&after) => Change::Unchanged,
            Some(_) => Change::Configured,
        };
        Ok((r, change))
    }

    fn wrote(&self, kind: Kind, version: u64) {
        let mut written = self.written.lock().expect("the written revision's lock is never poisoned");
        *written = written.raised(kind, version);
    }

    /// The stored objects, typed, for an admission to judge.
    async fn stored(&self) -> Result<Vec<Resource>, StoreError> {
        Ok(self.contents().await?.resources().into_iter().flatten().collect())
    }
}

/// Where a kind's objects go in a change written one object at a time: those that others
/// name (a route's subsets, hosts) before those that name them, so that the validator, which
/// judges each as it lands, finds what it needs.
fn written_before(kind: Kind) -> u8 {
    match kind {
        Kind::DestinationRule | Kind::ServiceEntry | Kind::IstioGateway | Kind::GatewayClass | Kind::ReferenceGrant => {
            0
        }
        Kind::VirtualService => 2,
        Kind::Canary => 3,
        _ => 1,
    }
}

#[async_trait::async_trait]
impl Store for KubeStore {
    async fn contents(&self) -> Result<Contents, StoreError> {
        match self.index.get() {
            Some(index) => index.contents().await,
            None => self.list().await,
        }
    }

    async fn apply_admitted(
        &self,
        resources: &[Resource],
        dry_run: bool,
        admit: Admission<'_>,
    ) -> Result<Vec<(ObjectRef, Change)>, StoreError> {
        for resource in resources {
            Self::kind_of(&ObjectRef::of(resource))?;
        }
        if !admit(&self.stored().await?) {
            return Err(StoreError::Refused);
        }
        // The API server checks every object before any is written; what others need is
        // written first, so each lands in a mesh that has what it needs.
        let mut ordered: Vec<(usize, &Resource)> = resources.iter().enumerate().collect();
        ordered.sort_by_key(|(_, r)| written_before(r.kind()));
        let mut changes = Vec::with_capacity(resources.len());
        for (i, resource) in &ordered {
            changes.push((*i, self.apply_one(resource, true).await?));
        }
        if !dry_run {
            changes.clear();
            for (i, resource) in &ordered {
                changes.push((*i, self.apply_one(resource, false).await?));
            }
        }
        // Said in the order given.
        changes.sort_by_key(|(i, _)| *i);
        Ok(changes.into_iter().map(|(_, change)| change).collect())
    }

    async fn delete_admitted(
        &self,
        refs: &[ObjectRef],
        admit: Admission<'_>,
    ) -> Result<Vec<(ObjectRef, bool)>, StoreError> {
        let kinds = refs.iter().map(Self::kind_of).collect::<Result<Vec<_>, _>>()?;
        if !admit(&self.stored().await?) {
            return Err(StoreError::Refused);
        }
        // What others need goes last.
        let mut ordered: Vec<(usize, (&ObjectRef, Kind))> = refs.iter().zip(kinds).enumerate().collect();
        ordered.sort_by_key(|(_, (_, kind))| std::cmp::Reverse(written_before(*kind)));
        let mut results = Vec::with_capacity(refs.len());
        for (i, (r, kind)) in ordered {
            let api = self.api(kind, Some(&r.namespace));
            // The API server answers a delete with a Status, which has no revision; the
            // object's DELETED event carries the delete's, so the object is watched from
            // just before it.
            let from = self.listed_at(&api, kind, r).await?;
            let params = WatchParams::default().fields(&format!("metadata.name={}", r.name)).timeout(DELETE_SEEN);
            let events =
                api.watch(&params, &from.to_string()).await.map_err(|e| self.failed("watch", kind, Some(r), e))?;
            let deleted = match api.delete(&r.name, &DeleteParams::default()).await {
                Ok(_) => {
                    let version = deleted_at(events).await;
                    // Unseen (the watch ended first), a listing now is past the delete too. A
                    // watched store reaches that listing's revision for the kind only with the
                    // kind's next event: a wait for it may run to its timeout.
                    let version = match version {
                        Some(version) => version,
                        None => self.listed_at(&api, kind, r).await?,
                    };
                    self.wrote(kind, version);
                    true
                }
                Err(kube::Error::Api(status)) if status.is_not_found() => false,
                Err(e) => return Err(self.failed("delete", kind, Some(r), e)),
            };
            results.push((i, (r.clone(), deleted)));
        }
        results.sort_by_key(|(i, _)| *i);
        Ok(results.into_iter().map(|(_, result)| result).collect())
    }

    async fn set_status(&self, object: &ObjectRef, status: Value) -> Result<bool, StoreError> {
        let kind = Self::kind_of(object)?;
        let api = self.api(kind, Some(&object.namespace));
        let Some(current) = api.get_opt(&object.name).await.map_err(|e| self.failed("get", kind, Some(object), e))?
        else {
            return Ok(false);
        };
        // A merge patch keeps fields it does not name: the ones the new status dropped are
        // named, as null, so the status is replaced whole.
        let mut replacement = status;
        if let (Some(old), Some(new)) =
            (current.data.get("status").and_then(Value::as_object), replacement.as_object_mut())
        {
            for key in old.keys() {
                new.entry(key.clone()).or_insert(Value::Null);
            }
        }
        let patch = serde_json::json!({ "status": replacement });
        match api.patch_status(&object.name, &PatchParams::default(), &Patch::Merge(&patch)).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(status)) if status.is_not_found() => Ok(false),
            Err(e) => Err(self.failed("patch", kind, Some(object), e)),
        }
    }

    fn written(&self) -> Revision {
        self.written.lock().expect("the written revision's lock is never poisoned").clone()
    }

    fn watch(&self, changed: Box<dyn Fn() + Send + Sync>) -> Result<(), StoreError> {
        let source = |kind| {
            let store = self.clone();
            let failed = move |verb, e| store.failed(verb, kind, None, e).to_string();
            Source { api: self.api(kind, None), resource: api_resource(kind), failed: Box::new(failed) }
        };
        let mut started = false;
        self.index.get_or_init(|| {
            started = true;
            Index::follow(&KINDS, source, Arc::from(changed))
        });
        match started {
            true => Ok(()),
            false => Err(StoreError::Cluster("the store is watched already, by one reader only".into())),
        }
    }
}
