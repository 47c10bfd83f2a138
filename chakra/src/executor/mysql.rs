//! The MySQL/MariaDB backend.
//!
//! MySQL and MariaDB commit DDL implicitly, so a migration cannot be one transaction: every
//! migration runs step by step with its progress in the history row (see [`super::stepwise`]),
//! and a failed or killed migration resumes at the first operation not done.
//!
//! The migrator lock is `GET_LOCK` on the migration connection (session-scoped: DDL does not
//! release it, a killed process does), named after the database and the history table.

use std::str::FromStr;

use sqlx::mysql::{MySqlConnectOptions, MySqlConnection};
use sqlx::{AssertSqlSafe, Connection, MySql, Row};

use crate::data::Connection as StepConnection;

use super::audit::{
    HistoryChange, LogEntry, fetch_log, log_table_sql, select_last_log_sql, select_log_sql,
    write_change,
};
use super::stepwise::{self, Stepwise};
use super::{
    Backend, Event, ExecutorConfig, ExecutorError, HISTORY_COLUMNS, HistoryRow, RowStatus,
    StepFailure, db, fetch_history, fetch_history_of, history_table_sql, redact_url, run_step,
};
use crate::checksum::sha256_hex;
use crate::dialect::{DialectKind, quote_ident};
use crate::graph::MigrationKey;
use crate::plan::{Direction, MigrationSql, StepSql};

/// A MySQL or MariaDB database.
pub(crate) struct MySqlBackend {
    conn: MySqlConnection,
    config: ExecutorConfig,
    lock_name: String,
}

/// The name of the migrator lock (`GET_LOCK`) of history table `table` in database
/// `database`: `chakra:` and 32 hex digits of SHA-256 of `database:table`, so that it is
/// scoped to the database and within MySQL's 64 characters.
pub fn lock_name(database: &str, table: &str) -> String {
    let digest = sha256_hex(format!("{database}:{table}").as_bytes());
    format!("chakra:{}", &digest[..32])
}

impl MySqlBackend {
    /// Connects to `url`, which must name a database.
    pub(crate) async fn connect(
        url: &str,
        config: ExecutorConfig,
    ) -> Result<MySqlBackend, ExecutorError> {
        let bad_url = |reason: String| ExecutorError::BadUrl {
            url: redact_url(url),
            reason,
        };
        let opts = MySqlConnectOptions::from_str(url).map_err(|e| bad_url(e.to_string()))?;
        Self::connect_with(opts, redact_url(url), config).await
    }

    /// Opens a connection of its own with the options of the application's `pool`: the
    /// migrator's session settings and lock never reach the pool.
    pub(crate) async fn from_pool(
        pool: &sqlx::MySqlPool,
        config: ExecutorConfig,
    ) -> Result<MySqlBackend, ExecutorError> {
        let opts = (*pool.connect_options()).clone();
        let name = format!(
            "mysql://{}:{}/{} (the application's pool)",
            opts.get_host(),
            opts.get_port(),
            opts.get_database().unwrap_or_default()
        );
        Self::connect_with(opts, name, config).await
    }

    async fn connect_with(
        opts: MySqlConnectOptions,
        url: String,
        config: ExecutorConfig,
    ) -> Result<MySqlBackend, ExecutorError> {
        let bad_url = |reason: String| ExecutorError::BadUrl {
            url: url.clone(),
            reason,
        };
        // `||` keeps its MySQL meaning in RunSQL (sqlx would make it concatenation).
        let opts = opts.pipes_as_concat(false);
        let mut conn = MySqlConnection::connect_with(&opts)
            .await
            .map_err(|source| ExecutorError::Connect {
                url: url.clone(),
                source,
            })?;
        let database: Option<String> = sqlx::query("SELECT CAST(DATABASE() AS CHAR)")
            .fetch_one(&mut conn)
            .await
            .and_then(|r| r.try_get(0))
            .map_err(db("reading the current database"))?;
        let Some(database) = database else {
            return Err(bad_url(
                "the URL names no database; add it as the path (`mysql://user@host/DATABASE`)"
                    .to_owned(),
            ));
        };
        // DDL waits at most this long for a metadata lock held by the application.
        let secs = config.lock_timeout.as_secs_f64().ceil().max(1.0);
        sqlx::raw_sql(AssertSqlSafe(format!(
            "SET SESSION lock_wait_timeout = {secs:.0}"
        )))
        .execute(&mut conn)
        .await
        .map_err(db("setting lock_wait_timeout"))?;
        let lock_name = lock_name(&database, &config.table);
        Ok(MySqlBackend {
            conn,
            config,
            lock_name,
        })
    }

    fn table(&self) -> String {
        quote_ident(DialectKind::Mysql, &self.config.table)
    }

    async fn history_exists(&mut self) -> Result<bool, ExecutorError> {
        let row = sqlx::query(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?",
        )
        .bind(&self.config.table)
        .fetch_one(&mut self.conn)
        .await
        .map_err(db("looking for the history table"))?;
        Ok(row
            .try_get::<i64, _>(0)
            .map_err(db("looking for the history table"))?
            > 0)
    }

