//! Serving the input: routes, the optional bearer token, HTTPS (optionally mutual) on the
//! main port with falcosidekick's `notlspaths` served in clear on `notlsport`, and the cost of
//! junk: every rejected request or connection is one increment of
//! `peregrine_input_rejected_total{reason}` and at most one warning per 10 s.

use super::{parse_alert, test_alert, InputError};
use crate::dispatch::Outputs;
use crate::endpoint::{self, Identity, Rejections, TlsSetupError};
use actix_web::http::header;
use actix_web::{web, App, HttpRequest, HttpResponse};
use peregrine_config::INPUT_PATHS;
use rustls::ServerConfig;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// The counter of rejected requests and connections, by reason: `unauthorized`,
/// `content_type`, `too_large`, `not_json`, `not_alert`, `bad_body`, `bad_method`,
/// `bad_path`, `tls_handshake`, `malformed_http` (and `slow_request` when the HTTP layer
/// reports one).
pub const REJECTED_METRIC: &str = "peregrine_input_rejected_total";

/// falcosidekick accepts bodies of any size; 1 MiB is far above any alert.
const MAX_BODY: usize = 1 << 20;

/// How the input is served.
#[derive(Clone, Debug)]
pub struct InputServer {
    pub address: IpAddr,
    /// 0 picks a free port.
    pub port: u16,
    /// HTTPS on `port` with these settings (falcosidekick's `tlsserver.deploy`).
    pub tls: Option<ServerConfig>,
    /// `tls` requires client certificates (for the startup line).
    pub mutual_tls: bool,
    /// With TLS: these paths are served in clear on this port, and not on `port`
    /// (falcosidekick's `tlsserver.notlsport`, `tlsserver.notlspaths`).
    pub clear: Option<(u16, Vec<String>)>,
    /// `POST /` and `/test` need `Authorization: Bearer <token>` (Peregrine's
    /// `outputs.input.bearertoken`).
    pub bearer_token: Option<String>,
}

impl InputServer {
    /// Plain HTTP, every path, no token.
    pub fn plain(address: IpAddr, port: u16) -> Self {
        InputServer {
            address,
            port,
            tls: None,
            mutual_tls: false,
            clear: None,
            bearer_token: None,
        }
    }

    /// From `outputs:`, reading the TLS files `tlsserver` names.
    pub fn from_config(o: &peregrine_config::Outputs) -> Result<Self, TlsSetupError> {
        let t = &o.tlsserver;
        let tls = if t.deploy {
            let identity = Identity::Pair {
                cert: &t.certfile,
                key: &t.keyfile,
            };
            let ca = t.mutualtls.then_some(t.cacertfile.as_path());
            Some(endpoint::server_config(identity, ca)?)
        } else {
            None
        };
        let clear =
            (t.deploy && !t.notlspaths.is_empty()).then(|| (t.notlsport, t.notlspaths.clone()));
        Ok(InputServer {
            address: o.listenaddress,
            port: o.listenport,
            tls,
            mutual_tls: t.deploy && t.mutualtls,
            clear,
            bearer_token: o.input.bearertoken.clone(),
        })
    }
}

/// The running input: its servers (spawn them on the actix system) and bound addresses.
pub struct Started {
    pub servers: Vec<actix_web::dev::Server>,
    /// The main port (HTTPS when TLS is on).
    pub addr: SocketAddr,
    /// The clear port of `notlspaths`, when there is one.
    pub clear_addr: Option<SocketAddr>,
}

struct State {
    outputs: Outputs,
    token: Option<String>,
    rejections: Arc<Rejections>,
}

impl State {
    fn reject(&self, req: &HttpRequest, reason: &'static str, detail: impl FnOnce() -> String) {
        self.rejections.reject(reason, req.peer_addr(), detail);
    }

    /// `None` when the request may go on, else the 401 to send.
    fn check_token(&self, req: &HttpRequest) -> Option<HttpResponse> {
        let token = self.token.as_deref()?;
        let presented = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim());
        if presented.is_some_and(|t| same(t.as_bytes(), token.as_bytes())) {
            return None;
        }
        let why = if presented.is_some() {
            "wrong bearer token"
        } else {
            "no bearer token"
        };
        self.reject(req, "unauthorized", || why.to_string());
        Some(
            HttpResponse::Unauthorized()
                .insert_header((header::WWW_AUTHENTICATE, "Bearer"))
                .content_type("text/plain; charset=utf-8")
                .body("Please send a valid bearer token\n"),
        )
    }
}

