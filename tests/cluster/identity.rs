//! Workload identity on a cluster is proven, not claimed: a proxy presents its Pod's projected
//! ServiceAccount token on its xDS stream, and the controller sends certificates only when the
//! API server's TokenReview says the token is valid for meshctl's audience and bound to the
//! Pod the proxy's node id names.
//!
//! ```text
//!   Pod b (injected, its own token) ──ADS──▶ controller ──TokenReview──▶ kube-apiserver   certificate
//!   Pod a (a's token, claims b.NS) ──ADS──▶ controller                                     none: not a's Pod
//!   Pods with another audience's token, an expired one ──▶ controller                      none
//!   Pod b again, once its ServiceAccount is deleted (streams are re-proven) ──▶ controller  none
//! ```

use std::time::SystemTime;

use base64::Engine as _;
use meshctl::kube::identity;
use meshctl::kube::install::{self, NAMESPACE};
use meshctl::kube::registry::PROXY_CONTAINER;
use meshctl::kube::roots;
use serde_json::{Value, json};

use super::DEADLINE;
use super::common::images;
use super::common::node::{self, Node};

const NS: &str = "identity";

fn ok(answer: super::common::kube::Answer, what: &str) -> Value {
    assert!(answer.status < 300, "{what}: {}", answer.json());
    answer.json()
}

/// A Pod outside injection running a proxy made by hand that claims node id `claim`, with
/// ServiceAccount `name`, trusting the roots in ConfigMap `roots`. Its token is whatever the
/// test puts in Secret `NAME-token` (with the SDS file naming it): until that exists, the
/// kubelet does not start the Pod, so the token can be bound to the stored Pod first.
fn hand_made_proxy(name: &str, claim: &str, roots: &str) -> Value {
    let bootstrap = install::proxy_bootstrap_json(&format!("{}.{NAMESPACE}.svc", install::CONTROLLER));
    let mut args = meshctl::translate::envoy_args(&["--config-yaml", &bootstrap.to_string()], install::POD_NODE, NS);
    let node = args.iter().position(|a| a == "--service-node").unwrap() + 1;
    args[node] = claim.to_string();
    let field = |path: &str| json!({ "fieldRef": { "fieldPath": path } });
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": name, "namespace": NS,
            "annotations": { "sidecar.meshctl.io/inject": "false" },
        },
        "spec": {
            "serviceAccountName": name,
            "containers": [{
                "name": PROXY_CONTAINER,
                "image": images::ENVOY,
                "imagePullPolicy": "Never",
                "command": ["envoy"],
                "args": args,
                "env": [
                    { "name": "POD_NAME", "valueFrom": field("metadata.name") },
                    { "name": "POD_NAMESPACE", "valueFrom": field("metadata.namespace") },
                ],
                "volumeMounts": [identity::mount(), roots::mount()],
            }],
            "volumes": [
                { "name": identity::TOKEN_VOLUME, "secret": { "secretName": format!("{name}-token") } },
                { "name": roots::CONFIGMAP, "configMap": { "name": roots } },
            ],
        },
    })
}

/// A token for ServiceAccount `account`, bound to Pod `pod` (stored, as the API server
/// answered), for `audience`.
fn mint(node: &Node, account: &str, pod: &Value, audience: &str) -> String {
    let request = json!({ "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {
        "audiences": [audience], "expirationSeconds": 600,
        "boundObjectRef": { "apiVersion": "v1", "kind": "Pod", "name": pod["metadata"]["name"], "uid": pod["metadata"]["uid"] },
    }});
    let path = format!("/api/v1/namespaces/{NS}/serviceaccounts/{account}/token");
    ok(node.post(&path, &request), "TokenRequest")["status"]["token"].as_str().unwrap().to_string()
}

/// A token as the API server would sign one for Pod `pod`, but expired an hour ago: signed with
/// the API server's own key, so only its expiry is wrong.
fn expired(node: &Node, account: &Value, pod: &Value) -> String {
    use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
    use rustls::pki_types::PrivateKeyDer;
    use rustls::pki_types::pem::PemObject;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
    let header = json!({ "alg": "ES256", "typ": "JWT" });
    let claims = json!({
        "iss": super::common::kube::TOKEN_ISSUER,
        "aud": [identity::TOKEN_AUDIENCE],
        "sub": format!("system:serviceaccount:{NS}:{}", account["metadata"]["name"].as_str().unwrap()),
        "iat": now - 7200, "nbf": now - 7200, "exp": now - 3600,
        "kubernetes.io": {
            "namespace": NS,
            "pod": { "name": pod["metadata"]["name"], "uid": pod["metadata"]["uid"] },
            "serviceaccount": { "name": account["metadata"]["name"], "uid": account["metadata"]["uid"] },
        },
    });
    let signed = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
    let key = PrivateKeyDer::from_pem_slice(node.token_signing_key().as_bytes()).unwrap();
    let rng = ring::rand::SystemRandom::new();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, key.secret_der(), &rng).unwrap();
    let signature = pair.sign(&rng, signed.as_bytes()).unwrap();
    format!("{signed}.{}", b64(signature.as_ref()))
}

