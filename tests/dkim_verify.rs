//! DKIM verifier rules, one test per rule (RFC 6376, RFC 8301, RFC 8463,
//! RFC 8616). Keys are fixed (no RSA key generation at test time).
#![cfg(feature = "sign")]

use sender_auth::dkim::{
    BodyCanon, DkimConfig, DkimOutput, DkimResult, HeaderCanon, LineEndings, Signer, SigningKey,
    resinfo, verify,
};
use sender_auth::dns::RecordType;
use sender_auth::dns::zone::{Fault, ZoneResolver};

const RSA_PEM: &str = include_str!("../src/dkim/testdata/rsa1024.pem");
const RSA_RECORD: &str = include_str!("../src/dkim/testdata/rsa1024.txt");
/// dkimpy's 512-bit key record (example._domainkey.canonical.com).
const RSA512_RECORD: &str = "k=rsa; p=MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBANmBe10IgY+u7h3enWTukkqtUD5PR52Tb/mPfjC0QJTocVBq6Za/PlzfV+Py92VaCak19F4WrbVTK5Gg5tW220MCAwEAAQ==";

const MSG: &[u8] = b"Received: from x by y\r\nFrom: Joe <joe@example.com>\r\nTo: a@example.net\r\nSubject: Is dinner ready?\r\nDate: Fri, 11 Jul 2003 21:00:37 -0700\r\n\r\nHi.\r\n\r\nWe lost the game.  Are you hungry yet?\r\n\r\nJoe.\r\n";

const NOW: u64 = 1_700_000_000;

fn cfg() -> DkimConfig {
    DkimConfig {
        now: Some(NOW),
        ..DkimConfig::default()
    }
}

fn ed_key() -> SigningKey {
    SigningKey::ed25519_from_seed(&[42; 32])
}

fn rsa_key() -> SigningKey {
    SigningKey::rsa_from_pem(RSA_PEM).unwrap()
}

fn ed_signer() -> Signer {
    Signer::new(ed_key(), "example.com", "ed")
}

fn zone() -> ZoneResolver {
    let mut z = ZoneResolver::new();
    z.add_txt_str("ed._domainkey.example.com", &ed_key().public_key_record());
    z.add_txt_str("rsa._domainkey.example.com", RSA_RECORD.trim());
    z
}

async fn run(z: &ZoneResolver, m: &[u8]) -> Vec<DkimOutput> {
    verify(z, m, &cfg()).await
}

async fn one(z: &ZoneResolver, m: &[u8]) -> DkimOutput {
    let mut out = run(z, m).await;
    assert_eq!(out.len(), 1, "{out:#?}");
    out.remove(0)
}

fn sig_with(value: &str) -> Vec<u8> {
    let mut m = format!("DKIM-Signature: {value}\r\n").into_bytes();
    m.extend_from_slice(MSG);
    m
}

#[tokio::test]
async fn no_signature_gives_empty() {
    assert!(run(&zone(), MSG).await.is_empty());
}

#[tokio::test]
async fn ed25519_and_rsa_pass_and_render() {
    let z = zone();
    let m = ed_signer()
        .identity("joe@example.com")
        .sign_message(MSG)
        .unwrap();
    let o = one(&z, &m).await;
    assert_eq!(o.result, DkimResult::Pass, "{o:?}");
    assert_eq!(o.algorithm, "ed25519-sha256");
    assert_eq!(o.identity.as_deref(), Some("joe@example.com"));
    assert!(o.counts_for_dmarc());
    let ar = resinfo(&o);
    let mut h = sender_auth::authres::AuthenticationResults::new("mx");
    h.push(ar);
    let v = h.value();
    assert!(
        v.starts_with(
            "mx; dkim=pass header.d=example.com header.s=ed header.i=joe@example.com header.b="
        ),
        "{v}"
    );
    assert_eq!(o.b_prefix.len(), 8);

    let m = Signer::new(rsa_key(), "example.com", "rsa")
        .sign_message(MSG)
        .unwrap();
    let o = one(&z, &m).await;
    assert_eq!(
        (o.result, o.algorithm.as_str()),
        (DkimResult::Pass, "rsa-sha256"),
        "{o:?}"
    );
}

