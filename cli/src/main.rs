//! `refill`: run a streaming contract or a freenet contract on state files,
//! on any compiled engine.

mod args;
#[cfg(feature = "bench")]
mod bench;
mod cache;
mod demo;
mod error;
#[cfg(feature = "freenet")]
mod freenet;
mod inputs;
mod progress;
mod report;
mod run;

use std::error::Error as _;
use std::process::ExitCode;

use args::{Cli, Command};
use clap::{CommandFactory, FromArgMatches};

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let verbose = cli.verbose;
    let outcome = match cli.command {
        Command::Run(run) => {
            let order = matches
                .subcommand_matches("run")
                .map(inputs::argument_order)
                .unwrap_or_default();
            run::run(run, &order)
        }
        Command::Demo(demo) => demo::demo(demo),
        #[cfg(feature = "freenet")]
        Command::Freenet(args) => freenet::freenet(args),
        #[cfg(feature = "bench")]
        Command::Bench(args) => bench::bench(args),
        #[cfg(feature = "bench")]
        Command::BenchLive(args) => bench::per_call::live_here(args),
        #[cfg(not(feature = "freenet"))]
        Command::Freenet(_) => Err(args::not_built("freenet", "freenet")),
        #[cfg(not(feature = "bench"))]
        Command::Bench(_) => Err(args::not_built("bench", "bench")),
        Command::Fixtures => {
            run::list_fixtures();
            Ok(())
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if verbose => {
            eprintln!("error: {}", chain(&e, usize::MAX));
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: {}", chain(&e, 1));
            ExitCode::FAILURE
        }
    }
}

/// The error and its sources, each cut to its first `lines` lines, on one
/// line with whitespace folded unless every line is asked for. In the short
/// form, a cause whose first line is only a heading (ending in `:`, as an
/// engine's "error while executing at wasm backtrace:" above its frames) is
/// left out: the backtrace is for `--verbose`.
fn chain(error: &error::CliError, lines: usize) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        parts.push(cause.to_string());
        source = cause.source();
    }
    let text = parts
        .iter()
        .filter(|part| lines == usize::MAX || !part.lines().next().unwrap_or("").ends_with(':'))
        .map(|part| part.lines().take(lines).collect::<Vec<_>>().join("\n"))
        .collect::<Vec<_>>()
        .join(": ");
    if lines == usize::MAX {
        return text;
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
