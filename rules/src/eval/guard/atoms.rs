//! Guards: the necessary conditions of a rule that the prefilter can test, as atoms
//! (an indexed test of a field, or a check evaluated as it is), with a rough chance that
//! each holds.

use super::super::flagcheck::FlagCheck;
use super::super::matcher::{Matcher, Ord4, StrMatcher};
use super::super::{Check, Node, SlotDef};
use super::StepKey;
use peregrine_event::EventType;
use std::sync::Arc;

/// A guard at most this likely to hold is selective; one at least [`WEAK`] likely is not
/// used beside a selective one.
pub(super) const SELECTIVE: f64 = 0.2;
pub(super) const WEAK: f64 = 0.8;

/// One test of a field: `slot` equals one of `exact`, starts with one of `prefixes`, ends
/// with one of `suffixes` or contains one of `contains`, or else a check evaluated as it is.
/// An atom may be weaker than the check it comes from (a glob's literal prefix), never
/// stronger.
#[derive(Default)]
pub(super) struct Index {
    pub exact: Vec<String>,
    pub prefixes: Vec<String>,
    pub suffixes: Vec<String>,
    pub contains: Vec<Vec<u8>>,
}

pub(super) enum Atom<'a> {
    /// An indexed test of a slot.
    Index(usize, Index),
    Direct(Direct<'a>),
}

/// A test a step evaluates as it is.
#[derive(Clone, Copy)]
pub(super) enum Direct<'a> {
    Check(&'a Arc<Check>),
    /// A check that must not hold (`not fd.cnet in (allowed_networks)`): true also when
    /// the field is missing.
    Not(&'a Arc<Check>),
    /// A `contains` on a flags parameter's names (`evt.arg.mode contains S_ISUID`).
    Flags(&'a Arc<FlagCheck>),
}

impl Direct<'_> {
    pub(super) fn pass_rate(&self, defs: &[SlotDef]) -> f64 {
        match self {
            Direct::Check(c) => pass_rate(c, defs),
            Direct::Not(c) => 1.0 - pass_rate(c, defs),
            // Rules test the unusual bits (`S_ISUID`, `O_TMPFILE`).
            Direct::Flags(_) => INDEX_PASS_RATE,
        }
    }

    /// A rough cost, in units of a check on a field read in place.
    pub(super) fn cost(&self) -> f64 {
        match self {
            Direct::Check(c) | Direct::Not(c) if c.fast.is_some() => 1.0,
            Direct::Check(_) | Direct::Not(_) => 3.0,
            Direct::Flags(_) => 1.5,
        }
    }

    pub(super) fn key(&self) -> StepKey {
        StepKey::Check(match self {
            Direct::Check(c) => key(c),
            Direct::Not(c) => format!("not {}", key(c)),
            Direct::Flags(f) => format!("flags {}", key(f.written())),
        })
    }
}

impl<'a> Atom<'a> {
    /// A rough chance that this atom holds for an event of its type (see [`pass_rate`]).
    pub(super) fn pass_rate(&self, defs: &[SlotDef]) -> f64 {
        match self {
            Atom::Index(slot, ..) => index_pass_rate(&defs[*slot]),
            Atom::Direct(d) => d.pass_rate(defs),
        }
    }

    /// What a step made for this atom evaluates, if it is evaluated as it is.
    pub(super) fn direct(&self) -> Option<Direct<'a>> {
        match self {
            Atom::Index(..) => None,
            Atom::Direct(d) => Some(*d),
        }
    }

    /// The step that evaluates this atom alone.
    pub(super) fn step_key(&self) -> StepKey {
        match self {
            Atom::Index(slot, index) if index.contains.is_empty() => StepKey::Lookup(*slot),
            Atom::Index(slot, ..) => StepKey::Contains(*slot),
            Atom::Direct(d) => d.key(),
        }
    }
}

