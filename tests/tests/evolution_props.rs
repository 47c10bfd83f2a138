//! Random schema evolutions against real databases. Each case is a sequence of schemas
//! (models, fields of several types, nullability, defaults, foreign keys, indexes, UNIQUE and
//! CHECK constraints, and renames given by hints); for every step `make` → `apply` must leave a
//! database whose introspected tables, columns, types, nullability, indexes and constraints
//! are those of the models, `migrate drift` must find no difference, `make` right
//! after must find nothing to do, and rolling back to zero must leave no table.
//! SQLite always; PostgreSQL and MariaDB when their URLs are set (mandatory in `.ci/run`).

use std::collections::{BTreeMap, BTreeSet};

use chakra::autodetect::{Hints, NoInput};
use chakra::make::{MakeOptions, Paths, load_graph, make_with};
use chakra::plan::RollbackTarget;
use chakra::state::{
    ConstraintKind, ConstraintState, DefaultValue, FieldState, FieldType, ForeignKey, IndexState,
    ModelState, OnAction, ProjectState, unique_together_name,
};
use chakra_tests::{Engine, TestDb};
use proptest::prelude::*;

const MODELS: [&str; 3] = ["Alpha", "Beta", "Gamma"];
const TYPES: [FieldType; 6] = [
    FieldType::Integer,
    FieldType::BigInteger,
    FieldType::Boolean,
    FieldType::String,
    FieldType::Text,
    FieldType::Double,
];

/// One column as generated: which slot (name), type, nullability, default, foreign key
/// target (a model index), index.
#[derive(Debug, Clone)]
struct Col {
    slot: usize,
    ty: usize,
    nullable: bool,
    default: bool,
    fk: Option<usize>,
    indexed: bool,
}

/// A model's constraints: a UNIQUE over two column slots (kept when both are columns that
/// can be keyed) and a CHECK naming one column slot (kept when it is a column without a
/// foreign key: MySQL refuses a CHECK on a column that a foreign key action sets, and on
/// the AUTO_INCREMENT `id`).
#[derive(Debug, Clone)]
struct Cons {
    unique: Option<(usize, usize)>,
    check: Option<usize>,
}

/// A schema: which models exist (by index into `MODELS`), their columns and constraints.
#[derive(Debug, Clone)]
struct Step {
    models: BTreeMap<usize, (Vec<Col>, Cons)>,
}

fn col() -> impl Strategy<Value = Col> {
    (
        0..5usize,
        0..TYPES.len(),
        any::<bool>(),
        any::<bool>(),
        prop::option::weighted(0.2, 0..MODELS.len()),
        prop::bool::weighted(0.25),
    )
        .prop_map(|(slot, ty, nullable, default, fk, indexed)| Col {
            slot,
            ty,
            nullable,
            default,
            fk,
            indexed,
        })
}

fn cons() -> impl Strategy<Value = Cons> {
    (
        prop::option::weighted(0.4, (0..5usize, 0..5usize)),
        prop::option::weighted(0.3, 0..5usize),
    )
        .prop_map(|(unique, check)| Cons { unique, check })
}

fn step() -> impl Strategy<Value = Step> {
    prop::collection::btree_map(
        0..MODELS.len(),
        (prop::collection::vec(col(), 0..4), cons()),
        1..3,
    )
    .prop_map(|models| Step { models })
}

/// The CHECK expression on column `c`: true for every row, but it names the column.
fn check_expr(c: &str) -> String {
    format!("{c} IS NULL OR {c} = {c}")
}

fn table(i: usize) -> String {
    format!("t_{}", MODELS[i].to_lowercase())
}

