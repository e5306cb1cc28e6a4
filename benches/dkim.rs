//! DKIM verify benches (issue 6).
//!
//! ```text
//! cargo bench --features sign --bench dkim -- --warm-up-time 1 --measurement-time 3
//! cargo bench --features sign,aws-lc-rs --bench dkim -- --warm-up-time 1 --measurement-time 3
//! python3 benches/dkim_ratios.py      # the table in BENCHMARKS.md
//! ```
//!
//! For bodies of 1 KiB, 10 KiB, 100 KiB and 1 MiB (text lines, relaxed/relaxed,
//! 8 signed header fields, signed by the library's signer with the fixed
//! test keys in `examples/keys/`):
//!
//! * `dkim_verify/{rsa2048,ed25519}/<size>`: `dkim::verify` of the whole
//!   message (parse + verify), the decoded key already in the key cache,
//!   run by [`run`] (polled once; see there);
//! * `dkim_body/relaxed/<size>`: body canonicalization + SHA-256 alone;
//! * `dkim_floor/sha256/<size>`: SHA-256 of the whole message (sha2, and
//!   aws-lc with that feature);
//! * `dkim_floor/verify/*`: one signature verification with the backend the
//!   library uses (rsa crate or aws-lc; ed25519-dalek), and the others for
//!   comparison.
//!
//! Floor of a verify row = sha256(message) + one signature verify.
//!
//! Because the machine may be shared, the bench also times each verify
//! against its floor alternately, call by call, and prints that paired
//! table at the end (set `DKIM_PAIRED=0` to skip it, e.g. when profiling).
//! `DKIM_CALLS=n` runs only n verify calls (1 KiB, rsa2048; `DKIM_ALG=ed25519`
//! for Ed25519) for `perf stat` or callgrind.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sender_auth::dkim::canon::{BodyCanon, BodyCanonicalizer, HeaderCanon, LineEndings, Sink};
use sender_auth::dkim::sign::{Signer, SigningKey};
use sender_auth::dkim::{DkimConfig, DkimResult, KeyCache, verify};
use sender_auth::dns::zone::ZoneResolver;
use sha2::Digest;

const RSA_PEM: &str = include_str!("../examples/keys/rsa2048.pem");
const ED_SEED: &str = include_str!("../examples/keys/ed25519.seed.b64");
const SIZES: [(usize, &str); 4] = [
    (1 << 10, "1KiB"),
    (10 << 10, "10KiB"),
    (100 << 10, "100KiB"),
    (1 << 20, "1MiB"),
];
const HEADERS: [&str; 8] = [
    "From",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "Content-Type",
];

/// A plain-text body of exactly `size` octets: 72-column lines of words,
/// a blank line between paragraphs.
fn body(size: usize) -> Vec<u8> {
    const WORDS: [&str; 16] = [
        "lorem",
        "ipsum",
        "dolor",
        "sit",
        "amet,",
        "consectetur",
        "adipiscing",
        "elit.",
        "Sed",
        "do",
        "eiusmod",
        "tempor",
        "incididunt",
        "ut",
        "labore",
        "magna",
    ];
    let mut out = Vec::with_capacity(size + 100);
    let mut w = 0usize;
    let mut lines = 0usize;
    while out.len() < size {
        let mut line = String::new();
        while line.len() < 66 {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(WORDS[w % WORDS.len()]);
            w = w.wrapping_mul(7).wrapping_add(3);
        }
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
        lines += 1;
        if lines.is_multiple_of(6) {
            out.extend_from_slice(b"\r\n");
        }
    }
    out.truncate(size - 2);
    out.extend_from_slice(b"\r\n");
    out
}

fn message(size: usize) -> Vec<u8> {
    let mut m = b"From: Alice Example <alice@example.com>\r\n\
To: Bob Example <bob@example.net>\r\n\
Cc: carol@example.org\r\n\
Subject: Quarterly figures and the\r\n\tmeeting on Thursday\r\n\
Date: Thu, 26 Nov 2026 07:00:00 +0000\r\n\
Message-ID: <20261126070000.12345@example.com>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n"
        .to_vec();
    m.extend_from_slice(&body(size));
    m
}

