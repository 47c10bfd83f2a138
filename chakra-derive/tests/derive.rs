//! `#[derive(Model)]` on valid models: the generated metadata and the registration.
//!
//! The column type is inferred from the syntax of the Rust type, so the chrono, uuid,
//! serde_json and rust_decimal types are stood in for by local types of the same names.

// The models are only declared and inspected, never built; their fields are `pub` like a
// user's, and documenting each one here would say nothing.
#![allow(dead_code, missing_docs)]

use chakra::__private::{ConstraintMeta, DefaultMeta, FieldMeta, FieldType, ModelMeta, OnAction};
use chakra::Model;

/// Stand-ins named like the real types; inference looks only at the names.
mod stand_in {
    use std::marker::PhantomData;

    pub mod chrono {
        use super::PhantomData;
        pub struct Utc;
        pub struct FixedOffset;
        pub struct DateTime<Tz>(PhantomData<Tz>);
        pub struct NaiveDateTime;
        pub struct NaiveDate;
        pub struct NaiveTime;
    }
    pub mod uuid {
        pub struct Uuid;
    }
    pub mod serde_json {
        pub struct Value;
    }
    pub mod rust_decimal {
        pub struct Decimal;
    }
    /// A type chakra does not know, stored with an explicit `type = "..."`.
    pub struct Money(pub i64);
}

use stand_in::chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use stand_in::rust_decimal::Decimal;
use stand_in::serde_json::Value;
use stand_in::uuid::Uuid;

/// References `Post` while `Post` references it: foreign keys are function pointers, so the
/// cycle is fine.
#[derive(Model)]
#[chakra(table = "users")]
pub struct User {
    #[chakra(primary_key)]
    pub id: i64,
    #[chakra(max_length = 50, unique)]
    pub username: String,
    #[chakra(max_length = 255)]
    pub email: Option<String>,
    #[chakra(default = true)]
    pub is_active: bool,
    #[chakra(db_default = "CURRENT_TIMESTAMP")]
    pub created_at: DateTime<Utc>,
    #[chakra(foreign_key = Post, on_delete = "set_null", on_update = "cascade")]
    pub pinned_post_id: Option<i64>,
}

#[derive(Model)]
#[chakra(table = "posts", app = "blog")]
#[chakra(index(name = "posts_author_slug", fields("author_id", "slug"), unique))]
#[chakra(index(name = "posts_created", fields("created_at")))]
#[chakra(unique_together("author_id", "slug"))]
#[chakra(check(name = "posts_views_non_negative", expr = "views >= 0"))]
#[chakra(unique_together("headline", "body"))]
pub struct Post {
    #[chakra(primary_key)]
    pub id: i64,
    #[chakra(foreign_key = crate::User, on_delete = "cascade")]
    pub author_id: i64,
    #[chakra(max_length = 200, index)]
    pub slug: String,
    #[chakra(renamed_from = "title")]
    pub headline: String,
    #[chakra(default = 0)]
    pub views: i32,
    #[chakra(column = "body_text")]
    pub body: String,
    pub created_at: NaiveDateTime,
    #[chakra(skip)]
    pub cached_html: Option<String>,
}

/// A composite primary key, attributes split over several `#[chakra]`, and the default
/// table name.
#[derive(Model)]
#[chakra(app = "blog")]
#[chakra(renamed_from = "PostTag", online)]
pub struct BlogPostTag {
    #[chakra(primary_key)]
    #[chakra(foreign_key = Post)]
    pub post_id: i64,
    #[chakra(primary_key, max_length = 40)]
    pub tag: String,
}

/// Foreign keys to the model itself, written as `Self` and by name.
#[derive(Model)]
pub struct Category {
    #[chakra(primary_key)]
    pub id: i32,
    #[chakra(foreign_key = Self, on_delete = "cascade")]
    pub parent_id: Option<i32>,
    #[chakra(foreign_key = Category, on_delete = "set_null")]
    pub moved_to_id: Option<i32>,
}

