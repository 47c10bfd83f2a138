//! The MySQL/MariaDB backend.
//!
//! MySQL and MariaDB commit DDL implicitly, so a migration cannot be one transaction. Instead
//! its history row is written first (status `applying`, progress 0) and progress is recorded
//! after each operation:
//!
//! - `progress` is the number of operations done (forward) or undo steps done (backward);
//! - `progress_checksum` is [`progress_checksum`] of the steps done, the SQL that ran.
//!
//! Each operation runs between `BEGIN` and `COMMIT` together with its progress update, so an
//! operation made only of DML (RunSQL) is recorded exactly; DDL commits on its own. When a
//! statement fails, the row is kept with status `failed` (forward) or stays `rolling_back`
//! (backward) and the error, and [`ExecutorError::PartiallyApplied`] explains what stays done.
//! The next run resumes at the first step not done, after checking that the steps done still
//! hash to `progress_checksum` (a step is never run twice); the steps not yet run may have
//! been edited to fix the failure.
//!
//! The migrator lock is `GET_LOCK` on the migration connection (session-scoped: DDL does not
//! release it, a killed process does), named after the database and the history table.

use std::str::FromStr;
use std::time::Instant;

use sqlx::mysql::{MySqlConnectOptions, MySqlConnection};
use sqlx::{AssertSqlSafe, Connection, Row};

use crate::data::Connection as StepConnection;

