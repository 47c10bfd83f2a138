//! Migrations run operation by operation, with their progress in the history row: every
//! migration on MySQL/MariaDB (DDL commits implicitly there), and migrations with
//! `atomic = false` on PostgreSQL (online operations cannot run inside a transaction).
//!
//! The history row is written first (status `applying`, progress 0) and progress is recorded
//! after each operation:
//!
//! - `progress` is the number of operations done (forward) or undo steps done (backward);
//! - `progress_checksum` is [`progress_checksum`] of the steps done, the SQL that ran.
//!
//! Each operation runs between `BEGIN` and `COMMIT` together with its progress update, so an
//! operation is recorded exactly where the database makes it transactional (DML on MySQL,
//! everything on PostgreSQL). A step marked
//! [`outside_transaction`](crate::plan::StepSql::outside_transaction) runs its statements on
//! their own and records its progress after them; its statements are written to be safe to
//! run again. When a statement fails, the row is kept with status `failed` (forward) or stays
//! `rolling_back` (backward) with the error, and [`ExecutorError::PartiallyApplied`] explains
//! what stays done. The next run resumes at the first step not done, after checking that the
//! steps done still hash to `progress_checksum` (a step is never run twice); the steps not
//! yet run may have been edited to fix the failure. A step that took effect but whose
//! progress was not recorded (the process died in between) is recognized by its done probes
//! (see [`done_probes`](crate::dialect::done_probes)) and not run again.

use std::time::Instant;

use super::audit::{LogEntry, fetch_log, run_change, select_last_log_sql};
use super::{
    Backend, Event, ExecutorConfig, ExecutorError, HistoryRow, PartialFailure, RowStatus,
    StepFailure, bind_history_values, fetch_history_of, is_applied, is_lock_timeout, keys_of,
    now_rfc3339, retry_pause, unfinished, who,
};
use crate::checksum::sha256_hex;
use crate::dialect::{DialectKind, quote_ident};
use crate::graph::MigrationKey;
use crate::plan::{Direction, MigrationSql, StepSql};

use super::audit::placeholders;

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

/// The history row of `m` while it runs (status `status`, `from` steps done), at position
/// `seq`. It gets its chain hash when the audit log records it done.
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

/// Where to resume `m` given its row (`progress` steps done): checks that those steps are
/// the ones that ran.
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
    if done > 0 && row.progress_checksum.as_deref() != Some(&progress_checksum(&m.steps[..done])) {
        return Err(changed(format!(
            "the SQL of the first {done} {unit}(s) differs from the SQL that ran"
        )));
    }
    Ok(done)
}

/// `INSERT` of a whole history row, or `UPDATE` of every column of the row with its key;
/// the key is bound last in both.
fn write_row_sql(dialect: DialectKind, table: &str, exists: bool) -> String {
    const VALUES: [&str; 10] = [
        "seq",
        "applied_at",
        "checksum",
        "execution_time_ms",
        "status",
        "progress",
        "error",
        "applied_by",
        "chain_hash",
        "progress_checksum",
    ];
    let q = |s: &str| quote_ident(dialect, s);
    if exists {
        let set: Vec<String> = VALUES
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{} = {}", q(c), placeholders(dialect, i + 1, 1)))
            .collect();
        format!(
            "UPDATE {} SET {} WHERE {} = {} AND {} = {}",
            q(table),
            set.join(", "),
            q("app"),
            placeholders(dialect, 11, 1),
            q("id"),
            placeholders(dialect, 12, 1)
        )
    } else {
        let columns: Vec<String> = VALUES.iter().chain(&["app", "id"]).map(|c| q(c)).collect();
        format!(
            "INSERT INTO {} ({}) VALUES ({})",
            q(table),
            columns.join(", "),
            placeholders(dialect, 1, 12)
        )
    }
}

/// `UPDATE` of the status, progress, progress checksum and error of one row (bound in that
/// order, then the key).
fn set_progress_sql(dialect: DialectKind, table: &str) -> String {
    let q = |s: &str| quote_ident(dialect, s);
    let p = |i| placeholders(dialect, i, 1);
    format!(
        "UPDATE {} SET {} = {}, {} = {}, {} = {}, {} = {} WHERE {} = {} AND {} = {}",
        q(table),
        q("status"),
        p(1),
        q("progress"),
        p(2),
        q("progress_checksum"),
        p(3),
        q("error"),
        p(4),
        q("app"),
        p(5),
        q("id"),
        p(6)
    )
}

