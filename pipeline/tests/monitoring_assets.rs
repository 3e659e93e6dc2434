//! The monitoring assets in `deploy/` (issue 17): the Grafana dashboard and the Prometheus
//! alerting rules only use metric families of the agent's catalog
//! (`peregrine::telemetry::catalog`) with the labels the catalog lists for them, plus the
//! target labels Prometheus adds; the dashboard's variables are defined; and `promtool`
//! accepts the rules and passes their unit tests.

use peregrine::telemetry::catalog;
use saphyr::{LoadableYamlNode, Yaml};
use serde_json::Value;
use std::collections::{BTreeSet, HashSet};
use std::path::PathBuf;
use std::process::Command;

/// Labels every series has besides its family's own: the ServiceMonitor's `node`,
/// Prometheus' `namespace`, `instance` and `job`, and a histogram's `le`.
const TARGET_LABELS: &[&str] = &["node", "namespace", "instance", "job", "le"];

/// The seed dashboard's two panels, which the dashboard keeps.
const SEED_QUERIES: &[&str] = &[
    "sum(rate(falco_events_total[5m])) by (priority)",
    "topk(10, sum by (container_name) (rate(falco_events_total[5m])))",
];

const AGGREGATIONS: &[&str] = &[
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
];

const FUNCTIONS: &[&str] = &[
    "abs",
    "absent",
    "absent_over_time",
    "acos",
    "acosh",
    "asin",
    "asinh",
    "atan",
    "atanh",
    "avg_over_time",
    "ceil",
    "changes",
    "clamp",
    "clamp_max",
    "clamp_min",
    "cos",
    "cosh",
    "count_over_time",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "days_in_month",
    "deg",
    "delta",
    "deriv",
    "end",
    "exp",
    "floor",
    "group_over_time",
    "histogram_avg",
    "histogram_count",
    "histogram_fraction",
    "histogram_quantile",
    "histogram_stddev",
    "histogram_stdvar",
    "histogram_sum",
    "holt_winters",
    "hour",
    "idelta",
    "increase",
    "irate",
    "label_join",
    "label_replace",
    "last_over_time",
    "ln",
    "log10",
    "log2",
    "mad_over_time",
    "max_over_time",
    "min_over_time",
    "minute",
    "month",
    "pi",
    "predict_linear",
    "present_over_time",
    "quantile_over_time",
    "rad",
    "rate",
    "resets",
    "round",
    "scalar",
    "sgn",
    "sin",
    "sinh",
    "sort",
    "sort_by_label",
    "sort_by_label_desc",
    "sort_desc",
    "sqrt",
    "start",
    "stddev_over_time",
    "stdvar_over_time",
    "sum_over_time",
    "tan",
    "tanh",
    "time",
    "timestamp",
    "vector",
    "year",
];

/// Keywords that are neither functions nor metric names (compared in lower case).
const KEYWORDS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "offset",
    "and",
    "or",
    "unless",
    "atan2",
    "inf",
    "nan",
];

/// Grafana's built-in variables, which no dashboard defines.
const GRAFANA_BUILTINS: &[&str] = &[
    "__interval",
    "__interval_ms",
    "__rate_interval",
    "__range",
    "__range_s",
    "__range_ms",
    "__from",
    "__to",
    "__dashboard",
    "__name",
    "__org",
    "__user",
];

fn deploy() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

fn read(path: &PathBuf) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

// ---------------------------------------------------------------------------------------
// A PromQL tokenizer, just enough to tell metric names from everything else.

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Str,
    /// A number or a duration (`5m`, `0.99`, `1e3`).
    Num,
    /// A Grafana variable (`$node`, `${node}`) outside a string.
    Var,
    Punct(char),
}

