//! `meshctl controller`: the control plane in the foreground, for the local mesh (what
//! `install --local` starts in the background) or for a cluster (what the Deployment
//! `meshctl install` makes runs).

use std::net::SocketAddr;
use std::sync::Arc;

use clap::ArgGroup;

use super::cluster::ClusterArgs;
use super::local::{EnvoyArg, StateDir, cert_lifetime};
use super::{Exit, Failure, Outcome};
use crate::controller;
use crate::controller::rotation::Observer;
use crate::kube;
use crate::kube::client::Cluster;
use crate::kube::install::{self, NAMESPACE, STATUS_PORT, WEBHOOK_PORT, XDS_PORT};
use crate::mesh::cluster::ClusterMesh;
use crate::runtime;
use crate::translate::{OutboundPolicy, Tracing};

#[derive(Debug, clap::Args)]
#[command(group(ArgGroup::new("mode").required(true).args(["local", "kubernetes"])))]
#[command(group(ArgGroup::new("local-mesh").multiple(true).requires("local").args(["gateway_port", "envoy"])))]
#[command(group(
    ArgGroup::new("cluster-mesh")
        .multiple(true)
        .requires("kubernetes")
        .args([
            "kubeconfig",
            "context",
            "xds_address",
            "status_address",
            "webhook_address",
            "max_stream_age",
            "system_namespace",
            "lease_duration",
            "init_image",
            "proxy_image",
        ])
))]
pub struct ControllerArgs {
    /// Run the local mesh's control plane: its workloads, sidecars and gateway as processes
    /// on this machine.
    #[arg(long)]
    local: bool,
    /// Run a cluster's control plane: Services, EndpointSlices and Pods from the API server,
    /// with the Pod's ServiceAccount or --kubeconfig.
    #[arg(long)]
    kubernetes: bool,
    /// Where the ingress gateway listens, on 127.0.0.1 (0 picks a free port).
    #[arg(long, default_value_t = 15080)]
    gateway_port: u16,
    /// How long workload certificates live (2s to 366d); they are renewed at half-life.
    #[arg(long, default_value = "24h", value_parser = cert_lifetime)]
    cert_lifetime: crate::api::Duration,
    /// How often the local mesh looks at its processes (exits, moved ports). A store change,
    /// a proxy's ACK or a certificate falling due wakes the controller at once; a cluster's
    /// controller is woken by its watches and has no period.
    #[arg(long, default_value = "200ms", conflicts_with = "kubernetes")]
    resync_period: crate::api::Duration,
    /// The percentage of requests that start a trace, 0 to 100 [default: 100 with --local, 1
    /// with --kubernetes]
    #[arg(long, value_name = "PERCENT", value_parser = Tracing::parse)]
    trace_sampling: Option<Tracing>,
    /// Where calls to hosts that no service or ServiceEntry has go: ALLOW_ANY (on, as
    /// addressed) or REGISTRY_ONLY (refused: 502 for HTTP, a closed connection for TCP).
    #[arg(long, value_name = "MODE", default_value = "ALLOW_ANY", value_parser = OutboundPolicy::parse)]
    outbound_traffic_policy: OutboundPolicy,
    #[command(flatten)]
    envoy: EnvoyArg,
    #[command(flatten)]
    state: StateDir,
    #[command(flatten)]
    cluster: ClusterArgs,
    /// Where proxies reach the xDS server (over TLS).
    #[arg(long, default_value_t = SocketAddr::from(([0, 0, 0, 0], XDS_PORT)))]
    xds_address: SocketAddr,
    /// Where the status (`/debug/status`, `/debug/tls`, `/debug/traces`) is served: the Pod's
    /// loopback, which only a caller allowed to port-forward to the Pod reaches.
    #[arg(long, default_value_t = SocketAddr::from(([127, 0, 0, 1], STATUS_PORT)))]
    status_address: SocketAddr,
    /// Where the sidecar injector (the admission webhook) is served, over TLS.
    #[arg(long, default_value_t = SocketAddr::from(([0, 0, 0, 0], WEBHOOK_PORT)))]
    webhook_address: SocketAddr,
    /// How long the certificate the controller serves xDS with lives; it is renewed at half its
    /// life, and proxies take the new one as they reconnect.
    #[arg(long, default_value = "24h")]
    serving_cert_lifetime: crate::api::Duration,
    /// How long a proxy's xDS stream lives before it is closed, so that the proxy reconnects and
    /// proves its identity again with its current token (as Istio's 30 minutes).
    #[arg(long, default_value = "30m")]
    max_stream_age: crate::api::Duration,
    /// The image of the injected init container that sets up traffic capture (meshctl's).
    #[arg(long, value_name = "IMAGE", default_value_t = install::default_image())]
    init_image: String,
    /// The image of the injected sidecar (Envoy).
    #[arg(long, value_name = "IMAGE", default_value = install::DEFAULT_ENVOY_IMAGE)]
    proxy_image: String,
    /// The type of the Services of the Gateway API's Gateways' proxies (a Gateway's annotation
    /// networking.istio.io/service-type chooses for itself).
    #[arg(long, value_name = "TYPE", default_value = "LoadBalancer", value_parser = service_type)]
    gateway_service_type: install::GatewayService,
    /// The CPU each injected sidecar and each Gateway's proxy requests, unless a Pod's
    /// annotation says.
    #[arg(long, value_name = "QUANTITY", default_value = install::DEFAULT_PROXY_CPU, value_parser = quantity)]
    proxy_cpu_request: String,
    /// The namespace meshctl was installed in (its CA Secret's and the leader's Lease's).
    #[arg(long, env = "POD_NAMESPACE", default_value = NAMESPACE)]
    system_namespace: String,
    /// How long the leader keeps the Lease without renewing it: how long another replica
    /// waits to take over when the leader dies.
    #[arg(long, default_value = "15s")]
    lease_duration: crate::api::Duration,
}

