//! Bounded work on hostile messages (RFC 6376 §8 "Security
//! Considerations"): 10,000 header fields, 1 MB header lines, 1,000
//! DKIM-Signature fields, huge `l=` and `b=`, 16,384-bit RSA moduli. Each
//! test asserts the documented result and counts what can be counted
//! (outputs, signatures evaluated, DNS queries); a generous Tokio timeout is
//! only a hang guard, never a measurement.
#![cfg(feature = "sign")]

use std::future::Future;
use std::time::Duration;

use base64::Engine as _;
use sender_auth::dkim::{
    self, BodyCanon, DkimConfig, DkimOutput, DkimResult, HeaderCanon, Signer, SigningKey,
};
use sender_auth::dns::zone::ZoneResolver;
use sender_auth::message::{AuthorError, Message, author_domain};

const SEED: [u8; 32] = [42; 32];

fn signer() -> Signer {
    Signer::new(SigningKey::ed25519_from_seed(&SEED), "example.com", "ed")
        .headers(["From", "Subject"])
}

fn zone() -> ZoneResolver {
    let mut z = ZoneResolver::new();
    z.add_txt_str(
        "ed._domainkey.example.com",
        &SigningKey::ed25519_from_seed(&SEED).public_key_record(),
    );
    z
}

fn cfg() -> DkimConfig {
    DkimConfig {
        now: Some(1_700_000_000),
        ..DkimConfig::default()
    }
}

/// Hang guard: generous, so it never decides a result on a slow machine.
async fn guard<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(300), f)
        .await
        .expect("hang guard: did not finish in 300 s")
}

async fn verify(z: &ZoneResolver, m: &[u8]) -> Vec<DkimOutput> {
    guard(dkim::verify(z, m, &cfg())).await
}

#[tokio::test]
async fn ten_thousand_header_fields() {
    let mut m = String::new();
    for i in 0..10_000 {
        m.push_str(&format!("X-Filler-{i}: value {i}\r\n"));
    }
    m.push_str("From: a@example.com\r\nSubject: hi\r\n\r\nbody\r\n");
    let signed = signer().sign_message(m.as_bytes()).unwrap();
    let parsed = Message::parse(&signed);
    assert_eq!(parsed.headers().len(), 10_003);
    assert_eq!(author_domain(&parsed).unwrap(), "example.com");
    let z = zone();
    let out = verify(&z, &signed).await;
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].result, DkimResult::Pass, "{}", out[0].reason);
    assert_eq!(z.query_count(), 1);
}

#[tokio::test]
async fn ten_thousand_from_fields_fail_closed() {
    let m = "From: a@example.com\r\n".repeat(10_000) + "\r\nbody\r\n";
    let parsed = Message::parse(m.as_bytes());
    assert_eq!(author_domain(&parsed), Err(AuthorError::MultipleFrom));
}

#[tokio::test]
async fn one_megabyte_header_lines() {
    let long = "a".repeat(1 << 20);
    // A 1 MB Subject, signed and verified in both header canonicalizations.
    let m = format!("From: a@example.com\r\nSubject: {long}\r\n\r\nbody\r\n");
    let z = zone();
    for hc in [HeaderCanon::Simple, HeaderCanon::Relaxed] {
        let signed = signer()
            .canonicalization(hc, BodyCanon::Relaxed)
            .sign_message(m.as_bytes())
            .unwrap();
        let out = verify(&z, &signed).await;
        assert_eq!(out[0].result, DkimResult::Pass, "{hc:?}: {}", out[0].reason);
    }
    // A 1 MB From line (1 MB of display name, then 1 MB of WSP-folded
    // comment): still one mailbox, parsed in bounded time.
    let from = format!(
        "From: \"{long}\" <a@example.com> ({})\r\n\r\n",
        "x\r\n ".repeat(1 << 16)
    );
    let parsed = Message::parse(from.as_bytes());
    assert_eq!(author_domain(&parsed).unwrap(), "example.com");
    // And a 1 MB local-part / domain is refused, not truncated.
    let bad = format!("From: {long}@{long}.example\r\n\r\n");
    assert!(author_domain(&Message::parse(bad.as_bytes())).is_err());
    // A 1 MB header line inside a DKIM-Signature (h= with 100,000 names).
    let names = vec!["x"; 100_000].join(":");
    let sig = format!(
        "DKIM-Signature: v=1; a=ed25519-sha256; d=example.com; s=ed; h=From:{names}; bh=AAAA; b=AAAA\r\n"
    );
    let msg = format!("{sig}From: a@example.com\r\n\r\nbody\r\n");
    let out = verify(&z, msg.as_bytes()).await;
    assert_eq!(out.len(), 1);
    assert_ne!(out[0].result, DkimResult::Pass);
}

/// 1,000 DKIM-Signature fields: all reported, 10 evaluated
/// (`max_signatures`), at most 10 key lookups (one, since they share the
/// selector); then 1,000 distinct selectors: still at most 10 lookups.
#[tokio::test]
async fn thousand_dkim_signatures() {
    let base = b"From: a@example.com\r\nSubject: hi\r\n\r\nbody\r\n";
    let field = signer().sign(base).unwrap();
    let mut m = field.repeat(1000).into_bytes();
    m.extend_from_slice(base);
    let z = zone();
    let out = verify(&z, &m).await;
    assert_eq!(out.len(), 1000);
    let evaluated: Vec<_> = out
        .iter()
        .filter(|o| o.result != DkimResult::NotEvaluated)
        .collect();
    assert_eq!(evaluated.len(), cfg().max_signatures);
    assert!(evaluated.iter().all(|o| o.result == DkimResult::Pass));
    assert!(z.query_count() <= 1, "{:?}", z.queries());

    let mut m = Vec::new();
    for i in 0..1000 {
        m.extend_from_slice(
            format!(
                "DKIM-Signature: v=1; a=ed25519-sha256; d=example.com; s=s{i}; h=From; bh=AAAA; b=AAAA\r\n"
            )
            .as_bytes(),
        );
    }
    m.extend_from_slice(base);
    z.clear_queries();
    let out = verify(&z, &m).await;
    assert_eq!(out.len(), 1000);
    assert!(
        z.query_count() <= cfg().max_signatures,
        "{}",
        z.query_count()
    );
}

