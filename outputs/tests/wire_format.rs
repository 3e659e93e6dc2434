//! Exact requests each HTTP destination sends, checked by a local receiver: Loki (streams,
//! labels, values; text and JSON lines; batching), Slack (attachment fields, colours, each
//! output format, message format), the webhook (falcosidekick's JSON, method, headers),
//! Falco's http_output (JSON and text), and `minimumpriority` as falcosidekick applies it.
//! falcosidekick's bodies are Go's `json.Encoder` output: `<`, `>` and `&` escaped as
//! `\u003c`, `\u003e`, `\u0026`, and a trailing newline.

mod common;

use common::*;
use peregrine_outputs::dest::slack::color;
use peregrine_rules::Priority;
use serde_json::json;
use std::time::Duration;

const T: u64 = 1_700_000_011_726_060_287;
const WAIT: Duration = Duration::from_secs(10);

fn fields() -> serde_json::Value {
    json!({
        "container.image.tag": null,
        "fd.name": "/etc/shadow",
        "k8s.ns.name": "default",
        "k8s.pod.name": "web-0",
        "proc.cmdline": "cat /etc/shadow > /dev/null && echo <done>",
        "proc.name": "cat",
        "user.uid": 0
    })
}

fn shadow(priority: Priority, t: u64) -> peregrine_rules::Alert {
    alert("Read sensitive file untrusted", priority, t, fields())
}

/// Replaces the (random) uuid of a body so it can be compared byte for byte.
fn without_uuid(body: &str) -> (String, String) {
    let start = body.find("\"uuid\":\"").expect("a uuid") + 8;
    let uuid = body[start..start + 36].to_string();
    (body.replacen(&uuid, "UUID", 1), uuid)
}

