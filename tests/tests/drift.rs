//! `migrate drift` on every database: a database migrated by Chakra has no drift (every field
//! type, defaults and `db_default`s, foreign keys with their rules, indexes, UNIQUE fields,
//! `unique_together`, CHECKs; through alterations, renames and rollbacks), and changes made
//! by hand are each reported: an extra table, a dropped and an added column, a changed type,
//! nullability and default, a dropped and an extra index, a dropped foreign key, CHECK and
//! UNIQUE constraint. SQLite cannot alter a column or drop a constraint in place, so there
//! those changes are made the way a person would: by rebuilding the table by hand.

use std::collections::BTreeSet;

use chakra::autodetect::{Hints, NoInput};
use chakra::drift::{Aspect, Change, Difference, Object};
use chakra::executor::{DEFAULT_TABLE, Executor};
use chakra::graph::Graph;
use chakra::make::{MakeOptions, Paths, load_graph, make_with};
use chakra::plan::RollbackTarget;
use chakra::state::{
    ConstraintKind, ConstraintState, DefaultValue, FieldState, FieldType, ForeignKey, IndexState,
    ModelState, OnAction, ProjectState, unique_together_name,
};
use chakra_tests::fixtures::{Project, field, fk, model, nullable, pk, varchar};
use chakra_tests::{Engine, TestDb, matrix_test};

async fn drift(exec: &mut Executor, graph: &Graph) -> Vec<Difference> {
    chakra::drift::check(exec, graph, DEFAULT_TABLE)
        .await
        .expect("drift")
        .differences
}

