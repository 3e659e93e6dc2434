//! The listeners' TLS settings from files: every unusable file is an error that names it and
//! says what is wrong, for falcosidekick's two files (`tlsserver.certfile`, `keyfile`), Falco's
//! one-file bundle and the client CA of mutual TLS; usable files give settings (with client
//! verification when a CA is given). Certificates are made at test time.

use peregrine_outputs::endpoint::{server_config, Identity, TlsSetupError};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use std::path::{Path, PathBuf};

struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

/// A CA certificate (PEM) and a server certificate with its key, signed by it.
fn material() -> (String, String, String) {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    (ca.pem(), cert.pem(), key.serialize_pem())
}

fn message(r: Result<rustls::ServerConfig, TlsSetupError>) -> String {
    r.map(|_| ()).unwrap_err().to_string()
}

#[track_caller]
fn says(message: &str, path: &Path, what: &str) {
    assert!(
        message.contains(&path.display().to_string()) && message.contains(what),
        "{message:?} should name {} and say {what:?}",
        path.display()
    );
}

#[test]
fn usable_files_give_settings_with_or_without_client_verification() {
    let f = Files {
        dir: tempfile::tempdir().unwrap(),
    };
    let (ca, cert, key) = material();
    let (cert_p, key_p) = (f.write("s.crt", &cert), f.write("s.key", &key));
    let pair = Identity::Pair {
        cert: &cert_p,
        key: &key_p,
    };
    assert!(server_config(pair, None).is_ok());
    let ca_p = f.write("ca.crt", &ca);
    assert!(server_config(pair, Some(&ca_p)).is_ok());
    let bundle = f.write("falco.pem", &format!("{key}{cert}"));
    assert!(server_config(Identity::Bundle(&bundle), None).is_ok());
}

#[test]
fn each_unusable_file_is_named_with_its_problem() {
    let f = Files {
        dir: tempfile::tempdir().unwrap(),
    };
    let (_, cert, key) = material();
    let (_, _, other_key) = material();
    let (cert_p, key_p) = (f.write("s.crt", &cert), f.write("s.key", &key));
    let absent = f.dir.path().join("absent.crt");
    let pair =
        |cert: &Path, key: &Path| server_config(Identity::Pair { cert, key }, None).map(|_| ());

    let m = pair(&absent, &key_p).unwrap_err().to_string();
    says(&m, &absent, "cannot read the certificate file");
    let m = pair(&cert_p, &absent).unwrap_err().to_string();
    says(&m, &absent, "cannot read the key file");
    // The two files swapped.
    let m = pair(&key_p, &cert_p).unwrap_err().to_string();
    says(&m, &key_p, "no PEM certificate");
    let wrong_key = f.write("other.key", &other_key);
    let m = pair(&cert_p, &wrong_key).unwrap_err().to_string();
    says(
        &m,
        &cert_p,
        "the private key does not belong to the certificate",
    );
    let broken = f.write("broken.crt", "-----BEGIN CERTIFICATE-----\n!!!\n");
    let m = pair(&broken, &key_p).unwrap_err().to_string();
    says(&m, &broken, "unreadable PEM");

    let only_key = f.write("only-key.pem", &key);
    let m = message(server_config(Identity::Bundle(&only_key), None));
    says(&m, &only_key, "no PEM certificate");
    let only_cert = f.write("only-cert.pem", &cert);
    let m = message(server_config(Identity::Bundle(&only_cert), None));
    says(&m, &only_cert, "no PEM private key");

    let identity = Identity::Pair {
        cert: &cert_p,
        key: &key_p,
    };
    let m = message(server_config(identity, Some(&absent)));
    says(&m, &absent, "cannot read the client CA file");
    let m = message(server_config(identity, Some(&key_p)));
    says(&m, &key_p, "client CA file");
    assert!(m.contains("no PEM certificate"), "{m}");
}
