//! `peregrine run`: configuration → rules → pipeline → supervisor, signals and HTTP server.

use crate::http::{self, WebSettings};
use crate::pipeline::{Pipeline, PipelineSettings, QueueSettings};
use crate::queue::Overflow;
use crate::source::KernelSource;
use crate::source::{ReplayFailure, ReplaySource, Source, SyntheticSource};
use crate::stage::enrich::{Enricher, HostTables, PassThrough};
use crate::stats::StageSnapshot;
use crate::supervisor::{Reload, Shutdown, Supervisor};
use crate::{file_trust, hostinfo, privileges, rules_load};
use actix::Actor;
use anyhow::{bail, Context, Result};
use peregrine_config::{Config, EngineKind};
use peregrine_enrich::{ContainerConfig, EnrichConfig, HostEnricher};
use peregrine_event::synth::SynthConfig;
use peregrine_probes::interest::KernelInterest;
use peregrine_probes::{KernelProbe, ProbeOptions, Reader, Ring};
use peregrine_rules::AlertOptions;
use peregrine_rules::Ruleset;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Where events come from, when not from the configuration's `engine`.
#[derive(Clone, Debug, PartialEq)]
pub enum SourceChoice {
    Synthetic { rate: Option<u64> },
    Replay(PathBuf),
}

impl std::str::FromStr for SourceChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(path) = s.strip_prefix("replay:") {
            return Ok(SourceChoice::Replay(PathBuf::from(path)));
        }
        match s.split_once(':') {
            None if s == "synthetic" => Ok(SourceChoice::Synthetic { rate: None }),
            Some(("synthetic", rate)) => rate
                .parse::<u64>()
                .map(|r| SourceChoice::Synthetic { rate: Some(r) })
                .map_err(|_| format!("synthetic rate must be events per second, got '{rate}'")),
            _ => Err(format!(
                "unknown source '{s}': use replay:FILE or synthetic[:RATE]"
            )),
        }
    }
}

/// Options of `peregrine run` besides the configuration.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    pub config: Option<PathBuf>,
    pub rules: Vec<PathBuf>,
    pub overrides: Vec<String>,
    pub source: Option<SourceChoice>,
    /// Stop after this many events (synthetic source).
    pub events: Option<u64>,
    /// Stop after this long (Falco's `-M`).
    pub duration: Option<Duration>,
    /// Write the final stage counters here as JSON.
    pub stats_file: Option<PathBuf>,
    pub unbuffered: bool,
}

fn queue(q: &peregrine_config::QueueConfig) -> QueueSettings {
    QueueSettings {
        capacity: q.capacity,
        overflow: match q.overflow {
            peregrine_config::Overflow::Block => Overflow::Block,
            peregrine_config::Overflow::DropNewest => Overflow::DropNewest,
        },
    }
}

/// The pipeline's settings from the configuration (`pipeline:`, rule matching, alerts).
pub fn pipeline_settings(cfg: &Config) -> PipelineSettings {
    let p = &cfg.pipeline;
    PipelineSettings {
        batch_size: p.batch_size.max(1),
        rule_shards: p.rule_shard_count(),
        flush_interval: p.flush_interval,
        source_queue: queue(&p.queues.source),
        enrich_queue: queue(&p.queues.enrich),
        rules_queue: queue(&p.queues.rules),
        outputs_queue: queue(&p.queues.outputs),
        rule_matching: cfg.rule_matching,
        alert: AlertOptions {
            hostname: hostinfo::hostname(),
            time_iso8601: cfg.time_format_iso_8601,
            utc_offset_secs: hostinfo::utc_offset_secs(),
        },
        syscall_event_drops: cfg.syscall_event_drops.clone(),
        drop_exit: Arc::default(),
        own_container: own_container(cfg),
        alert_tap: None,
    }
}

