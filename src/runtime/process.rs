//! One supervised process: started with its log file, restarted with backoff when it exits,
//! and possibly adopted from a previous controller (known only by pid).

use std::fs::OpenOptions;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// What to run: program, arguments and environment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Launch {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub log: PathBuf,
}

enum Handle {
    Child(Child),
    /// Started by an earlier controller; watched and stopped by pid.
    Adopted(u32),
    /// Not running; start again at this time.
    Waiting(Instant),
}

pub struct Process {
    pub launch: Launch,
    handle: Handle,
    pub restarts: u32,
    pub last_error: Option<String>,
}

impl Process {
    pub fn start(launch: Launch) -> Process {
        let mut p = Process { launch, handle: Handle::Waiting(Instant::now()), restarts: 0, last_error: None };
        p.spawn();
        p
    }

    /// A process an earlier controller started, if it is still alive.
    pub fn adopt(launch: Launch, pid: u32) -> Option<Process> {
        alive(pid).then(|| Process { launch, handle: Handle::Adopted(pid), restarts: 0, last_error: None })
    }

    fn spawn(&mut self) {
        let log = OpenOptions::new().create(true).append(true).open(&self.launch.log);
        let result = log.and_then(|log| {
            Command::new(&self.launch.program)
                .args(&self.launch.args)
                .envs(self.launch.env.iter().map(|(k, v)| (k, v)))
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log)
                // Its own process group: a Ctrl-C meant for the controller does not reach the
                // workloads, which keep serving while a controller restarts.
                .process_group(0)
                .spawn()
        });
        self.handle = match result {
            Ok(child) => Handle::Child(child),
            Err(e) => {
                self.last_error = Some(format!("cannot start {}: {e}", self.launch.program.display()));
                Handle::Waiting(Instant::now() + self.backoff())
            }
        };
    }

    fn backoff(&self) -> Duration {
        FIRST_BACKOFF.saturating_mul(1 << self.restarts.min(6)).min(MAX_BACKOFF)
    }

    pub fn pid(&self) -> Option<u32> {
        match &self.handle {
            Handle::Child(c) => Some(c.id()),
            Handle::Adopted(pid) => Some(*pid),
            Handle::Waiting(_) => None,
        }
    }

    pub fn running(&self) -> bool {
        self.pid().is_some()
    }

    /// Notices an exit and restarts after the backoff; call it often. Says whether it noticed
    /// an exit, so the caller can change the launch before the restart.
    pub fn tick(&mut self) -> bool {
        let exited = match &mut self.handle {
            Handle::Child(child) => match child.try_wait() {
                Ok(Some(status)) => Some(status.to_string()),
                Ok(None) => None,
                Err(e) => Some(e.to_string()),
            },
            Handle::Adopted(pid) => (!alive(*pid)).then(|| "exited".to_string()),
            Handle::Waiting(at) if Instant::now() >= *at => {
                self.restarts += 1;
                self.spawn();
                None
            }
            Handle::Waiting(_) => None,
        };
        let Some(status) = exited else { return false };
        self.last_error = Some(format!("{} {status}", self.launch.program.display()));
        self.handle = Handle::Waiting(Instant::now() + self.backoff());
        true
    }

    /// Stops the process: SIGTERM, then SIGKILL if it has not exited within `grace`.
    pub fn stop(&mut self, grace: Duration) {
        let Some(pid) = self.pid() else { return };
        signal(pid, rustix::process::Signal::TERM);
        let deadline = Instant::now() + grace;
        while alive_or_zombie(&mut self.handle, pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if alive_or_zombie(&mut self.handle, pid) {
            signal(pid, rustix::process::Signal::KILL);
        }
        if let Handle::Child(child) = &mut self.handle {
            let _ = child.wait();
        }
        self.handle = Handle::Waiting(Instant::now() + MAX_BACKOFF * 1000);
    }
}

/// Stops a process an earlier controller started that no one adopts (its workload or Gateway
/// went while no controller ran): SIGTERM, then SIGKILL if it has not exited within `grace`.
pub fn stop_left(pid: u32, grace: Duration) {
    Process { launch: Launch::default(), handle: Handle::Adopted(pid), restarts: 0, last_error: None }.stop(grace);
}

fn alive_or_zombie(handle: &mut Handle, pid: u32) -> bool {
    match handle {
        Handle::Child(child) => matches!(child.try_wait(), Ok(None)),
        _ => alive(pid),
    }
}

/// Whether a process with this pid exists (and is not a zombie we cannot reap).
pub fn alive(pid: u32) -> bool {
    let Some(pid) = rustix::process::Pid::from_raw(pid as i32) else { return false };
    if rustix::process::test_kill_process(pid).is_err() {
        return false;
    }
    // A zombie still answers kill(0); /proc says whether it is one.
    std::fs::read_to_string(format!("/proc/{}/stat", pid.as_raw_nonzero()))
        .map(|stat| stat.rsplit_once(") ").is_none_or(|(_, rest)| !rest.starts_with('Z')))
        .unwrap_or(true)
}

pub fn signal(pid: u32, signal: rustix::process::Signal) {
    if let Some(pid) = rustix::process::Pid::from_raw(pid as i32) {
        // It may have exited meanwhile; nothing to do then.
        let _ = rustix::process::kill_process(pid, signal);
    }
}