/// The atoms of `node` when it holds only if one of them holds: an `or` of checks, or of
/// `and`s (each needs one indexable operand: the one least likely to hold).
pub(super) fn atoms<'a>(
    node: &'a Node,
    defs: &[SlotDef],
    t: EventType,
    out: &mut Vec<Atom<'a>>,
) -> bool {
    let len = out.len();
    let ok = atoms_inner(node, defs, t, out);
    if !ok {
        out.truncate(len);
    }
    ok
}

pub(super) fn atoms_inner<'a>(
    node: &'a Node,
    defs: &[SlotDef],
    t: EventType,
    out: &mut Vec<Atom<'a>>,
) -> bool {
    match node {
        Node::Memo { inner, .. } => atoms(inner, defs, t, out),
        Node::Or(items) => items.iter().all(|n| atoms(n, defs, t, out)),
        Node::And(items) => {
            let mut best: Option<(f64, Vec<Atom<'a>>)> = None;
            for n in items.iter() {
                let mut mine = Vec::new();
                if atoms(n, defs, t, &mut mine) {
                    let rate: f64 = mine.iter().map(|a| a.pass_rate(defs)).sum();
                    if best.as_ref().is_none_or(|(b, _)| rate < *b) {
                        best = Some((rate, mine));
                    }
                }
            }
            match best {
                Some((_, mine)) => {
                    out.extend(mine);
                    true
                }
                None => false,
            }
        }
        Node::Check(c) if piecewise_contains(c, defs).is_some() => {
            let needles = piecewise_contains(c, defs).expect("checked");
            let index = Index {
                contains: needles.into_iter().map(|n| n.to_vec()).collect(),
                ..Index::default()
            };
            out.push(Atom::Index(c.slot, index));
            true
        }
        Node::Not(inner) => match negatable(inner, defs, t) {
            Some(c) => {
                out.push(Atom::Direct(Direct::Not(c)));
                true
            }
            None => false,
        },
        // On opens, the flags are read together for the path memo's lead (see
        // `Group::lead`), which a step of its own would cut short.
        Node::Flags(f) if !t.is_open() => {
            out.push(Atom::Direct(Direct::Flags(f)));
            true
        }
        // Guards are computed for every event of the type: only cheap ones pay off.
        Node::Check(c) if !cheap(&defs[c.slot], t) || !cheap_matcher(c) => false,
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
                Matcher::Str(m) if m.contains_needles().is_some() => {
                    let needles = m.contains_needles().expect("checked");
                    if needles.iter().all(|n| !n.is_empty()) {
                        index.contains.extend(needles.iter().map(|n| n.to_vec()));
                    }
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
                Atom::Direct(Direct::Check(c))
            } else {
                Atom::Index(c.slot, index)
            });
            true
        }
        _ => false,
    }
}

/// The needles of a `contains` check on a field joined from pieces (`proc.cmdline`), when
/// none has a space: then it holds exactly when some piece contains a needle, which is
/// searched without joining them (see `fields::Pieces`).
pub(super) fn piecewise_contains<'c>(c: &'c Check, defs: &[SlotDef]) -> Option<Vec<&'c [u8]>> {
    let def = &defs[c.slot];
    if c.negate || !def.transforms.is_empty() || !def.field.has_pieces() {
        return None;
    }
    let Matcher::Str(m) = &c.matcher else {
        return None;
    };
    let needles = m.contains_needles()?;
    let usable = |n: &&[u8]| !n.is_empty() && !n.contains(&b' ');
    needles.iter().all(usable).then_some(needles)
}

/// Whether a field is cheap to extract on events of type `t`: one value read from the
/// event, no joining, rendering or transforming.
pub(super) fn cheap(def: &SlotDef, t: EventType) -> bool {
    let name = def.field.name();
    let renders = ["cmdline", "args", "env", "exeline", "evt.rawarg", "evt.arg"]
        .iter()
        .any(|x| name.contains(x));
    def.transforms.is_empty() && !def.field.is_any() && (!renders || def.field.can_borrow_on(t))
}

