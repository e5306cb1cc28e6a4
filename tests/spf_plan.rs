//! Compiled plans (`SpfRecordCache::with_compiled_plans`): a check with a
//! warm record cache evaluated from the domain's plan gives exactly the
//! output of ordinary evaluation (queries counted included) and sends
//! exactly the same queries, whether the plan's loop finishes or gives up
//! half-way and hands its answers over; sequentially and with prefetch
//! (where a hand-over can also come where the ordinary evaluation starts
//! its prefetch table). Without a record cache, the plan laid out during
//! the check is compared with the ordinary evaluation alone (a resolver
//! that answers nothing at once). The OpenSPF suites are compared the same
//! way in `tests/spf_suite.rs`.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

use sender_auth::dns::cache::ManualClock;
use sender_auth::dns::zone::ZoneResolver;
use sender_auth::dns::{DnsResult, Mx, Resolver, Txt};
use sender_auth::spf::{SpfConfig, SpfOutput, SpfRecordCache, SpfResult, check_host};

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime")
        .block_on(f)
}

fn config(cache: &Arc<SpfRecordCache>) -> SpfConfig {
    SpfConfig {
        prefetch: false,
        record_cache: Some(cache.clone()),
        ..SpfConfig::default()
    }
}

/// [`config`] with prefetch on or off.
fn config_pf(cache: &Arc<SpfRecordCache>, prefetch: bool) -> SpfConfig {
    SpfConfig {
        prefetch,
        ..config(cache)
    }
}

/// A check of `domain` for `client` through `r`, and the zone's query log.
fn run<R: Resolver>(
    r: &R,
    zone: &ZoneResolver,
    client: &str,
    domain: &str,
    cfg: &SpfConfig,
) -> (SpfOutput, Vec<String>) {
    zone.clear_queries();
    let ip: IpAddr = client.parse().expect("ip");
    let out = block_on(check_host(
        r,
        ip,
        domain,
        "u@sender.example",
        "h.example",
        cfg,
    ));
    let log = zone
        .queries()
        .into_iter()
        .map(|(t, n)| format!("{t} {n}"))
        .collect();
    (out, log)
}

/// The zone, except that the names in `late` are never answered at once
/// (`*_now` gives `None`; the lookup itself is ready on its first poll,
/// or with `wait`, on its second: a lookup that really waits, for which
/// prefetch starts its table). `all`: no name is answered at once.
struct Late<'z> {
    zone: &'z ZoneResolver,
    late: HashSet<String>,
    wait: bool,
    all: bool,
}

impl<'z> Late<'z> {
    fn new(zone: &'z ZoneResolver, late: &[&str]) -> Self {
        Late {
            zone,
            late: late.iter().map(|s| s.to_string()).collect(),
            wait: false,
            all: false,
        }
    }

    fn is_late(&self, name: &str) -> bool {
        self.all || self.late.contains(name.trim_end_matches('.'))
    }

    fn now<T>(&self, name: &str, f: impl FnOnce() -> Option<T>) -> Option<T> {
        if self.is_late(name) { None } else { f() }
    }

    async fn answer(&self, name: &str) {
        if self.wait && self.is_late(name) {
            tokio::task::yield_now().await;
        }
    }
}

impl Resolver for Late<'_> {
    async fn txt(&self, name: &str) -> DnsResult<Txt> {
        self.answer(name).await;
        self.zone.txt(name).await
    }
    async fn a(&self, name: &str) -> DnsResult<Ipv4Addr> {
        self.answer(name).await;
        self.zone.a(name).await
    }
    async fn aaaa(&self, name: &str) -> DnsResult<Ipv6Addr> {
        self.answer(name).await;
        self.zone.aaaa(name).await
    }
    async fn mx(&self, name: &str) -> DnsResult<Mx> {
        self.answer(name).await;
        self.zone.mx(name).await
    }
    async fn ptr(&self, ip: IpAddr) -> DnsResult<String> {
        self.zone.ptr(ip).await
    }
    fn txt_now(&self, name: &str) -> Option<DnsResult<Txt>> {
        self.now(name, || self.zone.txt_now(name))
    }
    fn a_now(&self, name: &str) -> Option<DnsResult<Ipv4Addr>> {
        self.now(name, || self.zone.a_now(name))
    }
    fn aaaa_now(&self, name: &str) -> Option<DnsResult<Ipv6Addr>> {
        self.now(name, || self.zone.aaaa_now(name))
    }
    fn mx_now(&self, name: &str) -> Option<DnsResult<Mx>> {
        self.now(name, || self.zone.mx_now(name))
    }
    fn ptr_now(&self, ip: IpAddr) -> Option<DnsResult<String>> {
        self.zone.ptr_now(ip)
    }
}

