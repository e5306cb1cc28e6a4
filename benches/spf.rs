//! SPF `check_host` over the graph of issue 6 with DNS in memory, the
//! parsed-record cache cold and warm, sequential and with prefetch; and
//! DMARC evaluation given the SPF/DKIM results.
//!
//! `bench.example: v=spf1 include:_spf.a include:_spf.b mx a
//! ip4:198.51.100.0/28 -all`, `_spf.a → include:_nb.a → mx:a.example`,
//! `_spf.b → include:_s1.b → include:_s2.b`: 8 DNS-querying terms, 13
//! queries, the client 198.51.100.5 matching only at the last term (the
//! zone is the one `tests/spf_prefetch.rs` checks for 8 terms/13 queries).
//!
//! Two in-memory resolvers: [`Lean`] (a `HashMap` lookup, hashed with
//! foldhash, and an `Arc` clone per query: what the evaluator itself costs) and `ZoneResolver`
//! (which also locks a mutex and appends to its query log per query).
//!
//! Run: `cargo bench --bench spf` (short: `-- --warm-up-time 1
//! --measurement-time 3`).

use std::future::Future;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use foldhash::HashMap;

use criterion::{Criterion, criterion_group};
use sender_auth::dmarc::{DkimEvidence, DmarcConfig, SpfEvidence, evaluate};
use sender_auth::dns::zone::ZoneResolver;
use sender_auth::dns::{Answer, DnsError, DnsResult, Mx, Resolver, Txt};
use sender_auth::spf::record::Record;
use sender_auth::spf::{SpfConfig, SpfOutput, SpfRecordCache, SpfResult, check_host};

/// The graph, shared with `tests/spf_prefetch.rs` and
/// `examples/spf_latency.rs`.
const GRAPH: &str = include_str!("spf_graph.zone");

/// Every owner name in [`GRAPH`] (for [`Lean::bench`]).
const NAMES: &[&str] = &[
    "bench.example",
    "_spf.a",
    "_nb.a",
    "_spf.b",
    "_s1.b",
    "_s2.b",
    "a.example",
    "mx1.a.example",
    "mx2.a.example",
    "mx1.bench.example",
    "mx2.bench.example",
];

fn zone() -> ZoneResolver {
    ZoneResolver::from_master_file(GRAPH, None).expect("benches/spf_graph.zone")
}

/// A lean in-memory resolver: one `HashMap` lookup and an `Arc` clone per
/// query (names are stored lower-case without trailing dot; the bench's
/// names already are). The maps hash with foldhash (since session 5; with
/// std's SipHash-1-3 the 7 answers of a check cost ≈ 1.2k instructions
/// more), as a lean in-memory DNS stub would.
#[derive(Default)]
struct Lean {
    txt: HashMap<String, Answer<Txt>>,
    a: HashMap<String, Answer<Ipv4Addr>>,
    mx: HashMap<String, Answer<Mx>>,
}

impl Lean {
    /// [`GRAPH`]'s records, read through a `ZoneResolver` once.
    fn bench() -> Self {
        let zone = zone();
        let mut l = Lean::default();
        block_on(async {
            for n in NAMES {
                if let Ok(a) = zone.txt(n).await {
                    l.txt.insert(n.to_string(), a);
                }
                if let Ok(a) = zone.a(n).await {
                    l.a.insert(n.to_string(), a);
                }
                if let Ok(a) = zone.mx(n).await {
                    l.mx.insert(n.to_string(), a);
                }
            }
        });
        l
    }
}

/// Polls a future that never waits (the `ZoneResolver` answers at once).
fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(f)
}

fn get<T: Clone>(m: &HashMap<String, Answer<T>>, name: &str) -> DnsResult<T> {
    m.get(name.strip_suffix('.').unwrap_or(name))
        .cloned()
        .ok_or(DnsError::NxDomain)
}

