//! The SQLite backend: each migration runs in one `BEGIN IMMEDIATE` transaction together
//! with its history row. The immediate write lock is the migrator lock: while one process
//! applies a migration, others wait (up to `lock_timeout`, SQLite's busy timeout), then
//! re-read the history inside their own transaction and skip what is already applied.

use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{AssertSqlSafe, Connection, Row, Sqlite};

use crate::data::Connection as StepConnection;

use super::audit::{
    HistoryChange, LogEntry, fetch_log, log_table_sql, run_change, select_last_log_sql,
    select_log_sql, write_change,
};
use super::{
    Backend, Event, ExecutorConfig, ExecutorError, HISTORY_COLUMNS, HistoryRow, StatementFailure,
    StepError, StepFailure, db, fetch_history, fetch_history_of, history_table_sql, is_applied,
    keys_of, redact_url, run_step,
};
use crate::dialect::{DialectKind, quote_ident};
use crate::graph::MigrationKey;
use crate::plan::{Direction, MigrationSql, StepSql};

/// A SQLite database.
pub(crate) struct SqliteBackend {
    conn: SqliteConn,
    config: ExecutorConfig,
}

/// The connection migrations run on: one of their own, or one borrowed from the
/// application's pool (an in-memory database exists only in the pool's connections).
enum SqliteConn {
    Owned(SqliteConnection),
    /// A connection of the application's pool, with the busy timeout it had.
    Pooled(PoolConnection<Sqlite>, i64),
}

impl std::ops::Deref for SqliteConn {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        match self {
            SqliteConn::Owned(c) => c,
            SqliteConn::Pooled(c, _) => c,
        }
    }
}

impl std::ops::DerefMut for SqliteConn {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        match self {
            SqliteConn::Owned(c) => c,
            SqliteConn::Pooled(c, _) => c,
        }
    }
}

impl SqliteBackend {
    /// Connects to `url`. A SQLite file that does not exist yet is created.
    pub(crate) async fn connect(
        url: &str,
        config: ExecutorConfig,
    ) -> Result<SqliteBackend, ExecutorError> {
        let opts = SqliteConnectOptions::from_str(url)
            .map_err(|e| ExecutorError::BadUrl {
                url: redact_url(url),
                reason: e.to_string(),
            })?
            .create_if_missing(true)
            .busy_timeout(config.lock_timeout)
            .foreign_keys(true)
            // Up to 64 MiB of page cache for this connection alone (SQLite's default is 2 MiB):
            // every CREATE reads the whole schema table, which outgrows the default at a few
            // hundred tables and is then read from the file again for each statement.
            .pragma("cache_size", "-65536");
        let conn = SqliteConnection::connect_with(&opts)
            .await
            .map_err(|source| ExecutorError::Connect {
                url: redact_url(url),
                source,
            })?;
        Ok(SqliteBackend {
            conn: SqliteConn::Owned(conn),
            config,
        })
    }

    /// Borrows a connection of `pool` (the application's) until [`close`](Self::close), with
    /// its busy timeout set to `lock_timeout` meanwhile.
    pub(crate) async fn from_pool(
        pool: &sqlx::SqlitePool,
        config: ExecutorConfig,
    ) -> Result<SqliteBackend, ExecutorError> {
        let mut conn = pool
            .acquire()
            .await
            .map_err(db("taking a connection from the pool"))?;
        let busy: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
            .fetch_one(&mut *conn)
            .await
            .map_err(db("reading the busy timeout"))?;
        let ms = config.lock_timeout.as_millis().min(i32::MAX as u128);
        for sql in [
            format!("PRAGMA busy_timeout = {ms}"),
            "PRAGMA foreign_keys = ON".to_owned(),
        ] {
            sqlx::raw_sql(AssertSqlSafe(sql))
                .execute(&mut *conn)
                .await
                .map_err(db("setting up the pool's connection"))?;
        }
        Ok(SqliteBackend {
            conn: SqliteConn::Pooled(conn, busy),
            config,
        })
    }