#[tokio::test]
async fn every_canonicalization_combination() {
    let z = zone();
    for h in [HeaderCanon::Simple, HeaderCanon::Relaxed] {
        for b in [BodyCanon::Simple, BodyCanon::Relaxed] {
            let m = ed_signer()
                .canonicalization(h, b)
                .sign_message(MSG)
                .unwrap();
            assert_eq!(one(&z, &m).await.result, DkimResult::Pass, "{h:?}/{b:?}");
        }
    }
}

#[tokio::test]
async fn relaxed_forgives_whitespace_simple_does_not() {
    let z = zone();
    for (h, want) in [
        (HeaderCanon::Relaxed, DkimResult::Pass),
        (HeaderCanon::Simple, DkimResult::Fail),
    ] {
        let m = ed_signer()
            .canonicalization(h, BodyCanon::Relaxed)
            .sign_message(MSG)
            .unwrap();
        let t = String::from_utf8(m).unwrap();
        let t = t
            .replace("Subject: Is dinner", "SUBJECT :  Is \t dinner")
            .replace("game.  Are", "game. Are \t");
        assert_eq!(one(&z, t.as_bytes()).await.result, want, "{h:?}");
    }
}

#[tokio::test]
async fn headers_bottom_up_and_oversigning() {
    let z = zone();
    // Without oversigning an instance added above the signed one is not
    // covered (bottom-up selection, §5.4.2) ...
    let m = ed_signer().oversign(false).sign_message(MSG).unwrap();
    let t = String::from_utf8(m).unwrap();
    let above = t.replacen("Received:", "Subject: spam\r\nReceived:", 1);
    assert_eq!(one(&z, above.as_bytes()).await.result, DkimResult::Pass);
    // ... but one added below replaces the signed instance.
    let below = t.replacen("\r\n\r\nHi.", "\r\nSubject: spam\r\n\r\nHi.", 1);
    assert_eq!(one(&z, below.as_bytes()).await.result, DkimResult::Fail);
    // With oversigning, an added instance anywhere breaks the signature.
    let m = ed_signer().sign_message(MSG).unwrap();
    let t = String::from_utf8(m).unwrap();
    assert!(
        t.contains("h=From:From:To:To:Cc:Subject:Subject:Date:Date"),
        "{t}"
    );
    let above = t.replacen("Received:", "Subject: spam\r\nReceived:", 1);
    assert_eq!(one(&z, above.as_bytes()).await.result, DkimResult::Fail);
    // An absent header listed in h= is hashed as null: adding it fails.
    let added = t.replacen("Received:", "Reply-To: x@evil.example\r\nReceived:", 1);
    assert_eq!(one(&z, added.as_bytes()).await.result, DkimResult::Fail);
    // An unsigned header may be added.
    let ok = t.replacen("Received:", "X-Spam: no\r\nReceived:", 1);
    assert_eq!(one(&z, ok.as_bytes()).await.result, DkimResult::Pass);
}

#[tokio::test]
async fn single_changes_fail() {
    let z = zone();
    let m = ed_signer().sign_message(MSG).unwrap();
    let t = String::from_utf8(m).unwrap();
    let body = t.replace("hungry", "hangry");
    let o = one(&z, body.as_bytes()).await;
    assert_eq!(
        (o.result, o.reason.as_str()),
        (DkimResult::Fail, "body hash did not verify")
    );
    let hdr = t.replace("dinner", "dimmer");
    let o = one(&z, hdr.as_bytes()).await;
    assert_eq!(
        (o.result, o.reason.as_str()),
        (DkimResult::Fail, "signature did not verify")
    );
}

