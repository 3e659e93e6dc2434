//! [`ContainerMeta`]: what the enrichment thread knows about each container, and the
//! lookups that fill it in without blocking that thread.
//!
//! The enrichment thread owns an `lru` cache (id → state) that bounds how many containers
//! are remembered (evictions counted). A container seen for the first time gets a `Pending`
//! slot in the shared `dashmap` and a request on a bounded queue; worker threads ask the
//! runtime and publish the answer into the slot (only if it is still there: an evicted
//! container's late answer is dropped). The enrichment thread reads a slot only while a
//! request for it is in flight, so the cache-hit path is one LRU lookup.
//!
//! Answers: found (metadata; refreshed in the background after `metadata_ttl`), or failed
//! (not found, runtime error, no socket) which is cached negatively and retried after
//! `retry_interval`. Worker threads start with the first lookup.
//!
//! Which API is asked follows the runtime the cgroup names: docker and podman the Docker
//! API sockets, containerd and CRI-O the CRI sockets, an undecided kind both (CRI first for
//! kubepods paths). Requests, answers, errors and timeouts are counted per API.

use super::cri::CriClient;
use super::docker::DockerClient;
use super::events::{self, Announced, EventCounters};
use super::RuntimeError;
use crate::config::ContainerConfig;
use crate::container::{short_id, Runtime};
use crossbeam_channel::{Receiver, Sender, TrySendError};
use dashmap::DashMap;
use lru::LruCache;
use peregrine_event::{hostnet, ContainerInfo};
use rustc_hash::FxBuildHasher;
use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the enricher can attach to a container's event right now.
#[derive(Clone, Debug)]
pub enum Lookup {
    /// The runtime's metadata.
    Ready(Arc<ContainerInfo>),
    /// The first lookup is in flight.
    Pending,
    /// The lookup failed (or lookups are off): only the id and type are known.
    Unavailable(Arc<ContainerInfo>),
}

/// A published answer (or the wait for one).
#[derive(Clone, Debug)]
pub enum Slot {
    Pending,
    Found(Arc<ContainerInfo>),
    Failed(Arc<str>),
}

/// The shared cache the workers publish into: full id → latest answer.
pub type SharedCache = DashMap<Arc<str>, Slot, FxBuildHasher>;

#[derive(Debug)]
enum State {
    Ready(Arc<ContainerInfo>),
    Pending,
    Failed(Arc<ContainerInfo>),
}

#[derive(Debug)]
struct Entry {
    id: Arc<str>,
    state: State,
    runtime: Option<Runtime>,
    /// When the state was last set (or the first request sent).
    at: Instant,
    /// A request is in flight (the first lookup, a refresh or a retry).
    in_flight: bool,
    /// This container's events were held until the hold timed out: do not hold it again.
    hold_expired: bool,
}

/// One lookup for a worker.
struct Request {
    id: Arc<str>,
    runtime: Option<Runtime>,
    /// The first lookup of this container: "not found" is retried (the runtime may not
    /// have registered it yet).
    first: bool,
    queued: Instant,
}

/// Counters the workers keep (relaxed atomics).
#[derive(Debug, Default)]
struct WorkerCounters {
    found: AtomicU64,
    not_found: AtomicU64,
    errors: AtomicU64,
    no_socket: AtomicU64,
    /// Per API: requests made, containers found, errors (of them timeouts).
    docker: ApiCounters,
    cri: ApiCounters,
    /// Extra API requests made because a new container was not found yet.
    not_found_retries: AtomicU64,
    latency_ns_total: AtomicU64,
    latency_ns_max: AtomicU64,
    completed: AtomicU64,
}

#[derive(Debug, Default)]
struct ApiCounters {
    requests: AtomicU64,
    found: AtomicU64,
    errors: AtomicU64,
    timeouts: AtomicU64,
}

impl ApiCounters {
    fn snapshot(&self) -> ApiStats {
        ApiStats {
            requests: self.requests.load(Relaxed),
            found: self.found.load(Relaxed),
            errors: self.errors.load(Relaxed),
            timeouts: self.timeouts.load(Relaxed),
        }
    }
}

/// One runtime API's requests (a lookup may make several: sockets, not-found retries).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ApiStats {
    pub requests: u64,
    /// Requests that found the container.
    pub found: u64,
    /// Requests that failed (refused, garbage, error status, timeout).
    pub errors: u64,
    /// Failed requests that were timeouts.
    pub timeouts: u64,
}

