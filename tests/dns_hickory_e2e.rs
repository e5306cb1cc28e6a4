//! End to end: a real authoritative DNS server (hickory-server, in process)
//! on 127.0.0.1, queried through `HickoryResolver::with_nameservers` over UDP
//! with TCP fallback on truncation. Nothing leaves the loopback interface.
#![cfg(feature = "hickory")]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use hickory_server::Server;
use hickory_server::proto::op::{Edns, Message, Query};
use hickory_server::proto::rr::rdata::{A, AAAA, CNAME, MX, NS, PTR, SOA, TXT};
use hickory_server::proto::rr::{LowerName, Name, RData, Record, RecordType};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneHandler, ZoneType};
use tokio::net::{TcpListener, UdpSocket};

use sender_auth::dns::cache::CachingResolver;
use sender_auth::dns::hickory::{HickoryConfig, HickoryResolver};
use sender_auth::dns::{DnsError, Mx, Resolver, Txt};
use sender_auth::iprev::{self, IprevConfig, IprevResult};

const TTL: u32 = 300;

fn name(s: &str) -> Name {
    Name::from_str(s).unwrap()
}

/// A 4096-bit RSA DKIM key record as published (RFC 6376 §3.6.1): the
/// standard SubjectPublicKeyInfo prefix for a 4096-bit key followed by
/// deterministic filler up to the 736 base64 characters such a key has.
fn dkim_4096_text() -> String {
    let prefix = "MIICIjANBgkqhkiG9w0BAQEFAAOCAg8AMIICCgKCAgEA";
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut p = String::from(prefix);
    let mut x: u32 = 12345;
    while p.len() < 728 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        p.push(char::from(alphabet[((x >> 16) % 64) as usize]));
    }
    p.push_str("IDAQAB==");
    format!("v=DKIM1; k=rsa; p={p}")
}

/// A TXT record of more than 4 KB: 20 strings of 255 octets (5100 octets),
/// far beyond any UDP payload the resolver advertises (1232).
fn big_strings() -> Vec<Vec<u8>> {
    (0..20u8)
        .map(|i| {
            (0..255u32)
                .map(|j| b'a' + ((u32::from(i) + j) % 26) as u8)
                .collect()
        })
        .collect()
}

fn chunks(text: &str) -> Vec<&[u8]> {
    text.as_bytes().chunks(255).collect()
}

fn rec(owner: &str, data: RData) -> Record {
    Record::from_rdata(name(owner), TTL, data)
}

fn zone(origin: &str, records: Vec<Record>) -> Arc<InMemoryZoneHandler> {
    let mut z: InMemoryZoneHandler =
        InMemoryZoneHandler::empty(name(origin), ZoneType::Primary, AxfrPolicy::Deny);
    let soa = SOA::new(
        name(&format!("ns.{origin}")),
        name(&format!("hostmaster.{origin}")),
        1,
        3600,
        600,
        86400,
        60,
    );
    assert!(z.upsert_mut(rec(origin, RData::SOA(soa)), 1));
    assert!(z.upsert_mut(rec(origin, RData::NS(NS(name(&format!("ns.{origin}"))))), 1));
    for r in records {
        let shown = format!("{r:?}");
        assert!(z.upsert_mut(r, 1), "insert {shown}");
    }
    Arc::new(z)
}