/// The check under a `not` when it is worth a step on events of type `t`: an address
/// allow-list (`not fd.cnet in (allowed_inbound_source_networks)`) on a field read in
/// place. Most traffic comes from the listed networks, so the `not` mostly rules the
/// event out; other exceptions (`not proc.name in (...)`, `not never_true`) mostly hold,
/// and steps for them would cost more than the evaluations they save.
pub(super) fn negatable<'a>(
    node: &'a Node,
    defs: &[SlotDef],
    t: EventType,
) -> Option<&'a Arc<Check>> {
    let c = match node {
        Node::Memo { inner, .. } => return negatable(inner, defs, t),
        Node::Check(c) => c,
        _ => return None,
    };
    let allow_list = matches!(c.matcher, Matcher::IpSet(_) | Matcher::Net(_)) && !c.negate;
    (allow_list && c.fast.is_some() && cheap(&defs[c.slot], t)).then_some(c)
}

pub(super) fn cheap_matcher(c: &Check) -> bool {
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

/// The assumed chance that an indexed test (equality with a listed value, a listed prefix,
/// suffix or substring) holds: rules list the unusual values.
pub(super) const INDEX_PASS_RATE: f64 = 0.1;

/// Fields with a handful of possible values, where rules test the usual one as a type
/// filter (`fd.typechar = f` on opens, `fd.l4proto = tcp`): equality mostly holds.
pub(super) fn few_values(def: &SlotDef) -> bool {
    matches!(
        def.field.name(),
        "fd.typechar" | "fd.type" | "fd.l4proto" | "fd.sockfamily" | "evt.dir" | "evt.res"
    )
}

pub(super) fn index_pass_rate(def: &SlotDef) -> f64 {
    if few_values(def) {
        0.9
    } else {
        INDEX_PASS_RATE
    }
}

/// A rough, static chance that a check holds, used only to order the prefilter's steps (a
/// wrong guess costs time, never a result): equality with a listed value is unusual,
/// inequality and range tests (`fd.num >= 0`, `container.id != host`) usually hold, and so
/// does a number's default (`proc.tty = 0`).
pub(super) fn pass_rate(c: &Check, defs: &[SlotDef]) -> f64 {
    let p = match &c.matcher {
        Matcher::Exists => 0.9,
        Matcher::Bool(_) => 0.5,
        Matcher::Num(Ord4::Eq, 0) => 0.5,
        Matcher::Num(Ord4::Eq, _) => 0.1,
        // `fd.num >= 0`, `evt.rawres >= 0`: results are mostly successes.
        Matcher::Num(Ord4::Ge, 0) | Matcher::Num(Ord4::Gt, -1) => 0.95,
        Matcher::Num(..) => 0.8,
        Matcher::Str(StrMatcher::Cmp(..)) => 0.5,
        Matcher::Str(_) => index_pass_rate(&defs[c.slot]),
        Matcher::NumSet(_) | Matcher::IpSet(_) | Matcher::Modifier(..) => INDEX_PASS_RATE,
        Matcher::Net(_) => 0.3,
        Matcher::Dynamic { .. } => 0.5,
    };
    if c.negate {
        1.0 - p
    } else {
        p
    }
}

/// The necessary conditions of a rule that can be indexed: each is a list of atoms, one of
/// which must hold.
pub(super) fn guards<'a>(cond: &'a Node, defs: &[SlotDef], t: EventType) -> Vec<Guard<'a>> {
    let mut conjuncts = Vec::new();
    top_conjuncts(cond, &mut conjuncts);
    let mut guards = Vec::new();
    for n in conjuncts {
        // `not (a or b)`: neither may hold.
        if let Node::Not(inner) = n {
            if let Node::Or(items) = unmemo(inner) {
                for item in items.iter() {
                    if let Some(c) = negatable(item, defs, t) {
                        guards.push(Guard {
                            atoms: vec![Atom::Direct(Direct::Not(c))],
                            proves: None,
                        });
                    }
                }
                continue;
            }
        }
        let mut out = Vec::new();
        if atoms(n, defs, t, &mut out) {
            let proves = exact(n, defs, t).then_some(n);
            guards.push(Guard { atoms: out, proves });
        }
        if let Some(suffix) = glob_suffix(n, defs, t) {
            guards.push(Guard {
                atoms: vec![suffix],
                proves: None,
            });
        }
    }
    guards
}

