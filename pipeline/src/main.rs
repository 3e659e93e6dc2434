//! `peregrine`: the agent binary and its command line.

use anyhow::Result;
use clap::Parser;
use peregrine::cli;

fn main() -> Result<()> {
    let cli = cli::Cli::parse();
    let code = cli::run(cli)?;
    std::process::exit(code);
}
