//! DMARC evaluation: policy discovery, record usability, identifier
//! alignment, policy selection and disposition.

use super::discovery::{Fetch, Lookups, TreeWalk};
use super::psl::{SuffixList, organizational_domain};
use super::record::{Alignment, DmarcRecord};
use super::{
    DkimEvidence, DmarcConfig, DmarcMode, DmarcOutput, DmarcResult, Policy, PolicySource,
    SpfEvidence,
};
use crate::dns::Resolver;

/// Lower-case A-label form of a domain (one trailing dot removed), or
/// `None` when it is not a name that can be looked up.
fn normalize(domain: &str) -> Option<String> {
    let d = domain.strip_suffix('.').unwrap_or(domain);
    let d = if d.is_ascii() {
        d.to_ascii_lowercase()
    } else {
        idna::domain_to_ascii(d).ok()?
    };
    crate::dns::check_name(&d).ok()?;
    Some(d)
}

/// RFC 7489 §3.1 identifier alignment of `a` and `b` with the Public
/// Suffix List `list`: strict means identical names, relaxed means the same
/// Organizational Domain. Case and leading/trailing dots are ignored.
///
/// ```
/// use sender_auth::dmarc::{aligned_7489, psl::EmbeddedPsl, Alignment};
/// assert!(aligned_7489("mail.example.com", "Example.COM", Alignment::Relaxed, &EmbeddedPsl));
/// assert!(!aligned_7489("mail.example.com", "example.com", Alignment::Strict, &EmbeddedPsl));
/// assert!(!aligned_7489("a.example.co.uk", "b.other.co.uk", Alignment::Relaxed, &EmbeddedPsl));
/// ```
pub fn aligned_7489(a: &str, b: &str, mode: Alignment, list: &dyn SuffixList) -> bool {
    let a = a.trim_matches('.').to_ascii_lowercase();
    let b = b.trim_matches('.').to_ascii_lowercase();
    if a.is_empty() || b.is_empty() {
        return false;
    }
    if a == b {
        return true;
    }
    mode == Alignment::Relaxed && organizational_domain(list, &a) == organizational_domain(list, &b)
}

/// The policy record that applies and where it came from.
struct Found {
    record: DmarcRecord,
    policy_domain: String,
    /// Known Organizational Domain of the Author Domain (RFC 7489 always;
    /// RFC 9989 when a tree walk from the Author Domain ran).
    org_domain: Option<String>,
}

enum Discovery {
    Found(Box<Found>),
    NoPolicy(String),
    Temp(String),
}

async fn discover_7489<R: Resolver + ?Sized>(
    lk: &mut Lookups<'_, R>,
    from: &str,
    list: &dyn SuffixList,
) -> Discovery {
    let org = organizational_domain(list, from);
    let mut target = from.to_string();
    loop {
        match lk.fetch(&target).await {
            Fetch::TempFail(e) => return Discovery::Temp(e),
            Fetch::Multiple => {
                return Discovery::NoPolicy(format!("several DMARC records at _dmarc.{target}"));
            }
            Fetch::One(record) => {
                return Discovery::Found(Box::new(Found {
                    record,
                    policy_domain: target,
                    org_domain: Some(org),
                }));
            }
            Fetch::Nothing if target != org => target = org.clone(),
            Fetch::Nothing => {
                return Discovery::NoPolicy(if org == from {
                    format!("no DMARC record at _dmarc.{from}")
                } else {
                    format!("no DMARC record at _dmarc.{from} or _dmarc.{org}")
                });
            }
        }
    }
}

async fn discover_9989<R: Resolver + ?Sized>(
    lk: &mut Lookups<'_, R>,
    from: &str,
    limit: usize,
) -> Discovery {
    match lk.fetch(from).await {
        Fetch::TempFail(e) => return Discovery::Temp(e),
        Fetch::One(record) => {
            return Discovery::Found(Box::new(Found {
                record,
                policy_domain: from.to_string(),
                org_domain: None,
            }));
        }
        Fetch::Nothing | Fetch::Multiple => {}
    }
    let walk = lk.tree_walk(from, limit).await;
    if let Some(e) = walk.temp_error {
        return Discovery::Temp(e);
    }
    let org = walk.organizational_domain();
    let at = |d: &str| {
        walk.found
            .iter()
            .find(|(n, _)| n == d)
            .map(|(_, r)| r.clone())
    };
    if let Some(record) = at(&org) {
        return Discovery::Found(Box::new(Found {
            record,
            policy_domain: org.clone(),
            org_domain: Some(org),
        }));
    }
    if let Some((psd_domain, psd_record)) = walk.psd() {
        // The Organizational Domain below a PSD may have been skipped by
        // the jump to 7 labels; look it up once.
        if org != from && org.split('.').count() > limit.saturating_sub(1) {
            match lk.fetch(&org).await {
                Fetch::TempFail(e) => return Discovery::Temp(e),
                Fetch::One(record) => {
                    return Discovery::Found(Box::new(Found {
                        record,
                        policy_domain: org.clone(),
                        org_domain: Some(org),
                    }));
                }
                Fetch::Nothing | Fetch::Multiple => {}
            }
        }
        return Discovery::Found(Box::new(Found {
            record: psd_record.clone(),
            policy_domain: psd_domain.to_string(),
            org_domain: Some(org),
        }));
    }
    let mut reason = format!("no DMARC record found by the DNS tree walk from {from}");
    if !walk.multiple.is_empty() {
        reason.push_str(&format!(
            " (several records discarded at _dmarc.{})",
            walk.multiple.join(", _dmarc.")
        ));
    }
    Discovery::NoPolicy(reason)
}

