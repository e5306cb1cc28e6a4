//! Plans: a domain's SPF record together with the records its `include`s
//! and `redirect`s reach, laid out as one flat list of steps for the
//! evaluator's plan loop (`Eval::fast`, `Eval::run_plan`): each record's
//! directives are one block of steps; an `include`/`redirect` step enters
//! the target's block; a level that does not decide goes back to the step
//! after the one that entered it (§5.2).
//!
//! * A **compiled** plan ([`build`]) is made once from the records of a warm
//!   [`SpfRecordCache`](super::SpfRecordCache) (no DNS) and kept there until
//!   the first of its records expires. A check of that domain then makes one
//!   cache lookup instead of one per record and enters no levels. It is
//!   built only for graphs it represents exactly: every `include` and
//!   `redirect` target a literal, usable domain name whose cached record
//!   parses; `a`, `mx` and `exists` targets literal; no `ptr` (RFC 7208
//!   §5.5: "SHOULD NOT be used"); at most [`MAX_LEVELS`] records and
//!   [`MAX_OPS`] steps; no level deeper than the evaluator's nesting cap.
//! * Without a record cache the loop lays a plan out level by level as the
//!   check reaches each `include`/`redirect` ([`Plan::start`],
//!   [`Plan::wanted`], [`Plan::grow`]); blocks are only ever appended.
//!
//! Whatever the loop cannot finish with answers at hand goes to the
//! ordinary evaluator, with the answers the loop got, so results are the
//! ordinary evaluator's by construction (`tests/spf_plan.rs`,
//! `tests/spf_suite.rs`).
//!
//! This module is pure: it lays out records handed to it and holds no DNS
//! logic.

use std::sync::Arc;
use std::time::Instant;

use super::cache::RecordOutcome;
use super::eval::MAX_DEPTH;
use super::macros::MacroString;
use super::record::{Directive, Mechanism, Record};

/// Most records in one plan (under the default limit of 10 DNS-querying
/// terms a check enters at most 11).
pub(crate) const MAX_LEVELS: usize = 24;
/// Most steps in one plan (a DAG is unfolded into a tree; this bounds the
/// unfolding, and so the work and memory of building: a compiled plan
/// takes at most ≈ 10 KB besides the records it shares with the cache).
pub(crate) const MAX_OPS: usize = 256;

/// How a record level was entered from its parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Via {
    Include,
    Redirect,
}

/// The record of a level: shared with the record cache (a compiled plan),
/// or owned by the check that laid the plan out (no reference count to
/// keep, one allocation less per record).
#[derive(Debug)]
pub(crate) enum LevelRecord {
    Shared(Arc<Record>),
    Owned(Record),
}

impl std::ops::Deref for LevelRecord {
    type Target = Record;
    fn deref(&self) -> &Record {
        match self {
            LevelRecord::Shared(r) => r,
            LevelRecord::Owned(r) => r,
        }
    }
}

/// One record of a plan.
#[derive(Debug)]
pub(crate) struct Level {
    pub record: LevelRecord,
    /// The level whose `include`/`redirect` entered this one (unused for
    /// the top level).
    pub parent: usize,
    /// `None` for the top level.
    pub via: Option<Via>,
    /// The parent's directive that entered this level (the parent's number
    /// of directives for its `redirect`).
    pub at: usize,
    /// The level's first step.
    pub start: usize,
    /// The parent's step after the one that entered this level: where the
    /// parent goes on when this level does not decide it (§5.2).
    pub end: usize,
    /// Include/redirect nesting (0 for the top level).
    pub depth: usize,
}

/// A plan's buffers kept between checks: levels, steps, directive lists.
type Spare = (Vec<Level>, Vec<Op>, Vec<Vec<Directive>>);

thread_local! {
    /// The buffers of plans laid out during checks, kept between checks on
    /// this thread ([`Plan::start_transient_with`], [`Plan::recycle`]).
    static SPARE: std::cell::Cell<Spare> =
        const { std::cell::Cell::new((Vec::new(), Vec::new(), Vec::new())) };
}

/// [`Op::Enter`] of a level not laid out (yet).
pub(crate) const NOT_LAID_OUT: usize = usize::MAX;

