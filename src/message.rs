//! Raw header access without copying; RFC 5322 From: extraction.
//!
//! [`Message::parse`] splits a raw message into header fields and body,
//! borrowing from the input: nothing is decoded or copied, so DKIM can
//! canonicalize the exact bytes that were signed. It is total: any byte
//! string parses.
//!
//! Line endings: RFC 5322 lines end in CRLF; messages read from files often
//! use bare LF. A line ends at LF (an optional CR before it belongs to the
//! line ending). A header section ends at the first empty line; a message
//! without one is all header.
//!
//! ```
//! use sender_auth::message::Message;
//! let m = Message::parse(b"From: a@example.com\r\nSubject: hi\r\n there\r\n\r\nbody\r\n");
//! assert_eq!(m.headers().len(), 2);
//! assert_eq!(m.headers()[1].name, b"Subject");
//! assert_eq!(m.headers()[1].value, b" hi\r\n there");
//! assert_eq!(m.body(), b"body\r\n");
//! assert_eq!(m.get_all("from").count(), 1);
//! ```
//!
//! # Author domain (RFC 5322 From), fail closed
//!
//! [`author_domain`] extracts the DMARC Author Domain (RFC 7489 §3.1,
//! RFC 9989 §3.2.2 and §5.3.1) from the one RFC 5322 `From` field. The
//! rule is deliberately strict, because a lenient parser is how a forged
//! author slips past DMARC:
//!
//! * exactly one `From` field holding exactly one mailbox (RFC 5322 §3.6.2,
//!   §3.6 table: `From` occurs once); zero or several fields, several
//!   mailboxes, group syntax, an empty address list element, trailing garbage,
//!   an unbalanced `<`/`>`/`(`/`"`, a quoted-pair outside quotes or comments,
//!   control characters, or a domain that is not a valid IDNA host name are
//!   all errors ([`AuthorError`]) — never "use the first one";
//! * obs-route (`<@a,@b:user@dom>`, RFC 5322 §4.4) is ignored;
//! * RFC 2047 encoded-words are never decoded (RFC 2047 §5 forbids them in an
//!   addr-spec); comments and display names never contribute a domain;
//! * the domain is returned in lower-case A-label form (U-labels converted
//!   with UTS #46 / IDNA2008 rules, STD3 host name restrictions, DNS lengths).
//!
//! ```
//! use sender_auth::message::{author_domain, AuthorError, Message};
//! let m = Message::parse(b"From: \"Joe\" <joe@Example.COM>\r\n\r\n");
//! assert_eq!(author_domain(&m).unwrap(), "example.com");
//! let m = Message::parse(b"From: a@one.example, b@two.example\r\n\r\n");
//! assert_eq!(author_domain(&m), Err(AuthorError::MultipleMailboxes));
//! ```

use std::fmt;

/// One header field, borrowed from the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderField<'a> {
    /// The field name as written (before the colon, trailing WSP removed).
    /// For a malformed line without a colon, the whole line.
    pub name: &'a [u8],
    /// Everything after the colon up to (not including) the final line
    /// ending; folded lines keep their line endings. Empty when there is no
    /// colon.
    pub value: &'a [u8],
    /// The whole field as it appears in the message, including the final
    /// line ending (if any).
    pub raw: &'a [u8],
    /// False for a line that has no colon (not a valid field).
    pub has_colon: bool,
}

impl HeaderField<'_> {
    /// Case-insensitive comparison of the field name (RFC 5322 §1.2.2).
    #[inline]
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name.as_bytes())
    }
}

/// A message split into header fields and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    headers: Vec<HeaderField<'a>>,
    body: &'a [u8],
    body_offset: usize,
    raw: &'a [u8],
}

/// Position just past the line that starts at `start` (past its LF), or the
/// input length.
fn line_end(raw: &[u8], start: usize) -> usize {
    match crate::taglist::find_byte(&raw[start..], b'\n') {
        Some(i) => start + i + 1,
        None => raw.len(),
    }
}

/// Length of the line ending at the end of `line` (0, 1 for LF, 2 for CRLF).
fn terminator_len(line: &[u8]) -> usize {
    if line.ends_with(b"\r\n") {
        2
    } else if line.ends_with(b"\n") {
        1
    } else {
        0
    }
}

