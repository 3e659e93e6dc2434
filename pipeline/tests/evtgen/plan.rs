//! A suite case turned into the performer's plan (`src/bin/evtgen/plan.rs`), plus what the
//! runner needs around it: container or host, expected outcome, paths it mutates.

use serde_json::{json, Map, Value};
use std::collections::BTreeSet;
use std::path::Path;

/// The marker every process of a case carries; the agent reads it back from the alert.
pub const CASE_ENV: &str = "PEREGRINE_EVTGEN_CASE";

#[derive(Debug, Clone)]
pub struct Expected {
    pub rule: String,
    pub priority: String,
    /// field → value, as text.
    pub fields: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct Prepared {
    /// The plan, without `workdir` (the runner sets it per host/container).
    pub plan: Map<String, Value>,
    pub container: bool,
    pub expected: Expected,
    /// Host paths the case creates, truncates or links: cases sharing one run one at a time.
    pub keys: BTreeSet<String>,
    /// Links the steps leave behind (the suite only removes them in `before`): removed after
    /// the run, so no hard link to /etc/shadow stays on the host.
    pub leftovers: BTreeSet<String>,
    pub sleeps: bool,
}

/// The event-generator's `splitArgs`: space-separated, quotes group words.
pub fn split_args(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        if c == '"' || c == '\'' {
            chars.next();
            let word: String = chars.by_ref().take_while(|&x| x != c).collect();
            if !word.is_empty() {
                out.push(word);
            }
            continue;
        }
        let mut word = String::new();
        while let Some(&x) = chars.peek() {
            if x.is_whitespace() {
                break;
            }
            word.push(x);
            chars.next();
        }
        out.push(word);
    }
    out
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn keys_only(obj: &Map<String, Value>, allowed: &[&str], what: &str) -> Result<(), String> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(format!("{what}: unsupported key {k:?}")),
        None => Ok(()),
    }
}

fn process(p: &Value) -> Result<Value, String> {
    let obj = p.as_object().ok_or("a process must be a mapping")?;
    keys_only(
        obj,
        &["name", "exe", "args", "user", "env"],
        "context.processes[]",
    )?;
    let mut out = Map::new();
    for k in ["name", "exe", "user"] {
        if let Some(v) = obj.get(k).filter(|v| !v.is_null()) {
            out.insert(k.into(), Value::String(text(v)));
        }
    }
    if let Some(a) = obj.get("args").filter(|v| !v.is_null()) {
        out.insert("args".into(), json!(split_args(&text(a))));
    }
    if let Some(Value::Object(env)) = obj.get("env") {
        let env: Map<String, Value> = env
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(text(v))))
            .collect();
        out.insert("env".into(), Value::Object(env));
    }
    Ok(Value::Object(out))
}

fn resource(
    r: &Value,
    keys: &mut BTreeSet<String>,
    netns: &mut Vec<String>,
) -> Result<Value, String> {
    let obj = r.as_object().ok_or("a resource must be a mapping")?;
    let name = text(&obj["name"]);
    match obj.get("type").and_then(Value::as_str) {
        Some("fd") => {
            let (kind, path) = match obj.get("subtype").and_then(Value::as_str) {
                Some("file") => ("file", text(&obj["filePath"])),
                Some("directory") => ("directory", text(&obj["dirPath"])),
                other => return Err(format!("fd resource subtype {other:?} is not supported")),
            };
            // A missing file and its missing parents are created and removed by the case:
            // cases sharing any of them must not overlap.
            let mut cur = Some(Path::new(&path));
            while let Some(p) = cur.filter(|p| !p.as_os_str().is_empty() && !p.exists()) {
                keys.insert(p.to_string_lossy().into_owned());
                cur = p.parent();
            }
            Ok(json!({"type": kind, "name": name, "path": path}))
        }
        Some("clientServer") => {
            let address = text(&obj["address"]);
            let addr: std::net::SocketAddr = address
                .parse()
                .map_err(|e| format!("address {address:?}: {e}"))?;
            if !addr.ip().is_loopback() {
                // Never on the real network: the performer puts it on lo in its own netns.
                netns.push(addr.ip().to_string());
            }
            Ok(json!({"type": "client_server", "name": name,
                      "l4proto": text(&obj["l4Proto"]), "address": address}))
        }
        Some("process") => Ok(json!({"type": "process", "name": name,
                   "fileless": obj.get("fileLess").and_then(Value::as_bool).unwrap_or(false)})),
        other => Err(format!("resource type {other:?} is not supported")),
    }
}

