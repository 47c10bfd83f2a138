//! The autodetector: the operations that turn one schema state into another.
//!
//! Pure and deterministic: the same two states, hints and answers always give the same
//! operations in the same order. No database is involved. The order follows what each
//! operation needs:
//!
//! 0. `RemoveConstraint` for constraints that disappear or change (under the names the models
//!    and fields had before any rename: MySQL refuses to rename a column that a CHECK
//!    constraint uses, and a changed CHECK often follows a renamed column), and for the
//!    constraints of deleted models that stand in the way of step 6,
//! 1. `RenameModel` and `RenameField`: from `renamed_from` hints, or, for a removed and an
//!    added model or field with the same definition, when the [`Questioner`] says so (the
//!    default answer is no, which drops and adds: data would be lost, so the answer is
//!    recorded for the user),
//! 2. `RenameIndex` for an index that only changed its name, `DropIndex` for indexes that
//!    disappear or change (before their fields go away),
//! 3. `CreateModel` for new models, foreign-key targets first; models that reference each
//!    other in a cycle are created without the cyclic foreign keys, which are added next,
//! 4. `AddField` for new fields, and the deferred cyclic foreign keys: those within an app
//!    before the others, those to another app after them (see `make`, which cuts an app's
//!    operations before the first one that waits for another app),
//! 5. `AlterField` for changed fields,
//! 6. `RemoveField` for fields that disappear,
//! 7. `DeleteModel` for removed models, referencing models first,
//! 8. `CreateIndex` for new or changed indexes,
//! 9. `AddConstraint` for new or changed constraints (a new model gets its constraints here
//!    too: `CreateModel` carries none), once every field they name exists.
//!
//! # Examples
//!
//! ```
//! use chakra::autodetect::detect;
//! use chakra::state::{FieldState, FieldType, ModelState, ProjectState};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let users = |fields: Vec<FieldState>| ModelState {
//!     app: "default".into(),
//!     name: "User".into(),
//!     table: "users".into(),
//!     fields,
//!     indexes: vec![],
//!     constraints: vec![],
//! };
//! let id = FieldState { primary_key: true, ..FieldState::new("id", FieldType::BigInteger) };
//! let email = FieldState { nullable: true, ..FieldState::new("email", FieldType::Text) };
//! let from = ProjectState::from_models_list(vec![users(vec![id.clone()])])?;
//! let to = ProjectState::from_models_list(vec![users(vec![id, email])])?;
//!
//! let changes = detect(&from, &to)?;
//! let lines: Vec<String> = changes.apps["default"].iter().map(ToString::to_string).collect();
//! assert_eq!(lines, ["+ AddField User.email"]);
//! assert!(detect(&to, &to)?.is_empty());
//! # Ok(()) }
//! ```

use std::collections::{BTreeMap, BTreeSet};

use crate::model::ModelMeta;
use crate::operations::{
    AddConstraint, ConstraintRef, CreateModel, FieldRef, IndexOperation, IndexRef, ModelRef,
    Operation, RenameField, RenameIndex, RenameModel,
};
use crate::state::{
    ConstraintKind, DefaultValue, FieldOperation, FieldState, IndexState, ModelKey, ModelState,
    ProjectState,
};

/// What the models say beyond their schema: rename hints from
/// `#[chakra(renamed_from = "...")]` on models and fields, and the models marked
/// `#[chakra(online)]`, whose existing tables are changed without long locks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hints {
    /// `(app, new model name)` -> old model name.
    pub models: BTreeMap<ModelKey, String>,
    /// `((app, model), new field name)` -> old field name.
    pub fields: BTreeMap<(ModelKey, String), String>,
    /// Models marked `#[chakra(online)]` (by their new name).
    pub online: BTreeSet<ModelKey>,
}

