//! Foreign keys that form a cycle across apps: `make` creates one app's model without its
//! cyclic key, the other apps' models after it, and adds the key in a second migration of the
//! first app. The result applies and rolls back on every database.

use chakra::executor::Executor;
use chakra::graph::Graph;
use chakra::make::{MakeOptions, make};
use chakra::plan::RollbackTarget;
use chakra::state::{FieldState, ForeignKey, ModelState, OnAction};
use chakra_tests::fixtures::{Project, fk, model, nullable, pk, state, varchar};
use chakra_tests::{Engine, TestDb, matrix_test};

/// `m` in app `app`.
fn in_app(app: &str, m: ModelState) -> ModelState {
    ModelState {
        app: app.into(),
        ..m
    }
}

/// A nullable key `name` to the `id` of `app.model` (table `table`).
fn key_to(name: &str, app: &str, model: &str, table: &str) -> FieldState {
    let mut f = nullable(fk(name, model, table, OnAction::SetNull));
    f.foreign_key = Some(ForeignKey {
        app: app.into(),
        ..f.foreign_key.expect("a foreign key")
    });
    f
}

/// Makes the migrations of `models` in a new project; returns the project (which keeps the
/// files), the graph and the migrations as `app/id <- [dependencies]`.
fn make_project(models: Vec<ModelState>) -> (Project, Graph, Vec<String>) {
    let project = Project::new();
    let made = make(&project.paths(), &state(models), &MakeOptions::default())
        .expect("make")
        .migrations;
    let lines = made
        .iter()
        .map(|m| {
            let h = &m.migration.migration;
            format!("{}/{} <- [{}]", h.app, h.id, h.dependencies.join(", "))
        })
        .collect();
    let graph = project.graph();
    (project, graph, lines)
}

/// The tables the foreign keys of `table` reference, sorted.
async fn referenced_tables(db: &TestDb, table: &str) -> Vec<String> {
    let sql = match db.engine {
        Engine::Sqlite => {
            format!("SELECT \"table\" FROM pragma_foreign_key_list('{table}') ORDER BY 1")
        }
        Engine::Postgres => format!(
            "SELECT ccu.table_name::text FROM information_schema.table_constraints tc \
             JOIN information_schema.constraint_column_usage ccu \
             ON ccu.constraint_name = tc.constraint_name AND ccu.constraint_schema = tc.constraint_schema \
             WHERE tc.table_schema = 'public' AND tc.table_name = '{table}' AND tc.constraint_type = 'FOREIGN KEY' ORDER BY 1"
        ),
        Engine::Mysql => format!(
            "SELECT CAST(referenced_table_name AS CHAR) FROM information_schema.referential_constraints \
             WHERE constraint_schema = DATABASE() AND table_name = '{table}' ORDER BY 1"
        ),
    };
    db.rows(&sql)
        .await
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .collect()
}

/// The tables of the models, without Chakra's own (history, log).
async fn tables(db: &TestDb) -> Vec<String> {
    let mut tables = db.tables().await;
    tables.retain(|t| !t.starts_with("_chakra"));
    tables
}

async fn apply(exec: &mut Executor, graph: &Graph) {
    exec.apply(graph, None, false, &mut |_| {})
        .await
        .expect("apply");
}

async fn rollback_to_zero(db: &TestDb, exec: &mut Executor, graph: &Graph) {
    exec.rollback(graph, &RollbackTarget::Zero(None), false, &mut |_| {})
        .await
        .expect("rollback");
    assert!(tables(db).await.is_empty(), "{:?}", tables(db).await);
    assert!(exec.history().await.expect("history").is_empty());
}

/// Authors (app `people`) have a favourite book; books (app `library`) have an author.
fn authors_and_books() -> Vec<ModelState> {
    vec![
        in_app(
            "people",
            model(
                "Author",
                "authors",
                vec![
                    pk(),
                    varchar("name", 100),
                    key_to("favorite_book_id", "library", "Book", "books"),
                ],
            ),
        ),
        in_app(
            "library",
            model(
                "Book",
                "books",
                vec![
                    pk(),
                    varchar("title", 100),
                    key_to("author_id", "people", "Author", "authors"),
                ],
            ),
        ),
    ]
}

matrix_test!(
    a_cycle_across_two_apps_applies_and_rolls_back,
    |db| async move {
        let (_project, graph, made) = make_project(authors_and_books());
        // `library` comes first by name: Book is created without its key to Author.
        assert_eq!(
            made,
            [
                "library/0001_initial <- []",
                "people/0001_initial <- [library/0001_initial]",
                "library/0002_add_book_author_id <- [0001_initial, people/0001_initial]",
            ]
        );
        let mut exec = db.executor().await;
        apply(&mut exec, &graph).await;
        assert_eq!(tables(&db).await, ["authors", "books"]);
        assert_eq!(referenced_tables(&db, "authors").await, ["books"]);
        assert_eq!(referenced_tables(&db, "books").await, ["authors"]);

        // Both keys work: rows that reference each other.
        db.execute("INSERT INTO books (title) VALUES ('Dune')")
            .await;
        db.execute("INSERT INTO authors (name, favorite_book_id) VALUES ('Frank', 1)")
            .await;
        db.execute("UPDATE books SET author_id = 1").await;
        assert_eq!(
            db.count("SELECT COUNT(*) FROM books b JOIN authors a ON a.id = b.author_id AND a.favorite_book_id = b.id")
                .await,
            1
        );
        assert!(
            db.try_execute("UPDATE books SET author_id = 99")
                .await
                .is_err(),
            "the key from books to authors is enforced"
        );

        rollback_to_zero(&db, &mut exec, &graph).await;
        apply(&mut exec, &graph).await;
        assert_eq!(exec.history().await.expect("history").len(), 3);
        rollback_to_zero(&db, &mut exec, &graph).await;
    }
);

matrix_test!(
    a_cycle_across_three_apps_applies_and_rolls_back,
    |db| async move {
        let models = vec![
            in_app(
                "a",
                model(
                    "A",
                    "a_items",
                    vec![pk(), key_to("b_id", "b", "B", "b_items")],
                ),
            ),
            in_app(
                "b",
                model(
                    "B",
                    "b_items",
                    vec![pk(), key_to("c_id", "c", "C", "c_items")],
                ),
            ),
            in_app(
                "c",
                model(
                    "C",
                    "c_items",
                    vec![
                        pk(),
                        key_to("a_id", "a", "A", "a_items"),
                        key_to("parent_id", "c", "C", "c_items"),
                    ],
                ),
            ),
        ];
        let (_project, graph, made) = make_project(models);
        assert_eq!(
            made,
            [
                "a/0001_initial <- []",
                "c/0001_initial <- [a/0001_initial]",
                "b/0001_initial <- [c/0001_initial]",
                "a/0002_add_a_b_id <- [0001_initial, b/0001_initial]",
            ]
        );
        let mut exec = db.executor().await;
        apply(&mut exec, &graph).await;
        assert_eq!(tables(&db).await, ["a_items", "b_items", "c_items"]);
        assert_eq!(referenced_tables(&db, "a_items").await, ["b_items"]);
        assert_eq!(referenced_tables(&db, "b_items").await, ["c_items"]);
        assert_eq!(
            referenced_tables(&db, "c_items").await,
            ["a_items", "c_items"]
        );
        rollback_to_zero(&db, &mut exec, &graph).await;
    }
);
