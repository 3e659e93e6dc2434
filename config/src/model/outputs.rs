//! `outputs`: Falcosidekick's job inside the agent. Falcosidekick's key names (lower case,
//! no separators): `outputs.loki.hostport`, `outputs.slack.webhookurl`,
//! `outputs.webhook.address`, `minimumpriority`, `customfields`, … plus Peregrine's delivery
//! settings (`buffersize`, `overflow`, `batchsize`, `timeout`, `maxretries`, `backoff`, …),
//! given once under `outputs:` as defaults and overridable per destination.
//!
//! Falco's own channels (`stdout_output`, `file_output`, `syslog_output`, `program_output`,
//! `http_output`) are switched on at the top level as in falco.yaml; `outputs.stdout`,
//! `outputs.file`, `outputs.syslog`, `outputs.program` and `outputs.http` tune them
//! (minimum priority, delivery).

use crate::decode::{
    boolean, choice, duration, integer, invalid, path_buf, size, string, string_list, Cx, Ignored,
    KeyPath,
};
use crate::error::{ConfigError, ConfigWarning};
use crate::template::MessageTemplate;
use crate::tree::{Kind, Value};
use peregrine_rules::Priority;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

/// What a destination's full buffer gives up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BufferOverflow {
    /// Evict the oldest waiting alert to make room (default: the newest alerts are the
    /// ones an operator needs after an outage).
    #[default]
    DropOldest,
    /// Refuse the incoming alert.
    DropNewest,
}

/// How one destination delivers: its bounded buffer, batching, timeout and retries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// Alerts waiting for this destination, queued and awaiting retry together
    /// (default 10000).
    pub buffersize: usize,
    /// Default `drop_oldest`.
    pub overflow: BufferOverflow,
    /// Most alerts per delivery (default 500; destinations that take one alert per request,
    /// such as Slack and the webhook, send a batch as consecutive requests).
    pub batchsize: usize,
    /// How long a partial batch may wait for more alerts (default 0: send what is there).
    pub flushinterval: Duration,
    /// One delivery attempt's limit (default 10s).
    pub timeout: Duration,
    /// Failed attempts an alert survives before it is dropped; 0 = retry until the buffer
    /// policy drops it (default 10).
    pub maxretries: u32,
    /// First retry delay, doubled per consecutive failure, with jitter (default 500ms).
    pub backoff: Duration,
    /// Longest retry delay (default 30s).
    pub maxbackoff: Duration,
    /// Identical alerts of one rule within this window are sent once (counted);
    /// 0 = off (default).
    pub dedupwindow: Duration,
    /// How long a stopping agent keeps trying to deliver what is buffered (default 5s).
    pub draintimeout: Duration,
}

impl Default for Delivery {
    fn default() -> Self {
        Delivery {
            buffersize: 10_000,
            overflow: BufferOverflow::DropOldest,
            batchsize: 500,
            flushinterval: Duration::ZERO,
            timeout: Duration::from_secs(10),
            maxretries: 10,
            backoff: Duration::from_millis(500),
            maxbackoff: Duration::from_secs(30),
            dedupwindow: Duration::ZERO,
            draintimeout: Duration::from_secs(5),
        }
    }
}

const DELIVERY_KEYS: &[&str] = &[
    "buffersize",
    "overflow",
    "batchsize",
    "flushinterval",
    "timeout",
    "maxretries",
    "backoff",
    "maxbackoff",
    "dedupwindow",
    "draintimeout",
];

