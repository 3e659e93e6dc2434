//! Falco's evtgen suite files as the event-generator reads them: YAML, `cases` expanded
//! (matrix: cartesian product, vector: one case), whole-value `%{ item.x }` templates filled
//! with the case's value (of any type, as the event-generator's `fillTemplate`), `runIf`.

use saphyr::{ScalarStyle, Yaml, YamlLoader};
use serde_json::{Map, Value};
use std::path::Path;

/// One test after expansion.
#[derive(Debug, Clone)]
pub struct Case {
    /// The suite file's stem.
    pub file: String,
    /// `<test name>_testCase#<n>` for a case of a template, the test name otherwise.
    pub name: String,
    /// The test, with the case's values substituted and `cases` removed.
    pub test: Value,
}

impl Case {
    pub fn rule(&self) -> String {
        self.test["rule"].as_str().unwrap_or_default().to_string()
    }
}

/// `%` cannot start a plain YAML scalar, yet the suite writes bare templates where a whole
/// node goes (`runIf: %{ item.runIf }`). Quoting such a bare template lets the file load;
/// the value-level substitution then puts the case's node (an object or null) there.
pub fn quote_bare_templates(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    for line in text.lines() {
        let (head, value) = match line.find(": ") {
            Some(i) => line.split_at(i + 2),
            None => match line.trim_start().strip_prefix("- ") {
                Some(v) => line.split_at(line.len() - v.len()),
                None => (line, ""),
            },
        };
        let v = value.trim();
        if v.starts_with("%{") && v.ends_with('}') {
            out.push_str(head);
            out.push('"');
            out.push_str(v);
            out.push('"');
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// YAML text to JSON, resolving plain scalars the way go-yaml (the event-generator's
/// loader) does for the forms the suite uses: null, booleans, integers (a leading `0` is
/// octal: `mode: 0644` is 420), everything else text.
pub fn yaml_to_json(text: &str) -> Result<Value, String> {
    let mut parser = saphyr_parser::Parser::new_from_str(text);
    let mut loader: YamlLoader<'_, Yaml<'_>> = YamlLoader::default();
    loader.early_parse(false);
    parser.load(&mut loader, true).map_err(|e| e.to_string())?;
    if let Some(e) = loader.error() {
        return Err(e.to_string());
    }
    let docs = loader.into_documents();
    let doc = docs.first().ok_or("empty document")?;
    convert(doc)
}

fn scalar(text: &str, style: ScalarStyle) -> Value {
    if style != ScalarStyle::Plain {
        return Value::String(text.to_string());
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        let neg = text.starts_with('-');
        let v = if digits.len() > 1 && digits.starts_with('0') {
            i64::from_str_radix(&digits[1..], 8).ok()
        } else {
            digits.parse::<i64>().ok()
        };
        if let Some(v) = v {
            return Value::from(if neg { -v } else { v });
        }
    }
    Value::String(text.to_string())
}

fn convert(y: &Yaml<'_>) -> Result<Value, String> {
    Ok(match y {
        Yaml::Representation(text, style, _) => scalar(text, *style),
        Yaml::Value(s) => match s {
            saphyr::Scalar::Null => Value::Null,
            saphyr::Scalar::Boolean(b) => Value::Bool(*b),
            saphyr::Scalar::Integer(i) => Value::from(*i),
            saphyr::Scalar::FloatingPoint(f) => Value::from(f.into_inner()),
            saphyr::Scalar::String(s) => Value::String(s.to_string()),
        },
        Yaml::Sequence(items) => Value::Array(items.iter().map(convert).collect::<Result<_, _>>()?),
        Yaml::Mapping(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let key = match convert(k)? {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                out.insert(key, convert(v)?);
            }
            Value::Object(out)
        }
        Yaml::Tagged(_, inner) => convert(inner)?,
        Yaml::Alias(_) | Yaml::BadValue => return Err(format!("unsupported YAML node {y:?}")),
    })
}

/// The concrete value sets of a test's `cases`.
pub fn expand_cases(specs: &Value) -> Result<Vec<Map<String, Value>>, String> {
    let specs = specs.as_array().ok_or("cases must be a list")?;
    let mut cases = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let values = spec["values"]
            .as_object()
            .ok_or(format!("cases[{i}].values must be a mapping"))?;
        match spec["strategy"].as_str() {
            Some("vector") => cases.push(values.clone()),
            Some("matrix") => {
                let mut combos = vec![Map::new()];
                for (key, list) in values {
                    let list = list
                        .as_array()
                        .ok_or(format!("cases[{i}].values.{key} must be a list"))?;
                    let mut next = Vec::with_capacity(combos.len() * list.len());
                    for combo in &combos {
                        for v in list {
                            let mut c = combo.clone();
                            c.insert(key.clone(), v.clone());
                            next.push(c);
                        }
                    }
                    combos = next;
                }
                cases.extend(combos);
            }
            other => return Err(format!("cases[{i}]: unknown strategy {other:?}")),
        }
    }
    Ok(cases)
}

/// `%{ item.key }` as a whole string: the key.
fn template_key(s: &str) -> Option<&str> {
    let inner = s.trim().strip_prefix("%{")?.strip_suffix('}')?.trim();
    inner
        .strip_prefix("item.")
        .filter(|k| !k.is_empty() && !k.contains(char::is_whitespace))
}

/// Replaces every whole-string template in `v` with the case's value.
pub fn fill(v: &mut Value, values: &Map<String, Value>) -> Result<(), String> {
    match v {
        Value::String(s) => {
            if let Some(key) = template_key(s) {
                *v = values
                    .get(key)
                    .cloned()
                    .ok_or(format!("template {s:?} has no value in the case"))?;
            }
        }
        Value::Array(a) => a.iter_mut().try_for_each(|x| fill(x, values))?,
        Value::Object(m) => m.values_mut().try_for_each(|x| fill(x, values))?,
        _ => {}
    }
    Ok(())
}

/// Reads one suite file into its cases.
pub fn load_file(path: &Path) -> Result<Vec<Case>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let doc = yaml_to_json(&quote_bare_templates(&text))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let file = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tests = doc["tests"]
        .as_array()
        .ok_or(format!("{}: no tests list", path.display()))?;
    let mut out = Vec::new();
    for test in tests {
        let mut template = test.clone();
        let name = template["name"].as_str().unwrap_or_default().to_string();
        let specs = template.as_object_mut().and_then(|m| m.remove("cases"));
        match specs {
            None => out.push(Case {
                file: file.clone(),
                name,
                test: template,
            }),
            Some(specs) => {
                let cases = expand_cases(&specs).map_err(|e| format!("{name}: {e}"))?;
                for (i, values) in cases.iter().enumerate() {
                    let mut t = template.clone();
                    fill(&mut t, values).map_err(|e| format!("{name}: {e}"))?;
                    out.push(Case {
                        file: file.clone(),
                        name: format!("{name}_testCase#{i}"),
                        test: t,
                    });
                }
            }
        }
    }
    Ok(out)
}

/// Go's name for this machine's architecture (`runIf` compares against it).
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

/// `runIf`: None = run; Some(reason) = the condition excludes this machine.
pub fn run_if(test: &Value) -> Result<Option<String>, String> {
    let cond = &test["runIf"];
    if cond.is_null() {
        return Ok(None);
    }
    let obj = cond
        .as_object()
        .ok_or(format!("runIf must be a mapping: {cond}"))?;
    for (key, check) in obj {
        let actual = match key.as_str() {
            "arch" => go_arch(),
            other => return Err(format!("runIf: unsupported condition {other:?}")),
        };
        let val = check["val"]
            .as_str()
            .ok_or(format!("runIf.{key}.val missing"))?;
        let holds = match check["op"].as_str() {
            Some("eq") => actual == val,
            Some("ne") => actual != val,
            other => return Err(format!("runIf.{key}: unsupported op {other:?}")),
        };
        if !holds {
            return Ok(Some(format!(
                "runIf {key} {} {val} (this machine: {actual})",
                check["op"]
            )));
        }
    }
    Ok(None)
}
