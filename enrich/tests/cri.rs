//! CRI lookups end to end: a private containerd with its CRI plugin (started by
//! `.ci/containerd-setup.sh`) runs pods made here through CRI calls; the enricher is given
//! the containers' real cgroup paths and must find their metadata over CRI. Stand-in
//! sockets show the failures: absent, answering garbage, silent.

mod common;

use common::{field, get, ready};
use peregrine_enrich::runtime::cri::{proto, CriClient};
use peregrine_enrich::runtime::RuntimeError;
use peregrine_enrich::testing::{self as t, Exec};
use peregrine_enrich::{ContainerConfig, EnrichConfig, HostEnricher};
use peregrine_event::Event;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const SOCK: &str = "/run/peregrine-containerd/containerd.sock";
const IMAGE: &str = "localhost/peregrine-test:latest";
const T0: u64 = 1_700_000_000_000_000_000;
const ID: &str = "215d98eb6e7bf2cf38d2c9f0ffcc1f8831976c4393267be3243a646008734d96";

/// The CRI messages for making pods and containers (the library only reads).
mod make {
    use super::proto::{ContainerMetadata, ImageSpec, Mount, PodSandboxMetadata};
    use std::collections::BTreeMap;

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct NamespaceOption {
        /// `NamespaceMode`: 0 pod, 1 container, 2 node.
        #[prost(int32, tag = "1")]
        pub network: i32,
        #[prost(int32, tag = "2")]
        pub pid: i32,
        #[prost(int32, tag = "3")]
        pub ipc: i32,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct LinuxSandboxSecurityContext {
        #[prost(message, optional, tag = "1")]
        pub namespace_options: Option<NamespaceOption>,
        #[prost(bool, tag = "6")]
        pub privileged: bool,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct LinuxPodSandboxConfig {
        #[prost(string, tag = "1")]
        pub cgroup_parent: String,
        #[prost(message, optional, tag = "2")]
        pub security_context: Option<LinuxSandboxSecurityContext>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct PodSandboxConfig {
        #[prost(message, optional, tag = "1")]
        pub metadata: Option<PodSandboxMetadata>,
        #[prost(string, tag = "2")]
        pub hostname: String,
        #[prost(btree_map = "string, string", tag = "6")]
        pub labels: BTreeMap<String, String>,
        #[prost(message, optional, tag = "8")]
        pub linux: Option<LinuxPodSandboxConfig>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct RunPodSandboxRequest {
        #[prost(message, optional, tag = "1")]
        pub config: Option<PodSandboxConfig>,
        #[prost(string, tag = "2")]
        pub runtime_handler: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct RunPodSandboxResponse {
        #[prost(string, tag = "1")]
        pub pod_sandbox_id: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct LinuxContainerSecurityContext {
        #[prost(bool, tag = "2")]
        pub privileged: bool,
        #[prost(message, optional, tag = "3")]
        pub namespace_options: Option<NamespaceOption>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct LinuxContainerConfig {
        #[prost(message, optional, tag = "2")]
        pub security_context: Option<LinuxContainerSecurityContext>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ContainerConfig {
        #[prost(message, optional, tag = "1")]
        pub metadata: Option<ContainerMetadata>,
        #[prost(message, optional, tag = "2")]
        pub image: Option<ImageSpec>,
        #[prost(string, repeated, tag = "3")]
        pub command: Vec<String>,
        #[prost(string, repeated, tag = "4")]
        pub args: Vec<String>,
        #[prost(message, repeated, tag = "7")]
        pub mounts: Vec<Mount>,
        #[prost(btree_map = "string, string", tag = "9")]
        pub labels: BTreeMap<String, String>,
        #[prost(message, optional, tag = "15")]
        pub linux: Option<LinuxContainerConfig>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct CreateContainerRequest {
        #[prost(string, tag = "1")]
        pub pod_sandbox_id: String,
        #[prost(message, optional, tag = "2")]
        pub config: Option<ContainerConfig>,
        #[prost(message, optional, tag = "3")]
        pub sandbox_config: Option<PodSandboxConfig>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct CreateContainerResponse {
        #[prost(string, tag = "1")]
        pub container_id: String,
    }

    /// StartContainer, RemoveContainer (`container_id = 1`).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ContainerId {
        #[prost(string, tag = "1")]
        pub container_id: String,
    }

    /// StopPodSandbox, RemovePodSandbox (`pod_sandbox_id = 1`).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct SandboxId {
        #[prost(string, tag = "1")]
        pub pod_sandbox_id: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct StopContainerRequest {
        #[prost(string, tag = "1")]
        pub container_id: String,
        #[prost(int64, tag = "2")]
        pub timeout: i64,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Empty {}
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Whether the private containerd is there; panics instead of skipping under
/// `PEREGRINE_REQUIRE_PRIVILEGED=1`.
fn containerd_ready(test: &str) -> bool {
    let why = if unsafe { libc::geteuid() } != 0 {
        Some("not root".to_string())
    } else if std::os::unix::net::UnixStream::connect(SOCK).is_err() {
        Some(format!(
            "no containerd CRI socket at {SOCK} (.ci/containerd-setup.sh starts it)"
        ))
    } else {
        None
    };
    ready(test, why)
}

fn client() -> CriClient {
    CriClient::new(SOCK, Duration::from_secs(20)).unwrap()
}

/// A running pod sandbox and one container in it, removed on drop.
struct Pod {
    sandbox: String,
    container: String,
}

impl Pod {
    fn start(
        name: &str,
        uid: &str,
        cgroup_parent: &str,
        privileged: bool,
        container: make::ContainerConfig,
    ) -> Pod {
        let mut c = client();
        let node = make::NamespaceOption {
            network: 2,
            pid: 1,
            ipc: 0,
        };
        let sandbox_config = make::PodSandboxConfig {
            metadata: Some(proto::PodSandboxMetadata {
                name: name.into(),
                uid: uid.into(),
                namespace: "peregrine-test".into(),
                attempt: 0,
            }),
            hostname: String::new(),
            labels: labels(&[("app", name)]),
            linux: Some(make::LinuxPodSandboxConfig {
                cgroup_parent: cgroup_parent.into(),
                security_context: Some(make::LinuxSandboxSecurityContext {
                    namespace_options: Some(node.clone()),
                    privileged,
                }),
            }),
        };
        let run: make::RunPodSandboxResponse = c
            .unary(
                "RunPodSandbox",
                name,
                make::RunPodSandboxRequest {
                    config: Some(sandbox_config.clone()),
                    runtime_handler: String::new(),
                },
            )
            .unwrap_or_else(|e| panic!("RunPodSandbox: {e}\n{}", containerd_log()));
        let mut pod = Pod {
            sandbox: run.pod_sandbox_id,
            container: String::new(),
        };
        let mut container = container;
        container.linux = Some(make::LinuxContainerConfig {
            security_context: Some(make::LinuxContainerSecurityContext {
                privileged,
                namespace_options: Some(node),
            }),
        });
        let created: make::CreateContainerResponse = c
            .unary(
                "CreateContainer",
                name,
                make::CreateContainerRequest {
                    pod_sandbox_id: pod.sandbox.clone(),
                    config: Some(container),
                    sandbox_config: Some(sandbox_config),
                },
            )
            .unwrap_or_else(|e| panic!("CreateContainer: {e}\n{}", containerd_log()));
        pod.container = created.container_id;
        let _: make::Empty = c
            .unary(
                "StartContainer",
                &pod.container,
                make::ContainerId {
                    container_id: pod.container.clone(),
                },
            )
            .unwrap_or_else(|e| panic!("StartContainer: {e}\n{}", containerd_log()));
        pod
    }

    /// The container's main process, from the verbose status (which names its sandbox).
    fn pid(&self) -> u32 {
        let resp = client()
            .container_status(&self.container)
            .unwrap()
            .expect("the container exists");
        let info = peregrine_enrich::runtime::cri::VerboseInfo::from_response(&resp)
            .expect("containerd answers verbose info");
        assert!(info.pid > 0, "{:?}", resp.info);
        assert_eq!(info.sandbox_id, self.sandbox);
        info.pid
    }
}

impl Drop for Pod {
    fn drop(&mut self) {
        let mut c = client();
        if !self.container.is_empty() {
            let _ = c.unary::<_, make::Empty>(
                "StopContainer",
                &self.container,
                make::StopContainerRequest {
                    container_id: self.container.clone(),
                    timeout: 0,
                },
            );
            let _ = c.unary::<_, make::Empty>(
                "RemoveContainer",
                &self.container,
                make::ContainerId {
                    container_id: self.container.clone(),
                },
            );
        }
        for method in ["StopPodSandbox", "RemovePodSandbox"] {
            let _ = c.unary::<_, make::Empty>(
                method,
                &self.sandbox,
                make::SandboxId {
                    pod_sandbox_id: self.sandbox.clone(),
                },
            );
        }
    }
}

fn containerd_log() -> String {
    let log = std::fs::read_to_string("/var/log/peregrine-containerd.log").unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

fn container_config(name: &str, labels: BTreeMap<String, String>) -> make::ContainerConfig {
    make::ContainerConfig {
        metadata: Some(proto::ContainerMetadata {
            name: name.into(),
            attempt: 0,
        }),
        image: Some(proto::ImageSpec {
            image: IMAGE.into(),
            ..Default::default()
        }),
        command: vec!["sleep".into()],
        args: vec!["300".into()],
        labels,
        ..Default::default()
    }
}

/// `/proc/<pid>/cgroup` as an exec event carries it (`subsys=path`).
fn cgroups_of(pid: u32) -> Vec<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    text.lines()
        .filter_map(|l| {
            let mut parts = l.splitn(3, ':');
            let (_, subsys, path) = (parts.next()?, parts.next()?, parts.next()?);
            let subsys = if subsys.is_empty() { "unified" } else { subsys };
            Some(format!("{subsys}={path}"))
        })
        .collect()
}

fn enricher(
    cri: Vec<PathBuf>,
    docker: Vec<PathBuf>,
    tune: impl FnOnce(&mut ContainerConfig),
) -> HostEnricher {
    let mut containers = ContainerConfig {
        docker_sockets: docker,
        cri_sockets: cri,
        not_found_retry: Duration::ZERO,
        watch_events: false,
        ..ContainerConfig::default()
    };
    tune(&mut containers);
    HostEnricher::new(EnrichConfig {
        containers,
        ..EnrichConfig::events_only()
    })
}

/// init (1) and a shim (500) on the host; the shim forks the container's process (pid).
fn host_and_shim(e: &mut HostEnricher, pid: i64) {
    let mut b = vec![
        Exec::new(1, 0, "/sbin/init", &["/sbin/init"]).event(T0),
        t::fork(T0 + 1, 500, 1, "init"),
        Exec::new(
            500,
            1,
            "/usr/bin/containerd-shim-runc-v2",
            &["containerd-shim-runc-v2"],
        )
        .event(T0 + 2),
        t::fork(T0 + 3, pid, 500, "containerd-shim"),
    ];
    e.enrich_and_hold(&mut b);
    assert_eq!(b.len(), 4, "nothing of the host is held");
}

/// The container's first exec with the given cgroups; returns it once released.
fn container_event(e: &mut HostEnricher, pid: i64, cgroups: &[String]) -> Event {
    let cg: Vec<&str> = cgroups.iter().map(String::as_str).collect();
    let mut b = vec![Exec::new(pid, 500, "/bin/sleep", &["sleep", "300"])
        .cgroups(&cg)
        .event(T0 + 10)];
    e.enrich_and_hold(&mut b);
    let start = Instant::now();
    while b.is_empty() && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(5));
        e.release_held(&mut b);
    }
    assert_eq!(b.len(), 1, "released within 30s");
    b.pop().unwrap()
}

#[test]
fn containerd_version_and_a_missing_container() {
    if !containerd_ready("containerd_version_and_a_missing_container") {
        return;
    }
    let mut c = client();
    let v = c.version().unwrap();
    assert_eq!(v.runtime_name, "containerd");
    assert!(!v.runtime_version.is_empty());
    assert_eq!(&*c.runtime_name(), "containerd");
    // The real gRPC server's NotFound is "not known", not an error.
    assert!(c.container_status(&"0".repeat(64)).unwrap().is_none());
    assert!(c.inspect(&"0".repeat(64)).unwrap().is_none());
    assert!(c.pod_sandbox(&"0".repeat(64)).unwrap().is_none());
    // An RPC the runtime does not have: an error naming the socket, method and status.
    let err = c
        .unary::<_, make::Empty>("NoSuchMethod", "x", make::Empty {})
        .unwrap_err();
    match &err {
        RuntimeError::Grpc { socket, code, .. } => {
            assert_eq!(socket, Path::new(SOCK));
            assert_eq!(*code, tonic::Code::Unimplemented);
        }
        other => panic!("{other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains(SOCK) && text.contains("NoSuchMethod"),
        "{text}"
    );
}

#[test]
fn a_containerd_pod_is_found_from_its_cgroup() {
    if !containerd_ready("a_containerd_pod_is_found_from_its_cgroup") {
        return;
    }
    let n = std::process::id();
    let uid = format!("0b1c2d3e-4f5a-4b6c-8d7e-{n:012}");
    let pod_name = format!("web-{n}");
    let data = std::env::temp_dir().join(format!("peregrine-cri-data-{n}"));
    std::fs::create_dir_all(&data).unwrap();
    let mut config = container_config(
        "app",
        labels(&[
            ("io.kubernetes.container.name", "app"),
            ("io.kubernetes.pod.name", &pod_name),
            ("io.kubernetes.pod.namespace", "peregrine-test"),
            ("io.kubernetes.pod.uid", &uid),
            ("tier", "web"),
        ]),
    );
    config.mounts = vec![proto::Mount {
        container_path: "/data".into(),
        host_path: data.display().to_string(),
        readonly: true,
        ..Default::default()
    }];
    // The kubelet's systemd-driver parent, with containerd on cgroupfs: the container's
    // cgroup ends in `…pod<uid>.slice:cri-containerd:<id>`.
    let parent = format!("kubepods-besteffort-pod{}.slice", uid.replace('-', "_"));
    let pod = Pod::start(&pod_name, &uid, &parent, false, config);
    let pid = pod.pid();
    let cgroups = cgroups_of(pid);
    eprintln!("container {} pid {pid} cgroups {cgroups:?}", pod.container);

    let mut e = enricher(vec![PathBuf::from(SOCK)], vec![], |_| {});
    host_and_shim(&mut e, pid as i64);
    let ev = container_event(&mut e, pid as i64, &cgroups);
    let _ = std::fs::remove_dir(&data);
    assert_eq!(get(&ev, "container.id"), &pod.container[..12]);
    assert_eq!(get(&ev, "container.full_id"), pod.container);
    assert_eq!(get(&ev, "container.type"), "containerd");
    assert_eq!(get(&ev, "container.name"), "app");
    assert_eq!(get(&ev, "container.image"), IMAGE);
    assert_eq!(
        get(&ev, "container.image.repository"),
        "localhost/peregrine-test"
    );
    assert_eq!(get(&ev, "container.image.tag"), "latest");
    assert_eq!(get(&ev, "container.privileged"), "false");
    assert_eq!(get(&ev, "container.label[tier]"), "web");
    assert_eq!(get(&ev, "k8s.pod.name"), pod_name);
    assert_eq!(get(&ev, "k8s.ns.name"), "peregrine-test");
    assert_eq!(get(&ev, "k8s.pod.uid"), uid);
    // The pod's own labels, from its sandbox.
    assert_eq!(get(&ev, "k8s.pod.label.app"), pod_name);
    assert!(
        get(&ev, "k8s.pod.labels").contains(&format!("app:{pod_name}")),
        "{}",
        get(&ev, "k8s.pod.labels")
    );
    assert_eq!(
        get(&ev, "container.mount.source[/data]"),
        data.display().to_string()
    );
    let src = data.display();
    assert_eq!(get(&ev, &format!("container.mount.rdwr[{src}]")), "false");
    assert_eq!(
        get(&ev, &format!("container.mount.propagation[{src}]")),
        "private"
    );
    let started: u64 = get(&ev, "container.start_ts").parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    assert!(
        now - started < 60_000_000_000,
        "started {started}, now {now}"
    );
    let s = e.stats();
    assert_eq!(
        (
            s.container_found,
            s.container_cri_found,
            s.container_docker_requests
        ),
        (1, 1, 0)
    );
    assert_eq!(s.held_with_metadata, 1);
}

#[test]
fn a_pod_without_kubelet_labels_gets_them_from_its_sandbox() {
    if !containerd_ready("a_pod_without_kubelet_labels_gets_them_from_its_sandbox") {
        return;
    }
    let n = std::process::id();
    let uid = format!("9a8b7c6d-5e4f-4a3b-9c2d-{n:012}");
    let pod_name = format!("db-{n}");
    // cgroupfs parent: the container's cgroup is `/kubepods/besteffort/pod<uid>/<id>`, a bare
    // id the path does not attribute to a runtime.
    let parent = format!("/kubepods/besteffort/pod{uid}");
    let pod = Pod::start(
        &pod_name,
        &uid,
        &parent,
        true,
        container_config("db", labels(&[("tier", "db")])),
    );
    let pid = pod.pid();
    let cgroups = cgroups_of(pid);
    eprintln!("container {} pid {pid} cgroups {cgroups:?}", pod.container);

    // Both APIs configured, the Docker one absent: the CRI answers.
    let mut e = enricher(
        vec![PathBuf::from(SOCK)],
        vec![PathBuf::from("/nonexistent/docker.sock")],
        |_| {},
    );
    host_and_shim(&mut e, pid as i64);
    let ev = container_event(&mut e, pid as i64, &cgroups);
    assert_eq!(get(&ev, "container.full_id"), pod.container);
    assert_eq!(get(&ev, "container.type"), "containerd");
    assert_eq!(get(&ev, "container.name"), "db");
    assert_eq!(get(&ev, "container.privileged"), "true");
    assert_eq!(get(&ev, "container.label[tier]"), "db");
    assert_eq!(field(&ev, "container.label[io.kubernetes.pod.name]"), None);
    assert_eq!(get(&ev, "k8s.pod.name"), pod_name);
    assert_eq!(get(&ev, "k8s.ns.name"), "peregrine-test");
    assert_eq!(get(&ev, "k8s.pod.uid"), uid);
    let s = e.stats();
    assert_eq!((s.container_cri_found, s.container_found), (1, 1));
}

// --- failures, with stand-in sockets (no containerd needed) ------------------------------

/// A containerd container's cgroup, as the kubelet's systemd driver names it.
fn containerd_cgroup(id: &str) -> String {
    format!("memory=/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-containerd-{id}.scope")
}

/// Listens on a fresh socket; each connection is handed to `serve`.
struct StandIn {
    path: PathBuf,
}

impl StandIn {
    fn start(name: &str, serve: fn(std::os::unix::net::UnixStream)) -> StandIn {
        let path =
            std::env::temp_dir().join(format!("peregrine-cri-{name}-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                std::thread::spawn(move || serve(conn));
            }
        });
        StandIn { path }
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The first exec of a containerd container whose lookup fails; returns the released event
/// and how long the hold kept it.
fn failing_lookup(e: &mut HostEnricher) -> (Event, Duration) {
    host_and_shim(e, 501);
    let start = Instant::now();
    let ev = container_event(e, 501, &[containerd_cgroup(ID)]);
    (ev, start.elapsed())
}

#[test]
fn an_absent_cri_socket_fails_fast_and_is_counted() {
    let mut e = enricher(
        vec![PathBuf::from("/nonexistent/containerd.sock")],
        vec![],
        |c| c.retry_interval = Duration::from_millis(150),
    );
    let (ev, _) = failing_lookup(&mut e);
    assert_eq!(get(&ev, "container.id"), &ID[..12]);
    assert_eq!(get(&ev, "container.type"), "containerd");
    assert_eq!(field(&ev, "container.name"), None);
    let s = e.stats();
    assert_eq!(s.hold_timeouts, 0, "released by the failed lookup");
    assert_eq!(
        (
            s.container_no_socket,
            s.container_cri_requests,
            s.held_without_metadata
        ),
        (1, 0, 1)
    );
    // Cached negatively: the next event neither waits nor asks.
    let mut b = vec![t::touch(T0 + 20, 501, 501)];
    e.enrich_and_hold(&mut b);
    assert_eq!(b.len(), 1);
    let s = e.stats();
    assert_eq!((s.container_lookups, s.container_negative_hits), (1, 1));

    // After the retry interval it is asked again, in the background (not held).
    std::thread::sleep(Duration::from_millis(200));
    let mut b = vec![t::touch(T0 + 30, 501, 501)];
    e.enrich_and_hold(&mut b);
    assert_eq!(b.len(), 1);
    let start = Instant::now();
    while e.stats().container_no_socket < 2 && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
        e.enrich_and_hold(&mut Vec::new());
    }
    let s = e.stats();
    assert_eq!(
        (s.container_retries, s.container_no_socket, s.held_events),
        (1, 2, 1)
    );
}

#[test]
fn a_stale_cri_socket_is_refused_fast_and_counted() {
    // The socket file stays after its listener is gone: connecting is refused.
    let path =
        std::env::temp_dir().join(format!("peregrine-cri-stale-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    drop(UnixListener::bind(&path).unwrap());
    let mut e = enricher(vec![path.clone()], vec![], |c| {
        c.hold_timeout = Duration::from_secs(10)
    });
    let (ev, waited) = failing_lookup(&mut e);
    assert_eq!(get(&ev, "container.type"), "containerd");
    let s = e.stats();
    assert_eq!(
        (
            s.container_errors,
            s.container_cri_errors,
            s.container_cri_timeouts,
            s.hold_timeouts
        ),
        (1, 1, 0, 0)
    );
    assert!(waited < Duration::from_secs(2), "{waited:?}");
    let err = CriClient::new(&path, Duration::from_secs(5))
        .unwrap()
        .inspect(ID)
        .unwrap_err();
    let _ = std::fs::remove_file(&path);
    assert_eq!(err.kind(), "transport", "{err}");
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
}

#[test]
fn a_cri_socket_answering_garbage_is_an_error_not_a_stall() {
    let rt = StandIn::start("garbage", |mut conn| {
        let mut buf = [0u8; 1024];
        let _ = conn.read(&mut buf);
        let _ = conn.write_all(b"SSH-2.0-nope\r\n\r\n\x00\x01 this is not HTTP/2 at all\r\n");
        // Keep the connection open a while: the client must give up on its own.
        std::thread::sleep(Duration::from_secs(5));
    });
    let mut e = enricher(vec![rt.path.clone()], vec![], |c| {
        c.request_timeout = Duration::from_secs(10);
        c.hold_timeout = Duration::from_secs(10);
    });
    let (ev, waited) = failing_lookup(&mut e);
    assert_eq!(field(&ev, "container.name"), None);
    assert_eq!(get(&ev, "container.type"), "containerd");
    let s = e.stats();
    assert_eq!(
        s.hold_timeouts, 0,
        "released by the failed lookup, not the timeout"
    );
    assert_eq!(
        (
            s.container_errors,
            s.container_cri_errors,
            s.container_cri_timeouts
        ),
        (1, 1, 0),
        "{s:?}"
    );
    assert!(waited < Duration::from_secs(5), "{waited:?}");

    // The client on its own: the error names the socket and the call.
    let mut c = CriClient::new(&rt.path, Duration::from_secs(10)).unwrap();
    let err = c.inspect(ID).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(&rt.path.display().to_string()) && text.contains("ContainerStatus"),
        "{text}"
    );
    assert_ne!(err.kind(), "timeout", "{err:?}");
    assert!(text.contains("http2"), "the cause is kept: {text}");
}

#[test]
fn a_silent_cri_socket_times_out_and_is_counted() {
    let rt = StandIn::start("silent", |conn| {
        std::thread::sleep(Duration::from_secs(30));
        drop(conn);
    });
    let mut e = enricher(vec![rt.path.clone()], vec![], |c| {
        c.request_timeout = Duration::from_millis(300);
        c.hold_timeout = Duration::from_secs(10);
    });
    let (ev, waited) = failing_lookup(&mut e);
    assert_eq!(field(&ev, "container.name"), None);
    let s = e.stats();
    assert_eq!(
        s.hold_timeouts, 0,
        "released by the request's timeout, not the hold's"
    );
    assert_eq!(
        (
            s.container_errors,
            s.container_cri_errors,
            s.container_cri_timeouts
        ),
        (1, 1, 1),
        "{s:?}"
    );
    assert!(waited >= Duration::from_millis(250), "{waited:?}");

    let mut c = CriClient::new(&rt.path, Duration::from_millis(200)).unwrap();
    let start = Instant::now();
    let err = c.inspect(ID).unwrap_err();
    assert!(matches!(err, RuntimeError::Timeout { .. }), "{err:?}");
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn docker_and_podman_containers_are_not_asked_over_cri() {
    // A CRI socket that counts connections: a podman container must not reach it.
    static CONNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let rt = StandIn::start("routing", |conn| {
        CONNS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        drop(conn);
    });
    let mut e = enricher(
        vec![rt.path.clone()],
        vec![PathBuf::from("/nonexistent/podman.sock")],
        |_| {},
    );
    host_and_shim(&mut e, 501);
    let ev = container_event(&mut e, 501, &[format!("memory=/libpod_parent/libpod-{ID}")]);
    assert_eq!(get(&ev, "container.type"), "podman");
    let s = e.stats();
    assert_eq!(
        (
            s.container_no_socket,
            s.container_cri_requests,
            CONNS.load(std::sync::atomic::Ordering::SeqCst)
        ),
        (1, 0, 0)
    );
}
