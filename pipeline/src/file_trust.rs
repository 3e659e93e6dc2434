//! Whether a config or rules file could have been written by someone other than the agent's
//! operator: the root agent must not take its rules (or a path to a secret it would print in
//! an error) from a user who can write a directory on the way or own a symlink to it.
//!
//! The path is walked from `/` one component at a time, symlinks followed by hand (at most
//! [`MAX_LINKS`]), so that every directory crossed and every link taken is seen:
//! - a symlink must be owned by root or the agent's uid;
//! - every directory on the resolved path, and the file, must be owned by root or the
//!   agent's uid and not be writable by group or others; a directory writable by all but
//!   sticky and owned by root (`/tmp`) is fine, as in sshd's `StrictModes`, since no one can
//!   replace another user's entry in it.

use peregrine_config::UntrustedFiles;
use std::collections::VecDeque;
use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

/// Links followed on one path before giving up (the kernel's own limit).
pub const MAX_LINKS: usize = 40;

/// Why a file is not trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {reason}")]
pub struct Untrusted {
    /// The file as it was named (config, `rules_files` or `-r` entry).
    pub file: PathBuf,
    pub reason: String,
}

/// The uids whose files the agent trusts: root and its own effective uid.
fn trusted_uid(uid: u32) -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    uid == 0 || uid == unsafe { libc::geteuid() }
}

fn owner_name(uid: u32) -> String {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .filter_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            let id = f.nth(1)?.parse::<u32>().ok()?;
            (id == uid).then(|| format!("uid {uid} ({name})"))
        })
        .next()
        .unwrap_or_else(|| format!("uid {uid}"))
}

/// `/dev/null`'s device number (1, 3): whoever writes it, it reads empty (`-c /dev/null`
/// is the usual way to say "no config file").
fn is_dev_null(md: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::FileTypeExt;
    md.file_type().is_char_device() && md.rdev() == libc::makedev(1, 3)
}

/// What is wrong with one directory or file met on the walk, if anything.
fn judge(path: &Path, md: &std::fs::Metadata) -> Option<String> {
    if md.uid() == 0 && is_dev_null(md) {
        return None;
    }
    let mode = md.mode() & 0o7777;
    let what = if md.is_dir() { "directory" } else { "file" };
    if !trusted_uid(md.uid()) {
        return Some(format!(
            "{what} {} is owned by {}, not root or the agent's user (mode {mode:04o})",
            path.display(),
            owner_name(md.uid())
        ));
    }
    let shared_but_sticky = md.is_dir() && md.uid() == 0 && mode & 0o1000 != 0;
    if mode & 0o022 != 0 && !shared_but_sticky {
        let by = match (mode & 0o020 != 0, mode & 0o002 != 0) {
            (true, true) => "group and others",
            (true, false) => "its group",
            _ => "others",
        };
        return Some(format!(
            "{what} {} is writable by {by} (mode {mode:04o}, owner {})",
            path.display(),
            owner_name(md.uid())
        ));
    }
    None
}

/// Checks `file`. A path that does not exist is left to the caller (it reports missing
/// files its own way); any other failure to look at a component is a reason to distrust.
pub fn check(file: &Path) -> Result<(), Untrusted> {
    let untrusted = |reason: String| Untrusted {
        file: file.to_path_buf(),
        reason,
    };
    let absolute = std::path::absolute(file).map_err(|e| untrusted(e.to_string()))?;
    let mut pending: VecDeque<OsString> = VecDeque::new();
    push_front(&mut pending, &absolute);
    let root = Path::new("/");
    let md = std::fs::metadata(root).map_err(|e| untrusted(format!("/: {e}")))?;
    if let Some(why) = judge(root, &md) {
        return Err(untrusted(why));
    }
    let mut at = PathBuf::from("/");
    let mut links = 0;
    while let Some(name) = pending.pop_front() {
        match name.to_str() {
            Some("/") => {
                at = PathBuf::from("/");
                continue;
            }
            Some(".") => continue,
            Some("..") => {
                at.pop();
                continue;
            }
            _ => {}
        }
        let next = at.join(&name);
        let md = match std::fs::symlink_metadata(&next) {
            Ok(md) => md,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(untrusted(format!("{}: {e}", next.display()))),
        };
        if md.file_type().is_symlink() {
            if !trusted_uid(md.uid()) {
                return Err(untrusted(format!(
                    "it is reached through the symlink {} owned by {}",
                    next.display(),
                    owner_name(md.uid())
                )));
            }
            links += 1;
            if links > MAX_LINKS {
                return Err(untrusted(format!("more than {MAX_LINKS} symlinks")));
            }
            let target = std::fs::read_link(&next)
                .map_err(|e| untrusted(format!("{}: {e}", next.display())))?;
            // The link's target is walked from where the link is (or from / when absolute).
            push_front(&mut pending, &target);
            continue;
        }
        if let Some(why) = judge(&next, &md) {
            return Err(untrusted(why));
        }
        at = next;
    }
    Ok(())
}

