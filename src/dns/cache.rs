//! TTL-honouring cache around any [`Resolver`].
//!
//! [`CachingResolver`] keeps:
//!
//! * positive answers for their TTL (optionally clamped to
//!   [`CacheConfig::min_ttl`]..=[`CacheConfig::max_ttl`]); a hit answers
//!   with the *remaining* TTL, as a caching server does (RFC 1035 §3.2.1).
//!   Answers with TTL 0 are not cached (RFC 1035 §3.2.1: "only for the
//!   transaction in progress") unless `min_ttl` raises them;
//! * negative answers (NXDOMAIN and NODATA, RFC 2308) for
//!   [`CacheConfig::negative_ttl`] (default 300 s, capped at
//!   [`MAX_NEGATIVE_TTL`], the upper end of RFC 2308 §5's recommendation).
//!   The [`Resolver`] seam does not carry the SOA minimum, so one
//!   configured value applies to all negative answers;
//! * nothing else: SERVFAIL, timeouts, other errors and malformed names are
//!   passed through and retried next time.
//!
//! The number of entries is bounded ([`CacheConfig::max_entries`]); when the
//! cache is full, an expired entry is evicted first, else the oldest one.
//! Every operation is O(log n). The cache is `Send + Sync` and meant to be
//! shared (`Arc<CachingResolver<R>>`); its lock is a `std::sync::Mutex`
//! held only for map operations, never across an `.await`.
//!
//! Concurrent misses for the same (type, name) are coalesced: the first
//! sends the query, the others wait for its answer (errors included, though
//! only cacheable answers are stored) instead of sending their own; a
//! waiter whose leader is dropped before answering sends the query itself.
//! So two checks of one transaction that need the same record (SPF for the
//! HELO and the MAIL FROM identity of one domain) cost one query.
//!
//! ```
//! use std::sync::Arc;
//! use sender_auth::dns::{Resolver, cache::CachingResolver, zone::ZoneResolver};
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let mut zone = ZoneResolver::new();
//! zone.add_a("mail.example.com", "192.0.2.1".parse().unwrap());
//! let cache = Arc::new(CachingResolver::new(zone));
//! cache.a("mail.example.com").await.unwrap();
//! cache.a("MAIL.example.com.").await.unwrap(); // same key: a hit
//! assert_eq!(cache.stats().hits, 1);
//! assert_eq!(cache.inner().query_count(), 1);
//! # });
//! ```

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::keyed_hash::KeyedState;

use super::{
    Answer, DnsError, DnsResult, Mx, RecordType, Resolver, Txt, check_name, normalize_name,
    reverse_name,
};

/// Default bound on the number of cached answers.
pub const DEFAULT_MAX_ENTRIES: usize = 10_000;

/// Default lifetime of a cached NXDOMAIN/NODATA answer, in seconds.
pub const DEFAULT_NEGATIVE_TTL: u32 = 300;

/// Longest lifetime of a cached negative answer, in seconds (3 hours,
/// RFC 2308 §5).
pub const MAX_NEGATIVE_TTL: u32 = 10_800;

/// Default upper clamp on positive TTLs, in seconds (one day).
pub const DEFAULT_MAX_TTL: u32 = 86_400;

/// Where the cache reads the time. Tests inject a [`ManualClock`].
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> Instant;
}

/// The real monotonic clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that only moves when told to ([`ManualClock::advance`]).
#[derive(Debug)]
pub struct ManualClock {
    base: Instant,
    offset_nanos: AtomicU64,
}

impl ManualClock {
    /// A clock standing still at the moment of creation.
    pub fn new() -> Self {
        ManualClock {
            base: Instant::now(),
            offset_nanos: AtomicU64::new(0),
        }
    }

    /// Moves the clock forward by `d` (saturating at about 584 years).
    pub fn advance(&self, d: Duration) {
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let _ = self
            .offset_nanos
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |cur| {
                Some(cur.saturating_add(nanos))
            });
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        let offset = Duration::from_nanos(self.offset_nanos.load(Ordering::SeqCst));
        self.base.checked_add(offset).unwrap_or(self.base)
    }
}

