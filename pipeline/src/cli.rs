//! The command line: `peregrine [run]`, `validate` (Falco's `-V`), `list-fields` (`--list`).

use crate::run::{RunOptions, SourceChoice};
use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use peregrine_rules::engine::RulesSource;
use peregrine_rules::{fields, loader, CompileOptions, LoadOutcome};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "peregrine",
    version,
    about = "Runtime security agent: Falco rules over eBPF events"
)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Without a subcommand: run the agent.
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Args, Debug, Clone, Default)]
pub struct RunArgs {
    /// Configuration file (falco.yaml keys); default: the embedded configuration.
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Rules file or folder (repeatable); replaces `rules_files`.
    #[arg(short = 'r', long = "rules", value_name = "FILE_OR_DIR")]
    pub rules: Vec<PathBuf>,
    /// Configuration override `key.path=value` (repeatable).
    #[arg(short = 'o', long = "option", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Event source instead of the configured engine: `replay:FILE` or `synthetic[:RATE]`.
    #[arg(long, value_name = "SOURCE")]
    pub source: Option<SourceChoice>,
    /// Stop after this many synthetic events.
    #[arg(long, value_name = "N")]
    pub events: Option<u64>,
    /// Stop after this many seconds (Falco's `-M`).
    #[arg(short = 'M', long = "duration", value_name = "SECONDS")]
    pub duration: Option<f64>,
    /// Write the final per-stage counters to this file as JSON.
    #[arg(long = "stats-file", value_name = "FILE")]
    pub stats_file: Option<PathBuf>,
    /// Flush every alert (Falco's `-U`).
    #[arg(short = 'U', long)]
    pub unbuffered: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the agent (the default).
    Run(RunArgs),
    /// Load and compile rules files, print a summary or the errors (Falco's `-V`).
    Validate {
        /// Rules files or folders, in load order (default: the config's `rules_files`, or
        /// the embedded rules).
        #[arg(short = 'r', long = "rules", value_name = "FILE_OR_DIR")]
        rules: Vec<PathBuf>,
        /// Check this configuration file too (as the agent would load it), and take its
        /// `rules_files` unless `-r` is given.
        #[arg(short = 'c', long = "config", value_name = "FILE")]
        config: Option<PathBuf>,
        /// Configuration override `key.path=value` (repeatable), as for the agent.
        #[arg(short = 'o', long = "option", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
        /// Print Falco's JSON load results instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print every field rules may use (Falco's `--list`).
    ListFields {
        /// Only fields whose name starts with this prefix (e.g. `proc.`).
        #[arg(long)]
        prefix: Option<String>,
        /// Print Falco-style markdown.
        #[arg(long)]
        markdown: bool,
    },
}

impl RunArgs {
    fn into_options(self) -> Result<RunOptions> {
        let duration = match self.duration {
            Some(s) => Some(Duration::try_from_secs_f64(s).map_err(|_| {
                anyhow::anyhow!(
                    "--duration must be a number of seconds from 0 to {}, got {s}",
                    Duration::MAX.as_secs()
                )
            })?),
            None => None,
        };
        Ok(RunOptions {
            config: self.config,
            rules: self.rules,
            overrides: self.overrides,
            source: self.source,
            events: self.events,
            duration,
            stats_file: self.stats_file,
            unbuffered: self.unbuffered,
        })
    }
}

pub fn run(cli: Cli) -> Result<i32> {
    match cli.command {
        None => crate::run::run(cli.run.into_options()?),
        Some(Command::Run(args)) => crate::run::run(args.into_options()?),
        Some(Command::Validate {
            rules,
            config,
            overrides,
            json,
        }) => {
            stop_quietly_on_closed_stdout();
            let rules = match config {
                Some(path) => config_rules(&path, &overrides, rules)?,
                None => rules,
            };
            validate(&rules, json)
        }
        Some(Command::ListFields { prefix, markdown }) => {
            stop_quietly_on_closed_stdout();
            list_fields(prefix.as_deref(), markdown);
            Ok(0)
        }
    }
}

/// The printing commands end as a Unix filter does when their reader goes away (`| head`):
/// by SIGPIPE, instead of the panic of a print to a closed pipe. Not for the agent, whose
/// stdout output counts a failed write and goes on.
fn stop_quietly_on_closed_stdout() {
    // SAFETY: restoring the default action of SIGPIPE before any thread is started.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
}

fn sources(paths: &[PathBuf]) -> Result<Vec<RulesSource>> {
    if paths.is_empty() {
        return Ok(vec![RulesSource::new(
            peregrine_config::DEFAULT_RULES_NAME,
            peregrine_config::DEFAULT_RULES,
        )]);
    }
    let listed = loader::rules_files(paths);
    if let Some(missing) = listed.missing.first() {
        // Rules given on the command line must exist (Falco's `-r`).
        return Err(anyhow::anyhow!("{missing}")).context("reading rules files");
    }
    for ignored in &listed.ignored {
        eprintln!(
            "ignoring {}: rules files must be named *.yaml or *.yml",
            ignored.display()
        );
    }
    Ok(listed.files.iter().map(|p| RulesSource::read(p)).collect())
}

/// Loads the configuration as the agent does (an error names the key and its position)
/// and returns the rules to validate: `-r` if given, else its `rules_files`.
fn config_rules(path: &Path, overrides: &[String], rules: Vec<PathBuf>) -> Result<Vec<PathBuf>> {
    let cfg = peregrine_config::load(Some(path), overrides)
        .with_context(|| format!("loading {}", path.display()))?;
    for w in &cfg.warnings {
        eprintln!("warning: {w}");
    }
    eprintln!("{}: configuration OK", path.display());
    if !rules.is_empty() {
        return Ok(rules);
    }
    let mut paths = Vec::new();
    for s in cfg.rules_sources() {
        match s {
            peregrine_config::RulesSourceSpec::Path(p) => paths.push(p),
            // The embedded rules are what an empty list validates.
            peregrine_config::RulesSourceSpec::Embedded => {}
        }
    }
    Ok(paths)
}

fn validate(paths: &[PathBuf], json: bool) -> Result<i32> {
    let sources = sources(paths)?;
    let outcome = peregrine_rules::load_sources(&sources, &CompileOptions::default());
    if json {
        let results = outcome
            .files
            .iter()
            .map(|f| (f.name.as_str(), f.diagnostics.as_slice()));
        println!("{}", loader::render_json_results(results));
    } else {
        for f in &outcome.files {
            let text = loader::render_text(&f.name, &f.diagnostics);
            println!("{}", text.trim_end());
        }
        print_summary(&outcome);
        // Not in the JSON mode, whose output is Falco's load results alone.
        if let Some(rs) = &outcome.ruleset {
            for u in rs.unsourced_fields() {
                eprintln!("warning: {}", crate::rules_load::unsourced_warning(&u));
            }
        }
    }
    Ok(if outcome.is_ok() { 0 } else { 1 })
}

fn print_summary(outcome: &LoadOutcome) {
    let Some(rs) = &outcome.ruleset else { return };
    let col = &outcome.collection;
    let enabled: Vec<_> = rs.enabled_rules().collect();
    println!(
        "Loaded {} rules, {} macros, {} lists; {} rules enabled",
        col.rules.len(),
        col.macros.len(),
        col.lists.len(),
        enabled.len()
    );
    for r in &enabled {
        println!("  enabled: {} ({})", r.name, r.priority);
    }
    let types: Vec<_> = rs.event_types().iter().map(|t| t.name()).collect();
    println!("Event types needed ({}): {}", types.len(), types.join(", "));
}

fn list_fields(prefix: Option<&str>, markdown: bool) {
    let mut category = "";
    for def in fields::registry()
        .iter()
        .filter(|d| prefix.is_none_or(|p| d.name.starts_with(p)))
    {
        if def.category != category {
            category = def.category;
            if markdown {
                println!("\n## {category}\n\n| Name | Type | Description |\n| --- | --- | --- |");
            } else {
                println!("\n{category}\n{}", "-".repeat(category.len()));
            }
        }
        let mark = def
            .no_source
            .map(|why| format!(" [NO SOURCE: {why}]"))
            .unwrap_or_default();
        if markdown {
            println!(
                "| `{}` | {} | {}{mark} |",
                def.name,
                def.ftype.falco_name(),
                def.desc
            );
        } else {
            println!(
                "{:<40} {:<8} {}{mark}",
                def.name,
                def.ftype.falco_name(),
                def.desc
            );
        }
    }
}
