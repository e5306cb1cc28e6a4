//! SPF evaluator behaviour: limits (with query counts), identities, the
//! null sender, explanations, the time budget, rendering, hostile input.

use std::net::IpAddr;
use std::time::Duration;

use sender_auth::authres::AuthenticationResults;
use sender_auth::dns::RecordType;
use sender_auth::dns::zone::{Fault, ZoneResolver};
use sender_auth::spf::{
    Identity, SpfConfig, SpfOutput, SpfResult, check_helo, check_host, check_mail_from,
    received_spf, resinfo,
};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn mail_from(zone: &ZoneResolver, client: &str, from: &str, helo: &str) -> SpfOutput {
    mail_from_with(zone, client, from, helo, &SpfConfig::default())
}

fn mail_from_with(
    zone: &ZoneResolver,
    client: &str,
    from: &str,
    helo: &str,
    config: &SpfConfig,
) -> SpfOutput {
    rt().block_on(check_mail_from(zone, ip(client), from, helo, config))
}

fn queries(zone: &ZoneResolver) -> Vec<String> {
    zone.queries()
        .into_iter()
        .map(|(t, n)| format!("{t} {n}"))
        .collect()
}

// ---------------------------------------------------------------- limits

#[test]
fn dns_term_limit_at_and_over_with_query_log() {
    let mut z = ZoneResolver::new();
    // 10 DNS-querying terms: at the limit.
    z.add_txt(
        "at.example",
        ["v=spf1 a a a a a a a a a a ip4:192.0.2.1 -all"],
    )
    .add_a("at.example", "198.51.100.1".parse().unwrap());
    // 11: over the limit; the 11th term must not be queried.
    z.add_txt(
        "over.example",
        ["v=spf1 a a a a a a a a a a a:last.example -all"],
    )
    .add_a("over.example", "198.51.100.1".parse().unwrap());

    // The sequential evaluator sends every term's query.
    let seq = SpfConfig {
        prefetch: false,
        ..SpfConfig::default()
    };
    let out = mail_from_with(&z, "192.0.2.1", "u@at.example", "h.example", &seq);
    assert_eq!(out.result, SpfResult::Pass);
    assert_eq!(out.dns_lookups, 10);
    assert_eq!(out.void_lookups, 0);
    let mut expected = vec!["TXT at.example".to_string()];
    expected.extend(std::iter::repeat_n("A at.example".to_string(), 10));
    assert_eq!(queries(&z), expected);
    assert_eq!(out.queries, 11);

    // With prefetch (the default) a (type, name) is asked once per check;
    // the terms are counted all the same.
    z.clear_queries();
    let out2 = mail_from(&z, "192.0.2.1", "u@at.example", "h.example");
    assert_eq!(
        (out2.result, out2.dns_lookups),
        (out.result, out.dns_lookups)
    );
    assert_eq!(queries(&z), ["TXT at.example", "A at.example"]);
    assert_eq!(out2.queries, 2);

    z.clear_queries();
    let out = mail_from_with(&z, "192.0.2.1", "u@over.example", "h.example", &seq);
    assert_eq!(out.result, SpfResult::PermError);
    assert_eq!(out.dns_lookups, 11);
    assert!(out.reason().contains("limit 10"), "{}", out.reason());
    assert!(!queries(&z).contains(&"A last.example".to_string()));
    assert_eq!(z.query_count(), 11);

    z.clear_queries();
    let out = mail_from(&z, "192.0.2.1", "u@over.example", "h.example");
    assert_eq!(out.result, SpfResult::PermError);
    assert_eq!(out.dns_lookups, 11);
    assert!(!queries(&z).contains(&"A last.example".to_string()));

    // Configurable.
    let cfg = SpfConfig {
        max_dns_mechanisms: 3,
        ..SpfConfig::default()
    };
    let out = mail_from_with(&z, "192.0.2.1", "u@at.example", "h.example", &cfg);
    assert_eq!(out.result, SpfResult::PermError);
    assert_eq!(out.dns_lookups, 4);
}

