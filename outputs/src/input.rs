//! The falcosidekick-compatible HTTP input, so a real Falco (its `http_output`) can send
//! to Peregrine while users migrate: `POST /` with Falco's JSON alert, `/test` (sends
//! falcosidekick's test event to every destination), `GET /ping` → `pong`, `GET /healthz` → `{"status": "ok"}`. Accepted alerts go to the same
//! destinations as the agent's own. A body falcosidekick would refuse gets a 400 that says
//! why.

use crate::dispatch::Outputs;
use crate::record::parse_rfc3339;
use actix_web::{web, App, HttpResponse, HttpServer};
use peregrine_rules::{Alert, Priority};
use serde_json::Value as Json;
use std::sync::Arc;

/// Why a body is not a Falco alert falcosidekick would take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("the body is not JSON: {0}")]
    NotJson(String),
    #[error("the body is not a JSON object")]
    NotObject,
    #[error("`{key}` must be {expected}")]
    Type {
        key: &'static str,
        expected: &'static str,
    },
    #[error("`rule` is missing or empty")]
    NoRule,
    #[error("`priority` {0:?} is not a Falco priority")]
    BadPriority(String),
    #[error("`time` is missing or zero")]
    NoTime,
    #[error("`time` {0:?} is not an RFC 3339 time")]
    BadTime(String),
    #[error("`output_fields` is missing or empty")]
    NoOutputFields,
}

fn string_of<'a>(
    o: &'a serde_json::Map<String, Json>,
    key: &'static str,
) -> Result<&'a str, InputError> {
    match o.get(key) {
        None | Some(Json::Null) => Ok(""),
        Some(Json::String(s)) => Ok(s),
        Some(_) => Err(InputError::Type {
            key,
            expected: "a string",
        }),
    }
}

/// Reads Falco's JSON alert with falcosidekick's checks: a known priority, a rule, a time,
/// non-empty `output_fields`; `source` defaults to `syscalls` as in falcosidekick.
pub fn parse_alert(body: &[u8]) -> Result<Alert, InputError> {
    let v: Json = serde_json::from_slice(body).map_err(|e| InputError::NotJson(e.to_string()))?;
    let Json::Object(o) = v else {
        return Err(InputError::NotObject);
    };
    let rule = string_of(&o, "rule")?;
    if rule.is_empty() {
        return Err(InputError::NoRule);
    }
    let priority_text = string_of(&o, "priority")?;
    let priority: Priority = priority_text
        .parse()
        .map_err(|_| InputError::BadPriority(priority_text.to_string()))?;
    let time_text = string_of(&o, "time")?;
    if time_text.is_empty() {
        return Err(InputError::NoTime);
    }
    let time_ns = parse_rfc3339(time_text).ok_or_else(|| InputError::BadTime(time_text.into()))?;
    if time_ns == 0 {
        return Err(InputError::NoTime);
    }
    let output_fields = match o.get("output_fields") {
        Some(Json::Object(m)) if !m.is_empty() => m.clone(),
        Some(Json::Object(_)) | None | Some(Json::Null) => return Err(InputError::NoOutputFields),
        Some(_) => {
            return Err(InputError::Type {
                key: "output_fields",
                expected: "an object",
            })
        }
    };
    let tags: Vec<String> = match o.get("tags") {
        None | Some(Json::Null) => Vec::new(),
        Some(Json::Array(items)) => items
            .iter()
            .map(|t| {
                t.as_str().map(str::to_string).ok_or(InputError::Type {
                    key: "tags",
                    expected: "a list of strings",
                })
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(InputError::Type {
                key: "tags",
                expected: "a list of strings",
            })
        }
    };
    let source = match string_of(&o, "source")? {
        "" => "syscalls",
        s => s,
    };
    let output = string_of(&o, "output")?.to_string();
    let message = match o.get("message").and_then(Json::as_str) {
        Some(m) => m.to_string(),
        None => strip_prefix(&output, priority).to_string(),
    };
    Ok(Alert {
        time_ns,
        rule: Arc::from(rule),
        priority,
        source: Arc::from(source),
        tags: Arc::from(tags),
        hostname: Arc::from(string_of(&o, "hostname")?),
        message,
        output,
        output_fields,
    })
}

/// The rule output without Falco's `<time>: <Priority> ` prefix.
fn strip_prefix(output: &str, p: Priority) -> &str {
    let marker = format!(": {} ", p.as_str());
    match output.find(&marker) {
        Some(i) if !output[..i].contains(' ') => &output[i + marker.len()..],
        _ => output,
    }
}

fn count(status: &'static str) {
    metrics::counter!("falcosecurity_falcosidekick_inputs_total", "source" => "requests", "status" => status)
        .increment(1);
}

async fn post_alert(outputs: web::Data<Outputs>, body: web::Bytes) -> HttpResponse {
    match parse_alert(&body) {
        Ok(alert) => {
            count("accepted");
            outputs.offer(vec![alert]);
            HttpResponse::Ok().finish()
        }
        Err(e) => {
            count("rejected");
            tracing::debug!("sidekick input rejected a body: {e}");
            HttpResponse::BadRequest()
                .content_type("text/plain; charset=utf-8")
                .body(format!("Please send a valid request body: {e}\n"))
        }
    }
}

/// The rule name of falcosidekick's test event; outputs take it whatever their
/// `minimumpriority`.
pub const TEST_RULE: &str = "Test rule";

/// falcosidekick's test event, as its `/test` route makes it.
pub fn test_alert(time_ns: u64) -> Alert {
    let mut output_fields = serde_json::Map::new();
    output_fields.insert("proc.name".into(), "falcosidekick".into());
    output_fields.insert("user.name".into(), "falcosidekick".into());
    Alert {
        time_ns,
        rule: Arc::from(TEST_RULE),
        priority: Priority::Debug,
        source: Arc::from("internal"),
        tags: Arc::from(vec!["test".to_string(), "example".to_string()]),
        hostname: Arc::from("falcosidekick"),
        message: "This is a test from falcosidekick".into(),
        output: "This is a test from falcosidekick".into(),
        output_fields,
    }
}

/// `/test` (any method): the test event to every destination.
async fn test_event(outputs: web::Data<Outputs>) -> HttpResponse {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    count("accepted");
    outputs.offer(vec![test_alert(now)]);
    HttpResponse::Ok().finish()
}

async fn not_post() -> HttpResponse {
    HttpResponse::BadRequest()
        .content_type("text/plain; charset=utf-8")
        .body("Please send with post http method\n")
}

async fn ping() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("pong\n")
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body("{\"status\": \"ok\"}")
}