fn step(
    s: &Value,
    keys: &mut BTreeSet<String>,
    leftovers: &mut BTreeSet<String>,
) -> Result<Value, String> {
    let obj = s.as_object().ok_or("a step must be a mapping")?;
    if obj.get("type").and_then(Value::as_str) != Some("syscall") {
        return Err(format!("step type {:?} is not supported", obj.get("type")));
    }
    let args = obj.get("args").cloned().unwrap_or(json!({}));
    if let Some(a) = args.as_object() {
        for k in ["newPath", "linkPath"] {
            if let Some(Value::String(p)) = a.get(k) {
                keys.insert(p.clone());
                leftovers.insert(p.clone());
            }
        }
        let flags = a
            .get("flags")
            .or_else(|| a.get("how").and_then(|h| h.get("flags")))
            .map(text)
            .unwrap_or_default();
        if ["O_CREAT", "O_TRUNC", "O_WRONLY", "O_RDWR"]
            .iter()
            .any(|f| flags.contains(f))
        {
            if let Some(Value::String(p)) = a.get("pathname") {
                keys.insert(p.clone());
            }
        }
    }
    let mut out = json!({"syscall": text(&obj["syscall"]), "args": args});
    if let Some(n) = obj.get("name") {
        out["name"] = Value::String(text(n));
    }
    Ok(out)
}

/// The plan and expectations of one expanded test.
pub fn prepare(test: &Value, case_id: &str) -> Result<Prepared, String> {
    let obj = test.as_object().ok_or("a test must be a mapping")?;
    keys_only(
        obj,
        &[
            "name",
            "rule",
            "description",
            "runIf",
            "runner",
            "before",
            "context",
            "resources",
            "steps",
            "expectedOutcome",
        ],
        "test",
    )?;
    if let Some(r) = obj.get("runner").and_then(Value::as_str) {
        if r != "HostRunner" {
            return Err(format!("runner {r:?} is not supported"));
        }
    }
    let mut keys = BTreeSet::new();
    let mut netns = Vec::new();
    let context = obj.get("context").cloned().unwrap_or(Value::Null);
    let container = match context.get("container") {
        None | Some(Value::Null) => false,
        Some(Value::Object(_)) => true,
        Some(other) => return Err(format!("context.container {other} is not supported")),
    };
    let processes = match context.get("processes") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.iter().map(process).collect::<Result<_, _>>()?,
        Some(other) => return Err(format!("context.processes {other} must be a list")),
    };
    for p in &processes {
        if let Some(exe) = p
            .get("exe")
            .and_then(Value::as_str)
            .filter(|e| e.starts_with('/'))
        {
            keys.insert(exe.to_string());
        }
    }
    let resources = match obj.get("resources") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|r| resource(r, &mut keys, &mut netns))
            .collect::<Result<_, _>>()?,
        Some(other) => return Err(format!("resources {other} must be a list")),
    };
    let mut leftovers = BTreeSet::new();
    let steps = match obj.get("steps") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|s| step(s, &mut keys, &mut leftovers))
            .collect::<Result<_, _>>()?,
        Some(other) => return Err(format!("steps {other} must be a list")),
    };
    if container {
        // Paths are the container's own.
        keys.clear();
        leftovers.clear();
    }
    let mut plan = Map::new();
    plan.insert("env".into(), json!({ CASE_ENV: case_id }));
    plan.insert("processes".into(), Value::Array(processes));
    plan.insert("resources".into(), Value::Array(resources));
    plan.insert("steps".into(), Value::Array(steps));
    if !netns.is_empty() {
        plan.insert("netns".into(), json!({ "addresses": netns }));
    }
    let before = obj
        .get("before")
        .and_then(Value::as_str)
        .map(str::to_string);
    let sleeps = before.as_deref().is_some_and(|b| b.contains("sleep"));
    if let Some(b) = before {
        plan.insert("before".into(), Value::String(b));
    }
    let outcome = &obj["expectedOutcome"];
    let fields = outcome["outputFields"]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), text(v))).collect())
        .unwrap_or_default();
    Ok(Prepared {
        plan,
        container,
        expected: Expected {
            rule: text(&obj["rule"]),
            priority: text(&outcome["priority"]),
            fields,
        },
        keys,
        leftovers,
        sleeps,
    })
}
