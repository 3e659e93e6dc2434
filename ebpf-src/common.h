/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
/*
 * Building records: a writer over the per-CPU scratch buffer for variable-size records
 * (copied once into the ring with bpf_ringbuf_output), and a reserve/commit path for
 * records made only of integers.
 */
#ifndef PG_COMMON_H
#define PG_COMMON_H

#define PG_HDR_SIZE sizeof(struct pg_event_hdr)
/* Every write lands inside the scratch buffer, whatever the verifier thinks `pos` is. */
#define PG_SAFE(off) ((off) & (PG_MAX_EVENT - 1))
/* Scratch bytes above the record area, used by the path walker. */
#define PG_PTRS_OFF (PG_SCRATCH_SIZE - 512)
#define PG_PATH_DEPTH 48

#define AT_FDCWD -100
#define FMODE_CREATED 0x100000
#define PG_O_F_CREATED (1ULL << 32)
/* Open flags (creat: creat_flags): a regular file the state tables leave out. */
#define PG_O_F_UNTRACKED (1ULL << 33)

/* One syscall exit, as the dispatcher hands it to the per-family code. */
struct pg_sc {
	__u64 a[6];
	long ret;
	__u32 tid;
	__u32 pid;
	__u32 id;
	__u32 want; /* PG_* bits of this syscall */
	struct pg_sc_counters *cnt;
};

/* Counts an exit the rule-driven filter kept out of the ring. */
static __always_inline void pg_filtered(struct pg_sc *sc)
{
	if (sc->cnt)
		sc->cnt->filtered[sc->id & (PG_NR_SYSCALLS - 1)]++;
}

struct pg_writer {
	__u8 *buf;
	struct pg_counters *cnt;
	void *ring;
	__u32 pos;
	__u16 nparams;
	__u16 idx;
	/* Takes no space; puts the header's full layout into the object's BTF for the tests. */
	struct pg_event_hdr hdr_layout[0];
};

static __always_inline struct pg_settings *pg_get_settings(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&pg_settings, &zero);
}

/* The agent's own threads are never traced. */
static __always_inline bool pg_is_self(__u32 tgid)
{
	struct pg_settings *s = pg_get_settings();
	return s && s->own_tgid == tgid;
}

static __always_inline struct pg_counters *pg_get_counters(__u32 cpu)
{
	return bpf_map_lookup_elem(&pg_counters, &cpu);
}

/* Starts a record. Returns false (and counts why) when it cannot be built. */
static __always_inline bool pg_begin(struct pg_writer *w, __u16 etype, __u16 nparams,
				     __u32 tid, __u32 pid)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct pg_counters *cnt = pg_get_counters(cpu);
	if (!cnt)
		return false;
	__sync_fetch_and_add(&cnt->n_evts, 1);
	void *ring = bpf_map_lookup_elem(&pg_rings, &cpu);
	if (!ring) {
		__sync_fetch_and_add(&cnt->n_drops_no_ring, 1);
		return false;
	}
	__u8 *buf = bpf_map_lookup_elem(&pg_scratch, &cpu);
	if (!buf) {
		__sync_fetch_and_add(&cnt->n_drops_scratch, 1);
		return false;
	}
	struct pg_event_hdr *hdr = (struct pg_event_hdr *)buf;
	hdr->tid = tid;
	hdr->pid = pid;
	hdr->len = 0;
	hdr->etype = etype;
	hdr->nparams = nparams;
	hdr->cpu = cpu;
	hdr->flags = 0;
	hdr->reserved = 0;
	w->buf = buf;
	w->cnt = cnt;
	w->ring = ring;
	w->nparams = nparams;
	w->idx = 0;
	w->pos = PG_HDR_SIZE + 2 * nparams;
	return true;
}

static __always_inline void pg_set_len(struct pg_writer *w, __u32 len)
{
	__u32 at = PG_HDR_SIZE + 2 * (w->idx & (PG_MAX_PARAMS - 1));
	*(__u16 *)(w->buf + PG_SAFE(at)) = len;
	w->idx++;
	w->pos += len;
}

