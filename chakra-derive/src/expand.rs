//! Code generation: the `chakra::Model` impl with its `static` metadata and the `inventory`
//! registration, or, when the model has mistakes, the compile errors plus a stub impl.
//!
//! Every path in generated code starts with `::chakra::` (through `::chakra::__private` for
//! the metadata types) or `::core::`, so a model needs nothing in scope but the derive. The
//! derive knows no SQL: it records what the user declared and nothing else.

use proc_macro2::{Literal, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{DeriveInput, Ident, LitStr, Path};

use crate::ast::{Container, Field};
use crate::attr::{Constraint, DefaultValue, Index};
use crate::check;
use crate::ctxt::Ctxt;

/// Expands `#[derive(Model)]` on `input`.
pub fn derive(input: &DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let cont = Container::from_ast(&cx, input);
    if let Some(cont) = &cont {
        check::check(&cx, cont);
    }
    match (cx.check(), cont) {
        (Ok(()), Some(cont)) => model(&cont),
        (Err(errors), cont) => fallback(input, cont.as_ref(), errors),
        (Ok(()), None) => unreachable!("a derive input that is not a model records an error"),
    }
}

/// The impl and the registration of a model without mistakes.
fn model(cont: &Container) -> TokenStream {
    let ident = cont.ident;
    let name = cont.name();
    let app = cont.app();
    let table = cont.table();
    let fields = cont.columns().map(|field| field_meta(field, ident));
    let indexes = cont.attrs.indexes.iter().map(index_meta);
    let constraints = cont.attrs.constraints.iter().map(constraint_meta);
    let renamed_from = option(cont.attrs.renamed_from.get().map(|s| s.value()));
    let online = cont.attrs.online.is_set();
    quote! {
        #[automatically_derived]
        impl ::chakra::Model for #ident {
            fn meta() -> &'static ::chakra::__private::ModelMeta {
                static META: ::chakra::__private::ModelMeta = ::chakra::__private::ModelMeta {
                    name: #name,
                    app: #app,
                    table: #table,
                    fields: &[#(#fields),*],
                    indexes: &[#(#indexes),*],
                    constraints: &[#(#constraints),*],
                    renamed_from: #renamed_from,
                    online: #online,
                    module_path: ::core::module_path!(),
                };
                &META
            }
        }

        ::chakra::__private::inventory::submit! {
            ::chakra::__private::ModelRegistration {
                meta: <#ident as ::chakra::Model>::meta,
            }
        }
    }
}

/// A `FieldMeta` literal for one column.
fn field_meta(field: &Field, model: &Ident) -> TokenStream {
    let attrs = &field.attrs;
    let name = &field.name;
    let column = field.column();
    let field_type = field
        .column_type()
        .expect("check reports a field without a column type")
        .variant();
    let max_length = option(attrs.max_length.get());
    let precision = option(attrs.precision.get());
    let scale = option(attrs.scale.get());
    let nullable = field.nullable;
    let primary_key = attrs.primary_key.on();
    let auto_increment = option(attrs.auto_increment.get());
    let unique = attrs.unique.on();
    let index = attrs.index.on();
    let default = option(attrs.default.get().map(default_meta));
    let db_default = option(attrs.db_default.get().map(|s| s.value()));
    let foreign_key = option(attrs.foreign_key.get().map(|target| {
        let target = fk_target(target, model);
        let on_delete = on_action(attrs.on_delete.get().map(|a| a.variant()));
        let on_update = on_action(attrs.on_update.get().map(|a| a.variant()));
        quote! {
            ::chakra::__private::ForeignKeyMeta {
                target: #target,
                on_delete: #on_delete,
                on_update: #on_update,
            }
        }
    }));
    let renamed_from = option(attrs.renamed_from.get().map(|s| s.value()));
    quote! {
        ::chakra::__private::FieldMeta {
            name: #name,
            column: #column,
            field_type: ::chakra::__private::FieldType::#field_type,
            max_length: #max_length,
            precision: #precision,
            scale: #scale,
            nullable: #nullable,
            primary_key: #primary_key,
            auto_increment: #auto_increment,
            unique: #unique,
            index: #index,
            default: #default,
            db_default: #db_default,
            foreign_key: #foreign_key,
            renamed_from: #renamed_from,
        }
    }
}

/// `<Target as ::chakra::Model>::meta`, spanned on the user's `Target` so that "the trait
/// bound `Target: Model` is not satisfied" points at the attribute, not at the derive.
///
/// `foreign_key = Self` (a tree of rows) is written with the struct's name instead, because
/// the metadata is a `static`, where `Self` cannot be named.
fn fk_target(target: &Path, model: &Ident) -> TokenStream {
    if target.is_ident("Self") {
        let mut model = model.clone();
        model.set_span(target.span());
        return quote_spanned!(target.span()=> <#model as ::chakra::Model>::meta);
    }
    quote_spanned!(target.span()=> <#target as ::chakra::Model>::meta)
}

/// `OnAction::<variant>`, `NoAction` when the rule was not given.
fn on_action(variant: Option<&str>) -> TokenStream {
    let variant = Ident::new(
        variant.unwrap_or("NoAction"),
        proc_macro2::Span::call_site(),
    );
    quote!(::chakra::__private::OnAction::#variant)
}

/// A `DefaultMeta` literal. Negative numbers are emitted as `-` and a positive literal,
/// which is how Rust reads them anyway (and keeps `i64::MIN` representable).
fn default_meta(default: &DefaultValue) -> TokenStream {
    match default {
        DefaultValue::Bool(b) => quote!(::chakra::__private::DefaultMeta::Bool(#b)),
        DefaultValue::Int(n) => {
            let abs = Literal::u64_unsuffixed(n.unsigned_abs());
            let sign = (*n < 0).then(|| quote!(-));
            quote!(::chakra::__private::DefaultMeta::Int(#sign #abs))
        }
        DefaultValue::Float(x) => {
            let abs = Literal::f64_unsuffixed(x.abs());
            let sign = x.is_sign_negative().then(|| quote!(-));
            quote!(::chakra::__private::DefaultMeta::Float(#sign #abs))
        }
        DefaultValue::Str(s) => quote!(::chakra::__private::DefaultMeta::Str(#s)),
    }
}

/// An `IndexMeta` literal for a struct-level index.
fn index_meta(index: &Index) -> TokenStream {
    let name = index
        .name
        .get()
        .expect("check reports an index without a name")
        .value();
    let fields = index
        .fields
        .get()
        .expect("check reports an index without fields")
        .iter()
        .map(|lit| lit.value());
    let unique = index.unique.on();
    quote! {
        ::chakra::__private::IndexMeta {
            name: #name,
            fields: &[#(#fields),*],
            unique: #unique,
        }
    }
}

/// A `ConstraintMeta` literal for a `unique_together` or a `check`.
fn constraint_meta(constraint: &Constraint) -> TokenStream {
    match constraint {
        Constraint::UniqueTogether(u) => {
            let fields = u.fields.iter().map(LitStr::value);
            quote! {
                ::chakra::__private::ConstraintMeta::UniqueTogether {
                    fields: &[#(#fields),*],
                }
            }
        }
        Constraint::Check(check) => {
            let name = check
                .name
                .get()
                .expect("check reports a check without a name")
                .value();
            let expr = check
                .expr
                .get()
                .expect("check reports a check without an expression")
                .value();
            quote! {
                ::chakra::__private::ConstraintMeta::Check {
                    name: #name,
                    expr: #expr,
                }
            }
        }
    }
}

/// `Some(value)` or `None`, fully qualified.
fn option<T: ToTokens>(value: Option<T>) -> TokenStream {
    match value {
        Some(value) => quote!(::core::option::Option::Some(#value)),
        None => quote!(::core::option::Option::None),
    }
}

/// The output when the model has mistakes: every error, plus an impl of `Model` so that code
/// using the model (`User::meta()`, `foreign_key = User` elsewhere) does not add a cascade
/// of "`Model` is not implemented" errors. The stub's body panics, but it never runs: the
/// errors stop the build. Foreign key targets are still type-checked, so a target that is
/// not a model is reported together with the attribute mistakes.
fn fallback(input: &DeriveInput, cont: Option<&Container>, errors: syn::Error) -> TokenStream {
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let errors = errors.into_compile_error();
    let targets = cont
        .into_iter()
        .flat_map(|c| &c.fields)
        .filter_map(|f| f.attrs.foreign_key.get())
        .map(|target| {
            let target = fk_target(target, ident);
            quote!(let _: fn() -> &'static ::chakra::__private::ModelMeta = #target;)
        });
    quote! {
        #errors

        #[automatically_derived]
        impl #impl_generics ::chakra::Model for #ident #ty_generics #where_clause {
            fn meta() -> &'static ::chakra::__private::ModelMeta {
                #(#targets)*
                ::core::panic!("#[derive(Model)] failed; see the compile errors")
            }
        }
    }
}
