//! The executor against real SQLite files: apply, rollback, targets, fake runs, failures,
//! tampered files, table rebuilds and racing migrators.
#![cfg(feature = "sqlite")]

use chakra::executor::{Event, Executor, ExecutorConfig, ExecutorError};
use chakra::graph::{Graph, MigrationKey};
use chakra::make::{MakeOptions, Paths, load_graph, make};
use chakra::operations::{Operation, RunSql};
use chakra::plan::{PlanError, RollbackTarget};
use chakra::state::{DefaultValue, FieldState, IndexState, ModelState};
use sqlx::{AssertSqlSafe, Row};
use tempfile::TempDir;

mod common;
use common::*;

struct Project {
    dir: TempDir,
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

    fn url(&self) -> String {
        format!("sqlite://{}", self.dir.path().join("db.sqlite3").display())
    }

    /// Runs `make` for `models` and returns the ids written.
    fn make(&self, models: Vec<ModelState>) -> Vec<String> {
        self.make_named(models, None)
    }

    fn make_named(&self, models: Vec<ModelState>, name: Option<&str>) -> Vec<String> {
        let opts = MakeOptions {
            name: name.map(str::to_owned),
            now: chrono::DateTime::from_timestamp(1_700_000_000, 0),
            ..MakeOptions::default()
        };
        make(&self.paths(), &state(models), &opts)
            .expect("make")
            .migrations
            .into_iter()
            .map(|m| m.migration.migration.id)
            .collect()
    }

    fn graph(&self) -> Graph {
        load_graph(&self.paths().migrations).expect("graph")
    }

    fn file(&self, id: &str) -> std::path::PathBuf {
        self.paths().migrations.join(format!("{id}.toml"))
    }

    async fn exec(&self) -> Executor {
        Executor::connect(&self.url(), ExecutorConfig::default())
            .await
            .expect("connect")
    }
}

fn key(id: &str) -> MigrationKey {
    MigrationKey::new("default", id)
}

async fn apply(p: &Project) -> Result<Vec<String>, ExecutorError> {
    let mut e = p.exec().await;
    let mut done = Vec::new();
    e.apply(&p.graph(), None, false, &mut |ev| {
        if let Event::Finished { key, .. } = ev {
            done.push(key.id);
        }
    })
    .await?;
    Ok(done)
}

async fn rollback(p: &Project, target: RollbackTarget) -> Result<Vec<String>, ExecutorError> {
    let mut e = p.exec().await;
    let mut done = Vec::new();
    e.rollback(&p.graph(), &target, false, &mut |ev| {
        if let Event::Finished { key, .. } = ev {
            done.push(key.id);
        }
    })
    .await?;
    Ok(done)
}

async fn tables(e: &mut Executor) -> Vec<String> {
    sqlx::query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .fetch_all(e.sqlite_connection().expect("a SQLite database"))
        .await
        .expect("tables")
        .iter()
        .map(|r| r.get::<String, _>(0))
        .collect()
}

async fn exec_sql(e: &mut Executor, sql: &str) {
    sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
        .execute(e.sqlite_connection().expect("a SQLite database"))
        .await
        .expect(sql);
}

async fn count(e: &mut Executor, sql: &str) -> i64 {
    sqlx::query(AssertSqlSafe(sql.to_owned()))
        .fetch_one(e.sqlite_connection().expect("a SQLite database"))
        .await
        .expect(sql)
        .get::<i64, _>(0)
}

fn with_email(mut m: ModelState) -> ModelState {
    m.fields.push(nullable(varchar("email", 255)));
    m
}

