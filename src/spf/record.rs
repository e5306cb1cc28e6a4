//! Pure SPF record parser (RFC 7208 §4.5, §4.6, §5, §6, §7.1).
//!
//! [`Record::parse`] takes the record's bytes (the TXT character-strings
//! already concatenated, §3.3) and returns a typed [`Record`] or a
//! [`ParseError`] saying what is wrong and at which byte offset. It never
//! does I/O and never panics, so parsed records can be cached and the parser
//! can be fuzzed.
//!
//! The whole record is checked before evaluation (§4.6: "syntax errors
//! anywhere in the record" make it a permerror).
//!
//! ```
//! use sender_auth::spf::record::{Mechanism, Qualifier, Record};
//! let r = Record::parse(b"v=spf1 ip4:192.0.2.0/24 a/28//64 include:_spf.example.net ~all").unwrap();
//! assert_eq!(r.directives.len(), 4);
//! assert_eq!(r.directives[3].qualifier, Qualifier::SoftFail);
//! assert!(matches!(r.directives[0].mechanism, Mechanism::Ip4 { .. }));
//!
//! let e = Record::parse(b"v=spf1 a:example.com ip4:192.0.2.1/33").unwrap_err();
//! assert_eq!(e.offset, 35);
//! ```

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};

use std::sync::Arc;

pub use super::macros::SharedStr;
use super::macros::{MacroContext, MacroError, MacroErrorKind, MacroString};

/// A mechanism's qualifier (§4.6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Qualifier {
    /// `+` (the default): pass.
    Pass,
    /// `-`: fail.
    Fail,
    /// `~`: softfail.
    SoftFail,
    /// `?`: neutral.
    Neutral,
}

impl Qualifier {
    /// The qualifier character.
    pub fn as_char(self) -> char {
        match self {
            Qualifier::Pass => '+',
            Qualifier::Fail => '-',
            Qualifier::SoftFail => '~',
            Qualifier::Neutral => '?',
        }
    }
}

/// CIDR prefix lengths of `a` and `mx` (`dual-cidr-length`, §5.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DualCidr {
    /// IPv4 prefix length (default 32).
    pub v4: u8,
    /// IPv6 prefix length (default 128).
    pub v6: u8,
}

impl Default for DualCidr {
    fn default() -> Self {
        DualCidr { v4: 32, v6: 128 }
    }
}

/// A mechanism (§5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mechanism {
    /// `all`: always matches.
    All,
    /// `include:<domain-spec>`.
    Include {
        /// The target domain-spec.
        domain: MacroString,
    },
    /// `a[:<domain-spec>][dual-cidr]`.
    A {
        /// The target, or `None` for `<domain>`.
        domain: Option<MacroString>,
        /// Prefix lengths.
        cidr: DualCidr,
    },
    /// `mx[:<domain-spec>][dual-cidr]`.
    Mx {
        /// The target, or `None` for `<domain>`.
        domain: Option<MacroString>,
        /// Prefix lengths.
        cidr: DualCidr,
    },
    /// `ptr[:<domain-spec>]` (discouraged by §5.5).
    Ptr {
        /// The target, or `None` for `<domain>`.
        domain: Option<MacroString>,
    },
    /// `ip4:<network>[/<len>]`.
    Ip4 {
        /// The network.
        net: Ipv4Net,
    },
    /// `ip6:<network>[/<len>]`.
    Ip6 {
        /// The network.
        net: Ipv6Net,
    },
    /// `exists:<domain-spec>`.
    Exists {
        /// The target domain-spec.
        domain: MacroString,
    },
}

impl Mechanism {
    /// True for the mechanisms that query DNS and count against the limit of
    /// §4.6.4 (`include`, `a`, `mx`, `ptr`, `exists`).
    pub fn queries_dns(&self) -> bool {
        matches!(
            self,
            Mechanism::Include { .. }
                | Mechanism::A { .. }
                | Mechanism::Mx { .. }
                | Mechanism::Ptr { .. }
                | Mechanism::Exists { .. }
        )
    }
}

/// One directive: qualifier and mechanism, with the text as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    /// The qualifier (`+` when omitted).
    pub qualifier: Qualifier,
    /// The mechanism.
    pub mechanism: Mechanism,
    /// The term as written in the record (a piece of the record's text,
    /// shared with the record's other terms).
    pub text: SharedStr,
    /// Byte offset of the term in the record.
    pub offset: usize,
}

