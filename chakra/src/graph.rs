//! The migration graph: migrations linked by `dependencies`, checked before anything runs.
//!
//! Checks: every dependency exists, no cycles, numbers of each app run from 0001 without gaps
//! (two migrations may share a number), and each app has one leaf. The graph gives a
//! deterministic topological order and replays the operations into schema states.
//!
//! # Squashed migrations
//!
//! A migration with `replaces = [...]` (written by `migrate squash`) stands for the migrations
//! it lists. The graph holds every file but uses, for each squash, either the squash or the
//! migrations it replaces, following Django's rules:
//!
//! - without a database history ([`Graph::new`]: `make`, `sql`, a fresh database) the squash is
//!   used. The replaced migrations leave the graph, whether their files are still there or
//!   already deleted, and every dependency on one of them, from any app, points at the squash;
//! - against a history ([`Graph::resolve`]): when the squash is recorded, or every migration it
//!   replaces is, the squash is used and counts as applied; when none of them is recorded, the
//!   squash is used (and is pending); when only some are, the database continues with the
//!   replaced migrations: the squash leaves the graph and dependencies on it point at its last
//!   replaced migrations. Their files must then exist.
//!
//! A squash may replace an earlier squash whose originals are gone; `migrate squash` then lists
//! that squash's `replaces` too, so that a database which applied the oldest originals is
//! recognised after the intermediate file is deleted.
//!
//! # Examples
//!
//! Build a graph from migrations (here from memory; [`load_migrations`] reads a folder), then
//! ask for its order, its leaves and the schema it produces.
//!
//! [`load_migrations`]: crate::project::load_migrations
//!
//! ```
//! use chakra::graph::{Graph, MigrationKey};
//! use chakra::project::load_embedded;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let initial = r#"
//! migration = { id = "0001_initial", app = "default" }
//! [[operations]]
//! type = "CreateModel"
//! model = "User"
//! table = "users"
//! fields = [{ name = "id", type = "BigInteger", primary_key = true }]
//! "#;
//! let blog = r#"
//! migration = { id = "0001_initial", app = "blog", dependencies = ["default/0001_initial"] }
//! [[operations]]
//! type = "CreateModel"
//! model = "Post"
//! table = "posts"
//! fields = [{ name = "id", type = "BigInteger", primary_key = true }]
//! "#;
//! // Listed blog first: the order follows the dependencies, not the input.
//! let files = load_embedded([("blog/0001_initial.toml", blog), ("0001_initial.toml", initial)])?;
//! let graph = Graph::new(files).map_err(|errors| errors[0].to_string())?;
//!
//! let user = MigrationKey::new("default", "0001_initial");
//! let post = MigrationKey::new("blog", "0001_initial");
//! assert_eq!(graph.order(), [user.clone(), post.clone()]);
//! assert_eq!(graph.leaves()["blog"], post);
//! assert_eq!(graph.dependencies(&post), [user]);
//! assert_eq!(graph.final_state()?.models.len(), 2);
//! # Ok(()) }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::format::{DEFAULT_APP, parse_id};
use crate::project::LoadedMigration;
use crate::state::{ProjectState, StateError, Tables};

/// Identifies a migration: its app and id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MigrationKey {
    /// The app.
    pub app: String,
    /// The id, `NNNN_name`.
    pub id: String,
}

impl MigrationKey {
    /// A key.
    pub fn new(app: impl Into<String>, id: impl Into<String>) -> Self {
        MigrationKey {
            app: app.into(),
            id: id.into(),
        }
    }

    /// Parses a reference written in a migration or on the command line: `ID` (in
    /// `default_app`) or `app/ID`.
    ///
    /// # Examples
    ///
    /// ```
    /// use chakra::graph::MigrationKey;
    ///
    /// let key = MigrationKey::parse("blog/0002_add_post_slug", "default");
    /// assert_eq!(key, MigrationKey::new("blog", "0002_add_post_slug"));
    /// assert_eq!(MigrationKey::parse("0001_initial", "blog").app, "blog");
    /// // Written from app `blog` the reference is the bare id; from elsewhere, `app/ID`.
    /// assert_eq!(key.reference_from("blog"), "0002_add_post_slug");
    /// assert_eq!(key.reference_from("default"), "blog/0002_add_post_slug");
    /// ```
    pub fn parse(reference: &str, default_app: &str) -> MigrationKey {
        match reference.split_once('/') {
            Some((app, id)) => MigrationKey::new(app, id),
            None => MigrationKey::new(default_app, reference),
        }
    }

    /// The reference to this migration as a migration of `app` writes it: the bare id in the
    /// same app, `app/id` otherwise.
    pub fn reference_from(&self, app: &str) -> String {
        if self.app == app {
            self.id.clone()
        } else {
            format!("{}/{}", self.app, self.id)
        }
    }
}

impl fmt::Display for MigrationKey {
    /// `0001_initial` for app `default`, `blog/0001_initial` otherwise.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad` honours width and alignment, so keys line up in tables.
        if self.app == DEFAULT_APP {
            f.pad(&self.id)
        } else {
            f.pad(&format!("{}/{}", self.app, self.id))
        }
    }
}

