//! The destinations: Falco's channels (stdout, file, syslog, program, http) and
//! falcosidekick's (Loki, Slack, webhook). Each is a [`crate::Deliver`] writer; the
//! payload builders are public so their wire format can be checked on its own.

pub mod http_output;
pub mod line;
pub mod loki;
mod pipe;
pub mod program;
pub mod slack;
pub mod syslog;
pub mod webhook;
