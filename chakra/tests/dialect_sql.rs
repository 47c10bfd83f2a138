//! The SQL of every operation on PostgreSQL, MySQL and SQLite, as insta snapshots with the
//! three dialects side by side, and the SQLite output executed on a real in-memory database.

use chakra::dialect::{DialectKind, operation_sql};
use chakra::operations::{
    AddConstraint, ConstraintRef, CreateModel, FieldRef, IndexOperation, IndexRef, ModelRef,
    Operation, RunSql,
};
use chakra::state::{
    ConstraintKind, ConstraintState, DefaultValue, FieldOperation, FieldState, FieldType,
    ForeignKey, IndexState, ModelState, OnAction, ProjectState,
};

const APP: &str = "default";

/// `insta::assert_snapshot!` without the expression in the file: the test names the case.
macro_rules! snap {
    ($value:expr) => {
        insta::with_settings!({ omit_expression => true }, {
            insta::assert_snapshot!($value);
        })
    };
}
const DIALECTS: [DialectKind; 3] = [
    DialectKind::Postgres,
    DialectKind::Mysql,
    DialectKind::Sqlite,
];

// ----- building states -----

fn field(name: &str, field_type: FieldType) -> FieldState {
    FieldState::new(name, field_type)
}

/// An auto-increment BIGINT primary key called `id`.
fn id() -> FieldState {
    FieldState {
        primary_key: true,
        auto_increment: true,
        ..field("id", FieldType::BigInteger)
    }
}

fn varchar(name: &str, n: u32) -> FieldState {
    FieldState {
        max_length: Some(n),
        ..field(name, FieldType::String)
    }
}

fn nullable(f: FieldState) -> FieldState {
    FieldState {
        nullable: true,
        ..f
    }
}

fn unique(f: FieldState) -> FieldState {
    FieldState { unique: true, ..f }
}

fn with_default(f: FieldState, v: DefaultValue) -> FieldState {
    FieldState {
        default: Some(v),
        ..f
    }
}

fn with_db_default(f: FieldState, expr: &str) -> FieldState {
    FieldState {
        db_default: Some(expr.to_owned()),
        ..f
    }
}

fn fk(name: &str, table: &str, model: &str, on_delete: OnAction) -> FieldState {
    FieldState {
        foreign_key: Some(ForeignKey {
            app: APP.to_owned(),
            model: model.to_owned(),
            table: table.to_owned(),
            column: "id".to_owned(),
            on_delete,
            on_update: OnAction::NoAction,
        }),
        ..field(name, FieldType::BigInteger)
    }
}

fn index(name: &str, fields: &[&str], unique: bool) -> IndexState {
    IndexState {
        name: name.to_owned(),
        fields: fields.iter().map(|s| (*s).to_owned()).collect(),
        unique,
    }
}

fn model(name: &str, table: &str, fields: Vec<FieldState>, indexes: Vec<IndexState>) -> ModelState {
    ModelState {
        app: APP.to_owned(),
        name: name.to_owned(),
        table: table.to_owned(),
        fields,
        indexes,
        constraints: Vec::new(),
    }
}

fn state(models: Vec<ModelState>) -> ProjectState {
    ProjectState::from_models_list(models).expect("distinct models")
}

fn users() -> ModelState {
    model(
        "User",
        "users",
        vec![
            id(),
            unique(varchar("username", 50)),
            nullable(varchar("email", 255)),
        ],
        vec![index("users_email_idx", &["email"], false)],
    )
}

fn posts() -> ModelState {
    model(
        "Post",
        "posts",
        vec![
            id(),
            fk("author_id", "users", "User", OnAction::Cascade),
            varchar("title", 200),
            with_default(field("views", FieldType::Integer), DefaultValue::Int(0)),
        ],
        vec![
            index("posts_author_title", &["author_id", "title"], false),
            index("posts_title_uniq", &["title"], true),
        ],
    )
}

fn blog() -> ProjectState {
    state(vec![users(), posts()])
}

// ----- operations -----

fn create(m: &ModelState) -> Operation {
    Operation::CreateModel(CreateModel {
        model: m.name.clone(),
        table: m.table.clone(),
        fields: m.fields.clone(),
    })
}

fn add_field(m: &ModelState, f: FieldState) -> Operation {
    Operation::AddField(FieldOperation::new(m, &f))
}

fn alter_field(m: &ModelState, f: FieldState) -> Operation {
    Operation::AlterField(FieldOperation::new(m, &f))
}

fn remove_field(m: &ModelState, name: &str) -> Operation {
    Operation::RemoveField(FieldRef {
        model: m.name.clone(),
        table: m.table.clone(),
        name: name.to_owned(),
    })
}

fn create_index(m: &ModelState, i: IndexState) -> Operation {
    Operation::CreateIndex(IndexOperation {
        model: m.name.clone(),
        table: m.table.clone(),
        name: i.name,
        fields: i.fields,
        unique: i.unique,
        online: false,
    })
}

fn drop_index(m: &ModelState, name: &str) -> Operation {
    Operation::DropIndex(IndexRef {
        model: m.name.clone(),
        table: m.table.clone(),
        name: name.to_owned(),
        online: false,
    })
}

fn unique_together(name: &str, fields: &[&str]) -> ConstraintState {
    ConstraintState {
        name: name.to_owned(),
        kind: ConstraintKind::Unique {
            fields: fields.iter().map(|s| (*s).to_owned()).collect(),
        },
    }
}

fn check(name: &str, expr: &str) -> ConstraintState {
    ConstraintState {
        name: name.to_owned(),
        kind: ConstraintKind::Check {
            expr: expr.to_owned(),
        },
    }
}

fn add_constraint(m: &ModelState, c: ConstraintState) -> Operation {
    Operation::AddConstraint(AddConstraint::new(m, &c))
}

fn remove_constraint(m: &ModelState, name: &str) -> Operation {
    Operation::RemoveConstraint(ConstraintRef {
        model: m.name.clone(),
        table: m.table.clone(),
        name: name.to_owned(),
    })
}

/// `posts()` with a UNIQUE over (author_id, title) and a CHECK on views.
fn posts_with_constraints() -> ModelState {
    let mut p = posts();
    p.constraints = vec![
        unique_together("posts_author_id_title_uniq", &["author_id", "title"]),
        check("posts_views_non_negative", "views >= 0"),
    ];
    p
}

// ----- rendering -----

/// The SQL of `op` on every dialect, side by side.
fn sql_all(op: &Operation, before: &ProjectState) -> String {
    let mut out = String::new();
    for kind in DIALECTS {
        out.push_str(&format!("-- {kind}"));
        match operation_sql(kind, APP, op, before) {
            Ok(sql) => {
                if sql.rebuilds_table {
                    out.push_str(" (rebuilds the table)");
                }
                if sql.outside_transaction {
                    out.push_str(" (each statement commits on its own)");
                }
                out.push('\n');
                if sql.statements.is_empty() {
                    out.push_str("(nothing to do)\n");
                }
                for s in &sql.statements {
                    out.push_str(s);
                    out.push_str(if s.ends_with(';') { "\n" } else { ";\n" });
                }
            }
            Err(e) => out.push_str(&format!("\nerror: {e}\n")),
        }
    }
    out
}

/// Several titled cases in one snapshot.
fn cases(list: &[(&str, Operation, &ProjectState)]) -> String {
    list.iter()
        .map(|(title, op, before)| format!("==== {title}\n{}", sql_all(op, before)))
        .collect::<Vec<_>>()
        .join("\n")
}

// ----- CreateModel / DeleteModel -----

