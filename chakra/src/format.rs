//! The migration file format (TOML, versioned): parsing with located errors, writing, and the
//! canonical form that checksums are computed from.
//!
//! See `docs/file-format.md` for the user-facing description. Format version 1.
//!
//! # Examples
//!
//! Parse a file's text, then take its checksum: comments and layout do not change it.
//!
//! ```
//! use std::path::Path;
//! use chakra::format::Migration;
//!
//! # fn main() -> Result<(), chakra::format::FormatError> {
//! let text = r#"
//! [migration]
//! id = "0001_initial"
//! app = "default"
//!
//! [[operations]]
//! type = "CreateModel"
//! model = "User"
//! table = "users"
//! fields = [{ name = "id", type = "BigInteger", primary_key = true, auto_increment = true }]
//! "#;
//! let migration = Migration::parse(Path::new("migrations/0001_initial.toml"), text)?;
//! assert_eq!(migration.migration.dependencies, Vec::<String>::new());
//! assert_eq!(migration.operations[0].to_string(), "+ CreateModel User (users)");
//!
//! // The checksum is the SHA-256 of the canonical form, which ignores comments.
//! let commented = format!("# reviewed\n{text}");
//! let same = Migration::parse(Path::new("0001_initial.toml"), &commented)?;
//! assert_eq!(same.checksum(), migration.checksum());
//! assert!(migration.canonical().starts_with(r#"{"format":1,"id":"0001_initial""#));
//!
//! // Writing it and parsing it again gives the same migration.
//! assert_eq!(Migration::parse(Path::new("0001_initial.toml"), &migration.to_toml())?, migration);
//! # Ok(()) }
//! ```

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::checksum::sha256_hex;
use crate::operations::Operation;

/// Written below the header of an empty migration (`migrate make --empty`).
const EMPTY_TEMPLATE: &str = r#"
# Add operations here, for example:
#
# [[operations]]
# type = "RunSQL"
# forward = "UPDATE users SET is_active = TRUE"
# reverse = "UPDATE users SET is_active = FALSE"    # or reversible = true: nothing to undo
#
# [[operations]]
# type = "RunRust"
# forward = "myapp.backfill"     # registered with chakra::data_migration!("myapp.backfill", backfill)
# reversible = true
"#;

/// The file format version written by this release.
pub const FORMAT_VERSION: u32 = 1;

/// The app of models without `#[chakra(app = "...")]`; its migrations live directly in the
/// migrations folder.
pub const DEFAULT_APP: &str = "default";

fn default_true() -> bool {
    true
}

fn default_format() -> u32 {
    FORMAT_VERSION
}

fn is_true(b: &bool) -> bool {
    *b
}

/// The `[migration]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// `NNNN_name`, equal to the file name without `.toml`.
    pub id: String,
    /// The app, equal to the folder the file is in (`default` for the top folder).
    pub app: String,
    /// When the migration was made (RFC 3339, UTC). Not part of the checksum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// Migrations that must be applied first: `ID` in the same app, `app/ID` in another.
    #[serde(default)]
    pub dependencies: Vec<String>,
    /// What the migration does, for humans. Not part of the checksum.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Run the whole migration in one transaction (where the database allows it).
    #[serde(default = "default_true", skip_serializing_if = "is_true")]
    pub atomic: bool,
    /// Migrations this one replaces (squashing).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replaces: Vec<String>,
    /// The file format version.
    #[serde(default = "default_format")]
    pub format: u32,
}

/// A parsed migration file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Migration {
    /// The header.
    pub migration: Header,
    /// The operations, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operations: Vec<Operation>,
}

/// A migration file that could not be read: where, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct FormatError {
    /// The file.
    pub path: PathBuf,
    /// 1-based line and column, when the problem has a location.
    pub location: Option<(usize, usize)>,
    /// What is wrong.
    pub message: String,
    /// The offending line of the file, when there is a location.
    pub snippet: Option<String>,
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some((line, col)) = self.location {
            write!(f, ":{line}:{col}")?;
        }
        write!(f, ": {}", self.message)?;
        if let (Some(snippet), Some((line, col))) = (&self.snippet, self.location) {
            let gutter = line.to_string().len();
            write!(
                f,
                "\n{:gutter$} |\n{line} | {snippet}\n{:gutter$} | {:>col$}",
                "", "", "^"
            )?;
        }
        Ok(())
    }
}

