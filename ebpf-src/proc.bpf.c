/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
/*
 * Process lifecycle: exec (sched_process_exec, every successful execve/execveat), new tasks
 * (sched_process_fork, one event for the child), exit (sched_process_exit), and failed execs
 * (from sys_exit: a successful exec has no old arguments left to read there).
 */

#define PG_EXEC_NPARAMS 25
#define PG_CLONE_NPARAMS 13
#define PG_CLONE_THREAD 0x10000
#define PG_CLONE_VM 0x100
#define PG_CLONE_VFORK 0x4000
#define PG_SIGCHLD 17
#define PG_NR_clone3_ 435
#define PG_EXE_WRITABLE 1
#define PG_EXE_UPPER_LAYER 2
#define PG_EXE_FROM_MEMFD 4
#define PG_EXE_LOWER_LAYER 8
#define PG_OVERLAYFS_SUPER_MAGIC 0x794c7630
#define PG_KN_DEPTH 10

/*
 * The overlayfs layer of an inode, as exe flags: upper when it has an upper-layer copy (the
 * file was written or created in the container, not shipped in its image), lower otherwise;
 * none off overlayfs. overlayfs embeds the VFS inode in its own `struct ovl_inode`, with
 * `__upperdentry` right after it (as Falco reads it).
 */
static __always_inline __u64 pg_inode_layer(struct inode *inode)
{
	struct super_block *sb = NULL;
	unsigned long magic = 0;
	void *upper = NULL;
	PG_READ(sb, inode->i_sb);
	if (!sb)
		return 0;
	PG_READ(magic, sb->s_magic);
	if (magic != PG_OVERLAYFS_SUPER_MAGIC)
		return 0;
	__u32 size = bpf_core_type_size(struct inode);
	if (!size)
		return 0;
	bpf_probe_read_kernel(&upper, sizeof(upper), (void *)inode + size);
	return upper ? PG_EXE_UPPER_LAYER : PG_EXE_LOWER_LAYER;
}

static __always_inline struct kernfs_node *pg_kn_parent(struct kernfs_node *kn)
{
	struct kernfs_node *parent = NULL;
	if (bpf_core_field_exists(kn->__parent)) {
		PG_READ(parent, kn->__parent);
	} else {
		struct kernfs_node___old *old = (void *)kn;
		PG_READ(parent, old->parent);
	}
	return parent;
}

/* One level up the cgroup's kernfs tree from v->kn. */
static long pg_kn_step(__u64 i, __u8 **ctx)
{
	__u8 *buf = *ctx;
	struct pg_loopvars *v = pg_vars(buf);
	struct kernfs_node *kn = (struct kernfs_node *)v->kn;
	struct kernfs_node *parent;
	if (!kn)
		return 1;
	parent = pg_kn_parent(kn);
	if (!parent)
		return 1; /* the root: its name is not part of the path */
	const char *name = NULL;
	PG_READ(name, kn->name);
	pg_names(buf)[v->n & 63] = (__u64)name;
	v->n++;
	v->kn = (__u64)parent;
	return 0;
}

/* Appends "subsys=/path\0" for cgroup subsystem i. */
static long pg_cgroup_step(__u64 i, __u8 **ctx)
{
	__u8 *buf = *ctx;
	struct pg_loopvars *v = pg_vars(buf);
	struct css_set *cs = (struct css_set *)v->cs;
	struct cgroup_subsys_state *css = NULL;
	struct cgroup_subsys *ss = NULL;
	struct cgroup *cgrp = NULL;
	const char *ssname = NULL;
	if (i >= v->cg_count || v->cg_len > PG_MAX_PATH)
		return 1;
	bpf_probe_read_kernel(&css, sizeof(css), &cs->subsys[i & 15]);
	if (!css)
		return 0;
	PG_READ(ss, css->ss);
	PG_READ(cgrp, css->cgroup);
	if (!ss || !cgrp)
		return 0;
	PG_READ(ssname, ss->name);
	PG_READ(v->kn, cgrp->kn);
	__u32 at = v->cg_start + v->cg_len;
	long r = bpf_probe_read_kernel_str(buf + PG_SAFE(at), 32, ssname);
	if (r <= 1)
		return 0;
	at += r - 1;
	buf[PG_SAFE(at)] = '=';
	at++;
	/*
	 * On cgroup v2 every subsystem is in the same cgroup: its path is copied from the
	 * previous subsystem's instead of walked again (the walk is most of an exec's cost).
	 */
	__u32 len = v->cg_last_len;
	if ((__u64)cgrp == v->cg_last && len > 0 && len < PG_MAX_PATH &&
	    bpf_probe_read_kernel(buf + PG_SAFE(at), len & (PG_MAX_PATH - 1),
				  buf + PG_SAFE(v->cg_last_at)) == 0) {
		at += len;
	} else {
		__u32 path_at = at;
		v->n = 0;
		bpf_loop(PG_KN_DEPTH, pg_kn_step, &buf, 0);
		if (v->n == 0) {
			buf[PG_SAFE(at)] = '/';
			at++;
		} else {
			at += pg_join(buf, at, PG_KN_DEPTH);
		}
		v->cg_last = (__u64)cgrp;
		v->cg_last_at = path_at;
		v->cg_last_len = at - path_at;
	}
	buf[PG_SAFE(at)] = 0;
	at++;
	v->cg_len = at - v->cg_start;
	return 0;
}

