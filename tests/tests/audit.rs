//! The history as an audit trail, on every database: the append-only log records applies,
//! rollbacks, fakes and repairs; `verify_history` catches rows of either table edited,
//! inserted or deleted by hand, naming the migration; `repair` records manual interventions.

use chakra::executor::{
    Event, Executor, HistoryProblem, LogAction, Repair, RepairOutcome, log_table_name,
};
use chakra::graph::Graph;
use chakra::plan::RollbackTarget;
use chakra_tests::fixtures::{Project, key, post, user, with_email};
use chakra_tests::{TestDb, matrix_test};

/// A project with three migrations: users, posts, users.email.
fn project() -> (Project, Graph) {
    let p = Project::new();
    p.make(vec![user()]);
    p.make(vec![user(), post()]);
    p.make(vec![with_email(user()), post()]);
    let g = p.graph();
    (p, g)
}

async fn apply(exec: &mut Executor, graph: &Graph, fake: bool) {
    exec.apply(graph, None, fake, &mut |_: Event| {})
        .await
        .expect("apply");
}

async fn rollback(exec: &mut Executor, graph: &Graph, n: usize) {
    exec.rollback(graph, &RollbackTarget::Count(n), false, &mut |_: Event| {})
        .await
        .expect("rollback");
}

async fn problems(exec: &mut Executor) -> Vec<HistoryProblem> {
    exec.verify_history().await.expect("verify").problems
}

fn actions(log: &[chakra::executor::LogEntry]) -> Vec<(String, String)> {
    log.iter()
        .map(|e| (e.action_text.clone(), e.key.id.clone()))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

matrix_test!(the_log_records_every_change_and_verifies, |db| async move {
    let db: TestDb = db;
    let (_p, g) = project();
    let mut exec = db.executor().await;
    assert_eq!(exec.log().await.expect("log"), None, "nothing before");
    apply(&mut exec, &g, false).await;
    rollback(&mut exec, &g, 1).await;
    apply(&mut exec, &g, true).await;
    let log = exec.log().await.expect("log").expect("a log");
    assert_eq!(
        actions(&log),
        pairs(&[
            ("apply", "0001_initial"),
            ("apply", "0002_post"),
            ("apply", "0003_add_user_email"),
            ("rollback", "0003_add_user_email"),
            ("fake_apply", "0003_add_user_email"),
        ])
    );
    assert_eq!(
        log.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );
    let history = exec.history().await.expect("history");
    assert_eq!(
        history.last().expect("row").chain_hash,
        log[4].chain_hash,
        "the row carries the chain hash of the entry that applied it"
    );
    let report = exec.verify_history().await.expect("verify");
    assert_eq!(report.problems, vec![]);
    assert_eq!(report.entries, 5);
    assert_eq!(report.head.as_deref(), Some(log[4].chain_hash.as_str()));
});

matrix_test!(
    hand_edits_of_the_history_are_caught_by_id,
    |db| async move {
        let db: TestDb = db;
        let (_p, g) = project();
        let mut exec = db.executor().await;
        apply(&mut exec, &g, false).await;
        let q = |s: &str| chakra::dialect::quote_ident(db.engine.dialect(), s);
        let table = q("_chakra_migrations");
        let log = q(&log_table_name("_chakra_migrations"));

        // An edited checksum.
        db.execute(&format!(
            "UPDATE {table} SET {} = '{}' WHERE {} = '0001_initial'",
            q("checksum"),
            "0".repeat(64),
            q("id")
        ))
        .await;
        // A deleted row.
        db.execute(&format!(
            "DELETE FROM {table} WHERE {} = '0003_add_user_email'",
            q("id")
        ))
        .await;
        assert_eq!(
            problems(&mut exec).await,
            vec![
                HistoryProblem::RowAltered {
                    key: key("0001_initial"),
                    columns: vec!["checksum"]
                },
                HistoryProblem::RowDeleted {
                    key: key("0003_add_user_email"),
                    seq: 3
                },
            ]
        );

        // An inserted row (copied from another) and an edited log entry.
        db.execute(&format!(
        "INSERT INTO {table} SELECT {}, '0009_forged', {}, {}, {}, {}, {}, {}, {}, {}, {}, {} FROM {table} WHERE {} = '0002_post'",
        q("app"),
        q("seq"),
        q("applied_at"),
        q("checksum"),
        q("execution_time_ms"),
        q("status"),
        q("progress"),
        q("error"),
        q("applied_by"),
        q("chain_hash"),
        q("progress_checksum"),
        q("id"),
    ))
    .await;
        db.execute(&format!(
            "UPDATE {log} SET {} = 'mallory@evil' WHERE {} = 2",
            q("by"),
            q("seq")
        ))
        .await;
        let found = problems(&mut exec).await;
        assert!(
            found.contains(&HistoryProblem::RowNotInLog {
                key: key("0009_forged")
            }),
            "{found:?}"
        );
        assert!(
            found.contains(&HistoryProblem::EntryAltered {
                seq: 2,
                key: key("0002_post"),
                action: "apply".into()
            }),
            "{found:?}"
        );

        // A deleted log entry.
        db.execute(&format!("DELETE FROM {log} WHERE {} = 1", q("seq")))
            .await;
        let found = problems(&mut exec).await;
        assert!(
            found.contains(&HistoryProblem::EntriesMissing {
                seq: 2,
                expected: 1
            }),
            "{found:?}"
        );
    }
);

matrix_test!(repairs_are_recorded_and_checked, |db| async move {
    let db: TestDb = db;
    let (_p, g) = project();
    let mut exec = db.executor().await;
    // A DBA runs the SQL of 0001 and 0002 by hand; repair records them.
    let by_hand = exec
        .plan_apply(&g, Some(&key("0002_post")))
        .await
        .expect("plan");
    for statement in by_hand
        .iter()
        .flat_map(|m| &m.steps)
        .flat_map(|s| &s.statements)
    {
        db.execute(statement).await;
    }
    let outcome = exec
        .repair(&g, &key("0002_post"), Repair::MarkApplied, None)
        .await;
    assert!(
        outcome
            .unwrap_err()
            .to_string()
            .contains("`0002_post` depends on 0001_initial"),
        "dependencies must be recorded first"
    );
    for id in ["0001_initial", "0002_post"] {
        let done = exec
            .repair(
                &g,
                &key(id),
                Repair::MarkApplied,
                Some("restored from backup"),
            )
            .await
            .expect("repair");
        let RepairOutcome::Recorded(entry) = done else {
            panic!("{done:?}")
        };
        assert_eq!(entry.action, Some(LogAction::MarkApplied));
        assert_eq!(
            entry.note.as_deref(),
            Some("marked applied by hand; reason: restored from backup")
        );
    }
    assert!(matches!(
        exec.repair(&g, &key("0001_initial"), Repair::MarkApplied, None)
            .await
            .expect("repair"),
        RepairOutcome::Unchanged(_)
    ));
    // Apply continues after the repaired migrations.
    apply(&mut exec, &g, false).await;
    assert_eq!(exec.history().await.expect("history").len(), 3);

    // A dependent applied migration blocks marking its dependency rolled back.
    let err = exec
        .repair(&g, &key("0002_post"), Repair::MarkRolledBack, None)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("`0003_add_user_email` depends on"), "{err}");
    exec.repair(
        &g,
        &key("0003_add_user_email"),
        Repair::MarkRolledBack,
        None,
    )
    .await
    .expect("repair");
    assert_eq!(exec.history().await.expect("history").len(), 2);
    assert_eq!(problems(&mut exec).await, vec![]);
    let log = exec.log().await.expect("log").expect("a log");
    assert_eq!(
        actions(&log),
        pairs(&[
            ("mark_applied", "0001_initial"),
            ("mark_applied", "0002_post"),
            ("apply", "0003_add_user_email"),
            ("mark_rolled_back", "0003_add_user_email"),
        ])
    );
});

