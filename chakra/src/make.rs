//! `migrate make`: compare the models with the migrations and write new migration files.
//!
//! Synchronous and database-free. Steps: load and check the migration files, replay them,
//! check the committed snapshot against the replay, detect changes against the models, build
//! one migration per app with changes (more when foreign keys form a cycle across apps: see
//! `split_by_app`), optimize each, and (unless checking) write them and the new snapshot.
//!
//! # Examples
//!
//! ```
//! use chakra::make::{MakeOptions, Paths, make};
//! use chakra::state::{FieldState, FieldType, ModelState, ProjectState};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let tags = |fields: Vec<FieldState>| ModelState {
//!     app: "default".into(),
//!     name: "Tag".into(),
//!     table: "tags".into(),
//!     fields,
//!     indexes: vec![],
//!     constraints: vec![],
//! };
//! let label = FieldState::new("label", FieldType::Text);
//! let color = FieldState { nullable: true, ..FieldState::new("color", FieldType::Text) };
//!
//! let root = tempfile::tempdir()?;
//! let paths = Paths::under(root.path(), "migrations");
//! let models = ProjectState::from_models_list(vec![tags(vec![label.clone()])])?;
//! let first = make(&paths, &models, &MakeOptions::default())?;
//! assert!(paths.migrations.join("0001_initial.toml").exists() && first.sum_written);
//!
//! // Models unchanged: nothing to do. A new field: a second migration, named after it.
//! assert!(make(&paths, &models, &MakeOptions::default())?.migrations.is_empty());
//! let models = ProjectState::from_models_list(vec![tags(vec![label, color])])?;
//! let second = make(&paths, &models, &MakeOptions::default())?;
//! let header = &second.migrations[0].migration.migration;
//! assert_eq!(header.id, "0002_add_tag_color");
//! assert_eq!(header.dependencies, ["0001_initial"]);
//! # Ok(()) }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};

use crate::autodetect::{
    AutodetectError, Changes, Hints, NoInput, Questioner, detect, detect_with,
};
use crate::format::{FORMAT_VERSION, Header, Migration, parse_id};
use crate::graph::{Graph, GraphError, MigrationKey};
use crate::operations::Operation;
use crate::optimizer::optimize;
use crate::project::{LoadedMigration, ProjectError, app_dir, load_migrations, write_atomic};
use crate::snapshot;
use crate::state::FieldOperation;
use crate::state::ProjectState;
use crate::sum::{self, SumProblem};

/// Options of `migrate make`.
#[derive(Debug, Clone, Default)]
pub struct MakeOptions {
    /// `--name`: the name part of the new migration id.
    pub name: Option<String>,
    /// `--empty`: write an empty migration (for RunSQL) for `app`.
    pub empty: bool,
    /// `--app`: only make migrations for this app.
    pub app: Option<String>,
    /// Write nothing (`--check`, `--dry-run`).
    pub dry_run: bool,
    /// The time written in `created_at`.
    pub now: Option<DateTime<Utc>>,
}

/// A migration that `make` wrote (or would write).
#[derive(Debug, Clone)]
pub struct MadeMigration {
    /// The migration.
    pub migration: Migration,
    /// Where it goes.
    pub path: PathBuf,
    /// Operations that can lose data, with the reason.
    pub data_loss: Vec<(Operation, String)>,
}

/// What `make` did.
#[derive(Debug, Clone, Default)]
pub struct MakeOutcome {
    /// New migrations, in dependency order.
    pub migrations: Vec<MadeMigration>,
    /// The snapshot was missing and has been (or would be) written from the files.
    pub snapshot_created: bool,
    /// `chakra.sum` was written (new migrations, or it did not exist yet).
    pub sum_written: bool,
}

/// Everything that stops `make`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MakeError {
    /// The files could not be read or are invalid.
    #[error(transparent)]
    Project(#[from] ProjectError),
    /// The migration graph is broken.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Graph(Vec<GraphError>),
    /// The committed snapshot differs from the replayed files.
    #[error(
        "`{path}` does not match the migration files: replaying the files gives a different schema.\n{details}\n\
         The snapshot was probably edited by hand or merged from another branch without its migrations. \
         Restore it from version control, or delete it to have `migrate make` rewrite it from the migration files"
    )]
    SnapshotMismatch {
        /// The snapshot path.
        path: String,
        /// The differences, as the operations that turn the files' schema into the snapshot's.
        details: String,
    },
    /// The branches to merge change the same models.
    #[error(
        "the branches change the same models, so no order of them was tested:\n{}\nNothing was written. \
         Rebase one branch on the other instead: renumber its migration after the other's, make it depend on it, \
         and check it against the other's changes",
        .0.iter().map(|o| format!(
            "  - `{}.{}`: {}",
            o.app,
            o.model,
            o.operations.iter().map(|(k, op)| format!("{op} ({k})")).collect::<Vec<_>>().join("; ")
        )).collect::<Vec<_>>().join("\n")
    )]
    MergeOverlap(Vec<MergeOverlap>),
    /// `chakra.sum` does not match the migration files.
    #[error(
        "{} does not match the migration files:\n{}\nReview these files (`git diff`, `migrate verify`). If the changes are intended \
         (a migration not yet applied anywhere was edited), record them with `migrate verify --update-sum`",
        sum::SUM_FILE,
        .0.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n")
    )]
    Sum(Vec<SumProblem>),
    /// The changes need the user's help.
    #[error(transparent)]
    Autodetect(#[from] AutodetectError),
    /// Bad options.
    #[error("{0}")]
    Usage(String),
}

/// The project paths `make` works on.
#[derive(Debug, Clone)]
pub struct Paths {
    /// The migrations folder.
    pub migrations: PathBuf,
    /// The snapshot file.
    pub snapshot: PathBuf,
}

impl Paths {
    /// The default layout under a project root: `migrations/` and `.chakra/snapshot.toml`.
    pub fn under(root: &Path, migrations_dir: &str) -> Paths {
        Paths {
            migrations: root.join(migrations_dir),
            snapshot: root.join(snapshot::SNAPSHOT_PATH),
        }
    }
}

