//! RFC 1035 master-file loading for `ZoneResolver`: every supported feature,
//! and malformed files (clear errors with line numbers, never a panic).

use std::net::{Ipv4Addr, Ipv6Addr};

use sender_auth::dns::zone::{DEFAULT_TTL, ZoneResolver};
use sender_auth::dns::zonefile::{ZoneFileError, ZoneFileErrorKind};
use sender_auth::dns::{DnsError, Mx, Resolver};

fn block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

fn load(text: &str) -> ZoneResolver {
    match ZoneResolver::from_master_file(text, None) {
        Ok(z) => z,
        Err(e) => panic!("zone should load: {e}"),
    }
}

fn load_err(text: &str) -> ZoneFileError {
    match ZoneResolver::from_master_file(text, None) {
        Ok(_) => panic!("zone should not load:\n{text}"),
        Err(e) => e,
    }
}

const FULL: &str = r#"
; A zone using every supported feature.
$ORIGIN example.com.
$TTL 1h
@           IN  SOA ns1 hostmaster (
                    2024010101 ; serial
                    7200       ; refresh
                    3600       ; retry
                    1209600    ; expire
                    300 )      ; minimum
            IN  NS  ns1
            IN  MX  10 mail
            IN  MX  20 backup.example.net.
            IN  TXT "v=spf1 ip4:192.0.2.0/24 " "-all"
mail        300 IN A 192.0.2.1
            IN 600 A 192.0.2.2          ; class before TTL
            AAAA 2001:db8::1            ; inherits owner, last TTL (600)... but $TTL wins
www         CNAME mail
alias.other.org. 120 CNAME www.example.com.
sel._domainkey TXT ( "v=DKIM1; k=rsa; "
                     "p=MIIBIjANBgkqh"
                     "kiG9w0BAQEFAAOC" )
esc         TXT "quote\" backslash\\ dec\065\066 semi\; paren\(" unquoted\ word
bin         TXT "\000\255\128"
empty       TXT ""
1.2.0.192.in-addr.arpa. PTR mail
$ORIGIN sub
deep        A 198.51.100.7
@           TXT "sub apex"
"#;

