//! The loader never panics: random bytes, YAML-shaped noise and mutated rules files.

use peregrine_rules::collection::Collection;
use peregrine_rules::loader::{exception_condition, read_rules, render_json, render_text};
use proptest::prelude::*;
use std::path::Path;

const CORPUS: &str = r#"- required_engine_version: 0.57.0
- required_plugin_versions:
    - name: container
      version: 0.4.0
      alternatives: [{name: other, version: 1.0.0}]
- list: shells
  items: [bash, "sh", 'zsh']
- list: shells
  items: [ksh]
  override:
    items: append
- macro: spawned
  condition: evt.type in (execve, execveat)
- macro: spawned
  condition: or evt.type = clone
  append: true
- rule: Shell
  desc: a shell
  condition: >
    spawned and proc.name in (shells)
  output: "shell %proc.name"
  priority: WARNING
  tags: [a, b]
  exceptions:
    - name: pair
      fields: [proc.name, proc.pname]
      comps: [=, in]
      values: [[bash, [sshd, "a b"]]]
    - name: one
      fields: proc.cmdline
      values: [x, "y z"]
- rule: Shell
  exceptions:
    - name: one
      values: [w]
  override:
    exceptions: append
- rule: Shell
  enabled: false
- rule: Shell
  priority: INFO
  override: {priority: replace}
- anchors: &a [1, 2]
- unknown: *a
"#;

/// Replaces, inserts or deletes pieces of `base`, or duplicates lines; each op's position is
/// a fraction (`pos / 65536`) of the text length.
fn mutate(base: &str, ops: &[(u16, u8, String)]) -> String {
    let mut text: Vec<char> = base.chars().collect();
    for (pos, kind, piece) in ops {
        if text.is_empty() {
            text.extend(piece.chars());
            continue;
        }
        let at = usize::from(*pos) * text.len() / 65_536;
        match kind % 4 {
            0 => {
                let end = (at + piece.len() % 16 + 1).min(text.len());
                text.drain(at..end);
            }
            1 => {
                text.splice(at..at, piece.chars());
            }
            2 => {
                let end = (at + piece.chars().count()).min(text.len());
                text.splice(at..end, piece.chars());
            }
            _ => {
                // Duplicate the line that contains `at`.
                let start = text[..at]
                    .iter()
                    .rposition(|&c| c == '\n')
                    .map_or(0, |i| i + 1);
                let end = text[at..]
                    .iter()
                    .position(|&c| c == '\n')
                    .map_or(text.len(), |i| at + i + 1);
                let line: Vec<char> = text[start..end].to_vec();
                text.splice(end..end, line);
            }
        }
    }
    text.into_iter().collect()
}

fn exercise(content: &str) {
    let mut c = Collection::default();
    let diags = read_rules("fuzz.yaml", content, &mut c);
    let _ = render_text("fuzz.yaml", &diags);
    let _ = render_json("fuzz.yaml", &diags);
    for d in &diags {
        let _ = d.to_string();
    }
    for r in &c.rules {
        let _ = exception_condition(r);
    }
    // A second file on top of the first exercises appends and overrides.
    let _ = read_rules("again.yaml", content, &mut c);
}

fn yaml_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        "[-:#&*!|>'\"\\[\\]{},? \n\t]{1,6}",
        "[a-z_ ]{1,8}",
        Just("\n  - ".to_string()),
        Just(": ".to_string()),
        Just("override:\n    ".to_string()),
        Just("append: true\n".to_string()),
        Just("exceptions:\n    - name: e\n".to_string()),
        Just("~".to_string()),
        Just("\u{e9}\u{1F600}".to_string()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_text_never_panics(s in "\\PC{0,300}") {
        exercise(&s);
    }

    #[test]
    fn yaml_shaped_noise_never_panics(pieces in prop::collection::vec(yaml_piece(), 0..40)) {
        exercise(&pieces.concat());
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        exercise(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn mutated_rules_never_panic(ops in prop::collection::vec((any::<u16>(), any::<u8>(), yaml_piece()), 1..8)) {
        exercise(&mutate(CORPUS, &ops));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn mutated_upstream_rules_never_panic(ops in prop::collection::vec((any::<u16>(), any::<u8>(), yaml_piece()), 1..6)) {
        let file = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/testdata/upstream/falco-sandbox_rules.yaml");
        if let Ok(content) = std::fs::read_to_string(file) {
            exercise(&mutate(&content, &ops));
        }
    }
}
