//! SQL text for each database. Dialects produce SQL and never run it.
//!
//! [`operation_sql`] turns one [`Operation`] into statements for PostgreSQL, MySQL/MariaDB or
//! SQLite, given the schema before it. One neutral builder (the `Dialect` trait in
//! `common`) writes every statement; each database overrides only what differs: quoting,
//! column types, auto-increment, literals, what `ALTER TABLE` can do, and SQLite's table
//! rebuild. What a database cannot express is a [`DialectError::Unsupported`] that says
//! what to do instead. docs/dialects.md documents the SQL of each database.
//!
//! # Examples
//!
//! ```
//! use chakra::dialect::{DialectKind, operation_sql};
//! use chakra::operations::Operation;
//! use chakra::state::{FieldOperation, FieldState, FieldType, ModelState, ProjectState};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let users = ModelState {
//!     app: "default".into(),
//!     name: "User".into(),
//!     table: "users".into(),
//!     fields: vec![FieldState { primary_key: true, ..FieldState::new("id", FieldType::BigInteger) }],
//!     indexes: vec![],
//!     constraints: vec![],
//! };
//! let before = ProjectState::from_models_list(vec![users.clone()])?;
//! let email = FieldState { max_length: Some(255), nullable: true, ..FieldState::new("email", FieldType::String) };
//! let add = Operation::AddField(FieldOperation::new(&users, &email));
//!
//! let mysql = operation_sql(DialectKind::Mysql, "default", &add, &before)?;
//! assert_eq!(mysql.statements, ["ALTER TABLE `users` ADD COLUMN `email` VARCHAR(255)"]);
//! let postgres = operation_sql("postgresql".parse()?, "default", &add, &before)?;
//! assert_eq!(postgres.statements, ["ALTER TABLE \"users\" ADD COLUMN \"email\" VARCHAR(255)"]);
//! # Ok(()) }
//! ```

mod common;
mod mysql;
mod postgres;
mod sqlite;

use std::fmt;
use std::str::FromStr;

use crate::operations::Operation;
use crate::state::{FieldState, ProjectState, StateError};

use common::Dialect;

pub use common::{fk_name, unique_name};
pub use postgres::pkey_name;
pub use sqlite::rebuild_table_name;

/// The supported databases.
///
/// # Examples
///
/// ```
/// use chakra::dialect::DialectKind;
///
/// let kind: DialectKind = "mariadb".parse().expect("a known name");
/// assert_eq!(kind, DialectKind::Mysql);
/// assert_eq!(kind.to_string(), "mysql");
/// assert!("oracle".parse::<DialectKind>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DialectKind {
    /// PostgreSQL
    Postgres,
    /// MySQL 8 / MariaDB 10.6+
    Mysql,
    /// SQLite 3.35+
    Sqlite,
}

impl DialectKind {
    /// The name used on the command line (`postgres`, `mysql`, `sqlite`).
    pub fn name(self) -> &'static str {
        match self {
            DialectKind::Postgres => "postgres",
            DialectKind::Mysql => "mysql",
            DialectKind::Sqlite => "sqlite",
        }
    }
}

impl fmt::Display for DialectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DialectKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "postgres" | "postgresql" => Ok(DialectKind::Postgres),
            "mysql" | "mariadb" => Ok(DialectKind::Mysql),
            "sqlite" => Ok(DialectKind::Sqlite),
            other => Err(format!(
                "unknown dialect `{other}`; use postgres, mysql or sqlite"
            )),
        }
    }
}

/// The SQL of one operation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OperationSql {
    /// Statements, run in order.
    pub statements: Vec<String>,
    /// SQLite: the operation rebuilds a table, so foreign key enforcement must be off while
    /// the migration runs (it cannot be switched inside a transaction) and
    /// `PRAGMA foreign_key_check` must pass before commit.
    pub rebuilds_table: bool,
    /// PostgreSQL, an online operation: each statement must commit on its own, outside any
    /// transaction (`CREATE INDEX CONCURRENTLY` cannot run in one, and `VALIDATE CONSTRAINT`
    /// must not hold the lock of the `ADD CONSTRAINT ... NOT VALID` before it). The
    /// statements are written so that running them again after an interruption is safe.
    pub outside_transaction: bool,
    /// SQLite, a table rebuild: what does the same when the table holds no rows, without
    /// copying it. The executor checks the table first and runs these instead when it is
    /// empty: SQLite's `ALTER TABLE ... RENAME TO`, the last step of a rebuild, re-reads
    /// every table of the schema, which made the rebuilds of a migration cost the square of
    /// the number of tables (a cycle of foreign keys across apps adds keys to tables just
    /// created, one rebuild each).
    pub when_empty: Option<WhenEmpty>,
}

