//! Compiled policies: a domain's SPF record together with every record its
//! `include`s and `redirect`s reach, laid out as one flat list of steps.
//!
//! With a warm [`SpfRecordCache`](super::SpfRecordCache), a check of a
//! domain it has seen before still has to walk the include/redirect graph:
//! one cache lookup per record, one level entered and left per record. A
//! [`Plan`] is that walk done once. It is built from the cache's records
//! (no DNS), kept in the same cache until the first of its records expires,
//! and evaluated by a tight loop in the evaluator (`Eval::run_plan`) that
//! makes only the checks' own address lookups.
//!
//! A plan is built only for graphs it can represent exactly: every
//! `include` and `redirect` target is a literal, usable domain name whose
//! record is cached and parses; `a`, `mx` and `exists` targets are literal;
//! no `ptr` (RFC 7208 §5.5: "SHOULD NOT be used"); at most [`MAX_LEVELS`]
//! records and [`MAX_OPS`] steps; no level deeper than the evaluator's
//! nesting cap. Anything else is evaluated the ordinary way. So is any
//! check the plan's loop cannot finish with answers at hand: it then hands
//! the answers it got to the ordinary evaluator, which starts over and
//! gives the result (errors and limits included), so results are the
//! ordinary evaluator's by construction; `tests/spf_plan.rs` compares both
//! on the OpenSPF suites and on random graphs.
//!
//! This module is pure: it builds from entries handed to it and holds no
//! DNS logic.

use std::sync::Arc;
use std::time::Instant;

use super::cache::RecordOutcome;
use super::eval::MAX_DEPTH;
use super::record::{Mechanism, Record};

/// Most records in one plan.
pub(crate) const MAX_LEVELS: usize = 64;
/// Most steps in one plan (a DAG is unfolded into a tree; this bounds the
/// unfolding, and so the work and memory of building).
pub(crate) const MAX_OPS: usize = 512;

/// How a record level was entered from its parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Via {
    Include,
    Redirect,
}

/// One record of a plan.
#[derive(Debug)]
pub(crate) struct Level {
    pub record: Arc<Record>,
    /// The usable domain of the record, which is also its target as
    /// written by the parent (a literal); for the top level, the cache key
    /// it was built for (a check uses the name it was given instead).
    pub domain: Box<str>,
    /// The level whose `include`/`redirect` entered this one (unused for
    /// the top level).
    pub parent: usize,
    /// `None` for the top level.
    pub via: Option<Via>,
    /// The parent's directive that entered this level (the parent's number
    /// of directives for its `redirect`).
    pub at: usize,
    /// The step after this level's own steps: where the parent goes on
    /// when this level does not decide it (§5.2).
    pub end: usize,
}

/// One step of a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    /// Directive `idx` of `level`: a mechanism other than `include`.
    Directive { level: usize, idx: usize },
    /// The `include` at directive `idx` of `level` (or its `redirect`, `idx`
    /// = number of directives): counts the term; the entered level's steps
    /// follow.
    Enter { level: usize, idx: usize },
    /// The end of `level`'s directives, without `redirect`: the default
    /// result, neutral (§4.7).
    End { level: usize },
}

/// A compiled policy (see the [module docs](self)).
#[derive(Debug)]
pub(crate) struct Plan {
    pub levels: Vec<Level>,
    pub ops: Vec<Op>,
}

impl Plan {
    /// The usable domain of `level`, where the top level's is `top`.
    pub fn domain<'a>(&'a self, level: usize, top: &'a str) -> &'a str {
        match self.levels.get(level) {
            Some(l) if level != 0 => &l.domain,
            _ => top,
        }
    }
}

