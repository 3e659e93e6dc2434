//! Rule prefiltering. Most rules need some string field to equal one of a few values or to
//! start with one of a few prefixes (`fd.name in (...)`, `proc.name in (...)`,
//! `fd.directory startswith /etc`), and such a necessary condition (a guard) is rarely
//! true. For each event type, the guards of all its rules are merged into one hash map and
//! prefix list per field, so one lookup per field tells which guards hold; only rules whose
//! guards all hold are evaluated in full.

use super::hash::FxHasher;
use super::matcher::{Matcher, StrMatcher};
use super::{Check, Ctx, Node, SlotDef};
use crate::fields::{Borrowed, Value, ValueRef};
use peregrine_event::EventType;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::Arc;

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// A set of rule positions within one event type's candidate list.
pub(crate) type Mask = Box<[u64]>;

/// One test of a field: `slot` equals one of `exact` or starts with one of `prefixes`, or
/// else a check evaluated as it is.
enum Atom<'a> {
    Index {
        slot: usize,
        exact: Vec<&'a str>,
        prefixes: Vec<&'a str>,
    },
    Direct(&'a Arc<Check>),
}

/// The atoms of `node` when it holds only if one of them holds: an `or` of checks, or of
/// `and`s (each needs its first indexable operand).
fn atoms<'a>(node: &'a Node, defs: &[SlotDef], out: &mut Vec<Atom<'a>>) -> bool {
    let len = out.len();
    let ok = atoms_inner(node, defs, out);
    if !ok {
        out.truncate(len);
    }
    ok
}

fn atoms_inner<'a>(node: &'a Node, defs: &[SlotDef], out: &mut Vec<Atom<'a>>) -> bool {
    match node {
        Node::Memo { inner, .. } => atoms(inner, defs, out),
        Node::Or(items) => items.iter().all(|n| atoms(n, defs, out)),
        Node::And(items) => items.iter().any(|n| atoms(n, defs, out)),
        // Guards are computed for every event of the type: only cheap ones pay off.
        Node::Check(c) if !cheap(&defs[c.slot]) || !cheap_matcher(&c.matcher) => false,
        Node::Check(c) => {
            out.push(match &c.matcher {
                _ if c.negate => Atom::Direct(c),
                Matcher::Str(StrMatcher::Eq(x)) => Atom::Index {
                    slot: c.slot,
                    exact: vec![&**x],
                    prefixes: vec![],
                },
                Matcher::Str(StrMatcher::Set(xs)) => Atom::Index {
                    slot: c.slot,
                    exact: xs.iter().map(|x| &**x).collect(),
                    prefixes: vec![],
                },
                Matcher::Str(StrMatcher::StartsWith(p)) => Atom::Index {
                    slot: c.slot,
                    exact: vec![],
                    prefixes: vec![&**p],
                },
                Matcher::Str(StrMatcher::StartsWithAny(ps)) => Atom::Index {
                    slot: c.slot,
                    exact: vec![],
                    prefixes: ps.iter().map(|p| &**p).collect(),
                },
                _ => Atom::Direct(c),
            });
            true
        }
        _ => false,
    }
}

/// Whether a field is cheap to extract: one value read from the event, no joining,
/// rendering or transforming.
fn cheap(def: &SlotDef) -> bool {
    let name = def.field.name();
    def.transforms.is_empty()
        && !def.field.is_any()
        && ![
            "cmdline",
            "args",
            "env",
            "exeline",
            "evt.arg",
            "evt.rawarg",
            "nameraw",
        ]
        .iter()
        .any(|x| name.contains(x))
}

fn cheap_matcher(m: &Matcher) -> bool {
    match m {
        Matcher::Str(s) => matches!(
            s,
            StrMatcher::Eq(_)
                | StrMatcher::Set(_)
                | StrMatcher::StartsWith(_)
                | StrMatcher::StartsWithAny(_)
                | StrMatcher::EndsWith(_)
        ),
        Matcher::Exists
        | Matcher::Num(..)
        | Matcher::NumSet(_)
        | Matcher::Bool(_)
        | Matcher::IpSet(_)
        | Matcher::Net(_) => true,
        Matcher::Modifier(..) | Matcher::Dynamic { .. } => false,
    }
}

