//! The autodetector, data-driven: each case is `check(before, after)`, snapshotted as the
//! migration TOML it produces and the SQL of all three dialects side by side.

use chakra::autodetect::{AutodetectError, Hints, NoInput, Questioner, detect, detect_with};
use chakra::dialect::{DialectKind, operation_sql};
use chakra::format::{FORMAT_VERSION, Header, Migration};
use chakra::state::{
    ConstraintKind, ConstraintState, DefaultValue, FieldState, FieldType, IndexState, ModelState,
    OnAction,
};

mod common;
use common::*;

/// Renders the changes from `before` to `after`: per app, the migration file and the SQL on
/// every dialect. Also checks that replaying the operations on `before` gives `after`.
fn check(before: Vec<ModelState>, after: Vec<ModelState>) -> String {
    check_with(before, after, &Hints::default(), &mut NoInput::default())
}

/// [`check`] with rename hints and a questioner.
fn check_with(
    before: Vec<ModelState>,
    after: Vec<ModelState>,
    hints: &Hints,
    questioner: &mut dyn Questioner,
) -> String {
    let from = state(before);
    let to = state(after);
    let changes = detect_with(&from, &to, hints, questioner).expect("detectable");
    let mut out = String::new();
    let mut replayed = from.clone();
    for (app, ops) in &changes.apps {
        for op in ops {
            replayed
                .apply(app, op)
                .expect("operations apply to the state");
        }
    }
    assert_eq!(
        replayed, to,
        "replaying the operations must give the target state"
    );
    assert!(detect(&to, &replayed).expect("detectable").is_empty());
    for (app, ops) in &changes.apps {
        let m = Migration {
            migration: Header {
                id: "0002_change".into(),
                app: app.clone(),
                created_at: None,
                dependencies: vec!["0001_initial".into()],
                description: String::new(),
                atomic: true,
                replaces: Vec::new(),
                format: FORMAT_VERSION,
            },
            operations: ops.clone(),
        };
        out.push_str(&format!("===== {app}: migration =====\n{}\n", m.to_toml()));
        for dialect in [
            DialectKind::Postgres,
            DialectKind::Mysql,
            DialectKind::Sqlite,
        ] {
            out.push_str(&format!("===== {app}: {dialect} =====\n"));
            let mut s = from.clone();
            for op in ops {
                let sql = operation_sql(dialect, app, op, &s).expect("SQL for every dialect");
                for stmt in sql.statements {
                    out.push_str(&stmt);
                    out.push_str(";\n");
                }
                s.apply(app, op).expect("applies");
            }
        }
    }
    out
}

#[test]
fn nothing_changed_gives_no_operations() {
    let s = state(vec![user(), post()]);
    assert!(detect(&s, &s).expect("detectable").is_empty());
}

#[test]
fn initial_models_are_created_targets_first() {
    insta::assert_snapshot!(check(vec![], vec![post(), user()]));
}

#[test]
fn add_nullable_field() {
    let mut after = user();
    after.fields.push(nullable(varchar("email", 255)));
    insta::assert_snapshot!(check(vec![user()], vec![after]));
}

#[test]
fn add_field_with_literal_default() {
    let mut after = user();
    after.fields.push(FieldState {
        default: Some(DefaultValue::Bool(true)),
        ..field("is_active", FieldType::Boolean)
    });
    insta::assert_snapshot!(check(vec![user()], vec![after]));
}

#[test]
fn add_not_null_field_without_default_is_refused() {
    let mut after = user();
    after.fields.push(varchar("phone", 20));
    let err = detect(&state(vec![user()]), &state(vec![after])).unwrap_err();
    assert!(
        matches!(err, AutodetectError::NotNullWithoutDefault { ref field, .. } if field == "phone")
    );
    let text = err.to_string();
    assert!(
        text.contains("default") && text.contains("Option<_>"),
        "{text}"
    );
}

#[test]
fn remove_field() {
    let mut before = user();
    before.fields.push(nullable(varchar("email", 255)));
    insta::assert_snapshot!(check(vec![before], vec![user()]));
}

#[test]
fn alter_field_widens_varchar() {
    let mut after = user();
    after.fields[1].max_length = Some(100);
    insta::assert_snapshot!(check(vec![user()], vec![after]));
}

#[test]
fn alter_field_nullability_and_default() {
    let mut before = user();
    before
        .fields
        .push(nullable(field("score", FieldType::Integer)));
    let mut after = user();
    after.fields.push(FieldState {
        default: Some(DefaultValue::Int(0)),
        ..field("score", FieldType::Integer)
    });
    insta::assert_snapshot!(check(vec![before], vec![after]));
}