#[test]
fn terms_are_counted_across_include_and_redirect() {
    let mut z = ZoneResolver::new();
    z.add_txt(
        "top.example",
        ["v=spf1 include:inc.example redirect=red.example"],
    )
    .add_txt("inc.example", ["v=spf1 a:x.example a:x.example -all"])
    .add_txt("red.example", ["v=spf1 a:x.example ip4:192.0.2.1 -all"])
    .add_a("x.example", "198.51.100.1".parse().unwrap());
    let seq = SpfConfig {
        prefetch: false,
        ..SpfConfig::default()
    };
    let out = mail_from_with(&z, "192.0.2.1", "u@top.example", "h.example", &seq);
    assert_eq!(out.result, SpfResult::Pass);
    // include, 2 x a, redirect, a
    assert_eq!(out.dns_lookups, 5);
    assert_eq!(out.chain().collect::<Vec<_>>(), ["redirect=red.example"]);
    assert_eq!(out.mechanism(), Some("ip4:192.0.2.1"));
    assert_eq!(out.mechanism_domain(), Some("red.example"));
    assert_eq!(
        queries(&z),
        [
            "TXT top.example",
            "TXT inc.example",
            "A x.example",
            "A x.example",
            "TXT red.example",
            "A x.example"
        ]
    );
    // Prefetch (default): same verdict and counts, each name asked once.
    z.clear_queries();
    let pf = mail_from(&z, "192.0.2.1", "u@top.example", "h.example");
    assert_eq!(
        (pf.result, pf.dns_lookups, pf.chain().collect::<Vec<_>>()),
        (out.result, out.dns_lookups, out.chain().collect::<Vec<_>>())
    );
    assert_eq!(
        queries(&z),
        [
            "TXT top.example",
            "TXT inc.example",
            "A x.example",
            "TXT red.example"
        ]
    );
}

#[test]
fn void_lookup_limit() {
    let mut z = ZoneResolver::new();
    z.add_txt("two.example", ["v=spf1 a:nx1.example mx:nx2.example ?all"])
        .add_txt(
            "three.example",
            ["v=spf1 a:nx1.example exists:nx2.example ptr:nx3.example ?all"],
        )
        // NODATA counts too.
        .add_a("nodata.example", "198.51.100.1".parse().unwrap())
        .add_txt(
            "nodata.example",
            ["v=spf1 mx a:nx1.example a:nx2.example ?all"],
        );
    let out = mail_from(&z, "192.0.2.1", "u@two.example", "h.example");
    assert_eq!(out.result, SpfResult::Neutral);
    assert_eq!(out.void_lookups, 2);

    // ptr's PTR query for 192.0.2.1 is the third void lookup.
    let out = mail_from(&z, "192.0.2.1", "u@three.example", "h.example");
    assert_eq!(out.result, SpfResult::PermError);
    assert_eq!(out.void_lookups, 3);
    assert!(out.reason().contains("void"), "{}", out.reason());

    let out = mail_from(&z, "192.0.2.1", "u@nodata.example", "h.example");
    assert_eq!(out.result, SpfResult::PermError);
    assert_eq!(out.void_lookups, 3);

    let cfg = SpfConfig {
        max_void_lookups: 5,
        ..SpfConfig::default()
    };
    let out = mail_from_with(&z, "192.0.2.1", "u@three.example", "h.example", &cfg);
    assert_eq!(out.result, SpfResult::Neutral);
}

