//! Squashed migrations on every database: a fresh database applies the squash alone; one that
//! applied the replaced migrations keeps working, before and after their files are deleted; one
//! that applied only some of them finishes them.

use chakra::executor::{Event, Executor, ExecutorError, file_problems};
use chakra::graph::Graph;
use chakra::plan::RollbackTarget;
use chakra::squash::{SquashOptions, squash};
use chakra::state::{FieldType, ModelState};
use chakra_tests::fixtures::{Project, field, key, nullable, post, user, with_email};
use chakra_tests::{TestDb, matrix_test};

const INITIAL: &str = "0001_initial";
const EMAIL: &str = "0002_add_user_email";
const POST: &str = "0003_post";
const SQUASH: &str = "0001_squashed_0003_post";

/// A project with three migrations: users, their email, posts.
fn project() -> Project {
    let p = Project::new();
    assert_eq!(p.make(vec![user()]), [INITIAL]);
    assert_eq!(p.make(vec![with_email(user())]), [EMAIL]);
    assert_eq!(p.make(vec![with_email(user()), post()]), [POST]);
    p
}

/// Squashes 0001..0003 of `p`.
fn squash_all(p: &Project) {
    let out = squash(&p.paths(), "default", None, POST, &SquashOptions::default()).expect("squash");
    assert_eq!(out.migration.migration.id, SQUASH);
    assert_eq!(out.squashed.len(), 3);
}

/// The models after a fourth migration: posts get a `title`.
fn with_title() -> Vec<ModelState> {
    let mut p = post();
    p.fields.push(nullable(field("title", FieldType::Text)));
    vec![with_email(user()), p]
}

/// Applies everything (or up to `target`) and returns the ids that ran.
async fn apply_to(
    exec: &mut Executor,
    graph: &Graph,
    target: Option<&str>,
) -> Result<Vec<String>, ExecutorError> {
    let mut ran = Vec::new();
    let target = target.map(key);
    exec.apply(graph, target.as_ref(), false, &mut |e| {
        if let Event::Finished { key, .. } = e {
            ran.push(key.id);
        }
    })
    .await?;
    Ok(ran)
}

async fn apply(exec: &mut Executor, graph: &Graph) -> Vec<String> {
    apply_to(exec, graph, None).await.expect("apply")
}

async fn rollback(exec: &mut Executor, graph: &Graph, count: usize) -> Vec<String> {
    let mut undone = Vec::new();
    exec.rollback(graph, &RollbackTarget::Count(count), false, &mut |e| {
        if let Event::Finished { key, .. } = e {
            undone.push(key.id);
        }
    })
    .await
    .expect("rollback");
    undone
}

/// The ids in the history, in the order they were applied.
async fn history(exec: &mut Executor) -> Vec<String> {
    exec.history()
        .await
        .expect("history")
        .into_iter()
        .map(|r| r.key.id)
        .collect()
}

fn remove_originals(p: &Project) {
    let dir = p.paths().migrations;
    for id in [INITIAL, EMAIL, POST] {
        std::fs::remove_file(dir.join(format!("{id}.toml"))).expect("remove");
    }
    let graph = p.graph();
    chakra::sum::write(&dir, &chakra::sum::entries(graph.files())).expect("sum");
}

matrix_test!(
    squash_a_fresh_database_applies_the_squash_only,
    |db| async move {
        let p = project();
        squash_all(&p);
        let graph = p.graph();
        let mut exec = db.executor().await;
        assert_eq!(apply(&mut exec, &graph).await, [SQUASH]);
        assert_eq!(history(&mut exec).await, [SQUASH]);
        assert_eq!(db.tables().await, ["posts", "users"]);
        db.execute("INSERT INTO users (username, email) VALUES ('ann', 'ann@example.com')")
            .await;

        // A migration made after the squash follows it, numbered after what it replaces.
        assert_eq!(p.make(with_title()), ["0004_add_post_title"]);
        let graph = p.graph();
        assert_eq!(
            graph.dependencies(&key("0004_add_post_title")),
            [key(SQUASH)]
        );
        assert_eq!(apply(&mut exec, &graph).await, ["0004_add_post_title"]);
        assert_eq!(
            rollback(&mut exec, &graph, 2).await,
            ["0004_add_post_title", SQUASH]
        );
        assert!(history(&mut exec).await.is_empty());
        assert!(db.tables().await.is_empty(), "{:?}", db.tables().await);
    }
);

