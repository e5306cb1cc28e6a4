//! SPF (RFC 7208): record parser, macro expander, `check_host`, Received-SPF.
//!
//! * [`record`]: the pure record parser ([`record::Record::parse`]).
//! * [`macros`]: macro strings (§7), parsed once and expanded without I/O.
//! * [`check_host`], [`check_mail_from`], [`check_helo`]: the evaluator
//!   (§4–§6), talking to DNS only through [`crate::dns::Resolver`].
//! * [`received_spf`] and [`resinfo`]: the `Received-SPF` header field
//!   (§9.1) and the `spf=` entry of `Authentication-Results` (RFC 8601).
//!
//! Every limit of §4.6.4 is in [`SpfConfig`] with the RFC default: 10
//! DNS-querying terms, 2 void lookups, 10 MX names (more is a permerror),
//! 10 PTR names (the rest are ignored), and an overall time budget (20 s)
//! that yields `temperror`.
//!
//! The result says why ([`SpfOutput`]): the matched mechanism as written,
//! the domain whose record held it, the include/redirect chain that led
//! there, the explanation (`exp=`, fetched only on `fail`), a reason
//! sentence, and how many DNS-querying terms and void lookups were used.
//!
//! # Choices where RFC 7208 leaves room
//!
//! * Records are looked up as TXT only (§3.1, §4.4); the record set must
//!   hold exactly one `v=spf1` record (§4.5). Character-strings of one TXT
//!   record are joined without separator (§3.3).
//! * A target name that cannot be queried (an empty or over-long label,
//!   possibly after macro expansion) is treated as non-existent: the
//!   mechanism does not match and no void lookup is counted (the OpenSPF
//!   suite accepts `fail` or `permerror` and prefers `fail`). A null MX
//!   (RFC 7505) is skipped the same way.
//! * Void lookups are counted per DNS-querying term whose own query
//!   answers NXDOMAIN or NODATA (`a`, `mx`, `ptr`, `exists`); the address
//!   lookups of MX and PTR names and the `exp=` lookup are not counted.
//! * `mx`: a DNS error other than NXDOMAIN/NODATA on an MX name's address
//!   lookup is a temperror (§5: "the mechanism stops"); `ptr`: any DNS error
//!   means "no match" or "skip this name" (§5.5).
//! * `%{p}` queries the PTR names once per check and validates at most
//!   `max_ptr_names`, preferring `<domain>`, then its subdomains (§7.3); it
//!   does not count as a DNS-querying term (the term that uses it does).
//! * `%{i}` for IPv6 gives upper-case nibbles (`...E.B.A.B.E.F.A.C`), as the
//!   OpenSPF suite's `v-macro-ip6` explanation expects; RFC 7208 §7.4 prints
//!   them lower-case. DNS names compare case-insensitively, so only
//!   explanation text can differ.
//! * The explanation is fetched once, after the result is known, only for
//!   `fail`, from the record that decided it (an `include`d record's `exp=`
//!   is never used, a `redirect` target's is, §6.2). A `fail` without usable
//!   `exp=` gets [`SpfConfig::default_explanation`], if set.
//!
//! # Performance: speculative prefetch, the parsed-record cache, the plan loop
//!
//! Parsing ([`record`], [`macros`]) is pure. Inside the evaluator all DNS
//! goes through one small layer that counts terms, void lookups and queries,
//! and one function turns a domain into a parsed record: the shared
//! [`SpfRecordCache`] ([`SpfConfig::record_cache`]) plugs in there (a hit
//! skips both the TXT query and the parse), and so does the prefetch.
//!
//! ## Speculative prefetch ([`SpfConfig::prefetch`], default on)
//!
//! The evaluator still goes strictly left to right and counts every term
//! as a sequential evaluator does, so results are identical (the OpenSPF
//! suites run both ways, `tests/spf_suite.rs`). What changes is when
//! lookups are sent. All lookups of one check go through a per-check table
//! keyed by (type, name) — each is sent at most once per check — and are
//! polled in place (nothing is spawned, so the resolver may be borrowed).
//! Whenever an answer arrives, a *walker* re-walks the known part of the
//! include/redirect graph in exactly the sequential order and starts the
//! lookups of the terms it may *claim*. The exact rule:
//!
//! 1. **Positions.** DNS-querying terms (`include`, `a`, `mx`, `ptr`,
//!    `exists`, `redirect`) are numbered in sequential evaluation order; no
//!    position beyond [`SpfConfig::max_dns_mechanisms`] is ever claimed.
//! 2. **Certainty.** The walker goes past a term only if the sequential
//!    evaluator will certainly reach what follows unless the whole check
//!    ends first:
//!    * `all` and `ip4`/`ip6` are decided on the spot (no DNS); a match
//!      ends the record there;
//!    * past a DNS-querying term only if its matching would end the whole
//!      check: every term of the top record and of its `redirect` targets,
//!      and a `+` term of an included record when every `include` on the
//!      way from the top record (except the outermost) is `+` too.
//!      Otherwise (e.g. `-a:x` inside an included record, whose match ends
//!      only that record) the walker stops: what follows might be skipped,
//!      so its positions would be uncertain;
//!    * an `include`/`redirect` is entered only once its target's record is
//!      known (answer in, or from the record cache), and the terms after it
//!      wait until its whole subtree is known: their positions depend on
//!      its size;
//!    * a target that needs `%{p}` is left to the evaluator (for
//!      `include`/`redirect` the walker stops there).
//!
//!    Hence every claimed position is exactly where the sequential
//!    evaluator counts that term: the terms whose queries are sent,
//!    speculative or not, are always among the first
//!    `max_dns_mechanisms` positions of the one sequence a sequential
//!    evaluator walks. Queries per check are thus at most: the top TXT; one
//!    query per term for at most 10 terms; for `mx` at most
//!    [`SpfConfig::max_mx_names`] address lookups (none for an MX set over
//!    the limit); for `ptr` the PTR query and at most
//!    [`SpfConfig::max_ptr_names`] address lookups of names within the
//!    target; `%{p}` and `exp=` lookups exactly as sequentially.
//! 3. **Voids and known endings.** A term whose answer could be void (`a`,
//!    `mx`, `ptr`, `exists`) is claimed only while void answers seen plus
//!    such lookups outstanding stay within [`SpfConfig::max_void_lookups`],
//!    so at most `max_void_lookups + 1` void answers are ever received,
//!    as sequentially. Nothing more is claimed once an answer in hand shows
//!    the check ends earlier (a DNS error of `a`/`mx`/`exists`, an MX set
//!    over the limit, the void limit).
//! 4. **Past an early match.** Speculative queries past a term that may
//!    match are sent only under rule 2, i.e. when that match would end the
//!    check: in `v=spf1 a:x mx:y -all` both are queried at once even if
//!    `a:x` matches; both positions are within the budget.
//!
//! **The table is created lazily.** As long as every lookup is answered
//! on its first poll (an in-memory resolver, a fully cached one) the walker
//! could never run, so no table is built: a lock-free log records exactly
//! what the table would hold (each (type, name) sent at most once, the
//! records parsed, the MX/PTR address lookups a term would start at once,
//! which are then sent by the evaluator or when the term ends). The first
//! lookup not answered at once creates the table from that log, starts the
//! owed address lookups, and from then on everything is as described
//! above; so the queries sent are those a table built up front would send
//! (`tests/spf_prefetch.rs`,
//! `table_created_mid_check_keeps_results_and_sends_each_query_once`,
//! checks results and that each query is sent once, whichever lookup is
//! the first to wait).
//!
//! Consequence for latency: it is the depth of the *certain prefix*, not
//! of the whole graph. A later sibling of an `include` cannot be queried
//! before that include's subtree is known without risking more than 10
//! terms' worth (10 top-level includes of 10 includes each: querying the
//! second before the first's subtree is known sends 11 or more). For the
//! graph of issue 6 this gives 8 round trips instead of 13 (see
//! BENCHMARKS.md); with a warm record cache the walker sees the whole
//! graph at once and needs 2.
//!
//! **Beyond certainty, bounded: [`SpfConfig::speculative_terms`]** (default
//! 0, i.e. off). A count-based rule (claim *any* known term, also after an
//! `include` whose subtree is unknown, or after a term whose match would
//! end only its record) cannot keep the total within the budget: the
//! evaluator must still send every query a sequential evaluator sends (or
//! results would differ), and an unseen subtree may use up all 10 terms by
//! itself, so terms claimed past it come on top (on the 10×10 include
//! fan-out an unbounded such rule queries 19 terms). `speculative_terms =
//! n` allows exactly that, bounded: after the strict walk, a second walk in
//! sequential order goes past terms that may match (as if they did not),
//! over includes whose record is unknown (as if empty) and into known ones,
//! and starts the queries of terms not yet claimed while fewer than `n`
//! started terms are *unproven* (not yet at a position the strict walk has
//! claimed). It counts the terms it walks (a lower bound of their
//! positions) and never goes past `max_dns_mechanisms`; it obeys the same
//! void and known-ending gates. A speculative term is either proven later,
//! so among the first `max_dns_mechanisms` positions, or one of at most `n`
//! unproven ones: at most `max_dns_mechanisms + n` DNS-querying terms are
//! queried per check (plus their MX/PTR address lookups), and void answers
//! at most `n` more than sequentially. The evaluator is unchanged, so the
//! results are too (`tests/spf_suite.rs` runs the OpenSPF suites with `n` =
//! 2 and unbounded; `tests/spf_prefetch.rs`,
//! `speculative_terms_overshoot_the_term_budget_by_at_most_n`, counts the
//! queries on the fan-out, early-match and void zones). On the issue-6
//! graph `n = 1` needs 6 round trips and `n = 2` needs 5, the graph's depth,
//! with the same 13 queries as sequentially.
//!
//! No rule within the budget (`n = 0`) can do better than 8 round trips on
//! the issue-6 graph: until `_nb.a`'s record is known it may hold 8 terms
//! that end the check at the 11th term before `include:_spf.b`, and until
//! `_s2.b`'s record is known, 4 that end it before the top record's `mx`
//! and `a`; the walker cannot tell those zones from the real one, so
//! `_spf.b` waits for round 4 and `mx`/`a` for round 7
//! (`bench_graph_variants_pin_the_8_round_floor`).
//!
//! ## Answers at hand: the plan loop
//!
//! A check first runs through a tight synchronous loop over a flat *plan*
//! of the domain's records: each record's
//! directives as steps, an `include`/`redirect` entering the target's
//! block, a level that does not decide jumping back to its parent (§5.2).
//! Without a record cache the plan is laid out as the check reaches each
//! `include`/`redirect`, the record looked up and parsed exactly where the
//! ordinary evaluator would. With a [`SpfRecordCache`] the plan is
//! *compiled* once from the cached records and kept until the first of them
//! expires ([`SpfRecordCache::with_compiled_plans`], default on): a warm
//! check then makes one cache lookup and only its own address lookups.
//! The loop uses the ordinary evaluator's helpers for every step.
//!
//! It only finishes checks it can finish exactly: every lookup answered at
//! once (the resolver's `*_now` path: in memory, or a cache hit), literal
//! targets, no `ptr`, no DNS error, no limit reached, every record one
//! valid `v=spf1`. Otherwise it gives up and the ordinary evaluator starts
//! over from the same answers, handed over in order, so no query is sent
//! or counted twice (and, for a compiled plan, on the plan's own records).
//! With prefetch, the loop keeps its answers the way the ordinary
//! evaluation does before it has to wait for one (each lookup sent once
//! per check; the address lookups of an `mx` term's exchanges that a match
//! left unmade sent when the term ends), and a hand-over gives them to the
//! ordinary evaluation, which builds its prefetch table only where a
//! lookup has to wait: with answers at hand there is nothing to overlap,
//! and the loop sends exactly what prefetch would.
//! Results, counters and the queries sent are those of the ordinary
//! evaluator, sequentially and with prefetch: `tests/spf_plan.rs` and
//! `tests/spf_suite.rs` compare both on
//! the OpenSPF suites and random graphs, from the zone and through
//! resolvers that answer some lookups late; the `spf_check_host` fuzz
//! target compares them on fuzzed zones. A plan is bounded (24 records,
//! 256 steps). A plan laid out during a check parses each record straight
//! into its place in the plan, and each thread keeps such a plan's buffers
//! between checks: its levels and steps, and up to 12 emptied directive
//! lists of up to 16 directives' room (about 21 KB), so parsing the usual
//! records allocates nothing (a cold check of the issue-6 graph makes two
//! allocations, its output's among them). On the issue-6 graph in
//! memory the loop halves the cost of a warm sequential check, and of a
//! warm check with prefetch (see BENCHMARKS.md).
//!
//! ```
//! use sender_auth::dns::zone::ZoneResolver;
//! use sender_auth::spf::{check_mail_from, SpfConfig, SpfResult};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let mut zone = ZoneResolver::new();
//! zone.add_txt("example.com", ["v=spf1 ip4:192.0.2.0/24 include:_spf.example.net -all"])
//!     .add_txt("_spf.example.net", ["v=spf1 a:mail.example.net -all"])
//!     .add_a("mail.example.net", "198.51.100.7".parse().unwrap());
//!
//! let out = check_mail_from(
//!     &zone,
//!     "198.51.100.7".parse().unwrap(),
//!     "alice@example.com",
//!     "mail.example.net",
//!     &SpfConfig::default(),
//! )
//! .await;
//! assert_eq!(out.result, SpfResult::Pass);
//! assert_eq!(out.mechanism(), Some("a:mail.example.net"));
//! assert_eq!(out.chain().collect::<Vec<_>>(), ["include:_spf.example.net"]);
//! assert_eq!(out.dns_lookups, 2);
//! # });
//! ```

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use crate::dns::Resolver;

