#![no_main]
//! The full Authenticator (iprev, SPF HELO and MAIL FROM, DKIM, DMARC in
//! both modes) over a fuzzed message and zone, including never-answering
//! faults (the per-lookup `dns_timeout` and SPF's budget bound them; the
//! clock is paused so they cost no real time). Invariants: it finishes within
//! the SPF budget plus DMARC's sequential lookups, the query count is
//! bounded, and the rendered Authentication-Results field is one header
//! field that parses back to the same values.
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use sender_auth::authenticator::{AuthConfig, Authenticator, Transaction};
use sender_auth::dkim::{Signer, SigningKey};
use sender_auth::dmarc::{DmarcConfig, DmarcMode, FixedSampler};
use std::sync::Arc;
use std::time::Duration;

#[path = "common.rs"]
mod common;
use common::*;

#[derive(Arbitrary, Debug)]
struct Input {
    records: Vec<FRecord>,
    ip: Option<u8>,
    helo: Option<FName>,
    mail_from: Option<(String, FName)>,
    null_sender: bool,
    rfc7489: bool,
    sign: bool,
    message: Vec<u8>,
}

fuzz_target!(|i: Input| {
    let mut zone = build_zone(&i.records, true);
    let ed = SigningKey::ed25519_from_seed(&[42; 32]);
    zone.add_txt_str("ed._domainkey.example.com", &ed.public_key_record());
    let mut message = i.message.clone();
    if i.sign && message.first().is_some_and(|b| !b" \t\r\n".contains(b)) {
        if let Ok(m) = Signer::new(ed, "example.com", "ed").sign_message(&message) {
            message = m;
        }
    }
    let tx = Transaction {
        client_ip: i.ip.map(ip),
        helo: i.helo.as_ref().map(FName::get),
        mail_from: if i.null_sender {
            Some(String::new())
        } else {
            i.mail_from.as_ref().map(|(l, d)| format!("{}@{}", l.chars().take(64).collect::<String>(), d.get()))
        },
    };
    let mut dmarc = DmarcConfig::with_mode(if i.rfc7489 { DmarcMode::Rfc7489 } else { DmarcMode::Rfc9989 });
    dmarc.sampler = Arc::new(FixedSampler(true));
    let mut config = AuthConfig {
        authserv_id: "mx.example.net".into(),
        dmarc,
        ..AuthConfig::default()
    };
    config.dkim.now = Some(2_000);
    let bound = config.spf.timeout + config.dns_timeout * (config.dmarc.max_dns_queries as u32 + 1);
    let auth = Authenticator::new(&zone, config);
    let report = block_on(Duration::from_secs(3600), async {
        let start = tokio::time::Instant::now();
        let r = auth.authenticate(&tx, Some(&message)).await;
        assert!(start.elapsed() <= bound, "took {:?} > {bound:?}", start.elapsed());
        r
    });
    let ar = report.authentication_results("mx.example.net");
    let h = ar.header();
    assert!(!h.replace(";\r\n\t", "; ").chars().any(char::is_control), "{h:?}");
    assert!(zone.query_count() <= 2000, "{} queries", zone.query_count());
    assert_eq!(sender_auth::authres::parse(&h), Ok(ar.normalized()), "{h:?}");
});
