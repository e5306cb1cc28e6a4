//! Tag=value lists (RFC 6376 §3.2), shared by DKIM signatures, DKIM key
//! records and DMARC records.
//!
//! ```text
//! tag-list  =  tag-spec *( ";" tag-spec ) [ ";" ]
//! tag-spec  =  [FWS] tag-name [FWS] "=" [FWS] tag-value [FWS]
//! tag-name  =  ALPHA *ALNUMPUNC        ; ALNUMPUNC = ALPHA / DIGIT / "_"
//! tag-value =  [ tval *( 1*(WSP / FWS) tval ) ]
//! tval      =  1*VALCHAR               ; %x21-3A / %x3C-7E
//! ```
//!
//! The parser is pure and total: it borrows from the input and returns the
//! tags in order, or a precise error. Tag names are compared
//! case-sensitively by the protocols (RFC 6376 §3.2); a duplicate name is an
//! error. Values keep their inner folding whitespace (callers such as `b=`
//! strip it); surrounding whitespace is removed. Bytes ≥ 0x80 are accepted
//! inside values (RFC 8616 allows UTF-8 in DKIM header contents).
//!
//! ```
//! use sender_auth::taglist;
//! let tags = taglist::parse(b"v=1; a=rsa-sha256;\r\n\td=example.com ; ").unwrap();
//! assert_eq!(tags.len(), 3);
//! assert_eq!(tags[2].name, "d");
//! assert_eq!(tags[2].value, b"example.com");
//! assert!(taglist::parse(b"a=1; a=2").is_err());
//! ```

use std::collections::HashSet;
use std::fmt;

/// One `tag=value` pair, borrowed from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tag<'a> {
    /// The tag name (ASCII letters, digits and `_`, starting with a letter).
    pub name: &'a str,
    /// The value, surrounding whitespace removed, inner FWS kept.
    pub value: &'a [u8],
}

/// Why a tag-list did not parse. Offsets are into the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagListError {
    /// A tag-spec has no `=` (at this offset).
    MissingEquals(usize),
    /// A tag name is empty or not `ALPHA *ALNUMPUNC` (at this offset).
    InvalidName(usize),
    /// A tag appears twice.
    Duplicate(String),
    /// A value holds a byte not allowed in a tag-value (at this offset).
    InvalidValue(usize),
}

impl fmt::Display for TagListError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TagListError::MissingEquals(p) => write!(f, "tag without '=' at offset {p}"),
            TagListError::InvalidName(p) => write!(f, "invalid tag name at offset {p}"),
            TagListError::Duplicate(n) => write!(f, "duplicate tag {n}="),
            TagListError::InvalidValue(p) => {
                write!(f, "invalid character in tag value at offset {p}")
            }
        }
    }
}

impl std::error::Error for TagListError {}