#[test]
fn delete_model_drops_referencing_first() {
    insta::assert_snapshot!(check(vec![user(), post()], vec![]));
}

#[test]
fn indexes_are_dropped_before_and_created_after() {
    let mut before = post();
    before.indexes.push(IndexState {
        name: "posts_author_idx".into(),
        fields: vec!["author_id".into()],
        unique: false,
    });
    let mut after = post();
    after.fields.push(nullable(varchar("slug", 200)));
    after.indexes.push(IndexState {
        name: "posts_author_idx".into(),
        fields: vec!["author_id".into(), "slug".into()],
        unique: true,
    });
    insta::assert_snapshot!(check(vec![user(), before], vec![user(), after]));
}

#[test]
fn models_referencing_each_other_are_split() {
    let a = model(
        "Author",
        "authors",
        vec![
            pk(),
            nullable(fk("favorite_book_id", "Book", "books", OnAction::SetNull)),
        ],
    );
    let b = model(
        "Book",
        "books",
        vec![
            pk(),
            fk("author_id", "Author", "authors", OnAction::Cascade),
        ],
    );
    insta::assert_snapshot!(check(vec![], vec![a, b]));
}

#[test]
fn deleting_models_in_a_cycle_removes_the_cyclic_key_first() {
    let a = model(
        "Author",
        "authors",
        vec![
            pk(),
            nullable(fk("favorite_book_id", "Book", "books", OnAction::SetNull)),
        ],
    );
    let b = model(
        "Book",
        "books",
        vec![
            pk(),
            fk("author_id", "Author", "authors", OnAction::Cascade),
        ],
    );
    insta::assert_snapshot!(check(vec![a, b], vec![]));
}

#[test]
fn self_reference_stays_inline() {
    let node = model(
        "Node",
        "nodes",
        vec![
            pk(),
            nullable(fk("parent_id", "Node", "nodes", OnAction::Cascade)),
        ],
    );
    insta::assert_snapshot!(check(vec![], vec![node]));
}

#[test]
fn other_apps_get_their_own_operations() {
    let mut tag = model("Tag", "blog_tags", vec![pk(), varchar("name", 40)]);
    tag.app = "blog".into();
    let mut after_user = user();
    after_user
        .fields
        .push(nullable(field("bio", FieldType::Text)));
    insta::assert_snapshot!(check(vec![user()], vec![after_user, tag]));
}

#[test]
fn a_changed_table_is_a_table_rename() {
    let mut after = user();
    after.table = "accounts".into();
    insta::assert_snapshot!(check(vec![user()], vec![after]));
}

#[test]
fn detection_is_deterministic() {
    let a = model(
        "Author",
        "authors",
        vec![
            pk(),
            nullable(fk("favorite_book_id", "Book", "books", OnAction::SetNull)),
        ],
    );
    let b = model(
        "Book",
        "books",
        vec![
            pk(),
            fk("author_id", "Author", "authors", OnAction::Cascade),
        ],
    );
    let first = check(vec![], vec![a.clone(), b.clone(), user(), post()]);
    for _ in 0..5 {
        assert_eq!(
            check(vec![], vec![post(), b.clone(), user(), a.clone()]),
            first
        );
    }
}

#[test]
fn deleting_a_cycle_drops_indexes_on_the_cyclic_key_first() {
    let mut a = model(
        "Author",
        "authors",
        vec![
            pk(),
            nullable(fk("favorite_book_id", "Book", "books", OnAction::SetNull)),
        ],
    );
    a.indexes.push(IndexState {
        name: "authors_favorite_book_id_idx".into(),
        fields: vec!["favorite_book_id".into()],
        unique: false,
    });
    let b = model(
        "Book",
        "books",
        vec![
            pk(),
            fk("author_id", "Author", "authors", OnAction::Cascade),
        ],
    );
    let changes = detect(&state(vec![a, b]), &state(vec![])).expect("detectable");
    let kinds: Vec<String> = changes.apps["default"]
        .iter()
        .map(|op| op.summary())
        .collect();
    assert_eq!(
        kinds,
        [
            "DropIndex authors_favorite_book_id_idx on Author",
            "RemoveField Author.favorite_book_id",
            "DeleteModel Book (books)",
            "DeleteModel Author (authors)",
        ]
    );
}

/// Answers yes to every rename question, and records the questions.
#[derive(Default)]
struct Yes(Vec<String>);

impl Questioner for Yes {
    fn rename_model(&mut self, app: &str, old: &str, new: &str) -> bool {
        self.0.push(format!("model {app}.{old} -> {new}"));
        true
    }
    fn rename_field(&mut self, app: &str, model: &str, old: &str, new: &str) -> bool {
        self.0.push(format!("field {app}.{model}.{old} -> {new}"));
        true
    }
}

