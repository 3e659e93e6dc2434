//! What the agent's listeners (the sidekick input here, the web server in `peregrine`) share:
//! TLS server settings from PEM files (`tls`), a listener that serves an actix-web `App` in
//! clear or over rustls and counts failed handshakes (`serve`), and the accounting of junk
//! requests — a counter per reason and a rate-limited warning, never a log line per request
//! (`reject`).

mod reject;
mod serve;
mod tls;

pub use peregrine_event::ratelimit::{RateLimit, INTERVAL as LOG_INTERVAL};
pub use reject::Rejections;
pub use serve::{bind, serve, Listener};
pub use tls::{server_config, Identity, TlsSetupError};
