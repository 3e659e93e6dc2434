//! Container metadata and the hold, end to end through the enricher: a local stand-in for a
//! runtime's API socket (answering late, never, with garbage, or "not found") to show the
//! hold's behaviour and bounds, and the real podman API when it is running.

mod common;

use common::{field, get, ready};
use peregrine_enrich::runtime::docker::DockerClient;
use peregrine_enrich::testing::{self as t, Exec};
use peregrine_enrich::{ContainerConfig, EnrichConfig, HostEnricher};
use peregrine_event::Event;
use std::io::{Read, Write};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const ID: &str = "215d98eb6e7bf2cf38d2c9f0ffcc1f8831976c4393267be3243a646008734d96";
const ID2: &str = "9c0ffee0000000000000000000000000000000000000000000000000000000aa";
const T0: u64 = 1_700_000_000_000_000_000;

/// How the stand-in runtime answers.
#[derive(Clone)]
enum Behaviour {
    /// The inspect body for any id, after a delay.
    Answer(Duration),
    /// Accepts and never answers.
    Silent,
    /// Bytes that are not HTTP.
    Garbage,
    /// 404 for the first `n` requests, then answers.
    NotFoundFirst(usize),
}

fn body(id: &str, name: &str, image: &str) -> String {
    format!(
        r#"{{"Id":"{id}","Name":"/{name}","Image":"sha256:22ff130bc517ab7fb36e82e782143177e7682129f8928c0bd61b385a3f37a64b",
        "State":{{"StartedAt":"2026-11-26T21:11:34.481736722Z"}},"HostConfig":{{"Privileged":false}},"Mounts":[],
        "Config":{{"Image":"{image}","Labels":{{"io.kubernetes.pod.name":"web-0"}}}}}}"#
    )
}

struct FakeRuntime {
    path: PathBuf,
    requests: Arc<AtomicUsize>,
}

