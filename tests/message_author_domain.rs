//! The fail-closed Author Domain rule (issue 5; RFC 5322 §3.4, §3.6.2,
//! §4.4; RFC 7489 §6.6.1; RFC 9989 §5.3.1): hostile From fields of every kind,
//! and a property test that no input makes it panic.

use proptest::prelude::*;
use sender_auth::dns::check_name;
use sender_auth::message::{AuthorError, Message, author_domain, author_domain_from_value};

fn from(value: &str) -> Result<String, AuthorError> {
    author_domain_from_value(value.as_bytes())
}

fn msg(raw: &[u8]) -> Result<String, AuthorError> {
    author_domain(&Message::parse(raw))
}

fn is_syntax(r: Result<String, AuthorError>) -> bool {
    matches!(r, Err(AuthorError::Syntax(_)))
}

fn is_invalid_domain(r: Result<String, AuthorError>) -> bool {
    matches!(r, Err(AuthorError::InvalidDomain(_)))
}

#[test]
fn valid_forms() {
    for (v, d) in [
        (" joe@Example.COM", "example.com"),
        (" Joe Q. Public <joe@example.com>", "example.com"),
        (
            " \"Joe, \\\"the\\\" Public\" <joe@example.com>",
            "example.com",
        ),
        (" <joe@example.com>", "example.com"),
        (" \"quoted local\"@example.com", "example.com"),
        (" first.last@sub.example.com", "sub.example.com"),
        (" joe@example.com (comment)", "example.com"),
        ("\r\n Joe\r\n\t<joe@example.com>", "example.com"),
        (" joe . smith @ example . com", "example.com"), // obs-local-part / obs-domain
    ] {
        assert_eq!(from(v).as_deref(), Ok(d), "{v:?}");
    }
}

#[test]
fn zero_or_several_from_fields() {
    assert_eq!(
        msg(b"Subject: x\r\n\r\nFrom: a@b.example\r\n"),
        Err(AuthorError::NoFrom)
    );
    assert_eq!(msg(b""), Err(AuthorError::NoFrom));
    // a line without colon is not a From field
    assert_eq!(msg(b"From\r\n\r\n"), Err(AuthorError::NoFrom));
    // other author-ish fields do not count
    assert_eq!(
        msg(b"Sender: a@b.example\r\nResent-From: a@b.example\r\n\r\n"),
        Err(AuthorError::NoFrom)
    );
    assert_eq!(
        msg(b"From: a@one.example\r\nfrom: b@two.example\r\n\r\n"),
        Err(AuthorError::MultipleFrom)
    );
    assert_eq!(
        msg(b"From: a@one.example\r\nFROM : a@one.example\r\n\r\n"),
        Err(AuthorError::MultipleFrom)
    );
    assert_eq!(
        msg(b"From: a@one.example\r\nX: y\r\n\r\n").as_deref(),
        Ok("one.example")
    );
    // LF-only message, folded
    assert_eq!(
        msg(b"From: Joe\n <joe@one.example>\n\nbody").as_deref(),
        Ok("one.example")
    );
}

#[test]
fn several_mailboxes_and_groups() {
    for v in [
        " a@one.example, b@two.example",
        " A <a@one.example>, B <b@two.example>",
        " a@one.example,b@one.example",
        " a@one.example, , b@two.example",
    ] {
        assert_eq!(from(v), Err(AuthorError::MultipleMailboxes), "{v:?}");
    }
    for v in [
        " Undisclosed recipients:;",
        " Team: a@one.example;",
        " Team: a@one.example, b@two.example;",
        " Mail From:<joe@one.example>",
        " From: Davide D'Marco <user@blah.com>",
        " x:a@evil.example;",
    ] {
        assert_eq!(from(v), Err(AuthorError::Group), "{v:?}");
    }
    // empty list elements (obs-mbox-list) are refused too
    assert!(is_syntax(from(" a@one.example,")), "trailing comma");
    assert!(is_syntax(from(" ,a@one.example")), "leading comma");
}

