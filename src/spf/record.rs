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

use crate::taglist::{HI, LO, below, word, zero_octets};

pub use super::macros::SharedStr;
use super::macros::Source;
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
    // The first eight octets as a word: the letters' case bit set (only
    // theirs: `|` 0x20 would also turn control characters into `=` or
    // `1`), compared with `v=spf1` and, if there is one, a space.
    const FOLD: u64 = u64::from_le_bytes([0x20, 0, 0x20, 0x20, 0x20, 0, 0, 0]);
    const SIX: u64 = (1 << 48) - 1;
    const SEVEN: u64 = (1 << 56) - 1;
    const WANT: u64 = u64::from_le_bytes(*b"v=spf1 \0");
    let w = word(text.get(..8).unwrap_or(text), 0) | FOLD;
    match text.len() {
        0..=5 => false,
        6 => w & SIX == WANT & SIX,
        _ => w & SEVEN == WANT & SEVEN,
    }
}

/// [`is_spf_record`] as it was: the tests' oracle.
#[cfg(test)]
fn is_spf_record_oracle(text: &[u8]) -> bool {
    text.len() >= 6
        && text[..6].eq_ignore_ascii_case(b"v=spf1")
        && (text.len() == 6 || text[6] == b' ')
}

impl Record {
    /// Parses a whole record (`v=spf1 ...`).
    pub fn parse(text: &[u8]) -> Result<Record, ParseError> {
        let mut record = Record::EMPTY;
        record.parse_into(text)?;
        Ok(record)
    }

    /// A record without terms (`v=spf1`).
    pub(crate) const EMPTY: Record = Record {
        directives: Vec::new(),
        redirect: None,
        exp: None,
        unknown_modifiers: Vec::new(),
    };

    /// [`Record::parse`] into `self`, an empty record (a plan laid out
    /// during a check parses each record straight into its place: the
    /// record is 160 bytes, and returning it by value copied it there
    /// three to five times). On an error, `self` holds the terms before
    /// the erroneous one.
    pub(crate) fn parse_into(&mut self, text: &[u8]) -> Result<(), ParseError> {
        if !is_spf_record(text) {
            return Err(ParseError {
                kind: ParseErrorKind::NotSpf,
                offset: 0,
                term: String::new(),
            });
        }
        // One pass: whether every octet is a space or visible ASCII (every
        // valid record), and the number of spaces (at most one directive
        // per space-separated term: one allocation).
        let Some(spaces) = count_spaces_if_visible(text) else {
            return Err(invalid_record_error(text));
        };
        // Visible ASCII and spaces: valid UTF-8, kept in one shared copy
        // that the terms and targets point into.
        let Ok(text) = std::str::from_utf8(text) else {
            return Err(invalid_record_error(text));
        };
        let src = Source::new(text);
        self.directives.reserve(spaces.min(64));
        parse_terms(&src, self)
    }

