//! Helpers for Chakra's end-to-end tests: a fresh, empty database per test on every engine.
//!
//! SQLite always runs. PostgreSQL and MySQL/MariaDB run when `CHAKRA_TEST_POSTGRES_URL` /
//! `CHAKRA_TEST_MYSQL_URL` name a server (any database on it: each test creates and drops its
//! own); otherwise the test prints a visible skip message. With
//! `CHAKRA_TEST_REQUIRE_SERVERS=1` (set by `.ci/run`) a missing URL fails the test instead.
//!
//! ```ignore
//! chakra_tests::matrix_test!(applies_and_rolls_back, |db| async move {
//!     let mut exec = db.executor().await;
//!     // ...
//! });
//! ```

use chakra::dialect::DialectKind;
use chakra::executor::{Executor, ExecutorConfig};
use sqlx::{AssertSqlSafe, Connection};

/// The engines a matrix test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// SQLite, in a temporary file.
    Sqlite,
    /// PostgreSQL, from `CHAKRA_TEST_POSTGRES_URL`.
    Postgres,
    /// MySQL or MariaDB, from `CHAKRA_TEST_MYSQL_URL`.
    Mysql,
}

impl Engine {
    /// The dialect of the engine.
    pub fn dialect(self) -> DialectKind {
        match self {
            Engine::Sqlite => DialectKind::Sqlite,
            Engine::Postgres => DialectKind::Postgres,
            Engine::Mysql => DialectKind::Mysql,
        }
    }

    fn env_var(self) -> &'static str {
        match self {
            Engine::Sqlite => "",
            Engine::Postgres => "CHAKRA_TEST_POSTGRES_URL",
            Engine::Mysql => "CHAKRA_TEST_MYSQL_URL",
        }
    }
}

/// A fresh, empty database for one test; dropped (best effort) when the value is dropped.
pub struct TestDb {
    /// The engine.
    pub engine: Engine,
    /// The URL of this test's database.
    pub url: String,
    /// For servers: the database, dropped with it (chakra's own test helper).
    _server: Option<chakra::testing::TestDatabase>,
    _dir: Option<tempfile::TempDir>,
}

pub use chakra::testing::with_database;

/// Evaluates `$body` with `$C` naming the sqlx connection type of `$engine`, so that one piece
/// of code talks to every engine.
macro_rules! with_connection_type {
    ($engine:expr, $C:ident => $body:expr) => {
        match $engine {
            Engine::Sqlite => {
                type $C = sqlx::SqliteConnection;
                $body
            }
            Engine::Postgres => {
                type $C = sqlx::PgConnection;
                $body
            }
            Engine::Mysql => {
                type $C = sqlx::MySqlConnection;
                $body
            }
        }
    };
}

/// Opens a connection of type `C` to `url` and runs `sql` (statements separated by `;`).
async fn execute_on<C>(url: &str, sql: &str) -> Result<(), sqlx::Error>
where
    C: Connection,
    for<'c> &'c mut C: sqlx::Executor<'c, Database = C::Database>,
{
    let mut c = C::connect(url).await?;
    sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
        .execute(&mut c)
        .await?;
    Ok(())
}

impl TestDb {
    /// A database on `engine`, or `None` (after printing why) when its server is not configured.
    pub async fn new(engine: Engine) -> Option<TestDb> {
        if engine == Engine::Sqlite {
            let dir = tempfile::tempdir().expect("a temporary folder");
            let url = format!("sqlite://{}", dir.path().join("test.sqlite3").display());
            return Some(TestDb {
                engine,
                url,
                _server: None,
                _dir: Some(dir),
            });
        }
        let var = engine.env_var();
        let Some(server) = std::env::var(var).ok().filter(|u| !u.is_empty()) else {
            if std::env::var("CHAKRA_TEST_REQUIRE_SERVERS").is_ok_and(|v| v == "1") {
                panic!(
                    "{var} is not set, but CHAKRA_TEST_REQUIRE_SERVERS=1 makes {engine:?} tests mandatory"
                );
            }
            eprintln!("SKIPPED on {engine:?}: set {var} to run this test against a real server");
            return None;
        };
        let db = chakra::testing::TestDatabase::empty_on(&server)
            .await
            .unwrap_or_else(|e| panic!("{engine:?} server at {server}: {e}"));
        Some(TestDb {
            engine,
            url: db.url().to_owned(),
            _server: Some(db),
            _dir: None,
        })
    }

    /// An executor on this database with the default configuration.
    pub async fn executor(&self) -> Executor {
        self.executor_with(ExecutorConfig::default()).await
    }

    /// An executor on this database.
    pub async fn executor_with(&self, config: ExecutorConfig) -> Executor {
        Executor::connect(&self.url, config)
            .await
            .unwrap_or_else(|e| panic!("connect to {}: {e}", self.url))
    }

