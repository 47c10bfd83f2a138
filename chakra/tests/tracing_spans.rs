//! The executor reports through `tracing`: a `migration` span per migration (app, id,
//! direction) holding an `operation` span per operation, with a debug event per statement.
//! Recorded here by a small subscriber of its own, on a current-thread runtime.
#![cfg(feature = "sqlite")]

use std::sync::{Arc, Mutex};

use chakra::executor::{Executor, ExecutorConfig};
use chakra::make::{MakeOptions, Paths, load_graph, make};
use chakra::plan::RollbackTarget;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

mod common;
use common::*;

/// Records `name{field=value ...}` for each new span and `event{...} in <span>` for events.
#[derive(Clone, Default)]
struct Recorder {
    lines: Arc<Mutex<Vec<String>>>,
    names: Arc<Mutex<Vec<String>>>,
    current: Arc<Mutex<Vec<u64>>>,
}

#[derive(Default)]
struct Fields(Vec<String>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push(format!("{}={value:?}", field.name()));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push(format!("{}={value}", field.name()));
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut f = Fields::default();
        span.record(&mut f);
        let line = format!("{}{{{}}}", span.metadata().name(), f.0.join(" "));
        let mut names = self.names.lock().expect("lock");
        names.push(span.metadata().name().to_owned());
        self.lines.lock().expect("lock").push(line);
        Id::from_u64(names.len() as u64)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut f = Fields::default();
        event.record(&mut f);
        let within = self
            .current
            .lock()
            .expect("lock")
            .last()
            .map(|id| self.names.lock().expect("lock")[*id as usize - 1].clone())
            .unwrap_or_default();
        self.lines
            .lock()
            .expect("lock")
            .push(format!("event{{{}}} in {within}", f.0.join(" ")));
    }
    fn enter(&self, span: &Id) {
        self.current.lock().expect("lock").push(span.into_u64());
    }
    fn exit(&self, _: &Id) {
        self.current.lock().expect("lock").pop();
    }
}

#[tokio::test]
async fn each_migration_and_operation_has_a_span() {
    let dir = tempfile::tempdir().expect("temp dir");
    let paths = Paths::under(dir.path(), "migrations");
    make(
        &paths,
        &state(vec![user(), post()]),
        &MakeOptions::default(),
    )
    .expect("make");
    let graph = load_graph(&paths.migrations).expect("graph");
    let url = format!("sqlite://{}", dir.path().join("db.sqlite3").display());

    let recorder = Recorder::default();
    let _guard = tracing::subscriber::set_default(recorder.clone());
    let mut exec = Executor::connect(&url, ExecutorConfig::default())
        .await
        .expect("connect");
    exec.apply(&graph, None, false, &mut |_| {})
        .await
        .expect("apply");
    exec.rollback(&graph, &RollbackTarget::Count(1), false, &mut |_| {})
        .await
        .expect("rollback");

    let lines = recorder.lines.lock().expect("lock").clone();
    let chakra: Vec<&String> = lines
        .iter()
        .filter(|l| {
            l.starts_with("migration{") || l.starts_with("operation{") || l.contains("statement=")
        })
        .collect();
    assert_eq!(
        chakra[0],
        "migration{app=default id=0001_initial direction=Forward fake=false}"
    );
    assert_eq!(chakra[1], "operation{operation=+ CreateModel User (users)}");
    assert!(
        chakra[2].starts_with("event{message=running statement=CREATE TABLE \"users\"")
            && chakra[2].ends_with(" in operation"),
        "{}",
        chakra[2]
    );
    assert!(
        chakra.iter().any(|l| l.as_str()
            == "migration{app=default id=0001_initial direction=Backward fake=false}"),
        "{chakra:#?}"
    );
    let operations = chakra
        .iter()
        .filter(|l| l.starts_with("operation{"))
        .count();
    assert_eq!(
        operations,
        2 + 2,
        "two operations applied, two undone: {chakra:#?}"
    );
}
