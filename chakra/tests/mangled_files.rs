//! Fuzzing the migration loader and the graph builder: the blog example's migration files
//! mangled at random (bytes flipped, cut, repeated or inserted, TOML fragments spliced in,
//! lines swapped, files deleted, copied or renamed) must never panic. Loading either fails
//! with a message that names the file (and the line for TOML errors), or succeeds — and then
//! replaying the graph and generating the SQL of every migration on every dialect must not
//! panic either.
//!
//! `CHAKRA_FUZZ_CASES` sets the number of cases (300 by default, so it stays quick in CI);
//! `CHAKRA_FUZZ_STATS=1` prints whether each case loaded or was rejected. docs/fuzzing.md
//! records longer runs.

use std::collections::BTreeSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use chakra::dialect::DialectKind;
use chakra::make::{MakeError, load_graph};
use chakra::plan::{Direction, apply_plan, plan_sql};
use proptest::prelude::*;

/// The seed corpus: the blog example's migrations (name, text).
fn corpus() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/blog/migrations");
    let mut files: Vec<(String, String)> = std::fs::read_dir(dir)
        .expect("blog migrations")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| {
            (
                p.file_name().expect("name").to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).expect("read"),
            )
        })
        .collect();
    files.sort();
    files
}

/// Fragments that are likely to reach deep code paths when spliced into a file.
const FRAGMENTS: &[&str] = &[
    "[[operations]]\n",
    "[migration]\n",
    "type = \"CreateModel\"\n",
    "type = \"RemoveField\"\n",
    "type = \"RunSQL\"\nforward = \"SELECT 1\"\n",
    "type = \"Nope\"\n",
    "dependencies = [\"0009_missing\"]\n",
    "dependencies = [\"0003_backfill_slugs\"]\n",
    "dependencies = [\"other/0001_initial\"]\n",
    "replaces = [\"0001_initial\"]\n",
    "id = \"0001_initial\"\n",
    "id = \"../../etc/passwd\"\n",
    "app = \"\"\n",
    "format = 99\n",
    "max_length = 0\n",
    "max_length = -1\n",
    "precision = 99999999999999999999\n",
    "nullable = \"yes\"\n",
    "primary_key = true\n",
    "model = \"Ghost\"\n",
    "table = \"\"\n",
    "name = \"\"\n",
    "default = { x = 1 }\n",
    "fill = 1\n",
    "\u{feff}",
    "\r\n",
    "\0",
    "\"",
    "'''",
    "🦀",
    "[[operations.fields]]\nname = \"id\"\ntype = \"BigInteger\"\n",
];

/// One mutation of the corpus.
#[derive(Debug, Clone)]
enum Mutation {
    FlipByte {
        file: usize,
        at: usize,
        bits: u8,
    },
    Cut {
        file: usize,
        at: usize,
        len: usize,
    },
    Repeat {
        file: usize,
        at: usize,
        len: usize,
    },
    Insert {
        file: usize,
        at: usize,
        fragment: usize,
    },
    SwapLines {
        file: usize,
        a: usize,
        b: usize,
    },
    Truncate {
        file: usize,
        at: usize,
    },
    DeleteFile {
        file: usize,
    },
    CopyFile {
        file: usize,
        name: usize,
    },
    RenameFile {
        file: usize,
        name: usize,
    },
}

const NAMES: &[&str] = &[
    "0004_copy.toml",
    "0002_add_post_status.toml",
    "0001_initial.toml",
    "9999_x.toml",
    "0002.toml",
    "notes.toml",
    "blog/0001_initial.toml",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    let f = 0usize..16;
    let at = 0usize..8192;
    prop_oneof![
        (f.clone(), at.clone(), 1u8..=255).prop_map(|(file, at, bits)| Mutation::FlipByte {
            file,
            at,
            bits
        }),
        (f.clone(), at.clone(), 1usize..200).prop_map(|(file, at, len)| Mutation::Cut {
            file,
            at,
            len
        }),
        (f.clone(), at.clone(), 1usize..400).prop_map(|(file, at, len)| Mutation::Repeat {
            file,
            at,
            len
        }),
        (f.clone(), at.clone(), 0..FRAGMENTS.len())
            .prop_map(|(file, at, fragment)| { Mutation::Insert { file, at, fragment } }),
        (f.clone(), 0usize..200, 0usize..200).prop_map(|(file, a, b)| Mutation::SwapLines {
            file,
            a,
            b
        }),
        (f.clone(), at).prop_map(|(file, at)| Mutation::Truncate { file, at }),
        f.clone().prop_map(|file| Mutation::DeleteFile { file }),
        (f.clone(), 0..NAMES.len()).prop_map(|(file, name)| Mutation::CopyFile { file, name }),
        (f, 0..NAMES.len()).prop_map(|(file, name)| Mutation::RenameFile { file, name }),
    ]
}

