//! Bounded work for iprev (RFC 8601 §3, RFC 1912 §2.1) and the DMARC DNS
//! Tree Walk (RFC 9989 §4.10): adversarial PTR sets, CNAME loops, huge
//! answers, deep names and many DKIM domains cannot make one check send
//! more than its configured number of queries. Counted through the
//! in-memory resolver's query log, never timed.

use std::net::IpAddr;

use sender_auth::dmarc::{DkimEvidence, DmarcConfig, DmarcMode, DmarcResult, evaluate};
use sender_auth::dns::RecordType;
use sender_auth::dns::zone::{Fault, ZoneResolver};
use sender_auth::iprev::{self, IprevConfig, IprevResult};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// 300 PTR names, none confirming: 1 PTR query + 10 forward lookups.
#[tokio::test]
async fn iprev_with_hundreds_of_ptr_names_checks_ten() {
    let client = ip("192.0.2.1");
    let mut z = ZoneResolver::new();
    for i in 0..300 {
        let host = format!("h{i}.example.com");
        z.add_ptr(client, &host);
        z.add_a(&host, "198.51.100.1".parse().unwrap());
    }
    let out = iprev::check(&z, client, &IprevConfig::default()).await;
    assert_eq!(out.result, IprevResult::Fail, "{}", out.reason);
    assert_eq!(z.query_count(), 1 + 10, "{:?}", z.queries());
    // A configured limit is honoured too.
    z.clear_queries();
    let _ = iprev::check(&z, client, &IprevConfig { max_names: 3 }).await;
    assert_eq!(z.query_count(), 1 + 3);
}

/// Invalid and duplicate PTR names cost nothing; names that are CNAME
/// loops cost one query each and give temperror (the resolver's SERVFAIL).
#[tokio::test]
async fn iprev_ptr_junk_and_cname_loops_are_bounded() {
    let client = ip("192.0.2.2");
    let mut z = ZoneResolver::new();
    for _ in 0..500 {
        z.add_ptr(client, "dup.example.com");
        z.add_ptr(client, "bad name with spaces");
        z.add_ptr(client, "-leading-hyphen.example.com");
    }
    z.add_ptr(client, "a.loop.example");
    z.add_cname("dup.example.com", "b.loop.example")
        .add_cname("a.loop.example", "b.loop.example")
        .add_cname("b.loop.example", "a.loop.example");
    let out = iprev::check(&z, client, &IprevConfig::default()).await;
    assert_eq!(out.result, IprevResult::TempError, "{}", out.reason);
    assert_eq!(z.query_count(), 1 + 2, "{:?}", z.queries());
}

/// A forward name with 5,000 A records: one query, pass.
#[tokio::test]
async fn iprev_with_thousands_of_forward_records() {
    let client = ip("10.0.19.135");
    let mut z = ZoneResolver::new();
    z.add_ptr(client, "big.example.com");
    for i in 0..5000u32 {
        z.add_a("big.example.com", (0x0a00_0000 | i).into());
    }
    let out = iprev::check(&z, client, &IprevConfig::default()).await;
    assert_eq!(out.result, IprevResult::Pass, "{}", out.reason);
    assert_eq!(z.query_count(), 2);
}

/// A resolver that times out (as a real one does after its per-query
/// timeout) gives temperror after one query.
#[tokio::test]
async fn iprev_timeout_is_temperror() {
    let client = ip("192.0.2.3");
    let mut z = ZoneResolver::new();
    z.set_ptr_fault(client, Fault::Timeout);
    let out = iprev::check(&z, client, &IprevConfig::default()).await;
    assert_eq!(out.result, IprevResult::TempError);
    assert_eq!(z.query_count(), 1);
}

fn dkim(domain: &str) -> DkimEvidence<'_> {
    DkimEvidence {
        pass: true,
        domain,
        testing: false,
        unsigned_content: false,
    }
}

/// The worst case for one DMARC evaluation: a 100-label Author Domain, no
/// record anywhere, and 200 passing DKIM signatures with distinct deep
/// domains (each a relaxed-alignment candidate needing its own walk). In
/// both modes the total stays within `max_dns_queries`.
#[tokio::test]
async fn dmarc_deep_names_and_many_dkim_domains_stay_within_the_budget() {
    let from = vec!["x"; 100].join(".") + ".example.com";
    let names: Vec<String> = (0..200)
        .map(|i| format!("{}.d{i}.example.com", vec!["y"; 50].join(".")))
        .collect();
    let sigs: Vec<DkimEvidence<'_>> = names.iter().map(|n| dkim(n)).collect();
    for mode in [DmarcMode::Rfc9989, DmarcMode::Rfc7489] {
        let z = ZoneResolver::new();
        let cfg = DmarcConfig::with_mode(mode);
        let out = evaluate(&z, &from, None, &sigs, &cfg).await;
        assert_eq!(out.result, DmarcResult::None, "{mode:?}");
        assert!(
            z.query_count() <= cfg.max_dns_queries,
            "{mode:?}: {} queries",
            z.query_count()
        );
        // The Tree Walk from the Author Domain alone is at most 8 queries.
        let txt = z
            .queries()
            .iter()
            .filter(|(t, n)| *t == RecordType::Txt && n.ends_with(&from))
            .count();
        assert!(txt <= cfg.tree_walk_limit, "{mode:?}: {txt}");
    }
}

/// Thousands of TXT records at `_dmarc`, one of them DMARC, and a
/// multi-kilobyte DMARC record with 300 report URIs: one query each.
#[tokio::test]
async fn dmarc_huge_answers_are_one_query() {
    let mut z = ZoneResolver::new();
    for i in 0..3000 {
        z.add_txt_str("_dmarc.example.com", &format!("unrelated={i:0>40}"));
    }
    z.add_txt_str("_dmarc.example.com", "v=DMARC1; p=reject");
    let cfg = DmarcConfig::default();
    let out = evaluate(&z, "example.com", None, &[dkim("example.com")], &cfg).await;
    assert_eq!(out.result, DmarcResult::Pass, "{out:?}");
    assert_eq!(z.query_count(), 1);

    let uris: Vec<String> = (0..300)
        .map(|i| format!("mailto:r{i}@reports.example.net"))
        .collect();
    let rec = format!("v=DMARC1; p=quarantine; rua={}", uris.join(","));
    assert!(rec.len() > 8000);
    let mut z = ZoneResolver::new();
    z.add_txt_str("_dmarc.example.org", &rec);
    let out = evaluate(&z, "example.org", None, &[], &cfg).await;
    assert_eq!(out.result, DmarcResult::Fail, "{out:?}");
    assert_eq!(z.query_count(), 1);
}
