//! Reading `#[chakra(...)]` attributes into typed values that remember where they were
//! written.
//!
//! Parsing never stops at the first mistake: an unknown key, a duplicate or a value of the
//! wrong kind is recorded in the [`Ctxt`] and parsing goes on with the next key, so that every
//! mistake of a model is reported in one compilation. Only malformed syntax (for example an
//! unclosed list) abandons the rest of the `#[chakra(...)]` it occurs in.
//!
//! Rules that look at more than one attribute or field live in `check.rs`.

use proc_macro2::{TokenStream, TokenTree};
use quote::{ToTokens, quote};
use syn::ext::IdentExt;
use syn::meta::ParseNestedMeta;
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, ExprUnary, Lit, LitStr, Path, Token, UnOp};

use crate::ctxt::Ctxt;
use crate::types::FieldType;

/// The keys accepted on a field, in the order the documentation lists them.
pub const FIELD_KEYS: &[&str] = &[
    "primary_key",
    "auto_increment",
    "unique",
    "index",
    "max_length",
    "precision",
    "scale",
    "column",
    "type",
    "default",
    "db_default",
    "foreign_key",
    "on_delete",
    "on_update",
    "renamed_from",
    "skip",
];

/// The keys accepted on the struct.
pub const CONTAINER_KEYS: &[&str] = &[
    "table",
    "app",
    "index",
    "renamed_from",
    "unique_together",
    "check",
    "online",
];

/// The keys accepted inside a struct-level `index(...)`.
const INDEX_KEYS: &[&str] = &["name", "fields", "unique"];

/// The keys accepted inside `check(...)`.
const CHECK_KEYS: &[&str] = &["name", "expr"];

/// A value together with the tokens it was written as (`key = value`, or just `key` for a
/// flag), so that later checks can point at it.
pub struct Spanned<T> {
    /// The parsed value.
    pub value: T,
    /// The whole attribute as written, for error spans.
    pub tokens: TokenStream,
}

/// An attribute that may be given at most once.
pub struct Attr<T> {
    name: &'static str,
    value: Option<Spanned<T>>,
}

impl<T> Attr<T> {
    fn none(name: &'static str) -> Self {
        Attr { name, value: None }
    }

    /// Records the value, or a "duplicate" error pointing at the second occurrence's key.
    fn set(&mut self, cx: &Ctxt, key: &Path, tokens: TokenStream, value: T) {
        if self.value.is_some() {
            cx.error_spanned_by(key, format!("duplicate chakra attribute `{}`", self.name));
        } else {
            self.value = Some(Spanned { value, tokens });
        }
    }

    /// The value, when the attribute was given.
    pub fn get(&self) -> Option<&T> {
        self.value.as_ref().map(|s| &s.value)
    }

    /// The value with its tokens, when the attribute was given.
    pub fn spanned(&self) -> Option<&Spanned<T>> {
        self.value.as_ref()
    }

    /// The tokens the attribute was written as, when it was given.
    pub fn tokens(&self) -> Option<&TokenStream> {
        self.value.as_ref().map(|s| &s.tokens)
    }

    /// Whether the attribute was given.
    pub fn is_set(&self) -> bool {
        self.value.is_some()
    }

    /// The attribute's key, as written by the user.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

/// A flag such as `unique`: present or not.
pub type Flag = Attr<()>;

impl Flag {
    /// Whether the flag was given.
    pub fn on(&self) -> bool {
        self.is_set()
    }
}

/// A `default = <literal>` value.
#[derive(Debug, Clone, PartialEq)]
pub enum DefaultValue {
    /// `default = true`
    Bool(bool),
    /// `default = 42`, `default = -1`
    Int(i64),
    /// `default = 1.5`
    Float(f64),
    /// `default = "text"`
    Str(String),
}

impl DefaultValue {
    /// How the kind is named in error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            DefaultValue::Bool(_) => "a boolean",
            DefaultValue::Int(_) => "an integer",
            DefaultValue::Float(_) => "a float",
            DefaultValue::Str(_) => "a string",
        }
    }
}