/// `a, b, c`.
fn list(keys: &[MigrationKey]) -> String {
    keys.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A problem with the graph as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GraphError {
    /// A dependency names a migration that does not exist.
    #[error(
        "migration `{migration}` depends on `{dependency}`, which does not exist; restore the missing file or fix `dependencies`"
    )]
    MissingDependency {
        /// The migration.
        migration: MigrationKey,
        /// The missing dependency.
        dependency: MigrationKey,
    },
    /// Dependencies form a cycle.
    #[error("migrations depend on each other in a cycle: {}; remove one of these dependencies", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join(" -> "))]
    Cycle(Vec<MigrationKey>),
    /// Numbering of an app has a gap.
    #[error(
        "app `{app}` has no migration numbered {missing:04} but has later ones; restore the missing file or renumber the later ones"
    )]
    Gap {
        /// The app.
        app: String,
        /// The missing number.
        missing: u32,
    },
    /// An app has more than one leaf.
    #[error("app `{app}` has {} latest migrations ({}), usually from merging two branches that each added one; run `migrate merge` to join them", leaves.len(), leaves.join(", "))]
    MultipleLeaves {
        /// The app.
        app: String,
        /// The leaves.
        leaves: Vec<String>,
    },
    /// A migration does not apply to the state its dependencies produce.
    #[error(
        "migration `{migration}` does not fit the schema its predecessors produce: {source}. \
         Restore the file from version control, or fix the operation (or the migration's `dependencies`) \
         so that it applies to the schema before it"
    )]
    Replay {
        /// The migration.
        migration: MigrationKey,
        /// What is wrong.
        source: StateError,
    },
    /// The `replaces` list of a squashed migration makes no sense.
    #[error("squashed migration `{migration}`: {reason}; fix its `replaces`")]
    InvalidReplaces {
        /// The squashed migration.
        migration: MigrationKey,
        /// What is wrong.
        reason: String,
    },
    /// A database applied only some of the migrations a squash replaces, so it must continue
    /// with them, but some of their files are gone.
    #[error(
        "this database applied only part of what the squashed migration `{squash}` replaces (applied: {}), so it must \
         continue with the replaced migrations, but the file(s) of {} are gone. Restore them from version control \
         (`git log --diff-filter=D --name-only -- migrations` finds the commit that deleted them), apply, and delete \
         them again only once every database has applied them all",
        list(.applied), list(.missing)
    )]
    SquashNotUsable {
        /// The squash.
        squash: MigrationKey,
        /// The replaced migrations this database applied.
        applied: Vec<MigrationKey>,
        /// The replaced migrations it still needs whose files are gone.
        missing: Vec<MigrationKey>,
    },
    /// A command named a migration that runs as part of a squash here.
    #[error(
        "`{target}` is part of the squashed migration `{squash}`, which runs instead of it here; name `{squash}` or a migration before it"
    )]
    Replaced {
        /// The migration named.
        target: MigrationKey,
        /// The squash that stands for it.
        squash: MigrationKey,
    },
    /// A command named a squash that this database does not use.
    #[error(
        "this database applied only part of what the squashed migration `{target}` replaces, so it runs those migrations \
         instead ({}); name one of them",
        list(.replaced)
    )]
    SquashNotUsed {
        /// The squash named.
        target: MigrationKey,
        /// The migrations it replaces.
        replaced: Vec<MigrationKey>,
    },
}

/// How each squashed migration is resolved.
#[derive(Debug, Clone, Copy)]
enum Choice<'a> {
    /// No history: every squash is used.
    Squashes,
    /// Against a database history: rows fully applied, and rows of any status.
    History {
        applied: &'a BTreeSet<MigrationKey>,
        recorded: &'a BTreeSet<MigrationKey>,
    },
    /// The replaced migrations wherever their files are all present.
    Originals,
}

/// All migrations of a project, checked and ordered.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    /// Every migration file, used or replaced.
    files: BTreeMap<MigrationKey, LoadedMigration>,
    /// Squashed migrations and what they replace, in file order.
    squashes: BTreeMap<MigrationKey, Vec<MigrationKey>>,
    /// For each replaced migration, the innermost squash file that replaces it.
    parents: BTreeMap<MigrationKey, MigrationKey>,
    /// The migrations in the graph (files minus replaced migrations and unused squashes).
    active: BTreeSet<MigrationKey>,
    /// Dependencies of the migrations in the graph, after replacement.
    deps: BTreeMap<MigrationKey, Vec<MigrationKey>>,
    order: Vec<MigrationKey>,
    /// Every migration (file or not) replaced by a squash in use, with that squash.
    replaced_by: BTreeMap<MigrationKey, MigrationKey>,
    /// Squashes not used here (a database applied only part of what they replace).
    unused: BTreeSet<MigrationKey>,
    /// Squashes in use that count as applied because what they replace is.
    applied_through_replaced: BTreeSet<MigrationKey>,
    several_leaves: bool,
}

impl Graph {
    /// Builds and checks the graph, without a history: every squashed migration is used in
    /// place of the migrations it replaces. Every problem found is returned.
    pub fn new(migrations: Vec<LoadedMigration>) -> Result<Graph, Vec<GraphError>> {
        Graph::build(collect(migrations), false, Choice::Squashes)
    }

    /// Builds and checks the graph, accepting apps with several latest migrations (what
    /// `migrate merge` works on). Two migrations of an app may share a number: two branches
    /// that each added one, joined by a merge migration.
    pub fn allowing_several_leaves(
        migrations: Vec<LoadedMigration>,
    ) -> Result<Graph, Vec<GraphError>> {
        Graph::build(collect(migrations), true, Choice::Squashes)
    }

    /// The same files resolved against a database history: `applied` are the migrations
    /// recorded as applied, `recorded` those with a history row of any status. A squash is
    /// used (and counts as applied) when it is applied or everything it replaces is; it is
    /// used (pending) when nothing it replaces is recorded; otherwise the database continues
    /// with the replaced migrations.
    pub fn resolve(
        &self,
        applied: &BTreeSet<MigrationKey>,
        recorded: &BTreeSet<MigrationKey>,
    ) -> Result<Graph, Vec<GraphError>> {
        Graph::build(
            self.files.clone(),
            self.several_leaves,
            Choice::History { applied, recorded },
        )
    }

    /// The same files with every squash whose replaced files are all present set aside for
    /// them (to show the SQL of a replaced migration).
    pub fn with_originals(&self) -> Result<Graph, Vec<GraphError>> {
        Graph::build(self.files.clone(), self.several_leaves, Choice::Originals)
    }

    fn build(
        files: BTreeMap<MigrationKey, LoadedMigration>,
        several_leaves: bool,
        choice: Choice<'_>,
    ) -> Result<Graph, Vec<GraphError>> {
        let mut errors = Vec::new();
        let (squashes, parents) = squash_tree(&files, &mut errors);
        let mut graph = Graph {
            files,
            squashes,
            parents,
            several_leaves,
            ..Graph::default()
        };
        if errors.is_empty() {
            graph.choose(choice, &mut errors);
        }
        if errors.is_empty() {
            graph.link(&mut errors);
        }
        graph.check_numbers(&mut errors);
        if errors.is_empty() {
            match graph.topological_order() {
                Ok(order) => graph.order = order,
                Err(cycle) => errors.push(GraphError::Cycle(cycle)),
            }
        }
        if errors.is_empty() && !several_leaves {
            errors.extend(
                graph
                    .leaves_by_app()
                    .into_iter()
                    .filter(|(_, leaves)| leaves.len() > 1)
                    .map(|(app, leaves)| GraphError::MultipleLeaves {
                        app,
                        leaves: leaves.iter().map(|k| k.id.clone()).collect(),
                    }),
            );
        }
        if errors.is_empty() {
            Ok(graph)
        } else {
            Err(errors)
        }
    }

