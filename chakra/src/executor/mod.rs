//! The executor: runs planned migrations against a database and records them in the history
//! table. With the history table it is the only part of Chakra that touches a database.
//!
//! One `Backend` per database (sqlx's `Migrate` shape) does what differs: connecting, the
//! migrator lock, and running one migration with its history change. What is common lives
//! here: plans, the checks of files against the history, events, errors and history rows.
//!
//! - SQLite (`sqlite.rs`): each migration runs in one `BEGIN IMMEDIATE` transaction with its
//!   history row; the immediate write lock is the migrator lock.
//! - PostgreSQL (`postgres.rs`): a session advisory lock taken by polling on a dedicated
//!   connection; each migration runs in one transaction with its history row.
//! - MySQL/MariaDB (`mysql.rs`): `GET_LOCK`; DDL commits implicitly, so the history row is
//!   written first and progress is recorded after each operation, and an interrupted migration
//!   resumes where it stopped.
//!
//! Under the lock each backend re-reads the history and skips what another process already
//! did, so any number of processes may run `apply` at once.
//!
//! # Examples
//!
//! Apply a graph to a SQLite file, then roll it back:
//!
//! ```
//! use chakra::executor::{Event, Executor, ExecutorConfig};
//! use chakra::graph::Graph;
//! use chakra::plan::RollbackTarget;
//! use chakra::project::load_embedded;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let text = r#"
//! migration = { id = "0001_initial", app = "default" }
//! operations = [{ type = "CreateModel", model = "Tag", table = "tags", fields = [{ name = "label", type = "Text" }] }]
//! "#;
//! let graph = Graph::new(load_embedded([("0001_initial.toml", text)])?).map_err(|e| e[0].to_string())?;
//! let dir = tempfile::tempdir()?;
//! let url = format!("sqlite://{}", dir.path().join("app.db").display());
//!
//! let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//! runtime.block_on(async {
//!     let mut db = Executor::connect(&url, ExecutorConfig::default()).await?;
//!     let mut finished = Vec::new();
//!     db.apply(&graph, None, false, &mut |event| {
//!         if let Event::Finished { key, .. } = event {
//!             finished.push(key.id);
//!         }
//!     })
//!     .await?;
//!     assert_eq!(finished, ["0001_initial"]);
//!     assert_eq!(db.history().await?[0].key.id, "0001_initial");
//!
//!     db.rollback(&graph, &RollbackTarget::Count(1), false, &mut |_| {}).await?;
//!     assert!(db.history().await?.is_empty());
//!     db.close().await?;
//!     Ok::<(), Box<dyn std::error::Error>>(())
//! })
//! # }
//! ```

mod audit;
#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "mysql")]
#[doc(hidden)]
pub use mysql::lock_name as mysql_lock_name;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;
#[cfg(any(feature = "postgres", feature = "mysql"))]
mod stepwise;

use std::collections::BTreeSet;
use std::time::Duration;

use crate::dialect::{DialectKind, quote_ident};
use crate::graph::{Graph, GraphError, MigrationKey};
use crate::plan::{
    Direction, MigrationSql, PlanError, RollbackTarget, apply_plan, plan_sql, rollback_plan,
};
use audit::{HistoryChange, import_change};
pub use audit::{
    HistoryProblem, HistoryReport, LogAction, LogEntry, log_table_name, verify_history,
};

/// The default history table name.
pub const DEFAULT_TABLE: &str = "_chakra_migrations";

/// Settings of a run.
#[derive(Debug, Clone)]
pub struct ExecutorConfig {
    /// The history table.
    pub table: String,
    /// How long to wait for another migrator's lock, and how long DDL waits for a table lock
    /// held by the application (PostgreSQL `lock_timeout`, MySQL `lock_wait_timeout`).
    pub lock_timeout: Duration,
    /// How many times a migration (PostgreSQL) or an operation (MySQL/MariaDB) whose DDL
    /// timed out waiting for a table lock is tried again, after a growing pause.
    pub lock_retries: u32,
}

impl Default for ExecutorConfig {
    fn default() -> Self {
        ExecutorConfig {
            table: DEFAULT_TABLE.to_owned(),
            lock_timeout: Duration::from_secs(30),
            lock_retries: DEFAULT_LOCK_RETRIES,
        }
    }
}

/// The default of [`ExecutorConfig::lock_retries`].
pub const DEFAULT_LOCK_RETRIES: u32 = 3;

/// The pause before retry `attempt` (1, 2, ...) after a lock timeout: 0.5 s doubling up to
/// 8 s, plus up to a quarter more at random so that migrators retrying together spread out.
#[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
pub(crate) fn retry_pause(attempt: u32) -> Duration {
    let base = Duration::from_millis(500) * 2u32.pow(attempt.saturating_sub(1).min(4));
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    base + base.mul_f64(f64::from(nanos % 1000) / 4000.0)
}

/// Whether a step failed because its DDL waited longer than the lock timeout for a table
/// lock (PostgreSQL `lock_not_available`, MySQL/MariaDB `ER_LOCK_WAIT_TIMEOUT`): nothing of
/// the statement happened, so it can be tried again.
pub(crate) fn is_lock_timeout(error: &StepError) -> bool {
    let Some(e) = error.database().and_then(|e| e.as_database_error()) else {
        return false;
    };
    e.code().as_deref() == Some("55P03") || e.message().contains("Lock wait timeout exceeded")
}

/// Status of a history row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowStatus {
    /// Fully applied.
    Applied,
    /// Failed part-way (databases without transactional DDL).
    Failed,
    /// Being applied right now, or interrupted.
    Applying,
    /// Being rolled back right now, or interrupted (databases without transactional DDL).
    RollingBack,
}

impl RowStatus {
    /// The value stored in the `status` column.
    pub fn as_str(self) -> &'static str {
        match self {
            RowStatus::Applied => "applied",
            RowStatus::Failed => "failed",
            RowStatus::Applying => "applying",
            RowStatus::RollingBack => "rolling_back",
        }
    }

    /// Reads the `status` column.
    pub fn parse(s: &str) -> RowStatus {
        match s {
            "applied" => RowStatus::Applied,
            "failed" => RowStatus::Failed,
            "rolling_back" => RowStatus::RollingBack,
            _ => RowStatus::Applying,
        }
    }
}

/// One row of the history table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRow {
    /// The migration.
    pub key: MigrationKey,
    /// The number of the audit log entry that applied it: increasing in order of
    /// application, and never reused (a migration rolled back and applied again gets a new one).
    pub seq: i64,
    /// When it was applied (RFC 3339, UTC).
    pub applied_at: String,
    /// The checksum of the file when it was applied.
    pub checksum: String,
    /// How long it took.
    pub execution_time_ms: i64,
    /// Its status.
    pub status: RowStatus,
    /// Operations completed.
    pub progress: i64,
    /// The error that stopped it, if it failed.
    pub error: Option<String>,
    /// Who applied it (`user@host`).
    pub applied_by: Option<String>,
    /// Hash chain link over the previous row.
    pub chain_hash: String,
    /// SHA-256 of the operations completed so far (databases without transactional DDL), so
    /// that resuming can tell whether they were edited since.
    pub progress_checksum: Option<String>,
}