fn bench_zone() -> ZoneResolver {
    ZoneResolver::from_master_file(include_str!("../benches/spf_graph.zone"), None).unwrap()
}

#[test]
fn the_bench_graph_runs_from_its_plan_with_the_same_output_and_queries() {
    bench_graph_from_its_plan(false);
    bench_graph_from_its_plan(true);
}

fn bench_graph_from_its_plan(prefetch: bool) {
    let config = |c: &Arc<SpfRecordCache>| config_pf(c, prefetch);
    let z = bench_zone();
    let planned = Arc::new(SpfRecordCache::new(100));
    let plain = Arc::new(SpfRecordCache::new(100).with_compiled_plans(false));
    let client = "198.51.100.5";
    for c in [&planned, &plain] {
        let (cold, log) = run(&z, &z, client, "bench.example", &config(c));
        assert_eq!((cold.result, log.len()), (SpfResult::Pass, 13));
    }
    assert_eq!(planned.stats().plan_hits, 0, "a cold check builds nothing");
    let (a, a_log) = run(&z, &z, client, "bench.example", &config(&planned));
    let (b, b_log) = run(&z, &z, client, "bench.example", &config(&plain));
    assert_eq!(a, b);
    assert_eq!(a_log, b_log);
    assert_eq!((a.queries, a.dns_lookups), (7, 8));
    assert_eq!(a.mechanism(), Some("ip4:198.51.100.0/28"));
    let (ps, qs) = (planned.stats(), plain.stats());
    assert_eq!(ps.plan_hits, 1);
    assert_eq!(qs.plan_hits, 0);
    // The plan's six records count as hits, as six lookups would.
    assert_eq!(ps.hits, qs.hits);
    assert_eq!(ps.hits, 6);
    assert_eq!(ps.entries, 6, "plans are not record entries");

    // Other clients: a pass through two includes (the chain is reported),
    // and a fail.
    for client in ["192.0.2.2", "192.0.2.99"] {
        let (a, a_log) = run(&z, &z, client, "bench.example", &config(&planned));
        let (b, b_log) = run(&z, &z, client, "bench.example", &config(&plain));
        assert_eq!(a, b, "{client}");
        assert_eq!(a_log, b_log, "{client}");
    }
    let (a, _) = run(&z, &z, "192.0.2.2", "bench.example", &config(&planned));
    assert_eq!(a.result, SpfResult::Pass);
    assert_eq!(
        a.chain().collect::<Vec<_>>(),
        ["include:_spf.a", "include:_nb.a"]
    );
    assert_eq!(a.mechanism(), Some("mx:a.example"));
    assert_eq!(planned.stats().plan_hits, 4);

    // A name given in another case and with a trailing dot uses the same
    // plan and reports the name as given.
    let (a, _) = run(&z, &z, client, "Bench.Example.", &config(&planned));
    let (b, _) = run(&z, &z, client, "Bench.Example.", &config(&plain));
    assert_eq!(a, b);
    assert_eq!(a.domain(), "Bench.Example");
    assert_eq!(planned.stats().plan_hits, 5);
}

#[test]
fn a_lookup_that_would_wait_hands_the_answers_over() {
    for (prefetch, wait) in [(false, false), (false, true), (true, false), (true, true)] {
        hand_over(prefetch, wait);
    }
}

/// `wait`: the late lookup really waits (with prefetch, the ordinary
/// evaluation then starts its table there, which goes on ahead).
fn hand_over(prefetch: bool, wait: bool) {
    let config = |c: &Arc<SpfRecordCache>| config_pf(c, prefetch);
    let z = bench_zone();
    let planned = Arc::new(SpfRecordCache::new(100));
    let plain = Arc::new(SpfRecordCache::new(100).with_compiled_plans(false));
    for c in [&planned, &plain] {
        run(&z, &z, "198.51.100.5", "bench.example", &config(c));
    }
    // Late at the second exchange of a.example (the loop has four answers
    // by then), at the first lookup, and at the last one.
    for late in ["mx2.a.example", "a.example", "bench.example"] {
        let mut r = Late::new(&z, &[late]);
        r.wait = wait;
        let hits = planned.stats().plan_hits;
        let (a, a_log) = run(&r, &z, "198.51.100.5", "bench.example", &config(&planned));
        let (b, b_log) = run(&r, &z, "198.51.100.5", "bench.example", &config(&plain));
        assert_eq!(a, b, "late {late}, prefetch {prefetch}, wait {wait}");
        // Not one query twice: the answers the loop got were replayed.
        assert_eq!(
            a_log, b_log,
            "late {late}, prefetch {prefetch}, wait {wait}"
        );
        assert_eq!(a_log.len(), 7);
        assert_eq!(planned.stats().plan_hits, hits, "the loop gave up");
        assert_eq!(planned.stats().hits, plain.stats().hits);
    }
}

