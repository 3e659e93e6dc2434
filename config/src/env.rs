//! Environment variable expansion inside scalar values, as Falco's `yaml_helper` does it:
//! `${VAR}` becomes the variable's value (empty if unset), `$${VAR}` the literal text
//! `${VAR}`, and a `${` without a closing `}` leaves the rest of the value untouched.

/// Expands `${VAR}` references in `text`, looking variables up with `lookup` and calling
/// `unset` with the name of each variable that is not set.
pub(crate) fn expand(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    unset: &mut dyn FnMut(&str),
) -> String {
    if !text.contains('$') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let tail = &rest[dollar..];
        if let Some(escaped) = tail.strip_prefix("$${") {
            // `$${VAR}`: drop one `$`, keep `${VAR}` verbatim.
            let Some(close) = escaped.find('}') else {
                out.push_str(tail);
                return out;
            };
            out.push_str("${");
            out.push_str(&escaped[..=close]);
            rest = &escaped[close + 1..];
        } else if let Some(reference) = tail.strip_prefix("${") {
            let Some(close) = reference.find('}') else {
                out.push_str(tail);
                return out;
            };
            match lookup(&reference[..close]) {
                Some(value) => out.push_str(&value),
                None => unset(&reference[..close]),
            }
            rest = &reference[close + 1..];
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

/// Looks a variable up in the process environment (non-UTF-8 values count as unset).
pub(crate) fn process_env(name: &str) -> Option<String> {
    if name.is_empty() || name.contains(['=', '\0']) {
        return None;
    }
    std::env::var(name).ok()
}

#[cfg(test)]
mod tests {

    fn env(name: &str) -> Option<String> {
        match name {
            "HOME" => Some("/root".into()),
            "PORT" => Some("9000".into()),
            _ => None,
        }
    }

    fn expand(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
        super::expand(text, lookup, &mut |_| {})
    }

    #[test]
    fn expands_references_and_keeps_escaped_ones() {
        assert_eq!(expand("${HOME}/x", &env), "/root/x");
        assert_eq!(expand("a${PORT}b${PORT}", &env), "a9000b9000");
        assert_eq!(expand("${UNSET}x", &env), "x");
        assert_eq!(expand("$${HOME}", &env), "${HOME}");
        assert_eq!(expand("$${HOME}:${HOME}", &env), "${HOME}:/root");
        assert_eq!(expand("cost $5", &env), "cost $5");
        assert_eq!(expand("${HOME", &env), "${HOME");
        assert_eq!(expand("$${HOME", &env), "$${HOME");
        assert_eq!(expand("$", &env), "$");
        assert_eq!(expand("é${PORT}ü", &env), "é9000ü");
    }

    #[test]
    fn unset_references_are_named() {
        let mut names = Vec::new();
        let out = super::expand("${A}:${PORT}:$${B}:${C}", &env, &mut |n| {
            names.push(n.to_string())
        });
        assert_eq!(out, ":9000:${B}:");
        assert_eq!(names, ["A", "C"]);
    }
}
