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

/// Whether a test's requirements hold (`missing` is why not): skips with a message, or
/// panics under `PEREGRINE_REQUIRE_PRIVILEGED=1` so CI cannot skip silently.
#[allow(dead_code)] // not every test file has privileged tests
pub fn ready(test: &str, missing: Option<String>) -> bool {
    match missing {
        None => true,
        Some(why) if std::env::var("PEREGRINE_REQUIRE_PRIVILEGED").as_deref() == Ok("1") => {
            panic!("{test}: {why}, and PEREGRINE_REQUIRE_PRIVILEGED=1")
        }
        Some(why) => {
            eprintln!("skipping {test}: {why}");
            false
        }
    }
}
