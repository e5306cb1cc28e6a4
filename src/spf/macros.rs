//! SPF macro strings (RFC 7208 §7): parsing and expansion.
//!
//! Parsing is pure and total: [`MacroString::parse`] turns the text of a
//! domain-spec, an unknown modifier's value or an explanation string into a
//! list of literal and macro parts, or a [`MacroError`] with the byte offset
//! of the problem. Expansion ([`MacroString::expand`],
//! [`MacroString::expand_domain`]) is pure too: the caller supplies every
//! value in [`MacroVars`], including the validated `%{p}` name, which needs
//! DNS and is therefore resolved by the evaluator beforehand.
//!
//! Memory is bounded for any input: a domain expansion only keeps the
//! right-most part it can ever need (the result is truncated to 253 octets
//! per §7.3 anyway), and an explanation is capped at
//! [`MAX_EXPLANATION_LEN`] octets.

use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use arrayvec::ArrayString;

/// Longest explanation text produced by expansion, in octets; the rest is
/// cut off (at a character boundary).
pub const MAX_EXPLANATION_LEN: usize = 2048;

/// Longest domain name produced by [`MacroString::expand_domain`] (RFC 7208
/// §7.3: "the left side is truncated to fit").
pub const MAX_DOMAIN_LEN: usize = 253;

/// How much of a domain expansion is kept while expanding: enough to find
/// the label boundary of the 253-octet truncation.
const DOMAIN_WINDOW: usize = 1024;

/// Where a macro string appears; it decides which characters and macro
/// letters are allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacroContext {
    /// A domain-spec of a mechanism or of `redirect=`/`exp=`: no spaces,
    /// and the letters `c`, `r`, `t` are forbidden (§7.1: "only in exp").
    Domain,
    /// The value of an unknown modifier: any macro letter, no spaces.
    Modifier,
    /// Explanation text fetched by `exp=` (§6.2): spaces and every letter
    /// allowed.
    Explanation,
}

/// A macro letter (RFC 7208 §7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MacroLetter {
    /// `s`: the `<sender>`.
    Sender,
    /// `l`: the local-part of `<sender>`.
    Local,
    /// `o`: the domain of `<sender>`.
    SenderDomain,
    /// `d`: `<domain>`, the domain whose record is being evaluated.
    Domain,
    /// `i`: `<ip>` (dotted quad, or 32 dot-separated nibbles for IPv6).
    Ip,
    /// `p`: the validated domain name of `<ip>` (discouraged, needs DNS).
    Ptr,
    /// `v`: `in-addr` for IPv4, `ip6` for IPv6.
    IpVersion,
    /// `h`: the HELO/EHLO domain.
    Helo,
    /// `c`: the client IP in its usual text form (exp only).
    ClientIp,
    /// `r`: the domain name of the receiving host (exp only).
    Receiver,
    /// `t`: the current time in seconds since the epoch (exp only).
    Timestamp,
}

impl MacroLetter {
    fn from_char(c: char) -> Option<Self> {
        Some(match c.to_ascii_lowercase() {
            's' => MacroLetter::Sender,
            'l' => MacroLetter::Local,
            'o' => MacroLetter::SenderDomain,
            'd' => MacroLetter::Domain,
            'i' => MacroLetter::Ip,
            'p' => MacroLetter::Ptr,
            'v' => MacroLetter::IpVersion,
            'h' => MacroLetter::Helo,
            'c' => MacroLetter::ClientIp,
            'r' => MacroLetter::Receiver,
            't' => MacroLetter::Timestamp,
            _ => return None,
        })
    }

    /// The lower-case letter.
    pub fn as_char(self) -> char {
        match self {
            MacroLetter::Sender => 's',
            MacroLetter::Local => 'l',
            MacroLetter::SenderDomain => 'o',
            MacroLetter::Domain => 'd',
            MacroLetter::Ip => 'i',
            MacroLetter::Ptr => 'p',
            MacroLetter::IpVersion => 'v',
            MacroLetter::Helo => 'h',
            MacroLetter::ClientIp => 'c',
            MacroLetter::Receiver => 'r',
            MacroLetter::Timestamp => 't',
        }
    }

    /// True for `c`, `r` and `t`, which RFC 7208 §7.1 allows only in
    /// explanation text.
    pub fn exp_only(self) -> bool {
        matches!(
            self,
            MacroLetter::ClientIp | MacroLetter::Receiver | MacroLetter::Timestamp
        )
    }
}

/// One `%{...}` macro-expand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Macro {
    /// The letter.
    pub letter: MacroLetter,
    /// The letter was upper-case: URL-escape the value (§7.3).
    pub url_escape: bool,
    /// Number of right-hand parts to keep (never zero), if given.
    pub keep: Option<usize>,
    /// The `r` transformer: reverse the parts.
    pub reverse: bool,
    /// Delimiters to split on (default `.`); a subset of `.-+,/_=`.
    pub delimiters: String,
}