/// A foreign key rule, mirroring `chakra::state::OnAction`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnAction {
    NoAction,
    Restrict,
    Cascade,
    SetNull,
    SetDefault,
}

impl OnAction {
    /// Every rule with its attribute spelling, as in `chakra::state::OnAction::ALL`.
    const ALL: [(&'static str, OnAction); 5] = [
        ("no_action", OnAction::NoAction),
        ("restrict", OnAction::Restrict),
        ("cascade", OnAction::Cascade),
        ("set_null", OnAction::SetNull),
        ("set_default", OnAction::SetDefault),
    ];

    /// The variant name of `chakra::state::OnAction`, for generated code.
    pub fn variant(self) -> &'static str {
        match self {
            OnAction::NoAction => "NoAction",
            OnAction::Restrict => "Restrict",
            OnAction::Cascade => "Cascade",
            OnAction::SetNull => "SetNull",
            OnAction::SetDefault => "SetDefault",
        }
    }
}

/// The attributes of a struct deriving `Model`.
pub struct Container {
    /// `table = "..."`
    pub table: Attr<LitStr>,
    /// `app = "..."`
    pub app: Attr<LitStr>,
    /// `renamed_from = "OldName"`
    pub renamed_from: Attr<LitStr>,
    /// `online`
    pub online: Flag,
    /// Every `index(...)`, in declaration order.
    pub indexes: Vec<Index>,
    /// Every `unique_together(...)` and `check(...)`, in declaration order.
    pub constraints: Vec<Constraint>,
}

/// A struct-level table constraint.
pub enum Constraint {
    /// `unique_together("a", "b")`
    UniqueTogether(UniqueTogether),
    /// `check(name = "...", expr = "...")`
    Check(Check),
}

/// One `unique_together("a", "b")`.
pub struct UniqueTogether {
    /// The whole `unique_together(...)` as written.
    pub tokens: TokenStream,
    /// The field names, in constraint order.
    pub fields: Vec<LitStr>,
    /// Every entry of the list was a string (the others are already reported, so the
    /// rules that count or name the fields keep quiet).
    pub all_strings: bool,
}

/// One `check(name = "...", expr = "...")`.
pub struct Check {
    /// The whole `check(...)` as written.
    pub tokens: TokenStream,
    /// `name = "..."`
    pub name: Attr<LitStr>,
    /// `expr = "<SQL>"`
    pub expr: Attr<LitStr>,
    /// The keys written, valid or not: a key given with a wrong value is already reported,
    /// so it is not reported missing too.
    pub keys: Vec<String>,
}

/// One struct-level `index(name = "...", fields("a", "b"), unique)`.
pub struct Index {
    /// The whole `index(...)` as written.
    pub tokens: TokenStream,
    /// `name = "..."`
    pub name: Attr<LitStr>,
    /// `fields("a", "b")`
    pub fields: Attr<Vec<LitStr>>,
    /// `unique`
    pub unique: Flag,
}

/// The attributes of one field.
pub struct Field {
    /// `primary_key`
    pub primary_key: Flag,
    /// `auto_increment` (= `auto_increment = true`) or `auto_increment = false`
    pub auto_increment: Attr<bool>,
    /// `unique`
    pub unique: Flag,
    /// `index`
    pub index: Flag,
    /// `max_length = N`
    pub max_length: Attr<u32>,
    /// `precision = N`
    pub precision: Attr<u32>,
    /// `scale = N`
    pub scale: Attr<u32>,
    /// `column = "..."`
    pub column: Attr<LitStr>,
    /// `type = "..."`
    pub ty: Attr<FieldType>,
    /// `default = <literal>`
    pub default: Attr<DefaultValue>,
    /// `db_default = "<SQL>"`
    pub db_default: Attr<LitStr>,
    /// `foreign_key = Path`
    pub foreign_key: Attr<Path>,
    /// `on_delete = "..."`
    pub on_delete: Attr<OnAction>,
    /// `on_update = "..."`
    pub on_update: Attr<OnAction>,
    /// `renamed_from = "..."`
    pub renamed_from: Attr<LitStr>,
    /// `skip`
    pub skip: Flag,
}

