//! Macro inlining with Falco's visibility rules and loop detection.

use crate::ast::{Expr, Pos};

/// Why a macro reference could not be resolved.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MacroError {
    pub message: String,
    pub pos: Pos,
}

/// Most nodes one condition may have once its macros are inlined. The largest upstream rule
/// has about 1,000 (`falco-sandbox_rules.yaml`); this bounds the memory and compile time
/// a few lines of YAML can ask for (a macro doubled forty times would be 2^40 nodes).
pub(crate) const MAX_EXPANDED_NODES: usize = 100_000;
/// Deepest nesting of `and`/`or`/`not` once macros are inlined: the compiler and evaluator
/// recurse on it, about 3 KiB a level in debug builds, so it must stay well inside a 2 MiB
/// thread stack. Upstream rules reach 7 (chains of `not` and of `and`/`or` of the same
/// kind are collapsed first, so only alternation counts).
pub(crate) const MAX_EXPANDED_DEPTH: usize = 250;
/// Most nodes all expanded macros and rules of a ruleset may have together (upstream's
/// three rulesets and the seed's: about 6,500 in their rules).
pub(crate) const MAX_TOTAL_NODES: usize = 2_000_000;

/// Replaces every macro reference in `ast` by the (recursively inlined) macro body.
/// `visible` finds the macros this condition may reference. Inlined names are recorded in
/// `used`. Fails when the result would exceed [`MAX_EXPANDED_NODES`] or
/// [`MAX_EXPANDED_DEPTH`], at the reference that crossed the bound. Returns the node count
/// of the result.
pub(crate) fn inline_macros<'m>(
    ast: &mut Expr,
    visible: &dyn Fn(&str) -> Option<&'m Expr>,
    used: &mut Vec<String>,
) -> Result<usize, MacroError> {
    let mut cx = Inliner {
        visible,
        used,
        stack: Vec::new(),
        nodes: 0,
    };
    cx.inline(ast, 1, None)?;
    Ok(cx.nodes)
}

struct Inliner<'a, 'm> {
    visible: &'a dyn Fn(&str) -> Option<&'m Expr>,
    used: &'a mut Vec<String>,
    /// Macros being inlined, outermost first: a name seen again is a loop.
    stack: Vec<String>,
    /// Nodes of the expanded condition so far.
    nodes: usize,
}

impl Inliner<'_, '_> {
    /// `depth` is the nesting of `ast`; `via` the position of the outermost macro reference
    /// it came from, where a budget error is reported (nodes inside a macro body have
    /// positions in that macro's text, not in the condition being compiled).
    fn inline(&mut self, ast: &mut Expr, depth: usize, via: Option<Pos>) -> Result<(), MacroError> {
        collapse_nots(ast);
        self.nodes += 1;
        if depth > MAX_EXPANDED_DEPTH || self.nodes > MAX_EXPANDED_NODES {
            let pos = via.unwrap_or_else(|| position(ast));
            let message = if depth > MAX_EXPANDED_DEPTH {
                format!(
                    "condition nests deeper than {MAX_EXPANDED_DEPTH} levels once its macros are inlined"
                )
            } else {
                format!(
                    "condition grows past {MAX_EXPANDED_NODES} operators and checks once its macros are inlined"
                )
            };
            let message = match self.stack.first() {
                Some(m) => format!("{message} (through macro '{m}')"),
                None => message,
            };
            return Err(MacroError { message, pos });
        }
        match ast {
            Expr::And(items) | Expr::Or(items) => {
                for item in items.iter_mut() {
                    self.inline(item, depth + 1, via)?;
                }
                // `a and (b and c)` is `a and b and c`: a chain of macros each adding to
                // the last stays one level deep.
                self.nodes -= flatten(ast);
                Ok(())
            }
            Expr::Not(inner) => {
                self.inline(inner, depth + 1, via)?;
                // A macro that is itself a negation, under `not`.
                collapse_nots(ast);
                Ok(())
            }
            Expr::Compare(_) => Ok(()),
            Expr::Macro { name, pos } => {
                let Some(body) = (self.visible)(name.as_str()) else {
                    return Err(MacroError {
                        message: format!("Undefined macro '{name}' used in filter."),
                        pos: *pos,
                    });
                };
                if self.stack.iter().any(|s| s == name) {
                    return Err(MacroError {
                        message: format!("reference loop in macro '{name}'"),
                        pos: *pos,
                    });
                }
                // Check the body fits before copying it: the copy is what costs memory.
                let (size, body_depth) = extent(body);
                if self.nodes - 1 + size > MAX_EXPANDED_NODES
                    || depth - 1 + body_depth > MAX_EXPANDED_DEPTH
                {
                    let over_depth = depth - 1 + body_depth > MAX_EXPANDED_DEPTH;
                    let message = if over_depth {
                        format!(
                            "condition nests deeper than {MAX_EXPANDED_DEPTH} levels once macro '{name}' is inlined"
                        )
                    } else {
                        format!(
                            "condition grows past {MAX_EXPANDED_NODES} operators and checks once macro '{name}' is inlined"
                        )
                    };
                    return Err(MacroError {
                        message,
                        pos: via.unwrap_or(*pos),
                    });
                }
                let name = name.clone();
                let via = via.or(Some(*pos));
                let mut body = body.clone();
                self.nodes -= 1;
                self.stack.push(name.clone());
                let result = self.inline(&mut body, depth, via);
                self.stack.pop();
                result?;
                if !self.used.contains(&name) {
                    self.used.push(name);
                }
                *ast = body;
                Ok(())
            }
        }
    }
}

