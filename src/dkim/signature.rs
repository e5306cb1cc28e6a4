//! The DKIM-Signature header field (RFC 6376 §3.5): a pure, strict parser.
//!
//! ```
//! use sender_auth::dkim::signature::Signature;
//! let sig = Signature::parse(
//!     b"v=1; a=rsa-sha256; d=example.com; s=sel; h=From:Subject; bh=AAAA; b=BB BB",
//! )
//! .unwrap();
//! assert_eq!(sig.domain, "example.com");
//! assert_eq!(sig.signed_headers, ["From", "Subject"]);
//! assert_eq!(sig.b_text, "BBBB");
//! ```

use std::borrow::Cow;
use std::fmt;

#[cfg(test)]
use base64::Engine as _;
use std::sync::LazyLock;

use super::canon::{BodyCanon, HeaderCanon, parse_c};
use super::crypto::HashAlgorithm;
use crate::taglist::{self, is_fws};

/// A signing algorithm (`a=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `rsa-sha256` (RFC 6376 §3.3.2).
    RsaSha256,
    /// `rsa-sha1`: historic, `policy` unless allowed (RFC 8301 §3.1).
    RsaSha1,
    /// `ed25519-sha256` (RFC 8463).
    Ed25519Sha256,
}

/// The key type a signature algorithm needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// `k=rsa`.
    Rsa,
    /// `k=ed25519` (RFC 8463 §4).
    Ed25519,
}

impl Algorithm {
    /// The `a=` text.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::RsaSha256 => "rsa-sha256",
            Algorithm::RsaSha1 => "rsa-sha1",
            Algorithm::Ed25519Sha256 => "ed25519-sha256",
        }
    }

    /// The hash algorithm.
    pub fn hash(self) -> HashAlgorithm {
        match self {
            Algorithm::RsaSha1 => HashAlgorithm::Sha1,
            _ => HashAlgorithm::Sha256,
        }
    }

    /// The key type.
    pub fn key_type(self) -> KeyType {
        match self {
            Algorithm::Ed25519Sha256 => KeyType::Ed25519,
            _ => KeyType::Rsa,
        }
    }
}

/// Why a DKIM-Signature did not parse (each maps to `permerror`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureError {
    /// The tag-list itself is malformed (includes duplicate tags).
    TagList(taglist::TagListError),
    /// A required tag is missing.
    Missing(&'static str),
    /// `v=` is not `1`.
    Version(String),
    /// `a=` names an unknown algorithm.
    Algorithm(String),
    /// A tag value has invalid syntax.
    Invalid(&'static str, String),
    /// `h=` does not include From (§5.4).
    FromNotSigned,
    /// The domain of `i=` is neither `d=` nor a subdomain of it.
    IdentityMismatch,
    /// `x=` is not greater than `t=`.
    ExpiresBeforeTimestamp,
    /// `q=` has no method this verifier supports (`dns/txt`).
    QueryMethod(String),
}

impl fmt::Display for SignatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignatureError::TagList(e) => write!(f, "malformed signature: {e}"),
            SignatureError::Missing(t) => write!(f, "missing required tag {t}="),
            SignatureError::Version(v) => write!(f, "unsupported version v={v}"),
            SignatureError::Algorithm(a) => write!(f, "unknown algorithm a={a}"),
            SignatureError::Invalid(t, v) => write!(f, "invalid {t}= value {v:?}"),
            SignatureError::FromNotSigned => f.write_str("h= does not include From"),
            SignatureError::IdentityMismatch => {
                f.write_str("i= domain is not d= or a subdomain of it")
            }
            SignatureError::ExpiresBeforeTimestamp => f.write_str("x= is not greater than t="),
            SignatureError::QueryMethod(q) => write!(f, "unsupported query method q={q}"),
        }
    }
}

impl std::error::Error for SignatureError {}

/// A parsed DKIM-Signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// `a=`.
    pub algorithm: Algorithm,
    /// `b=`, decoded.
    pub b: Vec<u8>,
    /// `b=` as written with folding whitespace removed (for `header.b`).
    pub b_text: String,
    /// `bh=`, decoded.
    pub body_hash: Vec<u8>,
    /// `c=` header part.
    pub header_canon: HeaderCanon,
    /// `c=` body part.
    pub body_canon: BodyCanon,
    /// `d=` as written (may contain U-labels, RFC 8616).
    pub domain: String,
    /// `d=` in A-label form, lower case: used for lookup and comparisons.
    pub domain_ascii: String,
    /// `s=` as written.
    pub selector: String,
    /// `s=` in A-label form, lower case.
    pub selector_ascii: String,
    /// `h=`, the signed header field names in order (as written).
    pub signed_headers: Vec<String>,
    /// `i=` as written, if present.
    pub identity: Option<String>,
    /// The domain part of `i=` (or `d=`), A-label form, lower case.
    pub identity_domain: String,
    /// `l=`.
    pub body_length: Option<u64>,
    /// `t=`.
    pub timestamp: Option<u64>,
    /// `x=`.
    pub expiration: Option<u64>,
}

fn text(v: &[u8]) -> String {
    String::from_utf8_lossy(v).into_owned()
}

/// Parses `1*max DIGIT` into a u64 without overflow.
fn digits(tag: &'static str, v: &[u8], max: usize) -> Result<u64, SignatureError> {
    let bad = || SignatureError::Invalid(tag, text(v));
    if v.is_empty() || v.len() > max || !v.iter().all(u8::is_ascii_digit) {
        return Err(bad());
    }
    v.iter().try_fold(0u64, |acc, &d| {
        acc.checked_mul(10)
            .and_then(|a| a.checked_add(u64::from(d - b'0')))
            .ok_or_else(bad)
    })
}

/// Standard base64 (RFC 4648 §4; padding required, zero trailing bits)
/// that skips folding whitespace wherever it occurs (§3.5: `b=` and `bh=`
/// are `base64string`, which allows FWS between any two characters,
/// padding included). data-encoding (already in the tree through
/// hickory-proto) decodes while skipping, so the text is not copied first:
/// ~40 % faster than stripping into a buffer and decoding with the `base64`
/// crate on a folded RSA-2048 `b=` (290 vs 500 ns, this machine).
static BASE64_FWS: LazyLock<data_encoding::Encoding> = LazyLock::new(|| {
    let mut spec = data_encoding::BASE64.specification();
    spec.ignore.push_str(" \t\r\n");
    // A constant specification: building it cannot fail.
    spec.encoding()
        .unwrap_or_else(|_| data_encoding::BASE64.clone())
});

