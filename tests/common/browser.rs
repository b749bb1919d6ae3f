//! A page as a person sees it: headless Chromium (Debian's `chromium`, or `MESHCTL_CHROMIUM`)
//! loads it, runs its scripts for a few seconds of virtual time, and leaves its DOM, its
//! console and a screenshot. Its profile, and everything else it writes, stays in `dir`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a page came to after its scripts ran.
pub struct Page {
    pub dom: String,
    /// Every console message and uncaught error, as Chromium logged them.
    pub console: Vec<String>,
    pub screenshot: PathBuf,
}

impl Page {
    /// How many elements carry `attribute="value"`.
    pub fn count(&self, attribute: &str, value: &str) -> usize {
        self.dom.matches(&format!("{attribute}=\"{value}\"")).count()
    }

    /// The value of `attribute` on the element that has `key="value"`.
    pub fn attribute_of(&self, key: &str, value: &str, attribute: &str) -> Option<String> {
        let at = self.dom.find(&format!("{key}=\"{value}\""))?;
        let start = self.dom[..at].rfind('<')?;
        let end = at + self.dom[at..].find('>')?;
        let tag = &self.dom[start..end];
        let from = tag.find(&format!(" {attribute}=\""))? + attribute.len() + 3;
        Some(tag[from..].split('"').next()?.to_string())
    }
}

pub fn binary() -> PathBuf {
    std::env::var_os("MESHCTL_CHROMIUM").map_or_else(|| PathBuf::from("chromium"), PathBuf::from)
}

/// Loads `url` in a fresh browser whose files are all under `dir`; the screenshot is
/// `dir/NAME.png`.
pub fn render(url: &str, dir: &Path, name: &str) -> Page {
    let profile = dir.join(format!("{name}-profile"));
    let screenshot = dir.join(format!("{name}.png"));
    let mut command = Command::new(binary());
    command
        .args([
            "--headless",
            // As root (this test's machine), Chromium's sandbox cannot start.
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--window-size=1280,1400",
            "--enable-logging=stderr",
            "--v=0",
            // Runs the page's timers and fetches for this long in virtual time, so its
            // periodic refresh has happened when the DOM is taken.
            "--virtual-time-budget=6000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", screenshot.display()))
        .args(["--dump-dom", url])
        .env("HOME", dir)
        .env("XDG_CONFIG_HOME", dir)
        .env("XDG_CACHE_HOME", dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let child = command.spawn().unwrap_or_else(|e| {
        panic!("cannot run {} (install Debian's chromium, as .ci/run does): {e}", binary().display())
    });
    let group = child.id();
    // Chromium's helpers share its process group: all of them go, however this ends.
    let _reaper = Reaper(group);
    let started = Instant::now();
    let output = std::thread::spawn(move || child.wait_with_output());
    while !output.is_finished() {
        assert!(started.elapsed() < Duration::from_secs(90), "Chromium did not finish loading {url} in 90 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = output.join().unwrap().expect("Chromium runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "Chromium failed on {url}: {stderr}");
    let console =
        stderr.lines().filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught")).map(str::to_string).collect();
    Page { dom: String::from_utf8_lossy(&output.stdout).into_owned(), console, screenshot }
}

struct Reaper(u32);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-9", "--", &format!("-{}", self.0)]).stderr(Stdio::null()).status();
    }
}
