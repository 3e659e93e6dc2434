//! What the kernel must send so that every enabled rule sees every event it could match:
//! per event type, whether failed calls matter and which paths opens may have. The probes
//! turn this into in-kernel filters; anything not proven unneeded is sent.

use crate::Ruleset;
use peregrine_event::EventType;
use std::collections::{BTreeMap, BTreeSet};

/// The paths an open must have for some rule to match it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathNeed {
    /// Any path may matter.
    Any,
    /// Only names equal to one of `exact` or starting with one of `prefixes` (normalised
    /// absolute names, as `fd.name` shows them).
    Only {
        exact: BTreeSet<String>,
        prefixes: BTreeSet<String>,
    },
}

impl PathNeed {
    fn union(&mut self, other: &PathNeed) {
        match (&mut *self, other) {
            (PathNeed::Any, _) => {}
            (_, PathNeed::Any) => *self = PathNeed::Any,
            (
                PathNeed::Only { exact, prefixes },
                PathNeed::Only {
                    exact: e2,
                    prefixes: p2,
                },
            ) => {
                exact.extend(e2.iter().cloned());
                prefixes.extend(p2.iter().cloned());
            }
        }
    }

    /// Whether a normalised name can matter.
    pub fn admits(&self, name: &str) -> bool {
        match self {
            PathNeed::Any => true,
            PathNeed::Only { exact, prefixes } => {
                exact.contains(name) || prefixes.iter().any(|p| name.starts_with(p.as_str()))
            }
        }
    }
}

/// What the enabled rules of one event type need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeNeed {
    /// Some rule can match a call that failed.
    pub failed: bool,
    /// For opens: the names some rule can match.
    pub paths: PathNeed,
}

impl Ruleset {
    /// Per event type with enabled rules, what they need from the kernel.
    pub fn kernel_needs(&self) -> BTreeMap<EventType, TypeNeed> {
        let mut out: BTreeMap<EventType, TypeNeed> = BTreeMap::new();
        for r in self.enabled_rules() {
            for t in r.evttypes.iter() {
                let cond = r.condition.specialise(t, &self.slots);
                let Some(need) = crate::eval::guard::type_need(&cond, &self.slots, t) else {
                    continue;
                };
                match out.get_mut(&t) {
                    Some(have) => {
                        have.failed |= need.failed;
                        have.paths.union(&need.paths);
                    }
                    None => {
                        out.insert(t, need);
                    }
                }
            }
        }
        out
    }
}
