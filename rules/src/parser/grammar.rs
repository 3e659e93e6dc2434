//! Recursive-descent parser following libs `filter/parser.cpp` production by production.
//! Method names match the libs functions they mirror so the two can be read side by side.
//!
//! Depth accounting: every recursive method calls [`Parser::enter`] first and
//! [`Parser::leave`] just before returning `Ok`. Errors are never recovered from (they end the
//! whole parse), so the counter is not restored on error paths. Keeping one stack frame per
//! grammar function (no closures, no helper frames in the recursion), returning boxed
//! expressions and moving the non-recursive alternatives into separate functions bounds the
//! stack needed at [`MAX_DEPTH`] to under 1 MiB even in debug builds.

use super::cursor::{is_posix_space, Cursor};
use super::escaping::unescape;
use super::lexer::{self, LIST_OPS, NUM_OPS, STR_OPS, UNARY_OPS};
use super::ParseError;
use crate::ast::{
    Compare, Expr, FieldRef, ListModifier, Literal, Op, Operand, Pos, Rhs, Transformer,
};

/// Maximum nesting, counted like libs' `depth_guard`: one level per grammar function on the
/// stack and one per `not`. Falco uses 1000 for rule conditions.
pub const MAX_DEPTH: u32 = 1000;

type PResult<T> = Result<T, ParseError>;

pub(crate) struct Parser<'a> {
    cur: Cursor<'a>,
    depth: u32,
    /// The last token lexed (blanks excluded), for "unexpected token after '…'".
    last_token: String,
}

impl<'a> Parser<'a> {
    pub(crate) fn new(input: &'a str) -> Self {
        Parser::with_cursor(Cursor::new(input))
    }

    pub(crate) fn with_cursor(cur: Cursor<'a>) -> Self {
        Parser {
            cur,
            depth: 0,
            last_token: String::new(),
        }
    }

    pub(crate) fn offset(&self) -> usize {
        self.cur.offset()
    }

    pub(crate) fn is_eof(&self) -> bool {
        self.cur.is_eof()
    }

    pub(crate) fn last_token(&self) -> &str {
        &self.last_token
    }

