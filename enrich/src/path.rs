//! Lexical path handling: joining a relative path to a directory and folding `.`, `..` and
//! repeated slashes, the way Falco builds `fd.name` (no file-system access: the path may be
//! gone or in another mount namespace by the time we see the event).

/// `rel` made absolute against `base` and normalised. An absolute `rel` ignores `base`;
/// `..` never climbs above `/`; a trailing slash is dropped (except for `/` itself).
pub fn join(base: &str, rel: &str) -> String {
    let mut out = String::with_capacity(base.len() + rel.len() + 1);
    out.push('/');
    if !rel.starts_with('/') {
        push_components(&mut out, base);
    }
    push_components(&mut out, rel);
    out
}

/// `path` normalised as by [`join`] when it is already absolute.
pub fn normalize(path: &str) -> String {
    join("/", path)
}

/// Appends the components of `path` to `out` (which starts with `/` and has no trailing
/// slash unless it is exactly `/`).
fn push_components(out: &mut String, path: &str) {
    for comp in path.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                if let Some(pos) = out.rfind('/') {
                    out.truncate(pos.max(1));
                }
            }
            c => {
                if !out.ends_with('/') {
                    out.push('/');
                }
                out.push_str(c);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_and_normalises() {
        let cases = [
            ("/home/u", "notes.txt", "/home/u/notes.txt"),
            ("/home/u", "./a/../b", "/home/u/b"),
            ("/home/u", "../../../etc/passwd", "/etc/passwd"),
            ("/home/u", "/etc//shadow", "/etc/shadow"),
            ("/", "tmp/", "/tmp"),
            ("/", "..", "/"),
            ("/a/b/", ".", "/a/b"),
            ("", "x", "/x"),
            ("/a", "", "/a"),
            ("/a", "b/./c//d/..", "/a/b/c"),
        ];
        for (base, rel, want) in cases {
            assert_eq!(join(base, rel), want, "join({base:?}, {rel:?})");
        }
        assert_eq!(normalize("/proc/self/../1/./exe"), "/proc/1/exe");
        assert_eq!(normalize("/"), "/");
    }
}