/// Alignment state for one evaluation.
struct Aligner<'c, 'r, R: Resolver + ?Sized> {
    lk: Lookups<'r, R>,
    config: &'c DmarcConfig,
    from: String,
    /// RFC 9989: the Author Domain's Organizational Domain, once known.
    from_org: Option<String>,
    temp: Option<String>,
}

impl<R: Resolver + ?Sized> Aligner<'_, '_, R> {
    async fn org_9989(&mut self, domain: &str) -> Result<String, String> {
        let walk: TreeWalk = self.lk.tree_walk(domain, self.config.tree_walk_limit).await;
        match walk.temp_error {
            Some(e) => Err(e),
            None => Ok(walk.organizational_domain()),
        }
    }

    /// Whether authenticated domain `domain` aligns with the Author Domain.
    async fn aligned(&mut self, domain: &str, mode: Alignment) -> bool {
        let Some(d) = normalize(domain) else {
            return false;
        };
        if d == self.from {
            return true;
        }
        if mode == Alignment::Strict {
            return false;
        }
        match self.config.mode {
            DmarcMode::Rfc7489 => aligned_7489(&d, &self.from, mode, self.config.suffix_list()),
            DmarcMode::Rfc9989 => {
                let from_org = match self.from_org.clone() {
                    Some(o) => o,
                    None => {
                        let from = self.from.clone();
                        match self.org_9989(&from).await {
                            Ok(o) => {
                                self.from_org = Some(o.clone());
                                o
                            }
                            Err(e) => {
                                self.temp = Some(e);
                                return false;
                            }
                        }
                    }
                };
                // org(d) is d or an ancestor of d: it can only equal
                // from_org when d is at or below from_org.
                if d != from_org && !d.ends_with(&format!(".{from_org}")) {
                    return false;
                }
                match self.org_9989(&d).await {
                    Ok(o) => o == from_org,
                    Err(e) => {
                        self.temp = Some(e);
                        false
                    }
                }
            }
        }
    }
}

