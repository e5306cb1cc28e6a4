//! Authentication-Results rendering (RFC 8601).
//!
//! [`AuthenticationResults`] holds an authserv-id and one [`ResInfo`] per
//! method result; it renders the header field. Everything that can come
//! from DNS or from the message (reasons, property values, comments, the
//! authserv-id itself) is escaped so it cannot inject syntax: values that are
//! not RFC 2045 tokens are written as quoted-strings, CR, LF and other
//! control characters are replaced by spaces, and comment text has its
//! parentheses and backslashes escaped.
//!
//! ```
//! use sender_auth::authres::{AuthenticationResults, ResInfo};
//!
//! let mut ar = AuthenticationResults::new("mx.example.net");
//! ar.push(
//!     ResInfo::new("iprev", "pass")
//!         .property("policy", "iprev", "2001:db8::25")
//!         .comment("mail.example.com"),
//! );
//! assert_eq!(
//!     ar.value(),
//!     "mx.example.net; iprev=pass (mail.example.com) policy.iprev=\"2001:db8::25\""
//! );
//! ```

use std::fmt::Write as _;

/// The name of the header field.
pub const HEADER_NAME: &str = "Authentication-Results";

/// One `Authentication-Results` header field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticationResults {
    /// The authserv-id: the name of the receiving system (RFC 8601 §2.5).
    pub authserv_id: String,
    /// One entry per method result, in order.
    pub results: Vec<ResInfo>,
}

/// One method result ("resinfo", RFC 8601 §2.2): `method=result` with an
/// optional reason, comment and properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResInfo {
    /// The method (`iprev`, `spf`, `dkim`, `dmarc`, ...).
    pub method: String,
    /// The result word (`pass`, `fail`, ...).
    pub result: String,
    /// Free-text reason, rendered as `reason="..."`.
    pub reason: Option<String>,
    /// A comment rendered after the result, in parentheses.
    pub comment: Option<String>,
    /// Properties `ptype.property=value`, in order.
    pub properties: Vec<Property>,
}

/// One property of a result (RFC 8601 §2.3): `ptype.name=value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    /// `smtp`, `header`, `body` or `policy`.
    pub ptype: String,
    /// The property name (`mailfrom`, `d`, `from`, ...).
    pub name: String,
    /// The value, as plain text; quoting happens when rendering.
    pub value: String,
}

impl ResInfo {
    /// A result with no reason, comment or properties.
    pub fn new(method: impl Into<String>, result: impl Into<String>) -> Self {
        ResInfo {
            method: method.into(),
            result: result.into(),
            reason: None,
            comment: None,
            properties: Vec::new(),
        }
    }

    /// Sets the reason.
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// Sets the comment.
    pub fn comment(mut self, comment: impl Into<String>) -> Self {
        self.comment = Some(comment.into());
        self
    }

    /// Adds a property.
    pub fn property(
        mut self,
        ptype: impl Into<String>,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        self.properties.push(Property {
            ptype: ptype.into(),
            name: name.into(),
            value: value.into(),
        });
        self
    }

    fn render(&self, out: &mut String) {
        out.push_str(&keyword(&self.method));
        out.push('=');
        out.push_str(&keyword(&self.result));
        if let Some(c) = &self.comment {
            out.push_str(" (");
            out.push_str(&comment_text(c));
            out.push(')');
        }
        if let Some(r) = &self.reason {
            out.push_str(" reason=");
            out.push_str(&quoted_string(r));
        }
        for p in &self.properties {
            let _ = write!(
                out,
                " {}.{}={}",
                keyword(&p.ptype),
                keyword(&p.name),
                pvalue(&p.value)
            );
        }
    }
}

impl AuthenticationResults {
    /// An empty header for `authserv_id`.
    pub fn new(authserv_id: impl Into<String>) -> Self {
        AuthenticationResults {
            authserv_id: authserv_id.into(),
            results: Vec::new(),
        }
    }

    /// Appends a result.
    pub fn push(&mut self, r: ResInfo) -> &mut Self {
        self.results.push(r);
        self
    }