/// A modifier that is neither `redirect` nor `exp` (§6: ignored, but its
/// macro syntax is checked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownModifier {
    /// The name as written.
    pub name: String,
    /// The value.
    pub value: MacroString,
}

/// A parsed SPF record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The directives, in order.
    pub directives: Vec<Directive>,
    /// `redirect=` target (§6.1).
    pub redirect: Option<MacroString>,
    /// `exp=` target (§6.2).
    pub exp: Option<MacroString>,
    /// Other modifiers, in order.
    pub unknown_modifiers: Vec<UnknownModifier>,
}

/// What is wrong with a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseErrorKind {
    /// The record does not start with `v=spf1` followed by a space or the end.
    NotSpf,
    /// A byte other than a visible ASCII character inside a term
    /// (control characters, non-ASCII; terms are separated by spaces only).
    InvalidCharacter(u8),
    /// A mechanism name that RFC 7208 does not define.
    UnknownMechanism(String),
    /// A mechanism that needs `:<domain-spec>` has none, or it is empty.
    MissingDomain,
    /// Text after a mechanism that takes no (or no such) argument.
    UnexpectedArgument(String),
    /// A CIDR length out of range, with a leading zero, or malformed.
    InvalidCidr(String),
    /// An `ip4:` network that is not a dotted quad.
    InvalidIp4(String),
    /// An `ip6:` network that is not an IPv6 address.
    InvalidIp6(String),
    /// A domain-spec that does not end in a macro or `.toplabel` (§7.1).
    InvalidDomainEnd(String),
    /// A macro syntax error.
    Macro(MacroErrorKind),
    /// A modifier name that does not start with a letter or has invalid
    /// characters (§A: `name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )`).
    InvalidModifierName(String),
    /// A qualifier in front of a modifier.
    QualifiedModifier,
    /// `redirect=` or `exp=` appears more than once (§6).
    DuplicateModifier(String),
}

/// A record syntax error: what and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// What is wrong.
    pub kind: ParseErrorKind,
    /// Byte offset in the record where the problem was found.
    pub offset: usize,
    /// The offending term as written (lossy UTF-8), empty for record-level
    /// errors.
    pub term: String,
}

impl fmt::Display for ParseErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseErrorKind::NotSpf => f.write_str("not an SPF record (no \"v=spf1\" version)"),
            ParseErrorKind::InvalidCharacter(b) => write!(
                f,
                "invalid character 0x{b:02x} (terms are separated by spaces and must be visible ASCII)"
            ),
            ParseErrorKind::UnknownMechanism(m) => write!(f, "unknown mechanism {m:?}"),
            ParseErrorKind::MissingDomain => f.write_str("missing or empty domain-spec"),
            ParseErrorKind::UnexpectedArgument(a) => write!(f, "unexpected argument {a:?}"),
            ParseErrorKind::InvalidCidr(c) => write!(f, "invalid CIDR length {c:?}"),
            ParseErrorKind::InvalidIp4(a) => write!(f, "invalid IPv4 network {a:?}"),
            ParseErrorKind::InvalidIp6(a) => write!(f, "invalid IPv6 network {a:?}"),
            ParseErrorKind::InvalidDomainEnd(d) => write!(
                f,
                "domain-spec {d:?} must end in a macro or a valid top-level label (RFC 7208 §7.1)"
            ),
            ParseErrorKind::Macro(m) => write!(f, "{m}"),
            ParseErrorKind::InvalidModifierName(n) => write!(f, "invalid modifier name {n:?}"),
            ParseErrorKind::QualifiedModifier => f.write_str("a modifier cannot have a qualifier"),
            ParseErrorKind::DuplicateModifier(n) => {
                write!(f, "modifier {n:?} appears more than once (RFC 7208 §6)")
            }
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.term.is_empty() {
            write!(f, "{} at offset {}", self.kind, self.offset)
        } else {
            write!(
                f,
                "{} in term {:?} at offset {}",
                self.kind, self.term, self.offset
            )
        }
    }
}

impl std::error::Error for ParseError {}

