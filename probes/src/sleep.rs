//! How a reader at rest sleeps until data arrives instead of polling.
//!
//! Under load the programs never wake the reader (a wake-up is an inter-processor interrupt
//! paid inside the traced syscall); it naps and polls. At rest that would mean a wake-up per
//! nap for nothing, and each costs 100–200 µs of CPU in a VM. So before a long sleep the
//! reader sets its CPUs' flags in `pg_asleep`, looks at its rings a last time, and sleeps
//! until the first record (the program that commits it sees the flag and wakes the ring)
//! or its timeout. The flag is read after the commit and set before the last look, so a
//! record is either seen by that look or wakes the reader.

use aya::maps::{Array, MapData};
use std::sync::Mutex;

/// The `pg_asleep` map: one flag per CPU.
pub(crate) struct SleepFlags {
    map: Mutex<Array<MapData, u32>>,
}

impl SleepFlags {
    pub(crate) fn new(map: Array<MapData, u32>) -> SleepFlags {
        SleepFlags {
            map: Mutex::new(map),
        }
    }

    /// Sets (or clears) the flags of `cpus`. False when the kernel refused an update: the
    /// caller then must not sleep long, since a record might not wake it.
    pub(crate) fn set(&self, cpus: &[u32], asleep: bool) -> bool {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let mut ok = true;
        for &cpu in cpus {
            if let Err(err) = map.set(cpu, u32::from(asleep), 0) {
                tracing::warn!(cpu, %err, "could not update the reader's sleep flag");
                ok = false;
            }
        }
        // The flag store (made by the syscall on this CPU) before the ring loads of the
        // last look: the other half of the program's commit-then-read.
        std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
        ok
    }
}
