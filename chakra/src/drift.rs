//! `migrate drift`: compares the live schema of a database with the schema its applied
//! migrations should have produced.
//!
//! The expected schema is the [`ProjectState`] of the applied migrations (replayed from the
//! files, the graph resolved against the history as `apply` sees it; a migration left
//! part-way on MySQL/MariaDB counts with the operations it completed), rendered for the
//! database by [`expected_schema`]: the dialect's column types, defaults as the dialect
//! writes them, and the keys Chakra creates (on MySQL/MariaDB a UNIQUE constraint is an index
//! and every foreign key has an index of its own name). The actual schema is what
//! [`introspect`](crate::introspect) reads. [`compare`] lists the [`Difference`]s, after
//! normalizing what databases spell their own way:
//!
//! - types: `character varying(50)` is `VARCHAR(50)`, `int8` is `BIGINT`, MariaDB's
//!   `bigint(20)` is `BIGINT` and `tinyint(1)` is `BOOL`, `decimal(10)` is `decimal(10,0)`,
//!   MariaDB's JSON is LONGTEXT; SQLite compares the declared type text (its affinity comes
//!   from it);
//! - defaults: casts (`'x'::character varying`), charset introducers (`_utf8mb4'x'`),
//!   quoting, parentheses, `true`/`1`, number spellings (`-3`, `'-3'::integer`, `1.50`), the
//!   synonyms `CURRENT_TIMESTAMP`/`current_timestamp(6)`/`now()`, JSON text (compared as
//!   JSON), and date/time literals the database completed (`'2020-01-01'` and
//!   `'2020-01-01 00:00:00'`); binary defaults are compared for presence only;
//! - CHECK expressions: quoting, case, parentheses and casts. PostgreSQL and MySQL rewrite
//!   expressions (`IN (...)` becomes `= ANY (ARRAY[...])`, functions get other names), so
//!   there two expressions also match when they name the same columns, strings and numbers:
//!   a changed operator alone is not reported there. The same leniency applies to
//!   `db_default` expressions.
//!
//! A false report on a database that only Chakra migrated is worse than a missed one, so
//! every normalization errs on the side of "the same".
//!
//! # Examples
//!
//! [`check`] does all of this against a live database. Here the "live" schema is the expected
//! one with a column widened by hand and an index added:
//!
//! ```
//! use chakra::dialect::DialectKind;
//! use chakra::drift::{compare, expected_schema};
//! use chakra::introspect::Index;
//! use chakra::state::{FieldState, FieldType, ModelState, ProjectState};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let state = ProjectState::from_models_list(vec![ModelState {
//!     app: "default".into(),
//!     name: "Tag".into(),
//!     table: "tags".into(),
//!     fields: vec![FieldState { max_length: Some(50), ..FieldState::new("label", FieldType::String) }],
//!     indexes: vec![],
//!     constraints: vec![],
//! }])?;
//! let expected = expected_schema(DialectKind::Postgres, &state)?;
//!
//! let mut live = expected.clone();
//! let tags = live.tables.get_mut("tags").expect("expected");
//! tags.columns[0].data_type = "character varying(100)".into();
//! tags.indexes.push(Index { name: "tags_label".into(), columns: vec!["label".into()], unique: false });
//!
//! let found: Vec<String> = compare(DialectKind::Postgres, &expected, &live).iter().map(ToString::to_string).collect();
//! assert_eq!(found, [
//!     "tags: ~ column label: type expected VARCHAR(50), found character varying(100)",
//!     "tags: + index tags_label (label)",
//! ]);
//! # Ok(()) }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

use crate::dialect::{DialectError, DialectKind, column_type, fk_name, quote_str, unique_name};
use crate::graph::{Graph, GraphError, MigrationKey};
use crate::introspect::sql::{Kind, Tok, closing, lex};
use crate::introspect::{Check, Column, ForeignKey, Index, Schema, Table, Unique};
use crate::state::{ConstraintKind, DefaultValue, FieldState, ModelState, ProjectState};

/// What differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// In the database, not in the migrations.
    Extra,
    /// In the migrations, not in the database.
    Missing,
    /// In both, different.
    Changed,
}

/// The kind of object that differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Object {
    /// A table.
    Table,
    /// A column.
    Column,
    /// The primary key.
    PrimaryKey,
    /// An index.
    Index,
    /// A UNIQUE constraint.
    Unique,
    /// A foreign key.
    ForeignKey,
    /// A CHECK constraint.
    Check,
}

impl Object {
    fn label(self) -> &'static str {
        match self {
            Object::Table => "table",
            Object::Column => "column",
            Object::PrimaryKey => "primary key",
            Object::Index => "index",
            Object::Unique => "unique constraint",
            Object::ForeignKey => "foreign key",
            Object::Check => "check constraint",
        }
    }
}

/// What about an object that is in both places differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Aspect {
    /// A column's type.
    Type,
    /// Whether a column accepts NULL.
    Nullable,
    /// A column's default.
    Default,
    /// Whether the database generates a column's values.
    AutoIncrement,
    /// The columns of a key, index or constraint.
    Columns,
    /// Whether an index is UNIQUE.
    Unique,
    /// A constraint's name.
    Name,
    /// The table and columns a foreign key references.
    References,
    /// A foreign key's `ON DELETE` rule.
    OnDelete,
    /// A foreign key's `ON UPDATE` rule.
    OnUpdate,
    /// A CHECK expression.
    Expression,
}

impl Aspect {
    fn label(self) -> &'static str {
        match self {
            Aspect::Type => "type",
            Aspect::Nullable => "nullability",
            Aspect::Default => "default",
            Aspect::AutoIncrement => "auto-increment",
            Aspect::Columns => "columns",
            Aspect::Unique => "uniqueness",
            Aspect::Name => "name",
            Aspect::References => "references",
            Aspect::OnDelete => "ON DELETE",
            Aspect::OnUpdate => "ON UPDATE",
            Aspect::Expression => "expression",
        }
    }
}

/// One difference between the database and its migrations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// The table.
    pub table: String,
    /// Extra, missing or changed.
    pub change: Change,
    /// What kind of object.
    pub object: Object,
    /// The object's name (column, index or constraint), when it has one.
    pub name: Option<String>,
    /// For a changed object: what differs.
    pub aspect: Option<Aspect>,
    /// What the migrations say (for a missing or changed object).
    pub expected: Option<String>,
    /// What the database has (for an extra or changed object).
    pub found: Option<String>,
}