pub mod cache;
mod eval;
pub mod macros;
mod plan;
mod prefetch;
mod received;
pub mod record;

pub use cache::{SpfRecordCache, SpfRecordCacheStats};
pub use received::{received_spf, resinfo};

/// An SPF result (RFC 7208 §2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpfResult {
    /// No SPF record, or the domain is not a usable name (§2.6.1).
    None,
    /// The domain makes no assertion about the client (§2.6.2).
    Neutral,
    /// The client is authorized (§2.6.3).
    Pass,
    /// The client is not authorized (§2.6.4).
    Fail,
    /// Probably not authorized; weak statement (§2.6.5).
    SoftFail,
    /// A transient (DNS) error; retrying later may succeed (§2.6.6).
    TempError,
    /// The published records could not be interpreted (§2.6.7).
    PermError,
}

impl SpfResult {
    /// The RFC result word: `none`, `neutral`, `pass`, `fail`, `softfail`,
    /// `temperror` or `permerror`.
    pub fn as_str(self) -> &'static str {
        match self {
            SpfResult::None => "none",
            SpfResult::Neutral => "neutral",
            SpfResult::Pass => "pass",
            SpfResult::Fail => "fail",
            SpfResult::SoftFail => "softfail",
            SpfResult::TempError => "temperror",
            SpfResult::PermError => "permerror",
        }
    }
}

