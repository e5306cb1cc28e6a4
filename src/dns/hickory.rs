//! Production resolver on hickory-resolver (feature `hickory`, default on).
//!
//! [`HickoryResolver`] sends queries to the system's resolvers
//! ([`HickoryResolver::from_system_conf`]) or to explicit servers
//! ([`HickoryResolver::with_nameservers`]):
//!
//! * over UDP with EDNS0 (RFC 6891; payload size
//!   [`HickoryConfig::edns_payload_len`], default 1232 octets), retrying over
//!   TCP when an answer comes back truncated (RFC 1035 §4.2.2, RFC 7766 §5):
//!   a 4096-bit DKIM key record does not fit in 512 octets;
//! * names are always absolute (a trailing dot is appended): no search
//!   domains, no `ndots`, no hosts file;
//! * hickory's own response cache is sized 0 so answers carry the TTLs the
//!   servers sent; wrap the resolver in
//!   [`CachingResolver`](super::cache::CachingResolver) to cache;
//! * each query has a per-attempt timeout ([`HickoryConfig::timeout`]) and a
//!   bounded number of further attempts ([`HickoryConfig::attempts`]); an
//!   overall deadline of `timeout × (attempts + 1) + 1 s` bounds every
//!   lookup even if the library misbehaves.
//!
//! Outcomes map onto [`DnsError`] precisely: NXDOMAIN (RCODE 3) →
//! [`DnsError::NxDomain`]; NOERROR without records of the type (NODATA,
//! RFC 2308 §2.2) → [`DnsError::NoData`]; SERVFAIL and REFUSED →
//! [`DnsError::ServFail`]; no answer in time → [`DnsError::Timeout`]; a
//! referral (NOERROR, no answer, NS but no SOA: the server is neither
//! recursive nor authoritative for the name) and anything else →
//! [`DnsError::Other`].
//!
//! CNAME chains are followed (by the recursive server, or by hickory when
//! the server gives only the first link); only records of the asked type
//! owned by the query name or a name of its CNAME chain are returned
//! (anything else a server slips into the answer section is ignored). The
//! answer TTL is the minimum TTL of those records and of the CNAMEs leading
//! to them (RFC 2181 §5.2, §10.1.1).
//!
//! hickory follows RFC 6761 for special-use names and answers some
//! locally without sending a query: `localhost.` and the loopback reverse
//! zones (`127.in-addr.arpa.`, `1.0…0.ip6.arpa.`) give loopback answers,
//! names under `invalid.` are NXDOMAIN.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::lookup::Lookup;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError as HDnsError, NetError, NoRecords};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, RecordType as HRecordType};

use super::{Answer, DnsError, DnsResult, Mx, Resolver, Txt, check_name, reverse_name};

/// Default per-attempt timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Default number of further attempts after a failed one.
pub const DEFAULT_ATTEMPTS: usize = 2;

/// Default EDNS0 UDP payload size: 1232 octets, the DNS Flag Day 2020
/// value that avoids IP fragmentation.
pub const DEFAULT_EDNS_PAYLOAD_LEN: u16 = 1232;

/// Configuration of a [`HickoryResolver`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HickoryConfig {
    /// Time allowed for one attempt (across the configured servers).
    /// Default [`DEFAULT_TIMEOUT`].
    pub timeout: Duration,
    /// Further attempts after a failed one (timeout, SERVFAIL, I/O error);
    /// NXDOMAIN/NODATA are final. Default [`DEFAULT_ATTEMPTS`].
    pub attempts: usize,
    /// EDNS0 UDP payload size advertised in queries (at least 512). Answers
    /// larger than this come back truncated and are retried over TCP.
    /// Default [`DEFAULT_EDNS_PAYLOAD_LEN`].
    pub edns_payload_len: u16,
    /// Set the RD (recursion desired) bit. Default `true`; an authoritative
    /// server ignores it.
    pub recursion_desired: bool,
}

impl Default for HickoryConfig {
    fn default() -> Self {
        HickoryConfig {
            timeout: DEFAULT_TIMEOUT,
            attempts: DEFAULT_ATTEMPTS,
            edns_payload_len: DEFAULT_EDNS_PAYLOAD_LEN,
            recursion_desired: true,
        }
    }
}

impl HickoryConfig {
    /// The overall deadline of one lookup: `timeout × (attempts + 1) + 1 s`.
    pub fn overall_deadline(&self) -> Duration {
        let tries = u32::try_from(self.attempts.saturating_add(1)).unwrap_or(u32::MAX);
        self.timeout
            .saturating_mul(tries)
            .saturating_add(Duration::from_secs(1))
    }
}