/// A part of a macro string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Literal text (with `%%`, `%_`, `%-` already turned into `%`, space
    /// and `%20`).
    Literal(String),
    /// A macro to expand.
    Macro(Macro),
}

/// Longest piece a [`SharedStr`] holds in place (without an allocation).
const INLINE: usize = 24;

/// A piece of text, cheap to make and to drop. A short piece (up to 24
/// octets: most SPF terms and targets) is held in place; a longer one that
/// is part of a parsed record shares one copy of the record's text with
/// the record's other longer pieces. So parsing a record of short terms
/// makes no allocation for its text, and neither parsing nor dropping it
/// touches a shared reference count. Compares, hashes and prints as the
/// `str` it derefs to.
#[derive(Clone)]
pub struct SharedStr(Piece);

#[derive(Clone)]
enum Piece {
    /// Up to [`INLINE`] octets, in place.
    Inline(ArrayString<INLINE>),
    /// The octets `start..end` of a shared text (a char-boundary range,
    /// checked when made).
    Shared { src: Arc<str>, start: u32, end: u32 },
    /// A whole text of its own.
    Whole(Arc<str>),
}

impl SharedStr {
    /// A piece that is the whole of `s` (at most one allocation).
    pub fn new(s: &str) -> Self {
        match ArrayString::from(s) {
            Ok(inline) => SharedStr(Piece::Inline(inline)),
            Err(_) => SharedStr(Piece::Whole(Arc::from(s))),
        }
    }

    /// The text.
    #[inline]
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Piece::Inline(s) => s.as_str(),
            Piece::Shared { src, start, end } => {
                src.get(*start as usize..*end as usize).unwrap_or_default()
            }
            Piece::Whole(s) => s,
        }
    }
}

/// A text that [`SharedStr`] pieces are taken from (a record's text while
/// it is parsed): a short piece is copied into place; the first longer one
/// copies the text into one shared allocation, which it and every later
/// longer piece point into. Derefs to the text.
pub(crate) struct Source<'a> {
    text: &'a str,
    shared: std::cell::OnceCell<Arc<str>>,
}

impl<'a> Source<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Source {
            text,
            shared: std::cell::OnceCell::new(),
        }
    }

    /// The octets `start..end` of the text as a piece, if that is a range
    /// of the text on character boundaries.
    #[inline]
    pub(crate) fn range(&self, start: usize, end: usize) -> Option<SharedStr> {
        let piece = self.text.get(start..end)?;
        if let Ok(inline) = ArrayString::from(piece) {
            return Some(SharedStr(Piece::Inline(inline)));
        }
        self.long_piece(piece, start, end)
    }

    /// `piece` as a piece of the text, if `piece` is a sub-slice of the
    /// text (the same memory).
    pub(crate) fn within(&self, piece: &str) -> Option<SharedStr> {
        let start = (piece.as_ptr() as usize).checked_sub(self.text.as_ptr() as usize)?;
        self.range(start, start.checked_add(piece.len())?)
    }

    /// A piece longer than [`INLINE`] at `start..end`: in the shared copy.
    #[cold]
    #[inline(never)]
    fn long_piece(&self, piece: &str, start: usize, end: usize) -> Option<SharedStr> {
        let src = self.shared.get_or_init(|| Arc::from(self.text)).clone();
        Some(SharedStr(
            match (u32::try_from(start), u32::try_from(end)) {
                (Ok(start), Ok(end)) => Piece::Shared { src, start, end },
                // Beyond 4 GiB (no DNS answer is): a copy of its own.
                _ => Piece::Whole(Arc::from(piece)),
            },
        ))
    }
}

impl std::ops::Deref for Source<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        self.text
    }
}