impl Delivery {
    /// Sets one delivery key; false if `key` is not one.
    fn set(&mut self, key: &str, v: &Value, p: &KeyPath) -> Result<bool, ConfigError> {
        match key {
            "buffersize" => self.buffersize = size(v, p, 1, 10_000_000)?,
            "overflow" => {
                self.overflow = choice(
                    v,
                    p,
                    &[
                        ("drop_oldest", BufferOverflow::DropOldest),
                        ("drop_newest", BufferOverflow::DropNewest),
                    ],
                )?
            }
            "batchsize" => self.batchsize = size(v, p, 1, 1_000_000)?,
            "flushinterval" => self.flushinterval = duration(v, p, Duration::ZERO)?,
            "timeout" => self.timeout = duration(v, p, Duration::from_millis(1))?,
            "maxretries" => self.maxretries = integer(v, p, 0, u32::MAX.into())? as u32,
            "backoff" => self.backoff = duration(v, p, Duration::from_millis(1))?,
            "maxbackoff" => self.maxbackoff = duration(v, p, Duration::from_millis(1))?,
            "dedupwindow" => self.dedupwindow = duration(v, p, Duration::ZERO)?,
            "draintimeout" => self.draintimeout = duration(v, p, Duration::ZERO)?,
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// What every destination has: a minimum priority and its delivery settings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Common {
    /// Alerts less severe than this are not sent; `None` (falcosidekick's `""`) sends all.
    pub minimumpriority: Option<Priority>,
    pub delivery: Delivery,
}

/// TLS choices of falcosidekick's HTTP outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpTls {
    /// Verify the server's certificate (default true).
    pub checkcert: bool,
    /// Present the client certificate of `outputs.mutualtlsclient` (default false).
    pub mutualtls: bool,
}

impl Default for HttpTls {
    fn default() -> Self {
        HttpTls {
            checkcert: true,
            mutualtls: false,
        }
    }
}

/// `outputs.loki`: Grafana Loki's push API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loki {
    pub common: Common,
    pub tls: HttpTls,
    /// `http://host:port` (required: an empty value disables Loki, as in falcosidekick).
    pub hostport: String,
    /// Default `/loki/api/v1/push`.
    pub endpoint: String,
    /// Sent as `X-Scope-OrgID` when set.
    pub tenant: String,
    /// Basic auth when both `user` and `apikey` are set.
    pub user: String,
    pub apikey: String,
    /// Log line: the alert's `output` text (default) or the whole alert as JSON.
    pub format: LokiFormat,
    /// Output fields added as labels (falcosidekick: a comma-separated list).
    pub extralabels: Vec<String>,
    pub customheaders: Vec<(String, String)>,
}

/// `outputs.loki.format`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LokiFormat {
    #[default]
    Text,
    Json,
}

/// `outputs.slack`: an incoming webhook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slack {
    pub common: Common,
    pub tls: HttpTls,
    /// Required (an empty value disables Slack).
    pub webhookurl: String,
    /// Overrides the webhook's channel when set.
    pub channel: String,
    /// Default `Falcosidekick`.
    pub username: String,
    /// Icon URL (default falcosidekick's icon).
    pub icon: String,
    /// Default `https://github.com/falcosecurity/falcosidekick`.
    pub footer: String,
    /// Default `all`.
    pub outputformat: SlackOutputFormat,
    /// A Go-template line sent as the message text (`{{ .Rule }}`, `{{ index .OutputFields "k" }}`).
    pub messageformat: Option<MessageTemplate>,
}

/// Falcosidekick's icon and footer, the defaults of `outputs.slack.icon` and `.footer`.
pub const SIDEKICK_ICON: &str =
    "https://raw.githubusercontent.com/falcosecurity/falcosidekick/master/imgs/falcosidekick_color.png";
pub const SIDEKICK_FOOTER: &str = "https://github.com/falcosecurity/falcosidekick";

/// `outputs.slack.outputformat`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SlackOutputFormat {
    /// Attachment text and fields.
    #[default]
    All,
    /// Attachment text only.
    Text,
    /// Attachment fields only.
    Fields,
}

/// `outputs.webhook`: the alert as JSON to any URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Webhook {
    pub common: Common,
    pub tls: HttpTls,
    /// Required (an empty value disables the webhook).
    pub address: String,
    /// Default POST.
    pub method: HttpMethod,
    pub customheaders: Vec<(String, String)>,
}

/// `outputs.webhook.method`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HttpMethod {
    #[default]
    Post,
    Put,
}

/// `outputs.syslog`: tuning for `syslog_output`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyslogDestination {
    pub common: Common,
    /// The local syslog socket (default `/dev/log`).
    pub path: PathBuf,
}

/// `outputs.mutualtlsclient` (falcosidekick: or the files `client.crt`, `client.key` and
/// `ca.crt` in `outputs.mutualtlsfilespath`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MutualTlsClient {
    pub certfile: PathBuf,
    pub keyfile: PathBuf,
    /// The CA that signed the servers' certificates.
    pub cacertfile: PathBuf,
}