/// Replaces the value of tag `tag` in the (first) DKIM-Signature field of
/// `m`: up to the next `;` or the end of the field.
fn set_tag(m: &[u8], tag: &str, value: &str) -> Vec<u8> {
    let s = String::from_utf8(m.to_vec()).unwrap();
    let b = s.as_bytes();
    let pat = format!("{tag}=");
    let start = (1..s.len())
        .find(|&i| s[i..].starts_with(&pat) && b" \t;\n".contains(&b[i - 1]))
        .unwrap()
        + pat.len();
    let mut end = start;
    while end < b.len()
        && b[end] != b';'
        && (b[end] != b'\r' || matches!(b.get(end + 2), Some(b' ' | b'\t')))
    {
        end += 1;
    }
    format!("{}{value}{}", &s[..start], &s[end..]).into_bytes()
}

/// `l=` at the largest u64 is a permerror (longer than the body) decided
/// before any lookup; an `l=` that does not fit in 76 digits / u64 does not
/// parse (permerror). No huge allocation or loop either way.
#[tokio::test]
async fn huge_l() {
    let m = signer()
        .body_length(true)
        .sign_message(b"From: a@example.com\r\nSubject: hi\r\n\r\nbody\r\n")
        .unwrap();
    let z = zone();
    assert_eq!(verify(&z, &m).await[0].result, DkimResult::Pass);
    for l in [
        "18446744073709551615".to_string(),
        "18446744073709551616".to_string(),
        "9".repeat(76),
        "9".repeat(100_000),
    ] {
        z.clear_queries();
        let out = verify(&z, &set_tag(&m, "l", &l)).await;
        assert_eq!(
            out[0].result,
            DkimResult::PermError,
            "l={l:.30}: {:?}",
            out[0]
        );
        assert!(z.query_count() <= 1);
    }
}

/// A 1 MB `b=` (and a 1 MB `bh=`): not a pass, at most one lookup, bounded.
#[tokio::test]
async fn huge_b() {
    let m = signer()
        .sign_message(b"From: a@example.com\r\nSubject: hi\r\n\r\nbody\r\n")
        .unwrap();
    let z = zone();
    let huge = "A".repeat(1 << 20);
    for tag in ["b", "bh"] {
        z.clear_queries();
        let out = verify(&z, &set_tag(&m, tag, &huge)).await;
        assert!(
            matches!(out[0].result, DkimResult::Fail | DkimResult::PermError),
            "{tag}: {:?}",
            out[0].result
        );
        assert!(out[0].b_prefix.len() <= 8);
        assert!(z.query_count() <= 1);
    }
}

fn der_len(n: usize) -> Vec<u8> {
    assert!(n < 65536);
    if n < 128 {
        vec![n as u8]
    } else if n < 256 {
        vec![0x81, n as u8]
    } else {
        vec![0x82, (n >> 8) as u8, n as u8]
    }
}

fn der(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    v.extend(der_len(body.len()));
    v.extend_from_slice(body);
    v
}

/// SubjectPublicKeyInfo for an RSA key with a `bits`-bit modulus (all ones:
/// not a real key, which is the point — it must be refused on its size).
fn rsa_spki(bits: usize) -> Vec<u8> {
    let mut n = vec![0u8];
    n.extend(std::iter::repeat_n(0xff, bits / 8));
    let rsa_pub = der(
        0x30,
        &[der(0x02, &n), der(0x02, &[0x01, 0x00, 0x01])].concat(),
    );
    let alg = der(
        0x30,
        &[
            der(
                0x06,
                &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01],
            ),
            vec![0x05, 0x00],
        ]
        .concat(),
    );
    let mut bits_body = vec![0u8];
    bits_body.extend(rsa_pub);
    der(0x30, &[alg, der(0x03, &bits_body)].concat())
}

/// A 16,384-bit RSA key (SPKI form) with a 16,384-bit signature: `policy`
/// from the modulus length alone (default maximum 8,192 bits), before any
/// RSA operation; one key lookup.
#[tokio::test]
async fn rsa_16384_bit_modulus_is_refused_before_crypto() {
    let b64 = |d: &[u8]| base64::engine::general_purpose::STANDARD.encode(d);
    let mut z = ZoneResolver::new();
    z.add_txt_str(
        "big._domainkey.example.com",
        &format!("v=DKIM1; k=rsa; p={}", b64(&rsa_spki(16_384))),
    );
    let sig = b64(&vec![0x5a; 16_384 / 8]);
    let base = "From: a@example.com\r\nSubject: hi\r\n\r\nbody\r\n";
    let bh = b64(&[0u8; 32]);
    let m = format!(
        "DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=big; h=From; bh={bh}; b={sig}\r\n{base}"
    );
    let out = verify(&z, m.as_bytes()).await;
    assert_eq!(out[0].result, DkimResult::Policy, "{:?}", out[0]);
    assert!(out[0].reason.contains("16384"), "{}", out[0].reason);
    assert_eq!(z.query_count(), 1);
}
