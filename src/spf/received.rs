//! Rendering SPF results: the `Received-SPF` header field (RFC 7208 §9.1)
//! and the `spf=` result of `Authentication-Results` (RFC 8601 §2.7.2).

use super::{Identity, SpfOutput, SpfResult};
use crate::authres::ResInfo;

/// Longest `problem=` / `reason=` text written into a header, in
/// characters; longer texts (they may quote a hostile record) are cut.
const MAX_TEXT: usize = 300;

fn clip(s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if clean.chars().count() <= MAX_TEXT {
        clean
    } else {
        let mut t: String = clean.chars().take(MAX_TEXT).collect();
        t.push_str("...");
        t
    }
}

fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c)
}

/// A `dot-atom` when possible, otherwise a quoted-string (§9.1 key-value).
fn kv_value(s: &str) -> String {
    let dot_atom = !s.is_empty()
        && s.split('.')
            .all(|a| !a.is_empty() && a.chars().all(is_atext));
    if dot_atom {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in clip(s).chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Comment text: control characters become spaces, parentheses and
/// backslashes are escaped.
fn comment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in clip(s).chars() {
        if matches!(c, '(' | ')' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The `Received-SPF` header field for `output` (RFC 7208 §9.1), as added by
/// the host `receiver`. The value is folded before the key-value list; the
/// string has no final CRLF. Text that comes from DNS or SMTP is escaped and
/// cut to a bounded length so it cannot inject header syntax.
///
/// ```
/// use sender_auth::dns::zone::ZoneResolver;
/// use sender_auth::spf::{check_mail_from, received_spf, SpfConfig};
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// let mut zone = ZoneResolver::new();
/// zone.add_txt("example.com", ["v=spf1 ip4:192.0.2.1 -all"]);
/// let out = check_mail_from(&zone, "192.0.2.1".parse().unwrap(), "myname@example.com",
///                           "foo.example.com", &SpfConfig::default()).await;
/// assert_eq!(
///     received_spf(&out, "mybox.example.org"),
///     "Received-SPF: pass (mybox.example.org: domain of myname@example.com designates \
///      192.0.2.1 as permitted sender)\r\n\treceiver=mybox.example.org; client-ip=192.0.2.1; \
///      envelope-from=\"myname@example.com\"; helo=foo.example.com; identity=mailfrom; \
///      mechanism=\"ip4:192.0.2.1\""
/// );
/// # });
/// ```
pub fn received_spf(output: &SpfOutput, receiver: &str) -> String {
    let ip = crate::dns::canonical_ip(output.ip);
    let who = match output.identity {
        Identity::MailFrom => output.sender(),
        Identity::Helo => output.helo(),
    };
    let text = match output.result {
        SpfResult::Pass => {
            format!("{receiver}: domain of {who} designates {ip} as permitted sender")
        }
        SpfResult::Fail => {
            format!("{receiver}: domain of {who} does not designate {ip} as permitted sender")
        }
        SpfResult::SoftFail => format!(
            "{receiver}: transitioning domain of {who} does not designate {ip} as permitted sender"
        ),
        SpfResult::Neutral => {
            format!("{receiver}: {ip} is neither permitted nor denied by domain of {who}")
        }
        SpfResult::None => {
            format!("{receiver}: domain of {who} does not designate permitted sender hosts")
        }
        SpfResult::TempError => {
            format!("{receiver}: temporary error in processing during lookup of {who}")
        }
        SpfResult::PermError => {
            format!("{receiver}: permanent error in processing domain of {who}")
        }
    };
    let mut pairs = vec![
        format!("receiver={}", kv_value(receiver)),
        format!("client-ip={}", kv_value(&ip.to_string())),
    ];
    if output.identity == Identity::MailFrom {
        // envelope-from is always quoted: local-parts may need it anyway.
        let mut ef = kv_value(output.sender());
        if !ef.starts_with('"') {
            ef = format!("\"{ef}\"");
        }
        pairs.push(format!("envelope-from={ef}"));
    }
    pairs.push(format!("helo={}", kv_value(output.helo())));
    pairs.push(format!("identity={}", output.identity.as_str()));
    if let Some(m) = output.mechanism() {
        let mut v = kv_value(m);
        if !v.starts_with('"') {
            v = format!("\"{v}\"");
        }
        pairs.push(format!("mechanism={v}"));
    }
    if matches!(output.result, SpfResult::TempError | SpfResult::PermError) {
        pairs.push(format!("problem={}", kv_value(&output.reason())));
    }
    format!(
        "Received-SPF: {} ({})\r\n\t{}",
        output.result,
        comment(&text),
        pairs.join("; ")
    )
}

/// The `spf` result for an `Authentication-Results` header field (RFC 8601
/// §2.7.2): `spf=<result>` with `smtp.mailfrom=<sender>` for
/// [`Identity::MailFrom`] or `smtp.helo=<helo>` for [`Identity::Helo`]
/// (normally `output.identity`), and for `temperror`/`permerror` a
/// `reason`.
///
/// ```
/// use sender_auth::authres::AuthenticationResults;
/// use sender_auth::dns::zone::ZoneResolver;
/// use sender_auth::spf::{check_helo, resinfo, Identity, SpfConfig};
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// let mut zone = ZoneResolver::new();
/// zone.add_txt("mx.example.com", ["v=spf1 a -all"]).add_a("mx.example.com", "192.0.2.9".parse().unwrap());
/// let out = check_helo(&zone, "192.0.2.9".parse().unwrap(), "mx.example.com", &SpfConfig::default()).await;
/// let mut ar = AuthenticationResults::new("mx.example.net");
/// ar.push(resinfo(&out, Identity::Helo));
/// assert_eq!(ar.value(), "mx.example.net; spf=pass smtp.helo=mx.example.com");
/// # });
/// ```
pub fn resinfo(output: &SpfOutput, identity: Identity) -> ResInfo {
    let mut r = ResInfo::new("spf", output.result.as_str());
    if matches!(output.result, SpfResult::TempError | SpfResult::PermError) {
        r = r.reason(clip(&output.reason()));
    }
    match identity {
        Identity::MailFrom => r.property("smtp", "mailfrom", output.sender().to_string()),
        Identity::Helo => r.property("smtp", "helo", output.helo().to_string()),
    }
}
