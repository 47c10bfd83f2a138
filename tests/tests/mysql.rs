//! The MySQL/MariaDB executor against a real server (`CHAKRA_TEST_MYSQL_URL`): apply and
//! rollback, a migration failing part-way and resuming where it stopped, a rollback failing
//! part-way and resuming, the `GET_LOCK` migrator lock, and racing migrators.
//!
//! MySQL commits DDL implicitly, so progress is recorded per operation; these tests check the
//! history rows exactly.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chakra::executor::{
    Event, Executor, ExecutorConfig, ExecutorError, HistoryRow, RowStatus, mysql_lock_name,
};
use chakra::make::load_graph;
use chakra::operations::Operation;
use chakra::plan::{Direction, RollbackTarget};
use chakra::state::FieldState;
use chakra_tests::fixtures::{Project, key, post, run_sql, user, varchar, with_email};
use chakra_tests::{Engine, TestDb};
use sqlx::{Connection, Row};

// ---------------------------------------------------------------- running

/// Applies everything pending; returns the ids finished.
async fn apply(db: &TestDb, p: &Project) -> Result<Vec<String>, ExecutorError> {
    let mut e = db.executor().await;
    let mut done = Vec::new();
    e.apply(&p.graph(), None, false, &mut |ev| {
        if let Event::Finished { key, .. } = ev {
            done.push(key.id);
        }
    })
    .await?;
    Ok(done)
}

async fn rollback(
    db: &TestDb,
    p: &Project,
    target: RollbackTarget,
) -> Result<Vec<String>, ExecutorError> {
    let mut e = db.executor().await;
    let mut done = Vec::new();
    e.rollback(&p.graph(), &target, false, &mut |ev| {
        if let Event::Finished { key, .. } = ev {
            done.push(key.id);
        }
    })
    .await?;
    Ok(done)
}

async fn history(db: &TestDb) -> Vec<HistoryRow> {
    db.executor().await.history().await.expect("history")
}

async fn history_table_exists(db: &TestDb) -> bool {
    db.count(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = '_chakra_migrations'",
    )
    .await
        == 1
}

macro_rules! mysql_db {
    () => {
        match TestDb::new(Engine::Mysql).await {
            Some(db) => db,
            None => return,
        }
    };
}