impl FakeRuntime {
    fn start(name: &str, behaviour: Behaviour) -> FakeRuntime {
        let path = std::env::temp_dir().join(format!(
            "peregrine-fake-runtime-{name}-{}.sock",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        let requests = Arc::new(AtomicUsize::new(0));
        let count = requests.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { return };
                let n = count.fetch_add(1, Ordering::SeqCst);
                let behaviour = behaviour.clone();
                std::thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    let mut req = Vec::new();
                    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                        match conn.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(k) => req.extend_from_slice(&buf[..k]),
                        }
                    }
                    let text = String::from_utf8_lossy(&req).to_string();
                    let id = text
                        .split("/containers/")
                        .nth(1)
                        .and_then(|r| r.split('/').next())
                        .unwrap_or("")
                        .to_string();
                    let ok = |conn: &mut std::os::unix::net::UnixStream| {
                        let b = body(&id, &format!("ctr-{}", &id[..4]), "localhost/app:1.0");
                        let _ = write!(
                            conn,
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLibpod-Api-Version: 4.3.1\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{b}\r\n0\r\n\r\n",
                            b.len()
                        );
                    };
                    match behaviour {
                        Behaviour::Answer(delay) => {
                            std::thread::sleep(delay);
                            ok(&mut conn);
                        }
                        Behaviour::Silent => std::thread::sleep(Duration::from_secs(30)),
                        Behaviour::Garbage => {
                            let _ = conn.write_all(b"SSH-2.0-nope\r\n\r\n\x00\x01");
                        }
                        Behaviour::NotFoundFirst(k) if n < k => {
                            let _ = conn.write_all(
                                b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}",
                            );
                        }
                        Behaviour::NotFoundFirst(_) => ok(&mut conn),
                    }
                });
            }
        });
        FakeRuntime { path, requests }
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for FakeRuntime {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn enricher(sockets: Vec<PathBuf>, tune: impl FnOnce(&mut ContainerConfig)) -> HostEnricher {
    let mut containers = ContainerConfig {
        docker_sockets: sockets,
        not_found_retry: Duration::ZERO,
        // These tests are about lookups; the event stream has its own test.
        watch_events: false,
        ..ContainerConfig::default()
    };
    tune(&mut containers);
    HostEnricher::new(EnrichConfig {
        containers,
        ..EnrichConfig::events_only()
    })
}

/// init (1) → bash (100) on the host; conmon (500) on the host runs the container's first
/// process (501).
fn host_shell(e: &mut HostEnricher) {
    let mut b = vec![
        Exec::new(1, 0, "/sbin/init", &["/sbin/init"]).event(T0),
        t::fork(T0 + 1, 100, 1, "init"),
        Exec::new(100, 1, "/bin/bash", &["bash"]).event(T0 + 2),
        t::fork(T0 + 3, 500, 1, "init"),
        Exec::new(500, 1, "/usr/bin/conmon", &["conmon"])
            .cgroups(&["memory=/libpod_parent/conmon"])
            .event(T0 + 4),
        t::fork(T0 + 5, 501, 500, "conmon"),
    ];
    e.enrich_and_hold(&mut b);
    assert_eq!(b.len(), 6, "nothing of the host is held");
}

fn container_exec(pid: i64, id: &str, exe: &str, ts: u64) -> Event {
    let cg = format!("memory=/libpod_parent/libpod-{id}");
    Exec::new(
        pid,
        500,
        exe,
        &[exe.rsplit('/').next().unwrap(), "/etc/shadow"],
    )
    .cgroups(&["cpuset=/", &cg])
    .event(ts)
}

/// Ticks (as the stage does between batches) until something is released or `limit` passes.
fn wait_release(e: &mut HostEnricher, limit: Duration) -> (Vec<Event>, Duration) {
    let start = Instant::now();
    let mut out = Vec::new();
    while out.is_empty() && start.elapsed() < limit {
        std::thread::sleep(Duration::from_millis(2));
        e.release_held(&mut out);
    }
    (out, start.elapsed())
}

#[test]
fn held_until_the_runtime_answers_while_the_host_flows_on() {
    let rt = FakeRuntime::start("late", Behaviour::Answer(Duration::from_millis(300)));
    let mut e = enricher(vec![rt.path.clone()], |_| {});
    host_shell(&mut e);

    // The container's first exec and its open, interleaved with host events.
    let mut b = vec![
        container_exec(501, ID, "/bin/cat", T0 + 10),
        t::touch(T0 + 11, 100, 100),
        t::open(T0 + 12, 501, 501, "/etc/shadow", 0, 3),
        t::touch(T0 + 13, 100, 100),
    ];
    e.enrich_and_hold(&mut b);
    let nums: Vec<i64> = b.iter().map(|ev| ev.tid).collect();
    assert_eq!(
        nums,
        vec![100, 100],
        "host events flow, the container's wait"
    );
    assert_eq!(e.held(), 2);

    // A later batch: more of the container waits behind its first events, the host flows.
    let mut b = vec![t::touch(T0 + 20, 501, 501), t::touch(T0 + 21, 100, 100)];
    e.enrich_and_hold(&mut b);
    assert_eq!(b.len(), 1);
    assert_eq!(e.held(), 3);

    let (out, waited) = wait_release(&mut e, Duration::from_secs(10));
    assert!(waited >= Duration::from_millis(200), "{waited:?}");
    assert_eq!(out.len(), 3, "released together");
    let ts: Vec<u64> = out.iter().map(|ev| ev.ts).collect();
    assert_eq!(ts, vec![T0 + 10, T0 + 12, T0 + 20], "in order");
    for ev in &out {
        assert_eq!(get(ev, "container.id"), &ID[..12]);
        assert_eq!(get(ev, "container.name"), "ctr-215d");
        assert_eq!(get(ev, "container.image.repository"), "localhost/app");
        assert_eq!(get(ev, "container.image.tag"), "1.0");
        assert_eq!(get(ev, "container.type"), "podman");
        assert_eq!(get(ev, "k8s.pod.name"), "web-0");
    }
    assert_eq!(get(&out[1], "fd.name"), "/etc/shadow");
    assert_eq!(get(&out[0], "proc.pname"), "conmon");

    // Known now: the next events carry it at once, nothing more is asked.
    let mut b = vec![t::touch(T0 + 30, 501, 501)];
    e.enrich_and_hold(&mut b);
    assert_eq!(b.len(), 1);
    assert_eq!(get(&b[0], "container.name"), "ctr-215d");
    assert_eq!(rt.requests(), 1);

    let s = e.stats();
    assert_eq!(
        (
            s.held_events,
            s.held_with_metadata,
            s.held_without_metadata,
            s.holding
        ),
        (3, 3, 0, 0)
    );
    assert_eq!(
        (s.container_lookups, s.container_found, s.container_misses),
        (1, 1, 1)
    );
    assert!(s.container_hits >= 3, "{s:?}");
    let h = e.hold_stats();
    assert_eq!(h.releases, 1);
    assert!(h.hold_ns_max >= 200_000_000, "{h:?}");
}

#[test]
fn an_absent_socket_fails_fast_with_the_id_and_type() {
    let mut e = enricher(vec![PathBuf::from("/nonexistent/peregrine.sock")], |_| {});
    host_shell(&mut e);
    let mut b = vec![container_exec(501, ID, "/bin/cat", T0 + 10)];
    e.enrich_and_hold(&mut b);
    if b.is_empty() {
        let (out, _) = wait_release(&mut e, Duration::from_secs(5));
        b = out;
    }
    assert_eq!(b.len(), 1);
    assert_eq!(
        e.stats().hold_timeouts,
        0,
        "released by the failed lookup, not the timeout"
    );
    assert_eq!(get(&b[0], "container.id"), &ID[..12]);
    assert_eq!(get(&b[0], "container.type"), "podman");
    assert_eq!(field(&b[0], "container.name"), None);
    assert_eq!(field(&b[0], "container.image.repository"), None);
    let s = e.stats();
    assert_eq!((s.container_no_socket, s.held_with_metadata), (1, 0));

    // Cached negatively: later events do not wait and do not ask again.
    let mut b = vec![t::touch(T0 + 20, 501, 501)];
    e.enrich_and_hold(&mut b);
    assert_eq!(b.len(), 1);
    let s = e.stats();
    assert_eq!((s.container_lookups, s.container_negative_hits), (1, 1));
}

#[test]
fn a_silent_runtime_is_cut_off_by_the_hold_timeout() {
    let rt = FakeRuntime::start("silent", Behaviour::Silent);
    let mut e = enricher(vec![rt.path.clone()], |c| {
        c.hold_timeout = Duration::from_millis(200);
        c.request_timeout = Duration::from_secs(3);
    });
    host_shell(&mut e);
    let mut b = vec![
        container_exec(501, ID, "/bin/cat", T0 + 10),
        t::touch(T0 + 11, 100, 100),
    ];
    e.enrich_and_hold(&mut b);
    assert_eq!(b.len(), 1, "the host event flows");
    let (out, waited) = wait_release(&mut e, Duration::from_secs(5));
    assert_eq!(out.len(), 1);
    assert!(
        waited >= Duration::from_millis(150) && waited < Duration::from_millis(2500),
        "{waited:?}"
    );
    assert_eq!(get(&out[0], "container.type"), "podman");
    assert_eq!(field(&out[0], "container.name"), None);
    // Timed out: its later events are not held again while the lookup is still out.
    let mut b = vec![t::touch(T0 + 20, 501, 501)];
    e.enrich_and_hold(&mut b);
    assert_eq!(b.len(), 1);
    let s = e.stats();
    assert_eq!(
        (s.hold_timeouts, s.held_without_metadata, s.holding),
        (1, 1, 0)
    );
    // The request itself times out and is counted as an error.
    let start = Instant::now();
    while e.stats().container_errors == 0 && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
        e.enrich_and_hold(&mut Vec::new());
    }
    assert_eq!(e.stats().container_errors, 1);
}

