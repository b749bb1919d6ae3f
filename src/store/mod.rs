//! The resource store: where the CLI writes what the mesh should be (spec) and the controller
//! reads it, as kubectl and a controller share the Kubernetes API. One trait, one
//! implementation per backend: files in the state directory (`local`) and the Kubernetes API
//! (`kube::store`).

mod local;

use std::collections::BTreeMap;
use std::sync::Arc;

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
        ObjectRef::named(resource.kind(), resource.meta())
    }

    /// The object of `kind` that `meta` names.
    pub fn named(kind: Kind, meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> Self {
        ObjectRef {
            kind,
            namespace: meta.namespace.clone().unwrap_or_default(),
            name: meta.name.clone().unwrap_or_default(),
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

/// How far a reading of the store goes. The local store counts every write of every kind with
/// one number; a cluster's store follows each kind with a watch of its own, each up to its own
/// `resourceVersion`, so a reading may hold a later write to one kind and not yet an earlier
/// write to another. A reading is compared with a write kind by kind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Revision {
    /// Every write of every kind up to here.
    floor: u64,
    /// Each kind's writes up to here, where that is past `floor`.
    marks: BTreeMap<Kind, u64>,
}

impl Revision {
    /// Every write of every kind up to `floor`.
    pub fn new(floor: u64) -> Self {
        Revision { floor, marks: BTreeMap::new() }
    }

    /// Every write of each kind up to its mark, and nothing of a kind not named.
    pub fn of_kinds(marks: impl IntoIterator<Item = (Kind, u64)>) -> Self {
        Revision { floor: 0, marks: marks.into_iter().collect() }.normalized()
    }

    /// The local store's single number: every write of every kind up to here.
    pub fn floor(&self) -> u64 {
        self.floor
    }

    /// How far writes of `kind` are held.
    pub fn at(&self, kind: Kind) -> u64 {
        self.marks.get(&kind).copied().unwrap_or(0).max(self.floor)
    }

    /// Whether a reading this far holds everything one `other` far holds.
    pub fn holds(&self, other: &Revision) -> bool {
        Kind::ALL.iter().all(|&k| self.at(k) >= other.at(k))
    }

    /// This revision, raised to `mark` for `kind`.
    pub fn raised(&self, kind: Kind, mark: u64) -> Revision {
        self.combined(&Revision::of_kinds([(kind, mark)]), u64::max)
    }

    /// What both hold: kind by kind, the lower mark.
    pub fn meet(&self, other: &Revision) -> Revision {
        self.combined(other, u64::min)
    }

    /// What either holds: kind by kind, the higher mark.
    pub fn join(&self, other: &Revision) -> Revision {
        self.combined(other, u64::max)
    }

    fn combined(&self, other: &Revision, pick: fn(u64, u64) -> u64) -> Revision {
        let marks = Kind::ALL.iter().map(|&k| (k, pick(self.at(k), other.at(k))));
        Revision { floor: pick(self.floor, other.floor), marks: marks.collect() }.normalized()
    }

    /// The one way to write each revision, so that equal readings compare equal.
    fn normalized(mut self) -> Revision {
        self.floor = Kind::ALL.iter().map(|&k| self.at(k)).min().unwrap_or(0);
        let floor = self.floor;
        self.marks.retain(|_, mark| *mark > floor);
        self
    }
}

/// The highest mark: a number a person can follow as the mesh catches up.
impl std::fmt::Display for Revision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.marks.values().copied().fold(self.floor, u64::max))
    }
}

/// A revision of the local store is written as the number it is (as its file has always had
/// it); one with marks by kind names each kind as `Kind.group`.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum RevisionWire {
    Floor(u64),
    Marks { floor: u64, marks: BTreeMap<String, u64> },
}

