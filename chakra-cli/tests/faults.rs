//! Fault injection, on every database: a `chakra migrate apply` process killed with SIGKILL in
//! the middle of a slow statement and at every operation boundary (the failpoints of
//! `CHAKRA_FAILPOINT`: after an operation's statements ran, and after its progress was
//! recorded), and a migration whose database connection is cut while it runs. In every case
//! the next `apply` must finish the job: the right schema, every migration recorded once, and
//! an audit log that verifies.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use chakra::executor::{Executor, ExecutorConfig};
use chakra::make::load_graph;
use chakra_tests::{Engine, TestDb, matrix_test};

/// A statement that runs for a few seconds on `engine`. MySQL/MariaDB's `SLEEP` is kept short:
/// the server only notices a vanished client when the statement ends, and holds the killed
/// session's migrator lock until then.
fn slow_statement(engine: Engine) -> &'static str {
    match engine {
        Engine::Postgres => "SELECT pg_sleep(60)",
        Engine::Mysql => "SELECT SLEEP(4)",
        Engine::Sqlite => {
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 400000000) SELECT count(*) FROM c"
        }
    }
}

const INITIAL: &str = r#"[migration]
id = "0001_initial"
app = "default"
dependencies = []
format = 1

[[operations]]
type = "CreateModel"
model = "Item"
table = "items"

[[operations.fields]]
name = "id"
type = "BigInteger"
primary_key = true
auto_increment = true
"#;

/// 0002: a column, then `middle` (a RunSQL), then another column.
fn second(middle: &str) -> String {
    format!(
        r#"[migration]
id = "0002_slow"
app = "default"
dependencies = ["0001_initial"]
format = 1

[[operations]]
type = "AddField"
model = "Item"
table = "items"
name = "first"
field_type = "Integer"
nullable = true

[[operations]]
type = "RunSQL"
forward = "{}"
reversible = true

[[operations]]
type = "AddField"
model = "Item"
table = "items"
name = "second"
field_type = "Integer"
nullable = true
"#,
        middle.replace('"', "\\\"")
    )
}

fn project(engine: Engine) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let migrations = dir.path().join("migrations");
    std::fs::create_dir_all(&migrations).expect("mkdir");
    std::fs::write(migrations.join("0001_initial.toml"), INITIAL).expect("write");
    std::fs::write(
        migrations.join("0002_slow.toml"),
        second(slow_statement(engine)),
    )
    .expect("write");
    dir
}

