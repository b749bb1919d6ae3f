//! The command line: clap definitions whose doc comments are the help text, and one function
//! per command that resolves flags into the core's settings, calls the core and prints.
//! `main` maps the outcome to an exit code in one place.

mod analyze;
mod canary;
mod capture;
mod cluster;
mod controller;
mod dashboard;
mod demo;
mod demo_app;
mod generate;
mod inject;
mod local;
mod mtls;
mod place;
mod printer;
mod resources;
mod top;
mod trace;
mod validate;
mod wait;

use std::io;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use clap_complete::Shell;

pub use printer::Printer;

/// meshctl installs and drives a service mesh: Envoy proxies as the data plane, meshctl as the
/// control plane, Istio's v1 API as the policy language.
#[derive(Debug, Parser)]
#[command(name = "meshctl", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check policy files offline: schema, references between resources, mTLS and JWT settings.
    ///
    /// Exit status: 0 no errors, 1 errors found (or warnings, with --strict), 2 usage error.
    Validate(validate::Args),
    /// Print policy YAML for a common intent; every document passes `meshctl validate`.
    #[command(subcommand)]
    Generate(generate::Command),
    /// Install the mesh on the cluster of the current kubeconfig context (CRDs, control plane,
    /// ingress gateway, mesh CA), or with --local start one on this machine: the controller in
    /// the background, which runs the workloads, their sidecars and the ingress gateway.
    ///
    /// Exit status: 0 installed (ready), 3 when the cluster is unreachable or refuses, Envoy is
    /// missing, or the mesh did not come up.
    Install(cluster::Install),
    /// Remove what `install` made from the cluster, or with --local stop the local mesh and
    /// every process it started.
    Uninstall(cluster::Uninstall),
    /// Run the control plane in the foreground (what `install` starts in the background).
    Controller(controller::ControllerArgs),
    /// Add the mesh's sidecar to the Pods of manifests, as the cluster's webhook does when a
    /// Pod is created in a namespace labelled meshctl.io/inject=enabled (for clusters without
    /// the webhook, or to see what it adds). Prints the manifests.
    ///
    /// Exit status: 0 printed, 2 a manifest cannot be injected (nothing printed).
    Inject(inject::Args),
    /// Set up traffic capture in this network namespace (the injected init container).
    #[command(hide = true)]
    Capture(capture::Args),
    /// Validate resources and store them in the mesh; with an error, nothing is stored.
    ///
    /// Exit status: 0 applied, 1 validation errors (nothing applied), 2 usage, 3 no mesh.
    Apply(resources::ApplyArgs),
    /// Find what is wrong with the running mesh: every validation rule over its stored
    /// policy (with files given by -f as if applied), and what only the running mesh shows.
    ///
    /// Exit status: 0 no errors, 1 errors found (or warnings, with --strict), 3 no mesh.
    Analyze(analyze::Args),
    /// List resources of one kind or several (`vs,dr`), or show some by name.
    Get(resources::GetArgs),
    /// Delete resources by kind and name (`vs,dr profile` deletes both), or those a file describes.
    Delete(resources::DeleteArgs),
    /// Every proxy with the configuration version it runs: SYNCED, STALE or NACK (with Envoy's
    /// reason).
    ProxyStatus(local::ProxyStatusArgs),
    /// Live request rate, success rate and latency per service and version, straight from the
    /// proxies.
    Top(top::Args),
    /// Recent traces through the mesh, slowest first, each as a waterfall of its spans with
    /// the one that spent the most time itself marked.
    Trace(trace::Args),
    /// Serve a page of the mesh: the service graph with each call's rate, success and p99,
    /// charts by version, traces and configuration findings. From this binary, offline.
    Dashboard(dashboard::Args),
    /// Stepped rollouts with health gates: start, watch, steer.
    #[command(subcommand)]
    Canary(canary::Command),
    /// Mutual TLS between workloads: require it, see what every sidecar accepts, rotate
    /// certificates.
    #[command(subcommand)]
    Mtls(mtls::Command),
    /// Say whether the control plane, the gateway and every sidecar are healthy.
    ///
    /// Exit status: 0 all healthy, 1 something is not.
    Check(local::CheckArgs),
    /// Run the demo: frontend, profile v1 and a slow v2, board, and a load generator inside the
    /// mesh. On a local mesh (started if none runs), or with --kubeconfig or --context on that
    /// cluster's installed mesh, in a namespace of its own.
    Demo(demo::Args),
    /// The demo application that the demo mesh and tests run as workloads.
    #[command(hide = true, disable_version_flag = true)]
    DemoApp(demo_app::Args),
    /// Print a shell completion script.
    ///
    /// bash: `source <(meshctl completion bash)`; zsh: `meshctl completion zsh > "${fpath[1]}/_meshctl"`;
    /// fish: `meshctl completion fish > ~/.config/fish/completions/meshctl.fish`.
    Completion {
        #[arg(value_enum)]
        shell: Shell,
    },
}