#[test]
fn create_model_every_type() {
    let fields = vec![
        id(),
        field("small", FieldType::SmallInteger),
        field("integer", FieldType::Integer),
        field("big", FieldType::BigInteger),
        field("float", FieldType::Float),
        field("double", FieldType::Double),
        field("boolean", FieldType::Boolean),
        varchar("string", 40),
        field("string_unbounded", FieldType::String),
        field("text", FieldType::Text),
        field("datetime", FieldType::DateTime),
        field("timestamp", FieldType::Timestamp),
        field("date", FieldType::Date),
        field("time", FieldType::Time),
        field("uuid", FieldType::Uuid),
        field("json", FieldType::Json),
        field("binary", FieldType::Binary),
        FieldState {
            precision: Some(10),
            scale: Some(2),
            ..field("decimal", FieldType::Decimal)
        },
        FieldState {
            precision: Some(8),
            ..field("decimal_p", FieldType::Decimal)
        },
        field("decimal_unbounded", FieldType::Decimal),
        nullable(field("maybe_int", FieldType::Integer)),
        nullable(field("maybe_text", FieldType::Text)),
    ];
    let m = model("Everything", "everything", fields, vec![]);
    snap!(sql_all(&create(&m), &ProjectState::default()));
}

#[test]
fn create_model_defaults() {
    let fields = vec![
        id(),
        with_default(
            field("active", FieldType::Boolean),
            DefaultValue::Bool(true),
        ),
        with_default(
            field("hidden", FieldType::Boolean),
            DefaultValue::Bool(false),
        ),
        with_default(field("count", FieldType::Integer), DefaultValue::Int(-3)),
        with_default(field("ratio", FieldType::Double), DefaultValue::Float(1.0)),
        with_default(field("share", FieldType::Float), DefaultValue::Float(0.25)),
        with_default(
            varchar("status", 20),
            DefaultValue::Str("it's draft".to_owned()),
        ),
        with_default(
            field("body", FieldType::Text),
            DefaultValue::Str("".to_owned()),
        ),
        with_default(
            field("data", FieldType::Json),
            DefaultValue::Str("{}".to_owned()),
        ),
        with_default(
            varchar("path", 100),
            DefaultValue::Str("C:\\temp".to_owned()),
        ),
        with_db_default(
            field("created_at", FieldType::DateTime),
            "CURRENT_TIMESTAMP",
        ),
        with_db_default(field("seen_at", FieldType::Timestamp), "now()"),
        with_db_default(field("rank", FieldType::Integer), "0"),
        with_db_default(field("slug", FieldType::Text), "lower('X')"),
        with_db_default(varchar("code", 10), "(upper('abc'))"),
    ];
    let m = model("Defaults", "defaults", fields, vec![]);
    snap!(sql_all(&create(&m), &ProjectState::default()));
}

#[test]
fn create_model_keys() {
    let composite = model(
        "Membership",
        "memberships",
        vec![
            FieldState {
                primary_key: true,
                ..fk("user_id", "users", "User", OnAction::Cascade)
            },
            FieldState {
                primary_key: true,
                ..field("group_id", FieldType::Integer)
            },
            unique(varchar("code", 12)),
        ],
        vec![],
    );
    let plain_pk = model(
        "Country",
        "countries",
        vec![
            FieldState {
                primary_key: true,
                ..varchar("code", 2)
            },
            FieldState {
                primary_key: true,
                ..field("id", FieldType::Integer)
            },
        ],
        vec![],
    );
    let integer_pk = model(
        "Code",
        "codes",
        vec![FieldState {
            primary_key: true,
            unique: true,
            ..field("id", FieldType::Integer)
        }],
        vec![],
    );
    let mut comments = model(
        "Comment",
        "comments",
        vec![
            id(),
            fk("post_id", "posts", "Post", OnAction::Cascade),
            nullable(fk("editor_id", "users", "User", OnAction::SetNull)),
            nullable(fk("parent_id", "comments", "Comment", OnAction::Restrict)),
        ],
        vec![],
    );
    if let Some(ForeignKey { on_update, .. }) = &mut comments.fields[1].foreign_key {
        *on_update = OnAction::Cascade;
    }
    let s = blog();
    snap!(cases(&[
        (
            "composite primary key, foreign key in it, unique",
            create(&composite),
            &s
        ),
        (
            "composite primary key without auto-increment",
            create(&plain_pk),
            &s
        ),
        (
            "single integer primary key without auto-increment",
            create(&integer_pk),
            &s
        ),
        (
            "foreign keys: cascade, set null, self reference",
            create(&comments),
            &s
        ),
    ]));
}

#[test]
fn create_model_reserved_words_and_quotes() {
    let m = model(
        "Order",
        "order",
        vec![
            FieldState {
                column: Some("select".to_owned()),
                ..id()
            },
            unique(varchar("from", 10)),
            field("we\"ird", FieldType::Integer),
            field("back`tick", FieldType::Integer),
            with_default(varchar("quote's", 10), DefaultValue::Str("'".to_owned())),
        ],
        vec![index("order\"idx", &["from", "we\"ird"], false)],
    );
    let s = state(vec![m.clone()]);
    snap!(cases(&[
        ("create", create(&m), &ProjectState::default()),
        (
            "index",
            create_index(&m, index("group", &["back`tick"], true)),
            &s
        ),
        (
            "rebuild on sqlite",
            alter_field(&m, unique(varchar("from", 20))),
            &s
        ),
        (
            "delete",
            Operation::DeleteModel(ModelRef {
                model: "Order".to_owned(),
                table: "order".to_owned(),
            }),
            &s
        ),
    ]));
}

#[test]
fn delete_model() {
    let s = blog();
    let op = Operation::DeleteModel(ModelRef {
        model: "Post".to_owned(),
        table: "posts".to_owned(),
    });
    snap!(sql_all(&op, &s));
}

// ----- AddField -----

#[test]
fn add_field_in_place() {
    let s = blog();
    let u = users();
    snap!(cases(&[
        (
            "nullable",
            add_field(&u, nullable(field("age", FieldType::Integer))),
            &s
        ),
        (
            "NOT NULL with a literal default",
            add_field(
                &u,
                with_default(
                    field("active", FieldType::Boolean),
                    DefaultValue::Bool(true)
                )
            ),
            &s
        ),
        (
            "NOT NULL with a constant db_default",
            add_field(
                &u,
                with_db_default(field("score", FieldType::Double), "0.5")
            ),
            &s
        ),
        (
            "text with a literal default",
            add_field(
                &u,
                with_default(
                    field("bio", FieldType::Text),
                    DefaultValue::Str("none".to_owned())
                )
            ),
            &s
        ),
        (
            "nullable foreign key",
            add_field(
                &u,
                nullable(fk("invited_by", "users", "User", OnAction::SetNull))
            ),
            &s
        ),
    ]));
}

#[test]
fn add_field_needing_rebuild_on_sqlite() {
    let s = blog();
    let (u, p) = (users(), posts());
    let mut with_pk = model("Tag", "tags", vec![varchar("name", 30)], vec![]);
    let tags = state(vec![with_pk.clone()]);
    with_pk.fields.clear();
    snap!(cases(&[
        (
            "unique",
            add_field(&u, unique(nullable(varchar("nick", 20)))),
            &s
        ),
        (
            "NOT NULL without default",
            add_field(&u, field("age", FieldType::Integer)),
            &s
        ),
        (
            "db_default that is not constant",
            add_field(
                &u,
                with_db_default(field("joined", FieldType::DateTime), "CURRENT_TIMESTAMP")
            ),
            &s
        ),
        (
            "NOT NULL foreign key with a default",
            add_field(
                &p,
                with_default(
                    fk("editor_id", "users", "User", OnAction::NoAction),
                    DefaultValue::Int(1)
                )
            ),
            &s
        ),
        (
            "auto-increment primary key",
            add_field(&with_pk, id()),
            &tags
        ),
    ]));
}

