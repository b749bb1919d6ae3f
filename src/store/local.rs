//! The local store: one JSON file in the state directory, rewritten whole on every change
//! (write a temporary file, fsync, rename), so a reader never sees half a write and an apply
//! of many objects lands all at once. Writers take an exclusive lock on a lock file.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{Admission, Change, Contents, ObjectRef, Revision, Store, StoreError};
use crate::api::{Resource, time};

const FILE: &str = "resources.json";
const LOCK: &str = "resources.lock";

#[derive(Clone, Debug)]
pub struct LocalStore {
    dir: PathBuf,
    /// The store's revision after this handle's last write.
    written: Arc<AtomicU64>,
}

impl LocalStore {
    /// The store of an installed local mesh.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        if !dir.join(FILE).exists() {
            return Err(StoreError::NotInstalled(dir.to_path_buf()));
        }
        Ok(LocalStore { dir: dir.to_path_buf(), written: Arc::default() })
    }

    /// The store in `dir`, created empty if there is none yet.
    pub fn create(dir: &Path) -> Result<Self, StoreError> {
        fs::create_dir_all(dir).map_err(|source| StoreError::Io { path: dir.to_path_buf(), source })?;
        let store = LocalStore { dir: dir.to_path_buf(), written: Arc::default() };
        if !dir.join(FILE).exists() {
            let _lock = store.lock()?;
            store.write(&Contents::default())?;
        }
        Ok(store)
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(FILE)
    }

    /// Calls `changed` from a thread of its own whenever the store is rewritten. The thread
    /// lives as long as the process: the controller watches its store until it exits.
    fn watch_file(&self, changed: Box<dyn Fn() + Send + Sync>) -> std::io::Result<()> {
        use rustix::fs::inotify;
        let fd = inotify::init(inotify::CreateFlags::CLOEXEC)?;
        // Every write ends in a rename onto the file.
        inotify::add_watch(&fd, &self.dir, inotify::WatchFlags::MOVED_TO)?;
        std::thread::Builder::new().name("store-watch".into()).spawn(move || {
            let mut buffer = [std::mem::MaybeUninit::uninit(); 4096];
            let mut events = inotify::Reader::new(&fd, &mut buffer);
            loop {
                match events.next() {
                    Ok(event) if event.file_name().is_some_and(|name| name.to_bytes() == FILE.as_bytes()) => changed(),
                    Ok(_) | Err(rustix::io::Errno::INTR) => {}
                    Err(e) => {
                        tracing::error!("the store's watch stopped ({e}); changes are seen at the resync period");
                        break;
                    }
                }
            }
        })?;
        Ok(())
    }

    fn io(&self, path: PathBuf) -> impl FnOnce(std::io::Error) -> StoreError {
        move |source| StoreError::Io { path, source }
    }

    /// Held while reading, changing and writing the store; released when dropped.
    fn lock(&self) -> Result<File, StoreError> {
        let path = self.dir.join(LOCK);
        let file =
            OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(self.io(path.clone()))?;
        file.lock().map_err(self.io(path))?;
        Ok(file)
    }

    fn write(&self, contents: &Contents) -> Result<(), StoreError> {
        write_atomically(&self.path(), &serde_json::to_vec_pretty(contents).expect("store contents serialize"))
    }

    /// Reads, changes and (unless `dry_run`) writes the store under the lock.
    fn update<T>(
        &self,
        dry_run: bool,
        change: impl FnOnce(&mut Contents) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let _lock = self.lock()?;
        let mut contents = self.read()?;
        let result = change(&mut contents)?;
        if !dry_run {
            self.write(&contents)?;
            self.written.fetch_max(contents.revision.floor(), Ordering::SeqCst);
        }
        Ok(result)
    }
}

/// Writes `bytes` to `path` so that readers see either the old file or the whole new one.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    write_with_mode(path, bytes, 0o644)
}

/// Like [`write_atomically`], for secrets: the file is readable by its owner only, from the
/// moment it is created.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    write_with_mode(path, bytes, 0o600)
}

fn write_with_mode(path: &Path, bytes: &[u8], mode: u32) -> Result<(), StoreError> {
    use std::os::unix::fs::OpenOptionsExt;
    let io = |source| StoreError::Io { path: path.to_path_buf(), source };
    let tmp = path.with_extension("tmp");
    let mut file = OpenOptions::new().write(true).create(true).truncate(true).mode(mode).open(&tmp).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    fs::rename(&tmp, path).map_err(io)?;
    if let Some(dir) = path.parent() {
        File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
    }
    Ok(())
}

/// Asks `admit` about the stored objects, under the lock the caller holds.
fn admitted(contents: &Contents, admit: Admission<'_>) -> Result<(), StoreError> {
    let stored: Vec<Resource> = contents.resources().into_iter().flatten().collect();
    if admit(&stored) { Ok(()) } else { Err(StoreError::Refused) }
}

