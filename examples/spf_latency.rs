//! SPF wall time against a DNS server that delays every answer.
//!
//! Starts a tiny authoritative UDP responder on 127.0.0.1 (hickory-proto
//! for the wire format) that answers every query after a fixed delay
//! (20 ms by default), then runs `check_host` for the graph of issue 6
//! through `HickoryResolver::with_nameservers`, sequentially and with
//! speculative prefetch, and with a warm parsed-record cache; it prints
//! the wall time of each (minimum and median of several runs) and the
//! number of queries the server answered per check.
//!
//! ```text
//! cargo run --release --example spf_latency            # 20 ms, 7 runs
//! cargo run --release --example spf_latency -- 50 11   # 50 ms, 11 runs
//! ```
//!
//! The graph (`benches/spf_graph.zone`, shared with the bench and
//! `tests/spf_prefetch.rs`; 8 DNS-querying terms, 13 queries, client
//! 198.51.100.5 matching only at the last term): `bench.example: v=spf1 include:_spf.a
//! include:_spf.b mx a ip4:198.51.100.0/28 -all`, `_spf.a → include:_nb.a →
//! mx:a.example`, `_spf.b → include:_s1.b → include:_s2.b`.

use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::{A, MX, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use sender_auth::dns::hickory::{HickoryConfig, HickoryResolver};
use sender_auth::dns::zone::ZoneResolver;
use sender_auth::dns::{DnsError, Resolver};
use sender_auth::spf::{SpfConfig, SpfRecordCache, SpfResult, check_host};
use tokio::net::UdpSocket;

/// Answers `req` from `zone` (NXDOMAIN and NODATA as the zone says; this
/// example only needs TXT, MX and A).
async fn answer(zone: &ZoneResolver, req: &Message) -> Option<Vec<u8>> {
    let q = req.queries.first()?.clone();
    let name = q.name().to_ascii();
    let mut resp = Message::new(req.metadata.id, MessageType::Response, req.metadata.op_code);
    resp.metadata.authoritative = true;
    resp.metadata.recursion_desired = req.metadata.recursion_desired;
    resp.add_query(q.clone());
    let rdata: Result<Vec<RData>, DnsError> = match q.query_type() {
        RecordType::TXT => zone.txt(&name).await.map(|a| {
            a.records
                .iter()
                .map(|t| {
                    RData::TXT(TXT::from_bytes(
                        t.strings().iter().map(|s| &s[..]).collect(),
                    ))
                })
                .collect()
        }),
        RecordType::MX => zone.mx(&name).await.map(|a| {
            a.records
                .iter()
                .map(|m| {
                    let exchange = Name::from_str(&m.exchange).expect("exchange");
                    RData::MX(MX::new(m.preference, exchange))
                })
                .collect()
        }),
        RecordType::A => zone
            .a(&name)
            .await
            .map(|a| a.records.iter().map(|ip| RData::A(A(*ip))).collect()),
        _ => Err(DnsError::NoData),
    };
    match rdata {
        Ok(rs) => {
            for d in rs {
                resp.add_answer(Record::from_rdata(q.name().clone(), 300, d));
            }
        }
        Err(DnsError::NxDomain) => resp.metadata.response_code = ResponseCode::NXDomain,
        Err(_) => {}
    }
    resp.to_vec().ok()
}

/// Serves `zone` on a fresh 127.0.0.1 UDP port, every answer `delay` late.
async fn serve(zone: ZoneResolver, delay: Duration, served: Arc<AtomicUsize>) -> SocketAddr {
    let sock = Arc::new(UdpSocket::bind("127.0.0.1:0").await.expect("bind"));
    let addr = sock.local_addr().expect("addr");
    let zone = Arc::new(zone);
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        loop {
            let Ok((n, peer)) = sock.recv_from(&mut buf).await else {
                continue;
            };
            let Ok(req) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let (sock, zone, served) = (sock.clone(), zone.clone(), served.clone());
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                if let Some(bytes) = answer(&zone, &req).await {
                    served.fetch_add(1, Ordering::Relaxed);
                    let _ = sock.send_to(&bytes, peer).await;
                }
            });
        }
    });
    addr
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let delay_ms: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(20);
    let runs: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(7);
    let delay = Duration::from_millis(delay_ms);
    let served = Arc::new(AtomicUsize::new(0));
    let zone = ZoneResolver::from_master_file(include_str!("../benches/spf_graph.zone"), None)
        .expect("benches/spf_graph.zone");
    let addr = serve(zone, delay, served.clone()).await;
    let resolver =
        HickoryResolver::with_nameservers(&[addr], HickoryConfig::default()).expect("resolver");
    let ip = "198.51.100.5".parse().expect("ip");

    let warm_cache = Arc::new(SpfRecordCache::default());
    let modes: Vec<(&str, SpfConfig, bool)> = vec![
        (
            "sequential",
            SpfConfig {
                prefetch: false,
                ..SpfConfig::default()
            },
            false,
        ),
        ("prefetch", SpfConfig::default(), false),
        (
            "prefetch, speculative_terms 2",
            SpfConfig {
                speculative_terms: 2,
                ..SpfConfig::default()
            },
            false,
        ),
        (
            "sequential, warm record cache",
            SpfConfig {
                prefetch: false,
                record_cache: Some(warm_cache.clone()),
                ..SpfConfig::default()
            },
            true,
        ),
        (
            "prefetch, warm record cache",
            SpfConfig {
                record_cache: Some(warm_cache.clone()),
                ..SpfConfig::default()
            },
            true,
        ),
    ];
    println!(
        "server 127.0.0.1:{} delays every answer by {delay_ms} ms; {runs} runs per mode",
        addr.port()
    );
    for (name, cfg, warm) in &modes {
        if *warm {
            // Fill the cache once.
            let _ = check_host(
                &resolver,
                ip,
                "bench.example",
                "u@bench.example",
                "h.example",
                cfg,
            )
            .await;
        }
        let mut times = Vec::new();
        let mut queries = 0;
        for _ in 0..runs {
            let before = served.load(Ordering::Relaxed);
            let t = Instant::now();
            let out = check_host(
                &resolver,
                ip,
                "bench.example",
                "u@bench.example",
                "h.example",
                cfg,
            )
            .await;
            times.push(t.elapsed());
            assert_eq!(out.result, SpfResult::Pass, "{}", out.reason());
            assert_eq!(out.dns_lookups, 8);
            queries = served.load(Ordering::Relaxed) - before;
        }
        times.sort();
        let min = times[0];
        let median = times[times.len() / 2];
        println!(
            "{name:32} min {:7.1} ms  median {:7.1} ms  = {:4.1} x delay  ({queries} queries)",
            min.as_secs_f64() * 1e3,
            median.as_secs_f64() * 1e3,
            median.as_secs_f64() / delay.as_secs_f64(),
        );
    }
}
