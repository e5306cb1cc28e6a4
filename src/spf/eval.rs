//! The evaluator: `check_host()` (RFC 7208 §4–§6).
//!
//! Structure, kept simple on purpose so later performance work can slot in:
//!
//! * [`Lookups`] is the one place that talks to the resolver. It counts the
//!   queries sent, the DNS-querying terms (§4.6.4, 10 by default) and the
//!   void lookups (2 by default). A speculative prefetcher or an answer
//!   cache belongs here: as long as every *term* still calls `count_term`
//!   and `count_void` as if it had sent its query, results stay identical.
//! * [`Eval::fetch_record_now`] (with [`Eval::fetch_record_wait`]) is the one place that turns a domain into a
//!   parsed [`Record`] (lookup, selection per §4.5, parse); a cache of
//!   parsed records belongs there.
//! * Evaluation proceeds strictly left to right. Include and redirect do
//!   not recurse: [`Eval::check`] keeps the levels on an explicit stack of
//!   [`Frame`]s inside one future (no boxed future per level), their names
//!   in one buffer, and a pending match as a directive index, turned into
//!   the directive's text (a shared piece of the record, no copy) only when
//!   the verdict is used (§5.2: an included record's `fail` only means "no
//!   match").
//!
//! * Every lookup first tries the resolver's synchronous fast path
//!   ([`Resolver::txt_now`] and siblings, through [`Lookups::now`]): an
//!   answer at hand costs no future. Only when it gives `None` is the
//!   asynchronous lookup built and awaited, out of line (boxed), so the
//!   common future stays small. Both paths count and log exactly the same
//!   (`tests/spf_suite.rs` runs the suites through both, and through a
//!   resolver that answers every other lookup late).
//! * Sequential checks first try the plan loop ([`Eval::fast`],
//!   [`Eval::run_plan`], over a [`Plan`] of `super::plan`): one synchronous
//!   loop over the records' directives laid out flat, using the same
//!   helpers as [`Eval::check`] for each directive. It gives up on anything
//!   it cannot finish with answers at hand, and [`Eval::check`] starts over
//!   with its answers ([`Replay`]); a check it finishes builds no future.
//! * The time budget's clock is read only when the check first has to wait
//!   (the first poll returned `Pending`): before that it only computed on
//!   answers at hand.
//!
//! Where the time of a check goes with DNS in memory (see
//! `benches/spf.rs`): every allocation and every moved future shows, so
//! targets are borrowed from the parsed record, the output's texts go into
//! one buffer (one allocation; the match sentence is written only when
//! [`SpfOutput::reason`] is asked for), rare paths (`ptr`, `%{p}`, `exp=`,
//! the time-budget timer, the prefetch table) are boxed out of line to keep
//! the common future small, and with prefetch the per-check table is only
//! created once a lookup is not answered on its first poll (until then a
//! lock-free [`Log`] keeps exactly what the table would hold).

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{SystemTime, UNIX_EPOCH};

use ipnet::Ipv6Net;

use super::cache::{RecordOutcome, SpfRecordCache};
use super::macros::SharedStr;
use super::macros::{MacroContext, MacroString, MacroVars};
use super::plan::{NOT_LAID_OUT, Op, Plan, Via};
use super::prefetch::{Ans, Prefetch, Qt};
use super::record::{DualCidr, Mechanism, Qualifier, Record, is_spf_record};
use super::{Identity, SpfConfig, SpfOutput, SpfResult, split_sender};
use crate::dns::{self, Answer, BoxFuture, DnsError, DnsResult, Mx, Resolver, Txt};
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;

/// Hard cap on include/redirect nesting, whatever the configured term
/// limit (each level is a [`Frame`] on the evaluation stack).
pub(super) const MAX_DEPTH: usize = 32;

/// The internal DNS layer: every query of an evaluation goes through here.
pub(crate) struct Lookups<'r, 'p, R: ?Sized> {
    resolver: &'r R,
    /// With prefetch: the per-evaluation lookup table and walker, created
    /// only once some lookup is not answered on its first poll (until then
    /// [`Lookups::log`] stands in for it); `None`: plain sequential
    /// evaluation.
    pf: Option<&'p OnceLock<Box<Prefetch<'r, R>>>>,
    /// With prefetch, before the table exists: what the table would hold.
    log: Log,
    /// Owed lookups (see [`Log`]) when the table was created, to start.
    owed: Vec<(Qt, String)>,
    config: &'r SpfConfig,
    /// The check's macro variables (`ip`, sender, HELO, time; `domain`
    /// and `ptr` are filled in per expansion): for the evaluator's
    /// expansions, and for creating the table. (Held once: a copy in the
    /// evaluator too cost 144 bytes copied per check.)
    base: MacroVars<'r>,
    top: &'r str,
    /// DNS-querying terms evaluated.
    pub(crate) terms: usize,
    /// Void lookups counted.
    pub(crate) voids: usize,
    /// Queries sent to the resolver (sequential evaluation).
    pub(crate) queries: usize,
    max_terms: usize,
    max_voids: usize,
    /// In the plan loop ([`Eval::fast`]): every answer is kept in
    /// `replay`. (The loop is synchronous: it only makes the `*_now`
    /// lookups, and gives up where one is not answered at once.)
    recording: bool,
    replay: Replay,
    /// While recording: the replay place of the answer [`Lookups::now`]
    /// gave last, for its caller to fill ([`Replay::fill`]).
    placed: Option<usize>,
}

/// The answers a compiled plan's loop got before it gave up, in the order
/// it got them. The ordinary evaluator, starting over on the plan's own
/// records ([`Eval::plan`]) and with the same answers, makes the same
/// lookups in the same order (evaluation is deterministic), so it takes
/// these one by one instead of asking the resolver again, whose `*_now`
/// answers have effects (a query logged, a cache hit counted). The query
/// type is checked as a safeguard: on any mismatch nothing more is handed
/// out and the resolver answers.
///
/// An answer's place is taken when the answer comes (in query order) and
/// filled by the lookup's caller once it is done with the answer, so the
/// answer is moved there, not shared (no reference count per answer). A
/// place left empty ends the replay there (the resolver answers from then
/// on).
#[derive(Default)]
struct Replay {
    answers: Vec<(Qt, Option<Ans>)>,
    /// The next answer to hand out.
    next: usize,
}

thread_local! {
    /// A replay buffer kept between checks on this thread: a compiled
    /// plan's loop that finishes (the usual case) clears it and puts it
    /// back, so it costs no allocation per check.
    static SPARE_REPLAY: std::cell::Cell<Vec<(Qt, Option<Ans>)>> = const { std::cell::Cell::new(Vec::new()) };
}

impl Replay {
    /// The thread's spare buffer (empty).
    fn spare() -> Self {
        Replay {
            answers: SPARE_REPLAY.take(),
            next: 0,
        }
    }

    /// Returns the buffer, emptied, to the thread's spare (kept only up to
    /// a modest size).
    fn recycle(&mut self) {
        let mut v = std::mem::take(&mut self.answers);
        if v.capacity() <= 64 {
            v.clear();
            SPARE_REPLAY.set(v);
        }
    }

    /// Takes the next place, for an answer of type `qt`.
    fn place(&mut self, qt: Qt) -> usize {
        if self.answers.capacity() == 0 {
            self.answers.reserve(16);
        }
        self.answers.push((qt, None));
        self.answers.len() - 1
    }

    /// Puts `a` in place `at` (see [`Lookups::placed`]).
    #[inline(always)]
    fn fill(&mut self, at: Option<usize>, a: Ans) {
        if let Some((_, slot)) = at.and_then(|i| self.answers.get_mut(i)) {
            *slot = Some(a);
        }
    }

    /// The next answer if it is of type `qt`.
    fn take(&mut self, qt: Qt) -> Option<Ans> {
        match self.answers.get(self.next) {
            Some((q, Some(a))) if *q == qt => {
                self.next += 1;
                Some(a.clone())
            }
            _ => {
                self.next = self.answers.len();
                None
            }
        }
    }
}

/// With prefetch, the lookups and records of the evaluation while every
/// answer has come on its first poll: exactly what the per-evaluation table
/// ([`Prefetch`]) would hold by then (each (type, name) sent at most once,
/// records parsed at most once), kept without lock or per-entry
/// allocation. It becomes the table's initial content when the table is
/// created.
#[derive(Default)]
pub(super) struct Log {
    /// The names as given without trailing dot, back to back (compared
    /// ASCII case-insensitively; lower-cased when the table is created,
    /// whose keys are lower case).
    names: String,
    /// `None`: a place the plan loop has taken for an answer it is still
    /// using ([`Log::place`]; filled as soon as it is done with it).
    pub(super) answers: Vec<(Qt, std::ops::Range<usize>, Option<Ans>)>,
    pub(super) records: Vec<(std::ops::Range<usize>, RecordOutcome)>,
    /// Address lookups the table would have started at once (MX
    /// exchanges, PTR names of the current term) and the evaluator has not
    /// made yet: sent when the table is created, or when the term ends. An
    /// entry leaves when its answer comes in ([`Log::push_answer`]), so
    /// every entry here is still unanswered.
    owed: Vec<(Qt, std::ops::Range<usize>)>,
}

thread_local! {
    /// A log's buffers kept between checks on this thread: a check whose
    /// log is not handed to a prefetch table gives them back, emptied, so
    /// the usual check allocates none.
    static SPARE_LOG: std::cell::Cell<Log> = const { std::cell::Cell::new(Log::EMPTY) };
}

impl Log {
    const EMPTY: Log = Log {
        names: String::new(),
        answers: Vec::new(),
        records: Vec::new(),
        owed: Vec::new(),
    };

    /// Gives the buffers, emptied, to the thread's spare (kept only up to
    /// a modest size; a log never used, as in a sequential check, has
    /// none).
    #[inline]
    pub(super) fn recycle(&mut self) {
        let cap = self.names.capacity();
        if cap == 0 || cap > 4096 || self.answers.capacity() > 64 {
            return;
        }
        let mut l = std::mem::take(self);
        l.names.clear();
        l.answers.clear();
        l.records.clear();
        l.owed.clear();
        SPARE_LOG.set(l);
    }

    fn push_name(&mut self, name: &str) -> std::ops::Range<usize> {
        let name = name.strip_suffix('.').unwrap_or(name);
        if self.names.capacity() == 0 {
            let spare = SPARE_LOG.take();
            if spare.names.capacity() > 0 {
                *self = spare;
            } else {
                // One allocation each for a typical check.
                self.names.reserve(512);
                self.answers.reserve(16);
                self.records.reserve(8);
                self.owed.reserve(8);
            }
        }
        let start = self.names.len();
        self.names.push_str(name);
        start..self.names.len()
    }

    /// Logs the answer `a` to (`qt`, `name`); an owed lookup of the same
    /// is no longer owed.
    fn push_answer(&mut self, qt: Qt, name: &str, a: Ans) {
        let at = self.place(qt, name);
        self.fill(Some(at), a);
    }

    /// Takes the place of the answer to (`qt`, `name`), for the caller to
    /// [`Log::fill`] once it is done with it (so the answer is moved there,
    /// not shared: no reference count per answer); an owed lookup of the
    /// same is no longer owed.
    fn place(&mut self, qt: Qt, name: &str) -> usize {
        let key = self.push_name(name);
        if !self.owed.is_empty() {
            let Log { names, owed, .. } = self;
            let this = names.get(key.clone()).unwrap_or_default();
            owed.retain(|(q, k)| {
                !(*q == qt
                    && k.len() == this.len()
                    && names
                        .get(k.clone())
                        .is_some_and(|n| n.eq_ignore_ascii_case(this)))
            });
        }
        self.answers.push((qt, key, None));
        self.answers.len() - 1
    }

    /// Puts `a` in place `at`.
    #[inline(always)]
    fn fill(&mut self, at: Option<usize>, a: Ans) {
        if let Some((_, _, slot)) = at.and_then(|i| self.answers.get_mut(i)) {
            *slot = Some(a);
        }
    }

    /// The name at `r`.
    pub(super) fn name(&self, r: &std::ops::Range<usize>) -> &str {
        self.names.get(r.clone()).unwrap_or_default()
    }

    fn answer(&self, qt: Qt, name: &str) -> Option<&Ans> {
        let name = name.strip_suffix('.').unwrap_or(name);
        self.answers.iter().find_map(|(q, r, a)| {
            (*q == qt && r.len() == name.len() && self.name(r).eq_ignore_ascii_case(name))
                .then_some(a.as_ref())?
        })
    }

    fn record(&self, domain: &str) -> Option<RecordOutcome> {
        let domain = domain.strip_suffix('.').unwrap_or(domain);
        self.records
            .iter()
            .find(|(r, _)| r.len() == domain.len() && self.name(r).eq_ignore_ascii_case(domain))
            .map(|(_, o)| o.clone())
    }
}

/// The target of an `a`/`mx` term in a compiled plan, which has literal
/// targets only (`None` spec: `domain`), as [`Eval::check`]'s `target!`
/// gives it: the name, and whether it is known to be usable.
fn literal_target<'a>(spec: Option<&'a MacroString>, domain: &'a str) -> Option<(&'a str, bool)> {
    match spec {
        None => Some((domain, true)),
        Some(s) => match s.usable_literal() {
            Some(l) => Some((l, true)),
            None => Some((s.literal_domain()?, false)),
        },
    }
}

/// Polls `fut` once.
async fn poll_once<F: Future + ?Sized>(mut fut: Pin<&mut F>) -> Poll<F::Output> {
    std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await
}

impl<'r, 'p, R: Resolver + ?Sized> Lookups<'r, 'p, R> {
    #[inline(always)]
    fn new(
        resolver: &'r R,
        config: &'r SpfConfig,
        base: MacroVars<'r>,
        top: &'r str,
        pf: Option<&'p OnceLock<Box<Prefetch<'r, R>>>>,
    ) -> Self {
        Lookups {
            resolver,
            pf,
            log: Log::default(),
            owed: Vec::new(),
            config,
            base,
            top,
            terms: 0,
            voids: 0,
            queries: 0,
            max_terms: config.max_dns_mechanisms,
            max_voids: config.max_void_lookups,
            recording: false,
            replay: Replay::default(),
            placed: None,
        }
    }