    /// Runs statements (separated by `;`) on this database.
    pub async fn execute(&self, sql: &str) {
        self.try_execute(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// Runs statements (separated by `;`) on this database, returning the database's error,
    /// for statements that a constraint should reject.
    pub async fn try_execute(&self, sql: &str) -> Result<(), sqlx::Error> {
        with_connection_type!(self.engine, C => execute_on::<C>(&self.url, sql).await)
    }

    /// Runs a query and returns every row as text (NULL as `None`). Columns must be text or
    /// castable: cast in SQL (`CAST(x AS CHAR)` on MySQL, `x::text` on PostgreSQL).
    pub async fn rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        use sqlx::Row;
        with_connection_type!(self.engine, C => {
            let mut c = C::connect(&self.url).await.expect("connect");
            let rows = sqlx::query(AssertSqlSafe(sql.to_owned()))
                .fetch_all(&mut c)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            rows.iter()
                .map(|r| {
                    (0..r.len())
                        .map(|i| {
                            r.try_get::<Option<String>, _>(i)
                                .or_else(|_| {
                                    r.try_get::<Option<i64>, _>(i)
                                        .map(|v| v.map(|n| n.to_string()))
                                })
                                .unwrap_or_else(|e| panic!("{sql}: column {i}: {e}"))
                        })
                        .collect()
                })
                .collect()
        })
    }

    /// The single value of a query returning one row and one column.
    pub async fn value(&self, sql: &str) -> Option<String> {
        let rows = self.rows(sql).await;
        assert_eq!(rows.len(), 1, "{sql} returned {} rows", rows.len());
        rows[0][0].clone()
    }

    /// The number a query returning one row and one column counts (`SELECT COUNT(*) ...`).
    pub async fn count(&self, sql: &str) -> i64 {
        self.value(sql)
            .await
            .expect("a count")
            .parse()
            .expect("a number")
    }

    /// The user tables of this database (without the history table and its audit log), sorted.
    pub async fn tables(&self) -> Vec<String> {
        let sql = match self.engine {
            Engine::Sqlite => {
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
            }
            Engine::Postgres => {
                "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1"
            }
            Engine::Mysql => {
                "SELECT CAST(table_name AS CHAR) FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY 1"
            }
        };
        self.rows(sql)
            .await
            .into_iter()
            .filter_map(|r| r.into_iter().next().flatten())
            .filter(|t| t != "_chakra_migrations" && t != "_chakra_migrations_log")
            .collect()
    }
}

/// Runs one async test body on SQLite, PostgreSQL and MySQL/MariaDB: defines a module named
/// after the test with one `#[tokio::test]` per engine. `|db|` binds a fresh [`TestDb`].
#[macro_export]
macro_rules! matrix_test {
    ($name:ident, |$db:ident| $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($db: $crate::TestDb) {
                $body.await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                if let Some(db) = $crate::TestDb::new($crate::Engine::Sqlite).await {
                    run(db).await;
                }
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(db) = $crate::TestDb::new($crate::Engine::Postgres).await {
                    run(db).await;
                }
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mysql() {
                if let Some(db) = $crate::TestDb::new($crate::Engine::Mysql).await {
                    run(db).await;
                }
            }
        }
    };
}

/// Builders shared by the tests: schema states (a `User` and a `Post` model, fields), RunSQL
/// operations, and a [`Project`](fixtures::Project) folder that migrations are made and
/// written in.
pub mod fixtures {
    use chakra::graph::{Graph, MigrationKey};
    use chakra::make::{MakeOptions, Paths, load_graph, make};
    use chakra::operations::{Operation, RunSql};
    use chakra::state::{FieldState, FieldType, ForeignKey, ModelState, OnAction, ProjectState};
    use tempfile::TempDir;

    /// A field with every option at its default.
    pub fn field(name: &str, ty: FieldType) -> FieldState {
        FieldState::new(name, ty)
    }

    /// The auto-incremented BIGINT primary key `id`.
    pub fn pk() -> FieldState {
        FieldState {
            primary_key: true,
            auto_increment: true,
            ..field("id", FieldType::BigInteger)
        }
    }

    /// A VARCHAR(`n`) field.
    pub fn varchar(name: &str, n: u32) -> FieldState {
        FieldState {
            max_length: Some(n),
            ..field(name, FieldType::String)
        }
    }

    /// `f`, nullable.
    pub fn nullable(f: FieldState) -> FieldState {
        FieldState {
            nullable: true,
            ..f
        }
    }

    /// A BIGINT field referencing the `id` of `model` (table `table`) of the `default` app.
    pub fn fk(name: &str, model: &str, table: &str, on_delete: OnAction) -> FieldState {
        FieldState {
            foreign_key: Some(ForeignKey {
                app: "default".into(),
                model: model.into(),
                table: table.into(),
                column: "id".into(),
                on_delete,
                on_update: OnAction::NoAction,
            }),
            ..field(name, FieldType::BigInteger)
        }
    }

