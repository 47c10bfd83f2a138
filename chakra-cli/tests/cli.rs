//! The installed `chakra` binary, end to end: each test copies the blog example's migrations
//! into a temporary project, runs `chakra` there with a clean environment (`NO_COLOR=1`, no
//! `DATABASE_URL`), and checks exit code, stdout, stderr and the SQLite database (through the
//! `sqlite3` command-line client).

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;
use tempfile::TempDir;

/// `chakra.toml` with a SQLite database next to it.
const DB_CONFIG: &str = "[database]\nurl = \"sqlite://db.sqlite3\"\n";
/// The database file of [`DB_CONFIG`].
const DB: &str = "db.sqlite3";
const INITIAL: &str = "migrations/0001_initial.toml";
const ADD_STATUS: &str = "migrations/0002_add_post_status.toml";

/// `.tables` with the blog migrations applied.
const ALL_TABLES: [&str; 5] = [
    "_chakra_migrations",
    "_chakra_migrations_log",
    "comments",
    "posts",
    "users",
];
const APPLIED_BOTH: &str = "\
→ 0001_initial... done (…)
→ 0002_add_post_status... done (…)
✓ Applied 2 migrations
";
const STATUS_PENDING: &str = "  Pending   0001_initial
  Pending   0002_add_post_status
0 applied, 2 pending
";
const STATUS_APPLIED: &str = "  Applied   0001_initial          <time> (…)
  Applied   0002_add_post_status  <time> (…)
2 applied, 0 pending
";
const NO_DATABASE: &str = "\
error: no database configured: pass --database-url, set DATABASE_URL (in the environment or .env), or add

[database]
url = \"sqlite://db.sqlite3\"

to chakra.toml (`chakra init` writes one)
";

/// A project in a temporary folder.
struct Project {
    _dir: TempDir,
    /// The project root, canonical (as the binary sees its current folder).
    root: PathBuf,
}

impl Project {
    /// An empty folder.
    fn empty() -> Project {
        let dir = TempDir::new().expect("a temporary folder");
        let root = fs::canonicalize(dir.path()).expect("the temporary folder exists");
        // chakra looks for chakra.toml in parent folders too: none may be there.
        let stray = root
            .ancestors()
            .map(|d| d.join("chakra.toml"))
            .find(|f| f.exists());
        assert_eq!(stray, None, "a chakra.toml above the temporary folder");
        Project { _dir: dir, root }
    }

    /// The blog example's migrations in `migrations/`, and no `chakra.toml`.
    fn new() -> Project {
        let project = Project::empty();
        project.copy_blog_migrations();
        project
    }

    /// Copies the blog example's migration files into `migrations/`.
    fn copy_blog_migrations(&self) {
        let blog = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/blog/migrations");
        fs::create_dir_all(self.path("migrations")).expect("create migrations/");
        for entry in fs::read_dir(&blog).expect("examples/blog/migrations exists") {
            let from = entry.expect("a directory entry").path();
            // 0003 runs Rust code of the blog crate, which only its manage binary contains.
            let name = from
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if from.extension().is_some_and(|e| e == "toml") && !name.starts_with("0003_") {
                let name = from.file_name().expect("a file name");
                fs::copy(&from, self.path("migrations").join(name)).expect("copy a migration");
            }
        }
    }

    /// The blog migrations and this `chakra.toml`.
    fn with_config(toml: &str) -> Project {
        let project = Project::new();
        project.write("chakra.toml", toml);
        project
    }

    /// The blog migrations and a SQLite database `db.sqlite3` configured in `chakra.toml`.
    fn with_sqlite() -> Project {
        Project::with_config(DB_CONFIG)
    }

    /// A path inside the project.
    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    fn write(&self, rel: &str, contents: impl AsRef<[u8]>) {
        let path = self.path(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("create the parent folder");
        }
        fs::write(&path, contents).expect("write a project file");
    }

    fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.path(rel)).expect("read a project file")
    }

    /// Replaces the first `from` in a project file by `to`.
    fn edit(&self, rel: &str, from: &str, to: &str) {
        let text = self.read(rel);
        assert!(text.contains(from), "`{rel}` contains `{from}`");
        self.write(rel, text.replacen(from, to, 1));
    }

    /// `chakra` in the project root, with nothing from the host environment that matters.
    fn cmd(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_chakra"));
        cmd.current_dir(&self.root)
            .env("NO_COLOR", "1")
            .env_remove("DATABASE_URL");
        cmd
    }

    /// Runs `chakra ARGS` in the project root.
    fn run(&self, args: &[&str]) -> Run {
        Run::of(self.cmd().args(args))
    }

    /// Runs `chakra ARGS` in the project root with `DATABASE_URL` set.
    fn run_env(&self, database_url: &str, args: &[&str]) -> Run {
        Run::of(self.cmd().env("DATABASE_URL", database_url).args(args))
    }

    /// Runs `chakra ARGS` in `dir`.
    fn run_in(&self, dir: &Path, args: &[&str]) -> Run {
        Run::of(self.cmd().current_dir(dir).args(args))
    }

    /// Writes `migrations/ID.toml` of app `default` with these dependencies and operations.
    fn add_migration(&self, id: &str, dependencies: &[&str], operations: &str) {
        let header = format!(
            "[migration]\nid = \"{id}\"\napp = \"default\"\ncreated_at = \"2026-11-20T00:00:00Z\"\n\
             dependencies = {dependencies:?}\nformat = 1\n"
        );
        self.write(&format!("migrations/{id}.toml"), header + operations);
    }

    /// Runs `sqlite3 db.sqlite3 SQL` and returns its output.
    fn sqlite(&self, sql: &str) -> String {
        let out = std::process::Command::new("sqlite3")
            .arg(self.path(DB))
            .arg(sql)
            .output()
            .expect("the sqlite3 client is installed");
        assert!(
            out.status.success(),
            "sqlite3 `{sql}`: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("sqlite3 prints UTF-8")
    }

    /// `.tables` of the database, sorted.
    fn tables(&self) -> Vec<String> {
        let mut tables: Vec<String> = self
            .sqlite(".tables")
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        tables.sort();
        tables
    }

    /// The columns of `table`, from `PRAGMA table_info`.
    fn columns(&self, table: &str) -> Vec<String> {
        self.sqlite(&format!("PRAGMA table_info({table})"))
            .lines()
            .map(|row| row.split('|').nth(1).expect("cid|name|type|...").to_owned())
            .collect()
    }

    /// Whether `posts.status` (migration 0002) exists.
    fn has_status_column(&self) -> bool {
        self.columns("posts").iter().any(|c| c == "status")
    }

    /// The `*.db` files in the project root, sorted.
    fn db_files(&self) -> Vec<String> {
        let mut files: Vec<String> = fs::read_dir(&self.root)
            .expect("the project root exists")
            .map(|e| {
                e.expect("a directory entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .filter(|name| name.ends_with(".db"))
            .collect();
        files.sort();
        files
    }
}

/// What a run printed and how it ended.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Runs `cmd`; a panic is never an acceptable outcome.
    fn of(cmd: &mut Command) -> Run {
        let out = cmd.output().expect("chakra runs");
        let run = Run {
            code: out
                .status
                .code()
                .expect("chakra exits normally, not by a signal"),
            stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
        };
        assert!(
            !run.stderr.contains("panicked"),
            "chakra panicked: {run:#?}"
        );
        run
    }

    /// Checks the exit code.
    #[track_caller]
    fn code(self, code: i32) -> Run {
        assert_eq!(self.code, code, "exit code of {self:#?}");
        self
    }

    /// Exit code 0 and nothing on stderr.
    #[track_caller]
    fn ok(self) -> Run {
        let run = self.code(0);
        assert_eq!(run.stderr, "", "stderr of a successful run");
        run
    }

    /// Exit code 1 and nothing on stdout; returns stderr.
    #[track_caller]
    fn fails(self) -> String {
        let run = self.code(1);
        assert_eq!(run.stdout, "", "stdout of a failed run");
        run.stderr
    }

    /// Exit code 2 (usage error) and nothing on stdout; returns stderr.
    #[track_caller]
    fn usage_error(self) -> String {
        let run = self.code(2);
        assert_eq!(run.stdout, "", "stdout of a usage error");
        run.stderr
    }

    /// stdout with run-dependent durations and times replaced (see [`normalize`]).
    fn out(&self) -> String {
        normalize(&self.stdout)
    }

    /// stdout as JSON.
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:#?}"))
    }
}

/// Replaces what changes from run to run: a duration at the end of a line (`(1.0ms)`)
/// becomes `(…)` and a time (`2026-11-22 01:52:58 UTC`) becomes `<time>`.
fn normalize(text: &str) -> String {
    let mut normalized = String::new();
    for line in text.lines() {
        let mut line = line.to_owned();
        if let Some(open) = line.rfind(" (")
            && line.ends_with("ms)")
            && line[open + 2..line.len() - 3]
                .chars()
                .all(|c| c.is_ascii_digit() || c == '.')
        {
            line.replace_range(open.., " (…)");
        }
        if let Some(utc) = line.find(" UTC")
            && let Some(start) = utc.checked_sub(19)
            && line.get(start..utc).is_some_and(|t| {
                chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S").is_ok()
            })
        {
            line.replace_range(start..utc + 4, "<time>");
        }
        normalized.push_str(&line);
        normalized.push('\n');
    }
    normalized
}

/// The `id`s of a JSON list of migrations.
fn ids(list: &Value) -> Vec<&str> {
    let list = list.as_array().expect("a JSON list of migrations");
    list.iter().filter_map(|m| m["id"].as_str()).collect()
}

/// The first line of `text`.
fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

// ---------------------------------------------------------------------------------------------
// init

#[test]
fn init_writes_a_sqlite_config_and_the_migrations_folder() {
    let p = Project::empty();
    let run = p.run(&["init"]).ok();
    assert_eq!(
        run.stdout,
        "✓ Wrote chakra.toml and migrations/\n\
         Next: add a manage binary that calls chakra_cli::main(), then run `migrate make`.\n"
    );
    let config: toml::Table = p.read("chakra.toml").parse().expect("chakra.toml is TOML");
    assert_eq!(
        config["database"]["url"].as_str(),
        Some("sqlite://db.sqlite3")
    );
    assert_eq!(
        config["migrations"]["directory"].as_str(),
        Some("migrations")
    );
    assert_eq!(config["project"]["manage"].as_str(), Some("manage"));
    let migrations = fs::read_dir(p.path("migrations")).expect("init made migrations/");
    assert_eq!(migrations.count(), 0, "migrations/ starts empty");

    // The starter configuration works as it is, on SQLite.
    let run = p.run(&["migrate", "status"]).ok();
    assert_eq!(run.stdout, "No migrations yet: run `migrate make`.\n");
    assert!(!p.path(DB).exists(), "status does not create the database");
    p.copy_blog_migrations();
    assert_eq!(p.run(&["migrate", "apply"]).ok().out(), APPLIED_BOTH);
    assert_eq!(p.tables(), ALL_TABLES);
}

#[test]
fn init_twice_fails_and_leaves_the_file_alone() {
    let p = Project::empty();
    p.run(&["init"]).ok();
    p.write("chakra.toml", "# mine\n");
    let stderr = p.run(&["init"]).fails();
    let file = p.path("chakra.toml");
    assert_eq!(
        stderr,
        format!(
            "error: `{}` already exists; edit it instead\n",
            file.display()
        )
    );
    assert_eq!(p.read("chakra.toml"), "# mine\n");
}

#[test]
fn init_url_is_written() {
    let p = Project::empty();
    p.run(&["init", "--url", "postgres://app@localhost/app"])
        .ok();
    assert!(
        p.read("chakra.toml")
            .contains("\nurl = \"postgres://app@localhost/app\"\n")
    );
}

// ---------------------------------------------------------------------------------------------
// apply, status, sql, rollback on SQLite

#[test]
fn apply_creates_the_tables_and_a_second_apply_has_nothing_to_do() {
    let p = Project::with_sqlite();
    assert_eq!(p.run(&["migrate", "status"]).ok().stdout, STATUS_PENDING);
    assert!(!p.path(DB).exists(), "status does not create the database");

    assert_eq!(p.run(&["migrate", "apply"]).ok().out(), APPLIED_BOTH);
    assert_eq!(p.tables(), ALL_TABLES);
    assert_eq!(
        p.columns("posts"),
        [
            "id",
            "author_id",
            "slug",
            "title",
            "body_text",
            "views",
            "created_at",
            "status"
        ]
    );
    assert_eq!(
        p.sqlite("SELECT app, id, status, length(checksum) FROM _chakra_migrations ORDER BY seq"),
        "default|0001_initial|applied|64\ndefault|0002_add_post_status|applied|64\n"
    );

    assert_eq!(p.run(&["migrate", "status"]).ok().out(), STATUS_APPLIED);
    assert_eq!(
        p.run(&["migrate", "apply"]).ok().stdout,
        "No migrations to apply.\n"
    );
}

#[test]
fn sql_prints_the_migration_for_the_configured_database() {
    let p = Project::with_sqlite();
    let run = p.run(&["migrate", "sql", "0002_add_post_status"]).ok();
    assert_eq!(
        run.stdout,
        "-- 0002_add_post_status (apply, sqlite)\n\
         -- + AddField Post.status\n\
         ALTER TABLE \"posts\" ADD COLUMN \"status\" VARCHAR(20) NOT NULL DEFAULT 'draft';\n"
    );
    assert!(!p.path(DB).exists(), "sql does not touch the database");
}

#[test]
fn rollback_undoes_the_newest_keeping_rows_and_to_zero_undoes_everything() {
    let p = Project::with_sqlite();
    p.run(&["migrate", "apply"]).ok();
    p.sqlite(
        "INSERT INTO users (username) VALUES ('ada'); \
         INSERT INTO posts (author_id, slug, title, body_text) VALUES (1, 'hello', 'Hello', 'First post');",
    );

    let run = p.run(&["migrate", "rollback"]).ok();
    assert_eq!(
        run.out(),
        "! data loss: 0002_add_post_status: RemoveField Post.status: drops column `posts`.`status` and its data\n\
         ← 0002_add_post_status... done (…)\n\
         ✓ Rolled back 1 migration\n"
    );
    assert!(!p.has_status_column());
    assert_eq!(
        p.sqlite("SELECT u.username, p.title FROM posts p JOIN users u ON u.id = p.author_id"),
        "ada|Hello\n"
    );

    let run = p.run(&["migrate", "rollback", "--to", "zero"]).ok();
    assert_eq!(
        run.out(),
        "! data loss: 0001_initial: DeleteModel Comment (comments): drops table `comments` and all its rows\n\
         ! data loss: 0001_initial: DeleteModel Post (posts): drops table `posts` and all its rows\n\
         ! data loss: 0001_initial: DeleteModel User (users): drops table `users` and all its rows\n\
         ← 0001_initial... done (…)\n\
         ✓ Rolled back 1 migration\n"
    );
    assert_eq!(p.tables(), ["_chakra_migrations", "_chakra_migrations_log"]);
    assert_eq!(p.sqlite("SELECT count(*) FROM _chakra_migrations"), "0\n");
    assert_eq!(
        p.run(&["migrate", "rollback"]).ok().stdout,
        "No migrations to roll back.\n"
    );

    assert_eq!(p.run(&["migrate", "apply"]).ok().out(), APPLIED_BOTH);
    assert_eq!(p.tables(), ALL_TABLES);
}

#[test]
fn rollback_to_an_id_keeps_it_applied() {
    let p = Project::with_sqlite();
    p.run(&["migrate", "apply"]).ok();
    let run = p.run(&["migrate", "rollback", "--to", "0001_initial"]).ok();
    assert!(
        run.out()
            .ends_with("← 0002_add_post_status... done (…)\n✓ Rolled back 1 migration\n")
    );
    assert_eq!(
        p.sqlite("SELECT id FROM _chakra_migrations"),
        "0001_initial\n"
    );
}

#[test]
fn apply_target_stops_there() {
    let p = Project::with_sqlite();
    let run = p.run(&["migrate", "apply", "0001_initial"]).ok();
    assert_eq!(
        run.out(),
        "→ 0001_initial... done (…)\n✓ Applied 1 migration\n"
    );
    assert!(!p.has_status_column());
    assert_eq!(
        p.run(&["migrate", "status"]).ok().out(),
        "  Applied   0001_initial          <time> (…)\n  Pending   0002_add_post_status\n1 applied, 1 pending\n"
    );
}

#[test]
fn apply_fake_records_without_creating_tables() {
    let p = Project::with_sqlite();
    let run = p.run(&["migrate", "apply", "--fake"]).ok();
    assert_eq!(
        run.out(),
        "→ 0001_initial... faked (…)\n→ 0002_add_post_status... faked (…)\n✓ Faked 2 migrations\n"
    );
    assert_eq!(p.tables(), ["_chakra_migrations", "_chakra_migrations_log"]);
    assert_eq!(
        p.sqlite("SELECT id, status FROM _chakra_migrations ORDER BY seq"),
        "0001_initial|applied\n0002_add_post_status|applied\n"
    );
    assert_eq!(p.run(&["migrate", "status"]).ok().out(), STATUS_APPLIED);
}

#[test]
fn apply_dry_run_prints_the_sql_and_creates_no_database() {
    let p = Project::with_sqlite();
    let run = p.run(&["migrate", "apply", "--dry-run"]).ok();
    let out = &run.stdout;
    assert!(
        out.starts_with(
            "-- 0001_initial (apply)\nBEGIN IMMEDIATE;\n-- + CreateModel User (users)\n"
        ),
        "{out}"
    );
    assert!(
        out.contains("\nCREATE TABLE \"users\" (\n    \"id\" INTEGER PRIMARY KEY AUTOINCREMENT,\n")
    );
    assert!(out.contains(
        "\n-- 0002_add_post_status (apply)\nBEGIN IMMEDIATE;\n-- + AddField Post.status\n\
         ALTER TABLE \"posts\" ADD COLUMN \"status\" VARCHAR(20) NOT NULL DEFAULT 'draft';\n\
         -- record 0002_add_post_status as applied in \"_chakra_migrations\" (checksum "
    ));
    assert_eq!(out.lines().filter(|l| *l == "COMMIT;").count(), 2);
    assert!(
        !p.path(DB).exists(),
        "--dry-run does not create the database"
    );
}

#[test]
fn rollback_dry_run_runs_nothing() {
    let p = Project::with_sqlite();
    p.run(&["migrate", "apply", "-q"]).ok();
    let run = p.run(&["migrate", "rollback", "--dry-run"]).ok();
    assert!(run.stdout.starts_with(
        "-- 0002_add_post_status (rollback)\nBEGIN IMMEDIATE;\n-- undo + AddField Post.status\n\
         ALTER TABLE \"posts\" DROP COLUMN \"status\";\n\
         DELETE FROM \"_chakra_migrations\" WHERE \"app\" = 'default' AND \"id\" = '0002_add_post_status';\nCOMMIT;\n"
    ));
    assert!(p.has_status_column());
}

#[test]
fn apply_stops_at_a_failing_migration_and_keeps_the_earlier_ones() {
    let p = Project::with_sqlite();
    p.add_migration(
        "0003_broken",
        &["0002_add_post_status"],
        "[[operations]]\ntype = \"RunSQL\"\nforward = \"SELEC 1\"\nreverse = \"SELECT 1\"\n",
    );
    let run = p.run(&["migrate", "apply"]).code(1);
    assert_eq!(
        run.out(),
        "→ 0001_initial... done (…)\n→ 0002_add_post_status... done (…)\n→ 0003_broken... failed\n"
    );
    assert!(
        run.stderr
            .starts_with("error: migration `0003_broken` failed at operation 1 (")
            && run.stderr.contains("SELEC 1"),
        "{}",
        run.stderr
    );
    assert_eq!(
        p.sqlite("SELECT id FROM _chakra_migrations ORDER BY seq"),
        "0001_initial\n0002_add_post_status\n"
    );
}

#[test]
fn quiet_apply_prints_nothing_but_sql_is_still_printed() {
    let p = Project::with_sqlite();
    p.run(&["-q", "migrate", "apply"]).ok();
    assert_eq!(p.run(&["migrate", "apply", "-q"]).ok().stdout, "");
    assert_eq!(p.run(&["migrate", "rollback", "-q"]).ok().stdout, "");
    assert_eq!(p.tables(), ALL_TABLES);
    let sql = p.run(&["-q", "migrate", "sql", "0001_initial"]).ok().stdout;
    assert!(
        sql.starts_with("-- 0001_initial (apply, sqlite)\n"),
        "{sql}"
    );
}

// ---------------------------------------------------------------------------------------------
// sql without a database

#[test]
fn sql_needs_no_database_in_every_dialect() {
    let p = Project::new();
    let cases = [
        ("postgres", "\"posts\"", "\"status\""),
        ("mysql", "`posts`", "`status`"),
        ("sqlite", "\"posts\"", "\"status\""),
    ];
    for (dialect, posts, status) in cases {
        let args = [
            "migrate",
            "sql",
            "0002_add_post_status",
            "--dialect",
            dialect,
        ];
        assert_eq!(
            p.run(&args).ok().stdout,
            format!(
                "-- 0002_add_post_status (apply, {dialect})\n-- + AddField Post.status\n\
                 ALTER TABLE {posts} ADD COLUMN {status} VARCHAR(20) NOT NULL DEFAULT 'draft';\n"
            )
        );
        assert_eq!(
            p.run(&[&args[..], &["--reverse"]].concat()).ok().stdout,
            format!(
                "-- 0002_add_post_status (rollback, {dialect})\n-- undo + AddField Post.status\n\
                 ALTER TABLE {posts} DROP COLUMN {status};\n"
            )
        );
    }
    assert_eq!(p.db_files(), Vec::<String>::new());
}

#[test]
fn sql_follows_the_dialect_of_a_server_url_this_build_cannot_connect_to() {
    let p = Project::new();
    let run = p.run(&[
        "--database-url",
        "postgres://app:secret@db/app",
        "migrate",
        "sql",
        "0002_add_post_status",
    ]);
    assert_eq!(
        first_line(&run.ok().stdout),
        "-- 0002_add_post_status (apply, postgres)"
    );
    let stdout = p
        .run_env(
            "mysql://app@db/app",
            &["migrate", "sql", "0002_add_post_status"],
        )
        .ok()
        .stdout;
    assert!(
        stdout.contains("ALTER TABLE `posts` ADD COLUMN `status`"),
        "{stdout}"
    );
}

#[test]
fn sql_of_an_unknown_migration_fails() {
    let stderr = Project::new().run(&["migrate", "sql", "0009_nope"]).fails();
    assert_eq!(
        stderr,
        "error: no migration `0009_nope`; `migrate status` lists them\n"
    );
}

// ---------------------------------------------------------------------------------------------
// Where the database URL comes from

#[test]
fn flag_beats_environment_beats_config() {
    let p = Project::with_config("[database]\nurl = \"sqlite://config.db\"\n");
    let flag = [
        "--database-url",
        "sqlite://flag.db",
        "migrate",
        "apply",
        "-q",
    ];
    p.run_env("sqlite://env.db", &flag).ok();
    assert_eq!(p.db_files(), ["flag.db"]);

    p.run_env("sqlite://env.db", &["migrate", "apply", "-q"])
        .ok();
    assert_eq!(p.db_files(), ["env.db", "flag.db"]);

    p.run(&["migrate", "apply", "-q"]).ok();
    assert_eq!(p.db_files(), ["config.db", "env.db", "flag.db"]);
}

#[test]
fn dotenv_in_the_project_root_is_read_and_the_environment_wins_over_it() {
    let p = Project::with_config("[database]\nurl = \"sqlite://config.db\"\n");
    p.write(".env", "DATABASE_URL=sqlite://dotenv.db\n");
    p.run(&["migrate", "apply", "-q"]).ok();
    assert_eq!(p.db_files(), ["dotenv.db"]);

    // From another folder with -c: the .env next to chakra.toml, not the current folder's.
    let elsewhere = Project::empty();
    elsewhere.write(".env", "DATABASE_URL=sqlite://wrong.db\n");
    let config = p.path("chakra.toml");
    let config = config.to_str().expect("a UTF-8 path");
    elsewhere
        .run(&["-c", config, "migrate", "apply", "-q"])
        .ok();
    assert_eq!(p.db_files(), ["dotenv.db"]);
    assert_eq!(elsewhere.db_files(), Vec::<String>::new());

    p.run_env("sqlite://env.db", &["migrate", "apply", "-q"])
        .ok();
    assert_eq!(p.db_files(), ["dotenv.db", "env.db"]);
}

#[test]
fn relative_sqlite_path_resolves_against_the_config_folder_from_a_subfolder() {
    let p = Project::with_sqlite();
    fs::create_dir_all(p.path("src/deeper")).expect("create a subfolder");
    p.run_in(&p.path("src/deeper"), &["migrate", "apply"]).ok();
    assert!(p.path(DB).is_file(), "the database is next to chakra.toml");
    assert!(!p.path("src/deeper").join(DB).exists());
    assert_eq!(p.tables(), ALL_TABLES);
}

#[test]
fn config_flag_from_another_folder_resolves_against_the_config_folder() {
    let p = Project::with_sqlite();
    let elsewhere = Project::empty();
    let name = p.root.file_name().expect("a folder name").to_string_lossy();
    let config = format!("../{name}/chakra.toml");
    let run = elsewhere.run(&["-c", &config, "migrate", "apply"]).ok();
    assert_eq!(run.out(), APPLIED_BOTH);
    assert!(p.path(DB).is_file());
    assert!(!elsewhere.path(DB).exists());

    let run = p
        .run_in(&elsewhere.root, &["--config", &config, "migrate", "status"])
        .ok();
    assert_eq!(run.out(), STATUS_APPLIED);
}

#[test]
fn missing_config_file_named_by_the_flag_fails() {
    let stderr = Project::new()
        .run(&["-c", "nope.toml", "migrate", "status"])
        .fails();
    assert_eq!(
        stderr,
        "error: configuration file `nope.toml` does not exist; create it with `chakra init` or fix --config\n"
    );
}

#[test]
fn no_database_configured_says_how_to_configure_one() {
    let p = Project::new();
    for command in ["apply", "rollback", "status"] {
        assert_eq!(p.run(&["migrate", command]).fails(), NO_DATABASE);
    }
    // With a chakra.toml that has no [database], the message names it.
    p.write("chakra.toml", "[migrations]\ndirectory = \"migrations\"\n");
    let stderr = p.run(&["migrate", "apply"]).fails();
    let file = p.path("chakra.toml");
    assert!(
        stderr.ends_with(&format!(
            "\n\nto `{}` (`chakra init` writes one)\n",
            file.display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("--database-url")
            && stderr.contains("DATABASE_URL")
            && stderr.contains("[database]")
    );
}

// ---------------------------------------------------------------------------------------------
// Bad inputs: a clear error, exit 1, no panic

#[test]
fn config_with_a_toml_syntax_error_names_file_line_and_column() {
    let p = Project::with_config("[database]\nurl = \"sqlite://db.sqlite3\n");
    let stderr = p.run(&["migrate", "status"]).fails();
    let file = p.path("chakra.toml");
    assert_eq!(
        first_line(&stderr),
        format!(
            "error: {}:2:27: invalid basic string, expected `\"`",
            file.display()
        )
    );
    assert!(
        stderr.contains("\n2 | url = \"sqlite://db.sqlite3\n"),
        "{stderr}"
    );
}

#[test]
fn config_with_an_unknown_key_names_it() {
    let p = Project::with_config("[database]\nurl = \"sqlite://db.sqlite3\"\nfoo = 1\n");
    let stderr = p.run(&["migrate", "status"]).fails();
    let file = p.path("chakra.toml");
    assert_eq!(
        first_line(&stderr),
        format!(
            "error: {}:3:1: unknown field `foo`, expected `url`",
            file.display()
        )
    );
}

#[test]
fn unknown_url_scheme_is_refused() {
    let p = Project::with_config("[database]\nurl = \"mongodb://x\"\n");
    let expected = "error: invalid database URL `mongodb://x`: the URL must start with sqlite:, postgres:// or \
                    mysql:// (for example `sqlite://db.sqlite3`)\n";
    assert_eq!(p.run(&["migrate", "apply"]).fails(), expected);
    assert_eq!(p.run(&["migrate", "status"]).fails(), expected);
    let stderr = p.run(&["migrate", "sql", "0001_initial"]).fails();
    assert_eq!(
        stderr,
        format!(
            "error: cannot tell the SQL dialect from the database URL `mongodb://x` (it comes from `[database] url` \
             in `{}`); fix it, or pass --dialect postgres|mysql|sqlite\n",
            p.path("chakra.toml").display()
        )
    );
}

#[test]
fn sqlite_file_in_a_missing_folder_is_explained() {
    let p = Project::with_config("[database]\nurl = \"sqlite:///nonexistent-dir/x/db.sqlite3\"\n");
    let stderr = p.run(&["migrate", "apply"]).fails();
    assert_eq!(
        stderr,
        format!(
            "error: cannot create the SQLite database `/nonexistent-dir/x/db.sqlite3`: the folder `/nonexistent-dir/x` \
             does not exist; create it, or fix the database URL (it comes from `[database] url` in `{}`)\n",
            p.path("chakra.toml").display()
        )
    );
    // status reads without creating anything.
    assert_eq!(p.run(&["migrate", "status"]).ok().stdout, STATUS_PENDING);
    assert!(!Path::new("/nonexistent-dir").exists());
}

#[test]
fn sqlite_path_that_is_a_folder_fails_cleanly() {
    let p = Project::new();
    fs::create_dir(p.path("folder.db")).expect("create a folder");
    let stderr = p
        .run(&["--database-url", "sqlite://folder.db", "migrate", "apply"])
        .fails();
    let url = format!("sqlite://{}", p.path("folder.db").display());
    assert!(
        stderr.starts_with(&format!("error: cannot connect to `{url}`: ")),
        "{stderr}"
    );
}

#[test]
fn read_only_database_fails_before_any_migration_starts() {
    let p = Project::new();
    p.write("ro.db", "");
    let stderr = p
        .run(&[
            "--database-url",
            "sqlite://ro.db?mode=ro",
            "migrate",
            "apply",
        ])
        .fails();
    assert_eq!(
        stderr,
        "error: database error while creating the history table: error returned from database: (code: 8) \
         attempt to write a readonly database\n"
    );
}

#[test]
fn migration_with_a_toml_syntax_error_names_file_and_line() {
    let p = Project::with_sqlite();
    let line = 1 + p
        .read(INITIAL)
        .lines()
        .position(|l| l == "type = \"BigInteger\"")
        .expect("a BigInteger field");
    p.edit(INITIAL, "type = \"BigInteger\"", "type = \"BigInteger");
    let stderr = p.run(&["migrate", "apply"]).fails();
    assert_eq!(
        first_line(&stderr),
        format!("error: {INITIAL}:{line}:19: invalid basic string, expected `\"`")
    );
    assert!(!p.path(DB).exists(), "nothing ran");
}

#[test]
fn migration_with_an_unknown_operation_type_names_it() {
    let p = Project::with_sqlite();
    p.edit(ADD_STATUS, "type = \"AddField\"", "type = \"AddFieldz\"");
    let stderr = p.run(&["migrate", "status"]).fails();
    // Paths inside the current folder are shown relative to it.
    let expected =
        format!("error: {ADD_STATUS}:11:8: unknown variant `AddFieldz`, expected one of ");
    assert!(first_line(&stderr).starts_with(&expected), "{stderr}");
}

#[test]
fn misnamed_migration_file_is_refused() {
    let p = Project::with_sqlite();
    fs::rename(p.path(INITIAL), p.path("migrations/initial.toml")).expect("rename");
    let stderr = p.run(&["migrate", "apply"]).fails();
    assert_eq!(
        stderr,
        "error: migrations/initial.toml: not a migration file name: names look like `0001_initial.toml` (four \
         digits, `_`, lowercase name); rename or move the file\n"
    );
    assert!(!p.path(DB).exists(), "nothing ran");
}

#[test]
fn dependency_on_a_missing_migration_is_refused_before_anything_runs() {
    let p = Project::with_sqlite();
    p.add_migration("0003_more", &["0002_add_post_status", "0099_missing"], "");
    let stderr = p.run(&["migrate", "apply"]).fails();
    assert_eq!(
        stderr,
        "error: migration `0003_more` depends on `0099_missing`, which does not exist; restore the missing file \
         or fix `dependencies`\n"
    );
    assert!(!p.path(DB).exists(), "nothing ran");
}

/// The blog project with both migrations applied and then `0001_initial` edited.
fn applied_then_edited() -> Project {
    let p = Project::with_sqlite();
    p.run(&["migrate", "apply", "-q"]).ok();
    p.edit(INITIAL, "max_length = 50", "max_length = 60");
    p
}

const EDITED: &str = "applied migration `0001_initial` differs from what was applied (checksum ";

#[test]
fn edited_applied_migration_stops_apply() {
    let p = applied_then_edited();
    p.add_migration(
        "0003_more",
        &["0002_add_post_status"],
        "[[operations]]\ntype = \"RunSQL\"\nforward = \"CREATE TABLE t (x)\"\nreverse = \"DROP TABLE t\"\n",
    );
    let stderr = p.run(&["migrate", "apply"]).fails();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(
        lines[0].starts_with(&format!("error: {EDITED}")),
        "{stderr}"
    );
    assert!(
        lines[1].starts_with("Nothing was run. Restore the original files from version control")
    );
    assert!(
        !p.tables().contains(&"t".to_owned()),
        "0003_more did not run"
    );
}

#[test]
fn status_after_editing_an_applied_migration_shows_the_problem_and_exits_1() {
    let p = applied_then_edited();
    let run = p.run(&["migrate", "status"]).code(1);
    let out = run.out();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "  Applied   0001_initial          <time> (…)");
    assert!(lines[1].starts_with(&format!("      ! {EDITED}")), "{out}");
    assert_eq!(
        lines[2..],
        [
            "  Applied   0002_add_post_status  <time> (…)",
            "2 applied, 0 pending"
        ]
    );
}

#[test]
fn crlf_and_bom_copy_of_an_applied_migration_is_the_same_migration() {
    let p = Project::with_sqlite();
    p.run(&["migrate", "apply", "-q"]).ok();
    let crlf = p.read(INITIAL).replace('\n', "\r\n");
    p.write(INITIAL, format!("\u{feff}{crlf}"));
    assert_eq!(
        p.run(&["migrate", "apply"]).ok().stdout,
        "No migrations to apply.\n"
    );
    assert_eq!(p.run(&["migrate", "status"]).ok().out(), STATUS_APPLIED);
}

// ---------------------------------------------------------------------------------------------
// Usage errors and help

#[test]
fn unknown_subcommand_is_a_usage_error() {
    let stderr = Project::new().run(&["frobnicate"]).usage_error();
    assert_eq!(
        first_line(&stderr),
        "error: unrecognized subcommand 'frobnicate'"
    );
}

#[test]
fn count_with_to_is_a_usage_error() {
    let p = Project::with_sqlite();
    let stderr = p
        .run(&["migrate", "rollback", "--count", "1", "--to", "zero"])
        .usage_error();
    assert_eq!(
        first_line(&stderr),
        "error: the argument '--count <N>' cannot be used with '--to <ID|zero>'"
    );
    let stderr = p
        .run(&["migrate", "rollback", "--count", "0"])
        .usage_error();
    assert_eq!(
        first_line(&stderr),
        "error: invalid value '0' for '--count <N>': must be at least 1"
    );
    let stderr = p
        .run(&["migrate", "sql", "0001_initial", "--dialect", "oracle"])
        .usage_error();
    assert!(
        first_line(&stderr).starts_with("error: invalid value 'oracle' for '--dialect <DIALECT>'")
    );
    assert!(!p.path(DB).exists());
}

#[test]
fn help_exits_0() {
    let run = Project::new().run(&["--help"]).ok();
    assert!(
        run.stdout.starts_with("The chakra command line"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("\n  init     Write a starter chakra.toml and the migrations folder\n")
    );
}

#[test]
fn migrate_help_snapshot() {
    insta::assert_snapshot!(Project::new().run(&["migrate", "--help"]).ok().stdout);
}

#[test]
fn migrate_apply_help_snapshot() {
    insta::assert_snapshot!(
        Project::new()
            .run(&["migrate", "apply", "--help"])
            .ok()
            .stdout
    );
}

#[test]
fn make_without_a_manage_binary_explains_how_to_run_it() {
    let p = Project::with_sqlite();
    let stderr = p.run(&["migrate", "make"]).fails();
    assert_eq!(
        stderr,
        "error: `migrate make` needs your models, which live in your project's manage binary. Either run it there \
         (`cargo run --bin manage -- migrate make`) or name the binary in chakra.toml:\n\n[project]\nmanage = \"manage\"\n"
    );
}

/// A manage binary cargo cannot build (here: no Cargo.toml at all) is a failure of Chakra's
/// (exit 1, with what to check), not cargo's exit code 101.
#[test]
fn make_through_a_manage_binary_that_does_not_build_says_what_to_check() {
    let p = Project::with_config("[project]\nmanage = \"manage\"\n");
    let run = p.run(&["migrate", "make"]).code(1);
    assert!(
        run.stderr
            .contains("could not build or run the manage binary `manage` (cargo exited with 101")
            && run.stderr.contains("`[project] manage` in chakra.toml"),
        "{run:#?}"
    );
}

// ---------------------------------------------------------------------------------------------
// --format json

#[test]
fn json_status_lists_every_migration() {
    let p = Project::with_sqlite();
    p.run(&["migrate", "apply", "-q", "0001_initial"]).ok();
    let json = p
        .run(&["migrate", "status", "--format", "json"])
        .ok()
        .json();
    assert_eq!(json["ok"], true);
    let rows = json["migrations"]
        .as_array()
        .expect("migrations is an array");
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["app"], "default");
    assert_eq!(rows[0]["id"], "0001_initial");
    assert_eq!(rows[0]["status"], "applied");
    assert_eq!(rows[0]["checksum"].as_str().map(str::len), Some(64));
    assert!(
        rows[0]["applied_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    assert!(rows[0]["execution_time_ms"].is_i64());
    assert_eq!(rows[0]["problem"], Value::Null);
    assert_eq!(rows[1]["id"], "0002_add_post_status");
    assert_eq!(rows[1]["status"], "pending");
    assert_eq!(rows[1]["applied_at"], Value::Null);
    assert_eq!(rows[1]["checksum"], Value::Null);
}

#[test]
fn json_status_reports_an_edited_migration() {
    let p = applied_then_edited();
    let json = p
        .run(&["migrate", "status", "--format", "json"])
        .code(1)
        .json();
    assert_eq!(json["ok"], false);
    let problem = json["migrations"][0]["problem"]
        .as_str()
        .expect("a problem");
    assert!(problem.starts_with(EDITED), "{problem}");
    assert_eq!(json["migrations"][1]["problem"], Value::Null);
}

#[test]
fn json_apply_and_rollback_list_what_ran() {
    let p = Project::with_sqlite();
    let json = p.run(&["migrate", "apply", "--format", "json"]).ok().json();
    assert_eq!(json["ok"], true);
    let applied = json["applied"].as_array().expect("applied is an array");
    assert_eq!(
        ids(&json["applied"]),
        ["0001_initial", "0002_add_post_status"]
    );
    assert!(
        applied
            .iter()
            .all(|m| m["app"] == "default" && m["fake"] == false && m["elapsed_ms"].is_u64())
    );

    let json = p.run(&["migrate", "apply", "--format", "json"]).ok().json();
    assert_eq!(json, serde_json::json!({ "ok": true, "applied": [] }));

    let json = p
        .run(&["migrate", "rollback", "--format", "json", "--to", "zero"])
        .ok()
        .json();
    assert_eq!(json["ok"], true);
    assert_eq!(
        ids(&json["rolled_back"]),
        ["0002_add_post_status", "0001_initial"]
    );

    let json = p
        .run(&["migrate", "apply", "--fake", "--format", "json"])
        .ok()
        .json();
    assert!(
        json["applied"]
            .as_array()
            .is_some_and(|a| a.len() == 2 && a.iter().all(|m| m["fake"] == true))
    );
}

#[test]
fn json_dry_run_lists_the_statements() {
    let p = Project::with_sqlite();
    let json = p
        .run(&["migrate", "apply", "--dry-run", "--format", "json"])
        .ok()
        .json();
    assert_eq!(json["ok"], true);
    assert_eq!(json["dry_run"], true);
    assert_eq!(json["migrations"][1]["id"], "0002_add_post_status");
    assert_eq!(
        json["migrations"][1]["statements"],
        serde_json::json!([
            "ALTER TABLE \"posts\" ADD COLUMN \"status\" VARCHAR(20) NOT NULL DEFAULT 'draft'"
        ])
    );
    assert!(!p.path(DB).exists());
}

#[test]
fn json_sql_gives_the_statements() {
    let p = Project::new();
    let args = [
        "migrate",
        "sql",
        "0002_add_post_status",
        "--dialect",
        "mysql",
        "--reverse",
        "--format",
        "json",
    ];
    let json = p.run(&args).ok().json();
    assert_eq!(
        json,
        serde_json::json!({
            "ok": true,
            "app": "default",
            "id": "0002_add_post_status",
            "dialect": "mysql",
            "direction": "reverse",
            "statements": ["ALTER TABLE `posts` DROP COLUMN `status`"],
        })
    );
}

#[test]
fn json_error_is_a_document_on_stdout_and_a_message_on_stderr() {
    let p = Project::new();
    let run = p.run(&["migrate", "apply", "--format", "json"]).code(1);
    assert_eq!(run.stderr, NO_DATABASE);
    let json = run.json();
    assert_eq!(json["ok"], false);
    assert!(
        json["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("no database configured: pass --database-url"))
    );
    assert_eq!(json["causes"], serde_json::json!([]));
}

#[test]
fn verbose_apply_prints_each_statement_as_it_runs() {
    let p = Project::with_sqlite();
    let out = p.run(&["-v", "migrate", "apply"]).ok().out();
    assert!(
        out.contains(
            "→ 0001_initial...\n    -- + CreateModel User (users)\n    CREATE TABLE \"users\" ("
        ),
        "{out}"
    );
    assert!(out.contains("    ALTER TABLE \"posts\" ADD COLUMN \"status\" VARCHAR(20) NOT NULL DEFAULT 'draft';\n  done ("), "{out}");
}

#[test]
fn relative_sqlite_path_from_the_flag_or_environment_resolves_against_the_current_folder() {
    let p = Project::with_sqlite();
    let sub = p.path("sub");
    fs::create_dir_all(&sub).expect("mkdir");
    p.run_in(
        &sub,
        &["--database-url", "sqlite://flag.db", "migrate", "apply"],
    )
    .ok();
    assert!(
        sub.join("flag.db").exists(),
        "relative to where the command runs"
    );
    Run::of(
        p.cmd()
            .current_dir(&sub)
            .env("DATABASE_URL", "sqlite://env.db")
            .args(["migrate", "apply"]),
    )
    .ok();
    assert!(sub.join("env.db").exists());
    assert!(!p.path(DB).exists(), "chakra.toml's database is not used");
}

#[test]
fn sqlite_url_without_a_file_is_refused() {
    let p = Project::with_sqlite();
    let err = p
        .run(&["--database-url", "sqlite://", "migrate", "apply"])
        .fails();
    assert!(err.contains("names no SQLite file"), "{err}");
    assert!(err.contains("--database-url"), "{err}");
}

#[test]
fn dry_run_with_nothing_to_do_says_so() {
    let p = Project::with_sqlite();
    p.run(&["migrate", "apply"]).ok();
    assert_eq!(
        p.run(&["migrate", "apply", "--dry-run"]).ok().out(),
        "-- no migrations to apply\n"
    );
    p.run(&["migrate", "rollback", "--to", "zero"]).ok();
    assert_eq!(
        p.run(&["migrate", "rollback", "--dry-run"]).ok().out(),
        "-- no migrations to roll back\n"
    );
}

#[test]
fn status_with_an_edited_file_explains_on_stderr() {
    let p = applied_then_edited();
    let run = p.run(&["migrate", "status"]).code(1);
    assert!(
        run.stdout
            .contains("! applied migration `0001_initial` differs from what was applied"),
        "{run:#?}"
    );
    assert!(
        run.stderr.contains(
            "1 applied migration file(s) changed, renamed or deleted since they were applied"
        ),
        "{run:#?}"
    );
}

#[test]
fn protected_database_refuses_data_loss_until_allowed() {
    let p = Project::with_config(&format!("{DB_CONFIG}\n[migrations]\nprotected = true\n"));
    p.run(&["migrate", "apply"]).ok();
    let err = p.run(&["migrate", "rollback"]).fails();
    assert!(err.contains("protected"), "{err}");
    assert!(
        err.contains("RemoveField Post.status: drops column `posts`.`status`"),
        "{err}"
    );
    assert!(err.contains("--allow-data-loss"), "{err}");
    assert!(p.has_status_column(), "nothing ran");
    p.run(&["migrate", "rollback", "--allow-data-loss"]).ok();
    assert!(!p.has_status_column());
}

#[test]
fn rollback_fake_forgets_without_running() {
    let p = Project::with_sqlite();
    p.run(&["migrate", "apply"]).ok();
    let out = p.run(&["migrate", "rollback", "--fake"]).ok().out();
    assert!(out.contains("← 0002_add_post_status... faked ("), "{out}");
    assert!(p.has_status_column(), "the column stays");
    assert_eq!(
        p.sqlite("SELECT id FROM _chakra_migrations"),
        "0001_initial\n"
    );
}

#[tokio::test]
async fn mysql_dry_run_shows_progress_per_operation_instead_of_one_transaction() {
    let Some(db) = chakra_tests::TestDb::new(chakra_tests::Engine::Mysql).await else {
        return;
    };
    let p = Project::new();
    let out = p
        .run(&[
            "--database-url",
            &db.url,
            "migrate",
            "apply",
            "--dry-run",
            "0001_initial",
        ])
        .ok()
        .stdout;
    assert!(!out.contains("BEGIN"), "{out}");
    assert!(
        out.starts_with(
            "-- 0001_initial (apply)\n-- record 0001_initial as applying (progress 0) in `_chakra_migrations`\n"
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "UPDATE `_chakra_migrations` SET `progress` = 1 WHERE `app` = 'default' AND `id` = '0001_initial';"
        ),
        "{out}"
    );
}

#[test]
fn a_data_migration_needs_the_binary_that_registers_it() {
    let p = Project::with_sqlite();
    let blog = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/blog/migrations/0003_backfill_slugs.toml");
    fs::copy(blog, p.path("migrations/0003_backfill_slugs.toml")).expect("copy 0003");
    let err = p.run(&["migrate", "apply"]).fails();
    assert!(
        err.contains(
            "runs the Rust function `blog.backfill_slugs`, which this binary does not contain"
        ),
        "{err}"
    );
    assert!(err.contains("Nothing was run"), "{err}");
    assert!(
        !p.path(DB).exists() || p.tables().len() <= 1,
        "nothing was applied"
    );
    let sql = p
        .run(&["migrate", "sql", "0003_backfill_slugs"])
        .ok()
        .stdout;
    assert!(
        sql.contains("-- calls the Rust function `blog.backfill_slugs`"),
        "{sql}"
    );
}

/// The blog migrations, the blog's snapshot and a SQLite database, with `chakra.sum` written.
fn verified_project() -> Project {
    let p = Project::with_sqlite();
    let snapshot =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/blog/.chakra/snapshot.toml");
    p.write(
        ".chakra/snapshot.toml",
        fs::read(snapshot).expect("blog snapshot"),
    );
    p.run(&["migrate", "verify", "--update-sum"]).ok();
    p
}

#[test]
fn verify_passes_on_untouched_files_and_names_what_changed_behind_its_back() {
    let p = verified_project();
    p.run(&["migrate", "apply"]).ok();
    let out = p.run(&["migrate", "verify"]).ok().out();
    let (files, audit) = out.rsplit_once("✓ the history").expect("an audit check");
    assert_eq!(
        files,
        "✓ 2 migration files form a valid graph\n\
         ✓ chakra.sum lists every migration file with its checksum\n\
         ✓ .chakra/snapshot.toml matches the migration files\n\
         ✓ the database history (2 migrations) matches the files\n"
    );
    assert!(
        audit.starts_with(" and its audit log (2 entries, head ")
            && audit.ends_with(") are untampered\n"),
        "{audit}"
    );

    p.edit(ADD_STATUS, "max_length = 20", "max_length = 25");
    let run = p.run(&["migrate", "verify"]).code(1);
    assert!(run.stdout.contains("✗ chakra.sum lists every migration file with its checksum\n    0002_add_post_status.toml was changed since chakra.sum was written"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("applied migration `0002_add_post_status` differs from what was applied"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("✗ .chakra/snapshot.toml matches the migration files"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("migrate verify --update-sum"),
        "{}",
        run.stderr
    );

    fs::remove_file(p.path(ADD_STATUS)).expect("rm");
    p.add_migration("0002_other", &["0001_initial"], "");
    let out = p.run(&["migrate", "verify"]).code(1).stdout;
    assert!(
        out.contains("0002_other.toml is not listed in chakra.sum"),
        "{out}"
    );
    assert!(
        out.contains("0002_add_post_status.toml is listed in chakra.sum but its file is gone"),
        "{out}"
    );
}

#[test]
fn verify_json_lists_every_check() {
    let p = verified_project();
    let doc = p
        .run(&["--format", "json", "migrate", "verify"])
        .ok()
        .json();
    assert_eq!(doc["ok"], true);
    let checks = doc["checks"].as_array().expect("checks");
    assert_eq!(checks.len(), 5);
    assert!(checks.iter().all(|c| c["ok"] == true), "{doc}");
}

#[test]
fn two_latest_migrations_are_refused_until_merged() {
    let p = Project::with_sqlite();
    p.add_migration(
        "0002_add_index",
        &["0001_initial"],
        "[[operations]]\ntype = \"CreateIndex\"\nmodel = \"User\"\ntable = \"users\"\nname = \"users_email_idx\"\nfields = [\"email\"]\n",
    );
    let err = p.run(&["migrate", "apply"]).fails();
    assert!(
        err.contains("2 latest migrations (0002_add_index, 0002_add_post_status)"),
        "{err}"
    );
    assert!(err.contains("run `migrate merge`"), "{err}");
    let out = p.run(&["migrate", "merge"]).ok().out();
    assert_eq!(
        out,
        "✓ Merged 0002_add_index and 0002_add_post_status (default)\n  migrations/0003_merge_add_index_add_post_status.toml\n"
    );
    let applied = p.run(&["migrate", "apply"]).ok().out();
    assert!(applied.contains("✓ Applied 4 migrations"), "{applied}");
    assert_eq!(
        p.run(&["migrate", "merge"]).ok().out(),
        "Nothing to merge: every app has one latest migration.\n"
    );
}

// ---------------------------------------------------------------------------------------------
// migrate drift

#[test]
fn drift_is_clean_after_apply_and_names_changes_made_by_hand() {
    let p = Project::with_sqlite();
    p.run(&["migrate", "apply", "-q", "0001_initial"]).ok();
    assert_eq!(
        p.run(&["migrate", "drift"]).ok().stdout,
        "✓ No drift: the database matches the 1 applied migration\n\
         1 pending migration(s) not compared (`migrate apply` applies them)\n"
    );
    p.run(&["migrate", "apply", "-q"]).ok();
    assert_eq!(
        p.run(&["migrate", "drift"]).ok().stdout,
        "✓ No drift: the database matches the 2 applied migrations\n"
    );
    let doc = p.run(&["--format", "json", "migrate", "drift"]).ok().json();
    assert_eq!(
        doc,
        serde_json::json!({
            "ok": true, "applied": 2, "pending": 0, "partial": [], "edited": [], "differences": []
        })
    );

    p.sqlite(
        "CREATE TABLE audit (id INTEGER); ALTER TABLE posts ADD COLUMN notes TEXT; DROP INDEX posts_slug_idx",
    );
    let run = p.run(&["migrate", "drift"]).code(1);
    assert_eq!(
        run.stdout,
        "audit\n  + table (no applied migration creates it)\n\
         posts\n  + column notes TEXT NULL\n  - index posts_slug_idx (slug)\n"
    );
    assert!(
        run.stderr.starts_with(
            "error: the database differs from the schema of its 2 applied migrations (3 differences)"
        ),
        "{}",
        run.stderr
    );
    let run = p.run(&["--format", "json", "migrate", "drift"]).code(1);
    let doc = run.json();
    assert_eq!(doc["ok"], false);
    assert_eq!(
        doc["differences"],
        serde_json::json!([
            {"table": "audit", "change": "extra", "object": "table", "name": null, "aspect": null,
             "expected": null, "found": "(id)"},
            {"table": "posts", "change": "extra", "object": "column", "name": "notes", "aspect": null,
             "expected": null, "found": "TEXT NULL"},
            {"table": "posts", "change": "missing", "object": "index", "name": "posts_slug_idx",
             "aspect": null, "expected": "(slug)", "found": null},
        ])
    );
}

#[test]
fn drift_reports_a_changed_column_and_needs_a_database() {
    let p = Project::with_sqlite();
    p.run(&["migrate", "apply", "-q"]).ok();
    // A hand-made table rebuild: `views` becomes BIGINT and nullable.
    let create = p.sqlite("SELECT sql FROM sqlite_master WHERE name = 'posts'");
    let rebuilt = create
        .trim()
        .replacen("CREATE TABLE \"posts\"", "CREATE TABLE \"posts_new\"", 1)
        .replacen(
            "\"views\" INTEGER NOT NULL DEFAULT 0",
            "\"views\" BIGINT DEFAULT 0",
            1,
        );
    assert!(rebuilt.contains("\"views\" BIGINT DEFAULT 0"), "{create}");
    p.sqlite(&format!(
        "PRAGMA foreign_keys = OFF; {rebuilt}; INSERT INTO posts_new SELECT * FROM posts; DROP TABLE posts; \
         ALTER TABLE posts_new RENAME TO posts; CREATE INDEX posts_author_created ON posts (author_id, created_at); \
         CREATE INDEX posts_slug_idx ON posts (slug)"
    ));
    assert_eq!(
        p.run(&["migrate", "drift"]).code(1).stdout,
        "posts\n  ~ column views: type expected INTEGER, found BIGINT\n  \
         ~ column views: nullability expected NOT NULL, found NULL\n"
    );

    let no_db = Project::new();
    assert_eq!(no_db.run(&["migrate", "drift"]).fails(), NO_DATABASE);
}

// ---------------------------------------------------------------------------------------------
// migrate squash

const SQUASHED: &str = "0001_squashed_0002_add_post_status";

#[test]
fn squash_writes_one_migration_that_old_and_new_databases_both_accept() {
    let p = verified_project();
    // An old database: the migrations the squash will replace are applied.
    p.run(&["migrate", "apply", "-q"]).ok();
    let out = p.run(&["migrate", "squash", "default", "0002"]).ok().out();
    assert!(
        out.starts_with(&format!(
            "✓ Squashed 2 migrations of default into migrations/{SQUASHED}.toml\n  \
             replaces 0001_initial, 0002_add_post_status\n  \
             6 operations optimized to 5:\n    + CreateModel User (users)\n"
        )),
        "{out}"
    );
    assert!(out.contains("Next:\n  1. Review and commit"), "{out}");
    assert!(out.contains("Leave `replaces` in the squash"), "{out}");
    let squash = p.read(&format!("migrations/{SQUASHED}.toml"));
    assert!(
        squash.contains("replaces = [\n    \"0001_initial\",\n    \"0002_add_post_status\",\n]"),
        "{squash}"
    );

    // The old database counts the squash as applied and runs nothing.
    assert_eq!(
        p.run(&["migrate", "apply"]).ok().stdout,
        "No migrations to apply.\n"
    );
    assert_eq!(
        p.run(&["migrate", "status"]).ok().out(),
        format!(
            "  Applied   {SQUASHED}  <time> (…)\n      \
             squash of 2 migrations (0001_initial to 0002_add_post_status), recorded as those migrations\n\
             1 applied, 0 pending\n"
        )
    );
    p.run(&["migrate", "verify"]).ok();

    // A new database applies the squash alone.
    assert_eq!(
        p.run_env("sqlite://fresh.db", &["migrate", "apply"])
            .ok()
            .out(),
        format!("→ {SQUASHED}... done (…)\n✓ Applied 1 migration\n")
    );

    // Once every database is there, the replaced files go; both databases keep working.
    fs::remove_file(p.path(INITIAL)).expect("rm");
    fs::remove_file(p.path(ADD_STATUS)).expect("rm");
    p.run(&["migrate", "verify", "--update-sum"]).ok();
    for url in ["sqlite://db.sqlite3", "sqlite://fresh.db"] {
        assert_eq!(
            p.run_env(url, &["migrate", "apply"]).ok().stdout,
            "No migrations to apply.\n"
        );
        let doc = p
            .run_env(url, &["--format", "json", "migrate", "status"])
            .ok()
            .json();
        assert_eq!(ids(&doc["migrations"]), [SQUASHED], "{doc}");
        assert_eq!(doc["migrations"][0]["status"], "applied");
        assert_eq!(
            doc["migrations"][0]["replaces"],
            serde_json::json!(["0001_initial", "0002_add_post_status"])
        );
    }
    // Rolling the old database back past the squash removes the replaced migrations' rows.
    p.run(&["migrate", "rollback", "-q"]).ok();
    assert_eq!(p.sqlite("SELECT count(*) FROM _chakra_migrations"), "0\n");
}

#[test]
fn squash_json_dry_run_and_errors() {
    let p = verified_project();
    let doc = p
        .run(&[
            "--format",
            "json",
            "migrate",
            "squash",
            "default",
            "0001_initial",
            "0002_add_post_status",
            "--dry-run",
        ])
        .ok()
        .json();
    assert_eq!(doc["ok"], true);
    assert_eq!(doc["written"], false);
    assert_eq!(doc["id"], SQUASHED);
    assert_eq!(doc["path"], format!("migrations/{SQUASHED}.toml"));
    assert_eq!(
        doc["replaces"],
        serde_json::json!(["0001_initial", "0002_add_post_status"])
    );
    assert_eq!(doc["operations_before"], 6);
    assert_eq!(doc["operations_after"], 5);
    assert_eq!(doc["carried"], serde_json::json!([]));
    assert_eq!(doc["next_steps"].as_array().map(Vec::len), Some(3));
    assert!(!p.path(&format!("migrations/{SQUASHED}.toml")).exists());

    // A carried RunSQL is reported with the hint.
    p.add_migration(
        "0003_fix_status",
        &["0002_add_post_status"],
        "[[operations]]\ntype = \"RunSQL\"\nforward = \"UPDATE posts SET status = 'draft'\"\nreverse = \"SELECT 1\"\n",
    );
    p.run(&["migrate", "verify", "-q", "--update-sum"]).ok();
    let out = p
        .run(&["migrate", "squash", "default", "0003", "--name", "compact"])
        .ok()
        .out();
    assert!(
        out.contains(
            "  ! 1 RunSQL/RunRust operation(s) carried over:\n    \
             ~ RunSQL UPDATE posts SET status = 'draft' (from 0003_fix_status)\n    \
             RunSQL and RunRust cannot be optimized away"
        ),
        "{out}"
    );
    assert!(p.path("migrations/0001_compact.toml").exists());

    // Usage errors exit 2; a range that cannot be squashed exits 1 and says why.
    p.run(&["migrate", "squash", "default", "0003", "--name", "Bad"])
        .usage_error();
    p.run(&["migrate", "squash", "default", "0001", "0002", "0003"])
        .usage_error();
    let err = p.run(&["migrate", "squash", "default", "0009"]).fails();
    assert_eq!(
        err,
        "error: app `default` has no migration `0009`; `migrate status` lists them\n"
    );
    let err = p
        .run(&["migrate", "squash", "default", "0002", "0003_fix_status"])
        .fails();
    assert!(
        err.contains("is already squashed into `0001_compact`"),
        "{err}"
    );
    let run = p
        .run(&["--format", "json", "migrate", "squash", "default", "0009"])
        .code(1);
    assert_eq!(run.json()["ok"], false);
}

/// On a terminal, several migrations get a progress bar on stderr (`2/2` once done) with the
/// same lines as elsewhere above it; without a terminal, plain lines only.
#[test]
fn apply_shows_a_progress_bar_on_a_terminal_and_plain_lines_otherwise() {
    let p = Project::with_sqlite();
    let out = std::process::Command::new("script")
        .args([
            "-qec",
            &format!("{} migrate apply", env!("CARGO_BIN_EXE_chakra")),
            "/dev/null",
        ])
        .current_dir(&p.root)
        .env("NO_COLOR", "1")
        .env_remove("DATABASE_URL")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("the `script` command (util-linux) runs");
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{screen}");
    assert!(screen.contains(" 1/2 0002_add_post_status"), "{screen}");
    assert!(screen.contains(" 2/2 0002_add_post_status"), "{screen}");
    assert!(screen.contains("→ 0001_initial... done ("), "{screen}");
    assert!(screen.contains("✓ Applied 2 migrations"), "{screen}");

    p.run(&["migrate", "rollback", "--to", "zero"]).ok();
    let plain = p.run(&["migrate", "apply"]).ok();
    assert!(
        !plain.stdout.contains("/2") && !plain.stderr.contains("/2"),
        "{plain:#?}"
    );
    assert!(
        plain.stdout.starts_with("→ 0001_initial... done ("),
        "{plain:#?}"
    );
}
