//! Shared subexpressions, evaluated once per event. Macros are inlined into every rule that
//! uses them (`open_write`, `spawned_process`, `container`…), so dozens of rules repeat the
//! same subtrees; identical `and`/`or`/`not` subtrees found in two or more places get one
//! cache slot and each event computes them once.

use super::Node;
use std::collections::HashMap;

/// Interns subtrees bottom-up: equal structure, equal id.
#[derive(Default)]
struct Interner {
    ids: HashMap<String, u32>,
    counts: Vec<u32>,
}

impl Interner {
    fn id(&mut self, key: String) -> u32 {
        let next = self.ids.len() as u32;
        let id = *self.ids.entry(key).or_insert(next);
        if id == next {
            self.counts.push(0);
        }
        self.counts[id as usize] += 1;
        id
    }

    /// The structural id of `node`; counts one more occurrence of every subtree.
    fn visit(&mut self, node: &Node) -> u32 {
        let key = match node {
            Node::And(v) | Node::Or(v) => {
                let kids: Vec<String> = v.iter().map(|n| self.visit(n).to_string()).collect();
                let kind = if matches!(node, Node::And(_)) {
                    "and"
                } else {
                    "or"
                };
                format!("{kind}({})", kids.join(","))
            }
            Node::Not(n) => format!("not({})", self.visit(n)),
            Node::Memo { inner, .. } => return self.visit(inner),
            leaf => format!("{leaf:?}"),
        };
        self.id(key)
    }
}

/// Wraps every compound subtree that occurs at least twice across `roots` in a
/// [`Node::Memo`]. Returns the number of memo slots used.
pub(crate) fn share_subexpressions(roots: &mut [&mut Node]) -> usize {
    let mut interner = Interner::default();
    for root in roots.iter() {
        interner.visit(root);
    }
    let mut slots: HashMap<u32, u32> = HashMap::new();
    let mut rebuild = Interner {
        ids: interner.ids.clone(),
        counts: vec![0; interner.counts.len()],
    };
    for root in roots.iter_mut() {
        wrap(root, &mut rebuild, &interner.counts, &mut slots);
    }
    slots.len()
}

fn wrap(node: &mut Node, ids: &mut Interner, counts: &[u32], slots: &mut HashMap<u32, u32>) -> u32 {
    let id = match node {
        Node::And(v) | Node::Or(v) => {
            let kids: Vec<String> = v
                .iter_mut()
                .map(|n| wrap(n, ids, counts, slots).to_string())
                .collect();
            let kind = if matches!(node, Node::And(_)) {
                "and"
            } else {
                "or"
            };
            ids.id(format!("{kind}({})", kids.join(",")))
        }
        Node::Not(n) => {
            let inner = wrap(n, ids, counts, slots);
            ids.id(format!("not({inner})"))
        }
        Node::Memo { inner, .. } => return wrap(inner, ids, counts, slots),
        Node::Check(_) => ids.id(format!("{node:?}")),
        leaf => return ids.id(format!("{leaf:?}")),
    };
    if counts.get(id as usize).copied().unwrap_or(0) >= 2 {
        let next = slots.len() as u32;
        let slot = *slots.entry(id).or_insert(next);
        let inner = std::mem::replace(node, Node::Const(false));
        *node = Node::Memo {
            slot,
            inner: Box::new(inner),
        };
    }
    id
}
