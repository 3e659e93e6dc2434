//! `required_engine_version` and `required_plugin_versions` items, and the versions this
//! engine offers.

use super::context::{Ctx, LoadError};
use super::{decode, Reader};
use crate::collection::{Collection, PluginRequirement};
use crate::yaml::Node;
use std::collections::HashSet;

/// A `major.minor.patch` version.
pub type Version = (u64, u64, u64);

/// The rules-engine version we implement: Falco 0.44's (`FALCO_ENGINE_VERSION` 0.62.0), since
/// the loader follows Falco 0.44's rules-file format. Upstream rules ask for 0.57.0 (Falco
/// 0.42); an engine satisfies a requirement with the same major and a version at least as high.
pub const ENGINE_VERSION: Version = (0, 62, 0);

/// The `container` plugin version whose fields (`container.*`, `k8s.pod.*`, `k8s.ns.name`)
/// Peregrine provides natively. 0.4.0 is what the upstream rules require.
pub const CONTAINER_PLUGIN_VERSION: Version = (0, 4, 0);

/// Plugins whose functionality is built in, to pass to [`check_plugin_requirements`].
pub const BUILTIN_PLUGINS: &[(&str, Version)] = &[("container", CONTAINER_PLUGIN_VERSION)];

/// `x.y.z`, as written in messages.
pub fn version_string(v: Version) -> String {
    format!("{}.{}.{}", v.0, v.1, v.2)
}

/// Parses a version the way libsinsp's `sinsp_version` does (`sscanf("%lu.%lu.%lu")`):
/// three decimal numbers separated by dots, blanks allowed before each number, anything
/// allowed after the third (so `0.4.0-rc1` is 0.4.0).
pub fn parse_version(s: &str) -> Option<Version> {
    let mut rest = s;
    let mut parts = [0u64; 3];
    for (i, part) in parts.iter_mut().enumerate() {
        if i > 0 {
            rest = rest.strip_prefix('.')?;
        }
        rest = rest.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
        rest = rest.strip_prefix('+').unwrap_or(rest);
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        *part = rest.get(..digits)?.parse().ok()?;
        rest = rest.get(digits..)?;
    }
    Some((parts[0], parts[1], parts[2]))
}

/// Whether `have` satisfies a requirement for `need`: same major, and not older.
pub fn compatible(have: Version, need: Version) -> bool {
    have.0 == need.0 && have >= need
}

const ENGINE_KEY: &str = "required_engine_version";
const PLUGINS_KEY: &str = "required_plugin_versions";

/// `- required_engine_version: N` (meaning 0.N.0) or `x.y.z`.
pub(crate) fn read_engine_version(
    r: &mut Reader<'_>,
    item: &Node,
    parent: &Ctx,
) -> Result<(), LoadError> {
    let ctx = parent.child(ENGINE_KEY, "", item.mark);
    r.warn_unknown_keys(item, &[ENGINE_KEY], &ctx);
    // Like Falco: try an unsigned 32-bit number first; on any failure, read it as a string.
    let required = match decode::unsigned(item, ENGINE_KEY, &ctx, true, u64::from(u32::MAX)) {
        Ok(Some(minor)) => (ENGINE_VERSION.0, minor, ENGINE_VERSION.2),
        _ => {
            let text = decode::string(item, ENGINE_KEY, &ctx, true)?.unwrap_or_default();
            parse_version(&text).ok_or_else(|| {
                LoadError::shape(
                    format!("Unable to parse engine version '{text}' as a semver string. Expected \"x.y.z\" semver format."),
                    &ctx,
                )
            })?
        }
    };
    if !compatible(ENGINE_VERSION, required) {
        return Err(LoadError::validate(
            format!(
                "Rules require engine version {}, but engine version is {}",
                version_string(required),
                version_string(ENGINE_VERSION)
            ),
            &ctx,
        ));
    }
    let highest = &mut r.collection.required_engine_version;
    if highest.is_none_or(|h| h < required) {
        *highest = Some(required);
    }
    Ok(())
}

/// `- required_plugin_versions: [{name, version, alternatives: [{name, version}]}]`.
pub(crate) fn read_plugin_versions(
    r: &mut Reader<'_>,
    item: &Node,
    parent: &Ctx,
) -> Result<(), LoadError> {
    let Some(value) = item.get(PLUGINS_KEY) else {
        return Ok(());
    };
    let ctx = parent.child("required plugin versions", "", value.mark);
    r.warn_unknown_keys(item, &[PLUGINS_KEY], &ctx);
    let Some(entries) = value.as_sequence() else {
        return Err(LoadError::shape(
            "Value of required_plugin_versions must be a sequence",
            &ctx,
        ));
    };
    for entry in entries {
        let requirement = read_plugin_entry(entry, &ctx)?;
        r.collection.required_plugins.push(requirement);
    }
    Ok(())
}

