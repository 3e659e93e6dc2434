//! rustls server settings from PEM files, read once at startup. Every problem is an error
//! naming the file and what is wrong with it: a listener the operator asked to protect must
//! not come up unprotected.

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where the server's certificate chain and private key are.
#[derive(Clone, Copy, Debug)]
pub enum Identity<'a> {
    /// One PEM file holding both (Falco's `webserver.ssl_certificate`).
    Bundle(&'a Path),
    /// Two files (falcosidekick's `tlsserver.certfile`, `tlsserver.keyfile`).
    Pair { cert: &'a Path, key: &'a Path },
}

#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("cannot read the {what} {}: {source}", path.display())]
    Read {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the {what} {} is not usable: {reason}", path.display())]
    Bad {
        what: &'static str,
        path: PathBuf,
        reason: String,
    },
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsSetupError> {
    std::fs::read(path).map_err(|source| TlsSetupError::Read {
        what,
        path: path.to_path_buf(),
        source,
    })
}

fn bad(what: &'static str, path: &Path, reason: impl Into<String>) -> TlsSetupError {
    TlsSetupError::Bad {
        what,
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

fn certs(
    what: &'static str,
    path: &Path,
    pem: &[u8],
) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let certs: Vec<_> = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .map_err(|e| bad(what, path, format!("unreadable PEM: {e}")))?;
    if certs.is_empty() {
        return Err(bad(
            what,
            path,
            "no PEM certificate (BEGIN CERTIFICATE) in it",
        ));
    }
    Ok(certs)
}

fn key(
    what: &'static str,
    path: &Path,
    pem: &[u8],
) -> Result<PrivateKeyDer<'static>, TlsSetupError> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| match e {
        pem::Error::NoItemsFound => bad(
            what,
            path,
            "no PEM private key (BEGIN PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY) in it",
        ),
        e => bad(what, path, format!("unreadable PEM: {e}")),
    })
}

/// Server settings (ring provider, TLS 1.2 and 1.3) for `identity`; with `client_ca`, every
/// client must present a certificate that chains to one of its certificates (mutual TLS).
pub fn server_config(
    identity: Identity<'_>,
    client_ca: Option<&Path>,
) -> Result<ServerConfig, TlsSetupError> {
    let (chain, key, cert_path, what) = match identity {
        Identity::Bundle(path) => {
            const WHAT: &str = "certificate file";
            let pem = read(WHAT, path)?;
            (certs(WHAT, path, &pem)?, key(WHAT, path, &pem)?, path, WHAT)
        }
        Identity::Pair {
            cert,
            key: key_path,
        } => {
            let chain = certs("certificate file", cert, &read("certificate file", cert)?)?;
            let key = key("key file", key_path, &read("key file", key_path)?)?;
            (chain, key, cert, "certificate file")
        }
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(what, cert_path, e.to_string()))?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            const WHAT: &str = "client CA file";
            let mut roots = RootCertStore::empty();
            for c in certs(WHAT, ca, &read(WHAT, ca)?)? {
                roots
                    .add(c)
                    .map_err(|e| bad(WHAT, ca, format!("not a CA certificate: {e}")))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| bad(WHAT, ca, e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    builder.with_single_cert(chain, key).map_err(|e| {
        let reason = match e {
            rustls::Error::InconsistentKeys(_) => {
                "the private key does not belong to the certificate".to_string()
            }
            e => e.to_string(),
        };
        bad(what, cert_path, reason)
    })
}