/// Everything that stops the executor.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExecutorError {
    /// The database URL is not usable.
    #[error("invalid database URL `{url}`: {reason}")]
    BadUrl {
        /// The URL, with any password hidden.
        url: String,
        /// Why.
        reason: String,
    },
    /// Connecting failed.
    #[error("cannot connect to `{url}`: {source}")]
    Connect {
        /// The URL, with any password hidden.
        url: String,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// A database call failed outside a migration.
    #[error("database error while {doing}: {source}")]
    Database {
        /// What was happening.
        doing: String,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// Another migrator held the lock for longer than `lock_timeout`.
    #[error(
        "another migrator has held the database lock for more than {0:?}; wait for it to finish, or raise `lock_timeout` in chakra.toml"
    )]
    LockTimeout(Duration),
    /// A statement of a migration failed; the migration's transaction was rolled back.
    #[error(transparent)]
    Statement(Box<StatementFailure>),
    /// `PRAGMA foreign_key_check` found rows violating foreign keys after a table rebuild.
    #[error(
        "migration `{migration}` would leave {count} row(s) violating foreign keys (first: table `{table}`, rowid {rowid}); it was rolled back. Fix the data, then apply again"
    )]
    ForeignKeyCheck {
        /// The migration.
        migration: MigrationKey,
        /// Number of violations.
        count: usize,
        /// First violating table.
        table: String,
        /// First violating row.
        rowid: i64,
    },
    /// Applied migrations and files disagree.
    #[error("{}\nNothing was run. Restore the original files from version control: an applied migration must not change. \
             To change the schema further, make a new migration. If an edit was intended and the database already matches it \
             (it changed no SQL, or you ran the change by hand), record the file as it is now with `migrate repair ID --mark-applied`", .0.join("\n"))]
    History(Vec<String>),
    /// Planning failed.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// `migrate repair` refused: the change would make the history inconsistent.
    #[error("{0}. Nothing was recorded")]
    Repair(String),
    /// A `RunRust` operation names a function this binary does not link.
    #[error(
        "migration `{migration}` runs the Rust function `{function}`, which this binary does not contain{}. \
         Nothing was run. Run migrations with RunRust operations through the project's manage binary (or an \
         application that embeds the migrator), which links the crate that registers it with chakra::data_migration!",
        if known.is_empty() { String::new() } else { format!(" (it has: {})", known.join(", ")) }
    )]
    UnknownDataMigration {
        /// The migration.
        migration: MigrationKey,
        /// The function's name.
        function: String,
        /// The functions this binary does contain.
        known: Vec<String>,
    },
    /// A statement of a migration failed on a database without transactional DDL
    /// (MySQL/MariaDB): the operations before it stay done, and the history row records how
    /// far it got so that the next run resumes there.
    #[error(transparent)]
    PartiallyApplied(Box<PartialFailure>),
    /// A migration was left part-way (MySQL/MariaDB) and must be finished before this command.
    #[error("migration `{migration}` {state}; {hint}")]
    Unfinished {
        /// The migration.
        migration: MigrationKey,
        /// Its state.
        state: String,
        /// What to do.
        hint: String,
    },
    /// Resuming a migration left part-way is impossible: the operations (or undo steps) that
    /// already ran are not the same any more.
    #[error(
        "migration `{migration}` stopped part-way after {}, and the already-run operations were changed since: {detail}. \
         They are in the database and are never run twice: restore them in the migration file as they were (only what has not run yet may be edited), then run the command again",
        span(.unit, 1, *.done)
    )]
    ResumeChanged {
        /// The migration.
        migration: MigrationKey,
        /// Operations (or undo steps) already run.
        done: usize,
        /// `operation` or `undo step`.
        unit: &'static str,
        /// What differs.
        detail: String,
    },
}

/// A failed statement of a migration on a database that commits DDL implicitly: what stays
/// done and how to continue.
#[derive(Debug)]
pub struct PartialFailure {
    /// The migration.
    pub migration: MigrationKey,
    /// The database: MySQL/MariaDB, or PostgreSQL for a migration with `atomic = false`.
    pub dialect: DialectKind,
    /// Applying or rolling back.
    pub direction: Direction,
    /// 1-based number of the failing operation (or undo step).
    pub index: usize,
    /// Number of operations (or undo steps) of the migration.
    pub total: usize,
    /// The operation.
    pub description: String,
    /// The failing statement.
    pub statement: String,
    /// Statements of the failing operation that ran before the failing one.
    pub earlier_statements: usize,
    /// The failing operation's statements each commit on their own (an online operation on
    /// PostgreSQL), and are safe to run again.
    pub outside_transaction: bool,
    /// The database's error, or the data migration's.
    pub source: StepError,
}

impl std::fmt::Display for PartialFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (i, n) = (self.index, self.total);
        let forward = self.direction == Direction::Forward;
        let (what, unit) = if forward {
            (format!("migration `{}`", self.migration), "operation")
        } else {
            (
                format!("rollback of migration `{}`", self.migration),
                "undo step",
            )
        };
        writeln!(
            f,
            "{what} failed at {unit} {i} of {n} ({}).\n  statement: {}\n  error: {}{}",
            self.description,
            self.statement,
            self.source,
            hint_for(&self.source)
        )?;
        let done = span(unit, 1, i - 1);
        let why = if self.dialect == DialectKind::Mysql {
            "MySQL/MariaDB commit DDL at once"
        } else {
            "the migration has `atomic = false`, so each operation commits on its own"
        };
        match (i, forward) {
            (1, true) => writeln!(f, "No operation of it had run before.")?,
            (1, false) => writeln!(f, "Nothing of it had been undone before.")?,
            (2, true) => writeln!(
                f,
                "Operation 1 stays applied: {why}, so it is not rolled back with the failure."
            )?,
            (_, true) => writeln!(
                f,
                "{} stay applied: {why}, so they are not rolled back with the failure.",
                capitalize(&done)
            )?,
            (_, false) => writeln!(
                f,
                "{} {} done: {why}.",
                capitalize(&done),
                if i == 2 { "stays" } else { "stay" }
            )?,
        }
        if self.outside_transaction {
            writeln!(
                f,
                "{} {i} is online: its statements commit one by one outside a transaction, so what of it ran stays; \
                 they are written to run again, and {unit} {i} starts over from its first statement \
                 (an index left invalid by a failed concurrent build is dropped first).",
                capitalize(unit)
            )?;
        } else if self.earlier_statements > 0 && self.dialect == DialectKind::Mysql {
            // On PostgreSQL the operation's transaction took its earlier statements with it.
            writeln!(
                f,
                "The {} statement(s) of {unit} {i} before the failing one ran too, and stay if they were DDL: undo them by hand before continuing.",
                self.earlier_statements
            )?;
        }
        if forward {
            let editable = if i == 1 {
                "none of its operations has run, so any may be edited".to_owned()
            } else {
                format!(
                    "{}, not yet run, may be edited; {done} must not change",
                    span(unit, i, n)
                )
            };
            write!(
                f,
                "The migration is recorded as Failed at operation {i}. Fix the cause ({editable}), \
                 then run `migrate apply`: it resumes at operation {i}."
            )
        } else {
            write!(
                f,
                "The migration is recorded as RollingBack with {} undo step(s) done. Fix the cause, then run `migrate rollback` again: it resumes at undo step {i}. \
                 `migrate apply` refuses to run until the rollback is finished.",
                i - 1
            )
        }
    }
}

