//! Compiles a macro-free condition AST into evaluator nodes: resolves fields, types the
//! right-hand sides, and folds what can be decided at compile time.

use crate::ast::{Compare, Expr, Literal, Op, Operand, Pos, Rhs, Transformer};
use crate::eval::glob::Glob;
use crate::eval::hash::FxSet;
use crate::eval::matcher::{Cidr, Matcher, Ord4, StrMatcher};
use crate::eval::pmatch::PathTrie;
use crate::eval::{Check, EvtSet, Node, SlotDef};
use crate::fields::{self, FieldError, FieldType};
use peregrine_event::EventType;
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

/// Why a condition does not compile, and where.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CheckError {
    pub message: String,
    pub pos: Pos,
    /// An unknown field or event type: `skip-if-unknown-filter` turns it into a warning.
    pub unknown: bool,
}

impl CheckError {
    fn new(message: impl Into<String>, pos: Pos) -> CheckError {
        CheckError {
            message: message.into(),
            pos,
            unknown: false,
        }
    }
}

/// Distinct operands of the whole ruleset, each with one cache slot.
#[derive(Debug, Default)]
pub(crate) struct SlotTable {
    pub defs: Vec<SlotDef>,
    index: HashMap<String, usize>,
}

/// An operand resolved to its slot.
struct Resolved {
    slot: usize,
    /// Canonical text: `toupper(proc.name)`, `proc.aname[2]`.
    key: String,
    /// The slot and name of the bare field under transformers (same as `slot` without).
    field_slot: usize,
    field_key: String,
    ftype: FieldType,
    /// The plain field name when no transformer applies.
    plain: Option<String>,
    no_rhs: bool,
}

impl SlotTable {
    fn resolve(&mut self, operand: &Operand) -> Result<Resolved, CheckError> {
        let mut transforms = Vec::new();
        let mut cur = operand;
        loop {
            match cur {
                Operand::Field(_) => break,
                Operand::Transform { kind, args, pos } => {
                    let [inner] = args.as_slice() else {
                        return Err(CheckError::new(
                            format!("transformer '{}' takes exactly one argument", kind.name()),
                            *pos,
                        ));
                    };
                    transforms.push((*kind, *pos));
                    cur = inner;
                }
            }
        }
        let Operand::Field(fref) = cur else {
            unreachable!("loop exits on a field")
        };
        transforms.reverse();
        let field = fields::resolve(&fref.name, fref.arg.as_deref())
            .map_err(|e| field_error(e, fref.pos))?;
        let mut ftype = field.ftype();
        let mut key = field.name().to_string();
        let mut kinds = Vec::with_capacity(transforms.len());
        for (t, pos) in &transforms {
            if *t == Transformer::Val {
                continue;
            }
            ftype = match (t, ftype) {
                (Transformer::Len, FieldType::Str | FieldType::Bytes) => FieldType::U64,
                (Transformer::B64, FieldType::Str | FieldType::Bytes) => ftype,
                (
                    Transformer::ToLower | Transformer::ToUpper | Transformer::Basename,
                    FieldType::Str,
                ) => ftype,
                _ => {
                    return Err(CheckError::new(
                        format!(
                            "transformer '{}' is not supported on field '{}' of type {}",
                            t.name(),
                            field.name(),
                            ftype.falco_name()
                        ),
                        *pos,
                    ))
                }
            };
            key = format!("{}({key})", t.name());
            kinds.push(*t);
        }
        let plain = kinds.is_empty().then(|| field.name().to_string());
        let no_rhs = field.def().no_rhs;
        let field_key = field.name().to_string();
        let field_slot = self.slot_for(&field_key, field.clone(), Vec::new());
        let slot = if kinds.is_empty() {
            field_slot
        } else {
            self.slot_for(&key, field, kinds)
        };
        Ok(Resolved {
            slot,
            key,
            field_slot,
            field_key,
            ftype,
            plain,
            no_rhs,
        })
    }

    fn slot_for(&mut self, key: &str, field: fields::Field, transforms: Vec<Transformer>) -> usize {
        if let Some(&s) = self.index.get(key) {
            return s;
        }
        let s = self.defs.len();
        let ne_requires_all = field.def().any_ne == fields::AnyNe::NoneEqual;
        self.defs.push(SlotDef {
            field,
            transforms,
            ne_requires_all,
        });
        self.index.insert(key.to_string(), s);
        s
    }

