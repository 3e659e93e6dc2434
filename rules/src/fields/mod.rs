//! The field registry: every field the rules may use, with its type and an extractor
//! over the event model.
//!
//! [`resolve`] turns a field reference as written (`proc.aname[2]`, `evt.arg.flags`) into a
//! [`Field`] once, at compile time; [`Field::extract`] then fills a reused [`Value`] per event
//! without allocating in steady state. Semantics follow libsinsp's filterchecks and the
//! container plugin as far as the event model carries the data.

mod container;
mod evt;
pub(crate) mod fd;
mod proc;
mod registry;
mod render;
mod user;
pub mod value;

#[cfg(test)]
mod tests;

pub use evt::set_hostname;
pub(crate) use evt::{OpenFlag, OpenFlags};
pub(crate) use fd::{PathPart, PathParts, SockKey};
pub(crate) use proc::Pieces;
pub use registry::{registry, resolve, AnyNe, ArgSpec, Field, FieldDef, FieldError};
pub use value::{Borrowed, FieldType, Value, ValueRef};

fn set_u64(out: &mut Value, v: u64) -> bool {
    *out = Value::U64(v);
    true
}

fn set_i64(out: &mut Value, v: i64) -> bool {
    *out = Value::I64(v);
    true
}

fn set_bool(out: &mut Value, v: bool) -> bool {
    *out = Value::Bool(v);
    true
}

/// The candidate list of `out`, kept as it is so the caller can overwrite the slots in
/// place (reusing their string buffers) and truncate.
fn any_slots(out: &mut Value) -> &mut Vec<Value> {
    if !matches!(out, Value::Any(_)) {
        *out = Value::Any(Vec::new());
    }
    match out {
        Value::Any(v) => v,
        _ => unreachable!("just set to Any"),
    }
}