/// Puts the components of `path` in front of those still to walk.
fn push_front(pending: &mut VecDeque<OsString>, path: &Path) {
    for c in path.components().rev() {
        let part = match c {
            Component::RootDir => OsString::from("/"),
            Component::CurDir => OsString::from("."),
            Component::ParentDir => OsString::from(".."),
            Component::Normal(n) => n.to_os_string(),
            Component::Prefix(_) => continue,
        };
        pending.push_front(part);
    }
}

/// Checks every file, refusing or warning (in the log) as `policy` says; `kind` names them
/// in messages ("config file", "rules file").
pub fn enforce<'a>(
    files: impl IntoIterator<Item = &'a Path>,
    kind: &str,
    policy: UntrustedFiles,
) -> anyhow::Result<()> {
    enforce_with(files, kind, policy, |w| tracing::warn!("{w}"))
}

/// As [`enforce`], handing each warning to `warn`.
pub fn enforce_with<'a>(
    files: impl IntoIterator<Item = &'a Path>,
    kind: &str,
    policy: UntrustedFiles,
    mut warn: impl FnMut(String),
) -> anyhow::Result<()> {
    for f in files {
        if let Err(e) = check(f) {
            match policy {
                UntrustedFiles::Refuse => anyhow::bail!(
                    "refusing the {kind} {}: {} (others could have written what the agent reads; fix the owner or mode, or set untrusted_files: warn)",
                    e.file.display(),
                    e.reason
                ),
                UntrustedFiles::Warn => warn(format!(
                    "reading the {kind} {} although others could have written it (untrusted_files: warn): {}",
                    e.file.display(),
                    e.reason
                )),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("pg-trust-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
        d
    }

    fn write(path: &Path, mode: u32) {
        std::fs::write(path, "- rule: x\n").unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn own_files_under_sticky_tmp_are_trusted_and_missing_ones_left_to_the_caller() {
        let d = dir("ok");
        let f = d.join("r.yaml");
        write(&f, 0o644);
        assert_eq!(check(&f), Ok(()));
        symlink(&f, d.join("link.yaml")).unwrap();
        assert_eq!(check(&d.join("link.yaml")), Ok(()));
        assert_eq!(check(&d.join("missing.yaml")), Ok(()));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn group_or_world_writable_files_and_directories_are_not() {
        let d = dir("modes");
        let f = d.join("r.yaml");
        write(&f, 0o664);
        let e = check(&f).unwrap_err();
        assert!(e.reason.contains("writable by its group (mode 0664"), "{e}");
        write(&f, 0o644);
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = check(&f).unwrap_err();
        assert!(
            e.reason.contains("directory") && e.reason.contains("group and others (mode 0777"),
            "{e}"
        );
        // Relative paths and `..` are walked as the kernel walks them.
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
        let sub = d.join("sub");
        std::fs::create_dir(&sub).unwrap();
        assert_eq!(check(&sub.join("../r.yaml")), Ok(()));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn dev_null_reads_empty_whoever_writes_it() {
        assert_eq!(check(Path::new("/dev/null")), Ok(()));
    }

    #[test]
    fn a_link_loop_is_refused_not_followed_forever() {
        let d = dir("loop");
        symlink(d.join("b"), d.join("a")).unwrap();
        symlink(d.join("a"), d.join("b")).unwrap();
        let e = check(&d.join("a")).unwrap_err();
        assert!(e.reason.contains("more than 40 symlinks"), "{e}");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