/// `operation 3` or `operations 1 to 3`.
fn span(unit: &str, from: usize, to: usize) -> String {
    if from == to {
        format!("{unit} {from}")
    } else {
        format!("{unit}s {from} to {to}")
    }
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect())
}

impl std::error::Error for PartialFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// The error of a command that meets a migration left part-way (`row`), when it wanted to go
/// in `direction`.
pub(crate) fn unfinished(row: &HistoryRow, direction: Direction) -> ExecutorError {
    let p = row.progress;
    let (state, hint) = match row.status {
        RowStatus::RollingBack => (
            format!("was being rolled back and is not finished ({p} undo step(s) done)"),
            "finish the rollback first with `migrate rollback` (it resumes where it stopped), then apply".to_owned(),
        ),
        status => (
            format!(
                "is partially applied (status {}, {p} operation(s) done)",
                status.as_str()
            ),
            format!(
                "finish it first: fix the cause and run `migrate apply` (it resumes at operation {}), \
                 or complete it by hand and record it with `migrate apply --fake`; then {}",
                p + 1,
                if direction == Direction::Forward { "apply" } else { "roll back" }
            ),
        ),
    };
    ExecutorError::Unfinished {
        migration: row.key.clone(),
        state,
        hint,
    }
}

/// A failed statement of a migration: which one, where, and the database's error.
#[derive(Debug, thiserror::Error)]
#[error(
    "migration `{migration}` failed at operation {index} ({description}) and was rolled back; nothing of it remains.\n  statement: {statement}\n  error: {source}{hint}",
    hint = hint_for(.source)
)]
pub struct StatementFailure {
    /// The migration.
    pub migration: MigrationKey,
    /// 1-based operation number.
    pub index: usize,
    /// The operation.
    pub description: String,
    /// The failing statement.
    pub statement: String,
    /// The database's error, or the data migration's.
    pub source: StepError,
}

/// Why one step of a migration failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StepError {
    /// A statement failed in the database.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// A `RunRust` data migration returned an error.
    #[error("{0}")]
    Rust(crate::data::Error),
}

impl StepError {
    /// The database's error, when a statement failed.
    pub fn database(&self) -> Option<&sqlx::Error> {
        match self {
            StepError::Database(e) => Some(e),
            StepError::Rust(_) => None,
        }
    }
}

/// A failed step: the statement (or Rust function) that failed, how many statements of the
/// step ran before it, and why.
pub(crate) struct StepFailure {
    pub statement: String,
    #[cfg_attr(not(feature = "mysql"), allow(dead_code))]
    pub earlier_statements: usize,
    pub error: StepError,
}

/// Runs one step on `conn`: its statements, then its Rust function for a `RunRust` step.
pub(crate) async fn run_step(
    step: &crate::plan::StepSql,
    conn: crate::data::Connection<'_>,
) -> Result<(), StepFailure> {
    use tracing::Instrument;
    let span = tracing::info_span!("operation", operation = %step.description);
    run_step_in_span(step, conn).instrument(span).await
}

async fn run_step_in_span(
    step: &crate::plan::StepSql,
    mut conn: crate::data::Connection<'_>,
) -> Result<(), StepFailure> {
    for (j, statement) in step.statements.iter().enumerate() {
        tracing::debug!(statement = %statement, "running");
        conn.execute_sql(statement).await.map_err(|e| StepFailure {
            statement: statement.clone(),
            earlier_statements: j,
            error: StepError::Database(e),
        })?;
    }
    if let Some(name) = &step.rust {
        let failure = |error| StepFailure {
            statement: format!("Rust function `{name}`"),
            earlier_statements: step.statements.len(),
            error,
        };
        let function = crate::data::find(name).ok_or_else(|| {
            failure(StepError::Rust(
                format!("`{name}` is not registered in this binary").into(),
            ))
        })?;
        (function.run)(&mut conn)
            .await
            .map_err(|e| failure(StepError::Rust(e)))?;
    }
    Ok(())
}

/// Fault injection for Chakra's own test suite: with `CHAKRA_FAILPOINT=<name>:<n>` in the
/// environment, the `n`-th time the executor reaches the point `name` it says so on stderr
/// (`chakra: failpoint <name> reached`) and waits there to be killed. Points:
/// `operation-ran` (an operation's statements ran, its progress is not recorded yet) and
/// `operation-recorded` (its progress is recorded, on MySQL/MariaDB and in non-atomic
/// migrations). Does nothing unless the variable is set; read once.
pub(crate) async fn failpoint(name: &str) {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicUsize, Ordering};
    static SPEC: OnceLock<Option<(String, usize)>> = OnceLock::new();
    static HITS: AtomicUsize = AtomicUsize::new(0);
    let spec = SPEC.get_or_init(|| {
        let v = std::env::var("CHAKRA_FAILPOINT").ok()?;
        let (point, n) = v.rsplit_once(':')?;
        Some((point.to_owned(), n.parse().ok()?))
    });
    if let Some((point, n)) = spec
        && point == name
        && HITS.fetch_add(1, Ordering::SeqCst) + 1 == *n
    {
        eprintln!("chakra: failpoint {name} reached");
        loop {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
    }
}

/// Advice for database errors whose text alone does not say what to do.
pub(crate) fn hint_for(error: &StepError) -> &'static str {
    if is_lock_timeout(error) {
        "\n  hint: another transaction holds a lock on the table for longer than `lock_timeout`; \
         run `migrate apply` again once it has finished, or raise `[migrations] lock_timeout` or `lock_retries`"
    } else {
        ""
    }
}

pub(crate) fn db(doing: &str) -> impl FnOnce(sqlx::Error) -> ExecutorError + '_ {
    move |source| ExecutorError::Database {
        doing: doing.to_owned(),
        source,
    }
}

/// What happened to one migration, reported as the run goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A migration is about to run.
    Started {
        /// Which.
        key: MigrationKey,
        /// Direction.
        direction: Direction,
    },
    /// It finished.
    Finished {
        /// Which.
        key: MigrationKey,
        /// Direction.
        direction: Direction,
        /// How long it took.
        elapsed: Duration,
        /// Only recorded (`--fake`).
        fake: bool,
    },
    /// Another process applied or rolled it back first.
    Skipped {
        /// Which.
        key: MigrationKey,
    },
    /// Its DDL timed out waiting for a table lock held by someone else; it is tried again
    /// after `pause` (the whole migration on PostgreSQL, the operation on MySQL/MariaDB).
    Retrying {
        /// Which.
        key: MigrationKey,
        /// This retry's number, 1-based.
        attempt: u32,
        /// How many retries there are at most.
        of: u32,
        /// The pause before it.
        pause: Duration,
    },
}

