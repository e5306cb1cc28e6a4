//! A cache of decoded DKIM public keys.
//!
//! Decoding a key record (tag-list parse, base64, DER, building the RSA or
//! Ed25519 key) costs several microseconds, about as much as a whole
//! verify of a small Ed25519-signed message, so [`KeyCache`] keeps the
//! decoded key together with its key-record flags (`k=`, `h=`, `t=y`,
//! `t=s`), keyed by the key's DNS name `<selector>._domainkey.<domain>`
//! (selector and domain in lower-case A-label form) for the TTL of the DNS
//! answer it came from (capped at [`KeyCache::with_max_ttl`], one day by
//! default).
//!
//! * Only keys that decoded successfully are cached; DNS failures, missing,
//!   revoked and malformed keys are not (wrap the resolver in a
//!   [`CachingResolver`](crate::dns::cache::CachingResolver) to cache DNS
//!   answers, negative ones included).
//! * The key-size policy ([`DkimConfig::min_rsa_bits`],
//!   [`DkimConfig::max_rsa_bits`]) is checked again on every use, so one
//!   cache may be shared by verifiers with different limits.
//! * It is bounded: at [`KeyCache::capacity`] entries, expired entries are
//!   dropped, then the oldest entry.
//! * It is `Send + Sync`; share it as an `Arc<KeyCache>` through
//!   [`DkimConfig::key_cache`].
//!
//! A cache hit skips the DNS query too.
//!
//! [`DkimConfig::min_rsa_bits`]: super::DkimConfig::min_rsa_bits
//! [`DkimConfig::max_rsa_bits`]: super::DkimConfig::max_rsa_bits
//! [`DkimConfig::key_cache`]: super::DkimConfig::key_cache

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::crypto::{HashAlgorithm, PublicKey};
use super::key::KeyRecord;
use super::signature::KeyType;
use crate::dns::cache::{Clock, SystemClock};
use crate::ttlcache::TtlMap;

/// Default number of entries.
pub const DEFAULT_CAPACITY: usize = 4096;
/// Default upper bound on how long a key is kept, in seconds (one day).
pub const DEFAULT_MAX_TTL: u32 = 86_400;

/// A decoded key with its key-record flags.
#[derive(Debug)]
pub(crate) struct CachedKey {
    pub(crate) key_type: KeyType,
    pub(crate) hashes: Option<Vec<HashAlgorithm>>,
    pub(crate) testing: bool,
    pub(crate) strict_identity: bool,
    pub(crate) public: PublicKey,
    /// RSA modulus bits, for re-checking the size policy on every use.
    pub(crate) rsa_bits: Option<usize>,
}

impl CachedKey {
    pub(crate) fn new(record: &KeyRecord, public: PublicKey) -> Self {
        CachedKey {
            key_type: record.key_type,
            hashes: record.hashes.clone(),
            testing: record.testing,
            strict_identity: record.strict_identity,
            rsa_bits: public.rsa_bits(),
            public,
        }
    }
}

/// Counters of a [`KeyCache`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyCacheStats {
    /// Lookups answered from the cache.
    pub hits: u64,
    /// Lookups not in the cache (or expired).
    pub misses: u64,
    /// Keys decoded and inserted.
    pub inserts: u64,
    /// Entries dropped to stay within capacity (expired ones not counted).
    pub evictions: u64,
}

/// A bounded, TTL-honouring, thread-safe cache of decoded DKIM public keys.
/// See the [module documentation](self).
pub struct KeyCache {
    map: TtlMap<Arc<CachedKey>>,
}

impl fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyCache")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .field("max_ttl", &self.map.max_ttl())
            .finish()
    }
}

impl Default for KeyCache {
    fn default() -> Self {
        KeyCache::new(DEFAULT_CAPACITY)
    }
}

impl KeyCache {
    /// A cache holding at most `capacity` keys (at least 1), on the system
    /// clock.
    pub fn new(capacity: usize) -> Self {
        KeyCache::with_clock(capacity, Arc::new(SystemClock))
    }

    /// A cache on the given clock (for tests: [`crate::dns::cache::ManualClock`]).
    pub fn with_clock(capacity: usize, clock: Arc<dyn Clock>) -> Self {
        KeyCache {
            map: TtlMap::new(
                capacity,
                Duration::from_secs(u64::from(DEFAULT_MAX_TTL)),
                clock,
            ),
        }
    }

    /// Keys are kept for at most `seconds`, whatever their DNS TTL.
    pub fn with_max_ttl(mut self, seconds: u32) -> Self {
        self.map
            .set_max_ttl(Duration::from_secs(u64::from(seconds)));
        self
    }

    /// The maximum number of entries.
    pub fn capacity(&self) -> usize {
        self.map.capacity()
    }

    /// Number of entries (expired ones included until they are purged).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every entry.
    pub fn clear(&self) {
        self.map.clear();
    }

    /// The counters so far.
    pub fn stats(&self) -> KeyCacheStats {
        let c = self.map.counters();
        KeyCacheStats {
            hits: c.hits,
            misses: c.misses,
            inserts: c.inserts,
            evictions: c.evictions,
        }
    }

    /// The live entry for `name` (`<selector>._domainkey.<domain>`).
    pub(crate) fn get(&self, name: &str) -> Option<Arc<CachedKey>> {
        self.map.get_at(name, self.map.now())
    }

    /// Stores `key` for `ttl` seconds (nothing is stored for a TTL of 0).
    pub(crate) fn insert(&self, name: &str, key: Arc<CachedKey>, ttl: u32) {
        self.map.insert(name.to_string(), key, ttl);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::cache::ManualClock;

    fn key() -> Arc<CachedKey> {
        let rec =
            KeyRecord::parse(b"k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=").unwrap();
        let public = super::super::crypto::ed25519_public_key(&rec.public_key).unwrap();
        Arc::new(CachedKey::new(&rec, public))
    }

    #[test]
    fn ttl_and_capacity() {
        let clock = Arc::new(ManualClock::new());
        let cache = KeyCache::with_clock(2, clock.clone());
        cache.insert("a", key(), 10);
        cache.insert("zero", key(), 0);
        assert!(cache.get("zero").is_none());
        assert!(cache.get("a").is_some());
        clock.advance(Duration::from_secs(11));
        assert!(cache.get("a").is_none());
        cache.insert("a", key(), 10);
        cache.insert("b", key(), 20);
        cache.insert("c", key(), 30);
        assert_eq!(cache.len(), 2);
        assert!(cache.get("a").is_none(), "the oldest entry is evicted");
        assert!(cache.get("b").is_some() && cache.get("c").is_some());
        let s = cache.stats();
        assert_eq!(s.evictions, 1);
        assert_eq!(s.inserts, 4);
    }

    #[test]
    fn shareable() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<KeyCache>();
    }
}
