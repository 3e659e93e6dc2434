//! Fuzzing the container runtime clients' input, time-budgeted (`PEREGRINE_FUZZ_SECS`,
//! default 3 s):
//! - Docker/podman API: a fake API on a unix socket answers the real `DockerClient::inspect`
//!   with mutated podman inspect responses and mutated raw HTTP (status line, headers,
//!   Content-Length, chunked encoding), sometimes keeping the connection open. The client
//!   must return Ok or Err within its timeout, never panic or hang.
//! - CRI: mutated protobuf `ContainerStatusResponse` bytes decoded with prost, and mutated
//!   verbose `info` JSON in a valid answer, through `VerboseInfo::from_response` and `to_info`.

use peregrine_enrich::runtime::cri::{proto, to_info, VerboseInfo};
use peregrine_enrich::runtime::docker::DockerClient;
use peregrine_event::fuzzing::proptest::prelude::*;
use peregrine_event::fuzzing::{fuzz, mutated_bytes, mutated_text, Outcome};
use prost::Message;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ID: &str = "215d98eb6e7bf2cf38d2c9f0ffcc1f8831976c4393267be3243a646008734d96";

/// Trimmed from podman 4.3.1's answer on this machine (as in `runtime/docker.rs`' tests).
fn podman_body(image: &str) -> String {
    format!(
        r#"{{"Id":"{ID}","Created":"2026-11-26T21:11:34.312382737Z","Path":"sleep","Args":["30"],
        "State":{{"Status":"running","Running":true,"Pid":6814,"StartedAt":"2026-11-26T21:11:34.481736722Z","FinishedAt":"0001-01-01T00:00:00Z"}},
        "Image":"sha256:22ff130bc517ab7fb36e82e782143177e7682129f8928c0bd61b385a3f37a64b",
        "Name":"/ptest2","HostConfig":{{"Binds":[],"Privileged":true,"Ulimits":[]}},
        "Mounts":[{{"Type":"bind","Source":"/srv/data","Destination":"/data","Mode":"","RW":true,"Propagation":"rprivate"}}],
        "NetworkSettings":{{"IPAddress":"","Networks":{{"podman":{{"IPAddress":"10.88.0.4"}}}}}},
        "Config":{{"Hostname":"215d98eb6e7b","Cmd":["sleep","30"],"Image":"{image}",
          "Labels":{{"io.kubernetes.pod.name":"mypod","io.kubernetes.pod.namespace":"prod","io.kubernetes.pod.uid":"u-1","app":"x"}}}}}}"#
    )
}

fn with_length(status: &str, extra: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn chunked(body: &str) -> Vec<u8> {
    let mut out = b"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nLibpod-Api-Version: 4.3.1\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for piece in body.as_bytes().chunks(97) {
        out.extend(format!("{:x};ext=1\r\n", piece.len()).bytes());
        out.extend(piece);
        out.extend(b"\r\n");
    }
    out.extend(b"0\r\n\r\n");
    out
}

