//! `chakra.toml`, `.env` and the database URL precedence: `--database-url`, then
//! `DATABASE_URL` (environment or `.env`), then `[database] url`.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use chakra_cli::config::{Config, starter};
//!
//! # fn main() -> anyhow::Result<()> {
//! let project = tempfile::tempdir()?;
//! let file = project.path().join("chakra.toml");
//! std::fs::write(&file, starter("sqlite://app.db"))?;
//!
//! // `--database-url` wins over `DATABASE_URL` and the file.
//! let config = Config::load(Some(&file), Some("postgres://localhost/app"))?;
//! assert_eq!(config.database_url()?, "postgres://localhost/app");
//! assert_eq!(config.url_origin(), "--database-url");
//! assert_eq!(config.migrations_dir, "migrations");
//! assert_eq!(config.lock_timeout, Duration::from_secs(30));
//! # Ok(()) }
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use serde::Deserialize;

/// The configuration file name.
pub const CONFIG_FILE: &str = "chakra.toml";

/// `chakra.toml` as written by users.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    project: RawProject,
    #[serde(default)]
    database: RawDatabase,
    #[serde(default)]
    migrations: RawMigrations,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProject {
    manage: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDatabase {
    url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMigrations {
    directory: Option<String>,
    table_name: Option<String>,
    lock_timeout: Option<RawDuration>,
    lock_retries: Option<u32>,
    protected: Option<bool>,
}

/// A duration as written in `chakra.toml`: `"30s"`, `"500ms"`, or a bare number of seconds.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawDuration {
    Seconds(u64),
    Text(String),
}

/// Where the database URL came from, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlSource {
    /// `--database-url`.
    Flag,
    /// `DATABASE_URL` set in the environment.
    Env,
    /// `DATABASE_URL` from `.env` in the project root.
    DotEnv,
    /// `chakra.toml`.
    File,
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The folder the command runs in.
    pub cwd: PathBuf,
    /// The project root: the folder of the configuration file (or the current folder).
    pub root: PathBuf,
    /// The configuration file, when one was found.
    pub file: Option<PathBuf>,
    /// The manage binary that links the models (`[project] manage`).
    pub manage: Option<String>,
    /// The database URL and where it came from.
    pub url: Option<(String, UrlSource)>,
    /// The migrations folder name, relative to the root.
    pub migrations_dir: String,
    /// The history table.
    pub table_name: String,
    /// How long to wait for another migrator.
    pub lock_timeout: Duration,
    /// `[migrations] lock_retries`: how often DDL that timed out on a table lock is retried.
    pub lock_retries: u32,
    /// Refuse data-dropping operations without `--allow-data-loss`.
    pub protected: bool,
}

