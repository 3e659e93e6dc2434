#!/usr/bin/env bash
# Builds the container image here, the way CI does: no registry is reachable, so the base
# image comes from .ci/images.sh (Debian's packages) and the binary from the host's release
# build (stripped), through the Dockerfile's BUILD=prebuilt stage. The runtime stage is the
# same one users get with BUILD=source.
#   deploy/build-image.sh [TAG]        default TAG: localhost/peregrine:dev
set -euo pipefail
cd "$(dirname "$0")/.."
TAG=${1:-localhost/peregrine:dev}

bash .ci/images.sh >/dev/null
cargo build --release -p peregrine --bin peregrine
mkdir -p target/image
strip -o target/image/peregrine target/release/peregrine
podman build -q -f deploy/Dockerfile \
  --build-arg BUILD=prebuilt \
  --build-arg BASE_IMAGE=localhost/peregrine-base:bookworm \
  -t "$TAG" . >/dev/null
echo "$TAG: $(podman image inspect "$TAG" --format '{{.Size}}') bytes"