    /// Resolves an operand for output formatting: its slot, and the `output_fields` entries
    /// it contributes (the transformed value and the bare field, as Falco reports both).
    pub(crate) fn resolve_output(
        &mut self,
        operand: &Operand,
    ) -> Result<(usize, Vec<(String, usize)>), CheckError> {
        let r = self.resolve(operand)?;
        let mut keys = vec![(r.field_key, r.field_slot)];
        if r.slot != r.field_slot {
            keys.push((r.key, r.slot));
        }
        Ok((r.slot, keys))
    }
}

fn field_error(e: FieldError, pos: Pos) -> CheckError {
    match e {
        FieldError::Unknown { name } => CheckError {
            message: format!("filter_check called with nonexistent field {name}"),
            pos,
            unknown: true,
        },
        other => CheckError::new(other.to_string(), pos),
    }
}

/// Compiles a condition (macros already inlined).
pub(crate) fn compile_expr(e: &Expr, slots: &mut SlotTable) -> Result<Node, CheckError> {
    Ok(match e {
        Expr::And(items) => {
            let nodes = items
                .iter()
                .map(|i| compile_expr(i, slots))
                .collect::<Result<Vec<_>, _>>()?;
            make_and(nodes)
        }
        Expr::Or(items) => {
            let nodes = items
                .iter()
                .map(|i| compile_expr(i, slots))
                .collect::<Result<Vec<_>, _>>()?;
            make_or(nodes)
        }
        Expr::Not(inner) => match compile_expr(inner, slots)? {
            Node::Const(b) => Node::Const(!b),
            Node::Not(n) => *n,
            n => Node::Not(Box::new(n)),
        },
        Expr::Macro { name, pos } => {
            return Err(CheckError::new(
                format!("Undefined macro '{name}' used in filter."),
                *pos,
            ))
        }
        Expr::Compare(c) => compile_compare(c, slots)?,
    })
}

fn make_and(nodes: Vec<Node>) -> Node {
    let mut flat = Vec::with_capacity(nodes.len());
    for n in nodes {
        match n {
            Node::Const(true) => {}
            Node::Const(false) => return Node::Const(false),
            Node::And(inner) => flat.extend(inner.into_vec()),
            n => flat.push(n),
        }
    }
    finish(flat, true)
}

fn make_or(nodes: Vec<Node>) -> Node {
    let mut flat = Vec::with_capacity(nodes.len());
    for n in nodes {
        match n {
            Node::Const(false) => {}
            Node::Const(true) => return Node::Const(true),
            Node::Or(inner) => flat.extend(inner.into_vec()),
            n => flat.push(n),
        }
    }
    let flat = fold_or_checks(flat);
    finish(flat, false)
}

fn finish(mut nodes: Vec<Node>, and: bool) -> Node {
    match nodes.len() {
        0 => Node::Const(and),
        1 => nodes.pop().expect("one node"),
        _ => {
            // Conditions have no side effects, so operands may run in any order: put first
            // those most likely to decide the result for the least work (cost/(1-p) for
            // `and`, cost/p for `or`). The sort is stable, so ties keep the written order.
            let score = |n: &Node| {
                let (cost, pass) = estimate(n);
                let decisive = if and { 1.0 - pass } else { pass };
                cost / decisive.max(1e-3)
            };
            nodes.sort_by(|a, b| score(a).total_cmp(&score(b)));
            if and {
                Node::And(nodes.into())
            } else {
                Node::Or(nodes.into())
            }
        }
    }
}

