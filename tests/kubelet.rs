//! The test-played kubelet (`common::kubelet`) against the real API server: Pods run as local
//! processes in network namespaces of their own, the API server reaches them through its pod
//! proxy, their status is what a kubelet reports, and nothing of them outlives the test.

mod common;

use std::time::Duration;

use common::kube::KubeApiServer;
use common::kubelet::{self, ENVOY_IMAGE, HOST_IP, Kubelet, MESHCTL_IMAGE, RunningPod, mk_container, mk_pod};
use serde_json::{Value, json};

#[test]
fn a_pod_runs_the_demo_app_reports_its_ip_and_readiness_and_answers_through_the_pod_proxy() {
    let server = KubeApiServer::start();
    mk_namespace(&server, "shop");
    let kubelet = Kubelet::new(&server);

    let pod = kubelet.run(demo_pod("shop", "profile-v1", "profile", "v1"));

    assert_eq!(pod.ip.octets()[..2], [10, 237], "{pod:?}");
    let stored = server.get("/api/v1/namespaces/shop/pods/profile-v1").json();
    assert_eq!(stored["status"]["phase"], "Running", "{stored}");
    assert_eq!(stored["status"]["podIP"], pod.ip.to_string(), "{stored}");
    assert_eq!(stored["status"]["podIPs"], json!([{"ip": pod.ip.to_string()}]), "{stored}");
    assert_eq!(stored["status"]["hostIP"], HOST_IP.to_string(), "{stored}");
    assert_eq!(stored["spec"]["nodeName"], kubelet::NODE_NAME, "{stored}");
    assert_eq!(condition(&stored, "Ready"), Some("True"), "{stored}");
    assert_eq!(condition(&stored, "ContainersReady"), Some("True"), "{stored}");
    assert_eq!(stored["status"]["containerStatuses"][0]["ready"], true, "{stored}");

    let answer = demo_answer(&server, &pod, 8080);
    assert_eq!((answer["service"].as_str(), answer["version"].as_str()), (Some("profile"), Some("v1")), "{answer}");

    // A controller reads readiness from the status; the kubelet can take it back.
    kubelet.set_ready(&pod, false);
    let stored = server.get("/api/v1/namespaces/shop/pods/profile-v1").json();
    assert_eq!(condition(&stored, "Ready"), Some("False"), "{stored}");
    assert_eq!(stored["status"]["containerStatuses"][0]["ready"], false, "{stored}");
    kubelet.set_ready(&pod, true);

    let pids = kubelet.pids(&pod);
    assert_eq!(pids.len(), 1, "one container, one process: {pids:?}");
    kubelet.delete(&pod);
    assert_eq!(server.get("/api/v1/namespaces/shop/pods/profile-v1").status, 404);
    assert_gone(&pod, &pids);
}

#[test]
fn a_stored_pod_is_bound_and_run_with_its_init_containers_native_sidecar_and_downward_api() {
    let server = KubeApiServer::start();
    mk_namespace(&server, "shop");
    let kubelet = Kubelet::new(&server);
    // Each listens on exactly the Pod's IP, which it learns from the downward API.
    let pod_ip = json!([{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}]);
    let demo = |name: &str, service: &str, port: u16| {
        let port_text = port.to_string();
        let args = ["demo-app", "--name", service, "--address", "$(POD_IP)", "--port", &port_text];
        let mut container = mk_container(name, MESHCTL_IMAGE, &args, port);
        container["env"] = pod_ip.clone();
        container
    };
    let mut sidecar = demo("sidecar", "sidecar", 15090);
    sidecar["restartPolicy"] = json!("Always");
    // Stored unbound, as a Deployment's Pods are before the scheduler binds them.
    let mut pod = mk_pod("shop", "profile-v3", &[("app", "profile")], vec![demo("app", "profile", 8080)]);
    pod["spec"]["initContainers"] = json!([{"name": "init", "image": "busybox", "command": ["true"]}, sidecar]);
    assert_eq!(
        server.post("/api/v1/namespaces/shop/serviceaccounts", &json!({"metadata": {"name": "default"}})).status,
        201
    );
    assert_eq!(server.post("/api/v1/namespaces/shop/pods", &pod).status, 201);

    let pod = kubelet.take("shop", "profile-v3");

    let stored = server.get("/api/v1/namespaces/shop/pods/profile-v3").json();
    assert_eq!(stored["spec"]["nodeName"], kubelet::NODE_NAME, "{stored}");
    assert_eq!(condition(&stored, "Ready"), Some("True"), "{stored}");
    let init = &stored["status"]["initContainerStatuses"];
    assert_eq!(init[0]["state"]["terminated"]["exitCode"], 0, "{stored}");
    assert!(init[1]["state"]["running"].is_object(), "{stored}");
    assert_eq!(demo_answer(&server, &pod, 8080)["service"], "profile");
    assert_eq!(demo_answer(&server, &pod, 15090)["service"], "sidecar");
    assert_eq!(kubelet.pids(&pod).len(), 2, "the sidecar and the app run; the init container ended");
}

