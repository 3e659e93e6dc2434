/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
/*
 * Peregrine's kernel programs, one translation unit (one object to load and commit):
 * the sys_exit dispatcher here, one file per event family below.
 */
#include "vmlinux_min.h"
#include "helpers.h"
#include "syscall_nr.h"
#include "events.h"
#include "maps.h"
#include "common.h"

#include "file.bpf.c"
#include "net.bpf.c"
#include "proc.bpf.c"
#include "sys.bpf.c"

char LICENSE[] SEC("license") = "GPL";

#define TS_COMPAT 0x0002

SEC("tp_btf/sys_exit")
int pg_sys_exit(__u64 *ctx)
{
	struct pt_regs *regs = (struct pt_regs *)ctx[0];
	__u32 id = regs->orig_ax;
	if (id >= PG_NR_SYSCALLS)
		return 0;
	/* The one lookup every syscall pays: is anybody interested in this one? */
	__u8 *on = bpf_map_lookup_elem(&pg_interesting, &id);
	if (!on || !*on)
		return 0;

	__u32 want = *on;

	long ret = (long)ctx[1];
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32;
	struct pg_settings *s = pg_get_settings();
	if (!s || s->own_tgid == tgid)
		return 0;
	struct task_struct *task = bpf_get_current_task_btf();
	if (task->thread_info.status & TS_COMPAT)
		return 0; /* 32-bit syscall numbers differ: not decoded */

	__u32 cpu = bpf_get_smp_processor_id();
	struct pg_sc_counters *cnt = bpf_map_lookup_elem(&pg_sc_counters, &cpu);
	if (cnt)
		cnt->seen[id & (PG_NR_SYSCALLS - 1)]++;
	/* No rule can match this outcome, and no table needs it. */
	if (!(want & (ret < 0 ? PG_WANT_FAILED : PG_WANT_OK)) || (s->drop_failed && ret < 0)) {
		if (cnt)
			cnt->filtered[id & (PG_NR_SYSCALLS - 1)]++;
		return 0;
	}

	struct pg_sc sc = {};
	sc.a[0] = regs->di;
	sc.a[1] = regs->si;
	sc.a[2] = regs->dx;
	sc.a[3] = regs->r10;
	sc.a[4] = regs->r8;
	sc.a[5] = regs->r9;
	sc.ret = ret;
	sc.tid = (__u32)pid_tgid;
	sc.pid = tgid;
	sc.id = id;
	sc.want = want;
	sc.cnt = cnt;

	switch (id) {
	case PG_NR_open:
	case PG_NR_openat:
	case PG_NR_openat2:
	case PG_NR_creat:
		pg_file_open(&sc);
		break;
	case PG_NR_chmod:
	case PG_NR_fchmod:
	case PG_NR_fchmodat:
	case PG_NR_mkdir:
	case PG_NR_mkdirat:
	case PG_NR_rmdir:
	case PG_NR_unlink:
	case PG_NR_unlinkat:
	case PG_NR_rename:
	case PG_NR_renameat:
	case PG_NR_renameat2:
	case PG_NR_symlink:
	case PG_NR_symlinkat:
	case PG_NR_link:
	case PG_NR_linkat:
	case PG_NR_chdir:
	case PG_NR_fchdir:
		pg_file_paths(&sc);
		break;
	case PG_NR_socket:
	case PG_NR_connect:
	case PG_NR_accept:
	case PG_NR_accept4:
	case PG_NR_listen:
	case PG_NR_bind:
	case PG_NR_sendto:
	case PG_NR_recvfrom:
	case PG_NR_sendmsg:
	case PG_NR_recvmsg:
		pg_net(&sc);
		break;
	case PG_NR_execve:
	case PG_NR_execveat:
		if (ret < 0)
			pg_exec_failed(&sc);
		break;
	case PG_NR_init_module:
	case PG_NR_finit_module:
		pg_sys_module(&sc);
		break;
	default:
		pg_sys_misc(&sc);
		break;
	}
	return 0;
}

/*
 * Does nothing: the syscall_overhead bench attaches it alone to measure what the kernel's
 * sys_exit tracepoint path costs before any of Peregrine's code runs. Never attached by
 * the agent.
 */
SEC("tp_btf/sys_exit")
int pg_bench_empty(__u64 *ctx)
{
	return 0;
}

/*
 * The floor under any record: what a traced openat or close costs at least with this
 * design (tracepoint path, boot-clock stamp, a ring slot, the path copied). The
 * syscall_overhead bench attaches it alone, with its own ring, to compare Peregrine's
 * programs against it. Never attached by the agent.
 */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096); /* the bench sizes it; the agent never uses it */
} pg_bench_ring SEC(".maps");

SEC("tp_btf/sys_exit")
int pg_bench_floor(__u64 *ctx)
{
	struct pt_regs *regs = (struct pt_regs *)ctx[0];
	__u32 id = regs->orig_ax;
	if (id != PG_NR_openat && id != PG_NR_close)
		return 0;
	/* 256 path bytes: enough for the bench's path, as Peregrine sends only what is used. */
	__u8 *rec;
	if (id == PG_NR_openat) {
		rec = bpf_ringbuf_reserve(&pg_bench_ring, 16 + 256, 0);
		if (!rec)
			return 0;
		bpf_probe_read_user_str(rec + 16, 256, (void *)regs->si);
	} else {
		rec = bpf_ringbuf_reserve(&pg_bench_ring, 16, 0);
		if (!rec)
			return 0;
	}
	*(__u64 *)rec = bpf_ktime_get_boot_ns();
	*(__u64 *)(rec + 8) = ctx[1];
	bpf_ringbuf_submit(rec, BPF_RB_NO_WAKEUP);
	return 0;
}