impl<'a> Message<'a> {
    /// Splits `raw` into header fields and body. Never fails.
    pub fn parse(raw: &'a [u8]) -> Self {
        // Room for 16 fields up front (fewer reallocations; kept under
        // 1 KB, where the system allocator's small-size paths end).
        let mut headers = Vec::with_capacity(16);
        let mut pos = 0;
        let mut body_offset = raw.len();
        while pos < raw.len() {
            let end = line_end(raw, pos);
            let line = &raw[pos..end];
            if line.len() == terminator_len(line) {
                // empty line: end of header section
                body_offset = end;
                break;
            }
            // Extend over continuation lines (starting with SP or HTAB).
            let mut field_end = end;
            while field_end < raw.len() && matches!(raw[field_end], b' ' | b'\t') {
                field_end = line_end(raw, field_end);
            }
            let field = &raw[pos..field_end];
            let content = &field[..field.len() - terminator_len(field)];
            let (name, value, has_colon) = match content.iter().position(|&b| b == b':') {
                Some(c) => {
                    let mut name = &content[..c];
                    while let [rest @ .., b' ' | b'\t'] = name {
                        name = rest;
                    }
                    (name, &content[c + 1..], true)
                }
                None => (content, &content[content.len()..], false),
            };
            headers.push(HeaderField {
                name,
                value,
                raw: field,
                has_colon,
            });
            pos = field_end;
        }
        Message {
            headers,
            body: &raw[body_offset.min(raw.len())..],
            body_offset,
            raw,
        }
    }

    /// The header fields, top down.
    pub fn headers(&self) -> &[HeaderField<'a>] {
        &self.headers
    }

    /// The body (after the empty line), empty when there is none.
    pub fn body(&self) -> &'a [u8] {
        self.body
    }

    /// Offset of the body in the raw message.
    pub fn body_offset(&self) -> usize {
        self.body_offset
    }

    /// The raw message.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// Every field named `name` (case-insensitive), top down.
    pub fn get_all<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s HeaderField<'a>> + 's {
        self.headers.iter().filter(move |h| h.is(name))
    }
}

/// Why no Author Domain could be taken from a message (see the module
/// documentation for the fail-closed rule). DMARC reports each of these as
/// `permerror` with the [`Display`](fmt::Display) text as reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorError {
    /// The message has no `From` header field.
    NoFrom,
    /// The message has more than one `From` header field (RFC 5322 §3.6
    /// allows exactly one).
    MultipleFrom,
    /// The `From` field lists more than one mailbox (RFC 7489 §6.6.1,
    /// RFC 9989 §5.3.1: the Author Domain must be unambiguous).
    MultipleMailboxes,
    /// The `From` field uses group syntax (`name: ... ;`).
    Group,
    /// The `From` field is not a syntactically valid single mailbox.
    Syntax(String),
    /// The domain of the mailbox is not a valid (IDNA) host name.
    InvalidDomain(String),
}

impl fmt::Display for AuthorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthorError::NoFrom => f.write_str("no From header field"),
            AuthorError::MultipleFrom => f.write_str("more than one From header field"),
            AuthorError::MultipleMailboxes => f.write_str("From field holds more than one mailbox"),
            AuthorError::Group => f.write_str("From field uses group syntax"),
            AuthorError::Syntax(s) => write!(f, "From field syntax error: {s}"),
            AuthorError::InvalidDomain(s) => write!(f, "From domain is not a valid host name: {s}"),
        }
    }
}

impl std::error::Error for AuthorError {}

/// The Author Domain of `message`: the domain of the single mailbox in its
/// single `From` header field, as a lower-case A-label name without
/// trailing dot. Fails closed (see the module documentation).
pub fn author_domain(message: &Message<'_>) -> Result<String, AuthorError> {
    let mut froms = message
        .headers()
        .iter()
        .filter(|h| h.has_colon && h.is("From"));
    let first = froms.next().ok_or(AuthorError::NoFrom)?;
    if froms.next().is_some() {
        return Err(AuthorError::MultipleFrom);
    }
    author_domain_from_value(first.value)
}

/// The Author Domain from the value of one `From` header field (the bytes
/// after the colon, possibly folded). Same rules as [`author_domain`].
///
/// ```
/// use sender_auth::message::{author_domain_from_value, AuthorError};
/// assert_eq!(author_domain_from_value(b" <@relay.example:joe@b\xc3\xbccher.example>").unwrap(),
///            "xn--bcher-kva.example");
/// assert_eq!(author_domain_from_value(b" Team: a@x.example;"), Err(AuthorError::Group));
/// assert!(author_domain_from_value(b" joe@example.com junk").is_err());
/// ```
pub fn author_domain_from_value(value: &[u8]) -> Result<String, AuthorError> {
    let text =
        std::str::from_utf8(value).map_err(|_| AuthorError::Syntax("not valid UTF-8".into()))?;
    let tokens = tokenize(text)?;
    let raw = AddrParser {
        toks: &tokens,
        pos: 0,
    }
    .address_list()?;
    ascii_host(&raw)
}

