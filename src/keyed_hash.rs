//! The hash of every map keyed by names from the network (the caches of
//! parsed SPF records, decoded DKIM keys and DNS answers).
//!
//! Keys such as DNS names come from remote data, so the hash must not be
//! predictable from outside (hash flooding). [`KeyedState`] is foldhash,
//! which costs a fraction of `std`'s SipHash-1-3 per short key, keyed with
//! secret random seeds drawn from the operating system through `std`'s
//! `RandomState` — not foldhash's own default, which seeds from the address
//! space layout. The maps that use it are also bounded, which bounds what
//! any collision flood could cost.

use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;

/// A [`BuildHasher`] of foldhash with a process-wide secret seed and a
/// per-map secret seed. `Default` makes a fresh one.
#[derive(Clone, Debug)]
pub(crate) struct KeyedState(foldhash::fast::SeedableRandomState);

/// 64 secret random bits (a `std` `RandomState`, whose SipHash keys come
/// from the operating system, hashing a constant).
fn random_u64() -> u64 {
    let mut h = std::hash::RandomState::new().build_hasher();
    h.write_u64(0x5eed);
    h.finish()
}

impl Default for KeyedState {
    fn default() -> Self {
        static SHARED: OnceLock<foldhash::SharedSeed> = OnceLock::new();
        let shared = SHARED.get_or_init(|| foldhash::SharedSeed::from_u64(random_u64()));
        KeyedState(foldhash::fast::SeedableRandomState::with_seed(
            random_u64(),
            shared,
        ))
    }
}

impl BuildHasher for KeyedState {
    type Hasher = foldhash::fast::FoldHasher<'static>;

    #[inline]
    fn build_hasher(&self) -> Self::Hasher {
        self.0.build_hasher()
    }
}

#[cfg(test)]
mod tests {
    use super::KeyedState;
    use std::hash::BuildHasher;

    /// Two states hash the same key differently (per-map seeds), and one
    /// state hashes it the same way every time.
    #[test]
    fn seeds_differ_per_map_and_are_stable_per_map() {
        let (a, b) = (KeyedState::default(), KeyedState::default());
        assert_eq!(a.hash_one("example.com"), a.hash_one("example.com"));
        assert_ne!(a.hash_one("example.com"), b.hash_one("example.com"));
        let mut m: std::collections::HashMap<String, u32, KeyedState> =
            std::collections::HashMap::default();
        m.insert("Example.com".into(), 1);
        assert_eq!(m.get("Example.com"), Some(&1));
        assert_eq!(m.get("example.com"), None);
    }
}