#[test]
fn mx_name_limit_is_a_permerror() {
    let mut z = ZoneResolver::new();
    for i in 0..10u16 {
        z.add_mx("ten.example", i, &format!("mx{i}.example"));
        z.add_mx("eleven.example", i, &format!("mx{i}.example"));
        z.add_a(&format!("mx{i}.example"), "198.51.100.1".parse().unwrap());
    }
    z.add_mx("eleven.example", 10, "mx10.example")
        .add_a("mx9.example", "192.0.2.1".parse().unwrap())
        .add_a("mx10.example", "192.0.2.1".parse().unwrap())
        .add_txt("ten.example", ["v=spf1 mx -all"])
        .add_txt("eleven.example", ["v=spf1 mx -all"]);
    let out = mail_from(&z, "192.0.2.1", "u@ten.example", "h.example");
    assert_eq!(out.result, SpfResult::Pass);
    assert_eq!(z.query_count(), 1 + 1 + 10);

    z.clear_queries();
    let out = mail_from(&z, "192.0.2.1", "u@eleven.example", "h.example");
    assert_eq!(out.result, SpfResult::PermError);
    assert!(out.reason().contains("11 MX records"), "{}", out.reason());
    // No address lookups at all once the MX RRset is too big.
    assert_eq!(queries(&z), ["TXT eleven.example", "MX eleven.example"]);

    let cfg = SpfConfig {
        max_mx_names: 11,
        ..SpfConfig::default()
    };
    let out = mail_from_with(&z, "192.0.2.1", "u@eleven.example", "h.example", &cfg);
    assert_eq!(out.result, SpfResult::Pass);
}

#[test]
fn ptr_names_beyond_the_limit_are_ignored() {
    let client = ip("192.0.2.7");
    let mut z = ZoneResolver::new();
    for i in 0..11 {
        let name = format!("h{i}.example.org");
        z.add_ptr(client, &name);
        z.add_a(&name, "192.0.2.7".parse().unwrap());
    }
    z.add_txt("example.org", ["v=spf1 ptr:h10.example.org -all"])
        .add_txt("example.net", ["v=spf1 ptr:h9.example.org -all"]);
    let out = mail_from(&z, "192.0.2.7", "u@example.org", "h.example");
    assert_eq!(out.result, SpfResult::Fail, "11th PTR name is ignored");
    // Only names within the target are validated: none of the first 10.
    assert_eq!(
        queries(&z),
        ["TXT example.org", "PTR 7.2.0.192.in-addr.arpa"]
    );

    z.clear_queries();
    let out = mail_from(&z, "192.0.2.7", "u@example.net", "h.example");
    assert_eq!(out.result, SpfResult::Pass);
    assert_eq!(
        queries(&z),
        [
            "TXT example.net",
            "PTR 7.2.0.192.in-addr.arpa",
            "A h9.example.org"
        ]
    );

    let cfg = SpfConfig {
        max_ptr_names: 11,
        ..SpfConfig::default()
    };
    let out = mail_from_with(&z, "192.0.2.7", "u@example.org", "h.example", &cfg);
    assert_eq!(out.result, SpfResult::Pass);
}

#[test]
fn time_budget_gives_temperror() {
    let mut z = ZoneResolver::new();
    z.add_txt("slow.example", ["v=spf1 a:hang.example -all"])
        .set_fault("hang.example", RecordType::A, Fault::Hang);
    let cfg = SpfConfig {
        timeout: Duration::from_millis(50),
        ..SpfConfig::default()
    };
    let out = mail_from_with(&z, "192.0.2.1", "u@slow.example", "h.example", &cfg);
    assert_eq!(out.result, SpfResult::TempError);
    assert!(out.reason().contains("time budget"), "{}", out.reason());
    assert_eq!(out.dns_lookups, 1);
}

#[test]
fn dns_errors_are_temperrors() {
    let mut z = ZoneResolver::new();
    z.add_txt("a.example", ["v=spf1 a:bad.example -all"])
        .set_fault("bad.example", RecordType::A, Fault::ServFail)
        .set_fault("txt.example", RecordType::Txt, Fault::Timeout);
    assert_eq!(
        mail_from(&z, "192.0.2.1", "u@a.example", "h.example").result,
        SpfResult::TempError
    );
    let out = mail_from(&z, "192.0.2.1", "u@txt.example", "h.example");
    assert_eq!(out.result, SpfResult::TempError);
    assert!(out.reason().contains("txt.example"), "{}", out.reason());
}

