//! The store on a cluster's API, against the real kube-apiserver: it keeps the same promises
//! as the local store's own tests (created, unchanged, configured; generations; conflicts;
//! admission; statuses; deletes), and says what it cannot do.

use super::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::kube::KubeApiServer;
use meshctl::api::{Kind, Resource};
use meshctl::kube::client::{Cluster, Target};
use meshctl::kube::store::KubeStore;
use meshctl::policy::{Options, Source, check};
use meshctl::store::{Change, Contents, ObjectRef, Revision, Store, StoreError};
use serde_json::{Value, json};

const MESH: &str = "\
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: profile}
spec:
  host: profile
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: profile}
spec:
  hosts: [profile]
  http:
  - route:
    - {destination: {host: profile, subset: v1}, weight: 90}
    - {destination: {host: profile, subset: v2}, weight: 10}
";

const CANARY: &str = "\
apiVersion: meshctl.io/v1alpha1
kind: Canary
metadata: {name: profile}
spec: {service: profile, stable: v1, canary: v2}
";

fn mk_resources(yaml: &str) -> Vec<Resource> {
    let report = check(&[Source { name: "test".into(), text: yaml.into() }], &Options::default());
    let errors: Vec<_> = report.findings.iter().filter(|f| f.severity == meshctl::policy::Severity::Error).collect();
    assert!(errors.is_empty(), "{errors:?}");
    report.resources.into_iter().map(|c| c.resource).collect()
}

fn mk_ref(kind: Kind, name: &str) -> ObjectRef {
    ObjectRef { kind, namespace: "default".into(), name: name.into() }
}

/// The API server with meshctl's CRDs Established, as `meshctl install` leaves it.
fn mk_server() -> KubeApiServer {
    let server = KubeApiServer::start();
    let kinds = meshctl::kube::install::CLUSTER_KINDS;
    for kind in &kinds {
        let created = server.post(
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            &serde_json::to_value(kind.crd()).unwrap(),
        );
        assert_eq!(created.status, 201, "{}", created.json());
    }
    for kind in kinds {
        let name = kind.crd().metadata.name.unwrap();
        common::poll(&format!("{name} is Established"), Duration::from_secs(30), || {
            let crd = server.get(&format!("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")).json();
            crd["status"]["conditions"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["type"] == "Established" && c["status"] == "True"))
        });
    }
    server
}

async fn mk_store(kubeconfig: std::path::PathBuf) -> KubeStore {
    let cluster = Cluster::connect(&Target { kubeconfig: Some(kubeconfig), context: None }).await.unwrap();
    KubeStore::new(cluster)
}

