/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
/*
 * The rest: fd bookkeeping (dup family, close), credentials (setuid family), sessions
 * (setsid), namespaces (setns, unshare), ptrace, bpf, kernel modules, userfaultfd. Most are
 * integers only and go straight into a reserved ring slot.
 */

/* The syscalls:sys_enter_close tracepoint's record (its format file). */
struct pg_close_enter_args {
	__u64 common;
	__s32 nr;
	__u32 pad;
	__u64 fd;
};

/* The task's context switches so far, read through probe reads (a scalar task pointer). */
static __always_inline __u64 pg_switches(struct task_struct *task)
{
	unsigned long nv = 0, niv = 0;
	PG_READ(nv, task->nvcsw);
	PG_READ(niv, task->nivcsw);
	return nv + niv;
}

/*
 * On close's entry, while the fd still names its file: notes on this CPU whether the file
 * is regular, for the close's exit to read (see pg_closed_regular).
 */
static __always_inline void pg_note_close(int fd)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct pg_close_mark *m = bpf_map_lookup_elem(&pg_close_marks, &cpu);
	if (!m)
		return;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct files_struct *files = NULL;
	struct fdtable *fdt = NULL;
	struct file **fds = NULL;
	struct file *file = NULL;
	unsigned int max = 0;
	PG_READ(files, task->files);
	if (files)
		PG_READ(fdt, files->fdt);
	if (fdt) {
		PG_READ(max, fdt->max_fds);
		PG_READ(fds, fdt->fd);
	}
	if (fds && fd >= 0 && (unsigned int)fd < max)
		bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]);
	m->switches = pg_switches(task);
	m->tid = (__u32)bpf_get_current_pid_tgid();
	m->fd = fd;
	m->regular = pg_file_regular(file);
}

/* Through close's own tracepoint (tracefs): other syscalls do not run it. */
SEC("tracepoint/syscalls/sys_enter_close")
int pg_close_enter(struct pg_close_enter_args *ctx)
{
	pg_note_close((int)ctx->fd);
	return 0;
}

/* Where tracefs cannot be had (a container without it): every syscall's entry. */
SEC("tp_btf/sys_enter")
int pg_close_enter_raw(__u64 *ctx)
{
	if (ctx[1] != PG_NR_close)
		return 0;
	struct pt_regs *regs = (struct pt_regs *)ctx[0];
	pg_note_close((int)regs->di);
	return 0;
}

/*
 * Whether the close of `fd` that `tid` just made took a regular file out (see
 * pg_close_enter). The mark counts only if the task has not been switched out since it
 * was made, so it is this CPU's and nothing else overwrote it; otherwise the close is
 * sent.
 */
static __always_inline bool pg_closed_regular(__u32 tid, int fd)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct pg_close_mark *m = bpf_map_lookup_elem(&pg_close_marks, &cpu);
	if (!m || m->tid != tid || m->fd != fd || !m->regular)
		return false;
	return m->switches == pg_switches((struct task_struct *)bpf_get_current_task());
}

static __noinline void pg_sys_misc(struct pg_sc *sc)
{
	__u64 r = sc->ret;
	__u64 fd0 = (__u64)(__s64)(int)sc->a[0];
	switch (sc->id) {
	case PG_NR_close: {
		if ((sc->want & PG_TRACK_NONREG) && pg_closed_regular(sc->tid, (int)sc->a[0])) {
			pg_filtered(sc);
			return;
		}
		__u64 v[2] = {r, fd0};
		pg_emit_ints(PG_ET_CLOSE, 2, v, sc->tid, sc->pid);
		return;
	}
	case PG_NR_dup: {
		__u64 v[2] = {r, fd0};
		pg_emit_ints(PG_ET_DUP, 2, v, sc->tid, sc->pid);
		return;
	}
	case PG_NR_dup2: {
		__u64 v[3] = {r, fd0, (__u64)(__s64)(int)sc->a[1]};
		pg_emit_ints(PG_ET_DUP2, 3, v, sc->tid, sc->pid);
		return;
	}
	case PG_NR_dup3: {
		__u64 v[4] = {r, fd0, (__u64)(__s64)(int)sc->a[1], (__u32)sc->a[2]};
		pg_emit_ints(PG_ET_DUP3, 4, v, sc->tid, sc->pid);
		return;
	}
	case PG_NR_setuid:
	case PG_NR_setgid: {
		__u64 v[2] = {r, (__u32)sc->a[0]};
		pg_emit_ints(sc->id == PG_NR_setuid ? PG_ET_SETUID : PG_ET_SETGID, 2, v, sc->tid,
			     sc->pid);
		return;
	}
	case PG_NR_setresuid:
	case PG_NR_setresgid: {
		__u64 v[4] = {r, (__u32)sc->a[0], (__u32)sc->a[1], (__u32)sc->a[2]};
		pg_emit_ints(sc->id == PG_NR_setresuid ? PG_ET_SETRESUID : PG_ET_SETRESGID, 4, v,
			     sc->tid, sc->pid);
		return;
	}
	case PG_NR_setsid: {
		/* The new session's id (the caller's pid): Falco's parser follows it. */
		__u64 v[1] = {r};
		pg_emit_ints(PG_ET_SETSID, 1, v, sc->tid, sc->pid);
		return;
	}
	case PG_NR_setns: {
		__u64 v[3] = {r, fd0, (__u32)sc->a[1]};
		pg_emit_ints(PG_ET_SETNS, 3, v, sc->tid, sc->pid);
		return;
	}
	case PG_NR_unshare: {
		__u64 v[2] = {r, (__u32)sc->a[0]};
		pg_emit_ints(PG_ET_UNSHARE, 2, v, sc->tid, sc->pid);
		return;
	}
	case PG_NR_ptrace: {
		/* ptrace(request, pid, addr, data) -> res, addr, data, request, pid */
		__u64 v[5] = {r, sc->a[2], sc->a[3], sc->a[0], (__u64)(__s64)(int)sc->a[1]};
		pg_emit_ints(PG_ET_PTRACE, 5, v, sc->tid, sc->pid);
		return;
	}
	case PG_NR_bpf: {
		__u64 v[2] = {r, (__u32)sc->a[0]};
		pg_emit_ints(PG_ET_BPF, 2, v, sc->tid, sc->pid);
		return;
	}
	case PG_NR_userfaultfd: {
		__u64 v[2] = {r, (__u32)sc->a[0]};
		pg_emit_ints(PG_ET_USERFAULTFD, 2, v, sc->tid, sc->pid);
		return;
	}
	}
}

/* init_module(image, len, uargs) and finit_module(fd, uargs, flags). */
static __noinline void pg_sys_module(struct pg_sc *sc)
{
	struct pg_writer w;
	if (sc->id == PG_NR_init_module) {
		if (!pg_begin(&w, PG_ET_INIT_MODULE, 4, sc->tid, sc->pid))
			return;
		pg_push_u64(&w, sc->ret);
		pg_push_user_bytes(&w, (void *)sc->a[0], sc->a[1], pg_snaplen());
		pg_push_u64(&w, sc->a[1]);
		pg_push_user_str(&w, (void *)sc->a[2], PG_MAX_PATH);
	} else {
		if (!pg_begin(&w, PG_ET_FINIT_MODULE, 4, sc->tid, sc->pid))
			return;
		pg_push_u64(&w, sc->ret);
		pg_push_u64(&w, (__u64)(__s64)(int)sc->a[0]);
		pg_push_user_str(&w, (void *)sc->a[1], PG_MAX_PATH);
		pg_push_u64(&w, (__u32)sc->a[2]);
	}
	pg_submit(&w);
}
