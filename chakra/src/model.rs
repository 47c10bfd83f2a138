//! Model metadata: what `#[derive(Model)]` records about a struct, and the registry of models.
//!
//! The derive emits one `static` [`ModelMeta`] per model and submits it to [`inventory`];
//! [`registered_models`] collects them at run time. Everything here is plain `'static` data so
//! that the derive generates no code that runs at start-up.
//!
//! # Examples
//!
//! ```
//! use chakra::Model;
//! use chakra::model::registered_models;
//! use chakra::state::FieldType;
//!
//! #[derive(Model)]
//! #[chakra(table = "accounts", app = "billing")]
//! struct Account {
//!     #[chakra(primary_key)]
//!     id: i64,
//!     #[chakra(max_length = 3, default = "EUR")]
//!     currency: String,
//! }
//!
//! let meta = Account::meta();
//! assert_eq!((meta.app, meta.name, meta.table), ("billing", "Account", "accounts"));
//! assert_eq!(meta.fields[1].field_type, FieldType::String);
//! assert_eq!(meta.fields[1].max_length, Some(3));
//! // Every derived model of the binary is registered, without a call to register it.
//! assert!(registered_models().iter().any(|m| m.table == "accounts"));
//! ```

use crate::state::{FieldType, OnAction};

/// Implemented by `#[derive(Model)]`: gives access to the model's metadata.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a Chakra model",
    label = "not a model",
    note = "add #[derive(chakra::Model)] to `{Self}`, or point `foreign_key` at a model"
)]
pub trait Model {
    /// The metadata of this model, as written by the derive.
    fn meta() -> &'static ModelMeta;
}

/// Everything the derive knows about one model (a struct with `#[derive(Model)]`).
#[derive(Debug)]
pub struct ModelMeta {
    /// The struct's name, e.g. `User`.
    pub name: &'static str,
    /// The app the model belongs to (`#[chakra(app = "...")]`, default `"default"`).
    pub app: &'static str,
    /// The table name (`#[chakra(table = "...")]`, default: snake_case of the struct name).
    pub table: &'static str,
    /// The columns, in declaration order; `skip` fields are absent.
    pub fields: &'static [FieldMeta],
    /// Indexes declared with `#[chakra(index(...))]` on the struct.
    pub indexes: &'static [IndexMeta],
    /// Table constraints declared with `#[chakra(unique_together(...))]` and
    /// `#[chakra(check(...))]` on the struct, in declaration order.
    pub constraints: &'static [ConstraintMeta],
    /// A previous name of the model (`#[chakra(renamed_from = "...")]`).
    pub renamed_from: Option<&'static str>,
    /// `#[chakra(online)]`: the table is large or busy, so changes to it once it exists avoid
    /// long locks (indexes built concurrently, constraints validated separately), in
    /// migrations that are not one transaction.
    pub online: bool,
    /// `module_path!()` of the declaration, used in error messages.
    pub module_path: &'static str,
}

/// One column of a model.
#[derive(Debug)]
pub struct FieldMeta {
    /// The Rust field name.
    pub name: &'static str,
    /// The column name (`#[chakra(column = "...")]`, default: the field name).
    pub column: &'static str,
    /// The neutral column type, inferred from the Rust type or given with `type = "..."`.
    pub field_type: FieldType,
    /// `max_length` for strings.
    pub max_length: Option<u32>,
    /// `precision` for decimals.
    pub precision: Option<u32>,
    /// `scale` for decimals.
    pub scale: Option<u32>,
    /// `Option<T>` fields are nullable.
    pub nullable: bool,
    /// Part of the primary key.
    pub primary_key: bool,
    /// Explicit `auto_increment` (on or off); `None` means the default rule applies
    /// (a single integer primary key auto-increments).
    pub auto_increment: Option<bool>,
    /// `unique`.
    pub unique: bool,
    /// `index`: a single-column index is created for the field.
    pub index: bool,
    /// `default = <literal>`: a value, always quoted when it reaches SQL.
    pub default: Option<DefaultMeta>,
    /// `db_default = "<SQL>"`: an SQL expression used as written.
    pub db_default: Option<&'static str>,
    /// `foreign_key = Model`.
    pub foreign_key: Option<ForeignKeyMeta>,
    /// A previous name of the field (`renamed_from = "..."`).
    pub renamed_from: Option<&'static str>,
}

/// A literal default value as written in the attribute.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DefaultMeta {
    /// `default = true`
    Bool(bool),
    /// `default = 42`
    Int(i64),
    /// `default = 1.5`
    Float(f64),
    /// `default = "text"`
    Str(&'static str),
}

/// A foreign key declared with `foreign_key = Target`.
#[derive(Debug)]
pub struct ForeignKeyMeta {
    /// The target model's metadata. A function, not a reference, so that two models that
    /// reference each other do not form a cycle in constant evaluation.
    pub target: fn() -> &'static ModelMeta,
    /// `on_delete` rule.
    pub on_delete: OnAction,
    /// `on_update` rule.
    pub on_update: OnAction,
}

/// An index declared on the struct: `#[chakra(index(name = "...", fields("a", "b"), unique))]`.
#[derive(Debug)]
pub struct IndexMeta {
    /// The index name.
    pub name: &'static str,
    /// Rust field names, in index order.
    pub fields: &'static [&'static str],
    /// A unique index.
    pub unique: bool,
}

/// A table constraint declared on the struct.
#[derive(Debug)]
pub enum ConstraintMeta {
    /// `#[chakra(unique_together("a", "b"))]`: no two rows share the values of these fields.
    /// Named `{table}_{column}_..._uniq` when the state is built (see
    /// [`unique_together_name`](crate::state::unique_together_name)): the name needs the
    /// stable hash that shortens long names, which the derive cannot compute.
    UniqueTogether {
        /// Rust field names, in constraint order.
        fields: &'static [&'static str],
    },
    /// `#[chakra(check(name = "...", expr = "..."))]`: every row satisfies the expression.
    Check {
        /// The constraint name.
        name: &'static str,
        /// An SQL expression, used as written.
        expr: &'static str,
    },
}

/// What the derive submits to `inventory` for each model.
#[derive(Debug)]
pub struct ModelRegistration {
    /// Returns the model's metadata.
    pub meta: fn() -> &'static ModelMeta,
}

inventory::collect!(ModelRegistration);

/// Every model linked into the running binary, sorted by (app, name) for determinism.
pub fn registered_models() -> Vec<&'static ModelMeta> {
    let mut models: Vec<&'static ModelMeta> = inventory::iter::<ModelRegistration>
        .into_iter()
        .map(|r| (r.meta)())
        .collect();
    models.sort_by(|a, b| (a.app, a.name).cmp(&(b.app, b.name)));
    models
}
