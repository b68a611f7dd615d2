#!/usr/bin/env bash
# Makes DIR a minimal Debian bookworm root filesystem whose /sbin/init is systemd, for
# conformance/linux/systemd-container.test.ts (systemd as a container's PID 1).
#
#   tools/systemd-rootfs.sh DIR
#
# The image is built once with debootstrap (4-7 minutes on a 2-CPU machine, most of it dpkg) and kept
# in $TSRUNC_SYSTEMD_CACHE (default /var/cache/tsrunc-systemd-rootfs), keyed by a hash of this
# file, so any change here rebuilds it. DIR gets a copy of its own (systemd in the container
# writes to its root filesystem; the cached image stays as built) and is left alone when it
# already holds this recipe's copy. Downloaded packages are kept in the cache's debs/, seeded
# from tools/vm's package cache (/var/cache/tsrunc-vm/debs, only read) when that exists.
# Needs root and the Debian mirror this host's apt uses (TSRUNC_SYSTEMD_MIRROR overrides it).
set -euo pipefail

target=${1:?usage: tools/systemd-rootfs.sh DIR}
script=$(readlink -f "$0")
cache=${TSRUNC_SYSTEMD_CACHE:-/var/cache/tsrunc-systemd-rootfs}
vm_debs=/var/cache/tsrunc-vm/debs
# systemd-sysv gives /sbin/init; dbus lets systemctl and systemd's own units talk as on a host.
packages=systemd,systemd-sysv,dbus

die() { echo "tools/systemd-rootfs.sh: $*" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap)"

key=$(sha256sum "$script" | cut -c1-16)
if [ -e "$target/.tsrunc-systemd-rootfs" ] && [ "$(cat "$target/.tsrunc-systemd-rootfs")" = "$key" ]; then
  exit 0 # this recipe's copy is there already
fi

if ! command -v debootstrap >/dev/null; then
  echo "# installing debootstrap" >&2
  apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends debootstrap >/dev/null
fi

mirror=${TSRUNC_SYSTEMD_MIRROR:-}
if [ -z "$mirror" ]; then
  mirror=$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null |
    grep -oE 'https?://[^ ]+/debian/?( |$)' | head -n 1 | tr -d ' ' || true)
fi
[ -n "$mirror" ] || die "no Debian mirror found in /etc/apt (set TSRUNC_SYSTEMD_MIRROR)"

image=$cache/rootfs-$key
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9 # two builds at once (two checkouts): one builds, the other waits and copies
if [ ! -e "$image/.complete" ]; then
  echo "# building the systemd root filesystem (debootstrap bookworm from $mirror)" >&2
  started=$(date +%s)
  rm -rf "$cache"/rootfs-* "$cache"/building-* # older recipes, and any build that was cut short
  building=$cache/building-$key
  mkdir -p "$cache/debs"
  if [ -d "$vm_debs" ]; then
    # Copies (hard links where the filesystem allows) of what tools/vm downloaded; that cache
    # itself is never written to.
    cp -n -l "$vm_debs"/*.deb "$cache/debs/" 2>/dev/null || cp -n "$vm_debs"/*.deb "$cache/debs/" 2>/dev/null || true
  fi
  log=$cache/build.log
  debootstrap --variant=minbase --cache-dir="$cache/debs" --include="$packages" bookworm "$building" "$mirror" >"$log" 2>&1 || {
    tail -n 30 "$log" >&2
    die "debootstrap failed (whole log in $log)"
  }

  # As container images ship it: an empty machine-id, so that systemd makes one at boot (from
  # the container_uuid the config gives) instead of every container sharing the build's.
  : >"$building/etc/machine-id"
  echo tsrunc-systemd >"$building/etc/hostname"
  : >"$building/etc/resolv.conf"
  # Nothing is masked: podman's config for a systemd container (see the test) lets every unit
  # of this image start, or skip itself on its own conditions (getty without /dev/tty0).
  rm -rf "$building"/var/cache/apt/archives/*.deb "$building"/var/lib/apt/lists/*

  touch "$building/.complete"
  mv "$building" "$image"
  echo "# systemd root filesystem built in $(( $(date +%s) - started )) s: $image" >&2
fi

rm -rf "$target.tmp"
cp -a "$image" "$target.tmp"
rm -f "$target.tmp/.complete"
echo "$key" >"$target.tmp/.tsrunc-systemd-rootfs"
rm -rf "$target"
mv "$target.tmp" "$target"
