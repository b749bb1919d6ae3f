//! `meshctl analyze`: what `istioctl analyze` is for Istio. Every validation rule over the
//! live mesh's stored objects, with files given by `-f` as if they were applied, then what
//! only the running mesh can answer (subsets that select nothing, routes to no ready
//! instance, rollouts that cannot go on, proxies that refused their configuration).

use std::path::PathBuf;

use super::place::Place;
use super::resources::stored;
use super::validate::{self, Format};
use super::{Outcome, Printer};
use crate::policy::{self, Options};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Files to analyze as if they were applied: a file, a directory or `-` for stdin.
    #[arg(short = 'f', long = "filename", value_name = "PATH")]
    files: Vec<PathBuf>,
    /// Report on this namespace (and the namespace of resources in files that name none). With
    /// -f, findings in every namespace are reported: what the files would break, wherever.
    #[arg(short = 'n', long, default_value = "default", env = "MESHCTL_NAMESPACE")]
    namespace: String,
    /// Report on every namespace.
    #[arg(short = 'A', long)]
    all_namespaces: bool,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Format::Text)]
    output: Format,
    /// Fail (exit 1) on warnings as well as errors.
    #[arg(long)]
    strict: bool,
    #[command(flatten)]
    place: Place,
}

pub async fn run(args: Args, printer: &Printer) -> Outcome {
    let sources = validate::read_sources(&args.files)?;
    let mesh = args.place.connect().await?;
    let status = mesh.view().await?;
    let stored = stored(mesh.store()).await?;
    let options = Options { namespace: args.namespace.clone(), reject_unknown: false };
    let mut report = policy::analyze(&sources, &options, &stored, &status.live());
    // With files, the question is what they would break, wherever that is.
    if !args.all_namespaces && sources.is_empty() {
        report.findings.retain(|f| namespace_of(f.resource.as_deref()).is_none_or(|ns| ns == args.namespace));
    }
    let scope = format!("{} object(s) of the mesh and {} file(s)", report.resources.len(), sources.len());
    validate::print_report(printer, &report, &sources, args.output, &scope)?;
    Ok(validate::verdict(&report, args.strict))
}

/// The namespace in `Kind/namespace/name`.
fn namespace_of(resource: Option<&str>) -> Option<&str> {
    resource?.split('/').nth(1)
}
