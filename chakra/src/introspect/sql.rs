//! A small SQL lexer, enough to read what databases report about a schema: SQLite's
//! `CREATE TABLE` text (for CHECK constraints and `AUTOINCREMENT`, which no pragma reports)
//! and the default and CHECK expressions that `drift` normalizes before comparing them.
//!
//! Hand-rolled: the SQL parsers on crates.io (sqlparser) parse whole statements of one
//! dialect and reject what they do not know, while this only needs tokens that survive any
//! database's spelling (casts, charset introducers, quoted identifiers).

use super::Check;
use crate::dialect::DialectKind;

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A bare word: keyword, identifier or function name.
    Word,
    /// A quoted identifier (`"x"`, `` `x` ``, `[x]`); `text` is the name without quotes.
    Ident,
    /// A string literal; `text` is its value, without quotes and escapes.
    Str,
    /// A number as written.
    Number,
    /// An operator or punctuation: `(`, `)`, `,`, `::`, `<>`, `>=`, ...
    Punct,
}

/// One token, with its place in the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tok {
    /// What it is.
    pub kind: Kind,
    /// Its text (see [`Kind`]).
    pub text: String,
    /// Byte offset of its first character.
    pub start: usize,
    /// Byte offset just after it.
    pub end: usize,
}

impl Tok {
    /// True for the punctuation `p`.
    pub fn is(&self, p: &str) -> bool {
        self.kind == Kind::Punct && self.text == p
    }

    /// True for the bare word `w`, in any case.
    pub fn is_word(&self, w: &str) -> bool {
        self.kind == Kind::Word && self.text.eq_ignore_ascii_case(w)
    }
}

const TWO_CHAR_OPS: [&str; 8] = ["::", "<>", "!=", ">=", "<=", "||", "==", "->"];

/// Splits `src`, SQL of `dialect`, into tokens; comments and whitespace are dropped. On
/// MySQL/MariaDB a backslash in a string literal escapes the next character; on SQLite
/// `[name]` is a quoted identifier (elsewhere `[` is punctuation, as in `ARRAY[...]`).
pub(crate) fn lex(src: &str, dialect: DialectKind) -> Vec<Tok> {
    let backslash_escapes = dialect == DialectKind::Mysql;
    let brackets = dialect == DialectKind::Sqlite;
    let chars: Vec<(usize, char)> = src.char_indices().collect();
    let at = |i: usize| chars.get(i).map(|&(_, c)| c);
    let offset = |i: usize| chars.get(i).map_or(src.len(), |&(o, _)| o);
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(c) = at(i) {
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '-' && at(i + 1) == Some('-') {
            while at(i).is_some_and(|c| c != '\n') {
                i += 1;
            }
            continue;
        }
        if c == '/' && at(i + 1) == Some('*') {
            i += 2;
            while at(i).is_some() && !(at(i) == Some('*') && at(i + 1) == Some('/')) {
                i += 1;
            }
            i += 2;
            continue;
        }
        let (kind, text) = if c == '\'' {
            let mut value = String::new();
            i += 1;
            while let Some(c) = at(i) {
                if c == '\\' && backslash_escapes {
                    if let Some(n) = at(i + 1) {
                        value.push(match n {
                            'n' => '\n',
                            't' => '\t',
                            'r' => '\r',
                            '0' => '\0',
                            other => other,
                        });
                    }
                    i += 2;
                } else if c == '\'' && at(i + 1) == Some('\'') {
                    value.push('\'');
                    i += 2;
                } else if c == '\'' {
                    i += 1;
                    break;
                } else {
                    value.push(c);
                    i += 1;
                }
            }
            (Kind::Str, value)
        } else if matches!(c, '"' | '`') || (c == '[' && brackets) {
            let close = if c == '[' { ']' } else { c };
            let mut value = String::new();
            i += 1;
            while let Some(c) = at(i) {
                if c == close && close != ']' && at(i + 1) == Some(close) {
                    value.push(c);
                    i += 2;
                } else if c == close {
                    i += 1;
                    break;
                } else {
                    value.push(c);
                    i += 1;
                }
            }
            (Kind::Ident, value)
        } else if c.is_ascii_digit() || (c == '.' && at(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            while at(i).is_some_and(|c| c.is_ascii_digit() || c == '.') {
                i += 1;
            }
            if at(i).is_some_and(|c| c == 'e' || c == 'E') {
                let sign = usize::from(matches!(at(i + 1), Some('+' | '-')));
                if at(i + 1 + sign).is_some_and(|d| d.is_ascii_digit()) {
                    i += 1 + sign;
                    while at(i).is_some_and(|c| c.is_ascii_digit()) {
                        i += 1;
                    }
                }
            }
            (Kind::Number, src[offset(start)..offset(i)].to_owned())
        } else if c.is_alphanumeric() || c == '_' || c == '$' {
            while at(i).is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
                i += 1;
            }
            (Kind::Word, src[offset(start)..offset(i)].to_owned())
        } else {
            let two: String = [Some(c), at(i + 1)].into_iter().flatten().collect();
            if TWO_CHAR_OPS.contains(&two.as_str()) {
                i += 2;
                (Kind::Punct, two)
            } else {
                i += 1;
                (Kind::Punct, c.to_string())
            }
        };
        out.push(Tok {
            kind,
            text,
            start: offset(start),
            end: offset(i),
        });
    }
    out
}