/// Configuration of a [`CachingResolver`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheConfig {
    /// Most answers kept at once; 0 disables caching. Default
    /// [`DEFAULT_MAX_ENTRIES`].
    pub max_entries: usize,
    /// Lifetime of NXDOMAIN/NODATA answers in seconds (capped at
    /// [`MAX_NEGATIVE_TTL`]; 0 disables negative caching). Default
    /// [`DEFAULT_NEGATIVE_TTL`].
    pub negative_ttl: u32,
    /// Positive answers are kept at least this long (seconds). Default 0.
    pub min_ttl: u32,
    /// Positive answers are kept at most this long (seconds). Default
    /// [`DEFAULT_MAX_TTL`]. If smaller than `min_ttl`, `max_ttl` wins.
    pub max_ttl: u32,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            max_entries: DEFAULT_MAX_ENTRIES,
            negative_ttl: DEFAULT_NEGATIVE_TTL,
            min_ttl: 0,
            max_ttl: DEFAULT_MAX_TTL,
        }
    }
}

/// Counters of a [`CachingResolver`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheStats {
    /// Lookups answered from the cache.
    pub hits: u64,
    /// Lookups passed to the inner resolver (malformed names excluded).
    pub misses: u64,
    /// Live entries evicted to make room (expired entries are not counted).
    pub evictions: u64,
    /// Entries currently stored (some may have expired but not yet been
    /// dropped).
    pub entries: usize,
    /// Lookups answered by waiting for a concurrent identical lookup
    /// instead of sending their own query.
    pub coalesced: u64,
}

#[derive(Debug, Clone)]
enum Cached {
    Txt(Arc<[Txt]>),
    A(Arc<[Ipv4Addr]>),
    Aaaa(Arc<[Ipv6Addr]>),
    Mx(Arc<[Mx]>),
    Ptr(Arc<[String]>),
    NxDomain,
    NoData,
}

/// Record types the cache can hold.
trait Cacheable: Sized {
    fn wrap(records: Arc<[Self]>) -> Cached;
    fn extract(c: &Cached) -> Option<Arc<[Self]>>;
}

macro_rules! cacheable {
    ($($t:ty => $v:ident),*) => {$(
        impl Cacheable for $t {
            fn wrap(records: Arc<[Self]>) -> Cached {
                Cached::$v(records)
            }
            fn extract(c: &Cached) -> Option<Arc<[Self]>> {
                match c {
                    Cached::$v(r) => Some(r.clone()),
                    _ => None,
                }
            }
        }
    )*};
}

cacheable!(Txt => Txt, Ipv4Addr => A, Ipv6Addr => Aaaa, Mx => Mx, String => Ptr);

type Key = (RecordType, String);

#[derive(Debug)]
struct Entry {
    value: Cached,
    expires: Instant,
    seq: u64,
}

#[derive(Debug, Default)]
struct State {
    map: HashMap<Key, Entry, KeyedState>,
    by_expiry: BTreeMap<(Instant, u64), Key>,
    by_age: BTreeMap<u64, Key>,
    next_seq: u64,
    /// Lookups sent to the inner resolver and not yet answered.
    in_flight: HashMap<Key, Arc<Flight>, KeyedState>,
}

/// One lookup in flight: its waiters are woken through `done` once
/// `answer` is set, or, with `answer` still `None`, when the lookup was
/// dropped unanswered.
#[derive(Debug, Default)]
struct Flight {
    answer: Mutex<Option<Result<(Cached, u32), DnsError>>>,
    done: Arc<tokio::sync::Notify>,
}

/// Ends a flight when the leader's lookup finishes or is dropped: removes
/// it from the in-flight map (only if it is still this flight) and wakes
/// every waiter.
struct FlightGuard<'a> {
    state: &'a Mutex<State>,
    key: &'a Key,
    flight: Arc<Flight>,
}