/// Statements for an empty table, used instead of an operation's own when `table` has no
/// rows (see [`OperationSql::when_empty`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhenEmpty {
    /// The table whose emptiness is checked, before the operation's statements.
    pub table: String,
    /// The statements that replace the operation's when the table is empty.
    pub statements: Vec<String>,
}

/// An operation that a dialect cannot express.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DialectError {
    /// The operation is not supported on this database.
    #[error("{dialect} cannot {what}")]
    Unsupported {
        /// The database.
        dialect: DialectKind,
        /// What it cannot do, and how to get around it.
        what: String,
    },
    /// The operation does not fit the state it is applied to.
    #[error(transparent)]
    State(#[from] StateError),
}

/// The SQL that applies `op` (of app `app`) to a database whose schema is `before`.
pub fn operation_sql(
    kind: DialectKind,
    app: &str,
    op: &Operation,
    before: &ProjectState,
) -> Result<OperationSql, DialectError> {
    dialect(kind).operation(app, op, before)
}

/// The SQL column type of `field` on `kind` (`VARCHAR(50)`, `TIMESTAMP WITH TIME ZONE`, ...).
///
/// # Examples
///
/// ```
/// use chakra::dialect::{DialectKind, column_type};
/// use chakra::state::{FieldState, FieldType};
///
/// let flag = FieldState::new("active", FieldType::Boolean);
/// assert_eq!(column_type(DialectKind::Postgres, &flag).expect("a type"), "BOOLEAN");
/// assert_eq!(column_type(DialectKind::Mysql, &flag).expect("a type"), "BOOL");
/// ```
pub fn column_type(kind: DialectKind, field: &FieldState) -> Result<String, DialectError> {
    dialect(kind).column_type(field)
}

/// The builder of `kind`.
fn dialect(kind: DialectKind) -> &'static dyn Dialect {
    match kind {
        DialectKind::Postgres => &postgres::Postgres,
        DialectKind::Mysql => &mysql::Mysql,
        DialectKind::Sqlite => &sqlite::Sqlite,
    }
}

/// Quotes an identifier for `kind`, doubling embedded quote characters.
///
/// # Examples
///
/// ```
/// use chakra::dialect::{DialectKind, quote_ident, quote_str};
///
/// assert_eq!(quote_ident(DialectKind::Postgres, "order"), "\"order\"");
/// assert_eq!(quote_ident(DialectKind::Mysql, "odd`name"), "`odd``name`");
/// assert_eq!(quote_str(DialectKind::Sqlite, "it's"), "'it''s'");
/// ```
pub fn quote_ident(kind: DialectKind, ident: &str) -> String {
    match kind {
        DialectKind::Mysql => format!("`{}`", ident.replace('`', "``")),
        DialectKind::Postgres | DialectKind::Sqlite => {
            format!("\"{}\"", ident.replace('"', "\"\""))
        }
    }
}

/// Quotes a string literal for `kind`.
pub fn quote_str(kind: DialectKind, value: &str) -> String {
    match kind {
        DialectKind::Mysql => format!("'{}'", value.replace('\\', "\\\\").replace('\'', "''")),
        DialectKind::Postgres | DialectKind::Sqlite => format!("'{}'", value.replace('\'', "''")),
    }
}

