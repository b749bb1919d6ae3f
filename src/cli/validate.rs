//! `meshctl validate`: reads policy files and prints the findings as text, JSON or SARIF.

use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::json;

use super::printer::{self, Printer, paint};
use super::{Exit, Failure, Outcome};
use crate::policy::{self, Code, Finding, Options, Report, Severity, Source};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A file, a directory (read recursively for *.yaml, *.yml and *.json) or `-` for stdin.
    #[arg(short = 'f', long = "filename", value_name = "PATH", required = true)]
    files: Vec<PathBuf>,
    /// The namespace of resources that do not name one.
    #[arg(short = 'n', long, default_value = "default", env = "MESHCTL_NAMESPACE")]
    namespace: String,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Format::Text)]
    output: Format,
    /// Fail (exit 1) on warnings as well as errors.
    #[arg(long)]
    strict: bool,
    /// Report kinds meshctl does not handle as errors instead of skipping them.
    #[arg(long)]
    reject_unknown: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum Format {
    Text,
    Json,
    Sarif,
}

pub fn run(args: Args, printer: &Printer) -> Outcome {
    let sources = read_sources(&args.files)?;
    let options = Options { namespace: args.namespace, reject_unknown: args.reject_unknown };
    let mut report = policy::check(&sources, &options);
    if report.documents == 0 {
        report.findings.push(Finding {
            file: Some(inputs(&args.files)),
            line: None,
            column: None,
            severity: Code::NoDocuments.severity(),
            code: Code::NoDocuments,
            message: "no YAML document: nothing was checked".into(),
            resource: None,
            path: None,
        });
    }
    let scope = format!("{} document(s), {} file(s)", report.documents, sources.len());
    print_report(printer, &report, &sources, args.output, &scope)?;
    Ok(verdict(&report, args.strict))
}

/// The exit status of a report: 1 on errors (or on warnings, when `strict`).
pub(super) fn verdict(report: &Report, strict: bool) -> Exit {
    let failed = report.count(Severity::Error) > 0 || (strict && report.count(Severity::Warning) > 0);
    if failed { Exit::Failed } else { Exit::Success }
}

/// Prints findings in `format`; the text form ends with a summary of what was checked
/// (`scope`).
pub(super) fn print_report(
    printer: &Printer,
    report: &Report,
    sources: &[Source],
    format: Format,
    scope: &str,
) -> Result<(), Failure> {
    match format {
        Format::Text => printer.write(&findings_text(report, sources, printer.terminal(), scope))?,
        Format::Json => printer.write_raw(&to_json_line(&json_report(report, sources.len())))?,
        Format::Sarif => printer.write_raw(&to_json_line(&sarif(report)))?,
    }
    Ok(())
}

/// The inputs as the command line named them, stdin as `stdin`.
fn inputs(paths: &[PathBuf]) -> String {
    let named: Vec<String> =
        paths.iter().map(|p| if p.as_os_str() == "-" { "stdin".into() } else { p.display().to_string() }).collect();
    named.join(", ")
}

/// What kubectl does with an input holding no object — a pipe from a command that failed, a
/// file of comments, a directory with no YAML — rather than a green step that did nothing.
pub fn require_objects(verb: &str, paths: &[PathBuf], sources: &[Source]) -> Result<(), Failure> {
    if policy::check(sources, &Options::default()).documents > 0 {
        return Ok(());
    }
    Err(Failure {
        exit: Exit::Failed,
        error: anyhow::anyhow!(
            "no objects passed to {verb}: {} held no YAML document; if a command wrote it, see that it succeeded \
             (`set -o pipefail` makes a pipe fail with it)",
            inputs(paths)
        ),
    })
}

/// Reads every file named, expanding directories (sorted, so output is stable) and `-`.
pub fn read_sources(paths: &[PathBuf]) -> Result<Vec<Source>, Failure> {
    let mut sources = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).context("cannot read stdin").map_err(Failure::usage)?;
            sources.push(Source { name: "-".into(), text });
            continue;
        }
        let meta = std::fs::metadata(path)
            .with_context(|| format!("cannot read {}; check the path (`-f -` reads standard input)", path.display()))
            .map_err(Failure::usage)?;
        let mut files = Vec::new();
        if meta.is_dir() {
            collect_dir(path, &mut files).map_err(Failure::usage)?;
        } else {
            files.push(path.clone());
        }
        for file in files {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {} (is it a UTF-8 text file?)", file.display()))
                .map_err(Failure::usage)?;
            sources.push(Source { name: file.display().to_string(), text });
        }
    }
    Ok(sources)
}

fn collect_dir(dir: &Path, files: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read directory {}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .with_context(|| format!("cannot read directory {}", dir.display()))?;
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect_dir(&path, files)?;
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml" || e == "json") {
            files.push(path);
        }
    }
    Ok(())
}

fn severity_style(severity: Severity) -> anstyle::Style {
    match severity {
        Severity::Error => printer::ERROR,
        Severity::Warning => printer::WARNING,
        Severity::Info => printer::INFO,
    }
}

