//! `migrate lint`: operations that are unsafe, destructive or slow on a live database.
//!
//! Linting reads operations, never SQL (except RunSQL, whose text is all there is). Each
//! operation is judged with the schema just before it, obtained by replaying the graph, and
//! with what the migration itself created: a table created earlier in the same migration is
//! new and empty, so indexing, constraining or altering it cannot lock anyone out or fail on
//! existing rows. Some rules hold on every database (dropping a column loses its data
//! everywhere); others depend on how one database runs the change (PostgreSQL's lock levels,
//! whether MySQL can use `ALGORITHM=INSTANT`/`INPLACE`, SQLite's table rebuild), and a finding
//! names the databases it applies to among those linted for.
//!
//! Rule codes are stable and grouped by category (docs/lint.md lists them all):
//! `CH1xx` destructive, `CH2xx` backward-incompatible, `CH3xx` locking (`CH30x` PostgreSQL,
//! `CH32x` MySQL/MariaDB, `CH34x` SQLite), `CH4xx` data-dependent, `CH5xx` irreversible.
//!
//! # Examples
//!
//! ```
//! use chakra::graph::{Graph, MigrationKey};
//! use chakra::lint::{ALL_DIALECTS, Severity, count_line, lint_migrations};
//! use chakra::project::load_embedded;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let initial = r#"
//! migration = { id = "0001_initial", app = "default" }
//! [[operations]]
//! type = "CreateModel"
//! model = "Tag"
//! table = "tags"
//! fields = [{ name = "label", type = "Text" }]
//! "#;
//! let drop = r#"
//! migration = { id = "0002_delete_tag", app = "default", dependencies = ["0001_initial"] }
//! operations = [{ type = "DeleteModel", model = "Tag", table = "tags" }]
//! "#;
//! let files = load_embedded([("0001_initial.toml", initial), ("0002_delete_tag.toml", drop)])?;
//! let graph = Graph::new(files).map_err(|errors| errors[0].to_string())?;
//!
//! let keys = [MigrationKey::new("default", "0001_initial"), MigrationKey::new("default", "0002_delete_tag")];
//! let findings = lint_migrations(&graph, &keys, &ALL_DIALECTS)?;
//! // Creating a table is safe; dropping one loses its rows.
//! assert_eq!(findings.len(), 1);
//! assert_eq!((findings[0].code(), findings[0].severity()), ("CH101", Severity::Error));
//! assert_eq!(findings[0].migration, keys[1]);
//! assert_eq!(count_line(&findings), "1 error, 0 warnings, 0 notices");
//! # Ok(()) }
//! ```

use std::collections::BTreeSet;
use std::fmt;

use serde_json::json;

use crate::dialect::{DialectKind, column_type, operation_sql};
use crate::format::Migration;
use crate::graph::{Graph, GraphError, MigrationKey};
use crate::operations::Operation;
use crate::project::LoadedMigration;
use crate::state::{FieldState, FieldType, ProjectState, StateError};

/// Every supported database, in the order findings list them.
pub const ALL_DIALECTS: [DialectKind; 3] = [
    DialectKind::Postgres,
    DialectKind::Mysql,
    DialectKind::Sqlite,
];

const PG: &[DialectKind] = &[DialectKind::Postgres];
const MY: &[DialectKind] = &[DialectKind::Mysql];
const LITE: &[DialectKind] = &[DialectKind::Sqlite];
const ALL: &[DialectKind] = &ALL_DIALECTS;

/// How serious a finding is. `migrate lint` exits 1 when a finding is an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Worth knowing; usually fine.
    Notice,
    /// Needs a look: it can lock a table, break running code or fail on some data.
    Warning,
    /// Loses data or fails on any real table: fix it or make sure it is intended.
    Error,
}

impl Severity {
    /// `error`, `warning` or `notice`.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Notice => "notice",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// What kind of risk a rule describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    /// Data is deleted (`CH1xx`).
    Destructive,
    /// Code that is still running during the deployment breaks (`CH2xx`).
    BackwardIncompatible,
    /// The table is locked or rewritten while the operation runs (`CH3xx`).
    Locking,
    /// Succeeds or fails depending on the rows in the table (`CH4xx`).
    DataDependent,
    /// The migration cannot be rolled back (`CH5xx`).
    Irreversible,
}