/// Loads the migration files and builds the graph.
pub fn load_graph(migrations: &Path) -> Result<Graph, MakeError> {
    Graph::new(load_migrations(migrations)?).map_err(MakeError::Graph)
}

/// Runs `make` against `models` (the state declared by the linked models), without rename
/// hints and declining every rename question.
pub fn make(
    paths: &Paths,
    models: &ProjectState,
    opts: &MakeOptions,
) -> Result<MakeOutcome, MakeError> {
    make_with(
        paths,
        models,
        &Hints::default(),
        &mut NoInput::default(),
        opts,
    )
}

/// Runs `make` with rename hints and a questioner for the renames the hints do not settle.
pub fn make_with(
    paths: &Paths,
    models: &ProjectState,
    hints: &Hints,
    questioner: &mut dyn Questioner,
    opts: &MakeOptions,
) -> Result<MakeOutcome, MakeError> {
    // The snapshot is read while the files load (both are mostly TOML parsing); its errors
    // still come after those of the files and the sum.
    let (graph, snapshot) = std::thread::scope(|scope| {
        let snapshot = scope.spawn(|| snapshot::read(&paths.snapshot));
        let graph = load_graph(&paths.migrations);
        let snapshot = snapshot
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (graph, snapshot)
    });
    let graph = graph?;
    let replayed = graph.final_state().map_err(|e| MakeError::Graph(vec![e]))?;

    // The sum file must list exactly the files there are: a difference means a migration was
    // added, removed or edited behind make's back, which a reviewer should see first;
    // checked before the snapshot, whose mismatch such a file would cause.
    // Every file, replaced ones included.
    let current: Vec<&LoadedMigration> = graph.files().collect();
    let sum_problems: Vec<SumProblem> = sum::check(&paths.migrations, &sum::entries(current))
        .into_iter()
        .filter(|p| *p != SumProblem::Missing)
        .collect();
    if !sum_problems.is_empty() {
        return Err(MakeError::Sum(sum_problems));
    }

    let mut outcome = MakeOutcome::default();
    match snapshot? {
        Some(snap) if snap.state != replayed => {
            let details = match detect(&replayed, &snap.state) {
                Ok(changes) => describe(&changes),
                Err(e) => format!("  {e}"),
            };
            return Err(MakeError::SnapshotMismatch {
                path: paths.snapshot.display().to_string(),
                details,
            });
        }
        Some(_) => {}
        None => outcome.snapshot_created = !graph.is_empty(),
    }
    let mut changes = if opts.empty {
        let app = opts.app.clone().ok_or_else(|| {
            MakeError::Usage(
                "`--empty` needs `--app APP` (use `--app default` for the default app)".to_owned(),
            )
        })?;
        Changes {
            apps: BTreeMap::from([(app, Vec::new())]),
        }
    } else {
        detect_with(&replayed, models, hints, questioner)?
    };
    if let Some(app) = &opts.app {
        changes.apps.retain(|a, _| a == app);
    }
    // Cut each app's operations where they wait for another app's (a cycle of foreign keys
    // across apps), then optimize each piece on its own, so that no optimization moves an
    // operation across a cut (a deferred AddField back into its CreateModel).
    let pieces: Vec<Piece> = if opts.empty {
        changes
            .apps
            .iter()
            .map(|(app, ops)| Piece {
                app: app.clone(),
                range: 0..ops.len(),
                ops: Vec::new(),
            })
            .collect()
    } else {
        split_by_app(&mut changes, &replayed)
            .into_iter()
            .filter_map(|mut p| {
                p.ops = optimize(&p.app, changes.apps[&p.app][p.range.clone()].to_vec());
                (!p.ops.is_empty()).then_some(p)
            })
            .collect()
    };
    let needs = cross_app_needs(&changes, &replayed);
    let apps: BTreeSet<&str> = pieces.iter().map(|p| p.app.as_str()).collect();
    if opts.name.is_some() && apps.len() > 1 {
        return Err(MakeError::Usage(format!(
            "`--name` gives one name but {} apps have changes ({}); add `--app APP`",
            apps.len(),
            apps.iter().copied().collect::<Vec<_>>().join(", ")
        )));
    }
    if let Some(name) = &opts.name {
        validate_name(name)?;
    }

    let created_at = opts
        .now
        .unwrap_or_else(Utc::now)
        .to_rfc3339_opts(SecondsFormat::Secs, true);
    let referrers = referrers(&graph);
    // The latest migration of each app: its leaf, then each piece as it is numbered.
    let mut latest = graph.leaves();
    let mut made = Vec::new();
    let mut state = replayed.clone();
    for Piece { app, range, ops } in &pieces {
        // After the highest number the latest covers (a squash covers what it replaces).
        let number = latest.get(app).map_or(1, |k| graph.last_number(k) + 1);
        let name = match &opts.name {
            Some(n) => n.clone(),
            None if number == 1 => "initial".to_owned(),
            None => derive_name(ops),
        };
        let key = MigrationKey::new(app, format!("{number:04}_{name}"));
        // The previous migration of the app, and the latest migration of every app this piece
        // references or waits for: pieces come in an order where those are already made.
        let mut deps = BTreeSet::new();
        let raw = &changes.apps[app][range.clone()];
        let waited = needs
            .get(app.as_str())
            .map(|n| &n[range.clone()])
            .unwrap_or_default()
            .iter()
            .flatten()
            .map(|(other, _)| (*other).to_owned());
        // A model deleted here outlives every migration of another app that referenced it:
        // the one that removed the key may be an existing file nothing here depends on yet.
        let referenced_before = raw
            .iter()
            .filter_map(|op| match op {
                Operation::DeleteModel(d) => referrers.get(&(app.as_str(), d.model.as_str())),
                _ => None,
            })
            .flatten()
            .map(|other| (*other).to_owned());
        for dep_app in std::iter::once(app.clone())
            .chain(referenced_apps(app, raw))
            .chain(waited)
            .chain(referenced_before)
        {
            if let Some(k) = latest.get(&dep_app) {
                deps.insert(k.clone());
            }
        }
        let dependencies = deps
            .iter()
            .map(|k| {
                if k.app == *app {
                    k.id.clone()
                } else {
                    format!("{}/{}", k.app, k.id)
                }
            })
            .collect();
        let data_loss = ops
            .iter()
            .filter_map(|op| {
                let why = op.data_loss(app, &state);
                state.apply(app, op).ok();
                why.map(|w| (op.clone(), w))
            })
            .collect();
        let migration = Migration {
            migration: Header {
                id: key.id.clone(),
                app: app.clone(),
                created_at: Some(created_at.clone()),
                dependencies,
                description: describe_ops(ops),
                // Online operations cannot run inside a transaction on PostgreSQL.
                atomic: !ops.iter().any(Operation::is_online),
                replaces: Vec::new(),
                format: FORMAT_VERSION,
            },
            operations: ops.clone(),
        };
        let path = app_dir(&paths.migrations, app).join(format!("{}.toml", key.id));
        made.push(MadeMigration {
            migration,
            path,
            data_loss,
        });
        latest.insert(app.clone(), key);
    }

    // Check the result as a whole before writing anything: the new files must form a valid
    // graph whose replay gives the models' state.
    let mut all: Vec<LoadedMigration> = graph.files().cloned().collect();
    all.extend(
        made.iter()
            .map(|m| LoadedMigration::new(m.migration.clone(), m.path.clone())),
    );
    let new_graph = Graph::new(all).map_err(MakeError::Graph)?;
    let new_state = new_graph
        .final_state()
        .map_err(|e| MakeError::Graph(vec![e]))?;
    made.sort_by_key(|m| {
        let k = MigrationKey::new(&m.migration.migration.app, &m.migration.migration.id);
        new_graph.order().iter().position(|o| *o == k)
    });

    if !opts.dry_run {
        for m in &made {
            write_atomic(&m.path, &m.migration.to_toml())?;
        }
        if !made.is_empty() || outcome.snapshot_created {
            let leaves = new_graph.leaves();
            snapshot::write(&paths.snapshot, &new_state, leaves.values())?;
        }
        outcome.sum_written = sum::write(&paths.migrations, &sum::entries(new_graph.files()))?;
    }
    outcome.migrations = made;
    Ok(outcome)
}

