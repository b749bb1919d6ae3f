//! `meshctl demo-app` (hidden): runs the demo application as a workload process.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use anyhow::{Context, anyhow};

use super::{Exit, Failure, Outcome};
use crate::api::Duration;
use crate::demo_app::{self, DemoApp};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The service name it answers with.
    #[arg(long, env = "MESHCTL_SERVICE")]
    name: String,
    /// The version it answers with.
    #[arg(long, env = "MESHCTL_VERSION", default_value = "v1")]
    version: String,
    /// Added to every answer.
    #[arg(long, default_value = "0s")]
    latency: Duration,
    /// Percent of requests answered 503 (spread evenly).
    #[arg(long, default_value_t = 0.0)]
    error_rate: f64,
    /// A service to call on every request, as HOST[:PORT][/PATH], through the sidecar.
    #[arg(long = "call", value_name = "HOST[:PORT][/PATH]")]
    calls: Vec<String>,
    /// Send requests to this service by itself (HOST[:PORT][/PATH]), through the sidecar;
    /// `grpc://HOST:PORT` calls the demo gRPC method instead.
    #[arg(long, value_name = "HOST[:PORT][/PATH]")]
    generate: Option<String>,
    /// Requests per second for --generate.
    #[arg(long, default_value_t = 5.0)]
    rate: f64,
    /// Send --generate's requests to the mesh's ingress gateway instead, as clients outside
    /// the mesh do.
    #[arg(long, requires = "generate")]
    via_gateway: bool,
    /// The mesh's ingress gateway, HOST:PORT (the local mesh tells every workload; on a
    /// cluster, its Service).
    #[arg(long, env = "MESH_GATEWAY", value_name = "HOST:PORT")]
    gateway: Option<String>,
    /// The port to listen on.
    #[arg(long, env = "PORT")]
    port: u16,
    /// Also serve a TCP port: each connection is greeted with `SERVICE VERSION` and its bytes
    /// echoed. The mesh gives a Workload port named `tcp` in `PORT_TCP`.
    #[arg(long, env = "PORT_TCP")]
    tcp_port: Option<u16>,
    /// Also serve the demo gRPC method (`meshctl.demo.Demo/Hello`, over h2c) with the same
    /// latency and error rate; failures are UNAVAILABLE. A Workload port named `grpc` is in
    /// `PORT_GRPC`.
    #[arg(long, env = "PORT_GRPC")]
    grpc_port: Option<u16>,
    /// The address to listen on: 0.0.0.0 in a Pod, which is reached on its own IP.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    address: IpAddr,
    /// The sidecar's outbound listener, which the local mesh tells every workload; without
    /// it, calls go to their hosts by name, as in a Pod whose sidecar captures them.
    #[arg(long, env = "MESH_OUTBOUND")]
    outbound: Option<SocketAddr>,
    /// Also answer with the request as it arrived: its path (and query), and its headers, to
    /// see what routes rewrote.
    #[arg(long)]
    echo: bool,
}

pub fn run(args: Args) -> Outcome {
    if !(0.0..=100.0).contains(&args.error_rate) {
        return Err(Failure::usage(anyhow!("--error-rate is a percentage: give a number from 0 to 100")));
    }
    let outbound = args.outbound.map(|a| a.to_string());
    let load = match args.generate {
        None => None,
        Some(target) => {
            let entry = if args.via_gateway {
                let gateway = args.gateway.ok_or_else(|| {
                    Failure::usage(anyhow!("--via-gateway needs --gateway (MESH_GATEWAY): where the gateway is"))
                })?;
                Some(gateway)
            } else {
                outbound.clone()
            };
            Some(demo_app::Load { target, per_second: args.rate, entry })
        }
    };
    let app = DemoApp {
        service: args.name.clone(),
        version: args.version.clone(),
        latency: args.latency.0,
        error_rate: args.error_rate / 100.0,
        calls: args.calls,
        proxy: outbound,
        load,
        echo: args.echo,
    };
    let runtime = tokio::runtime::Runtime::new().map_err(Failure::environment)?;
    runtime.block_on(async {
        let listen = |port: u16| async move {
            let addr = SocketAddr::new(args.address, port);
            tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr}"))
                .map_err(Failure::environment)
        };
        let listener = listen(args.port).await?;
        if let Some(port) = args.grpc_port {
            tokio::spawn(demo_app::serve_grpc(app.clone(), listen(port).await?));
        }
        if let Some(port) = args.tcp_port {
            tokio::spawn(demo_app::serve_tcp(args.name, args.version, listen(port).await?));
        }
        tokio::select! {
            _ = demo_app::serve(app, listener) => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        Ok(Exit::Success)
    })
}