/// No difference, or a failure listing them.
async fn assert_no_drift(db: &TestDb, exec: &mut Executor, graph: &Graph, when: &str) {
    let differences = drift(exec, graph).await;
    assert!(
        differences.is_empty(),
        "{:?} {when}: drift on a database only Chakra migrated:\n{}",
        db.engine,
        differences
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
}

fn with<F: FnOnce(&mut FieldState)>(mut f: FieldState, change: F) -> FieldState {
    change(&mut f);
    f
}

fn check(name: &str, expr: &str) -> ConstraintState {
    ConstraintState {
        name: name.into(),
        kind: ConstraintKind::Check { expr: expr.into() },
    }
}

fn index(name: &str, fields: &[&str], unique: bool) -> IndexState {
    IndexState {
        name: name.into(),
        fields: fields.iter().map(|f| (*f).to_owned()).collect(),
        unique,
    }
}

fn users() -> ModelState {
    model(
        "User",
        "users",
        vec![
            pk(),
            with(varchar("username", 50), |f| f.unique = true),
            nullable(varchar("email", 255)),
            with(field("is_active", FieldType::Boolean), |f| {
                f.default = Some(DefaultValue::Bool(true));
            }),
            with(field("created_at", FieldType::DateTime), |f| {
                f.db_default = Some("CURRENT_TIMESTAMP".into());
            }),
        ],
    )
}

/// Every field type, with literal defaults and `db_default`s, three foreign keys with
/// different rules, indexes, a `unique_together` and CHECKs.
fn things() -> ModelState {
    let default = |f: FieldState, v: DefaultValue| with(f, |f| f.default = Some(v));
    let mut m = model(
        "Thing",
        "things",
        vec![
            pk(),
            default(
                field("n_small", FieldType::SmallInteger),
                DefaultValue::Int(-3),
            ),
            default(field("n_int", FieldType::Integer), DefaultValue::Int(0)),
            nullable(field("n_big", FieldType::BigInteger)),
            default(field("n_float", FieldType::Float), DefaultValue::Float(1.5)),
            default(
                field("n_double", FieldType::Double),
                DefaultValue::Float(2.25),
            ),
            default(field("flag", FieldType::Boolean), DefaultValue::Bool(false)),
            default(varchar("name", 40), DefaultValue::Str("it's".into())),
            default(
                field("free", FieldType::String),
                DefaultValue::Str("x".into()),
            ),
            nullable(field("body", FieldType::Text)),
            with(nullable(varchar("label", 30)), |f| {
                f.column = Some("label_text".into());
            }),
            with(field("at", FieldType::DateTime), |f| {
                f.db_default = Some("CURRENT_TIMESTAMP".into());
            }),
            default(
                field("stamp", FieldType::Timestamp),
                DefaultValue::Str("2020-01-01 10:00:00".into()),
            ),
            default(
                field("day", FieldType::Date),
                DefaultValue::Str("2020-01-01".into()),
            ),
            nullable(field("clock", FieldType::Time)),
            nullable(field("uid", FieldType::Uuid)),
            default(
                nullable(field("data", FieldType::Json)),
                DefaultValue::Str("{\"a\": 1, \"b\": [true]}".into()),
            ),
            nullable(field("blob", FieldType::Binary)),
            with(field("price", FieldType::Decimal), |f| {
                f.precision = Some(10);
                f.scale = Some(2);
                f.default = Some(DefaultValue::Float(1.5));
            }),
            with(nullable(field("amount", FieldType::Decimal)), |f| {
                f.precision = Some(12);
            }),
            nullable(field("any_num", FieldType::Decimal)),
            with(varchar("lower_name", 20), |f| {
                f.db_default = Some("lower('X')".into());
            }),
            nullable(fk("owner_id", "User", "users", OnAction::SetNull)),
            fk("creator_id", "User", "users", OnAction::Cascade),
            with(
                nullable(fk("reviewer_id", "User", "users", OnAction::Restrict)),
                |f| {
                    if let Some(k) = &mut f.foreign_key {
                        k.on_update = OnAction::Cascade;
                    }
                },
            ),
        ],
    );
    m.indexes = vec![
        index("things_at_idx", &["at"], false),
        index("things_label_idx", &["label"], true),
        index("things_name_idx", &["name"], false),
        index("things_small_big_idx", &["n_small", "n_big"], true),
    ];
    let mut constraints = vec![
        ConstraintState {
            name: unique_together_name("things", &["n_int", "name"]),
            kind: ConstraintKind::Unique {
                fields: vec!["n_int".into(), "name".into()],
            },
        },
        check("things_name_not_empty", "name <> ''"),
        check("things_price_positive", "price > 0 AND n_int IN (0, 1, 2)"),
    ];
    constraints.sort_by(|a, b| a.name.cmp(&b.name));
    m.constraints = constraints;
    m
}

fn notes() -> ModelState {
    let mut m = model(
        "Note",
        "notes",
        vec![
            pk(),
            fk("user_id", "User", "users", OnAction::Cascade),
            varchar("title", 100),
            with(field("score", FieldType::Integer), |f| {
                f.default = Some(DefaultValue::Int(0));
            }),
            with(field("prio", FieldType::Integer), |f| {
                f.default = Some(DefaultValue::Int(1));
            }),
        ],
    );
    m.constraints = vec![check("notes_score_non_negative", "score >= 0")];
    m
}

/// `(table, change, object, name, aspect)` of each difference.
type Key = (String, Change, Object, Option<String>, Option<Aspect>);

fn key(d: &Difference) -> Key {
    (
        d.table.clone(),
        d.change,
        d.object,
        d.name.clone(),
        d.aspect,
    )
}

fn k(
    table: &str,
    change: Change,
    object: Object,
    name: Option<&str>,
    aspect: Option<Aspect>,
) -> Key {
    (
        table.into(),
        change,
        object,
        name.map(str::to_owned),
        aspect,
    )
}

/// The hand-made changes, in each database's SQL.
fn hand_changes(engine: Engine) -> &'static str {
    match engine {
        Engine::Postgres => {
            "CREATE TABLE extra_t (id INTEGER);
             ALTER TABLE things DROP COLUMN body;
             ALTER TABLE things ADD COLUMN note INTEGER;
             DROP INDEX things_name_idx;
             CREATE INDEX things_extra_idx ON things (n_int);
             ALTER TABLE notes DROP CONSTRAINT notes_user_id_fkey;
             ALTER TABLE notes DROP CONSTRAINT notes_score_non_negative;
             ALTER TABLE notes ALTER COLUMN score TYPE BIGINT;
             ALTER TABLE notes ALTER COLUMN title DROP NOT NULL;
             ALTER TABLE notes ALTER COLUMN prio SET DEFAULT 2;
             ALTER TABLE users DROP CONSTRAINT users_username_key"
        }
        Engine::Mysql => {
            "CREATE TABLE extra_t (id INT);
             ALTER TABLE things DROP COLUMN body;
             ALTER TABLE things ADD COLUMN note INT;
             DROP INDEX things_name_idx ON things;
             CREATE INDEX things_extra_idx ON things (n_int);
             ALTER TABLE notes DROP FOREIGN KEY notes_user_id_fkey;
             ALTER TABLE notes DROP CONSTRAINT notes_score_non_negative;
             ALTER TABLE notes MODIFY score BIGINT NOT NULL DEFAULT 0;
             ALTER TABLE notes MODIFY title VARCHAR(100) NULL;
             ALTER TABLE notes ALTER COLUMN prio SET DEFAULT 2;
             DROP INDEX users_username_key ON users"
        }
        // What ALTER TABLE cannot do is a table rebuilt by hand (foreign keys off while the
        // referenced `users` is replaced).
        Engine::Sqlite => {
            "PRAGMA foreign_keys = OFF;
             CREATE TABLE extra_t (id INTEGER);
             ALTER TABLE things DROP COLUMN body;
             ALTER TABLE things ADD COLUMN note INTEGER;
             DROP INDEX things_name_idx;
             CREATE INDEX things_extra_idx ON things (n_int);
             CREATE TABLE \"notes_new\" (\"id\" INTEGER PRIMARY KEY AUTOINCREMENT, \"user_id\" INTEGER NOT NULL, \
                 \"title\" VARCHAR(100), \"score\" BIGINT NOT NULL DEFAULT 0, \"prio\" INTEGER NOT NULL DEFAULT 2);
             INSERT INTO notes_new SELECT id, user_id, title, score, prio FROM notes;
             DROP TABLE notes;
             ALTER TABLE notes_new RENAME TO notes;
             CREATE TABLE \"users_new\" (\"id\" INTEGER PRIMARY KEY AUTOINCREMENT, \"username\" VARCHAR(50) NOT NULL, \
                 \"email\" VARCHAR(255), \"is_active\" BOOLEAN NOT NULL DEFAULT 1, \
                 \"created_at\" TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP);
             INSERT INTO users_new SELECT id, username, email, is_active, created_at FROM users;
             DROP TABLE users;
             ALTER TABLE users_new RENAME TO users"
        }
    }
}

