//! Canonicalization (RFC 6376 §3.4): header fields and a streaming body
//! canonicalizer.
//!
//! # Body
//!
//! [`BodyCanonicalizer`] is a state machine fed with [`update`] in chunks of
//! any size and closed with [`finish`]; the output goes to a [`Sink`]
//! (normally a hasher, so no canonicalized copy of the body is ever made).
//! Any split of the input — including a CR at the end of one chunk and its
//! LF at the start of the next — gives the same output as one call.
//! Runs of bytes that canonicalization leaves unchanged are passed to the
//! sink as slices of the input, not byte by byte.
//!
//! Only what may still be dropped is held back: trailing empty lines
//! (counted, not buffered), a pending whitespace run (relaxed) and a
//! pending CR; memory is O(1).
//!
//! # Line endings
//!
//! RFC 6376 canonicalizes CRLF-terminated lines. With
//! [`LineEndings::Crlf`] a bare LF or a bare CR is an ordinary data byte.
//! With [`LineEndings::BareLfAsCrlf`] an LF not preceded by CR is treated
//! as CRLF (for messages stored with Unix line endings). The verifier picks
//! `BareLfAsCrlf` only for a message that contains no CR at all (see
//! [`crate::dkim`]).
//!
//! [`update`]: BodyCanonicalizer::update
//! [`finish`]: BodyCanonicalizer::finish

use std::fmt;

/// A header canonicalization algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum HeaderCanon {
    /// `simple` (§3.4.1): the field exactly as it is.
    #[default]
    Simple,
    /// `relaxed` (§3.4.2): lower-case name, unfolded, whitespace compressed.
    Relaxed,
}

/// A body canonicalization algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum BodyCanon {
    /// `simple` (§3.4.3): trailing empty lines removed, one CRLF guaranteed.
    #[default]
    Simple,
    /// `relaxed` (§3.4.4): trailing whitespace removed, whitespace runs
    /// compressed, trailing empty lines removed.
    Relaxed,
}

impl HeaderCanon {
    /// `simple` or `relaxed`.
    pub fn as_str(self) -> &'static str {
        match self {
            HeaderCanon::Simple => "simple",
            HeaderCanon::Relaxed => "relaxed",
        }
    }
}

impl BodyCanon {
    /// `simple` or `relaxed`.
    pub fn as_str(self) -> &'static str {
        match self {
            BodyCanon::Simple => "simple",
            BodyCanon::Relaxed => "relaxed",
        }
    }
}

/// The `c=` tag value could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonError(pub String);

impl fmt::Display for CanonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid c= value {:?}", self.0)
    }
}

impl std::error::Error for CanonError {}

/// Parses a `c=` value (§3.5): `header[/body]`; a missing body part means
/// `simple`. Names are case-sensitive as written in the RFC grammar.
pub fn parse_c(value: &[u8]) -> Result<(HeaderCanon, BodyCanon), CanonError> {
    // The values signers write, compared whole (no UTF-8 check or split).
    use {BodyCanon as B, HeaderCanon as H};
    match value {
        b"relaxed/relaxed" => Ok((H::Relaxed, B::Relaxed)),
        b"relaxed/simple" | b"relaxed" => Ok((H::Relaxed, B::Simple)),
        b"simple/relaxed" => Ok((H::Simple, B::Relaxed)),
        b"simple/simple" | b"simple" => Ok((H::Simple, B::Simple)),
        _ => parse_c_general(value),
    }
}

/// [`parse_c`] for any value.
fn parse_c_general(value: &[u8]) -> Result<(HeaderCanon, BodyCanon), CanonError> {
    let err = || CanonError(String::from_utf8_lossy(value).into_owned());
    let s = std::str::from_utf8(value).map_err(|_| err())?;
    let (h, b) = match s.split_once('/') {
        Some((h, b)) => (h, Some(b)),
        None => (s, None),
    };
    let h = match h {
        "simple" => HeaderCanon::Simple,
        "relaxed" => HeaderCanon::Relaxed,
        _ => return Err(err()),
    };
    let b = match b {
        None | Some("simple") => BodyCanon::Simple,
        Some("relaxed") => BodyCanon::Relaxed,
        Some(_) => return Err(err()),
    };
    Ok((h, b))
}

/// How line endings in the input are interpreted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LineEndings {
    /// RFC 6376: only CRLF ends a line; bare CR and LF are data.
    #[default]
    Crlf,
    /// An LF not preceded by CR is read as CRLF (Unix-format files).
    BareLfAsCrlf,
}