    /// Gives a borrowed connection back to its pool as it was; closes an own one.
    pub(crate) async fn close(self) -> Result<(), ExecutorError> {
        match self.conn {
            SqliteConn::Owned(c) => c.close().await.map_err(db("closing the connection")),
            SqliteConn::Pooled(mut c, busy) => {
                sqlx::raw_sql(AssertSqlSafe(format!("PRAGMA busy_timeout = {busy}")))
                    .execute(&mut *c)
                    .await
                    .map_err(db("restoring the busy timeout of the pool's connection"))?;
                Ok(())
            }
        }
    }

    /// The connection.
    pub(crate) fn connection(&mut self) -> &mut SqliteConnection {
        &mut self.conn
    }

    fn table(&self) -> String {
        quote_ident(DialectKind::Sqlite, &self.config.table)
    }

    async fn history_exists(&mut self) -> Result<bool, ExecutorError> {
        let row =
            sqlx::query("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?")
                .bind(&self.config.table)
                .fetch_one(&mut *self.conn)
                .await
                .map_err(db("looking for the history table"))?;
        Ok(row.get::<i64, _>(0) > 0)
    }

    async fn run_migration(
        &mut self,
        m: &MigrationSql,
        direction: Direction,
        fake: bool,
        on_event: &mut (dyn FnMut(Event) + Send),
    ) -> Result<(), ExecutorError> {
        let fk_off = m.rebuilds_table && !fake;
        if fk_off {
            // Cannot be changed inside a transaction; see the SQLite table rebuild procedure.
            sqlx::raw_sql("PRAGMA foreign_keys = OFF")
                .execute(&mut *self.conn)
                .await
                .map_err(db("disabling foreign keys for a table rebuild"))?;
        }
        let result = self.run_in_transaction(m, direction, fake, on_event).await;
        if fk_off {
            sqlx::raw_sql("PRAGMA foreign_keys = ON")
                .execute(&mut *self.conn)
                .await
                .map_err(db("re-enabling foreign keys"))?;
        }
        result
    }

    async fn run_in_transaction(
        &mut self,
        m: &MigrationSql,
        direction: Direction,
        fake: bool,
        on_event: &mut (dyn FnMut(Event) + Send),
    ) -> Result<(), ExecutorError> {
        let started = Instant::now();
        begin_immediate(&mut self.conn, self.config.lock_timeout).await?;
        // Under the lock: another process may have done this migration meanwhile.
        let keys = keys_of(m);
        let history = match fetch_history_of::<sqlx::Sqlite>(
            &mut *self.conn,
            DialectKind::Sqlite,
            &self.config.table,
            Some(&keys),
        )
        .await
        {
            Ok(h) => h,
            Err(e) => {
                rollback(&mut self.conn).await;
                return Err(e);
            }
        };
        if is_applied(&history, m) == (direction == Direction::Forward) {
            rollback(&mut self.conn).await;
            on_event(Event::Skipped { key: m.key.clone() });
            return Ok(());
        }
        on_event(Event::Started {
            key: m.key.clone(),
            direction,
        });
        if !fake {
            let mut i = 0;
            while i < m.steps.len() {
                // Operations of SQL the dialect wrote go to SQLite together: a statement sent
                // on its own costs two trips to sqlx's worker thread, more than most DDL takes.
                let plain = m.steps[i..].iter().take_while(|s| s.is_plain()).count();
                let ran = if plain > 1 {
                    run_batch(&mut self.conn, &m.steps[i..i + plain])
                        .await
                        .map(|()| plain)
                } else {
                    self.run_one_step(&m.steps[i]).await.map(|()| 1)
                };
                let failure = match ran {
                    Ok(n) => {
                        for _ in 0..n {
                            super::failpoint("operation-ran").await;
                        }
                        i += n;
                        continue;
                    }
                    Err(failure) => failure,
                };
                rollback(&mut self.conn).await;
                return Err(match failure {
                    Failed::Step(k, failure) => {
                        let step = &m.steps[i + k];
                        ExecutorError::Statement(Box::new(StatementFailure {
                            migration: m.key.clone(),
                            index: i + k + 1,
                            description: step.description.clone(),
                            statement: failure.statement,
                            source: failure.error,
                        }))
                    }
                    Failed::Executor(e) => e,
                });
            }
            if m.rebuilds_table
                && let Err(e) = foreign_key_check(&mut self.conn, &m.key).await
            {
                rollback(&mut self.conn).await;
                return Err(e);
            }
        }
        let elapsed = started.elapsed();
        let record = async {
            let last = last_log(&mut self.conn, &self.config.table).await?;
            let change = run_change(m, &history, last.as_ref(), direction, fake, elapsed);
            write_change::<sqlx::Sqlite>(
                &mut *self.conn,
                DialectKind::Sqlite,
                &self.config.table,
                &change,
            )
            .await
        };
        if let Err(e) = record.await {
            rollback(&mut self.conn).await;
            return Err(e);
        }
        sqlx::raw_sql("COMMIT")
            .execute(&mut *self.conn)
            .await
            .map_err(db("committing the migration"))?;
        on_event(Event::Finished {
            key: m.key.clone(),
            direction,
            elapsed,
            fake,
        });
        Ok(())
    }
}

