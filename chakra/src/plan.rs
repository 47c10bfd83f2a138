//! Plans: which migrations to apply or roll back, in which order, with which SQL.
//!
//! Synchronous and database-free: the executor hands in the history it read; everything is
//! computed, including every statement, before anything runs, so that an irreversible
//! operation or an unsupported change stops the command while the database is untouched.
//!
//! # Examples
//!
//! What `migrate apply` and `migrate rollback` would run on PostgreSQL, with no migration
//! applied yet:
//!
//! ```
//! use std::collections::BTreeSet;
//! use chakra::dialect::DialectKind;
//! use chakra::graph::Graph;
//! use chakra::plan::{Direction, apply_plan, plan_sql};
//! use chakra::project::load_embedded;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let text = r#"
//! migration = { id = "0001_initial", app = "default" }
//! [[operations]]
//! type = "CreateModel"
//! model = "Tag"
//! table = "tags"
//! fields = [{ name = "label", type = "Text" }]
//! "#;
//! let graph = Graph::new(load_embedded([("0001_initial.toml", text)])?)
//!     .map_err(|errors| errors[0].to_string())?;
//! let plan = apply_plan(&graph, &BTreeSet::new(), None)?;
//!
//! let forward = plan_sql(DialectKind::Postgres, &graph, &plan, Direction::Forward)?;
//! assert_eq!(forward[0].steps[0].statements, ["CREATE TABLE \"tags\" (\n    \"label\" TEXT NOT NULL\n)"]);
//! // Rolling back runs the inverse of each operation, computed from the state before it.
//! let backward = plan_sql(DialectKind::Postgres, &graph, &plan, Direction::Backward)?;
//! assert_eq!(backward[0].steps[0].description, "undo + CreateModel Tag (tags)");
//! assert_eq!(backward[0].steps[0].statements, ["DROP TABLE \"tags\""]);
//! # Ok(()) }
//! ```

use std::collections::{BTreeMap, BTreeSet};

use crate::dialect::{DialectError, DialectKind, WhenEmpty, done_probes, operation_sql};
use crate::graph::{Graph, GraphError, MigrationKey};
use crate::operations::Operation;
use crate::state::{ProjectState, StateError, Tables};

/// The direction a migration runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Applying.
    Forward,
    /// Rolling back.
    Backward,
}

/// The SQL of one operation, with a line describing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepSql {
    /// `+ CreateModel User (users)`.
    pub description: String,
    /// Statements in order.
    pub statements: Vec<String>,
    /// Queries that tell whether the step already took effect (see
    /// [`done_probes`](crate::dialect::done_probes)); empty when that cannot be told.
    pub done_probes: Vec<String>,
    /// A `RunRust` step: the registered function to call (after the statements, of which
    /// there are none).
    pub rust: Option<String>,
    /// Each statement commits on its own (an online operation on PostgreSQL; see
    /// [`OperationSql::outside_transaction`](crate::dialect::OperationSql::outside_transaction)).
    /// Only in migrations with `atomic = false`.
    pub outside_transaction: bool,
    /// SQLite: the statements to run instead when a table is empty (see
    /// [`OperationSql::when_empty`](crate::dialect::OperationSql::when_empty)).
    pub when_empty: Option<WhenEmpty>,
    /// The statements are the migration's own SQL (`RunSQL`): a string may hold several
    /// statements, or none. Those the dialect wrote are one statement each.
    pub user_sql: bool,
}

impl StepSql {
    /// Statements only, one SQL statement each, to run as they are: the executor may send
    /// several such steps to the database together.
    pub fn is_plain(&self) -> bool {
        self.rust.is_none()
            && self.when_empty.is_none()
            && !self.user_sql
            && !self.outside_transaction
    }
}

/// The function a `RunRust` operation calls.
fn rust_call(op: &Operation) -> Option<String> {
    match op {
        Operation::RunRust(r) => Some(r.forward.clone()),
        _ => None,
    }
}

/// Everything needed to run one migration in one direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationSql {
    /// Which migration.
    pub key: MigrationKey,
    /// Its checksum (recorded in the history).
    pub checksum: String,
    /// Run in one transaction.
    pub atomic: bool,
    /// One entry per operation (forward) or per undone operation (backward).
    pub steps: Vec<StepSql>,
    /// SQLite: a table is rebuilt, so foreign keys must be off while it runs.
    pub rebuilds_table: bool,
    /// Operations that can lose data, with the reason.
    pub data_loss: Vec<String>,
    /// The migrations a squashed migration replaces: rolling it back removes their history
    /// rows too, and it counts as applied where all of them are.
    pub replaces: Vec<MigrationKey>,
}