static __always_inline void pg_push_u64(struct pg_writer *w, __u64 v)
{
	*(__u64 *)(w->buf + PG_SAFE(w->pos)) = v;
	pg_set_len(w, 8);
}

static __always_inline void pg_push_absent(struct pg_writer *w)
{
	pg_set_len(w, 0);
}

/* A NUL-terminated user string, without its NUL; returns its length. */
static __always_inline long pg_push_user_str(struct pg_writer *w, const void *ptr, __u32 max)
{
	long n = 0;
	if (ptr)
		n = bpf_probe_read_user_str(w->buf + PG_SAFE(w->pos), max & (PG_MAX_PATH * 2 - 1),
					    ptr);
	n = n > 0 ? n - 1 : 0;
	pg_set_len(w, n);
	return n;
}

/* Grows the last parameter by `extra` bytes written right after it. */
static __always_inline void pg_extend_last(struct pg_writer *w, __u32 extra)
{
	__u32 at = PG_HDR_SIZE + 2 * ((w->idx - 1) & (PG_MAX_PARAMS - 1));
	*(__u16 *)(w->buf + PG_SAFE(at)) += extra;
	w->pos += extra;
}

static __always_inline void pg_push_kernel_str(struct pg_writer *w, const void *ptr, __u32 max)
{
	long n = 0;
	if (ptr)
		n = bpf_probe_read_kernel_str(w->buf + PG_SAFE(w->pos),
					      max & (PG_MAX_PATH * 2 - 1), ptr);
	pg_set_len(w, n > 0 ? n - 1 : 0);
}

/* Raw user bytes, at most `max` (≤ 8191). */
static __always_inline void pg_push_user_bytes(struct pg_writer *w, const void *ptr, __u64 len,
					       __u32 max)
{
	if (len > max)
		len = max;
	len &= PG_MAX_PATH * 2 - 1;
	if (!ptr || len == 0 ||
	    bpf_probe_read_user(w->buf + PG_SAFE(w->pos), len, ptr) != 0) {
		pg_set_len(w, 0);
		return;
	}
	pg_set_len(w, len);
}

/*
 * The reader polls the rings on its own schedule; a wake-up is an inter-processor interrupt
 * paid inside the traced syscall, so a record asks for one only when its ring is filling
 * up (wakeup_bytes: half the ring), and looks only every PG_WAKEUP_EVERY records.
 */