/// The agent's own container, when it runs in one and its events are to be left alone.
fn own_container(cfg: &Config) -> Option<peregrine_enrich::own::OwnContainer> {
    if cfg.containers.alert_own_container {
        return None;
    }
    let own = peregrine_enrich::own::OwnContainer::detect(std::path::Path::new("/proc"));
    if let Some(own) = &own {
        tracing::info!(
            "running in container {own:?}: its events are not evaluated (containers.alert_own_container: true to change)"
        );
    }
    own
}

/// What the kernel must send: the exits the enabled rules can match, plus what the state
/// tables need; with `filter` off, every call of those syscalls.
pub fn kernel_interest(ruleset: &Ruleset, filter: bool) -> KernelInterest {
    use peregrine_probes::interest::{NameSet, OpenFilter, RuleNeed};
    use peregrine_rules::interest::{NameTests, PathNeed};
    let names = |t: NameTests| NameSet {
        exact: t.exact,
        prefixes: t.prefixes,
        comms: t.comms,
        dotdot: t.dotdot,
    };
    let needs = ruleset
        .kernel_needs()
        .into_iter()
        .map(|(t, need)| {
            let paths = match need.paths {
                PathNeed::Any => None,
                PathNeed::Only(open) => Some(OpenFilter {
                    any: names(open.any),
                    write: names(open.write),
                    write_any: open.write_any,
                }),
            };
            let need = RuleNeed {
                failed: need.failed,
                paths,
                reads_fds: need.reads_fds,
            };
            (t.name().to_string(), need)
        })
        .collect();
    peregrine_probes::interest::plan(&needs, filter)
}

/// One line on what the kernel sends and filters.
pub fn log_interest(interest: &KernelInterest) {
    use peregrine_probes::interest::{PATH_FILTER, WANT_FAILED};
    let name = |id: &u32| {
        peregrine_event::SYSCALL_NAMES
            .iter()
            .find(|(i, _)| i == id)
            .map_or("?", |(_, n)| *n)
    };
    let only_ok: Vec<&str> = interest
        .flags
        .iter()
        .filter(|(_, f)| *f & WANT_FAILED == 0)
        .map(|(id, _)| name(id))
        .collect();
    let by_path: Vec<&str> = interest
        .flags
        .iter()
        .filter(|(_, f)| *f & PATH_FILTER != 0)
        .map(|(id, _)| name(id))
        .collect();
    tracing::info!(
        syscalls = interest.flags.len(),
        successful_only = %only_ok.join(","),
        by_name = %by_path.join(","),
        names = interest.paths.len(),
        task_names = interest.paths.comms.len(),
        regular_files_tracked = !interest.lean(),
        "kernel filter"
    );
}

/// Loads and attaches the probes with only the state-tracking syscalls; the rules' own are
/// added with [`KernelProbe::set_interest`] once they are compiled. Started before the rules
/// so the two start-up memory peaks (kernel BTF for CO-RE, rule compilation) do not stack.
/// Starts no thread: the readers are started by [`kernel_source`] after the capability drop.
fn start_probes(cfg: &Config) -> Result<(KernelProbe, Vec<Ring>)> {
    let m = &cfg.engine.modern_ebpf;
    let opts = ProbeOptions {
        cpus_for_each_buffer: m.cpus_for_each_buffer,
        buffer_bytes: m.buffer_bytes() as u32,
        drop_failed: m.drop_failed_exit,
        syscalls: peregrine_probes::interest::syscall_ids([]).into(),
        btf: hostinfo::host_btf(),
        ..ProbeOptions::default()
    };
    KernelProbe::start(&opts)
        .context("starting the kernel probes (engine.kind: modern_ebpf; --source synthetic runs without them)")
}

/// The kernel source: the probes and the readers of their ring buffers.
fn kernel_source(cfg: &Config, probe: KernelProbe, rings: Vec<Ring>) -> Result<KernelSource> {
    let actors = cfg.pipeline.probe_actor_count(rings.len());
    let reader =
        Reader::with_actors(rings, actors).context("setting up the ring buffer readers")?;
    tracing::info!(
        rings = reader.ring_count(),
        probe_actors = reader.actor_count(),
        "kernel ring buffers drained"
    );
    Ok(KernelSource::new(probe, reader))
}

