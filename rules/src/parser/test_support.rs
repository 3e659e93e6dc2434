//! Compact renderings of ASTs for tests: structure as an s-expression, and positions as a
//! list in the style of libs' `pos_visitor`.

use super::{parse_condition, ParseError};
use crate::ast::{Compare, Expr, Literal, Operand, Pos, Rhs};

/// Parses or panics with the error and its position.
pub(crate) fn parse_ok(input: &str) -> Expr {
    match parse_condition(input) {
        Ok(e) => e,
        Err(e) => panic!("{input:?} failed at {:?}: {}", e.pos, e.message),
    }
}

/// Parses, expecting an error; returns `(message, offset, line, col)`.
pub(crate) fn parse_err(input: &str) -> (String, usize, u32, u32) {
    match parse_condition(input) {
        Ok(e) => panic!("{input:?} should fail, parsed as {}", sexpr(&e)),
        Err(ParseError { message, pos }) => (message, pos.offset, pos.line, pos.col),
    }
}

/// `s-expression` rendering, e.g. `(and spawned_process (in proc.name [bash "a b"]))`.
pub(crate) fn sexpr(e: &Expr) -> String {
    match e {
        Expr::And(v) => nary("and", v),
        Expr::Or(v) => nary("or", v),
        Expr::Not(e) => format!("(not {})", sexpr(e)),
        Expr::Macro { name, .. } => name.clone(),
        Expr::Compare(c) => compare(c),
    }
}

fn nary(op: &str, v: &[Expr]) -> String {
    let parts: Vec<String> = v.iter().map(sexpr).collect();
    format!("({op} {})", parts.join(" "))
}

fn compare(c: &Compare) -> String {
    let op = match c.modifier {
        Some(m) => format!("{}:{}", c.op, m.as_str()),
        None => c.op.to_string(),
    };
    match &c.rhs {
        Rhs::None => format!("({op} {})", operand(&c.lhs)),
        rhs => format!("({op} {} {})", operand(&c.lhs), rhs_str(rhs)),
    }
}

pub(crate) fn operand(o: &Operand) -> String {
    match o {
        Operand::Field(f) => match &f.arg {
            Some(arg) => format!("{}[{arg}]", f.name),
            None => f.name.clone(),
        },
        Operand::Transform { kind, args, .. } => {
            let args: Vec<String> = args.iter().map(operand).collect();
            format!("{}({})", kind.name(), args.join(", "))
        }
    }
}

fn literal(l: &Literal) -> String {
    if l.quoted {
        format!("{:?}", l.value)
    } else {
        l.value.clone()
    }
}

fn rhs_str(r: &Rhs) -> String {
    match r {
        Rhs::None => String::new(),
        Rhs::Value(l) => literal(l),
        Rhs::List(items) => {
            let items: Vec<String> = items.iter().map(literal).collect();
            format!("[{}]", items.join(" "))
        }
        Rhs::ListRef(l) => format!("@{}", l.value),
        Rhs::Operand(o) => operand(o),
    }
}

fn at(kind: &str, p: Pos) -> String {
    format!("{kind}{} {} {}", p.offset, p.line, p.col)
}

/// Positions of every node that has one, depth first, like libs' `pos_visitor` prints them
/// (`binary`/`unary` for comparisons, `field`, `transformer`, `value`, `identifier`; list items
/// are `value`s since our lists have no position of their own).
pub(crate) fn positions(e: &Expr) -> String {
    let mut out = Vec::new();
    walk_positions(e, &mut out);
    out.concat()
}

fn walk_positions(e: &Expr, out: &mut Vec<String>) {
    match e {
        Expr::And(v) | Expr::Or(v) => v.iter().for_each(|e| walk_positions(e, out)),
        Expr::Not(e) => walk_positions(e, out),
        Expr::Macro { pos, .. } => out.push(at("identifier", *pos)),
        Expr::Compare(c) => {
            let kind = if matches!(c.rhs, Rhs::None) {
                "unary"
            } else {
                "binary"
            };
            out.push(at(kind, c.pos));
            operand_positions(&c.lhs, out);
            match &c.rhs {
                Rhs::None => {}
                Rhs::Value(l) | Rhs::ListRef(l) => out.push(at("value", l.pos)),
                Rhs::List(items) => items.iter().for_each(|l| out.push(at("value", l.pos))),
                Rhs::Operand(o) => operand_positions(o, out),
            }
        }
    }
}

pub(crate) fn operand_positions(o: &Operand, out: &mut Vec<String>) {
    match o {
        Operand::Field(f) => out.push(at("field", f.pos)),
        Operand::Transform { args, pos, .. } => {
            out.push(at("transformer", *pos));
            args.iter().for_each(|a| operand_positions(a, out));
        }
    }
}
