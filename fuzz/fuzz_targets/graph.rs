//! Several migration files, loaded as the embedded migrator loads them, and the graph built
//! from them.
//!
//! Input format (what `fuzz/seed.sh` writes): files separated by the byte 0x1E (ASCII record
//! separator, which TOML never contains); in each file the first line is its path relative
//! to the migrations folder (`0001_initial.toml`, `blog/0001_initial.toml`) and the rest is
//! its text. Invalid UTF-8 is replaced (lossy), so byte mutations still reach the parser.
//!
//! `load_embedded` + `Graph::new` must never panic (errors are fine). When the files do not
//! load together, those that load on their own are kept and the graph is built from them.
//! When the graph builds, it is replayed, its SQL is made forward and backward on every
//! dialect, and the graph is also rebuilt as `migrate merge` (`allowing_several_leaves`) and
//! `migrate sql` of a replaced migration (`with_originals`) build it. See docs/fuzzing.md.

#![no_main]

use std::collections::BTreeSet;

use chakra::dialect::DialectKind;
use chakra::graph::Graph;
use chakra::plan::{Direction, apply_plan, plan_sql};
use chakra::project::load_embedded;
use libfuzzer_sys::fuzz_target;

/// Separates files in an input.
const SEPARATOR: char = '\u{1e}';
/// More files than this are ignored (keeps each run fast).
const MAX_FILES: usize = 24;

const DIALECTS: [DialectKind; 3] = [
    DialectKind::Postgres,
    DialectKind::Mysql,
    DialectKind::Sqlite,
];

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    let files: Vec<(&str, &str)> = input
        .split(SEPARATOR)
        .take(MAX_FILES)
        .map(|chunk| chunk.split_once('\n').unwrap_or((chunk, "")))
        .collect();

    let loaded = match load_embedded(files.iter().copied()) {
        Ok(loaded) => loaded,
        Err(e) => {
            assert!(!e.to_string().trim().is_empty(), "an empty load error");
            // One broken file rejects the whole set; keep the files that load on their own
            // so that most inputs still reach the graph (without this, a 10-minute run built
            // a graph from 3% of its corpus, and rarely one of more than one migration).
            let alone: Vec<_> = files
                .iter()
                .filter_map(|file| load_embedded([*file]).ok())
                .flatten()
                .collect();
            if alone.is_empty() {
                return;
            }
            alone
        }
    };

    if let Ok(merge) = Graph::allowing_several_leaves(loaded.clone()) {
        let _ = merge.final_state();
        let _ = merge.all_leaves();
    }

    let graph = match Graph::new(loaded) {
        Ok(graph) => graph,
        Err(errors) => {
            assert!(!errors.is_empty(), "Graph::new failed without an error");
            for e in &errors {
                assert!(!e.to_string().trim().is_empty(), "an empty graph error");
            }
            return;
        }
    };

    let _ = graph.leaves();
    let _ = graph.next_number("default");
    let every: BTreeSet<_> = graph.order().iter().cloned().collect();
    if let Err(e) = graph.replay(&every) {
        let _ = e.to_string();
    }
    if let Ok(originals) = graph.with_originals() {
        let _ = originals.final_state();
    }

    let Ok(plan) = apply_plan(&graph, &BTreeSet::new(), None) else {
        return;
    };
    let mut reverse = plan.clone();
    reverse.reverse();
    for dialect in DIALECTS {
        if let Err(e) = plan_sql(dialect, &graph, &plan, Direction::Forward) {
            let _ = e.to_string();
        }
        if let Err(e) = plan_sql(dialect, &graph, &reverse, Direction::Backward) {
            let _ = e.to_string();
        }
    }
});