matrix_test!(
    an_edited_applied_file_is_re_recorded_by_repair,
    |db| async move {
        let db: TestDb = db;
        let (p, g) = project();
        let mut exec = db.executor().await;
        apply(&mut exec, &g, false).await;
        // Make an applied migration non-atomic (fixed by hand in the database, say): its
        // checksum changes.
        let path = p.paths().migrations.join("0002_post.toml");
        let text = std::fs::read_to_string(&path).expect("read");
        std::fs::write(
            &path,
            text.replacen("format = 1", "atomic = false\nformat = 1", 1),
        )
        .expect("write");
        let edited = p.graph();
        let err = exec
            .plan_apply(&edited, None)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("differs from what was applied"), "{err}");
        let RepairOutcome::Recorded(entry) = exec
            .repair(
                &edited,
                &key("0002_post"),
                Repair::MarkApplied,
                Some("made non-atomic"),
            )
            .await
            .expect("repair")
        else {
            panic!("recorded")
        };
        assert!(
            entry
                .note
                .as_deref()
                .is_some_and(|n| n.starts_with("checksum re-recorded")),
            "{entry:?}"
        );
        assert!(
            exec.plan_apply(&edited, None)
                .await
                .expect("plan")
                .is_empty()
        );
        assert_eq!(problems(&mut exec).await, vec![]);
    }
);

matrix_test!(
    a_history_from_before_the_log_is_taken_over,
    |db| async move {
        let db: TestDb = db;
        let p = Project::new();
        p.make(vec![user()]);
        p.make(vec![user(), post()]);
        let mut exec = db.executor().await;
        apply(&mut exec, &p.graph(), false).await;
        let q = |s: &str| chakra::dialect::quote_ident(db.engine.dialect(), s);
        db.execute(&format!(
            "DROP TABLE {}",
            q(&log_table_name("_chakra_migrations"))
        ))
        .await;
        assert_eq!(
            problems(&mut exec).await,
            vec![HistoryProblem::NoLog { rows: 2 }]
        );
        p.make(vec![with_email(user()), post()]);
        apply(&mut exec, &p.graph(), false).await;
        let log = exec.log().await.expect("log").expect("a log");
        assert_eq!(
            actions(&log),
            pairs(&[
                ("import", "0001_initial"),
                ("import", "0002_post"),
                ("apply", "0003_add_user_email"),
            ])
        );
        assert_eq!(problems(&mut exec).await, vec![]);
    }
);
