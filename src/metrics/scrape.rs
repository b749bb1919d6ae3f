//! Reading every proxy's statistics at once: one request per admin endpoint, concurrently,
//! each with its own timeout, so a proxy that does not answer is reported and never hides the
//! others.

use std::net::SocketAddr;
use std::time::Duration;

use super::{ProxyStats, parse};

/// A proxy and its admin endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub node_id: String,
    pub admin: SocketAddr,
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