/// The enricher of kernel events: process, fd and user tables read from `/proc`, container
/// metadata from the runtimes' sockets, the host's interface addresses.
/// `lean`: the kernel leaves regular files out of the state tables (see
/// [`KernelSource::lean`]).
pub fn host_tables(cfg: &Config, lean: bool) -> Result<HostTables> {
    let containers = container_config(&cfg.containers);
    let mut tables = HostEnricher::new(EnrichConfig {
        containers,
        bootstrap: false,
        keep_regular_files: !lean,
        ..enrich_paths(EnrichConfig::default())
    });
    let n = tables.bootstrap().context("reading /proc")?;
    tracing::info!("{n} processes read from /proc");
    // Which end of a connection is local is decided by these (fd.lip, fd.is_server).
    peregrine_enrich::ifaddrs::watch().context("reading the interface addresses")?;
    Ok(HostTables::new(tables))
}

/// Live kernel events as the agent gets them, for tools that run the pipeline themselves
/// (the load-test recorder): probes attached with what `ruleset` needs (and the kernel
/// filter as configured), their readers, and the enricher. Keeps every capability.
pub fn live_kernel(cfg: &Config, ruleset: &Ruleset) -> Result<(KernelSource, HostTables)> {
    let (probe, rings) = start_probes(cfg)?;
    let source = source_for_rules(cfg, probe, rings, ruleset)?;
    let lean = source.lean();
    Ok((source, host_tables(cfg, lean)?))
}

/// Enables in the probes what `ruleset` needs, then starts their readers.
fn source_for_rules(
    cfg: &Config,
    mut probe: KernelProbe,
    rings: Vec<Ring>,
    ruleset: &Ruleset,
) -> Result<KernelSource> {
    let interest = kernel_interest(ruleset, cfg.pipeline.kernel_filter);
    log_interest(&interest);
    if probe.decide_lean(interest.lean()) {
        tracing::info!("no rule reads a regular file's fd: the kernel sends neither their opens nor their closes unless a rule can match the open");
    }
    probe
        .set_interest(&interest)
        .context("enabling the syscalls the rules need")?;
    kernel_source(cfg, probe, rings)
}

/// The capabilities the running agent keeps (docs/security.md says why): for kernel events,
/// reading every process's `/proc` entries; for captures and synthetic events, none.
fn needed_capabilities(kernel: bool) -> &'static [u32] {
    if kernel {
        &[privileges::CAP_DAC_READ_SEARCH, privileges::CAP_SYS_PTRACE]
    } else {
        &[]
    }
}

/// Drops the capabilities the running agent does not need, unless turned off.
fn drop_privileges(cfg: &Config, kernel: bool) -> Result<()> {
    if !cfg.drop_capabilities {
        tracing::warn!(
            "drop_capabilities: false: the agent keeps every capability it was started with"
        );
        return Ok(());
    }
    let left = privileges::drop_all_but(needed_capabilities(kernel))
        .context("dropping capabilities (drop_capabilities: false keeps them, for debugging)")?;
    let kept = privileges::names(left.effective);
    let kept = if kept.is_empty() {
        "none".to_string()
    } else {
        kept.join(", ")
    };
    if left.bounding_emptied {
        tracing::info!("capabilities dropped; kept: {kept}; bounding, inheritable and ambient sets empty; no-new-privs set");
    } else {
        tracing::info!("capabilities dropped; kept: {kept}; inheritable and ambient sets empty; no-new-privs set; the bounding set is left as it was (emptying it needs CAP_SETPCAP)");
    }
    Ok(())
}