impl Resolver for Lean {
    fn txt(&self, name: &str) -> impl Future<Output = DnsResult<Txt>> + Send {
        std::future::ready(get(&self.txt, name))
    }
    fn a(&self, name: &str) -> impl Future<Output = DnsResult<Ipv4Addr>> + Send {
        std::future::ready(get(&self.a, name))
    }
    fn aaaa(&self, _name: &str) -> impl Future<Output = DnsResult<Ipv6Addr>> + Send {
        std::future::ready(Err(DnsError::NoData))
    }
    fn mx(&self, name: &str) -> impl Future<Output = DnsResult<Mx>> + Send {
        std::future::ready(get(&self.mx, name))
    }
    fn ptr(&self, _ip: IpAddr) -> impl Future<Output = DnsResult<String>> + Send {
        std::future::ready(Err(DnsError::NxDomain))
    }
    // Everything is answered at once: the synchronous fast path.
    fn txt_now(&self, name: &str) -> Option<DnsResult<Txt>> {
        Some(get(&self.txt, name))
    }
    fn a_now(&self, name: &str) -> Option<DnsResult<Ipv4Addr>> {
        Some(get(&self.a, name))
    }
    fn aaaa_now(&self, _name: &str) -> Option<DnsResult<Ipv6Addr>> {
        Some(Err(DnsError::NoData))
    }
    fn mx_now(&self, name: &str) -> Option<DnsResult<Mx>> {
        Some(get(&self.mx, name))
    }
    fn ptr_now(&self, _ip: IpAddr) -> Option<DnsResult<String>> {
        Some(Err(DnsError::NxDomain))
    }
}

/// The bench's client, 198.51.100.5 (a constant: parsing the text on every
/// check, as this bench did up to session 4, added ≈ 0.45k instructions of
/// harness work to every row).
fn client() -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(198, 51, 100, 5))
}

/// `check_host` of `domain` for the bench's client and sender.
fn check<'a, R: Resolver>(
    r: &'a R,
    domain: &'a str,
    cfg: &'a SpfConfig,
) -> impl Future<Output = SpfOutput> + 'a {
    check_host(r, client(), domain, "u@bench.example", "h.example", cfg)
}

fn configs() -> Vec<(&'static str, SpfConfig)> {
    let warm = Arc::new(SpfRecordCache::new(1000));
    let mut v = Vec::new();
    for (mode, prefetch) in [("sequential", false), ("prefetch", true)] {
        v.push((
            if prefetch {
                "cold/prefetch"
            } else {
                "cold/sequential"
            },
            SpfConfig {
                prefetch,
                ..SpfConfig::default()
            },
        ));
        v.push((
            if prefetch {
                "warm/prefetch"
            } else {
                "warm/sequential"
            },
            SpfConfig {
                prefetch,
                record_cache: Some(warm.clone()),
                ..SpfConfig::default()
            },
        ));
        let _ = mode;
    }
    // The warm sequential check without compiled plans (as up to session
    // 5), for comparison.
    let unplanned = Arc::new(SpfRecordCache::new(1000).with_compiled_plans(false));
    v.push((
        "warm/plans-off/sequential",
        SpfConfig {
            prefetch: false,
            record_cache: Some(unplanned),
            ..SpfConfig::default()
        },
    ));
    v
}

