//! The Gateway API on the node: an HTTPRoute attached to a Service (GAMMA) splits the
//! Service's traffic between two Services, and a route meshctl would refuse is refused to
//! kubectl too; a Gateway of meshctl's class gets a proxy of its own that serves its routes by
//! hostname, over HTTP and HTTPS; and the upstream conformance suite passes.

use serde_json::{Value, json};

use super::DEADLINE;
use super::common::node::{self, demo_deployment};

/// The Service `profile-VERSION` of profile's Pods of that version.
pub(super) fn version_service(ns: &str, version: &str) -> Value {
    service(ns, &format!("profile-{version}"), &[("version", version)])
}

/// A Service named `name` of the demo app's Pods that carry `selector` besides `app: profile`.
fn service(ns: &str, name: &str, selector: &[(&str, &str)]) -> Value {
    let mut labels = json!({ "app": "profile" });
    for (key, value) in selector {
        labels[key] = json!(value);
    }
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": { "name": name, "namespace": ns },
        "spec": { "selector": labels, "ports": [{ "name": "http", "port": 80, "targetPort": 8080 }] },
    })
}

/// profile's mesh route: `v1`/`v2` of its traffic to the Services profile-v1 and profile-v2.
pub(super) fn mesh_route(ns: &str, v1: u32, v2: u32) -> Value {
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": { "name": "profile", "namespace": ns },
        "spec": {
            "parentRefs": [{ "group": "", "kind": "Service", "name": "profile", "port": 80 }],
            "rules": [{ "backendRefs": [
                { "name": "profile-v1", "port": 80, "weight": v1 },
                { "name": "profile-v2", "port": 80, "weight": v2 },
            ]}],
        },
    })
}

#[test]
fn an_httproute_attached_to_a_service_splits_its_traffic_between_two_services() {
    let mesh = node::mesh();
    let (node, _turn) = (mesh.node, mesh.share());
    let ns = "gamma";
    let _namespace = node.namespace(ns, &["meshctl.io/inject=enabled"]);
    let objects = [
        service(ns, "profile", &[]),
        version_service(ns, "v1"),
        version_service(ns, "v2"),
        demo_deployment(ns, "profile", &[("version", "v1")], &["--version", "v1"]),
        demo_deployment(ns, "profile", &[("version", "v2")], &["--version", "v2"]),
        mesh_route(ns, 90, 10),
    ];
    node.apply(&objects.iter().map(Value::to_string).collect::<Vec<_>>().join("\n---\n"));
    node.wait(ns, "deployment", "condition=Available", DEADLINE);
    let (gateway, host) = (node.gateway(), format!("profile.{ns}.svc.cluster.local"));
    // Until every proxy runs the route, requests go to both versions evenly.
    let routed = super::common::within(DEADLINE, || {
        let (v1, _, failed) = super::mesh::send(gateway, &host, 40);
        failed == 0 && v1 >= 32
    });
    assert!(routed, "the route never took effect");

    // Each request is a draw with p = 0.9: 1,000 of them land within 3.5 points of 90% but
    // about once in three thousand runs (3.7 standard deviations).
    let (v1, v2, failed) = super::mesh::send(gateway, &host, 1000);
    assert_eq!(failed, 0, "every request is answered");
    let share = v1 as f64 / 10.0;
    assert!((86.5..=93.5).contains(&share), "v1 took {share:.1}% of 1,000 requests (v2 {v2})");
    println!("an HTTPRoute's 90/10 split: v1 {v1}, v2 {v2} of 1,000");

    let table = node.kubectl_ok(&["-n", ns, "get", "httproutes"]);
    assert!(table.contains("profile"), "{table}");
    let conditions = || {
        let route = node.kubectl_ok(&["-n", ns, "get", "httproute", "profile", "-o", "json"]);
        let route: Value = serde_json::from_str(&route).unwrap();
        route["status"]["parents"][0]["conditions"].clone()
    };
    let resolved = |reason: &str| conditions().as_array().into_iter().flatten().any(|c| c["reason"] == reason);
    super::common::poll("the route is Accepted, its backends resolved", DEADLINE, || resolved("ResolvedRefs"));

    // A backend Service deleted from under the route: its status says so, as analyze does.
    node.kubectl_ok(&["-n", ns, "delete", "service", "profile-v2"]);
    super::common::poll("the route says its backend is gone", DEADLINE, || resolved("BackendNotFound"));
    let yaml = node.kubectl_ok(&["-n", ns, "get", "httproute", "profile", "-o", "yaml"]);
    assert!(yaml.contains("reason: BackendNotFound") && yaml.contains("no Service profile-v2.gamma.svc"), "{yaml}");
    assert!(yaml.contains(meshctl::api::gateway::MESH_CONTROLLER), "{yaml}");
    let kubeconfig = node.kubeconfig();
    let analyze = super::common::meshctl(&["analyze", "-n", ns, "--kubeconfig", kubeconfig.to_str().unwrap()]);
    assert!(
        analyze.stdout.contains("MESH0505") && analyze.stdout.contains("BackendNotFound"),
        "{}{}",
        analyze.stdout,
        analyze.stderr
    );
    // Other tests' `meshctl check` must not meet this route's failing status.
    node.kubectl_ok(&["-n", ns, "delete", "httproute", "profile"]);
    // A route the webhook refuses is refused to kubectl, with meshctl's finding.
    let mut bad = mesh_route(ns, 50, 50);
    bad["metadata"]["name"] = json!("bad");
    bad["spec"]["rules"][0]["matches"] = json!([{ "path": { "type": "RegularExpression", "value": "/a(b" } }]);
    let run = node.kubectl_with_input(&["apply", "-f", "-"], &bad.to_string());
    assert!(run.code != 0 && run.stderr.contains("MESH0207"), "{}{}", run.stdout, run.stderr);
}