#[test]
fn full_zone_loads_with_every_feature() {
    let z = load(FULL);

    // MX at the apex (@), relative and absolute exchanges, $TTL 1h.
    let mx = block(z.mx("example.com")).unwrap();
    assert_eq!(
        &mx.records[..],
        &[
            Mx {
                preference: 10,
                exchange: "mail.example.com".into()
            },
            Mx {
                preference: 20,
                exchange: "backup.example.net".into()
            }
        ]
    );
    assert_eq!(mx.ttl, 3600);

    // Multi-string TXT keeps its character-strings.
    let spf = block(z.txt("example.com.")).unwrap();
    assert_eq!(spf.records.len(), 1);
    assert_eq!(spf.records[0].strings().len(), 2);
    assert_eq!(spf.records[0].concat(), b"v=spf1 ip4:192.0.2.0/24 -all");

    // Per-record TTLs: the RRset answers with the minimum (300, 600).
    let a = block(z.a("mail.example.com")).unwrap();
    assert_eq!(
        &a.records[..],
        &[Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 2)]
    );
    assert_eq!(a.ttl, 300);
    // Owner inherited from the previous line; $TTL applies without a TTL.
    let aaaa = block(z.aaaa("mail.example.com")).unwrap();
    assert_eq!(
        &aaaa.records[..],
        &["2001:db8::1".parse::<Ipv6Addr>().unwrap()]
    );
    assert_eq!(aaaa.ttl, 3600);

    // CNAMEs are followed; answer TTL is the smallest along the chain.
    let w = block(z.a("www.example.com")).unwrap();
    assert_eq!(w.records.len(), 2);
    let chained = block(z.a("alias.other.org")).unwrap();
    assert_eq!(chained.records.len(), 2);
    assert_eq!(chained.ttl, 120);

    // Parentheses spanning lines, with comments inside.
    let dkim = block(z.txt("sel._domainkey.example.com")).unwrap();
    assert_eq!(dkim.records[0].strings().len(), 3);
    assert_eq!(
        dkim.records[0].concat(),
        b"v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOC"
    );

    // Escapes: \" \\ \DDD (decimal) \X, and an escaped space in an unquoted string.
    let esc = block(z.txt("esc.example.com")).unwrap();
    let strings = esc.records[0].strings();
    assert_eq!(strings[0], b"quote\" backslash\\ decAB semi; paren(");
    assert_eq!(strings[1], b"unquoted word");

    // Raw bytes, not lossy UTF-8.
    let bin = block(z.txt("bin.example.com")).unwrap();
    assert_eq!(bin.records[0].strings()[0], vec![0u8, 255, 128]);

    // An empty character-string is a record.
    let empty = block(z.txt("empty.example.com")).unwrap();
    assert_eq!(empty.records[0].strings(), &[Vec::<u8>::new()]);

    // PTR with an absolute owner and a relative target.
    let ptr = block(z.ptr("192.0.2.1".parse().unwrap())).unwrap();
    assert_eq!(&ptr.records[..], &["mail.example.com".to_string()]);

    // A relative $ORIGIN is relative to the current origin.
    assert!(block(z.a("deep.sub.example.com")).is_ok());
    let sub = block(z.txt("sub.example.com")).unwrap();
    assert_eq!(sub.records[0].concat(), b"sub apex");

    // SOA/NS are accepted and ignored: the apex has no A record, and
    // example.com exists (NODATA), an unknown name is NXDOMAIN.
    assert_eq!(block(z.a("example.com")), Err(DnsError::NoData));
    assert_eq!(block(z.a("nope.example.com")), Err(DnsError::NxDomain));
    // ns1 is only named in NS/SOA data: it does not exist in the zone.
    assert_eq!(block(z.a("ns1.example.com")), Err(DnsError::NxDomain));
}

#[test]
fn ttl_defaults_follow_rfc1035_and_rfc2308() {
    // No $TTL: the last explicit TTL applies; before any, DEFAULT_TTL.
    let z = load(
        "a.example. A 192.0.2.1\n\
         b.example. 42 A 192.0.2.2\n\
         c.example. A 192.0.2.3\n\
         $TTL 7\n\
         d.example. A 192.0.2.4\n\
         e.example. 1d A 192.0.2.5\n\
         f.example. A 192.0.2.6\n",
    );
    let ttl = |n: &str| block(z.a(n)).unwrap().ttl;
    assert_eq!(ttl("a.example"), DEFAULT_TTL);
    assert_eq!(ttl("b.example"), 42);
    assert_eq!(ttl("c.example"), 42);
    assert_eq!(ttl("d.example"), 7);
    assert_eq!(ttl("e.example"), 86_400);
    assert_eq!(ttl("f.example"), 7);
}

#[test]
fn origin_argument_and_case() {
    let z =
        ZoneResolver::from_master_file("@ A 192.0.2.1\nHost A 192.0.2.2\n", Some("Example.ORG."))
            .unwrap();
    assert!(block(z.a("example.org")).is_ok());
    assert!(block(z.a("host.example.org")).is_ok());
    // Without an origin, relative names are an error naming the line.
    let e = load_err("\n@ A 192.0.2.1\n");
    assert_eq!(e.line, 2);
    assert!(matches!(e.kind, ZoneFileErrorKind::NoOrigin(_)));
    let e = load_err("host A 192.0.2.1\n");
    assert!(matches!(e.kind, ZoneFileErrorKind::NoOrigin(_)));
    // A bad origin argument.
    let e = ZoneResolver::from_master_file("", Some("a..b")).unwrap_err();
    assert!(matches!(e.kind, ZoneFileErrorKind::BadOrigin(_)));
    // Root origin.
    let z = ZoneResolver::from_master_file("$ORIGIN .\nexample A 192.0.2.1\n", None).unwrap();
    assert!(block(z.a("example")).is_ok());
}

