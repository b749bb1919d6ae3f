//! Sidecar injection: what the admission webhook and `meshctl inject` do to a Pod template.
//! Pure, on the objects' JSON, so fields this build does not know pass through untouched and
//! both callers make the same Pod of the same template.
//!
//! ```text
//!   initContainers: meshctl-init (capture rules, root with NET_ADMIN + NET_RAW, then exits)
//!                   meshctl-proxy (Envoy, native sidecar: restartPolicy Always, UID 1337)
//!                   ...the Pod's own init containers, which so run in the mesh
//!   containers:     unchanged, but HTTP probes go to the proxy's port 15021
//!   volumes:        meshctl-token (projected ServiceAccount token, meshctl's audience; kube::identity)
//! ```
//!
//! The proxy's bootstrap is on its command line (`--config-yaml`): a Pod needs no ConfigMap
//! in its namespace, and the Pod's spec says everything the proxy starts with.

use serde_json::{Map, Value, json};

use super::identity::{self, TOKEN_VOLUME};
use super::install::{self, STATS_PORT, Settings};
use super::ports::{INBOUND_PORT, OUTBOUND_PORT};
use super::registry::PROXY_CONTAINER;
use super::roots;
use crate::translate;

/// The init container that sets up traffic capture in the Pod's network namespace.
pub const INIT_CONTAINER: &str = "meshctl-init";
/// Where the kubelet serves the proxy's readiness and the rewritten application probes.
pub const HEALTH_PORT: u16 = 15021;
/// Envoy's user, as Istio's: capture leaves this user's own connections alone.
pub const PROXY_UID: i64 = 1337;

/// Set on an injected Pod: what injection added, so injecting again changes nothing.
pub const STATUS_ANNOTATION: &str = "sidecar.meshctl.io/status";
/// `"false"` on a Pod (annotation or label) keeps it out of the mesh. Istio's own key is
/// honoured too, so Istio users' manifests mean what they meant.
pub const INJECT_KEYS: [&str; 2] = ["sidecar.meshctl.io/inject", "sidecar.istio.io/inject"];
/// Ports (comma-separated) whose inbound traffic is not captured.
pub const EXCLUDE_INBOUND_PORTS: &str = "traffic.sidecar.meshctl.io/excludeInboundPorts";
/// Ports (comma-separated) whose outbound traffic is not captured.
pub const EXCLUDE_OUTBOUND_PORTS: &str = "traffic.sidecar.meshctl.io/excludeOutboundPorts";
/// Address ranges (comma-separated CIDRs) whose outbound traffic is not captured.
pub const EXCLUDE_OUTBOUND_RANGES: &str = "traffic.sidecar.meshctl.io/excludeOutboundIPRanges";

/// The proxy's resources: the annotation that overrides each, and its default.
const RESOURCES: [(&str, &str, &str, &str); 4] = [
    ("sidecar.meshctl.io/proxyCPU", "requests", "cpu", "100m"),
    ("sidecar.meshctl.io/proxyMemory", "requests", "memory", "128Mi"),
    ("sidecar.meshctl.io/proxyCPULimit", "limits", "cpu", ""),
    ("sidecar.meshctl.io/proxyMemoryLimit", "limits", "memory", "1Gi"),
];

/// What injection did to one Pod template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Injected,
    /// It has a proxy already (injected before, or written by hand): left as it is.
    AlreadyInjected,
    /// Its annotation or label says no.
    OptedOut,
    /// It shares the node's network: capture would take the node's traffic. Left as it is.
    HostNetwork,
}

/// Why a template cannot be injected; `path` is where in the object (JSON keys).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", path.join("."))]
pub struct Error {
    pub path: Vec<String>,
    pub message: String,
}

