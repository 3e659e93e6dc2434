//! Loading the rules the configuration names, with Falco's error reporting.

use crate::file_trust;
use anyhow::{bail, Result};
use peregrine_config::{Config, MissingRules, RulesSourceSpec};
use peregrine_rules::engine::RulesSource;
use peregrine_rules::{loader, Ruleset, UnsourcedField};
use std::path::PathBuf;

/// The rules sources: embedded rules, or files and folders in `rules_files` order.
/// An entry that does not exist is an error, unless the config says
/// `rules_files_missing: skip` (Falco's behaviour) for entries of the config; `-r` entries
/// must always exist.
pub fn sources(cfg: &Config, from_cli: bool) -> Result<Vec<RulesSource>> {
    let mut out = Vec::new();
    let mut paths = Vec::new();
    for spec in cfg.rules_sources() {
        match spec {
            RulesSourceSpec::Embedded => out.push(RulesSource::new(
                peregrine_config::DEFAULT_RULES_NAME,
                peregrine_config::DEFAULT_RULES,
            )),
            RulesSourceSpec::Path(p) => paths.push(p),
        }
    }
    if !paths.is_empty() {
        let listed = loader::rules_files(&paths);
        if let (true, Some(missing)) = (from_cli, listed.missing.first()) {
            bail!("rules file {missing}");
        }
        if let (MissingRules::Error, Some(missing)) =
            (cfg.rules_files_missing, listed.missing.first())
        {
            bail!("rules_files entry {missing} (set rules_files_missing: skip to run without it)");
        }
        for m in &listed.missing {
            tracing::warn!("skipping rules_files entry {m}");
        }
        // The entries (a folder's own modes matter too) and every file they expand to.
        let checked = paths.iter().chain(listed.files.iter());
        file_trust::enforce(
            checked.map(|p| p.as_path()),
            "rules file",
            cfg.untrusted_files,
        )?;
        out.extend(listed.files.iter().map(|p| RulesSource::read(p)));
    }
    if out.is_empty() {
        bail!("no rules to load: rules_files names no existing *.yaml/*.yml file");
    }
    Ok(out)
}

/// Loads, compiles and applies the rule selections; a broken file is an error with Falco's
/// positioned report.
pub fn load(cfg: &Config, from_cli: bool) -> Result<Ruleset> {
    let sources = sources(cfg, from_cli)?;
    let outcome = peregrine_rules::load_sources(&sources, &cfg.compile_options());
    for f in &outcome.files {
        for w in f.warnings() {
            tracing::debug!("{w}");
        }
    }
    match outcome.ruleset {
        Some(mut rs) if outcome.files.iter().all(|f| f.is_ok()) => {
            cfg.apply_rule_selections(&mut rs);
            for u in rs.unsourced_fields() {
                tracing::warn!("{}", unsourced_warning(&u));
            }
            Ok(rs)
        }
        _ => {
            let report: String = outcome
                .files
                .iter()
                .filter(|f| !f.is_ok())
                .map(|f| loader::render_text(&f.name, &f.diagnostics))
                .collect();
            bail!("rules did not load:\n{}", report.trim_end())
        }
    }
}

/// One line on a field enabled rules read that never has a value here.
pub fn unsourced_warning(u: &UnsourcedField) -> String {
    let rules: Vec<&str> = u.rules.iter().map(|r| &**r).collect();
    format!(
        "field {} has no source ({}): it never has a value, so checks on it never hold; read by rules: {}",
        u.field,
        u.reason,
        rules.join(", ")
    )
}

/// The files whose change triggers a reload: config files and every rules file.
pub fn watched_files(cfg: &Config) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = cfg.files().to_vec();
    let paths: Vec<PathBuf> = cfg
        .rules_sources()
        .into_iter()
        .filter_map(|s| match s {
            RulesSourceSpec::Path(p) => Some(p),
            RulesSourceSpec::Embedded => None,
        })
        .collect();
    files.extend(paths.iter().cloned());
    files.extend(loader::rules_files(&paths).files);
    files.sort();
    files.dedup();
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_warning_names_the_field_its_reason_and_the_rules() {
        let u = UnsourcedField {
            field: "fd.x".into(),
            reason: "no table",
            rules: vec!["r1".into(), "r2".into()],
        };
        assert_eq!(
            unsourced_warning(&u),
            "field fd.x has no source (no table): it never has a value, so checks on it never hold; read by rules: r1, r2"
        );
    }
}
