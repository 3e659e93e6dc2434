//! The condition AST, as the parser produces it. Positions are relative to the condition text.

use std::fmt;

/// A position in a condition string: byte offset, and 1-based line and column.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pos {
    pub offset: usize,
    pub line: u32,
    pub col: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// Two or more operands, evaluated left to right.
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    /// A bare identifier: a macro reference.
    Macro {
        name: String,
        pos: Pos,
    },
    /// `lhs op rhs`; for `exists`, `rhs` is [`Rhs::None`].
    Compare(Compare),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Compare {
    pub lhs: Operand,
    pub op: Op,
    /// `oneof` / `anyof` / `allof` after a string operator.
    pub modifier: Option<ListModifier>,
    pub rhs: Rhs,
    pub pos: Pos,
}

/// A field, or a transformer applied to operands.
#[derive(Clone, Debug, PartialEq)]
pub enum Operand {
    Field(FieldRef),
    Transform {
        kind: Transformer,
        args: Vec<Operand>,
        pos: Pos,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct FieldRef {
    /// Full dotted name as written, e.g. `proc.aname`, `evt.arg.flags`.
    pub name: String,
    /// The bracket argument, unquoted, e.g. `2` in `proc.aname[2]`.
    pub arg: Option<String>,
    pub pos: Pos,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transformer {
    ToLower,
    ToUpper,
    B64,
    Basename,
    Len,
    /// `val(field)`: the value of another field of the same event (RHS only).
    Val,
}

impl Transformer {
    pub fn from_name(name: &str) -> Option<Transformer> {
        Some(match name {
            "tolower" => Transformer::ToLower,
            "toupper" => Transformer::ToUpper,
            "b64" => Transformer::B64,
            "basename" => Transformer::Basename,
            "len" => Transformer::Len,
            "val" => Transformer::Val,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Transformer::ToLower => "tolower",
            Transformer::ToUpper => "toupper",
            Transformer::B64 => "b64",
            Transformer::Basename => "basename",
            Transformer::Len => "len",
            Transformer::Val => "val",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Contains,
    IContains,
    BContains,
    StartsWith,
    BStartsWith,
    EndsWith,
    Glob,
    IGlob,
    Regex,
    In,
    Intersects,
    PMatch,
    Exists,
}

impl Op {
    /// The operator as written in conditions (`=` for both `=` and `==`).
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Contains => "contains",
            Op::IContains => "icontains",
            Op::BContains => "bcontains",
            Op::StartsWith => "startswith",
            Op::BStartsWith => "bstartswith",
            Op::EndsWith => "endswith",
            Op::Glob => "glob",
            Op::IGlob => "iglob",
            Op::Regex => "regex",
            Op::In => "in",
            Op::Intersects => "intersects",
            Op::PMatch => "pmatch",
            Op::Exists => "exists",
        }
    }

    /// Parses an operator token (`==` is accepted as `=`).
    pub fn from_token(tok: &str) -> Option<Op> {
        Some(match tok {
            "=" | "==" => Op::Eq,
            "!=" => Op::Ne,
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            "contains" => Op::Contains,
            "icontains" => Op::IContains,
            "bcontains" => Op::BContains,
            "startswith" => Op::StartsWith,
            "bstartswith" => Op::BStartsWith,
            "endswith" => Op::EndsWith,
            "glob" => Op::Glob,
            "iglob" => Op::IGlob,
            "regex" => Op::Regex,
            "in" => Op::In,
            "intersects" => Op::Intersects,
            "pmatch" => Op::PMatch,
            "exists" => Op::Exists,
            _ => return None,
        })
    }

    /// Operators whose right-hand side is a list.
    pub fn takes_list(self) -> bool {
        matches!(self, Op::In | Op::Intersects | Op::PMatch)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ListModifier {
    OneOf,
    AnyOf,
    AllOf,
}

impl ListModifier {
    pub fn as_str(self) -> &'static str {
        match self {
            ListModifier::OneOf => "oneof",
            ListModifier::AnyOf => "anyof",
            ListModifier::AllOf => "allof",
        }
    }
}

/// A literal value from the condition text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Literal {
    /// The value after unquoting and unescaping.
    pub value: String,
    /// Whether it was written in quotes (a quoted list name is not expanded).
    pub quoted: bool,
    pub pos: Pos,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Rhs {
    /// No right-hand side (`exists`).
    None,
    /// A single value: bare word, quoted string or number.
    Value(Literal),
    /// `(a, b, "c d")`; may be empty.
    List(Vec<Literal>),
    /// A bare identifier where a list was expected (`fd.name in my_list`): a list reference.
    ListRef(Literal),
    /// A transformer or `val(field)`.
    Operand(Operand),
}

impl Expr {
    /// Calls `f` on every node, depth first, parents before children.
    pub fn walk<'a>(&'a self, f: &mut impl FnMut(&'a Expr)) {
        f(self);
        match self {
            Expr::And(v) | Expr::Or(v) => v.iter().for_each(|e| e.walk(f)),
            Expr::Not(e) => e.walk(f),
            Expr::Macro { .. } | Expr::Compare(_) => {}
        }
    }
}
