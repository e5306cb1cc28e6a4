//! The decoded-key cache (`DkimConfig::key_cache`): a hit skips DNS and
//! decoding, each key is decoded once, the TTL of the DNS answer is
//! honoured and the RSA size policy still applies to cached keys.
#![cfg(feature = "sign")]

use std::sync::Arc;
use std::time::Duration;

use sender_auth::dkim::sign::{Signer, SigningKey};
use sender_auth::dkim::{DkimConfig, DkimResult, KeyCache, verify};
use sender_auth::dns::cache::ManualClock;
use sender_auth::dns::zone::ZoneResolver;

const MSG: &[u8] = b"From: a@example.com\r\nTo: b@example.net\r\nSubject: hi\r\n\r\nbody\r\n";

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

#[test]
fn hits_skip_dns_and_decoding_until_the_ttl_expires() {
    let rsa = SigningKey::rsa_from_pem(include_str!("../examples/keys/rsa2048.pem")).unwrap();
    let mut zone = ZoneResolver::new();
    zone.add_record(
        "sel._domainkey.example.com",
        Some(60),
        sender_auth::dns::zone::ZoneRecord::Txt(sender_auth::dns::Txt::new([rsa
            .public_key_record()
            .into_bytes()])),
    );
    // Two signatures with the same key: one lookup, one decode.
    let signer = Signer::new(rsa, "example.com", "sel");
    let once = signer.sign_message(MSG).unwrap();
    let twice = signer.sign_message(&once).unwrap();

    let clock = Arc::new(ManualClock::new());
    let cache = Arc::new(KeyCache::with_clock(8, clock.clone()));
    let config = DkimConfig {
        key_cache: Some(cache.clone()),
        ..DkimConfig::default()
    };
    let rt = rt();
    let out = rt.block_on(verify(&zone, &twice, &config));
    assert_eq!(out.len(), 2);
    assert!(out.iter().all(|o| o.result == DkimResult::Pass), "{out:?}");
    assert_eq!(zone.query_count(), 1);
    assert_eq!(cache.stats().inserts, 1, "decoded once");

    // Warm: no DNS query at all.
    zone.clear_queries();
    let out = rt.block_on(verify(&zone, &twice, &config));
    assert!(out.iter().all(|o| o.result == DkimResult::Pass));
    assert_eq!(zone.query_count(), 0);
    assert_eq!(cache.stats().inserts, 1);

    // A stricter verifier sharing the cache still applies its own limits.
    let strict = DkimConfig {
        min_rsa_bits: 4096,
        ..config.clone()
    };
    let out = rt.block_on(verify(&zone, &once, &strict));
    assert_eq!(out[0].result, DkimResult::Policy, "{}", out[0].reason);
    assert_eq!(zone.query_count(), 0);

    // After the TTL the key is fetched and decoded again.
    clock.advance(Duration::from_secs(61));
    let out = rt.block_on(verify(&zone, &once, &config));
    assert_eq!(out[0].result, DkimResult::Pass);
    assert_eq!(zone.query_count(), 1);
    assert_eq!(cache.stats().inserts, 2);
}
