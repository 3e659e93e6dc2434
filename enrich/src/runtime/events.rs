//! The runtime's event stream (`GET /events`, Docker Engine API; podman serves it too):
//! a container is inspected the moment it is created, before its first process runs, so its
//! metadata is usually there before its first event and nothing needs holding. It also
//! survives `--rm` containers that are gone before a lookup could ask for them (a
//! one-command container can live for less than 100 ms).
//!
//! One thread per agent follows the first Docker-compatible socket that exists, reconnects
//! after errors (counted) and publishes into a shared `dashmap` that lookups read first.

use super::docker::DockerClient;
use super::image::split_image;
use crate::config::ContainerConfig;
use dashmap::DashMap;
use peregrine_event::ContainerInfo;
use rustc_hash::FxBuildHasher;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// Containers announced by the runtime: full id → metadata and when it was published.
pub type Announced = DashMap<Arc<str>, (Arc<ContainerInfo>, Instant), FxBuildHasher>;

/// Announced containers kept at most; older ones go first once it is reached.
const MAX_ANNOUNCED: usize = 4096;
/// How long an announced container is kept for a lookup that may still come.
const KEEP: Duration = Duration::from_secs(300);

#[derive(Debug, Default)]
pub struct EventCounters {
    /// Container create events seen.
    pub created: AtomicU64,
    /// Connections to the event stream (the first and every reconnect).
    pub connects: AtomicU64,
    /// Stream failures (refused, closed, garbage).
    pub errors: AtomicU64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RuntimeEvent {
    #[serde(rename = "Type")]
    kind: String,
    #[serde(rename = "Action")]
    action: String,
    #[serde(rename = "Actor")]
    actor: Actor,
    #[serde(rename = "timeNano")]
    time_nano: u64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct Actor {
    #[serde(rename = "ID")]
    id: String,
    attributes: BTreeMap<String, String>,
}

/// Attributes the runtimes add to an event besides the container's labels.
const NOT_LABELS: &[&str] = &[
    "image",
    "name",
    "podId",
    "containerExitCode",
    "exitCode",
    "signal",
];

/// How often an idle watcher checks whether its owner is gone (or a runtime socket has
/// appeared). Each check wakes the thread, which costs 0.1–0.5 ms of CPU in a VM.
const IDLE_CHECK: Duration = Duration::from_secs(10);

/// Starts the watcher thread; it ends soon after the map it publishes into is dropped.
pub fn spawn(cfg: ContainerConfig, announced: &Arc<Announced>, counters: Arc<EventCounters>) {
    let announced = Arc::downgrade(announced);
    let spawned = std::thread::Builder::new()
        .name("container-events".into())
        .spawn(move || watch(cfg, announced, counters));
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the container event watcher");
    }
}

fn watch(cfg: ContainerConfig, announced: Weak<Announced>, counters: Arc<EventCounters>) {
    let mut backoff = Duration::from_millis(100);
    while announced.strong_count() > 0 {
        let Some(socket) = cfg.docker_sockets.iter().find(|s| s.exists()) else {
            std::thread::sleep(IDLE_CHECK);
            continue;
        };
        counters.connects.fetch_add(1, Relaxed);
        let client = DockerClient::new(socket, cfg.request_timeout);
        match follow(&client, &announced, &counters) {
            Ok(()) => backoff = Duration::from_millis(100),
            Err(why) => {
                counters.errors.fetch_add(1, Relaxed);
                tracing::debug!(socket = %socket.display(), "container event stream: {why}");
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
        std::thread::sleep(backoff);
    }
}

/// Reads the stream until it ends. HTTP/1.0 so the body is not chunked.
fn follow(
    client: &DockerClient,
    owner: &Weak<Announced>,
    counters: &EventCounters,
) -> Result<(), String> {
    let mut stream = UnixStream::connect(client.socket()).map_err(|e| format!("connect: {e}"))?;
    stream
        .write_all(
            b"GET /events?filters=%7B%22type%22%3A%5B%22container%22%5D%7D HTTP/1.0\r\nHost: localhost\r\n\r\n",
        )
        .map_err(|e| format!("request: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader
        .read_line(&mut line)
        .map_err(|e| format!("status line: {e}"))?;
    if !line.starts_with("HTTP/1.") || line.split(' ').nth(1) != Some("200") {
        return Err(format!("unexpected answer {:?}", line.trim_end()));
    }
    loop {
        line.clear();
        reader
            .read_line(&mut line)
            .map_err(|e| format!("headers: {e}"))?;
        if line.trim_end().is_empty() {
            break;
        }
    }
    // The stream itself may be idle for any time: wake up now and then to see whether the
    // owner is still there. A partly read line stays in `line`.
    reader
        .get_ref()
        .set_read_timeout(Some(IDLE_CHECK))
        .map_err(|e| e.to_string())?;
    line.clear();
    loop {
        let Some(announced) = owner.upgrade() else {
            return Ok(());
        };
        match reader.read_line(&mut line) {
            Ok(0) => return Err("stream closed".into()),
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(e) => return Err(format!("reading: {e}")),
        }
        if line.len() > super::http::MAX_RESPONSE {
            return Err("event line too long".into());
        }
        if !line.ends_with('\n') {
            continue;
        }
        let parsed = serde_json::from_str::<RuntimeEvent>(line.trim());
        line.clear();
        let Ok(ev) = parsed else {
            continue;
        };
        let announced = &*announced;
        if ev.kind != "container" || ev.actor.id.is_empty() {
            continue;
        }
        match ev.action.as_str() {
            "create" => {
                counters.created.fetch_add(1, Relaxed);
                let info = match client.inspect(&ev.actor.id) {
                    Ok(Some(info)) => info,
                    _ => from_event(&ev),
                };
                publish(announced, info);
            }
            // The start time, which a container inspected at creation does not have yet.
            "start" => {
                let id: &str = &ev.actor.id;
                if let Some(mut e) = announced.get_mut(id) {
                    if e.0.start_ts.is_none() && ev.time_nano > 0 {
                        let mut info = ContainerInfo::clone(&e.0);
                        info.start_ts = Some(ev.time_nano);
                        e.0 = Arc::new(info);
                    }
                }
            }
            _ => {}
        }
    }
}

fn publish(announced: &Announced, info: ContainerInfo) {
    if announced.len() >= MAX_ANNOUNCED {
        let now = Instant::now();
        announced.retain(|_, (_, at)| now.duration_since(*at) < KEEP);
        if announced.len() >= MAX_ANNOUNCED {
            announced.clear();
        }
    }
    announced.insert(info.full_id.clone(), (Arc::new(info), Instant::now()));
}

/// What the event itself says (when the inspect failed): name, image, labels.
fn from_event(ev: &RuntimeEvent) -> ContainerInfo {
    let a = &ev.actor.attributes;
    let full: Arc<str> = ev.actor.id.as_str().into();
    let mut info = ContainerInfo {
        id: crate::container::short_id(&full).into(),
        full_id: full,
        name: a.get("name").map(|s| Arc::from(s.as_str())),
        labels: a
            .iter()
            .filter(|(k, _)| !NOT_LABELS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        ..Default::default()
    };
    if let Some(image) = a.get("image").filter(|i| !i.is_empty()) {
        let r = split_image(image);
        info.image = Some(image.as_str().into());
        info.image_repository = Some(r.repository.into());
        info.image_tag = r.tag.map(Into::into);
        info.image_digest = r.digest.map(Into::into);
    }
    let label = |k: &str| info.labels.get(k).map(|s| Arc::from(s.as_str()));
    info.k8s_pod_name = label("io.kubernetes.pod.name");
    info.k8s_ns_name = label("io.kubernetes.pod.namespace");
    info.k8s_pod_uid = label("io.kubernetes.pod.uid");
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_create_event_alone_gives_name_image_and_labels() {
        let line = r#"{"status":"create","id":"7533d0b941ebd10c43e2c1ace0801629fef723d8d9bce228a773bfabc583c8ea","from":"localhost/peregrine-test:latest","Type":"container","Action":"create","Actor":{"ID":"7533d0b941ebd10c43e2c1ace0801629fef723d8d9bce228a773bfabc583c8ea","Attributes":{"a":"b","containerExitCode":"0","image":"localhost/peregrine-test:latest","name":"evtest","podId":"","io.kubernetes.pod.name":"p"}},"scope":"local","time":1795728998,"timeNano":1795728998197055050}"#;
        let ev: RuntimeEvent = serde_json::from_str(line).unwrap();
        let info = from_event(&ev);
        assert_eq!(&*info.id, "7533d0b941eb");
        assert_eq!(info.name.as_deref(), Some("evtest"));
        assert_eq!(
            info.image_repository.as_deref(),
            Some("localhost/peregrine-test")
        );
        assert_eq!(info.image_tag.as_deref(), Some("latest"));
        assert_eq!(info.k8s_pod_name.as_deref(), Some("p"));
        let keys: Vec<&str> = info.labels.keys().map(String::as_str).collect();
        assert_eq!(keys, vec!["a", "io.kubernetes.pod.name"]);
        assert_eq!(ev.time_nano, 1795728998197055050);
    }
}