/// The byte index at or before `at` that is a char boundary of `s` (so edits keep UTF-8 in
/// most cases; byte flips deliberately may not).
fn boundary(s: &str, at: usize) -> usize {
    let mut i = at.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn apply_mutation(files: &mut Vec<(String, Vec<u8>)>, m: &Mutation) {
    if files.is_empty() {
        return;
    }
    let n = files.len();
    match *m {
        Mutation::FlipByte { file, at, bits } => {
            let bytes = &mut files[file % n].1;
            if !bytes.is_empty() {
                let i = at % bytes.len();
                bytes[i] ^= bits;
            }
        }
        Mutation::Cut { file, at, len } => {
            let bytes = &mut files[file % n].1;
            let s = String::from_utf8_lossy(bytes).into_owned();
            let a = boundary(&s, at);
            let b = boundary(&s, a + len);
            *bytes = format!("{}{}", &s[..a], &s[b..]).into_bytes();
        }
        Mutation::Repeat { file, at, len } => {
            let bytes = &mut files[file % n].1;
            let s = String::from_utf8_lossy(bytes).into_owned();
            let a = boundary(&s, at);
            let b = boundary(&s, a + len);
            *bytes = format!("{}{}", &s[..b], &s[a..]).into_bytes();
        }
        Mutation::Insert { file, at, fragment } => {
            let bytes = &mut files[file % n].1;
            let s = String::from_utf8_lossy(bytes).into_owned();
            // At a line start half of the time, so the fragment often parses.
            let a = boundary(&s, at);
            let a = if at % 2 == 0 {
                s[..a].rfind('\n').map_or(0, |i| i + 1)
            } else {
                a
            };
            *bytes = format!("{}{}{}", &s[..a], FRAGMENTS[fragment], &s[a..]).into_bytes();
        }
        Mutation::SwapLines { file, a, b } => {
            let bytes = &mut files[file % n].1;
            let s = String::from_utf8_lossy(bytes).into_owned();
            let mut lines: Vec<&str> = s.split('\n').collect();
            let len = lines.len();
            lines.swap(a % len, b % len);
            *bytes = lines.join("\n").into_bytes();
        }
        Mutation::Truncate { file, at } => {
            let bytes = &mut files[file % n].1;
            let keep = at % (bytes.len() + 1);
            bytes.truncate(keep);
        }
        Mutation::DeleteFile { file } => {
            files.remove(file % n);
        }
        Mutation::CopyFile { file, name } => {
            let content = files[file % n].1.clone();
            files.push((NAMES[name].to_owned(), content));
        }
        Mutation::RenameFile { file, name } => {
            files[file % n].0 = NAMES[name].to_owned();
        }
    }
}

/// Writes `files` into a fresh `migrations/` folder (a later file of the same name wins).
fn write(dir: &Path, files: &[(String, Vec<u8>)]) -> PathBuf {
    let migrations = dir.join("migrations");
    for (name, content) in files {
        let path = migrations.join(name);
        std::fs::create_dir_all(path.parent().expect("a folder")).expect("mkdir");
        std::fs::write(path, content).expect("write");
    }
    migrations
}

/// Loads the folder and, if it loads, replays it and makes the SQL of everything on every
/// dialect. Returns the loading error's message, if any.
fn exercise(migrations: &Path) -> Option<String> {
    let graph = match load_graph(migrations) {
        Ok(g) => g,
        Err(e) => return Some(error_text(&e)),
    };
    let _ = graph.final_state();
    if let Ok(plan) = apply_plan(&graph, &BTreeSet::new(), None) {
        for dialect in [
            DialectKind::Postgres,
            DialectKind::Mysql,
            DialectKind::Sqlite,
        ] {
            let _ = plan_sql(dialect, &graph, &plan, Direction::Forward);
            let mut reverse = plan.clone();
            reverse.reverse();
            let _ = plan_sql(dialect, &graph, &reverse, Direction::Backward);
        }
    }
    None
}

fn error_text(e: &MakeError) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!("\n{s}"));
        source = s.source();
    }
    text
}

fn cases() -> u32 {
    std::env::var("CHAKRA_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn mangled_migration_files_never_panic(
        mutations in proptest::collection::vec(mutation(), 1..4)
    ) {
        let mut files: Vec<(String, Vec<u8>)> = corpus()
            .into_iter()
            .map(|(n, t)| (n, t.into_bytes()))
            .collect();
        for m in &mutations {
            apply_mutation(&mut files, m);
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let migrations = write(dir.path(), &files);
        let outcome = catch_unwind(AssertUnwindSafe(|| exercise(&migrations)));
        let message = match outcome {
            Ok(message) => message,
            Err(panic) => {
                let what = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default();
                return Err(TestCaseError::fail(format!("panicked: {what}")));
            }
        };
        if std::env::var_os("CHAKRA_FUZZ_STATS").is_some() {
            eprintln!("fuzz-case: {}", if message.is_some() { "rejected" } else { "loaded" });
        }
        if let Some(message) = message {
            prop_assert!(!message.trim().is_empty(), "an empty error message");
        }
    }
}

#[test]
fn a_mangled_file_is_reported_with_its_name_and_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut files: Vec<(String, Vec<u8>)> = corpus()
        .into_iter()
        .map(|(n, t)| (n, t.into_bytes()))
        .collect();
    apply_mutation(
        &mut files,
        &Mutation::Insert {
            file: 1,
            at: 0,
            fragment: FRAGMENTS
                .iter()
                .position(|f| *f == "'''")
                .expect("a fragment"),
        },
    );
    let message = exercise(&write(dir.path(), &files)).expect("an error");
    assert!(message.contains("0002_add_post_status.toml"), "{message}");
    assert!(message.contains(":1:"), "{message}");
}
