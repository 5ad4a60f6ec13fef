//! The `relais` command line: parses arguments, opens the store, calls the
//! service layer and prints French text or JSON.

mod args;
mod clap_fr;
mod commands;
mod output;

use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;

pub use args::Cli;

/// Exit status of a usage error, as clap and most CLIs use.
const USAGE_ERROR: u8 = 2;

/// Runs the command line with the process arguments.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            return match error.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                    let _ = error.print();
                    ExitCode::SUCCESS
                }
                _ => {
                    eprintln!("{}", clap_fr::message(&error));
                    ExitCode::from(USAGE_ERROR)
                }
            };
        }
    };
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("relais : {error}");
            ExitCode::FAILURE
        }
    }
}