/// True when `text` is an SPF version 1 record: it starts with `v=spf1`
/// (ASCII case-insensitive) followed by a space or the end (§4.5).
///
/// ```
/// use sender_auth::spf::record::is_spf_record;
/// assert!(is_spf_record(b"v=spf1 -all"));
/// assert!(is_spf_record(b"V=SPF1"));
/// assert!(!is_spf_record(b"v=spf10"));
/// assert!(!is_spf_record(b"v=spf1mx"));
/// ```
pub fn is_spf_record(text: &[u8]) -> bool {
    text.len() >= 6
        && text[..6].eq_ignore_ascii_case(b"v=spf1")
        && (text.len() == 6 || text[6] == b' ')
}

impl Record {
    /// Parses a whole record (`v=spf1 ...`).
    pub fn parse(text: &[u8]) -> Result<Record, ParseError> {
        if !is_spf_record(text) {
            return Err(ParseError {
                kind: ParseErrorKind::NotSpf,
                offset: 0,
                term: String::new(),
            });
        }
        // At most one directive per space-separated term: one allocation.
        let terms = text[6..].iter().filter(|&&b| b == b' ').count();
        let mut record = Record {
            directives: Vec::with_capacity(terms.min(64)),
            redirect: None,
            exp: None,
            unknown_modifiers: Vec::new(),
        };
        // Visible ASCII and spaces only (every valid record): valid UTF-8,
        // kept in one shared copy that the terms and targets point into.
        // Otherwise some term holds an invalid byte and parsing fails
        // below, at the first term in error.
        let src: Option<Arc<str>> = if text
            .iter()
            .fold(true, |a, &b| a & (0x20..=0x7e).contains(&b))
        {
            std::str::from_utf8(text).ok().map(Arc::from)
        } else {
            None
        };
        let mut pos = 6;
        while pos < text.len() {
            if text[pos] == b' ' {
                pos += 1;
                continue;
            }
            let end = text[pos..]
                .iter()
                .position(|&b| b == b' ')
                .map_or(text.len(), |n| pos + n);
            let raw = &text[pos..end];
            let term_text = || String::from_utf8_lossy(raw).into_owned();
            let term = match &src {
                Some(src) => src.get(pos..end).unwrap_or_default(),
                None => {
                    if let Some(bad) = raw.iter().position(|&b| !(0x21..=0x7e).contains(&b)) {
                        return Err(ParseError {
                            kind: ParseErrorKind::InvalidCharacter(raw[bad]),
                            offset: pos + bad,
                            term: term_text(),
                        });
                    }
                    // All bytes are visible ASCII, so this is valid UTF-8.
                    std::str::from_utf8(raw).unwrap_or_default()
                }
            };
            parse_term(term, pos, src.as_ref(), &mut record).map_err(|(kind, at)| ParseError {
                kind,
                offset: pos + at,
                term: term_text(),
            })?;
            pos = end;
        }
        Ok(record)
    }

    /// Number of terms that query DNS (§4.6.4): DNS-querying mechanisms
    /// plus `redirect`.
    pub fn dns_terms(&self) -> usize {
        self.directives
            .iter()
            .filter(|d| d.mechanism.queries_dns())
            .count()
            + usize::from(self.redirect.is_some())
    }
}

type TermError = (ParseErrorKind, usize);

/// A mechanism name (§5).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Name {
    All,
    Include,
    Exists,
    A,
    Mx,
    Ptr,
    Ip4,
    Ip6,
    Unknown,
}

/// The mechanism called `raw` (ASCII case-insensitive), without
/// allocating: lower-cased into a small buffer and matched at once.
fn mechanism_name(raw: &str) -> Name {
    let b = raw.as_bytes();
    let mut buf = [0u8; 7];
    if b.len() > buf.len() {
        return Name::Unknown;
    }
    for (d, s) in buf.iter_mut().zip(b) {
        *d = s.to_ascii_lowercase();
    }
    match buf.get(..b.len()).unwrap_or_default() {
        b"all" => Name::All,
        b"include" => Name::Include,
        b"exists" => Name::Exists,
        b"a" => Name::A,
        b"mx" => Name::Mx,
        b"ptr" => Name::Ptr,
        b"ip4" => Name::Ip4,
        b"ip6" => Name::Ip6,
        _ => Name::Unknown,
    }
}

fn macro_err(e: MacroError, base: usize) -> TermError {
    (ParseErrorKind::Macro(e.kind), base + e.offset)
}

