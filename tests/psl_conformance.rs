//! The Public Suffix List's own `test_psl.txt` (78 `checkPublicSuffix`
//! assertions) against the pinned `public_suffix_list.dat` in
//! `../shared/conformance/psl/` (Debian publicsuffix 20230209, see its
//! SOURCES.md), loaded with [`PslFile`]. The expected value is the
//! registrable domain (= RFC 7489 Organizational Domain), `null` for a
//! public suffix, a leading dot, or a null input.
//!
//! A missing file fails with its path unless `SENDER_AUTH_SKIP_CONFORMANCE=1`.

use sender_auth::dmarc::psl::{EmbeddedPsl, PslFile, SuffixList, registrable_domain};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/conformance/psl");

mod common;

fn read(path: &str) -> Option<String> {
    common::read_text(path)
}

/// `checkPublicSuffix(a, b);` → (a, b), `null` as `None`.
fn parse_line(line: &str) -> Option<(Option<String>, Option<String>)> {
    let inner = line
        .trim()
        .strip_prefix("checkPublicSuffix(")?
        .strip_suffix(");")?;
    let (a, b) = inner.split_once(", ")?;
    let arg = |s: &str| -> Option<String> {
        let s = s.trim();
        if s == "null" {
            None
        } else {
            Some(s.trim_matches('\'').to_string())
        }
    };
    Some((arg(a), arg(b)))
}

fn run(list: &dyn SuffixList, tests: &str) -> (usize, Vec<String>) {
    let mut n = 0;
    let mut failures = Vec::new();
    for line in tests.lines() {
        if line.trim_start().starts_with("//") {
            continue;
        }
        let Some((input, expect)) = parse_line(line) else {
            continue;
        };
        n += 1;
        let got = input.as_deref().and_then(|i| registrable_domain(list, i));
        if got != expect {
            failures.push(format!("{line}: got {got:?}"));
        }
    }
    (n, failures)
}

#[test]
fn test_psl_txt_against_pinned_list() {
    let Some(dat) = read(&format!("{DIR}/public_suffix_list.dat")) else {
        return;
    };
    let Some(tests) = read(&format!("{DIR}/test_psl.txt")) else {
        return;
    };
    let list = PslFile::parse(&dat);
    assert!(list.len() > 9000, "pinned list has {} rules", list.len());
    let (n, failures) = run(&list, &tests);
    println!(
        "test_psl.txt with pinned list: {}/{n} pass",
        n - failures.len()
    );
    assert_eq!(n, 78, "SOURCES.md counts 78 assertions");
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn test_psl_txt_against_embedded_list() {
    // The psl crate's snapshot differs from the pinned one, but the PSL's
    // own tests are written to hold for any recent list.
    let Some(tests) = read(&format!("{DIR}/test_psl.txt")) else {
        return;
    };
    let (n, failures) = run(&EmbeddedPsl, &tests);
    println!(
        "test_psl.txt with embedded list: {}/{n} pass",
        n - failures.len()
    );
    assert!(failures.is_empty(), "{failures:#?}");
}
