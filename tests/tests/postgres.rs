//! The PostgreSQL executor against a real server (`CHAKRA_TEST_POSTGRES_URL`; skipped with a
//! message when unset): apply and rollback, a failing migration leaving nothing, the advisory
//! migrator lock, `lock_timeout` on DDL, and racing migrators.

use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chakra::executor::{Event, Executor, ExecutorConfig, ExecutorError};
use chakra::graph::Graph;
use chakra::plan::{Direction, RollbackTarget};
use chakra_tests::fixtures::{self, key, post, reversible_run_sql, user, with_email};
use chakra_tests::{Engine, TestDb};
use sqlx::Connection;

// --- a project: migration files in a temporary folder and a fresh database ---------------

struct Project {
    files: fixtures::Project,
    db: TestDb,
}

/// The migration files, so that `p.make(...)` and `p.graph()` read as for any project.
impl Deref for Project {
    type Target = fixtures::Project;

    fn deref(&self) -> &fixtures::Project {
        &self.files
    }
}

impl Project {
    /// `None` (after a visible skip message) when no PostgreSQL server is configured.
    async fn new() -> Option<Project> {
        let db = TestDb::new(Engine::Postgres).await?;
        Some(Project {
            files: fixtures::Project::new(),
            db,
        })
    }

    async fn exec(&self) -> Executor {
        self.db.executor().await
    }

    async fn exec_with(&self, lock_timeout: Duration) -> Executor {
        self.db
            .executor_with(ExecutorConfig {
                lock_timeout,
                ..ExecutorConfig::default()
            })
            .await
    }

    /// Every table of the `public` schema, the history table included.
    async fn all_tables(&self) -> Vec<String> {
        self.db
            .rows("SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1")
            .await
            .into_iter()
            .filter_map(|r| r.into_iter().next().flatten())
            .collect()
    }

    async fn history_ids(&self) -> Vec<(i64, String)> {
        self.exec()
            .await
            .history()
            .await
            .expect("history")
            .into_iter()
            .map(|r| (r.seq, r.key.id))
            .collect()
    }
}

/// Applies everything pending and returns the events.
async fn apply(e: &mut Executor, g: &Graph) -> Result<Vec<Event>, ExecutorError> {
    let mut events = Vec::new();
    e.apply(g, None, false, &mut |ev| events.push(ev)).await?;
    Ok(events)
}

/// Ids of the migrations that finished, in order.
fn finished(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Finished { key, .. } => Some(key.id.clone()),
            _ => None,
        })
        .collect()
}

/// The events as `started forward 0001_initial`, `finished ...` and `skipped ...`.
fn summary(events: &[Event]) -> Vec<String> {
    let dir = |d: &Direction| match d {
        Direction::Forward => "forward",
        Direction::Backward => "backward",
    };
    events
        .iter()
        .map(|e| match e {
            Event::Started { key, direction } => format!("started {} {key}", dir(direction)),
            Event::Finished {
                key,
                direction,
                fake,
                ..
            } => format!(
                "finished {} {key}{}",
                dir(direction),
                if *fake { " (fake)" } else { "" }
            ),
            Event::Skipped { key } => format!("skipped {key}"),
            Event::Retrying { key, attempt, .. } => format!("retrying {key} ({attempt})"),
        })
        .collect()
}

fn database_code(err: &ExecutorError) -> Option<String> {
    match err {
        ExecutorError::Statement(f) => match f.source.database() {
            Some(sqlx::Error::Database(d)) => d.code().map(|c| c.into_owned()),
            _ => None,
        },
        _ => None,
    }
}

