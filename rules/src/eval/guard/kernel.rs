//! What the kernel must send for one rule on one event type, read off its condition:
//! whether a failed call can match it, which opens can (by name, mode, task name), and
//! whether it reads the fd table.

use super::atoms::top_conjuncts;
use crate::eval::matcher::{Matcher, Ord4, StrMatcher};
use crate::eval::{Check, Node, SlotDef};
use crate::interest::{NameTests, OpenNeed, PathNeed, TypeNeed};
use peregrine_event::EventType;

/// Longest task name the kernel keeps (`TASK_COMM_LEN` less its NUL).
const COMM_MAX: usize = 15;

/// The need of one rule's condition, specialised to `t` (`Const(false)`: it needs nothing).
/// `reads_fds`: whether the rule reads fd-table fields at all (condition or output).
pub(crate) fn type_need(
    cond: &Node,
    defs: &[SlotDef],
    t: EventType,
    reads_fds: bool,
) -> Option<TypeNeed> {
    if matches!(cond, Node::Const(false)) {
        return None;
    }
    let mut conjuncts = Vec::new();
    top_conjuncts(cond, &mut conjuncts);
    let failed = !conjuncts.iter().any(|n| requires_success(n, defs, t));
    let paths = if t.is_open() {
        let write_only = conjuncts.iter().any(|n| requires_write(n, defs));
        match (name_tests(cond, defs), write_only) {
            (None, false) => PathNeed::Any,
            (None, true) => PathNeed::Only(OpenNeed {
                write_any: true,
                ..OpenNeed::default()
            }),
            (Some(tests), false) => PathNeed::Only(OpenNeed {
                any: tests,
                ..OpenNeed::default()
            }),
            (Some(tests), true) => PathNeed::Only(OpenNeed {
                write: tests,
                ..OpenNeed::default()
            }),
        }
    } else {
        PathNeed::Any
    };
    let reads_fds = reads_fds && !conjuncts.iter().any(|n| requires_socket(n, defs));
    Some(TypeNeed {
        failed,
        paths,
        reads_fds,
    })
}

fn check_of(node: &Node) -> Option<&Check> {
    match node {
        Node::Memo { inner, .. } => check_of(inner),
        Node::Check(c) => Some(c),
        _ => None,
    }
}

