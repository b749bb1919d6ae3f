//! `meshctl canary`: start a stepped rollout and watch it to the end, or look at and steer
//! one. The controller does the work (see `canary::Driver`); these commands only write the
//! Canary's spec and read its status, so a rollout goes on when the CLI exits.

use std::time::{Duration, Instant};

use anyhow::anyhow;
use serde_json::{Value, json};

use super::local::wait_for;
use super::place::Place;
use super::printer::{self, Printer, paint};
use super::{Exit, Failure, GetFormat, ListFormat, Outcome};
use crate::api::meshctl::{Canary, CanaryPhase, ManualDecision};
use crate::api::{Kind, Resource};
use crate::generate::{self, CanaryRollout};
use crate::mesh::Mesh;
use crate::policy::{self, Severity};
use crate::store::{ObjectRef, Revision, Store};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Roll SERVICE out to a new subset in steps, with health gates; watch until it ends.
    ///
    /// Exit status: 0 promoted, 1 rolled back or failed (or still running at --timeout),
    /// 3 no mesh.
    Start(StartArgs),
    /// Where a rollout stands, with every gate evaluation.
    Status(NamedArgs),
    /// Every rollout.
    List(ListArgs),
    /// Send all traffic to the canary now, skipping the remaining steps.
    Promote(NamedArgs),
    /// Hold the rollout at its current weight.
    Pause(NamedArgs),
    /// Continue a paused rollout.
    Resume(NamedArgs),
    /// Send all traffic back to stable now.
    Abort(NamedArgs),
}

#[derive(Debug, clap::Args)]
pub struct StartArgs {
    /// The service to roll out.
    service: String,
    #[arg(short = 'n', long, default_value = "default", env = "MESHCTL_NAMESPACE")]
    namespace: String,
    /// The subset being rolled out (with --api gateway, the Service).
    #[arg(long)]
    to: String,
    /// The stable subset, or Service [default: the one the service's routes send most traffic to]
    #[arg(long)]
    from: Option<String>,
    #[command(flatten)]
    plan: Plan,
    /// Return once the rollout is stored, without watching it.
    #[arg(long)]
    no_wait: bool,
    /// The longest to watch.
    #[arg(long, default_value = "30m")]
    timeout: crate::api::Duration,
    #[command(flatten)]
    place: Place,
}

/// How a rollout steps, and what the canary must show at each step: the flags `canary start`
/// and `generate canary` share.
#[derive(Debug, clap::Args)]
pub struct Plan {
    /// Canary weights in percent, rising, ending at 100.
    #[arg(long, value_delimiter = ',', default_value = "10,50,100")]
    steps: Vec<u32>,
    /// The least time spent at each step.
    #[arg(long, default_value = "30s")]
    interval: crate::api::Duration,
    /// The lowest acceptable success rate of the canary, in percent.
    #[arg(long, default_value_t = 99.0)]
    min_success_rate: f64,
    /// The highest acceptable p99 latency of the canary.
    #[arg(long)]
    max_p99: Option<crate::api::Duration>,
    /// Fewer canary requests than this in a step hold it instead of deciding it.
    #[arg(long, default_value_t = 20)]
    min_requests: u32,
    /// Also roll a clearly failing canary back at once, by a sequential test on its error
    /// rate, rather than only when its step ends.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    sequential_test: bool,
    /// The routes whose weights move. With `gateway`, --from and --to name two Services, whose
    /// weights move in the HTTPRoutes attached to SERVICE.
    #[arg(long, default_value = "istio", value_parser = super::route_api())]
    api: crate::api::meshctl::RouteApi,
}

