//! `meshctl inject` offline, against the real kube-apiserver's schemas. The webhook that
//! injects on a cluster is shown on the real node (`tests/cluster/inject.rs`).

use super::common;

use common::kube::KubeApiServer;
use meshctl::kube::inject::INIT_CONTAINER;
use meshctl::kube::registry::PROXY_CONTAINER;
use serde_json::{Value, json};

const WORKLOADS: &str = "testdata/inject/workloads.yaml";

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
    // No controller-manager runs beside this API server to make the namespace's ServiceAccount.
    assert_eq!(server.post("/api/v1/namespaces", &json!({ "metadata": { "name": "shop" } })).status, 201);
    let account = json!({ "metadata": { "name": "default" } });
    assert_eq!(server.post("/api/v1/namespaces/shop/serviceaccounts", &account).status, 201);
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