#[test]
fn two_pods_started_in_parallel_get_their_own_addresses_answer_for_themselves_and_leave_nothing() {
    let server = KubeApiServer::start();
    mk_namespace(&server, "shop");
    let kubelet = Kubelet::new(&server);

    let (a, b) = std::thread::scope(|scope| {
        let a = scope.spawn(|| kubelet.run(demo_pod("shop", "board-a", "board-a", "v1")));
        let b = scope.spawn(|| kubelet.run(demo_pod("shop", "board-b", "board-b", "v2")));
        (a.join().unwrap(), b.join().unwrap())
    });

    assert_ne!(a.ip, b.ip);
    assert_ne!(a.netns, b.netns);
    for (pod, service) in [(&a, "board-a"), (&b, "board-b")] {
        let answer = demo_answer(&server, pod, 8080);
        assert_eq!(answer["service"], service, "{} answered through the pod proxy: {answer}", pod.name);
    }
    // Pods reach one another through the host, as through a node.
    let from_a = std::process::Command::new("ip")
        .args(["netns", "exec", &a.netns, "bash", "-c"])
        .arg(format!("exec 3<>/dev/tcp/{}/8080 && printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3 && timeout 5 cat <&3", b.ip))
        .output()
        .unwrap();
    let from_a = String::from_utf8_lossy(&from_a.stdout);
    assert!(from_a.contains(r#""service":"board-b""#), "board-a asked board-b's IP and got: {from_a}");

    let endpoints = mk_service_and_slice(&server, &[&a, &b]);
    assert_eq!(endpoints.len(), 2, "{endpoints:?}");

    let pids: Vec<u32> = [&a, &b].iter().flat_map(|pod| kubelet.pids(pod)).collect();
    assert_eq!(pids.len(), 2, "{pids:?}");
    assert!(netns_list().contains(&a.netns) && netns_list().contains(&b.netns), "{}", netns_list());
    drop(kubelet);
    for pod in [&a, &b] {
        assert_gone(pod, &pids);
    }
}

#[test]
fn envoy_runs_in_a_pods_namespace_in_front_of_the_app_and_is_reached_through_the_pod_proxy() {
    let server = KubeApiServer::start();
    mk_namespace(&server, "shop");
    let kubelet = Kubelet::new(&server);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("envoy.yaml");
    std::fs::write(&config, ENVOY_CONFIG).unwrap();

    // The app listens on the Pod's loopback only: what reaches it came through Envoy, its
    // neighbour in the same network namespace.
    let app = json!({
        "name": "app", "image": MESHCTL_IMAGE,
        "args": ["demo-app", "--name", "profile", "--version", "v2", "--port", "8080"],
    });
    let mut envoy = mk_container(
        "envoy",
        ENVOY_IMAGE,
        &["--disable-hot-restart", "--concurrency", "1", "--log-level", "warning", "-c", config.to_str().unwrap()],
        8000,
    );
    envoy["readinessProbe"] = json!({"httpGet": {"port": 8000, "path": "/"}});
    let pod = kubelet.run(mk_pod("shop", "profile-v2", &[("app", "profile")], vec![app, envoy]));

    let answer = demo_answer(&server, &pod, 8000);
    assert_eq!((answer["service"].as_str(), answer["version"].as_str()), (Some("profile"), Some("v2")), "{answer}");
    let direct = server.get("/api/v1/namespaces/shop/pods/profile-v2:8080/proxy/");
    assert_ne!(direct.status, 200, "the app listens on the Pod's loopback only: {direct:?}");

    // Envoy's statistics on Istio's stats port, as `meshctl top` will read sidecars'.
    let stats = server.get("/api/v1/namespaces/shop/pods/profile-v2:15090/proxy/stats/prometheus");
    assert_eq!(stats.status, 200, "{stats:?}");
    let stats = String::from_utf8_lossy(&stats.body).into_owned();
    let completed = stats
        .lines()
        .find_map(|line| line.strip_prefix(r#"envoy_cluster_upstream_rq_completed{envoy_cluster_name="app"} "#))
        .and_then(|n| n.trim().parse::<u64>().ok());
    assert!(completed.is_some_and(|n| n >= 1), "Envoy counted no request to the app: {completed:?}\n{stats}");
}

/// Envoy on 0.0.0.0:8000 in front of the app on the Pod's 127.0.0.1:8080; its admin on the Pod's
/// loopback, and its Prometheus statistics on 15090, as Istio's sidecars do.
const ENVOY_CONFIG: &str = r#"
admin:
  address: {socket_address: {address: 127.0.0.1, port_value: 15000}}
static_resources:
  listeners:
  - name: inbound
    address: {socket_address: {address: 0.0.0.0, port_value: 8000}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: inbound
          route_config:
            virtual_hosts:
            - {name: app, domains: ["*"], routes: [{match: {prefix: /}, route: {cluster: app}}]}
          http_filters:
          - name: envoy.filters.http.router
            typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
  - name: stats
    address: {socket_address: {address: 0.0.0.0, port_value: 15090}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: stats
          route_config:
            virtual_hosts:
            - {name: stats, domains: ["*"], routes: [{match: {prefix: /stats/prometheus}, route: {cluster: admin}}]}
          http_filters:
          - name: envoy.filters.http.router
            typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
  clusters:
  - name: app
    connect_timeout: 1s
    load_assignment:
      cluster_name: app
      endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: 8080}}}}]}]
  - name: admin
    connect_timeout: 1s
    load_assignment:
      cluster_name: admin
      endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: 15000}}}}]}]
