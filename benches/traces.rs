//! The controller's memory under tracing: a local mesh whose gateway and sidecar trace every
//! request (the local default), 1,000 requests a second sent through the gateway for 60 s
//! (three spans each: the gateway's server and client spans, the sidecar's server span), and
//! the controller's resident memory read every second. The collector keeps at most
//! `SPAN_CAPACITY` spans, so memory must level off once it is full (after about 17 s) and stay
//! under `RSS_BOUND_MB`; the bench fails if it does not. Run with `cargo bench --bench traces`;
//! under `cargo test` it does nothing.

#[path = "../tests/common/mod.rs"]
mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::local_mesh::LocalMesh;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use meshctl::observe::trace::SPAN_CAPACITY;

const RATE: u64 = 1_000;
const SECONDS: u64 = 60;
/// Keep-alive connections the load is spread over: a fresh connection per request would
/// leave 60,000 sockets in TIME_WAIT, more than the ephemeral ports.
const CONNECTIONS: u64 = 20;
/// The controller's resident memory must stay under this, with the collector full (the
/// README's figure).
const RSS_BOUND_MB: f64 = 64.0;

/// One connection's share of the load: a request every `CONNECTIONS / RATE` seconds, on one
/// keep-alive connection (a new one if it breaks).
async fn send(gateway: SocketAddr, until: Instant, sent: Arc<AtomicU64>, answered: Arc<AtomicU64>) {
    let mut every = tokio::time::interval(Duration::from_micros(1_000_000 * CONNECTIONS / RATE));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut connection = None;
    while Instant::now() < until {
        every.tick().await;
        if connection.is_none() {
            let Ok(stream) = tokio::net::TcpStream::connect(gateway).await else { continue };
            let Ok((sender, driver)) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await else {
                continue;
            };
            tokio::spawn(driver);
            connection = Some(sender);
        }
        let sender = connection.as_mut().expect("connected");
        let request = hyper::Request::get("/").header("host", "echo").body(Empty::<Bytes>::new()).unwrap();
        sent.fetch_add(1, Ordering::Relaxed);
        match sender.send_request(request).await {
            Ok(response) => {
                let ok = response.status() == 200;
                if response.into_body().collect().await.is_ok() && ok {
                    answered.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(_) => connection = None,
        }
    }
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let mesh = LocalMesh::install();
    let echo = common::demo_workload("echo", "echo", Some("v1"), &["--name", "echo"]);
    assert_eq!(mesh.meshctl(&["apply", "-f", "-", "--wait"], &echo).code, 0);
    mesh.wait_healthy();
    let controller = mesh.status()["pid"].as_u64().unwrap().to_string();
    let gateway = SocketAddr::from(([127, 0, 0, 1], mesh.gateway));
    let (sent, answered) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let start = Instant::now();
    let until = start + Duration::from_secs(SECONDS);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let load = {
        let (sent, answered) = (sent.clone(), answered.clone());
        std::thread::spawn(move || {
            runtime.block_on(async {
                let tasks: Vec<_> = (0..CONNECTIONS)
                    .map(|_| tokio::spawn(send(gateway, until, sent.clone(), answered.clone())))
                    .collect();
                for task in tasks {
                    task.await.unwrap();
                }
            })
        })
    };
    let before = common::memory::resident_mb(&controller);
    let mut samples = Vec::new();
    while Instant::now() < until {
        std::thread::sleep(Duration::from_secs(1));
        samples.push((start.elapsed().as_secs(), common::memory::resident_mb(&controller)));
    }
    load.join().unwrap();
    // Spans still in flight arrive within a second or two.
    std::thread::sleep(Duration::from_secs(3));
    let after = common::memory::resident_mb(&controller);
    let listed = mesh.meshctl(&["trace", "--limit", "1000000", "-o", "json"], "");
    let traces: serde_json::Value = serde_json::from_str(&listed.stdout).unwrap();
    let spans: usize = traces["traces"].as_array().unwrap().iter().map(|t| t["spans"].as_array().unwrap().len()).sum();

    let (sent, answered) = (sent.load(Ordering::Relaxed), answered.load(Ordering::Relaxed));
    let peak = samples.iter().map(|(_, mb)| *mb).fold(after, f64::max);
    println!("traces: {RATE} requests/s through the gateway for {SECONDS} s, every one traced (3 spans each)");
    println!("  sent {sent} ({:.0}/s), answered 200: {answered}", sent as f64 / SECONDS as f64);
    println!("  spans held at the end: {spans} (bound {SPAN_CAPACITY})");
    let at = |second: u64| samples.iter().find(|(s, _)| *s >= second).map_or(f64::NAN, |(_, mb)| *mb);
    println!(
        "  controller RSS (MB): before {before:.1}; at 10 s {:.1}, 20 s {:.1}, 30 s {:.1}, 40 s {:.1}, 50 s {:.1}, 60 s {:.1}; after {after:.1}; peak {peak:.1} (bound {RSS_BOUND_MB})",
        at(10),
        at(20),
        at(30),
        at(40),
        at(50),
        at(60)
    );
    assert!(spans <= SPAN_CAPACITY, "the collector holds {spans} spans, more than its bound");
    assert!(peak < RSS_BOUND_MB, "the controller's RSS reached {peak:.1} MB, over the bound of {RSS_BOUND_MB} MB");
}
