//! DKIM conformance: `../shared/conformance/dkim/` (see each folder's
//! SOURCES.md). Every file used must exist; a missing one fails the test
//! with its path, unless `SENDER_AUTH_SKIP_CONFORMANCE=1` (then a SKIPPED
//! line is printed).
//!
//! Bare-LF vectors (go-msgauth): two vectors of
//! `go-msgauth-canonicalization/canonicalization-vectors.json` (`simple_body`
//! "What about\nLF endings?\n\n" and the chunked "\r\n","\r","\n","hey\n","\n")
//! encode go-msgauth's choice of reading a bare LF as CRLF. RFC 6376 only
//! defines CRLF lines. We check them twice: with `LineEndings::Crlf` (the
//! RFC reading, which our verifier uses for any message containing a CR)
//! the bare LFs are data, and we assert our own output; with
//! `LineEndings::BareLfAsCrlf` (which the verifier uses automatically for a
//! message with no CR at all) we reproduce go-msgauth's expected output.

use std::path::PathBuf;

use sender_auth::dkim::canon::{
    BodyCanon, BodyCanonicalizer, HeaderCanon, LineEndings, canonicalize_body, canonicalize_header,
    parse_c,
};
use sender_auth::dkim::{DkimConfig, DkimResult, Signature, verify};
use sender_auth::dns::zone::ZoneResolver;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/conformance/dkim");

/// The path of a conformance file, or `None` (after printing SKIPPED) when
/// it is absent and skipping is allowed. Panics, naming the path, otherwise.
fn data(rel: &str) -> Option<PathBuf> {
    let p = PathBuf::from(format!("{ROOT}/{rel}"));
    if p.exists() {
        return Some(p);
    }
    common::absent(&p, "no such file")
}

mod common;

fn read(p: &PathBuf) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

