#!/usr/bin/env bash
# Packages for the load-test report test (loadtest/tests/report.rs): headless Chromium
# renders the generated HTML report to a PNG, which the test checks is not blank, and a
# font so that text renders (Chromium draws nothing for text without one).
# Idempotent (installs only what is missing); run as root. Used by .ci/run; run it by hand
# before `cargo test` on a new machine (without chromium the test skips, printing why,
# unless PEREGRINE_REQUIRE_PRIVILEGED=1).
set -euo pipefail

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
# DejaVu: Debian's default sans font; any font would do, this one is small.
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need_apt+=(fonts-dejavu-core)

if [ ${#need_apt[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${need_apt[@]}"
fi

chromium --version
