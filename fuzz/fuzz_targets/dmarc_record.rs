#![no_main]
//! DMARC record parser: total on arbitrary bytes.
use libfuzzer_sys::fuzz_target;
use sender_auth::dmarc::record;

fuzz_target!(|data: &[u8]| {
    let is = record::is_dmarc(data);
    if record::parse(data).is_ok() {
        assert!(is, "parsed a record is_dmarc refuses");
    }
});