#[tokio::test]
async fn apply_then_rollback_to_zero_and_again() {
    let p = Project::new();
    assert_eq!(p.make(vec![user(), post()]), ["0001_initial"]);
    assert_eq!(
        p.make(vec![with_email(user()), post()]),
        ["0002_add_user_email"]
    );

    assert_eq!(
        apply(&p).await.expect("apply"),
        ["0001_initial", "0002_add_user_email"]
    );
    assert!(
        apply(&p).await.expect("second apply").is_empty(),
        "nothing pending"
    );

    let mut e = p.exec().await;
    assert_eq!(
        tables(&mut e).await,
        [
            "_chakra_migrations",
            "_chakra_migrations_log",
            "posts",
            "users"
        ]
    );
    let history = e.history().await.expect("history");
    assert_eq!(history.len(), 2);
    assert!(
        history
            .iter()
            .all(|r| r.checksum.len() == 64 && r.chain_hash.len() == 64)
    );
    assert_eq!(history[0].seq + 1, history[1].seq);

    // Rolling back the newest migration keeps the rows of untouched tables.
    exec_sql(&mut e, "INSERT INTO users (username, email) VALUES ('ann', 'a@x'); INSERT INTO posts (author_id, body) VALUES (1, 'hi')").await;
    assert_eq!(
        rollback(&p, RollbackTarget::Count(1))
            .await
            .expect("rollback"),
        ["0002_add_user_email"]
    );
    let mut e = p.exec().await;
    assert_eq!(count(&mut e, "SELECT COUNT(*) FROM posts").await, 1);
    assert_eq!(
        count(&mut e, "SELECT COUNT(*) FROM users WHERE username = 'ann'").await,
        1
    );
    assert_eq!(
        count(
            &mut e,
            "SELECT COUNT(*) FROM pragma_table_info('users') WHERE name = 'email'"
        )
        .await,
        0
    );

    assert_eq!(
        rollback(&p, RollbackTarget::Zero(None))
            .await
            .expect("to zero"),
        ["0001_initial"]
    );
    let mut e = p.exec().await;
    assert_eq!(
        tables(&mut e).await,
        ["_chakra_migrations", "_chakra_migrations_log"]
    );
    assert!(e.history().await.expect("history").is_empty());

    assert_eq!(apply(&p).await.expect("again").len(), 2);
}

#[tokio::test]
async fn apply_to_a_target_and_rollback_to_an_id() {
    let p = Project::new();
    p.make(vec![user()]);
    p.make(vec![with_email(user())]);
    p.make(vec![with_email(user()), post()]);
    let g = p.graph();
    let mut e = p.exec().await;
    e.apply(&g, Some(&key("0002_add_user_email")), false, &mut |_| {})
        .await
        .expect("apply");
    assert_eq!(e.history().await.expect("h").len(), 2);
    e.apply(&g, None, false, &mut |_| {})
        .await
        .expect("apply rest");
    assert_eq!(e.history().await.expect("h").len(), 3);
    e.rollback(
        &g,
        &RollbackTarget::To(key("0001_initial")),
        false,
        &mut |_| {},
    )
    .await
    .expect("rollback");
    let h = e.history().await.expect("h");
    assert_eq!(
        h.iter().map(|r| r.key.id.as_str()).collect::<Vec<_>>(),
        ["0001_initial"]
    );
    let err = e
        .apply(&g, Some(&key("0009_nope")), false, &mut |_| {})
        .await
        .unwrap_err();
    assert!(
        matches!(err, ExecutorError::Plan(PlanError::UnknownTarget(_))),
        "{err}"
    );
}

#[tokio::test]
async fn fake_records_without_running() {
    let p = Project::new();
    p.make(vec![user()]);
    let mut e = p.exec().await;
    e.apply(&p.graph(), None, true, &mut |_| {})
        .await
        .expect("fake");
    assert_eq!(
        tables(&mut e).await,
        ["_chakra_migrations", "_chakra_migrations_log"]
    );
    assert_eq!(e.history().await.expect("h").len(), 1);
    e.rollback(&p.graph(), &RollbackTarget::Count(1), true, &mut |_| {})
        .await
        .expect("fake rollback");
    assert!(e.history().await.expect("h").is_empty());
}

#[tokio::test]
async fn edited_applied_migration_is_refused_by_name_but_crlf_is_not() {
    let p = Project::new();
    p.make(vec![user()]);
    apply(&p).await.expect("apply");
    let path = p.file("0001_initial");
    let original = std::fs::read_to_string(&path).expect("read");

    std::fs::write(&path, format!("\u{feff}{}", original.replace('\n', "\r\n"))).expect("write");
    assert!(
        apply(&p)
            .await
            .expect("CRLF + BOM copy is the same migration")
            .is_empty()
    );

    std::fs::write(
        &path,
        original.replace("max_length = 50", "max_length = 60"),
    )
    .expect("write");
    let err = apply(&p).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("`0001_initial` differs from what was applied"),
        "{text}"
    );
    assert!(text.contains("Nothing was run"), "{text}");
}