    /// After a compiled plan's loop gave up: back to the start of the
    /// check, with its answers to replay.
    fn rewind(&mut self) {
        self.terms = 0;
        self.voids = 0;
        self.queries = 0;
        self.recording = false;
        self.replay.next = 0;
        // With prefetch the log's answers stay (the ordinary evaluation
        // takes them from there; every place the loop took is filled, and
        // one that were not would be asked again, not counted twice); its
        // lookups owed for the term the loop was in are noted again when
        // that term is made again.
        self.log.answers.retain(|(_, _, a)| a.is_some());
        self.log.owed.clear();
    }

    /// With prefetch: queries sent.
    pub(super) fn pf_queries(&self) -> Option<usize> {
        let cell = self.pf?;
        Some(match cell.get() {
            Some(p) => p.queries(),
            None => self.log.answers.len(),
        })
    }

    /// Creates the table from the log (the first lookup not answered on
    /// its first poll is being made); `evaluator`: that lookup, if the
    /// evaluator waits for it itself.
    fn activate(
        &mut self,
        cell: &'p OnceLock<Box<Prefetch<'r, R>>>,
        evaluator: Option<(Qt, &str)>,
    ) -> &'p Prefetch<'r, R> {
        let mut log = std::mem::take(&mut self.log);
        // The table's keys are lower case.
        log.names.make_ascii_lowercase();
        // Started by the caller (`start_owed`) once the table exists.
        self.owed = log
            .owed
            .iter()
            .map(|(qt, k)| (*qt, log.name(k).to_string()))
            .collect();
        let (resolver, config, base, top) = (self.resolver, self.config, self.base, self.top);
        cell.get_or_init(|| {
            let top = usable_domain(top).ok().map(Cow::into_owned);
            Box::new(Prefetch::new(resolver, config, base, top, log, evaluator))
        })
    }

    /// One lookup answered without waiting, if it can be: the resolver's
    /// synchronous fast path ([`Resolver::txt_now`] and siblings), or the
    /// log's earlier answer (prefetch, before the table exists). `Some`
    /// has the effects of the asynchronous lookup (logged with prefetch);
    /// `None` has none (nothing sent or logged), and the caller then makes
    /// the asynchronous lookup. Once the table exists, always `None`: the
    /// table answers (each (type, name) at most once per evaluation).
    fn now<T: Clone>(
        &mut self,
        qt: Qt,
        name: &str,
        now: impl FnOnce(&'r R) -> Option<DnsResult<T>>,
        wrap: fn(DnsResult<T>) -> Ans,
        unwrap: fn(Ans) -> DnsResult<T>,
    ) -> Option<DnsResult<T>> {
        let Some(cell) = self.pf else {
            if self.replay.next < self.replay.answers.len()
                && !self.recording
                && let Some(a) = self.replay.take(qt)
            {
                return Some(unwrap(a));
            }
            let r = now(self.resolver)?;
            if self.recording {
                // Filled by the caller, which moves the answer there once
                // it is done with it.
                self.placed = Some(self.replay.place(qt));
            }
            return Some(r);
        };
        if cell.get().is_some() {
            return None;
        }
        if let Some(a) = self.log.answer(qt, name) {
            return Some(unwrap(a.clone()));
        }
        let r = now(self.resolver)?;
        if self.recording {
            // The plan loop: filled by the caller, which moves the answer
            // there once it is done with it.
            self.placed = Some(self.log.place(qt, name));
        } else {
            self.log.push_answer(qt, name, wrap(r.clone()));
        }
        Some(r)
    }

    /// Moves the answer `a` into the place [`Lookups::now`] took for it
    /// while recording (`at`: [`Lookups::placed`]): the replay's, or with
    /// prefetch the log's.
    #[inline(always)]
    fn fill(&mut self, at: Option<usize>, a: Ans) {
        if self.pf.is_some() {
            self.log.fill(at, a);
        } else {
            self.replay.fill(at, a);
        }
    }

    /// One lookup: sent at once (sequential), or through the prefetch
    /// table / its log (each (type, name) at most once per evaluation).
    async fn lookup<T: Clone, Fut: Future<Output = DnsResult<T>>>(
        &mut self,
        qt: Qt,
        name: &str,
        send: impl FnOnce() -> Fut,
        wrap: fn(DnsResult<T>) -> Ans,
        unwrap: fn(Ans) -> DnsResult<T>,
    ) -> DnsResult<T> {
        let Some(cell) = self.pf else {
            return send().await;
        };
        if let Some(p) = cell.get() {
            // Out of line: only once DNS is actually waited for.
            let fut: BoxFuture<'_, Ans> = Box::pin(p.get(qt, name));
            return unwrap(fut.await);
        }
        if let Some(a) = self.log.answer(qt, name) {
            return unwrap(a.clone());
        }
        let mut fut = std::pin::pin!(send());
        match poll_once(fut.as_mut()).await {
            Poll::Ready(r) => {
                self.log.push_answer(qt, name, wrap(r.clone()));
                r
            }
            Poll::Pending => {
                let p = self.activate(cell, Some((qt, name)));
                self.start_owed(p).await;
                let r = fut.await;
                p.evaluator_done(qt, name, wrap(r.clone()));
                r
            }
        }
    }

    /// A record already parsed in this evaluation (prefetch only).
    fn known_record(&self, domain: &str) -> Option<RecordOutcome> {
        let cell = self.pf?;
        match cell.get() {
            Some(p) => p.known_record(domain),
            None => self.log.record(domain),
        }
    }

    /// Remembers a parsed record for the rest of the evaluation (prefetch
    /// only).
    fn insert_record(&mut self, domain: &str, o: &RecordOutcome) {
        self.insert_record_if_new(domain, o, false);
    }

    /// [`Lookups::insert_record`]; `absent`: the caller has just seen
    /// [`Lookups::known_record`] give `None` for `domain` with nothing
    /// made in between, so the log need not be searched again.
    fn insert_record_if_new(&mut self, domain: &str, o: &RecordOutcome, absent: bool) {
        let Some(cell) = self.pf else {
            return;
        };
        match cell.get() {
            Some(p) => p.insert_record(domain, o.clone()),
            None => {
                if absent || self.log.record(domain).is_none() {
                    let key = self.log.push_name(domain);
                    self.log.records.push((key, o.clone()));
                }
            }
        }
    }

    /// Counts one DNS-querying term (§4.6.4); over the limit is a permerror.
    fn count_term(&mut self, term: &dyn fmt::Display, domain: &str) -> Step<()> {
        self.terms += 1;
        if self.terms > self.max_terms {
            return Err(Box::new(Verdict::error(
                SpfResult::PermError,
                format!(
                    "too many DNS-querying terms: \"{term}\" in the record of {domain} would be number {} (limit {}, RFC 7208 §4.6.4)",
                    self.terms, self.max_terms
                ),
            )));
        }
        Ok(())
    }

    /// [`Lookups::count_term`] for the plan loop, which gives up (`None`)
    /// where that gives the permerror (the ordinary evaluator words it).
    fn count_term_or_give_up(&mut self) -> Option<()> {
        if self.terms >= self.max_terms {
            return None;
        }
        self.terms += 1;
        Some(())
    }

    /// Counts one void lookup (§4.6.4); over the limit is a permerror.
    fn count_void(&mut self, name: &str, domain: &str) -> Step<()> {
        self.voids += 1;
        if self.voids > self.max_voids {
            return Err(Box::new(Verdict::error(
                SpfResult::PermError,
                format!(
                    "too many void lookups: {name} (from the record of {domain}) is number {} (limit {}, RFC 7208 §4.6.4)",
                    self.voids, self.max_voids
                ),
            )));
        }
        Ok(())
    }

    fn checked(&mut self, name: &str) -> Result<(), DnsError> {
        check_name(name).map_err(DnsError::InvalidName)?;
        self.queries += 1;
        Ok(())
    }

    /// [`Lookups::txt`] if answered without waiting ([`Lookups::now`]);
    /// `None`: nothing happened.
    /// `name` must be a usable domain ([`usable_domain`]: it passed
    /// [`check_name`]); [`Lookups::txt`] takes any name.
    fn txt_now(&mut self, name: &str) -> Option<DnsResult<Txt>> {
        let r = self.now(Qt::Txt, name, |r| r.txt_now(name), Ans::Txt, unwrap_txt)?;
        self.queries += 1;
        Some(r)
    }

    async fn txt(&mut self, name: &str) -> DnsResult<Txt> {
        check_name(name).map_err(DnsError::InvalidName)?;
        if let Some(r) = self.txt_now(name) {
            return r;
        }
        self.txt_wait(name).await
    }

    /// The TXT lookup after [`Lookups::txt_now`] gave `None`; `name` is
    /// checked already, as for `txt_now`.
    async fn txt_wait(&mut self, name: &str) -> DnsResult<Txt> {
        self.queries += 1;
        let r = self.resolver;
        if self.pf.is_none() {
            return r.txt(name).await;
        }
        self.lookup(Qt::Txt, name, || r.txt(name), Ans::Txt, unwrap_txt)
            .await
    }

    /// The MX lookup if answered without waiting ([`Lookups::now`]);
    /// `None`: nothing happened ([`Lookups::mx_wait`] makes it).
    /// `checked`: `name` is known to pass [`check_name`].
    fn mx_now(&mut self, name: &str, checked: bool) -> Option<DnsResult<Mx>> {
        if !checked && let Err(e) = check_name(name) {
            return Some(Err(DnsError::InvalidName(e)));
        }
        let r = self.now(Qt::Mx, name, |r| r.mx_now(name), Ans::Mx, unwrap_mx)?;
        self.queries += 1;
        Some(r)
    }

    /// The MX lookup after [`Lookups::mx_now`] gave `None`.
    async fn mx_wait(&mut self, name: &str) -> DnsResult<Mx> {
        self.checked(name)?;
        let r = self.resolver;
        if self.pf.is_none() {
            return r.mx(name).await;
        }
        self.lookup(Qt::Mx, name, || r.mx(name), Ans::Mx, unwrap_mx)
            .await
    }

    async fn ptr(&mut self, ip: IpAddr) -> DnsResult<String> {
        self.queries += 1;
        let r = self.resolver;
        if self.pf.is_none() {
            if let Some(a) = r.ptr_now(ip) {
                return a;
            }
            return r.ptr(ip).await;
        }
        // The table's key.
        let rev = dns::reverse_name(ip);
        if let Some(a) = self.now(Qt::Ptr, &rev, |r| r.ptr_now(ip), Ans::Ptr, unwrap_ptr) {
            return a;
        }
        self.lookup(Qt::Ptr, &rev, || r.ptr(ip), Ans::Ptr, unwrap_ptr)
            .await
    }

    /// With prefetch: starts the address lookups of `names` at once (MX
    /// exchanges, PTR names; bounded by the MX/PTR name limits).
    ///
    /// Before the table exists they are only noted ([`Log::owed`]): the
    /// evaluator is about to make them one by one, and as long as each is
    /// answered on its first poll nothing differs; the first that is not
    /// creates the table, which starts the rest at once, and
    /// [`Lookups::send_owed`] sends what is left when the term ends. The
    /// same lookups are sent as by starting them all here.
    /// `names` is walked once; only a table (the slow path) collects them.
    async fn prestart_hosts<'n>(&mut self, names: impl Iterator<Item = &'n str>, ip: IpAddr) {
        let Some(cell) = self.pf else {
            return;
        };
        let qt = Qt::addr(ip);
        if let Some(p) = cell.get() {
            let names: Vec<&str> = names.collect();
            p.prestart(qt, &names).await;
            return;
        }
        for n in names {
            if check_name(n).is_ok() && self.log.answer(qt, n).is_none() {
                let key = self.log.push_name(n);
                self.log.owed.push((qt, key));
            }
        }
    }

