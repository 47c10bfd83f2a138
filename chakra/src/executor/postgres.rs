//! The PostgreSQL backend: each migration runs in one transaction together with its history
//! row, so a failure leaves nothing behind; a migration with `atomic = false` (online
//! operations, which cannot run in a transaction) runs step by step with its progress
//! recorded, like every migration on MySQL. The migrator lock is a session advisory lock held
//! on a connection of its own and taken by polling `pg_try_advisory_lock`: a blocking
//! `pg_advisory_lock` could wait forever, and waiting inside the server can deadlock with
//! DDL of other sessions. Inside each migration's transaction, `lock_timeout` keeps DDL from
//! queueing behind a long-running transaction of the application.

use std::str::FromStr;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{AssertSqlSafe, Connection, Postgres};

use crate::data::Connection as StepConnection;

use super::audit::{
    HistoryChange, LogEntry, fetch_log, log_table_sql, run_change, select_last_log_sql,
    select_log_sql, write_change,
};
use super::stepwise::{self, Stepwise};
use super::{
    Backend, Event, ExecutorConfig, ExecutorError, HISTORY_COLUMNS, HistoryRow, RowStatus,
    StatementFailure, StepFailure, db, fetch_history, fetch_history_of, history_table_sql,
    is_applied, is_lock_timeout, keys_of, redact_url, retry_pause, run_step,
};
use crate::dialect::{DialectKind, quote_ident};
use crate::graph::MigrationKey;
use crate::plan::{Direction, MigrationSql, StepSql};

/// How often a waiting migrator tries the advisory lock again.
const LOCK_POLL: Duration = Duration::from_millis(100);

/// A PostgreSQL database.
///
/// The connections are boxed: they are large, and the executor holds one backend of several.
pub(crate) struct PgBackend {
    conn: Box<PgConnection>,
    /// Options of `conn`, for the lock connection.
    opts: Box<PgConnectOptions>,
    /// The URL with any password hidden, for messages.
    url: String,
    /// The connection holding the advisory lock, opened on the first `lock`.
    lock: Option<Box<LockConnection>>,
    config: ExecutorConfig,
}

struct LockConnection {
    conn: PgConnection,
    /// The advisory lock key of this database, schema and history table.
    key: i64,
}

impl PgBackend {
    /// Connects to `url`.
    pub(crate) async fn connect(
        url: &str,
        config: ExecutorConfig,
    ) -> Result<PgBackend, ExecutorError> {
        let redacted = redact_url(url);
        let opts = PgConnectOptions::from_str(url).map_err(|e| ExecutorError::BadUrl {
            url: redacted.clone(),
            reason: e.to_string(),
        })?;
        Self::connect_with(opts, redacted, config).await
    }

    /// Opens connections of its own with the options of the application's `pool`: the
    /// migrator's session settings and advisory lock never reach the pool.
    pub(crate) async fn from_pool(
        pool: &sqlx::PgPool,
        config: ExecutorConfig,
    ) -> Result<PgBackend, ExecutorError> {
        let opts = (*pool.connect_options()).clone();
        let name = format!(
            "postgres://{}:{}/{} (the application's pool)",
            opts.get_host(),
            opts.get_port(),
            opts.get_database().unwrap_or_default()
        );
        Self::connect_with(opts, name, config).await
    }

    async fn connect_with(
        mut opts: PgConnectOptions,
        redacted: String,
        config: ExecutorConfig,
    ) -> Result<PgBackend, ExecutorError> {
        if opts.get_application_name().is_none() {
            opts = opts.application_name("chakra");
        }
        let mut conn =
            PgConnection::connect_with(&opts)
                .await
                .map_err(|source| ExecutorError::Connect {
                    url: redacted.clone(),
                    source,
                })?;
        detect_dead_client(&mut conn).await;
        Ok(PgBackend {
            conn: Box::new(conn),
            opts: Box::new(opts),
            url: redacted,
            lock: None,
            config,
        })
    }

    fn table(&self) -> String {
        quote_ident(DialectKind::Postgres, &self.config.table)
    }

    /// Whether the history table exists in the current schema (the one unqualified names
    /// are created in).
    async fn history_exists(&mut self) -> Result<bool, ExecutorError> {
        sqlx::query_scalar(
            "SELECT CASE WHEN current_schema() IS NULL THEN false \
             ELSE to_regclass(format('%I.%I', current_schema(), $1::text)) IS NOT NULL END",
        )
        .bind(&self.config.table)
        .fetch_one(&mut *self.conn)
        .await
        .map_err(db("looking for the history table"))
    }