/// One step of a plan. A level's steps are one block, in its directives'
/// order, ending with its `redirect` or its [`Op::End`]; an entered
/// level's block may be anywhere (its parent goes on at the level's
/// [`Level::end`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    /// Directive `idx` of `level`: a mechanism other than `include`.
    Directive { level: usize, idx: usize },
    /// The `include` at directive `idx` of `level` (or its `redirect`, `idx`
    /// = number of directives): counts the term and goes on at the first
    /// step of the entered level (`child`, [`NOT_LAID_OUT`] until it is).
    Enter {
        level: usize,
        idx: usize,
        child: usize,
    },
    /// The end of `level`'s directives, without `redirect`: the default
    /// result, neutral (§4.7).
    End { level: usize },
}

/// A plan (see the [module docs](self)): compiled whole from cached
/// records ([`build`]), or laid out level by level while a check without
/// a record cache runs ([`Plan::start`], [`Plan::grow`]).
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// The name a compiled plan was built for (the record cache's key);
    /// empty for a plan laid out during a check.
    pub top: Box<str>,
    pub levels: Vec<Level>,
    pub ops: Vec<Op>,
    /// A plan laid out during a check: emptied directive lists of records
    /// dropped, whose buffers the next levels' records reuse (kept with the
    /// plan's buffers between checks, so parsing a record of the usual
    /// terms allocates nothing; at most [`SPARE_RECORDS`] of at most
    /// [`SPARE_DIRECTIVES`] directives' room).
    spare: Vec<Vec<Directive>>,
}

/// Most directive lists a thread keeps for plans laid out during checks.
const SPARE_RECORDS: usize = 12;
/// Most directives' room of a directive list kept (112 bytes each).
const SPARE_DIRECTIVES: usize = 16;

impl Plan {
    /// A plan of `record` (of `top`) with only its own level laid out.
    pub fn start(top: &str, record: LevelRecord) -> Self {
        let mut p = Plan {
            top: top.into(),
            levels: Vec::with_capacity(8),
            ops: Vec::with_capacity(32),
            spare: Vec::new(),
        };
        p.lay_out(record, 0, None, 0, 0, 0);
        p
    }

    /// [`Plan::start`] for a plan laid out during a check, in this thread's
    /// spare buffers (see [`Plan::recycle`]): no allocation per check. The
    /// top record is parsed in its place by `parse` (see
    /// [`Plan::grow_with`]); `None` if it says it did not.
    pub fn start_transient_with(parse: impl FnOnce(&mut Record) -> bool) -> Option<Self> {
        let mut p = Self::transient();
        if p.lay_out_with(0, None, 0, 0, 0, parse) {
            Some(p)
        } else {
            p.recycle();
            None
        }
    }

    /// An empty plan in this thread's spare buffers.
    fn transient() -> Self {
        let (levels, ops, spare) = SPARE.take();
        let mut p = Plan {
            top: Box::default(),
            levels,
            ops,
            spare,
        };
        p.levels.clear();
        p.ops.clear();
        if p.ops.capacity() == 0 {
            p.levels.reserve(8);
            p.ops.reserve(32);
        }
        p
    }

    /// Gives a plan laid out during a check back to this thread's spare
    /// buffers, emptied (its records' terms are dropped here; their own
    /// buffers are kept, within bounds).
    pub fn recycle(mut self) {
        let mut levels = std::mem::take(&mut self.levels);
        let mut ops = std::mem::take(&mut self.ops);
        let mut spare = std::mem::take(&mut self.spare);
        for l in &mut levels {
            if let LevelRecord::Owned(r) = &mut l.record {
                Self::keep(&mut spare, r);
            }
        }
        levels.clear();
        ops.clear();
        if levels.capacity() <= MAX_LEVELS && ops.capacity() <= 2 * MAX_OPS {
            SPARE.set((levels, ops, spare));
        }
    }

    /// Keeps `r`'s directive list for a next level, emptied, within
    /// bounds (`r` is dropped next).
    fn keep(spare: &mut Vec<Vec<Directive>>, r: &mut Record) {
        if spare.len() < SPARE_RECORDS && r.directives.capacity() <= SPARE_DIRECTIVES {
            let mut d = std::mem::take(&mut r.directives);
            d.clear();
            spare.push(d);
        }
    }