/// Where canonicalized output goes.
pub trait Sink {
    /// Receives the next canonicalized bytes.
    fn write(&mut self, data: &[u8]);
}

impl Sink for Vec<u8> {
    fn write(&mut self, data: &[u8]) {
        self.extend_from_slice(data);
    }
}

/// 256 CRLFs, written in one call when held-back empty lines are flushed.
const CRLFS: [u8; 512] = {
    let mut a = [0u8; 512];
    let mut i = 0;
    while i < 512 {
        a[i] = b'\r';
        a[i + 1] = b'\n';
        i += 2;
    }
    a
};

fn write_crlfs<S: Sink + ?Sized>(sink: &mut S, mut n: u64) {
    let per = (CRLFS.len() / 2) as u64;
    while n > 0 {
        let k = n.min(per);
        // k <= 256, so the cast cannot truncate.
        sink.write(&CRLFS[..(k as usize) * 2]);
        n -= k;
    }
}

/// Streaming body canonicalizer (RFC 6376 §3.4.3, §3.4.4).
///
/// ```
/// use sender_auth::dkim::canon::{BodyCanon, BodyCanonicalizer, LineEndings};
/// let mut out = Vec::new();
/// let mut c = BodyCanonicalizer::new(BodyCanon::Relaxed, LineEndings::Crlf);
/// c.update(b"line 1 \t\r", &mut out);
/// c.update(b"\nline  2\r\n\r\n", &mut out);
/// c.finish(&mut out);
/// assert_eq!(out, b"line 1\r\nline 2\r\n");
/// ```
#[derive(Debug, Clone)]
pub struct BodyCanonicalizer {
    canon: BodyCanon,
    endings: LineEndings,
    /// Empty lines (CRLFs) held back: dropped if nothing follows.
    pending_crlfs: u64,
    /// A CR at the end of the last chunk whose meaning depends on the next byte.
    pending_cr: bool,
    /// Relaxed: whitespace seen in the current line, not yet written.
    pending_wsp: bool,
    /// Relaxed: the current line has content already written.
    line_has_content: bool,
    /// BareLfAsCrlf: the last byte given to `update` was CR.
    prev_cr: bool,
}

/// Scan-then-hash granularity of [`BodyCanonicalizer::update`] (fits in L1).
const PIECE: usize = 16 * 1024;

#[inline]
fn is_wsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// True when relaxed body canonicalization may change the input at `b`
/// followed by `next`: an HTAB, or an SP followed by SP, HTAB or CR (a
/// whitespace run to compress, or whitespace at the end of a line). Every
/// other byte is copied unchanged, given that the run around it is handled
/// by the caller (see [`next_special`]).
#[inline(always)]
fn special_pair(b: u8, next: u8) -> bool {
    (b == b'\t') | ((b == b' ') & ((next == b' ') | (next == b'\t') | (next == b'\r')))
}

/// The first position `p >= from` in `data` where relaxed canonicalization
/// has work to do: [`special_pair`], or an SP or CR in the last byte (its
/// meaning depends on the next chunk); `data.len()` if there is none.
///
/// The bulk of the input is scanned in 64-byte blocks with a branch-free
/// test per block, which the compiler turns into SIMD compares (no
/// `unsafe`, no intrinsics): a text body is scanned at several GB/s, well
/// above the speed of SHA-256, so canonicalization costs little more than
/// one pass over memory that is hashed anyway.
fn next_special(data: &[u8], from: usize) -> usize {
    const B: usize = 64;
    let n = data.len();
    let mut k = from;
    // Blocks need one byte of look-ahead: each block is read twice, at k
    // and at k + 1, so that the pair test needs no shuffles.
    while k + B < n {
        let (Some(here), Some(next)) = (data.get(k..k + B), data.get(k + 1..k + B + 1)) else {
            break;
        };
        let (Ok(here), Ok(next)) = (<&[u8; B]>::try_from(here), <&[u8; B]>::try_from(next)) else {
            break;
        };
        // A conservative filter: HTAB anywhere, or SP followed by SP or CR.
        // (SP followed by HTAB is found through the HTAB; the exact scan
        // below starts one byte early for an HTAB at the block's start.)
        let mut hit = false;
        for j in 0..B {
            let (b, c) = (here[j], next[j]);
            hit |= (b == b'\t') | ((b == b' ') & ((c == b' ') | (c == b'\r')));
        }
        if hit {
            break;
        }
        k += B;
    }
    // The tail (at most B octets, without a look-ahead octet): the same
    // test on a copy padded with octets that are never special, so that a
    // tail without work (the usual case) needs no scan octet by octet.
    if k + B >= n
        && let Some(rest) = data.get(k..)
        && let Some(&last) = rest.last()
    {
        let mut pad = [b'a'; B + 1];
        if let Some(dst) = pad.get_mut(..rest.len()) {
            dst.copy_from_slice(rest);
        }
        let mut hit = false;
        for j in 0..B {
            let (b, c) = (pad[j], pad[j + 1]);
            hit |= (b == b'\t') | ((b == b' ') & ((c == b' ') | (c == b'\r')));
        }
        if !hit {
            // Only the last octet may need work (its meaning depends on
            // the next chunk); k <= n - 1, so it is at or after `from`.
            return if matches!(last, b' ' | b'\t' | b'\r') {
                n - 1
            } else {
                n
            };
        }
    }
    if k > from {
        k -= 1;
    }
    while k + 1 < n {
        if special_pair(data[k], data[k + 1]) {
            return k;
        }
        k += 1;
    }
    if k + 1 == n && matches!(data[k], b' ' | b'\t' | b'\r') {
        return k;
    }
    n
}

