//! A new user's project, outside this repository: a crate depending on `chakra` and
//! `chakra-cli` by path, its models in a library, a manage binary linking it. Built with
//! cargo and driven through make → apply → check → change → make → status → sql → apply →
//! rollback → rollback to zero → apply, with the database inspected by the `sqlite3` client.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The tables of a SQLite database, in one line, sorted.
const TABLES: &str = "SELECT group_concat(name, ' ') FROM (SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name)";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_owned()
}

const MODELS_V1: &str = r#"
use chakra::Model;

#[derive(Model)]
#[chakra(table = "customers")]
pub struct Customer {
    #[chakra(primary_key)]
    pub id: i64,
    #[chakra(max_length = 100)]
    pub name: String,
    #[chakra(default = true)]
    pub active: bool,
}

#[derive(Model)]
#[chakra(table = "orders")]
pub struct Order {
    #[chakra(primary_key)]
    pub id: i64,
    #[chakra(foreign_key = Customer, on_delete = "cascade", index)]
    pub customer_id: i64,
    pub total_cents: i64,
}
"#;

struct Shop {
    dir: tempfile::TempDir,
    /// Names this project's binaries: tests build into one shared target folder, where
    /// binaries of the same name would overwrite each other.
    tag: &'static str,
}

impl Shop {
    /// The project with the models of [`MODELS_V1`].
    fn new(tag: &'static str) -> Shop {
        Shop::with_models(tag, MODELS_V1)
    }

    /// Writes the project: Cargo.toml, the models library, a manage binary that links it and
    /// one that does not.
    fn with_models(tag: &'static str, models: &str) -> Shop {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = workspace();
        let manifest = format!(
            r#"[package]
name = "shop_{tag}"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
name = "shop"

[dependencies]
chakra = {{ path = "{}" }}
chakra-cli = {{ path = "{}" }}

[workspace]
"#,
            root.join("chakra").display(),
            root.join("chakra-cli").display()
        );
        let shop = Shop { dir, tag };
        shop.write("Cargo.toml", &manifest);
        // The workspace's lock file pins the same versions, so the shared target folder
        // already holds every dependency.
        std::fs::copy(root.join("Cargo.lock"), shop.path().join("Cargo.lock"))
            .expect("copy lock file");
        shop.write("src/lib.rs", models);
        shop.write(
            &format!("src/bin/manage_{tag}.rs"),
            "use shop as _;\nfn main() -> std::process::ExitCode { chakra_cli::main() }\n",
        );
        shop.write(
            &format!("src/bin/unlinked_{tag}.rs"),
            "fn main() -> std::process::ExitCode { chakra_cli::main() }\n",
        );
        shop.write(
            "chakra.toml",
            &format!("[project]\nmanage = \"manage_{tag}\"\n\n[database]\nurl = \"sqlite://shop.sqlite3\"\n"),
        );
        shop
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn write(&self, rel: &str, text: &str) {
        let p = self.path().join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path().join(rel)).expect("read")
    }

