//! iprev (RFC 8601 §3, §2.7.3) over the in-memory resolver.

use std::net::IpAddr;

mod common;

use sender_auth::authres::AuthenticationResults;
use sender_auth::dns::RecordType;
use sender_auth::dns::zone::{Fault, ZoneResolver};
use sender_auth::iprev::{self, IprevConfig, IprevOutput, IprevResult};

fn run(zone: &ZoneResolver, ip: &str) -> IprevOutput {
    let ip: IpAddr = ip.parse().unwrap();
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
        .block_on(iprev::check(zone, ip, &IprevConfig::default()))
}

const V4: &str = "192.0.2.25";
const V6: &str = "2001:db8::25";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn pass_v4_v6_and_mapped() {
    let mut z = ZoneResolver::new();
    z.add_ptr(ip(V4), "Mail.Example.com.")
        .add_ip("mail.example.com", ip(V4))
        .add_ptr(ip(V6), "mail6.example.com")
        .add_ip("mail6.example.com", ip(V6));
    let o = run(&z, V4);
    assert_eq!(o.result, IprevResult::Pass);
    assert_eq!(o.names, ["mail.example.com"]);
    let o = run(&z, V6);
    assert_eq!(o.result, IprevResult::Pass);
    assert_eq!(o.names, ["mail6.example.com"]);
    // IPv4-mapped IPv6 client: PTR in in-addr.arpa, forward via A.
    let o = run(&z, "::ffff:192.0.2.25");
    assert_eq!(o.result, IprevResult::Pass);
    assert_eq!(o.ip, ip(V4));
    assert!(
        z.queries()
            .iter()
            .any(|(t, n)| *t == RecordType::Ptr && n == "25.2.0.192.in-addr.arpa")
    );
}

#[test]
fn family_decides_forward_type() {
    // The name has only an AAAA record equal to... nothing for v4: fail.
    let mut z = ZoneResolver::new();
    z.add_ptr(ip(V4), "mail.example.com")
        .add_ip("mail.example.com", ip(V6));
    let o = run(&z, V4);
    assert_eq!(o.result, IprevResult::Fail);
    assert!(o.names.is_empty());
    assert!(
        z.queries()
            .iter()
            .any(|(t, n)| *t == RecordType::A && n == "mail.example.com")
    );
    assert!(!z.queries().iter().any(|(t, _)| *t == RecordType::Aaaa));
}

#[test]
fn fail_when_forward_mismatch_or_missing() {
    let mut z = ZoneResolver::new();
    z.add_ptr(ip(V4), "mail.example.com")
        .add_a("mail.example.com", "192.0.2.99".parse().unwrap())
        .add_ptr(ip("192.0.2.26"), "nx.example.com")
        .add_ptr(ip("192.0.2.27"), "nodata.example.com")
        .add_aaaa("nodata.example.com", "2001:db8::1".parse().unwrap());
    assert_eq!(run(&z, V4).result, IprevResult::Fail);
    assert_eq!(run(&z, "192.0.2.26").result, IprevResult::Fail);
    assert_eq!(run(&z, "192.0.2.27").result, IprevResult::Fail);
}

#[test]
fn permerror_without_ptr_data() {
    let mut z = ZoneResolver::new();
    z.add_empty("26.2.0.192.in-addr.arpa"); // exists, no PTR: NODATA
    let o = run(&z, V4);
    assert_eq!(o.result, IprevResult::PermError);
    assert!(o.reason.contains("NXDOMAIN"));
    let o = run(&z, "192.0.2.26");
    assert_eq!(o.result, IprevResult::PermError);
    assert!(o.reason.contains("NODATA"));
    assert_eq!(run(&z, V6).result, IprevResult::PermError);
}

#[test]
fn temperror_on_servfail_and_timeout() {
    let mut z = ZoneResolver::new();
    z.set_ptr_fault(ip(V4), Fault::ServFail)
        .set_ptr_fault(ip(V6), Fault::Timeout)
        .add_ptr(ip("192.0.2.30"), "a.example")
        .set_fault("a.example", RecordType::A, Fault::ServFail);
    assert_eq!(run(&z, V4).result, IprevResult::TempError);
    assert_eq!(run(&z, V6).result, IprevResult::TempError);
    assert_eq!(run(&z, "192.0.2.30").result, IprevResult::TempError);
}