/// The necessary conditions of a rule that can be indexed: each is a list of atoms, one of
/// which must hold.
fn guards<'a>(cond: &'a Node, defs: &[SlotDef]) -> Vec<Vec<Atom<'a>>> {
    let conjuncts: &[Node] = match cond {
        Node::And(items) => items,
        other => std::slice::from_ref(other),
    };
    conjuncts
        .iter()
        .filter_map(|n| {
            let mut out = Vec::new();
            // An `and` at the top is no disjunction: its operands are conjuncts already.
            (!matches!(n, Node::And(_)) && atoms(n, defs, &mut out)).then_some(out)
        })
        .collect()
}

/// A check's identity across rules: equal text, equal result.
fn key(c: &Check) -> String {
    format!("{c:?}")
}

/// The lookups for one field; masks are over guard ids.
#[derive(Debug)]
struct SlotIndex {
    slot: usize,
    exact: FxMap<Box<str>, Mask>,
    prefixes: Vec<(Box<str>, Mask)>,
    /// Every guard with an atom on this field: the answer when the value is not a plain
    /// string.
    all: Mask,
}

impl SlotIndex {
    /// Adds the guards that hold when the field's value is `v`.
    #[inline]
    fn lookup(&self, v: &str, passed: &mut [u64]) {
        if let Some(m) = self.exact.get(v) {
            or_into(passed, m);
        }
        for (p, m) in &self.prefixes {
            if v.starts_with(&**p) {
                or_into(passed, m);
            }
        }
    }
}

/// The rules of one event type and what decides which of them to evaluate.
#[derive(Debug, Default)]
pub(crate) struct TypeIndex {
    /// Rule indices, in definition order.
    pub rules: Box<[u32]>,
    /// Their conditions, specialised to this event type.
    pub conds: Box<[Node]>,
    /// Per rule, the guards it needs: `(word, bits)` pairs in `needs[ranges[i]..ranges[i+1]]`.
    ranges: Box<[u32]>,
    needs: Box<[(u32, u64)]>,
    words: usize,
    slots: Vec<SlotIndex>,
    /// Checks that several rules need, evaluated once, with the guards they satisfy.
    direct: Vec<(Arc<Check>, Mask)>,
}

fn mask(words: usize) -> Mask {
    vec![0; words].into()
}

fn set_bit(m: &mut [u64], bit: usize) {
    m[bit / 64] |= 1 << (bit % 64);
}

fn or_into(dst: &mut [u64], src: &[u64]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d |= s;
    }
}

impl TypeIndex {
    /// Indexes `rules` (indices with their conditions, in definition order) for events of
    /// type `t`.
    pub(crate) fn new<'a>(
        t: EventType,
        defs: &[SlotDef],
        rules: impl Iterator<Item = (u32, &'a Node)>,
    ) -> TypeIndex {
        let (rules, conds): (Vec<u32>, Vec<Node>) =
            rules.map(|(i, c)| (i, c.specialise(t))).unzip();
        let mut per_rule: Vec<Vec<Vec<Atom<'_>>>> = conds.iter().map(|c| guards(c, defs)).collect();
        // A check worth evaluating up front is one several rules need; the others are left
        // to each rule's own (short-circuiting) evaluation.
        let mut uses: HashMap<String, usize> = HashMap::new();
        for atom in per_rule.iter().flatten().flatten() {
            if let Atom::Direct(c) = atom {
                *uses.entry(key(c)).or_default() += 1;
            }
        }
        for guards in &mut per_rule {
            guards.retain(|atoms| {
                atoms.iter().all(|a| match a {
                    Atom::Direct(c) => uses[&key(c)] >= 2,
                    Atom::Index { .. } => true,
                })
            });
        }
        let words = per_rule.iter().map(Vec::len).sum::<usize>().div_ceil(64);
        let mut slots: Vec<SlotIndex> = Vec::new();
        let mut direct: Vec<(Arc<Check>, Mask)> = Vec::new();
        let mut direct_keys: Vec<String> = Vec::new();
        let mut ranges = vec![0u32];
        let mut needs: Vec<(u32, u64)> = Vec::new();
        let mut id = 0usize;
        for guards in per_rule {
            let mut need = mask(words);
            for atoms in guards {
                set_bit(&mut need, id);
                for a in atoms {
                    let (slot, exact, prefixes) = match a {
                        Atom::Direct(c) => {
                            let k = key(c);
                            match direct_keys.iter().position(|x| *x == k) {
                                Some(p) => set_bit(&mut direct[p].1, id),
                                None => {
                                    let mut m = mask(words);
                                    set_bit(&mut m, id);
                                    direct.push((c.clone(), m));
                                    direct_keys.push(k);
                                }
                            }
                            continue;
                        }
                        Atom::Index {
                            slot,
                            exact,
                            prefixes,
                        } => (slot, exact, prefixes),
                    };
                    let pos = match slots.iter().position(|s| s.slot == slot) {
                        Some(p) => p,
                        None => {
                            slots.push(SlotIndex {
                                slot,
                                exact: FxMap::default(),
                                prefixes: Vec::new(),
                                all: mask(words),
                            });
                            slots.len() - 1
                        }
                    };
                    let s = &mut slots[pos];
                    set_bit(&mut s.all, id);
                    for x in exact {
                        set_bit(s.exact.entry(x.into()).or_insert_with(|| mask(words)), id);
                    }
                    for p in prefixes {
                        match s.prefixes.iter_mut().find(|(q, _)| **q == *p) {
                            Some((_, m)) => set_bit(m, id),
                            None => {
                                let mut m = mask(words);
                                set_bit(&mut m, id);
                                s.prefixes.push((p.into(), m));
                            }
                        }
                    }
                }
                id += 1;
            }
            needs.extend(
                need.iter()
                    .enumerate()
                    .filter(|(_, b)| **b != 0)
                    .map(|(w, b)| (w as u32, *b)),
            );
            ranges.push(needs.len() as u32);
        }
        TypeIndex {
            rules: rules.into(),
            conds: conds.into(),
            ranges: ranges.into(),
            needs: needs.into(),
            words,
            slots,
            direct,
        }
    }

