//! `meshctl capture` (hidden): what the injected init container runs to set up traffic
//! capture in its Pod's network namespace.

use std::io::Write as _;
use std::process::{Command, Stdio};

use anyhow::{Context, anyhow};

use super::{Exit, Failure, Outcome, Printer};
use crate::kube::capture::{Capture, Cidr};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where outbound TCP goes: the proxy's outbound capture port.
    #[arg(long)]
    outbound_port: u16,
    /// Where inbound TCP goes: the proxy's inbound capture port.
    #[arg(long)]
    inbound_port: u16,
    /// The proxy's user, whose own connections are never captured.
    #[arg(long)]
    proxy_uid: u32,
    #[arg(long, value_delimiter = ',', value_name = "PORT,...")]
    exclude_inbound_ports: Vec<u16>,
    #[arg(long, value_delimiter = ',', value_name = "PORT,...")]
    exclude_outbound_ports: Vec<u16>,
    #[arg(long, value_delimiter = ',', value_name = "CIDR,...")]
    exclude_outbound_ranges: Vec<Cidr>,
    /// Print the rules instead of writing them.
    #[arg(long)]
    dry_run: bool,
}

pub fn run(args: Args, printer: &Printer) -> Outcome {
    let capture = Capture {
        outbound_port: args.outbound_port,
        inbound_port: args.inbound_port,
        proxy_uid: args.proxy_uid,
        exclude_inbound_ports: args.exclude_inbound_ports,
        exclude_outbound_ports: args.exclude_outbound_ports,
        exclude_outbound_ranges: args.exclude_outbound_ranges,
    };
    let rules = capture.rules();
    if args.dry_run {
        printer.write_raw(rules.as_bytes())?;
        return Ok(Exit::Success);
    }
    let mut restore = Command::new("iptables-restore")
        .stdin(Stdio::piped())
        .spawn()
        .context("cannot run iptables-restore: the image that runs `meshctl capture` needs iptables")
        .map_err(Failure::environment)?;
    restore
        .stdin
        .take()
        .expect("piped")
        .write_all(rules.as_bytes())
        .context("writing to iptables-restore")
        .map_err(Failure::environment)?;
    let status = restore.wait().context("waiting for iptables-restore").map_err(Failure::environment)?;
    if !status.success() {
        return Err(Failure::environment(anyhow!(
            "iptables-restore refused the capture rules ({status}); the container needs NET_ADMIN and NET_RAW, as root"
        )));
    }
    printer.write(&format!(
        "capturing outbound TCP to :{} and inbound TCP to :{}; user {} is exempt\n",
        capture.outbound_port, capture.inbound_port, capture.proxy_uid
    ))?;
    Ok(Exit::Success)
}
