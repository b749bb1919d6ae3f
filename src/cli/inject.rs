//! `meshctl inject`: the webhook's injection, offline, on manifests (as `istioctl kube-inject`).

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::anyhow;
use serde_json::{Value, json};

use super::{Exit, Failure, Outcome, Printer, Structured};
use crate::api::yaml::{self, Node, Pos};
use crate::kube::inject;
use crate::kube::install::{self, GatewayService, Settings};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Manifests to inject: files, directories, or - for stdin. Pods, Deployments,
    /// StatefulSets, DaemonSets, ReplicaSets, Jobs and CronJobs get the sidecar; every other
    /// object is printed unchanged.
    #[arg(short = 'f', long = "filename", value_name = "FILE|DIR|-", required = true)]
    files: Vec<PathBuf>,
    /// The meshctl image of the capture init container (install's --image).
    #[arg(long, value_name = "IMAGE", default_value_t = install::default_image())]
    image: String,
    /// The Envoy image of the sidecar (install's --envoy-image).
    #[arg(long, value_name = "IMAGE", default_value = install::DEFAULT_ENVOY_IMAGE)]
    envoy_image: String,
    /// The CPU the sidecar requests unless the Pod's annotation says (install's
    /// --proxy-cpu-request).
    #[arg(long, value_name = "QUANTITY", default_value = install::DEFAULT_PROXY_CPU, value_parser = super::controller::quantity)]
    proxy_cpu_request: String,
    #[arg(short = 'o', long, value_enum, default_value_t = Structured::Yaml)]
    output: Structured,
}

pub fn run(args: Args, printer: &Printer) -> Outcome {
    let settings = Settings {
        proxy_cpu: args.proxy_cpu_request,
        ..Settings::new(args.image, args.envoy_image, GatewayService::LoadBalancer)
    };
    let sources = super::validate::read_sources(&args.files)?;
    let mut objects = Vec::new();
    let mut problems = String::new();
    for source in &sources {
        let (documents, syntax) = yaml::parse(&source.text);
        if let Some(e) = syntax {
            let _ = writeln!(problems, "{}:{}:{}: {}", source.name, e.pos.line, e.pos.column, e.message);
        }
        for root in documents.iter().filter_map(|d| d.root.as_ref()) {
            let mut object = root.to_json();
            if let Err((path, message)) = inject_any(&mut object, &settings) {
                let Pos { line, column } = locate(root, &path);
                let _ = writeln!(problems, "{}:{line}:{column}: {message}", source.name);
            }
            objects.push(object);
        }
    }
    if !problems.is_empty() {
        // Nothing is printed for the rest: a pipeline into `kubectl apply` must not apply half.
        return Err(Failure::usage(anyhow!("{}nothing was injected; fix the above and run again", problems)));
    }
    match args.output {
        Structured::Yaml => {
            let text: String = objects.iter().map(|o| format!("---\n{}", yaml::to_string(o))).collect();
            printer.write_raw(text.as_bytes())?;
        }
        Structured::Json => {
            let out = match <[Value; 1]>::try_from(objects) {
                Ok([one]) => one,
                Err(many) => json!({ "apiVersion": "v1", "kind": "List", "items": many }),
            };
            super::print_structured(printer, &out, Structured::Json)?;
        }
    }
    Ok(Exit::Success)
}

/// Injects an object, or every item of a `List`; on failure, where (JSON keys) and why.
fn inject_any(object: &mut Value, settings: &Settings) -> Result<(), (Vec<String>, String)> {
    if object["kind"] == "List" {
        for (index, item) in object["items"].as_array_mut().into_iter().flatten().enumerate() {
            inject_any(item, settings).map_err(|(mut path, message)| {
                path.splice(0..0, ["items".to_string(), index.to_string()]);
                (path, message)
            })?;
        }
        return Ok(());
    }
    match inject::inject_object(object, settings) {
        // What the webhook leaves alone passes through, as it would on the cluster.
        None | Some(Ok(_)) => Ok(()),
        Some(Err(e)) => Err((e.path, e.message)),
    }
}

/// The position of the deepest node along `path` (keys, and list indices as numbers).
fn locate(root: &Node, path: &[String]) -> Pos {
    let mut node = root;
    for key in path {
        let next = match &node.value {
            yaml::Value::Seq(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => node.get(key),
        };
        match next {
            Some(next) => node = next,
            None => break,
        }
    }
    node.pos
}