/// Container-metadata counters (see [`crate::EnrichStats`] for their metric names).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MetaStats {
    pub hits: u64,
    pub misses: u64,
    pub evictions: u64,
    pub negative_hits: u64,
    pub lookups: u64,
    pub refreshes: u64,
    pub retries: u64,
    pub queue_full: u64,
    pub found: u64,
    pub not_found: u64,
    pub errors: u64,
    pub no_socket: u64,
    pub docker: ApiStats,
    pub cri: ApiStats,
    pub not_found_retries: u64,
    pub completed: u64,
    pub latency_ns_total: u64,
    pub latency_ns_max: u64,
    pub cached: u64,
    /// Containers whose metadata came from the event stream (no lookup, no hold).
    pub announced_hits: u64,
    pub events_created: u64,
    pub events_connects: u64,
    pub events_errors: u64,
}

/// The enrichment thread's side of container metadata. See the module docs.
pub struct ContainerMeta {
    cfg: ContainerConfig,
    local: LruCache<Arc<str>, Entry, FxBuildHasher>,
    shared: Arc<SharedCache>,
    counters: Arc<WorkerCounters>,
    tx: Option<Sender<Request>>,
    stats: MetaStats,
    /// What the event watcher published.
    announced: Arc<Announced>,
    event_counters: Arc<EventCounters>,
}

impl ContainerMeta {
    pub fn new(cfg: ContainerConfig) -> ContainerMeta {
        let cap = NonZeroUsize::new(cfg.cache_size.max(1)).unwrap_or(NonZeroUsize::MIN);
        let announced = Arc::new(DashMap::with_hasher(FxBuildHasher));
        let event_counters = Arc::<EventCounters>::default();
        if cfg.enabled && cfg.watch_events {
            events::spawn(cfg.clone(), &announced, event_counters.clone());
        }
        ContainerMeta {
            local: LruCache::with_hasher(cap, FxBuildHasher),
            shared: Arc::new(DashMap::with_hasher(FxBuildHasher)),
            counters: Arc::default(),
            tx: None,
            stats: MetaStats::default(),
            announced,
            event_counters,
            cfg,
        }
    }

    pub fn config(&self) -> &ContainerConfig {
        &self.cfg
    }

    /// Whether the runtime's event stream has announced container `id` (full id) and its
    /// metadata is waiting for the container's first event.
    pub fn is_announced(&self, id: &str) -> bool {
        self.announced.contains_key(id)
    }

    /// The cache the workers publish into (readable from any thread).
    pub fn shared(&self) -> Arc<SharedCache> {
        self.shared.clone()
    }

    /// What is known about container `id` (full id) now; starts a lookup the first time
    /// (and refreshes or retries when due). `now` is the caller's clock, read once per batch.
    pub fn lookup(&mut self, id: &Arc<str>, runtime: Option<Runtime>, now: Instant) -> Lookup {
        if let Some(e) = self.local.get_mut(&**id) {
            if e.in_flight {
                let answer = self.shared.get(&**id).map(|s| s.value().clone());
                apply(e, answer, runtime, now);
            }
            let due = |e: &Entry, every: Duration| {
                !e.in_flight && !every.is_zero() && now.duration_since(e.at) >= every
            };
            let (result, resend) = match &e.state {
                State::Ready(info) => {
                    self.stats.hits += 1;
                    let due = due(e, self.cfg.metadata_ttl);
                    (Lookup::Ready(info.clone()), due.then_some(false))
                }
                State::Failed(info) => {
                    self.stats.negative_hits += 1;
                    let due = due(e, self.cfg.retry_interval);
                    (Lookup::Unavailable(info.clone()), due.then_some(true))
                }
                State::Pending if e.hold_expired => {
                    self.stats.hits += 1;
                    (Lookup::Unavailable(id_only(id, e.runtime)), None)
                }
                State::Pending => {
                    self.stats.hits += 1;
                    (Lookup::Pending, None)
                }
            };
            if let Some(retry) = resend {
                e.in_flight = true;
                e.at = now;
                if retry {
                    self.stats.retries += 1;
                } else {
                    self.stats.refreshes += 1;
                }
                let rt = e.runtime;
                self.send(id, rt, false, now);
            }
            return result;
        }
        self.stats.misses += 1;
        if !self.cfg.enabled {
            let info = id_only(id, runtime);
            self.insert(id, State::Failed(info.clone()), runtime, now, false);
            return Lookup::Unavailable(info);
        }
        // Announced by the runtime when it was created: no lookup needed.
        if let Some(info) = self.announced.get(&**id).map(|e| e.0.clone()) {
            self.stats.announced_hits += 1;
            let info = with_runtime(info, runtime);
            // Inspected before it started: ask again for the start time (in the background).
            let refresh = info.start_ts.is_none() && self.cfg.enabled;
            self.insert(id, State::Ready(info.clone()), runtime, now, refresh);
            if refresh {
                self.stats.refreshes += 1;
                self.send(id, runtime, false, now);
            }
            return Lookup::Ready(info);
        }
        self.stats.lookups += 1;
        self.insert(id, State::Pending, runtime, now, true);
        if self.send(id, runtime, true, now) {
            Lookup::Pending
        } else {
            let info = id_only(id, runtime);
            if let Some(e) = self.local.get_mut(&**id) {
                e.state = State::Failed(info.clone());
                e.in_flight = false;
            }
            self.shared.remove(&**id);
            Lookup::Unavailable(info)
        }
    }