    /// Decides, squash by squash from the outermost, whether the squash or what it replaces
    /// is used; fills `active`, `replaced_by`, `unused` and `applied_through_replaced`.
    fn choose(&mut self, choice: Choice<'_>, errors: &mut Vec<GraphError>) {
        let mut pending: Vec<MigrationKey> = self
            .squashes
            .keys()
            .filter(|s| !self.parents.contains_key(*s))
            .cloned()
            .collect();
        let mut used = Vec::new();
        while let Some(s) = pending.pop() {
            let use_it = match choice {
                Choice::Squashes => true,
                // The originals only when every one of them (not inside a nested squash)
                // has its file.
                Choice::Originals => self.squashes[&s]
                    .iter()
                    .any(|k| self.parents.get(k) == Some(&s) && !self.files.contains_key(k)),
                Choice::History { applied, recorded } => {
                    if self.complete(&s, applied) {
                        if !applied.contains(&s) {
                            self.applied_through_replaced.insert(s.clone());
                        }
                        true
                    } else {
                        // Nothing it replaces was started: the squash runs (or resumes).
                        !self.closure(&s).iter().any(|k| recorded.contains(k))
                    }
                }
            };
            if use_it {
                used.push(s);
            } else {
                pending.extend(
                    self.squashes[&s]
                        .iter()
                        .filter(|k| {
                            self.squashes.contains_key(*k) && self.parents.get(*k) == Some(&s)
                        })
                        .cloned(),
                );
                self.unused.insert(s);
            }
        }
        for s in used {
            for k in self.closure(&s) {
                self.replaced_by.insert(k, s.clone());
            }
        }
        self.active = self
            .files
            .keys()
            .filter(|k| !self.replaced_by.contains_key(*k) && !self.unused.contains(*k))
            .cloned()
            .collect();
        // An unused squash needs the migrations it replaces.
        if let Choice::History { recorded, .. } = choice {
            for s in &self.unused {
                let missing: Vec<MigrationKey> = self.squashes[s]
                    .iter()
                    .filter(|k| {
                        self.parents.get(*k) == Some(s)
                            && !self.files.contains_key(*k)
                            && !self.replaced_by.contains_key(*k)
                            && !self.unused.contains(*k)
                    })
                    .cloned()
                    .collect();
                if !missing.is_empty() {
                    errors.push(GraphError::SquashNotUsable {
                        squash: s.clone(),
                        applied: self.squashes[s]
                            .iter()
                            .filter(|k| recorded.contains(*k))
                            .cloned()
                            .collect(),
                        missing,
                    });
                }
            }
        }
    }

    /// Whether squash `s` counts as applied: its own row, or every migration it replaces is
    /// covered. A replaced migration is covered when it is applied, when it is a squash that
    /// counts as applied or lies inside one, or when its file is gone, it has no row, and a
    /// migration listed after it is applied (it was replaced by an earlier squash that the
    /// database recorded, or by originals of one).
    fn complete(&self, s: &MigrationKey, applied: &BTreeSet<MigrationKey>) -> bool {
        self.complete_at(s, applied, 0)
    }

    fn complete_at(
        &self,
        s: &MigrationKey,
        applied: &BTreeSet<MigrationKey>,
        depth: usize,
    ) -> bool {
        if applied.contains(s) {
            return true;
        }
        let Some(list) = self.squashes.get(s) else {
            return false;
        };
        if depth > self.squashes.len() {
            return false;
        }
        let done =
            |k: &MigrationKey| applied.contains(k) || self.complete_at(k, applied, depth + 1);
        list.iter().enumerate().all(|(i, k)| {
            done(k)
                || self.inside_complete(k, s, applied, depth)
                || (!self.files.contains_key(k) && list[i + 1..].iter().any(done))
        })
    }

    /// Whether `k` lies inside a squash (below `outer`) that counts as applied.
    fn inside_complete(
        &self,
        k: &MigrationKey,
        outer: &MigrationKey,
        applied: &BTreeSet<MigrationKey>,
        depth: usize,
    ) -> bool {
        let mut cur = self.parents.get(k);
        while let Some(p) = cur {
            if p == outer {
                return false;
            }
            if self.complete_at(p, applied, depth + 1) {
                return true;
            }
            cur = self.parents.get(p);
        }
        false
    }

    /// Everything squash `s` replaces, through the squashes it replaces.
    fn closure(&self, s: &MigrationKey) -> BTreeSet<MigrationKey> {
        let mut out = BTreeSet::new();
        let mut stack: Vec<&MigrationKey> = self.squashes.get(s).into_iter().flatten().collect();
        while let Some(k) = stack.pop() {
            if out.insert(k.clone()) {
                stack.extend(self.squashes.get(k).into_iter().flatten());
            }
        }
        out
    }

    /// What stands for `key` in the graph: itself, the squash replacing it, or, for an unused
    /// squash, the last migrations it replaces. `None` when it is unknown.
    fn representatives(&self, key: &MigrationKey, depth: usize) -> Option<Vec<MigrationKey>> {
        if self.active.contains(key) {
            return Some(vec![key.clone()]);
        }
        if let Some(s) = self.replaced_by.get(key) {
            return Some(vec![s.clone()]);
        }
        if !self.unused.contains(key) || depth > self.squashes.len() {
            return None;
        }
        // The replaced migrations, minus those another of them depends on.
        let mut members: Vec<MigrationKey> = Vec::new();
        for k in &self.squashes[key] {
            for r in self.representatives(k, depth + 1).unwrap_or_default() {
                if !members.contains(&r) {
                    members.push(r);
                }
            }
        }
        let mut parents = BTreeSet::new();
        for m in &members {
            if let Some(file) = self.files.get(m) {
                for d in &file.migration.migration.dependencies {
                    let d = MigrationKey::parse(d, &m.app);
                    if d != *key {
                        parents.extend(self.representatives(&d, depth + 1).unwrap_or_default());
                    }
                }
            }
        }
        Some(
            members
                .into_iter()
                .filter(|m| !parents.contains(m))
                .collect(),
        )
    }

