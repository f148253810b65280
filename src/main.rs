use std::process::ExitCode;

use clap::Parser;

use albkit::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = match (cli.verbose, cli.quiet) {
        (_, true) | (0, _) => "warn",
        (1, _) => "albkit=debug,warn",
        _ => "debug",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ALBKIT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter)),
        )
        .with_writer(std::io::stderr)
        .init();
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
    match runtime.block_on(albkit::commands::run(&cli)) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            let code = err.exit_code();
            // -o json: stdout always holds one document; this one on a single line, so
            // that the event stream of `logs -o json` stays one object per line.
            if cli.output == albkit::cli::Output::Json && !albkit::commands::document_printed() {
                println!("{}", err.to_json());
            }
            eprintln!("{:?}", miette::Report::new(err));
            ExitCode::from(code)
        }
    }
}