impl Config {
    /// Finds and reads the configuration. `explicit` is `-c/--config`; without it,
    /// `chakra.toml` is looked for in the current folder and its parents.
    pub fn load(explicit: Option<&Path>, url_flag: Option<&str>) -> Result<Config> {
        let cwd = std::env::current_dir().context("cannot read the current folder")?;
        let file = match explicit {
            Some(p) => {
                if !p.is_file() {
                    bail!(
                        "configuration file `{}` does not exist; create it with `chakra init` or fix --config",
                        p.display()
                    );
                }
                Some(std::path::absolute(p).unwrap_or_else(|_| p.to_owned()))
            }
            None => cwd
                .ancestors()
                .map(|d| d.join(CONFIG_FILE))
                .find(|p| p.is_file()),
        };
        let root = file
            .as_deref()
            .and_then(Path::parent)
            .map_or_else(|| cwd.clone(), Path::to_owned);
        let raw = match &file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read `{}`", path.display()))?;
                let text = chakra::format::strip_bom(&text);
                toml::from_str::<RawConfig>(text)
                    .map_err(|e| anyhow!("{}", chakra::format::toml_error(path, text, &e)))?
            }
            None => RawConfig::default(),
        };
        // `.env` in the project root fills in variables that are not already set.
        let from_environment = std::env::var_os("DATABASE_URL").is_some_and(|u| !u.is_empty());
        let env_file = root.join(".env");
        if env_file.is_file() {
            dotenvy::from_path(&env_file)
                .with_context(|| format!("cannot read `{}`", env_file.display()))?;
        }
        let url = match (
            url_flag,
            std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()),
            raw.database.url,
        ) {
            (Some(u), _, _) => Some((u.to_owned(), UrlSource::Flag)),
            (None, Some(u), _) if from_environment => Some((u, UrlSource::Env)),
            (None, Some(u), _) => Some((u, UrlSource::DotEnv)),
            (None, None, Some(u)) => Some((u, UrlSource::File)),
            (None, None, None) => None,
        };
        let lock_timeout = match raw.migrations.lock_timeout {
            Some(RawDuration::Seconds(n)) => Duration::from_secs(n),
            Some(RawDuration::Text(s)) => parse_duration(&s).with_context(|| {
                format!(
                    "`[migrations] lock_timeout = \"{s}\"` in `{}`",
                    file.as_deref().unwrap_or(Path::new(CONFIG_FILE)).display()
                )
            })?,
            None => Duration::from_secs(30),
        };
        Ok(Config {
            cwd,
            root,
            file,
            manage: raw.project.manage,
            url,
            migrations_dir: raw
                .migrations
                .directory
                .unwrap_or_else(|| "migrations".to_owned()),
            table_name: raw
                .migrations
                .table_name
                .unwrap_or_else(|| chakra::executor::DEFAULT_TABLE.to_owned()),
            lock_timeout,
            lock_retries: raw
                .migrations
                .lock_retries
                .unwrap_or(chakra::executor::DEFAULT_LOCK_RETRIES),
            protected: raw.migrations.protected.unwrap_or(false),
        })
    }

    /// The migrations folder.
    pub fn migrations_path(&self) -> PathBuf {
        local(&self.root.join(&self.migrations_dir))
    }

    /// The snapshot file.
    pub fn snapshot_path(&self) -> PathBuf {
        local(&self.root.join(chakra::snapshot::SNAPSHOT_PATH))
    }

    /// Where the database URL comes from, for messages: `--database-url`, `DATABASE_URL` or
    /// the configuration file.
    pub fn url_origin(&self) -> String {
        match self.url.as_ref().map(|(_, source)| source) {
            Some(UrlSource::Flag) => "--database-url".to_owned(),
            Some(UrlSource::Env) => "DATABASE_URL in the environment".to_owned(),
            Some(UrlSource::DotEnv) => {
                format!("DATABASE_URL in `{}`", self.root.join(".env").display())
            }
            _ => format!(
                "`[database] url` in `{}`",
                self.file
                    .as_deref()
                    .unwrap_or(Path::new(CONFIG_FILE))
                    .display()
            ),
        }
    }

    /// The database URL. A relative SQLite path resolves against the folder it was written
    /// for: the current folder for `--database-url` and an environment variable, the project
    /// root for `chakra.toml` and `.env`. No database configured is an error that says how to
    /// configure one.
    pub fn database_url(&self) -> Result<String> {
        let (url, source) = self.url.as_ref().ok_or_else(|| {
            anyhow!(
                "no database configured: pass --database-url, set DATABASE_URL (in the environment or .env), \
                 or add\n\n[database]\nurl = \"sqlite://db.sqlite3\"\n\nto {} (`chakra init` writes one)",
                self.file
                    .as_deref()
                    .map_or_else(|| CONFIG_FILE.to_owned(), |f| format!("`{}`", f.display()))
            )
        })?;
        if matches!(
            url.as_str(),
            "sqlite:" | "sqlite:/" | "sqlite://" | "sqlite:///"
        ) {
            bail!(
                "the database URL `{url}` (from {}) names no SQLite file; write it like \
                 `sqlite://db.sqlite3`, or `sqlite::memory:` for a database that is thrown away",
                self.url_origin()
            );
        }
        let base = match source {
            UrlSource::Flag | UrlSource::Env => &self.cwd,
            UrlSource::DotEnv | UrlSource::File => &self.root,
        };
        Ok(resolve_sqlite_path(url, base))
    }
}

/// `path` relative to the current folder when it lies inside it, so that messages show short
/// paths; otherwise unchanged.
fn local(path: &Path) -> PathBuf {
    match std::env::current_dir() {
        Ok(cwd) => path
            .strip_prefix(&cwd)
            .map_or_else(|_| path.to_owned(), Path::to_owned),
        Err(_) => path.to_owned(),
    }
}

