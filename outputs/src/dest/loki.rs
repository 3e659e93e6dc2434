//! Grafana Loki's push API, with falcosidekick's labels. One request per batch: alerts with
//! the same labels share a stream, in the order they came (falcosidekick sends one stream
//! per request; a batch of one is byte-identical to it).
//!
//! Labels (a JSON object, keys sorted as Go marshals a map): `rule`, `source`, `priority`
//! (capitalised), `k8s_ns_name` and `k8s_pod_name` if those output fields are strings, each
//! custom field and each `extralabels` field whose value is a string (names with `.` → `_`
//! and brackets removed, values with `"` removed), `hostname` if set, `tags` (sorted,
//! comma-joined) if any. Values: `[["<event time, ns>", "<output text or sidekick JSON>"]]`.
//! The body is Go's JSON with a trailing newline, as falcosidekick's client writes it.

use crate::client;
use crate::record::{go_json_body, Record, SidekickEvent};
use crate::worker::{Deliver, DeliveryError};
use peregrine_config::LokiFormat;
use serde::Serialize;
use serde_json::Value as Json;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// What shapes a Loki payload.
#[derive(Clone, Debug)]
pub struct LokiFormatting {
    pub format: LokiFormat,
    pub extralabels: Vec<String>,
    pub customfields: Arc<[(String, String)]>,
}

fn label_name(field: &str) -> String {
    field.replace('.', "_").replace(['[', ']'], "")
}

fn label_value(v: &str) -> String {
    v.replace('"', "")
}

/// The stream labels of one alert, set in falcosidekick's order (later ones win a clash).
pub fn labels(rec: &Record, f: &LokiFormatting) -> BTreeMap<String, String> {
    let a = &rec.alert;
    let mut s = BTreeMap::new();
    s.insert("rule".to_string(), a.rule.to_string());
    s.insert("source".to_string(), a.source.to_string());
    s.insert("priority".to_string(), a.priority.as_str().to_string());
    for (k, label) in [
        ("k8s.ns.name", "k8s_ns_name"),
        ("k8s.pod.name", "k8s_pod_name"),
    ] {
        if let Some(Json::String(v)) = a.output_fields.get(k) {
            s.insert(label.to_string(), v.clone());
        }
    }
    // Custom fields are output fields in falcosidekick; extra labels only if string-valued.
    for (k, v) in f.customfields.iter() {
        s.insert(label_name(k), label_value(v));
    }
    for k in &f.extralabels {
        if f.customfields.iter().any(|(c, _)| c == k) {
            continue;
        }
        if let Some(Json::String(v)) = a.output_fields.get(k) {
            s.insert(label_name(k), label_value(v));
        }
    }
    if !a.hostname.is_empty() {
        s.insert("hostname".to_string(), a.hostname.to_string());
    }
    if !a.tags.is_empty() {
        let mut tags: Vec<&str> = a.tags.iter().map(String::as_str).collect();
        tags.sort_unstable();
        s.insert("tags".to_string(), tags.join(","));
    }
    s
}

/// The log line of one alert.
pub fn line(rec: &Record, f: &LokiFormatting) -> String {
    match f.format {
        LokiFormat::Text => rec.alert.output.clone(),
        LokiFormat::Json => SidekickEvent::new(rec, &f.customfields).to_json(),
    }
}

#[derive(Serialize)]
struct Push<'a> {
    streams: Vec<Stream<'a>>,
}

#[derive(Serialize)]
struct Stream<'a> {
    stream: BTreeMap<String, String>,
    values: Vec<(String, Cow<'a, str>)>,
}

/// The push body for a batch: one stream per label set, in order of first appearance,
/// values in alert order.
pub fn payload(batch: &[Arc<Record>], f: &LokiFormatting) -> Vec<u8> {
    let mut streams: Vec<Stream> = Vec::new();
    let mut index: HashMap<BTreeMap<String, String>, usize> = HashMap::new();
    for rec in batch {
        let l = labels(rec, f);
        let value = (
            rec.alert.time_ns.to_string(),
            match f.format {
                LokiFormat::Text => Cow::Borrowed(rec.alert.output.as_str()),
                LokiFormat::Json => Cow::Owned(line(rec, f)),
            },
        );
        match index.get(&l) {
            Some(&i) => streams[i].values.push(value),
            None => {
                index.insert(l.clone(), streams.len());
                streams.push(Stream {
                    stream: l,
                    values: vec![value],
                });
            }
        }
    }
    go_json_body(&Push { streams })
}

pub struct Loki {
    pub client: awc::Client,
    /// `hostport` + `endpoint`.
    pub url: String,
    pub tenant: String,
    /// Basic auth (user, apikey) when both are set.
    pub auth: Option<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub formatting: LokiFormatting,
}

impl Deliver for Loki {
    async fn deliver(&mut self, batch: &[Arc<Record>]) -> Result<usize, DeliveryError> {
        let body = payload(batch, &self.formatting);
        let mut req = self
            .client
            .post(&self.url)
            .insert_header(("Content-Type", "application/json"))
            .insert_header(("User-Agent", "Falcosidekick"));
        if !self.tenant.is_empty() {
            req = req.insert_header(("X-Scope-OrgID", self.tenant.as_str()));
        }
        if let Some((user, key)) = &self.auth {
            req = req.basic_auth(user, key);
        }
        for (k, v) in &self.headers {
            req = req.insert_header((k.as_str(), v.as_str()));
        }
        client::send(req, body).await?;
        Ok(batch.len())
    }
}