fn read_plugin_entry(entry: &Node, ctx: &Ctx) -> Result<PluginRequirement, LoadError> {
    const ENTRY: &str = "required plugin versions entry";
    const ALTERNATIVE: &str = "required plugin versions alternative";
    let tmp = ctx.child(ENTRY, "", entry.mark);
    if entry.as_mapping().is_none() {
        return Err(LoadError::shape("Plugin version must be a mapping", &tmp));
    }
    let name = decode::string(entry, "name", &tmp, true)?.unwrap_or_default();
    let pctx = ctx.child(ENTRY, &name, entry.mark);
    let version = decode::string(entry, "version", &pctx, true)?.unwrap_or_default();
    let mut alternatives = Vec::new();
    if let Some(alts) = entry.get("alternatives") {
        let Some(alts) = alts.as_sequence() else {
            return Err(LoadError::shape(
                "Value of plugin version alternatives must be a sequence",
                &pctx,
            ));
        };
        for alt in alts {
            let tmp = pctx.child(ALTERNATIVE, "", alt.mark);
            if alt.as_mapping().is_none() {
                return Err(LoadError::shape(
                    "Plugin version alternative must be a mapping",
                    &tmp,
                ));
            }
            let alt_name = decode::string(alt, "name", &tmp, true)?.unwrap_or_default();
            let actx = pctx.child(ALTERNATIVE, &alt_name, alt.mark);
            let alt_version = decode::string(alt, "version", &actx, true)?.unwrap_or_default();
            alternatives.push((alt_name, alt_version));
        }
    }
    let mut seen = HashSet::new();
    for (n, v) in std::iter::once((&name, &version)).chain(alternatives.iter().map(|(n, v)| (n, v)))
    {
        if parse_version(v).is_none() {
            return Err(LoadError::validate(
                format!("Invalid required version '{v}' for plugin '{n}'"),
                &pctx,
            ));
        }
        if !seen.insert(n.as_str()) {
            return Err(LoadError::validate(
                format!("Defined multiple alternative version requirements for plugin '{n}'"),
                &pctx,
            ));
        }
    }
    Ok(PluginRequirement {
        name,
        version,
        alternatives,
    })
}

/// A `required_plugin_versions` entry that the available plugins do not satisfy.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PluginRequirementError {
    #[error("Plugin '{name}' version '{have}' is not compatible with required plugin version '{required}'")]
    Incompatible {
        name: String,
        have: String,
        required: String,
    },
    /// None of the alternatives is available; lists them as `name (>= version)`.
    #[error("Plugin requirement not satisfied, must load one of: {0}")]
    Missing(String),
}

/// Checks every plugin requirement collected so far against the `available` plugins (for
/// Peregrine: [`BUILTIN_PLUGINS`]). For each requirement the first alternative that names an
/// available plugin decides, as in Falco.
pub fn check_plugin_requirements(
    collection: &Collection,
    available: &[(&str, Version)],
) -> Result<(), PluginRequirementError> {
    for req in &collection.required_plugins {
        let alternatives: Vec<(&str, &str)> =
            std::iter::once((req.name.as_str(), req.version.as_str()))
                .chain(
                    req.alternatives
                        .iter()
                        .map(|(n, v)| (n.as_str(), v.as_str())),
                )
                .collect();
        let found = alternatives.iter().find_map(|(name, required)| {
            available
                .iter()
                .find(|(have_name, _)| have_name == name)
                .map(|(_, have)| (*name, *required, *have))
        });
        match found {
            Some((name, required, have)) => {
                // Requirements were validated when read; an unparsable one cannot be met.
                let ok = parse_version(required).is_some_and(|need| compatible(have, need));
                if !ok {
                    return Err(PluginRequirementError::Incompatible {
                        name: name.to_string(),
                        have: version_string(have),
                        required: required.to_string(),
                    });
                }
            }
            None => {
                let names: Vec<String> = alternatives
                    .iter()
                    .map(|(n, v)| format!("{n} (>= {v})"))
                    .collect();
                return Err(PluginRequirementError::Missing(names.join(", ")));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_like_sscanf() {
        assert_eq!(parse_version("0.57.0"), Some((0, 57, 0)));
        assert_eq!(parse_version("0.4.0-rc1"), Some((0, 4, 0)));
        assert_eq!(parse_version(" 1. 2. 3"), Some((1, 2, 3)));
        for bad in ["seven", "1.2", "1..2", "1.2.x", "", "0.57 .0"] {
            assert_eq!(parse_version(bad), None, "{bad}");
        }
    }

    #[test]
    fn compatibility_needs_same_major_and_newer() {
        assert!(compatible(ENGINE_VERSION, (0, 57, 0)));
        assert!(compatible(ENGINE_VERSION, ENGINE_VERSION));
        assert!(!compatible(ENGINE_VERSION, (0, 63, 0)));
        assert!(!compatible((1, 0, 0), (0, 1, 0)));
    }

    fn requirement(name: &str, version: &str, alternatives: &[(&str, &str)]) -> Collection {
        let mut c = Collection::default();
        c.required_plugins.push(PluginRequirement {
            name: name.into(),
            version: version.into(),
            alternatives: alternatives
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        });
        c
    }

    #[test]
    fn builtin_container_plugin_satisfies_upstream_rules() {
        let c = requirement("container", "0.4.0", &[]);
        assert_eq!(check_plugin_requirements(&c, BUILTIN_PLUGINS), Ok(()));
    }

    #[test]
    fn plugin_requirement_errors() {
        let c = requirement("container", "0.5.0", &[]);
        assert_eq!(
            check_plugin_requirements(&c, BUILTIN_PLUGINS)
                .map_err(|e| e.to_string()),
            Err("Plugin 'container' version '0.4.0' is not compatible with required plugin version '0.5.0'".to_string())
        );
        let c = requirement("k8saudit", "0.7.0", &[("k8saudit-eks", "0.4.0")]);
        assert_eq!(
            check_plugin_requirements(&c, BUILTIN_PLUGINS).map_err(|e| e.to_string()),
            Err("Plugin requirement not satisfied, must load one of: k8saudit (>= 0.7.0), k8saudit-eks (>= 0.4.0)".to_string())
        );
        let c = requirement("k8saudit", "0.7.0", &[("container", "0.1.0")]);
        assert_eq!(check_plugin_requirements(&c, BUILTIN_PLUGINS), Ok(()));
    }
}