/// Makes the path of a `sqlite:` URL absolute, relative to `root`.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// use chakra_cli::config::resolve_sqlite_path;
///
/// let root = Path::new("/srv/app");
/// assert_eq!(resolve_sqlite_path("sqlite://db.sqlite3?mode=rwc", root), "sqlite:///srv/app/db.sqlite3?mode=rwc");
/// assert_eq!(resolve_sqlite_path("sqlite::memory:", root), "sqlite::memory:");
/// assert_eq!(resolve_sqlite_path("postgres://localhost/app", root), "postgres://localhost/app");
/// ```
pub fn resolve_sqlite_path(url: &str, root: &Path) -> String {
    let Some(rest) = url.strip_prefix("sqlite:") else {
        return url.to_owned();
    };
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    if path.is_empty() || path == ":memory:" || path.starts_with('/') {
        return url.to_owned();
    }
    let abs = root.join(path);
    match query {
        Some(q) => format!("sqlite://{}?{q}", abs.display()),
        None => format!("sqlite://{}", abs.display()),
    }
}

/// Parses `30s`, `500ms`, `2m`, `1h` or a number of seconds.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use chakra_cli::config::parse_duration;
///
/// # fn main() -> anyhow::Result<()> {
/// assert_eq!(parse_duration("500ms")?, Duration::from_millis(500));
/// assert_eq!(parse_duration("2m")?, Duration::from_secs(120));
/// assert_eq!(parse_duration("45")?, Duration::from_secs(45));
/// assert!(parse_duration("2 weeks").is_err());
/// # Ok(()) }
/// ```
pub fn parse_duration(s: &str) -> Result<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().map_err(|_| {
        anyhow!("`{s}` is not a duration; write it like \"30s\", \"500ms\" or \"2m\"")
    })?;
    Ok(match unit.trim() {
        "" | "s" => Duration::from_secs(n),
        "ms" => Duration::from_millis(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        other => bail!("unknown unit `{other}` in `{s}`; use ms, s, m or h"),
    })
}

/// The starter `chakra.toml` written by `chakra init`.
pub fn starter(url: &str) -> String {
    format!(
        r#"# Chakra configuration. See docs/cli.md.

[project]
# The binary that links your models and calls chakra_cli::main(); `chakra migrate make`
# runs it with `cargo run --bin <manage>`.
manage = "manage"

[database]
# DATABASE_URL (environment or .env) and --database-url override this.
url = "{url}"

[migrations]
directory = "migrations"
table_name = "_chakra_migrations"
lock_timeout = "30s"
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_timeout_is_a_duration_or_whole_seconds() {
        let raw: RawMigrations = toml::from_str("lock_timeout = 5").expect("seconds");
        assert!(matches!(raw.lock_timeout, Some(RawDuration::Seconds(5))));
        let raw: RawMigrations = toml::from_str("lock_timeout = \"250ms\"").expect("text");
        assert!(matches!(raw.lock_timeout, Some(RawDuration::Text(t)) if t == "250ms"));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("7").unwrap(), Duration::from_secs(7));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("3d").is_err());
    }

    #[test]
    fn sqlite_paths_resolve_against_the_root() {
        let root = Path::new("/proj");
        assert_eq!(
            resolve_sqlite_path("sqlite://db.sqlite3", root),
            "sqlite:///proj/db.sqlite3"
        );
        assert_eq!(
            resolve_sqlite_path("sqlite:db.sqlite3", root),
            "sqlite:///proj/db.sqlite3"
        );
        assert_eq!(
            resolve_sqlite_path("sqlite://data/x.db?mode=rwc", root),
            "sqlite:///proj/data/x.db?mode=rwc"
        );
        assert_eq!(
            resolve_sqlite_path("sqlite:///abs/x.db", root),
            "sqlite:///abs/x.db"
        );
        assert_eq!(
            resolve_sqlite_path("sqlite::memory:", root),
            "sqlite::memory:"
        );
        assert_eq!(
            resolve_sqlite_path("postgres://h/db", root),
            "postgres://h/db"
        );
    }
}