/// How a command ended, as its exit status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// It did what was asked.
    Success = 0,
    /// The check it ran failed (validation errors, a gate failed).
    Failed = 1,
    /// The command line or its input files are wrong.
    Usage = 2,
    /// The environment is missing something (Envoy, the controller, a cluster).
    Environment = 3,
}

/// An error that ends a command, with the exit status it warrants.
#[derive(Debug)]
pub struct Failure {
    pub exit: Exit,
    pub error: anyhow::Error,
}

impl Failure {
    pub fn usage(error: impl Into<anyhow::Error>) -> Self {
        Failure { exit: Exit::Usage, error: error.into() }
    }

    /// Something the command needs is missing or out of reach (exit 3).
    pub fn environment(error: impl Into<anyhow::Error>) -> Self {
        Failure { exit: Exit::Environment, error: error.into() }
    }
}

/// Each error the mesh's parts return, with the exit status it warrants: the one place
/// errors become exit codes.
impl From<crate::mesh::MeshError> for Failure {
    fn from(e: crate::mesh::MeshError) -> Self {
        use crate::mesh::MeshError;
        let exit = match e {
            MeshError::NotRunning(_) | MeshError::Unavailable(_) => Exit::Environment,
        };
        Failure { exit, error: e.into() }
    }
}

/// An unreachable cluster or a missing permission is the environment's fault; a request the
/// API server refuses for its content is a failure.
impl From<crate::kube::client::ClusterError> for Failure {
    fn from(e: crate::kube::client::ClusterError) -> Self {
        let exit = if e.is_environment() { Exit::Environment } else { Exit::Failed };
        Failure { exit, error: e.into() }
    }
}

impl From<crate::store::StoreError> for Failure {
    fn from(e: crate::store::StoreError) -> Self {
        use crate::store::StoreError;
        let exit = match e {
            StoreError::NotInstalled(_)
            | StoreError::Io { .. }
            | StoreError::Corrupt { .. }
            | StoreError::Cluster(_) => Exit::Environment,
            StoreError::Conflict { .. } | StoreError::Refused | StoreError::Rejected(_) => Exit::Failed,
        };
        Failure { exit, error: e.into() }
    }
}

/// An I/O error writing output; the only failure most printing can have.
impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure { exit: Exit::Failed, error: e.into() }
    }
}

pub type Outcome = Result<Exit, Failure>;

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let printer = Printer::new();
    let outcome = match cli.command {
        Command::Validate(args) => validate::run(args, &printer),
        Command::Generate(command) => generate::run(command, &printer),
        Command::Completion { shell } => completion(shell, &printer),
        Command::Install(args) => block_on(cluster::install(args, &printer)),
        Command::Uninstall(args) => block_on(cluster::uninstall(args, &printer)),
        Command::Controller(args) => controller::run(args),
        Command::Inject(args) => inject::run(args, &printer),
        Command::Capture(args) => capture::run(args, &printer),
        Command::Apply(args) => block_on(resources::apply(args, &printer)),
        Command::Analyze(args) => block_on(analyze::run(args, &printer)),
        Command::Get(args) => block_on(resources::get(args, &printer)),
        Command::Delete(args) => block_on(resources::delete(args, &printer)),
        Command::ProxyStatus(args) => block_on(local::proxy_status(args, &printer)),
        Command::Check(args) => block_on(local::check(args, &printer)),
        Command::Top(args) => block_on(top::run(args, &printer)),
        Command::Trace(args) => block_on(trace::run(args, &printer)),
        Command::Dashboard(args) => block_on(dashboard::run(args, &printer)),
        Command::Canary(command) => block_on(canary::run(command, &printer)),
        Command::Mtls(command) => block_on(mtls::run(command, &printer)),
        Command::DemoApp(args) => demo_app::run(args),
        Command::Demo(args) => block_on(demo::run(args, &printer)),
    };
    let exit = match outcome {
        Ok(exit) => exit,
        // A reader that stops early (`meshctl ... | head`) is not an error.
        Err(f) if f.error.downcast_ref::<io::Error>().is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe) => {
            Exit::Success
        }
        Err(f) => {
            printer.error(&f.error);
            f.exit
        }
    };
    ExitCode::from(exit as u8)
}