impl Plan {
    /// The record of `domain` in this plan.
    pub fn record(&self, domain: &str) -> Option<&Arc<Record>> {
        self.levels
            .iter()
            .find(|l| l.domain.eq_ignore_ascii_case(domain))
            .map(|l| &l.record)
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

enum Stop {
    Refused,
    Missing,
}

struct Builder<F> {
    lookup: F,
    levels: Vec<Level>,
    ops: Vec<Op>,
    expires: Instant,
}

/// Builds the plan of `domain`, whose record is `top` (valid until
/// `expires`); `lookup` gives a cached record outcome and its expiry by
/// domain.
pub(crate) fn build<F>(domain: &str, top: Arc<Record>, expires: Instant, lookup: F) -> Built
where
    F: FnMut(&str) -> Option<(RecordOutcome, Instant)>,
{
    let mut b = Builder {
        lookup,
        levels: Vec::new(),
        ops: Vec::new(),
        expires,
    };
    match b.level(top, domain, 0, None, 0, 0) {
        Ok(()) => Built::Plan(
            Plan {
                levels: b.levels,
                ops: b.ops,
            },
            b.expires,
        ),
        Err(Stop::Refused) => Built::Refused(b.expires),
        Err(Stop::Missing) => Built::Missing,
    }
}

impl<F> Builder<F>
where
    F: FnMut(&str) -> Option<(RecordOutcome, Instant)>,
{
    /// The cached record of `target`.
    fn fetch(&mut self, target: &str) -> Result<Arc<Record>, Stop> {
        let (outcome, expires) = (self.lookup)(target).ok_or(Stop::Missing)?;
        self.expires = self.expires.min(expires);
        match outcome {
            RecordOutcome::Record(r) => Ok(r),
            // `none` or a permerror at an include/redirect target: rare,
            // and its wording belongs to the ordinary evaluator.
            _ => Err(Stop::Refused),
        }
    }

    /// Lays out `record` (entered via `via` at `parent`'s directive `at`,
    /// at nesting `depth`) and everything it reaches.
    fn level(
        &mut self,
        record: Arc<Record>,
        domain: &str,
        parent: usize,
        via: Option<Via>,
        at: usize,
        depth: usize,
    ) -> Result<(), Stop> {
        if self.levels.len() >= MAX_LEVELS {
            return Err(Stop::Refused);
        }
        let me = self.levels.len();
        self.levels.push(Level {
            record: record.clone(),
            domain: domain.into(),
            parent,
            via,
            at,
            end: 0,
        });
        for (idx, d) in record.directives.iter().enumerate() {
            if self.ops.len() >= MAX_OPS {
                return Err(Stop::Refused);
            }
            let literal = |s: &Option<super::macros::MacroString>| {
                s.as_ref().is_none_or(|s| s.literal_domain().is_some())
            };
            match &d.mechanism {
                Mechanism::Include { domain: spec } => {
                    let Some(target) = spec.usable_literal() else {
                        return Err(Stop::Refused);
                    };
                    self.enter(me, idx, target, Via::Include, depth)?;
                }
                Mechanism::Ptr { .. } => return Err(Stop::Refused),
                Mechanism::A { domain, .. } | Mechanism::Mx { domain, .. } if !literal(domain) => {
                    return Err(Stop::Refused);
                }
                Mechanism::Exists { domain } if domain.literal_domain().is_none() => {
                    return Err(Stop::Refused);
                }
                _ => self.ops.push(Op::Directive { level: me, idx }),
            }
        }
        match &record.redirect {
            Some(spec) => {
                let Some(target) = spec.usable_literal() else {
                    return Err(Stop::Refused);
                };
                self.enter(me, record.directives.len(), target, Via::Redirect, depth)
            }
            None => {
                self.ops.push(Op::End { level: me });
                Ok(())
            }
        }
    }

    /// The `include`/`redirect` at `idx` of `level` (at nesting `depth`),
    /// entering `target`.
    fn enter(
        &mut self,
        level: usize,
        idx: usize,
        target: &str,
        via: Via,
        depth: usize,
    ) -> Result<(), Stop> {
        // The evaluator's nesting cap is a permerror of its own.
        if depth >= MAX_DEPTH || self.ops.len() >= MAX_OPS {
            return Err(Stop::Refused);
        }
        self.ops.push(Op::Enter { level, idx });
        let record = self.fetch(target)?;
        let child = self.levels.len();
        self.level(record, target, level, Some(via), idx, depth + 1)?;
        let end = self.ops.len();
        if let Some(c) = self.levels.get_mut(child) {
            c.end = end;
        }
        Ok(())
    }
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
                Enter { level: 0, idx: 0 },
                Directive { level: 1, idx: 0 },
                Enter { level: 1, idx: 1 },
                Directive { level: 2, idx: 0 },
                End { level: 2 },
                Directive { level: 0, idx: 1 },
                Directive { level: 0, idx: 2 },
                End { level: 0 },
            ]
        );
        assert_eq!(p.levels.len(), 3);
        assert_eq!((p.levels[1].end, p.levels[1].at), (5, 0));
        assert_eq!(p.levels[2].via, Some(Via::Redirect));
        assert_eq!(&*p.levels[2].domain, "b.example");
        assert_eq!(p.domain(0, "Top.Example"), "Top.Example");
        assert_eq!(p.domain(2, "Top.Example"), "b.example");
        assert!(Arc::ptr_eq(
            p.record("B.example").unwrap(),
            &p.levels[2].record
        ));
        assert!(Arc::ptr_eq(
            p.record("top.example").unwrap(),
            &p.levels[0].record
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
