//! A process's resident memory and CPU time, for the benchmarks that report them.

#![allow(dead_code)] // each benchmark reads a different figure

/// A figure of `/proc/PID/status` ("self" for this process), in MB.
fn status_mb(pid: &str, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

/// The CPU time process `pid` has used so far, user and system, in seconds.
pub fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // After the command's name (in parentheses, which may hold spaces), the fields from the
    // third (state) on: utime and stime are the 14th and 15th, in clock ticks.
    let fields: Vec<&str> = stat.rsplit_once(") ").map(|(_, rest)| rest.split(' ').collect()).unwrap_or_default();
    let ticks: f64 = fields.get(11..13).into_iter().flatten().filter_map(|f| f.parse::<f64>().ok()).sum();
    ticks / clock_ticks_per_second()
}

fn clock_ticks_per_second() -> f64 {
    let out = std::process::Command::new("getconf").arg("CLK_TCK").output().expect("getconf runs");
    String::from_utf8_lossy(&out.stdout).trim().parse().expect("CLK_TCK is a number")
}

/// The peak resident memory of process `pid`, in MB, from the kernel.
pub fn peak_mb(pid: &str) -> f64 {
    status_mb(pid, "VmHWM")
}

/// The resident memory of process `pid` now, in MB.
pub fn resident_mb(pid: &str) -> f64 {
    status_mb(pid, "VmRSS")
}