#[tokio::test]
async fn deleted_or_renamed_applied_migration_stops_apply() {
    let p = Project::new();
    p.make(vec![user()]);
    apply(&p).await.expect("apply");
    let path = p.file("0001_initial");
    let text = std::fs::read_to_string(&path).expect("read");

    std::fs::rename(&path, p.file("0001_first")).expect("rename");
    std::fs::write(
        p.file("0001_first"),
        text.replace("0001_initial", "0001_first"),
    )
    .expect("write");
    let err = apply(&p).await.unwrap_err().to_string();
    assert!(
        err.contains("`0001_initial` was renamed to `0001_first`"),
        "{err}"
    );

    std::fs::remove_file(p.file("0001_first")).expect("rm");
    let err = apply(&p).await.unwrap_err().to_string();
    assert!(err.contains("`0001_initial` has no file any more"), "{err}");
}

fn write_run_sql(p: &Project, id: &str, deps: &[&str], ops: Vec<Operation>) {
    let m = chakra::format::Migration {
        migration: chakra::format::Header {
            id: id.into(),
            app: "default".into(),
            created_at: None,
            dependencies: deps.iter().map(|d| (*d).to_owned()).collect(),
            description: String::new(),
            atomic: true,
            replaces: Vec::new(),
            format: chakra::format::FORMAT_VERSION,
        },
        operations: ops,
    };
    std::fs::write(p.file(id), m.to_toml()).expect("write");
}

fn run_sql(forward: &str, reverse: Option<&str>) -> Operation {
    Operation::RunSql(RunSql {
        forward: forward.into(),
        reverse: reverse.map(str::to_owned),
        reversible: None,
    })
}

#[tokio::test]
async fn a_failing_migration_leaves_nothing_behind() {
    let p = Project::new();
    p.make(vec![user()]);
    write_run_sql(
        &p,
        "0002_broken",
        &["0001_initial"],
        vec![
            run_sql(
                "CREATE TABLE audit (id INTEGER PRIMARY KEY)",
                Some("DROP TABLE audit"),
            ),
            run_sql("INSERT INTO no_such_table VALUES (1)", None),
        ],
    );
    let err = apply(&p).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("`0002_broken` failed at operation 2"),
        "{text}"
    );
    assert!(text.contains("no_such_table"), "{text}");
    let mut e = p.exec().await;
    assert_eq!(
        tables(&mut e).await,
        ["_chakra_migrations", "_chakra_migrations_log", "users"],
        "0001 applied, nothing of 0002"
    );
    assert_eq!(e.history().await.expect("h").len(), 1);
}

#[tokio::test]
async fn a_failure_among_operations_sent_together_names_its_operation_and_statement() {
    // The operations of a migration reach SQLite in one batch; a failure in the middle must
    // still name the operation and statement, and leave nothing of the migration.
    let p = Project::new();
    p.make(vec![user()]);
    apply(&p).await.expect("apply 0001");
    let mut tags = model("Tag", "tags", vec![pk(), varchar("label", 20)]);
    tags.indexes.push(IndexState {
        name: "tags_label_idx".into(),
        fields: vec!["label".into()],
        unique: false,
    });
    let notes = model("Note", "notes", vec![pk()]);
    let pins = model("Pin", "pins", vec![pk()]);
    assert_eq!(p.make(vec![user(), notes, pins, tags]).len(), 1);
    let mut e = p.exec().await;
    // In the way of the third operation.
    exec_sql(&mut e, "CREATE TABLE tags (x INTEGER)").await;
    drop(e);
    let err = apply(&p).await.unwrap_err();
    let ExecutorError::Statement(failure) = &err else {
        panic!("expected a statement failure, got {err}");
    };
    assert_eq!(failure.index, 3, "{err}");
    assert_eq!(failure.description, "+ CreateModel Tag (tags)", "{err}");
    assert!(
        failure.statement.starts_with("CREATE TABLE \"tags\""),
        "{}",
        failure.statement
    );
    assert!(err.to_string().contains("already exists"), "{err}");
    let mut e = p.exec().await;
    assert_eq!(
        tables(&mut e).await,
        [
            "_chakra_migrations",
            "_chakra_migrations_log",
            "tags",
            "users"
        ],
        "nothing of the failed migration"
    );
    assert_eq!(e.history().await.expect("h").len(), 1);
}

