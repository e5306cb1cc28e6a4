#![no_main]
//! Whole-message DKIM verify against fixed keys (RSA 1024, Ed25519) with a
//! fixed clock. Invariants: total, one output per DKIM-Signature field,
//! at most `max_signatures` evaluated; and when the fuzzed message is first
//! signed by our signer, that signature verifies (sign/verify agree on
//! every message the signer accepts).
use libfuzzer_sys::fuzz_target;
use sender_auth::dkim::{self, DkimConfig, DkimResult, Signer, SigningKey};
use sender_auth::dns::zone::ZoneResolver;
use sender_auth::message::Message;
use std::sync::OnceLock;
use std::time::Duration;

#[path = "common.rs"]
mod common;

const RSA_PEM: &str = include_str!("../../src/dkim/testdata/rsa1024.pem");
const RSA_RECORD: &str = include_str!("../../src/dkim/testdata/rsa1024.txt");

struct Fixed {
    zone: ZoneResolver,
    ed: Signer,
    rsa: Signer,
}

fn fixed() -> &'static Fixed {
    static F: OnceLock<Fixed> = OnceLock::new();
    F.get_or_init(|| {
        let ed = SigningKey::ed25519_from_seed(&[42; 32]);
        let mut zone = ZoneResolver::new();
        zone.add_txt_str("ed._domainkey.example.com", &ed.public_key_record());
        zone.add_txt_str("rsa._domainkey.example.com", RSA_RECORD.trim());
        zone.add_txt_str("sel._domainkey.example.com", RSA_RECORD.trim());
        let rsa = SigningKey::rsa_from_pem(RSA_PEM).unwrap();
        Fixed {
            zone,
            ed: Signer::new(ed, "example.com", "ed").headers(["From", "Subject", "To"]).timestamp(1_000),
            rsa: Signer::new(rsa, "example.com", "rsa").timestamp(1_000),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, msg)) = data.split_first() else {
        return;
    };
    let f = fixed();
    let config = DkimConfig {
        now: Some(2_000),
        ..DkimConfig::default()
    };
    let fields = Message::parse(msg)
        .headers()
        .iter()
        .filter(|h| h.has_colon && h.is("DKIM-Signature"))
        .count();
    let out = common::block_on(Duration::from_secs(60), dkim::verify(&f.zone, msg, &config));
    assert_eq!(out.len(), fields);
    let evaluated = out.iter().filter(|o| o.result != DkimResult::NotEvaluated).count();
    assert!(evaluated <= config.max_signatures);

    // Sign-then-verify: only for messages that begin with a header field
    // (a message starting with WSP would continue our prepended field).
    if mode % 4 == 0 && msg.first().is_some_and(|b| !b" \t\r\n".contains(b)) {
        let signer = if mode % 8 == 0 { &f.rsa } else { &f.ed };
        if let Ok(signed) = signer.sign_message(msg) {
            let out = common::block_on(Duration::from_secs(60), dkim::verify(&f.zone, &signed, &config));
            assert!(!out.is_empty());
            assert_eq!(out[0].result, DkimResult::Pass, "{:?}\n{:?}", out[0], String::from_utf8_lossy(&signed));
        }
    }
});
