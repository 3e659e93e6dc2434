#!/usr/bin/env bash
# Podman for the container tests: package, the configuration these machines need, two
# locally built images (no registry here) and the Docker-compatible API service.
# Idempotent; run as root. Used by .ci/run; run it by hand before `cargo test` on a new machine.
set -euo pipefail

SOCK=/run/podman/podman.sock

if ! command -v podman >/dev/null 2>&1 || ! command -v runc >/dev/null 2>&1 \
   || ! command -v curl >/dev/null 2>&1 || [ ! -x /bin/busybox ] \
   || ! command -v ip >/dev/null 2>&1 || ! command -v perl >/dev/null 2>&1 \
   || ! command -v script >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  # iproute2, perl and script (bsdutils): the live detection tests' actions.
  apt-get install -y -q podman runc busybox-static curl iproute2 perl bsdutils
fi

# crun and raised rlimits fail on these machines; systemd is not running (cgroupfs).
mkdir -p /etc/containers
if ! grep -q 'peregrine' /etc/containers/containers.conf 2>/dev/null; then
  cat > /etc/containers/containers.conf <<'CONF'
# written by peregrine's .ci/podman-setup.sh
[containers]
default_ulimits = ["nofile=1024:1024","nproc=4096:4096"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
CONF
fi

# Images from a busybox-static root filesystem: one ordinary, one whose repository
# contains "postgres" (on the seed rules' known_safe_images list).
make_image() {
  local name=$1 users=${2:-}
  if podman image exists "$name"; then return; fi
  local root
  root=$(mktemp -d)
  mkdir -p "$root"/{bin,etc,tmp,root,proc,sys,dev}
  cp /bin/busybox "$root/bin/busybox"
  for applet in $("$root/bin/busybox" --list); do
    [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
  [ -z "$users" ] || printf '%b' "$users" >> "$root/etc/passwd"
  printf 'root:*:19000:0:99999:7:::\n' > "$root/etc/shadow"
  chmod 640 "$root/etc/shadow"
  tar -C "$root" -cf "$root.tar" .
  podman import --change 'CMD ["/bin/sh"]' "$root.tar" "$name" >/dev/null
  rm -rf "$root" "$root.tar"
}
make_image localhost/peregrine-test:latest
make_image localhost/postgres-peregrine:15
# The evtgen suite's container cases run as the system users its files name.
make_image localhost/peregrine-evtgen:latest \
  'daemon:x:1:1:daemon:/usr/sbin:/bin/false\nbin:x:2:2:bin:/bin:/bin/false\nsync:x:4:65534:sync:/bin:/bin/sync\ngames:x:5:60:games:/usr/games:/bin/false\nlp:x:7:7:lp:/var/spool/lpd:/bin/false\nmail:x:8:8:mail:/var/mail:/bin/false\nuucp:x:10:10:uucp:/var/spool/uucp:/bin/false\nwww-data:x:33:33:www-data:/var/www:/bin/false\nsshd:x:100:65534::/run/sshd:/bin/false\n'

# The Docker-compatible API.
if ! curl -fsS --unix-socket "$SOCK" http://d/_ping >/dev/null 2>&1; then
  mkdir -p "$(dirname "$SOCK")"
  rm -f "$SOCK"
  nohup podman system service --time=0 "unix://$SOCK" >/var/log/podman-service.log 2>&1 &
  for _ in $(seq 1 100); do
    curl -fsS --unix-socket "$SOCK" http://d/_ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  curl -fsS --unix-socket "$SOCK" http://d/_ping >/dev/null
fi
echo "podman $(podman --version | awk '{print $3}') ready: API on $SOCK, images: $(podman images --format '{{.Repository}}:{{.Tag}}' | tr '\n' ' ')"
