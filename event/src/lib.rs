//! Peregrine's event model, shared by every stage: event types with Falco's parameter
//! schemas, typed parameter values, and the process, fd, user and container context that
//! enrichment attaches. No I/O here.

mod context;
mod event;
pub mod flags;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod hostnet;
mod params;
pub mod ratelimit;
mod syscalls;
mod types;

pub use context::{
    ContainerInfo, FdInfo, FdKind, GroupInfo, Mount, ProcessInfo, SocketRole, UserInfo,
    HOST_CONTAINER_ID,
};
pub use event::Event;
pub use flags::FlagSet;
pub use params::{L4Proto, ParamValue, SockAddr, SockTuple};
pub use syscalls::SYSCALL_NAMES;
pub use types::{Direction, EventType, ParamKind, ParamSpec};
pub mod synth;

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn sample() -> Event {
        let mut ev = Event::new(
            EventType::OPENAT,
            1_700_000_000_000_000_000,
            42,
            vec![
                ParamValue::Int(3),
                ParamValue::Int(-100),
                ParamValue::Str("/etc/shadow".into()),
                ParamValue::Uint(flags::open::O_RDONLY | flags::open::O_CLOEXEC),
            ],
        );
        ev.process = Some(Arc::new(ProcessInfo {
            tid: 42,
            pid: 42,
            name: "cat".into(),
            args: ["/etc/shadow".into()].into(),
            container_id: HOST_CONTAINER_ID.into(),
            ..Default::default()
        }));
        ev
    }

    #[test]
    fn params_resolve_by_name_and_index() {
        let ev = sample();
        let (spec, value) = ev.param_by_name("name").unwrap();
        assert_eq!(spec.kind, ParamKind::FsRelPath { dirfd_index: 1 });
        assert_eq!(value.as_str(), Some("/etc/shadow"));
        assert_eq!(ev.param(6), &ParamValue::Absent);
        assert_eq!(ev.res(), Some(3));
        assert_eq!(ev.fd_num(), Some(3));
        assert_eq!(ev.process.as_ref().unwrap().cmdline(), "cat /etc/shadow");
    }

    #[test]
    fn round_trips_through_msgpack_and_json() {
        let ev = sample();
        let bytes = rmp_serde::to_vec_named(&ev).unwrap();
        let back: Event = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(back.etype, EventType::OPENAT);
        assert_eq!(back.params, ev.params);
        let json = serde_json::to_string(&ev).unwrap();
        assert!(json.contains("\"etype\":\"openat\""));
        let back: Event = serde_json::from_str(&json).unwrap();
        assert_eq!(back.process.unwrap().name.as_ref(), "cat");
    }
}