    /// The dependencies of the migrations in the graph, rewritten through replacement.
    fn link(&mut self, errors: &mut Vec<GraphError>) {
        let mut deps = BTreeMap::new();
        for key in &self.active {
            let file = &self.files[key];
            let mut ds: Vec<MigrationKey> = Vec::new();
            for d in &file.migration.migration.dependencies {
                let d = MigrationKey::parse(d, &key.app);
                match self.representatives(&d, 0) {
                    Some(reps) => {
                        for r in reps {
                            if r != *key && !ds.contains(&r) {
                                ds.push(r);
                            }
                        }
                    }
                    None => errors.push(GraphError::MissingDependency {
                        migration: key.clone(),
                        dependency: d,
                    }),
                }
            }
            deps.insert(key.clone(), ds);
        }
        self.deps = deps;
    }

    /// No gaps in the numbers of each app, counting the numbers a squash covers.
    fn check_numbers(&self, errors: &mut Vec<GraphError>) {
        let mut by_app: BTreeMap<&str, BTreeSet<u32>> = BTreeMap::new();
        for key in self.files.keys() {
            if let Some((low, high)) = self.number_range(key) {
                by_app.entry(&key.app).or_default().extend(low..=high);
            }
        }
        for (app, numbers) in &by_app {
            let max = numbers.last().copied().unwrap_or(0);
            for n in 1..=max {
                if !numbers.contains(&n) {
                    errors.push(GraphError::Gap {
                        app: (*app).to_owned(),
                        missing: n,
                    });
                }
            }
        }
    }

    /// The numbers migration `key` covers: its own, and for a squash those of the migrations
    /// it replaces (`0001_squashed_0004_x` covers 1 to 4).
    fn number_range(&self, key: &MigrationKey) -> Option<(u32, u32)> {
        let (own, _) = parse_id(&key.id)?;
        let mut numbers = vec![own];
        numbers.extend(squashed_up_to(&key.id));
        for r in self.squashes.get(key).into_iter().flatten() {
            if r.app == key.app
                && let Some((n, _)) = parse_id(&r.id)
            {
                numbers.push(n);
                numbers.extend(squashed_up_to(&r.id));
            }
        }
        Some((
            numbers.iter().copied().min().unwrap_or(own),
            numbers.iter().copied().max().unwrap_or(own),
        ))
    }

    /// The lowest number migration `key` covers (for a squash, its first replaced number).
    pub fn first_number(&self, key: &MigrationKey) -> u32 {
        self.number_range(key).map_or(0, |(low, _)| low)
    }

    /// The highest number migration `key` covers (for a squash, its last replaced number).
    pub fn last_number(&self, key: &MigrationKey) -> u32 {
        self.number_range(key).map_or(0, |(_, high)| high)
    }

    /// The number of the next migration of `app`: one more than the highest number any file
    /// of the app covers.
    pub fn next_number(&self, app: &str) -> u32 {
        self.files
            .keys()
            .filter(|k| k.app == app)
            .map(|k| self.last_number(k))
            .max()
            .unwrap_or(0)
            + 1
    }

    /// Kahn's algorithm, taking ready migrations in key order so the result is deterministic.
    fn topological_order(&self) -> Result<Vec<MigrationKey>, Vec<MigrationKey>> {
        let mut remaining: BTreeMap<&MigrationKey, usize> =
            self.deps.iter().map(|(k, d)| (k, d.len())).collect();
        let mut dependents: BTreeMap<&MigrationKey, Vec<&MigrationKey>> = BTreeMap::new();
        for (k, ds) in &self.deps {
            for d in ds {
                dependents.entry(d).or_default().push(k);
            }
        }
        let mut ready: BTreeSet<&MigrationKey> = remaining
            .iter()
            .filter(|(_, n)| **n == 0)
            .map(|(k, _)| *k)
            .collect();
        let mut order = Vec::with_capacity(self.active.len());
        while let Some(k) = ready.pop_first() {
            order.push(k.clone());
            remaining.remove(k);
            for d in dependents.get(k).into_iter().flatten() {
                let n = remaining.get_mut(d).expect("dependents are nodes");
                *n -= 1;
                if *n == 0 {
                    ready.insert(d);
                }
            }
        }
        if remaining.is_empty() {
            return Ok(order);
        }
        // Walk dependencies inside the remainder until a node repeats: that is a cycle.
        let start = *remaining.keys().next().expect("non-empty");
        let mut path = vec![start.clone()];
        let mut seen = BTreeSet::from([start]);
        let mut cur = start;
        loop {
            let next = self.deps[cur]
                .iter()
                .find(|d| remaining.contains_key(d))
                .expect("a node left by Kahn's algorithm has an unresolved dependency");
            if !seen.insert(next) {
                let from = path.iter().position(|k| k == next).unwrap_or(0);
                let mut cycle = path.split_off(from);
                cycle.push(next.clone());
                return Err(cycle);
            }
            path.push(next.clone());
            cur = next;
        }
    }

    fn leaves_by_app(&self) -> BTreeMap<String, Vec<&MigrationKey>> {
        let mut has_same_app_dependent = BTreeSet::new();
        for (k, ds) in &self.deps {
            for d in ds {
                if d.app == k.app {
                    has_same_app_dependent.insert(d);
                }
            }
        }
        let mut out: BTreeMap<String, Vec<&MigrationKey>> = BTreeMap::new();
        for k in &self.active {
            if !has_same_app_dependent.contains(k) {
                out.entry(k.app.clone()).or_default().push(k);
            }
        }
        out
    }

    /// The latest migrations of each app (one, unless branches need merging).
    pub fn all_leaves(&self) -> BTreeMap<String, Vec<MigrationKey>> {
        self.leaves_by_app()
            .into_iter()
            .map(|(app, l)| (app, l.into_iter().cloned().collect()))
            .collect()
    }

