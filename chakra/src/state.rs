//! The schema state: a neutral, serializable description of every model, field, index and
//! constraint.
//!
//! The same types describe the models linked into a binary ([`ProjectState::from_models`]),
//! the committed snapshot, and the state obtained by replaying migration files
//! ([`ProjectState::apply`]). Collections are ordered so that serializing a state is
//! deterministic: models by `(app, name)`, indexes and constraints by name, fields in
//! declaration order.
//!
//! # Examples
//!
//! A state built by hand, then changed by an operation:
//!
//! ```
//! use chakra::operations::Operation;
//! use chakra::state::{FieldOperation, FieldState, FieldType, ModelState, ProjectState};
//!
//! # fn main() -> Result<(), chakra::state::StateError> {
//! let users = ModelState {
//!     app: "default".into(),
//!     name: "User".into(),
//!     table: "users".into(),
//!     fields: vec![FieldState { primary_key: true, ..FieldState::new("id", FieldType::BigInteger) }],
//!     indexes: vec![],
//!     constraints: vec![],
//! };
//! let mut state = ProjectState::from_models_list(vec![users.clone()])?;
//!
//! let email = FieldState { nullable: true, ..FieldState::new("email", FieldType::Text) };
//! state.apply("default", &Operation::AddField(FieldOperation::new(&users, &email)))?;
//!
//! let user = state.model("default", "User").expect("still there");
//! assert_eq!(user.field("email"), Some(&email));
//! assert_eq!(user.primary_key()[0].name, "id");
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::{ConstraintMeta, DefaultMeta, ModelMeta};

/// The neutral column types of SPEC §2; each dialect maps them to its own SQL types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum FieldType {
    /// `i16`
    SmallInteger,
    /// `i32`
    Integer,
    /// `i64`
    BigInteger,
    /// `f32`
    Float,
    /// `f64`
    Double,
    /// `bool`
    Boolean,
    /// `String` with `max_length`: VARCHAR(n)
    String,
    /// `String` without `max_length`
    Text,
    /// `chrono::DateTime<Utc>`: a timestamp with time zone
    DateTime,
    /// `chrono::NaiveDateTime`: a timestamp without time zone
    Timestamp,
    /// `chrono::NaiveDate`
    Date,
    /// `chrono::NaiveTime`
    Time,
    /// `uuid::Uuid`
    Uuid,
    /// `serde_json::Value`
    Json,
    /// `Vec<u8>`
    Binary,
    /// `rust_decimal::Decimal`: DECIMAL(precision, scale)
    Decimal,
}

impl FieldType {
    /// Every type, in declaration order (used by error messages that list the choices).
    pub const ALL: [FieldType; 16] = [
        FieldType::SmallInteger,
        FieldType::Integer,
        FieldType::BigInteger,
        FieldType::Float,
        FieldType::Double,
        FieldType::Boolean,
        FieldType::String,
        FieldType::Text,
        FieldType::DateTime,
        FieldType::Timestamp,
        FieldType::Date,
        FieldType::Time,
        FieldType::Uuid,
        FieldType::Json,
        FieldType::Binary,
        FieldType::Decimal,
    ];

    /// The name used in files and in `type = "..."`.
    pub fn name(self) -> &'static str {
        match self {
            FieldType::SmallInteger => "SmallInteger",
            FieldType::Integer => "Integer",
            FieldType::BigInteger => "BigInteger",
            FieldType::Float => "Float",
            FieldType::Double => "Double",
            FieldType::Boolean => "Boolean",
            FieldType::String => "String",
            FieldType::Text => "Text",
            FieldType::DateTime => "DateTime",
            FieldType::Timestamp => "Timestamp",
            FieldType::Date => "Date",
            FieldType::Time => "Time",
            FieldType::Uuid => "Uuid",
            FieldType::Json => "Json",
            FieldType::Binary => "Binary",
            FieldType::Decimal => "Decimal",
        }
    }

    /// Parses a type name as written in `type = "..."` or a migration file.
    pub fn from_name(name: &str) -> Option<FieldType> {
        FieldType::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Integer types can auto-increment.
    pub fn is_integer(self) -> bool {
        matches!(
            self,
            FieldType::SmallInteger | FieldType::Integer | FieldType::BigInteger
        )
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A foreign key rule for `on_delete` / `on_update`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnAction {
    /// `NO ACTION` (the SQL default)
    #[default]
    NoAction,
    /// `RESTRICT`
    Restrict,
    /// `CASCADE`
    Cascade,
    /// `SET NULL`
    SetNull,
    /// `SET DEFAULT`
    SetDefault,
}

impl OnAction {
    /// Every rule with its attribute spelling.
    pub const ALL: [(&'static str, OnAction); 5] = [
        ("no_action", OnAction::NoAction),
        ("restrict", OnAction::Restrict),
        ("cascade", OnAction::Cascade),
        ("set_null", OnAction::SetNull),
        ("set_default", OnAction::SetDefault),
    ];

    /// The SQL spelling of the rule.
    pub fn sql(self) -> &'static str {
        match self {
            OnAction::NoAction => "NO ACTION",
            OnAction::Restrict => "RESTRICT",
            OnAction::Cascade => "CASCADE",
            OnAction::SetNull => "SET NULL",
            OnAction::SetDefault => "SET DEFAULT",
        }
    }

    fn is_default(&self) -> bool {
        *self == OnAction::NoAction
    }
}

/// A literal default value. In files it is a plain TOML value (`default = 0`,
/// `default = "draft"`, `default = true`); in SQL it is always quoted as a value. A float
/// is finite: `nan` and `inf` have no SQL literal, nor a canonical form for checksums.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum DefaultValue {
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A string.
    Str(String),
}

impl<'de> Deserialize<'de> for DefaultValue {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = DefaultValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a boolean, an integer, a finite number or a string")
            }
            fn visit_bool<E>(self, b: bool) -> Result<DefaultValue, E> {
                Ok(DefaultValue::Bool(b))
            }
            fn visit_i64<E>(self, i: i64) -> Result<DefaultValue, E> {
                Ok(DefaultValue::Int(i))
            }
            fn visit_u64<E: serde::de::Error>(self, u: u64) -> Result<DefaultValue, E> {
                i64::try_from(u)
                    .map(DefaultValue::Int)
                    .map_err(|_| E::custom(format!("the default {u} does not fit in 64 bits")))
            }
            fn visit_f64<E: serde::de::Error>(self, x: f64) -> Result<DefaultValue, E> {
                if x.is_finite() {
                    Ok(DefaultValue::Float(x))
                } else {
                    Err(E::custom(format!(
                        "the default `{x}` is not a finite number; databases have no literal for it"
                    )))
                }
            }
            fn visit_str<E>(self, s: &str) -> Result<DefaultValue, E> {
                Ok(DefaultValue::Str(s.to_owned()))
            }
            fn visit_string<E>(self, s: String) -> Result<DefaultValue, E> {
                Ok(DefaultValue::Str(s))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl fmt::Display for DefaultValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DefaultValue::Bool(b) => write!(f, "{b}"),
            DefaultValue::Int(i) => write!(f, "{i}"),
            DefaultValue::Float(x) => write!(f, "{x:?}"),
            DefaultValue::Str(s) => write!(f, "{s:?}"),
        }
    }
}

impl From<DefaultMeta> for DefaultValue {
    fn from(d: DefaultMeta) -> Self {
        match d {
            DefaultMeta::Bool(b) => DefaultValue::Bool(b),
            DefaultMeta::Int(i) => DefaultValue::Int(i),
            DefaultMeta::Float(x) => DefaultValue::Float(x),
            DefaultMeta::Str(s) => DefaultValue::Str(s.to_owned()),
        }
    }
}