// ---------------------------------------------------------------- tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_then_rollback_one_then_to_zero_and_apply_again() {
    let db = mysql_db!();
    let p = Project::new();
    assert_eq!(p.make(vec![user(), post()]), ["0001_initial"]);
    assert_eq!(
        p.make(vec![with_email(user()), post()]),
        ["0002_add_user_email"]
    );

    // Reading the history of a fresh database creates nothing.
    assert!(history(&db).await.is_empty());
    assert!(!history_table_exists(&db).await);

    assert_eq!(
        apply(&db, &p).await.expect("apply"),
        ["0001_initial", "0002_add_user_email"]
    );
    assert!(apply(&db, &p).await.expect("again").is_empty());
    assert_eq!(db.tables().await, ["posts", "users"]);

    let h = history(&db).await;
    let graph = p.graph();
    assert_eq!(
        h.iter().map(|r| r.key.id.as_str()).collect::<Vec<_>>(),
        ["0001_initial", "0002_add_user_email"]
    );
    assert_eq!(h.iter().map(|r| r.seq).collect::<Vec<_>>(), [1, 2]);
    for r in &h {
        let file = graph.get(&r.key).expect("file");
        assert_eq!(r.status, RowStatus::Applied);
        assert_eq!(r.checksum, file.checksum);
        assert_eq!(r.progress, file.migration.operations.len() as i64);
        assert_eq!(r.error, None);
        assert_eq!(r.chain_hash.len(), 64);
    }
    let report = db.executor().await.verify_history().await.expect("verify");
    assert_eq!(report.problems, vec![]);
    assert_eq!(report.head.as_deref(), Some(h[1].chain_hash.as_str()));

    // Rolling back the newest migration keeps the rows of the tables it does not drop.
    db.execute(
        "INSERT INTO users (username, email) VALUES ('ann', 'a@x'); INSERT INTO posts (author_id, body) VALUES (1, 'hi')",
    )
    .await;
    assert_eq!(
        rollback(&db, &p, RollbackTarget::Count(1))
            .await
            .expect("rollback"),
        ["0002_add_user_email"]
    );
    assert_eq!(db.count("SELECT COUNT(*) FROM posts").await, 1);
    assert_eq!(
        db.count("SELECT COUNT(*) FROM users WHERE username = 'ann'")
            .await,
        1
    );
    assert_eq!(
        db.count("SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'users' AND column_name = 'email'"
        )
        .await,
        0
    );
    let h = history(&db).await;
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].key, key("0001_initial"));

    assert_eq!(
        rollback(&db, &p, RollbackTarget::Zero(None))
            .await
            .expect("to zero"),
        ["0001_initial"]
    );
    assert!(db.tables().await.is_empty(), "{:?}", db.tables().await);
    assert!(history(&db).await.is_empty());

    assert_eq!(
        apply(&db, &p).await.expect("apply again"),
        ["0001_initial", "0002_add_user_email"]
    );
    assert_eq!(db.tables().await, ["posts", "users"]);
    assert_eq!(
        history(&db)
            .await
            .iter()
            .map(|r| (r.seq, r.status))
            .collect::<Vec<_>>(),
        // `seq` numbers audit log entries, only ever appended to: after two applies and two
        // rollbacks.
        [(5, RowStatus::Applied), (6, RowStatus::Applied)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_records_and_removes_without_running() {
    let db = mysql_db!();
    let p = Project::new();
    p.make(vec![user()]);
    let mut e = db.executor().await;
    e.apply(&p.graph(), None, true, &mut |_| {})
        .await
        .expect("fake apply");
    assert!(db.tables().await.is_empty());
    let h = history(&db).await;
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].status, RowStatus::Applied);
    e.rollback(&p.graph(), &RollbackTarget::Zero(None), true, &mut |_| {})
        .await
        .expect("fake rollback");
    assert!(history(&db).await.is_empty());
    assert!(history_table_exists(&db).await);
}