fn hint_model(new: &str, old: &str) -> Hints {
    let mut h = Hints::default();
    h.models.insert(("default".into(), new.into()), old.into());
    h
}

fn hint_field(model: &str, new: &str, old: &str) -> Hints {
    let mut h = Hints::default();
    h.fields
        .insert((("default".into(), model.into()), new.into()), old.into());
    h
}

fn with_name_field(name: &str) -> ModelState {
    let mut u = user();
    u.fields.push(nullable(varchar(name, 100)));
    u
}

#[test]
fn renamed_field_with_a_hint_keeps_its_column_data() {
    let out = check_with(
        vec![with_name_field("name")],
        vec![with_name_field("full_name")],
        &hint_field("User", "full_name", "name"),
        &mut NoInput::default(),
    );
    insta::assert_snapshot!(out);
}

#[test]
fn renamed_model_with_a_hint_renames_its_table_and_follows_references() {
    let mut account = user();
    account.name = "Account".into();
    account.table = "accounts".into();
    let mut p = post();
    p.fields[1].foreign_key.as_mut().expect("fk").model = "Account".into();
    p.fields[1].foreign_key.as_mut().expect("fk").table = "accounts".into();
    insta::assert_snapshot!(check_with(
        vec![user(), post()],
        vec![account, p],
        &hint_model("Account", "User"),
        &mut NoInput::default()
    ));
}

#[test]
fn a_matching_removed_and_added_field_is_asked_about() {
    let mut yes = Yes::default();
    let out = check_with(
        vec![with_name_field("name")],
        vec![with_name_field("full_name")],
        &Hints::default(),
        &mut yes,
    );
    assert_eq!(yes.0, ["field default.User.name -> full_name"]);
    assert!(out.contains("type = \"RenameField\""), "{out}");

    // Without a terminal the answer is no, and the user is told how to keep the data.
    let mut no = NoInput::default();
    let out = check_with(
        vec![with_name_field("name")],
        vec![with_name_field("full_name")],
        &Hints::default(),
        &mut no,
    );
    assert!(
        out.contains("type = \"RemoveField\"") && out.contains("type = \"AddField\""),
        "{out}"
    );
    assert_eq!(no.declined.len(), 1);
    assert!(
        no.declined[0].contains("#[chakra(renamed_from = \"name\")]"),
        "{}",
        no.declined[0]
    );

    // A different definition is not a rename candidate: no question.
    let mut yes = Yes::default();
    let mut other = user();
    other
        .fields
        .push(nullable(field("full_name", FieldType::Text)));
    check_with(
        vec![with_name_field("name")],
        vec![other],
        &Hints::default(),
        &mut yes,
    );
    assert!(yes.0.is_empty(), "{:?}", yes.0);
}

#[test]
fn a_matching_removed_and_added_model_is_asked_about() {
    let mut account = user();
    account.name = "Account".into();
    account.table = "accounts".into();
    let mut yes = Yes::default();
    let out = check_with(
        vec![user()],
        vec![account.clone()],
        &Hints::default(),
        &mut yes,
    );
    assert_eq!(yes.0, ["model default.User -> Account"]);
    assert!(out.contains("type = \"RenameModel\""), "{out}");
    let mut no = NoInput::default();
    let out = check_with(vec![user()], vec![account], &Hints::default(), &mut no);
    assert!(out.contains("type = \"DeleteModel\""), "{out}");
    assert!(
        no.declined[0].contains("renamed_from = \"User\""),
        "{:?}",
        no.declined
    );
}

#[test]
fn an_index_that_only_changed_its_name_is_renamed() {
    let idx = |name: &str| IndexState {
        name: name.into(),
        fields: vec!["username".into()],
        unique: false,
    };
    let mut before = user();
    before.indexes.push(idx("users_username_idx"));
    let mut after = user();
    after.indexes.push(idx("users_login_idx"));
    insta::assert_snapshot!(check(vec![before], vec![after]));
}

#[test]
fn a_renamed_field_that_also_changes_is_renamed_then_altered() {
    let mut after = with_name_field("full_name");
    after.fields[2].max_length = Some(200);
    let out = check_with(
        vec![with_name_field("name")],
        vec![after],
        &hint_field("User", "full_name", "name"),
        &mut NoInput::default(),
    );
    let rename = out.find("type = \"RenameField\"").expect("rename");
    let alter = out.find("type = \"AlterField\"").expect("alter");
    assert!(rename < alter, "{out}");
}

