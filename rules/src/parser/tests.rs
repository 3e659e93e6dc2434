//! Unit tests of the condition parser: grammar, values, positions and error messages.

use super::test_support::{operand, operand_positions, parse_err, parse_ok, positions, sexpr};
use super::{parse_condition, parse_operand_at, MAX_DEPTH};
use crate::ast::{Expr, ListModifier, Op, Operand, Pos, Rhs, Transformer};

fn s(input: &str) -> String {
    sexpr(&parse_ok(input))
}

fn pos(offset: usize, line: u32, col: u32) -> Pos {
    Pos { offset, line, col }
}

const TRANSFORMERS: &str = "'val', 'tolower', 'toupper', 'b64', 'basename', 'len'";

fn compare_of(e: &Expr) -> &crate::ast::Compare {
    match e {
        Expr::Compare(c) => c,
        other => panic!("not a comparison: {}", sexpr(other)),
    }
}

// ---- operators ----------------------------------------------------------------------------

#[test]
fn every_operator() {
    let cases = [
        ("proc.name exists", Op::Exists),
        ("proc.pid <= 1", Op::Le),
        ("proc.pid < 1", Op::Lt),
        ("proc.pid >= 1", Op::Ge),
        ("proc.pid > 1", Op::Gt),
        ("proc.name == a", Op::Eq),
        ("proc.name = a", Op::Eq),
        ("proc.name != a", Op::Ne),
        ("proc.name glob a*", Op::Glob),
        ("proc.name iglob A*", Op::IGlob),
        ("proc.name contains a", Op::Contains),
        ("proc.name icontains a", Op::IContains),
        ("evt.buffer bcontains CAFE", Op::BContains),
        ("proc.name startswith a", Op::StartsWith),
        ("evt.buffer bstartswith 12ab", Op::BStartsWith),
        ("proc.name endswith a", Op::EndsWith),
        ("proc.name regex 'a.*'", Op::Regex),
        ("proc.name intersects (a)", Op::Intersects),
        ("proc.name in (a)", Op::In),
        ("fd.name pmatch (/tmp)", Op::PMatch),
    ];
    for (input, op) in cases {
        assert_eq!(compare_of(&parse_ok(input)).op, op, "{input}");
    }
}

#[test]
fn operators_without_blanks() {
    assert_eq!(s("a.b=1"), "(= a.b 1)");
    assert_eq!(s("a.b==1"), "(= a.b 1)");
    assert_eq!(s("a.b!=1"), "(!= a.b 1)");
    assert_eq!(s("a.b>=1"), "(>= a.b 1)");
    assert_eq!(s("a.b<1"), "(< a.b 1)");
    assert_eq!(s("a.b in(x)"), "(in a.b [x])");
    assert_eq!(s("evt.dir=<"), "(= evt.dir <)");
    assert_eq!(s("evt.dir=>"), "(= evt.dir >)");
    // `exists` needs nothing after it, as in libs
    assert_eq!(s("test.op existsand macro"), "(and (exists test.op) macro)");
}

#[test]
fn word_operators_accept_any_blank_after_them() {
    assert_eq!(s("a.b contains\nx"), "(contains a.b x)");
    assert_eq!(s("a.b\tstartswith\t\tx"), "(startswith a.b x)");
    assert_eq!(s("a.b\nin\n(x,\ny)"), "(in a.b [x y])");
}

// ---- boolean structure ----------------------------------------------------------------------

#[test]
fn precedence_not_and_or() {
    assert_eq!(s("a or b and c"), "(or a (and b c))");
    assert_eq!(s("a and b or c and d"), "(or (and a b) (and c d))");
    assert_eq!(s("not a and b"), "(and (not a) b)");
    assert_eq!(s("not a or not b"), "(or (not a) (not b))");
    assert_eq!(s("(a or b) and c"), "(and (or a b) c)");
}

#[test]
fn nary_operators_are_flat_but_parentheses_are_kept() {
    assert_eq!(s("a and b and c and d"), "(and a b c d)");
    assert_eq!(s("a or b or c"), "(or a b c)");
    assert_eq!(s("(a and b) and c"), "(and (and a b) c)");
    assert_eq!(s("a"), "a");
    assert_eq!(s("((a))"), "a");
}