impl Difference {
    /// The difference without its table: `+ index posts_extra (title)`,
    /// `- column body_text TEXT NOT NULL`, `~ column views: type expected INTEGER, found
    /// bigint`.
    pub fn describe(&self) -> String {
        let mut subject = self.object.label().to_owned();
        if let Some(n) = &self.name {
            subject.push(' ');
            subject.push_str(n);
        }
        let text = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".to_owned());
        match self.change {
            Change::Extra if self.object == Object::Table => {
                "+ table (no applied migration creates it)".to_owned()
            }
            Change::Missing if self.object == Object::Table => {
                "- table (the applied migrations create it)".to_owned()
            }
            Change::Extra => join_detail("+", &subject, self.found.as_deref()),
            Change::Missing => join_detail("-", &subject, self.expected.as_deref()),
            Change::Changed => format!(
                "~ {subject}: {} expected {}, found {}",
                self.aspect.map_or("definition", Aspect::label),
                text(&self.expected),
                text(&self.found)
            ),
        }
    }
}

fn join_detail(sign: &str, subject: &str, detail: Option<&str>) -> String {
    match detail.filter(|d| !d.is_empty()) {
        Some(d) => format!("{sign} {subject} {d}"),
        None => format!("{sign} {subject}"),
    }
}

impl fmt::Display for Difference {
    /// `posts: + index posts_extra (title)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.table, self.describe())
    }
}

/// The result of [`check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// How many migrations are applied (the schema they produce is what was compared).
    pub applied: usize,
    /// Migrations left part-way (MySQL/MariaDB), counted with the operations they completed.
    pub partial: Vec<MigrationKey>,
    /// Migrations in the files that the database has not applied (not compared).
    pub pending: usize,
    /// Applied migrations whose file changed since: the comparison uses the file as it is.
    pub edited: Vec<MigrationKey>,
    /// The differences, sorted by table.
    pub differences: Vec<Difference>,
}

/// Why drift could not be checked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DriftError {
    /// Reading the database failed.
    #[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
    #[error(transparent)]
    Executor(#[from] crate::executor::ExecutorError),
    /// The migration files do not form a graph for this history.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Graph(Vec<GraphError>),
    /// Replaying the applied migrations failed.
    #[error(transparent)]
    Replay(#[from] GraphError),
    /// A type or default cannot be written for this database.
    #[error(transparent)]
    Dialect(#[from] DialectError),
    /// An applied migration's file is gone, so its effect is unknown.
    #[error(
        "applied migration `{0}` has no file any more, so drift cannot tell what the database should hold; restore the file from version control"
    )]
    MissingFile(MigrationKey),
}

/// How much of a migration the database holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// All of it.
    Whole,
    /// Its first `n` operations (a migration that failed or was interrupted part-way).
    Operations(usize),
    /// All of it but its last `n` operations (a rollback left part-way).
    Undone(usize),
}

/// The schema the migrations in `applied` produce, replayed from the files of `graph` (a
/// graph resolved against the same history, so that squashes stand for what they replace).
/// Migrations of `graph` that `applied` does not name count as applied when they are in
/// `also_whole` (squashes applied through the migrations they replace).
pub fn applied_state(
    graph: &Graph,
    applied: &BTreeMap<MigrationKey, Applied>,
    also_whole: &BTreeSet<MigrationKey>,
) -> Result<ProjectState, DriftError> {
    let mut state = ProjectState::default();
    for key in graph.order() {
        let Some(m) = graph.get(key) else { continue };
        let ops = &m.migration.operations;
        let n = ops.len();
        let take = match applied.get(key) {
            Some(Applied::Whole) => n,
            Some(Applied::Operations(p)) => (*p).min(n),
            Some(Applied::Undone(p)) => n - (*p).min(n),
            None if also_whole.contains(key) => n,
            None => 0,
        };
        for op in &ops[..take] {
            state
                .apply(&key.app, op)
                .map_err(|source| GraphError::Replay {
                    migration: key.clone(),
                    source,
                })?;
        }
    }
    Ok(state)
}

/// Whether `table` belongs to the history (the history table `history_table` and the tables
/// named after it, such as its audit log).
pub fn is_history_table(table: &str, history_table: &str) -> bool {
    table.starts_with(history_table)
}

/// Reads the database behind `exec` and compares it with the schema of its applied
/// migrations (`graph` is the migration files, unresolved). Tables of the history
/// (`history_table` and names starting with it) are left out.
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
pub async fn check(
    exec: &mut crate::executor::Executor,
    graph: &Graph,
    history_table: &str,
) -> Result<Report, DriftError> {
    use crate::executor::{RowStatus, file_problems};

    let history = exec.history().await?;
    let recorded: BTreeSet<MigrationKey> = history.iter().map(|r| r.key.clone()).collect();
    let done: BTreeSet<MigrationKey> = history
        .iter()
        .filter(|r| r.status == RowStatus::Applied)
        .map(|r| r.key.clone())
        .collect();
    let resolved = graph.resolve(&done, &recorded).map_err(DriftError::Graph)?;
    let mut applied = BTreeMap::new();
    let mut partial = Vec::new();
    for row in &history {
        let progress = usize::try_from(row.progress).unwrap_or(0);
        let part = match row.status {
            RowStatus::Applied => Applied::Whole,
            RowStatus::Failed | RowStatus::Applying => Applied::Operations(progress),
            RowStatus::RollingBack => Applied::Undone(progress),
        };
        if part != Applied::Whole {
            partial.push(row.key.clone());
        }
        if resolved.get(&row.key).is_none() && resolved.replaced_by(&row.key).is_none() {
            return Err(DriftError::MissingFile(row.key.clone()));
        }
        applied.insert(row.key.clone(), part);
    }
    let through = resolved.applied_through_replaced().clone();
    let state = applied_state(&resolved, &applied, &through)?;
    let edited = file_problems(&resolved, &history)
        .into_iter()
        .filter_map(|p| match p {
            crate::executor::FileProblem::Changed { key, .. } => Some(key),
            _ => None,
        })
        .collect();
    let dialect = exec.dialect();
    let expected = expected_schema(dialect, &state)?;
    let mut actual = exec.introspect().await?;
    actual
        .tables
        .retain(|t, _| !is_history_table(t, history_table));
    let counted = resolved
        .order()
        .iter()
        .filter(|k| applied.get(*k) == Some(&Applied::Whole) || through.contains(*k))
        .count();
    let pending = resolved
        .order()
        .iter()
        .filter(|k| !applied.contains_key(*k) && !through.contains(*k))
        .count();
    Ok(Report {
        applied: counted,
        partial,
        pending,
        edited,
        differences: compare(dialect, &expected, &actual),
    })
}

// ----- the expected schema -----

/// The schema `state` gives on `dialect`, in the form [`introspect`](crate::introspect)
/// reads it: types as the dialect writes them, defaults as SQL, and the indexes and
/// constraints Chakra creates for primary keys, UNIQUE fields, foreign keys, indexes and
/// declared constraints.
pub fn expected_schema(dialect: DialectKind, state: &ProjectState) -> Result<Schema, DialectError> {
    let mut schema = Schema::default();
    for model in state.models.values() {
        schema
            .tables
            .insert(model.table.clone(), expected_table(dialect, model)?);
    }
    Ok(schema)
}

