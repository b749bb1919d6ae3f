//! mTLS on a real local mesh: `meshctl mtls enable` shuts out plaintext and foreign
//! certificates while mesh traffic goes on; mode changes and certificate rotations under load
//! lose no request; keys stay private.

mod common;

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use common::local_mesh::LocalMesh;
use meshctl::pki::{self, Identity, probe};
use serde_json::Value;

/// frontend calls profile through its sidecar on every request.
const MESH: &str = "apiVersion: meshctl.io/v1alpha1
kind: Workload
metadata: {name: profile-v1}
spec:
  service: profile
  labels: {version: v1}
  command: [meshctl, demo-app]
---
apiVersion: meshctl.io/v1alpha1
kind: Workload
metadata: {name: frontend}
spec:
  service: frontend
  command: [meshctl, demo-app]
  args: [--call, profile]
";

fn mesh() -> LocalMesh {
    let mesh = LocalMesh::install();
    assert_eq!(mesh.meshctl(&["apply", "-f", "-"], MESH).code, 0);
    mesh.wait_healthy();
    mesh
}

/// Where profile's sidecar accepts mesh traffic.
fn profile_inbound(mesh: &LocalMesh) -> SocketAddr {
    let status = mesh.status();
    let instance = status["instances"].as_array().unwrap().iter().find(|i| i["spec"]["service"] == "profile").unwrap();
    SocketAddr::from(([127, 0, 0, 1], instance["ports"]["inbound"].as_u64().unwrap() as u16))
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(future)
}

/// A plaintext GET straight to a sidecar, as a client outside the mesh would send it.
fn plaintext(addr: SocketAddr) -> Result<u16, String> {
    block_on(meshctl::http::get(addr, "profile", "/", Duration::from_secs(5)))
        .map(|r| r.status)
        .map_err(|e| e.to_string())
}

/// A GET over mTLS presenting a certificate for `client` from the CA in `ca_dir`, trusting
/// the mesh's roots and expecting profile's identity.
fn mtls(mesh: &LocalMesh, addr: SocketAddr, ca_dir: &Path) -> Result<u16, String> {
    let client =
        pki::Authority::open(ca_dir).unwrap().issue(&Identity::new("default", "outsider"), Duration::from_secs(60));
    let roots = pki::Authority::open(&mesh.state_dir()).unwrap().trust_bundle().to_string();
    let profile = Identity::new("default", "profile").uri();
    block_on(probe::mtls_get(addr, "profile", "/", &client.unwrap(), &roots, &profile, Duration::from_secs(5)))
        .map(|r| r.status)
        .map_err(|e| e.to_string())
}

fn frontend_through_gateway(mesh: &LocalMesh) {
    for _ in 0..5 {
        let (status, body) = mesh.get("frontend");
        assert_eq!(status, 200, "frontend → profile failed: {body}");
        assert_eq!(body["upstream"][0]["status"], 200, "{body}");
    }
}

fn mtls_status(mesh: &LocalMesh) -> (i32, Value) {
    let run = mesh.meshctl(&["mtls", "status", "-o", "json"], "");
    (run.code, serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}{}", run.stdout, run.stderr)))
}