    /// The newest migration of each app.
    pub fn leaves(&self) -> BTreeMap<String, MigrationKey> {
        self.leaves_by_app()
            .into_iter()
            .filter_map(|(app, l)| l.first().map(|k| (app, (*k).clone())))
            .collect()
    }

    /// Every migration in the graph in an order where dependencies come first.
    pub fn order(&self) -> &[MigrationKey] {
        &self.order
    }

    /// The migration `key`, when it is in the graph (not replaced here).
    pub fn get(&self, key: &MigrationKey) -> Option<&LoadedMigration> {
        if self.active.contains(key) {
            self.files.get(key)
        } else {
            None
        }
    }

    /// The file of migration `key`, in the graph or replaced.
    pub fn file(&self, key: &MigrationKey) -> Option<&LoadedMigration> {
        self.files.get(key)
    }

    /// Every migration file, in the graph or replaced, sorted by key (what `chakra.sum`
    /// lists).
    pub fn files(&self) -> impl Iterator<Item = &LoadedMigration> {
        self.files.values()
    }

    /// The keys of every migration file, sorted.
    pub fn file_keys(&self) -> impl Iterator<Item = &MigrationKey> {
        self.files.keys()
    }

    /// What squashed migration `key` replaces, as its file lists it (empty for other
    /// migrations).
    pub fn replaces(&self, key: &MigrationKey) -> &[MigrationKey] {
        self.squashes.get(key).map_or(&[], Vec::as_slice)
    }

    /// Everything squashed migration `key` replaces, through the squashes it replaces.
    pub fn replaced_closure(&self, key: &MigrationKey) -> BTreeSet<MigrationKey> {
        self.closure(key)
    }

    /// The squash in use that stands for `key` here, when `key` is replaced.
    pub fn replaced_by(&self, key: &MigrationKey) -> Option<&MigrationKey> {
        self.replaced_by.get(key)
    }

    /// The innermost squash file that lists `key` in its `replaces`, whichever is used.
    pub fn replacing_squash(&self, key: &MigrationKey) -> Option<&MigrationKey> {
        self.parents.get(key)
    }

    /// Squashed migrations that are not used here: the database applied only part of what
    /// they replace.
    pub fn unused_squashes(&self) -> &BTreeSet<MigrationKey> {
        &self.unused
    }

    /// Squashes in use that count as applied without a row of their own, because the
    /// database applied everything they replace.
    pub fn applied_through_replaced(&self) -> &BTreeSet<MigrationKey> {
        &self.applied_through_replaced
    }

    /// Checks that a migration named by a command (a target) can be used here: an error when
    /// it runs as part of a squash, or is a squash this database does not use.
    pub fn check_target(&self, key: &MigrationKey) -> Result<(), GraphError> {
        if let Some(squash) = self.replaced_by.get(key) {
            return Err(GraphError::Replaced {
                target: key.clone(),
                squash: squash.clone(),
            });
        }
        if self.unused.contains(key) {
            return Err(GraphError::SquashNotUsed {
                target: key.clone(),
                replaced: self.squashes[key].clone(),
            });
        }
        Ok(())
    }

    /// Number of migrations in the graph.
    pub fn len(&self) -> usize {
        self.active.len()
    }

    /// True when there are no migrations.
    pub fn is_empty(&self) -> bool {
        self.active.is_empty()
    }

    /// The direct dependencies of `key`, after replacement.
    pub fn dependencies(&self, key: &MigrationKey) -> &[MigrationKey] {
        self.deps.get(key).map_or(&[], Vec::as_slice)
    }

    /// `key` and everything it depends on, transitively.
    pub fn ancestors(&self, key: &MigrationKey) -> BTreeSet<MigrationKey> {
        let mut out = BTreeSet::new();
        let mut stack = vec![key.clone()];
        while let Some(k) = stack.pop() {
            if out.insert(k.clone()) {
                stack.extend(self.dependencies(&k).iter().cloned());
            }
        }
        out
    }

    /// `key` and everything that depends on it, transitively.
    pub fn descendants(&self, key: &MigrationKey) -> BTreeSet<MigrationKey> {
        let mut out = BTreeSet::from([key.clone()]);
        // The order puts dependencies first, so one pass finds every descendant.
        for k in &self.order {
            if self.dependencies(k).iter().any(|d| out.contains(d)) {
                out.insert(k.clone());
            }
        }
        out
    }

    /// Replays every migration in order. Returns the final state and, for each migration in
    /// `wanted`, the state just before it (only those are kept: states are large).
    pub fn replay(
        &self,
        wanted: &BTreeSet<MigrationKey>,
    ) -> Result<(ProjectState, BTreeMap<MigrationKey, ProjectState>), GraphError> {
        let mut state = ProjectState::default();
        let mut tables = Tables::default();
        let mut before = BTreeMap::new();
        for key in &self.order {
            if wanted.contains(key) {
                before.insert(key.clone(), state.clone());
            }
            self.apply_file(key, &mut state, &mut tables)?;
        }
        Ok((state, before))
    }

    /// Applies the operations of migration `key` (one of [`order`](Self::order)) to `state`,
    /// keeping `tables`, the index of its table names, up to date.
    pub(crate) fn apply_file(
        &self,
        key: &MigrationKey,
        state: &mut ProjectState,
        tables: &mut Tables,
    ) -> Result<(), GraphError> {
        let file = self
            .files
            .get(key)
            .expect("every migration in the order has a file");
        for op in &file.migration.operations {
            state
                .apply_tracking(&key.app, op, Some(&mut *tables))
                .map_err(|source| GraphError::Replay {
                    migration: key.clone(),
                    source,
                })?;
        }
        Ok(())
    }

    /// The state after every migration.
    pub fn final_state(&self) -> Result<ProjectState, GraphError> {
        Ok(self.replay(&BTreeSet::new())?.0)
    }
}

/// The files by key.
fn collect(migrations: Vec<LoadedMigration>) -> BTreeMap<MigrationKey, LoadedMigration> {
    migrations
        .into_iter()
        .map(|m| (MigrationKey::new(m.app(), m.id()), m))
        .collect()
}

