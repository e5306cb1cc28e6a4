//! Algorithmic-complexity guard for every pure parser: a ~1 MB input of the
//! shape most likely to be super-linear for that parser (many distinct
//! tags, deep nesting, many list items, long runs of escapes). Fuzzing runs
//! with inputs of a few KB and cannot see quadratic behaviour; this sweep
//! found the O(n²) duplicate-tag check in `taglist::parse`
//! (`tests/regress_taglist_quadratic.rs`).
//!
//! Each case runs on its own thread under a generous hang guard (60 s, for
//! unoptimised builds on a loaded machine; every case takes well under a
//! second in a release build). The guard is not a measurement: what is
//! asserted is the result.

use std::sync::mpsc;
use std::time::Duration;

use sender_auth::authres;
use sender_auth::dkim::canon::canonicalize_body;
use sender_auth::dkim::key::KeyRecord;
use sender_auth::dkim::{BodyCanon, LineEndings, Signature};
use sender_auth::dmarc::record as dmarc_record;
use sender_auth::dns::zone::ZoneResolver;
use sender_auth::message::{Message, author_domain};
use sender_auth::spf::macros::{MacroContext, MacroString};
use sender_auth::spf::record::Record;
use sender_auth::taglist;

const MB: usize = 1 << 20;

fn within<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("hang guard: {what} on a 1 MB input"))
}

fn distinct_tags() -> String {
    let mut s = String::with_capacity(MB + 16);
    let mut i = 0;
    while s.len() < MB {
        s.push_str(&format!("x{i}=1; "));
        i += 1;
    }
    s
}

#[test]
fn tag_lists() {
    let tags = distinct_tags();
    let t = tags.clone();
    assert!(within("taglist", move || taglist::parse(t.as_bytes()).is_ok()));
    let t = tags.clone();
    assert!(within("DKIM-Signature", move || {
        Signature::parse(
            format!("v=1; a=rsa-sha256; d=a.example; s=s; h=From; bh=AAAA; b=AAAA; {t}").as_bytes(),
        )
        .is_ok()
    }));
    let t = tags.clone();
    within("DKIM key record", move || {
        KeyRecord::parse(format!("v=DKIM1; p=AAAA; {t}").as_bytes()).is_ok()
    });
    assert!(within("DMARC record", move || {
        dmarc_record::parse(format!("v=DMARC1; p=none; {tags}").as_bytes()).is_ok()
    }));
}

#[test]
fn from_fields() {
    let nested = format!(
        "From: {}a@b.example{}\r\n\r\n",
        "(".repeat(MB / 2),
        ")".repeat(MB / 2)
    );
    within("From with nested comments", move || {
        author_domain(&Message::parse(nested.as_bytes())).is_ok()
    });
    let quoted = format!("From: \"{}\" <a@b.example>\r\n\r\n", "\\\"".repeat(MB / 2));
    let d = within("From with quoted-pairs", move || {
        author_domain(&Message::parse(quoted.as_bytes()))
    });
    assert_eq!(d.as_deref(), Ok("b.example"));
    let many = format!(
        "From: a@b.example, {}\r\n\r\n",
        "c@d.example, ".repeat(MB / 12)
    );
    let d = within("From with many mailboxes", move || {
        author_domain(&Message::parse(many.as_bytes()))
    });
    assert!(d.is_err());
}

#[test]
fn messages_and_bodies() {
    let headers = "X: y\r\n".repeat(MB / 6) + "\r\n";
    let n = within("many header fields", move || {
        Message::parse(headers.as_bytes()).headers().len()
    });
    assert_eq!(n, MB / 6);
    let folded = format!("Subject: {}\r\n\r\n", "x\r\n ".repeat(MB / 4));
    let n = within("one deeply folded field", move || {
        Message::parse(folded.as_bytes()).headers().len()
    });
    assert_eq!(n, 1);
    for endings in [LineEndings::Crlf, LineEndings::BareLfAsCrlf] {
        let body = " \t\r\n\n\r".repeat(MB / 6);
        within("body canonicalization", move || {
            canonicalize_body(BodyCanon::Relaxed, endings, body.as_bytes()).len()
                + canonicalize_body(BodyCanon::Simple, endings, body.as_bytes()).len()
        });
    }
}

#[test]
fn authentication_results() {
    let nested = format!("mx.example; spf=pass {}", "(".repeat(MB));
    assert!(within("A-R nested comments", move || authres::parse(
        &nested
    )
    .is_err()));
    let many = format!(
        "mx.example; {}",
        "spf=pass smtp.mailfrom=a@b.example; ".repeat(MB / 36)
    );
    let n = within("A-R many results", move || {
        authres::parse(many.trim_end_matches("; ")).map(|a| a.results.len())
    });
    assert_eq!(n, Ok(MB / 36));
    let msg = "Authentication-Results: mx.example; spf=pass\r\n".repeat(MB / 46)
        + "From: a@b.example\r\n\r\n";
    let out = within("remove_forged", move || {
        authres::remove_forged(msg.as_bytes(), "mx.example")
    });
    assert_eq!(out, b"From: a@b.example\r\n\r\n");
}

#[test]
fn spf_records_and_macros() {
    let rec = format!("v=spf1 {}-all", "a:%{d}.%{l}.example ".repeat(MB / 20));
    let n = within("SPF record", move || {
        Record::parse(rec.as_bytes()).map(|r| r.dns_terms())
    });
    assert_eq!(n, Ok(MB / 20));
    let m = "%{d1r+-.,/_=}".repeat(MB / 13);
    assert!(within("SPF macro string", move || {
        MacroString::parse(&m, MacroContext::Domain).is_ok()
    }));
}

#[test]
fn zone_files() {
    let parens = "(".repeat(MB);
    assert!(within("zone file parentheses", move || {
        ZoneResolver::from_master_file(&parens, None).is_err()
    }));
    let lines = "a.example. 1 IN TXT \"x\"\n".repeat(MB / 24);
    assert!(within("zone file lines", move || {
        ZoneResolver::from_master_file(&lines, None).is_ok()
    }));
    let strings = format!("a.example. 1 IN TXT {}\n", "\"x\" ".repeat(MB / 4));
    within("zone file character-strings", move || {
        ZoneResolver::from_master_file(&strings, None).is_ok()
    });
}
