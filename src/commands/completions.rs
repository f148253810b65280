//! `albkit completions <shell>`: a completion script generated from the clap
//! definitions, printed on stdout.

use std::io::Write;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;
use crate::error::{Error, Result};

/// The completion script for `shell`.
pub(crate) fn script(shell: Shell) -> Vec<u8> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "albkit", &mut out);
    out
}

pub(crate) fn run(shell: Shell) -> Result<u8> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(&script(shell))
        .and_then(|()| stdout.flush())
        .map_err(|e| {
            Error::usage(
                format!("could not write the {shell} completion script to stdout: {e}"),
                format!("redirect it to a file: `albkit completions {shell} > albkit.{shell}`"),
            )
        })?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn every_shell_gets_a_script_naming_every_command() {
        for shell in Shell::value_variants() {
            let text = String::from_utf8(script(*shell)).expect("utf-8");
            for command in ["plan", "up", "down", "deploy", "cost", "completions"] {
                assert!(text.contains(command), "{shell}: no {command}");
            }
            assert!(
                text.contains("requests-per-second"),
                "{shell}: no cost flags"
            );
        }
    }
}