/// Converts a domain taken from an address to a lower-case A-label host
/// name: UTS #46 processing with STD3 (letter-digit-hyphen) rules and DNS
/// length checks; an all-numeric top-level label (an IP address written as
/// a domain) is refused.
fn ascii_host(raw: &str) -> Result<String, AuthorError> {
    let bad = || AuthorError::InvalidDomain(format!("{raw:?}"));
    let ascii = idna::domain_to_ascii_strict(raw).map_err(|_| bad())?;
    if ascii.is_empty() || ascii.ends_with('.') || crate::dns::check_name(&ascii).is_err() {
        return Err(bad());
    }
    let tld = ascii.rsplit('.').next().unwrap_or("");
    if tld.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    Ok(ascii.to_ascii_lowercase())
}

/// A lexical token of an RFC 5322 address list. Comments and whitespace are
/// dropped by the tokenizer; they separate tokens but never contribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok<'a> {
    /// A run of atext (RFC 5322 §3.2.3; UTF-8 allowed per RFC 6532 §3.2).
    Atom(&'a str),
    /// A quoted-string (content not needed).
    Quoted,
    /// A domain-literal `[...]`.
    Literal,
    /// One of `< > @ , ; : .`.
    Special(u8),
}

fn describe(t: Option<&Tok<'_>>) -> String {
    match t {
        None => "end of field".into(),
        Some(Tok::Atom(a)) => format!("{:?}", a.chars().take(40).collect::<String>()),
        Some(Tok::Quoted) => "quoted-string".into(),
        Some(Tok::Literal) => "domain literal".into(),
        Some(Tok::Special(c)) => format!("'{}'", char::from(*c)),
    }
}

fn syntax(msg: impl Into<String>) -> AuthorError {
    AuthorError::Syntax(msg.into())
}

fn is_atext(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b) || b >= 0x80
}

/// Consumes a line break at `i` (CRLF or LF), which must be followed by
/// WSP (folding). Returns the index after it.
fn fold(b: &[u8], i: usize) -> Result<usize, AuthorError> {
    let next = if b[i] == b'\r' {
        if b.get(i + 1) != Some(&b'\n') {
            return Err(syntax("bare CR"));
        }
        i + 2
    } else {
        i + 1
    };
    match b.get(next) {
        Some(b' ' | b'\t') => Ok(next),
        _ => Err(syntax("line break not followed by whitespace")),
    }
}

/// Skips a quoted-pair at `i` (the backslash); the escaped character must
/// be VCHAR, WSP or UTF-8 (RFC 5322 §3.2.1).
fn quoted_pair(b: &[u8], i: usize) -> Result<usize, AuthorError> {
    match b.get(i + 1) {
        Some(&c) if c == b' ' || c == b'\t' || (0x21..0x7f).contains(&c) || c >= 0x80 => Ok(i + 2),
        _ => Err(syntax("invalid quoted-pair")),
    }
}

