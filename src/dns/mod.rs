//! The one DNS seam.
//!
//! Every protocol module talks to DNS only through [`Resolver`]. Answers keep
//! what the authentication protocols need and nothing lossy:
//!
//! * TXT answers are one [`Txt`] per resource record, each keeping its
//!   character-strings as raw bytes (RFC 7208 §3.3 and RFC 6376 §3.6.2.2 say
//!   how a caller concatenates them; never lossy UTF-8 here).
//! * Errors distinguish NXDOMAIN from NODATA from SERVFAIL/timeout
//!   ([`DnsError`]): SPF void lookups (RFC 7208 §4.6.4), DMARC `np=`
//!   (RFC 9989) and every temperror/permerror decision depend on it.
//! * Every answer carries a TTL so caches can honour it.
//!
//! Implementations: [`zone::ZoneResolver`] (in memory, from an RFC 1035
//! master file or built in code, with fault injection),
//! [`cache::CachingResolver`] (TTL-honouring wrapper) and, with the default
//! `hickory` feature, `hickory::HickoryResolver` (production).
//!
//! Names passed to a resolver are absolute; a single trailing dot is
//! optional. Malformed names ([`check_name`]) never reach the network: they
//! get [`DnsError::InvalidName`].

use std::fmt;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::pin::Pin;
use std::sync::Arc;

pub mod cache;
#[cfg(feature = "hickory")]
pub mod hickory;
pub mod timeout;
pub mod zone;
pub mod zonefile;

/// Why a DNS query produced no usable answer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DnsError {
    /// The name does not exist (RCODE 3, NXDOMAIN).
    NxDomain,
    /// The name exists but has no records of the requested type (NODATA:
    /// NOERROR with an empty answer section).
    NoData,
    /// The server reported a failure (SERVFAIL, REFUSED, ...).
    ServFail,
    /// No answer arrived within the configured time.
    Timeout,
    /// The query name is not a valid domain name; nothing was sent.
    InvalidName(NameError),
    /// Any other failure (I/O, malformed response, ...), with a description.
    Other(String),
}

impl DnsError {
    /// NXDOMAIN or NODATA: the DNS answered authoritatively that there is
    /// nothing. RFC 7208 §4.6.4 calls such answers "void lookups".
    pub fn is_void(&self) -> bool {
        matches!(self, DnsError::NxDomain | DnsError::NoData)
    }

    /// A failure that may go away if retried later (SERVFAIL, timeout,
    /// other transport errors): protocols map it to `temperror`.
    pub fn is_temporary(&self) -> bool {
        matches!(
            self,
            DnsError::ServFail | DnsError::Timeout | DnsError::Other(_)
        )
    }
}

impl fmt::Display for DnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DnsError::NxDomain => f.write_str("NXDOMAIN"),
            DnsError::NoData => f.write_str("no records of the requested type (NODATA)"),
            DnsError::ServFail => f.write_str("server failure (SERVFAIL)"),
            DnsError::Timeout => f.write_str("DNS timeout"),
            DnsError::InvalidName(e) => write!(f, "invalid DNS name: {e}"),
            DnsError::Other(s) => write!(f, "DNS error: {s}"),
        }
    }
}

impl std::error::Error for DnsError {}

/// Why a name was refused before any query was sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NameError {
    /// The name is empty (or only the root).
    Empty,
    /// A label is empty (two dots in a row, or a leading dot).
    EmptyLabel,
    /// A label is longer than 63 octets (RFC 1035 §2.3.4).
    LabelTooLong,
    /// The name is longer than 253 octets in text form (RFC 1035 §2.3.4).
    TooLong,
    /// The name contains a NUL or another control character.
    ControlCharacter,
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NameError::Empty => "empty name",
            NameError::EmptyLabel => "empty label",
            NameError::LabelTooLong => "label longer than 63 octets",
            NameError::TooLong => "name longer than 253 octets",
            NameError::ControlCharacter => "NUL or control character in name",
        })
    }
}

impl std::error::Error for NameError {}