/// Evaluates DMARC for a message whose Author Domain is `from_domain`
/// (as returned by [`author_domain`](crate::message::author_domain)), given
/// the SPF result for the MAIL FROM (or, for a null reverse-path, HELO)
/// domain and the DKIM signatures. Never panics; DNS work is bounded by
/// [`DmarcConfig::tree_walk_limit`] and [`DmarcConfig::max_dns_queries`].
///
/// See the [module documentation](super) for the two modes.
pub async fn evaluate<R: Resolver + ?Sized>(
    resolver: &R,
    from_domain: &str,
    spf: Option<SpfEvidence<'_>>,
    dkim: &[DkimEvidence<'_>],
    config: &DmarcConfig,
) -> DmarcOutput {
    let mode = config.mode;
    let Some(from) = normalize(from_domain) else {
        return DmarcOutput::new(
            DmarcResult::PermError,
            from_domain,
            mode,
            "Author Domain is not a valid domain name",
        );
    };
    let mut out = DmarcOutput::new(DmarcResult::None, from.clone(), mode, "");
    let mut lk = Lookups::new(resolver, config.max_dns_queries.max(1));

    // 1. Policy discovery (RFC 9989 §4.10.1, RFC 7489 §6.6.3).
    let discovery = match mode {
        DmarcMode::Rfc9989 => discover_9989(&mut lk, &from, config.tree_walk_limit.max(1)).await,
        DmarcMode::Rfc7489 => discover_7489(&mut lk, &from, config.suffix_list()).await,
    };
    let found = match discovery {
        Discovery::Found(f) => *f,
        Discovery::NoPolicy(reason) => {
            out.reason = reason;
            return out;
        }
        Discovery::Temp(e) => {
            out.result = DmarcResult::TempError;
            out.reason = format!("DNS error during policy discovery: {e}");
            return out;
        }
    };
    let Found {
        record,
        policy_domain,
        org_domain,
    } = found;
    out.policy_domain = Some(policy_domain.clone());
    out.organizational_domain = org_domain.clone();
    out.rua = record.rua.clone();
    out.ruf = record.ruf.clone();
    out.testing = mode == DmarcMode::Rfc9989 && record.testing;
    let is_sub = policy_domain != from;

    // 2. Is the record usable? (RFC 7489 §6.6.3 step 6; RFC 9989 §4.7:
    // a missing p means none, and §4.10.1: an invalid p, sp or np with a
    // valid rua is treated as p=none; without one the record is unusable.)
    let bad_policy = match mode {
        DmarcMode::Rfc7489 => record.p.is_none() || record.is_invalid("sp"),
        DmarcMode::Rfc9989 => {
            record.is_invalid("p") || record.is_invalid("sp") || record.is_invalid("np")
        }
    };
    let mut notes: Vec<String> = Vec::new();
    if bad_policy {
        if record.rua.is_empty() {
            out.result = DmarcResult::PermError;
            let problems: Vec<String> = record.problems.iter().map(ToString::to_string).collect();
            out.reason = format!(
                "unusable DMARC record at _dmarc.{policy_domain}: {}",
                if problems.is_empty() {
                    "no p tag".to_string()
                } else {
                    problems.join("; ")
                }
            );
            return out;
        }
        notes.push("invalid policy tag: treated as p=none because rua is present".into());
    }

    // 3. Identifier alignment (RFC 9989 §4.4 and §4.10.2, RFC 7489 §3.1).
    let mut al = Aligner {
        lk,
        config,
        from: from.clone(),
        from_org: if mode == DmarcMode::Rfc9989 {
            org_domain
        } else {
            None
        },
        temp: None,
    };
    let mut passes: Vec<String> = Vec::new();
    if let Some(s) = spf.filter(|s| s.result_pass)
        && al.aligned(s.domain, record.aspf).await
    {
        out.spf_aligned = true;
        passes.push(format!("spf {} aligned", s.domain.to_ascii_lowercase()));
    }
    let mut seen: Vec<String> = Vec::new();
    for sig in dkim {
        if !sig.pass || sig.testing || sig.unsigned_content {
            continue;
        }
        let Some(d) = normalize(sig.domain) else {
            continue;
        };
        if seen.contains(&d) {
            continue;
        }
        if seen.len() >= config.max_dkim_domains {
            notes.push(format!(
                "only the first {} DKIM domains were considered",
                config.max_dkim_domains
            ));
            break;
        }
        seen.push(d.clone());
        if al.aligned(&d, record.adkim).await {
            out.dkim_aligned = true;
            passes.push(format!("dkim d={d} aligned"));
            out.aligned_dkim_domain = Some(d);
            break;
        }
    }
    if mode == DmarcMode::Rfc9989 && out.organizational_domain.is_none() {
        out.organizational_domain = al.from_org.clone();
    }
    out.result = if out.spf_aligned || out.dkim_aligned {
        DmarcResult::Pass
    } else if let Some(e) = al.temp.take() {
        out.result = DmarcResult::TempError;
        out.reason = format!("DNS error while determining alignment: {e}");
        return out;
    } else {
        DmarcResult::Fail
    };

    // 4. The policy that applies (RFC 9989 §4.10.1): p for the policy
    // domain itself, sp for an existing subdomain, np (RFC 9989 only) for a
    // non-existent one; an absent np falls back to sp, then p (§4.7).
    let (policy, source) = if bad_policy {
        (
            Policy::None,
            if is_sub {
                PolicySource::Sp
            } else {
                PolicySource::P
            },
        )
    } else if !is_sub {
        (record.p.unwrap_or(Policy::None), PolicySource::P)
    } else {
        let sp = match record.sp {
            Some(sp) => (sp, PolicySource::Sp),
            None => (record.p.unwrap_or(Policy::None), PolicySource::P),
        };
        match (mode, record.np) {
            (DmarcMode::Rfc9989, Some(np)) => match al.lk.exists(&from).await {
                Ok(false) => (np, PolicySource::Np),
                Ok(true) => sp,
                Err(e) if out.result == DmarcResult::Fail => {
                    out.result = DmarcResult::TempError;
                    out.reason = format!("DNS error while checking that {from} exists: {e}");
                    return out;
                }
                Err(e) => {
                    notes.push(format!("existence of {from} unknown ({e})"));
                    sp
                }
            },
            _ => sp,
        }
    };
    out.policy = Some(policy);
    out.policy_source = Some(source);

    // 5. Disposition: t=y (RFC 9989) or pct sampling (RFC 7489 §6.6.4).
    if out.result == DmarcResult::Fail {
        out.disposition = policy;
        match mode {
            DmarcMode::Rfc9989 if record.testing && policy != Policy::None => {
                // RFC 9989 §4.7, t=y: the policy applied is one level below
                // the one specified.
                out.disposition = policy.weaker();
                notes.push("t=y: testing, policy applied one level lower".into());
            }
            DmarcMode::Rfc7489 => {
                let pct = record.pct.unwrap_or(100);
                if pct < 100 && policy != Policy::None && !config.sampler.apply(pct) {
                    out.disposition = policy.weaker();
                    notes.push(format!("pct={pct}: message sampled out"));
                }
            }
            DmarcMode::Rfc9989 => {}
        }
    }

    let mut reason = if out.result == DmarcResult::Pass {
        passes.join(", ")
    } else {
        format!("no authenticated identifier aligned with {from}")
    };
    reason.push_str(&format!(
        " (policy {}={} from _dmarc.{policy_domain})",
        source.as_str(),
        policy
    ));
    for n in notes {
        reason.push_str("; ");
        reason.push_str(&n);
    }
    out.reason = reason;
    out
}
