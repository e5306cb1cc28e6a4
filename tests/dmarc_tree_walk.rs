//! RFC 9989 mode, written from the RFC text: the DNS Tree Walk (§4.10,
//! label limit and query bound), Organizational Domain determination
//! (§4.10.2, "Identifier Alignment Evaluation": psd=n, psd=y, highest
//! record), policy selection (§4.10.1, "DMARC Policy Discovery": p, sp, np
//! for non-existent domains per §3.2.13, "Non-Existent Domains", and
//! RFC 8020), t=y (§4.7), several records at one name (§4.10 steps 2 and
//! 6), and DNS failures. Every test counts the queries sent.

use sender_auth::dmarc::discovery::{tree_walk, walk_targets};
use sender_auth::dmarc::{
    DkimEvidence, DmarcConfig, DmarcOutput, DmarcResult, Policy, PolicySource, SpfEvidence,
    evaluate,
};
use sender_auth::dns::RecordType;
use sender_auth::dns::zone::{Fault, ZoneResolver};

fn block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(f)
}

fn dkim(domain: &str) -> DkimEvidence<'_> {
    DkimEvidence {
        pass: true,
        domain,
        testing: false,
        unsigned_content: false,
    }
}

fn eval(zone: &ZoneResolver, from: &str, dkim: &[DkimEvidence<'_>]) -> DmarcOutput {
    block(evaluate(zone, from, None, dkim, &DmarcConfig::default()))
}

fn txt_queries(zone: &ZoneResolver) -> Vec<String> {
    zone.queries()
        .into_iter()
        .filter(|(t, _)| *t == RecordType::Txt)
        .map(|(_, n)| n)
        .collect()
}

#[test]
fn long_name_walk_is_bounded_to_eight_queries() {
    // RFC 9989 §4.10's own example name.
    let mut zone = ZoneResolver::new();
    zone.add_txt_str("_dmarc.example.com", "v=DMARC1; p=reject");
    let from = "a.b.c.d.e.f.g.h.i.j.mail.example.com";
    let out = eval(&zone, from, &[]);
    assert_eq!(
        txt_queries(&zone),
        [
            "_dmarc.a.b.c.d.e.f.g.h.i.j.mail.example.com",
            "_dmarc.g.h.i.j.mail.example.com",
            "_dmarc.h.i.j.mail.example.com",
            "_dmarc.i.j.mail.example.com",
            "_dmarc.j.mail.example.com",
            "_dmarc.mail.example.com",
            "_dmarc.example.com",
            "_dmarc.com",
        ]
    );
    assert_eq!(zone.query_count(), 8, "no existence query without np");
    assert_eq!(out.result, DmarcResult::Fail);
    assert_eq!(out.policy, Some(Policy::Reject));
    assert_eq!(
        out.policy_source,
        Some(PolicySource::P),
        "sp absent: p applies"
    );
    assert_eq!(out.policy_domain.as_deref(), Some("example.com"));
    assert_eq!(out.organizational_domain.as_deref(), Some("example.com"));
    assert_eq!(out.disposition, Policy::Reject);
}

#[test]
fn names_skipped_by_the_label_jump_are_never_queried() {
    let mut zone = ZoneResolver::new();
    // 9 labels: between the 10-label From domain and the 7-label jump.
    zone.add_txt_str("_dmarc.b.c.d.e.f.g.h.example.com", "v=DMARC1; p=none")
        .add_txt_str("_dmarc.example.com", "v=DMARC1; p=quarantine");
    let out = eval(&zone, "a.b.c.d.e.f.g.h.example.com", &[]);
    assert!(!txt_queries(&zone).contains(&"_dmarc.b.c.d.e.f.g.h.example.com".to_string()));
    assert_eq!(out.policy_domain.as_deref(), Some("example.com"));
    assert_eq!(out.policy, Some(Policy::Quarantine));
    assert!(zone.query_count() <= 8);
}

#[test]
fn walk_of_a_huge_name_stays_bounded() {
    let from = vec!["x"; 100].join(".") + ".example";
    let zone = ZoneResolver::new();
    let out = eval(&zone, &from, &[]);
    assert_eq!(out.result, DmarcResult::None);
    assert_eq!(zone.query_count(), 8);
    // a 247-octet name: "_dmarc." + it is too long to query, so that step
    // finds nothing without sending anything
    let longest = vec!["x"; 120].join(".") + ".example";
    zone.clear_queries();
    assert_eq!(eval(&zone, &longest, &[]).result, DmarcResult::None);
    assert_eq!(zone.query_count(), 7);
    assert_eq!(walk_targets(&from, 8).len(), 8);
    // a custom limit is honoured
    let walk = block(tree_walk(&zone, &from, 3));
    assert_eq!(walk.queries, 3);
}

#[test]
fn psd_n_stops_the_walk_and_marks_the_organizational_domain() {
    let mut zone = ZoneResolver::new();
    zone.add_txt_str("_dmarc.dept.example.com", "v=DMARC1; p=quarantine; psd=n")
        .add_txt_str("_dmarc.example.com", "v=DMARC1; p=reject");
    let out = eval(&zone, "x.dept.example.com", &[dkim("example.com")]);
    assert_eq!(
        txt_queries(&zone),
        ["_dmarc.x.dept.example.com", "_dmarc.dept.example.com"],
        "the walk stops at psd=n"
    );
    assert_eq!(
        out.organizational_domain.as_deref(),
        Some("dept.example.com")
    );
    assert_eq!(out.policy_domain.as_deref(), Some("dept.example.com"));
    assert_eq!(out.policy, Some(Policy::Quarantine));
    // example.com is above the Organizational Domain: not aligned
    assert_eq!(out.result, DmarcResult::Fail);

    zone.clear_queries();
    let out = eval(
        &zone,
        "x.dept.example.com",
        &[dkim("mail.dept.example.com")],
    );
    assert_eq!(out.result, DmarcResult::Pass);
    assert_eq!(
        out.aligned_dkim_domain.as_deref(),
        Some("mail.dept.example.com")
    );
    assert!(zone.query_count() <= 4, "{:?}", zone.queries());
}

#[test]
fn psd_y_makes_the_child_the_organizational_domain() {
    let mut zone = ZoneResolver::new();
    zone.add_txt_str("_dmarc.gov.example", "v=DMARC1; p=reject; psd=y");
    zone.add_a("mail.agency.gov.example", "192.0.2.1".parse().unwrap());
    let out = eval(
        &zone,
        "mail.agency.gov.example",
        &[dkim("other.gov.example")],
    );
    assert_eq!(
        txt_queries(&zone),
        [
            "_dmarc.mail.agency.gov.example",
            "_dmarc.agency.gov.example",
            "_dmarc.gov.example",
        ]
    );
    assert_eq!(
        out.organizational_domain.as_deref(),
        Some("agency.gov.example")
    );
    // the Organizational Domain has no record: the PSD's policy applies
    assert_eq!(out.policy_domain.as_deref(), Some("gov.example"));
    assert_eq!(out.policy, Some(Policy::Reject));
    assert_eq!(out.policy_source, Some(PolicySource::P));
    // a sibling under the PSD is a different organization: not aligned,
    // and no walk is needed to know it
    assert_eq!(out.result, DmarcResult::Fail);
    assert_eq!(zone.query_count(), 3);

    let out = eval(
        &zone,
        "mail.agency.gov.example",
        &[dkim("agency.gov.example")],
    );
    assert_eq!(out.result, DmarcResult::Pass);

    // Without psd=y the highest record would make gov.example the
    // Organizational Domain and the sibling would align.
    let mut flat = ZoneResolver::new();
    flat.add_txt_str("_dmarc.gov.example", "v=DMARC1; p=reject");
    let out = eval(
        &flat,
        "mail.agency.gov.example",
        &[dkim("other.gov.example")],
    );
    assert_eq!(out.organizational_domain.as_deref(), Some("gov.example"));
    assert_eq!(out.result, DmarcResult::Pass);
}

#[test]
fn psd_y_organizational_domain_record_wins_over_the_psd() {
    let mut zone = ZoneResolver::new();
    zone.add_txt_str("_dmarc.gov.example", "v=DMARC1; p=reject; psd=y")
        .add_txt_str(
            "_dmarc.agency.gov.example",
            "v=DMARC1; p=none; sp=quarantine",
        );
    let out = eval(&zone, "mail.agency.gov.example", &[]);
    // agency.gov.example has no psd: the walk goes on to the PSD
    let walk = block(tree_walk(&zone, "mail.agency.gov.example", 8));
    assert_eq!(walk.organizational_domain(), "agency.gov.example");
    assert_eq!(out.policy_domain.as_deref(), Some("agency.gov.example"));
    assert_eq!(out.policy, Some(Policy::Quarantine));
    assert_eq!(out.policy_source, Some(PolicySource::Sp));
}

#[test]
fn psd_y_at_the_start_stops_the_walk_there() {
    // Generic step 2 of §4.10 stops at the start name for psd=y too; the
    // psd=y rule (step 2) of §4.10.2 excludes the start, so the start is
    // its own Organizational Domain (step 3).
    let mut zone = ZoneResolver::new();
    zone.add_txt_str("_dmarc.psd.example", "v=DMARC1; p=reject; psd=y")
        .add_txt_str("_dmarc.example", "v=DMARC1; p=none");
    let walk = block(tree_walk(&zone, "psd.example", 8));
    assert_eq!(walk.queries, 1);
    assert_eq!(walk.organizational_domain(), "psd.example");
    let out = eval(&zone, "psd.example", &[]);
    assert_eq!(out.policy_source, Some(PolicySource::P));
    assert_eq!(out.policy, Some(Policy::Reject));
    // the same for psd=n
    let mut zone = ZoneResolver::new();
    zone.add_txt_str("_dmarc.org.example", "v=DMARC1; p=reject; psd=n");
    let walk = block(tree_walk(&zone, "org.example", 8));
    assert_eq!(
        (walk.queries, walk.organizational_domain().as_str()),
        (1, "org.example")
    );
}

#[test]
fn highest_record_is_the_organizational_domain() {
    let mut zone = ZoneResolver::new();
    zone.add_txt_str("_dmarc.sub.example.com", "v=DMARC1; p=none; sp=none")
        .add_txt_str("_dmarc.example.com", "v=DMARC1; p=reject; sp=quarantine");
    let out = eval(&zone, "x.sub.example.com", &[dkim("example.com")]);
    assert_eq!(out.organizational_domain.as_deref(), Some("example.com"));
    assert_eq!(out.policy_domain.as_deref(), Some("example.com"));
    assert_eq!(
        out.result,
        DmarcResult::Pass,
        "relaxed: same Organizational Domain"
    );
    assert_eq!(
        out.policy,
        Some(Policy::Quarantine),
        "sp of the Organizational Domain"
    );

    // A record at the Author Domain itself is used with its p.
    let out = eval(&zone, "sub.example.com", &[]);
    assert_eq!(out.policy_domain.as_deref(), Some("sub.example.com"));
    assert_eq!(out.policy, Some(Policy::None));
    assert_eq!(out.policy_source, Some(PolicySource::P));
}

#[test]
fn relaxed_alignment_walks_share_queries() {
    let mut zone = ZoneResolver::new();
    zone.add_txt_str("_dmarc.example.com", "v=DMARC1; p=reject");
    let out = eval(&zone, "example.com", &[dkim("mail.example.com")]);
    assert_eq!(out.result, DmarcResult::Pass);
    let mut q = txt_queries(&zone);
    q.sort();
    assert_eq!(
        q,
        [
            "_dmarc.com",
            "_dmarc.example.com",
            "_dmarc.mail.example.com"
        ],
        "each name queried once"
    );
    // strict alignment needs no walk at all
    zone.clear_queries();
    let mut strict = ZoneResolver::new();
    strict.add_txt_str("_dmarc.example.com", "v=DMARC1; p=reject; adkim=s");
    let out = eval(&strict, "example.com", &[dkim("mail.example.com")]);
    assert_eq!(out.result, DmarcResult::Fail);
    assert_eq!(strict.query_count(), 1);
}

#[test]
fn many_dkim_domains_stay_within_the_budget() {
    let mut zone = ZoneResolver::new();
    zone.add_txt_str("_dmarc.example.com", "v=DMARC1; p=reject");
    let names: Vec<String> = (0..200).map(|i| format!("s{i}.x{i}.example.com")).collect();
    let sigs: Vec<DkimEvidence<'_>> = names.iter().map(|n| dkim(n)).collect();
    let cfg = DmarcConfig::default();
    let fail_sigs: Vec<DkimEvidence<'_>> = sigs
        .iter()
        .map(|s| DkimEvidence { pass: false, ..*s })
        .collect();
    let out = block(evaluate(&zone, "example.com", None, &fail_sigs, &cfg));
    assert_eq!(out.result, DmarcResult::Fail);
    assert_eq!(zone.query_count(), 1, "failed signatures cost nothing");
    zone.clear_queries();
    let out = block(evaluate(&zone, "example.com", None, &sigs, &cfg));
    // the first one aligns; the rest are never looked at
    assert_eq!(out.result, DmarcResult::Pass);
    assert!(zone.query_count() <= cfg.max_dns_queries);
}

#[test]
fn np_applies_to_non_existent_subdomains_only() {
    let mut zone = ZoneResolver::new();
    zone.add_txt_str(
        "_dmarc.example.com",
        "v=DMARC1; p=none; sp=quarantine; np=reject",
    )
    .add_a("host.example.com", "192.0.2.1".parse().unwrap())
    .add_a("a.empty.example.com", "192.0.2.2".parse().unwrap());

    let out = eval(&zone, "nosuch.example.com", &[]);
    assert_eq!(out.policy, Some(Policy::Reject));
    assert_eq!(out.policy_source, Some(PolicySource::Np));
    assert_eq!(out.disposition, Policy::Reject);
    assert!(
        zone.queries()
            .contains(&(RecordType::A, "nosuch.example.com".into()))
    );

    let out = eval(&zone, "host.example.com", &[]);
    assert_eq!(
        (out.policy, out.policy_source),
        (Some(Policy::Quarantine), Some(PolicySource::Sp))
    );

    // an empty non-terminal exists (NODATA, RFC 8020; RFC 9989 Appendix A.4)
    let out = eval(&zone, "empty.example.com", &[]);
    assert_eq!(out.policy_source, Some(PolicySource::Sp));

    // the domain itself: p
    let out = eval(&zone, "example.com", &[]);
    assert_eq!(
        (out.policy, out.policy_source),
        (Some(Policy::None), Some(PolicySource::P))
    );

    // without np, sp applies and no existence query is sent
    let mut no_np = ZoneResolver::new();
    no_np.add_txt_str("_dmarc.example.com", "v=DMARC1; p=reject; sp=quarantine");
    let out = eval(&no_np, "nosuch.example.com", &[]);
    assert_eq!(out.policy_source, Some(PolicySource::Sp));
    assert!(no_np.queries().iter().all(|(t, _)| *t == RecordType::Txt));
}

#[test]
fn np_existence_check_failure_is_a_temperror_only_when_it_matters() {
    let mut zone = ZoneResolver::new();
    zone.add_txt_str("_dmarc.example.com", "v=DMARC1; p=none; np=reject")
        .set_fault("nosuch.example.com", RecordType::A, Fault::ServFail);
    let out = eval(&zone, "nosuch.example.com", &[]);
    assert_eq!(out.result, DmarcResult::TempError);
    // a pass does not depend on it
    let out = eval(&zone, "nosuch.example.com", &[dkim("nosuch.example.com")]);
    assert_eq!(out.result, DmarcResult::Pass);
}

#[test]
fn testing_mode_t_y_applies_one_level_lower() {
    let mut zone = ZoneResolver::new();
    zone.add_txt_str("_dmarc.example.com", "v=DMARC1; p=reject; t=y; pct=10");
    let out = eval(&zone, "example.com", &[]);
    assert_eq!(out.result, DmarcResult::Fail);
    assert_eq!(out.policy, Some(Policy::Reject));
    // §4.7 (`t`): one level below the specified policy; pct is removed
    // (Appendix A.6)
    assert_eq!(out.disposition, Policy::Quarantine);
    assert!(out.testing);
    let r = sender_auth::dmarc::resinfo(&out);
    let applied: Vec<&str> = r
        .properties
        .iter()
        .filter(|p| p.ptype == "policy")
        .map(|p| p.value.as_str())
        .collect();
    assert_eq!(
        applied,
        ["quarantine"],
        "policy.dmarc is the policy applied"
    );

    let mut q = ZoneResolver::new();
    q.add_txt_str("_dmarc.example.com", "v=DMARC1; p=quarantine; t=y");
    assert_eq!(eval(&q, "example.com", &[]).disposition, Policy::None);
    let mut n = ZoneResolver::new();
    n.add_txt_str("_dmarc.example.com", "v=DMARC1; p=none; t=y");
    assert_eq!(eval(&n, "example.com", &[]).disposition, Policy::None);
}

#[test]
fn several_records_at_one_name_count_as_none() {
    let mut zone = ZoneResolver::new();
    zone.add_txt_str("_dmarc.mail.example.com", "v=DMARC1; p=none")
        .add_txt_str("_dmarc.mail.example.com", "v=DMARC1; p=reject")
        .add_txt_str("_dmarc.mail.example.com", "some other text")
        .add_txt_str("_dmarc.example.com", "v=DMARC1; p=quarantine");
    let out = eval(&zone, "mail.example.com", &[]);
    assert_eq!(out.policy_domain.as_deref(), Some("example.com"));
    assert_eq!(out.policy, Some(Policy::Quarantine));

    let mut only = ZoneResolver::new();
    only.add_txt_str("_dmarc.example.com", "v=DMARC1; p=none")
        .add_txt_str("_dmarc.example.com", "v=DMARC1; p=reject");
    let out = eval(&only, "example.com", &[]);
    assert_eq!(out.result, DmarcResult::None);
    assert!(out.reason.contains("several"), "{}", out.reason);
    assert_eq!(out.policy, None);
}

#[test]
fn non_dmarc_txt_records_are_ignored() {
    let mut zone = ZoneResolver::new();
    zone.add_txt_str("_dmarc.example.com", "v=spf1 -all")
        .add_txt_str("_dmarc.example.com", "v=DMARC1; p=reject");
    let out = eval(&zone, "example.com", &[]);
    assert_eq!(out.policy, Some(Policy::Reject));
}

#[test]
fn dns_failures_are_temperrors() {
    let mut zone = ZoneResolver::new();
    zone.set_fault("_dmarc.example.com", RecordType::Txt, Fault::ServFail);
    assert_eq!(
        eval(&zone, "example.com", &[]).result,
        DmarcResult::TempError
    );

    let mut zone = ZoneResolver::new();
    zone.set_fault("_dmarc.example.com", RecordType::Txt, Fault::Timeout);
    let out = eval(&zone, "mail.example.com", &[]);
    assert_eq!(out.result, DmarcResult::TempError);
    assert!(out.reason.contains("_dmarc.example.com"), "{}", out.reason);

    // the policy is at the Author Domain, but relaxed alignment needs the
    // walk above it, which fails
    let mut zone = ZoneResolver::new();
    zone.add_txt_str("_dmarc.example.com", "v=DMARC1; p=reject")
        .set_fault("_dmarc.com", RecordType::Txt, Fault::Timeout);
    let out = eval(&zone, "example.com", &[dkim("mail.example.com")]);
    assert_eq!(out.result, DmarcResult::TempError);
    // an exact match needs no walk
    let out = eval(&zone, "example.com", &[dkim("example.com")]);
    assert_eq!(out.result, DmarcResult::Pass);
}

#[test]
fn no_record_anywhere_is_none() {
    let zone = ZoneResolver::new();
    let spf = SpfEvidence {
        result_pass: true,
        domain: "example.com",
    };
    let out = block(evaluate(
        &zone,
        "example.com",
        Some(spf),
        &[],
        &DmarcConfig::default(),
    ));
    assert_eq!(out.result, DmarcResult::None);
    assert_eq!(out.policy, None);
    assert_eq!(out.disposition, Policy::None);
    assert_eq!(zone.query_count(), 2);
}

#[test]
fn invalid_policy_tags_per_rfc_9989() {
    // p absent: treated as none (p is RECOMMENDED, not required)
    let mut zone = ZoneResolver::new();
    zone.add_txt_str("_dmarc.example.com", "v=DMARC1; rua=mailto:a@example.com");
    let out = eval(&zone, "example.com", &[]);
    assert_eq!(
        (out.result, out.policy),
        (DmarcResult::Fail, Some(Policy::None))
    );
    assert_eq!(out.rua, ["mailto:a@example.com"]);

    // invalid p with a valid rua: act as p=none
    let mut zone = ZoneResolver::new();
    zone.add_txt_str(
        "_dmarc.example.com",
        "v=DMARC1; p=rejectt; rua=mailto:a@example.com",
    );
    let out = eval(&zone, "example.com", &[]);
    assert_eq!(
        (out.result, out.policy),
        (DmarcResult::Fail, Some(Policy::None))
    );

    // invalid p (or sp, np) without one: unusable record
    for rec in [
        "v=DMARC1; p=bogus",
        "v=DMARC1; p=reject; sp=bogus",
        "v=DMARC1; p=reject; np=bogus",
    ] {
        let mut zone = ZoneResolver::new();
        zone.add_txt_str("_dmarc.example.com", rec);
        let out = eval(&zone, "example.com", &[]);
        assert_eq!(out.result, DmarcResult::PermError, "{rec}");
        assert!(out.reason.contains("bogus"), "{}", out.reason);
    }

    // other bad tags fall back to defaults (unknown tags ignored)
    let mut zone = ZoneResolver::new();
    zone.add_txt_str(
        "_dmarc.example.com",
        "v=DMARC1; p=reject; adkim=x; foo=bar; ri=zz",
    );
    let out = eval(&zone, "example.com", &[dkim("mail.example.com")]);
    assert_eq!(out.result, DmarcResult::Pass, "adkim defaults to relaxed");

    // A duplicated p, sp or np is an ambiguous policy: invalid, fail-closed
    // (permerror without rua, p=none with one). Other duplicated tags keep
    // their first value.
    for rec in [
        "v=DMARC1; p=reject; p=none",
        "v=DMARC1; p=none; sp=reject; sp=none",
        "v=DMARC1; p=none; np=reject; np=none",
    ] {
        let mut zone = ZoneResolver::new();
        zone.add_txt_str("_dmarc.example.com", rec);
        let out = eval(&zone, "example.com", &[]);
        assert_eq!(out.result, DmarcResult::PermError, "{rec}");
        assert!(out.reason.contains("duplicate tag"), "{}", out.reason);
    }
    let mut zone = ZoneResolver::new();
    zone.add_txt_str(
        "_dmarc.example.com",
        "v=DMARC1; p=reject; p=none; rua=mailto:a@example.com",
    );
    let out = eval(&zone, "example.com", &[]);
    assert_eq!(
        (out.result, out.policy),
        (DmarcResult::Fail, Some(Policy::None))
    );
    let mut zone = ZoneResolver::new();
    zone.add_txt_str("_dmarc.example.com", "v=DMARC1; p=reject; adkim=s; adkim=r");
    let out = eval(&zone, "example.com", &[dkim("mail.example.com")]);
    assert_eq!(out.result, DmarcResult::Fail, "first adkim (strict) kept");
}

#[test]
fn invalid_author_domain_is_a_permerror() {
    let zone = ZoneResolver::new();
    let out = eval(&zone, "a..b", &[]);
    assert_eq!(out.result, DmarcResult::PermError);
    assert_eq!(zone.query_count(), 0);
}

fn spf(domain: &str) -> Option<SpfEvidence<'_>> {
    Some(SpfEvidence {
        result_pass: true,
        domain,
    })
}

