//! `migrate squash`: one optimized migration in place of a range of an app's migrations.
//!
//! Synchronous and database-free, like `make`. The range runs from FROM (default: the app's
//! first migration) to TO: every migration of the app that depends on FROM and that TO depends
//! on. It must be a chain of its own: a branch joining it from outside (a merge migration whose
//! other side is not in the range) is refused, and so is another app's migration that depends on
//! the middle of the range while a later part of the range depends on it (squashed, the two
//! would depend on each other).
//!
//! The squash's operations are the range's, concatenated and optimized; RunSQL and RunRust are
//! barriers the optimizer never removes, so they are carried over and reported. Its
//! dependencies are the range's dependencies outside it, its `replaces` the range's ids (and,
//! for a squash in the range, what that squash replaces, so that databases that applied the
//! oldest migrations are still recognised once the intermediate file is deleted). Before
//! anything is written, the new set of files is checked to give the same schema as the old
//! one, right after the squash and at the end.
//!
//! # Examples
//!
//! Two migrations, made one after the other, squashed into one:
//!
//! ```
//! use chakra::make::{MakeOptions, Paths, make};
//! use chakra::squash::{SquashOptions, squash};
//! use chakra::state::{FieldState, FieldType, ModelState, ProjectState};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let tags = |fields: Vec<FieldState>| {
//!     let tag = ModelState {
//!         app: "default".into(),
//!         name: "Tag".into(),
//!         table: "tags".into(),
//!         fields,
//!         indexes: vec![],
//!         constraints: vec![],
//!     };
//!     ProjectState::from_models_list(vec![tag])
//! };
//! let label = FieldState::new("label", FieldType::Text);
//! let color = FieldState { nullable: true, ..FieldState::new("color", FieldType::Text) };
//! let root = tempfile::tempdir()?;
//! let paths = Paths::under(root.path(), "migrations");
//! make(&paths, &tags(vec![label.clone()])?, &MakeOptions::default())?;
//! make(&paths, &tags(vec![label, color])?, &MakeOptions::default())?;
//!
//! let outcome = squash(&paths, "default", None, "0002", &SquashOptions::default())?;
//! assert_eq!(outcome.migration.migration.id, "0001_squashed_0002_add_tag_color");
//! assert_eq!(outcome.migration.migration.replaces, ["0001_initial", "0002_add_tag_color"]);
//! // CreateModel absorbed AddField.
//! assert_eq!((outcome.operations_before, outcome.operations_after), (2, 1));
//! assert!(outcome.written && outcome.path.exists());
//! # Ok(()) }
//! ```

use std::collections::BTreeSet;
use std::path::PathBuf;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::autodetect::detect;
use crate::format::{FORMAT_VERSION, Header, Migration, parse_id};
use crate::graph::{Graph, GraphError, MigrationKey};
use crate::make::{Paths, describe};
use crate::operations::Operation;
use crate::optimizer::optimize;
use crate::project::{LoadedMigration, ProjectError, app_dir, load_migrations, write_atomic};
use crate::snapshot;
use crate::state::ProjectState;
use crate::sum::{self, SumProblem};

/// Options of `migrate squash`.
#[derive(Debug, Clone, Default)]
pub struct SquashOptions {
    /// `--name`: the name part of the squash's id (`NNNN_<name>`).
    pub name: Option<String>,
    /// Write nothing (`--dry-run`).
    pub dry_run: bool,
    /// The time written in `created_at`.
    pub now: Option<DateTime<Utc>>,
}

/// A RunSQL or RunRust operation that the squash carries over: the optimizer cannot see
/// through it, so it stays, and the operations around it cannot be merged across it.
#[derive(Debug, Clone, PartialEq)]
pub struct Carried {
    /// The migration it comes from.
    pub migration: MigrationKey,
    /// The operation.
    pub operation: Operation,
}

/// What `migrate squash` wrote (or would write).
#[derive(Debug, Clone)]
pub struct SquashOutcome {
    /// The app.
    pub app: String,
    /// The squashed migration.
    pub migration: Migration,
    /// Where it goes.
    pub path: PathBuf,
    /// The migrations of the range, in order.
    pub squashed: Vec<MigrationKey>,
    /// Operations of the range.
    pub operations_before: usize,
    /// Operations of the squash.
    pub operations_after: usize,
    /// RunSQL and RunRust operations carried over.
    pub carried: Vec<Carried>,
    /// The file and `chakra.sum` were written (not a dry run).
    pub written: bool,
}

