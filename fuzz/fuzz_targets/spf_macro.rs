#![no_main]
//! SPF macro parser and expander: total on arbitrary input, and expansion is
//! bounded (explanations at MAX_EXPLANATION_LEN, domains at 253 octets)
//! whatever the macro transformers and the variables (the libspf2 CVE class).
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use sender_auth::spf::macros::{
    MAX_DOMAIN_LEN, MAX_EXPLANATION_LEN, MacroContext, MacroString, MacroVars, truncate_domain,
};

#[derive(Arbitrary, Debug)]
struct Input {
    ctx: u8,
    text: String,
    ip: [u8; 16],
    v6: bool,
    sender: String,
    domain: String,
    helo: String,
    ptr: Option<String>,
    receiver: String,
    timestamp: u64,
}

fuzz_target!(|i: Input| {
    let ctx = match i.ctx % 3 {
        0 => MacroContext::Domain,
        1 => MacroContext::Modifier,
        _ => MacroContext::Explanation,
    };
    let _ = truncate_domain(&i.domain);
    let Ok(m) = MacroString::parse(&i.text, ctx) else {
        return;
    };
    let _ = m.to_string();
    let ip = if i.v6 {
        std::net::IpAddr::from(i.ip)
    } else {
        std::net::IpAddr::from([i.ip[0], i.ip[1], i.ip[2], i.ip[3]])
    };
    let mut vars = MacroVars::new(ip, &i.sender, &i.domain, &i.helo);
    vars.ptr = i.ptr.as_deref();
    vars.receiver = &i.receiver;
    vars.timestamp = i.timestamp;
    let e = m.expand(&vars);
    assert!(e.len() <= MAX_EXPLANATION_LEN, "explanation {} octets", e.len());
    let d = m.expand_domain(&vars);
    assert!(d.len() <= MAX_DOMAIN_LEN, "domain {} octets", d.len());
});