/// Where `scripts/gateway-conformance-tools` keeps the suite and its images (building them
/// the first time; CI builds them before the tests).
fn conformance_tools() -> std::path::PathBuf {
    let output = std::process::Command::new("bash")
        .arg(super::common::root().join("scripts/gateway-conformance-tools"))
        .output()
        .expect("scripts/gateway-conformance-tools runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let said = String::from_utf8_lossy(&output.stdout);
    let dir = said.lines().find_map(|l| l.strip_prefix("gateway-conformance-tools: ")).expect("the tools' directory");
    dir.into()
}

/// The features meshctl claims: the MESH-HTTP and GATEWAY-HTTP profiles' core ones, and the
/// extended ones it supports.
const FEATURES: &str = "Mesh,HTTPRoute,MeshHTTPRouteQueryParamMatching,MeshHTTPRouteNamedRouteRule,\
                        MeshHTTPRouteBackendRequestHeaderModification,MeshHTTPRouteRewritePath,\
                        MeshHTTPRouteRedirectPath,MeshHTTPRouteRedirectPort,MeshHTTPRouteSchemeRedirect,\
                        Gateway,ReferenceGrant,HTTPRouteQueryParamMatching,HTTPRouteMethodMatching,\
                        HTTPRouteResponseHeaderModification,HTTPRoutePortRedirect,HTTPRouteSchemeRedirect,\
                        HTTPRoutePathRedirect,HTTPRouteHostRewrite,HTTPRoutePathRewrite,HTTPRouteRequestMirror,\
                        HTTPRouteRequestTimeout,HTTPRouteBackendTimeout,HTTPRouteBackendRequestHeaderModification,\
                        HTTPRoute303RedirectStatusCode,HTTPRoute307RedirectStatusCode,\
                        HTTPRoute308RedirectStatusCode,HTTPRouteNamedRouteRule,GatewayHTTPListenerIsolation";

/// The tests skipped, each for a reason `conformance/README.md` gives.
const SKIPPED: &str = "";

/// The report the last reviewed run wrote, kept in the tree and summarised in the README.
const REPORT: &str = "conformance/report.yaml";

/// A report's profiles, which say what passed, by name (the suite lists them in no fixed
/// order): what is compared between runs (its date and meshctl's version are not).
fn profiles(report: &str) -> Vec<Value> {
    let (documents, error) = meshctl::api::yaml::parse(report);
    assert!(error.is_none(), "{error:?}\n{report}");
    let report = documents[0].root.as_ref().map(|r| r.to_json()).unwrap_or_default();
    let mut profiles = report["profiles"].as_array().cloned().unwrap_or_default();
    profiles.sort_by_key(|p| p["name"].as_str().unwrap_or_default().to_string());
    profiles
}

/// The Gateway API's own conformance suite, v1.6.3, against the mesh as `meshctl install` made
/// it: the MESH-HTTP profile, whose requests go from a meshed echo Pod's client through its
/// sidecar, and the GATEWAY-HTTP profile, whose requests go from the host to the addresses of
/// Gateways of class `meshctl`. The suite's report must say what the committed one says: a
/// test that passed before and fails now fails this test.
#[test]
fn the_gateway_api_conformance_suite_passes_the_mesh_and_gateway_profiles() {
    let mesh = node::mesh();
    let (node, _alone) = (mesh.node, mesh.alone());
    let tools = conformance_tools();
    for archive in std::fs::read_dir(tools.join("images")).unwrap() {
        node.import_image(&archive.unwrap().path());
    }
    let work = tempfile::tempdir().unwrap();
    let report = work.path().join("report.yaml");
    let mut suite = std::process::Command::new(tools.join("conformance.test"));
    suite
        .current_dir(work.path())
        .args(["-test.run", "^TestConformance$", "-test.v", "-test.timeout", "40m"])
        .arg("-kubeconfig")
        .arg(node.kubeconfig())
        .args(["-gateway-class", meshctl::api::gateway::GATEWAY_CLASS])
        .args(["-conformance-profiles", "MESH-HTTP,GATEWAY-HTTP", "-supported-features", FEATURES])
        .args(["-namespace-labels", "meshctl.io/inject=enabled"])
        .args(["-organization", "meshctl", "-project", "meshctl", "-url", "https://meshctl.invalid/"])
        .args(["-version", env!("CARGO_PKG_VERSION"), "-contact", "the meshctl team"])
        .arg("-report-output")
        .arg(&report);
    if !SKIPPED.is_empty() {
        suite.args(["-skip-tests", SKIPPED]);
    }
    let output = suite.output().expect("the conformance suite runs");
    let log = String::from_utf8_lossy(&output.stdout);
    let failed: Vec<&str> = log.lines().filter(|l| l.trim_start().starts_with("--- FAIL")).collect();
    let written = std::fs::read_to_string(&report).unwrap_or_else(|e| {
        panic!("no report ({e}); the suite said:\n{log}\n{}", String::from_utf8_lossy(&output.stderr))
    });
    println!("{written}");
    if let Some(path) = std::env::var_os("CONFORMANCE_LOG") {
        std::fs::write(path, log.as_bytes()).unwrap();
    }
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(super::common::root().join(REPORT), &written).unwrap();
    }
    let kept = std::fs::read_to_string(super::common::root().join(REPORT)).unwrap();
    if !failed.is_empty() || !output.status.success() {
        for args in [&["get", "pods", "-A", "-o", "wide"][..], &["get", "gateways", "-A"], &["get", "events", "-A"]] {
            let run = node.kubectl(args);
            println!("kubectl {}\n{}{}", args.join(" "), run.stdout, run.stderr);
        }
    }
    assert!(failed.is_empty() && output.status.success(), "the suite failed: {failed:#?}\n{log}");
    assert_eq!(
        profiles(&written),
        profiles(&kept),
        "the suite's report differs from {REPORT}: review it, and with UPDATE_GOLDEN=1 keep it"
    );
}