/// Injects the Pod template of `object` (a Pod, or a workload that has one: Deployment,
/// StatefulSet, DaemonSet, ReplicaSet, Job, CronJob). `None` for any other kind, which passes
/// through unchanged.
pub fn inject_object(object: &mut Value, settings: &Settings) -> Option<Result<Outcome, Error>> {
    let path: &[&str] = match object["kind"].as_str()? {
        "Pod" => &[],
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => &["spec", "template"],
        "CronJob" => &["spec", "jobTemplate", "spec", "template"],
        _ => return None,
    };
    let prefix: Vec<String> = path.iter().map(|k| k.to_string()).collect();
    let mut template = Some(&mut *object);
    for key in path {
        template = template.and_then(|t| t.get_mut(*key));
    }
    let Some(template) = template.filter(|t| t.is_object()) else {
        return Some(Err(Error { path: prefix, message: "a workload needs a Pod template here".into() }));
    };
    Some(inject_template(template, settings).map_err(|mut e| {
        e.path.splice(0..0, prefix);
        e
    }))
}

/// Injects a Pod (or a Pod template): `metadata` and `spec`.
pub fn inject_template(pod: &mut Value, settings: &Settings) -> Result<Outcome, Error> {
    if !pod["spec"].is_object() {
        return Err(Error { path: vec!["spec".into()], message: "a Pod template needs a spec".into() });
    }
    let annotations = string_map(&pod["metadata"]["annotations"]);
    let labels = string_map(&pod["metadata"]["labels"]);
    if INJECT_KEYS.iter().any(|k| labels.get(*k).or(annotations.get(*k)).is_some_and(|v| v == "false")) {
        return Ok(Outcome::OptedOut);
    }
    if pod["spec"]["hostNetwork"] == true {
        return Ok(Outcome::HostNetwork);
    }
    let spec = &pod["spec"];
    let has_proxy = ["containers", "initContainers"]
        .iter()
        .flat_map(|list| spec[*list].as_array().into_iter().flatten())
        .any(|c| c["name"] == PROXY_CONTAINER);
    if annotations.contains_key(STATUS_ANNOTATION) || has_proxy {
        return Ok(Outcome::AlreadyInjected);
    }

    // Everything that can fail is done on a copy: a refused template is left untouched.
    let resources = proxy_resources(&annotations, &settings.proxy_cpu)?;
    let capture = capture_args(&annotations)?;
    let mut injected = pod.clone();
    let probes = rewrite_probes(&mut injected["spec"])?;

    let spec = &mut injected["spec"];
    let init = json!({
        "name": INIT_CONTAINER,
        "image": settings.image,
        "args": capture,
        "securityContext": {
            // iptables needs the capabilities as effective ones, which only root gets from
            // the bounding set; the container exits before the application starts.
            "runAsUser": 0,
            "runAsGroup": 0,
            "runAsNonRoot": false,
            "allowPrivilegeEscalation": false,
            "readOnlyRootFilesystem": false,
            "capabilities": { "add": ["NET_ADMIN", "NET_RAW"], "drop": ["ALL"] },
        },
        "resources": { "requests": { "cpu": "10m", "memory": "16Mi" }, "limits": { "memory": "64Mi" } },
    });
    let proxy = proxy_container(settings, &probes, resources);
    let own_init = spec["initContainers"].as_array().cloned().unwrap_or_default();
    spec["initContainers"] = Value::Array([init, proxy].into_iter().chain(own_init).collect());
    let mut volumes = spec["volumes"].as_array().cloned().unwrap_or_default();
    volumes.push(identity::volume());
    volumes.push(roots::volume());
    spec["volumes"] = Value::Array(volumes);

    let first_container = spec["containers"][0]["name"].clone();
    let annotations = object_at(object_at(&mut injected, "metadata"), "annotations");
    if let Value::String(name) = first_container {
        // `kubectl logs` and `exec` pick the application, not the proxy.
        if annotations.get("kubectl.kubernetes.io/default-container").is_none() {
            annotations["kubectl.kubernetes.io/default-container"] = Value::String(name);
        }
    }
    let status =
        json!({ "initContainers": [INIT_CONTAINER, PROXY_CONTAINER], "volumes": [TOKEN_VOLUME, roots::CONFIGMAP] });
    annotations[STATUS_ANNOTATION] = Value::String(status.to_string());
    annotations[identity::CREDENTIAL_ANNOTATION] = Value::String(identity::credential_sds());
    *pod = injected;
    Ok(Outcome::Injected)
}

