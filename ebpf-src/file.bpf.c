/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
/*
 * File-system syscalls: open family, creat, chmod family, mkdir/rmdir, unlink, rename,
 * link/symlink, chdir. Paths are sent as the process passed them; userspace resolves
 * relative ones against the cwd or the directory fd (except under the rule-driven path
 * filter, where opens relative to a directory fd are joined here).
 */

/* open/openat/openat2/creat: the new fd, path, flags (+ "created" bit), mode, dev, ino. */
static __noinline void pg_file_open(struct pg_sc *sc)
{
	struct pg_writer w;
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 flags = 0, mode = 0, resolve = 0, dev = 0, ino = 0;
	const void *name = NULL;
	long dirfd = AT_FDCWD;
	__u16 etype;
	__u16 nparams;

	switch (sc->id) {
	case PG_NR_open:
		etype = PG_ET_OPEN;
		nparams = 6;
		name = (void *)sc->a[0];
		flags = (__u32)sc->a[1];
		mode = (__u32)sc->a[2];
		break;
	case PG_NR_openat:
		etype = PG_ET_OPENAT;
		nparams = 7;
		dirfd = (int)sc->a[0];
		name = (void *)sc->a[1];
		flags = (__u32)sc->a[2];
		mode = (__u32)sc->a[3];
		break;
	case PG_NR_openat2: {
		struct open_how how = {};
		etype = PG_ET_OPENAT2;
		nparams = 8;
		dirfd = (int)sc->a[0];
		name = (void *)sc->a[1];
		bpf_probe_read_user(&how, sizeof(how), (void *)sc->a[2]);
		flags = how.flags;
		mode = how.mode;
		resolve = how.resolve;
		break;
	}
	default: /* creat */
		etype = PG_ET_CREAT;
		nparams = 6;
		name = (void *)sc->a[0];
		mode = (__u32)sc->a[1];
		flags = 0x41 | 0x200; /* O_CREAT|O_WRONLY|O_TRUNC, as creat(2) defines it */
		break;
	}

	/*
	 * Which opens the path filter judges: not those the state tables follow (all but
	 * regular files under PG_TRACK_NONREG), not writes under PG_WRITE_ANY, not those of
	 * a task named in pg_comms. The new fd's file is looked up here only when the tables'
	 * choice needs it, else once the open is known to be sent.
	 */
	struct file *file = NULL;
	bool untracked = false, tracked = false;
	if ((sc->want & PG_TRACK_NONREG) && sc->ret >= 0) {
		file = (struct file *)pg_fd_file_ptr(task, sc->ret);
		untracked = file && pg_file_regular(file);
		tracked = file && !untracked;
	}
	bool write = etype != PG_ET_CREAT && ((flags & 3) == 1 || (flags & 3) == 2);
	__u8 admit = PG_ADMIT_ANY | (write ? PG_ADMIT_WRITE : 0);
	bool filter = (sc->want & PG_PATH_FILTER) && !tracked &&
		      !(write && (sc->want & PG_WRITE_ANY)) &&
		      !((sc->want & PG_COMM) && pg_comm_wanted(admit));

	/*
	 * Most opens under the path filter are judged before anything else is done: the name
	 * is read into scratch where the record would hold it, and only a wanted one goes on
	 * to build the record (reading it again).
	 */
	bool judged = filter && (dirfd == AT_FDCWD || !name);
	if (judged) {
		__u32 cpu = bpf_get_smp_processor_id();
		__u8 *buf = bpf_map_lookup_elem(&pg_scratch, &cpu);
		__u32 at = PG_HDR_SIZE + 2 * nparams + 8 * (1 + (etype == PG_ET_OPENAT ||
								 etype == PG_ET_OPENAT2));
		if (buf) {
			long r = name ? bpf_probe_read_user_str(buf + PG_SAFE(at), PG_MAX_PATH, name)
				      : 0;
			if (!pg_path_wanted(buf, at, r > 0 ? r - 1 : 0, admit, sc->want)) {
				pg_filtered(sc);
				return;
			}
		}
	}

	if (!pg_begin(&w, etype, nparams, sc->tid, sc->pid))
		return;
	pg_push_u64(&w, sc->ret);

	/*
	 * Under the path filter, state tables do not follow every fd, so a name relative to a
	 * directory fd is made absolute here, from the directory's path (dirfd then reads
	 * AT_FDCWD); the filter then judges the whole name.
	 */
	struct file *dir = NULL;
	if ((sc->want & PG_PATH_FILTER) && dirfd != AT_FDCWD && name) {
		char c0 = 0;
		bpf_probe_read_user(&c0, 1, name);
		if (c0 != '/')
			dir = (struct file *)pg_fd_file_ptr(task, dirfd);
	}
	if (etype == PG_ET_OPENAT || etype == PG_ET_OPENAT2)
		pg_push_u64(&w, dir ? (__u64)AT_FDCWD : (__u64)dirfd);
	__u32 path_at = w.pos;
	long n;
	if (dir) {
		pg_push_file_path(&w, dir);
		__u32 dlen = w.pos - path_at;
		__u32 at = w.pos;
		if (!(dlen == 1 && w.buf[PG_SAFE(path_at)] == '/')) {
			w.buf[PG_SAFE(at)] = '/';
			at++;
		}
		long r = bpf_probe_read_user_str(w.buf + PG_SAFE(at), PG_MAX_PATH, name);
		pg_extend_last(&w, (at - w.pos) + (r > 0 ? r - 1 : 0));
		n = w.pos - path_at;
	} else {
		n = pg_push_user_str(&w, name, PG_MAX_PATH);
	}
	/* Names next to a directory fd are judged here, once joined if they were relative. */
	if (filter && !judged && !pg_path_wanted(w.buf, path_at, n, admit, sc->want)) {
		pg_filtered(sc);
		__sync_fetch_and_add(&w.cnt->n_evts, -1); /* not a record after all */
		return;
	}

	bool created = false;
	if (!file && sc->ret >= 0)
		file = (struct file *)pg_fd_file_ptr(task, sc->ret);
	if (file) {
		struct inode *inode;
		__u32 fmode;
		pg_file_mode_inode(file, &fmode, &inode);
		created = fmode & FMODE_CREATED;
		pg_inode_dev_ino(inode, &dev, &ino);
	}
	if (created)
		flags |= PG_O_F_CREATED;
	if (untracked)
		flags |= PG_O_F_UNTRACKED;

	if (etype == PG_ET_CREAT) {
		pg_push_u64(&w, mode);
		pg_push_u64(&w, dev);
		pg_push_u64(&w, ino);
		/* creat_flags: overlay layer bits are not tracked; only PG_O_F_UNTRACKED */
		pg_push_u64(&w, untracked ? PG_O_F_UNTRACKED : 0);
	} else {
		pg_push_u64(&w, flags);
		pg_push_u64(&w, mode);
		if (etype == PG_ET_OPENAT2)
			pg_push_u64(&w, resolve);
		pg_push_u64(&w, dev);
		pg_push_u64(&w, ino);
	}
	pg_submit(&w);
}

