//! In-memory resolver: built in code or loaded from an RFC 1035 master file
//! ([`ZoneResolver::from_master_file`], [`ZoneResolver::load_file`]; see
//! [`zonefile`](super::zonefile)), with fault injection for tests.
//!
//! Semantics follow an authoritative server for the data it holds:
//!
//! * a name with no records and no descendants is NXDOMAIN;
//! * a name that has records of other types, or descendants (an empty
//!   non-terminal, RFC 8020), is NODATA for a missing type;
//! * CNAMEs are followed inside the zone (at most [`MAX_CNAME_CHAIN`] hops;
//!   a longer chain or a loop answers SERVFAIL);
//! * every record has its own TTL; an answer's TTL is the smallest of its
//!   RRset and of the CNAMEs followed to reach it;
//! * `*.parent` wildcards answer for names below `parent` that do not exist
//!   (the closest-encloser rule of RFC 4592, simplified);
//! * [`ZoneResolver::set_fault`] makes a name/type answer SERVFAIL, time
//!   out, or never answer.
//!
//! Every query is recorded ([`ZoneResolver::queries`]) so tests can count the
//! lookups a check made.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Mutex;

use crate::keyed_hash::KeyedState;

use super::{
    Answer, DnsError, DnsResult, Mx, RecordType, Resolver, Txt, check_name, normalize_name,
    reverse_name,
};

/// Longest CNAME chain followed before answering SERVFAIL.
pub const MAX_CNAME_CHAIN: usize = 8;

/// TTL given to records added without one.
pub const DEFAULT_TTL: u32 = 3600;

/// A failure injected for one name and record type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer SERVFAIL.
    ServFail,
    /// Answer [`DnsError::Timeout`] at once (as a resolver would after its
    /// timeout expired).
    Timeout,
    /// Never answer: the future stays pending. Tests use it to exercise
    /// overall time budgets.
    Hang,
}

/// One resource record with its own TTL (`None`: the node's TTL set by
/// [`ZoneResolver::set_ttl`], else [`DEFAULT_TTL`]).
#[derive(Debug, Clone)]
struct Rr<T> {
    data: T,
    ttl: Option<u32>,
}

#[derive(Debug, Default, Clone)]
struct Node {
    a: Vec<Rr<Ipv4Addr>>,
    aaaa: Vec<Rr<Ipv6Addr>>,
    mx: Vec<Rr<Mx>>,
    txt: Vec<Rr<Txt>>,
    ptr: Vec<Rr<String>>,
    cname: Option<Rr<String>>,
    ttl: Option<u32>,
}

impl Node {
    fn is_empty(&self) -> bool {
        self.a.is_empty()
            && self.aaaa.is_empty()
            && self.mx.is_empty()
            && self.txt.is_empty()
            && self.ptr.is_empty()
            && self.cname.is_none()
    }

    fn has_non_cname_data(&self) -> bool {
        !(self.a.is_empty()
            && self.aaaa.is_empty()
            && self.mx.is_empty()
            && self.txt.is_empty()
            && self.ptr.is_empty())
    }

    /// The TTL a record answers with.
    fn ttl_of<T>(&self, rr: &Rr<T>) -> u32 {
        rr.ttl.or(self.ttl).unwrap_or(DEFAULT_TTL)
    }

    /// Forgets every per-record TTL (so the node TTL applies to all).
    fn clear_record_ttls(&mut self) {
        fn clear<T>(v: &mut [Rr<T>]) {
            for rr in v {
                rr.ttl = None;
            }
        }
        clear(&mut self.a);
        clear(&mut self.aaaa);
        clear(&mut self.mx);
        clear(&mut self.txt);
        clear(&mut self.ptr);
        if let Some(c) = &mut self.cname {
            c.ttl = None;
        }
    }
}

/// The data of one resource record, for [`ZoneResolver::add_record`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZoneRecord {
    /// An IPv4 address.
    A(Ipv4Addr),
    /// An IPv6 address.
    Aaaa(Ipv6Addr),
    /// A mail exchange (the exchange name is absolute; a trailing dot is
    /// optional).
    Mx(Mx),
    /// A text record, its character-strings kept as given.
    Txt(Txt),
    /// A pointer to a name (absolute; trailing dot optional).
    Ptr(String),
    /// An alias for another name (absolute; trailing dot optional).
    Cname(String),
}

impl ZoneRecord {
    /// The record type of this data.
    pub fn record_type(&self) -> RecordType {
        match self {
            ZoneRecord::A(_) => RecordType::A,
            ZoneRecord::Aaaa(_) => RecordType::Aaaa,
            ZoneRecord::Mx(_) => RecordType::Mx,
            ZoneRecord::Txt(_) => RecordType::Txt,
            ZoneRecord::Ptr(_) => RecordType::Ptr,
            ZoneRecord::Cname(_) => RecordType::Cname,
        }
    }
}