/// `src`: the record's shared text, of which `term` is a piece (`None`
/// only while parsing a record that turns out invalid).
fn parse_term(
    term: &str,
    pos: usize,
    src: Option<&Arc<str>>,
    record: &mut Record,
) -> Result<(), TermError> {
    let bytes = term.as_bytes();
    let (qualifier, qlen) = match bytes.first() {
        Some(b'+') => (Some(Qualifier::Pass), 1),
        Some(b'-') => (Some(Qualifier::Fail), 1),
        Some(b'~') => (Some(Qualifier::SoftFail), 1),
        Some(b'?') => (Some(Qualifier::Neutral), 1),
        _ => (None, 0),
    };
    let body = &term[qlen..];
    // A mechanism's name is alphanumeric; a modifier's may go on with
    // `-`, `_`, `.` (§12: name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )).
    let mech_len = body
        .bytes()
        .position(|b| !b.is_ascii_alphanumeric())
        .unwrap_or(body.len());
    let name_len = match body.as_bytes().get(mech_len) {
        Some(b'-' | b'_' | b'.') => body[mech_len..]
            .bytes()
            .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')))
            .map_or(body.len(), |n| mech_len + n),
        _ => mech_len,
    };
    if body.as_bytes().get(name_len) == Some(&b'=') {
        if qualifier.is_some() {
            return Err((ParseErrorKind::QualifiedModifier, 0));
        }
        return parse_modifier(
            &body[..name_len],
            &body[name_len + 1..],
            name_len + 1,
            src,
            record,
        );
    }
    let raw_name = &body[..mech_len];
    let name = mechanism_name(raw_name);
    let rest = &body[mech_len..];
    let rest_at = qlen + mech_len;
    let mechanism = match name {
        Name::All => {
            if !rest.is_empty() {
                return Err((ParseErrorKind::UnexpectedArgument(rest.into()), rest_at));
            }
            Mechanism::All
        }
        Name::Include | Name::Exists => {
            let domain = required_domain(rest, rest_at, src)?;
            if name == Name::Include {
                Mechanism::Include { domain }
            } else {
                Mechanism::Exists { domain }
            }
        }
        Name::A | Name::Mx => {
            let (spec, cidr) = split_dual_cidr(rest, rest_at)?;
            let domain = optional_domain(spec, rest_at, src)?;
            if name == Name::A {
                Mechanism::A { domain, cidr }
            } else {
                Mechanism::Mx { domain, cidr }
            }
        }
        Name::Ptr => Mechanism::Ptr {
            domain: optional_domain(rest, rest_at, src)?,
        },
        Name::Ip4 => {
            let (addr, len) = split_network(rest, rest_at)?;
            let ip: Ipv4Addr = addr
                .parse()
                .map_err(|_| (ParseErrorKind::InvalidIp4(addr.into()), rest_at + 1))?;
            let len = match len {
                Some(l) => cidr_value(l, 32, rest_at + 2 + addr.len())?,
                None => 32,
            };
            let net = Ipv4Net::new(ip, len)
                .map_err(|_| (ParseErrorKind::InvalidCidr(len.to_string()), rest_at))?;
            Mechanism::Ip4 { net: net.trunc() }
        }
        Name::Ip6 => {
            let (addr, len) = split_network(rest, rest_at)?;
            let ip: Ipv6Addr = addr
                .parse()
                .map_err(|_| (ParseErrorKind::InvalidIp6(addr.into()), rest_at + 1))?;
            let len = match len {
                Some(l) => cidr_value(l, 128, rest_at + 2 + addr.len())?,
                None => 128,
            };
            let net = Ipv6Net::new(ip, len)
                .map_err(|_| (ParseErrorKind::InvalidCidr(len.to_string()), rest_at))?;
            Mechanism::Ip6 { net: net.trunc() }
        }
        Name::Unknown => {
            let shown = if raw_name.is_empty() {
                term.to_string()
            } else {
                body[..mech_len].to_string()
            };
            return Err((ParseErrorKind::UnknownMechanism(shown), qlen));
        }
    };
    record.directives.push(Directive {
        qualifier: qualifier.unwrap_or(Qualifier::Pass),
        mechanism,
        text: src
            .and_then(|s| SharedStr::within(s, term))
            .unwrap_or_else(|| SharedStr::new(term)),
        offset: pos,
    });
    Ok(())
}