/// The controller's report on proxy `node_id`, once it has one with a verdict on its identity.
fn verdict(node: &Node, node_id: &str, refused: bool) -> Value {
    // The one replica, not a Pod of the last rollout on its way out.
    let selector = format!("app.kubernetes.io/name={}", install::CONTROLLER);
    let pods: Value =
        serde_json::from_str(&node.kubectl_ok(&["-n", NAMESPACE, "get", "pods", "-l", &selector, "-o", "json"]))
            .unwrap();
    let running: Vec<&Value> =
        pods["items"].as_array().unwrap().iter().filter(|p| p["metadata"]["deletionTimestamp"].is_null()).collect();
    assert_eq!(running.len(), 1, "{pods:#}");
    let controller = running[0]["metadata"]["name"].as_str().unwrap();
    let mut found = Value::Null;
    let seen = super::common::within(DEADLINE, || {
        let report = node.controller_status(NAMESPACE, controller, "/debug/status");
        let proxies = report["proxies"].as_array().cloned().unwrap_or_default();
        found = proxies.into_iter().find(|p| p["node_id"] == node_id).unwrap_or(Value::Null);
        // A refused proxy's verdict is all there is to wait for; a proven one must also run
        // its configuration, certificate and all.
        found["refused"].is_string() == refused && (refused || found["sync"] == "Synced")
    });
    assert!(seen, "no verdict on {node_id} (refused: {refused}) in the controller's report: {found}");
    found
}