#define PG_WAKEUP_EVERY 64
static __always_inline __u64 pg_wakeup_flags(void *ring, struct pg_counters *cnt)
{
	if (cnt->n_evts & (PG_WAKEUP_EVERY - 1))
		return BPF_RB_NO_WAKEUP;
	struct pg_settings *s = pg_get_settings();
	if (s && bpf_ringbuf_query(ring, BPF_RB_AVAIL_DATA) >= s->wakeup_bytes)
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

/*
 * A reader at rest sleeps until data arrives instead of polling: before its long sleep it
 * sets its CPUs' pg_asleep flags, then looks at its rings a last time. This reads the flag
 * after the record is committed (a fully ordered exchange), so either that last look sees
 * the record or this sees the flag. A discarded empty record carries the wake-up; only
 * records sent while the reader sleeps pay for it.
 */
static __always_inline void pg_wake_if_asleep(void *ring, __u32 cpu)
{
	__u32 *asleep = bpf_map_lookup_elem(&pg_asleep, &cpu);
	if (!asleep || !*asleep)
		return;
	void *rec = bpf_ringbuf_reserve(ring, 8, 0);
	if (rec)
		bpf_ringbuf_discard(rec, BPF_RB_FORCE_WAKEUP);
}

/* Submits the record built in scratch: one copy into the ring. */
static __always_inline void pg_submit(struct pg_writer *w)
{
	__u32 len = w->pos;
	if (len > PG_MAX_EVENT) {
		__sync_fetch_and_add(&w->cnt->n_drops_max_size, 1);
		return;
	}
	((struct pg_event_hdr *)w->buf)->len = len;
	/* Stamped when sent: a record the filter drops never reads the clock. */
	((struct pg_event_hdr *)w->buf)->ts = bpf_ktime_get_boot_ns();
	/* Hide the bound from clang so the mask survives for the verifier. */
	asm volatile("" : "+r"(len));
	len &= PG_SCRATCH_SIZE - 1;
	__u64 flags = pg_wakeup_flags(w->ring, w->cnt);
	if (bpf_ringbuf_output(w->ring, w->buf, len, flags) != 0) {
		__u16 et = ((struct pg_event_hdr *)w->buf)->etype;
		__sync_fetch_and_add(&w->cnt->n_drops_buffer, 1);
		__sync_fetch_and_add(&w->cnt->n_drops_buffer_type[et & (PG_DROP_TYPES - 1)], 1);
		return;
	}
	pg_wake_if_asleep(w->ring, ((struct pg_event_hdr *)w->buf)->cpu);
}

/*
 * A record of N integers, reserved in the ring and committed in place: no scratch copy.
 * N must be a compile-time constant.
 */
#define PG_INTS_SIZE(n) (PG_HDR_SIZE + 2 * (n) + 8 * (n))

static __always_inline void pg_emit_ints(__u16 etype, const int n, const __u64 *vals,
					 __u32 tid, __u32 pid)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct pg_counters *cnt = pg_get_counters(cpu);
	if (!cnt)
		return;
	__sync_fetch_and_add(&cnt->n_evts, 1);
	void *ring = bpf_map_lookup_elem(&pg_rings, &cpu);
	if (!ring) {
		__sync_fetch_and_add(&cnt->n_drops_no_ring, 1);
		return;
	}
	__u8 *rec = bpf_ringbuf_reserve(ring, PG_INTS_SIZE(n), 0);
	if (!rec) {
		__sync_fetch_and_add(&cnt->n_drops_buffer, 1);
		__sync_fetch_and_add(&cnt->n_drops_buffer_type[etype & (PG_DROP_TYPES - 1)], 1);
		return;
	}
	struct pg_event_hdr *hdr = (struct pg_event_hdr *)rec;
	hdr->ts = bpf_ktime_get_boot_ns();
	hdr->tid = tid;
	hdr->pid = pid;
	hdr->len = PG_INTS_SIZE(n);
	hdr->etype = etype;
	hdr->nparams = n;
	hdr->cpu = cpu;
	hdr->flags = 0;
	hdr->reserved = 0;
	__u16 *lens = (__u16 *)(rec + PG_HDR_SIZE);
#pragma unroll
	for (int i = 0; i < n; i++)
		lens[i] = 8;
	__u8 *data = rec + PG_HDR_SIZE + 2 * n;
#pragma unroll
	for (int i = 0; i < n; i++)
		__builtin_memcpy(data + 8 * i, &vals[i], 8);
	__u64 flags = pg_wakeup_flags(ring, cnt);
	bpf_ringbuf_submit(rec, flags);
	pg_wake_if_asleep(ring, cpu);
}

/* ---- task helpers ---- */

/*
 * The file behind fd in `task`, which must be a BTF pointer (bpf_get_current_task_btf):
 * the walk down to the fd array is direct loads, no helper calls; only the array slot,
 * a plain pointer, needs bpf_probe_read_kernel.
 */
static __always_inline __u64 pg_fd_file_ptr(struct task_struct *task, long fd)
{
	struct file *file = NULL;
	if (fd < 0)
		return 0;
	struct files_struct *files = task->files;
	if (!files)
		return 0;
	struct fdtable *fdt = files->fdt;
	if (!fdt || fd >= fdt->max_fds)
		return 0;
	struct file **fds = fdt->fd;
	if (!fds)
		return 0;
	bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]);
	return (__u64)file;
}

/* The id of `task` in its own pid namespace (for a struct pid of the given type). */
static __always_inline __s64 pg_pid_vnr(struct pid *pid)
{
	unsigned int level = 0;
	int nr = 0;
	if (!pid)
		return 0;
	PG_READ(level, pid->level);
	/* numbers[] is a flexible array of 16-byte struct upid, nr first. */
	bpf_probe_read_kernel(&nr, sizeof(nr), (void *)pid +
			      bpf_core_field_offset(((struct pid *)0)->numbers) + 16 * (level & 31));
	return nr;
}

