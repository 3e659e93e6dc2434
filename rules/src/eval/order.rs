//! Operand order per event type. The compiler orders the operands of `and` and `or` by
//! their estimated cost over their chance to decide the result; on one event type more
//! is known: `evt.arg.name` is read in place on some types and rendered on others, and
//! a `contains` on flags tests a few names (see [`super::flagcheck`]). Every operand is a
//! pure test of the event (a missing field only makes a comparison false), so the order
//! never changes a result.

use super::matcher::{Matcher, StrMatcher};
use super::{Check, Node, SlotDef};
use crate::compile::check::estimate;
use peregrine_event::EventType;

impl Node {
    /// This condition with the operands of every `and` and `or` ordered for events of
    /// type `t`: cost on `t` over the chance to decide (ties keep their order).
    pub(crate) fn cheap_first(self, t: EventType, defs: &[SlotDef]) -> Node {
        match self {
            Node::And(items) => Node::And(ordered(items, true, t, defs)),
            Node::Or(items) => Node::Or(ordered(items, false, t, defs)),
            Node::Not(n) => Node::Not(Box::new(n.cheap_first(t, defs))),
            Node::Memo { slot, inner } => Node::Memo {
                slot,
                inner: Box::new(inner.cheap_first(t, defs)),
            },
            other => other,
        }
    }

    /// What evaluating this condition costs at most, in units of a check on a field read
    /// in place.
    fn cost(&self, t: EventType, defs: &[SlotDef]) -> f64 {
        match self {
            Node::Const(_) | Node::EvtType { .. } => 0.1,
            Node::Check(c) => c.cost(t, defs),
            // A few names from a table.
            Node::Flags(_) => 1.5,
            Node::Not(n) => n.cost(t, defs),
            Node::Memo { inner, .. } => inner.cost(t, defs),
            Node::And(items) | Node::Or(items) => items.iter().map(|n| n.cost(t, defs)).sum(),
        }
    }
}

fn ordered(items: Box<[Node]>, and: bool, t: EventType, defs: &[SlotDef]) -> Box<[Node]> {
    let mut items: Vec<(f64, Node)> = items
        .into_vec()
        .into_iter()
        .map(|n| {
            let n = n.cheap_first(t, defs);
            let pass = estimate(&n).1;
            let decisive = if and { 1.0 - pass } else { pass };
            (n.cost(t, defs) / decisive.max(1e-3), n)
        })
        .collect();
    items.sort_by(|a, b| a.0.total_cmp(&b.0));
    items.into_iter().map(|(_, n)| n).collect()
}

impl Check {
    fn cost(&self, t: EventType, defs: &[SlotDef]) -> f64 {
        let def = &defs[self.slot];
        let name = def.field.name();
        let mut cost = if self.fast.is_some() { 1.0 } else { 2.0 };
        // Joined or rendered text (`proc.cmdline`, `evt.arg.flags`, `proc.env`).
        let renders = ["cmdline", "args", "env", "exeline", "evt.rawarg", "evt.arg"]
            .iter()
            .any(|x| name.contains(x));
        if renders && !def.field.can_borrow_on(t) {
            cost += 6.0;
        }
        // Several candidates (`fd.ip`, `proc.aname`).
        if def.field.is_any() {
            cost += 3.0;
        }
        cost += 2.0 * def.transforms.len() as f64;
        cost += match &self.matcher {
            Matcher::Str(StrMatcher::Regex(_)) => 8.0,
            Matcher::Str(StrMatcher::Glob(_) | StrMatcher::PMatch(_)) => 2.0,
            Matcher::Str(
                StrMatcher::Contains(_) | StrMatcher::ContainsAny(_) | StrMatcher::IContains(_),
            ) => 1.0,
            Matcher::Modifier(..) | Matcher::Dynamic { .. } => 2.0,
            _ => 0.0,
        };
        cost
    }
}
