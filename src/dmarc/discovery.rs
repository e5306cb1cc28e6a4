//! Policy record discovery: the RFC 9989 DNS Tree Walk (§4.10) and the
//! RFC 7489 lookup at the Author and Organizational Domains (§6.6.3).
//!
//! Every query goes through [`Lookups`], which caches the answer per name
//! for one evaluation and enforces a total query budget, so walks for the
//! Author Domain and for the DKIM/SPF domains share their common ancestors
//! and the work is bounded.
//!
//! ```
//! use sender_auth::dmarc::discovery::tree_walk;
//! use sender_auth::dns::zone::ZoneResolver;
//!
//! let mut zone = ZoneResolver::new();
//! zone.add_txt_str("_dmarc.example.com", "v=DMARC1; p=reject");
//! let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! let walk = rt.block_on(tree_walk(&zone, "a.b.c.d.e.f.g.h.i.example.com", 8));
//! // the start name, then 7 labels, then one label at a time up to "com"
//! assert_eq!(walk.queries, 8);
//! assert_eq!(walk.organizational_domain(), "example.com");
//! ```

use std::collections::HashMap;

use super::record::{self, DmarcRecord, Psd};
use crate::dns::{DnsError, Resolver};

/// What one `_dmarc.<name>` TXT lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetch {
    /// No DMARC record (NXDOMAIN, NODATA, or only non-DMARC TXT records).
    Nothing,
    /// More than one DMARC record: all are discarded (RFC 9989 §4.10
    /// steps 2 and 6, RFC 7489 §6.6.3).
    Multiple,
    /// Exactly one DMARC record.
    One(DmarcRecord),
    /// A temporary DNS failure (or the query budget ran out).
    TempFail(String),
}

/// Cached, budgeted `_dmarc` lookups for one evaluation.
pub struct Lookups<'r, R: Resolver + ?Sized> {
    resolver: &'r R,
    cache: HashMap<String, Fetch>,
    /// Queries sent so far.
    pub queries: usize,
    budget: usize,
}

impl<'r, R: Resolver + ?Sized> Lookups<'r, R> {
    /// Lookups through `resolver`, sending at most `budget` queries.
    pub fn new(resolver: &'r R, budget: usize) -> Self {
        Lookups {
            resolver,
            cache: HashMap::new(),
            queries: 0,
            budget,
        }
    }

    /// Fetches and classifies the DMARC records at `_dmarc.<domain>`.
    pub async fn fetch(&mut self, domain: &str) -> Fetch {
        if let Some(f) = self.cache.get(domain) {
            return f.clone();
        }
        let f = if self.queries >= self.budget {
            // Not cached: a later call may not see a different answer.
            return Fetch::TempFail("DNS query budget exhausted".into());
        } else {
            self.queries += 1;
            let name = format!("_dmarc.{domain}");
            match self.resolver.txt(&name).await {
                Ok(answer) => {
                    let dmarc: Vec<Vec<u8>> = answer
                        .iter()
                        .map(|t| t.concat())
                        .filter(|t| record::is_dmarc(t))
                        .collect();
                    match dmarc.as_slice() {
                        [] => Fetch::Nothing,
                        [one] => match record::parse(one) {
                            Ok(r) => Fetch::One(r),
                            Err(_) => Fetch::Nothing,
                        },
                        _ => Fetch::Multiple,
                    }
                }
                // A name that cannot be queried (too long with the _dmarc
                // prefix) cannot hold a record.
                Err(DnsError::NxDomain | DnsError::NoData | DnsError::InvalidName(_)) => {
                    Fetch::Nothing
                }
                Err(e) => Fetch::TempFail(format!("{name}: {e}")),
            }
        };
        self.cache.insert(domain.to_string(), f.clone());
        f
    }

    /// Whether `domain` exists (RFC 9989 §3.2.13, "Non-Existent Domains",
    /// and Appendix A.4, "Domain Existence Test": NXDOMAIN, in the sense of
    /// RFC 8020, means it and everything below it do not exist). Asks for A
    /// records; any answer other than NXDOMAIN (NODATA included) means it
    /// exists.
    pub async fn exists(&mut self, domain: &str) -> Result<bool, String> {
        if self.queries >= self.budget {
            return Err("DNS query budget exhausted".into());
        }
        self.queries += 1;
        match self.resolver.a(domain).await {
            Ok(_) | Err(DnsError::NoData) => Ok(true),
            Err(DnsError::NxDomain) => Ok(false),
            Err(DnsError::InvalidName(_)) => Ok(false),
            Err(e) => Err(format!("{domain}: {e}")),
        }
    }