impl serde::Serialize for SpfResult {
    /// Serializes as the result word (`"pass"`, ...).
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl fmt::Display for SpfResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error returned when parsing an unknown result word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownResult(pub String);

impl fmt::Display for UnknownResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown SPF result {:?}", self.0)
    }
}

impl std::error::Error for UnknownResult {}

impl FromStr for SpfResult {
    type Err = UnknownResult;
    /// Parses a result word (ASCII case-insensitive).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "none" => SpfResult::None,
            "neutral" => SpfResult::Neutral,
            "pass" => SpfResult::Pass,
            "fail" => SpfResult::Fail,
            "softfail" => SpfResult::SoftFail,
            "temperror" => SpfResult::TempError,
            "permerror" => SpfResult::PermError,
            _ => return Err(UnknownResult(s.to_string())),
        })
    }
}

/// Which identity was checked (RFC 7208 §2.3, §2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Identity {
    /// The MAIL FROM (reverse-path) identity; a null reverse-path is checked
    /// as `postmaster@<helo>`.
    MailFrom,
    /// The HELO/EHLO identity.
    Helo,
}

impl serde::Serialize for Identity {
    /// Serializes as `"mailfrom"` or `"helo"`.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl Identity {
    /// `mailfrom` or `helo`, as in `Received-SPF: ... identity=`.
    pub fn as_str(self) -> &'static str {
        match self {
            Identity::MailFrom => "mailfrom",
            Identity::Helo => "helo",
        }
    }
}