impl Hints {
    /// The hints declared on `models`.
    pub fn from_models(models: &[&ModelMeta]) -> Hints {
        let mut hints = Hints::default();
        for m in models {
            let key = (m.app.to_owned(), m.name.to_owned());
            if let Some(old) = m.renamed_from {
                hints.models.insert(key.clone(), old.to_owned());
            }
            if m.online {
                hints.online.insert(key.clone());
            }
            for f in m.fields {
                if let Some(old) = f.renamed_from {
                    hints
                        .fields
                        .insert((key.clone(), f.name.to_owned()), old.to_owned());
                }
            }
        }
        hints
    }
}

/// Answers the questions the autodetector cannot decide alone.
pub trait Questioner {
    /// Was model `old` renamed to `new` (same fields)? Saying no drops `old` and its rows.
    fn rename_model(&mut self, app: &str, old: &str, new: &str) -> bool;
    /// Was field `model.old` renamed to `model.new` (same definition)? Saying no drops the
    /// column and its values.
    fn rename_field(&mut self, app: &str, model: &str, old: &str, new: &str) -> bool;

    /// A one-off value for the rows of `table` that need one: `field` is new and NOT NULL
    /// without a default (`becomes_not_null` false), or becomes NOT NULL and existing NULLs
    /// need a value (`becomes_not_null` true). `None` declines.
    fn one_off_default(
        &mut self,
        app: &str,
        model: &str,
        table: &str,
        field: &FieldState,
        becomes_not_null: bool,
    ) -> Option<DefaultValue> {
        let _ = (app, model, table, field, becomes_not_null);
        None
    }
}

/// The questioner of `--no-input` and of runs without a terminal: answers no, and remembers
/// what it declined so the user can be told how to keep the data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NoInput {
    /// One sentence per declined rename, saying which hint would keep the data.
    pub declined: Vec<String>,
}

impl Questioner for NoInput {
    fn rename_model(&mut self, app: &str, old: &str, new: &str) -> bool {
        self.declined.push(format!(
            "model `{app}.{old}` was removed and `{app}.{new}` added with the same fields; if it is a rename, \
             add #[chakra(renamed_from = \"{old}\")] to `{new}` so its rows are kept"
        ));
        false
    }

    fn rename_field(&mut self, app: &str, model: &str, old: &str, new: &str) -> bool {
        self.declined.push(format!(
            "field `{app}.{model}.{old}` was removed and `{model}.{new}` added with the same definition; if it is a rename, \
             add #[chakra(renamed_from = \"{old}\")] to `{new}` so its values are kept"
        ));
        false
    }
}

/// The changes between two states, grouped by app. Each app's operations are in run order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Changes {
    /// Operations per app.
    pub apps: BTreeMap<String, Vec<Operation>>,
}

impl Changes {
    /// True when the states are equal.
    pub fn is_empty(&self) -> bool {
        self.apps.values().all(Vec::is_empty)
    }
}

/// A change that cannot be made without help from the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AutodetectError {
    /// A NOT NULL field without a default is added to a table that may hold rows.
    #[error(
        "`{app}.{model}.{field}` is new, NOT NULL and has no default, but table `{table}` may already hold rows that need a value; \
         give it a default (#[chakra(default = ...)] or #[chakra(db_default = \"...\")]), make it an Option<_>, \
         or run `migrate make` on a terminal (without --no-input) to give a one-off value for the existing rows"
    )]
    NotNullWithoutDefault {
        /// The app.
        app: String,
        /// The model.
        model: String,
        /// The field.
        field: String,
        /// The table.
        table: String,
    },
}

/// Computes the operations that turn `from` into `to`, without hints, declining every
/// rename that would need a question.
pub fn detect(from: &ProjectState, to: &ProjectState) -> Result<Changes, AutodetectError> {
    detect_with(from, to, &Hints::default(), &mut NoInput::default())
}