    /// Re-reads a pending container's answer without counting a cache access (for the
    /// hold's release checks). `Pending` until the answer is in.
    pub fn poll(&mut self, id: &Arc<str>, now: Instant) -> Lookup {
        let Some(e) = self.local.peek_mut(&**id) else {
            return Lookup::Unavailable(id_only(id, None));
        };
        if e.in_flight {
            let answer = self.shared.get(&**id).map(|s| s.value().clone());
            let rt = e.runtime;
            apply(e, answer, rt, now);
        }
        match &e.state {
            State::Ready(info) => Lookup::Ready(info.clone()),
            State::Failed(info) => Lookup::Unavailable(info.clone()),
            State::Pending if e.hold_expired => Lookup::Unavailable(id_only(id, e.runtime)),
            State::Pending => Lookup::Pending,
        }
    }

    /// The hold gave up waiting for `id`: its later events go on without waiting.
    pub fn hold_expired(&mut self, id: &Arc<str>) {
        if let Some(e) = self.local.peek_mut(&**id) {
            e.hold_expired = true;
        }
    }

    fn insert(
        &mut self,
        id: &Arc<str>,
        state: State,
        runtime: Option<Runtime>,
        now: Instant,
        in_flight: bool,
    ) {
        if let State::Ready(info) = &state {
            hostnet::set_container_ip(&info.id, info.ip);
        }
        let entry = Entry {
            id: id.clone(),
            state,
            runtime,
            at: now,
            in_flight,
            hold_expired: false,
        };
        if let Some((old, _)) = self.local.push(id.clone(), entry) {
            if *old != **id {
                self.stats.evictions += 1;
                self.shared.remove(&*old);
                hostnet::set_container_ip(short_id(&old), None);
            }
        }
    }

    /// Queues a request; false when it cannot be (queue full, workers gone).
    fn send(&mut self, id: &Arc<str>, runtime: Option<Runtime>, first: bool, now: Instant) -> bool {
        self.shared.insert(id.clone(), Slot::Pending);
        let tx = match &self.tx {
            Some(tx) => tx,
            None => {
                self.tx = Some(self.start_workers());
                self.tx.as_ref().expect("just set")
            }
        };
        let req = Request {
            id: id.clone(),
            runtime,
            first,
            queued: now,
        };
        match tx.try_send(req) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.stats.queue_full += 1;
                self.shared
                    .insert(id.clone(), Slot::Failed("lookup queue full".into()));
                false
            }
        }
    }

    fn start_workers(&self) -> Sender<Request> {
        let (tx, rx) = crossbeam_channel::bounded(self.cfg.queue_size.max(1));
        for i in 0..self.cfg.workers.max(1) {
            let w = Worker {
                cfg: self.cfg.clone(),
                rx: rx.clone(),
                shared: self.shared.clone(),
                counters: self.counters.clone(),
                announced: self.announced.clone(),
                cri: HashMap::new(),
            };
            let spawned = std::thread::Builder::new()
                .name(format!("container-lookup-{i}"))
                .spawn(move || w.run());
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a container lookup worker");
            }
        }
        tx
    }

    /// Counters so far (the workers' included).
    pub fn stats(&self) -> MetaStats {
        let c = &self.counters;
        MetaStats {
            found: c.found.load(Relaxed),
            not_found: c.not_found.load(Relaxed),
            errors: c.errors.load(Relaxed),
            no_socket: c.no_socket.load(Relaxed),
            docker: c.docker.snapshot(),
            cri: c.cri.snapshot(),
            not_found_retries: c.not_found_retries.load(Relaxed),
            completed: c.completed.load(Relaxed),
            latency_ns_total: c.latency_ns_total.load(Relaxed),
            latency_ns_max: c.latency_ns_max.load(Relaxed),
            cached: self.local.len() as u64,
            events_created: self.event_counters.created.load(Relaxed),
            events_connects: self.event_counters.connects.load(Relaxed),
            events_errors: self.event_counters.errors.load(Relaxed),
            ..self.stats
        }
    }
}