/// The target of a foreign key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForeignKey {
    /// The app of the target model.
    pub app: String,
    /// The target model's name.
    pub model: String,
    /// The target table.
    pub table: String,
    /// The referenced column (the target's primary key).
    pub column: String,
    /// `ON DELETE` rule.
    #[serde(default, skip_serializing_if = "OnAction::is_default")]
    pub on_delete: OnAction,
    /// `ON UPDATE` rule.
    #[serde(default, skip_serializing_if = "OnAction::is_default")]
    pub on_update: OnAction,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Declares the two file forms of a field from one list of its attributes, with the
/// conversions between them, so they cannot drift apart: [`FieldState`] (type under `type`,
/// inside `[[fields]]`) and [`FieldOperation`] (type under `field_type`, because `type` names
/// the operation in `[[operations]]`). Every listed attribute defaults to `Default::default()`.
macro_rules! field_structs {
    ($($(#[$fattr:meta])* $field:ident : $ty:ty,)*) => {
        /// One column of a model.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct FieldState {
            /// The field name (the Rust field).
            pub name: String,
            /// The column name when it differs from the field name.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub column: Option<String>,
            /// The neutral type.
            #[serde(rename = "type")]
            pub field_type: FieldType,
            $($(#[$fattr])* pub $field: $ty,)*
        }

        /// The file form of `AddField` and `AlterField`: the model, the table, and the field
        /// with its type under `field_type`.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct FieldOperation {
            /// The model the field belongs to.
            pub model: String,
            /// The model's table.
            pub table: String,
            /// The field name (the Rust field).
            pub name: String,
            /// The column name when it differs from the field name.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub column: Option<String>,
            /// The neutral type.
            #[serde(rename = "field_type")]
            pub field_type: FieldType,
            $($(#[$fattr])* pub $field: $ty,)*
            /// A one-off value for the rows that exist when the column is added (AddField) or
            /// for the NULLs it holds when it becomes NOT NULL (AlterField); not kept as the
            /// column's default. Asked for by `migrate make` on a terminal.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub fill: Option<DefaultValue>,
            /// `AddField` on a table that already holds rows, for a model marked
            /// `#[chakra(online)]`: the foreign key is added without a long lock (on PostgreSQL
            /// `NOT VALID`, then validated in a transaction of its own). Needs a migration with
            /// `atomic = false`. Not part of the schema.
            #[serde(default, skip_serializing_if = "is_false")]
            pub online: bool,
        }

        impl FieldState {
            /// A NOT NULL column `name` of `field_type` with no other attribute.
            pub fn new(name: impl Into<String>, field_type: FieldType) -> Self {
                FieldState {
                    name: name.into(),
                    column: None,
                    field_type,
                    $($field: Default::default(),)*
                }
            }
        }

        impl FieldOperation {
            /// Builds the operation form of `field` on `model`.
            pub fn new(model: &ModelState, field: &FieldState) -> Self {
                let f = field.clone();
                FieldOperation {
                    model: model.name.clone(),
                    table: model.table.clone(),
                    name: f.name,
                    column: f.column,
                    field_type: f.field_type,
                    $($field: f.$field,)*
                    fill: None,
                    online: false,
                }
            }

            /// The field this operation describes.
            pub fn field(&self) -> FieldState {
                let f = self.clone();
                FieldState {
                    name: f.name,
                    column: f.column,
                    field_type: f.field_type,
                    $($field: f.$field,)*
                }
            }
        }
    };
}

field_structs! {
    /// Maximum length of a `String`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_length: Option<u32>,
    /// Precision of a `Decimal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    precision: Option<u32>,
    /// Scale of a `Decimal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scale: Option<u32>,
    /// Part of the primary key.
    #[serde(default, skip_serializing_if = "is_false")]
    primary_key: bool,
    /// Generated by the database (SERIAL, AUTO_INCREMENT, ...).
    #[serde(default, skip_serializing_if = "is_false")]
    auto_increment: bool,
    /// NULL allowed.
    #[serde(default, skip_serializing_if = "is_false")]
    nullable: bool,
    /// A unique constraint on the column.
    #[serde(default, skip_serializing_if = "is_false")]
    unique: bool,
    /// A literal default, quoted as a value in SQL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    default: Option<DefaultValue>,
    /// An SQL default expression, used as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    db_default: Option<String>,
    /// A foreign key from this column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    foreign_key: Option<ForeignKey>,
}

impl FieldState {
    /// The column name.
    pub fn column(&self) -> &str {
        self.column.as_deref().unwrap_or(&self.name)
    }

    /// True when existing rows need a value but the field provides none.
    pub fn needs_value(&self) -> bool {
        !self.nullable
            && self.default.is_none()
            && self.db_default.is_none()
            && !self.auto_increment
    }
}

/// An index on one or more fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexState {
    /// The index name (unique per database schema).
    pub name: String,
    /// Field names (not columns), in index order.
    pub fields: Vec<String>,
    /// A unique index.
    #[serde(default, skip_serializing_if = "is_false")]
    pub unique: bool,
}

/// What a table constraint enforces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConstraintKind {
    /// `UNIQUE`: no two rows hold the same values in these fields (field names, not
    /// columns), in constraint order.
    Unique {
        /// The fields.
        fields: Vec<String>,
    },
    /// `CHECK`: every row satisfies this SQL expression, which is used as written.
    Check {
        /// The expression.
        expr: String,
    },
}

impl ConstraintKind {
    /// Reads the file form, where the key names the kind: `unique = ["a", "b"]` or
    /// `check = "<SQL>"`, exactly one of them.
    pub(crate) fn from_keys(
        unique: Option<Vec<String>>,
        check: Option<String>,
    ) -> Result<ConstraintKind, String> {
        match (unique, check) {
            (Some(fields), None) if fields.is_empty() => {
                Err("`unique` must name at least one field".to_owned())
            }
            (Some(fields), None) => Ok(ConstraintKind::Unique { fields }),
            (None, Some(expr)) if expr.trim().is_empty() => {
                Err("`check` must not be empty: write the SQL expression rows satisfy".to_owned())
            }
            (None, Some(expr)) => Ok(ConstraintKind::Check { expr }),
            _ => Err(
                "a constraint needs exactly one of `unique = [\"field\", ...]` or `check = \"<SQL>\"`"
                    .to_owned(),
            ),
        }
    }

    /// The file form: `(unique, check)`, one of them `Some`.
    pub(crate) fn to_keys(&self) -> (Option<Vec<String>>, Option<String>) {
        match self {
            ConstraintKind::Unique { fields } => (Some(fields.clone()), None),
            ConstraintKind::Check { expr } => (None, Some(expr.clone())),
        }
    }

    /// The fields a UNIQUE constraint covers; none for a CHECK, whose expression Chakra does
    /// not read.
    pub fn fields(&self) -> &[String] {
        match self {
            ConstraintKind::Unique { fields } => fields,
            ConstraintKind::Check { .. } => &[],
        }
    }
}

impl fmt::Display for ConstraintKind {
    /// `UNIQUE (a, b)` or `CHECK (views >= 0)`, for output lines.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConstraintKind::Unique { fields } => write!(f, "UNIQUE ({})", fields.join(", ")),
            ConstraintKind::Check { expr } => write!(f, "CHECK ({})", expr.trim()),
        }
    }
}