fn expected_table(dialect: DialectKind, model: &ModelState) -> Result<Table, DialectError> {
    let mut t = Table::default();
    let single_pk = model.primary_key().len() == 1;
    for f in &model.fields {
        t.columns.push(Column {
            name: f.column().to_owned(),
            data_type: column_type(dialect, f)?,
            nullable: f.nullable && !f.primary_key,
            default: expected_default(dialect, f),
            auto_increment: f.auto_increment,
        });
        let col = f.column().to_owned();
        if f.unique && !(f.primary_key && single_pk) {
            t.uniques.push(Unique {
                name: Some(unique_name(&model.table, &col)),
                columns: vec![col.clone()],
            });
        }
        if let Some(fk) = &f.foreign_key {
            t.foreign_keys.push(ForeignKey {
                name: Some(fk_name(&model.table, &col)),
                columns: vec![col],
                ref_table: fk.table.clone(),
                ref_columns: vec![fk.column.clone()],
                on_delete: fk.on_delete.sql().to_owned(),
                on_update: fk.on_update.sql().to_owned(),
            });
        }
    }
    t.primary_key = model
        .primary_key()
        .iter()
        .map(|f| f.column().to_owned())
        .collect();
    let columns_of = |fields: &[String]| -> Vec<String> {
        fields
            .iter()
            .map(|f| model.column_of(f).to_owned())
            .collect()
    };
    for i in &model.indexes {
        t.indexes.push(Index {
            name: i.name.clone(),
            columns: columns_of(&i.fields),
            unique: i.unique,
        });
    }
    for c in &model.constraints {
        match &c.kind {
            ConstraintKind::Unique { fields } => t.uniques.push(Unique {
                name: Some(c.name.clone()),
                columns: columns_of(fields),
            }),
            ConstraintKind::Check { expr } => t.checks.push(Check {
                name: Some(c.name.clone()),
                expr: expr.trim().to_owned(),
            }),
        }
    }
    if dialect == DialectKind::Mysql {
        // A UNIQUE constraint is an index; a foreign key comes with an index of its name.
        for u in t.uniques.drain(..) {
            t.indexes.push(Index {
                name: u.name.unwrap_or_default(),
                columns: u.columns,
                unique: true,
            });
        }
        for fk in &t.foreign_keys {
            t.indexes.push(Index {
                name: fk.name.clone().unwrap_or_default(),
                columns: fk.columns.clone(),
                unique: false,
            });
        }
    }
    t.indexes.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(t)
}

/// The default of `f` as SQL text, the way the dialect writes it (normalization takes care
/// of the parentheses and the rest).
fn expected_default(dialect: DialectKind, f: &FieldState) -> Option<String> {
    if let Some(v) = &f.default {
        return Some(match v {
            DefaultValue::Bool(b) => match (dialect, b) {
                (DialectKind::Postgres, true) => "TRUE".to_owned(),
                (DialectKind::Postgres, false) => "FALSE".to_owned(),
                (_, true) => "1".to_owned(),
                (_, false) => "0".to_owned(),
            },
            DefaultValue::Int(i) => i.to_string(),
            DefaultValue::Float(x) => format!("{x:?}"),
            DefaultValue::Str(s) => quote_str(dialect, s),
        });
    }
    f.db_default.as_ref().map(|d| d.trim().to_owned())
}

// ----- comparison -----

/// The differences between `expected` (from [`expected_schema`]) and `actual` (read from a
/// database of `dialect`), sorted by table.
pub fn compare(dialect: DialectKind, expected: &Schema, actual: &Schema) -> Vec<Difference> {
    let mut out = Vec::new();
    let names: BTreeSet<&String> = expected.tables.keys().chain(actual.tables.keys()).collect();
    for name in names {
        let diff = |change, object| Difference {
            table: name.clone(),
            change,
            object,
            name: None,
            aspect: None,
            expected: None,
            found: None,
        };
        match (expected.tables.get(name), actual.tables.get(name)) {
            (Some(e), None) => out.push(Difference {
                expected: Some(columns_summary(e)),
                ..diff(Change::Missing, Object::Table)
            }),
            (None, Some(a)) => out.push(Difference {
                found: Some(columns_summary(a)),
                ..diff(Change::Extra, Object::Table)
            }),
            (Some(e), Some(a)) => TableDiff {
                dialect,
                table: name,
                out: &mut out,
            }
            .compare(e, a),
            (None, None) => {}
        }
    }
    out
}

fn columns_summary(t: &Table) -> String {
    let names: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
    format!("({})", names.join(", "))
}

struct TableDiff<'a> {
    dialect: DialectKind,
    table: &'a str,
    out: &'a mut Vec<Difference>,
}

