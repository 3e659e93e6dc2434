//! The Falco rules language: YAML loader (lists, macros, rules, append/override,
//! exceptions), condition parser, field registry, compiler, evaluator and output formatter.

pub mod ast;
pub mod diag;
pub mod collection;
pub mod priority;

pub use priority::Priority;
pub mod fields;
pub mod loader;
pub mod yaml;