impl Field {
    /// The tokens of every attribute given, except `skip`, in [`FIELD_KEYS`] order.
    pub fn given_except_skip(&self) -> Vec<(&'static str, &TokenStream)> {
        let all = [
            (self.primary_key.name(), self.primary_key.tokens()),
            (self.auto_increment.name(), self.auto_increment.tokens()),
            (self.unique.name(), self.unique.tokens()),
            (self.index.name(), self.index.tokens()),
            (self.max_length.name(), self.max_length.tokens()),
            (self.precision.name(), self.precision.tokens()),
            (self.scale.name(), self.scale.tokens()),
            (self.column.name(), self.column.tokens()),
            (self.ty.name(), self.ty.tokens()),
            (self.default.name(), self.default.tokens()),
            (self.db_default.name(), self.db_default.tokens()),
            (self.foreign_key.name(), self.foreign_key.tokens()),
            (self.on_delete.name(), self.on_delete.tokens()),
            (self.on_update.name(), self.on_update.tokens()),
            (self.renamed_from.name(), self.renamed_from.tokens()),
        ];
        all.into_iter()
            .filter_map(|(name, tokens)| tokens.map(|t| (name, t)))
            .collect()
    }
}

impl Container {
    /// Reads every `#[chakra(...)]` on the struct.
    pub fn from_attrs(cx: &Ctxt, attrs: &[syn::Attribute]) -> Container {
        let mut c = Container {
            table: Attr::none("table"),
            app: Attr::none("app"),
            renamed_from: Attr::none("renamed_from"),
            online: Attr::none("online"),
            indexes: Vec::new(),
            constraints: Vec::new(),
        };
        for_each_meta(cx, attrs, |meta| {
            let key = key_name(&meta.path);
            match key.as_str() {
                "table" => set_str(cx, &meta, &mut c.table, "table = \"...\"")?,
                "app" => set_str(cx, &meta, &mut c.app, "app = \"...\"")?,
                "renamed_from" => {
                    set_str(cx, &meta, &mut c.renamed_from, "renamed_from = \"OldName\"")?
                }
                "online" => flag(cx, &meta, &mut c.online)?,
                "index" => {
                    if let Some(index) = parse_index(cx, &meta)? {
                        c.indexes.push(index);
                    }
                }
                "unique_together" => {
                    if let Some(u) = parse_unique_together(cx, &meta)? {
                        c.constraints.push(Constraint::UniqueTogether(u));
                    }
                }
                "check" => {
                    if let Some(check) = parse_check(cx, &meta)? {
                        c.constraints.push(Constraint::Check(check));
                    }
                }
                _ => unknown(cx, &meta, &key, CONTAINER_KEYS, FIELD_KEYS, "a field")?,
            }
            Ok(())
        });
        c
    }
}