/// Every inferred type, in `FieldType::ALL` order, then the nullable forms.
#[derive(Model)]
pub struct AllTypes {
    #[chakra(primary_key, auto_increment = false)]
    pub small: i16,
    pub integer: i32,
    pub big: i64,
    pub float: f32,
    pub double: f64,
    pub boolean: bool,
    #[chakra(max_length = 10)]
    pub string: String,
    pub text: String,
    pub date_time: DateTime<Utc>,
    pub timestamp: NaiveDateTime,
    pub date: NaiveDate,
    pub time: NaiveTime,
    pub uuid: Uuid,
    pub json: Value,
    pub binary: Vec<u8>,
    #[chakra(precision = 10, scale = 2)]
    pub decimal: Decimal,
    pub opt_small: Option<i16>,
    pub opt_text: Option<String>,
    pub opt_date_time: Option<stand_in::chrono::DateTime<stand_in::chrono::FixedOffset>>,
    pub opt_binary: std::option::Option<Vec<u8>>,
    pub opt_decimal: Option<Decimal>,
}

/// Every `type = "..."` name, in `FieldType::ALL` order: ties the derive's list to the
/// runtime enum.
#[derive(Model)]
pub struct ExplicitTypes {
    #[chakra(primary_key, type = "SmallInteger")]
    pub a: stand_in::Money,
    #[chakra(type = "Integer")]
    pub b: stand_in::Money,
    #[chakra(type = "BigInteger")]
    pub c: stand_in::Money,
    #[chakra(type = "Float")]
    pub d: stand_in::Money,
    #[chakra(type = "Double")]
    pub e: stand_in::Money,
    #[chakra(type = "Boolean")]
    pub f: stand_in::Money,
    #[chakra(type = "String", max_length = 3)]
    pub g: stand_in::Money,
    #[chakra(type = "Text")]
    pub h: stand_in::Money,
    #[chakra(type = "DateTime")]
    pub i: stand_in::Money,
    #[chakra(type = "Timestamp")]
    pub j: stand_in::Money,
    #[chakra(type = "Date")]
    pub k: stand_in::Money,
    #[chakra(type = "Time")]
    pub l: stand_in::Money,
    #[chakra(type = "Uuid")]
    pub m: stand_in::Money,
    #[chakra(type = "Json")]
    pub n: Option<stand_in::Money>,
    #[chakra(type = "Binary")]
    pub o: stand_in::Money,
    #[chakra(type = "Decimal", precision = 12)]
    pub p: stand_in::Money,
    /// `type` overrides inference even for a type chakra knows.
    #[chakra(type = "Json")]
    pub q: String,
}

/// Defaults of every literal kind, including negative numbers.
#[derive(Model)]
#[chakra(table = "defaults", app = "defaults_app")]
pub struct HTTPDefaults {
    #[chakra(primary_key, auto_increment)]
    pub id: i32,
    #[chakra(default = false)]
    pub flag: bool,
    #[chakra(default = 42)]
    pub answer: i64,
    #[chakra(default = -1)]
    pub minus_one: i16,
    #[chakra(default = -9223372036854775808)]
    pub smallest: i64,
    #[chakra(default = 1.5)]
    pub ratio: f64,
    #[chakra(default = -0.25)]
    pub negative_ratio: f32,
    #[chakra(default = 3)]
    pub whole_double: f64,
    #[chakra(default = "draft", max_length = 20)]
    pub status: String,
    #[chakra(default = "it's \"quoted\"")]
    pub note: String,
    #[chakra(default = "2024-01-01")]
    pub since: NaiveDate,
    #[chakra(default = "10.50", precision = 6, scale = 2)]
    pub price: Decimal,
    #[chakra(db_default = "gen_random_uuid()")]
    pub token: Uuid,
    pub r#type: i32,
}

