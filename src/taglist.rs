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

fn is_fws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
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

/// Parses a tag-list. An empty input, or one holding only whitespace and a
/// `;`, gives an empty list.
pub fn parse(input: &[u8]) -> Result<Vec<Tag<'_>>, TagListError> {
    let mut tags: Vec<Tag<'_>> = Vec::new();
    // Names seen so far: a set, so that a list of n distinct tags costs
    // O(n), not O(n²) (a 1 MB header of distinct tags is ~130,000 tags).
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
            let valid_name = name.first().is_some_and(u8::is_ascii_alphabetic)
                && name.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_');
            if !valid_name {
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

    #[test]
    fn fws_inside_values() {
        let t = parse(b"b=abc\r\n def ;").unwrap();
        assert_eq!(t[0].value, b"abc\r\n def");
        assert_eq!(strip_fws(t[0].value), b"abcdef");
    }
}