impl Field {
    /// Reads every `#[chakra(...)]` on one field.
    pub fn from_attrs(cx: &Ctxt, attrs: &[syn::Attribute]) -> Field {
        let mut f = Field {
            primary_key: Attr::none("primary_key"),
            auto_increment: Attr::none("auto_increment"),
            unique: Attr::none("unique"),
            index: Attr::none("index"),
            max_length: Attr::none("max_length"),
            precision: Attr::none("precision"),
            scale: Attr::none("scale"),
            column: Attr::none("column"),
            ty: Attr::none("type"),
            default: Attr::none("default"),
            db_default: Attr::none("db_default"),
            foreign_key: Attr::none("foreign_key"),
            on_delete: Attr::none("on_delete"),
            on_update: Attr::none("on_update"),
            renamed_from: Attr::none("renamed_from"),
            skip: Attr::none("skip"),
        };
        for_each_meta(cx, attrs, |meta| {
            let key = key_name(&meta.path);
            match key.as_str() {
                "primary_key" => flag(cx, &meta, &mut f.primary_key)?,
                "unique" => flag(cx, &meta, &mut f.unique)?,
                "index" => flag(cx, &meta, &mut f.index)?,
                "skip" => flag(cx, &meta, &mut f.skip)?,
                "auto_increment" => parse_auto_increment(cx, &meta, &mut f.auto_increment)?,
                // A length or a precision of 0 makes no column; a scale of 0 is an ordinary
                // whole-number decimal.
                "max_length" => set_u32(cx, &meta, &mut f.max_length, false)?,
                "precision" => set_u32(cx, &meta, &mut f.precision, false)?,
                "scale" => set_u32(cx, &meta, &mut f.scale, true)?,
                "column" => set_str(cx, &meta, &mut f.column, "column = \"name\"")?,
                "db_default" => set_str(
                    cx,
                    &meta,
                    &mut f.db_default,
                    "db_default = \"<SQL expression>\"",
                )?,
                "renamed_from" => set_str(
                    cx,
                    &meta,
                    &mut f.renamed_from,
                    "renamed_from = \"old_name\"",
                )?,
                "type" => {
                    let usage = "type = \"BigInteger\"";
                    set_value(cx, &meta, &mut f.ty, usage, |expr| {
                        let s = expect_str(cx, "type", expr, usage)?;
                        let found = FieldType::from_name(&s.value());
                        if found.is_none() {
                            cx.error_spanned_by(
                                &s,
                                format!(
                                    "unknown chakra type `{}`; expected one of: {}",
                                    s.value(),
                                    FieldType::names()
                                ),
                            );
                        }
                        found
                    })?
                }
                "default" => set_value(cx, &meta, &mut f.default, "default = <literal>", |expr| {
                    parse_default(cx, &expr)
                })?,
                "foreign_key" => set_value(
                    cx,
                    &meta,
                    &mut f.foreign_key,
                    "foreign_key = Model",
                    |expr| parse_foreign_key(cx, expr),
                )?,
                "on_delete" => set_on_action(cx, &meta, &mut f.on_delete)?,
                "on_update" => set_on_action(cx, &meta, &mut f.on_update)?,
                _ => unknown(cx, &meta, &key, FIELD_KEYS, CONTAINER_KEYS, "the struct")?,
            }
            Ok(())
        });
        f
    }
}

/// Reads `key = <value>`, turning the expression into a `T` with `read` (which records its
/// own errors), and stores it in `attr`.
fn set_value<T>(
    cx: &Ctxt,
    meta: &ParseNestedMeta,
    attr: &mut Attr<T>,
    usage: &str,
    read: impl FnOnce(Expr) -> Option<T>,
) -> syn::Result<()> {
    if let Some((tokens, expr)) = value(cx, meta, usage)?
        && let Some(v) = read(expr)
    {
        attr.set(cx, &meta.path, tokens, v);
    }
    Ok(())
}

/// Reads `key = "string"`.
fn set_str(
    cx: &Ctxt,
    meta: &ParseNestedMeta,
    attr: &mut Attr<LitStr>,
    usage: &str,
) -> syn::Result<()> {
    let key = attr.name();
    set_value(cx, meta, attr, usage, |expr| {
        expect_str(cx, key, expr, usage)
    })
}

/// Reads `key = N`.
fn set_u32(
    cx: &Ctxt,
    meta: &ParseNestedMeta,
    attr: &mut Attr<u32>,
    allow_zero: bool,
) -> syn::Result<()> {
    let key = attr.name();
    let usage = format!("{key} = N");
    set_value(cx, meta, attr, &usage, |expr| {
        expect_u32(cx, key, &expr, allow_zero)
    })
}