/// The input's routes, for mounting on an actix-web `App`.
pub fn configure(cfg: &mut web::ServiceConfig, outputs: Outputs) {
    cfg.app_data(web::Data::new(outputs))
        // falcosidekick accepts bodies of any size; 1 MiB is far above any alert.
        .app_data(web::PayloadConfig::new(1 << 20))
        .route("/", web::post().to(post_alert))
        .route("/", web::to(not_post))
        .route("/test", web::to(test_event))
        .route("/ping", web::get().to(ping))
        .route("/healthz", web::get().to(healthz));
}

/// Starts the input on the current actix system; returns once bound, with the address it
/// is bound to (port 0 picks a free one).
pub fn start(
    address: &str,
    port: u16,
    outputs: Outputs,
) -> std::io::Result<(actix_web::dev::Server, std::net::SocketAddr)> {
    start_on(std::net::TcpListener::bind((address, port))?, outputs)
}

/// Starts the input on a listener bound earlier (before the agent dropped the capability
/// to bind a port below 1024, say), with the address it is bound to.
pub fn start_on(
    listener: std::net::TcpListener,
    outputs: Outputs,
) -> std::io::Result<(actix_web::dev::Server, std::net::SocketAddr)> {
    let bound = listener.local_addr()?;
    let server = HttpServer::new(move || {
        let outputs = outputs.clone();
        App::new().configure(move |c| configure(c, outputs))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?;
    Ok((server.run(), bound))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_falcos_alert_and_says_why_it_refuses_one() {
        let ok = br#"{"hostname":"h","output":"16:17:57.881781397: Warning An open was seen (command=cat /dev/null)","priority":"Warning","rule":"open_from_cat","source":"syscall","tags":["a","b"],"time":"2016-08-04T16:17:57.881781397Z","output_fields":{"proc.cmdline":"cat /dev/null"}}"#;
        let a = parse_alert(ok).unwrap();
        assert_eq!(a.time_ns, 1_470_327_477_881_781_397);
        assert_eq!(a.priority, Priority::Warning);
        assert_eq!(a.message, "An open was seen (command=cat /dev/null)");
        assert_eq!(&*a.tags, ["a", "b"]);
        let cases: [(&[u8], &str); 6] = [
            (b"{", "not JSON"),
            (b"[]", "not a JSON object"),
            (br#"{"priority":"Warning","time":"2016-08-04T16:17:57Z","output_fields":{"a":1}}"#, "`rule`"),
            (br#"{"rule":"r","priority":"Loud","time":"2016-08-04T16:17:57Z","output_fields":{"a":1}}"#, "\"Loud\""),
            (br#"{"rule":"r","priority":"Debug","output_fields":{"a":1}}"#, "`time` is missing"),
            (br#"{"rule":"r","priority":"Debug","time":"2016-08-04T16:17:57Z","output_fields":{}}"#, "`output_fields`"),
        ];
        for (body, reason) in cases {
            let e = parse_alert(body).unwrap_err().to_string();
            assert!(e.contains(reason), "{e} lacks {reason}");
        }
        let no_source = br#"{"rule":"r","priority":"debug","time":"2016-08-04T16:17:57Z","output_fields":{"a":1}}"#;
        assert_eq!(&*parse_alert(no_source).unwrap().source, "syscalls");
    }
}