impl Category {
    /// `destructive`, `backward-incompatible`, `locking`, `data-dependent` or `irreversible`.
    pub fn name(self) -> &'static str {
        match self {
            Category::Destructive => "destructive",
            Category::BackwardIncompatible => "backward-incompatible",
            Category::Locking => "locking",
            Category::DataDependent => "data-dependent",
            Category::Irreversible => "irreversible",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// A lint rule: a stable code, what it means, and what to do instead.
#[derive(Debug, PartialEq, Eq)]
pub struct Rule {
    /// `CH101`.
    pub code: &'static str,
    /// The kind of risk.
    pub category: Category,
    /// How serious it is.
    pub severity: Severity,
    /// The databases the rule applies to.
    pub dialects: &'static [DialectKind],
    /// One line: what the rule finds.
    pub title: &'static str,
    /// Why it matters, per database where they differ.
    pub why: &'static str,
    /// The safe alternative.
    pub instead: &'static str,
}

/// Every rule, by code. docs/lint.md documents each one.
pub static RULES: &[Rule] = &[
    Rule {
        code: "CH101",
        category: Category::Destructive,
        severity: Severity::Error,
        dialects: ALL,
        title: "a table is dropped",
        why: "Every row of the table is deleted; rolling back recreates the table empty. Code that \
              still uses the model (the release being replaced, other services, reports) fails as \
              soon as the table is gone.",
        instead: "Deploy code that no longer uses the model first, and back the table up before \
                  dropping it; or keep the table for one release (remove the model, keep the data) \
                  and drop it in a later migration.",
    },
    Rule {
        code: "CH102",
        category: Category::Destructive,
        severity: Severity::Error,
        dialects: ALL,
        title: "a column is dropped",
        why: "Every value of the column is deleted; rolling back adds the column back empty (or \
              with its default). Code that still reads or writes the column fails as soon as it \
              is gone.",
        instead: "Deploy code that no longer uses the field first, copy the data elsewhere if it \
                  may be needed, then remove the column in its own migration. A rename keeps the \
                  data: `#[chakra(renamed_from = \"old\")]`.",
    },
    Rule {
        code: "CH103",
        category: Category::Destructive,
        severity: Severity::Error,
        dialects: ALL,
        title: "a column's type is narrowed or changed",
        why: "Values that do not fit the new definition are rejected, so the migration fails \
              (PostgreSQL, MySQL in strict mode), or are truncated or converted (MySQL without \
              strict mode); SQLite keeps them as they are, whatever the declared type. Code \
              reading the column with the old Rust type may fail to decode the new one.",
        instead: "Check the existing values first (the longest strings, the largest numbers). To \
                  change a type safely, add a new column, copy and convert the data (RunSQL or \
                  RunRust), move the code over, then remove the old column in a later migration.",
    },
    Rule {
        code: "CH104",
        category: Category::Destructive,
        severity: Severity::Notice,
        dialects: ALL,
        title: "RunSQL drops or deletes data",
        why: "Chakra does not analyse SQL, but this RunSQL contains a statement that deletes \
              data (DROP TABLE, DROP COLUMN, TRUNCATE, DELETE FROM, ...), which its `reverse` \
              cannot bring back.",
        instead: "Review the statement, back the data up, and prefer operations Chakra knows \
                  (DeleteModel, RemoveField) so that the snapshot and `make` stay in step.",
    },
    Rule {
        code: "CH201",
        category: Category::BackwardIncompatible,
        severity: Severity::Warning,
        dialects: ALL,
        title: "a table is renamed",
        why: "The rename itself is quick, but code that is still running during the deployment \
              uses the old table name and fails until it is replaced.",
        instead: "Rename only the model and keep the table (`#[chakra(table = \"old_name\")]`), \
                  or deploy the migration and the code together and accept the short failure.",
    },
    Rule {
        code: "CH202",
        category: Category::BackwardIncompatible,
        severity: Severity::Warning,
        dialects: ALL,
        title: "a column is renamed",
        why: "The rename itself is quick, but code that is still running during the deployment \
              uses the old column name and fails until it is replaced.",
        instead: "Rename only the field and keep the column (`#[chakra(column = \"old_name\")]`), \
                  or move in steps: add the new column, write both, backfill, read the new one, \
                  remove the old one in a later release.",
    },
    Rule {
        code: "CH203",
        category: Category::BackwardIncompatible,
        severity: Severity::Warning,
        dialects: ALL,
        title: "a NOT NULL column without a default is added to an existing table",
        why: "The one-off `fill` value fills the rows that exist when the migration runs and is \
              not kept as a default, so inserts that do not name the new column (those of the \
              code still running during the deployment) fail.",
        instead: "Give the field a `default` (or `db_default`), or add it as `Option<_>`, deploy \
                  code that always sets it, backfill, and make it NOT NULL in a later migration.",
    },
    Rule {
        code: "CH301",
        category: Category::Locking,
        severity: Severity::Warning,
        dialects: PG,
        title: "an index is created on an existing table without CONCURRENTLY",
        why: "PostgreSQL's CREATE INDEX holds a SHARE lock while it reads the whole table: \
              inserts, updates and deletes wait until the index is built, minutes on a large \
              table.",
        instead: "Fine for small tables. For a large, busy table mark the model \
                  `#[chakra(online)]` before making the migration: the index is then built \
                  with CREATE INDEX CONCURRENTLY (writes go on) in a migration with \
                  `atomic = false`.",
    },
    Rule {
        code: "CH302",
        category: Category::Locking,
        severity: Severity::Warning,
        dialects: PG,
        title: "a UNIQUE constraint or primary key is added to an existing table",
        why: "PostgreSQL builds the unique index of ADD CONSTRAINT ... UNIQUE (or ADD PRIMARY \
              KEY, or a new UNIQUE column) under an ACCESS EXCLUSIVE lock: reads and writes of \
              the table wait until every row is indexed.",
        instead: "For a large table, mark the model `#[chakra(online)]`: a UNIQUE constraint is \
                  then built as a unique index CONCURRENTLY and attached with `ADD CONSTRAINT \
                  ... UNIQUE USING INDEX`. A new UNIQUE column or primary key has no online \
                  form: add the column plain, then the constraint (`unique_together`) online.",
    },
    Rule {
        code: "CH303",
        category: Category::Locking,
        severity: Severity::Warning,
        dialects: PG,
        title: "a foreign key is validated on an existing table",
        why: "Adding a FOREIGN KEY constraint takes a SHARE ROW EXCLUSIVE lock on both the table \
              and the referenced table and checks every row while holding it: writes to both \
              tables wait.",
        instead: "For large tables, mark the model `#[chakra(online)]`: the foreign key is then \
                  added `NOT VALID` (a moment's lock) and validated in a transaction of its own \
                  with `VALIDATE CONSTRAINT`, which lets writes through.",
    },
    Rule {
        code: "CH304",
        category: Category::Locking,
        severity: Severity::Warning,
        dialects: PG,
        title: "a CHECK constraint is validated on an existing table",
        why: "ADD CONSTRAINT ... CHECK takes an ACCESS EXCLUSIVE lock and checks every row while \
              holding it: reads and writes of the table wait.",
        instead: "For a large table, mark the model `#[chakra(online)]`: the constraint is then \
                  added `NOT VALID` and validated with `VALIDATE CONSTRAINT` in a transaction of \
                  its own, which lets reads and writes through.",
    },
    Rule {
        code: "CH305",
        category: Category::Locking,
        severity: Severity::Warning,
        dialects: PG,
        title: "a column type change rewrites the table",
        why: "ALTER COLUMN ... TYPE rewrites every row and rebuilds the table's indexes under an \
              ACCESS EXCLUSIVE lock: reads and writes wait. Only a longer VARCHAR, VARCHAR to \
              TEXT and more NUMERIC precision skip the rewrite.",
        instead: "For a large table, add a column of the new type, backfill it in batches, move \
                  the code over, then remove the old column.",
    },
    Rule {
        code: "CH306",
        category: Category::Locking,
        severity: Severity::Warning,
        dialects: PG,
        title: "SET NOT NULL scans an existing table",
        why: "SET NOT NULL reads the whole table under an ACCESS EXCLUSIVE lock (reads and writes \
              wait) to check for NULLs, unless a validated CHECK (column IS NOT NULL) already \
              proves there are none (PostgreSQL 12+).",
        instead: "For a large table, add `CHECK (<column> IS NOT NULL) NOT VALID` and then \
                  `VALIDATE CONSTRAINT` it with RunSQL in earlier migrations (neither blocks \
                  writes for long); SET NOT NULL then skips the scan. Drop the CHECK afterwards.",
    },
    Rule {
        code: "CH307",
        category: Category::Locking,
        severity: Severity::Warning,
        dialects: PG,
        title: "a column with a volatile default is added to an existing table",
        why: "Since PostgreSQL 11 a column added with a constant or stable default (a literal, \
              now(), CURRENT_TIMESTAMP) is instant. A volatile default (random(), \
              gen_random_uuid(), clock_timestamp(), nextval(), ...) is computed for each \
              existing row: the table is rewritten under an ACCESS EXCLUSIVE lock.",
        instead: "Add the column as nullable without the default, set the default with an \
                  AlterField, backfill the existing rows in batches (RunSQL), then make it NOT \
                  NULL.",
    },
    Rule {
        code: "CH321",
        category: Category::Locking,
        severity: Severity::Warning,
        dialects: MY,
        title: "an ALTER TABLE copies the table (no ALGORITHM=INSTANT or INPLACE)",
        why: "InnoDB runs most changes INSTANT (adding a nullable column, defaults, renames) or \
              INPLACE while writes go on (indexes, NULL/NOT NULL), but changing a column type, \
              adding or removing AUTO_INCREMENT, adding a foreign key (with foreign_key_checks \
              on) and adding a CHECK constraint need ALGORITHM=COPY: the table is copied row by \
              row and writes wait until it is done.",
        instead: "For a large table, run the change with an online schema change tool (gh-ost, \
                  pt-online-schema-change) and record the migration with `migrate apply --fake \
                  <id>`, or run it in a maintenance window.",
    },
    Rule {
        code: "CH341",
        category: Category::Locking,
        severity: Severity::Notice,
        dialects: LITE,
        title: "SQLite rebuilds an existing table",
        why: "SQLite cannot make this change in place, so Chakra rebuilds the table (create a \
              new one, copy every row, drop the old one, rename) inside the migration's \
              transaction, holding the database's write lock for as long as the copy takes. \
              Triggers on the table are dropped, and views that use it make the rebuild fail.",
        instead: "Usually fine at SQLite's sizes. Recreate triggers with RunSQL after the \
                  operation, and drop and recreate views around it (docs/dialects.md, \"The \
                  SQLite table rebuild\").",
    },
    Rule {
        code: "CH401",
        category: Category::DataDependent,
        severity: Severity::Error,
        dialects: ALL,
        title: "a NOT NULL column without a default or fill value is added to an existing table",
        why: "The rows already in the table need a value. PostgreSQL and SQLite refuse the \
              change as soon as the table has a row; MySQL fills them with the type's implicit \
              default (0, '', a zero date), which is rarely right.",
        instead: "Give the field a `default`, make it `Option<_>`, or run `migrate make` on a \
                  terminal, which asks for a one-off `fill` value for the existing rows.",
    },
    Rule {
        code: "CH402",
        category: Category::DataDependent,
        severity: Severity::Warning,
        dialects: ALL,
        title: "an existing column becomes NOT NULL",
        why: "Rows holding NULL make the migration fail, unless a default or fill value replaces \
              them first (which changes those rows). Code that is still running during the \
              deployment and writes NULL (an `Option` that is `None`) fails afterwards.",
        instead: "Deploy code that always sets the field first, backfill the NULLs (RunSQL, or a \
                  `fill` value), then make the column NOT NULL.",
    },
    Rule {
        code: "CH403",
        category: Category::DataDependent,
        severity: Severity::Warning,
        dialects: ALL,
        title: "uniqueness is added over existing rows",
        why: "If existing rows share the same values the unique index cannot be built and the \
              migration fails (on MySQL, after the operations before it were committed). A new \
              UNIQUE column whose existing rows all get the same value fails as soon as the \
              table has two rows.",
        instead: "Look for duplicates first (`SELECT <columns>, COUNT(*) FROM <table> GROUP BY \
                  <columns> HAVING COUNT(*) > 1`) and resolve them in an earlier migration.",
    },
    Rule {
        code: "CH404",
        category: Category::DataDependent,
        severity: Severity::Warning,
        dialects: ALL,
        title: "a CHECK constraint is added over existing rows",
        why: "If an existing row does not satisfy the expression the constraint cannot be added \
              and the migration fails (on SQLite, while the rebuilt table is filled).",
        instead: "Look for violating rows first (`SELECT ... WHERE NOT (<expression>)`) and fix \
                  them in an earlier migration.",
    },
    Rule {
        code: "CH405",
        category: Category::DataDependent,
        severity: Severity::Warning,
        dialects: ALL,
        title: "a foreign key is added over existing values",
        why: "If an existing value has no matching row in the referenced table the constraint \
              cannot be added and the migration fails (SQLite reports it at \
              `PRAGMA foreign_key_check` before commit).",
        instead: "Look for orphans first (`SELECT ... WHERE <column> IS NOT NULL AND <column> NOT \
                  IN (SELECT <key> FROM <target>)`) and fix them in an earlier migration.",
    },
    Rule {
        code: "CH501",
        category: Category::Irreversible,
        severity: Severity::Warning,
        dialects: ALL,
        title: "RunSQL has no reverse",
        why: "`migrate rollback` refuses to go back past this migration (it runs nothing and says \
              why), so a failed release cannot be rolled back quickly.",
        instead: "Add a `reverse` that undoes `forward`; if there is nothing to undo, say so with \
                  `reversible = true`.",
    },
    Rule {
        code: "CH502",
        category: Category::Irreversible,
        severity: Severity::Warning,
        dialects: ALL,
        title: "RunRust has no reverse",
        why: "`migrate rollback` refuses to go back past this migration (it runs nothing and says \
              why), so a failed release cannot be rolled back quickly.",
        instead: "Register a reverse function and name it in `reverse`; if there is nothing to \
                  undo, say so with `reversible = true`.",
    },
];

/// The rule with this code.
///
/// # Panics
/// When no rule has the code (a bug in this module: codes are constants).
pub fn rule(code: &str) -> &'static Rule {
    RULES
        .iter()
        .find(|r| r.code == code)
        .unwrap_or_else(|| panic!("no lint rule {code}"))
}

/// One problem found in one operation of one migration.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// The rule (code, severity, why and what to do instead).
    pub rule: &'static Rule,
    /// The migration.
    pub migration: MigrationKey,
    /// 1-based index of the operation in the migration.
    pub operation: usize,
    /// The operation, as `make` prints it (`RemoveField User.email`).
    pub summary: String,
    /// The table (`users`) or column (`users.email`) concerned; `None` for RunSQL and RunRust.
    pub object: Option<String>,
    /// The linted databases the finding applies to, in [`ALL_DIALECTS`] order.
    pub dialects: Vec<DialectKind>,
    /// What this operation does wrong, naming its table and column.
    pub message: String,
}

