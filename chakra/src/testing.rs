//! Databases for your application's tests, migrated by your embedded migrator: what
//! `#[sqlx::test]` does for sqlx, for any test framework.
//!
//! ```no_run
//! use chakra::migrator::Migrator;
//! use chakra::testing::TestDatabase;
//!
//! static MIGRATOR: Migrator = chakra::embed_migrations!("../examples/blog/migrations");
//!
//! #[tokio::test]
//! async fn creates_a_user() {
//!     // A database of its own, with every migration applied.
//!     let db = TestDatabase::new(&MIGRATOR).await.expect("a test database");
//!     let pool = sqlx::SqlitePool::connect(db.url()).await.expect("connect");
//!     // ... the test ...
//! }   // dropped here, with its database
//! ```
//!
//! Where the databases live comes from `CHAKRA_TEST_DATABASE_URL`, else `DATABASE_URL`: a
//! PostgreSQL or MySQL/MariaDB URL names the server (its database is only used to connect and
//! create the others), and each test gets a database of its own named `chakra_test_...`, dropped
//! with the [`TestDatabase`]. Without either variable, or with a `sqlite:` URL, each test gets a
//! SQLite file in the system's temporary folder.
//!
//! [`TestDatabase::new`] applies every migration for each test. [`TestDatabase::from_template`]
//! migrates once and copies: on PostgreSQL a template database (named after the migrations'
//! checksums, so it is reused by later runs until the migrations change) cloned with
//! `CREATE DATABASE ... TEMPLATE`; on SQLite a migrated file, copied; MySQL has no templates,
//! so there it migrates each time. Old templates can be removed with
//! `DROP DATABASE "chakra_tpl_..."`; [`drop_templates`] drops every one on a server.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

#[cfg(any(feature = "postgres", feature = "mysql"))]
use sqlx::{AssertSqlSafe, Connection};

use crate::dialect::{DialectKind, quote_ident};
use crate::executor::{ExecutorError, dialect_of_url, redact_url};
use crate::migrator::{Error, Migrator};

/// The variable that names the server for test databases (before `DATABASE_URL`).
pub const URL_VAR: &str = "CHAKRA_TEST_DATABASE_URL";

/// A database for one test: created empty or migrated, and dropped (or its SQLite file
/// deleted) when this value is dropped.
#[derive(Debug)]
pub struct TestDatabase {
    url: String,
    dialect: DialectKind,
    cleanup: Option<Cleanup>,
}

#[derive(Debug)]
enum Cleanup {
    /// The SQLite file (and its `-wal`, `-shm` and `-journal` companions).
    File(PathBuf),
    /// A database `name` on the server of `server` (a URL of its maintenance database).
    Database { server: String, name: String },
}

impl TestDatabase {
    /// A database with every migration of `migrator` applied, on the server named by
    /// `CHAKRA_TEST_DATABASE_URL` / `DATABASE_URL`, else a temporary SQLite file.
    pub async fn new(migrator: &'static Migrator) -> Result<TestDatabase, Error> {
        TestDatabase::new_on(&base_url(), migrator).await
    }

    /// [`new`](Self::new) on the server of `base_url` (`sqlite:` for a temporary file).
    pub async fn new_on(
        base_url: &str,
        migrator: &'static Migrator,
    ) -> Result<TestDatabase, Error> {
        let db = TestDatabase::empty_on(base_url).await?;
        migrator.apply(db.url()).await?;
        Ok(db)
    }

    /// A database migrated once per test binary (and, on PostgreSQL, kept as a template for
    /// later runs) and copied for each test; see the [module documentation](self).
    pub async fn from_template(migrator: &'static Migrator) -> Result<TestDatabase, Error> {
        TestDatabase::from_template_on(&base_url(), migrator).await
    }

