//! The supervisor actor: owns the running pipeline, folds its counters into the metrics
//! registry, reloads rules (SIGHUP, file changes), and shuts down in order.

use crate::pipeline::Pipeline;
use crate::stats::StageSnapshot;
use actix::prelude::*;
use peregrine_rules::Ruleset;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

/// Builds the ruleset anew from the current configuration and rules files.
pub type Reloader = Box<dyn FnMut() -> anyhow::Result<Ruleset> + Send>;

pub struct Supervisor {
    pipeline: Option<Pipeline>,
    reload: Reloader,
    /// Files whose change triggers a reload (`watch_config_files`), with their last mtimes.
    watched: Vec<(PathBuf, Option<SystemTime>)>,
    tick: Duration,
    reloads_ok: u64,
    reloads_failed: u64,
    final_stats: Option<Vec<StageSnapshot>>,
    resources: crate::telemetry::falco::Resources,
    health: std::sync::Arc<crate::health::Health>,
    snapshots: Option<crate::telemetry::snapshot::Snapshots>,
    /// Called once with the final counters when the pipeline has drained.
    on_finish: Option<Box<dyn FnOnce(Vec<StageSnapshot>) + Send>>,
}

fn mtime(p: &PathBuf) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

impl Supervisor {
    pub fn new(
        pipeline: Pipeline,
        reload: Reloader,
        watch: Vec<PathBuf>,
        on_finish: Box<dyn FnOnce(Vec<StageSnapshot>) + Send>,
    ) -> Supervisor {
        Supervisor {
            pipeline: Some(pipeline),
            reload,
            watched: watch
                .into_iter()
                .map(|p| {
                    let m = mtime(&p);
                    (p, m)
                })
                .collect(),
            tick: Duration::from_secs(1),
            reloads_ok: 0,
            reloads_failed: 0,
            final_stats: None,
            resources: Default::default(),
            health: Default::default(),
            snapshots: None,
            on_finish: Some(on_finish),
        }
    }

    /// Readiness as `/healthz` answers it, kept up to date on every tick.
    pub fn with_health(mut self, health: std::sync::Arc<crate::health::Health>) -> Self {
        self.health = health;
        self
    }

    /// Periodic metrics snapshots (`metrics.output_rule`, `metrics.output_file`).
    pub fn with_snapshots(mut self, s: Option<crate::telemetry::snapshot::Snapshots>) -> Self {
        self.snapshots = s;
        self
    }

    fn export_metrics(&mut self) {
        use crate::telemetry::{catalog::Switch, enabled};
        self.resources.export(enabled(Switch::ResourceUtilization));
        let Some(p) = &self.pipeline else {
            self.health.set_problem(Some("shutting down".into()));
            return;
        };
        self.health.set_problem(p.problem());
        for s in p.snapshot() {
            let stage = s.stage.clone();
            for (outcome, v) in [
                ("in", s.received),
                ("out", s.passed),
                ("filtered", s.filtered),
            ] {
                metrics::counter!("peregrine_stage_events_total", "stage" => stage.clone(), "outcome" => outcome).absolute(v);
            }
            for (reason, v) in &s.dropped_by_reason {
                metrics::counter!("peregrine_stage_dropped_total", "stage" => stage.clone(), "reason" => reason.clone()).absolute(*v);
            }
            metrics::counter!("peregrine_stage_restarts_total", "stage" => stage.clone())
                .absolute(s.restarts);
            if s.stage == "enrich" {
                metrics::gauge!("peregrine_stage_held_events", "stage" => stage.clone())
                    .set(s.held as f64);
            }
        }
        for (queue, depth, capacity) in p.queue_depths() {
            metrics::gauge!("peregrine_queue_depth_batches", "queue" => queue.clone())
                .set(depth as f64);
            metrics::gauge!("peregrine_queue_capacity_batches", "queue" => queue)
                .set(capacity as f64);
        }
        p.outputs().export_metrics();
        metrics::counter!("peregrine_reloads_total", "result" => "ok").absolute(self.reloads_ok);
        metrics::counter!("peregrine_reloads_total", "result" => "failed")
            .absolute(self.reloads_failed);
    }