// ----- RemoveField -----

#[test]
fn remove_field_in_place_and_by_rebuild() {
    let s = blog();
    let (u, p) = (users(), posts());
    let composite = model(
        "Membership",
        "memberships",
        vec![
            FieldState {
                primary_key: true,
                ..field("user_id", FieldType::Integer)
            },
            FieldState {
                primary_key: true,
                ..field("group_id", FieldType::Integer)
            },
            FieldState {
                primary_key: true,
                ..field("role", FieldType::Integer)
            },
        ],
        vec![],
    );
    let m = state(vec![composite.clone()]);
    let mut p_no_index = p.clone();
    p_no_index.indexes.retain(|i| i.name == "posts_title_uniq");
    let s2 = state(vec![u.clone(), p_no_index.clone()]);
    snap!(cases(&[
        ("plain column", remove_field(&p, "views"), &s),
        (
            "unique column (rebuild on sqlite)",
            remove_field(&u, "username"),
            &s
        ),
        (
            "foreign key column (rebuild on sqlite)",
            remove_field(&p_no_index, "author_id"),
            &s2
        ),
        (
            "part of a composite primary key",
            remove_field(&composite, "role"),
            &m
        ),
    ]));
}

// ----- AlterField -----

#[test]
fn alter_field_type_and_length() {
    let s = blog();
    let (u, p) = (users(), posts());
    snap!(cases(&[
        (
            "widen VARCHAR",
            alter_field(&u, nullable(varchar("email", 320))),
            &s
        ),
        (
            "integer to bigint, keeping the default",
            alter_field(
                &p,
                with_default(field("views", FieldType::BigInteger), DefaultValue::Int(0))
            ),
            &s
        ),
        (
            "VARCHAR to TEXT on a unique column",
            alter_field(&u, unique(field("username", FieldType::Text))),
            &s
        ),
    ]));
}

#[test]
fn alter_field_nullability() {
    let s = blog();
    let (u, p) = (users(), posts());
    snap!(cases(&[
        (
            "nullable to NOT NULL",
            alter_field(&u, varchar("email", 255)),
            &s
        ),
        (
            "nullable to NOT NULL with a default fills NULLs",
            alter_field(
                &u,
                with_default(
                    varchar("email", 255),
                    DefaultValue::Str("none@example.com".to_owned())
                )
            ),
            &s
        ),
        (
            "NOT NULL to nullable",
            alter_field(&p, nullable(varchar("title", 200))),
            &s
        ),
    ]));
}

#[test]
fn alter_field_defaults() {
    let s = blog();
    let (u, p) = (users(), posts());
    snap!(cases(&[
        (
            "add a default",
            alter_field(
                &u,
                with_default(
                    nullable(varchar("email", 255)),
                    DefaultValue::Str("a'b".to_owned())
                )
            ),
            &s
        ),
        (
            "change a default",
            alter_field(
                &p,
                with_default(field("views", FieldType::Integer), DefaultValue::Int(1))
            ),
            &s
        ),
        (
            "drop a default",
            alter_field(&p, field("views", FieldType::Integer)),
            &s
        ),
        (
            "literal default to db_default",
            alter_field(
                &p,
                with_db_default(field("views", FieldType::Integer), "(1 + 1)")
            ),
            &s
        ),
    ]));
}

#[test]
fn alter_field_keys() {
    let s = blog();
    let (u, p) = (users(), posts());
    let mut set_null = fk("author_id", "users", "User", OnAction::SetNull);
    set_null.nullable = true;
    snap!(cases(&[
        (
            "add unique",
            alter_field(&u, unique(nullable(varchar("email", 255)))),
            &s
        ),
        ("drop unique", alter_field(&u, varchar("username", 50)), &s),
        ("change the foreign key rule", alter_field(&p, set_null), &s),
        (
            "drop the foreign key",
            alter_field(&p, field("author_id", FieldType::BigInteger)),
            &s
        ),
        (
            "add a foreign key",
            alter_field(&p, fk("views", "users", "User", OnAction::NoAction)),
            &s
        ),
        (
            "rename the column of a unique field",
            alter_field(
                &u,
                FieldState {
                    column: Some("login".to_owned()),
                    ..unique(varchar("username", 50))
                }
            ),
            &s
        ),
        (
            "rename the column of a foreign key",
            alter_field(
                &p,
                FieldState {
                    column: Some("writer_id".to_owned()),
                    ..fk("author_id", "users", "User", OnAction::Cascade)
                }
            ),
            &s
        ),
        (
            "drop auto-increment",
            alter_field(
                &p,
                FieldState {
                    auto_increment: false,
                    ..id()
                }
            ),
            &s
        ),
    ]));
}

#[test]
fn alter_field_primary_key() {
    let tags = model(
        "Tag",
        "tags",
        vec![
            FieldState {
                primary_key: true,
                ..varchar("name", 30)
            },
            field("lang", FieldType::Integer),
        ],
        vec![],
    );
    let s = state(vec![tags.clone()]);
    let s_blog = blog();
    snap!(cases(&[
        (
            "extend the primary key",
            alter_field(
                &tags,
                FieldState {
                    primary_key: true,
                    ..field("lang", FieldType::Integer)
                }
            ),
            &s
        ),
        (
            "a referenced primary key cannot change",
            alter_field(
                &users(),
                FieldState {
                    primary_key: false,
                    auto_increment: false,
                    ..id()
                }
            ),
            &s_blog
        ),
    ]));
}

#[test]
fn alter_field_no_change() {
    let s = blog();
    snap!(sql_all(
        &alter_field(&users(), nullable(varchar("email", 255))),
        &s
    ));
}

// ----- indexes and RunSQL -----

#[test]
fn indexes() {
    let s = blog();
    let mut u = users();
    u.fields[2].column = Some("email_address".to_owned());
    let renamed = state(vec![u.clone(), posts()]);
    let p = posts();
    snap!(cases(&[
        (
            "non-unique",
            create_index(&p, index("posts_views_idx", &["views"], false)),
            &s
        ),
        (
            "unique, multi-column",
            create_index(
                &p,
                index("posts_author_views", &["author_id", "views"], true)
            ),
            &s
        ),
        (
            "on a field with its own column name",
            create_index(
                &u,
                index("users_email_username", &["email", "username"], false)
            ),
            &renamed
        ),
        ("drop", drop_index(&p, "posts_author_title"), &s),
    ]));
}

/// `online = true` on `op`.
fn online(mut op: Operation) -> Operation {
    match &mut op {
        Operation::CreateIndex(i) => i.online = true,
        Operation::DropIndex(i) => i.online = true,
        Operation::AddConstraint(c) => c.online = true,
        Operation::AddField(f) => f.online = true,
        other => panic!("{other} has no online form"),
    }
    op
}

#[test]
fn online_operations() {
    let s = blog();
    let p = posts();
    let u = users();
    let with_fill = {
        let mut op = FieldOperation::new(&p, &fk("editor_id", "users", "User", OnAction::SetNull));
        op.fill = Some(DefaultValue::Int(1));
        op.online = true;
        Operation::AddField(op)
    };
    snap!(cases(&[
        (
            "index",
            online(create_index(
                &p,
                index("posts_views_idx", &["views"], false)
            )),
            &s
        ),
        (
            "unique index",
            online(create_index(
                &p,
                index("posts_author_views", &["author_id", "views"], true)
            )),
            &s
        ),
        (
            "drop index",
            online(drop_index(&p, "posts_author_title")),
            &s
        ),
        (
            "check constraint",
            online(add_constraint(
                &p,
                check("posts_views_non_negative", "views >= 0")
            )),
            &s
        ),
        (
            "unique constraint",
            online(add_constraint(
                &p,
                unique_together("posts_author_id_title_uniq", &["author_id", "title"])
            )),
            &s
        ),
        (
            "nullable foreign key column",
            online(add_field(
                &p,
                nullable(fk("editor_id", "users", "User", OnAction::SetNull))
            )),
            &s
        ),
        (
            "foreign key column with a one-off value for existing rows",
            with_fill,
            &s
        ),
        (
            "a column without a foreign key has no online form",
            online(add_field(&u, nullable(varchar("bio", 100)))),
            &s
        ),
    ]));
}

