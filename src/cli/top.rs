//! `meshctl top`: live request rate, success rate and latency per service and version (or
//! per workload), and connections and bytes for TCP services, read straight from every
//! proxy's statistics. A live table on a terminal;
//! one plain table per interval elsewhere; one window as JSON or YAML with `--once`.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use serde::Serialize;

use super::place::Place;
use super::printer::{self, Printer, milliseconds, paint};
use super::{Exit, Failure, ListFormat, Outcome};
use crate::mesh::{Mesh, MeshView};
use crate::metrics::{self, Direction, Grouping, Origin, ProxyStats, Row};

/// How long one proxy may take to answer a scrape.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this service.
    service: Option<String>,
    #[arg(short = 'n', long, default_value = "default", env = "MESHCTL_NAMESPACE")]
    namespace: String,
    /// Across all namespaces.
    #[arg(short = 'A', long)]
    all_namespaces: bool,
    /// The window: time between the two scrapes each figure is computed from.
    #[arg(long, default_value = "2s")]
    interval: crate::api::Duration,
    /// One row per service and version, per workload instance, or per route.
    #[arg(long, value_enum, default_value_t = By::Service)]
    by: By,
    #[arg(long, value_enum, default_value_t = SortBy::Rps)]
    sort: SortBy,
    /// Also show what callers saw (outbound), besides what workloads served (inbound).
    #[arg(long)]
    outbound: bool,
    /// Print one window and exit.
    #[arg(long)]
    once: bool,
    #[arg(short = 'o', long, value_enum, default_value_t = ListFormat::Table)]
    output: ListFormat,
    #[command(flatten)]
    place: Place,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum By {
    Service,
    Workload,
    Route,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum SortBy {
    Rps,
    Success,
    P99,
}

/// One window, as `--once -o json|yaml` prints it.
#[derive(Serialize)]
struct Window {
    window_seconds: f64,
    rows: Vec<Row>,
    /// Proxies that did not answer, with why.
    unreachable: Vec<Unreachable>,
}

#[derive(Serialize)]
struct Unreachable {
    proxy: String,
    error: String,
}

pub async fn run(args: Args, printer: &Printer) -> Outcome {
    if args.interval.0.is_zero() {
        return Err(Failure::usage(anyhow!("--interval must be longer than 0s")));
    }
    if args.output == ListFormat::Wide {
        return Err(Failure::usage(anyhow!("top prints -o table, json or yaml")));
    }
    let mesh = args.place.connect().await?;
    if args.once || args.output != ListFormat::Table {
        let window = window(mesh.as_ref(), &args).await?;
        return match args.output.structured() {
            None => {
                printer.write(&render(&window, &args))?;
                Ok(Exit::Success)
            }
            Some(format) => {
                super::print_structured(printer, &serde_json::to_value(&window).expect("rows serialize"), format)
            }
        };
    }
    if printer.terminal() {
        return live(mesh.as_ref(), &args, printer).await;
    }
    loop {
        let window = window(mesh.as_ref(), &args).await?;
        printer.write(&format!("{}\n{}\n", crate::api::time::now_rfc3339(), render(&window, &args)))?;
    }
}

/// The live view: redrawn in place on the alternate screen until q or Ctrl-C.
async fn live(mesh: &dyn Mesh, args: &Args, printer: &Printer) -> Outcome {
    let _screen = Screen::enter();
    let quit = watch_for_quit();
    loop {
        let started = Instant::now();
        let window = tokio::select! {
            w = window(mesh, args) => Some(w?),
            _ = tokio::signal::ctrl_c() => None,
            _ = quit_pressed(&quit) => None,
        };
        let Some(window) = window else { return Ok(Exit::Success) };
        let header =
            paint(printer::BOLD, format!("meshctl top — {:.1}s window, q to quit", started.elapsed().as_secs_f64()));
        printer.write(&format!("\x1b[H\x1b[2J{header}\n\n{}", render(&window, args).replace('\n', "\r\n")))?;
    }
}

async fn quit_pressed(quit: &std::sync::mpsc::Receiver<()>) {
    loop {
        if quit.try_recv().is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Reads the keyboard on its own thread; sends when q is pressed.
fn watch_for_quit() -> std::sync::mpsc::Receiver<()> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::Read;
        let mut byte = [0u8];
        while std::io::stdin().read(&mut byte).is_ok_and(|n| n == 1) {
            if matches!(byte[0], b'q' | b'Q') {
                let _ = tx.send(());
                return;
            }
        }
    });
    rx
}

/// The terminal in the state the live view needs (alternate screen, keys without Enter, no
/// echo), restored when dropped, however the view ends.
struct Screen {
    saved: Option<rustix::termios::Termios>,
}

impl Screen {
    fn enter() -> Screen {
        let stdin = std::io::stdin();
        let saved = rustix::termios::tcgetattr(&stdin).ok();
        if let Some(original) = &saved {
            let mut raw = original.clone();
            raw.local_modes.remove(rustix::termios::LocalModes::ICANON | rustix::termios::LocalModes::ECHO);
            let _ = rustix::termios::tcsetattr(&stdin, rustix::termios::OptionalActions::Now, &raw);
        }
        let mut out = std::io::stdout();
        let _ = write!(out, "\x1b[?1049h\x1b[?25l");
        let _ = out.flush();
        Screen { saved }
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        if let Some(original) = &self.saved {
            let _ = rustix::termios::tcsetattr(std::io::stdin(), rustix::termios::OptionalActions::Now, original);
        }
        let mut out = std::io::stdout();
        let _ = write!(out, "\x1b[?25h\x1b[?1049l");
        let _ = out.flush();
    }
}

