//! Events for the evaluator's unit tests.

use peregrine_event::{Event, EventType, FdInfo, FdKind, ParamValue, ProcessInfo};
use std::sync::Arc;

/// An `openat` of the file `name` with open flags `flags`, by a process, as the enricher
/// delivers it (fd 3 resolved to the file).
pub(crate) fn open_event(name: &str, flags: u64) -> Event {
    let t = EventType::from_name("openat").expect("openat");
    let mut ev = Event::new(
        t,
        0,
        1,
        vec![
            ParamValue::Int(3),
            ParamValue::Int(-100),
            ParamValue::Str(name.into()),
            ParamValue::Int(flags as i64),
        ],
    );
    ev.process = Some(Arc::new(ProcessInfo::default()));
    ev.fd = Some(Arc::new(FdInfo {
        num: 3,
        kind: FdKind::File,
        name: name.into(),
        ..Default::default()
    }));
    ev
}
