//! A whole local mesh for tests, through the real binary, torn down when dropped.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::Value;

/// A local mesh in a temporary state directory, torn down (every process it started) when
/// dropped, however the test ends.
pub struct LocalMesh {
    dir: tempfile::TempDir,
    pub gateway: u16,
    /// A controller this test runs in the foreground, rather than one `install` started.
    controller: Option<std::process::Child>,
}

impl LocalMesh {
    pub fn install() -> LocalMesh {
        LocalMesh::start("install", &["--local"]).0
    }

    /// Runs `meshctl COMMAND ARGS --gateway-port N` in a fresh state directory.
    pub fn start(command: &str, args: &[&str]) -> (LocalMesh, super::Run) {
        let mesh = LocalMesh { dir: tempfile::tempdir().unwrap(), gateway: super::free_port(), controller: None };
        let port = mesh.gateway.to_string();
        let mut all = vec![command];
        all.extend(args);
        all.extend(["--gateway-port", &port]);
        let run = mesh.meshctl(&all, "");
        assert_eq!(run.code, 0, "{command} failed: {}{}", run.stdout, run.stderr);
        (mesh, run)
    }

    /// Runs `meshctl controller --local ARGS` in the foreground, as an operator would, and
    /// waits until the mesh is healthy.
    pub fn controller(args: &[&str]) -> LocalMesh {
        let mut mesh = LocalMesh { dir: tempfile::tempdir().unwrap(), gateway: super::free_port(), controller: None };
        let child = Command::new(env!("CARGO_BIN_EXE_meshctl"))
            .args(["controller", "--local", "--gateway-port", &mesh.gateway.to_string()])
            .args(args)
            .env("MESHCTL_STATE_DIR", mesh.state_dir())
            .env("MESHCTL_ENVOY", super::envoy::binary())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the controller starts");
        mesh.controller = Some(child);
        mesh.wait_healthy();
        mesh
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("mesh")
    }

    pub fn meshctl(&self, args: &[&str], stdin: &str) -> super::Run {
        super::meshctl_in(
            args,
            stdin,
            &[
                ("MESHCTL_STATE_DIR", self.state_dir().to_str().unwrap()),
                ("MESHCTL_ENVOY", super::envoy::binary().to_str().unwrap()),
            ],
        )
    }

    pub fn status(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.state_dir().join("status.json")).unwrap()).unwrap()
    }

    /// The status file's record of the first instance of `service`.
    pub fn instance(&self, service: &str) -> Value {
        let status = self.status();
        let instances = status["instances"].as_array().unwrap();
        instances.iter().find(|i| i["spec"]["service"] == service).cloned().unwrap_or(Value::Null)
    }

    /// The store's revision now.
    pub fn store_revision(&self) -> u64 {
        let store: Value =
            serde_json::from_slice(&std::fs::read(self.state_dir().join("resources.json")).unwrap()).unwrap();
        store["revision"].as_u64().unwrap()
    }

    /// Whether every proxy has ACKed a configuration built from store `revision` or later, as
    /// the controller reports it.
    pub fn proxies_run(&self, revision: u64) -> bool {
        // The controller may be rewriting the file: a read that fails is a "not yet".
        let status: Option<Value> =
            std::fs::read(self.state_dir().join("status.json")).ok().and_then(|b| serde_json::from_slice(&b).ok());
        status.is_some_and(|s| {
            s["revision"].as_u64().is_some_and(|r| r >= revision)
                && s["proxies"].as_array().is_some_and(|p| p.iter().all(|p| p["sync"] == "Synced"))
        })
    }

    /// Every pid the status file names.
    pub fn pids(&self) -> Vec<u32> {
        let status = self.status();
        let mut pids: Vec<u32> = vec![status["pid"].as_u64().unwrap() as u32];
        pids.extend(status["gateway_pid"].as_u64().map(|p| p as u32));
        for g in status["gateways"].as_array().into_iter().flatten() {
            pids.extend(g["pid"].as_u64().map(|p| p as u32));
        }
        for i in status["instances"].as_array().unwrap() {
            pids.extend(["app_pid", "sidecar_pid"].iter().filter_map(|k| i[k].as_u64()).map(|p| p as u32));
        }
        pids
    }

    /// One GET through the gateway: status and body.
    pub fn get(&self, host: &str) -> (u16, Value) {
        self.try_get(host, Duration::from_secs(10)).expect("the gateway answers")
    }

    /// One GET through the gateway, which may not answer within `timeout`.
    pub fn try_get(&self, host: &str, timeout: Duration) -> Result<(u16, Value), meshctl::http::HttpError> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], self.gateway));
        let response = runtime.block_on(meshctl::http::get(addr, host, "/", timeout))?;
        Ok((response.status, serde_json::from_slice(&response.body).unwrap_or(Value::Null)))
    }

    /// `n` GETs at once (the demo's v2 takes 2 s to answer each): status, body and how long
    /// the client waited for each.
    pub fn get_many(&self, host: &str, n: usize) -> Vec<(u16, Value, Duration)> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], self.gateway));
        runtime.block_on(async {
            let requests: Vec<_> = (0..n)
                .map(|_| {
                    let host = host.to_string();
                    tokio::spawn(async move {
                        let start = std::time::Instant::now();
                        let response = meshctl::http::get(addr, &host, "/", Duration::from_secs(10)).await;
                        (response, start.elapsed())
                    })
                })
                .collect();
            let mut answers = Vec::new();
            for r in requests {
                let (response, elapsed) = r.await.unwrap();
                let response = response.expect("the gateway answers");
                answers.push((response.status, serde_json::from_slice(&response.body).unwrap_or(Value::Null), elapsed));
            }
            answers
        })
    }

    /// Waits until `meshctl check` says all is healthy; fails the test with what it says after
    /// 30 s.
    pub fn wait_healthy(&self) {
        let deadline = Duration::from_secs(30);
        if !super::within(deadline, || self.meshctl(&["check"], "").code == 0) {
            panic!("`meshctl check` still fails after {deadline:?}:\n{}", self.meshctl(&["check"], "").stdout);
        }
    }
}

