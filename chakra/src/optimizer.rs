//! The optimizer: a list of operations made shorter without changing what it does
//! (SPEC §5.2: `CreateModel` absorbs a later `AddField`, an added then removed field cancels,
//! ...).
//!
//! The algorithm is Django's. For each operation `i`, look right for an operation `j` that
//! can be merged with it (`reduce`: one operation, or none when they cancel). That is only
//! correct when the two could have run next to each other: either `j` can move left past
//! every operation between them (the result takes the place of `i`), or `i` can move right
//! past them (the result takes the place of `j`). An operation can move past another when
//! neither touches what the other touches, nor refers to it through a foreign key, an index
//! or a rename. Start again until nothing merges; every merge makes the list shorter, so this
//! ends.
//!
//! What an operation touches is its footprint: the models, tables, fields, column names,
//! primary keys, field orders and indexes it reads or writes. Operations do not always say
//! everything (`RemoveField` names a field, not its column or its foreign key), so a scan of
//! the list tracks what the list itself shows (`Known`); whatever the list does not show is
//! assumed to touch everything of its kind.
//!
//! `RunSQL`, and every kind of operation this module does not know, is a barrier: nothing
//! moves across it and nothing merges with it.
//!
//! # Examples
//!
//! A model created, given a field, then renamed becomes one `CreateModel`:
//!
//! ```
//! use chakra::operations::{CreateModel, Operation, RenameModel};
//! use chakra::optimizer::optimize;
//! use chakra::state::{FieldOperation, FieldState, FieldType, ModelState};
//!
//! let id = FieldState { primary_key: true, ..FieldState::new("id", FieldType::BigInteger) };
//! let tag = ModelState {
//!     app: "default".into(),
//!     name: "Tag".into(),
//!     table: "tag".into(),
//!     fields: vec![id.clone()],
//!     indexes: vec![],
//!     constraints: vec![],
//! };
//! let ops = vec![
//!     Operation::CreateModel(CreateModel { model: "Tag".into(), table: "tag".into(), fields: vec![id] }),
//!     Operation::AddField(FieldOperation::new(&tag, &FieldState::new("label", FieldType::Text))),
//!     Operation::RenameModel(RenameModel {
//!         old_name: "Tag".into(),
//!         new_name: "Label".into(),
//!         old_table: "tag".into(),
//!         new_table: "labels".into(),
//!     }),
//! ];
//! let optimized = optimize("default", ops);
//! assert_eq!(optimized.len(), 1);
//! assert_eq!(optimized[0].to_string(), "+ CreateModel Label (labels)");
//! ```

use std::collections::{BTreeMap, BTreeSet};

use crate::operations::{CreateModel, Operation, RenameField, RenameIndex, RenameModel};
use crate::state::{DefaultValue, FieldOperation, FieldState};

/// Returns a list of operations of app `app` with the same effect as `ops` and at most as
/// long: operations that can be merged are merged, operations that cancel are dropped.
/// Deterministic.
pub fn optimize(app: &str, ops: Vec<Operation>) -> Vec<Operation> {
    let mut ops = ops;
    while let Some(shorter) = reduce_once(app, &ops) {
        ops = shorter;
    }
    ops
}

/// One pass: the list after the first possible merge, or `None` when nothing merges.
///
/// Two operations only merge when they name a model in common (see [`reduce`]), so for each
/// operation only the later ones naming one of its models are tried, up to the next barrier;
/// what lies between is gathered only when a pair merges. A list where nothing merges (what
/// `make` mostly sees) costs `O(n log n)` plus the pairs on a common model.
fn reduce_once(app: &str, ops: &[Operation]) -> Option<Vec<Operation>> {
    let facts = scan(app, ops);
    let mut by_model: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (j, op) in ops.iter().enumerate() {
        for m in models_named(op) {
            by_model.entry(m).or_default().push(j);
        }
    }
    // The first barrier after each operation (`ops.len()` when none).
    let mut barrier_after = vec![ops.len(); ops.len()];
    for i in (0..ops.len().saturating_sub(1)).rev() {
        barrier_after[i] = if facts[i + 1].footprint.barrier {
            i + 1
        } else {
            barrier_after[i + 1]
        };
    }
    for i in 0..ops.len() {
        if facts[i].footprint.barrier {
            continue;
        }
        let mut candidates: Vec<usize> = models_named(&ops[i])
            .flat_map(|m| {
                let js = &by_model[m];
                let from = js.partition_point(|&j| j <= i);
                let to = js.partition_point(|&j| j < barrier_after[i]);
                js[from..to].iter().copied()
            })
            .collect();
        candidates.sort_unstable();
        candidates.dedup();
        let mut between = Between::default();
        let mut gathered = i + 1;
        for j in candidates {
            let Some(merged) = reduce(app, &ops[i], facts[i].field_before.as_ref(), &ops[j]) else {
                continue;
            };
            for fact in &facts[gathered..j] {
                between.add(&fact.footprint);
            }
            gathered = j;
            let mut out = Vec::with_capacity(ops.len() - 1);
            out.extend_from_slice(&ops[..i]);
            if between.lets_pass_left(&facts[j].footprint) {
                // `j` moves left to `i`.
                out.extend(merged);
                out.extend_from_slice(&ops[i + 1..j]);
                out.extend_from_slice(&ops[j + 1..]);
                return Some(out);
            }
            if between.lets_pass_right(&facts[i].footprint) {
                // `i` moves right to `j`.
                out.extend_from_slice(&ops[i + 1..j]);
                out.extend(merged);
                out.extend_from_slice(&ops[j + 1..]);
                return Some(out);
            }
        }
    }
    None
}

/// The models an operation names: two operations that [`reduce`] merges always share one.
fn models_named(op: &Operation) -> impl Iterator<Item = &str> {
    let (a, b) = match op {
        Operation::CreateModel(c) => (Some(&c.model), None),
        Operation::DeleteModel(d) => (Some(&d.model), None),
        Operation::RenameModel(r) => (Some(&r.old_name), Some(&r.new_name)),
        _ => (inner_model(op), None),
    };
    a.into_iter().chain(b).map(String::as_str)
}

// ----- merging two operations -----

