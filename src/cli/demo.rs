//! `meshctl demo`: a local mesh that tells the story — a slow new version found and shifted
//! away from, a canary, circuit breaking, mTLS — with what to try next.

use super::local::{self, MeshArgs};
use super::printer::{self, Printer, paint};
use super::resources::apply_sources;
use super::{Exit, Outcome};
use crate::policy::Source;

/// The demo's workloads and policies, also in the repository as `demo/mesh.yaml`.
pub const MESH: &str = include_str!("../../demo/mesh.yaml");

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    mesh: MeshArgs,
}

pub async fn run(args: Args, printer: &Printer) -> Outcome {
    let (mesh, _) = local::ensure_running(&args.mesh, printer).await?;
    let source = Source { name: "demo/mesh.yaml".into(), text: MESH.into() };
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
        .find(|i| i.service == "profile")
        .map_or_else(|| "ADDRESS".to_string(), |i| i.address.to_string());
    let gateway = ready.gateway.address;
    let title = |t: &str| paint(printer::BOLD, t);
    printer.write(&format!(
        "{} demo mesh ready: frontend -> profile (v1, and a slow v2 taking half the traffic) + board; loadgen sends frontend 5 requests/s through the gateway\n\n\
         {}\n  curl -H 'Host: frontend' http://{gateway}/\n  meshctl top                       # profile v2's p99 is 2 s\n  meshctl trace profile --min-duration 1s   # the slow span in each trace: profile v2's\n  meshctl dashboard                 # the service graph, charts by version and traces, in a browser\n  meshctl proxy-status\n  meshctl check\n\n\
         {}\n  meshctl generate traffic-split profile --subset v1=100 --subset v2=0 | meshctl apply -f -\n  curl -H 'Host: profile' http://{gateway}/   # always v1 now, and fast\n\n\
         {}\n  meshctl canary start profile --from v1 --to v2 --interval 10s --max-p99 500ms\n\n\
         {}\n  meshctl generate circuit-breaker profile --consecutive-errors 2 --subset v1 --subset v2 | meshctl apply -f -\n\n\
         {}\n  curl http://{profile}/              # plaintext straight to profile's sidecar: answered\n  meshctl mtls enable\n  curl http://{profile}/              # refused now; mesh traffic goes on\n  meshctl mtls status\n\n\
         {}\n  meshctl uninstall --local\n",
        paint(printer::GOOD, "✓"),
        title("Look around:"),
        title("Shift profile's traffic back to v1, with no restart:"),
        title("Try v2 again as a canary; it is rolled back by itself when its p99 fails the gate:"),
        title("Eject failing instances:"),
        title("Require mTLS between workloads:"),
        title("When done:"),
    ))?;
    Ok(Exit::Success)
}