/// `outputs.tlsserver`: falcosidekick's TLS for the input, same keys and defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsServer {
    /// Serve the input over HTTPS (default false).
    pub deploy: bool,
    /// PEM certificate chain (default `/etc/certs/server/server.crt`).
    pub certfile: PathBuf,
    /// PEM private key (default `/etc/certs/server/server.key`).
    pub keyfile: PathBuf,
    /// Require a client certificate signed by `cacertfile` (default false; needs `deploy`).
    pub mutualtls: bool,
    /// PEM CA certificates clients' certificates must chain to
    /// (default `/etc/certs/server/ca.crt`).
    pub cacertfile: PathBuf,
    /// Port of the plain-HTTP listener for `notlspaths` (default 2810).
    pub notlsport: u16,
    /// Input paths served on `notlsport` in clear instead of over TLS (default none; e.g.
    /// `/ping`, `/healthz` for probes that cannot speak TLS).
    pub notlspaths: Vec<String>,
}

impl Default for TlsServer {
    fn default() -> Self {
        TlsServer {
            deploy: false,
            certfile: PathBuf::from("/etc/certs/server/server.crt"),
            keyfile: PathBuf::from("/etc/certs/server/server.key"),
            mutualtls: false,
            cacertfile: PathBuf::from("/etc/certs/server/ca.crt"),
            notlsport: 2810,
            notlspaths: Vec::new(),
        }
    }
}

/// The input's paths, the ones `notlspaths` may name.
pub const INPUT_PATHS: &[&str] = &["/", "/test", "/ping", "/healthz"];

/// `outputs.input`: Peregrine's own settings of the input (falcosidekick has none of these).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InputAuth {
    /// When set, `POST /` and `/test` need `Authorization: Bearer <token>`; a missing or
    /// wrong one gets 401 (default none).
    pub bearertoken: Option<String>,
}

/// `outputs`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outputs {
    /// The sidekick-compatible HTTP input's address (default `127.0.0.1`: loopback only,
    /// unlike falcosidekick's every address; write `0.0.0.0` for that).
    pub listenaddress: IpAddr,
    /// Its port; 0 = no input (default 0; falcosidekick listens on 2801).
    pub listenport: u16,
    /// TLS for the input (`outputs.tlsserver`).
    pub tlsserver: TlsServer,
    /// Bearer token for the input (`outputs.input`).
    pub input: InputAuth,
    /// Static `name: value` pairs added to every alert's output fields for the sidekick
    /// destinations (a value `%VAR` is read from the environment, as in falcosidekick).
    pub customfields: Vec<(String, String)>,
    /// Client certificate for destinations with `mutualtls: true`.
    pub mutualtlsclient: MutualTlsClient,
    /// Extra CA for verifying servers (`outputs.tlsclient.cacertfile`).
    pub cacertfile: Option<PathBuf>,
    /// The defaults every destination starts from.
    pub delivery: Delivery,
    pub stdout: Common,
    pub file: Common,
    pub syslog: SyslogDestination,
    pub program: Common,
    pub http: Common,
    pub loki: Option<Loki>,
    pub slack: Option<Slack>,
    pub webhook: Option<Webhook>,
}

impl Default for Outputs {
    fn default() -> Self {
        Outputs {
            listenaddress: IpAddr::V4(Ipv4Addr::LOCALHOST),
            listenport: 0,
            tlsserver: TlsServer::default(),
            input: InputAuth::default(),
            customfields: Vec::new(),
            mutualtlsclient: mutual_tls_files(&PathBuf::from("/etc/certs")),
            cacertfile: None,
            delivery: Delivery::default(),
            stdout: Common::default(),
            file: Common::default(),
            syslog: SyslogDestination {
                common: Common::default(),
                path: PathBuf::from("/dev/log"),
            },
            program: Common::default(),
            http: Common::default(),
            loki: None,
            slack: None,
            webhook: None,
        }
    }
}

/// Keys whose value alone decides whether a destination sends anything: an empty value
/// turns it off (sidekick style) or stops the agent (Falco style).
pub(crate) fn is_destination_address(path: &str) -> bool {
    [
        "outputs.loki.hostport",
        "outputs.slack.webhookurl",
        "outputs.webhook.address",
        "http_output.url",
        "program_output.program",
        "file_output.filename",
    ]
    .contains(&path)
}