/// Requests through the gateway, one after another, until stopped.
pub struct Load {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<(usize, usize)>>,
}

impl LocalMesh {
    /// Starts sending GETs for `host` through the gateway.
    pub fn load(&self, host: &str) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let gateway = std::net::SocketAddr::from(([127, 0, 0, 1], self.gateway));
        let (host, stopped) = (host.to_string(), stop.clone());
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let (mut sent, mut failed) = (0, 0);
            let start = std::time::Instant::now();
            while !stopped.load(Ordering::Relaxed) {
                sent += 1;
                let answer = runtime.block_on(meshctl::http::get(gateway, &host, "/", Duration::from_secs(5)));
                let ok = answer.as_ref().is_ok_and(|r| r.status == 200);
                if !ok {
                    // Shown with a failing test's output: when, and what the client got.
                    let what = match &answer {
                        Ok(r) => format!("{} {}", r.status, String::from_utf8_lossy(&r.body)),
                        Err(e) => e.to_string(),
                    };
                    eprintln!("load on {host}: request {sent} at {:?} failed: {what}", start.elapsed());
                }
                failed += usize::from(!ok);
                std::thread::sleep(Duration::from_millis(5));
            }
            (sent, failed)
        });
        Load { stop, thread: Some(thread) }
    }
}

impl Load {
    /// Stops the load: how many requests were sent, and how many failed.
    pub fn stop(mut self) -> (usize, usize) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Drop for LocalMesh {
    fn drop(&mut self) {
        let pids = std::fs::read(self.state_dir().join("status.json")).ok().map(|_| self.pids()).unwrap_or_default();
        let _ = self.meshctl(&["uninstall", "--local"], "");
        if let Some(mut controller) = self.controller.take() {
            let _ = controller.kill();
            let _ = controller.wait();
        }
        for pid in pids {
            if alive(pid) {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            }
        }
    }
}

pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|s| s.rsplit_once(") ").is_some_and(|(_, r)| !r.starts_with('Z')))
}

/// The loopback address at a port the status file records.
pub fn local(port: &Value) -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], port.as_u64().unwrap() as u16))
}

/// Opens a tunnel to `authority` through the HTTP proxy at `proxy` (`CONNECT`, as `curl -p`
/// does) and returns the stream once the proxy said 200.
pub fn tunnel(proxy: std::net::SocketAddr, authority: &str) -> Result<std::net::TcpStream, String> {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(proxy).map_err(|e| e.to_string())?;
    write!(stream, "CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n").map_err(|e| e.to_string())?;
    let status = first_line(&mut stream)?;
    if !status.starts_with("HTTP/1.1 200") {
        return Err(format!("the proxy answered {status:?}"));
    }
    // The rest of the head, up to its empty line; the tunnel's bytes follow.
    while first_line(&mut stream)? != "\r\n" {}
    Ok(stream)
}

/// What `stream` says next, up to a line's end (read byte by byte, so nothing after it is
/// taken), or why it said nothing.
pub fn first_line(stream: &mut std::net::TcpStream) -> Result<String, String> {
    use std::io::Read;
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut seen = Vec::new();
    let mut byte = [0u8; 1];
    while !seen.ends_with(b"\n") {
        match stream.read(&mut byte) {
            Ok(0) => return Err(format!("closed after {:?}", String::from_utf8_lossy(&seen))),
            Ok(_) => seen.push(byte[0]),
            Err(e) => return Err(format!("{e} after {:?}", String::from_utf8_lossy(&seen))),
        }
    }
    Ok(String::from_utf8_lossy(&seen).into_owned())
}