impl Finding {
    /// The rule code (`CH102`).
    pub fn code(&self) -> &'static str {
        self.rule.code
    }

    /// The rule's severity.
    pub fn severity(&self) -> Severity {
        self.rule.severity
    }

    /// `postgres, mysql, sqlite`.
    pub fn dialect_list(&self) -> String {
        self.dialects
            .iter()
            .map(|d| d.name())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// One line for `migrate make`: `error[CH102] drops column ... (operation 1; sqlite)`.
    pub fn one_line(&self) -> String {
        format!(
            "{}[{}] {} (operation {}; {})",
            self.severity(),
            self.code(),
            self.message,
            self.operation,
            self.dialect_list()
        )
    }

    /// The stable JSON form: `code`, `severity`, `category`, `app`, `migration`, `operation`,
    /// `summary`, `object`, `dialects`, `message`, `title`, `why`, `instead`.
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "code": self.rule.code,
            "severity": self.rule.severity.name(),
            "category": self.rule.category.name(),
            "app": self.migration.app,
            "migration": self.migration.id,
            "operation": self.operation,
            "summary": self.summary,
            "object": self.object,
            "dialects": self.dialects.iter().map(|d| d.name()).collect::<Vec<_>>(),
            "message": self.message,
            "title": self.rule.title,
            "why": self.rule.why,
            "instead": self.rule.instead,
        })
    }
}

/// Why linting could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LintError {
    /// The migration is not in the graph.
    #[error("no migration `{0}`; `migrate status` lists them")]
    UnknownMigration(MigrationKey),
    /// The migrations do not form a valid graph, or do not replay.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Graph(Vec<GraphError>),
}

impl From<GraphError> for LintError {
    fn from(e: GraphError) -> Self {
        LintError::Graph(vec![e])
    }
}

/// The findings of migration `key`, for the databases in `dialects`.
pub fn lint_migration(
    graph: &Graph,
    key: &MigrationKey,
    dialects: &[DialectKind],
) -> Result<Vec<Finding>, LintError> {
    lint_migrations(graph, std::slice::from_ref(key), dialects)
}

/// The findings of each migration in `keys` (in that order), for the databases in
/// `dialects`. The graph is replayed once.
pub fn lint_migrations(
    graph: &Graph,
    keys: &[MigrationKey],
    dialects: &[DialectKind],
) -> Result<Vec<Finding>, LintError> {
    for key in keys {
        if graph.get(key).is_none() {
            return Err(LintError::UnknownMigration(key.clone()));
        }
    }
    let wanted: BTreeSet<MigrationKey> = keys.iter().cloned().collect();
    let (_, before) = graph.replay(&wanted)?;
    let mut findings = Vec::new();
    for key in keys {
        let Some(loaded) = graph.get(key) else {
            continue;
        };
        let Some(state) = before.get(key) else {
            continue;
        };
        findings.extend(
            lint_operations(key, &loaded.migration.operations, state, dialects).map_err(
                |source| GraphError::Replay {
                    migration: key.clone(),
                    source,
                },
            )?,
        );
    }
    Ok(findings)
}

/// Lints migrations that `migrate make` wrote or would write: `new` on top of `existing`
/// (the files read from the migrations folder; a file that is one of `new` is replaced by
/// it, so this works before and after they are written).
pub fn lint_new_migrations(
    existing: Vec<LoadedMigration>,
    new: &[Migration],
    dialects: &[DialectKind],
) -> Result<Vec<Finding>, LintError> {
    let keys: Vec<MigrationKey> = new
        .iter()
        .map(|m| MigrationKey::new(&m.migration.app, &m.migration.id))
        .collect();
    let mut all: Vec<LoadedMigration> = existing
        .into_iter()
        .filter(|l| !keys.iter().any(|k| k.app == l.app() && k.id == l.id()))
        .collect();
    all.extend(
        new.iter()
            .map(|m| LoadedMigration::new(m.clone(), std::path::PathBuf::new())),
    );
    let graph = Graph::new(all).map_err(LintError::Graph)?;
    lint_migrations(&graph, &keys, dialects)
}

/// Lints `ops` (migration `key`) applied to `before`, the schema just before the first one.
pub fn lint_operations(
    key: &MigrationKey,
    ops: &[Operation],
    before: &ProjectState,
    dialects: &[DialectKind],
) -> Result<Vec<Finding>, StateError> {
    let app = key.app.as_str();
    let mut state = before.clone();
    // Models created by this migration (under their current names): their tables are empty.
    let mut created: BTreeSet<String> = BTreeSet::new();
    let mut findings = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        let mut cx = Check {
            key,
            dialects,
            index: i + 1,
            summary: op.summary(),
            findings: &mut findings,
        };
        let existing = op.model().is_some_and(|m| !created.contains(m))
            && !matches!(op, Operation::CreateModel(_));
        let existing = match op {
            // The model is named by its old name before the rename.
            Operation::RenameModel(r) => !created.contains(&r.old_name),
            _ => existing,
        };
        if existing {
            check_existing(&mut cx, app, op, &state);
        }
        check_any(&mut cx, op);
        if existing && dialects.contains(&DialectKind::Sqlite) {
            check_sqlite_rebuild(&mut cx, app, op, &state);
        }
        state.apply(app, op)?;
        match op {
            Operation::CreateModel(c) => {
                created.insert(c.model.clone());
            }
            Operation::DeleteModel(d) => {
                created.remove(&d.model);
            }
            Operation::RenameModel(r) if created.remove(&r.old_name) => {
                created.insert(r.new_name.clone());
            }
            _ => {}
        }
    }
    Ok(findings)
}

/// Collects the findings of one operation.
struct Check<'a> {
    key: &'a MigrationKey,
    dialects: &'a [DialectKind],
    index: usize,
    summary: String,
    findings: &'a mut Vec<Finding>,
}

impl Check<'_> {
    /// Records a finding of rule `code`, unless none of its databases is linted for.
    fn push(&mut self, code: &str, object: Option<String>, message: String) {
        let rule = rule(code);
        let dialects: Vec<DialectKind> = ALL_DIALECTS
            .into_iter()
            .filter(|d| self.dialects.contains(d) && rule.dialects.contains(d))
            .collect();
        if dialects.is_empty() {
            return;
        }
        self.findings.push(Finding {
            rule,
            migration: self.key.clone(),
            operation: self.index,
            summary: self.summary.clone(),
            object,
            dialects,
            message,
        });
    }
}

fn column_object(table: &str, column: &str) -> Option<String> {
    Some(format!("{table}.{column}"))
}

