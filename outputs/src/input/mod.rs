//! The falcosidekick-compatible HTTP input, so a real Falco (its `http_output`) can send
//! to Peregrine while users migrate: `POST /` with Falco's JSON alert, `/test` (sends
//! falcosidekick's test event to every destination), `GET /ping` → `pong`, `GET /healthz` →
//! `{"status": "ok"}`. Accepted alerts go to the same destinations as the agent's own. A body
//! falcosidekick would refuse gets a 400 that says why. This module reads alerts; `server`
//! serves them (TLS, mutual TLS, bearer token, junk accounting).

mod server;

pub use server::{
    bind, configure, serve, serve_bound, start, Bound, InputServer, Started, REJECTED_METRIC,
};

use crate::record::parse_rfc3339;
use peregrine_rules::{Alert, Priority};
use serde_json::Value as Json;
use std::sync::Arc;

/// Why a body is not a Falco alert falcosidekick would take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("the body is not JSON: {0}")]
    NotJson(String),
    #[error("the body is not a JSON object")]
    NotObject,
    #[error("`{key}` must be {expected}")]
    Type {
        key: &'static str,
        expected: &'static str,
    },
    #[error("`rule` is missing or empty")]
    NoRule,
    #[error("`priority` {0:?} is not a Falco priority")]
    BadPriority(String),
    #[error("`time` is missing or zero")]
    NoTime,
    #[error("`time` {0:?} is not an RFC 3339 time")]
    BadTime(String),
    #[error("`output_fields` is missing or empty")]
    NoOutputFields,
}

fn string_of<'a>(
    o: &'a serde_json::Map<String, Json>,
    key: &'static str,
) -> Result<&'a str, InputError> {
    match o.get(key) {
        None | Some(Json::Null) => Ok(""),
        Some(Json::String(s)) => Ok(s),
        Some(_) => Err(InputError::Type {
            key,
            expected: "a string",
        }),
    }
}

/// Reads Falco's JSON alert with falcosidekick's checks: a known priority, a rule, a time,
/// non-empty `output_fields`; `source` defaults to `syscalls` as in falcosidekick.
pub fn parse_alert(body: &[u8]) -> Result<Alert, InputError> {
    let v: Json = serde_json::from_slice(body).map_err(|e| InputError::NotJson(e.to_string()))?;
    let Json::Object(o) = v else {
        return Err(InputError::NotObject);
    };
    let rule = string_of(&o, "rule")?;
    if rule.is_empty() {
        return Err(InputError::NoRule);
    }
    let priority_text = string_of(&o, "priority")?;
    let priority: Priority = priority_text
        .parse()
        .map_err(|_| InputError::BadPriority(priority_text.to_string()))?;
    let time_text = string_of(&o, "time")?;
    if time_text.is_empty() {
        return Err(InputError::NoTime);
    }
    let time_ns = parse_rfc3339(time_text).ok_or_else(|| InputError::BadTime(time_text.into()))?;
    if time_ns == 0 {
        return Err(InputError::NoTime);
    }
    let output_fields = match o.get("output_fields") {
        Some(Json::Object(m)) if !m.is_empty() => m.clone(),
        Some(Json::Object(_)) | None | Some(Json::Null) => return Err(InputError::NoOutputFields),
        Some(_) => {
            return Err(InputError::Type {
                key: "output_fields",
                expected: "an object",
            })
        }
    };
    let tags: Vec<String> = match o.get("tags") {
        None | Some(Json::Null) => Vec::new(),
        Some(Json::Array(items)) => items
            .iter()
            .map(|t| {
                t.as_str().map(str::to_string).ok_or(InputError::Type {
                    key: "tags",
                    expected: "a list of strings",
                })
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(InputError::Type {
                key: "tags",
                expected: "a list of strings",
            })
        }
    };
    let source = match string_of(&o, "source")? {
        "" => "syscalls",
        s => s,
    };
    let output = string_of(&o, "output")?.to_string();
    let message = match o.get("message").and_then(Json::as_str) {
        Some(m) => m.to_string(),
        None => strip_prefix(&output, priority).to_string(),
    };
    Ok(Alert {
        time_ns,
        rule: Arc::from(rule),
        priority,
        source: Arc::from(source),
        tags: Arc::from(tags),
        hostname: Arc::from(string_of(&o, "hostname")?),
        message,
        output,
        output_fields,
    })
}

/// The rule output without Falco's `<time>: <Priority> ` prefix.
fn strip_prefix(output: &str, p: Priority) -> &str {
    let marker = format!(": {} ", p.as_str());
    match output.find(&marker) {
        Some(i) if !output[..i].contains(' ') => &output[i + marker.len()..],
        _ => output,
    }
}

/// The rule name of falcosidekick's test event; outputs take it whatever their
/// `minimumpriority`.
pub const TEST_RULE: &str = "Test rule";

/// falcosidekick's test event, as its `/test` route makes it.
pub fn test_alert(time_ns: u64) -> Alert {
    let mut output_fields = serde_json::Map::new();
    output_fields.insert("proc.name".into(), "falcosidekick".into());
    output_fields.insert("user.name".into(), "falcosidekick".into());
    Alert {
        time_ns,
        rule: Arc::from(TEST_RULE),
        priority: Priority::Debug,
        source: Arc::from("internal"),
        tags: Arc::from(vec!["test".to_string(), "example".to_string()]),
        hostname: Arc::from("falcosidekick"),
        message: "This is a test from falcosidekick".into(),
        output: "This is a test from falcosidekick".into(),
        output_fields,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_falcos_alert_and_says_why_it_refuses_one() {
        let ok = br#"{"hostname":"h","output":"16:17:57.881781397: Warning An open was seen (command=cat /dev/null)","priority":"Warning","rule":"open_from_cat","source":"syscall","tags":["a","b"],"time":"2016-08-04T16:17:57.881781397Z","output_fields":{"proc.cmdline":"cat /dev/null"}}"#;
        let a = parse_alert(ok).unwrap();
        assert_eq!(a.time_ns, 1_470_327_477_881_781_397);
        assert_eq!(a.priority, Priority::Warning);
        assert_eq!(a.message, "An open was seen (command=cat /dev/null)");
        assert_eq!(&*a.tags, ["a", "b"]);
        let cases: [(&[u8], &str); 6] = [
            (b"{", "not JSON"),
            (b"[]", "not a JSON object"),
            (br#"{"priority":"Warning","time":"2016-08-04T16:17:57Z","output_fields":{"a":1}}"#, "`rule`"),
            (br#"{"rule":"r","priority":"Loud","time":"2016-08-04T16:17:57Z","output_fields":{"a":1}}"#, "\"Loud\""),
            (br#"{"rule":"r","priority":"Debug","output_fields":{"a":1}}"#, "`time` is missing"),
            (br#"{"rule":"r","priority":"Debug","time":"2016-08-04T16:17:57Z","output_fields":{}}"#, "`output_fields`"),
        ];
        for (body, reason) in cases {
            let e = parse_alert(body).unwrap_err().to_string();
            assert!(e.contains(reason), "{e} lacks {reason}");
        }
        let no_source = br#"{"rule":"r","priority":"debug","time":"2016-08-04T16:17:57Z","output_fields":{"a":1}}"#;
        assert_eq!(&*parse_alert(no_source).unwrap().source, "syscalls");
    }
}
