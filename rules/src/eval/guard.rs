//! Rule prefiltering. Most rules need some string field to equal one of a few values or to
//! start with one of a few prefixes (`fd.name in (...)`, `proc.name in (...)`,
//! `fd.directory startswith /etc`), and such a necessary condition (a guard) is rarely
//! true. For each event type, the guards of all its rules are merged into one hash map and
//! prefix list per field, so one lookup per field tells which guards hold; only rules whose
//! guards all hold are evaluated in full.
//!
//! The lookups and the cheap checks that are guards too (`evt.is_open_write = true`,
//! `container.id != host`) are the steps of a plan, cheapest and most selective first.
//! A step runs only while some rule that has a guard on it is still alive, and a rule dies
//! as soon as the last step one of its guards depends on has run without satisfying it.

use super::affix::Affixes;
use super::flagcheck::FlagCheck;
use super::hash::FxHasher;
use super::matcher::Matcher;
use super::needles::Needles;
use super::pathmemo::MAX_WIDTH;
use super::{Check, Ctx, Node, SlotDef};
use crate::fields::{Borrowed, OpenFlag, OpenFlags, PathPart, PathParts, SockKey, Value, ValueRef};
use peregrine_event::EventType;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::Arc;

mod atoms;
mod kernel;

pub(crate) use kernel::type_need;

use atoms::{guards, index_pass_rate, top_conjuncts, Atom, Direct, Guard, Index, SELECTIVE, WEAK};

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// A set of rules within a group (bit `pos - base` for the rule at `pos`).
type Mask = u64;

/// What an atom satisfies: the single-step guards of some rules (bit per rule) and the
/// guards with atoms in several steps (bit per rule, in `aux[k]` for a rule's `k`-th such
/// guard).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Sat {
    single: Mask,
    aux: [Mask; AUX],
}

impl Sat {
    fn all() -> Sat {
        Sat {
            single: Mask::MAX,
            aux: [Mask::MAX; AUX],
        }
    }

    #[inline]
    fn add(&mut self, other: &Sat) {
        self.single |= other.single;
        for (a, b) in self.aux.iter_mut().zip(&other.aux) {
            *a |= b;
        }
    }
}

/// At most this many guards with atoms in several steps per rule.
const AUX: usize = 3;

/// The lookups of one field (its exact/prefix/suffix atoms, or its `contains` atoms), each
/// with what it satisfies.
#[derive(Debug)]
struct SlotIndex {
    slot: usize,
    /// For `fd.name`, `fd.directory`, `fd.filename`: read with the others of the event.
    part: Option<PathPart>,
    /// For fields joined from pieces (`proc.cmdline`): each piece is searched for the
    /// `contains` needles, the only atoms such a field has.
    pieces: bool,
    /// Rejects most values that are no key of `exact` before hashing them.
    filter: LenFilter,
    exact: FxMap<Box<str>, Sat>,
    /// The prefixes and suffixes, with what each satisfies (in list order).
    prefixes: Affixes,
    prefix_sats: Vec<Sat>,
    suffixes: Affixes,
    suffix_sats: Vec<Sat>,
    /// One multi-pattern search for every `contains` needle, with what each satisfies.
    contains: Option<(Needles, Vec<Sat>)>,
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

fn as_bytes(list: &[Box<str>]) -> Vec<&[u8]> {
    list.iter().map(|p| p.as_bytes()).collect()
}

/// A [`SlotIndex`] being built.
struct SlotBuilder {
    slot: usize,
    exact: FxMap<Box<str>, Sat>,
    prefixes: Vec<(Box<str>, Sat)>,
    suffixes: Vec<(Box<str>, Sat)>,
    contains: Vec<(Box<[u8]>, Sat)>,
    /// Where each key is in its list: a linear search made adding 20,000 patterns quadratic.
    prefix_at: FxMap<Box<str>, usize>,
    suffix_at: FxMap<Box<str>, usize>,
    contains_at: FxMap<Box<[u8]>, usize>,
}

/// Adds `sat` to `key`'s entry in `list`, appending the key the first time.
fn add_to<K: Eq + std::hash::Hash + Clone>(
    list: &mut Vec<(K, Sat)>,
    at: &mut FxMap<K, usize>,
    key: K,
    sat: &Sat,
) {
    match at.get(&key) {
        Some(&i) => list[i].1.add(sat),
        None => {
            at.insert(key.clone(), list.len());
            list.push((key, *sat));
        }
    }
}

impl SlotBuilder {
    fn new(slot: usize) -> SlotBuilder {
        SlotBuilder {
            slot,
            exact: FxMap::default(),
            prefixes: Vec::new(),
            suffixes: Vec::new(),
            contains: Vec::new(),
            prefix_at: FxMap::default(),
            suffix_at: FxMap::default(),
            contains_at: FxMap::default(),
        }
    }

    /// Adds `index`, satisfying `sat`.
    fn add(&mut self, index: &Index, sat: &Sat) {
        for p in &index.contains {
            add_to(
                &mut self.contains,
                &mut self.contains_at,
                p.as_slice().into(),
                sat,
            );
        }
        for x in &index.exact {
            self.exact.entry(x.as_str().into()).or_default().add(sat);
        }
        for p in &index.prefixes {
            add_to(
                &mut self.prefixes,
                &mut self.prefix_at,
                p.as_str().into(),
                sat,
            );
        }
        for p in &index.suffixes {
            add_to(
                &mut self.suffixes,
                &mut self.suffix_at,
                p.as_str().into(),
                sat,
            );
        }
    }

