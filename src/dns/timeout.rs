//! Deadlines around any [`Resolver`]: a lookup that has not answered in
//! time gives [`DnsError::Timeout`], which every protocol maps to
//! `temperror`. The [`Authenticator`](crate::authenticator::Authenticator)
//! wraps its resolver in one so that a server that never answers cannot
//! stall a check, and so that the whole transaction ends by one overall
//! deadline ([`TimeoutResolver::with_deadline`]).

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use tokio::time::Instant;

use super::{DnsError, DnsResult, Mx, Resolver, Txt};

/// Wraps `R`, bounding every lookup by a per-lookup `timeout` and,
/// optionally, by an overall deadline (needs a Tokio runtime with the time
/// driver enabled).
#[derive(Debug, Clone)]
pub struct TimeoutResolver<R> {
    inner: R,
    timeout: Duration,
    deadline: Option<Instant>,
}

impl<R> TimeoutResolver<R> {
    /// Bounds every lookup of `inner` by `timeout`.
    pub fn new(inner: R, timeout: Duration) -> Self {
        TimeoutResolver {
            inner,
            timeout,
            deadline: None,
        }
    }

    /// Bounds every lookup of `inner` by `timeout` and every lookup
    /// together by `deadline`: a lookup may run until whichever comes
    /// first, and a lookup asked for at or after `deadline` is not sent at
    /// all (it answers [`DnsError::Timeout`] at once). So however many
    /// lookups a caller makes one after another, the last one ends by
    /// `deadline`.
    pub fn with_deadline(inner: R, timeout: Duration, deadline: Instant) -> Self {
        TimeoutResolver {
            inner,
            timeout,
            deadline: Some(deadline),
        }
    }

    /// The wrapped resolver.
    pub fn inner(&self) -> &R {
        &self.inner
    }

    /// Runs `lookup` (which builds the inner lookup's future) within the
    /// deadlines. `lookup` is not called once the overall deadline has
    /// passed, so no query is sent then.
    fn bounded<T, F>(&self, lookup: impl FnOnce() -> F) -> impl Future<Output = DnsResult<T>>
    where
        F: Future<Output = DnsResult<T>>,
    {
        let now = Instant::now();
        let mut until = now + self.timeout;
        let expired = match self.deadline {
            Some(d) => {
                until = until.min(d);
                now >= d
            }
            None => false,
        };
        let f = if expired { None } else { Some(lookup()) };
        async move {
            let Some(f) = f else {
                return Err(DnsError::Timeout);
            };
            match tokio::time::timeout_at(until, f).await {
                Ok(r) => r,
                Err(_) => Err(DnsError::Timeout),
            }
        }
    }

    /// The synchronous fast path within the deadlines: an answer at hand
    /// takes no time, so it is passed on; past the overall deadline it is
    /// [`DnsError::Timeout`] without asking `inner`, as the async path.
    fn bounded_now<T>(
        &self,
        lookup: impl FnOnce() -> Option<DnsResult<T>>,
    ) -> Option<DnsResult<T>> {
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return Some(Err(DnsError::Timeout));
        }
        lookup()
    }
}

