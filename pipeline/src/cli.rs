//! Subcommands: `validate` (Falco's `-V`) and `list-fields` (Falco's `--list`).

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use peregrine_rules::engine::RulesSource;
use peregrine_rules::{fields, loader, CompileOptions, LoadOutcome};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "peregrine",
    version,
    about = "Runtime security agent: Falco rules over eBPF events"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Load and compile rules files, print a summary or the errors (Falco's `-V`).
    Validate {
        /// Rules files or folders, in load order (default: the embedded rules).
        #[arg(short = 'r', long = "rules", value_name = "FILE_OR_DIR")]
        rules: Vec<PathBuf>,
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

pub fn run(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::Validate { rules, json } => validate(&rules, json),
        Command::ListFields { prefix, markdown } => {
            list_fields(prefix.as_deref(), markdown);
            Ok(0)
        }
    }
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
        if markdown {
            println!(
                "| `{}` | {} | {} |",
                def.name,
                def.ftype.falco_name(),
                def.desc
            );
        } else {
            println!(
                "{:<40} {:<8} {}",
                def.name,
                def.ftype.falco_name(),
                def.desc
            );
        }
    }
}