/// Runs a command that speaks to a mesh: the handle's calls are async, as a cluster's API is.
fn block_on(command: impl std::future::Future<Output = Outcome>) -> Outcome {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(Failure::environment)?;
    runtime.block_on(command)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_is_consistent() {
        super::command().debug_assert();
    }
}

/// The clap command, for completions and documentation.
pub fn command() -> clap::Command {
    Cli::command()
}

/// The completion script for `shell`, as `meshctl completion SHELL` prints it.
pub fn completion_script(shell: Shell) -> Vec<u8> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command(), "meshctl", &mut out);
    out
}

/// The command reference (`docs/commands.md`): each visible command's help, as `--help`
/// prints it at 100 columns, so the page and the CLI cannot say different things.
pub fn reference() -> String {
    let mut root = command().term_width(100).max_term_width(100);
    root.build();
    let mut page = String::from(
        "# Command reference\n\nGenerated from meshctl's own definitions (`UPDATE_GOLDEN=1 cargo test --test offline generate::` \
         refreshes it); each section is what `meshctl COMMAND --help` prints.\n",
    );
    let mut pending = vec![(String::from("meshctl"), root)];
    while let Some((path, cmd)) = pending.pop() {
        // The page is the same whatever this process's environment holds.
        let mut cmd = cmd.mut_args(|a| a.hide_env_values(true));
        let help = cmd.render_long_help().to_string();
        page.push_str(&format!("\n## `{path}`\n\n```text\n{}\n```\n", help.trim_end()));
        let subcommands: Vec<clap::Command> =
            cmd.get_subcommands().filter(|c| !c.is_hide_set() && c.get_name() != "help").cloned().collect();
        // Depth first, in the order the help lists them.
        for sub in subcommands.into_iter().rev() {
            pending.push((format!("{path} {}", sub.get_name()), sub));
        }
    }
    page
}

fn completion(shell: Shell, printer: &Printer) -> Outcome {
    printer.write_raw(&completion_script(shell))?;
    Ok(Exit::Success)
}

/// How lists are printed, as kubectl's `-o`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ListFormat {
    Table,
    Wide,
    Json,
    Yaml,
}

impl ListFormat {
    /// The machine format asked for; none for a table, wide or not.
    pub fn structured(self) -> Option<Structured> {
        match self {
            ListFormat::Table | ListFormat::Wide => None,
            ListFormat::Json => Some(Structured::Json),
            ListFormat::Yaml => Some(Structured::Yaml),
        }
    }
}

/// How `get` prints objects: as lists are printed, or only their names, as kubectl's `-o name`
/// (`virtualservice.networking.istio.io/profile`, one a line, for scripts to pass on).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum GetFormat {
    Table,
    Wide,
    Name,
    Json,
    Yaml,
}

impl GetFormat {
    /// The machine format asked for; none for a table or names.
    pub fn structured(self) -> Option<Structured> {
        match self {
            GetFormat::Table | GetFormat::Wide | GetFormat::Name => None,
            GetFormat::Json => Some(Structured::Json),
            GetFormat::Yaml => Some(Structured::Yaml),
        }
    }
}

/// Output for programs, stable and documented.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Structured {
    Json,
    Yaml,
}

/// A table as kubectl draws one: no borders, upper-case headers.
/// `--api istio|gateway`: which API routes are written in, and rollouts move weights in.
fn route_api() -> impl clap::builder::TypedValueParser<Value = crate::api::meshctl::RouteApi> {
    use crate::api::meshctl::RouteApi;
    use clap::builder::TypedValueParser as _;
    let parser = clap::builder::PossibleValuesParser::new(["istio", "gateway"]);
    parser.map(|api| if api == "gateway" { RouteApi::Gateway } else { RouteApi::Istio })
}

pub fn table(headers: &[&str]) -> comfy_table::Table {
    let mut table = comfy_table::Table::new();
    table.load_style(comfy_table::presets::NOTHING);
    table.set_header(headers.to_vec());
    // kubectl's spacing: columns flush left, three spaces apart.
    for column in table.column_iter_mut() {
        column.set_padding((0, 3));
    }
    table
}

/// `value` as JSON or YAML.
pub fn print_structured(printer: &Printer, value: &serde_json::Value, format: Structured) -> Outcome {
    let text = match format {
        Structured::Yaml => crate::api::yaml::to_string(value),
        Structured::Json => serde_json::to_string_pretty(value).expect("JSON values serialize") + "\n",
    };
    printer.write_raw(text.as_bytes())?;
    Ok(Exit::Success)
}
