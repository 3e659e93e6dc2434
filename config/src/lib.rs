//! Peregrine's configuration model (falco.yaml-compatible keys) and the embedded defaults.

/// The default rules: the reference deployment's own rules (see `shared/seed`), embedded so
/// the agent runs with no files at all.
pub const DEFAULT_RULES: &str = include_str!("../defaults/default_rules.yaml");

/// The name the embedded rules are reported under.
pub const DEFAULT_RULES_NAME: &str = "<embedded>/default_rules.yaml";