fn sorted_txt(zone: &ZoneResolver) -> Vec<String> {
    let mut q = txt_queries(zone);
    q.sort();
    q
}

/// RFC 9989 Appendix B.4.1, "Simple Organizational and Policy Example".
#[test]
fn rfc_example_b_4_1() {
    let mut zone = ZoneResolver::new();
    zone.add_txt_str("_dmarc.example.com", "v=DMARC1; p=reject")
        .add_txt_str("_dmarc.signing.example.com", "v=DMARC1; p=none");
    let out = block(evaluate(
        &zone,
        "example.com",
        spf("example.com"),
        &[dkim("signing.example.com")],
        &DmarcConfig::default(),
    ));
    assert_eq!(out.result, DmarcResult::Pass);
    assert!(out.spf_aligned && out.dkim_aligned);
    assert_eq!(out.policy_domain.as_deref(), Some("example.com"));
    assert_eq!(out.organizational_domain.as_deref(), Some("example.com"));
    assert_eq!(
        sorted_txt(&zone),
        [
            "_dmarc.com",
            "_dmarc.example.com",
            "_dmarc.signing.example.com"
        ]
    );
}

/// RFC 9989 Appendix B.4.2, "Deep Tree Walk Example".
#[test]
fn rfc_example_b_4_2() {
    let mut zone = ZoneResolver::new();
    zone.add_txt_str("_dmarc.example.com", "v=DMARC1; p=reject")
        .add_txt_str("_dmarc.signing.example.com", "v=DMARC1; p=none");
    let from = "a.b.c.d.e.f.g.h.i.j.k.example.com";
    let out = block(evaluate(
        &zone,
        from,
        spf("example.com"),
        &[dkim("signing.example.com")],
        &DmarcConfig::default(),
    ));
    assert_eq!(out.result, DmarcResult::Pass);
    assert!(out.spf_aligned && out.dkim_aligned);
    assert_eq!(out.policy_domain.as_deref(), Some("example.com"));
    assert_eq!(out.organizational_domain.as_deref(), Some("example.com"));
    assert_eq!(
        txt_queries(&zone)[..8],
        [
            "_dmarc.a.b.c.d.e.f.g.h.i.j.k.example.com",
            "_dmarc.g.h.i.j.k.example.com",
            "_dmarc.h.i.j.k.example.com",
            "_dmarc.i.j.k.example.com",
            "_dmarc.j.k.example.com",
            "_dmarc.k.example.com",
            "_dmarc.example.com",
            "_dmarc.com",
        ]
    );
    assert_eq!(zone.query_count(), 9, "plus _dmarc.signing.example.com");
    // failing, the policy domain's record applies to the subdomain: p
    // (no sp)
    let out = eval(&zone, from, &[]);
    assert_eq!(
        (out.result, out.policy),
        (DmarcResult::Fail, Some(Policy::Reject))
    );
}