#[tokio::test]
async fn several_signatures_in_order_and_shared_lookups() {
    let z = zone();
    let m = ed_signer().sign_message(MSG).unwrap();
    let m = Signer::new(rsa_key(), "example.com", "rsa")
        .headers(["From", "Subject", "DKIM-Signature"])
        .sign_message(&m)
        .unwrap();
    let m = ed_signer()
        .canonicalization(HeaderCanon::Simple, BodyCanon::Simple)
        .sign_message(&m)
        .unwrap();
    let out = run(&z, &m).await;
    let got: Vec<_> = out
        .iter()
        .map(|o| (o.result, o.selector.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (DkimResult::Pass, "ed"),
            (DkimResult::Pass, "rsa"),
            (DkimResult::Pass, "ed")
        ]
    );
    // Two distinct (d, s): two queries, each once.
    let mut q = z.queries();
    q.sort();
    assert_eq!(
        q,
        [
            (RecordType::Txt, "ed._domainkey.example.com".to_string()),
            (RecordType::Txt, "rsa._domainkey.example.com".to_string())
        ]
    );
}

#[tokio::test]
async fn signature_cap() {
    let z = zone();
    let mut m = MSG.to_vec();
    for _ in 0..4 {
        m = ed_signer().sign_message(&m).unwrap();
    }
    let c = DkimConfig {
        max_signatures: 2,
        ..cfg()
    };
    let out = verify(&z, &m, &c).await;
    let got: Vec<_> = out.iter().map(|o| o.result).collect();
    assert_eq!(
        got,
        [
            DkimResult::Pass,
            DkimResult::Pass,
            DkimResult::NotEvaluated,
            DkimResult::NotEvaluated
        ]
    );
    assert_eq!(out[3].domain, "example.com");
    assert_eq!(out[3].result.as_str(), "neutral");
    assert!(out[3].reason.contains("not evaluated"));
}

#[tokio::test]
async fn dns_errors() {
    let m = ed_signer().sign_message(MSG).unwrap();
    let empty = ZoneResolver::new();
    let o = one(&empty, &m).await;
    assert_eq!(o.result, DkimResult::PermError);
    assert!(o.reason.contains("no key"), "{}", o.reason);
    for fault in [Fault::ServFail, Fault::Timeout] {
        let mut z = zone();
        z.set_fault("ed._domainkey.example.com", RecordType::Txt, fault);
        assert_eq!(one(&z, &m).await.result, DkimResult::TempError, "{fault:?}");
    }
}

async fn with_record(record: &str, m: &[u8]) -> DkimOutput {
    let mut z = ZoneResolver::new();
    z.add_txt_str("ed._domainkey.example.com", record);
    one(&z, m).await
}

#[tokio::test]
async fn key_record_rules() {
    let m = ed_signer().sign_message(MSG).unwrap();
    let good = ed_key().public_key_record();
    let p = good.split("p=").nth(1).unwrap().to_string();
    let cases = [
        (good.clone(), DkimResult::Pass),
        (format!("k=ed25519; v=DKIM1; p={p}"), DkimResult::PermError), // v= not first
        (format!("v=DKIM2; k=ed25519; p={p}"), DkimResult::PermError),
        (format!("v=DKIM1; p={p}"), DkimResult::PermError), // k= defaults to rsa
        (format!("v=DKIM1; k=rsa; p={p}"), DkimResult::PermError), // k= mismatch
        (format!("v=DKIM1; k=x448; p={p}"), DkimResult::PermError), // unknown k=
        (
            format!("v=DKIM1; k=ed25519; h=sha1; p={p}"),
            DkimResult::PermError,
        ),
        (
            format!("v=DKIM1; k=ed25519; h=sha256:sha512; p={p}"),
            DkimResult::Pass,
        ),
        (
            format!("v=DKIM1; k=ed25519; s=tlsrpt; p={p}"),
            DkimResult::PermError,
        ),
        (
            format!("v=DKIM1; k=ed25519; s=email:tlsrpt; p={p}"),
            DkimResult::Pass,
        ),
        (format!("v=DKIM1; k=ed25519; s=*; p={p}"), DkimResult::Pass),
        ("v=DKIM1; k=ed25519; p=".to_string(), DkimResult::PermError), // revoked
        (
            "v=DKIM1; k=ed25519; p=AAAA".to_string(),
            DkimResult::PermError,
        ), // wrong length
        (
            format!("v=DKIM1; k=ed25519; k=ed25519; p={p}"),
            DkimResult::PermError,
        ), // duplicate
    ];
    for (record, want) in cases {
        let o = with_record(&record, &m).await;
        assert_eq!(o.result, want, "{record}: {}", o.reason);
    }
    let o = with_record("v=DKIM1; k=ed25519; p=", &m).await;
    assert!(o.reason.contains("revoked"), "{}", o.reason);
}

