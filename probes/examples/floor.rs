//! Attaches only the bench's floor program (`pg_bench_floor`: a boot-clock stamp, a ring
//! slot and, for `openat`, the path; nothing else) and drains its ring until killed, so
//! `probes/tools/program_cost.py pg_bench_floor` can time it per call next to
//! Peregrine's own programs.
//!
//! `cargo run --release -p peregrine-probes --example floor` (root).

use std::time::Duration;

fn main() {
    let btf = aya::Btf::from_sys_fs().expect("kernel BTF (run as root on a BTF kernel)");
    let mut ebpf = aya::EbpfLoader::new()
        .btf(Some(&btf))
        .map_max_entries("pg_bench_ring", 8 << 20)
        .load(peregrine_probes::OBJECT)
        .expect("object loads");
    let prog: &mut aya::programs::BtfTracePoint = ebpf
        .program_mut("pg_bench_floor")
        .expect("pg_bench_floor in the object")
        .try_into()
        .expect("a tp_btf program");
    prog.load("sys_exit", &btf).expect("floor program loads");
    prog.attach().expect("floor program attaches");
    let mut ring = aya::maps::RingBuf::try_from(ebpf.take_map("pg_bench_ring").unwrap()).unwrap();
    eprintln!("pg_bench_floor attached; Ctrl-C to stop");
    loop {
        while ring.next().is_some() {}
        std::thread::sleep(Duration::from_millis(1));
    }
}
