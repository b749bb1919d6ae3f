//! `meshctl install` and `uninstall` on a cluster, run as the real binary against the real
//! kube-apiserver (`scripts/kube-testenv`), and the manifests they apply.

use super::common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::kube::KubeApiServer;
use common::{Run, meshctl_in};
use meshctl::kube::install::{self, CaMaterial, Found, GatewayService, ObjectKind, Settings};
use serde_json::{Value, json};

/// An image name that says where it comes from, so a test never depends on the default tag.
const IMAGE: &str = "registry.example.test/meshctl:test";

fn meshctl_on(server: &KubeApiServer, args: &[&str]) -> Run {
    let kubeconfig = server.kubeconfig();
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--kubeconfig", kubeconfig.to_str().unwrap()]);
    meshctl_in(&all, "", &[])
}

/// Whether the API server can check `object` only once install made what it needs: its
/// namespace, or the CRD of its kind.
fn after_install(object: &Value) -> bool {
    kind_of(object).namespaced() || kind_of(object) == ObjectKind::GatewayClass
}

/// The objects of a multi-document YAML stream, as JSON.
fn documents(yaml: &str) -> Vec<Value> {
    let (docs, error) = meshctl::api::yaml::parse(yaml);
    assert_eq!(error, None, "{yaml}");
    docs.into_iter().filter_map(|d| d.root).map(|n| n.to_json()).collect()
}

fn kind_of(object: &Value) -> ObjectKind {
    ObjectKind::ALL.into_iter().find(|k| object["kind"] == k.kind()).unwrap_or_else(|| panic!("{object}"))
}

/// The URL path of an object, or of its kind's collection when `name` is empty.
fn path(kind: ObjectKind, namespace: Option<&str>, name: &str) -> String {
    let base = match kind.group() {
        "" => "/api/v1".to_string(),
        group => format!("/apis/{group}/{}", kind.version()),
    };
    let ns = match namespace {
        Some(ns) if kind.namespaced() => format!("/namespaces/{ns}"),
        _ => String::new(),
    };
    let name = if name.is_empty() { String::new() } else { format!("/{name}") };
    format!("{base}{ns}/{}{name}", kind.plural())
}

fn path_of(object: &Value) -> String {
    path(kind_of(object), object["metadata"]["namespace"].as_str(), object["metadata"]["name"].as_str().unwrap())
}

/// `kind.group/name` of every object on the server that carries meshctl's label and is not
/// being deleted.
fn labelled(server: &KubeApiServer) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for kind in ObjectKind::ALL {
        let url = format!(
            "{}?labelSelector=app.kubernetes.io%2Fmanaged-by%3Dmeshctl",
            path(kind, Some(install::NAMESPACE), "")
        );
        let list = server.get(&url);
        // A kind whose CRD is not there (the Gateway API's, before install or after a purge).
        if list.status == 404 && kind == ObjectKind::GatewayClass {
            continue;
        }
        assert_eq!(list.status, 200, "{url}: {}", list.json());
        for item in list.json()["items"].as_array().unwrap() {
            if item["metadata"]["deletionTimestamp"].is_null() {
                found.insert(install::reference(kind, item["metadata"]["name"].as_str().unwrap()));
            }
        }
    }
    found
}

/// Whether every field of `sent` is in `stored` with the same value: what the server added
/// (uid, resourceVersion, status, defaults) is ignored, what was sent must be there as sent.
fn contains(sent: &Value, stored: &Value, at: &str) -> Result<(), String> {
    match (sent, stored) {
        (Value::Object(a), Value::Object(b)) => a.iter().try_for_each(|(k, v)| match b.get(k) {
            Some(w) => contains(v, w, &format!("{at}.{k}")),
            None => Err(format!("{at}.{k} was sent but is not stored")),
        }),
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            a.iter().zip(b).enumerate().try_for_each(|(i, (v, w))| contains(v, w, &format!("{at}[{i}]")))
        }
        // JSON has one number type: the server writes 0.0 back as 0.
        (Value::Number(a), Value::Number(b)) if a.as_f64() == b.as_f64() => Ok(()),
        _ if sent == stored => Ok(()),
        _ => Err(format!("{at}: sent {sent}, stored {stored}")),
    }
}

