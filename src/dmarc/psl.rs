//! Public Suffix List matching for the RFC 7489 Organizational Domain
//! (RFC 7489 §3.2).
//!
//! [`SuffixList`] is the seam. Two implementations:
//!
//! * [`EmbeddedPsl`] (the default): the list embedded in the maintained
//!   [`psl`] crate;
//! * [`PslFile`]: a list loaded at run time from the text of a
//!   `public_suffix_list.dat` file, so a deployment (or a test) can pin the
//!   exact snapshot it uses. The repository ships no copy of the list.
//!
//! Both sections of the list (ICANN and PRIVATE) are used, as the `psl`
//! crate and OpenDMARC do; RFC 7489 does not say which to use.
//!
//! Matching follows the PSL algorithm (publicsuffix.org "Formal
//! Algorithm"): the matching rule with the most labels wins, an exception
//! rule (`!`) beats every other rule and removes its leftmost label, a
//! wildcard (`*.`) matches exactly one label, and when nothing matches the
//! implicit rule `*` makes the top-level label the public suffix. Names are
//! matched as lower-case A-labels; rules written with U-labels are converted
//! when the file is loaded.
//!
//! ```
//! use sender_auth::dmarc::psl::{organizational_domain, PslFile};
//! let list = PslFile::parse("com\nuk\nco.uk\n*.ck\n!www.ck\n");
//! assert_eq!(organizational_domain(&list, "a.b.example.co.uk"), "example.co.uk");
//! assert_eq!(organizational_domain(&list, "x.www.ck"), "www.ck");
//! assert_eq!(organizational_domain(&list, "co.uk"), "co.uk");
//! ```

use std::collections::HashSet;
use std::fmt;

/// A public suffix list.
pub trait SuffixList: Send + Sync + fmt::Debug {
    /// Number of labels at the right of `labels` (a name's labels, left to
    /// right, lower-case A-labels, none empty) that form its public suffix.
    /// At least 1 for a non-empty name (the implicit `*` rule).
    fn suffix_labels(&self, labels: &[&str]) -> usize;
}

/// The list embedded in the [`psl`] crate.
#[derive(Debug, Clone, Copy, Default)]
pub struct EmbeddedPsl;

impl SuffixList for EmbeddedPsl {
    fn suffix_labels(&self, labels: &[&str]) -> usize {
        if labels.is_empty() {
            return 0;
        }
        let name = labels.join(".");
        let n = psl::suffix(name.as_bytes())
            .map(|s| s.trim().as_bytes().split(|&b| b == b'.').count())
            .unwrap_or(1);
        n.clamp(1, labels.len())
    }
}

/// A list parsed from the text of a `public_suffix_list.dat` file.
#[derive(Debug, Clone, Default)]
pub struct PslFile {
    /// Normal rules, as A-label names.
    rules: HashSet<String>,
    /// Parents of wildcard rules (`*.ck` is stored as `ck`).
    wildcards: HashSet<String>,
    /// Exception rules without the `!`.
    exceptions: HashSet<String>,
}

/// Lower-case A-label form of a rule or name; `None` when IDNA refuses it.
fn to_ascii(name: &str) -> Option<String> {
    if name.is_ascii() {
        return Some(name.to_ascii_lowercase());
    }
    idna::domain_to_ascii(name).ok()
}

impl PslFile {
    /// Parses the list text: one rule per line (the first whitespace-free
    /// word), `//` comments and blank lines ignored. Rules that IDNA cannot
    /// convert are skipped.
    pub fn parse(text: &str) -> Self {
        let mut list = PslFile::default();
        for line in text.lines() {
            let Some(rule) = line.split_whitespace().next() else {
                continue;
            };
            if rule.starts_with("//") {
                continue;
            }
            if let Some(ex) = rule.strip_prefix('!') {
                if let Some(a) = to_ascii(ex) {
                    list.exceptions.insert(a);
                }
            } else if let Some(parent) = rule.strip_prefix("*.") {
                if let Some(a) = to_ascii(parent) {
                    list.wildcards.insert(a);
                }
            } else if let Some(a) = to_ascii(rule) {
                list.rules.insert(a);
            }
        }
        list
    }

    /// Reads and parses a list file.
    pub fn load(path: impl AsRef<std::path::Path>) -> std::io::Result<Self> {
        Ok(Self::parse(&std::fs::read_to_string(path)?))
    }

