//! `migrate lint` through the installed `chakra` binary: a temporary project with the blog
//! example's first two migrations and a third that drops a column, run with `NO_COLOR=1` and
//! no `DATABASE_URL`.

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;
use tempfile::TempDir;

/// Drops `users.email` and indexes `posts.title`, both existing tables.
const REMOVE_EMAIL: &str = r#"[migration]
id = "0003_remove_user_email"
app = "default"
dependencies = ["0002_add_post_status"]

[[operations]]
type = "RemoveField"
model = "User"
table = "users"
name = "email"

[[operations]]
type = "CreateIndex"
model = "Post"
table = "posts"
name = "posts_title_idx"
fields = ["title"]
"#;

struct Project {
    _dir: TempDir,
    root: PathBuf,
}

/// What a run printed and how it ended.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:#?}"))
    }
}

impl Project {
    /// The blog's 0001 and 0002 (0003 runs Rust code of the blog crate) and `extra` files.
    fn new(extra: &[(&str, &str)]) -> Project {
        let dir = TempDir::new().expect("a temporary folder");
        let root = fs::canonicalize(dir.path()).expect("the temporary folder exists");
        let blog = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/blog/migrations");
        fs::create_dir_all(root.join("migrations")).expect("create migrations/");
        for name in ["0001_initial.toml", "0002_add_post_status.toml"] {
            fs::copy(blog.join(name), root.join("migrations").join(name)).expect("copy");
        }
        for (path, text) in extra {
            fs::write(root.join(path), text).expect("write a project file");
        }
        Project { _dir: dir, root }
    }

    fn run(&self, args: &[&str]) -> Run {
        let out = Command::new(env!("CARGO_BIN_EXE_chakra"))
            .current_dir(&self.root)
            .env("NO_COLOR", "1")
            .env_remove("DATABASE_URL")
            .args(args)
            .output()
            .expect("chakra runs");
        let run = Run {
            code: out.status.code().expect("chakra exits normally"),
            stdout: String::from_utf8(out.stdout).expect("UTF-8"),
            stderr: String::from_utf8(out.stderr).expect("UTF-8"),
        };
        assert!(!run.stderr.contains("panicked"), "{run:#?}");
        run
    }
}

fn with_remove_email() -> Project {
    Project::new(&[("migrations/0003_remove_user_email.toml", REMOVE_EMAIL)])
}

#[test]
fn lint_names_the_dropped_column_and_exits_1() {
    let run = with_remove_email().run(&["migrate", "lint"]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert_eq!(run.stderr, "");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        lines[0],
        "Linting 3 migrations (every migration: no database configured) for postgres, mysql, sqlite"
    );
    assert_eq!(lines[1], "0003_remove_user_email");
    assert_eq!(
        lines[2],
        "  error[CH102] operation 1: RemoveField User.email (postgres, mysql, sqlite)"
    );
    assert_eq!(lines[3], "    drops column `users`.`email` and its data");
    assert!(lines[4].starts_with("    why: Every value of the column is deleted"));
    assert!(lines[5].starts_with("    instead: Deploy code that no longer uses the field"));
    assert_eq!(
        lines[6],
        "  warning[CH301] operation 2: CreateIndex posts_title_idx on Post (title) (postgres)"
    );
    assert_eq!(
        lines.last(),
        Some(&"✗ 1 error, 1 warning, 0 notices"),
        "{}",
        run.stdout
    );
    // No colour codes with NO_COLOR, nor when stdout is not a terminal.
    assert!(!run.stdout.contains('\x1b'));
}

#[test]
fn lint_json_lists_findings_and_fails_on_errors() {
    let run = with_remove_email().run(&["migrate", "lint", "--format", "json"]);
    assert_eq!(run.code, 1, "{run:#?}");
    let json = run.json();
    assert_eq!(json["ok"], false);
    assert_eq!(
        json["dialects"],
        serde_json::json!(["postgres", "mysql", "sqlite"])
    );
    assert_eq!(json["migrations"].as_array().map(Vec::len), Some(3));
    assert_eq!(
        json["counts"],
        serde_json::json!({ "error": 1, "warning": 1, "notice": 0 })
    );
    let dropped = &json["findings"][0];
    assert_eq!(dropped["code"], "CH102");
    assert_eq!(dropped["severity"], "error");
    assert_eq!(dropped["category"], "destructive");
    assert_eq!(dropped["app"], "default");
    assert_eq!(dropped["migration"], "0003_remove_user_email");
    assert_eq!(dropped["operation"], 1);
    assert_eq!(dropped["summary"], "RemoveField User.email");
    assert_eq!(dropped["object"], "users.email");
    assert_eq!(
        dropped["message"],
        "drops column `users`.`email` and its data"
    );
    assert!(dropped["why"].as_str().is_some_and(|w| !w.is_empty()));
    assert!(dropped["instead"].as_str().is_some_and(|w| !w.is_empty()));
    assert_eq!(json["findings"][1]["code"], "CH301");
    assert_eq!(
        json["findings"][1]["dialects"],
        serde_json::json!(["postgres"])
    );
}

