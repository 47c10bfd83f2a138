//! The audit log: an append-only table beside the history table (`<table>_log`) with one
//! entry per change of the history (a migration applied, rolled back, faked or repaired), and
//! the hash chain that makes edits of either table visible.
//!
//! The history table holds what is applied *now* (one row per migration, deleted when it is
//! rolled back); the log holds everything that ever happened, in order, and is never updated or
//! deleted by Chakra. Each entry's `chain_hash` is SHA-256 over the previous entry's chain hash
//! and every other column of the entry, so editing, deleting or inserting an entry breaks the
//! chain from there on. Each applied history row carries the chain hash of the log entry that
//! applied it, so its checksum and time can be checked against the log, and replaying the log
//! tells which rows must exist: a row inserted, edited or deleted by hand is caught by
//! [`verify_history`].
//!
//! The log is written in the same transaction as the history row on SQLite and PostgreSQL, and
//! in one small DML transaction after the migration's DDL on MySQL/MariaDB.

use std::collections::BTreeMap;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::{ExecutorError, HISTORY_COLUMNS, HistoryRow, RowStatus, db, now_rfc3339, who};
use crate::dialect::{DialectKind, quote_ident};
use crate::graph::MigrationKey;

/// What a log entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LogAction {
    /// `migrate apply` ran the migration.
    Apply,
    /// `migrate rollback` undid it.
    Rollback,
    /// `migrate apply --fake` recorded it without running it.
    FakeApply,
    /// `migrate rollback --fake` removed its record without undoing it.
    FakeRollback,
    /// `migrate repair --mark-applied` recorded it (or re-recorded its checksum) by hand.
    MarkApplied,
    /// `migrate repair --mark-rolled-back` removed its record by hand.
    MarkRolledBack,
    /// A history row that existed before the log did (a database migrated by an older
    /// Chakra), taken over when the log was created.
    Import,
}

impl LogAction {
    /// The value stored in the `action` column.
    pub fn as_str(self) -> &'static str {
        match self {
            LogAction::Apply => "apply",
            LogAction::Rollback => "rollback",
            LogAction::FakeApply => "fake_apply",
            LogAction::FakeRollback => "fake_rollback",
            LogAction::MarkApplied => "mark_applied",
            LogAction::MarkRolledBack => "mark_rolled_back",
            LogAction::Import => "import",
        }
    }

    /// Reads the `action` column.
    pub fn parse(s: &str) -> Option<LogAction> {
        Some(match s {
            "apply" => LogAction::Apply,
            "rollback" => LogAction::Rollback,
            "fake_apply" => LogAction::FakeApply,
            "fake_rollback" => LogAction::FakeRollback,
            "mark_applied" => LogAction::MarkApplied,
            "mark_rolled_back" => LogAction::MarkRolledBack,
            "import" => LogAction::Import,
            _ => return None,
        })
    }

    /// Whether after this entry the migration is applied.
    pub fn applies(self) -> bool {
        matches!(
            self,
            LogAction::Apply | LogAction::FakeApply | LogAction::MarkApplied | LogAction::Import
        )
    }

    /// The action for a run of a migration in `direction`.
    pub(crate) fn of_run(direction: crate::plan::Direction, fake: bool) -> LogAction {
        use crate::plan::Direction::*;
        match (direction, fake) {
            (Forward, false) => LogAction::Apply,
            (Forward, true) => LogAction::FakeApply,
            (Backward, false) => LogAction::Rollback,
            (Backward, true) => LogAction::FakeRollback,
        }
    }
}

impl std::fmt::Display for LogAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// Position in the log: 1, 2, ... without gaps.
    pub seq: i64,
    /// The migration.
    pub key: MigrationKey,
    /// What happened. `None` when the stored action is not one Chakra writes (an edited row).
    pub action: Option<LogAction>,
    /// The action as stored.
    pub action_text: String,
    /// The checksum of the migration file at the time.
    pub checksum: String,
    /// When (RFC 3339, UTC).
    pub at: String,
    /// Who (`user@host`).
    pub by: String,
    /// How long the migration took (0 for records without a run).
    pub execution_time_ms: i64,
    /// Why, for repairs; what else happened, for squashes.
    pub note: Option<String>,
    /// SHA-256 over the previous entry's chain hash and this entry.
    pub chain_hash: String,
}

