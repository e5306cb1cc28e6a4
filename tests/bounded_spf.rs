//! Bounded work for SPF (RFC 7208 §4.6.4, §11.1): adversarial zones cannot
//! make one `check_host()` send more than the RFC limits allow. Every test
//! counts the queries the check really sent through the in-memory
//! resolver's query log ([`ZoneResolver::queries`]); none measures time
//! (the time-budget tests run on Tokio's paused clock and are instant).

use std::net::IpAddr;
use std::time::Duration;

use sender_auth::dns::RecordType;
use sender_auth::dns::zone::{Fault, ZoneResolver};
use sender_auth::spf::{self, SpfConfig, SpfOutput, SpfResult};

/// The most queries one check may send with the default limits: the
/// record of `<domain>`, 10 DNS-querying terms each followed by at most 10
/// address lookups (MX/PTR names), the `%{p}` validation (1 PTR + 10
/// forward lookups) and the `exp=` lookup.
const RFC_MAX_QUERIES: usize = 1 + 10 * (1 + 10) + (1 + 10) + 1;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

async fn check(zone: &ZoneResolver, client: &str, domain: &str) -> SpfOutput {
    zone.clear_queries();
    let out = spf::check_host(
        zone,
        ip(client),
        domain,
        &format!("user@{domain}"),
        "helo.example",
        &SpfConfig::default(),
    )
    .await;
    assert!(
        zone.query_count() <= RFC_MAX_QUERIES,
        "{} queries",
        zone.query_count()
    );
    out
}

fn txt_queries(zone: &ZoneResolver) -> usize {
    zone.queries()
        .iter()
        .filter(|(t, _)| *t == RecordType::Txt)
        .count()
}

/// 10 includes, each of which includes 10 more, each of which ... : the
/// 11th DNS-querying term is a permerror and is never queried.
#[tokio::test]
async fn include_fan_out_stops_at_ten_terms() {
    let mut z = ZoneResolver::new();
    let fan = |prefix: &str| -> String {
        let mut r = String::from("v=spf1");
        for i in 0..10 {
            r.push_str(&format!(" include:{prefix}{i}.fan.example"));
        }
        r + " -all"
    };
    z.add_txt_str("fan.example", &fan("n"));
    for i in 0..10 {
        z.add_txt_str(&format!("n{i}.fan.example"), &fan(&format!("n{i}")));
        for j in 0..10 {
            z.add_txt_str(&format!("n{i}{j}.fan.example"), "v=spf1 -all");
        }
    }
    let out = check(&z, "192.0.2.1", "fan.example").await;
    assert_eq!(out.result, SpfResult::PermError, "{}", out.reason());
    assert_eq!(out.dns_lookups, 11, "{out:?}");
    // At most: the record of fan.example plus the 10 includes allowed.
    assert!(z.query_count() <= 11, "{:?}", z.queries());
    assert!(txt_queries(&z) <= 11);
}

/// An include loop is cut by the same limit (with the parsed-record cache
/// the record is fetched once; without it, once per include).
#[tokio::test]
async fn include_loop_stops_at_ten_terms() {
    let mut z = ZoneResolver::new();
    z.add_txt_str("loop.example", "v=spf1 include:loop.example -all");
    let out = check(&z, "192.0.2.1", "loop.example").await;
    assert_eq!(out.result, SpfResult::PermError);
    assert!(z.query_count() <= 11, "{:?}", z.queries());
}

/// A chain of 100 redirects: at most 10 are followed.
#[tokio::test]
async fn deep_redirect_chain_stops_at_ten_terms() {
    let mut z = ZoneResolver::new();
    for i in 0..100 {
        z.add_txt_str(
            &format!("r{i}.chain.example"),
            &format!("v=spf1 redirect=r{}.chain.example", i + 1),
        );
    }
    let out = check(&z, "192.0.2.1", "r0.chain.example").await;
    assert_eq!(out.result, SpfResult::PermError, "{}", out.reason());
    assert!(z.query_count() <= 11, "{:?}", z.queries());
}

/// Terms whose targets are macro-randomised (`%{l}`, `%{i}`, `%{o}`, `%{h}`) under a
/// wildcard: every query is a different name, so no cache could help; the
/// term limit still caps them, and each name is at most 253 octets.
#[tokio::test]
async fn macro_randomised_names_are_capped() {
    let mut z = ZoneResolver::new();
    let mut rec = String::from("v=spf1");
    for i in 0..40 {
        rec.push_str(&format!(
            " a:{i}.%{{l}}.%{{ir}}.%{{l}}.%{{o}}.%{{h}}.%{{l}}.rnd.example"
        ));
    }
    z.add_txt_str("rnd.example", &(rec + " -all"));
    z.add_a("*.rnd.example", "198.51.100.7".parse().unwrap());
    let long_local = "x".repeat(63);
    z.clear_queries();
    let out = spf::check_host(
        &z,
        ip("192.0.2.1"),
        "rnd.example",
        &format!("{long_local}@rnd.example"),
        "helo.example",
        &SpfConfig::default(),
    )
    .await;
    assert_eq!(out.result, SpfResult::PermError, "{}", out.reason());
    assert_eq!(out.dns_lookups, 11);
    let q = z.queries();
    assert!(q.len() <= 11, "{q:?} {}", out.reason());
    assert!(q.iter().all(|(_, name)| name.len() <= 253), "{q:?}");
}

