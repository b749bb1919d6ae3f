//! Sidecar injection against the real kube-apiserver: `meshctl inject` offline, and the
//! controller's admission webhook, which the API server calls when a Pod is created in a
//! labelled namespace.
//!
//! ```text
//!   test ──create Pod──▶ kube-apiserver ──AdmissionReview (TLS, caBundle = mesh CA)──▶ controller Pod :15017
//!                              │ stores the Pod as patched                               (test kubelet)
//!   test ──get Pod──────────────┘
//! ```

mod common;

use std::time::Duration;

use common::control_plane;
use common::kube::KubeApiServer;
use common::kubelet::{self, Kubelet};
use meshctl::kube::inject::{INIT_CONTAINER, STATUS_ANNOTATION};
use meshctl::kube::install::{self, NAMESPACE};
use meshctl::kube::registry::PROXY_CONTAINER;
use meshctl::kube::webhook;
use serde_json::{Value, json};

const WORKLOADS: &str = "testdata/inject/workloads.yaml";
const DEADLINE: Duration = Duration::from_secs(30);

fn documents(yaml: &str) -> Vec<Value> {
    let (docs, error) = meshctl::api::yaml::parse(yaml);
    assert!(error.is_none(), "{error:?}");
    docs.iter().filter_map(|d| d.root.as_ref()).map(|n| n.to_json()).collect()
}

/// The API path objects of `object`'s kind are created at, in `namespace`.
fn collection(object: &Value, namespace: &str) -> String {
    let kind = object["kind"].as_str().unwrap();
    let api_version = object["apiVersion"].as_str().unwrap();
    let plural = format!("{}s", kind.to_lowercase());
    let base = if api_version == "v1" { "/api/v1".to_string() } else { format!("/apis/{api_version}") };
    format!("{base}/namespaces/{namespace}/{plural}")
}

fn names(list: &Value) -> Vec<&str> {
    list.as_array().into_iter().flatten().map(|c| c["name"].as_str().unwrap()).collect()
}

