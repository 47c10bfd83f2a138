//! Reading and writing the migration files of a project.
//!
//! Layout: migrations of app `default` live directly in the migrations folder, other apps in
//! `<folder>/<app>/`. Files are `NNNN_name.toml`. Everything else in those folders is ignored
//! except other `.toml` files, which are reported so that a misnamed migration is not skipped.
//!
//! # Examples
//!
//! ```
//! use chakra::project::{ProjectError, app_dir, load_migrations, write_atomic};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let root = tempfile::tempdir()?;
//! let migrations = root.path().join("migrations");
//! assert!(load_migrations(&migrations)?.is_empty()); // no folder yet: an empty project
//!
//! let blog = app_dir(&migrations, "blog");
//! assert_eq!(blog, migrations.join("blog"));
//! write_atomic(&blog.join("0001_initial.toml"), "migration = { id = \"0001_initial\", app = \"blog\" }\n")?;
//! let loaded = load_migrations(&migrations)?;
//! assert_eq!((loaded[0].app(), loaded[0].id()), ("blog", "0001_initial"));
//! assert_eq!(loaded[0].checksum, loaded[0].migration.checksum());
//!
//! // A file whose name and id disagree is refused.
//! write_atomic(&blog.join("0002_tags.toml"), "migration = { id = \"0002_tag\", app = \"blog\" }\n")?;
//! assert!(matches!(load_migrations(&migrations), Err(ProjectError::Invalid(_))));
//! # Ok(()) }
//! ```

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::format::{DEFAULT_APP, FormatError, Migration, parse_id};

/// A migration file read from disk.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedMigration {
    /// The parsed file.
    pub migration: Migration,
    /// Where it was read from.
    pub path: PathBuf,
    /// SHA-256 of its canonical form.
    pub checksum: String,
}

impl LoadedMigration {
    /// Wraps a migration that has not been written yet (or comes from memory).
    pub fn new(migration: Migration, path: PathBuf) -> Self {
        let checksum = migration.checksum();
        LoadedMigration {
            migration,
            path,
            checksum,
        }
    }

    /// The app.
    pub fn app(&self) -> &str {
        &self.migration.migration.app
    }

    /// The id.
    pub fn id(&self) -> &str {
        &self.migration.migration.id
    }
}

/// Problems reading the migration folder.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProjectError {
    /// The folder or a file could not be read or written.
    #[error("cannot access `{}`: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// One or more files are invalid; every one is listed.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<FormatError>),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> ProjectError + '_ {
    move |source| ProjectError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The folder holding the migrations of `app` under `root`.
pub fn app_dir(root: &Path, app: &str) -> PathBuf {
    if app == DEFAULT_APP {
        root.to_owned()
    } else {
        root.join(app)
    }
}

/// Reads every migration under `root`, sorted by (app, id). A missing folder is an empty
/// project. All invalid files are reported together.
///
/// Files are parsed on every core: parsing is most of what a command that needs no database
/// (or finds nothing to do) spends its time on in a project with many models.
pub fn load_migrations(root: &Path) -> Result<Vec<LoadedMigration>, ProjectError> {
    if !root.exists() {
        return Ok(Vec::new());
    }
    let mut files = Vec::new();
    list_app_dir(root, DEFAULT_APP, &mut files)?;
    let mut subdirs = Vec::new();
    for entry in fs::read_dir(root).map_err(io_err(root))? {
        let entry = entry.map_err(io_err(root))?;
        let path = entry.path();
        if path.is_dir() {
            subdirs.push(path);
        }
    }
    subdirs.sort();
    for dir in subdirs {
        let Some(app) = dir.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            continue;
        };
        if app.starts_with('.') {
            continue;
        }
        list_app_dir(&dir, &app, &mut files)?;
    }
    let mut out = Vec::with_capacity(files.len());
    let mut errors = Vec::new();
    for loaded in parallel_map(&files, |(app, path)| load_file(app, path)) {
        match loaded? {
            Ok(m) => out.push(m),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(ProjectError::Invalid(errors));
    }
    out.sort_by(|a, b| (a.app(), a.id()).cmp(&(b.app(), b.id())));
    Ok(out)
}

