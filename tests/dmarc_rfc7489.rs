//! RFC 7489 mode: PSL Organizational Domain (§3.2), policy discovery
//! (§6.6.3), sp, pct sampling through an injectable sampler (§6.6.4),
//! record errors (§6.3, §6.6.3 step 6), alignment (§3.1), and the outputs
//! the composer and CLI use (A-R, JSON, author-domain errors).

use std::sync::Arc;

use sender_auth::dmarc::psl::PslFile;
use sender_auth::dmarc::{
    DkimEvidence, DmarcConfig, DmarcMode, DmarcOutput, DmarcResult, FixedSampler, Policy,
    PolicySource, Sampler, SeededSampler, SpfEvidence, evaluate, resinfo,
};
use sender_auth::dns::RecordType;
use sender_auth::dns::zone::{Fault, ZoneResolver};
use sender_auth::message::{AuthorError, Message, author_domain};

fn block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(f)
}

fn cfg() -> DmarcConfig {
    DmarcConfig::with_mode(DmarcMode::Rfc7489)
}

fn dkim(domain: &str) -> DkimEvidence<'_> {
    DkimEvidence {
        pass: true,
        domain,
        testing: false,
        unsigned_content: false,
    }
}

fn eval(
    zone: &ZoneResolver,
    from: &str,
    spf: Option<SpfEvidence<'_>>,
    dkim: &[DkimEvidence<'_>],
    cfg: &DmarcConfig,
) -> DmarcOutput {
    block(evaluate(zone, from, spf, dkim, cfg))
}

#[test]
fn organizational_domain_from_the_psl() {
    let mut zone = ZoneResolver::new();
    zone.add_txt_str("_dmarc.example.co.uk", "v=DMARC1; p=reject; sp=quarantine")
        // RFC 7489 never looks at intermediate names
        .add_txt_str("_dmarc.b.example.co.uk", "v=DMARC1; p=none");
    let out = eval(&zone, "a.b.example.co.uk", None, &[], &cfg());
    assert_eq!(
        zone.queries(),
        [
            (RecordType::Txt, "_dmarc.a.b.example.co.uk".to_string()),
            (RecordType::Txt, "_dmarc.example.co.uk".to_string()),
        ]
    );
    assert_eq!(out.mode, DmarcMode::Rfc7489);
    assert_eq!(out.organizational_domain.as_deref(), Some("example.co.uk"));
    assert_eq!(out.policy_domain.as_deref(), Some("example.co.uk"));
    assert_eq!(
        (out.policy, out.policy_source),
        (Some(Policy::Quarantine), Some(PolicySource::Sp))
    );
    assert_eq!(out.disposition, Policy::Quarantine);

    // relaxed alignment through the PSL; no DNS needed for it
    zone.clear_queries();
    let out = eval(
        &zone,
        "a.b.example.co.uk",
        None,
        &[dkim("mail.example.co.uk")],
        &cfg(),
    );
    assert_eq!(out.result, DmarcResult::Pass);
    assert_eq!(zone.query_count(), 2);
    let out = eval(
        &zone,
        "a.b.example.co.uk",
        None,
        &[dkim("other.co.uk")],
        &cfg(),
    );
    assert_eq!(out.result, DmarcResult::Fail);
}

#[test]
fn caller_supplied_list_is_used() {
    let mut zone = ZoneResolver::new();
    zone.add_txt_str("_dmarc.corp.example", "v=DMARC1; p=reject");
    // With a list that makes "example" the only suffix, corp.example is the
    // Organizational Domain of x.corp.example ...
    let mut c = cfg();
    c.psl = Some(Arc::new(PslFile::parse("example\n")));
    let out = eval(&zone, "x.corp.example", None, &[], &c);
    assert_eq!(out.policy_domain.as_deref(), Some("corp.example"));
    // ... and with one that lists corp.example as a suffix, it is not.
    c.psl = Some(Arc::new(PslFile::parse("example\ncorp.example\n")));
    let out = eval(&zone, "x.corp.example", None, &[], &c);
    assert_eq!(out.result, DmarcResult::None);
}

#[test]
fn pct_sampling_is_injectable_and_reproducible() {
    let mut zone = ZoneResolver::new();
    zone.add_txt_str("_dmarc.example.com", "v=DMARC1; p=reject; pct=30");
    let mut c = cfg();
    c.sampler = Arc::new(FixedSampler(true));
    let out = eval(&zone, "example.com", None, &[], &c);
    assert_eq!(
        (out.policy, out.disposition),
        (Some(Policy::Reject), Policy::Reject)
    );
    c.sampler = Arc::new(FixedSampler(false));
    let out = eval(&zone, "example.com", None, &[], &c);
    // sampled out: the next less strict policy (RFC 7489 §6.6.4)
    assert_eq!(
        (out.policy, out.disposition),
        (Some(Policy::Reject), Policy::Quarantine)
    );
    assert!(out.reason.contains("pct=30"), "{}", out.reason);

    let mut q = ZoneResolver::new();
    q.add_txt_str("_dmarc.example.com", "v=DMARC1; p=quarantine; pct=0");
    let out = eval(&q, "example.com", None, &[], &c);
    assert_eq!(out.disposition, Policy::None);

    // a closure is a sampler; it sees the record's pct
    c.sampler = Arc::new(|pct: u8| {
        assert_eq!(pct, 30);
        true
    });
    assert_eq!(
        eval(&zone, "example.com", None, &[], &c).disposition,
        Policy::Reject
    );

    // a seeded sampler gives the same sequence every time, close to pct
    let run = |seed| {
        let s = SeededSampler::new(seed);
        (0..1000).map(|_| s.apply(30)).collect::<Vec<bool>>()
    };
    assert_eq!(run(7), run(7));
    let hits = run(7).iter().filter(|&&b| b).count();
    assert!((220..380).contains(&hits), "{hits}");

    // pct=100 and passing messages never consult the sampler
    let mut full = ZoneResolver::new();
    full.add_txt_str("_dmarc.example.com", "v=DMARC1; p=reject; pct=100");
    c.sampler = Arc::new(|_: u8| -> bool { panic!("sampler called") });
    assert_eq!(
        eval(&full, "example.com", None, &[], &c).disposition,
        Policy::Reject
    );
    assert_eq!(
        eval(&zone, "example.com", None, &[dkim("example.com")], &c).disposition,
        Policy::None
    );
}

#[test]
fn rfc_9989_tags_are_ignored_in_7489_mode() {
    let mut zone = ZoneResolver::new();
    zone.add_txt_str(
        "_dmarc.example.com",
        "v=DMARC1; p=reject; sp=quarantine; np=none; t=y",
    );
    let out = eval(&zone, "nosuch.example.com", None, &[], &cfg());
    assert_eq!(out.policy_source, Some(PolicySource::Sp));
    assert_eq!(
        out.disposition,
        Policy::Quarantine,
        "t=y has no meaning in RFC 7489"
    );
    assert!(!out.testing);
    assert!(zone.queries().iter().all(|(t, _)| *t == RecordType::Txt));
}

#[test]
fn record_errors_per_rfc_7489() {
    // no p: unusable unless rua is present (§6.6.3 step 6)
    let mut zone = ZoneResolver::new();
    zone.add_txt_str("_dmarc.example.com", "v=DMARC1; pct=100");
    assert_eq!(
        eval(&zone, "example.com", None, &[], &cfg()).result,
        DmarcResult::PermError
    );
    let mut zone = ZoneResolver::new();
    zone.add_txt_str(
        "_dmarc.example.com",
        "v=DMARC1; sp=bad; p=reject; rua=mailto:r@example.com",
    );
    let out = eval(&zone, "example.com", None, &[], &cfg());
    assert_eq!(
        (out.result, out.policy),
        (DmarcResult::Fail, Some(Policy::None))
    );
    // bad values of other tags: defaults (§6.3)
    let mut zone = ZoneResolver::new();
    zone.add_txt_str(
        "_dmarc.example.com",
        "v=DMARC1; p=reject; pct=500; aspf=x; rf=bob",
    );
    let out = eval(&zone, "example.com", None, &[], &cfg());
    assert_eq!(out.disposition, Policy::Reject, "invalid pct means 100");
}

#[test]
fn several_records_at_the_author_domain_stop_discovery() {
    let mut zone = ZoneResolver::new();
    zone.add_txt_str("_dmarc.mail.example.com", "v=DMARC1; p=none")
        .add_txt_str("_dmarc.mail.example.com", "v=DMARC1; p=none")
        .add_txt_str("_dmarc.example.com", "v=DMARC1; p=reject");
    let out = eval(&zone, "mail.example.com", None, &[], &cfg());
    assert_eq!(out.result, DmarcResult::None);
    assert_eq!(zone.query_count(), 1);
}

#[test]
fn temperror_on_dns_failure() {
    let mut zone = ZoneResolver::new();
    zone.set_fault("_dmarc.example.com", RecordType::Txt, Fault::Timeout);
    let out = eval(&zone, "mail.example.com", None, &[], &cfg());
    assert_eq!(out.result, DmarcResult::TempError);
}

#[test]
fn spf_and_dkim_alignment_rules() {
    let mut zone = ZoneResolver::new();
    zone.add_txt_str("_dmarc.example.com", "v=DMARC1; p=reject; aspf=s");
    let spf = |pass, domain| {
        Some(SpfEvidence {
            result_pass: pass,
            domain,
        })
    };
    // strict SPF: exact only
    let out = eval(
        &zone,
        "example.com",
        spf(true, "bounce.example.com"),
        &[],
        &cfg(),
    );
    assert_eq!(out.result, DmarcResult::Fail);
    let out = eval(&zone, "example.com", spf(true, "EXAMPLE.com."), &[], &cfg());
    assert!(out.spf_aligned);
    assert_eq!(out.result, DmarcResult::Pass);
    // SPF that did not pass never aligns
    let out = eval(&zone, "example.com", spf(false, "example.com"), &[], &cfg());
    assert_eq!(out.result, DmarcResult::Fail);
    // DKIM in testing mode, with unsigned content, or failing, does not count
    for sig in [
        DkimEvidence {
            testing: true,
            ..dkim("example.com")
        },
        DkimEvidence {
            unsigned_content: true,
            ..dkim("example.com")
        },
        DkimEvidence {
            pass: false,
            ..dkim("example.com")
        },
    ] {
        let out = eval(&zone, "example.com", None, &[sig], &cfg());
        assert_eq!(out.result, DmarcResult::Fail, "{sig:?}");
    }
    let out = eval(
        &zone,
        "example.com",
        None,
        &[dkim("evil.example"), dkim("mail.example.com")],
        &cfg(),
    );
    assert_eq!(out.result, DmarcResult::Pass);
    assert!(out.dkim_aligned && !out.spf_aligned);
    assert_eq!(out.aligned_dkim_domain.as_deref(), Some("mail.example.com"));
}

#[test]
fn outputs_for_the_composer_and_cli() {
    let mut zone = ZoneResolver::new();
    zone.add_txt_str(
        "_dmarc.example.com",
        "v=DMARC1; p=quarantine; rua=mailto:agg@example.com; ruf=mailto:f@example.com",
    );
    let out = eval(&zone, "example.com", None, &[], &cfg());
    assert_eq!(out.rua, ["mailto:agg@example.com"]);
    assert_eq!(out.ruf, ["mailto:f@example.com"]);
    let json = out.to_json();
    assert_eq!(json["result"], "fail");
    assert_eq!(json["from_domain"], "example.com");
    assert_eq!(json["policy"], "quarantine");
    assert_eq!(json["disposition"], "quarantine");
    assert!(json["reason"].as_str().is_some_and(|r| !r.is_empty()));
    let r = resinfo(&out);
    assert_eq!(r.method, "dmarc");
    assert_eq!(r.result, "fail");
    let props: Vec<(&str, &str, &str)> = r
        .properties
        .iter()
        .map(|p| (p.ptype.as_str(), p.name.as_str(), p.value.as_str()))
        .collect();
    assert_eq!(
        props,
        [
            ("header", "from", "example.com"),
            ("policy", "dmarc", "quarantine")
        ]
    );

    // An author-domain error becomes a permerror with the reason.
    let m = Message::parse(b"From: a@x.example, b@y.example\r\n\r\n");
    let err = author_domain(&m).expect_err("two mailboxes");
    assert_eq!(err, AuthorError::MultipleMailboxes);
    let out = DmarcOutput::author_error(&err, DmarcMode::Rfc7489);
    assert_eq!(out.to_json()["result"], "permerror");
    assert_eq!(out.to_json()["policy"], serde_json::Value::Null);
    let r = resinfo(&out);
    assert_eq!(r.result, "permerror");
    assert!(r.properties.is_empty());
    assert_eq!(
        r.reason.as_deref(),
        Some("From field holds more than one mailbox")
    );
}

#[test]
fn author_domain_is_normalized_before_lookup() {
    let mut zone = ZoneResolver::new();
    zone.add_txt_str("_dmarc.xn--bcher-kva.example", "v=DMARC1; p=reject");
    for from in [
        "bücher.example",
        "XN--BCHER-KVA.example.",
        "xn--bcher-kva.example",
    ] {
        for mode in [DmarcMode::Rfc7489, DmarcMode::Rfc9989] {
            let out = eval(&zone, from, None, &[], &DmarcConfig::with_mode(mode));
            assert_eq!(out.from_domain, "xn--bcher-kva.example", "{from}");
            assert_eq!(out.policy, Some(Policy::Reject), "{from} {mode}");
        }
    }
    // DKIM d= in U-label form aligns with the A-label Author Domain
    let out = eval(
        &zone,
        "xn--bcher-kva.example",
        None,
        &[dkim("Bücher.example")],
        &cfg(),
    );
    assert_eq!(out.result, DmarcResult::Pass);
}