/// Decodes base64 after removing folding whitespace (§3.5 `b=`, `bh=`):
/// it accepts exactly what the `base64` crate's `STANDARD` engine accepts
/// on the text without whitespace (padding required and canonical, zero
/// trailing bits; the tests compare the two).
pub(crate) fn base64_fws(tag: &'static str, v: &[u8]) -> Result<Vec<u8>, SignatureError> {
    base64_fws_decode(v).ok_or_else(|| SignatureError::Invalid(tag, text(v)))
}

fn base64_fws_decode(v: &[u8]) -> Option<Vec<u8>> {
    // data-encoding also takes padded groups one after another ("AA==AAAA");
    // `base64string` has padding only at the end: at most two `=`, then
    // only whitespace.
    let mut tail = v.len();
    let mut pads = 0;
    while let Some(&b) = tail.checked_sub(1).and_then(|i| v.get(i)) {
        match b {
            b'=' if pads < 2 => pads += 1,
            b if is_fws(b) => {}
            _ => break,
        }
        tail -= 1;
    }
    if v.get(..tail)?.contains(&b'=') {
        return None;
    }
    BASE64_FWS.decode(v).ok()
}

/// [`taglist::strip_fws`] copying runs rather than bytes.
#[cfg(test)]
fn strip_fws_fast(v: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len());
    for run in v.split(|&b| is_fws(b)) {
        out.extend_from_slice(run);
    }
    out
}

/// Checks a domain name or selector from a signature and returns its
/// lower-case A-label form (RFC 8616 §4: U-labels are converted with
/// IDNA). Letters, digits, `-` and `_` are allowed in ASCII labels; any
/// other ASCII (NUL, parentheses, quotes, spaces, `@`, ...) is refused.
pub(crate) fn domain_to_ascii(v: &[u8], min_labels: usize) -> Option<String> {
    domain_to_ascii_cow(v, min_labels).map(Cow::into_owned)
}

/// [`domain_to_ascii`], borrowing the input when it is already lower-case
/// ASCII (the usual case: no copy).
fn domain_to_ascii_cow(v: &[u8], min_labels: usize) -> Option<Cow<'_, str>> {
    match lower_ldh_labels(v) {
        // Lower-case letters, digits, `-`, `_` and dots only: the checks
        // below, done in that one pass.
        Some(labels) => {
            if labels >= min_labels && (1..=253).contains(&v.len()) {
                std::str::from_utf8(v).ok().map(Cow::Borrowed)
            } else {
                None
            }
        }
        None => domain_to_ascii_cow_general(v, min_labels),
    }
}

/// Reads `v` as dot-separated labels of lower-case ASCII letters, digits,
/// `-` and `_`. `None` when another octet occurs (upper case, non-ASCII,
/// anything else: for [`domain_to_ascii_cow_general`] to judge);
/// otherwise the number of labels, or 0 when a label is empty, longer than
/// 63 octets, or starts or ends with `-`.
fn lower_ldh_labels(v: &[u8]) -> Option<usize> {
    let mut labels = 0usize;
    let mut label_start = 0usize;
    let mut valid = true;
    for (i, &b) in v.iter().enumerate() {
        match b {
            b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' => {}
            b'.' => {
                valid &= label_ok(v.get(label_start..i));
                labels += 1;
                label_start = i + 1;
            }
            _ => return None,
        }
    }
    valid &= label_ok(v.get(label_start..));
    Some(if valid { labels + 1 } else { 0 })
}

/// A label of [`lower_ldh_labels`]: 1 to 63 octets, no `-` at either end.
#[inline]
fn label_ok(l: Option<&[u8]>) -> bool {
    l.is_some_and(|l| {
        (1..=63).contains(&l.len()) && l.first() != Some(&b'-') && l.last() != Some(&b'-')
    })
}

/// [`domain_to_ascii_cow`] for any input (upper case, U-labels, invalid
/// octets); also the reference for its tests.
fn domain_to_ascii_cow_general(v: &[u8], min_labels: usize) -> Option<Cow<'_, str>> {
    let s = std::str::from_utf8(v).ok()?;
    if s.is_empty() || s.len() > 253 {
        return None;
    }
    let ascii: Cow<'_, str> = if s.is_ascii() {
        if s.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(s.to_ascii_lowercase())
        } else {
            Cow::Borrowed(s)
        }
    } else {
        if s.bytes()
            .any(|b| b.is_ascii() && !(b.is_ascii_alphanumeric() || b == b'-' || b == b'.'))
        {
            return None;
        }
        Cow::Owned(idna::domain_to_ascii(s).ok()?)
    };
    let mut labels = 0usize;
    for l in ascii.split('.') {
        if l.is_empty()
            || l.len() > 63
            || l.starts_with('-')
            || l.ends_with('-')
            || !l
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return None;
        }
        labels += 1;
    }
    if labels < min_labels || ascii.len() > 253 {
        return None;
    }
    Some(ascii)
}

/// True when `sub` equals `parent` or is a subdomain of it (both A-label,
/// lower case).
pub(crate) fn is_same_or_subdomain(sub: &str, parent: &str) -> bool {
    sub == parent
        || (sub.len() > parent.len()
            && sub.ends_with(parent)
            && sub.as_bytes()[sub.len() - parent.len() - 1] == b'.')
}

/// A header field name (RFC 5322 `ftext`: printable ASCII except colon).
#[cfg(test)]
fn is_field_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| (33..=126).contains(&b) && b != b':')
}

/// The names of an `h=` value, folding whitespace around each removed
/// (the reference for [`signed_header_names`]).
#[cfg(test)]
fn header_names(h: &str) -> impl Iterator<Item = &str> + Clone {
    h.split(':')
        .map(|n| n.trim_matches([' ', '\t', '\r', '\n']))
}

