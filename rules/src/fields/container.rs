//! `container.*` and `k8s.*` fields, with the container plugin's semantics: host processes
//! have id, full id, name and type `host`; other fields are missing for them, and for a
//! container whose metadata has not arrived yet everything but the id is missing.

use super::registry::{Arg, FieldDef, Id, MountSel};
use super::value::{Borrowed, FieldType, Value};
use super::{set_bool, set_u64};
use peregrine_event::{ContainerInfo, Event, Mount, HOST_CONTAINER_ID};
use std::collections::BTreeMap;
use std::fmt::Write;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum F {
    Id,
    FullId,
    Name,
    Image,
    ImageId,
    Type,
    Privileged,
    Mounts,
    Mount,
    MountSource,
    MountDest,
    MountMode,
    MountRdwr,
    MountPropagation,
    ImageRepository,
    ImageTag,
    ImageDigest,
    StartTs,
    Duration,
    Label,
    Labels,
    PodName,
    NsName,
    PodId,
    PodUid,
    PodLabel,
    PodLabels,
}

const fn c(name: &'static str, t: FieldType, desc: &'static str, f: F) -> FieldDef {
    FieldDef::new(name, t, "container", desc, Id::Container(f))
}

const fn k(name: &'static str, desc: &'static str, f: F) -> FieldDef {
    FieldDef::new(name, FieldType::Str, "k8s", desc, Id::Container(f))
}

use super::registry::ArgSpec as A;
use FieldType as T;

const MOUNT_ARG: A = A::IndexOrKey { required: true };

pub(crate) const DEFS: &[FieldDef] = &[
    c("container.id", T::Str, "The truncated container ID (first 12 characters); 'host' for processes not in a container.", F::Id),
    c("container.full_id", T::Str, "The full container ID.", F::FullId),
    c("container.name", T::Str, "The container name; 'host' for processes not in a container.", F::Name),
    c("container.image", T::Str, "The container image name (e.g. falcosecurity/falco:latest).", F::Image),
    c("container.image.id", T::Str, "The container image id (e.g. 6f7e2741b66b).", F::ImageId),
    c("container.type", T::Str, "The container type, e.g. docker, cri-o, containerd.", F::Type),
    c("container.privileged", T::Bool, "'true' for containers running as privileged, 'false' otherwise.", F::Privileged),
    c("container.mounts", T::Str, "Comma-separated mounts, each as 'source:dest:mode:rdrw:propagation'.", F::Mounts),
    c("container.mount", T::Str, "One mount, by number (container.mount[0]) or source pattern (container.mount[/usr/local]), as 'source:dest:mode:rdrw:propagation'.", F::Mount).arg(MOUNT_ARG),
    c("container.mount.source", T::Str, "A mount's source, by number or destination pattern.", F::MountSource).arg(MOUNT_ARG),
    c("container.mount.dest", T::Str, "A mount's destination, by number or source pattern.", F::MountDest).arg(MOUNT_ARG),
    c("container.mount.mode", T::Str, "A mount's mode, by number or source pattern.", F::MountMode).arg(MOUNT_ARG),
    c("container.mount.rdwr", T::Str, "A mount's read/write flag ('true'/'false'), by number or source pattern.", F::MountRdwr).arg(MOUNT_ARG),
    c("container.mount.propagation", T::Str, "A mount's propagation, by number or source pattern.", F::MountPropagation).arg(MOUNT_ARG),
    c("container.image.repository", T::Str, "The container image repository (e.g. falcosecurity/falco).", F::ImageRepository),
    c("container.image.tag", T::Str, "The container image tag (e.g. stable, latest).", F::ImageTag),
    c("container.image.digest", T::Str, "The container image registry digest (e.g. sha256:…).", F::ImageDigest),
    c("container.start_ts", T::AbsTime, "Container start as epoch nanoseconds (the start of its pid namespace's init).", F::StartTs),
    c("container.duration", T::RelTime, "Nanoseconds since container.start_ts.", F::Duration),
    c("container.label", T::Str, "A container label, e.g. 'container.label.foo'.", F::Label).arg(A::DotSuffix { required: true }),
    c("container.labels", T::Str, "Container labels as 'key:value, key2:value2'.", F::Labels),
    k("k8s.pod.name", "The Kubernetes pod name.", F::PodName),
    k("k8s.ns.name", "The Kubernetes namespace name.", F::NsName),
    k("k8s.pod.id", "[LEGACY] The Kubernetes pod UID (same as k8s.pod.uid).", F::PodId),
    k("k8s.pod.uid", "The Kubernetes pod UID.", F::PodUid),
    k("k8s.pod.label", "A Kubernetes pod label, e.g. 'k8s.pod.label.app' or 'k8s.pod.label[app]'.", F::PodLabel).arg(A::DotSuffix { required: true }),
    k("k8s.pod.labels", "Kubernetes pod labels as 'key:value, key2:value2'.", F::PodLabels),
];