impl TableDiff<'_> {
    fn push(
        &mut self,
        change: Change,
        object: Object,
        name: Option<&str>,
        aspect: Option<Aspect>,
        expected: Option<String>,
        found: Option<String>,
    ) {
        self.out.push(Difference {
            table: self.table.to_owned(),
            change,
            object,
            name: name.map(str::to_owned),
            aspect,
            expected,
            found,
        });
    }

    fn changed(
        &mut self,
        object: Object,
        name: Option<&str>,
        aspect: Aspect,
        expected: String,
        found: String,
    ) {
        self.push(
            Change::Changed,
            object,
            name,
            Some(aspect),
            Some(expected),
            Some(found),
        );
    }

    fn compare(&mut self, e: &Table, a: &Table) {
        self.columns(e, a);
        if e.primary_key != a.primary_key {
            let list = |cols: &[String]| format!("({})", cols.join(", "));
            match (e.primary_key.is_empty(), a.primary_key.is_empty()) {
                (false, true) => self.push(
                    Change::Missing,
                    Object::PrimaryKey,
                    None,
                    None,
                    Some(list(&e.primary_key)),
                    None,
                ),
                (true, false) => self.push(
                    Change::Extra,
                    Object::PrimaryKey,
                    None,
                    None,
                    None,
                    Some(list(&a.primary_key)),
                ),
                _ => self.changed(
                    Object::PrimaryKey,
                    None,
                    Aspect::Columns,
                    list(&e.primary_key),
                    list(&a.primary_key),
                ),
            }
        }
        self.indexes(e, a);
        self.uniques(e, a);
        self.foreign_keys(e, a);
        self.checks(e, a);
    }

    fn columns(&mut self, e: &Table, a: &Table) {
        for ec in &e.columns {
            let Some(ac) = a.column(&ec.name) else {
                self.push(
                    Change::Missing,
                    Object::Column,
                    Some(&ec.name),
                    None,
                    Some(column_summary(ec)),
                    None,
                );
                continue;
            };
            let name = Some(ec.name.as_str());
            if !same_type(self.dialect, &ec.data_type, &ac.data_type) {
                self.changed(
                    Object::Column,
                    name,
                    Aspect::Type,
                    ec.data_type.clone(),
                    ac.data_type.clone(),
                );
            }
            if ec.nullable != ac.nullable {
                let null = |n: bool| if n { "NULL" } else { "NOT NULL" }.to_owned();
                self.changed(
                    Object::Column,
                    name,
                    Aspect::Nullable,
                    null(ec.nullable),
                    null(ac.nullable),
                );
            }
            if ec.auto_increment != ac.auto_increment {
                let yes = |n: bool| if n { "yes" } else { "no" }.to_owned();
                self.changed(
                    Object::Column,
                    name,
                    Aspect::AutoIncrement,
                    yes(ec.auto_increment),
                    yes(ac.auto_increment),
                );
            }
            if !ec.auto_increment
                && !ac.auto_increment
                && !same_default(
                    self.dialect,
                    &ec.data_type,
                    ec.default.as_deref(),
                    ac.default.as_deref(),
                )
            {
                let show = |d: &Option<String>| d.clone().unwrap_or_else(|| "none".to_owned());
                self.changed(
                    Object::Column,
                    name,
                    Aspect::Default,
                    show(&ec.default),
                    show(&ac.default),
                );
            }
        }
        for ac in &a.columns {
            if e.column(&ac.name).is_none() {
                self.push(
                    Change::Extra,
                    Object::Column,
                    Some(&ac.name),
                    None,
                    None,
                    Some(column_summary(ac)),
                );
            }
        }
    }

    fn indexes(&mut self, e: &Table, a: &Table) {
        for ei in &e.indexes {
            let Some(ai) = a.indexes.iter().find(|i| i.name == ei.name) else {
                self.push(
                    Change::Missing,
                    Object::Index,
                    Some(&ei.name),
                    None,
                    Some(index_summary(ei)),
                    None,
                );
                continue;
            };
            if ei.columns != ai.columns {
                self.changed(
                    Object::Index,
                    Some(&ei.name),
                    Aspect::Columns,
                    list(&ei.columns),
                    list(&ai.columns),
                );
            }
            if ei.unique != ai.unique {
                let u = |u: bool| if u { "UNIQUE" } else { "not UNIQUE" }.to_owned();
                self.changed(
                    Object::Index,
                    Some(&ei.name),
                    Aspect::Unique,
                    u(ei.unique),
                    u(ai.unique),
                );
            }
        }
        for ai in &a.indexes {
            if !e.indexes.iter().any(|i| i.name == ai.name) {
                self.push(
                    Change::Extra,
                    Object::Index,
                    Some(&ai.name),
                    None,
                    None,
                    Some(index_summary(ai)),
                );
            }
        }
    }

    fn uniques(&mut self, e: &Table, a: &Table) {
        let (pairs, missing, extra) = pair(
            &e.uniques,
            &a.uniques,
            |u| u.name.as_deref(),
            |u| u.columns.join("\u{1f}"),
        );
        for (eu, au, by_name) in pairs {
            let name = eu.name.as_deref();
            if by_name && eu.columns != au.columns {
                self.changed(
                    Object::Unique,
                    name,
                    Aspect::Columns,
                    list(&eu.columns),
                    list(&au.columns),
                );
            }
            self.name_change(Object::Unique, name, au.name.as_deref());
        }
        for u in missing {
            self.push(
                Change::Missing,
                Object::Unique,
                u.name.as_deref(),
                None,
                Some(format!("UNIQUE {}", list(&u.columns))),
                None,
            );
        }
        for u in extra {
            self.push(
                Change::Extra,
                Object::Unique,
                u.name.as_deref(),
                None,
                None,
                Some(format!("UNIQUE {}", list(&u.columns))),
            );
        }
    }

    /// A constraint matched by its columns or expression under another name.
    fn name_change(&mut self, object: Object, expected: Option<&str>, found: Option<&str>) {
        if let (Some(e), Some(f)) = (expected, found)
            && e != f
        {
            self.changed(object, Some(e), Aspect::Name, e.to_owned(), f.to_owned());
        }
    }

    fn foreign_keys(&mut self, e: &Table, a: &Table) {
        let (pairs, missing, extra) = pair(
            &e.foreign_keys,
            &a.foreign_keys,
            |f| f.name.as_deref(),
            |f| f.columns.join("\u{1f}"),
        );
        for (ef, af, by_name) in pairs {
            let name = ef.name.as_deref().or(af.name.as_deref());
            if by_name && ef.columns != af.columns {
                self.changed(
                    Object::ForeignKey,
                    name,
                    Aspect::Columns,
                    list(&ef.columns),
                    list(&af.columns),
                );
            }
            if ef.ref_table != af.ref_table || ef.ref_columns != af.ref_columns {
                self.changed(
                    Object::ForeignKey,
                    name,
                    Aspect::References,
                    format!("{} {}", ef.ref_table, list(&ef.ref_columns)),
                    format!("{} {}", af.ref_table, list(&af.ref_columns)),
                );
            }
            if !same_rule(self.dialect, &ef.on_delete, &af.on_delete) {
                self.changed(
                    Object::ForeignKey,
                    name,
                    Aspect::OnDelete,
                    ef.on_delete.clone(),
                    af.on_delete.clone(),
                );
            }
            if !same_rule(self.dialect, &ef.on_update, &af.on_update) {
                self.changed(
                    Object::ForeignKey,
                    name,
                    Aspect::OnUpdate,
                    ef.on_update.clone(),
                    af.on_update.clone(),
                );
            }
            self.name_change(Object::ForeignKey, ef.name.as_deref(), af.name.as_deref());
        }
        for f in missing {
            self.push(
                Change::Missing,
                Object::ForeignKey,
                f.name.as_deref(),
                None,
                Some(fk_summary(f)),
                None,
            );
        }
        for f in extra {
            self.push(
                Change::Extra,
                Object::ForeignKey,
                f.name.as_deref(),
                None,
                None,
                Some(fk_summary(f)),
            );
        }
    }

    fn checks(&mut self, e: &Table, a: &Table) {
        let dialect = self.dialect;
        let (pairs, missing, extra) = pair(
            &e.checks,
            &a.checks,
            |c| c.name.as_deref(),
            |c| format!("{:?}", normalize(dialect, &c.expr)),
        );
        for (ec, ac, _) in pairs {
            let name = ec.name.as_deref().or(ac.name.as_deref());
            if !same_expr(dialect, &ec.expr, &ac.expr) {
                self.changed(
                    Object::Check,
                    name,
                    Aspect::Expression,
                    ec.expr.clone(),
                    ac.expr.clone(),
                );
            }
            self.name_change(Object::Check, ec.name.as_deref(), ac.name.as_deref());
        }
        for c in missing {
            self.push(
                Change::Missing,
                Object::Check,
                c.name.as_deref(),
                None,
                Some(format!("CHECK ({})", c.expr)),
                None,
            );
        }
        for c in extra {
            self.push(
                Change::Extra,
                Object::Check,
                c.name.as_deref(),
                None,
                None,
                Some(format!("CHECK ({})", c.expr)),
            );
        }
    }
}