/// Checks the config file before it is read; returns the warning to log when it is read
/// anyway. Only `-o untrusted_files=...` decides what an untrusted one does: the file cannot
/// vouch for itself.
fn check_config_file(
    path: Option<&std::path::Path>,
    overrides: &[String],
) -> Result<Option<String>> {
    let Some(path) = path else { return Ok(None) };
    let policy = peregrine_config::load(None, overrides)
        .context("reading the -o overrides")?
        .untrusted_files;
    let mut warning = None;
    file_trust::enforce_with([path], "config file", policy, |w| warning = Some(w))?;
    Ok(warning)
}

/// The source, and for a replay where its failure will be left.
fn source(
    cfg: &Config,
    opts: &RunOptions,
    kernel: Option<KernelSource>,
) -> Result<(Box<dyn Source>, Option<ReplayFailure>)> {
    let synth = &cfg.engine.synthetic;
    let limit = opts.events.or((synth.events > 0).then_some(synth.events));
    let synthetic = |rate: Option<u64>| -> Box<dyn Source> {
        let start_ns = crate::supervisor::now_ns();
        let sc = SynthConfig {
            seed: synth.seed,
            start_ns,
            ..Default::default()
        };
        Box::new(SyntheticSource::new(sc, rate, limit))
    };
    let replay = |path: &std::path::Path| -> Result<(Box<dyn Source>, Option<ReplayFailure>)> {
        let src = ReplaySource::open(path, None)?;
        let failure = src.failure();
        Ok((Box::new(src), Some(failure)))
    };
    Ok(match (&opts.source, cfg.engine.kind) {
        (Some(SourceChoice::Synthetic { rate }), _) => (synthetic(*rate), None),
        (Some(SourceChoice::Replay(path)), _) => replay(path)?,
        (None, EngineKind::Synthetic) => (synthetic((synth.rate > 0).then_some(synth.rate)), None),
        (None, EngineKind::Replay) => {
            let path = cfg
                .engine
                .replay
                .capture_file
                .as_ref()
                .context("engine.replay.capture_file is not set")?;
            replay(path)?
        }
        (None, EngineKind::ModernEbpf) => {
            (Box::new(kernel.context("kernel probes not started")?), None)
        }
        (None, EngineKind::Nodriver) => {
            bail!("engine.kind nodriver has no event source; use --source")
        }
    })
}