/// Why a plan cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// The target is not a known migration.
    #[error("no migration `{0}`; `migrate status` lists them")]
    UnknownTarget(String),
    /// An operation cannot be undone.
    #[error(
        "migration `{migration}` cannot be rolled back: operation {index} ({description}) is irreversible. \
         Nothing was run. Give it a `reverse` (or `reversible = true` if there is nothing to undo) before rolling back past it, \
         then record the edited file with `migrate repair {migration} --mark-applied` on each database that applied it"
    )]
    Irreversible {
        /// The migration.
        migration: MigrationKey,
        /// 1-based operation number.
        index: usize,
        /// The operation.
        description: String,
    },
    /// The dialect cannot express an operation.
    #[error("migration `{migration}`, operation {index} ({description}): {source}")]
    Dialect {
        /// The migration.
        migration: MigrationKey,
        /// 1-based operation number.
        index: usize,
        /// The operation.
        description: String,
        /// Why.
        source: DialectError,
    },
    /// The migration does not fit the schema.
    #[error(transparent)]
    Graph(#[from] GraphError),
    /// Recorded history and files disagree in order.
    #[error(
        "`{migration}` is recorded as applied but its dependency `{dependency}` is not; \
         the history was changed by hand or migrations were reordered. Record the dependency with \
         `migrate repair {dependency} --mark-applied` if it is really in place, or forget `{migration}` with \
         `migrate repair {migration} --mark-rolled-back` if it is not"
    )]
    InconsistentHistory {
        /// The applied migration.
        migration: MigrationKey,
        /// Its unapplied dependency.
        dependency: MigrationKey,
    },
}

/// Where `rollback` should stop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RollbackTarget {
    /// The newest `n` applied migrations.
    Count(usize),
    /// Everything applied after this migration; it stays applied.
    To(MigrationKey),
    /// Everything of one app (and what depends on it), or of every app when `None`.
    Zero(Option<String>),
}

impl RollbackTarget {
    /// Parses `--to`: `zero`, `app/zero`, `ID` or `app/ID`.
    pub fn parse_to(value: &str, default_app: &str) -> RollbackTarget {
        if value == "zero" {
            return RollbackTarget::Zero(None);
        }
        match value.split_once('/') {
            Some((app, "zero")) => RollbackTarget::Zero(Some(app.to_owned())),
            _ => RollbackTarget::To(MigrationKey::parse(value, default_app)),
        }
    }
}

/// Checks that every applied migration's dependencies are applied too.
pub fn check_consistent(graph: &Graph, applied: &BTreeSet<MigrationKey>) -> Result<(), PlanError> {
    for key in graph.order() {
        if applied.contains(key) {
            for dep in graph.dependencies(key) {
                if !applied.contains(dep) {
                    return Err(PlanError::InconsistentHistory {
                        migration: key.clone(),
                        dependency: dep.clone(),
                    });
                }
            }
        }
    }
    Ok(())
}

/// The migrations to apply, in order: every pending one, or those `target` needs.
pub fn apply_plan(
    graph: &Graph,
    applied: &BTreeSet<MigrationKey>,
    target: Option<&MigrationKey>,
) -> Result<Vec<MigrationKey>, PlanError> {
    check_consistent(graph, applied)?;
    let wanted = match target {
        Some(t) => {
            if graph.get(t).is_none() {
                return Err(PlanError::UnknownTarget(t.to_string()));
            }
            Some(graph.ancestors(t))
        }
        None => None,
    };
    Ok(graph
        .order()
        .iter()
        .filter(|k| !applied.contains(*k))
        .filter(|k| wanted.as_ref().is_none_or(|w| w.contains(*k)))
        .cloned()
        .collect())
}