fn chakra(dir: &Path, url: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_chakra"));
    c.args(["--database-url", url])
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn apply(dir: &Path, url: &str) -> Output {
    chakra(dir, url)
        .args(["migrate", "apply"])
        .output()
        .expect("chakra runs")
}

/// Starts `apply` and returns once it is inside the slow statement of 0002.
async fn apply_until_slow(dir: &Path, db: &TestDb) -> Child {
    let child = chakra(dir, &db.url)
        .args(["migrate", "apply"])
        .spawn()
        .expect("start chakra");
    let started = Instant::now();
    // 0001 is committed and 0002 started once `items.first` is visible (on MySQL) or the
    // history has 0001 (everywhere); then give the slow statement a moment to begin.
    loop {
        let done = db
            .try_execute("SELECT 1 FROM _chakra_migrations WHERE id = '0001_initial'")
            .await
            .is_ok()
            && db
                .count("SELECT COUNT(*) FROM _chakra_migrations WHERE id = '0001_initial'")
                .await
                == 1;
        if done {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "0001 was never applied"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    child
}

/// After the fault: the next `apply` completes, and the schema, history and log are right.
async fn finish_and_check(dir: &Path, db: &TestDb) {
    // The fix a user would make: the slow statement is replaced (it had not completed, so
    // it may be edited even on MySQL, where the operation before it stays applied).
    finish_with(dir, db, &second("SELECT 1")).await;
}

/// [`finish_and_check`] with 0002 as `fixed`.
async fn finish_with(dir: &Path, db: &TestDb, fixed: &str) {
    std::fs::write(dir.join("migrations/0002_slow.toml"), fixed).expect("write");
    let out = apply(dir, &db.url);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the re-run failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("0002_slow... done"), "{stdout}");
    let columns = match db.engine {
        Engine::Sqlite => db.count("SELECT COUNT(*) FROM pragma_table_info('items')").await,
        Engine::Postgres => {
            db.count("SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'items'")
                .await
        }
        Engine::Mysql => {
            db.count("SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'items'")
                .await
        }
    };
    assert_eq!(columns, 3, "id, first and second");
    let mut exec = Executor::connect(&db.url, ExecutorConfig::default())
        .await
        .expect("connect");
    let history = exec.history().await.expect("history");
    assert_eq!(
        history
            .iter()
            .map(|r| (r.key.id.as_str(), r.status.as_str()))
            .collect::<Vec<_>>(),
        [("0001_initial", "applied"), ("0002_slow", "applied")]
    );
    let graph = load_graph(&dir.join("migrations")).expect("graph");
    assert!(
        exec.plan_apply(&graph, None)
            .await
            .expect("plan")
            .is_empty()
    );
    assert_eq!(
        exec.verify_history().await.expect("verify").problems,
        vec![]
    );
}

matrix_test!(
    a_migrator_killed_during_a_slow_statement_is_finished_by_the_next_run,
    |db| async move {
        let db: TestDb = db;
        let dir = project(db.engine);
        let mut child = apply_until_slow(dir.path(), &db).await;
        // SIGKILL: no destructor, no rollback, no unlock from the process.
        child.kill().expect("kill -9");
        let status = child.wait().expect("wait");
        assert!(!status.success());
        finish_and_check(dir.path(), &db).await;
    }
);

matrix_test!(
    a_connection_cut_during_a_migration_fails_cleanly_and_the_next_run_finishes,
    |db| async move {
        let db: TestDb = db;
        if db.engine == Engine::Sqlite {
            eprintln!(
                "skipped on SQLite: it has no connection to cut (the database is a file in the process)"
            );
            return;
        }
        let dir = project(db.engine);
        let child = apply_until_slow(dir.path(), &db).await;
        // The server drops the migrator's sessions (what a failover or a DBA's kill does).
        match db.engine {
            Engine::Postgres => {
                db.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE application_name = 'chakra' AND pid <> pg_backend_pid() AND datname = current_database()",
                )
                .await
            }
            _ => {
                let ids = db
                    .rows(
                        "SELECT CAST(id AS CHAR) FROM information_schema.processlist \
                         WHERE db = DATABASE() AND id <> CONNECTION_ID() AND info LIKE 'SELECT SLEEP%'",
                    )
                    .await;
                assert!(!ids.is_empty(), "the migration's session is running");
                for id in ids {
                    let id = id[0].clone().expect("an id");
                    db.execute(&format!("KILL {id}")).await;
                }
            }
        }
        let out = child.wait_with_output().expect("chakra ends");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains("0002_slow"),
            "the error names the migration: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
        finish_and_check(dir.path(), &db).await;
    }
);

/// Starts `apply` stopping at failpoint `point` the `n`-th time (see `CHAKRA_FAILPOINT`), and
/// kills it with SIGKILL once it says it is there. Returns false when the run ended without
/// reaching it.
fn kill_at(dir: &Path, url: &str, point: &str, n: usize) -> bool {
    use std::io::BufRead;
    let mut child = chakra(dir, url)
        .args(["migrate", "apply"])
        .env("CHAKRA_FAILPOINT", format!("{point}:{n}"))
        .spawn()
        .expect("start chakra");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if line.contains("failpoint") {
                let _ = tx.send(());
            }
        }
    });
    let reached = rx.recv_timeout(Duration::from_secs(30)).is_ok();
    // SIGKILL: no destructor, no rollback, no unlock from the process.
    let _ = child.kill();
    let _ = child.wait();
    reached
}

matrix_test!(
    a_migrator_killed_at_each_operation_boundary_is_finished_by_the_next_run,
    |db| async move {
        let db: TestDb = db;
        // Only MySQL/MariaDB (and non-atomic migrations) record progress per operation; on
        // PostgreSQL and SQLite a kill anywhere inside a migration rolls all of it back.
        let both: &[&str] = &["operation-ran", "operation-recorded"];
        let mut runs = vec![(
            second("SELECT 1"),
            if db.engine == Engine::Mysql {
                both
            } else {
                &both[..1]
            },
        )];
        if db.engine == Engine::Postgres {
            // A non-atomic migration runs step by step on PostgreSQL too.
            runs.push((
                second("SELECT 1").replace("format = 1\n", "format = 1\natomic = false\n"),
                both,
            ));
        }
        for (file, points) in &runs {
            for point in *points {
                // Hit 1 is 0001's only operation, hits 2 to 4 the three of 0002; on
                // PostgreSQL only 0002 (not atomic) records progress: hits 1 to 3.
                let last = if *point == "operation-recorded" && db.engine != Engine::Mysql {
                    3
                } else {
                    4
                };
                for n in 1..=last {
                    let fresh = TestDb::new(db.engine).await.expect("a database");
                    let dir = tempfile::tempdir().expect("temp dir");
                    let migrations = dir.path().join("migrations");
                    std::fs::create_dir_all(&migrations).expect("mkdir");
                    std::fs::write(migrations.join("0001_initial.toml"), INITIAL).expect("write");
                    std::fs::write(migrations.join("0002_slow.toml"), file).expect("write");
                    assert!(
                        kill_at(dir.path(), &fresh.url, point, n),
                        "{point}:{n} was reached on {:?}",
                        db.engine
                    );
                    finish_with(dir.path(), &fresh, file).await;
                }
            }
        }
    }
);
