//! mTLS on a real local mesh: `meshctl mtls enable` shuts out plaintext and foreign
//! certificates while mesh traffic goes on; mode changes and certificate rotations under load
//! lose no request; keys stay private.

use super::common;

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use common::local_mesh::{LocalMesh, first_line, local, tunnel};
use meshctl::api::Identity;
use meshctl::pki::{self, probe};
use serde_json::{Value, json};

/// frontend calls profile through its sidecar on every request.
fn mesh_yaml() -> String {
    [
        common::demo_workload("profile-v1", "profile", Some("v1"), &[]),
        common::demo_workload("frontend", "frontend", None, &["--call", "profile"]),
    ]
    .join("---\n")
}

fn mesh() -> LocalMesh {
    let mesh = LocalMesh::install();
    assert_eq!(mesh.meshctl(&["apply", "-f", "-"], &mesh_yaml()).code, 0);
    mesh.wait_healthy();
    mesh
}

/// Where profile's sidecar accepts mesh traffic.
fn profile_inbound(mesh: &LocalMesh) -> SocketAddr {
    let status = mesh.status();
    let instance = status["instances"].as_array().unwrap().iter().find(|i| i["spec"]["service"] == "profile").unwrap();
    SocketAddr::from(([127, 0, 0, 1], instance["ports"]["served"][0]["inbound"].as_u64().unwrap() as u16))
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

/// A client with a certificate for `default/outsider` from the CA in `ca_dir`, trusting the
/// mesh's roots.
fn client(mesh: &LocalMesh, ca_dir: &Path) -> probe::MtlsClient {
    let certificate =
        pki::Authority::open(ca_dir).unwrap().issue(&Identity::new("default", "outsider"), Duration::from_secs(60));
    let trust_bundle = pki::Authority::open(&mesh.state_dir()).unwrap().trust_bundle().to_string();
    probe::MtlsClient { certificate: certificate.unwrap(), trust_bundle }
}

/// A request over mTLS to the sidecar at `addr`, which must prove it runs `service`.
fn mtls(client: &probe::MtlsClient, addr: SocketAddr, service: &str, method: hyper::Method) -> Result<u16, String> {
    let identity = Identity::new("default", service).uri();
    block_on(client.request(addr, &identity, method, service, "/", &[], Duration::from_secs(5)))
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
    let foreign = mtls(&client(&mesh, other_ca.path()), inbound, "profile", hyper::Method::GET);
    assert!(foreign.is_err(), "a certificate from another CA must be refused, got {foreign:?}");
    let insider = client(&mesh, &mesh.state_dir());
    assert_eq!(mtls(&insider, inbound, "profile", hyper::Method::GET), Ok(200), "a mesh certificate is accepted");
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
                // The controller writes its status atomically: a temporary file listed a moment
                // ago may have been renamed away since.
                let Ok(bytes) = std::fs::read(&path) else { continue };
                let text = String::from_utf8_lossy(&bytes).into_owned();
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
    let check = mesh.meshctl(&["check"], "");
    let new_root = ca["signing"].as_str().unwrap();
    assert!(check.stdout.contains(&format!("certificates: 3 from root {new_root}")), "{}", check.stdout);
    let (code, status) = mtls_status(&mesh);
    assert_eq!(code, 0, "{status}");
    assert_eq!(
        (&status["rotation"]["root"], &status["rotation"]["stage"]),
        (&json!(true), &json!("Completed")),
        "{status}"
    );
    let table = mesh.meshctl(&["mtls", "status"], "");
    assert!(table.stdout.contains("rotation root-") && table.stdout.contains(": Completed: "), "{}", table.stdout);
    assert!(
        outputs.contains("every proxy trusts root") && outputs.contains("the old root is no longer trusted"),
        "{outputs}"
    );
    assert!(!outputs.contains("PRIVATE KEY"));
    assert_keys_private(&mesh);
    // Each rotation is an object in the store, its stage recorded.
    let listed = mesh.meshctl(&["get", "certificaterotations", "-n", "meshctl-system"], "");
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    assert_eq!(listed.stdout.matches("Completed").count(), 2, "{}", listed.stdout);
}

/// A request through the gateway: its status.
fn through_gateway(mesh: &LocalMesh, method: hyper::Method, host: &str, headers: &[(&str, &str)]) -> u16 {
    let gateway = SocketAddr::from(([127, 0, 0, 1], mesh.gateway));
    block_on(meshctl::http::request(gateway, method, host, "/", headers, Duration::from_secs(5)))
        .unwrap_or_else(|e| panic!("the gateway answers: {e}"))
        .status
}

/// A `security.istio.io/v1` policy named `name` that selects profile, with `spec` (YAML
/// indented by two) after its selector.
fn on_profile(kind: &str, name: &str, spec: &str) -> String {
    format!(
        "apiVersion: security.istio.io/v1\nkind: {kind}\nmetadata: {{name: {name}}}\nspec:\n  selector: {{matchLabels: {{app: profile}}}}\n  {spec}\n"
    )
}

/// Applies `yaml` and waits until every proxy runs it (`check` says so only then).
fn apply(mesh: &LocalMesh, yaml: &str) {
    let run = mesh.meshctl(&["apply", "-f", "-"], yaml);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    mesh.wait_healthy();
}

#[test]
fn authorization_allows_named_callers_denies_the_rest_and_a_deny_wins() {
    let mesh = mesh();
    let callers = "cluster.local/ns/default/sa/frontend, cluster.local/ns/istio-system/sa/meshctl-gateway";
    let allow = format!("action: ALLOW\n  rules:\n  - from:\n    - source: {{principals: [{callers}]}}");
    let deny = "action: DENY\n  rules:\n  - to:\n    - operation: {methods: [DELETE]}";
    apply(
        &mesh,
        &[
            on_profile("AuthorizationPolicy", "profile-callers", &allow),
            on_profile("AuthorizationPolicy", "profile-no-delete", deny),
        ]
        .join("---\n"),
    );
    // Connections the gateway opened before the change close within the drain time.
    common::poll("the DENY policy is in force", Duration::from_secs(10), || {
        through_gateway(&mesh, hyper::Method::DELETE, "profile", &[]) == 403
    });
    // frontend calls profile on every request, as an allowed caller.
    frontend_through_gateway(&mesh);
    assert_eq!(through_gateway(&mesh, hyper::Method::GET, "profile", &[]), 200, "the gateway is allowed");
    assert_eq!(through_gateway(&mesh, hyper::Method::DELETE, "profile", &[]), 403, "DENY wins over ALLOW");
    // Anyone else, even with a mesh certificate, is refused.
    let outsider = client(&mesh, &mesh.state_dir());
    assert_eq!(mtls(&outsider, profile_inbound(&mesh), "profile", hyper::Method::GET), Ok(403));
    // frontend itself has no policy: everyone may call it.
    assert_eq!(mtls(&outsider, frontend_inbound(&mesh), "frontend", hyper::Method::GET), Ok(200));
}

fn frontend_inbound(mesh: &LocalMesh) -> SocketAddr {
    let status = mesh.status();
    let instance = status["instances"].as_array().unwrap().iter().find(|i| i["spec"]["service"] == "frontend").unwrap();
    SocketAddr::from(([127, 0, 0, 1], instance["ports"]["served"][0]["inbound"].as_u64().unwrap() as u16))
}

/// An ES256 signing key made for the test, and its JWKS.
struct Issuer {
    key: ring::signature::EcdsaKeyPair,
    jwks: String,
}

const ISSUER: &str = "https://issuer.meshctl.test";

impl Issuer {
    fn new() -> Issuer {
        use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
        let random = ring::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &random).unwrap();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &random).unwrap();
        // An uncompressed point: 0x04, then x and y.
        let point = key.public_key().as_ref().to_vec();
        let jwks = serde_json::json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "test", "alg": "ES256",
            "x": b64(&point[1..33]), "y": b64(&point[33..])}]});
        Issuer { key, jwks: jwks.to_string() }
    }

    /// A token from the test issuer for `subject`, valid for an hour.
    fn token(&self, subject: &str) -> String {
        self.token_from(ISSUER, subject)
    }

    fn token_from(&self, issuer: &str, subject: &str) -> String {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        let header = b64(br#"{"alg":"ES256","typ":"JWT","kid":"test"}"#);
        let claims = serde_json::json!({"iss": issuer, "sub": subject, "iat": now, "exp": now + 3600});
        let signed = format!("{header}.{}", b64(claims.to_string().as_bytes()));
        let signature = self.key.sign(&ring::rand::SystemRandom::new(), signed.as_bytes()).unwrap();
        format!("{signed}.{}", b64(signature.as_ref()))
    }
}