fn same_object(a: &serde_json::Value, r: &ObjectRef) -> bool {
    a["kind"] == r.kind.name()
        && a["apiVersion"] == r.kind.api_version()
        && a["metadata"]["namespace"] == r.namespace.as_str()
        && a["metadata"]["name"] == r.name.as_str()
}

/// The parts of an object a user writes: everything but the server-set metadata and status.
fn desired_part(object: &serde_json::Value) -> serde_json::Value {
    let mut o = object.clone();
    if let Some(meta) = o["metadata"].as_object_mut() {
        for field in ["resourceVersion", "creationTimestamp", "uid", "generation", "managedFields"] {
            meta.remove(field);
        }
    }
    if let Some(map) = o.as_object_mut() {
        map.remove("status");
    }
    o
}

impl LocalStore {
    fn read(&self) -> Result<Contents, StoreError> {
        let path = self.path();
        let bytes = fs::read(&path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => StoreError::NotInstalled(self.dir.clone()),
            _ => StoreError::Io { path: path.clone(), source },
        })?;
        serde_json::from_slice(&bytes).map_err(|source| StoreError::Corrupt { path, source })
    }
}

/// Files are small and local: their reads and writes run on the caller's task.
#[async_trait::async_trait]
impl Store for LocalStore {
    async fn contents(&self) -> Result<Contents, StoreError> {
        self.read()
    }

    async fn apply_admitted(
        &self,
        resources: &[Resource],
        dry_run: bool,
        admit: Admission<'_>,
    ) -> Result<Vec<(ObjectRef, Change)>, StoreError> {
        self.update(dry_run, |contents| {
            admitted(contents, admit)?;
            let revision = contents.revision.floor() + 1;
            let mut changes = Vec::new();
            for resource in resources {
                let r = ObjectRef::of(resource);
                let mut object = resource.to_json();
                let existing = contents.objects.iter().position(|o| same_object(o, &r));
                let current_version = existing.map(|i| contents.objects[i]["metadata"]["resourceVersion"].clone());
                if let Some(expected) = object["metadata"]["resourceVersion"].as_str() {
                    let actual = current_version.as_ref().and_then(|v| v.as_str()).unwrap_or("none");
                    if expected != actual {
                        return Err(StoreError::Conflict {
                            kind: r.kind.name().to_string(),
                            namespace: r.namespace,
                            name: r.name,
                            expected: expected.to_string(),
                            actual: actual.to_string(),
                        });
                    }
                }
                let change = match existing {
                    Some(i) if desired_part(&contents.objects[i]) == desired_part(&object) => Change::Unchanged,
                    Some(i) => {
                        let old = &contents.objects[i];
                        object["metadata"]["creationTimestamp"] = old["metadata"]["creationTimestamp"].clone();
                        object["metadata"]["generation"] =
                            (old["metadata"]["generation"].as_u64().unwrap_or(0) + 1).into();
                        if let Some(status) = old.get("status") {
                            object["status"] = status.clone();
                        }
                        object["metadata"]["resourceVersion"] = revision.to_string().into();
                        contents.objects[i] = Arc::new(object);
                        Change::Configured
                    }
                    None => {
                        object["metadata"]["creationTimestamp"] = time::now_rfc3339().into();
                        object["metadata"]["generation"] = 1.into();
                        object["metadata"]["resourceVersion"] = revision.to_string().into();
                        contents.objects.push(Arc::new(object));
                        Change::Created
                    }
                };
                changes.push((r, change));
            }
            if changes.iter().any(|(_, c)| *c != Change::Unchanged) {
                contents.revision = Revision::new(revision);
            }
            Ok(changes)
        })
    }

    async fn set_status(&self, object: &ObjectRef, status: serde_json::Value) -> Result<bool, StoreError> {
        self.update(false, |contents| {
            let Some(o) = contents.objects.iter_mut().find(|o| same_object(o, object)) else { return Ok(false) };
            if o.get("status") != Some(&status) {
                let o = Arc::make_mut(o);
                o["status"] = status;
                let revision = contents.revision.floor() + 1;
                contents.revision = Revision::new(revision);
                o["metadata"]["resourceVersion"] = revision.to_string().into();
            }
            Ok(true)
        })
    }

    async fn delete_admitted(
        &self,
        refs: &[ObjectRef],
        admit: Admission<'_>,
    ) -> Result<Vec<(ObjectRef, bool)>, StoreError> {
        self.update(false, |contents| {
            admitted(contents, admit)?;
            let results: Vec<(ObjectRef, bool)> = refs
                .iter()
                .map(|r| {
                    let before = contents.objects.len();
                    contents.objects.retain(|o| !same_object(o, r));
                    (r.clone(), contents.objects.len() < before)
                })
                .collect();
            if results.iter().any(|(_, deleted)| *deleted) {
                contents.revision = Revision::new(contents.revision.floor() + 1);
            }
            Ok(results)
        })
    }

    fn written(&self) -> Revision {
        Revision::new(self.written.load(Ordering::SeqCst))
    }