    pub(crate) fn error(&self, message: impl Into<String>) -> ParseError {
        error_at(message, self.cur.pos())
    }

    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth >= MAX_DEPTH {
            return Err(self.error(format!("exceeded max depth limit of {MAX_DEPTH}")));
        }
        Ok(())
    }

    #[cold]
    #[inline(never)]
    fn blank_expected_after(&self, keyword: &str) -> ParseError {
        self.error(format!("expected blank or '(' after '{keyword}'"))
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    /// Consumes `s` if it comes next, remembering it as the last token.
    fn eat(&mut self, s: &str) -> bool {
        let ok = self.cur.eat(s);
        if ok {
            self.last_token = s.to_string();
        }
        ok
    }

    /// Consumes `len` bytes as one token and returns its text.
    fn take(&mut self, len: usize) -> &'a str {
        let start = self.cur.offset();
        self.cur.advance(len);
        let text = self.cur.slice(start, self.cur.offset());
        self.last_token = text.to_string();
        text
    }

    fn take_with(&mut self, matcher: fn(&[u8]) -> usize) -> Option<&'a str> {
        match matcher(self.cur.rest()) {
            0 => None,
            len => Some(self.take(len)),
        }
    }

    // ---- expressions ------------------------------------------------------------------------

    /// `OrExpr ::= AndExpr ('or' OrExprTail)*`, `OrExprTail ::= ' ' AndExpr | '(' Expr ')'`
    #[inline(always)]
    pub(crate) fn parse_or(&mut self) -> PResult<Box<Expr>> {
        self.parse_nary(true)
    }

    /// `AndExpr ::= NotExpr ('and' AndExprTail)*`, `AndExprTail ::= ' ' NotExpr | '(' Expr ')'`
    #[inline(always)]
    fn parse_and(&mut self) -> PResult<Box<Expr>> {
        self.parse_nary(false)
    }

    /// `or` (with `and` operands) when `is_or`, else `and` (with `not` operands).
    fn parse_nary(&mut self, is_or: bool) -> PResult<Box<Expr>> {
        self.enter()?;
        let keyword = if is_or { "or" } else { "and" };
        self.cur.skip_blanks();
        let first = self.parse_nary_operand(is_or)?;
        self.cur.skip_blanks();
        let mut children = Vec::new();
        while self.eat(keyword) {
            let child = if self.cur.skip_blanks() {
                self.parse_nary_operand(is_or)?
            } else if self.eat("(") {
                // libs takes the parenthesised expression as the whole tail operand
                self.parse_embedded_remainder()?
            } else {
                return Err(self.blank_expected_after(keyword));
            };
            children.push(*child);
            self.cur.skip_blanks();
        }
        self.leave();
        Ok(if children.is_empty() {
            first
        } else {
            build_nary(is_or, *first, children)
        })
    }

    #[inline(always)]
    fn parse_nary_operand(&mut self, is_or: bool) -> PResult<Box<Expr>> {
        if is_or {
            self.parse_and()
        } else {
            self.parse_not()
        }
    }

    /// `NotExpr ::= ('not' BLANK+)* ('not(' Expr ')' | Check)`. Each `not` becomes one node and
    /// counts one level, so that a long chain cannot build an AST too deep to drop.
    fn parse_not(&mut self) -> PResult<Box<Expr>> {
        self.enter()?;
        self.cur.skip_blanks();
        let mut nots: u32 = 0;
        loop {
            let rest = self.cur.rest();
            let spaces = rest.get(3..).unwrap_or(&[]);
            let spaces = spaces.iter().take_while(|&&b| is_posix_space(b)).count();
            if !rest.starts_with(b"not") || spaces == 0 {
                break;
            }
            self.enter()?;
            nots += 1;
            self.take(3 + spaces);
        }
        let mut expr = if self.eat("not(") {
            self.enter()?;
            nots += 1;
            self.parse_embedded_remainder()?
        } else {
            self.parse_check()?
        };
        for _ in 0..nots {
            expr = Box::new(Expr::Not(expr));
        }
        self.depth -= nots;
        self.leave();
        Ok(expr)
    }

    /// The rest of a parenthesised expression, after its `(`.
    fn parse_embedded_remainder(&mut self) -> PResult<Box<Expr>> {
        self.enter()?;
        self.cur.skip_blanks();
        let child = self.parse_or()?;
        self.cur.skip_blanks();
        if !self.eat(")") {
            return Err(self.error("expected a ')' token"));
        }
        self.leave();
        Ok(child)
    }

    /// `Check ::= Field Condition | FieldTransformer Condition | Identifier | '(' Expr ')'`
    fn parse_check(&mut self) -> PResult<Box<Expr>> {
        self.enter()?;
        self.cur.skip_blanks();
        let expr = if self.eat("(") {
            self.parse_embedded_remainder()?
        } else {
            self.parse_check_leaf()?
        };
        self.leave();
        Ok(expr)
    }

    /// The non-parenthesised alternatives of `Check`. Kept out of [`Self::parse_check`] so
    /// that the frames of the `(`-recursion stay small.
    #[inline(never)]
    fn parse_check_leaf(&mut self) -> PResult<Box<Expr>> {
        let pos = self.cur.pos();
        let expr = if let Some(name) = self.take_with(lexer::field_name_len) {
            let field = self.parse_field_remainder(name, pos)?;
            self.parse_condition(Operand::Field(field), pos)?
        } else if let Some(kind) = self.lex_field_transformer_type()? {
            self.cur.skip_blanks();
            let lhs = self.parse_field_or_transformer_remainder(kind, pos)?;
            self.parse_condition(lhs, pos)?
        } else if let Some(name) = self.take_with(lexer::identifier_len) {
            Expr::Macro {
                name: name.to_string(),
                pos,
            }
        } else {
            return Err(self.error("expected a '(' token, a field check, or an identifier"));
        };
        Ok(Box::new(expr))
    }

    // ---- operands ---------------------------------------------------------------------------

    /// A field or transformer call alone, as `%…` output tokens use them.
    pub(crate) fn parse_operand(&mut self) -> PResult<Operand> {
        let pos = self.cur.pos();
        if let Some(name) = self.take_with(lexer::field_name_len) {
            return Ok(Operand::Field(self.parse_field_remainder(name, pos)?));
        }
        if let Some(kind) = self.lex_field_transformer_type()? {
            self.cur.skip_blanks();
            return self.parse_field_or_transformer_remainder(kind, pos);
        }
        Err(self.error(format!(
            "expected a field or a valid transformer: {}",
            quote_list(lexer::TRANSFORMERS.iter().copied())
        )))
    }

    /// The optional `[arg]` right after a field name (not recursive).
    fn parse_field_remainder(&mut self, name: &str, pos: Pos) -> PResult<FieldRef> {
        let mut arg = None;
        if self.eat("[") {
            arg = Some(match self.lex_quoted_str()? {
                Some(lit) => lit.value,
                None => match self.take_with(lexer::field_arg_bare_len) {
                    Some(bare) => bare.to_string(),
                    None => {
                        return Err(self.error(
                            "expected a valid field argument: a quoted string or a bare string",
                        ))
                    }
                },
            });
            if !self.eat("]") {
                return Err(self.error("expected a ']' token"));
            }
        }
        Ok(FieldRef {
            name: name.to_string(),
            arg,
            pos,
        })
    }

    /// `tolower(`, `toupper(`, … at the cursor. The multi-argument transformers of recent libs
    /// are recognised so that they fail with a clear message instead of a confusing one.
    fn lex_field_transformer_type(&mut self) -> PResult<Option<Transformer>> {
        let rest = self.cur.rest();
        if let Some(name) = lexer::call_prefix(rest, lexer::UNSUPPORTED_TRANSFORMERS) {
            return Err(self.error(format!(
                "multi-argument transformer '{name}' is not supported"
            )));
        }
        let Some((name, kind)) = lexer::call_prefix(rest, lexer::TRANSFORMERS)
            .and_then(|name| Some((name, Transformer::from_name(name)?)))
        else {
            return Ok(None);
        };
        self.take(name.len() + 1);
        Ok(Some(kind))
    }

    /// The argument and `)` of a transformer whose `name(` was consumed: a field or a nested
    /// transformer (`val` cannot be nested). Counts two levels, as libs guards both
    /// `parse_field_or_transformer_remainder` and `parse_field_transformer_arg`.
    fn parse_field_or_transformer_remainder(
        &mut self,
        kind: Transformer,
        pos: Pos,
    ) -> PResult<Operand> {
        self.enter()?;
        self.enter()?;
        self.cur.skip_blanks();
        let arg_pos = self.cur.pos();
        let arg = match self.lex_field_transformer_type()? {
            Some(nested) => {
                self.cur.skip_blanks();
                self.parse_field_or_transformer_remainder(nested, arg_pos)?
            }
            None => self.parse_transformer_field_arg(arg_pos)?,
        };
        self.cur.skip_blanks();
        if !self.eat(")") {
            return Err(self.transformer_not_closed());
        }
        self.leave();
        self.leave();
        Ok(Operand::Transform {
            kind,
            args: vec![arg],
            pos,
        })
    }

    /// A field as transformer argument (kept out of the recursive frame above).
    #[inline(never)]
    fn parse_transformer_field_arg(&mut self, pos: Pos) -> PResult<Operand> {
        match self.take_with(lexer::field_name_len) {
            Some(name) => Ok(Operand::Field(self.parse_field_remainder(name, pos)?)),
            None => Err(self.error(format!(
                "expected a field or a nested valid transformer: {}",
                transformer_list()
            ))),
        }
    }

    #[cold]
    #[inline(never)]
    fn transformer_not_closed(&self) -> ParseError {
        self.error("expected a ')' token closing the transformer")
    }

    // ---- conditions -------------------------------------------------------------------------

    /// `Condition ::= UnaryOperator | NumOperator (NumValue | FieldTransformerOrVal)
    ///   | StrOperator (ListModifier ListValue | StrValue | FieldTransformerOrVal)
    ///   | ListOperator (ListValue | FieldTransformerOrVal)`
    fn parse_condition(&mut self, lhs: Operand, pos: Pos) -> PResult<Expr> {
        self.enter()?;
        self.cur.skip_blanks();
        let (op, modifier, rhs) = if let Some(op) = self.lex_operator(UNARY_OPS, |_| false) {
            (op, None, Rhs::None)
        } else if let Some(op) = self.lex_operator(NUM_OPS, |_| false) {
            (op, None, self.parse_num_value_or_transformer(op)?)
        } else if let Some(op) = self.lex_operator(STR_OPS, lexer::str_op_needs_blank) {
            let (modifier, rhs) = self.parse_str_value_or_transformer()?;
            (op, modifier, rhs)
        } else if let Some(op) = self.lex_operator(LIST_OPS, |_| false) {
            (op, None, self.parse_list_value_or_transformer(op)?)
        } else {
            return Err(self.error(format!(
                "expected a valid check operator: one of {}",
                operator_list()
            )));
        };
        self.leave();
        Ok(Expr::Compare(Compare {
            lhs,
            op,
            modifier,
            rhs,
            pos,
        }))
    }

    fn lex_operator(&mut self, ops: &[&'static str], needs_blank: fn(&str) -> bool) -> Option<Op> {
        let (token, len) = lexer::operator_len(self.cur.rest(), ops, needs_blank)?;
        let op = Op::from_token(token)?;
        self.cur.advance(len);
        self.last_token = token.to_string();
        Some(op)
    }

    fn parse_num_value_or_transformer(&mut self, op: Op) -> PResult<Rhs> {
        self.cur.skip_blanks();
        self.reject_modifier(op)?;
        let pos = self.cur.pos();
        if let Some(operand) = self.try_parse_transformer_or_val()? {
            return Ok(Rhs::Operand(operand));
        }
        let len = match lexer::hex_num_len(self.cur.rest()) {
            0 => lexer::num_len(self.cur.rest()),
            hex => hex,
        };
        if len > 0 {
            return Ok(Rhs::Value(bare(self.take(len), pos)));
        }
        Err(self.error(format!(
            "expected a number value or a field with a valid transformer: {}",
            transformer_list()
        )))
    }

    fn parse_str_value_or_transformer(&mut self) -> PResult<(Option<ListModifier>, Rhs)> {
        self.cur.skip_blanks();
        if let Some((word, len)) = lexer::list_modifier(self.cur.rest()) {
            let modifier = parse_modifier(word);
            self.take(len);
            self.cur.skip_blanks();
            if !self.eat("(") {
                return Err(self.error("expected a list after the list modifier"));
            }
            return Ok((modifier, self.parse_list_body()?));
        }
        let pos = self.cur.pos();
        if let Some(operand) = self.try_parse_transformer_or_val()? {
            return Ok((None, Rhs::Operand(operand)));
        }
        if let Some(value) = self.lex_str_value(pos)? {
            return Ok((None, Rhs::Value(value)));
        }
        Err(self.error(format!(
            "expected a string value or a field with a valid transformer: {}",
            transformer_list()
        )))
    }

    fn parse_list_value_or_transformer(&mut self, op: Op) -> PResult<Rhs> {
        self.cur.skip_blanks();
        self.reject_modifier(op)?;
        let pos = self.cur.pos();
        if self.eat("(") {
            return self.parse_list_body();
        }
        if let Some(operand) = self.try_parse_transformer_or_val()? {
            return Ok(Rhs::Operand(operand));
        }
        if let Some(name) = self.take_with(lexer::identifier_len) {
            return Ok(Rhs::ListRef(bare(name, pos)));
        }
        Err(self.error(format!(
            "expected a list, an identifier, or a field with a valid transformer: {}",
            transformer_list()
        )))
    }

    /// `'(' (StrValue (',' StrValue)*)? ')'` after the `(`: no nesting, no transformers.
    fn parse_list_body(&mut self) -> PResult<Rhs> {
        self.cur.skip_blanks();
        let mut items = Vec::new();
        let first_pos = self.cur.pos();
        if let Some(first) = self.lex_str_value(first_pos)? {
            items.push(first);
            self.cur.skip_blanks();
            while self.eat(",") {
                self.cur.skip_blanks();
                let pos = self.cur.pos();
                match self.lex_str_value(pos)? {
                    Some(item) => items.push(item),
                    None => return Err(self.error("expected a string value")),
                }
                self.cur.skip_blanks();
            }
        }
        if !self.eat(")") {
            return Err(self.error("expected a ')' token"));
        }
        Ok(Rhs::List(items))
    }

    /// Modifiers only combine with string operators; say so rather than failing later on.
    fn reject_modifier(&self, op: Op) -> PResult<()> {
        match lexer::list_modifier(self.cur.rest()) {
            Some((word, _)) => Err(self.error(format!(
                "list modifier '{word}' cannot be used with operator '{op}': \
                 modifiers only follow string comparison operators"
            ))),
            None => Ok(()),
        }
    }

    /// `FieldTransformerOrVal ::= FieldTransformer | 'val(' Field ')'`; `None` if neither.
    fn try_parse_transformer_or_val(&mut self) -> PResult<Option<Operand>> {
        self.cur.skip_blanks();
        let pos = self.cur.pos();
        if self.eat("val(") {
            self.cur.skip_blanks();
            let field_pos = self.cur.pos();
            let Some(name) = self.take_with(lexer::field_name_len) else {
                return Err(self.error("expected a field within 'val' transformer"));
            };
            let field = self.parse_field_remainder(name, field_pos)?;
            self.cur.skip_blanks();
            if !self.eat(")") {
                return Err(self.transformer_not_closed());
            }
            return Ok(Some(Operand::Transform {
                kind: Transformer::Val,
                args: vec![Operand::Field(field)],
                pos,
            }));
        }
        if let Some(kind) = self.lex_field_transformer_type()? {
            self.cur.skip_blanks();
            return self
                .parse_field_or_transformer_remainder(kind, pos)
                .map(Some);
        }
        Ok(None)
    }

    // ---- values -----------------------------------------------------------------------------

    /// `StrValue ::= QuotedStr | BareStr`
    fn lex_str_value(&mut self, pos: Pos) -> PResult<Option<Literal>> {
        if let Some(lit) = self.lex_quoted_str()? {
            return Ok(Some(lit));
        }
        Ok(self.take_with(lexer::bare_str_len).map(|s| bare(s, pos)))
    }

    /// A quoted string, unescaped; `None` (nothing consumed) if there is no closed one here.
    fn lex_quoted_str(&mut self) -> PResult<Option<Literal>> {
        let Some(len) = lexer::quoted_len(self.cur.rest()) else {
            return Ok(None);
        };
        let pos = self.cur.pos();
        let delimiter = self.cur.rest().first().map_or('"', |&b| char::from(b));
        let body = self.cur.slice(pos.offset + 1, pos.offset + len - 1);
        let value = unescape(body, delimiter).map_err(|e| {
            let mut at = self.cur.clone();
            at.advance(1 + e.offset);
            error_at(e.message, at.pos())
        })?;
        self.cur.advance(len);
        self.last_token.clone_from(&value);
        Ok(Some(Literal {
            value,
            quoted: true,
            pos,
        }))
    }
}

