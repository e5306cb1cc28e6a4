//! Speculative concurrent prefetch for one evaluation (RFC 7208 §4.6.4
//! budget kept; see "Speculative prefetch" in the [`spf`](super) module
//! docs for the rule).
//!
//! Shape: every lookup of the evaluation goes through one per-evaluation
//! table of lookups keyed by (type, name) ([`Prefetch::get`]); a lookup is
//! a boxed future polled in place, never spawned, so the check needs no
//! `'static` resolver and no runtime beyond what the resolver needs.
//! [`Prefetch::run`] polls the evaluator (which still goes strictly left to
//! right) together with every pending lookup; whenever an answer arrives,
//! the *walker* ([`Prefetch::walk`]) re-walks the known part of the
//! include/redirect graph in the order a sequential evaluator would, and
//! starts the lookups of the terms it may claim.
//!
//! The walker claims *positions*: the n-th DNS-querying term a sequential
//! evaluator would count. It only walks through terms that the sequential
//! evaluator will certainly reach unless the whole check ends first, so a
//! claimed position is exact, and it never claims beyond
//! `max_dns_mechanisms`. Hence the terms whose queries are sent, speculative
//! or not, are always among the first `max_dns_mechanisms` positions of the
//! one sequence a sequential evaluator walks.

use std::future::{Future, poll_fn};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll};

use super::SpfConfig;
use super::cache::RecordOutcome;
use super::eval::{
    Log, MAX_DEPTH, check_name, is_within, qualifier_result, select_record, usable_domain,
};
use super::macros::{MacroString, MacroVars};
use super::record::{Mechanism, Qualifier, Record};
use super::{SpfRecordCache, SpfResult};
use crate::dns::{self, BoxFuture, DnsError, DnsResult, Mx, Resolver, Txt};

/// A query type of the lookup table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Qt {
    Txt,
    A,
    Aaaa,
    Mx,
    Ptr,
}

impl Qt {
    /// The address lookup for a client of `ip`'s family: A or AAAA.
    pub(crate) fn addr(ip: IpAddr) -> Qt {
        match ip {
            IpAddr::V4(_) => Qt::A,
            IpAddr::V6(_) => Qt::Aaaa,
        }
    }
}

/// One answer of any type.
#[derive(Debug, Clone)]
pub(crate) enum Ans {
    Txt(DnsResult<Txt>),
    A(DnsResult<Ipv4Addr>),
    Aaaa(DnsResult<Ipv6Addr>),
    Mx(DnsResult<Mx>),
    Ptr(DnsResult<String>),
}

impl Ans {
    fn error(&self) -> Option<&DnsError> {
        match self {
            Ans::Txt(r) => r.as_ref().err(),
            Ans::A(r) => r.as_ref().err(),
            Ans::Aaaa(r) => r.as_ref().err(),
            Ans::Mx(r) => r.as_ref().err(),
            Ans::Ptr(r) => r.as_ref().err(),
        }
    }

    /// An error answer of type `qt` (no query was sent).
    pub(crate) fn err(qt: Qt, e: DnsError) -> Ans {
        match qt {
            Qt::Txt => Ans::Txt(Err(e)),
            Qt::A => Ans::A(Err(e)),
            Qt::Aaaa => Ans::Aaaa(Err(e)),
            Qt::Mx => Ans::Mx(Err(e)),
            Qt::Ptr => Ans::Ptr(Err(e)),
        }
    }
}

enum Slot<'a> {
    /// Started by the walker (or a prestart): polled by the driver and by
    /// whoever waits for it.
    Pending(BoxFuture<'a, Ans>),
    /// Being run inside the evaluator's own future.
    Evaluator,
    Done(Ans),
}

struct Entry<'a> {
    qt: Qt,
    /// Lower case, no trailing dot.
    name: String,
    slot: Slot<'a>,
}

/// What a claimed position queries.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ClaimKind {
    /// `include`/`redirect`: the usable target domain (TXT).
    Record(String),
    /// `a` (A or AAAA) or `exists` (A) of this name.
    Host(Qt, String),
    /// `mx` of this name (then A/AAAA of the exchanges).
    Mx(String),
    /// `ptr` with this target (PTR of the client, then A/AAAA of the names
    /// within the target).
    Ptr(String),
    /// A term whose target needs `%{p}`: the position is counted, the
    /// evaluator sends the query itself.
    Opaque,
}