/// The names of an `h=` value as [`header_names`] splits them, if every
/// one [`is_field_name`] (then the value is ASCII), and whether From is
/// among them: one pass over the octets, one UTF-8 check for the whole
/// value.
fn signed_header_names(h: &[u8]) -> Option<(Vec<&str>, bool)> {
    let text = std::str::from_utf8(h).ok()?;
    let mut names = Vec::with_capacity(16);
    let mut from = false;
    // Usual case: no folding whitespace at all and every octet printable
    // (checked in one pass without early exit, which vectorises); then the
    // names are the pieces between colons, each to be non-empty.
    let (printable, fws) = h.iter().fold((true, false), |(p, f), &b| {
        (p & (33..=126).contains(&b), f | is_fws(b))
    });
    if printable && !fws {
        // (`str::split` costs more here: names are a few octets long.)
        let mut push = |start: usize, end: usize| {
            let name = text.get(start..end).filter(|n| !n.is_empty())?;
            from |= name.eq_ignore_ascii_case("from");
            names.push(name);
            Some(())
        };
        // The colons, eight octets at a time (SWAR: an exact mask of the
        // colons in each word, taken lowest first).
        const COLONS: u64 = 0x3a3a_3a3a_3a3a_3a3a;
        let mut start = 0;
        let mut k = 0;
        while let Some(c) = h.get(k..k + 8)
            && let Ok(c) = <[u8; 8]>::try_from(c)
        {
            let mut colons = taglist::zero_octets(u64::from_le_bytes(c) ^ COLONS);
            while colons != 0 {
                let i = k + (colons.trailing_zeros() / 8) as usize;
                push(start, i)?;
                start = i + 1;
                colons &= colons - 1;
            }
            k += 8;
        }
        for (i, &b) in h.iter().enumerate().skip(k) {
            if b == b':' {
                push(start, i)?;
                start = i + 1;
            }
        }
        push(start, h.len())?;
        return Some((names, from));
    }
    // The current name: its first octet, the end of its last non-FWS
    // octet, and whether FWS followed it (then another octet is an error).
    let mut start: Option<usize> = None;
    let mut end = 0;
    let mut gap = false;
    let mut finish = |start: Option<usize>, end: usize| {
        let name = text.get(start?..end)?;
        from |= name.eq_ignore_ascii_case("from");
        names.push(name);
        Some(())
    };
    for (i, &b) in h.iter().enumerate() {
        match b {
            b':' => {
                finish(start, end)?;
                start = None;
                gap = false;
            }
            b' ' | b'\t' | b'\r' | b'\n' => gap = start.is_some(),
            33..=126 if !gap => {
                start = start.or(Some(i));
                end = i + 1;
            }
            _ => return None,
        }
    }
    finish(start, end)?;
    Some((names, from))
}

/// True when `m` without folding whitespace is `dns/txt` or starts with
/// `dns/txt/` (a `q=` method), compared without a copy.
fn is_dns_txt(m: &[u8]) -> bool {
    let mut it = m.iter().copied().filter(|&b| !is_fws(b));
    for &want in b"dns/txt" {
        if it.next() != Some(want) {
            return false;
        }
    }
    matches!(it.next(), None | Some(b'/'))
}

/// The tags RFC 6376 §3.5 defines, each with a slot, so that duplicates
/// are found with a bit mask; other names go to [`taglist::SeenNames`].
fn slot(name: &[u8]) -> Option<u32> {
    // Matched on the octets themselves (a match on byte strings compiles
    // to a memcmp call per arm).
    Some(match *name {
        [b'v'] => 0,
        [b'a'] => 1,
        [b'b'] => 2,
        [b'b', b'h'] => 3,
        [b'c'] => 4,
        [b'd'] => 5,
        [b'h'] => 6,
        [b'i'] => 7,
        [b'l'] => 8,
        [b'q'] => 9,
        [b's'] => 10,
        [b't'] => 11,
        [b'x'] => 12,
        [b'z'] => 13,
        _ => return None,
    })
}

/// A DKIM-Signature parsed without copying its text: what the verifier
/// uses (one allocation per decoded `b=`/`bh=`, none for names that are
/// already lower-case ASCII). [`Signature::parse`] builds the owned form
/// from it, so both accept and reject exactly the same inputs.
#[derive(Debug, Clone)]
pub(crate) struct SigRef<'a> {
    pub(crate) algorithm: Algorithm,
    pub(crate) b: Vec<u8>,
    /// `b=` as written (folding whitespace included).
    pub(crate) b_raw: &'a [u8],
    pub(crate) body_hash: Vec<u8>,
    pub(crate) header_canon: HeaderCanon,
    pub(crate) body_canon: BodyCanon,
    pub(crate) domain: &'a str,
    pub(crate) domain_ascii: Cow<'a, str>,
    pub(crate) selector: &'a str,
    pub(crate) selector_ascii: Cow<'a, str>,
    /// `h=`, the signed header field names in order.
    pub(crate) signed_headers: Vec<&'a str>,
    pub(crate) identity: Option<&'a [u8]>,
    /// The domain of `i=`; `None` when there is no `i=` (then it is `d=`).
    pub(crate) identity_domain: Option<Cow<'a, str>>,
    pub(crate) body_length: Option<u64>,
    pub(crate) timestamp: Option<u64>,
    pub(crate) expiration: Option<u64>,
}