/// Computes the operations that turn `from` into `to`, using rename hints and asking
/// `questioner` about renames it cannot tell from the hints.
///
/// # Examples
///
/// A field that disappears while another with the same definition appears may be a rename.
/// [`NoInput`] says no (dropping the column) and records which hint keeps the data; a hint
/// settles it:
///
/// ```
/// use chakra::autodetect::{Hints, NoInput, detect_with};
/// use chakra::state::{FieldState, FieldType, ModelState, ProjectState};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let users = |field: &str| ModelState {
///     app: "default".into(),
///     name: "User".into(),
///     table: "users".into(),
///     fields: vec![FieldState { nullable: true, ..FieldState::new(field, FieldType::Text) }],
///     indexes: vec![],
///     constraints: vec![],
/// };
/// let from = ProjectState::from_models_list(vec![users("name")])?;
/// let to = ProjectState::from_models_list(vec![users("full_name")])?;
///
/// let mut no = NoInput::default();
/// let dropped = detect_with(&from, &to, &Hints::default(), &mut no)?;
/// assert_eq!(dropped.apps["default"].len(), 2); // RemoveField, AddField
/// assert!(no.declined[0].contains("#[chakra(renamed_from = \"name\")]"));
///
/// let mut hints = Hints::default();
/// let user = ("default".to_owned(), "User".to_owned());
/// hints.fields.insert((user, "full_name".to_owned()), "name".to_owned());
/// let renamed = detect_with(&from, &to, &hints, &mut NoInput::default())?;
/// assert_eq!(renamed.apps["default"][0].to_string(), "~ RenameField User.name -> full_name");
/// # Ok(()) }
/// ```
pub fn detect_with(
    from: &ProjectState,
    to: &ProjectState,
    hints: &Hints,
    questioner: &mut dyn Questioner,
) -> Result<Changes, AutodetectError> {
    let mut out: BTreeMap<String, Vec<Operation>> = BTreeMap::new();
    // Constraint removals and renames first; the rest compares the state with them applied.
    let renames = detect_renames(from, to, hints, questioner);
    let removals = constraint_removals(from, to, &renames);
    let mut from = from.clone();
    for (app, op) in removals.into_iter().chain(renames) {
        from.apply(&app, &op)
            .expect("a detected removal or rename applies to the state it was found in");
        out.entry(app).or_default().push(op);
    }
    let from = &from;
    let mut push = |app: &str, op: Operation| out.entry(app.to_owned()).or_default().push(op);
    // `#[chakra(online)]`: operations on the model's existing table avoid long locks.
    let online = |m: &ModelState| hints.online.contains(&key(m));

    let created: Vec<&ModelState> = to
        .models
        .iter()
        .filter(|(k, _)| !from.models.contains_key(*k))
        .map(|(_, m)| m)
        .collect();
    let deleted: Vec<&ModelState> = from
        .models
        .iter()
        .filter(|(k, _)| !to.models.contains_key(*k))
        .map(|(_, m)| m)
        .collect();
    let kept: Vec<(&ModelState, &ModelState)> = from
        .models
        .iter()
        .filter_map(|(k, old)| to.models.get(k).map(|new| (old, new)))
        .collect();

    // Deleted models that reference each other need the cyclic foreign keys removed first
    // (step 6); indexes on those fields must go before them.
    let (mut delete_order, cut) = deletion_cuts(&deleted);

    // 2. DropIndex
    for m in &delete_order {
        for idx in &m.indexes {
            if idx
                .fields
                .iter()
                .any(|f| cut.contains(&(key(m), f.clone())))
            {
                push(
                    &m.app,
                    Operation::DropIndex(IndexRef {
                        model: m.name.clone(),
                        table: m.table.clone(),
                        name: idx.name.clone(),
                        online: false,
                    }),
                );
            }
        }
    }
    let mut renamed_indexes: BTreeSet<(ModelKey, String)> = BTreeSet::new();
    for (old, new) in &kept {
        for (from_name, to_name) in index_renames(old, new) {
            renamed_indexes.insert((key(new), to_name.clone()));
            push(
                &old.app,
                Operation::RenameIndex(RenameIndex {
                    model: old.name.clone(),
                    table: old.table.clone(),
                    old_name: from_name,
                    new_name: to_name,
                }),
            );
        }
    }
    for (old, new) in &kept {
        for idx in &old.indexes {
            let renamed = index_renames(old, new).iter().any(|(f, _)| *f == idx.name);
            if new.index(&idx.name) != Some(idx) && !renamed {
                push(
                    &old.app,
                    Operation::DropIndex(IndexRef {
                        model: old.name.clone(),
                        table: old.table.clone(),
                        name: idx.name.clone(),
                        online: online(new),
                    }),
                );
            }
        }
    }

    // 3. CreateModel, targets first; cyclic foreign keys deferred to AddField.
    let created_keys: BTreeSet<ModelKey> = created.iter().map(|m| key(m)).collect();
    let (create_order, deferred) = creation_order(&created, &created_keys);
    for m in &create_order {
        let fields = m
            .fields
            .iter()
            .filter(|f| !deferred.contains(&(key(m), f.name.clone())))
            .cloned()
            .collect();
        push(
            &m.app,
            Operation::CreateModel(CreateModel {
                model: m.name.clone(),
                table: m.table.clone(),
                fields,
            }),
        );
    }

    // 4. AddField. Deferred keys within one app come first, and those to other apps last: when
    // `make` must cut an app's operations for a cycle across apps, it cuts before the first
    // operation that waits for another app, and the keys that need no other app stay in the
    // first migration with their models.
    let push_deferred = |push: &mut dyn FnMut(&str, Operation), same_app: bool| {
        for m in &create_order {
            for f in &m.fields {
                let own = f.foreign_key.as_ref().is_some_and(|fk| fk.app == m.app);
                if own == same_app && deferred.contains(&(key(m), f.name.clone())) {
                    push(&m.app, Operation::AddField(FieldOperation::new(m, f)));
                }
            }
        }
    };
    push_deferred(&mut push, true);
    for (old, new) in &kept {
        for f in &new.fields {
            if old.field(&f.name).is_none() {
                let mut op = FieldOperation::new(new, f);
                // Only a foreign key makes adding a column slow to lock (its validation).
                op.online = online(new) && f.foreign_key.is_some();
                if f.needs_value() {
                    op.fill = questioner.one_off_default(&new.app, &new.name, &new.table, f, false);
                    if op.fill.is_none() {
                        return Err(AutodetectError::NotNullWithoutDefault {
                            app: new.app.clone(),
                            model: new.name.clone(),
                            field: f.name.clone(),
                            table: new.table.clone(),
                        });
                    }
                }
                push(&new.app, Operation::AddField(op));
            }
        }
    }
    push_deferred(&mut push, false);

    // 5. AlterField
    for (old, new) in &kept {
        for f in &new.fields {
            if let Some(before) = old.field(&f.name)
                && before != f
            {
                let mut op = FieldOperation::new(new, f);
                if before.nullable && f.needs_value() {
                    // Existing NULLs need a value; without one the migration fails on them.
                    op.fill = questioner.one_off_default(&new.app, &new.name, &new.table, f, true);
                }
                push(&new.app, Operation::AlterField(op));
            }
        }
    }

    // 6. RemoveField; foreign keys between deleted models in a cycle are removed here too.
    for (old, new) in &kept {
        for f in &old.fields {
            if new.field(&f.name).is_none() {
                push(&old.app, remove_field(old, f));
            }
        }
    }
    for m in &delete_order {
        for f in &m.fields {
            if cut.contains(&(key(m), f.name.clone())) {
                push(&m.app, remove_field(m, f));
            }
        }
    }

    // 7. DeleteModel: the reverse of creation order puts referencing models first.
    delete_order.reverse();
    for m in delete_order {
        push(
            &m.app,
            Operation::DeleteModel(ModelRef {
                model: m.name.clone(),
                table: m.table.clone(),
            }),
        );
    }

    // 8. CreateIndex
    let new_models = kept
        .iter()
        .map(|(old, new)| (Some(*old), *new))
        .chain(create_order.iter().map(|m| (None, *m)));
    let mut creates: Vec<(&str, Operation)> = Vec::new();
    for (old, new) in new_models {
        for idx in &new.indexes {
            if old.and_then(|o| o.index(&idx.name)) != Some(idx)
                && !renamed_indexes.contains(&(key(new), idx.name.clone()))
            {
                // A new table is empty: only an existing one is worth building online.
                creates.push((
                    &new.app,
                    Operation::CreateIndex(IndexOperation::new(
                        new,
                        idx,
                        old.is_some() && online(new),
                    )),
                ));
            }
        }
    }
    // 9. AddConstraint: changed ones were removed in step 0, so what the model lacks is added.
    let new_models = kept
        .iter()
        .map(|(old, new)| (Some(*old), *new))
        .chain(create_order.iter().map(|m| (None, *m)));
    for (old, new) in new_models {
        for c in &new.constraints {
            if old.and_then(|o| o.constraint(&c.name)) != Some(c) {
                let mut op = AddConstraint::new(new, c);
                op.online = old.is_some() && online(new);
                creates.push((&new.app, Operation::AddConstraint(op)));
            }
        }
    }
    for (app, op) in creates {
        push(app, op);
    }

    Ok(Changes { apps: out })
}

