//! The periodic metrics snapshot (`metrics.interval`): Falco's `Falco internal: metrics
//! snapshot` alert (`metrics.output_rule`) and a JSON line per snapshot
//! (`metrics.output_file`). Made from the Prometheus registry itself, so the snapshot and
//! `/metrics` cannot disagree: `falcosecurity_falco_memory_rss_bytes` becomes
//! `falco.memory_rss_mb`, `falcosecurity_scap_n_evts_total` `scap.n_evts`, Peregrine's
//! `peregrine_stage_events_total{stage="source",outcome="in"}` `peregrine.stage_events.source.in`.

use peregrine_rules::{AlertOptions, Priority};
use serde_json::{Map, Value};
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Falco's rule name for the snapshot alert.
pub const SNAPSHOT_RULE: &str = "Falco internal: metrics snapshot";

/// One sample line of the Prometheus text format.
#[derive(Debug, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

/// Parses the sample lines of the text format (comments skipped; a line it cannot read is
/// skipped too: the text comes from our own exporter).
pub fn parse_text(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(parse_line)
        .collect()
}

fn parse_line(line: &str) -> Option<Sample> {
    let (name_end, mut labels) = match line.find(['{', ' ']) {
        Some(i) if line.as_bytes()[i] == b'{' => (i, Vec::new()),
        Some(i) => (i, Vec::new()),
        None => return None,
    };
    let name = line[..name_end].to_string();
    let mut rest = &line[name_end..];
    if let Some(body) = rest.strip_prefix('{') {
        let mut chars = body.char_indices().peekable();
        let mut key = String::new();
        let end;
        loop {
            let (i, c) = chars.next()?;
            match c {
                '}' => {
                    end = i + 1;
                    break;
                }
                ',' | ' ' => {}
                '=' => {
                    if chars.next()?.1 != '"' {
                        return None;
                    }
                    let mut value = String::new();
                    loop {
                        let (_, c) = chars.next()?;
                        match c {
                            '"' => break,
                            '\\' => match chars.next()?.1 {
                                'n' => value.push('\n'),
                                other => value.push(other),
                            },
                            other => value.push(other),
                        }
                    }
                    labels.push((std::mem::take(&mut key), value));
                }
                other => key.push(other),
            }
        }
        rest = &body[end..];
    }
    let value = rest.split_whitespace().next()?.parse().ok()?;
    Some(Sample {
        name,
        labels,
        value,
    })
}

/// The snapshot key of a sample and the factor its value is scaled by; `None` for series
/// the snapshot leaves out (alert counters, histogram buckets).
fn key(s: &Sample, to_mb: bool) -> Option<(String, f64)> {
    let (prefix, rest) = if let Some(r) = s.name.strip_prefix("falcosecurity_") {
        let (sub, r) = r.split_once('_')?;
        (sub.to_string(), r)
    } else if let Some(r) = s.name.strip_prefix("peregrine_") {
        ("peregrine".to_string(), r)
    } else {
        return None;
    };
    if rest.ends_with("_bucket")
        || rest.starts_with("rules_matches")
        || (prefix == "falcosidekick" && rest.contains("events_total"))
    {
        return None;
    }
    let mut base = rest.strip_suffix("_total").unwrap_or(rest).to_string();
    let mut factor = 1.0;
    if let Some(b) = base.strip_suffix("_ratio") {
        base = format!("{b}_perc");
        factor = 100.0;
    } else if let Some(b) = base.strip_suffix("_bytes").filter(|_| to_mb) {
        base = format!("{b}_mb");
        factor = 1.0 / (1024.0 * 1024.0);
    } else if let Some(b) = base.strip_suffix("_timestamp_nanoseconds") {
        base = format!("{b}_ts");
    }
    // Falco's one special case: scap.n_drops_buffer_<drop>_<dir>.
    if base == "n_drops_buffer" {
        let get = |k: &str| {
            s.labels
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
        };
        return Some((
            format!("{prefix}.n_drops_buffer_{}_{}", get("drop")?, get("dir")?),
            factor,
        ));
    }
    let mut key = format!("{prefix}.{base}");
    for (_, v) in &s.labels {
        key.push('.');
        key.push_str(v);
    }
    Some((key, factor))
}