/// Void lookups (NXDOMAIN) beyond 2 are a permerror: a record of 40
/// `exists:` terms on random names sends 3 queries.
#[tokio::test]
async fn void_lookups_stop_after_two() {
    let mut z = ZoneResolver::new();
    let mut rec = String::from("v=spf1");
    for i in 0..40 {
        rec.push_str(&format!(" exists:{i}.%{{i}}.void.example"));
    }
    z.add_txt_str("v.example", &(rec + " -all"));
    let out = check(&z, "192.0.2.1", "v.example").await;
    assert_eq!(out.result, SpfResult::PermError, "{}", out.reason());
    assert_eq!(out.void_lookups, 3);
    assert!(z.query_count() <= 1 + 3, "{:?}", z.queries());
}

/// An MX RRset of 500 names is a permerror without a single address lookup.
#[tokio::test]
async fn mx_with_hundreds_of_names_is_a_permerror_without_address_lookups() {
    let mut z = ZoneResolver::new();
    z.add_txt_str("mx.example", "v=spf1 mx -all");
    for i in 0..500 {
        z.add_mx("mx.example", i, &format!("mx{i}.mx.example"));
        z.add_a(
            &format!("mx{i}.mx.example"),
            "198.51.100.1".parse().unwrap(),
        );
    }
    let out = check(&z, "192.0.2.1", "mx.example").await;
    assert_eq!(out.result, SpfResult::PermError, "{}", out.reason());
    assert!(z.query_count() <= 2, "{:?}", z.queries());
}

/// Ten `mx` terms, each with ten names that do not match: the worst case
/// the limits allow, 1 + 10 × (1 + 10) queries, and not one more.
#[tokio::test]
async fn ten_mx_terms_of_ten_names_is_the_worst_case() {
    let mut z = ZoneResolver::new();
    let mut rec = String::from("v=spf1");
    for t in 0..11 {
        rec.push_str(&format!(" mx:d{t}.mx.example"));
        for i in 0..10 {
            let host = format!("h{i}.d{t}.mx.example");
            z.add_mx(&format!("d{t}.mx.example"), i, &host);
            z.add_a(&host, "198.51.100.1".parse().unwrap());
        }
    }
    z.add_txt_str("mx.example", &(rec + " -all"));
    let out = check(&z, "192.0.2.1", "mx.example").await;
    assert_eq!(out.result, SpfResult::PermError, "{}", out.reason());
    assert!(z.query_count() <= 1 + 10 * 11, "{:?}", z.queries());
}

/// A PTR RRset of 300 names: the `ptr` term validates at most 10.
#[tokio::test]
async fn ptr_with_hundreds_of_names_checks_ten() {
    let mut z = ZoneResolver::new();
    z.add_txt_str("p.example", "v=spf1 ptr -all");
    let client = ip("192.0.2.1");
    for i in 0..300 {
        // Under the target domain, so each is a candidate to validate.
        let host = format!("h{i}.p.example");
        z.add_ptr(client, &host);
        z.add_a(&host, "198.51.100.1".parse().unwrap());
    }
    let out = check(&z, "192.0.2.1", "p.example").await;
    assert_eq!(out.result, SpfResult::Fail, "{}", out.reason());
    assert!(z.query_count() <= 1 + 1 + 10, "{:?}", z.queries());
}

/// `%{p}` in 10 `exists` terms: the PTR validation happens once (1 PTR + at
/// most 10 forward lookups), whatever the size of the PTR RRset.
#[tokio::test]
async fn p_macro_with_hundreds_of_ptr_names_is_bounded() {
    let mut z = ZoneResolver::new();
    let mut rec = String::from("v=spf1");
    for i in 0..10 {
        rec.push_str(&format!(" exists:{i}.%{{p}}.pm.example"));
    }
    z.add_txt_str("pm.example", &(rec + " -all"));
    z.add_a("*.pm.example", "127.0.0.2".parse().unwrap());
    let client = ip("192.0.2.1");
    for i in 0..300 {
        z.add_ptr(client, &format!("h{i}.elsewhere.example"));
    }
    let out = check(&z, "192.0.2.1", "pm.example").await;
    assert_eq!(out.result, SpfResult::Pass, "{}", out.reason());
    assert!(z.query_count() <= 1 + 1 + 10 + 10, "{:?}", z.queries());
}