/// falcosidekick's environment variables this section reads, upper-case path joined with
/// `_` (`LOKI_HOSTPORT`, `SLACK_MINIMUMPRIORITY`, `CUSTOMFIELDS="k:v,k2:v2"`), with the key
/// each sets. They override the file; `-o` overrides them.
pub(crate) fn sidekick_env_keys() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = ["listenaddress", "listenport", "customfields"]
        .iter()
        .map(|k| (k.to_ascii_uppercase(), format!("outputs.{k}")))
        .collect();
    let common = ["minimumpriority", "checkcert", "mutualtls"];
    let own: [(&str, &[&str]); 3] = [
        (
            "loki",
            &[
                "hostport",
                "endpoint",
                "tenant",
                "user",
                "apikey",
                "format",
                "extralabels",
                "customheaders",
            ],
        ),
        (
            "slack",
            &[
                "webhookurl",
                "channel",
                "username",
                "icon",
                "footer",
                "outputformat",
                "messageformat",
            ],
        ),
        ("webhook", &["address", "method", "customheaders"]),
    ];
    for (dest, keys) in own {
        for k in keys.iter().chain(common.iter()) {
            out.push((
                format!("{}_{}", dest.to_ascii_uppercase(), k.to_ascii_uppercase()),
                format!("outputs.{dest}.{k}"),
            ));
        }
    }
    for k in TLSSERVER_KEYS {
        out.push((
            format!("TLSSERVER_{}", k.to_ascii_uppercase()),
            format!("outputs.tlsserver.{k}"),
        ));
    }
    out
}

fn mutual_tls_files(dir: &std::path::Path) -> MutualTlsClient {
    MutualTlsClient {
        certfile: dir.join("client.crt"),
        keyfile: dir.join("client.key"),
        cacertfile: dir.join("ca.crt"),
    }
}

const DESTINATIONS: &[&str] = &[
    "stdout", "file", "syslog", "program", "http", "loki", "slack", "webhook",
];

const GLOBAL_KEYS: &[&str] = &[
    "listenaddress",
    "listenport",
    "tlsserver",
    "input",
    "customfields",
    "mutualtlsfilespath",
    "mutualtlsclient",
    "tlsclient",
];

/// Falcosidekick settings Peregrine accepts and does not act on.
const GLOBAL_IGNORED: &[Ignored] = &[
    ("debug", "Peregrine's logs follow log_level"),
    ("templatedfields", "templated fields are not supported"),
    ("customtags", "custom tags are not supported"),
    ("bracketreplacer", "not supported"),
    ("outputfieldformat", "not supported"),
    ("prometheus", "metrics are served by the webserver"),
];

const TLSSERVER_KEYS: &[&str] = &[
    "deploy",
    "certfile",
    "keyfile",
    "mutualtls",
    "cacertfile",
    "notlsport",
    "notlspaths",
];

const COMMON_IGNORED: &[Ignored] = &[(
    "maxconcurrentrequests",
    "each destination sends one request at a time",
)];