// ------------------------------------------------------------ identities

fn identity_zone() -> ZoneResolver {
    let mut z = ZoneResolver::new();
    z.add_txt("helo.example", ["v=spf1 ip4:192.0.2.1 -all"])
        .add_txt("from.example", ["v=spf1 -all"]);
    z
}

#[test]
fn helo_and_mail_from_are_separate_identities() {
    let z = identity_zone();
    let cfg = SpfConfig::default();
    let helo = rt().block_on(check_helo(&z, ip("192.0.2.1"), "helo.example", &cfg));
    assert_eq!(helo.result, SpfResult::Pass);
    assert_eq!(helo.identity, Identity::Helo);
    assert_eq!(helo.domain(), "helo.example");
    assert_eq!(helo.sender(), "postmaster@helo.example");

    // A passing HELO never stands in for a non-null MAIL FROM.
    let mf = mail_from(&z, "192.0.2.1", "user@from.example", "helo.example");
    assert_eq!(mf.result, SpfResult::Fail);
    assert_eq!(mf.identity, Identity::MailFrom);
    assert_eq!(mf.domain(), "from.example");
    assert_eq!(mf.sender(), "user@from.example");
}

#[test]
fn null_sender_uses_postmaster_at_helo() {
    let mut z = identity_zone();
    z.add_txt("exp.example", ["%{s} via %{h} (%{d})"])
        .add_txt("helo2.example", ["v=spf1 -all exp=exp.example"]);
    for null in ["", "<>"] {
        let out = mail_from(&z, "192.0.2.1", null, "helo.example");
        assert_eq!(out.result, SpfResult::Pass);
        assert_eq!(out.identity, Identity::MailFrom);
        assert_eq!(out.sender(), "postmaster@helo.example");
        assert_eq!(out.domain(), "helo.example");
    }
    let out = mail_from(&z, "192.0.2.1", "", "helo2.example");
    assert_eq!(out.result, SpfResult::Fail);
    assert_eq!(
        out.explanation(),
        Some("postmaster@helo2.example via helo2.example (helo2.example)")
    );
    // No local-part: postmaster.
    let out = mail_from(&z, "192.0.2.1", "@helo2.example", "x.example");
    assert_eq!(out.sender(), "postmaster@helo2.example");
}

#[test]
fn unusable_domains_give_none_without_queries() {
    let z = identity_zone();
    for (from, helo) in [
        ("", "[192.0.2.1]"),
        ("", "localhost"),
        ("u@[192.0.2.1]", "h.example"),
        ("u@a..example", "h.example"),
        (
            "u@a1234567890123456789012345678901234567890123456789012345678901234.example",
            "h.example",
        ),
    ] {
        let out = mail_from(&z, "192.0.2.1", from, helo);
        assert_eq!(
            out.result,
            SpfResult::None,
            "{from} {helo}: {}",
            out.reason()
        );
    }
    assert_eq!(z.query_count(), 0);
    let out = rt().block_on(check_helo(
        &z,
        ip("192.0.2.1"),
        "OEMCOMPUTER",
        &SpfConfig::default(),
    ));
    assert_eq!(out.result, SpfResult::None);
}

#[test]
fn ipv4_mapped_clients_are_ipv4() {
    let mut z = ZoneResolver::new();
    z.add_txt(
        "m.example",
        ["v=spf1 ip6:::ffff:0:0/96 ip4:192.0.2.0/24 -all"],
    );
    let out = mail_from(&z, "::ffff:192.0.2.9", "u@m.example", "h.example");
    assert_eq!(out.result, SpfResult::Pass);
    assert_eq!(out.mechanism(), Some("ip4:192.0.2.0/24"));
}