/// Takes a published answer into the local entry once it is there.
fn apply(e: &mut Entry, answer: Option<Slot>, runtime: Option<Runtime>, now: Instant) {
    let rt = e.runtime.or(runtime);
    match answer {
        Some(Slot::Pending) => return,
        Some(Slot::Found(info)) => {
            hostnet::set_container_ip(&info.id, info.ip);
            e.state = State::Ready(info);
        }
        Some(Slot::Failed(_)) | None => {
            // A failed refresh keeps the metadata it had.
            if !matches!(e.state, State::Ready(_)) {
                e.state = State::Failed(id_only(&e.id, rt));
            }
        }
    }
    e.in_flight = false;
    e.at = now;
}

/// `info` with the runtime type from the cgroup when the runtime did not say.
fn with_runtime(info: Arc<ContainerInfo>, runtime: Option<Runtime>) -> Arc<ContainerInfo> {
    match (&info.runtime, runtime) {
        (None, Some(rt)) => {
            let mut i = ContainerInfo::clone(&info);
            i.runtime = Some(rt.as_str().into());
            Arc::new(i)
        }
        _ => info,
    }
}

/// What is known without the runtime: the ids and the type (from the cgroup path).
pub fn id_only(full: &Arc<str>, runtime: Option<Runtime>) -> Arc<ContainerInfo> {
    Arc::new(ContainerInfo {
        id: short_id(full).into(),
        full_id: full.clone(),
        runtime: runtime.map(|r| Arc::from(r.as_str())),
        ..Default::default()
    })
}

struct Worker {
    cfg: ContainerConfig,
    rx: Receiver<Request>,
    shared: Arc<SharedCache>,
    counters: Arc<WorkerCounters>,
    announced: Arc<Announced>,
    /// One CRI client per socket, kept connected between lookups.
    cri: HashMap<PathBuf, CriClient>,
}

/// The runtime APIs Peregrine speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Api {
    Docker,
    Cri,
}

impl Api {
    fn name(self) -> &'static str {
        match self {
            Api::Docker => "Docker",
            Api::Cri => "CRI",
        }
    }
}

/// The APIs to ask, in order, for a container of this runtime kind.
fn apis_for(runtime: Option<Runtime>) -> &'static [Api] {
    match runtime {
        Some(Runtime::Docker | Runtime::Podman) => &[Api::Docker],
        Some(Runtime::Containerd | Runtime::CriO) => &[Api::Cri],
        // kubepods with a bare id: containerd's cgroupfs layout today, dockershim's before.
        Some(Runtime::Kubernetes) => &[Api::Cri, Api::Docker],
        None => &[Api::Docker, Api::Cri],
    }
}

enum Answer {
    Found(Box<ContainerInfo>),
    Failed(String),
}

impl Worker {
    fn run(mut self) {
        let rx = self.rx.clone();
        for req in rx.iter() {
            let answer = self.resolve(&req);
            let c = &self.counters;
            let slot = match answer {
                Answer::Found(info) => {
                    c.found.fetch_add(1, Relaxed);
                    Slot::Found(with_runtime(Arc::new(*info), req.runtime))
                }
                Answer::Failed(why) => {
                    tracing::debug!(
                        container = &*req.id,
                        "container metadata lookup failed: {why}"
                    );
                    Slot::Failed(why.into())
                }
            };
            let ns = req.queued.elapsed().as_nanos() as u64;
            c.completed.fetch_add(1, Relaxed);
            c.latency_ns_total.fetch_add(ns, Relaxed);
            c.latency_ns_max.fetch_max(ns, Relaxed);
            metrics::histogram!("peregrine_enrich_container_lookup_seconds")
                .record(ns as f64 / 1e9);
            // Only if the container is still cached: an evicted one's answer is dropped.
            if let Some(mut s) = self.shared.get_mut(&*req.id) {
                *s = slot;
            }
        }
    }