/* "subsys=/path" for every cgroup subsystem of the task, NUL-separated. */
static __noinline void pg_push_cgroups(struct pg_writer *w, struct task_struct *task)
{
	__u8 *buf = w->buf;
	struct pg_loopvars *v = pg_vars(buf);
	struct css_set *cs = NULL;
	PG_READ(cs, task->cgroups);
	if (!cs) {
		pg_set_len(w, 0);
		return;
	}
	v->cs = (__u64)cs;
	v->cg_start = w->pos;
	v->cg_len = 0;
	v->cg_count = bpf_core_field_size(cs->subsys) / 8;
	v->cg_last = 0;
	v->cg_last_len = 0;
	bpf_loop(16, pg_cgroup_step, &buf, 0);
	pg_set_len(w, v->cg_len);
}

static __always_inline __u64 pg_inode_time(struct inode *inode, bool ctime)
{
	__s64 sec = 0;
	__u32 nsec = 0;
	if (bpf_core_field_exists(inode->i_ctime_sec)) {
		if (ctime) {
			PG_READ(sec, inode->i_ctime_sec);
			PG_READ(nsec, inode->i_ctime_nsec);
		} else {
			PG_READ(sec, inode->i_mtime_sec);
			PG_READ(nsec, inode->i_mtime_nsec);
		}
	} else {
		struct inode___v66 *v66 = (void *)inode;
		struct inode___old *old = (void *)inode;
		struct timespec64 ts = {};
		if (ctime && bpf_core_field_exists(v66->__i_ctime))
			PG_READ(ts, v66->__i_ctime);
		else if (ctime)
			PG_READ(ts, old->i_ctime);
		else if (bpf_core_field_exists(v66->i_mtime))
			PG_READ(ts, v66->i_mtime);
		sec = ts.tv_sec;
		nsec = ts.tv_nsec;
	}
	/* Since 6.13 the top bit of i_ctime_nsec flags a queried ctime (I_CTIME_QUERIED,
	 * multigrain timestamps); nanoseconds never reach it on any kernel. */
	nsec &= 0x7fffffff;
	return (__u64)sec * 1000000000ULL + nsec;
}

static __always_inline __u64 pg_task_tty(struct task_struct *task)
{
	struct signal_struct *sig = NULL;
	struct tty_struct *tty = NULL;
	struct tty_driver *drv = NULL;
	int index = 0, major = 0, minor = 0;
	PG_READ(sig, task->signal);
	if (!sig)
		return 0;
	PG_READ(tty, sig->tty);
	if (!tty)
		return 0;
	PG_READ(index, tty->index);
	PG_READ(drv, tty->driver);
	if (drv) {
		PG_READ(major, drv->major);
		PG_READ(minor, drv->minor_start);
	}
	minor += index;
	/* The kernel's new_encode_dev, as /proc/PID/stat's tty_nr and Falco print it. */
	return ((__u64)minor & 0xff) | ((__u64)major << 8) | (((__u64)minor & ~0xffULL) << 12);
}

