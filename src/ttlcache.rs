//! The one bounded, TTL-honouring, thread-safe map behind the caches of
//! parsed records ([`crate::spf::SpfRecordCache`]) and decoded keys
//! ([`crate::dkim::KeyCache`]).
//!
//! * An entry lives for its TTL capped at `max_ttl`; a TTL of 0 is not
//!   stored.
//! * At most `capacity` entries: when full, expired entries are dropped and,
//!   if still full, the oldest inserted entry is evicted.
//! * The lock is held only for one map operation, never across an `.await`;
//!   a poisoned lock is recovered (every operation leaves the map
//!   consistent).
//! * Keys are names taken from remote DNS data: the map hashes with
//!   [`KeyedState`] (foldhash with secret random seeds; a fraction of
//!   SipHash-1-3's cost per lookup, and a warm SPF check does six).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::dns::cache::Clock;
use crate::keyed_hash::KeyedState;

/// Counters of a [`TtlMap`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counters {
    pub hits: u64,
    pub misses: u64,
    pub inserts: u64,
    pub evictions: u64,
}

struct Entry<V> {
    value: V,
    expires: Instant,
    seq: u64,
}

struct State<V> {
    map: HashMap<String, Entry<V>, KeyedState>,
    by_age: BTreeMap<u64, String>,
    next_seq: u64,
    counters: Counters,
}

impl<V> Default for State<V> {
    fn default() -> Self {
        State {
            map: HashMap::default(),
            by_age: BTreeMap::new(),
            next_seq: 0,
            counters: Counters::default(),
        }
    }
}

pub(crate) struct TtlMap<V> {
    capacity: usize,
    max_ttl: Duration,
    clock: Arc<dyn Clock>,
    state: Mutex<State<V>>,
}

impl<V: Clone> TtlMap<V> {
    /// A map of at most `capacity` (at least 1) entries on `clock`.
    pub fn new(capacity: usize, max_ttl: Duration, clock: Arc<dyn Clock>) -> Self {
        TtlMap {
            capacity: capacity.max(1),
            max_ttl,
            clock,
            state: Mutex::new(State::default()),
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn max_ttl(&self) -> Duration {
        self.max_ttl
    }

    pub fn set_max_ttl(&mut self, max_ttl: Duration) {
        self.max_ttl = max_ttl;
    }

    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    fn lock(&self) -> MutexGuard<'_, State<V>> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    pub fn clear(&self) {
        let mut st = self.lock();
        st.map.clear();
        st.by_age.clear();
    }

    pub fn counters(&self) -> Counters {
        self.lock().counters
    }

    /// The live value for `key` at `now`; an expired entry is removed.
    pub fn get_at(&self, key: &str, now: Instant) -> Option<V> {
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
        match found {
            Some(_) => st.counters.hits += 1,
            None => st.counters.misses += 1,
        }
        found
    }

    /// The live value for `key` at `now` with its expiry, without counting
    /// a hit or a miss (for building from entries, not for answering).
    pub fn peek_at(&self, key: &str, now: Instant) -> Option<(V, Instant)> {
        let st = self.lock();
        match st.map.get(key) {
            Some(e) if e.expires > now => Some((e.value.clone(), e.expires)),
            _ => None,
        }
    }

    /// Stores `value` under `key` for `ttl` seconds (capped at `max_ttl`).
    pub fn insert(&self, key: String, value: V, ttl: u32) {
        let now = self.clock.now();
        let life = Duration::from_secs(u64::from(ttl)).min(self.max_ttl);
        if let Some(expires) = now.checked_add(life) {
            self.insert_until(key, value, now, expires);
        }
    }

    /// Stores `value` under `key` until `expires` (capped at `max_ttl`
    /// after `now`); nothing if that is not after `now`.
    pub fn insert_until(&self, key: String, value: V, now: Instant, expires: Instant) {
        let expires = match now.checked_add(self.max_ttl) {
            Some(cap) => expires.min(cap),
            None => expires,
        };
        if expires <= now {
            return;
        }
        let mut st = self.lock();
        if let Some(old) = st.map.remove(&key) {
            st.by_age.remove(&old.seq);
        }
        if st.map.len() >= self.capacity {
            let State { map, by_age, .. } = &mut *st;
            map.retain(|_, e| e.expires > now);
            by_age.retain(|_, k| map.contains_key(k));
            while st.map.len() >= self.capacity {
                let Some((_, oldest)) = st.by_age.pop_first() else {
                    break;
                };
                if st.map.remove(&oldest).is_some() {
                    st.counters.evictions += 1;
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
        st.counters.inserts += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::cache::ManualClock;

    #[test]
    fn ttl_capacity_and_order() {
        let clock = Arc::new(ManualClock::new());
        let m: TtlMap<u32> = TtlMap::new(2, Duration::from_secs(100), clock.clone());
        m.insert("zero".into(), 0, 0);
        assert_eq!(m.get_at("zero", m.now()), None);
        m.insert("a".into(), 1, 10);
        m.insert("b".into(), 2, 1000); // capped at 100 s
        m.insert("c".into(), 3, 50); // evicts the oldest: a
        assert_eq!(m.len(), 2);
        assert_eq!(m.get_at("a", m.now()), None);
        assert_eq!(m.get_at("b", m.now()), Some(2));
        clock.advance(Duration::from_secs(60));
        assert_eq!(m.get_at("c", m.now()), None);
        assert_eq!(m.get_at("b", m.now()), Some(2));
        clock.advance(Duration::from_secs(41));
        assert_eq!(m.get_at("b", m.now()), None);
        let c = m.counters();
        assert_eq!((c.hits, c.evictions, c.inserts), (2, 1, 3));
    }
}
