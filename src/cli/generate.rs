//! `meshctl generate`: flags to policy YAML. The output is checked by the same validation as
//! `meshctl validate` before it is printed, so flags that make an invalid policy (weights that
//! do not add up to 100, say) are refused with the finding rather than printed.

use std::path::PathBuf;
use std::str::FromStr;

use anyhow::{Context, anyhow};

use super::{Exit, Failure, Outcome, Printer};
use crate::api::security::{Action, MtlsMode};
use crate::api::{Duration, Resource, crds_yaml, yaml};
use crate::generate::{self as gen_core, JwksSource};
use crate::policy::{self, Options, Severity, Source};

#[derive(Debug, clap::Args)]
pub(super) struct Target {
    /// The service, as a short name in the namespace.
    service: String,
    #[arg(short = 'n', long, default_value = "default", env = "MESHCTL_NAMESPACE")]
    namespace: String,
}

#[derive(Debug, clap::Args)]
pub(super) struct Output {
    /// Write to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    output_file: Option<PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
pub(super) enum Command {
    /// A VirtualService splitting traffic between subsets by weight, and the DestinationRule
    /// defining those subsets; or, with --api gateway, an HTTPRoute.
    ///
    /// Example: meshctl generate traffic-split profile -n shop --subset v1=90 --subset v2=10
    TrafficSplit {
        #[command(flatten)]
        target: Target,
        /// A subset and its weight in percent; the weights must add up to 100.
        #[arg(long = "subset", value_name = "NAME=WEIGHT", required = true)]
        subsets: Vec<SubsetWeight>,
        /// The workload label whose value names the subset.
        #[arg(long, default_value = "version")]
        label: String,
        /// Split only the traffic to this port of the service (e.g. its gRPC port).
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
        port: Option<u16>,
        /// Split connections to a TCP port (a VirtualService `tcp` rule) instead of requests.
        #[arg(long, requires = "port", conflicts_with = "api")]
        tcp: bool,
        /// The API to write the split in. With `gateway`, an HTTPRoute sends each subset's
        /// share to the Service SERVICE-NAME, on --port (80 when not given).
        #[arg(long, default_value = "istio", value_parser = super::route_api())]
        api: crate::api::meshctl::RouteApi,
        #[command(flatten)]
        output: Output,
    },
    /// A DestinationRule that ejects failing instances and bounds the connection pool.
    ///
    /// Example: meshctl generate circuit-breaker profile -n shop --consecutive-errors 5 --max-pending 10
    CircuitBreaker {
        #[command(flatten)]
        target: Target,
        /// Consecutive 5xx responses that eject an instance.
        #[arg(long, default_value_t = 5)]
        consecutive_errors: u32,
        /// How often instances are checked for ejection.
        #[arg(long, default_value = "10s")]
        interval: Duration,
        /// How long an ejected instance stays out (it grows with each ejection).
        #[arg(long, default_value = "30s")]
        ejection_time: Duration,
        /// The largest share of instances that may be ejected at once.
        #[arg(long, default_value_t = 100)]
        max_ejection_percent: u32,
        /// The most TCP connections to the service, from each caller.
        #[arg(long)]
        max_connections: Option<u32>,
        /// The most requests waiting for a connection; more are answered 503 at once.
        #[arg(long)]
        max_pending: Option<u32>,
        /// A subset the rule defines (repeat for each): applied, the rule replaces the
        /// service's DestinationRule, so it must keep the subsets its routes use.
        #[arg(long = "subset", value_name = "NAME")]
        subsets: Vec<String>,
        /// The workload label whose value names a subset.
        #[arg(long, default_value = "version")]
        label: String,
        #[command(flatten)]
        output: Output,
    },
    /// A PeerAuthentication for a namespace, or the whole mesh when no namespace is given.
    ///
    /// Example: meshctl generate mtls -n shop --mode STRICT
    Mtls {
        /// The namespace; without it, the policy is mesh-wide (in istio-system).
        #[arg(short = 'n', long)]
        namespace: Option<String>,
        #[arg(long, value_enum, ignore_case = true, default_value_t = Mode::Strict)]
        mode: Mode,
        #[command(flatten)]
        output: Output,
    },
    /// An AuthorizationPolicy allowing (or denying) callers by service account.
    ///
    /// Example: meshctl generate authz profile -n shop --allow-from frontend --methods GET
    Authz {
        #[command(flatten)]
        target: Target,
        /// Service accounts allowed to call (NAME in the same namespace, NAMESPACE/NAME, or *);
        /// everyone else is denied.
        #[arg(
            long,
            value_name = "SERVICE_ACCOUNT",
            value_delimiter = ',',
            required_unless_present = "deny_from",
            conflicts_with = "deny_from"
        )]
        allow_from: Vec<String>,
        /// Service accounts denied (NAME, NAMESPACE/NAME, or * for every caller).
        #[arg(long, value_name = "SERVICE_ACCOUNT", value_delimiter = ',')]
        deny_from: Vec<String>,
        /// Only these HTTP methods (comma-separated).
        #[arg(long, value_delimiter = ',')]
        methods: Vec<String>,
        /// Only these paths: exact, a prefix (/api/*) or a suffix (*.js).
        #[arg(long, value_delimiter = ',')]
        paths: Vec<String>,
        #[command(flatten)]
        output: Output,
    },
    /// A RequestAuthentication checking JWTs from an issuer; with --require, an
    /// AuthorizationPolicy refusing requests without a valid token.
    ///
    /// Example: meshctl generate jwt profile -n shop --issuer https://auth.example.com --jwks-uri https://auth.example.com/jwks.json --require
    Jwt {
        #[command(flatten)]
        target: Target,
        /// The `iss` that tokens carry.
        #[arg(long)]
        issuer: String,
        /// Where the issuer publishes its public keys.
        #[arg(long, required_unless_present = "jwks_file", conflicts_with = "jwks_file")]
        jwks_uri: Option<String>,
        /// A JWKS file whose keys are put inline in the policy.
        #[arg(long)]
        jwks_file: Option<PathBuf>,
        /// Accepted audiences (`aud`); any when none is given.
        #[arg(long = "audience", value_name = "AUDIENCE")]
        audiences: Vec<String>,
        /// Refuse requests that carry no token (403).
        #[arg(long)]
        require: bool,
        #[command(flatten)]
        output: Output,
    },
    /// A Canary rolling a service out from one subset to another in steps, with health gates.
    ///
    /// Example: meshctl generate canary profile -n shop --from v1 --to v3 --steps 10,50,100 --max-p99 500ms
    Canary {
        #[command(flatten)]
        target: Target,
        /// The stable subset.
        #[arg(long)]
        from: String,
        /// The subset being rolled out.
        #[arg(long)]
        to: String,
        #[command(flatten)]
        plan: super::canary::Plan,
        #[command(flatten)]
        output: Output,
    },
    /// The CustomResourceDefinitions of every kind meshctl understands, for `kubectl apply -f -`.
    Crds {
        #[command(flatten)]
        output: Output,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
#[value(rename_all = "UPPER")]
pub(super) enum Mode {
    Strict,
    Permissive,
    Disable,
}

/// `NAME=WEIGHT`, as `--subset v1=90` takes it.
#[derive(Clone, Debug)]
pub(super) struct SubsetWeight(String, u32);

impl FromStr for SubsetWeight {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, weight) =
            s.split_once('=').ok_or_else(|| format!("{s:?} is not NAME=WEIGHT (for example v1=90)"))?;
        let weight =
            weight.parse().map_err(|_| format!("{weight:?} is not a weight: use a whole number from 0 to 100"))?;
        Ok(SubsetWeight(name.to_string(), weight))
    }
}

