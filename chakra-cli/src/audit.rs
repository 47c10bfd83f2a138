//! `migrate history` (the audit log) and `migrate repair` (recording a manual intervention).

use std::process::ExitCode;

use anyhow::{Result, bail};
use chakra::executor::{LogEntry, Repair, RepairOutcome};
use serde_json::json;

use crate::cli::{HistoryArgs, RepairArgs};
use crate::commands::{connect, graph, parse_key, readable_time};
use crate::config::Config;
use crate::output::{Output, Style};

/// The JSON form of a log entry (stable: documented in docs/cli.md).
fn entry_json(e: &LogEntry) -> serde_json::Value {
    json!({
        "seq": e.seq,
        "app": e.key.app,
        "id": e.key.id,
        "action": e.action_text,
        "checksum": e.checksum,
        "at": e.at,
        "by": e.by,
        "execution_time_ms": e.execution_time_ms,
        "note": e.note,
        "chain_hash": e.chain_hash,
    })
}

fn style_of(action: &str) -> Style {
    match action {
        "apply" => Style::Green,
        "rollback" => Style::Yellow,
        "fake_apply" | "fake_rollback" | "import" => Style::Dim,
        _ => Style::Red,
    }
}

pub(crate) async fn history(cfg: &Config, args: &HistoryArgs, out: &Output) -> Result<ExitCode> {
    let mut exec = connect(cfg, true).await?;
    let Some(log) = exec.log().await? else {
        let rows = exec.history().await?.len();
        if rows == 0 {
            out.line("No history: no migration has been applied to this database.");
        } else {
            out.line(&format!(
                "This database has {rows} applied migration(s) but no audit log: it was migrated by an older Chakra. \
                 The next `migrate apply` or `migrate repair` creates the log from the current history."
            ));
        }
        out.json(&json!({ "ok": true, "log": false, "entries": [] }));
        return Ok(ExitCode::SUCCESS);
    };
    let selected: Vec<&LogEntry> = log
        .iter()
        .filter(|e| args.app.as_deref().is_none_or(|a| e.key.app == a))
        .filter(|e| args.id.as_deref().is_none_or(|id| e.key == parse_key(id)))
        .collect();
    let shown = match args.limit {
        Some(n) => &selected[selected.len().saturating_sub(n)..],
        None => &selected[..],
    };
    if shown.is_empty() {
        out.line("No entries.");
    }
    let width = shown
        .iter()
        .map(|e| e.action_text.chars().count())
        .max()
        .unwrap_or(0);
    for e in shown {
        let action = format!("{:width$}", e.action_text);
        let time = if e.execution_time_ms > 0 {
            format!(" ({}ms)", e.execution_time_ms)
        } else {
            String::new()
        };
        out.line(&format!(
            "{:>4}  {}  {}  {}  by {}{time}",
            e.seq,
            readable_time(&e.at),
            out.paint(style_of(&e.action_text), &action),
            e.key,
            e.by,
        ));
        if let Some(note) = &e.note {
            out.line(&format!("      {}", out.paint(Style::Dim, note)));
        }
    }
    if shown.len() < log.len() {
        out.line(&out.paint(
            Style::Dim,
            &format!("({} of {} entries shown)", shown.len(), log.len()),
        ));
    }
    out.json(&json!({
        "ok": true,
        "log": true,
        "total": log.len(),
        "entries": shown.iter().map(|e| entry_json(e)).collect::<Vec<_>>(),
    }));
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn repair(cfg: &Config, args: &RepairArgs, out: &Output) -> Result<ExitCode> {
    let repair = match (args.mark_applied, args.mark_rolled_back) {
        (true, false) => Repair::MarkApplied,
        (false, true) => Repair::MarkRolledBack,
        // clap makes exactly one of them required.
        _ => bail!("give one of --mark-applied or --mark-rolled-back"),
    };
    let graph = graph(cfg)?;
    let key = parse_key(&args.id);
    let mut exec = connect(cfg, false).await?;
    let outcome = exec
        .repair(&graph, &key, repair, args.reason.as_deref())
        .await?;
    match &outcome {
        RepairOutcome::Recorded(entry) => {
            let what = match repair {
                Repair::MarkApplied => "applied",
                Repair::MarkRolledBack => "rolled back",
            };
            out.line(&format!(
                "{} Recorded `{key}` as {what} (audit log entry #{}, by {})",
                out.paint(Style::Green, "✓"),
                entry.seq,
                entry.by
            ));
            if let Some(note) = &entry.note {
                out.line(&format!("  {}", out.paint(Style::Dim, note)));
            }
            out.line("Nothing was run on the schema: the history now says what you did by hand.");
            out.json(&json!({ "ok": true, "changed": true, "entry": entry_json(entry) }));
        }
        RepairOutcome::Unchanged(why) => {
            out.line(&format!("{} {why}", out.paint(Style::Dim, "-")));
            out.json(&json!({ "ok": true, "changed": false, "reason": why }));
        }
    }
    Ok(ExitCode::SUCCESS)
}
