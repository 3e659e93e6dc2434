//! The evaluator: compiled condition trees over a per-event cache of field values.
//!
//! Field values are extracted at most once per event into [`Scratch`] slots shared by every
//! rule, and string buffers in those slots are reused from event to event.

mod affix;
pub(crate) mod byteset;
pub(crate) mod evtset;
mod flagcheck;
pub(crate) mod glob;
pub(crate) mod guard;
pub(crate) mod hash;
mod keyed;
pub(crate) mod matcher;
pub(crate) mod memo;
pub(crate) mod needles;
mod order;
pub(crate) mod pathmemo;
pub(crate) mod pmatch;
pub(crate) mod procmemo;
pub(crate) mod sockmemo;
#[cfg(test)]
pub(crate) mod test_events;

use crate::ast::Transformer;
use crate::fields::{Borrowed, Field, Value};
pub use evtset::EvtSet;
use matcher::Matcher;
use peregrine_event::{Event, EventType};
use std::sync::Arc;

/// One distinct operand (a field, maybe wrapped in transformers) with its cache slot.
#[derive(Clone, Debug)]
pub(crate) struct SlotDef {
    pub field: Field,
    /// Applied innermost first.
    pub transforms: Vec<Transformer>,
    /// How `!=` treats several candidates: `true` = holds only if none is equal (either
    /// endpoint of `fd.ip`), `false` = holds if any differs (any ancestor for `proc.aname`).
    pub ne_requires_all: bool,
}

/// Per-evaluator cache of extracted values, reused across events.
#[derive(Debug, Default)]
pub struct Scratch {
    gen: u64,
    slots: Vec<SlotState>,
    /// Results of shared subexpressions: (generation, value).
    memo: Vec<(u64, bool)>,
    /// The prefilter's path lookups per recent path, one table per prefilter group with
    /// such lookups, for the ruleset layout `paths_layout`.
    pub(crate) paths: Vec<pathmemo::PathMemo<guard::Sat>>,
    /// The prefilter's lookups of process fields per recent process, one table per
    /// prefilter group with such lookups.
    pub(crate) procs: Vec<procmemo::ProcMemo<guard::Sat>>,
    /// The prefilter's tests of a socket's server side per recent server, one table per
    /// prefilter group with several such tests.
    pub(crate) socks: Vec<sockmemo::SockMemo<guard::Sat>>,
    paths_layout: u64,
}

#[derive(Debug, Default)]
struct SlotState {
    gen: u64,
    present: bool,
    value: Value,
}

impl Scratch {
    pub(crate) fn new(slots: usize, memos: usize) -> Scratch {
        Scratch {
            gen: 0,
            slots: (0..slots).map(|_| SlotState::default()).collect(),
            memo: vec![(0, false); memos],
            paths: Vec::new(),
            procs: Vec::new(),
            socks: Vec::new(),
            paths_layout: 0,
        }
    }

    /// Makes the memo tables those of ruleset layout `layout` (a number no other layout
    /// has), with `widths.paths` results per path, `widths.procs` per process and
    /// `widths.socks` per socket server: tables filled for another layout are dropped.
    #[inline]
    pub(crate) fn use_layout(&mut self, layout: u64, widths: &guard::MemoWidths) {
        if self.paths_layout != layout {
            self.paths = widths
                .paths
                .iter()
                .map(|&w| pathmemo::PathMemo::new(w))
                .collect();
            self.procs = widths
                .procs
                .iter()
                .map(|&w| procmemo::ProcMemo::new(w))
                .collect();
            self.socks = widths
                .socks
                .iter()
                .map(|&w| sockmemo::SockMemo::new(w))
                .collect();
            self.paths_layout = layout;
        }
    }

    /// Invalidates every cached value: call once per event.
    pub(crate) fn next_event(&mut self, slots: usize, memos: usize) {
        if self.slots.len() < slots {
            self.slots.resize_with(slots, SlotState::default);
        }
        if self.memo.len() < memos {
            self.memo.resize(memos, (0, false));
        }
        // Generation 0 never matches a live event: fresh slots start invalid.
        self.gen = self.gen.wrapping_add(1).max(1);
    }

