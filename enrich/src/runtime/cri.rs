//! The CRI API (`runtime.v1.RuntimeService`, gRPC over a unix socket) as containerd and
//! CRI-O serve it: `ContainerStatus` (verbose) turned into a [`ContainerInfo`], with
//! `PodSandboxStatus` for the pod's name, namespace and uid when the container's labels
//! lack them.
//!
//! The client is synchronous for the lookup workers: each [`CriClient`] owns a small
//! current-thread tokio runtime and a connected tonic channel (reconnected after a
//! connection-level failure); every call has one deadline for connect and answer.

use super::image::split_image;
use super::RuntimeError;
use peregrine_event::{ContainerInfo, Mount};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tonic::transport::{Channel, Endpoint};

/// The largest answer accepted (a verbose status carries the OCI spec: tens of KiB).
pub const MAX_MESSAGE: usize = 16 << 20;

/// The `runtime.v1` messages Peregrine uses, with the field tags of the kubernetes cri-api
/// `api.proto`; only the fields read. Enums are plain `int32`s (the same on the wire).
pub mod proto {
    use std::collections::BTreeMap;

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct VersionRequest {
        #[prost(string, tag = "1")]
        pub version: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct VersionResponse {
        #[prost(string, tag = "1")]
        pub version: String,
        #[prost(string, tag = "2")]
        pub runtime_name: String,
        #[prost(string, tag = "3")]
        pub runtime_version: String,
        #[prost(string, tag = "4")]
        pub runtime_api_version: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ContainerStatusRequest {
        #[prost(string, tag = "1")]
        pub container_id: String,
        #[prost(bool, tag = "2")]
        pub verbose: bool,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ContainerStatusResponse {
        #[prost(message, optional, tag = "1")]
        pub status: Option<ContainerStatus>,
        /// Verbose only: JSON values (`info`: pid, sandbox id, config, OCI spec).
        #[prost(btree_map = "string, string", tag = "2")]
        pub info: BTreeMap<String, String>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ContainerStatus {
        #[prost(string, tag = "1")]
        pub id: String,
        #[prost(message, optional, tag = "2")]
        pub metadata: Option<ContainerMetadata>,
        /// `ContainerState`: 0 created, 1 running, 2 exited, 3 unknown.
        #[prost(int32, tag = "3")]
        pub state: i32,
        #[prost(int64, tag = "4")]
        pub created_at: i64,
        #[prost(int64, tag = "5")]
        pub started_at: i64,
        #[prost(message, optional, tag = "8")]
        pub image: Option<ImageSpec>,
        #[prost(string, tag = "9")]
        pub image_ref: String,
        #[prost(btree_map = "string, string", tag = "12")]
        pub labels: BTreeMap<String, String>,
        #[prost(btree_map = "string, string", tag = "13")]
        pub annotations: BTreeMap<String, String>,
        #[prost(message, repeated, tag = "14")]
        pub mounts: Vec<Mount>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ContainerMetadata {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(uint32, tag = "2")]
        pub attempt: u32,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ImageSpec {
        #[prost(string, tag = "1")]
        pub image: String,
        #[prost(btree_map = "string, string", tag = "2")]
        pub annotations: BTreeMap<String, String>,
        #[prost(string, tag = "18")]
        pub user_specified_image: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Mount {
        #[prost(string, tag = "1")]
        pub container_path: String,
        #[prost(string, tag = "2")]
        pub host_path: String,
        #[prost(bool, tag = "3")]
        pub readonly: bool,
        #[prost(bool, tag = "4")]
        pub selinux_relabel: bool,
        /// `MountPropagation`: 0 private, 1 host to container, 2 bidirectional.
        #[prost(int32, tag = "5")]
        pub propagation: i32,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct PodSandboxStatusRequest {
        #[prost(string, tag = "1")]
        pub pod_sandbox_id: String,
        #[prost(bool, tag = "2")]
        pub verbose: bool,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct PodSandboxStatusResponse {
        #[prost(message, optional, tag = "1")]
        pub status: Option<PodSandboxStatus>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct PodSandboxStatus {
        #[prost(string, tag = "1")]
        pub id: String,
        #[prost(message, optional, tag = "2")]
        pub metadata: Option<PodSandboxMetadata>,
        /// `PodSandboxState`: 0 ready, 1 not ready.
        #[prost(int32, tag = "3")]
        pub state: i32,
        #[prost(int64, tag = "4")]
        pub created_at: i64,
        #[prost(btree_map = "string, string", tag = "7")]
        pub labels: BTreeMap<String, String>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct PodSandboxMetadata {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(string, tag = "2")]
        pub uid: String,
        #[prost(string, tag = "3")]
        pub namespace: String,
        #[prost(uint32, tag = "4")]
        pub attempt: u32,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ListContainersRequest {
        #[prost(message, optional, tag = "1")]
        pub filter: Option<ContainerFilter>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ContainerFilter {
        #[prost(string, tag = "1")]
        pub id: String,
        #[prost(string, tag = "3")]
        pub pod_sandbox_id: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ListContainersResponse {
        #[prost(message, repeated, tag = "1")]
        pub containers: Vec<Container>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Container {
        #[prost(string, tag = "1")]
        pub id: String,
        #[prost(string, tag = "2")]
        pub pod_sandbox_id: String,
    }
}

/// The verbose `info` JSON: containerd writes `sandboxID`, `pid`, `config` (the CRI
/// container config) and `runtimeSpec`; CRI-O writes `sandboxID`, `pid`, `privileged` and
/// `runtimeSpec`. Everything optional.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct VerboseInfo {
    #[serde(rename = "sandboxID")]
    pub sandbox_id: String,
    pub pid: u32,
    /// CRI-O.
    pub privileged: Option<bool>,
    /// containerd.
    pub config: Option<VerboseConfig>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct VerboseConfig {
    pub linux: VerboseLinux,
    pub mounts: Vec<VerboseMount>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct VerboseLinux {
    pub security_context: VerboseSecurity,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct VerboseSecurity {
    pub privileged: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct VerboseMount {
    pub container_path: String,
    pub host_path: String,
    pub readonly: bool,
    pub propagation: i32,
}

impl VerboseInfo {
    /// The `info` entry of a verbose answer; `None` when absent or not the JSON expected.
    pub fn from_response(resp: &proto::ContainerStatusResponse) -> Option<VerboseInfo> {
        let raw = resp.info.get("info")?;
        match serde_json::from_str(raw) {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::debug!(error = %e, "CRI verbose info is not the JSON expected; ignored");
                None
            }
        }
    }
}

const SERVICE: &str = "/runtime.v1.RuntimeService/";

/// A client of one CRI socket. Not `Sync`: one per worker thread.
#[derive(Debug)]
pub struct CriClient {
    socket: PathBuf,
    timeout: Duration,
    rt: tokio::runtime::Runtime,
    channel: Option<Channel>,
    /// `containerd` or `cri-o`, from the Version RPC (asked once).
    runtime_name: Option<Arc<str>>,
}

impl CriClient {
    /// A client; nothing is connected until the first call.
    pub fn new(socket: impl Into<PathBuf>, timeout: Duration) -> Result<CriClient, RuntimeError> {
        let socket = socket.into();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(|source| RuntimeError::Io {
                socket: socket.clone(),
                path: "(client)".into(),
                what: "starting the CRI client's runtime",
                source,
            })?;
        Ok(CriClient {
            socket,
            timeout,
            rt,
            channel: None,
            runtime_name: None,
        })
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// One unary `runtime.v1.RuntimeService` call (`method` is the RPC's name, `target`
    /// what it is about, for errors). Connect and answer share the client's timeout.
    pub fn unary<Req, Resp>(
        &mut self,
        method: &'static str,
        target: &str,
        request: Req,
    ) -> Result<Resp, RuntimeError>
    where
        Req: prost::Message + Send + Sync + 'static,
        Resp: prost::Message + Default + Send + Sync + 'static,
    {
        let what = || format!("{method} {target}");
        let path =
            http::uri::PathAndQuery::try_from(format!("{SERVICE}{method}")).map_err(|_| {
                RuntimeError::Malformed {
                    socket: self.socket.clone(),
                    path: what(),
                    what: "not a valid gRPC method name",
                }
            })?;
        let transport = |source| RuntimeError::Transport {
            socket: self.socket.clone(),
            method,
            source,
        };
        let endpoint = match self.socket.to_str() {
            Some(s) => Endpoint::from_shared(format!("unix://{s}")).map_err(transport)?,
            None => {
                return Err(RuntimeError::Malformed {
                    socket: self.socket.clone(),
                    path: what(),
                    what: "the socket path is not UTF-8",
                })
            }
        };
        let cached = self.channel.clone();
        let call = async move {
            let channel = match cached {
                Some(c) => c,
                None => endpoint.connect().await?,
            };
            let mut grpc =
                tonic::client::Grpc::new(channel.clone()).max_decoding_message_size(MAX_MESSAGE);
            grpc.ready().await?;
            let codec = tonic_prost::ProstCodec::<Req, Resp>::default();
            let answer = grpc.unary(tonic::Request::new(request), path, codec).await;
            Ok::<_, tonic::transport::Error>((channel, answer))
        };
        // One deadline for connect and answer (not tonic's own timeouts: their expiry comes
        // back as a status, and a timeout should say it is one). The timer is made inside
        // the runtime, which drives it.
        let timeout = self.timeout;
        let outcome = self
            .rt
            .block_on(async move { tokio::time::timeout(timeout, call).await });
        match outcome {
            Err(_elapsed) => {
                self.channel = None;
                Err(RuntimeError::Timeout {
                    socket: self.socket.clone(),
                    path: what(),
                    timeout: self.timeout,
                })
            }
            Ok(Err(source)) => {
                self.channel = None;
                Err(transport(source))
            }
            Ok(Ok((channel, Ok(resp)))) => {
                self.channel = Some(channel);
                Ok(resp.into_inner())
            }
            Ok(Ok((channel, Err(status)))) => {
                // An answer from the runtime keeps the connection; a broken one does not.
                if !matches!(
                    status.code(),
                    tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Internal
                ) {
                    self.channel = Some(channel);
                } else {
                    self.channel = None;
                }
                Err(RuntimeError::Grpc {
                    socket: self.socket.clone(),
                    method,
                    target: target.to_string(),
                    code: status.code(),
                    message: status_text(&status),
                })
            }
        }
    }

    /// The runtime's name and versions.
    pub fn version(&mut self) -> Result<proto::VersionResponse, RuntimeError> {
        self.unary(
            "Version",
            "",
            proto::VersionRequest {
                version: "v1".into(),
            },
        )
    }

    /// The verbose status of a container; `Ok(None)` when the runtime does not know it.
    pub fn container_status(
        &mut self,
        id: &str,
    ) -> Result<Option<proto::ContainerStatusResponse>, RuntimeError> {
        let req = proto::ContainerStatusRequest {
            container_id: id.to_string(),
            verbose: true,
        };
        match self.unary("ContainerStatus", id, req) {
            Ok(resp) => Ok(Some(resp)),
            Err(RuntimeError::Grpc {
                code: tonic::Code::NotFound,
                ..
            }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `containerd` or `cri-o` (as Falco's `container.type` says them): the Version RPC's
    /// answer, asked once; the socket's name while that fails.
    pub fn runtime_name(&mut self) -> Arc<str> {
        if let Some(n) = &self.runtime_name {
            return n.clone();
        }
        match self.version() {
            Ok(v) => {
                let name: Arc<str> = normalize_runtime(&v.runtime_name).into();
                self.runtime_name = Some(name.clone());
                name
            }
            Err(e) => {
                tracing::debug!(error = %e, "CRI Version failed; the runtime type comes from the socket's name");
                let name: Arc<str> = guess_runtime(&self.socket).into();
                // The runtime answered (without a version): no use asking again.
                if matches!(e, RuntimeError::Grpc { .. }) {
                    self.runtime_name = Some(name.clone());
                }
                name
            }
        }
    }

    /// The container's metadata; `Ok(None)` when the runtime does not know the id.
    pub fn inspect(&mut self, full_id: &str) -> Result<Option<ContainerInfo>, RuntimeError> {
        if full_id.is_empty() || !full_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Ok(None);
        }
        let Some(resp) = self.container_status(full_id)? else {
            return Ok(None);
        };
        let verbose = VerboseInfo::from_response(&resp);
        let runtime = self.runtime_name();
        let mut info = to_info(&resp, verbose.as_ref(), full_id, &runtime).ok_or_else(|| {
            RuntimeError::Malformed {
                socket: self.socket.clone(),
                path: format!("ContainerStatus {full_id}"),
                what: "no status in the answer",
            }
        })?;
        // The pod: its labels (k8s.pod.labels), and name/namespace/uid where the
        // container's kubelet labels did not say.
        let sandbox = verbose
            .map(|v| v.sandbox_id)
            .filter(|s| !s.is_empty())
            .or_else(|| self.sandbox_of(full_id));
        if let Some(sandbox) = sandbox {
            match self.pod_sandbox(&sandbox) {
                Ok(Some(pod)) => fill_pod(&mut info, &pod),
                Ok(None) => {}
                Err(e) => {
                    tracing::debug!(error = %e, "CRI PodSandboxStatus failed; no pod metadata")
                }
            }
        }
        Ok(Some(info))
    }

    /// The container's sandbox id from ListContainers (when the status had no verbose info).
    fn sandbox_of(&mut self, full_id: &str) -> Option<String> {
        let req = proto::ListContainersRequest {
            filter: Some(proto::ContainerFilter {
                id: full_id.to_string(),
                pod_sandbox_id: String::new(),
            }),
        };
        let resp: proto::ListContainersResponse = match self.unary("ListContainers", full_id, req) {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(error = %e, "CRI ListContainers failed; no sandbox id");
                return None;
            }
        };
        resp.containers
            .into_iter()
            .find(|c| c.id == full_id)
            .map(|c| c.pod_sandbox_id)
            .filter(|s| !s.is_empty())
    }

    /// A pod sandbox's status (metadata and labels); `Ok(None)` when the runtime does not
    /// know it.
    pub fn pod_sandbox(
        &mut self,
        sandbox_id: &str,
    ) -> Result<Option<proto::PodSandboxStatus>, RuntimeError> {
        let req = proto::PodSandboxStatusRequest {
            pod_sandbox_id: sandbox_id.to_string(),
            verbose: false,
        };
        match self.unary::<_, proto::PodSandboxStatusResponse>("PodSandboxStatus", sandbox_id, req)
        {
            Ok(resp) => Ok(resp.status),
            Err(RuntimeError::Grpc {
                code: tonic::Code::NotFound,
                ..
            }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// A status's message with what caused it (tonic's own failures say "transport error" and
/// keep the reason in the source chain).
fn status_text(status: &tonic::Status) -> String {
    let mut text = status.message().to_string();
    let mut last = text.clone();
    let mut source = std::error::Error::source(status);
    while let Some(e) = source {
        let s = e.to_string();
        if s != last {
            text.push_str(": ");
            text.push_str(&s);
            last = s;
        }
        source = e.source();
    }
    text
}

/// The Version RPC's runtime name as Falco's `container.type` spells it.
fn normalize_runtime(name: &str) -> String {
    let lower = name.trim().to_ascii_lowercase();
    match lower.as_str() {
        "crio" | "cri-o" => "cri-o".into(),
        "" => "cri".into(),
        _ => lower,
    }
}

/// `cri-o` for a socket named like CRI-O's, else `containerd` (k3s, Bottlerocket… run it).
fn guess_runtime(socket: &Path) -> &'static str {
    if socket.to_string_lossy().contains("crio") {
        "cri-o"
    } else {
        "containerd"
    }
}

fn non_empty(s: &str) -> Option<Arc<str>> {
    (!s.is_empty()).then(|| Arc::from(s))
}

/// Falco's spelling of the CRI mount propagation modes.
fn propagation(p: i32) -> &'static str {
    match p {
        0 => "private",
        1 => "rslave",
        2 => "rshared",
        _ => "unknown",
    }
}

/// A ContainerStatus answer as a [`ContainerInfo`]; `None` when it holds no status.
pub fn to_info(
    resp: &proto::ContainerStatusResponse,
    verbose: Option<&VerboseInfo>,
    full_id: &str,
    runtime: &str,
) -> Option<ContainerInfo> {
    let status = resp.status.as_ref()?;
    let full: Arc<str> = if status.id.is_empty() {
        full_id.into()
    } else {
        status.id.as_str().into()
    };
    let labels = &status.labels;
    let label = |k: &str| labels.get(k).map(String::as_str).and_then(non_empty);
    let name = status
        .metadata
        .as_ref()
        .and_then(|m| non_empty(&m.name))
        .or_else(|| label("io.kubernetes.container.name"));
    let privileged = verbose.and_then(|v| {
        v.privileged.or_else(|| {
            v.config
                .as_ref()
                .map(|c| c.linux.security_context.privileged)
        })
    });
    let mounts = match verbose.and_then(|v| v.config.as_ref()) {
        Some(config) => config
            .mounts
            .iter()
            .map(|m| mount(&m.host_path, &m.container_path, m.readonly, m.propagation))
            .collect(),
        None => status
            .mounts
            .iter()
            .map(|m| mount(&m.host_path, &m.container_path, m.readonly, m.propagation))
            .collect(),
    };
    let mut info = ContainerInfo {
        id: crate::container::short_id(&full).into(),
        name,
        runtime: Some(runtime.into()),
        privileged,
        mounts,
        start_ts: u64::try_from(status.started_at).ok().filter(|&t| t > 0),
        k8s_pod_name: label("io.kubernetes.pod.name"),
        k8s_ns_name: label("io.kubernetes.pod.namespace"),
        k8s_pod_uid: label("io.kubernetes.pod.uid"),
        labels: labels.clone(),
        full_id: full,
        ..Default::default()
    };
    let spec = status.image.as_ref().map_or("", |i| i.image.as_str());
    let image_ref = status.image_ref.as_str();
    // The name the image was asked by; an image id only when nothing else is known.
    let image = [spec, image_ref]
        .into_iter()
        .find(|i| !i.is_empty() && !i.starts_with("sha256:"))
        .or_else(|| [spec, image_ref].into_iter().find(|i| !i.is_empty()));
    if let Some(image) = image {
        if image.starts_with("sha256:") {
            info.image = non_empty(image);
        } else {
            let r = split_image(image);
            info.image = non_empty(image);
            info.image_repository = non_empty(r.repository);
            info.image_tag = r.tag.and_then(non_empty);
            info.image_digest = r.digest.and_then(non_empty);
        }
    }
    // The reference in use: an image id (`sha256:<hex>`) or a repository digest.
    if let Some(id) = image_ref.strip_prefix("sha256:") {
        info.image_id = non_empty(id);
    } else if info.image_digest.is_none() {
        info.image_digest = split_image(image_ref).digest.and_then(non_empty);
    }
    Some(info)
}

fn mount(source: &str, dest: &str, readonly: bool, prop: i32) -> Mount {
    Mount {
        source: source.to_string(),
        dest: dest.to_string(),
        mode: String::new(),
        rw: !readonly,
        propagation: propagation(prop).to_string(),
    }
}

/// The pod's labels from its sandbox, and its name, namespace and uid where the
/// container's labels did not say.
fn fill_pod(info: &mut ContainerInfo, status: &proto::PodSandboxStatus) {
    info.k8s_pod_labels = status.labels.clone();
    let Some(pod) = status.metadata.as_ref() else {
        return;
    };
    if info.k8s_pod_name.is_none() {
        info.k8s_pod_name = non_empty(&pod.name);
    }
    if info.k8s_ns_name.is_none() {
        info.k8s_ns_name = non_empty(&pod.namespace);
    }
    if info.k8s_pod_uid.is_none() {
        info.k8s_pod_uid = non_empty(&pod.uid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    const ID: &str = "26b93ed7cb247eaf534cf1b427bad25ef3b07cd9c25fa5310d5e1d93fe2f6e90";

    fn map(pairs: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// containerd 1.6's verbose `info`, trimmed from an answer on this machine.
    const CONTAINERD_INFO: &str = r#"{"sandboxID":"00e3d6e31bc3b0239499f786e90d606101a6183be59b920d9a76682eaf370341","pid":8367,"removing":false,
      "snapshotKey":"5c19","snapshotter":"overlayfs","runtimeType":"io.containerd.runc.v2",
      "runtimeOptions":{"binary_name":"/usr/sbin/runc"},
      "config":{"metadata":{"name":"app"},"image":{"image":"localhost/peregrine-test:latest"},"command":["sleep"],
        "mounts":[{"container_path":"/data","host_path":"/srv/data","readonly":true},
                  {"container_path":"/shared","host_path":"/srv/shared","propagation":2}],
        "linux":{"security_context":{"privileged":true,"namespace_options":{"network":2,"pid":1}}}},
      "runtimeSpec":{"ociVersion":"1.0.2-dev","mounts":[{"destination":"/proc","type":"proc","source":"proc"}]}}"#;

    fn status() -> proto::ContainerStatus {
        proto::ContainerStatus {
            id: ID.into(),
            metadata: Some(proto::ContainerMetadata {
                name: "app".into(),
                attempt: 0,
            }),
            state: 1,
            created_at: 1_795_737_000_000_000_000,
            started_at: 1_795_737_000_500_000_000,
            image: Some(proto::ImageSpec {
                image: "localhost/peregrine-test:latest".into(),
                ..Default::default()
            }),
            image_ref: "sha256:06d6c3526e06489bff2852362b5a34e68aee90cd5f966ca7c00c701606fd2595"
                .into(),
            labels: map(&[
                ("io.kubernetes.container.name", "app"),
                ("io.kubernetes.pod.name", "web-0"),
                ("io.kubernetes.pod.namespace", "shop"),
                ("io.kubernetes.pod.uid", "0b1c2d3e"),
                ("tier", "web"),
            ]),
            mounts: vec![proto::Mount {
                container_path: "/from-status".into(),
                host_path: "/srv/status".into(),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn answer(
        status: proto::ContainerStatus,
        info: Option<&str>,
    ) -> proto::ContainerStatusResponse {
        proto::ContainerStatusResponse {
            status: Some(status),
            info: info.map(|i| map(&[("info", i)])).unwrap_or_default(),
        }
    }

    #[test]
    fn containerd_status_to_container_info() {
        let resp = answer(status(), Some(CONTAINERD_INFO));
        let verbose = VerboseInfo::from_response(&resp).unwrap();
        assert_eq!(verbose.pid, 8367);
        assert_eq!(verbose.sandbox_id.len(), 64);
        let c = to_info(&resp, Some(&verbose), ID, "containerd").unwrap();
        assert_eq!((&*c.id, &*c.full_id), ("26b93ed7cb24", ID));
        assert_eq!(c.name.as_deref(), Some("app"));
        assert_eq!(c.runtime.as_deref(), Some("containerd"));
        assert_eq!(c.image.as_deref(), Some("localhost/peregrine-test:latest"));
        assert_eq!(
            c.image_repository.as_deref(),
            Some("localhost/peregrine-test")
        );
        assert_eq!(c.image_tag.as_deref(), Some("latest"));
        assert_eq!(
            c.image_id.as_deref(),
            Some("06d6c3526e06489bff2852362b5a34e68aee90cd5f966ca7c00c701606fd2595")
        );
        assert_eq!(c.image_digest, None);
        assert_eq!(c.privileged, Some(true));
        assert_eq!(c.start_ts, Some(1_795_737_000_500_000_000));
        assert_eq!(c.k8s_pod_name.as_deref(), Some("web-0"));
        assert_eq!(c.k8s_ns_name.as_deref(), Some("shop"));
        assert_eq!(c.k8s_pod_uid.as_deref(), Some("0b1c2d3e"));
        assert_eq!(c.labels.get("tier").map(String::as_str), Some("web"));
        // The container config's mounts (what was asked for), not the OCI spec's.
        assert_eq!(
            c.mounts,
            vec![
                Mount {
                    source: "/srv/data".into(),
                    dest: "/data".into(),
                    mode: String::new(),
                    rw: false,
                    propagation: "private".into()
                },
                Mount {
                    source: "/srv/shared".into(),
                    dest: "/shared".into(),
                    mode: String::new(),
                    rw: true,
                    propagation: "rshared".into()
                },
            ]
        );
    }

    #[test]
    fn crio_info_and_no_info() {
        // CRI-O says privileged at the top and has no config: mounts come from the status.
        let crio = r#"{"sandboxID":"abc","pid":42,"privileged":true,"runtimeSpec":{}}"#;
        let resp = answer(status(), Some(crio));
        let v = VerboseInfo::from_response(&resp).unwrap();
        let c = to_info(&resp, Some(&v), ID, "cri-o").unwrap();
        assert_eq!(c.privileged, Some(true));
        assert_eq!(c.mounts.len(), 1);
        assert_eq!(c.mounts[0].dest, "/from-status");
        assert!(c.mounts[0].rw);

        // Not verbose (or info that is not JSON): privileged unknown, the rest from status.
        for info in [None, Some("not json"), Some("[1,2]")] {
            let resp = answer(status(), info);
            let v = VerboseInfo::from_response(&resp);
            assert!(v.is_none(), "{info:?}");
            let c = to_info(&resp, None, ID, "containerd").unwrap();
            assert_eq!(c.privileged, None);
            assert_eq!(c.mounts[0].source, "/srv/status");
            assert_eq!(c.name.as_deref(), Some("app"));
        }
        // containerd's config without a security context: not privileged.
        let plain = r#"{"sandboxID":"abc","pid":42,"config":{"metadata":{"name":"x"}}}"#;
        let resp = answer(status(), Some(plain));
        let v = VerboseInfo::from_response(&resp).unwrap();
        let c = to_info(&resp, Some(&v), ID, "containerd").unwrap();
        assert_eq!(c.privileged, Some(false));
        assert!(c.mounts.is_empty());
    }

    #[test]
    fn sparse_statuses_give_what_they_have() {
        assert!(to_info(
            &proto::ContainerStatusResponse::default(),
            None,
            ID,
            "containerd"
        )
        .is_none());
        // Only an id-less status: the id asked for, the name from the kubelet's label.
        let s = proto::ContainerStatus {
            labels: map(&[("io.kubernetes.container.name", "sidecar")]),
            started_at: -5,
            image_ref: "docker.io/library/nginx@sha256:abcd".into(),
            ..Default::default()
        };
        let c = to_info(&answer(s, None), None, ID, "cri-o").unwrap();
        assert_eq!(&*c.full_id, ID);
        assert_eq!(c.name.as_deref(), Some("sidecar"));
        assert_eq!(c.start_ts, None);
        assert_eq!(
            c.image_repository.as_deref(),
            Some("docker.io/library/nginx")
        );
        assert_eq!(c.image_digest.as_deref(), Some("sha256:abcd"));
        assert_eq!(c.image_id, None);
        assert_eq!(
            (c.k8s_pod_name, c.k8s_ns_name, c.k8s_pod_uid),
            (None, None, None)
        );

        // An image known only by id.
        let s = proto::ContainerStatus {
            image: Some(proto::ImageSpec {
                image: "sha256:06d6".into(),
                ..Default::default()
            }),
            image_ref: "sha256:06d6".into(),
            ..Default::default()
        };
        let c = to_info(&answer(s, None), None, ID, "containerd").unwrap();
        assert_eq!(c.image.as_deref(), Some("sha256:06d6"));
        assert_eq!(
            (c.image_repository, c.image_id.as_deref()),
            (None, Some("06d6"))
        );
    }

    #[test]
    fn pod_metadata_fills_only_what_labels_lack() {
        let mut c = ContainerInfo {
            k8s_pod_name: Some("from-label".into()),
            ..Default::default()
        };
        fill_pod(
            &mut c,
            &proto::PodSandboxStatus {
                metadata: Some(proto::PodSandboxMetadata {
                    name: "from-sandbox".into(),
                    uid: "u-1".into(),
                    namespace: "ns".into(),
                    attempt: 0,
                }),
                labels: map(&[("app", "web")]),
                ..Default::default()
            },
        );
        assert_eq!(c.k8s_pod_name.as_deref(), Some("from-label"));
        assert_eq!(c.k8s_ns_name.as_deref(), Some("ns"));
        assert_eq!(c.k8s_pod_uid.as_deref(), Some("u-1"));
        assert_eq!(c.k8s_pod_labels, map(&[("app", "web")]));
    }

    /// The field tags on the wire, byte for byte as protoc's Go code encodes them.
    #[test]
    fn wire_format_matches_the_cri_tags() {
        let req = proto::ContainerStatusRequest {
            container_id: "ab".into(),
            verbose: true,
        };
        assert_eq!(req.encode_to_vec(), b"\x0a\x02ab\x10\x01");
        let req = proto::PodSandboxStatusRequest {
            pod_sandbox_id: "s".into(),
            verbose: false,
        };
        assert_eq!(req.encode_to_vec(), b"\x0a\x01s");
        let req = proto::ListContainersRequest {
            filter: Some(proto::ContainerFilter {
                id: "c".into(),
                pod_sandbox_id: "p".into(),
            }),
        };
        assert_eq!(req.encode_to_vec(), b"\x0a\x06\x0a\x01c\x1a\x01p");
        // A status: metadata (2), started_at (5), image (8), image_ref (9), labels (12),
        // mounts (14), and a field Peregrine does not read (exit_code, 7) skipped.
        let mut wire = Vec::new();
        wire.extend_from_slice(b"\x0a\x01i"); // id
        wire.extend_from_slice(b"\x12\x03\x0a\x01n"); // metadata.name
        wire.extend_from_slice(b"\x28\x07"); // started_at = 7
        wire.extend_from_slice(b"\x38\x01"); // exit_code = 1 (unread)
        wire.extend_from_slice(b"\x42\x03\x0a\x01m"); // image.image
        wire.extend_from_slice(b"\x4a\x01r"); // image_ref
        wire.extend_from_slice(b"\x62\x06\x0a\x01k\x12\x01v"); // labels {k: v}
        wire.extend_from_slice(b"\x72\x08\x0a\x01d\x12\x01s\x18\x01"); // mount d <- s, ro
        let mut resp = vec![0x0a, wire.len() as u8];
        resp.extend_from_slice(&wire);
        resp.extend_from_slice(b"\x12\x08\x0a\x04info\x12\x00"); // info {"info": ""}
        let decoded = proto::ContainerStatusResponse::decode(&resp[..]).unwrap();
        let s = decoded.status.unwrap();
        assert_eq!(s.id, "i");
        assert_eq!(s.metadata.unwrap().name, "n");
        assert_eq!(s.started_at, 7);
        assert_eq!(s.image.unwrap().image, "m");
        assert_eq!(s.image_ref, "r");
        assert_eq!(s.labels, map(&[("k", "v")]));
        assert_eq!(
            (
                s.mounts[0].container_path.as_str(),
                s.mounts[0].host_path.as_str(),
                s.mounts[0].readonly
            ),
            ("d", "s", true)
        );
        assert_eq!(decoded.info, map(&[("info", "")]));
        let v = proto::VersionResponse::decode(&b"\x12\x0acontainerd\x1a\x031.6"[..]).unwrap();
        assert_eq!(
            (v.runtime_name.as_str(), v.runtime_version.as_str()),
            ("containerd", "1.6")
        );
        // Garbage is an error, not a panic.
        assert!(proto::ContainerStatusResponse::decode(&b"\x0a\xff\xff"[..]).is_err());
    }

    #[test]
    fn runtime_names() {
        assert_eq!(normalize_runtime("containerd"), "containerd");
        assert_eq!(normalize_runtime("cri-o"), "cri-o");
        assert_eq!(normalize_runtime("CRI-O"), "cri-o");
        assert_eq!(normalize_runtime(""), "cri");
        assert_eq!(guess_runtime(Path::new("/run/crio/crio.sock")), "cri-o");
        assert_eq!(
            guess_runtime(Path::new("/run/k3s/containerd/containerd.sock")),
            "containerd"
        );
    }
}