fn tokenize(text: &str) -> Result<Vec<Tok<'_>>, AuthorError> {
    let b = text.as_bytes();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b' ' | b'\t' => i += 1,
            b'\r' | b'\n' => i = fold(b, i)?,
            b'(' => {
                let mut depth = 0usize;
                loop {
                    match b.get(i) {
                        None => return Err(syntax("unterminated comment")),
                        Some(b'\\') => i = quoted_pair(b, i)?,
                        Some(b'(') => {
                            depth += 1;
                            i += 1;
                        }
                        Some(b')') => {
                            depth -= 1;
                            i += 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        Some(b'\r' | b'\n') => i = fold(b, i)?,
                        Some(&c) if c < 0x20 && c != b'\t' || c == 0x7f => {
                            return Err(syntax("control character in comment"));
                        }
                        Some(_) => i += 1,
                    }
                }
            }
            b'"' => {
                i += 1;
                loop {
                    match b.get(i) {
                        None => return Err(syntax("unterminated quoted-string")),
                        Some(b'\\') => i = quoted_pair(b, i)?,
                        Some(b'"') => {
                            i += 1;
                            break;
                        }
                        Some(b'\r' | b'\n') => i = fold(b, i)?,
                        Some(&c) if c < 0x20 && c != b'\t' || c == 0x7f => {
                            return Err(syntax("control character in quoted-string"));
                        }
                        Some(_) => i += 1,
                    }
                }
                toks.push(Tok::Quoted);
            }
            b'[' => {
                i += 1;
                loop {
                    match b.get(i) {
                        None => return Err(syntax("unterminated domain literal")),
                        Some(b'\\') => i = quoted_pair(b, i)?,
                        Some(b']') => {
                            i += 1;
                            break;
                        }
                        Some(b'[') => return Err(syntax("'[' inside domain literal")),
                        Some(b'\r' | b'\n') => i = fold(b, i)?,
                        Some(&c) if c < 0x20 && c != b'\t' || c == 0x7f => {
                            return Err(syntax("control character in domain literal"));
                        }
                        Some(_) => i += 1,
                    }
                }
                toks.push(Tok::Literal);
            }
            b')' => return Err(syntax("unbalanced ')'")),
            b']' => return Err(syntax("unbalanced ']'")),
            b'\\' => return Err(syntax("quoted-pair outside a quoted-string or comment")),
            c @ (b'<' | b'>' | b'@' | b',' | b';' | b':' | b'.') => {
                toks.push(Tok::Special(c));
                i += 1;
            }
            c if is_atext(c) => {
                let start = i;
                while i < b.len() && is_atext(b[i]) {
                    i += 1;
                }
                // Runs of atext end at ASCII bytes, so these are char
                // boundaries.
                let atom = text.get(start..i).ok_or_else(|| syntax("invalid UTF-8"))?;
                toks.push(Tok::Atom(atom));
            }
            _ => return Err(syntax("control character")),
        }
    }
    Ok(toks)
}

/// Recursive-descent-free parser over the tokens: the grammar needed here
/// (one mailbox, RFC 5322 §3.4 with the §4.4 obsolete forms) is flat.
struct AddrParser<'t, 'a> {
    toks: &'t [Tok<'a>],
    pos: usize,
}

