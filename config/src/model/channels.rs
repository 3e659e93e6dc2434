//! Falco's alert output channels: `stdout_output`, `file_output`, `syslog_output`,
//! `program_output` and `http_output`.

use crate::decode::{boolean, integer, missing, optional_path, path_buf, string, Cx, KeyPath};
use crate::error::ConfigError;
use crate::tree::Value;
use std::path::PathBuf;

/// `stdout_output`: one line per alert on standard output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StdoutOutput {
    /// Default **true** (Falco's code default is false; its shipped falco.yaml says true), so
    /// the agent prints alerts with no configuration at all.
    pub enabled: bool,
}

impl Default for StdoutOutput {
    fn default() -> Self {
        StdoutOutput { enabled: true }
    }
}

impl StdoutOutput {
    pub(crate) fn decode(v: &Value, path: &KeyPath, cx: &mut Cx) -> Result<Self, ConfigError> {
        let mut out = Self::default();
        for (e, p) in cx.section(v, path, &["enabled"], &[])? {
            if e.key == "enabled" {
                out.enabled = boolean(&e.value, &p)?;
            }
        }
        Ok(out)
    }
}

/// `syslog_output`: alerts to syslog at their priority.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyslogOutput {
    /// Default false.
    pub enabled: bool,
}

impl SyslogOutput {
    pub(crate) fn decode(v: &Value, path: &KeyPath, cx: &mut Cx) -> Result<Self, ConfigError> {
        let mut out = Self::default();
        for (e, p) in cx.section(v, path, &["enabled"], &[])? {
            if e.key == "enabled" {
                out.enabled = boolean(&e.value, &p)?;
            }
        }
        Ok(out)
    }
}

/// `file_output`: alerts appended to a file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileOutput {
    /// Default false.
    pub enabled: bool,
    /// Keep the file open between alerts (default false: open, append, close).
    pub keep_alive: bool,
    /// Required when enabled (default none).
    pub filename: Option<PathBuf>,
}

impl FileOutput {
    pub(crate) fn decode(v: &Value, path: &KeyPath, cx: &mut Cx) -> Result<Self, ConfigError> {
        let mut out = Self::default();
        for (e, p) in cx.section(v, path, &["enabled", "keep_alive", "filename"], &[])? {
            match e.key.as_str() {
                "enabled" => out.enabled = boolean(&e.value, &p)?,
                "keep_alive" => out.keep_alive = boolean(&e.value, &p)?,
                "filename" => out.filename = optional_path(&e.value, &p)?,
                _ => {}
            }
        }
        if out.enabled && out.filename.is_none() {
            return Err(missing(
                &path.key("filename"),
                "a file name when file_output.enabled is true",
                v,
            ));
        }
        Ok(out)
    }
}

/// `program_output`: alerts written to the stdin of `sh -c <program>`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProgramOutput {
    /// Default false.
    pub enabled: bool,
    /// Keep one process for all alerts (default false: one process per alert).
    pub keep_alive: bool,
    /// Shell command; required when enabled (default empty).
    pub program: String,
}

impl ProgramOutput {
    pub(crate) fn decode(v: &Value, path: &KeyPath, cx: &mut Cx) -> Result<Self, ConfigError> {
        let mut out = Self::default();
        for (e, p) in cx.section(v, path, &["enabled", "keep_alive", "program"], &[])? {
            match e.key.as_str() {
                "enabled" => out.enabled = boolean(&e.value, &p)?,
                "keep_alive" => out.keep_alive = boolean(&e.value, &p)?,
                "program" => out.program = string(&e.value, &p)?,
                _ => {}
            }
        }
        if out.enabled && out.program.trim().is_empty() {
            return Err(missing(
                &path.key("program"),
                "a command when program_output.enabled is true",
                v,
            ));
        }
        Ok(out)
    }
}

/// `http_output`: each alert POSTed to a URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpOutput {
    /// Default false.
    pub enabled: bool,
    /// Required when enabled (default empty).
    pub url: String,
    /// Default `falcosecurity/falco`, so receivers that key on it keep working.
    pub user_agent: String,
    /// Skip TLS certificate verification (default false).
    pub insecure: bool,
    /// CA certificate file (default none).
    pub ca_cert: Option<PathBuf>,
    /// CA bundle file (default none).
    pub ca_bundle: Option<PathBuf>,
    /// Folder of CA certificates (default `/etc/ssl/certs`).
    pub ca_path: Option<PathBuf>,
    /// Present a client certificate (default false).
    pub mtls: bool,
    /// Default `/etc/ssl/certs/client.crt`.
    pub client_cert: PathBuf,
    /// Default `/etc/ssl/certs/client.key`.
    pub client_key: PathBuf,
    /// Log the server's response body (default false).
    pub echo: bool,
    /// Gzip request bodies (default false).
    pub compress_uploads: bool,
    /// Reuse one connection (default false).
    pub keep_alive: bool,
    /// Give up after this many timeouts in a row (default 5).
    pub max_consecutive_timeouts: u32,
}

impl Default for HttpOutput {
    fn default() -> Self {
        HttpOutput {
            enabled: false,
            url: String::new(),
            user_agent: "falcosecurity/falco".into(),
            insecure: false,
            ca_cert: None,
            ca_bundle: None,
            ca_path: Some(PathBuf::from("/etc/ssl/certs")),
            mtls: false,
            client_cert: PathBuf::from("/etc/ssl/certs/client.crt"),
            client_key: PathBuf::from("/etc/ssl/certs/client.key"),
            echo: false,
            compress_uploads: false,
            keep_alive: false,
            max_consecutive_timeouts: 5,
        }
    }
}

const HTTP_KEYS: &[&str] = &[
    "enabled",
    "url",
    "user_agent",
    "insecure",
    "ca_cert",
    "ca_bundle",
    "ca_path",
    "mtls",
    "client_cert",
    "client_key",
    "echo",
    "compress_uploads",
    "keep_alive",
    "max_consecutive_timeouts",
];

impl HttpOutput {
    pub(crate) fn decode(v: &Value, path: &KeyPath, cx: &mut Cx) -> Result<Self, ConfigError> {
        let mut out = Self::default();
        for (e, p) in cx.section(v, path, HTTP_KEYS, &[])? {
            let v = &e.value;
            match e.key.as_str() {
                "enabled" => out.enabled = boolean(v, &p)?,
                "url" => out.url = string(v, &p)?,
                "user_agent" => out.user_agent = string(v, &p)?,
                "insecure" => out.insecure = boolean(v, &p)?,
                "ca_cert" => out.ca_cert = optional_path(v, &p)?,
                "ca_bundle" => out.ca_bundle = optional_path(v, &p)?,
                "ca_path" => out.ca_path = optional_path(v, &p)?,
                "mtls" => out.mtls = boolean(v, &p)?,
                "client_cert" => out.client_cert = path_buf(v, &p)?,
                "client_key" => out.client_key = path_buf(v, &p)?,
                "echo" => out.echo = boolean(v, &p)?,
                "compress_uploads" => out.compress_uploads = boolean(v, &p)?,
                "keep_alive" => out.keep_alive = boolean(v, &p)?,
                "max_consecutive_timeouts" => {
                    out.max_consecutive_timeouts = integer(v, &p, 0, u32::MAX.into())? as u32
                }
                _ => {}
            }
        }
        if out.enabled && out.url.trim().is_empty() {
            return Err(missing(
                &path.key("url"),
                "a URL when http_output.enabled is true",
                v,
            ));
        }
        Ok(out)
    }
}
