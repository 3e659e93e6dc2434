//! `pmatch`: path-prefix match on whole path components. `/tmp/hello` matches `/tmp/hello`
//! and `/tmp/hello/x` but not `/tmp/hello_world`. Components may hold glob wildcards,
//! which never cross a `/`.

use super::glob::Glob;
use super::hash::FxHasher;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;

#[derive(Debug, Default)]
pub struct PathTrie {
    root: TrieNode,
}

#[derive(Debug, Default)]
struct TrieNode {
    terminal: bool,
    exact: HashMap<Box<str>, TrieNode, BuildHasherDefault<FxHasher>>,
    wild: Vec<(Glob, TrieNode)>,
}

fn components(path: &str) -> impl Iterator<Item = &str> + Clone {
    path.split('/').filter(|c| !c.is_empty())
}

impl PathTrie {
    pub fn new<'a>(prefixes: impl IntoIterator<Item = &'a str>) -> PathTrie {
        let mut trie = PathTrie::default();
        for p in prefixes {
            trie.insert(p);
        }
        trie
    }

    fn insert(&mut self, prefix: &str) {
        let mut node = &mut self.root;
        for comp in components(prefix) {
            node = if Glob::has_wildcards(comp) {
                let pos = node.wild.iter().position(|(g, _)| g.matches(comp));
                match pos {
                    Some(i) => &mut node.wild[i].1,
                    None => {
                        node.wild
                            .push((Glob::new(comp, false), TrieNode::default()));
                        &mut node.wild.last_mut().expect("just pushed").1
                    }
                }
            } else {
                node.exact.entry(comp.into()).or_default()
            };
        }
        node.terminal = true;
    }

    pub fn matches(&self, path: &str) -> bool {
        walk(&self.root, components(path))
    }
}

/// Whether a prefix in the trie below `node` matches the components `rest`.
fn walk<'a>(node: &TrieNode, mut rest: impl Iterator<Item = &'a str> + Clone) -> bool {
    if node.terminal {
        return true;
    }
    let Some(first) = rest.next() else {
        return false;
    };
    if let Some(next) = node.exact.get(first) {
        if walk(next, rest.clone()) {
            return true;
        }
    }
    node.wild
        .iter()
        .any(|(g, next)| g.matches(first) && walk(next, rest.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Vectors in the spirit of libs' filter_op_pmatch unit tests.
    #[test]
    fn whole_components_only() {
        let t = PathTrie::new(["/tmp/hello", "/var/lib/docker"]);
        assert!(t.matches("/tmp/hello"));
        assert!(t.matches("/tmp/hello/x"));
        assert!(t.matches("/tmp/hello/x/y"));
        assert!(!t.matches("/tmp/hello_world"));
        assert!(!t.matches("/tmp"));
        assert!(!t.matches("/tmp/hell"));
        assert!(t.matches("/var/lib/docker/overlay2"));
        assert!(!t.matches("/var/lib"));
        assert!(!t.matches(""));
    }

    #[test]
    fn wildcard_components_do_not_cross_slash() {
        let t = PathTrie::new(["/home/*/.ssh", "/opt/app?/conf"]);
        assert!(t.matches("/home/alice/.ssh/id_rsa"));
        assert!(!t.matches("/home/alice/bob/.ssh"));
        assert!(t.matches("/opt/app1/conf/x.yaml"));
        assert!(!t.matches("/opt/app12/conf"));
    }

    #[test]
    fn root_and_trailing_slashes() {
        let t = PathTrie::new(["/etc/"]);
        assert!(t.matches("/etc"));
        assert!(t.matches("/etc/passwd"));
        let root = PathTrie::new(["/"]);
        assert!(root.matches("/anything"));
    }
}
