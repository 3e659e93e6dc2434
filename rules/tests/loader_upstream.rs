//! The upstream Falco rules files and the seed deployment's rules load without errors,
//! individually and together in Falco's order.

use peregrine_rules::collection::Collection;
use peregrine_rules::diag::Diagnostic;
use peregrine_rules::loader::{check_plugin_requirements, read_rules, BUILTIN_PLUGINS};
use std::path::{Path, PathBuf};

fn testdata() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata");
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var("PEREGRINE_REQUIRE_PRIVILEGED").as_deref() != Ok("1"),
        "../shared/testdata not found and PEREGRINE_REQUIRE_PRIVILEGED=1"
    );
    println!("skipping: ../shared/testdata not found");
    None
}

/// In Falco's load order: stable, incubating, sandbox, then the seed deployment's rules.
const FILES: [&str; 4] = [
    "upstream/falco_rules.yaml",
    "upstream/falco-incubating_rules.yaml",
    "upstream/falco-sandbox_rules.yaml",
    "seed_rules.yaml",
];

fn read_into(data: &Path, file: &str, c: &mut Collection) -> Vec<Diagnostic> {
    let content = std::fs::read_to_string(data.join(file)).expect("read rules file");
    read_rules(file, &content, c)
}

fn assert_clean(file: &str, diags: &[Diagnostic]) {
    assert!(diags.is_empty(), "{file}: {diags:#?}");
}

#[test]
fn each_file_loads_with_expected_counts() {
    let Some(data) = testdata() else {
        return;
    };
    // (rules, macros, lists, disabled rules)
    let expected = [
        (25, 87, 49, 0),
        (31, 82, 54, 0),
        (37, 183, 60, 12),
        (2, 5, 0, 0),
    ];
    for (file, (rules, macros, lists, disabled)) in FILES.iter().zip(expected) {
        let mut c = Collection::default();
        let diags = read_into(&data, file, &mut c);
        assert_clean(file, &diags);
        let got = (
            c.rules.len(),
            c.macros.len(),
            c.lists.len(),
            c.rules.iter().filter(|r| !r.enabled).count(),
        );
        assert_eq!(got, (rules, macros, lists, disabled), "{file}");
        if file.starts_with("upstream/") {
            assert_eq!(c.required_engine_version, Some((0, 57, 0)), "{file}");
            assert_eq!(
                check_plugin_requirements(&c, BUILTIN_PLUGINS),
                Ok(()),
                "{file}"
            );
        }
        assert!(c
            .rules
            .iter()
            .all(|r| r.source == "syscall" && !r.tags.is_empty() || *file == "seed_rules.yaml"));
    }
}

/// 1-based line and column (in characters) of byte `offset`.
fn line_col(content: &str, offset: usize) -> (u32, u32) {
    let before = content.get(..offset).unwrap_or(content);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line as u32, column as u32)
}

#[test]
fn positions_point_at_the_source_text() {
    let Some(data) = testdata() else {
        return;
    };
    for file in FILES {
        let content = std::fs::read_to_string(data.join(file)).expect("read");
        let mut c = Collection::default();
        assert_clean(file, &read_rules(file, &content, &mut c));
        let texts = c
            .macros
            .iter()
            .map(|m| &m.condition)
            .chain(c.rules.iter().flat_map(|r| [&r.condition, &r.output]));
        let mut checked = 0;
        for t in texts {
            assert_eq!(
                (t.pos.line, t.pos.col),
                line_col(&content, t.pos.offset),
                "{file}: {t:?}"
            );
            let first_word = t.value.split_whitespace().next().unwrap_or("");
            let source = content.get(t.pos.offset..).unwrap_or("");
            assert!(
                source.starts_with(first_word),
                "{file}: {t:?} at {:?}",
                &source[..20.min(source.len())]
            );
            checked += 1;
        }
        for l in &c.lists {
            assert_eq!(
                (l.pos.line, l.pos.col),
                line_col(&content, l.pos.offset),
                "{file}: {l:?}"
            );
            assert!(
                content
                    .get(l.pos.offset..)
                    .unwrap_or("")
                    .starts_with("list:"),
                "{file}: {l:?}"
            );
        }
        assert!(checked > 0);
    }
}

#[test]
fn all_files_load_together_in_falco_order() {
    let Some(data) = testdata() else {
        return;
    };
    let mut c = Collection::default();
    for file in FILES {
        let diags = read_into(&data, file, &mut c);
        assert_clean(file, &diags);
    }
    // Names defined in several files keep the index of their first definition.
    let first = c.rules.first().map(|r| r.name.as_str());
    let mut stable = Collection::default();
    assert_clean(FILES[0], &read_into(&data, FILES[0], &mut stable));
    assert_eq!(first, stable.rules.first().map(|r| r.name.as_str()));
    for (i, r) in c.rules.iter().enumerate() {
        assert_eq!(c.rule_index.get(&r.name), Some(&i));
    }
    assert!(c.rules.len() > 90 && c.macros.len() > 250 && c.lists.len() > 100);
    let seed_rule = c
        .rule("Unauthorized Process in Container")
        .expect("seed rule");
    assert_eq!(&*seed_rule.pos.file, "seed_rules.yaml");
}
