//! Terms (`Directive::text`) and literal targets of a parsed record are
//! `SharedStr` pieces: held in place when short, else pointing into one
//! shared copy of the record's text. What they say is unchanged: the same
//! text, parts and equality as a stand-alone parse.

use sender_auth::spf::macros::{MacroContext, MacroString, Part};
use sender_auth::spf::record::{Mechanism, Record, SharedStr};

#[test]
fn terms_and_targets_read_as_written() {
    let r = Record::parse(
        b"v=spf1 include:_spf.a  mx:a.example/24 a ip4:198.51.100.0/28 exists:%{i}.x.example redirect=_r.example exp=e.example -all",
    )
    .unwrap();
    let texts: Vec<&str> = r.directives.iter().map(|d| d.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "include:_spf.a",
            "mx:a.example/24",
            "a",
            "ip4:198.51.100.0/28",
            "exists:%{i}.x.example",
            "-all"
        ]
    );
    assert_eq!(r.directives[0].text, "include:_spf.a");
    assert_eq!(r.directives[0].text.to_string(), "include:_spf.a");
    assert_eq!(format!("{:?}", r.directives[0].text), "\"include:_spf.a\"");
    assert_eq!(r.directives[1].offset, 23);
    let Mechanism::Include { domain } = &r.directives[0].mechanism else {
        panic!("include");
    };
    let alone = MacroString::parse("_spf.a", MacroContext::Domain).unwrap();
    assert_eq!(domain, &alone);
    assert_eq!(domain.as_str(), "_spf.a");
    assert_eq!(domain.parts(), [Part::Literal("_spf.a".into())]);
    assert!(domain.is_literal() && !domain.uses_ptr());
    assert_eq!(format!("{domain:?}"), format!("{alone:?}"));
    let Mechanism::Exists { domain } = &r.directives[4].mechanism else {
        panic!("exists");
    };
    assert_eq!(
        domain,
        &MacroString::parse("%{i}.x.example", MacroContext::Domain).unwrap()
    );
    assert!(!domain.is_literal());
    assert_eq!(r.redirect.as_ref().map(|m| m.as_str()), Some("_r.example"));
    assert_eq!(r.exp.as_ref().map(|m| m.as_str()), Some("e.example"));
    // A clone is equal, and so is a record parsed again.
    assert_eq!(r.clone(), r);
    assert_eq!(
        Record::parse(
            b"v=spf1 include:_spf.a  mx:a.example/24 a ip4:198.51.100.0/28 exists:%{i}.x.example redirect=_r.example exp=e.example -all"
        )
        .unwrap(),
        r
    );
}

/// Terms and targets on both sides of the in-place limit (24 octets) read
/// as written, also next to each other and in a clone of the record.
#[test]
fn long_and_short_pieces_read_as_written() {
    let long = "spf.protection.outlook.example"; // 30 octets
    let edge = "x".repeat(14) + ".example"; // 22: `include:` + 22 = 30
    let text = format!(
        "v=spf1 include:{long} include:{edge} a:{edge}xy.z ip6:2001:db8:1234:5678::/64 redirect={long}.x"
    );
    let r = Record::parse(text.as_bytes()).unwrap();
    let terms: Vec<&str> = r.directives.iter().map(|d| d.text.as_str()).collect();
    assert_eq!(
        terms,
        [
            format!("include:{long}"),
            format!("include:{edge}"),
            format!("a:{edge}xy.z"),
            "ip6:2001:db8:1234:5678::/64".to_string(),
        ]
    );
    let targets: Vec<&str> = r
        .directives
        .iter()
        .filter_map(|d| match &d.mechanism {
            Mechanism::Include { domain } => Some(domain.as_str()),
            Mechanism::A { domain, .. } => domain.as_ref().map(|m| m.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        targets,
        [long.to_string(), edge.clone(), format!("{edge}xy.z")]
    );
    assert_eq!(
        r.redirect.as_ref().map(|m| m.as_str()),
        Some(format!("{long}.x").as_str())
    );
    let copy = r.clone();
    drop(r);
    assert_eq!(copy.directives[0].text, format!("include:{long}"));
    assert_eq!(Record::parse(text.as_bytes()).unwrap(), copy);
}

#[test]
fn shared_str_compares_as_str() {
    let a = SharedStr::new("abc");
    let b: SharedStr = "abc".into();
    assert_eq!(a, b);
    assert_eq!(a, "abc");
    assert_eq!(a, String::from("abc"));
    assert_eq!(&*a, "abc");
    assert_eq!(a.len(), 3);
    assert_eq!(String::from(a.clone()), "abc");
    assert_ne!(a, SharedStr::new("abd"));
    // Longer than what is held in place, and empty.
    let long = "a".repeat(100);
    assert_eq!(SharedStr::new(&long), long);
    assert_eq!(SharedStr::new(&long).clone().len(), 100);
    assert_ne!(SharedStr::new(&long), SharedStr::new(&long[1..]));
    assert_eq!(SharedStr::new(""), "");
}

/// A record with a byte outside visible ASCII still fails where it did:
/// at the first term in error.
#[test]
fn invalid_bytes_still_reported_at_their_term() {
    let e = Record::parse(b"v=spf1 a:\x01x.example -all").unwrap_err();
    assert_eq!(e.offset, 9);
    let e = Record::parse(b"v=spf1 foo:bar a:\xffx.example").unwrap_err();
    assert_eq!(e.offset, 7, "the unknown mechanism comes first");
    let e = Record::parse(b"v=spf1 -all\tmx").unwrap_err();
    assert_eq!(e.offset, 11);
}