/// Runs a verify future as a caller already in async context sees it: one
/// `poll` with a no-op waker and, only if that returns `Pending` (a key
/// lookup would wait on DNS), the rest on the runtime's `block_on`.
///
/// This is sound: `Future::poll` may be called with any waker, and a
/// future that returned `Pending` may be polled again with another (the
/// runtime's) waker, which it registers then. With the key in the cache
/// (every timed call here) `verify` never awaits, so the first poll
/// returns `Ready` and nothing of tokio is touched; a tokio-driven wait
/// (none here: `ZoneResolver` answers at once) could only happen inside
/// `block_on`. What is timed is then the library call itself, not the
/// 0.2 µs a `block_on` of a ready future costs (entering the runtime's
/// thread-local context; `dkim_parts/block_on_ready` measures it), which
/// an async caller pays once per task, not per message.
fn run<F: std::future::Future>(rt: &tokio::runtime::Runtime, fut: F) -> F::Output {
    use std::task::{Context, Poll, Waker};
    let mut fut = std::pin::pin!(fut);
    match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => rt.block_on(fut),
    }
}

struct Setup {
    zone: ZoneResolver,
    config: DkimConfig,
    rt: tokio::runtime::Runtime,
}

fn setup(rsa: &SigningKey, ed: &SigningKey) -> Setup {
    let mut zone = ZoneResolver::new();
    zone.add_txt_str("rsa._domainkey.example.com", &rsa.public_key_record());
    zone.add_txt_str("ed._domainkey.example.com", &ed.public_key_record());
    let config = DkimConfig {
        key_cache: Some(Arc::new(KeyCache::new(64))),
        now: Some(1_800_000_000),
        ..DkimConfig::default()
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    Setup { zone, config, rt }
}

fn sign(key: &SigningKey, selector: &str, msg: &[u8]) -> Vec<u8> {
    Signer::new(key.clone(), "example.com", selector)
        .headers(HEADERS)
        .canonicalization(HeaderCanon::Relaxed, BodyCanon::Relaxed)
        .timestamp(1_700_000_000)
        .sign_message(msg)
        .expect("sign")
}

struct ShaSink(sha2::Sha256);
impl Sink for ShaSink {
    fn write(&mut self, data: &[u8]) {
        self.0.update(data);
    }
}

/// One signature verification with the backend the library uses for each
/// algorithm (the "one verify" of the floor).
struct Primitives {
    rsa: Box<dyn Fn() -> bool>,
    ed: Box<dyn Fn() -> bool>,
}

fn primitives(seed: &str) -> Primitives {
    use ed25519_dalek::Signer as _;
    use rsa::pkcs8::DecodePrivateKey;
    let digest: [u8; 32] = sha2::Sha256::digest(b"header hash input").into();
    let private = rsa::RsaPrivateKey::from_pkcs8_pem(RSA_PEM).expect("pkcs8");
    let sig = private.sign(pkcs1v15_sha256(), &digest).expect("sign");
    #[cfg(not(feature = "aws-lc-rs"))]
    let rsa: Box<dyn Fn() -> bool> = {
        let public = private.to_public_key();
        Box::new(move || {
            public
                .verify(pkcs1v15_sha256(), black_box(&digest), black_box(&sig))
                .is_ok()
        })
    };
    #[cfg(feature = "aws-lc-rs")]
    let rsa: Box<dyn Fn() -> bool> = {
        use aws_lc_rs::signature::{
            ParsedPublicKey, RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
        };
        use rsa::pkcs1::EncodeRsaPublicKey;
        let der = private.to_public_key().to_pkcs1_der().expect("der");
        let parsed = ParsedPublicKey::new(
            &RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
            der.as_bytes(),
        )
        .expect("aws key");
        let d = aws_lc_rs::digest::Digest::import_less_safe(&digest, &aws_lc_rs::digest::SHA256)
            .expect("digest");
        Box::new(move || {
            parsed
                .verify_digest_sig(black_box(&d), black_box(&sig))
                .is_ok()
        })
    };
    let sk = ed25519_dalek::SigningKey::from_bytes(&base64_decode(seed));
    let ed_sig = sk.sign(&digest);
    let vk = sk.verifying_key();
    let ed: Box<dyn Fn() -> bool> = Box::new(move || {
        vk.verify_strict(black_box(&digest), black_box(&ed_sig))
            .is_ok()
    });
    assert!(rsa() && ed());
    Primitives { rsa, ed }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Times `verify` and `floor` alternately, call by call, so that both see
/// the same machine load (the bench machine is shared): returns the median
/// verify time, the median floor time (µs) and the median of the ratios.
fn paired(verify: impl Fn(), floor: impl Fn()) -> (f64, f64, f64) {
    use std::time::{Duration, Instant};
    for _ in 0..5 {
        verify();
        floor();
    }
    let t = Instant::now();
    verify();
    let one = t.elapsed().as_nanos().max(1);
    let reps = (Duration::from_millis(1500).as_nanos() / (2 * one)).clamp(30, 20_000) as usize;
    let (mut vs, mut fs, mut rs) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..reps {
        let a = Instant::now();
        verify();
        let tv = a.elapsed().as_secs_f64() * 1e6;
        let b = Instant::now();
        floor();
        let tf = b.elapsed().as_secs_f64() * 1e6;
        vs.push(tv);
        fs.push(tf);
        rs.push(tv / tf);
    }
    (median(&mut vs), median(&mut fs), median(&mut rs))
}

fn dkim_benches(c: &mut Criterion) {
    let rsa = SigningKey::rsa_from_pem(RSA_PEM).expect("rsa key");
    let seed = ED_SEED.trim();
    let ed = SigningKey::ed25519_from_base64(seed).expect("ed25519 seed");
    let s = setup(&rsa, &ed);
    // DKIM_CALLS=n: only n verify calls of the 1 KiB message (rsa2048, or
    // ed25519 with DKIM_ALG=ed25519), then
    // exit, for `perf stat` (instructions and cycles per call are the
    // difference of two counts, e.g. n = 100000 and n = 0; unlike times,
    // instruction counts do not depend on the load of a shared machine).
    if let Some(n) = std::env::var("DKIM_CALLS")
        .ok()
        .and_then(|n| n.parse::<u64>().ok())
    {
        let ed_alg = std::env::var("DKIM_ALG").is_ok_and(|a| a == "ed25519");
        let signed = if ed_alg {
            sign(&ed, "ed", &message(1 << 10))
        } else {
            sign(&rsa, "rsa", &message(1 << 10))
        };
        let out = s.rt.block_on(verify(&s.zone, &signed, &s.config));
        assert_eq!(out[0].result, DkimResult::Pass);
        for _ in 0..n {
            black_box(run(&s.rt, verify(&s.zone, black_box(&signed), &s.config)));
        }
        return;
    }
    let prims = primitives(seed);
    let mut report = Vec::new();

    for (size, label) in SIZES {
        let msg = message(size);
        let body_start = msg.windows(4).position(|w| w == b"\r\n\r\n").expect("body") + 4;

        let mut g = c.benchmark_group("dkim_verify");
        g.throughput(Throughput::Bytes(msg.len() as u64));
        for (alg, key, sel) in [("rsa2048", &rsa, "rsa"), ("ed25519", &ed, "ed")] {
            let signed = sign(key, sel, &msg);
            // Warm the key cache and check the message verifies.
            let out = s.rt.block_on(verify(&s.zone, &signed, &s.config));
            assert_eq!(out.len(), 1);
            assert_eq!(out[0].result, DkimResult::Pass, "{alg}: {}", out[0].reason);
            // With the key cached, one poll completes the call (what `run`
            // relies on to time the library call without `block_on`).
            {
                use std::task::{Context, Waker};
                let mut f = std::pin::pin!(verify(&s.zone, &signed, &s.config));
                assert!(
                    f.as_mut()
                        .poll(&mut Context::from_waker(Waker::noop()))
                        .is_ready(),
                    "{alg}: a cached verify should not wait"
                );
            }
            g.bench_function(BenchmarkId::new(alg, label), |b| {
                b.iter(|| run(&s.rt, verify(&s.zone, black_box(&signed), &s.config)))
            });
            if std::env::var_os("DKIM_PAIRED").is_some_and(|v| v == "0") {
                continue;
            }
            let prim = if sel == "rsa" { &prims.rsa } else { &prims.ed };
            let (v, f, r) = paired(
                || {
                    black_box(run(&s.rt, verify(&s.zone, black_box(&signed), &s.config)));
                },
                || {
                    black_box(sha2::Sha256::digest(black_box(&signed)));
                    black_box(prim());
                },
            );
            report.push(format!(
                "| {alg} | {label} | {v:.1} | {f:.1} | {r:.3} | {} | {:.0} |",
                if r <= 1.15 { "yes" } else { "NO" },
                signed.len() as f64 / v
            ));
        }
        g.finish();

        let mut g = c.benchmark_group("dkim_body");
        g.throughput(Throughput::Bytes((msg.len() - body_start) as u64));
        g.bench_function(BenchmarkId::new("relaxed", label), |b| {
            b.iter(|| {
                let mut sink = ShaSink(sha2::Sha256::new());
                let mut canon = BodyCanonicalizer::new(BodyCanon::Relaxed, LineEndings::Crlf);
                canon.update(black_box(&msg[body_start..]), &mut sink);
                canon.finish(&mut sink);
                sink.0.finalize()
            })
        });
        g.finish();

        let mut g = c.benchmark_group("dkim_floor");
        g.throughput(Throughput::Bytes(msg.len() as u64));
        g.bench_function(BenchmarkId::new("sha256", label), |b| {
            b.iter(|| sha2::Sha256::digest(black_box(&msg)))
        });
        #[cfg(feature = "aws-lc-rs")]
        g.bench_function(BenchmarkId::new("sha256-aws-lc", label), |b| {
            b.iter(|| aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, black_box(&msg)))
        });
        g.finish();
    }

    // Where the fixed per-message cost goes (1 KiB message, rsa2048).
    {
        let msg = message(1 << 10);
        let signed = sign(&rsa, "rsa", &msg);
        let parsed = sender_auth::message::Message::parse(&signed);
        let sig_value = parsed
            .headers()
            .iter()
            .find(|h| h.is("DKIM-Signature"))
            .expect("signature")
            .value;
        let mut g = c.benchmark_group("dkim_parts");
        g.bench_function("message_parse/1KiB", |b| {
            b.iter(|| {
                sender_auth::message::Message::parse(black_box(&signed))
                    .headers()
                    .len()
            })
        });
        g.bench_function("signature_parse/rsa2048", |b| {
            b.iter(|| sender_auth::dkim::Signature::parse(black_box(sig_value)))
        });
        g.bench_function("taglist_tags/rsa2048", |b| {
            b.iter(|| sender_auth::taglist::tags(black_box(sig_value)).count())
        });
        g.bench_function("taglist_parse/rsa2048", |b| {
            b.iter(|| sender_auth::taglist::parse(black_box(sig_value)).map(|t| t.len()))
        });
        g.bench_function("header_canon_relaxed/9_fields", |b| {
            let mut out = Vec::with_capacity(2048);
            b.iter(|| {
                out.clear();
                for h in parsed.headers() {
                    sender_auth::dkim::canon::canonicalize_header(
                        HeaderCanon::Relaxed,
                        LineEndings::Crlf,
                        black_box(h.raw),
                        &mut out,
                    );
                }
                out.len()
            })
        });
        g.bench_function("verify_message_preparsed/rsa2048/1KiB", |b| {
            b.iter(|| {
                run(
                    &s.rt,
                    sender_auth::dkim::verify_message(&s.zone, black_box(&parsed), &s.config),
                )
            })
        });
        g.bench_function("verify/rsa2048/1KiB", |b| {
            b.iter(|| run(&s.rt, verify(&s.zone, black_box(&signed), &s.config)))
        });
        g.bench_function("block_on_ready", |b| {
            b.iter(|| s.rt.block_on(async { black_box(1) }))
        });
        g.bench_function("poll_ready", |b| {
            b.iter(|| run(&s.rt, async { black_box(1) }))
        });
        g.finish();
    }

    // One signature verification with each backend.
    let digest: [u8; 32] = sha2::Sha256::digest(b"header hash input").into();
    let mut g = c.benchmark_group("dkim_floor");
    {
        use rsa::pkcs8::DecodePrivateKey;
        let private = rsa::RsaPrivateKey::from_pkcs8_pem(RSA_PEM).expect("pkcs8");
        let sig_bytes = private.sign(pkcs1v15_sha256(), &digest).expect("sign");
        let public = private.to_public_key();
        g.bench_function("verify/rsa2048-rsa-crate", |b| {
            b.iter(|| public.verify(pkcs1v15_sha256(), black_box(&digest), black_box(&sig_bytes)))
        });
        #[cfg(feature = "aws-lc-rs")]
        {
            use aws_lc_rs::signature::{
                ParsedPublicKey, RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
            };
            use rsa::pkcs1::EncodeRsaPublicKey;
            let der = public.to_pkcs1_der().expect("der");
            let parsed = ParsedPublicKey::new(
                &RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
                der.as_bytes(),
            )
            .expect("aws key");
            let d =
                aws_lc_rs::digest::Digest::import_less_safe(&digest, &aws_lc_rs::digest::SHA256)
                    .expect("digest");
            g.bench_function("verify/rsa2048-aws-lc", |b| {
                b.iter(|| parsed.verify_digest_sig(black_box(&d), black_box(&sig_bytes)))
            });
        }
    }
    {
        use ed25519_dalek::Signer as _;
        let raw = base64_decode(seed);
        let sk = ed25519_dalek::SigningKey::from_bytes(&raw);
        let sig = sk.sign(&digest);
        let vk = sk.verifying_key();
        g.bench_function("verify/ed25519-dalek", |b| {
            b.iter(|| vk.verify_strict(black_box(&digest), black_box(&sig)))
        });
        #[cfg(feature = "aws-lc-rs")]
        {
            use aws_lc_rs::signature::{ED25519, ParsedPublicKey};
            let parsed = ParsedPublicKey::new(&ED25519, vk.as_bytes()).expect("aws ed key");
            let sig_bytes = sig.to_bytes();
            g.bench_function("verify/ed25519-aws-lc", |b| {
                b.iter(|| parsed.verify_sig(black_box(&digest), black_box(&sig_bytes)))
            });
        }
    }
    g.finish();

    eprintln!("\nPaired measurement (verify and floor timed alternately; floor = SHA-256 of the");
    eprintln!("signed message + one signature verify with the library's backend):\n");
    eprintln!("| alg | body | verify µs | floor µs | ratio (median) | ≤ 1.15 | MB/s |");
    eprintln!("|---|---|---:|---:|---:|---|---:|");
    for line in report {
        eprintln!("{line}");
    }
}

/// RSASSA-PKCS1-v1_5 with SHA-256, as the library's default backend does it.
fn pkcs1v15_sha256() -> rsa::pkcs1v15::Pkcs1v15Sign {
    const SHA256_PREFIX: [u8; 19] = [
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
        0x05, 0x00, 0x04, 0x20,
    ];
    rsa::pkcs1v15::Pkcs1v15Sign {
        hash_len: Some(32),
        prefix: Box::new(SHA256_PREFIX),
    }
}

/// Decodes the 32-octet base64 Ed25519 seed.
fn base64_decode(seed: &str) -> [u8; 32] {
    use base64::Engine as _;
    let v = base64::engine::general_purpose::STANDARD
        .decode(seed)
        .expect("base64");
    v.try_into().expect("32 octets")
}

criterion_group!(benches, dkim_benches);
criterion_main!(benches);