/// Limits and local settings of the evaluator. `Default` gives the RFC
/// 7208 values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpfConfig {
    /// Most terms that cause DNS queries (`include`, `a`, `mx`, `ptr`,
    /// `exists`, `redirect`) per check, across includes and redirects;
    /// one more is a permerror (§4.6.4). Default 10.
    pub max_dns_mechanisms: usize,
    /// Most "void lookups" (NXDOMAIN or NODATA answers to the query of an
    /// `a`, `mx`, `ptr` or `exists` term) per check; one more is a permerror
    /// (§4.6.4). Default 2.
    pub max_void_lookups: usize,
    /// Most MX names one `mx` term may look up; an MX RRset with more is a
    /// permerror (§4.6.4). Default 10.
    pub max_mx_names: usize,
    /// Most PTR names one `ptr` term or `%{p}` macro looks at; the rest are
    /// ignored (§4.6.4). Default 10.
    pub max_ptr_names: usize,
    /// Overall time budget for one check; when it runs out the result is
    /// `temperror` (§4.6.4 suggests at least 20 s). Enforced with
    /// `tokio::time::timeout`, so only when called inside a Tokio runtime
    /// (with its time driver enabled). The budget starts when the check
    /// first has to wait for a lookup (work before that is computation on
    /// answers already at hand, e.g. from [`Resolver`]'s
    /// synchronous `*_now` fast path). Default 20 s.
    pub timeout: Duration,
    /// The receiving host's name, for the `%{r}` macro in explanations
    /// (§7.3). Default `unknown`.
    pub receiver: String,
    /// Explanation used for a `fail` when the domain gives none (no `exp=`
    /// or it cannot be used). It is a macro string like an explanation
    /// record (§6.2); `None` (the default) leaves the explanation empty.
    pub default_explanation: Option<String>,
    /// Speculative concurrent prefetch (default `true`): when a record is
    /// parsed, the lookups its terms will need are started at once, within
    /// the §4.6.4 budget, while evaluation still proceeds strictly left to
    /// right; results are identical to `false` (plain sequential
    /// evaluation). See "Speculative prefetch" in the [module docs](self)
    /// for the exact budget rule. The per-check lookup table is only built
    /// once some lookup is not answered at once; until then (with DNS
    /// answered from memory or from a cache, the whole check) the check
    /// runs through the plan loop, as with `false`, and costs little more
    /// (see "Answers at hand: the plan loop" in the [module docs](self)).
    pub prefetch: bool,
    /// With [`SpfConfig::prefetch`]: how many DNS-querying terms the
    /// prefetcher may have started *beyond what it can prove* a sequential
    /// evaluator will reach (default `0`: only provable positions, so the
    /// queries sent never exceed the §4.6.4 budget of a sequential
    /// evaluator). With `n > 0` it also speculates past terms that may
    /// match and over includes whose records are not known yet, while at
    /// most `n` started terms are unproven; the terms queried per check are
    /// then at most `max_dns_mechanisms + n` (never more than `n` beyond
    /// the RFC budget, and only on graphs where an earlier subtree turns
    /// out large or matches). Results are unchanged. On the issue-6 bench
    /// graph `2` cuts the DNS round trips from 8 to 5. See "Speculative
    /// prefetch" in the [module docs](self).
    pub speculative_terms: usize,
    /// Shared cache of parsed SPF records (default `None`): a hit skips the
    /// TXT lookup and the parse. See [`SpfRecordCache`].
    pub record_cache: Option<Arc<SpfRecordCache>>,
}