/// Adds the migration files of `app` in `dir` to `files` as `(app, path)`, sorted by path.
fn list_app_dir(
    dir: &Path,
    app: &str,
    files: &mut Vec<(String, PathBuf)>,
) -> Result<(), ProjectError> {
    let mut paths = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err(dir))? {
        let path = entry.map_err(io_err(dir))?.path();
        if path.is_file() && path.extension().is_some_and(|e| e == "toml") {
            paths.push(path);
        }
    }
    paths.sort();
    files.extend(paths.into_iter().map(|p| (app.to_owned(), p)));
    Ok(())
}

/// Reads and parses one migration file: an I/O error stops loading, an invalid file is
/// reported with the others.
fn load_file(app: &str, path: &Path) -> Result<Result<LoadedMigration, FormatError>, ProjectError> {
    let bytes = fs::read(path).map_err(io_err(path))?;
    let Ok(text) = String::from_utf8(bytes) else {
        return Ok(Err(FormatError {
            path: path.to_owned(),
            location: None,
            message: "the file is not valid UTF-8".to_owned(),
            snippet: None,
        }));
    };
    Ok(load_text(path, app, &text))
}

/// `f` over `items` on up to one thread per core, results in the order of `items`. Items go
/// out one at a time, since their sizes differ widely (an initial migration can be most of a
/// project).
fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(items.len());
    if threads <= 1 {
        return items.iter().map(f).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<Option<R>> = items.iter().map(|_| None).collect();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(item) = items.get(i) else {
                            return done;
                        };
                        done.push((i, f(item)));
                    }
                })
            })
            .collect();
        for worker in workers {
            let done = worker
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            for (i, r) in done {
                results[i] = Some(r);
            }
        }
    });
    results
        .into_iter()
        .map(|r| r.expect("every item was handed to a thread"))
        .collect()
}

/// Parses the migration file `path` of `app` from its `text`, checking that its name, id and
/// app agree.
fn load_text(path: &Path, app: &str, text: &str) -> Result<LoadedMigration, FormatError> {
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_owned();
    let fail = |message: String| FormatError {
        path: path.to_owned(),
        location: None,
        message,
        snippet: None,
    };
    if parse_id(&stem).is_none() {
        return Err(fail(
            "not a migration file name: names look like `0001_initial.toml` (four digits, `_`, lowercase name); rename or move the file".to_owned(),
        ));
    }
    let migration = Migration::parse(path, text)?;
    if migration.migration.id != stem {
        return Err(fail(format!(
            "the file is named `{stem}` but its id is `{}`; make them equal",
            migration.migration.id
        )));
    }
    if migration.migration.app != app {
        return Err(fail(format!(
            "the file is in the folder of app `{app}` but says app = \"{}\"; move it to the right folder or fix `app`",
            migration.migration.app
        )));
    }
    Ok(LoadedMigration::new(migration, path.to_owned()))
}

/// Reads migrations from memory (files compiled into a binary by `embed_migrations!`):
/// `(path, text)` pairs with paths relative to the migrations folder (`0001_initial.toml`,
/// `blog/0001_initial.toml`), checked like [`load_migrations`] checks files on disk and
/// sorted the same way. All invalid files are reported together.
pub fn load_embedded<'a>(
    files: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<Vec<LoadedMigration>, ProjectError> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (path, text) in files {
        let path = Path::new(path);
        let app = match path.parent().and_then(|p| p.to_str()) {
            None | Some("") => DEFAULT_APP,
            Some(app) => app,
        };
        match load_text(path, app, text) {
            Ok(m) => out.push(m),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(ProjectError::Invalid(errors));
    }
    out.sort_by(|a, b| (a.app(), a.id()).cmp(&(b.app(), b.id())));
    Ok(out)
}

/// Writes `text` to `path` atomically (a temporary file renamed over the target), creating
/// parent folders, so that an interrupted write never leaves half a file.
pub fn write_atomic(path: &Path, text: &str) -> Result<(), ProjectError> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(io_err(parent))?;
    }
    let tmp = path.with_extension("toml.tmp");
    fs::write(&tmp, text).map_err(io_err(&tmp))?;
    fs::rename(&tmp, path).map_err(io_err(path))
}
