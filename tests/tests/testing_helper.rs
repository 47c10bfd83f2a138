//! `chakra::testing`, the test databases Chakra offers its users: a migrated database of its
//! own per test, dropped with it, on every engine; a template migrated once and copied (a
//! PostgreSQL template database, a SQLite file); MySQL migrating each time.

use chakra::migrator::{Migrator, State};
use chakra::testing::TestDatabase;
use chakra_tests::Engine;

static MIGRATOR: Migrator = chakra::embed_migrations!("embedded");

/// The server of `engine` for these tests, or `None` (after saying so) when not configured.
fn server(engine: Engine) -> Option<String> {
    let var = match engine {
        Engine::Sqlite => return Some("sqlite:".to_owned()),
        Engine::Postgres => "CHAKRA_TEST_POSTGRES_URL",
        Engine::Mysql => "CHAKRA_TEST_MYSQL_URL",
    };
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CHAKRA_TEST_REQUIRE_SERVERS").is_ok_and(|v| v == "1") => {
            panic!("{var} is not set, but CHAKRA_TEST_REQUIRE_SERVERS=1")
        }
        _ => {
            eprintln!("SKIPPED on {engine:?}: set {var}");
            None
        }
    }
}

/// How many databases named like `pattern` the server has.
async fn databases(engine: Engine, server: &str, name: &str) -> i64 {
    match engine {
        Engine::Postgres => {
            let pool = sqlx::PgPool::connect(server).await.expect("connect");
            sqlx::query_scalar("SELECT COUNT(*) FROM pg_database WHERE datname = $1")
                .bind(name)
                .fetch_one(&pool)
                .await
                .expect("count")
        }
        Engine::Mysql => {
            let pool = sqlx::MySqlPool::connect(server).await.expect("connect");
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = ?",
            )
            .bind(name)
            .fetch_one(&pool)
            .await
            .expect("count")
        }
        Engine::Sqlite => unreachable!("files, not databases"),
    }
}

fn name_of(url: &str) -> String {
    url.rsplit('/').next().expect("a path").to_owned()
}

async fn each_test_gets_a_migrated_database_dropped_with_it(engine: Engine) {
    let Some(server) = server(engine) else {
        return;
    };
    let db = TestDatabase::new_on(&server, &MIGRATOR)
        .await
        .expect("a test database");
    let other = TestDatabase::new_on(&server, &MIGRATOR)
        .await
        .expect("another");
    assert_ne!(db.url(), other.url());
    let status = MIGRATOR.status(db.url()).await.expect("status");
    assert!(
        status.iter().all(|s| s.state == State::Applied),
        "{status:?}"
    );
    let url = db.url().to_owned();
    drop(db);
    match engine {
        Engine::Sqlite => {
            let path = url
                .trim_start_matches("sqlite://")
                .trim_end_matches("?mode=rwc")
                .to_owned();
            assert!(!std::path::Path::new(&path).exists(), "{path} removed");
        }
        _ => assert_eq!(
            databases(engine, &server, &name_of(&url)).await,
            0,
            "dropped"
        ),
    }
    other.close().await.expect("closed");
}

async fn a_template_is_migrated_once_and_copied(engine: Engine) {
    let Some(server) = server(engine) else {
        return;
    };
    let a = TestDatabase::from_template_on(&server, &MIGRATOR)
        .await
        .expect("a copy");
    let b = TestDatabase::from_template_on(&server, &MIGRATOR)
        .await
        .expect("another copy");
    // Each copy is migrated, and its own.
    for db in [&a, &b] {
        assert!(MIGRATOR.apply(db.url()).await.expect("apply").is_empty());
    }
    let write = |url: String| async move {
        match engine {
            Engine::Sqlite => {
                let pool = sqlx::SqlitePool::connect(&url).await.expect("connect");
                sqlx::query("INSERT INTO users (username) VALUES ('ann')")
                    .execute(&pool)
                    .await
                    .expect("insert");
            }
            Engine::Postgres => {
                let pool = sqlx::PgPool::connect(&url).await.expect("connect");
                sqlx::query("INSERT INTO users (username) VALUES ('ann')")
                    .execute(&pool)
                    .await
                    .expect("insert");
            }
            Engine::Mysql => {
                let pool = sqlx::MySqlPool::connect(&url).await.expect("connect");
                sqlx::query("INSERT INTO users (username) VALUES ('ann')")
                    .execute(&pool)
                    .await
                    .expect("insert");
            }
        }
    };
    write(a.url().to_owned()).await;
    // The second copy does not see the first one's row: inserting the same unique name works.
    write(b.url().to_owned()).await;
    if engine == Engine::Postgres {
        let templates = {
            let pool = sqlx::PgPool::connect(&server).await.expect("connect");
            sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM pg_database WHERE datname LIKE 'chakra\\_tpl\\_%' AND datname NOT LIKE 'chakra\\_test%'",
            )
            .fetch_one(&pool)
            .await
            .expect("count")
        };
        assert!(templates >= 1, "the template is kept for later runs");
    }
}

macro_rules! per_engine {
    ($f:ident) => {
        mod $f {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$f(Engine::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$f(Engine::Postgres).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mysql() {
                super::$f(Engine::Mysql).await
            }
        }
    };
}

per_engine!(each_test_gets_a_migrated_database_dropped_with_it);
per_engine!(a_template_is_migrated_once_and_copied);

/// Without `CHAKRA_TEST_DATABASE_URL` or `DATABASE_URL`, a temporary SQLite file.
#[tokio::test]
async fn the_default_is_a_sqlite_file_unless_a_server_is_named() {
    let named = ["CHAKRA_TEST_DATABASE_URL", "DATABASE_URL"]
        .iter()
        .any(|v| std::env::var(v).is_ok_and(|u| !u.is_empty()));
    let db = TestDatabase::new(&MIGRATOR).await.expect("a test database");
    if !named {
        assert!(db.url().starts_with("sqlite://"), "{}", db.url());
        assert_eq!(db.dialect(), chakra::dialect::DialectKind::Sqlite);
    }
    assert_eq!(MIGRATOR.status(db.url()).await.expect("status").len(), 3);
}