    /// The RFC 9989 §4.10 DNS Tree Walk from `domain` (lower-case A-label
    /// name), sending at most `limit` queries (8 per the RFC). It stops at
    /// the first single valid record carrying `psd=n` or `psd=y`.
    pub async fn tree_walk(&mut self, domain: &str, limit: usize) -> TreeWalk {
        let mut walk = TreeWalk {
            start: domain.to_string(),
            found: Vec::new(),
            multiple: Vec::new(),
            temp_error: None,
            queries: 0,
        };
        let before = self.queries;
        for target in walk_targets(domain, limit) {
            match self.fetch(&target).await {
                Fetch::Nothing => {}
                Fetch::Multiple => walk.multiple.push(target),
                Fetch::TempFail(e) => {
                    walk.temp_error = Some(e);
                    break;
                }
                Fetch::One(rec) => {
                    let psd = rec.psd;
                    walk.found.push((target, rec));
                    // RFC 9989 §4.10 steps 2 and 6: a single record with
                    // psd=n or psd=y stops the walk (at the start name too).
                    if psd != Psd::Unknown {
                        break;
                    }
                }
            }
        }
        walk.queries = self.queries - before;
        walk
    }
}

/// The names a DNS Tree Walk queries (RFC 9989 §4.10, steps 1–7): the start
/// name; then, if it has 8 or more labels, its last 7 labels, otherwise its
/// parent; then one label less at a time down to the top-level domain.
/// At most `limit` names (the start plus `limit - 1` suffixes).
pub fn walk_targets(domain: &str, limit: usize) -> Vec<String> {
    let labels: Vec<&str> = domain.split('.').collect();
    let x = labels.len();
    let mut out = Vec::new();
    if limit == 0 || domain.is_empty() {
        return out;
    }
    out.push(domain.to_string());
    let first = (x - 1).min(limit - 1);
    for k in (1..=first).rev() {
        out.push(labels[x - k..].join("."));
    }
    out
}

/// The records one DNS Tree Walk found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeWalk {
    /// The name the walk started at.
    pub start: String,
    /// Each name holding exactly one DMARC record, with it, in walk order
    /// (the start name first if it holds one).
    pub found: Vec<(String, DmarcRecord)>,
    /// Names holding several DMARC records (discarded).
    pub multiple: Vec<String>,
    /// Set when a query failed temporarily; the walk stopped there.
    pub temp_error: Option<String>,
    /// Queries this walk sent (cached answers not counted).
    pub queries: usize,
}

impl TreeWalk {
    /// The record at the start name, if any.
    pub fn at_start(&self) -> Option<&DmarcRecord> {
        self.found
            .first()
            .filter(|(d, _)| *d == self.start)
            .map(|(_, r)| r)
    }

    /// The `psd=y` record above the start name that stopped the walk.
    pub fn psd(&self) -> Option<(&str, &DmarcRecord)> {
        self.found
            .iter()
            .find(|(d, r)| r.psd == Psd::Yes && *d != self.start)
            .map(|(d, r)| (d.as_str(), r))
    }

    /// The Organizational Domain (RFC 9989 §4.10.2, "Identifier Alignment
    /// Evaluation", selection steps 1–3): the domain of a
    /// `psd=n` record; else the child (toward the start name) of a `psd=y`
    /// record above the start; else the domain of the highest record found;
    /// else the start name itself.
    pub fn organizational_domain(&self) -> String {
        if let Some((d, _)) = self.found.iter().find(|(_, r)| r.psd == Psd::No) {
            return d.clone();
        }
        if let Some((d, _)) = self.psd() {
            let want = d.split('.').count() + 1;
            let labels: Vec<&str> = self.start.split('.').collect();
            let n = labels.len();
            return labels[n - want.min(n)..].join(".");
        }
        match self.found.last() {
            Some((d, _)) => d.clone(),
            None => self.start.clone(),
        }
    }
}

/// One DNS Tree Walk from `domain` with a fresh cache; see
/// [`Lookups::tree_walk`].
pub async fn tree_walk<R: Resolver + ?Sized>(resolver: &R, domain: &str, limit: usize) -> TreeWalk {
    Lookups::new(resolver, limit).tree_walk(domain, limit).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(walk_targets("example.com", 8), ["example.com", "com"]);
        assert_eq!(walk_targets("com", 8), ["com"]);
        let t = walk_targets("a.b.c.d.e.f.g.h.i.j.mail.example.com", 8);
        assert_eq!(
            t,
            [
                "a.b.c.d.e.f.g.h.i.j.mail.example.com",
                "g.h.i.j.mail.example.com",
                "h.i.j.mail.example.com",
                "i.j.mail.example.com",
                "j.mail.example.com",
                "mail.example.com",
                "example.com",
                "com"
            ]
        );
        // exactly 8 labels: the parent has 7
        assert_eq!(walk_targets("a.b.c.d.e.f.g.h", 8).len(), 8);
        assert_eq!(walk_targets("a.b.c.d.e.f.g.h", 8)[1], "b.c.d.e.f.g.h");
    }
}