fn bench_spf(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let lean = Lean::bench();
    let zone = zone();
    let mut g = c.benchmark_group("spf_check_host");
    for (name, cfg) in configs() {
        // Sanity (and fills the warm cache).
        let out = rt.block_on(check(&lean, "bench.example", &cfg));
        assert_eq!(out.result, SpfResult::Pass);
        assert_eq!(out.dns_lookups, 8);
        g.bench_function(format!("lean/{name}"), |b| {
            b.to_async(&rt).iter(|| async {
                black_box(
                    check_host(
                        &lean,
                        black_box(client()),
                        "bench.example",
                        "u@bench.example",
                        "h.example",
                        &cfg,
                    )
                    .await,
                )
            })
        });
        g.bench_function(format!("zone/{name}"), |b| {
            b.to_async(&rt).iter(|| async {
                zone.clear_queries();
                black_box(
                    check_host(
                        &zone,
                        black_box(client()),
                        "bench.example",
                        "u@bench.example",
                        "h.example",
                        &cfg,
                    )
                    .await,
                )
            })
        });
    }
    // The parsing a cold check does and a warm one skips.
    let records: Vec<Vec<u8>> = Lean::bench()
        .txt
        .values()
        .map(|a| a.records[0].concat())
        .collect();
    assert_eq!(records.len(), 6);
    g.bench_function("parse_6_records", |b| {
        b.iter(|| {
            for t in &records {
                black_box(Record::parse(black_box(t)).ok());
            }
        })
    });
    g.finish();
}

fn bench_dmarc(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let mut z = ZoneResolver::new();
    z.add_txt(
        "_dmarc.example.com",
        ["v=DMARC1; p=reject; rua=mailto:dmarc@example.com; adkim=r; aspf=r"],
    );
    let cfg = DmarcConfig::default();
    let spf = SpfEvidence {
        result_pass: true,
        domain: "bounce.example.com",
    };
    let dkim = [DkimEvidence {
        pass: true,
        domain: "example.com",
        testing: false,
        unsigned_content: false,
    }];
    let out = rt.block_on(evaluate(&z, "news.example.com", Some(spf), &dkim, &cfg));
    assert_eq!(out.result.to_string(), "pass", "{out:?}");
    c.bench_function("dmarc_evaluate/zone/tree_walk_2_queries", |b| {
        b.to_async(&rt).iter(|| async {
            z.clear_queries();
            black_box(
                evaluate(
                    &z,
                    black_box("news.example.com"),
                    Some(SpfEvidence {
                        result_pass: true,
                        domain: "bounce.example.com",
                    }),
                    &dkim,
                    &cfg,
                )
                .await,
            )
        })
    });
}

criterion_group!(benches, bench_spf, bench_dmarc);

/// CPU time of this thread in ns (`/proc/thread-self/schedstat`, first
/// field), or `None` where unavailable.
fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// `SPF_CPU_TIME=1 cargo bench --bench spf`: instead of criterion, runs
/// each check_host row for about a second and prints wall time *and* this
/// thread's CPU time per check (`SPF_CPU_ROW=<text>`: only the rows whose
/// name contains it, here and in the breakdown). On a shared, oversubscribed machine the
/// CPU time is the figure that does not include other processes' turns.
fn cpu_report() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let lean = Lean::bench();
    let zone = zone();
    println!("row                               wall/check   cpu/check   (checks)");
    // `SPF_CPU_ROW=lean/warm` runs only the rows containing that text (for
    // profiling one row).
    let only = std::env::var("SPF_CPU_ROW").unwrap_or_default();
    for (name, cfg) in configs() {
        for (rname, which) in [("lean", 0), ("zone", 1)] {
            if !format!("{rname}/{name}").contains(&only) {
                continue;
            }
            let one = || async {
                if which == 0 {
                    check(&lean, "bench.example", &cfg).await
                } else {
                    zone.clear_queries();
                    check(&zone, "bench.example", &cfg).await
                }
            };
            // Warm up (and fill the warm cache).
            rt.block_on(async {
                for _ in 0..1000 {
                    black_box(one().await);
                }
            });
            let mut n: u64 = 0;
            let wall = std::time::Instant::now();
            let cpu0 = thread_cpu_ns();
            rt.block_on(async {
                while wall.elapsed() < std::time::Duration::from_secs(1) {
                    for _ in 0..1000 {
                        black_box(one().await);
                    }
                    n += 1000;
                }
            });
            let wall_ns = wall.elapsed().as_nanos() as f64 / n as f64;
            let cpu = match (cpu0, thread_cpu_ns()) {
                (Some(a), Some(b)) => format!("{:8.3} µs", (b - a) as f64 / n as f64 / 1e3),
                _ => "       n/a".to_string(),
            };
            println!(
                "{:32} {:8.3} µs {}   ({n})",
                format!("{rname}/{name}"),
                wall_ns / 1e3,
                cpu
            );
        }
    }
}