impl BodyCanonicalizer {
    /// A canonicalizer for `canon`, reading line endings as `endings`.
    pub fn new(canon: BodyCanon, endings: LineEndings) -> Self {
        BodyCanonicalizer {
            canon,
            endings,
            pending_crlfs: 0,
            pending_cr: false,
            pending_wsp: false,
            line_has_content: false,
            prev_cr: false,
        }
    }

    /// Feeds the next chunk of the raw body.
    ///
    /// With relaxed canonicalization, large chunks are processed in pieces
    /// of 16 KiB, so that each piece is still in the L1 cache
    /// when the sink (the hasher) reads what the canonicalizer has just
    /// scanned.
    pub fn update<S: Sink + ?Sized>(&mut self, data: &[u8], sink: &mut S) {
        match self.canon {
            BodyCanon::Simple => self.update_piece(data, sink),
            BodyCanon::Relaxed => {
                for piece in data.chunks(PIECE) {
                    self.update_piece(piece, sink);
                }
            }
        }
    }

    fn update_piece<S: Sink + ?Sized>(&mut self, data: &[u8], sink: &mut S) {
        match self.endings {
            LineEndings::Crlf => self.core(data, sink),
            LineEndings::BareLfAsCrlf => {
                let mut start = 0;
                let mut i = 0;
                while let Some(off) = data[i..].iter().position(|&b| b == b'\n') {
                    let lf = i + off;
                    let cr_before = if lf == 0 {
                        self.prev_cr
                    } else {
                        data[lf - 1] == b'\r'
                    };
                    if !cr_before {
                        self.core(&data[start..lf], sink);
                        self.core(b"\r\n", sink);
                        start = lf + 1;
                    }
                    i = lf + 1;
                }
                self.core(&data[start..], sink);
                if let Some(&last) = data.last() {
                    self.prev_cr = last == b'\r';
                }
            }
        }
    }

    /// Ends the body and writes what canonicalization adds at the end.
    pub fn finish<S: Sink + ?Sized>(mut self, sink: &mut S) {
        match self.canon {
            BodyCanon::Simple => {
                if self.pending_cr {
                    // A CR not followed by LF is data; the body does not
                    // end with CRLF.
                    write_crlfs(sink, self.pending_crlfs);
                    sink.write(b"\r");
                }
                // Trailing empty lines are dropped; exactly one CRLF ends
                // the body (also an empty one, §3.4.3).
                sink.write(b"\r\n");
            }
            BodyCanon::Relaxed => {
                if self.pending_cr {
                    self.relaxed_content(b"\r", sink);
                }
                if self.line_has_content {
                    sink.write(b"\r\n");
                }
            }
        }
    }

    fn core<S: Sink + ?Sized>(&mut self, data: &[u8], sink: &mut S) {
        if data.is_empty() {
            return;
        }
        match self.canon {
            BodyCanon::Simple => self.simple(data, sink),
            BodyCanon::Relaxed => self.relaxed(data, sink),
        }
    }

