//! DMARC (RFC 9989, with an RFC 7489 mode).
//!
//! [`evaluate`] takes the Author Domain (from
//! [`message::author_domain`](crate::message::author_domain)), the SPF and
//! DKIM evidence, discovers the domain owner's policy in DNS and decides
//! pass / fail / none / temperror / permerror, the policy that applies and
//! the disposition. It is usable alone; the crate's `Authenticator` only
//! composes it.
//!
//! # Two modes
//!
//! * [`DmarcMode::Rfc9989`] (default): policy and Organizational Domain are
//!   found with the DNS Tree Walk (RFC 9989 §4.10, "DNS Tree Walk"):
//!   `_dmarc.<name>` is queried at the Author Domain and then at its
//!   ancestors, jumping to at most 7 labels, so at most 8 queries per walk;
//!   a record with `psd=n` or `psd=y` stops it. The Organizational Domain
//!   (§4.10.2, "Identifier Alignment Evaluation") is the `psd=n` domain,
//!   else the child of a `psd=y` domain (other than the start), else the
//!   found domain with the fewest labels, else the start name. The policy
//!   record (§4.10.1, "DMARC Policy Discovery") is the Author Domain's own,
//!   else the Organizational Domain's, else the Public Suffix Domain's; `p`
//!   applies to the Author Domain itself, `sp`/`np` to a subdomain.
//!   `np` applies when the Author Domain does not exist (NXDOMAIN, RFC 8020,
//!   RFC 9989 §3.2.13 and Appendix A.4: an A query for it answered
//!   NXDOMAIN), `t=y` (testing, §4.7) applies the policy one level lower
//!   (`reject` becomes `quarantine`, `quarantine` becomes `none`), `pct` is
//!   ignored (removed by RFC 9989, Appendix A.6; "historic" in its §9.3).
//! * [`DmarcMode::Rfc7489`]: the Organizational Domain comes from the Public
//!   Suffix List ([`psl`]; embedded list by default, or a caller-supplied
//!   one), the record is looked up at the Author Domain and then at the
//!   Organizational Domain (RFC 7489 §6.6.3), `sp` applies to subdomains,
//!   and `pct` sampling (§6.6.4) goes through an injectable [`Sampler`] so
//!   results are reproducible. `np`, `psd` and `t` are not RFC 7489 tags and
//!   are ignored.
//!
//! Both modes: identifier alignment strict or relaxed (RFC 9989 §4.4,
//! RFC 7489 §3.1); SPF aligns through the MAIL FROM domain (the HELO
//! domain only for a null reverse-path, RFC 9989 §3.2.4 and RFC 7208
//! §2.4); DKIM through each passing signature's `d=` (a signature in
//! testing mode or with unsigned content does not count); several DMARC
//! records at one name count as none; a DNS failure (SERVFAIL, timeout)
//! during discovery gives `temperror`.
//!
//! ```
//! use sender_auth::dmarc::{evaluate, DkimEvidence, DmarcConfig, DmarcResult, Policy, SpfEvidence};
//! use sender_auth::dns::zone::ZoneResolver;
//!
//! let mut zone = ZoneResolver::new();
//! zone.add_txt_str("_dmarc.example.com", "v=DMARC1; p=reject; rua=mailto:agg@example.com");
//! let dkim = [DkimEvidence { pass: true, domain: "mail.example.com", testing: false, unsigned_content: false }];
//! let spf = SpfEvidence { result_pass: true, domain: "bounce.other.example" };
//! let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! let out = rt.block_on(evaluate(&zone, "news.example.com", Some(spf), &dkim, &DmarcConfig::default()));
//! assert_eq!(out.result, DmarcResult::Pass);
//! assert_eq!(out.policy, Some(Policy::Reject));
//! assert_eq!(out.aligned_dkim_domain.as_deref(), Some("mail.example.com"));
//! assert_eq!(out.policy_domain.as_deref(), Some("example.com"));
//! assert_eq!(out.disposition, Policy::None);
//! let ar = sender_auth::dmarc::resinfo(&out);
//! assert_eq!(ar.result, "pass");
//! ```

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::authres::ResInfo;
use crate::message::AuthorError;

pub mod discovery;
mod evaluate;
pub mod psl;
pub mod record;

pub use evaluate::{aligned_7489, evaluate};
pub use record::{Alignment, DmarcRecord, Psd};

/// Which DMARC specification drives policy discovery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DmarcMode {
    /// RFC 9989: DNS Tree Walk, `psd`, `np`, `t`; no `pct`. The default.
    #[default]
    Rfc9989,
    /// RFC 7489: Public Suffix List, `sp`, `pct` sampling.
    Rfc7489,
}