    pub(crate) fn ensure(&mut self, defs: &[SlotDef], slot: usize, ev: &Event) {
        let st = &mut self.slots[slot];
        if st.gen == self.gen {
            return;
        }
        st.gen = self.gen;
        let def = &defs[slot];
        st.present = def.field.extract(ev, &mut st.value);
        if st.present {
            for t in &def.transforms {
                st.present = apply_transform(*t, &mut st.value);
                if !st.present {
                    break;
                }
            }
        }
    }

    pub(crate) fn value(&self, slot: usize) -> Option<&Value> {
        let st = &self.slots[slot];
        (st.present && st.gen == self.gen).then_some(&st.value)
    }
}

fn apply_transform(t: Transformer, v: &mut Value) -> bool {
    match v {
        Value::Any(items) => {
            items.retain_mut(|item| apply_transform(t, item));
            return !items.is_empty();
        }
        Value::Str(s) => match t {
            Transformer::ToLower => {
                if s.is_ascii() {
                    s.make_ascii_lowercase();
                } else {
                    *s = s.to_lowercase();
                }
            }
            Transformer::ToUpper => {
                if s.is_ascii() {
                    s.make_ascii_uppercase();
                } else {
                    *s = s.to_uppercase();
                }
            }
            Transformer::Basename => {
                let start = s.rfind('/').map(|i| i + 1).unwrap_or(0);
                s.drain(..start);
            }
            Transformer::Len => *v = Value::U64(s.chars().count() as u64),
            Transformer::B64 => match base64_decode(s.as_bytes()) {
                Some(bytes) => match String::from_utf8(bytes) {
                    Ok(text) => *s = text,
                    Err(e) => *v = Value::Bytes(e.into_bytes()),
                },
                None => return false,
            },
            Transformer::Val => {}
        },
        Value::Bytes(b) => match t {
            Transformer::Len => *v = Value::U64(b.len() as u64),
            Transformer::B64 => match base64_decode(b) {
                Some(bytes) => *b = bytes,
                None => return false,
            },
            _ => return false,
        },
        _ => return t == Transformer::Val,
    }
    true
}

