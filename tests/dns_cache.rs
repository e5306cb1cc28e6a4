//! `CachingResolver`: TTL expiry, negative caching, what is not cached,
//! bounded size and eviction order, concurrent use, coalesced concurrent
//! misses.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use sender_auth::dns::cache::{
    CacheConfig, CachingResolver, DEFAULT_NEGATIVE_TTL, MAX_NEGATIVE_TTL, ManualClock,
};
use sender_auth::dns::zone::{Fault, ZoneResolver};
use sender_auth::dns::{DnsError, DnsResult, DynResolver, Mx, RecordType, Resolver, Txt};

fn block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

fn cache_with_clock(
    zone: ZoneResolver,
    config: CacheConfig,
) -> (CachingResolver<ZoneResolver>, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new());
    let c = CachingResolver::with_clock(zone, config, clock.clone());
    (c, clock)
}

#[test]
fn positive_answers_live_for_their_ttl() {
    let mut z = ZoneResolver::new();
    z.add_txt_str("t.example", "v=spf1 -all")
        .set_ttl("t.example", 60);
    let (c, clock) = cache_with_clock(z, CacheConfig::default());

    let first = block(c.txt("t.example")).unwrap();
    assert_eq!(first.ttl, 60);
    clock.advance(Duration::from_secs(20));
    let hit = block(c.txt("T.EXAMPLE.")).unwrap();
    assert_eq!(hit.ttl, 40, "a hit answers with the remaining TTL");
    assert_eq!(hit.records, first.records);
    assert_eq!(c.inner().query_count(), 1);

    clock.advance(Duration::from_secs(40));
    let again = block(c.txt("t.example")).unwrap();
    assert_eq!(again.ttl, 60, "expired: fetched again");
    assert_eq!(c.inner().query_count(), 2);

    let s = c.stats();
    assert_eq!((s.hits, s.misses, s.entries), (1, 2, 1));
}

#[test]
fn negative_answers_cached_for_negative_ttl() {
    let mut z = ZoneResolver::new();
    z.add_a("exists.example", Ipv4Addr::LOCALHOST);
    let (c, clock) = cache_with_clock(z, CacheConfig::default());

    assert_eq!(block(c.a("nx.example")), Err(DnsError::NxDomain));
    assert_eq!(block(c.aaaa("exists.example")), Err(DnsError::NoData));
    assert_eq!(block(c.a("nx.example")), Err(DnsError::NxDomain));
    assert_eq!(block(c.aaaa("exists.example")), Err(DnsError::NoData));
    assert_eq!(c.inner().query_count(), 2);

    clock.advance(Duration::from_secs(u64::from(DEFAULT_NEGATIVE_TTL) - 1));
    assert_eq!(block(c.a("nx.example")), Err(DnsError::NxDomain));
    assert_eq!(c.inner().query_count(), 2);
    clock.advance(Duration::from_secs(1));
    assert_eq!(block(c.a("nx.example")), Err(DnsError::NxDomain));
    assert_eq!(c.inner().query_count(), 3);
}

#[test]
fn negative_ttl_is_configurable_and_capped() {
    let (c, clock) = cache_with_clock(
        ZoneResolver::new(),
        CacheConfig {
            negative_ttl: u32::MAX,
            ..CacheConfig::default()
        },
    );
    block(c.a("nx.example")).unwrap_err();
    clock.advance(Duration::from_secs(u64::from(MAX_NEGATIVE_TTL) - 1));
    block(c.a("nx.example")).unwrap_err();
    assert_eq!(c.inner().query_count(), 1);
    clock.advance(Duration::from_secs(1));
    block(c.a("nx.example")).unwrap_err();
    assert_eq!(c.inner().query_count(), 2);

    // negative_ttl 0: negative answers are not cached at all.
    let c = CachingResolver::with_config(
        ZoneResolver::new(),
        CacheConfig {
            negative_ttl: 0,
            ..CacheConfig::default()
        },
    );
    block(c.a("nx.example")).unwrap_err();
    block(c.a("nx.example")).unwrap_err();
    assert_eq!(c.inner().query_count(), 2);
}