/// Scrapes every proxy twice, `--interval` apart, and computes the rows.
async fn window(mesh: &dyn Mesh, args: &Args) -> Result<Window, Failure> {
    let status: MeshView = mesh.view().await?;
    let mut targets = status.gateways();
    let mut instances = BTreeMap::new();
    // An inbound row comes from its instance's own proxy: with one namespace shown, the
    // others' proxies need not be asked (on a cluster, each is a request through the API server).
    let inbound_only = !args.outbound && args.by != By::Route;
    let shown = |i: &&crate::mesh::InstanceView| args.all_namespaces || !inbound_only || i.namespace == args.namespace;
    for i in status.instances.iter().filter(shown) {
        targets.push(i.node_id.clone());
        instances.insert(
            i.node_id.clone(),
            Origin {
                service: i.service.clone(),
                namespace: i.namespace.clone(),
                version: i.version().to_string(),
                workload: i.node_id.clone(),
                route: String::new(),
            },
        );
    }
    let start = Instant::now();
    let before = mesh.scrape(&targets, SCRAPE_TIMEOUT).await;
    tokio::time::sleep(args.interval.0.saturating_sub(start.elapsed())).await;
    let after = mesh.scrape(&targets, SCRAPE_TIMEOUT).await;
    let seconds = start.elapsed().as_secs_f64();

    let mut unreachable = Vec::new();
    let mut answered = |results: Vec<Result<ProxyStats, String>>, record: bool| -> Vec<(String, ProxyStats)> {
        targets
            .iter()
            .zip(results)
            .filter_map(|(node, r)| match r {
                Ok(stats) => Some((node.clone(), stats)),
                Err(error) => {
                    if record {
                        unreachable.push(Unreachable { proxy: node.clone(), error });
                    }
                    None
                }
            })
            .collect()
    };
    let (before, after) = (answered(before, false), answered(after, true));
    let grouping = match args.by {
        By::Service => Grouping::Service,
        By::Workload => Grouping::Workload,
        By::Route => Grouping::Route,
    };
    let mut rows: Vec<Row> = metrics::rows(&before, &after, &instances, grouping, seconds)
        .into_iter()
        .filter(|r| args.outbound || args.by == By::Route || r.direction == Direction::Inbound)
        .filter(|r| args.all_namespaces || r.origin.namespace == args.namespace)
        .filter(|r| args.service.as_ref().is_none_or(|s| *s == r.origin.service))
        .collect();
    let key = |r: &Row| match args.sort {
        SortBy::Rps => -r.figures.rps,
        SortBy::Success => r.figures.success_rate.unwrap_or(2.0),
        SortBy::P99 => -r.figures.p99_ms.unwrap_or(-1.0),
    };
    rows.sort_by(|a, b| key(a).total_cmp(&key(b)).then_with(|| a.origin.cmp(&b.origin)));
    Ok(Window { window_seconds: seconds, rows, unreachable })
}

/// A byte rate as people read one: `512 B/s`, `1.5 KB/s`, `2.0 MB/s`.
fn bytes_per_second(rate: f64) -> String {
    match rate {
        r if r >= 1_000_000.0 => format!("{:.1} MB/s", r / 1_000_000.0),
        r if r >= 1_000.0 => format!("{:.1} KB/s", r / 1_000.0),
        r => format!("{r:.0} B/s"),
    }
}

fn render(window: &Window, args: &Args) -> String {
    let mut headers = Vec::new();
    if args.all_namespaces {
        headers.push("NAMESPACE");
    }
    headers.push("SERVICE");
    match args.by {
        By::Service => headers.push("VERSION"),
        By::Workload => headers.extend(["VERSION", "WORKLOAD"]),
        By::Route => headers.push("ROUTE"),
    }
    if args.outbound {
        headers.push("DIRECTION");
    }
    headers.extend(["RPS", "SUCCESS", "P50", "P90", "P99", "REQUESTS"]);
    // A TCP service has connections and bytes where others have requests.
    let connections = window.rows.iter().any(|r| r.figures.connections > 0 && r.figures.requests == 0);
    if connections {
        headers.extend(["CONN/S", "IN", "OUT"]);
    }
    let mut table = super::table(&headers);
    for r in &window.rows {
        let mut row = Vec::new();
        if args.all_namespaces {
            row.push(r.origin.namespace.clone());
        }
        row.push(r.origin.service.clone());
        let version = if r.origin.version.is_empty() { "-".into() } else { r.origin.version.clone() };
        match args.by {
            By::Service => row.push(version),
            By::Workload => row.extend([version, r.origin.workload.clone()]),
            By::Route => row.push(r.origin.route.clone()),
        }
        if args.outbound {
            row.push(format!("{:?}", r.direction).to_lowercase());
        }
        let f = &r.figures;
        row.push(format!("{:.1}", f.rps));
        row.push(f.success_rate.map_or("-".into(), |s| format!("{:.1}%", s * 100.0)));
        for q in [f.p50_ms, f.p90_ms, f.p99_ms] {
            row.push(q.map_or("-".into(), milliseconds));
        }
        row.push(f.requests.to_string());
        if connections {
            row.push(format!("{:.1}", f.cps));
            row.extend([f.bytes_in_per_second, f.bytes_out_per_second].map(bytes_per_second));
        }
        table.add_row(row);
    }
    let mut out = format!("{table}\n");
    for u in &window.unreachable {
        out.push_str(&format!("{} {} did not answer: {}\n", paint(printer::ERROR, "✗"), u.proxy, u.error));
    }
    out
}