    /// Whether the lookup searches the value (prefixes, suffixes, substrings) rather than
    /// only hashing it.
    fn searches(&self) -> bool {
        !self.prefixes.is_empty() || !self.suffixes.is_empty() || !self.contains.is_empty()
    }

    /// Whether the field belongs to the process (or its container), which the process
    /// memo can keep.
    fn per_process(&self, defs: &[SlotDef]) -> bool {
        defs[self.slot].field.per_process()
    }

    /// Whether the field is a part of the fd's path (`fd.name`, `fd.directory`,
    /// `fd.filename`, `fd.nameraw`), which the path memo can keep.
    fn on_path(&self, defs: &[SlotDef]) -> bool {
        let field = &defs[self.slot].field;
        field.path_part().is_some() && !field.has_pieces()
    }

    /// A rough cost of one lookup, in units of a check on a field read in place (measured
    /// with callgrind: a hashed lookup costs about one and a half, a `contains` search on
    /// a path about two and a half).
    fn cost(&self, defs: &[SlotDef]) -> f64 {
        let mut cost = 1.0;
        if !self.exact.is_empty() {
            cost += 0.5;
        }
        cost += 0.1 * (self.prefixes.len() + self.suffixes.len()) as f64;
        if !self.contains.is_empty() {
            cost += 1.0 + 0.1 * self.contains.len() as f64;
        }
        if !defs[self.slot].field.can_borrow() {
            cost += 3.0;
        }
        cost
    }

    fn build(self, defs: &[SlotDef]) -> SlotIndex {
        let contains = (!self.contains.is_empty()).then(|| {
            let (needles, masks): (Vec<_>, Vec<_>) = self.contains.into_iter().unzip();
            (Needles::new(needles), masks)
        });
        let mut filter = LenFilter::default();
        for k in self.exact.keys() {
            filter.insert(k);
        }
        let (prefixes, prefix_sats): (Vec<_>, Vec<_>) = self.prefixes.into_iter().unzip();
        let (suffixes, suffix_sats): (Vec<_>, Vec<_>) = self.suffixes.into_iter().unzip();
        SlotIndex {
            slot: self.slot,
            part: defs[self.slot].field.path_part(),
            pieces: defs[self.slot].field.has_pieces(),
            prefixes: Affixes::prefixes(&as_bytes(&prefixes)),
            prefix_sats,
            suffixes: Affixes::suffixes(&as_bytes(&suffixes)),
            suffix_sats,
            filter,
            exact: self.exact,
            contains,
        }
    }
}

impl SlotIndex {
    /// What this event's value of the field satisfies.
    // Always inlined: as a call it costs the seed rules 10 % (one lookup per open).
    #[inline(always)]
    fn lookup_in<'e>(&self, cx: &mut Ctx<'e>, parts: &mut Option<PathParts<'e>>, hit: &mut Sat) {
        if self.pieces {
            if let Some(pieces) = cx.defs[self.slot].field.pieces(cx.ev) {
                pieces.each(|t| self.lookup(t, hit));
            }
            return;
        }
        let value = match self.part {
            Some(p) => parts.get_or_insert_with(|| PathParts::of(cx.ev)).get(p),
            None => cx.defs[self.slot].field.borrow(cx.ev),
        };
        match value {
            Borrowed::Value(ValueRef::Str(v)) => self.lookup(v, hit),
            // Absent: every check on this field is false.
            Borrowed::Missing => {}
            // Not a string: let the rules decide.
            Borrowed::Value(_) => *hit = Sat::all(),
            Borrowed::NotBorrowable => {
                cx.scratch.ensure(cx.defs, self.slot, cx.ev);
                match cx.scratch.value(self.slot) {
                    None => {}
                    Some(Value::Str(v)) => self.lookup(v, hit),
                    Some(_) => *hit = Sat::all(),
                }
            }
        }
    }

    /// What the field's value `v` satisfies.
    #[inline(always)]
    fn lookup(&self, v: &str, hit: &mut Sat) {
        if self.filter.may_contain(v) {
            if let Some(m) = self.exact.get(v) {
                hit.add(m);
            }
        }
        if !self.prefixes.is_empty() {
            let sats = &self.prefix_sats;
            self.prefixes
                .each_match(v.as_bytes(), |i| hit.add(&sats[i]));
        }
        if !self.suffixes.is_empty() {
            let sats = &self.suffix_sats;
            self.suffixes
                .each_match(v.as_bytes(), |i| hit.add(&sats[i]));
        }
        if let Some((needles, sats)) = &self.contains {
            needles.each_match(v.as_bytes(), |i| hit.add(&sats[i]));
        }
    }
}

