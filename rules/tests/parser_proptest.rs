//! The condition parser must never panic, whatever it is given, and its error positions and
//! operand end offsets must stay inside the input.

use peregrine_rules::parser::{parse_condition, parse_operand_at, ParseError};
use proptest::prelude::*;

/// Fragments of the condition language, valid and broken, to build token soups from.
const TOKENS: &[&str] = &[
    "(",
    ")",
    "not",
    "not ",
    "not(",
    "and",
    " and ",
    "or",
    " or ",
    " ",
    "\n",
    "\t",
    "\r",
    "\x08",
    "\x0b",
    "\0",
    "proc.name",
    "a.b",
    "evt.arg.flags",
    "proc.aname[2]",
    "[",
    "]",
    "'",
    "\"",
    "\\",
    "\\x4",
    "\\xff",
    "\\'",
    "\\\"",
    "=",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "in",
    "in ",
    "intersects",
    "pmatch",
    "exists",
    "contains ",
    "icontains",
    "startswith ",
    "glob ",
    "regex ",
    "oneof",
    "anyof ",
    "allof(",
    "(a, b)",
    "()",
    ",",
    "val(",
    "tolower(",
    "toupper(",
    "b64(",
    "basename(",
    "len(",
    "join(",
    "concat(",
    "x",
    "macro",
    "é",
    "日本",
    "🦀",
    "0x1F",
    "-1.5e+3",
    "'a b'",
    "\"q\\\"q\"",
    "%",
    "#",
    ";",
];

fn token_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..40).prop_map(|t| t.concat())
}

fn check_error(input: &str, e: &ParseError) {
    assert!(e.pos.offset <= input.len(), "{input:?}: {e:?}");
    assert!(e.pos.line >= 1 && e.pos.col >= 1, "{input:?}: {e:?}");
    assert!(!e.message.is_empty());
}

fn check_condition(input: &str) {
    if let Err(e) = parse_condition(input) {
        check_error(input, &e);
    }
}

fn check_operand(input: &str, start: usize) {
    match parse_operand_at(input, start) {
        Ok((_, end)) => assert!(start < end && end <= input.len(), "{input:?}@{start}"),
        Err(e) => check_error(input, &e),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_strings_never_panic(input in any::<String>()) {
        check_condition(&input);
        for start in 0..=input.len() + 1 {
            check_operand(&input, start);
        }
    }

    #[test]
    fn token_soups_never_panic(input in token_soup()) {
        check_condition(&input);
        check_operand(&input, 0);
        check_operand(&input, input.len() / 2);
    }

    #[test]
    fn prefixed_soups_never_panic(soup in token_soup(), prefix in "[a-z.()% ]{0,6}") {
        let input = format!("{prefix}{soup}");
        check_condition(&input);
        check_operand(&input, prefix.len());
    }
}

#[test]
fn deep_inputs_fit_in_a_small_stack() {
    // the depth limit must trigger long before a thread's stack runs out, even in debug builds
    let inputs = [
        format!("{}a{}", "(".repeat(5000), ")".repeat(5000)),
        format!("{}a", "not(".repeat(5000)),
        format!("{}a", "not ".repeat(5000)),
        format!("{}a.b{} exists", "len(".repeat(5000), ")".repeat(5000)),
        format!("x.y = {}a.b{}", "toupper(".repeat(5000), ")".repeat(5000)),
        format!("{}a.b", "tolower(".repeat(5000)),
    ];
    let handle = std::thread::Builder::new()
        .stack_size(1280 * 1024)
        .spawn(move || {
            for input in &inputs {
                check_condition(input);
                check_operand(input, 0);
            }
        });
    match handle.map(|h| h.join()) {
        Ok(Ok(())) => {}
        other => panic!("deep inputs failed: {other:?}"),
    }
}