#[test]
fn failures_and_bad_names_are_not_cached() {
    let mut z = ZoneResolver::new();
    z.set_fault("sf.example", RecordType::Txt, Fault::ServFail)
        .set_fault("to.example", RecordType::Txt, Fault::Timeout);
    let c = CachingResolver::new(z);
    for _ in 0..2 {
        assert_eq!(block(c.txt("sf.example")), Err(DnsError::ServFail));
        assert_eq!(block(c.txt("to.example")), Err(DnsError::Timeout));
        assert!(matches!(
            block(c.txt("bad..example")),
            Err(DnsError::InvalidName(_))
        ));
    }
    assert_eq!(c.inner().query_count(), 4);
    assert!(c.is_empty());
    assert_eq!(c.stats().misses, 4, "malformed names are not misses");
}

#[test]
fn types_and_ptr_are_keyed_separately() {
    let mut z = ZoneResolver::new();
    let ip: IpAddr = "192.0.2.9".parse().unwrap();
    z.add_a("h.example", Ipv4Addr::LOCALHOST)
        .add_txt_str("h.example", "x")
        .add_ptr(ip, "h.example");
    let c = CachingResolver::new(z);
    block(c.a("h.example")).unwrap();
    block(c.txt("h.example")).unwrap();
    assert_eq!(block(c.mx("h.example")), Err(DnsError::NoData));
    block(c.ptr(ip)).unwrap();
    // IPv4-mapped IPv6 shares the IPv4 reverse name.
    let mapped: IpAddr = "::ffff:192.0.2.9".parse().unwrap();
    let p = block(c.ptr(mapped)).unwrap();
    assert_eq!(&p.records[..], &["h.example".to_string()]);
    assert_eq!(c.inner().query_count(), 4);
    assert_eq!(c.len(), 4);
}

#[test]
fn bounded_size_evicts_expired_first_then_oldest() {
    let mut z = ZoneResolver::new();
    for i in 0..10 {
        let name = format!("h{i}.example");
        z.add_a(&name, Ipv4Addr::LOCALHOST);
    }
    z.set_ttl("h0.example", 10); // expires early
    let (c, clock) = cache_with_clock(
        z,
        CacheConfig {
            max_entries: 3,
            ..CacheConfig::default()
        },
    );
    block(c.a("h0.example")).unwrap(); // ttl 10
    block(c.a("h1.example")).unwrap(); // ttl 3600
    block(c.a("h2.example")).unwrap();
    assert_eq!(c.len(), 3);

    // h0 has expired: dropping it makes room (not counted as an eviction).
    // `expired_entry_made_room_over_older_live_one` covers an expired entry
    // that is not also the oldest.
    clock.advance(Duration::from_secs(11));
    block(c.a("h3.example")).unwrap();
    assert_eq!(c.len(), 3);
    assert_eq!(c.stats().evictions, 0, "an expired entry made room");
    c.inner().clear_queries();
    block(c.a("h1.example")).unwrap();
    block(c.a("h2.example")).unwrap();
    block(c.a("h3.example")).unwrap();
    assert_eq!(c.inner().query_count(), 0, "h1..h3 kept");

    // Full of live entries: the oldest (h1) goes.
    block(c.a("h4.example")).unwrap();
    assert_eq!(c.stats().evictions, 1);
    c.inner().clear_queries();
    block(c.a("h2.example")).unwrap();
    block(c.a("h3.example")).unwrap();
    block(c.a("h4.example")).unwrap();
    assert_eq!(c.inner().query_count(), 0);
    block(c.a("h1.example")).unwrap();
    assert_eq!(c.inner().query_count(), 1, "h1 was evicted");
    assert_eq!(c.len(), 3);
}

