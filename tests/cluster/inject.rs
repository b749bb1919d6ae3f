//! Sidecar injection by the controller's admission webhook, which the API server calls
//! through the controller's Service when a Pod is created in a labelled namespace.
//!
//! ```text
//!   test ──create Pod──▶ kube-apiserver ──AdmissionReview (TLS, caBundle = mesh CA)──▶ meshctl-controller Service ─▶ Pod :15017
//!                              │ stores the Pod as patched
//!   test ──get Pod──────────────┘
//! ```

use meshctl::kube::inject::{INIT_CONTAINER, STATUS_ANNOTATION};
use meshctl::kube::install::{self, NAMESPACE};
use meshctl::kube::registry::PROXY_CONTAINER;
use meshctl::kube::webhook;
use serde_json::{Value, json};

use super::DEADLINE;
use super::common::{images, node};

const WORKLOADS: &str = "testdata/inject/workloads.yaml";

fn documents(yaml: &str) -> Vec<Value> {
    let (docs, error) = meshctl::api::yaml::parse(yaml);
    assert!(error.is_none(), "{error:?}");
    docs.iter().filter_map(|d| d.root.as_ref()).map(|n| n.to_json()).collect()
}

fn names(list: &Value) -> Vec<&str> {
    list.as_array().into_iter().flatten().map(|c| c["name"].as_str().unwrap()).collect()
}

/// A Pod of the Deployment in `WORKLOADS`, named, as its ReplicaSet would make it.
fn pod_of_deployment(name: &str) -> Value {
    let deployment = documents(&std::fs::read_to_string(super::common::root().join(WORKLOADS)).unwrap()).remove(0);
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
    let mesh = node::mesh();
    // The injector goes down for everyone at the end.
    let _alone = mesh.alone();
    let node = mesh.node;
    let _namespaces = [
        node.namespace("inject", &["meshctl.io/inject=enabled"]),
        node.namespace("inject-istio", &["istio-injection=enabled"]),
        node.namespace("inject-plain", &[]),
    ];
    let create = |namespace: &str, pod: &Value| node.post(&format!("/api/v1/namespaces/{namespace}/pods"), pod);

    let created = create("inject", &pod_of_deployment("profile-0"));
    assert_eq!(created.status, 201, "{}", created.json());
    let stored = created.json();
    assert_eq!(names(&stored["spec"]["initContainers"]), [INIT_CONTAINER, PROXY_CONTAINER, "migrate"]);
    assert!(stored["metadata"]["annotations"][STATUS_ANNOTATION].is_string());
    super::common::assert_golden(
        "tests/golden/injected-pod.json",
        &serde_json::to_string_pretty(&stored_shape(stored.clone())).unwrap(),
    );

    // The webhook's Pod is `meshctl inject`'s with install's images, once both have the API
    // server's defaults.
    let offline = super::common::meshctl_with_input(
        &[
            "inject",
            "-f",
            "-",
            "--image",
            images::MESHCTL,
            "--envoy-image",
            images::ENVOY,
            "--proxy-cpu-request",
            node::PROXY_CPU,
        ],
        &pod_of_deployment("profile-1").to_string(),
    );
    assert_eq!(offline.code, 0, "{}", offline.stderr);
    let offline = documents(&offline.stdout).remove(0);
    let defaulted = create("inject-plain", &offline);
    assert_eq!(defaulted.status, 201, "{}", defaulted.json());
    assert_eq!(stored_shape(defaulted.json()), stored_shape(stored));

    // Istio's label works as it is.
    let istio = create("inject-istio", &pod_of_deployment("profile-2")).json();
    assert_eq!(names(&istio["spec"]["initContainers"])[..2], [INIT_CONTAINER, PROXY_CONTAINER]);

    // Left alone: a Pod in an unlabelled namespace, and one that opts out (annotation or label).
    let untouched = |namespace: &str, pod: Value| {
        let created = create(namespace, &pod);
        assert_eq!(created.status, 201, "{}", created.json());
        let stored = created.json();
        assert!(stored["spec"].get("initContainers").is_none_or(|c| names(c) == ["migrate"]), "{stored}");
        assert!(stored["metadata"]["annotations"].get(STATUS_ANNOTATION).is_none());
    };
    untouched("inject-plain", pod_of_deployment("plain-0"));
    let mut annotated = pod_of_deployment("opted-out-0");
    annotated["metadata"]["annotations"]["sidecar.meshctl.io/inject"] = json!("false");
    untouched("inject", annotated);
    let mut labelled = pod_of_deployment("opted-out-1");
    labelled["metadata"]["labels"]["sidecar.istio.io/inject"] = json!("false");
    untouched("inject", labelled);

    // A Pod the injector cannot make right is refused, saying why.
    let mut bad = pod_of_deployment("bad-0");
    bad["metadata"]["annotations"]["sidecar.meshctl.io/proxyCPU"] = json!("fast");
    let refused = create("inject", &bad);
    assert_eq!(refused.status, 400, "{}", refused.json());
    let message = refused.json()["message"].as_str().unwrap_or_default().to_string();
    assert!(message.contains("meshctl cannot inject this Pod") && message.contains("\"fast\""), "{message}");

    // With the injector down, failurePolicy Fail: no Pod in a mesh namespace is made without
    // its sidecar, and other namespaces do not notice.
    let controller = format!("deployment/{}", install::CONTROLLER);
    node.kubectl_ok(&["-n", NAMESPACE, "scale", &controller, "--replicas=0"]);
    let selector = format!("app.kubernetes.io/name={}", install::CONTROLLER);
    super::common::poll("the controller's Pods are gone", DEADLINE, || {
        node.kubectl_ok(&["-n", NAMESPACE, "get", "pods", "-l", &selector, "-o", "name"]).trim().is_empty()
    });
    let down = create("inject", &pod_of_deployment("profile-3"));
    assert_eq!(down.status / 100, 5, "{}", down.json());
    let message = down.json()["message"].as_str().unwrap_or_default().to_string();
    assert!(message.contains(webhook::WEBHOOKS[0]), "{message}");
    assert_eq!(create("inject-plain", &pod_of_deployment("plain-1")).status, 201);

    // Back up, for the tests after.
    node.kubectl_ok(&["-n", NAMESPACE, "scale", &controller, "--replicas=1"]);
    node.wait(NAMESPACE, &controller, "condition=Available", DEADLINE);
    super::common::poll("the injector answers again", DEADLINE, || {
        create("inject", &pod_of_deployment(&format!("profile-{}", std::process::id()))).status == 201
    });
}

