/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
/* The maps shared by every program. Sizes marked 0 are set by userspace before loading. */
#ifndef PG_MAPS_H
#define PG_MAPS_H

/* Template for the ring buffers in pg_rings; userspace creates the real ones. */
struct pg_ring_template {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096 * 16);
};

/* CPU id -> ring buffer. CPUs in one group share a ring. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct pg_ring_template);
} pg_rings SEC(".maps");

/* Syscall id -> PG_WANT_* / PG_PATH_FILTER / PG_FD_AS_PATH bits (0: not traced). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PG_NR_SYSCALLS);
	__type(key, __u32);
	__type(value, __u8);
} pg_interesting SEC(".maps");

/* CPU id -> per-syscall counters of exits seen and filtered. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pg_sc_counters);
} pg_sc_counters SEC(".maps");

#define BPF_F_NO_PREALLOC 1
/* The names (exact, NUL included) and prefixes an open must have under PG_PATH_FILTER. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16384);
	__type(key, struct pg_path_key);
	__type(value, __u8);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} pg_paths SEC(".maps");

/* Task names (comm, NUL-padded to 16 bytes) whose opens PG_COMM sends: PG_ADMIT_* bits. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, char[16]);
	__type(value, __u8);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} pg_comms SEC(".maps");

/* CPU id -> the last close's file kind (see pg_close_enter). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pg_close_mark);
} pg_close_marks SEC(".maps");

/* CPU id -> counters. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pg_counters);
} pg_counters SEC(".maps");

/* CPU id -> scratch space where variable-size records are built. */
struct pg_scratch {
	__u8 data[PG_SCRATCH_SIZE];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pg_scratch);
} pg_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pg_settings);
} pg_settings SEC(".maps");

/*
 * CPU id -> 1 while the reader of that CPU's ring sleeps until data arrives (userspace sets
 * and clears it; see pg_wake_if_asleep). Sized to the CPUs by the loader.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} pg_asleep SEC(".maps");

#endif
