//! `user.*` and `group.*` fields. Like Falco, an unresolved user or group reads as `root`
//! for id 0 and as the string `<NA>` otherwise (a value, not a missing field).

use super::registry::{FieldDef, Id};
use super::value::{Borrowed, FieldType, Value};
use super::{set_i64, set_u64};
use peregrine_event::{Event, UserInfo};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum F {
    Uid,
    Name,
    Homedir,
    Shell,
    Loginuid,
    Loginname,
    Gid,
    GroupName,
}

const fn d(
    name: &'static str,
    t: FieldType,
    cat: &'static str,
    desc: &'static str,
    f: F,
) -> FieldDef {
    FieldDef::new(name, t, cat, desc, Id::User(f))
}

use FieldType as T;

pub(crate) const DEFS: &[FieldDef] = &[
    d("user.uid", T::U32, "user", "user ID.", F::Uid),
    d("user.name", T::Str, "user", "user name.", F::Name),
    d(
        "user.homedir",
        T::Str,
        "user",
        "home directory of the user.",
        F::Homedir,
    ),
    d("user.shell", T::Str, "user", "user's shell.", F::Shell),
    d(
        "user.loginuid",
        T::I64,
        "user",
        "audit user id (auid); -1 when unset.",
        F::Loginuid,
    ),
    d(
        "user.loginname",
        T::Str,
        "user",
        "audit user name (auid).",
        F::Loginname,
    ),
    d("group.gid", T::U32, "group", "group ID.", F::Gid),
    d("group.name", T::Str, "group", "group name.", F::GroupName),
];

const NA: &str = "<NA>";

/// The name Falco shows for a user id it could not resolve.
fn fallback_name(id: u32) -> &'static str {
    if id == 0 {
        "root"
    } else {
        NA
    }
}

fn user_borrow(user: Option<&UserInfo>, id: u32, pick: F) -> &str {
    match (user.filter(|u| u.uid == id), pick) {
        (Some(u), F::Homedir) => &u.homedir,
        (Some(u), F::Shell) => &u.shell,
        (Some(u), _) => &u.name,
        (None, F::Homedir) if id == 0 => "/root",
        (None, F::Homedir | F::Shell) => NA,
        (None, _) => fallback_name(id),
    }
}

/// [`extract`] without copying: every user field is stored as it is.
pub(crate) fn borrow(f: F, ev: &Event) -> Borrowed<'_> {
    let Some(p) = ev.process.as_deref() else {
        return Borrowed::Missing;
    };
    match f {
        F::Uid => Borrowed::u64(u64::from(p.uid)),
        F::Name | F::Homedir | F::Shell => Borrowed::str(user_borrow(p.user.as_deref(), p.uid, f)),
        F::Loginuid => Borrowed::i64(if p.loginuid == u32::MAX {
            -1
        } else {
            i64::from(p.loginuid)
        }),
        F::Loginname => Borrowed::str(user_borrow(p.loginuser.as_deref(), p.loginuid, F::Name)),
        F::Gid => Borrowed::u64(u64::from(p.gid)),
        F::GroupName => Borrowed::str(match p.group.as_deref().filter(|g| g.gid == p.gid) {
            Some(g) => &g.name,
            None => fallback_name(p.gid),
        }),
    }
}

fn user_str(user: Option<&UserInfo>, id: u32, pick: F, out: &mut Value) -> bool {
    let s = match (user.filter(|u| u.uid == id), pick) {
        (Some(u), F::Homedir) => &*u.homedir,
        (Some(u), F::Shell) => &*u.shell,
        (Some(u), _) => &*u.name,
        (None, F::Homedir) if id == 0 => "/root",
        (None, F::Homedir | F::Shell) => NA,
        (None, _) => fallback_name(id),
    };
    out.set_str(s);
    true
}

pub(crate) fn extract(f: F, ev: &Event, out: &mut Value) -> bool {
    let Some(p) = ev.process.as_deref() else {
        return false;
    };
    match f {
        F::Uid => set_u64(out, u64::from(p.uid)),
        F::Name | F::Homedir | F::Shell => user_str(p.user.as_deref(), p.uid, f, out),
        F::Loginuid => set_i64(
            out,
            if p.loginuid == u32::MAX {
                -1
            } else {
                i64::from(p.loginuid)
            },
        ),
        F::Loginname => user_str(p.loginuser.as_deref(), p.loginuid, F::Name, out),
        F::Gid => set_u64(out, u64::from(p.gid)),
        F::GroupName => {
            let name = match p.group.as_deref().filter(|g| g.gid == p.gid) {
                Some(g) => &*g.name,
                None => fallback_name(p.gid),
            };
            out.set_str(name);
            true
        }
    }
}