/// Where the warm time goes: the same warm sequential check polled outside
/// any runtime (so the check's time budget timer is not armed), and a
/// trivial one-record policy (fixed cost of a check).
fn cpu_breakdown() {
    use futures_util::FutureExt;
    let lean = Lean::bench();
    let mut trivial = Lean::default();
    trivial.txt.insert(
        "t.example".to_string(),
        Answer::new(vec![Txt::new(["v=spf1 -all"])], 3600),
    );
    let warm = SpfConfig {
        prefetch: false,
        record_cache: Some(Arc::new(SpfRecordCache::new(100))),
        ..SpfConfig::default()
    };
    for (name, r, d) in [
        ("lean/warm/sequential, no runtime", &lean, "bench.example"),
        ("trivial -all, warm, no runtime", &trivial, "t.example"),
    ] {
        if !name.contains(&std::env::var("SPF_CPU_ROW").unwrap_or_default()) {
            continue;
        }
        let one = || {
            check_host(r, client(), d, "u@bench.example", "h.example", &warm)
                .now_or_never()
                .expect("in-memory check completes at once")
        };
        for _ in 0..1000 {
            black_box(one());
        }
        let n = 300_000u64;
        let wall = std::time::Instant::now();
        let cpu0 = thread_cpu_ns();
        for _ in 0..n {
            black_box(one());
        }
        let wall_ns = wall.elapsed().as_nanos() as f64 / n as f64;
        let cpu = match (cpu0, thread_cpu_ns()) {
            (Some(a), Some(b)) => format!("{:8.3} µs", (b - a) as f64 / n as f64 / 1e3),
            _ => "       n/a".to_string(),
        };
        println!("{name:32} {:8.3} µs {cpu}   ({n})", wall_ns / 1e3);
    }
}

/// `SPF_ICOUNT=<n> SPF_CPU_ROW=<row>`: runs that row (one of
/// `lean/warm/sequential`, `lean/cold/sequential`, `lean/warm/prefetch`,
/// `zone/warm/sequential`, `trivial`) 10 times, then `n` times, and exits.
/// Under `valgrind --tool=callgrind`, the instructions of `n = 1000` minus
/// those of `n = 0`, divided by 1000, are the instructions per check: a
/// figure that does not depend on the machine's load.
fn icount() {
    use futures_util::FutureExt;
    let n: u64 = std::env::var("SPF_ICOUNT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let row = std::env::var("SPF_CPU_ROW").unwrap_or_default();
    let lean = Lean::bench();
    let zone = zone();
    let mut trivial = Lean::default();
    trivial.txt.insert(
        "t.example".to_string(),
        Answer::new(vec![Txt::new(["v=spf1 -all"])], 3600),
    );
    let (kind, rest) = row
        .split_once('/')
        .unwrap_or((row.as_str(), "warm/sequential"));
    let cfg = configs()
        .into_iter()
        .find(|(name, _)| *name == rest)
        .map(|(_, c)| c)
        .expect("row");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let one = || match kind {
        "lean" => check(&lean, "bench.example", &cfg).now_or_never(),
        "zone" => {
            zone.clear_queries();
            check(&zone, "bench.example", &cfg).now_or_never()
        }
        _ => check(&trivial, "t.example", &cfg).now_or_never(),
    };
    rt.block_on(async {
        for _ in 0..10 {
            black_box(one().expect("answered at once"));
        }
        for _ in 0..n {
            black_box(one().expect("answered at once"));
        }
    });
}

fn main() {
    if std::env::var_os("SPF_ICOUNT").is_some() {
        icount();
        return;
    }
    if std::env::var_os("SPF_CPU_TIME").is_some() {
        cpu_report();
        cpu_breakdown();
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