    /// `SET LOCAL lock_timeout` for a migration's transaction. Zero would mean "wait
    /// forever" to PostgreSQL, so the shortest wait is 1 ms.
    fn lock_timeout_sql(&self) -> String {
        let ms = self
            .config
            .lock_timeout
            .as_millis()
            .clamp(1, i32::MAX as u128);
        format!("SET LOCAL lock_timeout = '{ms}ms'")
    }

    /// Opens the lock connection and computes the lock key, unless already done.
    async fn lock_connection(&mut self) -> Result<&mut LockConnection, ExecutorError> {
        if self.lock.is_none() {
            let mut conn = PgConnection::connect_with(&self.opts)
                .await
                .map_err(|source| ExecutorError::Connect {
                    url: self.url.clone(),
                    source,
                })?;
            let key = lock_key(&mut conn, &self.config.table).await?;
            self.lock = Some(Box::new(LockConnection { conn, key }));
        }
        Ok(self
            .lock
            .as_mut()
            .expect("the lock connection was just opened"))
    }

    /// Closes the connections.
    pub(crate) async fn close(self) -> Result<(), ExecutorError> {
        if let Some(lock) = self.lock {
            let _ = lock.conn.close().await;
        }
        self.conn
            .close()
            .await
            .map_err(db("closing the connection"))
    }

    /// The migration connection (for reading the schema).
    pub(crate) fn connection(&mut self) -> &mut PgConnection {
        &mut self.conn
    }
}

impl Backend for PgBackend {
    fn dialect(&self) -> DialectKind {
        DialectKind::Postgres
    }

    async fn history(&mut self) -> Result<Vec<HistoryRow>, ExecutorError> {
        if !self.history_exists().await? {
            return Ok(Vec::new());
        }
        let table = self.table();
        read_history(&mut self.conn, &table).await
    }

    async fn ensure_history_table(&mut self) -> Result<(), ExecutorError> {
        for sql in [
            history_table_sql(DialectKind::Postgres, &self.config.table),
            log_table_sql(DialectKind::Postgres, &self.config.table),
        ] {
            sqlx::raw_sql(AssertSqlSafe(sql))
                .execute(&mut *self.conn)
                .await
                .map_err(db("creating the history table"))?;
        }
        Ok(())
    }

    async fn log(&mut self) -> Result<Option<Vec<LogEntry>>, ExecutorError> {
        if !self.history_exists().await? {
            return Ok(None);
        }
        fetch_log(
            &mut *self.conn,
            select_log_sql(DialectKind::Postgres, &self.config.table),
        )
        .await
    }

    async fn change_history<T: Send>(
        &mut self,
        scope: Option<&[MigrationKey]>,
        f: impl FnOnce(
            &[HistoryRow],
            Option<&LogEntry>,
        ) -> Result<(Option<HistoryChange>, T), ExecutorError>
        + Send,
    ) -> Result<T, ExecutorError> {
        let mut tx = self
            .conn
            .begin()
            .await
            .map_err(db("starting a transaction"))?;
        let history = fetch_history_of::<sqlx::Postgres>(
            &mut tx,
            DialectKind::Postgres,
            &self.config.table,
            scope,
        )
        .await?;
        let last = last_log(&mut tx, &self.config.table).await?;
        let (change, out) = f(&history, last.as_ref())?;
        if let Some(change) = change {
            write_change::<sqlx::Postgres>(
                &mut tx,
                DialectKind::Postgres,
                &self.config.table,
                &change,
            )
            .await?;
        }
        tx.commit()
            .await
            .map_err(db("committing the change of the history"))?;
        Ok(out)
    }

    /// Polls `pg_try_advisory_lock` every [`LOCK_POLL`] until it succeeds or `lock_timeout`
    /// has passed.
    async fn lock(&mut self) -> Result<(), ExecutorError> {
        let timeout = self.config.lock_timeout;
        let started = Instant::now();
        loop {
            let lock = self.lock_connection().await?;
            let taken = sqlx::query_scalar::<_, bool>("SELECT pg_try_advisory_lock($1)")
                .bind(lock.key)
                .fetch_one(&mut lock.conn)
                .await;
            match taken {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                Err(source) => {
                    // A broken connection is opened afresh by the next run.
                    self.lock = None;
                    return Err(ExecutorError::Database {
                        doing: "taking the migrator lock".to_owned(),
                        source,
                    });
                }
            }
            let waited = started.elapsed();
            if waited >= timeout {
                return Err(ExecutorError::LockTimeout(timeout));
            }
            tokio::time::sleep(LOCK_POLL.min(timeout - waited)).await;
        }
    }

