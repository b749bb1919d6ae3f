//! `meshctl demo`: a mesh that tells the story — a slow new version found and shifted away
//! from, a canary, circuit breaking, mTLS — with what to try next. On this machine by default
//! (a local mesh, started if none runs); with `--kubeconfig` or `--context`, on that cluster's
//! installed mesh, as Deployments in a namespace of their own (`kube::demo`).

use anyhow::anyhow;
use clap::ArgGroup;
use serde_json::Value;

use super::cluster::{ClusterArgs, wait_ready};
use super::local::{self, MeshArgs, wait_for};
use super::printer::{self, Printer, paint};
use super::resources::apply_sources;
use super::{Exit, Failure, Outcome};
use crate::api::meshctl::WorkloadSpec;
use crate::kube::client::Cluster;
use crate::kube::install::{CONTROLLER, GATEWAY, NAMESPACE as SYSTEM_NAMESPACE, ObjectKind};
use crate::mesh::cluster::ClusterMesh;
use crate::policy::Source;

/// The demo's workloads and policies, also in the repository as `demo/mesh.yaml`.
pub const MESH: &str = include_str!("../../demo/mesh.yaml");
const MESH_FILE: &str = "demo/mesh.yaml";

#[derive(Debug, clap::Args)]
#[command(group(
    ArgGroup::new("cluster")
        .multiple(true)
        .args(["kubeconfig", "context"])
        .conflicts_with_all(["gateway_port", "cert_lifetime", "trace_sampling", "outbound_traffic_policy", "envoy"])
))]
pub struct Args {
    #[command(flatten)]
    mesh: MeshArgs,
    #[command(flatten)]
    cluster: ClusterArgs,
    /// On a cluster, the namespace the demo's workloads run in (made, and labelled for
    /// injection).
    #[arg(short = 'n', long, default_value = crate::kube::demo::NAMESPACE, requires = "cluster")]
    namespace: String,
}

pub async fn run(args: Args, printer: &Printer) -> Outcome {
    if args.cluster.named() {
        return on_cluster(args, printer).await;
    }
    let (mesh, _) = local::ensure_running(&args.mesh, printer).await?;
    let source = Source { name: MESH_FILE.into(), text: MESH.into() };
    let applied = apply_sources(&[source], "default".into(), false, &mesh, printer).await?;
    if applied != Exit::Success {
        return Ok(applied);
    }
    let (_, ready) =
        local::wait_healthy(mesh.dir(), None, args.mesh.timeout.0, printer, "starting the demo workloads").await?;
    // Where profile v1's sidecar listens: what a client outside the mesh would reach.
    let profile = ready
        .instances
        .iter()
        .find_map(|i| i.address.filter(|_| i.service == "profile"))
        .map_or_else(|| "ADDRESS".to_string(), |a| a.to_string());
    let gateway = ready.gateway.address;
    let hints = Hints {
        ready: "demo mesh ready".into(),
        look: vec![
            format!("curl -H 'Host: frontend' http://{gateway}/"),
            "meshctl top                       # profile v2's p99 is 2 s".into(),
            "meshctl trace profile --min-duration 1s   # the slow span in each trace: profile v2's".into(),
            "meshctl dashboard                 # the service graph, charts by version and traces, in a browser".into(),
            "meshctl proxy-status".into(),
            "meshctl check".into(),
        ],
        shift: vec![
            "meshctl generate traffic-split profile --subset v1=100 --subset v2=0 | meshctl apply -f -".into(),
            format!("curl -H 'Host: profile' http://{gateway}/   # always v1 now, and fast"),
        ],
        canary: "meshctl canary start profile --from v1 --to v2 --interval 10s --max-p99 500ms".into(),
        breaker: "meshctl generate circuit-breaker profile --consecutive-errors 2 --subset v1 --subset v2 | meshctl apply -f -"
            .into(),
        mtls: vec![
            format!("curl http://{profile}/              # plaintext straight to profile's sidecar: answered"),
            "meshctl mtls enable".into(),
            format!("curl http://{profile}/              # refused now; mesh traffic goes on"),
            "meshctl mtls status".into(),
        ],
        done: vec!["meshctl uninstall --local".into()],
    };
    hints.print(printer)?;
    Ok(Exit::Success)
}