impl Outputs {
    pub(crate) fn decode(v: &Value, path: &KeyPath, cx: &mut Cx) -> Result<Self, ConfigError> {
        if !matches!(v.kind, Kind::Map(_) | Kind::Null) {
            return Err(invalid(path, "a mapping of output destinations", v));
        }
        let known: Vec<&str> = GLOBAL_KEYS
            .iter()
            .chain(DELIVERY_KEYS)
            .chain(DESTINATIONS)
            .copied()
            .collect();
        let entries = cx.section(v, path, &known, GLOBAL_IGNORED)?;
        let mut out = Outputs::default();
        // Defaults first: destinations start from them wherever they appear.
        for (e, p) in &entries {
            out.delivery.set(&e.key, &e.value, p)?;
        }
        let mut files_dir = None;
        let mut client = None;
        for (e, p) in &entries {
            let v = &e.value;
            match e.key.as_str() {
                "listenaddress" => {
                    let text = string(v, p)?;
                    let text = text.trim();
                    if text.is_empty() {
                        // falcosidekick's "" is every address; here it keeps the loopback
                        // default, and says so.
                        cx.warnings.push(ConfigWarning {
                            path: p.as_str().to_string(),
                            reason: "\"\" keeps Peregrine's default 127.0.0.1 (falcosidekick: \
                                     every address); write 0.0.0.0 to accept other hosts"
                                .into(),
                            origin: v.origin.clone(),
                        });
                    } else {
                        out.listenaddress = text
                            .parse()
                            .map_err(|_| invalid(p, "an IPv4 or IPv6 address", v))?;
                    }
                }
                "listenport" => out.listenport = integer(v, p, 0, 65535)? as u16,
                "tlsserver" => out.tlsserver = decode_tlsserver(v, p, cx)?,
                "input" => {
                    for (e, p) in cx.section(v, p, &["bearertoken"], &[])? {
                        let token = string(&e.value, &p)?;
                        if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
                            return Err(invalid(&p, "a token without spaces", &e.value));
                        }
                        out.input.bearertoken = (!token.is_empty()).then_some(token);
                    }
                }
                "customfields" => out.customfields = customfields(v, p, cx)?,
                "mutualtlsfilespath" => files_dir = Some(path_buf(v, p)?),
                "mutualtlsclient" => client = Some((v, p.clone())),
                "tlsclient" => {
                    for (e, p) in cx.section(v, p, &["cacertfile"], &[])? {
                        let file = path_buf(&e.value, &p)?;
                        out.cacertfile = (!file.as_os_str().is_empty()).then_some(file);
                    }
                }
                "stdout" => out.stdout = common(v, p, cx, out.delivery, &[])?.0,
                "file" => out.file = common(v, p, cx, out.delivery, &[])?.0,
                "program" => out.program = common(v, p, cx, out.delivery, &[])?.0,
                "http" => out.http = common(v, p, cx, out.delivery, &[])?.0,
                "syslog" => {
                    let (common, rest) = common(v, p, cx, out.delivery, &["path"])?;
                    out.syslog.common = common;
                    for (e, p) in rest {
                        out.syslog.path = path_buf(&e.value, &p)?;
                    }
                }
                "loki" => out.loki = decode_loki(v, p, cx, out.delivery)?,
                "slack" => out.slack = decode_slack(v, p, cx, out.delivery)?,
                "webhook" => out.webhook = decode_webhook(v, p, cx, out.delivery)?,
                _ => {}
            }
        }
        if let Some(dir) = files_dir {
            out.mutualtlsclient = mutual_tls_files(&dir);
        }
        let exposed = out.listenport != 0 && !out.listenaddress.is_loopback();
        if exposed && out.input.bearertoken.is_some() && !out.tlsserver.deploy {
            cx.warnings.push(ConfigWarning {
                path: path.key("input.bearertoken").as_str().to_string(),
                reason: "sent in clear: the input listens beyond loopback without \
                         tlsserver.deploy"
                    .into(),
                origin: v.origin.clone(),
            });
        }
        if let Some((v, p)) = client {
            let keys = ["certfile", "keyfile", "cacertfile"];
            for (e, p) in cx.section(v, &p, &keys, &[])? {
                let file = path_buf(&e.value, &p)?;
                match e.key.as_str() {
                    "certfile" => out.mutualtlsclient.certfile = file,
                    "keyfile" => out.mutualtlsclient.keyfile = file,
                    _ => out.mutualtlsclient.cacertfile = file,
                }
            }
        }
        Ok(out)
    }
}

