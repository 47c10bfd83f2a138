//! `#[derive(Model)]` for Chakra: reads a struct and its `#[chakra(...)]` attributes and
//! generates the `chakra::Model` impl, whose `static` metadata the runtime registers through
//! `inventory`.
//!
//! The pipeline: [`attr`] and [`ast`] parse the input into a typed model that remembers spans,
//! [`check`] applies the rules that span several attributes or fields, and [`expand`] writes
//! the code. Errors are collected by [`ctxt`] and reported all at once. The attributes are
//! documented for users in `docs/models.md`. [`embed_migrations!`] (in [`embed`]) lists a
//! migrations folder for `chakra::migrator::Migrator`.

mod ast;
mod attr;
mod check;
mod ctxt;
mod embed;
mod expand;
mod types;

use proc_macro::TokenStream;
use syn::{DeriveInput, LitStr, parse_macro_input};

/// Derives `chakra::Model` for a struct with named fields. See `docs/models.md` for the
/// `#[chakra(...)]` attributes.
///
/// # Examples
///
/// ```
/// use chakra::Model;
///
/// #[derive(Model)]
/// #[chakra(table = "users")]
/// struct User {
///     #[chakra(primary_key)]
///     id: i64,
///     #[chakra(max_length = 50, unique)]
///     username: String,
///     email: Option<String>,
///     #[chakra(skip)]
///     cached_name: String,
/// }
///
/// let meta = User::meta();
/// let columns: Vec<&str> = meta.fields.iter().map(|f| f.column).collect();
/// assert_eq!(columns, ["id", "username", "email"]);
/// assert!(meta.fields[1].unique && meta.fields[2].nullable);
/// ```
#[proc_macro_derive(Model, attributes(chakra))]
pub fn derive_model(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive(&input).into()
}

/// Compiles the migration files of a folder into the binary and gives the
/// `chakra::migrator::Migrator` that applies them: `embed_migrations!("migrations")`, the
/// path relative to the crate's `Cargo.toml` (`"migrations"` when left out).
///
/// ```ignore
/// static MIGRATOR: chakra::migrator::Migrator = chakra::embed_migrations!("migrations");
/// ```
#[proc_macro]
pub fn embed_migrations(input: TokenStream) -> TokenStream {
    let dir = if input.is_empty() {
        None
    } else {
        Some(parse_macro_input!(input as LitStr))
    };
    embed::expand(dir).into()
}