/// The deleted models in creation order, and their foreign keys that close a cycle among
/// them (removed before the models are deleted; see [`creation_order`]).
fn deletion_cuts<'a>(
    deleted: &[&'a ModelState],
) -> (Vec<&'a ModelState>, BTreeSet<(ModelKey, String)>) {
    let deleted_keys: BTreeSet<ModelKey> = deleted.iter().map(|m| key(m)).collect();
    creation_order(deleted, &deleted_keys)
}

/// Step 0: `RemoveConstraint` for every constraint of `from` that `to` does not have as it
/// is (compared after `renames`, which rename the fields of UNIQUE constraints), named as in
/// `from`, before any rename. Deleted models lose the constraints that would stop the removal
/// of their cyclic foreign keys: UNIQUE ones over such a field and every CHECK, whose
/// expression may use it.
fn constraint_removals(
    from: &ProjectState,
    to: &ProjectState,
    renames: &[(String, Operation)],
) -> Vec<(String, Operation)> {
    let mut renamed = from.clone();
    // Where each model of `renamed` is in `from`: its name and table there.
    let mut origin: BTreeMap<ModelKey, (String, String)> = from
        .models
        .iter()
        .map(|(k, m)| (k.clone(), (m.name.clone(), m.table.clone())))
        .collect();
    for (app, op) in renames {
        renamed
            .apply(app, op)
            .expect("a detected rename applies to the state it was found in");
        if let Operation::RenameModel(r) = op
            && let Some(was) = origin.remove(&(app.clone(), r.old_name.clone()))
        {
            origin.insert((app.clone(), r.new_name.clone()), was);
        }
    }
    let deleted: Vec<&ModelState> = renamed
        .models
        .iter()
        .filter(|(k, _)| !to.models.contains_key(*k))
        .map(|(_, m)| m)
        .collect();
    let (_, cut) = deletion_cuts(&deleted);
    let mut ops = Vec::new();
    for (k, old) in &renamed.models {
        let (name, table) = origin.get(k).expect("every model comes from `from`");
        for c in &old.constraints {
            let remove = match to.models.get(k) {
                Some(new) => new.constraint(&c.name) != Some(c),
                None => match &c.kind {
                    ConstraintKind::Unique { fields } => {
                        fields.iter().any(|f| cut.contains(&(k.clone(), f.clone())))
                    }
                    ConstraintKind::Check { .. } => cut.iter().any(|(m, _)| m == k),
                },
            };
            if remove {
                ops.push((
                    old.app.clone(),
                    Operation::RemoveConstraint(ConstraintRef {
                        model: name.clone(),
                        table: table.clone(),
                        name: c.name.clone(),
                    }),
                ));
            }
        }
    }
    ops
}

