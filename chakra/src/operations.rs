//! Migration operations: the steps a migration file lists under `[[operations]]`.
//!
//! Operations name models, not SQL: the SQL comes from a dialect given the state before the
//! operation. Rolling back applies the operation's [`inverse`](Operation::inverse), computed
//! from the state before it, so only the forward direction needs SQL.
//!
//! # Examples
//!
//! An operation, its display line, and the operations that undo it:
//!
//! ```
//! use chakra::operations::{FieldRef, Operation};
//! use chakra::state::{FieldState, FieldType, ModelState, ProjectState};
//!
//! # fn main() -> Result<(), chakra::state::StateError> {
//! let users = ModelState {
//!     app: "default".into(),
//!     name: "User".into(),
//!     table: "users".into(),
//!     fields: vec![FieldState::new("id", FieldType::BigInteger), FieldState::new("bio", FieldType::Text)],
//!     indexes: vec![],
//!     constraints: vec![],
//! };
//! let before = ProjectState::from_models_list(vec![users])?;
//! let remove = Operation::RemoveField(FieldRef {
//!     model: "User".into(),
//!     table: "users".into(),
//!     name: "bio".into(),
//! });
//! assert_eq!(remove.to_string(), "- RemoveField User.bio");
//! assert_eq!(remove.data_loss("default", &before).as_deref(), Some("drops column `users`.`bio` and its data"));
//!
//! // The inverse is computed from the state before: it adds the column back as it was.
//! let undo = remove.inverse("default", &before)?.expect("reversible");
//! assert_eq!(undo.len(), 1);
//! assert_eq!(undo[0].to_string(), "+ AddField User.bio");
//! # Ok(()) }
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::state::{
    ConstraintKind, ConstraintState, FieldOperation, FieldState, IndexState, ModelState,
    ProjectState, StateError,
};

/// One step of a migration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Operation {
    /// Create a table.
    CreateModel(CreateModel),
    /// Drop a table.
    DeleteModel(ModelRef),
    /// Add a column.
    AddField(FieldOperation),
    /// Drop a column.
    RemoveField(FieldRef),
    /// Change a column's type, nullability, default, uniqueness or foreign key.
    AlterField(FieldOperation),
    /// Create an index.
    CreateIndex(IndexOperation),
    /// Drop an index.
    DropIndex(IndexRef),
    /// Rename a model, and its table when the table name changes.
    RenameModel(RenameModel),
    /// Rename a field, and its column when the column follows the field name.
    RenameField(RenameField),
    /// Rename an index.
    RenameIndex(RenameIndex),
    /// Add a named UNIQUE or CHECK constraint to a table.
    AddConstraint(AddConstraint),
    /// Remove a named constraint.
    RemoveConstraint(ConstraintRef),
    /// Run hand-written SQL.
    #[serde(rename = "RunSQL")]
    RunSql(RunSql),
    /// Run a Rust function registered with `chakra::data_migration!` (a data migration).
    RunRust(RunRust),
}

/// `CreateModel`: a new table with its fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateModel {
    /// The model name.
    pub model: String,
    /// The table name.
    pub table: String,
    /// The columns.
    pub fields: Vec<FieldState>,
}

/// Names a model (`DeleteModel`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelRef {
    /// The model name.
    pub model: String,
    /// The table name, for readers of the file.
    pub table: String,
}

/// Names a field (`RemoveField`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldRef {
    /// The model name.
    pub model: String,
    /// The table name, for readers of the file.
    pub table: String,
    /// The field name.
    pub name: String,
}

/// `CreateIndex`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexOperation {
    /// The model name.
    pub model: String,
    /// The table name.
    pub table: String,
    /// The index name.
    pub name: String,
    /// Field names in index order.
    pub fields: Vec<String>,
    /// A unique index.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unique: bool,
    /// Built without blocking writes to the table (`CREATE INDEX CONCURRENTLY` on PostgreSQL,
    /// `ALGORITHM=INPLACE, LOCK=NONE` on MySQL/MariaDB), for a model marked
    /// `#[chakra(online)]`. Needs a migration with `atomic = false`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub online: bool,
}