/// The state of a step. Columns new to an existing table are nullable or have a default, so
/// every step can be made without questions.
fn build(step: &Step) -> ProjectState {
    let present: BTreeSet<usize> = step.models.keys().copied().collect();
    let models = step
        .models
        .iter()
        .map(|(&i, (cols, cons))| {
            let mut fields = vec![FieldState {
                primary_key: true,
                auto_increment: true,
                ..FieldState::new("id", FieldType::BigInteger)
            }];
            let mut indexes = Vec::new();
            let mut seen = BTreeSet::new();
            for c in cols {
                let name = format!("c{}", c.slot);
                if !seen.insert(name.clone()) {
                    continue;
                }
                let mut f = match c.fk.filter(|t| present.contains(t) && *t != i) {
                    Some(t) => FieldState {
                        nullable: true,
                        foreign_key: Some(ForeignKey {
                            app: "default".into(),
                            model: MODELS[t].into(),
                            table: table(t),
                            column: "id".into(),
                            on_delete: OnAction::SetNull,
                            on_update: OnAction::NoAction,
                        }),
                        ..FieldState::new(&name, FieldType::BigInteger)
                    },
                    None => {
                        let ty = TYPES[c.ty];
                        FieldState {
                            max_length: (ty == FieldType::String).then_some(30 + c.slot as u32),
                            nullable: c.nullable,
                            ..FieldState::new(&name, ty)
                        }
                    }
                };
                if !f.nullable {
                    f.default = Some(match f.field_type {
                        FieldType::Integer | FieldType::BigInteger => DefaultValue::Int(3),
                        FieldType::Boolean => DefaultValue::Bool(c.default),
                        FieldType::Double => DefaultValue::Float(2.5),
                        _ => DefaultValue::Str("x".into()),
                    });
                }
                if c.indexed && f.field_type != FieldType::Text {
                    indexes.push(IndexState {
                        name: format!("{}_{name}_idx", table(i)),
                        fields: vec![name.clone()],
                        unique: false,
                    });
                }
                fields.push(f);
            }
            indexes.sort_by(|a, b| a.name.cmp(&b.name));
            let keyable = |slot: usize| {
                let name = format!("c{slot}");
                fields
                    .iter()
                    .any(|f| f.name == name && f.field_type != FieldType::Text)
                    .then_some(name)
            };
            let mut constraints = Vec::new();
            if let Some((a, b)) = cons.unique
                && a != b
                && let (Some(a), Some(b)) = (keyable(a), keyable(b))
            {
                constraints.push(ConstraintState {
                    name: unique_together_name(&table(i), &[&a, &b]),
                    kind: ConstraintKind::Unique { fields: vec![a, b] },
                });
            }
            let checkable = |slot: usize| {
                let name = format!("c{slot}");
                fields
                    .iter()
                    .any(|f| f.name == name && f.foreign_key.is_none())
                    .then_some(name)
            };
            if let Some(c) = cons.check.and_then(checkable) {
                constraints.push(ConstraintState {
                    name: format!("{}_chk", table(i)),
                    kind: ConstraintKind::Check {
                        expr: check_expr(&c),
                    },
                });
            }
            constraints.sort_by(|a, b| a.name.cmp(&b.name));
            ModelState {
                app: "default".into(),
                name: MODELS[i].into(),
                table: table(i),
                fields,
                indexes,
                constraints,
            }
        })
        .collect();
    ProjectState::from_models_list(models).expect("distinct models")
}

/// Renames one field of a model present in both steps, when the next step keeps its
/// definition under a free name: the field in `next` gets the new name and a hint says so.
fn with_rename(prev: &ProjectState, next: &mut ProjectState, pick: usize) -> Hints {
    let mut hints = Hints::default();
    let candidates: Vec<(String, String)> = next
        .models
        .values()
        .filter_map(|m| {
            let old = prev.model("default", &m.name)?;
            let f = m
                .fields
                .iter()
                .skip(1)
                .find(|f| old.field(&f.name).is_some() && m.indexes.is_empty())?;
            Some((m.name.clone(), f.name.clone()))
        })
        .collect();
    if candidates.is_empty() {
        return hints;
    }
    let (model, field) = &candidates[pick % candidates.len()];
    let m = next
        .models
        .get_mut(&("default".to_owned(), model.clone()))
        .expect("model");
    let new_name = format!("{field}_r");
    if m.field(&new_name).is_some() {
        return hints;
    }
    for f in &mut m.fields {
        if f.name == *field {
            f.name.clone_from(&new_name);
        }
    }
    // The user rewrites a CHECK that names the renamed column (the next migration replaces
    // it, removing the old one before the rename).
    m.rename_field_references(field, &new_name);
    for c in &mut m.constraints {
        if let ConstraintKind::Check { expr } = &mut c.kind
            && *expr == check_expr(field)
        {
            *expr = check_expr(&new_name);
        }
    }
    hints
        .fields
        .insert((("default".into(), model.clone()), new_name), field.clone());
    hints
}

