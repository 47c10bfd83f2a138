//! Migrations compiled into the application binary and applied from its own code, typically
//! at start-up: [`embed_migrations!`](crate::embed_migrations) and [`Migrator`].
//!
//! ```no_run
//! use chakra::migrator::Migrator;
//!
//! // The migrations folder, relative to the crate's Cargo.toml (usually "migrations"),
//! // read at compile time.
//! static MIGRATOR: Migrator = chakra::embed_migrations!("../examples/blog/migrations");
//!
//! # async fn start(pool: sqlx::SqlitePool) -> Result<(), chakra::migrator::Error> {
//! let applied = MIGRATOR.apply(&pool).await?;
//! println!("applied {} migration(s)", applied.len());
//! # Ok(()) }
//! ```
//!
//! A `Migrator` runs through the same executor as `chakra migrate apply`: the same migrator
//! lock (any number of instances of the application may start at once), the same checks of
//! applied files against the checksums in the history, the same history and audit log, the
//! same errors. The files are checked when first used: every file parses, they form a valid
//! graph, and they match the `chakra.sum` compiled in with them (a file edited without
//! `migrate make` or `migrate verify --update-sum` is refused). RunRust operations call the
//! functions registered with [`data_migration!`](crate::data_migration) that the binary links.
//!
//! The files are embedded with `include_str!`, so editing one rebuilds the binary; adding one
//! with `migrate make` rewrites `chakra.sum`, which is embedded too. To pick up a file added by
//! any other means, give the crate a `build.rs` with
//! `println!("cargo:rerun-if-changed=migrations");`.

use std::sync::OnceLock;

use crate::executor::{
    Connect, Event, Executor, ExecutorConfig, ExecutorError, HistoryProblem, HistoryRow, RowStatus,
    file_problems, resolve_history,
};
use crate::format::{DEFAULT_APP, FormatError};
use crate::graph::{Graph, GraphError, MigrationKey};
use crate::plan::{Direction, MigrationSql, RollbackTarget};
use crate::project::{ProjectError, load_embedded};
use crate::sum::{self, SumProblem};

/// One migration file compiled into the binary, written by
/// [`embed_migrations!`](crate::embed_migrations).
#[derive(Debug, Clone, Copy)]
pub struct EmbeddedFile {
    /// Path relative to the migrations folder: `0001_initial.toml`, `blog/0001_initial.toml`.
    pub path: &'static str,
    /// The file's text.
    pub text: &'static str,
}

/// Why the embedded files cannot be used. Found when the migrator is first used; the same for
/// the life of the binary.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// Files that do not parse or are misnamed.
    #[error(
        "the embedded migration files are invalid:\n{}\nFix them (`chakra migrate verify` shows the same) and rebuild",
        .0.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n")
    )]
    Files(Vec<FormatError>),
    /// The files do not form a valid graph.
    #[error(
        "the embedded migration files do not form a valid graph:\n{}\nFix them (`chakra migrate verify` shows the same) and rebuild",
        .0.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n")
    )]
    Graph(Vec<GraphError>),
    /// The files disagree with the embedded `chakra.sum`.
    #[error(
        "the embedded migration files disagree with the embedded chakra.sum:\n{}\nA file was added, removed or \
         edited without `migrate make`: restore it, or record an intended change with `chakra migrate verify --update-sum`, then rebuild",
        .0.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n")
    )]
    Sum(Vec<SumProblem>),
}

/// What can go wrong when migrating from application code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The embedded files cannot be used.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The database, the history or a migration failed (as with `chakra migrate apply`).
    #[error(transparent)]
    Executor(#[from] ExecutorError),
    /// The plan drops data and [`Options::protected`] is set.
    #[error(
        "this database is protected (`Options::protected`) and the plan drops data:\n{}\nNothing was run. \
         Set `allow_data_loss` once you have checked that this is intended",
        .0.iter().map(|l| format!("  - {l}")).collect::<Vec<_>>().join("\n")
    )]
    DataLoss(Vec<String>),
}