#[test]
fn errors_and_limits_come_from_the_ordinary_evaluator() {
    errors_and_limits(false);
    errors_and_limits(true);
}

fn errors_and_limits(prefetch: bool) {
    let config = |c: &Arc<SpfRecordCache>| config_pf(c, prefetch);
    let mut z = ZoneResolver::new();
    z.add_txt(
        "top.example",
        ["v=spf1 include:i.example a:void1.example a:void2.example mx:void3.example -all"],
    )
    .add_txt("i.example", ["v=spf1 a:h.example ?all"])
    .add_a("h.example", "192.0.2.1".parse().unwrap())
    .add_txt(
        "many.example",
        ["v=spf1 a:h.example a:h.example a:h.example a:h.example a:h.example a:h.example a:h.example a:h.example a:h.example a:h.example a:h.example -all"],
    )
    .add_txt("serv.example", ["v=spf1 a:broken.example -all"])
    .set_fault(
        "broken.example",
        sender_auth::dns::RecordType::A,
        sender_auth::dns::zone::Fault::ServFail,
    );
    let planned = Arc::new(SpfRecordCache::new(100));
    let plain = Arc::new(SpfRecordCache::new(100).with_compiled_plans(false));
    for (domain, result) in [
        // The third void lookup is over the limit of two.
        ("top.example", SpfResult::PermError),
        // The eleventh DNS-querying term.
        ("many.example", SpfResult::PermError),
        ("serv.example", SpfResult::TempError),
    ] {
        for c in [&planned, &plain] {
            run(&z, &z, "192.0.2.9", domain, &config(c));
        }
        let (a, a_log) = run(&z, &z, "192.0.2.9", domain, &config(&planned));
        let (b, b_log) = run(&z, &z, "192.0.2.9", domain, &config(&plain));
        assert_eq!(a.result, result, "{domain}: {}", a.reason());
        assert_eq!(a, b, "{domain}");
        assert_eq!(a_log, b_log, "{domain}");
    }
    // None of them was decided by a plan's loop.
    assert_eq!(planned.stats().plan_hits, 0);
    // The include's `?all` is "not match", the loop's shortcut.
    let (a, _) = run(&z, &z, "192.0.2.1", "i.example", &config(&planned));
    assert_eq!(a.result, SpfResult::Pass);
}

#[test]
fn a_plan_lives_no_longer_than_its_shortest_lived_record() {
    plan_lifetime(false);
    plan_lifetime(true);
}

fn plan_lifetime(prefetch: bool) {
    let config = |c: &Arc<SpfRecordCache>| config_pf(c, prefetch);
    let clock = Arc::new(ManualClock::new());
    let cache = Arc::new(SpfRecordCache::with_clock(100, clock.clone()));
    let zone = |last: &str| {
        let mut z = ZoneResolver::new();
        z.add_txt("top.example", ["v=spf1 include:mid.example -all"])
            .add_txt("mid.example", [last])
            .set_ttl("mid.example", 60);
        z
    };
    let (z1, z2) = (
        zone("v=spf1 ip4:192.0.2.1 -all"),
        zone("v=spf1 ip4:192.0.2.2 -all"),
    );
    let check = |z: &ZoneResolver| run(z, z, "192.0.2.1", "top.example", &config(&cache)).0;
    assert_eq!(check(&z1).result, SpfResult::Pass);
    assert_eq!(check(&z1).result, SpfResult::Pass);
    assert_eq!(cache.stats().plan_hits, 1);
    // Within mid.example's 60 s, the cached records (and plan) answer.
    clock.advance(Duration::from_secs(59));
    assert_eq!(check(&z2).result, SpfResult::Pass);
    assert_eq!(cache.stats().plan_hits, 2);
    // Past it, the new record is looked up and used; the top record (one
    // hour) is still cached, and the plan is built again.
    clock.advance(Duration::from_secs(2));
    assert_eq!(check(&z2).result, SpfResult::Fail);
    assert_eq!(cache.stats().plan_hits, 2);
    assert_eq!(check(&z2).result, SpfResult::Fail);
    assert_eq!(cache.stats().plan_hits, 3);
    cache.clear();
    assert_eq!(check(&z2).result, SpfResult::Fail);
    assert_eq!(cache.stats().plan_hits, 3);
}