    fn migrations(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.path().join("migrations"))
            .map(|d| {
                d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .filter(|n| n.ends_with(".toml"))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// `cargo run --bin BIN -- ARGS` in the project, sharing the workspace's target folder.
    fn run_bin(&self, bin: &str, args: &[&str]) -> Output {
        let out = Command::new(env!("CARGO"))
            .args([
                "run",
                "--quiet",
                "--bin",
                &format!("{bin}_{}", self.tag),
                "--",
            ])
            .args(args)
            .current_dir(self.path())
            .env("CARGO_TARGET_DIR", workspace().join("target/e2e"))
            .env("NO_COLOR", "1")
            .env("SOURCE_DATE_EPOCH", "1795000000")
            .env_remove("DATABASE_URL")
            .output()
            .expect("run cargo");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains("panicked"),
            "no command may panic:\n{stderr}"
        );
        out
    }

    fn manage(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.run_bin("manage", args);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Runs a command that must succeed and returns its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let (code, stdout, stderr) = self.manage(args);
        assert_eq!(code, 0, "`{}` failed:\n{stdout}\n{stderr}", args.join(" "));
        stdout
    }

    fn sqlite(&self, sql: &str) -> String {
        let out = Command::new("sqlite3")
            .arg(self.path().join("shop.sqlite3"))
            .arg(sql)
            .output()
            .expect("the sqlite3 client must be installed (apt-get install sqlite3)");
        assert!(
            out.status.success(),
            "sqlite3 {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

#[test]
fn a_new_project_goes_through_the_whole_loop() {
    let shop = Shop::new("loop");

    let made = shop.ok(&["migrate", "make"]);
    assert!(made.contains("migrations/0001_initial.toml"), "{made}");
    assert!(
        made.contains("+ CreateModel Customer (customers)"),
        "{made}"
    );
    assert!(made.contains("+ CreateModel Order (orders)"), "{made}");
    assert!(
        made.contains("+ CreateIndex orders_customer_id_idx on Order (customer_id)"),
        "{made}"
    );
    assert!(
        shop.read(".chakra/snapshot.toml")
            .contains("name = \"Customer\"")
    );

    let applied = shop.ok(&["migrate", "apply"]);
    assert!(applied.contains("→ 0001_initial... done ("), "{applied}");
    assert!(applied.contains("✓ Applied 1 migration"), "{applied}");
    assert_eq!(
        shop.sqlite(TABLES),
        "_chakra_migrations _chakra_migrations_log customers orders"
    );
    assert_eq!(
        shop.sqlite("SELECT app, id, length(checksum) FROM _chakra_migrations"),
        "default|0001_initial|64"
    );

    let checked = shop.ok(&["migrate", "make", "--check"]);
    assert!(checked.contains("No changes detected"), "{checked}");

    // Change the models: a new optional column.
    shop.write(
        "src/lib.rs",
        &MODELS_V1.replace(
            "    pub active: bool,\n",
            "    pub active: bool,\n    #[chakra(max_length = 30)]\n    pub phone: Option<String>,\n",
        ),
    );
    let (code, stdout, _) = shop.manage(&["migrate", "make", "--check"]);
    assert_eq!(code, 1, "--check must fail when changes exist:\n{stdout}");
    assert!(stdout.contains("+ AddField Customer.phone"), "{stdout}");
    assert_eq!(
        shop.migrations(),
        ["0001_initial.toml"],
        "--check writes nothing"
    );

    let made = shop.ok(&["migrate", "make"]);
    assert!(
        made.contains("migrations/0002_add_customer_phone.toml"),
        "{made}"
    );
    assert_eq!(
        shop.migrations(),
        ["0001_initial.toml", "0002_add_customer_phone.toml"]
    );

    let status = shop.ok(&["migrate", "status"]);
    assert!(status.contains("Applied   0001_initial"), "{status}");
    assert!(
        status.contains("Pending   0002_add_customer_phone"),
        "{status}"
    );

    let sql = shop.ok(&["migrate", "sql", "0002_add_customer_phone"]);
    assert!(
        sql.contains(r#"ALTER TABLE "customers" ADD COLUMN "phone" VARCHAR(30);"#),
        "{sql}"
    );

    shop.ok(&["migrate", "apply"]);
    assert!(
        shop.sqlite("PRAGMA table_info(customers)")
            .contains("|phone|VARCHAR(30)|0||0")
    );

    // Rows of tables the rollback does not touch are kept.
    shop.sqlite("INSERT INTO customers (name, phone) VALUES ('Ann', '555'); INSERT INTO orders (customer_id, total_cents) VALUES (1, 1200);");
    let rolled = shop.ok(&["migrate", "rollback"]);
    assert!(
        rolled.contains("← 0002_add_customer_phone... done"),
        "{rolled}"
    );
    assert_eq!(shop.sqlite("SELECT name, active FROM customers"), "Ann|1");
    assert_eq!(
        shop.sqlite("SELECT customer_id, total_cents FROM orders"),
        "1|1200"
    );
    assert!(
        !shop
            .sqlite("PRAGMA table_info(customers)")
            .contains("phone")
    );

    shop.ok(&["migrate", "rollback", "--to", "zero"]);
    assert_eq!(
        shop.sqlite(TABLES),
        "_chakra_migrations _chakra_migrations_log"
    );
    assert_eq!(shop.sqlite("SELECT COUNT(*) FROM _chakra_migrations"), "0");

    let again = shop.ok(&["migrate", "apply"]);
    assert!(again.contains("✓ Applied 2 migrations"), "{again}");

    // A CRLF copy of an applied migration is the same migration.
    let first = shop.read("migrations/0001_initial.toml");
    shop.write("migrations/0001_initial.toml", &first.replace('\n', "\r\n"));
    assert!(
        shop.ok(&["migrate", "apply"])
            .contains("No migrations to apply.")
    );

    // An edited applied migration is refused by name.
    shop.write(
        "migrations/0001_initial.toml",
        &first.replace("max_length = 100", "max_length = 120"),
    );
    let (code, _, stderr) = shop.manage(&["migrate", "apply"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("applied migration `0001_initial` differs from what was applied"),
        "{stderr}"
    );
    shop.write("migrations/0001_initial.toml", &first);

    // A broken migration file: file, line, what is wrong; no panic.
    shop.write("migrations/0003_broken.toml", "[migration]\nid = \"0003_broken\"\napp = \"default\"\ndependencies = [\"0002_add_customer_phone\"\n");
    let (code, _, stderr) = shop.manage(&["migrate", "apply"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("migrations/0003_broken.toml:4:42: unclosed array"),
        "{stderr}"
    );
}

#[test]
fn models_in_a_library_are_found_only_when_the_binary_links_it() {
    let shop = Shop::new("link");
    let made = shop.ok(&["migrate", "make", "--dry-run"]);
    assert!(
        made.contains("CreateModel Customer"),
        "linked library's models are registered:\n{made}"
    );

    // A binary that depends on the crate but never names it does not link it: the user is
    // told how to fix that rather than getting migrations that delete everything.
    let out = shop.run_bin("unlinked", &["migrate", "make", "--dry-run"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no models are linked into this binary"),
        "{stderr}"
    );
    assert!(stderr.contains("use myapp as _;"), "{stderr}");
}

const TWO_APPS: &str = r#"
use chakra::Model;

#[derive(Model)]
#[chakra(table = "accounts")]
pub struct Account {
    #[chakra(primary_key)]
    pub id: i64,
    #[chakra(max_length = 50)]
    pub name: String,
}

#[derive(Model)]
#[chakra(table = "blog_posts", app = "blog")]
pub struct Post {
    #[chakra(primary_key)]
    pub id: i64,
    #[chakra(foreign_key = Account, on_delete = "cascade")]
    pub account_id: i64,
}
"#;

#[test]
fn two_apps_get_their_own_folders_and_a_cross_app_dependency() {
    let shop = Shop::with_models("apps", TWO_APPS);
    let made = shop.ok(&["migrate", "make"]);
    assert!(
        made.contains("Migrations for blog:\n  migrations/blog/0001_initial.toml"),
        "{made}"
    );
    assert!(
        made.contains("Migrations for default:\n  migrations/0001_initial.toml"),
        "{made}"
    );
    let blog = shop.read("migrations/blog/0001_initial.toml");
    assert!(blog.contains("app = \"blog\""), "{blog}");
    assert!(
        blog.contains("dependencies = [\"default/0001_initial\"]"),
        "{blog}"
    );

    let applied = shop.ok(&["migrate", "apply"]);
    assert!(applied.contains("→ 0001_initial... done"), "{applied}");
    assert!(applied.contains("→ blog/0001_initial... done"), "{applied}");
    assert!(
        applied.find("→ 0001_initial").expect("default") < applied.find("→ blog/").expect("blog")
    );

    // Rolling back the default app takes the app that depends on it along, newest first.
    let rolled = shop.ok(&["migrate", "rollback", "--to", "zero"]);
    assert!(
        rolled.find("← blog/0001_initial").expect("blog")
            < rolled.find("← 0001_initial").expect("default"),
        "{rolled}"
    );

    // A target in another app brings what it depends on.
    let applied = shop.ok(&["migrate", "apply", "blog/0001_initial"]);
    assert!(applied.contains("✓ Applied 2 migrations"), "{applied}");
    shop.ok(&["migrate", "rollback", "--to", "blog/zero"]);
    assert_eq!(
        shop.sqlite(TABLES),
        "_chakra_migrations _chakra_migrations_log accounts"
    );
    let status = shop.ok(&["migrate", "status"]);
    assert!(status.contains("Applied   0001_initial"), "{status}");
    assert!(status.contains("Pending   blog/0001_initial"), "{status}");
    assert!(
        shop.ok(&["migrate", "make", "--check"])
            .contains("No changes detected")
    );
}

/// `manage ARGS` on a terminal (a pseudo-terminal from `script`), typing `keys`.
fn on_terminal(shop: &Shop, args: &str, keys: &str) -> String {
    use std::io::Write;
    // Built first, so the terminal session only runs the binary.
    shop.ok(&["--help"]);
    let bin = workspace().join(format!("target/e2e/debug/manage_{}", shop.tag));
    let mut child = Command::new("script")
        .args(["-qec", &format!("{} {args}", bin.display()), "/dev/null"])
        .current_dir(shop.path())
        .env("NO_COLOR", "1")
        .env("SOURCE_DATE_EPOCH", "1795000000")
        .env_remove("DATABASE_URL")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the `script` command (util-linux) runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(keys.as_bytes())
        .expect("type");
    let out = child.wait_with_output().expect("script ends");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_rename_answered_yes_on_a_terminal_keeps_the_data() {
    let shop = Shop::new("ask");
    shop.ok(&["migrate", "make"]);
    shop.ok(&["migrate", "apply"]);
    shop.sqlite("INSERT INTO customers (name) VALUES ('Ann')");
    shop.write(
        "src/lib.rs",
        &MODELS_V1.replace("    pub name: String,", "    pub full_name: String,"),
    );

    // Without a terminal the answer is no: the new NOT NULL field cannot be filled, and the
    // user is told which hint keeps the data.
    let (code, _, stderr) = shop.manage(&["--no-input", "migrate", "make"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("add #[chakra(renamed_from = \"name\")] to `full_name`"),
        "{stderr}"
    );
    assert_eq!(shop.migrations(), ["0001_initial.toml"]);

    // On a terminal: the question, answered yes.
    let screen = on_terminal(&shop, "migrate make", "y");
    assert!(
        screen.contains("Was Customer.name renamed to Customer.full_name? [y/N]"),
        "{screen}"
    );
    assert!(
        screen.contains("~ RenameField Customer.name -> full_name"),
        "{screen}"
    );
    assert_eq!(
        shop.migrations(),
        ["0001_initial.toml", "0002_rename_customer_full_name.toml"]
    );
    shop.ok(&["migrate", "apply"]);
    assert_eq!(shop.sqlite("SELECT full_name FROM customers"), "Ann");
    assert!(
        shop.ok(&["migrate", "make", "--check"])
            .contains("No changes detected")
    );
}

/// The application binary of [`an_embedded_migrator_migrates_at_start_up_and_follows_rebuilds`]:
/// it applies the migrations compiled into it to the database named on its command line.
const APP: &str = r#"
static MIGRATOR: chakra::migrator::Migrator = chakra::embed_migrations!("migrations");

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    use shop as _;
    let url = std::env::args().nth(1).expect("a database URL");
    match MIGRATOR.apply(url.as_str()).await {
        Ok(applied) => {
            println!("applied {}", applied.len());
            for key in applied {
                println!("{key}");
            }
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
"#;

/// A data migration in the models library, run by the embedded migrator.
const FILL: &str = r#"
pub async fn fill_names(conn: &mut chakra::data::Connection<'_>) -> Result<(), chakra::data::Error> {
    conn.execute("UPDATE customers SET name = 'unknown' WHERE name = ''").await?;
    Ok(())
}
chakra::data_migration!("shop.fill_names", fill_names);
"#;

#[test]
fn an_embedded_migrator_migrates_at_start_up_and_follows_rebuilds() {
    let shop = Shop::new("embed");
    let manifest = shop.read("Cargo.toml").replace(
        "[dependencies]\n",
        "[dependencies]\ntokio = { version = \"1\", features = [\"rt\", \"macros\"] }\n",
    );
    shop.write("Cargo.toml", &manifest);
    shop.write(&format!("src/bin/app_{}.rs", shop.tag), APP);
    shop.write("src/lib.rs", &format!("{MODELS_V1}{FILL}"));
    // Files added by other means than `migrate make` are picked up too.
    shop.write(
        "build.rs",
        "fn main() { println!(\"cargo:rerun-if-changed=migrations\"); }\n",
    );
    shop.ok(&["migrate", "make"]);
    let url = format!("sqlite://{}", shop.path().join("app.sqlite3").display());
    let app = |expect_ok: bool| {
        let out = shop.run_bin("app", &[&url]);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.success(), expect_ok, "{stdout}\n{stderr}");
        format!("{stdout}{stderr}")
    };

    // An empty database is migrated at start-up; the next start has nothing to do.
    assert_eq!(app(true), "applied 1\n0001_initial\n");
    assert_eq!(app(true), "applied 0\n");

    // A new migration made with `migrate make`, and one written by hand that runs Rust code:
    // the next build embeds them.
    shop.write(
        "src/lib.rs",
        &format!(
            "{}{FILL}",
            MODELS_V1.replace(
                "    pub active: bool,\n}",
                "    pub active: bool,\n    #[chakra(max_length = 200)]\n    pub email: Option<String>,\n}"
            )
        ),
    );
    let made = shop.ok(&["migrate", "make"]);
    assert!(made.contains("0002_add_customer_email"), "{made}");
    shop.ok(&[
        "migrate",
        "make",
        "--empty",
        "--app",
        "default",
        "--name",
        "fill_names",
    ]);
    let empty = shop.read("migrations/0003_fill_names.toml");
    shop.write(
        "migrations/0003_fill_names.toml",
        &format!("{empty}\n[[operations]]\ntype = \"RunRust\"\nforward = \"shop.fill_names\"\nreversible = true\n"),
    );
    shop.ok(&["migrate", "verify", "--update-sum"]);
    assert_eq!(
        app(true),
        "applied 2\n0002_add_customer_email\n0003_fill_names\n"
    );
    let columns = Command::new("sqlite3")
        .arg(shop.path().join("app.sqlite3"))
        .arg("SELECT group_concat(name, ' ') FROM pragma_table_info('customers')")
        .output()
        .expect("sqlite3");
    assert_eq!(
        String::from_utf8_lossy(&columns.stdout).trim(),
        "id name active email"
    );

    // A file added behind chakra.sum's back is embedded by the next build, and refused.
    shop.write(
        "migrations/0004_by_hand.toml",
        "[migration]\nid = \"0004_by_hand\"\napp = \"default\"\ndependencies = [\"0003_fill_names\"]\n",
    );
    let refused = app(false);
    assert!(
        refused.contains("0004_by_hand.toml is not listed in chakra.sum")
            && refused.contains("migrate verify --update-sum"),
        "{refused}"
    );
}