/// How a [`Migrator`] runs: the executor's settings (history table, `lock_timeout`,
/// `lock_retries`) and the data-loss guard.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The history table, lock timeout and retries; as `chakra.toml`'s `[migrations]`.
    pub executor: ExecutorConfig,
    /// Refuse plans that drop data (a table, a column, a narrowing change) unless
    /// `allow_data_loss` is set: `[migrations] protected = true` of `chakra.toml`.
    pub protected: bool,
    /// Run such plans on a protected database anyway (`--allow-data-loss`).
    pub allow_data_loss: bool,
}

/// Where a migration stands on a database, as `chakra migrate status` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Applied.
    Applied,
    /// Not applied.
    Pending,
    /// Failed part-way (MySQL/MariaDB, or a migration with `atomic = false`); the next apply
    /// resumes it.
    Failed,
    /// Interrupted while being applied.
    Applying,
    /// Interrupted while being rolled back.
    RollingBack,
}

/// One migration of [`Migrator::status`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    /// The migration.
    pub key: MigrationKey,
    /// Where it stands.
    pub state: State,
    /// When it was applied (RFC 3339), for a recorded migration.
    pub applied_at: Option<String>,
    /// Operations done, for a migration left part-way.
    pub progress: i64,
}

/// What [`Migrator::verify`] found: applied files that changed, disappeared or were renamed,
/// and rows of the history or its audit log changed outside Chakra. Empty when all is well.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verification {
    /// Applied migrations whose embedded file differs from what was applied, or is missing.
    pub files: Vec<String>,
    /// Tampering found in the history and its audit log.
    pub history: Vec<HistoryProblem>,
}

impl Verification {
    /// Nothing found.
    pub fn is_ok(&self) -> bool {
        self.files.is_empty() && self.history.is_empty()
    }
}

/// Migrations compiled into the binary; see the [module documentation](self).
pub struct Migrator {
    files: &'static [EmbeddedFile],
    sum: Option<&'static str>,
    graph: OnceLock<Result<Graph, LoadError>>,
}

impl Migrator {
    /// The migrator of `files` and the text of their `chakra.sum` (`None` when there is none,
    /// which is refused if there are files). Written by
    /// [`embed_migrations!`](crate::embed_migrations); a `const fn`, so the migrator can be a
    /// `static`.
    pub const fn new(files: &'static [EmbeddedFile], sum: Option<&'static str>) -> Migrator {
        Migrator {
            files,
            sum,
            graph: OnceLock::new(),
        }
    }

