//! Bounded memory for DKIM verification of a large message: a counting
//! global allocator measures the peak of live heap bytes while one message
//! of 8 MB (body of long lines and of many empty lines) is verified. The
//! body is canonicalized while hashing, never copied, so the peak stays a
//! small fraction of the message size. One test per binary, so no other
//! test's allocations are counted.
#![cfg(feature = "sign")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use sender_auth::dkim::{self, BodyCanon, DkimConfig, DkimResult, HeaderCanon, Signer, SigningKey};
use sender_auth::dns::zone::ZoneResolver;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static A: Counting = Counting;

#[test]
fn verifying_an_8_mb_message_allocates_little_beyond_the_message() {
    const SEED: [u8; 32] = [42; 32];
    let mut body = Vec::with_capacity(8 << 20);
    while body.len() < (6 << 20) {
        body.extend_from_slice(&[b'x'; 998]);
        body.extend_from_slice(b" \t \r\n");
    }
    // 1 M empty lines at the end: held back as a counter, not buffered.
    body.extend(std::iter::repeat_n(*b"\r\n", 1 << 20).flatten());
    let mut m = b"From: a@example.com\r\nSubject: big\r\n\r\n".to_vec();
    m.extend_from_slice(&body);
    drop(body);
    let mut z = ZoneResolver::new();
    z.add_txt_str(
        "ed._domainkey.example.com",
        &SigningKey::ed25519_from_seed(&SEED).public_key_record(),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let cfg = DkimConfig {
        now: Some(1_700_000_000),
        ..DkimConfig::default()
    };
    for bc in [BodyCanon::Simple, BodyCanon::Relaxed] {
        let signed = Signer::new(SigningKey::ed25519_from_seed(&SEED), "example.com", "ed")
            .canonicalization(HeaderCanon::Relaxed, bc)
            .sign_message(&m)
            .unwrap();
        let before = LIVE.load(Ordering::Relaxed);
        PEAK.store(before, Ordering::Relaxed);
        let out = rt.block_on(dkim::verify(&z, &signed, &cfg));
        let extra = PEAK.load(Ordering::Relaxed) - before;
        assert_eq!(out[0].result, DkimResult::Pass, "{bc:?}: {}", out[0].reason);
        // The message is 8 MB; verification may allocate at most 1 MB more.
        assert!(
            extra < (1 << 20),
            "{bc:?}: peak {extra} bytes above the {} byte message",
            signed.len()
        );
    }
}