impl IndexOperation {
    /// The operation that creates `index` on `model`.
    pub fn new(model: &ModelState, index: &IndexState, online: bool) -> Self {
        IndexOperation {
            model: model.name.clone(),
            table: model.table.clone(),
            name: index.name.clone(),
            fields: index.fields.clone(),
            unique: index.unique,
            online,
        }
    }

    /// The index this operation creates.
    pub fn index(&self) -> IndexState {
        IndexState {
            name: self.name.clone(),
            fields: self.fields.clone(),
            unique: self.unique,
        }
    }
}

/// Names an index (`DropIndex`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexRef {
    /// The model name.
    pub model: String,
    /// The table name.
    pub table: String,
    /// The index name.
    pub name: String,
    /// Dropped without blocking the table (`DROP INDEX CONCURRENTLY` on PostgreSQL,
    /// `ALGORITHM=INPLACE, LOCK=NONE` on MySQL/MariaDB). Needs `atomic = false`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub online: bool,
}

/// `AddConstraint`: a named UNIQUE or CHECK constraint on an existing table. In files the key
/// names the kind, as in the snapshot: `unique = ["a", "b"]` or `check = "<SQL>"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "AddConstraintFile", into = "AddConstraintFile")]
pub struct AddConstraint {
    /// The model name.
    pub model: String,
    /// The table name.
    pub table: String,
    /// The constraint name.
    pub name: String,
    /// What the constraint enforces.
    pub kind: ConstraintKind,
    /// Added without a long lock on a table that holds rows, for a model marked
    /// `#[chakra(online)]`: on PostgreSQL a CHECK is added `NOT VALID` and then validated, a
    /// UNIQUE constraint is built as a unique index `CONCURRENTLY` first, each step in a
    /// transaction of its own. Needs `atomic = false`.
    pub online: bool,
}

impl AddConstraint {
    /// The operation that adds `constraint` to `model`.
    pub fn new(model: &ModelState, constraint: &ConstraintState) -> Self {
        AddConstraint {
            model: model.name.clone(),
            table: model.table.clone(),
            name: constraint.name.clone(),
            kind: constraint.kind.clone(),
            online: false,
        }
    }

    /// The constraint this operation adds.
    pub fn constraint(&self) -> ConstraintState {
        ConstraintState {
            name: self.name.clone(),
            kind: self.kind.clone(),
        }
    }
}

/// The file form of [`AddConstraint`].
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AddConstraintFile {
    model: String,
    table: String,
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    unique: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    check: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    online: bool,
}

impl TryFrom<AddConstraintFile> for AddConstraint {
    type Error = String;
    fn try_from(f: AddConstraintFile) -> Result<Self, String> {
        let kind = ConstraintKind::from_keys(f.unique, f.check)
            .map_err(|e| format!("AddConstraint `{}`: {e}", f.name))?;
        Ok(AddConstraint {
            model: f.model,
            table: f.table,
            name: f.name,
            kind,
            online: f.online,
        })
    }
}

impl From<AddConstraint> for AddConstraintFile {
    fn from(a: AddConstraint) -> Self {
        let (unique, check) = a.kind.to_keys();
        AddConstraintFile {
            model: a.model,
            table: a.table,
            name: a.name,
            unique,
            check,
            online: a.online,
        }
    }
}

/// Names a constraint (`RemoveConstraint`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConstraintRef {
    /// The model name.
    pub model: String,
    /// The table name.
    pub table: String,
    /// The constraint name.
    pub name: String,
}

/// `RenameModel`: the model (and its table) gets a new name; rows are kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenameModel {
    /// The model's name before.
    pub old_name: String,
    /// The model's name after.
    pub new_name: String,
    /// The table before.
    pub old_table: String,
    /// The table after (the same as `old_table` when only the model name changes).
    pub new_table: String,
}