    fn resolve(&mut self, req: &Request) -> Answer {
        let counters = self.counters.clone();
        let c = &*counters;
        let apis = apis_for(req.runtime);
        let deadline = req.queued
            + if req.first {
                self.cfg.not_found_retry
            } else {
                Duration::ZERO
            };
        let mut backoff = Duration::from_millis(10);
        loop {
            let sockets: Vec<(Api, PathBuf)> = apis
                .iter()
                .flat_map(|&api| {
                    let list = match api {
                        Api::Docker => &self.cfg.docker_sockets,
                        Api::Cri => &self.cfg.cri_sockets,
                    };
                    list.iter()
                        .filter(|s| s.exists())
                        .map(move |s| (api, s.clone()))
                })
                .collect();
            if sockets.is_empty() {
                c.no_socket.fetch_add(1, Relaxed);
                let names: Vec<_> = apis.iter().map(|a| a.name()).collect();
                return Answer::Failed(format!("no {} socket found", names.join(" or ")));
            }
            // The event watcher may have seen it created meanwhile (or before it was
            // removed). Refreshes ask the runtime itself.
            let announced = req
                .first
                .then(|| self.announced.get(&*req.id).map(|e| e.0.clone()))
                .flatten();
            if let Some(info) = announced {
                return Answer::Found(Box::new(ContainerInfo::clone(&info)));
            }
            let mut last_err: Option<RuntimeError> = None;
            for (api, socket) in sockets {
                let per_api = match api {
                    Api::Docker => &c.docker,
                    Api::Cri => &c.cri,
                };
                per_api.requests.fetch_add(1, Relaxed);
                match self.ask(api, socket, &req.id) {
                    Ok(Some(info)) => {
                        per_api.found.fetch_add(1, Relaxed);
                        return Answer::Found(Box::new(info));
                    }
                    Ok(None) => {}
                    Err(e) => {
                        per_api.errors.fetch_add(1, Relaxed);
                        if matches!(e, RuntimeError::Timeout { .. }) {
                            per_api.timeouts.fetch_add(1, Relaxed);
                        }
                        tracing::debug!(container = short_id(&req.id), api = api.name(), error = %e, "container metadata request failed");
                        last_err = Some(e);
                    }
                }
            }
            if Instant::now() + backoff > deadline {
                return match last_err {
                    Some(e) => {
                        c.errors.fetch_add(1, Relaxed);
                        tracing::warn!(container = short_id(&req.id), error = %e, kind = e.kind(), "container metadata lookup failed");
                        Answer::Failed(e.to_string())
                    }
                    None => {
                        c.not_found.fetch_add(1, Relaxed);
                        Answer::Failed("no runtime knows the container".into())
                    }
                };
            }
            c.not_found_retries.fetch_add(1, Relaxed);
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(Duration::from_millis(200));
        }
    }

    /// One request to one socket.
    fn ask(
        &mut self,
        api: Api,
        socket: PathBuf,
        id: &str,
    ) -> Result<Option<ContainerInfo>, RuntimeError> {
        let timeout = self.cfg.request_timeout;
        match api {
            Api::Docker => DockerClient::new(socket, timeout).inspect(id),
            Api::Cri => {
                let client = match self.cri.entry(socket) {
                    std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                    std::collections::hash_map::Entry::Vacant(e) => {
                        let client = CriClient::new(e.key().clone(), timeout)?;
                        e.insert(client)
                    }
                };
                client.inspect(id)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cgroup_kind_picks_the_api() {
        assert_eq!(apis_for(Some(Runtime::Docker)), &[Api::Docker]);
        assert_eq!(apis_for(Some(Runtime::Podman)), &[Api::Docker]);
        assert_eq!(apis_for(Some(Runtime::Containerd)), &[Api::Cri]);
        assert_eq!(apis_for(Some(Runtime::CriO)), &[Api::Cri]);
        assert_eq!(
            apis_for(Some(Runtime::Kubernetes)),
            &[Api::Cri, Api::Docker]
        );
        assert_eq!(apis_for(None), &[Api::Docker, Api::Cri]);
    }
}
