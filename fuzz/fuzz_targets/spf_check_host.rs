#![no_main]
//! check_host over a fuzzed in-memory zone (records, CNAMEs, faults
//! including never-answering resolvers). Invariants: it finishes (the 20 s
//! budget, on a paused clock), the RFC 7208 §4.6.4 limits hold, and the
//! number of queries is bounded. Unless a lookup timed out, sequential
//! evaluation gives the same output: through the plan loop (the zone
//! answers at once), through the ordinary evaluator only (no synchronous
//! answers; same queries sent), and from a record cache, cold and warm
//! (compiled plans). With prefetch, the check through the plan loop gives
//! the output (queries counted included) and sends the queries of the
//! ordinary evaluator alone, and a warm record cache gives the same with
//! and without compiled plans.
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use sender_auth::dns::zone::ZoneResolver;
use sender_auth::dns::{DnsResult, Mx, Resolver, Txt};
use sender_auth::spf::{self, SpfConfig, SpfOutput, SpfRecordCache, SpfResult};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
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

/// The zone through its asynchronous lookups only.
struct AsyncOnly<'z>(&'z ZoneResolver);

impl Resolver for AsyncOnly<'_> {
    async fn txt(&self, name: &str) -> DnsResult<Txt> {
        self.0.txt(name).await
    }
    async fn a(&self, name: &str) -> DnsResult<Ipv4Addr> {
        self.0.a(name).await
    }
    async fn aaaa(&self, name: &str) -> DnsResult<Ipv6Addr> {
        self.0.aaaa(name).await
    }
    async fn mx(&self, name: &str) -> DnsResult<Mx> {
        self.0.mx(name).await
    }
    async fn ptr(&self, ip: IpAddr) -> DnsResult<String> {
        self.0.ptr(ip).await
    }
}

fn run<R: Resolver>(r: &R, i: &Input, config: &SpfConfig) -> SpfOutput {
    let ip = ip(i.ip);
    let domain = i.domain.get();
    let helo = i.helo.get();
    let local: String = i.local.chars().take(64).collect();
    block_on(Duration::from_secs(120), async {
        match i.mode % 3 {
            0 => {
                let sender = format!("{local}@{domain}");
                spf::check_host(r, ip, &domain, &sender, &helo, config).await
            }
            1 => {
                let mf = format!("{local}@{domain}");
                spf::check_mail_from(r, ip, &mf, &helo, config).await
            }
            _ => spf::check_helo(r, ip, &helo, config).await,
        }
    })
}

fn comparable(o: &SpfOutput) -> SpfOutput {
    let mut c = o.clone();
    c.queries = 0;
    c
}

fuzz_target!(|i: Input| {
    let zone = build_zone(&i.records, true);
    // Speculation beyond certainty: 0 (default) to 3 extra terms, each
    // with at most 1 + 10 queries.
    let config = SpfConfig {
        speculative_terms: usize::from(i.mode / 3 % 4),
        ..SpfConfig::default()
    };
    zone.clear_queries();
    let out = run(&zone, &i, &config);
    let out_sent = zone.queries();
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

    // Sequential, four ways.
    let seq = SpfConfig {
        prefetch: false,
        ..SpfConfig::default()
    };
    zone.clear_queries();
    let looped = run(&zone, &i, &seq);
    let looped_sent = zone.queries();
    zone.clear_queries();
    let ordinary = run(&AsyncOnly(&zone), &i, &seq);
    let ordinary_sent = zone.queries();
    let cached = SpfConfig {
        record_cache: Some(Arc::new(SpfRecordCache::new(64))),
        ..seq.clone()
    };
    let cold = run(&zone, &i, &cached);
    let warm = run(&zone, &i, &cached);
    // Prefetch: the ordinary evaluator alone, and warm caches with and
    // without compiled plans.
    zone.clear_queries();
    let pf_ordinary = run(&AsyncOnly(&zone), &i, &config);
    let pf_ordinary_sent = zone.queries();
    let pf_cache = |plans: bool| SpfConfig {
        record_cache: Some(Arc::new(SpfRecordCache::new(64).with_compiled_plans(plans))),
        ..config.clone()
    };
    let (planned, unplanned) = (pf_cache(true), pf_cache(false));
    run(&zone, &i, &planned);
    run(&zone, &i, &unplanned);
    zone.clear_queries();
    let pf_planned = run(&zone, &i, &planned);
    let pf_planned_sent = zone.queries();
    zone.clear_queries();
    let pf_unplanned = run(&zone, &i, &unplanned);
    let pf_unplanned_sent = zone.queries();
    let all = [&out, &looped, &ordinary, &cold, &warm, &pf_ordinary, &pf_planned, &pf_unplanned];
    let timed_out = all.iter().any(|o| o.reason().contains("time budget"));
    if !timed_out {
        assert_eq!(out, pf_ordinary);
        assert_eq!(out_sent, pf_ordinary_sent);
        assert_eq!(pf_planned, pf_unplanned);
        assert_eq!(pf_planned_sent, pf_unplanned_sent);
        assert_eq!(looped, ordinary);
        assert_eq!(looped_sent, ordinary_sent);
        for o in [&out, &cold, &warm] {
            assert_eq!(comparable(o), comparable(&looped));
        }
    }
});