impl LogEntry {
    /// The entry following `last` (the newest entry, if any), made now by this user.
    pub(crate) fn next(
        last: Option<&LogEntry>,
        key: &MigrationKey,
        action: LogAction,
        checksum: &str,
        elapsed: Duration,
        note: Option<String>,
    ) -> LogEntry {
        let mut entry = LogEntry {
            seq: last.map_or(1, |e| e.seq + 1),
            key: key.clone(),
            action: Some(action),
            action_text: action.as_str().to_owned(),
            checksum: checksum.to_owned(),
            at: now_rfc3339(),
            by: who(),
            execution_time_ms: i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX),
            note,
            chain_hash: String::new(),
        };
        entry.chain_hash = entry.link(last.map_or("", |e| e.chain_hash.as_str()));
        entry
    }

    /// The chain hash this entry must have after an entry with chain hash `previous`.
    pub fn link(&self, previous: &str) -> String {
        let mut h = Sha256::new();
        let seq = self.seq.to_string();
        let time = self.execution_time_ms.to_string();
        let note = self.note.as_deref().unwrap_or("");
        // The note's presence is hashed too, so NULL and '' differ.
        let has_note = if self.note.is_some() { "1" } else { "0" };
        for part in [
            previous,
            &seq,
            &self.action_text,
            &self.key.app,
            &self.key.id,
            &self.checksum,
            &self.at,
            &self.by,
            &time,
            has_note,
            note,
        ] {
            h.update(part.as_bytes());
            h.update([0u8]);
        }
        crate::checksum::hex(&h.finalize())
    }

    /// The applied history row this entry records.
    pub(crate) fn applied_row(&self, seq: i64, progress: i64) -> HistoryRow {
        HistoryRow {
            key: self.key.clone(),
            seq,
            applied_at: self.at.clone(),
            checksum: self.checksum.clone(),
            execution_time_ms: self.execution_time_ms,
            status: RowStatus::Applied,
            progress,
            error: None,
            applied_by: Some(self.by.clone()),
            chain_hash: self.chain_hash.clone(),
            progress_checksum: None,
        }
    }
}

/// The name of the log table of history table `table`.
pub fn log_table_name(table: &str) -> String {
    format!("{table}_log")
}

/// The columns of the log table, in the order every backend reads them.
const LOG_COLUMNS: [&str; 10] = [
    "seq",
    "app",
    "id",
    "action",
    "checksum",
    "at",
    "by",
    "execution_time_ms",
    "note",
    "chain_hash",
];