/// `RenameField`: the field (and its column, unless the field names its column with
/// `column = ...`) gets a new name; values are kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenameField {
    /// The model.
    pub model: String,
    /// The model's table.
    pub table: String,
    /// The field's name before.
    pub old_name: String,
    /// The field's name after.
    pub new_name: String,
}

/// `RenameIndex`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenameIndex {
    /// The model.
    pub model: String,
    /// The model's table.
    pub table: String,
    /// The index name before.
    pub old_name: String,
    /// The index name after.
    pub new_name: String,
}

/// `RunSQL`: hand-written SQL, with an optional reverse.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSql {
    /// SQL run when applying.
    pub forward: String,
    /// SQL run when rolling back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reverse: Option<String>,
    /// Whether the operation can be rolled back. Defaults to whether `reverse` is given;
    /// `reversible = true` without `reverse` means "nothing to undo".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reversible: Option<bool>,
}

/// `RunRust`: a data migration written in Rust, named as it was registered with
/// `chakra::data_migration!`, with an optional reverse function.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRust {
    /// The function run when applying.
    pub forward: String,
    /// The function run when rolling back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reverse: Option<String>,
    /// Whether the operation can be rolled back. Defaults to whether `reverse` is given;
    /// `reversible = true` without `reverse` means "nothing to undo".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reversible: Option<bool>,
}

impl RunRust {
    /// Whether rolling back is possible.
    pub fn is_reversible(&self) -> bool {
        self.reversible.unwrap_or(self.reverse.is_some())
    }
}

impl RunSql {
    /// Whether rolling back is possible.
    pub fn is_reversible(&self) -> bool {
        self.reversible.unwrap_or(self.reverse.is_some())
    }
}

impl Operation {
    /// Whether the operation avoids long locks (`online = true`): it then runs outside a
    /// transaction, so its migration must have `atomic = false`.
    pub fn is_online(&self) -> bool {
        match self {
            Operation::CreateIndex(i) => i.online,
            Operation::DropIndex(i) => i.online,
            Operation::AddConstraint(c) => c.online,
            Operation::AddField(f) | Operation::AlterField(f) => f.online,
            _ => false,
        }
    }

    /// The model this operation touches, if any.
    pub fn model(&self) -> Option<&str> {
        match self {
            Operation::CreateModel(c) => Some(&c.model),
            Operation::DeleteModel(d) => Some(&d.model),
            Operation::AddField(f) | Operation::AlterField(f) => Some(&f.model),
            Operation::RemoveField(f) => Some(&f.model),
            Operation::CreateIndex(i) => Some(&i.model),
            Operation::DropIndex(i) => Some(&i.model),
            Operation::RenameModel(r) => Some(&r.new_name),
            Operation::RenameField(r) => Some(&r.model),
            Operation::RenameIndex(r) => Some(&r.model),
            Operation::AddConstraint(a) => Some(&a.model),
            Operation::RemoveConstraint(r) => Some(&r.model),
            Operation::RunSql(_) | Operation::RunRust(_) => None,
        }
    }