/// Strips a UTF-8 byte-order mark.
pub fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// 1-based (line, column) of byte `offset` in `text`, and the text of that line.
pub fn locate(text: &str, offset: usize) -> (usize, usize, String) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = text[line_start..offset].chars().count() + 1;
    let line_text = text[line_start..]
        .lines()
        .next()
        .unwrap_or("")
        .trim_end_matches('\r')
        .to_owned();
    (line, col, line_text)
}

/// Turns a TOML/serde error into a located [`FormatError`].
pub fn toml_error(path: &Path, text: &str, err: &toml::de::Error) -> FormatError {
    let message = err.message().trim().to_owned();
    match err.span() {
        Some(span) => {
            let (line, col, snippet) = locate(text, span.start);
            FormatError {
                path: path.to_owned(),
                location: Some((line, col)),
                message,
                snippet: Some(snippet),
            }
        }
        None => FormatError {
            path: path.to_owned(),
            location: None,
            message,
            snippet: None,
        },
    }
}

impl Migration {
    /// Parses a migration file's text. `path` is only used in errors.
    ///
    /// # Examples
    ///
    /// A mistake is reported with its file, line and column:
    ///
    /// ```
    /// use std::path::Path;
    /// use chakra::format::Migration;
    ///
    /// let text = "[migration]\nid = \"0001_initial\"\napp = \"default\"\natomic = \"yes\"\n";
    /// let err = Migration::parse(Path::new("0001_initial.toml"), text).expect_err("not a bool");
    /// assert_eq!(err.location, Some((4, 10)));
    /// assert_eq!(err.snippet.as_deref(), Some("atomic = \"yes\""));
    /// ```
    pub fn parse(path: &Path, text: &str) -> Result<Migration, FormatError> {
        let text = strip_bom(text);
        let migration: Migration = toml::from_str(text).map_err(|e| toml_error(path, text, &e))?;
        let fail = |message: String| FormatError {
            path: path.to_owned(),
            location: None,
            message,
            snippet: None,
        };
        if migration.migration.format > FORMAT_VERSION {
            return Err(fail(format!(
                "format {} is newer than this chakra understands (format {FORMAT_VERSION}); upgrade chakra",
                migration.migration.format
            )));
        }
        if parse_id(&migration.migration.id).is_none() {
            return Err(fail(format!(
                "id `{}` is not of the form NNNN_name (four digits, an underscore, a name)",
                migration.migration.id
            )));
        }
        for (i, op) in migration.operations.iter().enumerate() {
            if let Operation::RunSql(r) = op
                && r.forward.trim().is_empty()
            {
                return Err(fail(format!(
                    "operation {} (RunSQL) has an empty `forward`",
                    i + 1
                )));
            }
            if op.is_online() && migration.migration.atomic {
                return Err(fail(format!(
                    "operation {} ({op}) is online (`online = true`), which PostgreSQL cannot run \
                     inside a transaction: set `atomic = false` under [migration], or remove \
                     `online = true`",
                    i + 1
                )));
            }
            if let Operation::AlterField(f) = op
                && f.online
            {
                return Err(fail(format!(
                    "operation {} ({op}): AlterField cannot be online; only CreateIndex, \
                     DropIndex, AddConstraint and AddField (a foreign key) can. Remove \
                     `online = true`",
                    i + 1
                )));
            }
            if let Operation::RunRust(r) = op
                && (r.forward.trim().is_empty()
                    || r.reverse.as_deref().is_some_and(|f| f.trim().is_empty()))
            {
                return Err(fail(format!(
                    "operation {} (RunRust) names no function; write the name it was registered \
                     under with chakra::data_migration!",
                    i + 1
                )));
            }
        }
        Ok(migration)
    }

    /// Writes the migration as TOML. Deterministic: the same migration gives the same bytes.
    pub fn to_toml(&self) -> String {
        let body = toml::to_string_pretty(self).expect("a migration always serializes to TOML");
        let template = if self.operations.is_empty() {
            EMPTY_TEMPLATE
        } else {
            ""
        };
        format!(
            "# Chakra migration. Review it; edit it only before it is applied anywhere.\n{body}{template}"
        )
    }