const REMOTE_ISSUER: &str = "https://remote.meshctl.test";

/// Serves `body` as JSON to every request on a free port, for as long as the test runs;
/// returns its URL.
fn serve_forever(body: &str) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    let response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let _ = stream.write_all(response.as_bytes());
        }
    });
    url
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[test]
fn jwt_a_valid_token_passes_a_bad_one_gets_401_and_a_required_one_403_when_missing() {
    let mesh = mesh();
    let issuer = Issuer::new();
    let jwks = serde_json::to_string(&issuer.jwks).unwrap();
    apply(
        &mesh,
        &on_profile(
            "RequestAuthentication",
            "profile-jwt",
            &format!("jwtRules:\n  - issuer: {ISSUER}\n    jwks: {jwks}"),
        ),
    );
    let token = issuer.token("alice");
    let bearer = format!("Bearer {token}");
    let get = |headers: &[(&str, &str)]| through_gateway(&mesh, hyper::Method::GET, "profile", headers);
    common::poll("tokens are checked", Duration::from_secs(10), || get(&[("authorization", "Bearer x.y.z")]) == 401);
    assert_eq!(get(&[("authorization", &bearer)]), 200, "a valid token passes");
    assert_eq!(get(&[]), 200, "no token passes while no policy requires one");
    // The same signature over other claims.
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    parts[1] =
        b64(serde_json::json!({"iss": ISSUER, "sub": "mallory", "exp": 4_000_000_000u64}).to_string().as_bytes());
    assert_eq!(get(&[("authorization", &format!("Bearer {}", parts.join(".")))]), 401, "a tampered token");
    let stranger = Issuer::new();
    assert_eq!(get(&[("authorization", &format!("Bearer {}", stranger.token("alice")))]), 401, "another key");

    // Keys fetched from a jwksUri work alike; the sidecar fetches them itself.
    let remote = Issuer::new();
    let jwks_uri = serve_forever(&remote.jwks);
    let rule = format!("jwtRules:\n  - issuer: {REMOTE_ISSUER}\n    jwksUri: {jwks_uri}");
    apply(&mesh, &on_profile("RequestAuthentication", "profile-remote-jwt", &rule));
    let remote_bearer = format!("Bearer {}", remote.token_from(REMOTE_ISSUER, "carol"));
    common::poll("the remote JWKS is fetched", Duration::from_secs(10), || {
        get(&[("authorization", &remote_bearer)]) == 200
    });
    assert_eq!(get(&[("authorization", &bearer)]), 200, "the inline keys still work beside it");

    let rule = format!("rules:\n  - from:\n    - source: {{requestPrincipals: [{ISSUER}/alice]}}");
    apply(&mesh, &on_profile("AuthorizationPolicy", "profile-needs-alice", &rule));
    common::poll("the policy requiring a token is in force", Duration::from_secs(10), || get(&[]) == 403);
    assert_eq!(get(&[]), 403, "a required token that is missing");
    assert_eq!(get(&[("authorization", &bearer)]), 200, "alice's token is the principal the policy names");
    assert_eq!(get(&[("authorization", &format!("Bearer {}", issuer.token("bob")))]), 403, "bob is not alice");
}

