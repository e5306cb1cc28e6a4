//! Regression: `taglist::parse` was quadratic in the number of distinct
//! tags (each new name was compared with every earlier one). A 1 MB
//! DKIM-Signature of ~130,000 distinct unknown tags took 80–95 s of CPU
//! per parse in a release build, and `dkim::verify` parses up to
//! `max_signatures` (10) such fields per message; DKIM key records and
//! every other tag-list went through the same code. Found by a large-input
//! sweep of the parsers during the fuzzing work (issue 7); fixed in
//! `src/taglist.rs` with a set of seen names.
//!
//! The assertions are about results; the timeouts are generous hang guards
//! (the fixed parser takes milliseconds, the old one minutes).

use std::sync::mpsc;
use std::time::Duration;

use sender_auth::dkim::key::KeyRecord;
use sender_auth::dkim::{DkimConfig, DkimResult, Signature};
use sender_auth::dns::zone::ZoneResolver;
use sender_auth::taglist;

/// Runs `f` on a thread; fails if it does not finish within `secs`.
fn within<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(secs))
        .expect("hang guard: quadratic tag-list parsing is back")
}

/// `x0=1;x1=1;...` of about `bytes` octets.
fn distinct_tags(bytes: usize) -> String {
    let mut s = String::with_capacity(bytes + 16);
    let mut i = 0;
    while s.len() < bytes {
        s.push_str(&format!("x{i}=1;"));
        i += 1;
    }
    s
}

#[test]
fn one_megabyte_of_distinct_tags_parses_in_linear_time() {
    let input = distinct_tags(1 << 20);
    let n = within(30, move || {
        taglist::parse(input.as_bytes()).map(|t| t.len())
    });
    assert!(n.unwrap() > 100_000);
    // A duplicate at the very end is still found.
    let mut input = distinct_tags(1 << 20);
    input.push_str("x7=2");
    let r = within(30, move || {
        taglist::parse(input.as_bytes()).map(|t| t.len())
    });
    assert_eq!(r, Err(taglist::TagListError::Duplicate("x7".into())));
}

#[test]
fn dkim_signature_and_key_record_with_distinct_tags() {
    let sig = format!(
        "v=1; a=ed25519-sha256; d=example.com; s=ed; h=From; bh=AAAA; b=AAAA; {}",
        distinct_tags(1 << 20)
    );
    let ok = within(30, move || Signature::parse(sig.as_bytes()).is_ok());
    assert!(ok, "unknown tags are ignored (RFC 6376 §3.2)");
    let key = format!("v=DKIM1; k=ed25519; p=AAAA; {}", distinct_tags(1 << 20));
    within(30, move || {
        let _ = KeyRecord::parse(key.as_bytes());
    });
}

/// The verify path: 10 DKIM-Signature fields of 256 KB of distinct tags
/// each (the most `max_signatures` lets through; ~32,000 tags each, about a
/// minute of CPU for the ten with the old code) are all evaluated quickly.
#[test]
fn verify_with_ten_large_signatures() {
    let tags = distinct_tags(1 << 18);
    let mut m = String::new();
    for i in 0..10 {
        m.push_str(&format!(
            "DKIM-Signature: v=1; a=ed25519-sha256; d=example.com; s=s{i}; h=From; bh=AAAA; b=AAAA; {tags}\r\n"
        ));
    }
    m.push_str("From: a@example.com\r\n\r\nbody\r\n");
    let out = within(60, move || {
        let z = ZoneResolver::new();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let cfg = DkimConfig {
            now: Some(1_700_000_000),
            ..DkimConfig::default()
        };
        rt.block_on(sender_auth::dkim::verify(&z, m.as_bytes(), &cfg))
    });
    assert_eq!(out.len(), 10);
    assert!(out.iter().all(|o| o.result != DkimResult::Pass));
}