#[tokio::test]
async fn key_record_split_into_character_strings() {
    let m = ed_signer().sign_message(MSG).unwrap();
    let rec = ed_key().public_key_record();
    let (a, b) = rec.split_at(20);
    let mut z = ZoneResolver::new();
    z.add_txt("ed._domainkey.example.com", [a, b]);
    assert_eq!(one(&z, &m).await.result, DkimResult::Pass);
}

#[tokio::test]
async fn testing_flag_and_strict_identity() {
    let rec = ed_key().public_key_record();
    let m = ed_signer().sign_message(MSG).unwrap();
    let o = with_record(&rec.replace("k=ed25519;", "k=ed25519; t=y;"), &m).await;
    assert_eq!(o.result, DkimResult::Pass);
    assert!(o.testing && !o.counts_for_dmarc());
    // t=s: i= must be exactly d=.
    let strict = rec.replace("k=ed25519;", "k=ed25519; t=s;");
    let sub = ed_signer()
        .identity("joe@mail.example.com")
        .sign_message(MSG)
        .unwrap();
    assert_eq!(
        with_record(&strict, &sub).await.result,
        DkimResult::PermError
    );
    let same = ed_signer()
        .identity("joe@example.com")
        .sign_message(MSG)
        .unwrap();
    assert_eq!(with_record(&strict, &same).await.result, DkimResult::Pass);
    assert_eq!(with_record(&rec, &sub).await.result, DkimResult::Pass);
}

#[tokio::test]
async fn several_records_at_one_selector() {
    let m = ed_signer().sign_message(MSG).unwrap();
    let rec = ed_key().public_key_record();
    // garbage next to one key record: the key record is used
    let mut z = ZoneResolver::new();
    z.add_txt_str("ed._domainkey.example.com", "v=spf1 -all");
    z.add_txt_str("ed._domainkey.example.com", &rec);
    assert_eq!(one(&z, &m).await.result, DkimResult::Pass);
    // the same record twice: fine
    z.add_txt_str("ed._domainkey.example.com", &rec);
    assert_eq!(one(&z, &m).await.result, DkimResult::Pass);
    // two different key records: ambiguous
    let other = SigningKey::ed25519_from_seed(&[1; 32]).public_key_record();
    z.add_txt_str("ed._domainkey.example.com", &other);
    let o = one(&z, &m).await;
    assert_eq!(o.result, DkimResult::PermError);
    assert!(o.reason.contains("ambiguous"), "{}", o.reason);
}