/// A database whose migrations can run step by step: the few things the runner needs from
/// a connection. [`run_stepwise`](Stepwise::run_stepwise) does the rest.
pub(crate) trait Stepwise: Backend {
    /// The executor's configuration (history table, lock retries).
    fn config(&self) -> &ExecutorConfig;

    /// Runs the statements, then the Rust function, of `step` on the migration connection.
    async fn run_step_sql(&mut self, step: &StepSql) -> Result<(), StepFailure>;

    /// Whether a step that failed with a lock timeout in `failure` can simply run again from
    /// its start (nothing of it stayed, or what stayed is safe to run again).
    fn can_rerun(&self, failure: &StepFailure) -> bool;

    /// Runs `sql`, a statement of the runner's own (`BEGIN`, `COMMIT`, `SET ...`).
    async fn exec(&mut self, sql: &str, doing: &str) -> Result<(), ExecutorError>;

    /// Runs `sql`, a done probe: one integer, non-zero when the effect is in place.
    async fn probe(&mut self, sql: &str) -> Result<i64, ExecutorError>;

    /// The history rows of `keys`.
    async fn rows_of(&mut self, keys: &[MigrationKey]) -> Result<Vec<HistoryRow>, ExecutorError>;

    /// Inserts `row`, or replaces every column of the row with the same key.
    async fn write_row(&mut self, row: &HistoryRow, exists: bool) -> Result<(), ExecutorError>;

    /// Sets the status, progress and error of the row of `key`.
    async fn set_progress(
        &mut self,
        key: &MigrationKey,
        status: RowStatus,
        progress: usize,
        progress_checksum: &str,
        error: Option<&str>,
    ) -> Result<(), ExecutorError>;

    /// The newest audit log entry.
    async fn last_log(&mut self) -> Result<Option<LogEntry>, ExecutorError>;

    /// Runs `m` in `direction` step by step; called under the migrator lock. Skips it when
    /// the history (re-read here) shows another process did it.
    async fn run_stepwise(
        &mut self,
        m: &MigrationSql,
        direction: Direction,
        fake: bool,
        on_event: &mut (dyn FnMut(Event) + Send),
    ) -> Result<(), ExecutorError> {
        let history = self.rows_of(&keys_of(m)).await?;
        match direction {
            Direction::Forward => self.forward(m, &history, fake, on_event).await,
            Direction::Backward => self.backward(m, &history, fake, on_event).await,
        }
    }

