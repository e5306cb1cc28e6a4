//! A cache of parsed SPF records ([`SpfRecordCache`]).
//!
//! The evaluator turns a domain into a parsed record in one place
//! (`fetch_record`): TXT lookup, selection of the one `v=spf1` record
//! (RFC 7208 §4.5) and parse. With a cache in
//! [`SpfConfig::record_cache`](super::SpfConfig::record_cache), the outcome
//! of that step is kept for the TXT answer's TTL, so a warm check neither
//! queries the record again nor parses it.
//!
//! What is cached is the outcome of a *successful* TXT answer: the parsed
//! record, "no SPF record here", or the permanent error (two `v=spf1`
//! records, a syntax error). DNS errors (NXDOMAIN, NODATA, SERVFAIL,
//! timeouts) are never cached: the resolver seam carries no TTL for them
//! (wrap the resolver in [`CachingResolver`](crate::dns::cache::CachingResolver)
//! to cache negative answers).
//!
//! * Keys are domain names compared ASCII case-insensitively, without the
//!   trailing dot.
//! * An entry lives for the TTL of the TXT answer, capped at
//!   [`SpfRecordCache::with_max_ttl`] (default one day); TTL 0 is not cached.
//! * The number of entries is bounded; when full, expired entries are
//!   dropped and, if still full, the oldest entry is evicted.
//! * `Send + Sync`; share it between checks and threads with `Arc`. The lock
//!   is held only for a map operation, never across an `.await`.
//!
//! ```
//! use std::sync::Arc;
//! use sender_auth::dns::zone::ZoneResolver;
//! use sender_auth::spf::{check_host, SpfConfig, SpfRecordCache, SpfResult};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let mut zone = ZoneResolver::new();
//! zone.add_txt("example.com", ["v=spf1 ip4:192.0.2.0/24 -all"]);
//! let config = SpfConfig {
//!     record_cache: Some(Arc::new(SpfRecordCache::new(1000))),
//!     ..SpfConfig::default()
//! };
//! let ip = "192.0.2.1".parse().unwrap();
//! let cold = check_host(&zone, ip, "example.com", "a@example.com", "h.example", &config).await;
//! let warm = check_host(&zone, ip, "example.com", "a@example.com", "h.example", &config).await;
//! assert_eq!((cold.result, warm.result), (SpfResult::Pass, SpfResult::Pass));
//! assert_eq!(zone.query_count(), 1); // the warm check sent no query
//! assert_eq!(config.record_cache.as_ref().unwrap().stats().hits, 1);
//! # });
//! ```

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::record::{ParseError, Record};
use crate::dns::cache::{Clock, SystemClock};

/// Default bound on the number of cached records.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// Default cap on how long a record is kept, whatever its TTL (one day).
pub const DEFAULT_MAX_TTL: Duration = Duration::from_secs(86_400);

/// What a successful TXT answer at a domain means for SPF.
#[derive(Debug, Clone)]
pub(crate) enum RecordOutcome {
    /// Exactly one `v=spf1` record, parsed.
    Record(Arc<Record>),
    /// No `v=spf1` record among the TXT records (result `none`).
    NoRecord,
    /// More than one `v=spf1` record (permerror, §4.5).
    Multiple(usize),
    /// The one `v=spf1` record does not parse (permerror).
    Invalid(ParseError),
}

#[derive(Debug)]
struct Entry {
    value: RecordOutcome,
    expires: Instant,
    seq: u64,
}

#[derive(Debug, Default)]
struct State {
    map: HashMap<String, Entry>,
    by_age: BTreeMap<u64, String>,
    next_seq: u64,
}

/// Counters of an [`SpfRecordCache`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SpfRecordCacheStats {
    /// Lookups answered from the cache.
    pub hits: u64,
    /// Lookups not found (or expired).
    pub misses: u64,
    /// Live entries evicted to make room.
    pub evictions: u64,
    /// Entries stored now (expired ones included until dropped).
    pub entries: usize,
}

/// A bounded, TTL-honouring, shareable cache of parsed SPF records (see the
/// [module docs](self)).
///
/// Equality (needed because [`SpfConfig`](super::SpfConfig) is `Eq`) is
/// identity: two caches are equal only if they are the same object.
pub struct SpfRecordCache {
    capacity: usize,
    max_ttl: Duration,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
    hits: AtomicU64,
    misses: AtomicU64,
    evictions: AtomicU64,
}

