//! Property tests: the DMARC record parser and the evaluator are total on
//! hostile input (no panic), and the evaluator's DNS work stays bounded.

use proptest::prelude::*;
use sender_auth::dmarc::{DkimEvidence, DmarcConfig, DmarcMode, evaluate, record};
use sender_auth::dns::zone::ZoneResolver;

fn block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(f)
}

fn tag_soup() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("v=DMARC1"),
            Just(";"),
            Just("="),
            Just(" "),
            Just("p"),
            Just("sp"),
            Just("np"),
            Just("reject"),
            Just("none"),
            Just("quarantine"),
            Just("pct"),
            Just("100"),
            Just("500"),
            Just("psd"),
            Just("y"),
            Just("n"),
            Just("t"),
            Just("rua"),
            Just("mailto:a@b.example"),
            Just(","),
            Just(":"),
            Just("\r\n"),
            Just("\u{0}"),
            Just("é"),
            Just("adkim"),
            Just("s"),
            Just("ri"),
            Just("fo"),
        ],
        0..30,
    )
    .prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn record_parser_is_total(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = record::parse(&bytes);
        let _ = record::is_dmarc(&bytes);
    }

    #[test]
    fn record_parser_is_total_on_tag_soup(s in tag_soup()) {
        if let Ok(r) = record::parse(s.as_bytes()) {
            for p in &r.problems {
                let _ = p.to_string();
            }
        }
    }

    #[test]
    fn evaluate_is_total_and_bounded(
        rec in tag_soup(),
        from in "[a-z.]{0,40}",
        d in "[a-z.]{0,20}",
        rfc7489 in any::<bool>(),
    ) {
        let mut zone = ZoneResolver::new();
        zone.add_txt_str("_dmarc.example.com", &rec)
            .add_txt_str("_dmarc.com", &rec);
        let from = format!("{from}example.com");
        let cfg = DmarcConfig::with_mode(if rfc7489 { DmarcMode::Rfc7489 } else { DmarcMode::Rfc9989 });
        let sig = [DkimEvidence { pass: true, domain: &d, testing: false, unsigned_content: false }];
        let out = block(evaluate(&zone, &from, None, &sig, &cfg));
        let _ = out.to_json();
        let _ = sender_auth::dmarc::resinfo(&out);
        prop_assert!(zone.query_count() <= cfg.max_dns_queries);
    }
}
