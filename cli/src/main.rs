//! `refill`: run a streaming contract or a freenet contract on state files,
//! on any compiled engine.

mod args;
#[cfg(feature = "bench")]
mod bench;
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
        Err(e) => {
            eprintln!("error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its sources on one line, whitespace folded.
fn one_line(error: &error::CliError) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