/// `outputs.tlsserver`. Asking for mutual TLS without TLS is an error (falcosidekick only
/// warns and serves plain HTTP: a client check the operator asked for would be missing).
fn decode_tlsserver(v: &Value, p: &KeyPath, cx: &mut Cx) -> Result<TlsServer, ConfigError> {
    let mut out = TlsServer::default();
    let mut mutual = None;
    for (e, p) in cx.section(v, p, TLSSERVER_KEYS, &[])? {
        let v = &e.value;
        match e.key.as_str() {
            "deploy" => out.deploy = boolean(v, &p)?,
            "certfile" => out.certfile = path_buf(v, &p)?,
            "keyfile" => out.keyfile = path_buf(v, &p)?,
            "mutualtls" => {
                out.mutualtls = boolean(v, &p)?;
                mutual = Some((v, p.clone()));
            }
            "cacertfile" => out.cacertfile = path_buf(v, &p)?,
            "notlsport" => out.notlsport = integer(v, &p, 1, 65535)? as u16,
            "notlspaths" => {
                let paths = match &v.kind {
                    // falcosidekick's env form: "/ping,/healthz".
                    Kind::Scalar(s) => s
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect(),
                    _ => string_list(v, &p)?,
                };
                out.notlspaths.clear();
                for path in paths {
                    if path == "/metrics" {
                        // falcosidekick serves /metrics on its input; Peregrine's webserver does.
                        cx.warnings.push(ConfigWarning {
                            path: p.as_str().to_string(),
                            reason: "/metrics is served by the webserver, not the input".into(),
                            origin: v.origin.clone(),
                        });
                    } else if !INPUT_PATHS.contains(&path.as_str()) {
                        return Err(invalid(
                            &p,
                            format!("input paths among {}", INPUT_PATHS.join(", ")),
                            v,
                        ));
                    } else if !out.notlspaths.contains(&path) {
                        out.notlspaths.push(path);
                    }
                }
            }
            _ => {}
        }
    }
    if let (Some((v, p)), true, false) = (mutual, out.mutualtls, out.deploy) {
        return Err(invalid(
            &p,
            "false unless tlsserver.deploy is true (mutual TLS needs TLS)",
            v,
        ));
    }
    Ok(out)
}

/// `customfields`: a mapping, or falcosidekick's env form `"k:v,k2:v2"`.
fn customfields(v: &Value, p: &KeyPath, cx: &mut Cx) -> Result<Vec<(String, String)>, ConfigError> {
    let pairs: Vec<(String, String)> = match &v.kind {
        Kind::Scalar(s) => s
            .split(',')
            .filter(|kv| !kv.trim().is_empty())
            .map(|kv| match kv.split_once(':') {
                Some((k, v)) => Ok((k.trim().to_string(), v.trim().to_string())),
                None => Err(invalid(p, "a mapping or \"name:value,name2:value2\"", v)),
            })
            .collect::<Result<_, _>>()?,
        _ => {
            let entries = map_entries(v, p, cx)?;
            entries
                .into_iter()
                .map(|(k, value, p)| Ok((k, string(value, &p)?)))
                .collect::<Result<_, ConfigError>>()?
        }
    };
    Ok(pairs
        .into_iter()
        .map(|(k, value)| match value.strip_prefix('%') {
            Some(var) => (k, std::env::var(var).unwrap_or_default()),
            None => (k, value),
        })
        .collect())
}

/// Every entry of a mapping with free key names (headers, custom fields).
fn map_entries<'v>(
    v: &'v Value,
    p: &KeyPath,
    _cx: &mut Cx,
) -> Result<Vec<(String, &'v Value, KeyPath)>, ConfigError> {
    match &v.kind {
        Kind::Null => Ok(Vec::new()),
        Kind::Map(entries) => Ok(entries
            .iter()
            .map(|e| (e.key.clone(), &e.value, p.key(&e.key)))
            .collect()),
        _ => Err(invalid(p, "a mapping of names to values", v)),
    }
}

fn headers(v: &Value, p: &KeyPath, cx: &mut Cx) -> Result<Vec<(String, String)>, ConfigError> {
    if let Kind::Scalar(s) = &v.kind {
        // falcosidekick's env form: "Name:value,Name2:value2".
        return s
            .split(',')
            .filter(|kv| !kv.trim().is_empty())
            .map(|kv| match kv.split_once(':') {
                Some((k, val)) => Ok((k.trim().to_string(), val.trim().to_string())),
                None => Err(invalid(p, "a mapping or \"Name:value,Name2:value2\"", v)),
            })
            .collect();
    }
    let mut out = Vec::new();
    for (name, value, p) in map_entries(v, p, cx)? {
        let valid_name = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !valid_name {
            return Err(invalid(&p, "an HTTP header name", value));
        }
        let text = string(value, &p)?;
        if text.contains(['\r', '\n']) {
            return Err(invalid(&p, "a header value on one line", value));
        }
        out.push((name, text));
    }
    Ok(out)
}

/// A destination's own entries, left after the common keys.
type Rest<'v> = Vec<(&'v crate::tree::Entry, KeyPath)>;