/// Pairs expected and actual constraints: first by name where both have one, then by `key`
/// (columns, or the expression). Returns the pairs (with whether they matched by name), the
/// expected ones left (missing) and the actual ones left (extra).
#[allow(clippy::type_complexity)]
fn pair<'a, T>(
    expected: &'a [T],
    actual: &'a [T],
    name: impl Fn(&T) -> Option<&str>,
    key: impl Fn(&T) -> String,
) -> (Vec<(&'a T, &'a T, bool)>, Vec<&'a T>, Vec<&'a T>) {
    let mut taken = vec![false; actual.len()];
    let mut pairs = Vec::new();
    let mut left = Vec::new();
    for e in expected {
        let found = name(e)
            .and_then(|n| (0..actual.len()).find(|&i| !taken[i] && name(&actual[i]) == Some(n)));
        match found {
            Some(i) => {
                taken[i] = true;
                pairs.push((e, &actual[i], true));
            }
            None => left.push(e),
        }
    }
    let mut missing = Vec::new();
    for e in left {
        let k = key(e);
        match (0..actual.len()).find(|&i| !taken[i] && key(&actual[i]) == k) {
            Some(i) => {
                taken[i] = true;
                pairs.push((e, &actual[i], false));
            }
            None => missing.push(e),
        }
    }
    let extra = actual
        .iter()
        .zip(&taken)
        .filter(|(_, t)| !**t)
        .map(|(a, _)| a)
        .collect();
    (pairs, missing, extra)
}

fn list(cols: &[String]) -> String {
    format!("({})", cols.join(", "))
}

fn column_summary(c: &Column) -> String {
    let mut s = c.data_type.clone();
    s.push_str(if c.nullable { " NULL" } else { " NOT NULL" });
    if let Some(d) = &c.default {
        s.push_str(" DEFAULT ");
        s.push_str(d);
    }
    if c.auto_increment {
        s.push_str(" auto-increment");
    }
    s
}

fn index_summary(i: &Index) -> String {
    format!(
        "{}{}",
        if i.unique { "UNIQUE " } else { "" },
        list(&i.columns)
    )
}

fn fk_summary(f: &ForeignKey) -> String {
    let mut s = format!(
        "{} REFERENCES {} {}",
        list(&f.columns),
        f.ref_table,
        list(&f.ref_columns)
    );
    if f.on_delete != "NO ACTION" {
        s.push_str(" ON DELETE ");
        s.push_str(&f.on_delete);
    }
    if f.on_update != "NO ACTION" {
        s.push_str(" ON UPDATE ");
        s.push_str(&f.on_update);
    }
    s
}

/// Foreign key rules. InnoDB implements NO ACTION as RESTRICT, and MySQL and MariaDB report
/// an unspecified rule as either.
fn same_rule(dialect: DialectKind, e: &str, a: &str) -> bool {
    let canon = |r: &str| {
        if dialect == DialectKind::Mysql && r == "NO ACTION" {
            "RESTRICT".to_owned()
        } else {
            r.to_owned()
        }
    };
    canon(e) == canon(a)
}

// ----- normalization -----

/// A column type in one spelling per dialect: lower case, single spaces, no spaces in the
/// parameters, and each database's synonyms mapped to one name.
///
/// # Examples
///
/// ```
/// use chakra::dialect::DialectKind::{Mysql, Postgres};
/// use chakra::drift::normalize_type;
///
/// assert_eq!(normalize_type(Postgres, "character varying(50)"), normalize_type(Postgres, "VARCHAR( 50 )"));
/// assert_eq!(normalize_type(Postgres, "int8"), normalize_type(Postgres, "BIGINT"));
/// assert_eq!(normalize_type(Mysql, "bigint(20)"), normalize_type(Mysql, "BIGINT"));
/// assert_ne!(normalize_type(Postgres, "VARCHAR(50)"), normalize_type(Postgres, "VARCHAR(100)"));
/// ```
pub fn normalize_type(dialect: DialectKind, ty: &str) -> String {
    let lower = ty.trim().to_lowercase();
    let mut s = lower.split_whitespace().collect::<Vec<_>>().join(" ");
    s = s.replace("( ", "(").replace(" (", "(").replace(", ", ",");
    s = s.replace(" )", ")");
    if dialect == DialectKind::Sqlite {
        return s;
    }
    let (base, rest) = match s.find('(') {
        Some(i) => {
            let close = s[i..].find(')').map_or(s.len(), |j| i + j + 1);
            (
                s[..i].to_owned(),
                (s[i..close].to_owned(), s[close..].to_owned()),
            )
        }
        None => {
            // `bigint unsigned`: the base is the first word, except multi-word names.
            let multi = [
                "double precision",
                "character varying",
                "timestamp with time zone",
                "timestamp without time zone",
                "time with time zone",
                "time without time zone",
            ];
            match multi.iter().find(|m| s.starts_with(*m)) {
                Some(m) => (m.to_string(), (String::new(), s[m.len()..].to_owned())),
                None => match s.split_once(' ') {
                    Some((b, r)) => (b.to_owned(), (String::new(), format!(" {r}"))),
                    None => (s.clone(), (String::new(), String::new())),
                },
            }
        }
    };
    let (params, suffix) = rest;
    let decimal_params = |p: &str| {
        if !p.is_empty() && !p.contains(',') {
            format!("{},0)", p.trim_end_matches(')'))
        } else {
            p.to_owned()
        }
    };
    match dialect {
        DialectKind::Postgres => {
            let base = match base.as_str() {
                "character varying" | "varchar" => "varchar",
                "character" | "char" | "bpchar" => "char",
                "int" | "int4" | "integer" => "integer",
                "int8" | "bigint" => "bigint",
                "int2" | "smallint" => "smallint",
                "float4" | "real" => "real",
                "float8" | "double precision" => "double precision",
                "bool" | "boolean" => "boolean",
                "decimal" | "numeric" => "numeric",
                "timestamptz" => "timestamp with time zone",
                "timetz" => "time with time zone",
                other => other,
            }
            .to_owned();
            let params = if base == "numeric" {
                decimal_params(&params)
            } else {
                params
            };
            let suffix = match (base.as_str(), suffix.trim()) {
                ("timestamp" | "time", "") => " without time zone".to_owned(),
                _ => suffix,
            };
            format!("{base}{params}{suffix}")
        }
        DialectKind::Mysql => {
            let ints = [
                "tinyint",
                "smallint",
                "mediumint",
                "int",
                "integer",
                "bigint",
            ];
            if (base == "tinyint" && params == "(1)" && suffix.is_empty())
                || base == "bool"
                || base == "boolean"
            {
                return "boolean".to_owned();
            }
            if ints.contains(&base.as_str()) {
                let base = if base == "integer" { "int" } else { &base };
                return format!("{base}{suffix}");
            }
            let base = match base.as_str() {
                "double precision" | "real" => "double",
                "numeric" | "dec" | "fixed" => "decimal",
                other => other,
            }
            .to_owned();
            let params = if base == "decimal" {
                decimal_params(&params)
            } else {
                params
            };
            format!("{base}{params}{suffix}")
        }
        DialectKind::Sqlite => s,
    }
}