/// `not not x` is `x`: a chain of negations becomes at most one, peeled in a loop so that
/// the thousand `not`s Falco parses (or a chain of macros each negating the last) cost one
/// level and one node, not a thousand.
fn collapse_nots(e: &mut Expr) {
    if !matches!(e, Expr::Not(inner) if matches!(**inner, Expr::Not(_))) {
        return;
    }
    let mut inner = std::mem::replace(e, Expr::And(Vec::new()));
    let mut negated = false;
    while let Expr::Not(i) = inner {
        inner = *i;
        negated = !negated;
    }
    *e = if negated {
        Expr::Not(Box::new(inner))
    } else {
        inner
    };
}

/// Splices the operands of `and`s directly under an `and` (and `or`s under an `or`) into
/// it; returns how many nodes that removed.
fn flatten(e: &mut Expr) -> usize {
    let is_and = matches!(e, Expr::And(_));
    let (Expr::And(items) | Expr::Or(items)) = e else {
        return 0;
    };
    let same = |i: &Expr| match i {
        Expr::And(_) => is_and,
        Expr::Or(_) => !is_and,
        _ => false,
    };
    if !items.iter().any(same) {
        return 0;
    }
    let mut removed = 0;
    let mut flat = Vec::with_capacity(items.len());
    for item in std::mem::take(items) {
        if !same(&item) {
            flat.push(item);
            continue;
        }
        if let Expr::And(inner) | Expr::Or(inner) = item {
            removed += 1;
            flat.extend(inner);
        }
    }
    *items = flat;
    removed
}

/// Node count and nesting depth of `e`.
fn extent(e: &Expr) -> (usize, usize) {
    match e {
        Expr::And(v) | Expr::Or(v) => v.iter().fold((1, 1), |(n, d), i| {
            let (ni, di) = extent(i);
            (n + ni, d.max(di + 1))
        }),
        Expr::Not(i) => {
            let (n, d) = extent(i);
            (n + 1, d + 1)
        }
        Expr::Macro { .. } | Expr::Compare(_) => (1, 1),
    }
}

/// Where `e` starts in its text, for an error about it.
fn position(e: &Expr) -> Pos {
    match e {
        Expr::And(v) | Expr::Or(v) => v.first().map(position).unwrap_or_default(),
        Expr::Not(i) => position(i),
        Expr::Macro { pos, .. } => *pos,
        Expr::Compare(c) => c.pos,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn inline(
        ast: &mut Expr,
        visible: &HashMap<&str, &Expr>,
        used: &mut Vec<String>,
    ) -> Result<usize, MacroError> {
        inline_macros(ast, &|name| visible.get(name).copied(), used)
    }

    fn m(name: &str) -> Expr {
        Expr::Macro {
            name: name.into(),
            pos: Pos::default(),
        }
    }

    #[test]
    fn inlines_nested_and_detects_loops() {
        let a_body = m("b");
        let b_body = Expr::Not(Box::new(m("c")));
        let c_body = Expr::And(vec![]);
        let visible: HashMap<&str, &Expr> = [("a", &a_body), ("b", &b_body), ("c", &c_body)].into();
        let mut ast = Expr::Or(vec![m("a"), m("c")]);
        let mut used = vec![];
        inline(&mut ast, &visible, &mut used).unwrap();
        assert_eq!(
            ast,
            Expr::Or(vec![
                Expr::Not(Box::new(Expr::And(vec![]))),
                Expr::And(vec![])
            ])
        );
        assert_eq!(used.len(), 3);

        let loop_a = m("b");
        let loop_b = m("a");
        let visible: HashMap<&str, &Expr> = [("a", &loop_a), ("b", &loop_b)].into();
        let mut ast = m("a");
        let err = inline(&mut ast, &visible, &mut vec![]).unwrap_err();
        assert!(
            err.message.contains("reference loop in macro"),
            "{}",
            err.message
        );

        let mut ast = m("zzz");
        let err = inline(&mut ast, &visible, &mut vec![]).unwrap_err();
        assert_eq!(err.message, "Undefined macro 'zzz' used in filter.");
    }
}