/// The common keys of a destination, and the entries left for its own keys (`own`).
fn common<'v>(
    v: &'v Value,
    p: &KeyPath,
    cx: &mut Cx,
    defaults: Delivery,
    own: &[&str],
) -> Result<(Common, Rest<'v>), ConfigError> {
    let known: Vec<&str> = ["minimumpriority"]
        .iter()
        .chain(DELIVERY_KEYS)
        .chain(own)
        .copied()
        .collect();
    let mut out = Common {
        minimumpriority: None,
        delivery: defaults,
    };
    let mut rest = Vec::new();
    for (e, p) in cx.section(v, p, &known, COMMON_IGNORED)? {
        if e.key == "minimumpriority" {
            out.minimumpriority = minimum_priority(&e.value, &p, cx)?;
        } else if !out.delivery.set(&e.key, &e.value, &p)? {
            rest.push((e, p));
        }
    }
    let d = &out.delivery;
    if d.maxbackoff < d.backoff {
        return Err(invalid(
            &p.key("maxbackoff"),
            format!("at least backoff ({}ms)", d.backoff.as_millis()),
            v,
        ));
    }
    Ok((out, rest))
}

/// falcosidekick's `minimumpriority`: `""` sends everything; the eight names are
/// case-insensitive. falcosidekick silently reads `info` as `""`; Peregrine does the same
/// and says so in a warning.
fn minimum_priority(v: &Value, p: &KeyPath, cx: &mut Cx) -> Result<Option<Priority>, ConfigError> {
    const EXPECTED: &str =
        "\"\" or a priority: emergency, alert, critical, error, warning, notice, informational, debug";
    let text = v.as_scalar().ok_or_else(|| invalid(p, EXPECTED, v))?.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if text.eq_ignore_ascii_case("info") {
        cx.warnings.push(ConfigWarning {
            path: p.as_str().to_string(),
            reason: "falcosidekick reads `info` as \"\" (every priority), and so does Peregrine; \
                     write `informational` to filter"
                .into(),
            origin: v.origin.clone(),
        });
        return Ok(None);
    }
    text.parse::<Priority>()
        .map(Some)
        .map_err(|_| invalid(p, EXPECTED, v))
}

fn http_tls(e: &crate::tree::Entry, p: &KeyPath, tls: &mut HttpTls) -> Result<bool, ConfigError> {
    match e.key.as_str() {
        "checkcert" => tls.checkcert = boolean(&e.value, p)?,
        "mutualtls" => tls.mutualtls = boolean(&e.value, p)?,
        _ => return Ok(false),
    }
    Ok(true)
}

fn decode_loki(
    v: &Value,
    p: &KeyPath,
    cx: &mut Cx,
    defaults: Delivery,
) -> Result<Option<Loki>, ConfigError> {
    let own = [
        "hostport",
        "endpoint",
        "tenant",
        "user",
        "apikey",
        "format",
        "extralabels",
        "customheaders",
        "checkcert",
        "mutualtls",
    ];
    let (common, rest) = common(v, p, cx, defaults, &own)?;
    let mut loki = Loki {
        common,
        tls: HttpTls::default(),
        hostport: String::new(),
        endpoint: "/loki/api/v1/push".into(),
        tenant: String::new(),
        user: String::new(),
        apikey: String::new(),
        format: LokiFormat::Text,
        extralabels: Vec::new(),
        customheaders: Vec::new(),
    };
    for (e, p) in rest {
        let v = &e.value;
        if http_tls(e, &p, &mut loki.tls)? {
            continue;
        }
        match e.key.as_str() {
            "hostport" => loki.hostport = url(v, &p)?,
            "endpoint" => {
                loki.endpoint = string(v, &p)?;
                if !loki.endpoint.starts_with('/') {
                    return Err(invalid(&p, "a path starting with /", v));
                }
            }
            "tenant" => loki.tenant = string(v, &p)?,
            "user" => loki.user = string(v, &p)?,
            "apikey" => loki.apikey = string(v, &p)?,
            "format" => {
                loki.format = choice(
                    v,
                    &p,
                    &[("text", LokiFormat::Text), ("json", LokiFormat::Json)],
                )?
            }
            "extralabels" => {
                loki.extralabels = match &v.kind {
                    Kind::Scalar(s) => s
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect(),
                    _ => string_list(v, &p)?,
                }
            }
            "customheaders" => loki.customheaders = headers(v, &p, cx)?,
            _ => {}
        }
    }
    Ok((!loki.hostport.is_empty()).then_some(loki))
}

