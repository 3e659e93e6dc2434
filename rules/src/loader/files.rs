//! Which files a `rules_files` list loads, in which order.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// The outcome of expanding `rules_files` entries.
#[derive(Debug, Default)]
pub struct RulesFiles {
    /// The files to read, in load order.
    pub files: Vec<PathBuf>,
    /// Entries that do not exist or cannot be listed. Falco silently skips these when they
    /// come from the configuration and fails when they were given with `-r`.
    pub missing: Vec<MissingEntry>,
    /// File entries skipped because their name does not end in `.yaml` or `.yml`.
    pub ignored: Vec<PathBuf>,
}

/// A `rules_files` entry that could not be used.
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", path.display())]
pub struct MissingEntry {
    pub path: PathBuf,
    pub source: io::Error,
}

/// Expands `rules_files` entries as Falco does: entries in the given order; a directory
/// contributes its regular files (symlinks followed, unreadable entries skipped, no
/// recursion) named `*.yaml`/`*.yml`, sorted by full path; a file entry is used only if it
/// is named `*.yaml`/`*.yml`.
pub fn rules_files(entries: &[PathBuf]) -> RulesFiles {
    let mut out = RulesFiles::default();
    for entry in entries {
        match fs::metadata(entry) {
            Err(source) => out.missing.push(MissingEntry {
                path: entry.clone(),
                source,
            }),
            Ok(meta) if meta.is_dir() => match directory_files(entry) {
                Ok(files) => out.files.extend(files),
                Err(source) => out.missing.push(MissingEntry {
                    path: entry.clone(),
                    source,
                }),
            },
            Ok(_) if is_yaml_name(entry) => out.files.push(entry.clone()),
            Ok(_) => out.ignored.push(entry.clone()),
        }
    }
    out
}

fn directory_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| fs::metadata(p).is_ok_and(|m| m.is_file()) && is_yaml_name(p))
        .collect();
    files.sort_by(|a, b| {
        a.as_os_str()
            .as_encoded_bytes()
            .cmp(b.as_os_str().as_encoded_bytes())
    });
    Ok(files)
}

fn is_yaml_name(path: &Path) -> bool {
    let bytes = path.as_os_str().as_encoded_bytes();
    bytes.ends_with(b".yaml") || bytes.ends_with(b".yml")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "peregrine-rules-files-{name}-{}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create scratch dir");
        dir
    }

    fn touch(path: &Path) {
        fs::write(path, "- list: x\n  items: []\n").expect("write file");
    }

    #[test]
    fn directory_files_sorted_filtered_not_recursive() {
        let dir = scratch("dir");
        for name in ["b.yaml", "a.yml", "c.txt", "10-z.yaml", "0-first.yaml"] {
            touch(&dir.join(name));
        }
        fs::create_dir(dir.join("sub.yaml")).expect("subdir");
        touch(&dir.join("sub.yaml").join("inner.yaml"));
        let got = rules_files(std::slice::from_ref(&dir));
        let names: Vec<String> = got
            .files
            .iter()
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect();
        assert_eq!(names, ["0-first.yaml", "10-z.yaml", "a.yml", "b.yaml"]);
        assert!(got.missing.is_empty());
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn entries_keep_order_and_report_missing_and_ignored() {
        let dir = scratch("entries");
        let second = dir.join("second.yaml");
        let first = dir.join("first.yml");
        let text = dir.join("notes.txt");
        for p in [&second, &first, &text] {
            touch(p);
        }
        let missing = dir.join("nope.yaml");
        let got = rules_files(&[second.clone(), missing.clone(), text.clone(), first.clone()]);
        assert_eq!(got.files, [second, first]);
        assert_eq!(got.ignored, [text]);
        assert_eq!(got.missing.len(), 1);
        assert_eq!(got.missing[0].path, missing);
        assert_eq!(got.missing[0].source.kind(), io::ErrorKind::NotFound);
        let _ = fs::remove_dir_all(&dir);
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_followed_and_dangling_ones_skipped() {
        let dir = scratch("links");
        let real = scratch("links-target");
        touch(&real.join("r.yaml"));
        std::os::unix::fs::symlink(real.join("r.yaml"), dir.join("link.yaml")).expect("link");
        std::os::unix::fs::symlink(dir.join("gone.yaml"), dir.join("dangling.yaml"))
            .expect("dangling link");
        let linked_dir = dir.join("dirlink");
        std::os::unix::fs::symlink(&real, &linked_dir).expect("dir link");
        let got = rules_files(&[dir.clone(), linked_dir.clone()]);
        assert_eq!(
            got.files,
            [dir.join("link.yaml"), linked_dir.join("r.yaml")]
        );
        let _ = fs::remove_dir_all(&dir);
        let _ = fs::remove_dir_all(&real);
    }
}