#[test]
fn check_host_directly() {
    let mut z = ZoneResolver::new();
    z.add_txt("d.example", ["v=spf1 exists:%{l}.%{o}.x.example -all"])
        .add_a("alice.s.example.x.example", "127.0.0.2".parse().unwrap());
    let out = rt().block_on(check_host(
        &z,
        ip("192.0.2.1"),
        "d.example",
        "alice@s.example",
        "h.example",
        &SpfConfig::default(),
    ));
    assert_eq!(out.result, SpfResult::Pass);
    assert_eq!(out.domain(), "d.example");
}

// ---------------------------------------------------------- explanations

#[test]
fn explanation_only_on_fail_and_not_counted() {
    let mut z = ZoneResolver::new();
    z.add_txt(
        "e.example",
        ["v=spf1 ip4:192.0.2.1 ~ip4:192.0.2.2 -all exp=why.example"],
    )
    .add_txt("why.example", ["%{i} is not one of %{d}'s hosts"]);
    let out = mail_from(&z, "192.0.2.1", "u@e.example", "h.example");
    assert_eq!(out.result, SpfResult::Pass);
    assert_eq!(out.explanation(), None);
    let out = mail_from(&z, "192.0.2.2", "u@e.example", "h.example");
    assert_eq!(out.result, SpfResult::SoftFail);
    assert_eq!(out.explanation(), None);
    assert!(!queries(&z).iter().any(|q| q.contains("why.example")));
    let out = mail_from(&z, "192.0.2.3", "u@e.example", "h.example");
    assert_eq!(out.result, SpfResult::Fail);
    assert_eq!(
        out.explanation(),
        Some("192.0.2.3 is not one of e.example's hosts")
    );
    assert_eq!(out.dns_lookups, 0);
    assert_eq!(out.void_lookups, 0);
}

#[test]
fn default_explanation_is_a_macro_string() {
    let mut z = ZoneResolver::new();
    z.add_txt("e.example", ["v=spf1 -all"]);
    let cfg = SpfConfig {
        default_explanation: Some("%{c} not allowed by %{d} (see %{r})".into()),
        receiver: "mx.example.net".into(),
        ..SpfConfig::default()
    };
    let out = mail_from_with(&z, "2001:db8::1", "u@e.example", "h.example", &cfg);
    assert_eq!(
        out.explanation(),
        Some("2001:db8::1 not allowed by e.example (see mx.example.net)")
    );
    // No default configured: no explanation.
    assert_eq!(
        mail_from(&z, "2001:db8::1", "u@e.example", "h").explanation(),
        None
    );
}

// -------------------------------------------------------------- the "why"

#[test]
fn output_explains_the_match() {
    let mut z = ZoneResolver::new();
    z.add_txt("top.example", ["v=spf1 -include:mid.example ~all"])
        .add_txt("mid.example", ["v=spf1 redirect=leaf.example"])
        .add_txt("leaf.example", ["v=spf1 ip4:192.0.2.0/28 -all"]);
    let out = mail_from(&z, "192.0.2.5", "u@top.example", "h.example");
    assert_eq!(out.result, SpfResult::Fail);
    assert_eq!(out.mechanism(), Some("ip4:192.0.2.0/28"));
    assert_eq!(out.mechanism_domain(), Some("leaf.example"));
    assert_eq!(
        out.chain().collect::<Vec<_>>(),
        ["include:mid.example", "redirect=leaf.example"]
    );
    assert_eq!(out.dns_lookups, 2);
    assert!(
        out.reason().contains("ip4:192.0.2.0/28"),
        "{}",
        out.reason()
    );
    assert!(
        out.reason().contains("include:mid.example"),
        "{}",
        out.reason()
    );

    let out = mail_from(&z, "198.51.100.1", "u@top.example", "h.example");
    assert_eq!(out.result, SpfResult::SoftFail);
    assert_eq!(out.mechanism(), Some("~all"));
    assert_eq!(out.chain().len(), 0);
}