fn string_map(value: &Value) -> std::collections::BTreeMap<String, String> {
    value.as_object().into_iter().flatten().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect()
}

/// The object under `key`, made when missing or null.
fn object_at<'v>(value: &'v mut Value, key: &str) -> &'v mut Value {
    let slot = &mut value[key];
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot
}

fn annotation_error(key: &str, message: String) -> Error {
    Error { path: vec!["metadata".into(), "annotations".into(), key.into()], message }
}

/// The proxy's resources: each annotation's, else its default (the CPU request's is the
/// install's, `cpu`).
fn proxy_resources(annotations: &std::collections::BTreeMap<String, String>, cpu: &str) -> Result<Value, Error> {
    let mut resources = json!({ "requests": {}, "limits": {} });
    for (key, class, resource, default) in RESOURCES {
        let default = if (class, resource) == ("requests", "cpu") { cpu } else { default };
        let value = annotations.get(key).map(String::as_str).unwrap_or(default);
        if value.is_empty() {
            continue;
        }
        if !is_quantity(value) {
            return Err(annotation_error(
                key,
                format!("{value:?} is not a Kubernetes quantity; write one such as \"{default}\" or \"500m\""),
            ));
        }
        resources[class][resource] = json!(value);
    }
    Ok(resources)
}

/// Kubernetes' quantity syntax: a decimal number, then a binary or decimal suffix or an
/// exponent.
pub fn is_quantity(text: &str) -> bool {
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    let digits_end = unsigned.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(unsigned.len());
    let (number, suffix) = unsigned.split_at(digits_end);
    let number_ok = !number.is_empty() && number != "." && number.matches('.').count() <= 1;
    let exponent = suffix
        .strip_prefix(['e', 'E'])
        .map(|e| e.strip_prefix(['+', '-']).unwrap_or(e))
        .is_some_and(|e| !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()));
    number_ok
        && (exponent || ["", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"].contains(&suffix))
}

/// `meshctl capture`'s arguments for the Pod: Istio's well-known ports, and the exclusions
/// its annotations ask for, checked here so that a bad one refuses the Pod instead of failing
/// its init container.
fn capture_args(annotations: &std::collections::BTreeMap<String, String>) -> Result<Vec<String>, Error> {
    let mut args = vec![
        "capture".to_string(),
        format!("--outbound-port={OUTBOUND_PORT}"),
        format!("--inbound-port={INBOUND_PORT}"),
        format!("--proxy-uid={PROXY_UID}"),
    ];
    let mut inbound = vec![STATS_PORT.to_string(), HEALTH_PORT.to_string()];
    if let Some(ports) = annotations.get(EXCLUDE_INBOUND_PORTS) {
        inbound.extend(list(EXCLUDE_INBOUND_PORTS, ports, |p| p.parse::<u16>().is_ok_and(|p| p > 0), "ports")?);
    }
    args.push(format!("--exclude-inbound-ports={}", inbound.join(",")));
    if let Some(ports) = annotations.get(EXCLUDE_OUTBOUND_PORTS) {
        let ports = list(EXCLUDE_OUTBOUND_PORTS, ports, |p| p.parse::<u16>().is_ok_and(|p| p > 0), "ports")?;
        args.push(format!("--exclude-outbound-ports={}", ports.join(",")));
    }
    if let Some(ranges) = annotations.get(EXCLUDE_OUTBOUND_RANGES) {
        let ranges = list(EXCLUDE_OUTBOUND_RANGES, ranges, |r| super::capture::Cidr::parse(r).is_some(), "CIDRs")?;
        args.push(format!("--exclude-outbound-ranges={}", ranges.join(",")));
    }
    Ok(args)
}

/// The items of a comma-separated annotation, each checked.
fn list(key: &str, text: &str, valid: impl Fn(&str) -> bool, what: &str) -> Result<Vec<String>, Error> {
    let items: Vec<String> = text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect();
    match items.iter().find(|item| !valid(item)) {
        Some(bad) => Err(annotation_error(key, format!("{bad:?} is not valid here; it takes {what}, comma-separated"))),
        None => Ok(items),
    }
}

/// An application's HTTP probe, which the proxy answers on [`HEALTH_PORT`] at `path` by
/// asking the application at `port` for `target`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppProbe {
    pub path: String,
    pub port: u16,
    pub target: String,
    pub https: bool,
}