    /// Number of rules loaded.
    pub fn len(&self) -> usize {
        self.rules.len() + self.wildcards.len() + self.exceptions.len()
    }

    /// True when no rule was loaded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl SuffixList for PslFile {
    fn suffix_labels(&self, labels: &[&str]) -> usize {
        let n = labels.len();
        if n == 0 {
            return 0;
        }
        let mut best = 1; // the implicit "*" rule
        let mut exception: Option<usize> = None;
        for k in 1..=n {
            let suffix = labels[n - k..].join(".");
            if self.exceptions.contains(&suffix) {
                exception = Some(k);
            }
            if self.rules.contains(&suffix) {
                best = best.max(k);
            }
            if k >= 2 && self.wildcards.contains(&labels[n - k + 1..].join(".")) {
                best = best.max(k);
            }
        }
        match exception {
            Some(k) => (k - 1).max(1),
            None => best,
        }
    }
}

/// Splits a name into labels after lower-casing and converting to
/// A-labels; `None` for an empty name, a leading dot or an empty label.
fn ascii_labels(domain: &str) -> Option<String> {
    let d = domain.strip_suffix('.').unwrap_or(domain);
    if d.is_empty() || d.split('.').any(str::is_empty) {
        return None;
    }
    to_ascii(d).filter(|a| !a.split('.').any(str::is_empty))
}

/// The registrable domain of `domain` (public suffix plus one label), in
/// the form of the input (lower-cased): `None` when the name is itself a
/// public suffix, empty, or has an empty label (for example a leading dot).
/// This is what the PSL's own `test_psl.txt` checks.
pub fn registrable_domain(list: &dyn SuffixList, domain: &str) -> Option<String> {
    let ascii = ascii_labels(domain)?;
    let labels: Vec<&str> = ascii.split('.').collect();
    let k = list.suffix_labels(&labels);
    if labels.len() <= k {
        return None;
    }
    let lower = domain.strip_suffix('.').unwrap_or(domain).to_lowercase();
    let orig: Vec<&str> = lower.split('.').collect();
    // Answer in the caller's form when the label counts agree (U-labels in,
    // U-labels out); otherwise in A-labels.
    if orig.len() == labels.len() {
        Some(orig[orig.len() - k - 1..].join("."))
    } else {
        Some(labels[labels.len() - k - 1..].join("."))
    }
}

/// The RFC 7489 §3.2 Organizational Domain of `domain` (lower-case A-label
/// name): its registrable domain, or the name itself when it is a public
/// suffix (or not a usable name). Leading and trailing dots are ignored.
pub fn organizational_domain(list: &dyn SuffixList, domain: &str) -> String {
    let d = domain.trim_matches('.');
    let ascii = ascii_labels(d).unwrap_or_else(|| d.to_ascii_lowercase());
    registrable_domain(list, &ascii).unwrap_or(ascii)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_basics() {
        let l = EmbeddedPsl;
        assert_eq!(
            organizational_domain(&l, "a.b.example.co.uk"),
            "example.co.uk"
        );
        assert_eq!(organizational_domain(&l, "Mail.Example.COM"), "example.com");
        assert_eq!(registrable_domain(&l, "com"), None);
        assert_eq!(registrable_domain(&l, ".example.com"), None);
        assert_eq!(
            registrable_domain(&l, "b.example.example").as_deref(),
            Some("example.example")
        );
    }

    #[test]
    fn file_rules() {
        let l = PslFile::parse("// c\n\ncom\n*.mm\n*.kobe.jp\n!city.kobe.jp\njp\n公司.cn\ncn\n");
        assert_eq!(registrable_domain(&l, "c.mm"), None);
        assert_eq!(
            registrable_domain(&l, "a.b.c.mm").as_deref(),
            Some("b.c.mm")
        );
        assert_eq!(
            registrable_domain(&l, "www.city.kobe.jp").as_deref(),
            Some("city.kobe.jp")
        );
        assert_eq!(
            registrable_domain(&l, "www.食狮.公司.cn").as_deref(),
            Some("食狮.公司.cn")
        );
        assert_eq!(registrable_domain(&l, "xn--55qx5d.cn"), None);
        assert_eq!(organizational_domain(&l, "...mac.com.."), "mac.com");
    }
}