fn yaml(p: &PathBuf) -> serde_yaml::Value {
    serde_yaml::from_slice(&read(p)).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn json(p: &PathBuf) -> serde_json::Value {
    serde_json::from_slice(&read(p)).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn lf_to_crlf(m: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(m.len() + m.len() / 20);
    let mut prev = 0;
    for &b in m {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    out
}

/// TXT records from a master file: `owner IN TXT ( "a" "b" )`, comments
/// after `;` outside quotes.
fn zone_txt(text: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    // strip comments
    let mut clean = String::new();
    for line in text.lines() {
        let mut inq = false;
        for c in line.chars() {
            if c == '"' {
                inq = !inq;
            }
            if c == ';' && !inq {
                break;
            }
            clean.push(c);
        }
        clean.push('\n');
    }
    let mut rest = clean.as_str();
    while let Some(pos) = rest.find(" TXT") {
        let owner_line_start = rest[..pos].rfind('\n').map_or(0, |i| i + 1);
        let owner = rest[owner_line_start..pos]
            .split_whitespace()
            .next()
            .unwrap()
            .trim_end_matches('.')
            .to_string();
        let after = &rest[pos + 4..];
        let end = if after.trim_start().starts_with('(') {
            after.find(')').unwrap()
        } else {
            after.find('\n').unwrap_or(after.len())
        };
        let body = &after[..end];
        let strings: Vec<String> = body
            .split('"')
            .enumerate()
            .filter(|(i, _)| i % 2 == 1)
            .map(|(_, s)| s.to_string())
            .collect();
        out.push((owner, strings));
        rest = &after[end..];
    }
    out
}

fn results(out: &[sender_auth::dkim::DkimOutput]) -> Vec<DkimResult> {
    out.iter().map(|o| o.result).collect()
}

fn config() -> DkimConfig {
    DkimConfig {
        now: Some(1_700_000_000),
        ..DkimConfig::default()
    }
}

#[tokio::test]
async fn rfc_examples() {
    let Some(cases) = data("rfc-examples/CASES.yaml") else {
        return;
    };
    let cases = yaml(&cases);
    let mut checked = 0;
    for case in cases["cases"].as_sequence().unwrap() {
        let msg_name = case["message"].as_str().unwrap();
        let Some(msg) = data(&format!("rfc-examples/{msg_name}")) else {
            return;
        };
        let msg = read(&msg);
        let mut zone = ZoneResolver::new();
        for z in case["zone"].as_sequence().unwrap() {
            let Some(zp) = data(&format!("rfc-examples/{}", z.as_str().unwrap())) else {
                return;
            };
            let text = String::from_utf8(read(&zp)).unwrap();
            for (owner, strings) in zone_txt(&text) {
                zone.add_txt(&owner, strings);
            }
        }
        let expected: Vec<DkimResult> = case["signatures"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|s| match s["result"].as_str().unwrap() {
                "pass" => DkimResult::Pass,
                "fail" => DkimResult::Fail,
                r => panic!("unknown result {r}"),
            })
            .collect();
        let out = verify(&zone, &msg, &config()).await;
        assert_eq!(results(&out), expected, "{msg_name}: {out:#?}");
        for (o, s) in out.iter().zip(case["signatures"].as_sequence().unwrap()) {
            assert_eq!(o.domain, s["d"].as_str().unwrap());
            assert_eq!(o.selector, s["s"].as_str().unwrap());
            assert_eq!(o.algorithm, s["a"].as_str().unwrap());
            if o.result == DkimResult::Fail {
                assert_eq!(o.reason, "body hash did not verify", "{msg_name}");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 5);
    println!("rfc-examples: {checked}/5 signatures as expected");
}

/// Builds the resolver for a dkimpy case from extracted/dns-records.yaml.
fn dkimpy_zone(records: &serde_yaml::Value, names: &[&str]) -> Option<ZoneResolver> {
    let mut zone = ZoneResolver::new();
    for name in names {
        let rec = &records["records"][*name];
        assert!(!rec.is_null(), "dns-records.yaml has no {name}");
        let value = if let Some(v) = rec["value"].as_str() {
            v.as_bytes().to_vec()
        } else {
            let f = rec["file"].as_str().unwrap();
            let p = data(&format!("dkimpy/{f}"))?;
            read(&p)
        };
        let value = String::from_utf8(value).unwrap();
        let owner = name.split('#').next().unwrap();
        zone.add_txt(owner, [value.trim_end().to_string()]);
    }
    Some(zone)
}

#[tokio::test]
async fn dkimpy_presigned() {
    let Some(cases) = data("dkimpy/CASES.yaml") else {
        return;
    };
    let Some(records) = data("dkimpy/extracted/dns-records.yaml") else {
        return;
    };
    let cases = yaml(&cases);
    let records = yaml(&records);
    let mut n = 0;
    for case in cases["presigned"].as_sequence().unwrap() {
        let msg_name = case["message"].as_str().unwrap();
        let Some(p) = data(&format!("dkimpy/{msg_name}")) else {
            return;
        };
        let raw = read(&p);
        let names: Vec<&str> = case["dns"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let Some(zone) = dkimpy_zone(&records, &names) else {
            return;
        };
        // CASES.yaml says pass/fail (dkimpy's vocabulary). Our precise
        // results for its "fail" cases: the defective key and the invalid
        // d= are permerror; the others fail cryptographically.
        let expected: Vec<DkimResult> = case["expect"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|v| match (v.as_str().unwrap(), msg_name, names[0]) {
                ("pass", ..) => DkimResult::Pass,
                ("fail", _, n) if n.ends_with("#defective") => DkimResult::PermError,
                ("fail", "data/test.message.baddomain", _) => DkimResult::PermError,
                ("fail", ..) => DkimResult::Fail,
                (r, ..) => panic!("unknown {r}"),
            })
            .collect();
        // As stored (LF files are read with LF as CRLF) and converted to CRLF.
        for msg in [raw.clone(), lf_to_crlf(&raw)] {
            zone.clear_queries();
            let out = verify(&zone, &msg, &config()).await;
            assert_eq!(results(&out), expected, "{msg_name} {names:?}: {out:#?}");
            if msg_name.ends_with("baddomain") {
                assert!(zone.queries().is_empty(), "invalid d= reached the resolver");
            }
        }
        n += expected.len();
    }
    assert_eq!(n, 8);
    println!("dkimpy presigned: {n}/8 signatures as expected");
}

#[cfg(feature = "sign")]
mod roundtrip {
    use super::*;
    use sender_auth::dkim::{Signer, SigningKey};

    fn key(file: &str) -> Option<SigningKey> {
        let p = data(&format!("dkimpy/{file}"))?;
        let text = String::from_utf8(read(&p)).unwrap();
        Some(if text.contains("-----BEGIN") {
            SigningKey::rsa_from_pem(&text).unwrap()
        } else {
            SigningKey::ed25519_from_base64(&text).unwrap()
        })
    }

    fn record(file: &str) -> Option<String> {
        let p = data(&format!("dkimpy/{file}"))?;
        Some(String::from_utf8(read(&p)).unwrap().trim_end().to_string())
    }

    async fn check(priv_file: &str, record_value: &str, alg: &str) -> Option<()> {
        let key = key(priv_file)?;
        assert_eq!(key.algorithm().as_str(), alg);
        let msg = read(&data("dkimpy/data/test.message")?);
        let mut zone = ZoneResolver::new();
        zone.add_txt_str("sel._domainkey.example.com", record_value);
        let signed = Signer::new(key, "example.com", "sel")
            .sign_message(&msg)
            .unwrap();
        let out = verify(&zone, &signed, &config()).await;
        assert_eq!(results(&out), [DkimResult::Pass], "{priv_file}: {out:#?}");
        Some(())
    }

    #[tokio::test]
    async fn dkimpy_round_trip_keys() {
        // (private key, key record file or value, algorithm): CASES.yaml round_trip_keys.
        let ed_net = "v=DKIM1; k=ed25519; p=yi50DjK5O9pqbFpNHklsv9lqaS0ArSYu02qp1S0DW1Y=";
        let ed_rfc = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
        let Some(test_txt) = record("data/test.txt") else {
            return;
        };
        let Some(spki1024) = record("data/1024_testkey_wo_markers.pub.txt") else {
            return;
        };
        let Some(pkcs1_1024) = record("data/1024_testkey_wo_markers.pub.rsa.txt") else {
            return;
        };
        let Some(spki2048) = record("data/2048_testkey_wo_markers.pub.txt") else {
            return;
        };
        let Some(pkcs1_2048) = record("data/2048_testkey_wo_markers.pub.rsa.txt") else {
            return;
        };
        let Some(pkcs8) = record("data/2048_testkey_PKCS8.key.pub.txt") else {
            return;
        };
        let cases: [(&str, &str, &str); 8] = [
            ("data/test.private", &test_txt, "rsa-sha256"),
            ("data/ed25519test.key", ed_net, "ed25519-sha256"),
            ("data/rfc8032_7_1.key", ed_rfc, "ed25519-sha256"),
            ("data/1024_testkey.key", &spki1024, "rsa-sha256"),
            ("data/1024_testkey.key", &pkcs1_1024, "rsa-sha256"),
            ("data/2048_testkey.key", &spki2048, "rsa-sha256"),
            ("data/2048_testkey.key", &pkcs1_2048, "rsa-sha256"),
            ("data/2048_testkey_PKCS8.key", &pkcs8, "rsa-sha256"),
        ];
        for (k, r, a) in cases {
            if check(k, r, a).await.is_none() {
                return;
            }
        }
        println!("dkimpy round-trip keys: 8/8 pass");
    }

    #[tokio::test]
    async fn dkimpy_negative_round_trip() {
        let Some(key) = key("data/test.private") else {
            return;
        };
        let Some(msg) = data("dkimpy/data/test.message") else {
            return;
        };
        let msg = read(&msg);
        let Some(good) = record("data/test.txt") else {
            return;
        };
        let mut zone = ZoneResolver::new();
        zone.add_txt_str("test._domainkey.example.com", &good);
        let signer =
            Signer::new(key.clone(), "example.com", "test").headers(["From", "To", "Subject"]);
        let signed = signer.sign_message(&msg).unwrap();
        let cfg = config();
        assert_eq!(
            results(&verify(&zone, &signed, &cfg).await),
            [DkimResult::Pass]
        );

        // appending to the body -> fail (body hash)
        let mut m = signed.clone();
        m.extend_from_slice(b"foo");
        let out = verify(&zone, &m, &cfg).await;
        assert_eq!(results(&out), [DkimResult::Fail]);
        assert_eq!(out[0].reason, "body hash did not verify");

        // an extra From above or below the signed one -> fail
        let text = String::from_utf8(signed.clone()).unwrap();
        let below = text.replacen("From: ", "From: x@evil.example\nFrom: ", 1);
        let above = text.replacen("Received: ", "From: x@evil.example\nReceived: ", 1);
        for m in [below, above] {
            assert_ne!(m, text);
            assert_eq!(
                results(&verify(&zone, m.as_bytes(), &cfg).await),
                [DkimResult::Fail]
            );
        }

        // an unsigned X-Foo -> still pass
        let m = text.replacen("Received: ", "X-Foo: bar\nReceived: ", 1);
        assert_eq!(
            results(&verify(&zone, m.as_bytes(), &cfg).await),
            [DkimResult::Pass]
        );

        // signing a message without From is refused
        let Some(nofrom) = data("dkimpy/data/test_nofrom.message") else {
            return;
        };
        assert_eq!(
            signer.sign(&read(&nofrom)),
            Err(sender_auth::dkim::SignError::NoFrom)
        );

        // key record variants
        for (file, want) in [
            ("data/badversion.txt", DkimResult::PermError),
            ("data/badk.txt", DkimResult::PermError),
            ("data/test2.txt", DkimResult::Pass),
            ("data/test_bad.txt", DkimResult::PermError),
        ] {
            let Some(r) = record(file) else { return };
            let mut z = ZoneResolver::new();
            z.add_txt_str("test._domainkey.example.com", &r);
            assert_eq!(results(&verify(&z, &signed, &cfg).await), [want], "{file}");
        }

        // l= verifies; a d= with a non-ASCII (non-UTF-8) byte -> permerror
        let signed_l = signer.clone().body_length(true).sign_message(&msg).unwrap();
        assert!(String::from_utf8_lossy(&signed_l).contains("\tl="));
        assert_eq!(
            results(&verify(&zone, &signed_l, &cfg).await),
            [DkimResult::Pass]
        );
        let mut bad = signed.clone();
        let pos = bad.windows(13).position(|w| w == b"d=example.com").unwrap();
        bad[pos + 4] = 0xe9;
        assert_eq!(
            results(&verify(&zone, &bad, &cfg).await),
            [DkimResult::PermError]
        );
    }
}

fn s(v: &serde_json::Value) -> Vec<u8> {
    v.as_str().unwrap().as_bytes().to_vec()
}

#[test]
fn dkimpy_canonicalization_vectors() {
    let Some(p) = data("dkimpy/extracted/canonicalization-vectors.json") else {
        return;
    };
    let v = json(&p);
    let mut n = 0;
    let join = |pairs: &serde_json::Value| -> Vec<u8> {
        let mut out = Vec::new();
        for pair in pairs.as_array().unwrap() {
            out.extend(s(&pair[0]));
            out.push(b':');
            out.extend(s(&pair[1]));
        }
        out
    };
    for (key, canon) in [
        ("simple_headers", HeaderCanon::Simple),
        ("relaxed_headers", HeaderCanon::Relaxed),
    ] {
        for vec in v[key].as_array().unwrap() {
            let expected = join(&vec["expected"]);
            for input in [&vec["input"], &vec["expected"]] {
                let mut out = Vec::new();
                for pair in input.as_array().unwrap() {
                    let mut raw = s(&pair[0]);
                    raw.push(b':');
                    raw.extend(s(&pair[1]));
                    canonicalize_header(canon, LineEndings::Crlf, &raw, &mut out);
                }
                assert_eq!(
                    String::from_utf8_lossy(&out),
                    String::from_utf8_lossy(&expected),
                    "{}",
                    vec["name"]
                );
            }
            n += 1;
        }
    }
    for (key, canon) in [
        ("simple_body", BodyCanon::Simple),
        ("relaxed_body", BodyCanon::Relaxed),
    ] {
        for vec in v[key].as_array().unwrap() {
            let expected = s(&vec["expected"]);
            for input in [s(&vec["input"]), expected.clone()] {
                assert_eq!(
                    canonicalize_body(canon, LineEndings::Crlf, &input),
                    expected,
                    "{}",
                    vec["name"]
                );
            }
            n += 1;
        }
    }
    for vec in v["c_tag_parsing"].as_array().unwrap() {
        let got = match vec["c"].as_str() {
            None => {
                let sig = Signature::parse(
                    b"v=1; a=rsa-sha256; d=example.com; s=s; h=From; bh=AA==; b=AA==",
                )
                .unwrap();
                Ok((sig.header_canon, sig.body_canon))
            }
            Some(c) => parse_c(c.as_bytes()),
        };
        if vec["error"].as_bool() == Some(true) {
            assert!(got.is_err(), "{vec}");
        } else {
            let (h, b) = got.unwrap();
            assert_eq!(h.as_str(), vec["header"].as_str().unwrap());
            assert_eq!(b.as_str(), vec["body"].as_str().unwrap());
        }
        n += 1;
    }
    assert_eq!(n, 26);
    println!("dkimpy canonicalization: {n}/26 vectors");
}

fn has_bare_lf(chunks: &[Vec<u8>]) -> bool {
    let all: Vec<u8> = chunks.concat();
    all.iter()
        .enumerate()
        .any(|(i, &b)| b == b'\n' && (i == 0 || all[i - 1] != b'\r'))
}

fn stream(canon: BodyCanon, endings: LineEndings, chunks: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut c = BodyCanonicalizer::new(canon, endings);
    for ch in chunks {
        c.update(ch, &mut out);
    }
    c.finish(&mut out);
    out
}

#[test]
fn go_msgauth_canonicalization_vectors() {
    let Some(p) = data("go-msgauth-canonicalization/canonicalization-vectors.json") else {
        return;
    };
    let v = json(&p);
    let mut rfc = 0;
    let mut bare_lf = 0;
    for vec in v["simple_body"].as_array().unwrap() {
        let chunks: Vec<Vec<u8>> = vec["input_chunks"]
            .as_array()
            .unwrap()
            .iter()
            .map(s)
            .collect();
        let expected = s(&vec["expected"]);
        if has_bare_lf(&chunks) {
            // go-msgauth's bare-LF choice: reproduced with BareLfAsCrlf ...
            assert_eq!(
                stream(BodyCanon::Simple, LineEndings::BareLfAsCrlf, &chunks),
                expected
            );
            // ... while the RFC reading keeps bare LFs as data.
            let strict = stream(BodyCanon::Simple, LineEndings::Crlf, &chunks);
            let mut want = chunks.concat();
            while want.ends_with(b"\r\n") {
                want.truncate(want.len() - 2);
            }
            want.extend_from_slice(b"\r\n");
            assert_eq!(strict, want);
            bare_lf += 1;
        } else {
            assert_eq!(
                stream(BodyCanon::Simple, LineEndings::Crlf, &chunks),
                expected,
                "{vec}"
            );
            rfc += 1;
        }
    }
    for vec in v["relaxed_header"].as_array().unwrap() {
        let mut out = Vec::new();
        canonicalize_header(
            HeaderCanon::Relaxed,
            LineEndings::Crlf,
            &s(&vec["input"]),
            &mut out,
        );
        assert_eq!(out, s(&vec["expected"]), "{vec}");
        rfc += 1;
    }
    for vec in v["relaxed_body"].as_array().unwrap() {
        let out = canonicalize_body(BodyCanon::Relaxed, LineEndings::Crlf, &s(&vec["input"]));
        assert_eq!(out, s(&vec["expected"]), "{vec}");
        rfc += 1;
    }
    let split = &v["relaxed_body_split_crlf"];
    let chunks: Vec<Vec<u8>> = split["chunks"].as_array().unwrap().iter().map(s).collect();
    assert_eq!(
        stream(BodyCanon::Relaxed, LineEndings::Crlf, &chunks),
        s(&split["expected"])
    );
    rfc += 1;
    assert_eq!((rfc, bare_lf), (23, 2));
    println!(
        "go-msgauth canonicalization: {rfc}/23 RFC vectors, {bare_lf}/2 bare-LF vectors (BareLfAsCrlf)"
    );
}

#[test]
fn missing_file_message_names_the_path() {
    if std::env::var("SENDER_AUTH_SKIP_CONFORMANCE").as_deref() == Ok("1") {
        assert!(data("no/such/file.yaml").is_none());
        return;
    }
    let err = std::panic::catch_unwind(|| data("no/such/file.yaml")).unwrap_err();
    let msg = err
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    assert!(
        msg.contains("/../shared/conformance/dkim/no/such/file.yaml"),
        "{msg}"
    );
}
