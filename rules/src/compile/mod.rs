//! From a [`Collection`] to a [`Ruleset`]: lists substituted, macros inlined, exceptions
//! folded in, conditions and outputs compiled, rules indexed by event type. The first error
//! stops the compile, as in Falco; warnings accumulate.

pub(crate) mod check;
mod lists;
mod macros;

use crate::ast::{Expr, Operand, Pos, Rhs};
use crate::collection::{Collection, RuleDef, SourcePos, Text};
use crate::diag::{Code, Diagnostic, ErrorCode, Location, WarningCode};
use crate::fields::Field;
use crate::format::OutputFormat;
use crate::loader::exception_condition;
use crate::parser;
use crate::ruleset::{CompiledRule, Ruleset};
use check::{compile_expr, event_types, SlotTable};
use lists::{expand_lists, substitute_list, ExpandedList};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Output text appended to every matching rule's output (falco.yaml `append_output`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AppendOutput {
    /// Only rules of this source (empty: all).
    pub source: Option<String>,
    /// Only rules that carry all these tags.
    pub tags: Vec<String>,
    /// Only the rule with this name.
    pub rule: Option<String>,
    pub format: String,
}

impl AppendOutput {
    fn applies_to(&self, r: &RuleDef) -> bool {
        self.source.as_ref().is_none_or(|s| *s == r.source)
            && self.rule.as_ref().is_none_or(|n| *n == r.name)
            && self.tags.iter().all(|t| r.tags.contains(t))
    }
}

/// The fields the container plugin suggests; Falco appends them to every syscall rule's
/// output when `append_output: [{suggested_output: true}]` (its default).
pub const SUGGESTED_OUTPUT: &str = "container_id=%container.id container_name=%container.name \
container_image_repository=%container.image.repository container_image_tag=%container.image.tag \
k8s_pod_name=%k8s.pod.name k8s_ns_name=%k8s.ns.name";

#[derive(Debug, Clone, PartialEq)]
pub struct CompileOptions {
    /// Append [`SUGGESTED_OUTPUT`] to syscall rules' outputs.
    pub suggested_output: bool,
    pub append_output: Vec<AppendOutput>,
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions {
            suggested_output: true,
            append_output: Vec::new(),
        }
    }
}

fn loc(item_type: &str, item_name: &str, pos: &SourcePos) -> Location {
    Location {
        item_type: item_type.to_string(),
        item_name: item_name.to_string(),
        file: pos.file.to_string(),
        line: pos.line,
        column: pos.col,
        offset: pos.offset,
    }
}

/// Maps a position inside a condition onto the file (exact for plain scalars).
fn expr_loc(text: &Text, cond: &str, pos: Pos) -> Location {
    let name: String = cond.chars().take(17).collect();
    let (line, column) = if pos.line <= 1 && text.plain {
        (text.pos.line, text.pos.col + pos.col.saturating_sub(1))
    } else {
        (text.pos.line + pos.line.saturating_sub(1), pos.col.max(1))
    };
    Location {
        item_type: "condition expression".to_string(),
        item_name: format!("\"{name}...\""),
        file: text.pos.file.to_string(),
        line,
        column,
        offset: text.pos.offset + pos.offset,
    }
}

struct Failure(Diagnostic);

/// Puts the file (`rules content`) first, as every loader diagnostic has it.
fn in_file(mut context: Vec<Location>) -> Vec<Location> {
    if let Some(first) = context.first() {
        let file = Location {
            item_type: "rules content".to_string(),
            item_name: String::new(),
            file: first.file.clone(),
            line: 1,
            column: 1,
            offset: 0,
        };
        context.insert(0, file);
    }
    context
}

fn error(code: ErrorCode, message: impl Into<String>, context: Vec<Location>) -> Failure {
    Failure(Diagnostic {
        code: Code::Error(code),
        message: message.into(),
        context: in_file(context),
        snippet: None,
    })
}