/// For each model that a migration file of another app ever referenced, as `(app, model)`,
/// the apps whose files did.
fn referrers(graph: &Graph) -> BTreeMap<(&str, &str), BTreeSet<&str>> {
    let mut out: BTreeMap<(&str, &str), BTreeSet<&str>> = BTreeMap::new();
    for file in graph.files() {
        let app = file.migration.migration.app.as_str();
        for op in &file.migration.operations {
            let keys: Vec<&crate::state::ForeignKey> = match op {
                Operation::CreateModel(c) => c
                    .fields
                    .iter()
                    .filter_map(|f| f.foreign_key.as_ref())
                    .collect(),
                Operation::AddField(f) | Operation::AlterField(f) => f.foreign_key.iter().collect(),
                _ => Vec::new(),
            };
            for fk in keys.into_iter().filter(|fk| fk.app != app) {
                out.entry((fk.app.as_str(), fk.model.as_str()))
                    .or_default()
                    .insert(app);
            }
        }
    }
    out
}

/// One migration to write: operations `range` of `app` as detected, and what the optimizer
/// made of them.
#[derive(Debug)]
struct Piece {
    app: String,
    range: std::ops::Range<usize>,
    ops: Vec<Operation>,
}

/// For each app, and each of its operations, the operations of other apps that must run
/// first, as `(app, index)`.
type Needs<'a> = BTreeMap<&'a str, Vec<BTreeSet<(&'a str, usize)>>>;

/// The [`Needs`] of `changes`:
/// - a foreign key needs the operations that make its target: the model's `CreateModel` or
///   the `RenameModel` that gives it its name, and any `AddField`, `AlterField` or
///   `RenameField` of the referenced (primary key) column;
/// - a `DeleteModel` needs, for every field of another app that referenced the model before
///   the changes, the first operation that removes, alters or deletes it (after a cut, the
///   `RemoveField` of the cyclic key rather than the `DeleteModel` of its model).
fn cross_app_needs<'a>(changes: &'a Changes, before: &ProjectState) -> Needs<'a> {
    let mut out = BTreeMap::new();
    for (app, ops) in &changes.apps {
        let mut per_op = Vec::with_capacity(ops.len());
        for op in ops {
            let mut needs = BTreeSet::new();
            for fk in foreign_keys(op) {
                if fk.app == *app {
                    continue;
                }
                let Some((other, other_ops)) = changes.apps.get_key_value(&fk.app) else {
                    continue;
                };
                for (j, o) in other_ops.iter().enumerate() {
                    if makes_target(o, &fk) {
                        needs.insert((other.as_str(), j));
                    }
                }
            }
            if let Operation::DeleteModel(d) = op {
                for (other, other_ops) in changes.apps.iter().filter(|(o, _)| *o != app) {
                    for m in before.models.values().filter(|m| m.app == *other) {
                        let referencing = m.fields.iter().filter(|f| {
                            f.foreign_key
                                .as_ref()
                                .is_some_and(|fk| fk.app == *app && fk.model == d.model)
                        });
                        for f in referencing {
                            if let Some(j) = other_ops.iter().position(|o| releases(o, m, f)) {
                                needs.insert((other.as_str(), j));
                            }
                        }
                    }
                }
            }
            per_op.push(needs);
        }
        out.insert(app.as_str(), per_op);
    }
    out
}

/// The foreign keys that an operation creates or changes.
fn foreign_keys(op: &Operation) -> Vec<crate::state::ForeignKey> {
    match op {
        Operation::CreateModel(c) => c
            .fields
            .iter()
            .filter_map(|f| f.foreign_key.clone())
            .collect(),
        Operation::AddField(f) | Operation::AlterField(f) => {
            f.field().foreign_key.into_iter().collect()
        }
        _ => Vec::new(),
    }
}

/// `op` (of the target's app) makes the model or the column a foreign key references.
fn makes_target(op: &Operation, fk: &crate::state::ForeignKey) -> bool {
    match op {
        Operation::CreateModel(c) => c.model == fk.model,
        Operation::RenameModel(r) => r.new_name == fk.model,
        Operation::AddField(f) | Operation::AlterField(f) => {
            let field = f.field();
            f.model == fk.model && (field.primary_key || field.column() == fk.column)
        }
        Operation::RenameField(r) => r.model == fk.model && r.new_name == fk.column,
        _ => false,
    }
}