    /// The field value on one line (no CRLF): `authserv-id; resinfo; ...`,
    /// or `authserv-id; none` when there is no result.
    pub fn value(&self) -> String {
        self.render("; ")
    }

    /// The whole header field, folded with one result per line
    /// (`Authentication-Results: id;\r\n\tres1;\r\n\tres2`), without the
    /// final CRLF.
    pub fn header(&self) -> String {
        format!("{HEADER_NAME}: {}", self.render(";\r\n\t"))
    }

    /// Returns `message` with every field claiming this authserv-id removed
    /// ([`remove_forged`]) and this header field added on top. The field
    /// uses the message's line endings (bare LF when the message has no CR).
    ///
    /// ```
    /// use sender_auth::authres::{AuthenticationResults, ResInfo};
    /// let mut ar = AuthenticationResults::new("mx.example");
    /// ar.push(ResInfo::new("spf", "pass"));
    /// let out = ar.stamp(b"Authentication-Results: mx.example; dkim=pass\r\nFrom: a@b.example\r\n\r\nhi\r\n");
    /// assert_eq!(
    ///     out,
    ///     b"Authentication-Results: mx.example;\r\n\tspf=pass\r\nFrom: a@b.example\r\n\r\nhi\r\n"
    /// );
    /// ```
    pub fn stamp(&self, message: &[u8]) -> Vec<u8> {
        let clean = remove_forged(message, &self.authserv_id);
        let eol = if message.contains(&b'\r') {
            "\r\n"
        } else {
            "\n"
        };
        let header = format!("{HEADER_NAME}: {}{eol}", self.render(&format!(";{eol}\t")));
        let mut out = Vec::with_capacity(header.len() + clean.len());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(&clean);
        out
    }

    fn render(&self, sep: &str) -> String {
        let mut out = value(&self.authserv_id);
        if self.results.is_empty() {
            out.push_str("; none");
            return out;
        }
        for r in &self.results {
            out.push_str(sep);
            r.render(&mut out);
        }
        out
    }
}

impl std::fmt::Display for AuthenticationResults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.header())
    }
}

/// RFC 2045 `tspecials`.
fn is_tspecial(c: char) -> bool {
    matches!(
        c,
        '(' | ')' | '<' | '>' | '@' | ',' | ';' | ':' | '\\' | '"' | '/' | '[' | ']' | '?' | '='
    )
}

/// True when `s` is an RFC 2045 token: one or more printable US-ASCII
/// characters other than SPACE and tspecials.
pub fn is_token(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_graphic() && !is_tspecial(c))
}

fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Renders `s` as an RFC 5322 quoted-string: `"` and `\` escaped, control
/// characters (CR, LF, NUL, ...) replaced by spaces.
pub fn quoted_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in sanitize(s).chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// A `value` (RFC 2045): the token itself, or a quoted-string.
pub fn value(s: &str) -> String {
    if is_token(s) {
        s.to_string()
    } else {
        quoted_string(s)
    }
}

/// Method names, results, ptypes and property names are keywords; anything
/// else is reduced to a token so that it cannot inject syntax.
fn keyword(s: &str) -> String {
    let k: String = s
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    if k.is_empty() { "x-invalid".into() } else { k }
}

fn is_dot_atom(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|a| {
            !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c))
        })
}

/// True when `s` is a plain ASCII domain name (LDH labels, `_` allowed,
/// DNS length limits): safe to write as a bare property value and readable
/// by every A-R parser. Protocol modules omit `header.d`-style properties
/// whose value is not one rather than echo a malformed identifier.
pub fn is_domain_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

/// True when `s` is `[local-part]@domain` with a dot-atom local-part (or
/// none) and a domain accepted by [`is_domain_name`].
pub fn is_identity(s: &str) -> bool {
    s.rsplit_once('@').is_some_and(|(local, domain)| {
        (local.is_empty() || is_dot_atom(local)) && is_domain_name(domain)
    })
}

/// A property value (RFC 8601 `pvalue`): a token, `[local-part]@domain`
/// written bare when both parts are simple, otherwise a quoted-string.
pub fn pvalue(s: &str) -> String {
    if is_token(s) {
        return s.to_string();
    }
    if let Some((local, domain)) = s.rsplit_once('@')
        && (local.is_empty() || is_dot_atom(local))
        && is_domain_name(domain)
    {
        return s.to_string();
    }
    quoted_string(s)
}

/// Escapes comment text: control characters become spaces and `(`, `)`, `\`
/// are quoted-pairs, so the comment always closes where we close it.
pub fn comment_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in sanitize(s).chars() {
        if matches!(c, '(' | ')' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Why an `Authentication-Results` field value did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Byte offset of the problem in the input.
    pub offset: usize,
    /// What was expected or found.
    pub message: &'static str,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at offset {}", self.message, self.offset)
    }
}

impl std::error::Error for ParseError {}

/// Most nesting of comments accepted by the parser.
const MAX_COMMENT_DEPTH: usize = 64;

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn err<T>(&self, message: &'static str) -> Result<T, ParseError> {
        Err(ParseError {
            offset: self.i,
            message,
        })
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    /// Skips CFWS; returns the text of the comments seen (unescaped,
    /// joined by a space), if any.
    fn cfws(&mut self) -> Result<Option<String>, ParseError> {
        let mut comments: Option<String> = None;
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\r' | b'\n') => self.i += 1,
                Some(b'(') => {
                    let c = self.comment()?;
                    match &mut comments {
                        Some(all) => {
                            all.push(' ');
                            all.push_str(&c);
                        }
                        None => comments = Some(c),
                    }
                }
                _ => return Ok(comments),
            }
        }
    }

    fn comment(&mut self) -> Result<String, ParseError> {
        let mut depth = 0usize;
        let mut out = Vec::new();
        loop {
            let Some(b) = self.peek() else {
                return self.err("unterminated comment");
            };
            self.i += 1;
            match b {
                b'(' => {
                    depth += 1;
                    if depth > MAX_COMMENT_DEPTH {
                        return self.err("comments nested too deeply");
                    }
                    if depth > 1 {
                        out.push(b);
                    }
                }
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(String::from_utf8_lossy(&out).into_owned());
                    }
                    out.push(b);
                }
                b'\\' => match self.peek() {
                    Some(n) => {
                        out.push(n);
                        self.i += 1;
                    }
                    None => return self.err("unterminated quoted-pair"),
                },
                _ => out.push(b),
            }
        }
    }

    fn quoted(&mut self) -> Result<String, ParseError> {
        self.i += 1; // opening quote
        let mut out = Vec::new();
        loop {
            let Some(b) = self.peek() else {
                return self.err("unterminated quoted-string");
            };
            self.i += 1;
            match b {
                b'"' => return Ok(String::from_utf8_lossy(&out).into_owned()),
                b'\\' => match self.peek() {
                    Some(n) => {
                        out.push(n);
                        self.i += 1;
                    }
                    None => return self.err("unterminated quoted-pair"),
                },
                _ => out.push(b),
            }
        }
    }

    fn run(&mut self, ok: impl Fn(u8) -> bool) -> String {
        let start = self.i;
        while self.peek().is_some_and(&ok) {
            self.i += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
    }

    fn token(&mut self) -> String {
        self.run(|b| b > b' ' && b != 0x7f && !(b < 0x80 && is_tspecial(char::from(b))))
    }

    fn keyword(&mut self, what: &'static str) -> Result<String, ParseError> {
        let k = self.run(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if k.is_empty() {
            return self.err(what);
        }
        Ok(k)
    }

    fn value(&mut self) -> Result<String, ParseError> {
        if self.peek() == Some(b'"') {
            return self.quoted();
        }
        let t = self.token();
        if t.is_empty() {
            return self.err("expected a value");
        }
        Ok(t)
    }

    fn pvalue(&mut self) -> Result<String, ParseError> {
        if self.peek() == Some(b'"') {
            return self.quoted();
        }
        let t = self.run(|b| b > b' ' && b != 0x7f && !matches!(b, b';' | b'(' | b')' | b'"'));
        if t.is_empty() {
            return self.err("expected a property value");
        }
        Ok(t)
    }

    fn expect(&mut self, b: u8, what: &'static str) -> Result<(), ParseError> {
        if self.peek() == Some(b) {
            self.i += 1;
            Ok(())
        } else {
            self.err(what)
        }
    }
}

/// Parses an `Authentication-Results` field value (RFC 8601 §2.2), with or
/// without the leading field name. Comments are skipped, except that the
/// first comment after a result is kept as [`ResInfo::comment`]. A version
/// number after the authserv-id is accepted and not kept. `none` gives an
/// empty result list.
///
/// ```
/// use sender_auth::authres::parse;
/// let ar = parse("Authentication-Results: mx.example; spf=pass (ok) smtp.mailfrom=a@example.com").unwrap();
/// assert_eq!(ar.authserv_id, "mx.example");
/// assert_eq!(ar.results[0].method, "spf");
/// assert_eq!(ar.results[0].comment.as_deref(), Some("ok"));
/// assert_eq!(ar.results[0].properties[0].value, "a@example.com");
/// ```
pub fn parse(input: &str) -> Result<AuthenticationResults, ParseError> {
    let mut text = input;
    if let Some((name, rest)) = input.split_once(':')
        && name.trim().eq_ignore_ascii_case(HEADER_NAME)
    {
        text = rest;
    }
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    p.cfws()?;
    let authserv_id = p.value()?;
    p.cfws()?;
    if p.peek().is_some_and(|b| b.is_ascii_digit()) {
        p.run(|b| b.is_ascii_digit());
        p.cfws()?;
    }
    let mut ar = AuthenticationResults::new(authserv_id);
    let mut first = true;
    while p.peek().is_some() {
        p.expect(b';', "expected ';'")?;
        p.cfws()?;
        if p.peek().is_none() {
            break; // a trailing ';' is tolerated
        }
        let method = p.keyword("expected a method")?;
        p.cfws()?;
        if first && p.peek() != Some(b'=') && method.eq_ignore_ascii_case("none") {
            p.cfws()?;
            if p.peek().is_none() {
                return Ok(ar);
            }
            return p.err("text after 'none'");
        }
        first = false;
        if p.peek() == Some(b'/') {
            p.i += 1;
            p.cfws()?;
            p.run(|b| b.is_ascii_digit());
            p.cfws()?;
        }
        p.expect(b'=', "expected '=' after the method")?;
        p.cfws()?;
        let result = p.keyword("expected a result")?;
        let mut r = ResInfo::new(method, result);
        r.comment = p.cfws()?;
        loop {
            match p.peek() {
                None | Some(b';') => break,
                _ => {}
            }
            let name = p.keyword("expected reason or a property")?;
            p.cfws()?;
            if p.peek() == Some(b'.') {
                p.i += 1;
                p.cfws()?;
                let prop = p.keyword("expected a property name")?;
                p.cfws()?;
                p.expect(b'=', "expected '=' after the property")?;
                p.cfws()?;
                let value = p.pvalue()?;
                r.properties.push(Property {
                    ptype: name,
                    name: prop,
                    value,
                });
            } else if name.eq_ignore_ascii_case("reason") {
                p.expect(b'=', "expected '=' after reason")?;
                p.cfws()?;
                r.reason = Some(p.value()?);
            } else {
                return p.err("expected reason or a property");
            }
            p.cfws()?;
        }
        ar.results.push(r);
    }
    Ok(ar)
}