/// The production [`Resolver`] (see the [module docs](self)).
///
/// Queries need a Tokio runtime (with the time driver enabled).
#[derive(Debug, Clone)]
pub struct HickoryResolver {
    inner: TokioResolver,
    deadline: Duration,
}

impl HickoryResolver {
    /// Uses the system's resolvers (`/etc/resolv.conf` on Unix) with the
    /// default [`HickoryConfig`]. The system's search domains, `ndots` and
    /// hosts file are ignored.
    pub fn from_system_conf() -> Result<Self, DnsError> {
        Self::from_system_conf_with(HickoryConfig::default())
    }

    /// Uses the system's resolvers with this configuration.
    pub fn from_system_conf_with(config: HickoryConfig) -> Result<Self, DnsError> {
        let (system, _opts) = hickory_resolver::system_conf::read_system_conf()
            .map_err(|e| DnsError::Other(format!("cannot read system DNS configuration: {e}")))?;
        let (_domain, _search, servers) = system.into_parts();
        Self::build(servers, config)
    }

    /// Sends queries to these servers (`IP:PORT`), UDP first and TCP when an
    /// answer is truncated.
    ///
    /// ```no_run
    /// use sender_auth::dns::hickory::{HickoryConfig, HickoryResolver};
    /// let r = HickoryResolver::with_nameservers(
    ///     &["127.0.0.1:5353".parse().unwrap()],
    ///     HickoryConfig::default(),
    /// )
    /// .unwrap();
    /// ```
    pub fn with_nameservers(
        servers: &[SocketAddr],
        config: HickoryConfig,
    ) -> Result<Self, DnsError> {
        let servers = servers
            .iter()
            .map(|addr| {
                let mut udp = ConnectionConfig::udp();
                udp.port = addr.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = addr.port();
                NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
            })
            .collect();
        Self::build(servers, config)
    }

    fn build(servers: Vec<NameServerConfig>, config: HickoryConfig) -> Result<Self, DnsError> {
        if servers.is_empty() {
            return Err(DnsError::Other("no name servers configured".into()));
        }
        if config.timeout.is_zero() {
            return Err(DnsError::Other("DNS timeout must not be zero".into()));
        }
        let mut opts = ResolverOpts::default();
        opts.timeout = config.timeout;
        opts.attempts = config.attempts;
        opts.edns0 = true;
        opts.edns_payload_len = config.edns_payload_len.max(512);
        opts.recursion_desired = config.recursion_desired;
        opts.cache_size = 0;
        opts.use_hosts_file = ResolveHosts::Never;
        opts.ndots = 0;
        opts.preserve_intermediates = true;
        let resolver_config = ResolverConfig::from_name_servers(servers);
        let inner =
            TokioResolver::builder_with_config(resolver_config, TokioRuntimeProvider::default())
                .with_options(opts)
                .build()
                .map_err(|e| DnsError::Other(format!("cannot build resolver: {e}")))?;
        Ok(HickoryResolver {
            inner,
            deadline: config.overall_deadline(),
        })
    }

    /// Sends one query and keeps the records `pick` extracts from answers
    /// of type `rtype`.
    async fn query<T>(
        &self,
        name: &str,
        rtype: HRecordType,
        pick: impl Fn(&RData) -> Option<T>,
    ) -> DnsResult<T> {
        let qname = absolute(name)?;
        let lookup = tokio::time::timeout(self.deadline, self.inner.lookup(qname.clone(), rtype))
            .await
            .map_err(|_| DnsError::Timeout)?
            .map_err(map_error)?;
        extract(&lookup, &qname, rtype, pick)
    }
}

/// The hickory name for `name`, made absolute, after [`check_name`]. Labels
/// are taken as raw octets: no escape processing, no IDNA.
fn absolute(name: &str) -> Result<Name, DnsError> {
    check_name(name).map_err(DnsError::InvalidName)?;
    let bare = name.strip_suffix('.').unwrap_or(name);
    let mut n = Name::from_labels(bare.split('.').map(str::as_bytes))
        .map_err(|e| DnsError::Other(format!("cannot encode name: {e}")))?;
    n.set_fqdn(true);
    Ok(n)
}

/// Longest CNAME chain followed inside one answer.
const MAX_CNAME_CHAIN: usize = 16;

