//! CRI lookups end to end: a private containerd with its CRI plugin (started by
//! `.ci/containerd-setup.sh`) runs pods made here through CRI calls; the enricher is given
//! the containers' real cgroup paths and must find their metadata over CRI. Stand-in
//! sockets show the failures: absent, answering garbage, silent.

mod common;

use common::{field, get};
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
    match why {
        None => true,
        Some(why) if std::env::var("PEREGRINE_REQUIRE_PRIVILEGED").as_deref() == Ok("1") => {
            panic!("{test}: {why}, and PEREGRINE_REQUIRE_PRIVILEGED=1")
        }
        Some(why) => {
            eprintln!("skipping {test}: {why}");
            false
        }
    }
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

    /// The container's main process, from the verbose status.
    fn pid(&self) -> u32 {
        let resp = client()
            .container_status(&self.container)
            .unwrap()
            .expect("the container exists");
        let info = peregrine_enrich::runtime::cri::VerboseInfo::from_response(&resp)
            .expect("containerd answers verbose info");
        assert!(info.pid > 0, "{:?}", resp.info);
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