/// Reads `on_delete = "..."` or `on_update = "..."`.
fn set_on_action(cx: &Ctxt, meta: &ParseNestedMeta, attr: &mut Attr<OnAction>) -> syn::Result<()> {
    let key = attr.name();
    let usage = format!("{key} = \"cascade\"");
    set_value(cx, meta, attr, &usage, |expr| {
        parse_on_action(cx, key, &expr)
    })
}

/// Reads `auto_increment` (on), `auto_increment = true` or `auto_increment = false`.
fn parse_auto_increment(
    cx: &Ctxt,
    meta: &ParseNestedMeta,
    attr: &mut Attr<bool>,
) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        return set_value(cx, meta, attr, "auto_increment = true|false", |expr| {
            expect_bool(cx, "auto_increment", &expr)
        });
    }
    let path = &meta.path;
    let tokens = quote!(#path);
    if meta.input.peek(syn::token::Paren) {
        let written = skip_value(meta)?;
        cx.error_spanned_by(
            written,
            "`auto_increment` takes no list; write `auto_increment` or `auto_increment = false`",
        );
    }
    attr.set(cx, &meta.path, tokens, true);
    Ok(())
}

/// The target of `foreign_key = Target`: a path to a type.
fn parse_foreign_key(cx: &Ctxt, expr: Expr) -> Option<Path> {
    match expr {
        Expr::Path(p) if p.qself.is_none() && p.attrs.is_empty() => Some(p.path),
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => {
            cx.error_spanned_by(
                &s,
                format!(
                    "`foreign_key` expects the target model's type, not a string: \
                     write foreign_key = {}",
                    s.value()
                ),
            );
            None
        }
        other => {
            cx.error_spanned_by(
                other,
                "`foreign_key` expects the target model's type, e.g. `foreign_key = User`",
            );
            None
        }
    }
}

/// Runs `f` on every key of every `#[chakra(...)]` in `attrs`. A syntax error abandons the
/// rest of that one attribute and is recorded.
fn for_each_meta(
    cx: &Ctxt,
    attrs: &[syn::Attribute],
    mut f: impl FnMut(ParseNestedMeta) -> syn::Result<()>,
) {
    for attr in attrs {
        if !attr.path().is_ident("chakra") {
            continue;
        }
        if let Err(err) = attr.parse_nested_meta(&mut f) {
            cx.syn_error(err);
        }
    }
}

/// `a::b` for a path key; keys are nearly always one identifier.
fn key_name(path: &Path) -> String {
    path.to_token_stream().to_string().replace(' ', "")
}

