//! One of the object's bench-only programs (`pg_bench_empty`, `pg_bench_floor`) loaded
//! and attached to `sys_exit` by itself, for the syscall_overhead bench and the floor
//! example. Dropping the returned object detaches it.

/// Bytes of `pg_bench_ring`, which only the floor program writes.
const FLOOR_RING_BYTES: u32 = 8 << 20;

pub fn attach_alone(program: &str) -> aya::Ebpf {
    let btf = aya::Btf::from_sys_fs().expect("kernel BTF (run as root on a BTF kernel)");
    let mut ebpf = aya::EbpfLoader::new()
        .btf(Some(&btf))
        .map_max_entries("pg_bench_ring", FLOOR_RING_BYTES)
        .load(peregrine_probes::OBJECT)
        .expect("object loads");
    let prog: &mut aya::programs::BtfTracePoint = ebpf
        .program_mut(program)
        .unwrap_or_else(|| panic!("{program} is not in the object"))
        .try_into()
        .expect("a tp_btf program");
    prog.load("sys_exit", &btf)
        .unwrap_or_else(|e| panic!("{program} loads: {e}"));
    prog.attach()
        .unwrap_or_else(|e| panic!("{program} attaches: {e}"));
    ebpf
}

/// The floor program's ring, taken out of its object.
pub fn floor_ring(ebpf: &mut aya::Ebpf) -> aya::maps::RingBuf<aya::maps::MapData> {
    aya::maps::RingBuf::try_from(ebpf.take_map("pg_bench_ring").expect("pg_bench_ring"))
        .expect("a ring buffer")
}