impl SqliteBackend {
    /// Runs one step, with its statements for an empty table when it has them and the table
    /// is empty.
    async fn run_one_step(&mut self, step: &StepSql) -> Result<(), Failed> {
        let shortcut = shortcut_when_empty(&mut self.conn, step)
            .await
            .map_err(Failed::Executor)?;
        let step = shortcut.as_ref().unwrap_or(step);
        run_step(step, StepConnection::Sqlite(&mut self.conn))
            .await
            .map_err(|f| Failed::Step(0, f))
    }
}

/// Why steps stopped: step `k` of those sent failed, or checking before them did.
enum Failed {
    Step(usize, StepFailure),
    Executor(ExecutorError),
}

/// Runs plain steps ([`StepSql::is_plain`]) in one call: their statements joined, the
/// results read back one per statement, so a failure still names its statement, and each
/// operation still has its `operation` span and a `running` event per statement.
async fn run_batch(conn: &mut SqliteConnection, steps: &[StepSql]) -> Result<(), Failed> {
    use tracing::Instrument;
    let sql = steps
        .iter()
        .flat_map(|s| &s.statements)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(";\n");
    let mut results = sqlx::raw_sql(AssertSqlSafe(sql)).execute_many(&mut *conn);
    for (k, step) in steps.iter().enumerate() {
        let span = tracing::info_span!("operation", operation = %step.description);
        async {
            for (j, statement) in step.statements.iter().enumerate() {
                tracing::debug!(statement = %statement, "running");
                let error = match std::future::poll_fn(|cx| results.as_mut().poll_next(cx)).await
                {
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => e,
                    None => sqlx::Error::Protocol(format!(
                        "SQLite ran fewer statements than the {} Chakra sent (a bug in Chakra: please report it)",
                        steps.iter().map(|s| s.statements.len()).sum::<usize>()
                    )),
                };
                return Err(Failed::Step(
                    k,
                    StepFailure {
                        statement: statement.clone(),
                        earlier_statements: j,
                        error: StepError::Database(error),
                    },
                ));
            }
            Ok(())
        }
        .instrument(span)
        .await?;
    }
    Ok(())
}

