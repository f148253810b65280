//! Asking before AWS is changed.

use std::io::{BufRead, IsTerminal, Write};

use crate::error::{Error, Result};

/// Asks on a terminal; refuses without one unless `--yes`.
pub(crate) fn confirm(yes: bool, question: &str, json: bool) -> Result<bool> {
    confirm_change(yes, question, json, "AWS")
}

/// [`confirm`] for a change of `what` (`AWS`, `this machine`).
pub(crate) fn confirm_change(yes: bool, question: &str, json: bool, what: &str) -> Result<bool> {
    if yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() || json {
        return Err(Error::usage(
            format!("refusing to change {what} without confirmation: there is no terminal to ask"),
            "pass --yes to confirm non-interactively (as in CI)",
        ));
    }
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "{question} Only 'yes' will be accepted: ");
    let _ = err.flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| Error::Other(e.to_string()))?;
    Ok(answer.trim() == "yes")
}