/// The snapshot's fields from the registry's text: numbers, and `_info` series as their
/// label values (`falco.version`, `falco.sha256_rules_files.<file>`).
pub fn fields(text: &str, to_mb: bool, include_empty: bool) -> Map<String, Value> {
    let mut out = Map::new();
    for s in parse_text(text) {
        if let Some(info) = s.name.strip_suffix("_info") {
            let Some((k, _)) = key(
                &Sample {
                    name: info.to_string(),
                    labels: Vec::new(),
                    value: 0.0,
                },
                false,
            ) else {
                continue;
            };
            match s.labels.as_slice() {
                [(_, v)] => {
                    out.insert(k, v.clone().into());
                }
                [(_, file), (_, sha)] => {
                    let file: String = file
                        .chars()
                        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                        .collect();
                    out.insert(format!("{k}.{file}"), sha.clone().into());
                }
                _ => {
                    let joined: Vec<&str> = s.labels.iter().map(|(_, v)| v.as_str()).collect();
                    out.insert(k, joined.join(",").into());
                }
            }
            continue;
        }
        let Some((k, factor)) = key(&s, to_mb) else {
            continue;
        };
        if s.value == 0.0 && !include_empty {
            continue;
        }
        let v = s.value * factor;
        let v = if v.fract() == 0.0 && v.abs() < 9e15 {
            Value::from(v as i64)
        } else {
            serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
        };
        out.insert(k, v);
    }
    out
}

/// Takes a snapshot every `metrics.interval` and sends it where the config says.
pub struct Snapshots {
    handle: metrics_exporter_prometheus::PrometheusHandle,
    every: Duration,
    last: Instant,
    previous: Option<(Instant, f64, f64)>,
    to_rule: bool,
    file: Option<PathBuf>,
    to_mb: bool,
    include_empty: bool,
    alert: AlertOptions,
    outputs: peregrine_outputs::Outputs,
}

impl Snapshots {
    /// `None` unless the config asks for snapshots (`metrics.enabled` and `output_rule` or
    /// `output_file`).
    pub fn new(
        cfg: &peregrine_config::Metrics,
        handle: metrics_exporter_prometheus::PrometheusHandle,
        alert: AlertOptions,
        outputs: peregrine_outputs::Outputs,
    ) -> Option<Snapshots> {
        (cfg.enabled && (cfg.output_rule || cfg.output_file.is_some())).then(|| Snapshots {
            handle,
            every: cfg.interval,
            last: Instant::now(),
            previous: None,
            to_rule: cfg.output_rule,
            file: cfg.output_file.clone(),
            to_mb: cfg.convert_memory_to_mb,
            include_empty: cfg.include_empty_values,
            alert,
            outputs,
        })
    }

    /// Takes and sends a snapshot when one is due.
    pub fn tick(&mut self) {
        if self.last.elapsed() >= self.every {
            self.last = Instant::now();
            self.take();
        }
    }