fn field<'a>(meta: &'a ModelMeta, name: &str) -> &'a FieldMeta {
    meta.fields
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("{} has no field {name}", meta.name))
}

#[test]
fn user_metadata() {
    let meta = User::meta();
    assert_eq!(meta.name, "User");
    assert_eq!(meta.app, "default");
    assert_eq!(meta.table, "users");
    assert_eq!(meta.renamed_from, None);
    assert!(!meta.online);
    assert_eq!(meta.module_path, "derive");
    assert!(meta.indexes.is_empty());
    let names: Vec<_> = meta.fields.iter().map(|f| f.name).collect();
    assert_eq!(
        names,
        [
            "id",
            "username",
            "email",
            "is_active",
            "created_at",
            "pinned_post_id"
        ]
    );

    let id = field(meta, "id");
    assert!(id.primary_key);
    assert_eq!(id.field_type, FieldType::BigInteger);
    assert_eq!(id.auto_increment, None);
    assert!(!id.nullable);

    let username = field(meta, "username");
    assert_eq!(username.field_type, FieldType::String);
    assert_eq!(username.max_length, Some(50));
    assert!(username.unique);
    assert!(!username.index);

    let email = field(meta, "email");
    assert_eq!(email.field_type, FieldType::String);
    assert!(email.nullable);

    assert_eq!(
        field(meta, "is_active").default,
        Some(DefaultMeta::Bool(true))
    );
    let created_at = field(meta, "created_at");
    assert_eq!(created_at.field_type, FieldType::DateTime);
    assert_eq!(created_at.db_default, Some("CURRENT_TIMESTAMP"));
    assert_eq!(created_at.default, None);

    let pinned = field(meta, "pinned_post_id");
    let fk = pinned.foreign_key.as_ref().expect("a foreign key");
    assert_eq!((fk.target)().name, "Post");
    assert_eq!(fk.on_delete, OnAction::SetNull);
    assert_eq!(fk.on_update, OnAction::Cascade);
    assert!(pinned.nullable);
}

#[test]
fn post_metadata() {
    let meta = Post::meta();
    assert_eq!((meta.name, meta.app, meta.table), ("Post", "blog", "posts"));

    // `skip` fields are not columns.
    assert!(meta.fields.iter().all(|f| f.name != "cached_html"));
    assert_eq!(meta.fields.len(), 7);

    let fk = field(meta, "author_id")
        .foreign_key
        .as_ref()
        .expect("a foreign key");
    assert_eq!((fk.target)().name, "User");
    assert_eq!((fk.target)().table, "users");
    assert_eq!(fk.on_delete, OnAction::Cascade);
    assert_eq!(fk.on_update, OnAction::NoAction);

    let slug = field(meta, "slug");
    assert!(slug.index);
    assert_eq!(slug.max_length, Some(200));

    let headline = field(meta, "headline");
    assert_eq!(headline.renamed_from, Some("title"));
    assert_eq!(headline.field_type, FieldType::Text);

    assert_eq!(field(meta, "views").default, Some(DefaultMeta::Int(0)));
    assert_eq!(field(meta, "views").field_type, FieldType::Integer);

    let body = field(meta, "body");
    assert_eq!(body.column, "body_text");
    assert_eq!(field(meta, "slug").column, "slug");
    assert_eq!(field(meta, "created_at").field_type, FieldType::Timestamp);

    assert_eq!(meta.indexes.len(), 2);
    assert_eq!(meta.indexes[0].name, "posts_author_slug");
    assert_eq!(meta.indexes[0].fields, ["author_id", "slug"]);
    assert!(meta.indexes[0].unique);
    assert_eq!(meta.indexes[1].name, "posts_created");
    assert_eq!(meta.indexes[1].fields, ["created_at"]);
    assert!(!meta.indexes[1].unique);

    // Constraints in declaration order; unique_together is named at run time.
    assert_eq!(meta.constraints.len(), 3);
    assert!(matches!(
        meta.constraints[0],
        ConstraintMeta::UniqueTogether {
            fields: ["author_id", "slug"]
        }
    ));
    assert!(matches!(
        meta.constraints[1],
        ConstraintMeta::Check {
            name: "posts_views_non_negative",
            expr: "views >= 0"
        }
    ));
    assert!(matches!(
        meta.constraints[2],
        ConstraintMeta::UniqueTogether {
            fields: ["headline", "body"]
        }
    ));
}