#[tokio::test]
async fn rsa_key_sizes() {
    // Under 1024 bits: policy (RFC 8301), decided before any crypto.
    let m = Signer::new(rsa_key(), "example.com", "rsa")
        .sign_message(MSG)
        .unwrap();
    let mut z = ZoneResolver::new();
    z.add_txt_str("rsa._domainkey.example.com", RSA512_RECORD);
    let o = one(&z, &m).await;
    assert_eq!(o.result, DkimResult::Policy, "{}", o.reason);
    assert!(o.reason.contains("512 bits"), "{}", o.reason);
    let lax = DkimConfig {
        min_rsa_bits: 512,
        ..cfg()
    };
    let o = verify(&z, &m, &lax).await;
    assert_eq!(o[0].result, DkimResult::Fail, "{:?}", o[0]); // wrong key, but evaluated
    // Over the maximum: policy; the maximum is configurable.
    let z = zone();
    let small_max = DkimConfig {
        max_rsa_bits: 1000,
        ..cfg()
    };
    let o = verify(&z, &m, &small_max).await;
    assert_eq!(o[0].result, DkimResult::Policy);
    assert!(o[0].reason.contains("exceeds"), "{}", o[0].reason);
    // A 16384-bit modulus (bare PKCS#1) is refused from its length alone.
    let mut n = vec![0x00u8];
    n.extend(std::iter::repeat_n(0xffu8, 2048));
    let mut der = vec![0x30, 0x82];
    let body_len = 4 + n.len() + 5;
    der.extend_from_slice(&(body_len as u16).to_be_bytes());
    der.extend_from_slice(&[0x02, 0x82]);
    der.extend_from_slice(&(n.len() as u16).to_be_bytes());
    der.extend_from_slice(&n);
    der.extend_from_slice(&[0x02, 0x03, 0x01, 0x00, 0x01]);
    use base64::Engine as _;
    let rec = format!(
        "k=rsa; p={}",
        base64::engine::general_purpose::STANDARD.encode(&der)
    );
    let mut z = ZoneResolver::new();
    z.add_txt_str("rsa._domainkey.example.com", &rec);
    let o = one(&z, &m).await;
    assert_eq!(o.result, DkimResult::Policy, "{}", o.reason);
    assert!(o.reason.contains("16384 bits"), "{}", o.reason);
}

#[tokio::test]
async fn body_length_policy() {
    let z = zone();
    for canon in [BodyCanon::Simple, BodyCanon::Relaxed] {
        let s = ed_signer()
            .canonicalization(HeaderCanon::Relaxed, canon)
            .body_length(true);
        let m = s.sign_message(MSG).unwrap();
        let o = one(&z, &m).await;
        assert_eq!((o.result, o.unsigned_octets), (DkimResult::Pass, 0));
        // content appended after signing: unsigned -> policy by default
        let mut more = m.clone();
        more.extend_from_slice(b"Buy now!\r\n");
        let o = one(&z, &more).await;
        assert_eq!(
            (o.result, o.unsigned_octets),
            (DkimResult::Policy, 10),
            "{canon:?} {}",
            o.reason
        );
        assert!(o.reason.contains("unsigned"));
        assert!(!o.counts_for_dmarc());
        let allow = DkimConfig {
            allow_unsigned_body: true,
            ..cfg()
        };
        let o = verify(&z, &more, &allow).await.remove(0);
        assert_eq!((o.result, o.unsigned_octets), (DkimResult::Pass, 10));
        assert!(!o.counts_for_dmarc());
        // body shorter than l=: permerror
        let t = String::from_utf8(m)
            .unwrap()
            .replace("\r\nJoe.\r\n", "\r\n");
        let o = one(&z, t.as_bytes()).await;
        assert_eq!(o.result, DkimResult::PermError, "{}", o.reason);
    }
}

#[tokio::test]
async fn expiration_uses_injected_clock() {
    let z = zone();
    let m = ed_signer()
        .timestamp(NOW - 100)
        .expiration(NOW + 100)
        .sign_message(MSG)
        .unwrap();
    assert_eq!(one(&z, &m).await.result, DkimResult::Pass);
    let later = DkimConfig {
        now: Some(NOW + 101),
        ..cfg()
    };
    let o = verify(&z, &m, &later).await.remove(0);
    assert_eq!(o.result, DkimResult::PermError);
    assert!(o.reason.contains("expired"));
}

