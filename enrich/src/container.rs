//! Container id from a cgroup path: a pure function over the paths container runtimes
//! create (cgroup v1 and v2, cgroupfs and systemd drivers).
//!
//! Only known runtime patterns count. In particular `/process_api/<32 hex>` (every host
//! process on these machines) and the runtimes' own helpers (`libpod-conmon-…`,
//! `crio-conmon-…`) are not containers.

/// The runtime a cgroup path belongs to, as far as the path tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runtime {
    Docker,
    Podman,
    Containerd,
    CriO,
    /// A kubepods path with a bare id (cgroupfs driver): docker or containerd, the path
    /// does not say which.
    Kubernetes,
}

impl Runtime {
    pub fn as_str(self) -> &'static str {
        match self {
            Runtime::Docker => "docker",
            Runtime::Podman => "podman",
            Runtime::Containerd => "containerd",
            Runtime::CriO => "cri-o",
            Runtime::Kubernetes => "cri",
        }
    }
}

/// A container found in a cgroup path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CgroupContainer<'a> {
    pub runtime: Runtime,
    /// The full 64-hex-digit id.
    pub id: &'a str,
}

impl CgroupContainer<'_> {
    /// Falco's short id: the first 12 characters.
    pub fn short_id(&self) -> &str {
        short_id(self.id)
    }
}

/// Falco's short container id: the first 12 characters of the full id.
pub fn short_id(full: &str) -> &str {
    full.get(..12).unwrap_or(full)
}

const ID_LEN: usize = 64;

pub(crate) fn is_id(s: &str) -> bool {
    s.len() == ID_LEN
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `<prefix><64 hex>` optionally followed by `.scope`.
fn prefixed_id<'a>(comp: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = comp.strip_prefix(prefix)?;
    let id = rest.strip_suffix(".scope").unwrap_or(rest);
    is_id(id).then_some(id)
}

/// One path component on its own; `prev` is the component before it.
fn match_component<'a>(
    comp: &'a str,
    prev: Option<&str>,
    in_kubepods: bool,
) -> Option<CgroupContainer<'a>> {
    let found = |runtime, id| Some(CgroupContainer { runtime, id });
    if let Some(id) = prefixed_id(comp, "docker-") {
        return found(Runtime::Docker, id);
    }
    if let Some(id) = prefixed_id(comp, "libpod-") {
        return found(Runtime::Podman, id);
    }
    if let Some(id) = prefixed_id(comp, "cri-containerd-") {
        return found(Runtime::Containerd, id);
    }
    if let Some(id) = prefixed_id(comp, "crio-") {
        return found(Runtime::CriO, id);
    }
    // containerd's systemd driver without systemd: `kubepods-…-pod<uid>.slice:cri-containerd:<id>`.
    if let Some((_, id)) = comp.rsplit_once(":cri-containerd:") {
        if is_id(id) {
            return found(Runtime::Containerd, id);
        }
    }
    if let Some((_, id)) = comp.rsplit_once(":crio:") {
        if is_id(id) {
            return found(Runtime::CriO, id);
        }
    }
    if is_id(comp) {
        match prev {
            Some("docker") => return found(Runtime::Docker, comp),
            _ if in_kubepods => return found(Runtime::Kubernetes, comp),
            _ => {}
        }
    }
    None
}

/// The container a cgroup path belongs to; `None` for host cgroups. The innermost match
/// wins (docker-in-docker paths nest).
pub fn container_from_path(path: &str) -> Option<CgroupContainer<'_>> {
    let comps: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    let in_kubepods = comps.iter().any(|c| c.starts_with("kubepods"));
    (0..comps.len()).rev().find_map(|i| {
        let prev = i.checked_sub(1).map(|j| comps[j]);
        match_component(comps[i], prev, in_kubepods)
    })
}

/// The container of a process from its cgroup list, as the exec event carries it
/// (`subsys=path`) or as `/proc/<pid>/cgroup` lists it (`id:subsys:path`): the first entry
/// that names a container.
pub fn container_from_cgroups<'a, I>(entries: I) -> Option<CgroupContainer<'a>>
where
    I: IntoIterator<Item = &'a str>,
{
    entries.into_iter().find_map(|entry| {
        // `/proc` lines start with the hierarchy number; `name=systemd` has a '=' of its own.
        let proc_form = entry.starts_with(|c: char| c.is_ascii_digit());
        let path = match entry.split_once('=') {
            Some((_, path)) if !proc_form => path,
            _ => entry.splitn(3, ':').nth(2).unwrap_or(entry),
        };
        container_from_path(path)
    })
}

