//! The mesh's policy as the API server's watches bring it, kind by kind: what a watched
//! [`KubeStore`](super::store::KubeStore) serves, so that a change costs the API server one
//! event on a watch and never a listing.
//!
//! ```text
//!   one task per kind:  list ──▶ watch from the list's resourceVersion ──▶ events, bookmarks
//!                          ▲            │ ended: watch again from the last one seen
//!                          └── 410 Gone ┘ (the API server no longer has that far back)
//! ```
//!
//! Each kind has its own watch, each ordered in itself and not with the others, so each kind
//! has its own mark: the `resourceVersion` up to which the index holds every write of that
//! kind (its listing's, then each event's). A reading is at those marks ([`Revision`]), and a
//! writer that waits for its writes compares kind by kind. A bookmark says only where to watch
//! from next: it moves no mark, since a mark that moved with nothing changed would have the
//! controller translate the same objects again.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use kube::api::{Api, ApiResource, DynamicObject, ListParams, WatchEvent, WatchParams};
use serde_json::Value;
use tokio::sync::watch;

use crate::api::Kind;
use crate::store::{Contents, Revision, StoreError, written_at};

/// The longest wait before asking again after a failed listing or watch.
const BACKOFF_LIMIT: Duration = Duration::from_secs(30);

/// How long one watch lasts before it is asked for again (seconds): long, since every watch
/// asked for again is a request, and the controller keeps one per kind.
const WATCH_SECONDS: u32 = 1800;

/// How long a watch may go without a word before it is taken for dead. The API server sends
/// each watch a bookmark about once a minute, so a live one is never this quiet; a connection
/// that died without closing would be.
const SILENCE: Duration = Duration::from_secs(150);

pub struct Index {
    kinds: Mutex<BTreeMap<Kind, Followed>>,
    /// Rises with every change, for a reader that waits for every kind's first listing.
    moved: watch::Sender<u64>,
}

/// Where a kind is read, and how a failure to read it is told.
pub struct Source {
    pub api: Api<DynamicObject>,
    pub resource: ApiResource,
    /// The failure of a verb (`list`, `watch`) in a person's words: who may not do what where.
    pub failed: Box<dyn Fn(&'static str, kube::Error) -> String + Send + Sync>,
}

#[derive(Default)]
struct Followed {
    /// As a listing orders them: by namespace, then name.
    objects: BTreeMap<(String, String), Arc<Value>>,
    /// Up to where `objects` holds every write of the kind; none before its first listing.
    mark: Option<u64>,
    /// Why the kind cannot be listed, while it cannot.
    problem: Option<String>,
}

impl Index {
    /// Follows each of `kinds` (read from its `source`), calling `changed` whenever the
    /// objects change, for as long as the process lives.
    pub fn follow(kinds: &[Kind], source: impl Fn(Kind) -> Source, changed: Arc<dyn Fn() + Send + Sync>) -> Arc<Index> {
        let followed = kinds.iter().map(|&k| (k, Followed::default())).collect();
        let index = Arc::new(Index { kinds: Mutex::new(followed), moved: watch::Sender::new(0) });
        for &kind in kinds {
            tokio::spawn(follow(index.clone(), kind, source(kind), changed.clone()));
        }
        index
    }

    fn kinds(&self) -> MutexGuard<'_, BTreeMap<Kind, Followed>> {
        self.kinds.lock().expect("the index's lock is never poisoned")
    }

    /// Every object, once each kind has been listed; the first kind that cannot be listed is
    /// an error.
    pub async fn contents(&self) -> Result<Contents, StoreError> {
        let mut moved = self.moved.subscribe();
        loop {
            {
                let kinds = self.kinds();
                if let Some(marks) = kinds.iter().map(|(k, f)| Some((*k, f.mark?))).collect::<Option<Vec<_>>>() {
                    let objects = kinds.values().flat_map(|f| f.objects.values().cloned()).collect();
                    return Ok(Contents { revision: Revision::of_kinds(marks), objects });
                }
                if let Some(problem) = kinds.values().find(|f| f.mark.is_none()).and_then(|f| f.problem.clone()) {
                    return Err(StoreError::Cluster(problem.into()));
                }
            }
            // The sender lives as long as the index.
            _ = moved.changed().await;
        }
    }

    /// A kind as listed at `mark`. Returns whether its objects changed: a listing again (after
    /// 410 Gone) that finds them as they were keeps the kind's mark, which stays true.
    fn listed(&self, kind: Kind, objects: BTreeMap<(String, String), Arc<Value>>, mark: u64) -> bool {
        let mut kinds = self.kinds();
        let followed = kinds.entry(kind).or_default();
        followed.problem = None;
        if followed.mark.is_some() && followed.objects == objects {
            return false;
        }
        followed.objects = objects;
        followed.mark = Some(mark);
        drop(kinds);
        self.moved.send_modify(|n| *n += 1);
        true
    }