/// A caBundle another writer changed is set back to the mesh's roots as soon as the
/// controller's watch sees it: the API server trusts the injector again.
#[test]
fn a_ca_bundle_another_writer_changed_is_set_back() {
    use base64::Engine as _;
    let mesh = node::mesh();
    // While the injector is not trusted, nobody else's Pods can be made.
    let (node, _turn) = (mesh.node, mesh.alone());
    let bundle = ["get", "mutatingwebhookconfiguration", webhook::CONFIGURATION, "-o"];
    let bundle = [&bundle[..], &["jsonpath={.webhooks[0].clientConfig.caBundle}"]].concat();
    let trusted = node.kubectl_ok(&bundle);
    let other = rcgen::generate_simple_self_signed(vec!["other.example".to_string()]).unwrap();
    let other = base64::engine::general_purpose::STANDARD.encode(other.cert.pem());
    let patch = json!([{ "op": "replace", "path": "/webhooks/0/clientConfig/caBundle", "value": other }]);
    node.kubectl_ok(&[
        "patch",
        "mutatingwebhookconfiguration",
        webhook::CONFIGURATION,
        "--type=json",
        "-p",
        &patch.to_string(),
    ]);
    let back = super::common::within(DEADLINE, || node.kubectl_ok(&bundle) == trusted);
    assert!(back, "the injector's caBundle stays another writer's: {}", node.kubectl_ok(&bundle));
}