fn warning(code: WarningCode, message: impl Into<String>, context: Vec<Location>) -> Diagnostic {
    Diagnostic {
        code: Code::Warning(code),
        message: message.into(),
        context: in_file(context),
        snippet: None,
    }
}

/// The result of compiling a collection.
pub struct CompileOutput {
    /// `None` when an error occurred.
    pub ruleset: Option<Ruleset>,
    pub diagnostics: Vec<Diagnostic>,
}

pub fn compile(col: &Collection, opts: &CompileOptions) -> CompileOutput {
    let mut diags = Vec::new();
    match compile_inner(col, opts, &mut diags) {
        Ok(ruleset) => CompileOutput {
            ruleset: Some(ruleset),
            diagnostics: diags,
        },
        Err(Failure(d)) => {
            diags.push(d);
            CompileOutput {
                ruleset: None,
                diagnostics: diags,
            }
        }
    }
}

fn substitute_lists(cond: &str, lists: &mut [ExpandedList]) -> String {
    let mut text = cond.to_string();
    for l in lists.iter_mut() {
        if substitute_list(&mut text, l) {
            l.used = true;
        }
    }
    text
}

fn compile_inner(
    col: &Collection,
    opts: &CompileOptions,
    diags: &mut Vec<Diagnostic>,
) -> Result<Ruleset, Failure> {
    let mut lists = expand_lists(col);

    // Macros: parse all, then resolve each against the macros visible to it, in order.
    let mut macro_asts: Vec<Expr> = Vec::with_capacity(col.macros.len());
    for m in &col.macros {
        let text = substitute_lists(&m.condition.value, &mut lists);
        let ast = parser::parse_condition(&text).map_err(|e| {
            error(
                ErrorCode::CompileCondition,
                e.message,
                vec![
                    loc("macro", &m.name, &m.pos),
                    loc("macro condition", "", &m.condition.pos),
                    expr_loc(&m.condition, &text, e.pos),
                ],
            )
        })?;
        macro_asts.push(ast);
    }
    let mut expansion = Expansion::default();
    let by_name: HashMap<&str, usize> = col
        .macros
        .iter()
        .enumerate()
        .map(|(i, m)| (m.name.as_str(), i))
        .collect();
    for (i, m) in col.macros.iter().enumerate() {
        let mut ast = macro_asts[i].clone();
        let m_loc = |pos: Pos| {
            vec![
                loc("macro", &m.name, &m.pos),
                loc("macro condition", "", &m.condition.pos),
                expr_loc(&m.condition, &m.condition.value, pos),
            ]
        };
        let visible = |name: &str| {
            let &j = by_name.get(name)?;
            (col.macros[j].index < m.visibility).then_some(&macro_asts[j])
        };
        let nodes = macros::inline_macros(&mut ast, &visible, &mut expansion.used_macros)
            .map_err(|e| error(ErrorCode::Validate, e.message, m_loc(e.pos)))?;
        expansion.add(nodes, || m_loc(Pos::default()))?;
        macro_asts[i] = ast;
    }
    let all_macros: HashMap<&str, &Expr> = col
        .macros
        .iter()
        .zip(macro_asts.iter())
        .map(|(m, a)| (m.name.as_str(), a))
        .collect();

    let mut slots = SlotTable::default();
    let mut rules = Vec::with_capacity(col.rules.len());
    for r in &col.rules {
        if let Some(rule) = compile_rule(
            r,
            opts,
            &mut lists,
            &all_macros,
            &mut expansion,
            &mut slots,
            diags,
        )? {
            rules.push(rule);
        }
    }

    for m in &col.macros {
        if !expansion.used_macros.contains(&m.name) {
            diags.push(warning(
                WarningCode::UnusedMacro,
                "Macro not referred to by any other rule/macro",
                vec![loc("macro", &m.name, &m.pos)],
            ));
        }
    }
    for (l, def) in lists.iter().zip(col.lists.iter()) {
        if !l.used {
            diags.push(warning(
                WarningCode::UnusedList,
                "List not referred to by any other rule/macro",
                vec![loc("list", &def.name, &def.pos)],
            ));
        }
    }
    Ok(Ruleset::new(rules, slots.defs))
}

