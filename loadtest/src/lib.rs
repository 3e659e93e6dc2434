//! Load-test tool: record, synthesize and replay event streams. Built in its own issue; nothing here yet.
