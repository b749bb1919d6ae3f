//! Workload identity on a cluster is proven, not claimed: a proxy presents its Pod's projected
//! ServiceAccount token on its xDS stream, and the controller sends certificates only when the
//! API server's TokenReview says the token is valid for meshctl's audience and bound to the
//! Pod the proxy's node id names. Real Envoys in test Pods, the real API server.
//!
//! ```text
//!   Pod b (injected, its own token) ──ADS──▶ controller ──TokenReview──▶ kube-apiserver   certificate
//!   Pod a (a's token, claims b.shop) ──ADS──▶ controller                                   none: not a's Pod
//!   Pods with another audience's token, an expired one ──▶ controller                      none
//!   Pod b again, once its ServiceAccount is deleted (streams are re-proven) ──▶ controller  none
//! ```

mod common;

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use common::control_plane;
use common::kube::KubeApiServer;
use common::kubelet::{RunningPod, mk_pod};
use meshctl::kube::identity;
use meshctl::kube::install::{self, NAMESPACE};
use meshctl::kube::registry::PROXY_CONTAINER;
use serde_json::{Value, json};

const DEADLINE: Duration = Duration::from_secs(30);

fn ok(answer: common::kube::Answer, what: &str) -> Value {
    assert!(answer.status < 300, "{what}: {}", answer.json());
    answer.json()
}

/// A Pod outside injection (`sidecar.meshctl.io/inject: "false"`) running a proxy made by
/// hand: node id `claim`, its token directory the host directory `dir` (where the test puts
/// the token, and the SDS file naming it).
fn hand_made_proxy(name: &str, account: &str, claim: &str, controller: &RunningPod, dir: &std::path::Path) -> Value {
    let bootstrap = install::proxy_bootstrap_json(&controller.ip.to_string());
    let mut args = install::envoy_args(&["--config-yaml", &bootstrap.to_string()], "shop");
    let node = args.iter().position(|a| a == "--service-node").unwrap() + 1;
    args[node] = claim.to_string();
    let field = |path: &str| json!({ "fieldRef": { "fieldPath": path } });
    let proxy = json!({
        "name": PROXY_CONTAINER,
        "image": install::DEFAULT_ENVOY_IMAGE,
        "command": ["envoy"],
        "args": args,
        "env": [
            { "name": "POD_NAME", "valueFrom": field("metadata.name") },
            { "name": "POD_NAMESPACE", "valueFrom": field("metadata.namespace") },
        ],
        "securityContext": { "runAsUser": 1337, "runAsGroup": 1337 },
        "volumeMounts": [identity::mount()],
    });
    let mut pod = mk_pod("shop", name, &[("app", name)], vec![proxy]);
    pod["metadata"]["annotations"] = json!({ "sidecar.meshctl.io/inject": "false" });
    pod["spec"]["serviceAccountName"] = json!(account);
    pod["spec"]["volumes"] = json!([{ "name": identity::TOKEN_VOLUME, "hostPath": { "path": dir } }]);
    std::fs::write(dir.join("xds-credential.json"), identity::credential_sds()).unwrap();
    pod
}

/// A token for ServiceAccount `account`, bound to the Pod `pod` (name, uid), for `audience`.
fn mint(server: &KubeApiServer, account: &str, pod: &RunningPod, audience: &str) -> String {
    let request = json!({ "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {
        "audiences": [audience], "expirationSeconds": 600,
        "boundObjectRef": { "apiVersion": "v1", "kind": "Pod", "name": pod.name, "uid": pod.uid },
    }});
    let path = format!("/api/v1/namespaces/shop/serviceaccounts/{account}/token");
    ok(server.post(&path, &request), "TokenRequest")["status"]["token"].as_str().unwrap().to_string()
}

/// A token as the API server would sign one for the Pod, but expired an hour ago: signed with
/// the API server's own key, so only its expiry is wrong.
fn expired(server: &KubeApiServer, account: &Value, pod: &RunningPod) -> String {
    use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
    use rustls::pki_types::PrivateKeyDer;
    use rustls::pki_types::pem::PemObject;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
    let header = json!({ "alg": "ES256", "typ": "JWT" });
    let claims = json!({
        "iss": common::kube::TOKEN_ISSUER,
        "aud": [identity::TOKEN_AUDIENCE],
        "sub": format!("system:serviceaccount:shop:{}", account["metadata"]["name"].as_str().unwrap()),
        "iat": now - 7200, "nbf": now - 7200, "exp": now - 3600,
        "kubernetes.io": {
            "namespace": "shop",
            "pod": { "name": pod.name, "uid": pod.uid },
            "serviceaccount": { "name": account["metadata"]["name"], "uid": account["metadata"]["uid"] },
        },
    });
    let signed = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
    let key = PrivateKeyDer::from_pem_slice(server.token_signing_key().as_bytes()).unwrap();
    let rng = ring::rand::SystemRandom::new();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, key.secret_der(), &rng).unwrap();
    let signature = pair.sign(&rng, signed.as_bytes()).unwrap();
    format!("{signed}.{}", b64(signature.as_ref()))
}