impl SquashOutcome {
    /// The advice about carried RunSQL and RunRust operations.
    pub const CARRIED_HINT: &'static str = "RunSQL and RunRust cannot be optimized away, so they were carried over as they are. \
         If one is no longer needed (a data fix for rows a fresh database never has), delete it from the squashed \
         migration by hand before committing it, then run `migrate verify --update-sum`";

    /// The key of the squashed migration.
    pub fn key(&self) -> MigrationKey {
        MigrationKey::new(&self.app, &self.migration.migration.id)
    }
}

/// Everything that stops `squash`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SquashError {
    /// The files could not be read or written, or are invalid.
    #[error(transparent)]
    Project(#[from] ProjectError),
    /// The migration graph is broken, before or after the squash.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Graph(Vec<GraphError>),
    /// `chakra.sum` does not match the migration files.
    #[error(
        "{} does not match the migration files:\n{}\nReview these files (`git diff`, `migrate verify`) before squashing. If the \
         changes are intended, record them with `migrate verify --update-sum`",
        sum::SUM_FILE,
        .0.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n")
    )]
    Sum(Vec<SumProblem>),
    /// The committed snapshot differs from the replayed files.
    #[error(
        "`{path}` does not match the migration files:\n{details}\nRestore it from version control, or run `migrate make` to see why, before squashing"
    )]
    SnapshotMismatch {
        /// The snapshot path.
        path: String,
        /// The differences.
        details: String,
    },
    /// The app has no migration of that name.
    #[error("app `{app}` has no migration `{reference}`; `migrate status` lists them")]
    UnknownMigration {
        /// The app.
        app: String,
        /// What was asked for.
        reference: String,
    },
    /// A prefix matches several migrations.
    #[error("`{reference}` matches several migrations of app `{app}` ({}); give more of the id", .matches.join(", "))]
    Ambiguous {
        /// The app.
        app: String,
        /// What was asked for.
        reference: String,
        /// The ids it matches.
        matches: Vec<String>,
    },
    /// The migration named is already replaced by a squash.
    #[error(
        "`{migration}` is already squashed into `{squash}` (its file stays for databases that have not applied the squash); \
         name `{squash}` instead"
    )]
    AlreadySquashed {
        /// The migration named.
        migration: MigrationKey,
        /// The squash replacing it.
        squash: MigrationKey,
    },
    /// FROM does not come before TO.
    #[error(
        "`{to}` does not depend on `{from}`, so there is no range from one to the other; name the older one first"
    )]
    NotBefore {
        /// FROM.
        from: MigrationKey,
        /// TO.
        to: MigrationKey,
    },
    /// The range is a single migration.
    #[error(
        "the range holds only `{0}`: there is nothing to squash; name a later TO or an earlier FROM"
    )]
    Single(MigrationKey),
    /// A migration of the range merges a branch that is not in the range.
    #[error(
        "`{migration}` depends on `{outside}`, a migration of the same app outside the range that does not come before \
         `{from}`: the range contains a merge whose other branch is not in it. Start the range at `{common}` so it holds \
         both branches, or end it before `{migration}`"
    )]
    Branch {
        /// The migration in the range.
        migration: String,
        /// Its dependency outside the range.
        outside: String,
        /// FROM.
        from: String,
        /// Where the range could start to hold both branches.
        common: String,
    },
    /// Another app's migration sits between two parts of the range.
    #[error(
        "`{outside}` depends on `{before}`, inside the range, and `{after}`, also inside it, depends on `{outside}`: squashed \
         into one migration, the squash and `{outside}` would depend on each other. End the range before `{after}`, or start \
         it after `{before}`"
    )]
    Interleaved {
        /// The migration outside the range.
        outside: String,
        /// The range's migration it depends on.
        before: String,
        /// The range's migration that depends on it.
        after: String,
    },
    /// A squash in the range still has the files of what it replaces.
    #[error(
        "`{squash}`, in the range, is itself a squash whose replaced migrations still have files ({}): a new squash would \
         have to replace both it and them, and databases that applied either would be ambiguous. Once every database has \
         applied `{squash}` (or all it replaces), delete those files, then squash again",
        .present.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    )]
    NestedOriginals {
        /// The squash in the range.
        squash: MigrationKey,
        /// Its replaced migrations whose files exist.
        present: Vec<MigrationKey>,
    },
    /// A file with the squash's id exists.
    #[error("`{}` already exists; pass another --name", .0.display())]
    Exists(PathBuf),
    /// The squash would not give the same schema; nothing was written.
    #[error(
        "the squashed migration would not give the same schema as the migrations it replaces ({at}):\n{details}\n\
         Nothing was written. This is a bug in Chakra's optimizer; please report it, and squash a shorter range meanwhile"
    )]
    StateMismatch {
        /// Where the schemas differ.
        at: String,
        /// The differences, as the operations from the originals' schema to the squash's.
        details: String,
    },
    /// Bad options.
    #[error("{0}")]
    Usage(String),
}