    async fn read_history(&mut self) -> Result<Vec<HistoryRow>, ExecutorError> {
        let columns = HISTORY_COLUMNS.replace('"', "`");
        let sql = format!(
            "SELECT {columns} FROM {} ORDER BY `seq`, `app`, `id`",
            self.table()
        );
        fetch_history(&mut self.conn, sql).await
    }

    /// Closes the connection.
    pub(crate) async fn close(self) -> Result<(), ExecutorError> {
        self.conn
            .close()
            .await
            .map_err(db("closing the connection"))
    }

    /// The migration connection (for reading the schema).
    pub(crate) fn connection(&mut self) -> &mut MySqlConnection {
        &mut self.conn
    }
}

impl Backend for MySqlBackend {
    fn dialect(&self) -> DialectKind {
        DialectKind::Mysql
    }

    async fn history(&mut self) -> Result<Vec<HistoryRow>, ExecutorError> {
        if !self.history_exists().await? {
            return Ok(Vec::new());
        }
        self.read_history().await
    }

    async fn ensure_history_table(&mut self) -> Result<(), ExecutorError> {
        for sql in [
            history_table_sql(DialectKind::Mysql, &self.config.table),
            log_table_sql(DialectKind::Mysql, &self.config.table),
        ] {
            sqlx::raw_sql(AssertSqlSafe(sql))
                .execute(&mut self.conn)
                .await
                .map_err(db("creating the history table"))?;
        }
        Ok(())
    }

    async fn log(&mut self) -> Result<Option<Vec<LogEntry>>, ExecutorError> {
        fetch_log(
            &mut self.conn,
            select_log_sql(DialectKind::Mysql, &self.config.table),
        )
        .await
    }

    /// History writes are DML, so they are one InnoDB transaction.
    async fn change_history<T: Send>(
        &mut self,
        scope: Option<&[MigrationKey]>,
        f: impl FnOnce(
            &[HistoryRow],
            Option<&LogEntry>,
        ) -> Result<(Option<HistoryChange>, T), ExecutorError>
        + Send,
    ) -> Result<T, ExecutorError> {
        self.exec("BEGIN", "starting a transaction").await?;
        let result = async {
            let history = fetch_history_of::<sqlx::MySql>(
                &mut self.conn,
                DialectKind::Mysql,
                &self.config.table,
                scope,
            )
            .await?;
            let last = fetch_log(
                &mut self.conn,
                select_last_log_sql(DialectKind::Mysql, &self.config.table),
            )
            .await?
            .and_then(|mut l| l.pop());
            let (change, out) = f(&history, last.as_ref())?;
            if let Some(change) = change {
                write_change::<sqlx::MySql>(
                    &mut self.conn,
                    DialectKind::Mysql,
                    &self.config.table,
                    &change,
                )
                .await?;
            }
            Ok(out)
        }
        .await;
        match result {
            Ok(out) => {
                self.exec("COMMIT", "committing the change of the history")
                    .await?;
                Ok(out)
            }
            Err(e) => {
                let _ = self.exec("ROLLBACK", "rolling back").await;
                Err(e)
            }
        }
    }

    /// `GET_LOCK`, waiting up to `lock_timeout` (whole seconds, rounded up).
    async fn lock(&mut self) -> Result<(), ExecutorError> {
        let timeout = self.config.lock_timeout;
        let secs = i64::try_from(timeout.as_secs()).unwrap_or(i64::MAX)
            + i64::from(timeout.subsec_nanos() > 0);
        let got: Option<i64> = sqlx::query("SELECT GET_LOCK(?, ?)")
            .bind(&self.lock_name)
            .bind(secs)
            .fetch_one(&mut self.conn)
            .await
            .and_then(|r| r.try_get(0))
            .map_err(db("taking the migrator lock (GET_LOCK)"))?;
        match got {
            Some(1) => Ok(()),
            Some(_) => Err(ExecutorError::LockTimeout(timeout)),
            None => Err(ExecutorError::Database {
                doing: "taking the migrator lock (GET_LOCK)".to_owned(),
                source: sqlx::Error::Protocol(format!(
                    "GET_LOCK('{}') returned NULL (the wait was killed or the server ran out of memory)",
                    self.lock_name
                )),
            }),
        }
    }

    async fn unlock(&mut self) -> Result<(), ExecutorError> {
        sqlx::query("SELECT RELEASE_LOCK(?)")
            .bind(&self.lock_name)
            .fetch_one(&mut self.conn)
            .await
            .map_err(db("releasing the migrator lock (RELEASE_LOCK)"))?;
        Ok(())
    }

    async fn run_one(
        &mut self,
        m: &MigrationSql,
        direction: Direction,
        fake: bool,
        on_event: &mut (dyn FnMut(Event) + Send),
    ) -> Result<(), ExecutorError> {
        self.run_stepwise(m, direction, fake, on_event).await
    }
}

impl Stepwise for MySqlBackend {
    fn config(&self) -> &ExecutorConfig {
        &self.config
    }

    async fn run_step_sql(&mut self, step: &StepSql) -> Result<(), StepFailure> {
        run_step(step, StepConnection::Mysql(&mut self.conn)).await
    }

    /// Only a step whose first statement timed out: DDL before it would be committed.
    fn can_rerun(&self, failure: &StepFailure) -> bool {
        failure.earlier_statements == 0
    }

    stepwise::sql_primitives!(MySql, DialectKind::Mysql);
}