    /// [`from_template`](Self::from_template) on the server of `base_url`.
    pub async fn from_template_on(
        base_url: &str,
        migrator: &'static Migrator,
    ) -> Result<TestDatabase, Error> {
        match dialect_of_url(base_url)? {
            DialectKind::Postgres => postgres_from_template(base_url, migrator).await,
            DialectKind::Sqlite => sqlite_from_template(migrator).await,
            DialectKind::Mysql => TestDatabase::new_on(base_url, migrator).await,
        }
    }

    /// An empty database on the server of `base_url` (`sqlite:` for a temporary file).
    ///
    /// # Examples
    ///
    /// ```
    /// use chakra::dialect::DialectKind;
    /// use chakra::testing::TestDatabase;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// runtime.block_on(async {
    ///     let db = TestDatabase::empty_on("sqlite:").await?;
    ///     assert_eq!(db.dialect(), DialectKind::Sqlite);
    ///     let pool = sqlx::SqlitePool::connect(db.url()).await?;
    ///     let tables: i64 = sqlx::query_scalar("SELECT count(*) FROM sqlite_master").fetch_one(&pool).await?;
    ///     assert_eq!(tables, 0);
    ///     pool.close().await;
    ///     db.close().await?; // deletes the file
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })
    /// # }
    /// ```
    pub async fn empty_on(base_url: &str) -> Result<TestDatabase, Error> {
        let dialect = dialect_of_url(base_url)?;
        if dialect == DialectKind::Sqlite {
            let path = temp_file("test");
            return Ok(TestDatabase {
                url: format!("sqlite://{}?mode=rwc", path.display()),
                dialect,
                cleanup: Some(Cleanup::File(path)),
            });
        }
        let name = unique_name("chakra_test");
        admin(
            dialect,
            base_url,
            &format!("CREATE DATABASE {}", quote_ident(dialect, &name)),
        )
        .await?;
        Ok(TestDatabase {
            url: with_database(base_url, &name),
            dialect,
            cleanup: Some(Cleanup::Database {
                server: base_url.to_owned(),
                name,
            }),
        })
    }

    /// The database's URL, to connect the code under test (`sqlx::PgPool::connect(db.url())`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's dialect.
    pub fn dialect(&self) -> DialectKind {
        self.dialect
    }

    /// Keeps the database after the test (to look into it after a failure); its URL is
    /// printed.
    pub fn keep(mut self) -> String {
        self.cleanup = None;
        eprintln!("kept test database {}", redact_url(&self.url));
        self.url.clone()
    }

    /// Drops the database now, reporting a failure (dropping the value does it quietly).
    pub async fn close(mut self) -> Result<(), Error> {
        match self.cleanup.take() {
            Some(c) => c.run(self.dialect).await,
            None => Ok(()),
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some(cleanup) = self.cleanup.take() else {
            return;
        };
        let dialect = self.dialect;
        // Drop runs inside the test's runtime, which cannot be blocked on: the database is
        // dropped from a thread and runtime of its own.
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                let _ = rt.block_on(cleanup.run(dialect));
            }
        })
        .join();
    }
}

impl Cleanup {
    async fn run(self, dialect: DialectKind) -> Result<(), Error> {
        match self {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm", "-journal"] {
                    let mut p = path.clone().into_os_string();
                    p.push(suffix);
                    let _ = std::fs::remove_file(p);
                }
                Ok(())
            }
            Cleanup::Database { server, name } => {
                let name = quote_ident(dialect, &name);
                let sql = if dialect == DialectKind::Postgres {
                    format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")
                } else {
                    format!("DROP DATABASE IF EXISTS {name}")
                };
                admin(dialect, &server, &sql).await
            }
        }
    }
}