/// `tag-name = ALPHA *ALNUMPUNC` (RFC 6376 §3.2; `ALNUMPUNC` is
/// `ALPHA / DIGIT / "_"`).
fn is_tag_name(name: &[u8]) -> bool {
    name.first().is_some_and(u8::is_ascii_alphabetic)
        && name.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Folding whitespace octets of a tag-list (SP, HTAB, CR, LF).
pub(crate) fn is_fws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// 0x01, 0x80 and 0x7F in every octet of a word (for the SWAR helpers here
/// and in the SPF record scanner).
pub(crate) const LO: u64 = 0x0101_0101_0101_0101;
pub(crate) const HI: u64 = 0x8080_8080_8080_8080;
pub(crate) const M7: u64 = 0x7f7f_7f7f_7f7f_7f7f;

/// Eight octets from `c` (up to 8 long) as a little-endian word, the
/// missing tail filled with `fill`.
#[inline(always)]
pub(crate) fn word(c: &[u8], fill: u8) -> u64 {
    if let Ok(w) = <[u8; 8]>::try_from(c) {
        return u64::from_le_bytes(w);
    }
    // A short tail: octet by octet (a variable-length copy would be a
    // memcpy call).
    let mut w = [fill; 8];
    for (d, &b) in w.iter_mut().zip(c) {
        *d = b;
    }
    u64::from_le_bytes(w)
}

/// High bit set in each octet of `w` that is below `n` (`n` ≤ 0x80). Only
/// the lowest flagged octet is exact (a borrow can flag octets above it),
/// which is all a search needs.
#[inline(always)]
pub(crate) fn below(w: u64, n: u8) -> u64 {
    w.wrapping_sub(LO.wrapping_mul(u64::from(n))) & !w & HI
}

/// The first position of `needle` in `hay`: 32-octet blocks, then eight
/// octets at a time (SWAR: a zero-octet test on the word XOR the needle);
/// no `unsafe`.
#[inline]
pub(crate) fn find_byte(hay: &[u8], needle: u8) -> Option<usize> {
    // First 32-octet blocks with a compare-and-OR test and no early exit
    // inside a block, which rustc turns into SIMD compares (header lines
    // and DKIM `b=` values are 60-80 octets); the block that holds the
    // needle, and the tail, are searched eight octets at a time.
    const B: usize = 32;
    let mut base = 0;
    while let Some(block) = hay
        .get(base..base + B)
        .and_then(|b| <&[u8; B]>::try_from(b).ok())
    {
        let mut hit = false;
        for &b in block {
            hit |= b == needle;
        }
        if hit {
            break;
        }
        base += B;
    }
    let pat = LO.wrapping_mul(u64::from(needle));
    for c in hay.get(base..).unwrap_or_default().chunks(8) {
        let t = below(word(c, !needle) ^ pat, 1);
        if t != 0 {
            return Some(base + (t.trailing_zeros() / 8) as usize);
        }
        base += 8;
    }
    None
}

/// A byte not allowed in a tag-value: a control character other than
/// folding whitespace, or DEL (`;` ends the value before it is looked at).
#[inline]
fn bad_value_byte(b: u8) -> bool {
    (b < 0x20 && !is_fws(b)) || b == 0x7f
}

/// The position of the first [`bad_value_byte`] in `v`. Words of eight
/// octets without any control character or DEL are skipped whole (values
/// such as DKIM `b=` are hundreds of octets).
fn first_bad_value_byte(v: &[u8]) -> Option<usize> {
    let del = LO.wrapping_mul(0x7f);
    let mut base = 0;
    for c in v.chunks(8) {
        let w = word(c, b'a');
        if below(w, 0x20) | below(w ^ del, 1) != 0
            && let Some(i) = c.iter().position(|&b| bad_value_byte(b))
        {
            return Some(base + i);
        }
        base += 8;
    }
    None
}

/// 0x80 in each octet of `w` that is zero, and only there (no borrow
/// runs between octets, unlike [`below`]).
#[inline(always)]
pub(crate) fn zero_octets(w: u64) -> u64 {
    !(((w & M7).wrapping_add(M7)) | w | M7)
}

/// 0x80 in each octet of `w` that is at most 0x20 (SP, and the control
/// characters HTAB, CR, LF among them), exactly (no borrow between
/// octets: each 7-bit sum stays below 0x100).
#[inline(always)]
pub(crate) fn low_octets(w: u64) -> u64 {
    !(((w & M7).wrapping_add(0x5f5f_5f5f_5f5f_5f5f)) | w) & HI
}

/// The end of the tag-spec starting at `start` (the next `;`, or the input
/// length), and whether the spec holds any [`bad_value_byte`]: one pass,
/// eight octets at a time. Words without `;`, control characters or DEL
/// are skipped after a quick test; the others (a spec's last word, folding
/// whitespace) are examined with exact per-octet masks rather than octet
/// by octet.
fn spec_end(input: &[u8], start: usize) -> (usize, bool) {
    // First 32-octet blocks: one test per block without early exit (which
    // rustc vectorises) skips those without `;`, control characters or DEL
    // (most of a DKIM `b=` value); the words of the other blocks, and the
    // tail, are examined as below.
    const B: usize = 32;
    let mut bad = false;
    let mut base = start;
    while let Some(block) = input
        .get(base..base + B)
        .and_then(|b| <&[u8; B]>::try_from(b).ok())
    {
        let mut hit = false;
        for &b in block {
            hit |= (b == b';') | (b < 0x20) | (b == 0x7f);
        }
        if hit {
            for c in block.chunks_exact(8) {
                if let Some(end) = spec_word(word(c, b'a'), base, &mut bad) {
                    return end;
                }
                base += 8;
            }
        } else {
            base += B;
        }
    }
    for c in input.get(base..).unwrap_or_default().chunks(8) {
        if let Some(end) = spec_word(word(c, b'a'), base, &mut bad) {
            return end;
        }
        base += c.len();
    }
    (input.len(), bad)
}

/// One word of [`spec_end`]'s scan, its first octet at `base`: the end of
/// the spec if the word holds a `;`, and `bad` updated. Words without `;`,
/// control characters or DEL are passed after a quick test; the others (a
/// spec's last word, folding whitespace) are examined with exact per-octet
/// masks rather than octet by octet.
#[inline(always)]
fn spec_word(w: u64, base: usize, bad: &mut bool) -> Option<(usize, bool)> {
    let semi = LO.wrapping_mul(u64::from(b';'));
    let del = LO.wrapping_mul(0x7f);
    if below(w ^ semi, 1) | below(w, 0x20) | below(w ^ del, 1) != 0 {
        // Octets below 0x20 (top three bits clear) or DEL, except
        // HTAB, LF and CR.
        let ctrl = zero_octets(w & LO.wrapping_mul(0xe0)) | zero_octets(w ^ del);
        let fws = zero_octets(w ^ LO.wrapping_mul(b'\t'.into()))
            | zero_octets(w ^ LO.wrapping_mul(b'\n'.into()))
            | zero_octets(w ^ LO.wrapping_mul(b'\r'.into()));
        let bad_here = ctrl & !fws;
        let semis = zero_octets(w ^ semi);
        if semis != 0 {
            // The first ';' is octet k, flagged at bit 8k + 7; only the
            // octets before it belong to this spec.
            let bit = semis.trailing_zeros();
            let before = (1u64 << (bit - 7)).wrapping_sub(1);
            return Some((base + (bit / 8) as usize, *bad || bad_here & before != 0));
        }
        *bad |= bad_here != 0;
    }
    None
}

/// [`spec_end`] octet by octet (the reference for its tests).
#[cfg(test)]
fn spec_end_reference(input: &[u8], start: usize) -> (usize, bool) {
    let mut bad = false;
    for (i, &b) in input.iter().enumerate().skip(start) {
        if b == b';' {
            return (i, bad);
        }
        bad |= bad_value_byte(b);
    }
    (input.len(), bad)
}

fn trim(s: &[u8], mut start: usize, mut end: usize) -> (usize, usize) {
    while start < end && is_fws(s[start]) {
        start += 1;
    }
    while end > start && is_fws(s[end - 1]) {
        end -= 1;
    }
    (start, end)
}

/// An iterator over the tags of a tag-list, in order, borrowing from the
/// input and allocating nothing (see [`tags`]).
///
/// It checks the syntax of each tag-spec (name, `=`, value characters) but
/// not duplicates: a caller that needs the list without duplicates uses
/// [`parse`], or tracks the names it has seen (DKIM-Signature parsing does
/// this with fixed slots for the tags it knows). After the first error the
/// iterator ends.
#[derive(Debug, Clone)]
pub struct Tags<'a> {
    input: &'a [u8],
    start: usize,
}

