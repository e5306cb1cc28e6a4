#![no_main]
//! DKIM-Signature parser: total on arbitrary bytes.
use libfuzzer_sys::fuzz_target;
use sender_auth::dkim::Signature;

fuzz_target!(|data: &[u8]| {
    let _ = sender_auth::taglist::parse(data);
    if let Ok(s) = Signature::parse(data) {
        let name = s.key_name();
        assert!(name.contains("._domainkey."), "{name}");
    }
});
