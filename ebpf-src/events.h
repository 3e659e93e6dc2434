/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
/*
 * The wire format between the kernel programs and userspace: defined here once.
 *
 * A record is a header, then `nparams` little-endian u16 parameter lengths, then the
 * parameter bytes back to back. A length of 0 means the parameter is absent. How the bytes
 * of a parameter are read follows the parameter's kind in Peregrine's event schema
 * (peregrine-event `ParamKind`):
 *
 *   integers (fd, errno, pid, uid, gid, flags, mode, uint, int, time)  8 bytes
 *   paths and strings                                                  bytes, no NUL
 *   string lists (exec args, env, cgroups)                             NUL-separated bytes
 *   byte buffers                                                       raw bytes
 *   socket address  u8 family, then  inet: ip[4] port(u16)            inet6: ip[16] port(u16)
 *                                     unix: path bytes
 *   socket tuple    u8 family, then  inet/inet6: u8 l4proto, sip, sport, dip, dport
 *                                     unix: u64 source, u64 dest, path bytes
 * Ports are in host order, IP addresses in network order.
 *
 * The Rust decoder (probes/src/wire.rs) mirrors these constants; a test compares them with
 * the BTF of the compiled object, so the two cannot drift.
 */
#ifndef PG_EVENTS_H
#define PG_EVENTS_H

/* Event type ids: the index of the type in peregrine-event's table of modelled types. */
enum pg_event_type {
	PG_ET_EXECVE = 0,
	PG_ET_EXECVEAT = 1,
	PG_ET_OPEN = 2,
	PG_ET_OPENAT = 3,
	PG_ET_OPENAT2 = 4,
	PG_ET_CREAT = 5,
	PG_ET_CONNECT = 6,
	PG_ET_ACCEPT = 7,
	PG_ET_ACCEPT4 = 8,
	PG_ET_LISTEN = 9,
	PG_ET_BIND = 10,
	PG_ET_SOCKET = 11,
	PG_ET_SENDTO = 12,
	PG_ET_SENDMSG = 13,
	PG_ET_RECVFROM = 14,
	PG_ET_RECVMSG = 15,
	PG_ET_DUP = 16,
	PG_ET_DUP2 = 17,
	PG_ET_DUP3 = 18,
	PG_ET_CHMOD = 19,
	PG_ET_FCHMOD = 20,
	PG_ET_FCHMODAT = 21,
	PG_ET_MKDIR = 22,
	PG_ET_MKDIRAT = 23,
	PG_ET_RMDIR = 24,
	PG_ET_UNLINK = 25,
	PG_ET_UNLINKAT = 26,
	PG_ET_RENAME = 27,
	PG_ET_RENAMEAT = 28,
	PG_ET_RENAMEAT2 = 29,
	PG_ET_SYMLINK = 30,
	PG_ET_SYMLINKAT = 31,
	PG_ET_LINK = 32,
	PG_ET_LINKAT = 33,
	PG_ET_PTRACE = 34,
	PG_ET_SETUID = 35,
	PG_ET_SETGID = 36,
	PG_ET_SETNS = 37,
	PG_ET_UNSHARE = 38,
	PG_ET_BPF = 39,
	PG_ET_INIT_MODULE = 40,
	PG_ET_FINIT_MODULE = 41,
	PG_ET_USERFAULTFD = 42,
	PG_ET_CLOSE = 43,
	PG_ET_CLONE = 44,
	PG_ET_CLONE3 = 45,
	PG_ET_FORK = 46,
	PG_ET_VFORK = 47,
	PG_ET_PROCEXIT = 48,
	PG_ET_CHDIR = 49,
	PG_ET_FCHDIR = 50,
	PG_ET_SETRESUID = 51,
	PG_ET_SETRESGID = 52,
	PG_ET_SETSID = 53,
	PG_ET_COUNT = 54,
};

/* Every record starts with this header. */
struct pg_event_hdr {
	__u64 ts;      /* CLOCK_BOOTTIME, ns */
	__u32 tid;     /* host thread id */
	__u32 pid;     /* host thread-group id */
	__u32 len;     /* whole record, header included */
	__u16 etype;   /* enum pg_event_type */
	__u16 nparams;
	__u16 cpu;
	__u16 flags;   /* reserved, 0 */
	__u32 reserved;
};

