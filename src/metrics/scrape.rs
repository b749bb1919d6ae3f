//! Reading every proxy's statistics at once: one request per admin endpoint, concurrently,
//! each with its own timeout, so a proxy that does not answer is reported and never hides the
//! others.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use super::{ProxyStats, parse};

/// A proxy and its admin endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub node_id: String,
    pub admin: SocketAddr,
    /// The instance it is the sidecar of; `None` for a gateway.
    pub serves: Option<Served>,
}

/// The instance a sidecar serves: what its inbound traffic is the traffic of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Served {
    pub namespace: String,
    /// The services it serves, the name it goes by first (a Kubernetes Pod may be selected by
    /// several Services: `profile` and `profile-v1`); never empty.
    pub services: Vec<String>,
    pub labels: BTreeMap<String, String>,
}

impl Served {
    /// The name it goes by.
    pub fn service(&self) -> &str {
        self.services.first().map_or("", String::as_str)
    }
}

/// Scrapes every target concurrently; the answer for each, in the targets' order.
pub async fn scrape_all(targets: &[Target], timeout: Duration) -> Vec<Result<ProxyStats, String>> {
    let tasks: Vec<_> = targets.iter().map(|t| tokio::spawn(scrape(t.admin, timeout))).collect();
    let mut results = Vec::with_capacity(tasks.len());
    for task in tasks {
        results.push(task.await.unwrap_or_else(|e| Err(e.to_string())));
    }
    results
}

pub async fn scrape(admin: SocketAddr, timeout: Duration) -> Result<ProxyStats, String> {
    let response =
        crate::http::get(admin, "localhost", "/stats/prometheus", timeout).await.map_err(|e| e.to_string())?;
    if response.status != 200 {
        return Err(format!("{admin} answered {}", response.status));
    }
    let text = std::str::from_utf8(&response.body).map_err(|e| format!("{admin}: {e}"))?;
    let samples = parse(text).map_err(|e| format!("{admin}: {e}"))?;
    Ok(ProxyStats::from_samples(&samples))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// An admin endpoint that answers every request with a captured Envoy stats page.
    async fn serve_captured() -> SocketAddr {
        let page =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/metrics/gateway.prom")).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let page = page.clone();
                tokio::spawn(async move {
                    let mut request = [0u8; 1024];
                    let _ = stream.read(&mut request).await;
                    let head =
                        format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", page.len());
                    let _ = stream.write_all(head.as_bytes()).await;
                    let _ = stream.write_all(page.as_bytes()).await;
                });
            }
        });
        addr
    }

    #[tokio::test]
    async fn a_proxy_that_does_not_answer_does_not_hide_the_others() {
        let good = serve_captured().await;
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let targets = [
            Target { node_id: "gone".into(), admin: closed, serves: None },
            Target { node_id: "gateway".into(), admin: good, serves: None },
        ];
        let results = scrape_all(&targets, Duration::from_secs(2)).await;
        assert!(results[0].as_ref().unwrap_err().contains("cannot connect"), "{:?}", results[0]);
        // The demo's six clusters: board, frontend, loadgen, and profile with subsets v1 and v2.
        assert_eq!(results[1].as_ref().unwrap().outbound.len(), 6);
    }
}