    /// Fills `passed` with the guards that hold for this event.
    pub(crate) fn passed(&self, cx: &mut Ctx<'_>, passed: &mut Vec<u64>) {
        passed.clear();
        passed.resize(self.words, 0);
        for s in &self.slots {
            match cx.defs[s.slot].field.borrow(cx.ev) {
                Borrowed::Value(ValueRef::Str(v)) => s.lookup(v, passed),
                // Absent: every check on this field is false.
                Borrowed::Missing => {}
                Borrowed::Value(_) => or_into(passed, &s.all),
                Borrowed::NotBorrowable => {
                    cx.scratch.ensure(cx.defs, s.slot, cx.ev);
                    match cx.scratch.value(s.slot) {
                        None => {}
                        Some(Value::Str(v)) => s.lookup(v, passed),
                        Some(_) => or_into(passed, &s.all),
                    }
                }
            }
        }
        for (c, m) in &self.direct {
            if c.eval(cx) {
                or_into(passed, m);
            }
        }
    }

    /// Whether every guard of the rule at `pos` is in `passed`.
    #[inline]
    pub(crate) fn may_match(&self, pos: usize, passed: &[u64]) -> bool {
        let range = self.ranges[pos] as usize..self.ranges[pos + 1] as usize;
        self.needs[range]
            .iter()
            .all(|&(w, bits)| passed[w as usize] & bits == bits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::check::{compile_expr, SlotTable};

    fn index(cond: &str, t: &str) -> (TypeIndex, SlotTable) {
        let ast = crate::parser::parse_condition(cond).expect("parses");
        let mut slots = SlotTable::default();
        let node = compile_expr(&ast, &mut slots).expect("compiles");
        let t = EventType::from_name(t).expect("event type");
        let idx = TypeIndex::new(t, &slots.defs, [(0, &node)].into_iter());
        (idx, slots)
    }

    #[test]
    fn specialised_or_of_types_yields_a_guard() {
        let (idx, _) = index(
            "(evt.type = openat and fd.name startswith /etc) or (evt.type = execve and proc.name = sh)",
            "openat",
        );
        assert_eq!(idx.slots.len(), 1, "only the openat branch remains");
        assert_eq!(idx.slots[0].prefixes.len(), 1);
        let (idx, _) = index("evt.type = openat and fd.name contains x", "openat");
        assert!(
            idx.slots.is_empty() && idx.direct.is_empty(),
            "contains is no guard"
        );
        assert!(idx.may_match(0, &vec![0; idx.words]));
    }
}