/// Flagger's way on the Gateway API: a Canary moves the weights of two Services in the
/// HTTPRoute attached to the service, with the same gates and the same wait for every proxy.
#[test]
fn a_canary_on_an_httproute_is_promoted_when_healthy_and_rolled_back_when_failing() {
    use super::mesh::{Profile, assert_promoted_condition};
    let mesh = node::mesh();
    let _turn = mesh.share();
    let healthy = Profile::start_with_mesh_route(mesh.node, "gamma-promoted", &[]);
    let (canary, weights, tally) = healthy.roll_out();
    assert_eq!(canary["status"]["phase"], "Promoted", "{canary:#}");
    assert_eq!(weights, (0, 100));
    assert_promoted_condition(&canary, "True");
    assert!(tally.failures.is_empty(), "no request fails during the rollout: {tally}");
    assert_eq!(healthy.send(40), (0, 40, 0), "once Promoted is True, v2 takes all traffic");

    let failing = Profile::start_with_mesh_route(mesh.node, "gamma-rolled-back", &["--error-rate", "50"]);
    let (canary, weights, _) = failing.roll_out();
    assert_eq!(canary["status"]["phase"], "RolledBack", "{canary:#}");
    assert_eq!(weights, (100, 0));
    assert_promoted_condition(&canary, "False");
    // Once the rollback is settled (every proxy runs it), no request fails.
    assert_eq!(failing.send(200), (200, 0, 0), "once Promoted is False, v1 takes all traffic");
}