    fn take(&mut self) {
        super::falco::refresh_before_read();
        let mut f = fields(&self.handle.render(), self.to_mb, self.include_empty);
        let num = |f: &Map<String, Value>, k: &str| f.get(k).and_then(Value::as_f64).unwrap_or(0.0);
        let (evts, drops) = (num(&f, "scap.n_evts"), num(&f, "scap.n_drops"));
        let now = Instant::now();
        if let Some((then, e0, d0)) = self.previous {
            let secs = now.duration_since(then).as_secs_f64().max(1e-3);
            let de = (evts - e0).max(0.0);
            f.insert("scap.evts_rate_sec".into(), rounded(de / secs));
            f.insert("falco.evts_rate_sec".into(), rounded(de / secs));
            let perc = if de > 0.0 {
                (drops - d0).max(0.0) / de * 100.0
            } else {
                0.0
            };
            f.insert("scap.n_drops_perc".into(), rounded(perc));
        }
        self.previous = Some((now, evts, drops));
        let alert = crate::kernel_drops::internal_alert(
            &self.alert,
            SNAPSHOT_RULE,
            Priority::Informational,
            "Falco metrics snapshot".into(),
            f,
        );
        if let Some(path) = &self.file {
            let line = serde_json::json!({
                "hostname": &*alert.hostname,
                "output_fields": &alert.output_fields,
                "rule": SNAPSHOT_RULE,
                "time": peregrine_rules::timefmt::iso8601(alert.time_ns),
            });
            let written = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .and_then(|mut file| writeln!(file, "{line}"));
            if let Err(e) = written {
                tracing::warn!("metrics.output_file {}: {e}", path.display());
            }
        }
        if self.to_rule {
            self.outputs.offer(vec![alert]);
        }
    }
}

fn rounded(v: f64) -> Value {
    serde_json::Number::from_f64((v * 100.0).round() / 100.0).map_or(Value::Null, Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# HELP falcosecurity_scap_n_evts_total https://falco.org/docs/metrics/
# TYPE falcosecurity_scap_n_evts_total counter
falcosecurity_scap_n_evts_total 1200
falcosecurity_scap_n_drops_total 0
falcosecurity_scap_n_drops_buffer_total{dir="exit",drop="open"} 3
falcosecurity_falco_memory_rss_bytes 52428800
falcosecurity_falco_cpu_usage_ratio 0.025
falcosecurity_falco_version_info{version="0.1.0"} 1
falcosecurity_falco_sha256_rules_files_info{file_name="/etc/falco/falco_rules.yaml",sha256="ab12"} 1
falcosecurity_falco_start_timestamp_nanoseconds 1.7e18
peregrine_stage_events_total{stage="source",outcome="in"} 42
falco_events_total{rule="r",priority="warning",source="syscall",container_name="host"} 1
falco_duration_seconds_bucket{le="0.001"} 5
peregrine_enrich_container_lookup_seconds_bucket{le="0.5"} 1
"#;

    #[test]
    fn samples_parse_with_labels_and_escapes() {
        let s = parse_text("m{a=\"x\\\"y\",b=\"\"} 2.5\nplain 7\n");
        assert_eq!(
            s[0].labels,
            vec![("a".into(), "x\"y".into()), ("b".into(), "".into())]
        );
        assert_eq!(s[0].value, 2.5);
        assert_eq!(s[1].name, "plain");
    }

    #[test]
    fn registry_text_becomes_falco_snapshot_fields() {
        let f = fields(TEXT, true, false);
        assert_eq!(f["scap.n_evts"], 1200);
        assert!(!f.contains_key("scap.n_drops"), "zero left out: {f:?}");
        assert_eq!(f["scap.n_drops_buffer_open_exit"], 3);
        assert_eq!(f["falco.memory_rss_mb"], 50);
        assert_eq!(f["falco.cpu_usage_perc"], 2.5);
        assert_eq!(f["falco.version"], "0.1.0");
        assert_eq!(
            f["falco.sha256_rules_files._etc_falco_falco_rules_yaml"],
            "ab12"
        );
        assert!(f.contains_key("falco.start_ts"));
        assert_eq!(f["peregrine.stage_events.source.in"], 42);
        assert!(f
            .keys()
            .all(|k| !k.contains("bucket") && !k.starts_with("falco_events")));
        let with_zeros = fields(TEXT, false, true);
        assert_eq!(with_zeros["scap.n_drops"], 0);
        assert_eq!(with_zeros["falco.memory_rss_bytes"], 52428800);
    }
}