fn parse_modifier(
    name: &str,
    value: &str,
    value_at: usize,
    src: Option<&Arc<str>>,
    record: &mut Record,
) -> Result<(), TermError> {
    let valid_name = name.bytes().next().is_some_and(|b| b.is_ascii_alphabetic());
    if !valid_name {
        return Err((ParseErrorKind::InvalidModifierName(name.into()), 0));
    }
    let is_redirect = name.eq_ignore_ascii_case("redirect");
    match is_redirect || name.eq_ignore_ascii_case("exp") {
        true => {
            let lower = name.to_ascii_lowercase();
            let slot = if is_redirect {
                &mut record.redirect
            } else {
                &mut record.exp
            };
            if slot.is_some() {
                return Err((ParseErrorKind::DuplicateModifier(lower), 0));
            }
            if value.is_empty() {
                return Err((ParseErrorKind::MissingDomain, value_at));
            }
            *slot = Some(domain_spec(value, value_at, src)?);
        }
        false => {
            let value = MacroString::parse(value, MacroContext::Modifier)
                .map_err(|e| macro_err(e, value_at))?;
            record.unknown_modifiers.push(UnknownModifier {
                name: name.to_string(),
                value,
            });
        }
    }
    Ok(())
}

/// `":" domain-spec`, required.
fn required_domain(
    rest: &str,
    at: usize,
    src: Option<&Arc<str>>,
) -> Result<MacroString, TermError> {
    match rest.strip_prefix(':') {
        None if rest.is_empty() => Err((ParseErrorKind::MissingDomain, at)),
        None => Err((ParseErrorKind::UnexpectedArgument(rest.into()), at)),
        Some("") => Err((ParseErrorKind::MissingDomain, at + 1)),
        Some(spec) => domain_spec(spec, at + 1, src),
    }
}

/// `[ ":" domain-spec ]`.
fn optional_domain(
    rest: &str,
    at: usize,
    src: Option<&Arc<str>>,
) -> Result<Option<MacroString>, TermError> {
    if rest.is_empty() {
        return Ok(None);
    }
    match rest.strip_prefix(':') {
        Some("") => Err((ParseErrorKind::MissingDomain, at + 1)),
        Some(spec) => domain_spec(spec, at + 1, src).map(Some),
        None => Err((ParseErrorKind::UnexpectedArgument(rest.into()), at)),
    }
}

/// `domain-spec = macro-string domain-end` (§7.1).
fn domain_spec(spec: &str, at: usize, src: Option<&Arc<str>>) -> Result<MacroString, TermError> {
    // The usual target, a plain name: every check in one pass.
    if let Some(src) = src
        && let Some(lit) = scan_literal_spec(spec.as_bytes())
    {
        if !lit.domain_end {
            return Err((ParseErrorKind::InvalidDomainEnd(spec.into()), at));
        }
        if let Some(ms) = MacroString::literal_within(src, spec, lit.usable) {
            return Ok(ms);
        }
    }
    domain_spec_general(spec, at)
}

/// What one pass over a domain-spec without `%` finds (see
/// [`scan_literal_spec`]).
struct LiteralSpec {
    /// It satisfies `domain-end` (§7.1): its last label (after one
    /// trailing dot is removed) is a `toplabel`.
    domain_end: bool,
    /// It is a usable domain (RFC 7208 §4.3) as `MacroString::literal_domain`
    /// gives it: what `usable_domain` accepts unchanged.
    usable: bool,
}

/// A domain-spec that is a plain literal (non-empty, octets 0x21–0x7E, no
/// `%`), checked in one pass for what [`domain_spec_general`] and the
/// usable-domain check would find; `None` for anything else (the general
/// path decides). `usable`: after one trailing dot is removed (as
/// `literal_domain` does), not starting with `[`, at least two labels, no
/// trailing dot left, every label 1–63 octets, at most 253 octets
/// (`dns::check_name`).
fn scan_literal_spec(spec: &[u8]) -> Option<LiteralSpec> {
    if spec.is_empty()
        || !spec
            .iter()
            .fold(true, |a, &b| a & (0x21..=0x7e).contains(&b) & (b != b'%'))
    {
        return None;
    }
    let t = spec.strip_suffix(b".").unwrap_or(spec);
    let (mut label, mut longest, mut empty_label, mut last_dot) = (0usize, 0usize, false, None);
    for (i, &b) in t.iter().enumerate() {
        if b == b'.' {
            empty_label |= label == 0;
            label = 0;
            last_dot = Some(i);
        } else {
            label += 1;
            longest = longest.max(label);
        }
    }
    empty_label |= label == 0;
    let domain_end = last_dot
        .and_then(|d| t.get(d + 1..))
        .is_some_and(is_toplabel_bytes);
    let usable = t.first().is_some_and(|&b| b != b'[')
        && last_dot.is_some()
        && !empty_label
        && longest <= 63
        && t.len() <= 253;
    Some(LiteralSpec { domain_end, usable })
}