/// A non-empty string, or no value: the plugin's empty strings read as missing.
fn put(out: &mut Value, s: Option<&str>) -> bool {
    match s.filter(|s| !s.is_empty()) {
        Some(s) => {
            out.set_str(s);
            true
        }
        None => false,
    }
}

pub(crate) fn extract(f: F, arg: &Arg, ev: &Event, out: &mut Value) -> bool {
    let info = ev.container.as_deref();
    let id = info
        .map(|c| &*c.id)
        .filter(|id| !id.is_empty())
        .or_else(|| ev.process.as_deref().map(|p| &*p.container_id))
        .filter(|id| !id.is_empty());
    let Some(id) = id else {
        return false;
    };
    if id == HOST_CONTAINER_ID {
        return match f {
            F::Id | F::FullId | F::Name | F::Type => put(out, Some(HOST_CONTAINER_ID)),
            F::Privileged => set_bool(out, false),
            _ => false,
        };
    }
    if f == F::Id {
        return put(out, Some(id));
    }
    let Some(c) = info else {
        return false;
    };
    match f {
        F::Id => false,
        F::FullId => put(out, Some(&c.full_id)),
        F::Name => put(out, c.name.as_deref()),
        F::Image => put(out, c.image.as_deref()),
        F::ImageId => put(out, c.image_id.as_deref()),
        F::Type => put(out, c.runtime.as_deref()),
        F::Privileged => c.privileged.is_some_and(|p| set_bool(out, p)),
        F::ImageRepository => put(out, c.image_repository.as_deref()),
        F::ImageTag => put(out, c.image_tag.as_deref()),
        F::ImageDigest => put(out, c.image_digest.as_deref()),
        F::StartTs => c.start_ts.is_some_and(|ts| set_u64(out, ts)),
        F::Duration => c
            .start_ts
            .is_some_and(|ts| set_u64(out, ev.ts.saturating_sub(ts))),
        F::Mounts => {
            let buf = out.str_buf();
            for (i, m) in c.mounts.iter().enumerate() {
                if i > 0 {
                    buf.push(',');
                }
                write_mount(m, buf);
            }
            !buf.is_empty()
        }
        F::Mount
        | F::MountSource
        | F::MountDest
        | F::MountMode
        | F::MountRdwr
        | F::MountPropagation => {
            let Arg::Mount(sel) = arg else {
                return false;
            };
            let Some(m) = find_mount(c, sel, f) else {
                return false;
            };
            let buf = out.str_buf();
            match f {
                F::MountSource => buf.push_str(&m.source),
                F::MountDest => buf.push_str(&m.dest),
                F::MountMode => buf.push_str(&m.mode),
                F::MountRdwr => buf.push_str(if m.rw { "true" } else { "false" }),
                F::MountPropagation => buf.push_str(&m.propagation),
                _ => write_mount(m, buf),
            }
            true
        }
        F::Label => match arg {
            Arg::Key(key) => put(out, c.labels.get(&**key).map(String::as_str)),
            _ => false,
        },
        F::Labels => {
            write_labels(&c.labels, out.str_buf());
            matches!(out, Value::Str(s) if !s.is_empty())
        }
        F::PodName => put(
            out,
            k8s(c, c.k8s_pod_name.as_deref(), "io.kubernetes.pod.name"),
        ),
        F::NsName => put(
            out,
            k8s(c, c.k8s_ns_name.as_deref(), "io.kubernetes.pod.namespace"),
        ),
        F::PodId | F::PodUid => put(
            out,
            k8s(c, c.k8s_pod_uid.as_deref(), "io.kubernetes.pod.uid"),
        ),
        F::PodLabel => match arg {
            Arg::Key(key) => put(out, c.k8s_pod_labels.get(&**key).map(String::as_str)),
            _ => false,
        },
        F::PodLabels => {
            write_labels(&c.k8s_pod_labels, out.str_buf());
            matches!(out, Value::Str(s) if !s.is_empty())
        }
    }
}

/// Whether [`borrow`] can read this field without formatting.
/// Whether `f` reads nothing of the event but its container (and process): not the
/// event's time.
pub(crate) fn per_process(f: F) -> bool {
    f != F::Duration
}

pub(crate) fn can_borrow(f: F) -> bool {
    !matches!(
        f,
        F::Mounts
            | F::Mount
            | F::MountSource
            | F::MountDest
            | F::MountMode
            | F::MountRdwr
            | F::MountPropagation
            | F::Labels
            | F::PodLabels
    )
}

