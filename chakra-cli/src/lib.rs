//! The Chakra command line.
//!
//! A project's manage binary calls [`main`]: it links the project's models, so it can run
//! every command including `migrate make`. The installed `chakra` binary calls
//! [`standalone_main`]: it runs the commands that need no models (apply, rollback, status,
//! sql) from the migration files alone, and hands `migrate make` to the project's manage
//! binary named in `chakra.toml`.

mod audit;
pub mod cli;
mod commands;
pub mod config;
pub mod output;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::Cli;
use crate::output::Output;

/// How the binary was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A project's manage binary: the models are linked in.
    Manage,
    /// The installed `chakra` binary: no models; `make` is delegated.
    Standalone,
}

/// Entry point for a project's manage binary:
///
/// ```no_run
/// use std::process::ExitCode;
/// fn main() -> ExitCode { chakra_cli::main() }
/// ```
pub fn main() -> ExitCode {
    run(Mode::Manage)
}

/// Entry point of the installed `chakra` binary, which runs the commands that need no
/// models from the migration files alone:
///
/// ```no_run
/// use std::process::ExitCode;
/// fn main() -> ExitCode { chakra_cli::standalone_main() }
/// ```
pub fn standalone_main() -> ExitCode {
    run(Mode::Standalone)
}

fn run(mode: Mode) -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help and version on stdout (exit 0) and usage errors on stderr (2).
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let out = Output::new(&cli.global);
    match commands::dispatch(mode, &cli, &out) {
        Ok(code) => code,
        Err(e) => {
            out.error(&e);
            ExitCode::from(1)
        }
    }
}
