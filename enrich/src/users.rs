//! uid/gid → user and group names, from the host's `/etc/passwd` and `/etc/group` and, for
//! processes in containers, from the container's own files (`/proc/<pid>/root/etc/…`).
//!
//! Each database is parsed whole (these files are small) and re-read when its mtime or size
//! changes, checked at most once per `recheck` interval. Container databases sit in an LRU
//! keyed by container id.

use crate::error::{Error, Result};
use lru::LruCache;
use peregrine_event::{GroupInfo, UserInfo};
use rustc_hash::FxHashMap;
use std::fs;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// `/etc/passwd`: `name:x:uid:gid:gecos:home:shell`. Malformed lines are skipped; the first
/// entry for a uid wins, as with getpwuid.
pub fn parse_passwd(text: &str) -> FxHashMap<u32, Arc<UserInfo>> {
    let mut out = FxHashMap::default();
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 7 || f[0].is_empty() {
            continue;
        }
        let Ok(uid) = f[2].parse::<u32>() else {
            continue;
        };
        out.entry(uid).or_insert_with(|| {
            Arc::new(UserInfo {
                uid,
                name: f[0].into(),
                homedir: f[5].into(),
                shell: f[6].into(),
            })
        });
    }
    out
}

/// `/etc/group`: `name:x:gid:members`.
pub fn parse_group(text: &str) -> FxHashMap<u32, Arc<GroupInfo>> {
    let mut out = FxHashMap::default();
    for line in text.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 3 || f[0].is_empty() || line.starts_with('#') {
            continue;
        }
        let Ok(gid) = f[2].parse::<u32>() else {
            continue;
        };
        out.entry(gid).or_insert_with(|| {
            Arc::new(GroupInfo {
                gid,
                name: f[0].into(),
            })
        });
    }
    out
}

/// One parsed file and what it looked like when read.
#[derive(Debug)]
struct Watched<T> {
    path: PathBuf,
    stamp: Option<(SystemTime, u64)>,
    checked: Instant,
    data: FxHashMap<u32, Arc<T>>,
}

impl<T> Watched<T> {
    fn load(path: PathBuf, parse: fn(&str) -> FxHashMap<u32, Arc<T>>) -> Result<Watched<T>> {
        let stamp = stamp(&path);
        let text = fs::read_to_string(&path).map_err(|e| Error::read(&path, e))?;
        Ok(Watched {
            data: parse(&text),
            path,
            stamp,
            checked: Instant::now(),
        })
    }

    /// Re-reads the file when its mtime or size changed; true when it did. A file that
    /// became unreadable keeps its last contents.
    fn refresh(
        &mut self,
        path: Option<PathBuf>,
        parse: fn(&str) -> FxHashMap<u32, Arc<T>>,
    ) -> bool {
        self.checked = Instant::now();
        if let Some(path) = path {
            self.path = path;
        }
        let now = stamp(&self.path);
        if now.is_none() || now == self.stamp {
            return false;
        }
        match fs::read_to_string(&self.path) {
            Ok(text) => {
                self.data = parse(&text);
                self.stamp = now;
                true
            }
            Err(_) => false,
        }
    }
}

fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// The passwd and group files of one root (the host's `/`, or a container's).
#[derive(Debug)]
struct Db {
    passwd: Option<Watched<UserInfo>>,
    group: Option<Watched<GroupInfo>>,
    loaded: Instant,
    /// The process whose root the files were read through.
    pid: i64,
}

impl Db {
    fn load(root: &Path, pid: i64) -> Db {
        let passwd = Watched::load(root.join("etc/passwd"), parse_passwd)
            .map_err(|e| tracing::debug!(error = %e, "user database unavailable"))
            .ok();
        let group = Watched::load(root.join("etc/group"), parse_group)
            .map_err(|e| tracing::debug!(error = %e, "group database unavailable"))
            .ok();
        Db {
            passwd,
            group,
            loaded: Instant::now(),
            pid,
        }
    }