    /// The canonical form: compact JSON of the parsed migration without `created_at` and
    /// `description`, which do not change what the migration does.
    pub fn canonical(&self) -> String {
        #[derive(Serialize)]
        struct Canonical<'a> {
            format: u32,
            id: &'a str,
            app: &'a str,
            dependencies: &'a [String],
            atomic: bool,
            replaces: &'a [String],
            operations: &'a [Operation],
        }
        let h = &self.migration;
        serde_json::to_string(&Canonical {
            format: h.format,
            id: &h.id,
            app: &h.app,
            dependencies: &h.dependencies,
            atomic: h.atomic,
            replaces: &h.replaces,
            operations: &self.operations,
        })
        .expect("a migration always serializes to JSON")
    }

    /// SHA-256 hex of the canonical form.
    pub fn checksum(&self) -> String {
        sha256_hex(self.canonical().as_bytes())
    }
}

/// Splits `NNNN_name` into its number and name.
///
/// # Examples
///
/// ```
/// use chakra::format::parse_id;
///
/// assert_eq!(parse_id("0012_add_user_email"), Some((12, "add_user_email")));
/// assert_eq!(parse_id("12_add_user_email"), None);
/// assert_eq!(parse_id("0012_AddEmail"), None);
/// ```
pub fn parse_id(id: &str) -> Option<(u32, &str)> {
    let (num, name) = id.split_once('_')?;
    if num.len() != 4 || !num.bytes().all(|b| b.is_ascii_digit()) || name.is_empty() {
        return None;
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return None;
    }
    Some((num.parse().ok()?, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
[migration]
id = "0002_add_user_email"
app = "default"
created_at = "2026-11-22T10:30:00Z"
dependencies = ["0001_initial", "blog/0001_initial"]
description = "Add email to User"
atomic = true

[[operations]]
type = "AddField"
model = "User"
table = "users"
name = "email"
field_type = "String"
max_length = 255
nullable = true
"#;

    #[test]
    fn parses_the_spec_example() {
        let m = Migration::parse(Path::new("x.toml"), SAMPLE).expect("valid");
        assert_eq!(m.migration.id, "0002_add_user_email");
        assert_eq!(m.migration.dependencies.len(), 2);
        match &m.operations[0] {
            Operation::AddField(f) => {
                assert_eq!(f.max_length, Some(255));
                assert!(f.nullable);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn checksum_ignores_comments_crlf_bom_layout_and_metadata() {
        let base = Migration::parse(Path::new("x.toml"), SAMPLE)
            .expect("valid")
            .checksum();
        let crlf = SAMPLE.replace('\n', "\r\n");
        let bom = format!("\u{feff}{SAMPLE}");
        let commented =
            SAMPLE.replace("[[operations]]", "# a comment\n[[operations]]   # here too");
        let reordered = SAMPLE.replace(
            "name = \"email\"\nfield_type = \"String\"",
            "field_type   =   \"String\"\nname = \"email\"",
        );
        let other_time = SAMPLE.replace("10:30:00Z", "11:00:00Z");
        for variant in [crlf, bom, commented, reordered, other_time] {
            let m = Migration::parse(Path::new("x.toml"), &variant).expect("valid");
            assert_eq!(
                m.checksum(),
                base,
                "variant changed the checksum:\n{variant}"
            );
        }
        let changed = SAMPLE.replace("max_length = 255", "max_length = 254");
        let m = Migration::parse(Path::new("x.toml"), &changed).expect("valid");
        assert_ne!(m.checksum(), base);
    }

    #[test]
    fn round_trips_through_toml() {
        let m = Migration::parse(Path::new("x.toml"), SAMPLE).expect("valid");
        let again = Migration::parse(Path::new("x.toml"), &m.to_toml()).expect("valid");
        assert_eq!(m, again);
        assert_eq!(m.to_toml(), again.to_toml());
    }

    #[test]
    fn errors_name_the_file_line_and_problem() {
        let broken = SAMPLE.replace("max_length = 255", "max_length = \"long\"");
        let err = Migration::parse(Path::new("migrations/0002_x.toml"), &broken).unwrap_err();
        let shown = err.to_string();
        assert!(shown.starts_with("migrations/0002_x.toml:"), "{shown}");
        assert!(err.location.is_some(), "{shown}");

        let unknown = SAMPLE.replace("nullable = true", "nulable = true");
        let err = Migration::parse(Path::new("m.toml"), &unknown).unwrap_err();
        assert!(err.to_string().contains("nulable"), "{err}");

        let syntax = SAMPLE.replace("id = \"0002_add_user_email\"", "id = \"0002_add_user_email");
        let err = Migration::parse(Path::new("m.toml"), &syntax).unwrap_err();
        assert_eq!(err.location.map(|l| l.0), Some(3), "{err}");
    }

    #[test]
    fn defaults_that_are_not_finite_numbers_are_refused() {
        // `nan` and `inf` have no SQL literal, and would all take one canonical form (found by
        // the fuzzer): `chakra.sum` could not tell them apart.
        for value in ["nan", "inf", "-inf", "+nan"] {
            let text = SAMPLE.replace(
                "nullable = true",
                &format!("nullable = true\ndefault = {value}"),
            );
            let err = Migration::parse(Path::new("m.toml"), &text).unwrap_err();
            assert!(err.to_string().contains("not a finite number"), "{err}");
            assert!(err.location.is_some(), "{err}");
        }
        let text = SAMPLE.replace("nullable = true", "nullable = true\ndefault = 1.5");
        Migration::parse(Path::new("m.toml"), &text).expect("a finite float default");
    }

    const CONSTRAINTS: &str = r#"
[migration]
id = "0003_constraints"
app = "default"

[[operations]]
type = "AddConstraint"
model = "Post"
table = "posts"
name = "posts_author_id_slug_uniq"
unique = ["author_id", "slug"]

[[operations]]
type = "AddConstraint"
model = "Post"
table = "posts"
name = "posts_views_non_negative"
check = "views >= 0"

[[operations]]
type = "RemoveConstraint"
model = "Post"
table = "posts"
name = "posts_old"
"#;

    #[test]
    fn constraint_operations_round_trip_and_name_their_kind_by_key() {
        let m = Migration::parse(Path::new("x.toml"), CONSTRAINTS).expect("valid");
        assert_eq!(m.operations.len(), 3);
        assert!(matches!(
            &m.operations[1],
            Operation::AddConstraint(a) if a.kind == crate::state::ConstraintKind::Check {
                expr: "views >= 0".into()
            }
        ));
        let again = Migration::parse(Path::new("x.toml"), &m.to_toml()).expect("valid");
        assert_eq!(m, again);

        let both = CONSTRAINTS.replace(
            "check = \"views >= 0\"",
            "check = \"views >= 0\"\nunique = [\"views\"]",
        );
        let err = Migration::parse(Path::new("m.toml"), &both).unwrap_err();
        assert!(err.to_string().contains("exactly one of"), "{err}");
    }

    const ONLINE_INDEX: &str = r#"[migration]
id = "0002_posts_views_idx"
app = "default"
dependencies = ["0001_initial"]
atomic = false

[[operations]]
type = "CreateIndex"
model = "Post"
table = "posts"
name = "posts_views_idx"
fields = ["views"]
online = true
"#;

    #[test]
    fn online_operations_need_a_migration_that_is_not_atomic() {
        let m = Migration::parse(Path::new("m.toml"), ONLINE_INDEX).expect("valid");
        assert!(m.operations[0].is_online() && !m.migration.atomic);
        assert_eq!(
            m,
            Migration::parse(Path::new("m.toml"), &m.to_toml()).expect("valid")
        );

        let atomic = ONLINE_INDEX.replace("atomic = false\n", "");
        let err = Migration::parse(Path::new("m.toml"), &atomic).unwrap_err();
        assert!(
            err.to_string().contains(
                "operation 1 (+ CreateIndex posts_views_idx on Post (views) (online)) is online"
            ) && err.to_string().contains("set `atomic = false`"),
            "{err}"
        );

        let alter = r#"[migration]
id = "0002_alter"
app = "default"
atomic = false

[[operations]]
type = "AlterField"
model = "Post"
table = "posts"
name = "views"
field_type = "BigInteger"
online = true
"#;
        let err = Migration::parse(Path::new("m.toml"), alter).unwrap_err();
        assert!(
            err.to_string().contains("AlterField cannot be online"),
            "{err}"
        );
    }

    #[test]
    fn ids_are_validated() {
        assert_eq!(parse_id("0001_initial"), Some((1, "initial")));
        assert_eq!(parse_id("1_initial"), None);
        assert_eq!(parse_id("0001_"), None);
        assert_eq!(parse_id("0001_Bad"), None);
    }
}
