//! `meshctl dashboard`: serves the mesh's service graph, charts by version, traces and
//! configuration findings as a page, from this process, until Ctrl-C.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use super::place::Place;
use super::printer::{self, Printer, paint};
use super::{Exit, Failure, Outcome};
use crate::dashboard;
use crate::mesh::Mesh;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The port to serve on (0 picks a free one).
    #[arg(long, default_value_t = 20001)]
    port: u16,
    /// The address to serve on: the page shows the mesh's traffic and configuration, so only
    /// this machine by default.
    #[arg(long, default_value = "127.0.0.1")]
    address: IpAddr,
    /// Open the page in the default browser.
    #[arg(long)]
    open: bool,
    #[command(flatten)]
    place: Place,
}

pub async fn run(args: Args, printer: &Printer) -> Outcome {
    let mesh: Arc<dyn Mesh> = Arc::from(args.place.connect().await?);
    // A mesh that does not answer is said so now, not on the page.
    mesh.view().await?;
    let address = SocketAddr::new(args.address, args.port);
    let listener = tokio::net::TcpListener::bind(address).await.map_err(|e| {
        Failure::environment(anyhow::anyhow!("cannot serve the dashboard on {address}: {e}; choose another --port"))
    })?;
    let bound = listener.local_addr().map_err(Failure::environment)?;
    let url = format!("http://{bound}/");
    printer.write(&format!(
        "{} dashboard of {} at {}  (Ctrl-C to stop)\n",
        paint(printer::GOOD, "✓"),
        mesh.place(),
        paint(printer::BOLD, &url)
    ))?;
    if args.open {
        open(&url, printer)?;
    }
    tokio::select! {
        _ = dashboard::serve(listener, mesh) => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(Exit::Success)
}

/// Opens `url` in the desktop's browser; without one, says so and goes on serving.
fn open(url: &str, printer: &Printer) -> std::io::Result<()> {
    let opener = if cfg!(target_os = "macos") { "open" } else { "xdg-open" };
    let opened = std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    match opened {
        Ok(status) if status.success() => Ok(()),
        _ => printer.write(&format!(
            "{} cannot open a browser here ({opener}); open {url} yourself\n",
            paint(printer::WARNING, "!")
        )),
    }
}