#[tokio::test]
async fn irreversible_migrations_stop_rollback_before_anything_runs() {
    let p = Project::new();
    p.make(vec![user()]);
    write_run_sql(
        &p,
        "0002_seed",
        &["0001_initial"],
        vec![run_sql(
            "INSERT INTO users (username) VALUES ('root')",
            None,
        )],
    );
    write_run_sql(
        &p,
        "0003_more",
        &["0002_seed"],
        vec![run_sql("CREATE TABLE t (x INTEGER)", Some("DROP TABLE t"))],
    );
    apply(&p).await.expect("apply");
    let err = rollback(&p, RollbackTarget::Zero(None)).await.unwrap_err();
    assert!(
        matches!(err, ExecutorError::Plan(PlanError::Irreversible { .. })),
        "{err}"
    );
    assert!(err.to_string().contains("`0002_seed`"), "{err}");
    let mut e = p.exec().await;
    assert_eq!(
        e.history().await.expect("h").len(),
        3,
        "nothing was rolled back"
    );
    assert!(tables(&mut e).await.contains(&"t".to_owned()));
}

/// `user()` with an index on `username`.
fn indexed_user() -> ModelState {
    let mut u = user();
    u.indexes.push(IndexState {
        name: "users_username_idx".into(),
        fields: vec!["username".into()],
        unique: false,
    });
    u
}

/// `u` with `username` widened to 120 characters (a change SQLite makes by rebuilding).
fn wider_username(u: &ModelState, default: Option<DefaultValue>) -> ModelState {
    let mut wider = u.clone();
    wider.fields[1] = FieldState {
        max_length: Some(120),
        default,
        ..wider.fields[1].clone()
    };
    wider
}

