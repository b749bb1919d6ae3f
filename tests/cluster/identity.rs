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
use serde_json::{Value, json};

use super::DEADLINE;
use super::common::images;
use super::common::node::{self, Node, Reinstall};

const NS: &str = "identity";

fn ok(answer: super::common::kube::Answer, what: &str) -> Value {
    assert!(answer.status < 300, "{what}: {}", answer.json());
    answer.json()
}

/// Runs the controller with `--max-stream-age 2s`, so that proofs are asked for again at
/// once; put back as install made it when the guard is dropped.
fn short_streams(node: &Node) -> Reinstall<'_> {
    let args = "/spec/template/spec/containers/0/args/-";
    let patch = json!([
        { "op": "add", "path": args, "value": "--max-stream-age" },
        { "op": "add", "path": args, "value": "2s" },
    ]);
    let deployment = format!("deployment/{}", install::CONTROLLER);
    let reinstall = Reinstall(node);
    node.kubectl_ok(&["-n", NAMESPACE, "patch", &deployment, "--type=json", "-p", &patch.to_string()]);
    node.kubectl_ok(&["-n", NAMESPACE, "rollout", "status", &deployment, "--timeout=120s"]);
    reinstall
}

/// A Pod outside injection running a proxy made by hand that claims node id `claim`, with
/// ServiceAccount `name`. Its token is whatever the test puts in Secret `NAME-token` (with the
/// SDS file naming it): until that exists, the kubelet does not start the Pod, so the token can
/// be bound to the stored Pod first.
fn hand_made_proxy(name: &str, claim: &str) -> Value {
    let bootstrap = install::proxy_bootstrap_json(&format!("{}.{NAMESPACE}.svc", install::CONTROLLER));
    let mut args = install::envoy_args(&["--config-yaml", &bootstrap.to_string()], NS);
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
                "volumeMounts": [identity::mount()],
            }],
            "volumes": [{ "name": identity::TOKEN_VOLUME, "secret": { "secretName": format!("{name}-token") } }],
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
    let path = format!("/api/v1/namespaces/{NAMESPACE}/pods/{controller}:{}/proxy/debug/status", install::METRICS_PORT);
    let mut found = Value::Null;
    let seen = super::common::within(DEADLINE, || {
        let report = node.get(&path).json();
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
    let _short = short_streams(node);
    let _namespace = node.namespace(NS, &["meshctl.io/inject=enabled"]);
    let mut accounts = serde_json::Map::new();
    for account in ["a", "b", "c", "d"] {
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
        let stored = ok(node.post(&format!("/api/v1/namespaces/{NS}/pods"), &hand_made_proxy(name, claim)), "Pod");
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

    // A proof is not for ever: streams are closed after their maximum age, and b's proxy,
    // reconnecting after its ServiceAccount was deleted, is refused its certificates. The
    // impostor goes first; b's own proxy, reconnecting, is proven again.
    node.kubectl_ok(&["-n", NS, "delete", "pod", "a", "--grace-period=1"]);
    verdict(node, &b_node, false);
    node.kubectl_ok(&["-n", NS, "delete", "serviceaccount", "b"]);
    let reason = verdict(node, &b_node, true)["refused"].as_str().unwrap().to_string();
    assert!(reason.contains("refused by the API server"), "{reason}");
}
