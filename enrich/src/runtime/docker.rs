//! The Docker Engine API's container inspect (`GET /containers/<id>/json`), as docker and
//! podman's `podman system service` serve it, turned into a [`ContainerInfo`].

use super::http::{self, Response};
use super::image::{parse_rfc3339, split_image};
use super::RuntimeError;
use peregrine_event::{ContainerInfo, Mount};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// A client of one Docker-compatible API socket.
#[derive(Clone, Debug)]
pub struct DockerClient {
    socket: PathBuf,
    timeout: Duration,
}

/// What the inspect body holds that Peregrine uses; everything optional.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Inspect {
    id: String,
    name: String,
    image: String,
    image_name: String,
    state: State,
    config: Config,
    host_config: HostConfig,
    mounts: Vec<InspectMount>,
    network_settings: NetworkSettings,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct NetworkSettings {
    #[serde(rename = "IPAddress")]
    ip_address: String,
    networks: Option<BTreeMap<String, Network>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Network {
    #[serde(rename = "IPAddress")]
    ip_address: String,
}

impl NetworkSettings {
    /// The container's IPv4 address: the default network's, else the first named
    /// network's that has one (user-defined networks leave the top-level one empty).
    fn ipv4(&self) -> Option<std::net::Ipv4Addr> {
        let named = self.networks.iter().flatten().map(|(_, n)| &n.ip_address);
        std::iter::once(&self.ip_address)
            .chain(named)
            .find_map(|a| a.parse().ok())
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct State {
    started_at: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Config {
    image: String,
    labels: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct HostConfig {
    privileged: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct InspectMount {
    source: String,
    destination: String,
    mode: String,
    #[serde(rename = "RW")]
    rw: bool,
    propagation: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct ImageInspect {
    repo_tags: Option<Vec<String>>,
    repo_digests: Option<Vec<String>>,
}

impl DockerClient {
    pub fn new(socket: impl Into<PathBuf>, timeout: Duration) -> DockerClient {
        DockerClient {
            socket: socket.into(),
            timeout,
        }
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    fn get(&self, path: &str) -> Result<Response, RuntimeError> {
        http::get(&self.socket, path, self.timeout)
    }

    /// The container's metadata; `Ok(None)` when the runtime does not know the id.
    pub fn inspect(&self, full_id: &str) -> Result<Option<ContainerInfo>, RuntimeError> {
        if full_id.is_empty() || !full_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Ok(None);
        }
        let path = format!("/containers/{full_id}/json");
        let resp = self.get(&path)?;
        match resp.status {
            200 => {}
            404 => return Ok(None),
            status => {
                return Err(RuntimeError::Status {
                    socket: self.socket.clone(),
                    path,
                    status,
                })
            }
        }
        let inspect: Inspect =
            serde_json::from_slice(&resp.body).map_err(|source| RuntimeError::Json {
                socket: self.socket.clone(),
                path: path.clone(),
                source,
            })?;
        let runtime = if resp.header("libpod-api-version").is_some() {
            "podman"
        } else {
            "docker"
        };
        let mut info = to_info(inspect, full_id, runtime);
        // Created from an image id alone: the image's own name, as Falco asks for it.
        if info
            .image
            .as_deref()
            .is_none_or(|i| i.starts_with("sha256:"))
        {
            if let Some(image_id) = info.image_id.clone() {
                if let Ok(Some(name)) = self.image_name(&image_id) {
                    set_image(&mut info, &name);
                }
            }
        }
        Ok(Some(info))
    }

    /// The first repository tag (else digest) of an image.
    fn image_name(&self, image_id: &str) -> Result<Option<String>, RuntimeError> {
        if !image_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Ok(None);
        }
        let path = format!("/images/{image_id}/json");
        let resp = self.get(&path)?;
        if resp.status != 200 {
            return Ok(None);
        }
        let img: ImageInspect =
            serde_json::from_slice(&resp.body).map_err(|source| RuntimeError::Json {
                socket: self.socket.clone(),
                path,
                source,
            })?;
        let first = |v: Option<Vec<String>>| v.and_then(|v| v.into_iter().find(|s| !s.is_empty()));
        Ok(first(img.repo_tags).or_else(|| first(img.repo_digests)))
    }
}

fn non_empty(s: &str) -> Option<Arc<str>> {
    (!s.is_empty()).then(|| Arc::from(s))
}

fn set_image(info: &mut ContainerInfo, image: &str) {
    let r = split_image(image);
    info.image = non_empty(image);
    info.image_repository = non_empty(r.repository);
    info.image_tag = r.tag.and_then(non_empty);
    info.image_digest = r.digest.and_then(non_empty);
}

fn to_info(inspect: Inspect, full_id: &str, runtime: &str) -> ContainerInfo {
    let full: Arc<str> = if inspect.id.is_empty() {
        full_id.into()
    } else {
        inspect.id.as_str().into()
    };
    let labels = inspect.config.labels.unwrap_or_default();
    let label = |k: &str| labels.get(k).map(String::as_str).and_then(non_empty);
    let mut info = ContainerInfo {
        id: crate::container::short_id(&full).into(),
        name: non_empty(inspect.name.strip_prefix('/').unwrap_or(&inspect.name)),
        runtime: Some(runtime.into()),
        image_id: non_empty(
            inspect
                .image
                .strip_prefix("sha256:")
                .unwrap_or(&inspect.image),
        ),
        privileged: Some(inspect.host_config.privileged),
        mounts: inspect
            .mounts
            .into_iter()
            .map(|m| Mount {
                source: m.source,
                dest: m.destination,
                mode: m.mode,
                rw: m.rw,
                propagation: m.propagation,
            })
            .collect(),
        start_ts: parse_rfc3339(&inspect.state.started_at),
        k8s_pod_name: label("io.kubernetes.pod.name"),
        k8s_ns_name: label("io.kubernetes.pod.namespace"),
        k8s_pod_uid: label("io.kubernetes.pod.uid"),
        full_id: full,
        ip: inspect.network_settings.ipv4(),
        ..Default::default()
    };
    // The name the user gave (`Config.Image`); podman's libpod endpoint calls it ImageName.
    let image = if !inspect.config.image.is_empty() {
        inspect.config.image
    } else {
        inspect.image_name
    };
    if !image.is_empty() {
        set_image(&mut info, &image);
    } else if inspect.image.starts_with("sha256:") {
        info.image = non_empty(&inspect.image);
    }
    info.labels = labels;
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "215d98eb6e7bf2cf38d2c9f0ffcc1f8831976c4393267be3243a646008734d96";

    /// Trimmed from podman 4.3.1's answer on this machine.
    fn podman_body() -> String {
        format!(
            r#"{{"Id":"{ID}","Created":"2026-11-26T21:11:34.312382737Z","Path":"sleep","Args":["30"],
            "State":{{"Status":"running","Running":true,"Pid":6814,"StartedAt":"2026-11-26T21:11:34.481736722Z","FinishedAt":"0001-01-01T00:00:00Z"}},
            "Image":"sha256:22ff130bc517ab7fb36e82e782143177e7682129f8928c0bd61b385a3f37a64b",
            "Name":"/ptest2","HostConfig":{{"Binds":[],"Privileged":true,"Ulimits":[]}},
            "Mounts":[{{"Type":"bind","Source":"/srv/data","Destination":"/data","Mode":"","RW":true,"Propagation":"rprivate"}}],
            "Config":{{"Hostname":"215d98eb6e7b","Cmd":["sleep","30"],"Image":"localhost/peregrine-test:latest",
              "Labels":{{"io.kubernetes.pod.name":"mypod","io.kubernetes.pod.namespace":"prod","io.kubernetes.pod.uid":"u-1","app":"x"}}}}}}"#
        )
    }

    #[test]
    fn container_ip_from_network_settings() {
        let ip = |body: &str| {
            let inspect: Inspect = serde_json::from_str(body).unwrap();
            to_info(inspect, ID, "docker").ip
        };
        assert_eq!(
            ip(
                r#"{"NetworkSettings":{"IPAddress":"172.17.0.2","Networks":{"bridge":{"IPAddress":"172.17.0.2"}}}}"#
            ),
            Some([172, 17, 0, 2].into())
        );
        // A user-defined network only: the top-level address is empty.
        assert_eq!(
            ip(
                r#"{"NetworkSettings":{"IPAddress":"","Networks":{"mynet":{"IPAddress":"10.89.0.4"}}}}"#
            ),
            Some([10, 89, 0, 4].into())
        );
        // Host network: no address.
        assert_eq!(
            ip(r#"{"NetworkSettings":{"IPAddress":"","Networks":{"host":{"IPAddress":""}}}}"#),
            None
        );
        assert_eq!(ip(r#"{"Config":{}}"#), None);
    }

    #[test]
    fn podman_inspect_to_container_info() {
        let inspect: Inspect = serde_json::from_str(&podman_body()).unwrap();
        let c = to_info(inspect, ID, "podman");
        assert_eq!(&*c.id, "215d98eb6e7b");
        assert_eq!(&*c.full_id, ID);
        assert_eq!(c.name.as_deref(), Some("ptest2"));
        assert_eq!(c.runtime.as_deref(), Some("podman"));
        assert_eq!(c.image.as_deref(), Some("localhost/peregrine-test:latest"));
        assert_eq!(
            c.image_repository.as_deref(),
            Some("localhost/peregrine-test")
        );
        assert_eq!(c.image_tag.as_deref(), Some("latest"));
        assert_eq!(c.image_digest, None);
        assert_eq!(
            c.image_id.as_deref(),
            Some("22ff130bc517ab7fb36e82e782143177e7682129f8928c0bd61b385a3f37a64b")
        );
        assert_eq!(c.privileged, Some(true));
        assert_eq!(c.start_ts, Some(1_795_727_494_481_736_722));
        assert_eq!(c.k8s_pod_name.as_deref(), Some("mypod"));
        assert_eq!(c.k8s_ns_name.as_deref(), Some("prod"));
        assert_eq!(c.k8s_pod_uid.as_deref(), Some("u-1"));
        assert_eq!(c.labels.get("app").map(String::as_str), Some("x"));
        assert_eq!(
            c.mounts,
            vec![Mount {
                source: "/srv/data".into(),
                dest: "/data".into(),
                mode: String::new(),
                rw: true,
                propagation: "rprivate".into()
            }]
        );
    }

    #[test]
    fn sparse_and_odd_bodies_give_what_they_have() {
        let inspect: Inspect = serde_json::from_str(r#"{"Config":{"Labels":null}}"#).unwrap();
        let c = to_info(inspect, ID, "docker");
        assert_eq!((&*c.id, &*c.full_id), ("215d98eb6e7b", ID));
        assert_eq!((c.name, c.image, c.start_ts), (None, None, None));
        assert!(serde_json::from_str::<Inspect>(r#"{"Name": 5}"#).is_err());
        assert!(serde_json::from_str::<Inspect>("\"text\"").is_err());
    }
}