fn columns(dialect: DialectKind) -> String {
    LOG_COLUMNS
        .iter()
        .map(|c| quote_ident(dialect, c))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `?, ?, ...` or `$1, $2, ...`: `n` bind placeholders for `dialect`, from `first`.
pub(crate) fn placeholders(dialect: DialectKind, first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| match dialect {
            DialectKind::Postgres => format!("${i}"),
            _ => "?".to_owned(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `CREATE TABLE IF NOT EXISTS` of the log table of history table `table`.
pub(crate) fn log_table_sql(dialect: DialectKind, table: &str) -> String {
    let q = |s: &str| quote_ident(dialect, s);
    let text = if dialect == DialectKind::Mysql {
        "LONGTEXT"
    } else {
        "TEXT"
    };
    format!(
        "CREATE TABLE IF NOT EXISTS {} ({} BIGINT NOT NULL PRIMARY KEY, {} VARCHAR(255) NOT NULL, \
         {} VARCHAR(255) NOT NULL, {} VARCHAR(32) NOT NULL, {} CHAR(64) NOT NULL, {} VARCHAR(40) NOT NULL, \
         {} VARCHAR(255) NOT NULL, {} BIGINT NOT NULL, {} {text}, {} CHAR(64) NOT NULL){}",
        q(&log_table_name(table)),
        q("seq"),
        q("app"),
        q("id"),
        q("action"),
        q("checksum"),
        q("at"),
        q("by"),
        q("execution_time_ms"),
        q("note"),
        q("chain_hash"),
        if dialect == DialectKind::Mysql {
            " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
        } else {
            ""
        },
    )
}

/// A SELECT of the whole log, oldest first.
pub(crate) fn select_log_sql(dialect: DialectKind, table: &str) -> String {
    format!(
        "SELECT {} FROM {} ORDER BY {}",
        columns(dialect),
        quote_ident(dialect, &log_table_name(table)),
        quote_ident(dialect, "seq")
    )
}

/// A SELECT of the newest log entry.
pub(crate) fn select_last_log_sql(dialect: DialectKind, table: &str) -> String {
    format!(
        "SELECT {} FROM {} ORDER BY {} DESC LIMIT 1",
        columns(dialect),
        quote_ident(dialect, &log_table_name(table)),
        quote_ident(dialect, "seq")
    )
}

/// Whether a query on the log failed because the table does not exist (a database migrated
/// by an older Chakra, or never migrated).
fn is_missing_table(e: &sqlx::Error) -> bool {
    let Some(d) = e.as_database_error() else {
        return false;
    };
    let code = d.code();
    matches!(code.as_deref(), Some("42P01") | Some("42S02"))
        || d.message().contains("no such table")
        || d.message().contains("doesn't exist")
}

/// Runs `select`, a SELECT of the log's columns; `None` when the log table does not exist.
pub(crate) async fn fetch_log<'c, DB, E>(
    conn: E,
    select: String,
) -> Result<Option<Vec<LogEntry>>, ExecutorError>
where
    DB: sqlx::Database,
    DB::Arguments: sqlx::IntoArguments<DB>,
    E: sqlx::Executor<'c, Database = DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
    for<'a> String: sqlx::Decode<'a, DB> + sqlx::Type<DB>,
    for<'a> i64: sqlx::Decode<'a, DB> + sqlx::Type<DB>,
{
    let rows = match sqlx::query(sqlx::AssertSqlSafe(select))
        .fetch_all(conn)
        .await
    {
        Ok(rows) => rows,
        Err(e) if is_missing_table(&e) => return Ok(None),
        Err(e) => return Err(db("reading the audit log")(e)),
    };
    rows.iter()
        .map(|r| {
            use sqlx::Row;
            let action_text: String = r.try_get(3)?;
            Ok(LogEntry {
                seq: r.try_get(0)?,
                key: MigrationKey::new(r.try_get::<String, _>(1)?, r.try_get::<String, _>(2)?),
                action: LogAction::parse(&action_text),
                action_text,
                checksum: r.try_get(4)?,
                at: r.try_get(5)?,
                by: r.try_get(6)?,
                execution_time_ms: r.try_get(7)?,
                note: r.try_get(8)?,
                chain_hash: r.try_get(9)?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()
        .map(Some)
        .map_err(db("reading the audit log"))
}

/// A change of the history: rows removed, a row written (replacing any row with its key),
/// and the log entries that record it. Applied in one transaction by [`write_change`].
#[derive(Debug, Clone, Default)]
pub(crate) struct HistoryChange {
    /// History rows to delete.
    pub delete: Vec<MigrationKey>,
    /// The history row to write.
    pub upsert: Option<HistoryRow>,
    /// History rows whose chain hash is set (importing rows from before the log).
    pub relink: Vec<(MigrationKey, String)>,
    /// The log entries.
    pub log: Vec<LogEntry>,
}

/// Writes `change` on `conn`, inside the caller's transaction.
pub(crate) async fn write_change<DB>(
    conn: &mut DB::Connection,
    dialect: DialectKind,
    table: &str,
    change: &HistoryChange,
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
    let q = |s: &str| quote_ident(dialect, s);
    let history = q(table);
    let delete_sql = format!(
        "DELETE FROM {history} WHERE {} = {} AND {} = {}",
        q("app"),
        placeholders(dialect, 1, 1),
        q("id"),
        placeholders(dialect, 2, 1)
    );
    let doing = "recording the migration in the history";
    let upserted = change.upsert.as_ref().map(|r| &r.key);
    for key in change.delete.iter().chain(upserted) {
        sqlx::query(sqlx::AssertSqlSafe(delete_sql.clone()))
            .bind(&key.app)
            .bind(&key.id)
            .execute(&mut *conn)
            .await
            .map_err(db(doing))?;
    }
    if let Some(row) = &change.upsert {
        let columns = if dialect == DialectKind::Mysql {
            HISTORY_COLUMNS.replace('"', "`")
        } else {
            HISTORY_COLUMNS.to_owned()
        };
        let sql = format!(
            "INSERT INTO {history} ({columns}) VALUES ({})",
            placeholders(dialect, 1, 12)
        );
        let query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(row.key.app.clone())
            .bind(row.key.id.clone());
        super::bind_history_values(query, row)
            .execute(&mut *conn)
            .await
            .map_err(db(doing))?;
    }
    for (key, chain) in &change.relink {
        let sql = format!(
            "UPDATE {history} SET {} = {} WHERE {} = {} AND {} = {}",
            q("chain_hash"),
            placeholders(dialect, 1, 1),
            q("app"),
            placeholders(dialect, 2, 1),
            q("id"),
            placeholders(dialect, 3, 1)
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(chain.clone())
            .bind(key.app.clone())
            .bind(key.id.clone())
            .execute(&mut *conn)
            .await
            .map_err(db(doing))?;
    }
    let insert_log = format!(
        "INSERT INTO {} ({}) VALUES ({})",
        q(&log_table_name(table)),
        columns(dialect),
        placeholders(dialect, 1, LOG_COLUMNS.len())
    );
    for e in &change.log {
        sqlx::query(sqlx::AssertSqlSafe(insert_log.clone()))
            .bind(e.seq)
            .bind(e.key.app.clone())
            .bind(e.key.id.clone())
            .bind(e.action_text.clone())
            .bind(e.checksum.clone())
            .bind(e.at.clone())
            .bind(e.by.clone())
            .bind(e.execution_time_ms)
            .bind(e.note.clone())
            .bind(e.chain_hash.clone())
            .execute(&mut *conn)
            .await
            .map_err(db("recording the change in the audit log"))?;
    }
    Ok(())
}

/// The change that takes over the applied rows of a history kept before the log existed:
/// one `import` entry per applied row, in the order they were applied, each row relinked to
/// its entry. Empty when there is a log already or nothing to import.
pub(crate) fn import_change(history: &[HistoryRow], last: Option<&LogEntry>) -> HistoryChange {
    let mut change = HistoryChange::default();
    if last.is_some() {
        return change;
    }
    let mut previous: Option<LogEntry> = None;
    for row in history.iter().filter(|r| r.status == RowStatus::Applied) {
        let mut entry = LogEntry::next(
            previous.as_ref(),
            &row.key,
            LogAction::Import,
            &row.checksum,
            Duration::from_millis(u64::try_from(row.execution_time_ms).unwrap_or(0)),
            Some("recorded before the audit log existed".to_owned()),
        );
        entry.at = row.applied_at.clone();
        entry.by = row
            .applied_by
            .clone()
            .unwrap_or_else(|| "unknown".to_owned());
        entry.chain_hash = entry.link(previous.as_ref().map_or("", |e| e.chain_hash.as_str()));
        change
            .relink
            .push((row.key.clone(), entry.chain_hash.clone()));
        change.log.push(entry.clone());
        previous = Some(entry);
    }
    change
}

/// The change recording a run of `m` (applied or rolled back, for real or `--fake`) after the
/// newest log entry `last`, given the history rows of `m` and the migrations it replaces,
/// read under the lock. Rolling back a squashed
/// migration removes the rows of the migrations it replaces too, each with its own entry.
pub(crate) fn run_change(
    m: &crate::plan::MigrationSql,
    history: &[HistoryRow],
    last: Option<&LogEntry>,
    direction: crate::plan::Direction,
    fake: bool,
    elapsed: Duration,
) -> HistoryChange {
    let action = LogAction::of_run(direction, fake);
    let mut change = HistoryChange::default();
    match direction {
        crate::plan::Direction::Forward => {
            let entry = LogEntry::next(last, &m.key, action, &m.checksum, elapsed, None);
            // The order of application is the position of the entry that applied it.
            let seq = entry.seq;
            let progress = i64::try_from(m.steps.len()).unwrap_or(i64::MAX);
            change.upsert = Some(entry.applied_row(seq, progress));
            change.log.push(entry);
        }
        crate::plan::Direction::Backward => {
            let mut previous = last.cloned();
            for key in std::iter::once(&m.key).chain(&m.replaces) {
                let Some(row) = history.iter().find(|r| &r.key == key) else {
                    continue;
                };
                let (checksum, note, time) = if *key == m.key {
                    (m.checksum.clone(), None, elapsed)
                } else {
                    (
                        row.checksum.clone(),
                        Some(format!(
                            "rolled back as part of squashed migration `{}`",
                            m.key
                        )),
                        Duration::ZERO,
                    )
                };
                let entry = LogEntry::next(previous.as_ref(), key, action, &checksum, time, note);
                change.delete.push(key.clone());
                change.log.push(entry.clone());
                previous = Some(entry);
            }
        }
    }
    change
}

/// What `verify` finds wrong with the history and its log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryProblem {
    /// The history has rows but no log: it was written by an older Chakra, or the log table
    /// was dropped.
    NoLog {
        /// Rows in the history.
        rows: usize,
    },
    /// A log entry does not hash to its chain hash: it was edited, or an entry before it was
    /// deleted or inserted.
    EntryAltered {
        /// The entry's position.
        seq: i64,
        /// Its migration.
        key: MigrationKey,
        /// Its action as stored.
        action: String,
    },
    /// Log entries are missing (deleted) before this one.
    EntriesMissing {
        /// The entry after the gap.
        seq: i64,
        /// The position expected.
        expected: i64,
    },
    /// A history row of an applied migration that the log never applied.
    RowNotInLog {
        /// The migration.
        key: MigrationKey,
    },
    /// A history row that differs from the log entry that applied it.
    RowAltered {
        /// The migration.
        key: MigrationKey,
        /// The columns that differ.
        columns: Vec<&'static str>,
    },
    /// The log says the migration is applied but its history row is gone.
    RowDeleted {
        /// The migration.
        key: MigrationKey,
        /// The log entry that applied it.
        seq: i64,
    },
}

impl std::fmt::Display for HistoryProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HistoryProblem::NoLog { rows } => write!(
                f,
                "the history has {rows} row(s) but no audit log (it was written by an older Chakra, or the log table was dropped); \
                 the next `migrate apply` that runs a migration creates the log from the current rows, and so does \
                 `migrate repair ID --mark-applied` for any applied migration (which changes nothing else)"
            ),
            HistoryProblem::EntryAltered { seq, key, action } => write!(
                f,
                "audit log entry #{seq} ({action} `{key}`) does not match its chain hash: it was edited, or an entry before it was deleted or inserted by hand"
            ),
            HistoryProblem::EntriesMissing { seq, expected } => write!(
                f,
                "audit log entries #{expected} to #{} were deleted",
                seq - 1
            ),
            HistoryProblem::RowNotInLog { key } => write!(
                f,
                "history row `{key}` says applied, but the audit log never applied it: it was inserted by hand. \
                 If the migration really is in place, record it with `migrate repair {key} --mark-applied`"
            ),
            HistoryProblem::RowAltered { key, columns } => write!(
                f,
                "history row `{key}` was edited: {} differ(s) from the audit log entry that applied it",
                columns.join(", ")
            ),
            HistoryProblem::RowDeleted { key, seq } => write!(
                f,
                "history row `{key}` was deleted: audit log entry #{seq} applied it and nothing rolled it back. \
                 If it really was undone by hand, record that with `migrate repair {key} --mark-rolled-back`"
            ),
        }
    }
}

/// The outcome of [`verify_history`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HistoryReport {
    /// Entries in the log.
    pub entries: usize,
    /// The chain hash of the newest entry: keep it somewhere safe to detect a rewritten log.
    pub head: Option<String>,
    /// What is wrong.
    pub problems: Vec<HistoryProblem>,
}

/// Checks the log's chain, then the history rows against the log replayed.
pub fn verify_history(history: &[HistoryRow], log: Option<&[LogEntry]>) -> HistoryReport {
    let Some(log) = log else {
        let rows = history.len();
        return HistoryReport {
            problems: if rows > 0 {
                vec![HistoryProblem::NoLog { rows }]
            } else {
                Vec::new()
            },
            ..HistoryReport::default()
        };
    };
    let mut problems = Vec::new();
    let mut previous = "";
    let mut expected_seq = 1;
    for e in log {
        if e.seq > expected_seq {
            problems.push(HistoryProblem::EntriesMissing {
                seq: e.seq,
                expected: expected_seq,
            });
        }
        if e.chain_hash != e.link(previous) {
            problems.push(HistoryProblem::EntryAltered {
                seq: e.seq,
                key: e.key.clone(),
                action: e.action_text.clone(),
            });
        }
        // Each edit is reported once: the chain goes on from the stored hash.
        previous = &e.chain_hash;
        expected_seq = e.seq + 1;
    }
    // What the log says is applied, and by which entry.
    let mut applied: BTreeMap<&MigrationKey, &LogEntry> = BTreeMap::new();
    for e in log {
        match e.action {
            Some(a) if a.applies() => {
                applied.insert(&e.key, e);
            }
            _ => {
                applied.remove(&e.key);
            }
        }
    }
    for row in history {
        match (row.status, applied.get(&row.key)) {
            (RowStatus::Applied, None) => problems.push(HistoryProblem::RowNotInLog {
                key: row.key.clone(),
            }),
            (RowStatus::Applied, Some(e)) => {
                let mut columns = Vec::new();
                if row.checksum != e.checksum {
                    columns.push("checksum");
                }
                if row.applied_at != e.at {
                    columns.push("applied_at");
                }
                if row.applied_by.as_deref() != Some(e.by.as_str()) {
                    columns.push("applied_by");
                }
                if row.chain_hash != e.chain_hash {
                    columns.push("chain_hash");
                }
                if !columns.is_empty() {
                    problems.push(HistoryProblem::RowAltered {
                        key: row.key.clone(),
                        columns,
                    });
                }
            }
            // Being applied (MySQL/MariaDB) and not finished: the log records it once done.
            // Being rolled back: still applied in the log until the rollback is done.
            _ => {}
        }
    }
    for (key, e) in &applied {
        if !history.iter().any(|r| &r.key == *key) {
            problems.push(HistoryProblem::RowDeleted {
                key: (*key).clone(),
                seq: e.seq,
            });
        }
    }
    HistoryReport {
        entries: log.len(),
        head: log.last().map(|e| e.chain_hash.clone()),
        problems,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str) -> MigrationKey {
        MigrationKey::new("default", id)
    }

    /// A log applying `ids` in order and the matching history.
    fn applied(ids: &[&str]) -> (Vec<HistoryRow>, Vec<LogEntry>) {
        let mut log: Vec<LogEntry> = Vec::new();
        let mut rows = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            let e = LogEntry::next(
                log.last(),
                &key(id),
                LogAction::Apply,
                &format!("{:064}", i),
                Duration::from_millis(3),
                None,
            );
            rows.push(e.applied_row(i as i64 + 1, 1));
            log.push(e);
        }
        (rows, log)
    }

    #[test]
    fn an_untouched_history_verifies() {
        let (rows, log) = applied(&["0001_a", "0002_b", "0003_c"]);
        let report = verify_history(&rows, Some(&log));
        assert_eq!(report.problems, vec![]);
        assert_eq!(report.entries, 3);
        assert_eq!(report.head.as_deref(), Some(log[2].chain_hash.as_str()));
    }

    #[test]
    fn rollbacks_keep_the_chain_and_remove_the_row() {
        let (mut rows, mut log) = applied(&["0001_a", "0002_b"]);
        let e = LogEntry::next(
            log.last(),
            &key("0001_a"),
            LogAction::Rollback,
            &rows[0].checksum,
            Duration::ZERO,
            None,
        );
        log.push(e);
        rows.remove(0);
        assert_eq!(verify_history(&rows, Some(&log)).problems, vec![]);
    }

    #[test]
    fn an_edited_log_entry_is_reported_once() {
        let (rows, mut log) = applied(&["0001_a", "0002_b", "0003_c"]);
        log[1].by = "mallory@host".to_owned();
        let problems = verify_history(&rows, Some(&log)).problems;
        assert_eq!(
            problems,
            vec![
                HistoryProblem::EntryAltered {
                    seq: 2,
                    key: key("0002_b"),
                    action: "apply".to_owned()
                },
                HistoryProblem::RowAltered {
                    key: key("0002_b"),
                    columns: vec!["applied_by"]
                }
            ]
        );
    }

    #[test]
    fn a_deleted_log_entry_is_reported() {
        let (rows, mut log) = applied(&["0001_a", "0002_b", "0003_c"]);
        log.remove(1);
        let problems = verify_history(&rows[..], Some(&log)).problems;
        assert!(problems.contains(&HistoryProblem::EntriesMissing {
            seq: 3,
            expected: 2
        }));
        assert!(problems.contains(&HistoryProblem::RowNotInLog { key: key("0002_b") }));
    }

    #[test]
    fn edited_inserted_and_deleted_rows_are_reported_by_id() {
        let (mut rows, log) = applied(&["0001_a", "0002_b", "0003_c"]);
        rows[0].checksum = "f".repeat(64);
        rows.remove(2);
        let mut extra = rows[1].clone();
        extra.key = key("0004_d");
        rows.push(extra);
        let problems = verify_history(&rows, Some(&log)).problems;
        assert_eq!(
            problems,
            vec![
                HistoryProblem::RowAltered {
                    key: key("0001_a"),
                    columns: vec!["checksum"]
                },
                HistoryProblem::RowNotInLog { key: key("0004_d") },
                HistoryProblem::RowDeleted {
                    key: key("0003_c"),
                    seq: 3
                },
            ]
        );
    }

    #[test]
    fn a_history_without_log_is_reported_and_imported() {
        let (mut rows, _) = applied(&["0001_a", "0002_b"]);
        assert_eq!(
            verify_history(&rows, None).problems,
            vec![HistoryProblem::NoLog { rows: 2 }]
        );
        assert_eq!(verify_history(&[], None).problems, vec![]);
        let change = import_change(&rows, None);
        assert_eq!(change.log.len(), 2);
        for (key, chain) in &change.relink {
            rows.iter_mut().find(|r| &r.key == key).unwrap().chain_hash = chain.clone();
        }
        assert_eq!(verify_history(&rows, Some(&change.log)).problems, vec![]);
        assert!(import_change(&rows, change.log.last()).log.is_empty());
    }

    #[test]
    fn the_chain_covers_every_column() {
        let (_, log) = applied(&["0001_a"]);
        let e = &log[0];
        let base = e.link("");
        let mut variants = Vec::new();
        for f in 0..9 {
            let mut v = e.clone();
            match f {
                0 => v.seq += 1,
                1 => v.key.app.push('x'),
                2 => v.key.id.push('x'),
                3 => v.action_text = "rollback".into(),
                4 => v.checksum.push('x'),
                5 => v.at.push('x'),
                6 => v.by.push('x'),
                7 => v.execution_time_ms += 1,
                _ => v.note = Some(String::new()),
            }
            variants.push(v.link(""));
        }
        assert!(variants.iter().all(|v| *v != base));
        assert_ne!(e.link("a"), base);
    }
}