    /// The embedded files.
    pub fn files(&self) -> &'static [EmbeddedFile] {
        self.files
    }

    /// The migration graph of the embedded files, parsed and checked on first use.
    pub fn graph(&self) -> Result<&Graph, LoadError> {
        self.graph
            .get_or_init(|| self.load())
            .as_ref()
            .map_err(Clone::clone)
    }

    fn load(&self) -> Result<Graph, LoadError> {
        let loaded =
            load_embedded(self.files.iter().map(|f| (f.path, f.text))).map_err(|e| match e {
                ProjectError::Invalid(errors) => LoadError::Files(errors),
                // Only reading files from disk fails otherwise.
                other => LoadError::Files(vec![FormatError {
                    path: "migrations".into(),
                    location: None,
                    message: other.to_string(),
                    snippet: None,
                }]),
            })?;
        let problems = sum::check_text(self.sum, &sum::entries(&loaded));
        if !problems.is_empty() {
            return Err(LoadError::Sum(problems));
        }
        Graph::new(loaded).map_err(LoadError::Graph)
    }

    /// Applies every pending migration to `db` (a URL or a sqlx pool) with the default
    /// [`Options`], and returns those it applied (none when another instance of the
    /// application did them first).
    pub async fn apply(&self, db: impl Connect) -> Result<Vec<MigrationKey>, Error> {
        self.apply_with(db, None, &Options::default()).await
    }

    /// Applies what `target` (`ID` or `app/ID`) needs, itself included.
    ///
    /// # Examples
    ///
    /// ```
    /// use chakra::migrator::{Migrator, State};
    ///
    /// static MIGRATOR: Migrator = chakra::embed_migrations!("../examples/blog/migrations");
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let url = format!("sqlite://{}", dir.path().join("blog.db").display());
    /// let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    ///
    /// let applied = runtime.block_on(MIGRATOR.apply_to(&url, "0002_add_post_status"))?;
    /// assert_eq!(applied.len(), 2);
    /// let states: Vec<State> = runtime.block_on(MIGRATOR.status(&url))?.iter().map(|s| s.state).collect();
    /// assert_eq!(states, [State::Applied, State::Applied, State::Pending]);
    /// # Ok(()) }
    /// ```
    pub async fn apply_to(
        &self,
        db: impl Connect,
        target: &str,
    ) -> Result<Vec<MigrationKey>, Error> {
        self.apply_with(db, Some(target), &Options::default()).await
    }

    /// [`apply`](Self::apply) or [`apply_to`](Self::apply_to) with `options`.
    pub async fn apply_with(
        &self,
        db: impl Connect,
        target: Option<&str>,
        options: &Options,
    ) -> Result<Vec<MigrationKey>, Error> {
        let graph = self.graph()?;
        let target = target.map(|t| MigrationKey::parse(t, DEFAULT_APP));
        let mut exec = db.connect(options.executor.clone()).await?;
        let result = async {
            let plan = exec.plan_apply(graph, target.as_ref()).await?;
            run(&mut exec, &plan, Direction::Forward, options).await
        }
        .await;
        finish(exec, result).await
    }

    /// Rolls back everything applied after `target` (`ID` or `app/ID`, which stays applied),
    /// or everything (`zero`, or `app/zero` for one app), and returns what it rolled back.
    pub async fn rollback_to(
        &self,
        db: impl Connect,
        target: &str,
    ) -> Result<Vec<MigrationKey>, Error> {
        self.rollback_with(
            db,
            &RollbackTarget::parse_to(target, DEFAULT_APP),
            &Options::default(),
        )
        .await
    }

    /// Rolls back to `target` with `options`.
    pub async fn rollback_with(
        &self,
        db: impl Connect,
        target: &RollbackTarget,
        options: &Options,
    ) -> Result<Vec<MigrationKey>, Error> {
        let graph = self.graph()?;
        let mut exec = db.connect(options.executor.clone()).await?;
        let result = async {
            let plan = exec.plan_rollback(graph, target).await?;
            run(&mut exec, &plan, Direction::Backward, options).await
        }
        .await;
        finish(exec, result).await
    }

    /// Every embedded migration, in the order they apply, and where it stands on `db`.
    pub async fn status(&self, db: impl Connect) -> Result<Vec<MigrationStatus>, Error> {
        let graph = self.graph()?;
        let mut exec = db.connect(ExecutorConfig::default()).await?;
        let history = exec.history().await;
        exec.close().await?;
        let history = history?;
        let (resolved, applied) = resolve_history(graph, &history)
            .map_err(|errors| Error::Load(LoadError::Graph(errors)))?;
        Ok(resolved
            .order()
            .iter()
            .map(|key| {
                let row: Option<&HistoryRow> = history.iter().find(|r| &r.key == key);
                let state = match row.map(|r| r.status) {
                    Some(RowStatus::Applied) => State::Applied,
                    Some(RowStatus::Failed) => State::Failed,
                    Some(RowStatus::Applying) => State::Applying,
                    Some(RowStatus::RollingBack) => State::RollingBack,
                    // A squash applied through the migrations it replaces.
                    None if applied.contains(key) => State::Applied,
                    None => State::Pending,
                };
                MigrationStatus {
                    key: key.clone(),
                    state,
                    applied_at: row.map(|r| r.applied_at.clone()),
                    progress: row.map_or(0, |r| r.progress),
                }
            })
            .collect())
    }

    /// Checks the history of `db` against the embedded files and its audit log, as
    /// `chakra migrate verify` does with a database: nothing is changed.
    pub async fn verify(&self, db: impl Connect) -> Result<Verification, Error> {
        let graph = self.graph()?;
        let mut exec = db.connect(ExecutorConfig::default()).await?;
        let report = async {
            let history = exec.history().await?;
            let files = file_problems(graph, &history)
                .iter()
                .map(ToString::to_string)
                .collect();
            let history = exec.verify_history().await?.problems;
            Ok::<_, ExecutorError>(Verification { files, history })
        }
        .await;
        exec.close().await?;
        Ok(report?)
    }
}

