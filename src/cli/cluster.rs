//! The mesh on a Kubernetes cluster from the command line: kubectl's `--kubeconfig` and
//! `--context`, and `install`/`uninstall` on the cluster they name. With `--local`, the same
//! commands run the local mesh (`local.rs`) exactly as before.

use std::path::PathBuf;
use std::time::Duration;

use clap::ArgGroup;

use super::printer::{self, Printer, paint};
use super::wait::{self, Look};
use super::{Exit, Failure, Outcome, Structured};
use crate::kube::client::{self, Cluster, ClusterError, Target};
use crate::kube::install::{self, CA_SECRET, Found, NAMESPACE, Object, ObjectKind, Settings};
use crate::translate::Tracing;

/// Which cluster, as kubectl names it.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct ClusterArgs {
    /// The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use [default: its current context]
    #[arg(long, value_name = "NAME")]
    context: Option<String>,
}

impl ClusterArgs {
    /// Whether a cluster was named on the command line.
    pub fn named(&self) -> bool {
        self.kubeconfig.is_some() || self.context.is_some()
    }

    pub fn target(&self) -> Target {
        Target { kubeconfig: self.kubeconfig.clone(), context: self.context.clone() }
    }

    /// The flags as typed, each after a space, for commands printed for the same cluster
    /// (kubectl takes them too).
    pub fn flags(&self) -> String {
        let kubeconfig = self.kubeconfig.iter().map(|k| format!(" --kubeconfig {}", k.display()));
        let context = self.context.iter().map(|c| format!(" --context {c}"));
        kubeconfig.chain(context).collect()
    }
}

/// How the ingress gateway's Service is reached from outside the cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum GatewayServiceType {
    /// An external load balancer where the cluster has one, a node port everywhere.
    #[value(name = "LoadBalancer")]
    LoadBalancer,
    /// A port on every node.
    #[value(name = "NodePort")]
    NodePort,
    /// Inside the cluster only.
    #[value(name = "ClusterIP")]
    ClusterIp,
}

impl From<GatewayServiceType> for install::GatewayService {
    fn from(t: GatewayServiceType) -> Self {
        match t {
            GatewayServiceType::LoadBalancer => install::GatewayService::LoadBalancer,
            GatewayServiceType::NodePort => install::GatewayService::NodePort,
            GatewayServiceType::ClusterIp => install::GatewayService::ClusterIP,
        }
    }
}

#[derive(Debug, clap::Args)]
#[command(group(
    ArgGroup::new("cluster-install")
        .multiple(true)
        .conflicts_with("local")
        .args([
            "kubeconfig",
            "context",
            "image",
            "envoy_image",
            "gateway_service_type",
            "proxy_cpu_request",
            "dry_run",
            "output",
            "wait",
        ])
))]
#[command(group(
    ArgGroup::new("local-mesh").multiple(true).requires("local").args(["gateway_port", "cert_lifetime", "envoy"])
))]
pub struct Install {
    #[command(flatten)]
    local: super::local::InstallArgs,
    #[command(flatten)]
    cluster: ClusterArgs,
    /// The meshctl image the controller runs.
    #[arg(long, value_name = "IMAGE", default_value_t = install::default_image())]
    image: String,
    /// The Envoy image the ingress gateway runs.
    #[arg(long, value_name = "IMAGE", default_value = install::DEFAULT_ENVOY_IMAGE)]
    envoy_image: String,
    /// The type of the ingress gateway's Service, and of each Gateway's (unless its annotation
    /// networking.istio.io/service-type says otherwise).
    #[arg(long, value_enum, value_name = "TYPE", default_value_t = GatewayServiceType::LoadBalancer)]
    gateway_service_type: GatewayServiceType,
    /// The CPU each proxy (sidecar or gateway) requests, unless a Pod's annotation
    /// sidecar.meshctl.io/proxyCPU says otherwise: lower it on a small node that runs many Pods.
    #[arg(long, value_name = "QUANTITY", default_value = install::DEFAULT_PROXY_CPU, value_parser = super::controller::quantity)]
    proxy_cpu_request: String,
    /// Say what would be applied, and change nothing (the cluster is only read: which CRDs
    /// are Istio's, whether the mesh CA exists).
    #[arg(long)]
    dry_run: bool,
    /// With --dry-run, print the objects themselves, exactly as they would be applied.
    #[arg(short = 'o', long, value_enum, requires = "dry_run")]
    output: Option<Structured>,
    /// Wait until the CRDs are Established and the Deployments Available (see --timeout).
    #[arg(long)]
    wait: bool,
}

