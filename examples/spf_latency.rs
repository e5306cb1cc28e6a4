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
//! The graph (8 DNS-querying terms, 13 queries, client 198.51.100.5 matching
//! only at the last term): `bench.example: v=spf1 include:_spf.a
//! include:_spf.b mx a ip4:198.51.100.0/28 -all`, `_spf.a → include:_nb.a →
//! mx:a.example`, `_spf.b → include:_s1.b → include:_s2.b`.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::{A, MX, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use sender_auth::dns::hickory::{HickoryConfig, HickoryResolver};
use sender_auth::spf::{SpfConfig, SpfRecordCache, SpfResult, check_host};
use tokio::net::UdpSocket;

type Zone = HashMap<String, Vec<(RecordType, RData)>>;

fn zone() -> Zone {
    let mut z: Zone = HashMap::new();
    let mut add = |n: &str, t: RecordType, d: RData| {
        z.entry(n.to_string()).or_default().push((t, d));
    };
    let txt = |s: &str| RData::TXT(TXT::new(vec![s.to_string()]));
    let name = |s: &str| Name::from_str(s).expect("name");
    add(
        "bench.example",
        RecordType::TXT,
        txt("v=spf1 include:_spf.a include:_spf.b mx a ip4:198.51.100.0/28 -all"),
    );
    add("_spf.a", RecordType::TXT, txt("v=spf1 include:_nb.a -all"));
    add("_nb.a", RecordType::TXT, txt("v=spf1 mx:a.example -all"));
    add("_spf.b", RecordType::TXT, txt("v=spf1 include:_s1.b -all"));
    add("_s1.b", RecordType::TXT, txt("v=spf1 include:_s2.b -all"));
    add(
        "_s2.b",
        RecordType::TXT,
        txt("v=spf1 ip4:203.0.113.0/24 -all"),
    );
    for (owner, hosts) in [
        ("a.example", ["mx1.a.example.", "mx2.a.example."]),
        (
            "bench.example",
            ["mx1.bench.example.", "mx2.bench.example."],
        ),
    ] {
        for (i, h) in hosts.iter().enumerate() {
            add(
                owner,
                RecordType::MX,
                RData::MX(MX::new(10 * (i as u16 + 1), name(h))),
            );
        }
    }
    for (n, ip) in [
        ("mx1.a.example", [192, 0, 2, 1]),
        ("mx2.a.example", [192, 0, 2, 2]),
        ("mx1.bench.example", [192, 0, 2, 11]),
        ("mx2.bench.example", [192, 0, 2, 12]),
        ("bench.example", [192, 0, 2, 20]),
    ] {
        add(n, RecordType::A, RData::A(A(Ipv4Addr::from(ip))));
    }
    z
}

/// Answers `req` from `zone` (NXDOMAIN for unknown names, NODATA for a
/// missing type).
fn answer(zone: &Zone, req: &Message) -> Option<Vec<u8>> {
    let q = req.queries.first()?.clone();
    let key = q
        .name()
        .to_ascii()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let mut resp = Message::new(req.metadata.id, MessageType::Response, req.metadata.op_code);
    resp.metadata.authoritative = true;
    resp.metadata.recursion_desired = req.metadata.recursion_desired;
    resp.add_query(q.clone());
    match zone.get(&key) {
        None => resp.metadata.response_code = ResponseCode::NXDomain,
        Some(rrs) => {
            for (t, d) in rrs {
                if *t == q.query_type() {
                    resp.add_answer(Record::from_rdata(q.name().clone(), 300, d.clone()));
                }
            }
        }
    }
    resp.to_vec().ok()
}

/// Serves `zone` on a fresh 127.0.0.1 UDP port, every answer `delay` late.
async fn serve(zone: Zone, delay: Duration, served: Arc<AtomicUsize>) -> SocketAddr {
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
                if let Some(bytes) = answer(&zone, &req) {
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
    let addr = serve(zone(), delay, served.clone()).await;
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
            assert_eq!(out.result, SpfResult::Pass, "{}", out.reason);
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