    async fn unlock(&mut self) -> Result<(), ExecutorError> {
        let Some(lock) = self.lock.as_mut() else {
            return Ok(());
        };
        let released = sqlx::query_scalar::<_, bool>("SELECT pg_advisory_unlock($1)")
            .bind(lock.key)
            .fetch_one(&mut lock.conn)
            .await;
        if released.is_err() {
            // The session is unusable; closing it is what releases its locks. The migrations
            // themselves are committed, so this is no failure of the run.
            if let Some(lock) = self.lock.take() {
                let _ = lock.conn.close().await;
            }
        }
        Ok(())
    }

    /// Runs the migration; when its DDL times out waiting for a table lock, the transaction
    /// is rolled back whole, so it is tried again (up to `lock_retries` times). A migration
    /// with `atomic = false` runs step by step instead (see [`super::stepwise`]), with
    /// `lock_timeout` set for the session, since there is no transaction to `SET LOCAL` it in.
    async fn run_one(
        &mut self,
        m: &MigrationSql,
        direction: Direction,
        fake: bool,
        on_event: &mut (dyn FnMut(Event) + Send),
    ) -> Result<(), ExecutorError> {
        if !m.atomic {
            let set = self.lock_timeout_sql().replacen("SET LOCAL", "SET", 1);
            self.exec(&set, "setting `lock_timeout`").await?;
            let result = self.run_stepwise(m, direction, fake, on_event).await;
            let reset = self
                .exec("RESET lock_timeout", "resetting `lock_timeout`")
                .await;
            return result.and(reset);
        }
        let mut attempt = 0;
        loop {
            match self.run_once(m, direction, fake, on_event).await {
                Err(ExecutorError::Statement(f))
                    if attempt < self.config.lock_retries && is_lock_timeout(&f.source) =>
                {
                    attempt += 1;
                    let pause = retry_pause(attempt);
                    on_event(Event::Retrying {
                        key: m.key.clone(),
                        attempt,
                        of: self.config.lock_retries,
                        pause,
                    });
                    tokio::time::sleep(pause).await;
                }
                other => return other,
            }
        }
    }
}

impl PgBackend {
    async fn run_once(
        &mut self,
        m: &MigrationSql,
        direction: Direction,
        fake: bool,
        on_event: &mut (dyn FnMut(Event) + Send),
    ) -> Result<(), ExecutorError> {
        let started = Instant::now();
        let set_lock_timeout = self.lock_timeout_sql();
        // sqlx's transaction rolls back if this future is dropped half-way.
        let mut tx = self
            .conn
            .begin()
            .await
            .map_err(db("starting a transaction"))?;
        let outcome = in_transaction(
            &mut tx,
            &set_lock_timeout,
            &self.config.table,
            m,
            direction,
            fake,
            started,
            on_event,
        )
        .await;
        match outcome {
            Ok(Some(elapsed)) => {
                tx.commit().await.map_err(db("committing the migration"))?;
                on_event(Event::Finished {
                    key: m.key.clone(),
                    direction,
                    elapsed,
                    fake,
                });
                Ok(())
            }
            Ok(None) => {
                tx.rollback()
                    .await
                    .map_err(db("ending the transaction of a skipped migration"))?;
                on_event(Event::Skipped { key: m.key.clone() });
                Ok(())
            }
            Err(e) => {
                // The error is what matters; a failed ROLLBACK means the session is gone,
                // which rolls back too.
                let _ = tx.rollback().await;
                Err(e)
            }
        }
    }
}