impl<'a> SigRef<'a> {
    /// See [`Signature::parse`]: the same checks in the same order, so the
    /// same error for every input.
    pub(crate) fn parse(value: &'a [u8]) -> Result<SigRef<'a>, SignatureError> {
        // One pass over the tag-list: syntax errors and duplicates are
        // reported for the whole list before any tag is interpreted.
        let mut known: [Option<&[u8]>; 14] = [None; 14];
        let mut seen_mask = 0u32;
        let mut unknown = taglist::SeenNames::default();
        let mut tags = taglist::tags(value);
        while let Some(tag) = tags.next_raw() {
            let tag = tag.map_err(SignatureError::TagList)?;
            let fresh = match slot(tag.name) {
                Some(i) => {
                    let bit = 1u32 << i;
                    let fresh = seen_mask & bit == 0;
                    seen_mask |= bit;
                    if let Some(k) = known.get_mut(i as usize) {
                        *k = Some(tag.value);
                    }
                    fresh
                }
                // (The name is ASCII: the conversion cannot fail.)
                None => std::str::from_utf8(tag.name).is_ok_and(|n| unknown.insert(n)),
            };
            if !fresh {
                return Err(SignatureError::TagList(taglist::TagListError::Duplicate(
                    text(tag.name),
                )));
            }
        }
        let [v, a, b, bh, c, d, h, i, l, q, s, t, x, _z] = known;
        let req = |v: Option<&'a [u8]>, name: &'static str| v.ok_or(SignatureError::Missing(name));

        let v = req(v, "v")?;
        if v != b"1" {
            return Err(SignatureError::Version(text(v)));
        }
        let a = req(a, "a")?;
        let algorithm = match a {
            b"rsa-sha256" => Algorithm::RsaSha256,
            b"rsa-sha1" => Algorithm::RsaSha1,
            b"ed25519-sha256" => Algorithm::Ed25519Sha256,
            _ => return Err(SignatureError::Algorithm(text(a))),
        };
        let b_raw = req(b, "b")?;
        let b = base64_fws("b", b_raw)?;
        if b.is_empty() {
            return Err(SignatureError::Invalid("b", String::new()));
        }
        let body_hash = base64_fws("bh", req(bh, "bh")?)?;
        if body_hash.is_empty() {
            return Err(SignatureError::Invalid("bh", String::new()));
        }
        let (header_canon, body_canon) = match c {
            None => (HeaderCanon::Simple, BodyCanon::Simple),
            Some(c) => parse_c(c).map_err(|_| SignatureError::Invalid("c", text(c)))?,
        };
        let d = req(d, "d")?;
        let domain_ascii =
            domain_to_ascii_cow(d, 2).ok_or_else(|| SignatureError::Invalid("d", text(d)))?;
        let s = req(s, "s")?;
        let selector_ascii =
            domain_to_ascii_cow(s, 1).ok_or_else(|| SignatureError::Invalid("s", text(s)))?;
        // domain_to_ascii_cow accepted them: both are UTF-8 (and when
        // borrowed, the same text).
        let as_str = |ascii: &Cow<'a, str>, v: &'a [u8], tag| match ascii {
            Cow::Borrowed(t) => Ok(*t),
            Cow::Owned(_) => {
                std::str::from_utf8(v).map_err(|_| SignatureError::Invalid(tag, text(v)))
            }
        };
        let domain = as_str(&domain_ascii, d, "d")?;
        let selector = as_str(&selector_ascii, s, "s")?;
        let h_raw = req(h, "h")?;
        let (signed_headers, from) =
            signed_header_names(h_raw).ok_or_else(|| SignatureError::Invalid("h", text(h_raw)))?;
        if !from {
            return Err(SignatureError::FromNotSigned);
        }
        let identity_domain = match i {
            None => None,
            Some(i) => {
                let at = i
                    .iter()
                    .rposition(|&b| b == b'@')
                    .ok_or_else(|| SignatureError::Invalid("i", text(i)))?;
                let local = &i[..at];
                if local.iter().any(|&b| b <= b' ' || b == 0x7f) {
                    return Err(SignatureError::Invalid("i", text(i)));
                }
                let dom = domain_to_ascii_cow(&i[at + 1..], 1)
                    .ok_or_else(|| SignatureError::Invalid("i", text(i)))?;
                if !is_same_or_subdomain(&dom, &domain_ascii) {
                    return Err(SignatureError::IdentityMismatch);
                }
                Some(dom)
            }
        };
        let body_length = l.map(|l| digits("l", l, 76)).transpose()?;
        let timestamp = t.map(|t| digits("t", t, 12)).transpose()?;
        let expiration = x.map(|x| digits("x", x, 12)).transpose()?;
        if let (Some(t), Some(x)) = (timestamp, expiration)
            && x <= t
        {
            return Err(SignatureError::ExpiresBeforeTimestamp);
        }
        if let Some(q) = q
            && !q.split(|&b| b == b':').any(is_dns_txt)
        {
            return Err(SignatureError::QueryMethod(text(q)));
        }
        Ok(SigRef {
            algorithm,
            b,
            b_raw,
            body_hash,
            header_canon,
            body_canon,
            domain,
            domain_ascii,
            selector,
            selector_ascii,
            signed_headers,
            identity: i,
            identity_domain,
            body_length,
            timestamp,
            expiration,
        })
    }

    /// The domain of `i=`, or `d=` when there is no `i=` (A-label form).
    pub(crate) fn identity_domain(&self) -> &str {
        self.identity_domain
            .as_deref()
            .unwrap_or(&self.domain_ascii)
    }

    /// `b=` without folding whitespace (ASCII: it decoded as base64).
    pub(crate) fn b_text(&self) -> impl Iterator<Item = char> + '_ {
        self.b_raw
            .iter()
            .filter(|&&b| !is_fws(b))
            .map(|&b| char::from(b))
    }

    /// `content`, the raw field this signature was parsed from (name,
    /// colon and value, no final line ending), with the `b=` value removed
    /// (§3.7), as [`strip_b_value_cow`] computes it. When `b=` is the last
    /// tag-spec (nothing but its value and whitespace after its `=`) the
    /// result is a prefix of `content` found from where [`SigRef::b_raw`]
    /// lies in it, with no scan of the tag-list; otherwise, or if `b_raw`
    /// does not lie in `content`, through [`strip_b_value_cow`].
    pub(crate) fn field_without_b<'f>(&self, content: &'f [u8]) -> Cow<'f, [u8]> {
        // Where b_raw lies in content, from the addresses (no unsafe: only
        // compared and subtracted).
        let base = content.as_ptr() as usize;
        let start = (self.b_raw.as_ptr() as usize).wrapping_sub(base);
        let end = start.wrapping_add(self.b_raw.len());
        if !self.b_raw.is_empty()
            && start <= content.len()
            && end <= content.len()
            && start < end
            && let Some(before) = content.get(..start)
            && let Some(after) = content.get(end..)
            && !after.contains(&b';')
            && let Some(eq) = before.iter().rposition(|&b| !is_fws(b))
            && before.get(eq) == Some(&b'=')
        {
            // The parse refused duplicate tags, so this is the only b=; the
            // octet before its value (after whitespace) is its '='.
            return Cow::Borrowed(&content[..=eq]);
        }
        strip_b_value_cow(content)
    }

    /// The DNS name of the key record (see [`Signature::key_name`]).
    pub(crate) fn key_name(&self) -> String {
        let mut n = String::with_capacity(
            self.selector_ascii.len() + self.domain_ascii.len() + "._domainkey.".len(),
        );
        n.push_str(&self.selector_ascii);
        n.push_str("._domainkey.");
        n.push_str(&self.domain_ascii);
        n
    }

    /// The owned [`Signature`].
    pub(crate) fn to_owned_signature(&self) -> Signature {
        let identity_domain = self.identity_domain().to_string();
        Signature {
            algorithm: self.algorithm,
            b: self.b.clone(),
            b_text: self.b_text().collect(),
            body_hash: self.body_hash.clone(),
            header_canon: self.header_canon,
            body_canon: self.body_canon,
            domain: self.domain.to_string(),
            domain_ascii: self.domain_ascii.to_string(),
            selector: self.selector.to_string(),
            selector_ascii: self.selector_ascii.to_string(),
            signed_headers: self.signed_headers.iter().map(|n| n.to_string()).collect(),
            identity: self.identity.map(text),
            identity_domain,
            body_length: self.body_length,
            timestamp: self.timestamp,
            expiration: self.expiration,
        }
    }
}

