//! The synchronous fast path of the resolver seam (`Resolver::txt_now` and
//! siblings): the same answers and effects as the asynchronous lookups when
//! `Some`, no effect at all when `None`.

use std::net::IpAddr;
use std::sync::Arc;

use futures_util::FutureExt;
use sender_auth::dns::cache::CachingResolver;
use sender_auth::dns::zone::{Fault, ZoneResolver};
use sender_auth::dns::{DnsError, DynResolver, RecordType, Resolver};

fn zone() -> ZoneResolver {
    let mut z = ZoneResolver::new();
    z.add_txt("t.example", ["v=spf1 -all"])
        .add_a("h.example", "192.0.2.1".parse().unwrap())
        .add_mx("m.example", 10, "h.example")
        .set_fault("bad.example", RecordType::A, Fault::ServFail);
    z
}

/// The zone answers at once exactly what its futures give, logging each
/// query once.
#[test]
fn zone_now_equals_async() {
    let z = zone();
    for name in [
        "t.example",
        "h.example",
        "m.example",
        "bad.example",
        "no.example",
        "a..b",
    ] {
        z.clear_queries();
        let now = (
            z.txt_now(name),
            z.a_now(name),
            z.aaaa_now(name),
            z.mx_now(name),
        );
        let logged_now = z.queries();
        z.clear_queries();
        let later = (
            z.txt(name).now_or_never(),
            z.a(name).now_or_never(),
            z.aaaa(name).now_or_never(),
            z.mx(name).now_or_never(),
        );
        assert_eq!(now, later, "{name}");
        assert_eq!(logged_now, z.queries(), "{name}");
    }
    let ip: IpAddr = "192.0.2.1".parse().unwrap();
    assert_eq!(z.ptr_now(ip), z.ptr(ip).now_or_never());
}

/// With a hanging fault anywhere, the zone answers nothing at once and logs
/// nothing for it.
#[test]
fn zone_with_hang_answers_nothing_at_once() {
    let mut z = zone();
    z.set_fault("hang.example", RecordType::Txt, Fault::Hang);
    assert_eq!(z.txt_now("t.example"), None);
    assert_eq!(z.a_now("hang.example"), None);
    assert_eq!(z.query_count(), 0);
    assert!(z.txt("hang.example").now_or_never().is_none());
}

/// Forwarding impls and trait objects pass the fast path through; the
/// default answers nothing at once.
#[test]
fn forwarding_and_dyn() {
    let z = Arc::new(zone());
    assert!(z.txt_now("t.example").is_some());
    let by_ref: &Arc<ZoneResolver> = &z;
    assert!(Resolver::a_now(&by_ref, "h.example").is_some());
    let b: Box<ZoneResolver> = Box::new(zone());
    assert!(b.mx_now("m.example").is_some());
    let d: Arc<dyn DynResolver> = z.clone();
    assert_eq!(d.txt_now("t.example"), z.txt_now("t.example"));
    assert_eq!(d.aaaa_now("h.example"), Some(Err(DnsError::NoData)));

    struct NoFastPath;
    impl Resolver for NoFastPath {
        async fn txt(&self, _: &str) -> sender_auth::dns::DnsResult<sender_auth::dns::Txt> {
            Err(DnsError::NxDomain)
        }
        async fn a(&self, _: &str) -> sender_auth::dns::DnsResult<std::net::Ipv4Addr> {
            Err(DnsError::NxDomain)
        }
        async fn aaaa(&self, _: &str) -> sender_auth::dns::DnsResult<std::net::Ipv6Addr> {
            Err(DnsError::NxDomain)
        }
        async fn mx(&self, _: &str) -> sender_auth::dns::DnsResult<sender_auth::dns::Mx> {
            Err(DnsError::NxDomain)
        }
        async fn ptr(&self, _: IpAddr) -> sender_auth::dns::DnsResult<String> {
            Err(DnsError::NxDomain)
        }
    }
    assert_eq!(NoFastPath.txt_now("t.example"), None);
    let d: Arc<dyn DynResolver> = Arc::new(NoFastPath);
    assert_eq!(d.a_now("h.example"), None);
}

/// The caching resolver answers a fresh hit at once (counted as a hit),
/// and a miss from the inner resolver's fast path (stored, counted as a
/// miss, the inner query made once); over an inner resolver without a
/// fast path, a miss gives `None` and changes nothing.
#[test]
fn caching_resolver_now() {
    let c = CachingResolver::new(zone());
    let first = c.a_now("h.example");
    assert_eq!(first, c.inner().a("h.example").now_or_never());
    assert_eq!(c.inner().query_count(), 2);
    let again = c.a_now("h.example");
    assert_eq!(
        again
            .as_ref()
            .map(|r| r.as_ref().map(|a| a.records.clone())),
        first
            .as_ref()
            .map(|r| r.as_ref().map(|a| a.records.clone()))
    );
    assert_eq!(c.inner().query_count(), 2, "the hit sent nothing");
    let s = c.stats();
    assert_eq!((s.hits, s.misses), (1, 1));
    // The asynchronous lookup now hits the entry stored by the fast path.
    assert!(c.a("h.example").now_or_never().is_some());
    assert_eq!(c.inner().query_count(), 2);
    assert_eq!(c.stats().hits, 2);
    // Negative answers are cached the same way; SERVFAIL is not.
    assert_eq!(c.txt_now("no.example"), Some(Err(DnsError::NxDomain)));
    assert_eq!(c.a_now("bad.example"), Some(Err(DnsError::ServFail)));
    assert_eq!(c.a_now("bad.example"), Some(Err(DnsError::ServFail)));
    assert_eq!(c.stats().misses, 4);
    assert_eq!(c.a_now("a..b").map(|r| r.is_err()), Some(true));

    let mut hanging = zone();
    hanging.set_fault("hang.example", RecordType::Txt, Fault::Hang);
    let c = CachingResolver::new(hanging);
    assert_eq!(c.a_now("h.example"), None);
    assert_eq!(c.stats().misses, 0);
    assert_eq!(c.inner().query_count(), 0);
    assert!(c.is_empty());
}
