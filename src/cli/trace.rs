//! `meshctl trace`: recent traces from the control plane's collector, slowest first, each as a
//! waterfall — one line per span, indented under the span that caused it, with a bar placed
//! in the trace's time — and the span that spent the most time itself marked.

use std::collections::HashMap;

use anyhow::anyhow;

use super::place::Place;
use super::printer::{self, Printer, milliseconds, paint};
use super::{Exit, Failure, Outcome, Structured};
use crate::observe::trace::{Kind, Query, Span, Trace};

/// How many characters the bars span.
const BAR_WIDTH: usize = 40;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only traces through this service; the ingress gateway's (`gateway` on the local mesh,
    /// `meshctl-ingressgateway` on a cluster) in any namespace.
    service: Option<String>,
    /// The service's namespace.
    #[arg(short = 'n', long, default_value = "default", env = "MESHCTL_NAMESPACE")]
    namespace: String,
    /// Only traces at least this long (`500ms`, `1s`).
    #[arg(long, default_value = "0s")]
    min_duration: crate::api::Duration,
    /// At most this many traces, slowest first.
    #[arg(long, default_value_t = crate::observe::collector::DEFAULT_LIMIT)]
    limit: usize,
    /// Only the trace of this id (32 hex digits, as a `traceparent` or `x-b3-traceid` header
    /// carried it).
    #[arg(long, value_name = "TRACE_ID")]
    id: Option<String>,
    #[arg(short = 'o', long, value_enum)]
    output: Option<Structured>,
    #[command(flatten)]
    place: Place,
}

pub async fn run(args: Args, printer: &Printer) -> Outcome {
    if args.limit == 0 {
        return Err(Failure::usage(anyhow!("--limit must be at least 1")));
    }
    let query = Query {
        service: args.service.map(|s| (args.namespace, s)),
        min_duration_ms: args.min_duration.0.as_secs_f64() * 1000.0,
        limit: args.limit,
        trace_id: args.id.map(|id| id.to_ascii_lowercase()),
    };
    let mesh = args.place.connect().await?;
    let traces = mesh.traces(&query).await?;
    if let Some(format) = args.output {
        return super::print_structured(printer, &serde_json::to_value(&traces).expect("traces serialize"), format);
    }
    if traces.traces.is_empty() {
        printer.write(&format!(
            "No traces{}. Send requests through the mesh (only the sampled ones are traced: see --trace-sampling \
             on `meshctl install`).\n",
            match &query.service {
                Some((namespace, name)) => format!(" through {name} in namespace {namespace}"),
                None => String::new(),
            }
        ))?;
        return Ok(Exit::Success);
    }
    let text: Vec<String> = traces.traces.iter().map(waterfall).collect();
    printer.write(&text.join("\n"))?;
    Ok(Exit::Success)
}

