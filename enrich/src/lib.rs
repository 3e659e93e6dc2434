//! Enrichment: process, fd, user and container tables. Built in its own issue; nothing here yet.