impl fmt::Debug for SpfRecordCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpfRecordCache")
            .field("capacity", &self.capacity)
            .field("max_ttl", &self.max_ttl)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl PartialEq for SpfRecordCache {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

impl Eq for SpfRecordCache {}

impl Default for SpfRecordCache {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

impl SpfRecordCache {
    /// A cache holding at most `capacity` records (at least 1).
    pub fn new(capacity: usize) -> Self {
        Self::with_clock(capacity, Arc::new(SystemClock))
    }

    /// A cache reading the time from `clock` (for tests).
    pub fn with_clock(capacity: usize, clock: Arc<dyn Clock>) -> Self {
        SpfRecordCache {
            capacity: capacity.max(1),
            max_ttl: DEFAULT_MAX_TTL,
            clock,
            state: Mutex::new(State::default()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
        }
    }

    /// Caps how long an entry is kept, whatever the record's TTL.
    pub fn with_max_ttl(mut self, max_ttl: Duration) -> Self {
        self.max_ttl = max_ttl;
        self
    }

    /// The bound on the number of entries.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Hit, miss and eviction counters and the number of entries.
    pub fn stats(&self) -> SpfRecordCacheStats {
        SpfRecordCacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
            entries: self.len(),
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

    /// Drops every entry (the counters are kept).
    pub fn clear(&self) {
        *self.lock() = State::default();
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cache's current time (one reading serves a whole check).
    pub(crate) fn now(&self) -> Instant {
        self.clock.now()
    }

    /// The cached outcome for `domain`, if present and not expired.
    pub(crate) fn get(&self, domain: &str) -> Option<RecordOutcome> {
        self.get_at(domain, self.clock.now())
    }

    /// [`get`](Self::get) at time `now`.
    pub(crate) fn get_at(&self, domain: &str, now: Instant) -> Option<RecordOutcome> {
        let key = domain.strip_suffix('.').unwrap_or(domain);
        let lowered;
        let key = if key.bytes().any(|b| b.is_ascii_uppercase()) {
            lowered = key.to_ascii_lowercase();
            lowered.as_str()
        } else {
            key
        };
        let mut st = self.lock();
        let found = match st.map.get(key) {
            Some(e) if e.expires > now => Some(e.value.clone()),
            Some(_) => {
                if let Some(e) = st.map.remove(key) {
                    st.by_age.remove(&e.seq);
                }
                None
            }
            None => None,
        };
        drop(st);
        match &found {
            Some(_) => self.hits.fetch_add(1, Ordering::Relaxed),
            None => self.misses.fetch_add(1, Ordering::Relaxed),
        };
        found
    }

    /// Stores the outcome of a TXT answer with TTL `ttl` seconds.
    pub(crate) fn insert(&self, domain: &str, value: RecordOutcome, ttl: u32) {
        let life = Duration::from_secs(u64::from(ttl)).min(self.max_ttl);
        if life.is_zero() {
            return;
        }
        let now = self.clock.now();
        let Some(expires) = now.checked_add(life) else {
            return;
        };
        let key = domain
            .strip_suffix('.')
            .unwrap_or(domain)
            .to_ascii_lowercase();
        let mut st = self.lock();
        if let Some(old) = st.map.remove(&key) {
            st.by_age.remove(&old.seq);
        }
        let mut evicted = 0;
        if st.map.len() >= self.capacity {
            st.map.retain(|_, e| e.expires > now);
            let State { map, by_age, .. } = &mut *st;
            by_age.retain(|_, k| map.contains_key(k));
            while st.map.len() >= self.capacity {
                let Some((_, oldest)) = st.by_age.pop_first() else {
                    break;
                };
                if st.map.remove(&oldest).is_some() {
                    evicted += 1;
                }
            }
        }
        let seq = st.next_seq;
        st.next_seq += 1;
        st.by_age.insert(seq, key.clone());
        st.map.insert(
            key,
            Entry {
                value,
                expires,
                seq,
            },
        );
        drop(st);
        if evicted > 0 {
            self.evictions.fetch_add(evicted, Ordering::Relaxed);
        }
    }
}
