//! The embedded migrator on every database: `embed_migrations!` compiles `tests/embedded/`
//! (two apps, a foreign key across them) into this test binary, and `Migrator` applies it
//! through the application's own sqlx pool or a URL, with the lock, checksums, history and
//! audit log of the CLI: applied once, nothing the second time, status and verify from
//! application code, rollback to a target and to zero. An in-memory SQLite pool keeps the
//! schema (the migrator borrows one of its connections rather than opening its own).

use chakra::graph::MigrationKey;
use chakra::migrator::{Error, Migrator, Options, State};
use chakra::plan::RollbackTarget;
use chakra_tests::{Engine, TestDb, matrix_test};

static MIGRATOR: Migrator = chakra::embed_migrations!("embedded");

fn keys(list: &[(&str, &str)]) -> Vec<MigrationKey> {
    list.iter()
        .map(|(a, i)| MigrationKey::new(*a, *i))
        .collect()
}

const ALL: [(&str, &str); 3] = [
    ("default", "0001_initial"),
    ("blog", "0001_initial"),
    ("default", "0002_add_user_email"),
];

/// Applies, checks status and verify, rolls back to `0001_initial` and to zero, applies again,
/// all through `db` (a pool or a URL).
async fn scenario(db: &TestDb, connect: impl Fn() -> Target) {
    let applied = MIGRATOR.apply_to(connect(), "blog/0001_initial").await;
    assert_eq!(
        applied.expect("apply to a target"),
        keys(&ALL[..2]),
        "a target applies what it needs, itself included"
    );
    let applied = MIGRATOR.apply(connect()).await.expect("apply");
    assert_eq!(applied, keys(&ALL[2..]));
    assert!(
        MIGRATOR.apply(connect()).await.expect("again").is_empty(),
        "nothing pending"
    );
    let status = MIGRATOR.status(connect()).await.expect("status");
    assert_eq!(status.len(), 3);
    assert!(
        status
            .iter()
            .all(|s| s.state == State::Applied && s.applied_at.is_some())
    );
    assert!(MIGRATOR.verify(connect()).await.expect("verify").is_ok());
    assert_eq!(
        db.count("SELECT COUNT(*) FROM _chakra_migrations_log")
            .await,
        3,
        "the audit log records each migration"
    );

    let back = MIGRATOR
        .rollback_to(connect(), "0001_initial")
        .await
        .expect("rollback to 0001");
    // Everything applied after it, newest first; it stays applied.
    assert_eq!(back, keys(&[ALL[2], ALL[1]]));
    assert_eq!(db.tables().await, ["users"]);
    let back = MIGRATOR.rollback_to(connect(), "zero").await.expect("zero");
    assert_eq!(back, keys(&ALL[..1]));
    assert!(db.tables().await.is_empty(), "{:?}", db.tables().await);
    let status = MIGRATOR.status(connect()).await.expect("status");
    assert!(status.iter().all(|s| s.state == State::Pending));
    assert_eq!(MIGRATOR.apply(connect()).await.expect("again").len(), 3);
    assert_eq!(db.tables().await, ["posts", "users"]);
}

/// What the scenario migrates: one of the application's pools, or the URL.
#[derive(Clone)]
enum Target {
    Url(String),
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
    Mysql(sqlx::MySqlPool),
}

impl chakra::executor::Connect for Target {
    async fn connect(
        self,
        config: chakra::executor::ExecutorConfig,
    ) -> Result<chakra::executor::Executor, chakra::executor::ExecutorError> {
        match &self {
            Target::Url(u) => u.connect(config).await,
            Target::Sqlite(p) => p.connect(config).await,
            Target::Postgres(p) => p.connect(config).await,
            Target::Mysql(p) => p.connect(config).await,
        }
    }
}

matrix_test!(
    the_embedded_migrator_migrates_through_the_applications_pool,
    |db| async move {
        let db: TestDb = db;
        let target = match db.engine {
            Engine::Sqlite => Target::Sqlite(
                sqlx::SqlitePool::connect(&format!("{}?mode=rwc", db.url))
                    .await
                    .expect("pool"),
            ),
            Engine::Postgres => {
                Target::Postgres(sqlx::PgPool::connect(&db.url).await.expect("pool"))
            }
            Engine::Mysql => Target::Mysql(sqlx::MySqlPool::connect(&db.url).await.expect("pool")),
        };
        scenario(&db, || target.clone()).await;
    }
);

matrix_test!(the_embedded_migrator_migrates_a_url, |db| async move {
    let db: TestDb = db;
    let url = db.url.clone();
    scenario(&db, || Target::Url(url.clone())).await;
});

matrix_test!(
    a_protected_database_refuses_to_drop_data_from_application_code,
    |db| async move {
        let db: TestDb = db;
        MIGRATOR.apply(&db.url).await.expect("apply");
        let protected = Options {
            protected: true,
            ..Options::default()
        };
        let err = MIGRATOR
            .rollback_with(
                &db.url,
                &RollbackTarget::To(MigrationKey::new("default", "0001_initial")),
                &protected,
            )
            .await
            .expect_err("dropping users.email is refused");
        assert!(matches!(err, Error::DataLoss(_)), "{err}");
        assert!(
            err.to_string().contains("drops column `users`.`email`"),
            "{err}"
        );
        assert_eq!(
            MIGRATOR.status(&db.url).await.expect("status")[2].state,
            State::Applied
        );
        let allowed = Options {
            allow_data_loss: true,
            ..protected
        };
        MIGRATOR
            .rollback_with(
                &db.url,
                &RollbackTarget::To(MigrationKey::new("default", "0001_initial")),
                &allowed,
            )
            .await
            .expect("allowed");
    }
);

/// A database in memory exists only in the connections of its pool: the migrator must use
/// one of them, and the application then sees the schema.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_memory_sqlite_pool_keeps_the_schema() {
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect("sqlite::memory:")
        .await
        .expect("pool");
    assert_eq!(MIGRATOR.apply(&pool).await.expect("apply").len(), 3);
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN ('users', 'posts')",
    )
    .fetch_one(&pool)
    .await
    .expect("count");
    assert_eq!(n, 2);
    // The pool's connection came back as it was: its busy timeout restored.
    let busy: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
        .fetch_one(&pool)
        .await
        .expect("busy timeout");
    assert_eq!(busy, 5000, "sqlx's default");
    assert!(MIGRATOR.apply(&pool).await.expect("again").is_empty());
}

#[test]
fn the_embedded_files_are_every_file_of_the_folder() {
    let paths: Vec<&str> = MIGRATOR.files().iter().map(|f| f.path).collect();
    assert_eq!(
        paths,
        [
            "0001_initial.toml",
            "0002_add_user_email.toml",
            "blog/0001_initial.toml"
        ]
    );
    assert_eq!(MIGRATOR.graph().expect("valid").len(), 3);
}