/// Rough (cost, probability of being true) of a node, from the shape of its checks:
/// equality and membership tests on constants are rarely true, negations usually are.
pub(crate) fn estimate(node: &Node) -> (f64, f64) {
    match node {
        Node::Const(b) => (0.0, if *b { 1.0 } else { 0.0 }),
        Node::EvtType { .. } => (0.05, 0.5),
        Node::Flags(_) => (1.5, 0.1),
        Node::Not(n) => {
            let (c, p) = estimate(n);
            (c, 1.0 - p)
        }
        Node::Memo { inner, .. } => estimate(inner),
        Node::And(v) => v.iter().fold((0.0, 1.0), |(cost, pass), n| {
            let (c, p) = estimate(n);
            (cost + pass * c, pass * p)
        }),
        Node::Or(v) => v.iter().fold((0.0, 0.0), |(cost, pass), n| {
            let (c, p) = estimate(n);
            (cost + (1.0 - pass) * c, 1.0 - (1.0 - pass) * (1.0 - p))
        }),
        Node::Check(c) => {
            let (cost, p) = match &c.matcher {
                Matcher::Exists => (1.0, 0.9),
                Matcher::Str(m) => match m {
                    StrMatcher::Eq(_) => (1.0, 0.05),
                    StrMatcher::Set(_) | StrMatcher::StartsWithAny(_) => (1.2, 0.1),
                    StrMatcher::StartsWith(_) | StrMatcher::EndsWith(_) => (1.0, 0.15),
                    StrMatcher::Contains(_) | StrMatcher::PMatch(_) => (1.5, 0.1),
                    StrMatcher::ContainsAny(_) => (1.8, 0.15),
                    StrMatcher::IContains(_) | StrMatcher::Glob(_) => (2.5, 0.1),
                    StrMatcher::Regex(_) => (4.0, 0.1),
                    StrMatcher::Cmp(..) => (1.0, 0.5),
                },
                Matcher::Modifier(_, ms) => (1.0 + ms.len() as f64 * 0.5, 0.2),
                Matcher::Num(o, _) => (1.0, if *o == Ord4::Eq { 0.1 } else { 0.6 }),
                Matcher::NumSet(_) | Matcher::IpSet(_) => (1.0, 0.1),
                Matcher::Bool(_) => (1.0, 0.5),
                Matcher::Net(_) => (1.2, 0.3),
                Matcher::Dynamic { .. } => (2.0, 0.3),
            };
            (cost, if c.negate { 1.0 - p } else { p })
        }
    }
}

/// Merges `or`-ed string checks on one operand: equalities into one set, prefixes into one
/// multi-prefix test (`fd.name startswith /etc or fd.name startswith /usr/bin …`).
fn fold_or_checks(nodes: Vec<Node>) -> Vec<Node> {
    // Each operand's checks of one family go into the first of them, built once at the
    // end: merging pairwise as they come would rebuild the set for every term (quadratic
    // in a 20,000-term `or`).
    let mut out: Vec<Node> = Vec::with_capacity(nodes.len());
    let mut groups: HashMap<(usize, Family), (usize, Vec<StrMatcher>)> = HashMap::new();
    for n in nodes {
        let key = match &n {
            Node::Check(c) if !c.negate => family(&c.matcher).map(|f| (c.slot, f)),
            _ => None,
        };
        if let Some(key) = key {
            match groups.entry(key) {
                Entry::Occupied(mut g) => {
                    let Node::Check(c) = n else { unreachable!() };
                    // Checks are shared (`Arc`) only once the ruleset is built.
                    let c = Arc::into_inner(c).expect("unshared while compiling");
                    let Matcher::Str(m) = c.matcher else {
                        unreachable!()
                    };
                    g.get_mut().1.push(m);
                    continue;
                }
                Entry::Vacant(g) => {
                    g.insert((out.len(), Vec::new()));
                }
            }
        }
        out.push(n);
    }
    for ((_, f), (at, more)) in groups {
        if more.is_empty() {
            continue;
        }
        let Node::Check(c) = &mut out[at] else {
            unreachable!()
        };
        let c = Arc::get_mut(c).expect("unshared while compiling");
        let Matcher::Str(first) = &mut c.matcher else {
            unreachable!()
        };
        let first = std::mem::replace(first, StrMatcher::Eq("".into()));
        c.matcher = Matcher::Str(merge(f, std::iter::once(first).chain(more)));
    }
    out
}

/// String checks that merge into one matcher when `or`-ed on the same operand.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Family {
    Equal,
    Prefix,
    Contains,
}

fn family(m: &Matcher) -> Option<Family> {
    use StrMatcher::*;
    match m {
        Matcher::Str(Eq(_) | Set(_)) => Some(Family::Equal),
        Matcher::Str(StartsWith(_) | StartsWithAny(_)) => Some(Family::Prefix),
        Matcher::Str(Contains(_) | ContainsAny(_)) => Some(Family::Contains),
        _ => None,
    }
}

/// One matcher for all of `parts`, which are of family `f`.
fn merge(f: Family, parts: impl Iterator<Item = StrMatcher>) -> StrMatcher {
    use StrMatcher::*;
    match f {
        Family::Equal => {
            let mut set: FxSet<Box<str>> = FxSet::default();
            for m in parts {
                match m {
                    Eq(x) => {
                        set.insert(x);
                    }
                    Set(xs) => set.extend(xs),
                    _ => {}
                }
            }
            Set(set)
        }
        Family::Contains => {
            let mut needles: Vec<Box<[u8]>> = Vec::new();
            for m in parts {
                match m {
                    Contains(f) => needles.push(f.needle().into()),
                    ContainsAny(n) => needles.extend(n.needles().iter().cloned()),
                    _ => {}
                }
            }
            ContainsAny(Box::new(crate::eval::needles::Needles::new(needles)))
        }
        Family::Prefix => {
            let mut prefixes = Vec::new();
            for m in parts {
                match m {
                    StartsWith(x) => prefixes.push(x),
                    StartsWithAny(xs) => prefixes.extend(xs),
                    _ => {}
                }
            }
            StartsWithAny(prefixes)
        }
    }
}