/// Renames of models and fields, in order, with the app each belongs to.
fn detect_renames(
    from: &ProjectState,
    to: &ProjectState,
    hints: &Hints,
    questioner: &mut dyn Questioner,
) -> Vec<(String, Operation)> {
    let mut ops = Vec::new();
    let mut state = from.clone();
    let mut used: BTreeSet<ModelKey> = BTreeSet::new();
    let created: Vec<&ModelState> = to
        .models
        .iter()
        .filter(|(k, _)| !from.models.contains_key(*k))
        .map(|(_, m)| m)
        .collect();
    for new in created {
        let gone = |name: &str| {
            let k = (new.app.clone(), name.to_owned());
            (!to.models.contains_key(&k) && !used.contains(&k))
                .then(|| state.models.get(&k))
                .flatten()
        };
        let old = match hints.models.get(&key(new)).and_then(|o| gone(o)) {
            Some(old) => Some(old.clone()),
            None => from
                .models
                .values()
                .filter(|m| m.app == new.app && gone(&m.name).is_some() && same_fields(m, new))
                .find(|m| questioner.rename_model(&new.app, &m.name, &new.name))
                .cloned(),
        };
        if let Some(old) = old {
            used.insert(key(&old));
            let op = Operation::RenameModel(RenameModel {
                old_name: old.name.clone(),
                new_name: new.name.clone(),
                old_table: old.table.clone(),
                new_table: new.table.clone(),
            });
            state
                .apply(&new.app, &op)
                .expect("the old model exists and the new name is free");
            ops.push((new.app.clone(), op));
        }
    }
    // A model that kept its name but not its table.
    for (k, new) in &to.models {
        if let Some(old) = state.models.get(k)
            && old.table != new.table
        {
            let op = Operation::RenameModel(RenameModel {
                old_name: old.name.clone(),
                new_name: new.name.clone(),
                old_table: old.table.clone(),
                new_table: new.table.clone(),
            });
            state.apply(&new.app, &op).expect("the model exists");
            ops.push((new.app.clone(), op));
        }
    }
    for (k, new) in &to.models {
        let Some(old) = state.models.get(k).cloned() else {
            continue;
        };
        let mut taken: BTreeSet<String> = BTreeSet::new();
        for field in &new.fields {
            if old.field(&field.name).is_some() {
                continue;
            }
            let removed = |name: &str| {
                (new.field(name).is_none() && !taken.contains(name))
                    .then(|| old.field(name))
                    .flatten()
            };
            let hinted = hints
                .fields
                .get(&(k.clone(), field.name.clone()))
                .and_then(|o| removed(o))
                .map(|f| f.name.clone());
            let from_name = hinted.or_else(|| {
                old.fields
                    .iter()
                    .filter(|f| removed(&f.name).is_some() && same_definition(f, field))
                    .find(|f| questioner.rename_field(&new.app, &new.name, &f.name, &field.name))
                    .map(|f| f.name.clone())
            });
            if let Some(from_name) = from_name {
                taken.insert(from_name.clone());
                let op = Operation::RenameField(RenameField {
                    model: new.name.clone(),
                    table: old.table.clone(),
                    old_name: from_name,
                    new_name: field.name.clone(),
                });
                state
                    .apply(&new.app, &op)
                    .expect("the old field exists and the new name is free");
                ops.push((new.app.clone(), op));
            }
        }
    }
    ops
}