/// A named table constraint: UNIQUE over one or more fields, or CHECK.
///
/// In files the key names the kind (`unique = ["author_id", "slug"]` or
/// `check = "views >= 0"`), so the snapshot and the `AddConstraint` operation spell it alike.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ConstraintFile", into = "ConstraintFile")]
pub struct ConstraintState {
    /// The constraint name (unique among the model's constraints and indexes).
    pub name: String,
    /// What it enforces.
    pub kind: ConstraintKind,
}

/// The file form of [`ConstraintState`].
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConstraintFile {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    unique: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    check: Option<String>,
}

impl TryFrom<ConstraintFile> for ConstraintState {
    type Error = String;
    fn try_from(f: ConstraintFile) -> Result<Self, String> {
        let kind = ConstraintKind::from_keys(f.unique, f.check)
            .map_err(|e| format!("constraint `{}`: {e}", f.name))?;
        Ok(ConstraintState { name: f.name, kind })
    }
}

impl From<ConstraintState> for ConstraintFile {
    fn from(c: ConstraintState) -> Self {
        let (unique, check) = c.kind.to_keys();
        ConstraintFile {
            name: c.name,
            unique,
            check,
        }
    }
}

/// One model: its table, fields, indexes and constraints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelState {
    /// The app.
    pub app: String,
    /// The model name.
    pub name: String,
    /// The table.
    pub table: String,
    /// Columns in declaration order.
    pub fields: Vec<FieldState>,
    /// Indexes sorted by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub indexes: Vec<IndexState>,
    /// Table constraints (UNIQUE over fields, CHECK) sorted by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<ConstraintState>,
}

impl ModelState {
    /// The field called `name`.
    pub fn field(&self, name: &str) -> Option<&FieldState> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The fields of the primary key, in declaration order.
    pub fn primary_key(&self) -> Vec<&FieldState> {
        self.fields.iter().filter(|f| f.primary_key).collect()
    }

    /// The column of field `name`, or the name itself when there is no such field.
    pub fn column_of<'a>(&'a self, name: &'a str) -> &'a str {
        self.field(name).map_or(name, FieldState::column)
    }

    /// The index called `name`.
    pub fn index(&self, name: &str) -> Option<&IndexState> {
        self.indexes.iter().find(|i| i.name == name)
    }

    /// The constraint called `name`.
    pub fn constraint(&self, name: &str) -> Option<&ConstraintState> {
        self.constraints.iter().find(|c| c.name == name)
    }

    /// Makes the indexes and UNIQUE constraints that name field `old` name `new` instead.
    /// CHECK expressions are SQL text and are left as written.
    pub fn rename_field_references(&mut self, old: &str, new: &str) {
        let lists = self.indexes.iter_mut().map(|i| &mut i.fields).chain(
            self.constraints
                .iter_mut()
                .filter_map(|c| match &mut c.kind {
                    ConstraintKind::Unique { fields } => Some(fields),
                    ConstraintKind::Check { .. } => None,
                }),
        );
        for list in lists {
            for name in list {
                if *name == old {
                    *name = new.to_owned();
                }
            }
        }
    }

    /// Checks that constraint `c` (of operation `op`) fits the model: its name is free
    /// among the model's indexes and constraints (they share one namespace on PostgreSQL and
    /// MySQL, where a UNIQUE constraint is an index), and a UNIQUE covers existing fields,
    /// each once.
    fn check_new_constraint(&self, op: &str, c: &ConstraintState) -> Result<(), StateError> {
        if self.constraint(&c.name).is_some() {
            return Err(StateError::new(format!(
                "{op}: `{}` already has constraint `{}`",
                self.name, c.name
            )));
        }
        if self.index(&c.name).is_some() {
            return Err(StateError::new(format!(
                "{op}: `{}` already has an index called `{}`; give the constraint another name",
                self.name, c.name
            )));
        }
        match &c.kind {
            ConstraintKind::Unique { fields } => {
                if fields.is_empty() {
                    return Err(StateError::new(format!(
                        "{op} `{}`: a UNIQUE constraint needs at least one field",
                        c.name
                    )));
                }
                for (i, f) in fields.iter().enumerate() {
                    if self.field(f).is_none() {
                        return Err(StateError::new(format!(
                            "{op} `{}`: `{}.{f}` does not exist",
                            c.name, self.name
                        )));
                    }
                    if fields[..i].contains(f) {
                        return Err(StateError::new(format!(
                            "{op} `{}`: field `{f}` appears twice",
                            c.name
                        )));
                    }
                }
            }
            ConstraintKind::Check { expr } => {
                if expr.trim().is_empty() {
                    return Err(StateError::new(format!(
                        "{op} `{}`: the CHECK expression is empty",
                        c.name
                    )));
                }
            }
        }
        Ok(())
    }
}

/// Identifies a model: `(app, name)`.
pub type ModelKey = (String, String);

/// The whole schema: every model of every app.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProjectState {
    /// Models by `(app, name)`.
    pub models: BTreeMap<ModelKey, ModelState>,
}

/// The model using each table name of a state, kept beside it while operations are replayed
/// (see [`ProjectState::apply_tracking`]).
#[derive(Debug, Default)]
pub(crate) struct Tables(BTreeMap<String, ModelKey>);

impl Tables {
    /// The index of `state`'s table names.
    pub(crate) fn of(state: &ProjectState) -> Tables {
        Tables(
            state
                .models
                .iter()
                .map(|(key, m)| (m.table.clone(), key.clone()))
                .collect(),
        )
    }
}

/// A problem found while building a state from models or replaying operations.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct StateError {
    /// What is wrong, and how to fix it.
    pub message: String,
}

impl StateError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        StateError {
            message: message.into(),
        }
    }
}

/// The longest identifier every supported database accepts (PostgreSQL's 63 bytes).
pub const MAX_IDENTIFIER_LEN: usize = 63;

/// The name of the index that `#[chakra(index)]` creates for a single column. Names longer
/// than [`MAX_IDENTIFIER_LEN`] are shortened with a stable hash suffix.
pub fn field_index_name(table: &str, column: &str) -> String {
    crate::checksum::short_identifier(&format!("{table}_{column}_idx"), MAX_IDENTIFIER_LEN)
}

/// The name of the UNIQUE constraint that `#[chakra(unique_together(...))]` declares over
/// `columns` of `table`: `{table}_{column}_..._uniq`, shortened with a stable hash suffix past
/// [`MAX_IDENTIFIER_LEN`].
///
/// # Examples
///
/// ```
/// use chakra::state::{MAX_IDENTIFIER_LEN, field_index_name, unique_together_name};
///
/// assert_eq!(unique_together_name("posts", &["author_id", "slug"]), "posts_author_id_slug_uniq");
/// assert_eq!(field_index_name("posts", "slug"), "posts_slug_idx");
/// let long = unique_together_name(&"t".repeat(60), &["a", "b"]);
/// assert_eq!(long.len(), MAX_IDENTIFIER_LEN);
/// ```
pub fn unique_together_name(table: &str, columns: &[&str]) -> String {
    crate::checksum::short_identifier(
        &format!("{table}_{}_uniq", columns.join("_")),
        MAX_IDENTIFIER_LEN,
    )
}

impl ProjectState {
    /// The model `(app, name)`.
    pub fn model(&self, app: &str, name: &str) -> Option<&ModelState> {
        self.models.get(&(app.to_owned(), name.to_owned()))
    }

    fn model_mut(&mut self, app: &str, name: &str) -> Result<&mut ModelState, StateError> {
        self.models
            .get_mut(&(app.to_owned(), name.to_owned()))
            .ok_or_else(|| StateError::new(format!("model `{app}.{name}` does not exist")))
    }