#[tokio::test]
async fn malformed_signatures_are_permerror_without_lookup() {
    let z = zone();
    let cases = [
        "v=1; a=rsa-sha256; d=example.com; s=rsa; h=From; bh=AAAA; b=AAAA; d=example.org",
        "v=1; a=rsa-sha256; d=example.com; s=rsa; h=Subject; bh=AAAA; b=AAAA",
        "v=1; a=rsa-sha256; d=example.com; s=rsa; h=From; i=@other.com; bh=AAAA; b=AAAA",
        "v=1; a=rsa-sha256; d=exa\"mple.com; s=rsa; h=From; bh=AAAA; b=AAAA",
        "v=1; a=rsa-sha256; d=example.com; s=r(sa; h=From; bh=AAAA; b=AAAA",
        "v=1; a=rsa-sha256; d=example.com; s=rsa; h=From; bh=AAAA; b=AAAA; t=5; x=4",
        "v=1; a=rsa-sha256; d=example.com; s=rsa; h=From; bh=AAAA; b=AAAA; l=99999999999999999999999",
        "v=1; a=rsa-sha256; d=example.com; s=rsa; h=From; bh=AAAA",
        "v=1; a=hmac-sha256; d=example.com; s=rsa; h=From; bh=AAAA; b=AAAA",
        "garbage",
    ];
    for c in cases {
        let o = one(&z, &sig_with(c)).await;
        assert_eq!(o.result, DkimResult::PermError, "{c}");
    }
    // NUL inside d=: the tag-list parser refuses it too.
    let mut m =
        b"DKIM-Signature: v=1; a=rsa-sha256; d=exa\0mple.com; s=rsa; h=From; bh=AAAA; b=AAAA\r\n"
            .to_vec();
    m.extend_from_slice(MSG);
    assert_eq!(one(&z, &m).await.result, DkimResult::PermError);
    assert_eq!(z.query_count(), 0);
    // Best-effort identification of an unparseable signature.
    let o = one(&z, &sig_with(cases[1])).await;
    assert_eq!(
        (o.domain.as_str(), o.selector.as_str()),
        ("example.com", "rsa")
    );
}

#[tokio::test]
async fn unix_line_endings() {
    let z = zone();
    let to_lf = |m: &[u8]| String::from_utf8(m.to_vec()).unwrap().replace("\r\n", "\n");
    for h in [HeaderCanon::Simple, HeaderCanon::Relaxed] {
        for b in [BodyCanon::Simple, BodyCanon::Relaxed] {
            let s = ed_signer().canonicalization(h, b);
            // signed with CRLF, stored with LF
            let m = s.sign_message(MSG).unwrap();
            assert_eq!(one(&z, to_lf(&m).as_bytes()).await.result, DkimResult::Pass);
            // signed as an LF file, then sent with CRLF
            let lf = to_lf(MSG);
            let m = s.sign_message(lf.as_bytes()).unwrap();
            assert!(!m.contains(&b'\r'));
            assert_eq!(one(&z, &m).await.result, DkimResult::Pass);
            let crlf = String::from_utf8(m).unwrap().replace('\n', "\r\n");
            assert_eq!(one(&z, crlf.as_bytes()).await.result, DkimResult::Pass);
            // forcing the strict reading on an LF file breaks simple canon
            let strict = DkimConfig {
                line_endings: Some(LineEndings::Crlf),
                ..cfg()
            };
            let r = verify(&z, to_lf(&s.sign_message(MSG).unwrap()).as_bytes(), &strict).await;
            if b == BodyCanon::Simple || h == HeaderCanon::Simple {
                assert_eq!(r[0].result, DkimResult::Fail);
            }
        }
    }
}

#[tokio::test]
async fn internationalized_domain_and_selector() {
    let key = ed_key();
    let mut z = ZoneResolver::new();
    z.add_txt_str(
        "xn--slecteur-b1a._domainkey.xn--bcher-kva.example",
        &key.public_key_record(),
    );
    let m = "From: Jörg <jörg@bücher.example>\r\nSubject: Grüße\r\n\r\nHällo\r\n".as_bytes();
    let m = Signer::new(key, "bücher.example", "sélecteur")
        .sign_message(m)
        .unwrap();
    let o = one(&z, &m).await;
    assert_eq!(o.result, DkimResult::Pass, "{}", o.reason);
    assert_eq!(o.domain, "bücher.example");
    assert_eq!(o.domain_ascii, "xn--bcher-kva.example");
    assert_eq!(
        z.queries(),
        [(
            RecordType::Txt,
            "xn--slecteur-b1a._domainkey.xn--bcher-kva.example".to_string()
        )]
    );
}

