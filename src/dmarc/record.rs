//! DMARC policy record parser (RFC 9989 §4.7 "DMARC Policy Record Format"
//! and §4.8 "Formal Definition"; RFC 7489 §6.3–§6.4). Pure.
//!
//! A record is a tag-list (the RFC 6376 §3.2 syntax) whose first tag is
//! `v=DMARC1`. Unlike DKIM, both DMARC RFCs are lenient about the rest:
//! unknown tags MUST be ignored, and syntax errors in the remainder are
//! discarded in favour of defaults (SHOULD in RFC 7489 §6.3, MUST in
//! RFC 9989 §4.8). So this parser never rejects a record for a bad tag: it
//! records each problem in [`DmarcRecord::problems`] and leaves the field
//! at its default. Whether a problem makes the record unusable depends on
//! the mode and is decided by the evaluator (RFC 7489 §6.6.3 step 6: a
//! missing or invalid `p`, or an invalid `sp`; RFC 9989 §4.10.1 "DMARC
//! Policy Discovery": an invalid `p`, `sp` or `np`): such a record means
//! "act as `p=none`" when a valid `rua` URI exists, and no policy
//! otherwise.
//!
//! Tag names and keyword values compare case-insensitively (they are ABNF
//! quoted strings, RFC 5234 §2.3); the version value `DMARC1` is
//! case-sensitive (RFC 7489 §6.4 spells it with `%x` codes, RFC 9989 §4.8
//! with `%s`).
//!
//! ```
//! use sender_auth::dmarc::record::{parse, Alignment};
//! use sender_auth::dmarc::Policy;
//! let r = parse(b"v=DMARC1; p=reject; adkim=s; rua=mailto:agg@example.com; x=unknown").unwrap();
//! assert_eq!(r.p, Some(Policy::Reject));
//! assert_eq!(r.adkim, Alignment::Strict);
//! assert_eq!(r.rua, ["mailto:agg@example.com"]);
//! assert!(r.problems.is_empty());
//! let r = parse(b"v=DMARC1; p=bogus").unwrap();
//! assert!(r.is_invalid("p"));
//! assert!(parse(b"v=spf1 -all").is_err());
//! ```

use std::fmt;

use super::Policy;

/// Identifier alignment mode (`adkim`, `aspf`; RFC 9989 §4.4 and §4.7,
/// RFC 7489 §3.1). Default relaxed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Alignment {
    /// `r`: the Organizational Domains must match.
    #[default]
    Relaxed,
    /// `s`: the domains must be identical.
    Strict,
}

impl Alignment {
    /// `"relaxed"` or `"strict"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Alignment::Relaxed => "relaxed",
            Alignment::Strict => "strict",
        }
    }
}

/// The `psd` tag (RFC 9989 §4.7; used by §4.10 and §4.10.2): whether the
/// record's domain is a Public Suffix Domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Psd {
    /// `psd=y`: a Public Suffix Domain; the Organizational Domain is one
    /// label below it.
    Yes,
    /// `psd=n`: this domain is an Organizational Domain; the tree walk stops.
    No,
    /// `psd=u` or absent: unknown; the tree walk continues.
    #[default]
    Unknown,
}

/// A parsed DMARC record. Fields that were absent or invalid hold their
/// default; [`problems`](Self::problems) lists every invalid tag.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DmarcRecord {
    /// `p`: policy for the domain itself.
    pub p: Option<Policy>,
    /// `sp`: policy for existing subdomains.
    pub sp: Option<Policy>,
    /// `np`: policy for non-existent subdomains (RFC 9989; RFC 9091).
    pub np: Option<Policy>,
    /// `adkim`: DKIM alignment mode.
    pub adkim: Alignment,
    /// `aspf`: SPF alignment mode.
    pub aspf: Alignment,
    /// `pct` (RFC 7489 only; removed by RFC 9989, Appendices A.6 and
    /// C.5.2, "historic" in its §9.3): percentage of failing
    /// messages the policy applies to.
    pub pct: Option<u8>,
    /// `t=y` (RFC 9989): the domain owner is testing its policy.
    pub testing: bool,
    /// `psd` (RFC 9989).
    pub psd: Psd,
    /// `rua`: aggregate report URIs (syntactically valid ones, as written).
    pub rua: Vec<String>,
    /// `ruf`: failure report URIs (syntactically valid ones, as written).
    pub ruf: Vec<String>,
    /// `fo`: failure reporting options (`0`, `1`, `d`, `s`).
    pub fo: Vec<String>,
    /// `rf` (RFC 7489; removed by RFC 9989, Appendix C.5.2): failure
    /// report formats (`afrf`).
    pub rf: Vec<String>,
    /// `ri` (RFC 7489; removed by RFC 9989, Appendix C.5.2): aggregate
    /// report interval in seconds.
    pub ri: Option<u32>,
    /// Every tag that was malformed or had an invalid value, in order.
    pub problems: Vec<TagProblem>,
}

