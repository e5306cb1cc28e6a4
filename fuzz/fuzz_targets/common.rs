//! Shared helpers: a bounded in-memory zone derived from fuzz input, and a
//! paused-clock Tokio runtime (timeouts fire instantly once every task is
//! idle, so `Fault::Hang` answers exercise time budgets without waiting).
#![allow(dead_code)]

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use arbitrary::Arbitrary;
use sender_auth::dns::RecordType;
use sender_auth::dns::zone::{Fault, ZoneResolver};

/// Names the fuzzer can pick by index, so records reference each other.
pub const NAMES: &[&str] = &[
    "example.com",
    "a.example.com",
    "b.example.com",
    "_spf.example.com",
    "mx.example.com",
    "mail.example.com",
    "example.org",
    "sub.example.org",
    "_dmarc.example.com",
    "_dmarc.example.org",
    "_dmarc.sub.example.org",
    "sel._domainkey.example.com",
    "ed._domainkey.example.com",
    "rsa._domainkey.example.org",
    "3.2.0.192.in-addr.arpa",
    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
    "3.2.0.192.example.com",
    "com",
    "org",
    "_dmarc.com",
];

pub const IPS: &[&str] = &["192.0.2.3", "2001:db8::1", "192.0.2.4", "::ffff:192.0.2.3"];

/// A name: one of [`NAMES`], or a fuzzed string (bounded).
#[derive(Arbitrary, Debug, Clone)]
pub enum FName {
    Known(u8),
    Sub(u8, String),
    Raw(String),
}

impl FName {
    pub fn get(&self) -> String {
        match self {
            FName::Known(i) => NAMES[*i as usize % NAMES.len()].to_string(),
            FName::Sub(i, l) => {
                let l: String = l.chars().take(70).collect();
                format!("{l}.{}", NAMES[*i as usize % NAMES.len()])
            }
            FName::Raw(s) => s.chars().take(300).collect(),
        }
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum FFault {
    ServFail,
    Timeout,
    Hang,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum FType {
    Txt,
    A,
    Aaaa,
    Mx,
    Ptr,
}

#[derive(Arbitrary, Debug, Clone)]
pub enum FRecord {
    A(FName, [u8; 4]),
    Aaaa(FName, [u8; 16]),
    Mx(FName, u16, FName),
    Txt(FName, Vec<Vec<u8>>),
    TxtStr(FName, String),
    Ptr(u8, FName),
    PtrName(FName, FName),
    Cname(FName, FName),
    Empty(FName),
    Fault(FName, FType, FFault),
    /// Many records at once: `n` A records or MX names at one name.
    ManyA(FName, u16),
    ManyMx(FName, u16),
}

/// Most records a fuzzed zone holds.
pub const MAX_RECORDS: usize = 64;

/// Builds a zone. `allow_hang` controls whether `Fault::Hang` is used (only
/// where the caller has a time budget).
pub fn build_zone(records: &[FRecord], allow_hang: bool) -> ZoneResolver {
    let mut z = ZoneResolver::new();
    for r in records.iter().take(MAX_RECORDS) {
        match r {
            FRecord::A(n, ip) => {
                z.add_a(&n.get(), Ipv4Addr::from(*ip));
            }
            FRecord::Aaaa(n, ip) => {
                z.add_aaaa(&n.get(), Ipv6Addr::from(*ip));
            }
            FRecord::Mx(n, p, t) => {
                z.add_mx(&n.get(), *p, &t.get());
            }
            FRecord::Txt(n, strings) => {
                let s: Vec<Vec<u8>> = strings
                    .iter()
                    .take(16)
                    .map(|s| s.iter().copied().take(1024).collect())
                    .collect();
                z.add_txt(&n.get(), s);
            }
            FRecord::TxtStr(n, s) => {
                let s: String = s.chars().take(4096).collect();
                z.add_txt_str(&n.get(), &s);
            }
            FRecord::Ptr(i, t) => {
                let ip: IpAddr = IPS[*i as usize % IPS.len()].parse().unwrap();
                z.add_ptr(ip, &t.get());
            }
            FRecord::PtrName(o, t) => {
                z.add_ptr_name(&o.get(), &t.get());
            }
            FRecord::Cname(n, t) => {
                z.add_cname(&n.get(), &t.get());
            }
            FRecord::Empty(n) => {
                z.add_empty(&n.get());
            }
            FRecord::Fault(n, t, f) => {
                let rt = match t {
                    FType::Txt => RecordType::Txt,
                    FType::A => RecordType::A,
                    FType::Aaaa => RecordType::Aaaa,
                    FType::Mx => RecordType::Mx,
                    FType::Ptr => RecordType::Ptr,
                };
                let f = match f {
                    FFault::ServFail => Fault::ServFail,
                    FFault::Timeout => Fault::Timeout,
                    FFault::Hang if allow_hang => Fault::Hang,
                    FFault::Hang => Fault::ServFail,
                };
                z.set_fault(&n.get(), rt, f);
            }
            FRecord::ManyA(n, k) => {
                let name = n.get();
                for i in 0..(*k as u32 % 2000) {
                    z.add_a(&name, Ipv4Addr::from(0x0a00_0000 | i));
                }
            }
            FRecord::ManyMx(n, k) => {
                let name = n.get();
                for i in 0..(*k % 500) {
                    z.add_mx(&name, i, &format!("mx{i}.example.com"));
                }
            }
        }
    }
    z
}

pub fn ip(i: u8) -> IpAddr {
    IPS[i as usize % IPS.len()].parse().unwrap()
}

/// Runs `f` on a current-thread runtime with a paused clock. Panics if the
/// future does not finish within `limit` of (virtual) time: a hang is a
/// finding.
pub fn block_on<F: Future>(limit: Duration, f: F) -> F::Output {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async {
        match tokio::time::timeout(limit, f).await {
            Ok(v) => v,
            Err(_) => panic!("future did not complete within {limit:?} (hang)"),
        }
    })
}
