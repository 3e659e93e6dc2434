//! The HTTP client the HTTP destinations share: awc (actix's client) on the destination's
//! own runtime, rustls with the ring provider, webpki roots plus any configured CA, optional
//! client certificate (mutual TLS), optional no-verification (`checkcert: false`,
//! `http_output.insecure`). Status codes decide what happens to a request's alerts.

use crate::error::OutputError;
use crate::worker::DeliveryError;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Where trust and identity come from.
#[derive(Clone, Debug, Default)]
pub struct TlsFiles {
    /// Skip server certificate verification.
    pub insecure: bool,
    /// PEM files of CAs trusted besides the built-in roots.
    pub ca_files: Vec<PathBuf>,
    /// A folder of PEM CA files (`*.pem`, `*.crt`) trusted too; a missing folder is ignored.
    pub ca_dir: Option<PathBuf>,
    /// Client certificate chain and key (PEM), for mutual TLS.
    pub client: Option<(PathBuf, PathBuf)>,
}

fn read(dest: &str, what: &'static str, path: &Path) -> Result<Vec<u8>, OutputError> {
    std::fs::read(path).map_err(|source| OutputError::ReadFile {
        destination: dest.to_string(),
        what,
        path: path.to_path_buf(),
        source,
    })
}

fn certs(
    dest: &str,
    what: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, OutputError> {
    let pem = read(dest, what, path)?;
    let bad = |reason: String| OutputError::BadFile {
        destination: dest.to_string(),
        what,
        path: path.to_path_buf(),
        reason,
    };
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|e| bad(format!("not PEM certificates: {e}")))?;
    if certs.is_empty() {
        return Err(bad("no certificate in it".into()));
    }
    Ok(certs)
}

/// The rustls configuration of one destination.
pub fn rustls_config(dest: &str, files: &TlsFiles) -> Result<Arc<ClientConfig>, OutputError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| OutputError::Invalid {
            destination: dest.to_string(),
            reason: format!("TLS setup: {e}"),
        })?;
    let builder = if files.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
    } else {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        for f in &files.ca_files {
            for c in certs(dest, "CA certificate", f)? {
                roots.add(c).map_err(|e| OutputError::BadFile {
                    destination: dest.to_string(),
                    what: "CA certificate",
                    path: f.clone(),
                    reason: e.to_string(),
                })?;
            }
        }
        if let Some(dir) = &files.ca_dir {
            if let Ok(entries) = std::fs::read_dir(dir) {
                for e in entries.flatten() {
                    let p = e.path();
                    let is_pem = p.extension().is_some_and(|x| x == "pem" || x == "crt");
                    if is_pem {
                        if let Ok(cs) = certs(dest, "CA certificate", &p) {
                            for c in cs {
                                let _ = roots.add(c);
                            }
                        }
                    }
                }
            }
        }
        builder.with_root_certificates(roots)
    };
    let config = match &files.client {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let chain = certs(dest, "client certificate", cert)?;
            let key_pem = read(dest, "client key", key)?;
            let key_der =
                PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| OutputError::BadFile {
                    destination: dest.to_string(),
                    what: "client key",
                    path: key.clone(),
                    reason: format!("no PEM private key: {e}"),
                })?;
            builder
                .with_client_auth_cert(chain, key_der)
                .map_err(|e| OutputError::BadFile {
                    destination: dest.to_string(),
                    what: "client certificate",
                    path: cert.clone(),
                    reason: e.to_string(),
                })?
        }
    };
    Ok(Arc::new(config))
}

/// An awc client for one destination: no default headers (each destination sets exactly
/// what its receiver expects), no redirects, the destination's timeout.
pub fn client(timeout: Duration, tls: Arc<ClientConfig>) -> awc::Client {
    awc::Client::builder()
        .no_default_headers()
        .disable_redirects()
        .timeout(timeout)
        .connector(awc::Connector::new().timeout(timeout).rustls_0_23(tls))
        .finish()
}

/// Sends one request and classifies the answer: 2xx delivered; 408, 429 and 5xx retried
/// (honouring `Retry-After` in seconds); other statuses rejected; transport errors retried.
pub async fn send(req: awc::ClientRequest, body: Vec<u8>) -> Result<Vec<u8>, DeliveryError> {
    let mut resp = req
        .send_body(body)
        .await
        .map_err(|e| DeliveryError::retry(format!("request failed: {e}")))?;
    let status = resp.status();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let body = resp
        .body()
        .limit(64 * 1024)
        .await
        .map(|b| b.to_vec())
        .unwrap_or_default();
    if status.is_success() {
        return Ok(body);
    }
    let text = String::from_utf8_lossy(&body[..body.len().min(200)])
        .trim()
        .to_string();
    let message = format!("HTTP {status}: {text}");
    let code = status.as_u16();
    if code == 408 || code == 429 || status.is_server_error() {
        Err(DeliveryError {
            message,
            retryable: true,
            retry_after,
        })
    } else {
        Err(DeliveryError::reject(message))
    }
}

/// `checkcert: false` / `insecure: true`: accept any server certificate (signatures are
/// still checked, so the handshake itself is sound).
#[derive(Debug)]
struct NoVerification(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
