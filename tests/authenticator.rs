//! The Authenticator: composition of iprev, SPF (HELO and MAIL FROM), DKIM
//! and DMARC over one resolver.

use std::net::IpAddr;
use std::time::Duration;

use sender_auth::authenticator::{AuthConfig, Authenticator, Checks, Transaction};
use sender_auth::authres;
use sender_auth::dkim::DkimResult;
use sender_auth::dmarc::{DmarcMode, DmarcResult};
use sender_auth::dns::RecordType;
use sender_auth::dns::zone::{Fault, ZoneResolver};
use sender_auth::iprev::IprevResult;
use sender_auth::spf::SpfResult;

const ZONE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/example.zone");
const MESSAGE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/message.eml");

fn zone() -> ZoneResolver {
    ZoneResolver::load_file(ZONE).expect("bundled example zone loads")
}

fn tx(ip: &str, helo: &str, mail_from: &str) -> Transaction {
    Transaction {
        client_ip: Some(ip.parse::<IpAddr>().unwrap()),
        helo: Some(helo.into()),
        mail_from: Some(mail_from.into()),
    }
}

fn config() -> AuthConfig {
    AuthConfig {
        authserv_id: "mx.example.net".into(),
        ..AuthConfig::default()
    }
}

#[tokio::test]
async fn bundled_example_passes_everything() {
    let message = std::fs::read(MESSAGE).unwrap();
    let auth = Authenticator::new(zone(), config());
    let r = auth
        .authenticate(
            &tx("192.0.2.25", "mail.example.com", "alice@example.com"),
            Some(&message),
        )
        .await;
    assert_eq!(r.iprev.as_ref().unwrap().result, IprevResult::Pass);
    assert_eq!(r.spf.as_ref().unwrap().result, SpfResult::Pass);
    assert_eq!(r.spf_helo.as_ref().unwrap().result, SpfResult::Pass);
    let dkim = r.dkim.as_ref().unwrap();
    assert_eq!(dkim.len(), 2);
    assert!(dkim.iter().all(|d| d.result == DkimResult::Pass));
    let dmarc = r.dmarc.as_ref().unwrap();
    assert_eq!(dmarc.result, DmarcResult::Pass);
    assert_eq!(dmarc.from_domain, "example.com");
    assert_eq!(dmarc.mode, DmarcMode::Rfc9989);
    let ar = r.authentication_results("mx.example.net");
    let back = authres::parse(&ar.header()).unwrap();
    let methods: Vec<_> = back.results.iter().map(|x| x.method.as_str()).collect();
    assert_eq!(methods, ["iprev", "spf", "spf", "dkim", "dkim", "dmarc"]);
    // Stamping removes a forged field claiming our authserv-id.
    let forged = [
        b"Authentication-Results: mx.example.net; dmarc=pass\n".as_slice(),
        &message,
    ]
    .concat();
    let stamped = ar.stamp(&forged);
    let text = String::from_utf8(stamped).unwrap();
    assert_eq!(text.matches("Authentication-Results:").count(), 1);
    assert!(text.starts_with("Authentication-Results: mx.example.net;\n\tiprev=pass"));
}

#[tokio::test]
async fn wrong_ip_fails_spf_and_dmarc_still_passes_on_dkim() {
    let message = std::fs::read(MESSAGE).unwrap();
    let auth = Authenticator::new(zone(), config());
    let r = auth
        .authenticate(
            &tx("198.51.100.7", "evil.example", "alice@example.com"),
            Some(&message),
        )
        .await;
    assert_eq!(r.iprev.unwrap().result, IprevResult::PermError);
    assert_eq!(r.spf.unwrap().result, SpfResult::Fail);
    assert_eq!(r.spf_helo.unwrap().result, SpfResult::None);
    let d = r.dmarc.unwrap();
    assert_eq!(d.result, DmarcResult::Pass);
    assert!(d.dkim_aligned && !d.spf_aligned);
}

