//! What the kernel must send for one rule on one event type, read off its guards: whether
//! a failed call can match it, and which paths its opens can have.

use super::atoms::{guards, top_conjuncts, Atom};
use crate::eval::matcher::{Matcher, Ord4, StrMatcher};
use crate::eval::{Node, SlotDef};
use crate::interest::{PathNeed, TypeNeed};
use peregrine_event::EventType;
use std::collections::BTreeSet;

/// The need of one rule's condition, specialised to `t` (`Const(false)`: it needs nothing).
pub(crate) fn type_need(cond: &Node, defs: &[SlotDef], t: EventType) -> Option<TypeNeed> {
    if matches!(cond, Node::Const(false)) {
        return None;
    }
    let mut conjuncts = Vec::new();
    top_conjuncts(cond, &mut conjuncts);
    let failed = !conjuncts.iter().any(|n| requires_success(n, defs, t));
    let paths = if t.is_open() {
        path_need(cond, defs, t)
    } else {
        PathNeed::Any
    };
    Some(TypeNeed { failed, paths })
}

/// A conjunct that no failed call satisfies: `evt.rawres >= 0`, `evt.res = SUCCESS`,
/// `evt.failed = false`, and on opens `fd.num >= 0` (there the fd is the return value).
fn requires_success(node: &Node, defs: &[SlotDef], t: EventType) -> bool {
    let c = match node {
        Node::Memo { inner, .. } => return requires_success(inner, defs, t),
        Node::Check(c) => c,
        _ => return false,
    };
    let name = defs[c.slot].field.name();
    if !defs[c.slot].transforms.is_empty() {
        return false;
    }
    let non_negative = |m: &Matcher| match m {
        Matcher::Num(Ord4::Ge, v) | Matcher::Num(Ord4::Eq, v) => *v >= 0,
        Matcher::Num(Ord4::Gt, v) => *v >= -1,
        Matcher::NumSet(set) => !set.is_empty() && set.iter().all(|v| *v >= 0),
        _ => false,
    };
    match name {
        "evt.rawres" => !c.negate && non_negative(&c.matcher),
        "fd.num" => t.is_open() && !c.negate && non_negative(&c.matcher),
        "evt.res" => {
            !c.negate && matches!(&c.matcher, Matcher::Str(StrMatcher::Eq(x)) if &**x == "SUCCESS")
        }
        "evt.failed" => matches!(c.matcher, Matcher::Bool(b) if b == c.negate),
        _ => false,
    }
}

/// The paths an open must have for the rule to match: the first guard all of whose atoms
/// are exact names or prefixes of `fd.name` (or `fd.directory`, as a prefix of the name).
fn path_need(cond: &Node, defs: &[SlotDef], t: EventType) -> PathNeed {
    'guards: for g in guards(cond, defs, t) {
        let mut exact = BTreeSet::new();
        let mut prefixes = BTreeSet::new();
        for atom in &g.atoms {
            let Atom::Index(slot, index) = atom else {
                continue 'guards;
            };
            if !index.suffixes.is_empty() || !index.contains.is_empty() {
                continue 'guards;
            }
            match defs[*slot].field.name() {
                "fd.name" => {
                    exact.extend(index.exact.iter().cloned());
                    prefixes.extend(index.prefixes.iter().cloned());
                }
                // The name is the directory, '/', the file name.
                "fd.directory" => {
                    for d in &index.exact {
                        prefixes.insert(if d.ends_with('/') {
                            d.clone()
                        } else {
                            format!("{d}/")
                        });
                    }
                    prefixes.extend(index.prefixes.iter().cloned());
                }
                _ => continue 'guards,
            }
        }
        if exact.is_empty() && prefixes.is_empty() {
            continue;
        }
        return PathNeed::Only { exact, prefixes };
    }
    PathNeed::Any
}