impl Serialize for Revision {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let wire = match self.marks.is_empty() {
            true => RevisionWire::Floor(self.floor),
            false => RevisionWire::Marks {
                floor: self.floor,
                marks: self.marks.iter().map(|(k, mark)| (k.qualified_name(), *mark)).collect(),
            },
        };
        wire.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Revision {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match RevisionWire::deserialize(d)? {
            RevisionWire::Floor(floor) => Revision::new(floor),
            // A kind this meshctl does not know (a newer one's) is one none of its writes
            // waits for.
            RevisionWire::Marks { floor, marks } => {
                let named = |(name, mark): (String, u64)| {
                    Kind::ALL.into_iter().find(|k| k.qualified_name() == name).map(|k| (k, mark))
                };
                Revision { floor, marks: marks.into_iter().filter_map(named).collect() }.normalized()
            }
        })
    }
}

/// Every object in the store at one revision.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Contents {
    /// How far the objects go; an object's `metadata.resourceVersion` is the revision of the
    /// write that last changed it.
    pub revision: Revision,
    /// Objects as Kubernetes serializes them, in apply order; shared with the index a reading
    /// came from, so an object that did not change is the same allocation in every reading.
    pub objects: Vec<Arc<serde_json::Value>>,
}

impl Contents {
    /// Each kind's most recently written object: what the mesh has caught up with once its
    /// configuration is built from a revision that holds it.
    pub fn newest(&self) -> Revision {
        let version = |o: &serde_json::Value| {
            let version = o["metadata"]["resourceVersion"].as_str().and_then(|v| v.parse().ok());
            Some(Revision::of_kinds([(Kind::of(o)?, version?)]))
        };
        self.objects.iter().filter_map(|o| version(o)).fold(Revision::default(), |r, o| r.join(&o))
    }

    /// The objects as typed resources. They were validated on the way in; one that no longer
    /// decodes (written by another meshctl version) is reported, not dropped silently.
    pub fn resources(&self) -> Vec<Result<Resource, String>> {
        self.objects.iter().map(|o| decode(o)).collect()
    }
}

fn decode(object: &serde_json::Value) -> Result<Resource, String> {
    let name = || &object["metadata"]["name"];
    let kind = Kind::of(object)
        .ok_or_else(|| format!("unknown kind in store: {} {}", object["apiVersion"], object["kind"]))?;
    kind.decode(object.clone()).map_err(|e| format!("{} {}: {e}", kind.name(), name()))
}

/// Decodes reading after reading of one store, each object once: where a reading shares an
/// object with the last (the same allocation, as the index hands out what did not change), its
/// resource is the one decoded then. A controller reads the whole store on every change, and
/// decoding a thousand unchanged objects each time was most of what a change cost it.
#[derive(Default)]
pub struct Decoder {
    /// By the address of the object, which the entry keeps alive so that no other takes it.
    last: std::collections::HashMap<usize, (Arc<serde_json::Value>, Result<Resource, String>)>,
}

