//! Fault handling against a local receiver: a destination that is down, slow (past the
//! timeout), answers 500, 429 (with `Retry-After`) or 400, or closes the connection. Alerts
//! are retried with backoff, then dropped by policy; the counters always add up
//! (`received = filtered + deduplicated + sent + dropped + pending`); the other destinations
//! keep receiving everything; and when the receiver comes back, delivery resumes.

mod common;

use common::*;
use peregrine_outputs::{DropReason, Outputs};
use peregrine_rules::Priority;
use serde_json::json;
use std::collections::HashSet;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(20);

/// A webhook destination (one request per alert) with short, test-sized delivery settings,
/// plus a healthy webhook `good` pointing at `good_url`.
fn outputs(url: &str, good_url: &str, extra: &str) -> Outputs {
    let cfg = config(&format!(
        r#"
stdout_output: {{enabled: false}}
outputs:
  timeout: 200ms
  backoff: 10ms
  maxbackoff: 50ms
  draintimeout: 300ms
  webhook:
    address: {url}
{extra}
  loki:
    hostport: {good_url}
"#
    ));
    peregrine_outputs::from_config(&cfg, false).unwrap()
}

fn alerts(from: u64, n: u64) -> Vec<peregrine_rules::Alert> {
    (from..from + n)
        .map(|i| {
            alert(
                "r",
                Priority::Warning,
                1_700_000_000_000_000_000 + i,
                json!({"n": i}),
            )
        })
        .collect()
}

/// The alert numbers (output field `n`) a webhook receiver accepted, in order.
fn numbers(rx: &Receiver) -> Vec<u64> {
    rx.accepted()
        .iter()
        .map(|r| r.json()["output_fields"]["n"].as_u64().unwrap())
        .collect()
}

fn loki_count(rx: &Receiver) -> usize {
    rx.accepted()
        .iter()
        .map(|r| {
            r.json()["streams"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["values"].as_array().unwrap().len())
                .sum::<usize>()
        })
        .sum()
}

fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    f()
}

#[test]
fn a_down_destination_is_retried_then_dropped_by_policy_while_others_get_everything() {
    let good = Receiver::start(Mode::Ok);
    let down = dead_port();
    let o = outputs(
        &format!("http://{down}/"),
        &good.url(""),
        "    buffersize: 30\n    maxretries: 3\n",
    );
    for i in 0..20 {
        o.offer(alerts(i * 10, 10));
    }
    assert!(
        good.wait_for(WAIT, |_| loki_count(&good) == 200),
        "the healthy destination got every alert while the other was down"
    );
    let s = find(&o.snapshot(), "webhook").clone();
    assert_adds_up(&s);
    assert_eq!(s.sent, 0);
    let snaps = o.join();
    let s = find(&snaps, "webhook");
    assert_adds_up(s);
    assert_eq!((s.received, s.sent, s.pending), (200, 0, 0));
    assert_eq!(s.dropped, 200, "{s:?}");
    assert!(s.dropped_for(DropReason::BufferFull) >= 170, "{s:?}");
    assert!(
        s.failed_attempts >= 4,
        "each alert tried 1 + maxretries times: {s:?}"
    );
    let l = find(&snaps, "loki");
    assert_eq!((l.sent, l.dropped), (200, 0));
}

