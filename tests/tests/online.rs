//! Online changes (`#[chakra(online)]`) on every database: `make` writes a migration with
//! `atomic = false` whose index, constraint and foreign key operations avoid long locks
//! (PostgreSQL: `CONCURRENTLY`, `NOT VALID` then `VALIDATE`; MySQL/MariaDB:
//! `ALGORITHM=INPLACE, LOCK=NONE`); it applies, rolls back and applies again with the right
//! schema, no drift and a history that verifies. On PostgreSQL, writes to the table go on while
//! the index is built, and a build that failed half-way (leaving an invalid index) is cleaned
//! up and finished by the next `apply`.

use std::time::Duration;

use chakra::executor::{DEFAULT_TABLE, Executor, ExecutorConfig, ExecutorError, RowStatus};
use chakra::graph::Graph;
use chakra::plan::RollbackTarget;
use chakra::state::{ConstraintKind, ConstraintState, IndexState, ModelState, OnAction};
use chakra_tests::fixtures::{Project, fk, key, nullable, post, user};
use chakra_tests::{Engine, TestDb, matrix_test};
use sqlx::Connection;

/// `Post` with an index on `author_id`, a CHECK on `body`, and a nullable `editor_id`
/// referencing `users`.
fn online_post() -> ModelState {
    let mut p = post();
    p.fields.push(nullable(fk(
        "editor_id",
        "User",
        "users",
        OnAction::SetNull,
    )));
    p.indexes.push(IndexState {
        name: "posts_author_online_idx".into(),
        fields: vec!["author_id".into()],
        unique: false,
    });
    p.constraints.push(ConstraintState {
        name: "posts_body_not_empty".into(),
        kind: ConstraintKind::Check {
            expr: "body <> ''".into(),
        },
    });
    p
}

/// Users and posts applied, with rows; then `post` made as an online model (not applied).
async fn project(db: &TestDb, post_after: ModelState) -> Project {
    let p = Project::new();
    assert_eq!(p.make(vec![user(), post()]), ["0001_initial"]);
    apply(&mut db.executor().await, &p.graph())
        .await
        .expect("apply 0001");
    db.execute("INSERT INTO users (id, username) VALUES (1, 'ann')")
        .await;
    db.execute("INSERT INTO posts (id, author_id, body) VALUES (1, 1, 'hello'), (2, 1, 'again')")
        .await;
    let made = p.make_online(vec![user(), post_after], &["Post"]);
    assert_eq!(made.len(), 1, "{made:?}");
    p
}

/// `Post` with only an index on `author_id`, made online.
fn post_with_index() -> ModelState {
    let mut p = post();
    p.indexes.push(IndexState {
        name: "posts_author_online_idx".into(),
        fields: vec!["author_id".into()],
        unique: false,
    });
    p
}

async fn apply(exec: &mut Executor, graph: &Graph) -> Result<(), ExecutorError> {
    exec.apply(graph, None, false, &mut |_| {})
        .await
        .map(|_| ())
}

/// Whether the index `name` exists (and, on PostgreSQL, is valid).
async fn index_ready(db: &TestDb, name: &str) -> bool {
    let sql = match db.engine {
        Engine::Postgres => format!(
            "SELECT COUNT(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
             WHERE c.relname = '{name}' AND i.indisvalid"
        ),
        Engine::Mysql => format!(
            "SELECT COUNT(DISTINCT index_name) FROM information_schema.statistics \
             WHERE table_schema = DATABASE() AND index_name = '{name}'"
        ),
        Engine::Sqlite => {
            format!("SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = '{name}'")
        }
    };
    db.count(&sql).await > 0
}

async fn assert_no_drift(exec: &mut Executor, graph: &Graph, when: &str) {
    let report = chakra::drift::check(exec, graph, DEFAULT_TABLE)
        .await
        .expect("drift");
    assert!(
        report.differences.is_empty(),
        "drift {when}: {:?}",
        report.differences
    );
}

matrix_test!(
    online_changes_apply_roll_back_and_apply_again,
    |db| async move {
        let db: TestDb = db;
        let p = project(&db, online_post()).await;
        let graph = p.graph();
        let m = graph
            .get(&graph.leaves()["default"])
            .expect("the online migration");
        assert!(!m.migration.migration.atomic, "online needs atomic = false");
        assert!(m.migration.operations.iter().all(|op| op.is_online()));

        let mut exec = db.executor().await;
        apply(&mut exec, &graph).await.expect("apply online");
        assert!(index_ready(&db, "posts_author_online_idx").await);
        if db.engine == Engine::Postgres {
            // NOT VALID, then VALIDATE: both constraints end up validated.
            assert_eq!(
                db.count(
                    "SELECT COUNT(*) FROM pg_constraint WHERE conname IN \
                     ('posts_body_not_empty', 'posts_editor_id_fkey') AND convalidated"
                )
                .await,
                2
            );
        }
        // The constraints hold.
        db.execute("UPDATE posts SET editor_id = 1 WHERE id = 1")
            .await;
        assert!(
            db.try_execute("UPDATE posts SET editor_id = 99 WHERE id = 1")
                .await
                .is_err(),
            "the foreign key holds"
        );
        let history = exec.history().await.expect("history");
        assert_eq!(history.len(), 2);
        assert_eq!(history[1].status, RowStatus::Applied);
        assert_eq!(history[1].progress, 3, "three operations recorded");
        assert_no_drift(&mut exec, &graph, "after the online migration").await;

        exec.rollback(
            &graph,
            &RollbackTarget::To(key("0001_initial")),
            false,
            &mut |_| {},
        )
        .await
        .expect("roll back the online migration");
        assert!(!index_ready(&db, "posts_author_online_idx").await);
        assert_no_drift(&mut exec, &graph, "after the rollback").await;
        apply(&mut exec, &graph).await.expect("apply again");
        assert!(index_ready(&db, "posts_author_online_idx").await);
        assert_eq!(db.count("SELECT COUNT(*) FROM posts").await, 2);
        assert_eq!(
            exec.verify_history().await.expect("verify").problems,
            vec![]
        );
        // The models and the files agree.
        assert!(
            p.make_online(vec![user(), online_post()], &["Post"])
                .is_empty()
        );
    }
);

