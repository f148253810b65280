use std::process::ExitCode;

use clap::Parser;

use albkit::cli::{Cli, Output};

fn main() -> ExitCode {
    let cli = Cli::parse();
    // ALBKIT_LOG or -v/-q; the SDK's wire logging is capped whatever they say.
    albkit::logging::init(cli.verbose, cli.quiet);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let outcome = runtime.block_on(albkit::commands::run(&cli));
    if let Some(document) = &outcome.document {
        println!("{document}");
    }
    match outcome.result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            let code = err.exit_code();
            // -o json: stdout always holds one document; this one on a single line, so
            // that the event stream of `logs -o json` stays one object per line. A
            // command that handed back its document before failing keeps it alone.
            if cli.output == Output::Json && outcome.document.is_none() {
                println!("{}", err.to_json());
            }
            eprintln!("{:?}", miette::Report::new(err));
            ExitCode::from(code)
        }
    }
}
