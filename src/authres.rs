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
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_' || *c == '.')
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

fn is_domain_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
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
