//! Command-line arguments (clap derive). Names and flags follow SPEC §3 exactly.
//!
//! # Examples
//!
//! ```
//! use chakra_cli::cli::{Cli, Command, Format, Migrate};
//! use clap::Parser;
//!
//! # fn main() -> Result<(), clap::Error> {
//! let cli = Cli::try_parse_from(["chakra", "migrate", "rollback", "--count", "2", "--format", "json"])?;
//! assert_eq!(cli.global.format, Format::Json);
//! let Command::Migrate(Migrate::Rollback(args)) = cli.command else { panic!("a rollback") };
//! assert_eq!((args.count, args.run.dry_run), (Some(2), false));
//!
//! // `--count 0` is a usage error.
//! assert!(Cli::try_parse_from(["chakra", "migrate", "rollback", "--count", "0"]).is_err());
//! # Ok(()) }
//! ```

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Chakra: schema migrations for Rust applications.
#[derive(Debug, Parser)]
#[command(name = "chakra", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Options that every command takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Options that every command takes.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// The configuration file [default: chakra.toml in this folder or a parent]
    #[arg(short = 'c', long = "config", global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The database URL; overrides DATABASE_URL and chakra.toml
    #[arg(long = "database-url", global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// Print the SQL of each statement as it runs
    #[arg(short = 'v', long = "verbose", global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Print only errors and what was asked for (SQL, JSON)
    #[arg(short = 'q', long = "quiet", global = true)]
    pub quiet: bool,
    /// Never ask a question; take the safe answer
    #[arg(long = "no-input", global = true)]
    pub no_input: bool,
    /// Output format
    #[arg(long = "format", global = true, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people.
    Text,
    /// Stable, for programs.
    Json,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a starter chakra.toml and the migrations folder
    Init(InitArgs),
    /// Make, apply, roll back and inspect migrations
    #[command(subcommand)]
    Migrate(Migrate),
}

/// `chakra init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The database URL to write into chakra.toml
    #[arg(long, default_value = "sqlite://db.sqlite3")]
    pub url: String,
}

/// `chakra migrate ...`.
#[derive(Debug, Subcommand)]
pub enum Migrate {
    /// Detect model changes and write migrations
    Make(MakeArgs),
    /// Apply pending migrations
    Apply(ApplyArgs),
    /// Roll back applied migrations
    Rollback(RollbackArgs),
    /// Show every migration and whether it is applied
    Status,
    /// Print the SQL of one migration
    Sql(SqlArgs),
    /// Check the migration files, chakra.sum, the snapshot and the database history
    Verify(VerifyArgs),
    /// Report operations that lose data, lock tables or break running code, per database
    Lint(LintArgs),
    /// Join two latest migrations of an app (after merging branches) with a merge migration
    Merge(MergeArgs),
    /// Squash a range of an app's migrations into one optimized migration that replaces them
    #[command(override_usage = "chakra migrate squash [OPTIONS] <APP> [FROM] <TO>")]
    Squash(SquashArgs),
    /// Record by hand that a migration is applied or rolled back, in the audit log
    Repair(RepairArgs),
    /// The audit log: what was applied, rolled back or repaired, when and by whom
    History(HistoryArgs),
    /// Compare the database with the schema its applied migrations should have produced
    Drift,
}

/// `migrate repair`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("mark").required(true).args(["mark_applied", "mark_rolled_back"])))]
pub struct RepairArgs {
    /// The migration (`ID` or `app/ID`)
    pub id: String,
    /// It is in place (applied by hand, or finished by hand after a failure): record it with
    /// its file's checksum, which also re-records the checksum of an edited applied file
    #[arg(long = "mark-applied")]
    pub mark_applied: bool,
    /// It is not in place (undone by hand): remove its history row
    #[arg(long = "mark-rolled-back")]
    pub mark_rolled_back: bool,
    /// Why, recorded in the audit log
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
}

/// `migrate history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Only entries of this app
    #[arg(long)]
    pub app: Option<String>,
    /// Only entries of this migration (`ID` or `app/ID`)
    #[arg(long)]
    pub id: Option<String>,
    /// Only the newest N entries
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
}