#[tokio::test]
async fn altering_a_column_rebuilds_the_table_keeping_rows_indexes_and_keys() {
    let p = Project::new();
    let u = indexed_user();
    p.make(vec![u.clone(), post()]);
    apply(&p).await.expect("apply");
    let mut e = p.exec().await;
    exec_sql(
        &mut e,
        "INSERT INTO users (id, username) VALUES (1, 'ann'), (2, 'bob'); INSERT INTO posts (author_id, body) VALUES (1, 'a'), (2, 'b')",
    )
    .await;
    drop(e);

    // Widen username and give it a default: SQLite rebuilds `users`, which `posts` references.
    let wider = wider_username(&u, Some(DefaultValue::Str("anon".into())));
    assert_eq!(
        p.make(vec![wider.clone(), post()]),
        ["0002_alter_user_username"]
    );
    apply(&p).await.expect("apply rebuild");

    let mut e = p.exec().await;
    assert_eq!(count(&mut e, "SELECT COUNT(*) FROM users").await, 2);
    assert_eq!(
        count(&mut e, "SELECT COUNT(*) FROM posts").await,
        2,
        "cascade must not fire during the rebuild"
    );
    assert_eq!(count(&mut e, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'users_username_idx'").await, 1);
    assert_eq!(
        count(&mut e, "SELECT COUNT(*) FROM pragma_foreign_key_check").await,
        0
    );
    let sql: String = sqlx::query("SELECT sql FROM sqlite_master WHERE name = 'users'")
        .fetch_one(e.sqlite_connection().expect("a SQLite database"))
        .await
        .expect("ddl")
        .get(0);
    assert!(sql.contains("VARCHAR(120)"), "{sql}");
    // Foreign keys are enforced again afterwards, and still cascade.
    let bad = sqlx::raw_sql("INSERT INTO posts (author_id, body) VALUES (99, 'x')")
        .execute(e.sqlite_connection().expect("a SQLite database"))
        .await;
    assert!(bad.is_err(), "FK enforcement must be back on");
    exec_sql(&mut e, "DELETE FROM users WHERE id = 2").await;
    assert_eq!(count(&mut e, "SELECT COUNT(*) FROM posts").await, 1);
    drop(e);

    // And back.
    rollback(&p, RollbackTarget::Count(1))
        .await
        .expect("rollback rebuild");
    let mut e = p.exec().await;
    assert_eq!(count(&mut e, "SELECT COUNT(*) FROM users").await, 1);
    assert_eq!(
        count(&mut e, "SELECT COUNT(*) FROM pragma_foreign_key_check").await,
        0
    );
}

#[tokio::test]
async fn rebuilding_an_empty_table_keeps_its_id_sequence_indexes_and_keys() {
    // An empty table is dropped and created anew instead of copied and renamed: the ids of
    // deleted rows must still not be reused, and the indexes and foreign keys must be there.
    let p = Project::new();
    let u = indexed_user();
    p.make(vec![u.clone(), post()]);
    apply(&p).await.expect("apply");
    let mut e = p.exec().await;
    exec_sql(
        &mut e,
        "INSERT INTO users (username) VALUES ('ann'), ('bob'); DELETE FROM users",
    )
    .await;
    drop(e);

    let wider = wider_username(&u, None);
    p.make(vec![wider, post()]);
    apply(&p)
        .await
        .expect("apply the rebuild of an empty table");

    let mut e = p.exec().await;
    let sql: String = sqlx::query("SELECT sql FROM sqlite_master WHERE name = 'users'")
        .fetch_one(e.sqlite_connection().expect("a SQLite database"))
        .await
        .expect("ddl")
        .get(0);
    assert!(sql.contains("VARCHAR(120)"), "{sql}");
    assert_eq!(
        count(
            &mut e,
            "SELECT COUNT(*) FROM sqlite_master WHERE name = '_chakra_new_users'"
        )
        .await,
        0,
        "no table left under the rebuild's temporary name"
    );
    assert_eq!(count(&mut e, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'users_username_idx'").await, 1);
    exec_sql(&mut e, "INSERT INTO users (username) VALUES ('cy')").await;
    assert_eq!(
        count(&mut e, "SELECT id FROM users WHERE username = 'cy'").await,
        3,
        "AUTOINCREMENT must not reuse the ids of deleted rows"
    );
    exec_sql(
        &mut e,
        "INSERT INTO posts (author_id, body) VALUES (3, 'a')",
    )
    .await;
    let bad = sqlx::raw_sql("INSERT INTO posts (author_id, body) VALUES (99, 'x')")
        .execute(e.sqlite_connection().expect("a SQLite database"))
        .await;
    assert!(bad.is_err(), "the foreign key to the new table must hold");
    drop(e);

    // Rolled back with rows in it, the same step copies them.
    rollback(&p, RollbackTarget::Count(1))
        .await
        .expect("rollback rebuild");
    let mut e = p.exec().await;
    assert_eq!(count(&mut e, "SELECT COUNT(*) FROM users").await, 1);
    assert_eq!(count(&mut e, "SELECT COUNT(*) FROM posts").await, 1);
}

#[tokio::test]
async fn a_rebuild_that_breaks_foreign_keys_is_rolled_back() {
    let p = Project::new();
    p.make(vec![user(), post()]);
    apply(&p).await.expect("apply");
    let mut e = p.exec().await;
    exec_sql(&mut e, "PRAGMA foreign_keys = OFF; INSERT INTO posts (author_id, body) VALUES (42, 'orphan'); PRAGMA foreign_keys = ON").await;
    drop(e);
    let mut p2 = post();
    p2.fields[2] = FieldState {
        default: Some(DefaultValue::Str(String::new())),
        ..p2.fields[2].clone()
    };
    p.make(vec![user(), p2]);
    let err = apply(&p).await.unwrap_err();
    assert!(
        matches!(err, ExecutorError::ForeignKeyCheck { .. }),
        "{err}"
    );
    let mut e = p.exec().await;
    assert_eq!(e.history().await.expect("h").len(), 1);
}

#[tokio::test]
async fn racing_migrators_apply_each_migration_once() {
    let p = Project::new();
    p.make(vec![user()]);
    p.make(vec![with_email(user())]);
    p.make(vec![with_email(user()), post()]);
    let url = p.url();
    let dir = p.dir.path().to_owned();
    let mut handles = Vec::new();
    for _ in 0..8 {
        let url = url.clone();
        let dir = dir.clone();
        handles.push(tokio::spawn(async move {
            let graph = load_graph(&dir.join("migrations")).expect("graph");
            let mut e = Executor::connect(&url, ExecutorConfig::default())
                .await
                .expect("connect");
            e.apply(&graph, None, false, &mut |_| {}).await.map(|_| ())
        }));
    }
    for h in handles {
        h.await.expect("task").expect("every migrator succeeds");
    }
    let mut e = p.exec().await;
    let h = e.history().await.expect("h");
    assert_eq!(h.len(), 3);
    assert_eq!(h.iter().map(|r| r.seq).collect::<Vec<_>>(), [1, 2, 3]);
}

#[test]
fn snapshot_mismatch_is_explained() {
    let p = Project::new();
    p.make(vec![user()]);
    let snap = p.dir.path().join(".chakra/snapshot.toml");
    let text = std::fs::read_to_string(&snap).expect("snapshot");
    std::fs::write(&snap, text.replace("max_length = 50", "max_length = 70")).expect("write");
    let err = make(&p.paths(), &state(vec![user()]), &MakeOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not match the migration files"), "{err}");
    assert!(err.contains("AlterField User.username"), "{err}");
}

#[test]
fn make_is_deterministic_and_replays_to_the_models() {
    let models = || {
        vec![
            user(),
            post(),
            with_email(model("Team", "teams", vec![pk()])),
        ]
    };
    let a = Project::new();
    let b = Project::new();
    a.make(models());
    b.make(models());
    for f in ["migrations/0001_initial.toml", ".chakra/snapshot.toml"] {
        let x = std::fs::read(a.dir.path().join(f)).expect("a");
        let y = std::fs::read(b.dir.path().join(f)).expect("b");
        assert_eq!(x, y, "{f} differs");
    }
    let replayed = a.graph().final_state().expect("replay");
    assert_eq!(replayed, state(models()));
    assert!(a.make(models()).is_empty(), "no changes after make");
}

#[test]
fn make_refuses_files_changed_behind_the_sum_file() {
    let p = Project::new();
    p.make(vec![user()]);
    let sum = p.paths().migrations.join("chakra.sum");
    assert!(sum.exists(), "make writes chakra.sum");
    let path = p.file("0001_initial");
    let text = std::fs::read_to_string(&path).expect("read");
    std::fs::write(&path, text.replace("max_length = 50", "max_length = 60")).expect("edit");
    let snapshot = p.dir.path().join(".chakra/snapshot.toml");
    let snap = std::fs::read_to_string(&snapshot).expect("snapshot");
    std::fs::write(
        &snapshot,
        snap.replace("max_length = 50", "max_length = 60"),
    )
    .expect("edit");
    let err = make(&p.paths(), &state(vec![user()]), &MakeOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("chakra.sum does not match the migration files"),
        "{err}"
    );
    assert!(err.contains("0001_initial.toml was changed"), "{err}");
    assert!(err.contains("migrate verify --update-sum"), "{err}");
}

#[tokio::test]
async fn deleting_a_model_another_app_references_waits_for_that_app() {
    let p = Project::new();
    let mut blog_post = post();
    blog_post.app = "blog".into();
    p.make(vec![user(), blog_post.clone()]);
    apply(&p).await.expect("apply");
    let mut e = p.exec().await;
    exec_sql(&mut e, "INSERT INTO users (id, username) VALUES (1, 'ann'); INSERT INTO posts (author_id, body) VALUES (1, 'hi')").await;
    drop(e);

    // User goes away in `default`; the blog's posts stop referencing it in the same make.
    let mut unlinked = blog_post;
    unlinked.fields.retain(|f| f.name != "author_id");
    let made = p.make(vec![unlinked]);
    assert_eq!(made, ["0002_remove_post_author_id", "0002_delete_user"]);
    let graph = p.graph();
    let deps = graph.dependencies(&key("0002_delete_user"));
    assert!(
        deps.contains(&MigrationKey::new("blog", "0002_remove_post_author_id")),
        "{deps:?}"
    );
    apply(&p)
        .await
        .expect("the blog's change runs first, so users can be dropped");
    let mut e = p.exec().await;
    assert_eq!(
        tables(&mut e).await,
        ["_chakra_migrations", "_chakra_migrations_log", "posts"]
    );
}