/// What to try next, by chapter of the story.
struct Hints {
    ready: String,
    look: Vec<String>,
    shift: Vec<String>,
    canary: String,
    breaker: String,
    mtls: Vec<String>,
    done: Vec<String>,
}

impl Hints {
    fn print(&self, printer: &Printer) -> Result<(), Failure> {
        let title = |t: &str| paint(printer::BOLD, t);
        let lines = |lines: &[String]| lines.iter().map(|l| format!("  {l}\n")).collect::<String>();
        printer.write(&format!(
            "{} {}: frontend -> profile (v1, and a slow v2 taking half the traffic) + board; loadgen sends frontend 5 requests/s through the gateway\n\n\
             {}\n{}\n{}\n{}\n{}\n  {}\n\n{}\n  {}\n\n{}\n{}\n{}\n{}",
            paint(printer::GOOD, "✓"),
            self.ready,
            title("Look around:"),
            lines(&self.look),
            title("Shift profile's traffic back to v1, with no restart:"),
            lines(&self.shift),
            title("Try v2 again as a canary; it is rolled back by itself when its p99 fails the gate:"),
            self.canary,
            title("Eject failing instances:"),
            self.breaker,
            title("Require mTLS between workloads:"),
            lines(&self.mtls),
            title("When done:"),
            lines(&self.done),
        ))?;
        Ok(())
    }
}