impl Signature {
    /// Parses the value of a DKIM-Signature field (everything after the
    /// colon). Pure; never panics.
    ///
    /// The tag-list is read once (RFC 6376 §3.2; syntax errors and
    /// duplicate tags come first, for the whole list), then the tags are
    /// checked in a fixed order: `v=`, `a=`, `b=`, `bh=`, `c=`, `d=`, `s=`,
    /// `h=` (with From, §5.4), `i=` (§3.5: its domain must be `d=` or a
    /// subdomain), `l=`, `t=`, `x=`, `q=`; the first failure is returned.
    pub fn parse(value: &[u8]) -> Result<Signature, SignatureError> {
        SigRef::parse(value).map(|r| r.to_owned_signature())
    }

    /// The DNS name of the key record: `<s>._domainkey.<d>` (§3.6.2.1),
    /// in A-label form.
    pub fn key_name(&self) -> String {
        format!("{}._domainkey.{}", self.selector_ascii, self.domain_ascii)
    }
}

/// [`strip_b_value_copy`], for tests.
#[cfg(test)]
pub(crate) fn strip_b_value(content: &[u8]) -> Vec<u8> {
    strip_b_value_cow(content).into_owned()
}

/// True when a tag-spec's name part (before its `=`) is `b`, folding
/// whitespace ignored.
fn is_b_name(name: &[u8]) -> bool {
    let mut it = name.iter().filter(|&&b| !is_fws(b));
    it.next() == Some(&b'b') && it.next().is_none()
}

/// The field content with its `b=` value removed (as [`strip_b_value_copy`]
/// computes it), without a copy in the usual case where the only `b=` tag
/// is the last tag-spec: the result is then a prefix of `content`.
pub(crate) fn strip_b_value_cow(content: &[u8]) -> Cow<'_, [u8]> {
    let Some(colon) = content.iter().position(|&b| b == b':') else {
        return Cow::Borrowed(content);
    };
    let value_start = colon + 1;
    let mut b_specs = 0usize;
    let mut pos = value_start;
    // (start of the last spec, position of its '=' if any).
    let last = loop {
        let rest = content.get(pos..).unwrap_or_default();
        let end = crate::taglist::find_byte(rest, b';').map_or(content.len(), |i| pos + i);
        let spec = content.get(pos..end).unwrap_or_default();
        let eq = spec.iter().position(|&b| b == b'=');
        if let Some(e) = eq
            && is_b_name(&spec[..e])
        {
            b_specs += 1;
        }
        if end >= content.len() {
            break (pos, eq);
        }
        pos = end + 1;
    };
    match last {
        (start, Some(eq)) if b_specs == 1 && is_b_name(&content[start..start + eq]) => {
            Cow::Borrowed(&content[..start + eq + 1])
        }
        _ => Cow::Owned(strip_b_value_copy(content)),
    }
}

