//! Authentication-Results: rendering, parsing back, injection safety and
//! forged-field removal (RFC 8601 §2.2, §5).

use proptest::prelude::*;
use sender_auth::authres::{
    AuthenticationResults, ResInfo, claimed_authserv_id, parse, remove_forged,
};

#[test]
fn parse_rfc8601_examples() {
    // RFC 8601 Appendix B.4-style header with comments and a version.
    let ar = parse(
        "Authentication-Results: example.com 1;\r\n \
         spf=pass smtp.mailfrom=example.net (looks good);\r\n \
         dkim=pass (good signature) header.d=example.net header.i=@mail-router.example.net",
    )
    .unwrap();
    assert_eq!(ar.authserv_id, "example.com");
    assert_eq!(ar.results.len(), 2);
    assert_eq!(ar.results[0].method, "spf");
    assert_eq!(ar.results[0].properties[0].value, "example.net");
    assert_eq!(ar.results[1].comment.as_deref(), Some("good signature"));
    assert_eq!(
        ar.results[1].properties[1].value,
        "@mail-router.example.net"
    );
    let none = parse("mx.example; none").unwrap();
    assert!(none.results.is_empty());
    assert!(parse("mx.example; spf").is_err());
    assert!(parse("mx.example; spf=pass (unterminated").is_err());
    assert!(parse("mx.example; spf=pass reason=\"open").is_err());
}

#[test]
fn injection_cannot_add_results() {
    // Every string taken from DNS or the message tries to inject syntax.
    let evil = "x\"; dkim=pass header.d=bank.example (\r\nX-Evil: 1; dmarc=pass";
    let mut ar = AuthenticationResults::new(evil);
    ar.push(
        ResInfo::new("spf", "fail")
            .reason(evil)
            .comment(evil)
            .property("smtp", "mailfrom", evil),
    );
    ar.push(ResInfo::new(evil, evil).property(evil, evil, evil));
    let header = ar.header();
    // No line starts a new header field: every line after the first is a
    // continuation.
    for line in header.split("\r\n").skip(1) {
        assert!(line.starts_with('\t'), "{line:?}");
    }
    let back = parse(&header).unwrap();
    assert_eq!(back, ar.normalized());
    // Exactly the two results we wrote, none injected.
    assert_eq!(back.results.len(), 2);
    assert!(!back.results.iter().any(|r| r.method == "dkim"));
    assert!(!back.results.iter().any(|r| r.method == "dmarc"));
}

#[test]
fn forged_ar_removed_everywhere() {
    let msg = b"Authentication-Results: mx.example.net; dkim=pass\r\n\
Received: from a\r\n\
authentication-results:  (forged) MX.Example.NET.;\r\n\tspf=pass\r\n\
Authentication-Results: \"mx.example.net\"; dmarc=pass\r\n\
Authentication-Results: other.example; spf=fail\r\n\
Authentication-Results: mx.example.network; spf=pass\r\n\
Authentication-Results: ;\r\n\
From: a@example.com\r\n\
Authentication-Results: mx.example.net; arc=pass\r\n\
\r\n\
Authentication-Results: mx.example.net; in the body stays\r\n";
    let clean = remove_forged(msg, "mx.example.net");
    let text = String::from_utf8(clean).unwrap();
    assert_eq!(
        text,
        "Received: from a\r\n\
Authentication-Results: other.example; spf=fail\r\n\
Authentication-Results: mx.example.network; spf=pass\r\n\
From: a@example.com\r\n\
\r\n\
Authentication-Results: mx.example.net; in the body stays\r\n"
    );
    assert_eq!(
        claimed_authserv_id(b" (c) \"quoted id\" ; x=y").as_deref(),
        Some("quoted id")
    );
    // Nothing to remove: the message is returned unchanged.
    let untouched = b"From: a@example.com\n\nbody";
    assert_eq!(remove_forged(untouched, "mx.example.net"), untouched);
}

#[test]
fn authenticator_output_parses_back() {
    let mut ar = AuthenticationResults::new("mx.example.net");
    ar.push(ResInfo::new("iprev", "pass").property("policy", "iprev", "2001:db8::1"));
    ar.push(
        ResInfo::new("dkim", "pass")
            .property("header", "d", "example.com")
            .property("header", "b", "k/fkIq50"),
    );
    ar.push(
        ResInfo::new("dmarc", "fail")
            .comment("mode=rfc9989 p=reject")
            .reason("no aligned identifier")
            .property("header", "from", "example.com")
            .property("policy", "dmarc", "reject"),
    );
    assert_eq!(parse(&ar.header()).unwrap(), ar);
    assert_eq!(parse(&ar.value()).unwrap(), ar);
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9.-]{1,20}",
        any::<String>(),
        "[ -~]{0,30}",
        Just("a@b.example".to_string()),
        Just("2001:db8::1".to_string()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn render_parse_roundtrip(
        id in text(),
        items in proptest::collection::vec(
            (text(), text(), proptest::option::of(text()), proptest::option::of(text()),
             proptest::collection::vec((text(), text(), text()), 0..4)),
            0..5),
    ) {
        let mut ar = AuthenticationResults::new(id);
        for (m, r, reason, comment, props) in items {
            let mut ri = ResInfo::new(m, r);
            ri.reason = reason;
            ri.comment = comment;
            for (t, n, v) in props {
                ri = ri.property(t, n, v);
            }
            ar.push(ri);
        }
        let header = ar.header();
        prop_assert!(header.split("\r\n").skip(1).all(|l| l.starts_with('\t')));
        let back = parse(&header);
        prop_assert_eq!(back, Ok(ar.normalized()));
    }

    #[test]
    fn parse_and_remove_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let s = String::from_utf8_lossy(&bytes);
        let _ = parse(&s);
        let _ = claimed_authserv_id(&bytes);
        let out = remove_forged(&bytes, "mx.example");
        prop_assert!(out.len() <= bytes.len());
    }
}