mod random_graphs {
    use super::*;
    use proptest::prelude::*;

    /// Terms over domains d0..d5 and hosts h0..h3 (h3 has no address:
    /// void lookups), including what plans do not represent (`ptr`,
    /// macros), so both paths are drawn.
    fn term() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => (0..6u8).prop_map(|d| format!("include:d{d}.example")),
            1 => (0..6u8).prop_map(|d| format!("-include:d{d}.example")),
            2 => (0..4u8).prop_map(|h| format!("a:h{h}.example")),
            1 => (0..4u8).prop_map(|h| format!("~a:h{h}.example/24")),
            2 => (0..6u8).prop_map(|d| format!("mx:d{d}.example")),
            1 => (0..4u8).prop_map(|h| format!("?exists:h{h}.example")),
            1 => Just("ptr".to_string()),
            1 => Just("exists:%{i}.x.example".to_string()),
            1 => Just("ip4:192.0.2.1".to_string()),
            1 => Just("-ip4:192.0.2.2".to_string()),
            1 => Just("a".to_string()),
            1 => Just("mx/30".to_string()),
        ]
    }

    fn record() -> impl Strategy<Value = String> {
        (
            prop::collection::vec(term(), 0..6),
            prop_oneof![
                Just(""),
                Just(" -all"),
                Just(" ?all"),
                Just(" ~all exp=e.example"),
                Just(" -all exp=e.example"),
                Just(" redirect=d3.example"),
                Just(" redirect=d5.example"),
            ],
        )
            .prop_map(|(terms, end)| format!("v=spf1 {}{end}", terms.join(" ")))
    }

    fn build(records: &[Option<String>], hosts: &[u8]) -> ZoneResolver {
        let mut z = ZoneResolver::new();
        for (i, r) in records.iter().enumerate() {
            let d = format!("d{i}.example");
            if let Some(r) = r {
                z.add_txt(&d, [r.as_str()]);
            }
            z.add_mx(&d, 10, &format!("h{}.example", i % 4));
            // A second exchange: an `mx` term that matches at the first
            // leaves a lookup that prefetch sends when the term ends.
            z.add_mx(&d, 20, &format!("h{}.example", (i + 1) % 4));
            z.add_a(&d, "198.51.100.9".parse().unwrap());
        }
        for (h, last) in hosts.iter().enumerate().take(3) {
            z.add_a(&format!("h{h}.example"), Ipv4Addr::new(192, 0, 2, *last));
        }
        z.add_txt("e.example", ["denied for %{i}"]);
        z.add_ptr("192.0.2.1".parse().unwrap(), "h0.example");
        z
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 384, ..ProptestConfig::default() })]

        /// Any graph, any client, with the zone answering at once or some
        /// names only late (and, for some, really waiting), sequentially
        /// and with prefetch: with plans, the warm check's output and the
        /// queries sent are those of the same check without plans; both
        /// equal a sequential check without cache, queries counted aside.
        /// Without a cache, the plan laid out during the check gives the
        /// output and queries of the ordinary evaluation alone.
        #[test]
        fn plans_change_nothing(
            records in prop::collection::vec(prop::option::weighted(0.9, record()), 6),
            hosts in prop::collection::vec(prop_oneof![Just(1u8), Just(2u8), Just(7u8)], 3),
            client in prop_oneof![Just("192.0.2.1"), Just("192.0.2.2"), Just("198.51.100.9"), Just("192.0.2.7")],
            late in prop::collection::vec(prop_oneof![
                Just("h0.example"), Just("h1.example"), Just("d0.example"), Just("d1.example"), Just("d2.example")
            ], 0..2),
            prefetch in any::<bool>(),
            wait in any::<bool>(),
        ) {
            let z = build(&records, &hosts);
            let reference = {
                let cfg = SpfConfig { prefetch: false, ..SpfConfig::default() };
                run(&z, &z, client, "d0.example", &cfg).0
            };
            let config = |c: &Arc<SpfRecordCache>| config_pf(c, prefetch);
            let planned = Arc::new(SpfRecordCache::new(100));
            let plain = Arc::new(SpfRecordCache::new(100).with_compiled_plans(false));
            for c in [&planned, &plain] {
                run(&z, &z, client, "d0.example", &config(c));
            }
            let mut late = Late::new(&z, &late);
            late.wait = wait;
            // No cache: laid out during the check, or the ordinary
            // evaluation alone.
            let mut alone = Late::new(&z, &[]);
            alone.all = true;
            alone.wait = wait;
            let no_cache = SpfConfig { prefetch, ..SpfConfig::default() };
            // The reference, queries counted aside (prefetch counts those
            // it started ahead).
            let queries_aside = |o: &SpfOutput| {
                let mut o = o.clone();
                o.queries = 0;
                o
            };
            let (a, a_log) = run(&late, &z, client, "d0.example", &no_cache);
            let (b, b_log) = run(&alone, &z, client, "d0.example", &no_cache);
            if !(prefetch && wait) {
                // (With prefetch and every lookup waiting, the table starts
                // at the first one and goes ahead: other queries, same
                // result.)
                prop_assert_eq!(&a, &b);
                prop_assert_eq!(a_log, b_log);
            }
            prop_assert_eq!(queries_aside(&a), queries_aside(&reference));
            for _ in 0..2 {
                let (a, a_log) = run(&late, &z, client, "d0.example", &config(&planned));
                let (b, b_log) = run(&late, &z, client, "d0.example", &config(&plain));
                prop_assert_eq!(&a, &b);
                prop_assert_eq!(a_log, b_log);
                prop_assert_eq!(queries_aside(&a), queries_aside(&reference));
            }
        }
    }
}