// --- tests -------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_rollback_to_zero_and_apply_again() {
    let Some(p) = Project::new().await else {
        return;
    };
    assert_eq!(p.make(vec![user(), post()]), ["0001_initial"]);
    assert_eq!(
        p.make(vec![with_email(user()), post()]),
        ["0002_add_user_email"]
    );
    let g = p.graph();

    // Reading the history of a fresh database creates nothing.
    let mut e = p.exec().await;
    assert!(e.history().await.expect("history").is_empty());
    assert!(p.all_tables().await.is_empty());

    let events = apply(&mut e, &g).await.expect("apply");
    assert_eq!(
        summary(&events),
        [
            "started forward 0001_initial",
            "finished forward 0001_initial",
            "started forward 0002_add_user_email",
            "finished forward 0002_add_user_email",
        ]
    );
    assert!(
        apply(&mut e, &g).await.expect("second apply").is_empty(),
        "nothing pending"
    );
    assert_eq!(
        p.all_tables().await,
        [
            "_chakra_migrations",
            "_chakra_migrations_log",
            "posts",
            "users"
        ]
    );

    let history = e.history().await.expect("history");
    assert_eq!(
        history
            .iter()
            .map(|r| (r.seq, r.key.id.as_str()))
            .collect::<Vec<_>>(),
        [(1, "0001_initial"), (2, "0002_add_user_email")]
    );
    for (row, file) in history.iter().zip(["0001_initial", "0002_add_user_email"]) {
        assert_eq!(row.checksum.len(), 64);
        assert_eq!(row.chain_hash.len(), 64);
        assert_eq!(
            row.checksum,
            g.get(&key(file)).expect("in the graph").checksum
        );
        assert_eq!(row.status, chakra::executor::RowStatus::Applied);
        assert!(row.progress_checksum.is_none());
    }
    assert_ne!(history[0].chain_hash, history[1].chain_hash);

    // Rolling back the newest migration keeps the rows of untouched tables.
    p.db.execute(
        "INSERT INTO users (username, email) VALUES ('ann', 'a@x'); \
         INSERT INTO posts (author_id, body) SELECT id, 'hi' FROM users",
    )
    .await;
    let mut events = Vec::new();
    e.rollback(&g, &RollbackTarget::Count(1), false, &mut |ev| {
        events.push(ev)
    })
    .await
    .expect("rollback");
    assert_eq!(
        summary(&events),
        [
            "started backward 0002_add_user_email",
            "finished backward 0002_add_user_email"
        ]
    );
    assert_eq!(p.db.count("SELECT COUNT(*)::text FROM posts").await, 1);
    assert_eq!(
        p.db.count("SELECT COUNT(*)::text FROM users WHERE username = 'ann'")
            .await,
        1
    );
    assert_eq!(
        p.db.count(
            "SELECT COUNT(*)::text FROM information_schema.columns \
             WHERE table_name = 'users' AND column_name = 'email'"
        )
        .await,
        0
    );
    assert_eq!(p.history_ids().await, [(1, "0001_initial".to_owned())]);

    let mut events = Vec::new();
    e.rollback(&g, &RollbackTarget::Zero(None), false, &mut |ev| {
        events.push(ev)
    })
    .await
    .expect("to zero");
    assert_eq!(finished(&events), ["0001_initial"]);
    assert_eq!(
        p.all_tables().await,
        ["_chakra_migrations", "_chakra_migrations_log"]
    );
    assert!(e.history().await.expect("history").is_empty());

    let events = apply(&mut e, &g).await.expect("again");
    assert_eq!(finished(&events), ["0001_initial", "0002_add_user_email"]);
    // `seq` numbers audit log entries, which are only appended to: two applies and two
    // rollbacks came before.
    assert_eq!(
        p.history_ids().await,
        [
            (5, "0001_initial".to_owned()),
            (6, "0002_add_user_email".to_owned())
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_records_and_removes_rows_without_running() {
    let Some(p) = Project::new().await else {
        return;
    };
    p.make(vec![user()]);
    let g = p.graph();
    let mut e = p.exec().await;
    let mut events = Vec::new();
    e.apply(&g, None, true, &mut |ev| events.push(ev))
        .await
        .expect("fake");
    assert_eq!(
        summary(&events),
        [
            "started forward 0001_initial",
            "finished forward 0001_initial (fake)"
        ]
    );
    assert_eq!(
        p.all_tables().await,
        ["_chakra_migrations", "_chakra_migrations_log"]
    );
    assert_eq!(p.history_ids().await, [(1, "0001_initial".to_owned())]);
    e.rollback(&g, &RollbackTarget::Count(1), true, &mut |_| {})
        .await
        .expect("fake rollback");
    assert!(p.history_ids().await.is_empty());
    assert_eq!(
        p.all_tables().await,
        ["_chakra_migrations", "_chakra_migrations_log"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migration_failing_at_its_second_operation_leaves_nothing() {
    let Some(p) = Project::new().await else {
        return;
    };
    p.make(vec![user()]);
    let broken = p.make_with(
        vec![user(), post()],
        vec![reversible_run_sql(
            "INSERT INTO no_such_table VALUES (1)",
            None,
        )],
    );
    assert_eq!(broken, "0002_post");
    let g = p.graph();
    let mut e = p.exec().await;
    let mut events = Vec::new();
    let err = e
        .apply(&g, None, false, &mut |ev| events.push(ev))
        .await
        .unwrap_err();
    assert_eq!(finished(&events), ["0001_initial"]);
    let ExecutorError::Statement(f) = &err else {
        panic!("expected a statement failure, got {err}");
    };
    assert_eq!(f.migration, key("0002_post"));
    assert_eq!(f.index, 2);
    assert_eq!(f.statement, "INSERT INTO no_such_table VALUES (1)");
    assert_eq!(database_code(&err).as_deref(), Some("42P01"), "{err}");
    let text = err.to_string();
    assert!(text.contains("`0002_post` failed at operation 2"), "{text}");
    assert!(text.contains("nothing of it remains"), "{text}");
    assert!(text.contains("no_such_table"), "{text}");

    // The first operation's table is gone with the rest, and there is no history row.
    assert_eq!(
        p.all_tables().await,
        ["_chakra_migrations", "_chakra_migrations_log", "users"]
    );
    assert_eq!(p.history_ids().await, [(1, "0001_initial".to_owned())]);

    // The lock was released: another migrator with a short wait gets it at once.
    let mut other = p.exec_with(Duration::from_millis(200)).await;
    let err = apply(&mut other, &g).await.unwrap_err();
    assert_eq!(database_code(&err).as_deref(), Some("42P01"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_migrator_waits_for_the_advisory_lock_or_times_out() {
    let Some(p) = Project::new().await else {
        return;
    };
    p.make(vec![user()]);
    p.write(
        "0002_slow",
        &["0001_initial"],
        vec![reversible_run_sql("SELECT pg_sleep(2)", None)],
    );
    let g = Arc::new(p.graph());

    // The first migrator signals once it runs 0002_slow, that is, holds the lock.
    let running = Arc::new(AtomicBool::new(false));
    let mut first = p.exec().await;
    let first_task = {
        let g = Arc::clone(&g);
        let running = Arc::clone(&running);
        tokio::spawn(async move {
            let mut events = Vec::new();
            first
                .apply(&g, None, false, &mut |ev| {
                    if matches!(&ev, Event::Started { key, .. } if key.id == "0002_slow") {
                        running.store(true, Ordering::SeqCst);
                    }
                    events.push(ev);
                })
                .await
                .map(|_| events)
        })
    };
    let waiting_since = Instant::now();
    while !running.load(Ordering::SeqCst) {
        assert!(
            waiting_since.elapsed() < Duration::from_secs(10),
            "the first migrator never started 0002_slow"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // A short lock_timeout fails clearly, long before the first migrator is done.
    let mut impatient = p.exec_with(Duration::from_millis(300)).await;
    let t = Instant::now();
    let err = apply(&mut impatient, &g).await.unwrap_err();
    let waited = t.elapsed();
    assert!(
        matches!(err, ExecutorError::LockTimeout(d) if d == Duration::from_millis(300)),
        "{err}"
    );
    assert!(
        waited >= Duration::from_millis(300) && waited < Duration::from_millis(1200),
        "waited {waited:?}"
    );
    assert!(err.to_string().contains("raise `lock_timeout`"), "{err}");

    // The default timeout waits for the first migrator, then finds 0002_slow done.
    let mut patient = p.exec().await;
    let t = Instant::now();
    let events = apply(&mut patient, &g).await.expect("patient apply");
    assert_eq!(
        events,
        [Event::Skipped {
            key: key("0002_slow")
        }]
    );
    assert!(
        t.elapsed() >= Duration::from_millis(500),
        "returned after {:?} without waiting",
        t.elapsed()
    );

    let first_events = first_task.await.expect("task").expect("first apply");
    assert_eq!(finished(&first_events), ["0001_initial", "0002_slow"]);
    assert_eq!(
        p.history_ids().await,
        [(1, "0001_initial".to_owned()), (2, "0002_slow".to_owned())]
    );
    // Nothing is left holding the lock.
    assert_eq!(
        p.db.count(
            "SELECT COUNT(*)::text FROM pg_locks WHERE locktype = 'advisory' AND granted \
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        .await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ddl_behind_a_long_transaction_fails_at_lock_timeout() {
    let Some(p) = Project::new().await else {
        return;
    };
    p.make(vec![user()]);
    // No retries: this is the single attempt (tests/tests/lock_retries.rs covers retrying).
    let mut e =
        p.db.executor_with(ExecutorConfig {
            lock_timeout: Duration::from_millis(500),
            lock_retries: 0,
            ..ExecutorConfig::default()
        })
        .await;
    apply(&mut e, &p.graph()).await.expect("apply 0001");
    assert_eq!(p.make(vec![with_email(user())]), ["0002_add_user_email"]);
    let g = p.graph();

    // Another session holds `users` in an open transaction.
    let mut holder = sqlx::PgConnection::connect(&p.db.url)
        .await
        .expect("connect");
    sqlx::raw_sql("BEGIN; LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
        .execute(&mut holder)
        .await
        .expect("lock users");

    let t = Instant::now();
    let err = tokio::time::timeout(Duration::from_secs(10), apply(&mut e, &g))
        .await
        .expect("apply must not hang behind the lock")
        .unwrap_err();
    let took = t.elapsed();
    assert_eq!(database_code(&err).as_deref(), Some("55P03"), "{err}");
    let ExecutorError::Statement(f) = &err else {
        unreachable!("checked above")
    };
    assert_eq!(f.migration, key("0002_add_user_email"));
    assert_eq!(f.index, 1);
    assert!(f.statement.contains("ALTER TABLE"), "{}", f.statement);
    assert!(err.to_string().contains("lock timeout"), "{err}");
    assert!(
        err.to_string()
            .contains("hint: another transaction holds a lock"),
        "{err}"
    );
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_secs(3),
        "took {took:?}"
    );

    sqlx::raw_sql("ROLLBACK")
        .execute(&mut holder)
        .await
        .expect("release users");
    assert_eq!(p.history_ids().await, [(1, "0001_initial".to_owned())]);
    assert_eq!(
        p.db.count(
            "SELECT COUNT(*)::text FROM information_schema.columns \
             WHERE table_name = 'users' AND column_name = 'email'"
        )
        .await,
        0
    );

    // Once the other transaction is gone, the same migration applies.
    let events = apply(&mut e, &g).await.expect("apply after release");
    assert_eq!(finished(&events), ["0002_add_user_email"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_migrators_apply_each_migration_exactly_once() {
    let Some(p) = Project::new().await else {
        return;
    };
    p.make(vec![user()]);
    p.make(vec![with_email(user())]);
    p.make(vec![with_email(user()), post()]);
    let g = Arc::new(p.graph());
    let mut handles = Vec::new();
    for _ in 0..8 {
        let g = Arc::clone(&g);
        let url = p.db.url.clone();
        handles.push(tokio::spawn(async move {
            let mut e = Executor::connect(&url, ExecutorConfig::default())
                .await
                .expect("connect");
            apply(&mut e, &g).await
        }));
    }
    let mut all_finished = Vec::new();
    for h in handles {
        let events = h.await.expect("task").expect("every migrator succeeds");
        all_finished.extend(finished(&events));
    }
    all_finished.sort();
    assert_eq!(
        all_finished,
        ["0001_initial", "0002_add_user_email", "0003_post"],
        "each migration ran exactly once over all migrators"
    );
    assert_eq!(
        p.history_ids().await,
        [
            (1, "0001_initial".to_owned()),
            (2, "0002_add_user_email".to_owned()),
            (3, "0003_post".to_owned())
        ]
    );
    assert_eq!(
        p.all_tables().await,
        [
            "_chakra_migrations",
            "_chakra_migrations_log",
            "posts",
            "users"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_schema_has_its_own_history() {
    let Some(p) = Project::new().await else {
        return;
    };
    p.make(vec![user()]);
    let g = p.graph();
    apply(&mut p.exec().await, &g)
        .await
        .expect("apply in public");
    p.db.execute("CREATE SCHEMA tenant").await;

    // The history table of `public` is not the history of `tenant`.
    let url = format!("{}?options[search_path]=tenant", p.db.url);
    let mut tenant = Executor::connect(&url, ExecutorConfig::default())
        .await
        .expect("connect");
    assert!(tenant.history().await.expect("history").is_empty());
    let events = apply(&mut tenant, &g).await.expect("apply in tenant");
    assert_eq!(finished(&events), ["0001_initial"]);
    assert_eq!(
        p.db.rows(
            "SELECT table_schema || '.' || table_name FROM information_schema.tables \
             WHERE table_schema IN ('public', 'tenant') ORDER BY 1"
        )
        .await
        .into_iter()
        .map(|r| r[0].clone().expect("a name"))
        .collect::<Vec<_>>(),
        [
            "public._chakra_migrations",
            "public._chakra_migrations_log",
            "public.users",
            "tenant._chakra_migrations",
            "tenant._chakra_migrations_log",
            "tenant.users"
        ]
    );
    assert_eq!(tenant.history().await.expect("history").len(), 1);
}

#[tokio::test]
async fn bad_urls_and_refused_connections_hide_the_password() {
    let err = Executor::connect(
        "postgres://me:secret@127.0.0.1:notaport/db",
        ExecutorConfig::default(),
    )
    .await
    .err()
    .expect("a bad URL");
    assert!(matches!(err, ExecutorError::BadUrl { .. }), "{err}");
    assert!(!err.to_string().contains("secret"), "{err}");
    assert!(err.to_string().contains("me:***@"), "{err}");

    // Port 1 refuses connections.
    let err = Executor::connect(
        "postgres://me:secret@127.0.0.1:1/db",
        ExecutorConfig::default(),
    )
    .await
    .err()
    .expect("a refused connection");
    assert!(matches!(err, ExecutorError::Connect { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.starts_with("cannot connect to `postgres://me:***@127.0.0.1:1/db`"),
        "{text}"
    );
    assert!(!text.contains("secret"), "{text}");
}