#[test]
fn certificates_are_renewed_at_half_life_without_restarting_a_proxy() {
    let (mesh, _) = LocalMesh::start("install", &["--local", "--cert-lifetime", "6s"]);
    assert_eq!(mesh.meshctl(&["apply", "-f", "-"], &mesh_yaml()).code, 0);
    mesh.wait_healthy();
    let run = mesh.meshctl(&["mtls", "enable"], "");
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let pids = mesh.pids();
    let traffic = mesh.load("frontend");
    // Each proxy's certificate lives 6 s and is replaced every 3 s: watch every proxy get at
    // least two new ones.
    let mut seen: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> = Default::default();
    common::poll("two renewals of every certificate", Duration::from_secs(20), || {
        for p in mesh.status()["proxies"].as_array().unwrap() {
            let issued = p["cert_fingerprint"].as_str().unwrap().to_string();
            seen.entry(p["node_id"].as_str().unwrap().to_string()).or_default().insert(issued);
        }
        seen.len() == 3 && seen.values().all(|issued| issued.len() >= 3)
    });
    let (sent, failed) = traffic.stop();
    assert_eq!(failed, 0, "{failed} of {sent} requests failed across renewals");
    assert_eq!(mesh.pids(), pids, "no process was restarted");
    assert_eq!(mtls_status(&mesh).0, 0);
}