/// The served zones, and a handle on `example.com.` to change it live.
fn catalog() -> (Catalog, Arc<InMemoryZoneHandler>) {
    let dkim = dkim_4096_text();
    let big = big_strings();
    let example = zone(
        "example.com.",
        vec![
            rec(
                "mail.example.com.",
                RData::A(A(Ipv4Addr::new(192, 0, 2, 1))),
            ),
            rec(
                "mail.example.com.",
                RData::A(A(Ipv4Addr::new(192, 0, 2, 2))),
            ),
            rec(
                "mail.example.com.",
                RData::AAAA(AAAA("2001:db8::1".parse().unwrap())),
            ),
            rec(
                "example.com.",
                RData::MX(MX::new(10, name("mail.example.com."))),
            ),
            rec(
                "example.com.",
                RData::MX(MX::new(20, name("backup.example.net."))),
            ),
            rec(
                "example.com.",
                RData::TXT(TXT::from_bytes(vec![b"v=spf1 ip4:192.0.2.0/24 ", b"-all"])),
            ),
            rec(
                "multi.example.com.",
                RData::TXT(TXT::from_bytes(vec![b"first"])),
            ),
            rec(
                "multi.example.com.",
                RData::TXT(TXT::from_bytes(vec![b"second"])),
            ),
            rec(
                "bin.example.com.",
                RData::TXT(TXT::from_bytes(vec![&[0u8, 0xff, b'"', b'\\', 0x80][..]])),
            ),
            rec(
                "sel._domainkey.example.com.",
                RData::TXT(TXT::from_bytes(chunks(&dkim))),
            ),
            rec(
                "big.example.com.",
                RData::TXT(TXT::from_bytes(big.iter().map(Vec::as_slice).collect())),
            ),
            rec(
                "alias.example.com.",
                RData::CNAME(CNAME(name("mail.example.com."))),
            ),
            rec(
                "dangling.example.com.",
                RData::CNAME(CNAME(name("gone.example.com."))),
            ),
            rec(
                "x.ent.example.com.",
                RData::A(A(Ipv4Addr::new(192, 0, 2, 99))),
            ),
        ],
    );
    let reverse4 = zone(
        "2.0.192.in-addr.arpa.",
        vec![rec(
            "1.2.0.192.in-addr.arpa.",
            RData::PTR(PTR(name("mail.example.com."))),
        )],
    );
    let reverse6 = zone(
        "8.b.d.0.1.0.0.2.ip6.arpa.",
        vec![rec(
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.",
            RData::PTR(PTR(name("Mail.Example.com."))),
        )],
    );
    let mut catalog = Catalog::new();
    let handle = example.clone();
    for (origin, z) in [
        ("example.com.", example),
        ("2.0.192.in-addr.arpa.", reverse4),
        ("8.b.d.0.1.0.0.2.ip6.arpa.", reverse6),
    ] {
        let z: Arc<dyn ZoneHandler> = z;
        catalog.upsert(LowerName::new(&name(origin)), vec![z]);
    }
    (catalog, handle)
}

/// Starts the server on 127.0.0.1: UDP always, TCP on the same port when
/// `tcp` is set. Returns the address, the server (dropping it stops it) and
/// a handle on the `example.com.` zone.
async fn start_server(tcp: bool) -> (SocketAddr, Server<Catalog>, Arc<InMemoryZoneHandler>) {
    let (catalog, handle) = catalog();
    let mut server = Server::new(catalog);
    // Bind TCP first on an ephemeral port, then UDP on the same port.
    let (addr, listener) = loop {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        if let Ok(udp) = UdpSocket::bind(addr).await {
            server.register_socket(udp);
            break (addr, listener);
        }
    };
    if tcp {
        server.register_listener(listener, Duration::from_secs(5), 32);
    } else {
        drop(listener);
    }
    (addr, server, handle)
}