/// `op` (of `model`'s app) removes or changes field `field` of `model`.
fn releases(
    op: &Operation,
    model: &crate::state::ModelState,
    field: &crate::state::FieldState,
) -> bool {
    match op {
        Operation::RemoveField(r) => r.model == model.name && r.name == field.name,
        Operation::AlterField(a) => a.model == model.name && a.name == field.name,
        Operation::DeleteModel(d) => d.model == model.name,
        _ => false,
    }
}

/// Cuts each app's operations into the migrations to write, in an order where every
/// migration only needs migrations before it, so their dependencies cannot form a cycle.
///
/// Like Django's autodetector: an app whose operations wait for nothing pending in other apps
/// becomes one migration. First an app waits for every app it references or releases (so
/// that, without a cycle, each app gets one migration depending on the other apps' new ones);
/// then only for the operations it needs ([`cross_app_needs`]). When every app still waits
/// (their foreign keys form a cycle across apps), the first app, by name, whose first
/// operations can run is cut after them: it gets one migration with what can run now and
/// another with the rest later. The autodetector orders operations so that this always finds
/// a cut (it creates models in a cycle without their cyclic keys, which come after every
/// `CreateModel`). Deterministic: apps are visited by name.
///
/// Before cutting an app whose later `CreateModel`s wait for another app only through their
/// foreign keys, those keys are taken out of the models and added after the app's last
/// `CreateModel` (the [`Peel`]), as Django's autodetector does: the models are created in
/// the first migration and only the keys wait. Without this, a ring of apps whose models
/// each reference a model of the previous app would be cut after every model.
fn split_by_app(changes: &mut Changes, before: &ProjectState) -> Vec<Piece> {
    loop {
        let needs = cross_app_needs(changes, before);
        match try_split(changes, &needs) {
            Ok(pieces) => return pieces,
            Err(peel) => peel.apply(changes),
        }
    }
}

/// Foreign keys to take out of `CreateModel`s of `app` and add after its last `CreateModel`:
/// `(operation index, field name)` in operation and field order.
#[derive(Debug)]
struct Peel {
    app: String,
    fields: Vec<(usize, String)>,
}

impl Peel {
    fn apply(self, changes: &mut Changes) {
        let ops = changes
            .apps
            .get_mut(&self.app)
            .expect("the peeled app has changes");
        let mut added = Vec::with_capacity(self.fields.len());
        for (i, name) in &self.fields {
            let Operation::CreateModel(c) = &mut ops[*i] else {
                unreachable!("only CreateModel is peeled")
            };
            let at = c
                .fields
                .iter()
                .position(|f| f.name == *name)
                .expect("the peeled field is in its model");
            let field = c.fields.remove(at);
            let mut op = FieldOperation::new(
                &crate::state::ModelState {
                    app: self.app.clone(),
                    name: c.model.clone(),
                    table: c.table.clone(),
                    fields: Vec::new(),
                    indexes: Vec::new(),
                    constraints: Vec::new(),
                },
                &field,
            );
            op.online = false;
            added.push(Operation::AddField(op));
        }
        let last_create = ops
            .iter()
            .rposition(|o| matches!(o, Operation::CreateModel(_)))
            .expect("a peeled CreateModel exists");
        ops.splice(last_create + 1..last_create + 1, added);
    }
}

/// [`split_by_app`] on the operations as they are, or the [`Peel`] that a cut needs first.
fn try_split(changes: &Changes, needs: &Needs<'_>) -> Result<Vec<Piece>, Peel> {
    // How many operations of each app are in pieces already.
    let mut done: BTreeMap<&str, usize> = changes
        .apps
        .iter()
        .filter(|(_, ops)| !ops.is_empty())
        .map(|(app, _)| (app.as_str(), 0))
        .collect();
    let pending =
        |done: &BTreeMap<&str, usize>, app: &str, j: usize| done.get(app).is_some_and(|d| j >= *d);
    // How many operations of `app`, from the first pending one, can run now. With `whole`,
    // an operation also waits for every app it references or releases.
    let runnable = |done: &BTreeMap<&str, usize>, app: &str, whole: bool| -> usize {
        let from = done[app];
        changes.apps[app][from..]
            .iter()
            .zip(&needs[app][from..])
            .take_while(|(op, need)| {
                let mut waits = need.iter().any(|(o, j)| pending(done, o, *j));
                if whole {
                    let refs = referenced_apps(app, std::slice::from_ref(*op));
                    waits |= refs
                        .iter()
                        .map(String::as_str)
                        .chain(need.iter().map(|(o, _)| *o))
                        .any(|o| o != app && done.contains_key(o));
                }
                !waits
            })
            .count()
    };
    let mut pieces = Vec::new();
    while !done.is_empty() {
        let mut progress = false;
        for whole in [true, false] {
            let apps: Vec<&str> = done.keys().copied().collect();
            for app in apps {
                let left = changes.apps[app].len() - done[app];
                if runnable(&done, app, whole) == left {
                    take_piece(&mut pieces, &mut done, changes, app, left);
                    progress = true;
                }
            }
            if progress {
                break;
            }
        }
        if progress {
            continue;
        }
        let cut = done
            .keys()
            .map(|app| (*app, runnable(&done, app, false)))
            .find(|(_, n)| *n > 0);
        // No app can start (operations the autodetector does not make): the first app goes
        // as it is, still depending only on pieces before it, so the graph stays acyclic.
        let (app, n) = cut.unwrap_or_else(|| {
            let (app, from) = done.first_key_value().expect("an app is pending");
            (*app, changes.apps[*app].len() - from)
        });
        // The app's later models that wait only through foreign keys to pending operations
        // are created now and their keys added later.
        let from = done[app];
        let mut peeled = Vec::new();
        for (i, op) in changes.apps[app].iter().enumerate().skip(from + n) {
            let Operation::CreateModel(c) = op else {
                continue;
            };
            for f in &c.fields {
                let Some(fk) = f.foreign_key.as_ref().filter(|fk| fk.app != app) else {
                    continue;
                };
                let waits = changes.apps.get(&fk.app).is_some_and(|other_ops| {
                    other_ops
                        .iter()
                        .enumerate()
                        .any(|(j, o)| pending(&done, &fk.app, j) && makes_target(o, fk))
                });
                if waits && !f.primary_key {
                    peeled.push((i, f.name.clone()));
                }
            }
        }
        if !peeled.is_empty() {
            return Err(Peel {
                app: app.to_owned(),
                fields: peeled,
            });
        }
        take_piece(&mut pieces, &mut done, changes, app, n);
    }
    Ok(pieces)
}