/// Checks that `name` may be sent to the DNS: non-empty, every label 1..=63
/// octets, at most 253 octets without the optional trailing dot, and no NUL
/// or other control character.
///
/// ```
/// use sender_auth::dns::{check_name, NameError};
/// assert!(check_name("mail.example.com.").is_ok());
/// assert_eq!(check_name("a..b"), Err(NameError::EmptyLabel));
/// assert_eq!(check_name("a\0b.example"), Err(NameError::ControlCharacter));
/// ```
pub fn check_name(name: &str) -> Result<(), NameError> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err(NameError::ControlCharacter);
    }
    if name.len() > 253 {
        return Err(NameError::TooLong);
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err(NameError::EmptyLabel);
        }
        if label.len() > 63 {
            return Err(NameError::LabelTooLong);
        }
    }
    Ok(())
}

/// Lower-cases `name` (ASCII only, as DNS compares names) and removes one
/// trailing dot: the key form used by the in-memory resolver and the cache.
pub fn normalize_name(name: &str) -> String {
    let name = name.strip_suffix('.').unwrap_or(name);
    name.to_ascii_lowercase()
}

/// The reverse-mapping name for `ip` (RFC 1035 §3.5, RFC 3596 §2.5), without
/// trailing dot. IPv4-mapped IPv6 addresses map to `in-addr.arpa`.
///
/// ```
/// use sender_auth::dns::reverse_name;
/// assert_eq!(reverse_name("192.0.2.1".parse().unwrap()), "1.2.0.192.in-addr.arpa");
/// assert_eq!(
///     reverse_name("::ffff:192.0.2.1".parse().unwrap()),
///     "1.2.0.192.in-addr.arpa"
/// );
/// ```
pub fn reverse_name(ip: IpAddr) -> String {
    match canonical_ip(ip) {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let mut s = String::with_capacity(72);
            for byte in v6.octets().iter().rev() {
                for nibble in [byte & 0x0f, byte >> 4] {
                    s.push(char::from_digit(u32::from(nibble), 16).unwrap_or('0'));
                    s.push('.');
                }
            }
            s.push_str("ip6.arpa");
            s
        }
    }
}

/// Treats an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) as the IPv4 address
/// it carries; every other address is returned unchanged.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// One TXT resource record: its character-strings, as raw bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Txt {
    strings: Vec<Vec<u8>>,
}

impl Txt {
    /// A TXT record made of these character-strings.
    pub fn new<I, S>(strings: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<Vec<u8>>,
    {
        Txt {
            strings: strings.into_iter().map(Into::into).collect(),
        }
    }

    /// The character-strings, in order.
    pub fn strings(&self) -> &[Vec<u8>] {
        &self.strings
    }

    /// The character-strings joined with nothing in between, as SPF
    /// (RFC 7208 §3.3), DKIM (RFC 6376 §3.6.2.2) and DMARC require.
    pub fn concat(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.strings.iter().map(Vec::len).sum());
        for s in &self.strings {
            out.extend_from_slice(s);
        }
        out
    }

    /// Total length of the record's text in octets.
    pub fn len(&self) -> usize {
        self.strings.iter().map(Vec::len).sum()
    }

    /// True when the record holds no text at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One MX resource record.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mx {
    /// Preference; lower is preferred.
    pub preference: u16,
    /// The exchange host name, without trailing dot.
    pub exchange: String,
}

/// A successful answer: the records of one RRset and its TTL in seconds.
///
/// Records are shared (`Arc<[T]>`) so caches hand out clones cheaply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer<T> {
    /// The records, in the order the server gave them.
    pub records: Arc<[T]>,
    /// Time to live of the RRset, in seconds.
    pub ttl: u32,
}

impl<T> Answer<T> {
    /// An answer with these records and TTL.
    pub fn new(records: impl Into<Arc<[T]>>, ttl: u32) -> Self {
        Answer {
            records: records.into(),
            ttl,
        }
    }

    /// Iterates over the records.
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.records.iter()
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// True when there are no records (resolvers return
    /// [`DnsError::NoData`] instead, but a filtered answer may be empty).
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

impl<'a, T> IntoIterator for &'a Answer<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.records.iter()
    }
}