/// Runs `m` and records it inside the open transaction on `conn`. Returns how long it took,
/// or `None` when the history (re-read under the lock) shows another process did it.
#[allow(clippy::too_many_arguments)]
async fn in_transaction(
    conn: &mut PgConnection,
    set_lock_timeout: &str,
    table_name: &str,
    m: &MigrationSql,
    direction: Direction,
    fake: bool,
    started: Instant,
    on_event: &mut (dyn FnMut(Event) + Send),
) -> Result<Option<Duration>, ExecutorError> {
    sqlx::raw_sql(AssertSqlSafe(set_lock_timeout))
        .execute(&mut *conn)
        .await
        .map_err(db("setting `lock_timeout`"))?;
    let keys = keys_of(m);
    let history = fetch_history_of::<sqlx::Postgres>(
        &mut *conn,
        DialectKind::Postgres,
        table_name,
        Some(&keys),
    )
    .await?;
    if is_applied(&history, m) == (direction == Direction::Forward) {
        return Ok(None);
    }
    on_event(Event::Started {
        key: m.key.clone(),
        direction,
    });
    if !fake {
        for (i, step) in m.steps.iter().enumerate() {
            if let Err(failure) = run_step(step, StepConnection::Postgres(&mut *conn)).await {
                return Err(ExecutorError::Statement(Box::new(StatementFailure {
                    migration: m.key.clone(),
                    index: i + 1,
                    description: step.description.clone(),
                    statement: failure.statement,
                    source: failure.error,
                })));
            }
            super::failpoint("operation-ran").await;
        }
    }
    let elapsed = started.elapsed();
    let last = last_log(&mut *conn, table_name).await?;
    let change = run_change(m, &history, last.as_ref(), direction, fake, elapsed);
    write_change::<sqlx::Postgres>(conn, DialectKind::Postgres, table_name, &change).await?;
    Ok(Some(elapsed))
}

/// Asks the server to check every second, while a statement runs, that this client is still
/// there (PostgreSQL 14+). Without it a migrator killed in the middle of a long statement
/// leaves its server process running that statement, holding its table locks, until the
/// statement ends; with it the server notices, rolls the migration back and releases them.
/// Older servers do not know the setting; nothing else depends on it.
async fn detect_dead_client(conn: &mut PgConnection) {
    let _ = sqlx::raw_sql("SET client_connection_check_interval = '1s'")
        .execute(conn)
        .await;
}

/// The advisory lock key: the first 8 bytes of SHA-256 over the database, the current schema
/// and the history table, so that migrators of different schemas do not wait for each other.
async fn lock_key(conn: &mut PgConnection, table: &str) -> Result<i64, ExecutorError> {
    let (database, schema): (String, String) =
        sqlx::query_as("SELECT current_database()::text, coalesce(current_schema()::text, '')")
            .fetch_one(&mut *conn)
            .await
            .map_err(db("reading the current database and schema"))?;
    Ok(advisory_key(&database, &schema, table))
}

fn advisory_key(database: &str, schema: &str, table: &str) -> i64 {
    let digest = Sha256::digest(format!("chakra-migrator:{database}:{schema}:{table}"));
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

async fn read_history(
    conn: &mut PgConnection,
    table: &str,
) -> Result<Vec<HistoryRow>, ExecutorError> {
    fetch_history(
        conn,
        format!("SELECT {HISTORY_COLUMNS} FROM {table} ORDER BY \"seq\""),
    )
    .await
}

async fn last_log(conn: &mut PgConnection, table: &str) -> Result<Option<LogEntry>, ExecutorError> {
    let log = fetch_log(conn, select_last_log_sql(DialectKind::Postgres, table)).await?;
    Ok(log.and_then(|mut l| l.pop()))
}

impl Stepwise for PgBackend {
    fn config(&self) -> &ExecutorConfig {
        &self.config
    }

    async fn run_step_sql(&mut self, step: &StepSql) -> Result<(), StepFailure> {
        run_step(step, StepConnection::Postgres(&mut self.conn)).await
    }

    /// Always: a step in a transaction left nothing behind, and the statements of a step
    /// outside one are written to run again.
    fn can_rerun(&self, _failure: &StepFailure) -> bool {
        true
    }

    stepwise::sql_primitives!(Postgres, DialectKind::Postgres);
}

#[cfg(test)]
mod tests {
    use super::advisory_key;

    #[test]
    fn advisory_key_depends_on_database_schema_and_table() {
        let k = advisory_key("app", "public", "_chakra_migrations");
        assert_eq!(k, advisory_key("app", "public", "_chakra_migrations"));
        assert_ne!(k, advisory_key("app2", "public", "_chakra_migrations"));
        assert_ne!(k, advisory_key("app", "tenant", "_chakra_migrations"));
        assert_ne!(k, advisory_key("app", "public", "history"));
    }
}