impl std::ops::Deref for SharedStr {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for SharedStr {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl std::borrow::Borrow<str> for SharedStr {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for SharedStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for SharedStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq for SharedStr {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for SharedStr {}

impl std::hash::Hash for SharedStr {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.as_str().hash(h);
    }
}

impl PartialEq<str> for SharedStr {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for SharedStr {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for SharedStr {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other.as_str()
    }
}

impl From<&str> for SharedStr {
    fn from(s: &str) -> Self {
        SharedStr::new(s)
    }
}

impl From<SharedStr> for String {
    fn from(s: SharedStr) -> String {
        s.as_str().to_string()
    }
}

/// A parsed macro string.
#[derive(Clone)]
pub struct MacroString {
    repr: Repr,
}

/// How a [`MacroString`] is held: small, because a parsed record holds
/// one per target (moved and dropped with every directive).
#[derive(Clone)]
enum Repr {
    /// A string without `%` (the common case for targets): its text, which
    /// is also its one literal part (a [`SharedStr`]: in place when short,
    /// else inside a parsed record a piece of the record's shared text).
    /// `None`: the empty string.
    Literal {
        text: Option<SharedStr>,
        /// The one part as a [`Part`], built only if
        /// [`MacroString::parts`] is asked for it (the evaluator never is).
        part: OnceLock<Box<Part>>,
        /// [`MacroString::literal_domain`] is a usable domain name
        /// (checked once, when parsed; see [`MacroString::usable_literal`]).
        usable: bool,
    },
    /// Anything with a `%`.
    General(Box<General>),
}

#[derive(Clone)]
struct General {
    /// The text as written.
    text: String,
    /// The parts.
    parts: Vec<Part>,
    ends_with_expand: bool,
}

impl PartialEq for MacroString {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
            && self.ends_with_expand() == other.ends_with_expand()
            && matches!(self.repr, Repr::Literal { .. })
                == matches!(other.repr, Repr::Literal { .. })
            && self.parts() == other.parts()
    }
}

impl Eq for MacroString {}

impl fmt::Debug for MacroString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MacroString")
            .field("text", &self.as_str())
            .field("parts", &self.parts())
            .field("ends_with_expand", &self.ends_with_expand())
            .finish()
    }
}

/// What is wrong with a macro string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MacroErrorKind {
    /// A byte that may not appear here (control character, non-ASCII,
    /// space outside explanation text).
    InvalidCharacter(u8),
    /// `%` followed by something other than `{`, `%`, `_` or `-` (§7.1).
    BadEscape,
    /// `%{` without the closing `}`.
    Unterminated,
    /// Not a macro letter.
    UnknownLetter(char),
    /// `c`, `r` or `t` outside explanation text.
    ExpOnlyLetter(char),
    /// A digit transformer of zero (§7.3: "MUST be nonzero").
    ZeroDigits,
    /// Something other than digits, `r` and delimiters after the letter.
    BadTransformer(char),
}

/// A macro syntax error and its byte offset in the macro string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacroError {
    /// What is wrong.
    pub kind: MacroErrorKind,
    /// Byte offset in the parsed text.
    pub offset: usize,
}

impl fmt::Display for MacroErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MacroErrorKind::InvalidCharacter(b) => write!(f, "invalid character 0x{b:02x}"),
            MacroErrorKind::BadEscape => {
                f.write_str("'%' not followed by '{', '%', '_' or '-' (RFC 7208 §7.1)")
            }
            MacroErrorKind::Unterminated => f.write_str("macro without closing '}'"),
            MacroErrorKind::UnknownLetter(c) => write!(f, "unknown macro letter {c:?}"),
            MacroErrorKind::ExpOnlyLetter(c) => write!(
                f,
                "macro letter {c:?} is only allowed in explanation text (RFC 7208 §7.1)"
            ),
            MacroErrorKind::ZeroDigits => f.write_str("macro digit transformer must be nonzero"),
            MacroErrorKind::BadTransformer(c) => {
                write!(f, "invalid macro transformer or delimiter {c:?}")
            }
        }
    }
}

impl fmt::Display for MacroError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at offset {}", self.kind, self.offset)
    }
}

impl std::error::Error for MacroError {}

/// Octets allowed as themselves in a macro string of `context`
/// (`macro-literal`, §7.1; explanations also allow SP).
fn allowed(context: MacroContext, b: u8) -> bool {
    match context {
        MacroContext::Explanation => (0x20..=0x7e).contains(&b),
        _ => (0x21..=0x7e).contains(&b),
    }
}

fn is_delimiter(c: u8) -> bool {
    matches!(c, b'.' | b'-' | b'+' | b',' | b'/' | b'_' | b'=')
}

impl MacroString {
    /// Parses `text` as a macro string for `context`.
    ///
    /// ```
    /// use sender_auth::spf::macros::{MacroContext, MacroString};
    /// assert!(MacroString::parse("%{ir}.%{v}._spf.%{d2}", MacroContext::Domain).is_ok());
    /// assert!(MacroString::parse("%{c}", MacroContext::Domain).is_err());
    /// assert!(MacroString::parse("%{c} is not allowed", MacroContext::Explanation).is_ok());
    /// ```
    pub fn parse(text: &str, context: MacroContext) -> Result<Self, MacroError> {
        let bytes = text.as_bytes();
        // Fast path: a literal (no `%`), the common case for targets.
        if !bytes.contains(&b'%') && bytes.iter().all(|&b| allowed(context, b)) {
            return Ok(Self::literal(
                (!text.is_empty()).then(|| SharedStr::new(text)),
            ));
        }
        Self::parse_general(text, context)
    }