#[test]
fn garbage_from_the_runtime_is_an_error_not_a_stall() {
    let rt = FakeRuntime::start("garbage", Behaviour::Garbage);
    let mut e = enricher(vec![rt.path.clone()], |_| {});
    host_shell(&mut e);
    let mut b = vec![container_exec(501, ID, "/bin/cat", T0 + 10)];
    e.enrich_and_hold(&mut b);
    let (out, waited) = wait_release(&mut e, Duration::from_secs(5));
    let released = if b.is_empty() { out } else { b };
    assert_eq!(released.len(), 1);
    let _ = waited;
    assert_eq!(
        e.stats().hold_timeouts,
        0,
        "released by the failed lookup, not the timeout"
    );
    assert_eq!(field(&released[0], "container.name"), None);
    let s = e.stats();
    assert_eq!((s.container_errors, s.container_found), (1, 0));
}

#[test]
fn the_hold_is_bounded_in_events() {
    let rt = FakeRuntime::start("bounded", Behaviour::Answer(Duration::from_secs(3)));
    let mut e = enricher(vec![rt.path.clone()], |c| c.hold_max_events = 3);
    host_shell(&mut e);
    let mut b = vec![container_exec(501, ID, "/bin/cat", T0 + 10)];
    b.extend((0..4).map(|i| t::touch(T0 + 11 + i, 501, 501)));
    e.enrich_and_hold(&mut b);
    // The fourth held event overflows: the container's four go on, the fifth follows them.
    assert_eq!(b.len(), 5);
    let ts: Vec<u64> = b.iter().map(|ev| ev.ts).collect();
    assert_eq!(ts, (10..15).map(|i| T0 + i).collect::<Vec<_>>());
    let s = e.stats();
    assert_eq!(
        (
            s.hold_overflows,
            s.held_events,
            s.held_without_metadata,
            s.holding
        ),
        (1, 4, 4, 0)
    );
}