/// Refuses a plan that drops data on a protected database, then runs it and returns the
/// migrations done.
async fn run(
    exec: &mut Executor,
    plan: &[MigrationSql],
    direction: Direction,
    options: &Options,
) -> Result<Vec<MigrationKey>, Error> {
    let losses: Vec<String> = plan
        .iter()
        .flat_map(|m| m.data_loss.iter().map(move |l| format!("{}: {l}", m.key)))
        .collect();
    if options.protected && !options.allow_data_loss && !losses.is_empty() {
        return Err(Error::DataLoss(losses));
    }
    let mut done = Vec::new();
    exec.run(plan, direction, false, &mut |e| {
        if let Event::Finished { key, .. } = e {
            done.push(key);
        }
    })
    .await?;
    Ok(done)
}

/// Closes `exec`, keeping the run's error if there was one.
async fn finish<T>(exec: Executor, result: Result<T, Error>) -> Result<T, Error> {
    let closed = exec.close().await;
    let value = result?;
    closed?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    const INITIAL: &str = r#"[migration]
id = "0001_initial"
app = "default"

[[operations]]
type = "CreateModel"
model = "User"
table = "users"

[[operations.fields]]
name = "id"
type = "BigInteger"
primary_key = true
auto_increment = true
"#;

    const FILES: &[EmbeddedFile] = &[EmbeddedFile {
        path: "0001_initial.toml",
        text: INITIAL,
    }];

    fn sum_of(files: &[EmbeddedFile]) -> String {
        let loaded = load_embedded(files.iter().map(|f| (f.path, f.text))).expect("valid");
        sum::render(&sum::entries(&loaded))
    }

    #[test]
    fn the_files_must_match_their_sum() {
        let sum: &'static str = Box::leak(sum_of(FILES).into_boxed_str());
        assert_eq!(
            Migrator::new(FILES, Some(sum))
                .graph()
                .expect("valid")
                .len(),
            1
        );

        let err = Migrator::new(FILES, None).graph().unwrap_err();
        assert!(
            matches!(&err, LoadError::Sum(p) if p == &[SumProblem::Missing]),
            "{err}"
        );

        const EDITED: &[EmbeddedFile] = &[EmbeddedFile {
            path: "0001_initial.toml",
            text: r#"[migration]
id = "0001_initial"
app = "default"
"#,
        }];
        let err = Migrator::new(EDITED, Some(sum)).graph().unwrap_err();
        assert!(
            err.to_string()
                .contains("0001_initial.toml was changed since chakra.sum was written")
                && err.to_string().contains("migrate verify --update-sum"),
            "{err}"
        );
    }

    #[test]
    fn invalid_files_and_graphs_are_reported_by_file() {
        const BROKEN: &[EmbeddedFile] = &[EmbeddedFile {
            path: "blog/0001_initial.toml",
            text: "[migration]\nid = \"0001_initial\"\napp = \"default\"\n",
        }];
        let err = Migrator::new(BROKEN, None).graph().unwrap_err().to_string();
        assert!(
            err.contains("blog/0001_initial.toml") && err.contains("folder of app `blog`"),
            "{err}"
        );

        const MISSING_DEPENDENCY: &[EmbeddedFile] = &[EmbeddedFile {
            path: "0002_x.toml",
            text: "[migration]\nid = \"0002_x\"\napp = \"default\"\ndependencies = [\"0001_gone\"]\n",
        }];
        let sum: &'static str = Box::leak(sum_of(MISSING_DEPENDENCY).into_boxed_str());
        let err = Migrator::new(MISSING_DEPENDENCY, Some(sum))
            .graph()
            .unwrap_err();
        assert!(matches!(err, LoadError::Graph(_)), "{err}");
        assert!(err.to_string().contains("0001_gone"), "{err}");
    }
}