/// The field with its name taken out, and its column when that only follows the name.
fn definition(f: &FieldState) -> FieldState {
    let mut d = f.clone();
    if d.column.as_deref() == Some(d.name.as_str()) {
        d.column = None;
    }
    d.name = String::new();
    d
}

/// Two fields that differ only in name.
fn same_definition(a: &FieldState, b: &FieldState) -> bool {
    definition(a) == definition(b)
}

/// Two models whose fields differ at most in nothing but the model (same names, same
/// definitions, same order).
fn same_fields(a: &ModelState, b: &ModelState) -> bool {
    a.fields.len() == b.fields.len()
        && a.fields
            .iter()
            .zip(&b.fields)
            .all(|(x, y)| x.name == y.name && same_definition(x, y))
}

/// Indexes of a kept model that only changed their name: `(old name, new name)` pairs of a
/// dropped and a created index with the same fields and uniqueness, matched in name order.
fn index_renames(old: &ModelState, new: &ModelState) -> Vec<(String, String)> {
    let dropped: Vec<&IndexState> = old
        .indexes
        .iter()
        .filter(|i| new.index(&i.name).is_none())
        .collect();
    let mut created: Vec<&IndexState> = new
        .indexes
        .iter()
        .filter(|i| old.index(&i.name).is_none())
        .collect();
    let mut pairs = Vec::new();
    for d in dropped {
        if let Some(pos) = created
            .iter()
            .position(|c| c.fields == d.fields && c.unique == d.unique)
        {
            pairs.push((d.name.clone(), created.remove(pos).name.clone()));
        }
    }
    pairs
}