/// Drops every template database (`chakra_tpl_...`) on the PostgreSQL server of `base_url`,
/// for example after the migrations changed; returns how many.
#[cfg(feature = "postgres")]
pub async fn drop_templates(base_url: &str) -> Result<usize, Error> {
    let mut c = sqlx::PgConnection::connect(base_url)
        .await
        .map_err(|source| ExecutorError::Connect {
            url: redact_url(base_url),
            source,
        })?;
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT datname::text FROM pg_database WHERE datname LIKE 'chakra\\_tpl\\_%'",
    )
    .fetch_all(&mut c)
    .await
    .map_err(|source| ExecutorError::Database {
        doing: "listing the template databases".to_owned(),
        source,
    })?;
    let _ = c.close().await;
    for name in &names {
        admin(
            DialectKind::Postgres,
            base_url,
            &format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                quote_ident(DialectKind::Postgres, name)
            ),
        )
        .await?;
    }
    Ok(names.len())
}

/// `CHAKRA_TEST_DATABASE_URL`, else `DATABASE_URL`, else `sqlite:`.
fn base_url() -> String {
    [URL_VAR, "DATABASE_URL"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.trim().is_empty()))
        .unwrap_or_else(|| "sqlite:".to_owned())
}

/// A name no other test of this or another process uses.
fn unique_name(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{prefix}_{}_{}_{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn temp_file(what: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "{}.sqlite3",
        unique_name(&format!("chakra_{what}"))
    ))
}

/// `url` with its database (the path) replaced by `db`, keeping the query.
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{db}", &base[..host_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// Runs `sql` (CREATE or DROP DATABASE) on the server of `server`.
#[cfg_attr(
    not(any(feature = "postgres", feature = "mysql")),
    allow(unused_variables)
)]
async fn admin(dialect: DialectKind, server: &str, sql: &str) -> Result<(), Error> {
    match dialect {
        DialectKind::Sqlite => Ok(()),
        #[cfg(feature = "postgres")]
        DialectKind::Postgres => admin_on::<sqlx::PgConnection>(server, sql).await,
        #[cfg(feature = "mysql")]
        DialectKind::Mysql => admin_on::<sqlx::MySqlConnection>(server, sql).await,
        #[allow(unreachable_patterns)]
        _ => unreachable!("dialect_of_url accepts only compiled dialects"),
    }
}

/// [`admin`] on a connection of type `C`.
#[cfg(any(feature = "postgres", feature = "mysql"))]
async fn admin_on<C>(server: &str, sql: &str) -> Result<(), Error>
where
    C: Connection,
    for<'c> &'c mut C: sqlx::Executor<'c, Database = C::Database>,
{
    let doing = |source| {
        Error::Executor(ExecutorError::Database {
            doing: format!("`{sql}` on {}", redact_url(server)),
            source,
        })
    };
    let mut c = C::connect(server).await.map_err(doing)?;
    sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
        .execute(&mut c)
        .await
        .map_err(doing)?;
    let _ = c.close().await;
    Ok(())
}

#[cfg(feature = "postgres")]
/// The name of the template of `migrator`: after the `total` of its chakra.sum (or of its
/// files), so that changed migrations get a template of their own.
fn template_name(migrator: &Migrator) -> Result<String, Error> {
    let graph = migrator.graph()?;
    let sum = crate::sum::render(&crate::sum::entries(graph.files()));
    let digest = crate::checksum::sha256_hex(sum.as_bytes());
    Ok(format!("chakra_tpl_{}", &digest[..16]))
}