/// The human report: one block per finding, with the source line under it on a terminal,
/// then a summary line.
pub(super) fn findings_text(report: &Report, sources: &[Source], excerpts: bool, scope: &str) -> String {
    let mut out = String::new();
    for f in &report.findings {
        let resource =
            f.resource.as_deref().map(|r| format!(" {}", paint(printer::DIM, format!("({r})")))).unwrap_or_default();
        let _ = writeln!(
            out,
            "{}: {}: {}{resource}",
            paint(printer::BOLD, place(f)),
            paint(severity_style(f.severity), format!("{}[{}]", f.severity, f.code)),
            f.message
        );
        if excerpts && let Some(excerpt) = excerpt(f, sources) {
            out.push_str(&excerpt);
        }
    }
    let (errors, warnings, infos) =
        (report.count(Severity::Error), report.count(Severity::Warning), report.count(Severity::Info));
    let verdict = if errors == 0 { paint(printer::GOOD, "ok") } else { paint(printer::ERROR, "failed") };
    let _ = writeln!(out, "{verdict}: {errors} error(s), {warnings} warning(s), {infos} info in {scope}");
    out
}

/// `file:line:col`, or for an object of the mesh, which has no text, the word that says so.
fn place(f: &Finding) -> String {
    match (&f.file, f.line, f.column) {
        (Some(file), Some(line), Some(column)) => format!("{file}:{line}:{column}"),
        (Some(file), _, _) => file.clone(),
        _ => "in the mesh".into(),
    }
}

/// The finding's source line with a caret under the offending token.
fn excerpt(f: &Finding, sources: &[Source]) -> Option<String> {
    let source = sources.iter().find(|s| Some(&s.name) == f.file.as_ref())?;
    let number = f.line?;
    let line = crate::api::yaml::lines(&source.text).nth(number.checked_sub(1)?)?;
    let start = f.column?.saturating_sub(1);
    let token = line.chars().skip(start).take_while(|c| !c.is_whitespace() && *c != ':').count().max(1);
    let gutter = " ".repeat(number.to_string().len());
    let bar = paint(printer::DIM, "|");
    Some(format!(
        "{gutter} {bar}\n{} {bar} {line}\n{gutter} {bar} {}{}\n",
        paint(printer::DIM, number),
        " ".repeat(start),
        paint(severity_style(f.severity), "^".repeat(token))
    ))
}

fn summary(report: &Report, files: usize) -> serde_json::Value {
    json!({
        "files": files,
        "documents": report.documents,
        "resources": report.resources.len(),
        "errors": report.count(Severity::Error),
        "warnings": report.count(Severity::Warning),
        "infos": report.count(Severity::Info),
    })
}

/// `{"findings": [...], "summary": {...}}`: the stable machine form.
fn json_report(report: &Report, files: usize) -> serde_json::Value {
    json!({ "findings": report.findings, "summary": summary(report, files) })
}

/// SARIF 2.1.0, for code-scanning dashboards.
fn sarif(report: &Report) -> serde_json::Value {
    let rules: Vec<_> = Code::ALL
        .iter()
        .map(|c| json!({ "id": c.id(), "shortDescription": { "text": c.summary() }, "defaultConfiguration": { "level": level(c.severity()) } }))
        .collect();
    let results: Vec<_> = report
        .findings
        .iter()
        .map(|f| {
            json!({
                "ruleId": f.code.id(),
                "level": level(f.severity),
                "message": { "text": f.message },
                "locations": [location(f)],
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": { "name": "meshctl", "version": env!("CARGO_PKG_VERSION"), "rules": rules } },
            "results": results,
        }],
    })
}

/// Where a finding is, as SARIF says it: a region of a file, or for an object of the mesh its
/// name alone.
fn location(f: &Finding) -> serde_json::Value {
    match (&f.file, f.line, f.column) {
        (Some(file), Some(line), Some(column)) => json!({
            "physicalLocation": {
                "artifactLocation": { "uri": file },
                "region": { "startLine": line.max(1), "startColumn": column.max(1) },
            },
        }),
        _ => json!({ "logicalLocations": [{ "fullyQualifiedName": f.resource, "kind": "resource" }] }),
    }
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

fn to_json_line(value: &serde_json::Value) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(value).expect("JSON values serialize");
    bytes.push(b'\n');
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_terminal_gets_the_source_line_with_a_caret_under_the_token() {
        let sources = [Source { name: "a.yaml".into(), text: "spec:\n  hostz: [a]\n".into() }];
        let report = Report {
            findings: vec![Finding {
                file: Some("a.yaml".into()),
                line: Some(2),
                column: Some(3),
                severity: Severity::Error,
                code: Code::UnknownField,
                message: "unknown field".into(),
                resource: None,
                path: None,
            }],
            ..Report::default()
        };
        let strip = |s: String| anstream::adapter::strip_str(&s).to_string();
        let shown = strip(findings_text(&report, &sources, true, "a.yaml"));
        assert!(shown.contains("2 |   hostz: [a]\n  |   ^^^^^\n"), "{shown}");
        assert!(!strip(findings_text(&report, &sources, false, "a.yaml")).contains('^'));
    }
}