    fn watch(&self, changed: Box<dyn Fn() + Send + Sync>) -> Result<(), StoreError> {
        self.watch_file(changed).map_err(|source| StoreError::Io { path: self.dir.clone(), source })
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn set_status_changes_only_the_status() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::create(dir.path()).unwrap();
        store.apply(&resources(DR), false).await.unwrap();
        let r =
            ObjectRef { kind: crate::api::Kind::DestinationRule, namespace: "default".into(), name: "profile".into() };
        assert!(store.set_status(&r, serde_json::json!({"seen": true})).await.unwrap());
        let contents = store.contents().await.unwrap();
        assert_eq!(contents.objects[0]["status"]["seen"], true);
        assert_eq!(contents.objects[0]["spec"]["host"], "profile");
        assert_eq!(contents.objects[0]["metadata"]["generation"], 1, "a status write is no new generation");
        // A later apply of the same spec keeps the status and changes nothing.
        assert_eq!(store.apply(&resources(DR), false).await.unwrap()[0].1, Change::Unchanged);
        let gone = ObjectRef { name: "gone".into(), ..r };
        assert!(!store.set_status(&gone, serde_json::json!({})).await.unwrap());
    }

    use super::*;
    use crate::policy::{Options, Source, check};

    fn resources(yaml: &str) -> Vec<Resource> {
        let report = check(&[Source { name: "t".into(), text: yaml.into() }], &Options::default());
        assert!(report.findings.is_empty(), "{:?}", report.findings);
        report.resources.into_iter().map(|c| c.resource).collect()
    }

    const DR: &str =
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: profile}\nspec: {host: profile}\n";

    #[tokio::test]
    async fn apply_creates_configures_and_keeps_unchanged_objects() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(LocalStore::open(dir.path()), Err(StoreError::NotInstalled(_))));
        let store = LocalStore::create(dir.path()).unwrap();
        let first = store.apply(&resources(DR), false).await.unwrap();
        assert_eq!(first[0].1, Change::Created);
        assert_eq!(store.apply(&resources(DR), false).await.unwrap()[0].1, Change::Unchanged);
        assert_eq!(store.contents().await.unwrap().revision, Revision::new(1));
        let changed = DR.replace("host: profile", "host: board");
        assert_eq!(store.apply(&resources(&changed), false).await.unwrap()[0].1, Change::Configured);
        let contents = store.contents().await.unwrap();
        assert_eq!(contents.revision, Revision::new(2));
        assert_eq!(contents.objects[0]["metadata"]["resourceVersion"], "2");
        assert_eq!(contents.objects[0]["metadata"]["generation"], 2);
        assert_eq!(contents.objects[0]["spec"]["host"], "board");
        assert!(contents.resources()[0].is_ok());
    }

    #[tokio::test]
    async fn a_stale_resource_version_is_a_conflict_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::create(dir.path()).unwrap();
        store.apply(&resources(DR), false).await.unwrap();
        let stale = DR
            .replace("{name: profile}", "{name: profile, resourceVersion: \"7\"}")
            .replace("host: profile", "host: x");
        let err = store.apply(&resources(&stale), false).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
        assert_eq!(store.contents().await.unwrap().objects[0]["spec"]["host"], "profile");
    }

    #[tokio::test]
    async fn an_admission_sees_what_is_stored_and_a_refusal_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::create(dir.path()).unwrap();
        store.apply(&resources(DR), false).await.unwrap();
        let changed = resources(&DR.replace("host: profile", "host: board"));
        let mut seen = Vec::new();
        let refused = store
            .apply_admitted(&changed, false, &mut |stored| {
                seen = stored.to_vec();
                false
            })
            .await;
        assert!(matches!(refused, Err(StoreError::Refused)));
        match seen.as_slice() {
            [Resource::DestinationRule(dr)] => {
                assert_eq!(dr.spec.host, "profile", "the admission sees the stored object")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(store.contents().await.unwrap().objects[0]["spec"]["host"], "profile");
        let r =
            ObjectRef { kind: crate::api::Kind::DestinationRule, namespace: "default".into(), name: "profile".into() };
        assert!(matches!(
            store.delete_admitted(std::slice::from_ref(&r), &mut |_| false).await,
            Err(StoreError::Refused)
        ));
        assert_eq!(store.contents().await.unwrap().objects.len(), 1);
    }

    #[tokio::test]
    async fn delete_reports_what_existed() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::create(dir.path()).unwrap();
        store.apply(&resources(DR), false).await.unwrap();
        let r =
            ObjectRef { kind: crate::api::Kind::DestinationRule, namespace: "default".into(), name: "profile".into() };
        assert_eq!(store.delete(std::slice::from_ref(&r)).await.unwrap(), [(r.clone(), true)]);
        assert_eq!(store.delete(std::slice::from_ref(&r)).await.unwrap(), [(r, false)]);
        assert!(store.contents().await.unwrap().objects.is_empty());
    }
}