    /// Runs `m.steps[from..]`, recording progress after each step (in the step's transaction
    /// unless it runs outside one). On failure the row gets `failed_status` and the error.
    async fn run_steps(
        &mut self,
        m: &MigrationSql,
        direction: Direction,
        from: usize,
        status: RowStatus,
        failed_status: RowStatus,
        on_event: &mut (dyn FnMut(Event) + Send),
    ) -> Result<(), ExecutorError> {
        let retries = self.config().lock_retries;
        let mut i = from;
        let mut attempt = 0;
        while i < m.steps.len() {
            let step = &m.steps[i];
            let in_transaction = !step.outside_transaction;
            if in_transaction {
                self.exec("BEGIN", "starting a transaction").await?;
            }
            if let Err(failure) = self.run_step_sql(step).await {
                if in_transaction {
                    // Undoes what the database lets a transaction undo (on MySQL the DML of
                    // this step; its DDL, if any, is already committed).
                    let _ = self.exec("ROLLBACK", "rolling back").await;
                }
                // It waited too long for a table lock and can start again: try again.
                if attempt < retries && is_lock_timeout(&failure.error) && self.can_rerun(&failure)
                {
                    attempt += 1;
                    let pause = retry_pause(attempt);
                    on_event(Event::Retrying {
                        key: m.key.clone(),
                        attempt,
                        of: retries,
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
                    dialect: self.dialect(),
                    direction,
                    index: i + 1,
                    total: m.steps.len(),
                    description: step.description.clone(),
                    statement: failure.statement,
                    earlier_statements: failure.earlier_statements,
                    outside_transaction: step.outside_transaction,
                    source: failure.error,
                })));
            }
            super::failpoint("operation-ran").await;
            self.set_progress(
                &m.key,
                status,
                i + 1,
                &progress_checksum(&m.steps[..=i]),
                None,
            )
            .await?;
            if in_transaction {
                self.exec("COMMIT", "committing an operation").await?;
            }
            super::failpoint("operation-recorded").await;
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
        let from = resume_point(m, row, unit)?;
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
            if self.probe(probe).await? == 0 {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The position of a row written now: after the newest audit log entry (the entry that
    /// records the migration done takes that position too, unless another comes first).
    async fn next_seq(&mut self) -> Result<i64, ExecutorError> {
        Ok(self.last_log().await?.map_or(1, |e| e.seq + 1))
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

    /// Applies `m`, resuming a failed or interrupted run.
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
            let applying = in_progress_row(m, seq, RowStatus::Applying, from);
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

    /// Rolls `m` back, resuming an interrupted rollback.
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
                let rolling_back = in_progress_row(m, seq, RowStatus::RollingBack, 0);
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
}

/// Implements the [`Stepwise`] primitives that are plain SQL (`exec`, `probe`, `rows_of`,
/// `write_row`, `set_progress`, `last_log`) inside an `impl Stepwise for ...` block, for a
/// backend with a `connection()` of sqlx database `$db`, dialect `$dialect` and
/// `config.table`.
macro_rules! sql_primitives {
    ($db:ty, $dialect:expr) => {
        async fn exec(&mut self, sql: &str, doing: &str) -> Result<(), ExecutorError> {
            $crate::executor::stepwise::sql::exec::<$db>(self.connection(), sql, doing).await
        }

        async fn probe(&mut self, sql: &str) -> Result<i64, ExecutorError> {
            $crate::executor::stepwise::sql::probe::<$db>(self.connection(), sql).await
        }

        async fn rows_of(
            &mut self,
            keys: &[MigrationKey],
        ) -> Result<Vec<HistoryRow>, ExecutorError> {
            let table = self.config.table.clone();
            $crate::executor::stepwise::sql::rows_of::<$db>(
                self.connection(),
                $dialect,
                &table,
                keys,
            )
            .await
        }

        async fn write_row(&mut self, row: &HistoryRow, exists: bool) -> Result<(), ExecutorError> {
            let table = self.config.table.clone();
            $crate::executor::stepwise::sql::write_row::<$db>(
                self.connection(),
                $dialect,
                &table,
                row,
                exists,
            )
            .await
        }

        async fn set_progress(
            &mut self,
            key: &MigrationKey,
            status: RowStatus,
            progress: usize,
            progress_checksum: &str,
            error: Option<&str>,
        ) -> Result<(), ExecutorError> {
            let table = self.config.table.clone();
            $crate::executor::stepwise::sql::set_progress::<$db>(
                self.connection(),
                $dialect,
                &table,
                key,
                status,
                progress,
                progress_checksum,
                error,
            )
            .await
        }

        async fn last_log(&mut self) -> Result<Option<LogEntry>, ExecutorError> {
            let table = self.config.table.clone();
            $crate::executor::stepwise::sql::last_log::<$db>(self.connection(), $dialect, &table)
                .await
        }
    };
}
pub(crate) use sql_primitives;

/// The [`Stepwise`] primitives that are the same SQL on every database, given its
/// connection: implemented once for any sqlx database whose types the history uses.
pub(crate) mod sql {
    use super::*;

    /// [`Stepwise::exec`].
    pub(crate) async fn exec<DB>(
        conn: &mut DB::Connection,
        sql: &str,
        doing: &str,
    ) -> Result<(), ExecutorError>
    where
        DB: sqlx::Database,
        for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(&mut *conn)
            .await
            .map_err(super::super::db(doing))?;
        Ok(())
    }

    /// [`Stepwise::probe`].
    pub(crate) async fn probe<DB>(
        conn: &mut DB::Connection,
        sql: &str,
    ) -> Result<i64, ExecutorError>
    where
        DB: sqlx::Database,
        for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
        for<'a> DB::Arguments: sqlx::IntoArguments<DB>,
        for<'a> i64: sqlx::Decode<'a, DB> + sqlx::Type<DB>,
        (i64,): for<'r> sqlx::FromRow<'r, DB::Row>,
    {
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_one(&mut *conn)
            .await
            .map_err(super::super::db(
                "checking whether an interrupted operation took effect",
            ))
    }

    /// [`Stepwise::rows_of`].
    pub(crate) async fn rows_of<DB>(
        conn: &mut DB::Connection,
        dialect: DialectKind,
        table: &str,
        keys: &[MigrationKey],
    ) -> Result<Vec<HistoryRow>, ExecutorError>
    where
        DB: sqlx::Database,
        for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
        DB::Arguments: sqlx::IntoArguments<DB>,
        usize: sqlx::ColumnIndex<DB::Row>,
        for<'a> String: sqlx::Decode<'a, DB> + sqlx::Encode<'a, DB> + sqlx::Type<DB>,
        for<'a> i64: sqlx::Decode<'a, DB> + sqlx::Type<DB>,
    {
        fetch_history_of::<DB>(conn, dialect, table, Some(keys)).await
    }

    /// [`Stepwise::write_row`].
    pub(crate) async fn write_row<DB>(
        conn: &mut DB::Connection,
        dialect: DialectKind,
        table: &str,
        row: &HistoryRow,
        exists: bool,
    ) -> Result<(), ExecutorError>
    where
        DB: sqlx::Database,
        for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
        for<'a> DB::Arguments: sqlx::IntoArguments<DB>,
        for<'a> i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
        for<'a> &'a str: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
        for<'a> String: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
        for<'a> Option<String>: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    {
        let sql = write_row_sql(dialect, table, exists);
        bind_history_values(sqlx::query(sqlx::AssertSqlSafe(sql)), row)
            .bind(row.key.app.clone())
            .bind(row.key.id.clone())
            .execute(&mut *conn)
            .await
            .map_err(super::super::db("recording the migration in the history"))?;
        Ok(())
    }

    /// [`Stepwise::set_progress`].
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn set_progress<DB>(
        conn: &mut DB::Connection,
        dialect: DialectKind,
        table: &str,
        key: &MigrationKey,
        status: RowStatus,
        progress: usize,
        progress_checksum: &str,
        error: Option<&str>,
    ) -> Result<(), ExecutorError>
    where
        DB: sqlx::Database,
        for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
        for<'a> DB::Arguments: sqlx::IntoArguments<DB>,
        for<'a> i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
        for<'a> String: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
        for<'a> Option<String>: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    {
        sqlx::query(sqlx::AssertSqlSafe(set_progress_sql(dialect, table)))
            .bind(status.as_str().to_owned())
            .bind(to_i64(progress))
            .bind(progress_checksum.to_owned())
            .bind(error.map(str::to_owned))
            .bind(key.app.clone())
            .bind(key.id.clone())
            .execute(&mut *conn)
            .await
            .map_err(super::super::db("recording the progress of the migration"))?;
        Ok(())
    }

    /// [`Stepwise::last_log`].
    pub(crate) async fn last_log<DB>(
        conn: &mut DB::Connection,
        dialect: DialectKind,
        table: &str,
    ) -> Result<Option<LogEntry>, ExecutorError>
    where
        DB: sqlx::Database,
        for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
        DB::Arguments: sqlx::IntoArguments<DB>,
        usize: sqlx::ColumnIndex<DB::Row>,
        for<'a> String: sqlx::Decode<'a, DB> + sqlx::Type<DB>,
        for<'a> i64: sqlx::Decode<'a, DB> + sqlx::Type<DB>,
        for<'a> Option<String>: sqlx::Decode<'a, DB>,
    {
        let log = fetch_log(&mut *conn, select_last_log_sql(dialect, table)).await?;
        Ok(log.and_then(|mut l| l.pop()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_writes_bind_in_the_order_of_their_placeholders() {
        assert_eq!(
            set_progress_sql(DialectKind::Postgres, "h"),
            "UPDATE \"h\" SET \"status\" = $1, \"progress\" = $2, \"progress_checksum\" = $3, \"error\" = $4 WHERE \"app\" = $5 AND \"id\" = $6"
        );
        assert_eq!(
            set_progress_sql(DialectKind::Mysql, "h"),
            "UPDATE `h` SET `status` = ?, `progress` = ?, `progress_checksum` = ?, `error` = ? WHERE `app` = ? AND `id` = ?"
        );
        let insert = write_row_sql(DialectKind::Postgres, "h", false);
        assert!(
            insert.starts_with("INSERT INTO \"h\" (\"seq\", \"applied_at\"")
                && insert.ends_with(
                    "\"app\", \"id\") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
                ),
            "{insert}"
        );
        let update = write_row_sql(DialectKind::Mysql, "h", true);
        assert!(
            update.starts_with("UPDATE `h` SET `seq` = ?, `applied_at` = ?")
                && update.ends_with("`progress_checksum` = ? WHERE `app` = ? AND `id` = ?"),
            "{update}"
        );
    }
}