#[test]
fn trailing_garbage_and_unbalanced() {
    for v in [
        " joe@one.example junk",
        " joe@one.example <x@evil.example>",
        " <joe@one.example> trailing",
        " <joe@one.example>>",
        " joe@one.example>",
        " <joe@one.example",
        " <<joe@one.example>>",
        " <<<><joe@joe.com>>>",
        " <>",
        " Joe <>",
        " (unterminated joe@one.example",
        " joe@one.example (a (nested) comment",
        " joe@one.example)",
        " \"unterminated joe@one.example",
        " [joe@one.example",
        " joe@one.example]",
        " joe@one.example;",
        " joe@one.example@evil.example",
        " joe",
        " ",
        "",
        " @one.example",
        " joe@",
        " joe@.one.example",
        " joe@one..example",
        " joe@one.example.",
        " .joe@one.example",
        " joe.@one.example",
        " \"Johnson, Joe <joe@joe.com>\" joe@joe.com",
        " Joe Smith joe@one.example",
    ] {
        assert!(is_syntax(from(v)), "{v:?}: {:?}", from(v));
    }
}

#[test]
fn quoted_pair_outside_quotes() {
    for v in [
        " joe\\@evil.example@one.example",
        " \\<joe@one.example>",
        " <joe@one.example\\>",
        " joe@one\\.example",
    ] {
        assert!(is_syntax(from(v)), "{v:?}: {:?}", from(v));
    }
    // inside quoted-strings and comments they are fine
    assert_eq!(
        from(" \"a\\\"b\\\\\" <x@one.example>").as_deref(),
        Ok("one.example")
    );
    assert_eq!(
        from(" x@one.example (a \\) b)").as_deref(),
        Ok("one.example")
    );
}

#[test]
fn control_characters_and_bad_bytes() {
    assert!(is_syntax(author_domain_from_value(
        b" joe@one.example\0evil.example"
    )));
    assert!(is_syntax(author_domain_from_value(
        b" joe@one.example\revil"
    )));
    assert!(is_syntax(author_domain_from_value(
        b" joe@one.example\nevil"
    )));
    assert!(is_syntax(author_domain_from_value(
        b" \"a\x01\" <joe@one.example>"
    )));
    assert!(is_syntax(author_domain_from_value(b" joe@one.\xffexample")));
    assert!(is_syntax(author_domain_from_value(b" joe@one.example\x7f")));
}

#[test]
fn invalid_host_names() {
    for v in [
        " joe@[192.0.2.1]",
        " joe@[IPv6:2001:db8::1]",
        " joe@192.0.2.1",
        " joe@-bad.example",
        " joe@bad-.example",
        " joe@ex_ample.com",
        " joe@xn--zz.example",
        " joe@ex!ample.com",
        " joe@=?utf-8?q?evil.example?=",
        " joe@one.example.123",
    ] {
        assert!(is_invalid_domain(from(v)), "{v:?}: {:?}", from(v));
    }
    let long_label = format!(" joe@{}.example", "a".repeat(64));
    assert!(is_invalid_domain(from(&long_label)));
    let long_name = format!(" joe@{}example", "abcdefghi.".repeat(26));
    assert!(is_invalid_domain(from(&long_name)));
}

#[test]
fn obs_route_is_ignored() {
    assert_eq!(
        from(" <@a.example,@b.example:user@dom.example>").as_deref(),
        Ok("dom.example")
    );
    assert_eq!(
        from(" Joe <,@a.example,,@b.example:user@dom.example>").as_deref(),
        Ok("dom.example")
    );
    assert_eq!(
        from(" <@[192.0.2.1]:user@dom.example>").as_deref(),
        Ok("dom.example")
    );
    assert!(is_syntax(from(" <@a.example user@dom.example>")));
    assert!(is_syntax(from(" <@a.example:>")));
}

#[test]
fn encoded_words_are_never_decoded() {
    // In a display name: ignored, whatever it claims.
    assert_eq!(
        from(" =?utf-8?q?evil=40evil.example?= <joe@good.example>").as_deref(),
        Ok("good.example")
    );
    // As a local-part: an opaque atom.
    assert_eq!(
        from(" =?utf-8?b?ZXZpbEBldmlsLmV4YW1wbGU=?=@good.example").as_deref(),
        Ok("good.example")
    );
    // As the domain: not a host name.
    assert!(is_invalid_domain(from(" joe@=?utf-8?q?good.example?=")));
    assert!(is_invalid_domain(from(" joe@=?utf-8?b?Z29vZC5leGFtcGxl?=")));
}