/// The migrations to roll back, newest first. `applied_order` is the history in the order
/// the migrations were applied.
pub fn rollback_plan(
    graph: &Graph,
    applied_order: &[MigrationKey],
    target: &RollbackTarget,
) -> Result<Vec<MigrationKey>, PlanError> {
    let applied: BTreeSet<MigrationKey> = applied_order.iter().cloned().collect();
    check_consistent(graph, &applied)?;
    let mut undo: BTreeSet<MigrationKey> = match target {
        RollbackTarget::Count(n) => applied_order.iter().rev().take(*n).cloned().collect(),
        RollbackTarget::To(key) => {
            if graph.get(key).is_none() {
                return Err(PlanError::UnknownTarget(key.to_string()));
            }
            let mut d = graph.descendants(key);
            d.remove(key);
            d
        }
        RollbackTarget::Zero(None) => applied.clone(),
        RollbackTarget::Zero(Some(app)) => graph
            .order()
            .iter()
            .filter(|k| k.app == *app)
            .flat_map(|k| graph.descendants(k))
            .collect(),
    };
    // Whatever depends on a migration being undone must be undone first.
    let closure: Vec<MigrationKey> = undo.iter().cloned().collect();
    for k in closure {
        if graph.get(&k).is_some() {
            undo.extend(graph.descendants(&k));
        }
    }
    Ok(graph
        .order()
        .iter()
        .rev()
        .filter(|k| undo.contains(*k) && applied.contains(*k))
        .cloned()
        .collect())
}

fn dialect_err(
    key: &MigrationKey,
    index: usize,
    op: &Operation,
) -> impl FnOnce(DialectError) -> PlanError {
    let key = key.clone();
    let description = op.to_string();
    move |source| PlanError::Dialect {
        migration: key,
        index: index + 1,
        description,
        source,
    }
}

fn state_err(key: &MigrationKey) -> impl FnOnce(StateError) -> PlanError + '_ {
    move |source| {
        PlanError::Graph(GraphError::Replay {
            migration: key.clone(),
            source,
        })
    }
}

/// The SQL of migration `key` in `direction`, given the state before it was applied.
///
/// # Examples
///
/// The state before a migration comes from replaying the graph up to it:
///
/// ```
/// use std::collections::BTreeSet;
/// use chakra::dialect::DialectKind;
/// use chakra::graph::{Graph, MigrationKey};
/// use chakra::plan::{Direction, migration_sql};
/// use chakra::project::load_embedded;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let initial = r#"
/// migration = { id = "0001_initial", app = "default" }
/// [[operations]]
/// type = "CreateModel"
/// model = "Tag"
/// table = "tags"
/// fields = [{ name = "label", type = "Text" }]
/// "#;
/// let drop = r#"
/// migration = { id = "0002_delete_tag", app = "default", dependencies = ["0001_initial"] }
/// operations = [{ type = "DeleteModel", model = "Tag", table = "tags" }]
/// "#;
/// let files = load_embedded([("0001_initial.toml", initial), ("0002_delete_tag.toml", drop)])?;
/// let graph = Graph::new(files).map_err(|errors| errors[0].to_string())?;
/// let key = MigrationKey::new("default", "0002_delete_tag");
/// let (_, before) = graph.replay(&BTreeSet::from([key.clone()]))?;
///
/// let sql = migration_sql(DialectKind::Mysql, &graph, &key, &before[&key], Direction::Forward)?;
/// assert_eq!(sql.steps[0].statements, ["DROP TABLE `tags`"]);
/// assert_eq!(sql.data_loss, ["DeleteModel Tag (tags): drops table `tags` and all its rows"]);
/// # Ok(()) }
/// ```
pub fn migration_sql(
    kind: DialectKind,
    graph: &Graph,
    key: &MigrationKey,
    before: &ProjectState,
    direction: Direction,
) -> Result<MigrationSql, PlanError> {
    let mut state = before.clone();
    let mut tables = Tables::of(&state);
    migration_sql_from(kind, graph, key, &mut state, &mut tables, direction)
}

