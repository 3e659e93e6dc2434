//! `peregrine`: the agent binary and its command line.

use anyhow::Result;
use clap::Parser;
use peregrine::cli;

mod alloc;

// Events are allocated by one stage and freed by another; mimalloc handles cross-thread
// frees far better than glibc's arenas.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<()> {
    alloc::purge_freed_memory_promptly();
    let cli = cli::Cli::parse();
    let code = cli::run(cli)?;
    std::process::exit(code);
}
