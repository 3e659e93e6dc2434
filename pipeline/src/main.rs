//! `peregrine`: the agent binary and its command line.

mod cli;

use anyhow::Result;
use clap::Parser;

fn main() -> Result<()> {
    let cli = cli::Cli::parse();
    let code = cli::run(cli)?;
    std::process::exit(code);
}
