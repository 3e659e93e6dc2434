//! The HTTP server: Prometheus `/metrics`, `/healthz`, `/versions` (Falco's webserver).

use actix_web::{web, App, HttpResponse, HttpServer};
use metrics_exporter_prometheus::PrometheusHandle;

#[derive(Clone, Debug)]
pub struct WebSettings {
    pub listen_address: String,
    pub listen_port: u16,
    pub healthz_endpoint: String,
    /// Serve `/metrics` (Falco: `webserver.prometheus_metrics_enabled` and `metrics.enabled`).
    pub metrics: bool,
    pub threads: usize,
}

async fn metrics(handle: web::Data<Option<PrometheusHandle>>) -> HttpResponse {
    match handle.get_ref() {
        Some(h) => HttpResponse::Ok()
            .content_type("text/plain; version=0.0.4")
            .body(h.render()),
        None => HttpResponse::NotFound()
            .body("metrics are disabled (metrics.enabled, webserver.prometheus_metrics_enabled)\n"),
    }
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body("{\"status\": \"ok\"}")
}

async fn versions() -> HttpResponse {
    let body = serde_json::json!({
        "peregrine_version": env!("CARGO_PKG_VERSION"),
        "engine_version_semver": peregrine_rules::loader::version_string(peregrine_rules::loader::ENGINE_VERSION),
    });
    HttpResponse::Ok().json(body)
}

/// Binds the server's port; done before the agent drops its capabilities, so a port below
/// 1024 needs no capability afterwards.
pub fn bind(settings: &WebSettings) -> std::io::Result<std::net::TcpListener> {
    std::net::TcpListener::bind((settings.listen_address.as_str(), settings.listen_port))
}

/// Starts the server on the current actix system, on a listener from [`bind`].
pub fn start(
    settings: &WebSettings,
    listener: std::net::TcpListener,
    handle: Option<PrometheusHandle>,
) -> std::io::Result<actix_web::dev::Server> {
    let handle = web::Data::new(if settings.metrics { handle } else { None });
    let health = settings.healthz_endpoint.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(handle.clone())
            .route("/metrics", web::get().to(metrics))
            .route(&health, web::get().to(healthz))
            .route("/versions", web::get().to(versions))
    })
    .workers(settings.threads.max(1))
    .disable_signals()
    .listen(listener)?
    .run();
    Ok(server)
}