/// Iterates over the tags of a tag-list without allocating; an empty input,
/// or one holding only whitespace and a `;`, yields nothing. Duplicate tag
/// names are **not** detected (use [`parse`] for that).
///
/// ```
/// use sender_auth::taglist;
/// let mut it = taglist::tags(b"v=1; b = x ;");
/// assert_eq!(it.next().unwrap().unwrap().value, b"1");
/// assert_eq!(it.next().unwrap().unwrap().name, "b");
/// assert!(it.next().is_none());
/// ```
pub fn tags(input: &[u8]) -> Tags<'_> {
    Tags { input, start: 0 }
}

/// A tag whose name is still octets (ASCII letters, digits and `_`,
/// checked), for callers that match names as octets (see
/// [`Tags::next_raw`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawTag<'a> {
    pub(crate) name: &'a [u8],
    pub(crate) value: &'a [u8],
}

impl<'a> Tags<'a> {
    /// Parses the tag-spec `input[s..e]` (already trimmed, non-empty).
    fn spec(&self, s: usize, e: usize, maybe_bad: bool) -> Result<RawTag<'a>, TagListError> {
        let input = self.input;
        let spec = input.get(s..e).unwrap_or_default();
        // Usual case, in one forward pass: a name of letters, digits and
        // `_` starting with a letter, optional whitespace, then `=` (which
        // is then the first `=`, and the name is what the general case
        // below would take).
        let name_len = spec
            .iter()
            .position(|&b| !(b.is_ascii_alphanumeric() || b == b'_'))
            .unwrap_or(spec.len());
        let eq_at = spec
            .get(name_len..)
            .and_then(|rest| rest.iter().position(|&b| !is_fws(b)))
            .map(|k| name_len + k);
        let (name, eq) = match eq_at {
            Some(q)
                if spec.get(q) == Some(&b'=')
                    && spec.first().is_some_and(u8::is_ascii_alphabetic) =>
            {
                (&spec[..name_len], s + q)
            }
            _ => {
                let eq = find_byte(spec, b'=')
                    .map(|i| s + i)
                    .ok_or(TagListError::MissingEquals(s))?;
                let (ns, ne) = trim(input, s, eq);
                let name = &input[ns..ne];
                if !is_tag_name(name) {
                    return Err(TagListError::InvalidName(ns));
                }
                (name, eq)
            }
        };
        let (vs, ve) = trim(input, eq + 1, e);
        let value = &input[vs..ve];
        // (`;` cannot occur: the spec ends at the first one.)
        if maybe_bad && let Some(i) = first_bad_value_byte(value) {
            return Err(TagListError::InvalidValue(vs + i));
        }
        Ok(RawTag { name, value })
    }

    /// The next tag as [`Iterator::next`] gives it, its name left as
    /// octets (no UTF-8 check: the name is ASCII).
    pub(crate) fn next_raw(&mut self) -> Option<Result<RawTag<'a>, TagListError>> {
        let input = self.input;
        while self.start <= input.len() {
            let start = self.start;
            let (end, maybe_bad) = spec_end(input, start);
            self.start = end + 1;
            let (s, e) = trim(input, start, end);
            if s < e {
                let r = self.spec(s, e, maybe_bad);
                if r.is_err() {
                    // Fused after an error.
                    self.start = input.len() + 1;
                }
                return Some(r);
            }
        }
        None
    }
}

