//! DDL that waits too long for a table lock held by the application (a long transaction)
//! times out after `lock_timeout` instead of queueing every other query behind it, and is
//! tried again `lock_retries` times with a growing pause: the migration goes through once the
//! application's transaction ends, and fails clearly when retries are off.

use std::time::Duration;

use chakra::executor::{Event, ExecutorConfig};
use chakra_tests::fixtures::{Project, post, user, with_email};
use chakra_tests::{Engine, TestDb, matrix_test};
use sqlx::{AssertSqlSafe, Connection};

/// Holds a lock on `users` (a reader's lock: enough to block ALTER TABLE) in an open
/// transaction for `hold`, on another connection, like an application's long transaction.
/// Returns once the lock is held.
async fn hold_users_lock(db: &TestDb, hold: Duration) -> tokio::task::JoinHandle<()> {
    let (ready, held) = tokio::sync::oneshot::channel();
    let url = db.url.clone();
    let engine = db.engine;
    let task = tokio::spawn(async move {
        match engine {
            Engine::Postgres => {
                let mut c = sqlx::PgConnection::connect(&url).await.expect("connect");
                sqlx::raw_sql("BEGIN; LOCK TABLE users IN ACCESS SHARE MODE")
                    .execute(&mut c)
                    .await
                    .expect("lock");
                let _ = ready.send(());
                tokio::time::sleep(hold).await;
                sqlx::raw_sql("COMMIT")
                    .execute(&mut c)
                    .await
                    .expect("commit");
            }
            Engine::Mysql => {
                let mut c = sqlx::MySqlConnection::connect(&url).await.expect("connect");
                // A read in an open transaction holds the table's metadata lock until COMMIT.
                sqlx::raw_sql(AssertSqlSafe("BEGIN; SELECT COUNT(*) FROM users"))
                    .execute(&mut c)
                    .await
                    .expect("lock");
                let _ = ready.send(());
                tokio::time::sleep(hold).await;
                sqlx::raw_sql("COMMIT")
                    .execute(&mut c)
                    .await
                    .expect("commit");
            }
            Engine::Sqlite => unreachable!("SQLite waits with its busy timeout"),
        }
    });
    held.await.expect("the lock is held");
    task
}

/// The project: users and posts applied, then users.email pending.
async fn project(db: &TestDb) -> Project {
    let p = Project::new();
    p.make(vec![user(), post()]);
    db.executor()
        .await
        .apply(&p.graph(), None, false, &mut |_| {})
        .await
        .expect("apply 0001");
    p.make(vec![with_email(user()), post()]);
    p
}

fn config(retries: u32) -> ExecutorConfig {
    ExecutorConfig {
        // MySQL's lock_wait_timeout counts whole seconds.
        lock_timeout: Duration::from_millis(300),
        lock_retries: retries,
        ..ExecutorConfig::default()
    }
}

matrix_test!(
    ddl_blocked_by_a_long_transaction_is_retried,
    |db| async move {
        let db: TestDb = db;
        if db.engine == Engine::Sqlite {
            eprintln!(
                "skipped on SQLite: a writer waits for other connections with its busy timeout"
            );
            return;
        }
        let p = project(&db).await;
        let holder = hold_users_lock(&db, Duration::from_millis(2500)).await;
        let mut events = Vec::new();
        db.executor_with(config(6))
            .await
            .apply(&p.graph(), None, false, &mut |e| events.push(e))
            .await
            .expect("applied once the lock was released");
        holder.await.expect("holder");
        let retries: Vec<u32> = events
            .iter()
            .filter_map(|e| match e {
                Event::Retrying { attempt, of, .. } => {
                    assert_eq!(*of, 6);
                    Some(*attempt)
                }
                _ => None,
            })
            .collect();
        assert!(!retries.is_empty(), "it waited: {events:?}");
        assert_eq!(retries, (1..=retries.len() as u32).collect::<Vec<_>>());
        assert!(matches!(events.last(), Some(Event::Finished { .. })));
        let email = match db.engine {
            Engine::Postgres => {
                "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'users' AND column_name = 'email'"
            }
            _ => {
                "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'users' AND column_name = 'email'"
            }
        };
        assert_eq!(db.count(email).await, 1);
        assert_eq!(
            db.executor()
                .await
                .verify_history()
                .await
                .expect("verify")
                .problems,
            vec![]
        );
    }
);

matrix_test!(
    without_retries_a_lock_timeout_fails_clearly,
    |db| async move {
        let db: TestDb = db;
        if db.engine == Engine::Sqlite {
            eprintln!(
                "skipped on SQLite: a writer waits for other connections with its busy timeout"
            );
            return;
        }
        let p = project(&db).await;
        let holder = hold_users_lock(&db, Duration::from_millis(2500)).await;
        let err = db
            .executor_with(config(0))
            .await
            .apply(&p.graph(), None, false, &mut |_| {})
            .await
            .expect_err("the lock is held longer than lock_timeout")
            .to_string();
        holder.await.expect("holder");
        assert!(err.contains("0002_add_user_email"), "{err}");
        assert!(
            err.contains("hint: another transaction holds a lock on the table"),
            "{err}"
        );
        // Nothing is half-done: applying again now succeeds.
        db.executor()
            .await
            .apply(&p.graph(), None, false, &mut |_| {})
            .await
            .expect("applied after the transaction ended");
    }
);