impl Backend for SqliteBackend {
    fn dialect(&self) -> DialectKind {
        DialectKind::Sqlite
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
            history_table_sql(DialectKind::Sqlite, &self.config.table),
            log_table_sql(DialectKind::Sqlite, &self.config.table),
        ] {
            sqlx::raw_sql(AssertSqlSafe(sql))
                .execute(&mut *self.conn)
                .await
                .map_err(db("creating the history table"))?;
        }
        Ok(())
    }

    async fn log(&mut self) -> Result<Option<Vec<LogEntry>>, ExecutorError> {
        fetch_log(
            &mut *self.conn,
            select_log_sql(DialectKind::Sqlite, &self.config.table),
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
        begin_immediate(&mut self.conn, self.config.lock_timeout).await?;
        let result = async {
            let history = fetch_history_of::<sqlx::Sqlite>(
                &mut *self.conn,
                DialectKind::Sqlite,
                &self.config.table,
                scope,
            )
            .await?;
            let last = last_log(&mut self.conn, &self.config.table).await?;
            let (change, out) = f(&history, last.as_ref())?;
            if let Some(change) = change {
                write_change::<sqlx::Sqlite>(
                    &mut *self.conn,
                    DialectKind::Sqlite,
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
                sqlx::raw_sql("COMMIT")
                    .execute(&mut *self.conn)
                    .await
                    .map_err(db("committing the change of the history"))?;
                Ok(out)
            }
            Err(e) => {
                rollback(&mut self.conn).await;
                Err(e)
            }
        }
    }

    /// Nothing to take here: each migration's `BEGIN IMMEDIATE` is the lock.
    async fn lock(&mut self) -> Result<(), ExecutorError> {
        Ok(())
    }

    async fn unlock(&mut self) -> Result<(), ExecutorError> {
        Ok(())
    }

    async fn run_one(
        &mut self,
        m: &MigrationSql,
        direction: Direction,
        fake: bool,
        on_event: &mut (dyn FnMut(Event) + Send),
    ) -> Result<(), ExecutorError> {
        self.run_migration(m, direction, fake, on_event).await
    }
}

async fn begin_immediate(
    conn: &mut SqliteConnection,
    timeout: Duration,
) -> Result<(), ExecutorError> {
    match sqlx::raw_sql("BEGIN IMMEDIATE").execute(&mut *conn).await {
        Ok(_) => Ok(()),
        Err(sqlx::Error::Database(e))
            if e.message().contains("locked") || e.message().contains("busy") =>
        {
            Err(ExecutorError::LockTimeout(timeout))
        }
        Err(source) => Err(ExecutorError::Database {
            doing: "starting a transaction".to_owned(),
            source,
        }),
    }
}

async fn rollback(conn: &mut SqliteConnection) {
    // The transaction may already be gone (SQLite rolls back on some errors); nothing to add.
    let _ = sqlx::raw_sql("ROLLBACK").execute(conn).await;
}

async fn foreign_key_check(
    conn: &mut SqliteConnection,
    key: &MigrationKey,
) -> Result<(), ExecutorError> {
    let rows = sqlx::query("PRAGMA foreign_key_check")
        .fetch_all(&mut *conn)
        .await
        .map_err(db("checking foreign keys after a table rebuild"))?;
    if let Some(first) = rows.first() {
        return Err(ExecutorError::ForeignKeyCheck {
            migration: key.clone(),
            count: rows.len(),
            table: first.try_get::<String, _>(0).unwrap_or_default(),
            rowid: first.try_get::<i64, _>(1).unwrap_or_default(),
        });
    }
    Ok(())
}

async fn read_history(
    conn: &mut SqliteConnection,
    table: &str,
) -> Result<Vec<HistoryRow>, ExecutorError> {
    fetch_history(
        conn,
        format!("SELECT {HISTORY_COLUMNS} FROM {table} ORDER BY \"seq\""),
    )
    .await
}

async fn last_log(
    conn: &mut SqliteConnection,
    table: &str,
) -> Result<Option<LogEntry>, ExecutorError> {
    let log = fetch_log(conn, select_last_log_sql(DialectKind::Sqlite, table)).await?;
    Ok(log.and_then(|mut l| l.pop()))
}

/// The step with its statements for an empty table, when it has them and the table holds no
/// rows (a rebuild of an empty table without the copy and the `RENAME`, which re-reads the
/// whole schema); `None` to run the step as it is.
async fn shortcut_when_empty(
    conn: &mut SqliteConnection,
    step: &StepSql,
) -> Result<Option<StepSql>, ExecutorError> {
    let Some(when_empty) = &step.when_empty else {
        return Ok(None);
    };
    let sql = format!(
        "SELECT EXISTS (SELECT 1 FROM {})",
        quote_ident(DialectKind::Sqlite, &when_empty.table)
    );
    let has_rows: bool = sqlx::query_scalar(AssertSqlSafe(sql))
        .fetch_one(&mut *conn)
        .await
        .map_err(db("checking whether a table to rebuild is empty"))?;
    Ok((!has_rows).then(|| StepSql {
        statements: when_empty.statements.clone(),
        when_empty: None,
        ..step.clone()
    }))
}