    /// The target of the include/redirect at directive `at` of `record`
    /// (`at` = number of directives: the redirect) if it is a literal,
    /// usable domain (which is then also the entered level's domain).
    fn target(record: &Record, at: usize) -> Option<&str> {
        match record.directives.get(at) {
            Some(d) => match &d.mechanism {
                Mechanism::Include { domain } => domain.usable_literal(),
                _ => None,
            },
            None => record.redirect.as_ref()?.usable_literal(),
        }
    }

    /// The usable domain of `level`, where the top level's is `top`.
    pub fn domain<'a>(&'a self, level: usize, top: &'a str) -> &'a str {
        if level == 0 {
            return top;
        }
        self.levels
            .get(level)
            .and_then(|l| Self::target(&self.levels.get(l.parent)?.record, l.at))
            .unwrap_or(top)
    }

    /// The record of `domain` in this compiled plan.
    pub fn record(&self, domain: &str) -> Option<&Arc<Record>> {
        self.levels
            .iter()
            .enumerate()
            .find(|(i, _)| self.domain(*i, &self.top).eq_ignore_ascii_case(domain))
            .and_then(|(_, l)| match &l.record {
                LevelRecord::Shared(r) => Some(r),
                LevelRecord::Owned(_) => None,
            })
    }

    /// What step `i`, an [`Op::Enter`] not laid out, needs: the record of
    /// its target, a literal usable domain. `None` otherwise, when the plan
    /// is full, or when that level would be deeper than the evaluator's
    /// nesting cap (a permerror of its own).
    pub fn wanted(&self, i: usize) -> Option<&str> {
        let Some(&Op::Enter {
            level,
            idx,
            child: NOT_LAID_OUT,
        }) = self.ops.get(i)
        else {
            return None;
        };
        if self.full() {
            return None;
        }
        let l = self.levels.get(level)?;
        if l.depth + 1 > MAX_DEPTH {
            return None;
        }
        Self::target(&l.record, idx)
    }

    /// Whether no more levels may be laid out ([`MAX_LEVELS`],
    /// [`MAX_OPS`]).
    pub fn full(&self) -> bool {
        self.levels.len() >= MAX_LEVELS || self.ops.len() >= MAX_OPS
    }

    /// Lays out `record`, the record of the target of step `i` (see
    /// [`Plan::wanted`]).
    #[inline]
    pub fn grow(&mut self, i: usize, record: LevelRecord) {
        if let Some((parent, via, at, depth)) = self.entered(i) {
            let child = self.levels.len();
            self.lay_out(record, parent, Some(via), at, i + 1, depth);
            self.link(i, child);
        }
    }

    /// [`Plan::grow`] with a record that `parse` parses in its place, in
    /// the plan (an owned record: a plan laid out during a check); whether
    /// it says it did (if not, the step stays not laid out).
    #[inline]
    pub fn grow_with(&mut self, i: usize, parse: impl FnOnce(&mut Record) -> bool) -> bool {
        let Some((parent, via, at, depth)) = self.entered(i) else {
            return false;
        };
        let child = self.levels.len();
        let grown = self.lay_out_with(parent, Some(via), at, i + 1, depth, parse);
        if grown {
            self.link(i, child);
        }
        grown
    }

    /// What step `i`, an [`Op::Enter`], enters: the entered level's
    /// parent, how and at which directive it is entered, and its depth.
    fn entered(&self, i: usize) -> Option<(usize, Via, usize, usize)> {
        let Some(&Op::Enter { level, idx, .. }) = self.ops.get(i) else {
            return None;
        };
        let (parent, at) = (level, idx);
        let (via, depth) = match self.levels.get(parent) {
            Some(p) if at < p.record.directives.len() => (Via::Include, p.depth + 1),
            Some(p) => (Via::Redirect, p.depth + 1),
            None => (Via::Redirect, 1),
        };
        Some((parent, via, at, depth))
    }

    /// Points step `i`, an [`Op::Enter`], at the laid-out level `child`.
    fn link(&mut self, i: usize, child: usize) {
        if let Some(Op::Enter { child: c, .. }) = self.ops.get_mut(i) {
            *c = child;
        }
    }