#[tokio::test]
async fn tampered_message_fails_dmarc() {
    let message = std::fs::read_to_string(MESSAGE)
        .unwrap()
        .replace("Thursday?", "Friday?");
    let auth = Authenticator::new(zone(), config());
    let r = auth
        .authenticate(
            &tx("198.51.100.7", "evil.example", "alice@example.com"),
            Some(message.as_bytes()),
        )
        .await;
    assert!(r.dkim.unwrap().iter().all(|d| d.result == DkimResult::Fail));
    let d = r.dmarc.unwrap();
    assert_eq!(d.result, DmarcResult::Fail);
    assert_eq!(d.disposition.as_str(), "reject");
}

#[tokio::test]
async fn multiple_from_is_permerror() {
    let message = std::fs::read_to_string(MESSAGE).unwrap();
    let message = format!("From: mallory@evil.example\n{message}");
    let auth = Authenticator::new(zone(), config());
    let r = auth
        .authenticate(&Transaction::default(), Some(message.as_bytes()))
        .await;
    let d = r.dmarc.unwrap();
    assert_eq!(d.result, DmarcResult::PermError);
    assert!(d.reason.contains("From"), "{}", d.reason);
}

#[tokio::test]
async fn null_sender_uses_postmaster_at_helo() {
    let auth = Authenticator::new(zone(), config());
    let r = auth
        .authenticate(&tx("192.0.2.25", "mail.example.com", ""), None)
        .await;
    let spf = r.spf.unwrap();
    assert_eq!(spf.result, SpfResult::Pass);
    assert_eq!(spf.domain(), "mail.example.com");
    assert!(r.dkim.is_none() && r.dmarc.is_none());
}

#[tokio::test]
async fn only_selected_checks_query_dns() {
    let message = std::fs::read(MESSAGE).unwrap();
    let z = zone();
    let auth = Authenticator::new(
        &z,
        AuthConfig {
            checks: Checks {
                dkim: true,
                ..Checks::NONE
            },
            ..config()
        },
    );
    let r = auth
        .authenticate(
            &tx("192.0.2.25", "mail.example.com", "alice@example.com"),
            Some(&message),
        )
        .await;
    assert!(r.iprev.is_none() && r.spf.is_none() && r.spf_helo.is_none() && r.dmarc.is_none());
    assert_eq!(r.dkim.unwrap().len(), 2);
    let q = z.queries();
    assert_eq!(q.len(), 2, "{q:?}");
    assert!(
        q.iter()
            .all(|(t, n)| *t == RecordType::Txt && n.ends_with("._domainkey.example.com"))
    );
}

#[tokio::test(start_paused = true)]
async fn a_server_that_never_answers_gives_temperror() {
    let message = std::fs::read(MESSAGE).unwrap();
    let mut z = zone();
    for name in [
        "example.com",
        "mail.example.com",
        "rsa2026._domainkey.example.com",
        "ed2026._domainkey.example.com",
        "_dmarc.example.com",
    ] {
        for t in [RecordType::Txt, RecordType::A, RecordType::Mx] {
            z.set_fault(name, t, Fault::Hang);
        }
    }
    z.set_ptr_fault("192.0.2.25".parse().unwrap(), Fault::Hang);
    let auth = Authenticator::new(
        z,
        AuthConfig {
            dns_timeout: Duration::from_secs(3),
            ..config()
        },
    );
    let r = auth
        .authenticate(
            &tx("192.0.2.25", "mail.example.com", "alice@example.com"),
            Some(&message),
        )
        .await;
    assert_eq!(r.iprev.unwrap().result, IprevResult::TempError);
    assert_eq!(r.spf.unwrap().result, SpfResult::TempError);
    assert_eq!(r.spf_helo.unwrap().result, SpfResult::TempError);
    assert!(
        r.dkim
            .unwrap()
            .iter()
            .all(|d| d.result == DkimResult::TempError)
    );
    assert_eq!(r.dmarc.unwrap().result, DmarcResult::TempError);
}
