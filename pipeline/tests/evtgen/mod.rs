//! Falco's evtgen end-to-end suite against the live agent: file loading and case expansion
//! (`suite`), plans for the performer (`plan`), execution (`run`), results (`report`).

pub mod plan;
pub mod report;
pub mod run;
pub mod suite;