#[test]
fn constraints() {
    let s = blog();
    let p = posts();
    let mut u = users();
    u.fields[2].column = Some("email_address".to_owned());
    let renamed = state(vec![u.clone(), posts()]);
    let with = state(vec![users(), posts_with_constraints()]);
    let pc = posts_with_constraints();
    snap!(cases(&[
        (
            "unique over two fields",
            add_constraint(
                &p,
                unique_together("posts_author_id_title_uniq", &["author_id", "title"])
            ),
            &s
        ),
        (
            "check, written as given",
            add_constraint(
                &p,
                check("posts_views_non_negative", "views >= 0 AND views < 1000000")
            ),
            &s
        ),
        (
            "unique on a field with its own column name",
            add_constraint(
                &u,
                unique_together("users_email_username_key", &["email", "username"])
            ),
            &renamed
        ),
        (
            "remove a unique",
            remove_constraint(&pc, "posts_author_id_title_uniq"),
            &with
        ),
        (
            "remove a check",
            remove_constraint(&pc, "posts_views_non_negative"),
            &with
        ),
        (
            "a rebuild keeps the constraints",
            alter_field(&pc, varchar("title", 300)),
            &with
        ),
        (
            "unique over TEXT",
            add_constraint(
                &u,
                unique_together("users_bio_username_key", &["bio", "username"])
            ),
            &state(vec![model(
                "User",
                "users",
                vec![id(), varchar("username", 50), field("bio", FieldType::Text)],
                vec![]
            )])
        ),
        (
            "a name the model already uses",
            add_constraint(&pc, check("posts_author_id_title_uniq", "1 = 1")),
            &with
        ),
        (
            "a field that does not exist",
            add_constraint(&p, unique_together("posts_x", &["author_id", "nope"])),
            &s
        ),
    ]));
}

#[test]
fn run_sql() {
    let op = Operation::RunSql(RunSql {
        forward: "\n  UPDATE users SET email = lower(email);\n".to_owned(),
        reverse: None,
        reversible: None,
    });
    snap!(sql_all(&op, &blog()));
}

#[test]
fn unsupported() {
    let s = blog();
    let (u, p) = (users(), posts());
    let composite_auto = model(
        "Pair",
        "pairs",
        vec![
            FieldState {
                primary_key: true,
                auto_increment: true,
                ..field("a", FieldType::Integer)
            },
            FieldState {
                primary_key: true,
                ..field("b", FieldType::Integer)
            },
        ],
        vec![],
    );
    snap!(cases(&[
        (
            "index on TEXT",
            create_index(&u, index("users_bio", &["bio"], false)),
            &state(vec![model(
                "User",
                "users",
                vec![id(), field("bio", FieldType::Text)],
                vec![]
            )])
        ),
        (
            "unique TEXT",
            add_field(&u, unique(nullable(field("bio", FieldType::Text)))),
            &s
        ),
        (
            "SET DEFAULT",
            alter_field(
                &p,
                with_default(
                    fk("author_id", "users", "User", OnAction::SetDefault),
                    DefaultValue::Int(1)
                )
            ),
            &s
        ),
        (
            "auto-increment in a composite key",
            create(&composite_auto),
            &ProjectState::default()
        ),
        (
            "both default and db_default",
            add_field(
                &u,
                with_db_default(
                    with_default(field("n", FieldType::Integer), DefaultValue::Int(1)),
                    "2"
                )
            ),
            &s
        ),
        (
            "NaN default",
            add_field(
                &u,
                with_default(field("x", FieldType::Double), DefaultValue::Float(f64::NAN))
            ),
            &s
        ),
        (
            "operation that does not fit the state",
            remove_field(&u, "nope"),
            &s
        ),
    ]));
}

// ----- executed on SQLite -----

#[cfg(feature = "sqlite")]
mod sqlite_exec {
    use super::*;
    use sqlx::{AssertSqlSafe, Connection, Row, SqliteConnection};

    async fn connect() -> SqliteConnection {
        let mut conn = SqliteConnection::connect("sqlite::memory:")
            .await
            .expect("in-memory SQLite");
        exec(&mut conn, "PRAGMA foreign_keys = ON").await;
        conn
    }

    async fn exec(conn: &mut SqliteConnection, sql: &str) {
        sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
            .execute(&mut *conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}\nfailed: {e}"));
    }

    async fn rows(conn: &mut SqliteConnection, sql: &str) -> Vec<sqlx::sqlite::SqliteRow> {
        sqlx::query(AssertSqlSafe(sql.to_owned()))
            .fetch_all(&mut *conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}\nfailed: {e}"))
    }

    /// Applies `op` as the executor does: a transaction, with foreign keys off around it and
    /// `PRAGMA foreign_key_check` before commit when the table is rebuilt. Returns the state
    /// after the operation.
    async fn apply(
        conn: &mut SqliteConnection,
        state: &ProjectState,
        op: &Operation,
    ) -> ProjectState {
        let sql = operation_sql(DialectKind::Sqlite, APP, op, state).expect("SQLite SQL");
        if sql.rebuilds_table {
            exec(conn, "PRAGMA foreign_keys = OFF").await;
        }
        exec(conn, "BEGIN").await;
        for s in &sql.statements {
            exec(conn, s).await;
        }
        if sql.rebuilds_table {
            let problems = rows(conn, "PRAGMA foreign_key_check").await;
            assert!(
                problems.is_empty(),
                "foreign_key_check after {op}: {} rows",
                problems.len()
            );
        }
        exec(conn, "COMMIT").await;
        if sql.rebuilds_table {
            exec(conn, "PRAGMA foreign_keys = ON").await;
        }
        let mut after = state.clone();
        after.apply(APP, op).expect("operation fits the state");
        assert_schema_matches(conn, &after).await;
        after
    }

    /// Every table of the state exists with its columns, NOT NULL flags and primary key, and
    /// every index exists.
    async fn assert_schema_matches(conn: &mut SqliteConnection, state: &ProjectState) {
        for m in state.models.values() {
            let info = rows(
                conn,
                &format!(
                    "PRAGMA table_info({})",
                    chakra::dialect::quote_ident(DialectKind::Sqlite, &m.table)
                ),
            )
            .await;
            let cols: Vec<(String, bool, bool)> = info
                .iter()
                .map(|r| {
                    (
                        r.get::<String, _>("name"),
                        r.get::<i64, _>("notnull") != 0,
                        r.get::<i64, _>("pk") != 0,
                    )
                })
                .collect();
            let expected: Vec<(String, bool, bool)> = m
                .fields
                .iter()
                .map(|f| {
                    (
                        f.column().to_owned(),
                        !f.nullable && !f.auto_increment,
                        f.primary_key,
                    )
                })
                .collect();
            assert_eq!(cols, expected, "columns of {}", m.table);
            for i in &m.indexes {
                let found = rows(
                    conn,
                    &format!(
                        "SELECT name FROM sqlite_master WHERE type = 'index' AND name = '{}'",
                        i.name.replace('\'', "''")
                    ),
                )
                .await;
                assert_eq!(found.len(), 1, "index {} of {}", i.name, m.table);
            }
        }
    }

    async fn count(conn: &mut SqliteConnection, sql: &str) -> i64 {
        rows(conn, sql).await[0].get::<i64, _>(0)
    }