matrix_test!(
    every_object_matches_and_hand_changes_are_reported,
    |db| async move {
        let project = Project::new();
        project.make(vec![users(), things(), notes()]);
        let graph = project.graph();
        let mut exec = db.executor().await;
        // Before anything is applied: the history is empty and so is the database.
        assert_no_drift(&db, &mut exec, &graph, "before apply").await;
        exec.apply(&graph, None, false, &mut |_| {})
            .await
            .expect("apply");
        assert_no_drift(&db, &mut exec, &graph, "after apply").await;
        let report = chakra::drift::check(&mut exec, &graph, DEFAULT_TABLE)
            .await
            .expect("drift");
        assert_eq!((report.applied, report.pending), (graph.len(), 0));
        db.execute("INSERT INTO users (username) VALUES ('ann')")
            .await;
        db.execute("INSERT INTO notes (user_id, title) VALUES (1, 'hello')")
            .await;

        db.execute(hand_changes(db.engine)).await;
        let differences = drift(&mut exec, &graph).await;
        let found: BTreeSet<Key> = differences.iter().map(key).collect();
        let unique_key = if db.engine == Engine::Mysql {
            Object::Index
        } else {
            Object::Unique
        };
        let expected: BTreeSet<Key> = [
            k("extra_t", Change::Extra, Object::Table, None, None),
            k(
                "things",
                Change::Missing,
                Object::Column,
                Some("body"),
                None,
            ),
            k("things", Change::Extra, Object::Column, Some("note"), None),
            k(
                "things",
                Change::Missing,
                Object::Index,
                Some("things_name_idx"),
                None,
            ),
            k(
                "things",
                Change::Extra,
                Object::Index,
                Some("things_extra_idx"),
                None,
            ),
            k(
                "notes",
                Change::Changed,
                Object::Column,
                Some("score"),
                Some(Aspect::Type),
            ),
            k(
                "notes",
                Change::Changed,
                Object::Column,
                Some("title"),
                Some(Aspect::Nullable),
            ),
            k(
                "notes",
                Change::Changed,
                Object::Column,
                Some("prio"),
                Some(Aspect::Default),
            ),
            k(
                "notes",
                Change::Missing,
                Object::ForeignKey,
                Some("notes_user_id_fkey"),
                None,
            ),
            k(
                "notes",
                Change::Missing,
                Object::Check,
                Some("notes_score_non_negative"),
                None,
            ),
            k(
                "users",
                Change::Missing,
                unique_key,
                Some("users_username_key"),
                None,
            ),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            found,
            expected,
            "{:?}:\n{}",
            db.engine,
            differences
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        );
        let score = differences
            .iter()
            .find(|d| d.name.as_deref() == Some("score"))
            .expect("score");
        let (expected_type, found_type) = match db.engine {
            Engine::Postgres => ("INTEGER", "bigint"),
            Engine::Mysql => ("INT", "bigint"),
            Engine::Sqlite => ("INTEGER", "BIGINT"),
        };
        assert_eq!(score.expected.as_deref(), Some(expected_type));
        assert!(
            score
                .found
                .as_deref()
                .is_some_and(|f| f.starts_with(found_type)),
            "{score}"
        );
        let nullability = differences
            .iter()
            .find(|d| d.aspect == Some(Aspect::Nullable))
            .expect("nullability");
        assert_eq!(
            nullability.to_string(),
            "notes: ~ column title: nullability expected NOT NULL, found NULL"
        );
    }
);