/// What each database does its own way. Every method runs with the connection the backend
/// owns; `run_one` is called with the migrator lock held.
#[allow(async_fn_in_trait)]
pub(crate) trait Backend {
    /// The dialect of the database.
    fn dialect(&self) -> DialectKind;
    /// The history, in the order migrations were applied; empty when the table does not exist
    /// (reading creates nothing).
    async fn history(&mut self) -> Result<Vec<HistoryRow>, ExecutorError>;
    /// Creates the history table if it does not exist.
    async fn ensure_history_table(&mut self) -> Result<(), ExecutorError>;
    /// Takes the migrator lock, waiting up to `lock_timeout`.
    async fn lock(&mut self) -> Result<(), ExecutorError>;
    /// Releases the migrator lock.
    async fn unlock(&mut self) -> Result<(), ExecutorError>;
    /// The audit log, oldest first; `None` when the log table does not exist.
    async fn log(&mut self) -> Result<Option<Vec<LogEntry>>, ExecutorError>;
    /// In one transaction: reads the history (the rows of `scope`, or all) and the newest log
    /// entry, asks `f` what to change, and writes that change. Called with the migrator lock
    /// held.
    async fn change_history<T: Send>(
        &mut self,
        scope: Option<&[MigrationKey]>,
        f: impl FnOnce(
            &[HistoryRow],
            Option<&LogEntry>,
        ) -> Result<(Option<HistoryChange>, T), ExecutorError>
        + Send,
    ) -> Result<T, ExecutorError>;
    /// Runs one migration and records it, skipping it when the history (re-read under the
    /// lock) shows another process did it.
    async fn run_one(
        &mut self,
        m: &MigrationSql,
        direction: Direction,
        fake: bool,
        on_event: &mut (dyn FnMut(Event) + Send),
    ) -> Result<(), ExecutorError>;
}

enum Driver {
    #[cfg(feature = "sqlite")]
    Sqlite(sqlite::SqliteBackend),
    #[cfg(feature = "postgres")]
    Postgres(postgres::PgBackend),
    #[cfg(feature = "mysql")]
    Mysql(mysql::MySqlBackend),
}

/// Calls the same method on whichever backend is connected.
macro_rules! dispatch {
    ($self:expr, $b:ident => $call:expr) => {
        match &mut $self.driver {
            #[cfg(feature = "sqlite")]
            Driver::Sqlite($b) => $call,
            #[cfg(feature = "postgres")]
            Driver::Postgres($b) => $call,
            #[cfg(feature = "mysql")]
            Driver::Mysql($b) => $call,
        }
    };
}

/// A connection to a migrated database.
pub struct Executor {
    driver: Driver,
}

/// A database to migrate: a URL (`&str`, `&String`) or one of the application's sqlx pools
/// (`&SqlitePool`, `&PgPool`, `&MySqlPool`). What [`Migrator`](crate::migrator::Migrator)'s
/// methods take.
///
/// ```no_run
/// # async fn f(pool: sqlx::SqlitePool) -> Result<(), chakra::executor::ExecutorError> {
/// use chakra::executor::{Connect, ExecutorConfig};
/// let exec = (&pool).connect(ExecutorConfig::default()).await?;
/// let exec2 = "sqlite://app.db".connect(ExecutorConfig::default()).await?;
/// # Ok(()) }
/// ```
pub trait Connect {
    /// Opens an [`Executor`] on the database.
    fn connect(
        self,
        config: ExecutorConfig,
    ) -> impl std::future::Future<Output = Result<Executor, ExecutorError>> + Send;
}

impl Connect for &str {
    fn connect(
        self,
        config: ExecutorConfig,
    ) -> impl std::future::Future<Output = Result<Executor, ExecutorError>> + Send {
        Executor::connect(self, config)
    }
}

impl Connect for &String {
    fn connect(
        self,
        config: ExecutorConfig,
    ) -> impl std::future::Future<Output = Result<Executor, ExecutorError>> + Send {
        Executor::connect(self, config)
    }
}

#[cfg(feature = "sqlite")]
impl Connect for &sqlx::SqlitePool {
    fn connect(
        self,
        config: ExecutorConfig,
    ) -> impl std::future::Future<Output = Result<Executor, ExecutorError>> + Send {
        Executor::from_sqlite_pool(self, config)
    }
}

#[cfg(feature = "postgres")]
impl Connect for &sqlx::PgPool {
    fn connect(
        self,
        config: ExecutorConfig,
    ) -> impl std::future::Future<Output = Result<Executor, ExecutorError>> + Send {
        Executor::from_pg_pool(self, config)
    }
}

#[cfg(feature = "mysql")]
impl Connect for &sqlx::MySqlPool {
    fn connect(
        self,
        config: ExecutorConfig,
    ) -> impl std::future::Future<Output = Result<Executor, ExecutorError>> + Send {
        Executor::from_mysql_pool(self, config)
    }
}

/// Hides the password of a URL for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// The dialect a URL's scheme selects.
pub fn dialect_of_url(url: &str) -> Result<DialectKind, ExecutorError> {
    let scheme = url.split_once(':').map(|(s, _)| s).unwrap_or("");
    let (dialect, feature) = match scheme {
        "sqlite" => (DialectKind::Sqlite, "sqlite"),
        "postgres" | "postgresql" => (DialectKind::Postgres, "postgres"),
        "mysql" | "mariadb" => (DialectKind::Mysql, "mysql"),
        _ => {
            return Err(ExecutorError::BadUrl {
                url: redact_url(url),
                reason: "the URL must start with sqlite:, postgres:// or mysql:// (for example `sqlite://db.sqlite3`)".to_owned(),
            });
        }
    };
    let compiled = match dialect {
        DialectKind::Sqlite => cfg!(feature = "sqlite"),
        DialectKind::Postgres => cfg!(feature = "postgres"),
        DialectKind::Mysql => cfg!(feature = "mysql"),
    };
    if !compiled {
        return Err(ExecutorError::BadUrl {
            url: redact_url(url),
            reason: format!(
                "this build of chakra was compiled without the `{feature}` feature; enable it \
                 (`chakra-cli` has all three by default; for `chakra` in your own Cargo.toml add \
                 `features = [\"{feature}\"]`) and rebuild"
            ),
        });
    }
    Ok(dialect)
}

impl Executor {
    /// Connects to `url` (`sqlite:`, `postgres://` or `mysql://`). A SQLite file that does not
    /// exist yet is created.
    pub async fn connect(url: &str, config: ExecutorConfig) -> Result<Executor, ExecutorError> {
        let driver = match dialect_of_url(url)? {
            #[cfg(feature = "sqlite")]
            DialectKind::Sqlite => {
                Driver::Sqlite(sqlite::SqliteBackend::connect(url, config).await?)
            }
            #[cfg(feature = "postgres")]
            DialectKind::Postgres => {
                Driver::Postgres(postgres::PgBackend::connect(url, config).await?)
            }
            #[cfg(feature = "mysql")]
            DialectKind::Mysql => Driver::Mysql(mysql::MySqlBackend::connect(url, config).await?),
            #[allow(unreachable_patterns)]
            other => unreachable!("dialect_of_url accepts only compiled dialects, not {other}"),
        };
        Ok(Executor { driver })
    }

