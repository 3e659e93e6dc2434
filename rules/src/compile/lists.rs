//! Lists: expansion of list references inside lists, and Falco's textual substitution of
//! list names into conditions (done before parsing, exactly as Falco does, so that
//! `proc.name in (shell_binaries)` and even `proc.name = my_list` behave alike).

use crate::collection::Collection;

/// A list after expanding references to lists defined before it.
#[derive(Debug, Clone)]
pub(crate) struct ExpandedList {
    pub name: String,
    pub items: Vec<String>,
    pub used: bool,
}

/// Expands list items that name an earlier list (by index, as seen at the list's
/// visibility), in definition order.
pub(crate) fn expand_lists(col: &Collection) -> Vec<ExpandedList> {
    let mut out: Vec<ExpandedList> = Vec::with_capacity(col.lists.len());
    let mut used = Vec::new();
    for list in &col.lists {
        let mut items = Vec::with_capacity(list.items.len());
        for item in &list.items {
            match col.list_index.get(item) {
                Some(&ref_pos) if col.lists[ref_pos].index < list.visibility => {
                    used.push(ref_pos);
                    items.extend(col.lists[ref_pos].items.iter().cloned());
                }
                _ => items.push(item.clone()),
            }
        }
        out.push(ExpandedList {
            name: list.name.clone(),
            items,
            used: false,
        });
    }
    for i in used {
        out[i].used = true;
    }
    out
}

/// Wraps an item containing a space in double quotes unless it is already quoted.
pub(crate) fn quote_item(item: &str) -> String {
    if item.contains(' ') && !item.starts_with('"') && !item.starts_with('\'') {
        format!("\"{item}\"")
    } else {
        item.to_string()
    }
}

const BLANKS: &[u8] = b" \t\n\r";

fn is_delim(c: u8) -> bool {
    BLANKS.contains(&c) || b"(),=".contains(&c)
}

/// Replaces every delimited occurrence of the list's name in `cond` by its comma-joined
/// items. Returns whether the list was used.
pub(crate) fn substitute_list(cond: &mut String, list: &ExpandedList) -> bool {
    let name = list.name.as_bytes();
    if name.is_empty() {
        return false;
    }
    let mut used = false;
    let mut search_from = 0;
    while let Some(found) = find_from(cond.as_bytes(), name, search_from) {
        let bytes = cond.as_bytes();
        let (mut start, mut end) = (found, found + name.len());
        let before_ok = start == 0 || is_delim(bytes[start - 1]);
        let after_ok = end >= bytes.len() || is_delim(bytes[end]);
        if !(before_ok && after_ok) {
            search_from = found + 1;
            continue;
        }
        while start > 0 && BLANKS.contains(&bytes[start - 1]) {
            start -= 1;
        }
        while end < bytes.len() && BLANKS.contains(&bytes[end]) {
            end += 1;
        }
        let sub = list
            .items
            .iter()
            .map(|i| quote_item(i))
            .collect::<Vec<_>>()
            .join(", ");
        if sub.is_empty() {
            // An empty list also takes one adjacent comma with it.
            if start > 0 && bytes[start - 1] == b',' {
                start -= 1;
            } else if end < bytes.len() && bytes[end] == b',' {
                end += 1;
            }
        }
        let mut new = String::with_capacity(cond.len() + sub.len() + 2);
        if start > 0 {
            new.push_str(&cond[..start]);
            new.push(' ');
        }
        new.push_str(&sub);
        new.push(' ');
        new.push_str(&cond[end..]);
        let resume = start + sub.len() + 1;
        *cond = new;
        used = true;
        search_from = resume + 1;
    }
    used
}

fn find_from(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if from >= hay.len() {
        return None;
    }
    memchr::memmem::find(&hay[from..], needle).map(|i| i + from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(name: &str, items: &[&str]) -> ExpandedList {
        ExpandedList {
            name: name.into(),
            items: items.iter().map(|s| s.to_string()).collect(),
            used: false,
        }
    }

    #[test]
    fn substitutes_delimited_names_only() {
        let mut c = "proc.name in (shell_binaries) and fd.name=shell_binaries_x".to_string();
        assert!(substitute_list(
            &mut c,
            &list("shell_binaries", &["bash", "zsh"])
        ));
        assert_eq!(c, "proc.name in ( bash, zsh ) and fd.name=shell_binaries_x");
    }

    #[test]
    fn bare_value_and_whitespace() {
        let mut c = "proc.name= cat_binaries or proc.name=nopey".to_string();
        assert!(substitute_list(&mut c, &list("cat_binaries", &["cat"])));
        assert_eq!(c, "proc.name= cat or proc.name=nopey");
    }

    #[test]
    fn quoted_items_and_empty_lists() {
        let mut c = "fd.name in (a_list, other)".to_string();
        assert!(substitute_list(&mut c, &list("a_list", &["/tmp/x y"])));
        assert_eq!(c, "fd.name in ( \"/tmp/x y\" , other)");
        let mut c = "fd.name in (empty, other)".to_string();
        assert!(substitute_list(&mut c, &list("empty", &[])));
        assert_eq!(c, "fd.name in (   other)");
        let mut c = "fd.name in (other, empty)".to_string();
        assert!(substitute_list(&mut c, &list("empty", &[])));
        assert_eq!(c, "fd.name in (other  )");
    }

    #[test]
    fn substring_of_longer_name_is_not_replaced() {
        let mut c = "fd.name in (file_my_list)".to_string();
        assert!(!substitute_list(
            &mut c,
            &list("my_list", &["\"one string\""])
        ));
        assert_eq!(c, "fd.name in (file_my_list)");
    }
}
