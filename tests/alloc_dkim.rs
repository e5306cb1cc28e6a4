//! Memory: verifying a 10 MiB message allocates no more than a small
//! constant beyond the message itself (issue 6). The body is canonicalized
//! while it is hashed; no canonicalized copy of the body (or of the message)
//! is ever made.
//!
//! A counting global allocator wraps `System` and tracks the bytes live and
//! their peak. Implementing `GlobalAlloc` needs `unsafe impl` and `unsafe fn`:
//! that is allowed here because this is a test, not the library (the
//! library itself is `#![forbid(unsafe_code)]`-clean). Everything runs in one
//! `#[test]` so no other test thread allocates while we measure. (With the
//! `aws-lc-rs` feature, aws-lc's own C allocations for an RSA verify bypass
//! this allocator; they are per-signature and independent of the body.)
#![cfg(feature = "sign")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use sender_auth::dkim::canon::{BodyCanon, HeaderCanon};
use sender_auth::dkim::sign::{Signer, SigningKey};
use sender_auth::dkim::{DkimConfig, DkimResult, KeyCache, verify};
use sender_auth::dns::zone::ZoneResolver;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static TOTAL: AtomicUsize = AtomicUsize::new(0);

fn add(n: usize) {
    let live = LIVE.fetch_add(n, Ordering::Relaxed) + n;
    PEAK.fetch_max(live, Ordering::Relaxed);
    TOTAL.fetch_add(n, Ordering::Relaxed);
}

// SAFETY: every call is forwarded unchanged to `System`; the counters are
// plain atomics and never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            add(layout.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            add(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            add(new_size);
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Peak extra bytes live, and total bytes allocated, while `f` runs.
fn measure<T>(f: impl FnOnce() -> T) -> (T, usize, usize) {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let total0 = TOTAL.load(Ordering::Relaxed);
    let out = f();
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(base);
    let total = TOTAL.load(Ordering::Relaxed) - total0;
    (out, peak, total)
}

const TEN_MIB: usize = 10 << 20;
/// What verify may keep live beyond the message: parsed header index,
/// signature, key, hash states, outputs. Independent of the body size.
const SMALL_CONSTANT: usize = 64 * 1024;

fn message(lf_only: bool) -> Vec<u8> {
    let eol: &[u8] = if lf_only { b"\n" } else { b"\r\n" };
    let mut m = Vec::with_capacity(TEN_MIB + 4096);
    for h in [
        "From: a@example.com",
        "To: b@example.net",
        "Subject: a  large\tmessage ",
        "Date: Thu, 26 Nov 2026 07:00:00 +0000",
    ] {
        m.extend_from_slice(h.as_bytes());
        m.extend_from_slice(eol);
    }
    m.extend_from_slice(eol);
    // Text with the bytes relaxed canonicalization rewrites: double spaces,
    // tabs, trailing whitespace, empty lines.
    let line: &[u8] = b"The quick  brown fox\tjumps over the lazy dog. ";
    let mut i = 0usize;
    while m.len() < TEN_MIB {
        m.extend_from_slice(line);
        m.extend_from_slice(eol);
        i += 1;
        if i.is_multiple_of(10) {
            m.extend_from_slice(eol);
        }
    }
    m
}

#[test]
fn verifying_10_mib_allocates_a_small_constant() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let ed = SigningKey::ed25519_from_seed(&[42; 32]);
    let rsa = SigningKey::rsa_from_pem(include_str!("../examples/keys/rsa2048.pem")).unwrap();
    let mut zone = ZoneResolver::new();
    zone.add_txt_str("ed._domainkey.example.com", &ed.public_key_record());
    zone.add_txt_str("rsa._domainkey.example.com", &rsa.public_key_record());
    let cached = DkimConfig {
        key_cache: Some(Arc::new(KeyCache::new(16))),
        ..DkimConfig::default()
    };
    let plain = DkimConfig::default();

    let rr = (HeaderCanon::Relaxed, BodyCanon::Relaxed);
    let ss = (HeaderCanon::Simple, BodyCanon::Simple);
    let crlf_msg = message(false);
    let lf_msg = message(true);
    let cases = [
        (&crlf_msg, false, &ed, "ed", rr),
        (&crlf_msg, false, &rsa, "rsa", rr),
        (&crlf_msg, false, &ed, "ed", ss),
        (&lf_msg, true, &ed, "ed", rr),
    ];
    for (msg, lf_only, key, sel, (hc, bc)) in cases {
        let signer = Signer::new(key.clone(), "example.com", sel)
            .headers(["From", "To", "Subject", "Date"])
            .canonicalization(hc, bc);
        let signed = if lf_only {
            // Sign the CRLF form and store the signed message with LF line
            // endings, as a Unix mailbox file would.
            let mut crlf = Vec::with_capacity(msg.len() * 11 / 10);
            for &b in msg.iter() {
                if b == b'\n' {
                    crlf.push(b'\r');
                }
                crlf.push(b);
            }
            let s = signer.sign_message(&crlf).unwrap();
            s.into_iter().filter(|&b| b != b'\r').collect::<Vec<u8>>()
        } else {
            signer.sign_message(msg).unwrap()
        };
        assert!(signed.len() >= TEN_MIB);
        // Without a cache, then with a cold and a warm cache.
        for config in [&plain, &cached, &cached] {
            let (out, peak, total) = measure(|| rt.block_on(verify(&zone, &signed, config)));
            let what = format!(
                "{sel} {}/{} lf_only={lf_only} cache={}",
                hc.as_str(),
                bc.as_str(),
                config.key_cache.is_some()
            );
            assert_eq!(out.len(), 1, "{what}");
            assert_eq!(out[0].result, DkimResult::Pass, "{what}: {}", out[0].reason);
            eprintln!(
                "{what}: message {} B, peak extra live {peak} B, allocated in total {total} B",
                signed.len()
            );
            assert!(
                peak <= SMALL_CONSTANT,
                "{what}: {peak} B live at peak beyond the message"
            );
            assert!(
                total <= SMALL_CONSTANT,
                "{what}: {total} B allocated in total"
            );
        }
    }
}
