//! Load results as Falco prints them with `-V`: verbose text, the one-line summary, and the
//! `falco_load_results` JSON. Positions are 1-based here (Falco prints 0-based ones).

use crate::diag::{Code, Diagnostic, WarningCode};
use serde_json::{json, Value};
use std::fmt::Write;

const NO_SNIPPET: &str = "<No context available>\n";

fn status(file: &str, diags: &[Diagnostic]) -> String {
    let errors = diags.iter().any(Diagnostic::is_error);
    let warnings = diags.iter().any(|d| !d.is_error());
    let state = match (errors, warnings) {
        (true, _) => "Invalid",
        (false, true) => "Ok, with warnings",
        (false, false) => "Ok",
    };
    if file.is_empty() {
        state.to_string()
    } else {
        format!("{file}: {state}")
    }
}

/// Falco's verbose result:
/// ```text
/// rules.yaml: Invalid
/// 1 Errors:
/// In rules content: (rules.yaml:1:1)
///     rule 'r': (rules.yaml:3:3)
/// ------
/// <source line>
/// <caret>
/// ------
/// LOAD_ERR_YAML_VALIDATE (Error validating internal structure of YAML file): <message>
/// ```
/// followed the same way by `N Warnings:`.
pub fn render_text(file: &str, diags: &[Diagnostic]) -> String {
    let mut out = status(file, diags);
    let (errors, warnings): (Vec<&Diagnostic>, Vec<&Diagnostic>) =
        diags.iter().partition(|d| d.is_error());
    for (group, title) in [(errors, "Errors"), (warnings, "Warnings")] {
        if group.is_empty() {
            continue;
        }
        let _ = writeln!(out);
        let _ = writeln!(out, "{} {title}:", group.len());
        for d in group {
            for (i, loc) in d.context.iter().enumerate() {
                out.push_str(if i == 0 { "In " } else { "    " });
                out.push_str(&loc.item_type);
                if !loc.item_name.is_empty() {
                    let _ = write!(out, " '{}'", loc.item_name);
                }
                let _ = writeln!(out, ": ({}:{}:{})", loc.file, loc.line, loc.column);
            }
            out.push_str("------\n");
            out.push_str(d.snippet.as_deref().unwrap_or(NO_SNIPPET));
            out.push_str("------\n");
            let _ = writeln!(
                out,
                "{} ({}): {}",
                d.code.as_str(),
                d.code.description(),
                d.message
            );
        }
    }
    out
}

/// Falco's short result: `rules.yaml: Invalid` then ` 1 errors: [CODE (text) …]` and
/// ` N warnings: […]` lines.
pub fn render_summary(file: &str, diags: &[Diagnostic]) -> String {
    let mut out = status(file, diags);
    let (errors, warnings): (Vec<&Diagnostic>, Vec<&Diagnostic>) =
        diags.iter().partition(|d| d.is_error());
    for (group, title) in [(errors, "errors"), (warnings, "warnings")] {
        if group.is_empty() {
            continue;
        }
        let codes: Vec<String> = group
            .iter()
            .map(|d| format!("{} ({})", d.code.as_str(), d.code.description()))
            .collect();
        let _ = write!(out, "\n {} {title}: [{}]", group.len(), codes.join(" "));
    }
    out
}

/// One file's result in Falco's JSON shape:
/// `{"name", "successful", "errors": [...], "warnings": [...]}`, each problem with
/// `code`, `codedesc`, `message` and `context: {locations: [...], snippet}`.
pub fn render_json(file: &str, diags: &[Diagnostic]) -> Value {
    let entries = |errors: bool| -> Vec<Value> {
        diags
            .iter()
            .filter(|d| d.is_error() == errors)
            .map(diagnostic_json)
            .collect()
    };
    json!({
        "name": file,
        "successful": !diags.iter().any(Diagnostic::is_error),
        "errors": entries(true),
        "warnings": entries(false),
    })
}

/// `{"falco_load_results": [...]}` for several files, as `falco -V … --json` prints.
pub fn render_json_results<'a>(
    results: impl IntoIterator<Item = (&'a str, &'a [Diagnostic])>,
) -> Value {
    let results: Vec<Value> = results
        .into_iter()
        .map(|(file, diags)| render_json(file, diags))
        .collect();
    json!({ "falco_load_results": results })
}

fn diagnostic_json(d: &Diagnostic) -> Value {
    let locations: Vec<Value> = d
        .context
        .iter()
        .map(|loc| {
            json!({
                "item_type": loc.item_type,
                "item_name": loc.item_name,
                "position": {
                    "name": loc.file,
                    "line": loc.line,
                    "column": loc.column,
                    "offset": loc.offset,
                },
            })
        })
        .collect();
    json!({
        "code": d.code.as_str(),
        "codedesc": code_description(d.code),
        "message": d.message,
        "context": {
            "locations": locations,
            "snippet": d.snippet.as_deref().unwrap_or(NO_SNIPPET),
        },
    })
}

/// Falco's `codedesc`: the short text for errors (Falco's `error_desc` returns it), the long
/// explanation for warnings.
fn code_description(code: Code) -> &'static str {
    match code {
        Code::Error(c) => c.description(),
        Code::Warning(c) => warning_explanation(c),
    }
}