/// Squashes the migrations of `app` from `from` (default: the app's first migration) to `to`
/// into one migration that replaces them, and writes it with `chakra.sum` (unless
/// `opts.dry_run`). `from` and `to` are ids, or unique prefixes of ids (`0004`).
pub fn squash(
    paths: &Paths,
    app: &str,
    from: Option<&str>,
    to: &str,
    opts: &SquashOptions,
) -> Result<SquashOutcome, SquashError> {
    let graph = Graph::new(load_migrations(&paths.migrations)?).map_err(SquashError::Graph)?;
    let entries = sum::entries(graph.files());
    let sum_problems: Vec<SumProblem> = sum::check(&paths.migrations, &entries)
        .into_iter()
        .filter(|p| *p != SumProblem::Missing)
        .collect();
    if !sum_problems.is_empty() {
        return Err(SquashError::Sum(sum_problems));
    }
    let replayed = graph
        .final_state()
        .map_err(|e| SquashError::Graph(vec![e]))?;
    if let Some(snap) = snapshot::read(&paths.snapshot)?
        && snap.state != replayed
    {
        return Err(SquashError::SnapshotMismatch {
            path: paths.snapshot.display().to_string(),
            details: differences(&replayed, &snap.state),
        });
    }
    if let Some(name) = &opts.name {
        validate_name(name)?;
    }

    let to = find(&graph, app, to)?;
    let from = match from {
        Some(f) => find(&graph, app, f)?,
        None => {
            let before_to = graph.ancestors(&to);
            graph
                .order()
                .iter()
                .find(|k| k.app == app && before_to.contains(*k))
                .cloned()
                .unwrap_or_else(|| to.clone())
        }
    };
    let range = range(&graph, &from, &to)?;

    // Operations, and the RunSQL/RunRust among them with where they come from.
    let mut ops = Vec::new();
    let mut barriers = Vec::new();
    for k in &range {
        for op in &graph
            .get(k)
            .expect("the range is in the graph")
            .migration
            .operations
        {
            if matches!(op, Operation::RunSql(_) | Operation::RunRust(_)) {
                barriers.push(k.clone());
            }
            ops.push(op.clone());
        }
    }
    let operations_before = ops.len();
    let optimized = optimize(app, ops);
    let operations_after = optimized.len();
    // The optimizer neither drops nor merges barriers: they come out in order.
    let carried: Vec<Carried> = optimized
        .iter()
        .filter(|op| matches!(op, Operation::RunSql(_) | Operation::RunRust(_)))
        .zip(barriers)
        .map(|(op, migration)| Carried {
            migration,
            operation: op.clone(),
        })
        .collect();

    let in_range: BTreeSet<&MigrationKey> = range.iter().collect();
    let mut dependencies = BTreeSet::new();
    for k in &range {
        for d in graph.dependencies(k) {
            if !in_range.contains(d) {
                dependencies.insert(d.clone());
            }
        }
    }
    let mut replaces: Vec<MigrationKey> = Vec::new();
    for k in &range {
        flatten(&graph, k, &mut replaces);
    }

    let first = graph.first_number(&from);
    let last = graph.last_number(&to);
    let id = match &opts.name {
        Some(n) => format!("{first:04}_{n}"),
        None => format!("{first:04}_squashed_{last:04}_{}", last_name(&to.id)),
    };
    let key = MigrationKey::new(app, &id);
    let path = app_dir(&paths.migrations, app).join(format!("{id}.toml"));
    if graph.file(&key).is_some() || path.exists() {
        return Err(SquashError::Exists(path));
    }
    let created_at = opts
        .now
        .unwrap_or_else(Utc::now)
        .to_rfc3339_opts(SecondsFormat::Secs, true);
    let mut description = format!(
        "Squashed {} to {} ({} migrations, {operations_before} operations optimized to {})",
        from.id,
        to.id,
        range.len(),
        operations_after
    );
    if !carried.is_empty() {
        description.push_str(&format!(
            "; carries {} RunSQL/RunRust operation(s) to review",
            carried.len()
        ));
    }
    let migration = Migration {
        migration: Header {
            id: id.clone(),
            app: app.to_owned(),
            created_at: Some(created_at),
            dependencies: dependencies.iter().map(|d| d.reference_from(app)).collect(),
            description,
            atomic: range
                .iter()
                .all(|k| graph.get(k).is_some_and(|m| m.migration.migration.atomic)),
            replaces: replaces.iter().map(|r| r.reference_from(app)).collect(),
            format: FORMAT_VERSION,
        },
        operations: optimized,
    };

    // The new files must form a valid graph giving the same schema, right after the squash
    // and at the end, before anything is written.
    let mut files: Vec<LoadedMigration> = graph.files().cloned().collect();
    files.push(LoadedMigration::new(migration.clone(), path.clone()));
    let new_graph = Graph::new(files).map_err(SquashError::Graph)?;
    let old_at_to = state_through(&graph, &graph.ancestors(&to))?;
    let new_at_squash = state_through(&new_graph, &new_graph.ancestors(&key))?;
    if old_at_to != new_at_squash {
        return Err(SquashError::StateMismatch {
            at: format!("right after `{to}`"),
            details: differences(&old_at_to, &new_at_squash),
        });
    }
    let new_final = new_graph
        .final_state()
        .map_err(|e| SquashError::Graph(vec![e]))?;
    if new_final != replayed {
        return Err(SquashError::StateMismatch {
            at: "after every migration".to_owned(),
            details: differences(&replayed, &new_final),
        });
    }

    if !opts.dry_run {
        write_atomic(&path, &migration.to_toml())?;
        sum::write(&paths.migrations, &sum::entries(new_graph.files()))?;
    }
    Ok(SquashOutcome {
        app: app.to_owned(),
        migration,
        path,
        squashed: range,
        operations_before,
        operations_after,
        carried,
        written: !opts.dry_run,
    })
}