    /// Builds the state declared by the models linked into the binary. Every problem is
    /// collected, so the user sees all of them at once.
    ///
    /// # Examples
    ///
    /// ```
    /// use chakra::Model;
    /// use chakra::state::{FieldType, ProjectState};
    ///
    /// #[derive(Model)]
    /// #[chakra(app = "blog")]
    /// struct BlogPost {
    ///     #[chakra(primary_key)]
    ///     id: i64,
    ///     title: Option<String>,
    /// }
    ///
    /// let state = ProjectState::from_models(&[BlogPost::meta()]).expect("a valid model");
    /// let post = state.model("blog", "BlogPost").expect("declared above");
    /// assert_eq!(post.table, "blog_post");
    /// let title = post.field("title").expect("a column");
    /// assert_eq!((title.field_type, title.nullable), (FieldType::Text, true));
    /// ```
    pub fn from_models(models: &[&'static ModelMeta]) -> Result<ProjectState, Vec<StateError>> {
        let mut errors = Vec::new();
        let mut state = ProjectState::default();
        let mut tables: BTreeMap<&str, String> = BTreeMap::new();
        for meta in models {
            let key = (meta.app.to_owned(), meta.name.to_owned());
            let here = format!("{}::{}", meta.module_path, meta.name);
            if state.models.contains_key(&key) {
                errors.push(StateError::new(format!(
                    "two models are called `{}` in app `{}` ({here}); rename one or move it to another app with #[chakra(app = \"...\")]",
                    meta.name, meta.app
                )));
                continue;
            }
            if let Some(other) = tables.insert(meta.table, here.clone()) {
                errors.push(StateError::new(format!(
                    "models `{other}` and `{here}` both use table `{}`; give one of them #[chakra(table = \"...\")]",
                    meta.table
                )));
            }
            let pk_count = meta.fields.iter().filter(|f| f.primary_key).count();
            let mut fields = Vec::with_capacity(meta.fields.len());
            let mut indexes = Vec::new();
            for f in meta.fields {
                let foreign_key = match &f.foreign_key {
                    None => None,
                    Some(fk) => {
                        let target = (fk.target)();
                        let pks: Vec<_> = target.fields.iter().filter(|t| t.primary_key).collect();
                        if pks.len() != 1 {
                            errors.push(StateError::new(format!(
                                "`{here}.{}` is a foreign key to `{}`, which has {} primary key columns; a foreign key needs a target with exactly one",
                                f.name,
                                target.name,
                                pks.len()
                            )));
                            None
                        } else {
                            Some(ForeignKey {
                                app: target.app.to_owned(),
                                model: target.name.to_owned(),
                                table: target.table.to_owned(),
                                column: pks[0].column.to_owned(),
                                on_delete: fk.on_delete,
                                on_update: fk.on_update,
                            })
                        }
                    }
                };
                let auto_increment = f
                    .auto_increment
                    .unwrap_or(f.primary_key && pk_count == 1 && f.field_type.is_integer());
                if auto_increment && !f.field_type.is_integer() {
                    errors.push(StateError::new(format!(
                        "`{here}.{}` has auto_increment but its type {} is not an integer",
                        f.name, f.field_type
                    )));
                }
                if f.index {
                    indexes.push(IndexState {
                        name: field_index_name(meta.table, f.column),
                        fields: vec![f.name.to_owned()],
                        unique: false,
                    });
                }
                fields.push(FieldState {
                    name: f.name.to_owned(),
                    column: (f.column != f.name).then(|| f.column.to_owned()),
                    field_type: f.field_type,
                    max_length: f.max_length,
                    precision: f.precision,
                    scale: f.scale,
                    primary_key: f.primary_key,
                    auto_increment,
                    nullable: f.nullable,
                    unique: f.unique,
                    default: f.default.map(DefaultValue::from),
                    db_default: f.db_default.map(str::to_owned),
                    foreign_key,
                });
            }
            for i in meta.indexes {
                indexes.push(IndexState {
                    name: i.name.to_owned(),
                    fields: i.fields.iter().map(|s| (*s).to_owned()).collect(),
                    unique: i.unique,
                });
            }
            indexes.sort_by(|a, b| a.name.cmp(&b.name));
            for pair in indexes.windows(2) {
                if pair[0].name == pair[1].name {
                    errors.push(StateError::new(format!(
                        "`{here}` declares index `{}` twice",
                        pair[0].name
                    )));
                }
            }
            let constraints = constraints_from_meta(meta, &here, &indexes, &mut errors);
            state.models.insert(
                key,
                ModelState {
                    app: meta.app.to_owned(),
                    name: meta.name.to_owned(),
                    table: meta.table.to_owned(),
                    fields,
                    indexes,
                    constraints,
                },
            );
        }
        errors.extend(shared_constraint_names(&state));
        if errors.is_empty() {
            Ok(state)
        } else {
            Err(errors)
        }
    }

    /// The models `op` names, as they are before it, in a state of their own: all that
    /// rendering the operation's SQL or its inverse reads, without copying the whole schema
    /// for every operation (which made planning quadratic in the number of models).
    pub fn touched_by(&self, app: &str, op: &crate::operations::Operation) -> ProjectState {
        use crate::operations::Operation as Op;
        let name = match op {
            Op::CreateModel(_) | Op::RunSql(_) | Op::RunRust(_) => None,
            Op::DeleteModel(d) => Some(&d.model),
            Op::AddField(f) | Op::AlterField(f) => Some(&f.model),
            Op::RemoveField(r) => Some(&r.model),
            Op::RenameModel(r) => Some(&r.old_name),
            Op::RenameField(r) => Some(&r.model),
            Op::CreateIndex(c) => Some(&c.model),
            Op::DropIndex(d) => Some(&d.model),
            Op::RenameIndex(r) => Some(&r.model),
            Op::AddConstraint(a) => Some(&a.model),
            Op::RemoveConstraint(r) => Some(&r.model),
        };
        let models = name
            .and_then(|n| {
                let key = (app.to_owned(), n.clone());
                self.models.get(&key).map(|m| (key, m.clone()))
            })
            .into_iter()
            .collect();
        ProjectState { models }
    }

    /// Applies one operation of app `app` to the state, checking that it makes sense.
    ///
    /// # Examples
    ///
    /// ```
    /// use chakra::operations::{CreateModel, Operation};
    /// use chakra::state::{FieldState, FieldType, ProjectState};
    ///
    /// let create = Operation::CreateModel(CreateModel {
    ///     model: "Tag".into(),
    ///     table: "tags".into(),
    ///     fields: vec![FieldState::new("label", FieldType::Text)],
    /// });
    /// let mut state = ProjectState::default();
    /// state.apply("default", &create).expect("a new model");
    /// assert_eq!(state.model("default", "Tag").map(|m| m.table.as_str()), Some("tags"));
    ///
    /// // The same model cannot be created twice; the state is left as it was.
    /// let err = state.apply("default", &create).expect_err("already exists");
    /// assert_eq!(err.message, "CreateModel `Tag`: model `default.Tag` already exists");
    /// ```
    pub fn apply(
        &mut self,
        app: &str,
        op: &crate::operations::Operation,
    ) -> Result<(), StateError> {
        self.apply_tracking(app, op, None)
    }

    /// [`apply`](Self::apply), keeping `tables` (built by [`Tables::of`] from this state) up
    /// to date and looking table names up in it: what replaying many operations uses, since
    /// finding who uses a table name otherwise takes a pass over every model.
    pub(crate) fn apply_tracking(
        &mut self,
        app: &str,
        op: &crate::operations::Operation,
        tables: Option<&mut Tables>,
    ) -> Result<(), StateError> {
        use crate::operations::Operation as Op;
        match op {
            Op::CreateModel(c) => {
                let key = (app.to_owned(), c.model.clone());
                if self.models.contains_key(&key) {
                    return Err(StateError::new(format!(
                        "CreateModel `{}`: model `{app}.{}` already exists",
                        c.model, c.model
                    )));
                }
                if let Some(other) = self.table_user(&c.table, tables.as_deref()) {
                    return Err(StateError::new(format!(
                        "CreateModel `{}`: table `{}` is already used by `{}.{}`",
                        c.model, c.table, other.app, other.name
                    )));
                }
                check_unique_fields(&c.model, &c.fields)?;
                if let Some(t) = tables {
                    t.0.insert(c.table.clone(), key.clone());
                }
                self.models.insert(
                    key,
                    ModelState {
                        app: app.to_owned(),
                        name: c.model.clone(),
                        table: c.table.clone(),
                        fields: c.fields.clone(),
                        indexes: Vec::new(),
                        constraints: Vec::new(),
                    },
                );
            }
            Op::DeleteModel(d) => {
                let key = (app.to_owned(), d.model.clone());
                let Some(removed) = self.models.remove(&key) else {
                    return Err(StateError::new(format!(
                        "DeleteModel: model `{app}.{}` does not exist",
                        d.model
                    )));
                };
                if let Some(t) = tables {
                    t.0.remove(&removed.table);
                }
                if let Some((m, f)) = self.references_to(app, &d.model).first() {
                    return Err(StateError::new(format!(
                        "DeleteModel `{}`: `{m}.{f}` still references it",
                        d.model
                    )));
                }
            }
            Op::AddField(a) => {
                let m = self.model_mut(app, &a.model)?;
                if m.field(&a.name).is_some() {
                    return Err(StateError::new(format!(
                        "AddField: `{}.{}` already exists",
                        a.model, a.name
                    )));
                }
                m.fields.push(a.field());
                check_unique_fields(&a.model, &m.fields)?;
            }
            Op::RemoveField(r) => {
                let m = self.model_mut(app, &r.model)?;
                let before = m.fields.len();
                m.fields.retain(|f| f.name != r.name);
                if m.fields.len() == before {
                    return Err(StateError::new(format!(
                        "RemoveField: `{}.{}` does not exist",
                        r.model, r.name
                    )));
                }
                if let Some(i) = m.indexes.iter().find(|i| i.fields.contains(&r.name)) {
                    return Err(StateError::new(format!(
                        "RemoveField `{}.{}`: index `{}` still uses it; drop the index first",
                        r.model, r.name, i.name
                    )));
                }
                if let Some(c) = m
                    .constraints
                    .iter()
                    .find(|c| c.kind.fields().contains(&r.name))
                {
                    return Err(StateError::new(format!(
                        "RemoveField `{}.{}`: constraint `{}` still uses it; remove the constraint first",
                        r.model, r.name, c.name
                    )));
                }
            }
            Op::AlterField(a) => {
                let m = self.model_mut(app, &a.model)?;
                let slot = m
                    .fields
                    .iter_mut()
                    .find(|f| f.name == a.name)
                    .ok_or_else(|| {
                        StateError::new(format!(
                            "AlterField: `{}.{}` does not exist",
                            a.model, a.name
                        ))
                    })?;
                let old_column = slot.column().to_owned();
                let was_pk = slot.primary_key;
                *slot = a.field();
                let new_column = slot.column().to_owned();
                check_unique_fields(&a.model, &m.fields)?;
                // Foreign keys name the target's column: follow a renamed primary key column.
                if was_pk && old_column != new_column {
                    for other in self.models.values_mut() {
                        for f in &mut other.fields {
                            if let Some(fk) = &mut f.foreign_key
                                && fk.app == app
                                && fk.model == a.model
                                && fk.column == old_column
                            {
                                fk.column.clone_from(&new_column);
                            }
                        }
                    }
                }
            }
            Op::CreateIndex(c) => {
                let m = self.model_mut(app, &c.model)?;
                if m.index(&c.name).is_some() {
                    return Err(StateError::new(format!(
                        "CreateIndex: `{}` already has index `{}`",
                        c.model, c.name
                    )));
                }
                if m.constraint(&c.name).is_some() {
                    return Err(StateError::new(format!(
                        "CreateIndex: `{}` already has a constraint called `{}`; give the index another name",
                        c.model, c.name
                    )));
                }
                for f in &c.fields {
                    if m.field(f).is_none() {
                        return Err(StateError::new(format!(
                            "CreateIndex `{}`: `{}.{f}` does not exist",
                            c.name, c.model
                        )));
                    }
                }
                m.indexes.push(c.index());
                m.indexes.sort_by(|a, b| a.name.cmp(&b.name));
            }
            Op::DropIndex(d) => {
                let m = self.model_mut(app, &d.model)?;
                let before = m.indexes.len();
                m.indexes.retain(|i| i.name != d.name);
                if m.indexes.len() == before {
                    return Err(StateError::new(format!(
                        "DropIndex: `{}` has no index `{}`",
                        d.model, d.name
                    )));
                }
            }
            Op::RenameModel(r) => self.rename_model(app, r, tables)?,
            Op::RenameField(r) => self.rename_field(app, r)?,
            Op::RenameIndex(r) => {
                let m = self.model_mut(app, &r.model)?;
                if r.old_name != r.new_name && m.index(&r.new_name).is_some() {
                    return Err(StateError::new(format!(
                        "RenameIndex: `{}` already has index `{}`",
                        r.model, r.new_name
                    )));
                }
                if m.constraint(&r.new_name).is_some() {
                    return Err(StateError::new(format!(
                        "RenameIndex: `{}` already has a constraint called `{}`",
                        r.model, r.new_name
                    )));
                }
                let idx = m
                    .indexes
                    .iter_mut()
                    .find(|i| i.name == r.old_name)
                    .ok_or_else(|| {
                        StateError::new(format!(
                            "RenameIndex: `{}` has no index `{}`",
                            r.model, r.old_name
                        ))
                    })?;
                idx.name.clone_from(&r.new_name);
                m.indexes.sort_by(|a, b| a.name.cmp(&b.name));
            }
            Op::AddConstraint(a) => {
                let m = self.model_mut(app, &a.model)?;
                let c = a.constraint();
                m.check_new_constraint("AddConstraint", &c)?;
                m.constraints.push(c);
                m.constraints.sort_by(|a, b| a.name.cmp(&b.name));
            }
            Op::RemoveConstraint(r) => {
                let m = self.model_mut(app, &r.model)?;
                let before = m.constraints.len();
                m.constraints.retain(|c| c.name != r.name);
                if m.constraints.len() == before {
                    return Err(StateError::new(format!(
                        "RemoveConstraint: `{}` has no constraint `{}`",
                        r.model, r.name
                    )));
                }
            }
            Op::RunSql(_) | Op::RunRust(_) => {}
        }
        Ok(())
    }

    fn rename_model(
        &mut self,
        app: &str,
        r: &crate::operations::RenameModel,
        tables: Option<&mut Tables>,
    ) -> Result<(), StateError> {
        let old_key = (app.to_owned(), r.old_name.clone());
        let new_key = (app.to_owned(), r.new_name.clone());
        if r.old_name != r.new_name && self.models.contains_key(&new_key) {
            return Err(StateError::new(format!(
                "RenameModel: model `{app}.{}` already exists",
                r.new_name
            )));
        }
        if r.old_table != r.new_table
            && let Some(other) = self.table_user(&r.new_table, tables.as_deref())
        {
            return Err(StateError::new(format!(
                "RenameModel `{}`: table `{}` is already used by `{}.{}`",
                r.old_name, r.new_table, other.app, other.name
            )));
        }
        let mut m = self.models.remove(&old_key).ok_or_else(|| {
            StateError::new(format!(
                "RenameModel: model `{app}.{}` does not exist",
                r.old_name
            ))
        })?;
        if let Some(t) = tables {
            t.0.remove(&m.table);
            t.0.insert(r.new_table.clone(), new_key.clone());
        }
        m.name.clone_from(&r.new_name);
        m.table.clone_from(&r.new_table);
        self.models.insert(new_key, m);
        for other in self.models.values_mut() {
            for f in &mut other.fields {
                if let Some(fk) = &mut f.foreign_key
                    && fk.app == app
                    && fk.model == r.old_name
                {
                    fk.model.clone_from(&r.new_name);
                    fk.table.clone_from(&r.new_table);
                }
            }
        }
        Ok(())
    }

    fn rename_field(
        &mut self,
        app: &str,
        r: &crate::operations::RenameField,
    ) -> Result<(), StateError> {
        let m = self.model_mut(app, &r.model)?;
        if m.field(&r.new_name).is_some() {
            return Err(StateError::new(format!(
                "RenameField: `{}.{}` already exists",
                r.model, r.new_name
            )));
        }
        let f = m
            .fields
            .iter_mut()
            .find(|f| f.name == r.old_name)
            .ok_or_else(|| {
                StateError::new(format!(
                    "RenameField: `{}.{}` does not exist",
                    r.model, r.old_name
                ))
            })?;
        let old_column = f.column().to_owned();
        f.name.clone_from(&r.new_name);
        let new_column = f.column().to_owned();
        let is_pk = f.primary_key;
        m.rename_field_references(&r.old_name, &r.new_name);
        check_unique_fields(&r.model, &m.fields)?;
        if is_pk && old_column != new_column {
            for other in self.models.values_mut() {
                for f in &mut other.fields {
                    if let Some(fk) = &mut f.foreign_key
                        && fk.app == app
                        && fk.model == r.model
                        && fk.column == old_column
                    {
                        fk.column.clone_from(&new_column);
                    }
                }
            }
        }
        Ok(())
    }

    /// The model whose table is `table`, looked up in `tables` when given.
    fn table_user(&self, table: &str, tables: Option<&Tables>) -> Option<&ModelState> {
        match tables {
            Some(t) => t.0.get(table).and_then(|key| self.models.get(key)),
            None => self.models.values().find(|m| m.table == table),
        }
    }

    /// Fields of other models (as `App.Model`, `field`) whose foreign key targets `app.model`.
    pub fn references_to(&self, app: &str, model: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for m in self.models.values() {
            for f in &m.fields {
                if let Some(fk) = &f.foreign_key
                    && fk.app == app
                    && fk.model == model
                    && !(m.app == app && m.name == model)
                {
                    out.push((format!("{}.{}", m.app, m.name), f.name.clone()));
                }
            }
        }
        out
    }
}

/// The constraints a model declares, named and sorted. Problems (a `unique_together` over a
/// field that is not a column, a name used twice or by an index too) go to `errors`.
fn constraints_from_meta(
    meta: &ModelMeta,
    here: &str,
    indexes: &[IndexState],
    errors: &mut Vec<StateError>,
) -> Vec<ConstraintState> {
    let mut constraints = Vec::new();
    for c in meta.constraints {
        match c {
            ConstraintMeta::UniqueTogether { fields } => {
                let mut columns = Vec::with_capacity(fields.len());
                for name in *fields {
                    match meta.fields.iter().find(|f| f.name == *name) {
                        Some(f) => columns.push(f.column),
                        None => errors.push(StateError::new(format!(
                            "`{here}` has unique_together over `{name}`, which is not one of its columns"
                        ))),
                    }
                }
                if columns.len() == fields.len() {
                    constraints.push(ConstraintState {
                        name: unique_together_name(meta.table, &columns),
                        kind: ConstraintKind::Unique {
                            fields: fields.iter().map(|s| (*s).to_owned()).collect(),
                        },
                    });
                }
            }
            ConstraintMeta::Check { name, expr } => constraints.push(ConstraintState {
                name: (*name).to_owned(),
                kind: ConstraintKind::Check {
                    expr: (*expr).to_owned(),
                },
            }),
        }
    }
    constraints.sort_by(|a, b| a.name.cmp(&b.name));
    for pair in constraints.windows(2) {
        if pair[0].name == pair[1].name {
            errors.push(StateError::new(format!(
                "`{here}` declares constraint `{}` twice",
                pair[0].name
            )));
        }
    }
    for c in &constraints {
        if indexes.iter().any(|i| i.name == c.name) {
            errors.push(StateError::new(format!(
                "`{here}` uses the name `{}` for an index and a constraint; rename one of them",
                c.name
            )));
        }
    }
    constraints
}

/// Constraint names that another model uses for a constraint or an index. The database
/// would refuse the second one: PostgreSQL keeps a UNIQUE constraint's index, and MySQL 8 a
/// CHECK constraint, under a name that is unique in the whole schema.
fn shared_constraint_names(state: &ProjectState) -> Vec<StateError> {
    let mut owners: BTreeMap<&str, Vec<&ModelState>> = BTreeMap::new();
    for m in state.models.values() {
        let names = m.indexes.iter().map(|i| i.name.as_str());
        for name in names.chain(m.constraints.iter().map(|c| c.name.as_str())) {
            let list = owners.entry(name).or_default();
            if !list.iter().any(|o| std::ptr::eq(*o, m)) {
                list.push(m);
            }
        }
    }
    let mut errors = Vec::new();
    for (name, models) in owners {
        let is_constraint = models.iter().any(|m| m.constraint(name).is_some());
        if models.len() > 1 && is_constraint {
            let list: Vec<String> = models
                .iter()
                .map(|m| format!("`{}.{}`", m.app, m.name))
                .collect();
            errors.push(StateError::new(format!(
                "the constraint name `{name}` is used by {}; a constraint needs a name no other table uses for a constraint or an index",
                list.join(" and ")
            )));
        }
    }
    errors
}

fn check_unique_fields(model: &str, fields: &[FieldState]) -> Result<(), StateError> {
    let mut names = std::collections::BTreeSet::new();
    let mut columns = std::collections::BTreeSet::new();
    for f in fields {
        if !names.insert(f.name.as_str()) {
            return Err(StateError::new(format!(
                "`{model}` has two fields called `{}`",
                f.name
            )));
        }
        if !columns.insert(f.column()) {
            return Err(StateError::new(format!(
                "`{model}` has two fields with column `{}`",
                f.column()
            )));
        }
    }
    Ok(())
}

/// The serialized form of a whole state, used by the snapshot file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateFile {
    /// Format version of the snapshot file.
    pub format: u32,
    /// The newest migration of each app that the snapshot reflects (`app/ID`), sorted.
    #[serde(default)]
    pub migrations: Vec<String>,
    /// Every model, sorted by (app, name).
    #[serde(default)]
    pub models: Vec<ModelState>,
}