    fn simple<S: Sink + ?Sized>(&mut self, mut data: &[u8], sink: &mut S) {
        if self.pending_cr {
            self.pending_cr = false;
            if data[0] == b'\n' {
                self.pending_crlfs += 1;
                data = &data[1..];
            } else {
                write_crlfs(sink, self.pending_crlfs);
                self.pending_crlfs = 0;
                sink.write(b"\r");
            }
        }
        // The tail of the chunk that might be trailing empty lines:
        // (CRLF)* followed by an optional lone CR.
        let mut end = data.len();
        let mut tail_cr = false;
        if end > 0 && data[end - 1] == b'\r' {
            tail_cr = true;
            end -= 1;
        }
        let mut tail_crlfs = 0u64;
        while end >= 2 && data[end - 2] == b'\r' && data[end - 1] == b'\n' {
            end -= 2;
            tail_crlfs += 1;
        }
        if end > 0 {
            write_crlfs(sink, self.pending_crlfs);
            self.pending_crlfs = 0;
            sink.write(&data[..end]);
        }
        self.pending_crlfs += tail_crlfs;
        self.pending_cr = tail_cr;
    }

    /// Relaxed: writes content bytes (no WSP, no line end), after flushing
    /// held-back empty lines and whitespace.
    #[inline]
    fn relaxed_content<S: Sink + ?Sized>(&mut self, run: &[u8], sink: &mut S) {
        if self.pending_crlfs > 0 {
            write_crlfs(sink, self.pending_crlfs);
            self.pending_crlfs = 0;
        }
        if self.pending_wsp {
            sink.write(b" ");
            self.pending_wsp = false;
        }
        sink.write(run);
        self.line_has_content = true;
    }

    fn relaxed_eol<S: Sink + ?Sized>(&mut self, sink: &mut S) {
        self.pending_wsp = false;
        if self.line_has_content {
            sink.write(b"\r\n");
            self.line_has_content = false;
        } else {
            self.pending_crlfs += 1;
        }
    }

    fn relaxed<S: Sink + ?Sized>(&mut self, data: &[u8], sink: &mut S) {
        let mut i = 0;
        if self.pending_cr {
            self.pending_cr = false;
            if data[0] == b'\n' {
                self.relaxed_eol(sink);
                i = 1;
            } else {
                self.relaxed_content(b"\r", sink);
            }
        }
        let n = data.len();
        while i < n {
            let b = data[i];
            if is_wsp(b) {
                self.pending_wsp = true;
                i += 1;
                while i < n && is_wsp(data[i]) {
                    i += 1;
                }
                continue;
            }
            if b == b'\r' {
                if i + 1 == n {
                    self.pending_cr = true;
                    return;
                }
                if data[i + 1] == b'\n' {
                    self.relaxed_eol(sink);
                    i += 2;
                    continue;
                }
                // A bare CR is data: fall through to the run below.
            }
            // A run that relaxed canonicalization leaves unchanged: content
            // bytes (not WSP), single spaces between content bytes, bare CRs
            // and LFs, and CRLFs (also empty lines) between lines that end
            // and start with content. It reaches up to the next byte that
            // needs work (see `next_special`), less any CRLFs at its end
            // (they might be trailing empty lines, or end the line before a
            // whitespace run), and is written as one slice.
            let start = i;
            let mut end = next_special(data, i + 1);
            while end >= start + 3 && data[end - 2] == b'\r' && data[end - 1] == b'\n' {
                end -= 2;
            }
            i = end;
            self.relaxed_content(&data[start..i], sink);
        }
    }
}

/// Canonicalizes a whole body in one call (convenience for tests and the
/// signer of small messages).
pub fn canonicalize_body(canon: BodyCanon, endings: LineEndings, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 2);
    let mut c = BodyCanonicalizer::new(canon, endings);
    c.update(body, &mut out);
    c.finish(&mut out);
    out
}

/// Canonicalizes one header field given as its raw bytes (`name:value`,
/// with folding and, optionally, the final line ending), appending the
/// result, which always ends with CRLF, to `out`.
///
/// * simple (§3.4.1): unchanged; with `BareLfAsCrlf` bare LFs become
///   CRLF; a missing final line ending is supplied.
/// * relaxed (§3.4.2): name lower-cased, WSP after the name and around the
///   colon removed, line breaks of folded lines removed, WSP runs
///   compressed to one SP, WSP at the ends of the value removed.
///
/// A field without colon is treated as a name with an empty value.
pub fn canonicalize_header(
    canon: HeaderCanon,
    endings: LineEndings,
    raw: &[u8],
    out: &mut Vec<u8>,
) {
    canonicalize_header_to(canon, endings, raw, out);
}

