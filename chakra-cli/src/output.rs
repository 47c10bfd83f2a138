//! Terminal output: colours only on a terminal and without `NO_COLOR`, quiet and verbose
//! levels, and the JSON form.
//!
//! # Examples
//!
//! ```
//! use chakra_cli::cli::Cli;
//! use chakra_cli::output::{Output, Style};
//! use clap::Parser;
//!
//! # fn main() -> Result<(), clap::Error> {
//! let cli = Cli::try_parse_from(["chakra", "migrate", "status", "--quiet", "--format", "json"])?;
//! let out = Output::new(&cli.global);
//! assert!(out.quiet && out.json);
//! // Coloured only when stdout is a terminal and `NO_COLOR` is unset.
//! assert!(out.paint(Style::Red, "error").contains("error"));
//! # Ok(()) }
//! ```

use std::io::{IsTerminal, Write};

use crate::cli::{Format, GlobalArgs};

/// How to print.
#[derive(Debug, Clone)]
pub struct Output {
    color: bool,
    err_color: bool,
    /// `-q`
    pub quiet: bool,
    /// `-v` count
    pub verbose: u8,
    /// `--format json`
    pub json: bool,
}

/// Colours used in output.
#[derive(Debug, Clone, Copy)]
pub enum Style {
    /// Success.
    Green,
    /// Warnings and data loss.
    Yellow,
    /// Errors.
    Red,
    /// Less important text.
    Dim,
    /// Names.
    Bold,
}

impl Style {
    fn code(self) -> &'static str {
        match self {
            Style::Green => "32",
            Style::Yellow => "33",
            Style::Red => "31",
            Style::Dim => "2",
            Style::Bold => "1",
        }
    }
}

/// Writes to stdout. When the reader has gone away (`chakra ... | head`), stops quietly with
/// the status of a process ended by SIGPIPE instead of panicking.
fn emit(text: std::fmt::Arguments<'_>) {
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_fmt(text).and_then(|()| stdout.flush())
        && e.kind() == std::io::ErrorKind::BrokenPipe
    {
        std::process::exit(141);
    }
}

fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

impl Output {
    /// From the global options and the environment.
    pub fn new(global: &GlobalArgs) -> Output {
        Output {
            color: std::io::stdout().is_terminal() && !no_color(),
            err_color: std::io::stderr().is_terminal() && !no_color(),
            quiet: global.quiet,
            verbose: global.verbose,
            json: global.format == Format::Json,
        }
    }

    /// Whether a progress bar may be drawn: stderr is a terminal and the output is the
    /// normal text (not `-q`, `-v` or JSON).
    pub fn progress_bar(&self) -> bool {
        std::io::stderr().is_terminal() && !self.quiet && !self.json && self.verbose == 0
    }

    /// `text` in `style` when colours are on.
    pub fn paint(&self, style: Style, text: &str) -> String {
        if self.color {
            format!("\x1b[{}m{text}\x1b[0m", style.code())
        } else {
            text.to_owned()
        }
    }

    /// A line of normal output (suppressed by `-q` and in JSON mode).
    pub fn line(&self, text: &str) {
        if !self.quiet && !self.json {
            emit(format_args!("{text}\n"));
        }
    }

    /// Text without a newline, flushed (for `→ 0001_x... ` before `done`).
    pub fn partial(&self, text: &str) {
        if !self.quiet && !self.json {
            emit(format_args!("{text}"));
            let _ = std::io::stdout().flush();
        }
    }

    /// A line that `-q` keeps (results that scripts read, like SQL).
    pub fn always(&self, text: &str) {
        if !self.json {
            emit(format_args!("{text}\n"));
        }
    }

    /// A warning on stderr.
    pub fn warn(&self, text: &str) {
        let label = if self.err_color {
            "\x1b[33mwarning\x1b[0m"
        } else {
            "warning"
        };
        eprintln!("{label}: {text}");
    }

    /// The JSON document of a command.
    pub fn json(&self, value: &serde_json::Value) {
        if self.json {
            let doc = serde_json::to_string_pretty(value).expect("JSON values serialize");
            emit(format_args!("{doc}\n"));
        }
    }

    /// One error line on stderr, without the JSON document (for commands that print their own).
    pub fn error_line(&self, text: &str) {
        let label = if self.err_color {
            "\x1b[1;31merror\x1b[0m"
        } else {
            "error"
        };
        eprintln!("{label}: {text}");
    }

    /// Prints an error and its causes on stderr, skipping causes already in the message.
    pub fn error(&self, err: &anyhow::Error) {
        let label = if self.err_color {
            "\x1b[1;31merror\x1b[0m"
        } else {
            "error"
        };
        let mut shown = err.to_string();
        eprintln!("{label}: {shown}");
        for cause in err.chain().skip(1) {
            let text = cause.to_string();
            if !shown.contains(&text) {
                eprintln!("  caused by: {text}");
                shown.push_str(&text);
            }
        }
        if self.json {
            let causes: Vec<String> = err.chain().skip(1).map(ToString::to_string).collect();
            let doc =
                serde_json::json!({ "ok": false, "error": err.to_string(), "causes": causes });
            emit(format_args!("{doc}\n"));
        }
    }
}