#[test]
fn null_mx() {
    let z = load("nomail.example. MX 0 .\n");
    let mx = block(z.mx("nomail.example")).unwrap();
    assert_eq!(
        &mx.records[..],
        &[Mx {
            preference: 0,
            exchange: String::new()
        }]
    );
}

#[test]
fn wildcards_load() {
    let z = load("$ORIGIN w.example.\n*.sub TXT \"wild\"\nsub A 192.0.2.1\n");
    assert!(block(z.txt("x.sub.w.example")).is_ok());
}

#[test]
fn crlf_and_tabs_and_no_final_newline() {
    let z = load("$ORIGIN example.\r\n@\tIN\tA\t192.0.2.1\r\n\tTXT\t\"x\"");
    assert!(block(z.a("example")).is_ok());
    assert!(block(z.txt("example")).is_ok());
}

#[test]
fn long_txt_in_several_strings() {
    let chunk = "A".repeat(255);
    let text = format!("k.example. TXT ( \"{chunk}\"\n \"{chunk}\"\n \"{chunk}\" )\n");
    let z = load(&text);
    let t = block(z.txt("k.example")).unwrap();
    assert_eq!(t.records[0].len(), 765);
}

#[test]
fn quoted_string_may_span_lines() {
    let z = load("k.example. TXT \"a\nb\"\nafter.example. A 192.0.2.1\n");
    let t = block(z.txt("k.example")).unwrap();
    assert_eq!(t.records[0].concat(), b"a\nb");
    assert!(block(z.a("after.example")).is_ok());
}

/// Every malformed file gives an error with the right line and a message
/// that names the problem.
#[test]
fn malformed_files_name_line_and_problem() {
    let cases: &[(&str, usize, &str)] = &[
        ("a.example. IN FOO bar\n", 1, "unknown record type \"FOO\""),
        (
            "\n\na.example. SPF \"v=spf1\"\n",
            3,
            "unknown record type \"SPF\"",
        ),
        ("a.example. A 192.0.2.300\n", 1, "not an IPv4 address"),
        ("a.example. A\n", 1, "expected 1 field, found 0"),
        (
            "a.example. A 192.0.2.1 192.0.2.2\n",
            1,
            "expected 1 field, found 2",
        ),
        ("a.example. AAAA 192.0.2.1\n", 1, "not an IPv6 address"),
        ("a.example. MX 70000 mx.example.\n", 1, "not 0..=65535"),
        ("a.example. MX mx.example.\n", 1, "expected 2 fields"),
        ("a.example. TXT\n", 1, "no character-string"),
        ("a.example.\n", 1, "missing record type"),
        ("a.example. 300\n", 1, "missing record type"),
        ("a.example. 300 300 A 192.0.2.1\n", 1, "TTL given twice"),
        ("a.example. 5x A 192.0.2.1\n", 1, "bad TTL \"5x\""),
        ("a.example. 4294967296 A 192.0.2.1\n", 1, "bad TTL"),
        ("a.example. CH A 192.0.2.1\n", 1, "unsupported class \"CH\""),
        (" A 192.0.2.1\n", 1, "no owner name"),
        ("a..example. A 192.0.2.1\n", 1, "empty label"),
        (". A 192.0.2.1\n", 1, "root cannot hold records"),
        ("a\\.b.example. A 192.0.2.1\n", 1, "escaped '.'"),
        (
            "a\\032b.example. A 192.0.2.1\n",
            1,
            "space, control or non-ASCII",
        ),
        ("\"q\".example. A 192.0.2.1\n", 1, "not quoted"),
        (
            "$INCLUDE /etc/passwd\n",
            1,
            "unsupported directive $INCLUDE",
        ),
        (
            "$GENERATE 1-10 a$ A 192.0.2.$\n",
            1,
            "unsupported directive $GENERATE",
        ),
        ("$ORIGIN\n", 1, "$ORIGIN needs exactly one argument"),
        ("$TTL 1 2\n", 1, "$TTL needs exactly one argument"),
        ("$TTL forever\n", 1, "bad TTL \"forever\""),
        ("a.example. TXT \"abc\n\n", 1, "quoted string is not closed"),
        ("a.example. TXT ( \"abc\"\n\n", 1, "'(' is not closed"),
        ("a.example. TXT \"abc\" )\n", 1, "')' without matching '('"),
        ("\na.example. TXT \"\\256\"\n", 2, "bad escape"),
        ("a.example. TXT \"\\12\"\n", 1, "bad escape"),
        ("a.example. TXT abc\\", 1, "bad escape"),
        (
            "a.example. CNAME b.example.\na.example. A 192.0.2.1\n",
            2,
            "has a CNAME and other data",
        ),
        (
            "a.example. A 192.0.2.1\na.example. CNAME b.example.\n",
            2,
            "has a CNAME and other data",
        ),
        (
            "$ORIGIN example.\n@ SOA ns host 1 2 3 4\n",
            2,
            "expected 7 fields, found 6",
        ),
        (
            "$ORIGIN example.\n@ SOA ns host x 2 3 4 5\n",
            2,
            "bad serial",
        ),
        ("a.example. NS\n", 1, "expected 1 field"),
        ("a.example. A \"192.0.2.1\"\n", 1, "unexpected quoted"),
    ];
    for (text, line, msg) in cases {
        let e = load_err(text);
        assert_eq!(e.line, *line, "line for {text:?}: {e}");
        let shown = e.to_string();
        assert!(shown.starts_with(&format!("line {line}: ")), "{shown}");
        assert!(shown.contains(msg), "{text:?}: {shown:?} lacks {msg:?}");
    }
}