#[test]
fn comments_and_display_names_never_contribute() {
    for v in [
        " joe@good.example (evil@evil.example)",
        " (evil@evil.example) joe@good.example",
        " joe(evil.example)@good.example",
        " joe@(evil.example)good.example",
        " \"evil@evil.example\" <joe@good.example>",
        " evil.example <joe@good.example>",
        " (<evil@evil.example>) <joe@good.example>",
        " \"<evil@evil.example>\" <joe@good.example>",
    ] {
        assert_eq!(from(v).as_deref(), Ok("good.example"), "{v:?}");
    }
}

#[test]
fn u_labels_become_a_labels() {
    assert_eq!(
        from(" joe@bücher.example").as_deref(),
        Ok("xn--bcher-kva.example")
    );
    assert_eq!(
        from(" joe@BÜCHER.example").as_deref(),
        Ok("xn--bcher-kva.example")
    );
    assert_eq!(
        from(" Jöe <jöe@xn--bcher-kva.example>").as_deref(),
        Ok("xn--bcher-kva.example")
    );
    assert_eq!(
        from(" 用户@例子.测试").as_deref(),
        Ok("xn--fsqu00a.xn--0zwm56d")
    );
}

fn check_ok(r: &Result<String, AuthorError>) {
    if let Ok(d) = r {
        assert!(check_name(d).is_ok(), "{d:?}");
        assert!(d.is_ascii() && *d == d.to_ascii_lowercase(), "{d:?}");
        // Display never panics either.
    } else if let Err(e) = r {
        let _ = e.to_string();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        check_ok(&author_domain_from_value(&bytes));
        check_ok(&author_domain(&Message::parse(&bytes)));
    }

    #[test]
    fn never_panics_on_address_like_input(
        parts in proptest::collection::vec(
            prop_oneof![
                Just("<"), Just(">"), Just("@"), Just(","), Just(";"), Just(":"), Just("."),
                Just("("), Just(")"), Just("\""), Just("\\"), Just("["), Just("]"), Just(" "),
                Just("\r\n "), Just("\n"), Just("joe"), Just("example"), Just("com"),
                Just("ü"), Just("xn--"), Just("=?utf-8?q?x?="), Just("-"), Just("\0"),
            ],
            0..40,
        )
    ) {
        let v: String = parts.concat();
        check_ok(&author_domain_from_value(v.as_bytes()));
        let raw = format!("From:{v}\r\n\r\n");
        check_ok(&author_domain(&Message::parse(raw.as_bytes())));
    }
}

/// Cross-check with an independent parser (mail-parser): wherever we
/// accept a From field, it sees the same single address domain; wherever
/// it sees several addresses, we refuse. (mail-parser is lenient, so the
/// reverse does not hold: that leniency is what the fail-closed rule is
/// for.)
#[test]
fn agrees_with_mail_parser_where_we_accept() {
    use mail_parser::MessageParser;
    let values = [
        " joe@Example.COM",
        " Joe Q. Public <joe@example.com>",
        " \"Joe, \\\"the\\\" Public\" <joe@example.com>",
        " <joe@example.com>",
        " first.last@sub.example.com",
        " joe@example.com (comment)",
        " (evil@evil.example) joe@good.example",
        " \"evil@evil.example\" <joe@good.example>",
        " =?utf-8?q?evil=40evil.example?= <joe@good.example>",
        " <@a.example,@b.example:user@dom.example>",
        " a@one.example, b@two.example",
        " A <a@one.example>, B <b@two.example>",
    ];
    for v in values {
        let raw = format!("From:{v}\r\nSubject: x\r\n\r\nbody\r\n");
        let theirs = MessageParser::default()
            .parse(raw.as_bytes())
            .and_then(|m| {
                m.from().map(|a| {
                    a.iter()
                        .filter_map(|x| x.address())
                        .map(|s| s.rsplit('@').next().unwrap_or("").to_ascii_lowercase())
                        .collect::<Vec<String>>()
                })
            })
            .unwrap_or_default();
        let ours = msg(raw.as_bytes());
        match theirs.as_slice() {
            [one] => assert_eq!(ours.as_deref(), Ok(one.as_str()), "{v:?}"),
            many => {
                assert!(many.len() > 1, "{v:?}: mail-parser found nothing");
                assert_eq!(ours, Err(AuthorError::MultipleMailboxes), "{v:?}");
            }
        }
    }
}
