//! Slack incoming webhooks, as falcosidekick's `slack.go` builds them: one request per alert,
//! an attachment coloured by priority with the output text and/or fields (rule, priority,
//! source, hostname, tags, every string output field sorted by name — `short` when under 36
//! characters — and the time), the footer, and an optional `messageformat` text line.

use crate::client;
use crate::record::{go_json_body, go_time_string, sidekick_fields, Record};
use crate::worker::{Deliver, DeliveryError};
use peregrine_config::{MessageTemplate, SlackOutputFormat, TemplatePart};
use peregrine_rules::Priority;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use std::sync::Arc;

/// The attachment colour of each priority, as falcosidekick picks it.
pub fn color(p: Priority) -> &'static str {
    match p {
        Priority::Emergency | Priority::Error => "#e20b0b",
        Priority::Alert | Priority::Critical => "#ff5400",
        Priority::Warning => "#ffc700",
        Priority::Notice => "#5bffb5",
        Priority::Informational => "#68c2ff",
        Priority::Debug => "#ccfff2",
    }
}

/// What shapes a Slack message.
#[derive(Clone, Debug)]
pub struct SlackFormatting {
    pub channel: String,
    pub username: String,
    pub icon: String,
    pub footer: String,
    pub outputformat: SlackOutputFormat,
    pub messageformat: Option<MessageTemplate>,
    pub customfields: Arc<[(String, String)]>,
}

/// Renders a `messageformat` template for one alert.
pub fn render_template(t: &MessageTemplate, rec: &Record, custom: &[(String, String)]) -> String {
    let a = &rec.alert;
    let mut out = String::new();
    for part in &t.parts {
        match part {
            TemplatePart::Text(s) => out.push_str(s),
            TemplatePart::Rule => out.push_str(&a.rule),
            TemplatePart::Priority => out.push_str(a.priority.as_str()),
            TemplatePart::Output => out.push_str(&a.output),
            TemplatePart::Source => out.push_str(&a.source),
            TemplatePart::Hostname => out.push_str(&a.hostname),
            TemplatePart::Time => out.push_str(&go_time_string(a.time_ns)),
            TemplatePart::Uuid => out.push_str(&rec.uuid),
            TemplatePart::Tags => {
                out.push('[');
                out.push_str(&a.tags.join(" "));
                out.push(']');
            }
            TemplatePart::OutputField(k) => {
                match custom
                    .iter()
                    .find(|(n, _)| n == k)
                    .map(|(_, v)| Json::String(v.clone()))
                    .or_else(|| a.output_fields.get(k).cloned())
                {
                    Some(Json::String(s)) => out.push_str(&s),
                    Some(Json::Null) | None => out.push_str("<no value>"),
                    Some(other) => out.push_str(&other.to_string()),
                }
            }
        }
    }
    out
}

/// falcosidekick's `slackAttachmentField`.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Field {
    pub title: String,
    pub value: String,
    pub short: bool,
}

fn field(title: &str, value: &str, short: bool) -> Field {
    Field {
        title: title.into(),
        value: value.into(),
        short,
    }
}

/// falcosidekick's `slackAttachment`, fields in its order.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Attachment {
    pub fallback: String,
    pub color: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text: String,
    /// `null` when the output format has no fields (Go's nil slice).
    pub fields: Option<Vec<Field>>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub footer: String,
}

/// falcosidekick's `slackPayload`, fields in its order.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Payload {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub username: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub icon_url: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub channel: String,
    pub attachments: Vec<Attachment>,
}

/// The webhook body for one alert.
pub fn payload(rec: &Record, f: &SlackFormatting) -> Payload {
    let a = &rec.alert;
    let with_fields = matches!(
        f.outputformat,
        SlackOutputFormat::All | SlackOutputFormat::Fields
    );
    let with_text = matches!(
        f.outputformat,
        SlackOutputFormat::All | SlackOutputFormat::Text
    );
    let mut fields = None;
    let mut footer = String::new();
    if with_fields {
        let mut list = vec![
            field("rule", &a.rule, true),
            field("priority", a.priority.as_str(), true),
            field("source", &a.source, true),
        ];
        if !a.hostname.is_empty() {
            list.push(field("hostname", &a.hostname, true));
        }
        if !a.tags.is_empty() {
            let mut tags: Vec<&str> = a.tags.iter().map(String::as_str).collect();
            tags.sort_unstable();
            list.push(field("tags", &tags.join(", "), true));
        }
        // serde_json's map is sorted by key: the order falcosidekick sorts them in.
        for (k, v) in sidekick_fields(a, &f.customfields) {
            if let Json::String(s) = v {
                let short = s.chars().count() < 36;
                list.push(field(&k, &s, short));
            }
        }
        list.push(field("time", &go_time_string(a.time_ns), false));
        fields = Some(list);
        footer = f.footer.clone();
    }
    let text = f
        .messageformat
        .as_ref()
        .map(|t| render_template(t, rec, &f.customfields))
        .unwrap_or_default();
    Payload {
        text,
        username: f.username.clone(),
        icon_url: f.icon.clone(),
        channel: f.channel.clone(),
        attachments: vec![Attachment {
            fallback: a.output.clone(),
            color: color(a.priority).into(),
            text: if with_text {
                a.output.clone()
            } else {
                String::new()
            },
            fields,
            footer,
        }],
    }
}

pub struct Slack {
    pub client: awc::Client,
    pub url: String,
    pub formatting: SlackFormatting,
}

impl Deliver for Slack {
    fn per_request(&self) -> Option<usize> {
        Some(1)
    }

    async fn deliver(&mut self, batch: &[Arc<Record>]) -> Result<usize, DeliveryError> {
        let body = go_json_body(&payload(&batch[0], &self.formatting));
        let req = self
            .client
            .post(&self.url)
            .insert_header(("Content-Type", "application/json; charset=utf-8"))
            .insert_header(("User-Agent", "Falcosidekick"));
        client::send(req, body).await?;
        Ok(1)
    }
}