#[test]
fn error_line_inside_parentheses_is_the_token_line() {
    let e = load_err("a.example. MX (\n 10\n \n bad..name. )\n");
    assert_eq!(e.line, 4);
    let e = load_err("k.example. TXT ( \"ok\"\n \"ok\"\n \"\\999\" )\n");
    assert_eq!(e.line, 3);
}

#[test]
fn overlong_character_string_is_an_error() {
    let text = format!("k.example. TXT \"{}\"\n", "x".repeat(256));
    let e = load_err(&text);
    assert!(e.to_string().contains("at most 255"), "{e}");
}

#[test]
fn overlong_names_are_errors() {
    let label = "a".repeat(64);
    let e = load_err(&format!("{label}.example. A 192.0.2.1\n"));
    assert!(e.to_string().contains("longer than 63"), "{e}");
    let long = vec!["a".repeat(63); 4].join(".");
    let e = load_err(&format!("{long}. A 192.0.2.1\n"));
    assert!(e.to_string().contains("253"), "{e}");
}

#[test]
fn load_file_reports_path_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.zone");
    std::fs::write(&good, "$ORIGIN example.\n@ A 192.0.2.1\n").unwrap();
    let z = ZoneResolver::load_file(&good).unwrap();
    assert!(block(z.a("example")).is_ok());

    let bad = dir.path().join("bad.zone");
    std::fs::write(&bad, "$ORIGIN example.\n@ A 192.0.2.1\n@ BOGUS x\n").unwrap();
    let e = ZoneResolver::load_file(&bad).unwrap_err();
    assert_eq!(e.line, 3);
    assert_eq!(e.path.as_deref(), Some(bad.as_path()));
    let shown = e.to_string();
    assert!(
        shown.contains("bad.zone: line 3: unknown record type"),
        "{shown}"
    );

    let latin1 = dir.path().join("latin1.zone");
    std::fs::write(
        &latin1,
        b"a.example. A 192.0.2.1\nb.example. TXT \"caf\xe9\"\n",
    )
    .unwrap();
    let e = ZoneResolver::load_file(&latin1).unwrap_err();
    assert_eq!(e.line, 2);
    assert_eq!(e.kind, ZoneFileErrorKind::InvalidUtf8);

    let missing = dir.path().join("missing.zone");
    let e = ZoneResolver::load_file(&missing).unwrap_err();
    assert_eq!(e.line, 0);
    assert!(matches!(e.kind, ZoneFileErrorKind::Io(_)));
    assert!(e.to_string().contains("missing.zone"), "{e}");
}