    /// With prefetch, for the plan loop, before the table exists: an `mx`
    /// term matched at an exchange, and `names` are the exchanges after
    /// it. The ordinary evaluation noted their address lookups as owed
    /// when the term began ([`Lookups::prestart_hosts`]) and sends those
    /// still unmade when it ends ([`Lookups::send_owed`]): each name that
    /// can be queried and has no answer yet, in order. (The loop notes
    /// nothing beforehand: a term that matches at its last exchange, or
    /// not at all, owes nothing, and one that matches earlier owes just
    /// these, since every exchange before the match was looked up.)
    /// `None` (the loop gives up) at the first not answered at once,
    /// which is then not made.
    fn send_rest_now<'n>(
        &mut self,
        names: impl Iterator<Item = &'n str>,
        ip: IpAddr,
    ) -> Option<()> {
        let qt = Qt::addr(ip);
        for name in names {
            if check_name(name).is_err() || self.log.answer(qt, name).is_some() {
                continue;
            }
            let a = self.addr_ans_now(qt, name)?;
            self.log.push_answer(qt, name, a);
        }
        Some(())
    }

    /// The resolver's answer at hand to the address lookup (`qt`: A or
    /// AAAA) of `name`, as an [`Ans`]; `None`: not answered at once.
    fn addr_ans_now(&self, qt: Qt, name: &str) -> Option<Ans> {
        let r = self.resolver;
        match qt {
            Qt::Aaaa => r.aaaa_now(name).map(Ans::Aaaa),
            _ => r.a_now(name).map(Ans::A),
        }
    }

    /// The table was just created: starts the owed lookups.
    async fn start_owed(&mut self, p: &Prefetch<'r, R>) {
        for (qt, name) in std::mem::take(&mut self.owed) {
            p.prestart(qt, &[&name]).await;
        }
    }

    /// At the end of an `mx`/`ptr` term: sends the owed lookups the
    /// evaluator did not make (as if started with the term), in order, each
    /// polled once; the first not answered then creates the table.
    async fn send_owed(&mut self) {
        let Some(cell) = self.pf else {
            return;
        };
        if self.log.owed.is_empty() {
            return;
        }
        // Each still unanswered (see `Log::owed`).
        let owed = std::mem::take(&mut self.log.owed);
        let todo: Vec<(Qt, String)> = owed
            .iter()
            .map(|(qt, k)| (*qt, self.log.name(k).to_string()))
            .collect();
        for (qt, name) in todo {
            if let Some(p) = cell.get() {
                p.prestart(qt, &[&name]).await;
                continue;
            }
            // An exchange listed twice is owed twice, but sent once.
            if self.log.answer(qt, &name).is_some() {
                continue;
            }
            if let Some(a) = self.addr_ans_now(qt, &name) {
                self.log.push_answer(qt, &name, a);
                continue;
            }
            let (r, owned) = (self.resolver, name.clone());
            let mut fut: BoxFuture<'r, Ans> = match qt {
                Qt::Aaaa => Box::pin(async move { Ans::Aaaa(r.aaaa(&owned).await) }),
                _ => Box::pin(async move { Ans::A(r.a(&owned).await) }),
            };
            match poll_once(fut.as_mut()).await {
                Poll::Ready(a) => {
                    self.log.push_answer(qt, &name, a);
                }
                Poll::Pending => {
                    let p = self.activate(cell, None);
                    p.insert_pending(qt, &name, fut);
                }
            }
        }
    }

    /// Whether the answer `ans` (of the address type of `ip`) holds an
    /// address within `cidr` of `ip`.
    fn addr_matches(ans: AddrAnswer<'_>, ip: IpAddr, cidr: DualCidr) -> bool {
        match (ans, ip) {
            (AddrAnswer::V4(ans), IpAddr::V4(ip)) => {
                // `Ipv4Net::new(a, len).trunc().contains(ip)` without
                // building the network (a length over 32 matches nothing).
                if cidr.v4 > 32 {
                    return false;
                }
                let mask = u32::MAX.checked_shl(32 - u32::from(cidr.v4)).unwrap_or(0);
                let want = u32::from(ip) & mask;
                ans.records.iter().any(|a| u32::from(*a) & mask == want)
            }
            (AddrAnswer::V6(ans), IpAddr::V6(ip)) => ans
                .iter()
                .any(|a| Ipv6Net::new(*a, cidr.v6).is_ok_and(|n| n.trunc().contains(&ip))),
            _ => false,
        }
    }

    /// The address lookup of `name` for `ip`'s type (A or AAAA), if
    /// answered without waiting ([`Lookups::now`]); counts the query and
    /// checks the name as [`Lookups::host_matches`] does. `None`: nothing
    /// happened.
    /// `checked`: `name` is known to pass [`check_name`].
    ///
    /// The answer goes to `f` (by reference); while recording it is then
    /// moved into its replay place.
    fn addr_now<T>(
        &mut self,
        name: &str,
        ip: IpAddr,
        checked: bool,
        f: impl FnOnce(AddrAnswer<'_>) -> T,
    ) -> Option<Result<T, DnsError>> {
        if !checked && let Err(e) = check_name(name) {
            return Some(Err(DnsError::InvalidName(e)));
        }
        match ip {
            IpAddr::V4(_) => self.addr_now_of(
                Qt::A,
                name,
                |r| r.a_now(name),
                Ans::A,
                unwrap_a,
                |a| f(AddrAnswer::V4(a)),
            ),
            IpAddr::V6(_) => self.addr_now_of(
                Qt::Aaaa,
                name,
                |r| r.aaaa_now(name),
                Ans::Aaaa,
                unwrap_aaaa,
                |a| f(AddrAnswer::V6(a)),
            ),
        }
    }

    /// [`Lookups::addr_now`] for one address type. The answer stays as
    /// the resolver gave it until it is moved into its place (wrapping it
    /// in an enum of both families first cost a copy, and a stall on
    /// reading it back, per lookup).
    #[inline(always)]
    fn addr_now_of<A: Clone, T>(
        &mut self,
        qt: Qt,
        name: &str,
        now: impl FnOnce(&'r R) -> Option<DnsResult<A>>,
        wrap: fn(DnsResult<A>) -> Ans,
        unwrap: fn(Ans) -> DnsResult<A>,
        f: impl FnOnce(&Answer<A>) -> T,
    ) -> Option<Result<T, DnsError>> {
        let r = self.now(qt, name, now, wrap, unwrap)?;
        self.queries += 1;
        let out = match &r {
            Ok(a) => Ok(f(a)),
            Err(e) => Err(e.clone()),
        };
        if let Some(at) = self.placed.take() {
            self.fill(Some(at), wrap(r));
        }
        Some(out)
    }

    /// [`Lookups::host_matches`] if answered without waiting; `None`:
    /// nothing happened.
    fn host_matches_now(
        &mut self,
        name: &str,
        ip: IpAddr,
        cidr: DualCidr,
        checked: bool,
    ) -> Option<Result<bool, DnsError>> {
        self.addr_now(name, ip, checked, |ans| Self::addr_matches(ans, ip, cidr))
    }

    async fn addr_a(&mut self, name: &str) -> DnsResult<std::net::Ipv4Addr> {
        let r = self.resolver;
        if self.pf.is_none() {
            return r.a(name).await;
        }
        self.lookup(Qt::A, name, || r.a(name), Ans::A, unwrap_a)
            .await
    }

    async fn addr_aaaa(&mut self, name: &str) -> DnsResult<std::net::Ipv6Addr> {
        let r = self.resolver;
        if self.pf.is_none() {
            return r.aaaa(name).await;
        }
        self.lookup(Qt::Aaaa, name, || r.aaaa(name), Ans::Aaaa, unwrap_aaaa)
            .await
    }

    /// Whether `name` has an address within `cidr` of `ip` (A for IPv4, AAAA
    /// for IPv6).
    async fn host_matches(
        &mut self,
        name: &str,
        ip: IpAddr,
        cidr: DualCidr,
    ) -> Result<bool, DnsError> {
        if let Some(r) = self.host_matches_now(name, ip, cidr, false) {
            return r;
        }
        self.host_matches_wait(name, ip, cidr).await
    }

    /// [`Lookups::host_matches`] after [`Lookups::host_matches_now`] gave
    /// `None`.
    async fn host_matches_wait(
        &mut self,
        name: &str,
        ip: IpAddr,
        cidr: DualCidr,
    ) -> Result<bool, DnsError> {
        self.checked(name)?;
        Ok(match ip {
            IpAddr::V4(_) => {
                Self::addr_matches(AddrAnswer::V4(&self.addr_a(name).await?), ip, cidr)
            }
            IpAddr::V6(_) => {
                Self::addr_matches(AddrAnswer::V6(&self.addr_aaaa(name).await?), ip, cidr)
            }
        })
    }

    /// [`Lookups::a_exists`] if answered without waiting; `None`: nothing
    /// happened.
    fn a_exists_now(&mut self, name: &str) -> Option<Result<bool, DnsError>> {
        // The A lookup whatever the client's address family (§5.7).
        let v4 = IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);
        self.addr_now(name, v4, false, |a| match a {
            AddrAnswer::V4(a) => !a.is_empty(),
            AddrAnswer::V6(a) => !a.is_empty(),
        })
    }

    /// Whether `name` has any A record (the `exists` mechanism, §5.7).
    async fn a_exists(&mut self, name: &str) -> Result<bool, DnsError> {
        if let Some(r) = self.a_exists_now(name) {
            return r;
        }
        self.checked(name)?;
        Ok(!self.addr_a(name).await?.is_empty())
    }
}

/// The exchanges of an MX answer by preference, ties in answer order (a
/// stable sort); for the usual few without allocating, and without
/// sorting when they already are in order.
enum MxOrder {
    AsGiven(usize),
    Small([u8; 16], usize),
    Big(Vec<usize>),
}

impl MxOrder {
    fn of(recs: &[Mx]) -> Self {
        if recs.windows(2).all(|w| match w {
            [a, b] => a.preference <= b.preference,
            _ => true,
        }) {
            return MxOrder::AsGiven(recs.len());
        }
        let pref = |i: usize| recs.get(i).map_or(u16::MAX, |m| m.preference);
        if recs.len() <= 16 {
            let mut small = [0u8; 16];
            for (i, slot) in small.iter_mut().enumerate().take(recs.len()) {
                *slot = u8::try_from(i).unwrap_or(u8::MAX);
            }
            if let Some(s) = small.get_mut(..recs.len()) {
                s.sort_by_key(|&i| pref(usize::from(i)));
            }
            MxOrder::Small(small, recs.len())
        } else {
            let mut big: Vec<usize> = (0..recs.len()).collect();
            big.sort_by_key(|&i| pref(i));
            MxOrder::Big(big)
        }
    }

    /// The exchanges of `recs` (the answer this order is of), in order.
    fn iter<'a>(&'a self, recs: &'a [Mx]) -> impl Iterator<Item = &'a Mx> + 'a {
        let n = match self {
            MxOrder::AsGiven(n) | MxOrder::Small(_, n) => *n,
            MxOrder::Big(b) => b.len(),
        };
        (0..n).filter_map(move |k| {
            let i = match self {
                MxOrder::AsGiven(_) => k,
                MxOrder::Small(s, _) => usize::from(*s.get(k)?),
                MxOrder::Big(b) => *b.get(k)?,
            };
            recs.get(i)
        })
    }
}

/// An A or AAAA answer, by reference.
#[derive(Clone, Copy)]
enum AddrAnswer<'a> {
    V4(&'a Answer<std::net::Ipv4Addr>),
    V6(&'a Answer<std::net::Ipv6Addr>),
}

fn mismatch() -> DnsError {
    DnsError::Other("internal: answer of the wrong type".into())
}

fn unwrap_txt(a: Ans) -> DnsResult<Txt> {
    match a {
        Ans::Txt(r) => r,
        _ => Err(mismatch()),
    }
}

fn unwrap_mx(a: Ans) -> DnsResult<Mx> {
    match a {
        Ans::Mx(r) => r,
        _ => Err(mismatch()),
    }
}

fn unwrap_ptr(a: Ans) -> DnsResult<String> {
    match a {
        Ans::Ptr(r) => r,
        _ => Err(mismatch()),
    }
}

fn unwrap_a(a: Ans) -> DnsResult<std::net::Ipv4Addr> {
    match a {
        Ans::A(r) => r,
        _ => Err(mismatch()),
    }
}

fn unwrap_aaaa(a: Ans) -> DnsResult<std::net::Ipv6Addr> {
    match a {
        Ans::Aaaa(r) => r,
        _ => Err(mismatch()),
    }
}

/// Selects the one SPF record among a TXT answer (§4.5) and parses it.
pub(super) fn select_record(ans: &Answer<Txt>) -> RecordOutcome {
    match spf_text(ans) {
        Err(o) => o,
        Ok(text) => match Record::parse(&text) {
            Ok(r) => RecordOutcome::Record(Arc::new(r)),
            Err(e) => RecordOutcome::Invalid(e),
        },
    }
}

/// The text of the one `v=spf1` record among the TXT records of `ans`
/// (§4.5), or what there is instead: no record, or more than one.
fn spf_text(ans: &Answer<Txt>) -> Result<Cow<'_, [u8]>, RecordOutcome> {
    let mut found: Option<Cow<'_, [u8]>> = None;
    let mut count = 0usize;
    for txt in ans.iter() {
        // One character-string (the usual case) needs no joining (§3.3).
        let text: Cow<'_, [u8]> = match txt.strings() {
            [one] => Cow::Borrowed(one),
            _ => Cow::Owned(txt.concat()),
        };
        if is_spf_record(&text) {
            count += 1;
            found = Some(text);
        }
    }
    if count > 1 {
        return Err(RecordOutcome::Multiple(count));
    }
    found.ok_or(RecordOutcome::NoRecord)
}

/// What a record outcome means for the evaluation of `domain`.
fn outcome_step(domain: &str, o: RecordOutcome) -> Step<Option<Arc<Record>>> {
    match o {
        RecordOutcome::Record(r) => Ok(Some(r)),
        RecordOutcome::NoRecord => Ok(None),
        RecordOutcome::Multiple(count) => Err(perm(format!(
            "{domain} publishes {count} SPF records; exactly one is allowed (RFC 7208 §4.5)"
        ))),
        RecordOutcome::Invalid(e) => Err(perm(format!("invalid SPF record at {domain}: {e}"))),
    }
}

/// The outcome of one `check_host()` level.
#[derive(Debug, Clone)]
struct Verdict {
    result: SpfResult,
    /// The deciding directive: as written (a piece of its record's text,
    /// no copy), or a match not yet written ([`Mech::At`]).
    mechanism: Option<Mech>,
    mechanism_domain: Option<MechDomain>,
    chain: Vec<String>,
    /// Set for errors, `none` and the default result; matches get their
    /// sentence when the output is built.
    reason: Option<String>,
    /// `exp=` of the record that decided a `fail`, with that record's domain.
    exp: Option<Box<(MacroString, String)>>,
}

/// The deciding directive of a [`Verdict`].
#[derive(Debug, Clone)]
enum Mech {
    /// A match not yet written into `mechanism`/`mechanism_domain`: the
    /// directive's index in its record. Written
    /// ([`Verdict::materialize`]) only when the verdict is used, so a
    /// matched `-all` inside an include that does not match costs nothing.
    At(usize),
    /// The directive as written.
    Text(SharedStr),
}

/// The domain of the record that holds the deciding mechanism.
#[derive(Debug, Clone)]
enum MechDomain {
    /// The domain checked, as the output holds it (no copy).
    Top,
    Other(String),
}

impl MechDomain {
    /// `domain`, the usable domain of a level, for a check of `top`.
    fn of(domain: &str, top: &str) -> Self {
        if domain == top {
            MechDomain::Top
        } else {
            MechDomain::Other(domain.to_string())
        }
    }

    fn as_str<'a>(&'a self, top: &'a str) -> &'a str {
        match self {
            MechDomain::Top => top,
            MechDomain::Other(d) => d,
        }
    }
}

