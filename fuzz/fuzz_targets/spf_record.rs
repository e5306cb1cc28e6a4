#![no_main]
//! SPF record parser: total on arbitrary bytes; a parsed record's DNS-term
//! count never exceeds its number of terms.
use libfuzzer_sys::fuzz_target;
use sender_auth::spf::record::{Record, is_spf_record};

fuzz_target!(|data: &[u8]| {
    let _ = is_spf_record(data);
    if let Ok(r) = Record::parse(data) {
        let terms = data.split(|b| *b == b' ').filter(|t| !t.is_empty()).count();
        assert!(r.dns_terms() <= terms, "dns_terms {} > terms {terms}", r.dns_terms());
    }
});
