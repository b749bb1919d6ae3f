//! The one place that writes to stdout and stderr. Colour follows the usual conventions
//! (`NO_COLOR`, `CLICOLOR_FORCE`, none when not a terminal), and `terminal()` tells commands
//! whether a person is reading, so they can add what only helps a person (excerpts, progress).

use std::io::{self, IsTerminal, Write};

use anstyle::{AnsiColor, Style};

pub struct Printer {
    terminal: bool,
}

pub const ERROR: Style = AnsiColor::Red.on_default().bold();
pub const WARNING: Style = AnsiColor::Yellow.on_default().bold();
pub const INFO: Style = AnsiColor::Cyan.on_default().bold();
pub const DIM: Style = Style::new().dimmed();
pub const BOLD: Style = Style::new().bold();
pub const GOOD: Style = AnsiColor::Green.on_default().bold();

impl Printer {
    pub fn new() -> Self {
        Printer { terminal: io::stdout().is_terminal() }
    }

    /// Whether stdout is a terminal, where a person reads the output.
    pub fn terminal(&self) -> bool {
        self.terminal
    }

    /// Writes text that may carry ANSI styles; they are stripped where colour is off.
    pub fn write(&self, text: &str) -> io::Result<()> {
        let mut out = anstream::stdout().lock();
        out.write_all(text.as_bytes())?;
        out.flush()
    }

    /// Writes bytes exactly as given (machine output, generated files).
    pub fn write_raw(&self, bytes: &[u8]) -> io::Result<()> {
        let mut out = io::stdout().lock();
        out.write_all(bytes)?;
        out.flush()
    }

    /// Reports an error that ends the command, with its chain of causes.
    /// Prints an error and its causes, each once: a cause whose words a line above already
    /// holds (many errors repeat their source in their own message) is not printed again.
    ///
    /// An error's message says what is wrong, then after `; ` what to do, as every message of
    /// meshctl's does; when causes follow, what to do goes last, so the last line says it.
    pub fn error(&self, error: &anyhow::Error) {
        let message = error.to_string();
        let mut said = message.clone();
        let mut causes = String::new();
        for cause in error.chain().skip(1).map(|c| c.to_string()) {
            if !said.contains(&cause) {
                causes.push_str(&format!("  {DIM}caused by:{DIM:#} {cause}\n"));
                said.push_str(&cause);
            }
        }
        let (problem, remedy) = match message.split_once("; ") {
            Some((problem, remedy)) if !causes.is_empty() => (problem, Some(remedy)),
            _ => (message.as_str(), None),
        };
        let mut text = format!("{ERROR}error{ERROR:#}: {problem}\n{causes}");
        if let Some(remedy) = remedy {
            text.push_str(&format!("  {BOLD}hint:{BOLD:#} {remedy}\n"));
        }
        // Nothing useful can be done if stderr itself is gone.
        let _ = anstream::stderr().lock().write_all(text.as_bytes());
    }
}

impl Printer {
    /// A progress line: a spinner redrawn in place on a terminal, plain lines elsewhere (one
    /// per change of message), so CI logs stay readable.
    pub fn progress(&self, message: &str) -> Progress {
        let progress = Progress {
            terminal: self.terminal,
            last: std::cell::RefCell::new(String::new()),
            frame: std::cell::Cell::new(0),
        };
        progress.set(message);
        progress
    }
}

pub struct Progress {
    terminal: bool,
    last: std::cell::RefCell<String>,
    frame: std::cell::Cell<usize>,
}

impl Progress {
    pub fn set(&self, message: &str) {
        const FRAMES: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
        let mut out = anstream::stderr().lock();
        if self.terminal {
            let frame = self.frame.get();
            self.frame.set(frame + 1);
            let _ = write!(out, "\r\x1b[2K{} {message}", FRAMES[frame % FRAMES.len()]);
            let _ = out.flush();
        } else if *self.last.borrow() != message {
            let _ = writeln!(out, "{message}");
        }
        *self.last.borrow_mut() = message.to_string();
    }

    pub fn finish(&self) {
        if self.terminal {
            let mut out = anstream::stderr().lock();
            let _ = write!(out, "\r\x1b[2K");
            let _ = out.flush();
        }
    }
}

impl Default for Printer {
    fn default() -> Self {
        Self::new()
    }
}

/// `text` in `style`, for output passed to [`Printer::write`].
pub fn paint(style: Style, text: impl std::fmt::Display) -> String {
    format!("{style}{text}{style:#}")
}

/// A duration in milliseconds as people read it: `12.5ms`, `1.52s`.
pub fn milliseconds(ms: f64) -> String {
    if ms >= 1000.0 { format!("{:.2}s", ms / 1000.0) } else { format!("{ms:.1}ms") }
}
