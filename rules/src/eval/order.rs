//! Cheap operands first. `and` and `or` stop at the first operand that decides them, and
//! a rule that passes the prefilter still fails in full three times out of four: testing
//! `proc.name` before rendering `proc.cmdline` or collecting `fd.ip`'s candidates usually
//! decides it for a fraction of the cost. Every operand is a pure test of the event (a
//! missing field only makes a comparison false), so their order never changes a result.

use super::matcher::{Matcher, StrMatcher};
use super::{Check, Node, SlotDef};
use peregrine_event::EventType;

impl Node {
    /// This condition with the operands of every `and` and `or` ordered by a rough cost
    /// on events of type `t`, cheapest first (ties keep their order).
    pub(crate) fn cheap_first(self, t: EventType, defs: &[SlotDef]) -> Node {
        match self {
            Node::And(items) => Node::And(ordered(items, t, defs)),
            Node::Or(items) => Node::Or(ordered(items, t, defs)),
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
            Node::Not(n) => n.cost(t, defs),
            Node::Memo { inner, .. } => inner.cost(t, defs),
            Node::And(items) | Node::Or(items) => items.iter().map(|n| n.cost(t, defs)).sum(),
        }
    }
}

fn ordered(items: Box<[Node]>, t: EventType, defs: &[SlotDef]) -> Box<[Node]> {
    let mut items: Vec<(f64, Node)> = items
        .into_vec()
        .into_iter()
        .map(|n| {
            let n = n.cheap_first(t, defs);
            (n.cost(t, defs), n)
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