    /// Runs migrations on a connection borrowed from the application's SQLite `pool` (an
    /// in-memory database lives only in the pool's connections); [`close`](Self::close)
    /// gives it back as it was.
    #[cfg(feature = "sqlite")]
    pub async fn from_sqlite_pool(
        pool: &sqlx::SqlitePool,
        config: ExecutorConfig,
    ) -> Result<Executor, ExecutorError> {
        Ok(Executor {
            driver: Driver::Sqlite(sqlite::SqliteBackend::from_pool(pool, config).await?),
        })
    }

    /// Runs migrations on connections of its own, opened with the options of the
    /// application's PostgreSQL `pool`, so that the migrator's session settings and lock
    /// never reach the pool.
    #[cfg(feature = "postgres")]
    pub async fn from_pg_pool(
        pool: &sqlx::PgPool,
        config: ExecutorConfig,
    ) -> Result<Executor, ExecutorError> {
        Ok(Executor {
            driver: Driver::Postgres(postgres::PgBackend::from_pool(pool, config).await?),
        })
    }

    /// Runs migrations on a connection of its own, opened with the options of the
    /// application's MySQL/MariaDB `pool`.
    #[cfg(feature = "mysql")]
    pub async fn from_mysql_pool(
        pool: &sqlx::MySqlPool,
        config: ExecutorConfig,
    ) -> Result<Executor, ExecutorError> {
        Ok(Executor {
            driver: Driver::Mysql(mysql::MySqlBackend::from_pool(pool, config).await?),
        })
    }

    /// Closes the executor's connections (a connection borrowed from a pool goes back as it
    /// was). Dropping the executor closes them too, without waiting.
    pub async fn close(self) -> Result<(), ExecutorError> {
        match self.driver {
            #[cfg(feature = "sqlite")]
            Driver::Sqlite(b) => b.close().await,
            #[cfg(feature = "postgres")]
            Driver::Postgres(b) => b.close().await,
            #[cfg(feature = "mysql")]
            Driver::Mysql(b) => b.close().await,
        }
    }

    /// The dialect of the connected database.
    pub fn dialect(&self) -> DialectKind {
        match &self.driver {
            #[cfg(feature = "sqlite")]
            Driver::Sqlite(b) => b.dialect(),
            #[cfg(feature = "postgres")]
            Driver::Postgres(b) => b.dialect(),
            #[cfg(feature = "mysql")]
            Driver::Mysql(b) => b.dialect(),
        }
    }