/// RFC 9989 Appendix B.4.3, "Example with a PSD DMARC Policy Record".
#[test]
fn rfc_example_b_4_3() {
    let mut zone = ZoneResolver::new();
    zone.add_txt_str("_dmarc.bank.example", "v=DMARC1; p=reject; psd=y")
        .add_txt_str("_dmarc.giant.bank.example", "v=DMARC1; p=quarantine");
    let out = block(evaluate(
        &zone,
        "giant.bank.example",
        spf("mail.giant.bank.example"),
        &[dkim("mail.mega.bank.example")],
        &DmarcConfig::default(),
    ));
    assert_eq!(
        out.organizational_domain.as_deref(),
        Some("giant.bank.example")
    );
    assert_eq!(out.policy_domain.as_deref(), Some("giant.bank.example"));
    assert!(out.spf_aligned, "same Organizational Domain below the PSD");
    assert!(
        !out.dkim_aligned,
        "mega.bank.example is another organization"
    );
    assert_eq!(out.result, DmarcResult::Pass);
    assert!(!txt_queries(&zone).contains(&"_dmarc.example".to_string()));
    let walk = block(tree_walk(&zone, "mail.mega.bank.example", 8));
    assert_eq!(walk.organizational_domain(), "mega.bank.example");
    assert_eq!(walk.queries, 3);
}

