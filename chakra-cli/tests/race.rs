//! Sixteen `chakra migrate apply` processes started at once against the same database, on every
//! engine, one of the migrations building an index online (concurrently, outside a transaction
//! on PostgreSQL): every process exits 0 and every migration is recorded exactly once.

use std::path::Path;
use std::process::{Command, Stdio};

use chakra_tests::matrix_test;

/// Copies the blog example's migrations into a temporary project.
fn blog_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/blog/migrations");
    let to = dir.path().join("migrations");
    std::fs::create_dir_all(&to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("blog migrations") {
        let path = entry.expect("entry").path();
        let name = path.file_name().expect("name");
        // 0003 runs Rust code of the blog crate, which only its manage binary contains.
        if name.to_string_lossy().starts_with("0003_") {
            continue;
        }
        std::fs::copy(&path, to.join(name)).expect("copy");
    }
    // An online index (CREATE INDEX CONCURRENTLY on PostgreSQL, outside any transaction):
    // its migration runs step by step, and must still run exactly once.
    std::fs::write(to.join("0003_posts_status_idx.toml"), ONLINE_INDEX).expect("write");
    dir
}

const ONLINE_INDEX: &str = r#"[migration]
id = "0003_posts_status_idx"
app = "default"
dependencies = ["0002_add_post_status"]
atomic = false

[[operations]]
type = "CreateIndex"
model = "Post"
table = "posts"
name = "posts_status_idx"
fields = ["status"]
online = true
"#;

matrix_test!(
    sixteen_processes_racing_apply_each_apply_every_migration_once,
    |db| async move {
        let project = blog_project();
        let children: Vec<_> = (0..16)
            .map(|_| {
                Command::new(env!("CARGO_BIN_EXE_chakra"))
                    .args(["--database-url", &db.url, "migrate", "apply"])
                    .current_dir(project.path())
                    .env("NO_COLOR", "1")
                    .env_remove("DATABASE_URL")
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("start chakra")
            })
            .collect();
        let mut applied_lines = 0;
        for child in children {
            let out = child.wait_with_output().expect("chakra runs");
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.success(),
                "a racing migrator failed:\n{stdout}\n{stderr}"
            );
            applied_lines += stdout.matches("... done (").count();
        }
        assert_eq!(
            applied_lines, 3,
            "each of the three migrations is run by exactly one process"
        );
        let rows = db
            .rows("SELECT id FROM _chakra_migrations ORDER BY seq")
            .await;
        let ids: Vec<_> = rows
            .iter()
            .map(|r| r[0].clone().unwrap_or_default())
            .collect();
        assert_eq!(
            ids,
            [
                "0001_initial",
                "0002_add_post_status",
                "0003_posts_status_idx"
            ]
        );
        // One audit log entry per migration, and a chain that verifies.
        let mut exec = db.executor().await;
        let log = exec.log().await.expect("log").expect("a log");
        assert_eq!(log.len(), 3, "{log:?}");
        assert_eq!(
            exec.verify_history().await.expect("verify").problems,
            vec![]
        );
    }
);
