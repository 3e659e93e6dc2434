//! Shared by the end-to-end tests: reading fields the way rules do.

use peregrine_event::Event;
use peregrine_rules::fields::{self, Value};

/// A field as the rules engine extracts it (`proc.aname[2]` style indices allowed), rendered
/// as Falco prints it; `None` when the field has no value.
pub fn field(ev: &Event, written: &str) -> Option<String> {
    let (name, arg) = match written.split_once('[') {
        Some((name, rest)) => (name, Some(rest.trim_end_matches(']'))),
        None => (written, None),
    };
    let f = fields::resolve(name, arg).unwrap_or_else(|e| panic!("{written}: {e:?}"));
    let mut v = Value::default();
    if !f.extract(ev, &mut v) {
        return None;
    }
    let mut out = String::new();
    v.render(&mut out);
    Some(out)
}

/// [`field`], which must have a value.
#[track_caller]
pub fn get(ev: &Event, written: &str) -> String {
    field(ev, written).unwrap_or_else(|| panic!("{written} has no value"))
}