impl<'a> AddrParser<'_, 'a> {
    fn peek(&self) -> Option<&Tok<'a>> {
        self.toks.get(self.pos)
    }

    fn at(&self, c: u8) -> bool {
        self.peek() == Some(&Tok::Special(c))
    }

    /// address-list holding exactly one mailbox.
    fn address_list(mut self) -> Result<String, AuthorError> {
        if self.toks.is_empty() {
            return Err(syntax("empty From field"));
        }
        if self.at(b',') {
            return Err(syntax("empty element in address list"));
        }
        let domain = self.mailbox()?;
        match self.peek() {
            None => Ok(domain),
            Some(Tok::Special(b',')) => {
                if self.toks[self.pos..]
                    .iter()
                    .all(|t| *t == Tok::Special(b','))
                {
                    Err(syntax("empty element in address list"))
                } else {
                    Err(AuthorError::MultipleMailboxes)
                }
            }
            other => Err(syntax(format!(
                "unexpected {} after the address",
                describe(other)
            ))),
        }
    }

    /// mailbox = name-addr / addr-spec
    fn mailbox(&mut self) -> Result<String, AuthorError> {
        let start = self.pos;
        while matches!(
            self.peek(),
            Some(Tok::Atom(_) | Tok::Quoted | Tok::Special(b'.'))
        ) {
            self.pos += 1;
        }
        match self.peek() {
            Some(Tok::Special(b'<')) => {
                if self.toks.get(start) == Some(&Tok::Special(b'.')) {
                    return Err(syntax("display name starts with '.'"));
                }
                self.pos += 1;
                self.angle_addr()
            }
            Some(Tok::Special(b'@')) => {
                check_local_part(&self.toks[start..self.pos])?;
                self.pos += 1;
                self.domain()
            }
            Some(Tok::Special(b':')) => Err(AuthorError::Group),
            Some(Tok::Special(b'>')) => Err(syntax("unbalanced '>'")),
            None | Some(Tok::Special(b',')) if start == self.pos => Err(syntax("empty address")),
            None | Some(Tok::Special(b',')) => Err(syntax("address without '@'")),
            other => Err(syntax(format!("unexpected {}", describe(other)))),
        }
    }

    /// angle-addr after the `<`: [obs-route] addr-spec ">"
    fn angle_addr(&mut self) -> Result<String, AuthorError> {
        if self.at(b'@') || self.at(b',') {
            // obs-route = obs-domain-list ":" ; ignored (RFC 5322 §4.4)
            loop {
                match self.peek() {
                    Some(Tok::Special(b',')) => self.pos += 1,
                    Some(Tok::Special(b'@')) => {
                        self.pos += 1;
                        // Route domains are ignored; a literal is allowed.
                        if self.peek() == Some(&Tok::Literal) {
                            self.pos += 1;
                        } else {
                            self.domain()?;
                        }
                    }
                    Some(Tok::Special(b':')) => {
                        self.pos += 1;
                        break;
                    }
                    other => {
                        return Err(syntax(format!(
                            "unexpected {} in obs-route",
                            describe(other)
                        )));
                    }
                }
            }
        }
        let start = self.pos;
        while matches!(
            self.peek(),
            Some(Tok::Atom(_) | Tok::Quoted | Tok::Special(b'.'))
        ) {
            self.pos += 1;
        }
        match self.peek() {
            Some(Tok::Special(b'@')) => {}
            Some(Tok::Special(b'>')) if start == self.pos => {
                return Err(syntax("empty address <>"));
            }
            Some(Tok::Special(b'<')) => return Err(syntax("unbalanced '<'")),
            other => {
                return Err(syntax(format!(
                    "expected local-part@domain inside <>, found {}",
                    describe(other)
                )));
            }
        }
        check_local_part(&self.toks[start..self.pos])?;
        self.pos += 1;
        let domain = self.domain()?;
        if !self.at(b'>') {
            return Err(syntax(format!(
                "expected '>' after the address, found {}",
                describe(self.peek())
            )));
        }
        self.pos += 1;
        Ok(domain)
    }

    /// domain = dot-atom / obs-domain (atoms separated by dots); a
    /// domain-literal is refused (it is not a host name).
    fn domain(&mut self) -> Result<String, AuthorError> {
        let mut out = String::new();
        loop {
            match self.peek() {
                Some(Tok::Atom(a)) => out.push_str(a),
                Some(Tok::Literal) => {
                    return Err(AuthorError::InvalidDomain(
                        "an address literal is not a host name".into(),
                    ));
                }
                other => {
                    return Err(syntax(format!(
                        "expected a domain label, found {}",
                        describe(other)
                    )));
                }
            }
            self.pos += 1;
            if !self.at(b'.') {
                return Ok(out);
            }
            self.pos += 1;
            out.push('.');
        }
    }
}

/// local-part = word *("." word) (dot-atom, quoted-string and obs-local-part
/// all fit this shape once whitespace and comments are dropped).
fn check_local_part(toks: &[Tok<'_>]) -> Result<(), AuthorError> {
    if toks.is_empty() {
        return Err(syntax("empty local-part"));
    }
    for (i, t) in toks.iter().enumerate() {
        let word = matches!(t, Tok::Atom(_) | Tok::Quoted);
        if word != (i % 2 == 0) {
            return Err(syntax("invalid local-part (a display name needs <>)"));
        }
    }
    if toks.len().is_multiple_of(2) {
        return Err(syntax("local-part ends with '.'"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lf_only_and_no_body() {
        let m = Message::parse(b"A: 1\nB :2\n");
        assert_eq!(m.headers().len(), 2);
        assert_eq!(m.headers()[1].name, b"B");
        assert_eq!(m.headers()[1].value, b"2");
        assert_eq!(m.body(), b"");
        assert_eq!(m.body_offset(), 10);
    }

    #[test]
    fn empty_body_and_garbage() {
        let m = Message::parse(b"no colon here\r\nX: y\r\n\r\n");
        assert!(!m.headers()[0].has_colon);
        assert_eq!(m.headers()[1].raw, b"X: y\r\n");
        assert_eq!(m.body(), b"");
        let m = Message::parse(b"");
        assert!(m.headers().is_empty());
        let m = Message::parse(b"\r\nbody");
        assert!(m.headers().is_empty());
        assert_eq!(m.body(), b"body");
    }

    #[test]
    fn continuation_at_end() {
        let m = Message::parse(b"X: a\r\n b");
        assert_eq!(m.headers()[0].value, b" a\r\n b");
        assert_eq!(m.headers()[0].raw, b"X: a\r\n b");
    }
}