/// Where canonicalized header fields go: a vector, or (on the verify path)
/// a small buffer in front of the header hash, so that no canonicalized
/// copy of the header section is allocated.
pub(crate) trait ByteOut {
    /// Appends one octet.
    fn put_byte(&mut self, b: u8);
    /// Appends octets.
    fn put(&mut self, data: &[u8]);
    /// Appends octets with ASCII letters lower-cased (a field name).
    fn put_lower(&mut self, data: &[u8]) {
        for &b in data {
            self.put_byte(b.to_ascii_lowercase());
        }
    }
}

impl ByteOut for Vec<u8> {
    #[inline]
    fn put_byte(&mut self, b: u8) {
        Vec::push(self, b);
    }

    #[inline]
    fn put(&mut self, data: &[u8]) {
        self.extend_from_slice(data);
    }
}

/// The first position `p >= from` in `value` where relaxed header
/// canonicalization may have work to do, or `value.len()`: an octet of at
/// most 0x20 other than SP (HTAB, CR, LF; other control characters are
/// data, but stopping there is harmless), or an SP followed by such an
/// octet, by another SP, or by the end of the value. Every other octet,
/// a single SP between two octets above 0x20 included, is copied
/// unchanged. Eight octets at a time (SWAR, exact per-octet masks, no
/// `unsafe`), so spaces between words cost no stop.
fn next_header_special(value: &[u8], from: usize) -> usize {
    const SP: u64 = 0x2020_2020_2020_2020;
    let n = value.len();
    let low = |p: usize| value.get(p).is_none_or(|&b| b <= 0x20);
    let mut k = from;
    while let Some(c) = value.get(k..k.saturating_add(8))
        && let Ok(c) = <[u8; 8]>::try_from(c)
    {
        let w = u64::from_le_bytes(c);
        let lows = crate::taglist::low_octets(w);
        if lows != 0 {
            let sp = crate::taglist::zero_octets(w ^ SP);
            // Bit 8j + 7: octet j + 1 is low (for j = 7, the octet after
            // the word; past the end counts as low).
            let low_after = (lows >> 8) | (u64::from(low(k + 8)) << 63);
            let special = (lows & !sp) | (sp & low_after);
            if special != 0 {
                return k + (special.trailing_zeros() / 8) as usize;
            }
        }
        k += 8;
    }
    // The last few octets, one at a time.
    while let Some(&b) = value.get(k) {
        if b <= 0x20 && (b != b' ' || low(k + 1)) {
            return k;
        }
        k += 1;
    }
    n
}

