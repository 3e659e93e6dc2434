//! A listener serving an actix-web `App`, in clear or over rustls. actix-web's `HttpServer`
//! drops failed TLS handshakes and malformed requests without a trace; here the same HTTP
//! service is put together by hand so that each of those is counted as a rejection (with a
//! rate-limited warning) instead.

use super::reject::Rejections;
use actix_http::body::MessageBody;
use actix_http::error::DispatchError;
use actix_http::{HttpService, Request, Response, TlsAcceptorConfig};
use actix_server::Server;
use actix_service::ServiceFactoryExt;
use actix_service::{apply_fn_factory, map_config, IntoServiceFactory, Service, ServiceFactory};
use actix_tls::accept::TlsError;
use actix_web::dev::AppConfig;
use actix_web::rt::net::TcpStream;
use rustls::ServerConfig;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// How long a client may take over the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(3);

/// One bound socket and what it speaks.
pub struct Listener {
    pub socket: std::net::TcpListener,
    /// Serve HTTPS with these settings; `None` serves plain HTTP.
    pub tls: Option<ServerConfig>,
}

impl Listener {
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.socket.local_addr()
    }
}

/// Binds `address:port` (port 0 picks a free one), as a [`Listener`].
pub fn bind(
    address: std::net::IpAddr,
    port: u16,
    tls: Option<ServerConfig>,
) -> std::io::Result<Listener> {
    Ok(Listener {
        socket: std::net::TcpListener::bind((address, port))?,
        tls,
    })
}

/// Why a connection ended badly, for the rejection counter; `None` for ordinary ends (the
/// client went away, an I/O error on a live connection).
fn classify(e: &DispatchError) -> Option<(&'static str, String)> {
    match e {
        DispatchError::Parse(p) => Some(("malformed_http", p.to_string())),
        DispatchError::SlowRequestTimeout => {
            Some(("slow_request", "no complete request in time".into()))
        }
        _ => None,
    }
}

/// Serves the `App`s `factory` makes on `listener` with `workers` threads (at least one),
/// counting failed handshakes and malformed requests in `rejections`. The server runs once
/// spawned on the current actix system; it does not handle signals.
pub fn serve<F, I, S, B>(
    name: &str,
    listener: Listener,
    workers: usize,
    rejections: Arc<Rejections>,
    factory: F,
) -> std::io::Result<Server>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig> + 'static,
    S::Error: Into<actix_web::Error> + 'static,
    S::InitError: fmt::Debug,
    S::Response: Into<Response<B>> + 'static,
    <S::Service as Service<Request>>::Future: 'static,
    S::Service: 'static,
    B: MessageBody + 'static,
{
    let Listener { socket, tls } = listener;
    let addr = socket.local_addr()?;
    let name = format!("{name}-{addr}");
    let builder = Server::build().workers(workers.max(1)).disable_signals();
    // The same HTTP service for both kinds of listener. The app's view of the connection
    // (`ConnectionInfo`, `url_for`) comes from `AppConfig::default()`: these routes use
    // neither.
    macro_rules! http {
        () => {
            HttpService::build().local_addr(addr).finish(map_config(
                factory()
                    .into_factory()
                    .map_err(|err| err.into().error_response()),
                |_| AppConfig::default(),
            ))
        };
    }
    let builder = match tls {
        None => builder.listen(name, socket, move || {
            let rejections = rejections.clone();
            apply_fn_factory(http!().tcp(), move |io: TcpStream, svc| {
                let peer = io.peer_addr().ok();
                let done = svc.call(io);
                let rejections = rejections.clone();
                async move {
                    if let Err(e) = done.await {
                        if let Some((reason, detail)) = classify(&e) {
                            rejections.reject(reason, peer, || detail);
                        }
                    }
                    Ok::<_, DispatchError>(())
                }
            })
        })?,
        Some(config) => builder.listen(name, socket, move || {
            let rejections = rejections.clone();
            let accept = TlsAcceptorConfig::default().handshake_timeout(HANDSHAKE_TIMEOUT);
            let tls = http!().rustls_0_23_with_config(config.clone(), accept);
            apply_fn_factory(tls, move |io: TcpStream, svc| {
                let peer = io.peer_addr().ok();
                let done = svc.call(io);
                let rejections = rejections.clone();
                async move {
                    match done.await {
                        Ok(()) => {}
                        Err(TlsError::Tls(e)) => {
                            rejections.reject("tls_handshake", peer, || e.to_string())
                        }
                        Err(TlsError::Timeout) => rejections.reject("tls_handshake", peer, || {
                            format!("no handshake within {}s", HANDSHAKE_TIMEOUT.as_secs())
                        }),
                        Err(TlsError::Service(e)) => {
                            if let Some((reason, detail)) = classify(&e) {
                                rejections.reject(reason, peer, || detail);
                            }
                        }
                    }
                    Ok::<_, TlsError<std::io::Error, DispatchError>>(())
                }
            })
        })?,
    };
    Ok(builder.run())
}
