//! Property tests: the SPF parsers and the macro expander are total and
//! bounded on arbitrary input.

use proptest::prelude::*;
use sender_auth::spf::macros::{
    MAX_DOMAIN_LEN, MAX_EXPLANATION_LEN, MacroContext, MacroString, MacroVars,
};
use sender_auth::spf::record::Record;

fn spfish() -> impl Strategy<Value = String> {
    // Records built from SPF-looking pieces, to get past the version check
    // and exercise the term parsers.
    let piece = prop_oneof![
        Just("a".to_string()),
        Just("mx".to_string()),
        Just("ptr".to_string()),
        Just("all".to_string()),
        Just("ip4:".to_string()),
        Just("ip6:".to_string()),
        Just("include:".to_string()),
        Just("exists:".to_string()),
        Just("redirect=".to_string()),
        Just("exp=".to_string()),
        Just("%{".to_string()),
        Just("}".to_string()),
        Just("/".to_string()),
        Just("//".to_string()),
        Just(":".to_string()),
        Just(".".to_string()),
        Just(" ".to_string()),
        "[-+~?]",
        "[a-zA-Z0-9.%{}_=:/-]{0,8}",
        "[0-9]{1,4}",
    ];
    prop::collection::vec(piece, 0..24).prop_map(|v| format!("v=spf1 {}", v.concat()))
}

proptest! {
    #[test]
    fn record_parse_is_total_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let mut text = b"v=spf1 ".to_vec();
        text.extend_from_slice(&bytes);
        let _ = Record::parse(&text);
        let _ = Record::parse(&bytes);
    }

    #[test]
    fn record_parse_is_total_on_spf_like_text(text in spfish()) {
        if let Err(e) = Record::parse(text.as_bytes()) {
            prop_assert!(e.offset <= text.len());
            let _ = e.to_string();
        }
    }

    #[test]
    fn macro_expansion_is_total_and_bounded(
        text in "[ -~]{0,200}",
        local in "[ -~]{0,300}",
        helo in "[ -~]{0,100}",
    ) {
        let sender = format!("{local}@example.com");
        let vars = MacroVars::new("2001:db8::1".parse().unwrap(), &sender, "example.com", &helo);
        for ctx in [MacroContext::Domain, MacroContext::Modifier, MacroContext::Explanation] {
            if let Ok(m) = MacroString::parse(&text, ctx) {
                prop_assert!(m.expand_domain(&vars).len() <= MAX_DOMAIN_LEN);
                prop_assert!(m.expand(&vars).len() <= MAX_EXPLANATION_LEN);
            }
        }
    }
}
