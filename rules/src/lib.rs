//! The Falco rules language: YAML loader (lists, macros, rules, append/override,
//! exceptions), condition parser, field registry, compiler, evaluator and output formatter.
//!
//! ```text
//! rules files ─▶ loader ─▶ Collection ─▶ compile ─▶ Ruleset ─▶ evaluate(Event) ─▶ alert()
//! ```

pub mod alert;
pub mod ast;
pub mod collection;
pub mod compile;
pub mod diag;
pub mod dns;
pub mod engine;
mod eval;
pub mod fields;
mod format;
pub mod interest;
pub mod loader;
pub mod parser;
pub mod priority;
pub mod ruleset;
pub mod timefmt;
pub mod yaml;

pub use alert::{Alert, AlertOptions, JsonOptions};
pub use compile::{CompileOptions, SUGGESTED_OUTPUT};
pub use diag::{Code, Diagnostic, ErrorCode, Location, WarningCode};
pub use engine::{load_files, load_sources, LoadOutcome, RulesSource};
pub use eval::{EvtSet, Scratch};
pub use priority::Priority;
pub use ruleset::{CompiledRule, RuleMatching, Ruleset, UnsourcedField};
