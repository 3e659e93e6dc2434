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
use aho_corasick::{AhoCorasick, AhoCorasickKind};
use peregrine_event::EventType;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::Arc;

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// A set of rule positions within one event type's candidate list.
pub(crate) type Mask = Box<[u64]>;

/// One test of a field: `slot` equals one of `exact`, starts with one of `prefixes`, ends
/// with one of `suffixes` or contains one of `contains`, or else a check evaluated as it is.
/// An atom may be weaker than the check it comes from (a glob's literal prefix), never
/// stronger.
#[derive(Default)]
struct Index {
    exact: Vec<String>,
    prefixes: Vec<String>,
    suffixes: Vec<String>,
    contains: Vec<Vec<u8>>,
}

enum Atom<'a> {
    Index(usize, Index),
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
        Node::Check(c) if !cheap(&defs[c.slot]) || !cheap_matcher(c) => false,
        Node::Check(c) => {
            let mut index = Index::default();
            match &c.matcher {
                _ if c.negate => {}
                Matcher::Str(StrMatcher::Eq(x)) => index.exact.push(x.to_string()),
                Matcher::Str(StrMatcher::Set(xs)) => {
                    index.exact.extend(xs.iter().map(|x| x.to_string()))
                }
                Matcher::Str(StrMatcher::StartsWith(p)) => index.prefixes.push(p.to_string()),
                Matcher::Str(StrMatcher::StartsWithAny(ps)) => {
                    index.prefixes.extend(ps.iter().map(|p| p.to_string()))
                }
                Matcher::Str(StrMatcher::EndsWith(p)) => index.suffixes.push(p.to_string()),
                Matcher::Str(StrMatcher::Contains(f)) if !f.needle().is_empty() => {
                    index.contains.push(f.needle().to_vec())
                }
                Matcher::Str(StrMatcher::ContainsAny(ac)) if ac.1.iter().all(|n| !n.is_empty()) => {
                    index.contains.extend(ac.1.iter().map(|n| n.to_vec()))
                }
                Matcher::Str(StrMatcher::Glob(g)) => {
                    let p = g.literal_prefix();
                    if p.is_empty() {
                        return false;
                    }
                    index.prefixes.push(p);
                }
                _ => {}
            }
            let empty = index.exact.is_empty()
                && index.prefixes.is_empty()
                && index.suffixes.is_empty()
                && index.contains.is_empty();
            out.push(if empty {
                Atom::Direct(c)
            } else {
                Atom::Index(c.slot, index)
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

fn cheap_matcher(c: &Check) -> bool {
    match &c.matcher {
        // Indexed, whatever their number: one search per field for all of them, on fields
        // read in place (a rendered field like `thread.cap_effective` costs too much to
        // compute for every event).
        Matcher::Str(StrMatcher::Contains(_) | StrMatcher::ContainsAny(_)) => {
            !c.negate && c.fast.is_some()
        }
        // Only its literal prefix is indexed.
        Matcher::Str(StrMatcher::Glob(g)) => {
            !c.negate && c.fast.is_some() && !g.literal_prefix().is_empty()
        }
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
    /// Rejects most values that are no key of `exact` before hashing them.
    filter: LenFilter,
    exact: FxMap<Box<str>, Mask>,
    prefixes: Vec<(Box<str>, Mask)>,
    /// Per prefix, its first 8 bytes and their mask: compared as one word before the
    /// prefix itself.
    prefix_heads: Vec<(u64, u64)>,
    suffixes: Vec<(Box<str>, Mask)>,
    /// One multi-pattern search for every `contains` needle, with each needle's guards.
    contains: Option<(AhoCorasick, Vec<Mask>)>,
    /// Every guard with an atom on this field: the answer when the value is not a plain
    /// string.
    all: Mask,
}

/// A 512-bit filter on (length, last byte) of a set's strings: hashing a whole path only
/// to miss is most of a lookup's cost, and most values share no length and last byte with
/// any key.
#[derive(Debug, Default)]
struct LenFilter([u64; 8]);

impl LenFilter {
    #[inline]
    fn bit(s: &str) -> usize {
        let last = s.as_bytes().last().copied().unwrap_or(0) as usize;
        (s.len().wrapping_mul(37) ^ last.wrapping_mul(151)) % 512
    }

    fn insert(&mut self, s: &str) {
        let b = Self::bit(s);
        self.0[b / 64] |= 1 << (b % 64);
    }

    #[inline]
    fn may_contain(&self, s: &str) -> bool {
        let b = Self::bit(s);
        self.0[b / 64] & (1 << (b % 64)) != 0
    }
}

/// The first 8 bytes of `b` as a little-endian word, zero-padded.
#[inline]
fn head8(b: &[u8]) -> u64 {
    let mut buf = [0u8; 8];
    let n = b.len().min(8);
    buf[..n].copy_from_slice(&b[..n]);
    u64::from_le_bytes(buf)
}

/// A [`SlotIndex`] being built.
struct SlotBuilder {
    slot: usize,
    exact: FxMap<Box<str>, Mask>,
    prefixes: Vec<(Box<str>, Mask)>,
    suffixes: Vec<(Box<str>, Mask)>,
    contains: Vec<(Box<[u8]>, Mask)>,
    all: Mask,
}

fn add_to<K: PartialEq>(list: &mut Vec<(K, Mask)>, key: K, id: usize, words: usize) {
    match list.iter_mut().find(|(k, _)| *k == key) {
        Some((_, m)) => set_bit(m, id),
        None => {
            let mut m = mask(words);
            set_bit(&mut m, id);
            list.push((key, m));
        }
    }
}

impl SlotBuilder {
    fn build(self) -> SlotIndex {
        let contains = (!self.contains.is_empty()).then(|| {
            let (needles, masks): (Vec<_>, Vec<_>) = self.contains.into_iter().unzip();
            let ac = AhoCorasick::builder()
                .kind(Some(AhoCorasickKind::DFA))
                .prefilter(false)
                .build(&needles)
                .expect("needles from the rules compile");
            (ac, masks)
        });
        let mut filter = LenFilter::default();
        for k in self.exact.keys() {
            filter.insert(k);
        }
        let prefix_heads = self
            .prefixes
            .iter()
            .map(|(p, _)| {
                let n = p.len().min(8);
                let mask = if n == 8 {
                    u64::MAX
                } else {
                    (1u64 << (8 * n)) - 1
                };
                (head8(p.as_bytes()), mask)
            })
            .collect();
        SlotIndex {
            slot: self.slot,
            prefix_heads,
            filter,
            exact: self.exact,
            prefixes: self.prefixes,
            suffixes: self.suffixes,
            contains,
            all: self.all,
        }
    }
}

impl SlotIndex {
    /// Adds the guards that hold when the field's value is `v`.
    #[inline]
    fn lookup(&self, v: &str, passed: &mut [u64]) {
        if self.filter.may_contain(v) {
            if let Some(m) = self.exact.get(v) {
                or_into(passed, m);
            }
        }
        if !self.prefixes.is_empty() {
            let head = head8(v.as_bytes());
            for ((p, m), &(want, mask)) in self.prefixes.iter().zip(&self.prefix_heads) {
                if head & mask == want && v.starts_with(&**p) {
                    or_into(passed, m);
                }
            }
        }
        for (p, m) in &self.suffixes {
            if v.ends_with(&**p) {
                or_into(passed, m);
            }
        }
        if let Some((ac, masks)) = &self.contains {
            for hit in ac.find_overlapping_iter(v) {
                or_into(passed, &masks[hit.pattern().as_usize()]);
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
        // Except when the field is read in place from the event: then the check costs about
        // as much up front as within the rule, and a failing one skips the whole rule.
        // That is only worth it for rules with no other guard: otherwise the other guard
        // usually rejects the event first, and the check would cost every event.
        for guards in &mut per_rule {
            let shared = |a: &Atom<'_>| match a {
                Atom::Direct(c) => uses[&key(c)] >= 2,
                Atom::Index(..) => true,
            };
            let fast = |a: &Atom<'_>| match a {
                Atom::Direct(c) => c.fast.is_some(),
                Atom::Index(..) => true,
            };
            if guards.iter().any(|atoms| atoms.iter().all(shared)) {
                guards.retain(|atoms| atoms.iter().all(shared));
            } else {
                guards.retain(|atoms| atoms.iter().all(|a| shared(a) || fast(a)));
            }
        }
        let words = per_rule.iter().map(Vec::len).sum::<usize>().div_ceil(64);
        let mut builders: Vec<SlotBuilder> = Vec::new();
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
                    let (slot, index) = match a {
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
                        Atom::Index(slot, index) => (slot, index),
                    };
                    let pos = match builders.iter().position(|s| s.slot == slot) {
                        Some(p) => p,
                        None => {
                            builders.push(SlotBuilder {
                                slot,
                                exact: FxMap::default(),
                                prefixes: Vec::new(),
                                suffixes: Vec::new(),
                                contains: Vec::new(),
                                all: mask(words),
                            });
                            builders.len() - 1
                        }
                    };
                    let s = &mut builders[pos];
                    set_bit(&mut s.all, id);
                    for x in index.exact {
                        set_bit(s.exact.entry(x.into()).or_insert_with(|| mask(words)), id);
                    }
                    for (list, items) in [
                        (&mut s.prefixes, index.prefixes),
                        (&mut s.suffixes, index.suffixes),
                    ] {
                        for p in items {
                            add_to(list, p.into(), id, words);
                        }
                    }
                    for p in index.contains {
                        add_to(&mut s.contains, p.into(), id, words);
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
        let slots = builders.into_iter().map(SlotBuilder::build).collect();
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
        let (idx, _) = index("evt.type = openat and fd.name glob '*x'", "openat");
        assert!(
            idx.slots.is_empty() && idx.direct.is_empty(),
            "a glob without a literal prefix is no guard"
        );
        assert!(idx.may_match(0, &vec![0; idx.words]));
    }

    fn passes(idx: &TypeIndex, slots: &SlotTable, ev: &peregrine_event::Event) -> bool {
        let mut scratch = crate::eval::Scratch::new(slots.defs.len(), 0);
        scratch.next_event(slots.defs.len(), 0);
        let mut cx = Ctx {
            ev,
            defs: &slots.defs,
            scratch: &mut scratch,
        };
        let mut passed = Vec::new();
        idx.passed(&mut cx, &mut passed);
        idx.may_match(0, &passed)
    }

    #[test]
    fn contains_suffix_and_glob_prefix_guards() {
        use peregrine_event::{Event, FdInfo, FdKind, ProcessInfo};
        let cond = "evt.type = openat and (fd.name contains /.ssh/ or fd.name contains id_rsa \
                    or fd.name endswith .pem or fd.name glob '/proc/*/environ')";
        let (idx, slots) = index(cond, "openat");
        assert_eq!(idx.slots.len(), 1);
        let t = EventType::from_name("openat").unwrap();
        let ev = |name: &str| {
            let mut ev = Event::new(t, 0, 1, vec![]);
            ev.process = Some(std::sync::Arc::new(ProcessInfo::default()));
            ev.fd = Some(std::sync::Arc::new(FdInfo {
                num: 3,
                kind: FdKind::File,
                name: name.into(),
                ..Default::default()
            }));
            ev
        };
        for (name, want) in [
            ("/home/a/.ssh/known_hosts", true),
            ("/root/id_rsa.pub", true),
            ("/etc/ssl/x.pem", true),
            ("/proc/1/environ", true),
            ("/proc/1/status", true),
            ("/etc/passwd", false),
            ("/tmp/ssh", false),
        ] {
            assert_eq!(passes(&idx, &slots, &ev(name)), want, "{name}");
        }
    }
}
