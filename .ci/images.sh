#!/usr/bin/env bash
# The base image deploy/Dockerfile runs on, made here without a registry: a root filesystem
# from Debian's own packages (libc6 and libgcc-s1: all the agent links against) imported
# into podman as localhost/peregrine-base:bookworm. Idempotent; run as root.
# Users with a registry build on debian:bookworm-slim instead (the Dockerfile's default).
set -euo pipefail

NAME=localhost/peregrine-base:bookworm
if podman image exists "$NAME"; then
  echo "$NAME present"
  exit 0
fi
command -v podman >/dev/null || { echo "podman missing: run .ci/podman-setup.sh" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root="$work/root"
mkdir -p "$root"/{etc,tmp,root,proc,sys,dev,run,var/log,host}
chmod 1777 "$root/tmp"
( cd "$work" && apt-get download -q libc6 libgcc-s1 >/dev/null )
for deb in "$work"/*.deb; do
  dpkg-deb -x "$deb" "$root"
done
# Only what a process needs to start: no shell, no package manager.
rm -rf "$root"/usr/share/doc "$root"/usr/share/lintian "$root"/usr/share/locale "$root"/usr/bin \
  "$root"/usr/sbin "$root"/usr/libexec "$root"/sbin "$root"/bin 2>/dev/null || true
printf 'root:x:0:0:root:/root:/nonexistent\nnobody:x:65534:65534:nobody:/nonexistent:/nonexistent\n' > "$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
printf 'hosts: files dns\npasswd: files\ngroup: files\n' > "$root/etc/nsswitch.conf"
tar -C "$root" -cf "$work/root.tar" .
podman import --change 'CMD ["/bin/false"]' "$work/root.tar" "$NAME" >/dev/null
echo "$NAME built from Debian's libc6 and libgcc-s1 ($(podman image inspect "$NAME" --format '{{.Size}}') bytes)"
