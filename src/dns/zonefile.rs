//! RFC 1035 §5 master files for [`ZoneResolver`].
//!
//! Supported: `$ORIGIN`, `$TTL` (RFC 2308 §4), `@`, relative and absolute
//! names, owner inheritance (a line starting with a blank belongs to the
//! previous owner), optional TTL and class fields in either order, TTL units
//! (`1h30m`, `2d`, `1w`, as BIND writes them), quoted and unquoted
//! character-strings with `\"`, `\\`, `\X` and `\DDD` (decimal, RFC 1035 §5.1)
//! escapes, several character-strings per TXT record, parentheses spanning
//! lines, `;` comments, and the record types A, AAAA, MX (`MX 0 .` is a null
//! MX, RFC 7505, with an empty exchange), TXT, PTR and CNAME.
//! SOA and NS records are checked for shape and otherwise ignored (the
//! in-memory zone has no delegations). Anything else is an error naming the
//! line: an unknown type, `$INCLUDE` (a zone file never makes us read other
//! files), a class other than `IN`, a malformed name, address or number.
//!
//! TTLs: a record's own TTL, else the `$TTL` default, else the last TTL
//! stated explicitly in the file (RFC 1035 §5.1), else
//! [`DEFAULT_TTL`].
//!
//! # Why not hickory-proto's parser
//!
//! hickory-proto 0.26 does expose `serialize::txt::Parser`, but it does not
//! fit: its errors carry no line numbers, it decodes `\DDD` as
//! `(d1 << 16) + (d2 << 8) + d3` instead of a decimal octet and turns escapes
//! into `char`s (so TXT data is not byte-exact), and it follows `$INCLUDE`
//! to arbitrary paths. This parser is small, linear in the input, never
//! panics, and keeps TXT data as raw bytes.
//!
//! ```
//! use sender_auth::dns::zone::ZoneResolver;
//! let zone = ZoneResolver::from_master_file(
//!     "$ORIGIN example.com.\n$TTL 300\n@ IN MX 10 mail\nmail A 192.0.2.1\n",
//!     None,
//! )
//! .unwrap();
//! assert!(!zone.is_empty());
//! let err = ZoneResolver::from_master_file("a.example. IN FOO bar\n", None).unwrap_err();
//! assert_eq!(err.line, 1);
//! assert_eq!(err.to_string(), "line 1: unknown record type \"FOO\"");
//! ```

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use super::zone::{DEFAULT_TTL, ZoneRecord, ZoneResolver};
use super::{Mx, NameError, Txt, check_name};

/// Largest TTL a master file may state: RFC 2181 §8 limits TTLs to
/// 2^31 - 1 seconds.
pub const MAX_FILE_TTL: u32 = 0x7fff_ffff;

/// Largest RDATA of one TXT record: RDLENGTH is a 16-bit field
/// (RFC 1035 §3.2.1).
const MAX_TXT_RDATA: usize = 65_535;

/// A master file could not be loaded: where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneFileError {
    /// The file, when loaded with [`ZoneResolver::load_file`].
    pub path: Option<PathBuf>,
    /// 1-based line number of the problem; 0 when it concerns no line (an
    /// unreadable file, a bad origin argument).
    pub line: usize,
    /// What is wrong.
    pub kind: ZoneFileErrorKind,
}

/// What is wrong in a master file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ZoneFileErrorKind {
    /// The file could not be read.
    Io(String),
    /// The file is not valid UTF-8 (use `\DDD` escapes for other octets).
    InvalidUtf8,
    /// A quoted string is not closed before the end of the file.
    UnterminatedQuote,
    /// A `)` without a matching `(`.
    UnbalancedParenthesis,
    /// A `(` still open at the end of the file.
    UnclosedParenthesis,
    /// A backslash escape that is not `\X` or `\DDD` with DDD <= 255.
    BadEscape,
    /// A `$` directive this loader does not support (`$INCLUDE`,
    /// `$GENERATE`, ...).
    UnsupportedDirective(String),
    /// A directive with the wrong number of arguments.
    BadDirective(String),
    /// A record starts with a blank but no owner name was stated before.
    NoOwner,
    /// A relative name (or `@`) is used but no origin is known.
    NoOrigin(String),
    /// A name is malformed.
    BadName {
        /// The name as written.
        name: String,
        /// Why it was refused.
        reason: String,
    },
    /// The origin passed to [`ZoneResolver::from_master_file`] is malformed.
    BadOrigin(NameError),
    /// A TTL is not a number (with optional units) or exceeds
    /// [`MAX_FILE_TTL`].
    BadTtl(String),
    /// The TTL field appears twice in one record.
    DuplicateTtl,
    /// A class other than `IN`.
    UnsupportedClass(String),
    /// The record has no type field.
    MissingType,
    /// A record type this loader does not know.
    UnknownType(String),
    /// The record data does not fit its type.
    BadRdata {
        /// The record type.
        rtype: String,
        /// What is wrong with the data.
        reason: String,
    },
    /// A name holds a CNAME and other data (RFC 1034 §3.6.2, RFC 2181
    /// §10.1).
    CnameAndOtherData(String),
}

