//! Kernel probes: aya loader, ring-buffer readers and the wire-format decoder. Built in its own issue; nothing here yet.