/// The index of the `)` that closes the `(` at `open`, or the last token.
pub(crate) fn closing(toks: &[Tok], open: usize) -> usize {
    let mut depth = 0usize;
    for (i, t) in toks.iter().enumerate().skip(open) {
        if t.is("(") {
            depth += 1;
        } else if t.is(")") {
            depth = depth.saturating_sub(1);
            if depth == 0 {
                return i;
            }
        }
    }
    toks.len().saturating_sub(1)
}

/// What SQLite's `CREATE TABLE` text tells beyond its pragmas.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CreateTable {
    /// Columns declared `AUTOINCREMENT`.
    pub autoincrement: Vec<String>,
    /// CHECK constraints, of the table and of its columns.
    pub checks: Vec<Check>,
}

/// Reads a `CREATE TABLE name (...)` statement as SQLite stores it in `sqlite_master`.
#[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
pub(crate) fn parse_create_table(sql: &str) -> CreateTable {
    let toks = lex(sql, DialectKind::Sqlite);
    let mut out = CreateTable::default();
    let Some(open) = toks.iter().position(|t| t.is("(")) else {
        return out;
    };
    let close = closing(&toks, open);
    // Split the definitions at the commas outside parentheses.
    let mut items: Vec<&[Tok]> = Vec::new();
    let (mut depth, mut from) = (0usize, open + 1);
    for i in open + 1..close {
        let t = &toks[i];
        if t.is("(") {
            depth += 1;
        } else if t.is(")") {
            depth = depth.saturating_sub(1);
        } else if t.is(",") && depth == 0 {
            items.push(&toks[from..i]);
            from = i + 1;
        }
    }
    items.push(&toks[from..close]);
    for item in items.into_iter().filter(|i| !i.is_empty()) {
        let table_constraint = ["CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN"]
            .iter()
            .any(|w| item[0].is_word(w));
        let column = (!table_constraint).then(|| item[0].text.clone());
        let mut j = usize::from(column.is_some());
        let mut name: Option<String> = None;
        while j < item.len() {
            let t = &item[j];
            if t.is("(") {
                j = j + closing(&item[j..], 0) + 1;
                continue;
            }
            if t.is_word("CONSTRAINT") {
                name = item.get(j + 1).map(|n| n.text.clone());
                j += 2;
                continue;
            }
            if t.is_word("AUTOINCREMENT")
                && let Some(c) = &column
            {
                out.autoincrement.push(c.clone());
            }
            if t.is_word("CHECK") && item.get(j + 1).is_some_and(|n| n.is("(")) {
                let end = j + 1 + closing(&item[j + 1..], 0);
                let expr = match (item.get(j + 2), item.get(end)) {
                    (Some(first), Some(last)) if end > j + 2 => {
                        sql[first.start..last.start].trim().to_owned()
                    }
                    _ => String::new(),
                };
                out.checks.push(Check {
                    name: name.take(),
                    expr,
                });
                j = end + 1;
                continue;
            }
            // A constraint name belongs to the constraint right after it.
            if !t.is_word("CONSTRAINT") && t.kind == Kind::Word && is_constraint_word(&t.text) {
                name = None;
            }
            j += 1;
        }
    }
    out
}

fn is_constraint_word(w: &str) -> bool {
    [
        "PRIMARY",
        "UNIQUE",
        "FOREIGN",
        "REFERENCES",
        "NOT",
        "DEFAULT",
        "COLLATE",
    ]
    .iter()
    .any(|k| w.eq_ignore_ascii_case(k))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(src: &str) -> Vec<(Kind, String)> {
        lex(src, DialectKind::Postgres)
            .into_iter()
            .map(|t| (t.kind, t.text))
            .collect()
    }

    #[test]
    fn lexes_strings_identifiers_numbers_and_operators() {
        assert_eq!(
            texts("'it''s'::character varying <> \"Na\"\"me\" -- x\n>= 1.5e3 `b`"),
            vec![
                (Kind::Str, "it's".into()),
                (Kind::Punct, "::".into()),
                (Kind::Word, "character".into()),
                (Kind::Word, "varying".into()),
                (Kind::Punct, "<>".into()),
                (Kind::Ident, "Na\"me".into()),
                (Kind::Punct, ">=".into()),
                (Kind::Number, "1.5e3".into()),
                (Kind::Ident, "b".into()),
            ]
        );
        let t = lex(r"_utf8mb4'C:\\t\'x'", DialectKind::Mysql);
        assert_eq!(t[1].text, "C:\\t'x");
    }

    #[test]
    fn reads_checks_and_autoincrement_from_create_table() {
        let parsed = parse_create_table(
            "CREATE TABLE \"posts\" (\n    \"id\" INTEGER PRIMARY KEY AUTOINCREMENT,\n    \"views\" INTEGER NOT NULL DEFAULT 0 CHECK (views >= 0),\n    \
             \"slug\" VARCHAR(200) NOT NULL UNIQUE,\n    CONSTRAINT \"posts_author_id_fkey\" FOREIGN KEY (\"author_id\") REFERENCES \"users\" (\"id\"),\n    \
             CONSTRAINT \"posts_slug_not_empty\" CHECK (slug <> '' AND (views < 10 OR views > 20)),\n    CHECK(1)\n)",
        );
        assert_eq!(parsed.autoincrement, ["id"]);
        assert_eq!(
            parsed.checks,
            vec![
                Check {
                    name: None,
                    expr: "views >= 0".into()
                },
                Check {
                    name: Some("posts_slug_not_empty".into()),
                    expr: "slug <> '' AND (views < 10 OR views > 20)".into()
                },
                Check {
                    name: None,
                    expr: "1".into()
                },
            ]
        );
    }
}