    /// [`Plan::lay_out`] of an owned record that `parse` parses in its
    /// place; nothing if it says it did not.
    #[inline]
    fn lay_out_with(
        &mut self,
        parent: usize,
        via: Option<Via>,
        at: usize,
        end: usize,
        depth: usize,
        parse: impl FnOnce(&mut Record) -> bool,
    ) -> bool {
        let directives = self.spare.pop().unwrap_or_default();
        // The level written out here, not through `lay_out`'s push: a
        // record passed by value is a 160-byte copy (+200 instructions per
        // cold check, measured).
        self.levels.push(Level {
            record: LevelRecord::Owned(Record {
                directives,
                ..Record::EMPTY
            }),
            parent,
            via,
            at,
            start: self.ops.len(),
            end,
            depth,
        });
        let parsed = match self.levels.last_mut().map(|l| &mut l.record) {
            Some(LevelRecord::Owned(r)) => parse(r),
            _ => false,
        };
        if !parsed {
            if let Some(Level {
                record: LevelRecord::Owned(mut r),
                ..
            }) = self.levels.pop()
            {
                Self::keep(&mut self.spare, &mut r);
            }
            return false;
        }
        self.lay_steps();
        true
    }

    /// Appends the block of a new level (its include/redirect steps not
    /// laid out).
    #[inline]
    fn lay_out(
        &mut self,
        record: LevelRecord,
        parent: usize,
        via: Option<Via>,
        at: usize,
        end: usize,
        depth: usize,
    ) {
        self.levels.push(Level {
            record,
            parent,
            via,
            at,
            start: self.ops.len(),
            end,
            depth,
        });
        self.lay_steps();
    }

    /// Appends the steps of the last level.
    #[inline]
    fn lay_steps(&mut self) {
        let Plan { levels, ops, .. } = self;
        let me = levels.len().saturating_sub(1);
        let Some(record) = levels.last().map(|l| &l.record) else {
            return;
        };
        ops.reserve(record.directives.len() + 1);
        // One `extend` of an exact-size iterator: no capacity check per step.
        ops.extend(
            record
                .directives
                .iter()
                .enumerate()
                .map(|(idx, d)| match d.mechanism {
                    Mechanism::Include { .. } => Op::Enter {
                        level: me,
                        idx,
                        child: NOT_LAID_OUT,
                    },
                    _ => Op::Directive { level: me, idx },
                }),
        );
        ops.push(match record.redirect {
            Some(_) => Op::Enter {
                level: me,
                idx: record.directives.len(),
                child: NOT_LAID_OUT,
            },
            None => Op::End { level: me },
        });
    }
}

/// What building gave.
pub(crate) enum Built {
    /// A plan, valid until the instant (the first of its records to expire).
    Plan(Plan, Instant),
    /// The graph cannot be compiled (see the [module docs](self)); that
    /// holds until the instant (the records seen may change then).
    Refused(Instant),
    /// A record the graph reaches is not cached (yet): nothing to keep.
    Missing,
}

/// Whether a compiled plan represents `record`'s directives (a plan laid
/// out during a check gives up at such a directive instead).
fn compilable(record: &Record) -> bool {
    let literal = |s: &Option<MacroString>| s.as_ref().is_none_or(|s| s.literal_domain().is_some());
    record.directives.iter().all(|d| match &d.mechanism {
        Mechanism::Include { domain } => domain.usable_literal().is_some(),
        Mechanism::Ptr { .. } => false,
        Mechanism::A { domain, .. } | Mechanism::Mx { domain, .. } => literal(domain),
        Mechanism::Exists { domain } => domain.literal_domain().is_some(),
        _ => true,
    }) && record
        .redirect
        .as_ref()
        .is_none_or(|r| r.usable_literal().is_some())
}

