//! Fuzzing the capture reader (`peregrine replay`'s input): capture files written by
//! `CaptureWriter` from the synthetic generator, including records whose processes nest
//! deep, then mutated (lengths, MessagePack markers, nesting), must read to the end with
//! events or errors, never a panic or a stack overflow. Read on a stack the size the agent's
//! source thread gets. `PEREGRINE_FUZZ_SECS` sets the time spent (default 3 s).

use peregrine::capture::{
    CaptureHeader, CaptureReader, CaptureWriter, DECODE_STACK, FORMAT_VERSION, MAGIC, MAX_NESTING,
};
use peregrine_event::fuzzing::{fuzz, mutated_bytes, Outcome};
use peregrine_event::synth::{with_ancestors, Generator, SynthConfig};
use peregrine_event::Event;
use std::io::Cursor;
use std::path::Path;

fn header() -> CaptureHeader {
    CaptureHeader {
        version: FORMAT_VERSION,
        hostname: "fuzz-host".into(),
        created_ns: 1_700_000_000_000_000_000,
        producer: "synthetic".into(),
    }
}

/// An event whose process has `depth` recorded ancestors.
fn nested(depth: usize) -> Event {
    let ev = Generator::new(SynthConfig::default())
        .find(|e| e.process.is_some())
        .expect("the generator makes processes");
    with_ancestors(ev, depth)
}

/// The bytes of a capture of `events`, written by the real writer.
fn capture(name: &str, events: &[Event]) -> Vec<u8> {
    let path = std::env::temp_dir().join(format!(
        "peregrine-fuzz-capture-{}-{name}",
        std::process::id()
    ));
    let mut w = CaptureWriter::create(&path, &header()).unwrap();
    for ev in events {
        w.write(ev).unwrap();
    }
    w.finish().unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).ok();
    bytes
}

fn samples() -> Vec<Vec<u8>> {
    let synth = |seed, n| {
        Generator::new(SynthConfig {
            seed,
            containers: 3,
            suspicious_per_mille: 200,
            ..SynthConfig::default()
        })
        .take(n)
        .collect::<Vec<_>>()
    };
    vec![
        capture("few", &synth(1, 3)),
        capture("many", &synth(7, 25)),
        capture("nested", &[nested(8), nested(40)]),
        // Just below and just past the nesting bound.
        capture("deep", &[nested(MAX_NESTING - 20), nested(MAX_NESTING + 5)]),
        capture("empty", &[]),
    ]
}

/// MessagePack markers and lengths that steer the decoder: containers (deep ones too),
/// huge declared sizes, and record/header lengths at their edges.
fn tokens() -> Vec<Vec<u8>> {
    vec![
        vec![0x91; 64],
        vec![0x81, 0xa1, b'p'],
        vec![0x91; 2_000],
        [0x81, 0xa6].iter().chain(b"parent").copied().collect(),
        vec![0xdc, 0xff, 0xff],
        vec![0xdd, 0xff, 0xff, 0xff, 0xff],
        vec![0xdf, 0x7f, 0xff, 0xff, 0xff],
        vec![0xc6, 0xff, 0xff, 0xff, 0x00],
        vec![0xdb, 0x00, 0x00, 0x10, 0x00],
        vec![0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        vec![0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0],
        vec![0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0],
        vec![0xc0],
        vec![0xc1],
        vec![0xd4, 0x01, 0x00],
        (16u32 << 20).to_le_bytes().to_vec(),
        ((16u32 << 20) + 1).to_le_bytes().to_vec(),
        0u32.to_le_bytes().to_vec(),
        MAGIC.to_vec(),
        b"\xa5etype\xa6execve".to_vec(),
    ]
}

/// Reads a capture to its end; `None` when it could not be opened.
fn read_all(bytes: Vec<u8>) -> (bool, usize, usize) {
    let mut reader = match CaptureReader::new(Cursor::new(bytes), Path::new("fuzz.cap")) {
        Ok(r) => r,
        Err(e) => {
            let _ = e.to_string();
            return (false, 0, 0);
        }
    };
    let (mut events, mut errors) = (0, 0);
    while let Some(next) = reader.next_event() {
        match next {
            Ok(ev) => {
                // What the replay source and the rules read off an event.
                let depth = ev.process.as_ref().map_or(0, |p| p.ancestors().count());
                assert!(depth <= MAX_NESTING, "{depth} ancestors passed the bound");
                events += 1;
            }
            Err(e) => {
                let _ = (e.is_skippable(), e.to_string());
                errors += 1;
            }
        }
        assert!(events + errors <= 100_000, "the reader does not end");
    }
    (true, events, errors)
}

#[test]
fn capture_reader() {
    // Writing (and dropping) events nested this deep needs the decode stack too.
    let samples = std::thread::Builder::new()
        .stack_size(DECODE_STACK)
        .spawn(samples)
        .unwrap()
        .join()
        .unwrap();
    // Sanity: the unmutated samples read cleanly, the one past the bound refused alone.
    for s in &samples {
        let (opened, _, errors) = read_all_on_decode_stack(s.clone());
        assert!(opened);
        assert!(errors <= 1, "{errors}");
    }
    fuzz(
        "capture_reader",
        mutated_bytes(samples, tokens(), 256),
        |bytes| match read_all_on_decode_stack(bytes) {
            (true, _, 0) => Outcome::Accepted,
            _ => Outcome::Rejected,
        },
    );
}

/// As the agent's source thread decodes: on a thread with [`DECODE_STACK`].
fn read_all_on_decode_stack(bytes: Vec<u8>) -> (bool, usize, usize) {
    let worker = std::thread::Builder::new()
        .stack_size(DECODE_STACK)
        .spawn(move || read_all(bytes))
        .unwrap();
    // A panic on the reading thread is re-raised here, where the driver sees it.
    worker
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p))
}