use super::audit::{
    HistoryChange, LogEntry, fetch_log, log_table_sql, run_change, select_last_log_sql,
    select_log_sql, write_change,
};
use super::{
    Backend, Event, ExecutorConfig, ExecutorError, HISTORY_COLUMNS, HistoryRow, PartialFailure,
    RowStatus, bind_history_values, db, fetch_history, fetch_history_of, history_table_sql,
    is_applied, is_lock_timeout, keys_of, now_rfc3339, redact_url, retry_pause, run_step,
    unfinished, who,
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

/// SHA-256 (hex) of the SQL of `steps`, the steps of a migration done so far: every statement
/// followed by a NUL byte, every step closed by an RS byte (0x1e), so that moving a statement
/// to another step changes it. Stored in `progress_checksum` to check, before resuming, that
/// the steps already run are unchanged.
pub(crate) fn progress_checksum(steps: &[StepSql]) -> String {
    let mut text = String::new();
    for step in steps {
        for statement in &step.statements {
            text.push_str(statement);
            text.push('\0');
        }
        if let Some(function) = &step.rust {
            text.push_str("rust:");
            text.push_str(function);
            text.push('\0');
        }
        text.push('\u{1e}');
    }
    sha256_hex(text.as_bytes())
}

fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
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
        // `||` keeps its MySQL meaning in RunSQL (sqlx would make it concatenation).
        let opts = MySqlConnectOptions::from_str(url)
            .map_err(|e| bad_url(e.to_string()))?
            .pipes_as_concat(false);
        let mut conn = MySqlConnection::connect_with(&opts)
            .await
            .map_err(|source| ExecutorError::Connect {
                url: redact_url(url),
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

    /// Inserts `row`, or replaces every column of the row with the same key.
    async fn write_row(&mut self, row: &HistoryRow, exists: bool) -> Result<(), ExecutorError> {
        let table = self.table();
        let sql = if exists {
            format!(
                "UPDATE {table} SET `seq` = ?, `applied_at` = ?, `checksum` = ?, `execution_time_ms` = ?, \
                 `status` = ?, `progress` = ?, `error` = ?, `applied_by` = ?, `chain_hash` = ?, \
                 `progress_checksum` = ? WHERE `app` = ? AND `id` = ?"
            )
        } else {
            format!(
                "INSERT INTO {table} (`seq`, `applied_at`, `checksum`, `execution_time_ms`, `status`, \
                 `progress`, `error`, `applied_by`, `chain_hash`, `progress_checksum`, `app`, `id`) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            )
        };
        bind_history_values(sqlx::query(AssertSqlSafe(sql)), row)
            .bind(&row.key.app)
            .bind(&row.key.id)
            .execute(&mut self.conn)
            .await
            .map_err(db("recording the migration in the history"))?;
        Ok(())
    }

    /// Sets the status, progress and error of the row of `key`.
    async fn set_progress(
        &mut self,
        key: &MigrationKey,
        status: RowStatus,
        progress: usize,
        progress_checksum: &str,
        error: Option<&str>,
    ) -> Result<(), ExecutorError> {
        let sql = format!(
            "UPDATE {} SET `status` = ?, `progress` = ?, `progress_checksum` = ?, `error` = ? \
             WHERE `app` = ? AND `id` = ?",
            self.table()
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(status.as_str())
            .bind(to_i64(progress))
            .bind(progress_checksum)
            .bind(error)
            .bind(&key.app)
            .bind(&key.id)
            .execute(&mut self.conn)
            .await
            .map_err(db("recording the progress of the migration"))?;
        Ok(())
    }

    async fn sql(&mut self, sql: &'static str, doing: &str) -> Result<(), ExecutorError> {
        sqlx::raw_sql(sql)
            .execute(&mut self.conn)
            .await
            .map_err(db(doing))?;
        Ok(())
    }

    /// Runs `m.steps[from..]`, recording progress after each step in the same transaction
    /// (which DDL commits early). On failure the row gets `failed_status` and the error.
    async fn run_steps(
        &mut self,
        m: &MigrationSql,
        direction: Direction,
        from: usize,
        status: RowStatus,
        failed_status: RowStatus,
        on_event: &mut (dyn FnMut(Event) + Send),
    ) -> Result<(), ExecutorError> {
        let mut i = from;
        let mut attempt = 0;
        while i < m.steps.len() {
            let step = &m.steps[i];
            self.sql("BEGIN", "starting a transaction").await?;
            if let Err(failure) = run_step(step, StepConnection::Mysql(&mut self.conn)).await {
                // Undoes the DML of this step; its DDL, if any, is already committed.
                let _ = self.sql("ROLLBACK", "rolling back").await;
                // Its first statement waited too long for a table's metadata lock: nothing of
                // the step ran, so it is tried again.
                if failure.earlier_statements == 0
                    && attempt < self.config.lock_retries
                    && is_lock_timeout(&failure.error)
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
                    continue;
                }
                let message = failure.error.to_string();
                // If even this fails (connection lost), the row keeps its last progress with
                // status `applying`/`rolling_back`, which resumes the same way.
                let _ = self
                    .set_progress(
                        &m.key,
                        failed_status,
                        i,
                        &progress_checksum(&m.steps[..i]),
                        Some(&message),
                    )
                    .await;
                return Err(ExecutorError::PartiallyApplied(Box::new(PartialFailure {
                    migration: m.key.clone(),
                    direction,
                    index: i + 1,
                    total: m.steps.len(),
                    description: step.description.clone(),
                    statement: failure.statement,
                    earlier_statements: failure.earlier_statements,
                    source: failure.error,
                })));
            }
            self.set_progress(
                &m.key,
                status,
                i + 1,
                &progress_checksum(&m.steps[..=i]),
                None,
            )
            .await?;
            self.sql("COMMIT", "committing an operation").await?;
            i += 1;
            attempt = 0;
        }
        Ok(())
    }

    /// Where to resume `m`: after the steps its row records as done (checked to be the ones
    /// that ran), and after the next one too when it took effect but the process stopped
    /// before recording it, so that no step ever runs twice.
    async fn resume_from(
        &mut self,
        m: &MigrationSql,
        row: &HistoryRow,
        unit: &'static str,
    ) -> Result<usize, ExecutorError> {
        let from = Self::resume_point(m, row, unit)?;
        match m.steps.get(from) {
            Some(step) if self.already_done(step).await? => Ok(from + 1),
            _ => Ok(from),
        }
    }

    /// Whether every probe of `step` says its effect is in place; false when it has none.
    async fn already_done(&mut self, step: &StepSql) -> Result<bool, ExecutorError> {
        if step.done_probes.is_empty() {
            return Ok(false);
        }
        for probe in &step.done_probes {
            let present: i64 = sqlx::query_scalar(AssertSqlSafe(probe.as_str()))
                .fetch_one(&mut self.conn)
                .await
                .map_err(db("checking whether an interrupted operation took effect"))?;
            if present == 0 {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Where to resume `m` given its row (`progress` steps done): checks that those steps
    /// are the ones that ran.
    fn resume_point(
        m: &MigrationSql,
        row: &HistoryRow,
        unit: &'static str,
    ) -> Result<usize, ExecutorError> {
        let done = usize::try_from(row.progress).unwrap_or(0);
        let changed = |detail: String| ExecutorError::ResumeChanged {
            migration: m.key.clone(),
            done,
            unit,
            detail,
        };
        if done > m.steps.len() {
            return Err(changed(format!(
                "the migration now has {} {unit}(s)",
                m.steps.len()
            )));
        }
        if done > 0
            && row.progress_checksum.as_deref() != Some(&progress_checksum(&m.steps[..done]))
        {
            return Err(changed(format!(
                "the SQL of the first {done} {unit}(s) differs from the SQL that ran"
            )));
        }
        Ok(done)
    }

    /// The row of `m` while it runs (status `status`, `from` steps done), at position `seq`.
    /// It gets its chain hash when the audit log records it done.
    fn in_progress_row(m: &MigrationSql, seq: i64, status: RowStatus, from: usize) -> HistoryRow {
        HistoryRow {
            key: m.key.clone(),
            seq,
            applied_at: now_rfc3339(),
            checksum: m.checksum.clone(),
            execution_time_ms: 0,
            status,
            progress: to_i64(from),
            error: None,
            applied_by: Some(who()),
            chain_hash: String::new(),
            progress_checksum: Some(progress_checksum(&m.steps[..from])),
        }
    }

    /// The position of a row written now: after the newest audit log entry (the entry that
    /// records the migration done takes that position too, unless another comes first).
    async fn next_seq(&mut self) -> Result<i64, ExecutorError> {
        let last = fetch_log(
            &mut self.conn,
            select_last_log_sql(DialectKind::Mysql, &self.config.table),
        )
        .await?
        .and_then(|mut l| l.pop());
        Ok(last.map_or(1, |e| e.seq + 1))
    }

    /// Records `m` done in `direction` (its row and the audit log) in one transaction.
    async fn record_done(
        &mut self,
        m: &MigrationSql,
        direction: Direction,
        fake: bool,
        started: Instant,
    ) -> Result<(), ExecutorError> {
        self.change_history(Some(&keys_of(m)), |history, last| {
            let mut change = run_change(m, history, last, direction, fake, started.elapsed());
            if let Some(row) = change.upsert.as_mut() {
                row.progress_checksum = Some(progress_checksum(&m.steps));
            }
            Ok((Some(change), ()))
        })
        .await
    }

    async fn forward(
        &mut self,
        m: &MigrationSql,
        history: &[HistoryRow],
        fake: bool,
        on_event: &mut (dyn FnMut(Event) + Send),
    ) -> Result<(), ExecutorError> {
        let started = Instant::now();
        let row = history.iter().find(|r| r.key == m.key);
        if is_applied(history, m) {
            on_event(Event::Skipped { key: m.key.clone() });
            return Ok(());
        }
        let from = match row {
            Some(r) if r.status == RowStatus::Applied => {
                on_event(Event::Skipped { key: m.key.clone() });
                return Ok(());
            }
            Some(r) if r.status == RowStatus::RollingBack => {
                return Err(unfinished(r, Direction::Forward));
            }
            // Failed or interrupted: resume after the operations done.
            Some(r) if !fake => Some(self.resume_from(m, r, "operation").await?),
            _ => None,
        };
        on_event(Event::Started {
            key: m.key.clone(),
            direction: Direction::Forward,
        });
        if !fake {
            let from = from.unwrap_or(0);
            let seq = match row {
                Some(r) => r.seq,
                None => self.next_seq().await?,
            };
            let applying = Self::in_progress_row(m, seq, RowStatus::Applying, from);
            // Resuming: the file may have been fixed since, so its checksum is recorded anew.
            self.write_row(&applying, row.is_some()).await?;
            self.run_steps(
                m,
                Direction::Forward,
                from,
                RowStatus::Applying,
                RowStatus::Failed,
                on_event,
            )
            .await?;
        }
        self.record_done(m, Direction::Forward, fake, started)
            .await?;
        on_event(Event::Finished {
            key: m.key.clone(),
            direction: Direction::Forward,
            elapsed: started.elapsed(),
            fake,
        });
        Ok(())
    }

    async fn backward(
        &mut self,
        m: &MigrationSql,
        history: &[HistoryRow],
        fake: bool,
        on_event: &mut (dyn FnMut(Event) + Send),
    ) -> Result<(), ExecutorError> {
        let started = Instant::now();
        let row = history.iter().find(|r| r.key == m.key);
        let Some(status) = row.map(|r| r.status).or_else(|| {
            // A squashed migration applied through the migrations it replaces.
            is_applied(history, m).then_some(RowStatus::Applied)
        }) else {
            on_event(Event::Skipped { key: m.key.clone() });
            return Ok(());
        };
        let from = match (status, row) {
            (RowStatus::Applied, _) => 0,
            (RowStatus::RollingBack, Some(row)) if !fake => {
                self.resume_from(m, row, "undo step").await?
            }
            (RowStatus::RollingBack, _) => 0,
            (RowStatus::Failed | RowStatus::Applying, Some(row)) => {
                return Err(unfinished(row, Direction::Backward));
            }
            (_, None) => unreachable!("only an applied squash has no row of its own"),
        };
        on_event(Event::Started {
            key: m.key.clone(),
            direction: Direction::Backward,
        });
        if !fake {
            if row.is_some() {
                self.set_progress(
                    &m.key,
                    RowStatus::RollingBack,
                    from,
                    &progress_checksum(&m.steps[..from]),
                    None,
                )
                .await?;
            } else {
                // Progress needs a row: the squash gets one until it is rolled back.
                let seq = self.next_seq().await?;
                let rolling_back = Self::in_progress_row(m, seq, RowStatus::RollingBack, 0);
                self.write_row(&rolling_back, false).await?;
            }
            self.run_steps(
                m,
                Direction::Backward,
                from,
                RowStatus::RollingBack,
                RowStatus::RollingBack,
                on_event,
            )
            .await?;
        }
        self.record_done(m, Direction::Backward, fake, started)
            .await?;
        on_event(Event::Finished {
            key: m.key.clone(),
            direction: Direction::Backward,
            elapsed: started.elapsed(),
            fake,
        });
        Ok(())
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
        self.sql("BEGIN", "starting a transaction").await?;
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
                self.sql("COMMIT", "committing the change of the history")
                    .await?;
                Ok(out)
            }
            Err(e) => {
                let _ = self.sql("ROLLBACK", "rolling back").await;
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
        // Under the lock: another process may have done this migration meanwhile.
        let keys = keys_of(m);
        let history = fetch_history_of::<sqlx::MySql>(
            &mut self.conn,
            DialectKind::Mysql,
            &self.config.table,
            Some(&keys),
        )
        .await?;
        match direction {
            Direction::Forward => self.forward(m, &history, fake, on_event).await,
            Direction::Backward => self.backward(m, &history, fake, on_event).await,
        }
    }
}