/// An in-memory authoritative view of some DNS data.
#[derive(Debug, Default)]
pub struct ZoneResolver {
    nodes: HashMap<String, Node, KeyedState>,
    /// Every proper ancestor of a stored name (for empty non-terminals).
    ancestors: HashSet<String, KeyedState>,
    faults: HashMap<(String, RecordType), Fault, KeyedState>,
    log: Mutex<Vec<(RecordType, String)>>,
}

impl ZoneResolver {
    /// An empty zone: every name is NXDOMAIN.
    pub fn new() -> Self {
        Self::default()
    }

    fn node_mut(&mut self, name: &str) -> &mut Node {
        let key = normalize_name(name);
        let mut rest = key.as_str();
        while let Some((_, parent)) = rest.split_once('.') {
            self.ancestors.insert(parent.to_string());
            rest = parent;
        }
        self.nodes.entry(key).or_default()
    }

    /// Sets the TTL answered for every RRset at `name`: records already
    /// there lose their own TTLs, and later records added without a TTL get
    /// this one.
    pub fn set_ttl(&mut self, name: &str, ttl: u32) -> &mut Self {
        let node = self.node_mut(name);
        node.ttl = Some(ttl);
        node.clear_record_ttls();
        self
    }

    /// Adds one record at `name`, with its own TTL (`None`: the name's TTL
    /// from [`set_ttl`](Self::set_ttl), else [`DEFAULT_TTL`]).
    ///
    /// An RRset answers with the smallest TTL of its records (RFC 2181 §5.2
    /// says they should all be equal; a cache must not keep any of them
    /// longer than the smallest). A CNAME replaces an earlier CNAME at the
    /// same name.
    pub fn add_record(&mut self, name: &str, ttl: Option<u32>, record: ZoneRecord) -> &mut Self {
        let node = self.node_mut(name);
        match record {
            ZoneRecord::A(ip) => node.a.push(Rr { data: ip, ttl }),
            ZoneRecord::Aaaa(ip) => node.aaaa.push(Rr { data: ip, ttl }),
            ZoneRecord::Mx(mx) => {
                let exchange = mx.exchange.strip_suffix('.').unwrap_or(&mx.exchange);
                let data = Mx {
                    preference: mx.preference,
                    exchange: exchange.to_string(),
                };
                node.mx.push(Rr { data, ttl });
            }
            ZoneRecord::Txt(txt) => node.txt.push(Rr { data: txt, ttl }),
            ZoneRecord::Ptr(target) => {
                let data = target.strip_suffix('.').unwrap_or(&target).to_string();
                node.ptr.push(Rr { data, ttl });
            }
            ZoneRecord::Cname(target) => {
                let data = normalize_name(&target);
                node.cname = Some(Rr { data, ttl });
            }
        }
        self
    }

    /// True when `name` holds a CNAME and other data at the same time
    /// (which RFC 1034 §3.6.2 forbids; the master-file loader refuses it).
    pub(crate) fn has_cname_conflict(&self, name: &str) -> bool {
        self.nodes
            .get(&normalize_name(name))
            .is_some_and(|n| n.cname.is_some() && n.has_non_cname_data())
    }

    /// Adds an A record.
    pub fn add_a(&mut self, name: &str, ip: Ipv4Addr) -> &mut Self {
        self.add_record(name, None, ZoneRecord::A(ip))
    }

    /// Adds an AAAA record.
    pub fn add_aaaa(&mut self, name: &str, ip: Ipv6Addr) -> &mut Self {
        self.add_record(name, None, ZoneRecord::Aaaa(ip))
    }

    /// Adds an A or AAAA record, by the address family.
    pub fn add_ip(&mut self, name: &str, ip: IpAddr) -> &mut Self {
        match ip {
            IpAddr::V4(v4) => self.add_a(name, v4),
            IpAddr::V6(v6) => self.add_aaaa(name, v6),
        }
    }

    /// Adds an MX record (`exchange` without trailing dot is absolute).
    pub fn add_mx(&mut self, name: &str, preference: u16, exchange: &str) -> &mut Self {
        let mx = Mx {
            preference,
            exchange: exchange.to_string(),
        };
        self.add_record(name, None, ZoneRecord::Mx(mx))
    }