/// Returns the raw field `content` (`DKIM-Signature:...` without the final
/// line ending) with the value of its `b=` tag removed (§3.7): everything
/// between `b=` and the next `;` (or the end) is deleted; the rest,
/// including folding whitespace, is kept exactly.
fn strip_b_value_copy(content: &[u8]) -> Vec<u8> {
    let Some(colon) = content.iter().position(|&b| b == b':') else {
        return content.to_vec();
    };
    let mut out = Vec::with_capacity(content.len());
    out.extend_from_slice(&content[..=colon]);
    let value = &content[colon + 1..];
    let mut first = true;
    for spec in value.split(|&b| b == b';') {
        if !first {
            out.push(b';');
        }
        first = false;
        match spec.iter().position(|&b| b == b'=') {
            Some(eq) if taglist::strip_fws(&spec[..eq]) == b"b" => {
                out.extend_from_slice(&spec[..=eq]);
            }
            _ => out.extend_from_slice(spec),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one-pass decoder accepts and decodes exactly like the base64
    /// crate on the value with whitespace removed.
    fn same_as_base64_crate(v: &[u8]) {
        let clean = strip_fws_fast(v);
        let reference = base64::engine::general_purpose::STANDARD
            .decode(&clean)
            .ok();
        assert_eq!(
            base64_fws("b", v).ok(),
            reference,
            "{:?}",
            String::from_utf8_lossy(v)
        );
    }

    #[test]
    fn base64_decoder_edge_cases() {
        for v in [
            &b""[..],
            b"=",
            b"==",
            b"===",
            b"====",
            b"A",
            b"AA",
            b"AAA",
            b"AAAA",
            b"AA==",
            b"AB==",
            b"AQ==",
            b"AAA=",
            b"AAB=",
            b"AAE=",
            b"AA=",
            b"AA=A",
            b"AA==AAAA",
            b"AAAA=",
            b"AAAA==",
            b"A===",
            b"AAAAA",
            b"AA\r\n =\t=",
            b" A A A A ",
            b"AA==\r\n",
            b"AA= =",
            b"-_AA",
            b"+/+/",
            b"AAAA\x00",
            b"\xffAAA",
            b"AAAAAA==",
            b"AAAAAAA=",
            b"AAAAAAB=",
            b"AAAAAB==",
            b"AAAA AA==",
            b"AAAA AAA=\r\n",
            b"AA=\r\n=",
            b"AAA=\r\nA",
            b"AAA= =",
            b"AA== =",
            b"AAAA\r\n\tAAAA",
            b"\r\n",
            b"=AAA",
            b"A=AA",
            b"AAAA;",
            b"AAAA\x80",
        ] {
            same_as_base64_crate(v);
        }
        // Long values (the former stack-buffer sizes, 128 and 1024, and
        // beyond), whitespace falling inside and between groups.
        for len in (100..160).chain(1000..1060).chain(2040..2050) {
            let text: Vec<u8> = b"AB\r\n CD=".iter().copied().cycle().take(len).collect();
            same_as_base64_crate(&text);
            let text: Vec<u8> = b"ABC DEFG\t".iter().copied().cycle().take(len).collect();
            same_as_base64_crate(&text);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(20_000))]
        #[test]
        fn base64_decoder_matches_crate(
            v in proptest::collection::vec(
                proptest::sample::select(b"AQgw+/=  \r\n\t-_.A9zZ".to_vec()),
                0..24,
            )
        ) {
            same_as_base64_crate(&v);
        }

        #[test]
        fn base64_decoder_matches_crate_on_valid_text(
            raw in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40),
            cut in 0usize..80,
            ws in proptest::sample::select(vec![&b" "[..], b"\r\n\t", b"\n "]),
            tweak in proptest::option::of((0usize..80, proptest::prelude::any::<u8>())),
        ) {
            let mut text = base64::engine::general_purpose::STANDARD.encode(&raw).into_bytes();
            if let Some((i, b)) = tweak && i < text.len() {
                text[i] = b;
            }
            let cut = cut.min(text.len());
            let mut v = text[..cut].to_vec();
            v.extend_from_slice(ws);
            v.extend_from_slice(&text[cut..]);
            same_as_base64_crate(&v);
        }
    }

    /// `Signature::parse` before the borrowed parser (kept as the
    /// reference: the same result, or the same error, for every input).
    fn reference_parse(value: &[u8]) -> Result<Signature, SignatureError> {
        let tags = taglist::parse(value).map_err(SignatureError::TagList)?;
        // Tag names are one or two octets: compare inline rather than
        // through a memcmp call per tag.
        let same =
            |a: &str, b: &str| a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| x == y);
        let get = |name: &str| tags.iter().find(|t| same(t.name, name)).map(|t| t.value);
        let req = |name: &'static str| get(name).ok_or(SignatureError::Missing(name));

        let v = req("v")?;
        if v != b"1" {
            return Err(SignatureError::Version(text(v)));
        }
        let a = req("a")?;
        let algorithm = match a {
            b"rsa-sha256" => Algorithm::RsaSha256,
            b"rsa-sha1" => Algorithm::RsaSha1,
            b"ed25519-sha256" => Algorithm::Ed25519Sha256,
            _ => return Err(SignatureError::Algorithm(text(a))),
        };
        let b_raw = req("b")?;
        let b_clean = strip_fws_fast(b_raw);
        let b = base64::engine::general_purpose::STANDARD
            .decode(&b_clean)
            .map_err(|_| SignatureError::Invalid("b", text(b_raw)))?;
        if b.is_empty() {
            return Err(SignatureError::Invalid("b", String::new()));
        }
        // The decoded base64 text is ASCII: reuse its buffer, no lossy scan.
        let b_text = String::from_utf8(b_clean)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        let bh_raw = req("bh")?;
        let body_hash = base64::engine::general_purpose::STANDARD
            .decode(strip_fws_fast(bh_raw))
            .map_err(|_| SignatureError::Invalid("bh", text(bh_raw)))?;
        if body_hash.is_empty() {
            return Err(SignatureError::Invalid("bh", String::new()));
        }
        let (header_canon, body_canon) = match get("c") {
            None => (HeaderCanon::Simple, BodyCanon::Simple),
            Some(c) => parse_c(c).map_err(|_| SignatureError::Invalid("c", text(c)))?,
        };
        let d = req("d")?;
        let domain_ascii =
            domain_to_ascii(d, 2).ok_or_else(|| SignatureError::Invalid("d", text(d)))?;
        let s = req("s")?;
        let selector_ascii =
            domain_to_ascii(s, 1).ok_or_else(|| SignatureError::Invalid("s", text(s)))?;
        let h = req("h")?;
        let h_str = std::str::from_utf8(h).map_err(|_| SignatureError::Invalid("h", text(h)))?;
        let mut signed_headers = Vec::new();
        for name in h_str.split(':') {
            let name = name.trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n'));
            if !is_field_name(name) {
                return Err(SignatureError::Invalid("h", text(h)));
            }
            signed_headers.push(name.to_string());
        }
        if !signed_headers
            .iter()
            .any(|n| n.eq_ignore_ascii_case("from"))
        {
            return Err(SignatureError::FromNotSigned);
        }
        let (identity, identity_domain) = match get("i") {
            None => (None, domain_ascii.clone()),
            Some(i) => {
                let at = i
                    .iter()
                    .rposition(|&b| b == b'@')
                    .ok_or_else(|| SignatureError::Invalid("i", text(i)))?;
                let local = &i[..at];
                if local.iter().any(|&b| b <= b' ' || b == 0x7f) {
                    return Err(SignatureError::Invalid("i", text(i)));
                }
                let dom = domain_to_ascii(&i[at + 1..], 1)
                    .ok_or_else(|| SignatureError::Invalid("i", text(i)))?;
                if !is_same_or_subdomain(&dom, &domain_ascii) {
                    return Err(SignatureError::IdentityMismatch);
                }
                (Some(text(i)), dom)
            }
        };
        let body_length = get("l").map(|l| digits("l", l, 76)).transpose()?;
        let timestamp = get("t").map(|t| digits("t", t, 12)).transpose()?;
        let expiration = get("x").map(|x| digits("x", x, 12)).transpose()?;
        if let (Some(t), Some(x)) = (timestamp, expiration)
            && x <= t
        {
            return Err(SignatureError::ExpiresBeforeTimestamp);
        }
        if let Some(q) = get("q") {
            let ok = q.split(|&b| b == b':').any(|m| {
                let m = taglist::strip_fws(m);
                m == b"dns/txt" || m.starts_with(b"dns/txt/")
            });
            if !ok {
                return Err(SignatureError::QueryMethod(text(q)));
            }
        }
        Ok(Signature {
            algorithm,
            b,
            b_text,
            body_hash,
            header_canon,
            body_canon,
            domain: text(d),
            domain_ascii,
            selector: text(s),
            selector_ascii,
            signed_headers,
            identity,
            identity_domain,
            body_length,
            timestamp,
            expiration,
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(20_000))]
        #[test]
        fn parse_matches_reference(
            specs in proptest::collection::vec(
                (
                    proptest::sample::select(vec![
                        "v", "a", "b", "bh", "c", "d", "s", "h", "i", "l", "t", "x", "q", "z", "V", "x1", "",
                    ]),
                    proptest::sample::select(vec![
                        "1", "2", "rsa-sha256", "rsa-sha1", "ed25519-sha256", "AAAA", "AA==", "A A\r\n\tAA",
                        "AB=", "", "relaxed/relaxed", "simple", "relaxed/x", "example.com", "Example.COM",
                        "bücher.example", "com", "a..b", "sel", "From:To", "from : Subject", "To", "From::To",
                        "@example.com", "u@sub.example.com", "u@other.org", "10", "9", "99999999999999",
                        "dns/txt", "dns/txt/x:foo", "dns", "\x01", "x\x7fy", "a=b",
                    ]),
                ),
                0..16,
            ),
            sep in proptest::sample::select(vec!["; ", ";", " ;\r\n\t"]),
        ) {
            let mut v = String::new();
            for (i, (n, val)) in specs.iter().enumerate() {
                if i > 0 {
                    v.push_str(sep);
                }
                v.push_str(n);
                v.push('=');
                v.push_str(val);
            }
            proptest::prop_assert_eq!(Signature::parse(v.as_bytes()), reference_parse(v.as_bytes()));
        }

        #[test]
        fn parse_matches_reference_near_valid(
            drop in proptest::option::of(0usize..9),
            extra in proptest::option::of(proptest::sample::select(vec![
                "i=@Example.com", "l=5", "t=10; x=5", "q=dns/txt", "c=relaxed", "z=a|b", "d=x.org",
                "i=u\u{80}@example.com", "x=1", "bh=A", "b=", "h=to",
            ])),
        ) {
            let mut specs = vec![
                "v=1", "a=rsa-sha256", "d=example.com", "s=sel", "h=From:To",
                "bh=AAAA", "c=relaxed/relaxed", "t=1", "b=AB\r\n CD",
            ];
            if let Some(d) = drop {
                specs.remove(d);
            }
            if let Some(e) = extra {
                specs.insert(specs.len() / 2, e);
            }
            let v = specs.join("; ");
            proptest::prop_assert_eq!(Signature::parse(v.as_bytes()), reference_parse(v.as_bytes()));
        }
    }

    /// The former `h=` reading: UTF-8 check, split, trim, name check.
    fn reference_header_names(h: &[u8]) -> Option<(Vec<&str>, bool)> {
        let h = std::str::from_utf8(h).ok()?;
        let names: Vec<&str> = header_names(h).collect();
        names.iter().all(|n| is_field_name(n)).then(|| {
            let from = names.iter().any(|n| n.eq_ignore_ascii_case("from"));
            (names, from)
        })
    }

    #[test]
    fn signed_header_names_edge_cases() {
        for h in [
            &b""[..],
            b":",
            b"from",
            b"From:To",
            b" From :\r\n\tto ",
            b"from::to",
            b"from: :to",
            b"fr om",
            b"from:\xc3\xa9",
            b"\xff",
            b"from:\x7f",
            b"FROM:subject:",
            b"From:To:Subject:Date",
            b":From",
            b"From::To",
            b"From:To:",
            b"From;To",
            b"From:T\x00o",
        ] {
            assert_eq!(signed_header_names(h), reference_header_names(h), "{h:?}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(20_000))]
        /// The one-pass reading of lower-case names gives what the general
        /// reading gives, for names and non-names alike.
        #[test]
        fn domain_fast_path_matches_general(
            v in proptest::collection::vec(
                proptest::sample::select(b"ab9z_-...-Aa\xc3\xa9 @".to_vec()),
                0..24,
            ),
            long in proptest::option::of((0usize..3, 60usize..70)),
            min_labels in 1usize..3,
        ) {
            let mut v = v;
            if let Some((at, n)) = long {
                let at = at.min(v.len());
                v.splice(at..at, std::iter::repeat_n(b'x', n));
            }
            proptest::prop_assert_eq!(
                domain_to_ascii_cow(&v, min_labels),
                domain_to_ascii_cow_general(&v, min_labels)
            );
        }
    }

    #[test]
    fn domain_fast_path_edge_cases() {
        let long_label = "a".repeat(63);
        let too_long_label = "a".repeat(64);
        let long_name = format!("{long_label}.{long_label}.{long_label}.{}", "b".repeat(61));
        let too_long_name = format!("{long_name}c");
        for v in [
            "",
            ".",
            "a",
            "a.",
            ".a",
            "a..b",
            "-a.b",
            "a-.b",
            "a.b-",
            "a.-b",
            "a-b.c_d",
            "_dmarc.x",
            "0.0",
            &long_label,
            &too_long_label,
            &long_name,
            &too_long_name,
            "example.com",
            "Example.com",
            "ex ample.com",
        ] {
            for min_labels in [1, 2] {
                assert_eq!(
                    domain_to_ascii_cow(v.as_bytes(), min_labels),
                    domain_to_ascii_cow_general(v.as_bytes(), min_labels),
                    "{v:?} {min_labels}"
                );
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(5_000))]
        /// Longer lists without whitespace (the word-at-a-time colon scan):
        /// names of any length, empty ones and stray octets included.
        #[test]
        fn long_signed_header_lists_match_reference(
            names in proptest::collection::vec(
                proptest::sample::select(vec![
                    "From", "to", "", "Subject", "Message-ID", "x", "Content-Transfer-Encoding",
                    "MIME-Version", "fr\x7fom", "a\u{e9}",
                ]),
                0..20,
            )
        ) {
            let h = names.join(":");
            proptest::prop_assert_eq!(
                signed_header_names(h.as_bytes()),
                reference_header_names(h.as_bytes())
            );
        }

        #[test]
        fn signed_header_names_match_reference(
            v in proptest::collection::vec(
                proptest::sample::select(b"fromFROM:: \t\r\nab\x7f\x80\xc3\xa9!~".to_vec()),
                0..24,
            )
        ) {
            proptest::prop_assert_eq!(signed_header_names(&v), reference_header_names(&v));
        }
    }

    #[test]
    fn fast_fws_strip_matches_taglist() {
        for v in [
            &b""[..],
            b"abc",
            b" a\r\n\tb c ",
            b"\r\n\r\n",
            b"AAAA BBBB\r\n CCCC\t\tDD==",
        ] {
            assert_eq!(strip_fws_fast(v), taglist::strip_fws(v), "{v:?}");
        }
    }

    const OK: &str = "v=1; a=rsa-sha256; d=example.com; s=sel; h=From:Subject; bh=AAAA; b=BBBB";

    fn with(extra: &str) -> Result<Signature, SignatureError> {
        Signature::parse(format!("{OK}; {extra}").as_bytes())
    }

    fn replace(from: &str, to: &str) -> Result<Signature, SignatureError> {
        Signature::parse(OK.replace(from, to).as_bytes())
    }

    #[test]
    fn minimal() {
        let s = Signature::parse(OK.as_bytes()).unwrap();
        assert_eq!(s.key_name(), "sel._domainkey.example.com");
        assert_eq!(s.identity_domain, "example.com");
        assert_eq!(
            (s.header_canon, s.body_canon),
            (HeaderCanon::Simple, BodyCanon::Simple)
        );
    }

    #[test]
    fn required_tags() {
        for tag in [
            "v=1; ",
            "a=rsa-sha256; ",
            "d=example.com; ",
            "s=sel; ",
            "h=From:Subject; ",
            "bh=AAAA; ",
        ] {
            assert!(
                matches!(replace(tag, ""), Err(SignatureError::Missing(_))),
                "{tag}"
            );
        }
        assert!(matches!(
            replace("; b=BBBB", ""),
            Err(SignatureError::Missing("b"))
        ));
    }

    #[test]
    fn duplicates() {
        assert!(matches!(
            with("d=example.org"),
            Err(SignatureError::TagList(_))
        ));
    }

    #[test]
    fn version_and_algorithm() {
        assert!(matches!(
            replace("v=1", "v=2"),
            Err(SignatureError::Version(_))
        ));
        assert!(matches!(
            replace("rsa-sha256", "rsa-md5"),
            Err(SignatureError::Algorithm(_))
        ));
        assert_eq!(
            replace("rsa-sha256", "rsa-sha1").unwrap().algorithm,
            Algorithm::RsaSha1
        );
    }

    #[test]
    fn from_required() {
        assert_eq!(
            replace("From:Subject", "Subject"),
            Err(SignatureError::FromNotSigned)
        );
        assert!(replace("From:Subject", "subject : FROM").is_ok());
        assert!(replace("From:Subject", "From::Subject").is_err());
    }

    #[test]
    fn identity() {
        assert!(with("i=@example.com").is_ok());
        assert!(with("i=user@mail.example.com").is_ok());
        assert_eq!(
            with("i=user@badexample.com"),
            Err(SignatureError::IdentityMismatch)
        );
        assert_eq!(with("i=user@com"), Err(SignatureError::IdentityMismatch));
        assert!(with("i=example.com").is_err());
    }

    #[test]
    fn lengths_and_times() {
        assert_eq!(with("l=0").unwrap().body_length, Some(0));
        assert!(with(&format!("l={}", "1".repeat(77))).is_err());
        // 76 digits is syntactically fine but overflows u64.
        assert!(with(&format!("l={}", "9".repeat(76))).is_err());
        assert_eq!(
            with("l=18446744073709551615").unwrap().body_length,
            Some(u64::MAX)
        );
        assert!(with("l=18446744073709551616").is_err());
        assert!(with("l=-1").is_err());
        assert!(with("t=10; x=11").is_ok());
        assert_eq!(
            with("t=10; x=10"),
            Err(SignatureError::ExpiresBeforeTimestamp)
        );
        assert!(with("t=1234567890123").is_err());
    }

    #[test]
    fn domain_syntax() {
        for bad in [
            "example.com\0",
            "legitimate.com(.attacker.com",
            "ex\"ample.com",
            "com",
            "a..b",
            "-a.com",
            "a b.com",
            "a.com.",
        ] {
            assert!(
                replace("d=example.com", &format!("d={bad}")).is_err(),
                "{bad:?}"
            );
        }
        assert!(replace("s=sel", "s=se(l").is_err());
        assert!(replace("s=sel", "s=a.b-c_d").is_ok());
    }

    #[test]
    fn u_labels() {
        let s = replace("d=example.com", "d=bücher.example").unwrap();
        assert_eq!(s.domain_ascii, "xn--bcher-kva.example");
        assert_eq!(s.domain, "bücher.example");
        let s = replace("s=sel", "s=sélecteur").unwrap();
        assert_eq!(s.key_name(), "xn--slecteur-b1a._domainkey.example.com");
        assert!(with("i=@BÜCHER.example").is_err());
    }

    #[test]
    fn fws_in_base64() {
        let s = replace("b=BBBB", "b=BB\r\n\t BB").unwrap();
        assert_eq!(s.b, vec![4, 16, 65]);
        assert!(replace("bh=AAAA", "bh=A A\r\n AA").is_ok());
        assert!(replace("b=BBBB", "b=B!BB").is_err());
    }

    #[test]
    fn query_method() {
        assert!(with("q=dns/txt").is_ok());
        assert!(with("q=dns/txt:x-other").is_ok());
        assert!(with("q=dns").is_err());
    }

    #[test]
    fn strip_b() {
        let f = b"DKIM-Signature: a=1; b= ab\r\n cd ; bh=xy; b =zz";
        assert_eq!(
            strip_b_value(f),
            b"DKIM-Signature: a=1; b=; bh=xy; b =".to_vec()
        );
        // The borrowed fast path (b= last, once) and the copy agree.
        for f in [
            &b"DKIM-Signature: a=1; bh=xy; b= ab\r\n cd"[..],
            b"DKIM-Signature: a=1; bh=xy; b= ab\r\n cd ;",
            b"DKIM-Signature: a=1; bh=xy;\r\n\t b\r\n =ab",
            b"DKIM-Signature: b=1; bh=xy; b=zz",
            b"DKIM-Signature: a=1; bh=xy; bb=zz",
            b"DKIM-Signature: a=1; bh=xy; b",
            b"DKIM-Signature: a=1; bh=xy; =b",
            b"DKIM-Signature: a=1; b=1; bh=xy",
            b"DKIM-Signature",
            b"DKIM-Signature:",
            b"DKIM-Signature:b=",
            b"DKIM-Signature:;;b=x=y",
            b"",
        ] {
            assert_eq!(
                strip_b_value_cow(f).as_ref(),
                &strip_b_value_copy(f)[..],
                "{f:?}"
            );
        }
        assert!(matches!(
            strip_b_value_cow(b"X: a=1; b= ab\r\n cd"),
            Cow::Borrowed(b"X: a=1; b=")
        ));
    }

    /// `SigRef::field_without_b` gives what the copy gives, borrowed when
    /// `b=` is last.
    #[test]
    fn field_without_b() {
        let base = "v=1; a=rsa-sha256; d=example.com; s=s; h=From; bh=AAAA";
        for (value, borrowed) in [
            (format!("{base}; b=AAAA"), true),
            (format!("{base}; b = AA\r\n\tAA \r\n "), true),
            (format!("{base};\r\n b\r\n =\r\n AAAA"), true),
            (format!("{base}; b=AAAA;"), false),
            (format!("{base}; b=AAAA ; "), false),
            (format!("b=AAAA; {base}"), false),
            (format!("{base}; b=AAAA; t=1"), false),
            (format!("b =AA==;{base}"), false),
        ] {
            let content = format!("DKIM-Signature:{value}");
            let sig = SigRef::parse(&content.as_bytes()["DKIM-Signature:".len()..]).unwrap();
            let got = sig.field_without_b(content.as_bytes());
            assert_eq!(
                got.as_ref(),
                &strip_b_value_copy(content.as_bytes())[..],
                "{value:?}"
            );
            assert_eq!(matches!(got, Cow::Borrowed(_)), borrowed, "{value:?}");
            // A field the value does not lie in: the copy, still right.
            let other = content.clone();
            assert_eq!(
                sig.field_without_b(other.as_bytes()).as_ref(),
                &strip_b_value_copy(other.as_bytes())[..]
            );
        }
    }
}
