#![no_main]
//! RFC 5322 From: Author Domain extraction: total, and what it returns is a
//! lower-case A-label host name without trailing dot (fail closed otherwise).
use libfuzzer_sys::fuzz_target;
use sender_auth::message::{Message, author_domain, author_domain_from_value};

fn check(d: &str) {
    assert!(!d.is_empty());
    assert!(d.len() <= 253, "{d}");
    assert!(!d.ends_with('.'), "{d}");
    assert!(
        d.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.' || b == b'_'),
        "not a lower-case A-label name: {d:?}"
    );
}

fuzz_target!(|data: &[u8]| {
    let m = Message::parse(data);
    let _ = m.body();
    if let Ok(d) = author_domain(&m) {
        check(&d);
    }
    if let Ok(d) = author_domain_from_value(data) {
        check(&d);
    }
});