impl DmarcMode {
    /// `"rfc9989"` or `"rfc7489"`.
    pub fn as_str(self) -> &'static str {
        match self {
            DmarcMode::Rfc9989 => "rfc9989",
            DmarcMode::Rfc7489 => "rfc7489",
        }
    }
}

impl fmt::Display for DmarcMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DmarcMode {
    type Err = String;
    /// Accepts `rfc9989`, `9989`, `dmarcbis`, `rfc7489`, `7489`
    /// (case-insensitive).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "rfc9989" | "9989" | "dmarcbis" => Ok(DmarcMode::Rfc9989),
            "rfc7489" | "7489" => Ok(DmarcMode::Rfc7489),
            _ => Err(format!(
                "unknown DMARC mode {s:?} (expected rfc9989 or rfc7489)"
            )),
        }
    }
}

/// The DMARC result, in the vocabulary of the Authentication-Results
/// registry (RFC 8601, RFC 7489 §11.2, RFC 9989 §9.2 "Email Authentication
/// Result Names Registry Update").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DmarcResult {
    /// An aligned identifier authenticated.
    Pass,
    /// A policy exists and no aligned identifier authenticated.
    Fail,
    /// No policy was found.
    None,
    /// A temporary (DNS) error prevented a decision.
    TempError,
    /// A permanent error: unusable Author Domain or record.
    PermError,
}

impl DmarcResult {
    /// The RFC 8601 result keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            DmarcResult::Pass => "pass",
            DmarcResult::Fail => "fail",
            DmarcResult::None => "none",
            DmarcResult::TempError => "temperror",
            DmarcResult::PermError => "permerror",
        }
    }
}

impl fmt::Display for DmarcResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Domain Owner Assessment Policy (`p`, `sp`, `np`) or a disposition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Policy {
    /// `none`: no special handling.
    None,
    /// `quarantine`: treat as suspicious.
    Quarantine,
    /// `reject`: reject during the SMTP transaction.
    Reject,
}

impl Policy {
    /// `"none"`, `"quarantine"` or `"reject"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::None => "none",
            Policy::Quarantine => "quarantine",
            Policy::Reject => "reject",
        }
    }

    /// The next less strict policy (RFC 7489 §6.6.4: a message sampled
    /// out by `pct` gets `quarantine` instead of `reject`, and normal
    /// handling instead of `quarantine`).
    pub fn weaker(self) -> Policy {
        match self {
            Policy::Reject => Policy::Quarantine,
            _ => Policy::None,
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which tag of the record supplied the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicySource {
    /// `p`: the record is the Author Domain's own (or `sp` was absent).
    P,
    /// `sp`: the Author Domain is an existing subdomain of the policy domain.
    Sp,
    /// `np`: the Author Domain does not exist (RFC 9989 only).
    Np,
}

impl PolicySource {
    /// `"p"`, `"sp"` or `"np"`.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicySource::P => "p",
            PolicySource::Sp => "sp",
            PolicySource::Np => "np",
        }
    }
}

/// Decides whether a failing message falls within an RFC 7489 `pct`
/// sample (§6.6.4). Injectable so results are reproducible in tests.
pub trait Sampler: Send + Sync {
    /// True when the policy is to be applied to this message, given the
    /// record's `pct` (0..=100; never called with 100).
    fn apply(&self, pct: u8) -> bool;
}

impl<F: Fn(u8) -> bool + Send + Sync> Sampler for F {
    fn apply(&self, pct: u8) -> bool {
        self(pct)
    }
}

/// A sampler that always gives the same answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedSampler(pub bool);

impl Sampler for FixedSampler {
    fn apply(&self, _pct: u8) -> bool {
        self.0
    }
}

/// A reproducible pseudo-random sampler (SplitMix64 from a seed).
#[derive(Debug)]
pub struct SeededSampler {
    state: AtomicU64,
}

impl SeededSampler {
    /// A sampler whose sequence of decisions depends only on `seed`.
    pub fn new(seed: u64) -> Self {
        SeededSampler {
            state: AtomicU64::new(seed),
        }
    }

