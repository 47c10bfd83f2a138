//! Chakra: Django-quality schema migrations for Rust.
//!
//! Declare tables with `#[derive(Model)]`; `migrate make` diffs the models against the
//! committed snapshot and writes TOML migrations; `migrate apply` and `migrate rollback` move a
//! database forward and back, recording each step in `_chakra_migrations`.
//!
//! The flow: [`model`] (what the derive records) → [`state`] → [`autodetect`] →
//! [`operations`] → [`format`] (TOML files); files → [`project`] (loading) → [`graph`] →
//! [`plan`] → [`dialect`] (SQL text) → [`executor`] → history. See ARCHITECTURE.md.

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
