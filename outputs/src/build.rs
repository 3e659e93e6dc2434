//! Destinations from the configuration: Falco's channels where falco.yaml enables them,
//! falcosidekick's where `outputs.<name>` gives their address.

use crate::client::{self, TlsFiles};
use crate::dest::http_output::HttpOutput;
use crate::dest::line::{FileLines, LineFormat, Stdout};
use crate::dest::loki::{Loki, LokiFormatting};
use crate::dest::program::Program;
use crate::dest::slack::{Slack, SlackFormatting};
use crate::dest::syslog::Syslog;
use crate::dest::webhook::Webhook;
use crate::dispatch::{Outputs, OutputsBuilder};
use crate::error::OutputError;
use peregrine_config::{Config, HttpTls};
use peregrine_rules::JsonOptions;
use std::sync::Arc;

/// Falco's line format from `json_output` and `json_include_*`.
pub fn line_format(cfg: &Config) -> LineFormat {
    if cfg.json_output {
        LineFormat::Json(JsonOptions {
            include_output: cfg.json_include_output_property,
            include_output_fields: cfg.json_include_output_fields_property,
            include_tags: cfg.json_include_tags_property,
            include_message: cfg.json_include_message_property,
        })
    } else {
        LineFormat::Text
    }
}

fn sidekick_tls(cfg: &Config, tls: &HttpTls) -> TlsFiles {
    let o = &cfg.outputs;
    let mut files = TlsFiles {
        insecure: !tls.checkcert,
        ca_files: o.cacertfile.iter().cloned().collect(),
        ca_dir: None,
        client: None,
    };
    if tls.mutualtls {
        files.ca_files.push(o.mutualtlsclient.cacertfile.clone());
        files.client = Some((
            o.mutualtlsclient.certfile.clone(),
            o.mutualtlsclient.keyfile.clone(),
        ));
    }
    files
}

/// Starts every destination the configuration enables. `unbuffered` is `-U`.
pub fn from_config(cfg: &Config, unbuffered: bool) -> Result<Outputs, OutputError> {
    let format = line_format(cfg);
    let buffered = cfg.buffered_outputs && !unbuffered;
    let o = &cfg.outputs;
    let custom: Arc<[(String, String)]> = o.customfields.clone().into();
    let mut b = OutputsBuilder::new();

    if cfg.stdout_output.enabled {
        b.add(
            "stdout",
            &o.stdout,
            Box::new(move || Ok(Stdout::new(format, buffered))),
        )?;
    }
    if cfg.file_output.enabled {
        let path = cfg
            .file_output
            .filename
            .clone()
            .ok_or_else(|| OutputError::Invalid {
                destination: "file".into(),
                reason: "file_output.enabled needs file_output.filename".into(),
            })?;
        let keep = cfg.file_output.keep_alive;
        // Fail at start when the file cannot be written.
        FileLines::new(&path, format, keep)?;
        b.add(
            "file",
            &o.file,
            Box::new(move || FileLines::new(&path, format, keep).map_err(|e| e.to_string())),
        )?;
    }
    if cfg.syslog_output.enabled {
        let path = o.syslog.path.clone();
        b.add(
            "syslog",
            &o.syslog.common,
            Box::new(move || Ok(Syslog::new(path.clone(), format))),
        )?;
    }
    if cfg.program_output.enabled {
        let (command, keep) = (
            cfg.program_output.program.clone(),
            cfg.program_output.keep_alive,
        );
        b.add(
            "program",
            &o.program,
            Box::new(move || Ok(Program::new(command.clone(), format, keep))),
        )?;
    }
    if cfg.http_output.enabled {
        let h = &cfg.http_output;
        if h.compress_uploads {
            tracing::warn!("http_output.compress_uploads is not supported: bodies are sent as is");
        }
        let files = TlsFiles {
            insecure: h.insecure,
            ca_files: h
                .ca_cert
                .iter()
                .chain(h.ca_bundle.iter())
                .cloned()
                .collect(),
            ca_dir: h.ca_path.clone(),
            client: h
                .mtls
                .then(|| (h.client_cert.clone(), h.client_key.clone())),
        };
        let tls = client::rustls_config("http", &files)?;
        let (url, agent, echo) = (h.url.clone(), h.user_agent.clone(), h.echo);
        let timeout = o.http.delivery.timeout;
        b.add(
            "http",
            &o.http,
            Box::new(move || {
                Ok(HttpOutput {
                    client: client::client(timeout, tls.clone()),
                    url: url.clone(),
                    user_agent: agent.clone(),
                    format,
                    echo,
                })
            }),
        )?;
    }
    if let Some(l) = &o.loki {
        let tls = client::rustls_config("loki", &sidekick_tls(cfg, &l.tls))?;
        let url = format!("{}{}", l.hostport.trim_end_matches('/'), l.endpoint);
        let auth = (!l.user.is_empty() && !l.apikey.is_empty())
            .then(|| (l.user.clone(), l.apikey.clone()));
        let formatting = LokiFormatting {
            format: l.format,
            extralabels: l.extralabels.clone(),
            customfields: custom.clone(),
        };
        let (tenant, headers, timeout) = (
            l.tenant.clone(),
            l.customheaders.clone(),
            l.common.delivery.timeout,
        );
        b.add(
            "loki",
            &l.common,
            Box::new(move || {
                Ok(Loki {
                    client: client::client(timeout, tls.clone()),
                    url: url.clone(),
                    tenant: tenant.clone(),
                    auth: auth.clone(),
                    headers: headers.clone(),
                    formatting: formatting.clone(),
                })
            }),
        )?;
    }
    if let Some(s) = &o.slack {
        let tls = client::rustls_config("slack", &sidekick_tls(cfg, &s.tls))?;
        let formatting = SlackFormatting {
            channel: s.channel.clone(),
            username: s.username.clone(),
            icon: s.icon.clone(),
            footer: s.footer.clone(),
            outputformat: s.outputformat,
            messageformat: s.messageformat.clone(),
            customfields: custom.clone(),
        };
        let (url, timeout) = (s.webhookurl.clone(), s.common.delivery.timeout);
        b.add(
            "slack",
            &s.common,
            Box::new(move || {
                Ok(Slack {
                    client: client::client(timeout, tls.clone()),
                    url: url.clone(),
                    formatting: formatting.clone(),
                })
            }),
        )?;
    }
    if let Some(w) = &o.webhook {
        let tls = client::rustls_config("webhook", &sidekick_tls(cfg, &w.tls))?;
        let (address, method, headers, timeout) = (
            w.address.clone(),
            w.method,
            w.customheaders.clone(),
            w.common.delivery.timeout,
        );
        let custom = custom.clone();
        b.add(
            "webhook",
            &w.common,
            Box::new(move || {
                Ok(Webhook {
                    client: client::client(timeout, tls.clone()),
                    address: address.clone(),
                    method,
                    headers: headers.clone(),
                    customfields: custom.clone(),
                })
            }),
        )?;
    }
    Ok(b.build())
}