/// Istio's Bookinfo ingress, its YAML as Istio's samples write it, applied with kubectl: the
/// mesh's gateway (which carries `istio: ingressgateway`) serves the Gateway, and the
/// VirtualService bound to it routes the product page's paths for any host.
#[test]
fn istios_bookinfo_gateway_routes_ingress_traffic_on_the_cluster() {
    let mesh = node::mesh();
    let (node, _turn) = (mesh.node, mesh.share());
    let ns = "bookinfo";
    let _namespace = node.namespace(ns, &["istio-injection=enabled"]);
    let productpage = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": { "name": "productpage", "namespace": ns },
        "spec": { "selector": { "app": "productpage" }, "ports": [{ "name": "http", "port": 9080, "targetPort": 8080 }] },
    });
    let deployment = demo_deployment(ns, "productpage", &[], &[]);
    node.apply(&format!("{productpage}\n---\n{deployment}"));
    node.wait(ns, "deployment", "condition=Available", DEADLINE);
    let bookinfo = std::fs::read_to_string(super::common::root().join("testdata/istio/bookinfo-gateway.yaml")).unwrap();
    let run = node.kubectl_with_input(&["-n", ns, "apply", "-f", "-"], &bookinfo);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let gateway = node.gateway();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let send = |path: &str| {
        let get = meshctl::http::get(gateway, "bookinfo.example.com", path, std::time::Duration::from_secs(5));
        let response = runtime.block_on(get).ok()?;
        let body: Value = serde_json::from_slice(&response.body).unwrap_or_default();
        Some((response.status, body["service"].as_str().unwrap_or_default().to_string()))
    };
    let routed = super::common::within(DEADLINE, || send("/productpage") == Some((200, "productpage".to_string())));
    assert!(routed, "the gateway never routed /productpage: {:?}", send("/productpage"));
    assert_eq!(send("/api/v1/products/1"), Some((200, "productpage".to_string())));
    assert_eq!(send("/admin").map(|(status, _)| status), Some(404), "a path the VirtualService does not route");
}