#[test]
fn not_found_is_cached_and_retried_after_the_interval() {
    let rt = FakeRuntime::start("notfound", Behaviour::NotFoundFirst(1));
    let mut e = enricher(vec![rt.path.clone()], |c| {
        c.retry_interval = Duration::from_millis(150)
    });
    host_shell(&mut e);
    let mut b = vec![container_exec(501, ID, "/bin/cat", T0 + 10)];
    e.enrich_and_hold(&mut b);
    let (out, _) = wait_release(&mut e, Duration::from_secs(5));
    let first = if b.is_empty() { out } else { b };
    assert_eq!(field(&first[0], "container.name"), None);
    assert_eq!(e.stats().container_not_found, 1);

    std::thread::sleep(Duration::from_millis(200));
    // Due for a retry: this event goes on at once (not held again); a later one has the name.
    let mut b = vec![t::touch(T0 + 20, 501, 501)];
    e.enrich_and_hold(&mut b);
    assert_eq!(b.len(), 1);
    let start = Instant::now();
    let named = loop {
        std::thread::sleep(Duration::from_millis(10));
        let mut b = vec![t::touch(T0 + 30, 501, 501)];
        e.enrich_and_hold(&mut b);
        assert_eq!(b.len(), 1);
        if let Some(name) = field(&b[0], "container.name") {
            break name;
        }
        assert!(start.elapsed() < Duration::from_secs(5));
    };
    assert_eq!(named, "ctr-215d");
    let s = e.stats();
    assert_eq!(
        (s.container_retries, s.container_found, s.held_events),
        (1, 1, 1)
    );
    assert_eq!(rt.requests(), 2);
}

#[test]
fn the_cache_is_bounded() {
    let rt = FakeRuntime::start("lru", Behaviour::Answer(Duration::ZERO));
    let mut e = enricher(vec![rt.path.clone()], |c| c.cache_size = 1);
    host_shell(&mut e);
    for (i, id) in [ID, ID2, ID].iter().enumerate() {
        let pid = 600 + i as i64;
        let mut b = vec![
            t::fork(T0 + 100 * i as u64, pid, 500, "conmon"),
            container_exec(pid, id, "/bin/sh", T0 + 100 * i as u64 + 1),
        ];
        e.enrich_and_hold(&mut b);
        if b.len() < 2 {
            let (out, _) = wait_release(&mut e, Duration::from_secs(5));
            b.extend(out);
        }
        assert_eq!(get(&b[1], "container.name"), format!("ctr-{}", &id[..4]));
    }
    let s = e.stats();
    assert_eq!(
        (
            s.container_evictions,
            s.container_lookups,
            s.containers_cached
        ),
        (2, 3, 1)
    );
}

#[test]
fn lookups_off_give_the_id_and_type_and_never_hold() {
    let mut e = enricher(vec![], |c| c.enabled = false);
    host_shell(&mut e);
    let mut b = vec![container_exec(501, ID, "/bin/cat", T0 + 10)];
    e.enrich_and_hold(&mut b);
    assert_eq!(b.len(), 1);
    assert_eq!(get(&b[0], "container.type"), "podman");
    assert_eq!(e.stats().held_events, 0);
}

#[test]
fn release_all_lets_everything_go() {
    let rt = FakeRuntime::start("flush", Behaviour::Silent);
    let mut e = enricher(vec![rt.path.clone()], |_| {});
    host_shell(&mut e);
    let mut b = vec![container_exec(501, ID, "/bin/cat", T0 + 10)];
    e.enrich_and_hold(&mut b);
    assert_eq!((b.len(), e.held()), (0, 1));
    let mut out = Vec::new();
    e.release_all(&mut out);
    assert_eq!((out.len(), e.held()), (1, 0));
    assert_eq!(get(&out[0], "container.id"), &ID[..12]);
}

// --- the real podman API ---------------------------------------------------------------

const PODMAN_SOCK: &str = "/run/podman/podman.sock";

fn podman_ready(test: &str) -> bool {
    let why = if unsafe { libc::geteuid() } != 0 {
        Some("not root")
    } else if std::process::Command::new("podman")
        .arg("--version")
        .output()
        .is_err()
    {
        Some("podman is not installed (.ci/podman-setup.sh installs it)")
    } else if std::os::unix::net::UnixStream::connect(PODMAN_SOCK).is_err() {
        Some("no podman API on /run/podman/podman.sock (.ci/podman-setup.sh starts it)")
    } else {
        None
    };
    ready(test, why.map(str::to_string))
}