fn id() -> FieldState {
    pk()
}

/// A step of [`no_drift_through_alterations_renames_and_rollbacks`]: the schema and its
/// rename hints.
fn step(n: usize) -> (ProjectState, Hints) {
    let mut hints = Hints::default();
    let (writer, writers, slug, slug_index) = if n >= 3 {
        ("Writer", "writers", "handle", "posts_handle_idx")
    } else {
        ("User", "users", "slug", "posts_slug_idx")
    };
    if n == 3 {
        hints
            .models
            .insert(("default".into(), "Writer".into()), "User".into());
        hints.fields.insert(
            (("default".into(), "Post".into()), "handle".into()),
            "slug".into(),
        );
    }
    let mut user_fields = vec![
        id(),
        with(varchar("login", 40), |f| f.unique = n < 5),
        nullable(varchar("email", 255)),
    ];
    if n >= 2 {
        user_fields[2].unique = true;
    }
    let user = model(writer, writers, user_fields);
    let author = ForeignKey {
        app: "default".into(),
        model: writer.into(),
        table: writers.into(),
        column: "id".into(),
        on_delete: OnAction::Cascade,
        on_update: OnAction::NoAction,
    };
    let mut post_fields = vec![
        id(),
        with(field("author_id", FieldType::BigInteger), |f| {
            f.foreign_key = Some(author.clone());
        }),
        varchar(slug, 200),
        with(varchar("title", 200), |f| {
            f.default = Some(DefaultValue::Str("x".into()));
            f.nullable = n >= 2;
        }),
        with(
            field(
                "views",
                if n >= 2 {
                    FieldType::BigInteger
                } else {
                    FieldType::Integer
                },
            ),
            |f| f.default = Some(DefaultValue::Int(0)),
        ),
        with(field("body", FieldType::Text), |f| {
            if n >= 2 {
                f.default = Some(DefaultValue::Str("none".into()));
            }
        }),
    ];
    if n >= 2 {
        post_fields.push(with(field("published", FieldType::Boolean), |f| {
            f.default = Some(DefaultValue::Bool(false));
        }));
        if n < 5 {
            post_fields.push(nullable(with(
                field("editor_id", FieldType::BigInteger),
                |f| {
                    f.foreign_key = Some(ForeignKey {
                        on_delete: OnAction::SetNull,
                        ..author.clone()
                    });
                },
            )));
        }
    }
    let mut post = model("Post", "posts", post_fields);
    post.indexes = vec![index(slug_index, &[slug], false)];
    let mut constraints = vec![ConstraintState {
        name: unique_together_name("posts", &["author_id", "slug"]),
        kind: ConstraintKind::Unique {
            fields: vec!["author_id".into(), slug.into()],
        },
    }];
    if n < 5 {
        constraints.push(check("posts_views_non_negative", "views >= 0"));
    }
    constraints.sort_by(|a, b| a.name.cmp(&b.name));
    post.constraints = constraints;
    let mut models = vec![user, post];
    if n >= 4 {
        let mut pair = model(
            "Membership",
            "memberships",
            vec![
                with(field("post_id", FieldType::BigInteger), |f| {
                    f.primary_key = true;
                    f.foreign_key = Some(ForeignKey {
                        app: "default".into(),
                        model: "Post".into(),
                        table: "posts".into(),
                        column: "id".into(),
                        on_delete: OnAction::Cascade,
                        on_update: OnAction::NoAction,
                    });
                }),
                with(varchar("role", 20), |f| f.primary_key = true),
                nullable(field("note", FieldType::Text)),
            ],
        );
        pair.indexes = vec![index("memberships_role_idx", &["role"], false)];
        models.push(pair);
    }
    (chakra_tests::fixtures::state(models), hints)
}