#[test]
fn lint_warnings_alone_exit_0_and_dialects_filter_rules() {
    let p = with_remove_email();
    // The index is only a PostgreSQL concern.
    let run = p.run(&[
        "migrate",
        "lint",
        "0003_remove_user_email",
        "--dialect",
        "mysql",
    ]);
    assert_eq!(run.code, 1, "the dropped column is an error on MySQL too");
    assert!(!run.stdout.contains("CH301"), "{}", run.stdout);
    let run = p.run(&[
        "migrate",
        "lint",
        "0002_add_post_status",
        "--format",
        "json",
    ]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.json()["ok"], true);
    assert_eq!(run.json()["findings"], serde_json::json!([]));
    let run = p.run(&["migrate", "lint", "0002_add_post_status"]);
    assert_eq!(
        run.stdout,
        "Linting 1 migration for postgres, mysql, sqlite\n✓ No findings\n"
    );

    // Only warnings: exit 0.
    let only_index = REMOVE_EMAIL.replace(
        "[[operations]]\ntype = \"RemoveField\"\nmodel = \"User\"\ntable = \"users\"\nname = \"email\"\n\n",
        "",
    );
    let p = Project::new(&[("migrations/0003_remove_user_email.toml", &only_index)]);
    let run = p.run(&[
        "migrate",
        "lint",
        "--dialect",
        "postgres",
        "--dialect",
        "sqlite",
    ]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(
        run.stdout.ends_with("! 0 errors, 1 warning, 0 notices\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.starts_with(
            "Linting 3 migrations (every migration: no database configured) for postgres, sqlite\n"
        ),
        "{}",
        run.stdout
    );
}

#[test]
fn lint_usage_and_unknown_migrations() {
    let p = with_remove_email();
    let run = p.run(&["migrate", "lint", "--dialect", "oracle"]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(
        run.stderr.contains("invalid value 'oracle'"),
        "{}",
        run.stderr
    );
    let run = p.run(&["migrate", "lint", "0009_nope"]);
    assert_eq!(run.code, 1);
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        "error: no migration `0009_nope`; `migrate status` lists them\n"
    );
}

#[test]
fn lint_without_id_covers_the_migrations_not_applied() {
    let p = Project::new(&[("chakra.toml", "[database]\nurl = \"sqlite://db.sqlite3\"\n")]);
    let run = p.run(&["migrate", "apply", "-q"]);
    assert_eq!(run.code, 0, "{run:#?}");
    fs::write(
        p.root.join("migrations/0003_remove_user_email.toml"),
        REMOVE_EMAIL,
    )
    .expect("write");
    // The configured database is SQLite: only its rules, only the pending migration.
    let run = p.run(&["migrate", "lint"]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert_eq!(
        run.stdout.lines().next(),
        Some("Linting 1 migration (not applied to the database) for sqlite")
    );
    assert!(run.stdout.contains("error[CH102]"), "{}", run.stdout);
    assert!(!run.stdout.contains("CH301"), "{}", run.stdout);
    let json = p.run(&["migrate", "lint", "--format", "json"]).json();
    assert_eq!(
        json["migrations"],
        serde_json::json!([{ "app": "default", "id": "0003_remove_user_email" }])
    );

    p.run(&["migrate", "apply", "-q"]);
    let run = p.run(&["migrate", "lint"]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(
        run.stdout,
        "No migrations to lint: every migration is applied to the database.\n"
    );
}

#[test]
fn lint_falls_back_to_every_migration_when_the_database_cannot_be_read() {
    let p = with_remove_email();
    let run = p.run(&[
        "migrate",
        "lint",
        "--database-url",
        "postgres://nobody@127.0.0.1:1/nothing",
    ]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        run.stderr
            .starts_with("warning: cannot read the database history ("),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.ends_with("; linting every migration\n"),
        "{}",
        run.stderr
    );
    assert_eq!(
        run.stdout.lines().next(),
        Some(
            "Linting 3 migrations (every migration: the database history could not be read) for postgres"
        )
    );
}

#[test]
fn lint_help_snapshot() {
    let run = with_remove_email().run(&["migrate", "lint", "--help"]);
    assert_eq!(run.code, 0);
    insta::assert_snapshot!(run.stdout);
}