/// `db` serves HTTP on port 80 and TCP (the demo app's echo) on 5432; `client` calls nothing
/// by itself: the test calls through its sidecar, as its application would; STRICT mTLS.
fn multi_port() -> String {
    [
        common::demo_workload_serving("db", "db", Some("v1"), &[], &[("tcp", 5432)]),
        common::demo_workload("client", "client", None, &[]),
        "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: istio-system}\nspec: {mtls: {mode: STRICT}}\n".into(),
    ]
    .join("---\n")
}

#[test]
fn every_port_of_a_service_is_meshed_and_strict_refuses_plaintext_on_each() {
    use std::io::Write;
    let mesh = LocalMesh::install();
    assert_eq!(mesh.meshctl(&["apply", "-f", "-"], &multi_port()).code, 0);
    mesh.wait_healthy();
    let (db, client) = (mesh.instance("db"), mesh.instance("client"));
    let outbound = local(&client["ports"]["outbound"]);

    // HTTP by name, and TCP through a tunnel: both over mTLS between the sidecars.
    let answer = block_on(meshctl::http::get(outbound, "db", "/", Duration::from_secs(5))).unwrap();
    assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
    let mut stream = tunnel(outbound, "db:5432").unwrap();
    assert_eq!(first_line(&mut stream).unwrap(), "db v1\n");
    stream.write_all(b"ping\n").unwrap();
    assert_eq!(first_line(&mut stream).unwrap(), "ping\n", "the TCP port echoes through both sidecars");

    // Straight to either of db's mesh addresses without a certificate: nothing gets through.
    for served in db["ports"]["served"].as_array().unwrap() {
        let inbound = local(&served["inbound"]);
        let mut stream = std::net::TcpStream::connect(inbound).unwrap();
        stream.write_all(b"GET / HTTP/1.1\r\nHost: db\r\n\r\n").unwrap();
        let said = first_line(&mut stream);
        assert!(said.is_err(), "plaintext to {inbound} got {said:?}");
    }
    // A port the service does not have is not tunnelled to.
    assert!(tunnel(outbound, "db:6379").is_err());
}

/// Sends a line to db's TCP port through `client`'s sidecar: what comes back after db's
/// greeting, or where the exchange broke.
fn echo(outbound: SocketAddr) -> Result<String, String> {
    use std::io::Write;
    let mut stream = tunnel(outbound, "db:5432")?;
    stream.write_all(b"ping\n").map_err(|e| e.to_string())?;
    let greeting = first_line(&mut stream)?;
    assert_eq!(greeting, "db v1\n");
    first_line(&mut stream)
}

#[test]
fn a_tcp_port_is_authorized_by_peer_identity_and_http_fields_on_it_are_refused() {
    let mesh = LocalMesh::install();
    assert_eq!(mesh.meshctl(&["apply", "-f", "-"], &multi_port()).code, 0);
    mesh.wait_healthy();
    let outbound = local(&mesh.instance("client")["ports"]["outbound"]);
    assert_eq!(echo(outbound), Ok("ping\n".into()), "allowed before the policy");

    let deny = "apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-client, namespace: default}
spec:
  selector: {matchLabels: {app: db}}
  action: DENY
  rules:
  - from: [{source: {principals: [cluster.local/ns/default/sa/client]}}]
    to: [{operation: {ports: [\"5432\"]}}]
";
    apply(&mesh, deny);
    // Envoy judges a connection when its client first sends (as Istio's sidecars do): db's
    // sidecar closes it then, and nothing the client sent reaches db. (The proxies have taken
    // the policy; a listener they took serves new connections a moment later.)
    common::poll("db's sidecar refuses the client's connections", Duration::from_secs(10), || echo(outbound).is_err());
    let answer = block_on(meshctl::http::get(outbound, "db", "/", Duration::from_secs(5))).unwrap();
    assert_eq!(answer.status, 200, "the policy is about port 5432 only");

    // The same intent written with HTTP fields, for a port that carries TCP: refused, not stored.
    let http_only = deny.replace("name: no-client", "name: no-get").replace(
        "from: [{source: {principals: [cluster.local/ns/default/sa/client]}}]\n    to: [{operation: {ports: [\"5432\"]}}]",
        "to: [{operation: {methods: [GET], ports: [\"5432\"]}}]",
    );
    let run = mesh.meshctl(&["apply", "-f", "-"], &http_only);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let said = format!("{}{}", run.stdout, run.stderr);
    assert!(said.contains("MESH0305") && said.contains("5432"), "{said}");
    assert_eq!(mesh.meshctl(&["get", "authorizationpolicy", "no-get"], "").code, 1, "nothing was stored");
}
