//! Least privilege at run time: once the probes are attached and the listeners bound, the
//! agent keeps (still as uid 0) only the capabilities reading the kernel's events and
//! `/proc` needs, with empty bounding, inheritable and ambient sets and no-new-privs, so
//! nothing it starts (`program_output`) gets any capability, even by running a setuid file.
//!
//! Capabilities belong to threads, and a thread inherits its creator's: the drop is made
//! while the agent has one thread, before the readers, stages and servers are started, and
//! refused otherwise (a thread started earlier would keep everything).

use anyhow::{bail, Context, Result};

/// `CAP_DAC_READ_SEARCH`: list `/proc/<pid>/fd` (mode 0500, owned by the process's user)
/// of other users' processes.
pub const CAP_DAC_READ_SEARCH: u32 = 2;
/// `CAP_SYS_PTRACE`: read `/proc/<pid>/{exe,cwd,root,environ,fd/*}` of processes of other
/// users or with capabilities the agent no longer has (the ptrace access check).
pub const CAP_SYS_PTRACE: u32 = 19;
/// `CAP_SETPCAP`: needed to empty the bounding set.
const CAP_SETPCAP: u32 = 8;

/// The name of capability `cap`.
pub fn name(cap: u32) -> String {
    peregrine_event::flags::CAPABILITIES
        .get(cap as usize)
        .map_or_else(|| format!("CAP_{cap}"), |n| n.to_string())
}

/// The names of the capabilities in `mask`, lowest first.
pub fn names(mask: u64) -> Vec<String> {
    (0..64)
        .filter(|c| mask & (1u64 << c) != 0)
        .map(name)
        .collect()
}

/// `struct __user_cap_header_struct`.
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

/// `struct __user_cap_data_struct`; version 3 takes two (capabilities 0-31, 32-63).
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

fn capget() -> Result<(u64, u64, u64)> {
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: a v3 header with two data structs, as capget(2) takes them.
    let rc = unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error()).context("capget");
    }
    let join = |f: fn(&CapData) -> u32| u64::from(f(&data[0])) | (u64::from(f(&data[1])) << 32);
    Ok((
        join(|d| d.effective),
        join(|d| d.permitted),
        join(|d| d.inheritable),
    ))
}

fn capset(effective: u64, permitted: u64, inheritable: u64) -> Result<()> {
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let half = |m: u64, i: usize| (m >> (32 * i)) as u32;
    let data: [CapData; 2] = std::array::from_fn(|i| CapData {
        effective: half(effective, i),
        permitted: half(permitted, i),
        inheritable: half(inheritable, i),
    });
    // SAFETY: a v3 header with two data structs, as capset(2) takes them.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error()).context("capset");
    }
    Ok(())
}

fn prctl(option: libc::c_int, arg: libc::c_ulong) -> std::io::Result<libc::c_int> {
    // SAFETY: the prctl options used here take integer arguments only.
    let rc = unsafe { libc::prctl(option, arg, 0 as libc::c_ulong, 0 as libc::c_ulong, 0) };
    if rc < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

fn threads() -> Result<usize> {
    Ok(std::fs::read_dir("/proc/self/task")
        .context("reading /proc/self/task")?
        .count())
}

fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(63)
}

/// What [`drop_all_but`] left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Remaining {
    pub effective: u64,
    pub permitted: u64,
    /// Whether the bounding set could be emptied (it takes CAP_SETPCAP; without it,
    /// no-new-privs alone keeps children to at most what the agent kept).
    pub bounding_emptied: bool,
}

/// Keeps only the capabilities in `keep` that the agent has (effective and permitted),
/// empties the bounding, inheritable and ambient sets and sets no-new-privs. Must be called
/// while the process has a single thread.
pub fn drop_all_but(keep: &[u32]) -> Result<Remaining> {
    let n = threads()?;
    if n != 1 {
        bail!("capabilities can only be dropped for the whole agent while it has one thread; {n} run already and would keep every capability");
    }
    let (effective, permitted, _) = capget()?;
    let wanted = keep.iter().fold(0u64, |m, &c| m | (1u64 << c));
    let kept = wanted & permitted;
    // The bounding set first: dropping from it needs CAP_SETPCAP, which goes next. An agent
    // started without it (not root, or a container that withheld it) skips this step.
    let bounding_emptied = effective & (1 << CAP_SETPCAP) != 0;
    if bounding_emptied {
        for cap in 0..=last_cap() {
            if prctl(libc::PR_CAPBSET_READ, cap.into())? == 1 {
                prctl(libc::PR_CAPBSET_DROP, cap.into())
                    .with_context(|| format!("dropping {} from the bounding set", name(cap)))?;
            }
        }
    }
    // SAFETY: integer arguments only, as PR_CAP_AMBIENT_CLEAR_ALL takes them.
    let rc = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error()).context("clearing the ambient capabilities");
    }
    capset(kept, kept, 0)?;
    prctl(libc::PR_SET_NO_NEW_PRIVS, 1).context("setting no-new-privs")?;
    let (effective, permitted, inheritable) = capget()?;
    if effective != kept || permitted != kept || inheritable != 0 {
        bail!(
            "capabilities after the drop are effective {effective:#x}, permitted {permitted:#x}, inheritable {inheritable:#x}; wanted {kept:#x}"
        );
    }
    Ok(Remaining {
        effective,
        permitted,
        bounding_emptied,
    })
}