/// One unit of prefilter work.
#[derive(Debug)]
// Steps are few and stored inline, in the order they run: no indirection for lookups.
#[allow(clippy::large_enum_variant)]
enum StepKind {
    /// The indexed atoms of one field.
    Lookup(SlotIndex),
    /// The same for a part of the fd's path, with its place in the entries of the group's
    /// [`PathMemo`](super::pathmemo::PathMemo).
    PathLookup(SlotIndex, usize),
    /// The same for a field of the process, with its place in the entries of the group's
    /// [`ProcMemo`](super::procmemo::ProcMemo).
    ProcLookup(SlotIndex, usize),
    /// One check, with what it satisfies when it holds.
    Check(Arc<Check>, Sat),
    /// The same when it does not hold.
    NotCheck(Arc<Check>, Sat),
    /// A `contains` on a flags parameter, with what it satisfies when it holds.
    Flags(Arc<FlagCheck>, Sat),
    /// A check of an `evt.is_open_*` flag, read with the others of the event: holds when
    /// the flag equals `want`.
    Open {
        check: Arc<Check>,
        flag: OpenFlag,
        want: bool,
        sat: Sat,
    },
}

#[derive(Debug)]
struct Step {
    kind: StepKind,
    /// The rules with an atom in this step: it runs only while one of them is alive.
    users: Mask,
    /// The rules with a guard in this step alone: those it does not satisfy die.
    single: Mask,
    /// Per `aux` layer, the rules whose guard on several steps is decided by this one (its
    /// last): those not satisfied by then die.
    closes: [Mask; AUX],
    /// Whether `closes` has any bit.
    closes_any: bool,
    /// For a test of the socket's server side, its place in the entries of the group's
    /// [`SockMemo`](super::sockmemo::SockMemo).
    sock: Option<usize>,
}

/// At most this many guards per rule are used (the most selective ones): each further one
/// saves less.
const MAX_GUARDS: usize = 8;

/// Up to 64 consecutive rules of one event type and the plan that decides which of them to
/// evaluate.
#[derive(Debug, Default)]
struct Group {
    /// Position of the first rule.
    base: usize,
    /// Every rule of the group.
    all: Mask,
    /// In the order they are tried.
    steps: Box<[Step]>,
    /// The evaluator's [`PathMemo`](super::pathmemo::PathMemo) for this group's path lookups, if it has any.
    memo_table: Option<usize>,
    /// The evaluator's [`ProcMemo`](super::procmemo::ProcMemo) for this group's lookups of
    /// process fields, if it has any.
    proc_table: Option<usize>,
    /// The evaluator's [`SockMemo`](super::sockmemo::SockMemo) for this group's tests of
    /// the socket's server side, if it has them.
    sock_table: Option<usize>,
    /// How many steps at the start are memoised path lookups and open flag checks: the
    /// memo keeps what they leave together, per combination of the flags they test
    /// (results `0..=lead_flags`), the other path lookups' results one by one.
    lead: usize,
    /// The [`OpenFlags`] bits the lead tests.
    lead_flags: u8,
    /// Whether `fd.nameraw` is among the memoised lookups: then the memo is used only
    /// when it equals the name.
    raw_key: bool,
}

/// How many results each memo table keeps per key: one table per prefilter group with
/// path lookups (`paths`), one per group with lookups of process fields (`procs`), one
/// per group with tests of the socket's server side (`socks`).
#[derive(Debug, Default)]
pub(crate) struct MemoWidths {
    pub paths: Vec<usize>,
    pub procs: Vec<usize>,
    pub socks: Vec<usize>,
}

/// The rules of one event type and what decides which of them to evaluate.
#[derive(Debug, Default)]
pub(crate) struct TypeIndex {
    /// Rule indices, in definition order.
    pub rules: Box<[u32]>,
    /// Their conditions, specialised to this event type, less the conjuncts the prefilter
    /// has proven for the rules it lets through (see [`Guard::proves`]).
    pub conds: Box<[Node]>,
    groups: Box<[Group]>,
}

/// What a step evaluates, to share it between rules.
#[derive(Clone, PartialEq, Eq)]
enum StepKey {
    Lookup(usize),
    Contains(usize),
    Check(String),
}

/// The steps of a group being built.
#[derive(Default)]
struct PlanBuilder<'a> {
    keys: Vec<StepKey>,
    builders: Vec<StepBuilder<'a>>,
    /// Per step, the rules with an atom in it, and those with a guard in it alone.
    users: Vec<Mask>,
    single: Vec<Mask>,
}

impl<'a> PlanBuilder<'a> {
    /// The step for `key` that holds no single-step guard of the rules in `bit` yet, or a
    /// new one.
    fn step_for(&mut self, key: StepKey, direct: Option<Direct<'a>>, bit: Mask) -> usize {
        let found =
            (0..self.keys.len()).find(|&i| self.keys[i] == key && self.single[i] & bit == 0);
        if let Some(i) = found {
            return i;
        }
        self.builders.push(match &key {
            StepKey::Lookup(slot) | StepKey::Contains(slot) => {
                StepBuilder::Lookup(SlotBuilder::new(*slot))
            }
            StepKey::Check(_) => {
                StepBuilder::Direct(direct.expect("a check step's atom"), Sat::default())
            }
        });
        self.keys.push(key);
        self.users.push(0);
        self.single.push(0);
        self.keys.len() - 1
    }
}

