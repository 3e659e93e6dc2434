//! The falcosidekick-compatible input: real Falco JSON alerts (Falco's own example output in
//! `shared/testdata/upstream/tests/`) POSTed to `/` are accepted and forwarded to the
//! destinations; malformed bodies get a 400 that says why; `/ping` and `/healthz` answer as
//! falcosidekick's do.

mod common;

use common::*;
use peregrine_outputs::record::{go_rfc3339_nano, parse_rfc3339};
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn falco_alerts() -> Option<Vec<String>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(
        "../../shared/testdata/upstream/tests/falco-2583ea9-test/output_files_single_rule_with_cat_write.json",
    );
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(
            text.lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_string)
                .collect(),
        ),
        Err(e) => {
            let why = format!("{} is not readable ({e})", path.display());
            if std::env::var("PEREGRINE_REQUIRE_PRIVILEGED").as_deref() == Ok("1") {
                panic!("PEREGRINE_REQUIRE_PRIVILEGED=1 but {why}");
            }
            eprintln!("skipping: {why}; the example Falco alerts come from ../shared");
            None
        }
    }
}

async fn wait(limit: Duration, f: impl Fn() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if f() {
            return true;
        }
        actix_rt::time::sleep(Duration::from_millis(10)).await;
    }
    f()
}

/// The destinations of `cfg` behind a running input: the outputs, the server's handle, a
/// client and the input's base URL.
fn start_input(
    cfg: &peregrine_config::Config,
) -> (
    peregrine_outputs::Outputs,
    actix_web::dev::ServerHandle,
    awc::Client,
    String,
) {
    let outputs = peregrine_outputs::from_config(cfg, false).unwrap();
    let (server, addr) = peregrine_outputs::input::start("127.0.0.1", 0, outputs.clone()).unwrap();
    let handle = server.handle();
    actix_rt::spawn(server);
    (
        outputs,
        handle,
        awc::Client::default(),
        format!("http://{addr}"),
    )
}

#[actix_rt::test]
async fn real_falco_alerts_are_accepted_and_forwarded_and_bad_bodies_refused() {
    let Some(lines) = falco_alerts() else { return };
    assert!(lines.len() >= 5, "example alerts found: {}", lines.len());
    let hook = Receiver::start(Mode::Ok);
    let loki = Receiver::start(Mode::Ok);
    let cfg = config(&format!(
        "stdout_output: {{enabled: false}}\noutputs:\n  webhook: {{address: {}}}\n  loki: {{hostport: {}}}\n",
        hook.url("/in"),
        loki.url("")
    ));
    let (outputs, handle, client, base) = start_input(&cfg);

    for line in &lines {
        let resp = client
            .post(format!("{base}/"))
            .insert_header(("Content-Type", "application/json"))
            .send_body(line.clone())
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{line}");
    }
    let n = lines.len();
    assert!(wait(Duration::from_secs(10), || hook.accepted().len() == n).await);
    let forwarded = hook.accepted();
    for (line, req) in lines.iter().zip(&forwarded) {
        let sent: serde_json::Value = serde_json::from_str(line).unwrap();
        let got = req.json();
        for key in [
            "output",
            "priority",
            "rule",
            "source",
            "tags",
            "hostname",
            "output_fields",
        ] {
            assert_eq!(got[key], sent[key], "{key} forwarded unchanged");
        }
        let t = parse_rfc3339(sent["time"].as_str().unwrap()).unwrap();
        assert_eq!(got["time"], go_rfc3339_nano(t));
        assert_eq!(
            got["uuid"].as_str().unwrap().len(),
            36,
            "falcosidekick adds a uuid"
        );
    }
    assert!(
        wait(Duration::from_secs(10), || {
            loki.accepted()
                .iter()
                .map(|r| r.json()["streams"][0]["values"].as_array().unwrap().len())
                .sum::<usize>()
                >= 1
        })
        .await
    );
    let first = loki.accepted()[0].json();
    let sent: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(first["streams"][0]["stream"]["rule"], "open_from_cat");
    assert_eq!(
        first["streams"][0]["stream"]["hostname"],
        "test-falco-hostname"
    );
    assert_eq!(first["streams"][0]["values"][0][1], sent["output"]);

    for (body, reason) in [
        ("{", "not JSON"),
        (
            r#"{"rule":"x","priority":"Warning","time":"2016-08-04T16:17:57Z"}"#,
            "output_fields",
        ),
        (
            r#"{"rule":"x","priority":"Noisy","time":"2016-08-04T16:17:57Z","output_fields":{"a":"b"}}"#,
            "priority",
        ),
        (
            r#"{"priority":"Warning","time":"2016-08-04T16:17:57Z","output_fields":{"a":"b"}}"#,
            "rule",
        ),
        (
            r#"{"rule":"x","priority":"Warning","time":"yesterday","output_fields":{"a":"b"}}"#,
            "RFC 3339",
        ),
    ] {
        let mut resp = client
            .post(format!("{base}/"))
            .send_body(body)
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 400, "{body}");
        let text = String::from_utf8(resp.body().await.unwrap().to_vec()).unwrap();
        assert!(
            text.starts_with("Please send a valid request body") && text.contains(reason),
            "{text:?} lacks {reason:?}"
        );
    }
    let resp = client.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 400, "only POST on /");
    let mut resp = client.get(format!("{base}/ping")).send().await.unwrap();
    assert_eq!(resp.body().await.unwrap(), "pong\n");
    let mut resp = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(
        resp.headers().get("content-type").unwrap(),
        "application/json"
    );
    assert_eq!(resp.body().await.unwrap(), r#"{"status": "ok"}"#);

    handle.stop(true).await;
    let snaps = outputs.join();
    let s = find(&snaps, "webhook");
    assert_eq!(
        (s.received, s.sent),
        (n as u64, n as u64),
        "only valid alerts went on"
    );
    assert_adds_up(s);
}

/// `/test` sends falcosidekick's test event to every destination, even one whose
/// `minimumpriority` is far above Debug; other Debug alerts are still filtered there.
#[actix_rt::test]
async fn the_test_route_reaches_every_destination_whatever_its_minimum() {
    let hook = Receiver::start(Mode::Ok);
    let cfg = config(&format!(
        "stdout_output: {{enabled: false}}\noutputs:\n  webhook: {{address: {}, minimumpriority: critical}}\n",
        hook.url("/in")
    ));
    let (outputs, handle, client, base) = start_input(&cfg);

    let debug = r#"{"rule":"x","priority":"Debug","time":"2016-08-04T16:17:57Z","output_fields":{"a":"b"},"output":"x"}"#;
    let resp = client
        .post(format!("{base}/"))
        .send_body(debug)
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let resp = client.post(format!("{base}/test")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(wait(Duration::from_secs(10), || hook.accepted().len() == 1).await);
    let got = hook.accepted()[0].json();
    assert_eq!(got["rule"], "Test rule");
    assert_eq!(got["priority"], "Debug");
    assert_eq!(got["source"], "internal");
    assert_eq!(got["output"], "This is a test from falcosidekick");
    assert_eq!(got["output_fields"]["proc.name"], "falcosidekick");
    assert_eq!(got["output_fields"]["user.name"], "falcosidekick");
    assert_eq!(got["tags"], serde_json::json!(["test", "example"]));

    handle.stop(true).await;
    let snaps = outputs.join();
    let s = find(&snaps, "webhook");
    assert_eq!((s.received, s.filtered, s.sent), (2, 1, 1), "{s:?}");
    assert_adds_up(s);
}