/// The record types the authentication protocols query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordType {
    /// IPv4 address.
    A,
    /// IPv6 address.
    Aaaa,
    /// Mail exchange.
    Mx,
    /// Text.
    Txt,
    /// Reverse pointer.
    Ptr,
    /// Canonical name (only inside the in-memory zone).
    Cname,
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RecordType::A => "A",
            RecordType::Aaaa => "AAAA",
            RecordType::Mx => "MX",
            RecordType::Txt => "TXT",
            RecordType::Ptr => "PTR",
            RecordType::Cname => "CNAME",
        })
    }
}

/// Result of one lookup.
pub type DnsResult<T> = Result<Answer<T>, DnsError>;

/// The DNS seam: every lookup the protocols need.
///
/// Implementations must be cheap to call concurrently (`&self`, `Send +
/// Sync`). The trait is usable as a generic parameter, through `&R`,
/// `Arc<R>` and `Box<R>`, and as a trait object through [`DynResolver`].
///
/// Every method must refuse a malformed name (see [`check_name`]) with
/// [`DnsError::InvalidName`] without sending anything.
pub trait Resolver: Send + Sync {
    /// TXT records at `name`, one [`Txt`] per RR.
    fn txt(&self, name: &str) -> impl Future<Output = DnsResult<Txt>> + Send;
    /// A records at `name`.
    fn a(&self, name: &str) -> impl Future<Output = DnsResult<Ipv4Addr>> + Send;
    /// AAAA records at `name`.
    fn aaaa(&self, name: &str) -> impl Future<Output = DnsResult<Ipv6Addr>> + Send;
    /// MX records at `name`.
    fn mx(&self, name: &str) -> impl Future<Output = DnsResult<Mx>> + Send;
    /// PTR records for `ip` (the query goes to [`reverse_name`]`(ip)`).
    /// Names are returned without trailing dot.
    fn ptr(&self, ip: IpAddr) -> impl Future<Output = DnsResult<String>> + Send;

    /// Synchronous fast path of [`Resolver::txt`]: `Some` with exactly what
    /// `txt(name).await` would give (and with the same effects, e.g. one
    /// query logged or one cache hit counted) when the answer is at hand
    /// without waiting; `None`, with no effect at all (nothing sent,
    /// counted or logged), otherwise, and the caller then makes the
    /// ordinary asynchronous lookup.
    ///
    /// Callers that evaluate many lookups in a row (the SPF evaluator) try
    /// this first and skip building and polling a future. A future that
    /// returned `Pending` cannot be set aside without sending the query
    /// twice, which is why this is a separate, non-async call. The default
    /// answers nothing at once (`None`), which is always correct.
    fn txt_now(&self, name: &str) -> Option<DnsResult<Txt>> {
        let _ = name;
        None
    }
    /// Synchronous fast path of [`Resolver::a`] (see [`Resolver::txt_now`]).
    fn a_now(&self, name: &str) -> Option<DnsResult<Ipv4Addr>> {
        let _ = name;
        None
    }
    /// Synchronous fast path of [`Resolver::aaaa`] (see
    /// [`Resolver::txt_now`]).
    fn aaaa_now(&self, name: &str) -> Option<DnsResult<Ipv6Addr>> {
        let _ = name;
        None
    }
    /// Synchronous fast path of [`Resolver::mx`] (see [`Resolver::txt_now`]).
    fn mx_now(&self, name: &str) -> Option<DnsResult<Mx>> {
        let _ = name;
        None
    }
    /// Synchronous fast path of [`Resolver::ptr`] (see
    /// [`Resolver::txt_now`]).
    fn ptr_now(&self, ip: IpAddr) -> Option<DnsResult<String>> {
        let _ = ip;
        None
    }
}