/// A Kubernetes quantity (`100m`, `0.5`), for a resource request.
pub fn quantity(text: &str) -> Result<String, String> {
    match crate::kube::inject::is_quantity(text) {
        true => Ok(text.to_string()),
        false => Err(format!("{text:?} is not a Kubernetes quantity; write one such as \"100m\" or \"0.5\"")),
    }
}

fn service_type(name: &str) -> Result<install::GatewayService, String> {
    install::GatewayService::parse(name).ok_or_else(|| format!("{name:?} is not LoadBalancer, NodePort or ClusterIP"))
}

pub fn run(args: ControllerArgs) -> Outcome {
    let pacing = controller::Pacing {
        cert_lifetime: args.cert_lifetime.0,
        // Locally nothing routes to the controller through endpoints: it stops at once.
        termination_drain: if args.kubernetes {
            kube::controller::TERMINATION_DRAIN
        } else {
            std::time::Duration::ZERO
        },
    };
    // The controller's log: stderr, which `install` sends to logs/controller.log.
    tracing_subscriber::fmt().with_writer(std::io::stderr).with_max_level(tracing::Level::INFO).init();
    let rt = tokio::runtime::Runtime::new().map_err(Failure::environment)?;
    if args.kubernetes {
        let settings = kube::controller::Settings {
            target: args.cluster.target(),
            injection: install::Settings {
                namespace: args.system_namespace.clone(),
                proxy_cpu: args.proxy_cpu_request,
                ..install::Settings::new(args.init_image, args.proxy_image, args.gateway_service_type)
            },
            namespace: args.system_namespace,
            xds: args.xds_address,
            status: args.status_address,
            serving_cert_lifetime: args.serving_cert_lifetime.0,
            webhook: args.webhook_address,
            max_stream_age: args.max_stream_age.0,
            pacing,
            tracing: args.trace_sampling.unwrap_or(Tracing::CLUSTER_DEFAULT),
            outbound_policy: args.outbound_traffic_policy,
            // The Pod's name, as the Deployment gives it; elsewhere, the host and the process.
            identity: std::env::var("POD_NAME").unwrap_or_else(|_| {
                let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
                let host = host.trim();
                format!("{host}-{}", std::process::id())
            }),
            lease_duration: args.lease_duration.0,
        };
        let replicas = |cluster: &Cluster, namespace: &str| -> Arc<dyn Observer> {
            Arc::new(ClusterMesh::new(cluster.clone(), namespace.to_string()))
        };
        rt.block_on(kube::controller::run(settings, replicas)).map_err(Failure::environment)?;
        return Ok(Exit::Success);
    }
    let settings = runtime::controller::Settings {
        state_dir: args.state.path(),
        envoy: args.envoy.resolve()?,
        gateway_port: args.gateway_port,
        pacing,
        resync_period: args.resync_period.0,
        tracing: args.trace_sampling.unwrap_or(Tracing::LOCAL_DEFAULT),
        outbound_policy: args.outbound_traffic_policy,
    };
    rt.block_on(runtime::controller::run(settings)).map_err(Failure::environment)?;
    Ok(Exit::Success)
}