    fn is_empty(&self) -> bool {
        self.passwd.is_none() && self.group.is_none()
    }

    /// Refreshes both files when due (re-reading from `root`, which for a container is the
    /// root of whichever of its processes asked); counts reloads.
    fn maybe_refresh(&mut self, root: &Path, every: Duration, reloads: &mut u64) {
        let due = |checked: Instant| checked.elapsed() >= every;
        if let Some(p) = self.passwd.as_mut().filter(|p| due(p.checked)) {
            *reloads += u64::from(p.refresh(Some(root.join("etc/passwd")), parse_passwd));
        }
        if let Some(g) = self.group.as_mut().filter(|g| due(g.checked)) {
            *reloads += u64::from(g.refresh(Some(root.join("etc/group")), parse_group));
        }
    }
}

/// Where a process's users come from.
#[derive(Clone, Copy, Debug)]
pub enum Scope<'a> {
    Host,
    /// A container (full id) and one of its live processes, whose root holds the files.
    Container {
        id: &'a Arc<str>,
        pid: i64,
    },
}

/// Counters of the user databases.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UserStats {
    pub reloads: u64,
    pub container_loads: u64,
    pub container_load_failures: u64,
    pub container_evictions: u64,
}

/// Host and per-container user and group databases.
#[derive(Debug)]
pub struct UserTable {
    host_root: PathBuf,
    proc_root: PathBuf,
    host: Db,
    containers: LruCache<Arc<str>, Db>,
    recheck: Duration,
    pub(crate) stats: UserStats,
}

impl UserTable {
    /// `host_root` is where the host's `etc/` lives (`/`), `proc_root` the `/proc` to reach
    /// container roots through.
    pub fn new(
        host_root: PathBuf,
        proc_root: PathBuf,
        containers: usize,
        recheck: Duration,
    ) -> UserTable {
        let host = Db::load(&host_root, 0);
        if host.is_empty() {
            tracing::warn!(root = %host_root.display(), "no host passwd or group file; user names will show as <NA>");
        }
        let cap = NonZeroUsize::new(containers.max(1)).unwrap_or(NonZeroUsize::MIN);
        UserTable {
            host_root,
            proc_root,
            host,
            containers: LruCache::new(cap),
            recheck,
            stats: UserStats::default(),
        }
    }

    fn db(&mut self, scope: Scope<'_>) -> Option<&Db> {
        match scope {
            Scope::Host => {
                self.host
                    .maybe_refresh(&self.host_root, self.recheck, &mut self.stats.reloads);
                Some(&self.host)
            }
            Scope::Container { id, pid } => {
                let root = self.proc_root.join(pid.to_string()).join("root");
                let recheck = self.recheck;
                let stats = &mut self.stats;
                let load = |stats: &mut UserStats| {
                    let db = Db::load(&root, pid);
                    stats.container_loads += 1;
                    if db.is_empty() {
                        stats.container_load_failures += 1;
                    }
                    db
                };
                match self.containers.get_mut(id) {
                    // A failed load (the process had already exited, say) is retried through
                    // another process of the container, or after the recheck interval.
                    Some(db)
                        if db.is_empty() && (db.pid != pid || db.loaded.elapsed() >= recheck) =>
                    {
                        *db = load(stats)
                    }
                    Some(db) => db.maybe_refresh(&root, recheck, &mut stats.reloads),
                    None => {
                        let db = load(stats);
                        if self.containers.push(id.clone(), db).is_some() {
                            stats.container_evictions += 1;
                        }
                    }
                }
                self.containers.peek(id)
            }
        }
    }

    pub fn user(&mut self, scope: Scope<'_>, uid: u32) -> Option<Arc<UserInfo>> {
        self.db(scope)?.passwd.as_ref()?.data.get(&uid).cloned()
    }

    pub fn group(&mut self, scope: Scope<'_>, gid: u32) -> Option<Arc<GroupInfo>> {
        self.db(scope)?.group.as_ref()?.data.get(&gid).cloned()
    }

