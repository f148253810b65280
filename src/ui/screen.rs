//! `albkit top`'s screen: redrawn in place on a terminal, printed once elsewhere.

use std::io::{IsTerminal, Write};

/// The width used when stdout is not a terminal (or it does not say).
const DEFAULT_WIDTH: usize = 100;

// ANSI: cursor home and erase the display; bold, yellow and back to normal.
const CLEAR: &str = "\x1b[H\x1b[2J";
const BOLD: &str = "\x1b[1m";
const YELLOW: &str = "\x1b[33m";
const RED: &str = "\x1b[31m";
const RESET: &str = "\x1b[0m";

pub(crate) struct Screen {
    live: bool,
}

impl Screen {
    /// A live screen only when asked and stdout is a terminal.
    pub(crate) fn new(live: bool) -> Self {
        Self {
            live: live && std::io::stdout().is_terminal(),
        }
    }

    /// Whether it redraws in place (else: one print).
    pub(crate) fn live(&self) -> bool {
        self.live
    }

    /// The terminal's width in columns.
    pub(crate) fn width(&self) -> usize {
        terminal_size::terminal_size()
            .filter(|(w, _)| w.0 > 0 && std::io::stdout().is_terminal())
            .map_or(DEFAULT_WIDTH, |(w, _)| usize::from(w.0))
    }

    /// Shows `text` (a rendered screen), in colour on a terminal: the title bold, shift
    /// lines yellow, the 5xx lines red.
    pub(crate) fn draw(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        // NO_COLOR (https://no-color.org): set to anything but empty, no colours.
        let terminal = std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        let mut buf = String::new();
        if self.live {
            buf.push_str(CLEAR);
        }
        for (i, line) in text.lines().enumerate() {
            let colour = if !terminal {
                ""
            } else if i == 0 {
                BOLD
            } else if line.trim_start().starts_with("shift:") {
                YELLOW
            } else if line.trim_start().starts_with("5xx ") {
                RED
            } else {
                ""
            };
            let reset = if colour.is_empty() { "" } else { RESET };
            buf.push_str(&format!("{colour}{line}{reset}\n"));
        }
        // A closed stdout (a pipe whose reader left) ends nothing here: the loop stops
        // on Ctrl-C, and a one-shot print has nothing left to do.
        let _ = out.write_all(buf.as_bytes()).and_then(|()| out.flush());
    }
}