/// With the library's own answer cache in front (whose synchronous answers
/// count hits): a warm check whose plan loop meets an expired answer hands
/// over without a hit or a query counted twice.
#[test]
fn behind_a_caching_resolver_a_hand_over_counts_each_hit_once() {
    behind_a_caching_resolver(false);
    behind_a_caching_resolver(true);
}

fn behind_a_caching_resolver(prefetch: bool) {
    use sender_auth::dns::cache::{CacheConfig, CachingResolver};
    let config = |c: &Arc<SpfRecordCache>| config_pf(c, prefetch);
    let mut zone = bench_zone();
    zone.set_ttl("mx2.a.example", 60);
    // The answer cache asks the zone through `Late`: mx2.a.example is never
    // answered at once, so once it has expired from the answer cache the
    // plan loop has to hand over there.
    let late = Late::new(&zone, &["mx2.a.example"]);
    let clock = Arc::new(ManualClock::new());
    let setups: Vec<(Arc<SpfRecordCache>, CachingResolver<&Late<'_>>)> = [true, false]
        .into_iter()
        .map(|plans| {
            (
                Arc::new(SpfRecordCache::with_clock(100, clock.clone()).with_compiled_plans(plans)),
                CachingResolver::with_clock(&late, CacheConfig::default(), clock.clone()),
            )
        })
        .collect();
    let client = "198.51.100.5";
    let mut runs = Vec::new();
    for round in 0..3 {
        if round == 2 {
            // mx2.a.example's address has expired in both answer caches.
            clock.advance(Duration::from_secs(61));
        }
        let mut this = Vec::new();
        for (cache, resolver) in &setups {
            let (out, log) = run(resolver, &zone, client, "bench.example", &config(cache));
            this.push((out, log, resolver.stats(), cache.stats().hits));
        }
        let (a, b) = (&this[0], &this[1]);
        assert_eq!(a.0, b.0, "round {round}");
        assert_eq!(a.1, b.1, "round {round}");
        assert_eq!(
            (a.2.hits, a.2.misses),
            (b.2.hits, b.2.misses),
            "round {round}"
        );
        assert_eq!(a.3, b.3, "round {round}");
        runs.push(this);
    }
    // Round 1 ran from the plan; round 2 handed over at mx2.a.example,
    // which alone went to the zone.
    assert_eq!(setups[0].0.stats().plan_hits, 1);
    assert_eq!(runs[2][0].1, ["A mx2.a.example"]);
    assert_eq!(runs[2][0].0.result, SpfResult::Pass);
}