/// Puts the next `n` operations of `app` in a piece, for [`split_by_app`].
fn take_piece<'a>(
    pieces: &mut Vec<Piece>,
    done: &mut BTreeMap<&'a str, usize>,
    changes: &Changes,
    app: &'a str,
    n: usize,
) {
    let from = done[app];
    pieces.push(Piece {
        app: app.to_owned(),
        range: from..from + n,
        ops: Vec::new(),
    });
    if from + n == changes.apps[app].len() {
        done.remove(app);
    } else {
        done.insert(app, from + n);
    }
}

/// Apps other than `app` whose models the operations reference through foreign keys.
fn referenced_apps(app: &str, ops: &[Operation]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut note = |f: &crate::state::FieldState| {
        if let Some(fk) = &f.foreign_key
            && fk.app != app
        {
            out.insert(fk.app.clone());
        }
    };
    for op in ops {
        match op {
            Operation::CreateModel(c) => c.fields.iter().for_each(&mut note),
            Operation::AddField(f) | Operation::AlterField(f) => note(&f.field()),
            _ => {}
        }
    }
    out
}

fn validate_name(name: &str) -> Result<(), MakeError> {
    if name.is_empty()
        || name.len() > 100
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(MakeError::Usage(format!(
            "invalid migration name `{name}`: use lowercase letters, digits and `_` (for example `add_user_email`)"
        )));
    }
    Ok(())
}

/// A name from the operations: `add_user_email`, `user_and_post`, or `<first>_and_more`.
///
/// # Examples
///
/// ```
/// use chakra::make::derive_name;
/// use chakra::operations::{FieldRef, ModelRef, Operation};
///
/// let drop_post = Operation::DeleteModel(ModelRef { model: "Post".into(), table: "posts".into() });
/// let drop_bio = Operation::RemoveField(FieldRef {
///     model: "User".into(),
///     table: "users".into(),
///     name: "bio".into(),
/// });
/// assert_eq!(derive_name(&[drop_bio.clone()]), "remove_user_bio");
/// assert_eq!(derive_name(&[drop_bio.clone(), drop_post.clone()]), "remove_user_bio_and_delete_post");
/// assert_eq!(derive_name(&[drop_post, drop_bio.clone(), drop_bio]), "delete_post_and_more");
/// ```
pub fn derive_name(ops: &[Operation]) -> String {
    const MAX: usize = 52;
    let fragments: Vec<String> = ops.iter().map(Operation::name_fragment).collect();
    let name = match fragments.as_slice() {
        [] => "empty".to_owned(),
        [one] => one.clone(),
        [a, b] if a.len() + b.len() + 5 <= MAX => format!("{a}_and_{b}"),
        [first, ..] => format!("{first}_and_more"),
    };
    let mut name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if name.len() > MAX + 9 {
        name.truncate(MAX);
        name.push_str("_and_more");
    }
    name
}

fn describe_ops(ops: &[Operation]) -> String {
    let lines: Vec<String> = ops.iter().map(Operation::summary).collect();
    match lines.len() {
        0 => "Empty migration".to_owned(),
        1..=3 => lines.join("; "),
        n => format!("{}; and {} more", lines[..2].join("; "), n - 2),
    }
}

/// One line per operation, indented, for messages.
pub fn describe(changes: &Changes) -> String {
    let mut out = String::new();
    for (app, ops) in &changes.apps {
        for op in ops {
            out.push_str(&format!("  [{app}] {op}\n"));
        }
    }
    out.trim_end().to_owned()
}

/// A merge migration `migrate merge` wrote (or would write).
#[derive(Debug, Clone)]
pub struct MergeMigration {
    /// The app.
    pub app: String,
    /// The latest migrations it joins.
    pub leaves: Vec<MigrationKey>,
    /// The merge migration.
    pub migration: Migration,
    /// Where it goes.
    pub path: PathBuf,
}

/// Why two branches cannot be merged as they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeOverlap {
    /// The app.
    pub app: String,
    /// A model both branches change, with the operations of each branch.
    pub model: String,
    /// `(migration, operation)` of every branch touching it.
    pub operations: Vec<(MigrationKey, String)>,
}

/// Operations of each branch (by index) on one object: `(migration, operation)`.
type ByBranch = BTreeMap<usize, Vec<(MigrationKey, String)>>;

/// What an operation changes, for merge: `(model, None)` for the whole model, or
/// `(model, Some(part))` for a field, an index or a constraint. RunSQL and RunRust change
/// what their code says, which cannot be known here: they are not listed.
fn objects(op: &Operation) -> Vec<(String, Option<String>)> {
    let part = |model: &str, p: &str| (model.to_owned(), Some(p.to_owned()));
    match op {
        Operation::CreateModel(c) => vec![(c.model.clone(), None)],
        Operation::DeleteModel(d) => vec![(d.model.clone(), None)],
        Operation::RenameModel(r) => vec![(r.old_name.clone(), None), (r.new_name.clone(), None)],
        Operation::AddField(f) | Operation::AlterField(f) => vec![part(&f.model, &f.name)],
        Operation::RemoveField(f) => vec![part(&f.model, &f.name)],
        Operation::RenameField(r) => vec![part(&r.model, &r.old_name), part(&r.model, &r.new_name)],
        Operation::CreateIndex(i) => vec![part(&i.model, &format!("index {}", i.name))],
        Operation::DropIndex(i) => vec![part(&i.model, &format!("index {}", i.name))],
        Operation::RenameIndex(r) => vec![
            part(&r.model, &format!("index {}", r.old_name)),
            part(&r.model, &format!("index {}", r.new_name)),
        ],
        Operation::AddConstraint(c) => vec![part(&c.model, &format!("constraint {}", c.name))],
        Operation::RemoveConstraint(c) => vec![part(&c.model, &format!("constraint {}", c.name))],
        Operation::RunSql(_) | Operation::RunRust(_) => Vec::new(),
    }
}

