//! Bounded work for the whole [`Authenticator`]: a hostile message and zone
//! together stay within the per-check limits, and a resolver that never
//! answers does not hang the transaction (paused clock: instant).
#![cfg(feature = "sign")]

use std::net::IpAddr;
use std::time::Duration;

use sender_auth::authenticator::{AuthConfig, Authenticator, Report, Transaction};
use sender_auth::dkim::{DkimResult, Signer, SigningKey};
use sender_auth::dmarc::DmarcResult;
use sender_auth::dns::RecordType;
use sender_auth::dns::zone::{Fault, ZoneResolver};
use sender_auth::iprev::IprevResult;
use sender_auth::spf::SpfResult;

const SEED: [u8; 32] = [42; 32];

fn tx(helo: &str, mail_from: &str) -> Transaction {
    Transaction {
        client_ip: Some("192.0.2.1".parse::<IpAddr>().unwrap()),
        helo: Some(helo.into()),
        mail_from: Some(mail_from.into()),
    }
}

fn config() -> AuthConfig {
    let mut c = AuthConfig {
        authserv_id: "mx.example.net".into(),
        ..AuthConfig::default()
    };
    c.dkim.now = Some(1_700_000_000);
    c
}

fn signed_message() -> Vec<u8> {
    let mut m = String::new();
    for i in 0..20 {
        m.push_str(&format!(
            "DKIM-Signature: v=1; a=ed25519-sha256; d=d{i}.example.com; s=s; h=From; bh=AAAA; b=AAAA\r\n"
        ));
    }
    m.push_str("From: a@example.com\r\nSubject: hi\r\n\r\nbody\r\n");
    Signer::new(SigningKey::ed25519_from_seed(&SEED), "example.com", "ed")
        .sign_message(m.as_bytes())
        .unwrap()
}

/// Everything adversarial at once: SPF include loops for HELO and MAIL
/// FROM, 300 PTR names, 21 DKIM signatures, a 100-label-deep DMARC walk.
/// The total stays within the sum of the per-check limits (SPF 2 × 11 + 1,
/// iprev 11, DKIM 10, DMARC 40).
#[tokio::test]
async fn everything_hostile_at_once_is_bounded() {
    let mut z = ZoneResolver::new();
    z.add_txt_str("loop.example", "v=spf1 include:loop.example -all");
    z.add_txt_str(
        "ed._domainkey.example.com",
        &SigningKey::ed25519_from_seed(&SEED).public_key_record(),
    );
    for i in 0..300 {
        z.add_ptr("192.0.2.1".parse().unwrap(), &format!("h{i}.example.com"));
    }
    let auth = Authenticator::new(&z, config());
    let report = tokio::time::timeout(
        Duration::from_secs(300),
        auth.authenticate(
            &tx("loop.example", "a@loop.example"),
            Some(&signed_message()),
        ),
    )
    .await
    .expect("hang guard");
    assert_eq!(report.spf.as_ref().unwrap().result, SpfResult::PermError);
    assert_eq!(
        report.spf_helo.as_ref().unwrap().result,
        SpfResult::PermError
    );
    let dkim = report.dkim.as_ref().unwrap();
    assert_eq!(dkim.len(), 21);
    assert_eq!(
        dkim.iter()
            .filter(|o| o.result != DkimResult::NotEvaluated)
            .count(),
        10
    );
    assert!(
        z.query_count() <= 2 * 12 + 11 + 10 + 40,
        "{}",
        z.query_count()
    );
}

/// A zone where every lookup `signed_message()` and `tx("hang.example", …)`
/// cause hangs: the client's PTR, SPF, both DKIM keys, DMARC.
fn hanging_zone() -> ZoneResolver {
    let mut z = ZoneResolver::new();
    let client: IpAddr = "192.0.2.1".parse().unwrap();
    z.set_ptr_fault(client, Fault::Hang)
        .set_fault("hang.example", RecordType::Txt, Fault::Hang)
        .set_fault("ed._domainkey.example.com", RecordType::Txt, Fault::Hang)
        .set_fault("_dmarc.example.com", RecordType::Txt, Fault::Hang);
    for i in 0..20 {
        z.set_fault(
            &format!("s._domainkey.d{i}.example.com"),
            RecordType::Txt,
            Fault::Hang,
        );
    }
    z
}