/// The migration of `app` that `reference` names: its id, `app/id`, or a unique prefix of its
/// id. It must be in the graph (not already replaced by a squash).
fn find(graph: &Graph, app: &str, reference: &str) -> Result<MigrationKey, SquashError> {
    let (ref_app, id) = match reference.split_once('/') {
        Some((a, id)) => (a, id),
        None => (app, reference),
    };
    let unknown = || SquashError::UnknownMigration {
        app: app.to_owned(),
        reference: reference.to_owned(),
    };
    if ref_app != app {
        return Err(unknown());
    }
    let exact = MigrationKey::new(app, id);
    let key = if graph.file(&exact).is_some() {
        exact
    } else {
        // Prefixes name migrations in the graph first, replaced ones otherwise (to say so).
        let mut matches: Vec<&MigrationKey> = graph
            .order()
            .iter()
            .filter(|k| k.app == app && k.id.starts_with(id))
            .collect();
        if matches.is_empty() {
            matches = graph
                .file_keys()
                .filter(|k| k.app == app && k.id.starts_with(id))
                .collect();
        }
        match matches.as_slice() {
            [one] => (*one).clone(),
            [] => return Err(unknown()),
            many => {
                return Err(SquashError::Ambiguous {
                    app: app.to_owned(),
                    reference: reference.to_owned(),
                    matches: many.iter().map(|k| k.id.clone()).collect(),
                });
            }
        }
    };
    if let Some(squash) = graph.replaced_by(&key) {
        return Err(SquashError::AlreadySquashed {
            migration: key,
            squash: squash.clone(),
        });
    }
    Ok(key)
}