impl Drop for FlightGuard<'_> {
    fn drop(&mut self) {
        {
            let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if st
                .in_flight
                .get(self.key)
                .is_some_and(|f| Arc::ptr_eq(f, &self.flight))
            {
                st.in_flight.remove(self.key);
            }
        }
        self.flight.done.notify_waiters();
    }
}

impl State {
    fn remove(&mut self, key: &Key) -> Option<Entry> {
        let e = self.map.remove(key)?;
        self.by_expiry.remove(&(e.expires, e.seq));
        self.by_age.remove(&e.seq);
        Some(e)
    }

    /// Evicts one entry: an expired one if any, else the oldest. Returns
    /// whether a live entry was evicted, or `None` when there was nothing to
    /// evict.
    fn evict_one(&mut self, now: Instant) -> Option<bool> {
        if let Some(entry) = self.by_expiry.first_entry()
            && entry.key().0 <= now
        {
            let ((_, seq), key) = entry.remove_entry();
            self.by_age.remove(&seq);
            self.map.remove(&key);
            return Some(false);
        }
        let (_, key) = self.by_age.pop_first()?;
        if let Some(e) = self.map.remove(&key) {
            self.by_expiry.remove(&(e.expires, e.seq));
        }
        Some(true)
    }
}

/// A [`Resolver`] that caches another one's answers (see the
/// [module docs](self)).
pub struct CachingResolver<R> {
    inner: R,
    config: CacheConfig,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
    hits: AtomicU64,
    misses: AtomicU64,
    evictions: AtomicU64,
    coalesced: AtomicU64,
}

