//! Falco's fixed loader messages, word for word, so tools that match on them keep working.

pub(crate) const WARNING_APPEND: &str = "'append' key is deprecated. Add an 'append' entry (e.g. 'condition: append') under 'override' instead.";

pub(crate) const WARNING_ENABLED: &str = "The standalone 'enabled' key usage is deprecated. The correct approach requires also a 'replace' entry under the 'override' key (i.e. 'enabled: replace').";

pub(crate) const ERROR_OVERRIDE_APPEND: &str = "Keys 'override' and 'append: true' cannot be used together. Add an 'append' entry (e.g. 'condition: append') under 'override' instead.";

pub(crate) const ERROR_NO_PREVIOUS_MACRO: &str =
    "Macro uses 'append' or 'override.condition: append' but no macro by that name already exists";

pub(crate) const ERROR_NO_PREVIOUS_LIST: &str =
    "List uses 'append' or 'override.items: append' but no list by that name already exists";

pub(crate) const ERROR_NO_PREVIOUS_RULE_APPEND: &str =
    "Rule uses 'append' or 'override.<key>: append' but no rule by that name already exists";

pub(crate) const ERROR_NO_PREVIOUS_RULE_REPLACE: &str =
    "An 'override.<key>: replace' to a rule was requested but no rule by that name already exists";

/// Falco's `RGX_BARESTR`, as printed in the invalid-list-name warning.
pub(crate) const LIST_NAME_PATTERN: &str = "([^()\"'[:space:]=,]+)";

/// Falco's `RGX_IDENTIFIER`, as printed in the invalid-macro-name warning.
pub(crate) const MACRO_NAME_PATTERN: &str = "([a-zA-Z]+[a-zA-Z0-9_]*)";

/// What yaml-cpp says when an override is a sequence and is iterated as a map.
pub(crate) const INVALID_NODE: &str =
    "invalid node; this may result from using a map iterator as a sequence iterator, or vice-versa";
