//! Scraping cost per `top` refresh: one concurrent scrape of 100 admin endpoints, each serving
//! the page a demo-mesh sidecar (Envoy 1.40) returns to meshctl's filtered scrape (~26 KB,
//! ~280 lines), parsed and keyed as `top` does. In-process endpoints stand in for 100 Envoys, which would not fit
//! this machine next to each other; what is measured is meshctl's side: connections, transfer,
//! parsing, keying. Run with `cargo bench --bench scrape`; under `cargo test --all-targets` it
//! makes one pass as a smoke test.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use meshctl::metrics::scrape::{Target, scrape_all};

const PROXIES: usize = 100;

async fn admin_endpoint(page: Bytes) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let page = page.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |_| {
                    let page = page.clone();
                    async move { Ok::<_, Infallible>(hyper::Response::new(Full::new(page))) }
                });
                let _ =
                    hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    addr
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let page = Bytes::from(
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/metrics/sidecar-filtered.prom")).unwrap(),
    );
    let mut targets = Vec::new();
    for i in 0..PROXIES {
        targets.push(Target { node_id: format!("proxy-{i}"), admin: admin_endpoint(page.clone()).await, serves: None });
    }
    let runs = if benchmarking { 50 } else { 1 };
    let mut times = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        let results = scrape_all(&targets, Duration::from_secs(5)).await;
        times.push(start.elapsed());
        assert!(results.iter().all(|r| r.as_ref().is_ok_and(|s| s.inbound.is_some())));
    }
    times.sort();
    if benchmarking {
        let p99 = times[(times.len() * 99).div_ceil(100) - 1];
        println!(
            "scrape: {PROXIES} admin endpoints x {} KB, {runs} refreshes: median {:.1} ms, p99 {:.1} ms",
            page.len() / 1024,
            times[times.len() / 2].as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3
        );
    }
}