/// Rules that hold whether or not the table existed: irreversible and hand-written steps.
fn check_any(cx: &mut Check<'_>, op: &Operation) {
    match op {
        Operation::RunSql(r) => {
            if !r.is_reversible() {
                cx.push(
                    "CH501",
                    None,
                    if r.reverse.is_some() {
                        "RunSQL is marked `reversible = false`: the migration cannot be rolled back"
                    } else {
                        "RunSQL has no `reverse`: the migration cannot be rolled back"
                    }
                    .to_owned(),
                );
            }
            if let Some(statement) = destructive_sql(&r.forward) {
                cx.push(
                    "CH104",
                    None,
                    format!("RunSQL runs `{statement}`, which deletes data"),
                );
            }
        }
        Operation::RunRust(r) if !r.is_reversible() => cx.push(
            "CH502",
            None,
            format!(
                "RunRust `{}` has no `reverse`: the migration cannot be rolled back",
                r.forward
            ),
        ),
        _ => {}
    }
}

/// Rules about operations on a table that existed before the migration (and so may hold rows
/// and be in use).
fn check_existing(cx: &mut Check<'_>, app: &str, op: &Operation, state: &ProjectState) {
    match op {
        Operation::DeleteModel(d) => cx.push(
            "CH101",
            Some(d.table.clone()),
            format!("drops table `{}` and all its rows", d.table),
        ),
        Operation::RemoveField(r) => {
            let column = state
                .model(app, &r.model)
                .map_or(r.name.as_str(), |m| m.column_of(&r.name));
            cx.push(
                "CH102",
                column_object(&r.table, column),
                format!("drops column `{}`.`{column}` and its data", r.table),
            );
        }
        Operation::AddField(a) => {
            let field = a.field();
            check_add_field(cx, &a.table, &field, a.fill.is_some(), a.online);
        }
        Operation::AlterField(a) => {
            if let Some(old) = state.model(app, &a.model).and_then(|m| m.field(&a.name)) {
                check_alter_field(cx, &a.table, old, &a.field(), a.fill.is_some());
            }
        }
        Operation::RenameField(r) => {
            let Some(field) = state
                .model(app, &r.model)
                .and_then(|m| m.field(&r.old_name))
            else {
                return;
            };
            let old = field.column();
            let new = field.column.as_deref().unwrap_or(&r.new_name);
            if old != new {
                cx.push(
                    "CH202",
                    column_object(&r.table, old),
                    format!("renames column `{}`.`{old}` to `{new}`", r.table),
                );
                if field.foreign_key.is_some() {
                    cx.push(
                        "CH321",
                        column_object(&r.table, old),
                        format!(
                            "renames foreign key column `{}`.`{old}`: MySQL drops the foreign key and adds it back, which copies the table",
                            r.table
                        ),
                    );
                }
            }
        }
        Operation::RenameModel(r) if r.old_table != r.new_table => {
            cx.push(
                "CH201",
                Some(r.old_table.clone()),
                format!("renames table `{}` to `{}`", r.old_table, r.new_table),
            );
            let has_fk = state
                .model(app, &r.old_name)
                .is_some_and(|m| m.fields.iter().any(|f| f.foreign_key.is_some()));
            if has_fk {
                cx.push(
                    "CH321",
                    Some(r.old_table.clone()),
                    format!(
                        "renames table `{}`, which has foreign keys: MySQL drops each one and adds it back under its new name, which copies the table",
                        r.old_table
                    ),
                );
            }
        }
        Operation::CreateIndex(c) => {
            if !c.online {
                cx.push(
                    "CH301",
                    Some(c.table.clone()),
                    format!(
                        "creates index `{}` on existing table `{}` without CONCURRENTLY",
                        c.name, c.table
                    ),
                );
            }
            if c.unique {
                cx.push(
                    "CH403",
                    Some(c.table.clone()),
                    format!(
                        "creates unique index `{}` over the existing rows of `{}`: duplicates make the migration fail",
                        c.name, c.table
                    ),
                );
            }
        }
        Operation::AddConstraint(a) => match &a.kind {
            crate::state::ConstraintKind::Unique { fields } => {
                if !a.online {
                    cx.push(
                        "CH302",
                        Some(a.table.clone()),
                        format!(
                            "adds UNIQUE constraint `{}` to existing table `{}`",
                            a.name, a.table
                        ),
                    );
                }
                cx.push(
                    "CH403",
                    Some(a.table.clone()),
                    format!(
                        "adds UNIQUE constraint `{}` ({}) over the existing rows of `{}`: duplicates make the migration fail",
                        a.name,
                        fields.join(", "),
                        a.table
                    ),
                );
            }
            crate::state::ConstraintKind::Check { expr } => {
                if !a.online {
                    cx.push(
                        "CH304",
                        Some(a.table.clone()),
                        format!(
                            "adds CHECK constraint `{}` to existing table `{}`",
                            a.name, a.table
                        ),
                    );
                }
                cx.push(
                    "CH404",
                    Some(a.table.clone()),
                    format!(
                        "adds CHECK constraint `{}` ({}) over the existing rows of `{}`: a row that violates it makes the migration fail",
                        a.name,
                        expr.trim(),
                        a.table
                    ),
                );
                cx.push(
                    "CH321",
                    Some(a.table.clone()),
                    format!(
                        "adds CHECK constraint `{}`: MySQL copies `{}` to check it",
                        a.name, a.table
                    ),
                );
            }
        },
        _ => {}
    }
}

/// `online`: the operation is online, so PostgreSQL adds its foreign key `NOT VALID` and
/// validates it without blocking writes.
fn check_add_field(
    cx: &mut Check<'_>,
    table: &str,
    field: &FieldState,
    has_fill: bool,
    online: bool,
) {
    let column = field.column();
    let object = || column_object(table, column);
    let volatile = field.db_default.as_deref().and_then(volatile_function);
    // Every existing row gets the same value: a literal default, a fill value or a constant
    // database default.
    let shared_value = !field.auto_increment
        && (field.default.is_some()
            || has_fill
            || (field.db_default.is_some() && volatile.is_none()));
    if field.needs_value() {
        if has_fill {
            cx.push(
                "CH203",
                object(),
                format!(
                    "new NOT NULL column `{table}`.`{column}` has no default: inserts that do not set it fail"
                ),
            );
        } else {
            cx.push(
                "CH401",
                object(),
                format!(
                    "new NOT NULL column `{table}`.`{column}` has no default and no fill value: the migration fails if `{table}` has rows"
                ),
            );
        }
    }
    if field.unique || field.primary_key {
        let what = if field.primary_key {
            "primary key"
        } else {
            "UNIQUE"
        };
        cx.push(
            "CH302",
            object(),
            format!("adds {what} column `{table}`.`{column}` to an existing table"),
        );
        if shared_value {
            cx.push(
                "CH403",
                object(),
                format!(
                    "new {what} column `{table}`.`{column}` gets the same value in every existing row: the migration fails if `{table}` has two rows"
                ),
            );
        }
    }
    let mut copies = Vec::new();
    if let Some(fk) = &field.foreign_key {
        if !online {
            cx.push(
                "CH303",
                object(),
                format!(
                    "adds foreign key `{table}`.`{column}` -> `{}`.`{}`: both tables are locked while it is checked",
                    fk.table, fk.column
                ),
            );
        }
        if shared_value {
            cx.push(
                "CH405",
                object(),
                format!(
                    "new foreign key column `{table}`.`{column}` gets the same value in every existing row: it must exist in `{}`",
                    fk.table
                ),
            );
        }
        copies.push(format!("adds a foreign key to `{}`", fk.table));
    }
    if field.auto_increment {
        copies.push("adds an AUTO_INCREMENT column".to_owned());
    }
    if !copies.is_empty() {
        cx.push(
            "CH321",
            object(),
            format!("{}: MySQL copies `{table}`", copies.join(" and ")),
        );
    }
    if let Some(function) = volatile {
        cx.push(
            "CH307",
            object(),
            format!(
                "new column `{table}`.`{column}` has the volatile default `{function}(...)`: PostgreSQL rewrites the table"
            ),
        );
    }
}