    /// The parser as it was before the one-pass scan of the usual terms
    /// ([`fast_term`]): the oracle the tests compare [`Record::parse`] with.
    #[cfg(test)]
    pub(crate) fn parse_oracle(text: &[u8]) -> Result<Record, ParseError> {
        if !is_spf_record_oracle(text) {
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
        let src: Option<Source<'_>> = if text
            .iter()
            .fold(true, |a, &b| a & (0x20..=0x7e).contains(&b))
        {
            std::str::from_utf8(text).ok().map(Source::new)
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

/// The number of spaces in `text` if every octet is a space or visible
/// ASCII (0x20–0x7E), else `None`: eight octets at a time, with exact
/// per-octet masks (no borrow or carry crosses an octet).
fn count_spaces_if_visible(text: &[u8]) -> Option<usize> {
    // 0x80 in octets of `w` that are not visible ASCII (below 0x20, DEL,
    // 0x80 and above), and in each octet that is a space.
    // (`bad` is only tested for zero, which `below` answers exactly.)
    let masks = |w: u64| {
        let bad = below(w, 0x20) | zero_octets(w ^ (LO * 0x7f)) | (w & HI);
        (bad, zero_octets(w ^ (LO * 0x20)))
    };
    // The number of flagged octets (at most eight: no carry).
    let count = |flags: u64| ((flags >> 7).wrapping_mul(LO) >> 56) as usize;
    let mut bad = 0u64;
    let mut spaces = 0usize;
    let mut chunks = text.chunks_exact(8);
    for c in &mut chunks {
        let (b, s) = masks(word(c, 0));
        bad |= b;
        spaces += count(s);
    }
    let rest = chunks.remainder().len();
    if rest > 0 {
        let (b, s) = match text.get(text.len().wrapping_sub(8)..) {
            // The last eight octets, of which only the last `rest` are new.
            Some(c) => {
                let keep = HI << (8 * (8 - rest));
                let (b, s) = masks(word(c, 0));
                (b & keep, s & keep)
            }
            // Shorter than a word: the missing tail visible, not a space.
            None => masks(word(text, b'a')),
        };
        bad |= b;
        spaces += count(s);
    }
    (bad == 0).then_some(spaces)
}

/// The terms of a record of spaces and visible ASCII (`src`, which starts
/// with the version), in order: the usual ones by [`fast_term`], the
/// others (and every term in error) by [`parse_term`].
fn parse_terms(src: &Source<'_>, record: &mut Record) -> Result<(), ParseError> {
    let text = src.as_bytes();
    let mut pos = 6;
    while let Some(&b) = text.get(pos) {
        if b == b' ' {
            pos += 1;
            continue;
        }
        pos = match fast_term(src, pos, record) {
            Some(end) => end,
            None => general_term(src, pos, record)?,
        };
    }
    Ok(())
}

/// The term at `pos` by [`parse_term`]; its end.
#[inline(never)]
fn general_term(src: &Source<'_>, pos: usize, record: &mut Record) -> Result<usize, ParseError> {
    let text = src.as_bytes();
    let end = text
        .get(pos..)
        .and_then(|t| t.iter().position(|&b| b == b' '))
        .map_or(text.len(), |n| pos + n);
    let term = src.get(pos..end).unwrap_or_default();
    parse_term(term, pos, Some(src), record).map_err(|(kind, at)| ParseError {
        kind,
        offset: pos + at,
        term: term.to_string(),
    })?;
    Ok(end)
}

/// The error of a record (`v=spf1` and a space already checked) holding
/// an octet that is neither a space nor visible ASCII: the first error of
/// the terms before the term holding the first such octet, else that
/// octet (terms are parsed in order; §4.6 makes any error a permerror,
/// and the first one is reported).
#[cold]
#[inline(never)]
fn invalid_record_error(text: &[u8]) -> ParseError {
    let bad = text
        .iter()
        .position(|&b| !(0x20..=0x7e).contains(&b))
        .unwrap_or(text.len());
    let start = text
        .get(..bad)
        .and_then(|h| h.iter().rposition(|&b| b == b' '))
        .map_or(0, |p| p + 1);
    // The terms before are visible ASCII.
    if let Some(head) = text.get(..start).and_then(|h| std::str::from_utf8(h).ok()) {
        let src = Source::new(head);
        let mut record = Record::EMPTY;
        if let Err(e) = parse_terms(&src, &mut record) {
            return e;
        }
    }
    let end = text
        .get(bad..)
        .and_then(|t| t.iter().position(|&b| b == b' '))
        .map_or(text.len(), |n| bad + n);
    ParseError {
        kind: ParseErrorKind::InvalidCharacter(text.get(bad).copied().unwrap_or_default()),
        offset: bad,
        term: String::from_utf8_lossy(text.get(start..end).unwrap_or_default()).into_owned(),
    }
}

/// A mechanism or modifier name of 1–8 ASCII alphanumerics as a number,
/// lower-cased (`| 0x20` lower-cases letters and keeps digits); distinct
/// names give distinct numbers (no octet is zero).
const fn name_key(name: &[u8]) -> u64 {
    let mut k = 0;
    let mut i = 0;
    while i < name.len() && i < 8 {
        k |= ((name[i] | 0x20) as u64) << (8 * i);
        i += 1;
    }
    k
}

const KEY_ALL: u64 = name_key(b"all");
const KEY_INCLUDE: u64 = name_key(b"include");
const KEY_EXISTS: u64 = name_key(b"exists");
const KEY_A: u64 = name_key(b"a");
const KEY_MX: u64 = name_key(b"mx");
const KEY_PTR: u64 = name_key(b"ptr");
const KEY_IP4: u64 = name_key(b"ip4");
const KEY_IP6: u64 = name_key(b"ip6");
const KEY_REDIRECT: u64 = name_key(b"redirect");
const KEY_EXP: u64 = name_key(b"exp");

/// The usual valid terms, in one pass over the term at `pos` of `src` (a
/// record of spaces and visible ASCII): a mechanism with plain targets
/// (no macro), or `redirect=`/`exp=` with a plain target. Adds it to
/// `record` and returns the end of the term; `None`, with `record`
/// untouched, for anything else (macros, unknown modifiers, every error),
/// which [`parse_term`] then parses, giving the same result as for the
/// terms taken here.
fn fast_term(src: &Source<'_>, pos: usize, record: &mut Record) -> Option<usize> {
    let b = src.as_bytes();
    let (qualifier, start) = match b.get(pos)? {
        b'+' => (Qualifier::Pass, pos + 1),
        b'-' => (Qualifier::Fail, pos + 1),
        b'~' => (Qualifier::SoftFail, pos + 1),
        b'?' => (Qualifier::Neutral, pos + 1),
        _ => (Qualifier::Pass, pos),
    };
    // A plain target at `at` and its end.
    let target = |at: usize, slash_ends: bool| plain_target(src, at, slash_ends);
    let (n, key) = name_at(b, start)?;
    let mut i = start + n;
    let next = b.get(i).copied();
    let mechanism = match key {
        KEY_ALL => Mechanism::All,
        KEY_INCLUDE | KEY_EXISTS => {
            if next != Some(b':') {
                return None;
            }
            let (end, domain) = target(i + 1, false)?;
            i = end;
            if key == KEY_INCLUDE {
                Mechanism::Include { domain }
            } else {
                Mechanism::Exists { domain }
            }
        }
        KEY_A | KEY_MX => {
            let mut domain = None;
            if next == Some(b':') {
                let (end, d) = target(i + 1, true)?;
                domain = Some(d);
                i = end;
            }
            let (end, cidr) = fast_dual_cidr(b, i)?;
            i = end;
            if key == KEY_A {
                Mechanism::A { domain, cidr }
            } else {
                Mechanism::Mx { domain, cidr }
            }
        }
        KEY_PTR => {
            let mut domain = None;
            if next == Some(b':') {
                let (end, d) = target(i + 1, false)?;
                domain = Some(d);
                i = end;
            }
            Mechanism::Ptr { domain }
        }
        KEY_IP4 => {
            if next != Some(b':') {
                return None;
            }
            let (ip, end) = dotted_quad(b, i + 1)?;
            i = end;
            let mut len = 32;
            if b.get(i) == Some(&b'/') {
                (len, i) = cidr_digits(b, i + 1, 32)?;
            }
            Mechanism::Ip4 {
                net: Ipv4Net::new(ip, len).ok()?.trunc(),
            }
        }
        KEY_IP6 => {
            if next != Some(b':') {
                return None;
            }
            let addr_start = i + 1;
            i = addr_start;
            while let Some(&c) = b.get(i)
                && c != b' '
                && c != b'/'
            {
                i += 1;
            }
            let ip: Ipv6Addr = src.get(addr_start..i)?.parse().ok()?;
            let mut len = 128;
            if b.get(i) == Some(&b'/') {
                (len, i) = cidr_digits(b, i + 1, 128)?;
            }
            Mechanism::Ip6 {
                net: Ipv6Net::new(ip, len).ok()?.trunc(),
            }
        }
        KEY_REDIRECT | KEY_EXP => {
            if start != pos || next != Some(b'=') {
                return None;
            }
            let slot = if key == KEY_REDIRECT {
                &mut record.redirect
            } else {
                &mut record.exp
            };
            if slot.is_some() {
                return None;
            }
            let (end, domain) = target(i + 1, false)?;
            *slot = Some(domain);
            return Some(end);
        }
        _ => return None,
    };
    if !matches!(b.get(i), None | Some(b' ')) {
        return None;
    }
    record.directives.push(Directive {
        qualifier,
        mechanism,
        text: src.range(pos, i)?,
        offset: pos,
    });
    Some(i)
}

/// The eight octets of `b` from `start` as a little-endian word, zeros past
/// the end.
#[inline(always)]
fn load8(b: &[u8], start: usize) -> u64 {
    if let Some(c) = b.get(start..start.saturating_add(8)) {
        return word(c, 0);
    }
    let len = b.len();
    match b.get(len.wrapping_sub(8)..) {
        // The last eight octets, shifted so that `start` comes first.
        Some(c) if start < len && len >= 8 => word(c, 0) >> (8 * (start + 8 - len)),
        _ => word(b.get(start..).unwrap_or_default(), 0),
    }
}

/// The run of ASCII alphanumerics at `start` of `b`: its length and
/// [`name_key`]; `None` if it is longer than eight octets. One word at a
/// time: 0x80 in each octet in a range, exact for octets below 0x80 (no
/// carry crosses an octet), which is all the first octet that is not
/// alphanumeric needs.
#[inline]
fn name_at(b: &[u8], start: usize) -> Option<(usize, u64)> {
    let w = load8(b, start);
    let lower = w | (LO * 0x20);
    let letter = lower.wrapping_add(LO * (0x80 - 0x61)) & !lower.wrapping_add(LO * (0x7f - 0x7a));
    let digit = w.wrapping_add(LO * (0x80 - 0x30)) & !w.wrapping_add(LO * (0x7f - 0x39));
    // Octets past the end are zero: not alphanumeric. An octet of 0x80 or
    // more (never in a checked record) is flagged as not alphanumeric
    // itself, and a carry out of it only reaches octets after it.
    let other = (!(letter | digit) | w) & HI;
    let n = (other.trailing_zeros() / 8) as usize;
    if n == 8 {
        return b
            .get(start + 8)
            .is_none_or(|c| !c.is_ascii_alphanumeric())
            .then_some((8, lower));
    }
    Some((n, lower & ((1u64 << (8 * n)) - 1)))
}

/// The target of [`plain_domain`] at `at` of `src`, and its end.
#[inline(always)]
fn plain_target(src: &Source<'_>, at: usize, slash_ends: bool) -> Option<(usize, MacroString)> {
    let (end, usable) = plain_domain(src.as_bytes(), at, slash_ends)?;
    Some((end, MacroString::literal_range(src, at, end, usable)?))
}

/// A plain domain-spec (no `%`) at `start` of `b`, up to the next space,
/// the end or (if `slash_ends`) a `/`, checked in the same pass that finds
/// its end (`b` holds only spaces and visible ASCII): its end and whether it
/// is usable as it is (as `MacroString::literal_domain` gives it, what
/// `usable_domain` accepts unchanged: not starting with `[`, at least two
/// labels, every label 1–63 octets, at most 253 octets; the tests'
/// `scan_literal_spec` states it plainly). `None` if it is empty, holds a `%` or fails
/// `domain-end`: the general path decides (or reports).
#[inline(never)]
fn plain_domain(b: &[u8], start: usize, slash_ends: bool) -> Option<(usize, bool)> {
    let mut i = start;
    // Length of the label being read; longest finished label; whether a
    // finished label is empty; the last two dots.
    let (mut label, mut longest, mut empty) = (0usize, 0usize, false);
    let (mut last_dot, mut prev_dot) = (None, None);
    while let Some(&c) = b.get(i) {
        match c {
            b' ' => break,
            b'/' if slash_ends => break,
            b'%' => return None,
            b'.' => {
                empty |= label == 0;
                longest = longest.max(label);
                label = 0;
                prev_dot = last_dot;
                last_dot = Some(i);
            }
            _ => label += 1,
        }
        i += 1;
    }
    let end = i;
    if end == start {
        return None;
    }
    // `t`: the spec without one trailing dot; its last dot; its longest
    // label (a last label after the last dot is not empty).
    let (t_end, top_dot, longest) = if last_dot == Some(end - 1) {
        (end - 1, prev_dot, longest)
    } else {
        (end, last_dot, longest.max(label))
    };
    let top = b.get(top_dot? + 1..t_end)?;
    if !is_toplabel_bytes(top) {
        return None;
    }
    let usable = b.get(start) != Some(&b'[') && !empty && longest <= 63 && t_end - start <= 253;
    Some((end, usable))
}

/// `[ "/" ip4-cidr-length ] [ "//" ip6-cidr-length ]` at `i` of `b`,
/// valid lengths only; where it ends.
fn fast_dual_cidr(b: &[u8], mut i: usize) -> Option<(usize, DualCidr)> {
    let mut cidr = DualCidr::default();
    if b.get(i) == Some(&b'/') && b.get(i + 1) != Some(&b'/') {
        (cidr.v4, i) = cidr_digits(b, i + 1, 32)?;
    }
    if b.get(i) == Some(&b'/') && b.get(i + 1) == Some(&b'/') {
        (cidr.v6, i) = cidr_digits(b, i + 2, 128)?;
    }
    Some((i, cidr))
}

/// A CIDR length at `start` of `b` as [`cidr_value`] accepts it (1–3
/// digits, no leading zero, at most `max`), and where it ends (the digits
/// are all taken).
fn cidr_digits(b: &[u8], start: usize, max: u8) -> Option<(u8, usize)> {
    let (v, end) = decimal_octet(b, start)?;
    (v <= max).then_some((v, end))
}

/// A decimal number of 1–3 digits at `start` of `b` without a leading
/// zero, at most 255, followed by a non-digit; and where it ends.
#[inline]
fn decimal_octet(b: &[u8], start: usize) -> Option<(u8, usize)> {
    let mut i = start;
    let mut v = 0u32;
    while let Some(&c) = b.get(i)
        && c.is_ascii_digit()
    {
        if i - start == 3 {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
        i += 1;
    }
    let n = i - start;
    if n == 0 || (n > 1 && b.get(start) == Some(&b'0')) {
        return None;
    }
    Some((u8::try_from(v).ok()?, i))
}

/// A dotted quad at `start` of `b` as `Ipv4Addr::from_str` reads one
/// (four decimal octets, no leading zeros), and where it ends; the caller
/// checks what follows.
fn dotted_quad(b: &[u8], start: usize) -> Option<(Ipv4Addr, usize)> {
    let mut octets = [0u8; 4];
    let mut i = start;
    for (n, o) in octets.iter_mut().enumerate() {
        if n > 0 {
            if b.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
        (*o, i) = decimal_octet(b, i)?;
    }
    Some((Ipv4Addr::from(octets), i))
}

type TermError = (ParseErrorKind, usize);

/// A mechanism name (§5).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
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
/// allocating: by its [`name_key`], as [`fast_term`] reads names.
fn mechanism_name(raw: &str) -> Name {
    // `name_key` folds case with `| 0x20`, which is exact for letters and
    // digits only.
    if raw.len() > 8 || !raw.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Name::Unknown;
    }
    match name_key(raw.as_bytes()) {
        KEY_ALL => Name::All,
        KEY_INCLUDE => Name::Include,
        KEY_EXISTS => Name::Exists,
        KEY_A => Name::A,
        KEY_MX => Name::Mx,
        KEY_PTR => Name::Ptr,
        KEY_IP4 => Name::Ip4,
        KEY_IP6 => Name::Ip6,
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
    src: Option<&Source<'_>>,
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
            .and_then(|s| s.within(term))
            .unwrap_or_else(|| SharedStr::new(term)),
        offset: pos,
    });
    Ok(())
}

fn parse_modifier(
    name: &str,
    value: &str,
    value_at: usize,
    src: Option<&Source<'_>>,
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
    src: Option<&Source<'_>>,
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
    src: Option<&Source<'_>>,
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
fn domain_spec(spec: &str, at: usize, src: Option<&Source<'_>>) -> Result<MacroString, TermError> {
    // The usual target, a plain name, shared with the record's text: the
    // one-pass scan that `fast_term` uses (for octets 0x21–0x7E only, which
    // is what it expects; anything else, and every error, is for the
    // general path).
    if let Some(src) = src
        && spec.bytes().all(|b| (0x21..=0x7e).contains(&b))
        && let Some((end, usable)) = plain_domain(spec.as_bytes(), 0, false)
        && end == spec.len()
        && let Some(ms) = MacroString::literal_within(src, spec, usable)
    {
        return Ok(ms);
    }
    domain_spec_general(spec, at)
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
/// One pass: letters, digits and hyphens only; with a hyphen, not at
/// either end; without, a letter somewhere.
fn is_toplabel_bytes(b: &[u8]) -> bool {
    let (Some(&first), Some(&last)) = (b.first(), b.last()) else {
        return false;
    };
    let (mut alpha, mut hyphen) = (false, false);
    for &c in b {
        if c.is_ascii_alphabetic() {
            alpha = true;
        } else if c == b'-' {
            hyphen = true;
        } else if !c.is_ascii_digit() {
            return false;
        }
    }
    if hyphen {
        first != b'-' && last != b'-'
    } else {
        alpha
    }
}

/// [`is_toplabel_bytes`] as it was (three passes): the tests' oracle.
#[cfg(test)]
fn is_toplabel_oracle(b: &[u8]) -> bool {
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

/// What one pass over a domain-spec without `%` finds (see
/// [`scan_literal_spec`]).
#[cfg(test)]
struct LiteralSpec {
    /// It satisfies `domain-end` (§7.1): its last label (after one
    /// trailing dot is removed) is a `toplabel`.
    domain_end: bool,
    /// It is a usable domain (RFC 7208 §4.3) as `MacroString::literal_domain`
    /// gives it: what `usable_domain` accepts unchanged.
    usable: bool,
}

/// The tests' oracle of [`plain_domain`]: a domain-spec that is a plain literal (non-empty, octets 0x21–0x7E, no
/// `%`), checked in one pass for what [`domain_spec_general`] and the
/// usable-domain check would find; `None` for anything else (the general
/// path decides). `usable`: after one trailing dot is removed (as
/// `literal_domain` does), not starting with `[`, at least two labels, no
/// trailing dot left, every label 1–63 octets, at most 253 octets
/// (`dns::check_name`).
#[cfg(test)]
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
    /// Names around the label (63) and name (253) limits, for each length
    /// in `lens`: one label of that length before `.com` or between `x.`
    /// and a dot, and labels of 63 joined up to that length, alone and
    /// followed by `.com`, `.com.` and each of `suffixes`.
    fn long_names(lens: &[usize], suffixes: &[&str]) -> Vec<String> {
        let mut out = Vec::new();
        for &n in lens {
            let label = "a".repeat(n.min(63));
            out.push(format!("{}.com", "a".repeat(n)));
            out.push(format!("x.{}.", "a".repeat(n)));
            let mut long = label.clone();
            while long.len() < n {
                long.push('.');
                long.push_str(&label);
            }
            for suffix in [".com", ".com."].iter().chain(suffixes) {
                out.push(format!("{long}{suffix}"));
            }
            out.push(long);
        }
        out
    }

    #[test]
    fn literal_spec_scan_agrees_with_general_path() {
        let mut specs =
            crate::spf::all_strings(&["a", "Z", "1", "-", ".", "[", "%", "_", "\x7f", "{"], 5);
        let lens = [62, 63, 64, 120, 250, 251, 252, 253, 254, 255];
        specs.extend(long_names(&lens, &[]));
        specs.extend(lens.map(|n| format!("x.{}", "a".repeat(n))));
        let mut usable = 0;
        for spec in &specs {
            let text = format!("a:{spec}");
            let src = Source::new(&text);
            let piece = &text[2..];
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

    /// Every target of a parsed record with its usable-domain flag.
    fn targets(r: &Record) -> Vec<(String, Option<String>)> {
        let mut out = Vec::new();
        let mut push = |m: &MacroString| {
            out.push((
                m.as_str().to_string(),
                m.usable_literal().map(str::to_string),
            ))
        };
        for d in &r.directives {
            match &d.mechanism {
                Mechanism::Include { domain } | Mechanism::Exists { domain } => push(domain),
                Mechanism::A {
                    domain: Some(domain),
                    ..
                }
                | Mechanism::Mx {
                    domain: Some(domain),
                    ..
                }
                | Mechanism::Ptr {
                    domain: Some(domain),
                } => push(domain),
                _ => {}
            }
        }
        for m in r.redirect.iter().chain(&r.exp) {
            push(m);
        }
        for m in &r.unknown_modifiers {
            push(&m.value);
        }
        out
    }

    /// `Record::parse` and the oracle (the parser before the one-pass scan)
    /// agree on `text`: the same record (terms, targets and their
    /// usable-domain flags, offsets) or the same error (kind, offset,
    /// term). Returns whether it parsed.
    fn agrees(text: &[u8]) -> bool {
        let fast = Record::parse(text);
        let oracle = Record::parse_oracle(text);
        let shown = String::from_utf8_lossy(text);
        assert_eq!(fast, oracle, "{shown:?}");
        if let (Ok(f), Ok(o)) = (&fast, &oracle) {
            assert_eq!(targets(f), targets(o), "{shown:?}");
            let offsets =
                |r: &Record| -> Vec<usize> { r.directives.iter().map(|d| d.offset).collect() };
            assert_eq!(offsets(f), offsets(o), "{shown:?}");
        }
        fast.is_ok()
    }

    /// Whole records of terms built from pieces of every kind of term.
    #[test]
    fn records_agree_with_oracle_exhaustive() {
        let tokens = [
            "a", "Mx", "ip4", "ip6", "all", "include", "ptr", "exists", "redirect", "EXP", ":",
            "/", "//", "=", "-", "~", "x.com", "1.2.3.4", "0", "1", "32", ".", "%", "%{d}", " ",
            "[", "1::", "foo",
        ];
        let mut ok = 0;
        for s in crate::spf::all_strings(&tokens, 3) {
            ok += usize::from(agrees(format!("v=spf1 {s}").as_bytes()));
            ok += usize::from(agrees(format!("v=spf1 {s} {s}").as_bytes()));
        }
        assert!(ok > 1000, "{ok}");
    }

    /// CIDR lengths of every form after every mechanism that takes one
    /// (and some that do not).
    #[test]
    fn cidr_lengths_agree_with_oracle() {
        let mut ok = 0;
        for prefix in [
            "a",
            "mx:x.com",
            "a:x.com1",
            "ip4:1.2.3.4",
            "ip6:::1",
            "a:x.com/24",
            "ptr:x.com",
            "all",
        ] {
            for s in crate::spf::all_strings(&["/", "1", "0", "2", "3", "8", "9", ":"], 5) {
                ok += usize::from(agrees(format!("v=spf1 {prefix}{s} -all").as_bytes()));
            }
        }
        assert!(ok > 1000, "{ok}");
    }

    /// Targets of every mechanism and modifier that takes one, from a small
    /// alphabet (all its strings up to five octets), and long names around
    /// the label and name limits.
    #[test]
    fn targets_agree_with_oracle() {
        let mut specs =
            crate::spf::all_strings(&["a", "Z", "1", "-", ".", "[", "%", "_", "/", "{"], 5);
        specs.extend(long_names(
            &[62, 63, 64, 250, 251, 252, 253, 254],
            &[".com/24"],
        ));
        let mut ok = 0;
        for spec in &specs {
            for m in [
                "include:",
                "exists:",
                "a:",
                "mx:",
                "ptr:",
                "redirect=",
                "exp=",
                "x=",
            ] {
                ok += usize::from(agrees(format!("v=spf1 {m}{spec}").as_bytes()));
            }
        }
        assert!(ok > 10_000, "{ok}");
    }

    /// `ip4:` networks: every string of digits and dots up to seven octets,
    /// with and without a length.
    #[test]
    fn ip4_networks_agree_with_oracle() {
        let mut ok = 0;
        for s in crate::spf::all_strings(&["0", "1", "2", "5", "9", "."], 7) {
            ok += usize::from(agrees(format!("v=spf1 ip4:{s}").as_bytes()));
            ok += usize::from(agrees(format!("v=spf1 ip4:{s}/24 -all").as_bytes()));
        }
        assert!(ok > 1000, "{ok}");
    }

    /// The dotted-quad reader takes what `Ipv4Addr::from_str` takes (leading
    /// zeros rejected, as std rejects them), on every string of a small
    /// alphabet and on octets around the limits.
    #[test]
    fn dotted_quad_agrees_with_std() {
        let whole = |s: &str| match dotted_quad(s.as_bytes(), 0) {
            Some((ip, end)) if end == s.len() => Some(ip),
            _ => None,
        };
        let mut inputs = crate::spf::all_strings(&["0", "1", "2", "5", "9", ".", "a", "+"], 7);
        let octets = [
            "0", "00", "000", "01", "010", "007", "1", "9", "10", "99", "100", "199", "200", "249",
            "250", "255", "256", "260", "299", "300", "999", "1000", "0255", "", "-1", "+1", "1a",
        ];
        for a in octets {
            for b in ["0", "01", "255", "256", ""] {
                inputs.push(format!("{a}.{b}.{a}.{b}"));
                inputs.push(format!("{b}.{a}.1.{a}"));
                inputs.push(format!("{a}.{a}.{a}.{a}"));
                inputs.push(format!("{a}.{a}.{a}.{a}."));
                inputs.push(format!("{a}.{a}.{a}"));
                inputs.push(format!("{a}.{a}.{a}.{a}.{a}"));
            }
        }
        let mut ok = 0;
        for s in &inputs {
            let std = s.parse::<Ipv4Addr>().ok();
            assert_eq!(whole(s), std, "{s:?}");
            ok += usize::from(std.is_some());
            // What follows the quad is the caller's business.
            if let Some((ip, end)) = dotted_quad(s.as_bytes(), 0) {
                assert_eq!(s.get(..end).and_then(|p| p.parse().ok()), Some(ip), "{s:?}");
            }
        }
        assert!(ok > 500, "{ok}");
    }

    /// Records with octets that are neither spaces nor visible ASCII, after
    /// valid and invalid terms.
    #[test]
    fn invalid_octets_agree_with_oracle() {
        let tokens = [
            "a",
            " ",
            "\r",
            "\t",
            "\u{e9}",
            "\x7f",
            "\0",
            "exp=x.com",
            "1up=x",
            "-all",
            "mx/33",
            "include:",
            "b.com",
        ];
        let mut bytes = vec![0xffu8, 0x80];
        bytes.extend(b" -all");
        agrees(&[b"v=spf1 ".as_slice(), &bytes].concat());
        for s in crate::spf::all_strings(&tokens, 4) {
            agrees(format!("v=spf1 {s}").as_bytes());
        }
    }

    /// The word-at-a-time name reader finds the run of alphanumerics an
    /// octet-at-a-time loop finds, at every position, near the end too.
    #[test]
    fn name_reader_agrees_with_plain_loop() {
        let plain = |b: &[u8], start: usize| {
            let n = b
                .get(start..)
                .unwrap_or_default()
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric())
                .count();
            (n <= 8).then(|| (n, name_key(&b[start..start + n])))
        };
        let mut inputs = crate::spf::all_strings(&["a", "Z", "9", " ", ":", "@", "`", "\u{ff}"], 5);
        for n in 6..=11 {
            inputs.push("aB3".repeat(4)[..n].to_string());
            inputs.push(format!("x {}", &"Ip4".repeat(4)[..n]));
            inputs.push(format!("{}=y.z", &"redirect".repeat(2)[..n]));
        }
        for s in &inputs {
            let b = s.as_bytes();
            for start in 0..=b.len() {
                assert_eq!(name_at(b, start), plain(b, start), "{s:?} at {start}");
            }
        }
        let mut raw = vec![0x80u8, 0xff, b'a', b'b', 0x7f, b'Z'];
        for _ in 0..3 {
            for start in 0..=raw.len() {
                assert_eq!(
                    name_at(&raw, start),
                    plain(&raw, start),
                    "{raw:?} at {start}"
                );
            }
            raw.insert(0, b'q');
        }
    }

    /// The word-at-a-time version check agrees with the octet-wise one:
    /// at each of the first eight positions the right octet, its other
    /// case and the octets one bit away that a careless fold would take,
    /// and every prefix.
    #[test]
    fn version_check_agrees_with_oracle() {
        let mut sets: Vec<Vec<u8>> = b"v=spf1"
            .iter()
            .map(|&c| vec![c, c ^ 0x20, c ^ 0x40, c ^ 0x80, b'x'])
            .collect();
        sets.push(vec![b' ', 0, b'\t', b'x', 0xa0]);
        sets.push(vec![b'a', b' ']);
        let mut all = vec![Vec::new()];
        for set in &sets {
            all = all
                .iter()
                .flat_map(|p| {
                    set.iter().map(move |&c| {
                        let mut q = p.clone();
                        q.push(c);
                        q
                    })
                })
                .collect();
        }
        let mut yes = 0;
        for t in &all {
            for n in 0..=t.len() {
                assert_eq!(
                    is_spf_record(&t[..n]),
                    is_spf_record_oracle(&t[..n]),
                    "{t:?}"
                );
                yes += usize::from(is_spf_record(&t[..n]));
            }
        }
        assert!(yes > 100, "{yes}");
    }

    /// The plain-target scan finds what `scan_literal_spec` finds, and
    /// stops where it should.
    #[test]
    fn plain_domain_agrees_with_literal_scan() {
        let mut specs = crate::spf::all_strings(&["a", "Z", "1", "-", ".", "[", "%", "_", "{"], 6);
        for n in [62, 63, 64, 250, 251, 252, 253, 254] {
            specs.push(format!("{}.com", "a".repeat(n)));
            specs.push(format!("x.{}.", "a".repeat(n)));
            specs.push(format!("{}.b", "a.".repeat(n / 2)));
            specs.push(format!("{}.b.", "a.".repeat(n / 2)));
        }
        let mut usable = 0;
        for spec in &specs {
            let want = scan_literal_spec(spec.as_bytes())
                .filter(|l| l.domain_end)
                .map(|l| (spec.len(), l.usable));
            assert_eq!(plain_domain(spec.as_bytes(), 0, false), want, "{spec:?}");
            usable += usize::from(want.is_some_and(|w| w.1));
            for tail in [" x", "/24", " ", "/"] {
                let t = format!("a:{spec}{tail}");
                let slash = tail.starts_with('/');
                assert_eq!(
                    plain_domain(t.as_bytes(), 2, slash),
                    want.map(|(n, u)| (n + 2, u)),
                    "{t:?}"
                );
            }
        }
        assert!(usable > 1000, "{usable}");
    }

    /// Mechanism names by key are exactly the RFC names, ASCII
    /// case-insensitively (every string of up to 3 symbols over an
    /// alphabet of their letters, case variants and near misses, plus the
    /// long names and their neighbours).
    #[test]
    fn mechanism_names_by_key() {
        let plain = |raw: &str| match raw.to_ascii_lowercase().as_str() {
            "all" => Some(Name::All),
            "include" => Some(Name::Include),
            "exists" => Some(Name::Exists),
            "a" => Some(Name::A),
            "mx" => Some(Name::Mx),
            "ptr" => Some(Name::Ptr),
            "ip4" => Some(Name::Ip4),
            "ip6" => Some(Name::Ip6),
            _ => None,
        };
        let mut names = crate::spf::all_strings(
            &[
                "a", "A", "l", "L", "m", "x", "X", "p", "t", "r", "i", "4", "6", "\x14", "@", "-",
            ],
            3,
        );
        for n in [
            "include", "INCLUDE", "Exists", "exist", "existss", "includes", "ip4x",
        ] {
            names.push(n.to_string());
        }
        let mut known = 0;
        for raw in &names {
            let got = mechanism_name(raw);
            assert_eq!(
                Some(got).filter(|n| *n != Name::Unknown),
                plain(raw),
                "{raw:?}"
            );
            known += usize::from(got != Name::Unknown);
        }
        assert_eq!(known, 18);
    }

    /// The one-pass toplabel check agrees with the three-pass one.
    #[test]
    fn toplabel_check_agrees_with_oracle() {
        let mut yes = 0;
        for s in crate::spf::all_strings(&["a", "Z", "1", "-", "_", ".", "%", "\x7f"], 6) {
            let fast = is_toplabel_bytes(s.as_bytes());
            assert_eq!(fast, is_toplabel_oracle(s.as_bytes()), "{s:?}");
            yes += usize::from(fast);
        }
        assert!(yes > 1000, "{yes}");
    }

    /// The word-at-a-time scan counts what an octet-at-a-time scan counts.
    #[test]
    fn space_count_and_visible_check_are_exact() {
        let plain = |t: &[u8]| {
            t.iter()
                .all(|b| (0x20..=0x7e).contains(b))
                .then(|| t.iter().filter(|&&b| b == b' ').count())
        };
        for b in 0..=255u8 {
            for len in 0..=17 {
                for at in 0..len {
                    let mut t = vec![b'x'; len];
                    t[at] = b;
                    if at > 0 {
                        t[at - 1] = b' ';
                    }
                    assert_eq!(count_spaces_if_visible(&t), plain(&t), "{t:?}");
                }
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(20_000))]
        /// Arbitrary octets: the same verdict and count as a plain scan.
        #[test]
        fn space_count_matches_plain_scan(
            t in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::prelude::any::<u8>(),
                    proptest::sample::select(vec![b' ', b' ', b'a', 0x1f, 0x7e, 0x7f, 0x80, 0xa0]),
                ],
                0..40,
            ),
        ) {
            let plain = t
                .iter()
                .all(|b| (0x20..=0x7e).contains(b))
                .then(|| t.iter().filter(|&&b| b == b' ').count());
            proptest::prop_assert_eq!(count_spaces_if_visible(&t), plain);
        }

        /// Records of random terms made of the pieces of real terms.
        #[test]
        fn random_records_agree_with_oracle(
            pieces in proptest::collection::vec(
                proptest::sample::select(vec![
                    "a", "mx", "IP4", "ip6", "all", "include", "ptr", "exists", "redirect",
                    "exp", ":", "/", "//", "=", "-", "+", "?", "~", "_spf.example.com",
                    "x.", "198.51.100.0", "2001:db8::", "24", "128", "0", "01", ".", "%",
                    "%{i}", "%{r}", " ", "  ", "[", "\r", "z-9", "_", "a.b.c",
                ]),
                0..12,
            ),
        ) {
            agrees(format!("v=spf1 {}", pieces.concat()).as_bytes());
        }

        /// Arbitrary octets after the version.
        #[test]
        fn random_octets_agree_with_oracle(
            tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..48),
        ) {
            agrees(&[b"v=spf1 ".as_slice(), &tail].concat());
        }
    }
}