impl ProjectState {
    /// Builds a state from its serialized models, rejecting duplicates.
    pub fn from_models_list(models: Vec<ModelState>) -> Result<ProjectState, StateError> {
        let mut state = ProjectState::default();
        for m in models {
            let key = (m.app.clone(), m.name.clone());
            if state.models.insert(key, m).is_some() {
                return Err(StateError::new("the same model appears twice"));
            }
        }
        Ok(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{FieldMeta, ForeignKeyMeta, IndexMeta};
    use crate::operations::{
        AddConstraint, ConstraintRef, CreateModel, FieldRef, ModelRef, Operation, RenameField,
    };

    const fn meta_field(name: &'static str, ty: FieldType, pk: bool) -> FieldMeta {
        FieldMeta {
            name,
            column: name,
            field_type: ty,
            max_length: None,
            precision: None,
            scale: None,
            nullable: false,
            primary_key: pk,
            auto_increment: None,
            unique: false,
            index: false,
            default: None,
            db_default: None,
            foreign_key: None,
            renamed_from: None,
        }
    }

    static PAIR_KEY: ModelMeta = ModelMeta {
        name: "Pair",
        app: "default",
        table: "pairs",
        fields: &[
            meta_field("a", FieldType::Integer, true),
            meta_field("b", FieldType::Integer, true),
        ],
        indexes: &[],
        constraints: &[],
        renamed_from: None,
        online: false,
        module_path: "tests",
    };

    fn pair() -> &'static ModelMeta {
        &PAIR_KEY
    }

    static BAD: ModelMeta = ModelMeta {
        name: "Bad",
        app: "default",
        table: "pairs",
        fields: &[
            meta_field("id", FieldType::BigInteger, true),
            FieldMeta {
                foreign_key: Some(ForeignKeyMeta {
                    target: pair,
                    on_delete: OnAction::Cascade,
                    on_update: OnAction::NoAction,
                }),
                ..meta_field("pair_id", FieldType::Integer, false)
            },
            FieldMeta {
                index: true,
                ..meta_field("code", FieldType::Text, false)
            },
        ],
        indexes: &[IndexMeta {
            name: "pairs_code_idx",
            fields: &["code"],
            unique: false,
        }],
        constraints: &[],
        renamed_from: None,
        online: false,
        module_path: "tests",
    };

    #[test]
    fn model_problems_are_reported_together() {
        let errors = ProjectState::from_models(&[&PAIR_KEY, &BAD]).unwrap_err();
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(errors.len(), 3, "{text:#?}");
        assert!(text[0].contains("both use table `pairs`"), "{text:#?}");
        assert!(text[1].contains("exactly one"), "{text:#?}");
        assert!(
            text[2].contains("declares index `pairs_code_idx` twice"),
            "{text:#?}"
        );
    }

    #[test]
    fn composite_keys_do_not_auto_increment() {
        let s = ProjectState::from_models(&[&PAIR_KEY]).expect("valid");
        let m = s.model("default", "Pair").expect("model");
        assert!(m.fields.iter().all(|f| f.primary_key && !f.auto_increment));
    }

    fn field(name: &str) -> FieldState {
        FieldState::new(name, FieldType::BigInteger)
    }

    fn create(model: &str, table: &str, fields: Vec<FieldState>) -> Operation {
        Operation::CreateModel(CreateModel {
            model: model.into(),
            table: table.into(),
            fields,
        })
    }

    #[test]
    fn the_table_index_follows_creates_renames_and_deletes() {
        use crate::operations::{ModelRef, RenameModel};
        let pk = || FieldState {
            primary_key: true,
            ..field("id")
        };
        let rename = Operation::RenameModel(RenameModel {
            old_name: "A".into(),
            new_name: "B".into(),
            old_table: "t1".into(),
            new_table: "t2".into(),
        });
        let delete_b = Operation::DeleteModel(ModelRef {
            model: "B".into(),
            table: "t2".into(),
        });
        let ops = [
            create("A", "t1", vec![pk()]),
            rename,
            create("C", "t1", vec![pk()]),
            create("X", "t2", vec![pk()]),
            delete_b,
            create("D", "t2", vec![pk()]),
            create("E", "t1", vec![pk()]),
        ];
        // With the index and without it (a pass over the models), the same outcome for each
        // operation: X and E take a table in use, by B and by C.
        let mut plain = ProjectState::default();
        let mut tracked = ProjectState::default();
        let mut tables = Tables::of(&tracked);
        let mut outcomes = Vec::new();
        for op in &ops {
            let a = plain.apply("default", op).map_err(|e| e.message);
            let b = tracked
                .apply_tracking("default", op, Some(&mut tables))
                .map_err(|e| e.message);
            assert_eq!(a, b, "{op}");
            outcomes.push(a.is_ok());
        }
        assert_eq!(outcomes, [true, true, true, false, true, true, false]);
        assert_eq!(plain, tracked);
        assert_eq!(
            tables.0,
            Tables::of(&tracked).0,
            "the index kept is the index of the state"
        );
    }

    #[test]
    fn replay_rejects_operations_that_do_not_fit() {
        let mut s = ProjectState::default();
        let user = create(
            "User",
            "users",
            vec![FieldState {
                primary_key: true,
                ..field("id")
            }],
        );
        s.apply("default", &user).expect("create");
        assert!(
            s.apply("default", &user)
                .unwrap_err()
                .message
                .contains("already exists")
        );
        let other = create("Other", "users", vec![field("id")]);
        assert!(
            s.apply("default", &other)
                .unwrap_err()
                .message
                .contains("already used")
        );
        let remove = Operation::RemoveField(FieldRef {
            model: "User".into(),
            table: "users".into(),
            name: "nope".into(),
        });
        assert!(
            s.apply("default", &remove)
                .unwrap_err()
                .message
                .contains("does not exist")
        );
        let fk = FieldState {
            foreign_key: Some(ForeignKey {
                app: "default".into(),
                model: "User".into(),
                table: "users".into(),
                column: "id".into(),
                on_delete: OnAction::Cascade,
                on_update: OnAction::NoAction,
            }),
            ..field("user_id")
        };
        s.apply("default", &create("Post", "posts", vec![field("id"), fk]))
            .expect("post");
        let delete = Operation::DeleteModel(ModelRef {
            model: "User".into(),
            table: "users".into(),
        });
        assert!(
            s.apply("default", &delete)
                .unwrap_err()
                .message
                .contains("`default.Post.user_id` still references it")
        );
    }

    #[test]
    fn renaming_a_referenced_primary_key_column_updates_foreign_keys() {
        let mut s = ProjectState::default();
        s.apply(
            "default",
            &create(
                "User",
                "users",
                vec![FieldState {
                    primary_key: true,
                    ..field("id")
                }],
            ),
        )
        .expect("user");
        let fk = FieldState {
            foreign_key: Some(ForeignKey {
                app: "default".into(),
                model: "User".into(),
                table: "users".into(),
                column: "id".into(),
                on_delete: OnAction::NoAction,
                on_update: OnAction::NoAction,
            }),
            ..field("user_id")
        };
        s.apply("default", &create("Post", "posts", vec![field("id"), fk]))
            .expect("post");
        let renamed = FieldState {
            primary_key: true,
            column: Some("user_pk".into()),
            ..field("id")
        };
        let users = s.model("default", "User").expect("user").clone();
        s.apply(
            "default",
            &Operation::AlterField(FieldOperation::new(&users, &renamed)),
        )
        .expect("alter");
        let post = s.model("default", "Post").expect("post");
        let fk = post
            .field("user_id")
            .and_then(|f| f.foreign_key.as_ref())
            .expect("fk");
        assert_eq!(fk.column, "user_pk");
    }

    #[test]
    fn long_index_names_are_shortened_stably() {
        let name = field_index_name(&"t".repeat(40), &"c".repeat(40));
        assert_eq!(name.len(), MAX_IDENTIFIER_LEN);
        assert_eq!(name, field_index_name(&"t".repeat(40), &"c".repeat(40)));
        assert_eq!(field_index_name("users", "email"), "users_email_idx");
    }

    static CONSTRAINED: ModelMeta = ModelMeta {
        name: "Post",
        app: "default",
        table: "posts",
        fields: &[
            meta_field("id", FieldType::BigInteger, true),
            meta_field("author_id", FieldType::BigInteger, false),
            FieldMeta {
                column: "slug_text",
                ..meta_field("slug", FieldType::Text, false)
            },
        ],
        indexes: &[],
        constraints: &[
            ConstraintMeta::UniqueTogether {
                fields: &["slug", "author_id"],
            },
            ConstraintMeta::Check {
                name: "posts_author_positive",
                expr: "author_id > 0",
            },
        ],
        renamed_from: None,
        online: false,
        module_path: "tests",
    };

    static BAD_CONSTRAINTS: ModelMeta = ModelMeta {
        name: "Bad",
        app: "default",
        table: "bad",
        fields: &[meta_field("id", FieldType::BigInteger, true)],
        indexes: &[IndexMeta {
            name: "bad_taken",
            fields: &["id"],
            unique: false,
        }],
        constraints: &[
            ConstraintMeta::UniqueTogether {
                fields: &["id", "gone"],
            },
            ConstraintMeta::Check {
                name: "bad_taken",
                expr: "id > 0",
            },
            ConstraintMeta::Check {
                name: "bad_twice",
                expr: "id > 0",
            },
            ConstraintMeta::Check {
                name: "bad_twice",
                expr: "id > 1",
            },
        ],
        renamed_from: None,
        online: false,
        module_path: "tests",
    };

    #[test]
    fn constraints_from_models_are_named_after_columns_and_sorted() {
        let s = ProjectState::from_models(&[&CONSTRAINED]).expect("valid");
        let m = s.model("default", "Post").expect("model");
        let names: Vec<&str> = m.constraints.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            ["posts_author_positive", "posts_slug_text_author_id_uniq"]
        );
        assert_eq!(m.constraints[1].kind.fields(), ["slug", "author_id"]);

        let errors = ProjectState::from_models(&[&BAD_CONSTRAINTS]).unwrap_err();
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(errors.len(), 3, "{text:#?}");
        assert!(text[0].contains("unique_together over `gone`"), "{text:#?}");
        assert!(
            text[1].contains("constraint `bad_twice` twice"),
            "{text:#?}"
        );
        assert!(
            text[2].contains("`bad_taken` for an index and a constraint"),
            "{text:#?}"
        );
    }

