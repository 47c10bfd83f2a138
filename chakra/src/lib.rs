//! Chakra: Django-quality schema migrations for Rust.
//!
//! Declare tables with `#[derive(Model)]`; `migrate make` diffs the models against the
//! committed snapshot and writes TOML migrations; `migrate apply` and `migrate rollback` move a
//! database forward and back, recording each step in `_chakra_migrations`.
//!
//! The flow: [`model`] (what the derive records) → [`state`] → [`autodetect`] →
//! [`operations`] → [`format`] (TOML files); files → [`project`] (loading) → [`graph`] →
//! [`plan`] → [`dialect`] (SQL text) → [`executor`] → history. See ARCHITECTURE.md.
//!
//! # Examples
//!
//! From a model to the SQL of its first migration, without a database: what
//! `migrate make` and `migrate sql` do.
//!
//! ```
//! use chakra::Model;
//! use chakra::dialect::DialectKind;
//! use chakra::make::{MakeOptions, Paths, load_graph, make};
//! use chakra::plan::{Direction, plan_sql};
//! use chakra::state::ProjectState;
//!
//! #[derive(Model)]
//! #[chakra(table = "users")]
//! struct User {
//!     #[chakra(primary_key)]
//!     id: i64,
//!     #[chakra(max_length = 50, unique)]
//!     username: String,
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // `from_models` reports every problem at once, as a list.
//! let models = ProjectState::from_models(&[User::meta()]).map_err(|errors| errors[0].clone())?;
//!
//! // Write `migrations/0001_initial.toml`, `migrations/chakra.sum` and the snapshot.
//! let project = tempfile::tempdir()?;
//! let paths = Paths::under(project.path(), "migrations");
//! let outcome = make(&paths, &models, &MakeOptions::default())?;
//! assert_eq!(outcome.migrations[0].migration.migration.id, "0001_initial");
//!
//! // Read the files back and render them for SQLite.
//! let graph = load_graph(&paths.migrations)?;
//! let sql = plan_sql(DialectKind::Sqlite, &graph, graph.order(), Direction::Forward)?;
//! let step = &sql[0].steps[0];
//! assert_eq!(step.description, "+ CreateModel User (users)");
//! assert_eq!(
//!     step.statements[0],
//!     "CREATE TABLE \"users\" (\n    \"id\" INTEGER PRIMARY KEY AUTOINCREMENT,\n    \
//!      \"username\" VARCHAR(50) NOT NULL UNIQUE\n)"
//! );
//! # Ok(()) }
//! ```

pub mod autodetect;
pub mod checksum;
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
pub mod data;
pub mod dialect;
pub mod drift;
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
pub mod executor;
pub mod format;
pub mod graph;
pub mod introspect;
pub mod lint;
pub mod make;
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
pub mod migrator;
pub mod model;
pub mod naming;
pub mod operations;
pub mod optimizer;
pub mod plan;
pub mod project;
pub mod snapshot;
pub mod squash;
pub mod state;
pub mod sum;
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
pub mod testing;

pub use chakra_derive::{Model, embed_migrations};
pub use model::Model;

/// Items used by the code that `#[derive(Model)]` generates. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::model::{
        ConstraintMeta, DefaultMeta, FieldMeta, ForeignKeyMeta, IndexMeta, ModelMeta,
        ModelRegistration,
    };
    pub use crate::state::{FieldType, OnAction};
    pub use inventory;
}