/// `meshctl install`: the local mesh with `--local`, else the cluster.
pub async fn install(args: Install, printer: &Printer) -> Outcome {
    if args.local.local {
        return super::local::install(args.local, printer).await;
    }
    let settings = Settings {
        tracing: args.local.mesh.trace_sampling.unwrap_or(Tracing::CLUSTER_DEFAULT),
        outbound_policy: args.local.mesh.outbound_traffic_policy,
        proxy_cpu: args.proxy_cpu_request,
        ..Settings::new(args.image, args.envoy_image, args.gateway_service_type.into())
    };
    let plan = Plan {
        target: args.cluster.target(),
        settings,
        dry_run: args.dry_run,
        output: args.output,
        wait: args.wait.then_some(args.local.mesh.timeout.0),
    };
    install_on_cluster(plan, printer).await
}

struct Plan {
    target: Target,
    settings: Settings,
    dry_run: bool,
    output: Option<Structured>,
    /// How long to wait for readiness, when asked to.
    wait: Option<Duration>,
}

async fn install_on_cluster(plan: Plan, printer: &Printer) -> Outcome {
    let cluster = Cluster::connect(&plan.target).await?;
    let mut found = Found { foreign_crds: cluster.foreign_crds().await?, new_ca: None };
    let namespace = plan.settings.namespace.as_str();
    // Said before anything is applied, rather than half-way, when the first object lands in it.
    let existing = cluster.get(ObjectKind::Namespace, None, namespace).await?;
    if existing.is_some_and(|ns| ns.metadata.deletion_timestamp.is_some()) {
        let (server, namespace) = (cluster.server().to_string(), namespace.to_string());
        return Err(ClusterError::Terminating { server, namespace }.into());
    }
    let has_ca = cluster.get(ObjectKind::Secret, Some(namespace), CA_SECRET).await?.is_some();
    if !has_ca {
        found.new_ca = Some(crate::kube::ca::generate().map_err(Failure::environment)?);
    }
    let objects = install::objects(&plan.settings, &found);
    if plan.dry_run {
        return match plan.output {
            Some(Structured::Yaml) => {
                printer.write_raw(install::to_yaml(&objects).as_bytes())?;
                Ok(Exit::Success)
            }
            Some(Structured::Json) => {
                super::print_structured(printer, &install::to_json_list(&objects), Structured::Json)
            }
            None => {
                let lines: String = objects.iter().map(|o| format!("{} (dry run)\n", o.reference())).collect();
                printer.write(&lines)?;
                Ok(Exit::Success)
            }
        };
    }
    for name in &found.foreign_crds {
        let crd = install::reference(ObjectKind::CustomResourceDefinition, name);
        printer.write(&format!("{crd} unchanged {}\n", paint(printer::DIM, "(not meshctl's: used as it is)")))?;
    }
    // The kept CA is reported where it would have been applied.
    let mut ca_untold = has_ca;
    for object in &objects {
        if ca_untold && object.kind > ObjectKind::Secret {
            let secret = install::reference(ObjectKind::Secret, CA_SECRET);
            printer.write(&format!("{secret} unchanged {}\n", paint(printer::DIM, "(the mesh CA is kept)")))?;
            ca_untold = false;
        }
        if object.kind == ObjectKind::GatewayClass {
            established(&cluster, &ObjectKind::GatewayClass.resource(), printer).await?;
        }
        let applied = cluster.apply(object).await?;
        printer.write(&format!("{} {applied}\n", object.reference()))?;
    }
    if let Some(timeout) = plan.wait {
        wait_ready(&cluster, &objects, timeout, printer).await?;
    }
    Ok(Exit::Success)
}

/// Waits until the CRD `name` (just applied) is Established, so that objects of its kind can
/// be made; a CRD takes a moment to be served.
async fn established(cluster: &Cluster, name: &str, printer: &Printer) -> Result<(), Failure> {
    let what = format!("waiting for CRD {name} to be Established");
    let look = async || {
        let crd = cluster.get(ObjectKind::CustomResourceDefinition, None, name).await?;
        let json = crd.map(|c| serde_json::to_value(c).unwrap_or_default()).unwrap_or_default();
        match client::ready(ObjectKind::CustomResourceDefinition, &json) {
            true => Ok(Look::Done(())),
            false => Ok(Look::Waiting { progress: what.clone(), left: String::new() }),
        }
    };
    let late = |_: &str| {
        let error = anyhow::anyhow!("CRD {name} is not Established after 30s; see `kubectl get crd {name} -o yaml`");
        Failure::environment(error)
    };
    wait::until(printer, &what, (Duration::from_secs(30), WAIT_POLL), look, late).await
}

/// How often `--wait` looks again: a handful of objects, so a GET each is cheap.
const WAIT_POLL: Duration = Duration::from_millis(500);