impl DmarcRecord {
    /// True when tag `name` (lower-case) was present with an invalid value.
    pub fn is_invalid(&self, name: &str) -> bool {
        self.problems.iter().any(|p| p.tag == name)
    }
}

/// One malformed tag of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagProblem {
    /// The tag name, lower-cased (empty when the tag-spec had no `=`).
    pub tag: String,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for TagProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.tag.is_empty() {
            f.write_str(&self.reason)
        } else {
            write!(f, "{}=: {}", self.tag, self.reason)
        }
    }
}

/// Why a TXT record is not a DMARC record at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordError {
    /// The record is empty.
    Empty,
    /// The first tag is not `v=DMARC1` (RFC 7489 §6.3, RFC 9989 §4.7: such
    /// records are discarded).
    NotDmarc,
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RecordError::Empty => "empty record",
            RecordError::NotDmarc => "record does not start with v=DMARC1",
        })
    }
}

impl std::error::Error for RecordError {}

fn is_fws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if !is_fws(*first) {
            break;
        }
        s = rest;
    }
    while let [rest @ .., last] = s {
        if !is_fws(*last) {
            break;
        }
        s = rest;
    }
    s
}

/// Splits a tag-spec at its first `=`: (trimmed name, trimmed value).
fn split_tag(spec: &[u8]) -> Option<(&[u8], &[u8])> {
    let eq = spec.iter().position(|&b| b == b'=')?;
    Some((trim(&spec[..eq]), trim(&spec[eq + 1..])))
}

/// True when `txt` starts with the tag `v=DMARC1` (RFC 9989 §4.7, `v`;
/// §4.10 steps 2 and 6: other records at `_dmarc` names are discarded
/// before counting).
pub fn is_dmarc(txt: &[u8]) -> bool {
    let first = txt.split(|&b| b == b';').next().unwrap_or(b"");
    matches!(split_tag(trim(first)), Some((n, v)) if n.eq_ignore_ascii_case(b"v") && v == b"DMARC1")
}

/// The tags this parser interprets (RFC 9989 and RFC 7489).
const KNOWN: &[&str] = &[
    "v", "p", "sp", "np", "adkim", "aspf", "pct", "t", "psd", "rua", "ruf", "fo", "rf", "ri",
];

fn policy(v: &str) -> Option<Policy> {
    match v.to_ascii_lowercase().as_str() {
        "none" => Some(Policy::None),
        "quarantine" => Some(Policy::Quarantine),
        "reject" => Some(Policy::Reject),
        _ => None,
    }
}

/// RFC 3986 URI, loosely: `scheme ":" 1*char`, no whitespace or controls,
/// optionally followed by the RFC 7489 `!size` suffix.
fn valid_uri(u: &str) -> bool {
    let Some((scheme, rest)) = u.split_once(':') else {
        return false;
    };
    let mut sc = scheme.bytes();
    sc.next().is_some_and(|b| b.is_ascii_alphabetic())
        && sc.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        && !rest.is_empty()
        && u.bytes().all(|b| b.is_ascii_graphic())
}

