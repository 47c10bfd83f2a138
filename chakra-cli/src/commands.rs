//! Command handlers. Each one loads what it needs, calls into `chakra`, and prints.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use std::io::IsTerminal;

use chakra::autodetect::{NoInput, Questioner};
use chakra::dialect::DialectKind;
use chakra::executor::{Event, Executor, ExecutorConfig, HistoryRow, RowStatus, file_problems};
use chakra::format::DEFAULT_APP;
use chakra::graph::{Graph, MigrationKey};
use chakra::make::{MakeOptions, MakeOutcome, Paths, load_graph};
use chakra::plan::{Direction, MigrationSql, RollbackTarget, migration_sql};
use chakra::state::ProjectState;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;

use crate::Mode;
use crate::cli::{
    ApplyArgs, Cli, Command, InitArgs, MakeArgs, MergeArgs, Migrate, RollbackArgs, RunArgs,
    SqlArgs, VerifyArgs,
};
use crate::config::{CONFIG_FILE, Config, starter};
use crate::output::{Output, Style};

pub(crate) fn dispatch(mode: Mode, cli: &Cli, out: &Output) -> Result<ExitCode> {
    match &cli.command {
        Command::Init(args) => init(args, out),
        Command::Migrate(m) => {
            let cfg = Config::load(
                cli.global.config.as_deref(),
                cli.global.database_url.as_deref(),
            )?;
            match m {
                Migrate::Make(args) => match mode {
                    Mode::Manage => make(&cfg, args, out, cli.global.no_input),
                    Mode::Standalone => delegate_make(&cfg),
                },
                Migrate::Apply(args) => block_on(apply(&cfg, args, out)),
                Migrate::Rollback(args) => block_on(rollback(&cfg, args, out)),
                Migrate::Status => block_on(status(&cfg, out)),
                Migrate::Sql(args) => sql(&cfg, args, out),
                Migrate::Verify(args) => block_on(verify(&cfg, args, out)),
                Migrate::Lint(args) => block_on(lint(&cfg, args, out)),
                Migrate::Merge(args) => merge(&cfg, args, out),
                Migrate::Squash(args) => squash(&cfg, args, out),
                Migrate::Repair(args) => block_on(crate::audit::repair(&cfg, args, out)),
                Migrate::History(args) => block_on(crate::audit::history(&cfg, args, out)),
                Migrate::Drift => block_on(drift(&cfg, out)),
            }
        }
    }
}

fn block_on<F: std::future::Future<Output = Result<ExitCode>>>(f: F) -> Result<ExitCode> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(f)
}

fn init(args: &InitArgs, out: &Output) -> Result<ExitCode> {
    let cwd = std::env::current_dir().context("cannot read the current folder")?;
    let file = cwd.join(CONFIG_FILE);
    if file.exists() {
        bail!("`{}` already exists; edit it instead", file.display());
    }
    std::fs::write(&file, starter(&args.url))
        .with_context(|| format!("cannot write `{}`", file.display()))?;
    let migrations = cwd.join("migrations");
    std::fs::create_dir_all(&migrations)
        .with_context(|| format!("cannot create `{}`", migrations.display()))?;
    out.line(&format!(
        "{} Wrote {CONFIG_FILE} and migrations/",
        out.paint(Style::Green, "✓")
    ));
    out.line("Next: add a manage binary that calls chakra_cli::main(), then run `migrate make`.");
    out.json(&json!({ "ok": true, "config": file, "migrations": migrations }));
    Ok(ExitCode::SUCCESS)
}

fn paths(cfg: &Config) -> Paths {
    Paths {
        migrations: cfg.migrations_path(),
        snapshot: cfg.snapshot_path(),
    }
}

fn rel<'a>(cfg: &Config, p: &'a Path) -> std::borrow::Cow<'a, str> {
    p.strip_prefix(&cfg.root).unwrap_or(p).to_string_lossy()
}

/// `created_at` of new migrations: `SOURCE_DATE_EPOCH` when set (reproducible output),
/// otherwise now.
fn now() -> Result<chrono::DateTime<chrono::Utc>> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) => {
            let secs: i64 = v
                .trim()
                .parse()
                .map_err(|_| anyhow!("SOURCE_DATE_EPOCH=`{v}` is not a number of seconds"))?;
            chrono::DateTime::from_timestamp(secs, 0)
                .ok_or_else(|| anyhow!("SOURCE_DATE_EPOCH=`{v}` is out of range"))
        }
        Err(_) => Ok(chrono::Utc::now()),
    }
}

/// Asks rename questions on the terminal (`Was User.name renamed to User.full_name? [y/N]`).
struct Terminal;

impl Terminal {
    fn confirm(prompt: String) -> bool {
        dialoguer::Confirm::new()
            .with_prompt(prompt)
            .default(false)
            .interact()
            .unwrap_or(false)
    }
}

impl Questioner for Terminal {
    fn rename_model(&mut self, _app: &str, old: &str, new: &str) -> bool {
        Terminal::confirm(format!("Was the model {old} renamed to {new}?"))
    }

    fn rename_field(&mut self, _app: &str, model: &str, old: &str, new: &str) -> bool {
        Terminal::confirm(format!("Was {model}.{old} renamed to {model}.{new}?"))
    }

    fn one_off_default(
        &mut self,
        _app: &str,
        model: &str,
        table: &str,
        field: &chakra::state::FieldState,
        becomes_not_null: bool,
    ) -> Option<chakra::state::DefaultValue> {
        let why = if becomes_not_null {
            format!(
                "{model}.{} becomes NOT NULL without a default; rows of `{table}` holding NULL need a value",
                field.name
            )
        } else {
            format!(
                "{model}.{} is new, NOT NULL and has no default; existing rows of `{table}` need a value",
                field.name
            )
        };
        eprintln!("{why}.");
        eprintln!(
            "Give a one-off value for them as a literal ('text', 42, 1.5, true); it fills those rows only and is not kept as a default. Leave empty to stop."
        );
        loop {
            let answer: String = dialoguer::Input::new()
                .with_prompt(format!(
                    "Value for {model}.{} ({})",
                    field.name, field.field_type
                ))
                .allow_empty(true)
                .interact_text()
                .ok()?;
            if answer.trim().is_empty() {
                return None;
            }
            match parse_literal(&answer, field) {
                Ok(v) => return Some(v),
                Err(e) => eprintln!("{e}; try again, or leave empty to stop"),
            }
        }
    }
}

/// A one-off value typed on the terminal, checked against the field's type.
fn parse_literal(
    text: &str,
    field: &chakra::state::FieldState,
) -> Result<chakra::state::DefaultValue> {
    use chakra::state::{DefaultValue, FieldType as T};
    let value: DefaultValue = toml::from_str::<std::collections::BTreeMap<String, DefaultValue>>(
        &format!("v = {}", text.trim()),
    )
    .ok()
    .and_then(|mut m| m.remove("v"))
    .ok_or_else(|| {
        anyhow!(
            "`{}` is not a literal: quote text ('abc'), write numbers and true/false as they are",
            text.trim()
        )
    })?;
    let fits = match (field.field_type, &value) {
        (T::SmallInteger | T::Integer | T::BigInteger, DefaultValue::Int(_)) => true,
        (T::Float | T::Double | T::Decimal, DefaultValue::Int(_) | DefaultValue::Float(_)) => true,
        (T::Boolean, DefaultValue::Bool(_)) => true,
        (
            T::Boolean
            | T::SmallInteger
            | T::Integer
            | T::BigInteger
            | T::Float
            | T::Double
            | T::Decimal,
            _,
        ) => false,
        (_, DefaultValue::Str(_)) => true,
        _ => false,
    };
    if !fits {
        bail!("{value} does not fit a {} column", field.field_type);
    }
    Ok(value)
}

