//! Property tests: streaming canonicalization equals one-shot for any chunk
//! split; sign → verify passes for random messages and canonicalizations;
//! any single-byte change in a signed header or in the body fails.
//! Case counts are modest (debug builds); Ed25519 keys keep signing fast.

use proptest::prelude::*;
use sender_auth::dkim::canon::{BodyCanon, BodyCanonicalizer, LineEndings, canonicalize_body};

fn body_bytes() -> impl Strategy<Value = Vec<u8>> {
    // An alphabet rich in the bytes canonicalization cares about.
    proptest::collection::vec(
        prop_oneof![
            Just(b'a'),
            Just(b'Z'),
            Just(b' '),
            Just(b'\t'),
            Just(b'\r'),
            Just(b'\n'),
            any::<u8>()
        ],
        0..200,
    )
}

/// Long bodies of mostly plain text with rare special bytes, so that the
/// canonicalizer's block scanner (64-octet blocks) sees long clean runs and
/// specials at every offset within and across blocks.
fn sparse_body() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        prop_oneof![
            40 => Just(&b"a"[..]),
            8 => Just(&b" "[..]),
            4 => Just(&b"\r\n"[..]),
            1 => Just(&b"  "[..]),
            1 => Just(&b"\t"[..]),
            1 => Just(&b" \r\n"[..]),
            1 => Just(&b"\r"[..]),
            1 => Just(&b"\n"[..]),
            1 => Just(&b"\r\n\r\n"[..]),
        ],
        0..1500,
    )
    .prop_map(|pieces| pieces.concat())
}

/// RFC 6376 §3.4.3 written the obvious way.
fn naive_simple(body: &[u8]) -> Vec<u8> {
    let mut b = body.to_vec();
    while b.ends_with(b"\r\n") {
        b.truncate(b.len() - 2);
    }
    b.extend_from_slice(b"\r\n");
    b
}

/// RFC 6376 §3.4.4 written the obvious way: split into CRLF lines,
/// compress and strip WSP per line, drop trailing empty lines.
fn naive_relaxed(body: &[u8]) -> Vec<u8> {
    let mut lines: Vec<Vec<u8>> = Vec::new();
    let mut cur = Vec::new();
    let mut i = 0;
    while i < body.len() {
        if body[i] == b'\r' && body.get(i + 1) == Some(&b'\n') {
            lines.push(std::mem::take(&mut cur));
            i += 2;
        } else {
            cur.push(body[i]);
            i += 1;
        }
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    let mut out_lines: Vec<Vec<u8>> = lines
        .into_iter()
        .map(|l| {
            let mut o = Vec::new();
            let mut wsp = false;
            for b in l {
                if b == b' ' || b == b'\t' {
                    wsp = true;
                } else {
                    if wsp {
                        o.push(b' ');
                    }
                    wsp = false;
                    o.push(b);
                }
            }
            o
        })
        .collect();
    while out_lines.last().is_some_and(|l| l.is_empty()) {
        out_lines.pop();
    }
    let mut out = Vec::new();
    for l in out_lines {
        out.extend_from_slice(&l);
        out.extend_from_slice(b"\r\n");
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn streaming_equals_one_shot(
        body in body_bytes(),
        cuts in proptest::collection::vec(0usize..200, 0..8),
        relaxed in any::<bool>(),
        lf in any::<bool>(),
    ) {
        let canon = if relaxed { BodyCanon::Relaxed } else { BodyCanon::Simple };
        let endings = if lf { LineEndings::BareLfAsCrlf } else { LineEndings::Crlf };
        let whole = canonicalize_body(canon, endings, &body);
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(body.len())).collect();
        cuts.sort();
        let mut out = Vec::new();
        let mut c = BodyCanonicalizer::new(canon, endings);
        let mut prev = 0;
        for cut in cuts {
            c.update(&body[prev..cut], &mut out);
            prev = cut;
        }
        c.update(&body[prev..], &mut out);
        c.finish(&mut out);
        prop_assert_eq!(out, whole);
    }

    #[test]
    fn long_runs_match_naive_reference(
        body in sparse_body(),
        cuts in proptest::collection::vec(0usize..3000, 0..4),
    ) {
        let expected = naive_relaxed(&body);
        prop_assert_eq!(
            canonicalize_body(BodyCanon::Relaxed, LineEndings::Crlf, &body),
            expected.clone()
        );
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(body.len())).collect();
        cuts.sort();
        let mut out = Vec::new();
        let mut c = BodyCanonicalizer::new(BodyCanon::Relaxed, LineEndings::Crlf);
        let mut prev = 0;
        for cut in cuts {
            c.update(&body[prev..cut], &mut out);
            prev = cut;
        }
        c.update(&body[prev..], &mut out);
        c.finish(&mut out);
        prop_assert_eq!(out, expected);
    }

    #[test]
    fn matches_naive_reference(body in body_bytes()) {
        prop_assert_eq!(
            canonicalize_body(BodyCanon::Simple, LineEndings::Crlf, &body),
            naive_simple(&body)
        );
        prop_assert_eq!(
            canonicalize_body(BodyCanon::Relaxed, LineEndings::Crlf, &body),
            naive_relaxed(&body)
        );
    }

    #[test]
    fn canonicalization_is_idempotent(body in body_bytes(), relaxed in any::<bool>()) {
        let canon = if relaxed { BodyCanon::Relaxed } else { BodyCanon::Simple };
        let once = canonicalize_body(canon, LineEndings::Crlf, &body);
        prop_assert_eq!(canonicalize_body(canon, LineEndings::Crlf, &once), once.clone());
    }
}