/// The scan [`next_header_special`] replaced (the first SP, HTAB, CR or LF
/// at or after `from`), kept as a reference for its tests.
#[cfg(test)]
fn next_header_wsp(value: &[u8], from: usize) -> usize {
    value
        .get(from..)
        .and_then(|v| {
            v.iter()
                .position(|&b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        })
        .map_or(value.len(), |p| from + p)
}

/// [`canonicalize_header`] into any [`ByteOut`].
pub(crate) fn canonicalize_header_to<O: ByteOut>(
    canon: HeaderCanon,
    endings: LineEndings,
    raw: &[u8],
    out: &mut O,
) {
    // Strip the final line ending.
    let content = raw
        .strip_suffix(b"\r\n")
        .or_else(|| raw.strip_suffix(b"\n"))
        .unwrap_or(raw);
    canonicalize_header_content_to(canon, endings, content, out);
    out.put(b"\r\n");
}

/// Like [`canonicalize_header`] for a field without its final line ending,
/// and without adding one (as for the DKIM-Signature field itself, §3.7).
pub fn canonicalize_header_content(
    canon: HeaderCanon,
    endings: LineEndings,
    content: &[u8],
    out: &mut Vec<u8>,
) {
    canonicalize_header_content_to(canon, endings, content, out);
}

/// [`canonicalize_header_content`] into any [`ByteOut`].
pub(crate) fn canonicalize_header_content_to<O: ByteOut>(
    canon: HeaderCanon,
    endings: LineEndings,
    content: &[u8],
    out: &mut O,
) {
    match canon {
        HeaderCanon::Simple => match endings {
            LineEndings::Crlf => out.put(content),
            LineEndings::BareLfAsCrlf => {
                let mut prev = 0u8;
                for &b in content {
                    if b == b'\n' && prev != b'\r' {
                        out.put_byte(b'\r');
                    }
                    out.put_byte(b);
                    prev = b;
                }
            }
        },
        HeaderCanon::Relaxed => {
            let (name, value) = match content.iter().position(|&b| b == b':') {
                Some(c) => (&content[..c], &content[c + 1..]),
                None => (content, &content[content.len()..]),
            };
            let mut name = name;
            while let [rest @ .., b' ' | b'\t'] = name {
                name = rest;
            }
            out.put_lower(name);
            out.put_byte(b':');
            // Unfold: every LF in a field value is a folding line break
            // (with the CR before it, if any); remove them. Then compress.
            let mut pending_wsp = false;
            let mut started = false;
            let mut i = 0;
            let n = value.len();
            while i < n {
                match value[i] {
                    b'\r' if value.get(i + 1) == Some(&b'\n') => i += 2,
                    b'\n' => i += 1,
                    b' ' | b'\t' => {
                        pending_wsp = true;
                        i += 1;
                    }
                    _ => {
                        if pending_wsp && started {
                            out.put_byte(b' ');
                        }
                        pending_wsp = false;
                        started = true;
                        // Copy the run of bytes relaxed leaves alone in one go
                        // (a bare CR is data; it ends the run and is copied
                        // by the next round unless an LF follows). A single
                        // SP between two such bytes is left alone too (it
                        // would be compressed to itself), so a run goes on
                        // over it: one copy per line rather than per word.
                        let start = i;
                        i = next_header_special(value, i + 1);
                        out.put(value.get(start..i).unwrap_or_default());
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(c: BodyCanon, s: &str) -> String {
        String::from_utf8(canonicalize_body(c, LineEndings::Crlf, s.as_bytes())).unwrap()
    }

    /// Relaxed header canonicalization as it was before runs went on over
    /// single spaces (the reference for the proptest below).
    fn relaxed_header_reference(content: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let (name, value) = match content.iter().position(|&b| b == b':') {
            Some(c) => (&content[..c], &content[c + 1..]),
            None => (content, &content[content.len()..]),
        };
        let mut name = name;
        while let [rest @ .., b' ' | b'\t'] = name {
            name = rest;
        }
        out.extend(name.iter().map(u8::to_ascii_lowercase));
        out.push(b':');
        let mut pending_wsp = false;
        let mut started = false;
        let mut i = 0;
        while i < value.len() {
            match value[i] {
                b'\r' if value.get(i + 1) == Some(&b'\n') => i += 2,
                b'\n' => i += 1,
                b' ' | b'\t' => {
                    pending_wsp = true;
                    i += 1;
                }
                b => {
                    if pending_wsp && started {
                        out.push(b' ');
                    }
                    pending_wsp = false;
                    started = true;
                    out.push(b);
                    i += 1;
                }
            }
        }
        out
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(10_000))]
        #[test]
        fn relaxed_header_matches_reference(
            v in proptest::collection::vec(
                proptest::sample::select(b"aB: \t\r\n;=x\x00\xff".to_vec()),
                0..40,
            )
        ) {
            let mut got = Vec::new();
            canonicalize_header_content_to(HeaderCanon::Relaxed, LineEndings::Crlf, &v, &mut got);
            proptest::prop_assert_eq!(got, relaxed_header_reference(&v));
        }
    }

    #[test]
    fn relaxed_header_long_values() {
        for v in [
            &b"Subject: one two  three\r\n\tfour five six seven eight nine ten eleven"[..],
            b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com;\r\n s=s; b=",
            b"X:  a b c d e f g h i j k l m n o p q r s t u v w x y z   ",
            b"X: a\rb c \r d\r\n e",
        ] {
            let mut got = Vec::new();
            canonicalize_header_content_to(HeaderCanon::Relaxed, LineEndings::Crlf, v, &mut got);
            assert_eq!(got, relaxed_header_reference(v), "{v:?}");
        }
    }

    fn hdr(c: HeaderCanon, s: &str) -> String {
        let mut out = Vec::new();
        canonicalize_header(c, LineEndings::Crlf, s.as_bytes(), &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn simple_body_edges() {
        use BodyCanon::Simple as S;
        assert_eq!(body(S, ""), "\r\n");
        assert_eq!(body(S, "\r\n\r\n"), "\r\n");
        assert_eq!(body(S, "a"), "a\r\n");
        assert_eq!(body(S, "a \r\n \r\n\r\n"), "a \r\n \r\n");
        assert_eq!(body(S, "a\r\n\r\nb\r\n"), "a\r\n\r\nb\r\n");
        assert_eq!(body(S, "a\r"), "a\r\r\n");
        assert_eq!(body(S, "a\n\n"), "a\n\n\r\n");
    }

    #[test]
    fn relaxed_body_edges() {
        use BodyCanon::Relaxed as R;
        assert_eq!(body(R, ""), "");
        assert_eq!(body(R, "\r\n"), "");
        assert_eq!(body(R, " \t\r\n \r\n"), "");
        assert_eq!(body(R, "a  b \t\r\n"), "a b\r\n");
        assert_eq!(body(R, " a"), " a\r\n");
        assert_eq!(body(R, "a\r\n\r\n \r\nb"), "a\r\n\r\n\r\nb\r\n");
        assert_eq!(body(R, "a\rb"), "a\rb\r\n");
        assert_eq!(body(R, "a \r"), "a \r\r\n");
    }

    /// Counts sink calls: unchanged runs must be passed through as slices.
    #[derive(Default)]
    struct Calls(usize, usize);
    impl Sink for Calls {
        fn write(&mut self, data: &[u8]) {
            self.0 += 1;
            self.1 += data.len();
        }
    }

    #[test]
    fn runs_are_written_as_slices() {
        let body = "The quick brown fox jumps over the lazy dog.\r\n".repeat(1000);
        let mut c = Calls::default();
        let mut s = BodyCanonicalizer::new(BodyCanon::Simple, LineEndings::Crlf);
        s.update(body.as_bytes(), &mut c);
        s.finish(&mut c);
        assert!(c.0 <= 3, "simple: {} writes", c.0);
        assert_eq!(c.1, body.len());
        let mut c = Calls::default();
        let mut r = BodyCanonicalizer::new(BodyCanon::Relaxed, LineEndings::Crlf);
        r.update(body.as_bytes(), &mut c);
        r.finish(&mut c);
        // A few writes at each piece boundary (a held-back line end).
        let pieces = body.len().div_ceil(PIECE);
        assert!(c.0 <= 3 * pieces + 3, "relaxed: {} writes", c.0);
        assert_eq!(c.1, body.len());
    }

    #[test]
    fn many_held_back_empty_lines() {
        let input = format!("a{}b", "\r\n".repeat(600));
        for c in [BodyCanon::Simple, BodyCanon::Relaxed] {
            assert_eq!(body(c, &input), format!("{input}\r\n"));
            assert_eq!(body(c, &format!("a{}", "\r\n".repeat(600))), "a\r\n");
        }
    }

    #[test]
    fn bare_lf_mode() {
        let b = canonicalize_body(BodyCanon::Simple, LineEndings::BareLfAsCrlf, b"a\nb\n\n");
        assert_eq!(b, b"a\r\nb\r\n");
        let b = canonicalize_body(BodyCanon::Relaxed, LineEndings::BareLfAsCrlf, b"a \n\n");
        assert_eq!(b, b"a\r\n");
    }

    #[test]
    fn every_split_matches() {
        let inputs: [&[u8]; 4] = [
            b"a  b\r\n\r\n \t \r\nc\r\r\n\r\n\r",
            b"\r\r\n \r\n x\ty\r\n\r\n",
            b"l1 \r\nl2\n\n\r\n",
            b"",
        ];
        for input in inputs {
            for canon in [BodyCanon::Simple, BodyCanon::Relaxed] {
                for endings in [LineEndings::Crlf, LineEndings::BareLfAsCrlf] {
                    let whole = canonicalize_body(canon, endings, input);
                    for i in 0..=input.len() {
                        for j in i..=input.len() {
                            let mut out = Vec::new();
                            let mut c = BodyCanonicalizer::new(canon, endings);
                            c.update(&input[..i], &mut out);
                            c.update(&input[i..j], &mut out);
                            c.update(&input[j..], &mut out);
                            c.finish(&mut out);
                            assert_eq!(out, whole, "{input:?} split {i},{j} {canon:?} {endings:?}");
                        }
                    }
                }
            }
        }
    }

    /// [`next_special`] octet by octet (the reference for its tests).
    fn next_special_reference(data: &[u8], from: usize) -> usize {
        let n = data.len();
        (from..n)
            .find(|&p| match data.get(p + 1) {
                Some(&c) => special_pair(data[p], c),
                None => matches!(data[p], b' ' | b'\t' | b'\r'),
            })
            .unwrap_or(n)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(20_000))]
        /// The block scan (and its padded tail) finds what a plain scan
        /// finds, wherever the special octets are.
        #[test]
        fn next_special_matches_reference(
            len in 0usize..300,
            specials in proptest::collection::vec(
                (0usize..300, proptest::sample::select(b" \t\r\nx".to_vec())),
                0..6,
            ),
            from in 0usize..301,
        ) {
            let mut data: Vec<u8> = b"ab cd\r\nefg h".iter().copied().cycle().take(len).collect();
            for (i, b) in specials {
                if let Some(d) = data.get_mut(i) {
                    *d = b;
                }
            }
            let from = from.min(data.len());
            proptest::prop_assert_eq!(
                next_special(&data, from),
                next_special_reference(&data, from)
            );
        }
    }

    /// [`next_header_special`] octet by octet.
    fn next_header_special_reference(v: &[u8], from: usize) -> usize {
        let low = |p: usize| v.get(p).is_none_or(|&b| b <= 0x20);
        (from..v.len())
            .find(|&p| v[p] <= 0x20 && (v[p] != b' ' || low(p + 1)))
            .unwrap_or(v.len())
    }

    #[test]
    fn header_special_scan_matches_plain_scan() {
        let v: Vec<u8> = (0u8..=255)
            .chain(b"abc def\tghijklmnop\r\nqrstuvwxyz0123 ".iter().copied())
            .chain(b"a b c  d\x01 e \x7f\x80 \xff ".iter().copied())
            .collect();
        for start in [0, 33, 40] {
            let v = &v[start..];
            for from in 0..=v.len() {
                assert_eq!(
                    next_header_special(v, from),
                    next_header_special_reference(v, from),
                    "{start} {from}"
                );
            }
        }
        assert_eq!(next_header_special(b"abcdefghijkl", 3), 12);
        assert_eq!(next_header_special(b"abcdefgh ", 3), 8);
        assert_eq!(next_header_special(b"abcdefg h", 3), 9);
        assert_eq!(next_header_special(b"", 0), 0);
        // The scan it replaced stopped at every SP, HTAB, CR and LF.
        assert_eq!(next_header_wsp(b"ab c", 0), 2);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(20_000))]
        #[test]
        fn header_special_scan_matches_reference(
            v in proptest::collection::vec(
                proptest::sample::select(b"aaaaaa  \t\r\n\x00\x1f\x21\x7f\x80\xa0\xff".to_vec()),
                0..48,
            ),
            from in 0usize..49,
        ) {
            let from = from.min(v.len());
            proptest::prop_assert_eq!(
                next_header_special(&v, from),
                next_header_special_reference(&v, from)
            );
        }

        /// Longer header values, the relaxed output compared with the
        /// octet-by-octet reference.
        #[test]
        fn relaxed_header_long_matches_reference(
            v in proptest::collection::vec(
                proptest::sample::select(b"aaaaaaaaaBcd;=  \t\r\n\x00\xa0".to_vec()),
                0..200,
            )
        ) {
            let mut v = v;
            v.splice(0..0, b"Name:".iter().copied());
            let mut got = Vec::new();
            canonicalize_header_content_to(HeaderCanon::Relaxed, LineEndings::Crlf, &v, &mut got);
            proptest::prop_assert_eq!(got, relaxed_header_reference(&v));
        }
    }

    #[test]
    fn parse_c_fast_path_matches_general() {
        for v in [
            &b"relaxed/relaxed"[..],
            b"relaxed/simple",
            b"relaxed",
            b"simple/relaxed",
            b"simple/simple",
            b"simple",
            b"Relaxed/relaxed",
            b"relaxed/",
            b"relaxed/relaxed/x",
        ] {
            assert_eq!(parse_c(v), parse_c_general(v), "{v:?}");
        }
    }

    #[test]
    fn headers() {
        use HeaderCanon::*;
        assert_eq!(hdr(Simple, "Foo  : bar\r\n"), "Foo  : bar\r\n");
        assert_eq!(hdr(Simple, "Foo: bar"), "Foo: bar\r\n");
        assert_eq!(
            hdr(Relaxed, "SubjeCT \t:\t Ki \tmi \t \r\n No\r\n"),
            "subject:Ki mi No\r\n"
        );
        assert_eq!(hdr(Relaxed, "X:\r\n  \r\n"), "x:\r\n");
        let mut out = Vec::new();
        canonicalize_header(Simple, LineEndings::BareLfAsCrlf, b"A: b\n c\n", &mut out);
        assert_eq!(out, b"A: b\r\n c\r\n");
    }

    #[test]
    fn c_tag() {
        assert_eq!(
            parse_c(b"relaxed").unwrap(),
            (HeaderCanon::Relaxed, BodyCanon::Simple)
        );
        assert_eq!(
            parse_c(b"simple/relaxed").unwrap(),
            (HeaderCanon::Simple, BodyCanon::Relaxed)
        );
        for bad in [
            &b""[..],
            b"simple/simple/simple",
            b"relaxed/stressed",
            b"worried",
            b"/",
        ] {
            assert!(parse_c(bad).is_err());
        }
    }
}