impl ClaimKind {
    /// Whether a void answer to this term's query counts (§4.6.4).
    fn void_capable(&self) -> bool {
        matches!(
            self,
            ClaimKind::Host(..) | ClaimKind::Mx(_) | ClaimKind::Ptr(_)
        )
    }
}

struct Claim {
    kind: ClaimKind,
    /// MX/PTR follow-up lookups started (or known to be unnecessary).
    followed: bool,
}

/// The walker's view of a record's outcome when every DNS-querying term
/// it has passed did not match.
enum Flow {
    /// Unknown or uncertain from here on: claim nothing further.
    Stop,
    /// The record certainly gives this result (if the check gets there).
    Done(SpfResult),
}

/// How a match inside a record propagates (see the module docs).
#[derive(Clone, Copy)]
struct Flags {
    /// Any match here ends the whole check (the top record and its
    /// redirect targets).
    any: bool,
    /// A `pass` result of this record ends the whole check.
    pass: bool,
}

/// The speculative walker's view of a record (see [`Prefetch::spec_walk`]).
enum Spec {
    /// Claim nothing further this walk (term limit, or the budget of
    /// unproven claims is spent).
    Halt,
    /// The record gives this result if no DNS-querying term in it matches.
    Ends(SpfResult),
    /// Unknown from here (a record not yet known): the parent goes on as if
    /// it did not match.
    Open,
}

/// What a walker makes of one directive's mechanism.
enum Step<'r> {
    /// Decided on the spot (`all`, a matching `ip4`/`ip6`): the record
    /// ends here with the directive's result.
    Ends,
    /// A non-matching `ip4`/`ip6`: go on.
    Skip,
    /// A DNS-querying term.
    Term(Term<'r>),
}