/// A step being built.
enum StepBuilder<'a> {
    Lookup(SlotBuilder),
    Direct(Direct<'a>, Sat),
}

impl StepBuilder<'_> {
    /// Cheap tests that are likely to fail first: the classic order for a conjunction
    /// (ascending cost / chance of failing).
    fn rank(&self, defs: &[SlotDef], memo: bool) -> f64 {
        let (cost, rate) = self.cost_rate(defs, memo);
        cost / (1.0 - rate).max(0.01)
    }

    /// A rough cost of running this step, and the chance that an atom of it holds. With
    /// `memo`, path lookups are memoised: a repeated path's results cost about half a
    /// check. (Memoised lookups of process fields keep their cost: ordered first, they
    /// would come before the path lookups and cut the memo's lead short.)
    fn cost_rate(&self, defs: &[SlotDef], memo: bool) -> (f64, f64) {
        match self {
            StepBuilder::Lookup(s) if memo && s.on_path(defs) => {
                (0.5, index_pass_rate(&defs[s.slot]))
            }
            StepBuilder::Lookup(s) => (s.cost(defs), index_pass_rate(&defs[s.slot])),
            StepBuilder::Direct(d, _) => (d.cost(), d.pass_rate(defs)),
        }
    }

    fn add(&mut self, atom: &Atom<'_>, sat: &Sat) {
        match (self, atom) {
            (StepBuilder::Lookup(b), Atom::Index(_, index)) => b.add(index, sat),
            (StepBuilder::Direct(_, s), Atom::Direct(_)) => s.add(sat),
            _ => unreachable!("an atom goes to the step of its kind"),
        }
    }
}

/// The step for a check: an `evt.is_open_*` flag compared with a constant reads the
/// event's flags once for all such steps.
fn check_step(d: Direct<'_>, sat: Sat, defs: &[SlotDef]) -> StepKind {
    let c = match d {
        Direct::Check(c) => c,
        Direct::Not(c) => return StepKind::NotCheck(c.clone(), sat),
        Direct::Flags(f) => return StepKind::Flags(f.clone(), sat),
    };
    let flag = c
        .fast
        .as_ref()
        .and_then(|f| f.open_flag())
        .filter(|_| defs[c.slot].transforms.is_empty());
    match (flag, &c.matcher) {
        // `Check::eval`: the borrowed boolean equals `b`, unless negated.
        (Some(flag), Matcher::Bool(b)) => StepKind::Open {
            check: c.clone(),
            flag,
            want: *b != c.negate,
            sat,
        },
        _ => StepKind::Check(c.clone(), sat),
    }
}

impl TypeIndex {
    /// Indexes `rules` (indices with their conditions, in definition order) for events of
    /// type `t`.
    /// Groups with path or process lookups or socket tests get memo tables: `widths`
    /// gets how many results each of them keeps per key, and the lengths of its lists
    /// are the next tables' numbers.
    pub(crate) fn new<'a>(
        t: EventType,
        defs: &[SlotDef],
        rules: impl Iterator<Item = (u32, &'a Node)>,
        widths: &mut MemoWidths,
    ) -> TypeIndex {
        // A rule that cannot hold on `t` is left out.
        let (rules, conds): (Vec<u32>, Vec<Node>) = rules
            .map(|(i, c)| (i, c.specialise(t, defs).cheap_first(t, defs)))
            .filter(|(_, c)| !matches!(c, Node::Const(false)))
            .unzip();
        let mut residual = Vec::with_capacity(conds.len());
        let groups = conds
            .chunks(64)
            .enumerate()
            .map(|(g, conds)| Group::new(g * 64, conds, defs, t, widths, &mut residual))
            .collect();
        TypeIndex {
            rules: rules.into(),
            conds: residual.into(),
            groups,
        }
    }