/// [`domain_spec`] for any spec (macros included; a plain literal here
/// gets its own copy of the text).
fn domain_spec_general(spec: &str, at: usize) -> Result<MacroString, TermError> {
    let ms = MacroString::parse(spec, MacroContext::Domain).map_err(|e| macro_err(e, at))?;
    if ms.ends_with_expand() {
        return Ok(ms);
    }
    let trimmed = spec.strip_suffix('.').unwrap_or(spec);
    let ok = match trimmed.rsplit_once('.') {
        Some((_, top)) => is_toplabel(top),
        None => false,
    };
    if ok {
        Ok(ms)
    } else {
        Err((ParseErrorKind::InvalidDomainEnd(spec.into()), at))
    }
}

/// `toplabel = ( *alphanum ALPHA *alphanum ) /
///             ( 1*alphanum "-" *( alphanum / "-" ) alphanum )`.
fn is_toplabel(label: &str) -> bool {
    is_toplabel_bytes(label.as_bytes())
}

/// [`is_toplabel`] of octets.
fn is_toplabel_bytes(b: &[u8]) -> bool {
    let (Some(first), Some(last)) = (b.first(), b.last()) else {
        return false;
    };
    if !b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-') {
        return false;
    }
    if b.contains(&b'-') {
        first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric()
    } else {
        b.iter().any(u8::is_ascii_alphabetic)
    }
}

/// Splits a trailing `[ "/" ip4-len ] [ "//" ip6-len ]` off `rest`.
fn split_dual_cidr(rest: &str, at: usize) -> Result<(&str, DualCidr), TermError> {
    let mut cidr = DualCidr::default();
    let mut s = rest;
    if let Some((before, digits)) = trailing_len(s)
        && before.ends_with("//")
    {
        cidr.v6 = cidr_value(digits, 128, at + before.len())?;
        s = &before[..before.len() - 2];
    }
    if let Some((before, digits)) = trailing_len(s)
        && before.ends_with('/')
        && !before.ends_with("//")
    {
        cidr.v4 = cidr_value(digits, 32, at + before.len())?;
        s = &before[..before.len() - 1];
    }
    Ok((s, cidr))
}

/// If `s` ends with `/` followed by digits, returns (`s` up to and including
/// the slash(es), the digits).
fn trailing_len(s: &str) -> Option<(&str, &str)> {
    let digits_start = s
        .bytes()
        .rposition(|b| !b.is_ascii_digit())
        .map_or(0, |p| p + 1);
    if digits_start == s.len() || digits_start == 0 || s.as_bytes()[digits_start - 1] != b'/' {
        return None;
    }
    Some((&s[..digits_start], &s[digits_start..]))
}

/// A CIDR length: 1*DIGIT, no leading zero, at most `max`.
fn cidr_value(digits: &str, max: u8, at: usize) -> Result<u8, TermError> {
    let bad = || (ParseErrorKind::InvalidCidr(digits.into()), at);
    if digits.is_empty()
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || (digits.len() > 1 && digits.starts_with('0'))
        || digits.len() > 3
    {
        return Err(bad());
    }
    let v: u16 = digits.parse().map_err(|_| bad())?;
    if v > u16::from(max) {
        return Err(bad());
    }
    u8::try_from(v).map_err(|_| bad())
}

