//! `migrations/chakra.sum`: every migration file with its checksum, and a cumulative hash.
//!
//! ```text
//! # chakra.sum: checksums of the migration files, written by `migrate make`. Do not edit.
//! total 3f5c…
//! 0001_initial.toml 8a1e…
//! blog/0001_initial.toml 77c0…
//! ```
//!
//! The `total` line hashes every entry, so two branches that each add a migration both change
//! it and conflict when merged, and a file added, removed or edited behind Chakra's back is
//! caught without a database (`migrate verify`). Checksums are the migrations' canonical
//! checksums (the ones recorded in the history), so line ends and comments do not matter.
//!
//! # Examples
//!
//! Render the sum file of some migrations, then catch a file edited behind its back:
//!
//! ```
//! use chakra::project::load_embedded;
//! use chakra::sum::{SumProblem, check_text, entries, render};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let v1 = "migration = { id = \"0001_initial\", app = \"default\" }\n\
//!           operations = [{ type = \"RunSQL\", forward = \"SELECT 1\" }]";
//! let files = load_embedded([("0001_initial.toml", v1)])?;
//! let sum = render(&entries(&files));
//! assert!(sum.lines().nth(2).expect("one entry").starts_with("0001_initial.toml "));
//! assert!(check_text(Some(&sum), &entries(&files)).is_empty());
//!
//! let edited = load_embedded([("0001_initial.toml", &*v1.replace("SELECT 1", "SELECT 2"))])?;
//! assert_eq!(
//!     check_text(Some(&sum), &entries(&edited)),
//!     [SumProblem::Changed("0001_initial.toml".into())]
//! );
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::checksum::sha256_hex;
use crate::format::DEFAULT_APP;
use crate::project::{LoadedMigration, ProjectError, write_atomic};

/// The sum file's name, inside the migrations folder.
pub const SUM_FILE: &str = "chakra.sum";

const HEADER: &str =
    "# chakra.sum: checksums of the migration files, written by `migrate make`. Do not edit.";

/// The path of a migration relative to the migrations folder, as listed in the sum file.
fn entry_name(m: &LoadedMigration) -> String {
    if m.app() == DEFAULT_APP {
        format!("{}.toml", m.id())
    } else {
        format!("{}/{}.toml", m.app(), m.id())
    }
}

/// The entries of `migrations`: relative path -> checksum, sorted.
pub fn entries<'a>(
    migrations: impl IntoIterator<Item = &'a LoadedMigration>,
) -> BTreeMap<String, String> {
    migrations
        .into_iter()
        .map(|m| (entry_name(m), m.checksum.clone()))
        .collect()
}

/// The sum file for `entries`.
pub fn render(entries: &BTreeMap<String, String>) -> String {
    let mut lines = String::new();
    for (name, checksum) in entries {
        lines.push_str(&format!("{name} {checksum}\n"));
    }
    format!("{HEADER}\ntotal {}\n{lines}", sha256_hex(lines.as_bytes()))
}

/// The path of the sum file in `migrations_dir`.
pub fn path(migrations_dir: &Path) -> PathBuf {
    migrations_dir.join(SUM_FILE)
}

/// Writes the sum file when its content differs; returns whether it was written.
pub fn write(
    migrations_dir: &Path,
    entries: &BTreeMap<String, String>,
) -> Result<bool, ProjectError> {
    let p = path(migrations_dir);
    let text = render(entries);
    if std::fs::read_to_string(&p).ok().as_deref() == Some(text.as_str()) {
        return Ok(false);
    }
    write_atomic(&p, &text)?;
    Ok(true)
}

/// A disagreement between the sum file and the migration files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SumProblem {
    /// There is no sum file although there are migrations.
    Missing,
    /// A line of the sum file cannot be read (a merge conflict marker, a hand edit).
    Malformed {
        /// 1-based line.
        line: usize,
        /// The text.
        text: String,
    },
    /// The `total` line does not match the entries (an entry was edited by hand).
    Total,
    /// A migration file that the sum file does not list.
    Added(String),
    /// A listed migration whose file is gone.
    Removed(String),
    /// A migration whose checksum differs from the listed one.
    Changed(String),
}

impl fmt::Display for SumProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SumProblem::Missing => write!(f, "there is no {SUM_FILE}"),
            SumProblem::Malformed { line, text } => {
                write!(
                    f,
                    "{SUM_FILE}:{line} cannot be read: `{text}` (a merge conflict left in it?)"
                )
            }
            SumProblem::Total => write!(
                f,
                "the `total` line of {SUM_FILE} does not match its entries"
            ),
            SumProblem::Added(name) => write!(
                f,
                "{name} is not listed in {SUM_FILE} (added without `migrate make`?)"
            ),
            SumProblem::Removed(name) => {
                write!(f, "{name} is listed in {SUM_FILE} but its file is gone")
            }
            SumProblem::Changed(name) => {
                write!(f, "{name} was changed since {SUM_FILE} was written")
            }
        }
    }
}

