//! `migrate make` prints the lint findings of the migrations it writes: a user's project
//! outside this repository (models in a library, a manage binary linking it), built with
//! cargo into the shared `target/e2e`.

use std::path::{Path, PathBuf};
use std::process::Command;

const MODELS: &str = r#"
use chakra::Model;

#[derive(Model)]
#[chakra(table = "customers")]
pub struct Customer {
    #[chakra(primary_key)]
    pub id: i64,
    #[chakra(max_length = 100)]
    pub name: String,
    #[chakra(max_length = 30)]
    pub phone: Option<String>,
}
"#;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_owned()
}

struct Shop {
    dir: tempfile::TempDir,
}

impl Shop {
    fn new(models: &str) -> Shop {
        let shop = Shop {
            dir: tempfile::tempdir().expect("temp dir"),
        };
        let root = workspace();
        shop.write(
            "Cargo.toml",
            &format!(
                "[package]\nname = \"shop_lint\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n\
                 [lib]\nname = \"shop\"\n\n[dependencies]\nchakra = {{ path = \"{}\" }}\nchakra-cli = {{ path = \"{}\" }}\n\n[workspace]\n",
                root.join("chakra").display(),
                root.join("chakra-cli").display()
            ),
        );
        std::fs::copy(root.join("Cargo.lock"), shop.dir.path().join("Cargo.lock"))
            .expect("copy lock file");
        shop.write("src/lib.rs", models);
        shop.write(
            "src/bin/manage_lint.rs",
            "use shop as _;\nfn main() -> std::process::ExitCode { chakra_cli::main() }\n",
        );
        shop.write(
            "chakra.toml",
            "[project]\nmanage = \"manage_lint\"\n\n[database]\nurl = \"sqlite://shop.sqlite3\"\n",
        );
        shop
    }

    fn write(&self, rel: &str, text: &str) {
        let p = self.dir.path().join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }

    /// `cargo run --bin manage_lint -- ARGS`: exit code and stdout.
    fn manage(&self, args: &[&str]) -> (i32, String) {
        let out = Command::new(env!("CARGO"))
            .args(["run", "--quiet", "--bin", "manage_lint", "--"])
            .args(args)
            .current_dir(self.dir.path())
            .env("CARGO_TARGET_DIR", workspace().join("target/e2e"))
            .env("NO_COLOR", "1")
            .env("SOURCE_DATE_EPOCH", "1795000000")
            .env_remove("DATABASE_URL")
            .output()
            .expect("run cargo");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{stderr}");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }
}

#[test]
fn make_prints_the_lint_findings_of_the_migration_it_writes() {
    let shop = Shop::new(MODELS);
    let (code, made) = shop.manage(&["migrate", "make"]);
    assert_eq!(code, 0, "{made}");
    // A new table: nothing to say.
    assert!(!made.contains("lint:"), "{made}");

    shop.write(
        "src/lib.rs",
        &MODELS.replace(
            "    #[chakra(max_length = 30)]\n    pub phone: Option<String>,\n",
            "",
        ),
    );
    // JSON: each migration lists its findings under `lint`.
    let (code, json) = shop.manage(&["migrate", "make", "--dry-run", "--format", "json"]);
    assert_eq!(code, 0, "{json}");
    assert!(json.contains("\"lint\": ["), "{json}");
    assert!(json.contains("\"code\": \"CH102\""), "{json}");
    assert!(json.contains("\"object\": \"customers.phone\""), "{json}");

    // Text: one line per finding under the migration, for the configured database (SQLite).
    // A finding is advice: make still succeeds.
    let (code, made) = shop.manage(&["migrate", "make"]);
    assert_eq!(code, 0, "{made}");
    assert!(
        made.contains(
            "    lint: error[CH102] drops column `customers`.`phone` and its data (operation 1; sqlite)\n"
        ),
        "{made}"
    );
    assert!(
        made.contains("Run `migrate lint ID` for why each lint finding matters"),
        "{made}"
    );
}
