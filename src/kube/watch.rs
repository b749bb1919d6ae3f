//! Watches that say only that something changed. kube-runtime's watcher lists again by itself
//! when it loses a watch (an expired resourceVersion, a broken connection), and then reports
//! no deletion for what went meanwhile, and every object as if new. [`changes`] keeps what it
//! has seen, so a relisting that finds everything as it was is no change, and one that lost
//! or moved an object is; the first listing always counts.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Api;
use kube::runtime::{WatchStreamExt, watcher};
use tokio_stream::{Stream, StreamExt as _};

/// The watch of what `api` lists under `config`, yielding when an object comes, goes, or its
/// `version` (its resourceVersion for every change, its generation for changes of its spec)
/// moves. `what` names the watch in the log when it fails; it starts again by itself.
pub fn changes<K>(
    api: Api<K>,
    config: watcher::Config,
    version: fn(&ObjectMeta) -> Option<String>,
    what: String,
) -> impl Stream<Item = ()> + Send + use<K>
where
    K: kube::Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned + Send + 'static,
{
    let key = |meta: &ObjectMeta| (meta.namespace.clone().unwrap_or_default(), meta.name.clone().unwrap_or_default());
    let mut known: BTreeMap<(String, String), Option<String>> = BTreeMap::new();
    let mut relisted: BTreeMap<(String, String), Option<String>> = BTreeMap::new();
    // What was read before the watch began may have changed before its first listing, which
    // has nothing to compare with: that one always counts.
    let mut listed = false;
    watcher(api, config).default_backoff().filter_map(move |event| match event {
        Ok(watcher::Event::Init) => {
            relisted.clear();
            None
        }
        Ok(watcher::Event::InitApply(o)) => {
            relisted.insert(key(o.meta()), version(o.meta()));
            None
        }
        Ok(watcher::Event::InitDone) => {
            let moved = !listed || relisted != known;
            listed = true;
            known = std::mem::take(&mut relisted);
            moved.then_some(())
        }
        Ok(watcher::Event::Apply(o)) => {
            let before = known.insert(key(o.meta()), version(o.meta()));
            (before != Some(version(o.meta()))).then_some(())
        }
        Ok(watcher::Event::Delete(o)) => {
            known.remove(&key(o.meta()));
            Some(())
        }
        Err(e) => {
            tracing::warn!(what, "watching: {e}");
            None
        }
    })
}