fn check_alter_field(
    cx: &mut Check<'_>,
    table: &str,
    old: &FieldState,
    new: &FieldState,
    has_fill: bool,
) {
    let (oc, nc) = (old.column(), new.column());
    let object = || column_object(table, oc);
    if oc != nc {
        cx.push(
            "CH202",
            object(),
            format!("renames column `{table}`.`{oc}` to `{nc}`"),
        );
    }
    if let Some(why) = narrowing(old, new) {
        cx.push("CH103", object(), format!("alters `{table}`.`{oc}`: {why}"));
    }
    if let Some((from, to)) = postgres_rewrite(old, new) {
        cx.push(
            "CH305",
            object(),
            format!("changes `{table}`.`{oc}` from {from} to {to}: PostgreSQL rewrites the table"),
        );
    }
    if old.nullable && !new.nullable {
        let filled = if has_fill {
            Some("the fill value")
        } else if new.default.is_some() || new.db_default.is_some() {
            Some("the default")
        } else {
            None
        };
        cx.push(
            "CH402",
            object(),
            match filled {
                Some(value) => format!(
                    "`{table}`.`{oc}` becomes NOT NULL: rows holding NULL are set to {value} first"
                ),
                None => format!(
                    "`{table}`.`{oc}` becomes NOT NULL without a default: rows holding NULL make the migration fail"
                ),
            },
        );
        cx.push(
            "CH306",
            object(),
            format!(
                "`{table}`.`{oc}` becomes NOT NULL: PostgreSQL scans the table while locking it"
            ),
        );
    }
    let gains_unique = new.unique && !old.unique && !new.primary_key;
    if gains_unique || (new.primary_key && !old.primary_key) {
        let what = if gains_unique {
            "UNIQUE"
        } else {
            "part of the primary key"
        };
        cx.push(
            "CH302",
            object(),
            format!("`{table}`.`{oc}` becomes {what} on an existing table"),
        );
        cx.push(
            "CH403",
            object(),
            format!(
                "`{table}`.`{oc}` becomes {what}: duplicate values in the existing rows make the migration fail"
            ),
        );
    }
    let fk_changed = old.foreign_key != new.foreign_key;
    if let Some(fk) = new.foreign_key.as_ref().filter(|_| fk_changed) {
        cx.push(
            "CH303",
            object(),
            format!(
                "adds foreign key `{table}`.`{nc}` -> `{}`.`{}`: both tables are locked while it is checked",
                fk.table, fk.column
            ),
        );
        let same_target = old
            .foreign_key
            .as_ref()
            .is_some_and(|o| o.app == fk.app && o.model == fk.model && o.column == fk.column);
        if !same_target {
            cx.push(
                "CH405",
                object(),
                format!(
                    "`{table}`.`{oc}` becomes a foreign key to `{}`: existing values without a match make the migration fail",
                    fk.table
                ),
            );
        }
    }
    // MySQL: what needs ALGORITHM=COPY.
    let mut copies = Vec::new();
    let mysql_type = mysql_copy_type(old, new);
    if let Some((from, to)) = &mysql_type {
        copies.push(format!("changes the type from {from} to {to}"));
    }
    if old.auto_increment != new.auto_increment {
        copies.push(if new.auto_increment {
            "adds AUTO_INCREMENT".to_owned()
        } else {
            "removes AUTO_INCREMENT".to_owned()
        });
    }
    if let Some(fk) = &new.foreign_key {
        if fk_changed {
            copies.push(format!("adds a foreign key to `{}`", fk.table));
        } else if oc != nc || mysql_type.is_some() {
            copies.push("drops the foreign key and adds it back".to_owned());
        }
    }
    if !copies.is_empty() {
        cx.push(
            "CH321",
            object(),
            format!(
                "alters `{table}`.`{oc}` ({}): MySQL copies the table",
                copies.join(", ")
            ),
        );
    }
}

/// SQLite: the operation is done by rebuilding the table.
fn check_sqlite_rebuild(cx: &mut Check<'_>, app: &str, op: &Operation, state: &ProjectState) {
    let Ok(sql) = operation_sql(DialectKind::Sqlite, app, op, state) else {
        // `migrate sql` and `apply` report what SQLite cannot do.
        return;
    };
    if !sql.rebuilds_table {
        return;
    }
    let table = op
        .model()
        .and_then(|m| state.model(app, m))
        .map(|m| m.table.clone());
    let message = match &table {
        Some(t) => format!("rebuilds table `{t}`: every row is copied into a new table"),
        None => "rebuilds a table: every row is copied into a new table".to_owned(),
    };
    cx.push("CH341", table, message);
}

/// Why changing `old` into `new` can lose or reject values; `None` for a widening (a larger
/// integer, a longer string, more decimal digits) or no type change.
fn narrowing(old: &FieldState, new: &FieldState) -> Option<String> {
    use FieldType as T;
    if old.field_type != new.field_type {
        return match (old.field_type, new.field_type) {
            (T::SmallInteger, T::Integer | T::BigInteger)
            | (T::Integer, T::BigInteger)
            | (T::Float, T::Double)
            | (T::String, T::Text) => None,
            (T::Text, T::String) => new.max_length.map(|n| {
                format!("becomes String with max_length {n}; longer values are rejected or cut")
            }),
            (a, b) => Some(format!(
                "type changes from {a} to {b}; values that do not convert are rejected or lost"
            )),
        };
    }
    match (old.max_length, new.max_length) {
        (None, Some(n)) => {
            return Some(format!(
                "max_length becomes {n}; longer values are rejected or cut"
            ));
        }
        (Some(a), Some(b)) if b < a => {
            return Some(format!(
                "max_length shrinks from {a} to {b}; longer values are rejected or cut"
            ));
        }
        _ => {}
    }
    if old.field_type == T::Decimal {
        let digits = |f: &FieldState| {
            f.precision
                .map(|p| (p.saturating_sub(f.scale.unwrap_or(0)), f.scale.unwrap_or(0)))
        };
        match (digits(old), digits(new)) {
            (None, Some(_)) => {
                return Some(format!(
                    "becomes {}; values with more digits are rejected or rounded",
                    decimal(new)
                ));
            }
            (Some((oi, os)), Some((ni, ns))) if ni < oi || ns < os => {
                return Some(format!(
                    "changes from {} to {}; values with more digits are rejected or rounded",
                    decimal(old),
                    decimal(new)
                ));
            }
            _ => {}
        }
    }
    None
}

fn decimal(f: &FieldState) -> String {
    match (f.precision, f.scale) {
        (Some(p), Some(s)) => format!("Decimal({p}, {s})"),
        (Some(p), None) => format!("Decimal({p})"),
        _ => "Decimal".to_owned(),
    }
}

/// PostgreSQL: the old and new column types when the change rewrites the table. A longer
/// VARCHAR, VARCHAR to TEXT and a NUMERIC with more precision (same scale) or none are
/// binary-compatible and only change the catalog.
fn postgres_rewrite(old: &FieldState, new: &FieldState) -> Option<(String, String)> {
    use FieldType as T;
    let from = column_type(DialectKind::Postgres, old).ok()?;
    let to = column_type(DialectKind::Postgres, new).ok()?;
    if from == to {
        return None;
    }
    let catalog_only = match (old.field_type, new.field_type) {
        (T::String, T::String) => match (old.max_length, new.max_length) {
            (Some(a), Some(b)) => b >= a,
            (_, None) => true,
            (None, Some(_)) => false,
        },
        (T::String, T::Text) => true,
        (T::Decimal, T::Decimal) => match (old.precision, new.precision) {
            (_, None) => true,
            (Some(a), Some(b)) => b >= a && old.scale.unwrap_or(0) == new.scale.unwrap_or(0),
            (None, Some(_)) => false,
        },
        _ => false,
    };
    (!catalog_only).then_some((from, to))
}

/// MySQL: the old and new column types when the type change needs ALGORITHM=COPY. A longer
/// VARCHAR whose length still takes the same number of bytes to store (up to 255 bytes, 63
/// utf8mb4 characters, or above) is INPLACE.
fn mysql_copy_type(old: &FieldState, new: &FieldState) -> Option<(String, String)> {
    let from = column_type(DialectKind::Mysql, old).ok()?;
    let to = column_type(DialectKind::Mysql, new).ok()?;
    if from == to {
        return None;
    }
    let one_length_byte = |n: u32| n.saturating_mul(4) <= 255;
    if old.field_type == FieldType::String
        && new.field_type == FieldType::String
        && let (Some(a), Some(b)) = (old.max_length, new.max_length)
        && b > a
        && one_length_byte(a) == one_length_byte(b)
    {
        return None;
    }
    Some((from, to))
}

/// PostgreSQL functions that are volatile: a default calling one is computed per row.
const VOLATILE_FUNCTIONS: &[&str] = &[
    "random",
    "gen_random_uuid",
    "uuid_generate_v1",
    "uuid_generate_v1mc",
    "uuid_generate_v4",
    "uuidv4",
    "uuidv7",
    "clock_timestamp",
    "timeofday",
    "nextval",
    "txid_current",
    "statement_timestamp",
];

/// The volatile function a `db_default` calls, if any.
fn volatile_function(expr: &str) -> Option<&'static str> {
    let compact: String = expr
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    VOLATILE_FUNCTIONS.iter().copied().find(|f| {
        compact.match_indices(&format!("{f}(")).any(|(at, _)| {
            // A whole name, not the end of a longer one (`my_random(`).
            compact[..at]
                .chars()
                .next_back()
                .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'))
        })
    })
}