impl fmt::Display for ZoneFileErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ZoneFileErrorKind as K;
        match self {
            K::Io(e) => write!(f, "cannot read zone file: {e}"),
            K::InvalidUtf8 => f.write_str("invalid UTF-8 (write other octets as \\DDD)"),
            K::UnterminatedQuote => f.write_str("quoted string is not closed"),
            K::UnbalancedParenthesis => f.write_str("')' without matching '('"),
            K::UnclosedParenthesis => f.write_str("'(' is not closed before the end of the file"),
            K::BadEscape => f.write_str("bad escape (expected \\X or \\DDD with DDD <= 255)"),
            K::UnsupportedDirective(d) => write!(f, "unsupported directive {d}"),
            K::BadDirective(d) => write!(f, "{d} needs exactly one argument"),
            K::NoOwner => f.write_str("record starts with a blank but no owner name precedes it"),
            K::NoOrigin(n) => write!(f, "relative name {n:?} but no $ORIGIN is set"),
            K::BadName { name, reason } => write!(f, "bad name {name:?}: {reason}"),
            K::BadOrigin(e) => write!(f, "bad origin: {e}"),
            K::BadTtl(t) => write!(f, "bad TTL {t:?}"),
            K::DuplicateTtl => f.write_str("TTL given twice"),
            K::UnsupportedClass(c) => write!(f, "unsupported class {c:?} (only IN)"),
            K::MissingType => f.write_str("missing record type"),
            K::UnknownType(t) => write!(f, "unknown record type {t:?}"),
            K::BadRdata { rtype, reason } => write!(f, "bad {rtype} record: {reason}"),
            K::CnameAndOtherData(n) => write!(f, "{n:?} has a CNAME and other data"),
        }
    }
}

impl fmt::Display for ZoneFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = &self.path {
            write!(f, "{}: ", p.display())?;
        }
        if self.line > 0 {
            write!(f, "line {}: ", self.line)?;
        }
        self.kind.fmt(f)
    }
}

impl std::error::Error for ZoneFileError {}

fn err(line: usize, kind: ZoneFileErrorKind) -> ZoneFileError {
    ZoneFileError {
        path: None,
        line,
        kind,
    }
}

/// One octet of a token, and whether it was written as an escape (an escaped
/// `.` is not a label separator, an escaped `@` is not the origin).
#[derive(Debug, Clone, Copy)]
struct Ch {
    b: u8,
    escaped: bool,
}

/// Appends one character of a token, counting the line when it is a
/// newline (inside quotes, or escaped).
fn push_ch(chars: &mut Vec<Ch>, line: &mut usize, b: u8, escaped: bool) {
    if b == b'\n' {
        *line += 1;
    }
    chars.push(Ch { b, escaped });
}

#[derive(Debug)]
struct Token {
    chars: Vec<Ch>,
    quoted: bool,
    line: usize,
}

impl Token {
    fn bytes(&self) -> Vec<u8> {
        self.chars.iter().map(|c| c.b).collect()
    }

    /// The token as text for messages (lossy; never used as data).
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes()).into_owned()
    }

    /// The token upper-cased, when it is a plain unquoted word.
    fn keyword(&self) -> Option<String> {
        if self.quoted || self.chars.iter().any(|c| c.escaped) {
            return None;
        }
        Some(self.text().to_ascii_uppercase())
    }
}

#[derive(Debug)]
struct Entry {
    line: usize,
    blank_start: bool,
    tokens: Vec<Token>,
}

