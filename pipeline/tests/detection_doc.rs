//! docs/detection.md is what `cargo run -p peregrine --example detection_doc` prints today:
//! a change to the rules, the live tests or the field registry that alters it fails here
//! until the page is regenerated.

use std::path::Path;

#[test]
fn detection_page_is_current() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let upstream = manifest.join("../../shared/testdata/upstream");
    if !upstream.is_dir() {
        if std::env::var("PEREGRINE_REQUIRE_PRIVILEGED").as_deref() == Ok("1") {
            panic!("../shared/testdata/upstream not found and PEREGRINE_REQUIRE_PRIVILEGED=1");
        }
        eprintln!("skipping detection_page_is_current: ../shared/testdata/upstream not found");
        return;
    }
    let page = peregrine::detection::render(&peregrine::detection::Inputs {
        upstream: &upstream,
        tests: &manifest.join("tests"),
    })
    .unwrap();
    let committed =
        std::fs::read_to_string(manifest.join("../docs/detection.md")).unwrap_or_default();
    assert!(
        committed == page,
        "docs/detection.md is stale: run `cargo run -p peregrine --example detection_doc > docs/detection.md`"
    );
}
