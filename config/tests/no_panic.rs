//! Random YAML-ish text and random overrides give a config or an error, never a panic.

use proptest::prelude::*;

const TOKENS: &[&str] = &[
    "\n",
    "  ",
    "    ",
    "- ",
    ": ",
    ":",
    "{",
    "}",
    "[",
    "]",
    ",",
    "'",
    "\"",
    "&a ",
    "*a",
    "#",
    "? ",
    "!!str ",
    "|\n",
    ">\n",
    "---\n",
    "~",
    "null",
    "true",
    "no",
    "0x1F",
    "-1",
    "1.5",
    "1h30m",
    "500ms",
    "${HOME}",
    "$${X}",
    "${",
    "webserver",
    "listen_port",
    "enabled",
    "rules_files",
    "rules_file",
    "rules",
    "enable",
    "disable",
    "rule",
    "tag",
    "engine",
    "kind",
    "kmod",
    "replay",
    "synthetic",
    "modern_ebpf",
    "buf_size_preset",
    "metrics",
    "interval",
    "pipeline",
    "queues",
    "source",
    "overflow",
    "capacity",
    "append_output",
    "match",
    "outputs",
    "syscall_event_drops",
    "actions",
    "ignore",
    "priority",
    "plugins",
    "é",
    "\t",
    "\\",
];

fn yamlish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => prop::sample::select(TOKENS).prop_map(str::to_string),
        1 => "[ -~]{0,6}",
    ];
    prop::collection::vec(piece, 0..60).prop_map(|pieces| pieces.concat())
}

fn override_text() -> impl Strategy<Value = String> {
    let key_piece = prop_oneof![
        prop::sample::select(
            &[
                "webserver",
                "listen_port",
                "rules_files",
                "append_output",
                "engine",
                "kind",
                "outputs",
                "pipeline",
                "queues",
                "rules",
                "metrics",
                "interval",
                ".",
                "[",
                "]",
                "[]",
                "[0]",
                "[1]",
                "[99999999999999999999]",
                "\\",
                "\\.",
                "\\[",
                "=",
            ][..]
        )
        .prop_map(str::to_string),
        "[a-z_.\\[\\]0-9\\\\]{0,4}",
    ];
    let key = prop::collection::vec(key_piece, 0..8).prop_map(|p| p.concat());
    (key, yamlish()).prop_map(|(k, v)| format!("{k}={v}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn random_text_never_panics(text in yamlish()) {
        let _ = peregrine_config::load_str("fuzz.yaml", &text, &[]);
    }

    #[test]
    fn random_overrides_never_panic(
        text in yamlish(),
        overrides in prop::collection::vec(override_text(), 0..4),
    ) {
        let _ = peregrine_config::load_str("fuzz.yaml", &text, &overrides);
        let _ = peregrine_config::load(None, &overrides);
    }

    #[test]
    fn any_printable_override_never_panics(raw in "[ -~]{0,40}") {
        let _ = peregrine_config::load(None, &[raw]);
    }
}
