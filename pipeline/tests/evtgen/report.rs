//! Checking a case's alerts against its expected outcome; the results table and JSON.

use super::plan::{Expected, CASE_ENV};
use serde_json::{json, Value};
use std::path::Path;

/// The key the marker has in an alert's `output_fields`.
pub fn marker_key() -> String {
    format!("proc.env[{CASE_ENV}]")
}

fn field_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "<NA>".into(),
        other => other.to_string(),
    }
}

fn priority_eq(expected: &str, got: &str) -> bool {
    let norm = |p: &str| match p.to_ascii_lowercase().as_str() {
        "info" => "informational".to_string(),
        "warn" => "warning".to_string(),
        "emerg" => "emergency".to_string(),
        "crit" => "critical".to_string(),
        other => other.to_string(),
    };
    norm(expected) == norm(got)
}

/// Ok when one of `alerts` (this case's own) is the expected rule with the expected
/// priority and every expected field; otherwise what was seen instead.
pub fn check(expected: &Expected, alerts: &[&Value]) -> Result<(), String> {
    let of_rule: Vec<&&Value> = alerts
        .iter()
        .filter(|a| a["rule"].as_str() == Some(expected.rule.as_str()))
        .collect();
    if of_rule.is_empty() {
        let rules: Vec<&str> = alerts.iter().filter_map(|a| a["rule"].as_str()).collect();
        return Err(if rules.is_empty() {
            "no alert for this case".to_string()
        } else {
            format!(
                "no alert of the rule; this case's alerts: {}",
                rules.join(", ")
            )
        });
    }
    let mut misses = Vec::new();
    for a in &of_rule {
        let mut diffs = Vec::new();
        let got_prio = a["priority"].as_str().unwrap_or_default();
        if !priority_eq(&expected.priority, got_prio) {
            diffs.push(format!(
                "priority: want {} got {got_prio}",
                expected.priority
            ));
        }
        for (k, want) in &expected.fields {
            let got = a["output_fields"]
                .get(k)
                .map(field_text)
                .unwrap_or_else(|| "(not in output_fields)".into());
            if &got != want {
                diffs.push(format!("{k}: want {want:?} got {got:?}"));
            }
        }
        if diffs.is_empty() {
            return Ok(());
        }
        misses.push(diffs.join("; "));
    }
    Err(format!("rule fired but: {}", misses.join(" | ")))
}

pub struct Row {
    pub name: String,
    pub file: String,
    pub rule: String,
    pub status: &'static str,
    pub reason: String,
}

pub fn write_json(path: &Path, rows: &[Row]) {
    let v: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({"name": r.name, "file": r.file, "rule": r.rule,
                   "status": r.status, "reason": r.reason})
        })
        .collect();
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    std::fs::write(path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
}

pub fn table(rows: &[&Row]) -> String {
    let mut out = String::new();
    for r in rows {
        out.push_str(&format!(
            "  {:<70} [{}] {}\n      {}\n",
            r.name, r.rule, r.status, r.reason
        ));
    }
    out
}