/// An uncommitted INSERT into `posts` on its own connection, like an application's open
/// transaction: a plain `CREATE INDEX` would wait for it and make every later write queue
/// behind itself; `CREATE INDEX CONCURRENTLY` waits for it too, but lets writes go on.
async fn open_writer(db: &TestDb) -> sqlx::PgConnection {
    let mut c = sqlx::PgConnection::connect(&db.url).await.expect("connect");
    sqlx::raw_sql("BEGIN; INSERT INTO posts (id, author_id, body) VALUES (10, 1, 'open')")
        .execute(&mut c)
        .await
        .expect("open transaction");
    c
}

matrix_test!(
    postgres_builds_indexes_while_writes_go_on_and_finishes_an_interrupted_build,
    |db| async move {
        let db: TestDb = db;
        if db.engine != Engine::Postgres {
            eprintln!("PostgreSQL only: CONCURRENTLY and invalid indexes are PostgreSQL's");
            return;
        }
        // Only the index: an ALTER TABLE (adding a column or a constraint) takes a moment's
        // exclusive lock even online, and would queue behind the open transaction too.
        let p = project(&db, post_with_index()).await;
        let graph = p.graph();
        let id = graph.leaves()["default"].clone();

        // 1. The build waits for an open transaction and gives up at `lock_timeout` (no
        // retries): it leaves an invalid index behind, and the migration is Failed at its
        // first operation. Writes were never blocked meanwhile.
        let mut writer = open_writer(&db).await;
        let mut exec = db
            .executor_with(ExecutorConfig {
                lock_timeout: Duration::from_millis(1500),
                lock_retries: 0,
                ..ExecutorConfig::default()
            })
            .await;
        let migrate = async { apply(&mut exec, &graph).await };
        let write_meanwhile = async {
            tokio::time::sleep(Duration::from_millis(400)).await;
            let mut c = sqlx::PgConnection::connect(&db.url).await.expect("connect");
            // A plain CREATE INDEX would hold a SHARE lock: this INSERT would wait for it.
            sqlx::raw_sql(
                "SET lock_timeout = '300ms'; \
                 INSERT INTO posts (id, author_id, body) VALUES (11, 1, 'during the build')",
            )
            .execute(&mut c)
            .await
        };
        let (migrated, written) = tokio::join!(migrate, write_meanwhile);
        written.expect("a write during the concurrent build is not blocked");
        let err = migrated.expect_err("the build waited longer than lock_timeout");
        let text = err.to_string();
        assert!(
            text.contains("failed at operation 1 of 1")
                && text.contains("CREATE INDEX CONCURRENTLY"),
            "{text}"
        );
        assert!(
            text.contains("is online: its statements commit one by one outside a transaction")
                && text.contains("starts over from its first statement"),
            "explains what stays and what happens next: {text}"
        );
        assert_eq!(
            db.count(
                "SELECT COUNT(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
                 WHERE c.relname = 'posts_author_online_idx' AND NOT i.indisvalid"
            )
            .await,
            1,
            "an interrupted concurrent build leaves an invalid index"
        );
        let row = exec
            .history()
            .await
            .expect("history")
            .into_iter()
            .find(|r| r.key == id)
            .expect("a row for the failed migration");
        assert_eq!((row.status, row.progress), (RowStatus::Failed, 0));

        // 2. Once the transaction ends, `apply` drops the invalid index, builds it again and
        // finishes the migration.
        sqlx::raw_sql("COMMIT")
            .execute(&mut writer)
            .await
            .expect("commit");
        apply(&mut exec, &graph).await.expect("resumed");
        assert!(index_ready(&db, "posts_author_online_idx").await);
        assert_eq!(
            db.count("SELECT COUNT(*) FROM pg_index i WHERE NOT i.indisvalid")
                .await,
            0
        );
        assert_eq!(db.count("SELECT COUNT(*) FROM posts").await, 4);
        let history = exec.history().await.expect("history");
        assert_eq!(history[1].status, RowStatus::Applied);
        assert_eq!(
            exec.verify_history().await.expect("verify").problems,
            vec![]
        );
        assert_no_drift(&mut exec, &graph, "after the resumed build").await;
    }
);