/// The whole transaction (`hang.example`, `signed_message()`) over `z`,
/// failing the test if it does not end within an hour of virtual time.
async fn authenticate_hanging(z: &ZoneResolver, c: AuthConfig) -> Report {
    let auth = Authenticator::new(z, c);
    tokio::time::timeout(
        Duration::from_secs(3600),
        auth.authenticate(
            &tx("hang.example", "a@hang.example"),
            Some(&signed_message()),
        ),
    )
    .await
    .expect("the Authenticator hung on a never-answering resolver")
}

/// SPF alone has an overall budget: with every SPF lookup hanging, the SPF
/// results are temperror after 20 s of (paused, virtual) time.
#[tokio::test(start_paused = true)]
async fn spf_only_with_hanging_resolver_is_temperror() {
    let mut z = ZoneResolver::new();
    z.set_fault("hang.example", RecordType::Txt, Fault::Hang);
    let mut c = config();
    c.checks.iprev = false;
    c.checks.dkim = false;
    c.checks.dmarc = false;
    let auth = Authenticator::new(&z, c);
    let report = tokio::time::timeout(
        Duration::from_secs(3600),
        auth.authenticate(&tx("hang.example", "a@hang.example"), None),
    )
    .await
    .expect("SPF has a time budget");
    assert_eq!(report.spf.unwrap().result, SpfResult::TempError);
    assert_eq!(report.spf_helo.unwrap().result, SpfResult::TempError);
}

/// Every lookup of every check hangs. The transaction still ends, with
/// temperrors, in bounded (virtual, paused-clock) time: every lookup has the
/// Authenticator's per-lookup deadline ([`AuthConfig::dns_timeout`]), SPF
/// its overall budget, and the number of lookups is bounded per check, so
/// the worst case is the SPF budget plus DMARC's `max_dns_queries`
/// sequential lookups.
#[tokio::test(start_paused = true)]
async fn hanging_resolver_does_not_hang_the_transaction() {
    let z = hanging_zone();
    let c = config();
    let bound = c.spf.timeout + c.dns_timeout * (c.dmarc.max_dns_queries as u32 + 1);
    let start = tokio::time::Instant::now();
    let report = authenticate_hanging(&z, c).await;
    let elapsed = start.elapsed();
    assert!(elapsed <= bound, "{elapsed:?} > {bound:?}");
    assert_eq!(report.iprev.unwrap().result, IprevResult::TempError);
    assert_eq!(report.spf.unwrap().result, SpfResult::TempError);
    assert_eq!(report.spf_helo.unwrap().result, SpfResult::TempError);
    let dkim = report.dkim.unwrap();
    assert!(
        dkim.iter()
            .filter(|o| o.result != DkimResult::NotEvaluated)
            .all(|o| o.result == DkimResult::TempError || o.result == DkimResult::PermError),
        "{dkim:?}"
    );
    assert_eq!(dkim[0].result, DkimResult::TempError, "{:?}", dkim[0]);
    assert_eq!(report.dmarc.unwrap().result, DmarcResult::TempError);
}

/// One overall deadline ([`AuthConfig::transaction_timeout`]) bounds the
/// whole call even when the per-lookup deadline and SPF's budget are far
/// longer: with every lookup hanging, 60 s per lookup and SPF's 20 s, the
/// call still returns at 7 s (paused, virtual clock) with temperrors, and
/// no lookup is sent after the deadline (DMARC, which runs after SPF and
/// DKIM, sends none).
#[tokio::test(start_paused = true)]
async fn transaction_timeout_bounds_the_whole_call() {
    let z = hanging_zone();
    let mut c = config();
    c.dns_timeout = Duration::from_secs(60);
    c.transaction_timeout = Duration::from_secs(7);
    let start = tokio::time::Instant::now();
    let report = authenticate_hanging(&z, c).await;
    assert_eq!(start.elapsed(), Duration::from_secs(7));
    assert_eq!(report.iprev.unwrap().result, IprevResult::TempError);
    assert_eq!(report.spf.unwrap().result, SpfResult::TempError);
    assert_eq!(report.spf_helo.unwrap().result, SpfResult::TempError);
    assert_eq!(report.dkim.unwrap()[0].result, DkimResult::TempError);
    assert_eq!(report.dmarc.unwrap().result, DmarcResult::TempError);
    let q = z.queries();
    assert!(
        !q.iter().any(|(_, n)| n.starts_with("_dmarc.")),
        "DMARC queried after the deadline: {q:?}"
    );
}