"#;

/// A Pod running `meshctl demo-app` as `service` `version` on the Pod's 8080, labelled
/// `app: board` so one Service selects the tests' Pods.
fn demo_pod(namespace: &str, name: &str, service: &str, version: &str) -> Value {
    let args = ["demo-app", "--name", service, "--version", version, "--address", "0.0.0.0", "--port", "8080"];
    mk_pod(namespace, name, &[("app", "board")], vec![mk_container("app", MESHCTL_IMAGE, &args, 8080)])
}

/// What the demo app in `pod` answers on `port`, fetched through the API server's pod proxy.
fn demo_answer(server: &KubeApiServer, pod: &RunningPod, port: u16) -> Value {
    let answer = server.get(&format!("/api/v1/namespaces/{}/pods/{}:{port}/proxy/", pod.namespace, pod.name));
    assert_eq!(answer.status, 200, "{} through the pod proxy: {answer:?}", pod.name);
    answer.json()
}

/// Service `board` selecting `pods`, and its EndpointSlice; returns the slice's endpoints'
/// (address, ready) after checking what the controller-manager would have labelled and named.
fn mk_service_and_slice(server: &KubeApiServer, pods: &[&RunningPod]) -> Vec<(String, bool)> {
    let service = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "board", "namespace": "shop"},
        // A named target port: the slice holds the Pods' number for it.
        "spec": {"selector": {"app": "board"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
    });
    assert_eq!(server.post("/api/v1/namespaces/shop/services", &service).status, 201);
    let slice = kubelet::sync_endpoint_slice(server, "shop", "board");
    assert_eq!(slice["metadata"]["labels"]["kubernetes.io/service-name"], "board", "{slice}");
    assert_eq!(
        slice["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"], "endpointslice-controller.k8s.io",
        "{slice}"
    );
    let mut endpoints: Vec<(String, bool)> = slice["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["addresses"][0].as_str().unwrap().to_string(), e["conditions"]["ready"].as_bool().unwrap()))
        .collect();
    endpoints.sort();
    let mut expected: Vec<(String, bool)> = pods.iter().map(|p| (p.ip.to_string(), true)).collect();
    expected.sort();
    assert_eq!(endpoints, expected, "{slice}");
    assert_eq!(slice["ports"], json!([{"name": "http", "port": 8080, "protocol": "TCP"}]), "{slice}");
    endpoints
}

fn mk_namespace(server: &KubeApiServer, name: &str) {
    let created = server.post("/api/v1/namespaces", &json!({"metadata": {"name": name}}));
    assert_eq!(created.status, 201, "{}", created.json());
}

/// The status of a Pod's condition of this type, if it has one.
fn condition<'a>(pod: &'a Value, kind: &str) -> Option<&'a str> {
    pod["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == kind)?["status"].as_str()
}

fn netns_list() -> String {
    let output = std::process::Command::new("ip").args(["netns", "list"]).output().unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// No namespace, link or process of `pod` is left; the kernel may take a moment with the link.
fn assert_gone(pod: &RunningPod, pids: &[u32]) {
    let listed = netns_list();
    assert!(
        !listed.lines().any(|line| line.split_whitespace().next() == Some(&pod.netns)),
        "{} left: {listed}",
        pod.netns
    );
    common::poll(&format!("link {} is gone", pod.netns), Duration::from_secs(10), || {
        !std::process::Command::new("ip").args(["link", "show", &pod.netns]).output().unwrap().status.success()
    });
    for pid in pids {
        assert!(!meshctl::runtime::process::alive(*pid), "process {pid} of {} still runs", pod.name);
    }
}