#[test]
fn keyword_followed_by_parenthesis() {
    assert_eq!(s("a and(b)"), "(and a b)");
    assert_eq!(s("(a)and(b)and(c)"), "(and a b c)");
    assert_eq!(s("(a)or(b)"), "(or a b)");
    // libs: `or(` takes the parenthesised expression as the whole or-operand
    assert_eq!(
        parse_err("a or(b) and c").0,
        "unexpected token after ')', expecting 'or', 'and'"
    );
    assert_eq!(s("a or (b) and c"), "(or a (and b c))");
}

#[test]
fn not_forms() {
    assert_eq!(s("not a"), "(not a)");
    assert_eq!(s("not(a)"), "(not a)");
    assert_eq!(s("not (a)"), "(not a)");
    assert_eq!(s("not not a"), "(not (not a))");
    assert_eq!(s("not not(a)"), "(not (not a))");
    assert_eq!(s("not\n\tnot  a"), "(not (not a))");
    assert_eq!(s("not proc.name = x"), "(not (= proc.name x))");
    assert_eq!(s("not (a and b)"), "(not (and a b))");
    // `not` needs a blank or `(`: otherwise it is part of an identifier
    assert_eq!(s("notb"), "notb");
    assert_eq!(s("not_macro and a"), "(and not_macro a)");
    assert_eq!(s("a and not"), "(and a not)");
}

#[test]
fn keywords_are_case_sensitive() {
    assert_eq!(
        parse_err("a AND b").0,
        "unexpected token after 'a', expecting 'or', 'and'"
    );
    assert_eq!(s("NOT"), "NOT");
}

#[test]
fn identifiers_are_macros() {
    let e = parse_ok("  spawned_process");
    assert_eq!(
        e,
        Expr::Macro {
            name: "spawned_process".into(),
            pos: pos(2, 1, 3)
        }
    );
    assert_eq!(s("a1_b2"), "a1_b2");
}

// ---- values and lists ---------------------------------------------------------------------