#[test]
fn expired_entry_made_room_over_older_live_one() {
    let mut z = ZoneResolver::new();
    for i in 0..3 {
        z.add_a(&format!("h{i}.example"), Ipv4Addr::LOCALHOST);
    }
    z.set_ttl("h1.example", 5);
    let (c, clock) = cache_with_clock(
        z,
        CacheConfig {
            max_entries: 2,
            ..CacheConfig::default()
        },
    );
    block(c.a("h0.example")).unwrap(); // oldest, long-lived
    block(c.a("h1.example")).unwrap(); // newer, short-lived
    clock.advance(Duration::from_secs(6));
    block(c.a("h2.example")).unwrap();
    c.inner().clear_queries();
    block(c.a("h0.example")).unwrap();
    assert_eq!(c.inner().query_count(), 0, "h0 (older but live) kept");
    assert_eq!(c.stats().evictions, 0);
}

#[test]
fn purge_and_clear() {
    let mut z = ZoneResolver::new();
    z.add_a("a.example", Ipv4Addr::LOCALHOST)
        .set_ttl("a.example", 5)
        .add_a("b.example", Ipv4Addr::LOCALHOST);
    let (c, clock) = cache_with_clock(z, CacheConfig::default());
    block(c.a("a.example")).unwrap();
    block(c.a("b.example")).unwrap();
    clock.advance(Duration::from_secs(5));
    c.purge_expired();
    assert_eq!(c.len(), 1);
    c.clear();
    assert!(c.is_empty());
}

#[test]
fn usable_behind_arc_and_dyn() {
    let mut z = ZoneResolver::new();
    z.add_a("a.example", Ipv4Addr::LOCALHOST);
    let dynr: Arc<dyn DynResolver> = Arc::new(CachingResolver::new(z));
    block(async {
        dynr.a("a.example").await.unwrap();
        dynr.a("a.example").await.unwrap();
    });
}