matrix_test!(
    squash_a_database_that_applied_the_originals_keeps_working,
    |db| async move {
        let p = project();
        let mut exec = db.executor().await;
        assert_eq!(apply(&mut exec, &p.graph()).await, [INITIAL, EMAIL, POST]);

        squash_all(&p);
        let graph = p.graph();
        // The squash counts as applied: nothing runs, nothing is recorded.
        assert_eq!(apply(&mut exec, &graph).await, Vec::<String>::new());
        assert_eq!(history(&mut exec).await, [INITIAL, EMAIL, POST]);
        assert_eq!(file_problems(&graph, &exec.history().await.expect("h")), []);

        // New migrations after the squash apply.
        assert_eq!(p.make(with_title()), ["0004_add_post_title"]);
        let graph = p.graph();
        assert_eq!(apply(&mut exec, &graph).await, ["0004_add_post_title"]);

        // Rolling back past the squash undoes it and removes the originals' rows.
        assert_eq!(
            rollback(&mut exec, &graph, 2).await,
            ["0004_add_post_title", SQUASH]
        );
        assert!(
            history(&mut exec).await.is_empty(),
            "{:?}",
            history(&mut exec).await
        );
        assert!(db.tables().await.is_empty(), "{:?}", db.tables().await);

        // From there on the database is a fresh one: the squash applies.
        assert_eq!(
            apply(&mut exec, &graph).await,
            [SQUASH, "0004_add_post_title"]
        );
        assert_eq!(db.tables().await, ["posts", "users"]);
    }
);

matrix_test!(
    squash_a_partly_applied_range_continues_with_the_originals,
    |db| async move {
        let p = project();
        let mut exec = db.executor().await;
        assert_eq!(
            apply_to(&mut exec, &p.graph(), Some(INITIAL))
                .await
                .expect("apply"),
            [INITIAL]
        );

        squash_all(&p);
        assert_eq!(p.make(with_title()), ["0004_add_post_title"]);
        let graph = p.graph();
        // Naming the squash makes no sense here; naming a replaced migration does.
        let err = apply_to(&mut exec, &graph, Some(SQUASH)).await.unwrap_err();
        assert!(
            err.to_string().contains("applied only part of what"),
            "{err}"
        );
        assert_eq!(
            apply_to(&mut exec, &graph, Some(EMAIL))
                .await
                .expect("apply"),
            [EMAIL]
        );
        assert_eq!(
            apply(&mut exec, &graph).await,
            [POST, "0004_add_post_title"]
        );
        assert_eq!(
            history(&mut exec).await,
            [INITIAL, EMAIL, POST, "0004_add_post_title"]
        );
        assert_eq!(apply(&mut exec, &graph).await, Vec::<String>::new());
        // Now that every replaced migration is applied, the squash stands for them.
        assert_eq!(
            rollback(&mut exec, &graph, 2).await,
            ["0004_add_post_title", SQUASH]
        );
        assert!(history(&mut exec).await.is_empty());
    }
);