/// What a watched store serves once it holds `written`.
async fn served_holding(store: &KubeStore, written: &Revision) -> Contents {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let contents = store.contents().await.unwrap();
        if contents.revision.holds(written) {
            return contents;
        }
        assert!(std::time::Instant::now() < deadline, "the watches never reached {written:?}: {:?}", contents.revision);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn stored<'a>(objects: &'a [std::sync::Arc<Value>], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in {objects:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_store_keeps_the_local_stores_promises() {
    let server = mk_server();
    let store = mk_store(server.kubeconfig()).await;
    let mesh = mk_resources(MESH);

    let created = store.apply(&mesh, false).await.unwrap();
    assert_eq!(created.iter().map(|(_, c)| *c).collect::<Vec<_>>(), [Change::Created, Change::Created]);
    let first = store.contents().await.unwrap();
    // What the writes were given, kind by kind, is what a reader must reach, and a listing
    // holds them.
    assert_eq!(store.written(), first.newest());
    assert!(first.revision.holds(&store.written()));
    assert_eq!(first.objects.len(), 2);
    assert_eq!(stored(&first.objects, "VirtualService", "profile")["metadata"]["generation"], 1);
    assert!(first.resources().iter().all(Result::is_ok), "every object reads back as typed");

    let again = store.apply(&mesh, false).await.unwrap();
    assert!(again.iter().all(|(_, c)| *c == Change::Unchanged), "{again:?}");

    // A dry run says what would change and changes nothing.
    let shifted = mk_resources(&MESH.replace("weight: 90", "weight: 50").replace("weight: 10", "weight: 50"));
    let written = store.written();
    let dry = store.apply(&shifted, true).await.unwrap();
    assert_eq!(dry.iter().map(|(_, c)| *c).collect::<Vec<_>>(), [Change::Unchanged, Change::Configured]);
    assert_eq!(store.written(), written, "a dry run writes nothing");
    let vs = |contents: &meshctl::store::Contents| {
        stored(&contents.objects, "VirtualService", "profile")["spec"]["http"][0]["route"][0]["weight"].clone()
    };
    assert_eq!(vs(&store.contents().await.unwrap()), 90);

    // An admission that refuses leaves the stored objects as they were, and saw them.
    let mut seen = 0;
    let refused = store
        .apply_admitted(&shifted, false, &mut |stored| {
            seen = stored.len();
            false
        })
        .await;
    assert!(matches!(refused, Err(StoreError::Refused)), "{refused:?}");
    assert_eq!(seen, 2);
    assert_eq!(vs(&store.contents().await.unwrap()), 90);

    let configured = store.apply(&shifted, false).await.unwrap();
    assert_eq!(configured[1].1, Change::Configured);
    let second = store.contents().await.unwrap();
    assert_eq!(vs(&second), 50);
    assert_eq!(stored(&second.objects, "VirtualService", "profile")["metadata"]["generation"], 2);
    let vs_at = |contents: &meshctl::store::Contents| contents.revision.at(Kind::VirtualService);
    assert!(vs_at(&second) > vs_at(&first), "a list after a write sees a higher revision");
    assert!(!first.revision.holds(&second.revision));

    // A write that names a version the object no longer has is a conflict.
    let stale = MESH.replace(
        "metadata: {name: profile}\nspec:\n  hosts",
        "metadata: {name: profile, resourceVersion: \"1\"}\nspec:\n  hosts",
    );
    let conflict = store.apply(&mk_resources(&stale), false).await;
    assert!(matches!(conflict, Err(StoreError::Conflict { .. })), "{conflict:?}");
    assert_eq!(vs(&store.contents().await.unwrap()), 50);

    // A status is written whole through its subresource, and is no new generation.
    store.apply(&mk_resources(CANARY), false).await.unwrap();
    let canary = mk_ref(Kind::Canary, "profile");
    assert!(
        store.set_status(&canary, json!({"phase": "Progressing", "weight": 10, "message": "dwells"})).await.unwrap()
    );
    assert!(store.set_status(&canary, json!({"phase": "Promoted", "weight": 100})).await.unwrap());
    let contents = store.contents().await.unwrap();
    let written = stored(&contents.objects, "Canary", "profile");
    assert_eq!(written["status"], json!({"phase": "Promoted", "weight": 100}), "the old message is gone");
    assert_eq!(written["metadata"]["generation"], 1);
    assert!(!store.set_status(&mk_ref(Kind::Canary, "gone"), json!({})).await.unwrap());

    let vs_ref = mk_ref(Kind::VirtualService, "profile");
    let read: Vec<Resource> =
        contents.resources().into_iter().flatten().filter(|r| ObjectRef::of(r) == vs_ref).collect();
    let before_delete = store.written();
    assert_eq!(store.delete(std::slice::from_ref(&vs_ref)).await.unwrap(), [(vs_ref.clone(), true)]);
    let deleted_at = store.written();
    assert!(
        deleted_at.at(Kind::VirtualService) > before_delete.at(Kind::VirtualService),
        "a delete is a write: {before_delete:?} then {deleted_at:?}"
    );
    assert!(store.contents().await.unwrap().revision.holds(&deleted_at));
    assert_eq!(store.delete(std::slice::from_ref(&vs_ref)).await.unwrap(), [(vs_ref.clone(), false)]);
    assert_eq!(store.written(), deleted_at, "deleting what is gone writes nothing");

    // A write based on a read of an object deleted since does not bring it back.
    let revived = store.apply(&read, false).await;
    assert!(matches!(&revived, Err(StoreError::Conflict { actual, .. }) if actual == "none"), "{revived:?}");
    let left = store.contents().await.unwrap();
    assert!(!left.objects.iter().any(|o| o["kind"] == "VirtualService"), "{:#?}", left.objects);

    // A cluster keeps no Workloads: saying so beats a 404 from the API server.
    let workload = store.delete(&[mk_ref(Kind::Workload, "profile-v1")]).await.unwrap_err();
    assert!(workload.to_string().contains("a cluster keeps no Workload"), "{workload}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_wakes_a_watcher_and_a_missing_right_is_named() {
    let server = mk_server();
    let store = mk_store(server.kubeconfig()).await;
    let changes = Arc::new(AtomicUsize::new(0));
    let counter = changes.clone();
    store.watch(Box::new(move || _ = counter.fetch_add(1, Ordering::SeqCst))).unwrap();
    let count = || changes.load(Ordering::SeqCst);
    // Each kind's first listing counts once, when it is whole.
    let kinds = meshctl::kube::install::CLUSTER_KINDS.len();
    common::poll("every kind is listed", Duration::from_secs(30), || count() >= kinds);
    assert_eq!(count(), kinds);
    let writer = mk_store(server.kubeconfig()).await;
    writer.apply(&mk_resources(MESH), false).await.unwrap();
    common::poll("both objects are seen", Duration::from_secs(30), || count() >= kinds + 2);

    // The watched store serves what its watches brought: another handle's writes, kind by
    // kind, then its delete.
    let served = served_holding(&store, &writer.written()).await;
    assert_eq!(served.objects.len(), 2, "{:#?}", served.objects);
    assert_eq!(served.newest(), writer.written());
    let vs = mk_ref(Kind::VirtualService, "profile");
    writer.delete(std::slice::from_ref(&vs)).await.unwrap();
    let served = served_holding(&store, &writer.written()).await;
    assert_eq!(served.objects.len(), 1, "{:#?}", served.objects);
    assert_eq!(served.objects[0]["kind"], "DestinationRule");
    assert_eq!(served.revision.at(Kind::VirtualService), writer.written().at(Kind::VirtualService));
    assert!(store.watch(Box::new(|| ())).is_err(), "a store is watched once");

    let nobody_config = server.kubeconfig_for("nobody", json!([]));
    let nobody = mk_store(nobody_config.clone()).await;
    let error = nobody.contents().await.unwrap_err().to_string();
    assert!(
        error.contains("does not let you list virtualservices.networking.istio.io"),
        "the verb and the resource are named: {error}"
    );
    let run = common::meshctl(&["get", "vs", "--kubeconfig", nobody_config.to_str().unwrap()]);
    assert_eq!(run.code, 3, "a missing right is the environment's: {}", run.stderr);
    assert!(run.stderr.contains("does not let you list virtualservices.networking.istio.io"), "{}", run.stderr);
}