#[test]
fn meshctl_inject_prints_what_the_api_servers_schemas_accept() {
    let out = common::meshctl(&["inject", "-f", WORKLOADS]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    common::assert_golden("tests/golden/inject.yaml", &out.stdout);
    let objects = documents(&out.stdout);
    let kinds: Vec<&str> = objects.iter().map(|o| o["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["Deployment", "Service", "Pod", "StatefulSet", "DaemonSet", "Job", "CronJob"]);
    let templates =
        [&objects[0]["spec"]["template"], &objects[2], &objects[6]["spec"]["jobTemplate"]["spec"]["template"]];
    for template in templates {
        assert_eq!(names(&template["spec"]["initContainers"])[..2], [INIT_CONTAINER, PROXY_CONTAINER]);
    }
    // The Job opted out; the Service is no workload.
    assert!(objects[5]["spec"]["template"]["spec"].get("initContainers").is_none());
    assert_eq!(objects[1], documents(&std::fs::read_to_string(common::root().join(WORKLOADS)).unwrap())[1]);

    // Every object, as the API server validates it before storing (strict: an unknown field
    // is an error, not dropped).
    let server = KubeApiServer::start();
    control_plane::make_namespace(&server, "shop", json!({}));
    for object in &objects {
        let path = format!("{}?dryRun=All&fieldValidation=Strict", collection(object, "shop"));
        let created = server.post(&path, object);
        assert_eq!(created.status, 201, "{} {}: {}", object["kind"], object["metadata"]["name"], created.json());
    }

    // The proxy's command line, as the kubelet expands it, is one Envoy accepts.
    let proxy = &objects[0]["spec"]["template"]["spec"]["initContainers"][1];
    let args: Vec<String> = proxy["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().replace("$(POD_NAME)", "profile-0").replace("$(POD_NAMESPACE)", "shop"))
        .collect();
    common::envoy::validate_in_pod(&args).unwrap();
}

#[test]
fn a_manifest_that_cannot_be_injected_is_named_at_its_line_and_nothing_is_printed() {
    let manifest = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n    sidecar.meshctl.io/proxyCPU: fast\nspec:\n  containers: [{name: a, image: b}]\n";
    let out = common::meshctl_with_input(&["inject", "-f", "-"], manifest);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(out.stdout, "");
    assert!(out.stderr.contains("-:6:34: \"fast\" is not a Kubernetes quantity"), "{}", out.stderr);
}

/// A Pod of the Deployment in `WORKLOADS`, named, as its ReplicaSet would make it.
fn pod_of_deployment(name: &str) -> Value {
    let deployment = documents(&std::fs::read_to_string(common::root().join(WORKLOADS)).unwrap()).remove(0);
    let template = &deployment["spec"]["template"];
    json!({ "apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": name, "labels": template["metadata"]["labels"], "annotations": template["metadata"]["annotations"],
    }, "spec": template["spec"] })
}

/// What the API server stored, without what differs between any two Pods: their names, and
/// the API access token volume the ServiceAccount admission plugin adds under a random name.
fn stored_shape(mut pod: Value) -> Value {
    for field in ["uid", "resourceVersion", "creationTimestamp", "managedFields", "namespace", "name"] {
        pod["metadata"].as_object_mut().unwrap().remove(field);
    }
    pod.as_object_mut().unwrap().remove("status");
    let generated = |v: &Value| v["name"].as_str().is_some_and(|n| n.starts_with("kube-api-access-"));
    pod["spec"]["volumes"].as_array_mut().unwrap().retain(|v| !generated(v));
    for list in ["initContainers", "containers"] {
        for container in pod["spec"][list].as_array_mut().into_iter().flatten() {
            if let Some(mounts) = container["volumeMounts"].as_array_mut() {
                mounts.retain(|m| !generated(m));
            }
        }
    }
    pod
}

#[test]
fn the_api_server_has_the_controller_inject_pods_of_labelled_namespaces() {
    let server = KubeApiServer::start();
    let kubelet = Kubelet::new(&server).image(&install::default_image(), env!("CARGO_BIN_EXE_meshctl"));
    let controllers = control_plane::install_and_run(&server, &kubelet, 1, &[], &[]);
    let configuration =
        format!("/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/{}", webhook::CONFIGURATION);
    common::poll("the controller sets the injector's caBundle", DEADLINE, || {
        let stored = server.get(&configuration).json();
        stored["webhooks"].as_array().is_some_and(|w| w.iter().all(|w| w["clientConfig"]["caBundle"].is_string()))
    });
    control_plane::make_namespace(&server, "shop", json!({ "meshctl.io/inject": "enabled" }));
    control_plane::make_namespace(&server, "istio-shop", json!({ "istio-injection": "enabled" }));
    control_plane::make_namespace(&server, "plain", json!({}));
    let create = |namespace: &str, pod: &Value| server.post(&format!("/api/v1/namespaces/{namespace}/pods"), pod);

    let created = create("shop", &pod_of_deployment("profile-0"));
    assert_eq!(created.status, 201, "{}", created.json());
    let stored = created.json();
    assert_eq!(names(&stored["spec"]["initContainers"]), [INIT_CONTAINER, PROXY_CONTAINER, "migrate"]);
    assert!(stored["metadata"]["annotations"][STATUS_ANNOTATION].is_string());
    common::assert_golden(
        "tests/golden/injected-pod.json",
        &serde_json::to_string_pretty(&stored_shape(stored.clone())).unwrap(),
    );

    // The webhook's Pod is `meshctl inject`'s, once both have the API server's defaults.
    let offline = common::meshctl_with_input(&["inject", "-f", "-"], &pod_of_deployment("profile-1").to_string());
    assert_eq!(offline.code, 0, "{}", offline.stderr);
    let offline = documents(&offline.stdout).remove(0);
    let defaulted = create("plain", &offline);
    assert_eq!(defaulted.status, 201, "{}", defaulted.json());
    assert_eq!(stored_shape(defaulted.json()), stored_shape(stored));

    // Istio's label works as it is.
    let istio = create("istio-shop", &pod_of_deployment("profile-2")).json();
    assert_eq!(names(&istio["spec"]["initContainers"])[..2], [INIT_CONTAINER, PROXY_CONTAINER]);

    // Left alone: a Pod in an unlabelled namespace, and one that opts out (annotation or label).
    let untouched = |namespace: &str, pod: Value| {
        let created = create(namespace, &pod);
        assert_eq!(created.status, 201, "{}", created.json());
        let stored = created.json();
        assert!(stored["spec"].get("initContainers").is_none_or(|c| names(c) == ["migrate"]), "{stored}");
        assert!(stored["metadata"]["annotations"].get(STATUS_ANNOTATION).is_none());
    };
    untouched("plain", pod_of_deployment("plain-0"));
    let mut annotated = pod_of_deployment("opted-out-0");
    annotated["metadata"]["annotations"]["sidecar.meshctl.io/inject"] = json!("false");
    untouched("shop", annotated);
    let mut labelled = pod_of_deployment("opted-out-1");
    labelled["metadata"]["labels"]["sidecar.istio.io/inject"] = json!("false");
    untouched("shop", labelled);

    // A Pod the injector cannot make right is refused, saying why.
    let mut bad = pod_of_deployment("bad-0");
    bad["metadata"]["annotations"]["sidecar.meshctl.io/proxyCPU"] = json!("fast");
    let refused = create("shop", &bad);
    assert_eq!(refused.status, 400, "{}", refused.json());
    let message = refused.json()["message"].as_str().unwrap_or_default().to_string();
    assert!(message.contains("meshctl cannot inject this Pod") && message.contains("\"fast\""), "{message}");

    // With the injector down, failurePolicy Fail: no Pod in a mesh namespace is made without
    // its sidecar, and other namespaces do not notice.
    for controller in &controllers {
        kubelet.delete(controller);
    }
    kubelet::sync_endpoint_slice(&server, NAMESPACE, install::CONTROLLER);
    let down = create("shop", &pod_of_deployment("profile-3"));
    assert_eq!(down.status / 100, 5, "{}", down.json());
    let message = down.json()["message"].as_str().unwrap_or_default().to_string();
    assert!(message.contains(webhook::WEBHOOKS[0]), "{message}");
    assert_eq!(create("plain", &pod_of_deployment("plain-1")).status, 201);
}