/// Joins apps with several latest migrations (from merging two branches that each added one)
/// with a merge migration that depends on all of them. Refuses when the branches change the
/// same model, since the merged order was then never tested; says where RunSQL or RunRust
/// may hide changes. Rewrites the snapshot and `chakra.sum`.
pub fn merge(
    paths: &Paths,
    app: Option<&str>,
    opts: &MakeOptions,
) -> Result<Vec<MergeMigration>, MakeError> {
    let graph = Graph::allowing_several_leaves(load_migrations(&paths.migrations)?)
        .map_err(MakeError::Graph)?;
    let created_at = opts
        .now
        .unwrap_or_else(Utc::now)
        .to_rfc3339_opts(SecondsFormat::Secs, true);
    let mut merges = Vec::new();
    let mut overlaps = Vec::new();
    for (a, leaves) in graph.all_leaves() {
        if leaves.len() < 2 || app.is_some_and(|x| x != a) {
            continue;
        }
        // What each branch did since their common past, model by model.
        let ancestors: Vec<BTreeSet<MigrationKey>> =
            leaves.iter().map(|l| graph.ancestors(l)).collect();
        let common: BTreeSet<MigrationKey> = ancestors
            .iter()
            .skip(1)
            .fold(ancestors[0].clone(), |acc, s| {
                acc.intersection(s).cloned().collect()
            });
        // Objects: (model, None) for the model as a whole, (model, Some(part)) for one field,
        // index or constraint. A whole-model change clashes with anything on that model.
        let mut touched: BTreeMap<(String, Option<String>), ByBranch> = BTreeMap::new();
        for (branch, own) in ancestors.iter().enumerate() {
            for key in graph
                .order()
                .iter()
                .filter(|k| own.contains(*k) && !common.contains(*k))
            {
                let Some(m) = graph.get(key) else { continue };
                for op in &m.migration.operations {
                    for object in objects(op) {
                        touched
                            .entry(object)
                            .or_default()
                            .entry(branch)
                            .or_default()
                            .push((key.clone(), op.summary()));
                    }
                }
            }
        }
        let mut clash = false;
        let whole: BTreeMap<&String, &ByBranch> = touched
            .iter()
            .filter(|((_, part), _)| part.is_none())
            .map(|((model, _), b)| (model, b))
            .collect();
        for ((model, part), by_branch) in &touched {
            let mut branches: ByBranch = by_branch.clone();
            if part.is_some()
                && let Some(w) = whole.get(model)
            {
                for (b, ops) in *w {
                    branches.entry(*b).or_default().extend(ops.iter().cloned());
                }
            }
            if branches.len() > 1 && (part.is_none() || !whole.contains_key(model)) {
                clash = true;
                overlaps.push(MergeOverlap {
                    app: a.clone(),
                    model: match part {
                        Some(p) => format!("{model}.{p}"),
                        None => model.clone(),
                    },
                    operations: branches.into_values().flatten().collect(),
                });
            }
        }
        if clash {
            continue;
        }
        let number = leaves
            .iter()
            .map(|l| graph.last_number(l))
            .max()
            .unwrap_or(0)
            + 1;
        let mut name = format!(
            "merge_{}",
            leaves
                .iter()
                .map(|l| parse_id(&l.id).map_or("", |(_, n)| n))
                .collect::<Vec<_>>()
                .join("_")
        );
        if name.len() > 60 {
            name.truncate(60);
            name = name.trim_end_matches('_').to_owned();
        }
        let id = format!("{number:04}_{name}");
        let migration = Migration {
            migration: Header {
                id: id.clone(),
                app: a.clone(),
                created_at: Some(created_at.clone()),
                dependencies: leaves.iter().map(|l| l.id.clone()).collect(),
                description: format!(
                    "Merge {}",
                    leaves
                        .iter()
                        .map(|l| l.id.as_str())
                        .collect::<Vec<_>>()
                        .join(" and ")
                ),
                atomic: true,
                replaces: Vec::new(),
                format: FORMAT_VERSION,
            },
            operations: Vec::new(),
        };
        let path = app_dir(&paths.migrations, &a).join(format!("{id}.toml"));
        merges.push(MergeMigration {
            app: a,
            leaves,
            migration,
            path,
        });
    }
    if !overlaps.is_empty() {
        return Err(MakeError::MergeOverlap(overlaps));
    }
    // The merged graph must be valid and replay before anything is written.
    let mut all: Vec<LoadedMigration> = graph.files().cloned().collect();
    all.extend(
        merges
            .iter()
            .map(|m| LoadedMigration::new(m.migration.clone(), m.path.clone())),
    );
    let merged = Graph::allowing_several_leaves(all).map_err(MakeError::Graph)?;
    let state = merged
        .final_state()
        .map_err(|e| MakeError::Graph(vec![e]))?;
    if !opts.dry_run && !merges.is_empty() {
        for m in &merges {
            write_atomic(&m.path, &m.migration.to_toml())?;
        }
        snapshot::write(&paths.snapshot, &state, merged.leaves().values())?;
        sum::write(&paths.migrations, &sum::entries(merged.files()))?;
    }
    Ok(merges)
}

#[cfg(test)]
mod tests {
    //! Migrations across apps: foreign keys between new models of several apps, with and
    //! without a cycle, must give an acyclic graph in which every foreign key's target exists
    //! first.

    use super::*;
    use crate::state::{FieldState, FieldType, ForeignKey, ModelState, OnAction};

    fn pk() -> FieldState {
        FieldState {
            primary_key: true,
            auto_increment: true,
            ..FieldState::new("id", FieldType::BigInteger)
        }
    }