static __always_inline __s64 pg_task_signal_pid_vnr(struct task_struct *task, int type)
{
	struct signal_struct *sig = NULL;
	struct pid *pid = NULL;
	PG_READ(sig, task->signal);
	if (!sig)
		return 0;
	bpf_probe_read_kernel(&pid, sizeof(pid), &sig->pids[type & 3]);
	return pg_pid_vnr(pid);
}

/* Host pid of the task's group/session leader (process-group and session ids). */
static __always_inline __s64 pg_task_signal_pid_nr(struct task_struct *task, int type)
{
	struct signal_struct *sig = NULL;
	struct pid *pid = NULL;
	int nr = 0;
	PG_READ(sig, task->signal);
	if (!sig)
		return 0;
	bpf_probe_read_kernel(&pid, sizeof(pid), &sig->pids[type & 3]);
	if (!pid)
		return 0;
	bpf_probe_read_kernel(&nr, sizeof(nr),
			      (void *)pid + bpf_core_field_offset(((struct pid *)0)->numbers));
	return nr;
}

/* ---- paths ---- */

/*
 * Loop state lives in scratch memory, not on the stack: the verifier does not track map
 * contents, so each bpf_loop body is verified once instead of once per iteration count.
 */
struct pg_loopvars {
	__u64 dentry;
	__u64 mnt_root;
	__u64 mnt;
	__u64 kn;
	__u32 n;     /* components collected */
	__u32 len;   /* bytes written by a join */
	__u32 start; /* where a join writes */
	__u32 cg_len;
	__u32 cg_start;
	__u32 cg_count;
	__u64 cs;
	__u32 pseudo; /* the file's own dentry is a root of no mount (memfd, anon inode) */
	__u32 cg_last_at;  /* where the last cgroup path written starts */
	__u64 cg_last;     /* ... and its cgroup */
	__u32 cg_last_len;
};
#define PG_VARS_OFF (PG_PTRS_OFF - 128)

static __always_inline struct pg_loopvars *pg_vars(__u8 *buf)
{
	return (struct pg_loopvars *)(buf + PG_VARS_OFF);
}

static __always_inline __u64 *pg_names(__u8 *buf)
{
	return (__u64 *)(buf + PG_PTRS_OFF);
}

/* One step up from v->dentry: records its name, or crosses to the parent mount. */
static long pg_walk_step(__u64 i, __u8 **ctx)
{
	__u8 *buf = *ctx;
	struct pg_loopvars *v = pg_vars(buf);
	struct dentry *dentry = (struct dentry *)v->dentry;
	struct dentry *parent = NULL;
	if (v->dentry == v->mnt_root) {
		struct mount *mnt = (struct mount *)v->mnt;
		struct mount *mnt_parent = NULL;
		PG_READ(mnt_parent, mnt->mnt_parent);
		if (!mnt_parent || mnt_parent == mnt)
			return 1;
		PG_READ(v->dentry, mnt->mnt_mountpoint);
		v->mnt = (__u64)mnt_parent;
		PG_READ(v->mnt_root, mnt_parent->mnt.mnt_root);
		return 0;
	}
	PG_READ(parent, dentry->d_parent);
	if (!parent || parent == dentry) {
		/* A pseudo file's dentry is its own parent: the kernel names it alone. */
		if (parent == dentry && v->n == 0) {
			const unsigned char *own = NULL;
			PG_READ(own, dentry->d_name.name);
			pg_names(buf)[0] = (__u64)own;
			v->pseudo = 1;
		}
		return 1;
	}
	const unsigned char *name = NULL;
	PG_READ(name, dentry->d_name.name);
	pg_names(buf)[v->n & 63] = (__u64)name;
	v->n++;
	v->dentry = (__u64)parent;
	return 0;
}