/// `migrate squash`.
#[derive(Debug, Args)]
pub struct SquashArgs {
    /// The app whose migrations to squash (`default` for models without `app = ...`)
    pub app: String,
    /// `[FROM] TO`: the first (default: the app's first migration) and the last migration to
    /// squash, each an id or a unique prefix of one (`0004`)
    #[arg(value_name = "MIGRATION", num_args = 1..=2, required = true)]
    pub range: Vec<String>,
    /// Name of the squashed migration (the part after the number) [default: squashed_<last number>_<last name>]
    #[arg(long, value_parser = migration_name)]
    pub name: Option<String>,
    /// Print the squashed migration; write nothing
    #[arg(long = "dry-run")]
    pub dry_run: bool,
}

/// A migration name: lowercase letters, digits and `_` (a usage error otherwise).
fn migration_name(s: &str) -> Result<String, String> {
    if !s.is_empty()
        && s.len() <= 100
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        Ok(s.to_owned())
    } else {
        Err("use lowercase letters, digits and `_` (for example `squashed_initial`)".to_owned())
    }
}

/// `migrate merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Only merge this app
    #[arg(long)]
    pub app: Option<String>,
    /// Print what would be written; write nothing
    #[arg(long = "dry-run")]
    pub dry_run: bool,
}

/// `migrate lint`.
#[derive(Debug, Args)]
pub struct LintArgs {
    /// The migration (`ID` or `app/ID`) [default: those not applied to the configured database, else all]
    pub id: Option<String>,
    /// The database to lint for; repeat for several [default: the configured database, else all three]
    #[arg(long, value_parser = ["postgres", "mysql", "sqlite"])]
    pub dialect: Vec<String>,
}

/// `migrate verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Rewrite chakra.sum from the migration files (after a legitimate change)
    #[arg(long = "update-sum")]
    pub update_sum: bool,
}

/// `migrate make`.
#[derive(Debug, Args)]
pub struct MakeArgs {
    /// Name of the new migration (the part after the number)
    #[arg(long)]
    pub name: Option<String>,
    /// Write an empty migration to fill in by hand (needs --app)
    #[arg(long)]
    pub empty: bool,
    /// Only make migrations for this app
    #[arg(long)]
    pub app: Option<String>,
    /// Write nothing; exit 1 when there are changes to make
    #[arg(long)]
    pub check: bool,
    /// Print the migrations that would be written; write nothing
    #[arg(long = "dry-run")]
    pub dry_run: bool,
}

/// Options shared by `apply` and `rollback`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Print the SQL with transaction boundaries; run nothing
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    /// Only update the history (record or forget migrations) without running their SQL
    #[arg(long)]
    pub fake: bool,
    /// Allow operations that drop data on a protected database
    #[arg(long = "allow-data-loss")]
    pub allow_data_loss: bool,
}

/// `migrate apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Apply up to this migration (`ID` or `app/ID`) instead of all
    pub target: Option<String>,
    /// How to run.
    #[command(flatten)]
    pub run: RunArgs,
}

/// `migrate rollback`.
#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// Roll back the newest N applied migrations
    #[arg(long, conflicts_with = "to", value_name = "N", value_parser = at_least_one)]
    pub count: Option<usize>,
    /// Roll back everything applied after ID (ID stays applied); `zero` for everything
    #[arg(long, value_name = "ID|zero")]
    pub to: Option<String>,
    /// How to run.
    #[command(flatten)]
    pub run: RunArgs,
}

/// `--count`: a whole number of at least 1 (a usage error otherwise).
fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_owned()),
        Ok(n) => Ok(n),
        Err(_) => Err("must be a whole number of at least 1".to_owned()),
    }
}

/// `migrate sql`.
#[derive(Debug, Args)]
pub struct SqlArgs {
    /// The migration (`ID` or `app/ID`)
    pub id: String,
    /// The SQL that rolls it back
    #[arg(long)]
    pub reverse: bool,
    /// The database to write SQL for [default: the configured database, else sqlite]
    #[arg(long, value_parser = ["postgres", "mysql", "sqlite"])]
    pub dialect: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
