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
//! * It also keeps *compiled plans*: a domain's
//!   record with every record its `include`s and `redirect`s reach, laid
//!   out once, until the first of those records expires
//!   ([`SpfRecordCache::with_compiled_plans`]; see the
//!   [spf module docs](super)). Their records still count as hits.
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

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::plan::{self, Built, Plan};
use super::record::{ParseError, Record};
use crate::dns::cache::{Clock, SystemClock};
use crate::ttlcache::TtlMap;

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
    /// Checks evaluated from a compiled policy (see
    /// [`SpfRecordCache::with_compiled_plans`]). Each also counts its
    /// records in `hits`, as if it had looked each one up.
    pub plan_hits: u64,
}

/// A bounded, TTL-honouring, shareable cache of parsed SPF records (see the
/// [module docs](self)).
///
/// Equality (needed because [`SpfConfig`](super::SpfConfig) is `Eq`) is
/// identity: two caches are equal only if they are the same object.
pub struct SpfRecordCache {
    map: TtlMap<RecordOutcome>,
    /// Compiled policies by top domain (`None`: the graph cannot be
    /// compiled, until the entry expires).
    plans: TtlMap<Option<Arc<Plan>>>,
    compile: bool,
    plan_hits: AtomicU64,
    /// Records used through plans (counted as hits).
    plan_records: AtomicU64,
}

impl fmt::Debug for SpfRecordCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpfRecordCache")
            .field("capacity", &self.capacity())
            .field("max_ttl", &self.map.max_ttl())
            .field("compiled_plans", &self.compile)
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

/// The cache key: lower-case, without the trailing dot.
fn key(domain: &str) -> std::borrow::Cow<'_, str> {
    let key = domain.strip_suffix('.').unwrap_or(domain);
    if key.bytes().any(|b| b.is_ascii_uppercase()) {
        key.to_ascii_lowercase().into()
    } else {
        key.into()
    }
}

impl SpfRecordCache {
    /// A cache of at most `capacity` entries (at least 1) on the system
    /// clock.
    pub fn new(capacity: usize) -> Self {
        Self::with_clock(capacity, Arc::new(SystemClock))
    }

    /// A cache on the given clock (for tests:
    /// [`ManualClock`](crate::dns::cache::ManualClock)).
    pub fn with_clock(capacity: usize, clock: Arc<dyn Clock>) -> Self {
        SpfRecordCache {
            map: TtlMap::new(capacity, DEFAULT_MAX_TTL, clock.clone()),
            plans: TtlMap::new(capacity, DEFAULT_MAX_TTL, clock),
            compile: true,
            plan_hits: AtomicU64::new(0),
            plan_records: AtomicU64::new(0),
        }
    }

    /// Caps how long an entry is kept, whatever the record's TTL.
    pub fn with_max_ttl(mut self, max_ttl: Duration) -> Self {
        self.map.set_max_ttl(max_ttl);
        self.plans.set_max_ttl(max_ttl);
        self
    }

    /// Whether to keep *compiled policies* (default `true`).
    ///
    /// A check whose domain's records are all cached is evaluated from a
    /// plan (sequentially and with
    /// [`SpfConfig::prefetch`](super::SpfConfig::prefetch)): the domain's record and every record its
    /// `include`s and `redirect`s reach, laid out once as a flat list of
    /// steps, kept (bounded like the records, at most `capacity` plans)
    /// until the first of those records expires. A warm check then makes
    /// one cache lookup instead of one per record, and only its own
    /// address lookups. Results, counters and queries are exactly those of
    /// ordinary evaluation: a graph a plan cannot represent (macro targets
    /// of `include`/`redirect`/`a`/`mx`/`exists`, `ptr`, a target without
    /// a usable record, over 24 records or 256 steps) is evaluated the ordinary way,
    /// and so is any check the plan cannot finish with answers at hand
    /// (a lookup that has to wait, any DNS error, a limit reached), which
    /// the ordinary evaluator then continues from the same answers.
    pub fn with_compiled_plans(mut self, on: bool) -> Self {
        self.compile = on;
        self
    }

    /// The bound on the number of entries.
    pub fn capacity(&self) -> usize {
        self.map.capacity()
    }

    /// The counters so far.
    pub fn stats(&self) -> SpfRecordCacheStats {
        let c = self.map.counters();
        SpfRecordCacheStats {
            hits: c.hits + self.plan_records.load(Ordering::Relaxed),
            misses: c.misses,
            evictions: c.evictions,
            entries: self.len(),
            plan_hits: self.plan_hits.load(Ordering::Relaxed),
        }
    }

    /// Number of entries (expired ones included until dropped).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every entry (compiled plans included).
    pub fn clear(&self) {
        self.map.clear();
        self.plans.clear();
    }

    pub(crate) fn now(&self) -> Instant {
        self.map.now()
    }

    pub(crate) fn get(&self, domain: &str) -> Option<RecordOutcome> {
        self.get_at(domain, self.map.now())
    }

    pub(crate) fn get_at(&self, domain: &str, now: Instant) -> Option<RecordOutcome> {
        self.map.get_at(&key(domain), now)
    }

    pub(crate) fn insert(&self, domain: &str, value: RecordOutcome, ttl: u32) {
        self.map.insert(key(domain).into_owned(), value, ttl);
    }

    /// Whether compiled plans are on.
    pub(crate) fn compiles(&self) -> bool {
        self.compile
    }

    /// The compiled policy of `domain` (a usable domain) at `now`: kept, or
    /// built from the cached records when they are all there. `None`: off,
    /// not compilable, or not all cached yet.
    pub(crate) fn plan(&self, domain: &str, now: Instant) -> Option<Arc<Plan>> {
        if !self.compile {
            return None;
        }
        let k = key(domain);
        if let Some(p) = self.plans.get_at(&k, now) {
            return p;
        }
        let (top, expires) = match self.map.peek_at(&k, now)? {
            (RecordOutcome::Record(r), e) => (r, e),
            _ => return None,
        };
        match plan::build(&k, top, expires, |d| self.map.peek_at(&key(d), now)) {
            Built::Plan(p, until) => {
                let p = Arc::new(p);
                self.plans
                    .insert_until(k.into_owned(), Some(p.clone()), now, until);
                Some(p)
            }
            Built::Refused(until) => {
                self.plans.insert_until(k.into_owned(), None, now, until);
                None
            }
            Built::Missing => None,
        }
    }

    /// A check was evaluated from a plan, using `records` records.
    pub(crate) fn note_plan_use(&self, records: u64) {
        self.plan_hits.fetch_add(1, Ordering::Relaxed);
        self.note_plan_records(records);
    }

    /// `records` records were taken from a plan (counted as hits).
    pub(crate) fn note_plan_records(&self, records: u64) {
        self.plan_records.fetch_add(records, Ordering::Relaxed);
    }
}