    /// The SQLite connection, when connected to SQLite (for tests and data checks).
    #[cfg(feature = "sqlite")]
    pub fn sqlite_connection(&mut self) -> Option<&mut sqlx::SqliteConnection> {
        match &mut self.driver {
            Driver::Sqlite(b) => Some(b.connection()),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    /// Creates the history table if it does not exist.
    pub async fn ensure_history_table(&mut self) -> Result<(), ExecutorError> {
        dispatch!(self, b => b.ensure_history_table().await)
    }

    /// The history, in the order migrations were applied. Empty when the table does not
    /// exist (nothing is created by reading).
    pub async fn history(&mut self) -> Result<Vec<HistoryRow>, ExecutorError> {
        dispatch!(self, b => b.history().await)
    }

    /// The audit log, oldest first: every migration applied, rolled back, faked or repaired.
    /// `None` when the database has no log table (never migrated, or migrated by an older
    /// Chakra).
    pub async fn log(&mut self) -> Result<Option<Vec<LogEntry>>, ExecutorError> {
        dispatch!(self, b => b.log().await)
    }

    /// Checks the audit log's hash chain and the history rows against it: an edited,
    /// inserted or deleted row of either table is reported by migration id.
    pub async fn verify_history(&mut self) -> Result<HistoryReport, ExecutorError> {
        let history = self.history().await?;
        let log = self.log().await?;
        Ok(verify_history(&history, log.as_deref()))
    }

    /// Records by hand that `key` is applied (`Repair::MarkApplied`) or not
    /// (`Repair::MarkRolledBack`), after a manual intervention, without running anything.
    /// The change goes into the audit log with who, when and `reason`.
    pub async fn repair(
        &mut self,
        graph: &Graph,
        key: &MigrationKey,
        repair: Repair,
        reason: Option<&str>,
    ) -> Result<RepairOutcome, ExecutorError> {
        dispatch!(self, b => {
            b.lock().await?;
            let result = async {
                prepare_history(b).await?;
                b.change_history(None, |history, last| repair_change(graph, key, repair, reason, history, last))
                    .await
            }
            .await;
            let unlocked = b.unlock().await;
            result.and_then(|r| unlocked.map(|()| r))
        })
    }

    /// Applies pending migrations (all, or those `target` needs).
    pub async fn apply(
        &mut self,
        graph: &Graph,
        target: Option<&MigrationKey>,
        fake: bool,
        on_event: &mut (dyn FnMut(Event) + Send),
    ) -> Result<Vec<MigrationSql>, ExecutorError> {
        let plan = self.plan_apply(graph, target).await?;
        self.run(&plan, Direction::Forward, fake, on_event).await?;
        Ok(plan)
    }

    /// Rolls back to `target`.
    pub async fn rollback(
        &mut self,
        graph: &Graph,
        target: &RollbackTarget,
        fake: bool,
        on_event: &mut (dyn FnMut(Event) + Send),
    ) -> Result<Vec<MigrationSql>, ExecutorError> {
        let plan = self.plan_rollback(graph, target).await?;
        self.run(&plan, Direction::Backward, fake, on_event).await?;
        Ok(plan)
    }

    /// The SQL `apply` would run, computed from the current history. Runs nothing and checks
    /// applied files against their recorded checksums first.
    pub async fn plan_apply(
        &mut self,
        graph: &Graph,
        target: Option<&MigrationKey>,
    ) -> Result<Vec<MigrationSql>, ExecutorError> {
        let history = self.history().await?;
        check_files(graph, &history)?;
        // A rollback left part-way (MySQL/MariaDB) must be finished first. A migration that
        // failed part-way is not done, so it is planned again and resumes.
        if let Some(row) = history.iter().find(|r| r.status == RowStatus::RollingBack) {
            return Err(unfinished(row, Direction::Forward));
        }
        // Squashed migrations: the squash or what it replaces, as this database needs.
        let (graph, applied) = resolve_history(graph, &history).map_err(graph_errors)?;
        if let Some(t) = target {
            graph.check_target(t).map_err(PlanError::Graph)?;
        }
        let plan = apply_plan(&graph, &applied, target)?;
        Ok(plan_sql(self.dialect(), &graph, &plan, Direction::Forward)?)
    }

    /// The SQL `rollback` would run. Runs nothing; every migration in the plan must be
    /// reversible.
    pub async fn plan_rollback(
        &mut self,
        graph: &Graph,
        target: &RollbackTarget,
    ) -> Result<Vec<MigrationSql>, ExecutorError> {
        let history = self.history().await?;
        check_files(graph, &history)?;
        // MySQL/MariaDB: a migration that failed part-way is finished (by `apply`) before
        // anything is rolled back; a rollback left part-way is resumed first (it counts as the
        // newest applied migration).
        if let Some(row) = history
            .iter()
            .find(|r| matches!(r.status, RowStatus::Failed | RowStatus::Applying))
        {
            return Err(unfinished(row, Direction::Backward));
        }
        let resuming: Vec<MigrationKey> = history
            .iter()
            .filter(|r| r.status == RowStatus::RollingBack)
            .map(|r| r.key.clone())
            .collect();
        let (graph, _) = resolve_history(graph, &history).map_err(graph_errors)?;
        if let RollbackTarget::To(t) = target {
            graph.check_target(t).map_err(PlanError::Graph)?;
        }
        // The order of application, a squash in use taking the place of the newest row of
        // what it replaces.
        let mut order: Vec<MigrationKey> = Vec::new();
        for k in done(&history) {
            let k = graph.replaced_by(k).unwrap_or(k);
            order.retain(|o| o != k);
            order.push(k.clone());
        }
        order.extend(resuming.iter().cloned());
        let mut plan = rollback_plan(&graph, &order, target)?;
        plan.retain(|k| !resuming.contains(k));
        plan.splice(0..0, resuming);
        let mut plan = plan_sql(self.dialect(), &graph, &plan, Direction::Backward)?;
        // Rolling back a squash removes the rows of whatever it replaces that this database
        // recorded (through nested squashes too), so the backend finds it applied and leaves
        // no row behind.
        for m in &mut plan {
            if !graph.replaces(&m.key).is_empty() {
                let closure = graph.replaced_closure(&m.key);
                m.replaces = done(&history)
                    .filter(|k| closure.contains(*k))
                    .cloned()
                    .collect();
            }
        }
        Ok(plan)
    }

    /// Runs a plan made by [`plan_apply`](Self::plan_apply) or
    /// [`plan_rollback`](Self::plan_rollback) under the migrator lock, one migration at a
    /// time. Migrations that another process applied (or rolled back) meanwhile are skipped.
    pub async fn run(
        &mut self,
        plan: &[MigrationSql],
        direction: Direction,
        fake: bool,
        on_event: &mut (dyn FnMut(Event) + Send),
    ) -> Result<(), ExecutorError> {
        if plan.is_empty() {
            return Ok(());
        }
        if !fake {
            for m in plan {
                for name in m.steps.iter().filter_map(|s| s.rust.as_ref()) {
                    if crate::data::find(name).is_none() {
                        return Err(ExecutorError::UnknownDataMigration {
                            migration: m.key.clone(),
                            function: name.clone(),
                            known: crate::data::names()
                                .into_iter()
                                .map(str::to_owned)
                                .collect(),
                        });
                    }
                }
            }
        }
        dispatch!(self, b => {
            b.lock().await?;
            let result = run_locked(b, plan, direction, fake, on_event).await;
            let unlocked = b.unlock().await;
            result.and(unlocked)
        })
    }

    /// Reads the live schema: every table of the database (SQLite), the current schema
    /// (PostgreSQL) or the current database (MySQL/MariaDB), the history tables included.
    /// Changes nothing; see [`crate::drift`].
    pub async fn introspect(&mut self) -> Result<crate::introspect::Schema, ExecutorError> {
        let schema = match &mut self.driver {
            #[cfg(feature = "sqlite")]
            Driver::Sqlite(b) => crate::introspect::sqlite::read(b.connection()).await,
            #[cfg(feature = "postgres")]
            Driver::Postgres(b) => crate::introspect::postgres::read(b.connection()).await,
            #[cfg(feature = "mysql")]
            Driver::Mysql(b) => crate::introspect::mysql::read(b.connection()).await,
        };
        schema.map_err(db("reading the database schema"))
    }
}

async fn run_locked<B: Backend>(
    b: &mut B,
    plan: &[MigrationSql],
    direction: Direction,
    fake: bool,
    on_event: &mut (dyn FnMut(Event) + Send),
) -> Result<(), ExecutorError> {
    use tracing::Instrument;
    prepare_history(b).await?;
    for m in plan {
        let span = tracing::info_span!(
            "migration",
            app = %m.key.app,
            id = %m.key.id,
            direction = ?direction,
            fake,
        );
        b.run_one(m, direction, fake, on_event)
            .instrument(span.clone())
            .await
            .inspect_err(|e| span.in_scope(|| tracing::error!(error = %e, "migration failed")))?;
    }
    Ok(())
}

/// Creates the history and log tables if needed and takes over rows written before the log
/// existed. Called under the lock: concurrent CREATE TABLE IF NOT EXISTS can fail on
/// PostgreSQL.
async fn prepare_history<B: Backend>(b: &mut B) -> Result<(), ExecutorError> {
    b.ensure_history_table().await?;
    b.change_history(None, |history, last| {
        let change = import_change(history, last);
        Ok(((!change.log.is_empty()).then_some(change), ()))
    })
    .await
}

/// What `migrate repair` records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repair {
    /// The migration is in place: record it as applied with its file's checksum.
    MarkApplied,
    /// The migration is not in place: remove its history row.
    MarkRolledBack,
}

/// What a repair did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepairOutcome {
    /// The change was recorded with this log entry.
    Recorded(LogEntry),
    /// The history already says so; nothing was written.
    Unchanged(String),
}

