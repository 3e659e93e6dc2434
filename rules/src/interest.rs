//! What the kernel must send so that every enabled rule sees every event it could match:
//! per event type, whether failed calls matter, which opens may matter (by name, mode
//! and task name), and whether a rule reads a regular file's entry in the fd table. The
//! probes turn this into in-kernel filters; anything not proven unneeded is sent.

use crate::Ruleset;
use peregrine_event::EventType;
use std::collections::{BTreeMap, BTreeSet};

/// Tests on an open the kernel can make before sending it: some rule may match it only if
/// one of them holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NameTests {
    /// `fd.name` equals one of these (normalised, absolute names).
    pub exact: BTreeSet<String>,
    /// `fd.name` starts with one of these.
    pub prefixes: BTreeSet<String>,
    /// `proc.name` is one of these (task names: at most 15 bytes).
    pub comms: BTreeSet<String>,
    /// The name as the process gave it holds `../` (`fd.nameraw contains '../'`).
    pub dotdot: bool,
}

impl NameTests {
    pub(crate) fn union(&mut self, other: &NameTests) {
        self.exact.extend(other.exact.iter().cloned());
        self.prefixes.extend(other.prefixes.iter().cloned());
        self.comms.extend(other.comms.iter().cloned());
        self.dotdot |= other.dotdot;
    }

    /// Whether an open of normalised name `name`, given as `raw`, by a task named `comm`
    /// passes one of the tests.
    pub fn admit(&self, name: &str, raw: &str, comm: &str) -> bool {
        self.exact.contains(name)
            || self.prefixes.iter().any(|p| name.starts_with(p.as_str()))
            || self.comms.contains(comm)
            || (self.dotdot && raw.contains("../"))
    }
}

/// Which opens some rule can match.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpenNeed {
    /// Any open passing one of these tests.
    pub any: NameTests,
    /// Opens for writing passing one of these (rules with `evt.is_open_write = true`).
    pub write: NameTests,
    /// Every open for writing.
    pub write_any: bool,
}

impl OpenNeed {
    /// Whether an open (`write`: for writing) of normalised name `name`, given as `raw`,
    /// by a task named `comm` can matter.
    pub fn admits(&self, name: &str, raw: &str, comm: &str, write: bool) -> bool {
        self.any.admit(name, raw, comm)
            || (write && (self.write_any || self.write.admit(name, raw, comm)))
    }
}

/// The opens some rule can match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathNeed {
    /// Any open may matter.
    Any,
    Only(OpenNeed),
}

impl PathNeed {
    fn union(&mut self, other: &PathNeed) {
        match (&mut *self, other) {
            (PathNeed::Any, _) => {}
            (_, PathNeed::Any) => *self = PathNeed::Any,
            (PathNeed::Only(a), PathNeed::Only(b)) => {
                a.any.union(&b.any);
                a.write.union(&b.write);
                a.write_any |= b.write_any;
            }
        }
    }

    /// Whether an open can matter (see [`OpenNeed::admits`]).
    pub fn admits(&self, name: &str, raw: &str, comm: &str, write: bool) -> bool {
        match self {
            PathNeed::Any => true,
            PathNeed::Only(need) => need.admits(name, raw, comm, write),
        }
    }
}

/// What the enabled rules of one event type need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeNeed {
    /// Some rule can match a call that failed.
    pub failed: bool,
    /// For opens: which ones some rule can match.
    pub paths: PathNeed,
    /// Some rule reads the fd table's entry of the event's fd (an `fd.*` field, the fd
    /// argument rendered, `evt.args`), which may be a regular file.
    pub reads_fds: bool,
}

impl Ruleset {
    /// Per event type with enabled rules, what they need from the kernel.
    pub fn kernel_needs(&self) -> BTreeMap<EventType, TypeNeed> {
        let mut out: BTreeMap<EventType, TypeNeed> = BTreeMap::new();
        for r in self.enabled_rules() {
            let reads_fds = r.fields.iter().any(|f| reads_fd_table(f.name()));
            for t in r.evttypes.iter() {
                let cond = r.condition.specialise(t, &self.slots);
                let Some(need) = crate::eval::guard::type_need(&cond, &self.slots, t, reads_fds)
                else {
                    continue;
                };
                match out.get_mut(&t) {
                    Some(have) => {
                        have.failed |= need.failed;
                        have.paths.union(&need.paths);
                        have.reads_fds |= need.reads_fds;
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

/// Whether a field (canonical name) reads the event's fd-table entry.
fn reads_fd_table(name: &str) -> bool {
    name.starts_with("fd.")
        || matches!(name, "evt.args" | "evt.info" | "evt.arg.fd")
        || name.starts_with("evt.arg[")
}