    /// A model of the `default` app, without indexes.
    pub fn model(name: &str, table: &str, fields: Vec<FieldState>) -> ModelState {
        ModelState {
            app: "default".into(),
            name: name.into(),
            table: table.into(),
            fields,
            indexes: Vec::new(),
            constraints: Vec::new(),
        }
    }

    /// The project state made of `models`.
    pub fn state(models: Vec<ModelState>) -> ProjectState {
        ProjectState::from_models_list(models).expect("distinct models")
    }

    /// `User` (table `users`): `id` and a unique `username`.
    pub fn user() -> ModelState {
        model(
            "User",
            "users",
            vec![
                pk(),
                FieldState {
                    unique: true,
                    ..varchar("username", 50)
                },
            ],
        )
    }

    /// `m` with a nullable `email` VARCHAR(255) added.
    pub fn with_email(mut m: ModelState) -> ModelState {
        m.fields.push(nullable(varchar("email", 255)));
        m
    }

    /// `Post` (table `posts`): `id`, `author_id` referencing `users` (deleting a user deletes
    /// their posts) and a `body`.
    pub fn post() -> ModelState {
        model(
            "Post",
            "posts",
            vec![
                pk(),
                fk("author_id", "User", "users", OnAction::Cascade),
                field("body", FieldType::Text),
            ],
        )
    }

    /// A RunSQL operation; without `reverse` it is irreversible.
    pub fn run_sql(forward: &str, reverse: Option<&str>) -> Operation {
        run_sql_op(forward, reverse, None)
    }

    /// A RunSQL operation marked `reversible`: without `reverse`, rolling it back does nothing.
    pub fn reversible_run_sql(forward: &str, reverse: Option<&str>) -> Operation {
        run_sql_op(forward, reverse, Some(true))
    }

    fn run_sql_op(forward: &str, reverse: Option<&str>, reversible: Option<bool>) -> Operation {
        Operation::RunSql(RunSql {
            forward: forward.into(),
            reverse: reverse.map(str::to_owned),
            reversible,
        })
    }

    /// The key of migration `id` of the `default` app.
    pub fn key(id: &str) -> MigrationKey {
        MigrationKey::new("default", id)
    }

    /// A project folder in a temporary directory, with its migrations in `migrations/`.
    pub struct Project {
        dir: TempDir,
    }

    impl Default for Project {
        fn default() -> Project {
            Project::new()
        }
    }

    impl Project {
        /// An empty project.
        pub fn new() -> Project {
            Project {
                dir: tempfile::tempdir().expect("temp dir"),
            }
        }

        /// Where the project keeps its migrations and snapshot.
        pub fn paths(&self) -> Paths {
            Paths::under(self.dir.path(), "migrations")
        }

        /// Runs `make` for `models` and returns the ids written.
        pub fn make(&self, models: Vec<ModelState>) -> Vec<String> {
            make(&self.paths(), &state(models), &MakeOptions::default())
                .expect("make")
                .migrations
                .into_iter()
                .map(|m| m.migration.migration.id)
                .collect()
        }

        /// Runs `make` for `models`, the models named in `online` marked
        /// `#[chakra(online)]`, and returns the ids written.
        pub fn make_online(&self, models: Vec<ModelState>, online: &[&str]) -> Vec<String> {
            let mut hints = chakra::autodetect::Hints::default();
            for m in online {
                hints.online.insert(("default".to_owned(), (*m).to_owned()));
            }
            chakra::make::make_with(
                &self.paths(),
                &state(models),
                &hints,
                &mut chakra::autodetect::NoInput::default(),
                &MakeOptions::default(),
            )
            .expect("make")
            .migrations
            .into_iter()
            .map(|m| m.migration.migration.id)
            .collect()
        }

        /// Writes the migration `make` would write for `models`, with `extra` operations
        /// appended (the snapshot is not updated), and returns its id.
        pub fn make_with(&self, models: Vec<ModelState>, extra: Vec<Operation>) -> String {
            let opts = MakeOptions {
                dry_run: true,
                ..MakeOptions::default()
            };
            let mut made = make(&self.paths(), &state(models), &opts).expect("make");
            assert_eq!(made.migrations.len(), 1);
            let mut m = made.migrations.remove(0);
            m.migration.operations.extend(extra);
            std::fs::write(&m.path, m.migration.to_toml()).expect("write");
            m.migration.migration.id
        }

        /// Writes migration `id` of the `default` app, depending on `deps` and made of `ops`.
        pub fn write(&self, id: &str, deps: &[&str], ops: Vec<Operation>) {
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
            let dir = self.paths().migrations;
            std::fs::create_dir_all(&dir).expect("mkdir");
            std::fs::write(dir.join(format!("{id}.toml")), m.to_toml()).expect("write");
        }

        /// The migration graph of the files written so far.
        pub fn graph(&self) -> Graph {
            load_graph(&self.paths().migrations).expect("graph")
        }
    }
}