    static SAME_CHECK_NAME: ModelMeta = ModelMeta {
        name: "Other",
        app: "default",
        table: "others",
        fields: &[meta_field("id", FieldType::BigInteger, true)],
        indexes: &[],
        constraints: &[ConstraintMeta::Check {
            name: "posts_author_positive",
            expr: "id > 0",
        }],
        renamed_from: None,
        online: false,
        module_path: "tests",
    };

    #[test]
    fn constraint_names_are_unique_across_tables() {
        let errors = ProjectState::from_models(&[&CONSTRAINED, &SAME_CHECK_NAME]).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:#?}");
        assert!(
            errors[0]
                .message
                .contains("`posts_author_positive` is used by `default.Other` and `default.Post`"),
            "{errors:#?}"
        );
    }

    #[test]
    fn long_unique_together_names_are_shortened_stably() {
        assert_eq!(unique_together_name("posts", &["a", "b"]), "posts_a_b_uniq");
        let long = unique_together_name(&"t".repeat(40), &["c".repeat(20).as_str(), "d"]);
        assert_eq!(long.len(), MAX_IDENTIFIER_LEN);
        assert_eq!(
            long,
            unique_together_name(&"t".repeat(40), &["c".repeat(20).as_str(), "d"])
        );
    }

    #[test]
    fn replay_checks_constraints() {
        let mut s = ProjectState::from_models(&[&CONSTRAINED]).expect("valid");
        let m = s.model("default", "Post").expect("model").clone();
        let add = |name: &str, kind: ConstraintKind| {
            Operation::AddConstraint(AddConstraint::new(
                &m,
                &ConstraintState {
                    name: name.into(),
                    kind,
                },
            ))
        };
        let unique = |fields: &[&str]| ConstraintKind::Unique {
            fields: fields.iter().map(|f| (*f).to_owned()).collect(),
        };
        let err =
            |s: &ProjectState, op: &Operation| s.clone().apply("default", op).unwrap_err().message;
        assert!(err(&s, &add("x", unique(&["nope"]))).contains("`Post.nope` does not exist"));
        assert!(err(&s, &add("x", unique(&["id", "id"]))).contains("appears twice"));
        assert!(err(&s, &add("x", unique(&[]))).contains("at least one field"));
        assert!(
            err(&s, &add("posts_author_positive", unique(&["id"])))
                .contains("already has constraint")
        );
        let blank = ConstraintKind::Check { expr: " ".into() };
        assert!(err(&s, &add("x", blank)).contains("empty"));

        let remove_slug = Operation::RemoveField(FieldRef {
            model: "Post".into(),
            table: "posts".into(),
            name: "slug".into(),
        });
        assert!(
            err(&s, &remove_slug)
                .contains("constraint `posts_slug_text_author_id_uniq` still uses it")
        );
        let remove_missing = Operation::RemoveConstraint(ConstraintRef {
            model: "Post".into(),
            table: "posts".into(),
            name: "nope".into(),
        });
        assert!(err(&s, &remove_missing).contains("has no constraint `nope`"));

        // A renamed field is renamed in the UNIQUE constraints that use it.
        s.apply(
            "default",
            &Operation::RenameField(RenameField {
                model: "Post".into(),
                table: "posts".into(),
                old_name: "slug".into(),
                new_name: "handle".into(),
            }),
        )
        .expect("rename");
        let m = s.model("default", "Post").expect("model");
        assert_eq!(
            m.constraint("posts_slug_text_author_id_uniq")
                .expect("kept")
                .kind
                .fields(),
            ["handle", "author_id"]
        );
    }