fn tokenize(expr: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '#' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '"' || c == '\'' || c == '`' {
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(format!("unterminated string in `{expr}`")),
                    Some('\\') if c != '`' => i += 2,
                    Some(&d) if d == c => break,
                    Some(_) => i += 1,
                }
            }
            i += 1;
            out.push(Tok::Str);
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
            out.push(Tok::Num);
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
            {
                i += 1;
            }
            out.push(Tok::Ident(chars[start..i].iter().collect()));
        } else if c == '$' {
            i += 1;
            if chars.get(i) == Some(&'{') {
                while i < chars.len() && chars[i] != '}' {
                    i += 1;
                }
                i += 1;
            } else {
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
            }
            out.push(Tok::Var);
        } else {
            out.push(Tok::Punct(c));
            i += 1;
        }
    }
    Ok(out)
}

fn ident(toks: &[Tok], i: usize) -> Option<&str> {
    match toks.get(i) {
        Some(Tok::Ident(s)) => Some(s),
        _ => None,
    }
}

fn is_punct(toks: &[Tok], i: usize, c: char) -> bool {
    toks.get(i) == Some(&Tok::Punct(c))
}

/// The index of the bracket closing the one at `open` (or opening the one at `close`,
/// searching backwards).
fn matching(toks: &[Tok], at: usize, forward: bool) -> Option<usize> {
    let (open, close) = if forward { ('(', ')') } else { (')', '(') };
    let mut depth = 0usize;
    let mut i = at;
    loop {
        if is_punct(toks, i, open) {
            depth += 1;
        } else if is_punct(toks, i, close) {
            depth -= 1;
            if depth == 0 {
                return Some(i);
            }
        }
        if forward {
            i += 1;
            if i >= toks.len() {
                return None;
            }
        } else {
            i = i.checked_sub(1)?;
        }
    }
}

/// The identifiers of a parenthesised label list starting at `open`, and the index of its
/// closing bracket.
fn label_list(toks: &[Tok], open: usize) -> Result<(Vec<String>, usize), String> {
    let close = matching(toks, open, true).ok_or("unbalanced label list")?;
    let mut labels = Vec::new();
    for t in &toks[open + 1..close] {
        match t {
            Tok::Ident(l) => labels.push(l.clone()),
            Tok::Punct(',') => {}
            other => return Err(format!("unexpected {other:?} in a label list")),
        }
    }
    Ok((labels, close))
}

/// What one expression uses: metric names (with their token index), and every problem
/// found: names not in the catalog, labels their families do not have, unknown functions.
#[derive(Debug, Default)]
struct Usage {
    metrics: Vec<String>,
    problems: Vec<String>,
}

fn allowed_labels(metrics: &[&catalog::Metric]) -> BTreeSet<&'static str> {
    metrics
        .iter()
        .flat_map(|m| m.labels.iter().copied())
        .chain(TARGET_LABELS.iter().copied())
        .collect()
}