    fn next(&self) -> u64 {
        let mut z = self
            .state
            .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed)
            .wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

impl Sampler for SeededSampler {
    fn apply(&self, pct: u8) -> bool {
        self.next() % 100 < u64::from(pct)
    }
}

/// The default sampler: unpredictable (seeded from the standard library's
/// per-process random hash keys), not cryptographic.
#[derive(Debug)]
pub struct RandomSampler(SeededSampler);

impl Default for RandomSampler {
    fn default() -> Self {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(0x5eed);
        RandomSampler(SeededSampler::new(h.finish()))
    }
}

impl Sampler for RandomSampler {
    fn apply(&self, pct: u8) -> bool {
        self.0.apply(pct)
    }
}

/// Configuration of [`evaluate`], with RFC defaults.
#[derive(Clone)]
pub struct DmarcConfig {
    /// Which specification to follow. Default [`DmarcMode::Rfc9989`].
    pub mode: DmarcMode,
    /// `pct` sampling (RFC 7489 mode only). Default [`RandomSampler`].
    pub sampler: Arc<dyn Sampler>,
    /// Public Suffix List for RFC 7489 mode; `None` uses the list embedded
    /// in the `psl` crate ([`psl::EmbeddedPsl`]).
    pub psl: Option<Arc<dyn psl::SuffixList>>,
    /// Most `_dmarc` queries in one DNS Tree Walk (RFC 9989 §4.10: 8,
    /// i.e. the start name, then at most 7 labels, then one label less at a
    /// time).
    pub tree_walk_limit: usize,
    /// Most distinct DKIM `d=` domains considered for alignment.
    pub max_dkim_domains: usize,
    /// Most DNS queries in one evaluation (all walks together); exceeding
    /// it gives `temperror`.
    pub max_dns_queries: usize,
}

impl Default for DmarcConfig {
    fn default() -> Self {
        DmarcConfig {
            mode: DmarcMode::default(),
            sampler: Arc::new(RandomSampler::default()),
            psl: None,
            tree_walk_limit: 8,
            max_dkim_domains: 10,
            max_dns_queries: 40,
        }
    }
}

impl fmt::Debug for DmarcConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DmarcConfig")
            .field("mode", &self.mode)
            .field("psl", &self.psl)
            .field("tree_walk_limit", &self.tree_walk_limit)
            .field("max_dkim_domains", &self.max_dkim_domains)
            .field("max_dns_queries", &self.max_dns_queries)
            .finish_non_exhaustive()
    }
}

impl DmarcConfig {
    /// The default configuration with `mode`.
    pub fn with_mode(mode: DmarcMode) -> Self {
        DmarcConfig {
            mode,
            ..Self::default()
        }
    }

    pub(crate) fn suffix_list(&self) -> &dyn psl::SuffixList {
        match &self.psl {
            Some(l) => l.as_ref(),
            None => &psl::EmbeddedPsl,
        }
    }
}

/// SPF evidence for DMARC (RFC 9989 §3.2.4 and §4.4.2, RFC 7489 §3.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpfEvidence<'a> {
    /// True when SPF gave `pass`.
    pub result_pass: bool,
    /// The domain SPF authenticated: the MAIL FROM domain, or the HELO
    /// domain when the reverse-path was null.
    pub domain: &'a str,
}

impl<'a> SpfEvidence<'a> {
    /// The SPF identity DMARC uses (RFC 7489 §3.1.2; RFC 9989 §3.2.4 "SPF
    /// Domain" and §4.4.2): the MAIL FROM domain with its SPF result, or,
    /// for a null reverse-path (`mail_from_domain` is `None`), the HELO
    /// domain with the HELO result (RFC 7208 §2.4: the MAIL FROM identity is
    /// then `postmaster@` the HELO domain: the same check_host() inputs as
    /// the HELO check, RFC 7208 §2.3 and §4.3).
    ///
    /// ```
    /// use sender_auth::dmarc::SpfEvidence;
    /// let e = SpfEvidence::select(None, false, "mx.example.net", true);
    /// assert_eq!(e, SpfEvidence { result_pass: true, domain: "mx.example.net" });
    /// let e = SpfEvidence::select(Some("bounce.example.com"), false, "mx.example.net", true);
    /// assert_eq!(e, SpfEvidence { result_pass: false, domain: "bounce.example.com" });
    /// ```
    pub fn select(
        mail_from_domain: Option<&'a str>,
        mail_from_pass: bool,
        helo_domain: &'a str,
        helo_pass: bool,
    ) -> Self {
        match mail_from_domain {
            Some(domain) => SpfEvidence {
                result_pass: mail_from_pass,
                domain,
            },
            None => SpfEvidence {
                result_pass: helo_pass,
                domain: helo_domain,
            },
        }
    }
}

/// One DKIM signature's evidence for DMARC (RFC 9989 §4.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DkimEvidence<'a> {
    /// True when the signature verified.
    pub pass: bool,
    /// The signing domain (`d=`).
    pub domain: &'a str,
    /// The key record has `t=y` (testing): the signature does not count.
    pub testing: bool,
    /// The signature covers only part of the content (for example an
    /// `l=` shorter than the body): it does not count.
    pub unsigned_content: bool,
}