/// The operations that do what `first` followed directly by `second` do, when there is a
/// shorter way; `None` otherwise. `field_before` is the definition of the field `first`
/// alters, removes or renames, when the list shows it.
fn reduce(
    app: &str,
    first: &Operation,
    field_before: Option<&FieldState>,
    second: &Operation,
) -> Option<Vec<Operation>> {
    use Operation as Op;
    match (first, second) {
        (Op::CreateModel(c), _) => absorb_into_create(app, c, second),
        (Op::AddField(a), Op::RemoveField(r)) if a.model == r.model && a.name == r.name => {
            Some(Vec::new())
        }
        (Op::AddField(a), Op::AlterField(b)) if a.model == b.model && a.name == b.name => {
            Some(vec![Op::AddField(add_then_alter(a, b)?)])
        }
        (Op::AddField(a), Op::RenameField(r)) if a.model == r.model && a.name == r.old_name => {
            let mut added = a.clone();
            added.name.clone_from(&r.new_name);
            Some(vec![Op::AddField(added)])
        }
        (Op::AlterField(a), Op::AlterField(b)) if a.model == b.model && a.name == b.name => {
            Some(vec![Op::AlterField(alter_then_alter(a, b)?)])
        }
        (Op::AlterField(a), Op::RemoveField(r)) if a.model == r.model && a.name == r.name => {
            // Altering a primary key's column also renames the column that foreign keys to
            // it name; dropping the alteration would leave them naming the old column.
            let was_key = field_before.is_some_and(|f| f.primary_key);
            (!was_key && !a.primary_key).then(|| vec![second.clone()])
        }
        (Op::RenameField(a), Op::RenameField(b))
            if a.model == b.model && a.new_name == b.old_name =>
        {
            Some(if b.new_name == a.old_name {
                Vec::new()
            } else {
                vec![Op::RenameField(RenameField {
                    new_name: b.new_name.clone(),
                    ..a.clone()
                })]
            })
        }
        (Op::RenameModel(a), Op::RenameModel(b))
            if a.new_name == b.old_name && a.new_table == b.old_table =>
        {
            Some(if b.new_name == a.old_name && b.new_table == a.old_table {
                Vec::new()
            } else {
                vec![Op::RenameModel(RenameModel {
                    old_name: a.old_name.clone(),
                    new_name: b.new_name.clone(),
                    old_table: a.old_table.clone(),
                    new_table: b.new_table.clone(),
                })]
            })
        }
        (Op::RenameIndex(a), Op::RenameIndex(b))
            if a.model == b.model && a.new_name == b.old_name =>
        {
            Some(if b.new_name == a.old_name {
                Vec::new()
            } else {
                vec![Op::RenameIndex(RenameIndex {
                    new_name: b.new_name.clone(),
                    ..a.clone()
                })]
            })
        }
        (Op::CreateIndex(a), Op::DropIndex(b)) if a.model == b.model && a.name == b.name => {
            Some(Vec::new())
        }
        (Op::CreateIndex(a), Op::RenameIndex(r)) if a.model == r.model && a.name == r.old_name => {
            let mut created = a.clone();
            created.name.clone_from(&r.new_name);
            Some(vec![Op::CreateIndex(created)])
        }
        // Whatever was done to a table's fields and indexes, dropping it is all that remains.
        (_, Op::DeleteModel(d)) if inner_model(first) == Some(&d.model) => {
            Some(vec![second.clone()])
        }
        _ => None,
    }
}

/// The model whose fields or indexes `op` changes, for operations that change nothing else.
fn inner_model(op: &Operation) -> Option<&String> {
    match op {
        Operation::AddField(f) | Operation::AlterField(f) => Some(&f.model),
        Operation::RemoveField(r) => Some(&r.model),
        Operation::RenameField(r) => Some(&r.model),
        Operation::CreateIndex(i) => Some(&i.model),
        Operation::DropIndex(i) => Some(&i.model),
        Operation::RenameIndex(r) => Some(&r.model),
        _ => None,
    }
}

/// `CreateModel c` followed by `op`, as one `CreateModel` (or nothing, when `op` deletes it).
/// Mirrors what [`ProjectState::apply`](crate::state::ProjectState::apply) does.
fn absorb_into_create(app: &str, c: &CreateModel, op: &Operation) -> Option<Vec<Operation>> {
    // Most operations after a CreateModel are about other models: no copy for those.
    if !models_named(op).any(|m| m == c.model) {
        return None;
    }
    let mut out = c.clone();
    match op {
        // A new table has no rows: a one-off value for existing rows has nothing to fill.
        Operation::AddField(a)
            if a.model == c.model && c.fields.iter().all(|f| f.name != a.name) =>
        {
            out.fields.push(a.field());
        }
        Operation::AlterField(a) if a.model == c.model => {
            let slot = out.fields.iter_mut().find(|f| f.name == a.name)?;
            let (was_key, old_column) = (slot.primary_key, slot.column().to_owned());
            *slot = a.field();
            let new_column = slot.column().to_owned();
            follow_key_column(app, &mut out, was_key, &old_column, &new_column);
        }
        Operation::RemoveField(r) if r.model == c.model => {
            let before = out.fields.len();
            out.fields.retain(|f| f.name != r.name);
            if out.fields.len() == before {
                return None;
            }
        }
        Operation::RenameField(r) if r.model == c.model => {
            if out.fields.iter().any(|f| f.name == r.new_name) {
                return None;
            }
            let field = out.fields.iter_mut().find(|f| f.name == r.old_name)?;
            let old_column = field.column().to_owned();
            field.name.clone_from(&r.new_name);
            let (is_key, new_column) = (field.primary_key, field.column().to_owned());
            follow_key_column(app, &mut out, is_key, &old_column, &new_column);
        }
        Operation::DeleteModel(d) if d.model == c.model && d.table == c.table => {
            return Some(Vec::new());
        }
        Operation::RenameModel(r) if r.old_name == c.model && r.old_table == c.table => {
            out.model.clone_from(&r.new_name);
            out.table.clone_from(&r.new_table);
            for f in &mut out.fields {
                if let Some(fk) = &mut f.foreign_key
                    && fk.app == app
                    && fk.model == r.old_name
                {
                    fk.model.clone_from(&r.new_name);
                    fk.table.clone_from(&r.new_table);
                }
            }
        }
        _ => return None,
    }
    Some(vec![Operation::CreateModel(out)])
}

/// Foreign keys of the model to itself follow its primary key's column, as in the state.
fn follow_key_column(app: &str, c: &mut CreateModel, key: bool, old: &str, new: &str) {
    if !key || old == new {
        return;
    }
    for f in &mut c.fields {
        if let Some(fk) = &mut f.foreign_key
            && fk.app == app
            && fk.model == c.model
            && fk.column == old
        {
            fk.column = new.to_owned();
        }
    }
}