/// Equality in time that depends on the lengths only, so the token cannot be guessed a
/// byte at a time from response times.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

fn count(status: &'static str) {
    metrics::counter!("falcosecurity_falcosidekick_inputs_total", "source" => "requests", "status" => status)
        .increment(1);
}

fn text(mut b: actix_web::HttpResponseBuilder, body: String) -> HttpResponse {
    b.content_type("text/plain; charset=utf-8").body(body)
}

/// A JSON body, or none at all (falcosidekick reads any body as JSON; Falco sends
/// `application/json`).
fn json_or_unset(req: &HttpRequest) -> Result<(), String> {
    let Some(value) = req.headers().get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let essence = value
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence == "application/json" || essence.ends_with("+json") {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(value.as_bytes()).into_owned())
    }
}

async fn post_alert(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<State>,
) -> HttpResponse {
    if let Some(denied) = state.check_token(&req) {
        return denied;
    }
    if let Err(ct) = json_or_unset(&req) {
        state.reject(&req, "content_type", || format!("Content-Type {ct:?}"));
        return text(
            HttpResponse::UnsupportedMediaType(),
            "Please send a JSON body (Content-Type: application/json)\n".into(),
        );
    }
    let too_large = || {
        text(
            HttpResponse::PayloadTooLarge(),
            format!("Please send a body of at most {MAX_BODY} bytes\n"),
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        state.reject(&req, "too_large", || {
            format!("Content-Length {}", declared.unwrap_or(0))
        });
        return too_large();
    }
    let body = match payload.to_bytes_limited(MAX_BODY).await {
        Ok(Ok(body)) => body,
        Ok(Err(e)) => {
            state.reject(&req, "bad_body", || e.to_string());
            return text(
                HttpResponse::BadRequest(),
                format!("Cannot read the body: {e}\n"),
            );
        }
        Err(_) => {
            state.reject(&req, "too_large", || format!("more than {MAX_BODY} bytes"));
            return too_large();
        }
    };
    match parse_alert(&body) {
        Ok(alert) => {
            count("accepted");
            state.outputs.offer(vec![alert]);
            HttpResponse::Ok().finish()
        }
        Err(e) => {
            count("rejected");
            let reason = match e {
                InputError::NotJson(_) => "not_json",
                _ => "not_alert",
            };
            state.reject(&req, reason, || e.to_string());
            text(
                HttpResponse::BadRequest(),
                format!("Please send a valid request body: {e}\n"),
            )
        }
    }
}

/// `/test` (any method): the test event to every destination.
async fn test_event(req: HttpRequest, state: web::Data<State>) -> HttpResponse {
    if let Some(denied) = state.check_token(&req) {
        return denied;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    count("accepted");
    state.outputs.offer(vec![test_alert(now)]);
    HttpResponse::Ok().finish()
}

async fn not_post(req: HttpRequest, state: web::Data<State>) -> HttpResponse {
    state.reject(&req, "bad_method", || format!("{} /", req.method()));
    text(
        HttpResponse::BadRequest(),
        "Please send with post http method\n".into(),
    )
}

async fn bad_method(req: HttpRequest, state: web::Data<State>) -> HttpResponse {
    state.reject(&req, "bad_method", || {
        format!("{} {}", req.method(), req.path())
    });
    HttpResponse::MethodNotAllowed().finish()
}

async fn bad_path(req: HttpRequest, state: web::Data<State>) -> HttpResponse {
    state.reject(&req, "bad_path", || {
        let path: String = req.path().chars().take(100).collect();
        format!("{} {path:?}", req.method())
    });
    HttpResponse::NotFound().finish()
}

async fn ping() -> HttpResponse {
    text(HttpResponse::Ok(), "pong\n".into())
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body("{\"status\": \"ok\"}")
}

/// The routes among `paths` (the input's paths, [`INPUT_PATHS`]).
fn routes(cfg: &mut web::ServiceConfig, paths: &[String]) {
    for path in paths {
        match path.as_str() {
            "/" => {
                cfg.service(
                    web::resource("/")
                        .route(web::post().to(post_alert))
                        .route(web::to(not_post)),
                );
            }
            "/test" => {
                cfg.route("/test", web::to(test_event));
            }
            "/ping" => {
                cfg.service(
                    web::resource("/ping")
                        .route(web::get().to(ping))
                        .default_service(web::to(bad_method)),
                );
            }
            "/healthz" => {
                cfg.service(
                    web::resource("/healthz")
                        .route(web::get().to(healthz))
                        .default_service(web::to(bad_method)),
                );
            }
            _ => {}
        }
    }
}

fn state(outputs: Outputs, token: Option<String>) -> web::Data<State> {
    web::Data::new(State {
        outputs,
        token,
        rejections: Arc::new(Rejections::new(REJECTED_METRIC, "sidekick input")),
    })
}

/// Every route of the input, without a token, for mounting on an actix-web `App`.
pub fn configure(cfg: &mut web::ServiceConfig, outputs: Outputs) {
    let all: Vec<String> = INPUT_PATHS.iter().map(|p| p.to_string()).collect();
    cfg.app_data(state(outputs, None));
    routes(cfg, &all);
    cfg.default_service(web::to(bad_path));
}

/// The input's sockets, bound but not served yet.
pub struct Bound {
    main: endpoint::Listener,
    /// The clear port for `tlsserver.notlspaths`, when it has paths.
    clear: Option<endpoint::Listener>,
}

/// Binds the input's sockets: done before the agent drops its capabilities, so a port
/// below 1024 needs none afterwards.
pub fn bind(settings: &InputServer) -> std::io::Result<Bound> {
    let main = endpoint::bind(settings.address, settings.port, settings.tls.clone())?;
    let clear = match (&settings.tls, &settings.clear) {
        (Some(_), Some((port, paths))) if !paths.is_empty() => {
            Some(endpoint::bind(settings.address, *port, None)?)
        }
        _ => None,
    };
    Ok(Bound { main, clear })
}

/// Binds and builds the input's servers on the current actix system (spawn them to run);
/// returns once bound.
pub fn serve(settings: &InputServer, outputs: Outputs) -> std::io::Result<Started> {
    serve_bound(settings, bind(settings)?, outputs)
}

/// Builds the input's servers on sockets from [`bind`] (spawn them to run).
pub fn serve_bound(
    settings: &InputServer,
    bound: Bound,
    outputs: Outputs,
) -> std::io::Result<Started> {
    let data = state(outputs, settings.bearer_token.clone());
    let rejections = data.rejections.clone();
    let clear_paths = match (&settings.tls, &settings.clear) {
        (Some(_), Some((_, paths))) => paths.clone(),
        _ => Vec::new(),
    };
    let main_paths: Vec<String> = INPUT_PATHS
        .iter()
        .map(|p| p.to_string())
        .filter(|p| !clear_paths.contains(p))
        .collect();
    let app = move |data: web::Data<State>, paths: Vec<String>| {
        move || {
            let paths = paths.clone();
            App::new()
                .app_data(data.clone())
                .configure(move |c| routes(c, &paths))
                .default_service(web::to(bad_path))
        }
    };
    let main = bound.main;
    let addr = main.local_addr()?;
    let mut servers = vec![endpoint::serve(
        "sidekick-input",
        main,
        1,
        rejections.clone(),
        app(data.clone(), main_paths),
    )?];
    let mut clear_addr = None;
    if let Some(clear) = bound.clear.filter(|_| !clear_paths.is_empty()) {
        clear_addr = Some(clear.local_addr()?);
        servers.push(endpoint::serve(
            "sidekick-input-clear",
            clear,
            1,
            rejections,
            app(data, clear_paths),
        )?);
    }
    Ok(Started {
        servers,
        addr,
        clear_addr,
    })
}

/// Plain HTTP with every path and no token on `address:port` (port 0 picks a free one);
/// returns once bound, with the bound address.
pub fn start(
    address: &str,
    port: u16,
    outputs: Outputs,
) -> std::io::Result<(actix_web::dev::Server, SocketAddr)> {
    let ip: IpAddr = address.parse().map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{address:?} is not an IP address"),
        )
    })?;
    let mut started = serve(&InputServer::plain(ip, port), outputs)?;
    let server = started
        .servers
        .pop()
        .ok_or_else(|| std::io::Error::other("the input has no server"))?;
    Ok((server, started.addr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_comparison_needs_every_byte_and_the_length() {
        assert!(same(b"s3cret", b"s3cret"));
        assert!(!same(b"s3cret", b"s3creT"));
        assert!(!same(b"s3cre", b"s3cret"));
        assert!(!same(b"", b"x"));
    }
}