/// [`migration_sql`] from `state`, the state before the migration, which it leaves as the
/// state after it (whichever the direction): the plan of many migrations renders each in
/// turn while it replays the graph, without a copy of the schema per migration.
fn migration_sql_from(
    kind: DialectKind,
    graph: &Graph,
    key: &MigrationKey,
    state: &mut ProjectState,
    tables: &mut Tables,
    direction: Direction,
) -> Result<MigrationSql, PlanError> {
    let loaded = graph
        .get(key)
        .ok_or_else(|| PlanError::UnknownTarget(key.to_string()))?;
    let app = key.app.as_str();
    let ops = &loaded.migration.operations;
    let mut out = MigrationSql {
        key: key.clone(),
        checksum: loaded.checksum.clone(),
        atomic: loaded.migration.migration.atomic,
        steps: Vec::with_capacity(ops.len()),
        rebuilds_table: false,
        data_loss: Vec::new(),
        replaces: loaded
            .migration
            .migration
            .replaces
            .iter()
            .map(|r| MigrationKey::parse(r, app))
            .collect(),
    };
    match direction {
        Direction::Forward => {
            for (i, op) in ops.iter().enumerate() {
                let sql = operation_sql(kind, app, op, state).map_err(dialect_err(key, i, op))?;
                if let Some(why) = op.data_loss(app, state) {
                    out.data_loss.push(format!("{}: {why}", op.summary()));
                }
                out.rebuilds_table |= sql.rebuilds_table;
                out.steps.push(StepSql {
                    description: op.to_string(),
                    statements: sql.statements,
                    done_probes: done_probes(kind, app, op, state),
                    rust: rust_call(op),
                    outside_transaction: sql.outside_transaction,
                    when_empty: sql.when_empty,
                    user_sql: matches!(op, Operation::RunSql(_)),
                });
                state
                    .apply_tracking(app, op, Some(tables))
                    .map_err(state_err(key))?;
            }
        }
        Direction::Backward => {
            // States before each operation, then undo from the last one.
            // (Only the models each operation names: what its inverse reads.)
            let mut states = Vec::with_capacity(ops.len() + 1);
            for op in ops {
                states.push(state.touched_by(app, op));
                state
                    .apply_tracking(app, op, Some(tables))
                    .map_err(state_err(key))?;
            }
            for (i, op) in ops.iter().enumerate().rev() {
                let inverse = op
                    .inverse(app, &states[i])
                    .map_err(state_err(key))?
                    .ok_or_else(|| PlanError::Irreversible {
                        migration: key.clone(),
                        index: i + 1,
                        description: op.to_string(),
                    })?;
                let mut statements = Vec::new();
                let mut probes = Vec::new();
                let mut observable = !inverse.is_empty();
                let mut outside_transaction = false;
                // An inverse of one operation keeps its shortcut for an empty table; the
                // statements of several stand together.
                let mut when_empty = None;
                for inv in &inverse {
                    let p = done_probes(kind, app, inv, state);
                    observable &= !p.is_empty();
                    probes.extend(p);
                    let sql =
                        operation_sql(kind, app, inv, state).map_err(dialect_err(key, i, op))?;
                    if let Some(why) = inv.data_loss(app, state) {
                        out.data_loss.push(format!("{}: {why}", inv.summary()));
                    }
                    out.rebuilds_table |= sql.rebuilds_table;
                    outside_transaction |= sql.outside_transaction;
                    when_empty = if inverse.len() == 1 {
                        sql.when_empty
                    } else {
                        None
                    };
                    statements.extend(sql.statements);
                    state
                        .apply_tracking(app, inv, Some(tables))
                        .map_err(state_err(key))?;
                }
                out.steps.push(StepSql {
                    description: format!("undo {op}"),
                    statements,
                    done_probes: if observable { probes } else { Vec::new() },
                    rust: inverse.iter().find_map(rust_call),
                    outside_transaction,
                    when_empty,
                    user_sql: inverse
                        .iter()
                        .any(|inv| matches!(inv, Operation::RunSql(_))),
                });
            }
            // Back to the state after the migration, as the caller's replay expects.
            for op in ops {
                state
                    .apply_tracking(app, op, Some(tables))
                    .map_err(state_err(key))?;
            }
        }
    }
    Ok(out)
}

/// The SQL of every migration in `plan` (already in run order).
pub fn plan_sql(
    kind: DialectKind,
    graph: &Graph,
    plan: &[MigrationKey],
    direction: Direction,
) -> Result<Vec<MigrationSql>, PlanError> {
    // Rendered in graph order while the graph is replayed (each migration's SQL depends on
    // the state before it), then returned in plan order.
    let position: BTreeMap<&MigrationKey, usize> =
        plan.iter().enumerate().map(|(i, k)| (k, i)).collect();
    let mut out: Vec<Option<MigrationSql>> = plan.iter().map(|_| None).collect();
    let mut state = ProjectState::default();
    let mut tables = Tables::default();
    let mut left = position.len();
    for key in graph.order() {
        if left == 0 {
            // Nothing after the last planned migration matters (and nothing at all when
            // nothing is pending).
            break;
        }
        if let Some(&i) = position.get(key) {
            out[i] = Some(migration_sql_from(
                kind,
                graph,
                key,
                &mut state,
                &mut tables,
                direction,
            )?);
            left -= 1;
            continue;
        }
        graph.apply_file(key, &mut state, &mut tables)?;
    }
    plan.iter()
        .zip(out)
        .map(|(k, sql)| sql.ok_or_else(|| PlanError::UnknownTarget(k.to_string())))
        .collect()
}