    /// Adds a TXT record made of these character-strings.
    pub fn add_txt<I, S>(&mut self, name: &str, strings: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: Into<Vec<u8>>,
    {
        self.add_record(name, None, ZoneRecord::Txt(Txt::new(strings)))
    }

    /// Adds a TXT record holding `text`, split into character-strings of at
    /// most 255 octets as a real server would store it.
    pub fn add_txt_str(&mut self, name: &str, text: &str) -> &mut Self {
        let bytes = text.as_bytes();
        let strings: Vec<Vec<u8>> = if bytes.is_empty() {
            vec![Vec::new()]
        } else {
            bytes.chunks(255).map(<[u8]>::to_vec).collect()
        };
        self.add_record(name, None, ZoneRecord::Txt(Txt::new(strings)))
    }

    /// Adds a PTR record at `owner` (a reverse name such as
    /// `1.2.0.192.in-addr.arpa`, or any other name).
    pub fn add_ptr_name(&mut self, owner: &str, target: &str) -> &mut Self {
        self.add_record(owner, None, ZoneRecord::Ptr(target.to_string()))
    }

    /// Adds a PTR record for `ip` pointing at `target`.
    pub fn add_ptr(&mut self, ip: IpAddr, target: &str) -> &mut Self {
        let owner = reverse_name(ip);
        self.add_ptr_name(&owner, target)
    }

    /// Makes `name` a CNAME for `target` (replacing an earlier CNAME).
    pub fn add_cname(&mut self, name: &str, target: &str) -> &mut Self {
        self.add_record(name, None, ZoneRecord::Cname(target.to_string()))
    }

    /// Makes `name` exist with no records (an empty node answers NODATA for
    /// every type).
    pub fn add_empty(&mut self, name: &str) -> &mut Self {
        self.node_mut(name);
        self
    }

    /// Makes queries for `name`/`rtype` fail with `fault`.
    pub fn set_fault(&mut self, name: &str, rtype: RecordType, fault: Fault) -> &mut Self {
        self.faults.insert((normalize_name(name), rtype), fault);
        self
    }

    /// Makes PTR queries for `ip` fail with `fault`.
    pub fn set_ptr_fault(&mut self, ip: IpAddr, fault: Fault) -> &mut Self {
        let owner = reverse_name(ip);
        self.set_fault(&owner, RecordType::Ptr, fault)
    }

    /// Every query received so far, in order: (type, normalized name).
    /// Queries refused for a malformed name are not recorded.
    pub fn queries(&self) -> Vec<(RecordType, String)> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Number of queries received so far.
    pub fn query_count(&self) -> usize {
        self.log.lock().map(|l| l.len()).unwrap_or(0)
    }

    /// Forgets the recorded queries.
    pub fn clear_queries(&self) {
        if let Ok(mut l) = self.log.lock() {
            l.clear();
        }
    }

    /// Number of names holding records.
    pub fn len(&self) -> usize {
        self.nodes.values().filter(|n| !n.is_empty()).count()
    }

    /// True when the zone holds no records.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn exists(&self, key: &str) -> bool {
        self.nodes.contains_key(key) || self.ancestors.contains(key)
    }

    /// The node answering for `key`: itself, or a wildcard under its closest
    /// encloser (RFC 4592 §3.3.1, simplified).
    fn find(&self, key: &str) -> Option<&Node> {
        if let Some(n) = self.nodes.get(key) {
            return Some(n);
        }
        if self.ancestors.contains(key) {
            return None;
        }
        let mut rest = key;
        while let Some((_, parent)) = rest.split_once('.') {
            if self.exists(parent) {
                return self.nodes.get(&format!("*.{parent}"));
            }
            rest = parent;
        }
        self.nodes.get("*")
    }

    /// Resolves `name` for `rtype`, following CNAMEs, and extracts the
    /// records with `pick`. The answer's TTL is the smallest TTL of the
    /// RRset and of every CNAME followed to reach it.
    fn resolve<T: Clone>(
        &self,
        name: &str,
        rtype: RecordType,
        pick: impl Fn(&Node) -> &Vec<Rr<T>>,
    ) -> Result<DnsResult<T>, Fault> {
        if let Err(e) = check_name(name) {
            return Ok(Err(DnsError::InvalidName(e)));
        }
        let mut key = normalize_name(name);
        if let Ok(mut l) = self.log.lock() {
            l.push((rtype, key.clone()));
        }
        let mut chain_ttl = u32::MAX;
        for _ in 0..=MAX_CNAME_CHAIN {
            if let Some(f) = self.faults.get(&(key.clone(), rtype)) {
                return Err(*f);
            }
            let Some(node) = self.find(&key) else {
                return Ok(Err(if self.exists(&key) {
                    DnsError::NoData
                } else {
                    DnsError::NxDomain
                }));
            };
            let recs = pick(node);
            if !recs.is_empty() {
                let ttl = recs
                    .iter()
                    .map(|rr| node.ttl_of(rr))
                    .min()
                    .unwrap_or(DEFAULT_TTL)
                    .min(chain_ttl);
                let data: Vec<T> = recs.iter().map(|rr| rr.data.clone()).collect();
                return Ok(Ok(Answer::new(data, ttl)));
            }
            match &node.cname {
                Some(target) => {
                    chain_ttl = chain_ttl.min(node.ttl_of(target));
                    key = target.data.clone();
                }
                None => return Ok(Err(DnsError::NoData)),
            }
        }
        Ok(Err(DnsError::ServFail))
    }