fn check_expr(expr: &str) -> Usage {
    let mut usage = Usage::default();
    let toks = match tokenize(expr) {
        Ok(t) => t,
        Err(e) => {
            usage.problems.push(e);
            return usage;
        }
    };
    // (token index, family) of every metric name.
    let mut found: Vec<(usize, &'static catalog::Metric)> = Vec::new();
    // (keyword, labels, first and last token of the expression they apply to).
    let mut groupings: Vec<(String, Vec<String>, usize, usize)> = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        match &toks[i] {
            Tok::Punct('{') => {
                let Some(close) = (i..toks.len()).find(|&j| is_punct(&toks, j, '}')) else {
                    usage
                        .problems
                        .push(format!("unbalanced braces in `{expr}`"));
                    return usage;
                };
                let family = found.last().filter(|(at, _)| at + 1 == i).map(|(_, m)| *m);
                let names = toks[i + 1..close].iter().filter_map(|t| match t {
                    Tok::Ident(l) => Some(l.as_str()),
                    _ => None,
                });
                match family {
                    None if i > 0 && ident(&toks, i - 1).is_some() => {} // unknown name, reported
                    None => usage.problems.push(format!(
                        "a selector without a catalog metric name in `{expr}`"
                    )),
                    Some(m) => {
                        let allowed = allowed_labels(&[m]);
                        for l in names.filter(|l| !allowed.contains(l)) {
                            usage.problems.push(format!(
                                "label `{l}` is not a label of {} (allowed: {allowed:?})",
                                m.name
                            ));
                        }
                    }
                }
                i = close + 1;
            }
            Tok::Ident(name) => {
                let lower = name.to_ascii_lowercase();
                let call = is_punct(&toks, i + 1, '(');
                if matches!(
                    lower.as_str(),
                    "by" | "without" | "on" | "ignoring" | "group_left" | "group_right"
                ) {
                    if !call {
                        if lower.starts_with("group_") {
                            i += 1;
                            continue;
                        }
                        usage
                            .problems
                            .push(format!("`{name}` without labels in `{expr}`"));
                        return usage;
                    }
                    let (labels, close) = match label_list(&toks, i + 1) {
                        Ok(l) => l,
                        Err(e) => {
                            usage.problems.push(format!("{e} in `{expr}`"));
                            return usage;
                        }
                    };
                    // The aggregation's argument: `agg by (..) (arg)` or `agg (arg) by (..)`.
                    let scope = if lower == "by" || lower == "without" {
                        let after = ident(&toks, i.wrapping_sub(1)).is_some_and(|p| {
                            AGGREGATIONS.contains(&p.to_ascii_lowercase().as_str())
                        });
                        if after {
                            matching(&toks, close + 1, true).map(|end| (close + 1, end))
                        } else if i > 0 && is_punct(&toks, i - 1, ')') {
                            matching(&toks, i - 1, false).map(|start| (start, i - 1))
                        } else {
                            None
                        }
                    } else {
                        Some((0, toks.len()))
                    };
                    let Some((start, end)) = scope else {
                        usage.problems.push(format!(
                            "`{name}` not attached to an aggregation in `{expr}`"
                        ));
                        return usage;
                    };
                    groupings.push((lower, labels, start, end));
                    i = close + 1;
                    continue;
                }
                if KEYWORDS.contains(&lower.as_str()) {
                    // `bool`, `offset`, set operators, `atan2`, `Inf`, `NaN`.
                } else if call {
                    if !FUNCTIONS.contains(&name.as_str())
                        && !AGGREGATIONS.contains(&lower.as_str())
                    {
                        usage
                            .problems
                            .push(format!("unknown function `{name}` in `{expr}`"));
                    }
                } else if AGGREGATIONS.contains(&lower.as_str())
                    && matches!(ident(&toks, i + 1), Some("by" | "without"))
                {
                    // `sum by (..) (..)`
                } else {
                    usage.metrics.push(name.clone());
                    match catalog::find(name) {
                        Some(m) => found.push((i, m)),
                        None => usage.problems.push(format!(
                            "metric `{name}` is not in the catalog (in `{expr}`)"
                        )),
                    }
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    for (keyword, labels, start, end) in groupings {
        let inside: Vec<&catalog::Metric> = found
            .iter()
            .filter(|(at, _)| (start..=end).contains(at))
            .map(|(_, m)| *m)
            .collect();
        if inside.is_empty() {
            continue; // an unknown name, reported above
        }
        let allowed = allowed_labels(&inside);
        for l in labels.iter().filter(|l| !allowed.contains(l.as_str())) {
            let names: Vec<&str> = inside.iter().map(|m| m.name).collect();
            usage.problems.push(format!(
                "`{keyword}` label `{l}` is not a label of {names:?} (in `{expr}`)"
            ));
        }
    }
    usage
}

// ---------------------------------------------------------------------------------------
// The dashboard.

fn dashboard() -> Value {
    let path = deploy().join("grafana/peregrine.json");
    serde_json::from_str(&read(&path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every panel, those nested in rows included.
fn panels(v: &Value, out: &mut Vec<Value>) {
    for p in v["panels"].as_array().into_iter().flatten() {
        out.push(p.clone());
        panels(p, out);
    }
}

/// The names of the Grafana variables used in a text: `$name`, `${name}`, `${name:fmt}`,
/// `[[name]]`.
fn variables_in(text: &str, out: &mut BTreeSet<String>) {
    let word = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        rest = &rest[at + 1..];
        let name = match rest.strip_prefix('{') {
            Some(inner) => word(inner),
            None => word(rest),
        };
        if !name.is_empty() {
            out.insert(name);
        }
    }
    let mut rest = text;
    while let Some(at) = rest.find("[[") {
        rest = &rest[at + 2..];
        out.insert(word(rest));
    }
}

fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

/// `sum(rate(x{a="b"}[5m])) by (c)` -> `sum(rate(x[5m]))by(c)`.
fn normalized(expr: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    for c in expr.chars().filter(|c| !c.is_whitespace()) {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// Every problem of the dashboard, as text.
fn dashboard_problems(dash: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let ds = serde_json::json!({"type": "prometheus", "uid": "${datasource}"});

    if dash["uid"] != "peregrine" || dash["title"] != "Peregrine" {
        problems.push(format!(
            "uid/title are {}/{}, not peregrine/Peregrine",
            dash["uid"], dash["title"]
        ));
    }
    if dash["schemaVersion"].as_u64().unwrap_or(0) < 39 {
        problems.push(format!("schemaVersion {} < 39", dash["schemaVersion"]));
    }

    // Variables.
    let vars = dash["templating"]["list"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let defined: HashSet<&str> = vars.iter().filter_map(|v| v["name"].as_str()).collect();
    let var = |name: &str| vars.iter().find(|v| v["name"] == name);
    match var("datasource") {
        Some(v) if v["type"] == "datasource" && v["query"] == "prometheus" => {}
        other => problems.push(format!("no prometheus datasource variable: {other:?}")),
    }
    for (name, query) in [
        (
            "node",
            "label_values(falcosecurity_evt_hostname_info, node)",
        ),
        (
            "namespace",
            "label_values(falcosecurity_falco_version_info, namespace)",
        ),
    ] {
        let Some(v) = var(name) else {
            problems.push(format!("variable `{name}` is not defined"));
            continue;
        };
        let q = v["query"]["query"]
            .as_str()
            .or(v["query"].as_str())
            .unwrap_or("");
        if q != query
            || v["type"] != "query"
            || v["multi"] != true
            || v["includeAll"] != true
            || v["allValue"] != ".*"
            || v["datasource"] != ds
        {
            problems.push(format!(
                "variable `{name}` must be a multi/all query variable on ${{datasource}} with `{query}` and allValue .*: {v}"
            ));
        }
    }
    for v in &vars {
        let q = v["query"]["query"]
            .as_str()
            .or(v["query"].as_str())
            .unwrap_or("");
        if let Some(args) = q
            .strip_prefix("label_values(")
            .and_then(|a| a.strip_suffix(')'))
        {
            let (metric, label) = args.split_once(',').unwrap_or(("", args));
            let (metric, label) = (metric.trim(), label.trim());
            match catalog::find(metric) {
                Some(m) if allowed_labels(&[m]).contains(label) => {}
                Some(m) => problems.push(format!(
                    "variable query `{q}`: `{label}` is not a label of {}",
                    m.name
                )),
                None => problems.push(format!(
                    "variable query `{q}`: `{metric}` is not in the catalog"
                )),
            }
        }
    }
    let mut used = BTreeSet::new();
    let mut texts = Vec::new();
    strings(dash, &mut texts);
    for t in &texts {
        variables_in(t, &mut used);
    }
    for v in used {
        if !defined.contains(v.as_str()) && !GRAFANA_BUILTINS.contains(&v.as_str()) {
            problems.push(format!("variable `${v}` is used but not defined"));
        }
    }

    // Panels.
    let mut all = Vec::new();
    panels(dash, &mut all);
    if all.is_empty() {
        problems.push("no panels".into());
    }
    let mut ids = HashSet::new();
    let mut exprs = Vec::new();
    for p in &all {
        let title = p["title"].as_str().unwrap_or("<untitled>");
        match p["id"].as_u64() {
            Some(id) if ids.insert(id) => {}
            id => problems.push(format!("panel `{title}`: id {id:?} missing or not unique")),
        }
        let g = &p["gridPos"];
        if !["h", "w", "x", "y"].iter().all(|k| g[k].is_u64()) {
            problems.push(format!("panel `{title}`: no gridPos"));
        }
        let kind = p["type"].as_str().unwrap_or("");
        if kind == "row" {
            continue;
        }
        if !["timeseries", "stat", "table", "bargauge"].contains(&kind) {
            problems.push(format!("panel `{title}`: type `{kind}`"));
        }
        if p["datasource"] != ds {
            problems.push(format!("panel `{title}`: datasource {}", p["datasource"]));
        }
        let targets = p["targets"].as_array().cloned().unwrap_or_default();
        let mut with_expr = 0;
        for t in &targets {
            if t["datasource"] != ds {
                problems.push(format!(
                    "panel `{title}`: target datasource {}",
                    t["datasource"]
                ));
            }
            let Some(expr) = t["expr"].as_str().filter(|e| !e.trim().is_empty()) else {
                continue;
            };
            with_expr += 1;
            exprs.push(expr.to_string());
            let usage = check_expr(expr);
            if usage.metrics.is_empty() {
                problems.push(format!("panel `{title}`: no metric in `{expr}`"));
            }
            problems.extend(
                usage
                    .problems
                    .into_iter()
                    .map(|e| format!("panel `{title}`: {e}")),
            );
        }
        if with_expr == 0 {
            problems.push(format!("panel `{title}`: no target with an expr"));
        }
    }
    let have: HashSet<String> = exprs.iter().map(|e| normalized(e)).collect();
    for seed in SEED_QUERIES {
        if !have.contains(&normalized(seed)) {
            problems.push(format!("the seed's query `{seed}` is not on the dashboard"));
        }
    }
    problems
}

#[test]
fn dashboard_uses_only_catalog_metrics_and_defined_variables() {
    let problems = dashboard_problems(&dashboard());
    assert!(
        problems.is_empty(),
        "deploy/grafana/peregrine.json:\n  {}",
        problems.join("\n  ")
    );
}

/// The checks above catch what they are meant to catch.
#[test]
fn the_checks_catch_mistakes() {
    let good = [
        "sum(rate(falco_events_total[5m])) by (priority)",
        r#"histogram_quantile(0.99, sum(rate(falco_duration_seconds_bucket{node=~"$node"}[5m])) by (le))"#,
        r#"max by (node, queue) (peregrine_queue_depth_batches{namespace=~"$namespace"}) / max by (node, queue) (peregrine_queue_capacity_batches)"#,
        r#"sum by (node) (rate(peregrine_enrich_fd_cache_hits_total[5m])) and on (node) sum by (node) (rate(falcosecurity_scap_n_evts_total[1h:1m] offset 5m)) > bool 0"#,
    ];
    for e in good {
        let u = check_expr(e);
        assert!(u.problems.is_empty(), "{e}: {:?}", u.problems);
        assert!(!u.metrics.is_empty(), "{e}");
    }
    let bad = [
        "sum(rate(falco_event_total[5m])) by (priority)",
        "sum(rate(falco_events_total[5m])) by (destination)",
        "sum by (destination) (rate(falco_events_total[5m]))",
        r#"rate(falco_events_total{pod="x"}[5m])"#,
        "rat(falco_events_total[5m])",
        r#"{__name__="falco_events_total"}"#,
        "peregrine_enrich_fd_cache_hit_total",
        "sum(falco_duration_seconds_bucket) by (le) / sum(falcosecurity_scap_n_drops_buffer_total) by (priority)",
    ];
    for e in bad {
        assert!(!check_expr(e).problems.is_empty(), "{e} passed the check");
    }

    let mut dash = dashboard();
    dash["panels"][1]["targets"][0]["expr"] =
        Value::from("rate(falco_events_total{node=~\"$nodes\"}[5m])");
    let problems = dashboard_problems(&dash);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("`$nodes` is used but not defined")),
        "{problems:?}"
    );
    let mut dash = dashboard();
    dash["templating"]["list"]
        .as_array_mut()
        .unwrap()
        .retain(|v| v["name"] != "namespace");
    assert!(!dashboard_problems(&dash).is_empty());
}

// ---------------------------------------------------------------------------------------
// The alerting rules.

fn rules_file() -> PathBuf {
    deploy().join("prometheus/peregrine-rules.yaml")
}

/// `node[key]` of a mapping, `None` when either is missing.
fn get<'a>(node: Option<&'a Yaml<'a>>, key: &str) -> Option<&'a Yaml<'a>> {
    node?.as_mapping_get(key)
}

fn text<'a>(node: Option<&'a Yaml<'a>>, key: &str) -> Option<&'a str> {
    get(node, key)?.as_str()
}

#[test]
fn alerting_rules_use_only_catalog_metrics() {
    let path = rules_file();
    let source = read(&path);
    let docs = Yaml::load_from_str(&source).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut problems = Vec::new();
    let mut alerts = BTreeSet::new();
    let groups = get(docs.first(), "groups")
        .and_then(|g| g.as_vec())
        .expect("groups: a list");
    for group in groups {
        let rules = get(Some(group), "rules")
            .and_then(|r| r.as_vec())
            .expect("rules: a list");
        for rule in rules {
            let rule = Some(rule);
            let alert = text(rule, "alert");
            let name = alert.or(text(rule, "record")).unwrap_or("<unnamed>");
            let Some(expr) = text(rule, "expr") else {
                problems.push(format!("{name}: no expr"));
                continue;
            };
            let usage = check_expr(expr);
            if usage.metrics.is_empty() {
                problems.push(format!("{name}: no metric in `{expr}`"));
            }
            problems.extend(usage.problems.into_iter().map(|e| format!("{name}: {e}")));
            if alert.is_none() {
                continue;
            }
            alerts.insert(name.to_string());
            if text(rule, "for").is_none() {
                problems.push(format!("{name}: no `for`"));
            }
            if text(get(rule, "labels"), "severity").is_none() {
                problems.push(format!("{name}: no severity label"));
            }
            for a in ["summary", "description"] {
                let t = text(get(rule, "annotations"), a).unwrap_or("");
                if !t.contains("$labels.node") {
                    problems.push(format!("{name}: annotation {a} does not name the node"));
                }
            }
        }
    }
    for want in [
        "PeregrineKernelDrops",
        "PeregrinePipelineDrops",
        "PeregrineStageStalled",
        "PeregrineOutputFailing",
        "PeregrineNoEvents",
        "PeregrineRulesReloadFailing",
    ] {
        if !alerts.contains(want) {
            problems.push(format!("alert {want} is missing"));
        }
    }
    assert!(
        problems.is_empty(),
        "{}:\n  {}",
        path.display(),
        problems.join("\n  ")
    );
}

/// `promtool check rules` and `promtool test rules` (the unit tests in
/// `peregrine-rules.test.yaml`) pass. Skipped without promtool, unless
/// `PEREGRINE_REQUIRE_PRIVILEGED=1`.
#[test]
fn promtool_checks_and_tests_the_rules() {
    if let Err(e) = Command::new("promtool").arg("--version").output() {
        let why = format!("promtool is not available ({e}); install Prometheus' promtool");
        if std::env::var("PEREGRINE_REQUIRE_PRIVILEGED").as_deref() == Ok("1") {
            panic!("{why} and PEREGRINE_REQUIRE_PRIVILEGED=1");
        }
        eprintln!("skipping promtool_checks_and_tests_the_rules: {why}");
        return;
    }
    let dir = deploy().join("prometheus");
    for args in [
        ["check", "rules", "peregrine-rules.yaml"],
        ["test", "rules", "peregrine-rules.test.yaml"],
    ] {
        let out = Command::new("promtool")
            .args(args)
            .current_dir(&dir)
            .output()
            .expect("run promtool");
        assert!(
            out.status.success(),
            "promtool {} failed ({}):\n{}{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