impl<'a> Iterator for Tags<'a> {
    type Item = Result<Tag<'a>, TagListError>;

    fn next(&mut self) -> Option<Self::Item> {
        let start = self.start;
        let r = self.next_raw()?;
        Some(r.and_then(|t| {
            match std::str::from_utf8(t.name) {
                Ok(name) => Ok(Tag {
                    name,
                    value: t.value,
                }),
                // (Cannot happen: the name is ASCII.)
                Err(_) => Err(TagListError::InvalidName(start)),
            }
        }))
    }
}

/// Names seen so far in a tag-list, for duplicate detection: a short list
/// compared linearly, turned into a hash set once it grows, so that a list
/// of n distinct tags costs O(n), not O(n²) (a 1 MB header of distinct tags
/// is ~130,000 tags).
#[derive(Debug, Default)]
pub(crate) struct SeenNames<'a> {
    small: Vec<&'a str>,
    set: Option<HashSet<&'a str>>,
}

/// Up to this many names are compared linearly.
const SEEN_LINEAR_MAX: usize = 16;

impl<'a> SeenNames<'a> {
    /// Records `name`; false if it was already seen.
    pub(crate) fn insert(&mut self, name: &'a str) -> bool {
        if let Some(set) = &mut self.set {
            return set.insert(name);
        }
        if self.small.contains(&name) {
            return false;
        }
        if self.small.len() < SEEN_LINEAR_MAX {
            self.small.push(name);
        } else {
            let mut set: HashSet<&str> = self.small.drain(..).collect();
            set.insert(name);
            self.set = Some(set);
        }
        true
    }
}