/// An evaluation step: `Err` ends the evaluation of the current record with
/// that verdict.
type Step<T> = Result<T, Box<Verdict>>;

impl Verdict {
    fn error(result: SpfResult, reason: String) -> Self {
        Verdict {
            result,
            mechanism: None,
            mechanism_domain: None,
            chain: Vec::new(),
            reason: Some(reason),
            exp: None,
        }
    }

    /// Directive `idx` of `record` (of `domain`) matched: its result, the
    /// directive pending ([`Mech::At`]).
    #[inline]
    fn matched(record: &Record, idx: usize, domain: &str) -> Self {
        let result = record
            .directives
            .get(idx)
            .map_or(SpfResult::PermError, |d| qualifier_result(d.qualifier));
        Verdict {
            result,
            mechanism: Some(Mech::At(idx)),
            mechanism_domain: None,
            chain: Vec::new(),
            reason: None,
            exp: fail_exp(result, record, domain),
        }
    }

    /// No directive of the record of `domain` matched and it has no
    /// `redirect`: the default result (§4.7).
    fn neutral(domain: &str, top: &str) -> Self {
        Verdict {
            result: SpfResult::Neutral,
            mechanism: None,
            mechanism_domain: Some(MechDomain::of(domain, top)),
            chain: Vec::new(),
            reason: Some(format!(
                "no mechanism matched in the record of {domain}; the default result is neutral (RFC 7208 §4.7)"
            )),
            exp: None,
        }
    }

    /// Writes a pending match's mechanism text (directive `at` of
    /// `record`) and the domain (`domain`, the domain of that record, in a
    /// check of `top`).
    fn materialize(&mut self, record: &Record, domain: &str, top: &str) {
        if let Some(Mech::At(i)) = self.mechanism {
            self.mechanism = record.directives.get(i).map(|d| Mech::Text(d.text.clone()));
            self.mechanism_domain = Some(MechDomain::of(domain, top));
        }
    }

    fn via(mut self, step: String) -> Self {
        self.chain.insert(0, step);
        self
    }
}

fn temp(reason: String) -> Box<Verdict> {
    Box::new(Verdict::error(SpfResult::TempError, reason))
}

fn perm(reason: String) -> Box<Verdict> {
    Box::new(Verdict::error(SpfResult::PermError, reason))
}

pub(super) fn qualifier_result(q: Qualifier) -> SpfResult {
    match q {
        Qualifier::Pass => SpfResult::Pass,
        Qualifier::Fail => SpfResult::Fail,
        Qualifier::SoftFail => SpfResult::SoftFail,
        Qualifier::Neutral => SpfResult::Neutral,
    }
}

/// §4.3: a `<domain>` that is malformed or not multi-label gives `none`.
/// Returns the name to use (one trailing dot removed, IDNs in A-label form)
/// or why it is unusable.
pub(super) fn usable_domain(domain: &str) -> Result<Cow<'_, str>, String> {
    let d = domain.strip_suffix('.').unwrap_or(domain);
    // The usual case (an ASCII multi-label name) without building any
    // error path.
    if d.is_ascii() && !d.starts_with('[') && d.as_bytes().contains(&b'.') && check_name(d).is_ok()
    {
        return Ok(Cow::Borrowed(d));
    }
    usable_domain_slow(domain)
}

/// [`usable_domain`] for everything but the usual case.
#[cold]
#[inline(never)]
fn usable_domain_slow(domain: &str) -> Result<Cow<'_, str>, String> {
    let d = domain.strip_suffix('.').unwrap_or(domain);
    if d.starts_with('[') {
        return Err(format!(
            "{domain:?} is an address literal, not a domain name"
        ));
    }
    let d: Cow<'_, str> = if d.is_ascii() {
        Cow::Borrowed(d)
    } else {
        Cow::Owned(
            idna::domain_to_ascii(d)
                .map_err(|_| format!("{domain:?} is not a valid internationalized domain name"))?,
        )
    };
    if let Err(e) = check_name(&d) {
        return Err(format!("{domain:?} is not a valid domain name: {e}"));
    }
    if !d.contains('.') {
        return Err(format!(
            "{domain:?} is not a fully qualified (multi-label) domain name"
        ));
    }
    Ok(d)
}

/// [`dns::check_name`] in one pass over the bytes (it runs for every query
/// and every level); on any problem the error comes from `dns::check_name`
/// itself, so both always agree.
pub(super) fn check_name(name: &str) -> Result<(), dns::NameError> {
    use crate::taglist::{LO, below, word, zero_octets};
    const DOTS: u64 = LO * 0x2e;
    const DEL: u64 = LO * 0x7f;
    let b = name.as_bytes();
    let b = match b.split_last() {
        Some((b'.', rest)) => rest,
        _ => b,
    };
    // Up to 63 octets no label can be too long: no control character, no
    // empty label (no leading or trailing dot, no two dots in a row) is
    // all there is to check. From 8 octets on, eight at a time (SWAR,
    // exact per-octet masks; the last word overlaps the one before it, and
    // a dot pair across two words is tested on its own).
    if let (Some(&first), Some(&last)) = (b.first(), b.last())
        && b.len() <= 63
    {
        let n = b.len();
        let mut bad = u64::from(first == b'.' || last == b'.');
        // Control characters, DEL and dot pairs inside one word.
        let scan = |w: u64| {
            let dots = zero_octets(w ^ DOTS);
            below(w, 0x20) | zero_octets(w ^ DEL) | (dots & (dots << 8))
        };
        let at8 = |i: usize| {
            b.get(i..i + 8)
                .and_then(|c| <[u8; 8]>::try_from(c).ok())
                .map_or(0, u64::from_le_bytes)
        };
        if n >= 8 {
            let mut at = 0;
            loop {
                let i = at.min(n - 8);
                bad |= scan(at8(i));
                if i + 8 >= n {
                    break;
                }
                bad |= u64::from(b.get(i + 7..i + 9) == Some(b".."));
                at += 8;
            }
        } else {
            bad |= scan(word(b, b'a'));
        }
        if bad == 0 {
            return Ok(());
        }
        return dns::check_name(name);
    }
    check_name_long(name, b)
}

/// [`check_name`] for names over 63 octets (`b`: `name` without its
/// trailing dot).
fn check_name_long(name: &str, b: &[u8]) -> Result<(), dns::NameError> {
    let mut ok = !b.is_empty() && b.len() <= 253;
    let mut label = 0usize;
    for &c in b {
        if c == b'.' {
            ok &= label != 0;
            label = 0;
        } else {
            ok &= c >= 0x20 && c != 0x7f;
            label += 1;
            ok &= label <= 63;
        }
    }
    if ok && label != 0 {
        Ok(())
    } else {
        dns::check_name(name)
    }
}

/// `name` equals `target` or is a subdomain of it (case-insensitive).
pub(super) fn is_within(name: &str, target: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    let target = target.strip_suffix('.').unwrap_or(target);
    if name.len() == target.len() {
        return name.eq_ignore_ascii_case(target);
    }
    name.len() > target.len()
        && name.as_bytes()[name.len() - target.len() - 1] == b'.'
        && name.as_bytes()[name.len() - target.len()..].eq_ignore_ascii_case(target.as_bytes())
}

/// A level entered (its record, and its usable domain's place in the
/// names buffer), or its verdict when there is nothing to evaluate. The
/// verdict is an ordinary outcome here (`none`, an error), not an
/// exceptional one, so it is not boxed.
type Entered = Result<(Arc<Record>, std::ops::Range<usize>), Verdict>;

/// Where the usable domain of a target is (see [`usable_domain`]): a
/// prefix of the target (its length), or a name of its own (an IDN in
/// A-label form).
enum Dom {
    Prefix(usize),
    Owned(String),
}

impl Dom {
    fn of(d: Cow<'_, str>) -> Self {
        match d {
            // `usable_domain` borrows a prefix of its argument.
            Cow::Borrowed(b) => Dom::Prefix(b.len()),
            Cow::Owned(o) => Dom::Owned(o),
        }
    }
}

/// One include/redirect level of the evaluation stack.
struct Frame {
    record: Arc<Record>,
    /// The expanded target as written into the chain (`names[target]`;
    /// empty for the top level).
    target: std::ops::Range<usize>,
    /// The usable domain whose record this is (`names[domain]`, often a
    /// prefix of `target`).
    domain: std::ops::Range<usize>,
    /// The next directive to evaluate; while a child level runs, the
    /// `include` that entered it.
    idx: usize,
    depth: usize,
    /// `None` for the top level.
    via: Option<Via>,
}

/// Where [`Eval::evaluate`] stopped.
enum Next<'r> {
    /// The record's verdict.
    Done(Verdict),
    /// The `include` at directive `idx` (or the `redirect`, `idx` = number
    /// of directives) needs `target`'s record first.
    Enter {
        via: Via,
        idx: usize,
        target: Cow<'r, str>,
        /// `target` is known to be a usable domain ([`usable_domain`]).
        checked: bool,
    },
}

/// `redirect=<spec>` as written, formatted only if an error message needs
/// it.
struct RedirectText<'a>(&'a MacroString);

impl fmt::Display for RedirectText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "redirect={}", self.0.as_str())
    }
}

/// The `exp=` of `record` (at `domain`) for a verdict with `result`: only a
/// `fail` uses it (§6.2).
fn fail_exp(
    result: SpfResult,
    record: &Record,
    domain: &str,
) -> Option<Box<(MacroString, String)>> {
    if result != SpfResult::Fail {
        return None;
    }
    record
        .exp
        .as_ref()
        .map(|e| Box::new((e.clone(), domain.to_string())))
}

/// Whether a level's verdict `v`, reached via `via` (`None`: the top
/// level), is used with its mechanism: always, except an included record's
/// `fail`/`softfail`/`neutral`, which only means "no match" (§5.2).
fn needs_mechanism(via: Option<Via>, v: &Verdict) -> bool {
    match via {
        Some(Via::Include) => matches!(
            v.result,
            SpfResult::Pass | SpfResult::TempError | SpfResult::PermError
        ),
        None | Some(Via::Redirect) => true,
    }
}

/// What the parent level (`record` of `domain`, stopped at directive `idx`)
/// makes of the verdict `inner` of the level its `include` (§5.2) or
/// `redirect` (§6.1) entered with `target` (a pending match of `inner` is
/// already written, see [`needs_mechanism`]). `None`: the parent continues
/// after directive `idx`; `Some`: the parent's own verdict.
fn after_child(
    record: &Record,
    domain: &str,
    top: &str,
    idx: usize,
    via: Via,
    target: &str,
    inner: Verdict,
) -> Option<Verdict> {
    match via {
        Via::Include => {
            let Some(d) = record.directives.get(idx) else {
                return Some(*perm("internal: include position lost".into()));
            };
            match inner.result {
                SpfResult::Pass => {
                    let result = qualifier_result(d.qualifier);
                    let mut v = inner.via(format!("include:{target}"));
                    v.result = result;
                    v.exp = fail_exp(result, record, domain);
                    v.reason = None;
                    if !matches!(v.mechanism, Some(Mech::Text(_))) {
                        v.mechanism = Some(Mech::Text(d.text.clone()));
                        v.mechanism_domain = Some(MechDomain::of(domain, top));
                    }
                    Some(v)
                }
                // §5.2: "not match".
                SpfResult::Fail | SpfResult::SoftFail | SpfResult::Neutral => None,
                SpfResult::TempError | SpfResult::PermError => {
                    Some(inner.via(format!("include:{target}")))
                }
                SpfResult::None => {
                    let why = inner.reason.unwrap_or_default();
                    Some(*perm(format!(
                        "\"{}\" in the record of {domain}: {why} (an include target without SPF record is a permerror, RFC 7208 §5.2)",
                        d.text
                    )))
                }
            }
        }
        Via::Redirect => {
            if inner.result == SpfResult::None {
                let why = inner.reason.unwrap_or_default();
                let text = record
                    .redirect
                    .as_ref()
                    .map(|s| RedirectText(s).to_string())
                    .unwrap_or_default();
                return Some(*perm(format!(
                    "\"{text}\" in the record of {domain}: {why} (a redirect target without SPF record is a permerror, RFC 7208 §6.1)"
                )));
            }
            Some(inner.via(format!("redirect={target}")))
        }
    }
}

struct Eval<'a, 'p, R: ?Sized> {
    dns: Lookups<'a, 'p, R>,
    config: &'a SpfConfig,
    /// PTR answer for `ip` (first `max_ptr_names` names), queried once.
    ptr_names: Option<Result<Arc<[String]>, DnsError>>,
    /// Validation results of PTR names (forward lookup contains `ip`);
    /// made on the first (`HashMap::new` seeds its hasher from a
    /// thread-local, a cost every check would pay).
    validated: Option<HashMap<String, bool>>,
    /// The record cache's clock, read once per check.
    cache_now: Option<std::time::Instant>,
    /// The compiled plan whose loop gave up ([`Eval::fast`]): the ordinary
    /// evaluation that follows takes its records from it, so it sees the
    /// very records the loop saw (and the same lookups follow, see
    /// [`Replay`]).
    plan: Option<Arc<Plan>>,
}

/// [`Eval::expand_domain`], with a literal target (the usual case)
/// borrowed on the spot, without building that future.
macro_rules! expand {
    ($ev:expr, $ms:expr, $domain:expr) => {
        match $ms.literal_domain() {
            Some(l) => Cow::Borrowed(l),
            None => $ev.expand_domain($ms, $domain).await,
        }
    };
}

/// The target of a mechanism or modifier (`None`: `<domain>`, the usable
/// domain of the record being evaluated), expanded, and whether it is
/// already known to be a usable domain name ([`usable_domain`]: `<domain>`
/// is, and so is a literal checked when its record was parsed,
/// [`MacroString::usable_literal`]), so that it is not checked again.
macro_rules! target {
    ($ev:expr, None or $spec:expr, $domain:expr) => {
        match $spec {
            None => (Cow::Borrowed($domain), true),
            Some(s) => target!($ev, s, $domain),
        }
    };
    ($ev:expr, $ms:expr, $domain:expr) => {
        match $ms.usable_literal() {
            Some(l) => (Cow::Borrowed(l), true),
            None => (expand!($ev, $ms, $domain), false),
        }
    };
}

