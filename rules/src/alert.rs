//! The alert record and its two wire formats: Falco's text line and Falco's JSON object.

use crate::priority::Priority;
use crate::timefmt;
use serde_json::{Map, Value as Json};
use std::sync::Arc;

/// How alerts are stamped.
#[derive(Clone, Debug)]
pub struct AlertOptions {
    pub hostname: Arc<str>,
    /// falco.yaml `time_format_iso_8601`.
    pub time_iso8601: bool,
    /// Local time zone offset east of UTC, for the `HH:MM:SS` text prefix.
    pub utc_offset_secs: i64,
}

impl Default for AlertOptions {
    fn default() -> Self {
        AlertOptions {
            hostname: Arc::from("localhost"),
            time_iso8601: false,
            utc_offset_secs: 0,
        }
    }
}

/// Which optional keys JSON alerts carry (falco.yaml `json_include_*`).
#[derive(Clone, Copy, Debug)]
pub struct JsonOptions {
    pub include_output: bool,
    pub include_output_fields: bool,
    pub include_tags: bool,
    pub include_message: bool,
}

impl Default for JsonOptions {
    fn default() -> Self {
        JsonOptions {
            include_output: true,
            include_output_fields: true,
            include_tags: true,
            include_message: false,
        }
    }
}

/// One alert: a rule that matched one event.
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    /// Event time, epoch ns.
    pub time_ns: u64,
    pub rule: Arc<str>,
    pub priority: Priority,
    pub source: Arc<str>,
    pub tags: Arc<[String]>,
    pub hostname: Arc<str>,
    /// The rendered rule output, without time and priority.
    pub message: String,
    /// `<time>: <Priority> <message>`.
    pub output: String,
    /// Every field of the output format (and the time field), `null` when missing.
    pub output_fields: Map<String, Json>,
}

impl Alert {
    /// Falco's JSON alert: one object, keys in sorted order.
    pub fn to_json(&self, opts: &JsonOptions) -> Json {
        let mut m = Map::new();
        m.insert("hostname".into(), Json::String(self.hostname.to_string()));
        if opts.include_message {
            m.insert("message".into(), Json::String(self.message.clone()));
        }
        if opts.include_output {
            m.insert("output".into(), Json::String(self.output.clone()));
        }
        if opts.include_output_fields {
            m.insert(
                "output_fields".into(),
                Json::Object(self.output_fields.clone()),
            );
        }
        m.insert(
            "priority".into(),
            Json::String(self.priority.as_str().into()),
        );
        m.insert("rule".into(), Json::String(self.rule.to_string()));
        m.insert("source".into(), Json::String(self.source.to_string()));
        // Falco's internal messages (drop alerts) carry no tags key.
        if opts.include_tags && !(self.tags.is_empty() && &*self.source == "internal") {
            m.insert(
                "tags".into(),
                Json::Array(self.tags.iter().map(|t| Json::String(t.clone())).collect()),
            );
        }
        m.insert("time".into(), Json::String(timefmt::rfc3339(self.time_ns)));
        Json::Object(m)
    }

    pub fn to_json_line(&self, opts: &JsonOptions) -> String {
        self.to_json(opts).to_string()
    }

    /// The text line, with control characters escaped as a JSON string encoder would.
    pub fn to_text_line(&self) -> String {
        let quoted = Json::String(self.output.clone()).to_string();
        quoted[1..quoted.len() - 1].to_string()
    }
}