/// Standard base64 (with or without padding). `None` when the input is not base64.
pub(crate) fn base64_decode(input: &[u8]) -> Option<Vec<u8>> {
    fn val(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let trimmed = match input.iter().position(|&c| c == b'=') {
        Some(i) => {
            if input[i..].iter().any(|&c| c != b'=') || !input.len().is_multiple_of(4) {
                return None;
            }
            &input[..i]
        }
        None => input,
    };
    if trimmed.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(trimmed.len() * 3 / 4);
    for chunk in trimmed.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= val(c)? << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

/// A compiled condition.
#[derive(Clone, Debug)]
pub(crate) enum Node {
    And(Box<[Node]>),
    Or(Box<[Node]>),
    Not(Box<Node>),
    Const(bool),
    /// `evt.type` checks need no extraction.
    EvtType {
        set: EvtSet,
        negate: bool,
    },
    Check(Arc<Check>),
    /// A `contains` on a flags parameter's names, for one event type (see [`flagcheck`]).
    Flags(Arc<flagcheck::FlagCheck>),
    /// A subexpression shared by several rules: computed once per event.
    Memo {
        slot: u32,
        inner: Box<Node>,
    },
}

#[derive(Debug)]
pub(crate) struct Check {
    pub slot: usize,
    pub matcher: Matcher,
    /// `!=`: the matcher tests equality and the result is negated (only for present values).
    pub negate: bool,
    /// The field, when it is tested as borrowed from the event (no transformer, no
    /// candidate list, no other operand): no copy into the slot.
    pub fast: Option<Field>,
}

pub(crate) struct Ctx<'a> {
    pub ev: &'a Event,
    pub defs: &'a [SlotDef],
    pub scratch: &'a mut Scratch,
}

impl Node {
    pub(crate) fn eval(&self, cx: &mut Ctx<'_>) -> bool {
        match self {
            Node::And(nodes) => nodes.iter().all(|n| n.eval(cx)),
            Node::Or(nodes) => nodes.iter().any(|n| n.eval(cx)),
            Node::Not(n) => !n.eval(cx),
            Node::Const(b) => *b,
            Node::EvtType { set, negate } => set.contains(cx.ev.etype) != *negate,
            Node::Check(c) => c.eval(cx),
            Node::Flags(f) => f.eval(cx),
            Node::Memo { slot, inner } => {
                let gen = cx.scratch.gen;
                let (at, value) = cx.scratch.memo[*slot as usize];
                if at == gen {
                    return value;
                }
                let value = inner.eval(cx);
                cx.scratch.memo[*slot as usize] = (gen, value);
                value
            }
        }
    }
}

impl Node {
    /// This condition as evaluated on events of type `t` only: `evt.type` tests become
    /// constants, and so do checks on a field that never has a value on `t` (false, as
    /// every check on a missing value) and checks against an empty list, and the branches they decide are dropped. Memo
    /// slots stay valid, since a memo's value is per event and the event has type `t`.
    pub(crate) fn specialise(&self, t: EventType, defs: &[SlotDef]) -> Node {
        match self {
            Node::EvtType { set, negate } => Node::Const(set.contains(t) != *negate),
            Node::Const(b) => Node::Const(*b),
            Node::Check(c) if c.never_holds() || defs[c.slot].field.never_present_on(t) => {
                Node::Const(false)
            }
            Node::Check(c) => match flagcheck::FlagCheck::of(c, t, defs) {
                Some(f) => Node::Flags(Arc::new(f)),
                None => Node::Check(c.clone()),
            },
            Node::Flags(f) => Node::Flags(f.clone()),
            Node::Not(n) => match n.specialise(t, defs) {
                Node::Const(b) => Node::Const(!b),
                n => Node::Not(Box::new(n)),
            },
            Node::Memo { slot, inner } => match inner.specialise(t, defs) {
                Node::Const(b) => Node::Const(b),
                n => Node::Memo {
                    slot: *slot,
                    inner: Box::new(n),
                },
            },
            Node::And(items) | Node::Or(items) => {
                let and = matches!(self, Node::And(_));
                let mut out = Vec::with_capacity(items.len());
                for n in items.iter() {
                    match n.specialise(t, defs) {
                        // The neutral element drops out, the absorbing one decides.
                        Node::Const(b) if b == and => {}
                        Node::Const(b) => return Node::Const(b),
                        Node::And(inner) if and => out.extend(inner.into_vec()),
                        Node::Or(inner) if !and => out.extend(inner.into_vec()),
                        n => out.push(n),
                    }
                }
                match out.len() {
                    0 => Node::Const(and),
                    1 => out.pop().expect("one node"),
                    _ if and => Node::And(out.into()),
                    _ => Node::Or(out.into()),
                }
            }
        }
    }
}

impl Check {
    /// Whether this check is false for every value: `in` an empty list (`fd.cip in
    /// (allowed_inbound_source_ipaddrs)` with the list left empty for users to fill).
    pub(crate) fn never_holds(&self) -> bool {
        !self.negate
            && match &self.matcher {
                Matcher::Str(matcher::StrMatcher::Set(s)) => s.is_empty(),
                Matcher::NumSet(s) => s.is_empty(),
                Matcher::IpSet(s) => s.is_empty(),
                Matcher::Net(s) => s.is_empty(),
                _ => false,
            }
    }

    #[inline(always)]
    pub(crate) fn eval(&self, cx: &mut Ctx<'_>) -> bool {
        if let Some(field) = &self.fast {
            match field.borrow(cx.ev) {
                Borrowed::Value(v) => return self.matcher.test_ref(v, None) != self.negate,
                Borrowed::Missing => return false,
                Borrowed::NotBorrowable => {}
            }
        }
        self.eval_slot(cx)
    }

    /// Through the slot cache: extracted once per event.
    fn eval_slot(&self, cx: &mut Ctx<'_>) -> bool {
        cx.scratch.ensure(cx.defs, self.slot, cx.ev);
        if let Some(rhs) = self.matcher.rhs_slot() {
            cx.scratch.ensure(cx.defs, rhs, cx.ev);
        }
        let Some(value) = cx.scratch.value(self.slot) else {
            return false;
        };
        let rhs = self.matcher.rhs_slot().map(|s| cx.scratch.value(s));
        let rhs = match rhs {
            Some(None) => return false,
            Some(Some(v)) => Some(v),
            None => None,
        };
        match value {
            Value::Any(items) => {
                if items.is_empty() {
                    return false;
                }
                if !self.negate {
                    return items.iter().any(|v| self.matcher.test(v, rhs));
                }
                if cx.defs[self.slot].ne_requires_all {
                    !items.iter().any(|v| self.matcher.test(v, rhs))
                } else {
                    items.iter().any(|v| !self.matcher.test(v, rhs))
                }
            }
            v => self.matcher.test(v, rhs) != self.negate,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_with_and_without_padding() {
        assert_eq!(base64_decode(b"aGVsbG8="), Some(b"hello".to_vec()));
        assert_eq!(base64_decode(b"aGVsbG8"), Some(b"hello".to_vec()));
        assert_eq!(base64_decode(b"aGk="), Some(b"hi".to_vec()));
        assert_eq!(base64_decode(b""), Some(vec![]));
        assert_eq!(base64_decode(b"a"), None);
        assert_eq!(base64_decode(b"a=b="), None);
        assert_eq!(base64_decode(b"!!!!"), None);
    }

    #[test]
    fn transforms_work_in_place() {
        let mut v = Value::Str("/usr/bin/Bash".into());
        assert!(apply_transform(Transformer::Basename, &mut v));
        assert_eq!(v, Value::Str("Bash".into()));
        assert!(apply_transform(Transformer::ToUpper, &mut v));
        assert_eq!(v, Value::Str("BASH".into()));
        assert!(apply_transform(Transformer::ToLower, &mut v));
        assert_eq!(v, Value::Str("bash".into()));
        assert!(apply_transform(Transformer::Len, &mut v));
        assert_eq!(v, Value::U64(4));
        let mut dir = Value::Str("/etc/".into());
        assert!(apply_transform(Transformer::Basename, &mut dir));
        assert_eq!(dir, Value::Str(String::new()));
        let mut b = Value::Str("aGVsbG8=".into());
        assert!(apply_transform(Transformer::B64, &mut b));
        assert_eq!(b, Value::Str("hello".into()));
        let mut bad = Value::Str("%%%".into());
        assert!(!apply_transform(Transformer::B64, &mut bad));
        let mut u = Value::Str("ÄÖ".into());
        assert!(apply_transform(Transformer::ToLower, &mut u));
        assert_eq!(u, Value::Str("äö".into()));
    }

    /// Vectors from libs' `filter_transformer.ut.cpp`.
    #[test]
    fn upstream_transformer_vectors() {
        let cases: &[(Transformer, &str, Option<&str>)] = &[
            (Transformer::ToUpper, "hello", Some("HELLO")),
            (Transformer::ToUpper, "eXcItED", Some("EXCITED")),
            (Transformer::ToUpper, "", Some("")),
            (Transformer::ToLower, "HELLO", Some("hello")),
            (Transformer::ToLower, "NoT_eXcItED", Some("not_excited")),
            (Transformer::ToLower, "", Some("")),
            (Transformer::B64, "aGVsbG8=", Some("hello")),
            (Transformer::B64, "d29ybGQgIQ==", Some("world !")),
            (Transformer::B64, "", Some("")),
            (Transformer::B64, "!!!", None),
            (
                Transformer::Basename,
                "/home/ubuntu/hello.txt",
                Some("hello.txt"),
            ),
            (Transformer::Basename, "/usr/local/bin/cat", Some("cat")),
            (Transformer::Basename, "/", Some("")),
            (Transformer::Basename, "", Some("")),
            (Transformer::Basename, "/hello/", Some("")),
            (Transformer::Basename, "hello", Some("hello")),
        ];
        for (t, input, want) in cases {
            let mut v = Value::Str(input.to_string());
            let ok = apply_transform(*t, &mut v);
            match want {
                Some(w) => assert_eq!(
                    (ok, v),
                    (true, Value::Str(w.to_string())),
                    "{t:?}({input:?})"
                ),
                None => assert!(!ok, "{t:?}({input:?}) must fail"),
            }
        }
        // Numeric values take no string transformer.
        assert!(!apply_transform(Transformer::ToUpper, &mut Value::U64(1)));
    }
}