    /// The operation's type name as written in files.
    pub fn kind(&self) -> &'static str {
        match self {
            Operation::CreateModel(_) => "CreateModel",
            Operation::DeleteModel(_) => "DeleteModel",
            Operation::AddField(_) => "AddField",
            Operation::RemoveField(_) => "RemoveField",
            Operation::AlterField(_) => "AlterField",
            Operation::CreateIndex(_) => "CreateIndex",
            Operation::DropIndex(_) => "DropIndex",
            Operation::RenameModel(_) => "RenameModel",
            Operation::RenameField(_) => "RenameField",
            Operation::RenameIndex(_) => "RenameIndex",
            Operation::AddConstraint(_) => "AddConstraint",
            Operation::RemoveConstraint(_) => "RemoveConstraint",
            Operation::RunSql(_) => "RunSQL",
            Operation::RunRust(_) => "RunRust",
        }
    }

    /// The output marker: `+` creates, `-` drops, `~` changes.
    pub fn marker(&self) -> char {
        match self {
            Operation::CreateModel(_)
            | Operation::AddField(_)
            | Operation::CreateIndex(_)
            | Operation::AddConstraint(_) => '+',
            Operation::DeleteModel(_)
            | Operation::RemoveField(_)
            | Operation::DropIndex(_)
            | Operation::RemoveConstraint(_) => '-',
            Operation::AlterField(_)
            | Operation::RenameModel(_)
            | Operation::RenameField(_)
            | Operation::RenameIndex(_)
            | Operation::RunSql(_)
            | Operation::RunRust(_) => '~',
        }
    }

    /// A short fragment for derived migration names (`add_user_email`).
    ///
    /// # Examples
    ///
    /// ```
    /// use chakra::operations::{ModelRef, Operation};
    ///
    /// let op = Operation::DeleteModel(ModelRef { model: "BlogPost".into(), table: "posts".into() });
    /// assert_eq!(op.name_fragment(), "delete_blog_post");
    /// assert_eq!((op.kind(), op.marker(), op.model()), ("DeleteModel", '-', Some("BlogPost")));
    /// ```
    pub fn name_fragment(&self) -> String {
        let lower = |s: &str| crate::naming::snake_case(s);
        match self {
            Operation::CreateModel(c) => lower(&c.model),
            Operation::DeleteModel(d) => format!("delete_{}", lower(&d.model)),
            Operation::AddField(f) => format!("add_{}_{}", lower(&f.model), f.name),
            Operation::RemoveField(f) => format!("remove_{}_{}", lower(&f.model), f.name),
            Operation::AlterField(f) => format!("alter_{}_{}", lower(&f.model), f.name),
            Operation::CreateIndex(i) => format!("create_index_{}", i.name),
            Operation::DropIndex(i) => format!("drop_index_{}", i.name),
            Operation::RenameModel(r) if r.old_name == r.new_name => {
                format!("alter_{}_table", lower(&r.new_name))
            }
            Operation::RenameModel(r) => {
                format!("rename_{}_{}", lower(&r.old_name), lower(&r.new_name))
            }
            Operation::RenameField(r) => {
                format!("rename_{}_{}", lower(&r.model), r.new_name)
            }
            Operation::RenameIndex(r) => format!("rename_index_{}", r.new_name),
            Operation::AddConstraint(a) => format!("add_constraint_{}", a.name),
            Operation::RemoveConstraint(r) => format!("remove_constraint_{}", r.name),
            Operation::RunSql(_) => "run_sql".to_owned(),
            Operation::RunRust(r) => format!(
                "run_{}",
                r.forward.rsplit(['.', ':']).next().unwrap_or("rust")
            ),
        }
    }

    /// Why this operation can lose data, given the state before it; `None` when it cannot.
    pub fn data_loss(&self, app: &str, before: &ProjectState) -> Option<String> {
        match self {
            Operation::DeleteModel(d) => {
                Some(format!("drops table `{}` and all its rows", d.table))
            }
            Operation::RemoveField(f) => Some(format!(
                "drops column `{}`.`{}` and its data",
                f.table,
                before
                    .model(app, &f.model)
                    .map_or(f.name.as_str(), |m| m.column_of(&f.name))
            )),
            Operation::AlterField(a) => {
                let old = before.model(app, &a.model)?.field(&a.name)?;
                let new = a.field();
                narrowing(old, &new)
                    .map(|why| format!("alters `{}`.`{}`: {why}", a.table, new.column()))
            }
            _ => None,
        }
    }

    /// The operations that undo this one, given the state before it. `None` when the
    /// operation is irreversible.
    ///
    /// # Examples
    ///
    /// ```
    /// use chakra::operations::{Operation, RunSql};
    /// use chakra::state::ProjectState;
    ///
    /// let fix = |reverse: Option<&str>| Operation::RunSql(RunSql {
    ///     forward: "UPDATE users SET active = TRUE".into(),
    ///     reverse: reverse.map(str::to_owned),
    ///     reversible: None,
    /// });
    /// let before = ProjectState::default();
    /// // Without `reverse`, RunSQL cannot be rolled back.
    /// assert_eq!(fix(None).inverse("default", &before), Ok(None));
    /// let undo = fix(Some("UPDATE users SET active = FALSE")).inverse("default", &before);
    /// let undo = undo.expect("valid").expect("reversible");
    /// assert_eq!(undo[0].to_string(), "~ RunSQL UPDATE users SET active = FALSE");
    /// ```
    pub fn inverse(
        &self,
        app: &str,
        before: &ProjectState,
    ) -> Result<Option<Vec<Operation>>, StateError> {
        let model = |name: &str| {
            before
                .model(app, name)
                .ok_or_else(|| StateError::new(format!("model `{app}.{name}` does not exist")))
        };
        Ok(Some(match self {
            Operation::CreateModel(c) => vec![Operation::DeleteModel(ModelRef {
                model: c.model.clone(),
                table: c.table.clone(),
            })],
            Operation::DeleteModel(d) => {
                let m = model(&d.model)?;
                let mut ops = vec![Operation::CreateModel(CreateModel {
                    model: m.name.clone(),
                    table: m.table.clone(),
                    fields: m.fields.clone(),
                })];
                ops.extend(
                    m.indexes
                        .iter()
                        .map(|i| Operation::CreateIndex(IndexOperation::new(m, i, false))),
                );
                ops.extend(
                    m.constraints
                        .iter()
                        .map(|c| Operation::AddConstraint(AddConstraint::new(m, c))),
                );
                ops
            }
            Operation::AddField(f) => vec![Operation::RemoveField(FieldRef {
                model: f.model.clone(),
                table: f.table.clone(),
                name: f.name.clone(),
            })],
            Operation::RemoveField(r) => {
                let m = model(&r.model)?;
                let field = m.field(&r.name).ok_or_else(|| {
                    StateError::new(format!(
                        "RemoveField: `{}.{}` does not exist",
                        r.model, r.name
                    ))
                })?;
                vec![Operation::AddField(FieldOperation::new(m, field))]
            }
            Operation::AlterField(a) => {
                let m = model(&a.model)?;
                let field = m.field(&a.name).ok_or_else(|| {
                    StateError::new(format!(
                        "AlterField: `{}.{}` does not exist",
                        a.model, a.name
                    ))
                })?;
                vec![Operation::AlterField(FieldOperation::new(m, field))]
            }
            Operation::CreateIndex(i) => vec![Operation::DropIndex(IndexRef {
                model: i.model.clone(),
                table: i.table.clone(),
                name: i.name.clone(),
                online: i.online,
            })],
            Operation::DropIndex(d) => {
                let m = model(&d.model)?;
                let index = m.index(&d.name).ok_or_else(|| {
                    StateError::new(format!(
                        "DropIndex: `{}` has no index `{}`",
                        d.model, d.name
                    ))
                })?;
                vec![Operation::CreateIndex(IndexOperation::new(
                    m, index, d.online,
                ))]
            }
            Operation::RenameModel(r) => vec![Operation::RenameModel(RenameModel {
                old_name: r.new_name.clone(),
                new_name: r.old_name.clone(),
                old_table: r.new_table.clone(),
                new_table: r.old_table.clone(),
            })],
            Operation::RenameField(r) => vec![Operation::RenameField(RenameField {
                model: r.model.clone(),
                table: r.table.clone(),
                old_name: r.new_name.clone(),
                new_name: r.old_name.clone(),
            })],
            Operation::RenameIndex(r) => vec![Operation::RenameIndex(RenameIndex {
                model: r.model.clone(),
                table: r.table.clone(),
                old_name: r.new_name.clone(),
                new_name: r.old_name.clone(),
            })],
            Operation::AddConstraint(a) => vec![Operation::RemoveConstraint(ConstraintRef {
                model: a.model.clone(),
                table: a.table.clone(),
                name: a.name.clone(),
            })],
            Operation::RemoveConstraint(r) => {
                let m = model(&r.model)?;
                let constraint = m.constraint(&r.name).ok_or_else(|| {
                    StateError::new(format!(
                        "RemoveConstraint: `{}` has no constraint `{}`",
                        r.model, r.name
                    ))
                })?;
                vec![Operation::AddConstraint(AddConstraint::new(m, constraint))]
            }
            Operation::RunRust(r) => {
                if !r.is_reversible() {
                    return Ok(None);
                }
                match &r.reverse {
                    Some(f) => vec![Operation::RunRust(RunRust {
                        forward: f.clone(),
                        reverse: Some(r.forward.clone()),
                        reversible: None,
                    })],
                    None => vec![],
                }
            }
            Operation::RunSql(r) => {
                if !r.is_reversible() {
                    return Ok(None);
                }
                match &r.reverse {
                    Some(sql) => vec![Operation::RunSql(RunSql {
                        forward: sql.clone(),
                        reverse: Some(r.forward.clone()),
                        reversible: None,
                    })],
                    None => vec![],
                }
            }
        }))
    }
}