    pub fn stats(&self) -> UserStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\n\
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
# comment\n\
broken line\n\
bad:x:notanumber:0::/:/bin/sh\n\
:x:5:5::/:/bin/sh\n\
alice:x:1000:1000:Alice,,,:/home/alice:/bin/zsh\n\
alice2:x:1000:1000::/home/alice2:/bin/sh\n";

    #[test]
    fn parses_passwd_and_group() {
        let users = parse_passwd(PASSWD);
        assert_eq!(users.len(), 3);
        let alice = &users[&1000];
        assert_eq!(
            (&*alice.name, &*alice.homedir, &*alice.shell),
            ("alice", "/home/alice", "/bin/zsh")
        );
        let groups = parse_group("root:x:0:\nwheel:x:10:alice,bob\nnogid:x:\n\n");
        assert_eq!(groups.len(), 2);
        assert_eq!(&*groups[&10].name, "wheel");
    }

    fn tmpdir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("peregrine-users-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("etc")).unwrap();
        dir
    }

    #[test]
    fn host_file_reloads_on_change() {
        let root = tmpdir("host");
        fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/bash\n").unwrap();
        fs::write(root.join("etc/group"), "root:x:0:\n").unwrap();
        let mut t = UserTable::new(root.clone(), root.join("proc"), 4, Duration::ZERO);
        assert_eq!(t.user(Scope::Host, 0).unwrap().name.as_ref(), "root");
        assert!(t.user(Scope::Host, 1001).is_none());
        fs::write(
            root.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/bash\nbob:x:1001:1001::/home/bob:/bin/sh\n",
        )
        .unwrap();
        assert_eq!(t.user(Scope::Host, 1001).unwrap().name.as_ref(), "bob");
        assert_eq!(t.stats().reloads, 1);
        assert_eq!(t.group(Scope::Host, 0).unwrap().name.as_ref(), "root");
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn container_files_come_from_the_process_root() {
        let root = tmpdir("ctr");
        fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/bash\n").unwrap();
        let croot = root.join("proc/42/root/etc");
        fs::create_dir_all(&croot).unwrap();
        fs::write(
            croot.join("passwd"),
            "root:x:0:0:root:/root:/bin/ash\npostgres:x:70:70::/var/lib/postgresql:/bin/sh\n",
        )
        .unwrap();
        fs::write(croot.join("group"), "postgres:x:70:\n").unwrap();
        let mut t = UserTable::new(root.clone(), root.join("proc"), 1, Duration::from_secs(60));
        let id: Arc<str> = "c1".into();
        let scope = Scope::Container { id: &id, pid: 42 };
        assert_eq!(t.user(scope, 70).unwrap().name.as_ref(), "postgres");
        assert_eq!(t.group(scope, 70).unwrap().name.as_ref(), "postgres");
        assert_eq!(t.user(scope, 0).unwrap().shell.as_ref(), "/bin/ash");
        assert!(
            t.user(Scope::Host, 70).is_none(),
            "host does not know the container's users"
        );
        // A container whose root is gone: no names, counted, and it evicts the first (cap 1).
        let other: Arc<str> = "c2".into();
        assert!(t
            .user(
                Scope::Container {
                    id: &other,
                    pid: 999
                },
                0
            )
            .is_none());
        let s = t.stats();
        assert_eq!(
            (
                s.container_loads,
                s.container_load_failures,
                s.container_evictions
            ),
            (2, 1, 1)
        );
        // Another process of that container, still running, gets its files read.
        let croot = root.join("proc/43/root/etc");
        fs::create_dir_all(&croot).unwrap();
        fs::write(croot.join("passwd"), "app:x:1001:1001::/app:/bin/sh\n").unwrap();
        let scope = Scope::Container {
            id: &other,
            pid: 43,
        };
        assert_eq!(t.user(scope, 1001).unwrap().name.as_ref(), "app");
        assert_eq!(t.stats().container_loads, 3);
        fs::remove_dir_all(&root).unwrap();
    }
}