    #[tokio::test]
    async fn rebuild_keeps_rows_indexes_and_foreign_keys() {
        let mut conn = connect().await;
        let mut s = ProjectState::default();
        let mut parent = model(
            "Parent",
            "parent",
            vec![
                id(),
                nullable(varchar("name", 10)),
                unique(varchar("code", 5)),
            ],
            vec![],
        );
        let child = model(
            "Child",
            "child",
            vec![id(), fk("parent_id", "parent", "Parent", OnAction::Cascade)],
            vec![],
        );
        s = apply(&mut conn, &s, &create(&parent)).await;
        s = apply(&mut conn, &s, &create(&child)).await;
        s = apply(
            &mut conn,
            &s,
            &create_index(&parent, index("parent_name_idx", &["name"], false)),
        )
        .await;
        s = apply(
            &mut conn,
            &s,
            &create_index(&child, index("child_parent_idx", &["parent_id"], false)),
        )
        .await;
        exec(&mut conn, "INSERT INTO parent (id, name, code) VALUES (1, 'a', 'x'), (2, NULL, 'y'), (7, 'c', 'z')").await;
        exec(
            &mut conn,
            "INSERT INTO child (parent_id) VALUES (1), (2), (7)",
        )
        .await;
        exec(&mut conn, "DELETE FROM parent WHERE id = 7").await; // cascades; AUTOINCREMENT must not reuse 7
        parent = s.model(APP, "Parent").expect("parent").clone();

        // Widen and make NOT NULL with a default: rebuild, NULL filled by the default.
        let op = alter_field(
            &parent,
            with_default(varchar("name", 200), DefaultValue::Str("?".to_owned())),
        );
        assert!(
            operation_sql(DialectKind::Sqlite, APP, &op, &s)
                .expect("sql")
                .rebuilds_table
        );
        s = apply(&mut conn, &s, &op).await;

        let names: Vec<(i64, String)> = rows(&mut conn, "SELECT id, name FROM parent ORDER BY id")
            .await
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        assert_eq!(names, vec![(1, "a".to_owned()), (2, "?".to_owned())]);
        let sql_of = |name: &str| format!("SELECT sql FROM sqlite_master WHERE name = '{name}'");
        let table_sql: String = rows(&mut conn, &sql_of("parent")).await[0].get(0);
        assert!(
            table_sql.contains("VARCHAR(200) NOT NULL DEFAULT '?'"),
            "{table_sql}"
        );
        assert_eq!(
            count(
                &mut conn,
                "SELECT count(*) FROM sqlite_master WHERE name = 'parent_name_idx'"
            )
            .await,
            1
        );
        assert_eq!(
            count(
                &mut conn,
                "SELECT count(*) FROM sqlite_master WHERE name LIKE '_chakra_new_%'"
            )
            .await,
            0
        );
        // The unique constraint survived.
        let dup = sqlx::raw_sql("INSERT INTO parent (name, code) VALUES ('d', 'x')")
            .execute(&mut conn)
            .await;
        assert!(dup.is_err(), "UNIQUE on code is kept");
        // AUTOINCREMENT keeps its high-water mark.
        exec(
            &mut conn,
            "INSERT INTO parent (name, code) VALUES ('e', 'e')",
        )
        .await;
        assert_eq!(count(&mut conn, "SELECT max(id) FROM parent").await, 8);
        // The child's foreign key still points at the rebuilt table and is enforced.
        assert_eq!(count(&mut conn, "SELECT count(*) FROM child").await, 2);
        let orphan = sqlx::raw_sql("INSERT INTO child (parent_id) VALUES (99)")
            .execute(&mut conn)
            .await;
        assert!(
            orphan.is_err(),
            "foreign key into the rebuilt table is enforced"
        );
        exec(&mut conn, "DELETE FROM parent WHERE id = 1").await;
        assert_eq!(
            count(&mut conn, "SELECT count(*) FROM child").await,
            1,
            "ON DELETE CASCADE still works"
        );

        // Rebuild the child (the table holding the foreign key) too.
        let child = s.model(APP, "Child").expect("child").clone();
        let op = alter_field(
            &child,
            nullable(fk("parent_id", "parent", "Parent", OnAction::SetNull)),
        );
        s = apply(&mut conn, &s, &op).await;
        exec(&mut conn, "DELETE FROM parent WHERE id = 2").await;
        assert_eq!(
            count(
                &mut conn,
                "SELECT count(*) FROM child WHERE parent_id IS NULL"
            )
            .await,
            1,
            "ON DELETE SET NULL after rebuild"
        );
        assert_eq!(
            count(
                &mut conn,
                "SELECT count(*) FROM sqlite_master WHERE name = 'child_parent_idx'"
            )
            .await,
            1
        );
        let _ = s;
    }