/// What the database has: table -> (column -> (type family, nullable)), the `_idx` indexes
/// and the `_uniq` / `_chk` constraints.
type Schema = (
    BTreeMap<String, BTreeMap<String, (String, bool)>>,
    BTreeSet<String>,
    BTreeSet<String>,
);

/// A constraint name of the models (not one a database makes on its own, such as MariaDB's
/// CHECK on JSON columns).
fn generated_constraint(name: &str) -> bool {
    name.ends_with("_uniq") || name.ends_with("_chk")
}

fn family(engine: Engine, ty: &str) -> String {
    let ty = ty.to_lowercase();
    let ty = ty.split('(').next().unwrap_or("").trim().to_owned();
    match (engine, ty.as_str()) {
        (_, "integer" | "int" | "bigint") => "int".into(),
        (Engine::Mysql, "tinyint") | (_, "boolean") => "bool".into(),
        (_, "varchar" | "character varying") => "varchar".into(),
        (_, "text" | "longtext") => "text".into(),
        (_, "double" | "double precision" | "real") => "float".into(),
        (_, other) => other.into(),
    }
}

fn expected_family(f: &FieldState) -> &'static str {
    match f.field_type {
        FieldType::Integer | FieldType::BigInteger => "int",
        FieldType::Boolean => "bool",
        FieldType::String => "varchar",
        FieldType::Text => "text",
        FieldType::Double => "float",
        _ => "other",
    }
}

fn expected(state: &ProjectState) -> Schema {
    let mut tables = BTreeMap::new();
    let mut indexes = BTreeSet::new();
    let mut constraints = BTreeSet::new();
    for m in state.models.values() {
        let cols = m
            .fields
            .iter()
            .map(|f| {
                (
                    f.column().to_owned(),
                    (expected_family(f).to_owned(), f.nullable && !f.primary_key),
                )
            })
            .collect();
        tables.insert(m.table.clone(), cols);
        indexes.extend(m.indexes.iter().map(|i| i.name.clone()));
        constraints.extend(m.constraints.iter().map(|c| c.name.clone()));
    }
    (tables, indexes, constraints)
}

async fn introspect(db: &TestDb) -> Schema {
    let mut tables = BTreeMap::new();
    for t in db.tables().await {
        let sql = match db.engine {
            Engine::Sqlite => format!(
                "SELECT name, type, CASE WHEN \"notnull\" = 1 OR pk = 1 THEN 'NO' ELSE 'YES' END FROM pragma_table_info('{t}')"
            ),
            Engine::Postgres => format!(
                "SELECT column_name::text, data_type::text, is_nullable::text FROM information_schema.columns WHERE table_schema = 'public' AND table_name = '{t}'"
            ),
            Engine::Mysql => format!(
                "SELECT CAST(column_name AS CHAR), CAST(data_type AS CHAR), CAST(is_nullable AS CHAR) FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = '{t}'"
            ),
        };
        let cols = db
            .rows(&sql)
            .await
            .into_iter()
            .map(|r| {
                let name = r[0].clone().unwrap_or_default();
                let ty = family(db.engine, r[1].as_deref().unwrap_or(""));
                (name, (ty, r[2].as_deref() == Some("YES")))
            })
            .collect();
        tables.insert(t, cols);
    }
    let sql = match db.engine {
        Engine::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE '%\\_idx' ESCAPE '\\'"
        }
        Engine::Postgres => {
            "SELECT indexname::text FROM pg_indexes WHERE schemaname = 'public' AND indexname LIKE '%\\_idx'"
        }
        Engine::Mysql => {
            "SELECT DISTINCT CAST(index_name AS CHAR) FROM information_schema.statistics WHERE table_schema = DATABASE() AND index_name LIKE '%\\_idx'"
        }
    };
    let indexes = db
        .rows(sql)
        .await
        .into_iter()
        .filter_map(|r| r[0].clone())
        .collect();
    let constraints = match db.engine {
        // SQLite has no catalog of named constraints: read them from the tables' SQL.
        Engine::Sqlite => db
            .rows("SELECT sql FROM sqlite_master WHERE type = 'table'")
            .await
            .into_iter()
            .filter_map(|r| r[0].clone())
            .flat_map(|sql| {
                sql.split("CONSTRAINT \"")
                    .skip(1)
                    .filter_map(|rest| rest.split('"').next().map(str::to_owned))
                    .collect::<Vec<_>>()
            })
            .collect::<Vec<_>>(),
        Engine::Postgres => db
            .rows(
                "SELECT c.conname::text FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace \
                 WHERE n.nspname = 'public' AND c.contype IN ('u', 'c')",
            )
            .await
            .into_iter()
            .filter_map(|r| r[0].clone())
            .collect(),
        Engine::Mysql => db
            .rows(
                "SELECT CAST(constraint_name AS CHAR) FROM information_schema.table_constraints \
                 WHERE table_schema = DATABASE() AND constraint_type IN ('UNIQUE', 'CHECK')",
            )
            .await
            .into_iter()
            .filter_map(|r| r[0].clone())
            .collect(),
    };
    let constraints = constraints
        .into_iter()
        .filter(|n| generated_constraint(n))
        .collect();
    (tables, indexes, constraints)
}