/// 0001 makes `counter`; 0002 inserts into it (op 1), then runs `op2`.
fn write_counter_migrations(p: &Project, op1: &str, op2: Operation) {
    p.write(
        "0001_counter",
        &[],
        vec![run_sql(
            "CREATE TABLE counter (n INT NOT NULL)",
            Some("DROP TABLE counter"),
        )],
    );
    p.write(
        "0002_fill",
        &["0001_counter"],
        vec![run_sql(op1, Some("DELETE FROM counter WHERE n = 1")), op2],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migration_failing_part_way_is_recorded_and_resumes_where_it_stopped() {
    let db = mysql_db!();
    let p = Project::new();
    write_counter_migrations(
        &p,
        "INSERT INTO counter VALUES (1)",
        run_sql("INSERT INTO missing_table VALUES (1)", None),
    );

    // Operation 2 fails: operation 1 stays, the migration is recorded as failed at 2.
    let err = apply(&db, &p).await.unwrap_err();
    let text = err.to_string();
    let ExecutorError::PartiallyApplied(f) = &err else {
        panic!("expected PartiallyApplied, got {err:?}");
    };
    assert_eq!(f.migration, key("0002_fill"));
    assert_eq!(f.direction, Direction::Forward);
    assert_eq!((f.index, f.total, f.earlier_statements), (2, 2, 0));
    assert_eq!(f.statement, "INSERT INTO missing_table VALUES (1)");
    for part in [
        "migration `0002_fill` failed at operation 2 of 2",
        "statement: INSERT INTO missing_table VALUES (1)",
        "missing_table' doesn't exist",
        "Operation 1 stays applied: MySQL/MariaDB commit DDL at once",
        "Fix the cause (operation 2, not yet run, may be edited; operation 1 must not change)",
        "recorded as Failed at operation 2",
        "then run `migrate apply`: it resumes at operation 2",
    ] {
        assert!(text.contains(part), "`{part}` not in: {text}");
    }
    assert_eq!(db.count("SELECT COUNT(*) FROM counter").await, 1);
    let h = history(&db).await;
    assert_eq!(h.len(), 2);
    assert_eq!(
        (h[0].key.id.as_str(), h[0].status, h[0].progress),
        ("0001_counter", RowStatus::Applied, 1)
    );
    assert_eq!(
        (h[1].key.id.as_str(), h[1].status, h[1].progress, h[1].seq),
        ("0002_fill", RowStatus::Failed, 1, 2)
    );
    let error = h[1].error.as_deref().expect("the error is recorded");
    assert!(error.contains("missing_table' doesn't exist"), "{error}");
    assert_eq!(
        h[1].progress_checksum.as_ref().map(String::len),
        Some(64),
        "progress_checksum"
    );

    // Rolling back is refused while a migration is partially applied.
    let err = rollback(&db, &p, RollbackTarget::Count(1))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(
            "migration `0002_fill` is partially applied (status failed, 1 operation(s) done)"
        ) && err.contains("it resumes at operation 2"),
        "{err}"
    );

    // Editing the operation that already ran is refused: it would never run again.
    write_counter_migrations(
        &p,
        "INSERT INTO counter VALUES (2)",
        run_sql("CREATE TABLE audit (id INT)", Some("DROP TABLE audit")),
    );
    let err = apply(&db, &p).await.unwrap_err();
    assert!(
        matches!(&err, ExecutorError::ResumeChanged { migration, done: 1, .. } if *migration == key("0002_fill")),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("migration `0002_fill` stopped part-way after operation 1, and the already-run operations were changed since: the SQL of the first 1 operation(s) differs"),
        "{text}"
    );
    assert_eq!(db.count("SELECT COUNT(*) FROM counter").await, 1);
    let h = history(&db).await;
    assert_eq!((h[1].status, h[1].progress), (RowStatus::Failed, 1));

    // A run killed part-way leaves status `applying`: it resumes the same way.
    db.execute(
        "UPDATE _chakra_migrations SET status = 'applying', error = NULL WHERE id = '0002_fill'",
    )
    .await;

    // Fixing the operation not yet run: apply resumes at operation 2 and never re-runs 1.
    write_counter_migrations(
        &p,
        "INSERT INTO counter VALUES (1)",
        run_sql("CREATE TABLE audit (id INT)", Some("DROP TABLE audit")),
    );
    assert_eq!(apply(&db, &p).await.expect("resume"), ["0002_fill"]);
    assert_eq!(db.count("SELECT COUNT(*) FROM counter").await, 1);
    assert_eq!(db.tables().await, ["audit", "counter"]);
    let h = history(&db).await;
    let file = p
        .graph()
        .get(&key("0002_fill"))
        .expect("file")
        .checksum
        .clone();
    assert_eq!(h.len(), 2);
    assert_eq!(
        (h[1].key.id.as_str(), h[1].status, h[1].progress, h[1].seq),
        ("0002_fill", RowStatus::Applied, 2, 2)
    );
    assert_eq!(h[1].error, None);
    assert_eq!(h[1].checksum, file, "the fixed file's checksum is recorded");
    let report = db.executor().await.verify_history().await.expect("verify");
    assert_eq!(report.problems, vec![]);
    assert_eq!(report.head.as_deref(), Some(h[1].chain_hash.as_str()));
    assert!(apply(&db, &p).await.expect("nothing left").is_empty());

    // And it rolls back like any other.
    assert_eq!(
        rollback(&db, &p, RollbackTarget::Count(1))
            .await
            .expect("rollback"),
        ["0002_fill"]
    );
    assert_eq!(db.count("SELECT COUNT(*) FROM counter").await, 0);
    assert_eq!(db.tables().await, ["counter"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_failing_part_way_is_recorded_and_resumes_where_it_stopped() {
    let db = mysql_db!();
    let p = Project::new();
    p.write(
        "0001_first",
        &[],
        vec![run_sql(
            "CREATE TABLE keep (id INT)",
            Some("DROP TABLE keep"),
        )],
    );
    p.write(
        "0002_pair",
        &["0001_first"],
        vec![
            run_sql(
                "CREATE TABLE a1 (id INT PRIMARY KEY)",
                Some("DROP TABLE a1"),
            ),
            run_sql("CREATE TABLE a2 (id INT)", Some("DROP TABLE a2")),
        ],
    );
    assert_eq!(apply(&db, &p).await.expect("apply").len(), 2);
    // A table outside the migrations keeps `a1` from being dropped.
    db.execute("CREATE TABLE blocker (a1_id INT, FOREIGN KEY (a1_id) REFERENCES a1 (id))")
        .await;

    let err = rollback(&db, &p, RollbackTarget::Count(1))
        .await
        .unwrap_err();
    let text = err.to_string();
    let ExecutorError::PartiallyApplied(f) = &err else {
        panic!("expected PartiallyApplied, got {err:?}");
    };
    assert_eq!(f.direction, Direction::Backward);
    assert_eq!((f.index, f.total), (2, 2));
    assert_eq!(f.statement, "DROP TABLE a1");
    for part in [
        "rollback of migration `0002_pair` failed at undo step 2 of 2",
        "Undo step 1 stays done",
        "recorded as RollingBack with 1 undo step(s) done",
        "run `migrate rollback` again: it resumes at undo step 2",
    ] {
        assert!(text.contains(part), "`{part}` not in: {text}");
    }
    assert_eq!(db.tables().await, ["a1", "blocker", "keep"]);
    let h = history(&db).await;
    assert_eq!(
        (h[1].key.id.as_str(), h[1].status, h[1].progress),
        ("0002_pair", RowStatus::RollingBack, 1)
    );
    assert!(h[1].error.is_some());

    // Applying is refused until the rollback is finished.
    let err = apply(&db, &p).await.unwrap_err().to_string();
    assert!(
        err.contains(
            "migration `0002_pair` was being rolled back and is not finished (1 undo step(s) done)"
        ) && err.contains("finish the rollback first with `migrate rollback`"),
        "{err}"
    );

    // Once the cause is gone, the rollback resumes at step 2: `DROP TABLE a2` does not run
    // again (it would fail).
    db.execute("DROP TABLE blocker").await;
    assert_eq!(
        rollback(&db, &p, RollbackTarget::Count(1))
            .await
            .expect("resume"),
        ["0002_pair"]
    );
    assert_eq!(db.tables().await, ["keep"]);
    let h = history(&db).await;
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].key, key("0001_first"));
    assert_eq!(apply(&db, &p).await.expect("apply again"), ["0002_pair"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_lock_times_out_clearly_and_is_scoped_to_the_database() {
    let db = mysql_db!();
    let p = Project::new();
    p.make(vec![user()]);

    let mut other = sqlx::MySqlConnection::connect(&db.url)
        .await
        .expect("connect");
    let database: String = sqlx::query("SELECT CAST(DATABASE() AS CHAR)")
        .fetch_one(&mut other)
        .await
        .expect("database")
        .get(0);
    let name = mysql_lock_name(&database, "_chakra_migrations");
    assert!(name.starts_with("chakra:") && name.len() <= 64, "{name}");
    assert_ne!(name, mysql_lock_name("another_db", "_chakra_migrations"));
    let got: Option<i64> = sqlx::query("SELECT GET_LOCK(?, 0)")
        .bind(&name)
        .fetch_one(&mut other)
        .await
        .expect("GET_LOCK")
        .get(0);
    assert_eq!(got, Some(1));

    let config = ExecutorConfig {
        lock_timeout: Duration::from_secs(1),
        ..ExecutorConfig::default()
    };
    let mut e = db.executor_with(config.clone()).await;
    let started = Instant::now();
    let err = e
        .apply(&p.graph(), None, false, &mut |_| {})
        .await
        .unwrap_err();
    assert!(
        matches!(err, ExecutorError::LockTimeout(d) if d == Duration::from_secs(1)),
        "{err:?}"
    );
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert!(
        err.to_string()
            .contains("another migrator has held the database lock for more than 1s"),
        "{err}"
    );
    assert!(db.tables().await.is_empty());

    // Released: the next run takes it.
    sqlx::query("SELECT RELEASE_LOCK(?)")
        .bind(&name)
        .fetch_one(&mut other)
        .await
        .expect("RELEASE_LOCK");
    let mut e = db.executor_with(config).await;
    e.apply(&p.graph(), None, false, &mut |_| {})
        .await
        .expect("apply");
    assert_eq!(db.tables().await, ["users"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_migrators_apply_each_migration_once() {
    let db = mysql_db!();
    let p = Project::new();
    p.make(vec![user()]);
    p.make(vec![with_email(user())]);
    p.make(vec![with_email(user()), post()]);
    let finished = Arc::new(Mutex::new(Vec::new()));
    let mut handles = Vec::new();
    for _ in 0..8 {
        let url = db.url.clone();
        let dir = p.paths().migrations;
        let finished = Arc::clone(&finished);
        handles.push(tokio::spawn(async move {
            let graph = load_graph(&dir).expect("graph");
            let mut e = Executor::connect(&url, ExecutorConfig::default())
                .await
                .expect("connect");
            e.apply(&graph, None, false, &mut |ev| {
                if let Event::Finished { key, .. } = ev {
                    finished.lock().expect("lock").push(key.id);
                }
            })
            .await
            .map(|_| ())
        }));
    }
    for h in handles {
        h.await.expect("task").expect("every migrator succeeds");
    }
    let mut finished = finished.lock().expect("lock").clone();
    finished.sort();
    assert_eq!(
        finished,
        ["0001_initial", "0002_add_user_email", "0003_post"],
        "each migration applied exactly once"
    );
    let h = history(&db).await;
    assert_eq!(
        h.iter()
            .map(|r| (r.seq, r.key.id.as_str(), r.status))
            .collect::<Vec<_>>(),
        [
            (1, "0001_initial", RowStatus::Applied),
            (2, "0002_add_user_email", RowStatus::Applied),
            (3, "0003_post", RowStatus::Applied)
        ]
    );
    assert_eq!(db.tables().await, ["posts", "users"]);
}

/// A process killed after an operation's DDL committed but before its progress was recorded:
/// the next apply sees the operation took effect and does not run it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operation_done_but_not_recorded_is_not_run_again() {
    let db = mysql_db!();
    let p = Project::new();
    p.make(vec![user()]);
    // 0002: add a column (observable), then fail.
    let users = user();
    let email = FieldState {
        nullable: true,
        ..varchar("email", 255)
    };
    p.write(
        "0002_email",
        &["0001_initial"],
        vec![
            Operation::AddField(chakra::state::FieldOperation::new(&users, &email)),
            run_sql("INSERT INTO no_such_table VALUES (1)", None),
        ],
    );
    let err = apply(&db, &p).await.unwrap_err();
    assert!(matches!(err, ExecutorError::PartiallyApplied(_)), "{err}");
    // Pretend the process died right after the ALTER committed: progress never recorded.
    db.execute(&format!(
        "UPDATE _chakra_migrations SET status = 'applying', progress = 0, progress_checksum = '{}', error = NULL WHERE id = '0002_email'",
        chakra::checksum::sha256_hex(b"")
    ))
    .await;
    // Fix the failing operation and resume: the ALTER must not run a second time (it would
    // fail with a duplicate column).
    p.write(
        "0002_email",
        &["0001_initial"],
        vec![
            Operation::AddField(chakra::state::FieldOperation::new(&users, &email)),
            run_sql("UPDATE users SET email = NULL", Some("SELECT 1")),
        ],
    );
    assert_eq!(apply(&db, &p).await.expect("resume"), ["0002_email"]);
    let row = history(&db)
        .await
        .into_iter()
        .find(|r| r.key == key("0002_email"))
        .expect("row");
    assert_eq!(row.status, RowStatus::Applied);
    assert_eq!(row.progress, 2);
}
