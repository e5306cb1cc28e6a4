#![no_main]
//! Authentication-Results parsing and forged-field removal on arbitrary
//! bytes: `parse` is total and what it returns renders and parses back to
//! itself (a fixed point after one normalization); after
//! `remove_forged(message, id)` no header field of the message claims `id`,
//! and removing again changes nothing.
use libfuzzer_sys::fuzz_target;
use sender_auth::authres::{claimed_authserv_id, parse, remove_forged};
use sender_auth::message::Message;

const ID: &str = "mx.example.net";

fn same(a: &str, b: &str) -> bool {
    a.trim().trim_end_matches('.').eq_ignore_ascii_case(b.trim().trim_end_matches('.'))
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(ar) = parse(&text) {
        let again = parse(&ar.header()).expect("a parsed A-R renders to a parseable field");
        assert_eq!(again, ar.normalized());
    }
    let clean = remove_forged(data, ID);
    for h in Message::parse(&clean).headers() {
        if h.has_colon && h.is("Authentication-Results") {
            let claimed = claimed_authserv_id(h.value);
            assert!(
                claimed.as_deref().is_some_and(|c| !same(c, ID)),
                "a field claiming {ID} (or unreadable) survived: {:?}",
                String::from_utf8_lossy(h.raw)
            );
        }
    }
    assert_eq!(remove_forged(&clean, ID), clean, "remove_forged is not idempotent");
});