/// The migrations of the range, in graph order, checked to be squashable.
fn range(
    graph: &Graph,
    from: &MigrationKey,
    to: &MigrationKey,
) -> Result<Vec<MigrationKey>, SquashError> {
    let before_to = graph.ancestors(to);
    if !before_to.contains(from) {
        return Err(SquashError::NotBefore {
            from: from.clone(),
            to: to.clone(),
        });
    }
    let after_from = graph.descendants(from);
    let range: Vec<MigrationKey> = graph
        .order()
        .iter()
        .filter(|k| k.app == from.app && before_to.contains(*k) && after_from.contains(*k))
        .cloned()
        .collect();
    if range.len() < 2 {
        return Err(SquashError::Single(from.clone()));
    }
    let in_range: BTreeSet<&MigrationKey> = range.iter().collect();
    let before_from = graph.ancestors(from);
    for k in &range {
        for d in graph.dependencies(k) {
            if in_range.contains(d) {
                continue;
            }
            if d.app == from.app && !before_from.contains(d) {
                // The newest migration of the app before both branches.
                let common = graph
                    .order()
                    .iter()
                    .rev()
                    .find(|c| {
                        c.app == from.app
                            && before_from.contains(*c)
                            && graph.ancestors(d).contains(*c)
                    })
                    .cloned()
                    .unwrap_or_else(|| d.clone());
                return Err(SquashError::Branch {
                    migration: k.to_string(),
                    outside: d.to_string(),
                    from: from.to_string(),
                    common: common.to_string(),
                });
            }
            let needs = graph.ancestors(d);
            if let Some(before) = range.iter().rev().find(|r| needs.contains(*r)) {
                return Err(SquashError::Interleaved {
                    outside: d.to_string(),
                    before: before.to_string(),
                    after: k.to_string(),
                });
            }
        }
    }
    for k in &range {
        if graph.replaces(k).is_empty() {
            continue;
        }
        let present: Vec<MigrationKey> = graph
            .replaced_closure(k)
            .into_iter()
            .filter(|r| graph.file(r).is_some())
            .collect();
        if !present.is_empty() {
            return Err(SquashError::NestedOriginals {
                squash: k.clone(),
                present,
            });
        }
    }
    Ok(range)
}

/// Appends `key` to `out`, after what it replaces when it is a squash itself.
fn flatten(graph: &Graph, key: &MigrationKey, out: &mut Vec<MigrationKey>) {
    for r in graph.replaces(key) {
        if !out.contains(r) && r != key {
            flatten(graph, r, out);
        }
    }
    if !out.contains(key) {
        out.push(key.clone());
    }
}

/// The name part of `id`, without a `squashed_MMMM_` prefix (so a squash of squashes is not
/// named `..._squashed_0008_squashed_0004_x`).
fn last_name(id: &str) -> &str {
    let name = parse_id(id).map_or(id, |(_, n)| n);
    match name.strip_prefix("squashed_") {
        Some(rest)
            if rest.len() > 5
                && rest.as_bytes()[..4].iter().all(u8::is_ascii_digit)
                && rest.as_bytes()[4] == b'_' =>
        {
            &rest[5..]
        }
        _ => name,
    }
}

/// The state after the migrations `keys` of `graph`, replayed in graph order.
fn state_through(
    graph: &Graph,
    keys: &BTreeSet<MigrationKey>,
) -> Result<ProjectState, SquashError> {
    let mut state = ProjectState::default();
    for k in graph.order().iter().filter(|k| keys.contains(*k)) {
        for op in &graph
            .get(k)
            .expect("ordered keys are in the graph")
            .migration
            .operations
        {
            state.apply(&k.app, op).map_err(|source| {
                SquashError::Graph(vec![GraphError::Replay {
                    migration: k.clone(),
                    source,
                }])
            })?;
        }
    }
    Ok(state)
}

/// The operations turning `from` into `to`, one per line.
fn differences(from: &ProjectState, to: &ProjectState) -> String {
    match detect(from, to) {
        Ok(changes) => describe(&changes),
        Err(e) => format!("  {e}"),
    }
}