/* Appends '/' and component n-1-i at v->start + v->len. */
static long pg_join_step(__u64 i, __u8 **ctx)
{
	__u8 *buf = *ctx;
	struct pg_loopvars *v = pg_vars(buf);
	if (i >= v->n || v->len > PG_MAX_PATH)
		return 1;
	__u32 at = v->start + v->len;
	buf[PG_SAFE(at)] = '/';
	long r = bpf_probe_read_kernel_str(buf + PG_SAFE(at + 1), 256,
					   (void *)pg_names(buf)[(v->n - 1 - i) & 63]);
	v->len += r > 1 ? r : 1;
	return 0;
}

/* Writes the collected components root first at `start`; returns the length. */
static __always_inline __u32 pg_join(__u8 *buf, __u32 start, __u32 max)
{
	struct pg_loopvars *v = pg_vars(buf);
	v->start = start;
	v->len = 0;
	bpf_loop(max, pg_join_step, &buf, 0);
	return v->len;
}

/*
 * Writes the absolute path of (vfsmount, dentry) as one parameter: walks up to the root,
 * crossing mount points, then writes the components root first. Paths deeper than
 * PG_PATH_DEPTH lose their top components.
 */
static __noinline void pg_push_path(struct pg_writer *w, struct vfsmount *vfsmnt,
				    struct dentry *dentry)
{
	__u8 *buf = w->buf;
	struct pg_loopvars *v = pg_vars(buf);
	if (!dentry || !vfsmnt) {
		pg_set_len(w, 0);
		return;
	}
	v->dentry = (__u64)dentry;
	v->mnt = (__u64)((void *)vfsmnt - bpf_core_field_offset(((struct mount *)0)->mnt));
	PG_READ(v->mnt_root, vfsmnt->mnt_root);
	v->n = 0;
	v->pseudo = 0;
	bpf_loop(PG_PATH_DEPTH, pg_walk_step, &buf, 0);
	if (v->pseudo) {
		/* Its name with no leading '/', as Falco shows a memfd ("memfd:NAME"). */
		long r = bpf_probe_read_kernel_str(buf + PG_SAFE(w->pos), 256,
						   (void *)pg_names(buf)[0]);
		pg_set_len(w, r > 1 ? r - 1 : 0);
		return;
	}
	if (v->n == 0) {
		buf[PG_SAFE(w->pos)] = '/';
		pg_set_len(w, 1);
		return;
	}
	pg_set_len(w, pg_join(buf, w->pos, PG_PATH_DEPTH));
}

static __always_inline void pg_push_file_path(struct pg_writer *w, struct file *file)
{
	struct vfsmount *mnt = NULL;
	struct dentry *dentry = NULL;
	if (!file) {
		pg_set_len(w, 0);
		return;
	}
	PG_READ(mnt, file->f_path.mnt);
	PG_READ(dentry, file->f_path.dentry);
	pg_push_path(w, mnt, dentry);
}

/* Device and inode of an open file (for open/creat). */
/*
 * Two fields of one kernel object in one bpf_probe_read_kernel when they lie close
 * together (the usual case: each helper call costs more than the bytes it copies), else
 * in two. Offsets come from CO-RE relocations, so they are constants to the verifier.
 */
#define PG_PAIR_WINDOW 128
static __always_inline void pg_read_pair(const void *obj, __u32 off_a, void *a, __u32 size_a,
					 __u32 off_b, void *b, __u32 size_b)
{
	__u8 chunk[PG_PAIR_WINDOW];
	__u32 lo = off_a < off_b ? off_a : off_b;
	__u32 hi_a = off_a + size_a, hi_b = off_b + size_b;
	__u32 hi = hi_a > hi_b ? hi_a : hi_b;
	if (hi - lo > PG_PAIR_WINDOW ||
	    bpf_probe_read_kernel(chunk, hi - lo, obj + lo) != 0) {
		bpf_probe_read_kernel(a, size_a, obj + off_a);
		bpf_probe_read_kernel(b, size_b, obj + off_b);
		return;
	}
	__builtin_memcpy(a, chunk + (off_a - lo), size_a);
	__builtin_memcpy(b, chunk + (off_b - lo), size_b);
}