/// Parses a tag-list. An empty input, or one holding only whitespace and a
/// `;`, gives an empty list. A duplicate tag name is an error.
pub fn parse(input: &[u8]) -> Result<Vec<Tag<'_>>, TagListError> {
    let mut out: Vec<Tag<'_>> = Vec::new();
    let mut seen = SeenNames::default();
    for tag in tags(input) {
        let tag = tag?;
        if !seen.insert(tag.name) {
            return Err(TagListError::Duplicate(tag.name.to_string()));
        }
        out.push(tag);
    }
    Ok(out)
}

/// Removes all folding whitespace (SP, HTAB, CR, LF) from a value, as
/// required for base64 values such as DKIM `b=`, `bh=` and `p=`.
pub fn strip_fws(value: &[u8]) -> Vec<u8> {
    value.iter().copied().filter(|&b| !is_fws(b)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_trailing() {
        assert_eq!(parse(b"").unwrap(), vec![]);
        assert_eq!(parse(b" ; ").unwrap(), vec![]);
        assert_eq!(parse(b"a=;").unwrap()[0].value, b"");
    }

    #[test]
    fn errors() {
        assert_eq!(parse(b"a=1; b"), Err(TagListError::MissingEquals(5)));
        assert_eq!(parse(b"1a=1"), Err(TagListError::InvalidName(0)));
        assert_eq!(parse(b"=1"), Err(TagListError::InvalidName(0)));
        assert_eq!(parse(b"a=\x001"), Err(TagListError::InvalidValue(2)));
        assert_eq!(
            parse(b"a=1;A=2;a=3"),
            Err(TagListError::Duplicate("a".into()))
        );
    }

    /// The parser before the single-pass iterator (kept as the reference:
    /// the same tags and the same first error for every input).
    fn reference_parse(input: &[u8]) -> Result<Vec<Tag<'_>>, TagListError> {
        let mut tags: Vec<Tag<'_>> = Vec::new();
        let mut seen: HashSet<&str> = HashSet::new();
        let mut start = 0;
        while start <= input.len() {
            let end = input[start..]
                .iter()
                .position(|&b| b == b';')
                .map_or(input.len(), |i| start + i);
            let (s, e) = trim(input, start, end);
            if s < e {
                let eq = input[s..e]
                    .iter()
                    .position(|&b| b == b'=')
                    .map(|i| s + i)
                    .ok_or(TagListError::MissingEquals(s))?;
                let (ns, ne) = trim(input, s, eq);
                let name = &input[ns..ne];
                if !is_tag_name(name) {
                    return Err(TagListError::InvalidName(ns));
                }
                let name = std::str::from_utf8(name).map_err(|_| TagListError::InvalidName(ns))?;
                let (vs, ve) = trim(input, eq + 1, e);
                let value = &input[vs..ve];
                if let Some(i) = value
                    .iter()
                    .position(|&b| b < 0x20 && !is_fws(b) || b == 0x7f || b == b';')
                {
                    return Err(TagListError::InvalidValue(vs + i));
                }
                if !seen.insert(name) {
                    return Err(TagListError::Duplicate(name.to_string()));
                }
                tags.push(Tag { name, value });
            }
            start = end + 1;
        }
        Ok(tags)
    }

    #[test]
    fn low_octets_is_exact() {
        for b in 0..=255u8 {
            for pos in 0..8 {
                let mut w = [b'x'; 8];
                w[pos] = b;
                let want = if b <= 0x20 { 0x80u64 << (8 * pos) } else { 0 };
                assert_eq!(low_octets(u64::from_le_bytes(w)), want, "{b} at {pos}");
            }
        }
    }

    #[test]
    fn zero_octets_is_exact() {
        for b in 0..=255u8 {
            for pos in 0..8 {
                let mut w = [b'x'; 8];
                w[pos] = b;
                let z = zero_octets(u64::from_le_bytes(w));
                let want = if b == 0 { 0x80u64 << (8 * pos) } else { 0 };
                assert_eq!(z, want, "{b} at {pos}");
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(20_000))]
        /// Long specs (the 32-octet blocks): runs of value octets with
        /// `;`, folding whitespace and bad octets here and there.
        #[test]
        fn long_spec_end_matches_reference(
            len in 0usize..200,
            marks in proptest::collection::vec(
                (0usize..200, proptest::sample::select(b";; \t\r\n\x00\x01\x1f\x7f\x80\xff".to_vec())),
                0..5,
            ),
            start in 0usize..201,
        ) {
            let mut v: Vec<u8> = b"AbcZ09+/=xy".iter().copied().cycle().take(len).collect();
            for (i, b) in marks {
                if let Some(d) = v.get_mut(i) {
                    *d = b;
                }
            }
            let start = start.min(v.len());
            proptest::prop_assert_eq!(spec_end(&v, start), spec_end_reference(&v, start));
        }

        #[test]
        fn spec_end_matches_reference(
            v in proptest::collection::vec(
                proptest::sample::select(b"a;; \t\r\n\x00\x01\x1f\x20\x7f\x80\xff=".to_vec()),
                0..40,
            ),
            start in 0usize..41,
        ) {
            let start = start.min(v.len());
            proptest::prop_assert_eq!(spec_end(&v, start), spec_end_reference(&v, start));
        }

        #[test]
        fn parse_matches_reference(
            v in proptest::collection::vec(
                proptest::sample::select(
                    b"abvdhq_1=; =;\r\n\t\x00\x1f\x7f\x80\xffAB".to_vec()
                ),
                0..48,
            )
        ) {
            proptest::prop_assert_eq!(parse(&v), reference_parse(&v));
        }

        #[test]
        fn long_values_match_reference(
            names in proptest::collection::vec(proptest::sample::select(vec!["a", "b", "bh", "x1", "a"]), 1..5),
            body in proptest::collection::vec(proptest::sample::select(b"AZaz09+/= \r\n\t\x01\x7f;".to_vec()), 0..120),
        ) {
            let mut v = Vec::new();
            for (i, n) in names.iter().enumerate() {
                v.extend_from_slice(n.as_bytes());
                v.push(b'=');
                v.extend_from_slice(&body[..(body.len() * (i + 1) / names.len())]);
                v.push(b';');
            }
            proptest::prop_assert_eq!(parse(&v), reference_parse(&v));
        }
    }

    #[test]
    fn block_scans_match_plain_scans() {
        let mut v: Vec<u8> = (0u8..=255).cycle().take(700).collect();
        for needle in [b';', b'\n', 0, 255] {
            for start in 0..70 {
                let hay = &v[start..];
                assert_eq!(
                    find_byte(hay, needle),
                    hay.iter().position(|&b| b == needle)
                );
            }
        }
        for needle in [b';', 0, 0x80, 255] {
            let without: Vec<u8> = v.iter().copied().filter(|&b| b != needle).collect();
            for len in 0..without.len().min(100) {
                assert_eq!(find_byte(&without[..len], needle), None);
                let mut with = without[..len].to_vec();
                with.push(needle);
                with.extend_from_slice(&[needle ^ 1, needle, 0x80, 0xff]);
                assert_eq!(find_byte(&with, needle), Some(len));
            }
        }
        v.retain(|&b| !bad_value_byte(b));
        for (i, bad) in [
            (0usize, 1u8),
            (31, 0x7f),
            (32, 0x1f),
            (100, 0),
            (v.len() - 1, 0x7f),
        ] {
            let mut w = v.clone();
            w[i] = bad;
            assert_eq!(first_bad_value_byte(&w), Some(i));
            let plain = w.iter().position(|&b| b < 0x20 && !is_fws(b) || b == 0x7f);
            assert_eq!(plain, Some(i));
        }
        assert_eq!(first_bad_value_byte(&v), None);
    }

    #[test]
    fn fws_inside_values() {
        let t = parse(b"b=abc\r\n def ;").unwrap();
        assert_eq!(t[0].value, b"abc\r\n def");
        assert_eq!(strip_fws(t[0].value), b"abcdef");
    }
}