impl Default for SpfConfig {
    fn default() -> Self {
        SpfConfig {
            max_dns_mechanisms: 10,
            max_void_lookups: 2,
            max_mx_names: 10,
            max_ptr_names: 10,
            timeout: Duration::from_secs(20),
            receiver: "unknown".to_string(),
            default_explanation: None,
            prefetch: true,
            speculative_terms: 0,
            record_cache: None,
        }
    }
}

/// The outcome of an SPF check, with everything needed to explain it.
///
/// The result and the counters are fields; the texts (sender, HELO name,
/// domain, mechanism, ...) are methods, because they are kept in one
/// buffer: building an output costs one allocation rather than one per
/// text, and [`SpfOutput::reason`] is written only when asked for.
///
/// Serializes (serde) as an object with the keys `result`, `identity`,
/// `ip`, `sender`, `helo`, `domain`, `mechanism`, `mechanism_domain`,
/// `explanation`, `reason`, `chain`, `dns_lookups`, `void_lookups`,
/// `queries` (the methods and fields of the same names; `result` and
/// `identity` as their RFC words). Two outputs are equal when all of those
/// are.
#[derive(Clone)]
pub struct SpfOutput {
    /// The result.
    pub result: SpfResult,
    /// The identity checked.
    pub identity: Identity,
    /// The client IP as given (an IPv4-mapped IPv6 address is evaluated as
    /// IPv4, §5).
    pub ip: IpAddr,
    /// DNS-querying terms evaluated (counted against
    /// [`SpfConfig::max_dns_mechanisms`]).
    pub dns_lookups: usize,
    /// Void lookups seen (counted against [`SpfConfig::max_void_lookups`]).
    pub void_lookups: usize,
    /// DNS queries actually sent to the resolver, including the record
    /// lookups, MX/PTR follow-up address lookups and the `exp=` lookup.
    pub queries: usize,
    /// The texts, back to back; the spans below are ranges of it.
    text: String,
    sender: Span,
    helo: Span,
    domain: Span,
    mechanism: Option<Span>,
    mechanism_domain: Option<Span>,
    explanation: Option<Span>,
    /// `None`: a match, whose sentence [`SpfOutput::reason`] writes.
    reason: Option<Span>,
    chain: Vec<Span>,
}