    fn do_reload(&mut self, why: &str) -> Result<(), String> {
        let Some(p) = &self.pipeline else {
            return Err("the pipeline has stopped".into());
        };
        match (self.reload)() {
            Ok(rules) => {
                let n = rules.enabled_rules().count();
                p.rules().swap(rules);
                self.reloads_ok += 1;
                tracing::info!("rules reloaded ({why}): {n} rules enabled");
                metrics::gauge!("falcosecurity_falco_reload_timestamp_nanoseconds")
                    .set(now_ns() as f64);
                Ok(())
            }
            Err(e) => {
                self.reloads_failed += 1;
                tracing::error!("reload ({why}) rejected, the previous rules keep running: {e:#}");
                Err(format!("{e:#}"))
            }
        }
    }

    fn check_watched(&mut self) {
        let mut changed = None;
        for (path, seen) in self.watched.iter_mut() {
            let now = mtime(path);
            if now != *seen {
                *seen = now;
                changed = Some(path.display().to_string());
            }
        }
        if let Some(path) = changed {
            let _ = self.do_reload(&format!("{path} changed"));
        }
    }

    fn finish_if_done(&mut self, ctx: &mut Context<Self>) {
        let done = self.pipeline.as_ref().is_some_and(|p| p.is_finished());
        if !done {
            return;
        }
        let Some(p) = self.pipeline.take() else {
            return;
        };
        let stats = p.join();
        self.final_stats = Some(stats.clone());
        self.export_metrics();
        if let Some(f) = self.on_finish.take() {
            f(stats);
        }
        ctx.stop();
        System::current().stop();
    }
}

pub(crate) fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

impl Actor for Supervisor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        metrics::gauge!("falcosecurity_falco_start_timestamp_nanoseconds").set(now_ns() as f64);
        ctx.run_interval(self.tick, |act, ctx| {
            act.export_metrics();
            if let Some(s) = act.snapshots.as_mut() {
                s.tick();
            }
            if !act.watched.is_empty() {
                act.check_watched();
            }
            act.finish_if_done(ctx);
        });
    }
}

/// Re-read the configuration and rules; a broken ruleset is rejected.
#[derive(Message)]
#[rtype(result = "Result<(), String>")]
pub struct Reload(pub String);

impl Handler<Reload> for Supervisor {
    type Result = Result<(), String>;
    fn handle(&mut self, msg: Reload, _: &mut Context<Self>) -> Self::Result {
        self.do_reload(&msg.0)
    }
}

/// The counters of every stage right now.
#[derive(Message)]
#[rtype(result = "Vec<StageSnapshot>")]
pub struct Snapshot;

impl Handler<Snapshot> for Supervisor {
    type Result = MessageResult<Snapshot>;
    fn handle(&mut self, _: Snapshot, _: &mut Context<Self>) -> Self::Result {
        MessageResult(match (&self.pipeline, &self.final_stats) {
            (Some(p), _) => p.snapshot(),
            (None, Some(s)) => s.clone(),
            _ => Vec::new(),
        })
    }
}

/// Stop the source and drain: every accepted event is evaluated and every alert written.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Shutdown;

impl Handler<Shutdown> for Supervisor {
    type Result = ();
    fn handle(&mut self, _: Shutdown, ctx: &mut Context<Self>) {
        tracing::info!("shutting down: stopping the source, draining queues");
        if let Some(p) = &self.pipeline {
            p.stop();
        }
        self.health.set_problem(Some("shutting down".into()));
        self.finish_if_done(ctx);
        // Look often while draining, so that stopping ends soon after the drain deadline.
        ctx.run_interval(Duration::from_millis(50), |act, ctx| {
            act.finish_if_done(ctx)
        });
    }
}
