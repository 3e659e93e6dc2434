//! The configuration model (falco.yaml-compatible). Built in its own issue; nothing here yet.