/* Socket families as they appear on the wire (Linux AF_* values). */
enum pg_family {
	PG_AF_UNSPEC = 0,
	PG_AF_UNIX = 1,
	PG_AF_INET = 2,
	PG_AF_INET6 = 10,
};

/* Layer-4 protocol in a socket tuple. */
enum pg_l4proto {
	PG_L4_UNKNOWN = 0,
	PG_L4_TCP = 1,
	PG_L4_UDP = 2,
	PG_L4_ICMP = 3,
	PG_L4_RAW = 4,
};

/* Slots of pg_counters.n_drops_buffer_type: a power of two above PG_ET_COUNT. */
#define PG_DROP_TYPES 64

/* Per-CPU counters, read by userspace (array map `pg_counters`, one slot per CPU). */
struct pg_counters {
	__u64 n_evts;            /* records attempted */
	__u64 n_drops_buffer;    /* ring buffer full */
	__u64 n_drops_max_size;  /* record larger than PG_MAX_EVENT */
	__u64 n_drops_no_ring;   /* no ring buffer for this CPU */
	__u64 n_drops_scratch;   /* scratch space unavailable */
	/* n_drops_buffer by event type (index: enum pg_event_type), for Falco's categories. */
	__u64 n_drops_buffer_type[PG_DROP_TYPES];
};

/*
 * Per syscall, in `pg_interesting`: which exits to send. 0 = not traced. Userspace compiles
 * these from the loaded rules and what its state tables need (probes/src/interest.rs).
 */
#define PG_WANT_OK 1       /* successful calls */
#define PG_WANT_FAILED 2   /* failed calls */
#define PG_PATH_FILTER 4   /* opens: only names in pg_paths (absolute, normal names) */
#define PG_FD_AS_PATH 8    /* fchdir: sent as a chdir to the directory's path; fchmod: with the file's */
/*
 * Open family and close: the state tables follow every fd but regular files, so a
 * regular file's open goes through the path filter and its close is not sent.
 */
#define PG_TRACK_NONREG 16
#define PG_WRITE_ANY 32    /* opens under PG_PATH_FILTER: every open for writing is sent */
#define PG_DOTDOT 64       /* opens under PG_PATH_FILTER: a name with "../" in it is sent */
#define PG_COMM 128        /* opens under PG_PATH_FILTER: so is an open by a name in pg_comms */

/* Values in pg_paths and pg_comms: which opens the entry admits. */
#define PG_ADMIT_ANY 1     /* any open */
#define PG_ADMIT_WRITE 2   /* opens for writing */

/* Per CPU, per syscall id (map `pg_sc_counters`): exits seen and filtered out in the kernel. */
struct pg_sc_counters {
	__u64 seen[PG_NR_SYSCALLS];
	__u64 filtered[PG_NR_SYSCALLS];
};

/* Key of `pg_paths` (an LPM trie): an exact name with its NUL, or a prefix without. */
#define PG_LPM_DATA 256
struct pg_path_key {
	__u32 prefixlen; /* bits */
	__u8 data[PG_LPM_DATA];
};

/* Settings written by userspace before attaching (array map `pg_settings`, one slot). */
struct pg_settings {
	__u32 own_tgid;          /* the agent itself: never traced */
	__u32 drop_failed;       /* skip syscalls that failed */
	__u32 snaplen;           /* bytes of I/O data captured */
	__u32 wakeup_bytes;      /* wake the reader only once this much data waits */
};

#define PG_MAX_EVENT 32768   /* largest record; half of the scratch buffer */
#define PG_SCRATCH_SIZE 65536
#define PG_MAX_PATH 4096
#define PG_MAX_ARGS 4096
#define PG_MAX_ENV 2048
#define PG_MAX_PARAMS 32
#define PG_MAX_SNAPLEN 256

/* Per CPU (map `pg_close_marks`): what the last close entered on this CPU was closing. */
struct pg_close_mark {
	__u64 switches; /* the task's context switches then: a switch since voids the mark */
	__u32 tid;
	__s32 fd;
	__u32 regular;
	__u32 pad;
};

#endif