    fn lookup<T: Clone + Send + Sync>(
        &self,
        name: &str,
        rtype: RecordType,
        pick: fn(&Node) -> &Vec<Rr<T>>,
    ) -> impl Future<Output = DnsResult<T>> + Send + use<T> {
        finish(self.resolve(name, rtype, pick))
    }
}

fn finish<T: Send + Sync>(
    outcome: Result<DnsResult<T>, Fault>,
) -> impl Future<Output = DnsResult<T>> + Send + use<T> {
    {
        async move {
            match outcome {
                Ok(r) => r,
                Err(Fault::ServFail) => Err(DnsError::ServFail),
                Err(Fault::Timeout) => Err(DnsError::Timeout),
                Err(Fault::Hang) => std::future::pending().await,
            }
        }
    }
}

impl ZoneResolver {
    /// The synchronous answer of a lookup ([`Resolver::txt_now`] and
    /// siblings): every answer is at hand, except that of a name/type
    /// that may [`Fault::Hang`]. With any hanging fault set, nothing is
    /// answered at once (and nothing logged), so the query is made (and
    /// logged once) by the asynchronous lookup.
    fn lookup_now<T: Clone>(
        &self,
        name: &str,
        rtype: RecordType,
        pick: fn(&Node) -> &Vec<Rr<T>>,
    ) -> Option<DnsResult<T>> {
        if self.faults.values().any(|f| *f == Fault::Hang) {
            return None;
        }
        Some(match self.resolve(name, rtype, pick) {
            Ok(r) => r,
            Err(Fault::ServFail) => Err(DnsError::ServFail),
            Err(Fault::Timeout) => Err(DnsError::Timeout),
            // Not reached: no hanging fault is set.
            Err(Fault::Hang) => return None,
        })
    }
}