/// The serialized output keeps the documented keys and values (the texts
/// are methods since session 5; the keys are those of the fields they
/// replaced), and the match sentence is the one `reason()` writes.
#[test]
fn output_serializes_with_the_documented_keys() {
    let mut z = ZoneResolver::new();
    z.add_txt("top.example", ["v=spf1 include:mid.example -all"])
        .add_txt("mid.example", ["v=spf1 ip4:192.0.2.0/28 -all"]);
    let out = mail_from(&z, "192.0.2.5", "<@top.example>", "h.example");
    let v = serde_json::to_value(&out).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    let mut want = vec![
        "result",
        "identity",
        "ip",
        "sender",
        "helo",
        "domain",
        "mechanism",
        "mechanism_domain",
        "explanation",
        "reason",
        "chain",
        "dns_lookups",
        "void_lookups",
        "queries",
    ];
    want.sort_unstable();
    let mut got = keys.clone();
    got.sort_unstable();
    assert_eq!(got, want);
    assert_eq!(v["result"], "pass");
    assert_eq!(v["identity"], "mailfrom");
    assert_eq!(v["ip"], "192.0.2.5");
    // A missing local-part becomes postmaster (§4.3).
    assert_eq!(v["sender"], "postmaster@top.example");
    assert_eq!(v["helo"], "h.example");
    assert_eq!(v["domain"], "top.example");
    assert_eq!(v["mechanism"], "ip4:192.0.2.0/28");
    assert_eq!(v["mechanism_domain"], "mid.example");
    assert_eq!(v["explanation"], serde_json::Value::Null);
    assert_eq!(v["chain"], serde_json::json!(["include:mid.example"]));
    assert_eq!(v["dns_lookups"], 1);
    assert_eq!(
        v["reason"],
        "192.0.2.5 matched \"ip4:192.0.2.0/28\" in the record of mid.example via include:mid.example"
    );
    assert_eq!(v["reason"], out.reason().as_ref());
    // A match in the top record: its domain is the domain checked.
    let top = mail_from(&z, "198.51.100.1", "u@top.example", "h.example");
    assert_eq!(top.result, SpfResult::Fail);
    assert_eq!(top.mechanism(), Some("-all"));
    assert_eq!(top.mechanism_domain(), Some("top.example"));
    assert_eq!(
        top.reason(),
        "198.51.100.1 matched \"-all\" in the record of top.example"
    );

    // An error's reason is stored text; equality compares the texts.
    let bad = mail_from(&z, "192.0.2.5", "u@nothing.example", "h.example");
    assert_eq!(bad.result, SpfResult::None);
    assert_eq!(bad.sender(), "u@nothing.example");
    assert!(bad.reason().contains("nothing.example"), "{}", bad.reason());
    assert_eq!(bad.clone(), bad);
    assert_ne!(bad, out);
    let debug = format!("{out:?}");
    assert!(
        debug.contains("mechanism: Some(\"ip4:192.0.2.0/28\")"),
        "{debug}"
    );
}

#[test]
fn errors_say_where() {
    let mut z = ZoneResolver::new();
    z.add_txt("top.example", ["v=spf1 include:bad.example -all"])
        .add_txt("bad.example", ["v=spf1 ip4:192.0.2.300 -all"])
        .add_txt("two.example", ["v=spf1 -all"])
        .add_txt("two.example", ["v=spf1 +all"])
        .add_txt("inc.example", ["v=spf1 include:nothing.example -all"]);
    let out = mail_from(&z, "192.0.2.1", "u@top.example", "h.example");
    assert_eq!(out.result, SpfResult::PermError);
    assert_eq!(out.chain().collect::<Vec<_>>(), ["include:bad.example"]);
    assert!(out.reason().contains("bad.example"), "{}", out.reason());
    assert!(out.reason().contains("offset 11"), "{}", out.reason());
    let out = mail_from(&z, "192.0.2.1", "u@two.example", "h.example");
    assert_eq!(out.result, SpfResult::PermError);
    assert!(out.reason().contains("2 SPF records"), "{}", out.reason());
    let out = mail_from(&z, "192.0.2.1", "u@inc.example", "h.example");
    assert_eq!(out.result, SpfResult::PermError);
    assert!(out.reason().contains("nothing.example"), "{}", out.reason());
}