/// Many tasks on a multi-threaded runtime share one cache: answers stay
/// correct, the lock is never held across an await, and each name reaches
/// the inner resolver a bounded number of times.
#[test]
fn concurrent_use() {
    let mut z = ZoneResolver::new();
    for i in 0..50 {
        let name = format!("h{i}.example");
        z.add_a(&name, Ipv4Addr::new(192, 0, 2, i as u8));
        z.add_txt_str(&name, &format!("text {i}"));
    }
    let cache = Arc::new(CachingResolver::with_config(
        z,
        CacheConfig {
            max_entries: 60, // smaller than the 100 keys: evictions under load
            ..CacheConfig::default()
        },
    ));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut tasks = Vec::new();
        for t in 0..16u32 {
            let cache = cache.clone();
            tasks.push(tokio::spawn(async move {
                for round in 0..200u32 {
                    let i = ((t * 7 + round * 13) % 50) as u8;
                    let name = format!("h{i}.example");
                    let a = cache.a(&name).await.unwrap();
                    assert_eq!(&a.records[..], &[Ipv4Addr::new(192, 0, 2, i)]);
                    let txt = cache.txt(&name).await.unwrap();
                    assert_eq!(txt.records[0].concat(), format!("text {i}").as_bytes());
                    assert_eq!(
                        cache.a(&format!("nx{i}.example")).await,
                        Err(DnsError::NxDomain)
                    );
                    tokio::task::yield_now().await;
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
    let s = cache.stats();
    // Every lookup was answered exactly one way: from the cache, by its own
    // query, or by waiting for a concurrent identical one.
    assert_eq!(s.hits + s.misses + s.coalesced, 16 * 200 * 3);
    assert!(s.entries <= 60);
    assert!(s.hits > 0 && s.misses > 0 && s.evictions > 0, "{s:?}");
    assert_eq!(cache.inner().query_count() as u64, s.misses);
}

/// Answers like `R`, every answer `delay` late (paused-clock tests); the
/// query reaches `R` (and its query log) at once, as on the wire.
struct Delayed<R> {
    inner: R,
    delay: Duration,
}

impl<R: Resolver> Resolver for Delayed<R> {
    async fn txt(&self, name: &str) -> DnsResult<Txt> {
        let answer = self.inner.txt(name).await;
        tokio::time::sleep(self.delay).await;
        answer
    }
    async fn a(&self, name: &str) -> DnsResult<Ipv4Addr> {
        let answer = self.inner.a(name).await;
        tokio::time::sleep(self.delay).await;
        answer
    }
    async fn aaaa(&self, name: &str) -> DnsResult<std::net::Ipv6Addr> {
        let answer = self.inner.aaaa(name).await;
        tokio::time::sleep(self.delay).await;
        answer
    }
    async fn mx(&self, name: &str) -> DnsResult<Mx> {
        let answer = self.inner.mx(name).await;
        tokio::time::sleep(self.delay).await;
        answer
    }
    async fn ptr(&self, ip: IpAddr) -> DnsResult<String> {
        let answer = self.inner.ptr(ip).await;
        tokio::time::sleep(self.delay).await;
        answer
    }
}

fn delayed(z: ZoneResolver) -> CachingResolver<Delayed<ZoneResolver>> {
    CachingResolver::new(Delayed {
        inner: z,
        delay: Duration::from_secs(1),
    })
}

#[tokio::test(start_paused = true)]
async fn concurrent_identical_misses_send_one_query() {
    let mut z = ZoneResolver::new();
    z.add_txt_str("example.com", "v=spf1 -all");
    z.add_a("example.com", Ipv4Addr::new(192, 0, 2, 1));
    let cache = delayed(z);
    let start = tokio::time::Instant::now();
    let (a, b, c, d) = tokio::join!(
        cache.txt("example.com"),
        cache.txt("EXAMPLE.com."),
        cache.txt("example.com"),
        cache.a("example.com"),
    );
    assert_eq!(
        start.elapsed(),
        Duration::from_secs(1),
        "nobody queued behind"
    );
    for r in [&a, &b, &c] {
        assert_eq!(r.as_ref().unwrap().records[0].concat(), b"v=spf1 -all");
    }
    assert!(d.is_ok());
    // One TXT query for the three TXT lookups; the A lookup is its own.
    assert_eq!(cache.inner().inner.query_count(), 2);
    let s = cache.stats();
    assert_eq!((s.misses, s.coalesced, s.hits), (2, 2, 0));
    // And the answer was stored.
    assert!(cache.txt("example.com").await.is_ok());
    assert_eq!(cache.inner().inner.query_count(), 2);
}

#[tokio::test(start_paused = true)]
async fn concurrent_errors_are_shared_but_not_cached() {
    let mut z = ZoneResolver::new();
    z.set_fault("broken.example", RecordType::Txt, Fault::ServFail);
    let cache = delayed(z);
    let (a, b) = tokio::join!(cache.txt("broken.example"), cache.txt("broken.example"));
    assert_eq!(a, Err(DnsError::ServFail));
    assert_eq!(b, Err(DnsError::ServFail));
    assert_eq!(cache.inner().inner.query_count(), 1);
    // Not stored: the next lookup asks again.
    assert_eq!(cache.txt("broken.example").await, Err(DnsError::ServFail));
    assert_eq!(cache.inner().inner.query_count(), 2);

    // Negative answers are shared and cached.
    let cache = delayed(ZoneResolver::new());
    let (a, b) = tokio::join!(cache.a("nx.example"), cache.a("nx.example"));
    assert_eq!((a, b), (Err(DnsError::NxDomain), Err(DnsError::NxDomain)));
    assert_eq!(cache.a("nx.example").await, Err(DnsError::NxDomain));
    assert_eq!(cache.inner().inner.query_count(), 1);
}

/// A waiter whose leader is dropped before the answer (e.g. its caller's
/// deadline passed) does not hang and does not get the leader's
/// cancellation: it sends the query itself.
#[tokio::test(start_paused = true)]
async fn a_dropped_leader_hands_over_to_a_waiter() {
    let mut z = ZoneResolver::new();
    z.add_txt_str("example.com", "hello");
    let cache = delayed(z);
    let start = tokio::time::Instant::now();
    let (leader, waiter) = tokio::join!(
        tokio::time::timeout(Duration::from_millis(500), cache.txt("example.com")),
        cache.txt("example.com"),
    );
    assert!(leader.is_err(), "the leader timed out");
    assert_eq!(waiter.unwrap().records[0].concat(), b"hello");
    assert_eq!(start.elapsed(), Duration::from_millis(1500));
    assert_eq!(cache.inner().inner.query_count(), 2);
}

/// Through the Authenticator: SPF for the HELO name and for the MAIL FROM
/// domain run concurrently and need the same TXT record; behind a
/// `CachingResolver` that costs one query.
#[tokio::test(start_paused = true)]
async fn authenticator_spf_helo_and_mail_from_share_one_txt_query() {
    use sender_auth::authenticator::{AuthConfig, Authenticator, Checks, Transaction};
    use sender_auth::spf::SpfResult;
    let mut z = ZoneResolver::new();
    z.add_txt_str("example.com", "v=spf1 ip4:192.0.2.25 -all");
    let cache = delayed(z);
    let auth = Authenticator::new(
        &cache,
        AuthConfig {
            checks: Checks {
                spf: true,
                spf_helo: true,
                ..Checks::NONE
            },
            ..AuthConfig::default()
        },
    );
    let tx = Transaction {
        client_ip: Some("192.0.2.25".parse().unwrap()),
        helo: Some("example.com".into()),
        mail_from: Some("alice@example.com".into()),
    };
    let r = auth.authenticate(&tx, None).await;
    assert_eq!(r.spf.unwrap().result, SpfResult::Pass);
    assert_eq!(r.spf_helo.unwrap().result, SpfResult::Pass);
    assert_eq!(cache.inner().inner.query_count(), 1);
    assert_eq!(cache.stats().coalesced, 1);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]

    /// Coalescing under random concurrency: lookups of a few names start at
    /// random times, some are cancelled by a random deadline. Every lookup
    /// that is not cancelled gets exactly the zone's own answer, nothing
    /// hangs, and the zone sees no more queries than there were lookups.
    #[test]
    fn coalescing_keeps_answers_under_random_cancellation(
        lookups in proptest::collection::vec((0usize..4, 0u64..3000, proptest::option::of(0u64..3000)), 1..24),
    ) {
        let names = ["a.example", "b.example", "nx.example", "broken.example"];
        let mut z = ZoneResolver::new();
        z.add_txt_str("a.example", "alpha");
        z.add_txt_str("b.example", "beta");
        z.set_fault("broken.example", RecordType::Txt, Fault::ServFail);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        let expected: Vec<DnsResult<Txt>> =
            rt.block_on(async { futures_util::future::join_all(names.iter().map(|n| z.txt(n))).await });
        let direct_queries = z.query_count();
        let cache = delayed(z);
        let results = rt.block_on(async {
            let tasks = lookups.iter().map(|&(i, start, deadline)| {
                let cache = &cache;
                async move {
                    tokio::time::sleep(Duration::from_millis(start)).await;
                    let lookup = cache.txt(names[i]);
                    let r = match deadline {
                        Some(d) => tokio::time::timeout(Duration::from_millis(d), lookup).await.ok(),
                        None => Some(lookup.await),
                    };
                    (i, r)
                }
            });
            tokio::time::timeout(Duration::from_secs(3600), futures_util::future::join_all(tasks))
                .await
                .expect("a lookup hung")
        });
        for (i, r) in results {
            if let Some(r) = r {
                match (&r, &expected[i]) {
                    (Ok(a), Ok(b)) => proptest::prop_assert_eq!(&a.records, &b.records),
                    (a, b) => proptest::prop_assert_eq!(a.as_ref().err(), b.as_ref().err()),
                }
            }
        }
        let sent = cache.inner().inner.query_count() - direct_queries;
        proptest::prop_assert!(sent <= lookups.len(), "{sent} queries for {} lookups", lookups.len());
    }
}