/// A range of [`SpfOutput`]'s text.
type Span = std::ops::Range<usize>;

impl SpfOutput {
    fn span(&self, s: &Span) -> &str {
        self.text.get(s.clone()).unwrap_or_default()
    }

    /// The `<sender>` used, always `local-part@domain` (`postmaster@...`
    /// when there was no local-part or a null reverse-path).
    pub fn sender(&self) -> &str {
        self.span(&self.sender)
    }

    /// The HELO/EHLO name given.
    pub fn helo(&self) -> &str {
        self.span(&self.helo)
    }

    /// The domain checked (`<domain>` of the top-level `check_host()`,
    /// without a trailing dot).
    pub fn domain(&self) -> &str {
        self.span(&self.domain)
    }

    /// The directive that decided the result, as written (for example
    /// `-all` or `ip4:192.0.2.0/24`); `None` when no mechanism matched or
    /// the check ended in an error.
    pub fn mechanism(&self) -> Option<&str> {
        self.mechanism.as_ref().map(|s| self.span(s))
    }

    /// The domain whose record contains [`SpfOutput::mechanism`] (differs
    /// from [`SpfOutput::domain`] after an include or redirect).
    pub fn mechanism_domain(&self) -> Option<&str> {
        self.mechanism_domain.as_ref().map(|s| self.span(s))
    }

    /// The explanation (§6.2), only for `fail`: the text of the domain's
    /// `exp=` record, or the configured default explanation.
    pub fn explanation(&self) -> Option<&str> {
        self.explanation.as_ref().map(|s| self.span(s))
    }