/// The demo on the cluster's installed mesh, from the image its controller runs (which has
/// the demo app): the workloads as Deployments, the policies through the mesh's store, then
/// waiting until every demo proxy runs its configuration.
async fn on_cluster(args: Args, printer: &Printer) -> Outcome {
    let namespace = args.namespace.as_str();
    let cluster = Cluster::connect(&args.cluster.target()).await?;
    let controller = cluster.get(ObjectKind::Deployment, Some(SYSTEM_NAMESPACE), CONTROLLER).await;
    let controller = controller?.map(|c| serde_json::to_value(c).unwrap_or_default());
    let Some(image) =
        controller.as_ref().and_then(|c| c["spec"]["template"]["spec"]["containers"][0]["image"].as_str())
    else {
        return Err(Failure::environment(anyhow!(
            "no mesh is installed on the cluster at {}: install it first (`meshctl install --wait`, with \
             --image and --envoy-image for images of your own), then run the demo again",
            cluster.server()
        )));
    };
    let (workloads, policies) = split_mesh();
    let objects = crate::kube::demo::objects(&workloads, namespace, image);
    for object in &objects {
        let applied = cluster.apply(object).await?;
        printer.write(&format!("{} {applied}\n", object.reference()))?;
    }
    let mesh = ClusterMesh::new(cluster.clone(), SYSTEM_NAMESPACE.to_string());
    let source = Source { name: MESH_FILE.into(), text: policies };
    let applied = apply_sources(&[source], namespace.into(), false, &mesh, printer).await?;
    if applied != Exit::Success {
        return Ok(applied);
    }
    let timeout = args.mesh.timeout.0;
    wait_ready(&cluster, &objects, timeout, printer).await?;
    let mut by_service: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for (_, w) in &workloads {
        *by_service.entry(format!("{namespace}/{}", w.service)).or_default() += w.replicas as usize;
    }
    let replicas: usize = by_service.values().sum();
    // Ready means the hints work at once: every demo proxy and the gateway run a configuration
    // that routes to every instance (a Pod is Ready before its EndpointSlice says so).
    wait_for(&mesh, timeout, printer, "waiting for the demo's proxies to run their configuration", |view| {
        let ours: Vec<&str> =
            view.instances.iter().filter(|i| i.namespace == namespace).map(|i| i.node_id.as_str()).collect();
        let runs = |node: &str| view.sync(node) == crate::xds::SyncState::Synced;
        let routed = by_service.iter().all(|(service, n)| view.routed.get(service) == Some(n));
        routed && ours.len() == replicas && ours.iter().all(|n| runs(n)) && runs(&view.gateway.node_id)
    })
    .await?;
    let cluster_flags = args.cluster.flags();
    let meshctl = |command: &str| format!("meshctl {command}{cluster_flags}");
    let kubectl = format!("kubectl{cluster_flags}");
    let port_forward = format!("{kubectl} -n {SYSTEM_NAMESPACE} port-forward service/{GATEWAY} 15080:80 &");
    let n = format!("-n {namespace}");
    let hints = Hints {
        ready: format!("demo mesh ready in namespace {namespace}"),
        look: vec![
            format!("{port_forward}   # the gateway on 127.0.0.1:15080"),
            format!("curl -H 'Host: frontend.{namespace}' http://127.0.0.1:15080/"),
            format!("{}   # profile v2's p99 is 2 s", meshctl(&format!("top {n}"))),
            format!(
                "{}   # the slow span in each trace: profile v2's",
                meshctl(&format!("trace profile {n} --min-duration 1s"))
            ),
            format!("{}   # the service graph, charts by version and traces, in a browser", meshctl("dashboard")),
            meshctl("proxy-status"),
            meshctl("check"),
        ],
        shift: vec![
            format!(
                "meshctl generate traffic-split profile {n} --subset v1=100 --subset v2=0 | {}",
                meshctl("apply -f -")
            ),
            format!("curl -H 'Host: profile.{namespace}' http://127.0.0.1:15080/   # always v1 now, and fast"),
        ],
        canary: meshctl(&format!("canary start profile {n} --from v1 --to v2 --interval 10s --max-p99 500ms")),
        breaker: format!(
            "meshctl generate circuit-breaker profile {n} --consecutive-errors 2 --subset v1 --subset v2 | {}",
            meshctl("apply -f -")
        ),
        mtls: vec![
            meshctl(&format!("mtls enable {n}")),
            format!("{}   # each workload of {namespace}: STRICT, plaintext refused", meshctl("mtls status")),
        ],
        done: vec![format!("{kubectl} delete namespace {namespace}"), meshctl("uninstall")],
    };
    hints.print(printer)?;
    Ok(Exit::Success)
}

/// The demo mesh's workloads, and the rest of it (its policies) as a document stream.
fn split_mesh() -> (Vec<(String, WorkloadSpec)>, String) {
    let (documents, error) = crate::api::yaml::parse(MESH);
    debug_assert!(error.is_none(), "{MESH_FILE} parses: {error:?}");
    let mut workloads = Vec::new();
    let mut policies = Vec::new();
    for document in documents.iter().filter_map(|d| d.root.as_ref()).map(|n| n.to_json()) {
        if document["kind"] == "Workload" {
            let name = document["metadata"]["name"].as_str().unwrap_or_default().to_string();
            let spec: Result<WorkloadSpec, _> = serde_json::from_value(document["spec"].clone());
            workloads.extend(spec.ok().map(|spec| (name, spec)));
        } else {
            policies.push(Value::to_string(&document));
        }
    }
    (workloads, policies.join("\n---\n"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_demo_mesh_is_five_workloads_and_two_policies() {
        let (workloads, policies) = super::split_mesh();
        let names: Vec<&str> = workloads.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["frontend", "profile-v1", "profile-v2", "board", "loadgen"]);
        assert_eq!(policies.split("\n---\n").count(), 2, "{policies}");
        assert!(policies.contains("VirtualService") && policies.contains("DestinationRule"), "{policies}");
    }
}