#[test]
fn composite_primary_key_and_default_table() {
    let meta = BlogPostTag::meta();
    assert_eq!(meta.table, "blog_post_tag");
    assert_eq!(meta.app, "blog");
    assert_eq!(meta.renamed_from, Some("PostTag"));
    assert!(meta.online);
    let pk: Vec<_> = meta
        .fields
        .iter()
        .filter(|f| f.primary_key)
        .map(|f| f.name)
        .collect();
    assert_eq!(pk, ["post_id", "tag"]);
    let post_id = field(meta, "post_id");
    let fk = post_id.foreign_key.as_ref().expect("a foreign key");
    assert_eq!((fk.target)().name, "Post");
    assert_eq!(field(meta, "tag").field_type, FieldType::String);
}

#[test]
fn foreign_keys_to_the_model_itself() {
    let meta = Category::meta();
    for name in ["parent_id", "moved_to_id"] {
        let fk = field(meta, name)
            .foreign_key
            .as_ref()
            .expect("a foreign key");
        assert!(std::ptr::eq((fk.target)(), meta));
    }
}

#[test]
fn every_type_is_inferred() {
    let meta = AllTypes::meta();
    assert_eq!(meta.table, "all_types");
    let types: Vec<_> = meta.fields[..16].iter().map(|f| f.field_type).collect();
    assert_eq!(types, FieldType::ALL);
    assert!(meta.fields[..16].iter().all(|f| !f.nullable));
    assert_eq!(field(meta, "small").auto_increment, Some(false));
    let decimal = field(meta, "decimal");
    assert_eq!((decimal.precision, decimal.scale), (Some(10), Some(2)));

    let nullable: Vec<_> = meta.fields[16..]
        .iter()
        .map(|f| (f.name, f.field_type, f.nullable))
        .collect();
    assert_eq!(
        nullable,
        [
            ("opt_small", FieldType::SmallInteger, true),
            ("opt_text", FieldType::Text, true),
            ("opt_date_time", FieldType::DateTime, true),
            ("opt_binary", FieldType::Binary, true),
            ("opt_decimal", FieldType::Decimal, true),
        ]
    );
}

#[test]
fn every_type_name_is_accepted() {
    let meta = ExplicitTypes::meta();
    let types: Vec<_> = meta.fields[..16].iter().map(|f| f.field_type).collect();
    assert_eq!(types, FieldType::ALL);
    assert!(field(meta, "n").nullable);
    assert_eq!(field(meta, "g").max_length, Some(3));
    assert_eq!(field(meta, "p").precision, Some(12));
    assert_eq!(field(meta, "q").field_type, FieldType::Json);
}

