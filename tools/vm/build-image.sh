#!/usr/bin/env bash
# Builds the guest's root filesystem (Debian bookworm, systemd, cgroup v2) into directory $1.
# run.sh caches the result keyed by a hash of this file and the unit it installs, so any change
# here (the package list included) makes the next run rebuild it.
# Usage: build-image.sh ROOTFS MIRROR [DEB_CACHE]
set -euo pipefail
rootfs=$1
mirror=$2
debs=${3:-}
here=$(cd "$(dirname "$0")" && pwd)

# containerd is cheap (one package, runc is already in): a test runs it with SystemdCgroup=true.
packages=systemd,systemd-sysv,dbus,udev,busybox-static,libseccomp2,runc,linux-image-cloud-amd64,procps,kmod,containerd

# DEB_CACHE keeps the downloaded packages, so that a changed recipe does not fetch them all again.
debootstrap --variant=minbase ${debs:+--cache-dir="$debs"} --include="$packages" bookworm "$rootfs" "$mirror" >&2

# The disk is /dev/vda (virtio); the kernel command line mounts it rw, fstab keeps systemd's
# remount from complaining.
echo '/dev/vda / ext4 defaults 0 1' >"$rootfs/etc/fstab"
echo tsrunc-vm >"$rootfs/etc/hostname"
# No network in the guest: nothing to resolve, and no timer may start apt or other work mid-test.
: >"$rootfs/etc/resolv.conf"
for unit in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer dpkg-db-backup.timer \
  systemd-networkd-wait-online.service; do
  ln -sf /dev/null "$rootfs/etc/systemd/system/$unit"
done
# containerd is there for tests that start it with a config of their own: not at boot.
rm -f "$rootfs/etc/systemd/system/multi-user.target.wants/containerd.service"
# A root login on the console, for whoever boots the image by hand to look around.
chroot "$rootfs" passwd -d root >/dev/null

install -m 644 "$here/tsrunc-tests.service" "$rootfs/etc/systemd/system/tsrunc-tests.service"
mkdir -p "$rootfs/etc/systemd/system/multi-user.target.wants"
ln -sf ../tsrunc-tests.service "$rootfs/etc/systemd/system/multi-user.target.wants/tsrunc-tests.service"

# What the packages' caches and logs hold is of no use in the guest and only makes the disk bigger.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