    /// One event's change to a kind: the object as it now is, or gone.
    fn changed(&self, kind: Kind, key: (String, String), object: Option<Value>, mark: u64) {
        let mut kinds = self.kinds();
        let followed = kinds.entry(kind).or_default();
        match object {
            Some(object) => followed.objects.insert(key, Arc::new(object)),
            None => followed.objects.remove(&key),
        };
        followed.mark = Some(mark);
        drop(kinds);
        self.moved.send_modify(|n| *n += 1);
    }

    fn failed(&self, kind: Kind, problem: String) {
        self.kinds().entry(kind).or_default().problem = Some(problem);
        self.moved.send_modify(|n| *n += 1);
    }
}

/// An object as the store serves it: saying what it is (list items need not), without the
/// server's bookkeeping of who wrote which field.
pub(super) fn served(mut object: DynamicObject, resource: &ApiResource) -> ((String, String), Value) {
    object.types = Some(kube::api::TypeMeta { api_version: resource.api_version.clone(), kind: resource.kind.clone() });
    object.metadata.managed_fields = None;
    let key = (object.metadata.namespace.clone().unwrap_or_default(), object.metadata.name.clone().unwrap_or_default());
    (key, serde_json::to_value(&object).expect("objects serialize"))
}

fn is_gone(status: &kube::core::Status) -> bool {
    status.code == 410
}

/// Lists `kind`, then watches it from there, for as long as the process lives; lists again
/// only when the API server says the watch's place is gone.
async fn follow(index: Arc<Index>, kind: Kind, source: Source, changed: Arc<dyn Fn() + Send + Sync>) {
    use tokio_stream::StreamExt as _;
    let Source { api, resource, failed } = source;
    let what = kind.qualified_name();
    let mut backoff = Backoff::default();
    // Where to watch from; none when the kind must be listed first.
    let mut from: Option<String> = None;
    loop {
        let version = match from.take() {
            Some(version) => version,
            None => match api.list(&ListParams::default()).await {
                Ok(list) => {
                    let version = list.metadata.resource_version.unwrap_or_default();
                    let objects = list.items.into_iter().map(|o| served(o, &resource)).map(|(k, o)| (k, Arc::new(o)));
                    let objects = objects.collect();
                    if index.listed(kind, objects, version.parse().unwrap_or(0)) {
                        changed();
                    }
                    backoff = Backoff::default();
                    version
                }
                // The kind's CRD is not installed: the cluster keeps none of it, until it is.
                Err(kube::Error::Api(status)) if status.is_not_found() => {
                    if index.listed(kind, BTreeMap::new(), 0) {
                        changed();
                    }
                    backoff.wait(BACKOFF_LIMIT).await;
                    continue;
                }
                Err(e) => {
                    let problem = failed("list", e);
                    tracing::warn!(kind = what, "{problem}");
                    index.failed(kind, problem);
                    backoff.wait(BACKOFF_LIMIT).await;
                    continue;
                }
            },
        };
        let events = match api.watch(&WatchParams::default().timeout(WATCH_SECONDS), &version).await {
            Ok(events) => events,
            Err(kube::Error::Api(status)) if is_gone(&status) => continue,
            Err(e) => {
                tracing::warn!(kind = what, "{}", failed("watch", e));
                from = Some(version);
                backoff.wait(BACKOFF_LIMIT).await;
                continue;
            }
        };
        let mut events = std::pin::pin!(events);
        from = Some(version);
        let (began, mut heard) = (tokio::time::Instant::now(), false);
        while let Ok(Some(event)) = tokio::time::timeout(SILENCE, events.next()).await {
            heard = true;
            let (object, gone) = match event {
                Ok(WatchEvent::Added(o) | WatchEvent::Modified(o)) => (o, false),
                Ok(WatchEvent::Deleted(o)) => (o, true),
                Ok(WatchEvent::Bookmark(bookmark)) => {
                    from = Some(bookmark.metadata.resource_version);
                    continue;
                }
                Ok(WatchEvent::Error(status)) if is_gone(&status) => {
                    from = None;
                    break;
                }
                Ok(WatchEvent::Error(status)) => {
                    tracing::warn!(kind = what, "watching: {}", status.message);
                    backoff.wait(BACKOFF_LIMIT).await;
                    break;
                }
                Err(e) => {
                    tracing::warn!(kind = what, "watching: {e}");
                    backoff.wait(BACKOFF_LIMIT).await;
                    break;
                }
            };
            backoff = Backoff::default();
            let mark = written_at(&object.metadata).unwrap_or(0);
            from = object.metadata.resource_version.clone();
            let (key, object) = served(object, &resource);
            index.changed(kind, key, (!gone).then_some(object), mark);
            changed();
        }
        // A watch the server ends at once, again and again, is not asked for in a busy loop.
        if !heard && began.elapsed() < Duration::from_secs(1) {
            backoff.wait(BACKOFF_LIMIT).await;
        }
    }
}

/// Waits that double from a tenth of a second, up to a limit.
#[derive(Default)]
struct Backoff(u32);

impl Backoff {
    async fn wait(&mut self, limit: Duration) {
        let wait = Duration::from_millis(100).saturating_mul(1 << self.0.min(16)).min(limit);
        self.0 += 1;
        tokio::time::sleep(wait).await;
    }
}