#[test]
fn bare_and_quoted_values() {
    assert_eq!(s("fd.name = /etc/shadow"), "(= fd.name /etc/shadow)");
    assert_eq!(s("fd.name = *.log"), "(= fd.name *.log)");
    assert_eq!(s("proc.args contains -jar"), "(contains proc.args -jar)");
    assert_eq!(s("fd.net = 10.0.0.0/8"), "(= fd.net 10.0.0.0/8)");
    assert_eq!(s("a.b = 'x y'"), r#"(= a.b "x y")"#);
    assert_eq!(s(r#"a.b = "x y""#), r#"(= a.b "x y")"#);
    assert_eq!(s("a.b = ''"), r#"(= a.b "")"#);
    assert_eq!(s("a.b = a.c"), "(= a.b a.c)");
    assert_eq!(s("a.b = not"), "(= a.b not)");
    assert_eq!(s("a.b = oneof"), "(= a.b oneof)");
    assert_eq!(s("a.b = héllo"), "(= a.b héllo)");
    let c = parse_ok("a.b = 'x'");
    let Rhs::Value(lit) = &compare_of(&c).rhs else {
        panic!("expected a value")
    };
    assert!(lit.quoted);
    assert_eq!(lit.pos, pos(6, 1, 7));
}

#[test]
fn numbers() {
    assert_eq!(s("a.b > 1000"), "(> a.b 1000)");
    assert_eq!(s("a.b < +1"), "(< a.b +1)");
    assert_eq!(s("a.b >= -1"), "(>= a.b -1)");
    assert_eq!(s("a.b <= 0x12345"), "(<= a.b 0x12345)");
    assert_eq!(s("a.b <= 0XaB00AB"), "(<= a.b 0XaB00AB)");
    assert_eq!(s("a.b > 1.2"), "(> a.b 1.2)");
    assert_eq!(s("a.b > -0.1222e+10"), "(> a.b -0.1222e+10)");
    // with string operators numbers are just bare strings
    assert_eq!(s("a.b = 0xAAA.1"), "(= a.b 0xAAA.1)");
    assert_eq!(s("a.b = 1e5"), "(= a.b 1e5)");
    assert_eq!(
        parse_err("a.b > 1e5"),
        (
            "unexpected token after '1', expecting 'or', 'and'".into(),
            7,
            1,
            8
        )
    );
}

#[test]
fn lists() {
    assert_eq!(s("a.b in ()"), "(in a.b [])");
    assert_eq!(s("a.b in (  )"), "(in a.b [])");
    assert_eq!(s("a.b in (x)"), "(in a.b [x])");
    assert_eq!(s("a.b in (x,y)"), "(in a.b [x y])");
    assert_eq!(s("a.b in ( x , y )"), "(in a.b [x y])");
    assert_eq!(s("a.b in (\n  x,\n  y\n)"), "(in a.b [x y])");
    assert_eq!(
        s(r#"a.b in ("a, b", 'c d', e)"#),
        r#"(in a.b ["a, b" "c d" e])"#
    );
    assert_eq!(s("a.b in (1, 'a', b.c)"), r#"(in a.b [1 "a" b.c])"#);
    assert_eq!(s("a.b intersects (x)"), "(intersects a.b [x])");
    assert_eq!(
        s("a.b pmatch (/tmp, /var/lib)"),
        "(pmatch a.b [/tmp /var/lib])"
    );
    // list names are substituted by the loader; the parser sees bare items
    assert_eq!(
        s("proc.name in (shell_binaries)"),
        "(in proc.name [shell_binaries])"
    );
}

#[test]
fn list_item_positions_and_quoting() {
    let e = parse_ok("a.b in (x, 'y z')");
    let Rhs::List(items) = &compare_of(&e).rhs else {
        panic!("expected a list")
    };
    assert_eq!(items.len(), 2);
    assert_eq!((items[0].value.as_str(), items[0].quoted), ("x", false));
    assert_eq!(items[0].pos, pos(8, 1, 9));
    assert_eq!((items[1].value.as_str(), items[1].quoted), ("y z", true));
    assert_eq!(items[1].pos, pos(11, 1, 12));
}

#[test]
fn list_references() {
    let e = parse_ok("fd.name in my_list");
    let Rhs::ListRef(l) = &compare_of(&e).rhs else {
        panic!("expected a list reference")
    };
    assert_eq!(
        (l.value.as_str(), l.quoted, l.pos),
        ("my_list", false, pos(11, 1, 12))
    );
    // libs needs no blank after a list operator: `inside` is `in side`
    assert_eq!(s("a.b inside"), "(in a.b @side)");
}

// ---- fields -------------------------------------------------------------------------------

#[test]
fn field_arguments() {
    assert_eq!(s("proc.aname[2] = bash"), "(= proc.aname[2] bash)");
    assert_eq!(s("evt.arg[0] contains /bin"), "(contains evt.arg[0] /bin)");
    assert_eq!(s("proc.env[HOME] exists"), "(exists proc.env[HOME])");
    assert_eq!(
        s("container.mount.dest[/proc*] in (a)"),
        "(in container.mount.dest[/proc*] [a])"
    );
    assert_eq!(s("a.b['x y'] = 1"), "(= a.b[x y] 1)");
    assert_eq!(s(r#"a.b["q\"q"] = 1"#), r#"(= a.b[q"q] 1)"#);
    assert_eq!(s("a.b[a(b),c=d] = 1"), "(= a.b[a(b),c=d] 1)");
    let e = parse_ok("proc.aname[3]=nginx");
    let Operand::Field(f) = &compare_of(&e).lhs else {
        panic!("expected a field")
    };
    assert_eq!(
        (f.name.as_str(), f.arg.as_deref()),
        ("proc.aname", Some("3"))
    );
}

#[test]
fn dotted_field_names() {
    assert_eq!(
        s("evt.arg.flags contains O_TRUNC"),
        "(contains evt.arg.flags O_TRUNC)"
    );
    assert_eq!(
        s("container.label.io.kubernetes.pod.name = x"),
        "(= container.label.io.kubernetes.pod.name x)"
    );
    assert_eq!(s("k8s.ns.name = x"), "(= k8s.ns.name x)");
}

// ---- transformers -------------------------------------------------------------------------

#[test]
fn transformers_on_both_sides() {
    assert_eq!(
        s("tolower(proc.name) = bash"),
        "(= tolower(proc.name) bash)"
    );
    assert_eq!(s("basename(fd.name) = x"), "(= basename(fd.name) x)");
    assert_eq!(s("len(proc.args) > 10"), "(> len(proc.args) 10)");
    assert_eq!(s("b64(a.b) exists"), "(exists b64(a.b))");
    assert_eq!(
        s("toupper(tolower(proc.name)) = X"),
        "(= toupper(tolower(proc.name)) X)"
    );
    assert_eq!(
        s("proc.name = toupper(proc.pname)"),
        "(= proc.name toupper(proc.pname))"
    );
    assert_eq!(
        s("proc.name = val(proc.pname)"),
        "(= proc.name val(proc.pname))"
    );
    assert_eq!(
        s("proc.pid > val(proc.ppid)"),
        "(> proc.pid val(proc.ppid))"
    );
    assert_eq!(s("proc.name in val(a.b)"), "(in proc.name val(a.b))");
    assert_eq!(
        s("proc.name in tolower(a.b)"),
        "(in proc.name tolower(a.b))"
    );
    assert_eq!(s("a.b = val(proc.aname[2])"), "(= a.b val(proc.aname[2]))");
    assert_eq!(s("len( b64(\n a.b ) ) = 1"), "(= len(b64(a.b)) 1)");
}

#[test]
fn transformer_ast_shape() {
    let e = parse_ok("a.b = toupper(tolower(c.d))");
    let Rhs::Operand(Operand::Transform { kind, args, pos: p }) = &compare_of(&e).rhs else {
        panic!("expected a transformer")
    };
    assert_eq!((*kind, *p), (Transformer::ToUpper, pos(6, 1, 7)));
    let [Operand::Transform { kind, args, pos: p }] = args.as_slice() else {
        panic!("expected one nested transformer")
    };
    assert_eq!((*kind, *p), (Transformer::ToLower, pos(14, 1, 15)));
    let [Operand::Field(f)] = args.as_slice() else {
        panic!("expected a field")
    };
    assert_eq!((f.name.as_str(), f.pos), ("c.d", pos(22, 1, 23)));
}

#[test]
fn transformer_errors() {
    assert_eq!(
        parse_err("val(a.b) = x").0,
        "unexpected token after 'val', expecting 'or', 'and'"
    );
    assert_eq!(
        parse_err("a.b = b64(val(c.d))"),
        (
            format!("expected a field or a nested valid transformer: {TRANSFORMERS}"),
            10,
            1,
            11
        )
    );
    assert_eq!(
        parse_err("a.b = val(toupper(c.d))"),
        (
            "expected a field within 'val' transformer".into(),
            10,
            1,
            11
        )
    );
    assert_eq!(
        parse_err("tolower (a.b) = x").0,
        "unexpected token after 'tolower', expecting 'or', 'and'"
    );
    assert_eq!(
        parse_err("unknown(a.b) = x").0,
        "unexpected token after 'unknown', expecting 'or', 'and'"
    );
}

#[test]
fn multi_argument_transformers_are_not_supported() {
    // libs parses join/concat/getopt; we refuse them explicitly
    for (input, name, offset) in [
        ("join(\"-\", (fd.name, fd.directory)) = /tmp", "join", 0),
        ("a.b = concat(a.c, a.d)", "concat", 6),
        ("toupper(getopt(proc.args, \"a:\")) exists", "getopt", 8),
    ] {
        let (msg, off, _, _) = parse_err(input);
        assert_eq!(
            (msg.as_str(), off),
            (
                format!("multi-argument transformer '{name}' is not supported").as_str(),
                offset
            ),
            "{input}"
        );
    }
    // the names alone are ordinary identifiers
    assert_eq!(s("join and concat"), "(and join concat)");
}

// ---- list modifiers -----------------------------------------------------------------------

#[test]
fn modifiers_after_string_operators() {
    assert_eq!(
        s("proc.name startswith anyof (ba, zs)"),
        "(startswith:anyof proc.name [ba zs])"
    );
    assert_eq!(
        s("proc.name == oneof (myexe)"),
        "(=:oneof proc.name [myexe])"
    );
    assert_eq!(
        s("proc.name != allof (a, 'b c')"),
        r#"(!=:allof proc.name [a "b c"])"#
    );
    assert_eq!(s("proc.name =oneof(a)"), "(=:oneof proc.name [a])");
    assert_eq!(s("proc.name == anyof ()"), "(=:anyof proc.name [])");
    assert_eq!(
        s("toupper(proc.name) != allof (BASH, SH)"),
        "(!=:allof toupper(proc.name) [BASH SH])"
    );
    for op in [
        "=",
        "==",
        "!=",
        "glob",
        "iglob",
        "contains",
        "icontains",
        "bcontains",
        "startswith",
        "bstartswith",
        "endswith",
        "regex",
    ] {
        for (word, m) in [
            ("oneof", ListModifier::OneOf),
            ("anyof", ListModifier::AnyOf),
            ("allof", ListModifier::AllOf),
        ] {
            let input = format!("a.b {op} {word}\n(x, y)");
            let e = parse_ok(&input);
            let c = compare_of(&e);
            assert_eq!(c.modifier, Some(m), "{input}");
            assert!(matches!(&c.rhs, Rhs::List(v) if v.len() == 2), "{input}");
        }
    }
}

#[test]
fn modifier_words_stay_values_without_a_list() {
    assert_eq!(s("a.b = anyof"), "(= a.b anyof)");
    assert_eq!(s("a.b = allof and c"), "(and (= a.b allof) c)");
    assert_eq!(s("a.b = oneofx"), "(= a.b oneofx)");
}

#[test]
fn modifiers_are_refused_after_other_operators() {
    assert_eq!(
        parse_err("proc.name in oneof (a, b)"),
        (
            "list modifier 'oneof' cannot be used with operator 'in': \
             modifiers only follow string comparison operators"
                .into(),
            13,
            1,
            14
        )
    );
    assert_eq!(
        parse_err("proc.pid >= anyof (1)").0,
        "list modifier 'anyof' cannot be used with operator '>=': \
         modifiers only follow string comparison operators"
    );
    assert_eq!(
        parse_err("proc.name = oneof a").0,
        "unexpected token after 'oneof', expecting 'or', 'and'"
    );
    assert_eq!(
        parse_err("proc.name = anyof (a,)"),
        ("expected a string value".into(), 21, 1, 22)
    );
}

// ---- escapes ------------------------------------------------------------------------------

fn value_of(input: &str) -> String {
    let e = parse_ok(input);
    match &compare_of(&e).rhs {
        Rhs::Value(l) => l.value.clone(),
        _ => panic!("expected a value"),
    }
}

#[test]
fn escapes_in_values() {
    assert_eq!(
        value_of(r#"a.b = "t\tn\nr\rb\bf\f""#),
        "t\tn\nr\rb\x08f\x0c"
    );
    assert_eq!(value_of(r#"a.b = "back\\slash \/""#), "back\\slash /");
    assert_eq!(value_of(r#"a.b = "say \"hi\"""#), "say \"hi\"");
    assert_eq!(value_of(r"a.b = 'it\'s'"), "it's");
    assert_eq!(value_of(r#"a.b = 'mixed "'"#), "mixed \"");
    assert_eq!(value_of(r#"a.b = "mixed '""#), "mixed '");
    assert_eq!(value_of(r#"a.b = "\x41\x42""#), "AB");
    // legacy `\ `: a backslash, the space is dropped
    assert_eq!(value_of(r#"a.b = "bad escape \ " "#), "bad escape \\");
    // bare strings are not unescaped
    assert_eq!(value_of(r"a.b = c:\temp"), r"c:\temp");
}

#[test]
fn a_backslash_before_the_delimiter_never_closes() {
    // libs looks only at the previous raw character, even if it is an escaped backslash
    assert_eq!(value_of(r"a.b = 'x \' \\''"), r"x ' \'");
    assert_eq!(
        parse_err(r"a.b = 'x\\'").0,
        format!("expected a string value or a field with a valid transformer: {TRANSFORMERS}")
    );
}

#[test]
fn escape_errors() {
    assert_eq!(
        parse_err(r#"x.y = "a\qb""#),
        ("unsupported string escape sequence: \\q".into(), 8, 1, 9)
    );
    assert_eq!(
        parse_err(r#"x.y = 'it\"s'"#),
        ("invalid \\\" escape in '-quoted string".into(), 9, 1, 10)
    );
    assert_eq!(
        parse_err(r#"x.y = "it\'s""#),
        ("invalid \\' escape in \"-quoted string".into(), 9, 1, 10)
    );
    assert_eq!(
        parse_err(r#"x.y = "\x4""#),
        (
            "invalid \\x escape sequence: expected two hexadecimal digits".into(),
            7,
            1,
            8
        )
    );
    assert_eq!(
        parse_err("x.y in (a,\n 'b\\q')"),
        ("unsupported string escape sequence: \\q".into(), 14, 2, 4)
    );
    assert_eq!(
        parse_err(r#"x.y["\q"] exists"#),
        ("unsupported string escape sequence: \\q".into(), 5, 1, 6)
    );
}

// ---- positions ----------------------------------------------------------------------------

#[test]
fn node_positions_single_line() {
    assert_eq!(
        positions(&parse_ok("proc.name=nginx")),
        "binary0 1 1field0 1 1value10 1 11"
    );
    assert_eq!(
        positions(&parse_ok("not proc.name exists and m")),
        "unary4 1 5field4 1 5identifier25 1 26"
    );
    assert_eq!(
        positions(&parse_ok("a.b in ( x, \"y\" )")),
        "binary0 1 1field0 1 1value9 1 10value12 1 13"
    );
}

#[test]
fn node_positions_multi_line() {
    let input = "spawned_process and\n  proc.name in (a,\n    b)\n  and not\n\tfd.name = 'x'";
    assert_eq!(
        positions(&parse_ok(input)),
        "identifier0 1 1binary22 2 3field22 2 3value36 2 17value43 3 5\
         binary57 5 2field57 5 2value67 5 12"
    );
}

#[test]
fn cr_and_lf_each_start_a_line() {
    // libs counts `\r\n` as two line breaks; we keep its numbering
    let e = parse_ok("a and\r\nb");
    assert_eq!(positions(&e), "identifier0 1 1identifier7 3 1");
}

#[test]
fn columns_count_bytes() {
    assert_eq!(
        positions(&parse_ok("a.b = 'é' and c.d = x")),
        "binary0 1 1field0 1 1value6 1 7binary15 1 16field15 1 16value21 1 22"
    );
}

// ---- malformed input: exact message and position -----------------------------------------

#[test]
fn malformed_inputs() {
    let op_list = "'exists', '<=', '<', '>=', '>', '==', '=', '!=', 'glob', 'iglob', 'contains', \
                   'icontains', 'bcontains', 'startswith', 'bstartswith', 'endswith', 'regex', \
                   'intersects', 'in', 'pmatch'";
    let check = "expected a '(' token, a field check, or an identifier";
    let cases: Vec<(&str, String, usize, u32, u32)> = vec![
        ("", "filter input string is empty".into(), 0, 1, 1),
        ("   ", check.into(), 3, 1, 4),
        ("a andb", "expected blank or '(' after 'and'".into(), 5, 1, 6),
        ("a orb", "expected blank or '(' after 'or'".into(), 4, 1, 5),
        ("a and b and", "expected blank or '(' after 'and'".into(), 11, 1, 12),
        ("a and ", check.into(), 6, 1, 7),
        ("and a", "unexpected token after 'and', expecting 'or', 'and'".into(), 4, 1, 5),
        ("aand b", "unexpected token after 'aand', expecting 'or', 'and'".into(), 5, 1, 6),
        ("a not b", "unexpected token after 'a', expecting 'or', 'and'".into(), 2, 1, 3),
        ("(a.b = 1", "expected a ')' token".into(), 8, 1, 9),
        ("(a b)", "expected a ')' token".into(), 3, 1, 4),
        ("a)", "unexpected token after 'a', expecting 'or', 'and'".into(), 1, 1, 2),
        ("a.b = b = 1", "unexpected token after 'b', expecting 'or', 'and'".into(), 8, 1, 9),
        (
            "a.a invalidoperator xxx",
            "unexpected token after 'validoperator', expecting 'or', 'and'".into(),
            20,
            1,
            21,
        ),
        ("a.a ExIsTs", format!("expected a valid check operator: one of {op_list}"), 4, 1, 5),
        ("a.a ===", format!("expected a string value or a field with a valid transformer: {TRANSFORMERS}"), 6, 1, 7),
        ("macro > 12", "unexpected token after 'macro', expecting 'or', 'and'".into(), 6, 1, 7),
        ("test.str = a,", "unexpected token after 'a', expecting 'or', 'and'".into(), 12, 1, 13),
        ("test.str = '", format!("expected a string value or a field with a valid transformer: {TRANSFORMERS}"), 11, 1, 12),
        ("test.str[] = x", "expected a valid field argument: a quoted string or a bare string".into(), 9, 1, 10),
        ("test.str[aaa\"] = a", "expected a ']' token".into(), 12, 1, 13),
        ("test.str [1] = a", format!("expected a valid check operator: one of {op_list}"), 9, 1, 10),
        ("test.num > !0.1", format!("expected a number value or a field with a valid transformer: {TRANSFORMERS}"), 11, 1, 12),
        ("test.num <= a", format!("expected a number value or a field with a valid transformer: {TRANSFORMERS}"), 12, 1, 13),
        ("test.list in (value,)", "expected a string value".into(), 20, 1, 21),
        ("test.list in (,)", "expected a ')' token".into(), 14, 1, 15),
        ("test.list in (a", "expected a ')' token".into(), 15, 1, 16),
        ("test.list in )", format!("expected a list, an identifier, or a field with a valid transformer: {TRANSFORMERS}"), 13, 1, 14),
        ("test.op startswithvalue", format!("expected a valid check operator: one of {op_list}"), 8, 1, 9),
        ("test.op exists something", "unexpected token after 'exists', expecting 'or', 'and'".into(), 15, 1, 16),
        ("b64(test.field exists", "expected a ')' token closing the transformer".into(), 15, 1, 16),
        ("b64() exists", format!("expected a field or a nested valid transformer: {TRANSFORMERS}"), 4, 1, 5),
        ("tolower(a.b, c.d) = x", "expected a ')' token closing the transformer".into(), 11, 1, 12),
        ("some.field = val(test.field [1])", "expected a ')' token closing the transformer".into(), 28, 1, 29),
        ("some.field = val(1)", "expected a field within 'val' transformer".into(), 17, 1, 18),
        ("some.field in (a, b64(test.field))", "expected a ')' token".into(), 21, 1, 22),
        ("some.field = (b64(test.field))", format!("expected a string value or a field with a valid transformer: {TRANSFORMERS}"), 13, 1, 14),
        ("a and\n  b and\n  (c", "expected a ')' token".into(), 18, 3, 5),
        ("a.b =\n  \"x\\y\"", "unsupported string escape sequence: \\y".into(), 10, 2, 5),
        ("a.b = 'é' é", "unexpected token after 'é', expecting 'or', 'and'".into(), 11, 1, 12),
        ("#a and b", check.into(), 0, 1, 1),
        (
            "evt.type = execve x",
            "unexpected token after 'execve', expecting 'or', 'and'".into(),
            18,
            1,
            19,
        ),
    ];
    assert!(cases.len() >= 25);
    for (input, message, offset, line, col) in cases {
        assert_eq!(
            parse_err(input),
            (message, offset, line, col),
            "input: {input:?}"
        );
    }
}

#[test]
fn error_display_is_the_message() {
    let err = match parse_condition("a andb") {
        Err(e) => e,
        Ok(_) => panic!("should fail"),
    };
    assert_eq!(err.to_string(), "expected blank or '(' after 'and'");
}

// ---- limits -------------------------------------------------------------------------------

#[test]
fn nesting_depth_is_limited() {
    let deep = format!("{}a{}", "(".repeat(300), ")".repeat(300));
    // parse_or, parse_and, parse_not, parse_check and the embedded remainder are five levels
    // per parenthesis, so the limit is hit after 200 of them
    assert_eq!(
        parse_err(&deep),
        (
            format!("exceeded max depth limit of {MAX_DEPTH}"),
            200,
            1,
            201
        )
    );
    let ok = format!("{}a{}", "(".repeat(150), ")".repeat(150));
    assert_eq!(s(&ok), "a");
}

#[test]
fn long_not_chains_are_limited() {
    let input = format!("{}a", "not ".repeat(1200));
    let (msg, offset, _, _) = parse_err(&input);
    assert_eq!(msg, format!("exceeded max depth limit of {MAX_DEPTH}"));
    assert_eq!(offset, 996 * 4);
    let input = format!("{}a", "not(".repeat(1200));
    assert_eq!(
        parse_err(&input).0,
        format!("exceeded max depth limit of {MAX_DEPTH}")
    );
    let ok = format!("{}a", "not ".repeat(500));
    assert!(parse_condition(&ok).is_ok());
}

#[test]
fn transformer_nesting_is_limited() {
    let input = format!("{}a.b{} exists", "len(".repeat(1200), ")".repeat(1200));
    assert_eq!(
        parse_err(&input).0,
        format!("exceeded max depth limit of {MAX_DEPTH}")
    );
}

#[test]
fn huge_flat_expressions_are_fine() {
    let input = vec!["proc.name = x"; 20_000].join(" or ");
    match parse_ok(&input) {
        Expr::Or(v) => assert_eq!(v.len(), 20_000),
        other => panic!("unexpected {}", sexpr(&other)),
    }
}

// ---- parse_operand_at ---------------------------------------------------------------------

fn operand_at(input: &str, start: usize) -> (String, usize) {
    match parse_operand_at(input, start) {
        Ok((o, end)) => (operand(&o), end),
        Err(e) => panic!("{input:?}@{start}: {e}"),
    }
}

#[test]
fn operands_for_output_tokens() {
    assert_eq!(operand_at("%proc.name)", 1), ("proc.name".into(), 10));
    assert_eq!(operand_at("x=%proc.name", 3), ("proc.name".into(), 12));
    assert_eq!(
        operand_at("%proc.aname[2] y", 1),
        ("proc.aname[2]".into(), 14)
    );
    assert_eq!(
        operand_at("%evt.arg.flags,", 1),
        ("evt.arg.flags".into(), 14)
    );
    assert_eq!(operand_at("%fd.name.", 1), ("fd.name".into(), 8));
    assert_eq!(
        operand_at("%toupper(proc.name)and", 1),
        ("toupper(proc.name)".into(), 19)
    );
    assert_eq!(
        operand_at("%len(tolower( proc.env[HOME] ))!", 1),
        ("len(tolower(proc.env[HOME]))".into(), 31)
    );
    // the grammar is greedy: deciding which prefix is a real field is the caller's job
    assert_eq!(operand_at("%proc.nameand", 1), ("proc.nameand".into(), 13));
}

#[test]
fn operand_positions_are_relative_to_the_input() {
    let (o, _) = match parse_operand_at("a\nb %toupper(x.y)", 5) {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    };
    let mut out = Vec::new();
    operand_positions(&o, &mut out);
    assert_eq!(out.concat(), "transformer5 2 4field13 2 12");
}

#[test]
fn operand_errors() {
    let err = |input: &str, start: usize| match parse_operand_at(input, start) {
        Ok((o, _)) => panic!("{input:?} should fail, got {}", operand(&o)),
        Err(e) => (e.message, e.pos.offset),
    };
    let expected = "expected a field or a valid transformer: \
                    'tolower', 'toupper', 'b64', 'basename', 'len'";
    assert_eq!(err("%proc", 1), (expected.into(), 1));
    assert_eq!(err("%val(a.b)", 1), (expected.into(), 1));
    assert_eq!(err("%", 1), (expected.into(), 1));
    assert_eq!(
        err("%toupper(a.b", 1),
        ("expected a ')' token closing the transformer".into(), 12)
    );
    assert_eq!(err("%a.b[x", 1), ("expected a ']' token".into(), 6));
    assert_eq!(
        err("é", 1),
        (
            "offset 1 is not a character boundary of the input".into(),
            1
        )
    );
    assert_eq!(
        err("ab", 5),
        (
            "offset 5 is not a character boundary of the input".into(),
            2
        )
    );
}