/// Queries that tell whether `op` (of app `app`, on a schema that was `before` it) has
/// already taken effect: each returns one integer, non-zero when its part is in place. Used
/// on MySQL/MariaDB, where an operation's DDL commits at once, to resume a migration that
/// was interrupted after an operation ran but before its progress was recorded. Empty when
/// the effect cannot be observed (RunSQL) or running the operation again is harmless
/// (AlterField restates the whole column), and on databases with transactional DDL.
pub fn done_probes(
    kind: DialectKind,
    app: &str,
    op: &Operation,
    before: &ProjectState,
) -> Vec<String> {
    match kind {
        DialectKind::Mysql => {}
        // Online operations are the only steps of PostgreSQL that commit without their
        // progress; the others run in a transaction with it.
        DialectKind::Postgres if op.is_online() => return postgres_online_probes(op),
        _ => return Vec::new(),
    }
    let lit = |s: &str| quote_str(kind, s);
    let table = |t: &str, present: bool| {
        format!(
            "SELECT CAST(COUNT(*) {} AS SIGNED) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = {}",
            if present { "> 0" } else { "= 0" },
            lit(t)
        )
    };
    let column = |t: &str, c: &str, present: bool| {
        format!(
            "SELECT CAST(COUNT(*) {} AS SIGNED) FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = {} AND column_name = {}",
            if present { "> 0" } else { "= 0" },
            lit(t),
            lit(c)
        )
    };
    let index = |t: &str, i: &str, present: bool| {
        format!(
            "SELECT CAST(COUNT(*) {} AS SIGNED) FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = {} AND index_name = {}",
            if present { "> 0" } else { "= 0" },
            lit(t),
            lit(i)
        )
    };
    let constraint = |t: &str, n: &str, present: bool| {
        format!(
            "SELECT CAST(COUNT(*) {} AS SIGNED) FROM information_schema.table_constraints WHERE table_schema = DATABASE() AND table_name = {} AND constraint_name = {}",
            if present { "> 0" } else { "= 0" },
            lit(t),
            lit(n)
        )
    };
    let column_of = |model: &str, field: &str| {
        before
            .model(app, model)
            .and_then(|m| m.field(field))
            .map(|f| f.column().to_owned())
    };
    match op {
        Operation::CreateModel(c) => vec![table(&c.table, true)],
        Operation::DeleteModel(d) => vec![table(&d.table, false)],
        Operation::AddField(f) => vec![column(&f.table, f.field().column(), true)],
        Operation::RemoveField(f) => column_of(&f.model, &f.name)
            .map(|c| vec![column(&f.table, &c, false)])
            .unwrap_or_default(),
        Operation::CreateIndex(i) => vec![index(&i.table, &i.name, true)],
        Operation::DropIndex(i) => vec![index(&i.table, &i.name, false)],
        Operation::RenameModel(r) if r.old_table != r.new_table => {
            vec![table(&r.new_table, true), table(&r.old_table, false)]
        }
        Operation::RenameField(r) => match (
            column_of(&r.model, &r.old_name),
            before.model(app, &r.model),
        ) {
            (Some(old), Some(m)) => {
                let mut f = m
                    .field(&r.old_name)
                    .cloned()
                    .unwrap_or_else(|| FieldState::new(&r.new_name, crate::state::FieldType::Text));
                f.name.clone_from(&r.new_name);
                let new = f.column().to_owned();
                if new == old {
                    Vec::new()
                } else {
                    vec![column(&r.table, &new, true), column(&r.table, &old, false)]
                }
            }
            _ => Vec::new(),
        },
        Operation::RenameIndex(r) => vec![index(&r.table, &r.new_name, true)],
        Operation::AddConstraint(a) => vec![constraint(&a.table, &a.name, true)],
        Operation::RemoveConstraint(r) => vec![constraint(&r.table, &r.name, false)],
        Operation::AlterField(_)
        | Operation::RenameModel(_)
        | Operation::RunSql(_)
        | Operation::RunRust(_) => Vec::new(),
    }
}

/// Probes of an online operation on PostgreSQL: its effect is complete, which for an index
/// means valid (an interrupted `CREATE INDEX CONCURRENTLY` leaves an invalid one behind) and
/// for a constraint validated (`NOT VALID` is only half of it).
fn postgres_online_probes(op: &Operation) -> Vec<String> {
    let lit = |s: &str| quote_str(DialectKind::Postgres, s);
    let valid_constraint = |table: &str, name: &str| {
        format!(
            "SELECT (COUNT(*) > 0)::int::int8 FROM pg_constraint co JOIN pg_class c ON c.oid = co.conrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() \
             AND c.relname = {} AND co.conname = {} AND co.convalidated",
            lit(table),
            lit(name)
        )
    };
    let index = |name: &str, present: bool| {
        format!(
            "SELECT (COUNT(*) {})::int::int8 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() \
             AND c.relname = {}{}",
            if present { "> 0" } else { "= 0" },
            lit(name),
            if present { " AND i.indisvalid" } else { "" }
        )
    };
    match op {
        Operation::CreateIndex(i) => vec![index(&i.name, true)],
        Operation::DropIndex(i) => vec![index(&i.name, false)],
        Operation::AddConstraint(a) => vec![valid_constraint(&a.table, &a.name)],
        Operation::AddField(f) if f.foreign_key.is_some() => {
            vec![valid_constraint(
                &f.table,
                &fk_name(&f.table, f.field().column()),
            )]
        }
        _ => Vec::new(),
    }
}