/// What the rows that exist when a column is added hold afterwards.
#[derive(Debug, PartialEq)]
enum Rows {
    Null,
    Value(DefaultValue),
    Expression(String),
    Generated,
}

/// The value `AddField f` gives existing rows: its one-off value, else its default.
fn rows_when_added(f: &FieldOperation) -> Rows {
    if let Some(v) = f.fill.as_ref().or(f.default.as_ref()) {
        Rows::Value(v.clone())
    } else if let Some(e) = &f.db_default {
        Rows::Expression(e.clone())
    } else if f.auto_increment {
        Rows::Generated
    } else {
        Rows::Null
    }
}

/// `AddField add` then `AlterField alter` as one `AddField` whose existing rows end with the
/// same values: the one-off value (`fill`) is what they held after both. `None` when that
/// cannot be said with a literal (a type change converts the values; an SQL expression or a
/// generated value that the new definition would not give again).
fn add_then_alter(add: &FieldOperation, alter: &FieldOperation) -> Option<FieldOperation> {
    let mut rows = rows_when_added(add);
    if rows == Rows::Null
        && let Some(v) = &alter.fill
    {
        // AlterField's one-off value replaces NULLs.
        rows = Rows::Value(v.clone());
    }
    if rows != Rows::Null && add.field_type != alter.field_type {
        return None;
    }
    let mut merged = alter.clone();
    merged.fill = None;
    if rows_when_added(&merged) == rows {
        return Some(merged);
    }
    match rows {
        Rows::Value(v) => {
            merged.fill = Some(v);
            Some(merged)
        }
        // NULLs left in a column that ends NOT NULL: the original fails on a table with rows
        // and does the same as the merged operation on an empty one.
        Rows::Null if !merged.nullable => Some(merged),
        _ => None,
    }
}

/// Two `AlterField`s of one field as one. The first one-off value that runs replaces every
/// NULL, so it is the one kept; it is written for the final type, so both must agree on it.
fn alter_then_alter(a: &FieldOperation, b: &FieldOperation) -> Option<FieldOperation> {
    if (a.fill.is_some() || b.fill.is_some()) && a.field_type != b.field_type {
        return None;
    }
    let mut merged = b.clone();
    merged.fill = a.fill.clone().or_else(|| b.fill.clone());
    Some(merged)
}

// ----- what operations touch -----

/// Something an operation reads or writes. The `Any*` forms stand for every member of their
/// group (used when the list does not show which one).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Res {
    /// A model's existence, name and table. Written by model-level operations; read by every
    /// operation on the model or referring to it.
    Model(String),
    /// The models that fields the list does not show may refer to: models that existed before
    /// the list (a model created in it can only be referred to by fields created after it).
    /// Read by operations on such fields, written by deleting or renaming such a model.
    Referable,
    /// A table name.
    Table(String),
    /// A field name of a model.
    Field(String, String),
    /// Every field of a model.
    AnyField(String),
    /// A column name of a model (only in `frees` and `takes`).
    Column(String, String),
    /// Every column of a model.
    AnyColumn(String),
    /// A model's primary key as the foreign keys to it see it (column name and type).
    Key(String),
    /// The order of a model's fields (`AddField` appends).
    Order(String),
    /// An index: written by operations on it; in `frees` and `takes`, its name (one
    /// namespace per database schema).
    Index(String),
    /// Every index name (only in `frees`).
    AnyIndex,
}

impl Res {
    /// The wildcard this resource belongs to, if its kind has one.
    fn group(&self) -> Option<Res> {
        match self {
            Res::Field(m, _) | Res::AnyField(m) => Some(Res::AnyField(m.clone())),
            Res::Column(m, _) | Res::AnyColumn(m) => Some(Res::AnyColumn(m.clone())),
            Res::Index(_) | Res::AnyIndex => Some(Res::AnyIndex),
            Res::Model(_) | Res::Referable | Res::Table(_) | Res::Key(_) | Res::Order(_) => None,
        }
    }

    fn is_wildcard(&self) -> bool {
        matches!(self, Res::AnyField(_) | Res::AnyColumn(_) | Res::AnyIndex)
    }
}

/// A set of resources answering "does anything in it overlap this one?" in `O(log n)`.
#[derive(Debug, Default)]
struct ResSet {
    /// Every resource added, wildcards included.
    exact: BTreeSet<Res>,
    /// The group of every resource added.
    groups: BTreeSet<Res>,
}

impl ResSet {
    fn insert(&mut self, r: &Res) {
        if let Some(g) = r.group() {
            self.groups.insert(g);
        }
        self.exact.insert(r.clone());
    }

    fn overlaps(&self, r: &Res) -> bool {
        if r.is_wildcard() {
            self.groups.contains(r)
        } else {
            self.exact.contains(r) || r.group().is_some_and(|g| self.exact.contains(&g))
        }
    }
}

/// What one operation touches.
#[derive(Debug, Default)]
struct Footprint {
    /// Nothing moves across this operation.
    barrier: bool,
    reads: Vec<Res>,
    writes: Vec<Res>,
    /// Column and index names the operation gives up (a removed field, a changed column
    /// name, a dropped or renamed index).
    frees: Vec<Res>,
    /// Column and index names the operation takes (an added field, a changed column name, a
    /// created or renamed index).
    takes: Vec<Res>,
}

impl Footprint {
    fn read(&mut self, r: Res) {
        self.reads.push(r);
    }

    fn write(&mut self, r: Res) {
        self.writes.push(r);
    }

    /// A field of `model` that is (or becomes) a foreign key: it needs the target to exist
    /// under its name and names the target's key column.
    fn refers(&mut self, app: &str, model: &str, f: &FieldState) {
        if let Some(fk) = &f.foreign_key
            && fk.app == app
        {
            if fk.model != model {
                self.read(Res::Model(fk.model.clone()));
            }
            self.read(Res::Key(fk.model.clone()));
        }
    }

    /// A foreign key that goes away: it must go before its target does.
    fn stops_referring(&mut self, app: &str, model: &str, f: &FieldState) {
        if let Some(fk) = &f.foreign_key
            && fk.app == app
            && fk.model != model
        {
            self.read(Res::Model(fk.model.clone()));
        }
    }
}

/// The union of the footprints of the operations between `i` and `j`.
#[derive(Debug, Default)]
struct Between {
    reads: ResSet,
    writes: ResSet,
    frees: ResSet,
    takes: ResSet,
}

impl Between {
    fn add(&mut self, fp: &Footprint) {
        fp.reads.iter().for_each(|r| self.reads.insert(r));
        fp.writes.iter().for_each(|r| self.writes.insert(r));
        fp.frees.iter().for_each(|r| self.frees.insert(r));
        fp.takes.iter().for_each(|r| self.takes.insert(r));
    }