/// Answers as docker and podman do: Content-Length, chunked, to-EOF, errors; the image
/// lookup's answer (an inspect whose image is an id alone).
fn responses() -> Vec<Vec<u8>> {
    let body = podman_body("localhost/peregrine-test:latest");
    let by_id = podman_body("");
    vec![
        with_length("200 OK", "Libpod-Api-Version: 4.3.1\r\n", &body),
        with_length("200 OK", "Api-Version: 1.43\r\n", &by_id),
        chunked(&body),
        chunked(&by_id),
        format!("HTTP/1.0 200 OK\r\nServer: Docker\r\n\r\n{body}").into_bytes(),
        with_length(
            "404 Not Found",
            "",
            &format!(r#"{{"message":"no such container: {ID}"}}"#),
        ),
        with_length("500 Internal Server Error", "", r#"{"message":"boom"}"#),
        with_length(
            "200 OK",
            "",
            r#"{"RepoTags":["localhost/peregrine-test:latest"],"RepoDigests":["localhost/peregrine-test@sha256:0123"]}"#,
        ),
    ]
}

const HTTP_TOKENS: &[&str] = &[
    "\r\n",
    "\r\n\r\n",
    "\n",
    "HTTP/1.1 ",
    "HTTP/2 ",
    "200 OK",
    "100 Continue\r\n\r\n",
    "Content-Length: 18446744073709551615\r\n",
    "Content-Length: 18446744073709551616\r\n",
    "Content-Length: 99999999999\r\n",
    "Content-Length: -1\r\n",
    "Content-Length: 0\r\n",
    "Transfer-Encoding: chunked\r\n",
    "Transfer-Encoding: gzip, chunked\r\n",
    "ffffffffffffffff\r\n",
    "fffffffffffffffff\r\n",
    "7fffffffffffffff\r\n",
    "0\r\n\r\n",
    ";",
    ":",
    "Libpod-Api-Version: 4.3.1\r\n",
    "\"Image\":\"sha256:0123\"",
    "\"Labels\":{\"a\":\"b\"}",
    "\"Mounts\":[{}]",
    "\"IPAddress\":\"999.1.1.1\"",
    "\"StartedAt\":\"9999-99-99T99:99:99.9999999999Z\"",
    "\"Image\":\"@sha256:\"",
    "\"Image\":\"a:b:c@d@e\"",
    "null",
    "\u{feff}",
    "\u{0}",
];

/// The fake API's next answers: to a container inspect, to an image inspect, and whether
/// to hold the connection open after answering.
type Reply = (Vec<u8>, Vec<u8>, bool);

/// A fake Docker API: answers each connection with the current response, closing the
/// connection after it or (when told) holding it open until the next connection.
struct FakeApi {
    socket: PathBuf,
    reply: Arc<Mutex<Reply>>,
}

impl FakeApi {
    fn start() -> FakeApi {
        let socket =
            std::env::temp_dir().join(format!("peregrine-fuzz-docker-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&socket);
        let listener = UnixListener::bind(&socket).unwrap();
        let reply: Arc<Mutex<Reply>> = Arc::default();
        let shared = reply.clone();
        std::thread::spawn(move || {
            let mut held: Option<UnixStream> = None;
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                held = None;
                conn.set_read_timeout(Some(Duration::from_secs(2))).ok();
                conn.set_write_timeout(Some(Duration::from_secs(2))).ok();
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let (container, image, hold) = shared.lock().unwrap().clone();
                let answer = if req.starts_with(b"GET /images/") {
                    image
                } else {
                    container
                };
                let _ = conn.write_all(&answer);
                if hold {
                    held = Some(conn);
                }
            }
            drop(held);
        });
        FakeApi { socket, reply }
    }
}

#[test]
fn docker_inspect() {
    let api = FakeApi::start();
    let timeout = Duration::from_millis(200);
    let client = DockerClient::new(&api.socket, timeout);
    let samples = responses();
    // Sanity: the first sample inspects as the podman container it is.
    *api.reply.lock().unwrap() = (samples[0].clone(), samples[7].clone(), false);
    let info = client.inspect(ID).unwrap().expect("known container");
    assert_eq!(info.runtime.as_deref(), Some("podman"));
    let tokens: Vec<Vec<u8>> = HTTP_TOKENS.iter().map(|t| t.as_bytes().to_vec()).collect();
    let answers = mutated_bytes(samples.clone(), tokens.clone(), 512);
    let image = prop_oneof![
        3 => Just(samples[7].clone()),
        1 => mutated_bytes(samples, tokens, 128),
    ];
    // One answer in sixteen keeps the connection open: the client's timeout must end it.
    let hold = prop::bool::weighted(0.0625);
    fuzz(
        "docker_inspect",
        (answers, image, hold),
        |(answer, image, hold)| {
            *api.reply.lock().unwrap() = (answer, image, hold);
            let began = Instant::now();
            let result = client.inspect(ID);
            // Inspect and the image lookup each have the timeout.
            let took = began.elapsed();
            assert!(
                took < 2 * timeout + Duration::from_secs(1),
                "inspect took {took:?} with a {timeout:?} timeout: {result:?}"
            );
            match result {
                Ok(Some(info)) => {
                    let _ = format!("{info:?}");
                    Outcome::Accepted
                }
                Ok(None) | Err(_) => Outcome::Rejected,
            }
        },
    );
    let _ = std::fs::remove_file(&api.socket);
}

/// containerd 1.6's verbose `info`, trimmed (as in `runtime/cri.rs`' tests).
const CONTAINERD_INFO: &str = r#"{"sandboxID":"00e3d6e31bc3b0239499f786e90d606101a6183be59b920d9a76682eaf370341","pid":8367,"removing":false,
  "runtimeType":"io.containerd.runc.v2",
  "config":{"metadata":{"name":"app"},"image":{"image":"localhost/peregrine-test:latest"},"command":["sleep"],
    "mounts":[{"container_path":"/data","host_path":"/srv/data","readonly":true},
              {"container_path":"/shared","host_path":"/srv/shared","propagation":2}],
    "linux":{"security_context":{"privileged":true,"namespace_options":{"network":2,"pid":1}}}},
  "runtimeSpec":{"ociVersion":"1.0.2-dev","mounts":[{"destination":"/proc","type":"proc","source":"proc"}]}}"#;

const CRIO_INFO: &str = r#"{"sandboxID":"abc","pid":42,"privileged":true,"runtimeSpec":{}}"#;

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn status(image: &str) -> proto::ContainerStatus {
    proto::ContainerStatus {
        id: "26b93ed7cb247eaf534cf1b427bad25ef3b07cd9c25fa5310d5e1d93fe2f6e90".into(),
        metadata: Some(proto::ContainerMetadata {
            name: "app".into(),
            attempt: 1,
        }),
        state: 1,
        created_at: 1_795_737_000_000_000_000,
        started_at: 1_795_737_000_500_000_000,
        image: Some(proto::ImageSpec {
            image: image.into(),
            annotations: map(&[("a", "b")]),
            user_specified_image: "peregrine-test".into(),
        }),
        image_ref: "sha256:06d6c3526e06489bff2852362b5a34e68aee90cd5f966ca7c00c701606fd2595".into(),
        labels: map(&[
            ("io.kubernetes.container.name", "app"),
            ("io.kubernetes.pod.name", "web-0"),
            ("io.kubernetes.pod.namespace", "shop"),
            ("io.kubernetes.pod.uid", "0b1c2d3e"),
        ]),
        annotations: map(&[("io.kubernetes.container.restartCount", "0")]),
        mounts: vec![proto::Mount {
            container_path: "/from-status".into(),
            host_path: "/srv/status".into(),
            readonly: true,
            selinux_relabel: false,
            propagation: 2,
        }],
    }
}

fn answer(image: &str, info: Option<&str>) -> proto::ContainerStatusResponse {
    proto::ContainerStatusResponse {
        status: Some(status(image)),
        info: info.map(|i| map(&[("info", i)])).unwrap_or_default(),
    }
}

/// What the CRI client does with an answer.
fn cri_check(resp: &proto::ContainerStatusResponse) -> Outcome {
    let verbose = VerboseInfo::from_response(resp);
    match to_info(resp, verbose.as_ref(), ID, "containerd") {
        Some(info) => {
            let _ = format!("{info:?}");
            Outcome::Accepted
        }
        None => Outcome::Rejected,
    }
}

#[test]
fn cri_status_protobuf() {
    let samples: Vec<Vec<u8>> = [
        answer("localhost/peregrine-test:latest", Some(CONTAINERD_INFO)),
        answer("docker.io/library/nginx@sha256:0123abcd", Some(CRIO_INFO)),
        answer(
            "sha256:06d6c3526e06489bff2852362b5a34e68aee90cd5f966ca7c00c701606fd2595",
            None,
        ),
        proto::ContainerStatusResponse::default(),
    ]
    .iter()
    .map(|m| m.encode_to_vec())
    .collect();
    // Varints at their edges, field keys of each wire type, lengths past the end.
    let tokens: Vec<Vec<u8>> = vec![
        vec![0xff; 10],
        vec![0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01],
        vec![0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f],
        vec![0x12, 0x7f],
        vec![0x1a, 0x00],
        vec![0x62, 0x04, 0x0a, 0x00, 0x12, 0x00],
        vec![0x72, 0x02, 0x28, 0x7f],
        vec![0x0b],
        vec![0x0c],
        vec![0x0d, 0, 0, 0, 0],
        vec![0x09, 0, 0, 0, 0, 0, 0, 0, 0],
        vec![0x00],
    ];
    fuzz(
        "cri_status_protobuf",
        mutated_bytes(samples, tokens, 256),
        |bytes| match proto::ContainerStatusResponse::decode(&bytes[..]) {
            Ok(resp) => cri_check(&resp),
            Err(_) => Outcome::Rejected,
        },
    );
}

#[test]
fn cri_verbose_info_json() {
    let tokens: Vec<String> = [
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "\"",
        "null",
        "true",
        "-1",
        "4294967296",
        "1e999",
        "\"pid\":",
        "\"privileged\":",
        "\"config\":",
        "\"mounts\":",
        "\"linux\":",
        "\"security_context\":",
        "\"propagation\":",
        "\"host_path\":",
        "\"container_path\":",
        "\"sandboxID\":",
        "\\u0000",
        "\\ud800",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let images = [
        "localhost/peregrine-test:latest",
        "registry:5000/a/b:c@sha256:ff",
        "",
    ];
    fuzz(
        "cri_verbose_info_json",
        (
            mutated_text(vec![CONTAINERD_INFO.into(), CRIO_INFO.into()], tokens),
            0..images.len(),
        ),
        |(info, image)| {
            let resp = answer(images[image], Some(&info));
            cri_check(&resp);
            // Accepted only when the verbose part was read, which is what is fuzzed here.
            match VerboseInfo::from_response(&resp) {
                Some(_) => Outcome::Accepted,
                None => Outcome::Rejected,
            }
        },
    );
}