/// RFC 9989 §4.10 walks down to single-label names: a PSO publishing at a
/// top-level domain with `psd=y` is found, the Author Domain one label
/// below is its own Organizational Domain (§4.10.2 step 2), and the PSD
/// record is the policy (§4.10.1, lowest preference) with `sp`/`np`
/// because the Author Domain is a subdomain of the PSD.
#[test]
fn psd_y_at_a_single_label_parent() {
    let mut zone = ZoneResolver::new();
    zone.add_txt_str(
        "_dmarc.example",
        "v=DMARC1; psd=y; p=none; sp=quarantine; np=reject",
    )
    .add_a("bank.example", "192.0.2.1".parse().unwrap());
    let out = eval(&zone, "bank.example", &[dkim("other.example")]);
    assert_eq!(
        txt_queries(&zone),
        ["_dmarc.bank.example", "_dmarc.example"]
    );
    assert_eq!(out.organizational_domain.as_deref(), Some("bank.example"));
    assert_eq!(out.policy_domain.as_deref(), Some("example"));
    assert_eq!(
        out.result,
        DmarcResult::Fail,
        "a sibling is another organization"
    );
    assert_eq!(
        (out.policy, out.policy_source),
        (Some(Policy::Quarantine), Some(PolicySource::Sp))
    );
    // a non-existent Author Domain below the PSD: np
    let out = eval(&zone, "nosuch.example", &[]);
    assert_eq!(
        (out.policy, out.policy_source),
        (Some(Policy::Reject), Some(PolicySource::Np))
    );
    // the Author Domain is the PSD itself: its own record, p
    let out = eval(&zone, "example", &[]);
    assert_eq!(
        (out.policy_domain.as_deref(), out.policy_source),
        (Some("example"), Some(PolicySource::P))
    );
}

/// RFC 9989 §4.7 and §4.8: tags may come in any order after `v`, unknown
/// tags are ignored, and the tags RFC 9989 removed (`pct`, `rf`, `ri`,
/// Appendix C.5.2) have no effect, whatever their value; `pct=0` is not
/// read as `t=y`.
#[test]
fn record_syntax_per_rfc_9989() {
    let mut zone = ZoneResolver::new();
    zone.add_txt_str(
        "_dmarc.example.com",
        "v=DMARC1; rua=mailto:a@example.com; x-new=1; pct=0; rf=bogus; ri=zz; p=reject",
    );
    let out = eval(&zone, "example.com", &[]);
    assert_eq!(out.result, DmarcResult::Fail);
    assert_eq!(
        (out.policy, out.disposition, out.testing),
        (Some(Policy::Reject), Policy::Reject, false)
    );
    // a record whose first tag is not v=DMARC1 is no DMARC record
    let mut zone = ZoneResolver::new();
    zone.add_txt_str("_dmarc.example.com", "p=reject; v=DMARC1");
    assert_eq!(eval(&zone, "example.com", &[]).result, DmarcResult::None);
}