    /// The rules whose guards all hold for this event, group by group: `visit` gets each
    /// position, in order, until it returns false.
    #[inline]
    pub(crate) fn candidates(
        &self,
        cx: &mut Ctx<'_>,
        mut visit: impl FnMut(usize, &mut Ctx<'_>) -> bool,
    ) {
        for g in self.groups.iter() {
            // Without a path or socket memo, its code is left out (the seed rules: +8 %
            // for the path memo's, +35 % for the socket memo's).
            let mut alive = match g.memo_table {
                Some(_) if g.sock_table.is_some() => g.prefilter::<true, true>(cx),
                Some(_) => g.prefilter::<true, false>(cx),
                None if g.sock_table.is_some() => g.prefilter::<false, true>(cx),
                None => g.prefilter::<false, false>(cx),
            };
            while alive != 0 {
                let pos = g.base + alive.trailing_zeros() as usize;
                alive &= alive - 1;
                if !visit(pos, cx) {
                    return;
                }
            }
        }
    }
}

/// The order to run the steps in, greedily: next, the step expected to rule out the most
/// rules still alive per unit of cost. A rule is ruled out by a step holding a guard of it
/// alone that does not hold, or by the last step of a guard spread over several steps
/// (each of its steps left gets an equal share of the credit). Steps that rule out nothing
/// come last, cheapest and most selective first.
fn plan_order(
    builders: &[StepBuilder<'_>],
    single: &[Mask],
    multi: &[(usize, Mask, Vec<usize>, f64)],
    defs: &[SlotDef],
    memo: bool,
) -> Vec<usize> {
    let cost_rate: Vec<(f64, f64)> = builders.iter().map(|b| b.cost_rate(defs, memo)).collect();
    // The chance that each rule is still alive.
    let mut alive = [1.0f64; 64];
    // The steps of each guard on several steps not run yet.
    let mut pending: Vec<Vec<usize>> = multi.iter().map(|m| m.2.clone()).collect();
    let mut left: Vec<usize> = (0..builders.len()).collect();
    let mut order = Vec::with_capacity(left.len());
    let score = |s: usize, alive: &[f64; 64], pending: &[Vec<usize>]| {
        let (cost, rate) = cost_rate[s];
        let mut kills = 0.0;
        let mut m = single[s];
        while m != 0 {
            kills += alive[m.trailing_zeros() as usize] * (1.0 - rate);
            m &= m - 1;
        }
        for ((_, bit, _, rate), steps) in multi.iter().zip(pending) {
            if steps.contains(&s) {
                let r = bit.trailing_zeros() as usize;
                kills += alive[r] * (1.0 - rate.min(1.0)) / steps.len() as f64;
            }
        }
        kills / cost
    };
    while !left.is_empty() {
        let (i, best) = left
            .iter()
            .enumerate()
            .map(|(i, &s)| (i, score(s, &alive, &pending)))
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
            .expect("steps left");
        if best <= 0.0 {
            break;
        }
        let s = left.remove(i);
        let mut m = single[s];
        while m != 0 {
            alive[m.trailing_zeros() as usize] *= cost_rate[s].1;
            m &= m - 1;
        }
        for ((_, bit, _, rate), steps) in multi.iter().zip(pending.iter_mut()) {
            if let Some(k) = steps.iter().position(|&x| x == s) {
                steps.swap_remove(k);
                if steps.is_empty() {
                    alive[bit.trailing_zeros() as usize] *= rate.min(1.0);
                }
            }
        }
        order.push(s);
    }
    left.sort_by(|&a, &b| {
        builders[a]
            .rank(defs, memo)
            .total_cmp(&builders[b].rank(defs, memo))
    });
    order.extend(left);
    order
}

/// `cond` less its top-level conjuncts in `proven`.
fn without(cond: &Node, proven: &[*const Node]) -> Node {
    if proven.is_empty() {
        return cond.clone();
    }
    let mut conjuncts = Vec::new();
    top_conjuncts(cond, &mut conjuncts);
    let left: Vec<Node> = conjuncts
        .into_iter()
        .filter(|n| !proven.contains(&(*n as *const Node)))
        .cloned()
        .collect();
    match left.len() {
        0 => Node::Const(true),
        1 => left.into_iter().next().expect("one conjunct"),
        _ => Node::And(left.into()),
    }
}

impl Group {
    fn new(
        base: usize,
        conds: &[Node],
        defs: &[SlotDef],
        t: EventType,
        widths: &mut MemoWidths,
        residual: &mut Vec<Node>,
    ) -> Group {
        let mut plan = PlanBuilder::default();
        // Guards on several steps: (aux layer, rule bit, steps).
        let mut multi: Vec<(usize, Mask, Vec<usize>, f64)> = Vec::new();
        for (pos, cond) in conds.iter().enumerate() {
            let bit: Mask = 1 << pos;
            let mut guards = guards(cond, defs, t);
            // The most selective ones.
            let rate = |g: &Guard<'_>| g.atoms.iter().map(|a| a.pass_rate(defs)).sum::<f64>();
            guards.sort_by(|a, b| rate(a).total_cmp(&rate(b)));
            guards.truncate(MAX_GUARDS);
            // A guard that mostly holds (`fd.typechar = f` on opens) is worth running only
            // for a rule with no selective one: otherwise the selective one rules the event
            // out first, and the weak one would keep a step alive for nothing.
            if guards.first().is_some_and(|g| rate(g) <= SELECTIVE) {
                guards.retain(|g| rate(g) < WEAK);
            }
            // The conjuncts that hold whenever the rule passes the prefilter.
            let mut proven: Vec<*const Node> = Vec::new();
            let mut layers = 0;
            for guard in &guards {
                let atoms = &guard.atoms;
                let first = atoms[0].step_key();
                if atoms.iter().all(|a| a.step_key() == first) {
                    // One guard per rule and step: a second guard of this rule on the
                    // same lookup gets a lookup of its own (`fd.name startswith /etc and
                    // fd.name endswith .conf`); a repeated check is no further guard.
                    let lookup = matches!(first, StepKey::Lookup(_) | StepKey::Contains(_));
                    let taken = |p: &PlanBuilder<'_>| {
                        (0..p.keys.len()).any(|i| p.keys[i] == first && p.single[i] & bit != 0)
                    };
                    if !lookup && taken(&plan) {
                        continue;
                    }
                    let s = plan.step_for(first, atoms[0].direct(), bit);
                    let sat = Sat {
                        single: bit,
                        ..Sat::default()
                    };
                    for a in atoms {
                        plan.builders[s].add(a, &sat);
                    }
                    plan.users[s] |= bit;
                    plan.single[s] |= bit;
                    proven.extend(guard.proves.map(|n| n as *const Node));
                } else if layers < AUX {
                    let mut sat = Sat::default();
                    sat.aux[layers] = bit;
                    let mut steps = Vec::new();
                    for a in atoms {
                        let s = plan.step_for(a.step_key(), a.direct(), 0);
                        plan.builders[s].add(a, &sat);
                        plan.users[s] |= bit;
                        if !steps.contains(&s) {
                            steps.push(s);
                        }
                    }
                    multi.push((layers, bit, steps, rate(guard)));
                    layers += 1;
                    proven.extend(guard.proves.map(|n| n as *const Node));
                }
            }
            residual.push(without(cond, &proven));
        }
        let PlanBuilder {
            builders,
            users,
            single,
            ..
        } = plan;
        // Path lookups are memoised when one of them searches the path (an exact lookup
        // costs about what the memo does): then all are, to skip cutting the path too.
        let memo = builders
            .iter()
            .any(|b| matches!(b, StepBuilder::Lookup(x) if x.on_path(defs) && x.searches()));
        // An exec's process is a new snapshot: nothing to reuse.
        let procs = !t.is_exec();
        let order = plan_order(&builders, &single, &multi, defs, memo);
        let mut place = vec![0; order.len()];
        for (i, &s) in order.iter().enumerate() {
            place[s] = i;
        }
        let mut closes = vec![[0 as Mask; AUX]; builders.len()];
        for (layer, bit, steps, _) in &multi {
            let last = steps
                .iter()
                .copied()
                .max_by_key(|&s| place[s])
                .expect("atoms");
            closes[last][*layer] |= bit;
        }
        let mut builders: Vec<Option<StepBuilder<'_>>> = builders.into_iter().map(Some).collect();
        let mut steps: Box<[Step]> = order
            .iter()
            .map(|&s| Step {
                kind: match builders[s].take().expect("each step once") {
                    // Numbered below.
                    StepBuilder::Lookup(b) if memo && b.on_path(defs) => {
                        StepKind::PathLookup(b.build(defs), 0)
                    }
                    StepBuilder::Lookup(b) if procs && b.per_process(defs) => {
                        StepKind::ProcLookup(b.build(defs), 0)
                    }
                    StepBuilder::Lookup(b) => StepKind::Lookup(b.build(defs)),
                    StepBuilder::Direct(d, sat) => check_step(d, sat, defs),
                },
                users: users[s],
                single: single[s],
                closes: closes[s],
                closes_any: closes[s].iter().any(|&m| m != 0),
                sock: None,
            })
            .collect();
        // Tests of the socket's server side are memoised when there are several: one
        // costs about what the memo does.
        let server_side = |s: &Step| match &s.kind {
            StepKind::Lookup(x) => {
                let def = &defs[x.slot];
                def.field.on_server_side() && def.transforms.is_empty()
            }
            StepKind::Check(c, _) | StepKind::NotCheck(c, _) => c
                .fast
                .as_ref()
                .is_some_and(|f| f.on_server_side() && defs[c.slot].transforms.is_empty()),
            _ => false,
        };
        let mut sock_width = 0;
        if steps.iter().filter(|s| server_side(s)).count() >= 2 {
            for s in steps.iter_mut().filter(|s| server_side(s)) {
                if sock_width < super::keyed::MAX_WIDTH {
                    s.sock = Some(sock_width);
                    sock_width += 1;
                }
            }
        }
        let sock_table = (sock_width > 0).then(|| {
            widths.socks.push(sock_width);
            widths.socks.len() - 1
        });
        // The leading path lookups and open flag checks: what they leave depends on the
        // path and the flags they test, kept per combination of those flags.
        let mut lead = steps
            .iter()
            .take_while(|s| matches!(s.kind, StepKind::PathLookup(..) | StepKind::Open { .. }))
            .count();
        if !steps[..lead]
            .iter()
            .any(|s| matches!(s.kind, StepKind::PathLookup(..)))
        {
            lead = 0;
        }
        let lead_flags = steps[..lead].iter().fold(0u8, |m, s| match &s.kind {
            StepKind::Open { flag, .. } => m | *flag as u8,
            _ => m,
        });
        // Results 0..=lead_flags of a path's entry are what the lead leaves, per flags
        // (those it tests); then one per other path lookup.
        let mut width = lead_flags as usize + 1;
        for s in steps[..lead].iter_mut() {
            // Run only when the lead's result is not known: nothing of their own to keep.
            if let StepKind::PathLookup(_, i) = &mut s.kind {
                *i = MAX_WIDTH;
            }
        }
        for s in steps[lead..].iter_mut() {
            if let StepKind::PathLookup(_, i) = &mut s.kind {
                // Past the memo's width, a lookup is not kept (the memo ignores it).
                *i = width;
                width = (width + 1).min(MAX_WIDTH);
            }
        }
        let memo_table = memo.then(|| {
            widths.paths.push(width);
            widths.paths.len() - 1
        });
        let raw_key = steps.iter().any(|s| {
            matches!(&s.kind, StepKind::PathLookup(x, _)
                if defs[x.slot].field.path_part() == Some(PathPart::Nameraw))
        });
        let mut proc_width = 0;
        for s in steps.iter_mut() {
            if let StepKind::ProcLookup(_, i) = &mut s.kind {
                // Past the memo's width, a lookup is not kept (the memo ignores it).
                *i = proc_width;
                proc_width = (proc_width + 1).min(super::keyed::MAX_WIDTH);
            }
        }
        let proc_table = (proc_width > 0).then(|| {
            widths.procs.push(proc_width);
            widths.procs.len() - 1
        });
        // Reading the three path fields together pays only when a directory or file name
        // is looked up (it cuts the name at its last '/'): for `fd.name` alone (the seed
        // rules), the plain borrow is cheaper.
        let cuts = steps.iter().any(|s| {
            matches!(&s.kind, StepKind::Lookup(x) | StepKind::PathLookup(x, _)
                if x.part.is_some_and(|p| matches!(p, PathPart::Directory | PathPart::Filename)))
        });
        if !cuts {
            for s in steps.iter_mut() {
                if let StepKind::Lookup(x) | StepKind::PathLookup(x, _) = &mut s.kind {
                    x.part = None;
                }
            }
        }
        Group {
            base,
            all: if conds.len() == 64 {
                u64::MAX
            } else {
                (1 << conds.len()) - 1
            },
            steps,
            memo_table,
            proc_table,
            sock_table,
            lead,
            lead_flags,
            raw_key,
        }
    }

    /// The rules of this group whose guards all hold for this event (bit `pos - base`).
    #[inline]
    fn prefilter<const MEMO: bool, const SOCK: bool>(&self, cx: &mut Ctx<'_>) -> Mask {
        let mut run = Run {
            alive: self.all,
            aux: [0; AUX],
            parts: None,
            entry: None,
            open: None,
            proc_entry: None,
            sock_entry: None,
        };
        let mut rest = &self.steps[..];
        if MEMO && self.lead > 0 {
            // What the lead leaves depends on the path and the flags it tests alone.
            let table = self
                .memo_table
                .expect("a group with path lookups has a memo");
            let entry = PathParts::key(cx.ev, self.raw_key)
                .map(|(path, kind)| cx.scratch.paths[table].entry(path, kind));
            run.entry = Some(entry);
            let combo = if self.lead_flags != 0 {
                let flags = OpenFlags::of(cx.ev);
                run.open = Some(flags);
                (flags.bits() & self.lead_flags) as usize
            } else {
                0
            };
            let (lead, after) = self.steps.split_at(self.lead);
            match entry.and_then(|e| cx.scratch.paths[table].get(e, combo)) {
                Some(known) => {
                    run.alive = known.single;
                    run.aux = known.aux;
                }
                None => {
                    for step in lead {
                        run.step::<MEMO, SOCK>(self, step, cx);
                    }
                    if let Some(e) = entry {
                        let left = Sat {
                            single: run.alive,
                            aux: run.aux,
                        };
                        cx.scratch.paths[table].put(e, combo, left);
                    }
                }
            }
            if run.alive == 0 {
                return 0;
            }
            rest = after;
        }
        for step in rest {
            run.step::<MEMO, SOCK>(self, step, cx);
            if run.alive == 0 {
                break;
            }
        }
        run.alive
    }
}

/// The state of one group's prefilter on one event.
struct Run<'e> {
    alive: Mask,
    /// The guards on several steps satisfied so far.
    aux: [Mask; AUX],
    /// `fd.name` and its cuts, read on the first lookup of one of them.
    parts: Option<PathParts<'e>>,
    /// The path's entry in the memo, found on the first lookup of a part of it (`None`
    /// inside when the parts do not come from the fd alone).
    entry: Option<Option<usize>>,
    /// The `evt.is_open_*` flags, read on the first check of one of them.
    open: Option<OpenFlags>,
    /// The process's entry in the group's process memo, found on its first lookup.
    proc_entry: Option<usize>,
    /// The socket's entry in the group's socket memo, found on its first test (`None`
    /// inside when the fields do not come from the fd).
    sock_entry: Option<Option<usize>>,
}

