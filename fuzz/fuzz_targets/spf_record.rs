#![no_main]
//! SPF record parser: total on arbitrary bytes; a parsed record's DNS-term
//! count never exceeds its number of terms; every directive's text is the
//! input at its offset (a whole term), each literal target is the end of
//! its term's text (before a CIDR suffix), and a clone, dropped after the
//! original, reads the same (the pieces held in place or shared).
use libfuzzer_sys::fuzz_target;
use sender_auth::spf::record::{Mechanism, Record, is_spf_record};

fuzz_target!(|data: &[u8]| {
    let _ = is_spf_record(data);
    if let Ok(r) = Record::parse(data) {
        let terms = data.split(|b| *b == b' ').filter(|t| !t.is_empty()).count();
        assert!(r.dns_terms() <= terms, "dns_terms {} > terms {terms}", r.dns_terms());
        for d in &r.directives {
            let text = d.text.as_bytes();
            assert_eq!(data.get(d.offset..d.offset + text.len()), Some(text));
            assert!(d.offset > 0 && data[d.offset - 1] == b' ');
            assert!(matches!(data.get(d.offset + text.len()), None | Some(b' ')));
            let target = match &d.mechanism {
                Mechanism::Include { domain } | Mechanism::Exists { domain } => Some(domain),
                Mechanism::A { domain, .. } | Mechanism::Mx { domain, .. } => domain.as_ref(),
                Mechanism::Ptr { domain } => domain.as_ref(),
                _ => None,
            };
            if let Some(t) = target.filter(|t| t.is_literal()) {
                let spec = d.text.split_once(':').map(|(_, s)| s).unwrap_or_default();
                assert!(spec.starts_with(t.as_str()), "{:?} in {:?}", t.as_str(), &*d.text);
            }
        }
        let copy = r.clone();
        let texts: Vec<String> = r.directives.iter().map(|d| d.text.to_string()).collect();
        drop(r);
        let again: Vec<String> = copy.directives.iter().map(|d| d.text.to_string()).collect();
        assert_eq!(texts, again);
        assert_eq!(Record::parse(data).ok(), Some(copy));
    }
});