fn make(cfg: &Config, args: &MakeArgs, out: &Output, no_input: bool) -> Result<ExitCode> {
    let models = chakra::model::registered_models();
    if models.is_empty() && !args.empty {
        const HOW: &str = "make sure the manage binary depends on the crate that declares them \
                           and names it (`use myapp as _;`)";
        let existing = graph(cfg)?.final_state()?.models.len();
        if existing > 0 {
            // Diffing against nothing would write a migration deleting every table.
            bail!(
                "no models are linked into this binary, but the migrations define {existing}; \
                 making migrations now would delete them all. {HOW}"
            );
        }
        out.warn(&format!("no models are linked into this binary: {HOW}"));
    }
    let state = ProjectState::from_models(&models).map_err(|errors| {
        anyhow!(
            "the models have problems:\n{}",
            errors
                .iter()
                .map(|e| format!("  - {e}"))
                .collect::<Vec<_>>()
                .join("\n")
        )
    })?;
    let hints = chakra::autodetect::Hints::from_models(&models);
    let interactive =
        !no_input && std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let mut no_input_answers = NoInput::default();
    let mut terminal = Terminal;
    let questioner: &mut dyn Questioner = if interactive {
        &mut terminal
    } else {
        &mut no_input_answers
    };
    let opts = MakeOptions {
        name: args.name.clone(),
        empty: args.empty,
        app: args.app.clone(),
        dry_run: args.check || args.dry_run,
        now: Some(now()?),
    };
    let result = chakra::make::make_with(&paths(cfg), &state, &hints, questioner, &opts);
    // Said even when make fails: a declined rename is often why (a new NOT NULL field).
    for declined in &no_input_answers.declined {
        out.warn(&format!(
            "{declined} (no rename was assumed: without a terminal, or with --no-input, the answer is no)"
        ));
    }
    let outcome = result?;
    print_make(cfg, args, &outcome, out);
    if args.check && !outcome.migrations.is_empty() {
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn print_make(cfg: &Config, args: &MakeArgs, outcome: &MakeOutcome, out: &Output) {
    let lint = lint_made(cfg, outcome, out);
    if outcome.snapshot_created && !args.check && !args.dry_run {
        out.line(&format!(
            "Wrote {} from the migration files (it was missing).",
            chakra::snapshot::SNAPSHOT_PATH
        ));
    }
    if outcome.sum_written && outcome.migrations.is_empty() && !args.check && !args.dry_run {
        out.line(&format!(
            "Wrote {} (it was missing).",
            chakra::sum::SUM_FILE
        ));
    }
    if outcome.migrations.is_empty() {
        out.line("No changes detected");
    }
    let mut current_app = None;
    for m in &outcome.migrations {
        let app = &m.migration.migration.app;
        if current_app != Some(app) {
            let verb = if args.check || args.dry_run {
                "Would write migrations"
            } else {
                "Migrations"
            };
            out.line(&format!("{verb} for {}:", out.paint(Style::Bold, app)));
            current_app = Some(app);
        }
        out.line(&format!("  {}", rel(cfg, &m.path)));
        for op in &m.migration.operations {
            out.line(&format!("    {op}"));
        }
        if !m.migration.migration.atomic {
            out.line(
                "    not atomic (atomic = false): online operations run outside a transaction;                  on PostgreSQL each operation commits on its own and an interrupted run resumes",
            );
        }
        for (op, why) in &m.data_loss {
            out.line(&out.paint(
                Style::Yellow,
                &format!("    ! data loss: {}: {why}", op.summary()),
            ));
        }
        for f in lint.iter().filter(|f| is_made(f, m)) {
            out.line(&format!(
                "    lint: {}",
                out.paint(severity_style(f.severity()), &f.one_line())
            ));
        }
        if args.dry_run {
            out.always(&m.migration.to_toml());
        }
    }
    if !lint.is_empty() {
        out.line(
            "Run `migrate lint ID` for why each lint finding matters and what to do instead (docs/lint.md).",
        );
    }
    if args.check && !outcome.migrations.is_empty() {
        out.line("Changes detected: run `migrate make` and commit the new migrations.");
    }
    out.json(&json!({
        "ok": true,
        "changes": !outcome.migrations.is_empty(),
        "written": !(args.check || args.dry_run),
        "migrations": outcome.migrations.iter().map(|m| json!({
            "app": m.migration.migration.app,
            "id": m.migration.migration.id,
            "path": rel(cfg, &m.path),
            "dependencies": m.migration.migration.dependencies,
            "operations": m.migration.operations.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "data_loss": m.data_loss.iter().map(|(_, w)| w.clone()).collect::<Vec<_>>(),
            "lint": lint.iter().filter(|f| is_made(f, m)).map(chakra::lint::Finding::to_json).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    }));
}

/// The installed `chakra` binary has no models: hand `make` to the project's manage binary.
fn delegate_make(cfg: &Config) -> Result<ExitCode> {
    let manage = cfg.manage.as_deref().ok_or_else(|| {
        anyhow!(
            "`migrate make` needs your models, which live in your project's manage binary. Either run it there \
             (`cargo run --bin manage -- migrate make`) or name the binary in chakra.toml:\n\n[project]\nmanage = \"manage\""
        )
    })?;
    let status =
        std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
            .args(["run", "--quiet", "--bin", manage, "--"])
            .args(std::env::args_os().skip(1))
            .current_dir(&cfg.root)
            .status()
            .context(
                "cannot run `cargo` to build the manage binary; is the Rust toolchain installed?",
            )?;
    // The manage binary's own exit codes (0, 1, 2) pass through; anything else is cargo
    // failing to build or run it, whose message is above.
    match status.code() {
        Some(c @ 0..=2) => Ok(ExitCode::from(u8::try_from(c).expect("0 to 2"))),
        code => bail!(
            "could not build or run the manage binary `{manage}` ({}; cargo's message is above). \
             Check that `[project] manage` in chakra.toml names a binary of the project in {}, and that it builds \
             (`cargo build --bin {manage}`)",
            code.map_or_else(
                || "killed by a signal".to_owned(),
                |c| format!("cargo exited with {c}")
            ),
            cfg.root.display()
        ),
    }
}

fn executor_config(cfg: &Config) -> ExecutorConfig {
    ExecutorConfig {
        table: cfg.table_name.clone(),
        lock_timeout: cfg.lock_timeout,
        lock_retries: cfg.lock_retries,
    }
}

/// The file a `sqlite:` URL names (not `:memory:`).
fn sqlite_file(url: &str) -> Option<&Path> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or("");
    (!path.is_empty() && path != ":memory:").then(|| Path::new(path))
}

/// Connects for a command. Read-only commands on a SQLite file that does not exist yet use an
/// empty in-memory database rather than creating the file.
pub(crate) async fn connect(cfg: &Config, read_only: bool) -> Result<Executor> {
    let mut url = cfg.database_url()?;
    if let Some(file) = sqlite_file(&url).filter(|f| !f.exists()) {
        if read_only {
            url = "sqlite::memory:".to_owned();
        } else if let Some(dir) = file.parent().filter(|d| !d.is_dir()) {
            bail!(
                "cannot create the SQLite database `{}`: the folder `{}` does not exist; create it, or fix the \
                 database URL (it comes from {})",
                file.display(),
                dir.display(),
                cfg.url_origin()
            );
        }
    }
    Ok(Executor::connect(&url, executor_config(cfg)).await?)
}

pub(crate) fn graph(cfg: &Config) -> Result<Graph> {
    Ok(load_graph(&cfg.migrations_path())?)
}

/// The migration files and a connection: the files are parsed on threads of their own while
/// the connection is made and the database opened (in a large project the two take about as
/// long). A broken file is still the error reported first. A SQLite file that does not exist
/// yet is only created once the files are known to be good, and a missing URL is reported
/// after them, as before.
pub(crate) async fn graph_and_connect(cfg: &Config, read_only: bool) -> Result<(Graph, Executor)> {
    // Without a usable URL, or for a SQLite file to create, one after the other.
    let sequential = cfg
        .database_url()
        .map_or(true, |url| sqlite_file(&url).is_some_and(|f| !f.exists()));
    if sequential {
        let graph = graph(cfg)?;
        return Ok((graph, connect(cfg, read_only).await?));
    }
    let dir = cfg.migrations_path();
    let loading = std::thread::spawn(move || load_graph(&dir));
    let exec = connect(cfg, read_only).await;
    let graph = loading
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
    Ok((graph, exec?))
}

pub(crate) fn parse_key(reference: &str) -> MigrationKey {
    MigrationKey::parse(reference, DEFAULT_APP)
}

/// Lists what a plan drops and refuses it on a protected database without
/// `--allow-data-loss`.
fn check_data_loss(cfg: &Config, plan: &[MigrationSql], allow: bool, out: &Output) -> Result<()> {
    let losses: Vec<String> = plan
        .iter()
        .flat_map(|m| m.data_loss.iter().map(move |l| format!("{}: {l}", m.key)))
        .collect();
    if losses.is_empty() {
        return Ok(());
    }
    if cfg.protected && !allow {
        bail!(
            "this database is protected (`[migrations] protected = true`) and the plan drops data:\n{}\nNothing was run. \
             Re-run with --allow-data-loss once you have checked that this is intended",
            losses
                .iter()
                .map(|l| format!("  - {l}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    for l in &losses {
        out.line(&out.paint(Style::Yellow, &format!("! data loss: {l}")));
    }
    Ok(())
}

fn print_dry_run(
    dialect: DialectKind,
    table: &str,
    plan: &[MigrationSql],
    direction: Direction,
    out: &Output,
) {
    if plan.is_empty() {
        out.always(match direction {
            Direction::Forward => "-- no migrations to apply",
            Direction::Backward => "-- no migrations to roll back",
        });
    }
    let q = |s: &str| chakra::dialect::quote_str(dialect, s);
    let id = |s: &str| chakra::dialect::quote_ident(dialect, s);
    let t = id(table);
    let sqlite = dialect == DialectKind::Sqlite;
    for m in plan {
        // MySQL/MariaDB commit DDL at once, and a PostgreSQL migration with `atomic = false`
        // has online operations: each operation runs on its own, followed by the update of
        // the migration's progress (see docs/databases.md). On PostgreSQL each runs in a
        // transaction of its own, except online ones, whose statements commit one by one.
        let per_operation = match dialect {
            DialectKind::Mysql => true,
            DialectKind::Postgres => !m.atomic,
            DialectKind::Sqlite => false,
        };
        let step_transactions = per_operation && dialect == DialectKind::Postgres;
        let forward = direction == Direction::Forward;
        out.always(&format!(
            "-- {} ({})",
            m.key,
            if forward { "apply" } else { "rollback" }
        ));
        let row = format!(
            "{} = {} AND {} = {}",
            id("app"),
            q(&m.key.app),
            id("id"),
            q(&m.key.id)
        );
        if sqlite && m.rebuilds_table {
            out.always("PRAGMA foreign_keys = OFF;");
        }
        if per_operation {
            out.always(&if forward {
                format!("-- record {} as applying (progress 0) in {t}", m.key)
            } else {
                format!(
                    "UPDATE {t} SET {} = 'rolling_back', {} = 0 WHERE {row};",
                    id("status"),
                    id("progress")
                )
            });
        } else {
            out.always(if sqlite { "BEGIN IMMEDIATE;" } else { "BEGIN;" });
        }
        for (i, step) in m.steps.iter().enumerate() {
            out.always(&format!("-- {}", step.description));
            let in_transaction = step_transactions && !step.outside_transaction;
            if in_transaction {
                out.always("BEGIN;");
            }
            for s in &step.statements {
                out.always(&format!("{s};"));
            }
            if let Some(function) = &step.rust {
                out.always(&format!(
                    "-- calls the Rust function `{function}` (chakra::data_migration!)"
                ));
            }
            if per_operation {
                out.always(&format!(
                    "UPDATE {t} SET {} = {} WHERE {row};",
                    id("progress"),
                    i + 1
                ));
            }
            if in_transaction {
                out.always("COMMIT;");
            }
        }
        if sqlite && m.rebuilds_table {
            out.always("PRAGMA foreign_key_check;");
        }
        match direction {
            Direction::Forward => out.always(&format!(
                "-- record {} as applied in {t} (checksum {})",
                m.key, m.checksum
            )),
            Direction::Backward => {
                out.always(&format!("DELETE FROM {t} WHERE {row};"));
                // A squash: the rows of the migrations it replaces go too.
                for r in &m.replaces {
                    out.always(&format!(
                        "DELETE FROM {t} WHERE {} = {} AND {} = {};",
                        id("app"),
                        q(&r.app),
                        id("id"),
                        q(&r.id)
                    ));
                }
            }
        }
        if !per_operation {
            out.always("COMMIT;");
        }
        if sqlite && m.rebuilds_table {
            out.always("PRAGMA foreign_keys = ON;");
        }
        out.always("");
    }
    out.json(&json!({
        "ok": true,
        "dry_run": true,
        "migrations": plan.iter().map(|m| json!({
            "app": m.key.app,
            "id": m.key.id,
            "statements": m.steps.iter().flat_map(|s| s.statements.clone()).collect::<Vec<_>>(),
            "data_loss": m.data_loss,
        })).collect::<Vec<_>>(),
    }));
}

/// `3ms`, or `0.4ms` below ten milliseconds.
fn duration(d: std::time::Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.1}ms")
    } else {
        format!("{ms:.0}ms")
    }
}

/// `2026-11-22T01:52:09.362493Z` -> `2026-11-22 01:52:09 UTC`.
pub(crate) fn readable_time(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .format("%Y-%m-%d %H:%M:%S UTC")
                .to_string()
        })
        .unwrap_or_else(|_| rfc3339.to_owned())
}

/// Prints `→ 0001_initial... done (3ms)` lines as events arrive and collects them for JSON.
struct Progress<'a> {
    out: &'a Output,
    arrow: &'static str,
    done: Vec<serde_json::Value>,
    /// A `→ 0001_x... ` line waits for its `done` (or `failed`).
    open: bool,
    /// With `-v`: the plan, whose statements are printed as each migration starts.
    sql: Option<&'a [MigrationSql]>,
    /// On a terminal, for several migrations: a progress bar on stderr under the lines.
    bar: Option<ProgressBar>,
    /// The migration running, for the bar and for a failure.
    current: Option<MigrationKey>,
}

impl<'a> Progress<'a> {
    fn new(out: &'a Output, arrow: &'static str, plan: &'a [MigrationSql]) -> Self {
        let bar = (out.progress_bar() && plan.len() > 1).then(|| {
            let bar = ProgressBar::with_draw_target(
                Some(plan.len() as u64),
                ProgressDrawTarget::stderr(),
            );
            bar.set_style(
                ProgressStyle::with_template("{bar:30} {pos}/{len} {msg} ({elapsed})")
                    .expect("a valid template"),
            );
            bar
        });
        Progress {
            out,
            arrow,
            done: Vec::new(),
            open: false,
            sql: (out.verbose > 0).then_some(plan),
            bar,
            current: None,
        }
    }

    /// Prints a whole line, above the bar when there is one.
    fn line(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| self.out.line(text)),
            None => self.out.line(text),
        }
    }

    /// Ends the output of a migration that failed.
    fn failed(&mut self) {
        let failed = self.out.paint(Style::Red, "failed");
        match (self.bar.take(), &self.current) {
            (Some(bar), Some(key)) if self.open => {
                bar.finish_and_clear();
                self.out.line(&format!("{} {key}... {failed}", self.arrow));
            }
            (Some(bar), _) => bar.finish_and_clear(),
            (None, _) if self.open => self.out.line(&failed),
            (None, _) => {}
        }
    }

    /// Removes the bar once the run is over.
    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }

    /// Reports one event. With a bar, every line is whole and the running migration shows in
    /// the bar; without one, `→ 0001_x... ` waits on its line for `done`.
    fn event(&mut self, e: Event) {
        match e {
            Event::Started { key, .. } => {
                if let Some(bar) = &self.bar {
                    bar.set_message(key.to_string());
                } else {
                    self.started(&key);
                }
                self.current = Some(key);
                self.open = true;
            }
            Event::Finished {
                key, elapsed, fake, ..
            } => {
                self.open = false;
                let what = self
                    .out
                    .paint(Style::Green, if fake { "faked" } else { "done" });
                let done = format!("{what} ({})", duration(elapsed));
                match &self.bar {
                    Some(bar) => {
                        self.line(&format!("{} {key}... {done}", self.arrow));
                        bar.inc(1);
                    }
                    None => self.out.line(&done),
                }
                self.done.push(json!({ "app": key.app, "id": key.id, "elapsed_ms": elapsed.as_millis(), "fake": fake }));
            }
            Event::Retrying {
                attempt, of, pause, ..
            } => {
                self.open = false;
                self.line(&self.out.paint(
                    Style::Yellow,
                    &format!(
                        "a table is locked by another session (waited `lock_timeout`); retry {attempt} of {of} in {:.1}s",
                        pause.as_secs_f64()
                    ),
                ));
            }
            Event::Skipped { key } => {
                self.line(&format!(
                    "{} {key}... {}",
                    self.arrow,
                    self.out
                        .paint(Style::Dim, "already done by another process")
                ));
                if let Some(bar) = &self.bar {
                    bar.inc(1);
                }
            }
        }
    }

    /// The start of a migration without a bar: `→ 0001_x... ` (with `-v`, its statements
    /// first).
    fn started(&self, key: &MigrationKey) {
        match self
            .sql
            .and_then(|plan| plan.iter().find(|m| m.key == *key))
        {
            Some(m) => {
                self.out.line(&format!("{} {key}...", self.arrow));
                for step in &m.steps {
                    self.out.line(
                        &self
                            .out
                            .paint(Style::Dim, &format!("    -- {}", step.description)),
                    );
                    for stmt in &step.statements {
                        self.out.line(&format!("    {stmt};"));
                    }
                }
                self.out.partial("  ");
            }
            None => self.out.partial(&format!("{} {key}... ", self.arrow)),
        }
    }
}