/* argv[0] as `exe`, the rest as `args`, from the new image's argument area. */
static __always_inline void pg_push_exe_args(struct pg_writer *w, struct mm_struct *mm)
{
	unsigned long start = 0, end = 0;
	if (mm) {
		PG_READ(start, mm->arg_start);
		PG_READ(end, mm->arg_end);
	}
	if (!start || end <= start) {
		pg_push_absent(w);
		pg_push_absent(w);
		return;
	}
	long n = bpf_probe_read_user_str(w->buf + PG_SAFE(w->pos), PG_MAX_PATH, (void *)start);
	if (n <= 0) {
		pg_push_absent(w);
		pg_push_absent(w);
		return;
	}
	pg_set_len(w, n - 1);
	unsigned long rest = start + n;
	__u64 total = end > rest ? end - rest : 0;
	pg_push_user_bytes(w, (void *)rest, total, PG_MAX_ARGS);
}

static __always_inline void pg_push_env(struct pg_writer *w, struct mm_struct *mm)
{
	unsigned long start = 0, end = 0;
	if (mm) {
		PG_READ(start, mm->env_start);
		PG_READ(end, mm->env_end);
	}
	if (!start || end <= start) {
		pg_push_absent(w);
		return;
	}
	pg_push_user_bytes(w, (void *)start, end - start, PG_MAX_ENV);
}

#define PG_SB_RDONLY 1
#define PG_S_IMMUTABLE 8
#define PG_S_IFMT 0170000
#define PG_S_IFREG 0100000
#define PG_S_IFDIR 0040000
#define PG_S_IFLNK 0120000
#define PG_MAY_WRITE 2
#define PG_CAP_DAC_OVERRIDE 1

/*
 * Could the exec'ing user write the executable? The kernel's acl_permission_check()
 * without ACLs or supplementary groups, as Falco's probe approximates it: not on a
 * read-only mount, not immutable, then owner / group / other write bits, then
 * CAP_DAC_OVERRIDE.
 */
static __always_inline bool pg_exe_writable(struct inode *inode, const struct cred *cred)
{
	unsigned short mode = 0;
	unsigned int iflags = 0;
	__u32 iuid = 0, igid = 0, fsuid = 0, fsgid = 0;
	__u64 sflags = 0, caps = 0;
	struct super_block *sb = NULL;
	if (!inode || !cred)
		return false;
	PG_READ(mode, inode->i_mode);
	PG_READ(iflags, inode->i_flags);
	PG_READ(iuid, inode->i_uid.val);
	PG_READ(igid, inode->i_gid.val);
	PG_READ(sb, inode->i_sb);
	if (sb)
		PG_READ(sflags, sb->s_flags);
	__u32 type = mode & PG_S_IFMT;
	if ((sflags & PG_SB_RDONLY) &&
	    (type == PG_S_IFREG || type == PG_S_IFDIR || type == PG_S_IFLNK))
		return false;
	if (iflags & PG_S_IMMUTABLE)
		return false;
	if (iuid == (__u32)-1 || igid == (__u32)-1)
		return false; /* ids not mapped into the filesystem's namespace */
	PG_READ(fsuid, cred->fsuid.val);
	PG_READ(fsgid, cred->fsgid.val);
	if (fsuid == iuid)
		return true; /* the owner can always make it writable */
	__u32 bits = fsgid == igid ? mode >> 3 : mode;
	if (bits & PG_MAY_WRITE)
		return true;
	PG_READ(caps, cred->cap_effective.val);
	return caps & (1ULL << PG_CAP_DAC_OVERRIDE);
}

