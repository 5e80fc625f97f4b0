#!/usr/bin/env bash
# Builds the default ARS sandbox image without any registry: a root filesystem holding the host's
# `node` binary with the shared libraries it links, a static busybox for a minimal shell toolset,
# and a non-root `agent` user (uid 10001), imported with `docker import`.
#
#   scripts/build-image.sh [image]      (default ars-sandbox:local)
#
# Users who can pull images set ARS_SANDBOX_IMAGE instead; any image with the commands their agents
# run will do.
set -euo pipefail

image=${1:-ars-sandbox:local}
say() { printf 'ars image: %s\n' "$*" >&2; }

node_bin=$(command -v node) || {
  say "error: node is not on PATH; the image is built from the host's node binary"
  exit 1
}
node_bin=$(readlink -f "$node_bin")
# A static busybox (no shared libraries) gives the sandbox sh, sleep, echo and friends.
if ! [ -x /bin/busybox ] || ldd /bin/busybox >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    say "error: a static busybox is needed at /bin/busybox (Debian package busybox-static)"
    exit 1
  fi
  say "installing busybox-static"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null; }
fi
busybox_bin=/bin/busybox

rootfs=$(mktemp -d)
trap 'rm -rf "$rootfs"' EXIT

mkdir -p "$rootfs"/{bin,usr/bin,etc,tmp,scratch,home/agent,proc,sys,dev}
chmod 1777 "$rootfs/tmp" "$rootfs/scratch"
cp "$node_bin" "$rootfs/usr/bin/node"
# The dynamic loader and every library node links, at the same paths as on the host.
ldd "$node_bin" | awk '/=>/ { print $3 } /^\t\/.*ld-linux/ { print $1 }' | while read -r lib; do
  [ -n "$lib" ] && [ -e "$lib" ] || continue
  mkdir -p "$rootfs$(dirname "$lib")"
  cp -L "$lib" "$rootfs$lib"
done
cp "$busybox_bin" "$rootfs/bin/busybox"
for tool in sh echo cat ls sleep env true false printf head tail wc sha256sum date id yes seq; do
  ln -s busybox "$rootfs/bin/$tool"
done
cat >"$rootfs/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
agent:x:10001:10001:ARS agent:/home/agent:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$rootfs/etc/group" <<'EOF'
root:x:0:
agent:x:10001:
nogroup:x:65534:
EOF
chown 10001:10001 "$rootfs/home/agent"

say "importing $image (node $("$node_bin" --version), busybox)"
tar -C "$rootfs" -c . | docker import \
  --change 'USER 10001:10001' \
  --change 'WORKDIR /home/agent' \
  --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin HOME=/home/agent' \
  --change 'LABEL ars.image=sandbox' \
  - "$image" >/dev/null
say "built $image"