async fn apply(cfg: &Config, args: &ApplyArgs, out: &Output) -> Result<ExitCode> {
    let (graph, mut exec) = graph_and_connect(cfg, args.run.dry_run).await?;
    let target = args.target.as_deref().map(parse_key);
    let plan = exec.plan_apply(&graph, target.as_ref()).await?;
    execute(cfg, exec, &plan, Direction::Forward, &args.run, out).await
}

async fn rollback(cfg: &Config, args: &RollbackArgs, out: &Output) -> Result<ExitCode> {
    let (graph, mut exec) = graph_and_connect(cfg, args.run.dry_run).await?;
    let target = match (&args.to, args.count) {
        (Some(to), _) => RollbackTarget::parse_to(to, DEFAULT_APP),
        (None, Some(n)) => RollbackTarget::Count(n),
        (None, None) => RollbackTarget::Count(1),
    };
    let plan = exec.plan_rollback(&graph, &target).await?;
    execute(cfg, exec, &plan, Direction::Backward, &args.run, out).await
}

/// Prints, checks and runs a plan of `apply` or `rollback`.
async fn execute(
    cfg: &Config,
    mut exec: Executor,
    plan: &[MigrationSql],
    direction: Direction,
    run: &RunArgs,
    out: &Output,
) -> Result<ExitCode> {
    let (arrow, nothing, list, verb) = match direction {
        Direction::Forward => (
            "→",
            "No migrations to apply.",
            "applied",
            if run.fake { "Faked" } else { "Applied" },
        ),
        Direction::Backward => (
            "←",
            "No migrations to roll back.",
            "rolled_back",
            "Rolled back",
        ),
    };
    if run.dry_run {
        print_dry_run(exec.dialect(), &cfg.table_name, plan, direction, out);
        return Ok(ExitCode::SUCCESS);
    }
    if plan.is_empty() {
        out.line(nothing);
        out.json(&json!({ "ok": true, list: [] }));
        return Ok(ExitCode::SUCCESS);
    }
    if !run.fake {
        check_data_loss(cfg, plan, run.allow_data_loss, out)?;
    }
    let mut progress = Progress::new(out, arrow, plan);
    let result = exec
        .run(plan, direction, run.fake, &mut |e| progress.event(e))
        .await;
    if let Err(e) = result {
        progress.failed();
        return Err(e.into());
    }
    progress.finish();
    let n = progress.done.len();
    out.line(&format!(
        "{} {verb} {n} migration{}",
        out.paint(Style::Green, "✓"),
        if n == 1 { "" } else { "s" }
    ));
    out.json(&json!({ "ok": true, list: progress.done }));
    Ok(ExitCode::SUCCESS)
}