fn compile_compare(c: &Compare, slots: &mut SlotTable) -> Result<Node, CheckError> {
    // evt.type and evt.dir are decided without extraction.
    if let Operand::Field(f) = &c.lhs {
        if f.arg.is_none() && f.name == "evt.type" {
            if let Some(node) = compile_evt_type(c)? {
                return Ok(node);
            }
        }
        if f.arg.is_none() && f.name == "evt.dir" && matches!(c.op, Op::Eq | Op::Ne) {
            if let Rhs::Value(lit) = &c.rhs {
                // Only exit events exist (Falco >= 0.42): '<' always holds, '>' never.
                let holds = match lit.value.as_str() {
                    "<" => true,
                    ">" => false,
                    other => {
                        return Err(CheckError::new(
                            format!("invalid event direction '{other}'"),
                            lit.pos,
                        ))
                    }
                };
                return Ok(Node::Const(holds == (c.op == Op::Eq)));
            }
        }
    }
    let lhs = slots.resolve(&c.lhs)?;
    if let Operand::Field(f) = &c.lhs {
        if fields::fd::is_dns_name(&f.name) {
            // The names compared with are the ones resolved (Falco's DNS manager).
            match &c.rhs {
                Rhs::Value(lit) => crate::dns::watch([lit.value.as_str()]),
                Rhs::List(items) => crate::dns::watch(items.iter().map(|l| l.value.as_str())),
                _ => {}
            }
        }
    }
    if c.op == Op::Exists {
        return Ok(check(slots, lhs.slot, Matcher::Exists, false));
    }
    let negate = c.op == Op::Ne;
    let matcher = match &c.rhs {
        Rhs::None => {
            return Err(CheckError::new(
                format!("operator '{}' needs a right-hand side", c.op),
                c.pos,
            ))
        }
        Rhs::Operand(rhs) => {
            if matches!(c.op, Op::Regex | Op::PMatch) || matches!(lhs.ftype, FieldType::IpNet) {
                return Err(CheckError::new(
                    format!("operator '{}' can't compare against another field", c.op),
                    c.pos,
                ));
            }
            let r = slots.resolve(rhs)?;
            if r.no_rhs {
                return Err(CheckError::new(
                    format!(
                        "field '{}' can't be used on the right-hand side",
                        r.plain.unwrap_or_default()
                    ),
                    c.pos,
                ));
            }
            Matcher::Dynamic {
                op: c.op,
                rhs_slot: r.slot,
            }
        }
        Rhs::ListRef(lit) => {
            return Err(CheckError::new(
                format!("unknown list '{}'", lit.value),
                lit.pos,
            ));
        }
        Rhs::Value(lit) => typed_matcher(c, lhs.ftype, std::slice::from_ref(lit), false)?,
        Rhs::List(items) => typed_matcher(c, lhs.ftype, items, true)?,
    };
    Ok(check(slots, lhs.slot, matcher, negate))
}

fn check(slots: &SlotTable, slot: usize, matcher: Matcher, negate: bool) -> Node {
    let def = &slots.defs[slot];
    // A plain field the event stores as it is is compared where it lies, not copied.
    let fast =
        (def.transforms.is_empty() && def.field.can_borrow() && matcher.rhs_slot().is_none())
            .then(|| def.field.clone());
    Node::Check(Arc::new(Check {
        slot,
        matcher,
        negate,
        fast,
    }))
}

fn compile_evt_type(c: &Compare) -> Result<Option<Node>, CheckError> {
    let values: Vec<&Literal> = match (&c.op, &c.rhs) {
        (Op::Eq | Op::Ne, Rhs::Value(lit)) => vec![lit],
        (Op::In | Op::Intersects, Rhs::List(items)) => items.iter().collect(),
        (Op::In | Op::Intersects, Rhs::Value(lit)) => vec![lit],
        _ => return Ok(None),
    };
    let mut set = EvtSet::empty();
    for lit in values {
        let t = EventType::from_name(&lit.value).ok_or_else(|| CheckError {
            message: format!("unknown event type {}", lit.value),
            pos: lit.pos,
            unknown: true,
        })?;
        set.insert(t);
    }
    Ok(Some(Node::EvtType {
        set,
        negate: c.op == Op::Ne,
    }))
}