    /// A literal `piece` of `src` (no `%`, octets 0x21–0x7E: the caller
    /// checked) whose usable-domain flag the caller has computed (see
    /// [`MacroString::usable_literal`]); `None` if `piece` is not within
    /// `src`'s text.
    pub(crate) fn literal_within(src: &Source<'_>, piece: &str, usable: bool) -> Option<Self> {
        Some(MacroString {
            repr: Repr::Literal {
                text: Some(src.within(piece)?),
                part: OnceLock::new(),
                usable,
            },
        })
    }

    /// [`MacroString::literal_within`] for the bytes `start..end` of `src`
    /// (non-empty, no `%`, octets 0x21–0x7E: the caller checked); `None`
    /// if that is not a range of `src`.
    #[inline]
    pub(crate) fn literal_range(
        src: &Source<'_>,
        start: usize,
        end: usize,
        usable: bool,
    ) -> Option<Self> {
        Some(MacroString {
            repr: Repr::Literal {
                text: Some(src.range(start, end)?),
                part: OnceLock::new(),
                usable,
            },
        })
    }

    fn literal(text: Option<SharedStr>) -> Self {
        let usable = text
            .as_deref()
            .and_then(literal_domain_of)
            .is_some_and(|l| matches!(super::eval::usable_domain(l), Ok(std::borrow::Cow::Borrowed(u)) if u == l));
        MacroString {
            repr: Repr::Literal {
                text,
                part: OnceLock::new(),
                usable,
            },
        }
    }

    /// The general case of [`MacroString::parse`].
    fn parse_general(text: &str, context: MacroContext) -> Result<Self, MacroError> {
        let bytes = text.as_bytes();
        let mut parts = Vec::new();
        let mut lit = String::with_capacity(text.len());
        let mut i = 0;
        let mut ends_with_expand = false;
        let err = |kind, offset| Err(MacroError { kind, offset });
        while i < bytes.len() {
            let b = bytes[i];
            if b == b'%' {
                ends_with_expand = true;
                match bytes.get(i + 1) {
                    Some(b'%') => {
                        lit.push('%');
                        i += 2;
                    }
                    Some(b'_') => {
                        lit.push(' ');
                        i += 2;
                    }
                    Some(b'-') => {
                        lit.push_str("%20");
                        i += 2;
                    }
                    Some(b'{') => {
                        let start = i;
                        let Some(close) = bytes[i + 2..].iter().position(|&c| c == b'}') else {
                            return err(MacroErrorKind::Unterminated, start);
                        };
                        let body = &bytes[i + 2..i + 2 + close];
                        let m = parse_macro_body(body, context, i + 2)?;
                        if !lit.is_empty() {
                            parts.push(Part::Literal(std::mem::take(&mut lit)));
                        }
                        parts.push(Part::Macro(m));
                        i += 2 + close + 1;
                    }
                    _ => return err(MacroErrorKind::BadEscape, i),
                }
                continue;
            }
            if !allowed(context, b) {
                return err(MacroErrorKind::InvalidCharacter(b), i);
            }
            ends_with_expand = false;
            lit.push(char::from(b));
            i += 1;
        }
        if !lit.is_empty() {
            parts.push(Part::Literal(lit));
        }
        Ok(MacroString {
            repr: Repr::General(Box::new(General {
                text: text.to_string(),
                parts,
                ends_with_expand,
            })),
        })
    }

    /// The text as written.
    pub fn as_str(&self) -> &str {
        match &self.repr {
            Repr::Literal { text, .. } => text.as_deref().unwrap_or_default(),
            Repr::General(g) => &g.text,
        }
    }

    /// The parsed parts.
    pub fn parts(&self) -> &[Part] {
        match &self.repr {
            Repr::Literal { text: None, .. } => &[],
            Repr::Literal {
                text: Some(l),
                part,
                ..
            } => std::slice::from_ref(
                part.get_or_init(|| Box::new(Part::Literal(l.as_str().to_string()))),
            ),
            Repr::General(g) => &g.parts,
        }
    }

    /// True when the text ends with a macro-expand (`%{..}`, `%%`, `%_` or
    /// `%-`), which satisfies the `domain-end` rule of §7.1 by itself.
    pub fn ends_with_expand(&self) -> bool {
        match &self.repr {
            Repr::Literal { .. } => false,
            Repr::General(g) => g.ends_with_expand,
        }
    }

    /// True when expanding needs the validated `%{p}` name.
    pub fn uses_ptr(&self) -> bool {
        match &self.repr {
            Repr::Literal { .. } => false,
            Repr::General(g) => g
                .parts
                .iter()
                .any(|p| matches!(p, Part::Macro(m) if m.letter == MacroLetter::Ptr)),
        }
    }

