//! Every `condition:` of every macro and rule in the upstream Falco rulesets and in the seed
//! rules must parse. List names inside conditions are substituted by the loader, not the
//! parser, so `proc.name in (shell_binaries)` simply parses as a one-item list here.

use std::path::{Path, PathBuf};

use peregrine_rules::parser::parse_condition;
use saphyr::{LoadableYamlNode, Yaml};

/// Each file with the number of macro and rule conditions it holds.
const FILES: &[(&str, usize, usize)] = &[
    ("upstream/falco_rules.yaml", 87, 25),
    ("upstream/falco-incubating_rules.yaml", 82, 31),
    ("upstream/falco-sandbox_rules.yaml", 183, 37),
    ("seed_rules.yaml", 5, 2),
];

/// `<manifest>/../../shared/testdata`, or `None` (with a note) when it is absent, unless
/// `PEREGRINE_REQUIRE_PRIVILEGED=1` demands it.
fn testdata_dir(manifest_dir: &Path) -> Option<PathBuf> {
    let dir = manifest_dir.join("../../shared/testdata");
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("PEREGRINE_REQUIRE_PRIVILEGED").as_deref() == Ok("1") {
        panic!("../shared/testdata not found at {}", dir.display());
    }
    println!("skipping: ../shared/testdata not found");
    None
}

/// The top-level items of a rules file, one YAML text each. saphyr rejects a flow sequence
/// whose closing `]` sits at the key's indentation (upstream lists do this; yaml-cpp accepts
/// it), so each item is loaded on its own and only list items may fail to load.
fn items(text: &str) -> Vec<String> {
    let mut items: Vec<String> = Vec::new();
    for line in text.lines() {
        if line.starts_with("- ") || items.is_empty() {
            items.push(String::new());
        }
        if let Some(item) = items.last_mut() {
            item.push_str(line);
            item.push('\n');
        }
    }
    items
}

/// `(kind, name, condition)` for every macro and rule item with a condition.
fn conditions(text: &str) -> Result<Vec<(String, String, String)>, String> {
    let mut out = Vec::new();
    for item_text in items(text) {
        let docs = match Yaml::load_from_str(&item_text) {
            Ok(docs) => docs,
            Err(e) if item_text.starts_with("- list:") => {
                println!("note: list item not loadable by saphyr ({e})");
                continue;
            }
            Err(e) => return Err(format!("{e} in:\n{item_text}")),
        };
        for item in docs.iter().filter_map(Yaml::as_vec).flatten() {
            for kind in ["macro", "rule"] {
                let Some(name) = item.as_mapping_get(kind).and_then(Yaml::as_str) else {
                    continue;
                };
                if let Some(cond) = item.as_mapping_get("condition").and_then(Yaml::as_str) {
                    out.push((kind.to_string(), name.to_string(), cond.to_string()));
                }
            }
        }
    }
    Ok(out)
}

#[test]
fn all_upstream_and_seed_conditions_parse() {
    let Some(dir) = testdata_dir(Path::new(env!("CARGO_MANIFEST_DIR"))) else {
        return;
    };
    let mut failures = Vec::new();
    for &(file, macros, rules) in FILES {
        let path = dir.join(file);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let conds = conditions(&text).unwrap_or_else(|e| panic!("{file}: bad YAML: {e}"));
        let count = |k: &str| conds.iter().filter(|(kind, _, _)| kind == k).count();
        assert_eq!(
            (count("macro"), count("rule")),
            (macros, rules),
            "{file}: unexpected number of macro and rule conditions"
        );
        for (kind, name, cond) in &conds {
            if let Err(e) = parse_condition(cond) {
                failures.push(format!(
                    "{file}: {kind} '{name}': {} at line {} col {}\n    {cond}",
                    e.message, e.pos.line, e.pos.col
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn missing_testdata_is_skipped_unless_required() {
    let nowhere = Path::new(env!("CARGO_MANIFEST_DIR")).join("no/such/dir");
    let required = std::env::var("PEREGRINE_REQUIRE_PRIVILEGED").as_deref() == Ok("1");
    let outcome = std::panic::catch_unwind(|| testdata_dir(&nowhere));
    match outcome {
        Ok(dir) => assert!(!required && dir.is_none()),
        Err(_) => assert!(required),
    }
}