fn same_type(dialect: DialectKind, expected: &str, actual: &str) -> bool {
    let (e, a) = (
        normalize_type(dialect, expected),
        normalize_type(dialect, actual),
    );
    // MariaDB's JSON is an alias of LONGTEXT (with a json_valid CHECK).
    e == a || (dialect == DialectKind::Mysql && e == "json" && a == "longtext")
}

/// A token of a normalized expression.
#[derive(Debug, Clone)]
enum Norm {
    /// An identifier or keyword, lower case.
    Word(String),
    /// A function name, lower case.
    Func(String),
    /// A string literal's value.
    Str(String),
    /// A number.
    Num(f64),
    /// An operator.
    Op(String),
}

impl PartialEq for Norm {
    fn eq(&self, other: &Norm) -> bool {
        match (self, other) {
            (Norm::Word(a), Norm::Word(b))
            | (Norm::Func(a), Norm::Func(b))
            | (Norm::Str(a), Norm::Str(b))
            | (Norm::Op(a), Norm::Op(b)) => a == b,
            (Norm::Num(a), Norm::Num(b)) => same_number(*a, *b),
            _ => false,
        }
    }
}

fn same_number(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-6 * a.abs().max(b.abs())
}

/// Words that continue a type name after a cast's first word.
const TYPE_WORDS: [&str; 6] = ["varying", "precision", "with", "without", "time", "zone"];

/// Names that mean the current time.
const NOW: [&str; 4] = ["current_timestamp", "now", "localtimestamp", "localtime"];

/// SQL keywords: not values, and what databases rewrite (`IN` to `= ANY (ARRAY[...])`).
const KEYWORDS: [&str; 24] = [
    "and", "or", "not", "is", "null", "in", "any", "all", "some", "array", "between", "like",
    "ilike", "similar", "to", "escape", "case", "when", "then", "else", "end", "distinct", "from",
    "collate",
];

/// Tokens of an expression with what databases change removed: casts, charset
/// introducers, parentheses, quoting, case, and the spellings of booleans, numbers and the
/// current time.
fn normalize(dialect: DialectKind, expr: &str) -> Vec<Norm> {
    let mysql = dialect == DialectKind::Mysql;
    // MySQL shows expression defaults and CHECK clauses with escaped quotes
    // (`_utf8mb4\'x\'`).
    let text = if mysql && expr.contains("\\'") && !has_unescaped_quote(expr) {
        expr.replace("\\'", "'")
    } else {
        expr.to_owned()
    };
    let toks = lex(&text, dialect);
    let mut out: Vec<Norm> = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let t = &toks[i];
        let next = toks.get(i + 1);
        match t.kind {
            Kind::Punct if t.text == "::" => {
                i = skip_cast(&toks, i + 1);
                continue;
            }
            Kind::Punct if t.text == "(" || t.text == ")" => {}
            Kind::Punct => {
                let op = match t.text.as_str() {
                    "!=" => "<>",
                    "==" => "=",
                    other => other,
                };
                out.push(Norm::Op(op.to_owned()));
            }
            Kind::Word
                if next.is_some_and(|n| n.kind == Kind::Str && n.start == t.end)
                    && (t.text.starts_with('_')
                        || ["n", "e"].contains(&t.text.to_lowercase().as_str())) =>
            {
                // A charset introducer (`_utf8mb4'x'`) or a string prefix (`E'x'`).
            }
            Kind::Word | Kind::Ident => {
                let word = t.text.to_lowercase();
                let call = next.is_some_and(|n| n.is("("));
                if NOW.contains(&word.as_str()) {
                    out.push(Norm::Word("current_timestamp".to_owned()));
                    if call {
                        i = closing(&toks, i + 1) + 1;
                        continue;
                    }
                } else if t.kind == Kind::Word && (word == "true" || word == "false") {
                    out.push(Norm::Num(if word == "true" { 1.0 } else { 0.0 }));
                } else if call {
                    let name = match word.as_str() {
                        "lcase" => "lower",
                        "ucase" => "upper",
                        other => other,
                    };
                    out.push(Norm::Func(name.to_owned()));
                } else {
                    out.push(Norm::Word(word));
                }
            }
            Kind::Number => {
                let value: f64 = t.text.parse().unwrap_or(f64::NAN);
                // A sign right after an operator, a comma or the start is part of the number.
                let signed = matches!(out.last(), Some(Norm::Op(o)) if o == "-" || o == "+")
                    && (out.len() == 1 || matches!(out.get(out.len() - 2), Some(Norm::Op(_))));
                if signed && let Some(Norm::Op(sign)) = out.pop() {
                    out.push(Norm::Num(if sign == "-" { -value } else { value }));
                } else {
                    out.push(Norm::Num(value));
                }
            }
            Kind::Str => out.push(Norm::Str(t.text.clone())),
        }
        i += 1;
    }
    out
}

fn has_unescaped_quote(s: &str) -> bool {
    let b = s.as_bytes();
    (0..b.len()).any(|i| b[i] == b'\'' && (i == 0 || b[i - 1] != b'\\'))
}

/// The index after a cast's type (`::character varying(20)[]`), starting at `i`, just after
/// the `::`.
fn skip_cast(toks: &[Tok], mut i: usize) -> usize {
    if toks
        .get(i)
        .is_some_and(|t| matches!(t.kind, Kind::Word | Kind::Ident))
    {
        i += 1;
    }
    while toks.get(i).is_some_and(|t| {
        t.kind == Kind::Word && TYPE_WORDS.contains(&t.text.to_lowercase().as_str())
    }) {
        i += 1;
    }
    if toks.get(i).is_some_and(|t| t.is("(")) {
        i = closing(toks, i) + 1;
    }
    while toks.get(i).is_some_and(|t| t.is("[")) && toks.get(i + 1).is_some_and(|t| t.is("]")) {
        i += 2;
    }
    i
}

