//! `peregrine-loadtest`: record live kernel events, generate synthetic streams, import Falco
//! `.scap` captures, replay any of them through the real pipeline in-process, run syscall
//! storms against the live agent (and another agent, side by side), sweep for the highest
//! rate held without drops, and report on the results.

pub mod commands;
pub mod compare;
pub mod machine;
pub mod progress;
pub mod record;
pub mod report;
pub mod result;
pub mod runner;
pub mod scap;
pub mod source;
pub mod storm;
pub mod sweep;
