//! Counters. The enricher bumps plain integers per event and publishes them once per batch
//! into [`SharedStats`] (relaxed atomics another thread may read), and from there into the
//! `metrics` registry with [`EnrichStats::record_metrics`].

use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! stats {
    ($($(#[doc = $doc:literal])* $field:ident: $kind:ident $metric:literal;)*) => {
        /// A snapshot of the enricher's counters (monotonic) and table sizes (gauges).
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct EnrichStats {
            $($(#[doc = $doc])* pub $field: u64,)*
        }

        /// The counters as atomics, written by the enrichment thread once per batch.
        #[derive(Debug, Default)]
        pub struct SharedStats {
            $($field: AtomicU64,)*
        }

        impl SharedStats {
            pub fn snapshot(&self) -> EnrichStats {
                EnrichStats { $($field: self.$field.load(Ordering::Relaxed),)* }
            }

            pub(crate) fn publish(&self, s: &EnrichStats) {
                $(self.$field.store(s.$field, Ordering::Relaxed);)*
            }
        }

        /// (name, type, help) of every family this crate exports, for HELP lines and the
        /// agent's metric catalog.
        pub const METRICS: &[(&str, &str, &str)] = &[
            $(($metric, stringify!($kind), concat!($($doc),*)),)*
            ("peregrine_enrich_container_lookup_seconds", "histogram",
                " Time a container metadata lookup took, in seconds."),
            ("peregrine_enrich_container_hold_seconds", "histogram",
                " Time a new container's events were held waiting for its metadata, in seconds."),
        ];

        impl EnrichStats {
            /// Sets the `peregrine_enrich_*` counters and gauges of the global `metrics`
            /// recorder to these values.
            pub fn record_metrics(&self) {
                $(stats!(@record $kind $metric, self.$field);)*
            }
        }
    };
    (@record counter $name:literal, $v:expr) => { metrics::counter!($name).absolute($v) };
    (@record gauge $name:literal, $v:expr) => { metrics::gauge!($name).set($v as f64) };
}

stats! {
    /// Events seen.
    events: counter "peregrine_enrich_events_total";
    /// Events that arrived with process context already (captures, synthetic streams).
    preenriched: counter "peregrine_enrich_preenriched_total";
    /// Events whose process was in the table.
    process_hits: counter "peregrine_enrich_process_cache_hits_total";
    /// Events whose process was not (found in /proc, or given a minimal entry).
    process_misses: counter "peregrine_enrich_process_cache_misses_total";
    /// Processes read from /proc on demand (not counting the bootstrap).
    proc_lookups: counter "peregrine_enrich_proc_lookups_total";
    /// On-demand /proc lookups that failed (the process had gone).
    proc_lookup_failures: counter "peregrine_enrich_proc_lookup_failures_total";
    /// Misses answered from the negative cache without touching /proc.
    negative_hits: counter "peregrine_enrich_proc_negative_hits_total";
    /// Events that got only a minimal process entry (ids only) because nothing else was known.
    events_without_process: counter "peregrine_enrich_events_without_process_total";
    /// Processes read from /proc at start.
    bootstrapped: counter "peregrine_enrich_bootstrap_processes_total";
    /// Events whose fd was in the table.
    fd_hits: counter "peregrine_enrich_fd_cache_hits_total";
    /// Events on an fd the table did not know.
    fd_misses: counter "peregrine_enrich_fd_cache_misses_total";
    /// Unknown fds read from /proc/<pid>/fd.
    fd_proc_lookups: counter "peregrine_enrich_fd_proc_lookups_total";
    /// New fds not tracked because the process's table was full.
    fd_table_full: counter "peregrine_enrich_fd_table_full_total";
    /// Live processes evicted to keep the table within its size.
    process_evictions: counter "peregrine_enrich_process_evictions_total";
    /// Exited processes dropped after their linger time (or to bound their number).
    exited_dropped: counter "peregrine_enrich_exited_dropped_total";
    /// Thread entries evicted to keep the thread table within its size.
    thread_evictions: counter "peregrine_enrich_thread_evictions_total";
    /// passwd/group files re-read after a change.
    user_reloads: counter "peregrine_enrich_user_db_reloads_total";
    /// Container passwd/group files loaded.
    user_container_loads: counter "peregrine_enrich_user_db_container_loads_total";
    /// Container passwd/group loads that found no file.
    user_container_failures: counter "peregrine_enrich_user_db_container_failures_total";
    /// Container events whose process's container was in the metadata cache.
    container_hits: counter "peregrine_enrich_container_cache_hits_total";
    /// Containers not in the cache (a lookup started, or the id-only info when lookups are off).
    container_misses: counter "peregrine_enrich_container_cache_misses_total";
    /// Containers evicted from the metadata cache to keep it within `cache_size`.
    container_evictions: counter "peregrine_enrich_container_cache_evictions_total";
    /// Container events answered from a cached failure.
    container_negative_hits: counter "peregrine_enrich_container_negative_hits_total";
    /// First lookups of a container started.
    container_lookups: counter "peregrine_enrich_container_lookups_total";
    /// Background refreshes of metadata older than `metadata_ttl`.
    container_refreshes: counter "peregrine_enrich_container_refreshes_total";
    /// Lookups tried again after `retry_interval` because the last one failed.
    container_retries: counter "peregrine_enrich_container_lookup_retries_total";
    /// Lookups not started because the workers' queue was full (counted as failed).
    container_queue_full: counter "peregrine_enrich_container_lookup_queue_full_total";
    /// Lookups the runtime answered with metadata.
    container_found: counter "peregrine_enrich_container_lookups_found_total";
    /// Lookups no runtime knew the container for.
    container_not_found: counter "peregrine_enrich_container_lookups_not_found_total";
    /// Lookups that failed on a runtime error (timeout, garbage, refused, status).
    container_errors: counter "peregrine_enrich_container_lookup_errors_total";
    /// Lookups that found no runtime socket.
    container_no_socket: counter "peregrine_enrich_container_lookups_no_socket_total";
    /// Docker Engine API requests made (inspects; a lookup may make several).
    container_docker_requests: counter "peregrine_enrich_container_docker_requests_total";
    /// Docker Engine API requests that found the container.
    container_docker_found: counter "peregrine_enrich_container_docker_found_total";
    /// Docker Engine API requests that failed (refused, garbage, status, timeout).
    container_docker_errors: counter "peregrine_enrich_container_docker_errors_total";
    /// Docker Engine API requests that timed out.
    container_docker_timeouts: counter "peregrine_enrich_container_docker_timeouts_total";
    /// CRI ContainerStatus requests made.
    container_cri_requests: counter "peregrine_enrich_container_cri_requests_total";
    /// CRI requests that found the container.
    container_cri_found: counter "peregrine_enrich_container_cri_found_total";
    /// CRI requests that failed (refused, not HTTP/2, gRPC error status, timeout).
    container_cri_errors: counter "peregrine_enrich_container_cri_errors_total";
    /// CRI requests that timed out.
    container_cri_timeouts: counter "peregrine_enrich_container_cri_timeouts_total";
    /// API requests repeated because a new container was not known yet.
    container_not_found_retries: counter "peregrine_enrich_container_not_found_retries_total";
    /// Containers whose metadata the event stream had published before their first event.
    container_announced: counter "peregrine_enrich_container_announced_total";
    /// Container create events seen on the runtime's event stream.
    container_events_created: counter "peregrine_enrich_container_events_created_total";
    /// Connections made to the runtime's event stream (the first and reconnects).
    container_events_connects: counter "peregrine_enrich_container_event_stream_connects_total";
    /// Event stream failures (refused, closed, garbage).
    container_events_errors: counter "peregrine_enrich_container_event_stream_errors_total";
    /// Container events that went on without metadata because its lookup was in flight
    /// and the hold was not used (off, or a caller without one).
    container_not_ready: counter "peregrine_enrich_container_not_ready_total";
    /// Events held until their container's metadata arrived.
    held_events: counter "peregrine_enrich_held_events_total";
    /// Held events released with the runtime's metadata.
    held_with_metadata: counter "peregrine_enrich_held_released_with_metadata_total";
    /// Held events released without it (failed lookup, timeout, overflow, shutdown).
    held_without_metadata: counter "peregrine_enrich_held_released_without_metadata_total";
    /// Containers whose hold timed out.
    hold_timeouts: counter "peregrine_enrich_hold_timeouts_total";
    /// Containers released early because the hold was full.
    hold_overflows: counter "peregrine_enrich_hold_overflows_total";
    /// Events held now.
    holding: gauge "peregrine_enrich_held_events";
    /// Containers in the metadata cache.
    containers_cached: gauge "peregrine_enrich_containers_cached";
    /// Processes in the table (live and exited).
    processes: gauge "peregrine_enrich_processes";
    /// Exited processes waiting out their linger time.
    exited: gauge "peregrine_enrich_exited_processes";
    /// Non-main threads tracked.
    threads: gauge "peregrine_enrich_threads";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_and_snapshot() {
        let shared = SharedStats::default();
        let s = EnrichStats {
            events: 10,
            process_hits: 9,
            processes: 3,
            ..Default::default()
        };
        shared.publish(&s);
        assert_eq!(shared.snapshot(), s);
        // No recorder installed: recording is a no-op, not a panic.
        s.record_metrics();
    }
}