matrix_test!(
    squash_the_originals_deleted_after_every_database_applied_them,
    |db| async move {
        let p = project();
        let mut old = db.executor().await;
        assert_eq!(apply(&mut old, &p.graph()).await, [INITIAL, EMAIL, POST]);
        squash_all(&p);
        assert_eq!(apply(&mut old, &p.graph()).await, Vec::<String>::new());

        remove_originals(&p);
        let graph = p.graph();
        assert_eq!(graph.order(), [key(SQUASH)]);
        // The old database's rows name files that are gone: the squash stands for them.
        let rows = old.history().await.expect("history");
        assert_eq!(file_problems(&graph, &rows), []);
        assert_eq!(apply(&mut old, &graph).await, Vec::<String>::new());

        assert_eq!(p.make(with_title()), ["0004_add_post_title"]);
        let graph = p.graph();
        assert_eq!(apply(&mut old, &graph).await, ["0004_add_post_title"]);
        assert_eq!(rollback(&mut old, &graph, 1).await, ["0004_add_post_title"]);
        assert_eq!(history(&mut old).await, [INITIAL, EMAIL, POST]);
        assert_eq!(rollback(&mut old, &graph, 1).await, [SQUASH]);
        assert!(history(&mut old).await.is_empty());
        assert!(db.tables().await.is_empty(), "{:?}", db.tables().await);
        assert_eq!(
            apply(&mut old, &graph).await,
            [SQUASH, "0004_add_post_title"]
        );
    }
);

matrix_test!(
    squash_a_squash_of_a_squash_serves_every_earlier_database,
    |db| async move {
        // Three databases on one server: `old` applied the original migrations, `middle` the
        // first squash, and a fresh one.
        let p = project();
        let mut old = db.executor().await;
        assert_eq!(apply(&mut old, &p.graph()).await, [INITIAL, EMAIL, POST]);
        squash_all(&p);
        remove_originals(&p);
        assert_eq!(p.make(with_title()), ["0004_add_post_title"]);
        assert_eq!(apply(&mut old, &p.graph()).await, ["0004_add_post_title"]);
        let middle_db = TestDb::new(db.engine).await.expect("a second database");
        let mut middle = middle_db.executor().await;
        assert_eq!(
            apply(&mut middle, &p.graph()).await,
            [SQUASH, "0004_add_post_title"]
        );

        let out = squash(
            &p.paths(),
            "default",
            None,
            "0004",
            &SquashOptions::default(),
        )
        .expect("squash again");
        let again = out.migration.migration.id.clone();
        assert_eq!(again, "0001_squashed_0004_add_post_title");
        // Every database goes on with it, before and after the files it replaces are gone.
        for round in 0..2 {
            let graph = p.graph();
            assert_eq!(graph.order(), [key(&again)], "round {round}");
            for exec in [&mut old, &mut middle] {
                assert_eq!(apply(exec, &graph).await, Vec::<String>::new());
                let rows = exec.history().await.expect("history");
                assert_eq!(file_problems(&graph, &rows), []);
            }
            if round == 0 {
                let dir = p.paths().migrations;
                for id in [SQUASH, "0004_add_post_title"] {
                    std::fs::remove_file(dir.join(format!("{id}.toml"))).expect("remove");
                }
                chakra::sum::write(&dir, &chakra::sum::entries(p.graph().files())).expect("sum");
            }
        }
        let graph = p.graph();
        for exec in [&mut old, &mut middle] {
            assert_eq!(
                rollback(exec, &graph, 1).await,
                std::slice::from_ref(&again)
            );
            assert!(history(exec).await.is_empty());
        }
        assert!(db.tables().await.is_empty(), "{:?}", db.tables().await);
        let fresh_db = TestDb::new(db.engine).await.expect("a third database");
        let mut fresh = fresh_db.executor().await;
        assert_eq!(
            apply(&mut fresh, &graph).await,
            std::slice::from_ref(&again)
        );
        assert_eq!(fresh_db.tables().await, ["posts", "users"]);
    }
);

#[test]
fn squash_partly_applied_originals_that_are_gone_are_explained() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let db = TestDb::new(chakra_tests::Engine::Sqlite)
            .await
            .expect("sqlite");
        let p = project();
        let mut exec = db.executor().await;
        apply_to(&mut exec, &p.graph(), Some(INITIAL))
            .await
            .expect("apply");
        squash_all(&p);
        remove_originals(&p);
        let err = apply_to(&mut exec, &p.graph(), None).await.unwrap_err();
        let text = err.to_string();
        assert!(text.contains(SQUASH), "{text}");
        assert!(text.contains("Restore them from version control"), "{text}");
        assert_eq!(history(&mut exec).await, [INITIAL]);
    });
}