#[test]
fn several_names_one_validates() {
    let mut z = ZoneResolver::new();
    z.add_ptr(ip(V4), "a.example")
        .add_ptr(ip(V4), "b.example")
        .add_ptr(ip(V4), "c.example")
        .set_fault("a.example", RecordType::A, Fault::ServFail)
        .add_a("b.example", "198.51.100.1".parse().unwrap())
        .add_ip("c.example", ip(V4));
    let o = run(&z, V4);
    // A temporary failure on one name does not stop another from passing.
    assert_eq!(o.result, IprevResult::Pass);
    assert_eq!(o.names, ["c.example"]);
}

#[test]
fn only_first_ten_names_checked() {
    let mut z = ZoneResolver::new();
    for i in 0..12 {
        z.add_ptr(ip(V4), &format!("n{i}.example"));
    }
    // Only the 11th name matches: beyond the limit, so fail.
    z.add_ip("n10.example", ip(V4));
    let o = run(&z, V4);
    assert_eq!(o.result, IprevResult::Fail);
    let forward = z
        .queries()
        .iter()
        .filter(|(t, _)| *t == RecordType::A)
        .count();
    assert_eq!(forward, 10);
    // Raising the limit lets it pass.
    let o = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(iprev::check(&z, ip(V4), &IprevConfig { max_names: 12 }));
    assert_eq!(o.result, IprevResult::Pass);
    assert_eq!(o.names, ["n10.example"]);
}

#[test]
fn cname_ptr_and_cname_forward() {
    let mut z = ZoneResolver::new();
    // RFC 2317-style classless delegation: PTR owner is a CNAME.
    z.add_cname("25.2.0.192.in-addr.arpa", "25.0-63.2.0.192.in-addr.arpa")
        .add_ptr_name("25.0-63.2.0.192.in-addr.arpa", "mail.example.com")
        .add_cname("mail.example.com", "host.example.net")
        .add_ip("host.example.net", ip(V4));
    let o = run(&z, V4);
    assert_eq!(o.result, IprevResult::Pass);
    assert_eq!(o.names, ["mail.example.com"]);
}

#[test]
fn invalid_ptr_names_are_skipped_not_echoed() {
    let mut z = ZoneResolver::new();
    z.add_ptr(ip(V4), "evil\"; dkim=pass (x.example")
        .add_ptr(ip(V4), "ok.example")
        .add_ip("ok.example", ip(V4));
    let o = run(&z, V4);
    assert_eq!(o.result, IprevResult::Pass);
    assert_eq!(o.names, ["ok.example"]);
    // Only the valid name was looked up.
    assert_eq!(
        z.queries()
            .iter()
            .filter(|(t, _)| *t == RecordType::A)
            .count(),
        1
    );
    let mut z = ZoneResolver::new();
    z.add_ptr(ip(V4), "bad name.example");
    let o = run(&z, V4);
    assert_eq!(o.result, IprevResult::Fail);
    assert!(!o.reason.contains("bad name"));
}

/// The published A-R formatting vectors (../shared/conformance/iprev).
#[test]
fn formatting_vectors() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/conformance/iprev/CASES.yaml"
    );
    let Some(text) = common::read_text(path) else {
        return;
    };
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let cases = doc["auth_results_formatting"].as_sequence().unwrap();
    assert_eq!(cases.len(), 2);
    for c in cases {
        let ip: IpAddr = c["remote_ip"].as_str().unwrap().parse().unwrap();
        let result = match c["result"].as_str().unwrap() {
            "pass" => IprevResult::Pass,
            "fail" => IprevResult::Fail,
            other => panic!("unexpected result {other}"),
        };
        let out = IprevOutput {
            result,
            ip,
            names: vec![],
            reason: c["reason"].as_str().unwrap_or("").to_string(),
        };
        let mut ar = AuthenticationResults::new("mx.example.org");
        ar.push(iprev::resinfo(&out));
        let v = ar.value();
        let want = c["expected_fragment"].as_str().unwrap();
        assert!(v.contains(want), "{v:?} lacks {want:?}");
    }
}