/// A Gateway of class `meshctl` with an HTTP listener for `*.example.com` and an HTTPS one for
/// `secure.example.com` (its certificate in a Secret), and an HTTPRoute attached to both: the
/// controller runs a proxy for the Gateway, its status gives the address, and requests are
/// routed by name, each listener with its own routes; a name no listener serves answers 404.
/// Without a load balancer on the node, a Gateway that asks for one says so.
#[test]
fn a_gateway_of_meshctls_class_serves_its_routes_by_hostname_over_http_and_https() {
    let mesh = node::mesh();
    let (node, _turn) = (mesh.node, mesh.share());
    let ns = "ingress-api";
    let _namespace = node.namespace(ns, &["meshctl.io/inject=enabled"]);
    let mut params = rcgen::CertificateParams::new(vec!["secure.example.com".to_string()]).unwrap();
    params.distinguished_name.push(rcgen::DnType::CommonName, "secure.example.com");
    let key = rcgen::KeyPair::generate().unwrap();
    let certificate = params.self_signed(&key).unwrap();
    let work = tempfile::tempdir().unwrap();
    let ca = work.path().join("ca.pem");
    std::fs::write(&ca, certificate.pem()).unwrap();
    let secret = json!({
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
        "metadata": { "name": "secure-example", "namespace": ns },
        "stringData": { "tls.crt": certificate.pem(), "tls.key": key.serialize_pem() },
    });
    let gateway = |name: &str, service_type: &str| {
        json!({
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": {
                "name": name, "namespace": ns,
                "annotations": { "networking.istio.io/service-type": service_type },
            },
            "spec": {
                "gatewayClassName": "meshctl",
                "listeners": [
                    { "name": "http", "port": 80, "protocol": "HTTP", "hostname": "*.example.com" },
                    {
                        "name": "https", "port": 443, "protocol": "HTTPS", "hostname": "secure.example.com",
                        "tls": { "certificateRefs": [{ "name": "secure-example" }] },
                    },
                ],
            },
        })
    };
    let route = json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": { "name": "web", "namespace": ns },
        "spec": {
            "parentRefs": [{ "name": "web" }],
            "hostnames": ["shop.example.com", "secure.example.com"],
            "rules": [{
                "matches": [{ "path": { "type": "PathPrefix", "value": "/api" } }],
                "backendRefs": [{ "name": "profile", "port": 80 }],
            }],
        },
    });
    let objects = [
        service(ns, "profile", &[]),
        demo_deployment(ns, "profile", &[("version", "v1")], &["--version", "v1"]),
        secret,
        gateway("web", "ClusterIP"),
        gateway("waiting", "LoadBalancer"),
        route,
    ];
    node.apply(&objects.iter().map(Value::to_string).collect::<Vec<_>>().join("\n---\n"));
    node.wait(ns, "deployment", "condition=Available", DEADLINE);
    let programmed = super::common::within(DEADLINE, || {
        node.kubectl(&["-n", ns, "wait", "gateway/web", "--for=condition=Programmed", "--timeout=1s"]).code == 0
    });
    if !programmed {
        for args in [
            &["-n", ns, "get", "gateway,httproute", "-o", "yaml"][..],
            &["get", "gatewayclass", "-o", "yaml"],
            &["-n", "meshctl-system", "get", "all", "-o", "wide"],
            &["-n", "meshctl-system", "logs", "deployment/meshctl-controller", "--tail", "60"],
        ] {
            let run = node.kubectl(args);
            println!("kubectl {}\n{}{}", args.join(" "), run.stdout, run.stderr);
        }
        panic!("gateway/web is not Programmed");
    }
    let status = |name: &str| -> Value {
        serde_json::from_str(&node.kubectl_ok(&["-n", ns, "get", "gateway", name, "-o", "json"])).unwrap()
    };
    let web = status("web");
    let address = web["status"]["addresses"][0]["value"].as_str().expect("an address").to_string();
    let listeners = &web["status"]["listeners"];
    for (i, name) in ["http", "https"].iter().enumerate() {
        assert_eq!(listeners[i]["name"], *name, "{web:#}");
        assert_eq!(listeners[i]["attachedRoutes"], 1, "{web:#}");
    }

    // Over HTTP, for a name the HTTP listener serves; through the HTTPS one, by SNI, with the
    // Secret's certificate, which curl checks.
    let curl = |url: &str, name: &str, port: u16| -> String {
        let resolve = format!("{name}:{port}:{address}");
        let output = std::process::Command::new("curl")
            .args(["--silent", "--max-time", "5", "--output", "/dev/null", "--write-out", "%{http_code}"])
            .args(["--resolve", &resolve, "--cacert"])
            .arg(&ca)
            .arg(url)
            .output()
            .expect("curl runs");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let routed = super::common::within(DEADLINE, || {
        curl("http://shop.example.com/api/profile", "shop.example.com", 80) == "200"
    });
    assert!(
        routed,
        "the Gateway never routed shop.example.com: {}",
        curl("http://shop.example.com/api/profile", "shop.example.com", 80)
    );
    assert_eq!(curl("https://secure.example.com/api/profile", "secure.example.com", 443), "200");
    assert_eq!(curl("http://shop.example.com/other", "shop.example.com", 80), "404", "a path no rule takes");
    assert_eq!(curl("http://other.example.com/api", "other.example.com", 80), "404", "a name the route does not serve");
    assert_eq!(curl("http://shop.example.org/api", "shop.example.org", 80), "404", "a name no listener serves");

    // A proxy deleted by hand is put back when its deletion is seen, and serves again.
    let deployment = meshctl::kube::gateways::object_name(ns, "web");
    let uid = || {
        let get = ["-n", "meshctl-system", "get", "deployment", &deployment, "-o", "jsonpath={.metadata.uid}"];
        let run = node.kubectl(&get);
        (run.code == 0).then_some(run.stdout)
    };
    let first = uid().expect("the Gateway's proxy runs");
    node.kubectl_ok(&["-n", "meshctl-system", "delete", "deployment", &deployment]);
    let replaced = super::common::within(DEADLINE, || uid().is_some_and(|u| u != first));
    assert!(replaced, "the Gateway's deleted proxy was not put back");
    let serves = super::common::within(DEADLINE, || {
        curl("http://shop.example.com/api/profile", "shop.example.com", 80) == "200"
    });
    assert!(serves, "the Gateway's proxy, put back, does not serve");

    let route: Value =
        serde_json::from_str(&node.kubectl_ok(&["-n", ns, "get", "httproute", "web", "-o", "json"])).unwrap();
    let parent = &route["status"]["parents"][0];
    assert_eq!(parent["controllerName"], "meshctl.io/gateway-controller", "{route:#}");
    let accepted = parent["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "Accepted").cloned();
    assert_eq!(accepted.map(|c| c["status"].clone()), Some(json!("True")), "{route:#}");

    // No load balancer runs on the node: that Gateway waits for an address, and says so.
    let waiting = super::common::within(DEADLINE, || {
        let conditions = status("waiting")["status"]["conditions"].clone();
        conditions
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "Programmed" && c["reason"] == "AddressNotAssigned")
    });
    assert!(waiting, "{:#}", status("waiting"));

    // The Gateway's proxy goes with it.
    node.kubectl_ok(&["-n", ns, "delete", "gateway", "web", "waiting"]);
    let gone = super::common::within(DEADLINE, || {
        let left = node.kubectl_ok(&[
            "-n",
            "meshctl-system",
            "get",
            "deployments",
            "-l",
            "meshctl.io/gateway-namespace=ingress-api",
            "-o",
            "name",
        ]);
        left.trim().is_empty()
    });
    assert!(gone, "the Gateways' proxies outlive them");
}