    /// A nullable BIGINT `name` referencing the `id` of `app.model` (table `table`).
    fn fk(name: &str, app: &str, model: &str, table: &str) -> FieldState {
        FieldState {
            nullable: true,
            foreign_key: Some(ForeignKey {
                app: app.into(),
                model: model.into(),
                table: table.into(),
                column: "id".into(),
                on_delete: OnAction::SetNull,
                on_update: OnAction::NoAction,
            }),
            ..FieldState::new(name, FieldType::BigInteger)
        }
    }

    fn model(app: &str, name: &str, table: &str, fields: Vec<FieldState>) -> ModelState {
        ModelState {
            app: app.into(),
            name: name.into(),
            table: table.into(),
            fields,
            indexes: Vec::new(),
            constraints: Vec::new(),
        }
    }

    fn state(models: Vec<ModelState>) -> ProjectState {
        ProjectState::from_models_list(models).expect("distinct models")
    }

    fn paths(dir: &tempfile::TempDir) -> Paths {
        Paths::under(dir.path(), "migrations")
    }

    /// Runs `make` for `models` in `dir` and returns what it wrote.
    fn make_in(dir: &tempfile::TempDir, models: Vec<ModelState>) -> Vec<MadeMigration> {
        let opts = MakeOptions {
            now: DateTime::from_timestamp(1_795_000_000, 0),
            ..MakeOptions::default()
        };
        let made = make(&paths(dir), &state(models.clone()), &opts)
            .expect("make")
            .migrations;
        // The files replay to the models, and a second run finds nothing to do.
        let again = make(&paths(dir), &state(models), &opts).expect("make again");
        assert!(again.migrations.is_empty(), "{:?}", again.migrations);
        made
    }

    /// One line per migration (`app/id <- dependencies`), then one per operation; a
    /// CreateModel lists its fields, a foreign key its target.
    fn render(made: &[MadeMigration]) -> String {
        let mut out = String::new();
        for m in made {
            let h = &m.migration.migration;
            out.push_str(&format!(
                "{}/{} <- [{}]\n",
                h.app,
                h.id,
                h.dependencies.join(", ")
            ));
            for op in &m.migration.operations {
                out.push_str(&format!("  {op}"));
                let describe = |f: &FieldState| match &f.foreign_key {
                    Some(fk) => format!("{} -> {}.{}", f.name, fk.app, fk.model),
                    None => f.name.clone(),
                };
                match op {
                    Operation::CreateModel(c) => out.push_str(&format!(
                        ": {}",
                        c.fields.iter().map(describe).collect::<Vec<_>>().join(", ")
                    )),
                    Operation::AddField(f) => out.push_str(&format!(": {}", describe(&f.field()))),
                    _ => {}
                }
                out.push('\n');
            }
        }
        out
    }

    /// The new dependencies of every migration made, as `(app/id, [app/id...])`, with bare
    /// ids resolved.
    fn edges(made: &[MadeMigration]) -> Vec<(String, Vec<String>)> {
        made.iter()
            .map(|m| {
                let h = &m.migration.migration;
                let deps = h
                    .dependencies
                    .iter()
                    .map(|d| {
                        if d.contains('/') {
                            d.clone()
                        } else {
                            format!("{}/{d}", h.app)
                        }
                    })
                    .collect();
                (format!("{}/{}", h.app, h.id), deps)
            })
            .collect()
    }