impl Resolver for ZoneResolver {
    fn txt_now(&self, name: &str) -> Option<DnsResult<Txt>> {
        self.lookup_now(name, RecordType::Txt, |n| &n.txt)
    }
    fn a_now(&self, name: &str) -> Option<DnsResult<Ipv4Addr>> {
        self.lookup_now(name, RecordType::A, |n| &n.a)
    }
    fn aaaa_now(&self, name: &str) -> Option<DnsResult<Ipv6Addr>> {
        self.lookup_now(name, RecordType::Aaaa, |n| &n.aaaa)
    }
    fn mx_now(&self, name: &str) -> Option<DnsResult<Mx>> {
        self.lookup_now(name, RecordType::Mx, |n| &n.mx)
    }
    fn ptr_now(&self, ip: IpAddr) -> Option<DnsResult<String>> {
        if self.faults.values().any(|f| *f == Fault::Hang) {
            return None;
        }
        self.lookup_now(&reverse_name(ip), RecordType::Ptr, |n| &n.ptr)
    }
    fn txt(&self, name: &str) -> impl Future<Output = DnsResult<Txt>> + Send {
        self.lookup(name, RecordType::Txt, |n| &n.txt)
    }
    fn a(&self, name: &str) -> impl Future<Output = DnsResult<Ipv4Addr>> + Send {
        self.lookup(name, RecordType::A, |n| &n.a)
    }
    fn aaaa(&self, name: &str) -> impl Future<Output = DnsResult<Ipv6Addr>> + Send {
        self.lookup(name, RecordType::Aaaa, |n| &n.aaaa)
    }
    fn mx(&self, name: &str) -> impl Future<Output = DnsResult<Mx>> + Send {
        self.lookup(name, RecordType::Mx, |n| &n.mx)
    }
    fn ptr(&self, ip: IpAddr) -> impl Future<Output = DnsResult<String>> + Send {
        let owner = reverse_name(ip);
        self.lookup(&owner, RecordType::Ptr, |n| &n.ptr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn nxdomain_nodata_and_records() {
        let mut z = ZoneResolver::new();
        z.add_a("Mail.Example.COM.", "192.0.2.1".parse().unwrap())
            .add_txt("example.com", ["v=spf1 ", "-all"]);
        let a = block(z.a("mail.example.com")).unwrap();
        assert_eq!(&a.records[..], &["192.0.2.1".parse::<Ipv4Addr>().unwrap()]);
        assert_eq!(block(z.aaaa("mail.example.com")), Err(DnsError::NoData));
        assert_eq!(block(z.a("nope.example.com")), Err(DnsError::NxDomain));
        // empty non-terminal: example.com has records, but "com" only descendants
        assert_eq!(block(z.a("com")), Err(DnsError::NoData));
        let t = block(z.txt("EXAMPLE.com")).unwrap();
        assert_eq!(t.records[0].concat(), b"v=spf1 -all");
        assert_eq!(z.query_count(), 5);
    }

    #[test]
    fn cname_follow_and_loop() {
        let mut z = ZoneResolver::new();
        z.add_cname("alias.example", "host.example")
            .add_a("host.example", Ipv4Addr::LOCALHOST)
            .add_cname("loop1.example", "loop2.example")
            .add_cname("loop2.example", "loop1.example");
        assert!(block(z.a("alias.example")).is_ok());
        assert_eq!(block(z.a("loop1.example")), Err(DnsError::ServFail));
    }

    #[test]
    fn wildcard_and_faults() {
        let mut z = ZoneResolver::new();
        z.add_txt_str("*.w.example", "hello")
            .add_a("exists.w.example", Ipv4Addr::LOCALHOST)
            .set_fault("bad.example", RecordType::Txt, Fault::ServFail)
            .set_fault("slow.example", RecordType::Txt, Fault::Timeout);
        assert!(block(z.txt("x.y.w.example")).is_ok());
        assert_eq!(block(z.txt("exists.w.example")), Err(DnsError::NoData));
        assert_eq!(block(z.txt("bad.example")), Err(DnsError::ServFail));
        assert_eq!(block(z.txt("slow.example")), Err(DnsError::Timeout));
        assert!(matches!(
            block(z.txt("a..example")),
            Err(DnsError::InvalidName(_))
        ));
    }

    #[test]
    fn long_txt_is_split() {
        let mut z = ZoneResolver::new();
        let text = "x".repeat(600);
        z.add_txt_str("k.example", &text);
        let t = block(z.txt("k.example")).unwrap();
        assert_eq!(t.records[0].strings().len(), 3);
        assert_eq!(t.records[0].concat(), text.as_bytes());
    }

    #[test]
    fn ptr_by_ip() {
        let mut z = ZoneResolver::new();
        z.add_ptr("::ffff:192.0.2.7".parse().unwrap(), "mail.example.");
        let p = block(z.ptr("192.0.2.7".parse().unwrap())).unwrap();
        assert_eq!(&p.records[..], &["mail.example".to_string()]);
    }

    #[test]
    fn per_record_ttls() {
        let mut z = ZoneResolver::new();
        z.add_record(
            "h.example",
            Some(600),
            ZoneRecord::A(Ipv4Addr::new(192, 0, 2, 1)),
        )
        .add_record(
            "h.example",
            Some(60),
            ZoneRecord::A(Ipv4Addr::new(192, 0, 2, 2)),
        )
        .add_record("h.example", None, ZoneRecord::Txt(Txt::new(["x"])))
        .add_record(
            "alias.example",
            Some(30),
            ZoneRecord::Cname("h.example.".into()),
        )
        .add_record(
            "m.example",
            Some(5),
            ZoneRecord::Mx(Mx {
                preference: 0,
                exchange: ".".into(),
            }),
        );
        assert_eq!(block(z.a("h.example")).unwrap().ttl, 60);
        assert_eq!(block(z.txt("h.example")).unwrap().ttl, DEFAULT_TTL);
        assert_eq!(block(z.a("alias.example")).unwrap().ttl, 30);
        let mx = block(z.mx("m.example")).unwrap();
        assert_eq!((mx.ttl, mx.records[0].exchange.as_str()), (5, ""));
        assert_eq!(
            ZoneRecord::A(Ipv4Addr::LOCALHOST).record_type(),
            RecordType::A
        );
        // set_ttl overrides every record at the name, and applies to later
        // records added without a TTL.
        z.set_ttl("h.example", 7);
        assert_eq!(block(z.a("h.example")).unwrap().ttl, 7);
        z.add_a("h.example", Ipv4Addr::new(192, 0, 2, 3));
        assert_eq!(block(z.a("h.example")).unwrap().ttl, 7);
        assert_eq!(block(z.txt("h.example")).unwrap().ttl, 7);
    }
}
