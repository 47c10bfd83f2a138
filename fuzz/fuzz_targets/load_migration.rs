//! One migration file's text, parsed as the loader parses it.
//!
//! The input bytes are the file (inputs that are not UTF-8 are skipped: the loader rejects
//! them before parsing). `Migration::parse` must never panic, and neither must displaying
//! its error (which slices the text around the error's location). When the file parses:
//! - the canonical form and checksum are computed, and the file goes through
//!   `load_embedded` under the name its id and app call for (the name and folder checks);
//! - `to_toml()` must give a file that parses again, to a migration with the same checksum
//!   (what `make` writes is what the checksum in `chakra.sum` describes), and writing that
//!   one again must give the same bytes (writing is deterministic).
//!
//! See docs/fuzzing.md.

#![no_main]

use std::path::Path;

use chakra::format::{DEFAULT_APP, Migration};
use chakra::project::load_embedded;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("0001_fuzz.toml");
    let migration = match Migration::parse(path, text) {
        Ok(m) => m,
        Err(e) => {
            let message = e.to_string();
            assert!(!message.trim().is_empty(), "an empty error message");
            return;
        }
    };

    let checksum = migration.checksum();
    let _ = migration.canonical();

    // The same text through the loader, under the name the file's id and app call for.
    let header = &migration.migration;
    let name = if header.app == DEFAULT_APP {
        format!("{}.toml", header.id)
    } else {
        format!("{}/{}.toml", header.app, header.id)
    };
    if let Err(e) = load_embedded([(name.as_str(), text)]) {
        let _ = e.to_string();
    }

    // Written and read back: the same checksum.
    let written = migration.to_toml();
    let reread = match Migration::parse(path, &written) {
        Ok(m) => m,
        Err(e) => panic!(
            "to_toml() wrote a file that does not parse: {e}\n--- input ---\n{text}\n--- written ---\n{written}"
        ),
    };
    assert_eq!(
        reread.checksum(),
        checksum,
        "the checksum changed through to_toml()\n--- input ---\n{text}\n--- written ---\n{written}\n--- canonical before ---\n{}\n--- canonical after ---\n{}",
        migration.canonical(),
        reread.canonical(),
    );
    // Written again: the same bytes.
    let rewritten = reread.to_toml();
    assert_eq!(
        rewritten, written,
        "to_toml() of the re-read migration differs\n--- input ---\n{text}"
    );
});