/// Reads `= <expression>` after a key. When there is no `=`, records an error showing
/// `usage` and returns `None`.
fn value(
    cx: &Ctxt,
    meta: &ParseNestedMeta,
    usage: &str,
) -> syn::Result<Option<(TokenStream, Expr)>> {
    if !meta.input.peek(Token![=]) {
        let key = key_name(&meta.path);
        let written = skip_value(meta)?;
        cx.error_spanned_by(written, format!("`{key}` needs a value: {usage}"));
        return Ok(None);
    }
    let eq: Token![=] = meta.input.parse()?;
    let expr: Expr = meta.input.parse()?;
    let path = &meta.path;
    Ok(Some((quote!(#path #eq #expr), expr)))
}

/// Sets a flag; a flag written with a value (`unique = true`, `index(...)`) is an error.
fn flag(cx: &Ctxt, meta: &ParseNestedMeta, attr: &mut Flag) -> syn::Result<()> {
    let key = key_name(&meta.path);
    let path = &meta.path;
    let tokens = quote!(#path);
    if meta.input.peek(Token![=]) || meta.input.peek(syn::token::Paren) {
        let written = skip_value(meta)?;
        cx.error_spanned_by(
            written,
            format!("`{key}` takes no value; write just `{key}`"),
        );
    }
    // Set it even after an error, so that e.g. a bad `primary_key = true` does not also
    // produce "no primary key".
    attr.set(cx, &meta.path, tokens, ());
    Ok(())
}

/// Consumes whatever follows a key (`= expr` or `(...)`) and returns the key with it, so
/// that parsing can go on with the next key after a mistake.
fn skip_value(meta: &ParseNestedMeta) -> syn::Result<TokenStream> {
    let path = &meta.path;
    if meta.input.peek(Token![=]) {
        let eq: Token![=] = meta.input.parse()?;
        let expr: Expr = meta.input.parse()?;
        Ok(quote!(#path #eq #expr))
    } else if meta.input.peek(syn::token::Paren) {
        let group: TokenTree = meta.input.parse()?;
        Ok(quote!(#path #group))
    } else {
        Ok(quote!(#path))
    }
}

/// Records an unknown key, listing the valid ones, and skips its value. When the key is
/// valid at the other level (a struct key on a field, or the reverse) the message says where
/// it belongs.
fn unknown(
    cx: &Ctxt,
    meta: &ParseNestedMeta,
    key: &str,
    valid: &[&str],
    other_level: &[&str],
    other_level_name: &str,
) -> syn::Result<()> {
    skip_value(meta)?;
    let msg = if other_level.contains(&key) {
        format!("`{key}` belongs on {other_level_name}, not here")
    } else {
        format!(
            "unknown chakra attribute `{key}`; expected one of: {}",
            valid.join(", ")
        )
    };
    cx.error_spanned_by(&meta.path, msg);
    Ok(())
}

/// Reads `index(name = "...", fields("a", "b"), unique)` on the struct.
fn parse_index(cx: &Ctxt, meta: &ParseNestedMeta) -> syn::Result<Option<Index>> {
    let usage = "index(name = \"...\", fields(\"a\", \"b\"))";
    if !meta.input.peek(syn::token::Paren) {
        let written = skip_value(meta)?;
        cx.error_spanned_by(
            written,
            format!("`index` on the struct takes a list: {usage}"),
        );
        return Ok(None);
    }
    let group: TokenTree = meta.input.fork().parse()?;
    let path = &meta.path;
    let mut index = Index {
        tokens: quote!(#path #group),
        name: Attr::none("name"),
        fields: Attr::none("fields"),
        unique: Attr::none("unique"),
    };
    meta.parse_nested_meta(|inner| {
        let key = key_name(&inner.path);
        match key.as_str() {
            "name" => set_str(cx, &inner, &mut index.name, "name = \"...\"")?,
            "fields" => {
                if inner.input.peek(syn::token::Paren) {
                    let (tokens, names, written) =
                        field_list(cx, &inner, "index fields", "fields(\"a\", \"b\")")?;
                    if written == 0 {
                        cx.error_spanned_by(&tokens, "`fields(...)` must name at least one field");
                    }
                    index.fields.set(cx, &inner.path, tokens, names);
                } else {
                    let written = skip_value(&inner)?;
                    cx.error_spanned_by(
                        written,
                        "`fields` takes a list of field names: fields(\"a\", \"b\")",
                    );
                }
            }
            "unique" => flag(cx, &inner, &mut index.unique)?,
            _ => {
                skip_value(&inner)?;
                cx.error_spanned_by(
                    &inner.path,
                    format!(
                        "unknown key `{key}` in `index(...)`; expected one of: {}",
                        INDEX_KEYS.join(", ")
                    ),
                );
            }
        }
        Ok(())
    })?;
    Ok(Some(index))
}

/// Reads a parenthesized list of field names written as strings (`("a", "b")`) after the key
/// of `meta`. Returns the key with the list, for error spans, the names, and how many entries
/// were written; an entry that is not a string is recorded as an error (`what` and `usage`
/// word it) and left out.
fn field_list(
    cx: &Ctxt,
    meta: &ParseNestedMeta,
    what: &str,
    usage: &str,
) -> syn::Result<(TokenStream, Vec<LitStr>, usize)> {
    let content;
    let paren = syn::parenthesized!(content in meta.input);
    let list = Punctuated::<Expr, Token![,]>::parse_terminated(&content)?;
    let mut tokens = meta.path.to_token_stream();
    paren.surround(&mut tokens, |t| list.to_tokens(t));
    let written = list.len();
    let names = list
        .into_iter()
        .filter_map(|expr| match expr {
            Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) => Some(s),
            expr => {
                let msg = match bare_ident(&expr) {
                    Some(ident) => format!("{what} are written as strings: write \"{ident}\""),
                    None => format!("{what} are written as strings: {usage}"),
                };
                cx.error_spanned_by(expr, msg);
                None
            }
        })
        .collect();
    Ok((tokens, names, written))
}

/// Reads `unique_together("a", "b")` on the struct.
fn parse_unique_together(cx: &Ctxt, meta: &ParseNestedMeta) -> syn::Result<Option<UniqueTogether>> {
    let usage = "unique_together(\"a\", \"b\")";
    if !meta.input.peek(syn::token::Paren) {
        let written = skip_value(meta)?;
        cx.error_spanned_by(
            written,
            format!("`unique_together` takes a list of field names: {usage}"),
        );
        return Ok(None);
    }
    let (tokens, fields, written) = field_list(cx, meta, "unique_together fields", usage)?;
    Ok(Some(UniqueTogether {
        tokens,
        all_strings: fields.len() == written,
        fields,
    }))
}

/// Reads `check(name = "...", expr = "...")` on the struct.
fn parse_check(cx: &Ctxt, meta: &ParseNestedMeta) -> syn::Result<Option<Check>> {
    let usage = "check(name = \"...\", expr = \"<SQL expression>\")";
    if !meta.input.peek(syn::token::Paren) {
        let written = skip_value(meta)?;
        cx.error_spanned_by(
            written,
            format!("`check` on the struct takes a list: {usage}"),
        );
        return Ok(None);
    }
    let group: TokenTree = meta.input.fork().parse()?;
    let path = &meta.path;
    let mut check = Check {
        tokens: quote!(#path #group),
        name: Attr::none("name"),
        expr: Attr::none("expr"),
        keys: Vec::new(),
    };
    meta.parse_nested_meta(|inner| {
        let key = key_name(&inner.path);
        check.keys.push(key.clone());
        match key.as_str() {
            "name" => set_str(cx, &inner, &mut check.name, "name = \"...\"")?,
            "expr" => set_str(cx, &inner, &mut check.expr, "expr = \"<SQL expression>\"")?,
            _ => {
                skip_value(&inner)?;
                cx.error_spanned_by(
                    &inner.path,
                    format!(
                        "unknown key `{key}` in `check(...)`; expected one of: {}",
                        CHECK_KEYS.join(", ")
                    ),
                );
            }
        }
        Ok(())
    })?;
    Ok(Some(check))
}

/// A string literal, or an error showing `usage`.
fn expect_str(cx: &Ctxt, key: &str, expr: Expr, usage: &str) -> Option<LitStr> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Some(s),
        expr => {
            let msg = match bare_ident(&expr) {
                Some(ident) => format!("`{key}` expects a string: write {key} = \"{ident}\""),
                None => format!("`{key}` expects a string: {usage}"),
            };
            cx.error_spanned_by(expr, msg);
            None
        }
    }
}

/// The identifier, when `expr` is a single bare identifier (a string written without quotes).
fn bare_ident(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Path(p) if p.qself.is_none() => p.path.get_ident().map(|i| i.unraw().to_string()),
        _ => None,
    }
}

/// A `true` or `false` literal.
fn expect_bool(cx: &Ctxt, key: &str, expr: &Expr) -> Option<bool> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Bool(b), ..
        }) => Some(b.value),
        _ => {
            cx.error_spanned_by(expr, format!("`{key}` expects `true` or `false`"));
            None
        }
    }
}

/// A non-negative integer literal that fits in `u32` (and is not 0 unless `allow_zero`).
fn expect_u32(cx: &Ctxt, key: &str, expr: &Expr, allow_zero: bool) -> Option<u32> {
    let Expr::Lit(ExprLit {
        lit: Lit::Int(int), ..
    }) = expr
    else {
        cx.error_spanned_by(expr, format!("`{key}` expects a whole number: {key} = N"));
        return None;
    };
    match int.base10_parse::<u32>() {
        Ok(0) if !allow_zero => {
            cx.error_spanned_by(expr, format!("`{key}` must be at least 1"));
            None
        }
        Ok(n) => Some(n),
        Err(_) => {
            cx.error_spanned_by(expr, format!("`{key}` is too large (at most {})", u32::MAX));
            None
        }
    }
}

/// `"cascade"`, `"restrict"`, ... as an [`OnAction`].
fn parse_on_action(cx: &Ctxt, key: &str, expr: &Expr) -> Option<OnAction> {
    let valid = OnAction::ALL
        .map(|(name, _)| format!("\"{name}\""))
        .join(", ");
    let Expr::Lit(ExprLit {
        lit: Lit::Str(s), ..
    }) = expr
    else {
        let msg = match bare_ident(expr) {
            Some(ident) => format!("`{key}` expects a string: write {key} = \"{ident}\""),
            None => format!("`{key}` expects a string, one of: {valid}"),
        };
        cx.error_spanned_by(expr, msg);
        return None;
    };
    let found = OnAction::ALL
        .into_iter()
        .find(|(name, _)| *name == s.value())
        .map(|(_, action)| action);
    if found.is_none() {
        cx.error_spanned_by(
            s,
            format!(
                "unknown `{key}` rule \"{}\"; expected one of: {valid}",
                s.value()
            ),
        );
    }
    found
}

/// Reads the literal of `default = ...`: a bool, an integer or a float (either possibly
/// negated), or a string.
fn parse_default(cx: &Ctxt, expr: &Expr) -> Option<DefaultValue> {
    let not_literal = || {
        cx.error_spanned_by(
            expr,
            "`default` expects a literal (true, 42, -1, 1.5 or \"text\"); \
             for an SQL expression use db_default = \"...\"",
        );
        None
    };
    let (negative, lit) = match expr {
        Expr::Lit(ExprLit { lit, .. }) => (false, lit),
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_),
            expr: inner,
            ..
        }) => match &**inner {
            Expr::Lit(ExprLit {
                lit: lit @ (Lit::Int(_) | Lit::Float(_)),
                ..
            }) => (true, lit),
            _ => return not_literal(),
        },
        _ => return not_literal(),
    };
    let sign = if negative { "-" } else { "" };
    match lit {
        Lit::Bool(b) => Some(DefaultValue::Bool(b.value)),
        Lit::Str(s) => Some(DefaultValue::Str(s.value())),
        Lit::Int(int) => match format!("{sign}{}", int.base10_digits()).parse::<i64>() {
            Ok(n) => Some(DefaultValue::Int(n)),
            Err(_) => {
                cx.error_spanned_by(expr, "`default` is out of range for a 64-bit integer");
                None
            }
        },
        Lit::Float(float) => match format!("{sign}{}", float.base10_digits()).parse::<f64>() {
            Ok(x) if x.is_finite() => Some(DefaultValue::Float(x)),
            _ => {
                cx.error_spanned_by(expr, "`default` is out of range for a 64-bit float");
                None
            }
        },
        _ => not_literal(),
    }
}
