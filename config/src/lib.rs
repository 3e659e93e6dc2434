//! Peregrine's configuration: falco.yaml-compatible keys, Peregrine's `pipeline:` section and
//! the falcosidekick-shaped `outputs:` section; defaults, `-o key=value` overrides,
//! environment variable expansion and validation. Also the embedded default config and
//! rules, so the agent runs with no files at all.
//!
//! ```text
//! YAML file ─▶ tree (values with origins) ─▶ -o overrides ─▶ ${VAR} expansion ─▶ Config
//! ```
//!
//! Unknown keys and wrong types are errors naming the key path, the expectation, what was
//! found and `file:line:column`; known falco.yaml keys Peregrine does not use are accepted
//! and listed in [`Config::warnings`].

mod decode;
mod duration;
mod env;
mod error;
mod model;
mod overrides;
mod template;
mod tree;

pub use error::{ConfigError, ConfigWarning, Origin};
pub use model::*;
pub use template::{MessageTemplate, TemplatePart};

use overrides::Override;
use peregrine_rules::yaml::YamlError;
use std::path::Path;

/// The default rules: the reference deployment's own rules (see `shared/seed`), embedded so
/// the agent runs with no files at all.
pub const DEFAULT_RULES: &str = include_str!("../defaults/default_rules.yaml");

/// The name the embedded rules are reported under.
pub const DEFAULT_RULES_NAME: &str = "<embedded>/default_rules.yaml";

/// The default configuration, a commented falco.yaml-style file; it yields `Config::default()`.
pub const DEFAULT_CONFIG: &str = include_str!("../defaults/peregrine.yaml");

/// The name the embedded configuration is reported under.
pub const DEFAULT_CONFIG_NAME: &str = "<embedded>/peregrine.yaml";

/// Loads the configuration file at `path` (or the embedded default config when `None`),
/// then applies `overrides` (`-o key.path=value`, in order, highest precedence).
pub fn load(path: Option<&Path>, overrides: &[String]) -> Result<Config, ConfigError> {
    let Some(path) = path else {
        let mut config = build(
            DEFAULT_CONFIG_NAME,
            DEFAULT_CONFIG,
            overrides,
            &env::process_env,
        )?;
        config.embedded = true;
        return Ok(config);
    };
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut config = build(
        &path.display().to_string(),
        &text,
        overrides,
        &env::process_env,
    )?;
    config.files = vec![path.to_path_buf()];
    Ok(config)
}

/// Loads configuration text as if it were a file called `name` (used in messages).
pub fn load_str(name: &str, text: &str, overrides: &[String]) -> Result<Config, ConfigError> {
    build(name, text, overrides, &env::process_env)
}