async fn status(cfg: &Config, out: &Output) -> Result<ExitCode> {
    let graph = graph(cfg)?;
    let mut exec = connect(cfg, true).await?;
    let history = exec.history().await?;
    let problems = file_problems(&graph, &history);
    // Squashed migrations: the squash, or the migrations it replaces, as this database uses
    // them (docs/cli.md).
    let (graph, resolve_error) = match chakra::executor::resolve_history(&graph, &history) {
        Ok((resolved, _)) => (resolved, None),
        Err(errors) => (
            graph,
            Some(
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
        ),
    };
    let row_of = |k: &MigrationKey| {
        history.iter().find(|r| r.key == *k).or_else(|| {
            // A squash applied as the migrations it replaces: the newest of their rows.
            if !graph.applied_through_replaced().contains(k) {
                return None;
            }
            let replaced = graph.replaced_closure(k);
            history.iter().rev().find(|r| replaced.contains(&r.key))
        })
    };
    let problem_of = |k: &MigrationKey| {
        problems.iter().find(|p| match p {
            chakra::executor::FileProblem::Missing { key, .. }
            | chakra::executor::FileProblem::Changed { key, .. } => key == k,
        })
    };
    let mut entries: Vec<(MigrationKey, Option<&HistoryRow>)> = graph
        .order()
        .iter()
        .map(|k| (k.clone(), row_of(k)))
        .collect();
    for r in &history {
        // Rows of replaced migrations are shown as their squash.
        if graph.get(&r.key).is_none() && graph.replaced_by(&r.key).is_none() {
            entries.push((r.key.clone(), Some(r)));
        }
    }
    let width = entries
        .iter()
        .map(|(k, _)| k.to_string().len())
        .max()
        .unwrap_or(0);
    let mut json_rows = Vec::new();
    let (mut applied, mut pending, mut unfinished) = (0, 0, 0);
    for (key, row) in &entries {
        let status = match row.map(|r| r.status) {
            Some(RowStatus::Applied) => "Applied",
            Some(RowStatus::Failed) => "Failed",
            Some(RowStatus::Applying) => "Applying",
            Some(RowStatus::RollingBack) => "RollingBack",
            None => "Pending",
        };
        match status {
            "Applied" => applied += 1,
            "Pending" => pending += 1,
            _ => unfinished += 1,
        }
        let style = match status {
            "Applied" => Style::Green,
            "Pending" => Style::Yellow,
            _ => Style::Red,
        };
        let mut line = format!(
            "  {}  {key:width$}",
            out.paint(style, &format!("{status:8}"))
        );
        if let Some(r) = row {
            let total = graph.get(key).map(|m| m.migration.operations.len());
            match (r.status, total) {
                (RowStatus::Applied, _) | (_, None) => line.push_str(&format!(
                    "  {} ({}ms)",
                    readable_time(&r.applied_at),
                    r.execution_time_ms
                )),
                (RowStatus::RollingBack, Some(n)) => line.push_str(&format!(
                    "  {} of {n} operations undone, started {}",
                    r.progress,
                    readable_time(&r.applied_at)
                )),
                (_, Some(n)) => line.push_str(&format!(
                    "  stopped at operation {} of {n}, started {}",
                    r.progress + 1,
                    readable_time(&r.applied_at)
                )),
            }
            if let Some(e) = &r.error {
                line.push_str(&format!("\n      error: {e}"));
            }
        }
        let through = graph.applied_through_replaced().contains(key);
        let replaces = graph.replaces(key);
        if let (Some(first), Some(last)) = (replaces.first(), replaces.last()) {
            line.push_str(&format!(
                "\n      {}",
                out.paint(
                    Style::Dim,
                    &format!(
                        "squash of {} migrations ({first} to {last}){}",
                        replaces.len(),
                        if through {
                            ", recorded as those migrations"
                        } else {
                            ""
                        }
                    )
                )
            ));
        }
        let problem = problem_of(key);
        if let Some(p) = problem {
            line.push_str(&format!(
                "\n      {}",
                out.paint(Style::Red, &format!("! {p}"))
            ));
        }
        out.line(line.trim_end());
        json_rows.push(json!({
            "app": key.app,
            "id": key.id,
            "status": status.to_lowercase(),
            "applied_at": row.map(|r| r.applied_at.clone()),
            "checksum": row.filter(|_| !through).map(|r| r.checksum.clone()),
            "execution_time_ms": row.map(|r| r.execution_time_ms),
            "progress": row.map(|r| r.progress),
            "error": row.and_then(|r| r.error.clone()),
            "problem": problem.map(ToString::to_string),
            "replaces": replaces.iter().map(ToString::to_string).collect::<Vec<_>>(),
        }));
    }
    for s in graph.unused_squashes() {
        let replaces = graph.replaces(s);
        let done = replaces
            .iter()
            .filter(|k| history.iter().any(|r| r.key == **k))
            .count();
        out.line(&format!(
            "  {s} is not used here: this database applied {done} of the {} migrations it replaces, and finishes them instead",
            replaces.len()
        ));
    }
    if entries.is_empty() {
        out.line("No migrations yet: run `migrate make`.");
    } else {
        let unfinished = if unfinished > 0 {
            format!(", {unfinished} unfinished")
        } else {
            String::new()
        };
        out.line(&format!("{applied} applied, {pending} pending{unfinished}"));
    }
    let error = (!problems.is_empty())
        .then(|| {
            format!(
                "{} applied migration file(s) changed, renamed or deleted since they were applied; restore them from version control \
                 (apply refuses to run until then)",
                problems.len()
            )
        })
        .or(resolve_error);
    if let Some(e) = &error {
        out.error_line(e);
    }
    out.json(&json!({ "ok": error.is_none(), "error": error, "migrations": json_rows }));
    Ok(if error.is_none() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn merge(cfg: &Config, args: &MergeArgs, out: &Output) -> Result<ExitCode> {
    let opts = MakeOptions {
        dry_run: args.dry_run,
        now: Some(now()?),
        ..MakeOptions::default()
    };
    let merges = chakra::make::merge(&paths(cfg), args.app.as_deref(), &opts)?;
    if merges.is_empty() {
        out.line("Nothing to merge: every app has one latest migration.");
    }
    for m in &merges {
        let joined: Vec<String> = m.leaves.iter().map(ToString::to_string).collect();
        out.line(&format!(
            "{} {} {} ({})",
            out.paint(Style::Green, "✓"),
            if args.dry_run {
                "Would merge"
            } else {
                "Merged"
            },
            joined.join(" and "),
            m.app
        ));
        out.line(&format!("  {}", rel(cfg, &m.path)));
    }
    out.json(&json!({
        "ok": true,
        "written": !args.dry_run,
        "merges": merges.iter().map(|m| json!({
            "app": m.app,
            "id": m.migration.migration.id,
            "path": rel(cfg, &m.path),
            "leaves": m.leaves.iter().map(|l| l.id.clone()).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    }));
    Ok(ExitCode::SUCCESS)
}

/// What to do after squashing, in order.
fn squash_next_steps(rel_path: &str, squash: &str) -> Vec<String> {
    vec![
        format!(
            "Review and commit {rel_path} with chakra.sum. A new database applies the squash alone; one that applied \
             every replaced migration counts it as applied and runs nothing; one that applied only some of them \
             finishes those first."
        ),
        format!(
            "Keep the replaced files until every database has applied `{squash}` or all it replaces (`migrate status` \
             there shows the squash Applied). Then delete them, run `migrate verify --update-sum`, and commit."
        ),
        "Leave `replaces` in the squash for good: it is part of its checksum, and databases that applied the \
         replaced migrations know the squash only through it."
            .to_owned(),
    ]
}

fn squash(cfg: &Config, args: &crate::cli::SquashArgs, out: &Output) -> Result<ExitCode> {
    let (from, to) = match args.range.as_slice() {
        [to] => (None, to.as_str()),
        [from, to] => (Some(from.as_str()), to.as_str()),
        _ => unreachable!("clap takes one or two migrations"),
    };
    let opts = chakra::squash::SquashOptions {
        name: args.name.clone(),
        dry_run: args.dry_run,
        now: Some(now()?),
    };
    let s = chakra::squash::squash(&paths(cfg), &args.app, from, to, &opts)?;
    let path = rel(cfg, &s.path).into_owned();
    let key = s.key();
    let n = s.squashed.len();
    out.line(&format!(
        "{} {} {n} migrations of {} into {path}",
        out.paint(Style::Green, "✓"),
        if args.dry_run {
            "Would squash"
        } else {
            "Squashed"
        },
        out.paint(Style::Bold, &s.app),
    ));
    let ids: Vec<&str> = s.squashed.iter().map(|k| k.id.as_str()).collect();
    out.line(&format!("  replaces {}", ids.join(", ")));
    out.line(&format!(
        "  {} operations optimized to {}:",
        s.operations_before, s.operations_after
    ));
    for op in &s.migration.operations {
        out.line(&format!("    {op}"));
    }
    if !s.carried.is_empty() {
        out.line(&out.paint(
            Style::Yellow,
            &format!(
                "  ! {} RunSQL/RunRust operation(s) carried over:",
                s.carried.len()
            ),
        ));
        for c in &s.carried {
            out.line(&format!("    {} (from {})", c.operation, c.migration.id));
        }
        out.line(&format!(
            "    {}",
            chakra::squash::SquashOutcome::CARRIED_HINT
        ));
    }
    if args.dry_run {
        out.always(&s.migration.to_toml());
    }
    let steps = squash_next_steps(&path, &key.to_string());
    if !args.dry_run {
        out.line("Next:");
        for (i, step) in steps.iter().enumerate() {
            out.line(&format!("  {}. {step}", i + 1));
        }
    }
    out.json(&json!({
        "ok": true,
        "written": s.written,
        "app": s.app,
        "id": key.id,
        "path": path,
        "replaces": s.migration.migration.replaces,
        "dependencies": s.migration.migration.dependencies,
        "operations_before": s.operations_before,
        "operations_after": s.operations_after,
        "operations": s.migration.operations.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "carried": s.carried.iter().map(|c| json!({
            "migration": c.migration.id,
            "operation": c.operation.to_string(),
        })).collect::<Vec<_>>(),
        "next_steps": steps,
    }));
    Ok(ExitCode::SUCCESS)
}

/// One check of `migrate verify`: its name and the problems found.
struct Check {
    name: String,
    problems: Vec<String>,
    skipped: Option<String>,
    /// How to fix what this check finds.
    fix: &'static str,
}

/// `1 migration`, `2 migrations`.
fn count(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

async fn verify(cfg: &Config, args: &VerifyArgs, out: &Output) -> Result<ExitCode> {
    let graph = graph(cfg)?;
    let mut checks = vec![Check {
        name: format!(
            "{} form a valid graph",
            count(graph.files().count(), "migration file")
        ),
        problems: Vec::new(),
        skipped: None,
        fix: "",
    }];
    let migrations = cfg.migrations_path();
    // Every file, including migrations replaced by a squash.
    let files = chakra::sum::entries(graph.files());
    if args.update_sum {
        let written = chakra::sum::write(&migrations, &files)?;
        out.line(&format!(
            "{} {} {}",
            out.paint(Style::Green, "✓"),
            if written {
                "Wrote"
            } else {
                "Already up to date:"
            },
            chakra::sum::SUM_FILE
        ));
    }
    checks.push(Check {
        name: format!(
            "{} lists every migration file with its checksum",
            chakra::sum::SUM_FILE
        ),
        problems: chakra::sum::check(&migrations, &files)
            .iter()
            .map(ToString::to_string)
            .collect(),
        skipped: None,
        fix: "restore changed or deleted migration files from version control; if the change is intended \
              (a migration not yet applied anywhere was edited, added or removed), record it with `migrate verify --update-sum`",
    });
    let replayed = graph.final_state()?;
    let snapshot = chakra::snapshot::read(&cfg.snapshot_path())?;
    // Only `migrate make` needs the snapshot (and writes it when it is missing): a folder
    // shipped to run migrations may well have none.
    let snapshot_skipped = (snapshot.is_none() && !graph.is_empty()).then(|| {
        "there is none here; only `migrate make` needs it, and writes it when it is missing"
            .to_owned()
    });
    let snapshot_problems = match snapshot {
        None => Vec::new(),
        Some(s) if s.state != replayed => {
            let diff = chakra::autodetect::detect(&replayed, &s.state)
                .map(|c| chakra::make::describe(&c))
                .unwrap_or_else(|e| e.to_string());
            vec![format!(
                "it differs from the schema of the migration files:\n{diff}"
            )]
        }
        Some(_) => Vec::new(),
    };
    checks.push(Check {
        name: format!(
            "{} matches the migration files",
            chakra::snapshot::SNAPSHOT_PATH
        ),
        problems: snapshot_problems,
        skipped: snapshot_skipped,
        fix: "the snapshot was edited by hand or merged badly: delete it and run `migrate make`, \
              which writes it again from the migration files (and makes a migration if the models differ)",
    });
    if cfg.url.is_some() {
        let mut exec = connect(cfg, true).await?;
        let history = exec.history().await?;
        let applied = history.len();
        checks.push(Check {
            name: format!(
                "the database history ({}) matches the files",
                count(applied, "migration")
            ),
            problems: file_problems(&graph, &history)
                .iter()
                .map(ToString::to_string)
                // A squash this database cannot use because the files it needs are gone.
                .chain(
                    chakra::executor::resolve_history(&graph, &history)
                        .err()
                        .into_iter()
                        .flatten()
                        .map(|e| e.to_string()),
                )
                .collect(),
            skipped: None,
            fix: "restore the applied migrations' files from version control (an applied migration must not change); \
                  if an edit was intended and the database matches it, record it with `migrate repair ID --mark-applied`",
        });
        let log = exec.log().await?;
        let report = chakra::executor::verify_history(&history, log.as_deref());
        checks.push(Check {
            name: match &report.head {
                Some(head) => format!(
                    "the history and its audit log ({} entries, head {}) are untampered",
                    report.entries,
                    &head[..12]
                ),
                None => "the history and its audit log are untampered".to_owned(),
            },
            problems: report.problems.iter().map(ToString::to_string).collect(),
            skipped: None,
            fix: "the database history was changed outside Chakra. See what Chakra recorded with `migrate history`, \
                  check the schema (`migrate drift`), then record what really is in place with `migrate repair ID --mark-applied` \
                  or `--mark-rolled-back`",
        });
    } else {
        checks.push(Check {
            name: "the database history matches the files".to_owned(),
            problems: Vec::new(),
            skipped: Some("no database configured".to_owned()),
            fix: "",
        });
    }
    let failed = checks.iter().any(|c| !c.problems.is_empty());
    for c in &checks {
        match (&c.skipped, c.problems.is_empty()) {
            (Some(why), _) => out.line(&format!(
                "{} {} (skipped: {why})",
                out.paint(Style::Dim, "-"),
                c.name
            )),
            (None, true) => out.line(&format!("{} {}", out.paint(Style::Green, "✓"), c.name)),
            (None, false) => {
                out.line(&format!("{} {}", out.paint(Style::Red, "✗"), c.name));
                for line in c.problems.iter().flat_map(|p| p.lines()) {
                    out.line(&format!("    {line}"));
                }
            }
        }
    }
    for c in checks
        .iter()
        .filter(|c| !c.problems.is_empty() && !c.fix.is_empty())
    {
        out.error_line(c.fix);
    }
    out.json(&json!({
        "ok": !failed,
        "checks": checks.iter().map(|c| json!({
            "check": c.name,
            "ok": c.problems.is_empty(),
            "skipped": c.skipped,
            "problems": c.problems,
        })).collect::<Vec<_>>(),
    }));
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn sql(cfg: &Config, args: &SqlArgs, out: &Output) -> Result<ExitCode> {
    let graph = graph(cfg)?;
    let key = parse_key(&args.id);
    // A migration replaced by a squash: its SQL as a database that runs the originals sees it.
    let graph = if graph.get(&key).is_none() && graph.file(&key).is_some() {
        graph.with_originals().map_err(|errors| {
            anyhow!(
                "{}",
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        })?
    } else {
        graph
    };
    if graph.get(&key).is_none() {
        bail!("no migration `{key}`; `migrate status` lists them");
    }
    let dialect = match &args.dialect {
        Some(d) => d.parse::<DialectKind>().map_err(|e| anyhow!(e))?,
        // The dialect the URL names, whether or not this build can connect to that database.
        None => match &cfg.url {
            Some((url, _)) => match url
                .split_once(':')
                .and_then(|(scheme, _)| scheme.parse().ok())
            {
                Some(d) => d,
                None => bail!(
                    "cannot tell the SQL dialect from the database URL `{}` (it comes from {}); fix it, or pass \
                     --dialect postgres|mysql|sqlite",
                    chakra::executor::redact_url(url),
                    cfg.url_origin()
                ),
            },
            None => DialectKind::Sqlite,
        },
    };
    let (_, before) = graph.replay(&[key.clone()].into())?;
    let direction = if args.reverse {
        Direction::Backward
    } else {
        Direction::Forward
    };
    let m = migration_sql(dialect, &graph, &key, &before[&key], direction)?;
    out.always(&format!(
        "-- {key} ({}, {dialect})",
        if args.reverse { "rollback" } else { "apply" }
    ));
    if dialect == DialectKind::Sqlite && m.rebuilds_table {
        out.always("-- runs with PRAGMA foreign_keys = OFF and checks PRAGMA foreign_key_check before commit");
    }
    for step in &m.steps {
        out.always(&format!("-- {}", step.description));
        for s in &step.statements {
            out.always(&format!("{s};"));
        }
        if let Some(function) = &step.rust {
            out.always(&format!(
                "-- calls the Rust function `{function}` (chakra::data_migration!)"
            ));
        }
    }
    out.json(&json!({
        "ok": true,
        "app": key.app,
        "id": key.id,
        "dialect": dialect.name(),
        "direction": if args.reverse { "reverse" } else { "forward" },
        "statements": m.steps.iter().flat_map(|s| s.statements.clone()).collect::<Vec<_>>(),
    }));
    Ok(ExitCode::SUCCESS)
}

/// The databases to lint for: those given with `--dialect`, else the configured database's,
/// else all three.
fn lint_dialects(cfg: &Config, given: &[String]) -> Result<Vec<DialectKind>> {
    use chakra::lint::ALL_DIALECTS;
    let mut chosen = Vec::new();
    for name in given {
        chosen.push(name.parse::<DialectKind>().map_err(|e| anyhow!(e))?);
    }
    if chosen.is_empty()
        && let Some(d) = cfg.url.as_ref().and_then(|(url, _)| {
            url.split_once(':')
                .and_then(|(scheme, _)| scheme.parse::<DialectKind>().ok())
        })
    {
        chosen.push(d);
    }
    if chosen.is_empty() {
        return Ok(ALL_DIALECTS.to_vec());
    }
    Ok(ALL_DIALECTS
        .into_iter()
        .filter(|d| chosen.contains(d))
        .collect())
}

fn severity_style(severity: chakra::lint::Severity) -> Style {
    match severity {
        chakra::lint::Severity::Error => Style::Red,
        chakra::lint::Severity::Warning => Style::Yellow,
        chakra::lint::Severity::Notice => Style::Dim,
    }
}

/// Whether `finding` is about the migration `m` that make wrote.
fn is_made(finding: &chakra::lint::Finding, m: &chakra::make::MadeMigration) -> bool {
    finding.migration.app == m.migration.migration.app
        && finding.migration.id == m.migration.migration.id
}

/// The lint findings of the migrations `make` wrote (or would write). Linting is advice: a
/// problem doing it is a warning, never a failure of `make`.
fn lint_made(cfg: &Config, outcome: &MakeOutcome, out: &Output) -> Vec<chakra::lint::Finding> {
    if outcome.migrations.is_empty() {
        return Vec::new();
    }
    let dialects = lint_dialects(cfg, &[]).unwrap_or_else(|_| chakra::lint::ALL_DIALECTS.to_vec());
    let new: Vec<chakra::format::Migration> = outcome
        .migrations
        .iter()
        .map(|m| m.migration.clone())
        .collect();
    let linted = chakra::project::load_migrations(&cfg.migrations_path())
        .map_err(anyhow::Error::from)
        .and_then(|existing| {
            Ok(chakra::lint::lint_new_migrations(
                existing, &new, &dialects,
            )?)
        });
    linted.unwrap_or_else(|e| {
        out.warn(&format!("cannot lint the new migrations: {e}"));
        Vec::new()
    })
}

/// What `migrate lint` without an ID covers, and the graph to lint it in: the migrations not
/// applied to the configured database (squashes resolved against its history, as `apply`
/// does), or every migration when none is configured or its history cannot be read.
async fn lint_scope(
    cfg: &Config,
    graph: Graph,
    out: &Output,
) -> (Graph, Vec<MigrationKey>, String) {
    const UNREAD: &str = "every migration: the database history could not be read";
    let all = graph.order().to_vec();
    if cfg.url.is_none() {
        return (
            graph,
            all,
            "every migration: no database configured".to_owned(),
        );
    }
    let read = async {
        let mut exec = connect(cfg, true).await?;
        Ok::<_, anyhow::Error>(exec.history().await?)
    };
    let history = match tokio::time::timeout(std::time::Duration::from_secs(10), read).await {
        Ok(Ok(history)) => history,
        Ok(Err(e)) => {
            out.warn(&format!(
                "cannot read the database history ({e}); linting every migration"
            ));
            return (graph, all, UNREAD.to_owned());
        }
        Err(_) => {
            out.warn("the database did not answer within 10s; linting every migration");
            return (graph, all, UNREAD.to_owned());
        }
    };
    match chakra::executor::resolve_history(&graph, &history) {
        Ok((resolved, applied)) => {
            let pending = resolved
                .order()
                .iter()
                .filter(|k| !applied.contains(*k))
                .cloned()
                .collect();
            (resolved, pending, "not applied to the database".to_owned())
        }
        Err(errors) => {
            out.warn(&format!(
                "the database history does not fit the migration files ({}); linting every migration",
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            ));
            (graph, all, UNREAD.to_owned())
        }
    }
}

async fn lint(cfg: &Config, args: &crate::cli::LintArgs, out: &Output) -> Result<ExitCode> {
    use chakra::lint::{Severity, count_line, lint_migrations, render_text};
    let graph = graph(cfg)?;
    let dialects = lint_dialects(cfg, &args.dialect)?;
    let (graph, keys, scope) = match &args.id {
        Some(id) => {
            let key = parse_key(id);
            // A migration replaced by a squash: linted as a database running the originals.
            let graph = match graph.get(&key) {
                Some(_) => graph,
                None => graph
                    .with_originals()
                    .ok()
                    .filter(|g| g.get(&key).is_some())
                    .ok_or_else(|| anyhow!("no migration `{key}`; `migrate status` lists them"))?,
            };
            (graph, vec![key], String::new())
        }
        None => lint_scope(cfg, graph, out).await,
    };
    let findings = lint_migrations(&graph, &keys, &dialects)?;
    let names: Vec<&str> = dialects.iter().map(|d| d.name()).collect();
    let n = keys.len();
    if n == 0 {
        out.line(if graph.is_empty() {
            "No migrations to lint."
        } else {
            "No migrations to lint: every migration is applied to the database."
        });
    } else {
        let scope = if scope.is_empty() {
            String::new()
        } else {
            format!(" ({scope})")
        };
        out.line(&format!(
            "Linting {n} migration{}{scope} for {}",
            if n == 1 { "" } else { "s" },
            names.join(", ")
        ));
    }
    let text = render_text(&findings, &|s, label| out.paint(severity_style(s), label));
    for line in text.lines() {
        out.always(line);
    }
    let count = |s: Severity| findings.iter().filter(|f| f.severity() == s).count();
    let errors = count(Severity::Error);
    if n > 0 {
        out.line(&if findings.is_empty() {
            format!("{} No findings", out.paint(Style::Green, "✓"))
        } else if errors > 0 {
            format!("{} {}", out.paint(Style::Red, "✗"), count_line(&findings))
        } else {
            format!(
                "{} {}",
                out.paint(Style::Yellow, "!"),
                count_line(&findings)
            )
        });
    }
    out.json(&json!({
        "ok": errors == 0,
        "dialects": names,
        "migrations": keys.iter().map(|k| json!({ "app": k.app, "id": k.id })).collect::<Vec<_>>(),
        "findings": findings.iter().map(chakra::lint::Finding::to_json).collect::<Vec<_>>(),
        "counts": {
            "error": errors,
            "warning": count(Severity::Warning),
            "notice": count(Severity::Notice),
        },
    }));
    Ok(if errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `migrate drift`: the live schema against the schema of the applied migrations.
async fn drift(cfg: &Config, out: &Output) -> Result<ExitCode> {
    use chakra::drift::Change;

    let graph = graph(cfg)?;
    let mut exec = connect(cfg, true).await?;
    let report = chakra::drift::check(&mut exec, &graph, &cfg.table_name).await?;
    let n = report.applied;
    let migrations = if n == 1 { "migration" } else { "migrations" };
    for key in &report.edited {
        out.warn(&format!(
            "applied migration `{key}` was edited since it was applied; the database is compared with the file as it is now"
        ));
    }
    for key in &report.partial {
        out.warn(&format!(
            "migration `{key}` is applied part-way; the database is compared with the operations it completed"
        ));
    }
    let drifted = !report.differences.is_empty();
    if drifted {
        let mut table: Option<&str> = None;
        for d in &report.differences {
            if table != Some(d.table.as_str()) {
                out.line(&out.paint(Style::Bold, &d.table));
                table = Some(&d.table);
            }
            let style = match d.change {
                Change::Missing => Style::Red,
                Change::Extra | Change::Changed => Style::Yellow,
            };
            out.line(&format!("  {}", out.paint(style, &d.describe())));
        }
    } else {
        out.line(&format!(
            "{} No drift: the database matches the {n} applied {migrations}",
            out.paint(Style::Green, "✓")
        ));
    }
    if report.pending > 0 {
        out.line(&format!(
            "{} pending migration(s) not compared (`migrate apply` applies them)",
            report.pending
        ));
    }
    if drifted {
        let count = report.differences.len();
        out.error_line(&format!(
            "the database differs from the schema of its {n} applied {migrations} ({count} difference{}). \
             Make a migration for a change that should stay (`migrate make`), or undo the change made by hand",
            if count == 1 { "" } else { "s" }
        ));
    }
    let keys = |keys: &[MigrationKey]| keys.iter().map(ToString::to_string).collect::<Vec<_>>();
    out.json(&json!({
        "ok": !drifted,
        "applied": n,
        "pending": report.pending,
        "partial": keys(&report.partial),
        "edited": keys(&report.edited),
        "differences": report.differences,
    }));
    Ok(if drifted {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use chakra::state::{DefaultValue, FieldState, FieldType};

    use super::parse_literal;

    #[test]
    fn one_off_values_are_toml_literals_that_fit_the_column() {
        let text = FieldState::new("phone", FieldType::String);
        let int = FieldState::new("score", FieldType::Integer);
        let flag = FieldState::new("active", FieldType::Boolean);
        assert_eq!(
            parse_literal("'n/a'", &text).unwrap(),
            DefaultValue::Str("n/a".into())
        );
        assert_eq!(parse_literal(" 42 ", &int).unwrap(), DefaultValue::Int(42));
        assert_eq!(
            parse_literal("true", &flag).unwrap(),
            DefaultValue::Bool(true)
        );
        assert!(
            parse_literal("abc", &text)
                .unwrap_err()
                .to_string()
                .contains("quote text")
        );
        assert!(
            parse_literal("'x'", &int)
                .unwrap_err()
                .to_string()
                .contains("does not fit")
        );
        assert!(parse_literal("1", &flag).is_err());
    }
}