    #[test]
    fn constraints_have_one_file_form_with_the_kind_as_key() {
        let m: ModelState = toml::from_str(
            r#"
app = "default"
name = "Post"
table = "posts"
fields = []

[[constraints]]
name = "posts_a_b_uniq"
unique = ["a", "b"]

[[constraints]]
name = "posts_views"
check = "views >= 0"
"#,
        )
        .expect("valid");
        assert_eq!(
            m.constraints[0].kind,
            ConstraintKind::Unique {
                fields: vec!["a".into(), "b".into()]
            }
        );
        assert_eq!(
            m.constraints[1].kind,
            ConstraintKind::Check {
                expr: "views >= 0".into()
            }
        );
        let again: ModelState = toml::from_str(&toml::to_string(&m).expect("toml")).expect("toml");
        assert_eq!(again, m);

        for bad in [
            "name = \"x\"",
            "name = \"x\"\nunique = [\"a\"]\ncheck = \"1 = 1\"",
            "name = \"x\"\nunique = []",
            "name = \"x\"\ncheck = \"\"",
            "name = \"x\"\ncheck = \"1 = 1\"\nfields = [\"a\"]",
        ] {
            assert!(
                toml::from_str::<ConstraintState>(bad).is_err(),
                "accepted: {bad}"
            );
        }
    }
}