#[test]
fn server_errors_and_429_are_retried_then_dropped_when_out_of_retries() {
    let good = Receiver::start(Mode::Ok);
    for mode in [
        Mode::Status(500, None),
        Mode::Status(503, None),
        Mode::Close,
    ] {
        let rx = Receiver::start(mode.clone());
        let o = outputs(&rx.url("/"), &good.url(""), "    maxretries: 2\n");
        o.offer(alerts(0, 3));
        assert!(wait_until(WAIT, || {
            let s = find(&o.snapshot(), "webhook").clone();
            s.dropped == 3
        }));
        let snaps = o.join();
        let s = find(&snaps, "webhook");
        assert_adds_up(s);
        assert_eq!(
            s.dropped_for(DropReason::RetriesExhausted),
            3,
            "{mode:?}: {s:?}"
        );
        // Each alert was attempted 1 + maxretries times.
        let tries = rx.all();
        assert_eq!(tries.len(), 9, "{mode:?}");
        let uuids: HashSet<String> = tries
            .iter()
            .map(|r| r.json()["uuid"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(uuids.len(), 3, "retries resend the same alerts");
    }

    // 429 with Retry-After: the next attempt waits at least that long.
    let rx = Receiver::start(Mode::Status(429, Some(1)));
    let o = outputs(&rx.url("/"), &good.url(""), "    maxretries: 1\n");
    o.offer(alerts(0, 1));
    assert!(wait_until(WAIT, || rx.all().len() == 2));
    let tries = rx.all();
    let gap = tries[1].at - tries[0].at;
    assert!(
        gap >= Duration::from_millis(950),
        "Retry-After honoured: {gap:?}"
    );
    o.join();

    // 400: refused for good, dropped at once.
    let rx = Receiver::start(Mode::Status(400, None));
    let o = outputs(&rx.url("/"), &good.url(""), "");
    o.offer(alerts(0, 2));
    let snaps = o.join();
    let s = find(&snaps, "webhook");
    assert_eq!(s.dropped_for(DropReason::Rejected), 2, "{s:?}");
    assert_eq!(rx.all().len(), 2, "no retry of a 400");
    assert_adds_up(s);
}

#[test]
fn a_slow_destination_times_out_and_delivery_resumes_when_it_is_fast_again() {
    let good = Receiver::start(Mode::Ok);
    let rx = Receiver::start(Mode::Slow(Duration::from_millis(600)));
    let o = outputs(&rx.url("/"), &good.url(""), "    maxretries: 0\n");
    o.offer(alerts(0, 5));
    assert!(wait_until(WAIT, || find(&o.snapshot(), "webhook")
        .failed_attempts
        >= 3));
    let s = find(&o.snapshot(), "webhook").clone();
    assert_eq!(
        s.sent, 0,
        "an answer after the timeout does not count: {s:?}"
    );
    assert_adds_up(&s);
    rx.set_mode(Mode::Ok);
    assert!(wait_until(WAIT, || find(&o.snapshot(), "webhook").sent == 5));
    let snaps = o.join();
    let s = find(&snaps, "webhook");
    assert_eq!((s.sent, s.dropped), (5, 0));
    assert_adds_up(s);
    // At least once: each alert was answered once without a timeout, in order.
    let mut last = numbers(&rx);
    last.dedup();
    assert!(last.ends_with(&[0, 1, 2, 3, 4]), "{last:?}");
    assert_eq!(loki_count(&good), 5);
}

#[test]
fn delivery_resumes_after_the_receiver_restarts_and_overflow_keeps_the_right_alerts() {
    for (overflow, kept) in [
        ("drop_oldest", (30..50).collect::<Vec<u64>>()),
        ("drop_newest", (0..20).collect::<Vec<u64>>()),
    ] {
        let good = Receiver::start(Mode::Ok);
        let rx = Receiver::start(Mode::Ok);
        let addr = rx.addr;
        let o = outputs(
            &rx.url("/"),
            &good.url(""),
            &format!("    buffersize: 20\n    maxretries: 0\n    overflow: {overflow}\n"),
        );
        o.offer(alerts(1000, 3));
        assert!(rx.wait_for(WAIT, |r| r.len() == 3));
        rx.stop();
        // Down: everything waits in the buffer, retried; the buffer keeps 20 by policy.
        for i in 0..50 {
            o.offer(alerts(i, 1));
        }
        assert!(wait_until(WAIT, || find(&o.snapshot(), "webhook")
            .failed_attempts
            > 3));
        let s = find(&o.snapshot(), "webhook").clone();
        assert_adds_up(&s);
        assert_eq!(s.pending, 20, "{s:?}");
        assert_eq!(s.dropped_for(DropReason::BufferFull), 30);
        let rx = Receiver::bind(addr, Mode::Ok);
        assert!(
            rx.wait_for(WAIT, |r| r.len() == 20),
            "delivery resumed after the restart"
        );
        let snaps = o.join();
        let s = find(&snaps, "webhook");
        assert_adds_up(s);
        assert_eq!((s.received, s.sent, s.dropped, s.pending), (53, 23, 30, 0));
        assert_eq!(numbers(&rx), kept, "{overflow}");
        assert_eq!(loki_count(&good), 53);
    }
}

#[test]
fn shutdown_gives_up_after_the_drain_time_and_counts_it() {
    let good = Receiver::start(Mode::Ok);
    let o = outputs(
        &format!("http://{}/", dead_port()),
        &good.url(""),
        "    maxretries: 0\n",
    );
    o.offer(alerts(0, 7));
    let start = Instant::now();
    let snaps = o.join();
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "join is bounded by the drain time"
    );
    let s = find(&snaps, "webhook");
    assert_eq!(s.dropped_for(DropReason::Shutdown), 7, "{s:?}");
    assert_adds_up(s);
}

#[test]
fn dedup_window_suppresses_identical_alerts_and_counts_them() {
    let rx = Receiver::start(Mode::Ok);
    let good = Receiver::start(Mode::Ok);
    let o = outputs(&rx.url("/"), &good.url(""), "    dedupwindow: 1h\n");
    let same = |t| {
        let mut a = alert("Shell", Priority::Notice, t, json!({"proc.name": "bash"}));
        a.message = "a shell was spawned (user=root)".into();
        a
    };
    // Same rule and message, different times: duplicates. Another message passes.
    let mut batch = vec![same(1), same(2), same(3)];
    let mut other = same(4);
    other.message = "something else".into();
    batch.push(other);
    o.offer(batch);
    let snaps = o.join();
    let s = find(&snaps, "webhook");
    assert_eq!((s.received, s.deduplicated, s.sent), (4, 2, 2), "{s:?}");
    assert_adds_up(s);
    assert_eq!(
        find(&snaps, "loki").sent,
        4,
        "dedup is per destination, opt-in"
    );
}

/// `falco_outputs_total{status="error"}` counts failed alert deliveries, one per alert per
/// failed attempt, whether the destination sends one alert a request (webhook) or batches
/// them (Loki): the same alerts failing the same way count the same on both.
#[test]
fn the_error_count_is_per_alert_attempt_for_batched_and_single_destinations() {
    let rx = Receiver::start(Mode::Status(500, None));
    let cfg = config(&format!(
        r#"
stdout_output: {{enabled: false}}
outputs:
  timeout: 200ms
  backoff: 10ms
  maxbackoff: 50ms
  draintimeout: 2s
  maxretries: 2
  webhook:
    address: {}
  loki:
    hostport: {}
"#,
        rx.url("/hook"),
        rx.url("")
    ));
    let o = peregrine_outputs::from_config(&cfg, false).unwrap();
    o.offer(alerts(0, 4));
    assert!(wait_until(WAIT, || {
        let snaps = o.snapshot();
        find(&snaps, "webhook").dropped == 4 && find(&snaps, "loki").dropped == 4
    }));
    let snaps = o.join();
    let requests = |path: &str| rx.all().iter().filter(|r| r.path.starts_with(path)).count();
    for name in ["webhook", "loki"] {
        let s = find(&snaps, name);
        assert_adds_up(s);
        assert_eq!(s.dropped_for(DropReason::RetriesExhausted), 4, "{s:?}");
        assert_eq!(s.failed_attempts, 12, "4 alerts x 3 attempts: {s:?}");
    }
    assert_eq!(requests("/hook"), 12, "one request per alert attempt");
    assert!(
        requests("/loki") < 12,
        "Loki batches: fewer requests than alert attempts"
    );
}
