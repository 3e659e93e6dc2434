//! The event: what happened, plus the context enrichment attached.

use crate::context::{ContainerInfo, FdInfo, ProcessInfo};
use crate::params::ParamValue;
use crate::types::{Direction, EventType, ParamSpec};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Event {
    /// Sequence number, from 1.
    pub num: u64,
    /// Wall-clock time, epoch ns.
    pub ts: u64,
    pub cpu: u16,
    pub etype: EventType,
    #[serde(default)]
    pub dir: Direction,
    pub tid: i64,
    /// Thread-group id of `tid` as the kernel reported it; 0 when the source does not know
    /// (captures and synthetic streams carry it in `process` instead).
    #[serde(default)]
    pub pid: i64,
    /// Values in the order of `etype.params()`; shorter vectors mean trailing params are absent.
    pub params: Vec<ParamValue>,
    #[serde(default)]
    pub process: Option<Arc<ProcessInfo>>,
    #[serde(default)]
    pub fd: Option<Arc<FdInfo>>,
    #[serde(default)]
    pub container: Option<Arc<ContainerInfo>>,
}

static ABSENT: ParamValue = ParamValue::Absent;

impl Event {
    pub fn new(etype: EventType, ts: u64, tid: i64, params: Vec<ParamValue>) -> Event {
        Event {
            num: 0,
            ts,
            cpu: 0,
            etype,
            dir: Direction::Exit,
            tid,
            pid: 0,
            params,
            process: None,
            fd: None,
            container: None,
        }
    }

    pub fn param(&self, index: usize) -> &ParamValue {
        self.params.get(index).unwrap_or(&ABSENT)
    }

    pub fn param_by_name(&self, name: &str) -> Option<(&'static ParamSpec, &ParamValue)> {
        let index = self.etype.param_index(name)?;
        Some((&self.etype.params()[index], self.param(index)))
    }

    /// The syscall's return value: the `res` or leading `fd` parameter.
    pub fn res(&self) -> Option<i64> {
        let spec = self.etype.params().first()?;
        matches!(spec.name, "res" | "fd")
            .then(|| self.param(0).as_i64())
            .flatten()
    }

    /// The fd the event acts on: the `fd` parameter when it is an input, else the result.
    pub fn fd_num(&self) -> Option<i64> {
        let index = self.etype.fd_param()?;
        self.param(index).as_i64()
    }
}
