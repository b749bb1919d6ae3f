//! `meshctl dashboard` run by a test, and its JSON API.

use std::io::BufRead;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

/// `meshctl dashboard --port 0 ARGS` with `envs`, stopped when dropped.
pub struct Dashboard {
    child: Child,
    address: SocketAddr,
}

impl Dashboard {
    pub fn start(args: &[&str], envs: &[(&str, &str)]) -> Dashboard {
        let mut child = Command::new(env!("CARGO_BIN_EXE_meshctl"))
            .args(["dashboard", "--port", "0"])
            .args(args)
            .env("NO_COLOR", "1")
            .envs(envs.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the dashboard starts");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let mut dashboard = Dashboard { child, address: SocketAddr::from(([127, 0, 0, 1], 0)) };
        let Some(url) = line.split_whitespace().find(|w| w.starts_with("http://")) else {
            let mut stderr = String::new();
            let _ = std::io::Read::read_to_string(&mut dashboard.child.stderr.take().unwrap(), &mut stderr);
            panic!("the dashboard printed no address: {line:?}\n{stderr}");
        };
        dashboard.address = url.trim_start_matches("http://").trim_end_matches('/').parse().unwrap();
        dashboard
    }

    pub fn url(&self) -> String {
        format!("http://{}/", self.address)
    }

    /// A GET of the API, which must answer 200 with JSON.
    pub fn get(&self, path: &str) -> Value {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let response =
            runtime.block_on(meshctl::http::get(self.address, "localhost", path, Duration::from_secs(10))).unwrap();
        assert_eq!(response.status, 200, "{path}: {}", String::from_utf8_lossy(&response.body));
        serde_json::from_slice(&response.body).unwrap()
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The edge from `source` to `target` in a `/api/graph` answer.
pub fn edge<'a>(graph: &'a Value, source: &str, target: &str) -> Option<&'a Value> {
    graph["edges"].as_array()?.iter().find(|e| e["source"] == source && e["target"] == target)
}
