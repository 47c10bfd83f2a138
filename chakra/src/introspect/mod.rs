//! Reading the live schema of a database into a neutral form, for `migrate drift`.
//!
//! [`Schema`] holds what a database reports about its tables: columns (type as the database
//! spells it, nullability, default expression text, auto-increment), primary key, indexes,
//! UNIQUE constraints, foreign keys and CHECK constraints. Each database fills it from its
//! own catalog (`sqlite.rs`, `postgres.rs`, `mysql.rs`, run by
//! [`Executor::introspect`](crate::executor::Executor::introspect)); `drift` builds the same
//! form from the migrations' state and compares the two. Types and defaults are kept as the
//! database reports them: normalizing them is the comparison's job.
//!
//! Where a database has no separate notion, the form follows it: MySQL/MariaDB report every
//! UNIQUE key as an index (a UNIQUE constraint *is* an index there), and SQLite keeps no
//! names of UNIQUE constraints and foreign keys outside the `CREATE TABLE` text, so they are
//! reported without a name.
//!
//! # Examples
//!
//! Read the schema of a SQLite database that was created by hand:
//!
//! ```
//! use chakra::executor::{Executor, ExecutorConfig};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let url = format!("sqlite://{}", dir.path().join("app.db").display());
//! let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//! let schema = runtime.block_on(async {
//!     let mut db = Executor::connect(&url, ExecutorConfig::default()).await?;
//!     let conn = db.sqlite_connection().expect("a SQLite database");
//!     sqlx::raw_sql("CREATE TABLE tags (id INTEGER PRIMARY KEY, label VARCHAR(50) NOT NULL UNIQUE)")
//!         .execute(conn)
//!         .await?;
//!     Ok::<_, Box<dyn std::error::Error>>(db.introspect().await?)
//! })?;
//!
//! let tags = &schema.tables["tags"];
//! assert_eq!(tags.primary_key, ["id"]);
//! let label = tags.column("label").expect("a column");
//! assert_eq!((label.data_type.as_str(), label.nullable), ("VARCHAR(50)", false));
//! assert_eq!(tags.uniques[0].columns, ["label"]);
//! # Ok(()) }
//! ```

#[cfg(feature = "mysql")]
pub(crate) mod mysql;
#[cfg(feature = "postgres")]
pub(crate) mod postgres;
pub(crate) mod sql;
#[cfg(feature = "sqlite")]
pub(crate) mod sqlite;

use std::collections::BTreeMap;

use serde::Serialize;

/// The tables of a database (or of the migrations' state, rendered for a database), by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Schema {
    /// Tables by name.
    pub tables: BTreeMap<String, Table>,
}

/// One table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Table {
    /// Columns, in the table's order.
    pub columns: Vec<Column>,
    /// The primary key's columns, in key order; empty without a primary key.
    pub primary_key: Vec<String>,
    /// Indexes, other than those that back the primary key or a UNIQUE constraint (on
    /// MySQL/MariaDB, where a UNIQUE constraint is an index, every UNIQUE key is here).
    pub indexes: Vec<Index>,
    /// UNIQUE constraints (none on MySQL/MariaDB: see `indexes`).
    pub uniques: Vec<Unique>,
    /// Foreign keys.
    pub foreign_keys: Vec<ForeignKey>,
    /// CHECK constraints.
    pub checks: Vec<Check>,
}

impl Table {
    /// The column called `name`.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// One column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Column {
    /// Its name.
    pub name: String,
    /// Its type as the database spells it (`character varying(50)`, `bigint(20)`,
    /// `VARCHAR(50)`).
    pub data_type: String,
    /// Whether it accepts NULL (a primary key column never does).
    pub nullable: bool,
    /// The default expression as the database reports it (`'draft'::character varying`,
    /// `current_timestamp(6)`, `0`), `None` without one.
    pub default: Option<String>,
    /// Whether the database generates its values (identity, `AUTO_INCREMENT`,
    /// `AUTOINCREMENT`).
    pub auto_increment: bool,
}

/// An index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Index {
    /// Its name.
    pub name: String,
    /// Its columns in order (an expression as its SQL text).
    pub columns: Vec<String>,
    /// Whether it is UNIQUE.
    pub unique: bool,
}

/// A UNIQUE constraint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unique {
    /// Its name, where the database keeps one.
    pub name: Option<String>,
    /// Its columns in order.
    pub columns: Vec<String>,
}

/// A foreign key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ForeignKey {
    /// Its name, where the database keeps one.
    pub name: Option<String>,
    /// The referencing columns.
    pub columns: Vec<String>,
    /// The referenced table.
    pub ref_table: String,
    /// The referenced columns.
    pub ref_columns: Vec<String>,
    /// `ON DELETE` rule: `NO ACTION`, `RESTRICT`, `CASCADE`, `SET NULL` or `SET DEFAULT`.
    pub on_delete: String,
    /// `ON UPDATE` rule, spelled like `on_delete`.
    pub on_update: String,
}

/// A CHECK constraint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Its name, where it has one.
    pub name: Option<String>,
    /// The expression, as the database reports it (without `CHECK` and the outer
    /// parentheses where the database adds them).
    pub expr: String,
}

/// A rule as the SQL keywords `NO ACTION`, `SET NULL`, ... (upper case, single spaces).
#[cfg_attr(not(any(feature = "mysql", feature = "sqlite")), allow(dead_code))]
pub(crate) fn rule(text: &str) -> String {
    text.split_whitespace()
        .map(str::to_ascii_uppercase)
        .collect::<Vec<_>>()
        .join(" ")
}
