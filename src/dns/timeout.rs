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
