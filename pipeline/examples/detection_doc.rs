//! Prints docs/detection.md: `cargo run -p peregrine --example detection_doc > docs/detection.md`.

use anyhow::Context;
use std::path::Path;

fn main() -> anyhow::Result<()> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let upstream = manifest.join("../../shared/testdata/upstream");
    anyhow::ensure!(
        upstream.is_dir(),
        "{} not found: the upstream rulesets come from ../shared/testdata",
        upstream.display()
    );
    let page = peregrine::detection::render(&peregrine::detection::Inputs {
        upstream: &upstream,
        tests: &manifest.join("tests"),
    })
    .context("building docs/detection.md")?;
    print!("{page}");
    Ok(())
}