impl<'e> Run<'e> {
    #[inline(always)]
    fn step<const MEMO: bool, const SOCK: bool>(
        &mut self,
        group: &Group,
        step: &Step,
        cx: &mut Ctx<'e>,
    ) {
        if step.users & self.alive == 0 {
            return;
        }
        let memo = step.sock.filter(|_| SOCK).and_then(|i| {
            let table = group
                .sock_table
                .expect("a group with socket tests has a memo");
            let e = *self.sock_entry.get_or_insert_with(|| {
                SockKey::of(cx.ev).map(|k| cx.scratch.socks[table].entry(k))
            });
            e.map(|e| (table, e, i))
        });
        let hit = 'hit: {
            if let Some((table, e, i)) = memo {
                if let Some(known) = cx.scratch.socks[table].get(e, i) {
                    break 'hit known;
                }
            }
            let hit = self.hit::<MEMO>(group, step, cx);
            if let Some((table, e, i)) = memo {
                cx.scratch.socks[table].put(e, i, hit);
            }
            hit
        };
        self.alive &= hit.single | !step.single;
        if step.closes_any {
            for (k, (a, h)) in self.aux.iter_mut().zip(&hit.aux).enumerate() {
                *a |= h;
                self.alive &= !(step.closes[k] & !*a);
            }
        } else {
            for (a, h) in self.aux.iter_mut().zip(&hit.aux) {
                *a |= h;
            }
        }
    }

    /// What this step's test satisfies on this event.
    #[inline(always)]
    fn hit<const MEMO: bool>(&mut self, group: &Group, step: &Step, cx: &mut Ctx<'e>) -> Sat {
        let mut hit = Sat::default();
        match &step.kind {
            StepKind::Lookup(s) => s.lookup_in(cx, &mut self.parts, &mut hit),
            StepKind::PathLookup(s, _) if !MEMO => s.lookup_in(cx, &mut self.parts, &mut hit),
            StepKind::PathLookup(s, i) => {
                let table = group
                    .memo_table
                    .expect("a group with path lookups has a memo");
                let entry = *self.entry.get_or_insert_with(|| {
                    PathParts::key(cx.ev, group.raw_key)
                        .map(|(path, kind)| cx.scratch.paths[table].entry(path, kind))
                });
                match entry.and_then(|e| cx.scratch.paths[table].get(e, *i)) {
                    Some(known) => hit = known,
                    None => {
                        s.lookup_in(cx, &mut self.parts, &mut hit);
                        if let Some(e) = entry {
                            cx.scratch.paths[table].put(e, *i, hit);
                        }
                    }
                }
            }
            StepKind::ProcLookup(s, i) => {
                let table = group
                    .proc_table
                    .expect("a group with process lookups has a memo");
                let e = *self
                    .proc_entry
                    .get_or_insert_with(|| cx.scratch.procs[table].entry(cx.ev));
                match cx.scratch.procs[table].get(e, *i) {
                    Some(known) => hit = known,
                    None => {
                        s.lookup_in(cx, &mut self.parts, &mut hit);
                        cx.scratch.procs[table].put(e, *i, hit);
                    }
                }
            }
            StepKind::Check(c, sat) => {
                if c.eval(cx) {
                    hit = *sat;
                }
            }
            StepKind::NotCheck(c, sat) => {
                if !c.eval(cx) {
                    hit = *sat;
                }
            }
            StepKind::Flags(f, sat) => {
                if f.eval(cx) {
                    hit = *sat;
                }
            }
            StepKind::Open {
                flag, want, sat, ..
            } => {
                if self
                    .open
                    .get_or_insert_with(|| OpenFlags::of(cx.ev))
                    .has(*flag)
                    == *want
                {
                    hit = *sat;
                }
            }
        }
        hit
    }
}