/// Splits the file into entries (logical lines: parentheses join physical
/// lines) of tokens. Linear in the input.
fn lex(input: &str) -> Result<Vec<Entry>, ZoneFileError> {
    use ZoneFileErrorKind as K;
    let b = input.as_bytes();
    let n = b.len();
    let mut entries = Vec::new();
    let mut tokens: Vec<Token> = Vec::new();
    let mut entry_line = 1;
    let mut blank_start = false;
    let mut at_line_start = true;
    let mut line = 1;
    let mut depth = 0usize;
    let mut paren_line = 0;
    let mut i = 0;

    // Reads one escape starting at b[i] == '\\'; returns the octet and the
    // index after the escape.
    let escape = |i: usize, line: usize| -> Result<(u8, usize), ZoneFileError> {
        let Some(&c) = b.get(i + 1) else {
            return Err(err(line, K::BadEscape));
        };
        if c.is_ascii_digit() {
            let digits = b.get(i + 1..i + 4).ok_or(err(line, K::BadEscape))?;
            if !digits.iter().all(u8::is_ascii_digit) {
                return Err(err(line, K::BadEscape));
            }
            let v = digits
                .iter()
                .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
            let v = u8::try_from(v).map_err(|_| err(line, K::BadEscape))?;
            Ok((v, i + 4))
        } else {
            Ok((c, i + 2))
        }
    };

    while i < n {
        let c = b[i];
        if at_line_start && depth == 0 {
            entry_line = line;
            blank_start = c == b' ' || c == b'\t';
            at_line_start = false;
        }
        match c {
            b'\n' => {
                line += 1;
                i += 1;
                if depth == 0 {
                    if !tokens.is_empty() {
                        entries.push(Entry {
                            line: entry_line,
                            blank_start,
                            tokens: std::mem::take(&mut tokens),
                        });
                    }
                    at_line_start = true;
                }
            }
            b' ' | b'\t' | b'\r' => i += 1,
            b';' => {
                while i < n && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'(' => {
                if depth == 0 {
                    paren_line = line;
                }
                depth += 1;
                i += 1;
            }
            b')' => {
                if depth == 0 {
                    return Err(err(line, K::UnbalancedParenthesis));
                }
                depth -= 1;
                i += 1;
            }
            b'"' => {
                let start_line = line;
                let mut chars = Vec::new();
                i += 1;
                loop {
                    let Some(&c) = b.get(i) else {
                        return Err(err(start_line, K::UnterminatedQuote));
                    };
                    match c {
                        b'"' => {
                            i += 1;
                            break;
                        }
                        b'\\' => {
                            let (v, next) = escape(i, line)?;
                            push_ch(&mut chars, &mut line, v, true);
                            i = next;
                        }
                        _ => {
                            push_ch(&mut chars, &mut line, c, false);
                            i += 1;
                        }
                    }
                }
                tokens.push(Token {
                    chars,
                    quoted: true,
                    line: start_line,
                });
            }
            _ => {
                let start_line = line;
                let mut chars = Vec::new();
                while let Some(&c) = b.get(i) {
                    match c {
                        b' ' | b'\t' | b'\r' | b'\n' | b';' | b'(' | b')' | b'"' => break,
                        b'\\' => {
                            let (v, next) = escape(i, line)?;
                            push_ch(&mut chars, &mut line, v, true);
                            i = next;
                        }
                        _ => {
                            push_ch(&mut chars, &mut line, c, false);
                            i += 1;
                        }
                    }
                }
                tokens.push(Token {
                    chars,
                    quoted: false,
                    line: start_line,
                });
            }
        }
    }
    if depth > 0 {
        return Err(err(paren_line, K::UnclosedParenthesis));
    }
    if !tokens.is_empty() {
        entries.push(Entry {
            line: entry_line,
            blank_start,
            tokens,
        });
    }
    Ok(entries)
}

/// Parses a TTL: decimal seconds, or BIND-style units (`1h30m`, `2d`,
/// `1w`); at most [`MAX_FILE_TTL`].
fn parse_ttl(s: &str) -> Option<u32> {
    if s.is_empty() || !s.as_bytes()[0].is_ascii_digit() {
        return None;
    }
    let mut total: u64 = 0;
    let mut num: Option<u64> = None;
    for c in s.bytes() {
        if c.is_ascii_digit() {
            let v = num.unwrap_or(0) * 10 + u64::from(c - b'0');
            if v > u64::from(MAX_FILE_TTL) {
                return None;
            }
            num = Some(v);
        } else {
            let mult = match c.to_ascii_lowercase() {
                b's' => 1,
                b'm' => 60,
                b'h' => 3600,
                b'd' => 86_400,
                b'w' => 604_800,
                _ => return None,
            };
            total += num.take()? * mult;
            if total > u64::from(MAX_FILE_TTL) {
                return None;
            }
        }
    }
    total += num.unwrap_or(0);
    u32::try_from(total).ok().filter(|&t| t <= MAX_FILE_TTL)
}

/// Resolves a name token against `origin` (`None`: no origin known;
/// `Some("")`: the root). Returns the absolute name without trailing dot.
fn parse_name(tok: &Token, origin: Option<&str>) -> Result<String, ZoneFileError> {
    use ZoneFileErrorKind as K;
    let bad = |reason: &str| {
        err(
            tok.line,
            K::BadName {
                name: tok.text(),
                reason: reason.to_string(),
            },
        )
    };
    if tok.quoted {
        return Err(bad("names are not quoted"));
    }
    if tok.chars.len() == 1 && tok.chars[0].b == b'@' && !tok.chars[0].escaped {
        return match origin {
            Some("") => Err(bad("the root cannot hold records")),
            Some(o) => Ok(o.to_string()),
            None => Err(err(tok.line, K::NoOrigin(tok.text()))),
        };
    }
    let mut labels: Vec<String> = Vec::new();
    let mut label = String::new();
    let mut absolute = false;
    for (idx, ch) in tok.chars.iter().enumerate() {
        if ch.b == b'.' && !ch.escaped {
            if label.is_empty() {
                if tok.chars.len() == 1 {
                    return Err(bad("the root cannot hold records"));
                }
                return Err(bad("empty label"));
            }
            labels.push(std::mem::take(&mut label));
            if idx + 1 == tok.chars.len() {
                absolute = true;
            }
            continue;
        }
        if ch.b == b'.' {
            return Err(bad("escaped '.' inside a label is not supported"));
        }
        if !(0x21..=0x7e).contains(&ch.b) {
            return Err(bad("space, control or non-ASCII octet in name"));
        }
        label.push(char::from(ch.b));
    }
    if !label.is_empty() {
        labels.push(label);
    }
    let mut name = labels.join(".");
    if !absolute {
        match origin {
            None => return Err(err(tok.line, K::NoOrigin(tok.text()))),
            Some("") => {}
            Some(o) => {
                name.push('.');
                name.push_str(o);
            }
        }
    }
    check_name(&name).map_err(|e| bad(&e.to_string()))?;
    Ok(name)
}

struct Loader {
    zone: ZoneResolver,
    origin: Option<String>,
    default_ttl: Option<u32>,
    last_ttl: Option<u32>,
    last_owner: Option<String>,
}

impl Loader {
    fn directive(&mut self, entry: &Entry, kw: &str) -> Result<(), ZoneFileError> {
        use ZoneFileErrorKind as K;
        let args = &entry.tokens[1..];
        match kw {
            "$ORIGIN" => {
                let [arg] = args else {
                    return Err(err(entry.line, K::BadDirective(kw.to_string())));
                };
                // "." is the root: relative names then need nothing appended.
                if arg.chars.len() == 1 && arg.chars[0].b == b'.' && !arg.chars[0].escaped {
                    self.origin = Some(String::new());
                } else {
                    self.origin = Some(parse_name(arg, self.origin.as_deref())?);
                }
                Ok(())
            }
            "$TTL" => {
                let [arg] = args else {
                    return Err(err(entry.line, K::BadDirective(kw.to_string())));
                };
                let ttl = arg
                    .keyword()
                    .and_then(|t| parse_ttl(&t))
                    .ok_or_else(|| err(arg.line, K::BadTtl(arg.text())))?;
                self.default_ttl = Some(ttl);
                Ok(())
            }
            _ => Err(err(entry.line, K::UnsupportedDirective(kw.to_string()))),
        }
    }

    fn entry(&mut self, entry: &Entry) -> Result<(), ZoneFileError> {
        use ZoneFileErrorKind as K;
        let toks = &entry.tokens;
        if !entry.blank_start
            && let Some(kw) = toks[0].keyword().filter(|k| k.starts_with('$'))
        {
            return self.directive(entry, &kw);
        }
        let mut idx = 0;
        let owner = if entry.blank_start {
            self.last_owner
                .clone()
                .ok_or_else(|| err(entry.line, K::NoOwner))?
        } else {
            idx = 1;
            parse_name(&toks[0], self.origin.as_deref())?
        };
        self.last_owner = Some(owner.clone());

        // [<TTL>] [<class>] or [<class>] [<TTL>] (RFC 1035 §5.1)
        let mut ttl = None;
        let mut class = false;
        let rtype = loop {
            let Some(tok) = toks.get(idx) else {
                return Err(err(entry.line, K::MissingType));
            };
            idx += 1;
            let Some(kw) = tok.keyword() else {
                return Err(err(tok.line, K::UnknownType(tok.text())));
            };
            if kw.as_bytes().first().is_some_and(u8::is_ascii_digit) {
                if ttl.is_some() {
                    return Err(err(tok.line, K::DuplicateTtl));
                }
                ttl = Some(parse_ttl(&kw).ok_or_else(|| err(tok.line, K::BadTtl(tok.text())))?);
                continue;
            }
            if !class && matches!(kw.as_str(), "IN" | "CH" | "CS" | "HS" | "ANY" | "NONE") {
                if kw != "IN" {
                    return Err(err(tok.line, K::UnsupportedClass(tok.text())));
                }
                class = true;
                continue;
            }
            break (kw, tok.line);
        };
        let (rtype, type_line) = rtype;
        let rdata = &toks[idx..];

        let record_ttl = match ttl {
            Some(t) => {
                self.last_ttl = Some(t);
                t
            }
            None => self.default_ttl.or(self.last_ttl).unwrap_or(DEFAULT_TTL),
        };

        let origin = self.origin.as_deref();
        let bad = |line: usize, reason: String| {
            err(
                line,
                K::BadRdata {
                    rtype: rtype.clone(),
                    reason,
                },
            )
        };
        let count = |n: usize| -> Result<(), ZoneFileError> {
            if rdata.len() == n {
                Ok(())
            } else {
                let s = if n == 1 { "" } else { "s" };
                Err(bad(
                    type_line,
                    format!("expected {n} field{s}, found {}", rdata.len()),
                ))
            }
        };
        let word = |t: &Token| -> Result<String, ZoneFileError> {
            t.keyword().ok_or_else(|| {
                bad(
                    t.line,
                    format!("unexpected quoted or escaped {:?}", t.text()),
                )
            })
        };

        let record = match rtype.as_str() {
            "A" => {
                count(1)?;
                let t = &rdata[0];
                let ip: Ipv4Addr = word(t)?
                    .parse()
                    .map_err(|_| bad(t.line, format!("{:?} is not an IPv4 address", t.text())))?;
                ZoneRecord::A(ip)
            }
            "AAAA" => {
                count(1)?;
                let t = &rdata[0];
                let ip: Ipv6Addr = word(t)?
                    .parse()
                    .map_err(|_| bad(t.line, format!("{:?} is not an IPv6 address", t.text())))?;
                ZoneRecord::Aaaa(ip)
            }
            "MX" => {
                count(2)?;
                let t = &rdata[0];
                let preference: u16 = word(t)?.parse().map_err(|_| {
                    bad(
                        t.line,
                        format!("preference {:?} is not 0..=65535", t.text()),
                    )
                })?;
                let t = &rdata[1];
                // "." is a null MX (RFC 7505): the domain accepts no mail.
                let exchange = if !t.quoted
                    && t.chars.len() == 1
                    && t.chars[0].b == b'.'
                    && !t.chars[0].escaped
                {
                    String::new()
                } else {
                    parse_name(t, origin)?
                };
                ZoneRecord::Mx(Mx {
                    preference,
                    exchange,
                })
            }
            "TXT" => {
                if rdata.is_empty() {
                    return Err(bad(type_line, "no character-string".to_string()));
                }
                let mut total = 0usize;
                let mut strings = Vec::with_capacity(rdata.len());
                for t in rdata {
                    let s = t.bytes();
                    if s.len() > 255 {
                        return Err(bad(
                            t.line,
                            format!(
                                "character-string of {} octets (at most 255, RFC 1035 §3.3; \
                                 split it into several quoted strings)",
                                s.len()
                            ),
                        ));
                    }
                    total += s.len() + 1;
                    if total > MAX_TXT_RDATA {
                        return Err(bad(t.line, "more than 65535 octets of data".to_string()));
                    }
                    strings.push(s);
                }
                ZoneRecord::Txt(Txt::new(strings))
            }
            "PTR" => {
                count(1)?;
                ZoneRecord::Ptr(parse_name(&rdata[0], origin)?)
            }
            "CNAME" => {
                count(1)?;
                ZoneRecord::Cname(parse_name(&rdata[0], origin)?)
            }
            "NS" => {
                count(1)?;
                parse_name(&rdata[0], origin)?;
                return Ok(());
            }
            "SOA" => {
                count(7)?;
                parse_name(&rdata[0], origin)?;
                parse_name(&rdata[1], origin)?;
                let serial = &rdata[2];
                word(serial)?
                    .parse::<u32>()
                    .map_err(|_| bad(serial.line, format!("bad serial {:?}", serial.text())))?;
                for t in &rdata[3..] {
                    word(t)
                        .ok()
                        .and_then(|w| parse_ttl(&w))
                        .ok_or_else(|| bad(t.line, format!("bad time value {:?}", t.text())))?;
                }
                return Ok(());
            }
            _ => return Err(err(type_line, K::UnknownType(rtype.clone()))),
        };
        self.zone.add_record(&owner, Some(record_ttl), record);
        if self.zone.has_cname_conflict(&owner) {
            return Err(err(entry.line, K::CnameAndOtherData(owner)));
        }
        Ok(())
    }
}

impl ZoneResolver {
    /// Loads an RFC 1035 master file (see the [module docs](self) for what is
    /// supported). `origin` is the initial origin for relative names (a
    /// `$ORIGIN` line replaces it); without it, relative names before the
    /// first `$ORIGIN` are an error.
    ///
    /// Errors name the line and the problem; malformed input never panics.
    pub fn from_master_file(text: &str, origin: Option<&str>) -> Result<Self, ZoneFileError> {
        let origin = match origin {
            None => None,
            Some(".") => Some(String::new()),
            Some(o) => {
                check_name(o).map_err(|e| err(0, ZoneFileErrorKind::BadOrigin(e)))?;
                Some(o.strip_suffix('.').unwrap_or(o).to_string())
            }
        };
        let mut loader = Loader {
            zone: ZoneResolver::new(),
            origin,
            default_ttl: None,
            last_ttl: None,
            last_owner: None,
        };
        for entry in lex(text)? {
            loader.entry(&entry)?;
        }
        Ok(loader.zone)
    }

    /// Reads and loads a master file (no initial origin: the file sets
    /// `$ORIGIN` or uses absolute names). Errors carry the path.
    pub fn load_file(path: impl AsRef<Path>) -> Result<Self, ZoneFileError> {
        let path = path.as_ref();
        let with_path = |mut e: ZoneFileError| {
            e.path = Some(path.to_path_buf());
            e
        };
        let bytes = std::fs::read(path)
            .map_err(|e| with_path(err(0, ZoneFileErrorKind::Io(e.to_string()))))?;
        let text = std::str::from_utf8(&bytes).map_err(|e| {
            let line = 1 + bytes[..e.valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            with_path(err(line, ZoneFileErrorKind::InvalidUtf8))
        })?;
        Self::from_master_file(text, None).map_err(with_path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_units() {
        assert_eq!(parse_ttl("0"), Some(0));
        assert_eq!(parse_ttl("300"), Some(300));
        assert_eq!(parse_ttl("1h30m"), Some(5400));
        assert_eq!(parse_ttl("1W2d"), Some(777_600));
        assert_eq!(parse_ttl("2147483647"), Some(MAX_FILE_TTL));
        assert_eq!(parse_ttl("2147483648"), None);
        assert_eq!(parse_ttl("99999999999999999999999"), None);
        assert_eq!(parse_ttl("1x"), None);
        assert_eq!(parse_ttl("h"), None);
        assert_eq!(parse_ttl("1hh"), None);
        assert_eq!(parse_ttl(""), None);
    }

    #[test]
    fn lexer_escapes_and_parens() {
        let e = lex("a \"x\\\"y\\\\z\\065\" ( b\n c ) ; comment\nd e\n").unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].tokens.len(), 4);
        assert_eq!(e[0].tokens[1].bytes(), b"x\"y\\zA");
        assert_eq!(e[1].line, 3);
        assert!(lex("a \\256").is_err());
        assert!(lex("a \\25").is_err());
        assert!(lex("a \\").is_err());
        assert!(lex("a )").is_err());
        assert_eq!(lex("a (\n\n").unwrap_err().line, 1);
        assert_eq!(lex("\n\na \"abc").unwrap_err().line, 3);
    }
}
