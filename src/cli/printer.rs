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
    pub fn error(&self, error: &anyhow::Error) {
        let mut text = format!("{ERROR}error{ERROR:#}: {error}\n");
        for cause in error.chain().skip(1) {
            text.push_str(&format!("  {DIM}caused by:{DIM:#} {cause}\n"));
        }
        // Nothing useful can be done if stderr itself is gone.
        let _ = anstream::stderr().lock().write_all(text.as_bytes());
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
