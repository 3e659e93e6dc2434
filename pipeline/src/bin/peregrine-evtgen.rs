//! The performer: executes a plan (see `evtgen::plan` for its format) as real processes
//! and real system calls, for live detection tests (Falco's evtgen suite runner, the
//! default-rules tests, the load-test tool).

mod evtgen;

fn main() {
    if let Err(e) = evtgen::main() {
        eprintln!("peregrine-evtgen: {e:#}");
        std::process::exit(1);
    }
}