/// Points every HTTP probe of the application's containers at the proxy's health port, and
/// returns what the proxy must answer there. The kubelet probes from outside the Pod: under
/// STRICT mTLS, capture would hand its plaintext request to the proxy's inbound listener,
/// which refuses it. TCP and gRPC probes are left as they are (docs/kubernetes.md says why).
fn rewrite_probes(spec: &mut Value) -> Result<Vec<AppProbe>, Error> {
    let mut probes = Vec::new();
    for (index, container) in spec["containers"].as_array_mut().into_iter().flatten().enumerate() {
        let name = container["name"].as_str().unwrap_or_default().to_string();
        let ports = container["ports"].clone();
        for (kind, suffix) in [("livenessProbe", "livez"), ("readinessProbe", "readyz"), ("startupProbe", "startupz")] {
            let Some(get) = container.get_mut(kind).and_then(|p| p.get_mut("httpGet")).filter(|g| g.is_object()) else {
                continue;
            };
            let at = || vec!["spec".into(), "containers".into(), index.to_string(), kind.into(), "httpGet".into()];
            let port = match &get["port"] {
                Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
                Value::String(port_name) => ports
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|p| p["name"] == port_name.as_str())
                    .and_then(|p| p["containerPort"].as_u64())
                    .and_then(|n| u16::try_from(n).ok()),
                _ => None,
            };
            let Some(port) = port.filter(|p| *p > 0) else {
                let mut path = at();
                path.push("port".into());
                return Err(Error {
                    path,
                    message: format!("{} is neither a port number nor a port the container names", get["port"]),
                });
            };
            let probe = AppProbe {
                path: format!("/app-health/{name}/{suffix}"),
                port,
                target: get["path"].as_str().filter(|p| !p.is_empty()).unwrap_or("/").to_string(),
                https: get["scheme"] == "HTTPS",
            };
            get["path"] = json!(probe.path);
            get["port"] = json!(HEALTH_PORT);
            get["scheme"] = json!("HTTP");
            probes.push(probe);
        }
    }
    Ok(probes)
}

fn proxy_container(settings: &Settings, probes: &[AppProbe], resources: Value) -> Value {
    let bootstrap = sidecar_bootstrap_json(settings, probes);
    let ready = json!({ "httpGet": { "path": READY_PATH, "port": HEALTH_PORT } });
    let mut startup = ready.clone();
    // The application starts once the proxy is configured (the kubelet waits for a native
    // sidecar's startup probe), so its first calls already go through the mesh.
    startup["periodSeconds"] = json!(1);
    startup["failureThreshold"] = json!(600);
    json!({
        "name": PROXY_CONTAINER,
        "image": settings.envoy_image,
        "command": ["envoy"],
        // Envoy's default is a worker per node CPU; a sidecar beside one application needs two.
        "args": translate::envoy_args(
            &["--config-yaml", &bootstrap.to_string(), "--concurrency", "2"],
            install::POD_NODE,
            "$(POD_NAMESPACE)",
        ),
        "restartPolicy": "Always",
        "env": install::downward_env(),
        "ports": [{ "name": "http-envoy-prom", "containerPort": STATS_PORT, "protocol": "TCP" }],
        "startupProbe": startup,
        "readinessProbe": ready,
        "resources": resources,
        "securityContext": {
            "runAsUser": PROXY_UID,
            "runAsGroup": PROXY_UID,
            "runAsNonRoot": true,
            "allowPrivilegeEscalation": false,
            "readOnlyRootFilesystem": true,
            "capabilities": { "drop": ["ALL"] },
        },
        "volumeMounts": [identity::mount(), roots::mount()],
    })
}

