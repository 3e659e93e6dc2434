//! The listeners' settings: loopback by default for the web server and the sidekick input,
//! falcosidekick's `outputs.tlsserver`, Peregrine's `outputs.input.bearertoken`, and the
//! errors and warnings around them.

use peregrine_config::*;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

fn load(text: &str) -> Result<Config, String> {
    load_str("p.yaml", text, &[]).map_err(|e| e.to_string())
}

#[test]
fn both_listeners_default_to_loopback() {
    let c = load("").unwrap();
    assert_eq!(c.webserver.listen_address, IpAddr::V4(Ipv4Addr::LOCALHOST));
    assert_eq!(c.outputs.listenaddress, IpAddr::V4(Ipv4Addr::LOCALHOST));
    // The embedded default config says the same.
    let embedded = peregrine_config::load(None, &[]).unwrap();
    assert_eq!(
        embedded.webserver.listen_address,
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    );
    assert_eq!(
        embedded.outputs.listenaddress,
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    );
    // Every address only when written.
    let c =
        load("webserver: {listen_address: 0.0.0.0}\noutputs: {listenaddress: 0.0.0.0}\n").unwrap();
    assert!(c.webserver.listen_address.is_unspecified());
    assert!(c.outputs.listenaddress.is_unspecified());
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

#[test]
fn falcosidekicks_empty_listenaddress_keeps_loopback_and_says_so() {
    let c = load("outputs:\n  listenaddress: \"\"\n").unwrap();
    assert_eq!(c.outputs.listenaddress, IpAddr::V4(Ipv4Addr::LOCALHOST));
    let w: Vec<String> = c.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].contains("outputs.listenaddress") && w[0].contains("0.0.0.0"),
        "{w:?}"
    );
}

#[test]
fn tlsserver_takes_falcosidekicks_keys_and_defaults() {
    let d = load("").unwrap().outputs.tlsserver;
    assert_eq!(d, TlsServer::default());
    assert!(!d.deploy && !d.mutualtls);
    assert_eq!(d.certfile, PathBuf::from("/etc/certs/server/server.crt"));
    assert_eq!(d.keyfile, PathBuf::from("/etc/certs/server/server.key"));
    assert_eq!(d.cacertfile, PathBuf::from("/etc/certs/server/ca.crt"));
    assert_eq!(d.notlsport, 2810);
    assert!(d.notlspaths.is_empty());
    let c = load(
        "outputs:
  listenport: 2801
  tlsserver:
    deploy: true
    certfile: /c/server.crt
    keyfile: /c/server.key
    mutualtls: true
    cacertfile: /c/ca.crt
    notlsport: 2900
    notlspaths: [/ping, /healthz, /metrics]
",
    )
    .unwrap();
    let t = &c.outputs.tlsserver;
    assert!(t.deploy && t.mutualtls);
    assert_eq!(t.certfile, PathBuf::from("/c/server.crt"));
    assert_eq!(t.keyfile, PathBuf::from("/c/server.key"));
    assert_eq!(t.cacertfile, PathBuf::from("/c/ca.crt"));
    assert_eq!(t.notlsport, 2900);
    assert_eq!(t.notlspaths, ["/ping", "/healthz"]);
    // No longer an ignored key; /metrics (falcosidekick serves it on its input) is warned of.
    let w: Vec<String> = c.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].contains("/metrics is served by the webserver"),
        "{w:?}"
    );
    // The env form of the list, via -o.
    let c = load_str(
        "p.yaml",
        "",
        &["outputs.tlsserver.notlspaths=/ping, /healthz".into()],
    )
    .unwrap();
    assert_eq!(c.outputs.tlsserver.notlspaths, ["/ping", "/healthz"]);
}

#[test]
fn tlsserver_mistakes_are_errors() {
    let e = load("outputs:\n  tlsserver:\n    mutualtls: true\n").unwrap_err();
    assert!(
        e.contains("outputs.tlsserver.mutualtls") && e.contains("mutual TLS needs TLS"),
        "{e}"
    );
    let e = load("outputs:\n  tlsserver:\n    deploy: true\n    notlspaths: [/debug/vars]\n")
        .unwrap_err();
    assert!(
        e.contains("outputs.tlsserver.notlspaths") && e.contains("/, /test, /ping, /healthz"),
        "{e}"
    );
    let e = load("outputs:\n  tlsserver:\n    notlsport: 0\n").unwrap_err();
    assert!(e.contains("outputs.tlsserver.notlsport"), "{e}");
    let e = load("outputs:\n  tlsserver:\n    deploi: true\n").unwrap_err();
    assert!(e.contains("outputs.tlsserver.deploi"), "{e}");
}

#[test]
fn the_input_bearer_token_is_peregrines_own_key() {
    assert_eq!(load("").unwrap().outputs.input, InputAuth::default());
    let c = load("outputs:\n  listenport: 2801\n  input:\n    bearertoken: s3cret\n").unwrap();
    assert_eq!(c.outputs.input.bearertoken.as_deref(), Some("s3cret"));
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    // Empty = off.
    let c = load("outputs:\n  input:\n    bearertoken: \"\"\n").unwrap();
    assert_eq!(c.outputs.input.bearertoken, None);
    let e = load("outputs:\n  input:\n    bearertoken: \"two words\"\n").unwrap_err();
    assert!(e.contains("outputs.input.bearertoken"), "{e}");
    // Sent in clear beyond loopback: allowed, with a warning.
    let c = load(
        "outputs:\n  listenaddress: 0.0.0.0\n  listenport: 2801\n  input: {bearertoken: s3cret}\n",
    )
    .unwrap();
    let w: Vec<String> = c.warnings.iter().map(ToString::to_string).collect();
    assert!(
        w.len() == 1 && w[0].contains("outputs.input.bearertoken") && w[0].contains("in clear"),
        "{w:?}"
    );
}