pub(super) fn run(command: Command, printer: &Printer) -> Outcome {
    let (resources, output) = match command {
        Command::TrafficSplit { target, subsets, label, port, tcp, api, output } => {
            let subsets = subsets.into_iter().map(|SubsetWeight(n, w)| (n, w)).collect();
            (
                gen_core::traffic_split(&gen_core::TrafficSplit {
                    service: target.service,
                    namespace: target.namespace,
                    subsets,
                    label,
                    port,
                    tcp,
                    api,
                }),
                output,
            )
        }
        Command::CircuitBreaker {
            target,
            consecutive_errors,
            interval,
            ejection_time,
            max_ejection_percent,
            max_connections,
            max_pending,
            subsets,
            label,
            output,
        } => {
            let settings = gen_core::CircuitBreaker {
                subsets,
                label,
                service: target.service,
                namespace: target.namespace,
                consecutive_errors,
                interval,
                ejection_time,
                max_ejection_percent,
                max_connections,
                max_pending,
            };
            (gen_core::circuit_breaker(&settings), output)
        }
        Command::Mtls { namespace, mode, output } => {
            let mode = match mode {
                Mode::Strict => MtlsMode::Strict,
                Mode::Permissive => MtlsMode::Permissive,
                Mode::Disable => MtlsMode::Disable,
            };
            (gen_core::mtls(namespace.as_deref(), mode), output)
        }
        Command::Authz { target, allow_from, deny_from, methods, paths, output } => {
            let (action, from) =
                if deny_from.is_empty() { (Action::Allow, allow_from) } else { (Action::Deny, deny_from) };
            let settings =
                gen_core::Authz { service: target.service, namespace: target.namespace, action, from, methods, paths };
            (gen_core::authz(&settings), output)
        }
        Command::Jwt { target, issuer, jwks_uri, jwks_file, audiences, require, output } => {
            let keys = match (jwks_uri, jwks_file) {
                (Some(uri), _) => JwksSource::Uri(uri),
                (None, file) => {
                    let file = file.ok_or_else(|| Failure::usage(anyhow!("give --jwks-uri or --jwks-file")))?;
                    let text = std::fs::read_to_string(&file)
                        .with_context(|| format!("cannot read the JWKS file {}", file.display()));
                    JwksSource::Inline(text.map_err(Failure::usage)?)
                }
            };
            let settings = gen_core::Jwt {
                service: target.service,
                namespace: target.namespace,
                issuer,
                keys,
                audiences,
                require,
            };
            (gen_core::jwt(&settings), output)
        }
        Command::Canary { target, from, to, plan, output } => {
            (gen_core::canary(&plan.rollout(target.service, target.namespace, from, to)), output)
        }
        Command::Crds { output } => return emit(crds_yaml(), &output, printer),
    };
    emit(checked_yaml(&resources)?, &output, printer)
}

/// The resources as one multi-document YAML stream.
pub(super) fn documents(resources: &[Resource]) -> String {
    resources.iter().map(|r| format!("---\n{}", yaml::to_string(&r.to_json()))).collect()
}

/// The resources as YAML, refused if validation finds an error in them.
fn checked_yaml(resources: &[Resource]) -> Result<String, Failure> {
    let text = documents(resources);
    let report = policy::check(&[Source { name: "generated".into(), text: text.clone() }], &Options::default());
    let errors: Vec<String> = report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| format!("{} ({})", f.message, f.code))
        .collect();
    if !errors.is_empty() {
        return Err(Failure::usage(anyhow!("these flags make an invalid policy:\n  {}", errors.join("\n  "))));
    }
    Ok(text)
}

fn emit(text: String, output: &Output, printer: &Printer) -> Outcome {
    match &output.output_file {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write {}", path.display()))
            .map_err(Failure::usage)?,
        None => printer.write_raw(text.as_bytes())?,
    }
    Ok(Exit::Success)
}