fn config() -> HickoryConfig {
    HickoryConfig {
        timeout: Duration::from_secs(2),
        attempts: 1,
        ..HickoryConfig::default()
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A raw UDP query with an EDNS0 payload of 1232 (what the resolver
/// advertises): returns (TC bit, number of answers).
async fn raw_udp_query(server: SocketAddr, qname: &str, qtype: RecordType) -> (bool, usize) {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut msg = Message::query();
    msg.add_query(Query::query(name(qname), qtype));
    let mut edns = Edns::new();
    edns.set_max_payload(1232);
    msg.set_edns(edns);
    sock.send_to(&msg.to_vec().unwrap(), server).await.unwrap();
    let mut buf = vec![0u8; 65_535];
    let (n, _) = tokio::time::timeout(Duration::from_secs(5), sock.recv_from(&mut buf))
        .await
        .expect("server answers over UDP")
        .unwrap();
    assert!(
        n <= 1232,
        "UDP answer of {n} octets exceeds the advertised payload"
    );
    let resp = Message::from_vec(&buf[..n]).unwrap();
    (resp.metadata.truncation, resp.answers.len())
}

#[test]
fn answers_over_udp_and_tcp_fallback() {
    rt().block_on(async {
        let (addr, _server, _zone) = start_server(true).await;
        let r = HickoryResolver::with_nameservers(&[addr], config()).unwrap();

        // A (two records), with the TTL the server sent; names absolute or not.
        let a = r.a("mail.example.com").await.unwrap();
        assert_eq!(
            &a.records[..],
            &[Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 2)]
        );
        assert_eq!(a.ttl, TTL);
        assert_eq!(r.a("MAIL.example.com.").await.unwrap().len(), 2);

        // AAAA
        let aaaa = r.aaaa("mail.example.com").await.unwrap();
        assert_eq!(
            &aaaa.records[..],
            &["2001:db8::1".parse::<Ipv6Addr>().unwrap()]
        );

        // MX: exchanges without trailing dot.
        let mut mx: Vec<Mx> = r.mx("example.com").await.unwrap().iter().cloned().collect();
        mx.sort_by_key(|m| m.preference);
        assert_eq!(
            mx,
            vec![
                Mx {
                    preference: 10,
                    exchange: "mail.example.com".into()
                },
                Mx {
                    preference: 20,
                    exchange: "backup.example.net".into()
                }
            ]
        );

        // PTR for IPv4, IPv4-mapped IPv6 and IPv6; names without trailing dot.
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let p = r.ptr(ip).await.unwrap();
        assert_eq!(&p.records[..], &["mail.example.com".to_string()]);
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(r.ptr(mapped).await.unwrap().records, p.records);
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        let p6 = r.ptr(v6).await.unwrap();
        // (DNS names compare case-insensitively; servers may change case.)
        assert_eq!(p6.len(), 1);
        assert!(p6.records[0].eq_ignore_ascii_case("mail.example.com"));
        assert_eq!(
            r.ptr("192.0.2.55".parse().unwrap()).await,
            Err(DnsError::NxDomain)
        );
        // The data path iprev (FCrDNS) takes: PTR, then A of each name.
        let mut confirmed = false;
        for host in p.iter() {
            let fwd = r.a(host).await.unwrap();
            confirmed |= fwd.iter().any(|a| IpAddr::V4(*a) == ip);
        }
        assert!(confirmed, "192.0.2.1 is forward-confirmed");
        // And iprev itself, through the production resolver.
        let cfg = IprevConfig::default();
        let out = iprev::check(&r, ip, &cfg).await;
        assert_eq!(out.result, IprevResult::Pass, "{}", out.reason);
        assert_eq!(out.names, ["mail.example.com"]);
        let out = iprev::check(&r, mapped, &cfg).await;
        assert_eq!(out.result, IprevResult::Pass, "{}", out.reason);
        let out = iprev::check(&r, "192.0.2.55".parse().unwrap(), &cfg).await;
        assert_eq!(out.result, IprevResult::PermError);

        // TXT: character-strings kept, one Txt per RR, raw bytes.
        let spf = r.txt("example.com").await.unwrap();
        assert_eq!(spf.len(), 1);
        assert_eq!(
            spf.records[0],
            Txt::new([&b"v=spf1 ip4:192.0.2.0/24 "[..], b"-all"])
        );
        let multi = r.txt("multi.example.com").await.unwrap();
        let mut texts: Vec<Vec<u8>> = multi.iter().map(Txt::concat).collect();
        texts.sort();
        assert_eq!(texts, vec![b"first".to_vec(), b"second".to_vec()]);
        let bin = r.txt("bin.example.com").await.unwrap();
        assert_eq!(
            bin.records[0].strings()[0],
            vec![0u8, 0xff, b'"', b'\\', 0x80]
        );

        // CNAME followed; only records of the asked type returned.
        let alias = r.a("alias.example.com").await.unwrap();
        assert_eq!(alias.len(), 2);
        assert_eq!(
            r.txt("alias.example.com").await,
            Err(DnsError::NoData),
            "CNAME to a name without TXT is NODATA"
        );

        // A CNAME to a name that does not exist is NXDOMAIN (RFC 6604).
        assert_eq!(r.a("dangling.example.com").await, Err(DnsError::NxDomain));

        // NXDOMAIN vs NODATA.
        assert_eq!(r.a("nope.example.com").await, Err(DnsError::NxDomain));
        assert_eq!(r.txt("nope.example.com").await, Err(DnsError::NxDomain));
        assert_eq!(r.txt("mail.example.com").await, Err(DnsError::NoData));
        assert_eq!(r.mx("mail.example.com").await, Err(DnsError::NoData));
        assert_eq!(r.aaaa("example.com").await, Err(DnsError::NoData));
        // An empty non-terminal exists: NODATA, not NXDOMAIN (RFC 8020).
        assert_eq!(r.a("ent.example.com").await, Err(DnsError::NoData));

        // A name in no zone this server serves: REFUSED → ServFail.
        assert_eq!(r.a("example.org").await, Err(DnsError::ServFail));

        // Malformed names never reach the network.
        assert!(matches!(
            r.txt("a..example.com").await,
            Err(DnsError::InvalidName(_))
        ));
        assert!(matches!(
            r.txt(&format!("{}.example.com", "x".repeat(64))).await,
            Err(DnsError::InvalidName(_))
        ));

        // A 4096-bit DKIM key record arrives intact.
        let dkim = r.txt("sel._domainkey.example.com").await.unwrap();
        assert_eq!(dkim.len(), 1);
        assert_eq!(dkim.records[0].concat(), dkim_4096_text().as_bytes());
        assert_eq!(dkim.records[0].strings().len(), 3);

        // > 4 KB: the server truncates it over UDP (TC set, no answer) ...
        let (tc, answers) = raw_udp_query(addr, "big.example.com.", RecordType::TXT).await;
        assert!(
            tc,
            "the server must set TC for a 5100-octet answer over UDP"
        );
        assert_eq!(answers, 0);
        // ... and small answers are not truncated.
        let (tc, answers) = raw_udp_query(addr, "mail.example.com.", RecordType::A).await;
        assert!(!tc);
        assert_eq!(answers, 2);
        // ... yet the resolver returns the whole record: it retried over TCP.
        let big = r.txt("big.example.com").await.unwrap();
        assert_eq!(big.len(), 1);
        assert_eq!(big.records[0].strings(), &big_strings()[..]);
        assert_eq!(big.records[0].len(), 5100);

        // The cache wrapper works around the production resolver too.
        let cached = CachingResolver::new(r.clone());
        cached.txt("big.example.com").await.unwrap();
        cached.txt("big.example.com").await.unwrap();
        cached.a("nope.example.com").await.unwrap_err();
        cached.a("nope.example.com").await.unwrap_err();
        let s = cached.stats();
        assert_eq!((s.hits, s.misses), (2, 2));
    });
}

/// hickory's own response cache is off: a change on the server is seen by
/// the very next query, and TTLs are exactly what the server sent.
#[test]
fn no_resolver_side_caching() {
    rt().block_on(async {
        let (addr, _server, zone) = start_server(true).await;
        let r = HickoryResolver::with_nameservers(&[addr], config()).unwrap();
        assert_eq!(r.a("new.example.com").await, Err(DnsError::NxDomain));
        assert_eq!(r.txt("example.com").await.unwrap().len(), 1);
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let added = Record::from_rdata(
            name("new.example.com."),
            42,
            RData::A(A(Ipv4Addr::new(192, 0, 2, 42))),
        );
        assert!(zone.upsert(added, 2).await);
        let extra = rec(
            "example.com.",
            RData::TXT(TXT::from_bytes(vec![b"google-site-verification=x"])),
        );
        assert!(zone.upsert(extra, 3).await);
        let a = r.a("new.example.com").await.unwrap();
        assert_eq!(&a.records[..], &[Ipv4Addr::new(192, 0, 2, 42)]);
        assert_eq!(a.ttl, 42);
        let txt = r.txt("example.com").await.unwrap();
        assert_eq!(txt.len(), 2);
        assert_eq!(txt.ttl, TTL, "not decremented by a resolver-side cache");
    });
}

/// Proof that the large answer needs TCP: against the same server without
/// a TCP listener, small answers still work over UDP but the large TXT
/// record fails instead of arriving truncated or empty.
#[test]
fn large_answer_fails_without_tcp() {
    rt().block_on(async {
        let (addr, _server, _zone) = start_server(false).await;
        let r = HickoryResolver::with_nameservers(&[addr], config()).unwrap();
        assert_eq!(r.a("mail.example.com").await.unwrap().len(), 2);
        let dkim = r.txt("sel._domainkey.example.com").await.unwrap();
        assert_eq!(dkim.records[0].concat(), dkim_4096_text().as_bytes());
        let big = r.txt("big.example.com").await;
        // hickory reports the UDP answer was truncated and TCP failed.
        assert!(
            matches!(big, Err(DnsError::Other(ref m)) if m.contains("truncated")),
            "expected a truncation error, got {big:?}"
        );
    });
}

/// A server that never answers: the lookup ends with Timeout within the
/// configured bound.
#[test]
fn silent_server_times_out() {
    rt().block_on(async {
        // A bound socket nobody reads; TCP to this port is refused.
        let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = silent.local_addr().unwrap();
        let cfg = HickoryConfig {
            timeout: Duration::from_millis(300),
            attempts: 0,
            ..HickoryConfig::default()
        };
        let r = HickoryResolver::with_nameservers(&[addr], cfg).unwrap();
        let start = std::time::Instant::now();
        let res = r.a("mail.example.com").await;
        assert_eq!(res, Err(DnsError::Timeout));
        assert!(start.elapsed() < cfg.overall_deadline() + Duration::from_secs(1));
        drop(silent);
    });
}