matrix_test!(
    no_drift_through_alterations_renames_and_rollbacks,
    |db| async move {
        let dir = tempfile::tempdir().expect("temp dir");
        let paths = Paths::under(dir.path(), "migrations");
        let mut exec = db.executor().await;
        let steps = 5;
        for n in 1..=steps {
            let (state, hints) = step(n);
            let made = make_with(
                &paths,
                &state,
                &hints,
                &mut NoInput::default(),
                &MakeOptions::default(),
            )
            .unwrap_or_else(|e| panic!("step {n}: make: {e}"));
            assert_eq!(made.migrations.len(), 1, "step {n} makes one migration");
            let graph = load_graph(&paths.migrations).expect("graph");
            exec.apply(&graph, None, false, &mut |_| {})
                .await
                .unwrap_or_else(|e| panic!("step {n} on {:?}: {e}", db.engine));
            assert_no_drift(&db, &mut exec, &graph, &format!("after step {n}")).await;
        }
        let graph = load_graph(&paths.migrations).expect("graph");
        for n in (1..steps).rev() {
            exec.rollback(&graph, &RollbackTarget::Count(1), false, &mut |_| {})
                .await
                .unwrap_or_else(|e| panic!("rollback to step {n} on {:?}: {e}", db.engine));
            assert_no_drift(&db, &mut exec, &graph, &format!("back at step {n}")).await;
            // Pending migrations are not compared.
            let report = chakra::drift::check(&mut exec, &graph, DEFAULT_TABLE)
                .await
                .expect("drift");
            assert_eq!((report.applied, report.pending), (n, steps - n));
        }
    }
);

/// `db_default` expressions and CHECKs that the databases store rewritten.
fn rewritten(engine: Engine) -> ModelState {
    let db_default = |f: FieldState, expr: &str| with(f, |f| f.db_default = Some(expr.into()));
    let mut fields = vec![
        pk(),
        db_default(field("prio", FieldType::Integer), "0"),
        db_default(field("sum", FieldType::BigInteger), "(1 + 1)"),
        db_default(field("score", FieldType::Double), "0.5"),
        db_default(varchar("code", 10), "(upper('abc'))"),
        db_default(field("ts", FieldType::Timestamp), "CURRENT_TIMESTAMP"),
        db_default(field("at", FieldType::DateTime), "CURRENT_TIMESTAMP"),
        with(varchar("title", 20), |f| {
            f.default = Some(DefaultValue::Str("a".into()));
        }),
    ];
    if engine != Engine::Sqlite {
        // SQLite has no now().
        fields.push(db_default(field("seen_at", FieldType::Timestamp), "now()"));
    }
    let mut m = model("Rewritten", "rewritten", fields);
    m.constraints = vec![
        check(
            "rewritten_a_in",
            "title IN ('a', 'b') AND prio BETWEEN 0 AND 10",
        ),
        check(
            "rewritten_b_len",
            "length(title) > 0 AND lower(code) <> 'x'",
        ),
        check("rewritten_c_neq", "score != 1.5 OR sum IS NOT NULL"),
    ];
    m
}

matrix_test!(
    expressions_the_database_rewrites_are_no_drift,
    |db| async move {
        let project = Project::new();
        project.make(vec![rewritten(db.engine)]);
        let graph = project.graph();
        let mut exec = db.executor().await;
        exec.apply(&graph, None, false, &mut |_| {})
            .await
            .expect("apply");
        assert_no_drift(&db, &mut exec, &graph, "after apply").await;
        // A changed value in a rewritten CHECK is still found.
        let (drop, add) = match db.engine {
            Engine::Sqlite => return,
            Engine::Postgres => (
                "ALTER TABLE rewritten DROP CONSTRAINT rewritten_a_in",
                "ALTER TABLE rewritten ADD CONSTRAINT rewritten_a_in CHECK (title IN ('a', 'c') AND prio BETWEEN 0 AND 10)",
            ),
            Engine::Mysql => (
                "ALTER TABLE rewritten DROP CONSTRAINT rewritten_a_in",
                "ALTER TABLE rewritten ADD CONSTRAINT rewritten_a_in CHECK (title IN ('a', 'c') AND prio BETWEEN 0 AND 10)",
            ),
        };
        db.execute(drop).await;
        db.execute(add).await;
        let found: Vec<Key> = drift(&mut exec, &graph).await.iter().map(key).collect();
        assert_eq!(
            found,
            [k(
                "rewritten",
                Change::Changed,
                Object::Check,
                Some("rewritten_a_in"),
                Some(Aspect::Expression)
            )]
        );
    }
);