/* f_mode and f_inode of an (untrusted) file pointer. */
static __always_inline void pg_file_mode_inode(struct file *file, __u32 *mode,
					       struct inode **inode)
{
	*mode = 0;
	*inode = NULL;
	if (!file)
		return;
	pg_read_pair(file, bpf_core_field_offset(file->f_mode), mode, sizeof(*mode),
		     bpf_core_field_offset(file->f_inode), inode, sizeof(*inode));
}

static __always_inline void pg_inode_dev_ino(struct inode *inode, __u64 *dev, __u64 *ino)
{
	struct super_block *sb = NULL;
	unsigned long i = 0;
	__u32 sdev = 0;
	*dev = 0;
	*ino = 0;
	if (!inode)
		return;
	pg_read_pair(inode, bpf_core_field_offset(inode->i_ino), &i, sizeof(i),
		     bpf_core_field_offset(inode->i_sb), &sb, sizeof(sb));
	if (sb)
		PG_READ(sdev, sb->s_dev);
	*dev = sdev;
	*ino = i;
}

static __always_inline void pg_file_dev_ino(struct file *file, __u64 *dev, __u64 *ino)
{
	__u32 mode;
	struct inode *inode;
	pg_file_mode_inode(file, &mode, &inode);
	pg_inode_dev_ino(inode, dev, ino);
}

#define PG_NSFS_MAGIC 0x6e736673
#define PG_MODE_FMT 0170000
#define PG_MODE_REG 0100000

/*
 * Whether the state tables leave this file out under PG_TRACK_NONREG: a regular file, but
 * not a namespace file (setns takes those, and nsfs inodes are regular too).
 */
static __always_inline bool pg_file_regular(struct file *file)
{
	struct inode *inode = NULL;
	struct super_block *sb = NULL;
	unsigned short mode = 0;
	unsigned long magic = 0;
	if (!file)
		return false;
	PG_READ(inode, file->f_inode);
	if (!inode)
		return false;
	PG_READ(mode, inode->i_mode);
	if ((mode & PG_MODE_FMT) != PG_MODE_REG)
		return false;
	PG_READ(sb, inode->i_sb);
	if (sb)
		PG_READ(magic, sb->s_magic);
	return magic != PG_NSFS_MAGIC;
}

/* ---- the rule-driven path filter ---- */

/* State of the walk over a name's bytes in pg_path_normal. */
struct pg_norm {
	const __u8 *p;
	__u32 n;
	__u32 seg;  /* bytes in the current component */
	__u32 dots; /* of which dots */
	__u32 bad;
};

static __always_inline bool pg_norm_odd(struct pg_norm *c)
{
	/* An empty, "." or ".." component. */
	return c->seg == 0 || (c->seg == c->dots && c->dots <= 2);
}

static long pg_norm_step(__u64 i, struct pg_norm *c)
{
	__u32 k = i + 1;
	if (k >= c->n)
		return 1;
	__u8 ch = c->p[k & (PG_LPM_DATA - 1)];
	if (ch == '/') {
		if (pg_norm_odd(c)) {
			c->bad = 1;
			return 1;
		}
		c->seg = 0;
		c->dots = 0;
	} else {
		c->seg++;
		c->dots += ch == '.';
	}
	return 0;
}

#define PG_BYTES(c) (0x0101010101010101ULL * (__u8)(c))

/* 0x80 in exactly the bytes of v that are zero, 0 elsewhere. */
static __always_inline __u64 pg_zero_bytes(__u64 v)
{
	__u64 low7 = PG_BYTES(0x7f);
	return ~(((v & low7) + low7) | v | low7);
}

/*
 * Whether a '/' among the first n bytes at p is followed by '.' or '/', eight bytes at a
 * time. Only such a name can have an empty, "." or ".." component before its end; most
 * names have none and skip the byte-by-byte walk (bytes past the NUL can only send a name
 * to that walk, never keep one from it).
 */
static __always_inline bool pg_path_may_be_odd(const __u8 *p, long n)
{
	for (__u32 i = 0; i < PG_LPM_DATA / 8; i++) {
		if (8 * i >= n)
			break;
		__u64 x = *(const __u64 *)(p + 8 * i);
		__u64 next = *(const __u64 *)(p + 8 * i + 8);
		__u64 after = (x >> 8) | (next << 56); /* byte k: the byte after x's byte k */
		__u64 slash = pg_zero_bytes(x ^ PG_BYTES('/'));
		__u64 odd = pg_zero_bytes(after ^ PG_BYTES('.')) | pg_zero_bytes(after ^ PG_BYTES('/'));
		if (slash & odd)
			return true;
	}
	return false;
}