    /// True when the string contains no macro at all.
    pub fn is_literal(&self) -> bool {
        match &self.repr {
            Repr::Literal { .. } => true,
            Repr::General(g) => g.parts.iter().all(|p| matches!(p, Part::Literal(_))),
        }
    }

    /// Expands the string as explanation text (§6.2), capped at
    /// [`MAX_EXPLANATION_LEN`] octets.
    pub fn expand(&self, vars: &MacroVars<'_>) -> String {
        let mut out = Sink::Capped(String::new());
        self.expand_into(vars, &mut out);
        match out {
            Sink::Capped(s) | Sink::Window(s) => s,
        }
    }

    /// Expands the string as a domain name for a DNS query: one trailing dot
    /// removed and, if longer than 253 octets, left-most labels removed until
    /// it fits (§7.3). An empty result means no usable name remains.
    ///
    /// ```
    /// use sender_auth::spf::macros::{MacroContext, MacroString, MacroVars};
    /// let vars = MacroVars::new("192.0.2.3".parse().unwrap(), "strong-bad@email.example.com", "email.example.com", "mx.example.org");
    /// let m = MacroString::parse("%{ir}.%{v}._spf.%{d2}", MacroContext::Domain).unwrap();
    /// assert_eq!(m.expand_domain(&vars), "3.2.0.192.in-addr._spf.example.com");
    /// ```
    pub fn expand_domain(&self, vars: &MacroVars<'_>) -> String {
        // Fast path: a literal short enough not to be truncated.
        if let Some(l) = self.literal_domain() {
            return l.to_string();
        }
        let mut out = Sink::Window(String::new());
        self.expand_into(vars, &mut out);
        let (Sink::Capped(s) | Sink::Window(s)) = out;
        truncate_domain(&s)
    }

    /// What [`MacroString::expand_domain`] gives when that needs no
    /// variable and no copy: the string is one literal (one trailing dot
    /// removed) short enough not to be truncated.
    pub(crate) fn literal_domain(&self) -> Option<&str> {
        match &self.repr {
            Repr::Literal { text, .. } => literal_domain_of(text.as_deref()?),
            Repr::General(g) => match &g.parts[..] {
                [Part::Literal(l)] => literal_domain_of(l),
                _ => None,
            },
        }
    }

    /// [`MacroString::literal_domain`] when it is also a usable domain name
    /// (RFC 7208 §4.3: ASCII, multi-label, every label 1–63 octets, no
    /// control character), as checked once when the string was parsed: the
    /// evaluator queries it without checking it again.
    pub(crate) fn usable_literal(&self) -> Option<&str> {
        match &self.repr {
            Repr::Literal {
                text: Some(l),
                usable: true,
                ..
            } => literal_domain_of(l),
            _ => None,
        }
    }

    fn expand_into(&self, vars: &MacroVars<'_>, out: &mut Sink) {
        let parts = match &self.repr {
            Repr::Literal { text, .. } => {
                out.push_str(text.as_deref().unwrap_or_default());
                return;
            }
            Repr::General(g) => &g.parts,
        };
        for part in parts {
            if out.is_full() {
                break;
            }
            match part {
                Part::Literal(s) => out.push_str(s),
                Part::Macro(m) => expand_macro(m, vars, out),
            }
        }
    }
}

/// A literal as [`MacroString::expand_domain`] gives it without copying:
/// one trailing dot removed, if it is short enough not to be truncated.
fn literal_domain_of(l: &str) -> Option<&str> {
    let l = l.strip_suffix('.').unwrap_or(l);
    (l.len() <= MAX_DOMAIN_LEN).then_some(l)
}

impl fmt::Display for MacroString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn parse_macro_body(body: &[u8], context: MacroContext, base: usize) -> Result<Macro, MacroError> {
    let err = |kind, offset| Err(MacroError { kind, offset });
    let Some(&first) = body.first() else {
        return err(MacroErrorKind::UnknownLetter('}'), base);
    };
    let c = char::from(first);
    let Some(letter) = MacroLetter::from_char(c) else {
        return err(MacroErrorKind::UnknownLetter(c), base);
    };
    if letter.exp_only() && context == MacroContext::Domain {
        return err(MacroErrorKind::ExpOnlyLetter(c), base);
    }
    let mut j = 1;
    let mut digits: Option<usize> = None;
    while j < body.len() && body[j].is_ascii_digit() {
        let d = usize::from(body[j] - b'0');
        // Saturate: more parts than any value can have means "all".
        digits = Some(
            digits
                .unwrap_or(0)
                .saturating_mul(10)
                .saturating_add(d)
                .min(1 << 20),
        );
        j += 1;
    }
    if digits == Some(0) {
        return err(MacroErrorKind::ZeroDigits, base + 1);
    }
    let mut reverse = false;
    if j < body.len() && (body[j] == b'r' || body[j] == b'R') {
        reverse = true;
        j += 1;
    }
    let mut delimiters = String::new();
    while j < body.len() {
        if !is_delimiter(body[j]) {
            return err(
                MacroErrorKind::BadTransformer(char::from(body[j])),
                base + j,
            );
        }
        if !delimiters.as_bytes().contains(&body[j]) {
            delimiters.push(char::from(body[j]));
        }
        j += 1;
    }
    Ok(Macro {
        letter,
        url_escape: first.is_ascii_uppercase(),
        keep: digits,
        reverse,
        delimiters,
    })
}