    /// Whether `fp` and these operations are independent: neither writes what the other
    /// reads or writes.
    fn independent(&self, fp: &Footprint) -> bool {
        fp.writes
            .iter()
            .all(|w| !self.reads.overlaps(w) && !self.writes.overlaps(w))
            && fp.reads.iter().all(|r| !self.writes.overlaps(r))
    }

    /// Whether an operation with footprint `later`, after these operations, can run before
    /// them with the same effect: they are independent and it takes no name they give up.
    /// (Two fields never share a column, nor two indexes a name, at any one time; so names
    /// can only clash when one operation takes a name that an earlier one gave up.)
    fn lets_pass_left(&self, later: &Footprint) -> bool {
        self.independent(later) && later.takes.iter().all(|n| !self.frees.overlaps(n))
    }

    /// Whether an operation with footprint `earlier`, before these operations, can run after
    /// them with the same effect.
    fn lets_pass_right(&self, earlier: &Footprint) -> bool {
        self.independent(earlier) && earlier.frees.iter().all(|n| !self.takes.overlaps(n))
    }
}

/// What the list shows about the schema at some point of it.
#[derive(Debug, Default)]
struct Known {
    /// Field definitions by `(model, field)`.
    fields: BTreeMap<(String, String), FieldState>,
    /// Models created in the list: every field and index of theirs is known.
    complete: BTreeSet<String>,
    /// Indexes by name: `(model, fields)`.
    indexes: BTreeMap<String, (String, Vec<String>)>,
}

/// An operation with what was known just before it.
struct Fact {
    footprint: Footprint,
    /// The definition of the field the operation alters, removes or renames, when known.
    field_before: Option<FieldState>,
}

/// The footprint of every operation of `ops`, in order.
fn scan(app: &str, ops: &[Operation]) -> Vec<Fact> {
    let mut known = Known::default();
    ops.iter()
        .map(|op| {
            let fact = Fact {
                footprint: known.footprint(app, op),
                field_before: known.field_before(op),
            };
            known.apply(app, op);
            fact
        })
        .collect()
}

impl Known {
    fn field(&self, model: &str, name: &str) -> Option<&FieldState> {
        self.fields.get(&(model.to_owned(), name.to_owned()))
    }