    /// The `include:`/`redirect=` terms (with their expanded targets) that
    /// led from [`SpfOutput::domain`] to the deciding record, outermost
    /// first.
    pub fn chain(&self) -> impl ExactSizeIterator<Item = &str> + DoubleEndedIterator + '_ {
        self.chain.iter().map(|s| self.span(s))
    }

    /// A sentence saying why: what matched (written when asked for), or
    /// what went wrong and where.
    pub fn reason(&self) -> std::borrow::Cow<'_, str> {
        if let Some(r) = &self.reason {
            return std::borrow::Cow::Borrowed(self.span(r));
        }
        let mech = self.mechanism().unwrap_or("?");
        let mdom = self.mechanism_domain().unwrap_or(self.domain());
        let mut r = String::with_capacity(64 + mech.len() + mdom.len());
        use std::fmt::Write as _;
        // `write!` to a String cannot fail.
        let _ = write!(r, "{}", crate::dns::canonical_ip(self.ip));
        r.push_str(" matched \"");
        r.push_str(mech);
        r.push_str("\" in the record of ");
        r.push_str(mdom);
        for (i, step) in self.chain().enumerate() {
            r.push_str(if i == 0 { " via " } else { " > " });
            r.push_str(step);
        }
        std::borrow::Cow::Owned(r)
    }
}

impl fmt::Debug for SpfOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpfOutput")
            .field("result", &self.result)
            .field("identity", &self.identity)
            .field("ip", &self.ip)
            .field("sender", &self.sender())
            .field("helo", &self.helo())
            .field("domain", &self.domain())
            .field("mechanism", &self.mechanism())
            .field("mechanism_domain", &self.mechanism_domain())
            .field("explanation", &self.explanation())
            .field("reason", &self.reason())
            .field("chain", &self.chain().collect::<Vec<_>>())
            .field("dns_lookups", &self.dns_lookups)
            .field("void_lookups", &self.void_lookups)
            .field("queries", &self.queries)
            .finish()
    }
}

impl PartialEq for SpfOutput {
    fn eq(&self, o: &Self) -> bool {
        self.result == o.result
            && self.identity == o.identity
            && self.ip == o.ip
            && self.dns_lookups == o.dns_lookups
            && self.void_lookups == o.void_lookups
            && self.queries == o.queries
            && self.sender() == o.sender()
            && self.helo() == o.helo()
            && self.domain() == o.domain()
            && self.mechanism() == o.mechanism()
            && self.mechanism_domain() == o.mechanism_domain()
            && self.explanation() == o.explanation()
            && self.chain().eq(o.chain())
            && self.reason() == o.reason()
    }
}

impl Eq for SpfOutput {}

impl serde::Serialize for SpfOutput {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("SpfOutput", 14)?;
        st.serialize_field("result", &self.result)?;
        st.serialize_field("identity", &self.identity)?;
        st.serialize_field("ip", &self.ip)?;
        st.serialize_field("sender", self.sender())?;
        st.serialize_field("helo", self.helo())?;
        st.serialize_field("domain", self.domain())?;
        st.serialize_field("mechanism", &self.mechanism())?;
        st.serialize_field("mechanism_domain", &self.mechanism_domain())?;
        st.serialize_field("explanation", &self.explanation())?;
        st.serialize_field("reason", &self.reason())?;
        st.serialize_field("chain", &self.chain().collect::<Vec<_>>())?;
        st.serialize_field("dns_lookups", &self.dns_lookups)?;
        st.serialize_field("void_lookups", &self.void_lookups)?;
        st.serialize_field("queries", &self.queries)?;
        st.end()
    }
}