/// A term the walker may claim.
enum Term<'r> {
    Record(&'r MacroString),
    A(Option<&'r MacroString>),
    Mx(Option<&'r MacroString>),
    Ptr(Option<&'r MacroString>),
    Exists(&'r MacroString),
}

pub(crate) struct State<'a> {
    entries: Vec<Entry<'a>>,
    /// Lookups started (queries sent to the resolver).
    queries: usize,
    /// Something changed that may let the walker or the evaluator progress.
    dirty: bool,
    /// Records parsed in this evaluation (lower-case domain).
    records: Vec<(String, RecordOutcome)>,
    /// Claimed positions, in order.
    claims: Vec<Claim>,
    /// Speculative claims ([`SpfConfig::speculative_terms`]): terms started
    /// before their position was proven; proven once a position in
    /// `claims` has the same kind.
    spec: Vec<Claim>,
}

/// The per-evaluation prefetcher.
pub(crate) struct Prefetch<'a, R: ?Sized> {
    resolver: &'a R,
    config: &'a SpfConfig,
    /// The check's macro variables (`domain` filled in per expansion).
    base: MacroVars<'a>,
    /// The usable top-level domain, if any.
    top: Option<String>,
    /// The reverse-mapping name of the client (the PTR query), made when
    /// first needed.
    rev: OnceLock<String>,
    st: Mutex<State<'a>>,
}

/// The walker never loops more than this many rounds per poll (each round
/// needs new progress; this is only a backstop).
const MAX_ROUNDS: usize = 10_000;

impl<'a, R: Resolver + ?Sized> Prefetch<'a, R> {
    /// The table of an evaluation that has made the lookups and parsed the
    /// records in `log` so far (all answered on their first poll); with
    /// `evaluator`, the lookup the evaluator is now waiting for itself.
    pub(crate) fn new(
        resolver: &'a R,
        config: &'a SpfConfig,
        base: MacroVars<'a>,
        top: Option<String>,
        log: Log,
        evaluator: Option<(Qt, &str)>,
    ) -> Self {
        let mut entries: Vec<Entry<'a>> = log
            .answers
            .iter()
            .filter_map(|(qt, r, a)| {
                Some(Entry {
                    qt: *qt,
                    name: log.name(r).to_string(),
                    slot: Slot::Done(a.clone()?),
                })
            })
            .collect();
        let records = log
            .records
            .iter()
            .map(|(r, o)| (log.name(r).to_string(), o.clone()))
            .collect();
        // As if the table had existed from the start: something changed
        // (an answer or a record came in) iff the log is not empty.
        let dirty = !(log.answers.is_empty() && log.records.is_empty());
        if let Some((qt, name)) = evaluator {
            entries.push(Entry {
                qt,
                name: normalize(name),
                slot: Slot::Evaluator,
            });
        }
        Prefetch {
            resolver,
            config,
            base,
            top,
            rev: OnceLock::new(),
            st: Mutex::new(State {
                queries: entries.len(),
                entries,
                dirty,
                records,
                claims: Vec::new(),
                spec: Vec::new(),
            }),
        }
    }

    /// The evaluator's own lookup (`qt`, `name`) is answered.
    pub(crate) fn evaluator_done(&self, qt: Qt, name: &str, a: Ans) {
        let mut st = self.lock();
        if let Some(i) = find(&st, qt, name)
            && let Some(e) = st.entries.get_mut(i)
        {
            e.slot = Slot::Done(a);
        }
        st.dirty = true;
    }

    /// A lookup sent and polled once, not answered yet: the driver polls
    /// it from now on.
    pub(crate) fn insert_pending(&self, qt: Qt, name: &str, fut: BoxFuture<'a, Ans>) {
        let mut st = self.lock();
        st.queries += 1;
        st.entries.push(Entry {
            qt,
            name: normalize(name),
            slot: Slot::Pending(fut),
        });
    }

    fn rev(&self) -> &String {
        self.rev.get_or_init(|| dns::reverse_name(self.base.ip))
    }

    fn lock(&self) -> MutexGuard<'_, State<'a>> {
        self.st.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queries sent so far.
    pub(crate) fn queries(&self) -> usize {
        self.lock().queries
    }

    /// Polls `fut` (the evaluator) while driving every pending lookup and
    /// the walker of the table in `cell`, once the evaluator has created
    /// it (until then this is `fut`'s own poll).
    pub(crate) fn poll_run<F: Future + ?Sized>(
        cell: &OnceLock<Box<Self>>,
        mut fut: Pin<&mut F>,
        cx: &mut Context<'_>,
    ) -> Poll<F::Output> {
        for _ in 0..MAX_ROUNDS {
            if let Some(p) = cell.get() {
                p.drive(cx);
            }
            if let Poll::Ready(v) = fut.as_mut().poll(cx) {
                return Poll::Ready(v);
            }
            match cell.get() {
                Some(p) if p.lock().dirty => {}
                _ => return Poll::Pending,
            }
        }
        // Unreachable in practice; yield and come back.
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// Polls every pending lookup; runs the walker while anything changes.
    fn drive(&self, cx: &mut Context<'_>) {
        let mut st = self.lock();
        for _ in 0..MAX_ROUNDS {
            let mut progressed = false;
            for e in st.entries.iter_mut() {
                if let Slot::Pending(f) = &mut e.slot
                    && let Poll::Ready(a) = f.as_mut().poll(cx)
                {
                    e.slot = Slot::Done(a);
                    progressed = true;
                }
            }
            if progressed {
                st.dirty = true;
            }
            if !st.dirty {
                return;
            }
            st.dirty = false;
            self.walk(&mut st, cx);
        }
    }

    /// The answer to (`qt`, `name`): shared with the walker, sent at most
    /// once per evaluation. `name` must be a valid DNS name (callers check);
    /// for [`Qt::Ptr`] it is the reverse name of the client.
    ///
    /// A lookup the walker has not started is run here, in the evaluator's
    /// own future (not boxed); the table marks it in flight meanwhile so the
    /// walker does not send it again.
    pub(crate) async fn get(&self, qt: Qt, name: &str) -> Ans {
        let existing = {
            let mut st = self.lock();
            match find(&st, qt, name) {
                Some(i) => Some(i),
                None => {
                    st.queries += 1;
                    st.entries.push(Entry {
                        qt,
                        name: name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase(),
                        slot: Slot::Evaluator,
                    });
                    None
                }
            }
        };
        let Some(i) = existing else {
            let r = self.resolver;
            let a = match qt {
                Qt::Txt => Ans::Txt(r.txt(name).await),
                Qt::A => Ans::A(r.a(name).await),
                Qt::Aaaa => Ans::Aaaa(r.aaaa(name).await),
                Qt::Mx => Ans::Mx(r.mx(name).await),
                Qt::Ptr => Ans::Ptr(r.ptr(self.base.ip).await),
            };
            let mut st = self.lock();
            if let Some(i) = find(&st, qt, name)
                && let Some(e) = st.entries.get_mut(i)
            {
                e.slot = Slot::Done(a.clone());
            }
            st.dirty = true;
            return a;
        };
        poll_fn(|cx| {
            let mut st = self.lock();
            let Some(e) = st.entries.get_mut(i) else {
                return Poll::Ready(Ans::err(
                    qt,
                    DnsError::Other("lookup table entry lost".into()),
                ));
            };
            let a = match &mut e.slot {
                Slot::Done(a) => return Poll::Ready(a.clone()),
                // Only the evaluator itself runs such a lookup, and it
                // never waits for the same (type, name) twice at once.
                Slot::Evaluator => return Poll::Pending,
                Slot::Pending(f) => match f.as_mut().poll(cx) {
                    Poll::Ready(a) => a,
                    Poll::Pending => return Poll::Pending,
                },
            };
            e.slot = Slot::Done(a.clone());
            st.dirty = true;
            Poll::Ready(a)
        })
        .await
    }

    /// Starts the lookups of `names` (type `qt`) without waiting: the
    /// address lookups of MX exchanges and PTR names, all within the term's
    /// MX/PTR name limit.
    pub(crate) async fn prestart(&self, qt: Qt, names: &[&str]) {
        poll_fn(|cx| {
            let mut st = self.lock();
            for n in names {
                if check_name(n).is_ok() {
                    self.start(&mut st, qt, n, cx);
                }
            }
            Poll::Ready(())
        })
        .await
    }

    /// The index of the lookup (`qt`, `name`), starting it if new. A new
    /// lookup is polled once at once: an in-memory resolver answers there.
    fn start(&self, st: &mut State<'a>, qt: Qt, name: &str, cx: &mut Context<'_>) -> usize {
        if let Some(i) = find(st, qt, name) {
            return i;
        }
        let r = self.resolver;
        let owned = name.to_string();
        let ip = self.base.ip;
        let mut fut: BoxFuture<'a, Ans> = match qt {
            Qt::Txt => Box::pin(async move { Ans::Txt(r.txt(&owned).await) }),
            Qt::A => Box::pin(async move { Ans::A(r.a(&owned).await) }),
            Qt::Aaaa => Box::pin(async move { Ans::Aaaa(r.aaaa(&owned).await) }),
            Qt::Mx => Box::pin(async move { Ans::Mx(r.mx(&owned).await) }),
            Qt::Ptr => Box::pin(async move { Ans::Ptr(r.ptr(ip).await) }),
        };
        st.queries += 1;
        let slot = match fut.as_mut().poll(cx) {
            Poll::Ready(a) => {
                st.dirty = true;
                Slot::Done(a)
            }
            Poll::Pending => Slot::Pending(fut),
        };
        let key = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
        st.entries.push(Entry {
            qt,
            name: key,
            slot,
        });
        st.entries.len() - 1
    }

    /// A record already parsed in this evaluation.
    pub(crate) fn known_record(&self, domain: &str) -> Option<RecordOutcome> {
        known(&self.lock(), domain)
    }

    /// Remembers a parsed record for the rest of the evaluation.
    pub(crate) fn insert_record(&self, domain: &str, outcome: RecordOutcome) {
        let mut st = self.lock();
        if known(&st, domain).is_none() {
            st.records.push((normalize(domain), outcome));
            st.dirty = true;
        }
    }

    fn cache(&self) -> Option<&SpfRecordCache> {
        self.config.record_cache.as_deref()
    }

    // ------------------------------------------------------------ walker

    /// Re-walks the known graph from the top, claiming what may be claimed.
    fn walk(&self, st: &mut State<'a>, cx: &mut Context<'_>) {
        self.follow_ups(st, cx);
        let Some(top) = self.top.clone() else {
            return;
        };
        let mut pos = 0usize;
        let flags = Flags {
            any: true,
            pass: true,
        };
        let _ = self.walk_record(st, cx, &mut pos, &top, flags, 0);
        if self.config.speculative_terms > 0 {
            let mut lower = 0usize;
            let _ = self.spec_walk(st, cx, &mut lower, &top, 0);
        }
        self.follow_ups(st, cx);
    }

    /// The parsed record of `domain` if its TXT answer is in.
    fn record_for(&self, st: &mut State<'a>, domain: &str) -> Option<RecordOutcome> {
        if let Some(o) = known(st, domain) {
            return Some(o);
        }
        match find(st, Qt::Txt, domain).map(|i| &st.entries[i].slot) {
            Some(Slot::Done(Ans::Txt(Ok(ans)))) => {
                let ans = ans.clone();
                let o = select_record(&ans);
                if let Some(c) = self.cache() {
                    c.insert(domain, o.clone(), ans.ttl);
                }
                st.records.push((normalize(domain), o.clone()));
                Some(o)
            }
            Some(_) => None,
            None => {
                let o = self.cache()?.get(domain)?;
                st.records.push((normalize(domain), o.clone()));
                Some(o)
            }
        }
    }

    fn walk_record(
        &self,
        st: &mut State<'a>,
        cx: &mut Context<'_>,
        pos: &mut usize,
        domain: &str,
        flags: Flags,
        depth: usize,
    ) -> Flow {
        let rec: Arc<Record> = match self.record_for(st, domain) {
            Some(RecordOutcome::Record(r)) => r,
            _ => return Flow::Stop,
        };
        for d in &rec.directives {
            let q = d.qualifier;
            // Whether this term matching would end the whole check.
            let ends_all = flags.any || (q == Qualifier::Pass && flags.pass);
            let term = match self.step(&d.mechanism) {
                Step::Ends => return Flow::Done(qualifier_result(q)),
                Step::Skip => continue,
                Step::Term(Term::Record(spec)) => {
                    let Some(target) = self.claim(st, cx, pos, Term::Record(spec), domain) else {
                        return Flow::Stop;
                    };
                    if depth >= MAX_DEPTH {
                        return Flow::Stop;
                    }
                    let child = Flags {
                        any: false,
                        pass: ends_all,
                    };
                    match self.walk_record(st, cx, pos, &target, child, depth + 1) {
                        Flow::Stop => return Flow::Stop,
                        Flow::Done(SpfResult::Pass) => return Flow::Done(qualifier_result(q)),
                        Flow::Done(_) => continue,
                    }
                }
                Step::Term(term) => term,
            };
            if self.claim(st, cx, pos, term, domain).is_none() {
                return Flow::Stop;
            }
            if !ends_all {
                // A match here would end only this record: what follows
                // may be skipped, so its positions are uncertain.
                return Flow::Stop;
            }
        }
        if let Some(spec) = &rec.redirect {
            let Some(target) = self.claim(st, cx, pos, Term::Record(spec), domain) else {
                return Flow::Stop;
            };
            if depth >= MAX_DEPTH {
                return Flow::Stop;
            }
            return self.walk_record(st, cx, pos, &target, flags, depth + 1);
        }
        Flow::Done(SpfResult::Neutral)
    }

    /// The walkers' reading of a mechanism: `all` and `ip4`/`ip6` are
    /// decided against the client at once, the rest are terms to claim.
    fn step<'r>(&self, m: &'r Mechanism) -> Step<'r> {
        let hit = match (m, self.base.ip) {
            (Mechanism::All, _) => true,
            (Mechanism::Ip4 { net }, IpAddr::V4(ip)) => net.contains(&ip),
            (Mechanism::Ip6 { net }, IpAddr::V6(ip)) => net.contains(&ip),
            (Mechanism::Ip4 { .. } | Mechanism::Ip6 { .. }, _) => false,
            (Mechanism::Include { domain: spec }, _) => return Step::Term(Term::Record(spec)),
            (Mechanism::A { domain: spec, .. }, _) => return Step::Term(Term::A(spec.as_ref())),
            (Mechanism::Mx { domain: spec, .. }, _) => return Step::Term(Term::Mx(spec.as_ref())),
            (Mechanism::Ptr { domain: spec }, _) => return Step::Term(Term::Ptr(spec.as_ref())),
            (Mechanism::Exists { domain: spec }, _) => return Step::Term(Term::Exists(spec)),
        };
        if hit { Step::Ends } else { Step::Skip }
    }

    fn vars<'v>(&'v self, domain: &'v str) -> MacroVars<'v> {
        MacroVars {
            domain,
            ptr: None,
            ..self.base
        }
    }

    /// Expands a target like the evaluator does; `None` when it needs
    /// `%{p}` (unknown before the evaluator gets there).
    fn target(&self, spec: Option<&MacroString>, domain: &str) -> Option<String> {
        match spec {
            None => Some(domain.to_string()),
            Some(ms) if ms.uses_ptr() => None,
            Some(ms) => Some(ms.expand_domain(&self.vars(domain))),
        }
    }

    fn addr_qt(&self) -> Qt {
        Qt::addr(self.base.ip)
    }

    /// Claims the next position for `term` (found in the record of
    /// `domain`), starting its lookup. Returns the target domain for a
    /// record term (empty for others), or `None` when the walker must stop
    /// here: past the term limit, gated, or the target is unknown/unusable.
    fn claim(
        &self,
        st: &mut State<'a>,
        cx: &mut Context<'_>,
        pos: &mut usize,
        term: Term<'_>,
        domain: &str,
    ) -> Option<String> {
        *pos += 1;
        if *pos > self.config.max_dns_mechanisms {
            return None;
        }
        if let Some(c) = st.claims.get(*pos - 1) {
            return match &c.kind {
                ClaimKind::Record(t) => Some(t.clone()),
                _ => Some(String::new()),
            };
        }
        let void_capable = !matches!(term, Term::Record(_));
        if !self.may_claim(st, void_capable) {
            return None;
        }
        let kind = self.claim_kind(term, domain)?;
        self.start_claim(st, cx, &kind);
        let ret = match &kind {
            ClaimKind::Record(t) => t.clone(),
            _ => String::new(),
        };
        st.claims.push(Claim {
            kind,
            followed: false,
        });
        Some(ret)
    }

    /// What `term` (in the record of `domain`) queries; `None` for a
    /// record term whose target is unusable (the walker stops there).
    fn claim_kind(&self, term: Term<'_>, domain: &str) -> Option<ClaimKind> {
        let host = |qt, spec| match self.target(spec, domain) {
            None => ClaimKind::Opaque,
            Some(t) => ClaimKind::Host(qt, t),
        };
        Some(match term {
            Term::Record(spec) => {
                let target = self.target(Some(spec), domain)?;
                ClaimKind::Record(usable_domain(&target).ok()?.into_owned())
            }
            Term::A(spec) => host(self.addr_qt(), spec),
            Term::Exists(spec) => host(Qt::A, Some(spec)),
            Term::Mx(spec) => match self.target(spec, domain) {
                None => ClaimKind::Opaque,
                Some(t) => ClaimKind::Mx(t),
            },
            Term::Ptr(spec) => match self.target(spec, domain) {
                None => ClaimKind::Opaque,
                Some(t) => ClaimKind::Ptr(t),
            },
        })
    }

    /// Starts the query of a claimed term (each (type, name) once per
    /// check; a record already known or in the record cache needs none).
    fn start_claim(&self, st: &mut State<'a>, cx: &mut Context<'_>, kind: &ClaimKind) {
        match kind {
            ClaimKind::Record(target) => {
                if known(st, target).is_none() && find(st, Qt::Txt, target).is_none() {
                    match self.cache().and_then(|c| c.get(target)) {
                        Some(o) => st.records.push((normalize(target), o)),
                        None => {
                            self.start(st, Qt::Txt, target, cx);
                        }
                    }
                }
            }
            ClaimKind::Host(qt, t) => {
                if check_name(t).is_ok() {
                    self.start(st, *qt, t, cx);
                }
            }
            ClaimKind::Mx(t) => {
                if check_name(t).is_ok() {
                    self.start(st, Qt::Mx, t, cx);
                }
            }
            ClaimKind::Ptr(_) => {
                let rev = self.rev().clone();
                self.start(st, Qt::Ptr, &rev, cx);
            }
            ClaimKind::Opaque => {}
        }
    }

    // ------------------------------------------------- speculative walker

    /// Speculative claims whose position no certain claim has proven yet.
    fn unproven(st: &State<'a>) -> usize {
        st.spec
            .iter()
            .filter(|s| !st.claims.iter().any(|c| c.kind == s.kind))
            .count()
    }

    /// The walk beyond certainty ([`SpfConfig::speculative_terms`]): the
    /// known graph in sequential order, going past terms that may match
    /// (as if they did not), over includes whose record is not known yet
    /// (as if empty) and into those that are known, starting the queries of
    /// terms not yet claimed while fewer than `speculative_terms` claims are
    /// unproven. `lower` counts DNS-querying terms walked, a lower bound
    /// of their sequential positions (unknown subtrees count 0), so a term
    /// past `max_dns_mechanisms` is never claimed. Every speculative claim
    /// is either proven later (its position is among the certain ones) or
    /// stays one of at most `speculative_terms` unproven ones: the terms
    /// queried per check are at most `max_dns_mechanisms +
    /// speculative_terms`.
    fn spec_walk(
        &self,
        st: &mut State<'a>,
        cx: &mut Context<'_>,
        lower: &mut usize,
        domain: &str,
        depth: usize,
    ) -> Spec {
        let rec: Arc<Record> = match self.record_for(st, domain) {
            Some(RecordOutcome::Record(r)) => r,
            // No usable record: the check ends here (none at the top,
            // permerror through an include or redirect).
            Some(_) => return Spec::Halt,
            None => return Spec::Open,
        };
        for d in &rec.directives {
            let q = d.qualifier;
            let term = match self.step(&d.mechanism) {
                Step::Ends => return Spec::Ends(qualifier_result(q)),
                Step::Skip => continue,
                Step::Term(term) => term,
            };
            let include = matches!(term, Term::Record(_));
            let target = match self.spec_claim(st, cx, lower, term, domain) {
                Err(()) => return Spec::Halt,
                Ok(t) => t,
            };
            if let (true, Some(target)) = (include, target)
                && depth < MAX_DEPTH
            {
                match self.spec_walk(st, cx, lower, &target, depth + 1) {
                    Spec::Halt => return Spec::Halt,
                    Spec::Ends(SpfResult::Pass) => return Spec::Ends(qualifier_result(q)),
                    Spec::Ends(_) | Spec::Open => {}
                }
            }
        }
        match &rec.redirect {
            Some(spec) => match self.spec_claim(st, cx, lower, Term::Record(spec), domain) {
                Err(()) => Spec::Halt,
                Ok(Some(target)) if depth < MAX_DEPTH => {
                    self.spec_walk(st, cx, lower, &target, depth + 1)
                }
                Ok(_) => Spec::Open,
            },
            None => Spec::Ends(SpfResult::Neutral),
        }
    }

    /// Counts `term` at the next lower-bound position and claims it
    /// speculatively unless already claimed. `Err` stops the walk (past
    /// the term limit, the unproven budget spent, or an answer in hand
    /// shows the check ends earlier); `Ok` gives a record term's target
    /// (`None` for other terms or an unusable target).
    fn spec_claim(
        &self,
        st: &mut State<'a>,
        cx: &mut Context<'_>,
        lower: &mut usize,
        term: Term<'_>,
        domain: &str,
    ) -> Result<Option<String>, ()> {
        *lower += 1;
        if *lower > self.config.max_dns_mechanisms {
            return Err(());
        }
        let void_capable = !matches!(term, Term::Record(_));
        let Some(kind) = self.claim_kind(term, domain) else {
            return Ok(None);
        };
        let target = match &kind {
            ClaimKind::Record(t) => Some(t.clone()),
            // The evaluator sends a `%{p}` target's query itself.
            ClaimKind::Opaque => return Ok(None),
            _ => None,
        };
        if st.claims.iter().chain(&st.spec).any(|c| c.kind == kind) {
            return Ok(target);
        }
        if Self::unproven(st) >= self.config.speculative_terms || !self.may_claim(st, void_capable)
        {
            return Err(());
        }
        self.start_claim(st, cx, &kind);
        st.spec.push(Claim {
            kind,
            followed: false,
        });
        Ok(target)
    }

    /// The answer of a claim's own query, if it is in.
    fn claim_answer<'s>(&self, st: &'s State<'a>, kind: &ClaimKind) -> Option<&'s Slot<'a>> {
        let (qt, name) = match kind {
            ClaimKind::Record(t) => (Qt::Txt, t.as_str()),
            ClaimKind::Host(qt, t) => (*qt, t.as_str()),
            ClaimKind::Mx(t) => (Qt::Mx, t.as_str()),
            ClaimKind::Ptr(_) => (Qt::Ptr, self.rev().as_str()),
            ClaimKind::Opaque => return None,
        };
        find(st, qt, name).map(|i| &st.entries[i].slot)
    }

    /// The gate on a new claim: no claim once an answer already in shows
    /// that the sequential evaluator ends before this position (a temporary
    /// DNS error of an `a`/`mx`/`exists` term, an MX set over the limit,
    /// more void lookups than allowed); and for a term whose answer could be
    /// void, no more such terms outstanding than the void budget left
    /// (`max_void_lookups + 1` void answers at most, as sequentially).
    fn may_claim(&self, st: &State<'a>, void_capable: bool) -> bool {
        let mut seen = 0usize;
        let mut outstanding = 0usize;
        for c in &st.claims {
            let counts = c.kind.void_capable();
            match self.claim_answer(st, &c.kind) {
                // A `%{p}` target: the evaluator sends that query itself and
                // the walker never sees its answer; count it as a possible
                // void for good.
                None if matches!(c.kind, ClaimKind::Opaque) => outstanding += 1,
                None => {}
                Some(Slot::Pending(_) | Slot::Evaluator) if counts => outstanding += 1,
                Some(Slot::Pending(_) | Slot::Evaluator) => {}
                Some(Slot::Done(a)) => {
                    if let Ans::Mx(Ok(ans)) = a
                        && ans.len() > self.config.max_mx_names
                    {
                        return false;
                    }
                    match a.error() {
                        Some(e) if e.is_void() => {
                            if counts {
                                seen += 1;
                            }
                        }
                        Some(DnsError::InvalidName(_)) | None => {}
                        Some(_) => {
                            if matches!(c.kind, ClaimKind::Host(..) | ClaimKind::Mx(_)) {
                                return false;
                            }
                        }
                    }
                }
            }
        }
        if seen > self.config.max_void_lookups {
            return false;
        }
        !(void_capable && seen + outstanding > self.config.max_void_lookups)
    }

    /// Starts the address lookups of MX exchanges and PTR names of claimed
    /// `mx`/`ptr` terms once their first answer is in.
    fn follow_ups(&self, st: &mut State<'a>, cx: &mut Context<'_>) {
        let qt = self.addr_qt();
        for i in 0..st.claims.len() + st.spec.len() {
            let kind = match claim_mut(st, i) {
                Some(c) if !c.followed => c.kind.clone(),
                _ => continue,
            };
            let names: Vec<String> = match (&kind, self.claim_answer(st, &kind)) {
                (ClaimKind::Mx(_), Some(Slot::Done(Ans::Mx(Ok(ans))))) => {
                    if ans.len() > self.config.max_mx_names {
                        Vec::new()
                    } else {
                        let mut hosts: Vec<&Mx> = ans.iter().collect();
                        hosts.sort_by_key(|m| m.preference);
                        hosts.iter().map(|m| m.exchange.clone()).collect()
                    }
                }
                (ClaimKind::Ptr(target), Some(Slot::Done(Ans::Ptr(Ok(ans))))) => ans
                    .iter()
                    .take(self.config.max_ptr_names)
                    .map(|n| n.strip_suffix('.').unwrap_or(n))
                    .filter(|n| is_within(n, target))
                    .map(str::to_string)
                    .collect(),
                (
                    ClaimKind::Mx(_) | ClaimKind::Ptr(_),
                    Some(Slot::Pending(_) | Slot::Evaluator),
                ) => {
                    continue;
                }
                _ => Vec::new(),
            };
            for name in &names {
                if check_name(name).is_ok() {
                    self.start(st, qt, name, cx);
                }
            }
            if let Some(c) = claim_mut(st, i) {
                c.followed = true;
            }
        }
    }
}

/// The `i`-th claim: certain ones first, then speculative ones.
fn claim_mut<'s>(st: &'s mut State<'_>, i: usize) -> Option<&'s mut Claim> {
    match i.checked_sub(st.claims.len()) {
        None => st.claims.get_mut(i),
        Some(j) => st.spec.get_mut(j),
    }
}

fn normalize(domain: &str) -> String {
    domain
        .strip_suffix('.')
        .unwrap_or(domain)
        .to_ascii_lowercase()
}

fn find(st: &State<'_>, qt: Qt, name: &str) -> Option<usize> {
    let name = name.strip_suffix('.').unwrap_or(name);
    st.entries
        .iter()
        .position(|e| e.qt == qt && e.name.eq_ignore_ascii_case(name))
}

fn known(st: &State<'_>, domain: &str) -> Option<RecordOutcome> {
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    st.records
        .iter()
        .find(|(d, _)| d.eq_ignore_ascii_case(domain))
        .map(|(_, o)| o.clone())
}