/// Everything DMARC decided about a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmarcOutput {
    /// The result.
    pub result: DmarcResult,
    /// The Author Domain evaluated (empty when it could not be determined).
    pub from_domain: String,
    /// The policy the domain owner requested for this message (from `p`,
    /// `sp` or `np`), when a usable record was found.
    pub policy: Option<Policy>,
    /// Which tag supplied [`policy`](Self::policy).
    pub policy_source: Option<PolicySource>,
    /// What to do with the message: for a failing message the requested
    /// policy after `pct` sampling (RFC 7489 §6.6.4) or `t=y` (RFC 9989
    /// §4.7, `t`: one level lower); [`Policy::None`] otherwise.
    pub disposition: Policy,
    /// An SPF-authenticated domain aligned with the Author Domain.
    pub spf_aligned: bool,
    /// A DKIM-authenticated domain aligned with the Author Domain.
    pub dkim_aligned: bool,
    /// The first aligned DKIM `d=` domain.
    pub aligned_dkim_domain: Option<String>,
    /// The mode used.
    pub mode: DmarcMode,
    /// The Author Domain's Organizational Domain, when it was determined.
    pub organizational_domain: Option<String>,
    /// The domain whose `_dmarc` record supplied the policy.
    pub policy_domain: Option<String>,
    /// The record's aggregate report URIs.
    pub rua: Vec<String>,
    /// The record's failure report URIs.
    pub ruf: Vec<String>,
    /// The record asked for testing mode (`t=y`, RFC 9989).
    pub testing: bool,
    /// A human-readable explanation.
    pub reason: String,
}

impl DmarcOutput {
    /// An output with `result` and `reason` and nothing else decided.
    pub fn new(
        result: DmarcResult,
        from_domain: impl Into<String>,
        mode: DmarcMode,
        reason: impl Into<String>,
    ) -> Self {
        DmarcOutput {
            result,
            from_domain: from_domain.into(),
            policy: None,
            policy_source: None,
            disposition: Policy::None,
            spf_aligned: false,
            dkim_aligned: false,
            aligned_dkim_domain: None,
            mode,
            organizational_domain: None,
            policy_domain: None,
            rua: Vec::new(),
            ruf: Vec::new(),
            testing: false,
            reason: reason.into(),
        }
    }

    /// The output for a message whose Author Domain could not be
    /// determined: `permerror` with the error as reason.
    ///
    /// ```
    /// use sender_auth::dmarc::{DmarcMode, DmarcOutput, DmarcResult};
    /// use sender_auth::message::AuthorError;
    /// let out = DmarcOutput::author_error(&AuthorError::MultipleFrom, DmarcMode::Rfc9989);
    /// assert_eq!(out.result, DmarcResult::PermError);
    /// assert_eq!(out.reason, "more than one From header field");
    /// ```
    pub fn author_error(err: &AuthorError, mode: DmarcMode) -> Self {
        Self::new(DmarcResult::PermError, "", mode, err.to_string())
    }

    /// The CLI's `dmarc` JSON object:
    /// `{result, from_domain, policy, disposition, reason}` (`policy` is
    /// `null` when no policy applies).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "result": self.result.as_str(),
            "from_domain": self.from_domain,
            "policy": self.policy.map(Policy::as_str),
            "disposition": self.disposition.as_str(),
            "reason": self.reason,
        })
    }
}

/// The `Authentication-Results` entry for a DMARC result (RFC 8601,
/// RFC 7489 §11.2, RFC 9989 §9.1 "Email Authentication Methods Registry
/// Update" and §9.2): `dmarc=<result> header.from=<domain>
/// policy.dmarc=<policy>`, where `policy.dmarc` is "the evaluated DMARC
/// policy applied/to be applied after policy options have been processed"
/// (RFC 9989 §9.1): the disposition for a failing message, the requested
/// policy otherwise. A comment carries the mode, the requested policy and
/// its tag, and the testing flag; the reason is given for every result but
/// `pass`.
pub fn resinfo(output: &DmarcOutput) -> ResInfo {
    let mut comment = format!("mode={}", output.mode);
    if let (Some(p), Some(src)) = (output.policy, output.policy_source) {
        comment.push_str(&format!(" {}={p}", src.as_str()));
    }
    if output.testing {
        comment.push_str(" t=y");
    }
    let mut r = ResInfo::new("dmarc", output.result.as_str()).comment(comment);
    if output.result != DmarcResult::Pass && !output.reason.is_empty() {
        r = r.reason(output.reason.clone());
    }
    if !output.from_domain.is_empty() {
        r = r.property("header", "from", output.from_domain.clone());
    }
    if let Some(p) = output.policy {
        let applied = if output.result == DmarcResult::Fail {
            output.disposition
        } else {
            p
        };
        r = r.property("policy", "dmarc", applied.as_str());
    }
    r
}