macro_rules! forward_resolver {
    ($($ty:ty),*) => {$(
        impl<R: Resolver + ?Sized> Resolver for $ty {
            fn txt(&self, name: &str) -> impl Future<Output = DnsResult<Txt>> + Send {
                (**self).txt(name)
            }
            fn a(&self, name: &str) -> impl Future<Output = DnsResult<Ipv4Addr>> + Send {
                (**self).a(name)
            }
            fn aaaa(&self, name: &str) -> impl Future<Output = DnsResult<Ipv6Addr>> + Send {
                (**self).aaaa(name)
            }
            fn mx(&self, name: &str) -> impl Future<Output = DnsResult<Mx>> + Send {
                (**self).mx(name)
            }
            fn ptr(&self, ip: IpAddr) -> impl Future<Output = DnsResult<String>> + Send {
                (**self).ptr(ip)
            }
            fn txt_now(&self, name: &str) -> Option<DnsResult<Txt>> {
                (**self).txt_now(name)
            }
            fn a_now(&self, name: &str) -> Option<DnsResult<Ipv4Addr>> {
                (**self).a_now(name)
            }
            fn aaaa_now(&self, name: &str) -> Option<DnsResult<Ipv6Addr>> {
                (**self).aaaa_now(name)
            }
            fn mx_now(&self, name: &str) -> Option<DnsResult<Mx>> {
                (**self).mx_now(name)
            }
            fn ptr_now(&self, ip: IpAddr) -> Option<DnsResult<String>> {
                (**self).ptr_now(ip)
            }
        }
    )*};
}

forward_resolver!(&R, Arc<R>, Box<R>);

/// A boxed future, as returned by [`DynResolver`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Object-safe form of [`Resolver`], for choosing an implementation at run
/// time (`Arc<dyn DynResolver>` implements [`Resolver`]). Every `Resolver`
/// implements it.
pub trait DynResolver: Send + Sync {
    /// See [`Resolver::txt`].
    fn dyn_txt<'a>(&'a self, name: &'a str) -> BoxFuture<'a, DnsResult<Txt>>;
    /// See [`Resolver::a`].
    fn dyn_a<'a>(&'a self, name: &'a str) -> BoxFuture<'a, DnsResult<Ipv4Addr>>;
    /// See [`Resolver::aaaa`].
    fn dyn_aaaa<'a>(&'a self, name: &'a str) -> BoxFuture<'a, DnsResult<Ipv6Addr>>;
    /// See [`Resolver::mx`].
    fn dyn_mx<'a>(&'a self, name: &'a str) -> BoxFuture<'a, DnsResult<Mx>>;
    /// See [`Resolver::ptr`].
    fn dyn_ptr(&self, ip: IpAddr) -> BoxFuture<'_, DnsResult<String>>;
    /// See [`Resolver::txt_now`]; the default answers nothing at once.
    fn dyn_txt_now(&self, name: &str) -> Option<DnsResult<Txt>> {
        let _ = name;
        None
    }
    /// See [`Resolver::a_now`]; the default answers nothing at once.
    fn dyn_a_now(&self, name: &str) -> Option<DnsResult<Ipv4Addr>> {
        let _ = name;
        None
    }
    /// See [`Resolver::aaaa_now`]; the default answers nothing at once.
    fn dyn_aaaa_now(&self, name: &str) -> Option<DnsResult<Ipv6Addr>> {
        let _ = name;
        None
    }
    /// See [`Resolver::mx_now`]; the default answers nothing at once.
    fn dyn_mx_now(&self, name: &str) -> Option<DnsResult<Mx>> {
        let _ = name;
        None
    }
    /// See [`Resolver::ptr_now`]; the default answers nothing at once.
    fn dyn_ptr_now(&self, ip: IpAddr) -> Option<DnsResult<String>> {
        let _ = ip;
        None
    }
}