    #[tokio::test]
    async fn every_operation_runs() {
        let mut conn = connect().await;
        let mut s = ProjectState::default();
        let u = users();
        s = apply(&mut conn, &s, &create(&u)).await;
        s = apply(
            &mut conn,
            &s,
            &create_index(&u, index("users_email_idx", &["email"], false)),
        )
        .await;
        let p = posts();
        s = apply(&mut conn, &s, &create(&p)).await;
        for i in &p.indexes {
            s = apply(&mut conn, &s, &create_index(&p, i.clone())).await;
        }
        exec(
            &mut conn,
            "INSERT INTO users (username, email) VALUES ('ann', 'a@x'), ('bob', NULL)",
        )
        .await;
        exec(
            &mut conn,
            "INSERT INTO posts (author_id, title) VALUES (1, 'one'), (2, 'two')",
        )
        .await;

        let every_type = model(
            "Everything",
            "everything",
            vec![
                id(),
                field("small", FieldType::SmallInteger),
                with_default(field("flag", FieldType::Boolean), DefaultValue::Bool(true)),
                with_default(field("ratio", FieldType::Double), DefaultValue::Float(2.0)),
                with_default(varchar("s", 9), DefaultValue::Str("it's".to_owned())),
                with_db_default(field("at", FieldType::DateTime), "CURRENT_TIMESTAMP"),
                with_db_default(field("slug", FieldType::Text), "lower('X')"),
                nullable(field("ts", FieldType::Timestamp)),
                nullable(field("d", FieldType::Date)),
                nullable(field("t", FieldType::Time)),
                nullable(field("u", FieldType::Uuid)),
                nullable(field("j", FieldType::Json)),
                nullable(field("b", FieldType::Binary)),
                nullable(FieldState {
                    precision: Some(10),
                    scale: Some(2),
                    ..field("dec", FieldType::Decimal)
                }),
            ],
            vec![],
        );
        s = apply(&mut conn, &s, &create(&every_type)).await;
        exec(&mut conn, "INSERT INTO everything (small) VALUES (1)").await;
        let slug: String = rows(&mut conn, "SELECT slug FROM everything").await[0].get(0);
        assert_eq!(slug, "x");

        let ops = |s: &ProjectState| -> (ModelState, ModelState) {
            (
                s.model(APP, "User").expect("user").clone(),
                s.model(APP, "Post").expect("post").clone(),
            )
        };
        let (u, p) = ops(&s);
        // AddField in place and by rebuild.
        s = apply(
            &mut conn,
            &s,
            &add_field(&u, nullable(field("age", FieldType::Integer))),
        )
        .await;
        s = apply(
            &mut conn,
            &s,
            &add_field(
                &u,
                with_default(
                    field("active", FieldType::Boolean),
                    DefaultValue::Bool(true),
                ),
            ),
        )
        .await;
        s = apply(
            &mut conn,
            &s,
            &add_field(&u, unique(nullable(varchar("nick", 20)))),
        )
        .await;
        s = apply(
            &mut conn,
            &s,
            &add_field(
                &u,
                with_db_default(field("joined", FieldType::DateTime), "CURRENT_TIMESTAMP"),
            ),
        )
        .await;
        s = apply(
            &mut conn,
            &s,
            &add_field(
                &p,
                with_default(
                    fk("editor_id", "users", "User", OnAction::NoAction),
                    DefaultValue::Int(1),
                ),
            ),
        )
        .await;
        s = apply(
            &mut conn,
            &s,
            &add_field(
                &p,
                nullable(fk("reviewer_id", "users", "User", OnAction::SetNull)),
            ),
        )
        .await;
        assert_eq!(
            count(&mut conn, "SELECT count(*) FROM posts WHERE editor_id = 1").await,
            2
        );
        assert_eq!(
            count(
                &mut conn,
                "SELECT count(*) FROM users WHERE joined IS NOT NULL"
            )
            .await,
            2
        );

        // AlterField: type, nullability, default, unique, foreign key, column rename.
        let (u, p) = ops(&s);
        s = apply(
            &mut conn,
            &s,
            &alter_field(&u, nullable(varchar("email", 320))),
        )
        .await;
        s = apply(
            &mut conn,
            &s,
            &alter_field(
                &u,
                with_default(varchar("email", 320), DefaultValue::Str("none".to_owned())),
            ),
        )
        .await;
        assert_eq!(
            count(&mut conn, "SELECT count(*) FROM users WHERE email = 'none'").await,
            1
        );
        s = apply(
            &mut conn,
            &s,
            &alter_field(
                &p,
                with_default(field("views", FieldType::BigInteger), DefaultValue::Int(5)),
            ),
        )
        .await;
        s = apply(
            &mut conn,
            &s,
            &alter_field(
                &u,
                FieldState {
                    column: Some("login".to_owned()),
                    ..unique(varchar("username", 50))
                },
            ),
        )
        .await;
        s = apply(
            &mut conn,
            &s,
            &alter_field(
                &u,
                FieldState {
                    column: Some("login".to_owned()),
                    ..varchar("username", 80)
                },
            ),
        )
        .await;
        s = apply(
            &mut conn,
            &s,
            &alter_field(
                &p,
                nullable(fk("author_id", "users", "User", OnAction::SetNull)),
            ),
        )
        .await;
        exec(&mut conn, "DELETE FROM users WHERE id = 2").await;
        assert_eq!(
            count(
                &mut conn,
                "SELECT count(*) FROM posts WHERE author_id IS NULL"
            )
            .await,
            1
        );

        // RemoveField in place and by rebuild; indexes go first.
        let (u, p) = ops(&s);
        s = apply(&mut conn, &s, &remove_field(&u, "age")).await;
        s = apply(&mut conn, &s, &remove_field(&u, "nick")).await;
        s = apply(&mut conn, &s, &drop_index(&p, "posts_author_title")).await;
        s = apply(&mut conn, &s, &remove_field(&p, "author_id")).await;
        s = apply(&mut conn, &s, &remove_field(&p, "reviewer_id")).await;
        s = apply(&mut conn, &s, &drop_index(&p, "posts_title_uniq")).await;
        assert_eq!(count(&mut conn, "SELECT count(*) FROM posts").await, 2);

        let run = Operation::RunSql(RunSql {
            forward: "UPDATE posts SET views = 9".to_owned(),
            reverse: None,
            reversible: None,
        });
        s = apply(&mut conn, &s, &run).await;
        assert_eq!(count(&mut conn, "SELECT sum(views) FROM posts").await, 18);
        let del = |name: &str, table: &str| {
            Operation::DeleteModel(ModelRef {
                model: name.to_owned(),
                table: table.to_owned(),
            })
        };
        s = apply(&mut conn, &s, &del("Post", "posts")).await;
        s = apply(&mut conn, &s, &del("Everything", "everything")).await;
        s = apply(&mut conn, &s, &del("User", "users")).await;
        assert!(s.models.is_empty());
        assert_eq!(count(&mut conn, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").await, 0);
    }

    /// Runs `sql`, which must fail (a constraint rejects it).
    async fn rejected(conn: &mut SqliteConnection, sql: &str) {
        let res = sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
            .execute(&mut *conn)
            .await;
        assert!(res.is_err(), "{sql} should be rejected");
    }

    #[tokio::test]
    async fn constraints_are_enforced_and_survive_rebuilds() {
        let mut conn = connect().await;
        let mut s = ProjectState::default();
        let u = users();
        let p = posts();
        s = apply(&mut conn, &s, &create(&u)).await;
        s = apply(&mut conn, &s, &create(&p)).await;
        exec(&mut conn, "INSERT INTO users (username) VALUES ('ann')").await;
        exec(
            &mut conn,
            "INSERT INTO posts (author_id, title, views) VALUES (1, 'a', 1), (1, 'b', 2)",
        )
        .await;
        for c in posts_with_constraints().constraints {
            s = apply(&mut conn, &s, &add_constraint(&p, c)).await;
        }
        assert_eq!(count(&mut conn, "SELECT count(*) FROM posts").await, 2);
        rejected(
            &mut conn,
            "INSERT INTO posts (author_id, title, views) VALUES (1, 'a', 3)",
        )
        .await;
        rejected(
            &mut conn,
            "INSERT INTO posts (author_id, title, views) VALUES (1, 'c', -1)",
        )
        .await;

        // Any other rebuild keeps them.
        let pc = s.model(APP, "Post").expect("posts").clone();
        s = apply(&mut conn, &s, &alter_field(&pc, varchar("title", 300))).await;
        rejected(
            &mut conn,
            "INSERT INTO posts (author_id, title, views) VALUES (1, 'a', 3)",
        )
        .await;
        rejected(
            &mut conn,
            "INSERT INTO posts (author_id, title, views) VALUES (1, 'c', -1)",
        )
        .await;

        // A constraint the rows violate fails the operation, which leaves nothing behind.
        let op = add_constraint(&pc, check("posts_views_big", "views > 1"));
        let sql = operation_sql(DialectKind::Sqlite, APP, &op, &s).expect("sql");
        exec(&mut conn, "PRAGMA foreign_keys = OFF").await;
        exec(&mut conn, "BEGIN").await;
        let mut failed = false;
        for st in &sql.statements {
            if sqlx::raw_sql(AssertSqlSafe(st.clone()))
                .execute(&mut conn)
                .await
                .is_err()
            {
                failed = true;
                break;
            }
        }
        exec(&mut conn, "ROLLBACK").await;
        exec(&mut conn, "PRAGMA foreign_keys = ON").await;
        assert!(failed, "the row with views = 1 violates the new check");
        assert_eq!(count(&mut conn, "SELECT count(*) FROM posts").await, 2);

        s = apply(
            &mut conn,
            &s,
            &remove_constraint(&pc, "posts_views_non_negative"),
        )
        .await;
        s = apply(
            &mut conn,
            &s,
            &remove_constraint(&pc, "posts_author_id_title_uniq"),
        )
        .await;
        exec(
            &mut conn,
            "INSERT INTO posts (author_id, title, views) VALUES (1, 'a', -1)",
        )
        .await;
        assert_eq!(count(&mut conn, "SELECT count(*) FROM posts").await, 3);
        let _ = s;
    }

    #[tokio::test]
    async fn scenario_runs() {
        let mut conn = connect().await;
        for (op, before) in scenario() {
            apply(&mut conn, &before, &op).await;
        }
        let tags: Vec<i64> = rows(&mut conn, "SELECT id FROM tags ORDER BY id")
            .await
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(tags, [1, 2, 3]);
    }

    #[tokio::test]
    async fn rebuild_under_a_view_fails_and_rolls_back() {
        let mut conn = connect().await;
        let u = users();
        let s = apply(&mut conn, &ProjectState::default(), &create(&u)).await;
        exec(&mut conn, "INSERT INTO users (username) VALUES ('ann')").await;
        exec(&mut conn, "CREATE VIEW names AS SELECT username FROM users").await;
        let op = alter_field(&u, varchar("username", 80));
        let sql = operation_sql(DialectKind::Sqlite, APP, &op, &s).expect("sql");
        assert!(sql.rebuilds_table);
        exec(&mut conn, "PRAGMA foreign_keys = OFF").await;
        exec(&mut conn, "BEGIN").await;
        let mut failed = None;
        for st in &sql.statements {
            if let Err(e) = sqlx::raw_sql(AssertSqlSafe(st.clone()))
                .execute(&mut conn)
                .await
            {
                failed = Some(e.to_string());
                break;
            }
        }
        exec(&mut conn, "ROLLBACK").await;
        let failed = failed.expect("the rename checks the view and fails");
        assert!(failed.contains("view names"), "{failed}");
        assert_eq!(count(&mut conn, "SELECT count(*) FROM names").await, 1);
        let table_sql: String = rows(
            &mut conn,
            "SELECT sql FROM sqlite_master WHERE name = 'users'",
        )
        .await[0]
            .get(0);
        assert!(table_sql.contains("VARCHAR(50)"), "unchanged: {table_sql}");
    }

    #[tokio::test]
    async fn reserved_words_and_quotes_run() {
        let mut conn = connect().await;
        let mut s = ProjectState::default();
        let m = model(
            "Order",
            "order",
            vec![
                FieldState {
                    column: Some("select".to_owned()),
                    ..id()
                },
                unique(varchar("from", 10)),
                field("we\"ird", FieldType::Integer),
                with_default(varchar("quote's", 10), DefaultValue::Str("'".to_owned())),
            ],
            vec![],
        );
        s = apply(&mut conn, &s, &create(&m)).await;
        s = apply(
            &mut conn,
            &s,
            &create_index(&m, index("order\"idx", &["from", "we\"ird"], true)),
        )
        .await;
        exec(
            &mut conn,
            "INSERT INTO \"order\" (\"from\", \"we\"\"ird\") VALUES ('x', 1)",
        )
        .await;
        s = apply(&mut conn, &s, &alter_field(&m, varchar("from", 20))).await;
        let q: String = rows(&mut conn, "SELECT \"quote's\" FROM \"order\"").await[0].get(0);
        assert_eq!(q, "'");
        let _ = s;
    }
}

/// A long migration history touching every operation and most options: each operation's SQL
/// for every dialect, in order. Executed on SQLite by `sqlite_exec::scenario_runs`; with
/// `CHAKRA_DIALECT_SCRIPTS=<dir>` the PostgreSQL and MySQL scripts are written there, to be
/// run by hand (`psql -v ON_ERROR_STOP=1 --single-transaction -f postgres.sql`,
/// `mysql db < mysql.sql`).
fn scenario() -> Vec<(Operation, ProjectState)> {
    let mut ops: Vec<(Operation, ProjectState)> = Vec::new();
    let mut s = ProjectState::default();
    let mut step = |s: &mut ProjectState, op: Operation| {
        ops.push((op.clone(), s.clone()));
        s.apply(APP, &op).expect("the scenario fits the state");
    };
    let raw = |sql: &str| {
        Operation::RunSql(RunSql {
            forward: sql.to_owned(),
            reverse: None,
            reversible: None,
        })
    };
    let get = |s: &ProjectState, n: &str| s.model(APP, n).expect("model").clone();
    let u = users();
    step(&mut s, create(&u));
    step(
        &mut s,
        create_index(&u, index("users_email_idx", &["email"], false)),
    );
    let p = posts();
    step(&mut s, create(&p));
    for i in &p.indexes {
        step(&mut s, create_index(&p, i.clone()));
    }
    step(
        &mut s,
        raw("INSERT INTO users (username, email) VALUES ('ann', 'a@x'), ('bob', NULL)"),
    );
    step(
        &mut s,
        raw("INSERT INTO posts (author_id, title) VALUES (1, 'one'), (2, 'two')"),
    );
    // every type and default
    let every = model(
        "Everything",
        "everything",
        vec![
            id(),
            field("small", FieldType::SmallInteger),
            with_default(field("flag", FieldType::Boolean), DefaultValue::Bool(true)),
            with_default(field("ratio", FieldType::Double), DefaultValue::Float(2.0)),
            with_default(field("share", FieldType::Float), DefaultValue::Float(0.25)),
            with_default(varchar("s", 9), DefaultValue::Str("it's".to_owned())),
            with_default(
                varchar("path", 20),
                DefaultValue::Str("C:\\temp".to_owned()),
            ),
            with_default(
                field("body", FieldType::Text),
                DefaultValue::Str("".to_owned()),
            ),
            with_default(
                field("data", FieldType::Json),
                DefaultValue::Str("{}".to_owned()),
            ),
            with_db_default(field("at", FieldType::DateTime), "CURRENT_TIMESTAMP"),
            with_db_default(field("ts", FieldType::Timestamp), "CURRENT_TIMESTAMP"),
            with_db_default(field("slug", FieldType::Text), "lower('X')"),
            with_db_default(varchar("code", 10), "(upper('abc'))"),
            with_db_default(field("rank", FieldType::Integer), "0"),
            nullable(field("d", FieldType::Date)),
            nullable(field("t", FieldType::Time)),
            nullable(field("u", FieldType::Uuid)),
            nullable(field("b", FieldType::Binary)),
            nullable(field("str_unbounded", FieldType::String)),
            nullable(FieldState {
                precision: Some(10),
                scale: Some(2),
                ..field("dec", FieldType::Decimal)
            }),
            nullable(FieldState {
                precision: Some(8),
                ..field("dec_p", FieldType::Decimal)
            }),
            nullable(field("dec_u", FieldType::Decimal)),
        ],
        vec![],
    );
    step(&mut s, create(&every));
    step(&mut s, raw("INSERT INTO everything (small) VALUES (1)"));
    let memberships = model(
        "Membership",
        "memberships",
        vec![
            FieldState {
                primary_key: true,
                ..fk("user_id", "users", "User", OnAction::Cascade)
            },
            FieldState {
                primary_key: true,
                ..field("group_id", FieldType::Integer)
            },
            FieldState {
                primary_key: true,
                ..field("role", FieldType::Integer)
            },
            unique(varchar("code", 12)),
        ],
        vec![],
    );
    step(&mut s, create(&memberships));
    let mut comments = model(
        "Comment",
        "comments",
        vec![
            id(),
            fk("post_id", "posts", "Post", OnAction::Cascade),
            nullable(fk("editor_id", "users", "User", OnAction::SetNull)),
            nullable(fk("parent_id", "comments", "Comment", OnAction::Restrict)),
        ],
        vec![],
    );
    if let Some(ForeignKey { on_update, .. }) = &mut comments.fields[1].foreign_key {
        *on_update = OnAction::Cascade;
    }
    step(&mut s, create(&comments));
    let countries = model(
        "Country",
        "countries",
        vec![
            FieldState {
                primary_key: true,
                ..varchar("code", 2)
            },
            FieldState {
                primary_key: true,
                ..field("id", FieldType::Integer)
            },
        ],
        vec![],
    );
    step(&mut s, create(&countries));
    let order = model(
        "Order",
        "order",
        vec![
            FieldState {
                column: Some("select".to_owned()),
                ..id()
            },
            unique(varchar("from", 10)),
            field("we\"ird", FieldType::Integer),
            field("back`tick", FieldType::Integer),
            with_default(varchar("quote's", 10), DefaultValue::Str("'".to_owned())),
        ],
        vec![],
    );
    step(&mut s, create(&order));
    step(
        &mut s,
        create_index(&order, index("order\"idx", &["from", "we\"ird"], false)),
    );
    step(
        &mut s,
        create_index(&order, index("group", &["back`tick"], true)),
    );
    step(&mut s, alter_field(&order, unique(varchar("from", 20))));
    let tags = model("Tag", "tags", vec![varchar("name", 30)], vec![]);
    step(&mut s, create(&tags));
    step(&mut s, raw("INSERT INTO tags (name) VALUES ('a'), ('b')"));
    {
        let m = get(&s, "Tag");
        step(&mut s, add_field(&m, id()));
    }
    // AddField
    let u = get(&s, "User");
    step(
        &mut s,
        add_field(&u, nullable(field("age", FieldType::Integer))),
    );
    step(
        &mut s,
        add_field(
            &u,
            with_default(
                field("active", FieldType::Boolean),
                DefaultValue::Bool(true),
            ),
        ),
    );
    step(
        &mut s,
        add_field(
            &u,
            with_db_default(field("score", FieldType::Double), "0.5"),
        ),
    );
    step(
        &mut s,
        add_field(
            &u,
            with_default(
                field("bio", FieldType::Text),
                DefaultValue::Str("none".to_owned()),
            ),
        ),
    );
    step(&mut s, add_field(&u, unique(nullable(varchar("nick", 20)))));
    step(
        &mut s,
        add_field(
            &u,
            with_db_default(field("joined", FieldType::DateTime), "CURRENT_TIMESTAMP"),
        ),
    );
    step(
        &mut s,
        add_field(
            &u,
            nullable(fk("invited_by", "users", "User", OnAction::SetNull)),
        ),
    );
    let p = get(&s, "Post");
    step(
        &mut s,
        add_field(
            &p,
            with_default(
                fk("editor_id", "users", "User", OnAction::NoAction),
                DefaultValue::Int(1),
            ),
        ),
    );
    step(
        &mut s,
        add_field(
            &p,
            nullable(fk("reviewer_id", "users", "User", OnAction::SetNull)),
        ),
    );
    step(
        &mut s,
        add_field(&p, nullable(field("owner", FieldType::BigInteger))),
    );
    // AlterField
    let (u, p) = (get(&s, "User"), get(&s, "Post"));
    step(&mut s, alter_field(&u, nullable(varchar("email", 320))));
    step(
        &mut s,
        alter_field(
            &u,
            with_default(varchar("email", 320), DefaultValue::Str("none".to_owned())),
        ),
    );
    step(
        &mut s,
        alter_field(
            &u,
            unique(with_default(
                varchar("email", 320),
                DefaultValue::Str("none".to_owned()),
            )),
        ),
    );
    step(
        &mut s,
        alter_field(
            &u,
            with_default(varchar("email", 320), DefaultValue::Str("none".to_owned())),
        ),
    );
    step(
        &mut s,
        alter_field(
            &p,
            with_default(field("views", FieldType::BigInteger), DefaultValue::Int(5)),
        ),
    );
    step(
        &mut s,
        alter_field(
            &p,
            with_default(field("views", FieldType::BigInteger), DefaultValue::Int(6)),
        ),
    );
    step(
        &mut s,
        alter_field(
            &p,
            with_db_default(field("views", FieldType::BigInteger), "(1 + 1)"),
        ),
    );
    step(
        &mut s,
        alter_field(&p, field("views", FieldType::BigInteger)),
    );
    step(&mut s, alter_field(&p, nullable(varchar("title", 200))));
    step(
        &mut s,
        alter_field(
            &u,
            FieldState {
                column: Some("login".to_owned()),
                ..unique(varchar("username", 50))
            },
        ),
    );
    step(
        &mut s,
        alter_field(
            &u,
            FieldState {
                column: Some("login".to_owned()),
                ..unique(varchar("username", 80))
            },
        ),
    );
    step(
        &mut s,
        alter_field(
            &u,
            FieldState {
                column: Some("login".to_owned()),
                ..varchar("username", 80)
            },
        ),
    );
    step(
        &mut s,
        alter_field(
            &p,
            nullable(fk("author_id", "users", "User", OnAction::SetNull)),
        ),
    );
    step(
        &mut s,
        alter_field(
            &p,
            FieldState {
                column: Some("writer_id".to_owned()),
                ..nullable(fk("author_id", "users", "User", OnAction::SetNull))
            },
        ),
    );
    step(
        &mut s,
        alter_field(
            &p,
            nullable(fk("owner", "users", "User", OnAction::Cascade)),
        ),
    );
    step(
        &mut s,
        alter_field(
            &p,
            FieldState {
                column: Some("owner_id".to_owned()),
                ..nullable(fk("owner", "users", "User", OnAction::Cascade))
            },
        ),
    );
    step(
        &mut s,
        alter_field(
            &p,
            FieldState {
                column: Some("owner_id".to_owned()),
                ..nullable(field("owner", FieldType::BigInteger))
            },
        ),
    );
    {
        let m = get(&s, "Tag");
        step(
            &mut s,
            alter_field(
                &m,
                FieldState {
                    auto_increment: false,
                    ..id()
                },
            ),
        );
    }
    {
        let m = get(&s, "Tag");
        step(&mut s, alter_field(&m, id()));
    }
    step(&mut s, raw("INSERT INTO tags (name) VALUES ('c')"));
    {
        let m = get(&s, "Country");
        step(&mut s, alter_field(&m, field("id", FieldType::Integer)));
    }
    {
        let m = get(&s, "Country");
        step(
            &mut s,
            alter_field(
                &m,
                FieldState {
                    primary_key: true,
                    ..field("id", FieldType::Integer)
                },
            ),
        );
    }
    let c = get(&s, "Comment");
    step(
        &mut s,
        alter_field(&c, nullable(field("editor_id", FieldType::Integer))),
    );
    // RemoveField
    let (u, p) = (get(&s, "User"), get(&s, "Post"));
    step(&mut s, remove_field(&u, "age"));
    step(&mut s, remove_field(&u, "nick"));
    step(&mut s, remove_field(&u, "invited_by"));
    step(&mut s, drop_index(&p, "posts_author_title"));
    step(&mut s, remove_field(&p, "author_id"));
    step(&mut s, remove_field(&p, "reviewer_id"));
    {
        let m = get(&s, "Membership");
        step(&mut s, remove_field(&m, "role"));
    }
    step(&mut s, drop_index(&p, "posts_title_uniq"));
    {
        let m = get(&s, "Order");
        step(&mut s, drop_index(&m, "group"));
    }
    let del = |name: &str, table: &str| {
        Operation::DeleteModel(ModelRef {
            model: name.to_owned(),
            table: table.to_owned(),
        })
    };
    step(&mut s, del("Comment", "comments"));
    step(&mut s, del("Post", "posts"));
    step(&mut s, del("Membership", "memberships"));
    ops
}

#[test]
fn scenario_sql_on_every_dialect() {
    let mut scripts = [String::new(), String::new(), String::new()];
    for (op, before) in scenario() {
        for (script, kind) in scripts.iter_mut().zip(DIALECTS) {
            let sql = operation_sql(kind, APP, &op, &before)
                .unwrap_or_else(|e| panic!("{kind}: {op}: {e}"));
            script.push_str(&format!("-- {op}\n"));
            for st in sql.statements {
                script.push_str(&st);
                script.push_str(";\n");
            }
        }
    }
    if let Some(dir) = std::env::var_os("CHAKRA_DIALECT_SCRIPTS") {
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir).expect("script directory");
        for (script, kind) in scripts.iter().zip(DIALECTS) {
            std::fs::write(dir.join(format!("{kind}.sql")), script).expect("write script");
        }
    }
}