impl AuthenticationResults {
    /// What [`parse`] gives back for this header once rendered: control
    /// characters in free text become spaces, and method, result, ptype
    /// and property names are reduced to keyword characters. For any
    /// value `v`, `parse(&v.header()) == Ok(v.normalized())`.
    pub fn normalized(&self) -> AuthenticationResults {
        AuthenticationResults {
            authserv_id: sanitize(&self.authserv_id),
            results: self
                .results
                .iter()
                .map(|r| ResInfo {
                    method: keyword(&r.method),
                    result: keyword(&r.result),
                    reason: r.reason.as_deref().map(sanitize),
                    comment: r.comment.as_deref().map(sanitize),
                    properties: r
                        .properties
                        .iter()
                        .map(|p| Property {
                            ptype: keyword(&p.ptype),
                            name: keyword(&p.name),
                            value: sanitize(&p.value),
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

/// The authserv-id an `Authentication-Results` field value claims: the
/// first value after optional CFWS, or `None` when there is none.
pub fn claimed_authserv_id(field_value: &[u8]) -> Option<String> {
    let mut p = Parser {
        s: field_value,
        i: 0,
    };
    p.cfws().ok()?;
    let id = p.value().ok()?;
    Some(id)
}

fn same_authserv_id(a: &str, b: &str) -> bool {
    let a = a.trim().trim_end_matches('.');
    let b = b.trim().trim_end_matches('.');
    a.eq_ignore_ascii_case(b)
}

/// Removes from `message` every `Authentication-Results` header field that
/// claims `authserv_id` (compared case-insensitively, a trailing dot
/// ignored), wherever it appears in the header, as RFC 8601 §5 requires of
/// a receiver before it adds its own. A field whose authserv-id cannot be
/// read is removed too (it cannot be trusted to be someone else's). All
/// other bytes are kept as they were.
///
/// ```
/// use sender_auth::authres::remove_forged;
/// let msg = b"Authentication-Results: mx.example; dkim=pass\r\nFrom: a@example.com\r\n\
/// Authentication-Results: other.example; spf=pass\r\n\r\nbody\r\n";
/// let clean = remove_forged(msg, "MX.example");
/// assert_eq!(
///     clean,
///     b"From: a@example.com\r\nAuthentication-Results: other.example; spf=pass\r\n\r\nbody\r\n"
/// );
/// ```
pub fn remove_forged(message: &[u8], authserv_id: &str) -> Vec<u8> {
    let parsed = crate::message::Message::parse(message);
    let mut out = Vec::with_capacity(message.len());
    let mut pos = 0;
    // Header fields are contiguous from the start of the message.
    let mut start = 0;
    for h in parsed.headers() {
        let field_start = start;
        start += h.raw.len();
        if !h.is(HEADER_NAME) {
            continue;
        }
        let claims_ours = match claimed_authserv_id(h.value) {
            Some(id) => same_authserv_id(&id, authserv_id),
            None => true,
        };
        if claims_ours {
            out.extend_from_slice(&message[pos..field_start]);
            pos = field_start + h.raw.len();
        }
    }
    out.extend_from_slice(&message[pos..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_is_none() {
        assert_eq!(AuthenticationResults::new("mx").value(), "mx; none");
    }

    #[test]
    fn folding() {
        let mut ar = AuthenticationResults::new("mx.example");
        ar.push(ResInfo::new("iprev", "pass").property("policy", "iprev", "192.0.2.1"));
        ar.push(
            ResInfo::new("spf", "fail")
                .property("smtp", "mailfrom", "user@example.com")
                .reason("no"),
        );
        assert_eq!(
            ar.header(),
            "Authentication-Results: mx.example;\r\n\tiprev=pass policy.iprev=192.0.2.1;\r\n\tspf=fail reason=\"no\" smtp.mailfrom=user@example.com"
        );
    }

    #[test]
    fn injection_is_neutralised() {
        let mut ar = AuthenticationResults::new("mx; dkim=pass");
        ar.push(
            ResInfo::new("spf", "pass; dmarc=pass")
                .reason("x\"; dkim=pass\r\nX-Evil: 1")
                .comment("a) dkim=pass (")
                .property("smtp", "mailfrom", "a\"b@example.com; dmarc=pass"),
        );
        let v = ar.value();
        assert_eq!(
            v,
            "\"mx; dkim=pass\"; spf=passdmarcpass (a\\) dkim=pass \\() reason=\"x\\\"; dkim=pass  X-Evil: 1\" smtp.mailfrom=\"a\\\"b@example.com; dmarc=pass\""
        );
        assert!(!v.contains('\r') && !v.contains('\n'));
    }

    #[test]
    fn pvalues() {
        assert_eq!(pvalue("example.com"), "example.com");
        assert_eq!(pvalue("@example.com"), "@example.com");
        assert_eq!(pvalue("2001:db8::1"), "\"2001:db8::1\"");
        assert_eq!(pvalue("a b@example.com"), "\"a b@example.com\"");
        assert_eq!(pvalue(""), "\"\"");
    }
}