#[test]
fn loki_text_and_json_streams_labels_values_and_headers() {
    let text_rx = Receiver::start(Mode::Ok);
    let json_rx = Receiver::start(Mode::Ok);
    let hook_rx = Receiver::start(Mode::Ok);
    // Two Loki destinations cannot share a name: the JSON one is checked through the
    // webhook-less config below, the text one here.
    let cfg = config(&format!(
        r#"
stdout_output: {{enabled: false}}
outputs:
  customfields: {{env: prod}}
  loki:
    hostport: {}
    tenant: team-a
    user: u
    apikey: k
    extralabels: proc.name, user.uid
    customheaders: {{X-Extra: "yes"}}
"#,
        text_rx.url("")
    ));
    let outputs = peregrine_outputs::from_config(&cfg, false).unwrap();
    outputs.offer(vec![
        shadow(Priority::Warning, T),
        alert(
            "Other rule",
            Priority::Notice,
            T + 1,
            json!({"proc.name": "sh"}),
        ),
        shadow(Priority::Warning, T + 2),
    ]);
    assert!(text_rx.wait_for(WAIT, |r| !r.is_empty()));
    let snaps = outputs.join();
    let reqs = text_rx.accepted();
    assert_eq!(reqs.len(), 1, "one push for the batch");
    let r = &reqs[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/loki/api/v1/push");
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("x-scope-orgid"), Some("team-a"));
    assert_eq!(r.header("authorization"), Some("Basic dTpr"));
    assert_eq!(r.header("user-agent"), Some("Falcosidekick"));
    assert_eq!(r.header("x-extra"), Some("yes"));
    let line =
        |t: u64, rule: &str, p: &str| format!("22:13:31.726060287: {p} {rule} happened (n={t})");
    let expected = format!(
        concat!(
            r#"{{"streams":[{{"stream":{{"env":"prod","hostname":"node-1","k8s_ns_name":"default","k8s_pod_name":"web-0","#,
            r#""priority":"Warning","proc_name":"cat","rule":"Read sensitive file untrusted","source":"syscall","tags":"T1555,container"}},"#,
            r#""values":[["{t0}","{l0}"],["{t2}","{l2}"]]}},"#,
            r#"{{"stream":{{"env":"prod","hostname":"node-1","priority":"Notice","proc_name":"sh","rule":"Other rule","source":"syscall","tags":"T1555,container"}},"#,
            r#""values":[["{t1}","{l1}"]]}}]}}"#,
            "\n"
        ),
        t0 = T,
        t1 = T + 1,
        t2 = T + 2,
        l0 = line(T, "Read sensitive file untrusted", "Warning"),
        l1 = line(T + 1, "Other rule", "Notice"),
        l2 = line(T + 2, "Read sensitive file untrusted", "Warning"),
    );
    assert_eq!(r.text(), expected);
    let s = find(&snaps, "loki");
    assert_eq!((s.received, s.sent, s.dropped), (3, 3, 0));
    assert_adds_up(s);

    // format: json — the line is falcosidekick's event; the same alert carries the same
    // uuid to every destination.
    let cfg = config(&format!(
        r#"
stdout_output: {{enabled: false}}
outputs:
  loki: {{hostport: {}, format: json, endpoint: /custom/push}}
  webhook: {{address: {}}}
"#,
        json_rx.url(""),
        hook_rx.url("/hook")
    ));
    let outputs = peregrine_outputs::from_config(&cfg, false).unwrap();
    outputs.offer(vec![shadow(Priority::Warning, T)]);
    assert!(json_rx.wait_for(WAIT, |r| r.len() == 1));
    assert!(hook_rx.wait_for(WAIT, |r| r.len() == 1));
    outputs.join();
    let r = &json_rx.accepted()[0];
    assert_eq!(r.path, "/custom/push");
    assert_eq!(r.header("x-scope-orgid"), None);
    assert_eq!(r.header("authorization"), None);
    let body = r.json();
    let stream = &body["streams"][0];
    assert_eq!(
        stream["stream"],
        json!({"hostname": "node-1", "k8s_ns_name": "default", "k8s_pod_name": "web-0",
               "priority": "Warning", "rule": "Read sensitive file untrusted",
               "source": "syscall", "tags": "T1555,container"})
    );
    assert_eq!(stream["values"][0][0], json!(T.to_string()));
    let line = stream["values"][0][1].as_str().unwrap();
    let (line, uuid) = without_uuid(line);
    let event = concat!(
        r#"{"uuid":"UUID","output":"22:13:31.726060287: Warning Read sensitive file untrusted happened (n=1700000011726060287)","#,
        r#""priority":"Warning","rule":"Read sensitive file untrusted","time":"2023-11-14T22:13:31.726060287Z","#,
        r#""output_fields":{"container.image.tag":null,"fd.name":"/etc/shadow","k8s.ns.name":"default","k8s.pod.name":"web-0","#,
        r#""proc.cmdline":"cat /etc/shadow \u003e /dev/null \u0026\u0026 echo \u003cdone\u003e","proc.name":"cat","user.uid":0},"#,
        r#""source":"syscall","tags":["T1555","container"],"hostname":"node-1"}"#
    );
    assert_eq!(line, event);
    let (hook_body, hook_uuid) = without_uuid(&hook_rx.accepted()[0].text());
    assert_eq!(
        hook_body,
        format!("{event}\n"),
        "the webhook sends the same event, and a newline"
    );
    assert_eq!(uuid, hook_uuid, "one uuid per alert across destinations");
}

