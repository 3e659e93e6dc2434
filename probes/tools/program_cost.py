#!/usr/bin/env python3
"""Per-call run time of a sys_exit program, split into openat and close calls.

Run as root while an agent (or any user of the probes) is attached:
    sysctl -w kernel.bpf_stats_enabled=1
    python3 probes/tools/program_cost.py [PROGRAM]
    sysctl -w kernel.bpf_stats_enabled=0
PROGRAM is pg_sys_exit (Peregrine's dispatcher, the default) or pg_bench_floor (attached by
`cargo run --release -p peregrine-probes --example floor`).
Opens /etc/hostname as many times as the fd limit allows, then closes them, and reads
bpftool's run_cnt/run_time_ns before and after each phase. The stats themselves add about
40 ns per run (an empty program reads ~42 ns with them on). Other processes' syscalls in
the same phases are counted too, so keep the machine quiet.
"""
import json
import os
import resource
import subprocess
import sys

PROGRAM = sys.argv[1] if len(sys.argv) > 1 else "pg_sys_exit"


def stats():
    out = subprocess.run(["bpftool", "prog", "show", "-j"], capture_output=True,
                         text=True, check=True).stdout
    for p in json.loads(out):
        if p.get("name") == PROGRAM:
            return p.get("run_cnt", 0), p.get("run_time_ns", 0)
    raise SystemExit(f"{PROGRAM} is not loaded (or kernel.bpf_stats_enabled is 0)")


def per_run(before, after):
    runs = after[0] - before[0]
    return runs, (after[1] - before[1]) / max(runs, 1)


def main():
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    n = min(100_000, hard - 100)
    for _ in range(3):
        a = stats()
        fds = [os.open("/etc/hostname", os.O_RDONLY) for _ in range(n)]
        b = stats()
        for fd in fds:
            os.close(fd)
        c = stats()
        (ro, to), (rc, tc) = per_run(a, b), per_run(b, c)
        print(f"openat phase: {ro} runs, {to:.0f} ns/run; close phase: {rc} runs, {tc:.0f} ns/run")


if __name__ == "__main__":
    main()