/// Enters a record level ([`Eval::enter_now`]), waiting for its TXT
/// lookup out of line (boxed) only when that is not answered at once.
macro_rules! enter {
    ($ev:expr, $names:expr, $target:expr, $checked:expr) => {{
        let target = $target;
        match $ev.enter_now($names, target.clone(), $checked) {
            Some(r) => r,
            None => {
                let fut: BoxFuture<'_, Entered> = Box::pin($ev.enter_wait($names, target));
                fut.await
            }
        }
    }};
}

/// `?` for a labeled block: `Err` breaks out of it.
macro_rules! tri {
    ($e:expr, $l:lifetime) => {
        match $e {
            Ok(v) => v,
            Err(e) => break $l Err(e),
        }
    };
}

impl<'a, 'p, R: Resolver + ?Sized> Eval<'a, 'p, R> {
    /// The evaluator of a check of `top` with macro variables `base`
    /// (`pf`: the prefetch table's cell, with prefetch).
    // Inlined: built in place in the caller's frame (the evaluator is
    // about 500 bytes; returned by value it was copied on every check).
    #[inline(always)]
    fn new(
        resolver: &'a R,
        config: &'a SpfConfig,
        base: MacroVars<'a>,
        top: &'a str,
        pf: Option<&'p OnceLock<Box<Prefetch<'a, R>>>>,
    ) -> Self {
        Eval {
            dns: Lookups::new(resolver, config, base, top, pf),
            config,
            ptr_names: None,
            validated: None,
            cache_now: None,
            plan: None,
        }
    }