/// A CNAME loop at an include target and at the checked domain itself:
/// one query each (the resolver answers SERVFAIL), temperror.
#[tokio::test]
async fn cname_loops_are_one_query_and_temperror() {
    let mut z = ZoneResolver::new();
    z.add_cname("a.loop.example", "b.loop.example")
        .add_cname("b.loop.example", "a.loop.example")
        .add_txt_str("c.example", "v=spf1 include:a.loop.example -all");
    let out = check(&z, "192.0.2.1", "c.example").await;
    assert_eq!(out.result, SpfResult::TempError, "{}", out.reason());
    assert!(z.query_count() <= 2);
    let out = check(&z, "192.0.2.1", "a.loop.example").await;
    assert_eq!(out.result, SpfResult::TempError, "{}", out.reason());
    assert!(z.query_count() <= 1);
}

/// An `a` term whose name has 5,000 A records: one query, a plain answer.
#[tokio::test]
async fn thousands_of_address_records_are_one_query() {
    let mut z = ZoneResolver::new();
    z.add_txt_str("big.example", "v=spf1 a:hosts.big.example -all");
    for i in 0..5000u32 {
        z.add_a("hosts.big.example", (0x0a00_0000 | i).into());
    }
    let out = check(&z, "10.0.19.135", "big.example").await; // 0x0a001387 = index 4999
    assert_eq!(out.result, SpfResult::Pass, "{}", out.reason());
    let out = check(&z, "192.0.2.1", "big.example").await;
    assert_eq!(out.result, SpfResult::Fail);
    assert!(z.query_count() <= 2);
}

/// 3,000 TXT records at the domain, one of them SPF, and a 16 KB SPF
/// record of 1,000 `ip4` terms: both evaluate from the one TXT query.
#[tokio::test]
async fn thousands_of_txt_records_and_a_multi_kilobyte_record() {
    let mut z = ZoneResolver::new();
    for i in 0..3000 {
        z.add_txt_str(
            "many.example",
            &format!("google-site-verification={i:0>40}"),
        );
    }
    z.add_txt_str("many.example", "v=spf1 ip4:192.0.2.0/24 -all");
    let out = check(&z, "192.0.2.1", "many.example").await;
    assert_eq!(out.result, SpfResult::Pass, "{}", out.reason());
    assert!(z.query_count() <= 1);

    let mut rec = String::from("v=spf1");
    for i in 0..1000u32 {
        let [_, _, c, d] = (0x0a00_0000 | i).to_be_bytes();
        rec.push_str(&format!(" ip4:10.0.{c}.{d}"));
    }
    rec.push_str(" -all");
    assert!(rec.len() > 14_000);
    z.add_txt_str("huge.example", &rec);
    let out = check(&z, "10.0.3.231", "huge.example").await; // term 999
    assert_eq!(out.result, SpfResult::Pass, "{}", out.reason());
    let out = check(&z, "192.0.2.1", "huge.example").await;
    assert_eq!(out.result, SpfResult::Fail);
    assert!(z.query_count() <= 1);

    // Two SPF records among thousands: permerror (§4.5), still one query.
    z.add_txt_str("many.example", "v=spf1 +all");
    let out = check(&z, "192.0.2.1", "many.example").await;
    assert_eq!(out.result, SpfResult::PermError, "{}", out.reason());
    assert!(z.query_count() <= 1);
}

/// A resolver that never answers: the overall budget (20 s by default)
/// gives temperror. The clock is paused, so the test takes no real time;
/// the virtual time elapsed is the budget.
#[tokio::test(start_paused = true)]
async fn never_answering_resolver_hits_the_time_budget() {
    let mut z = ZoneResolver::new();
    z.add_txt_str("slow.example", "v=spf1 a:hang.example -all")
        .set_fault("hang.example", RecordType::A, Fault::Hang)
        .set_fault("dead.example", RecordType::Txt, Fault::Hang);
    for domain in ["slow.example", "dead.example"] {
        let start = tokio::time::Instant::now();
        let out = check(&z, "192.0.2.1", domain).await;
        assert_eq!(out.result, SpfResult::TempError, "{}", out.reason());
        assert_eq!(start.elapsed(), Duration::from_secs(20), "{domain}");
    }
}

/// Same for the HELO and MAIL FROM entry points, and a shorter configured
/// budget is honoured.
#[tokio::test(start_paused = true)]
async fn time_budget_applies_to_helo_and_mail_from() {
    let mut z = ZoneResolver::new();
    z.set_fault("dead.example", RecordType::Txt, Fault::Hang);
    let cfg = SpfConfig {
        timeout: Duration::from_secs(3),
        ..SpfConfig::default()
    };
    let start = tokio::time::Instant::now();
    let out = spf::check_helo(&z, ip("192.0.2.1"), "dead.example", &cfg).await;
    assert_eq!(out.result, SpfResult::TempError);
    let out = spf::check_mail_from(&z, ip("192.0.2.1"), "a@dead.example", "h.example", &cfg).await;
    assert_eq!(out.result, SpfResult::TempError);
    assert_eq!(start.elapsed(), Duration::from_secs(6));
}