/// Gives `value` whenever a one-off default is asked for.
struct Fill(DefaultValue);

impl Questioner for Fill {
    fn rename_model(&mut self, _: &str, _: &str, _: &str) -> bool {
        false
    }
    fn rename_field(&mut self, _: &str, _: &str, _: &str, _: &str) -> bool {
        false
    }
    fn one_off_default(
        &mut self,
        _: &str,
        _: &str,
        _: &str,
        _: &FieldState,
        _: bool,
    ) -> Option<DefaultValue> {
        Some(self.0.clone())
    }
}

#[test]
fn a_not_null_field_without_default_takes_a_one_off_value() {
    let mut after = user();
    after.fields.push(varchar("phone", 20));
    insta::assert_snapshot!(check_with(
        vec![user()],
        vec![after],
        &Hints::default(),
        &mut Fill(DefaultValue::Str("unknown".into()))
    ));
}

#[test]
fn a_field_becoming_not_null_fills_its_nulls_with_a_one_off_value() {
    let mut before = user();
    before
        .fields
        .push(nullable(field("score", FieldType::Integer)));
    let mut after = user();
    after.fields.push(field("score", FieldType::Integer));
    insta::assert_snapshot!(check_with(
        vec![before],
        vec![after],
        &Hints::default(),
        &mut Fill(DefaultValue::Int(0))
    ));
}

// ----- constraints -----

fn unique_together(name: &str, fields: &[&str]) -> ConstraintState {
    ConstraintState {
        name: name.into(),
        kind: ConstraintKind::Unique {
            fields: fields.iter().map(|f| (*f).to_owned()).collect(),
        },
    }
}

fn check_constraint(name: &str, expr: &str) -> ConstraintState {
    ConstraintState {
        name: name.into(),
        kind: ConstraintKind::Check { expr: expr.into() },
    }
}

/// `post()` with a nullable `slug` and `constraints` (sorted by name as in a state).
fn post_with(slug: &str, mut constraints: Vec<ConstraintState>) -> ModelState {
    let mut p = post();
    p.fields.push(nullable(varchar(slug, 200)));
    constraints.sort_by(|a, b| a.name.cmp(&b.name));
    p.constraints = constraints;
    p
}

fn summaries(before: Vec<ModelState>, after: Vec<ModelState>, hints: &Hints) -> Vec<String> {
    let changes = detect_with(
        &state(before),
        &state(after),
        hints,
        &mut NoInput::default(),
    )
    .expect("detectable");
    changes
        .apps
        .values()
        .flatten()
        .map(|op| op.summary())
        .collect()
}

#[test]
fn constraints_of_a_new_model_are_added_after_it() {
    let p = post_with(
        "slug",
        vec![
            unique_together("posts_author_id_slug_uniq", &["author_id", "slug"]),
            check_constraint("posts_body_not_empty", "length(body) > 0"),
        ],
    );
    insta::assert_snapshot!(check(vec![user()], vec![user(), p]));
}

#[test]
fn constraints_are_removed_before_and_added_after_field_changes() {
    let before = post_with(
        "slug",
        vec![
            unique_together("posts_author_id_slug_uniq", &["author_id", "slug"]),
            check_constraint("posts_body_not_empty", "length(body) > 0"),
            check_constraint("posts_kept", "author_id > 0"),
        ],
    );
    let after = post_with(
        "title",
        vec![
            unique_together("posts_author_id_title_uniq", &["author_id", "title"]),
            check_constraint("posts_body_not_empty", "length(body) > 1"),
            check_constraint("posts_kept", "author_id > 0"),
        ],
    );
    insta::assert_snapshot!(check(vec![user(), before], vec![user(), after]));
}

#[test]
fn renamed_fields_keep_their_constraints() {
    let before = post_with(
        "slug",
        vec![
            // Named by the user: follows the field.
            unique_together("posts_one_slug_per_author", &["author_id", "slug"]),
            // Named after the columns, as unique_together is: a new name, so replaced.
            unique_together("posts_author_id_slug_uniq", &["author_id", "slug"]),
            // SQL text names the column: the user rewrote it, so replaced, and removed
            // before the column is renamed (MySQL refuses to rename it while it is used).
            check_constraint("posts_slug_not_empty", "slug <> ''"),
        ],
    );
    let after = post_with(
        "handle",
        vec![
            unique_together("posts_one_slug_per_author", &["author_id", "handle"]),
            unique_together("posts_author_id_handle_uniq", &["author_id", "handle"]),
            check_constraint("posts_slug_not_empty", "handle <> ''"),
        ],
    );
    let hints = hint_field("Post", "handle", "slug");
    assert_eq!(
        summaries(
            vec![user(), before.clone()],
            vec![user(), after.clone()],
            &hints
        ),
        [
            "RemoveConstraint posts_author_id_slug_uniq on Post",
            "RemoveConstraint posts_slug_not_empty on Post",
            "RenameField Post.slug -> handle",
            "AddConstraint posts_author_id_handle_uniq on Post: UNIQUE (author_id, handle)",
            "AddConstraint posts_slug_not_empty on Post: CHECK (handle <> '')",
        ]
    );
    insta::assert_snapshot!(check_with(
        vec![user(), before],
        vec![user(), after],
        &hints,
        &mut NoInput::default()
    ));
}

