#![no_main]
//! check_host over a fuzzed in-memory zone (records, CNAMEs, faults
//! including never-answering resolvers). Invariants: it finishes (the 20 s
//! budget, on a paused clock), the RFC 7208 §4.6.4 limits hold, and the
//! number of queries is bounded.
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use sender_auth::spf::{self, SpfConfig, SpfResult};
use std::time::Duration;

#[path = "common.rs"]
mod common;
use common::*;

#[derive(Arbitrary, Debug)]
struct Input {
    records: Vec<FRecord>,
    ip: u8,
    domain: FName,
    local: String,
    helo: FName,
    mode: u8,
}

/// 1 record lookup, 10 DNS terms each with at most 1 + 10 follow-up
/// queries (MX/PTR names), the 11th term's query, `%{p}` (1 PTR + 10
/// forward), and `exp=`.
const MAX_QUERIES: usize = 1 + 11 * 11 + 11 + 1;

fuzz_target!(|i: Input| {
    let zone = build_zone(&i.records, true);
    // Speculation beyond certainty: 0 (default) to 3 extra terms, each
    // with at most 1 + 10 queries.
    let config = SpfConfig {
        speculative_terms: usize::from(i.mode / 3 % 4),
        ..SpfConfig::default()
    };
    let ip = ip(i.ip);
    let domain = i.domain.get();
    let helo = i.helo.get();
    let local: String = i.local.chars().take(64).collect();
    let out = block_on(Duration::from_secs(120), async {
        match i.mode % 3 {
            0 => {
                let sender = format!("{local}@{domain}");
                spf::check_host(&zone, ip, &domain, &sender, &helo, &config).await
            }
            1 => {
                let mf = format!("{local}@{domain}");
                spf::check_mail_from(&zone, ip, &mf, &helo, &config).await
            }
            _ => spf::check_helo(&zone, ip, &helo, &config).await,
        }
    });
    assert!(out.dns_lookups <= config.max_dns_mechanisms + 1, "{out:?}");
    assert!(out.void_lookups <= config.max_void_lookups + 1, "{out:?}");
    if out.dns_lookups > config.max_dns_mechanisms || out.void_lookups > config.max_void_lookups {
        assert_eq!(out.result, SpfResult::PermError, "{out:?}");
    }
    let n = zone.query_count();
    assert!(
        n <= MAX_QUERIES + 11 * config.speculative_terms,
        "{n} queries: {:?}",
        zone.queries()
    );
    assert!(out.explanation().is_none_or(|e| e.len() <= 4096));
});