impl Plan {
    /// The rollout of `service` from `stable` to `canary` under this plan.
    pub fn rollout(self, service: String, namespace: String, stable: String, canary: String) -> CanaryRollout {
        CanaryRollout {
            service,
            namespace,
            stable,
            canary,
            steps: self.steps,
            interval: self.interval,
            min_success_rate: self.min_success_rate,
            max_p99: self.max_p99,
            min_requests: self.min_requests,
            sequential_test: self.sequential_test,
            api: self.api,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct NamedArgs {
    /// The rollout (the Canary's name: its service's).
    name: String,
    #[arg(short = 'n', long, default_value = "default", env = "MESHCTL_NAMESPACE")]
    namespace: String,
    #[arg(short = 'o', long, value_enum, default_value_t = ListFormat::Table)]
    output: ListFormat,
    #[command(flatten)]
    place: Place,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[arg(short = 'n', long, default_value = "default", env = "MESHCTL_NAMESPACE")]
    namespace: String,
    #[arg(short = 'A', long)]
    all_namespaces: bool,
    /// As for `get`: a table, or each Canary whole (json, yaml), or their names.
    #[arg(short = 'o', long, value_enum, default_value_t = GetFormat::Table)]
    output: GetFormat,
    #[command(flatten)]
    place: Place,
}

pub async fn run(command: Command, printer: &Printer) -> Outcome {
    match command {
        Command::Start(args) => start(args, printer).await,
        Command::Status(args) => status(args, printer).await,
        Command::List(args) => {
            super::resources::get(
                super::resources::GetArgs::list(
                    "canaries",
                    args.namespace,
                    args.all_namespaces,
                    args.output,
                    args.place,
                ),
                printer,
            )
            .await
        }
        Command::Promote(args) => {
            steer(args, printer, |c| c.spec.decision = Some(ManualDecision::Promote), &[CanaryPhase::Promoted]).await
        }
        Command::Abort(args) => {
            steer(args, printer, |c| c.spec.decision = Some(ManualDecision::Abort), &[CanaryPhase::RolledBack]).await
        }
        Command::Pause(args) => steer(args, printer, |c| c.spec.paused = true, &[CanaryPhase::Paused]).await,
        Command::Resume(args) => {
            steer(
                args,
                printer,
                |c| c.spec.paused = false,
                &[CanaryPhase::Progressing, CanaryPhase::Promoted, CanaryPhase::RolledBack, CanaryPhase::Failed],
            )
            .await
        }
    }
}

/// The mesh, with its controller running: a rollout is nothing but a record without it.
async fn connect(place: &Place) -> Result<Box<dyn Mesh>, Failure> {
    let mesh = place.connect().await?;
    mesh.view().await?;
    Ok(mesh)
}

fn object(namespace: &str, name: &str) -> ObjectRef {
    ObjectRef { kind: Kind::Canary, namespace: namespace.into(), name: name.into() }
}

/// The Canary as stored, typed.
async fn load(store: &dyn Store, r: &ObjectRef) -> Result<Canary, Failure> {
    let contents = store.contents().await.map_err(Failure::environment)?;
    let found = contents.objects.iter().find(|o| {
        o["kind"] == r.kind.name()
            && o["metadata"]["namespace"] == r.namespace.as_str()
            && o["metadata"]["name"] == r.name.as_str()
    });
    let value = found.ok_or_else(|| Failure {
        exit: Exit::Failed,
        error: anyhow!("no canary {:?} in namespace {}", r.name, r.namespace),
    })?;
    serde_json::from_value(Value::clone(value))
        .map_err(|e| Failure { exit: Exit::Failed, error: anyhow!("cannot read canary {}: {e}", r.name) })
}

async fn start(args: StartArgs, printer: &Printer) -> Outcome {
    let mesh = connect(&args.place).await?;
    let store = mesh.store();
    let contents = store.contents().await.map_err(Failure::environment)?;
    let resources: Vec<Resource> = contents.resources().into_iter().flatten().collect();
    let stable = match args.from {
        Some(from) => from,
        None => crate::canary::stable(&resources, &args.service, &args.namespace, args.plan.api)
            .ok_or_else(|| Failure::usage(anyhow!("cannot tell what of {} is stable: give --from", args.service)))?,
    };
    let canary = generate::canary(&args.plan.rollout(args.service.clone(), args.namespace.clone(), stable, args.to));
    // Checked with what the mesh already has, so a subset no DestinationRule defines is an
    // error here rather than a failed rollout later.
    let problems: Vec<String> = policy::check_objects(&canary, &resources)
        .into_iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| format!("{} ({})", f.message, f.code))
        .collect();
    if !problems.is_empty() {
        // Flags that make an invalid policy are a usage error, as for `generate`.
        return Err(Failure::usage(anyhow!("cannot start this rollout:\n  {}", problems.join("\n  "))));
    }
    let r = ObjectRef::of(&canary[0]);
    // A new rollout starts from nothing, not from the status of an earlier one.
    store.delete(std::slice::from_ref(&r)).await.map_err(Failure::environment)?;
    store.apply(&canary, false).await.map_err(Failure::environment)?;
    printer.write(&format!("canary.meshctl.io/{} started\n", r.name))?;
    if args.no_wait {
        return Ok(Exit::Success);
    }
    watch(mesh.as_ref(), &r, args.timeout.0, printer).await
}

/// How long an outcome may take to reach every proxy once the controller recorded it: its
/// own budget, apart from how long the rollout itself may take.
const PROXY_WAIT: Duration = Duration::from_secs(60);

/// What the proxies run once a rollout's recorded outcome is the traffic's: the store read
/// after the outcome was seen, each kind up to its newest object. The weights were written
/// before the status that records them, so a reading made after it holds them; the reading
/// that showed the outcome may have listed the routes before they were written.
async fn outcome_revision(store: &dyn Store) -> Result<Revision, Failure> {
    Ok(store.contents().await.map_err(Failure::environment)?.newest())
}

/// Follows a rollout until it ends and the proxies run its final weights, with a progress
/// line; the exit status says how it ended.
async fn watch(mesh: &dyn Mesh, r: &ObjectRef, timeout: Duration, printer: &Printer) -> Outcome {
    let progress = printer.progress("waiting for the controller to start the rollout");
    let deadline = Instant::now() + timeout;
    loop {
        let canary = load(mesh.store(), r).await?;
        let status = canary.status.clone().unwrap_or_default();
        let phase = status.phase.map(|p| format!("{p:?}")).unwrap_or_else(|| "Pending".into());
        let line = format!(
            "{phase}: step {}/{} at {}% — {}",
            status.step.unwrap_or(0) + 1,
            canary.spec.steps.len(),
            status.weight.unwrap_or(0),
            status.message.as_deref().unwrap_or("starting")
        );
        progress.set(&line);
        if status.phase.is_some_and(CanaryPhase::is_finished) {
            progress.finish();
            let what = format!(
                "{phase}: waiting for every proxy to run {}% to {}",
                status.weight.unwrap_or(0),
                canary.spec.canary
            );
            let revision = outcome_revision(mesh.store()).await?;
            wait_for(mesh, PROXY_WAIT, printer, &what, |s| s.runs(&revision)).await?;
        }
        match status.phase {
            Some(CanaryPhase::Promoted) => {
                printer.write(&format!(
                    "{} {}: promoted, {} takes all traffic\n",
                    paint(printer::GOOD, "✓"),
                    r.name,
                    canary.spec.canary
                ))?;
                return Ok(Exit::Success);
            }
            Some(CanaryPhase::RolledBack | CanaryPhase::Failed) => {
                printer.write(&format!(
                    "{} {}: {} — {}\n",
                    paint(printer::ERROR, "✗"),
                    r.name,
                    phase,
                    status.message.unwrap_or_default()
                ))?;
                return Ok(Exit::Failed);
            }
            _ => {}
        }
        if Instant::now() > deadline {
            progress.finish();
            printer.error(&anyhow!("{}: still {phase} after {timeout:?}; it goes on in the controller", r.name));
            return Ok(Exit::Failed);
        }
        tokio::time::sleep(mesh.poll_period()).await;
    }
}

async fn status(args: NamedArgs, printer: &Printer) -> Outcome {
    let mesh = connect(&args.place).await?;
    let canary = load(mesh.store(), &object(&args.namespace, &args.name)).await?;
    let mut status = canary.status.clone().unwrap_or_default();
    // An outcome is reported once the proxies run it; until then the rollout is still moving.
    if let Some(phase) = status.phase.filter(|p| p.is_finished())
        && !mesh.view().await?.runs(&outcome_revision(mesh.store()).await?)
    {
        status.message = Some(format!("{phase:?}; waiting for every proxy to run {}%", status.weight.unwrap_or(0)));
        status.phase = Some(CanaryPhase::Progressing);
    }
    let view = json!({
        "name": args.name,
        "phase": status.phase.map(|p| format!("{p:?}")).unwrap_or_else(|| "Pending".into()),
        "step": status.step.unwrap_or(0),
        "weight": status.weight.unwrap_or(0),
        "message": status.message,
        "evaluations": status.evaluations,
    });
    if let Some(format) = args.output.structured() {
        return super::print_structured(printer, &view, format);
    }
    let mut out = format!(
        "{} {}: {} at {}% (step {} of {}) — {}\n",
        paint(printer::BOLD, "canary"),
        args.name,
        view["phase"].as_str().unwrap_or_default(),
        view["weight"],
        status.step.unwrap_or(0) + 1,
        canary.spec.steps.len(),
        status.message.as_deref().unwrap_or("not started yet")
    );
    let mut table = super::table(&["TIME", "STEP", "WEIGHT", "CANARY REQ", "SUCCESS", "P99", "STABLE REQ", "VERDICT"]);
    for e in &status.evaluations {
        let pct = |v: &Option<f64>| v.map_or("-".into(), |v| format!("{v:.1}%"));
        let ms = |v: &Option<f64>| v.map_or("-".into(), |v| format!("{v:.1}ms"));
        table.add_row(vec![
            e.time.clone(),
            (e.step + 1).to_string(),
            format!("{}%", e.weight),
            e.canary.requests.to_string(),
            pct(&e.canary.success_rate),
            ms(&e.canary.p99_ms),
            e.stable.requests.to_string(),
            e.verdict.clone(),
        ]);
    }
    if !status.evaluations.is_empty() {
        out.push_str(&format!("{table}\n"));
    }
    printer.write(&out)?;
    Ok(Exit::Success)
}

/// Writes a person's decision into the Canary and waits until the controller has acted on it.
async fn steer(args: NamedArgs, printer: &Printer, change: impl FnOnce(&mut Canary), done: &[CanaryPhase]) -> Outcome {
    let mesh = connect(&args.place).await?;
    let store = mesh.store();
    let r = object(&args.namespace, &args.name);
    let mut canary = load(store, &r).await?;
    if let Some(phase) = canary.status.as_ref().and_then(|s| s.phase).filter(|p| p.is_finished()) {
        return Err(Failure {
            exit: Exit::Failed,
            error: anyhow!("rollout {} is over ({phase:?}); start a new one with `meshctl canary start`", r.name),
        });
    }
    change(&mut canary);
    // The controller writes the status (and with it the version) every second; a person's
    // decision applies to whatever version is current.
    canary.status = None;
    canary.metadata.resource_version = None;
    let stored: Value = serde_json::to_value(&canary).expect("canaries serialize");
    let resource = Kind::Canary.decode(stored).map_err(|e| Failure { exit: Exit::Failed, error: e.into() })?;
    store.apply(&[resource], false).await.map_err(|e| Failure { exit: Exit::Failed, error: e.into() })?;
    let generation = load(store, &r).await?.metadata.generation;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let canary = load(store, &r).await?;
        let status = canary.status.clone().unwrap_or_default();
        let phase = status.phase.map(|p| format!("{p:?}")).unwrap_or_default();
        // A status from before the change says nothing about it.
        let seen = status.observed_generation >= generation;
        if seen && status.phase.is_some_and(|p| done.contains(&p)) {
            let what = format!("{phase}: waiting for every proxy to run {}%", status.weight.unwrap_or(0));
            let revision = outcome_revision(store).await?;
            wait_for(mesh.as_ref(), PROXY_WAIT, printer, &what, |s| s.runs(&revision)).await?;
            printer.write(&format!("canary.meshctl.io/{}: {phase} at {}%\n", r.name, status.weight.unwrap_or(0)))?;
            return Ok(Exit::Success);
        }
        if Instant::now() > deadline {
            return Err(Failure {
                exit: Exit::Failed,
                error: anyhow!("the controller has not acted within 10s; it is {phase}"),
            });
        }
        tokio::time::sleep(mesh.poll_period()).await;
    }
}