/// The `check_host()` function of RFC 7208 §4: is `ip` allowed to send mail
/// for `domain`?
///
/// `sender` is the `<sender>` (`local-part@domain`; a missing local-part
/// becomes `postmaster`, §4.3), `helo` the HELO/EHLO name (used by `%{h}`).
/// The output's [`SpfOutput::identity`] is [`Identity::MailFrom`]; use
/// [`check_helo`] or [`check_mail_from`] to check the SMTP identities.
///
/// Never fails and never panics: DNS problems become `temperror`, bad
/// records `permerror`, and the whole check is bounded by the limits and the
/// time budget of `config`.
///
/// (Not an `async fn`: it returns the check's own future, which does
/// nothing until polled, so an output decided on the first poll is
/// returned from that poll without passing through a wrapping future.)
pub fn check_host<'a, R: Resolver + ?Sized>(
    resolver: &'a R,
    ip: IpAddr,
    domain: &'a str,
    sender: &'a str,
    helo: &'a str,
    config: &'a SpfConfig,
) -> impl Future<Output = SpfOutput> + Send + 'a {
    eval::run(
        resolver,
        ip,
        domain,
        sender,
        helo,
        Identity::MailFrom,
        config,
    )
}

/// Checks the MAIL FROM identity (RFC 7208 §2.4): `check_host()` with the
/// domain of `mail_from`. An empty `mail_from` (or `<>`), the null
/// reverse-path, is checked as `postmaster@<helo>` with `<helo>` as the
/// domain. A HELO result never stands in for a non-null MAIL FROM.
pub async fn check_mail_from<R: Resolver + ?Sized>(
    resolver: &R,
    ip: IpAddr,
    mail_from: &str,
    helo: &str,
    config: &SpfConfig,
) -> SpfOutput {
    let mf = mail_from.trim();
    let mf = mf
        .strip_prefix('<')
        .and_then(|m| m.strip_suffix('>'))
        .unwrap_or(mf);
    let (sender, domain) = if mf.is_empty() {
        (format!("postmaster@{helo}"), helo.to_string())
    } else {
        let (local, domain) = split_sender(mf);
        (format!("{local}@{domain}"), domain.to_string())
    };
    eval::run(
        resolver,
        ip,
        &domain,
        &sender,
        helo,
        Identity::MailFrom,
        config,
    )
    .await
}

/// Checks the HELO identity (RFC 7208 §2.3): `check_host()` with `<domain>`
/// = `helo` and `<sender>` = `postmaster@<helo>`. A HELO name that is not a
/// multi-label domain name (an address literal, a bare word) gives `none`.
pub async fn check_helo<R: Resolver + ?Sized>(
    resolver: &R,
    ip: IpAddr,
    helo: &str,
    config: &SpfConfig,
) -> SpfOutput {
    let sender = format!("postmaster@{helo}");
    eval::run(resolver, ip, helo, &sender, helo, Identity::Helo, config).await
}

/// Splits a sender into (local-part, domain) at the last `@`; a missing or
/// empty local-part is `postmaster` (§4.3).
pub(crate) fn split_sender(sender: &str) -> (&str, &str) {
    // A plain backwards scan: senders are short, and `rsplit_once` calls
    // out to `memrchr` (≈ 130 instructions per check).
    let at = sender.bytes().rposition(|b| b == b'@');
    match at.and_then(|i| Some((sender.get(..i)?, sender.get(i + 1..)?))) {
        Some(("", d)) => ("postmaster", d),
        Some((l, d)) => (l, d),
        None => ("postmaster", sender),
    }
}

/// Every string of up to `max_len` symbols from `alphabet`, the empty one
/// first (for exhaustive tests of the name and target checks).
#[cfg(test)]
pub(crate) fn all_strings(alphabet: &[&str], max_len: usize) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut frontier = vec![String::new()];
    for _ in 0..max_len {
        let mut next = Vec::new();
        for s in &frontier {
            for c in alphabet {
                next.push(format!("{s}{c}"));
            }
        }
        out.extend(next.iter().cloned());
        frontier = next;
    }
    out
}

#[cfg(test)]
mod tests {
    /// The backwards scan splits exactly as `rsplit_once('@')` does.
    #[test]
    fn split_sender_is_rsplit_once() {
        for s in super::all_strings(&["a", "@", "é", "."], 6) {
            let want = match s.rsplit_once('@') {
                Some(("", d)) => ("postmaster", d),
                Some((l, d)) => (l, d),
                None => ("postmaster", s.as_str()),
            };
            assert_eq!(super::split_sender(&s), want, "{s:?}");
        }
    }
}