/// Compiles the plan of `domain`, whose record is `top` (valid until
/// `expires`); `lookup` gives a cached record outcome and its expiry by
/// domain.
pub(crate) fn build<F>(domain: &str, top: Arc<Record>, expires: Instant, mut lookup: F) -> Built
where
    F: FnMut(&str) -> Option<(RecordOutcome, Instant)>,
{
    let mut expires = expires;
    if !compilable(&top) {
        return Built::Refused(expires);
    }
    let mut plan = Plan::start(domain, LevelRecord::Shared(top));
    if plan.ops.len() > MAX_OPS {
        return Built::Refused(expires);
    }
    // Every level; blocks are only ever appended.
    let mut i = 0;
    while let Some(op) = plan.ops.get(i) {
        if let Op::Enter {
            child: NOT_LAID_OUT,
            ..
        } = op
        {
            let Some(target) = plan.wanted(i) else {
                return Built::Refused(expires);
            };
            let Some((outcome, until)) = lookup(target) else {
                return Built::Missing;
            };
            expires = expires.min(until);
            let record = match outcome {
                // `none` or a permerror at an include/redirect target: rare,
                // and its wording belongs to the ordinary evaluator.
                RecordOutcome::Record(r) if compilable(&r) => r,
                _ => return Built::Refused(expires),
            };
            plan.grow(i, LevelRecord::Shared(record));
            if plan.ops.len() > MAX_OPS {
                return Built::Refused(expires);
            }
        }
        i += 1;
    }
    Built::Plan(plan, expires)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::time::Duration;

    fn rec(s: &str) -> Arc<Record> {
        Arc::new(Record::parse(s.as_bytes()).expect("record"))
    }

    fn build_with(top: &str, others: &[(&str, &str, u64)]) -> Built {
        let t0 = Instant::now();
        let map: HashMap<String, (RecordOutcome, Instant)> = others
            .iter()
            .map(|(d, r, secs)| {
                let o = match Record::parse(r.as_bytes()) {
                    Ok(r) => RecordOutcome::Record(Arc::new(r)),
                    Err(e) => RecordOutcome::Invalid(e),
                };
                (d.to_string(), (o, t0 + Duration::from_secs(*secs)))
            })
            .collect();
        build(
            "top.example",
            rec(top),
            t0 + Duration::from_secs(1000),
            |d| map.get(d).cloned(),
        )
    }

    /// A plan laid out during a check, its records parsed in place: the
    /// same steps as a compiled one; a record that does not parse leaves
    /// the plan as it was (the step stays not laid out).
    #[test]
    fn transient_plan_grows_in_place_and_not_on_a_bad_record() {
        let parse = |t: &'static str| move |r: &mut Record| r.parse_into(t.as_bytes()).is_ok();
        assert!(Plan::start_transient_with(parse("v=spf1 -all x")).is_none());
        let mut p =
            Plan::start_transient_with(parse("v=spf1 include:a.example -all")).expect("top record");
        assert_eq!(p.wanted(0), Some("a.example"));
        let before = (p.ops.clone(), p.levels.len());
        assert!(!p.grow_with(0, parse("v=spf1 ip4:192.0.2.1/33")));
        assert_eq!((p.ops.clone(), p.levels.len()), before);
        assert_eq!(p.wanted(0), Some("a.example"));
        assert!(p.grow_with(0, parse("v=spf1 ip4:192.0.2.1 redirect=b.example")));
        use Op::*;
        assert_eq!(
            p.ops,
            [
                Enter {
                    level: 0,
                    idx: 0,
                    child: 1
                },
                Directive { level: 0, idx: 1 },
                End { level: 0 },
                Directive { level: 1, idx: 0 },
                Enter {
                    level: 1,
                    idx: 1,
                    child: NOT_LAID_OUT
                },
            ]
        );
        assert_eq!(
            (p.levels[1].start, p.levels[1].end, p.levels[1].via),
            (3, 1, Some(Via::Include))
        );
        assert_eq!(p.levels[1].record.directives.len(), 1);
        assert_eq!(p.wanted(4), Some("b.example"));
        p.recycle();
        // The next plan's records reuse the dropped records' directive
        // lists (room for 2 and 3: more than `v=spf1 -all` asks for).
        let p = Plan::start_transient_with(parse("v=spf1 -all")).expect("top record");
        assert!(p.levels[0].record.directives.capacity() >= 2);
        assert_eq!(p.levels[0].record.directives.len(), 1);
        p.recycle();
        // A list grown past SPARE_DIRECTIVES is freed, not kept (kept, it
        // would be the last one in, the first one out).
        let big = "v=spf1 ".to_string() + &"a ".repeat(SPARE_DIRECTIVES + 4) + "-all";
        let big: &'static str = Box::leak(big.into_boxed_str());
        let p = Plan::start_transient_with(parse(big)).expect("top record");
        assert!(p.levels[0].record.directives.capacity() > SPARE_DIRECTIVES);
        p.recycle();
        let p = Plan::start_transient_with(parse("v=spf1 -all")).expect("top record");
        let room = p.levels[0].record.directives.capacity();
        assert!((2..=SPARE_DIRECTIVES).contains(&room), "{room}");
        p.recycle();
    }

    #[test]
    fn lays_out_levels_in_evaluation_order() {
        let Built::Plan(p, exp) = build_with(
            "v=spf1 include:a.example mx -all",
            &[
                ("a.example", "v=spf1 ip4:192.0.2.1 redirect=b.example", 300),
                ("b.example", "v=spf1 a:h.example", 100),
            ],
        ) else {
            panic!("no plan");
        };
        use Op::*;
        assert_eq!(
            p.ops,
            [
                Enter {
                    level: 0,
                    idx: 0,
                    child: 1
                },
                Directive { level: 0, idx: 1 },
                Directive { level: 0, idx: 2 },
                End { level: 0 },
                Directive { level: 1, idx: 0 },
                Enter {
                    level: 1,
                    idx: 1,
                    child: 2
                },
                Directive { level: 2, idx: 0 },
                End { level: 2 },
            ]
        );
        assert_eq!(p.levels.len(), 3);
        // a.example's block starts at 4; the top level goes on at 1.
        assert_eq!(
            (p.levels[1].start, p.levels[1].end, p.levels[1].at),
            (4, 1, 0)
        );
        assert_eq!(p.levels[2].start, 6);
        assert_eq!((p.levels[1].depth, p.levels[2].depth), (1, 2));
        assert_eq!(p.levels[2].via, Some(Via::Redirect));
        assert_eq!(p.domain(0, "Top.Example"), "Top.Example");
        assert_eq!(p.domain(2, "Top.Example"), "b.example");
        assert!(Arc::ptr_eq(
            p.record("B.example").unwrap(),
            match &p.levels[2].record {
                LevelRecord::Shared(r) => r,
                LevelRecord::Owned(_) => unreachable!(),
            }
        ));
        assert!(Arc::ptr_eq(
            p.record("top.example").unwrap(),
            match &p.levels[0].record {
                LevelRecord::Shared(r) => r,
                LevelRecord::Owned(_) => unreachable!(),
            }
        ));
        assert!(p.record("c.example").is_none());
        // The first record to expire bounds the plan.
        assert!(exp < Instant::now() + Duration::from_secs(101));
    }

    #[test]
    fn refuses_what_it_cannot_represent() {
        for top in [
            "v=spf1 ptr -all",
            "v=spf1 include:%{d}.example -all",
            "v=spf1 a:%{i}.example -all",
            "v=spf1 exists:%{i}.example -all",
            "v=spf1 redirect=%{d}.x.example",
            "v=spf1 include:bad.example",
        ] {
            assert!(
                matches!(
                    build_with(top, &[("bad.example", "v=spf1 mx:foo/99", 50)]),
                    Built::Refused(_)
                ),
                "{top}"
            );
        }
        assert!(matches!(
            build_with("v=spf1 include:gone.example", &[]),
            Built::Missing
        ));
        // A loop is cut by the nesting cap.
        assert!(matches!(
            build_with(
                "v=spf1 include:l.example",
                &[("l.example", "v=spf1 include:l.example", 50)]
            ),
            Built::Refused(_)
        ));
    }

    #[test]
    fn a_record_with_more_steps_than_a_plan_holds_is_refused() {
        let big = format!("v=spf1 {}-all", "ip4:192.0.2.1 ".repeat(MAX_OPS));
        assert!(matches!(build_with(&big, &[]), Built::Refused(_)));
        let fits = format!("v=spf1 {}-all", "ip4:192.0.2.1 ".repeat(MAX_OPS - 2));
        assert!(matches!(build_with(&fits, &[]), Built::Plan(..)));
    }

    #[test]
    fn unfolding_is_bounded() {
        // Every level includes the next one twice: 2^n leaves unfolded.
        let mut others: Vec<(String, String)> = (0..20)
            .map(|i| {
                (
                    format!("l{i}.example"),
                    format!("v=spf1 include:l{0}.example include:l{0}.example", i + 1),
                )
            })
            .collect();
        others.push(("l20.example".into(), "v=spf1 -all".into()));
        let refs: Vec<(&str, &str, u64)> = others
            .iter()
            .map(|(d, r)| (d.as_str(), r.as_str(), 60))
            .collect();
        let b = build_with("v=spf1 include:l0.example", &refs);
        assert!(matches!(b, Built::Refused(_)));
    }
}