/// Records of `rtype` owned by `qname` or by the CNAME chain starting at it
/// (records for other owners, which a misbehaving server may add, are
/// ignored), and the TTL: the minimum over those records and the CNAMEs of
/// the chain.
fn extract<T>(
    lookup: &Lookup,
    qname: &Name,
    rtype: HRecordType,
    pick: impl Fn(&RData) -> Option<T>,
) -> DnsResult<T> {
    let answers = lookup.answers();
    let mut chain: Vec<&Name> = vec![qname];
    let mut ttl = u32::MAX;
    let mut current = qname;
    for _ in 0..MAX_CNAME_CHAIN {
        let next = answers.iter().find_map(|r| match &r.data {
            RData::CNAME(c) if r.name == *current => Some((&c.0, r.ttl)),
            _ => None,
        });
        let Some((target, cname_ttl)) = next else {
            break;
        };
        if chain.contains(&target) {
            break; // a loop: no further names
        }
        ttl = ttl.min(cname_ttl);
        chain.push(target);
        current = target;
    }
    let mut out = Vec::new();
    let mut found_ttl = u32::MAX;
    for record in answers {
        if record.record_type() == rtype
            && chain.contains(&&record.name)
            && let Some(v) = pick(&record.data)
        {
            out.push(v);
            found_ttl = found_ttl.min(record.ttl);
        }
    }
    if out.is_empty() {
        // A CNAME chain ending at a name that does not exist: the RCODE
        // describes the last name of the chain (RFC 6604 §2).
        return Err(
            if lookup.message().metadata.response_code == ResponseCode::NXDomain {
                DnsError::NxDomain
            } else {
                DnsError::NoData
            },
        );
    }
    Ok(Answer::new(out, ttl.min(found_ttl)))
}

/// A name from an answer, in text form without trailing dot (non-printable
/// octets escaped as `\DDD`, so nothing raw is ever echoed).
fn name_text(name: &Name) -> String {
    let s = name.to_ascii();
    match s.strip_suffix('.') {
        Some(bare) => bare.to_string(),
        None => s,
    }
}

fn map_error(e: NetError) -> DnsError {
    match e {
        NetError::Dns(HDnsError::NoRecordsFound(NoRecords {
            response_code,
            soa,
            ns,
            ..
        })) => match response_code {
            ResponseCode::NXDomain => DnsError::NxDomain,
            ResponseCode::NoError if soa.is_none() && ns.is_some_and(|ns| !ns.is_empty()) => {
                DnsError::Other(
                    "referral: the server is neither recursive nor authoritative for this name"
                        .into(),
                )
            }
            ResponseCode::NoError => DnsError::NoData,
            ResponseCode::ServFail | ResponseCode::Refused => DnsError::ServFail,
            rc => DnsError::Other(format!("server answered {rc}")),
        },
        NetError::Dns(HDnsError::ResponseCode(rc)) => match rc {
            ResponseCode::ServFail | ResponseCode::Refused => DnsError::ServFail,
            rc => DnsError::Other(format!("server answered {rc}")),
        },
        NetError::Dns(other) => DnsError::Other(other.to_string()),
        NetError::Timeout => DnsError::Timeout,
        NetError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => DnsError::Timeout,
        other => DnsError::Other(other.to_string()),
    }
}

impl Resolver for HickoryResolver {
    async fn txt(&self, name: &str) -> DnsResult<Txt> {
        self.query(name, HRecordType::TXT, |d| match d {
            RData::TXT(t) => Some(Txt::new(t.txt_data.iter().map(|s| s.to_vec()))),
            _ => None,
        })
        .await
    }

    async fn a(&self, name: &str) -> DnsResult<Ipv4Addr> {
        self.query(name, HRecordType::A, |d| match d {
            RData::A(a) => Some(a.0),
            _ => None,
        })
        .await
    }

    async fn aaaa(&self, name: &str) -> DnsResult<Ipv6Addr> {
        self.query(name, HRecordType::AAAA, |d| match d {
            RData::AAAA(a) => Some(a.0),
            _ => None,
        })
        .await
    }

    /// MX records; a null MX (RFC 7505, exchange `.`) has an empty
    /// exchange.
    async fn mx(&self, name: &str) -> DnsResult<Mx> {
        self.query(name, HRecordType::MX, |d| match d {
            RData::MX(mx) => Some(Mx {
                preference: mx.preference,
                exchange: name_text(&mx.exchange),
            }),
            _ => None,
        })
        .await
    }