impl<R: std::fmt::Debug> std::fmt::Debug for CachingResolver<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachingResolver")
            .field("inner", &self.inner)
            .field("config", &self.config)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl<R> CachingResolver<R> {
    /// A cache with the default [`CacheConfig`].
    pub fn new(inner: R) -> Self {
        Self::with_config(inner, CacheConfig::default())
    }

    /// A cache with this configuration.
    pub fn with_config(inner: R, config: CacheConfig) -> Self {
        Self::with_clock(inner, config, Arc::new(SystemClock))
    }

    /// A cache reading the time from `clock` (for tests).
    pub fn with_clock(inner: R, config: CacheConfig, clock: Arc<dyn Clock>) -> Self {
        CachingResolver {
            inner,
            config,
            clock,
            state: Mutex::new(State::default()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
            coalesced: AtomicU64::new(0),
        }
    }

    /// The wrapped resolver.
    pub fn inner(&self) -> &R {
        &self.inner
    }

    /// The configuration.
    pub fn config(&self) -> &CacheConfig {
        &self.config
    }

    /// Hit, miss and eviction counters and the number of entries.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
            entries: self.len(),
            coalesced: self.coalesced.load(Ordering::Relaxed),
        }
    }

    /// Number of stored entries (expired ones included until dropped).
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// True when nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every entry (the counters are kept; lookups in flight finish
    /// normally).
    pub fn clear(&self) {
        let mut st = self.lock();
        let in_flight = std::mem::take(&mut st.in_flight);
        *st = State {
            in_flight,
            ..State::default()
        };
    }

    /// Drops expired entries now (they are otherwise dropped lazily).
    pub fn purge_expired(&self) {
        let now = self.clock.now();
        let mut st = self.lock();
        while let Some((&(expires, _), key)) = st.by_expiry.first_key_value() {
            if expires > now {
                break;
            }
            let key = key.clone();
            st.remove(&key);
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the maps inconsistent
        // in a way that matters for a cache; keep going.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached answer for `key`, if any and not expired (an expired
    /// entry is dropped), looked up in the already locked `st`.
    fn get<T: Cacheable>(&self, st: &mut State, key: &Key) -> Option<DnsResult<T>> {
        let now = self.clock.now();
        let entry = st.map.get(key)?;
        if entry.expires <= now {
            st.remove(key);
            return None;
        }
        let remaining = entry.expires.saturating_duration_since(now).as_secs();
        let ttl = u32::try_from(remaining).unwrap_or(u32::MAX);
        match &entry.value {
            Cached::NxDomain => Some(Err(DnsError::NxDomain)),
            Cached::NoData => Some(Err(DnsError::NoData)),
            v => T::extract(v).map(|records| Ok(Answer { records, ttl })),
        }
    }

    fn store<T: Cacheable>(&self, key: Key, result: &DnsResult<T>) {
        let mut st = self.lock();
        let evicted = self.store_in(&mut st, key, result);
        drop(st);
        if evicted > 0 {
            self.evictions.fetch_add(evicted, Ordering::Relaxed);
        }
    }

    /// Stores `result` in the already locked `st`; returns the number of
    /// live entries evicted.
    fn store_in<T: Cacheable>(&self, st: &mut State, key: Key, result: &DnsResult<T>) -> u64 {
        if self.config.max_entries == 0 {
            return 0;
        }
        let (value, lifetime) = match result {
            Ok(answer) => {
                let max = self.config.max_ttl;
                let lifetime = answer.ttl.max(self.config.min_ttl.min(max)).min(max);
                (T::wrap(answer.records.clone()), lifetime)
            }
            Err(DnsError::NxDomain) => (Cached::NxDomain, self.negative_ttl()),
            Err(DnsError::NoData) => (Cached::NoData, self.negative_ttl()),
            Err(_) => return 0,
        };
        if lifetime == 0 {
            return 0;
        }
        let now = self.clock.now();
        let Some(expires) = now.checked_add(Duration::from_secs(u64::from(lifetime))) else {
            return 0;
        };
        st.remove(&key);
        let mut evicted = 0;
        // Each round removes an index entry, so this ends even if the maps
        // were ever inconsistent.
        while st.map.len() >= self.config.max_entries {
            match st.evict_one(now) {
                Some(true) => evicted += 1,
                Some(false) => {}
                None => break,
            }
        }
        let seq = st.next_seq;
        st.next_seq += 1;
        st.by_expiry.insert((expires, seq), key.clone());
        st.by_age.insert(seq, key.clone());
        st.map.insert(
            key,
            Entry {
                value,
                expires,
                seq,
            },
        );
        evicted
    }

    fn negative_ttl(&self) -> u32 {
        self.config.negative_ttl.min(MAX_NEGATIVE_TTL)
    }

    /// The fast path of [`CachingResolver::cached`] ([`Resolver::txt_now`]
    /// and siblings): a fresh cached answer (counted as a hit), an invalid
    /// name, or else what the inner resolver answers at once when no
    /// identical lookup is in flight (stored as the asynchronous path
    /// would, counted as a miss); `None` (nothing counted, stored or sent)
    /// otherwise. The inner resolver's synchronous answer is taken with
    /// the cache's lock held: it must not call back into this cache.
    fn cached_now<T: Cacheable>(
        &self,
        rtype: RecordType,
        name: &str,
        inner: impl FnOnce() -> Option<DnsResult<T>>,
    ) -> Option<DnsResult<T>> {
        if let Err(e) = check_name(name) {
            return Some(Err(DnsError::InvalidName(e)));
        }
        let key = (rtype, normalize_name(name));
        // One lock for the cache lookup, the in-flight check, the inner
        // resolver's synchronous answer and its storing, so no identical
        // lookup can start a flight of its own in between.
        let mut st = self.lock();
        if let Some(hit) = self.get(&mut st, &key) {
            drop(st);
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Some(hit);
        }
        if st.in_flight.contains_key(&key) {
            // The asynchronous path waits for that flight.
            return None;
        }
        let result = inner()?;
        let evicted = self.store_in(&mut st, key, &result);
        drop(st);
        self.misses.fetch_add(1, Ordering::Relaxed);
        if evicted > 0 {
            self.evictions.fetch_add(evicted, Ordering::Relaxed);
        }
        Some(result)
    }

    async fn cached<T, Fut>(&self, rtype: RecordType, name: &str, fetch: Fut) -> DnsResult<T>
    where
        T: Cacheable,
        Fut: Future<Output = DnsResult<T>>,
    {
        if let Err(e) = check_name(name) {
            return Err(DnsError::InvalidName(e));
        }
        let key = (rtype, normalize_name(name));
        // Until this lookup leads a flight of its own: answer from the cache
        // or from a concurrent identical lookup. Each round either returns
        // or waits for a flight that then ended, and a flight ends only when
        // its leader answers or is dropped, so this cannot spin.
        let flight = loop {
            let (leader, done) = {
                // One lock for the cache lookup and the in-flight check, so
                // a lookup cannot miss an answer stored in between.
                let mut st = self.lock();
                if let Some(hit) = self.get(&mut st, &key) {
                    drop(st);
                    self.hits.fetch_add(1, Ordering::Relaxed);
                    return hit;
                }
                let Some(leader) = st.in_flight.get(&key).cloned() else {
                    let flight = Arc::new(Flight::default());
                    st.in_flight.insert(key.clone(), flight.clone());
                    break flight;
                };
                // Registered while the state lock is held: the leader's
                // guard takes that lock before waking waiters, so the
                // wake-up cannot be missed.
                let mut done = Box::pin(leader.done.clone().notified_owned());
                done.as_mut().enable();
                (leader, done)
            };
            done.await;
            let answer = leader
                .answer
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            match answer {
                Some(Ok((value, ttl))) => {
                    self.coalesced.fetch_add(1, Ordering::Relaxed);
                    return match value {
                        Cached::NxDomain => Err(DnsError::NxDomain),
                        Cached::NoData => Err(DnsError::NoData),
                        v => T::extract(&v)
                            .map(|records| Answer { records, ttl })
                            .ok_or(DnsError::Other("cached answer of another type".into())),
                    };
                }
                Some(Err(e)) => {
                    self.coalesced.fetch_add(1, Ordering::Relaxed);
                    return Err(e);
                }
                // The leader was dropped unanswered: try again.
                None => continue,
            }
        };
        let _guard = FlightGuard {
            state: &self.state,
            key: &key,
            flight: flight.clone(),
        };
        self.misses.fetch_add(1, Ordering::Relaxed);
        let result = fetch.await;
        *flight.answer.lock().unwrap_or_else(|e| e.into_inner()) = Some(match &result {
            Ok(a) => Ok((T::wrap(a.records.clone()), a.ttl)),
            Err(DnsError::NxDomain) => Ok((Cached::NxDomain, 0)),
            Err(DnsError::NoData) => Ok((Cached::NoData, 0)),
            Err(e) => Err(e.clone()),
        });
        self.store(key.clone(), &result);
        result
    }
}

// The inner futures are created lazily: an `async` block does not run (and
// so does not call the inner resolver) until polled after a miss.
impl<R: Resolver> Resolver for CachingResolver<R> {
    fn txt_now(&self, name: &str) -> Option<DnsResult<Txt>> {
        self.cached_now(RecordType::Txt, name, || self.inner.txt_now(name))
    }
    fn a_now(&self, name: &str) -> Option<DnsResult<Ipv4Addr>> {
        self.cached_now(RecordType::A, name, || self.inner.a_now(name))
    }
    fn aaaa_now(&self, name: &str) -> Option<DnsResult<Ipv6Addr>> {
        self.cached_now(RecordType::Aaaa, name, || self.inner.aaaa_now(name))
    }
    fn mx_now(&self, name: &str) -> Option<DnsResult<Mx>> {
        self.cached_now(RecordType::Mx, name, || self.inner.mx_now(name))
    }
    fn ptr_now(&self, ip: IpAddr) -> Option<DnsResult<String>> {
        let owner = reverse_name(ip);
        self.cached_now(RecordType::Ptr, &owner, || self.inner.ptr_now(ip))
    }
    async fn txt(&self, name: &str) -> DnsResult<Txt> {
        self.cached(RecordType::Txt, name, async { self.inner.txt(name).await })
            .await
    }
    async fn a(&self, name: &str) -> DnsResult<Ipv4Addr> {
        self.cached(RecordType::A, name, async { self.inner.a(name).await })
            .await
    }
    async fn aaaa(&self, name: &str) -> DnsResult<Ipv6Addr> {
        self.cached(RecordType::Aaaa, name, async {
            self.inner.aaaa(name).await
        })
        .await
    }
    async fn mx(&self, name: &str) -> DnsResult<Mx> {
        self.cached(RecordType::Mx, name, async { self.inner.mx(name).await })
            .await
    }
    async fn ptr(&self, ip: IpAddr) -> DnsResult<String> {
        let owner = reverse_name(ip);
        self.cached(RecordType::Ptr, &owner, async { self.inner.ptr(ip).await })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::zone::{Fault, ZoneResolver};

    fn block<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn send_sync() {
        fn assert<T: Send + Sync>() {}
        assert::<CachingResolver<ZoneResolver>>();
    }

    #[test]
    fn ttl_clamps() {
        let mut z = ZoneResolver::new();
        z.add_a("zero.example", Ipv4Addr::LOCALHOST)
            .set_ttl("zero.example", 0)
            .add_a("long.example", Ipv4Addr::LOCALHOST)
            .set_ttl("long.example", 1_000_000);
        let clock = Arc::new(ManualClock::new());
        let config = CacheConfig {
            min_ttl: 10,
            max_ttl: 100,
            ..CacheConfig::default()
        };
        let c = CachingResolver::with_clock(z, config, clock.clone());
        // The miss answers with the server's TTL, a hit with the remaining
        // (clamped) lifetime.
        assert_eq!(block(c.a("zero.example")).unwrap().ttl, 0);
        assert_eq!(block(c.a("zero.example")).unwrap().ttl, 10);
        assert_eq!(block(c.a("long.example")).unwrap().ttl, 1_000_000);
        assert_eq!(block(c.a("long.example")).unwrap().ttl, 100);
        clock.advance(Duration::from_secs(11));
        block(c.a("zero.example")).unwrap();
        assert_eq!(c.inner().query_count(), 3);
    }

    #[test]
    fn ttl_zero_not_cached_by_default() {
        let mut z = ZoneResolver::new();
        z.add_a("zero.example", Ipv4Addr::LOCALHOST)
            .set_ttl("zero.example", 0);
        let c = CachingResolver::new(z);
        block(c.a("zero.example")).unwrap();
        block(c.a("zero.example")).unwrap();
        assert_eq!(c.inner().query_count(), 2);
        assert!(c.is_empty());
    }

    #[test]
    fn disabled_cache() {
        let mut z = ZoneResolver::new();
        z.add_a("a.example", Ipv4Addr::LOCALHOST);
        let c = CachingResolver::with_config(
            z,
            CacheConfig {
                max_entries: 0,
                ..CacheConfig::default()
            },
        );
        block(c.a("a.example")).unwrap();
        block(c.a("a.example")).unwrap();
        assert_eq!(c.inner().query_count(), 2);
    }

    #[test]
    fn hang_is_not_cached_and_lock_not_held() {
        let mut z = ZoneResolver::new();
        z.set_fault("hang.example", RecordType::A, Fault::Hang)
            .add_a("ok.example", Ipv4Addr::LOCALHOST);
        let c = CachingResolver::new(z);
        block(async {
            let hung = tokio::time::timeout(Duration::from_millis(20), c.a("hang.example"));
            // While a lookup is pending, others proceed.
            let (h, ok) = tokio::join!(hung, c.a("ok.example"));
            assert!(h.is_err());
            assert!(ok.is_ok());
        });
        assert_eq!(c.len(), 1);
    }
}