SEC("tp_btf/sched_process_exec")
int pg_sched_exec(__u64 *ctx)
{
	struct task_struct *task = (struct task_struct *)ctx[0];
	struct linux_binprm *bprm = (struct linux_binprm *)ctx[2];
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32;
	struct pg_writer w;
	if (pg_is_self(tgid))
		return 0;

	struct pt_regs *regs = bpf_task_pt_regs(task);
	__u64 nr = 0;
	if (regs)
		PG_READ(nr, regs->orig_ax);
	__u16 etype = nr == PG_NR_execveat ? PG_ET_EXECVEAT : PG_ET_EXECVE;

	if (!pg_begin(&w, etype, PG_EXEC_NPARAMS, (__u32)pid_tgid, tgid))
		return 0;

	struct mm_struct *mm = NULL;
	struct task_struct *parent = NULL;
	const struct cred *cred = NULL;
	struct fs_struct *fs = NULL;
	struct file *exe_file = NULL;
	int ptgid = 0;
	PG_READ(mm, task->mm);
	PG_READ(parent, task->real_parent);
	if (parent)
		PG_READ(ptgid, parent->tgid);
	PG_READ(cred, task->cred);
	PG_READ(fs, task->fs);
	if (mm)
		PG_READ(exe_file, mm->exe_file);

	pg_push_u64(&w, 0);                               /* res */
	pg_push_exe_args(&w, mm);                         /* exe, args */
	pg_push_u64(&w, (__u32)pid_tgid);                 /* tid */
	pg_push_u64(&w, tgid);                            /* pid */
	pg_push_u64(&w, ptgid);                           /* ptid */
	if (fs) {                                         /* cwd */
		struct vfsmount *mnt = NULL;
		struct dentry *dentry = NULL;
		PG_READ(mnt, fs->pwd.mnt);
		PG_READ(dentry, fs->pwd.dentry);
		pg_push_path(&w, mnt, dentry);
	} else {
		pg_push_absent(&w);
	}
	pg_push_kernel_str(&w, task->comm, 16);           /* comm */
	pg_push_cgroups(&w, task);                      /* cgroups */
	pg_push_env(&w, mm);                              /* env */
	pg_push_u64(&w, pg_task_tty(task));               /* tty */
	pg_push_u64(&w, pg_task_signal_pid_vnr(task, PIDTYPE_PGID)); /* vpgid */
	__u32 loginuid = 0;
	PG_READ(loginuid, task->loginuid.val);
	pg_push_u64(&w, loginuid);                        /* loginuid */

	__u64 exe_flags = 0;
	__u64 ino = 0, ctime = 0, mtime = 0;
	if (exe_file) {
		struct inode *inode = NULL;
		const unsigned char *dname = NULL;
		char prefix[6] = {};
		PG_READ(inode, exe_file->f_inode);
		if (inode) {
			unsigned long i = 0;
			PG_READ(i, inode->i_ino);
			ino = i;
			ctime = pg_inode_time(inode, true);
			mtime = pg_inode_time(inode, false);
			exe_flags |= pg_inode_layer(inode);
			if (pg_exe_writable(inode, cred))
				exe_flags |= PG_EXE_WRITABLE;
		}
		struct dentry *dentry = NULL;
		PG_READ(dentry, exe_file->f_path.dentry);
		if (dentry)
			PG_READ(dname, dentry->d_name.name);
		bpf_probe_read_kernel(prefix, sizeof(prefix), dname);
		if (prefix[0] == 'm' && prefix[1] == 'e' && prefix[2] == 'm' && prefix[3] == 'f' &&
		    prefix[4] == 'd' && prefix[5] == ':')
			exe_flags |= PG_EXE_FROM_MEMFD;
	}
	pg_push_u64(&w, exe_flags);                       /* flags */
	__u64 capi = 0, capp = 0, cape = 0;
	__u32 euid = 0, egid = 0;
	if (cred) {
		PG_READ(capi, cred->cap_inheritable.val);
		PG_READ(capp, cred->cap_permitted.val);
		PG_READ(cape, cred->cap_effective.val);
		PG_READ(euid, cred->euid.val);
		PG_READ(egid, cred->egid.val);
	}
	pg_push_u64(&w, capi);
	pg_push_u64(&w, capp);
	pg_push_u64(&w, cape);
	pg_push_u64(&w, ino);                             /* exe_ino */
	pg_push_u64(&w, ctime);                           /* exe_ino_ctime */
	pg_push_u64(&w, mtime);                           /* exe_ino_mtime */
	pg_push_u64(&w, euid);                            /* uid */
	pg_push_file_path(&w, exe_file);                  /* trusted_exepath */
	pg_push_u64(&w, pg_task_signal_pid_nr(task, PIDTYPE_PGID)); /* pgid */
	pg_push_u64(&w, egid);                            /* gid */
	const char *filename = NULL;
	PG_READ(filename, bprm->filename);
	pg_push_kernel_str(&w, filename, PG_MAX_PATH);    /* filename */
	pg_submit(&w);
	return 0;
}