/// Compares the sum file in `migrations_dir` with `entries` (computed from the files).
pub fn check(migrations_dir: &Path, entries: &BTreeMap<String, String>) -> Vec<SumProblem> {
    let text = std::fs::read_to_string(path(migrations_dir)).ok();
    check_text(text.as_deref(), entries)
}

/// [`check`] against the text of a sum file (`None`: there is none), for files compiled into
/// a binary.
pub fn check_text(text: Option<&str>, entries: &BTreeMap<String, String>) -> Vec<SumProblem> {
    let Some(text) = text else {
        return if entries.is_empty() {
            Vec::new()
        } else {
            vec![SumProblem::Missing]
        };
    };
    let mut problems = Vec::new();
    let mut listed = BTreeMap::new();
    let mut total = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once(' ') {
            Some(("total", hash)) => total = Some(hash.trim().to_owned()),
            Some((name, hash)) if name.ends_with(".toml") && hash.trim().len() == 64 => {
                listed.insert(name.to_owned(), hash.trim().to_owned());
            }
            _ => problems.push(SumProblem::Malformed {
                line: i + 1,
                text: line.to_owned(),
            }),
        }
    }
    let expected_total = render(&listed)
        .lines()
        .nth(1)
        .and_then(|l| l.strip_prefix("total "))
        .map(str::to_owned);
    if total != expected_total {
        problems.push(SumProblem::Total);
    }
    for (name, checksum) in entries {
        match listed.get(name) {
            None => problems.push(SumProblem::Added(name.clone())),
            Some(c) if c != checksum => problems.push(SumProblem::Changed(name.clone())),
            Some(_) => {}
        }
    }
    for name in listed.keys() {
        if !entries.contains_key(name) {
            problems.push(SumProblem::Removed(name.clone()));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries_of(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(n, c)| ((*n).to_owned(), c.repeat(64)))
            .collect()
    }

    #[test]
    fn a_written_sum_checks_clean_and_catches_every_difference() {
        let dir = tempfile::tempdir().expect("dir");
        let e = entries_of(&[("0001_initial.toml", "a"), ("blog/0001_initial.toml", "b")]);
        assert!(write(dir.path(), &e).expect("write"));
        assert!(
            !write(dir.path(), &e).expect("unchanged"),
            "an unchanged sum is not rewritten"
        );
        assert_eq!(check(dir.path(), &e), vec![]);

        let mut more = e.clone();
        more.insert("0002_x.toml".into(), "c".repeat(64));
        assert_eq!(
            check(dir.path(), &more),
            vec![SumProblem::Added("0002_x.toml".into())]
        );
        let mut fewer = e.clone();
        fewer.remove("blog/0001_initial.toml");
        assert_eq!(
            check(dir.path(), &fewer),
            vec![SumProblem::Removed("blog/0001_initial.toml".into())]
        );
        let mut changed = e.clone();
        changed.insert("0001_initial.toml".into(), "d".repeat(64));
        assert_eq!(
            check(dir.path(), &changed),
            vec![SumProblem::Changed("0001_initial.toml".into())]
        );

        let text = std::fs::read_to_string(path(dir.path())).expect("read");
        std::fs::write(
            path(dir.path()),
            text.replace(&"b".repeat(64), &"e".repeat(64)),
        )
        .expect("edit");
        assert!(check(dir.path(), &e).contains(&SumProblem::Total));
    }

    #[test]
    fn two_branches_adding_migrations_change_the_same_line() {
        let base = entries_of(&[("0001_initial.toml", "a")]);
        let mut left = base.clone();
        left.insert("0002_left.toml".into(), "b".repeat(64));
        let mut right = base.clone();
        right.insert("0002_right.toml".into(), "c".repeat(64));
        let total = |e| render(e).lines().nth(1).map(str::to_owned);
        assert_ne!(total(&left), total(&base));
        assert_ne!(
            total(&left),
            total(&right),
            "both branches rewrite `total`: git sees a conflict"
        );
    }

    #[test]
    fn conflict_markers_are_reported() {
        let dir = tempfile::tempdir().expect("dir");
        let e = entries_of(&[("0001_initial.toml", "a")]);
        write(dir.path(), &e).expect("write");
        let text = std::fs::read_to_string(path(dir.path())).expect("read");
        std::fs::write(
            path(dir.path()),
            format!("<<<<<<< HEAD\n{text}=======\n>>>>>>> branch\n"),
        )
        .expect("write");
        assert!(
            check(dir.path(), &e)
                .iter()
                .any(|p| matches!(p, SumProblem::Malformed { line: 1, .. }))
        );
    }
}