/// `":" network [ "/" len ]` for ip4/ip6.
fn split_network(rest: &str, at: usize) -> Result<(&str, Option<&str>), TermError> {
    let Some(arg) = rest.strip_prefix(':') else {
        return Err(if rest.is_empty() {
            (ParseErrorKind::MissingDomain, at)
        } else {
            (ParseErrorKind::UnexpectedArgument(rest.into()), at)
        });
    };
    Ok(match arg.split_once('/') {
        Some((addr, len)) => (addr, Some(len)),
        None => (arg, None),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(s: &str) -> ParseError {
        Record::parse(s.as_bytes()).unwrap_err()
    }

    #[test]
    fn parses_every_mechanism() {
        let r = Record::parse(
            b"v=spf1 +all -include:a.example ~a ?a:b.example/24 a//64 a:c.example/16//48 mx mx:d.example//0 \
              ptr ptr:e.example ip4:192.0.2.0/24 ip6:2001:db8::/32 exists:%{i}.x.example redirect=f.example exp=g.example x-foo=bar",
        )
        .unwrap();
        assert_eq!(r.directives.len(), 13);
        assert_eq!(r.directives[1].qualifier, Qualifier::Fail);
        assert_eq!(
            r.directives[4].mechanism,
            Mechanism::A {
                domain: None,
                cidr: DualCidr { v4: 32, v6: 64 }
            }
        );
        match &r.directives[5].mechanism {
            Mechanism::A { domain, cidr } => {
                assert_eq!(domain.as_ref().unwrap().as_str(), "c.example");
                assert_eq!(*cidr, DualCidr { v4: 16, v6: 48 });
            }
            m => panic!("{m:?}"),
        }
        assert_eq!(r.redirect.as_ref().unwrap().as_str(), "f.example");
        assert_eq!(r.exp.as_ref().unwrap().as_str(), "g.example");
        assert_eq!(r.unknown_modifiers[0].name, "x-foo");
        assert_eq!(r.dns_terms(), 11);
    }

    #[test]
    fn version_and_spacing() {
        assert!(Record::parse(b"v=spf1").unwrap().directives.is_empty());
        assert!(Record::parse(b"V=SpF1   -all  ").is_ok());
        assert_eq!(err("v=spf10").kind, ParseErrorKind::NotSpf);
        assert_eq!(err("spf1 -all").kind, ParseErrorKind::NotSpf);
    }

    #[test]
    fn precise_errors() {
        use ParseErrorKind::*;
        let e = err("v=spf1 ip4:1.2.3.4 -all moo");
        assert_eq!(
            (e.kind, e.offset, e.term.as_str()),
            (UnknownMechanism("moo".into()), 24, "moo")
        );
        let e = err("v=spf1 a:ctrl.example.com\rptr -all");
        assert_eq!((e.kind, e.offset), (InvalidCharacter(b'\r'), 25));
        assert_eq!(
            Record::parse(b"v=spf1 \x80a:example.net").unwrap_err().kind,
            InvalidCharacter(0x80)
        );
        assert_eq!(err("v=spf1 -all.").kind, UnexpectedArgument(".".into()));
        assert_eq!(
            err("v=spf1 -all:foobar").kind,
            UnexpectedArgument(":foobar".into())
        );
        assert_eq!(err("v=spf1 -all/8").kind, UnexpectedArgument("/8".into()));
        assert_eq!(err("v=spf1 ptr/0").kind, UnexpectedArgument("/0".into()));
        assert_eq!(err("v=spf1 ptr:").kind, MissingDomain);
        assert_eq!(err("v=spf1 a:").kind, MissingDomain);
        assert_eq!(err("v=spf1 include").kind, MissingDomain);
        assert_eq!(err("v=spf1 exists").kind, MissingDomain);
        assert_eq!(err("v=spf1 a/33").kind, InvalidCidr("33".into()));
        assert_eq!(err("v=spf1 a//129").kind, InvalidCidr("129".into()));
        assert_eq!(err("v=spf1 a/24/64").kind, InvalidCidr("64".into()));
        assert_eq!(
            err("v=spf1 ip4:1.2.3.4/032").kind,
            InvalidCidr("032".into())
        );
        assert_eq!(
            err("v=spf1 ip4:1.2.3.4//32").kind,
            InvalidCidr("/32".into())
        );
        assert_eq!(err("v=spf1 ip4:1.2.3").kind, InvalidIp4("1.2.3".into()));
        assert_eq!(
            err("v=spf1 ip4:1.2.3.4:8080").kind,
            InvalidIp4("1.2.3.4:8080".into())
        );
        assert_eq!(
            err("v=spf1 ip6::CAFE::BABE").kind,
            InvalidIp6(":CAFE::BABE".into())
        );
        assert_eq!(err("v=spf1 ip6").kind, MissingDomain);
        assert!(matches!(err("v=spf1 a:foo-bar").kind, InvalidDomainEnd(_)));
        assert!(matches!(
            err("v=spf1 a:111.222.33.44").kind,
            InvalidDomainEnd(_)
        ));
        assert!(matches!(err("v=spf1 a:museum.").kind, InvalidDomainEnd(_)));
        assert!(matches!(
            err("v=spf1 a:example.-com").kind,
            InvalidDomainEnd(_)
        ));
        assert!(matches!(
            err("v=spf1 include:ip5.example.com/24").kind,
            InvalidDomainEnd(_)
        ));
        assert!(
            Record::parse(b"v=spf1 a:foo.example.xn--zckzah a:foo:bar/baz.example.com").is_ok()
        );
        assert_eq!(
            err("v=spf1 1up=foo").kind,
            InvalidModifierName("1up".into())
        );
        assert_eq!(err("v=spf1 =all").kind, InvalidModifierName("".into()));
        assert_eq!(err("v=spf1 -redirect=x.example").kind, QualifiedModifier);
        assert_eq!(
            err("v=spf1 exp=a.example exp=b.example").kind,
            DuplicateModifier("exp".into())
        );
        assert_eq!(err("v=spf1 exp= -all").kind, MissingDomain);
        assert_eq!(
            err("v=spf1 redirect:t2.example.com").kind,
            UnknownMechanism("redirect".into())
        );
        assert_eq!(
            err("v=spf1 moo.cow/far_out=man:dog/cat").kind,
            UnknownMechanism("moo".into())
        );
        assert!(Record::parse(b"v=spf1 moo.cow-far_out=man:dog/cat ip4:1.2.3.4 -all").is_ok());
        assert_eq!(
            err("v=spf1 -all foo=%abc").kind,
            Macro(MacroErrorKind::BadEscape)
        );
        assert_eq!(
            err("v=spf1 -all exp=%{r}.example.com").kind,
            Macro(MacroErrorKind::ExpOnlyLetter('r'))
        );
        let e = err("v=spf1 exists:%{x}.example.com");
        assert_eq!(e.offset, 16);
        assert!(e.to_string().contains("offset 16"));
    }

    #[test]
    fn never_panics_on_garbage() {
        for s in [
            "v=spf1 a:%",
            "v=spf1 a:%{",
            "v=spf1 a:%{}",
            "v=spf1 /",
            "v=spf1 a//",
            "v=spf1 a/",
            "v=spf1 ip4:/",
            "v=spf1 ip6:",
            "v=spf1 +",
            "v=spf1 -=",
            "v=spf1 a:x.y/99999999999999999",
            "v=spf1 mx//00",
            "v=spf1 a:é.com",
        ] {
            let _ = Record::parse(s.as_bytes());
        }
        let _ = Record::parse(&[b'v', b'=', b's', b'p', b'f', b'1', b' ', 0xff, 0xfe]);
    }

    /// The one-pass scan of a plain target gives what the general path
    /// gives: the same result or error, and the same usable-domain flag.
    #[test]
    fn literal_spec_scan_agrees_with_general_path() {
        let mut specs =
            crate::spf::all_strings(&["a", "Z", "1", "-", ".", "[", "%", "_", "\x7f", "{"], 5);
        for n in [62, 63, 64, 120, 250, 251, 252, 253, 254, 255] {
            let label = "a".repeat(n.min(63));
            specs.push(format!("{}.com", "a".repeat(n)));
            specs.push(format!("x.{}", "a".repeat(n)));
            specs.push(format!("x.{}.", "a".repeat(n)));
            let mut long = label.clone();
            while long.len() < n {
                long.push('.');
                long.push_str(&label);
            }
            specs.push(format!("{long}.com"));
            specs.push(format!("{long}.com."));
            specs.push(long);
        }
        let mut usable = 0;
        for spec in &specs {
            let src: Arc<str> = Arc::from(format!("a:{spec}").as_str());
            let piece = &src[2..];
            let fast = domain_spec(piece, 7, Some(&src));
            let general = domain_spec_general(piece, 7);
            assert_eq!(fast, general, "{spec:?}");
            if let (Ok(f), Ok(g)) = (&fast, &general) {
                assert_eq!(f.usable_literal(), g.usable_literal(), "{spec:?}");
                usable += usize::from(f.usable_literal().is_some());
            }
        }
        assert!(usable > 100, "{usable}");
    }
}