/// Why changing `old` into `new` can lose data, if it can.
fn narrowing(old: &FieldState, new: &FieldState) -> Option<String> {
    if old.field_type != new.field_type {
        return Some(format!(
            "type changes from {} to {}; values that do not convert are lost or rejected",
            old.field_type, new.field_type
        ));
    }
    match (old.max_length, new.max_length) {
        (None, Some(n)) => {
            return Some(format!(
                "max_length becomes {n}; longer values are rejected"
            ));
        }
        (Some(a), Some(b)) if b < a => {
            return Some(format!(
                "max_length shrinks from {a} to {b}; longer values are rejected"
            ));
        }
        _ => {}
    }
    if old.nullable && !new.nullable {
        return Some("becomes NOT NULL; rows holding NULL make the migration fail".to_owned());
    }
    None
}

impl Operation {
    /// The operation without its marker: `CreateModel User (users)`.
    pub fn summary(&self) -> String {
        match self {
            Operation::CreateModel(c) => format!("CreateModel {} ({})", c.model, c.table),
            Operation::DeleteModel(d) => format!("DeleteModel {} ({})", d.model, d.table),
            Operation::AddField(a) => format!("AddField {}.{}", a.model, a.name),
            Operation::RemoveField(r) => format!("RemoveField {}.{}", r.model, r.name),
            Operation::AlterField(a) => format!("AlterField {}.{}", a.model, a.name),
            Operation::CreateIndex(i) => {
                format!(
                    "CreateIndex {} on {} ({})",
                    i.name,
                    i.model,
                    i.fields.join(", ")
                )
            }
            Operation::DropIndex(i) => format!("DropIndex {} on {}", i.name, i.model),
            Operation::RenameModel(r) if r.old_table == r.new_table => {
                format!(
                    "RenameModel {} -> {} ({})",
                    r.old_name, r.new_name, r.new_table
                )
            }
            Operation::RenameModel(r) => format!(
                "RenameModel {} -> {} ({} -> {})",
                r.old_name, r.new_name, r.old_table, r.new_table
            ),
            Operation::RenameField(r) => {
                format!("RenameField {}.{} -> {}", r.model, r.old_name, r.new_name)
            }
            Operation::RenameIndex(r) => {
                format!(
                    "RenameIndex {} -> {} on {}",
                    r.old_name, r.new_name, r.model
                )
            }
            Operation::AddConstraint(a) => {
                format!("AddConstraint {} on {}: {}", a.name, a.model, a.kind)
            }
            Operation::RemoveConstraint(r) => {
                format!("RemoveConstraint {} on {}", r.name, r.model)
            }
            Operation::RunRust(r) => format!("RunRust {}", r.forward),
            Operation::RunSql(r) => {
                let first = r
                    .forward
                    .lines()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("");
                format!("RunSQL {}", first.trim())
            }
        }
    }
}

impl fmt::Display for Operation {
    /// One line for `make` and `apply` output: `+ CreateModel User (users)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.marker(), self.summary())?;
        if self.is_online() {
            f.write_str(" (online)")?;
        }
        Ok(())
    }
}