/// A necessary condition of a rule: one of `atoms` must hold.
pub(super) struct Guard<'a> {
    pub atoms: Vec<Atom<'a>>,
    /// The conjunct of the rule's condition that holds exactly when one of the atoms
    /// does, if there is one: a rule that passes the prefilter need not test it again.
    pub proves: Option<&'a Node>,
}

/// Whether [`atoms`] gives atoms of `node` that hold exactly when `node` does (not a
/// weaker test, such as a glob's literal prefix or one operand of an `and`).
fn exact(node: &Node, defs: &[SlotDef], t: EventType) -> bool {
    match node {
        Node::Memo { inner, .. } => exact(inner, defs, t),
        Node::Or(items) => items.iter().all(|n| exact(n, defs, t)),
        Node::Not(inner) => negatable(inner, defs, t).is_some(),
        Node::Flags(_) => !t.is_open(),
        Node::Check(c) if piecewise_contains(c, defs).is_some() => true,
        Node::Check(c) => {
            let def = &defs[c.slot];
            // Read with the open flags, a missing value tests as `false`.
            if def.field.open_flag().is_some() {
                return false;
            }
            match &c.matcher {
                _ if c.negate => true,
                Matcher::Str(StrMatcher::Glob(_)) => false,
                // Looked up in an index: exact on text; other values pass the lookup.
                Matcher::Str(
                    StrMatcher::Eq(_)
                    | StrMatcher::Set(_)
                    | StrMatcher::StartsWith(_)
                    | StrMatcher::StartsWithAny(_)
                    | StrMatcher::EndsWith(_)
                    | StrMatcher::Contains(_)
                    | StrMatcher::ContainsAny(_),
                ) => def.field.ftype() == crate::fields::FieldType::Str,
                _ => true,
            }
        }
        _ => false,
    }
}

pub(super) fn unmemo(node: &Node) -> &Node {
    match node {
        Node::Memo { inner, .. } => unmemo(inner),
        other => other,
    }
}

/// A glob's literal suffix as a guard of its own (its literal prefix is one already):
/// `fd.name glob /proc/*/environ` needs the name to end with `/environ`.
pub(super) fn glob_suffix<'a>(node: &'a Node, defs: &[SlotDef], t: EventType) -> Option<Atom<'a>> {
    let node = match node {
        Node::Memo { inner, .. } => inner,
        other => other,
    };
    let Node::Check(c) = node else { return None };
    let Matcher::Str(StrMatcher::Glob(g)) = &c.matcher else {
        return None;
    };
    let suffix = g.literal_suffix();
    let usable = !c.negate && cheap(&defs[c.slot], t) && cheap_matcher(c) && !suffix.is_empty();
    usable.then(|| {
        let index = Index {
            suffixes: vec![suffix],
            ..Index::default()
        };
        Atom::Index(c.slot, index)
    })
}

/// The operands of the top-level `and`, with shared `and`s (a memoized macro such as
/// `open_read`) opened up: each is a necessary condition of its own.
pub(super) fn top_conjuncts<'a>(node: &'a Node, out: &mut Vec<&'a Node>) {
    match node {
        Node::And(items) => items.iter().for_each(|n| top_conjuncts(n, out)),
        Node::Memo { inner, .. } if matches!(**inner, Node::And(_)) => top_conjuncts(inner, out),
        other => out.push(other),
    }
}

/// A check's identity across rules: equal text, equal result.
pub(super) fn key(c: &Check) -> String {
    format!("{c:?}")
}
