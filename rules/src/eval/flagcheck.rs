//! `evt.arg.flags contains O_CREAT` without rendering the flags. A flags, enum or mode
//! parameter renders as names joined with `|`, so a needle without `|` is in the text
//! exactly when it is in one of the names: the names come from the table, no text is
//! built, and no long `S_IRUSR|S_IWUSR|…` string is searched for each needle.

use super::matcher::Matcher;
use super::{Check, Ctx, SlotDef};
use memchr::memmem;
use peregrine_event::{EventType, FlagSet, ParamKind};
use std::sync::Arc;

#[derive(Debug)]
pub(crate) struct FlagCheck {
    param: usize,
    set: FlagSet,
    /// The names that contain a needle: the check holds when the value has one of them.
    hits: Box<[&'static str]>,
    /// The check as written, for a value that renders otherwise (no name: a number).
    fallback: Arc<Check>,
}

impl FlagCheck {
    /// `c` on events of type `t` as a [`FlagCheck`], when it is a `contains` on an
    /// untransformed `evt.arg` of a flags, enum or mode parameter, with needles that are
    /// neither empty nor hold a `|`.
    pub(crate) fn of(c: &Arc<Check>, t: EventType, defs: &[SlotDef]) -> Option<FlagCheck> {
        let def = &defs[c.slot];
        if c.negate || !def.transforms.is_empty() {
            return None;
        }
        let param = def.field.rendered_param(t)?;
        let set = match t.params()[param].kind {
            ParamKind::Flags(set) | ParamKind::Enum(set) => set,
            ParamKind::Mode => FlagSet::FileMode,
            _ => return None,
        };
        let Matcher::Str(m) = &c.matcher else {
            return None;
        };
        let needles = m.contains_needles()?;
        if !needles.iter().all(|n| !n.is_empty() && !n.contains(&b'|')) {
            return None;
        }
        let hits = set
            .names()
            .filter(|name| {
                needles
                    .iter()
                    .any(|n| memmem::find(name.as_bytes(), n).is_some())
            })
            .collect();
        Some(FlagCheck {
            param,
            set,
            hits,
            fallback: c.clone(),
        })
    }

    /// The check as written.
    pub(crate) fn written(&self) -> &Check {
        &self.fallback
    }