#[cfg(feature = "postgres")]
async fn postgres_from_template(
    base_url: &str,
    migrator: &'static Migrator,
) -> Result<TestDatabase, Error> {
    let template = template_name(migrator)?;
    // Made once, by whichever test (of any process) gets there first: under an advisory
    // lock, a template is created under a scratch name, migrated, then renamed, so a
    // template that exists is complete.
    let lock_key = i64::from_be_bytes(
        crate::checksum::sha256_hex(template.as_bytes()).as_bytes()[..8]
            .try_into()
            .expect("eight bytes"),
    );
    let mut c = sqlx::PgConnection::connect(base_url)
        .await
        .map_err(|source| ExecutorError::Connect {
            url: redact_url(base_url),
            source,
        })?;
    let db_err = |source| {
        Error::Executor(ExecutorError::Database {
            doing: "preparing the template database".to_owned(),
            source,
        })
    };
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(lock_key)
        .execute(&mut c)
        .await
        .map_err(db_err)?;
    let made = async {
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(&template)
                .fetch_one(&mut c)
                .await
                .map_err(db_err)?;
        if !exists {
            let scratch = TestDatabase::empty_on(base_url).await?;
            migrator.apply(scratch.url()).await?;
            let Some(Cleanup::Database { name, .. }) = &scratch.cleanup else {
                unreachable!("a PostgreSQL test database has a name")
            };
            let q = |n: &str| quote_ident(DialectKind::Postgres, n);
            sqlx::raw_sql(AssertSqlSafe(format!(
                "ALTER DATABASE {} RENAME TO {}",
                q(name),
                q(&template)
            )))
            .execute(&mut c)
            .await
            .map_err(db_err)?;
            // Renamed: nothing left to drop.
            let mut scratch = scratch;
            scratch.cleanup = None;
        }
        let copy = unique_name("chakra_test");
        sqlx::raw_sql(AssertSqlSafe(format!(
            "CREATE DATABASE {} TEMPLATE {}",
            quote_ident(DialectKind::Postgres, &copy),
            quote_ident(DialectKind::Postgres, &template)
        )))
        .execute(&mut c)
        .await
        .map_err(db_err)?;
        Ok::<_, Error>(copy)
    }
    .await;
    let _ = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(lock_key)
        .execute(&mut c)
        .await;
    let _ = c.close().await;
    let name = made?;
    Ok(TestDatabase {
        url: with_database(base_url, &name),
        dialect: DialectKind::Postgres,
        cleanup: Some(Cleanup::Database {
            server: base_url.to_owned(),
            name,
        }),
    })
}

#[cfg(not(feature = "postgres"))]
async fn postgres_from_template(
    base_url: &str,
    _migrator: &'static Migrator,
) -> Result<TestDatabase, Error> {
    dialect_of_url(base_url)?;
    unreachable!("dialect_of_url refuses PostgreSQL URLs without the feature")
}

/// A copy of a SQLite file migrated once by this process.
async fn sqlite_from_template(migrator: &'static Migrator) -> Result<TestDatabase, Error> {
    static TEMPLATES: tokio::sync::Mutex<Vec<(usize, PathBuf)>> =
        tokio::sync::Mutex::const_new(Vec::new());
    let id = std::ptr::from_ref(migrator) as usize;
    let template = {
        let mut templates = TEMPLATES.lock().await;
        match templates.iter().find(|(m, _)| *m == id) {
            Some((_, path)) => path.clone(),
            None => {
                let path = temp_file("tpl");
                let url = format!("sqlite://{}?mode=rwc", path.display());
                migrator.apply(url.as_str()).await?;
                templates.push((id, path.clone()));
                path
            }
        }
    };
    let path = temp_file("test");
    std::fs::copy(&template, &path).map_err(|e| {
        Error::Executor(ExecutorError::BadUrl {
            url: path.display().to_string(),
            reason: format!(
                "cannot copy the migrated template {}: {e}",
                template.display()
            ),
        })
    })?;
    Ok(TestDatabase {
        url: format!("sqlite://{}?mode=rwc", path.display()),
        dialect: DialectKind::Sqlite,
        cleanup: Some(Cleanup::File(path)),
    })
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn replaces_the_database_of_a_url() {
        assert_eq!(
            with_database("postgres://u@h:5432/test", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(
            with_database("mysql://root@127.0.0.1:3306", "x"),
            "mysql://root@127.0.0.1:3306/x"
        );
        assert_eq!(
            with_database("postgres://h/db?sslmode=disable", "x"),
            "postgres://h/x?sslmode=disable"
        );
    }
}
