//! Reporters: progress bars on a terminal, plain lines in CI logs, nothing with JSON.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::aws::events::{Event, Reporter};
use crate::model::plan::Action;

fn ing(action: Action) -> &'static str {
    match action {
        Action::Create => "creating",
        Action::Update => "updating",
        Action::Replace => "replacing",
        Action::Delete => "deleting",
        Action::Keep => "checking",
    }
}

fn ed(action: Action) -> &'static str {
    match action {
        Action::Create => "created",
        Action::Update => "updated",
        Action::Replace => "replaced",
        Action::Delete => "deleted",
        Action::Keep => "kept",
    }
}

fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

/// One line per event on stderr, each with the time since the command started.
pub(crate) struct Plain {
    start: Instant,
    verbose: bool,
    quiet: bool,
}

impl Plain {
    pub(crate) fn new(verbose: bool, quiet: bool) -> Self {
        Self {
            start: Instant::now(),
            verbose,
            quiet,
        }
    }

    fn line(&self, text: &str) {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "[{:>6}] {text}", secs(self.start.elapsed()));
    }
}

impl Reporter for Plain {
    fn event(&self, event: Event) {
        match event {
            Event::Note(text) => self.line(&format!("note: {text}")),
            Event::Failed { logical, error } => self.line(&format!("{logical}: failed: {error}")),
            _ if self.quiet => {}
            Event::Phase(text) => self.line(&text),
            Event::Started {
                logical,
                kind,
                action,
            } => self.line(&format!(
                "{} {logical} ({kind}): {}",
                action.symbol(),
                ing(action)
            )),
            Event::Shift {
                function,
                percent,
                detail,
                milestone,
            } => {
                if milestone {
                    self.line(&format!("  function/{function}: {percent:>3}% {detail}"));
                }
            }
            Event::ShiftEnded { function, detail } => {
                self.line(&format!("  function/{function}: {detail}"));
            }
            Event::Waiting { logical, detail } => {
                if self.verbose || !detail.contains("retrying") {
                    self.line(&format!("  {logical}: waiting for {detail}"));
                }
            }
            Event::Finished {
                logical,
                kind,
                action,
                id,
                elapsed,
            } => self.line(&format!(
                "{} {logical} ({kind}): {} {id} in {}",
                action.symbol(),
                ed(action),
                secs(elapsed)
            )),
        }
    }
}

/// One progress line per resource on a terminal.
pub(crate) struct Tty {
    multi: MultiProgress,
    bars: Mutex<HashMap<String, ProgressBar>>,
    quiet: bool,
}

impl Tty {
    pub(crate) fn new(quiet: bool) -> Self {
        Self {
            multi: MultiProgress::new(),
            bars: Mutex::new(HashMap::new()),
            quiet,
        }
    }

    fn style() -> ProgressStyle {
        ProgressStyle::with_template("{spinner:.cyan} {prefix:.bold} {msg} {elapsed:.dim}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner())
    }
}

impl Tty {
    /// A traffic shift's bar: the new version's weight, and where the step is.
    fn shift(
        &self,
        bars: &mut HashMap<String, ProgressBar>,
        function: &str,
        percent: u8,
        detail: String,
    ) {
        let bar = bars.entry(format!("shift/{function}")).or_insert_with(|| {
            let bar = self.multi.add(ProgressBar::new(100));
            bar.set_style(
                ProgressStyle::with_template("{prefix:.bold} [{bar:30.cyan/dim}] {pos:>3}% {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.set_prefix(format!("function/{function}"));
            bar
        });
        bar.set_position(u64::from(percent));
        bar.set_message(detail);
    }

    fn shift_ended(&self, bars: &mut HashMap<String, ProgressBar>, function: &str, detail: String) {
        match bars.remove(&format!("shift/{function}")) {
            Some(bar) => bar.finish_with_message(detail),
            None if !self.quiet => {
                let _ = self.multi.println(format!("function/{function}: {detail}"));
            }
            None => {}
        }
    }
}

impl Reporter for Tty {
    fn event(&self, event: Event) {
        let Ok(mut bars) = self.bars.lock() else {
            return;
        };
        match event {
            Event::Phase(text) if !self.quiet => {
                let _ = self.multi.println(text);
            }
            Event::Note(text) => {
                let _ = self.multi.println(format!("note: {text}"));
            }
            Event::Started {
                logical,
                kind,
                action,
            } if !self.quiet => {
                let bar = self.multi.add(ProgressBar::new_spinner());
                bar.set_style(Self::style());
                bar.set_prefix(format!("{} {logical}", action.symbol()));
                bar.set_message(format!("({kind}) {}", ing(action)));
                bar.enable_steady_tick(Duration::from_millis(120));
                bars.insert(logical, bar);
            }
            Event::Waiting { logical, detail } => match bars.get(&logical) {
                Some(bar) => bar.set_message(format!("waiting for {detail}")),
                // A wait outside any resource's work (the stack lock) gets a line of its own.
                None if !self.quiet => {
                    let _ = self
                        .multi
                        .println(format!("{logical}: waiting for {detail}"));
                }
                None => {}
            },
            Event::Finished {
                logical,
                kind,
                action,
                id,
                elapsed,
            } => {
                if let Some(bar) = bars.remove(&logical) {
                    bar.set_style(
                        ProgressStyle::with_template("  {prefix:.bold} {msg}")
                            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                    );
                    bar.finish_with_message(format!(
                        "({kind}) {} {id} in {}",
                        ed(action),
                        secs(elapsed)
                    ));
                }
            }
            Event::Shift {
                function,
                percent,
                detail,
                ..
            } if !self.quiet => self.shift(&mut bars, &function, percent, detail),
            Event::ShiftEnded { function, detail } => {
                self.shift_ended(&mut bars, &function, detail);
            }
            Event::Failed { logical, error } => match bars.remove(&logical) {
                Some(bar) => bar.abandon_with_message(format!("failed: {error}")),
                None => {
                    let _ = self.multi.println(format!("{logical}: failed: {error}"));
                }
            },
            _ => {}
        }
    }
}

/// Forwards events to another reporter and keeps the notes, which the commands' JSON
/// documents carry.
pub(crate) struct Collect {
    inner: Box<dyn Reporter>,
    notes: Mutex<Vec<String>>,
}

impl Collect {
    pub(crate) fn new(inner: Box<dyn Reporter>) -> Self {
        Collect {
            inner,
            notes: Mutex::new(Vec::new()),
        }
    }

    /// The notes reported so far, in order.
    pub(crate) fn notes(&self) -> Vec<String> {
        self.notes.lock().map(|n| n.clone()).unwrap_or_default()
    }
}

impl Reporter for Collect {
    fn event(&self, event: Event) {
        if let Event::Note(text) = &event {
            if let Ok(mut notes) = self.notes.lock() {
                notes.push(text.clone());
            }
        }
        self.inner.event(event);
    }
}