/// A conjunct that no failed call satisfies: `evt.rawres >= 0`, `evt.res = SUCCESS`,
/// `evt.failed = false`, and on opens `fd.num >= 0` (there the fd is the return value).
fn requires_success(node: &Node, defs: &[SlotDef], t: EventType) -> bool {
    let Some(c) = check_of(node) else {
        return false;
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

/// `evt.is_open_write = true` (the `open_write` macro): only opens for writing match.
fn requires_write(node: &Node, defs: &[SlotDef]) -> bool {
    let Some(c) = check_of(node) else {
        return false;
    };
    defs[c.slot].field.name() == "evt.is_open_write"
        && defs[c.slot].transforms.is_empty()
        && matches!(c.matcher, Matcher::Bool(b) if b != c.negate)
}

/// `fd.type in (ipv4, ipv6)` and the like: only a socket's fd matches, never a file's.
fn requires_socket(node: &Node, defs: &[SlotDef]) -> bool {
    const SOCKETS: &[&str] = &["ipv4", "ipv6", "unix", "netlink", "4", "6", "u"];
    let Some(c) = check_of(node) else {
        return false;
    };
    let name = defs[c.slot].field.name();
    if c.negate || !defs[c.slot].transforms.is_empty() || !matches!(name, "fd.type" | "fd.typechar")
    {
        return false;
    }
    match &c.matcher {
        Matcher::Str(StrMatcher::Eq(x)) => SOCKETS.contains(&&**x),
        Matcher::Str(StrMatcher::Set(xs)) => {
            !xs.is_empty() && xs.iter().all(|x| SOCKETS.contains(&&**x))
        }
        _ => false,
    }
}

/// Tests on an open one of which holds whenever `node` does; `None` when the kernel
/// cannot test what it needs.
fn name_tests(node: &Node, defs: &[SlotDef]) -> Option<NameTests> {
    match node {
        Node::Memo { inner, .. } => name_tests(inner, defs),
        Node::Const(false) => Some(NameTests::default()),
        Node::Or(items) => {
            let mut out = NameTests::default();
            for n in items.iter() {
                out.union(&name_tests(n, defs)?);
            }
            Some(out)
        }
        // Any operand's tests will do: the narrowest.
        Node::And(items) => items
            .iter()
            .filter_map(|n| name_tests(n, defs))
            .min_by_key(breadth),
        Node::Check(c) => check_tests(c, defs),
        _ => None,
    }
}

/// A rough measure of how many opens the tests let through, to pick among an `and`'s
/// operands: a short prefix lets through the most.
fn breadth(t: &NameTests) -> usize {
    let prefixes: usize = t
        .prefixes
        .iter()
        .map(|p| 1000usize.saturating_sub(10 * p.len()).max(10))
        .sum();
    t.exact.len() + t.comms.len() + prefixes + if t.dotdot { 50 } else { 0 }
}

fn check_tests(c: &Check, defs: &[SlotDef]) -> Option<NameTests> {
    let def = &defs[c.slot];
    if c.negate || !def.transforms.is_empty() {
        return None;
    }
    let Matcher::Str(m) = &c.matcher else {
        return None;
    };
    let mut out = NameTests::default();
    match (def.field.name(), m) {
        ("fd.name", StrMatcher::Eq(x)) => {
            out.exact.insert(x.to_string());
        }
        ("fd.name", StrMatcher::Set(xs)) => out.exact.extend(xs.iter().map(|x| x.to_string())),
        ("fd.name", StrMatcher::StartsWith(p)) => {
            out.prefixes.insert(p.to_string());
        }
        ("fd.name", StrMatcher::StartsWithAny(ps)) => {
            out.prefixes.extend(ps.iter().map(|p| p.to_string()))
        }
        ("fd.name", StrMatcher::Glob(g)) => {
            let p = g.literal_prefix();
            if p.is_empty() {
                return None;
            }
            out.prefixes.insert(p);
        }
        // The name is the directory, '/', the file name.
        ("fd.directory", StrMatcher::Eq(d)) => {
            out.prefixes.insert(dir_prefix(d));
        }
        ("fd.directory", StrMatcher::Set(ds)) => {
            out.prefixes.extend(ds.iter().map(|d| dir_prefix(d)))
        }
        ("fd.directory", StrMatcher::StartsWith(p)) => {
            out.prefixes.insert(p.to_string());
        }
        ("fd.directory", StrMatcher::StartsWithAny(ps)) => {
            out.prefixes.extend(ps.iter().map(|p| p.to_string()))
        }
        // A needle holding "../" is found only in a name holding it.
        ("fd.name" | "fd.nameraw", m) if m.contains_needles().is_some() => {
            let needles = m.contains_needles().expect("checked");
            let dotdot = |n: &&[u8]| n.windows(3).any(|w| w == b"../");
            if needles.is_empty() || !needles.iter().all(dotdot) {
                return None;
            }
            out.dotdot = true;
        }
        ("proc.name", StrMatcher::Eq(x)) if x.len() <= COMM_MAX => {
            out.comms.insert(x.to_string());
        }
        ("proc.name", StrMatcher::Set(xs)) if xs.iter().all(|x| x.len() <= COMM_MAX) => {
            out.comms.extend(xs.iter().map(|x| x.to_string()))
        }
        _ => return None,
    }
    Some(out)
}

fn dir_prefix(d: &str) -> String {
    if d.ends_with('/') {
        d.to_string()
    } else {
        format!("{d}/")
    }
}