    async fn ptr(&self, ip: IpAddr) -> DnsResult<String> {
        let owner = reverse_name(ip);
        self.query(&owner, HRecordType::PTR, |d| match d {
            RData::PTR(p) => Some(name_text(&p.0)),
            _ => None,
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::NameError;

    #[test]
    fn names_are_absolute_and_raw() {
        let n = absolute("Mail.Example.com").unwrap();
        assert!(n.is_fqdn());
        assert_eq!(n.to_ascii(), "Mail.Example.com.");
        assert_eq!(absolute("example.com.").unwrap().num_labels(), 2);
        // A backslash is an octet of the label, not an escape.
        let n = absolute("a\\046b.example").unwrap();
        assert_eq!(n.num_labels(), 2);
        assert_eq!(
            absolute("a..b"),
            Err(DnsError::InvalidName(NameError::EmptyLabel))
        );
        assert_eq!(
            absolute("a\0b"),
            Err(DnsError::InvalidName(NameError::ControlCharacter))
        );
    }

    #[test]
    fn error_mapping() {
        use hickory_resolver::proto::op::Query;
        let q = Query::query(Name::root(), HRecordType::A);
        let nr = |rc| NetError::Dns(HDnsError::NoRecordsFound(NoRecords::new(q.clone(), rc)));
        assert_eq!(map_error(nr(ResponseCode::NXDomain)), DnsError::NxDomain);
        assert_eq!(map_error(nr(ResponseCode::NoError)), DnsError::NoData);
        assert_eq!(
            map_error(NetError::Dns(HDnsError::ResponseCode(
                ResponseCode::ServFail
            ))),
            DnsError::ServFail
        );
        assert_eq!(
            map_error(NetError::Dns(HDnsError::ResponseCode(
                ResponseCode::Refused
            ))),
            DnsError::ServFail
        );
        assert!(matches!(
            map_error(NetError::Dns(HDnsError::ResponseCode(
                ResponseCode::FormErr
            ))),
            DnsError::Other(_)
        ));
        assert_eq!(map_error(NetError::Timeout), DnsError::Timeout);
        let io = std::io::Error::from(std::io::ErrorKind::TimedOut);
        assert_eq!(map_error(NetError::from(io)), DnsError::Timeout);
        assert!(matches!(
            map_error(NetError::NoConnections),
            DnsError::Other(_)
        ));
    }

    #[test]
    fn extract_follows_chain_and_ignores_strangers() {
        use hickory_resolver::proto::op::Query;
        use hickory_resolver::proto::rr::Record;
        use hickory_resolver::proto::rr::rdata::{A, CNAME};
        let n = |s: &str| Name::from_ascii(s).unwrap();
        let q = n("www.example.");
        let a = |owner: &str, ttl, ip: [u8; 4]| {
            Record::from_rdata(n(owner), ttl, RData::A(A(Ipv4Addr::from(ip))))
        };
        let cname = |owner: &str, ttl, target: &str| {
            Record::from_rdata(n(owner), ttl, RData::CNAME(CNAME(n(target))))
        };
        let pick = |d: &RData| match d {
            RData::A(a) => Some(a.0),
            _ => None,
        };
        let lookup = Lookup::new_with_max_ttl(
            Query::query(q.clone(), HRecordType::A),
            [
                cname("WWW.example.", 50, "host.example."),
                a("host.example.", 300, [192, 0, 2, 1]),
                a("evil.example.", 1, [203, 0, 113, 66]),
            ],
        );
        let ans = extract(&lookup, &q, HRecordType::A, pick).unwrap();
        assert_eq!(&ans.records[..], &[Ipv4Addr::new(192, 0, 2, 1)]);
        assert_eq!(ans.ttl, 50);

        let looped = Lookup::new_with_max_ttl(
            Query::query(q.clone(), HRecordType::A),
            [
                cname("www.example.", 50, "b.example."),
                cname("b.example.", 50, "www.example."),
            ],
        );
        assert_eq!(
            extract(&looped, &q, HRecordType::A, pick),
            Err(DnsError::NoData)
        );
    }

    #[test]
    fn config_validation() {
        assert!(HickoryResolver::with_nameservers(&[], HickoryConfig::default()).is_err());
        let zero = HickoryConfig {
            timeout: Duration::ZERO,
            ..HickoryConfig::default()
        };
        let addr: SocketAddr = "127.0.0.1:53".parse().unwrap();
        assert!(HickoryResolver::with_nameservers(&[addr], zero).is_err());
        assert_eq!(
            HickoryConfig::default().overall_deadline(),
            Duration::from_secs(16)
        );
    }
}