impl<R: Resolver> Resolver for TimeoutResolver<R> {
    fn txt(&self, name: &str) -> impl Future<Output = DnsResult<Txt>> + Send {
        self.bounded(|| self.inner.txt(name))
    }
    fn a(&self, name: &str) -> impl Future<Output = DnsResult<Ipv4Addr>> + Send {
        self.bounded(|| self.inner.a(name))
    }
    fn aaaa(&self, name: &str) -> impl Future<Output = DnsResult<Ipv6Addr>> + Send {
        self.bounded(|| self.inner.aaaa(name))
    }
    fn mx(&self, name: &str) -> impl Future<Output = DnsResult<Mx>> + Send {
        self.bounded(|| self.inner.mx(name))
    }
    fn ptr(&self, ip: IpAddr) -> impl Future<Output = DnsResult<String>> + Send {
        self.bounded(move || self.inner.ptr(ip))
    }
    fn txt_now(&self, name: &str) -> Option<DnsResult<Txt>> {
        self.bounded_now(|| self.inner.txt_now(name))
    }
    fn a_now(&self, name: &str) -> Option<DnsResult<Ipv4Addr>> {
        self.bounded_now(|| self.inner.a_now(name))
    }
    fn aaaa_now(&self, name: &str) -> Option<DnsResult<Ipv6Addr>> {
        self.bounded_now(|| self.inner.aaaa_now(name))
    }
    fn mx_now(&self, name: &str) -> Option<DnsResult<Mx>> {
        self.bounded_now(|| self.inner.mx_now(name))
    }
    fn ptr_now(&self, ip: IpAddr) -> Option<DnsResult<String>> {
        self.bounded_now(|| self.inner.ptr_now(ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::RecordType;
    use crate::dns::zone::{Fault, ZoneResolver};

    /// `hang.example` never answers, `ok.example` answers at once.
    fn zone() -> ZoneResolver {
        let mut z = ZoneResolver::new();
        z.set_fault("hang.example", RecordType::Txt, Fault::Hang)
            .add_txt_str("ok.example", "hello");
        z
    }

    #[tokio::test(start_paused = true)]
    async fn fast_path_is_passed_on_within_the_deadline_and_refused_after() {
        let mut z = ZoneResolver::new();
        z.add_txt_str("ok.example", "hello");
        let start = Instant::now();
        let r = TimeoutResolver::with_deadline(
            &z,
            Duration::from_secs(10),
            start + Duration::from_secs(4),
        );
        // An answer at hand is given at once, equal to the async one.
        let now = r.txt_now("ok.example");
        assert!(matches!(&now, Some(Ok(_))), "{now:?}");
        assert_eq!(now, Some(r.txt("ok.example").await));
        // A resolver with nothing at hand answers nothing at once.
        assert_eq!(
            TimeoutResolver::new(zone(), Duration::from_secs(1)).txt_now("ok.example"),
            None
        );
        // Past the deadline: a timeout, and the zone is not asked.
        tokio::time::advance(Duration::from_secs(5)).await;
        let sent = z.query_count();
        assert_eq!(r.txt_now("ok.example"), Some(Err(DnsError::Timeout)));
        assert_eq!(r.a_now("ok.example"), Some(Err(DnsError::Timeout)));
        assert_eq!(z.query_count(), sent);
    }

    #[tokio::test(start_paused = true)]
    async fn hanging_lookup_times_out() {
        let z = zone();
        let r = TimeoutResolver::new(z, Duration::from_secs(5));
        assert_eq!(r.txt("hang.example").await, Err(DnsError::Timeout));
        assert!(r.txt("ok.example").await.is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn overall_deadline_cuts_a_lookup_short_and_stops_new_ones() {
        let z = zone();
        let start = Instant::now();
        let r = TimeoutResolver::with_deadline(
            &z,
            Duration::from_secs(10),
            start + Duration::from_secs(4),
        );
        // Cut at the overall deadline (4 s), not the per-lookup one (10 s).
        assert_eq!(r.txt("hang.example").await, Err(DnsError::Timeout));
        assert_eq!(start.elapsed(), Duration::from_secs(4));
        // Past the deadline nothing is sent, even a lookup that would answer.
        let sent = z.query_count();
        assert_eq!(r.txt("ok.example").await, Err(DnsError::Timeout));
        assert_eq!(z.query_count(), sent);
        assert_eq!(start.elapsed(), Duration::from_secs(4));
    }

    #[tokio::test(start_paused = true)]
    async fn per_lookup_timeout_still_applies_before_the_deadline() {
        let z = zone();
        let start = Instant::now();
        let r = TimeoutResolver::with_deadline(
            &z,
            Duration::from_secs(2),
            start + Duration::from_secs(60),
        );
        assert_eq!(r.txt("hang.example").await, Err(DnsError::Timeout));
        assert_eq!(start.elapsed(), Duration::from_secs(2));
        assert!(r.txt("ok.example").await.is_ok());
    }
}