fn init_logging(cfg: &Config) {
    if !cfg.log_stderr {
        return;
    }
    let level = match cfg.log_level.as_str() {
        "emergency" | "alert" | "critical" | "error" => "error",
        "warning" => "warn",
        "notice" | "info" => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    use std::io::IsTerminal;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}

/// Falco-style summary lines (operators grep the log for "Events processed").
fn summarize(stats: &[StageSnapshot]) {
    for line in summary(stats) {
        tracing::info!("{line}");
    }
}

/// The shutdown summary. Events (source, enrich, rules) and alerts (the hand-off to the
/// outputs and each destination) are counted apart: one is not the other.
fn summary(stats: &[StageSnapshot]) -> Vec<String> {
    let get = |name: &str| {
        stats
            .iter()
            .find(|s| s.stage == name)
            .cloned()
            .unwrap_or_default()
    };
    let (src, rules, outs) = (get("source"), get("rules"), get("outputs"));
    let is_alert_stage =
        |s: &&StageSnapshot| s.stage == "outputs" || s.stage.starts_with("output.");
    let in_pipeline = |s: &&StageSnapshot| !is_alert_stage(s) && s.stage != "kernel";
    let reasons = |stages: &mut dyn Iterator<Item = &StageSnapshot>| {
        let mut by: Vec<(String, u64)> = Vec::new();
        for s in stages {
            for (r, n) in s.dropped_by_reason.iter().filter(|(_, n)| *n > 0) {
                match by.iter_mut().find(|(k, _)| k == r) {
                    Some((_, total)) => *total += n,
                    None => by.push((r.clone(), *n)),
                }
            }
        }
        let total: u64 = by.iter().map(|(_, n)| n).sum();
        let detail: Vec<String> = by.iter().map(|(r, n)| format!("{r}: {n}")).collect();
        if detail.is_empty() {
            total.to_string()
        } else {
            format!("{total} ({})", detail.join(", "))
        }
    };
    let mut out = Vec::new();
    if let Some(k) = stats.iter().find(|s| s.stage == "kernel") {
        out.push(format!(
            "Kernel: {} events sent, dropped before reaching the agent: {}",
            k.received,
            reasons(&mut std::iter::once(k))
        ));
    }
    out.extend([
        format!("Events processed: {}", rules.received),
        format!(
            "Events detected: {} (alerts: {})",
            rules.passed, outs.received
        ),
        format!(
            "Events read: {}, dropped in the pipeline: {}",
            src.received,
            reasons(&mut stats.iter().filter(in_pipeline))
        ),
        format!(
            "Alerts dropped before a destination: {}",
            reasons(&mut std::iter::once(&outs))
        ),
    ]);
    for d in stats.iter().filter(|s| s.stage.starts_with("output.")) {
        out.push(format!(
            "Destination {}: {} alerts sent, dropped: {}",
            &d.stage["output.".len()..],
            d.passed,
            reasons(&mut std::iter::once(d))
        ));
    }
    out
}

/// The enricher's container settings from `containers:`; says which runtime sockets exist.
/// The host's `/proc` and `/` for the tables: under `HOST_ROOT` in a container.
fn enrich_paths(cfg: EnrichConfig) -> EnrichConfig {
    match hostinfo::host_root() {
        Some(root) => {
            tracing::info!(
                "HOST_ROOT={}: host files (/proc, /etc, runtime sockets) are read there",
                root.display()
            );
            EnrichConfig {
                proc_root: hostinfo::host_path(&cfg.proc_root),
                host_root: root,
                ..cfg
            }
        }
        None => cfg,
    }
}

pub fn container_config(c: &peregrine_config::Containers) -> ContainerConfig {
    let out = ContainerConfig {
        enabled: c.enabled,
        docker_sockets: hostinfo::host_paths(&c.docker_sockets),
        cri_sockets: hostinfo::host_paths(&c.cri_sockets),
        watch_events: c.watch_events,
        workers: c.workers,
        queue_size: c.queue_size,
        request_timeout: c.request_timeout,
        not_found_retry: c.not_found_retry,
        cache_size: c.cache_size,
        metadata_ttl: c.metadata_ttl,
        retry_interval: c.retry_interval,
        hold: c.hold.enabled,
        hold_timeout: c.hold.timeout,
        hold_max_events: c.hold.max_events,
    };
    if !c.enabled {
        tracing::info!("container metadata lookups are off (containers.enabled: false)");
        return out;
    }
    let present = |sockets: &[std::path::PathBuf]| -> Vec<String> {
        sockets
            .iter()
            .filter(|s| s.exists())
            .map(|s| s.display().to_string())
            .collect()
    };
    let (docker, cri) = (present(&out.docker_sockets), present(&out.cri_sockets));
    if docker.is_empty() && cri.is_empty() {
        tracing::info!(
            "no container runtime socket present yet (containers.docker_sockets, containers.cri_sockets); checked again at each lookup"
        );
    } else {
        tracing::info!(
            "container metadata from {}",
            docker
                .iter()
                .map(|s| format!("{s} (Docker API)"))
                .chain(cri.iter().map(|s| format!("{s} (CRI)")))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    out
}

/// How far a listener on `ip` reaches, for its startup line: loopback is Peregrine's
/// default, unlike Falco's and falcosidekick's every address.
fn reach(ip: std::net::IpAddr, key: &str) -> String {
    if ip.is_loopback() {
        format!(" (loopback only, Peregrine's default; set {key}=0.0.0.0 to accept other hosts)")
    } else if ip.is_unspecified() {
        " (every address)".into()
    } else {
        String::new()
    }
}

/// Starts the sidekick input's servers on the current actix system.
fn start_input(
    input: &peregrine_outputs::input::InputServer,
    bound: peregrine_outputs::input::Bound,
    outputs: peregrine_outputs::Outputs,
) -> Result<()> {
    let started =
        peregrine_outputs::input::serve_bound(input, bound, outputs).with_context(|| {
            format!(
                "starting the falcosidekick input on {}:{}",
                input.address, input.port
            )
        })?;
    for server in started.servers {
        actix_rt::spawn(server);
    }
    let mode = match (&input.tls, input.clear.as_ref().map(|c| &c.1)) {
        (None, _) => "http".to_string(),
        (Some(_), paths) => {
            let mutual = if input.mutual_tls {
                "mutual TLS"
            } else {
                "TLS"
            };
            match (started.clear_addr, paths) {
                (Some(clear), Some(paths)) => {
                    format!("https ({mutual}; {} in clear on {clear})", paths.join(", "))
                }
                _ => format!("https ({mutual})"),
            }
        }
    };
    let token = if input.bearer_token.is_some() {
        ", bearer token required"
    } else {
        ""
    };
    tracing::info!(
        "falcosidekick-compatible input listening on {} ({mode}{token}){}",
        started.addr,
        reach(started.addr.ip(), "outputs.listenaddress")
    );
    Ok(())
}

pub fn run(opts: RunOptions) -> Result<i32> {
    let mut overrides = opts.overrides.clone();
    if opts.unbuffered {
        overrides.push("buffered_outputs=false".into());
    }
    let config_warning = check_config_file(opts.config.as_deref(), &overrides)?;
    let mut cfg = peregrine_config::load(opts.config.as_deref(), &overrides)
        .context("loading the configuration")?;
    if !opts.rules.is_empty() {
        // `-r` replaces rules_files entirely, as in Falco.
        cfg.rules_files = opts.rules.clone();
    }
    init_logging(&cfg);
    if let Some(w) = &config_warning {
        tracing::warn!("{w}");
    }
    for w in &cfg.warnings {
        tracing::warn!("{w}");
    }
    // TLS files are read before anything starts: a listener the operator asked to protect
    // must not come up unprotected, nor the agent without it.
    let web_tls = if cfg.webserver.enabled && cfg.webserver.ssl_enabled {
        Some(http::tls_settings(&cfg.webserver.ssl_certificate)?)
    } else {
        None
    };
    let input = if cfg.outputs.listenport != 0 {
        Some(
            peregrine_outputs::input::InputServer::from_config(&cfg.outputs)
                .context("outputs.tlsserver: the sidekick input's TLS settings are unusable")?,
        )
    } else {
        None
    };
    let cfg = Arc::new(cfg);
    let kernel_events = opts.source.is_none() && cfg.engine.kind == EngineKind::ModernEbpf;
    let probes = if kernel_events {
        Some(start_probes(&cfg)?)
    } else {
        None
    };
    // Bound before the capabilities go, so a port below 1024 needs none afterwards.
    let input = match input {
        Some(input) => {
            let bound = peregrine_outputs::input::bind(&input).with_context(|| {
                format!(
                    "starting the falcosidekick input on {}:{}",
                    input.address, input.port
                )
            })?;
            Some((input, bound))
        }
        None => None,
    };
    let web = WebSettings {
        listen_address: cfg.webserver.listen_address,
        listen_port: cfg.webserver.listen_port,
        healthz_endpoint: cfg.webserver.k8s_healthz_endpoint.clone(),
        metrics: cfg.webserver.prometheus_metrics_enabled && cfg.metrics.enabled,
        threads: cfg.webserver.threadiness as usize,
        tls: web_tls,
    };
    let web_listener = if cfg.webserver.enabled {
        Some(http::bind(&web).context("starting the web server")?)
    } else {
        None
    };
    // Every thread from here on inherits the reduced set.
    drop_privileges(&cfg, kernel_events)?;

    let ruleset = rules_load::load(&cfg, !opts.rules.is_empty())?;
    let mut kernel = None;
    if let Some((probe, rings)) = probes {
        kernel = Some(source_for_rules(&cfg, probe, rings, &ruleset)?);
    }
    let syscall_requests = kernel.as_ref().map(KernelSource::syscall_requests);
    tracing::info!(
        "{} rules loaded, {} enabled",
        ruleset.rules().len(),
        ruleset.enabled_rules().count()
    );

    let settings = pipeline_settings(&cfg);
    let drop_exit = settings.drop_exit.clone();
    let lean = kernel.as_ref().is_some_and(KernelSource::lean);
    let (src, replay_failure) = source(&cfg, &opts, kernel)?;
    // Kernel events arrive bare: they need the process, fd and user tables. Captures and
    // synthetic streams carry their context already.
    let enricher: Box<dyn Enricher> = if src.name() == "kernel" {
        Box::new(host_tables(&cfg, lean)?)
    } else {
        Box::new(PassThrough)
    };
    let outputs = peregrine_outputs::from_config(&cfg, opts.unbuffered)
        .context("starting the output destinations")?;
    tracing::info!("output destinations: {}", outputs.names().join(", "));
    let metrics_handle = if cfg.metrics.enabled || cfg.webserver.enabled {
        Some(
            crate::telemetry::install_recorder(&cfg.metrics)
                .context("installing the metrics recorder")?,
        )
    } else {
        None
    };
    if cfg.metrics.enabled {
        crate::telemetry::falco::export_static(src.name());
        crate::telemetry::falco::export_files(&cfg);
    }
    let watch = if cfg.watch_config_files {
        rules_load::watched_files(&cfg)
    } else {
        Vec::new()
    };

    let final_stats: Arc<Mutex<Option<Vec<StageSnapshot>>>> = Arc::default();
    let system = actix::System::new();
    let result: Result<()> = system.block_on(async {
        let input_outputs = outputs.clone();
        let snapshots = metrics_handle.clone().and_then(|h| {
            crate::telemetry::snapshot::Snapshots::new(
                &cfg.metrics,
                h,
                settings.alert.clone(),
                outputs.clone(),
            )
        });
        let pipeline = Pipeline::start(&settings, src, enricher, ruleset, outputs)
            .context("starting the pipeline")?;
        if let Some((input, bound)) = input {
            start_input(&input, bound, input_outputs)?;
        }
        let reload_cfg = (opts.config.clone(), overrides.clone(), opts.rules.clone());
        let reloader = Box::new(move || {
            if let Some(w) = check_config_file(reload_cfg.0.as_deref(), &reload_cfg.1)? {
                tracing::warn!("{w}");
            }
            let mut cfg = peregrine_config::load(reload_cfg.0.as_deref(), &reload_cfg.1)?;
            if !reload_cfg.2.is_empty() {
                cfg.rules_files = reload_cfg.2.clone();
            }
            let ruleset = rules_load::load(&cfg, !reload_cfg.2.is_empty())?;
            if cfg.metrics.enabled {
                crate::telemetry::falco::export_files(&cfg);
            }
            // The kernel sends what the new rules need (applied by the source thread).
            if let Some(slot) = &syscall_requests {
                let interest = kernel_interest(&ruleset, cfg.pipeline.kernel_filter);
                log_interest(&interest);
                *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(interest);
            }
            Ok(ruleset)
        });
        let stats_slot = final_stats.clone();
        let on_finish = Box::new(move |s: Vec<StageSnapshot>| {
            *stats_slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(s);
        });
        let health: Arc<crate::health::Health> = Arc::default();
        health.set_started();
        let sup = Supervisor::new(pipeline, reloader, watch, on_finish)
            .with_health(health.clone())
            .with_snapshots(snapshots)
            .start();
        if let Some(listener) = web_listener {
            let (server, addr) = http::start(&web, listener, metrics_handle.clone(), health)?;
            actix_rt::spawn(server);
            let scheme = if web.tls.is_some() { "https" } else { "http" };
            tracing::info!(
                "web server listening on {scheme}://{addr}{}",
                reach(addr.ip(), "webserver.listen_address")
            );
        }
        spawn_signal_handlers(sup.clone());
        if let Some(d) = opts.duration {
            let sup = sup.clone();
            actix_rt::spawn(async move {
                actix_rt::time::sleep(d).await;
                sup.do_send(Shutdown);
            });
        }
        Ok(())
    });
    result?;
    system.run().context("running the actor system")?;
    let stats = final_stats
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .unwrap_or_default();
    summarize(&stats);
    if let Some(path) = &opts.stats_file {
        std::fs::write(path, serde_json::to_vec_pretty(&stats)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    // A capture that could not be read to its end fails the run, after what it did hold
    // went through (fail closed: the operator must not take a partial replay for a whole).
    if let Some(why) = replay_failure.and_then(|f| f.lock().ok()?.clone()) {
        tracing::error!("{why}");
        return Ok(1);
    }
    if drop_exit.load(std::sync::atomic::Ordering::Relaxed) {
        return Ok(1);
    }
    Ok(0)
}

fn spawn_signal_handlers(sup: actix::Addr<Supervisor>) {
    use actix_rt::signal::unix::{signal, SignalKind};
    for (kind, name) in [
        (SignalKind::terminate(), "SIGTERM"),
        (SignalKind::interrupt(), "SIGINT"),
    ] {
        let sup = sup.clone();
        actix_rt::spawn(async move {
            let Ok(mut s) = signal(kind) else { return };
            if s.recv().await.is_some() {
                tracing::info!("{name} received");
                sup.do_send(Shutdown);
            }
        });
    }
    actix_rt::spawn(async move {
        let Ok(mut s) = signal(SignalKind::hangup()) else {
            return;
        };
        while s.recv().await.is_some() {
            tracing::info!("SIGHUP received: reloading");
            sup.do_send(Reload("SIGHUP".into()));
        }
    });
}

#[cfg(test)]
mod summary_tests {
    use super::*;

    fn stage(name: &str, received: u64, passed: u64, drops: &[(&str, u64)]) -> StageSnapshot {
        StageSnapshot {
            stage: name.into(),
            received,
            passed,
            dropped: drops.iter().map(|(_, n)| n).sum(),
            dropped_by_reason: drops.iter().map(|(r, n)| (r.to_string(), *n)).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn alerts_dropped_by_destinations_are_not_counted_as_dropped_events() {
        let stats = vec![
            stage("kernel", 1200, 1000, &[("buffer_full", 200)]),
            stage("source", 1000, 990, &[("malformed", 10)]),
            stage("enrich", 990, 985, &[("queue_full", 5)]),
            stage("rules", 985, 40, &[]),
            stage("outputs", 40, 40, &[]),
            stage("output.stdout", 40, 40, &[]),
            stage(
                "output.loki",
                40,
                33,
                &[("retries_exhausted", 4), ("shutdown", 3)],
            ),
        ];
        assert_eq!(
            summary(&stats),
            [
                "Kernel: 1200 events sent, dropped before reaching the agent: 200 (buffer_full: 200)",
                "Events processed: 985",
                "Events detected: 40 (alerts: 40)",
                "Events read: 1000, dropped in the pipeline: 15 (malformed: 10, queue_full: 5)",
                "Alerts dropped before a destination: 0",
                "Destination stdout: 40 alerts sent, dropped: 0",
                "Destination loki: 33 alerts sent, dropped: 7 (retries_exhausted: 4, shutdown: 3)",
            ]
        );
    }
}