/// One trace: a heading, then its spans in call order.
fn waterfall(trace: &Trace) -> String {
    let start = trace.spans.iter().map(|s| s.start_unix_ms).fold(f64::INFINITY, f64::min);
    let rows: Vec<(String, &Span)> = in_call_order(trace)
        .into_iter()
        .map(|(depth, span)| {
            let who = match span.version.as_str() {
                "" => span.service.clone(),
                version => format!("{} {version}", span.service),
            };
            (format!("{}{who}", "  ".repeat(depth)), span)
        })
        .collect();
    let who_width = rows.iter().map(|(who, _)| who.chars().count()).max().unwrap_or(0);
    let mut out = format!(
        "{} {}  {}  {}\n",
        paint(printer::BOLD, "TRACE"),
        trace.trace_id,
        paint(printer::BOLD, milliseconds(trace.duration_ms)),
        trace.root
    );
    for (who, span) in rows {
        let kind = match span.kind {
            Kind::Server => "server",
            Kind::Client => "client",
        };
        let status = if span.status_code == 0 { "-".to_string() } else { span.status_code.to_string() };
        let line = format!(
            "  {who:<who_width$}  {kind}  {status:>3}  {:>8}  |{}|",
            milliseconds(span.duration_ms),
            bar(span.start_unix_ms - start, span.duration_ms, trace.duration_ms)
        );
        if span.span_id == trace.slowest {
            out.push_str(&format!("{}  {}\n", paint(printer::WARNING, line), paint(printer::WARNING, "◀ slowest")));
        } else {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

/// The spans depth first, each after the span that caused it, siblings by start; a span whose
/// parent is not in the trace (not sampled, or not reported yet) starts a tree of its own.
fn in_call_order(trace: &Trace) -> Vec<(usize, &Span)> {
    let known: HashMap<&str, &Span> = trace.spans.iter().map(|s| (s.span_id.as_str(), s)).collect();
    let mut children: HashMap<Option<&str>, Vec<&Span>> = HashMap::new();
    for span in &trace.spans {
        let parent = span.parent_id.as_deref().filter(|p| known.contains_key(p));
        children.entry(parent).or_default().push(span);
    }
    let mut order = Vec::with_capacity(trace.spans.len());
    // Spans arrive sorted by start, so each list of children is too.
    let mut stack: Vec<(usize, &Span)> = children.get(&None).into_iter().flatten().rev().map(|s| (0, *s)).collect();
    while let Some((depth, span)) = stack.pop() {
        order.push((depth, span));
        let below = children.get(&Some(span.span_id.as_str())).into_iter().flatten().rev();
        stack.extend(below.map(|s| (depth + 1, *s)));
    }
    order
}

/// A bar from `offset` for `length`, on a scale where the whole width is `total`.
fn bar(offset: f64, length: f64, total: f64) -> String {
    let cells = |ms: f64| if total > 0.0 { (ms / total * BAR_WIDTH as f64).round() as usize } else { 0 };
    let from = cells(offset).min(BAR_WIDTH - 1);
    let filled = cells(length).clamp(1, BAR_WIDTH - from);
    format!("{}{}{}", " ".repeat(from), "█".repeat(filled), " ".repeat(BAR_WIDTH - from - filled))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mk_span(id: &str, parent: Option<&str>, service: &str, version: &str, start: f64, duration: f64) -> Span {
        Span {
            span_id: id.into(),
            parent_id: parent.map(str::to_string),
            service: service.into(),
            namespace: "default".into(),
            version: version.into(),
            name: format!("{service}.default.svc.cluster.local:80/*"),
            kind: if service == "gateway" || id.ends_with('c') { Kind::Client } else { Kind::Server },
            start_unix_ms: 1000.0 + start,
            duration_ms: duration,
            status_code: 200,
        }
    }

    #[test]
    fn a_trace_is_drawn_in_call_order_with_bars_in_its_time() {
        let trace = Trace {
            trace_id: "t".into(),
            duration_ms: 1600.0,
            root: "gateway: frontend.default.svc.cluster.local:80/*".into(),
            slowest: "p".into(),
            spans: vec![
                mk_span("g", None, "gateway", "", 0.0, 1600.0),
                mk_span("f", Some("g"), "frontend", "v1", 10.0, 1580.0),
                mk_span("bc", Some("f"), "frontend", "v1", 20.0, 80.0),
                mk_span("pc", Some("f"), "frontend", "v1", 100.0, 1480.0),
                mk_span("b", Some("bc"), "board", "v1", 30.0, 60.0),
                mk_span("p", Some("pc"), "profile", "v2", 110.0, 1460.0),
            ],
        };
        let text = anstream::adapter::strip_str(&waterfall(&trace)).to_string();
        let expected = "\
TRACE t  1.60s  gateway: frontend.default.svc.cluster.local:80/*
  gateway           client  200     1.60s  |████████████████████████████████████████|
    frontend v1     server  200     1.58s  |████████████████████████████████████████|
      frontend v1   client  200    80.0ms  | ██                                     |
        board v1    server  200    60.0ms  | ██                                     |
      frontend v1   client  200     1.48s  |   █████████████████████████████████████|
        profile v2  server  200     1.46s  |   █████████████████████████████████████|  ◀ slowest
";
        assert_eq!(text, expected);
    }

    #[test]
    fn a_span_whose_parent_is_missing_starts_a_tree_of_its_own() {
        let trace = Trace {
            trace_id: "t".into(),
            duration_ms: 10.0,
            root: String::new(),
            slowest: String::new(),
            spans: vec![
                mk_span("a", None, "gateway", "", 0.0, 10.0),
                mk_span("p", Some("lost"), "profile", "", 1.0, 2.0),
            ],
        };
        let depths: Vec<usize> = in_call_order(&trace).into_iter().map(|(depth, _)| depth).collect();
        assert_eq!(depths, [0, 0]);
    }

    #[test]
    fn bars_stay_inside_their_width() {
        for (offset, length) in [(0.0, 0.0), (10.0, 0.0), (9.99, 5.0), (0.0, 20.0)] {
            assert_eq!(bar(offset, length, 10.0).chars().count(), BAR_WIDTH);
        }
        assert_eq!(bar(0.0, 0.0, 0.0).trim(), "█");
    }
}
