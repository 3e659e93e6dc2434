//! Macro inlining with Falco's visibility rules and loop detection.

use crate::ast::{Expr, Pos};
use std::collections::HashMap;

/// Why a macro reference could not be resolved.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MacroError {
    pub message: String,
    pub pos: Pos,
}

/// Replaces every macro reference in `ast` by the (recursively inlined) macro body.
/// `visible` holds the macros this condition may reference. Inlined names are recorded in
/// `used`.
pub(crate) fn inline_macros(
    ast: &mut Expr,
    visible: &HashMap<&str, &Expr>,
    used: &mut Vec<String>,
) -> Result<(), MacroError> {
    let mut stack = Vec::new();
    inline(ast, visible, used, &mut stack)
}

fn inline(
    ast: &mut Expr,
    visible: &HashMap<&str, &Expr>,
    used: &mut Vec<String>,
    stack: &mut Vec<String>,
) -> Result<(), MacroError> {
    match ast {
        Expr::And(items) | Expr::Or(items) => {
            for item in items.iter_mut() {
                inline(item, visible, used, stack)?;
            }
            Ok(())
        }
        Expr::Not(inner) => inline(inner, visible, used, stack),
        Expr::Compare(_) => Ok(()),
        Expr::Macro { name, pos } => {
            let Some(body) = visible.get(name.as_str()) else {
                return Err(MacroError {
                    message: format!("Undefined macro '{name}' used in filter."),
                    pos: *pos,
                });
            };
            if stack.iter().any(|s| s == name) {
                return Err(MacroError {
                    message: format!("reference loop in macro '{name}'"),
                    pos: *pos,
                });
            }
            let name = name.clone();
            let mut body = (*body).clone();
            stack.push(name.clone());
            let result = inline(&mut body, visible, used, stack);
            stack.pop();
            result?;
            if !used.contains(&name) {
                used.push(name);
            }
            *ast = body;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        inline_macros(&mut ast, &visible, &mut used).unwrap();
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
        let err = inline_macros(&mut ast, &visible, &mut vec![]).unwrap_err();
        assert!(
            err.message.contains("reference loop in macro"),
            "{}",
            err.message
        );

        let mut ast = m("zzz");
        let err = inline_macros(&mut ast, &visible, &mut vec![]).unwrap_err();
        assert_eq!(err.message, "Undefined macro 'zzz' used in filter.");
    }
}
