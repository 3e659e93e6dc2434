//! Attaches only the bench's floor program (`pg_bench_floor`: a boot-clock stamp, a ring
//! slot and, for `openat`, the path; nothing else) and drains its ring until killed, so
//! `probes/tools/program_cost.py pg_bench_floor` can time it per call next to
//! Peregrine's own programs.
//!
//! `cargo run --release -p peregrine-probes --example floor` (root).

use std::time::Duration;

#[path = "../benches/common/alone.rs"]
mod alone;

fn main() {
    let mut ebpf = alone::attach_alone("pg_bench_floor");
    let mut ring = alone::floor_ring(&mut ebpf);
    eprintln!("pg_bench_floor attached; Ctrl-C to stop");
    loop {
        while ring.next().is_some() {}
        std::thread::sleep(Duration::from_millis(1));
    }
}
