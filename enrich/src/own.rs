//! The agent's own container, so that what runs in it (a shell an operator opens with
//! `kubectl exec`, the agent's helpers) raises no alerts unless asked. Inside a private
//! cgroup namespace `/proc/self/cgroup` says only `/`, so the mounts the runtime made for
//! the container are read too: Docker and Podman mount files from a folder named by the
//! container's id; the kubelet mounts `/dev/termination-log` from a folder named by the
//! pod's uid and the container's name.

use crate::container::{container_from_cgroups, is_id};
use peregrine_event::ContainerInfo;
use std::path::Path;

/// How the agent's own container is recognised in events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OwnContainer {
    /// Its full id.
    Id(String),
    /// A Kubernetes container: its pod's uid and its name in the pod.
    Pod { uid: String, name: String },
}

impl OwnContainer {
    /// Reads `<proc_root>/self/cgroup` and `<proc_root>/self/mountinfo`; `None` on the
    /// host (or when nothing says which container this is).
    pub fn detect(proc_root: &Path) -> Option<OwnContainer> {
        let cgroup = std::fs::read_to_string(proc_root.join("self/cgroup")).unwrap_or_default();
        let mountinfo =
            std::fs::read_to_string(proc_root.join("self/mountinfo")).unwrap_or_default();
        from_texts(&cgroup, &mountinfo)
    }

    /// Whether an event's container is this one.
    pub fn matches(&self, c: &ContainerInfo) -> bool {
        match self {
            OwnContainer::Id(id) => &*c.full_id == id,
            OwnContainer::Pod { uid, name } => {
                c.k8s_pod_uid.as_deref() == Some(uid.as_str())
                    && c.name.as_deref() == Some(name.as_str())
            }
        }
    }
}

/// [`OwnContainer::detect`] over the two files' texts.
pub fn from_texts(cgroup: &str, mountinfo: &str) -> Option<OwnContainer> {
    if let Some(c) = container_from_cgroups(cgroup.lines()) {
        return Some(OwnContainer::Id(c.id.to_string()));
    }
    // mountinfo: `id parent major:minor root mountpoint options ...`; `root` is the path
    // inside the source filesystem of what is mounted at `mountpoint`.
    for line in mountinfo.lines() {
        let mut f = line.split(' ');
        let (Some(root), Some(point)) = (f.nth(3), f.next()) else {
            continue;
        };
        let comps: Vec<&str> = root.split('/').collect();
        match point {
            // .../containers/<id>/hostname (Docker), .../overlay-containers/<id>/userdata/hostname (Podman)
            "/etc/hostname" | "/etc/hosts" | "/etc/resolv.conf" | "/run/.containerenv" => {
                if let Some(id) = comps.iter().rev().find(|c| is_id(c)) {
                    return Some(OwnContainer::Id(id.to_string()));
                }
            }
            // .../pods/<uid>/containers/<name>/<n>
            "/dev/termination-log" => {
                if let Some(i) = comps.iter().position(|&c| c == "pods") {
                    if let (Some(uid), Some(&"containers"), Some(name)) =
                        (comps.get(i + 1), comps.get(i + 2), comps.get(i + 3))
                    {
                        return Some(OwnContainer::Pod {
                            uid: uid.to_string(),
                            name: name.to_string(),
                        });
                    }
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f2a6b9d1c0e4f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c";

    #[test]
    fn the_host_has_no_own_container() {
        assert_eq!(
            from_texts(
                "0::/user.slice/session-1.scope\n",
                "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
            ),
            None
        );
    }

    #[test]
    fn from_the_cgroup_when_the_namespace_shows_it() {
        let cgroup = format!("0::/machine.slice/libpod-{ID}.scope/container\n");
        assert_eq!(from_texts(&cgroup, ""), Some(OwnContainer::Id(ID.into())));
    }

    #[test]
    fn from_the_runtime_mounts_in_a_private_cgroup_namespace() {
        let podman = format!("812 790 8:1 /var/lib/containers/storage/overlay-containers/{ID}/userdata/hostname /etc/hostname rw,relatime - ext4 /dev/sda1 rw\n");
        assert_eq!(
            from_texts("0::/\n", &podman),
            Some(OwnContainer::Id(ID.into()))
        );
        let docker = format!("600 580 8:1 /var/lib/docker/containers/{ID}/hostname /etc/hostname rw - ext4 /dev/sda1 rw\n");
        assert_eq!(
            from_texts("0::/\n", &docker),
            Some(OwnContainer::Id(ID.into()))
        );
        let kubelet = "700 680 8:1 /var/lib/kubelet/pods/5b1f0c2e-8d7a-4e0b-9c1d-2e3f4a5b6c7d/containers/peregrine/0a1b2c3d /dev/termination-log rw - ext4 /dev/sda1 rw\n";
        let own = from_texts("0::/\n", kubelet).unwrap();
        assert_eq!(
            own,
            OwnContainer::Pod {
                uid: "5b1f0c2e-8d7a-4e0b-9c1d-2e3f4a5b6c7d".into(),
                name: "peregrine".into()
            }
        );
        let mut c = ContainerInfo {
            name: Some("peregrine".into()),
            k8s_pod_uid: Some("5b1f0c2e-8d7a-4e0b-9c1d-2e3f4a5b6c7d".into()),
            ..Default::default()
        };
        assert!(own.matches(&c));
        c.name = Some("sidecar".into());
        assert!(!own.matches(&c));
    }
}