/// The values macros expand to.
#[derive(Debug, Clone, Copy)]
pub struct MacroVars<'a> {
    /// `<sender>` (`s`), always with a local-part.
    pub sender: &'a str,
    /// Local-part of `<sender>` (`l`).
    pub local: &'a str,
    /// Domain of `<sender>` (`o`).
    pub sender_domain: &'a str,
    /// `<domain>` (`d`).
    pub domain: &'a str,
    /// `<ip>` (`i`, `c`, `v`); IPv4-mapped IPv6 should already be IPv4.
    pub ip: IpAddr,
    /// HELO/EHLO domain (`h`).
    pub helo: &'a str,
    /// Validated name of `<ip>` (`p`); `None` expands to `unknown`.
    pub ptr: Option<&'a str>,
    /// Receiving host (`r`).
    pub receiver: &'a str,
    /// Current time, seconds since the epoch (`t`).
    pub timestamp: u64,
}

impl<'a> MacroVars<'a> {
    /// Variables for `sender` (`local@domain`) checked at `domain` from
    /// `ip` with HELO `helo`; `p` is `unknown`, `r` is `unknown`, `t` is 0.
    pub fn new(ip: IpAddr, sender: &'a str, domain: &'a str, helo: &'a str) -> Self {
        let (local, sender_domain) = match sender.rsplit_once('@') {
            Some((l, d)) if !l.is_empty() => (l, d),
            Some((_, d)) => ("postmaster", d),
            None => ("postmaster", sender),
        };
        MacroVars {
            sender,
            local,
            sender_domain,
            domain,
            ip,
            helo,
            ptr: None,
            receiver: "unknown",
            timestamp: 0,
        }
    }
}

/// Output buffer with bounded memory.
enum Sink {
    /// Explanation text: stop at [`MAX_EXPLANATION_LEN`].
    Capped(String),
    /// Domain: keep only the right-most [`DOMAIN_WINDOW`] octets or so.
    Window(String),
}

impl Sink {
    fn push_str(&mut self, s: &str) {
        match self {
            Sink::Capped(out) => {
                let room = MAX_EXPLANATION_LEN.saturating_sub(out.len());
                if s.len() <= room {
                    out.push_str(s);
                } else {
                    let mut cut = room;
                    while cut > 0 && !s.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    out.push_str(&s[..cut]);
                }
            }
            Sink::Window(out) => {
                out.push_str(s);
                if out.len() > 2 * DOMAIN_WINDOW {
                    let mut cut = out.len() - DOMAIN_WINDOW;
                    while cut < out.len() && !out.is_char_boundary(cut) {
                        cut += 1;
                    }
                    out.drain(..cut);
                }
            }
        }
    }

    fn is_full(&self) -> bool {
        matches!(self, Sink::Capped(out) if out.len() >= MAX_EXPLANATION_LEN)
    }

    fn push_char(&mut self, c: char) {
        let mut buf = [0u8; 4];
        self.push_str(c.encode_utf8(&mut buf));
    }
}

fn ip_dotted(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let mut s = String::with_capacity(64);
            for byte in v6.octets() {
                for nibble in [byte >> 4, byte & 0x0f] {
                    if !s.is_empty() {
                        s.push('.');
                    }
                    s.push(hex_upper(nibble));
                }
            }
            s
        }
    }
}

fn hex_upper(n: u8) -> char {
    char::from(b"0123456789ABCDEF"[usize::from(n & 0x0f)])
}