impl<R: Resolver> DynResolver for R {
    fn dyn_txt<'a>(&'a self, name: &'a str) -> BoxFuture<'a, DnsResult<Txt>> {
        Box::pin(self.txt(name))
    }
    fn dyn_a<'a>(&'a self, name: &'a str) -> BoxFuture<'a, DnsResult<Ipv4Addr>> {
        Box::pin(self.a(name))
    }
    fn dyn_aaaa<'a>(&'a self, name: &'a str) -> BoxFuture<'a, DnsResult<Ipv6Addr>> {
        Box::pin(self.aaaa(name))
    }
    fn dyn_mx<'a>(&'a self, name: &'a str) -> BoxFuture<'a, DnsResult<Mx>> {
        Box::pin(self.mx(name))
    }
    fn dyn_ptr(&self, ip: IpAddr) -> BoxFuture<'_, DnsResult<String>> {
        Box::pin(self.ptr(ip))
    }
    fn dyn_txt_now(&self, name: &str) -> Option<DnsResult<Txt>> {
        self.txt_now(name)
    }
    fn dyn_a_now(&self, name: &str) -> Option<DnsResult<Ipv4Addr>> {
        self.a_now(name)
    }
    fn dyn_aaaa_now(&self, name: &str) -> Option<DnsResult<Ipv6Addr>> {
        self.aaaa_now(name)
    }
    fn dyn_mx_now(&self, name: &str) -> Option<DnsResult<Mx>> {
        self.mx_now(name)
    }
    fn dyn_ptr_now(&self, ip: IpAddr) -> Option<DnsResult<String>> {
        self.ptr_now(ip)
    }
}

impl Resolver for dyn DynResolver + '_ {
    async fn txt(&self, name: &str) -> DnsResult<Txt> {
        self.dyn_txt(name).await
    }
    async fn a(&self, name: &str) -> DnsResult<Ipv4Addr> {
        self.dyn_a(name).await
    }
    async fn aaaa(&self, name: &str) -> DnsResult<Ipv6Addr> {
        self.dyn_aaaa(name).await
    }
    async fn mx(&self, name: &str) -> DnsResult<Mx> {
        self.dyn_mx(name).await
    }
    async fn ptr(&self, ip: IpAddr) -> DnsResult<String> {
        self.dyn_ptr(ip).await
    }
    fn txt_now(&self, name: &str) -> Option<DnsResult<Txt>> {
        self.dyn_txt_now(name)
    }
    fn a_now(&self, name: &str) -> Option<DnsResult<Ipv4Addr>> {
        self.dyn_a_now(name)
    }
    fn aaaa_now(&self, name: &str) -> Option<DnsResult<Ipv6Addr>> {
        self.dyn_aaaa_now(name)
    }
    fn mx_now(&self, name: &str) -> Option<DnsResult<Mx>> {
        self.dyn_mx_now(name)
    }
    fn ptr_now(&self, ip: IpAddr) -> Option<DnsResult<String>> {
        self.dyn_ptr_now(ip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(check_name(""), Err(NameError::Empty));
        assert_eq!(check_name("."), Err(NameError::Empty));
        assert_eq!(check_name(".a"), Err(NameError::EmptyLabel));
        assert_eq!(check_name(&"a".repeat(64)), Err(NameError::LabelTooLong));
        assert!(check_name(&"a".repeat(63)).is_ok());
        let long = vec!["a".repeat(63); 4].join(".");
        assert_eq!(long.len(), 255);
        assert_eq!(check_name(&long), Err(NameError::TooLong));
        let ok = format!("{}.{}", "a".repeat(61), vec!["a".repeat(63); 3].join("."));
        assert_eq!(ok.len(), 253);
        assert!(check_name(&ok).is_ok());
        assert!(check_name(&format!("{ok}.")).is_ok());
        assert_eq!(check_name("a\0.b"), Err(NameError::ControlCharacter));
    }

    #[test]
    fn reverse_v6() {
        let ip: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(
            reverse_name(ip),
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"
        );
    }

    #[test]
    fn txt_concat() {
        let t = Txt::new([&b"v=spf1 "[..], b"-all"]);
        assert_eq!(t.concat(), b"v=spf1 -all");
        assert_eq!(t.len(), 11);
        assert_eq!(t.strings().len(), 2);
    }

    fn assert_resolver<R: Resolver>() {}

    #[test]
    fn wrappers_are_resolvers() {
        assert_resolver::<zone::ZoneResolver>();
        assert_resolver::<&zone::ZoneResolver>();
        assert_resolver::<Arc<zone::ZoneResolver>>();
        assert_resolver::<Arc<dyn DynResolver>>();
    }
}