fn validate_name(name: &str) -> Result<(), SquashError> {
    if name.is_empty()
        || name.len() > 100
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(SquashError::Usage(format!(
            "invalid migration name `{name}`: use lowercase letters, digits and `_` (for example `squashed_initial`)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::make::load_graph;

    const CREATE_USER: &str = r#"
[[operations]]
type = "CreateModel"
model = "User"
table = "users"

[[operations.fields]]
name = "id"
type = "BigInteger"
primary_key = true
auto_increment = true
"#;

    fn add_field(name: &str) -> String {
        format!(
            "\n[[operations]]\ntype = \"AddField\"\nmodel = \"User\"\ntable = \"users\"\nname = \"{name}\"\nfield_type = \"Text\"\nnullable = true\n"
        )
    }

    fn remove_field(name: &str) -> String {
        format!(
            "\n[[operations]]\ntype = \"RemoveField\"\nmodel = \"User\"\ntable = \"users\"\nname = \"{name}\"\n"
        )
    }

    const RUN_SQL: &str = "\n[[operations]]\ntype = \"RunSQL\"\nforward = \"UPDATE users SET id = id\"\nreverse = \"SELECT 1\"\n";

    /// A project folder whose files are written by hand.
    struct Project {
        dir: tempfile::TempDir,
    }

    impl Project {
        fn new() -> Project {
            Project {
                dir: tempfile::tempdir().expect("temp dir"),
            }
        }

        fn paths(&self) -> Paths {
            Paths::under(self.dir.path(), "migrations")
        }

        fn file(&self, app: &str, id: &str) -> PathBuf {
            app_dir(&self.paths().migrations, app).join(format!("{id}.toml"))
        }

        /// Writes a migration and rewrites `chakra.sum`.
        fn write(&self, app: &str, id: &str, deps: &[&str], ops: &str) {
            let text = format!(
                "[migration]\nid = \"{id}\"\napp = \"{app}\"\ndependencies = {deps:?}\n{ops}"
            );
            let path = self.file(app, id);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(&path, text).expect("write");
            self.update_sum();
        }

        fn remove(&self, app: &str, id: &str) {
            std::fs::remove_file(self.file(app, id)).expect("remove");
            self.update_sum();
        }

        fn update_sum(&self) {
            let files = load_migrations(&self.paths().migrations).expect("load");
            sum::write(&self.paths().migrations, &sum::entries(&files)).expect("sum");
        }

        fn squash(&self, from: Option<&str>, to: &str) -> Result<SquashOutcome, SquashError> {
            self.squash_app("default", from, to)
        }

        fn squash_app(
            &self,
            app: &str,
            from: Option<&str>,
            to: &str,
        ) -> Result<SquashOutcome, SquashError> {
            squash(&self.paths(), app, from, to, &SquashOptions::default())
        }

        fn graph(&self) -> Graph {
            load_graph(&self.paths().migrations).expect("graph")
        }

        fn path(&self, rel: &str) -> PathBuf {
            self.dir.path().join(rel)
        }
    }

    /// 0001 creates User, 0002 adds `email`, 0003 removes it, 0004 adds `name`.
    fn user_project() -> Project {
        let p = Project::new();
        p.write("default", "0001_initial", &[], CREATE_USER);
        p.write(
            "default",
            "0002_add_email",
            &["0001_initial"],
            &add_field("email"),
        );
        p.write(
            "default",
            "0003_remove_email",
            &["0002_add_email"],
            &remove_field("email"),
        );
        p.write(
            "default",
            "0004_add_name",
            &["0003_remove_email"],
            &add_field("name"),
        );
        p
    }

    fn ids(keys: &[MigrationKey]) -> Vec<String> {
        keys.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn squashing_optimizes_the_range_into_one_migration_that_replaces_it() {
        let p = user_project();
        let before = p.graph().final_state().expect("replay");
        let out = p.squash(None, "0004_add_name").expect("squash");
        assert_eq!(out.migration.migration.id, "0001_squashed_0004_add_name");
        assert_eq!(
            out.migration.migration.replaces,
            [
                "0001_initial",
                "0002_add_email",
                "0003_remove_email",
                "0004_add_name"
            ]
        );
        assert!(out.migration.migration.dependencies.is_empty());
        // CreateModel absorbs the AddField; the added then removed field vanishes.
        assert_eq!((out.operations_before, out.operations_after), (4, 1));
        match &out.migration.operations[..] {
            [Operation::CreateModel(c)] => {
                let names: Vec<&str> = c.fields.iter().map(|f| f.name.as_str()).collect();
                assert_eq!(names, ["id", "name"]);
            }
            other => panic!("{other:?}"),
        }
        assert!(out.carried.is_empty());
        assert!(out.written && out.path.exists());
        // The written file is read back the same, is listed in chakra.sum, and the graph
        // uses it in place of the originals, with the same schema.
        let graph = p.graph();
        assert_eq!(ids(graph.order()), ["0001_squashed_0004_add_name"]);
        assert_eq!(graph.final_state().expect("replay"), before);
        assert_eq!(
            graph
                .get(&out.key())
                .expect("squash")
                .migration
                .migration
                .replaces,
            out.migration.migration.replaces
        );
        assert_eq!(
            sum::check(&p.paths().migrations, &sum::entries(graph.files())),
            vec![]
        );
        assert_eq!(graph.next_number("default"), 5);
    }

    #[test]
    fn a_range_with_from_keeps_its_outside_dependency_and_prefixes_name_migrations() {
        let p = user_project();
        let out = p.squash(Some("0002"), "0004").expect("squash");
        assert_eq!(out.migration.migration.id, "0002_squashed_0004_add_name");
        assert_eq!(out.migration.migration.dependencies, ["0001_initial"]);
        assert_eq!(ids(&out.squashed).len(), 3);
        // AddField email then RemoveField email cancel.
        assert_eq!(out.operations_after, 1);
        // The replaced migrations' prefixes are taken by nothing else: they say so.
        assert!(matches!(
            p.squash(Some("0003"), "0004").unwrap_err(),
            SquashError::AlreadySquashed { .. }
        ));
    }

    #[test]
    fn run_sql_is_carried_over_as_a_barrier_and_reported() {
        let p = Project::new();
        p.write("default", "0001_initial", &[], CREATE_USER);
        p.write("default", "0002_fix_ids", &["0001_initial"], RUN_SQL);
        p.write(
            "default",
            "0003_add_name",
            &["0002_fix_ids"],
            &add_field("name"),
        );
        let out = p.squash(None, "0003_add_name").expect("squash");
        let kinds: Vec<&str> = out
            .migration
            .operations
            .iter()
            .map(Operation::kind)
            .collect();
        assert_eq!(kinds, ["CreateModel", "RunSQL", "AddField"]);
        assert_eq!(out.carried.len(), 1);
        assert_eq!(out.carried[0].migration.id, "0002_fix_ids");
        assert!(
            out.migration
                .migration
                .description
                .contains("carries 1 RunSQL/RunRust")
        );
    }

    #[test]
    fn a_dry_run_writes_nothing() {
        let p = user_project();
        let sum_before = std::fs::read_to_string(sum::path(&p.paths().migrations)).expect("sum");
        let out = squash(
            &p.paths(),
            "default",
            None,
            "0004_add_name",
            &SquashOptions {
                dry_run: true,
                name: Some("compact".into()),
                ..SquashOptions::default()
            },
        )
        .expect("squash");
        assert_eq!(out.migration.migration.id, "0001_compact");
        assert!(!out.written && !out.path.exists());
        assert_eq!(
            std::fs::read_to_string(sum::path(&p.paths().migrations)).expect("sum"),
            sum_before
        );
    }

    #[test]
    fn ranges_that_are_not_one_chain_are_refused() {
        let p = user_project();
        let err = p
            .squash(Some("0004_add_name"), "0002_add_email")
            .unwrap_err();
        assert!(matches!(err, SquashError::NotBefore { .. }), "{err}");
        let err = p
            .squash(Some("0002_add_email"), "0002_add_email")
            .unwrap_err();
        assert!(matches!(err, SquashError::Single(_)), "{err}");
        let err = p.squash(None, "0009").unwrap_err();
        assert!(matches!(err, SquashError::UnknownMigration { .. }), "{err}");
        let err = squash(
            &p.paths(),
            "default",
            None,
            "0004",
            &SquashOptions {
                name: Some("Bad-Name".into()),
                ..SquashOptions::default()
            },
        )
        .unwrap_err();
        assert!(matches!(err, SquashError::Usage(_)), "{err}");

        // Two branches joined by a merge: a range holding one branch and the merge.
        let p = Project::new();
        p.write("default", "0001_initial", &[], CREATE_USER);
        p.write("default", "0002_add_a", &["0001_initial"], &add_field("a"));
        p.write("default", "0002_add_b", &["0001_initial"], &add_field("b"));
        p.write("default", "0003_merge", &["0002_add_a", "0002_add_b"], "");
        let err = p.squash(Some("0002_add_b"), "0003_merge").unwrap_err();
        match &err {
            SquashError::Branch {
                migration,
                outside,
                common,
                ..
            } => {
                assert_eq!(migration, "0003_merge");
                assert_eq!(outside, "0002_add_a");
                assert_eq!(common, "0001_initial");
            }
            other => panic!("{other}"),
        }
        assert!(
            err.to_string()
                .contains("Start the range at `0001_initial`")
        );
        let err = p.squash(None, "0002").unwrap_err();
        assert!(matches!(err, SquashError::Ambiguous { .. }), "{err}");
        // Holding both branches is fine.
        let out = p.squash(None, "0003_merge").expect("both branches");
        assert_eq!(out.squashed.len(), 4);
    }

    #[test]
    fn another_app_between_two_parts_of_the_range_is_refused() {
        let p = user_project();
        p.write("blog", "0001_initial", &["default/0002_add_email"], "");
        // 0004 now needs blog/0001, which needs 0002: squashing 0001..0004 would make the
        // squash and blog/0001 depend on each other.
        p.write(
            "default",
            "0004_add_name",
            &["0003_remove_email", "blog/0001_initial"],
            &add_field("name"),
        );
        let err = p.squash(None, "0004_add_name").unwrap_err();
        match &err {
            SquashError::Interleaved {
                outside,
                before,
                after,
            } => {
                assert_eq!(outside, "blog/0001_initial");
                assert_eq!(before, "0002_add_email");
                assert_eq!(after, "0004_add_name");
            }
            other => panic!("{other}"),
        }
        assert!(err.to_string().contains("would depend on each other"));
        // Up to 0003 is fine; blog/0001's dependency on 0002 then points at the squash.
        let out = p.squash(None, "0003_remove_email").expect("squash");
        let graph = p.graph();
        assert_eq!(
            graph.dependencies(&MigrationKey::new("blog", "0001_initial")),
            [out.key()]
        );
    }

    #[test]
    fn an_app_depending_on_the_middle_of_the_range_follows_the_squash() {
        let p = user_project();
        p.write("blog", "0001_initial", &["default/0002_add_email"], "");
        let out = p.squash(None, "0004_add_name").expect("squash");
        let graph = p.graph();
        assert_eq!(
            graph.dependencies(&MigrationKey::new("blog", "0001_initial")),
            [out.key()]
        );
        // The squash of another app names its dependencies with the app.
        p.write("blog", "0002_more", &["0001_initial"], "");
        let err = p
            .squash_app("blog", None, "0002_more")
            .expect("blog squash");
        assert_eq!(
            err.migration.migration.dependencies,
            [format!("default/{}", out.migration.migration.id)]
        );
    }

    #[test]
    fn squashes_are_squashed_again_once_their_originals_are_gone() {
        let p = user_project();
        let first = p.squash(None, "0003_remove_email").expect("first squash");
        assert_eq!(
            first.migration.migration.id,
            "0001_squashed_0003_remove_email"
        );
        // Naming a replaced migration, or a range holding a squash whose originals are still
        // there, is refused.
        let err = p
            .squash(Some("0002_add_email"), "0004_add_name")
            .unwrap_err();
        assert!(matches!(err, SquashError::AlreadySquashed { .. }), "{err}");
        let err = p.squash(None, "0004_add_name").unwrap_err();
        assert!(matches!(err, SquashError::NestedOriginals { .. }), "{err}");
        for id in ["0001_initial", "0002_add_email", "0003_remove_email"] {
            p.remove("default", id);
        }
        p.write(
            "default",
            "0005_add_bio",
            &["0004_add_name"],
            &add_field("bio"),
        );
        let out = p.squash(None, "0005_add_bio").expect("second squash");
        assert_eq!(out.migration.migration.id, "0001_squashed_0005_add_bio");
        assert_eq!(
            out.migration.migration.replaces,
            [
                "0001_initial",
                "0002_add_email",
                "0003_remove_email",
                "0001_squashed_0003_remove_email",
                "0004_add_name",
                "0005_add_bio"
            ]
        );
        assert_eq!(out.operations_after, 1);
        let err = p.squash(None, "0005_add_bio").unwrap_err();
        assert!(
            matches!(
                err,
                SquashError::AlreadySquashed { .. } | SquashError::Exists(_)
            ),
            "{err}"
        );
    }

    #[test]
    fn files_changed_behind_its_back_stop_it() {
        let p = user_project();
        std::fs::write(
            p.file("default", "0004_add_name"),
            std::fs::read_to_string(p.file("default", "0004_add_name"))
                .expect("read")
                .replace("\"Text\"", "\"Json\""),
        )
        .expect("edit");
        let err = p.squash(None, "0004").unwrap_err();
        assert!(matches!(err, SquashError::Sum(_)), "{err}");
        p.update_sum();
        // A snapshot that does not match the files stops it too.
        snapshot::write(
            &p.path(snapshot::SNAPSHOT_PATH),
            &ProjectState::default(),
            [],
        )
        .expect("snapshot");
        let err = p.squash(None, "0004").unwrap_err();
        assert!(matches!(err, SquashError::SnapshotMismatch { .. }), "{err}");
    }
}