/// Waits, with a progress line, until every CRD of `objects` is Established and every
/// Deployment Available.
pub(super) async fn wait_ready(
    cluster: &Cluster,
    objects: &[Object],
    timeout: Duration,
    printer: &Printer,
) -> Result<(), Failure> {
    let watched: Vec<&Object> = objects
        .iter()
        .filter(|o| matches!(o.kind, ObjectKind::CustomResourceDefinition | ObjectKind::Deployment))
        .collect();
    // Where the Deployments live (one namespace for each caller), for the timeout's advice.
    let namespace = watched.iter().find_map(|o| o.namespace()).unwrap_or(NAMESPACE);
    let look = async || {
        let mut pending = Vec::new();
        for object in &watched {
            let stored = cluster.get(object.kind, object.namespace(), object.name()).await?;
            let stored = stored.map(|s| serde_json::to_value(s).unwrap_or_default()).unwrap_or_default();
            if !client::ready(object.kind, &stored) {
                pending.push(object.reference());
            }
        }
        if pending.is_empty() {
            return Ok(Look::Done(()));
        }
        let progress = format!("waiting for {} of {} object(s): {}", pending.len(), watched.len(), pending.join(", "));
        Ok(Look::Waiting { progress, left: pending.join(", ") })
    };
    let what = format!("waiting for {} object(s) to be ready", watched.len());
    let late = |pending: &str| {
        Failure::environment(anyhow::anyhow!(
            "not ready within {timeout:?}: still waiting for {pending}; see `kubectl -n {namespace} get \
             deployments,pods` and the Pods' events, or wait longer with --timeout"
        ))
    };
    wait::until(printer, &what, (timeout, WAIT_POLL), look, late).await?;
    let count = |kind| watched.iter().filter(|o| o.kind == kind).count();
    let crds = match count(ObjectKind::CustomResourceDefinition) {
        0 => String::new(),
        n => format!("{n} CRD(s) established, "),
    };
    let deployments = count(ObjectKind::Deployment);
    printer.write(&format!("{} ready: {crds}{deployments} Deployment(s) available\n", paint(printer::GOOD, "✓")))?;
    Ok(())
}

#[derive(Debug, clap::Args)]
#[command(group(ArgGroup::new("cluster-uninstall").multiple(true).conflicts_with("local").args(["kubeconfig", "context"])))]
pub struct Uninstall {
    #[command(flatten)]
    local: super::local::UninstallArgs,
    #[command(flatten)]
    cluster: ClusterArgs,
}

/// `meshctl uninstall`: the local mesh with `--local`, else what install made on the cluster.
pub async fn uninstall(args: Uninstall, printer: &Printer) -> Outcome {
    if args.local.local {
        return super::local::uninstall(args.local, printer);
    }
    let (target, purge) = (args.cluster.target(), args.local.purge);
    uninstall_from_cluster(target, purge, printer).await
}

/// What outlives an uninstall without `--purge`: the CRDs (deleting one deletes every policy
/// of its kind) and the mesh CA with the namespace that holds it (a reinstall keeps every
/// workload's certificates trusted).
fn kept_without_purge(object: &client::Installed) -> bool {
    match object.kind {
        ObjectKind::CustomResourceDefinition | ObjectKind::Namespace => true,
        ObjectKind::Secret => object.name == CA_SECRET,
        _ => false,
    }
}

async fn uninstall_from_cluster(target: Target, purge: bool, printer: &Printer) -> Outcome {
    let cluster = Cluster::connect(&target).await?;
    let installed = cluster.installed(NAMESPACE).await?;
    if installed.is_empty() {
        printer.write(&format!(
            "nothing to uninstall: no object on {} carries {}={}\n",
            cluster.server(),
            install::MANAGED_BY,
            install::MANAGED_BY_VALUE
        ))?;
        return Ok(Exit::Success);
    }
    let (kept, removed): (Vec<_>, Vec<_>) = installed.into_iter().partition(|o| !purge && kept_without_purge(o));
    for object in &removed {
        let deleted = cluster.delete(object.kind, object.namespace.as_deref(), &object.name).await;
        let deleted = deleted?;
        let what = if deleted { "deleted" } else { "already gone" };
        printer.write(&format!("{} {what}\n", object.reference()))?;
    }
    if !kept.is_empty() {
        let lines: String = kept.iter().map(|o| format!("{} kept\n", o.reference())).collect();
        printer.write(&format!(
            "{lines}{}\n",
            paint(
                printer::DIM,
                "(the CRDs hold the mesh's policies, and the CA keeps workloads trusted across a reinstall; \
                 `meshctl uninstall --purge` removes them too)"
            )
        ))?;
    }
    Ok(Exit::Success)
}