    fn vars<'v>(&'v self, domain: &'v str, ptr: Option<&'v str>) -> MacroVars<'v> {
        MacroVars {
            domain,
            ptr,
            ..self.dns.base
        }
    }

    /// Expands a domain-spec (resolving `%{p}` first when used).
    ///
    /// Only the `%{p}` case awaits, in a boxed future: it is rare, and
    /// keeping its state out of [`Eval::evaluate`]'s future keeps every
    /// boxed `check` level small (less to allocate and move per record).
    /// A literal target (the common case) is borrowed, not copied.
    async fn expand_domain<'m>(&mut self, ms: &'m MacroString, domain: &str) -> Cow<'m, str> {
        if let Some(l) = ms.literal_domain() {
            return Cow::Borrowed(l);
        }
        if !ms.uses_ptr() {
            return Cow::Owned(ms.expand_domain(&self.vars(domain, None)));
        }
        let ptr: BoxFuture<'_, Option<String>> = Box::pin(self.ptr_macro(domain));
        let ptr = ptr.await;
        Cow::Owned(ms.expand_domain(&self.vars(domain, ptr.as_deref())))
    }

    /// Expands explanation text (§6.2); only here can `%{t}` appear (§7.1),
    /// so the clock is read here, not per check.
    async fn expand_text(&mut self, ms: &MacroString, domain: &str) -> String {
        let ptr = if ms.uses_ptr() {
            self.ptr_macro(domain).await
        } else {
            None
        };
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        ms.expand(&MacroVars {
            timestamp,
            ..self.vars(domain, ptr.as_deref())
        })
    }

    /// The PTR names of the client (first `max_ptr_names`), memoized.
    async fn ptr_names(&mut self) -> Result<Arc<[String]>, DnsError> {
        if let Some(r) = &self.ptr_names {
            return r.clone();
        }
        let r = self.dns.ptr(self.dns.base.ip).await.map(|ans| {
            ans.iter()
                .take(self.config.max_ptr_names)
                .map(|n| n.strip_suffix('.').unwrap_or(n).to_string())
                .collect::<Arc<[String]>>()
        });
        self.ptr_names = Some(r.clone());
        r
    }

    /// Whether `name`'s addresses include the client IP (§5.5); DNS errors
    /// mean "not validated". Memoized.
    async fn validate(&mut self, name: &str) -> bool {
        let key = name.to_ascii_lowercase();
        if let Some(v) = self.validated.as_ref().and_then(|m| m.get(&key)) {
            return *v;
        }
        let ok = matches!(
            self.dns
                .host_matches(name, self.dns.base.ip, DualCidr::default())
                .await,
            Ok(true)
        );
        self.validated.get_or_insert_default().insert(key, ok);
        ok
    }

    /// `%{p}` (§7.3): a validated name of the client, preferring `domain`
    /// itself, then its subdomains, then any other; `None` = "unknown".
    async fn ptr_macro(&mut self, domain: &str) -> Option<String> {
        let names = self.ptr_names().await.ok()?;
        let mut ordered: Vec<&String> = names.iter().collect();
        ordered.sort_by_key(|n| {
            if n.eq_ignore_ascii_case(domain) {
                0
            } else if is_within(n, domain) {
                1
            } else {
                2
            }
        });
        for n in ordered {
            if self.validate(n).await {
                return Some(n.clone());
            }
        }
        None
    }

    /// Looks up and selects the SPF record of `domain` (§4.4, §4.5) and
    /// parses it. `Ok(None)`: no SPF record.
    ///
    /// Order: a record already parsed in this evaluation (prefetch), the
    /// shared parsed-record cache, then a TXT lookup (whose outcome is
    /// stored in both). `None`: that TXT lookup is not answered at once;
    /// [`Eval::fetch_record_wait`] makes it (and only it).
    fn fetch_record_now(&mut self, domain: &str) -> Option<Step<Option<Arc<Record>>>> {
        if let Some(o) = self.dns.known_record(domain) {
            return Some(outcome_step(domain, o));
        }
        let cache = self.config.record_cache.as_deref();
        if let Some(r) = self.plan.as_ref().and_then(|p| p.record(domain)) {
            if let Some(c) = cache {
                c.note_plan_records(1);
            }
            let r = r.clone();
            // With prefetch, known to the table as a record from the cache
            // would be (its walker reads them there).
            if self.dns.pf.is_some() {
                self.dns
                    .insert_record_if_new(domain, &RecordOutcome::Record(r.clone()), true);
            }
            return Some(Ok(Some(r)));
        }
        let now = match (cache, self.cache_now) {
            (Some(c), None) => {
                let n = c.now();
                self.cache_now = Some(n);
                Some(n)
            }
            (_, n) => n,
        };
        if let Some(o) = cache.zip(now).and_then(|(c, now)| c.get_at(domain, now)) {
            // Nothing was looked up since `known_record` above.
            self.dns.insert_record_if_new(domain, &o, true);
            return Some(outcome_step(domain, o));
        }
        let ans = self.dns.txt_now(domain)?;
        Some(self.record_from_txt(domain, ans))
    }

    /// The rest of [`Eval::fetch_record_now`] when it gave `None` (record
    /// not known, not in the record cache, TXT lookup not answered at
    /// once): the TXT lookup, waited for.
    async fn fetch_record_wait(&mut self, domain: &str) -> Step<Option<Arc<Record>>> {
        let ans = self.dns.txt_wait(domain).await;
        self.record_from_txt(domain, ans)
    }

    /// The record of `domain` from its TXT answer `ans`.
    fn record_from_txt(&mut self, domain: &str, ans: DnsResult<Txt>) -> Step<Option<Arc<Record>>> {
        let ans = match ans {
            Ok(a) => a,
            Err(e) if e.is_void() => return Ok(None),
            Err(DnsError::InvalidName(_)) => return Ok(None),
            Err(e) => {
                return Err(temp(format!(
                    "DNS error looking up the SPF record of {domain}: {e}"
                )));
            }
        };
        // The walker may have parsed the same answer meanwhile.
        if let Some(o) = self.dns.known_record(domain) {
            return outcome_step(domain, o);
        }
        let o = select_record(&ans);
        if let Some(c) = self.config.record_cache.as_deref() {
            c.insert(domain, o.clone(), ans.ttl);
        }
        self.dns.insert_record(domain, &o);
        outcome_step(domain, o)
    }

    /// Enters a record level: the usable name (§4.3) of the target at
    /// `names[target]` and its record (§4.4, §4.5), with that name's place
    /// in `names` (usually a prefix of the target; appended otherwise); or
    /// the verdict of that level when there is nothing to evaluate (`none`,
    /// or an error fetching the record). Without waiting when it can be;
    /// `None`: the TXT lookup has to be waited for ([`Eval::enter_wait`]),
    /// nothing else is to be repeated. (The `enter!` macro does both.)
    ///
    /// `checked`: `names[target]` is known to be a usable domain as it is.
    fn enter_now(
        &mut self,
        names: &mut String,
        target: std::ops::Range<usize>,
        checked: bool,
    ) -> Option<Entered> {
        let name = names.get(target.clone()).unwrap_or_default();
        let domain = if checked {
            Cow::Borrowed(name)
        } else {
            match usable_domain(name) {
                Ok(d) => d,
                Err(why) => return Some(Err(Verdict::error(SpfResult::None, why))),
            }
        };
        let step = self.fetch_record_now(&domain)?;
        let dom = Dom::of(domain);
        Some(Self::entered(names, target, dom, step))
    }

    /// The rest of entering a level after [`Eval::enter_now`] gave `None`.
    async fn enter_wait(&mut self, names: &mut String, target: std::ops::Range<usize>) -> Entered {
        let dom = match usable_domain(names.get(target.clone()).unwrap_or_default()) {
            Ok(d) => Dom::of(d),
            Err(why) => return Err(Verdict::error(SpfResult::None, why)),
        };
        let step = match &dom {
            Dom::Prefix(n) => {
                let name = names
                    .get(target.start..target.start + n)
                    .unwrap_or_default();
                self.fetch_record_wait(name).await
            }
            Dom::Owned(o) => self.fetch_record_wait(o).await,
        };
        Self::entered(names, target, dom, step)
    }

    /// The end of entering a level: its record, or its verdict.
    #[allow(clippy::result_large_err)] // See `Entered`.
    fn entered(
        names: &mut String,
        target: std::ops::Range<usize>,
        dom: Dom,
        step: Step<Option<Arc<Record>>>,
    ) -> Entered {
        let record = match step {
            Ok(Some(r)) => r,
            Ok(None) => {
                let domain = match &dom {
                    Dom::Prefix(n) => names
                        .get(target.start..target.start + n)
                        .unwrap_or_default(),
                    Dom::Owned(o) => o.as_str(),
                };
                return Err(Verdict::error(
                    SpfResult::None,
                    format!("no SPF record at {domain}"),
                ));
            }
            Err(v) => return Err(*v),
        };
        let range = match dom {
            Dom::Prefix(n) => target.start..target.start + n,
            Dom::Owned(d) => {
                let start = names.len();
                names.push_str(&d);
                start..names.len()
            }
        };
        Ok((record, range))
    }

    /// `check_host()` of `top` (§4), include and redirect included.
    ///
    /// Not recursive: the include/redirect levels are an explicit stack of
    /// [`Frame`]s in one future (no boxed future per level), and the
    /// names of the levels (expanded target and usable domain) live in one
    /// buffer that grows and shrinks with the stack, so entering a level
    /// allocates nothing once the buffer has grown.
    async fn check(&mut self, top: &str) -> Verdict {
        let mut names = String::with_capacity(256);
        names.push_str(top);
        let mut stack: Vec<Frame> = Vec::new();
        match enter!(self, &mut names, 0..top.len(), false) {
            Err(v) => return v,
            Ok((record, domain)) => {
                stack.reserve(8);
                stack.push(Frame {
                    record,
                    target: 0..top.len(),
                    domain,
                    idx: 0,
                    depth: 0,
                    via: None,
                });
            }
        }
        loop {
            let Some(f) = stack.last() else {
                return Verdict::error(SpfResult::PermError, "internal: empty stack".into());
            };
            let (depth, dom) = (f.depth, f.domain.clone());
            // Evaluate `record` (of `domain`, at nesting `depth`) from directive
            // `start` on, left to right (§4.6.2), until it is decided or an
            // `include`/`redirect` needs the target's record first.
            // (Inline, not a separate async fn: no future to build and move
            // per resumed level.)
            let (record, domain, start) =
                (&f.record, names.get(dom.clone()).unwrap_or_default(), f.idx);
            let step: Step<Next<'_>> = 'eval: {
                for (idx, d) in record.directives.iter().enumerate().skip(start) {
                    let matched = match &d.mechanism {
                        Mechanism::All => true,
                        Mechanism::Ip4 { net } => match self.dns.base.ip {
                            IpAddr::V4(ip) => net.contains(&ip),
                            IpAddr::V6(_) => false,
                        },
                        Mechanism::Ip6 { net } => match self.dns.base.ip {
                            IpAddr::V6(ip) => net.contains(&ip),
                            IpAddr::V4(_) => false,
                        },
                        Mechanism::A { domain: spec, cidr } => {
                            tri!(self.dns.count_term(&d.text, domain), 'eval);
                            let (target, checked) = target!(self, None or spec, domain);
                            match self.dns.host_matches_now(
                                &target,
                                self.dns.base.ip,
                                *cidr,
                                checked,
                            ) {
                                Some(r) => tri!(self.a_outcome(r, &target, domain), 'eval),
                                None => {
                                    // Out of line: only when DNS is waited for.
                                    let fut: BoxFuture<'_, Step<bool>> =
                                        Box::pin(self.match_a(&target, *cidr, domain));
                                    tri!(fut.await, 'eval)
                                }
                            }
                        }
                        Mechanism::Mx { domain: spec, cidr } => {
                            tri!(self.dns.count_term(&d.text, domain), 'eval);
                            let (target, checked) = target!(self, None or spec, domain);
                            tri!(
                                self.match_mx(&target, checked, *cidr, domain).await,
                                'eval
                            )
                        }
                        Mechanism::Ptr { domain: spec } => {
                            tri!(self.dns.count_term(&d.text, domain), 'eval);
                            let target = match spec {
                                Some(s) => expand!(self, s, domain),
                                None => Cow::Borrowed(domain),
                            };
                            // Rare (§5.5: "SHOULD NOT be used"): kept out of line.
                            let fut: BoxFuture<'_, Step<bool>> =
                                Box::pin(self.match_ptr(&target, domain));
                            tri!(fut.await, 'eval)
                        }
                        Mechanism::Exists { domain: spec } => {
                            tri!(self.dns.count_term(&d.text, domain), 'eval);
                            let target = expand!(self, spec, domain);
                            let r = match self.dns.a_exists_now(&target) {
                                Some(r) => r,
                                None => {
                                    // Out of line: only when DNS is waited for.
                                    let fut: BoxFuture<'_, Result<bool, DnsError>> =
                                        Box::pin(self.dns.a_exists(&target));
                                    fut.await
                                }
                            };
                            tri!(self.exists_outcome(r, &target, &d.text, domain), 'eval)
                        }
                        Mechanism::Include { domain: spec } => {
                            tri!(self.dns.count_term(&d.text, domain), 'eval);
                            let (target, checked) = target!(self, spec, domain);
                            if depth >= MAX_DEPTH {
                                break 'eval Err(perm(format!(
                                    "include nesting deeper than {MAX_DEPTH}"
                                )));
                            }
                            break 'eval Ok(Next::Enter {
                                via: Via::Include,
                                idx,
                                target,
                                checked,
                            });
                        }
                    };
                    if matched {
                        break 'eval Ok(Next::Done(Verdict::matched(record, idx, domain)));
                    }
                }
                if let Some(spec) = &record.redirect {
                    tri!(self.dns.count_term(&RedirectText(spec), domain), 'eval);
                    let (target, checked) = target!(self, spec, domain);
                    if depth >= MAX_DEPTH {
                        break 'eval Err(perm(format!("redirect nesting deeper than {MAX_DEPTH}")));
                    }
                    break 'eval Ok(Next::Enter {
                        via: Via::Redirect,
                        idx: record.directives.len(),
                        target,
                        checked,
                    });
                }
                Ok(Next::Done(Verdict::neutral(domain, top)))
            };
            let mut finished = match step {
                Ok(Next::Done(v)) => v,
                Err(v) => *v,
                Ok(Next::Enter {
                    via,
                    idx,
                    target,
                    checked,
                }) => {
                    let t0 = names.len();
                    names.push_str(&target);
                    let t = t0..names.len();
                    if let Some(f) = stack.last_mut() {
                        f.idx = idx;
                    }
                    match enter!(self, &mut names, t.clone(), checked) {
                        Ok((record, domain)) => {
                            stack.push(Frame {
                                record,
                                target: t,
                                domain,
                                idx: 0,
                                depth: depth + 1,
                                via: Some(via),
                            });
                            continue;
                        }
                        // No level to evaluate (nor a pending match).
                        Err(inner) => {
                            let Some(parent) = stack.last() else {
                                return inner;
                            };
                            let r = after_child(
                                &parent.record,
                                names.get(dom).unwrap_or_default(),
                                top,
                                idx,
                                via,
                                names.get(t).unwrap_or_default(),
                                inner,
                            );
                            names.truncate(t0);
                            match r {
                                None => {
                                    if let Some(f) = stack.last_mut() {
                                        f.idx = idx + 1;
                                    }
                                    continue;
                                }
                                Some(v) => v,
                            }
                        }
                    }
                }
            };
            // The level on top of the stack is finished: hand its verdict
            // to its parent, which may finish in turn.
            loop {
                let Some(f) = stack.pop() else {
                    return finished;
                };
                if needs_mechanism(f.via, &finished) {
                    finished.materialize(
                        &f.record,
                        names.get(f.domain.clone()).unwrap_or_default(),
                        top,
                    );
                }
                let (Some(via), Some(parent)) = (f.via, stack.last()) else {
                    return finished;
                };
                let r = after_child(
                    &parent.record,
                    names.get(parent.domain.clone()).unwrap_or_default(),
                    top,
                    parent.idx,
                    via,
                    names.get(f.target.clone()).unwrap_or_default(),
                    finished,
                );
                names.truncate(f.target.start);
                match r {
                    None => {
                        if let Some(p) = stack.last_mut() {
                            p.idx += 1;
                        }
                        break;
                    }
                    Some(v) => finished = v,
                }
            }
        }
    }

    /// What the `exists` term `text` (of the record of `domain`) makes of
    /// its A lookup of `target` (§5.7).
    fn exists_outcome(
        &mut self,
        r: Result<bool, DnsError>,
        target: &str,
        text: &str,
        domain: &str,
    ) -> Step<bool> {
        let r = self.term_answer(r, target, domain, |e| {
            format!("DNS error looking up A {target} for \"{text}\" in the record of {domain}: {e}")
        })?;
        Ok(r.unwrap_or(false))
    }

    /// What a term of the record of `domain` makes of its lookup `r` of
    /// `target`: the answer, or `None` for "no match" (a void answer,
    /// counted against §4.6.4's limit, or a name that cannot be queried),
    /// or a `temperror` worded by `error`.
    fn term_answer<T>(
        &mut self,
        r: Result<T, DnsError>,
        target: &str,
        domain: &str,
        error: impl FnOnce(&DnsError) -> String,
    ) -> Step<Option<T>> {
        match r {
            Ok(a) => Ok(Some(a)),
            Err(e) if e.is_void() => {
                self.dns.count_void(target, domain)?;
                Ok(None)
            }
            Err(DnsError::InvalidName(_)) => Ok(None),
            Err(e) => Err(temp(error(&e))),
        }
    }

    /// `check_host()` of `top` by the plan loop ([`Eval::run_plan`]),
    /// sequentially or with prefetch (whose log then keeps the loop's
    /// answers, [`Eval::start_recording`]): from the domain's compiled
    /// plan when there is a record cache
    /// ([`SpfRecordCache::with_compiled_plans`](super::SpfRecordCache::with_compiled_plans)),
    /// or, without a record cache, from a plan laid out level by level as
    /// the check reaches each `include`/`redirect` (each record looked up
    /// and parsed exactly where [`Eval::check`] would). `None`: evaluate
    /// the ordinary way ([`Eval::check`]), which then takes the answers
    /// this got ([`Replay`], or with prefetch the [`Log`]) and, for a
    /// compiled plan, its records
    /// ([`Eval::plan`]), and so gives the result from the same answers,
    /// errors and limits included.
    fn fast(&mut self, top: &str) -> Option<Verdict> {
        let dom = usable_domain(top).ok()?;
        let Some(cache) = self.config.record_cache.as_deref() else {
            self.start_recording();
            let v = self.run_transient(&dom, top);
            return self.fast_end(v, None);
        };
        let now = cache.now();
        self.cache_now = Some(now);
        let plan = cache.plan(&dom, now)?;
        self.start_recording();
        let mut records = 1;
        let v = match self.run_plan(&plan, &dom, top, 0, &mut records) {
            Run::Done(v) => Some(v),
            _ => None,
        };
        if v.is_some() {
            cache.note_plan_use(records);
        }
        self.fast_end(v, Some(plan))
    }

    /// The end of [`Eval::fast`]: the verdict, or back to the start with
    /// the answers (and the compiled `plan`) to hand over.
    fn fast_end(&mut self, v: Option<Verdict>, plan: Option<Arc<Plan>>) -> Option<Verdict> {
        if let Some(v) = v {
            self.dns.recording = false;
            self.dns.replay.recycle();
            return Some(v);
        }
        self.dns.rewind();
        self.plan = plan;
        None
    }

    /// The loop's answers are kept for a hand-over: sequentially in the
    /// [`Replay`]; with prefetch in the log, as the ordinary evaluation
    /// keeps them before its table exists ([`Log`]), which it then starts
    /// with.
    fn start_recording(&mut self) {
        self.dns.recording = true;
        if self.dns.pf.is_none() {
            self.dns.replay = Replay::spare();
        }
    }

    /// [`Eval::fast`] without a record cache: the plan is laid out as the
    /// loop reaches each level.
    fn run_transient(&mut self, dom: &str, top: &str) -> Option<Verdict> {
        let (ans, placed) = self.txt_now(dom)?;
        let mut plan = None;
        self.parse_answer(ans, placed, |text| {
            plan = Plan::start_transient_with(|r| r.parse_into(text).is_ok());
            plan.is_some()
        });
        let mut plan = plan?;
        let v = self.run_transient_in(&mut plan, dom, top);
        plan.recycle();
        v
    }

    /// [`Eval::run_transient`] on `plan`, its top level laid out.
    fn run_transient_in(&mut self, plan: &mut Plan, dom: &str, top: &str) -> Option<Verdict> {
        let mut records = 1;
        let mut i = 0;
        loop {
            match self.run_plan(plan, dom, top, i, &mut records) {
                Run::Done(v) => return Some(v),
                Run::Bail => return None,
                Run::Grow(at) => {
                    // The term is counted; as in `check`, the nesting cap
                    // comes next (`wanted`), then the record.
                    let target = plan.wanted(at)?;
                    let (ans, placed) = self.txt_now(target)?;
                    if !self.parse_answer(ans, placed, |text| {
                        plan.grow_with(at, |r| r.parse_into(text).is_ok())
                    }) {
                        return None;
                    }
                    i = plan.levels.last()?.start;
                }
            }
        }
    }

    /// The TXT answer of `domain` (a usable domain), if at hand, with its
    /// replay place, which the caller fills when done with it (moved, not
    /// shared). The loop parses the record as [`Eval::fetch_record_now`]
    /// does without a record cache, straight into its place in the plan
    /// ([`Plan::grow_with`]); a record that does not parse, or anything
    /// but one record, makes the loop give up (the ordinary evaluator
    /// words it).
    #[inline]
    fn txt_now(&mut self, domain: &str) -> Option<(DnsResult<Txt>, Option<usize>)> {
        let ans = self.dns.txt_now(domain)?;
        Some((ans, self.dns.placed.take()))
    }

    /// Gives the text of the one SPF record of the TXT answer `ans` (from
    /// [`Eval::txt_now`]) to `parse`, which parses it into its place and
    /// says whether it did; then moves the answer into its place. `false`
    /// for an error, no record or several.
    #[inline]
    fn parse_answer(
        &mut self,
        ans: DnsResult<Txt>,
        placed: Option<usize>,
        parse: impl FnOnce(&[u8]) -> bool,
    ) -> bool {
        let parsed = match &ans {
            Ok(a) => spf_text(a).ok().is_some_and(|text| parse(&text)),
            Err(_) => false,
        };
        self.dns.fill(placed, Ans::Txt(ans));
        parsed
    }

    /// The loop of [`Eval::fast`] over `plan` from step `start`, whose top
    /// level's domain is `dom` (of the check of `top`); counts the records
    /// it enters in `records`. Each step does what [`Eval::check`] does for
    /// the same directive, with the same helpers; what [`Eval::check`]
    /// would turn into an error verdict, or would wait for, gives
    /// [`Run::Bail`].
    fn run_plan(
        &mut self,
        plan: &Plan,
        dom: &str,
        top: &str,
        start: usize,
        records: &mut u64,
    ) -> Run {
        self.run_plan_steps(plan, dom, top, start, records)
            .unwrap_or(Run::Bail)
    }

    fn run_plan_steps(
        &mut self,
        plan: &Plan,
        dom: &str,
        top: &str,
        start: usize,
        records: &mut u64,
    ) -> Option<Run> {
        let ip = self.dns.base.ip;
        let mut i = start;
        loop {
            let (mut level, mut v) = match *plan.ops.get(i)? {
                Op::Enter { child, .. } => {
                    self.dns.count_term_or_give_up()?;
                    *records += 1;
                    if child == NOT_LAID_OUT {
                        return Some(Run::Grow(i));
                    }
                    i = plan.levels.get(child)?.start;
                    continue;
                }
                Op::End { level } => {
                    let l = plan.levels.get(level)?;
                    if l.via == Some(Via::Include) {
                        // Neutral: "not match" for the parent (§5.2), as
                        // `after_child` would find.
                        i = l.end;
                        continue;
                    }
                    (level, Verdict::neutral(plan.domain(level, dom), top))
                }
                Op::Directive { level, idx } => {
                    let l = plan.levels.get(level)?;
                    let record = &l.record;
                    let d = record.directives.get(idx)?;
                    let matched = match &d.mechanism {
                        Mechanism::All => true,
                        Mechanism::Ip4 { net } => match ip {
                            IpAddr::V4(ip) => net.contains(&ip),
                            IpAddr::V6(_) => false,
                        },
                        Mechanism::Ip6 { net } => match ip {
                            IpAddr::V6(ip) => net.contains(&ip),
                            IpAddr::V4(_) => false,
                        },
                        Mechanism::A { domain: spec, cidr } => {
                            self.dns.count_term_or_give_up()?;
                            let domain = plan.domain(level, dom);
                            let (target, checked) = literal_target(spec.as_ref(), domain)?;
                            let r = self.dns.host_matches_now(target, ip, *cidr, checked)?;
                            self.a_outcome(r, target, domain).ok()?
                        }
                        Mechanism::Mx { domain: spec, cidr } => {
                            self.dns.count_term_or_give_up()?;
                            let domain = plan.domain(level, dom);
                            let (target, checked) = literal_target(spec.as_ref(), domain)?;
                            self.match_mx_now(target, checked, *cidr, domain)?.ok()?
                        }
                        Mechanism::Exists { domain: spec } => {
                            self.dns.count_term_or_give_up()?;
                            let domain = plan.domain(level, dom);
                            let target = spec.literal_domain()?;
                            let r = self.dns.a_exists_now(target)?;
                            self.exists_outcome(r, target, &d.text, domain).ok()?
                        }
                        Mechanism::Include { .. } | Mechanism::Ptr { .. } => return None,
                    };
                    if !matched {
                        i += 1;
                        continue;
                    }
                    if l.via == Some(Via::Include)
                        && matches!(
                            qualifier_result(d.qualifier),
                            SpfResult::Fail | SpfResult::SoftFail | SpfResult::Neutral
                        )
                    {
                        // "Not match" for the parent (§5.2), as
                        // `after_child` would find.
                        i = l.end;
                        continue;
                    }
                    (
                        level,
                        Verdict::matched(record, idx, plan.domain(level, dom)),
                    )
                }
            };
            // `level` is decided: hand its verdict up, as `check` does
            // when it pops a level, until a parent goes on or the top is
            // decided.
            loop {
                let l = plan.levels.get(level)?;
                if needs_mechanism(l.via, &v) {
                    v.materialize(&l.record, plan.domain(level, dom), top);
                }
                let Some(via) = l.via else {
                    return Some(Run::Done(v));
                };
                let parent = plan.levels.get(l.parent)?;
                let r = after_child(
                    &parent.record,
                    plan.domain(l.parent, dom),
                    top,
                    l.at,
                    via,
                    plan.domain(level, dom),
                    v,
                );
                match r {
                    None => {
                        i = l.end;
                        break;
                    }
                    Some(w) => {
                        v = w;
                        level = l.parent;
                    }
                }
            }
        }
    }

    /// The `a` mechanism (§5.3).
    async fn match_a(&mut self, target: &str, cidr: DualCidr, domain: &str) -> Step<bool> {
        let r = self.dns.host_matches(target, self.dns.base.ip, cidr).await;
        self.a_outcome(r, target, domain)
    }

    /// What the `a` mechanism makes of its address lookup `r`.
    fn a_outcome(&mut self, r: Result<bool, DnsError>, target: &str, domain: &str) -> Step<bool> {
        let ty = self.addr_type();
        let r = self.term_answer(r, target, domain, |e| {
            format!("DNS error looking up {ty} {target} (record of {domain}): {e}")
        })?;
        Ok(r.unwrap_or(false))
    }

    fn addr_type(&self) -> &'static str {
        match self.dns.base.ip {
            IpAddr::V4(_) => "A",
            IpAddr::V6(_) => "AAAA",
        }
    }

    /// The `mx` mechanism (§5.4, limits §4.6.4).
    /// `checked`: `target` is known to pass [`check_name`].
    async fn match_mx(
        &mut self,
        target: &str,
        checked: bool,
        cidr: DualCidr,
        domain: &str,
    ) -> Step<bool> {
        let r = self.match_mx_hosts(target, checked, cidr, domain).await;
        // (Checked here too: no future to build when there is nothing.)
        if self.dns.pf.is_some() && !self.dns.log.owed.is_empty() {
            self.dns.send_owed().await;
        }
        r
    }

    async fn match_mx_hosts(
        &mut self,
        target: &str,
        checked: bool,
        cidr: DualCidr,
        domain: &str,
    ) -> Step<bool> {
        let mxs = match self.dns.mx_now(target, checked) {
            Some(r) => r,
            None => self.dns.mx_wait(target).await,
        };
        let Some(mxs) = self.mx_answer(&mxs, target, domain)? else {
            return Ok(false);
        };
        let order = MxOrder::of(&mxs.records);
        if self.dns.pf.is_some() {
            let names = order.iter(&mxs.records).map(|m| m.exchange.as_str());
            self.dns.prestart_hosts(names, self.dns.base.ip).await;
        }
        for mx in order.iter(&mxs.records) {
            let r = match self
                .dns
                .host_matches_now(&mx.exchange, self.dns.base.ip, cidr, false)
            {
                Some(r) => r,
                None => {
                    self.dns
                        .host_matches_wait(&mx.exchange, self.dns.base.ip, cidr)
                        .await
                }
            };
            if self.exchange_outcome(r, mx, target)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// [`Eval::match_mx`] for the plan loop: `None` when a lookup is not
    /// answered at once (nothing is made then).
    fn match_mx_now(
        &mut self,
        target: &str,
        checked: bool,
        cidr: DualCidr,
        domain: &str,
    ) -> Option<Step<bool>> {
        let raw = self.dns.mx_now(target, checked)?;
        // Its replay place, filled when done with it (moved, not shared).
        let placed = self.dns.placed.take();
        let r = self.match_mx_hosts_now(&raw, target, cidr, domain);
        self.dns.fill(placed, Ans::Mx(raw));
        r
    }

    /// [`Eval::match_mx_now`] with the MX answer `raw`.
    fn match_mx_hosts_now(
        &mut self,
        raw: &DnsResult<Mx>,
        target: &str,
        cidr: DualCidr,
        domain: &str,
    ) -> Option<Step<bool>> {
        let mxs = match self.mx_answer(raw, target, domain) {
            Ok(Some(m)) => m,
            Ok(None) => return Some(Ok(false)),
            Err(e) => return Some(Err(e)),
        };
        let order = MxOrder::of(&mxs.records);
        for (i, mx) in order.iter(&mxs.records).enumerate() {
            let r = self
                .dns
                .host_matches_now(&mx.exchange, self.dns.base.ip, cidr, false)?;
            match self.exchange_outcome(r, mx, target) {
                Ok(false) => {}
                Ok(true) if self.dns.pf.is_some() => {
                    let rest = order.iter(&mxs.records).skip(i + 1);
                    self.dns
                        .send_rest_now(rest.map(|m| m.exchange.as_str()), self.dns.base.ip)?;
                    return Some(Ok(true));
                }
                // (An error: the loop gives up, and the ordinary
                // evaluation makes the term again.)
                other => return Some(other),
            }
        }
        Some(Ok(false))
    }

    /// What the `mx` term (of the record of `domain`) makes of its MX
    /// lookup of `target`: the exchanges to look at (`None`: no match,
    /// nothing to look at), or the verdict (§5.4, limits §4.6.4).
    fn mx_answer<'m>(
        &mut self,
        mxs: &'m DnsResult<Mx>,
        target: &str,
        domain: &str,
    ) -> Step<Option<&'m Answer<Mx>>> {
        let mxs = mxs.as_ref().map_err(DnsError::clone);
        let Some(mxs) = self.term_answer(mxs, target, domain, |e| {
            format!("DNS error looking up MX {target} (record of {domain}): {e}")
        })?
        else {
            return Ok(None);
        };
        if mxs.len() > self.config.max_mx_names {
            return Err(perm(format!(
                "{target} has {} MX records; at most {} may be looked up (RFC 7208 §4.6.4)",
                mxs.len(),
                self.config.max_mx_names
            )));
        }
        Ok(Some(mxs))
    }

    /// What an exchange's address lookup `r` means for the `mx` term of
    /// `target`: a match, no match, or the verdict.
    #[inline]
    fn exchange_outcome(&self, r: Result<bool, DnsError>, mx: &Mx, target: &str) -> Step<bool> {
        match r {
            Ok(b) => Ok(b),
            Err(e) if e.is_void() => Ok(false),
            // A null MX (RFC 7505, exchange ".") or a malformed name.
            Err(DnsError::InvalidName(_)) => Ok(false),
            Err(e) => Err(temp(format!(
                "DNS error looking up {} {} (MX of {target}): {e}",
                self.addr_type(),
                mx.exchange
            ))),
        }
    }

    /// The `ptr` mechanism (§5.5): any DNS error on the PTR query means no
    /// match; names beyond `max_ptr_names` are ignored; only names within
    /// `target` are validated.
    async fn match_ptr(&mut self, target: &str, domain: &str) -> Step<bool> {
        let r = self.match_ptr_names(target, domain).await;
        self.dns.send_owed().await;
        r
    }

    async fn match_ptr_names(&mut self, target: &str, domain: &str) -> Step<bool> {
        let names = match self.ptr_names().await {
            Ok(n) => n,
            Err(e) if e.is_void() => {
                self.dns
                    .count_void(&dns::reverse_name(self.dns.base.ip), domain)?;
                return Ok(false);
            }
            Err(_) => return Ok(false),
        };
        if self.dns.pf.is_some() {
            let within = names
                .iter()
                .filter(|n| is_within(n, target))
                .map(String::as_str);
            self.dns.prestart_hosts(within, self.dns.base.ip).await;
        }
        for name in names.iter().filter(|n| is_within(n, target)) {
            if self.validate(name).await {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The explanation for a `fail` (§6.2): errors of any kind mean "no
    /// explanation"; the lookup counts against no limit.
    async fn explanation(&mut self, v: &Verdict, top_domain: &str) -> Option<String> {
        if let Some((spec, domain)) = v.exp.as_deref() {
            let name = self.expand_domain(spec, domain).await;
            if let Ok(ans) = self.dns.txt(&name).await
                && let [only] = &ans.records[..]
            {
                let text = only.concat();
                if let Ok(text) = String::from_utf8(text)
                    && text.is_ascii()
                    && let Ok(ms) = MacroString::parse(&text, MacroContext::Explanation)
                {
                    return Some(self.expand_text(&ms, domain).await);
                }
            }
        }
        let default = self.config.default_explanation.as_deref()?;
        let ms = MacroString::parse(default, MacroContext::Explanation).ok()?;
        let domain = v
            .mechanism_domain
            .as_ref()
            .map_or(top_domain, |d| d.as_str(top_domain))
            .to_string();
        Some(self.expand_text(&ms, &domain).await)
    }

    /// The top-level check: `check_host()` plus the explanation.
    /// `given`: the verdict, already reached by a compiled plan's loop
    /// ([`run`]).
    async fn top(
        &mut self,
        domain: &str,
        given: Option<Box<Verdict>>,
    ) -> (Verdict, Option<String>) {
        let v = match given {
            Some(v) => *v,
            None => self.check(domain).await,
        };
        let exp = if v.result == SpfResult::Fail
            && (v.exp.is_some() || self.config.default_explanation.is_some())
        {
            // Out of line: rare, and its state would make every check's
            // future larger.
            let fut: BoxFuture<'_, Option<String>> = Box::pin(self.explanation(&v, domain));
            fut.await
        } else {
            None
        };
        (v, exp)
    }
}

/// What a check runs with: the sender as `local@domain` (as given, or with
/// `postmaster` for a missing local-part, §4.3), its parts, and the domain
/// without its trailing dot.
struct Names<'a> {
    full_sender: Cow<'a, str>,
    local: &'a str,
    sender_domain: &'a str,
    top_domain: &'a str,
}

impl<'a> Names<'a> {
    fn of(sender: &'a str, domain: &'a str) -> Self {
        let (local, sender_domain) = split_sender(sender);
        let full_sender: Cow<'_, str> = if local.len() + 1 + sender_domain.len() == sender.len() {
            Cow::Borrowed(sender)
        } else {
            Cow::Owned(format!("{local}@{sender_domain}"))
        };
        Names {
            full_sender,
            local,
            sender_domain,
            top_domain: domain.strip_suffix('.').unwrap_or(domain),
        }
    }

    /// The check's macro variables (inlined: built in place).
    #[inline(always)]
    fn vars<'v>(&'v self, ip: IpAddr, helo: &'v str, config: &'v SpfConfig) -> MacroVars<'v> {
        MacroVars {
            sender: &self.full_sender,
            local: self.local,
            sender_domain: self.sender_domain,
            domain: "",
            ip: dns::canonical_ip(ip),
            helo,
            ptr: None,
            receiver: &config.receiver,
            // Read by `expand_text` (explanations) only: `%{t}` is not
            // allowed in a domain-spec (§7.1).
            timestamp: 0,
        }
    }
}