/// `MMMM` of an id named `NNNN_squashed_MMMM_...`.
fn squashed_up_to(id: &str) -> Option<u32> {
    let (_, name) = parse_id(id)?;
    let rest = name.strip_prefix("squashed_")?;
    let digits = rest.get(..4)?;
    let after = &rest[4..];
    if digits.bytes().all(|b| b.is_ascii_digit()) && (after.is_empty() || after.starts_with('_')) {
        digits.parse().ok()
    } else {
        None
    }
}

/// The squashes of `files` with what they replace, and for each replaced migration the
/// innermost squash replacing it. Squashes must nest: a migration replaced by two squashes is
/// an error unless one of them replaces the other.
#[allow(clippy::type_complexity)]
fn squash_tree(
    files: &BTreeMap<MigrationKey, LoadedMigration>,
    errors: &mut Vec<GraphError>,
) -> (
    BTreeMap<MigrationKey, Vec<MigrationKey>>,
    BTreeMap<MigrationKey, MigrationKey>,
) {
    let mut squashes: BTreeMap<MigrationKey, Vec<MigrationKey>> = BTreeMap::new();
    for (key, m) in files {
        let replaces = &m.migration.migration.replaces;
        if replaces.is_empty() {
            continue;
        }
        let mut list: Vec<MigrationKey> = Vec::new();
        for r in replaces {
            let k = MigrationKey::parse(r, &key.app);
            if !list.contains(&k) {
                list.push(k);
            }
        }
        if list.contains(key) {
            errors.push(GraphError::InvalidReplaces {
                migration: key.clone(),
                reason: "it lists itself".to_owned(),
            });
            continue;
        }
        squashes.insert(key.clone(), list);
    }
    // Everything each squash replaces, through nested squashes; a squash inside its own
    // closure is a cycle.
    let mut closures: BTreeMap<&MigrationKey, BTreeSet<&MigrationKey>> = BTreeMap::new();
    for s in squashes.keys() {
        let mut out = BTreeSet::new();
        let mut stack: Vec<&MigrationKey> = squashes[s].iter().collect();
        while let Some(k) = stack.pop() {
            if out.insert(k) {
                stack.extend(squashes.get(k).into_iter().flatten());
            }
        }
        if out.contains(s) {
            errors.push(GraphError::InvalidReplaces {
                migration: s.clone(),
                reason: "it replaces, through other squashed migrations, itself".to_owned(),
            });
        }
        closures.insert(s, out);
    }
    if !errors.is_empty() {
        return (squashes, BTreeMap::new());
    }
    let mut replacers: BTreeMap<&MigrationKey, Vec<&MigrationKey>> = BTreeMap::new();
    for (s, list) in &squashes {
        for k in list {
            replacers.entry(k).or_default().push(s);
        }
    }
    let mut parents = BTreeMap::new();
    for (k, rs) in replacers {
        // The innermost: the one no other replacer of `k` lies inside.
        let inner: Vec<&MigrationKey> = rs
            .iter()
            .filter(|r| !rs.iter().any(|o| o != *r && closures[*r].contains(o)))
            .copied()
            .collect();
        let nested = rs
            .iter()
            .all(|r| inner.iter().all(|i| i == r || closures[r].contains(i)));
        match inner.as_slice() {
            [one] if nested => {
                parents.insert(k.clone(), (*one).clone());
            }
            _ => errors.push(GraphError::InvalidReplaces {
                migration: rs[0].clone(),
                reason: format!(
                    "`{k}` is replaced by both `{}` and `{}`, and neither replaces the other",
                    rs[0],
                    rs.get(1).unwrap_or(&rs[0])
                ),
            }),
        }
    }
    (squashes, parents)
}
#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::format::{FORMAT_VERSION, Header, Migration};

    fn mig(app: &str, id: &str, deps: &[&str]) -> LoadedMigration {
        LoadedMigration::new(
            Migration {
                migration: Header {
                    id: id.to_owned(),
                    app: app.to_owned(),
                    created_at: None,
                    dependencies: deps.iter().map(|d| (*d).to_owned()).collect(),
                    description: String::new(),
                    atomic: true,
                    replaces: Vec::new(),
                    format: FORMAT_VERSION,
                },
                operations: Vec::new(),
            },
            PathBuf::from(format!("{app}/{id}.toml")),
        )
    }

    fn squash(app: &str, id: &str, deps: &[&str], replaces: &[&str]) -> LoadedMigration {
        let mut m = mig(app, id, deps);
        m.migration.migration.replaces = replaces.iter().map(|r| (*r).to_owned()).collect();
        LoadedMigration::new(m.migration, m.path)
    }

    fn k(id: &str) -> MigrationKey {
        MigrationKey::parse(id, "default")
    }

    fn set(ids: &[&str]) -> BTreeSet<MigrationKey> {
        ids.iter().map(|i| k(i)).collect()
    }

    const SQUASH: &str = "0001_squashed_0003_c";

    /// 0001_a <- 0002_b <- 0003_c <- 0004_d, the squash of 0001..0003, and blog/0001_x
    /// depending on the middle of the squashed range.
    fn squashed(originals: bool) -> Vec<LoadedMigration> {
        let mut out = vec![
            squash("default", SQUASH, &[], &["0001_a", "0002_b", "0003_c"]),
            mig("default", "0004_d", &["0003_c"]),
            mig("blog", "0001_x", &["default/0002_b"]),
        ];
        if originals {
            out.extend([
                mig("default", "0001_a", &[]),
                mig("default", "0002_b", &["0001_a"]),
                mig("default", "0003_c", &["0002_b"]),
            ]);
        }
        out
    }

    #[test]
    fn without_history_the_squash_replaces_its_migrations_and_dependencies_on_them() {
        for originals in [true, false] {
            let g = Graph::new(squashed(originals)).expect("valid");
            assert_eq!(keys(g.order()), [SQUASH, "blog/0001_x", "0004_d"]);
            assert_eq!(keys(g.dependencies(&k("0004_d"))), [SQUASH]);
            assert_eq!(keys(g.dependencies(&k("blog/0001_x"))), [SQUASH]);
            assert_eq!(g.leaves()["default"], k("0004_d"));
            assert_eq!(g.replaced_by(&k("0002_b")), Some(&k(SQUASH)));
            assert!(g.get(&k("0002_b")).is_none());
            assert_eq!(g.file(&k("0002_b")).is_some(), originals);
            assert_eq!(g.files().count(), if originals { 6 } else { 3 });
            assert_eq!(g.next_number("default"), 5);
            assert_eq!(g.replacing_squash(&k("0001_a")), Some(&k(SQUASH)));
            assert!(matches!(
                g.check_target(&k("0002_b")),
                Err(GraphError::Replaced { .. })
            ));
        }
    }

    #[test]
    fn numbering_counts_what_a_squash_covers() {
        // Originals deleted: 0002 and 0003 are covered by the squash, whatever its name.
        let g = Graph::new(vec![
            squash(
                "default",
                "0001_compact",
                &[],
                &["0001_a", "0002_b", "0003_c"],
            ),
            mig("default", "0004_d", &["0003_c"]),
        ])
        .expect("no gap");
        assert_eq!(g.next_number("default"), 5);
        assert_eq!(g.last_number(&k("0001_compact")), 3);
        assert_eq!(g.first_number(&k("0001_compact")), 1);
        // The squash alone is the leaf: the next migration is 0004.
        let g = Graph::new(vec![squash(
            "default",
            SQUASH,
            &[],
            &["0001_a", "0002_b", "0003_c"],
        )])
        .expect("valid");
        assert_eq!(g.next_number("default"), 4);
        assert_eq!(squashed_up_to("0001_squashed_0004_add_x"), Some(4));
        assert_eq!(squashed_up_to("0001_squashed_items"), None);
    }

    #[test]
    fn against_a_history_the_squash_is_used_when_all_or_none_is_applied() {
        let g = Graph::new(squashed(true)).expect("valid");
        // All replaced applied: the squash counts as applied without a row of its own.
        let all = set(&["0001_a", "0002_b", "0003_c"]);
        let r = g.resolve(&all, &all).expect("resolves");
        assert_eq!(keys(r.order()), [SQUASH, "blog/0001_x", "0004_d"]);
        assert!(r.applied_through_replaced().contains(&k(SQUASH)));
        // None applied: the squash is used and pending.
        let r = g
            .resolve(&BTreeSet::new(), &BTreeSet::new())
            .expect("resolves");
        assert_eq!(keys(r.order()), [SQUASH, "blog/0001_x", "0004_d"]);
        assert!(r.applied_through_replaced().is_empty());
        // The squash itself recorded: used, applied through its own row.
        let own = set(&[SQUASH, "0004_d"]);
        let r = g.resolve(&own, &own).expect("resolves");
        assert_eq!(r.order().len(), 3);
        assert!(r.applied_through_replaced().is_empty());
    }

    #[test]
    fn a_partly_applied_squash_gives_way_to_what_it_replaces() {
        let mut files = squashed(true);
        // A migration made after the squash depends on it.
        files.push(mig(
            "blog",
            "0002_y",
            &["0001_x", &format!("default/{SQUASH}")],
        ));
        let g = Graph::new(files).expect("valid");
        let applied = set(&["0001_a"]);
        let r = g.resolve(&applied, &applied).expect("resolves");
        assert_eq!(
            keys(r.order()),
            [
                "0001_a",
                "0002_b",
                "blog/0001_x",
                "0003_c",
                "blog/0002_y",
                "0004_d"
            ]
        );
        assert_eq!(keys(r.dependencies(&k("blog/0001_x"))), ["0002_b"]);
        // Dependencies on the squash point at its last replaced migration.
        assert_eq!(
            keys(r.dependencies(&k("blog/0002_y"))),
            ["blog/0001_x", "0003_c"]
        );
        assert!(r.unused_squashes().contains(&k(SQUASH)));
        assert!(matches!(
            r.check_target(&k(SQUASH)),
            Err(GraphError::SquashNotUsed { .. })
        ));
        assert!(r.check_target(&k("0002_b")).is_ok());
        // A migration that failed part-way counts as started: the originals go on.
        let r = g
            .resolve(&BTreeSet::new(), &set(&["0001_a"]))
            .expect("resolves");
        assert!(r.get(&k("0001_a")).is_some());
        // The same with the originals deleted cannot go on, and says why.
        let errs = Graph::new(squashed(false))
            .expect("valid")
            .resolve(&applied, &applied)
            .unwrap_err();
        match &errs[0] {
            GraphError::SquashNotUsable {
                squash,
                applied,
                missing,
            } => {
                assert_eq!(squash, &k(SQUASH));
                assert_eq!(keys(applied), ["0001_a"]);
                // Applied ones too: the schema before the others is replayed from them.
                assert_eq!(keys(missing), ["0001_a", "0002_b", "0003_c"]);
            }
            other => panic!("{other}"),
        }
        assert!(
            errs[0]
                .to_string()
                .contains("Restore them from version control")
        );
    }

    #[test]
    fn with_originals_sets_squashes_aside_where_their_files_exist() {
        let g = Graph::new(squashed(true)).expect("valid");
        let o = g.with_originals().expect("valid");
        assert!(o.get(&k("0002_b")).is_some() && o.get(&k(SQUASH)).is_none());
        let g = Graph::new(squashed(false)).expect("valid");
        let o = g.with_originals().expect("valid");
        assert!(o.get(&k(SQUASH)).is_some());
    }

    #[test]
    fn a_squash_of_a_squash_recognises_every_history() {
        let s2 = "0001_squashed_0004_d";
        let files = vec![
            squash(
                "default",
                s2,
                &[],
                &["0001_a", "0002_b", "0003_c", SQUASH, "0004_d"],
            ),
            mig("default", "0005_e", &["0004_d"]),
        ];
        let g = Graph::new(files).expect("valid");
        assert_eq!(keys(g.order()), [s2, "0005_e"]);
        for history in [
            &["0001_a", "0002_b", "0003_c", "0004_d"][..],
            &[SQUASH, "0004_d"],
            &[s2],
        ] {
            let h = set(history);
            let r = g.resolve(&h, &h).expect("resolves");
            assert_eq!(keys(r.order()), [s2, "0005_e"], "{history:?}");
            assert_eq!(
                r.applied_through_replaced().contains(&k(s2)),
                !h.contains(&k(s2))
            );
        }
        let partial = set(&[SQUASH]);
        assert!(matches!(
            &g.resolve(&partial, &partial).unwrap_err()[0],
            GraphError::SquashNotUsable { .. }
        ));
        // While the first squash's file is there, a database that applied its originals and
        // not 0004_d continues with the first squash.
        let mut files = vec![
            squash(
                "default",
                s2,
                &[],
                &["0001_a", "0002_b", "0003_c", SQUASH, "0004_d"],
            ),
            squash("default", SQUASH, &[], &["0001_a", "0002_b", "0003_c"]),
            mig("default", "0004_d", &[SQUASH]),
        ];
        files.push(mig("default", "0005_e", &["0004_d"]));
        let g = Graph::new(files).expect("valid");
        assert_eq!(keys(g.order()), [s2, "0005_e"]);
        let h = set(&["0001_a", "0002_b", "0003_c"]);
        let r = g.resolve(&h, &h).expect("resolves");
        assert_eq!(keys(r.order()), [SQUASH, "0004_d", "0005_e"]);
        assert!(r.applied_through_replaced().contains(&k(SQUASH)));
    }

    #[test]
    fn replaces_lists_that_make_no_sense_are_reported() {
        let errs = Graph::new(vec![
            mig("default", "0001_a", &[]),
            squash("default", "0001_s", &[], &["0001_a", "0001_s"]),
        ])
        .unwrap_err();
        assert!(errs[0].to_string().contains("lists itself"), "{}", errs[0]);
        let errs = Graph::new(vec![
            mig("default", "0001_a", &[]),
            squash("default", "0001_s", &[], &["0001_a"]),
            squash("default", "0001_t", &[], &["0001_a"]),
        ])
        .unwrap_err();
        assert!(
            errs[0].to_string().contains("neither replaces the other"),
            "{}",
            errs[0]
        );
    }

    fn keys(v: &[MigrationKey]) -> Vec<String> {
        v.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn orders_dependencies_first_across_apps() {
        let g = Graph::new(vec![
            mig("default", "0002_b", &["0001_a", "blog/0001_initial"]),
            mig("default", "0001_a", &[]),
            mig("blog", "0001_initial", &["0001_a"]),
        ]);
        // `0001_a` in blog's deps means blog's own 0001_a: missing.
        assert!(matches!(
            &g.unwrap_err()[0],
            GraphError::MissingDependency { .. }
        ));

        let g = Graph::new(vec![
            mig("default", "0002_b", &["0001_a", "blog/0001_initial"]),
            mig("default", "0001_a", &[]),
            mig("blog", "0001_initial", &["default/0001_a"]),
        ])
        .expect("valid");
        assert_eq!(keys(g.order()), ["0001_a", "blog/0001_initial", "0002_b"]);
        assert_eq!(g.leaves()["default"].id, "0002_b");
        assert_eq!(
            keys(
                &g.ancestors(&MigrationKey::new("default", "0002_b"))
                    .into_iter()
                    .collect::<Vec<_>>()
            ),
            ["blog/0001_initial", "0001_a", "0002_b"]
        );
        assert_eq!(
            g.descendants(&MigrationKey::new("blog", "0001_initial"))
                .len(),
            2
        );
    }

    #[test]
    fn reports_cycles_with_their_path() {
        let errs = Graph::new(vec![
            mig("default", "0001_a", &["0002_b"]),
            mig("default", "0002_b", &["0001_a"]),
        ])
        .unwrap_err();
        match &errs[0] {
            GraphError::Cycle(path) => {
                assert_eq!(path.first(), path.last());
                assert_eq!(path.len(), 3);
            }
            other => panic!("expected a cycle, got {other}"),
        }
        assert!(
            errs[0].to_string().contains("0001_a -> 0002_b -> 0001_a")
                || errs[0].to_string().contains("0002_b -> 0001_a -> 0002_b")
        );
    }

    #[test]
    fn reports_gaps_duplicates_and_two_leaves() {
        let errs = Graph::new(vec![
            mig("default", "0001_a", &[]),
            mig("default", "0003_c", &["0001_a"]),
        ])
        .unwrap_err();
        assert_eq!(
            errs,
            vec![GraphError::Gap {
                app: "default".into(),
                missing: 2
            }]
        );

        // Two branches that each added 0002: two leaves, joined by a merge migration.
        let branches = || {
            vec![
                mig("default", "0001_a", &[]),
                mig("default", "0002_b", &["0001_a"]),
                mig("default", "0002_c", &["0001_a"]),
            ]
        };
        let errs = Graph::new(branches()).unwrap_err();
        assert!(
            matches!(&errs[0], GraphError::MultipleLeaves { .. }),
            "{errs:?}"
        );
        assert!(errs[0].to_string().contains("migrate merge"), "{}", errs[0]);
        let mut merged = branches();
        merged.push(mig("default", "0003_merge", &["0002_b", "0002_c"]));
        assert!(Graph::new(merged).is_ok());
        assert_eq!(
            Graph::allowing_several_leaves(branches())
                .expect("ok")
                .all_leaves()["default"]
                .len(),
            2
        );

        let errs = Graph::new(vec![
            mig("default", "0001_a", &[]),
            mig("default", "0002_b", &["0001_a"]),
            mig("default", "0003_c", &["0001_a"]),
        ])
        .unwrap_err();
        assert!(
            matches!(&errs[0], GraphError::MultipleLeaves { leaves, .. } if leaves.len() == 2),
            "{errs:?}"
        );
        assert!(errs[0].to_string().contains("0002_b, 0003_c"));
    }

    #[test]
    fn keys_display_and_parse() {
        assert_eq!(
            MigrationKey::parse("0001_a", "default").to_string(),
            "0001_a"
        );
        assert_eq!(
            MigrationKey::parse("blog/0001_a", "default").to_string(),
            "blog/0001_a"
        );
        assert_eq!(
            MigrationKey::parse("0001_a", "blog"),
            MigrationKey::new("blog", "0001_a")
        );
    }
}