/// What stays when databases rewrite an expression: its column names, strings and
/// numbers (keywords, functions and operators left out).
fn values(norm: &[Norm]) -> Vec<String> {
    let mut v: Vec<String> = norm
        .iter()
        .filter_map(|n| match n {
            Norm::Word(w) if !KEYWORDS.contains(&w.as_str()) => Some(format!("w:{w}")),
            Norm::Str(s) => Some(format!("s:{s}")),
            Norm::Num(x) => Some(format!("n:{x}")),
            _ => None,
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Whether two expressions (CHECK or `db_default`) are the same after normalization. On
/// PostgreSQL and MySQL, which rewrite expressions, the same values are enough.
fn same_expr(dialect: DialectKind, e: &str, a: &str) -> bool {
    let (ne, na) = (normalize(dialect, e), normalize(dialect, a));
    ne == na || (dialect != DialectKind::Sqlite && values(&ne) == values(&na))
}

/// The kind of values a column holds, for comparing literal defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Number,
    Temporal,
    Json,
    Binary,
    Other,
}

fn family(dialect: DialectKind, ty: &str) -> (Family, Option<u32>) {
    let t = normalize_type(dialect, ty);
    let base = t.split(['(', ' ']).next().unwrap_or("");
    let scale = || {
        t.split_once('(')
            .and_then(|(_, p)| p.split(')').next())
            .and_then(|p| p.split(',').nth(1))
            .and_then(|s| s.trim().parse().ok())
    };
    let numeric = [
        "boolean",
        "bool",
        "integer",
        "int",
        "bigint",
        "smallint",
        "tinyint",
        "mediumint",
        "real",
        "double",
        "float",
        "numeric",
        "decimal",
    ];
    if numeric.contains(&base) {
        let s = matches!(base, "numeric" | "decimal").then(scale).flatten();
        (Family::Number, s)
    } else if base.contains("json") {
        (Family::Json, None)
    } else if ["bytea", "blob", "longblob", "binary", "varbinary"].contains(&base) {
        (Family::Binary, None)
    } else if dialect != DialectKind::Sqlite && (base.contains("time") || base.contains("date")) {
        (Family::Temporal, None)
    } else {
        (Family::Other, None)
    }
}

/// A single literal of a normalized expression.
fn literal(norm: &[Norm]) -> Option<&Norm> {
    match norm {
        [one @ (Norm::Str(_) | Norm::Num(_))] => Some(one),
        _ => None,
    }
}

/// Whether two defaults of a column of type `ty` are the same.
fn same_default(dialect: DialectKind, ty: &str, e: Option<&str>, a: Option<&str>) -> bool {
    let norm = |d: Option<&str>| {
        d.map(|d| normalize(dialect, d))
            .filter(|n| !n.is_empty() && *n != [Norm::Word("null".to_owned())])
    };
    let (ne, na) = match (norm(e), norm(a)) {
        (Some(ne), Some(na)) => (ne, na),
        (None, None) => return true,
        _ => return false,
    };
    let (family, scale) = family(dialect, ty);
    if family == Family::Binary {
        return true;
    }
    if let (Some(le), Some(la)) = (literal(&ne), literal(&na)) {
        return same_literal(family, scale, le, la);
    }
    ne == na || (dialect != DialectKind::Sqlite && values(&ne) == values(&na))
}

fn same_literal(family: Family, scale: Option<u32>, e: &Norm, a: &Norm) -> bool {
    let number = |n: &Norm| match n {
        Norm::Num(x) => Some(*x),
        Norm::Str(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    let text = |n: &Norm| match n {
        Norm::Str(s) => s.clone(),
        Norm::Num(x) => x.to_string(),
        _ => String::new(),
    };
    match family {
        Family::Number => match (number(e), number(a)) {
            (Some(x), Some(y)) => match scale {
                // The database rounds a default to the column's scale.
                Some(s) => {
                    let f = 10f64.powi(i32::try_from(s).unwrap_or(0));
                    same_number((x * f).round() / f, (y * f).round() / f)
                }
                None => same_number(x, y),
            },
            _ => text(e) == text(a),
        },
        Family::Json => {
            let (te, ta) = (text(e), text(a));
            match (
                serde_json::from_str::<serde_json::Value>(&te),
                serde_json::from_str::<serde_json::Value>(&ta),
            ) {
                (Ok(x), Ok(y)) => x == y,
                _ => te == ta,
            }
        }
        Family::Temporal => {
            // `'2020-01-01'` and `'2020-01-01 00:00:00'`: the database completed the value.
            let digits = |s: String| {
                let d: String = s.chars().filter(char::is_ascii_digit).collect();
                d.trim_end_matches('0').to_owned()
            };
            let (te, ta) = (text(e), text(a));
            te == ta || digits(te) == digits(ta)
        }
        Family::Binary => true,
        Family::Other => match (e, a) {
            (Norm::Num(x), Norm::Num(y)) => same_number(*x, *y),
            _ => {
                text(e) == text(a)
                    || matches!((number(e), number(a)), (Some(x), Some(y)) if same_number(x, y))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{
        ConstraintState, FieldType, ForeignKey as FieldForeignKey, IndexState, OnAction,
    };

    fn same(dialect: DialectKind, ty: &str, e: &str, a: &str) -> bool {
        same_default(dialect, ty, Some(e), Some(a))
    }

    #[test]
    fn types_are_normalized_per_dialect() {
        use DialectKind::*;
        for (d, e, a) in [
            (Postgres, "VARCHAR(50)", "character varying(50)"),
            (Postgres, "BIGINT", "int8"),
            (Postgres, "TIMESTAMP", "timestamp without time zone"),
            (Postgres, "TIMESTAMP WITH TIME ZONE", "timestamptz"),
            (Postgres, "TIME", "time without time zone"),
            (Postgres, "NUMERIC(10)", "numeric(10,0)"),
            (Postgres, "NUMERIC(10,2)", "numeric(10, 2)"),
            (Postgres, "DOUBLE PRECISION", "float8"),
            (Mysql, "BIGINT", "bigint(20)"),
            (Mysql, "INT", "int(11)"),
            (Mysql, "BOOL", "tinyint(1)"),
            (Mysql, "DECIMAL(10)", "decimal(10,0)"),
            (Mysql, "JSON", "longtext"),
            (Mysql, "DATETIME(6)", "datetime(6)"),
            (Sqlite, "VARCHAR(50)", "VARCHAR(50)"),
            (Sqlite, "NUMERIC(10,2)", "numeric(10, 2)"),
        ] {
            assert!(same_type(d, e, a), "{d}: {e} = {a}");
        }
        for (d, e, a) in [
            (Postgres, "INTEGER", "bigint"),
            (Postgres, "VARCHAR(50)", "character varying(60)"),
            (Postgres, "TEXT", "character varying"),
            (Mysql, "INT", "bigint(20)"),
            (Mysql, "BIGINT", "bigint(20) unsigned"),
            (Mysql, "SMALLINT", "tinyint(4)"),
            (Mysql, "LONGTEXT", "json"),
            (Sqlite, "INTEGER", "INT"),
        ] {
            assert!(!same_type(d, e, a), "{d}: {e} != {a}");
        }
    }

    #[test]
    fn defaults_are_normalized() {
        use DialectKind::*;
        assert!(same(
            Postgres,
            "VARCHAR(20)",
            "'it''s'",
            "'it''s'::character varying"
        ));
        assert!(same(Postgres, "INTEGER", "-3", "'-3'::integer"));
        assert!(same(Postgres, "BOOLEAN", "TRUE", "true"));
        assert!(same(Postgres, "TEXT", "lower('X')", "lower('X'::text)"));
        assert!(same(
            Postgres,
            "TIMESTAMP WITH TIME ZONE",
            "CURRENT_TIMESTAMP",
            "now()"
        ));
        assert!(same(
            Postgres,
            "JSONB",
            "'{\"b\":1,  \"a\":2}'",
            "'{\"a\": 2, \"b\": 1}'::jsonb"
        ));
        assert!(same(
            Postgres,
            "TIMESTAMP",
            "'2020-01-01'",
            "'2020-01-01 00:00:00'::timestamp without time zone"
        ));
        assert!(same(Postgres, "NUMERIC(10,2)", "1.5", "1.50"));
        assert!(same(Postgres, "BYTEA", "'abc'", "'\\x616263'::bytea"));
        assert!(same(
            Mysql,
            "DATETIME(6)",
            "CURRENT_TIMESTAMP",
            "current_timestamp(6)"
        ));
        assert!(same(Mysql, "LONGTEXT", "('x')", "'x'"));
        assert!(same(Mysql, "LONGTEXT", "('x')", "_utf8mb4\\'x\\'"));
        assert!(same(Mysql, "LONGTEXT", "(lower('X'))", "lcase('X')"));
        assert!(same(Mysql, "DECIMAL(10)", "1.5", "2"));
        assert!(same(Mysql, "BOOL", "1", "1"));
        assert!(same(Mysql, "VARCHAR(9)", "'C:\\\\temp'", "'C:\\\\temp'"));
        assert!(same(Sqlite, "TEXT", "(lower('X'))", "lower('X')"));
        assert!(same(Sqlite, "REAL", "2.5", "2.5"));
        assert!(same_default(Mysql, "INT", None, Some("NULL")));
        assert!(same_default(Sqlite, "INT", Some("NULL"), None));

        assert!(!same(
            Postgres,
            "VARCHAR(20)",
            "'draft'",
            "'x'::character varying"
        ));
        assert!(!same(Postgres, "INTEGER", "0", "1"));
        assert!(!same(Mysql, "BOOL", "1", "0"));
        assert!(!same(Sqlite, "TEXT", "CURRENT_TIMESTAMP", "CURRENT_DATE"));
        assert!(!same(Postgres, "TIMESTAMP", "'2020-01-01'", "'2020-01-02'"));
        assert!(!same_default(Postgres, "INTEGER", Some("0"), None));
    }

    #[test]
    fn check_expressions_are_normalized() {
        use DialectKind::*;
        assert!(same_expr(Postgres, "views >= 0", "views >= 0"));
        assert!(same_expr(
            Postgres,
            "c1 IS NULL OR c1 = c1",
            "((c1 IS NULL) OR (c1 = c1))"
        ));
        assert!(same_expr(
            Postgres,
            "i IN ('a','b') AND c BETWEEN 1 AND 3 AND i <> ''",
            "(i::text = ANY (ARRAY['a'::character varying, 'b'::character varying]::text[])) AND c >= 1 AND c <= 3 AND i::text <> ''::text"
        ));
        assert!(same_expr(
            Mysql,
            "c IS NULL OR c = c",
            "`c` is null or `c` = `c`"
        ));
        assert!(same_expr(Mysql, "slug <> ''", "(`slug` <> _utf8mb4\\'\\')"));
        assert!(same_expr(Sqlite, "views >= 0", "\"views\" >= 0"));
        assert!(!same_expr(Postgres, "views >= 0", "views >= 10"));
        assert!(!same_expr(Mysql, "slug <> ''", "`title` <> ''"));
        assert!(!same_expr(Sqlite, "views >= 0", "views > 0"));
    }

    fn blog() -> ProjectState {
        let user = ModelState {
            app: "default".into(),
            name: "User".into(),
            table: "users".into(),
            fields: vec![
                FieldState {
                    primary_key: true,
                    auto_increment: true,
                    ..FieldState::new("id", FieldType::BigInteger)
                },
                FieldState {
                    unique: true,
                    max_length: Some(50),
                    ..FieldState::new("username", FieldType::String)
                },
            ],
            indexes: Vec::new(),
            constraints: Vec::new(),
        };
        let post = ModelState {
            app: "default".into(),
            name: "Post".into(),
            table: "posts".into(),
            fields: vec![
                FieldState {
                    primary_key: true,
                    auto_increment: true,
                    ..FieldState::new("id", FieldType::BigInteger)
                },
                FieldState {
                    foreign_key: Some(FieldForeignKey {
                        app: "default".into(),
                        model: "User".into(),
                        table: "users".into(),
                        column: "id".into(),
                        on_delete: OnAction::Cascade,
                        on_update: OnAction::NoAction,
                    }),
                    ..FieldState::new("author_id", FieldType::BigInteger)
                },
                FieldState {
                    default: Some(DefaultValue::Int(0)),
                    ..FieldState::new("views", FieldType::Integer)
                },
            ],
            indexes: vec![IndexState {
                name: "posts_views_idx".into(),
                fields: vec!["views".into()],
                unique: false,
            }],
            constraints: vec![ConstraintState {
                name: "posts_views_non_negative".into(),
                kind: ConstraintKind::Check {
                    expr: "views >= 0".into(),
                },
            }],
        };
        ProjectState::from_models_list(vec![user, post]).expect("models")
    }

    #[test]
    fn a_schema_matches_itself_and_changes_are_reported() {
        for dialect in [
            DialectKind::Postgres,
            DialectKind::Mysql,
            DialectKind::Sqlite,
        ] {
            let expected = expected_schema(dialect, &blog()).expect("schema");
            assert_eq!(compare(dialect, &expected, &expected), []);
            let mut actual = expected.clone();
            actual.tables.insert("extra".into(), Table::default());
            let posts = actual.tables.get_mut("posts").expect("posts");
            posts.columns.retain(|c| c.name != "views");
            posts.checks.clear();
            let lines: Vec<String> = compare(dialect, &expected, &actual)
                .iter()
                .map(ToString::to_string)
                .collect();
            assert!(lines.contains(&"extra: + table (no applied migration creates it)".into()));
            assert!(
                lines
                    .iter()
                    .any(|l| l.starts_with("posts: - column views "))
            );
            assert!(lines.contains(
                &"posts: - check constraint posts_views_non_negative CHECK (views >= 0)".into()
            ));
        }
    }

    #[test]
    fn mysql_keys_are_indexes() {
        let expected = expected_schema(DialectKind::Mysql, &blog()).expect("schema");
        let names: Vec<&str> = expected.tables["posts"]
            .indexes
            .iter()
            .map(|i| i.name.as_str())
            .collect();
        assert_eq!(names, ["posts_author_id_fkey", "posts_views_idx"]);
        assert_eq!(
            expected.tables["users"].indexes[0].name,
            "users_username_key"
        );
        assert!(expected.tables["users"].uniques.is_empty());
    }

    #[test]
    fn describes_differences() {
        let d = Difference {
            table: "posts".into(),
            change: Change::Changed,
            object: Object::Column,
            name: Some("views".into()),
            aspect: Some(Aspect::Type),
            expected: Some("INTEGER".into()),
            found: Some("bigint".into()),
        };
        assert_eq!(
            d.to_string(),
            "posts: ~ column views: type expected INTEGER, found bigint"
        );
    }
}