    fn fields_of<'a>(&'a self, model: &'a str) -> impl Iterator<Item = &'a FieldState> + 'a {
        self.fields
            .range((model.to_owned(), String::new())..)
            .take_while(move |((m, _), _)| m == model)
            .map(|(_, f)| f)
    }

    fn field_before(&self, op: &Operation) -> Option<FieldState> {
        match op {
            Operation::AlterField(a) => self.field(&a.model, &a.name).cloned(),
            Operation::RemoveField(r) => self.field(&r.model, &r.name).cloned(),
            Operation::RenameField(r) => self.field(&r.model, &r.old_name).cloned(),
            _ => None,
        }
    }

    fn forget_model(&mut self, model: &str) {
        self.fields.retain(|(m, _), _| m != model);
        self.complete.remove(model);
        self.indexes.retain(|_, (m, _)| m != model);
    }

    fn footprint(&self, app: &str, op: &Operation) -> Footprint {
        let mut fp = Footprint::default();
        let model = |m: &String| Res::Model(m.clone());
        let field = |m: &String, f: &String| Res::Field(m.clone(), f.clone());
        let column = |m: &String, c: &str| Res::Column(m.clone(), c.to_owned());
        match op {
            Operation::CreateModel(c) => {
                fp.write(model(&c.model));
                fp.write(Res::Table(c.table.clone()));
                for f in &c.fields {
                    fp.refers(app, &c.model, f);
                }
            }
            Operation::DeleteModel(d) => {
                fp.write(model(&d.model));
                fp.write(Res::Table(d.table.clone()));
                for f in self.fields_of(&d.model) {
                    fp.stops_referring(app, &d.model, f);
                }
                if self.complete.contains(&d.model) {
                    for (name, (m, _)) in &self.indexes {
                        if *m == d.model {
                            fp.frees.push(Res::Index(name.clone()));
                        }
                    }
                } else {
                    fp.read(Res::Referable);
                    fp.write(Res::Referable);
                    fp.frees.push(Res::AnyIndex);
                }
            }
            Operation::AddField(a) => {
                let new = a.field();
                fp.read(model(&a.model));
                fp.write(field(&a.model, &a.name));
                fp.write(Res::Order(a.model.clone()));
                fp.takes.push(column(&a.model, new.column()));
                fp.refers(app, &a.model, &new);
                if new.primary_key {
                    fp.write(Res::Key(a.model.clone()));
                }
            }
            Operation::RemoveField(r) => {
                fp.read(model(&r.model));
                fp.write(field(&r.model, &r.name));
                match self.field(&r.model, &r.name) {
                    Some(old) => {
                        fp.frees.push(column(&r.model, old.column()));
                        fp.stops_referring(app, &r.model, old);
                        if old.primary_key {
                            fp.write(Res::Key(r.model.clone()));
                        }
                    }
                    None => {
                        fp.frees.push(Res::AnyColumn(r.model.clone()));
                        fp.read(Res::Referable);
                        fp.write(Res::Key(r.model.clone()));
                    }
                }
            }
            Operation::AlterField(a) => {
                let new = a.field();
                fp.read(model(&a.model));
                fp.write(field(&a.model, &a.name));
                fp.refers(app, &a.model, &new);
                match self.field(&a.model, &a.name) {
                    Some(old) => {
                        if old.column() != new.column() {
                            fp.frees.push(column(&a.model, old.column()));
                            fp.takes.push(column(&a.model, new.column()));
                        }
                        fp.stops_referring(app, &a.model, old);
                        if old.primary_key || new.primary_key {
                            fp.write(Res::Key(a.model.clone()));
                        }
                    }
                    None => {
                        fp.frees.push(Res::AnyColumn(a.model.clone()));
                        fp.takes.push(column(&a.model, new.column()));
                        fp.read(Res::Referable);
                        fp.write(Res::Key(a.model.clone()));
                    }
                }
            }
            Operation::RenameField(r) => {
                fp.read(model(&r.model));
                fp.write(field(&r.model, &r.old_name));
                fp.write(field(&r.model, &r.new_name));
                let old = self.field(&r.model, &r.old_name);
                // The column follows the name unless the field names its column.
                if old.is_none_or(|f| f.column.is_none()) {
                    fp.frees.push(column(&r.model, &r.old_name));
                    fp.takes.push(column(&r.model, &r.new_name));
                }
                if old.is_none_or(|f| f.primary_key) {
                    fp.write(Res::Key(r.model.clone()));
                }
            }
            Operation::CreateIndex(c) => {
                fp.read(model(&c.model));
                fp.write(Res::Index(c.name.clone()));
                fp.takes.push(Res::Index(c.name.clone()));
                for f in &c.fields {
                    fp.read(field(&c.model, f));
                }
            }
            Operation::DropIndex(d) => {
                fp.read(model(&d.model));
                fp.write(Res::Index(d.name.clone()));
                fp.frees.push(Res::Index(d.name.clone()));
                match self.indexes.get(&d.name) {
                    Some((m, fields)) if *m == d.model => {
                        for f in fields {
                            fp.read(field(&d.model, f));
                        }
                    }
                    _ => fp.read(Res::AnyField(d.model.clone())),
                }
            }
            Operation::RenameIndex(r) => {
                fp.read(model(&r.model));
                fp.write(Res::Index(r.old_name.clone()));
                fp.write(Res::Index(r.new_name.clone()));
                fp.frees.push(Res::Index(r.old_name.clone()));
                fp.takes.push(Res::Index(r.new_name.clone()));
            }
            Operation::RenameModel(r) => {
                if !self.complete.contains(&r.old_name) {
                    fp.write(Res::Referable);
                }
                fp.write(model(&r.old_name));
                fp.write(model(&r.new_name));
                fp.write(Res::Table(r.old_table.clone()));
                fp.write(Res::Table(r.new_table.clone()));
            }
            // RunSQL and kinds of operations added after this module: barriers.
            _ => fp.barrier = true,
        }
        fp
    }

    fn apply(&mut self, app: &str, op: &Operation) {
        match op {
            Operation::CreateModel(c) => {
                self.forget_model(&c.model);
                self.complete.insert(c.model.clone());
                for f in &c.fields {
                    self.fields
                        .insert((c.model.clone(), f.name.clone()), f.clone());
                }
            }
            Operation::DeleteModel(d) => self.forget_model(&d.model),
            Operation::AddField(a) | Operation::AlterField(a) => {
                self.fields
                    .insert((a.model.clone(), a.name.clone()), a.field());
            }
            Operation::RemoveField(r) => {
                self.fields.remove(&(r.model.clone(), r.name.clone()));
            }
            Operation::RenameField(r) => {
                if let Some(mut f) = self.fields.remove(&(r.model.clone(), r.old_name.clone())) {
                    f.name.clone_from(&r.new_name);
                    self.fields.insert((r.model.clone(), r.new_name.clone()), f);
                }
                for (m, fields) in self.indexes.values_mut() {
                    if *m == r.model {
                        for f in fields.iter_mut().filter(|f| **f == r.old_name) {
                            f.clone_from(&r.new_name);
                        }
                    }
                }
            }
            Operation::CreateIndex(c) => {
                self.indexes
                    .insert(c.name.clone(), (c.model.clone(), c.fields.clone()));
            }
            Operation::DropIndex(d) => {
                self.indexes.remove(&d.name);
            }
            Operation::RenameIndex(r) => {
                if let Some(index) = self.indexes.remove(&r.old_name) {
                    self.indexes.insert(r.new_name.clone(), index);
                }
            }
            Operation::RenameModel(r) => {
                let fields: Vec<FieldState> = self.fields_of(&r.old_name).cloned().collect();
                let complete = self.complete.contains(&r.old_name);
                let indexes: Vec<(String, Vec<String>)> = self
                    .indexes
                    .iter()
                    .filter(|(_, (m, _))| *m == r.old_name)
                    .map(|(name, (_, fields))| (name.clone(), fields.clone()))
                    .collect();
                self.forget_model(&r.old_name);
                for f in fields {
                    self.fields.insert((r.new_name.clone(), f.name.clone()), f);
                }
                if complete {
                    self.complete.insert(r.new_name.clone());
                }
                for (name, fields) in indexes {
                    self.indexes.insert(name, (r.new_name.clone(), fields));
                }
                for f in self.fields.values_mut() {
                    if let Some(fk) = &mut f.foreign_key
                        && fk.app == app
                        && fk.model == r.old_name
                    {
                        fk.model.clone_from(&r.new_name);
                        fk.table.clone_from(&r.new_table);
                    }
                }
            }
            // RunSQL changes nothing the state holds.
            Operation::RunSql(_) => {}
            // What an unknown operation does is unknown: forget everything.
            _ => *self = Known::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operations::{FieldRef, IndexOperation, IndexRef, ModelRef, RunSql};
    use crate::state::{FieldType, ForeignKey, OnAction, ProjectState};

    const APP: &str = "default";

    fn table(model: &str) -> String {
        format!("{}s", model.to_lowercase())
    }

    fn int(name: &str) -> FieldState {
        FieldState::new(name, FieldType::Integer)
    }

    fn nullable(f: FieldState) -> FieldState {
        FieldState {
            nullable: true,
            ..f
        }
    }

    fn pk() -> FieldState {
        FieldState {
            primary_key: true,
            auto_increment: true,
            ..FieldState::new("id", FieldType::BigInteger)
        }
    }

    fn fk(name: &str, target: &str) -> FieldState {
        FieldState {
            foreign_key: Some(ForeignKey {
                app: APP.into(),
                model: target.into(),
                table: table(target),
                column: "id".into(),
                on_delete: OnAction::Cascade,
                on_update: OnAction::NoAction,
            }),
            ..FieldState::new(name, FieldType::BigInteger)
        }
    }

    fn create(model: &str, fields: Vec<FieldState>) -> Operation {
        Operation::CreateModel(CreateModel {
            model: model.into(),
            table: table(model),
            fields,
        })
    }

    fn delete(model: &str) -> Operation {
        Operation::DeleteModel(ModelRef {
            model: model.into(),
            table: table(model),
        })
    }

    /// The operation form of `f` on `model`.
    fn field_op(model: &str, f: &FieldState) -> FieldOperation {
        let mut s = ProjectState::default();
        s.apply(APP, &create(model, Vec::new())).expect("create");
        FieldOperation::new(s.model(APP, model).expect("model"), f)
    }

    fn add(model: &str, f: FieldState) -> Operation {
        Operation::AddField(field_op(model, &f))
    }

    fn add_filled(model: &str, f: FieldState, fill: DefaultValue) -> Operation {
        Operation::AddField(FieldOperation {
            fill: Some(fill),
            ..field_op(model, &f)
        })
    }

    fn alter(model: &str, f: FieldState) -> Operation {
        Operation::AlterField(field_op(model, &f))
    }

    fn alter_filled(model: &str, f: FieldState, fill: DefaultValue) -> Operation {
        Operation::AlterField(FieldOperation {
            fill: Some(fill),
            ..field_op(model, &f)
        })
    }

    fn remove(model: &str, name: &str) -> Operation {
        Operation::RemoveField(FieldRef {
            model: model.into(),
            table: table(model),
            name: name.into(),
        })
    }

    fn rename_field(model: &str, old: &str, new: &str) -> Operation {
        Operation::RenameField(RenameField {
            model: model.into(),
            table: table(model),
            old_name: old.into(),
            new_name: new.into(),
        })
    }

    fn rename_model(old: &str, new: &str, old_table: &str, new_table: &str) -> Operation {
        Operation::RenameModel(RenameModel {
            old_name: old.into(),
            new_name: new.into(),
            old_table: old_table.into(),
            new_table: new_table.into(),
        })
    }

    fn create_index(model: &str, name: &str, fields: &[&str]) -> Operation {
        Operation::CreateIndex(IndexOperation {
            model: model.into(),
            table: table(model),
            name: name.into(),
            fields: fields.iter().map(|f| (*f).to_owned()).collect(),
            unique: false,
            online: false,
        })
    }

    fn drop_index(model: &str, name: &str) -> Operation {
        Operation::DropIndex(IndexRef {
            model: model.into(),
            table: table(model),
            name: name.into(),
            online: false,
        })
    }

    fn rename_index(model: &str, old: &str, new: &str) -> Operation {
        Operation::RenameIndex(RenameIndex {
            model: model.into(),
            table: table(model),
            old_name: old.into(),
            new_name: new.into(),
        })
    }

    fn run_sql() -> Operation {
        Operation::RunSql(RunSql {
            forward: "SELECT 1".into(),
            reverse: None,
            reversible: None,
        })
    }

    fn replay(state: &ProjectState, ops: &[Operation]) -> ProjectState {
        let mut s = state.clone();
        for op in ops {
            s.apply(APP, op).unwrap_or_else(|e| panic!("{op}: {e}"));
        }
        s
    }

    /// Optimizes `ops` (run after `setup`), checks the result is `expected`, that it has the
    /// same effect as `ops` and that optimizing again changes nothing.
    fn check(setup: &[Operation], ops: Vec<Operation>, expected: &[Operation]) {
        let start = replay(&ProjectState::default(), setup);
        let optimized = optimize(APP, ops.clone());
        assert_eq!(
            optimized,
            expected,
            "\noptimized: {:#?}",
            optimized
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        );
        assert_eq!(replay(&start, &optimized), replay(&start, &ops));
        assert_eq!(optimize(APP, optimized.clone()), optimized);
    }

    #[test]
    fn create_model_absorbs_field_operations() {
        let ops = vec![
            create("User", vec![pk()]),
            add_filled("User", int("name"), DefaultValue::Int(0)),
            alter("User", nullable(int("name"))),
            rename_field("User", "name", "full"),
            add("User", nullable(int("age"))),
            remove("User", "age"),
            add("User", nullable(int("last"))),
        ];
        check(
            &[],
            ops,
            &[create(
                "User",
                vec![pk(), nullable(int("full")), nullable(int("last"))],
            )],
        );
    }

    #[test]
    fn create_model_follows_its_key_column_in_foreign_keys_to_itself() {
        let renamed_key = FieldState {
            column: Some("node_id".into()),
            ..pk()
        };
        let mut parent = nullable(fk("parent", "Node"));
        let ops = vec![
            create("Node", vec![pk(), parent.clone()]),
            alter("Node", renamed_key.clone()),
        ];
        if let Some(fk) = &mut parent.foreign_key {
            fk.column = "node_id".into();
        }
        check(&[], ops, &[create("Node", vec![renamed_key, parent])]);

        let ops = vec![
            create("Node", vec![pk(), nullable(fk("parent", "Node"))]),
            rename_field("Node", "id", "key"),
        ];
        let mut parent = nullable(fk("parent", "Node"));
        if let Some(fk) = &mut parent.foreign_key {
            fk.column = "key".into();
        }
        let key = FieldState {
            name: "key".into(),
            ..pk()
        };
        check(&[], ops, &[create("Node", vec![key, parent])]);
    }

    #[test]
    fn create_model_then_delete_model_vanish() {
        let ops = vec![
            create("Tag", vec![pk(), int("n")]),
            create_index("Tag", "tags_n_idx", &["n"]),
            add("Tag", nullable(int("m"))),
            delete("Tag"),
        ];
        check(&[], ops, &[]);
    }

    #[test]
    fn create_model_then_rename_model_is_created_under_the_new_name() {
        let ops = vec![
            create("Node", vec![pk(), nullable(fk("parent", "Node"))]),
            rename_model("Node", "Tree", "nodes", "trees"),
        ];
        let mut parent = nullable(fk("parent", "Node"));
        if let Some(fk) = &mut parent.foreign_key {
            fk.model = "Tree".into();
            fk.table = "trees".into();
        }
        check(
            &[],
            ops,
            &[Operation::CreateModel(CreateModel {
                model: "Tree".into(),
                table: "trees".into(),
                fields: vec![pk(), parent],
            })],
        );
    }

    #[test]
    fn a_split_cycle_is_not_merged_back() {
        // A.b_id needs B, which is created between: merging it into CreateModel A would create
        // A with a foreign key to a table that does not exist yet.
        let ops = vec![
            create("A", vec![pk()]),
            create("B", vec![pk(), fk("a_id", "A")]),
            add("A", nullable(fk("b_id", "B"))),
        ];
        check(&[], ops.clone(), &ops);
    }

    #[test]
    fn add_field_moves_past_a_model_that_references_its_model() {
        let ops = vec![
            create("A", vec![pk()]),
            create("B", vec![pk(), fk("a_id", "A")]),
            add("A", nullable(int("x"))),
        ];
        check(
            &[],
            ops,
            &[
                create("A", vec![pk(), nullable(int("x"))]),
                create("B", vec![pk(), fk("a_id", "A")]),
            ],
        );
    }

    #[test]
    fn create_model_moves_right_to_a_field_when_the_field_cannot_move_left() {
        // A.x needs X, created between; A can be created after X instead.
        let ops = vec![
            create("A", vec![pk()]),
            create("X", vec![pk()]),
            add("A", nullable(fk("x", "X"))),
            add("A", nullable(int("y"))),
        ];
        check(
            &[],
            ops,
            &[
                create("X", vec![pk()]),
                create("A", vec![pk(), nullable(fk("x", "X")), nullable(int("y"))]),
            ],
        );
    }

    #[test]
    fn added_fields_keep_their_order() {
        // A.x cannot join CreateModel A (X is created between, and refers to A); A.y could,
        // but would then come before A.x.
        let ops = vec![
            create("A", vec![pk()]),
            create("X", vec![pk(), fk("a", "A")]),
            add("A", nullable(fk("x", "X"))),
            add("A", nullable(int("y"))),
        ];
        check(&[], ops.clone(), &ops);
    }

    #[test]
    fn nothing_moves_across_run_sql() {
        let setup = [create("User", vec![pk()])];
        let ops = vec![
            add("User", nullable(int("x"))),
            run_sql(),
            remove("User", "x"),
        ];
        check(&setup, ops.clone(), &ops);
        let ops = vec![
            create("Tag", vec![pk()]),
            run_sql(),
            add("Tag", nullable(int("x"))),
        ];
        check(&[], ops.clone(), &ops);
        // Merges on either side still happen.
        let ops = vec![
            add("User", nullable(int("x"))),
            remove("User", "x"),
            run_sql(),
            add("User", nullable(int("y"))),
            remove("User", "y"),
        ];
        check(&setup, ops, &[run_sql()]);
    }

    #[test]
    fn add_then_remove_cancels() {
        let setup = [create("User", vec![pk(), nullable(int("name"))])];
        let ops = vec![
            add("User", nullable(int("x"))),
            alter("User", int("name")),
            add("User", nullable(int("y"))),
            remove("User", "x"),
        ];
        check(
            &setup,
            ops,
            &[alter("User", int("name")), add("User", nullable(int("y")))],
        );
    }

    #[test]
    fn add_then_alter_keeps_what_existing_rows_hold() {
        let setup = [create("User", vec![pk()])];
        // NULLs replaced by the AlterField's one-off value.
        check(
            &setup,
            vec![
                add("User", nullable(int("x"))),
                alter_filled("User", int("x"), DefaultValue::Int(5)),
            ],
            &[add_filled("User", int("x"), DefaultValue::Int(5))],
        );
        // The AddField's one-off value stays in the rows.
        check(
            &setup,
            vec![
                add_filled("User", int("x"), DefaultValue::Int(3)),
                alter("User", nullable(int("x"))),
            ],
            &[add_filled("User", nullable(int("x")), DefaultValue::Int(3))],
        );
        // A changed default does not change rows that exist.
        let with_default = |v| FieldState {
            default: Some(DefaultValue::Int(v)),
            ..int("x")
        };
        check(
            &setup,
            vec![add("User", with_default(1)), alter("User", with_default(2))],
            &[add_filled("User", with_default(2), DefaultValue::Int(1))],
        );
        check(
            &setup,
            vec![add("User", with_default(1)), alter("User", with_default(1))],
            &[add("User", with_default(1))],
        );
        // Rows that stay NULL cannot be said by an AddField with a default.
        let ops = vec![
            add("User", nullable(int("x"))),
            alter("User", nullable(with_default(4))),
        ];
        check(&setup, ops.clone(), &ops);
        // A type change converts the values: left to the database.
        let ops = vec![
            add("User", with_default(1)),
            alter("User", FieldState::new("x", FieldType::BigInteger)),
        ];
        check(&setup, ops.clone(), &ops);
    }

    #[test]
    fn add_then_rename_adds_under_the_new_name() {
        let setup = [create("User", vec![pk()])];
        check(
            &setup,
            vec![
                add_filled("User", int("a"), DefaultValue::Int(1)),
                rename_field("User", "a", "b"),
            ],
            &[add_filled("User", int("b"), DefaultValue::Int(1))],
        );
    }

    #[test]
    fn alter_then_alter_is_the_second() {
        let setup = [create("User", vec![pk(), nullable(int("x"))])];
        check(
            &setup,
            vec![
                alter(
                    "User",
                    nullable(FieldState::new("x", FieldType::BigInteger)),
                ),
                alter("User", FieldState::new("x", FieldType::BigInteger)),
            ],
            &[alter("User", FieldState::new("x", FieldType::BigInteger))],
        );
        // The first one-off value replaces the NULLs; the second has none left.
        check(
            &setup,
            vec![
                alter_filled("User", int("x"), DefaultValue::Int(1)),
                alter_filled("User", nullable(int("x")), DefaultValue::Int(2)),
            ],
            &[alter_filled(
                "User",
                nullable(int("x")),
                DefaultValue::Int(1),
            )],
        );
        // A one-off value written for another type is left alone.
        let ops = vec![
            alter_filled("User", int("x"), DefaultValue::Int(1)),
            alter("User", FieldState::new("x", FieldType::Text)),
        ];
        check(&setup, ops.clone(), &ops);
    }

    #[test]
    fn alter_then_remove_is_the_remove() {
        let setup = [create(
            "User",
            vec![pk(), nullable(int("x")), nullable(int("code"))],
        )];
        check(
            &setup,
            vec![
                alter("User", int("x")),
                create_index("User", "users_code_idx", &["code"]),
                remove("User", "x"),
            ],
            &[
                remove("User", "x"),
                create_index("User", "users_code_idx", &["code"]),
            ],
        );
        // Foreign keys follow a key's column: not merged.
        let key = FieldState {
            column: Some("user_id".into()),
            ..pk()
        };
        let ops = vec![alter("User", key), remove("User", "id")];
        check(&setup, ops.clone(), &ops);
    }

    #[test]
    fn an_index_the_list_does_not_show_blocks_its_model_fields() {
        let setup = [
            create(
                "User",
                vec![pk(), nullable(int("x")), nullable(int("code"))],
            ),
            create_index("User", "users_code_idx", &["code"]),
        ];
        // Which fields the dropped index covers is not in the list: assume all of them.
        let ops = vec![
            alter("User", int("x")),
            drop_index("User", "users_code_idx"),
            remove("User", "x"),
        ];
        check(&setup, ops.clone(), &ops);
        // An index between uses the field: CreateModel cannot take the change.
        let ops = vec![
            create("Tag", vec![pk(), nullable(int("n"))]),
            create_index("Tag", "tags_n_idx", &["n"]),
            alter("Tag", int("n")),
        ];
        check(&[], ops.clone(), &ops);
        // Created and dropped between: cancels first, then the rest merges.
        let ops = vec![
            create("Tag", vec![pk(), nullable(int("n"))]),
            create_index("Tag", "tags_n_idx", &["n"]),
            drop_index("Tag", "tags_n_idx"),
            remove("Tag", "n"),
        ];
        check(&[], ops, &[create("Tag", vec![pk()])]);
    }

    #[test]
    fn a_column_name_given_up_between_is_not_taken_early() {
        // Tag.k is a key P refers to, so its removal stays; Tag.b takes the column it gives up,
        // so it cannot join CreateModel Tag either.
        let key = FieldState {
            column: Some("c".into()),
            ..pk()
        };
        let mut p_fk = fk("tag", "Tag");
        if let Some(fk) = &mut p_fk.foreign_key {
            fk.column = "c".into();
        }
        let b = FieldState {
            column: Some("c".into()),
            ..nullable(int("b"))
        };
        let ops = vec![
            create("Tag", vec![key.clone(), nullable(int("n"))]),
            create("P", vec![pk(), p_fk.clone()]),
            remove("Tag", "id"),
            add("Tag", b),
        ];
        check(&[], ops.clone(), &ops);
        let d = FieldState {
            column: Some("d".into()),
            ..nullable(int("b"))
        };
        let ops = vec![
            create("Tag", vec![key.clone(), nullable(int("n"))]),
            create("P", vec![pk(), p_fk.clone()]),
            remove("Tag", "id"),
            add("Tag", d.clone()),
        ];
        check(
            &[],
            ops,
            &[
                create("Tag", vec![key, nullable(int("n")), d]),
                create("P", vec![pk(), p_fk]),
                remove("Tag", "id"),
            ],
        );
    }

    #[test]
    fn renames_chain() {
        let setup = [
            create("User", vec![pk(), nullable(int("a"))]),
            create_index("User", "i1", &["a"]),
        ];
        check(
            &setup,
            vec![
                rename_field("User", "a", "b"),
                rename_index("User", "i1", "i2"),
                rename_field("User", "b", "c"),
                rename_index("User", "i2", "i3"),
            ],
            &[
                rename_field("User", "a", "c"),
                rename_index("User", "i1", "i3"),
            ],
        );
        check(
            &setup,
            vec![
                rename_field("User", "a", "b"),
                rename_field("User", "b", "a"),
                rename_index("User", "i1", "i2"),
                rename_index("User", "i2", "i1"),
            ],
            &[],
        );
        check(
            &setup,
            vec![
                rename_model("User", "Member", "users", "members"),
                rename_model("Member", "Person", "members", "people"),
            ],
            &[rename_model("User", "Person", "users", "people")],
        );
        check(
            &setup,
            vec![
                rename_model("User", "Member", "users", "members"),
                rename_model("Member", "User", "members", "users"),
            ],
            &[],
        );
        // Back to the old name, in another table: only the table changes.
        check(
            &setup,
            vec![
                rename_model("User", "Member", "users", "members"),
                rename_model("Member", "User", "members", "accounts"),
            ],
            &[rename_model("User", "User", "users", "accounts")],
        );
    }

    #[test]
    fn a_rename_between_blocks() {
        let setup = [create("User", vec![pk(), nullable(int("a"))])];
        let ops = vec![
            add("User", nullable(int("x"))),
            rename_model("User", "Member", "users", "members"),
            remove("Member", "x"),
        ];
        check(&setup, ops.clone(), &ops);
    }

    #[test]
    fn index_created_then_dropped_or_renamed() {
        let setup = [create("User", vec![pk(), nullable(int("a"))])];
        check(
            &setup,
            vec![create_index("User", "i1", &["a"]), drop_index("User", "i1")],
            &[],
        );
        check(
            &setup,
            vec![
                create_index("User", "i1", &["a"]),
                rename_index("User", "i1", "i2"),
            ],
            &[create_index("User", "i2", &["a"])],
        );
    }

    #[test]
    fn delete_model_absorbs_changes_to_its_fields() {
        let setup = [
            create("User", vec![pk(), nullable(int("a")), nullable(int("b"))]),
            create_index("User", "i1", &["b"]),
        ];
        check(
            &setup,
            vec![
                alter("User", int("a")),
                drop_index("User", "i1"),
                remove("User", "b"),
                delete("User"),
            ],
            &[delete("User")],
        );
    }

    #[test]
    fn deleting_a_cycle_is_left_alone() {
        let setup = [
            create("A", vec![pk()]),
            create("B", vec![pk(), nullable(fk("a_id", "A"))]),
            add("A", nullable(fk("b_id", "B"))),
        ];
        // B cannot be deleted before A.b_id goes; A cannot before B does.
        let ops = vec![remove("A", "b_id"), delete("B"), delete("A")];
        check(&setup, ops.clone(), &ops);
    }

    #[test]
    fn a_reference_added_to_an_older_model_keeps_its_target() {
        // Gamma is older than the list, but the list shows its new field refers to Alpha:
        // Alpha cannot be deleted before Gamma; removing Alpha.f0 moves right instead.
        let setup = [create("Gamma", vec![pk()])];
        let ops = vec![
            create("Alpha", vec![pk(), nullable(int("f0"))]),
            add("Gamma", nullable(fk("f0", "Alpha"))),
            run_sql(),
            remove("Alpha", "f0"),
            delete("Gamma"),
            delete("Alpha"),
        ];
        let mut expected = ops.clone();
        expected.remove(3);
        check(&setup, ops, &expected);
    }

    #[test]
    fn a_dropped_reference_stays_before_its_target_goes() {
        // Post.author's foreign key to User is dropped between: DeleteModel User cannot move
        // before it, whether the list shows the key (created in it) or not (setup); the
        // alteration of User.x moves right to it instead.
        let ops = vec![
            create("User", vec![pk(), nullable(int("x"))]),
            create("Post", vec![pk(), nullable(fk("author", "User"))]),
            run_sql(),
            alter("User", int("x")),
            alter(
                "Post",
                nullable(FieldState::new("author", FieldType::BigInteger)),
            ),
            delete("User"),
        ];
        let mut expected = ops.clone();
        expected.remove(3);
        check(&[], ops.clone(), &expected);
        let setup = &ops[..2];
        check(setup, ops[3..].to_vec(), &expected[3..]);
        // Changes to a table that is then dropped go with it.
        let ops = vec![
            alter("User", int("x")),
            alter("Post", nullable(fk("author", "User"))),
            delete("Post"),
        ];
        check(setup, ops, &[alter("User", int("x")), delete("Post")]);
    }
}