impl Decoder {
    /// The reading's objects as typed resources, as [`Contents::resources`] has them.
    pub fn resources(&mut self, contents: &Contents) -> Vec<Result<Resource, String>> {
        let mut last = std::mem::take(&mut self.last);
        contents
            .objects
            .iter()
            .map(|object| {
                let address = Arc::as_ptr(object) as usize;
                let (kept, decoded) = last.remove(&address).unwrap_or_else(|| (object.clone(), decode(object)));
                let resource = decoded.clone();
                self.last.insert(address, (kept, decoded));
                resource
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

    /// The revision this handle's own writes reach: a reading that holds it holds every object
    /// they wrote and none they deleted. What a command that wrote waits for the control plane
    /// to reach; not the store's newest revision, which on a cluster moves with every write to
    /// anything (a Pod's status, a lease), and which a controller that follows each kind by its
    /// own watch need never reach.
    fn written(&self) -> Revision;

    /// Calls `changed` whenever the stored objects change, so a reader learns of a change at
    /// once instead of at its next look; for as long as the process lives.
    fn watch(&self, changed: Box<dyn Fn() + Send + Sync>) -> Result<(), StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decoder_decodes_each_reading_as_it_is() {
        let rule = |host: &str| {
            Arc::new(serde_json::json!({
                "apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
                "metadata": {"name": "r", "namespace": "shop"}, "spec": {"host": host},
            }))
        };
        let hosts = |resources: Vec<Result<Resource, String>>| -> Vec<String> {
            resources.into_iter().map(|r| r.unwrap().to_json()["spec"]["host"].as_str().unwrap().to_string()).collect()
        };
        let (a, b) = (rule("a"), rule("b"));
        let mut decoder = Decoder::default();
        let reading = |objects: &[&Arc<serde_json::Value>]| Contents {
            revision: Revision::default(),
            objects: objects.iter().map(|&o| o.clone()).collect(),
        };
        assert_eq!(hosts(decoder.resources(&reading(&[&a]))), ["a"]);
        // The same object's next version, under the same name, is decoded anew.
        assert_eq!(hosts(decoder.resources(&reading(&[&b]))), ["b"]);
        assert_eq!(hosts(decoder.resources(&reading(&[&b, &a]))), ["b", "a"]);
        drop(a);
        assert_eq!(hosts(decoder.resources(&reading(&[&rule("c"), &b]))), ["c", "b"]);
        let broken = Arc::new(serde_json::json!({"apiVersion": "v1", "kind": "Nothing"}));
        let resources = decoder.resources(&reading(&[&broken]));
        assert!(resources[0].as_ref().is_err_and(|e| e.contains("unknown kind")));
    }

    #[test]
    fn a_reading_is_compared_with_a_write_kind_by_kind() {
        let read = Revision::of_kinds([(Kind::VirtualService, 40), (Kind::DestinationRule, 12)]);
        let route_written = Revision::of_kinds([(Kind::VirtualService, 40)]);
        let rule_written = Revision::of_kinds([(Kind::DestinationRule, 30)]);
        assert!(read.holds(&route_written));
        // A later write to one kind says nothing of an earlier one to another.
        assert!(!read.holds(&rule_written));
        assert!(!read.holds(&route_written.join(&rule_written)));
        assert!(read.raised(Kind::DestinationRule, 30).holds(&rule_written));
        let both = read.meet(&rule_written);
        assert_eq!((both.at(Kind::VirtualService), both.at(Kind::DestinationRule)), (0, 12));
        // The local store's one number holds every kind up to it.
        assert!(Revision::new(40).holds(&read));
        assert!(!Revision::new(39).holds(&read));
        assert_eq!(Revision::new(7).join(&Revision::new(9)), Revision::new(9));
        // Equal readings are equal however they were reached.
        let every = Revision::of_kinds(Kind::ALL.map(|k| (k, 5)));
        assert_eq!(every, Revision::new(5));
        assert_eq!(read.to_string(), "40");
    }

    #[test]
    fn a_revision_is_written_as_a_number_where_it_is_one() {
        let local = serde_json::to_value(Revision::new(7)).unwrap();
        assert_eq!(local, serde_json::json!(7));
        assert_eq!(serde_json::from_value::<Revision>(local).unwrap(), Revision::new(7));
        let cluster = Revision::of_kinds([(Kind::IstioGateway, 9), (Kind::Gateway, 3)]);
        let json = serde_json::to_value(&cluster).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"floor": 0, "marks": {
                "Gateway.networking.istio.io": 9, "Gateway.gateway.networking.k8s.io": 3
            }})
        );
        assert_eq!(serde_json::from_value::<Revision>(json).unwrap(), cluster);
        let newer = serde_json::json!({"floor": 0, "marks": {"Telemetry.telemetry.istio.io": 1}});
        assert_eq!(serde_json::from_value::<Revision>(newer).unwrap(), Revision::default());
    }
}
