//! Shared by the integration tests: access to the public conformance data in
//! `../shared/conformance/` (beside the repository; never copied into it).
//!
//! A missing file fails the test with its path, unless
//! `SENDER_AUTH_SKIP_CONFORMANCE=1` is set: then a `SKIPPED:` line is
//! printed and the caller gets `None`.
#![allow(dead_code)]

use std::path::Path;

/// The conformance folder.
pub const CONFORMANCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/conformance");

/// True when the user asked to skip absent conformance data.
pub fn skipping() -> bool {
    std::env::var("SENDER_AUTH_SKIP_CONFORMANCE").as_deref() == Ok("1")
}

/// Reports the absent file `path`: `None` after a SKIPPED line when
/// skipping is requested, otherwise a panic naming the path.
pub fn absent<T>(path: &Path, why: &str) -> Option<T> {
    if skipping() {
        println!(
            "SKIPPED: conformance data {} is absent ({why})",
            path.display()
        );
        None
    } else {
        panic!(
            "conformance data missing: {} ({why}); set SENDER_AUTH_SKIP_CONFORMANCE=1 to skip",
            path.display()
        );
    }
}

/// The text of the conformance file at `path` (see [`absent`]).
pub fn read_text(path: impl AsRef<Path>) -> Option<String> {
    let path = path.as_ref();
    match std::fs::read_to_string(path) {
        Ok(s) => Some(s),
        Err(e) => absent(path, &e.to_string()),
    }
}