/* A failed execve/execveat: only the result and the path asked for. */
static __noinline void pg_exec_failed(struct pg_sc *sc)
{
	struct pg_writer w;
	bool at = sc->id == PG_NR_execveat;
	if (!pg_begin(&w, at ? PG_ET_EXECVEAT : PG_ET_EXECVE, PG_EXEC_NPARAMS, sc->tid, sc->pid))
		return;
	pg_push_u64(&w, sc->ret);
	for (int i = 1; i < PG_EXEC_NPARAMS - 1; i++)
		pg_push_absent(&w);
	pg_push_user_str(&w, (void *)(at ? sc->a[1] : sc->a[0]), PG_MAX_PATH);
	pg_submit(&w);
}

SEC("tp_btf/sched_process_fork")
int pg_sched_fork(__u64 *ctx)
{
	struct task_struct *child = (struct task_struct *)ctx[1];
	struct pg_writer w;
	int ctid = 0, ctgid = 0, ptgid = 0;
	PG_READ(ctid, child->pid);
	PG_READ(ctgid, child->tgid);
	if (pg_is_self(ctgid))
		return 0;
	/* A new thread's parent is its process's parent; a new process's is the forker. */
	struct task_struct *real_parent = NULL;
	PG_READ(real_parent, child->real_parent);
	if (real_parent)
		PG_READ(ptgid, real_parent->tgid);

	struct task_struct *cur = bpf_get_current_task_btf();
	struct pt_regs *regs = bpf_task_pt_regs(cur);
	__u64 nr = 0, a0 = 0;
	if (regs) {
		PG_READ(nr, regs->orig_ax);
		PG_READ(a0, regs->di);
	}
	__u16 etype = PG_ET_CLONE;
	__u64 flags = 0;
	switch (nr) {
	case PG_NR_clone:
		flags = a0;
		break;
	case PG_NR_clone3_: {
		struct clone_args args = {};
		bpf_probe_read_user(&args, sizeof(args), (void *)a0);
		flags = args.flags;
		etype = PG_ET_CLONE3;
		break;
	}
	case PG_NR_fork:
		flags = PG_SIGCHLD;
		etype = PG_ET_FORK;
		break;
	case PG_NR_vfork:
		flags = PG_CLONE_VM | PG_CLONE_VFORK | PG_SIGCHLD;
		etype = PG_ET_VFORK;
		break;
	}
	if (ctid != ctgid)
		flags |= PG_CLONE_THREAD;

	if (!pg_begin(&w, etype, PG_CLONE_NPARAMS, ctid, ctgid))
		return 0;
	const struct cred *cred = NULL;
	__u32 euid = 0, egid = 0;
	PG_READ(cred, child->cred);
	if (cred) {
		PG_READ(euid, cred->euid.val);
		PG_READ(egid, cred->egid.val);
	}
	struct pid *tpid = NULL;
	PG_READ(tpid, child->thread_pid);
	pg_push_u64(&w, 0);                 /* res: the child's view */
	pg_push_absent(&w);                 /* exe: inherited, userspace copies it */
	pg_push_absent(&w);                 /* args */
	pg_push_u64(&w, ctid);              /* tid */
	pg_push_u64(&w, ctgid);             /* pid */
	pg_push_u64(&w, ptgid);             /* ptid */
	pg_push_absent(&w);                 /* cwd */
	pg_push_kernel_str(&w, child->comm, 16);
	pg_push_u64(&w, flags);
	pg_push_u64(&w, euid);
	pg_push_u64(&w, egid);
	pg_push_u64(&w, pg_pid_vnr(tpid));  /* vtid */
	pg_push_u64(&w, pg_task_signal_pid_vnr(child, PIDTYPE_TGID)); /* vpid */
	pg_submit(&w);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int pg_sched_exit(__u64 *ctx)
{
	struct task_struct *task = (struct task_struct *)ctx[0];
	int tid = 0, tgid = 0, code = 0;
	PG_READ(tid, task->pid);
	PG_READ(tgid, task->tgid);
	if (pg_is_self(tgid))
		return 0;
	PG_READ(code, task->exit_code);
	__u64 v[5] = {(__u64)(__s64)code, (__u64)(__s64)(code >> 8), code & 0x7f,
		      (code & 0x80) ? 1 : 0, 0};
	pg_emit_ints(PG_ET_PROCEXIT, 5, v, tid, tgid);
	return 0;
}
