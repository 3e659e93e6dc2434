//! The HTTP server: Prometheus `/metrics`, `/healthz`, `/versions` (Falco's webserver), in
//! clear or HTTPS-only (`webserver.ssl_enabled`). Requests for other paths and failed
//! handshakes are counted in `peregrine_webserver_rejected_total{reason}` with at most one
//! warning per 10 s.

use crate::health::Health;
use actix_web::{web, App, HttpRequest, HttpResponse};
use anyhow::Context;
use metrics_exporter_prometheus::PrometheusHandle;
use peregrine_outputs::endpoint::{self, Identity, Rejections};
use rustls::ServerConfig;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

/// The counter of rejected requests and connections, by reason (`bad_path`,
/// `tls_handshake`, `malformed_http`, and `slow_request` when the HTTP layer reports one).
pub const REJECTED_METRIC: &str = "peregrine_webserver_rejected_total";

#[derive(Clone, Debug)]
pub struct WebSettings {
    pub listen_address: IpAddr,
    pub listen_port: u16,
    pub healthz_endpoint: String,
    /// Serve `/metrics` (Falco: `webserver.prometheus_metrics_enabled` and `metrics.enabled`).
    pub metrics: bool,
    pub threads: usize,
    /// HTTPS only, with these settings (see [`tls_settings`]).
    pub tls: Option<ServerConfig>,
}

/// The HTTPS settings of `webserver.ssl_certificate`: one PEM file with the certificate chain
/// and its private key, as Falco reads it. An unusable file is an error that names it and
/// says what is wrong.
pub fn tls_settings(pem: &Path) -> anyhow::Result<ServerConfig> {
    endpoint::server_config(Identity::Bundle(pem), None)
        .context("webserver.ssl_enabled is true but webserver.ssl_certificate is unusable")
}

async fn metrics(handle: web::Data<Option<PrometheusHandle>>) -> HttpResponse {
    match handle.get_ref() {
        Some(h) => {
            crate::telemetry::falco::refresh_before_read();
            HttpResponse::Ok()
                .content_type("text/plain; version=0.0.4")
                .body(h.render())
        }
        None => HttpResponse::NotFound()
            .body("metrics are disabled (metrics.enabled, webserver.prometheus_metrics_enabled)\n"),
    }
}

async fn healthz(health: web::Data<Arc<Health>>) -> HttpResponse {
    match health.check() {
        Ok(()) => HttpResponse::Ok()
            .content_type("application/json")
            .body("{\"status\": \"ok\"}"),
        Err(reason) => HttpResponse::ServiceUnavailable()
            .json(serde_json::json!({"status": "not ready", "reason": reason})),
    }
}

/// Falco's `/versions` keys; the driver and plugin ones describe Peregrine's own probe
/// (no plugins: Peregrine provides the container fields itself).
async fn versions() -> HttpResponse {
    use peregrine_rules::loader::{version_string, CONTAINER_PLUGIN_VERSION, ENGINE_VERSION};
    let version = env!("CARGO_PKG_VERSION");
    let body = serde_json::json!({
        "falco_version": version,
        "libs_version": version,
        "plugin_api_version": "",
        "driver_api_version": "",
        "driver_schema_version": "",
        "default_driver_version": format!("{version}+peregrine"),
        "engine_version": ENGINE_VERSION.1.to_string(),
        "engine_version_semver": version_string(ENGINE_VERSION),
        "plugin_versions": { "container": version_string(CONTAINER_PLUGIN_VERSION) },
        "peregrine_version": version,
    });
    HttpResponse::Ok().json(body)
}

async fn bad_path(req: HttpRequest, rejections: web::Data<Arc<Rejections>>) -> HttpResponse {
    rejections.reject("bad_path", req.peer_addr(), || {
        let path: String = req.path().chars().take(100).collect();
        format!("{} {path:?}", req.method())
    });
    HttpResponse::NotFound().finish()
}

/// Binds the server's socket: done before the agent drops its capabilities, so a port
/// below 1024 needs none afterwards.
pub fn bind(settings: &WebSettings) -> anyhow::Result<endpoint::Listener> {
    endpoint::bind(
        settings.listen_address,
        settings.listen_port,
        settings.tls.clone(),
    )
    .with_context(|| {
        format!(
            "binding the web server to {}:{}",
            settings.listen_address, settings.listen_port
        )
    })
}

/// Builds the server on a socket from [`bind`] on the current actix system (spawn it to
/// run); returns it with the bound address.
pub fn start(
    settings: &WebSettings,
    listener: endpoint::Listener,
    handle: Option<PrometheusHandle>,
    health: Arc<Health>,
) -> anyhow::Result<(actix_web::dev::Server, SocketAddr)> {
    let health = web::Data::new(health);
    let addr = listener.local_addr()?;
    let handle = web::Data::new(if settings.metrics { handle } else { None });
    let rejections = web::Data::new(Arc::new(Rejections::new(REJECTED_METRIC, "web server")));
    let counted = rejections.get_ref().clone();
    let health_path = settings.healthz_endpoint.clone();
    let server = endpoint::serve(
        "webserver",
        listener,
        settings.threads,
        counted,
        move || {
            App::new()
                .app_data(handle.clone())
                .app_data(rejections.clone())
                .app_data(health.clone())
                .route("/metrics", web::get().to(metrics))
                .route(&health_path, web::get().to(healthz))
                .route("/versions", web::get().to(versions))
                .default_service(web::to(bad_path))
        },
    )
    .context("starting the web server")?;
    Ok((server, addr))
}