    #[inline]
    pub(crate) fn eval(&self, cx: &mut Ctx<'_>) -> bool {
        if let Some(value) = cx.ev.params.get(self.param).and_then(|p| p.as_u64()) {
            let (mut named, mut hit) = (false, false);
            let names = self.set.each_name(value, |name| {
                named = true;
                hit = hit || self.hits.contains(&name);
            });
            // No name at all renders as the number: the check as written decides.
            if names && named {
                return hit;
            }
        }
        self.fallback.eval(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::check::{compile_expr, SlotTable};
    use crate::eval::{Node, Scratch};
    use peregrine_event::{Event, ParamValue};

    /// The condition on type `t` as specialised (with flag checks) and as written, on an
    /// event whose parameter `param` is `value`.
    fn both(cond: &str, t: &str, param: usize, value: ParamValue) -> (bool, bool, bool) {
        let ast = crate::parser::parse_condition(cond).expect("parses");
        let mut slots = SlotTable::default();
        let node = compile_expr(&ast, &mut slots).expect("compiles");
        let t = EventType::from_name(t).expect("type");
        let special = node.specialise(t, &slots.defs);
        let flags = matches!(special, Node::Flags(_));
        let mut params = vec![ParamValue::Int(3); t.params().len()];
        params[param] = value;
        let ev = Event::new(t, 0, 1, params);
        let mut scratch = Scratch::new(slots.defs.len(), 0);
        let mut eval = |n: &Node| {
            scratch.next_event(slots.defs.len(), 0);
            n.eval(&mut Ctx {
                ev: &ev,
                defs: &slots.defs,
                scratch: &mut scratch,
            })
        };
        (flags, eval(&special), eval(&node))
    }

    #[test]
    fn names_decide_as_the_rendered_text_does() {
        use peregrine_event::flags::open;
        let cases: Vec<(&str, &str, usize, ParamValue)> = vec![
            (
                "evt.arg.flags contains O_CREAT",
                "openat",
                3,
                ParamValue::Uint(open::O_WRONLY | open::O_CREAT),
            ),
            (
                "evt.arg.flags contains O_CREAT",
                "openat",
                3,
                ParamValue::Uint(open::O_RDONLY),
            ),
            // O_RDONLY is 0, yet rendered.
            (
                "evt.arg.flags contains RDONLY",
                "openat",
                3,
                ParamValue::Uint(0),
            ),
            (
                "evt.arg.flags contains _TRUNC",
                "openat",
                3,
                ParamValue::Uint(open::O_RDWR | open::O_TRUNC),
            ),
            (
                "evt.arg.flags contains CREAT",
                "openat",
                3,
                ParamValue::Int(open::O_CREAT as i64),
            ),
            (
                "evt.arg.mode contains S_IXUSR",
                "fchmodat",
                3,
                ParamValue::Uint(0o755),
            ),
            (
                "evt.arg.mode contains S_ISUID",
                "fchmodat",
                3,
                ParamValue::Uint(0o755),
            ),
            (
                "evt.arg.mode contains S_ISUID",
                "fchmodat",
                3,
                ParamValue::Uint(0o4755),
            ),
            (
                "(evt.arg.mode contains S_ISUID or evt.arg.mode contains S_ISGID)",
                "fchmodat",
                3,
                ParamValue::Uint(0o2755),
            ),
            // No bit with a name: rendered as the number, decided on the text.
            (
                "evt.arg.mode contains 0",
                "fchmodat",
                3,
                ParamValue::Uint(0),
            ),
            (
                "evt.arg.domain contains AF_PACKET",
                "socket",
                1,
                ParamValue::Uint(17),
            ),
            (
                "evt.arg.domain contains AF_PACKET",
                "socket",
                1,
                ParamValue::Uint(2),
            ),
            // An unknown family renders as its number.
            (
                "evt.arg.domain contains 99",
                "socket",
                1,
                ParamValue::Uint(99),
            ),
            (
                "evt.arg.domain contains AF_",
                "socket",
                1,
                ParamValue::Absent,
            ),
        ];
        for (cond, t, param, value) in cases {
            let (flags, special, written) = both(cond, t, param, value.clone());
            assert!(
                flags || cond.starts_with('('),
                "{cond} on {t}: a flag check"
            );
            assert_eq!(special, written, "{cond} on {t} with {value:?}");
        }
        // Spot checks of the expected answers.
        assert!(
            both(
                "evt.arg.mode contains S_ISUID",
                "fchmodat",
                3,
                ParamValue::Uint(0o4755)
            )
            .1
        );
        assert!(
            !both(
                "evt.arg.mode contains S_ISUID",
                "fchmodat",
                3,
                ParamValue::Uint(0o755)
            )
            .1
        );
        assert!(
            both(
                "evt.arg.domain contains 99",
                "socket",
                1,
                ParamValue::Uint(99)
            )
            .1
        );
    }

    #[test]
    fn only_plain_contains_on_named_parameters_become_flag_checks() {
        for (cond, t) in [
            ("evt.arg.flags contains 'O_RDONLY|O_CLOEXEC'", "openat"),
            ("evt.arg.flags = O_RDONLY", "openat"),
            ("evt.arg.name contains etc", "openat"),
            ("tolower(evt.arg.flags) contains o_creat", "openat"),
        ] {
            let (flags, special, written) = both(cond, t, 3, ParamValue::Uint(0));
            assert!(!flags, "{cond}");
            assert_eq!(special, written, "{cond}");
        }
    }
}