impl TypeIndex {
    #[doc(hidden)]
    pub fn summary(&self, defs: &[SlotDef]) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        for g in self.groups.iter() {
            let _ = writeln!(s, "  rules {} steps {}", g.all.count_ones(), g.steps.len());
            for st in g.steps.iter() {
                let users = st.users.count_ones();
                match &st.kind {
                    StepKind::Lookup(x)
                    | StepKind::PathLookup(x, _)
                    | StepKind::ProcLookup(x, _) => {
                        let _ = writeln!(
                            s,
                            "  lookup {} exact {} prefixes {} suffixes {} contains {} users {users}",
                            defs[x.slot].field.name(),
                            x.exact.len(),
                            x.prefixes.len(),
                            x.suffixes.len(),
                            x.contains.as_ref().map_or(0, |c| c.1.len())
                        );
                        if let Some((n, _)) = &x.contains {
                            let texts: Vec<_> = n
                                .needles()
                                .iter()
                                .map(|b| String::from_utf8_lossy(b))
                                .collect();
                            let _ = writeln!(s, "    needles {texts:?}");
                        }
                    }
                    StepKind::Flags(f, _) => {
                        let c = f.written();
                        let _ = writeln!(
                            s,
                            "  flags {} {:?} users {users}",
                            defs[c.slot].field.name(),
                            match &c.matcher {
                                Matcher::Str(m) => m
                                    .contains_needles()
                                    .unwrap_or_default()
                                    .iter()
                                    .map(|n| String::from_utf8_lossy(n).into_owned())
                                    .collect(),
                                _ => Vec::new(),
                            },
                        );
                    }
                    StepKind::Check(c, _)
                    | StepKind::NotCheck(c, _)
                    | StepKind::Open { check: c, .. } => {
                        let not = if matches!(st.kind, StepKind::NotCheck(..)) {
                            "not "
                        } else {
                            ""
                        };
                        let _ = writeln!(
                            s,
                            "  check {not}{} {:?} negate={} fast={} users {users}",
                            defs[c.slot].field.name(),
                            c.matcher,
                            c.negate,
                            c.fast.is_some()
                        );
                    }
                }
            }
            for b in 0..g.all.count_ones() as usize {
                let used: Vec<usize> = g
                    .steps
                    .iter()
                    .enumerate()
                    .filter(|(_, st)| st.users & (1 << b) != 0)
                    .map(|(i, _)| i)
                    .collect();
                let _ = writeln!(s, "  rule {} uses {used:?}", self.rules[g.base + b]);
            }
        }
        s
    }
}

#[cfg(test)]
mod tests;