#[test]
fn defaults_of_every_kind() {
    let meta = HTTPDefaults::meta();
    assert_eq!(meta.name, "HTTPDefaults");
    assert_eq!((meta.app, meta.table), ("defaults_app", "defaults"));
    let id = field(meta, "id");
    assert_eq!(id.auto_increment, Some(true));
    assert_eq!(id.field_type, FieldType::Integer);
    let default = |name| field(meta, name).default;
    assert_eq!(default("flag"), Some(DefaultMeta::Bool(false)));
    assert_eq!(default("answer"), Some(DefaultMeta::Int(42)));
    assert_eq!(default("minus_one"), Some(DefaultMeta::Int(-1)));
    assert_eq!(default("smallest"), Some(DefaultMeta::Int(i64::MIN)));
    assert_eq!(default("ratio"), Some(DefaultMeta::Float(1.5)));
    assert_eq!(default("negative_ratio"), Some(DefaultMeta::Float(-0.25)));
    assert_eq!(default("whole_double"), Some(DefaultMeta::Int(3)));
    assert_eq!(default("status"), Some(DefaultMeta::Str("draft")));
    assert_eq!(default("note"), Some(DefaultMeta::Str("it's \"quoted\"")));
    assert_eq!(default("since"), Some(DefaultMeta::Str("2024-01-01")));
    assert_eq!(default("price"), Some(DefaultMeta::Str("10.50")));
    assert_eq!(default("token"), None);
    assert_eq!(field(meta, "token").db_default, Some("gen_random_uuid()"));
    // Raw identifiers lose their `r#`.
    assert_eq!(field(meta, "type").column, "type");
}

#[test]
fn models_are_registered() {
    let models = chakra::model::registered_models();
    let keys: Vec<_> = models.iter().map(|m| (m.app, m.name)).collect();
    for expected in [
        ("default", "User"),
        ("blog", "Post"),
        ("blog", "BlogPostTag"),
        ("default", "AllTypes"),
        ("default", "ExplicitTypes"),
        ("defaults_app", "HTTPDefaults"),
    ] {
        assert!(keys.contains(&expected), "{expected:?} not in {keys:?}");
    }
    // The registry hands out the same statics as `Model::meta`.
    let user = models.iter().find(|m| m.name == "User").expect("User");
    assert!(std::ptr::eq(*user, User::meta()));
}

#[test]
fn models_build_a_state() {
    // The runtime accepts what the derive generates (foreign keys resolve, and so on).
    let models = [
        User::meta(),
        Post::meta(),
        BlogPostTag::meta(),
        AllTypes::meta(),
        ExplicitTypes::meta(),
        HTTPDefaults::meta(),
    ];
    let state = chakra::state::ProjectState::from_models(&models).expect("a valid state");
    let post = state.model("blog", "Post").expect("Post");
    let author = post.field("author_id").expect("author_id");
    let fk = author.foreign_key.as_ref().expect("a foreign key");
    assert_eq!((fk.table.as_str(), fk.column.as_str()), ("users", "id"));

    // unique_together is named after the table and the columns (`body` is `body_text`);
    // constraints are sorted by name.
    use chakra::state::ConstraintKind;
    let constraints: Vec<(&str, &ConstraintKind)> = post
        .constraints
        .iter()
        .map(|c| (c.name.as_str(), &c.kind))
        .collect();
    assert_eq!(
        constraints,
        [
            (
                "posts_author_id_slug_uniq",
                &ConstraintKind::Unique {
                    fields: vec!["author_id".into(), "slug".into()]
                }
            ),
            (
                "posts_headline_body_text_uniq",
                &ConstraintKind::Unique {
                    fields: vec!["headline".into(), "body".into()]
                }
            ),
            (
                "posts_views_non_negative",
                &ConstraintKind::Check {
                    expr: "views >= 0".into()
                }
            ),
        ]
    );
}

#[test]
fn table_names_match_the_runtime_snake_case() {
    for meta in [BlogPostTag::meta(), AllTypes::meta(), ExplicitTypes::meta()] {
        assert_eq!(meta.table, chakra::naming::snake_case(meta.name));
    }
}

/// A model declared inside a function, with a struct index and a field index together.
#[test]
fn local_model() {
    #[derive(Model)]
    #[chakra(index(name = "local_ab", fields("a", "b")), table = "local")]
    struct Local {
        #[chakra(primary_key)]
        id: i64,
        #[chakra(index)]
        a: i32,
        b: i32,
    }
    let meta = Local::meta();
    assert_eq!(meta.table, "local");
    assert!(field(meta, "a").index);
    assert_eq!(meta.indexes[0].fields, ["a", "b"]);
    assert!(meta.module_path.starts_with("derive"));
}