fn error_at(message: impl Into<String>, pos: Pos) -> ParseError {
    ParseError {
        message: message.into(),
        pos,
    }
}

fn build_nary(is_or: bool, first: Expr, rest: Vec<Expr>) -> Box<Expr> {
    let children = std::iter::once(first).chain(rest).collect();
    Box::new(if is_or {
        Expr::Or(children)
    } else {
        Expr::And(children)
    })
}

fn bare(value: &str, pos: Pos) -> Literal {
    Literal {
        value: value.to_string(),
        quoted: false,
        pos,
    }
}

fn parse_modifier(word: &str) -> Option<ListModifier> {
    match word {
        "oneof" => Some(ListModifier::OneOf),
        "anyof" => Some(ListModifier::AnyOf),
        "allof" => Some(ListModifier::AllOf),
        _ => None,
    }
}

fn quote_list<'s>(items: impl Iterator<Item = &'s str>) -> String {
    items
        .map(|s| format!("'{s}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `'exists', '<=', …` in libs' order, as its "expected a valid check operator" error lists them.
fn operator_list() -> String {
    let all = [UNARY_OPS, NUM_OPS, STR_OPS, LIST_OPS];
    quote_list(all.iter().flat_map(|ops| ops.iter().copied()))
}

/// `'val', 'tolower', …`, as libs' `supported_field_transformers(true)` lists them.
fn transformer_list() -> String {
    quote_list(std::iter::once("val").chain(lexer::TRANSFORMERS.iter().copied()))
}