/// The first statement of `sql` that deletes data, as written in upper case.
fn destructive_sql(sql: &str) -> Option<&'static str> {
    const STATEMENTS: &[&str] = &[
        "DROP TABLE",
        "DROP COLUMN",
        "DROP SCHEMA",
        "DROP DATABASE",
        "TRUNCATE",
        "DELETE FROM",
    ];
    let words: Vec<String> = sql
        .split(|c: char| c.is_whitespace() || c == ';' || c == '(')
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_uppercase)
        .collect();
    let text = format!(" {} ", words.join(" "));
    STATEMENTS
        .iter()
        .copied()
        .find(|s| text.contains(&format!(" {s} ")))
}

/// The findings as text, grouped by migration, each with its code, severity, operation,
/// message, why and what to do instead. `paint` colours the `error[CH102]` label.
pub fn render_text(findings: &[Finding], paint: &dyn Fn(Severity, &str) -> String) -> String {
    let mut out = String::new();
    let mut current: Option<&MigrationKey> = None;
    for f in findings {
        if current != Some(&f.migration) {
            out.push_str(&format!("{}\n", f.migration));
            current = Some(&f.migration);
        }
        let label = paint(f.severity(), &format!("{}[{}]", f.severity(), f.code()));
        out.push_str(&format!(
            "  {label} operation {}: {} ({})\n",
            f.operation,
            f.summary,
            f.dialect_list()
        ));
        out.push_str(&format!("    {}\n", f.message));
        out.push_str(&format!("    why: {}\n", f.rule.why));
        out.push_str(&format!("    instead: {}\n", f.rule.instead));
    }
    out
}

/// `1 error, 2 warnings, 0 notices`.
pub fn count_line(findings: &[Finding]) -> String {
    let count = |s: Severity| findings.iter().filter(|f| f.severity() == s).count();
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    format!(
        "{}, {}, {}",
        plural(count(Severity::Error), "error"),
        plural(count(Severity::Warning), "warning"),
        plural(count(Severity::Notice), "notice")
    )
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// `users` (id, email nullable, name VARCHAR(50), age nullable) and `posts` (id, author_id
    /// -> users, title).
    const INITIAL: &str = r#"
[[operations]]
type = "CreateModel"
model = "User"
table = "users"

[[operations.fields]]
name = "id"
type = "BigInteger"
primary_key = true
auto_increment = true

[[operations.fields]]
name = "email"
type = "String"
max_length = 100
nullable = true

[[operations.fields]]
name = "name"
type = "String"
max_length = 50

[[operations.fields]]
name = "age"
type = "Integer"
nullable = true

[[operations.fields]]
name = "nick"
column = "nickname"
type = "String"
max_length = 30
nullable = true

[[operations]]
type = "CreateModel"
model = "Post"
table = "posts"

[[operations.fields]]
name = "id"
type = "BigInteger"
primary_key = true
auto_increment = true

[[operations.fields]]
name = "author_id"
type = "BigInteger"

[operations.fields.foreign_key]
app = "default"
model = "User"
table = "users"
column = "id"

[[operations.fields]]
name = "title"
type = "String"
max_length = 200
"#;

    fn migration(id: &str, deps: &[&str], ops: &str) -> Migration {
        let text = format!(
            "[migration]\nid = \"{id}\"\napp = \"default\"\ndependencies = {deps:?}\n{ops}"
        );
        Migration::parse(Path::new(id), &text).expect("a valid migration")
    }

    fn graph(ops: &str) -> Graph {
        Graph::new(vec![
            LoadedMigration::new(migration("0001_initial", &[], INITIAL), "1".into()),
            LoadedMigration::new(migration("0002_change", &["0001_initial"], ops), "2".into()),
        ])
        .expect("a valid graph")
    }

    fn lint_for(ops: &str, dialects: &[DialectKind]) -> Vec<Finding> {
        lint_migration(
            &graph(ops),
            &MigrationKey::new("default", "0002_change"),
            dialects,
        )
        .expect("lint runs")
    }

    fn lint(ops: &str) -> Vec<Finding> {
        lint_for(ops, &ALL_DIALECTS)
    }

    fn codes(findings: &[Finding]) -> Vec<&'static str> {
        findings.iter().map(Finding::code).collect()
    }

    fn find<'a>(findings: &'a [Finding], code: &str) -> &'a Finding {
        findings
            .iter()
            .find(|f| f.code() == code)
            .unwrap_or_else(|| panic!("no {code} in {:?}", codes(findings)))
    }

    fn names(f: &Finding) -> Vec<&'static str> {
        f.dialects.iter().map(|d| d.name()).collect()
    }

    const NEW_TAGS: &str = r#"
[[operations]]
type = "CreateModel"
model = "Tag"
table = "tags"

[[operations.fields]]
name = "id"
type = "BigInteger"
primary_key = true
auto_increment = true

