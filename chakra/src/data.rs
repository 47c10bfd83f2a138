//! Data migrations in Rust (`RunRust`): functions registered by name and called with the
//! migration's connection, inside its transaction where the database has one.
//!
//! ```
//! async fn backfill_slugs(conn: &mut chakra::data::Connection<'_>) -> Result<(), chakra::data::Error> {
//!     conn.execute("UPDATE posts SET slug = lower(title) WHERE slug = ''").await?;
//!     Ok(())
//! }
//! chakra::data_migration!("blog.backfill_slugs", backfill_slugs);
//!
//! // The executor finds it by name when a RunRust operation says `forward = "blog.backfill_slugs"`.
//! assert!(chakra::data::find("blog.backfill_slugs").is_some());
//! ```
//!
//! A migration names the function in a `RunRust` operation (`forward = "blog.backfill_slugs"`,
//! optional `reverse`). Functions are found through `inventory`, so only a binary that links
//! the crate declaring them (the project's manage binary, or the application with an embedded
//! migrator) can run such a migration; any other refuses before running anything.

use std::future::Future;
use std::pin::Pin;

/// What a data migration returns on failure.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// The future a registered function returns.
pub type DataFuture<'a> = Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>>;

/// The migration's connection, inside its transaction where the database has one.
#[non_exhaustive]
pub enum Connection<'c> {
    /// SQLite.
    #[cfg(feature = "sqlite")]
    Sqlite(&'c mut sqlx::SqliteConnection),
    /// PostgreSQL.
    #[cfg(feature = "postgres")]
    Postgres(&'c mut sqlx::PgConnection),
    /// MySQL / MariaDB.
    #[cfg(feature = "mysql")]
    Mysql(&'c mut sqlx::MySqlConnection),
}

impl Connection<'_> {
    /// Runs SQL (one or more statements) and returns the rows affected.
    pub async fn execute(&mut self, sql: &str) -> Result<u64, Error> {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        Ok(match self {
            #[cfg(feature = "sqlite")]
            Connection::Sqlite(c) => sqlx::raw_sql(sql).execute(&mut **c).await?.rows_affected(),
            #[cfg(feature = "postgres")]
            Connection::Postgres(c) => sqlx::raw_sql(sql).execute(&mut **c).await?.rows_affected(),
            #[cfg(feature = "mysql")]
            Connection::Mysql(c) => sqlx::raw_sql(sql).execute(&mut **c).await?.rows_affected(),
        })
    }

    /// Runs SQL, keeping the driver's error (for the executor's own statements).
    pub(crate) async fn execute_sql(&mut self, sql: &str) -> Result<(), sqlx::Error> {
        let sql = sqlx::AssertSqlSafe(sql);
        match self {
            #[cfg(feature = "sqlite")]
            Connection::Sqlite(c) => sqlx::raw_sql(sql).execute(&mut **c).await.map(drop),
            #[cfg(feature = "postgres")]
            Connection::Postgres(c) => sqlx::raw_sql(sql).execute(&mut **c).await.map(drop),
            #[cfg(feature = "mysql")]
            Connection::Mysql(c) => sqlx::raw_sql(sql).execute(&mut **c).await.map(drop),
        }
    }

    /// The dialect of the database, for functions that write SQL per database.
    pub fn dialect(&self) -> crate::dialect::DialectKind {
        match self {
            #[cfg(feature = "sqlite")]
            Connection::Sqlite(_) => crate::dialect::DialectKind::Sqlite,
            #[cfg(feature = "postgres")]
            Connection::Postgres(_) => crate::dialect::DialectKind::Postgres,
            #[cfg(feature = "mysql")]
            Connection::Mysql(_) => crate::dialect::DialectKind::Mysql,
        }
    }
}

/// A registered data migration function.
pub struct DataMigration {
    /// The name migrations refer to it by.
    pub name: &'static str,
    /// The function.
    pub run: for<'a, 'c> fn(&'a mut Connection<'c>) -> DataFuture<'a>,
}

inventory::collect!(DataMigration);

/// The function registered as `name`, if this binary links it.
pub fn find(name: &str) -> Option<&'static DataMigration> {
    inventory::iter::<DataMigration>
        .into_iter()
        .find(|d| d.name == name)
}

/// Every registered name, sorted (for messages).
pub fn names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = inventory::iter::<DataMigration>
        .into_iter()
        .map(|d| d.name)
        .collect();
    names.sort_unstable();
    names
}

/// Registers an `async fn(&mut chakra::data::Connection<'_>) -> Result<(), chakra::data::Error>`
/// under a name that `RunRust` operations refer to.
///
/// ```
/// # async fn publish_all(conn: &mut chakra::data::Connection<'_>) -> Result<(), chakra::data::Error> {
/// #     conn.execute("UPDATE posts SET published = TRUE").await?;
/// #     Ok(())
/// # }
/// chakra::data_migration!("blog.publish_all", publish_all);
/// assert!(chakra::data::names().contains(&"blog.publish_all"));
/// ```
#[macro_export]
macro_rules! data_migration {
    ($name:literal, $function:path) => {
        $crate::__private::inventory::submit! {
            $crate::data::DataMigration {
                name: $name,
                run: |conn| ::std::boxed::Box::pin($function(conn)),
            }
        }
    };
}