/// Parse, override, expand, decode. The result counts as a user's file (`embedded` false).
fn build(
    name: &str,
    text: &str,
    overrides: &[String],
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let at = tree::file_origin(name);
    let yaml_error = |e: YamlError| ConfigError::Yaml {
        name: name.to_string(),
        line: e.mark.line,
        column: e.mark.column,
        message: e.message,
    };
    let too_many = |count| ConfigError::Yaml {
        name: name.to_string(),
        line: 1,
        column: 1,
        message: format!("expected one YAML document, found {count}"),
    };
    let mut root = tree::parse_document(text, &at, &yaml_error, &too_many)?;
    let overrides = overrides
        .iter()
        .map(|text| Override::parse(text))
        .collect::<Result<Vec<_>, _>>()?;
    // falcosidekick's environment variables (LOKI_HOSTPORT, …) over the file, under -o.
    for (var, key) in model::sidekick_env_keys() {
        if let Some(value) = lookup(&var) {
            Override::from_env(&var, &key, &value)?.apply(&mut root)?;
        }
    }
    for o in &overrides {
        o.apply(&mut root)?;
    }
    // Falco expands an unset variable to nothing; so do we, but never without a word, and
    // never to switch a destination off: an address that is only unset variables is an
    // error (leave the key empty to turn a destination off on purpose).
    let mut unset: Vec<(String, String, Origin)> = Vec::new();
    let mut emptied: Option<ConfigError> = None;
    root.for_each_scalar_at_mut("", &mut |path, origin, s| {
        if !s.contains('$') {
            return;
        }
        let mut missing = Vec::new();
        *s = env::expand(s, lookup, &mut |name| missing.push(name.to_string()));
        if !missing.is_empty() && s.trim().is_empty() && model::is_destination_address(path) {
            emptied.get_or_insert_with(|| ConfigError::Invalid {
                path: path.to_string(),
                expected: "a destination address (leave the key empty to turn the destination off)"
                    .into(),
                found: format!(
                    "nothing: environment variable {} is not set",
                    missing.join(", ")
                ),
                origin: origin.clone(),
            });
        }
        unset.extend(
            missing
                .into_iter()
                .map(|name| (path.to_string(), name, origin.clone())),
        );
    });
    if let Some(e) = emptied {
        return Err(e);
    }
    let mut config = Config::decode(&root)?;
    config.embedded = false;
    for (path, name, origin) in unset {
        config.warnings.push(ConfigWarning {
            path,
            reason: format!("environment variable {name} is not set; it expands to nothing"),
            origin,
        });
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use peregrine_rules::Priority;

    #[test]
    fn embedded_default_config_reproduces_the_defaults() {
        let config = load(None, &[]).expect("embedded config loads");
        assert!(config.warnings.is_empty(), "{:?}", config.warnings);
        assert_eq!(config, Config::default());
        assert_eq!(config.rules_sources(), vec![RulesSourceSpec::Embedded]);
        assert!(config.files().is_empty());
    }

    #[test]
    fn falcosidekick_environment_variables_set_outputs_under_the_overrides() {
        let env = |name: &str| match name {
            "LOKI_HOSTPORT" => Some("http://loki:3100".to_string()),
            "LOKI_FORMAT" => Some("json".to_string()),
            "SLACK_WEBHOOKURL" => Some("https://hooks.invalid/x".to_string()),
            "SLACK_MINIMUMPRIORITY" => Some("loud".to_string()),
            "CUSTOMFIELDS" => Some("a:1,b:2".to_string()),
            _ => None,
        };
        let text = "outputs:\n  loki: {hostport: 'http://file:3100', format: text}\n";
        let e = build("t.yaml", text, &[], &env).unwrap_err().to_string();
        assert!(
            e.contains("outputs.slack.minimumpriority")
                && e.contains("environment variable SLACK_MINIMUMPRIORITY"),
            "{e}"
        );
        let overrides = vec!["outputs.slack.minimumpriority=warning".to_string()];
        let c = build("t.yaml", text, &overrides, &env).unwrap();
        let loki = c.outputs.loki.unwrap();
        assert_eq!(loki.hostport, "http://loki:3100", "env over the file");
        assert_eq!(loki.format, LokiFormat::Json);
        let slack = c.outputs.slack.unwrap();
        assert_eq!(
            slack.common.minimumpriority,
            Some(Priority::Warning),
            "-o over env"
        );
        assert_eq!(
            c.outputs.customfields,
            vec![("a".into(), "1".into()), ("b".into(), "2".into())]
        );
    }

    /// An unset `${VAR}` expands to nothing, as in Falco, but with a warning; an address
    /// that would be emptied by it (turning the destination off unseen) is an error.
    #[test]
    fn unset_variables_are_reported_and_never_turn_a_destination_off() {
        let env = |name: &str| (name == "SET").then(|| "https://hooks.invalid/x".to_string());
        let text = "outputs:\n  slack:\n    webhookurl: ${SLACK_URL}\n";
        let e = build("t.yaml", text, &[], &env).unwrap_err().to_string();
        assert!(
            e.contains("outputs.slack.webhookurl")
                && e.contains("environment variable SLACK_URL is not set")
                && e.contains("t.yaml:3:17"),
            "{e}"
        );
        for key in ["loki:\n    hostport", "webhook:\n    address"] {
            let text = format!("outputs:\n  {key}: \"${{NOPE}}\"\n");
            assert!(build("t.yaml", &text, &[], &env).is_err(), "{text}");
        }
        // Set, or empty on purpose: no error.
        let text = "outputs:\n  slack:\n    webhookurl: ${SET}\n";
        let c = build("t.yaml", text, &[], &env).unwrap();
        assert_eq!(
            c.outputs.slack.unwrap().webhookurl,
            "https://hooks.invalid/x"
        );
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        let c = build(
            "t.yaml",
            "outputs:\n  slack:\n    webhookurl: ''\n",
            &[],
            &env,
        )
        .unwrap();
        assert!(c.outputs.slack.is_none());
        // Elsewhere an unset variable is a warning naming the key and the variable.
        let text = "outputs:\n  slack:\n    webhookurl: ${SET}\n    channel: '#${ROOM}'\n";
        let c = build("t.yaml", text, &[], &env).unwrap();
        assert_eq!(c.outputs.slack.unwrap().channel, "#");
        let w: Vec<String> = c.warnings.iter().map(|w| w.to_string()).collect();
        assert_eq!(
            w,
            ["outputs.slack.channel: environment variable ROOM is not set; it expands to nothing (t.yaml:4:14)"]
        );
    }

    #[test]
    fn falcosidekick_tlsserver_environment_variables_set_the_input_tls() {
        let env = |name: &str| match name {
            "TLSSERVER_DEPLOY" => Some("true".to_string()),
            "TLSSERVER_CERTFILE" => Some("/certs/s.crt".to_string()),
            "TLSSERVER_NOTLSPATHS" => Some("/ping,/healthz".to_string()),
            "TLSSERVER_NOTLSPORT" => Some("2811".to_string()),
            _ => None,
        };
        let t = build("t.yaml", "", &[], &env).unwrap().outputs.tlsserver;
        assert!(t.deploy && !t.mutualtls);
        assert_eq!(t.certfile, std::path::PathBuf::from("/certs/s.crt"));
        assert_eq!(t.notlsport, 2811);
        assert_eq!(t.notlspaths, ["/ping", "/healthz"]);
    }

    #[test]
    fn overrides_and_environment_use_the_lookup() {
        let env = |name: &str| (name == "PORT").then(|| "9000".to_string());
        let overrides = vec!["webserver.listen_port=${PORT}".to_string()];
        let config = build("t.yaml", "", &overrides, &env).unwrap();
        assert_eq!(config.webserver.listen_port, 9000);
    }
}