/* Calls whose parameters are res, then paths and integers in argument order. */
static __noinline void pg_file_paths(struct pg_sc *sc)
{
	struct pg_writer w;
	__u16 etype;
	__u16 n;
	/*
	 * Parameter layout per call: bit i of `strs` says argument i is a path (else an
	 * integer); `args` is how many arguments follow res.
	 */
	__u32 strs = 0, args = 0;
	switch (sc->id) {
	case PG_NR_chmod:   etype = PG_ET_CHMOD;   args = 2; strs = 0x1; break;
	case PG_NR_fchmod:  etype = PG_ET_FCHMOD;  args = 2; strs = 0x0; break;
	case PG_NR_fchmodat: etype = PG_ET_FCHMODAT; args = 3; strs = 0x2; break;
	case PG_NR_mkdir:   etype = PG_ET_MKDIR;   args = 2; strs = 0x1; break;
	case PG_NR_mkdirat: etype = PG_ET_MKDIRAT; args = 3; strs = 0x2; break;
	case PG_NR_rmdir:   etype = PG_ET_RMDIR;   args = 1; strs = 0x1; break;
	case PG_NR_unlink:  etype = PG_ET_UNLINK;  args = 1; strs = 0x1; break;
	case PG_NR_unlinkat: etype = PG_ET_UNLINKAT; args = 3; strs = 0x2; break;
	case PG_NR_rename:  etype = PG_ET_RENAME;  args = 2; strs = 0x3; break;
	case PG_NR_renameat: etype = PG_ET_RENAMEAT; args = 4; strs = 0xa; break;
	case PG_NR_renameat2: etype = PG_ET_RENAMEAT2; args = 5; strs = 0xa; break;
	case PG_NR_symlink: etype = PG_ET_SYMLINK; args = 2; strs = 0x3; break;
	case PG_NR_symlinkat: etype = PG_ET_SYMLINKAT; args = 3; strs = 0x5; break;
	case PG_NR_link:    etype = PG_ET_LINK;    args = 2; strs = 0x3; break;
	case PG_NR_linkat:  etype = PG_ET_LINKAT;  args = 5; strs = 0xa; break;
	case PG_NR_chdir:   etype = PG_ET_CHDIR;   args = 1; strs = 0x1; break;
	case PG_NR_fchdir:  etype = PG_ET_FCHDIR;  args = 1; strs = 0x0; break;
	default:
		return;
	}
	if (etype == PG_ET_FCHDIR && (sc->want & PG_FD_AS_PATH) && sc->ret == 0) {
		/* State tables do not follow every fd: send where the cwd went, as a chdir. */
		struct task_struct *task = bpf_get_current_task_btf();
		struct file *dir = (struct file *)pg_fd_file_ptr(task, (int)sc->a[0]);
		if (dir) {
			if (!pg_begin(&w, PG_ET_CHDIR, 2, sc->tid, sc->pid))
				return;
			pg_push_u64(&w, sc->ret);
			pg_push_file_path(&w, dir);
			pg_submit(&w);
			return;
		}
	}
	n = args + 1;
	/*
	 * fchmod when the state tables leave regular files out: the file's path follows the
	 * parameters, for userspace to name the fd by.
	 */
	struct file *named = NULL;
	if (etype == PG_ET_FCHMOD && (sc->want & PG_FD_AS_PATH)) {
		named = (struct file *)pg_fd_file_ptr(bpf_get_current_task_btf(), (int)sc->a[0]);
		if (named)
			n++;
	}
	if (!pg_begin(&w, etype, n, sc->tid, sc->pid))
		return;
	pg_push_u64(&w, sc->ret);
	for (int i = 0; i < 5; i++) {
		if (i >= args)
			break;
		__u64 a = sc->a[i];
		if (strs & (1 << i)) {
			pg_push_user_str(&w, (void *)a, PG_MAX_PATH);
		} else {
			/* fds and dirfds are ints: sign-extend so AT_FDCWD reads as -100. */
			bool is_fd = (etype == PG_ET_FCHMOD && i == 0) ||
				     (etype == PG_ET_FCHDIR && i == 0) ||
				     ((etype == PG_ET_FCHMODAT || etype == PG_ET_MKDIRAT ||
				       etype == PG_ET_UNLINKAT) && i == 0) ||
				     ((etype == PG_ET_RENAMEAT || etype == PG_ET_RENAMEAT2 ||
				       etype == PG_ET_LINKAT) && (i == 0 || i == 2)) ||
				     (etype == PG_ET_SYMLINKAT && i == 1);
			pg_push_u64(&w, is_fd ? (__u64)(__s64)(int)a : (__u64)(__u32)a);
		}
	}
	if (named)
		pg_push_file_path(&w, named);
	pg_submit(&w);
}