/// The proxy's own readiness on [`HEALTH_PORT`]: Envoy's `/ready`, live once the controller
/// configured it.
pub const READY_PATH: &str = "/healthz/ready";

/// A sidecar's bootstrap: a cluster proxy's (`install::proxy_bootstrap_json`), plus a listener
/// on [`HEALTH_PORT`] for its readiness and the application's rewritten probes.
pub fn sidecar_bootstrap_json(settings: &Settings, probes: &[AppProbe]) -> Value {
    let mut bootstrap = install::proxy_bootstrap_json(&install::controller_host(settings));
    let mut routes = vec![json!({
        "match": { "path": READY_PATH },
        "route": { "cluster": "admin", "prefix_rewrite": "/ready" },
    })];
    let mut clusters = Vec::new();
    for probe in probes {
        let cluster = format!("app-health-{}", probe.port);
        routes.push(json!({
            "match": { "path": probe.path },
            "route": { "cluster": cluster, "prefix_rewrite": probe.target },
        }));
        if clusters.iter().any(|c: &Value| c["name"] == cluster) {
            continue;
        }
        let mut app = translate::static_cluster(&cluster, "127.0.0.1", probe.port);
        if probe.https {
            // As the kubelet, which does not verify an application's certificate either.
            app["transport_socket"] = json!({
                "name": "envoy.transport_sockets.tls",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
                },
            });
        }
        clusters.push(app);
    }
    let health = translate::static_http_listener("health", HEALTH_PORT, routes);
    bootstrap["static_resources"]["listeners"].as_array_mut().expect("the bootstrap has listeners").push(health);
    bootstrap["static_resources"]["clusters"].as_array_mut().expect("the bootstrap has clusters").extend(clusters);
    bootstrap
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kube::install::{DEFAULT_ENVOY_IMAGE, GatewayService};

    fn settings() -> Settings {
        Settings::new("example.test/meshctl:dev".into(), DEFAULT_ENVOY_IMAGE.into(), GatewayService::ClusterIP)
    }

    fn pod() -> Value {
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": { "name": "p", "namespace": "shop", "labels": { "app": "profile" } },
            "spec": {
                "initContainers": [{ "name": "migrate", "image": "m" }],
                "containers": [{
                    "name": "app", "image": "a",
                    "ports": [{ "name": "http", "containerPort": 8080 }],
                    "readinessProbe": { "httpGet": { "path": "/healthz", "port": "http" } },
                    "livenessProbe": { "tcpSocket": { "port": 8080 } },
                }],
            },
        })
    }

    fn names(list: &Value) -> Vec<&str> {
        list.as_array().into_iter().flatten().map(|c| c["name"].as_str().unwrap()).collect()
    }

    #[test]
    fn the_proxy_starts_after_capture_and_before_the_pods_own_init_containers() {
        let mut pod = pod();
        assert_eq!(inject_object(&mut pod, &settings()), Some(Ok(Outcome::Injected)));
        assert_eq!(names(&pod["spec"]["initContainers"]), [INIT_CONTAINER, PROXY_CONTAINER, "migrate"]);
        let proxy = &pod["spec"]["initContainers"][1];
        assert_eq!(proxy["restartPolicy"], "Always");
        assert_eq!(proxy["securityContext"]["runAsUser"], PROXY_UID);
        assert_eq!(names(&pod["spec"]["volumes"]), [TOKEN_VOLUME, super::roots::CONFIGMAP]);
        assert_eq!(pod["metadata"]["annotations"]["kubectl.kubernetes.io/default-container"], "app");
        // The named port is resolved; the TCP probe is left alone.
        let app = &pod["spec"]["containers"][0];
        assert_eq!(
            app["readinessProbe"]["httpGet"],
            json!({ "path": "/app-health/app/readyz", "port": HEALTH_PORT, "scheme": "HTTP" })
        );
        assert_eq!(app["livenessProbe"], json!({ "tcpSocket": { "port": 8080 } }));
        assert!(app.get("startupProbe").is_none());
        let args = proxy["args"].as_array().unwrap();
        let bootstrap: Value = serde_json::from_str(args[1].as_str().unwrap()).unwrap();
        let health = &bootstrap["static_resources"]["listeners"][1];
        let routes =
            &health["filter_chains"][0]["filters"][0]["typed_config"]["route_config"]["virtual_hosts"][0]["routes"];
        assert_eq!(routes[1]["match"]["path"], "/app-health/app/readyz");
        assert_eq!(routes[1]["route"]["prefix_rewrite"], "/healthz");
    }

    #[test]
    fn injecting_twice_is_injecting_once() {
        let mut once = pod();
        inject_template(&mut once, &settings()).unwrap();
        let mut twice = once.clone();
        assert_eq!(inject_template(&mut twice, &settings()), Ok(Outcome::AlreadyInjected));
        assert_eq!(once, twice);
    }

    #[test]
    fn a_pod_that_says_no_or_shares_the_nodes_network_is_left_alone() {
        for (place, key) in [("annotations", INJECT_KEYS[0]), ("labels", INJECT_KEYS[1])] {
            let mut pod = pod();
            pod["metadata"][place][key] = json!("false");
            let before = pod.clone();
            assert_eq!(inject_template(&mut pod, &settings()), Ok(Outcome::OptedOut));
            assert_eq!(pod, before);
        }
        let mut pod = pod();
        pod["spec"]["hostNetwork"] = json!(true);
        assert_eq!(inject_template(&mut pod, &settings()), Ok(Outcome::HostNetwork));
    }

    #[test]
    fn a_bad_annotation_or_probe_refuses_the_pod_and_says_where() {
        let mut pod = pod();
        pod["metadata"]["annotations"] = json!({ "sidecar.meshctl.io/proxyMemory": "lots" });
        let before = pod.clone();
        let error = inject_template(&mut pod, &settings()).unwrap_err();
        assert_eq!(error.path, ["metadata", "annotations", "sidecar.meshctl.io/proxyMemory"]);
        assert!(error.message.contains("\"lots\" is not a Kubernetes quantity"), "{error}");
        assert_eq!(pod, before);

        let mut deployment = json!({ "kind": "Deployment", "spec": { "template": pod.clone() } });
        deployment["spec"]["template"]["metadata"]["annotations"] = json!({});
        deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["port"] = json!("web");
        let error = inject_object(&mut deployment, &settings()).unwrap().unwrap_err();
        assert_eq!(error.path.join("."), "spec.template.spec.containers.0.readinessProbe.httpGet.port");

        let mut ranges = pod.clone();
        ranges["metadata"]["annotations"] = json!({ EXCLUDE_OUTBOUND_RANGES: "10.0.0.0/8, 300.1.1.1" });
        assert!(inject_template(&mut ranges, &settings()).unwrap_err().message.contains("\"300.1.1.1\""));
    }

    #[test]
    fn workloads_are_injected_in_their_pod_template_and_other_kinds_pass() {
        let mut cron = json!({ "kind": "CronJob", "spec": { "jobTemplate": { "spec": { "template": pod() } } } });
        assert_eq!(inject_object(&mut cron, &settings()), Some(Ok(Outcome::Injected)));
        assert_eq!(
            cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["initContainers"][0]["name"],
            INIT_CONTAINER
        );
        let mut service = json!({ "kind": "Service", "spec": {} });
        assert_eq!(inject_object(&mut service, &settings()), None);
        let mut hollow = json!({ "kind": "Deployment", "spec": {} });
        assert_eq!(inject_object(&mut hollow, &settings()).unwrap().unwrap_err().path, ["spec", "template"]);
        assert_eq!(hollow, json!({ "kind": "Deployment", "spec": {} }));
    }

    #[test]
    fn quantities_are_read_as_kubernetes_reads_them() {
        for good in ["100m", "1Gi", "0.5", "2", "1e3", "128974848", "+1.5M"] {
            assert!(is_quantity(good), "{good}");
        }
        for bad in ["", "lots", "1GB", "1..5", "m", "1e", "Mi"] {
            assert!(!is_quantity(bad), "{bad}");
        }
    }
}
