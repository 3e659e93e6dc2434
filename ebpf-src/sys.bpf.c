/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
/*
 * The rest: fd bookkeeping (dup family, close), credentials (setuid family), sessions
 * (setsid), namespaces (setns, unshare), ptrace, bpf, kernel modules, userfaultfd. Most are
 * integers only and go straight into a reserved ring slot.
 */

static __noinline void pg_sys_misc(struct pg_sc *sc)
{
	__u64 r = sc->ret;
	__u64 fd0 = (__u64)(__s64)(int)sc->a[0];
	switch (sc->id) {
	case PG_NR_close: {
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