#[test]
fn renamed_models_keep_their_constraints_and_removals_use_the_old_name() {
    let mut before = user();
    before.fields.push(nullable(varchar("email", 200)));
    before.constraints = vec![
        check_constraint("users_email_has_at", "email LIKE '%@%'"),
        unique_together("users_username_email_uniq", &["username", "email"]),
    ];
    let mut after = before.clone();
    after.name = "Account".into();
    after.table = "accounts".into();
    after.constraints = vec![
        unique_together("accounts_username_email_uniq", &["username", "email"]),
        check_constraint("users_email_has_at", "email LIKE '%@%'"),
    ];
    let mut p = post();
    p.fields[1].foreign_key.as_mut().expect("fk").model = "Account".into();
    p.fields[1].foreign_key.as_mut().expect("fk").table = "accounts".into();
    assert_eq!(
        summaries(
            vec![before, post()],
            vec![after, p],
            &hint_model("Account", "User")
        ),
        [
            "RemoveConstraint users_username_email_uniq on User",
            "RenameModel User -> Account (users -> accounts)",
            "AddConstraint accounts_username_email_uniq on Account: UNIQUE (username, email)",
        ]
    );
}

#[test]
fn deleting_a_cycle_removes_constraints_on_the_cyclic_key_first() {
    let mut a = model(
        "Author",
        "authors",
        vec![
            pk(),
            nullable(fk("favorite_book_id", "Book", "books", OnAction::SetNull)),
            varchar("name", 50),
        ],
    );
    a.constraints = vec![
        check_constraint("authors_checked", "favorite_book_id <> 0"),
        unique_together(
            "authors_favorite_book_id_name_uniq",
            &["favorite_book_id", "name"],
        ),
        unique_together("authors_id_name_uniq", &["id", "name"]),
    ];
    let mut b = model(
        "Book",
        "books",
        vec![
            pk(),
            fk("author_id", "Author", "authors", OnAction::Cascade),
        ],
    );
    b.constraints = vec![check_constraint("books_author", "author_id > 0")];
    assert_eq!(
        summaries(vec![a, b], vec![], &Hints::default()),
        [
            "RemoveConstraint authors_checked on Author",
            "RemoveConstraint authors_favorite_book_id_name_uniq on Author",
            "RemoveField Author.favorite_book_id",
            "DeleteModel Book (books)",
            "DeleteModel Author (authors)",
        ]
    );
}

/// `#[chakra(online)]` on `Post`: what changes its existing table is online (a new index, a
/// dropped one, a constraint, a foreign key column); a column without a foreign key has no
/// online form, and a new online model's table is created plainly (it is empty).
#[test]
fn online_models_change_their_existing_tables_without_long_locks() {
    let mut before_post = post();
    before_post.indexes.push(IndexState {
        name: "posts_title_idx".into(),
        fields: vec!["title".into()],
        unique: false,
    });
    let mut after_post = post();
    after_post.fields.push(nullable(fk(
        "editor_id",
        "User",
        "users",
        OnAction::SetNull,
    )));
    after_post.fields.push(nullable(varchar("subtitle", 100)));
    after_post.indexes.push(IndexState {
        name: "posts_subtitle_idx".into(),
        fields: vec!["subtitle".into()],
        unique: false,
    });
    after_post.constraints.push(ConstraintState {
        name: "posts_title_not_empty".into(),
        kind: ConstraintKind::Check {
            expr: "title <> ''".into(),
        },
    });
    let mut tag = model("Tag", "tags", vec![pk(), varchar("name", 50)]);
    tag.indexes.push(IndexState {
        name: "tags_name_idx".into(),
        fields: vec!["name".into()],
        unique: true,
    });
    let mut hints = Hints::default();
    hints.online.insert(("default".into(), "Post".into()));
    hints.online.insert(("default".into(), "Tag".into()));
    insta::assert_snapshot!(check_with(
        vec![user(), before_post],
        vec![user(), after_post, tag],
        &hints,
        &mut NoInput::default()
    ));
}
