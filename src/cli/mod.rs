//! The `relais` command line: parses arguments, opens the store, calls the
//! service layer and prints French text or JSON.

mod args;
mod clap_fr;
mod commands;
mod output;

use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};

pub use args::Cli;

/// Exit status of a usage error, as clap and most CLIs use.
const USAGE_ERROR: u8 = 2;

/// Returns the command typed on the command line (`user add`, `undo`), for
/// pointing a usage error at that command's help.
fn typed_command() -> Option<(String, clap::Command)> {
    let mut command = Cli::command();
    let mut names = Vec::new();
    let mut arguments = std::env::args_os()
        .skip(1)
        .map(|argument| argument.to_string_lossy().into_owned());
    while let Some(argument) = arguments.next() {
        if argument == "--db" || argument == "--as" {
            arguments.next();
            continue;
        }
        if argument.starts_with('-') {
            continue;
        }
        match command.find_subcommand(&argument) {
            Some(sub) => {
                names.push(argument.clone());
                command = sub.clone();
            }
            None => break,
        }
    }
    (!names.is_empty()).then(|| (names.join(" "), command))
}

/// Returns the log level used when `RELAIS_LOG` is unset. `relais serve`
/// logs at `info`, because its INFO lines are the operator's record of
/// every state change with its request id. The other commands print their
/// own French report, so they log at `warn`.
pub fn default_log_level() -> &'static str {
    if typed_command().is_some_and(|(name, _)| name == "serve") {
        "info"
    } else {
        "warn"
    }
}

/// Puts the one English word clap writes in a help text, the label of an
/// option's aliases, in French, with French spacing: « [alias : --de] ».
fn french_help(help: &str) -> String {
    help.replace("[aliases: ", "[alias : ")
        .replace("[alias: ", "[alias : ")
}

/// Runs the command line with the process arguments.
pub fn main() -> ExitCode {
    // A script that asked for JSON reads errors as JSON too, on stderr.
    let json_errors = std::env::args_os().any(|argument| argument == "--json");
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            return match error.kind() {
                ErrorKind::DisplayHelp => {
                    print!("{}", french_help(&error.render().to_string()));
                    ExitCode::SUCCESS
                }
                ErrorKind::DisplayVersion => {
                    let _ = error.print();
                    ExitCode::SUCCESS
                }
                _ => {
                    let typed: Vec<String> = std::env::args_os()
                        .skip(1)
                        .map(|argument| argument.to_string_lossy().into_owned())
                        .collect();
                    let command = typed_command();
                    let message = clap_fr::message(
                        &error,
                        command.as_ref().map(|(name, sub)| (name.as_str(), sub)),
                        &typed,
                    );
                    if json_errors {
                        let body = serde_json::json!({
                            "code": "usage_error",
                            "message": message.trim_start_matches("relais : "),
                        });
                        eprintln!("{body}");
                    } else {
                        eprintln!("{message}");
                    }
                    ExitCode::from(USAGE_ERROR)
                }
            };
        }
    };
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if json_errors => {
            let mut body = serde_json::json!({
                "code": error.code(),
                "message": error.to_string(),
            });
            if let Some(field) = error.field() {
                body["field"] = serde_json::json!(field);
            }
            eprintln!("{body}");
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("relais : {error}");
            ExitCode::FAILURE
        }
    }
}
