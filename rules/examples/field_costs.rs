//! Prints what extracting each field costs on the synthetic stream (ns per event).
//!
//! `cargo run --release -p peregrine-rules --example field_costs -- proc.name fd.name …`

use peregrine_event::synth::{Generator, SynthConfig};
use peregrine_rules::fields::{self, Value};
use std::time::Instant;

fn main() {
    let names: Vec<String> = std::env::args().skip(1).collect();
    let events: Vec<_> = Generator::new(SynthConfig {
        seed: 42,
        containers: 12,
        ..Default::default()
    })
    .take(
        std::env::var("N")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(100_000),
    )
    .collect();
    for name in &names {
        let (base, arg) = match name.split_once('[') {
            Some((b, rest)) => (b, rest.strip_suffix(']')),
            None => (name.as_str(), None),
        };
        let field = match fields::resolve(base, arg) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("{name}: {e}");
                continue;
            }
        };
        let mut v = Value::default();
        let mut present = 0usize;
        let start = Instant::now();
        for _ in 0..(500_000 / events.len()).max(1) {
            for ev in &events {
                present += field.extract(ev, &mut v) as usize;
            }
        }
        let ns = start.elapsed().as_nanos() as f64
            / (((500_000 / events.len()).max(1) * events.len()) as f64);
        println!(
            "{ns:8.1} ns  {:5.1}% present  {name}",
            100.0 * present as f64 / (((500_000 / events.len()).max(1) * events.len()) as f64)
        );
    }
}
