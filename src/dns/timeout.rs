//! A per-lookup deadline around any [`Resolver`]: a lookup that has not
//! answered in time gives [`DnsError::Timeout`], which every protocol maps
//! to `temperror`. The [`Authenticator`](crate::authenticator::Authenticator)
//! wraps its resolver in one so that a server that never answers cannot
//! stall a check.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use super::{DnsError, DnsResult, Mx, Resolver, Txt};

/// Wraps `R`, bounding every lookup by `timeout` (needs a Tokio runtime
/// with the time driver enabled).
#[derive(Debug, Clone)]
pub struct TimeoutResolver<R> {
    inner: R,
    timeout: Duration,
}

impl<R> TimeoutResolver<R> {
    /// Bounds every lookup of `inner` by `timeout`.
    pub fn new(inner: R, timeout: Duration) -> Self {
        TimeoutResolver { inner, timeout }
    }

    /// The wrapped resolver.
    pub fn inner(&self) -> &R {
        &self.inner
    }
}

async fn bounded<T>(timeout: Duration, f: impl Future<Output = DnsResult<T>>) -> DnsResult<T> {
    match tokio::time::timeout(timeout, f).await {
        Ok(r) => r,
        Err(_) => Err(DnsError::Timeout),
    }
}

impl<R: Resolver> Resolver for TimeoutResolver<R> {
    fn txt(&self, name: &str) -> impl Future<Output = DnsResult<Txt>> + Send {
        bounded(self.timeout, self.inner.txt(name))
    }
    fn a(&self, name: &str) -> impl Future<Output = DnsResult<Ipv4Addr>> + Send {
        bounded(self.timeout, self.inner.a(name))
    }
    fn aaaa(&self, name: &str) -> impl Future<Output = DnsResult<Ipv6Addr>> + Send {
        bounded(self.timeout, self.inner.aaaa(name))
    }
    fn mx(&self, name: &str) -> impl Future<Output = DnsResult<Mx>> + Send {
        bounded(self.timeout, self.inner.mx(name))
    }
    fn ptr(&self, ip: IpAddr) -> impl Future<Output = DnsResult<String>> + Send {
        bounded(self.timeout, self.inner.ptr(ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::RecordType;
    use crate::dns::zone::{Fault, ZoneResolver};

    #[tokio::test(start_paused = true)]
    async fn hanging_lookup_times_out() {
        let mut z = ZoneResolver::new();
        z.set_fault("hang.example", RecordType::Txt, Fault::Hang)
            .add_txt_str("ok.example", "hello");
        let r = TimeoutResolver::new(z, Duration::from_secs(5));
        assert_eq!(r.txt("hang.example").await, Err(DnsError::Timeout));
        assert!(r.txt("ok.example").await.is_ok());
    }
}