/// The controller's report on proxy `node`, once it has one with a verdict on its identity.
fn verdict(server: &KubeApiServer, controller: &RunningPod, node: &str, refused: bool) -> Value {
    let path =
        format!("/api/v1/namespaces/{NAMESPACE}/pods/{}:{}/proxy/debug/status", controller.name, install::METRICS_PORT);
    let mut found = Value::Null;
    let seen = common::within(DEADLINE, || {
        let report = server.get(&path).json();
        let proxies = report["proxies"].as_array().cloned().unwrap_or_default();
        found = proxies.into_iter().find(|p| p["node_id"] == node).unwrap_or(Value::Null);
        // A refused proxy's verdict is all there is to wait for; a proven one must also run
        // its configuration, certificate and all.
        found["refused"].is_string() == refused && (refused || found["sync"] == "Synced")
    });
    assert!(seen, "no verdict on {node} (refused: {refused}) in the controller's report: {found}");
    found
}

#[test]
fn a_proxy_gets_certificates_only_with_its_own_pods_valid_token() {
    let server = KubeApiServer::start();
    let kubelet = control_plane::kubelet(&server);
    let controller = &control_plane::injecting_mesh(&server, &kubelet, &[], &["--max-stream-age", "2s"]);
    let mut accounts = serde_json::Map::new();
    for account in ["a", "b", "c", "d"] {
        let made = ok(
            server.post("/api/v1/namespaces/shop/serviceaccounts", &json!({ "metadata": { "name": account } })),
            "ServiceAccount",
        );
        accounts.insert(account.to_string(), made);
    }

    // b: injected, presenting its own Pod's token — proven.
    let mut b = mk_pod(
        "shop",
        "b",
        &[("app", "b")],
        vec![common::kubelet::mk_container(
            "app",
            common::kubelet::MESHCTL_IMAGE,
            &["demo-app", "--name", "b", "--address", "0.0.0.0", "--port", "8080"],
            8080,
        )],
    );
    b["spec"]["serviceAccountName"] = json!("b");
    kubelet.run(b);
    let proven = verdict(&server, controller, "b.shop", false);
    assert_eq!(proven["identity"], "spiffe://cluster.local/ns/shop/sa/b", "{proven}");

    // Each impostor's Pod is stored first, so its token can be bound to it, then run.
    let run = |name: &str, claim: &str, token: &dyn Fn(&RunningPod) -> String| {
        let dir = tempfile::tempdir().unwrap();
        let mut pod = hand_made_proxy(name, name, claim, controller, dir.path());
        pod["spec"]["nodeName"] = json!(common::kubelet::NODE_NAME);
        let stored = ok(server.post("/api/v1/namespaces/shop/pods", &pod), "Pod");
        let uid = stored["metadata"]["uid"].as_str().unwrap().to_string();
        let placeholder = RunningPod { uid, ..controller.clone() };
        let placeholder = RunningPod { name: name.to_string(), namespace: "shop".into(), ..placeholder };
        std::fs::write(dir.path().join("token"), token(&placeholder)).unwrap();
        (kubelet.take("shop", name), dir)
    };
    let certificates = |pod: &RunningPod| -> String {
        let out = std::process::Command::new("ip")
            .args(["netns", "exec", &pod.netns, "curl", "--silent", "--max-time", "5", "http://127.0.0.1:15000/certs"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let b_pod = server.get("/api/v1/namespaces/shop/pods/b").json();
    assert!(b_pod["metadata"]["uid"].is_string());

    // a: a valid token of its own Pod, but it claims to be b.
    let (a, _a_dir) = run("a", "b.shop", &|pod| mint(&server, "a", pod, identity::TOKEN_AUDIENCE));
    let refused = verdict(&server, controller, "b.shop", true);
    let reason = refused["refused"].as_str().unwrap();
    assert!(reason.contains("claims Pod shop/b but its token is Pod shop/a's (ServiceAccount a)"), "{reason}");
    assert!(!certificates(&a).contains("spiffe://"), "the impostor holds a certificate: {}", certificates(&a));

    // c: its own Pod's token, for another audience.
    let (_c, _c_dir) = run("c", "c.shop", &|pod| mint(&server, "c", pod, "some-other-audience"));
    let reason = verdict(&server, controller, "c.shop", true)["refused"].as_str().unwrap().to_string();
    assert!(reason.contains("refused by the API server for audience meshctl"), "{reason}");

    // d: its own Pod's token, signed by the API server's key, but expired.
    let (_d, _d_dir) = run("d", "d.shop", &|pod| expired(&server, &accounts["d"], pod));
    let reason = verdict(&server, controller, "d.shop", true)["refused"].as_str().unwrap().to_string();
    assert!(reason.contains("expired"), "{reason}");

    // A proof is not for ever: streams are closed after their maximum age (2 s here), and b's
    // proxy, reconnecting after its ServiceAccount was deleted, is refused its certificates.
    // The impostor goes first; b's own proxy, reconnecting, is proven again.
    kubelet.delete(&a);
    verdict(&server, controller, "b.shop", false);
    let gone = server.request(hyper::Method::DELETE, "/api/v1/namespaces/shop/serviceaccounts/b", None);
    assert_eq!(gone.status, 200, "{}", gone.json());
    let reason = verdict(&server, controller, "b.shop", true)["refused"].as_str().unwrap().to_string();
    assert!(reason.contains("refused by the API server"), "{reason}");
}
