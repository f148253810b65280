//! Typed events that the AWS code emits and the reporter renders. Resource code never
//! knows whether a terminal, a CI log or a JSON consumer is on the other side.

use std::time::Duration;

use crate::model::plan::Action;
use crate::model::stack::Kind;

#[derive(Debug, Clone)]
pub enum Event {
    /// A phase of the command (discovering, building, applying).
    Phase(String),
    /// Work on a resource started.
    Started {
        logical: String,
        kind: Kind,
        action: Action,
    },
    /// A resource is waiting for AWS (state change, propagation, retry).
    Waiting { logical: String, detail: String },
    /// Work on a resource finished.
    Finished {
        logical: String,
        kind: Kind,
        action: Action,
        id: String,
        elapsed: Duration,
    },
    /// Work on a resource failed.
    Failed { logical: String, error: String },
    /// Something the user should know (a kept bucket, DNS records to create by hand).
    Note(String),
    /// A traffic shift's progress: the new version's share of `function`'s traffic,
    /// and what the step is at (time left, the gate's state). `milestone`: a new step or
    /// a new gate state, which a log without a terminal shows as a line.
    Shift {
        function: String,
        percent: u8,
        detail: String,
        milestone: bool,
    },
    /// A traffic shift ended (completed, rolled back or aborted).
    ShiftEnded { function: String, detail: String },
}

pub trait Reporter: Send + Sync {
    fn event(&self, event: Event);
}

/// Bridges the retry module's notifications to events about one resource.
pub struct ResourceNotify<'a> {
    pub reporter: &'a dyn Reporter,
    pub logical: String,
}

impl super::retry::Notify for ResourceNotify<'_> {
    fn waiting(&self, what: &str, detail: &str) {
        self.reporter.event(Event::Waiting {
            logical: self.logical.clone(),
            detail: format!("{what}: {detail}"),
        });
    }
}

/// A reporter that drops everything (tests, JSON output).
pub(crate) struct Quiet;

impl Reporter for Quiet {
    fn event(&self, _event: Event) {}
}