// -------------------------------------------------------------- rendering

#[test]
fn received_spf_and_authentication_results() {
    let mut z = ZoneResolver::new();
    z.add_txt("example.com", ["v=spf1 ip4:192.0.2.1 -all"])
        .add_txt("bad.example", ["v=spf1 moo"]);
    let out = mail_from(&z, "192.0.2.2", "myname@example.com", "foo.example.com");
    assert_eq!(
        received_spf(&out, "mybox.example.org"),
        "Received-SPF: fail (mybox.example.org: domain of myname@example.com does not designate \
         192.0.2.2 as permitted sender)\r\n\treceiver=mybox.example.org; client-ip=192.0.2.2; \
         envelope-from=\"myname@example.com\"; helo=foo.example.com; identity=mailfrom; \
         mechanism=\"-all\""
    );
    let mut ar = AuthenticationResults::new("mybox.example.org");
    ar.push(resinfo(&out, Identity::MailFrom));
    assert_eq!(
        ar.value(),
        "mybox.example.org; spf=fail smtp.mailfrom=myname@example.com"
    );

    let out = mail_from(&z, "2001:db8::1", "x@bad.example", "foo.example.com");
    let h = received_spf(&out, "mybox.example.org");
    assert!(h.starts_with("Received-SPF: permerror (mybox.example.org: permanent error"));
    assert!(h.contains("client-ip=\"2001:db8::1\""), "{h}");
    assert!(
        h.contains("problem=\"invalid SPF record at bad.example"),
        "{h}"
    );
    let r = resinfo(&out, Identity::MailFrom);
    assert_eq!(r.result, "permerror");
    assert!(r.reason.as_deref().unwrap_or("").contains("moo"));

    let helo = rt().block_on(check_helo(
        &z,
        ip("192.0.2.1"),
        "example.com",
        &SpfConfig::default(),
    ));
    let h = received_spf(&helo, "mybox.example.org");
    assert!(h.contains("identity=helo"), "{h}");
    assert!(!h.contains("envelope-from"), "{h}");
    let mut ar = AuthenticationResults::new("mybox.example.org");
    ar.push(resinfo(&helo, Identity::Helo));
    assert_eq!(
        ar.value(),
        "mybox.example.org; spf=pass smtp.helo=example.com"
    );
}

#[test]
fn rendering_cannot_be_injected() {
    let z = ZoneResolver::new();
    let out = mail_from(
        &z,
        "192.0.2.1",
        "\"a\r\nX-Evil: 1\"@nowhere.example",
        "h\r\nX-Evil: 2 (x)",
    );
    let h = received_spf(&out, "mx\r\n");
    assert_eq!(h.matches("\r\n").count(), 1, "{h:?}");
    assert!(h.contains("\r\n\t"));
    let mut ar = AuthenticationResults::new("mx");
    ar.push(resinfo(&out, Identity::MailFrom));
    assert!(!ar.value().contains('\n'));
}

// ---------------------------------------------------------- hostile input