[[operations.fields]]
name = "label"
type = "String"
max_length = 40
nullable = true
"#;

    #[test]
    fn lint_rules_have_unique_codes_in_their_category_range() {
        let mut seen = BTreeSet::new();
        for r in RULES {
            assert!(seen.insert(r.code), "{} twice", r.code);
            let hundreds = match r.category {
                Category::Destructive => '1',
                Category::BackwardIncompatible => '2',
                Category::Locking => '3',
                Category::DataDependent => '4',
                Category::Irreversible => '5',
            };
            assert!(
                r.code.starts_with("CH") && r.code.chars().nth(2) == Some(hundreds),
                "{} is not in the range of {}",
                r.code,
                r.category
            );
            assert!(!r.dialects.is_empty());
            assert_eq!(rule(r.code), r);
        }
    }

    #[test]
    fn lint_docs_list_every_rule_with_its_severity_and_dialects() {
        let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/lint.md"))
            .expect("docs/lint.md exists");
        for r in RULES {
            let row = docs
                .lines()
                .find(|l| l.starts_with(&format!("| [`{}`]", r.code)))
                .unwrap_or_else(|| panic!("docs/lint.md has no table row for {}", r.code));
            assert!(
                row.contains(&format!("| {} |", r.severity)),
                "{}: {row}",
                r.code
            );
            assert!(
                row.contains(&format!("| {} |", r.category)),
                "{}: {row}",
                r.code
            );
            let dialects = if r.dialects.len() == 3 {
                "all".to_owned()
            } else {
                r.dialects
                    .iter()
                    .map(|d| d.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            assert!(
                row.contains(&format!("| {dialects} |")),
                "{}: {row}",
                r.code
            );
            assert!(
                docs.contains(&format!("### {}", r.code)),
                "docs/lint.md has no section for {}",
                r.code
            );
        }
    }

    #[test]
    fn lint_dropping_a_table_or_a_column_is_an_error_naming_it() {
        let f = lint(
            r#"
[[operations]]
type = "RemoveField"
model = "User"
table = "users"
name = "nick"

[[operations]]
type = "DeleteModel"
model = "Post"
table = "posts"
"#,
        );
        assert_eq!(codes(&f), ["CH102", "CH101"]);
        let column = find(&f, "CH102");
        assert_eq!(column.severity(), Severity::Error);
        assert_eq!(column.operation, 1);
        assert_eq!(column.summary, "RemoveField User.nick");
        // The column, not the field name.
        assert_eq!(column.object.as_deref(), Some("users.nickname"));
        assert_eq!(
            column.message,
            "drops column `users`.`nickname` and its data"
        );
        assert_eq!(names(column), ["postgres", "mysql", "sqlite"]);
        let table = find(&f, "CH101");
        assert_eq!(table.operation, 2);
        assert_eq!(table.object.as_deref(), Some("posts"));
    }

    #[test]
    fn lint_a_table_created_in_the_same_migration_is_new() {
        let f = lint(&format!(
            r#"{NEW_TAGS}
[[operations]]
type = "CreateIndex"
model = "Tag"
table = "tags"
name = "tags_label_idx"
fields = ["label"]
unique = true

[[operations]]
type = "AddConstraint"
model = "Tag"
table = "tags"
name = "tags_label_check"
check = "label <> ''"

[[operations]]
type = "AddField"
model = "Tag"
table = "tags"
name = "slug"
field_type = "String"
max_length = 40

[[operations]]
type = "AlterField"
model = "Tag"
table = "tags"
name = "label"
field_type = "Integer"

[[operations]]
type = "RenameModel"
old_name = "Tag"
new_name = "Label"
old_table = "tags"
new_table = "labels"

[[operations]]
type = "RemoveField"
model = "Label"
table = "labels"
name = "slug"

[[operations]]
type = "DeleteModel"
model = "Label"
table = "labels"
"#
        ));
        assert_eq!(codes(&f), Vec::<&str>::new());
    }

    #[test]
    fn lint_renaming_a_table_or_column_breaks_running_code() {
        let f = lint(
            r#"
[[operations]]
type = "RenameModel"
old_name = "User"
new_name = "Person"
old_table = "users"
new_table = "people"

[[operations]]
type = "RenameField"
model = "Person"
table = "people"
old_name = "email"
new_name = "mail"
"#,
        );
        assert_eq!(codes(&f), ["CH201", "CH202"]);
        assert_eq!(
            find(&f, "CH201").message,
            "renames table `users` to `people`"
        );
        assert_eq!(
            find(&f, "CH202").message,
            "renames column `people`.`email` to `mail`"
        );
        assert_eq!(find(&f, "CH201").severity(), Severity::Warning);

        // Only the model or field name changes: the table and column stay.
        let f = lint(
            r#"
[[operations]]
type = "RenameModel"
old_name = "User"
new_name = "Person"
old_table = "users"
new_table = "users"

[[operations]]
type = "RenameField"
model = "Person"
table = "users"
old_name = "nick"
new_name = "handle"
"#,
        );
        assert_eq!(codes(&f), Vec::<&str>::new());
    }

    #[test]
    fn lint_mysql_copies_a_table_to_rename_its_foreign_keys() {
        let ops = r#"
[[operations]]
type = "RenameField"
model = "Post"
table = "posts"
old_name = "author_id"
new_name = "writer_id"

[[operations]]
type = "RenameModel"
old_name = "Post"
new_name = "Article"
old_table = "posts"
new_table = "articles"
"#;
        let f = lint(ops);
        assert_eq!(codes(&f), ["CH202", "CH321", "CH201", "CH321"]);
        assert_eq!(names(&f[1]), ["mysql"]);
        assert!(
            f[3].message.contains("has foreign keys"),
            "{}",
            f[3].message
        );
        let f = lint_for(ops, &[DialectKind::Postgres]);
        assert_eq!(codes(&f), ["CH202", "CH201"]);
    }

    fn alter_name(extra: &str) -> String {
        format!(
            r#"
[[operations]]
type = "AlterField"
model = "User"
table = "users"
name = "name"
{extra}
"#
        )
    }

    #[test]
    fn lint_narrowing_a_column_is_an_error_widening_is_not() {
        let f = lint(&alter_name("field_type = \"String\"\nmax_length = 20"));
        let narrow = find(&f, "CH103");
        assert_eq!(narrow.severity(), Severity::Error);
        assert_eq!(
            narrow.message,
            "alters `users`.`name`: max_length shrinks from 50 to 20; longer values are rejected or cut"
        );
        // PostgreSQL checks the values while rewriting; MySQL copies the table.
        assert_eq!(codes(&f), ["CH103", "CH305", "CH321", "CH341"]);

        let f = lint(&alter_name("field_type = \"Integer\""));
        assert!(
            find(&f, "CH103")
                .message
                .contains("type changes from String to Integer"),
            "{f:?}"
        );

        // A longer VARCHAR: no data loss, no rewrite on PostgreSQL, INPLACE on MySQL while the
        // length still fits one byte (63 utf8mb4 characters).
        let f = lint(&alter_name("field_type = \"String\"\nmax_length = 60"));
        assert_eq!(codes(&f), ["CH341"]);
        // Past 63 characters the length takes two bytes: MySQL copies the table.
        let f = lint(&alter_name("field_type = \"String\"\nmax_length = 64"));
        assert_eq!(codes(&f), ["CH321", "CH341"]);
        assert_eq!(
            find(&f, "CH321").message,
            "alters `users`.`name` (changes the type from VARCHAR(50) to VARCHAR(64)): MySQL copies the table"
        );
        // VARCHAR to TEXT: catalog-only on PostgreSQL.
        let f = lint_for(
            &alter_name("field_type = \"Text\""),
            &[DialectKind::Postgres],
        );
        assert_eq!(codes(&f), Vec::<&str>::new());
    }

    #[test]
    fn lint_retyping_rewrites_the_table_on_postgres_and_copies_it_on_mysql() {
        let ops = r#"
[[operations]]
type = "AlterField"
model = "User"
table = "users"
name = "age"
field_type = "BigInteger"
nullable = true
"#;
        let f = lint(ops);
        // SQLite stores both as INTEGER: nothing changes there.
        assert_eq!(codes(&f), ["CH305", "CH321"]);
        assert_eq!(
            find(&f, "CH305").message,
            "changes `users`.`age` from INTEGER to BIGINT: PostgreSQL rewrites the table"
        );
        assert_eq!(names(find(&f, "CH305")), ["postgres"]);
        assert_eq!(codes(&lint_for(ops, &[DialectKind::Mysql])), ["CH321"]);
    }

    #[test]
    fn lint_a_new_not_null_column_needs_a_default() {
        let add = |extra: &str| {
            format!(
                r#"
[[operations]]
type = "AddField"
model = "User"
table = "users"
name = "phone"
field_type = "String"
max_length = 20
{extra}
"#
            )
        };
        // No default, no fill: fails on any table with rows.
        let f = lint(&add(""));
        assert_eq!(codes(&f), ["CH401", "CH341"]);
        assert_eq!(find(&f, "CH401").severity(), Severity::Error);
        assert_eq!(
            find(&f, "CH401").message,
            "new NOT NULL column `users`.`phone` has no default and no fill value: the migration fails if `users` has rows"
        );
        // A fill value fills the existing rows but is not kept as a default.
        let f = lint(&add("fill = \"n/a\""));
        assert_eq!(codes(&f), ["CH203", "CH341"]);
        // A default: nothing to say on PostgreSQL and MySQL.
        let f = lint_for(
            &add("default = \"n/a\""),
            &[DialectKind::Postgres, DialectKind::Mysql],
        );
        assert_eq!(codes(&f), Vec::<&str>::new());
    }

    #[test]
    fn lint_a_nullable_column_is_instant_everywhere() {
        let f = lint(
            r#"
[[operations]]
type = "AddField"
model = "User"
table = "users"
name = "phone"
field_type = "String"
max_length = 20
nullable = true

[[operations]]
type = "AddField"
model = "User"
table = "users"
name = "created_at"
field_type = "DateTime"
db_default = "CURRENT_TIMESTAMP"
"#,
        );
        // MySQL adds a column at the end INSTANT; PostgreSQL with a stable default too.
        assert_eq!(codes(&f), ["CH341"], "{f:?}");
        assert_eq!(f[0].operation, 2, "SQLite adds the first with ADD COLUMN");
    }

    #[test]
    fn lint_a_volatile_default_rewrites_the_table_on_postgres() {
        let f = lint_for(
            r#"
[[operations]]
type = "AddField"
model = "User"
table = "users"
name = "token"
field_type = "Uuid"
db_default = "gen_random_uuid()"
"#,
            &[DialectKind::Postgres],
        );
        assert_eq!(codes(&f), ["CH307"]);
        assert_eq!(
            f[0].message,
            "new column `users`.`token` has the volatile default `gen_random_uuid(...)`: PostgreSQL rewrites the table"
        );
        assert_eq!(volatile_function("now()"), None);
        assert_eq!(volatile_function("CURRENT_TIMESTAMP"), None);
        assert_eq!(volatile_function("my_random()"), None);
        assert_eq!(volatile_function("(RANDOM () * 10)::int"), Some("random"));
        assert_eq!(
            volatile_function("nextval('users_seq'::regclass)"),
            Some("nextval")
        );
    }

    #[test]
    fn lint_making_a_column_not_null() {
        let ops = r#"
[[operations]]
type = "AlterField"
model = "User"
table = "users"
name = "email"
field_type = "String"
max_length = 100
"#;
        let f = lint(ops);
        assert_eq!(codes(&f), ["CH402", "CH306", "CH341"]);
        assert_eq!(
            find(&f, "CH402").message,
            "`users`.`email` becomes NOT NULL without a default: rows holding NULL make the migration fail"
        );
        // MySQL changes nullability INPLACE with writes allowed.
        assert_eq!(codes(&lint_for(ops, &[DialectKind::Mysql])), ["CH402"]);
        let f = lint(&format!("{ops}fill = \"none\"\n"));
        assert_eq!(
            find(&f, "CH402").message,
            "`users`.`email` becomes NOT NULL: rows holding NULL are set to the fill value first"
        );
    }

    #[test]
    fn lint_an_index_on_an_existing_table_without_concurrently() {
        let ops = r#"
[[operations]]
type = "CreateIndex"
model = "User"
table = "users"
name = "users_email_idx"
fields = ["email"]
unique = true
"#;
        let f = lint(ops);
        assert_eq!(codes(&f), ["CH301", "CH403"]);
        assert_eq!(names(find(&f, "CH301")), ["postgres"]);
        assert_eq!(
            find(&f, "CH301").message,
            "creates index `users_email_idx` on existing table `users` without CONCURRENTLY"
        );
        // MySQL and SQLite build indexes while writes go on (or under the one write lock).
        let f = lint_for(
            &ops.replace("unique = true", ""),
            &[DialectKind::Mysql, DialectKind::Sqlite],
        );
        assert_eq!(codes(&f), Vec::<&str>::new());
    }

    /// `#[chakra(online)]`: PostgreSQL builds the index concurrently and validates the
    /// constraints and the foreign key without blocking writes, so the locking rules of
    /// PostgreSQL stay quiet; what the existing rows may break is still said.
    #[test]
    fn online_operations_take_no_long_locks_on_postgres() {
        let f = lint_for(
            r#"atomic = false

[[operations]]
type = "CreateIndex"
model = "User"
table = "users"
name = "users_email_idx"
fields = ["email"]
unique = true
online = true

[[operations]]
type = "AddConstraint"
model = "User"
table = "users"
name = "users_email_not_empty"
check = "email <> ''"
online = true

[[operations]]
type = "AddField"
model = "User"
table = "users"
name = "invited_by"
field_type = "BigInteger"
nullable = true
online = true

[operations.foreign_key]
app = "default"
model = "User"
table = "users"
column = "id"
"#,
            &[DialectKind::Postgres],
        );
        assert_eq!(codes(&f), ["CH403", "CH404"]);
    }

    #[test]
    fn lint_constraints_on_existing_tables() {
        let f = lint(
            r#"
[[operations]]
type = "AddConstraint"
model = "User"
table = "users"
name = "users_age_check"
check = "age >= 0"

[[operations]]
type = "AddConstraint"
model = "User"
table = "users"
name = "users_name_email_uniq"
unique = ["name", "email"]
"#,
        );
        assert_eq!(
            codes(&f),
            [
                "CH304", "CH404", "CH321", "CH341", "CH302", "CH403", "CH341"
            ]
        );
        assert_eq!(
            find(&f, "CH404").message,
            "adds CHECK constraint `users_age_check` (age >= 0) over the existing rows of `users`: a row that violates it makes the migration fail"
        );
        assert_eq!(names(find(&f, "CH321")), ["mysql"]);
    }

    #[test]
    fn lint_foreign_keys_on_existing_tables() {
        let add = r#"
[[operations]]
type = "AddField"
model = "Post"
table = "posts"
name = "editor_id"
field_type = "BigInteger"
nullable = true

[operations.foreign_key]
app = "default"
model = "User"
table = "users"
column = "id"
"#;
        let f = lint(add);
        // A nullable column holds no value to check; the locks remain.
        assert_eq!(codes(&f), ["CH303", "CH321"]);
        assert_eq!(
            find(&f, "CH303").message,
            "adds foreign key `posts`.`editor_id` -> `users`.`id`: both tables are locked while it is checked"
        );
        assert_eq!(
            find(&f, "CH321").message,
            "adds a foreign key to `users`: MySQL copies `posts`"
        );

        // An existing column becomes a foreign key: its values must match.
        let f = lint(
            r#"
[[operations]]
type = "AlterField"
model = "User"
table = "users"
name = "age"
field_type = "BigInteger"
nullable = true

[operations.foreign_key]
app = "default"
model = "Post"
table = "posts"
column = "id"
"#,
        );
        assert!(codes(&f).contains(&"CH405"), "{:?}", codes(&f));
        assert!(codes(&f).contains(&"CH303"), "{:?}", codes(&f));

        // Only the ON DELETE rule changes: PostgreSQL re-validates, the values already match.
        let f = lint_for(
            r#"
[[operations]]
type = "AlterField"
model = "Post"
table = "posts"
name = "author_id"
field_type = "BigInteger"

[operations.foreign_key]
app = "default"
model = "User"
table = "users"
column = "id"
on_delete = "cascade"
"#,
            &[DialectKind::Postgres],
        );
        assert_eq!(codes(&f), ["CH303"]);
    }

    #[test]
    fn lint_a_unique_column_added_with_one_value_for_every_row() {
        let f = lint_for(
            r#"
[[operations]]
type = "AddField"
model = "User"
table = "users"
name = "code"
field_type = "String"
max_length = 10
unique = true
default = "x"
"#,
            &[DialectKind::Postgres],
        );
        assert_eq!(codes(&f), ["CH302", "CH403"]);
        assert!(
            find(&f, "CH403")
                .message
                .contains("the same value in every existing row")
        );
    }

    #[test]
    fn lint_run_sql_without_reverse_and_destructive_sql() {
        let f = lint(
            r#"
[[operations]]
type = "RunSQL"
forward = "UPDATE users SET age = 0 WHERE age IS NULL"

[[operations]]
type = "RunSQL"
forward = "truncate   posts"
reverse = "SELECT 1"

[[operations]]
type = "RunSQL"
forward = "UPDATE users SET name = lower(name)"
reversible = true

[[operations]]
type = "RunRust"
forward = "blog::fill_slugs"
"#,
        );
        assert_eq!(codes(&f), ["CH501", "CH104", "CH502"]);
        assert_eq!(f[0].operation, 1);
        assert_eq!(f[0].object, None);
        assert_eq!(f[1].message, "RunSQL runs `TRUNCATE`, which deletes data");
        assert_eq!(f[1].severity(), Severity::Notice);
        assert_eq!(
            f[2].message,
            "RunRust `blog::fill_slugs` has no `reverse`: the migration cannot be rolled back"
        );
        assert_eq!(
            destructive_sql("SELECT 1; drop\n table old_posts"),
            Some("DROP TABLE")
        );
        assert_eq!(destructive_sql("UPDATE deleted_from SET x = 1"), None);
        assert_eq!(
            destructive_sql("ALTER TABLE t\n  DROP COLUMN c;"),
            Some("DROP COLUMN")
        );
    }

    #[test]
    fn lint_findings_name_only_the_linted_dialects() {
        let ops = r#"
[[operations]]
type = "RemoveField"
model = "User"
table = "users"
name = "age"
"#;
        let f = lint_for(ops, &[DialectKind::Sqlite, DialectKind::Postgres]);
        assert_eq!(names(&f[0]), ["postgres", "sqlite"]);
    }

    #[test]
    fn lint_new_migrations_replace_the_files_of_the_same_id() {
        let existing = vec![
            LoadedMigration::new(migration("0001_initial", &[], INITIAL), "1".into()),
            // An older version of the new migration, already written.
            LoadedMigration::new(migration("0002_change", &["0001_initial"], ""), "2".into()),
        ];
        let new = migration(
            "0002_change",
            &["0001_initial"],
            r#"
[[operations]]
type = "DeleteModel"
model = "Post"
table = "posts"
"#,
        );
        let f = lint_new_migrations(existing, &[new], &[DialectKind::Sqlite]).expect("lint");
        assert_eq!(codes(&f), ["CH101"]);
        assert_eq!(f[0].migration.id, "0002_change");
    }

    #[test]
    fn lint_an_unknown_migration_is_an_error() {
        let err = lint_migration(
            &graph(""),
            &MigrationKey::new("default", "0009_nope"),
            &ALL_DIALECTS,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "no migration `0009_nope`; `migrate status` lists them"
        );
    }

    #[test]
    fn lint_json_form_is_stable() {
        let f = lint_for(
            r#"
[[operations]]
type = "RemoveField"
model = "User"
table = "users"
name = "age"
"#,
            &[DialectKind::Postgres],
        );
        let json = f[0].to_json();
        let keys: Vec<&str> = json
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "app",
                "category",
                "code",
                "dialects",
                "instead",
                "message",
                "migration",
                "object",
                "operation",
                "severity",
                "summary",
                "title",
                "why"
            ]
        );
        assert_eq!(json["code"], "CH102");
        assert_eq!(json["severity"], "error");
        assert_eq!(json["category"], "destructive");
        assert_eq!(json["migration"], "0002_change");
        assert_eq!(json["operation"], 1);
        assert_eq!(json["object"], "users.age");
        assert_eq!(json["dialects"], serde_json::json!(["postgres"]));
    }

    #[test]
    fn lint_text_rendering() {
        let f = lint(
            r#"
[[operations]]
type = "RemoveField"
model = "User"
table = "users"
name = "age"

[[operations]]
type = "CreateIndex"
model = "User"
table = "users"
name = "users_name_idx"
fields = ["name"]

[[operations]]
type = "RunSQL"
forward = "UPDATE users SET name = trim(name)"
"#,
        );
        let text = render_text(&f, &|s, label| {
            if s == Severity::Error {
                format!("<{label}>")
            } else {
                label.to_owned()
            }
        });
        insta::assert_snapshot!(text);
        assert_eq!(count_line(&f), "1 error, 2 warnings, 0 notices");
        assert_eq!(
            f[0].one_line(),
            "error[CH102] drops column `users`.`age` and its data (operation 1; postgres, mysql, sqlite)"
        );
    }
}