#[test]
fn webhook_json_method_and_headers() {
    let rx = Receiver::start(Mode::Ok);
    let cfg = config(&format!(
        r#"
stdout_output: {{enabled: false}}
outputs:
  customfields: {{cluster: prod-eu}}
  webhook:
    address: {}
    method: PUT
    customheaders: {{Authorization: "Bearer abc", X-Team: sec}}
"#,
        rx.url("/alerts?x=1")
    ));
    let outputs = peregrine_outputs::from_config(&cfg, false).unwrap();
    let mut a = alert(
        "Shell in container",
        Priority::Notice,
        1_470_327_477_500_000_000,
        json!({"proc.name": "bash"}),
    );
    a.hostname = "".into();
    a.tags = std::sync::Arc::from(Vec::new());
    outputs.offer(vec![a, shadow(Priority::Critical, T)]);
    assert!(rx.wait_for(WAIT, |r| r.len() == 2));
    outputs.join();
    let reqs = rx.accepted();
    let r = &reqs[0];
    assert_eq!((r.method.as_str(), r.path.as_str()), ("PUT", "/alerts?x=1"));
    assert_eq!(
        r.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(r.header("user-agent"), Some("Falcosidekick"));
    assert_eq!(r.header("authorization"), Some("Bearer abc"));
    assert_eq!(r.header("x-team"), Some("sec"));
    // Empty tags and hostname are omitted; Go trims the fraction's trailing zeros; custom
    // fields join the output fields.
    let (body, _) = without_uuid(&r.text());
    assert_eq!(
        body,
        concat!(
            r#"{"uuid":"UUID","output":"22:13:31.726060287: Notice Shell in container happened (n=1470327477500000000)","#,
            r#""priority":"Notice","rule":"Shell in container","time":"2016-08-04T16:17:57.5Z","#,
            r#""output_fields":{"cluster":"prod-eu","proc.name":"bash"},"source":"syscall"}"#,
            "\n"
        )
    );
    assert_eq!(reqs[1].json()["priority"], "Critical");
}

fn slack_config(url: &str, extra: &str) -> peregrine_config::Config {
    config(&format!(
        r#"
stdout_output: {{enabled: false}}
outputs:
  customfields: {{env: prod}}
  slack:
    webhookurl: {url}
{extra}
"#
    ))
}

#[test]
fn slack_attachments_for_each_output_format() {
    let rx = Receiver::start(Mode::Ok);
    let cfg = slack_config(
        &rx.url("/services/T0/B0/x"),
        "    channel: \"#alerts\"\n    messageformat: 'Alert: *{{ .Rule }}* ({{ .Priority }}) by {{ index .OutputFields \"proc.name\" }} {{ index .OutputFields \"nope\" }}'\n",
    );
    let outputs = peregrine_outputs::from_config(&cfg, false).unwrap();
    outputs.offer(vec![shadow(Priority::Warning, T)]);
    assert!(rx.wait_for(WAIT, |r| r.len() == 1));
    outputs.join();
    let r = &rx.accepted()[0];
    assert_eq!(r.path, "/services/T0/B0/x");
    assert_eq!(
        r.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    let out = "22:13:31.726060287: Warning Read sensitive file untrusted happened (n=1700000011726060287)";
    let expected = format!(
        concat!(
            r#"{{"text":"Alert: *Read sensitive file untrusted* (Warning) by cat \u003cno value\u003e","username":"Falcosidekick","#,
            r#""icon_url":"https://raw.githubusercontent.com/falcosecurity/falcosidekick/master/imgs/falcosidekick_color.png","#,
            r##""channel":"#alerts","attachments":[{{"fallback":"{out}","color":"#ffc700","text":"{out}","fields":["##,
            r#"{{"title":"rule","value":"Read sensitive file untrusted","short":true}},"#,
            r#"{{"title":"priority","value":"Warning","short":true}},"#,
            r#"{{"title":"source","value":"syscall","short":true}},"#,
            r#"{{"title":"hostname","value":"node-1","short":true}},"#,
            r#"{{"title":"tags","value":"T1555, container","short":true}},"#,
            r#"{{"title":"env","value":"prod","short":true}},"#,
            r#"{{"title":"fd.name","value":"/etc/shadow","short":true}},"#,
            r#"{{"title":"k8s.ns.name","value":"default","short":true}},"#,
            r#"{{"title":"k8s.pod.name","value":"web-0","short":true}},"#,
            r#"{{"title":"proc.cmdline","value":"cat /etc/shadow \u003e /dev/null \u0026\u0026 echo \u003cdone\u003e","short":false}},"#,
            r#"{{"title":"proc.name","value":"cat","short":true}},"#,
            r#"{{"title":"time","value":"2023-11-14 22:13:31.726060287 +0000 UTC","short":false}}],"#,
            r#""footer":"https://github.com/falcosecurity/falcosidekick"}}]}}"#,
            "\n"
        ),
        out = out
    );
    assert_eq!(r.text(), expected);

    // text: the output only, no fields (null, as Go marshals a nil slice), no footer.
    let rx = Receiver::start(Mode::Ok);
    let cfg = slack_config(
        &rx.url("/t"),
        "    outputformat: text\n    username: Peregrine\n    icon: https://x.invalid/i.png\n",
    );
    let outputs = peregrine_outputs::from_config(&cfg, false).unwrap();
    outputs.offer(vec![shadow(Priority::Critical, T)]);
    assert!(rx.wait_for(WAIT, |r| r.len() == 1));
    outputs.join();
    assert_eq!(
        rx.accepted()[0].text(),
        format!(
            concat!(
                r##"{{"username":"Peregrine","icon_url":"https://x.invalid/i.png","attachments":[{{"fallback":"{o}","color":"#ff5400","text":"{o}","fields":null}}]}}"##,
                "\n"
            ),
            o = out.replace("Warning", "Critical")
        )
    );

    // fields: no attachment text.
    let rx = Receiver::start(Mode::Ok);
    let cfg = slack_config(
        &rx.url("/f"),
        "    outputformat: fields\n    footer: my footer\n",
    );
    let outputs = peregrine_outputs::from_config(&cfg, false).unwrap();
    outputs.offer(vec![shadow(Priority::Debug, T)]);
    assert!(rx.wait_for(WAIT, |r| r.len() == 1));
    outputs.join();
    let body = rx.accepted()[0].json();
    let att = &body["attachments"][0];
    assert!(att.get("text").is_none());
    assert_eq!(att["color"], "#ccfff2");
    assert_eq!(att["footer"], "my footer");
    assert_eq!(att["fields"].as_array().unwrap().len(), 12);
    assert!(body.get("channel").is_none() && body.get("text").is_none());
}

#[test]
fn slack_colours_follow_falcosidekick() {
    let expected = [
        (Priority::Emergency, "#e20b0b"),
        (Priority::Alert, "#ff5400"),
        (Priority::Critical, "#ff5400"),
        (Priority::Error, "#e20b0b"),
        (Priority::Warning, "#ffc700"),
        (Priority::Notice, "#5bffb5"),
        (Priority::Informational, "#68c2ff"),
        (Priority::Debug, "#ccfff2"),
    ];
    // Over the wire, one alert per priority.
    let rx = Receiver::start(Mode::Ok);
    let outputs = peregrine_outputs::from_config(&slack_config(&rx.url("/"), ""), false).unwrap();
    outputs.offer(
        expected
            .iter()
            .enumerate()
            .map(|(i, (p, _))| shadow(*p, T + i as u64))
            .collect(),
    );
    assert!(rx.wait_for(WAIT, |r| r.len() == 8));
    outputs.join();
    let reqs = rx.accepted();
    for (i, (p, c)) in expected.iter().enumerate() {
        assert_eq!(color(*p), *c);
        let body = reqs[i].json();
        assert_eq!(body["attachments"][0]["color"], *c, "{p:?}");
        assert_eq!(body["attachments"][0]["fields"][1]["value"], p.as_str());
    }
}

#[test]
fn http_output_posts_falcos_json_or_text_line() {
    for (json_output, content_type) in [(true, "application/json"), (false, "text/plain")] {
        let rx = Receiver::start(Mode::Ok);
        let cfg = config(&format!(
            "stdout_output: {{enabled: false}}\njson_output: {json_output}\nhttp_output: {{enabled: true, url: {}}}\n",
            rx.url("/falco")
        ));
        let outputs = peregrine_outputs::from_config(&cfg, false).unwrap();
        let a = shadow(Priority::Error, T);
        outputs.offer(vec![a.clone(), shadow(Priority::Error, T + 1)]);
        assert!(rx.wait_for(WAIT, |r| r.len() == 2));
        outputs.join();
        let reqs = rx.accepted();
        let r = &reqs[0];
        assert_eq!(r.method, "POST");
        assert_eq!(r.header("content-type"), Some(content_type));
        assert_eq!(r.header("user-agent"), Some("falcosecurity/falco"));
        let expected = if json_output {
            a.to_json_line(&peregrine_rules::JsonOptions::default())
        } else {
            a.to_text_line()
        };
        assert_eq!(r.text(), expected, "one alert per request, no newline");
        assert!(!reqs[1].text().contains(&T.to_string()) || reqs[1].text() != r.text());
    }
}

#[test]
fn minimumpriority_filters_as_falcosidekick_does() {
    let slack = Receiver::start(Mode::Ok);
    let loki = Receiver::start(Mode::Ok);
    let hook = Receiver::start(Mode::Ok);
    let cfg = config(&format!(
        r#"
stdout_output: {{enabled: false}}
outputs:
  slack: {{webhookurl: {}, minimumpriority: WARNING}}
  loki: {{hostport: {}, minimumpriority: ""}}
  webhook: {{address: {}, minimumpriority: info}}
"#,
        slack.url("/"),
        loki.url(""),
        hook.url("/")
    ));
    assert!(
        cfg.warnings
            .iter()
            .any(|w| w.path == "outputs.webhook.minimumpriority"),
        "info is read as everything, with a warning: {:?}",
        cfg.warnings
    );
    let outputs = peregrine_outputs::from_config(&cfg, false).unwrap();
    outputs.offer(
        Priority::ALL
            .iter()
            .enumerate()
            .map(|(i, p)| shadow(*p, T + i as u64))
            .collect(),
    );
    assert!(slack.wait_for(WAIT, |r| r.len() == 5));
    assert!(hook.wait_for(WAIT, |r| r.len() == 8));
    assert!(loki.wait_for(WAIT, |r| {
        r.iter()
            .map(|q| q.json()["streams"].as_array().unwrap().len())
            .sum::<usize>()
            == 8
    }));
    let snaps = outputs.join();
    let got: Vec<String> = slack
        .accepted()
        .iter()
        .map(|r| {
            r.json()["attachments"][0]["fields"][1]["value"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(got, ["Emergency", "Alert", "Critical", "Error", "Warning"]);
    let s = find(&snaps, "slack");
    assert_eq!((s.received, s.filtered, s.sent), (8, 3, 5));
    assert_adds_up(s);
    assert_eq!(find(&snaps, "loki").filtered, 0);
    assert_eq!(find(&snaps, "webhook").sent, 8);
}

#[test]
fn bad_outputs_settings_are_positioned_errors() {
    for (text, parts) in [
        (
            "outputs:\n  loki:\n    hostport: loki:3100\n",
            vec!["outputs.loki.hostport", "http:// or https:// URL", "t.yaml:3:15"],
        ),
        (
            "outputs:\n  slack:\n    webhookurl: http://x\n    minimumpriority: loud\n",
            vec!["outputs.slack.minimumpriority", "\"loud\"", "t.yaml:4:22"],
        ),
        (
            "outputs:\n  webhook:\n    address: http://x\n    overflow: drop_all\n",
            vec!["outputs.webhook.overflow", "drop_oldest, drop_newest"],
        ),
        (
            "outputs:\n  elasticsearch:\n    hostport: http://x\n",
            vec!["outputs.elasticsearch: unknown key", "loki", "t.yaml:2:3"],
        ),
        (
            "outputs:\n  slack:\n    webhookurl: http://x\n    messageformat: '{{ printf .Rule }}'\n",
            vec!["outputs.slack.messageformat", "unsupported action"],
        ),
        (
            "outputs:\n  timeout: 0s\n",
            vec!["outputs.timeout", "at least 1ms"],
        ),
    ] {
        let e = peregrine_config::load_str("t.yaml", text, &[])
            .unwrap_err()
            .to_string();
        for p in parts {
            assert!(e.contains(p), "{e:?} lacks {p:?}");
        }
    }
}