#[test]
fn a_proxy_gets_certificates_only_with_its_own_pods_valid_token() {
    let mesh = node::mesh();
    // The controller is restarted, for everyone.
    let _alone = mesh.alone();
    let node = mesh.node;
    // Proofs are asked for again at once.
    let _short = node.controller_with(&["--max-stream-age", "2s"]);
    let _namespace = node.namespace(NS, &["meshctl.io/inject=enabled"]);
    let mut accounts = serde_json::Map::new();
    for account in ["a", "b", "c", "d", "e"] {
        let path = format!("/api/v1/namespaces/{NS}/serviceaccounts");
        let made = ok(node.post(&path, &json!({ "metadata": { "name": account } })), "ServiceAccount");
        accounts.insert(account.to_string(), made);
    }

    // b: injected, presenting its own Pod's token — proven.
    let mut b = node::demo_deployment(NS, "b", &[], &[]);
    b["spec"]["template"]["spec"]["serviceAccountName"] = json!("b");
    node.apply(&b.to_string());
    node.wait(NS, "deployment/b", "condition=Available", DEADLINE);
    let b = node.pod_named(NS, "app=b");
    let b_node = format!("{b}.{NS}");
    let proven = verdict(node, &b_node, false);
    assert_eq!(proven["identity"], format!("spiffe://cluster.local/ns/{NS}/sa/b"), "{proven}");

    // Each impostor's Pod is stored first, so that its token can be bound to it, then its
    // token is given and the kubelet starts it.
    let run = |name: &str, claim: &str, token: &dyn Fn(&Value) -> String| {
        let proxy = hand_made_proxy(name, claim, roots::CONFIGMAP);
        let stored = ok(node.post(&format!("/api/v1/namespaces/{NS}/pods"), &proxy), "Pod");
        let secret = json!({
            "metadata": { "name": format!("{name}-token") },
            "stringData": { "token": token(&stored), "xds-credential.json": identity::credential_sds() },
        });
        ok(node.post(&format!("/api/v1/namespaces/{NS}/secrets"), &secret), "Secret");
        node.wait(NS, &format!("pod/{name}"), "condition=ContainersReady", DEADLINE);
    };
    let certificates = |pod: &str| node.curl_in_pod(NS, pod, &["http://127.0.0.1:15000/certs"]).unwrap_or_default();

    // a: a valid token of its own Pod, but it claims to be b.
    run("a", &b_node, &|pod| mint(node, "a", pod, identity::TOKEN_AUDIENCE));
    let refused = verdict(node, &b_node, true);
    let reason = refused["refused"].as_str().unwrap();
    let expected = format!("claims Pod {NS}/{b} but its token is Pod {NS}/a's (ServiceAccount a)");
    assert!(reason.contains(&expected), "{reason}");
    let held = certificates("a");
    assert!(
        held.contains("\"certificates\"") && !held.contains("spiffe://"),
        "the impostor holds a certificate: {held}"
    );

    // c: its own Pod's token, for another audience.
    run("c", &format!("c.{NS}"), &|pod| mint(node, "c", pod, "some-other-audience"));
    let reason = verdict(node, &format!("c.{NS}"), true)["refused"].as_str().unwrap().to_string();
    assert!(reason.contains("refused by the API server for audience meshctl"), "{reason}");

    // d: its own Pod's token, signed by the API server's key, but expired.
    run("d", &format!("d.{NS}"), &|pod| expired(node, &accounts["d"], pod));
    let reason = verdict(node, &format!("d.{NS}"), true)["refused"].as_str().unwrap().to_string();
    assert!(reason.contains("expired"), "{reason}");

    // e: its own Pod's valid token, but it trusts other roots than the mesh's: it never
    // connects, so its token never leaves it.
    let other = json!({
        "metadata": { "name": "other-roots" },
        "data": roots::data(&meshctl::pki::make_root().unwrap().cert_pem),
    });
    ok(node.post(&format!("/api/v1/namespaces/{NS}/configmaps"), &other), "ConfigMap");
    let proxy = hand_made_proxy("e", &format!("e.{NS}"), "other-roots");
    let stored = ok(node.post(&format!("/api/v1/namespaces/{NS}/pods"), &proxy), "Pod");
    let secret = json!({
        "metadata": { "name": "e-token" },
        "stringData": {
            "token": mint(node, "e", &stored, identity::TOKEN_AUDIENCE),
            "xds-credential.json": identity::credential_sds(),
        },
    });
    ok(node.post(&format!("/api/v1/namespaces/{NS}/secrets"), &secret), "Secret");
    node.wait(NS, "pod/e", "condition=ContainersReady", DEADLINE);
    let stats = || {
        let filter = format!("http://127.0.0.1:15000/stats?filter=^cluster.{}.ssl", meshctl::translate::XDS_CLUSTER);
        node.curl_in_pod(NS, "e", &[&filter]).unwrap_or_default()
    };
    let failed = super::common::within(DEADLINE, || {
        let stats = stats();
        stats.lines().any(|l| {
            l.starts_with(&format!("cluster.{}.ssl.fail_verify_error: ", meshctl::translate::XDS_CLUSTER))
                && !l.ends_with(": 0")
        })
    });
    // (Envoy counts a stream as connected once it starts it, handshake or not.)
    let seen = stats();
    let handshakes = format!("cluster.{}.ssl.handshake: 0", meshctl::translate::XDS_CLUSTER);
    assert!(failed && seen.contains(&handshakes), "{seen}");
    let report = node.controller_status(NAMESPACE, &node.controller_pod(), "/debug/status");
    let e = report["proxies"].as_array().unwrap().iter().find(|p| p["node_id"] == format!("e.{NS}")).cloned();
    let e = e.unwrap_or_default();
    assert!(e["sync"] == "Disconnected" && e["versions"] == json!([]), "the controller heard from e: {e}");
    // Its roots are read again when the kubelet updates the volume: given the mesh's, e
    // connects without a restart. (The annotation has the kubelet sync the Pod's volumes now,
    // rather than at its next periodic sync.)
    let key = format!("jsonpath={{.data.{}}}", roots::PEM_KEY.replace('.', "\\."));
    let pem = node.kubectl_ok(&["-n", NS, "get", "configmap", roots::CONFIGMAP, "-o", &key]);
    let patch = json!({ "data": roots::data(&pem) }).to_string();
    node.kubectl_ok(&["-n", NS, "patch", "configmap", "other-roots", "--type=merge", "-p", &patch]);
    node.kubectl_ok(&["-n", NS, "annotate", "pod", "e", "test.meshctl.io/roots=mesh"]);
    verdict(node, &format!("e.{NS}"), false);

    // A proof is not for ever: streams are closed after their maximum age, and b's proxy,
    // reconnecting after its ServiceAccount was deleted, is refused its certificates. The
    // impostor goes first; b's own proxy, reconnecting, is proven again.
    node.kubectl_ok(&["-n", NS, "delete", "pod", "a", "--grace-period=1"]);
    verdict(node, &b_node, false);
    node.kubectl_ok(&["-n", NS, "delete", "serviceaccount", "b"]);
    let reason = verdict(node, &b_node, true)["refused"].as_str().unwrap().to_string();
    assert!(reason.contains("refused by the API server"), "{reason}");
}