fn expand_macro(m: &Macro, vars: &MacroVars<'_>, out: &mut Sink) {
    let owned;
    let value: &str = match m.letter {
        MacroLetter::Sender => vars.sender,
        MacroLetter::Local => vars.local,
        MacroLetter::SenderDomain => vars.sender_domain,
        MacroLetter::Domain => vars.domain,
        MacroLetter::Ip => {
            owned = ip_dotted(vars.ip);
            &owned
        }
        MacroLetter::Ptr => vars.ptr.unwrap_or("unknown"),
        MacroLetter::IpVersion => match vars.ip {
            IpAddr::V4(_) => "in-addr",
            IpAddr::V6(_) => "ip6",
        },
        MacroLetter::Helo => vars.helo,
        MacroLetter::ClientIp => {
            owned = vars.ip.to_string();
            &owned
        }
        MacroLetter::Receiver => vars.receiver,
        MacroLetter::Timestamp => {
            owned = vars.timestamp.to_string();
            &owned
        }
    };
    let delims: &[u8] = if m.delimiters.is_empty() {
        b"."
    } else {
        m.delimiters.as_bytes()
    };
    let mut parts: Vec<&str> = value
        .split(|c: char| c.is_ascii() && delims.contains(&(c as u8)))
        .collect();
    if m.reverse {
        parts.reverse();
    }
    if let Some(keep) = m.keep
        && keep < parts.len()
    {
        parts.drain(..parts.len() - keep);
    }
    for (n, part) in parts.iter().enumerate() {
        if n > 0 {
            out.push_char('.');
        }
        if m.url_escape {
            for b in part.bytes() {
                if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                    out.push_char(char::from(b));
                } else {
                    let esc = [b'%', hex_upper(b >> 4) as u8, hex_upper(b) as u8];
                    out.push_str(std::str::from_utf8(&esc).unwrap_or("%"));
                }
            }
        } else {
            out.push_str(part);
        }
    }
}

