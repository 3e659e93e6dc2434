//! Extracted field values. A [`Value`] lives in a per-evaluation scratch slot and is
//! overwritten in place for every event, so string buffers are reused, not reallocated.

use std::net::IpAddr;

/// The type of a field, with Falco's type names for `list-fields`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FieldType {
    /// CHARBUF, FSPATH, FSRELPATH: text.
    Str,
    /// BYTEBUF: raw bytes.
    Bytes,
    U16,
    U32,
    U64,
    I32,
    I64,
    Bool,
    /// IPADDR: one address; RHS is an address.
    Ip,
    /// IPNET: the RHS is a CIDR network the value must fall in.
    IpNet,
    /// PORT: u16.
    Port,
    /// ABSTIME: epoch ns.
    AbsTime,
    /// RELTIME: duration ns.
    RelTime,
}

impl FieldType {
    pub fn falco_name(self) -> &'static str {
        match self {
            FieldType::Str => "CHARBUF",
            FieldType::Bytes => "BYTEBUF",
            FieldType::U16 => "UINT16",
            FieldType::U32 => "UINT32",
            FieldType::U64 => "UINT64",
            FieldType::I32 => "INT32",
            FieldType::I64 => "INT64",
            FieldType::Bool => "BOOL",
            FieldType::Ip => "IPADDR",
            FieldType::IpNet => "IPNET",
            FieldType::Port => "PORT",
            FieldType::AbsTime => "ABSTIME",
            FieldType::RelTime => "RELTIME",
        }
    }

    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            FieldType::U16
                | FieldType::U32
                | FieldType::U64
                | FieldType::I32
                | FieldType::I64
                | FieldType::Port
                | FieldType::AbsTime
                | FieldType::RelTime
        )
    }
}

/// One extracted value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Str(String),
    Bytes(Vec<u8>),
    U64(u64),
    I64(i64),
    Bool(bool),
    Ip(IpAddr),
    /// Several candidates (any ancestor for `proc.aname`, either endpoint for `fd.ip`):
    /// a comparison holds when it holds for any of them; `!=` holds when none is equal.
    Any(Vec<Value>),
}

/// A value read straight from the event, without copying: what a [`Value`] holds, as a
/// borrow (never several candidates).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ValueRef<'a> {
    Str(&'a str),
    Bytes(&'a [u8]),
    U64(u64),
    I64(i64),
    Bool(bool),
    Ip(IpAddr),
}

/// The result of [`Field::borrow`](super::Field::borrow).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Borrowed<'a> {
    /// The value, as stored in the event.
    Value(ValueRef<'a>),
    /// The field has no value for this event (every comparison on it is false).
    Missing,
    /// The value has to be computed: use [`Field::extract`](super::Field::extract).
    NotBorrowable,
}

impl<'a> Borrowed<'a> {
    pub(crate) fn str(s: &'a str) -> Borrowed<'a> {
        Borrowed::Value(ValueRef::Str(s))
    }

    pub(crate) fn u64(v: u64) -> Borrowed<'a> {
        Borrowed::Value(ValueRef::U64(v))
    }

    pub(crate) fn i64(v: i64) -> Borrowed<'a> {
        Borrowed::Value(ValueRef::I64(v))
    }

    pub(crate) fn bool(v: bool) -> Borrowed<'a> {
        Borrowed::Value(ValueRef::Bool(v))
    }

    /// A non-empty string, or missing (the container plugin's empty strings).
    pub(crate) fn non_empty(s: Option<&'a str>) -> Borrowed<'a> {
        match s.filter(|s| !s.is_empty()) {
            Some(s) => Borrowed::str(s),
            None => Borrowed::Missing,
        }
    }
}

impl Default for Value {
    fn default() -> Self {
        Value::Str(String::new())
    }
}

impl Value {
    /// Overwrites with a string, reusing this slot's buffer when it already holds one.
    pub fn set_str(&mut self, s: &str) {
        if let Value::Str(buf) = self {
            buf.clear();
            buf.push_str(s);
        } else {
            *self = Value::Str(s.to_owned());
        }
    }

    /// Gives a cleared string buffer to write into (reused when possible).
    pub fn str_buf(&mut self) -> &mut String {
        if !matches!(self, Value::Str(_)) {
            *self = Value::Str(String::new());
        }
        match self {
            Value::Str(buf) => {
                buf.clear();
                buf
            }
            _ => unreachable!("just set to Str"),
        }
    }

    /// Overwrites with bytes, reusing this slot's buffer when it already holds one.
    pub fn set_bytes(&mut self, b: &[u8]) {
        if let Value::Bytes(buf) = self {
            buf.clear();
            buf.extend_from_slice(b);
        } else {
            *self = Value::Bytes(b.to_vec());
        }
    }

    /// Gives a cleared candidate list to fill (reused when possible).
    pub fn any_buf(&mut self) -> &mut Vec<Value> {
        if !matches!(self, Value::Any(_)) {
            *self = Value::Any(Vec::new());
        }
        match self {
            Value::Any(v) => {
                v.clear();
                v
            }
            _ => unreachable!("just set to Any"),
        }
    }

    /// This value as a borrow; `None` for [`Value::Any`].
    pub fn as_ref(&self) -> Option<ValueRef<'_>> {
        Some(match self {
            Value::Str(s) => ValueRef::Str(s),
            Value::Bytes(b) => ValueRef::Bytes(b),
            Value::U64(v) => ValueRef::U64(*v),
            Value::I64(v) => ValueRef::I64(*v),
            Value::Bool(b) => ValueRef::Bool(*b),
            Value::Ip(ip) => ValueRef::Ip(*ip),
            Value::Any(_) => return None,
        })
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Renders as Falco prints it in text output.
    pub fn render(&self, out: &mut String) {
        use std::fmt::Write;
        match self {
            Value::Str(s) => out.push_str(s),
            Value::Bytes(b) => out.push_str(&String::from_utf8_lossy(b)),
            Value::U64(v) => {
                let _ = write!(out, "{v}");
            }
            Value::I64(v) => {
                let _ = write!(out, "{v}");
            }
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Ip(ip) => {
                let _ = write!(out, "{ip}");
            }
            Value::Any(vs) => {
                for (i, v) in vs.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    v.render(out);
                }
            }
        }
    }

    /// The value for a JSON alert's `output_fields`: numbers stay numbers, booleans booleans.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Str(s) => serde_json::Value::String(s.clone()),
            Value::U64(v) => (*v).into(),
            Value::I64(v) => (*v).into(),
            Value::Bool(b) => (*b).into(),
            other => {
                let mut s = String::new();
                other.render(&mut s);
                serde_json::Value::String(s)
            }
        }
    }
}
