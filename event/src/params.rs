//! Parameter values and socket addresses.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;

/// One decoded parameter. Its meaning comes from the event type's [`ParamSpec`](crate::ParamSpec).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub enum ParamValue {
    /// The probe did not capture this parameter (or it does not apply).
    #[default]
    Absent,
    Int(i64),
    Uint(u64),
    Str(String),
    Bytes(Vec<u8>),
    /// Shared: a process snapshot keeps the exec's arguments and environment without a copy.
    StrList(std::sync::Arc<[String]>),
    Tuple(SockTuple),
    Addr(SockAddr),
}

impl ParamValue {
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            ParamValue::Int(v) => Some(v),
            ParamValue::Uint(v) => Some(v as i64),
            _ => None,
        }
    }

    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            ParamValue::Int(v) => Some(v as u64),
            ParamValue::Uint(v) => Some(v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            ParamValue::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// Layer-4 protocol of a socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum L4Proto {
    Tcp,
    Udp,
    Icmp,
    Raw,
    Unknown,
}

impl L4Proto {
    /// Falco's `fd.l4proto` spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            L4Proto::Tcp => "tcp",
            L4Proto::Udp => "udp",
            L4Proto::Icmp => "icmp",
            L4Proto::Raw => "raw",
            L4Proto::Unknown => "<unknown>",
        }
    }
}

/// A socket address as passed to connect/bind/sendto.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SockAddr {
    Inet { ip: IpAddr, port: u16 },
    Unix { path: String },
    Other { family: u16 },
}

/// Both ends of a connection: source (client) and destination (server) for inet sockets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SockTuple {
    Inet {
        proto: L4Proto,
        sip: IpAddr,
        sport: u16,
        dip: IpAddr,
        dport: u16,
    },
    Unix {
        /// Kernel addresses of the two socket ends, as Falco prints them.
        source: u64,
        dest: u64,
        path: String,
    },
}

fn fmt_ip(ip: &IpAddr, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match ip {
        IpAddr::V4(v4) => write!(f, "{v4}"),
        IpAddr::V6(v6) => write!(f, "{v6}"),
    }
}

impl fmt::Display for SockTuple {
    /// Falco's fd name for sockets: `10.0.0.1:34567->10.0.0.2:80`, unix: `ffff...->ffff... /path`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SockTuple::Inet {
                sip,
                sport,
                dip,
                dport,
                ..
            } => {
                fmt_ip(sip, f)?;
                write!(f, ":{sport}->")?;
                fmt_ip(dip, f)?;
                write!(f, ":{dport}")
            }
            SockTuple::Unix { source, dest, path } => {
                write!(f, "{source:x}->{dest:x} {path}")
            }
        }
    }
}

impl fmt::Display for SockAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SockAddr::Inet { ip, port } => {
                fmt_ip(ip, f)?;
                write!(f, ":{port}")
            }
            SockAddr::Unix { path } => f.write_str(path),
            SockAddr::Other { family } => write!(f, "family {family}"),
        }
    }
}