/*
 * Whether the absolute name at p (n bytes, NUL after them) is normal: no empty, "." or ".."
 * component and no trailing slash. Only then is it the fd.name userspace would make of it.
 * The exact walk is a bpf_loop: its body is verified once, not once per byte.
 */
static __always_inline bool pg_path_normal(const __u8 *p, long n)
{
	struct pg_norm c = {.p = p, .n = n};
	if (n == 1)
		return true;
	if (p[(n - 1) & (PG_LPM_DATA - 1)] == '/')
		return false; /* a trailing slash */
	if (!pg_path_may_be_odd(p, n))
		return true;
	bpf_loop(PG_LPM_DATA, pg_norm_step, &c, 0);
	return !c.bad && !pg_norm_odd(&c);
}

/* Bytes of v past the first `keep` (0..8) cleared. */
static __always_inline __u64 pg_keep_bytes(__u64 v, long keep)
{
	if (keep >= 8)
		return v;
	if (keep <= 0)
		return 0;
	return v & ((1ULL << (8 * keep)) - 1);
}

/*
 * Whether the first n bytes at p hold "../" (fd.nameraw contains '../', the directory
 * traversal rules' test), eight bytes at a time. Bytes past n are cleared first, so what
 * lies after the NUL never counts.
 */
static __always_inline bool pg_path_has_dotdot(const __u8 *p, long n)
{
	for (__u32 i = 0; i < PG_LPM_DATA / 8; i++) {
		long left = n - 8 * (long)i;
		if (left <= 0)
			break;
		__u64 x = pg_keep_bytes(*(const __u64 *)(p + 8 * i), left);
		__u64 next = pg_keep_bytes(*(const __u64 *)(p + 8 * i + 8), left - 8);
		__u64 a1 = (x >> 8) | (next << 56);
		__u64 a2 = (x >> 16) | (next << 48);
		if (pg_zero_bytes(x ^ PG_BYTES('.')) & pg_zero_bytes(a1 ^ PG_BYTES('.')) &
		    pg_zero_bytes(a2 ^ PG_BYTES('/')))
			return true;
	}
	return false;
}

/*
 * Whether the name just pushed at `at` (n bytes) can matter to a rule, for an open whose
 * mode admits `admit` (PG_ADMIT_* bits): anything but an absolute, normal name of at most
 * PG_LPM_DATA - 1 bytes is sent; such a name is sent when pg_paths has it or a prefix of
 * it with one of those bits, or (PG_DOTDOT in `want`) it holds "../". The trie's key is
 * built in place: the 4 bytes before the name become its prefix length for the lookup.
 */
static __always_inline bool pg_path_wanted(__u8 *buf, __u32 at, long n, __u8 admit, __u32 want)
{
	if (n <= 0 || n >= PG_LPM_DATA)
		return true;
	const __u8 *p = buf + PG_SAFE(at);
	if (p[0] != '/' || !pg_path_normal(p, n))
		return true;
	__u32 *prefixlen = (__u32 *)(buf + PG_SAFE(at - 4));
	__u32 saved = *prefixlen;
	*prefixlen = 8 * (n + 1);
	__u8 *hit = bpf_map_lookup_elem(&pg_paths, prefixlen);
	*prefixlen = saved;
	if (hit && (*hit & admit))
		return true;
	return (want & PG_DOTDOT) && pg_path_has_dotdot(p, n);
}

/* Whether the current task's name is one PG_COMM sends opens of, for this open's mode. */
static __always_inline bool pg_comm_wanted(__u8 admit)
{
	char comm[16] = {};
	bpf_get_current_comm(comm, sizeof(comm));
	__u8 *hit = bpf_map_lookup_elem(&pg_comms, comm);
	return hit && (*hit & admit);
}

#endif
