//! `.chakra/snapshot.toml`: the schema after the newest migrations, committed with the code.
//!
//! The snapshot always equals the state replayed from the migration files; `migrate make`
//! checks this and explains a mismatch instead of using a wrong snapshot. It exists so that
//! reviewers see the whole schema in one file and two branches that change the schema touch
//! the same file.
//!
//! # Examples
//!
//! ```
//! use chakra::graph::MigrationKey;
//! use chakra::snapshot::{SNAPSHOT_PATH, read, write};
//! use chakra::state::{FieldState, FieldType, ModelState, ProjectState};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let state = ProjectState::from_models_list(vec![ModelState {
//!     app: "default".into(),
//!     name: "Tag".into(),
//!     table: "tags".into(),
//!     fields: vec![FieldState::new("label", FieldType::Text)],
//!     indexes: vec![],
//!     constraints: vec![],
//! }])?;
//! let root = tempfile::tempdir()?;
//! let path = root.path().join(SNAPSHOT_PATH);
//! assert!(read(&path)?.is_none());
//!
//! write(&path, &state, [&MigrationKey::new("default", "0001_initial")])?;
//! let snapshot = read(&path)?.expect("just written");
//! assert_eq!(snapshot.state, state);
//! assert_eq!(snapshot.migrations, ["default/0001_initial"]);
//! # Ok(()) }
//! ```

use std::fs;
use std::path::Path;

use crate::format::{FormatError, strip_bom, toml_error};
use crate::graph::MigrationKey;
use crate::project::{ProjectError, write_atomic};
use crate::state::{ProjectState, StateFile};

/// The snapshot path, relative to the project root.
pub const SNAPSHOT_PATH: &str = ".chakra/snapshot.toml";

/// The snapshot format version.
pub const SNAPSHOT_FORMAT: u32 = 1;

/// A parsed snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// The schema.
    pub state: ProjectState,
    /// The newest migration of each app when it was written.
    pub migrations: Vec<String>,
}

/// Serializes a snapshot. Deterministic.
pub fn to_toml<'a>(
    state: &ProjectState,
    leaves: impl IntoIterator<Item = &'a MigrationKey>,
) -> String {
    let mut migrations: Vec<String> = leaves
        .into_iter()
        .map(|k| format!("{}/{}", k.app, k.id))
        .collect();
    migrations.sort();
    let file = StateFile {
        format: SNAPSHOT_FORMAT,
        migrations,
        models: state.models.values().cloned().collect(),
    };
    let body = toml::to_string_pretty(&file).expect("a state always serializes to TOML");
    format!(
        "# Chakra schema snapshot: the schema after the newest migrations.\n# Written by `migrate make`; commit it, do not edit it.\n{body}"
    )
}

/// Reads the snapshot at `path`; `Ok(None)` when there is none.
pub fn read(path: &Path) -> Result<Option<Snapshot>, ProjectError> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(ProjectError::Io {
                path: path.to_owned(),
                source,
            });
        }
    };
    let text = strip_bom(&text);
    let file: StateFile = toml::from_str(text)
        .map_err(|e| ProjectError::Invalid(vec![toml_error(path, text, &e)]))?;
    let invalid = |message: String| {
        ProjectError::Invalid(vec![FormatError {
            path: path.to_owned(),
            location: None,
            message,
            snippet: None,
        }])
    };
    if file.format > SNAPSHOT_FORMAT {
        return Err(invalid(format!(
            "snapshot format {} is newer than this chakra understands; upgrade chakra",
            file.format
        )));
    }
    let state = ProjectState::from_models_list(file.models).map_err(|e| invalid(e.message))?;
    Ok(Some(Snapshot {
        state,
        migrations: file.migrations,
    }))
}

/// Writes the snapshot atomically.
pub fn write<'a>(
    path: &Path,
    state: &ProjectState,
    leaves: impl IntoIterator<Item = &'a MigrationKey>,
) -> Result<(), ProjectError> {
    write_atomic(path, &to_toml(state, leaves))
}
