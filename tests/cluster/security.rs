//! What the controller's Pod answers, and to whom: xDS and spans only over TLS, with a
//! certificate for the controller's Service name from the mesh's roots (which every namespace
//! holds in a ConfigMap); the status port on the Pod's loopback, reached only through a
//! port-forward the API server allows.
//!
//! ```text
//!   test (on the node) ──plaintext h2──▶ controller :15012                    refused
//!   test ──TLS, the mesh's roots, the Service's name──▶ controller :15012      verified
//!   test ──HTTP──▶ controller Pod IP :15014                                   nothing listens
//!   a user without pods/portforward ──▶ API server ──▶ :15014                  forbidden
//! ```

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use meshctl::kube::install::{CONTROLLER, NAMESPACE as SYSTEM, STATUS_PORT, XDS_PORT};
use meshctl::kube::roots;
use serde_json::json;

use super::DEADLINE;
use super::common::node::{self, Node, profile_route};
use super::common::{self};
use super::mesh::Profile;

/// curl's exit status and what it wrote, stdout then stderr.
fn curl(args: &[&str]) -> (i32, String) {
    let output =
        Command::new("curl").args(["--silent", "--show-error", "--max-time", "5"]).args(args).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.code().unwrap_or(-1), text)
}

/// The controller Pod's address.
fn controller_ip(node: &Node) -> String {
    let controller = node.controller_pod();
    node.kubectl_ok(&["-n", SYSTEM, "get", "pod", &controller, "-o", "jsonpath={.status.podIP}"])
}

/// The mesh's roots as namespace default holds them, written into `dir`.
fn mesh_roots(node: &Node, dir: &Path) -> PathBuf {
    common::poll("the mesh's roots are in namespace default", DEADLINE, || {
        node.kubectl(&["-n", "default", "get", "configmap", roots::CONFIGMAP]).code == 0
    });
    let key = format!("jsonpath={{.data.{}}}", roots::PEM_KEY.replace('.', "\\."));
    let pem = node.kubectl_ok(&["-n", "default", "get", "configmap", roots::CONFIGMAP, "-o", &key]);
    let path = dir.join("roots.pem");
    std::fs::write(&path, &pem).unwrap();
    path
}

/// curl over TLS to the controller's xDS port at `ip`, by the Service's name, trusting `roots`.
fn to_xds_port(ip: &str, roots: &Path, args: &[&str]) -> (i32, String) {
    let name = format!("{CONTROLLER}.{SYSTEM}.svc");
    let resolve = format!("{name}:{XDS_PORT}:{ip}");
    let url = format!("https://{name}:{XDS_PORT}/");
    let roots = roots.to_str().unwrap();
    curl(&[&["--http2", "--cacert", roots, "--resolve", &resolve], args, &[url.as_str()]].concat())
}

#[test]
fn the_controller_serves_proxies_only_over_tls_and_its_status_only_to_whom_the_api_server_allows() {
    let mesh = node::mesh();
    let (node, _turn) = (mesh.node, mesh.share());
    let ip = controller_ip(node);
    let controller = node.controller_pod();

    // Plaintext gRPC (h2c) on the xDS port gets no answer at all.
    let plaintext = format!("http://{ip}:{XDS_PORT}/");
    let (code, text) = curl(&["--http2-prior-knowledge", "--write-out", "HTTP %{http_code}", &plaintext]);
    assert!(code != 0 && text.contains("HTTP 000"), "plaintext was answered: {text}");

    // Over TLS, the certificate is for the Service's name and chains to the roots every
    // namespace holds; a client that trusts only other roots fails the handshake.
    let dir = tempfile::tempdir().unwrap();
    let mesh_roots = mesh_roots(node, dir.path());
    let other_roots = dir.path().join("other.pem");
    std::fs::write(&other_roots, meshctl::pki::make_root().unwrap().cert_pem).unwrap();
    let with = |roots: &Path| to_xds_port(&ip, roots, &["--verbose", "--output", "/dev/null"]);
    let (_, text) = with(&mesh_roots);
    assert!(text.contains("SSL certificate verify ok"), "the mesh's roots do not verify the controller: {text}");
    let (code, text) = with(&other_roots);
    assert_eq!(code, 60, "curl's 'peer certificate cannot be authenticated': {text}");

    // The status port is on the Pod's loopback: nothing answers on the Pod's address.
    let (code, text) = curl(&[&format!("http://{ip}:{STATUS_PORT}/debug/tls")]);
    assert_eq!(code, 7, "curl's 'failed to connect': {text}");

    // Through the API server: a user who may read Pods but not port-forward is refused; the
    // admin is answered.
    let reader = node.kubeconfig_for(
        "status-reader",
        json!([{ "apiGroups": [""], "resources": ["pods", "pods/proxy"], "verbs": ["get", "list"] }]),
    );
    let refused = node.controller_status_as(&reader, SYSTEM, &controller, "/debug/tls").unwrap_err();
    assert!(refused.contains("pods/portforward") && refused.to_lowercase().contains("forbidden"), "{refused}");
    let probes = node.controller_status(SYSTEM, &controller, "/debug/tls?timeout_ms=500");
    assert!(probes.is_object(), "{probes}");
}

#[test]
fn the_controllers_serving_certificate_is_renewed_under_load_and_fails_no_request() {
    let mesh = node::mesh();
    let _alone = mesh.alone();
    let node = mesh.node;
    // Renewed every 10 s; the proxies reconnect every 3 s, each time to the certificate of the
    // moment.
    let _renewing = node.controller_with(&["--serving-cert-lifetime", "20s", "--max-stream-age", "3s"]);
    let profile = Profile::start(node, "serving-cert", Some((100, 0)), &[]);
    let dir = tempfile::tempdir().unwrap();
    let (ip, roots) = (controller_ip(node), mesh_roots(node, dir.path()));
    let load = profile.load();
    // Each certificate is told by its validity's start.
    let mut served = BTreeSet::new();
    let renewed = common::within(Duration::from_secs(60), || {
        let (_, text) = to_xds_port(&ip, &roots, &["--verbose", "--output", "/dev/null"]);
        served.extend(text.lines().find_map(|l| l.trim().strip_prefix("*  start date: ").map(str::to_string)));
        served.len() >= 3
    });
    assert!(renewed, "the serving certificate was not renewed twice: {served:?}");
    // The gateway's proxy runs a change made after: it reconnected to the newest certificate.
    node.apply(&profile_route(profile.ns(), 0, 100).to_string());
    common::poll("v2 answers through the gateway", DEADLINE, || profile.send(5) == (0, 5, 0));
    let tally = load.stop();
    println!("serving certificate renewed {} times under load: {tally}", served.len() - 1);
    assert!(
        tally.sent > 0 && tally.failures.is_empty(),
        "no request fails while the certificate is renewed: {tally}\n{}",
        profile.controller_log()
    );
}