fn typed_matcher(
    c: &Compare,
    ftype: FieldType,
    items: &[Literal],
    is_list: bool,
) -> Result<Matcher, CheckError> {
    let op = c.op;
    let first_pos = items.first().map(|l| l.pos).unwrap_or(c.pos);
    if is_list && !op.takes_list() && c.modifier.is_none() {
        return Err(CheckError::new(
            format!("operator '{op}' does not take a list"),
            c.pos,
        ));
    }
    if let Some(modifier) = c.modifier {
        if !matches!(ftype, FieldType::Str | FieldType::Bytes) {
            return Err(CheckError::new(
                format!(
                    "list modifier '{}' only applies to string fields",
                    modifier.as_str()
                ),
                c.pos,
            ));
        }
        let ms = items
            .iter()
            .map(|l| str_matcher(op, l))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(Matcher::Modifier(modifier, ms));
    }
    let single = || -> Result<&Literal, CheckError> {
        match items {
            [one] => Ok(one),
            _ => Err(CheckError::new(
                format!("operator '{op}' needs a single value"),
                first_pos,
            )),
        }
    };
    let unsupported = || {
        CheckError::new(
            format!(
                "operator '{op}' is not supported on fields of type {}",
                ftype.falco_name()
            ),
            c.pos,
        )
    };
    match ftype {
        FieldType::Str | FieldType::Bytes => match op {
            Op::In | Op::Intersects => {
                if items.len() == 1 {
                    Ok(Matcher::Str(StrMatcher::Eq(items[0].value.as_str().into())))
                } else {
                    Ok(Matcher::Str(StrMatcher::Set(
                        items.iter().map(|l| l.value.as_str().into()).collect(),
                    )))
                }
            }
            Op::PMatch => Ok(Matcher::Str(StrMatcher::PMatch(PathTrie::new(
                items.iter().map(|l| l.value.as_str()),
            )))),
            _ => Ok(Matcher::Str(str_matcher(op, single()?)?)),
        },
        FieldType::Bool => match op {
            Op::Eq | Op::Ne | Op::In | Op::Intersects => {
                let lit = single()?;
                let b = match lit.value.to_ascii_lowercase().as_str() {
                    "true" => true,
                    "false" => false,
                    _ => {
                        return Err(CheckError::new(
                            format!("'{}' is not a valid boolean", lit.value),
                            lit.pos,
                        ))
                    }
                };
                Ok(Matcher::Bool(b))
            }
            _ => Err(unsupported()),
        },
        FieldType::Ip => match op {
            Op::Eq | Op::Ne | Op::In | Op::Intersects => {
                let ips = items
                    .iter()
                    .map(|l| {
                        l.value.parse::<IpAddr>().map_err(|_| {
                            CheckError::new(
                                format!("'{}' is not a valid IP address", l.value),
                                l.pos,
                            )
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Matcher::IpSet(ips))
            }
            _ => Err(unsupported()),
        },
        FieldType::IpNet => match op {
            Op::Eq | Op::Ne | Op::In | Op::Intersects => {
                let nets = items
                    .iter()
                    .map(|l| {
                        Cidr::parse(&l.value).ok_or_else(|| {
                            CheckError::new(
                                format!("'{}' is not a valid IP network", l.value),
                                l.pos,
                            )
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Matcher::Net(nets))
            }
            _ => Err(unsupported()),
        },
        t if t.is_numeric() => match op {
            Op::In | Op::Intersects => {
                let set = items
                    .iter()
                    .map(parse_number)
                    .collect::<Result<FxSet<_>, _>>()?;
                Ok(Matcher::NumSet(set))
            }
            _ => match Ord4::from_op(op) {
                Some(o) => Ok(Matcher::Num(o, parse_number(single()?)?)),
                None => Err(unsupported()),
            },
        },
        _ => Err(unsupported()),
    }
}

fn parse_number(lit: &Literal) -> Result<i128, CheckError> {
    let v = lit.value.trim();
    let parsed = if let Some(hex) = v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        i128::from_str_radix(hex, 16).ok()
    } else {
        v.parse::<i128>().ok().or_else(|| {
            // Falco accepts decimals for numeric fields; they compare by their integer part.
            v.parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(|f| f as i128)
        })
    };
    parsed.ok_or_else(|| CheckError::new(format!("'{}' is not a valid number", lit.value), lit.pos))
}

fn str_matcher(op: Op, lit: &Literal) -> Result<StrMatcher, CheckError> {
    let v = lit.value.as_str();
    Ok(match op {
        Op::Eq | Op::Ne | Op::In | Op::Intersects => StrMatcher::Eq(v.into()),
        Op::StartsWith => StrMatcher::StartsWith(v.into()),
        Op::EndsWith => StrMatcher::EndsWith(v.into()),
        Op::Contains => StrMatcher::Contains(Box::new(
            memchr::memmem::Finder::new(v.as_bytes()).into_owned(),
        )),
        Op::IContains => StrMatcher::IContains(v.to_lowercase().into()),
        Op::Glob => StrMatcher::Glob(Glob::new(v, false)),
        Op::IGlob => StrMatcher::Glob(Glob::new(v, true)),
        Op::Regex => {
            let re = regex::Regex::new(&format!("^(?:{v})$")).map_err(|e| {
                CheckError::new(format!("invalid regular expression '{v}': {e}"), lit.pos)
            })?;
            StrMatcher::Regex(re)
        }
        Op::BContains | Op::BStartsWith => {
            let bytes = decode_hex(v).ok_or_else(|| {
                CheckError::new(
                    format!("'{v}' is not a valid hex string for operator '{op}'"),
                    lit.pos,
                )
            })?;
            let text = String::from_utf8_lossy(&bytes).into_owned();
            if op == Op::BContains {
                StrMatcher::Contains(Box::new(memchr::memmem::Finder::new(&bytes).into_owned()))
            } else {
                StrMatcher::StartsWith(text.into())
            }
        }
        Op::PMatch => StrMatcher::PMatch(PathTrie::new([v])),
        Op::Lt | Op::Le | Op::Gt | Op::Ge => {
            StrMatcher::Cmp(Ord4::from_op(op).expect("ordering operator"), v.into())
        }
        Op::Exists => return Err(CheckError::new("'exists' takes no value", lit.pos)),
    })
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    if s.is_empty() || !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The event types a compiled condition can match (libs' `ppm_event_codes` set algebra).
pub(crate) fn event_types(node: &Node) -> EvtSet {
    types(node, false)
}

fn types(node: &Node, negated: bool) -> EvtSet {
    match node {
        Node::And(v) if !negated => v
            .iter()
            .fold(EvtSet::all(), |acc, n| acc.intersect(&types(n, false))),
        Node::And(v) => v
            .iter()
            .fold(EvtSet::empty(), |acc, n| acc.union(&types(n, true))),
        Node::Or(v) if !negated => v
            .iter()
            .fold(EvtSet::empty(), |acc, n| acc.union(&types(n, false))),
        Node::Or(v) => v
            .iter()
            .fold(EvtSet::all(), |acc, n| acc.intersect(&types(n, true))),
        Node::Not(n) => types(n, !negated),
        Node::EvtType { set, negate } => {
            if *negate != negated {
                set.complement()
            } else {
                set.clone()
            }
        }
        Node::Const(b) => {
            if *b != negated {
                EvtSet::all()
            } else {
                EvtSet::empty()
            }
        }
        Node::Check(_) | Node::Flags(_) => EvtSet::all(),
        Node::Memo { inner, .. } => types(inner, negated),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::ListModifier;

    fn lit(v: &str) -> Literal {
        Literal {
            value: v.into(),
            quoted: false,
            pos: Pos::default(),
        }
    }

    #[test]
    fn hex_decoding() {
        assert_eq!(decode_hex("CAFEBABE"), Some(vec![0xca, 0xfe, 0xba, 0xbe]));
        assert_eq!(decode_hex("cafe babe"), Some(vec![0xca, 0xfe, 0xba, 0xbe]));
        assert_eq!(decode_hex("abc"), None);
        assert_eq!(decode_hex("zz"), None);
        assert_eq!(decode_hex(""), None);
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_number(&lit("42")), Ok(42));
        assert_eq!(parse_number(&lit("-1")), Ok(-1));
        assert_eq!(parse_number(&lit("0x1F")), Ok(31));
        assert_eq!(parse_number(&lit("1.5")), Ok(1));
        assert!(parse_number(&lit("abc")).is_err());
    }

    #[test]
    fn list_modifier_names() {
        assert_eq!(ListModifier::AnyOf.as_str(), "anyof");
    }
}