fn warning_explanation(code: WarningCode) -> &'static str {
    match code {
        WarningCode::UnknownSource => "A rule has a unknown event source. This can occur when reading rules content without having a corresponding plugin loaded, etc. The rule will be silently ignored.",
        WarningCode::UnsafeNaCheck => "Comparing a field value with <NA> is unsafe and can lead to unpredictable behavior of the rule condition. If you need to check for the existence of a field, consider using the 'exists' operator instead.",
        WarningCode::NoEvttype => "A rule condition matches too many evt.type values. This has a significant performance penalty. Make the condition more specific by adding an evt.type field or further restricting the number of evt.type values in the condition.",
        WarningCode::UnknownFilter => "A rule condition or output refers to a field or evt.type that does not exist. This is normally an error, but if a rule has a skip-if-unknown-filter property, the error is downgraded to a warning.",
        WarningCode::UnusedMacro => "A macro is defined in the rules content but is not used by any other macro or rule.",
        WarningCode::UnusedList => "A list is defined in the rules content but is not used by any other list, macro, or rule.",
        WarningCode::UnknownItem => "An unknown top-level object is in the rules content. It will be ignored.",
        WarningCode::DeprecatedItem => "A deprecated item is employed by lists, macros, or rules.",
        WarningCode::WarningExtension => "An extension item has a warning",
        WarningCode::AppendNoValues => "A rule exception is overriding/appending with no values",
        WarningCode::ExceptionNameNotUnique => "A rule is defining multiple exceptions with the same name",
        WarningCode::InvalidMacroName => "A macro is defined with an invalid name",
        WarningCode::InvalidListName => "A list is defined with an invalid name",
        WarningCode::CompileCondition => "A rule condition or output have been parsed with a warning",
        WarningCode::UnknownKey => "An item in the rules content contains an unrecognized key. The key will be ignored. This may indicate a typo or a property placed on the wrong item type.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collection::Collection;
    use crate::loader::read_rules;

    const FILE: &str = "rules.yaml";

    #[test]
    fn ok_without_problems() {
        assert_eq!(render_text(FILE, &[]), "rules.yaml: Ok");
        assert_eq!(render_summary(FILE, &[]), "rules.yaml: Ok");
        let j = render_json(FILE, &[]);
        assert_eq!(j["successful"], true);
        assert_eq!(j["errors"], json!([]));
    }

    #[test]
    fn verbose_text_matches_falco_layout() {
        let content = "- list: a\n  items: [x]\n- list: a\n  items: [y]\n  append: true\n- rule: r\n  desc: d\n  condition: c\n  output: o\n  priority: LOUD\n";
        let diags = read_rules(FILE, content, &mut Collection::default());
        let text = render_text(FILE, &diags);
        let expected = "rules.yaml: Invalid
1 Errors:
In rules content: (rules.yaml:1:1)
    rule 'r': (rules.yaml:6:3)
    rule priority: (rules.yaml:10:13)
------
  priority: LOUD
            ^
------
LOAD_ERR_YAML_VALIDATE (Error validating internal structure of YAML file): Invalid priority

1 Warnings:
In rules content: (rules.yaml:1:1)
    list 'a': (rules.yaml:3:3)
------
- list: a
  ^
------
LOAD_DEPRECATED_ITEM (Used deprecated item): 'append' key is deprecated. Add an 'append' entry (e.g. 'condition: append') under 'override' instead.
";
        assert_eq!(text, expected);
        assert_eq!(
            render_summary(FILE, &diags),
            "rules.yaml: Invalid\n 1 errors: [LOAD_ERR_YAML_VALIDATE (Error validating internal structure of YAML file)]\n 1 warnings: [LOAD_DEPRECATED_ITEM (Used deprecated item)]"
        );
    }

    #[test]
    fn warnings_only() {
        let diags = read_rules(FILE, "- foo: bar\n", &mut Collection::default());
        let text = render_text(FILE, &diags);
        assert!(text.starts_with("rules.yaml: Ok, with warnings\n1 Warnings:\nIn rules content: (rules.yaml:1:1)\n    rules content item: (rules.yaml:1:3)\n"), "{text}");
        assert!(
            text.ends_with("LOAD_UNKNOWN_ITEM (Unknown rules file item): Unknown top level item\n"),
            "{text}"
        );
    }

    #[test]
    fn json_matches_falco_shape() {
        let diags = read_rules(FILE, "- macro: m\n", &mut Collection::default());
        let all = render_json_results([(FILE, diags.as_slice())]);
        let r = &all["falco_load_results"][0];
        assert_eq!(r["name"], FILE);
        assert_eq!(r["successful"], false);
        let e = &r["errors"][0];
        assert_eq!(e["code"], "LOAD_ERR_YAML_VALIDATE");
        assert_eq!(
            e["codedesc"],
            "Error validating internal structure of YAML file"
        );
        assert_eq!(e["message"], "Item has no mapping for key 'condition'");
        assert_eq!(
            e["context"]["locations"][1],
            json!({"item_type": "macro", "item_name": "m",
                   "position": {"name": FILE, "line": 1, "column": 3, "offset": 2}})
        );
        assert_eq!(e["context"]["snippet"], "- macro: m\n  ^\n");
        let diags = read_rules(FILE, "- foo: 1\n", &mut Collection::default());
        let w = &render_json(FILE, &diags)["warnings"][0];
        assert_eq!(
            w["codedesc"],
            "An unknown top-level object is in the rules content. It will be ignored."
        );
    }
}