#[tokio::test]
async fn hostile_inputs_do_not_panic() {
    let z = zone();
    let inputs: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"DKIM-Signature:".to_vec(),
        b"DKIM-Signature: ;;;;\r\n\r\n".to_vec(),
        b"DKIM-Signature: v=1; a=ed25519-sha256; d=example.com; s=ed; h=From; bh=AAAA; b=AAAA"
            .to_vec(),
        [
            b"DKIM-Signature: v=1; a=ed25519-sha256; d=example.com; s=ed; h=".as_ref(),
            "From:".repeat(10000).as_bytes(),
            b"; bh=AAAA; b=AAAA\r\nFrom: a\r\n\r\n",
        ]
        .concat(),
        vec![b'\r'; 1000],
        vec![0xff; 1000],
    ];
    for m in inputs {
        let _ = run(&z, &m).await;
    }
}

mod concurrency {
    use super::*;
    use sender_auth::dns::{DnsResult, Mx, Resolver, Txt};
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

    /// Counts how many TXT lookups are in flight at once.
    struct Counting {
        inner: ZoneResolver,
        now: AtomicUsize,
        max: AtomicUsize,
    }

    impl Resolver for Counting {
        async fn txt(&self, name: &str) -> DnsResult<Txt> {
            let n = self.now.fetch_add(1, SeqCst) + 1;
            self.max.fetch_max(n, SeqCst);
            for _ in 0..3 {
                tokio::task::yield_now().await;
            }
            let r = self.inner.txt(name).await;
            self.now.fetch_sub(1, SeqCst);
            r
        }
        async fn a(&self, name: &str) -> DnsResult<Ipv4Addr> {
            self.inner.a(name).await
        }
        async fn aaaa(&self, name: &str) -> DnsResult<Ipv6Addr> {
            self.inner.aaaa(name).await
        }
        async fn mx(&self, name: &str) -> DnsResult<Mx> {
            self.inner.mx(name).await
        }
        async fn ptr(&self, ip: IpAddr) -> DnsResult<String> {
            self.inner.ptr(ip).await
        }
    }

    #[tokio::test]
    async fn key_lookups_run_concurrently() {
        let r = Counting {
            inner: zone(),
            now: AtomicUsize::new(0),
            max: AtomicUsize::new(0),
        };
        let m = ed_signer().sign_message(MSG).unwrap();
        let m = Signer::new(rsa_key(), "example.com", "rsa")
            .sign_message(&m)
            .unwrap();
        let m = ed_signer().sign_message(&m).unwrap();
        let out = verify(&r, &m, &cfg()).await;
        assert!(out.iter().all(|o| o.result == DkimResult::Pass), "{out:#?}");
        assert_eq!(r.max.load(SeqCst), 2, "both distinct keys fetched at once");
        assert_eq!(r.inner.query_count(), 2, "identical (d, s) fetched once");
    }
}

#[tokio::test]
async fn verify_future_is_send_and_works_with_dyn_resolver() {
    fn assert_send<T: Send>(t: T) -> T {
        t
    }
    let z = zone();
    let m = ed_signer().sign_message(MSG).unwrap();
    let c = cfg();
    let out = assert_send(verify(&z, &m, &c)).await;
    assert_eq!(out[0].result, DkimResult::Pass);
    let dynr: std::sync::Arc<dyn sender_auth::dns::DynResolver> = std::sync::Arc::new(zone());
    let out = assert_send(verify(&*dynr, &m, &c)).await;
    assert_eq!(out[0].result, DkimResult::Pass);
    // and it can be spawned on a multi-threaded runtime
    let handle = tokio::spawn(async move { verify(&z, &m, &c).await });
    assert_eq!(handle.await.unwrap()[0].result, DkimResult::Pass);
}