/// Applies §7.3 to an expanded name: removes one trailing dot, then
/// removes left-most labels while the name exceeds 253 octets. Returns an
/// empty string when nothing fits.
pub fn truncate_domain(name: &str) -> String {
    let name = name.strip_suffix('.').unwrap_or(name);
    let mut rest = name;
    while rest.len() > MAX_DOMAIN_LEN {
        match rest.find('.') {
            Some(dot) => rest = &rest[dot + 1..],
            None => return String::new(),
        }
    }
    rest.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> MacroVars<'static> {
        MacroVars::new(
            "192.0.2.3".parse().unwrap(),
            "strong-bad@email.example.com",
            "email.example.com",
            "mx.example.org",
        )
    }

    fn d(s: &str, v: &MacroVars<'_>) -> String {
        MacroString::parse(s, MacroContext::Domain)
            .unwrap()
            .expand_domain(v)
    }

    /// Pieces of up to 24 octets are held in place; the first longer one
    /// makes the one shared copy, which every later longer piece points
    /// into; a source with only short pieces never makes it.
    #[test]
    fn source_pieces_in_place_or_shared() {
        let text = format!("{}|{}", "a".repeat(24), "b".repeat(40));
        let src = Source::new(&text);
        let short = src.range(0, 24).unwrap();
        assert!(matches!(short.0, Piece::Inline(_)), "24 octets in place");
        assert!(src.shared.get().is_none(), "no shared copy yet");
        let long = src.range(25, 65).unwrap();
        let longer = src.within(&text[0..30]).unwrap();
        let (Piece::Shared { src: a, start, end }, Piece::Shared { src: b, .. }) =
            (&long.0, &longer.0)
        else {
            panic!("longer pieces are shared");
        };
        assert!(Arc::ptr_eq(a, b), "one shared copy");
        assert_eq!((*start, *end), (25, 65));
        assert_eq!(short, "a".repeat(24));
        assert_eq!(long, "b".repeat(40));
        assert_eq!(longer, format!("{}|{}", "a".repeat(24), "b".repeat(5)));
        // Not a range of the text, or not on a character boundary.
        assert!(src.range(60, 70).is_none());
        assert!(src.within("elsewhere").is_none());
        let accented = Source::new("é");
        assert!(accented.range(0, 1).is_none());
        assert_eq!(accented.range(0, 2).unwrap(), "é");
        // Stand-alone: short in place, long a text of its own.
        assert!(matches!(SharedStr::new("abc").0, Piece::Inline(_)));
        assert!(matches!(SharedStr::new(&text).0, Piece::Whole(_)));
        assert_eq!(SharedStr::new(&text), text);
    }

    /// RFC 7208 §7.4 examples.
    #[test]
    fn rfc7208_7_4_examples() {
        let v = vars();
        assert_eq!(d("%{s}", &v), "strong-bad@email.example.com");
        assert_eq!(d("%{o}", &v), "email.example.com");
        assert_eq!(d("%{d}", &v), "email.example.com");
        assert_eq!(d("%{d4}", &v), "email.example.com");
        assert_eq!(d("%{d3}", &v), "email.example.com");
        assert_eq!(d("%{d2}", &v), "example.com");
        assert_eq!(d("%{d1}", &v), "com");
        assert_eq!(d("%{dr}", &v), "com.example.email");
        assert_eq!(d("%{d2r}", &v), "example.email");
        assert_eq!(d("%{l}", &v), "strong-bad");
        assert_eq!(d("%{l-}", &v), "strong.bad");
        assert_eq!(d("%{lr}", &v), "strong-bad");
        assert_eq!(d("%{lr-}", &v), "bad.strong");
        assert_eq!(d("%{l1r-}", &v), "strong");
        assert_eq!(
            d("%{ir}.%{v}._spf.%{d2}", &v),
            "3.2.0.192.in-addr._spf.example.com"
        );
        assert_eq!(
            d("%{lr-}.lp._spf.%{d2}", &v),
            "bad.strong.lp._spf.example.com"
        );
        assert_eq!(
            d("%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", &v),
            "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"
        );
        assert_eq!(
            d("%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", &v),
            "3.2.0.192.in-addr.strong.lp._spf.example.com"
        );
        assert_eq!(
            d("%{d2}.trusted-domains.example.net", &v),
            "example.com.trusted-domains.example.net"
        );
        let mut v6 = vars();
        v6.ip = "2001:db8::cb01".parse().unwrap();
        assert_eq!(
            d("%{ir}.%{v}._spf.%{d2}", &v6).to_ascii_lowercase(),
            "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com"
        );
    }

    #[test]
    fn escapes_and_url_encoding() {
        let v = MacroVars::new(
            "192.0.2.3".parse().unwrap(),
            "~jack&jill=up-a_b3.c@e8.example.com",
            "e8.example.com",
            "h",
        );
        assert_eq!(d("%{L}", &v), "~jack%26jill%3Dup-a_b3.c");
        assert_eq!(d("a%%b%_c%-d", &v), "a%b c%20d");
        let e = MacroString::parse("%{c} %{r} %{t}", MacroContext::Explanation).unwrap();
        let mut v2 = vars();
        v2.receiver = "mx.example.net";
        v2.timestamp = 42;
        assert_eq!(e.expand(&v2), "192.0.2.3 mx.example.net 42");
        let mut v3 = vars();
        v3.ip = "2001:db8::1".parse().unwrap();
        assert_eq!(e.expand(&v3), "2001:db8::1 unknown 0");
    }

    #[test]
    fn syntax_errors() {
        use MacroErrorKind::*;
        let k = |s: &str, c| MacroString::parse(s, c).unwrap_err().kind;
        assert_eq!(k("%(ir)", MacroContext::Domain), BadEscape);
        assert_eq!(k("foo%", MacroContext::Domain), BadEscape);
        assert_eq!(k("%{ir", MacroContext::Domain), Unterminated);
        assert_eq!(k("%{a}", MacroContext::Domain), UnknownLetter('a'));
        assert_eq!(k("%{r}", MacroContext::Domain), ExpOnlyLetter('r'));
        assert_eq!(k("%{d0}", MacroContext::Domain), ZeroDigits);
        assert_eq!(k("%{d2x}", MacroContext::Domain), BadTransformer('x'));
        assert_eq!(k("a b", MacroContext::Domain), InvalidCharacter(b' '));
        assert_eq!(
            k("a\x7fb", MacroContext::Explanation),
            InvalidCharacter(0x7f)
        );
        assert_eq!(
            MacroString::parse("ab%{x}", MacroContext::Explanation)
                .unwrap_err()
                .offset,
            4
        );
        assert!(MacroString::parse("a b %{t}", MacroContext::Explanation).is_ok());
        assert!(MacroString::parse("", MacroContext::Modifier).is_ok());
    }

    #[test]
    fn truncation_keeps_rightmost_labels() {
        let long = format!("{}.example.com", vec!["abcdefghij"; 40].join("."));
        let t = truncate_domain(&long);
        assert!(t.len() <= 253);
        assert!(t.ends_with(".example.com"));
        assert!(!t.starts_with('.'));
        assert_eq!(truncate_domain("example.com."), "example.com");
        assert_eq!(truncate_domain(&"x".repeat(300)), "");
    }

    #[test]
    fn bounded_memory_on_hostile_input() {
        let sender = format!("{}@example.com", "a.".repeat(2_000));
        let v = MacroVars::new("192.0.2.3".parse().unwrap(), &sender, "example.com", "h");
        let text = "%{S}".repeat(1000);
        let m = MacroString::parse(&text, MacroContext::Domain).unwrap();
        let out = m.expand_domain(&v);
        assert!(out.len() <= 253);
        let e = MacroString::parse(&text, MacroContext::Explanation).unwrap();
        assert!(e.expand(&v).len() <= MAX_EXPLANATION_LEN);
        // huge digit transformer saturates instead of overflowing
        assert_eq!(
            d("%{d99999999999999999999999}", &vars()),
            "email.example.com"
        );
    }
}