/// Plays the part of the Deployment controller and kubelet: the Deployment is Available.
fn make_available(server: &KubeApiServer, name: &str) {
    let url = path(ObjectKind::Deployment, Some(install::NAMESPACE), name);
    let generation = server.get(&url).json()["metadata"]["generation"].clone();
    let status = json!({ "status": {
        "observedGeneration": generation,
        "replicas": 1, "updatedReplicas": 1, "readyReplicas": 1, "availableReplicas": 1,
        "conditions": [{ "type": "Available", "status": "True", "reason": "MinimumReplicasAvailable" }],
    }});
    let answer = server.request_with(
        hyper::Method::PATCH,
        &format!("{url}/status"),
        "application/merge-patch+json",
        Some(&status),
    );
    assert_eq!(answer.status, 200, "{}", answer.json());
}

fn lines_with(stdout: &str, word: &str) -> BTreeSet<String> {
    stdout.lines().filter_map(|l| l.strip_suffix(&format!(" {word}"))).map(str::to_string).collect()
}

#[test]
fn install_applies_what_dry_run_prints_then_changes_nothing_and_uninstall_removes_it() {
    let server = KubeApiServer::start();
    // Istio's VirtualService CRD, installed by another tool before meshctl.
    let mut istio = serde_json::to_value(meshctl::api::Kind::VirtualService.crd()).unwrap();
    istio["metadata"]["labels"] = json!({ "app.kubernetes.io/managed-by": "Helm" });
    let istio_path = path_of(&istio);
    let created = server.post(&path(ObjectKind::CustomResourceDefinition, None, ""), &istio);
    assert_eq!(created.status, 201, "{}", created.json());
    // The API server's own controllers write its status; after that, nothing but meshctl could.
    common::poll("Istio's CRD is Established", Duration::from_secs(30), || {
        meshctl::kube::client::condition(&server.get(&istio_path).json(), "Established") == Some("True")
    });
    let istio_version = server.get(&istio_path).json()["metadata"]["resourceVersion"].clone();

    // A dry run prints every object and touches nothing.
    let dry = meshctl_on(&server, &["install", "--dry-run", "-o", "yaml", "--image", IMAGE]);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    let planned = documents(&dry.stdout);
    assert!(labelled(&server).is_empty(), "a dry run stored {:?}", labelled(&server));
    let references: BTreeSet<String> =
        planned.iter().map(|o| install::reference(kind_of(o), o["metadata"]["name"].as_str().unwrap())).collect();
    assert!(!references.iter().any(|r| r.contains("virtualservices")), "Istio's CRD is not replaced: {references:?}");
    assert!(references.contains("secret/meshctl-ca"), "{references:?}");

    // What it printed passes the API server's own schema check, field by field.
    for object in &planned {
        let url = format!("{}?dryRun=All&fieldValidation=Strict&fieldManager=meshctl&force=true", path_of(object));
        if after_install(object) {
            continue; // checked below, once their namespace (or CRD) exists
        }
        let answer = server.request_with(hyper::Method::PATCH, &url, "application/apply-patch+yaml", Some(object));
        assert!(answer.status < 300, "{url}: {}", answer.json());
    }
    assert!(labelled(&server).is_empty(), "a server dry run stored nothing either");

    let first = meshctl_on(&server, &["install", "--image", IMAGE]);
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    assert_eq!(lines_with(&first.stdout, "created"), references, "{}", first.stdout);
    assert!(
        first.stdout.contains(
            "customresourcedefinition.apiextensions.k8s.io/virtualservices.networking.istio.io unchanged (not meshctl's"
        ),
        "{}",
        first.stdout
    );
    assert_eq!(labelled(&server), references);

    for object in planned.iter().filter(|o| after_install(o)) {
        let url = format!("{}?dryRun=All&fieldValidation=Strict&fieldManager=meshctl&force=true", path_of(object));
        let answer = server.request_with(hyper::Method::PATCH, &url, "application/apply-patch+yaml", Some(object));
        assert!(answer.status < 300, "{url}: {}", answer.json());
    }

    // The dry run printed what the install stored (the CA aside: each run makes a new one).
    for object in &planned {
        let stored = server.get(&path_of(object));
        assert_eq!(stored.status, 200, "{}", path_of(object));
        let mut sent = object.clone();
        if kind_of(object) == ObjectKind::Secret {
            let keys = |o: &Value| o["data"].as_object().unwrap().keys().cloned().collect::<Vec<_>>();
            assert_eq!(keys(object), keys(&stored.json()));
            sent.as_object_mut().unwrap().remove("data");
        }
        contains(&sent, &stored.json(), "").unwrap_or_else(|e| panic!("{}: {e}", path_of(object)));
    }
    let crd = |name: &str| server.get(&path(ObjectKind::CustomResourceDefinition, None, name)).json();
    for name in install::crd_names().iter().filter(|n| !n.starts_with("virtualservices.")) {
        common::poll(&format!("{name} is Established"), Duration::from_secs(30), || {
            meshctl::kube::client::condition(&crd(name), "Established") == Some("True")
        });
    }

    // With no Deployment available, --wait gives up and says on what.
    let waited = meshctl_on(&server, &["install", "--image", IMAGE, "--wait", "--timeout", "2s"]);
    assert_eq!(waited.code, 3, "{}\n{}", waited.stdout, waited.stderr);
    assert!(waited.stderr.contains("deployment.apps/meshctl-controller"), "{}", waited.stderr);

    make_available(&server, install::CONTROLLER);
    make_available(&server, install::GATEWAY);
    let second = meshctl_on(&server, &["install", "--image", IMAGE, "--wait", "--timeout", "30s"]);
    assert_eq!(second.code, 0, "{}\n{}", second.stdout, second.stderr);
    let mut unchanged = references.clone();
    unchanged.insert("customresourcedefinition.apiextensions.k8s.io/virtualservices.networking.istio.io".into());
    let applied: BTreeSet<String> = second.stdout.lines().filter(|l| !l.starts_with('✓')).map(str::to_string).collect();
    let said: BTreeSet<String> = applied.iter().filter_map(|l| l.split_once(' ')).map(|(r, _)| r.to_string()).collect();
    assert_eq!(said, unchanged, "{}", second.stdout);
    assert!(applied.iter().all(|l| l.split(' ').nth(1) == Some("unchanged")), "{}", second.stdout);
    // Every CRD but Istio's VirtualService, found before install.
    let ready = format!("✓ ready: {} CRD(s) established, 2 Deployment(s) available", install::crd_names().len() - 1);
    assert!(second.stdout.contains(&ready), "{}", second.stdout);

    // Run again, the dry run prints the same objects, less the CA it keeps.
    let again = meshctl_on(&server, &["install", "--dry-run", "-o", "yaml", "--image", IMAGE]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    let without_ca: Vec<Value> = planned.iter().filter(|o| kind_of(o) != ObjectKind::Secret).cloned().collect();
    assert_eq!(documents(&again.stdout), without_ca);

    let istio_now = server.get(&istio_path).json();
    assert_eq!(istio_now["metadata"]["resourceVersion"], istio_version, "Istio's CRD was not touched");
    let managers: Vec<&Value> =
        istio_now["metadata"]["managedFields"].as_array().unwrap().iter().map(|m| &m["manager"]).collect();
    assert!(!managers.contains(&&json!("meshctl")), "{managers:?}");

    let uninstall = meshctl_on(&server, &["uninstall"]);
    assert_eq!(uninstall.code, 0, "{}", uninstall.stderr);
    let mut kept: BTreeSet<String> =
        references.iter().filter(|r| r.starts_with("customresourcedefinition")).cloned().collect();
    kept.extend(["namespace/meshctl-system".to_string(), "secret/meshctl-ca".to_string()]);
    assert_eq!(labelled(&server), kept, "{}", uninstall.stdout);

    let purge = meshctl_on(&server, &["uninstall", "--purge"]);
    assert_eq!(purge.code, 0, "{}", purge.stderr);
    assert_eq!(labelled(&server), BTreeSet::new(), "{}", purge.stdout);
    assert_eq!(server.get(&istio_path).status, 200, "Istio's CRD outlives a purge");
    let nothing = meshctl_on(&server, &["uninstall", "--purge"]);
    assert_eq!(nothing.code, 0, "{}", nothing.stderr);
    assert!(nothing.stdout.starts_with("nothing to uninstall"), "{}", nothing.stdout);

    // No namespace controller runs here, so the purged namespace stays Terminating, as it
    // does on a cluster for a while: a new install says so instead of "forbidden".
    let early = meshctl_on(&server, &["install"]);
    assert_eq!(early.code, 3, "{}", early.stderr);
    assert!(early.stderr.contains("namespace meshctl-system on the cluster at https://127.0.0.1:"), "{}", early.stderr);
    assert!(early.stderr.contains("is still being deleted"), "{}", early.stderr);
    assert!(early.stdout.is_empty(), "nothing is applied: {}", early.stdout);
}

#[test]
fn a_second_install_keeps_the_mesh_ca() {
    let server = KubeApiServer::start();
    let secret = path(ObjectKind::Secret, Some(install::NAMESPACE), install::CA_SECRET);
    let first = meshctl_on(&server, &["install"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let ca = server.get(&secret).json()["data"].clone();
    let again = meshctl_on(&server, &["install", "--image", IMAGE]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(again.stdout.contains("deployment.apps/meshctl-controller configured"), "a new image: {}", again.stdout);
    assert!(again.stdout.contains("secret/meshctl-ca unchanged"), "{}", again.stdout);
    assert_eq!(server.get(&secret).json()["data"], ca);
}

/// A kubeconfig with two contexts on servers that do not answer; `current` is the current one.
fn unreachable_kubeconfig(dir: &std::path::Path, current: u16, other: u16) -> std::path::PathBuf {
    let cluster =
        |name: &str, port: u16| json!({ "name": name, "cluster": { "server": format!("https://127.0.0.1:{port}") } });
    let context = |name: &str| json!({ "name": name, "context": { "cluster": name, "user": "nobody" } });
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [cluster("current", current), cluster("other", other)],
        "users": [{ "name": "nobody", "user": { "token": "not-a-token" } }],
        "contexts": [context("current"), context("other")],
        "current-context": "current",
    });
    let path = dir.join("kubeconfig");
    std::fs::write(&path, config.to_string()).unwrap();
    path
}

#[test]
fn an_unreachable_cluster_is_an_environment_error_that_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let (current, other) = (common::free_port(), common::free_port());
    let kubeconfig = unreachable_kubeconfig(dir.path(), current, other);
    let env = [("KUBECONFIG", kubeconfig.to_str().unwrap())];
    // With no state directory named and no local mesh running, the commands that speak to a
    // mesh go to the kubeconfig's cluster too.
    let commands = [
        &["install"][..],
        &["install", "--dry-run", "-o", "yaml"],
        &["uninstall"],
        &["get", "vs"],
        &["proxy-status"],
        &["top", "--once"],
    ];
    for args in commands {
        let run = meshctl_in(args, "", &env);
        assert_eq!(run.code, 3, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(&format!("https://127.0.0.1:{current}")), "{args:?}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
    }
    let run = meshctl_in(&["install", "--context", "other"], "", &env);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains(&format!("https://127.0.0.1:{other}")), "{}", run.stderr);

    let missing = dir.path().join("missing");
    let run = meshctl_in(&["install", "--kubeconfig", missing.to_str().unwrap()], "", &[]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains(missing.to_str().unwrap()), "{}", run.stderr);
}

#[test]
fn flags_of_one_place_are_refused_in_the_other() {
    let run = meshctl_in(&["install", "--local", "--kubeconfig", "k"], "", &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    let run = meshctl_in(&["install", "--gateway-port", "8080"], "", &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--local"), "{}", run.stderr);
    let run = meshctl_in(&["install", "-o", "yaml"], "", &[]);
    assert_eq!(run.code, 2, "-o needs --dry-run: {}", run.stderr);
}

#[test]
fn a_missing_permission_names_the_verb_and_the_resource() {
    let server = KubeApiServer::start();
    // A user who may read what install looks at first, but not create anything.
    let kubeconfig = server.kubeconfig_for(
        "reader",
        json!([
            { "apiGroups": ["apiextensions.k8s.io"], "resources": ["customresourcedefinitions"], "verbs": ["get"] },
            { "apiGroups": [""], "resources": ["secrets", "namespaces"], "verbs": ["get"] },
        ]),
    );

    let run = meshctl_in(&["install", "--kubeconfig", kubeconfig.to_str().unwrap()], "", &[]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let first_crd = &install::crd_names()[0];
    assert!(
        run.stderr.contains(&format!(
            "does not let you create customresourcedefinitions.apiextensions.k8s.io \"{first_crd}\""
        )),
        "{}",
        run.stderr
    );
    assert!(labelled(&server).is_empty());
}

/// The manifests for fixed settings and a stand-in CA, whole: a change to what install applies
/// shows in review. The Gateway API's CRDs are its own (third_party/gateway-api/, read back by
/// `api::gateway`'s tests): here each stands as its name, release and labels.
#[test]
fn the_manifests_match_their_golden_file() {
    let settings = Settings::new(IMAGE.into(), install::DEFAULT_ENVOY_IMAGE.into(), GatewayService::LoadBalancer);
    let ca = CaMaterial { cert_pem: "(root certificate)\n".into(), key_pem: "(root key)\n".into() };
    let mut objects = install::objects(&settings, &Found { new_ca: Some(ca), ..Found::default() });
    for object in &mut objects {
        let release = &object.json["metadata"]["annotations"][meshctl::api::gateway::BUNDLE_VERSION_ANNOTATION];
        if release.is_string() {
            object.json["spec"] = json!("(the Gateway API's, as published)");
        }
    }
    common::assert_golden("tests/golden/kube-install.yaml", &install::to_yaml(&objects));
}

/// The gateway's bootstrap is one Envoy accepts (`envoy --mode validate`), with the node id a
/// Pod gives it on the command line.
#[test]
fn envoy_accepts_the_gateway_bootstrap() {
    let settings = Settings::new(IMAGE.into(), install::DEFAULT_ENVOY_IMAGE.into(), GatewayService::NodePort);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(install::BOOTSTRAP_FILE);
    std::fs::write(&file, meshctl::api::yaml::to_string(&install::gateway_bootstrap_json(&settings))).unwrap();
    let args: Vec<String> = install::gateway_args()
        .into_iter()
        .map(|a| match a.as_str() {
            "$(POD_NAME).$(POD_NAMESPACE)" => "meshctl-ingressgateway-0.meshctl-system".to_string(),
            a if a.ends_with(install::BOOTSTRAP_FILE) => file.to_str().unwrap().to_string(),
            _ => a,
        })
        .collect();
    common::envoy::validate_in_pod(&args).unwrap();
}

/// `check --pre -o json`'s lines, by whether they hold.
fn precheck(args: &[&str]) -> (i32, Vec<(bool, String)>) {
    let run = meshctl_in(&[&["check", "--pre", "-o", "json"][..], args].concat(), "", &[]);
    let answer: Value =
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}\n{}", run.stdout, run.stderr));
    let lines = answer["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["ok"].as_bool().unwrap(), c["message"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(answer["healthy"], run.code == 0, "{answer:#}");
    (run.code, lines)
}

#[test]
fn check_pre_asks_the_cluster_whether_install_can_work_there() {
    let server = KubeApiServer::start();
    let admin = server.kubeconfig();
    let admin = ["--kubeconfig", admin.to_str().unwrap()];
    let (code, lines) = precheck(&admin);
    assert_eq!(code, 0, "{lines:#?}");
    let text: Vec<&str> = lines.iter().map(|(_, l)| l.as_str()).collect();
    assert!(text.iter().any(|l| l.starts_with("Kubernetes v1.37")), "{text:#?}");
    assert!(text.iter().any(|l| l.contains("you may apply everything install applies")), "{text:#?}");

    // A user who may read but not write: each missing right is named.
    let reader = server.kubeconfig_for(
        "reader",
        json!([{ "apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list", "watch"] }]),
    );
    let (code, lines) = precheck(&["--kubeconfig", reader.to_str().unwrap()]);
    assert_eq!(code, 1, "{lines:#?}");
    let refused: Vec<&String> = lines.iter().filter(|(ok, _)| !ok).map(|(_, l)| l).collect();
    assert_eq!(refused.len(), 1, "only the permissions fail: {lines:#?}");
    for needed in [
        "permissions: install applies ",
        "customresourcedefinitions.apiextensions.k8s.io (create, patch)",
        "deployments.apps in meshctl-system (create, patch)",
        "; the controller is granted canaries.meshctl.io/status (patch)",
        "leases.coordination.k8s.io in meshctl-system (create, update)",
    ] {
        assert!(refused[0].contains(needed), "{needed}: {}", refused[0]);
    }
    assert!(!refused[0].contains("services (list"), "the reader holds that: {}", refused[0]);

    // Istio's control plane already running is named, with what to do.
    let namespace = json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": "istio-system" } });
    assert!(server.post("/api/v1/namespaces", &namespace).status < 300);
    let labels = json!({ "app": "istiod" });
    let istiod = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "name": "istiod", "namespace": "istio-system" },
        "spec": {
            "selector": { "matchLabels": labels },
            "template": {
                "metadata": { "labels": labels },
                "spec": { "containers": [{ "name": "discovery", "image": "docker.io/istio/pilot:1.28.0" }] }
            }
        }
    });
    let created = server.post("/apis/apps/v1/namespaces/istio-system/deployments", &istiod);
    assert!(created.status < 300, "{}", created.json());
    let (code, lines) = precheck(&admin);
    assert_eq!(code, 1, "{lines:#?}");
    assert!(
        lines.iter().any(|(ok, l)| !ok && l.contains("istio-system/istiod") && l.contains("uninstall Istio first")),
        "{lines:#?}"
    );

    // An API server that does not answer is named, and nothing else is asked.
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let kubeconfig = unreachable_kubeconfig(dir.path(), port, common::free_port());
    let (code, lines) = precheck(&["--kubeconfig", kubeconfig.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(lines[0].1.contains(&format!("https://127.0.0.1:{port}")), "{lines:#?}");

    // A local mesh's state directory named alone is not a cluster to ask.
    let run = meshctl_in(&["check", "--pre", "--state-dir", dir.path().to_str().unwrap()], "", &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
}