/// Arbitrary input never panics, and work is linear: a cheap in-test fuzz
/// over mutations of a valid file plus some pathological inputs.
#[test]
fn hostile_input_never_panics() {
    let pathological = [
        String::new(),
        "(".repeat(100_000),
        ")".repeat(10),
        "\"".repeat(3),
        "\\".repeat(5),
        ";".repeat(1000),
        format!("a.example. TXT {}", "\"x\" ".repeat(20_000)),
        format!("a.example. TXT ( {} )", "\n".repeat(10_000)),
        "$ORIGIN".into(),
        "$".into(),
        "@".into(),
        "\t\t\n\n".into(),
        "a.example. IN IN A 192.0.2.1".into(),
        "a.example. 1 IN 2 A 192.0.2.1".into(),
        "é.example. A 192.0.2.1".into(),
        "a.example. TXT \"\\0".into(),
    ];
    for text in &pathological {
        let _ = ZoneResolver::from_master_file(text, None);
        let _ = ZoneResolver::from_master_file(text, Some("example"));
    }

    // Deterministic mutations: delete, duplicate or replace single bytes.
    let base = FULL.as_bytes();
    let specials = b"\"\\();@$. \n\t0A";
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..3000 {
        let mut m = base.to_vec();
        for _ in 0..(next() % 4 + 1) {
            if m.is_empty() {
                break;
            }
            let pos = (next() as usize) % m.len();
            match next() % 3 {
                0 => {
                    m.remove(pos);
                }
                1 => m.insert(pos, specials[(next() as usize) % specials.len()]),
                _ => m[pos] = specials[(next() as usize) % specials.len()],
            }
        }
        if let Ok(text) = std::str::from_utf8(&m)
            && let Err(e) = ZoneResolver::from_master_file(text, None)
        {
            // Every error names a line inside the file.
            let lines = text.lines().count().max(1) + 1;
            assert!(e.line >= 1 && e.line <= lines, "{e} for {text:?}");
        }
    }
}

/// Renders character-strings as a master-file TXT RDATA: printable ASCII
/// as is, `"` and `\` escaped, everything else as `\DDD`.
fn render_txt(strings: &[Vec<u8>]) -> String {
    let mut out = String::new();
    for s in strings {
        out.push_str(" \"");
        for &b in s {
            match b {
                b'"' => out.push_str("\\\""),
                b'\\' => out.push_str("\\\\"),
                0x20..=0x7e => out.push(char::from(b)),
                _ => out.push_str(&format!("\\{b:03}")),
            }
        }
        out.push('"');
    }
    out
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any character-strings survive a trip through the master-file
        /// syntax byte for byte.
        #[test]
        fn txt_round_trip(strings in proptest::collection::vec(
            proptest::collection::vec(any::<u8>(), 0..=255), 1..5)
        ) {
            let text = format!("$ORIGIN example.\nk (TXT{} )\n", render_txt(&strings));
            let z = ZoneResolver::from_master_file(&text, None).unwrap();
            let t = block(z.txt("k.example")).unwrap();
            prop_assert_eq!(t.records[0].strings(), &strings[..]);
        }

        /// Arbitrary text never panics, and errors name a line of the input.
        #[test]
        fn arbitrary_text_never_panics(text in "[ -~\t\n\"\\\\();@$.]{0,200}") {
            if let Err(e) = ZoneResolver::from_master_file(&text, Some("example")) {
                prop_assert!(e.line >= 1 && e.line <= text.lines().count().max(1) + 1, "{}", e);
            }
        }

        /// Arbitrary Unicode never panics.
        #[test]
        fn arbitrary_unicode_never_panics(text in "\\PC{0,100}") {
            let _ = ZoneResolver::from_master_file(&text, None);
        }
    }
}
