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
    match raw[start..].iter().position(|&b| b == b'\n') {
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
        let mut headers = Vec::new();
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