fn key(m: &ModelState) -> ModelKey {
    (m.app.clone(), m.name.clone())
}

fn remove_field(m: &ModelState, f: &FieldState) -> Operation {
    Operation::RemoveField(FieldRef {
        model: m.name.clone(),
        table: m.table.clone(),
        name: f.name.clone(),
    })
}

/// Orders `models` so that foreign-key targets within `group` come first. When models
/// reference each other in a cycle, the foreign keys that close it are returned as
/// `(model, field)` pairs to be handled separately (added after creation, removed before
/// deletion). Deterministic: ties are broken by (app, name).
fn creation_order<'a>(
    models: &[&'a ModelState],
    group: &BTreeSet<ModelKey>,
) -> (Vec<&'a ModelState>, BTreeSet<(ModelKey, String)>) {
    let by_key: BTreeMap<ModelKey, &ModelState> = models.iter().map(|m| (key(m), *m)).collect();
    let targets = |m: &ModelState| -> Vec<(String, ModelKey)> {
        m.fields
            .iter()
            .filter_map(|f| {
                let fk = f.foreign_key.as_ref()?;
                let t = (fk.app.clone(), fk.model.clone());
                (group.contains(&t) && t != key(m)).then(|| (f.name.clone(), t))
            })
            .collect()
    };
    // Kahn's algorithm: `unmet` counts each pending model's foreign keys to models not placed
    // yet, `ready` holds the pending models with none, and the next model is the first ready
    // one by key (or, when none is ready, the first pending one, whose keys are deferred).
    let mut unmet: BTreeMap<&ModelKey, usize> = BTreeMap::new();
    let mut referrers: BTreeMap<ModelKey, Vec<&ModelKey>> = BTreeMap::new();
    for (k, m) in &by_key {
        let ts = targets(m);
        unmet.insert(k, ts.len());
        for (_, t) in ts {
            referrers.entry(t).or_default().push(k);
        }
    }
    let mut ready: BTreeSet<&ModelKey> = unmet
        .iter()
        .filter(|(_, n)| **n == 0)
        .map(|(k, _)| *k)
        .collect();
    let mut order = Vec::with_capacity(models.len());
    let mut placed: BTreeSet<ModelKey> = BTreeSet::new();
    let mut deferred = BTreeSet::new();
    let mut pending: BTreeSet<&ModelKey> = by_key.keys().collect();
    while let Some(&first) = pending.first() {
        let next = match ready.pop_first() {
            Some(k) => k,
            None => {
                // A cycle: take the first pending model and defer its foreign keys to models
                // not placed yet. This breaks every cycle through it.
                for (field, t) in targets(by_key[first]) {
                    if !placed.contains(&t) {
                        deferred.insert((first.clone(), field));
                    }
                }
                first
            }
        };
        pending.remove(next);
        placed.insert(next.clone());
        order.push(by_key[next]);
        for r in referrers.get(next).into_iter().flatten() {
            if pending.contains(r) {
                let n = unmet.get_mut(r).expect("every model is counted");
                *n -= 1;
                if *n == 0 {
                    ready.insert(r);
                }
            }
        }
    }
    (order, deferred)
}