/// Whether a process is a container runtime's own helper that has already been moved into
/// the container's cgroup but is not the container's workload: runc's `runc init` (started
/// as `runc init`, often from a memfd copy of the binary, then renamed `runc:[0:PARENT]`,
/// `runc:[1:CHILD]`, `runc:[2:INIT]`) until it execs the container's command. Such a
/// process belongs to the host, as its parent runc does.
pub fn is_runtime_helper(comm: &str, exe: &str, args: &[String]) -> bool {
    if comm.starts_with("runc:[") {
        return true;
    }
    let base = exe.rsplit('/').next().unwrap_or(exe);
    (comm == "runc" || base == "runc") && args.first().is_some_and(|a| a == "init")
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f4b2a1c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a";

    #[test]
    fn real_world_paths() {
        let pod_uid = "pod5d9e4f3a-1b2c-4d5e-8f9a-0b1c2d3e4f5a";
        let cases: Vec<(String, Option<Runtime>)> = vec![
            // docker, cgroupfs driver (v1) and systemd driver (v1 and v2)
            (format!("/docker/{ID}"), Some(Runtime::Docker)),
            (format!("/system.slice/docker-{ID}.scope"), Some(Runtime::Docker)),
            (format!("/docker/{ID}/docker/{}", &ID.replace('3', "4")), Some(Runtime::Docker)),
            // podman: cgroupfs (this machine), systemd rootful and rootless
            (format!("/libpod_parent/libpod-{ID}"), Some(Runtime::Podman)),
            (format!("/machine.slice/libpod-{ID}.scope"), Some(Runtime::Podman)),
            (format!("/machine.slice/libpod-{ID}.scope/container"), Some(Runtime::Podman)),
            (
                format!("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{ID}.scope"),
                Some(Runtime::Podman),
            ),
            // conmon and the runtime helpers are not containers
            ("/libpod_parent/conmon".to_string(), None),
            (format!("/machine.slice/libpod-conmon-{ID}.scope"), None),
            (format!("/kubepods.slice/crio-conmon-{ID}.scope"), None),
            // containerd / CRI
            (
                format!("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-{pod_uid}.slice/cri-containerd-{ID}.scope"),
                Some(Runtime::Containerd),
            ),
            (
                format!("/system.slice/containerd.service/kubepods-burstable-{pod_uid}.slice:cri-containerd:{ID}"),
                Some(Runtime::Containerd),
            ),
            (format!("/kubepods/besteffort/{pod_uid}/{ID}"), Some(Runtime::Kubernetes)),
            (format!("/kubepods/{pod_uid}/{ID}"), Some(Runtime::Kubernetes)),
            // CRI-O
            (
                format!("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-{pod_uid}.slice/crio-{ID}.scope"),
                Some(Runtime::CriO),
            ),
            (format!("/kubepods/burstable/{pod_uid}/crio-{ID}"), Some(Runtime::CriO)),
            // host paths
            ("/".to_string(), None),
            ("/process_api/9c2a9112d929dbfa8292c8f38afefe4d".to_string(), None),
            ("/user.slice/user-1000.slice/session-3.scope".to_string(), None),
            ("/system.slice/docker.service".to_string(), None),
            ("/init.scope".to_string(), None),
            // a bare 64-hex id outside docker/kubepods is not a known pattern
            (format!("/some/{ID}"), None),
            // not quite an id: uppercase, short, long
            (format!("/docker/{}", ID.to_uppercase()), None),
            (format!("/docker/{}", &ID[..63]), None),
            (format!("/system.slice/docker-{ID}0.scope"), None),
        ];
        for (path, want) in cases {
            let got = container_from_path(&path);
            assert_eq!(got.map(|c| c.runtime), want, "{path}");
            if let Some(c) = got {
                assert_eq!(c.id.len(), 64, "{path}");
                assert_eq!(c.short_id().len(), 12);
            }
        }
        let nested = format!("/docker/{ID}/docker/{}", ID.replace('3', "4"));
        assert!(container_from_path(&nested).unwrap().id.starts_with("4f4b"));
    }

    #[test]
    fn cgroup_lists_from_exec_and_proc() {
        let exec = [
            "cpuset=/".to_string(),
            "memory=/process_api/9c2a9112d929dbfa8292c8f38afefe4d".to_string(),
            format!("pids=/libpod_parent/libpod-{ID}"),
        ];
        let c = container_from_cgroups(exec.iter().map(String::as_str)).unwrap();
        assert_eq!((c.runtime, c.short_id()), (Runtime::Podman, "3f4b2a1c9d8e"));

        let v2 = [format!("unified=/system.slice/docker-{ID}.scope")];
        assert_eq!(
            container_from_cgroups(v2.iter().map(String::as_str)).map(|c| c.runtime),
            Some(Runtime::Docker)
        );

        let proc_file = format!("9:name=systemd:/\n4:memory:/docker/{ID}\n0::/\n");
        assert_eq!(
            container_from_cgroups([format!("1:name=systemd:/docker/{ID}").as_str()]).map(|c| c.id),
            Some(ID)
        );
        let c = container_from_cgroups(proc_file.lines()).unwrap();
        assert_eq!(c.id, ID);

        let host = "4:memory:/process_api/9c2a9112d929dbfa8292c8f38afefe4d\n0::/\n";
        assert_eq!(container_from_cgroups(host.lines()), None);
        assert_eq!(
            container_from_cgroups(["", "garbage", "a:b", "=", "::"]),
            None
        );
    }

    #[test]
    fn runc_init_is_a_helper() {
        let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(is_runtime_helper("runc", "/usr/bin/runc", &args(&["init"])));
        assert!(is_runtime_helper("6", "runc", &args(&["init"])));
        assert!(is_runtime_helper("runc:[2:INIT]", "runc", &args(&["init"])));
        assert!(is_runtime_helper("runc:[1:CHILD]", "", &[]));
        assert!(!is_runtime_helper(
            "runc",
            "/usr/bin/runc",
            &args(&["start", "x"])
        ));
        assert!(!is_runtime_helper("cat", "cat", &args(&["init"])));
        assert!(!is_runtime_helper("sh", "/bin/sh", &[]));
    }

    #[test]
    fn short_ids() {
        assert_eq!(short_id(ID), "3f4b2a1c9d8e");
        assert_eq!(short_id("abc"), "abc");
    }
}
