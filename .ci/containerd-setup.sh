#!/usr/bin/env bash
# A private containerd with its CRI plugin for the CRI metadata tests: its own config, root,
# state and socket (nothing of a system containerd is touched), runc with cgroupfs (no
# systemd here), host-network pods only (no CNI), and two locally built images imported
# (no registry here): the test image and a pause image for the sandboxes.
# Idempotent; run as root after .ci/podman-setup.sh (it builds the images with podman).
# Used by .ci/run; run it by hand before `cargo test` on a new machine.
set -euo pipefail

BASE=/run/peregrine-containerd
SOCK=$BASE/containerd.sock
ROOT=/var/lib/peregrine-containerd
CONF=/etc/peregrine-containerd/config.toml
LOG=/var/log/peregrine-containerd.log
NS=k8s.io
TEST_IMAGE=localhost/peregrine-test:latest
PAUSE_IMAGE=localhost/peregrine-pause:latest

if ! command -v containerd >/dev/null 2>&1 || ! command -v ctr >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q containerd
fi
command -v runc >/dev/null 2>&1 || { echo "runc is missing (.ci/podman-setup.sh installs it)" >&2; exit 1; }
if ! podman image exists "$TEST_IMAGE" 2>/dev/null; then
  bash "$(dirname "$0")/podman-setup.sh"
fi

# overlayfs when the kernel has it (the usual snapshotter), else native.
SNAPSHOTTER=native
grep -qw overlay /proc/filesystems && SNAPSHOTTER=overlayfs

mkdir -p "$(dirname "$CONF")" "$BASE" "$ROOT" "$BASE/cni-conf"
cat > "$CONF.new" <<CONF
# written by peregrine's .ci/containerd-setup.sh
version = 2
root = "$ROOT"
state = "$BASE/state"

[grpc]
  address = "$SOCK"

[ttrpc]
  address = "$BASE/containerd.sock.ttrpc"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # No CAP_SYS_RESOURCE on these machines: runc cannot lower oom_score_adj (the sandbox
  # asks for -998); this keeps every container's at or above containerd's own.
  restrict_oom_score_adj = true
  disable_tcp_service = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "$SNAPSHOTTER"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "$(command -v runc)"
        Root = "$BASE/runc"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$BASE/cni-conf"

[plugins."io.containerd.internal.v1.opt"]
  path = "$ROOT/opt"
CONF
# A changed config needs a restart.
restart=0
if ! cmp -s "$CONF.new" "$CONF" 2>/dev/null; then
  mv "$CONF.new" "$CONF"
  restart=1
else
  rm -f "$CONF.new"
fi

running() { ctr -a "$SOCK" version >/dev/null 2>&1; }

if running && [ "$restart" = 1 ] && [ -f "$BASE/containerd.pid" ]; then
  kill "$(cat "$BASE/containerd.pid")" 2>/dev/null || true
  for _ in $(seq 1 50); do running || break; sleep 0.1; done
fi
if ! running; then
  rm -f "$SOCK"
  nohup containerd --config "$CONF" >>"$LOG" 2>&1 &
  echo $! > "$BASE/containerd.pid"
  for _ in $(seq 1 100); do running && break; sleep 0.1; done
  running || { echo "containerd did not start; $LOG says:" >&2; tail -30 "$LOG" >&2; exit 1; }
fi

# The images, from podman's store (built from busybox-static by .ci/podman-setup.sh). The
# pause image only has to keep the sandbox alive.
if ! podman image exists "$PAUSE_IMAGE"; then
  cid=$(podman create "$TEST_IMAGE" true)
  podman export "$cid" | podman import -q --change 'CMD ["/bin/sleep","2147483647"]' - "$PAUSE_IMAGE" >/dev/null
  podman rm "$cid" >/dev/null
fi
for image in "$TEST_IMAGE" "$PAUSE_IMAGE"; do
  if ! ctr -n "$NS" -a "$SOCK" images ls -q | grep -qx "$image"; then
    tar=$(mktemp --suffix=.tar)
    rm -f "$tar"
    podman save -q --format docker-archive -o "$tar" "$image" >/dev/null
    ctr -n "$NS" -a "$SOCK" images import --snapshotter "$SNAPSHOTTER" "$tar" >/dev/null
    rm -f "$tar"
  fi
done
echo "containerd $(containerd --version | awk '{print $3}') ready: CRI on $SOCK ($SNAPSHOTTER), images: $(ctr -n "$NS" -a "$SOCK" images ls -q | grep -v '^sha256:' | tr '\n' ' ')"
