#![no_main]
//! RFC 1035 master-file parser: total on arbitrary text.
use libfuzzer_sys::fuzz_target;
use sender_auth::dns::zone::ZoneResolver;

fuzz_target!(|data: &[u8]| {
    let (origin, text) = match data.split_first() {
        Some((b, rest)) if b % 2 == 0 => (Some("example.com."), rest),
        Some((_, rest)) => (None, rest),
        None => (None, data),
    };
    let text = String::from_utf8_lossy(text);
    if let Ok(z) = ZoneResolver::from_master_file(&text, origin) {
        let _ = z.len();
    }
});