/// Where [`Eval::run_plan`] stopped.
enum Run {
    Done(Verdict),
    /// Give up: the ordinary evaluator takes over.
    Bail,
    /// Step `i` enters a level not laid out yet (its term counted): lay
    /// it out and go on at its first step.
    Grow(usize),
}

/// What a compiled plan's loop ([`Eval::fast`]) leaves to the ordinary,
/// asynchronous evaluation.
enum Handover {
    /// The loop gave up: start over on the plan's records, with its
    /// answers (sequentially in `replay`, with prefetch in `log`).
    Restart {
        replay: Replay,
        log: Log,
        plan: Option<Arc<Plan>>,
    },
    /// The loop decided a `fail` that needs an explanation (a lookup): the
    /// verdict and the counters so far (with prefetch, the log, which
    /// counts the queries).
    Explain {
        verdict: Box<Verdict>,
        terms: usize,
        voids: usize,
        queries: usize,
        log: Log,
    },
}

/// The future of [`run`]: the check's inputs until it is first polled,
/// then (unless a compiled plan's loop decided it on that poll, which
/// returns the output directly) the boxed check.
pub(super) enum RunFuture<'a, R: ?Sized> {
    Start(RunArgs<'a, R>),
    Boxed(BoxFuture<'a, SpfOutput>),
    /// Decided on the first poll.
    Done,
}

/// The inputs of one check.
pub(super) struct RunArgs<'a, R: ?Sized> {
    resolver: &'a R,
    ip: IpAddr,
    domain: &'a str,
    sender: &'a str,
    helo: &'a str,
    identity: Identity,
    config: &'a SpfConfig,
}

impl<R: ?Sized> Clone for RunArgs<'_, R> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<R: ?Sized> Copy for RunArgs<'_, R> {}

impl<R: Resolver + ?Sized> Future for RunFuture<'_, R> {
    type Output = SpfOutput;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<SpfOutput> {
        let this = self.get_mut();
        if let RunFuture::Start(a) = *this {
            *this = RunFuture::Done;
            let mut handover = None;
            if a.config
                .record_cache
                .as_deref()
                .is_none_or(SpfRecordCache::compiles)
            {
                // Returned as it is: the output is written once, into
                // this poll's result.
                let r = run_fast(
                    a.resolver,
                    a.ip,
                    a.domain,
                    a.sender,
                    a.helo,
                    a.identity,
                    a.config,
                    &mut handover,
                );
                if r.is_ready() {
                    return r;
                }
            }
            // Written straight into its allocation (not built on the stack
            // and copied: the future is large).
            let b = Box::new_uninit();
            let b = Box::write(
                b,
                run_inner(
                    a.resolver, a.ip, a.domain, a.sender, a.helo, a.identity, a.config, handover,
                ),
            );
            *this = RunFuture::Boxed(Box::into_pin(b));
        }
        match this {
            RunFuture::Boxed(f) => f.as_mut().poll(cx),
            // Polled again after completion.
            _ => Poll::Pending,
        }
    }
}

