//! `embed_migrations!("migrations")`: the migration files of a folder (relative to the
//! crate's `Cargo.toml`), compiled in with `include_str!` so that editing one rebuilds the
//! crate, and its `chakra.sum`, which `migrate make` rewrites whenever it adds a migration.
//!
//! The folder is laid out as `migrate make` writes it: app `default` in the folder itself,
//! every other app in a subfolder. Only the file list is read here; parsing and every check
//! happen in `chakra::migrator::Migrator` at first use (a proc-macro cannot depend on the
//! crate that defines the format).

use std::path::{Path, PathBuf};

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::LitStr;

/// The expansion of `embed_migrations!(dir)`.
pub fn expand(dir: Option<LitStr>) -> TokenStream {
    let (rel, span) = match &dir {
        Some(lit) => (lit.value(), lit.span()),
        None => ("migrations".to_owned(), Span::call_site()),
    };
    match files(&rel) {
        Ok((root, files)) => {
            let entries = files.iter().map(|(rel_path, abs)| {
                let abs = abs.to_string_lossy();
                quote! {
                    ::chakra::migrator::EmbeddedFile {
                        path: #rel_path,
                        text: ::core::include_str!(#abs),
                    }
                }
            });
            let sum_path = root.join("chakra.sum");
            let sum = if sum_path.is_file() {
                let sum_path = sum_path.to_string_lossy();
                quote! { ::core::option::Option::Some(::core::include_str!(#sum_path)) }
            } else {
                quote! { ::core::option::Option::None }
            };
            quote! {
                ::chakra::migrator::Migrator::new(&[#(#entries),*], #sum)
            }
        }
        Err(message) => syn::Error::new(span, message).to_compile_error(),
    }
}

/// The folder and its migration files: `(path relative to the folder, absolute path)`,
/// sorted. Errors say what is wrong and how to fix it.
fn files(rel: &str) -> Result<(PathBuf, Vec<(String, PathBuf)>), String> {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .ok_or("embed_migrations! needs CARGO_MANIFEST_DIR: build the crate with cargo")?;
    let root = manifest.join(rel);
    if !root.is_dir() {
        return Err(format!(
            "no migrations folder `{}` (looked for `{rel}` next to {}); write the folder's path \
             relative to the crate's Cargo.toml, or run `migrate make` to create it",
            root.display(),
            manifest.join("Cargo.toml").display()
        ));
    }
    let mut out = Vec::new();
    toml_files(&root, "", &mut out)?;
    let mut apps: Vec<PathBuf> = read(&root)?
        .into_iter()
        .filter(|p| p.is_dir())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| !n.starts_with('.'))
        })
        .collect();
    apps.sort();
    for app in apps {
        let name = app
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| format!("the folder name of `{}` is not UTF-8", app.display()))?
            .to_owned();
        toml_files(&app, &format!("{name}/"), &mut out)?;
    }
    Ok((root, out))
}

fn read(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read `{}`: {e}", dir.display()))?;
    entries
        .map(|e| {
            e.map(|e| e.path())
                .map_err(|e| format!("cannot read `{}`: {e}", dir.display()))
        })
        .collect()
}

fn toml_files(dir: &Path, prefix: &str, out: &mut Vec<(String, PathBuf)>) -> Result<(), String> {
    let mut files: Vec<PathBuf> = read(dir)?
        .into_iter()
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    for path in files {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| format!("the file name of `{}` is not UTF-8", path.display()))?;
        out.push((format!("{prefix}{name}"), path.clone()));
    }
    Ok(())
}