async fn evolve(engine: Engine, steps: &[Step], picks: &[usize]) -> Result<(), TestCaseError> {
    let Some(db) = TestDb::new(engine).await else {
        return Ok(());
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let paths = Paths::under(dir.path(), "migrations");
    let mut exec = db.executor().await;
    let mut prev = ProjectState::default();
    for (n, s) in steps.iter().enumerate() {
        let mut next = build(s);
        let hints = with_rename(&prev, &mut next, picks[n % picks.len()]);
        make_with(
            &paths,
            &next,
            &hints,
            &mut NoInput::default(),
            &MakeOptions::default(),
        )
        .map_err(|e| TestCaseError::fail(format!("step {n}: make: {e}")))?;
        let graph = load_graph(&paths.migrations).expect("graph");
        exec.apply(&graph, None, false, &mut |_| {})
            .await
            .map_err(|e| TestCaseError::fail(format!("step {n} on {engine:?}: apply: {e}")))?;
        prop_assert_eq!(
            introspect(&db).await,
            expected(&next),
            "step {} on {:?}",
            n,
            engine
        );
        let drift = chakra::drift::check(&mut exec, &graph, chakra::executor::DEFAULT_TABLE)
            .await
            .map_err(|e| TestCaseError::fail(format!("step {n} on {engine:?}: drift: {e}")))?;
        prop_assert!(
            drift.differences.is_empty(),
            "step {} on {:?}: drift on a database only Chakra migrated:\n{}",
            n,
            engine,
            drift
                .differences
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        );
        let again = make_with(
            &paths,
            &next,
            &Hints::default(),
            &mut NoInput::default(),
            &MakeOptions::default(),
        )
        .map_err(|e| TestCaseError::fail(format!("step {n}: second make: {e}")))?;
        prop_assert!(
            again.migrations.is_empty(),
            "make right after step {} found changes",
            n
        );
        prev = next;
    }
    let graph = load_graph(&paths.migrations).expect("graph");
    exec.rollback(&graph, &RollbackTarget::Zero(None), false, &mut |_| {})
        .await
        .map_err(|e| TestCaseError::fail(format!("rollback to zero on {engine:?}: {e}")))?;
    prop_assert!(
        db.tables().await.is_empty(),
        "tables left after rollback to zero on {:?}",
        engine
    );
    Ok(())
}

fn cases() -> u32 {
    std::env::var("CHAKRA_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_evolutions_match_the_models_on_every_database(
        steps in prop::collection::vec(step(), 2..5),
        picks in prop::collection::vec(any::<usize>(), 1..4),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        for engine in [Engine::Sqlite, Engine::Postgres, Engine::Mysql] {
            rt.block_on(evolve(engine, &steps, &picks))?;
        }
    }
}