/// Runs a whole check and builds the output, when first polled.
///
/// A check first runs through its plan loop, synchronously
/// ([`Eval::fast`]; sequentially or with prefetch, from a compiled plan
/// or one laid out as it goes): with every answer at hand it is done on
/// that poll without building the check's future at all, and the output
/// is returned from the poll directly (the future holds only the inputs:
/// no output moved through it).
///
/// Otherwise the check's future is boxed on purpose: the boxed future is
/// proven `Send` once, generically, so callers that spawn a check (even
/// over `dyn DynResolver`) do not make the compiler re-prove it through
/// every inner future, which trips a known rustc limitation with
/// higher-ranked lifetimes.
pub(super) fn run<'a, R: Resolver + ?Sized>(
    resolver: &'a R,
    ip: IpAddr,
    domain: &'a str,
    sender: &'a str,
    helo: &'a str,
    identity: Identity,
    config: &'a SpfConfig,
) -> RunFuture<'a, R> {
    RunFuture::Start(RunArgs {
        resolver,
        ip,
        domain,
        sender,
        helo,
        identity,
        config,
    })
}

/// [`run`] from the domain's compiled plan, if it has one and its loop
/// decides the check without an explanation to look up; otherwise
/// `Pending`, with what the ordinary evaluation takes over in `handover`
/// (`None`: nothing, no plan). (The output is returned by value once per
/// check, not boxed: boxing would cost the allocation this path exists to
/// avoid.)
#[allow(clippy::too_many_arguments)]
#[inline]
fn run_fast<R: Resolver + ?Sized>(
    resolver: &R,
    ip: IpAddr,
    domain: &str,
    sender: &str,
    helo: &str,
    identity: Identity,
    config: &SpfConfig,
    handover: &mut Option<Box<Handover>>,
) -> Poll<SpfOutput> {
    let names = Names::of(sender, domain);
    let base = names.vars(ip, helo, config);
    // With prefetch: a table cell the loop never fills (it makes only
    // lookups answered at once, which go to the log, as the ordinary
    // evaluation's do until it has to wait for one).
    let cell = OnceLock::new();
    let pf = config.prefetch.then_some(&cell);
    // The evaluator is dropped at the end of this block, in place (a
    // `drop(ev)` would copy its 500 bytes first).
    let (verdict, terms, voids, queries) = {
        let mut ev = Eval::new(resolver, config, base, names.top_domain, pf);
        let Some(verdict) = ev.fast(names.top_domain) else {
            let replay = std::mem::take(&mut ev.dns.replay);
            let log = std::mem::take(&mut ev.dns.log);
            let plan = ev.plan.take();
            if replay.answers.is_empty() && log.answers.is_empty() && plan.is_none() {
                return Poll::Pending;
            }
            *handover = Some(Box::new(Handover::Restart { replay, log, plan }));
            return Poll::Pending;
        };
        let (terms, voids) = (ev.dns.terms, ev.dns.voids);
        let queries = ev.dns.pf_queries().unwrap_or(ev.dns.queries);
        if verdict.result == SpfResult::Fail
            && (verdict.exp.is_some() || config.default_explanation.is_some())
        {
            let log = std::mem::take(&mut ev.dns.log);
            *handover = Some(Box::new(Handover::Explain {
                verdict: Box::new(verdict),
                terms,
                voids,
                queries,
                log,
            }));
            return Poll::Pending;
        }
        ev.dns.log.recycle();
        (verdict, terms, voids, queries)
    };
    Poll::Ready(output(
        verdict, None, terms, voids, queries, &names, helo, identity, ip,
    ))
}

#[allow(clippy::too_many_arguments)]
async fn run_inner<R: Resolver + ?Sized>(
    resolver: &R,
    ip: IpAddr,
    domain: &str,
    sender: &str,
    helo: &str,
    identity: Identity,
    config: &SpfConfig,
    handover: Option<Box<Handover>>,
) -> SpfOutput {
    let names = Names::of(sender, domain);
    let top_domain = names.top_domain;
    let base = names.vars(ip, helo, config);
    // With prefetch: the per-evaluation table, created only once some
    // lookup is not answered on its first poll.
    let pf: OnceLock<Box<Prefetch<'_, R>>> = OnceLock::new();
    let pf_ref = config.prefetch.then_some(&pf);
    let mut ev = Eval::new(resolver, config, base, top_domain, pf_ref);
    let given = match handover.map(|h| *h) {
        Some(Handover::Restart { replay, log, plan }) => {
            ev.dns.replay = replay;
            ev.dns.log = log;
            ev.plan = plan;
            None
        }
        Some(Handover::Explain {
            verdict,
            terms,
            voids,
            queries,
            log,
        }) => {
            ev.dns.terms = terms;
            ev.dns.voids = voids;
            ev.dns.queries = queries;
            ev.dns.log = log;
            Some(verdict)
        }
        None => None,
    };
    let outcome = {
        let mut top = std::pin::pin!(ev.top(top_domain, given));
        let mut poll = |cx: &mut Context<'_>| match pf_ref {
            Some(cell) => Prefetch::poll_run(cell, top.as_mut(), cx),
            None => top.as_mut().poll(cx),
        };
        // The timer is armed only if the check does not finish on its
        // first poll (with DNS answered from memory it does, and then a
        // timer could not fire anyway: `timeout` polls the check before
        // its timer). The budget starts when that first poll returns:
        // until then the check only computed on answers at hand (a
        // resolver's future must not block), and not reading the clock
        // before saves a clock read on every check that never waits.
        match std::future::poll_fn(|cx| Poll::Ready(poll(cx))).await {
            Poll::Ready(v) => Some(v),
            Poll::Pending => {
                let start = tokio::time::Instant::now();
                // Out of line (the timer's state): only when DNS is waited
                // for.
                let rest: BoxFuture<'_, _> = Box::pin(async move {
                    let fut = std::future::poll_fn(&mut poll);
                    if tokio::runtime::Handle::try_current().is_err() {
                        return Some(fut.await);
                    }
                    match start.checked_add(config.timeout) {
                        Some(d) => tokio::time::timeout_at(d, fut).await.ok(),
                        None => Some(fut.await),
                    }
                });
                rest.await
            }
        }
    };
    let (verdict, explanation) = outcome.unwrap_or_else(|| {
        (
            *temp(format!(
                "the SPF check did not finish within the time budget of {:?} (RFC 7208 §4.6.4)",
                config.timeout
            )),
            None,
        )
    });
    let dns_lookups = ev.dns.terms;
    let void_lookups = ev.dns.voids;
    let queries = ev.dns.pf_queries().unwrap_or(ev.dns.queries);
    // Done with DNS: the evaluator and the prefetch table go first (the
    // log's buffers to the thread's spare, unless the table took them).
    ev.dns.log.recycle();
    drop(ev);
    drop(pf);
    output(
        verdict,
        explanation,
        dns_lookups,
        void_lookups,
        queries,
        &names,
        helo,
        identity,
        ip,
    )
}

/// The output of a check: its verdict, explanation and counters.
#[allow(clippy::too_many_arguments)]
#[inline]
fn output(
    verdict: Verdict,
    explanation: Option<String>,
    dns_lookups: usize,
    void_lookups: usize,
    queries: usize,
    names: &Names<'_>,
    helo: &str,
    identity: Identity,
    ip: IpAddr,
) -> SpfOutput {
    let (full_sender, top_domain) = (&names.full_sender, names.top_domain);
    // The output's texts, back to back in one buffer of the exact size.
    let mechanism = match &verdict.mechanism {
        Some(Mech::Text(m)) => Some(m.as_str()),
        _ => None,
    };
    let other_domain = match &verdict.mechanism_domain {
        Some(MechDomain::Other(d)) => Some(d.as_str()),
        _ => None,
    };
    let len = |s: Option<&str>| s.map_or(0, str::len);
    let mut text = String::with_capacity(
        full_sender.len()
            + helo.len()
            + top_domain.len()
            + len(mechanism)
            + len(other_domain)
            + len(explanation.as_deref())
            + len(verdict.reason.as_deref())
            + verdict.chain.iter().map(String::len).sum::<usize>(),
    );
    let mut push = |s: &str| {
        let start = text.len();
        text.push_str(s);
        start..text.len()
    };
    let sender_span = push(full_sender);
    let helo_span = push(helo);
    let domain_span = push(top_domain);
    let mechanism = mechanism.map(&mut push);
    let mechanism_domain = match &verdict.mechanism_domain {
        // A match in the top record: the domain checked, already there.
        Some(MechDomain::Top) => Some(domain_span.clone()),
        Some(MechDomain::Other(d)) => Some(push(d)),
        None => None,
    };
    let explanation = explanation.as_deref().map(&mut push);
    let reason = verdict.reason.as_deref().map(&mut push);
    let chain = verdict.chain.iter().map(|c| push(c)).collect();
    SpfOutput {
        result: verdict.result,
        identity,
        ip,
        dns_lookups,
        void_lookups,
        queries,
        text,
        sender: sender_span,
        helo: helo_span,
        domain: domain_span,
        mechanism,
        mechanism_domain,
        explanation,
        reason,
        chain,
    }
}

#[cfg(test)]
mod addr_match_tests {
    use super::{AddrAnswer, DualCidr, Lookups};
    use crate::dns::{Answer, zone::ZoneResolver};
    use ipnet::Ipv4Net;
    use std::net::{IpAddr, Ipv4Addr};

    /// The shift-based IPv4 match equals `Ipv4Net`'s for every prefix
    /// length.
    #[test]
    fn v4_match_is_ipnet() {
        let addrs: [Ipv4Addr; 5] = [
            "198.51.100.5".parse().unwrap(),
            "198.51.100.200".parse().unwrap(),
            "198.51.101.5".parse().unwrap(),
            "0.0.0.0".parse().unwrap(),
            "255.255.255.255".parse().unwrap(),
        ];
        for client in addrs {
            for a in addrs {
                for len in 0..=32u8 {
                    let want = Ipv4Net::new(a, len).unwrap().trunc().contains(&client);
                    let ans = Answer::new(vec![a], 60);
                    let cidr = DualCidr { v4: len, v6: 128 };
                    let got = Lookups::<ZoneResolver>::addr_matches(
                        AddrAnswer::V4(&ans),
                        IpAddr::V4(client),
                        cidr,
                    );
                    assert_eq!(got, want, "{a}/{len} vs {client}");
                }
            }
        }
    }
}

#[cfg(test)]
mod name_check_tests {
    /// Every string over a small alphabet up to 6 characters, plus long
    /// labels and names around the 63/253 limits.
    fn samples() -> Vec<String> {
        let mut out = crate::spf::all_strings(&["a", ".", "\0", "\x7f", " ", "[", "é", "-"], 6);
        for n in [61, 62, 63, 64, 65, 126, 127, 252, 253, 254, 255] {
            out.push("a".repeat(n));
            out.push(format!("{}.example", "a".repeat(n)));
            out.push(format!("x.{}", "a".repeat(n)));
            out.push(format!("{}.", "a".repeat(n)));
            out.push(format!("{}..b", "a".repeat(n)));
        }
        out
    }

    /// A bad octet or pair at every position of names up to 34 long (so
    /// across the eight-octet words of the SWAR check, in all its paths).
    fn placed() -> Vec<String> {
        let mut out = Vec::new();
        for len in 1..=34 {
            for at in 0..len {
                for bad in [".", "..", "\0", "\x1f", "\x7f", " ", "\u{80}"] {
                    let mut s = "a".repeat(len);
                    s.insert_str(at, bad);
                    out.push(s.clone());
                    out.push(format!("{s}."));
                }
            }
        }
        out
    }

    /// The one-pass check gives exactly `dns::check_name`'s answer.
    #[test]
    fn check_name_agrees_with_dns() {
        for s in samples().into_iter().chain(placed()) {
            assert_eq!(super::check_name(&s), crate::dns::check_name(&s), "{s:?}");
        }
    }

    /// The fast path of `usable_domain` gives what the full check gives.
    #[test]
    fn usable_domain_fast_path_agrees() {
        for s in samples() {
            assert_eq!(
                super::usable_domain(&s),
                super::usable_domain_slow(&s),
                "{s:?}"
            );
        }
    }

    /// A literal target that the parser marked usable is exactly one that
    /// `usable_domain` accepts as it is (what the evaluator would have
    /// checked), and the parser marks every such literal; targets inside a
    /// record (`parse_within`) and on their own (`parse`) alike.
    #[test]
    fn usable_literal_is_usable_domain() {
        use crate::spf::macros::{MacroContext, MacroString};
        use crate::spf::record::{Mechanism, Record};
        let mut marked = 0;
        for s in samples()
            .into_iter()
            .chain(["a.b".into(), "a.b.".into(), "x.example".into()])
        {
            // On its own, and as a target inside a parsed record (which
            // takes the parser's one-pass check when it is a plain name).
            let in_record = Record::parse(format!("v=spf1 include:{s}").as_bytes())
                .ok()
                .and_then(|r| match r.directives.first().map(|d| &d.mechanism) {
                    Some(Mechanism::Include { domain }) => Some(domain.clone()),
                    _ => None,
                });
            let alone = MacroString::parse(&s, MacroContext::Domain).ok();
            for ms in [alone, in_record].into_iter().flatten() {
                let expected = ms
                    .literal_domain()
                    .filter(|l| super::usable_domain(l) == Ok(std::borrow::Cow::Borrowed(*l)));
                assert_eq!(ms.usable_literal(), expected, "{s:?}");
                marked += usize::from(expected.is_some());
            }
        }
        assert!(marked >= 6, "{marked}");
    }
}