fn digits(v: &str, max_len: usize) -> Option<u64> {
    if v.is_empty() || v.len() > max_len || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

/// Parses a DMARC record (the TXT RR's character-strings concatenated).
/// Fails only when the text is not a DMARC record; bad tags are recorded
/// in [`DmarcRecord::problems`].
pub fn parse(txt: &[u8]) -> Result<DmarcRecord, RecordError> {
    if trim(txt).is_empty() {
        return Err(RecordError::Empty);
    }
    if !is_dmarc(txt) {
        return Err(RecordError::NotDmarc);
    }
    let mut rec = DmarcRecord::default();
    let mut seen: Vec<String> = vec!["v".into()];
    for spec in txt.split(|&b| b == b';').skip(1) {
        let spec = trim(spec);
        if spec.is_empty() {
            continue;
        }
        let problem = |tag: &str, reason: &str| TagProblem {
            tag: tag.into(),
            reason: reason.into(),
        };
        let Some((name, value)) = split_tag(spec) else {
            rec.problems.push(problem("", "tag without '='"));
            continue;
        };
        let valid_name = name.first().is_some_and(u8::is_ascii_alphabetic)
            && name.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid_name {
            rec.problems.push(problem("", "invalid tag name"));
            continue;
        }
        let name = String::from_utf8_lossy(name).to_ascii_lowercase();
        // Only known tags are tracked (a fixed set), so a record made of
        // thousands of unknown tags costs linear time.
        let known = KNOWN.contains(&name.as_str());
        if known && seen.contains(&name) {
            // The first value stays in the record, but the tag counts as
            // invalid (`is_invalid`): for `p`, `sp` and `np` an ambiguous
            // policy is treated as an invalid one (§4.10.1), fail-closed.
            rec.problems.push(problem(
                &name,
                "duplicate tag (first value kept, tag treated as invalid)",
            ));
            continue;
        }
        if known {
            seen.push(name.clone());
        }
        let Ok(value) = std::str::from_utf8(value) else {
            rec.problems.push(problem(&name, "value is not UTF-8"));
            continue;
        };
        let lower = value.to_ascii_lowercase();
        let ok = match name.as_str() {
            "p" => {
                rec.p = policy(value);
                rec.p.is_some()
            }
            "sp" => {
                rec.sp = policy(value);
                rec.sp.is_some()
            }
            "np" => {
                rec.np = policy(value);
                rec.np.is_some()
            }
            "adkim" | "aspf" => {
                let a = match lower.as_str() {
                    "r" => Some(Alignment::Relaxed),
                    "s" => Some(Alignment::Strict),
                    _ => None,
                };
                if let Some(a) = a {
                    if name == "adkim" {
                        rec.adkim = a;
                    } else {
                        rec.aspf = a;
                    }
                }
                a.is_some()
            }
            "pct" => {
                rec.pct = digits(value, 3)
                    .filter(|&n| n <= 100)
                    .and_then(|n| u8::try_from(n).ok());
                rec.pct.is_some()
            }
            "t" => match lower.as_str() {
                "y" => {
                    rec.testing = true;
                    true
                }
                "n" => true,
                _ => false,
            },
            "psd" => {
                let p = match lower.as_str() {
                    "y" => Some(Psd::Yes),
                    "n" => Some(Psd::No),
                    "u" => Some(Psd::Unknown),
                    _ => None,
                };
                rec.psd = p.unwrap_or_default();
                p.is_some()
            }
            "rua" | "ruf" => {
                let mut all_ok = true;
                let mut uris = Vec::new();
                for u in value
                    .split(',')
                    .map(|u| u.trim_matches(|c: char| c.is_ascii_whitespace()))
                {
                    if valid_uri(u) {
                        uris.push(u.to_string());
                    } else {
                        all_ok = false;
                    }
                }
                if name == "rua" {
                    rec.rua = uris;
                } else {
                    rec.ruf = uris;
                }
                all_ok
            }
            "fo" => {
                let opts: Vec<String> = lower.split(':').map(|o| o.trim().to_string()).collect();
                let ok = opts
                    .iter()
                    .all(|o| matches!(o.as_str(), "0" | "1" | "d" | "s"));
                if ok {
                    rec.fo = opts;
                }
                ok
            }
            "rf" => {
                let fmts: Vec<String> = lower.split(':').map(|o| o.trim().to_string()).collect();
                let ok = fmts.iter().all(|o| o == "afrf");
                if ok {
                    rec.rf = fmts;
                }
                ok
            }
            "ri" => {
                rec.ri = digits(value, 10).and_then(|n| u32::try_from(n).ok());
                rec.ri.is_some()
            }
            // Unknown tags MUST be ignored (RFC 9989 §4.7 and §4.8, RFC 7489
            // §6.3).
            _ => true,
        };
        if !ok {
            let shown: String = value.chars().take(64).collect();
            rec.problems
                .push(problem(&name, &format!("invalid value {shown:?}")));
        }
    }
    Ok(rec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_rules() {
        assert_eq!(parse(b""), Err(RecordError::Empty));
        assert_eq!(parse(b"  "), Err(RecordError::Empty));
        assert_eq!(parse(b"V=BOB"), Err(RecordError::NotDmarc));
        assert_eq!(parse(b"p=none; v=DMARC1"), Err(RecordError::NotDmarc));
        assert_eq!(parse(b"v=dmarc1; p=none"), Err(RecordError::NotDmarc));
        assert!(parse(b"V = DMARC1 ;p=none").is_ok());
        assert!(is_dmarc(b"v=DMARC1"));
        assert!(!is_dmarc(b"v=DMARC10"));
    }

    #[test]
    fn lenient_tags() {
        let r = parse(b"v=DMARC1; p=REJECT; garbage; 9x=1; p=none; pct=101; sp=quarantine; np=none; psd=n; t=y; fo=1:d; rf=afrf; ri=3600; rua=mailto:a@x.example,bad uri").unwrap();
        assert_eq!(r.p, Some(Policy::Reject));
        assert_eq!(r.sp, Some(Policy::Quarantine));
        assert_eq!(r.np, Some(Policy::None));
        assert_eq!(r.psd, Psd::No);
        assert!(r.testing);
        assert_eq!(r.pct, None);
        assert_eq!(r.fo, ["1", "d"]);
        assert_eq!(r.ri, Some(3600));
        assert_eq!(r.rua, ["mailto:a@x.example"]);
        let tags: Vec<&str> = r.problems.iter().map(|p| p.tag.as_str()).collect();
        assert_eq!(tags, ["", "", "p", "pct", "rua"]);
    }

    #[test]
    fn many_unknown_tags_are_linear() {
        let mut txt = b"v=DMARC1; p=none".to_vec();
        for i in 0..20_000 {
            txt.extend_from_slice(format!("; x{i}=1").as_bytes());
        }
        let r = parse(&txt).unwrap();
        assert!(r.problems.is_empty());
        assert_eq!(r.p, Some(Policy::None));
    }
}