#[test]
fn podman_inspect_over_its_docker_api() {
    if !podman_ready("podman_inspect_over_its_docker_api") {
        return;
    }
    let name = format!("peregrine-inspect-{}", std::process::id());
    let out = std::process::Command::new("podman")
        .args(["run", "-d", "--rm", "--network", "none", "--name", &name])
        .args([
            "--label",
            "io.kubernetes.pod.namespace=team-a",
            "--label",
            "tier=db",
        ])
        .args(["localhost/postgres-peregrine:15", "sleep", "30"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let client = DockerClient::new(PODMAN_SOCK, Duration::from_secs(5));
    let info = client.inspect(&id);
    let _ = std::process::Command::new("podman")
        .args(["rm", "-f", "-t", "0", &name])
        .output();
    let info = info.unwrap().expect("podman knows its container");
    assert_eq!(&*info.full_id, id);
    assert_eq!(&*info.id, &id[..12]);
    assert_eq!(info.name.as_deref(), Some(name.as_str()));
    assert_eq!(info.runtime.as_deref(), Some("podman"));
    assert_eq!(
        info.image.as_deref(),
        Some("localhost/postgres-peregrine:15")
    );
    assert_eq!(
        info.image_repository.as_deref(),
        Some("localhost/postgres-peregrine")
    );
    assert_eq!(info.image_tag.as_deref(), Some("15"));
    assert_eq!(info.image_id.as_ref().map(|s| s.len()), Some(64));
    assert_eq!(info.privileged, Some(false));
    assert_eq!(info.k8s_ns_name.as_deref(), Some("team-a"));
    assert_eq!(info.labels.get("tier").map(String::as_str), Some("db"));
    let started = info.start_ts.expect("a start time");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    assert!(
        now - started < 60_000_000_000,
        "started {started}, now {now}"
    );

    // An id podman does not know.
    assert!(client.inspect(&"0".repeat(64)).unwrap().is_none());
}

#[test]
fn podman_event_stream_announces_containers_before_their_first_event() {
    if !podman_ready("podman_event_stream_announces_containers_before_their_first_event") {
        return;
    }
    let mut e = HostEnricher::new(EnrichConfig {
        containers: ContainerConfig {
            docker_sockets: vec![PathBuf::from(PODMAN_SOCK)],
            ..ContainerConfig::default()
        },
        ..EnrichConfig::events_only()
    });
    host_shell(&mut e);
    // The watcher connects on its own thread.
    let start = Instant::now();
    while e.stats().container_events_connects == 0 && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
        e.enrich_and_hold(&mut Vec::new());
    }
    std::thread::sleep(Duration::from_millis(200));
    let name = format!("peregrine-announce-{}", std::process::id());
    // `--rm` and one quick command: gone within milliseconds of its exit.
    let out = std::process::Command::new("podman")
        .args(["run", "--rm", "--network", "none", "--name", &name])
        .args(["--cidfile", &format!("/tmp/{name}.cid")])
        .args([IMAGE_FOR_TESTS, "true"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = std::fs::read_to_string(format!("/tmp/{name}.cid")).unwrap();
    let _ = std::fs::remove_file(format!("/tmp/{name}.cid"));
    let id = id.trim();
    // The watcher reads the runtime's stream on its own thread: wait until it has announced
    // this container (podman may return before the watcher has read it; other containers
    // created meanwhile do not count).
    let start = Instant::now();
    while !e.containers().is_announced(id) && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
        e.enrich_and_hold(&mut Vec::new());
    }
    // Its first event, replayed after the container is already removed: no hold, no lookup.
    let mut b = vec![container_exec(501, id, "/bin/true", T0 + 10)];
    e.enrich_and_hold(&mut b);
    assert_eq!(b.len(), 1, "not held");
    assert_eq!(get(&b[0], "container.name"), name);
    assert_eq!(
        get(&b[0], "container.image.repository"),
        "localhost/peregrine-test"
    );
    assert_eq!(get(&b[0], "container.type"), "podman");
    let s = e.stats();
    assert!(s.container_events_created >= 1, "{s:?}");
    assert_eq!(
        (s.container_announced, s.container_lookups, s.held_events),
        (1, 0, 0)
    );
}

const IMAGE_FOR_TESTS: &str = "localhost/peregrine-test:latest";
