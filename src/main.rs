use std::process::ExitCode;

use clap::Parser;

use albkit::cli::Cli;

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