/// The change of a repair, computed under the lock from the history and the newest log entry.
fn repair_change(
    graph: &Graph,
    key: &MigrationKey,
    repair: Repair,
    reason: Option<&str>,
    history: &[HistoryRow],
    last: Option<&LogEntry>,
) -> Result<(Option<HistoryChange>, RepairOutcome), ExecutorError> {
    let row = history.iter().find(|r| &r.key == key);
    let applied = |k: &MigrationKey| {
        history
            .iter()
            .any(|r| &r.key == k && r.status == RowStatus::Applied)
    };
    let refuse = |why: String| Err(ExecutorError::Repair(why));
    let with_reason = |note: String| match reason {
        Some(r) => format!("{note}; reason: {r}"),
        None => note,
    };
    match repair {
        Repair::MarkApplied => {
            let Some(file) = graph.get(key) else {
                return refuse(format!(
                    "there is no migration file `{key}`: `--mark-applied` records a migration from its file, so restore the file first"
                ));
            };
            let missing: Vec<String> = graph
                .dependencies(key)
                .iter()
                .filter(|d| !applied(d))
                .map(ToString::to_string)
                .collect();
            if !missing.is_empty() {
                return refuse(format!(
                    "`{key}` depends on {}, which the history does not record as applied; mark {} first if {} in place",
                    missing.join(", "),
                    if missing.len() == 1 {
                        "it"
                    } else {
                        "them (oldest first)"
                    },
                    if missing.len() == 1 {
                        "it is"
                    } else {
                        "they are"
                    }
                ));
            }
            let note = match row {
                Some(r) if r.status == RowStatus::Applied && r.checksum == file.checksum => {
                    return Ok((
                        None,
                        RepairOutcome::Unchanged(format!(
                            "`{key}` is already recorded as applied with the checksum of its file"
                        )),
                    ));
                }
                Some(r) if r.status == RowStatus::Applied => format!(
                    "checksum re-recorded after the file was edited: {} before, {} now",
                    &r.checksum[..r.checksum.len().min(12)],
                    &file.checksum[..file.checksum.len().min(12)]
                ),
                Some(r) if r.status == RowStatus::RollingBack => format!(
                    "its rollback was interrupted after {} undo step(s); marked applied by hand",
                    r.progress
                ),
                Some(r) => format!(
                    "it was {} after {} of {} operation(s); marked applied by hand",
                    if r.status == RowStatus::Failed {
                        "failed"
                    } else {
                        "interrupted"
                    },
                    r.progress,
                    file.migration.operations.len()
                ),
                None => "marked applied by hand".to_owned(),
            };
            let entry = LogEntry::next(
                last,
                key,
                LogAction::MarkApplied,
                &file.checksum,
                Duration::ZERO,
                Some(with_reason(note)),
            );
            let seq = row.map_or(entry.seq, |r| r.seq);
            let ops = i64::try_from(file.migration.operations.len()).unwrap_or(i64::MAX);
            let change = HistoryChange {
                upsert: Some(entry.applied_row(seq, ops)),
                log: vec![entry.clone()],
                ..HistoryChange::default()
            };
            Ok((Some(change), RepairOutcome::Recorded(entry)))
        }
        Repair::MarkRolledBack => {
            let Some(row) = row else {
                return Ok((
                    None,
                    RepairOutcome::Unchanged(format!(
                        "`{key}` is not recorded in the history; nothing to mark rolled back"
                    )),
                ));
            };
            let dependents: Vec<String> = history
                .iter()
                .filter(|r| r.key != *key && graph.dependencies(&r.key).contains(key))
                .map(|r| format!("`{}`", r.key))
                .collect();
            if !dependents.is_empty() {
                let one = dependents.len() == 1;
                return refuse(format!(
                    "{} {} on `{key}` and {} recorded in the history; mark {} rolled back first (newest first) if {} undone too",
                    dependents.join(", "),
                    if one { "depends" } else { "depend" },
                    if one { "is" } else { "are" },
                    if one { "it" } else { "them" },
                    if one { "it was" } else { "they were" },
                ));
            }
            let note = if row.status == RowStatus::Applied {
                "marked rolled back by hand".to_owned()
            } else {
                format!(
                    "its row had status {} after {} step(s); marked rolled back by hand",
                    row.status.as_str(),
                    row.progress
                )
            };
            let entry = LogEntry::next(
                last,
                key,
                LogAction::MarkRolledBack,
                &row.checksum,
                Duration::ZERO,
                Some(with_reason(note)),
            );
            let change = HistoryChange {
                delete: vec![key.clone()],
                log: vec![entry.clone()],
                ..HistoryChange::default()
            };
            Ok((Some(change), RepairOutcome::Recorded(entry)))
        }
    }
}

/// Whether the history (read under the lock) records `m` as applied: its own row, or, for a
/// squashed migration, the rows of every migration it replaces.
pub(crate) fn is_applied(history: &[HistoryRow], m: &MigrationSql) -> bool {
    let applied = |k: &MigrationKey| {
        history
            .iter()
            .any(|r| &r.key == k && r.status == RowStatus::Applied)
    };
    applied(&m.key) || (!m.replaces.is_empty() && m.replaces.iter().all(applied))
}

/// `graph` resolved against `history` (see [`Graph::resolve`]), with the migrations of the
/// resolved graph that count as applied: their own row, or, for a squash, the rows of what it
/// replaces.
pub fn resolve_history(
    graph: &Graph,
    history: &[HistoryRow],
) -> Result<(Graph, BTreeSet<MigrationKey>), Vec<GraphError>> {
    let applied: BTreeSet<MigrationKey> = done(history).cloned().collect();
    let recorded: BTreeSet<MigrationKey> = history.iter().map(|r| r.key.clone()).collect();
    let resolved = graph.resolve(&applied, &recorded)?;
    let mut counted: BTreeSet<MigrationKey> = applied
        .into_iter()
        .filter(|k| resolved.get(k).is_some())
        .collect();
    counted.extend(resolved.applied_through_replaced().iter().cloned());
    Ok((resolved, counted))
}

/// The error for a graph that does not resolve against the history.
fn graph_errors(mut errors: Vec<GraphError>) -> ExecutorError {
    if errors.len() == 1 {
        ExecutorError::Plan(PlanError::Graph(errors.remove(0)))
    } else {
        ExecutorError::History(errors.iter().map(ToString::to_string).collect())
    }
}

/// Keys of rows that count as applied.
pub(crate) fn done(history: &[HistoryRow]) -> impl Iterator<Item = &MigrationKey> {
    history
        .iter()
        .filter(|r| r.status == RowStatus::Applied)
        .map(|r| &r.key)
}

/// The columns of the history table, in the order every backend reads them.
pub(crate) const HISTORY_COLUMNS: &str = "\"app\", \"id\", \"seq\", \"applied_at\", \"checksum\", \"execution_time_ms\", \"status\", \"progress\", \"error\", \"applied_by\", \"chain_hash\", \"progress_checksum\"";

/// Runs `select`, a SELECT of [`HISTORY_COLUMNS`], on `conn` and decodes the rows.
pub(crate) async fn fetch_history<'c, DB, E>(
    conn: E,
    select: String,
) -> Result<Vec<HistoryRow>, ExecutorError>
where
    DB: sqlx::Database,
    DB::Arguments: sqlx::IntoArguments<DB>,
    E: sqlx::Executor<'c, Database = DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
    for<'a> String: sqlx::Decode<'a, DB> + sqlx::Type<DB>,
    for<'a> i64: sqlx::Decode<'a, DB> + sqlx::Type<DB>,
{
    let rows = sqlx::query(sqlx::AssertSqlSafe(select))
        .fetch_all(conn)
        .await
        .map_err(db("reading the migration history"))?;
    rows.iter()
        .map(history_row)
        .collect::<Result<_, _>>()
        .map_err(db("reading the migration history"))
}

