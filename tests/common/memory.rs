//! A process's resident memory, for the benchmarks that report it.

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

/// The peak resident memory of process `pid`, in MB, from the kernel.
pub fn peak_mb(pid: &str) -> f64 {
    status_mb(pid, "VmHWM")
}

/// The resident memory of process `pid` now, in MB.
pub fn resident_mb(pid: &str) -> f64 {
    status_mb(pid, "VmRSS")
}