fn decode_slack(
    v: &Value,
    p: &KeyPath,
    cx: &mut Cx,
    defaults: Delivery,
) -> Result<Option<Slack>, ConfigError> {
    let own = [
        "webhookurl",
        "channel",
        "username",
        "icon",
        "footer",
        "outputformat",
        "messageformat",
        "checkcert",
        "mutualtls",
    ];
    let (common, rest) = common(v, p, cx, defaults, &own)?;
    let mut slack = Slack {
        common,
        tls: HttpTls::default(),
        webhookurl: String::new(),
        channel: String::new(),
        username: "Falcosidekick".into(),
        icon: SIDEKICK_ICON.into(),
        footer: SIDEKICK_FOOTER.into(),
        outputformat: SlackOutputFormat::All,
        messageformat: None,
    };
    for (e, p) in rest {
        let v = &e.value;
        if http_tls(e, &p, &mut slack.tls)? {
            continue;
        }
        match e.key.as_str() {
            "webhookurl" => slack.webhookurl = url(v, &p)?,
            "channel" => slack.channel = string(v, &p)?,
            "username" => slack.username = string(v, &p)?,
            "icon" => {
                let icon = string(v, &p)?;
                if !icon.is_empty() {
                    slack.icon = icon;
                }
            }
            "footer" => {
                let footer = string(v, &p)?;
                if !footer.is_empty() {
                    slack.footer = footer;
                }
            }
            "outputformat" => {
                let text = string(v, &p)?;
                slack.outputformat = if text.is_empty() {
                    SlackOutputFormat::All
                } else {
                    choice(
                        v,
                        &p,
                        &[
                            ("all", SlackOutputFormat::All),
                            ("text", SlackOutputFormat::Text),
                            ("fields", SlackOutputFormat::Fields),
                        ],
                    )?
                }
            }
            "messageformat" => {
                let text = string(v, &p)?;
                if !text.is_empty() {
                    slack.messageformat =
                        Some(MessageTemplate::parse(&text).map_err(|reason| {
                            invalid(&p, format!("a message template ({reason})"), v)
                        })?);
                }
            }
            _ => {}
        }
    }
    Ok((!slack.webhookurl.is_empty()).then_some(slack))
}

fn decode_webhook(
    v: &Value,
    p: &KeyPath,
    cx: &mut Cx,
    defaults: Delivery,
) -> Result<Option<Webhook>, ConfigError> {
    let own = [
        "address",
        "method",
        "customheaders",
        "checkcert",
        "mutualtls",
    ];
    let (common, rest) = common(v, p, cx, defaults, &own)?;
    let mut hook = Webhook {
        common,
        tls: HttpTls::default(),
        address: String::new(),
        method: HttpMethod::Post,
        customheaders: Vec::new(),
    };
    for (e, p) in rest {
        let v = &e.value;
        if http_tls(e, &p, &mut hook.tls)? {
            continue;
        }
        match e.key.as_str() {
            "address" => hook.address = url(v, &p)?,
            "method" => {
                hook.method = choice(
                    v,
                    &p,
                    &[("post", HttpMethod::Post), ("put", HttpMethod::Put)],
                )?
            }
            "customheaders" => hook.customheaders = headers(v, &p, cx)?,
            _ => {}
        }
    }
    Ok((!hook.address.is_empty()).then_some(hook))
}

/// An `http://` or `https://` URL with a host, or empty (the destination stays off).
fn url(v: &Value, p: &KeyPath) -> Result<String, ConfigError> {
    let text = string(v, p)?.trim().to_string();
    if text.is_empty() {
        return Ok(text);
    }
    let rest = text
        .strip_prefix("http://")
        .or_else(|| text.strip_prefix("https://"));
    match rest {
        Some(r) if !r.is_empty() && !r.starts_with('/') && !r.contains(char::is_whitespace) => {
            Ok(text)
        }
        _ => Err(invalid(p, "an http:// or https:// URL", v)),
    }
}