fn tag_soup() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        prop_oneof![
            Just(b"v=1; ".to_vec()),
            Just(b"a=rsa-sha256; ".to_vec()),
            Just(b"a=ed25519-sha256; ".to_vec()),
            Just(b"d=example.com; ".to_vec()),
            Just(b"s=s; ".to_vec()),
            Just(b"h=From; ".to_vec()),
            Just(b"bh=AAAA; ".to_vec()),
            Just(b"b=AAAA; ".to_vec()),
            Just(b"l=5; ".to_vec()),
            Just(b"x=1; t=2; ".to_vec()),
            Just(b"i=@example.com; ".to_vec()),
            Just(b"p=AAAA; k=rsa; ".to_vec()),
            proptest::collection::vec(any::<u8>(), 0..6),
        ],
        0..12,
    )
    .prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// The parsers and the verifier are total on hostile input.
    #[test]
    fn parsers_and_verify_never_panic(soup in tag_soup(), body in body_bytes()) {
        let _ = sender_auth::dkim::Signature::parse(&soup);
        let _ = sender_auth::dkim::key::KeyRecord::parse(&soup);
        let mut zone = sender_auth::dns::zone::ZoneResolver::new();
        zone.add_txt("s._domainkey.example.com", [soup.clone()]);
        let mut msg = b"DKIM-Signature: ".to_vec();
        msg.extend_from_slice(&soup);
        msg.extend_from_slice(b"\r\nFrom: a@example.com\r\n\r\n");
        msg.extend_from_slice(&body);
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let out = rt.block_on(sender_auth::dkim::verify(
            &zone,
            &msg,
            &sender_auth::dkim::DkimConfig::default(),
        ));
        prop_assert!(out.len() <= 1);
    }
}

#[cfg(feature = "sign")]
mod signing {
    use super::*;
    use sender_auth::dkim::{DkimConfig, DkimResult, HeaderCanon, Signer, SigningKey, verify};
    use sender_auth::dns::zone::ZoneResolver;
    use sender_auth::message::Message;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
    }

    fn line() -> impl Strategy<Value = String> {
        "[ -~]{0,40}".prop_map(|s| s.replace(['\r', '\n'], ""))
    }

    fn message() -> impl Strategy<Value = Vec<u8>> {
        (
            line(),
            line(),
            proptest::collection::vec(line(), 0..8),
            any::<bool>(),
        )
            .prop_map(|(subject, to, body, extra)| {
                let mut m = format!("From: a@example.com\r\nTo: {to}\r\nSubject: {subject}\r\n");
                if extra {
                    m.push_str("X-Unsigned: 1\r\n");
                }
                m.push_str("\r\n");
                for l in body {
                    m.push_str(&l);
                    m.push_str("\r\n");
                }
                m.into_bytes()
            })
    }

    fn setup(hc: bool, bc: bool) -> (Signer, ZoneResolver) {
        let key = SigningKey::ed25519_from_seed(&[9; 32]);
        let mut z = ZoneResolver::new();
        z.add_txt_str("p._domainkey.example.com", &key.public_key_record());
        let h = if hc {
            HeaderCanon::Relaxed
        } else {
            HeaderCanon::Simple
        };
        let b = if bc {
            BodyCanon::Relaxed
        } else {
            BodyCanon::Simple
        };
        let signer = Signer::new(key, "example.com", "p")
            .headers(["From", "To", "Subject"])
            .canonicalization(h, b);
        (signer, z)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn sign_then_verify_passes(msg in message(), hc in any::<bool>(), bc in any::<bool>()) {
            let (signer, z) = setup(hc, bc);
            let signed = signer.sign_message(&msg).unwrap();
            let out = rt().block_on(verify(&z, &signed, &DkimConfig::default()));
            prop_assert_eq!(out.len(), 1);
            prop_assert_eq!(out[0].result, DkimResult::Pass, "{}", out[0].reason);
        }

        /// With simple/simple every byte of the signed headers and of the
        /// body is significant: changing any one of them must fail.
        #[test]
        fn single_byte_change_fails(
            msg in message(),
            pos in any::<proptest::sample::Index>(),
            new in any::<u8>(),
        ) {
            let (signer, z) = setup(false, false);
            let signed = signer.sign_message(&msg).unwrap();
            let parsed = Message::parse(&signed);
            // Offsets of signed header fields (From, To, Subject) and the body.
            let base = signed.as_ptr() as usize;
            let mut ranges = Vec::new();
            for h in parsed.headers() {
                if h.is("From") || h.is("To") || h.is("Subject") {
                    let start = h.raw.as_ptr() as usize - base;
                    ranges.push(start..start + h.raw.len());
                }
            }
            let body_start = parsed.body_offset();
            ranges.push(body_start..signed.len());
            let offsets: Vec<usize> = ranges.into_iter().flatten().collect();
            let at = offsets[pos.index(offsets.len())];
            prop_assume!(signed[at] != new);
            let mut changed = signed.clone();
            changed[at] = new;
            let out = rt().block_on(verify(&z, &changed, &DkimConfig::default()));
            prop_assert_eq!(out.len(), 1);
            prop_assert_ne!(out[0].result, DkimResult::Pass, "changed byte {} to {:?}", at, new as char);
        }
    }
}