    #[test]
    fn a_cycle_across_two_apps_is_split_into_two_migrations_of_one_app() {
        let models = || {
            vec![
                model(
                    "a",
                    "A",
                    "a_table",
                    vec![pk(), fk("b_id", "b", "B", "b_table")],
                ),
                model(
                    "b",
                    "B",
                    "b_table",
                    vec![pk(), fk("a_id", "a", "A", "a_table")],
                ),
            ]
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let made = make_in(&dir, models());
        assert_eq!(
            edges(&made),
            [
                ("a/0001_initial".to_owned(), vec![]),
                (
                    "b/0001_initial".to_owned(),
                    vec!["a/0001_initial".to_owned()]
                ),
                (
                    "a/0002_add_a_b_id".to_owned(),
                    vec!["a/0001_initial".to_owned(), "b/0001_initial".to_owned()]
                ),
            ]
        );
        insta::assert_snapshot!(render(&made));

        // Deterministic: the same models give byte-identical files.
        let other = tempfile::tempdir().expect("temp dir");
        let again = make_in(&other, models());
        for (x, y) in made.iter().zip(&again) {
            assert_eq!(x.migration.to_toml(), y.migration.to_toml());
        }
    }

    #[test]
    fn a_cycle_across_three_apps_is_cut_once() {
        let dir = tempfile::tempdir().expect("temp dir");
        let made = make_in(
            &dir,
            vec![
                model(
                    "a",
                    "A",
                    "a_table",
                    vec![pk(), fk("b_id", "b", "B", "b_table")],
                ),
                model(
                    "b",
                    "B",
                    "b_table",
                    vec![pk(), fk("c_id", "c", "C", "c_table")],
                ),
                model(
                    "c",
                    "C",
                    "c_table",
                    vec![pk(), fk("a_id", "a", "A", "a_table")],
                ),
            ],
        );
        assert_eq!(made.len(), 4);
        insta::assert_snapshot!(render(&made));
    }

    #[test]
    fn a_ring_of_apps_creates_every_model_in_the_first_migrations_and_adds_the_keys_later() {
        // Django's benchmark schema: model i references model i-1, which lives in the previous
        // app, so the apps wait for each other in a ring though the models form a chain.
        // Cutting after each model would give a migration per model; the keys of the first
        // app's later models wait instead.
        let dir = tempfile::tempdir().expect("temp dir");
        let apps = ["a", "b", "c"];
        let models = (0..7)
            .map(|i: usize| {
                let app = apps[i % 3];
                let mut fields = vec![pk()];
                if i > 0 {
                    let t = apps[(i - 1) % 3];
                    let target = format!("M{}", i - 1);
                    fields.push(fk("parent_id", t, &target, &format!("{t}_m{}", i - 1)));
                }
                model(app, &format!("M{i}"), &format!("{app}_m{i}"), fields)
            })
            .collect();
        let made = make_in(&dir, models);
        assert_eq!(made.len(), 4, "{}", render(&made));
        insta::assert_snapshot!(render(&made));
    }

    #[test]
    fn a_cycle_across_apps_keeps_self_references_inline() {
        let dir = tempfile::tempdir().expect("temp dir");
        let made = make_in(
            &dir,
            vec![
                model(
                    "a",
                    "A",
                    "a_table",
                    vec![
                        pk(),
                        fk("parent_id", "a", "A", "a_table"),
                        fk("b_id", "b", "B", "b_table"),
                    ],
                ),
                model(
                    "b",
                    "B",
                    "b_table",
                    vec![
                        pk(),
                        fk("a_id", "a", "A", "a_table"),
                        fk("next_id", "b", "B", "b_table"),
                    ],
                ),
            ],
        );
        insta::assert_snapshot!(render(&made));
    }

    #[test]
    fn a_cycle_within_an_app_stays_in_its_first_migration_when_the_app_is_cut() {
        let dir = tempfile::tempdir().expect("temp dir");
        let made = make_in(
            &dir,
            vec![
                model(
                    "a",
                    "A",
                    "a_table",
                    vec![pk(), fk("b_id", "b", "B", "b_table")],
                ),
                model(
                    "a",
                    "P",
                    "p_table",
                    vec![pk(), fk("q_id", "a", "Q", "q_table")],
                ),
                model(
                    "a",
                    "Q",
                    "q_table",
                    vec![pk(), fk("p_id", "a", "P", "p_table")],
                ),
                model(
                    "b",
                    "B",
                    "b_table",
                    vec![pk(), fk("a_id", "a", "A", "a_table")],
                ),
            ],
        );
        insta::assert_snapshot!(render(&made));
    }

    #[test]
    fn a_reference_across_apps_without_a_cycle_gives_one_migration_per_app() {
        let dir = tempfile::tempdir().expect("temp dir");
        let made = make_in(
            &dir,
            vec![
                model(
                    "a",
                    "A",
                    "a_table",
                    vec![pk(), fk("b_id", "b", "B", "b_table")],
                ),
                model("b", "B", "b_table", vec![pk()]),
            ],
        );
        insta::assert_snapshot!(render(&made), @r"
        b/0001_initial <- []
          + CreateModel B (b_table): id
        a/0001_initial <- [b/0001_initial]
          + CreateModel A (a_table): id, b_id -> b.B
        ");

        // A new foreign key to an app that has unrelated changes depends on them, as before.
        let mut b = model("b", "B", "b_table", vec![pk()]);
        b.fields.push(FieldState {
            nullable: true,
            ..FieldState::new("note", FieldType::Text)
        });
        let made = make_in(
            &dir,
            vec![
                model(
                    "a",
                    "A",
                    "a_table",
                    vec![
                        pk(),
                        fk("b_id", "b", "B", "b_table"),
                        fk("b2_id", "b", "B", "b_table"),
                    ],
                ),
                b,
            ],
        );
        insta::assert_snapshot!(render(&made), @r"
        b/0002_add_b_note <- [0001_initial]
          + AddField B.note: note
        a/0002_add_a_b2_id <- [0001_initial, b/0002_add_b_note]
          + AddField A.b2_id: b2_id -> b.B
        ");
    }

    #[test]
    fn a_cycle_through_existing_models_is_split() {
        let dir = tempfile::tempdir().expect("temp dir");
        make_in(&dir, vec![model("a", "X", "x_table", vec![pk()])]);
        // X (existing) gets a key to the new B, which references the new A of X's app.
        let made = make_in(
            &dir,
            vec![
                model(
                    "a",
                    "X",
                    "x_table",
                    vec![pk(), fk("b_id", "b", "B", "b_table")],
                ),
                model("a", "A", "a_table", vec![pk()]),
                model(
                    "b",
                    "B",
                    "b_table",
                    vec![pk(), fk("a_id", "a", "A", "a_table")],
                ),
            ],
        );
        insta::assert_snapshot!(render(&made));
    }

    #[test]
    fn existing_models_of_two_apps_referencing_each_other_need_no_cut() {
        let dir = tempfile::tempdir().expect("temp dir");
        make_in(
            &dir,
            vec![
                model("a", "X", "x_table", vec![pk()]),
                model("b", "Y", "y_table", vec![pk()]),
            ],
        );
        let made = make_in(
            &dir,
            vec![
                model(
                    "a",
                    "X",
                    "x_table",
                    vec![pk(), fk("y_id", "b", "Y", "y_table")],
                ),
                model(
                    "b",
                    "Y",
                    "y_table",
                    vec![pk(), fk("x_id", "a", "X", "x_table")],
                ),
            ],
        );
        insta::assert_snapshot!(render(&made));
    }

    #[test]
    fn deleting_a_model_waits_for_the_existing_migration_that_removed_a_key_to_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let a = || model("a", "A", "a_table", vec![pk()]);
        make_in(
            &dir,
            vec![
                a(),
                model(
                    "b",
                    "B",
                    "b_table",
                    vec![pk(), fk("a_id", "a", "A", "a_table")],
                ),
            ],
        );
        make_in(&dir, vec![a(), model("b", "B", "b_table", vec![pk()])]);
        let made = make_in(&dir, vec![model("b", "B", "b_table", vec![pk()])]);
        insta::assert_snapshot!(render(&made), @r"
        a/0002_delete_a <- [0001_initial, b/0002_remove_b_a_id]
          - DeleteModel A (a_table)
        ");
    }

    #[test]
    fn deleting_models_in_a_cycle_across_apps_removes_the_cyclic_key_first() {
        let dir = tempfile::tempdir().expect("temp dir");
        let keep = || model("a", "K", "k_table", vec![pk()]);
        make_in(
            &dir,
            vec![
                keep(),
                model(
                    "a",
                    "A",
                    "a_table",
                    vec![pk(), fk("b_id", "b", "B", "b_table")],
                ),
                model(
                    "b",
                    "B",
                    "b_table",
                    vec![pk(), fk("a_id", "a", "A", "a_table")],
                ),
                model("b", "L", "l_table", vec![pk()]),
            ],
        );
        let made = make_in(&dir, vec![keep(), model("b", "L", "l_table", vec![pk()])]);
        insta::assert_snapshot!(render(&made));
    }
}