/// [`extract`] without copying, for the fields stored as they are (see `Field::borrow`).
pub(crate) fn borrow<'a>(f: F, arg: &Arg, ev: &'a Event) -> Borrowed<'a> {
    let info = ev.container.as_deref();
    let id = info
        .map(|c| &*c.id)
        .filter(|id| !id.is_empty())
        .or_else(|| ev.process.as_deref().map(|p| &*p.container_id))
        .filter(|id| !id.is_empty());
    let Some(id) = id else {
        return Borrowed::Missing;
    };
    if id == HOST_CONTAINER_ID {
        return match f {
            F::Id | F::FullId | F::Name | F::Type => Borrowed::str(HOST_CONTAINER_ID),
            F::Privileged => Borrowed::bool(false),
            _ => Borrowed::Missing,
        };
    }
    if f == F::Id {
        return Borrowed::str(id);
    }
    let Some(c) = info else {
        return Borrowed::Missing;
    };
    let put = Borrowed::non_empty;
    match f {
        F::Id => Borrowed::Missing,
        F::FullId => put(Some(&c.full_id)),
        F::Name => put(c.name.as_deref()),
        F::Image => put(c.image.as_deref()),
        F::ImageId => put(c.image_id.as_deref()),
        F::Type => put(c.runtime.as_deref()),
        F::Privileged => c.privileged.map_or(Borrowed::Missing, Borrowed::bool),
        F::ImageRepository => put(c.image_repository.as_deref()),
        F::ImageTag => put(c.image_tag.as_deref()),
        F::ImageDigest => put(c.image_digest.as_deref()),
        F::StartTs => c.start_ts.map_or(Borrowed::Missing, Borrowed::u64),
        F::Duration => c.start_ts.map_or(Borrowed::Missing, |ts| {
            Borrowed::u64(ev.ts.saturating_sub(ts))
        }),
        F::Label => match arg {
            Arg::Key(key) => put(c.labels.get(&**key).map(String::as_str)),
            _ => Borrowed::Missing,
        },
        F::PodName => put(k8s(c, c.k8s_pod_name.as_deref(), "io.kubernetes.pod.name")),
        F::NsName => put(k8s(
            c,
            c.k8s_ns_name.as_deref(),
            "io.kubernetes.pod.namespace",
        )),
        F::PodId | F::PodUid => put(k8s(c, c.k8s_pod_uid.as_deref(), "io.kubernetes.pod.uid")),
        F::PodLabel => match arg {
            Arg::Key(key) => put(c.k8s_pod_labels.get(&**key).map(String::as_str)),
            _ => Borrowed::Missing,
        },
        F::Mounts
        | F::Mount
        | F::MountSource
        | F::MountDest
        | F::MountMode
        | F::MountRdwr
        | F::MountPropagation
        | F::Labels
        | F::PodLabels => Borrowed::NotBorrowable,
    }
}

/// A Kubernetes attribute, falling back to the CRI label the plugin reads it from.
fn k8s<'a>(c: &'a ContainerInfo, direct: Option<&'a str>, label: &str) -> Option<&'a str> {
    direct
        .filter(|s| !s.is_empty())
        .or_else(|| c.labels.get(label).map(String::as_str))
}

/// `source:dest:mode:rdrw:propagation`.
fn write_mount(m: &Mount, buf: &mut String) {
    let _ = write!(
        buf,
        "{}:{}:{}:{}:{}",
        m.source, m.dest, m.mode, m.rw, m.propagation
    );
}

/// The mount at an index, or the first whose source (for `.source`: destination) matches
/// the pattern, searched like the plugin does (unanchored regex).
fn find_mount<'a>(c: &'a ContainerInfo, sel: &MountSel, f: F) -> Option<&'a Mount> {
    match sel {
        MountSel::Index(i) => c.mounts.get(*i),
        MountSel::Pattern(re) => c.mounts.iter().find(|m| {
            let path = if f == F::MountSource {
                &m.dest
            } else {
                &m.source
            };
            re.is_match(path)
        }),
    }
}

/// `k1:v1, k2:v2` in key order, without annotations and `io.kubernetes.*` labels; a label
/// with an empty value shows only its key.
fn write_labels(labels: &BTreeMap<String, String>, buf: &mut String) {
    for (key, value) in labels {
        if key.starts_with("annotation.") || key.starts_with("io.kubernetes.") {
            continue;
        }
        if !buf.is_empty() {
            buf.push_str(", ");
        }
        buf.push_str(key);
        if !value.is_empty() {
            buf.push(':');
            buf.push_str(value);
        }
    }
}