/// The history rows of `keys` (every row when `None`), in the order they were applied, read
/// on `conn` (inside the caller's transaction, if any). Under the lock each migration reads
/// only its own rows, so applying N migrations costs O(N), not O(N²).
pub(crate) async fn fetch_history_of<DB>(
    conn: &mut DB::Connection,
    dialect: DialectKind,
    table: &str,
    keys: Option<&[MigrationKey]>,
) -> Result<Vec<HistoryRow>, ExecutorError>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
    for<'a> String: sqlx::Decode<'a, DB> + sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    for<'a> i64: sqlx::Decode<'a, DB> + sqlx::Type<DB>,
{
    let columns = if dialect == DialectKind::Mysql {
        HISTORY_COLUMNS.replace('"', "`")
    } else {
        HISTORY_COLUMNS.to_owned()
    };
    let q = |s: &str| quote_ident(dialect, s);
    let filter = match keys {
        None => String::new(),
        Some([]) => return Ok(Vec::new()),
        Some(keys) => {
            let one = |i: usize| {
                format!(
                    "({} = {} AND {} = {})",
                    q("app"),
                    audit::placeholders(dialect, 2 * i + 1, 1),
                    q("id"),
                    audit::placeholders(dialect, 2 * i + 2, 1)
                )
            };
            format!(
                " WHERE {}",
                (0..keys.len()).map(one).collect::<Vec<_>>().join(" OR ")
            )
        }
    };
    let sql = format!(
        "SELECT {columns} FROM {}{filter} ORDER BY {}",
        q(table),
        q("seq")
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for k in keys.unwrap_or_default() {
        query = query.bind(k.app.clone()).bind(k.id.clone());
    }
    let rows = query
        .fetch_all(&mut *conn)
        .await
        .map_err(db("reading the migration history"))?;
    rows.iter()
        .map(history_row)
        .collect::<Result<_, _>>()
        .map_err(db("reading the migration history"))
}

/// The migration of `m` and those it replaces: the history rows a run of `m` reads.
pub(crate) fn keys_of(m: &MigrationSql) -> Vec<MigrationKey> {
    std::iter::once(&m.key)
        .chain(&m.replaces)
        .cloned()
        .collect()
}

/// Decodes a row selected as [`HISTORY_COLUMNS`], on any of the databases: every integer
/// column is BIGINT and every other one text, so `i64` and `String` read them all.
fn history_row<R>(r: &R) -> Result<HistoryRow, sqlx::Error>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(HistoryRow {
        key: MigrationKey::new(r.try_get::<String, _>(0)?, r.try_get::<String, _>(1)?),
        seq: r.try_get(2)?,
        applied_at: r.try_get(3)?,
        checksum: r.try_get(4)?,
        execution_time_ms: r.try_get(5)?,
        status: RowStatus::parse(&r.try_get::<String, _>(6)?),
        progress: r.try_get(7)?,
        error: r.try_get(8)?,
        applied_by: r.try_get(9)?,
        chain_hash: r.try_get(10)?,
        progress_checksum: r.try_get(11)?,
    })
}

/// Binds the columns of `row` that follow its key, in [`HISTORY_COLUMNS`] order (`seq` to
/// `progress_checksum`). The caller binds the key: before them for an INSERT of
/// [`HISTORY_COLUMNS`], after them for a statement ending in `WHERE app = ? AND id = ?`.
pub(crate) fn bind_history_values<'q, DB>(
    query: sqlx::query::Query<'q, DB, DB::Arguments>,
    row: &HistoryRow,
) -> sqlx::query::Query<'q, DB, DB::Arguments>
where
    DB: sqlx::Database,
    for<'a> i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    for<'a> &'a str: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    for<'a> String: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    for<'a> Option<String>: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    query
        .bind(row.seq)
        .bind(&row.applied_at)
        .bind(&row.checksum)
        .bind(row.execution_time_ms)
        .bind(row.status.as_str())
        .bind(row.progress)
        .bind(&row.error)
        .bind(&row.applied_by)
        .bind(&row.chain_hash)
        .bind(&row.progress_checksum)
}

/// `CREATE TABLE IF NOT EXISTS` of the history table for `dialect`.
pub(crate) fn history_table_sql(dialect: DialectKind, table: &str) -> String {
    let q = |s: &str| quote_ident(dialect, s);
    let text = if dialect == DialectKind::Mysql {
        "LONGTEXT"
    } else {
        "TEXT"
    };
    format!(
        "CREATE TABLE IF NOT EXISTS {} ({} VARCHAR(255) NOT NULL, {} VARCHAR(255) NOT NULL, {} BIGINT NOT NULL, \
         {} VARCHAR(40) NOT NULL, {} CHAR(64) NOT NULL, {} BIGINT NOT NULL, {} VARCHAR(16) NOT NULL, \
         {} BIGINT NOT NULL DEFAULT 0, {} {text}, {} VARCHAR(255), {} CHAR(64) NOT NULL, {} CHAR(64), \
         PRIMARY KEY ({}, {})){}",
        q(table),
        q("app"),
        q("id"),
        q("seq"),
        q("applied_at"),
        q("checksum"),
        q("execution_time_ms"),
        q("status"),
        q("progress"),
        q("error"),
        q("applied_by"),
        q("chain_hash"),
        q("progress_checksum"),
        q("app"),
        q("id"),
        if dialect == DialectKind::Mysql {
            " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
        } else {
            ""
        },
    )
}

/// Now, as stored in `applied_at`.
pub(crate) fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

pub(crate) fn who() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".to_owned());
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{user}@{host}")
}

/// A disagreement between the history and the migration files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileProblem {
    /// The file of an applied migration is gone.
    Missing {
        /// The migration.
        key: MigrationKey,
        /// A file with the same content under another id, if any (a rename).
        renamed_to: Option<MigrationKey>,
    },
    /// The file changed since it was applied.
    Changed {
        /// The migration.
        key: MigrationKey,
        /// The recorded checksum.
        recorded: String,
        /// The file's checksum now.
        actual: String,
    },
}

impl std::fmt::Display for FileProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FileProblem::Missing {
                key,
                renamed_to: Some(new),
            } => write!(
                f,
                "applied migration `{key}` was renamed to `{new}`: rename the file (and its `id`) back to `{}`",
                key.id
            ),
            FileProblem::Missing {
                key,
                renamed_to: None,
            } => {
                write!(f, "applied migration `{key}` has no file any more")
            }
            FileProblem::Changed {
                key,
                recorded,
                actual,
            } => write!(
                f,
                "applied migration `{key}` differs from what was applied (checksum {} recorded, {} now): \
                 the file was edited, or the history row's checksum was changed by hand (`migrate verify` tells which)",
                &recorded[..recorded.len().min(12)],
                &actual[..actual.len().min(12)]
            ),
        }
    }
}

/// Compares the history rows with the files. The file of a migration that failed part-way
/// (status `failed` or `applying`) may change: its operations not yet run may be fixed, and
/// resuming checks the ones already run against `progress_checksum`.
pub fn file_problems(graph: &Graph, history: &[HistoryRow]) -> Vec<FileProblem> {
    let recorded: BTreeSet<&MigrationKey> = history.iter().map(|r| &r.key).collect();
    let mut out = Vec::new();
    for row in history {
        let editable = matches!(row.status, RowStatus::Failed | RowStatus::Applying);
        match graph.file(&row.key) {
            Some(file) if file.checksum != row.checksum && !editable => {
                out.push(FileProblem::Changed {
                    key: row.key.clone(),
                    recorded: row.checksum.clone(),
                    actual: file.checksum.clone(),
                })
            }
            Some(_) => {}
            // Deleted after it was squashed: the squash's file stands for it.
            None if graph.replacing_squash(&row.key).is_some() => {}
            None => {
                let renamed_to = graph
                    .file_keys()
                    .filter(|k| !recorded.contains(k))
                    .find(|k| {
                        graph.file(k).is_some_and(|m| {
                            let mut renamed = m.migration.clone();
                            renamed.migration.id = row.key.id.clone();
                            renamed.migration.app = row.key.app.clone();
                            renamed.checksum() == row.checksum
                        })
                    })
                    .cloned();
                out.push(FileProblem::Missing {
                    key: row.key.clone(),
                    renamed_to,
                });
            }
        }
    }
    out
}

fn check_files(graph: &Graph, history: &[HistoryRow]) -> Result<(), ExecutorError> {
    let problems = file_problems(graph, history);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ExecutorError::History(
            problems.iter().map(ToString::to_string).collect(),
        ))
    }
}