#[test]
fn mtls_enable_shuts_out_plaintext_and_foreign_certificates_while_mesh_traffic_flows() {
    let mesh = mesh();
    let inbound = profile_inbound(&mesh);
    assert_eq!(plaintext(inbound), Ok(200), "before: anyone on the host reads profile through its sidecar");
    frontend_through_gateway(&mesh);
    let (code, before) = mtls_status(&mesh);
    assert_eq!(code, 0, "{before}");
    assert!(before["workloads"].as_array().unwrap().iter().all(|w| w["mode"] == "PERMISSIVE"), "{before}");

    let run = mesh.meshctl(&["mtls", "enable"], "");
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("peerauthentication.security.istio.io/default created"), "{}", run.stdout);
    assert!(run.stdout.contains("profile-v1-0.default: PERMISSIVE → STRICT"), "{}", run.stdout);

    let refused = plaintext(inbound);
    assert!(refused.is_err(), "after: plaintext must be refused, got {refused:?}");
    let other_ca = tempfile::tempdir().unwrap();
    let foreign = mtls(&mesh, inbound, other_ca.path());
    assert!(foreign.is_err(), "a certificate from another CA must be refused, got {foreign:?}");
    assert_eq!(mtls(&mesh, inbound, &mesh.state_dir()), Ok(200), "a mesh certificate is accepted");
    frontend_through_gateway(&mesh);

    let (code, after) = mtls_status(&mesh);
    assert_eq!(code, 0, "{after}");
    let workloads = after["workloads"].as_array().unwrap();
    assert_eq!(workloads.len(), 2, "{after}");
    for w in workloads {
        assert_eq!(
            (&w["mode"], &w["mtls_ok"], &w["plaintext_refused"]),
            (&"STRICT".into(), &true.into(), &true.into()),
            "{w}"
        );
        let identity = format!("spiffe://cluster.local/ns/default/sa/{}", w["service"].as_str().unwrap());
        assert_eq!(w["identity"], identity.as_str(), "{w}");
        let expires = meshctl::api::time::parse_rfc3339(w["cert_expires"].as_str().unwrap()).unwrap();
        let left = expires.duration_since(std::time::SystemTime::now()).unwrap();
        assert!(left > Duration::from_secs(23 * 3600) && left <= Duration::from_secs(24 * 3600), "{w}");
    }

    let run = mesh.meshctl(&["mtls", "disable"], "");
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("STRICT → PERMISSIVE"), "{}", run.stdout);
    assert_eq!(plaintext(inbound), Ok(200), "disabled: plaintext is accepted again");
    frontend_through_gateway(&mesh);

    assert_keys_private(&mesh);
}

/// Root keys are readable by their owner only, and no key appears in any file but those.
fn assert_keys_private(mesh: &LocalMesh) {
    let roots = mesh.state_dir().join("pki/roots");
    let keys: Vec<_> = std::fs::read_dir(&roots).unwrap().map(|e| e.unwrap().path().join("key.pem")).collect();
    assert!(!keys.is_empty());
    for key in &keys {
        let mode = std::fs::metadata(key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", key.display());
    }
    let mut pending = vec![mesh.state_dir()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if !keys.contains(&path) {
                let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
                assert!(!text.contains("PRIVATE KEY"), "key material in {}", path.display());
            }
        }
    }
}

#[test]
fn permissive_to_strict_and_certificate_rotations_under_load_lose_no_request() {
    let mesh = mesh();
    let traffic = mesh.load("frontend");
    let steps: [&[&str]; 4] = [
        &["mtls", "enable", "--mode", "permissive"],
        &["mtls", "enable", "--mode", "strict"],
        &["mtls", "rotate"],
        &["mtls", "rotate", "--root"],
    ];
    let old_root = mesh.status()["ca"]["signing"].as_str().unwrap().to_string();
    let mut outputs = String::new();
    for step in steps {
        let run = mesh.meshctl(step, "");
        assert_eq!(run.code, 0, "{step:?}: {}{}", run.stdout, run.stderr);
        outputs.push_str(&run.stdout);
        outputs.push_str(&run.stderr);
        // Let traffic run on each configuration for a while.
        std::thread::sleep(Duration::from_millis(500));
    }
    let (sent, failed) = traffic.stop();
    assert!(sent > 50, "too little traffic to tell: {sent}");
    assert_eq!(failed, 0, "{failed} of {sent} requests failed");

    let ca = &mesh.status()["ca"];
    assert_ne!(ca["signing"], old_root.as_str(), "{ca}");
    assert_eq!(ca["trusted"], serde_json::json!([ca["signing"]]), "only the new root is trusted: {ca}");
    assert!(!mesh.state_dir().join("pki/roots").join(&old_root).exists(), "the old root's key is gone");
    assert_eq!(mtls_status(&mesh).0, 0);
    assert!(!outputs.contains("PRIVATE KEY"));
    assert_keys_private(&mesh);
}