#[test]
fn hostile_records_are_bounded() {
    let mut z = ZoneResolver::new();
    // A huge record of macros, a huge sender, include loops, long names.
    let big = format!(
        "v=spf1 {} -all",
        "exists:%{S}%{L}%{O}.%{ir}.x.example ".repeat(400)
    );
    z.add_txt_str("big.example", &big)
        .add_txt("loop.example", ["v=spf1 include:loop.example"])
        .add_txt("selfredirect.example", ["v=spf1 redirect=%{d}"])
        .add_txt(
            "exp.example",
            ["v=spf1 -all exp=%{l}%{l}%{l}%{l}%{l}%{l}%{l}%{l}.x.example"],
        );
    let sender = format!("{}@big.example", "a.b-c+".repeat(3000));
    let out = mail_from(&z, "192.0.2.1", &sender, "h.example");
    assert_eq!(out.result, SpfResult::PermError);
    assert!(z.query_count() < 20);
    let cfg = SpfConfig {
        max_dns_mechanisms: usize::MAX,
        max_void_lookups: usize::MAX,
        ..SpfConfig::default()
    };
    // Without a term limit the nesting cap still stops the loop.
    let out = mail_from_with(&z, "192.0.2.1", "u@loop.example", "h.example", &cfg);
    assert_eq!(out.result, SpfResult::PermError);
    let out = mail_from_with(&z, "192.0.2.1", "u@selfredirect.example", "h.example", &cfg);
    assert_eq!(out.result, SpfResult::PermError);
    let out = mail_from(
        &z,
        "192.0.2.1",
        &format!("{}@exp.example", "l".repeat(60)),
        "h",
    );
    assert_eq!(out.result, SpfResult::Fail);
    assert_eq!(out.explanation(), None);
}

// ------------------------------------------------------------ API shapes

fn assert_send<T: Send>(_: &T) {}

#[test]
fn futures_are_send_and_dyn_resolvers_work() {
    use sender_auth::dns::DynResolver;
    use std::sync::Arc;
    let mut z = ZoneResolver::new();
    z.add_txt("example.com", ["v=spf1 ip4:192.0.2.1 -all"]);
    let cfg = SpfConfig::default();
    {
        let f = check_mail_from(&z, ip("192.0.2.1"), "u@example.com", "h.example", &cfg);
        assert_send(&f);
    }
    let dynr: Arc<dyn DynResolver> = Arc::new(z);
    let out = rt().block_on(async {
        let handle = tokio::spawn({
            let r = dynr.clone();
            async move {
                check_helo(
                    &*r,
                    "192.0.2.1".parse().unwrap(),
                    "example.com",
                    &SpfConfig::default(),
                )
                .await
            }
        });
        handle.await.unwrap()
    });
    assert_eq!(out.result, SpfResult::Pass);
    let json = serde_json::to_value(&out).unwrap();
    assert_eq!(json["result"], "pass");
    assert_eq!(json["identity"], "helo");
    assert_eq!(json["domain"], "example.com");
    assert_eq!(json["mechanism"], "ip4:192.0.2.1");
    assert!(json["explanation"].is_null());
}

// ---------------------------------------------------------------- futures

/// `check_host`'s future does nothing until polled (no query is sent when
/// it is created, nor when it is dropped unpolled), and a check decided on
/// its first poll is ready then; polled again after that it stays pending.
#[test]
fn check_host_is_lazy_and_ready_on_first_poll() {
    use std::future::Future;
    use std::task::{Context, Poll, Waker};
    let mut z = ZoneResolver::new();
    z.add_txt("lazy.example", ["v=spf1 a -all"])
        .add_a("lazy.example", "192.0.2.1".parse().unwrap());
    for config in [
        SpfConfig::default(),
        SpfConfig {
            prefetch: false,
            ..SpfConfig::default()
        },
    ] {
        z.clear_queries();
        let unpolled = check_host(
            &z,
            ip("192.0.2.1"),
            "lazy.example",
            "",
            "h.example",
            &config,
        );
        assert!(queries(&z).is_empty());
        drop(unpolled);
        assert!(queries(&z).is_empty());
        let mut f = std::pin::pin!(check_host(
            &z,
            ip("192.0.2.1"),
            "lazy.example",
            "",
            "h.example",
            &config
        ));
        assert!(queries(&z).is_empty());
        let mut cx = Context::from_waker(Waker::noop());
        let Poll::Ready(out) = f.as_mut().poll(&mut cx) else {
            panic!("an in-memory check is decided on its first poll");
        };
        assert_eq!(out.result, SpfResult::Pass);
        assert_eq!(queries(&z), ["TXT lazy.example", "A lazy.example"]);
        assert!(f.as_mut().poll(&mut cx).is_pending());
        assert_eq!(queries(&z).len(), 2);
    }
}