/// What inlining macros into every macro and rule has done so far.
#[derive(Default)]
struct Expansion {
    /// Macros inlined somewhere, for the unused-macro warnings.
    used_macros: Vec<String>,
    /// Nodes of all expanded conditions, against [`macros::MAX_TOTAL_NODES`].
    nodes: usize,
}

impl Expansion {
    /// Counts `nodes` more; past the bound, the error is placed at `at`.
    fn add(&mut self, nodes: usize, at: impl FnOnce() -> Vec<Location>) -> Result<(), Failure> {
        self.nodes += nodes;
        if self.nodes <= macros::MAX_TOTAL_NODES {
            return Ok(());
        }
        Err(error(
            ErrorCode::Validate,
            format!(
                "the rules grow past {} operators and checks in all once their macros are inlined",
                macros::MAX_TOTAL_NODES
            ),
            at(),
        ))
    }
}

fn compile_rule(
    r: &RuleDef,
    opts: &CompileOptions,
    lists: &mut [ExpandedList],
    macros: &HashMap<&str, &Expr>,
    expansion: &mut Expansion,
    slots: &mut SlotTable,
    diags: &mut Vec<Diagnostic>,
) -> Result<Option<CompiledRule>, Failure> {
    let rule_loc = || loc("rule", &r.name, &r.pos);
    if r.source != "syscall" {
        diags.push(warning(
            WarningCode::UnknownSource,
            format!("Unknown source {}, skipping", r.source),
            vec![rule_loc()],
        ));
        return Ok(None);
    }

    // Output: appended text, deprecated %container.info, then compile.
    let mut output = r.output.value.clone();
    for extra in opts.append_output.iter().filter(|e| e.applies_to(r)) {
        output.push(' ');
        output.push_str(&extra.format);
    }
    if opts.suggested_output {
        output.push(' ');
        output.push_str(SUGGESTED_OUTPUT);
    }
    if output.contains("%container.info") {
        diags.push(warning(
            WarningCode::DeprecatedItem,
            "%container.info is deprecated and no more useful: the container fields are appended to the output automatically.",
            vec![rule_loc()],
        ));
        output = output.replace("%container.info", "");
    }
    let output_loc = || vec![rule_loc(), loc("rule output", "", &r.output.pos)];
    let format = match OutputFormat::compile(&output, slots) {
        Ok(f) => f,
        Err(e) if e.unknown && r.skip_if_unknown_filter => {
            diags.push(warning(WarningCode::UnknownFilter, e.message, output_loc()));
            return Ok(None);
        }
        Err(e) => return Err(error(ErrorCode::CompileOutput, e.message, output_loc())),
    };
    for deprecated in ["%evt.dir", "%evt.latency", "%evt.wait_latency"] {
        if output.contains(deprecated) {
            diags.push(warning(
                WarningCode::DeprecatedItem,
                format!(
                    "usage of deprecated field '{}' has been detected in the rule output",
                    &deprecated[1..]
                ),
                output_loc(),
            ));
        }
    }

    // Exception fields must exist (Falco checks them when collecting; we have the registry here).
    for ex in &r.exceptions {
        let names: Vec<&String> = match &ex.fields {
            crate::collection::ExceptionFields::Single(f) => vec![f],
            crate::collection::ExceptionFields::List(fs) => fs.iter().collect(),
        };
        for name in names {
            let (base, arg) = match name.split_once('[') {
                Some((b, rest)) => (b, rest.strip_suffix(']')),
                None => (name.as_str(), None),
            };
            if crate::fields::resolve(base, arg).is_err() {
                return Err(error(
                    ErrorCode::Validate,
                    format!("'{name}' is not a supported filter field"),
                    vec![rule_loc(), loc("exception", &ex.name, &ex.pos)],
                ));
            }
        }
    }

    // Condition: exceptions, lists, parse, macros, compile.
    let cond_text = if r.exceptions.is_empty() {
        r.condition.value.clone()
    } else {
        exception_condition(r)
    };
    let text = substitute_lists(&cond_text, lists);
    let cond_loc = |pos: Pos| {
        vec![
            rule_loc(),
            loc("rule condition", "", &r.condition.pos),
            expr_loc(&r.condition, &text, pos),
        ]
    };
    let mut ast = parser::parse_condition(&text).map_err(|e| {
        error(
            ErrorCode::CompileCondition,
            e.message.clone(),
            cond_loc(e.pos),
        )
    })?;
    let nodes = macros::inline_macros(
        &mut ast,
        &|name| macros.get(name).copied(),
        &mut expansion.used_macros,
    )
    .map_err(|e| error(ErrorCode::Validate, e.message.clone(), cond_loc(e.pos)))?;
    expansion.add(nodes, || vec![rule_loc()])?;
    let mut uses_evt_dir = false;
    ast.walk(&mut |e| {
        if let Expr::Compare(c) = e {
            if let crate::ast::Operand::Field(f) = &c.lhs {
                uses_evt_dir |= f.name == "evt.dir"
                    || f.name.starts_with("evt.latency")
                    || f.name == "evt.wait_latency";
            }
        }
    });
    let node = match compile_expr(&ast, slots) {
        Ok(n) => n,
        Err(e) if e.unknown && r.skip_if_unknown_filter => {
            diags.push(warning(
                WarningCode::UnknownFilter,
                e.message.clone(),
                cond_loc(e.pos),
            ));
            return Ok(None);
        }
        Err(e) => {
            return Err(error(
                ErrorCode::CompileCondition,
                e.message.clone(),
                cond_loc(e.pos),
            ))
        }
    };
    if uses_evt_dir {
        diags.push(warning(
            WarningCode::DeprecatedItem,
            "usage of deprecated field 'evt.dir' has been detected in the rule condition: only exit events exist, so evt.dir='<' always holds",
            vec![rule_loc()],
        ));
    }
    let evttypes = event_types(&node);
    let fields = used_fields(&ast, &format, slots);
    if r.warn_evttypes && (evttypes.is_empty() || evttypes.len() > 100) {
        diags.push(warning(
            WarningCode::NoEvttype,
            "Rule matches too many evt.type values. This has a significant performance penalty.",
            vec![rule_loc()],
        ));
    }
    Ok(Some(CompiledRule {
        name: Arc::from(r.name.as_str()),
        desc: r.desc.clone(),
        priority: r.priority,
        source: Arc::from(r.source.as_str()),
        tags: r.tags.iter().cloned().collect(),
        enabled: r.enabled,
        evttypes,
        fields,
        condition: node,
        output: format,
    }))
}

/// The fields `cond` and `output` read, one per canonical name, sorted by it. Called
/// after both compiled, so every reference resolves.
fn used_fields(cond: &Expr, output: &OutputFormat, slots: &SlotTable) -> Arc<[Field]> {
    fn operand(o: &Operand, out: &mut BTreeMap<String, Field>) {
        match o {
            Operand::Field(f) => {
                if let Ok(field) = crate::fields::resolve(&f.name, f.arg.as_deref()) {
                    out.insert(field.name().to_owned(), field);
                }
            }
            Operand::Transform { args, .. } => args.iter().for_each(|a| operand(a, out)),
        }
    }
    let mut fields = BTreeMap::new();
    cond.walk(&mut |e| {
        if let Expr::Compare(c) = e {
            operand(&c.lhs, &mut fields);
            if let Rhs::Operand(o) = &c.rhs {
                operand(o, &mut fields);
            }
        }
    });
    for s in output.slots() {
        let field = &slots.defs[s].field;
        fields.insert(field.name().to_owned(), field.clone());
    }
    fields.into_values().collect()
}
