#![no_main]
//! DKIM key-record parser: total on arbitrary bytes.
use libfuzzer_sys::fuzz_target;
use sender_auth::dkim::key::KeyRecord;
use sender_auth::dkim::HashAlgorithm;

fuzz_target!(|data: &[u8]| {
    if let Ok(k) = KeyRecord::parse(data) {
        let _ = k.allows_hash(HashAlgorithm::Sha256);
        let _ = k.allows_hash(HashAlgorithm::Sha1);
    }
});
