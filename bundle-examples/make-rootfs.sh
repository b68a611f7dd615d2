#!/usr/bin/env bash
# Makes a minimal root filesystem from the host's static busybox (Debian's busybox-static):
# one binary, a symlink per applet, and the few files programs expect.
# Usage: make-rootfs.sh DIR
set -euo pipefail
target=${1:?usage: make-rootfs.sh DIR}
busybox=/bin/busybox # Debian's busybox-static puts its static binary here
[ -x "$busybox" ] || { echo "make-rootfs.sh: busybox not found (apt-get install busybox-static)" >&2; exit 1; }

rm -rf "$target.tmp"
mkdir -p "$target.tmp"/{bin,dev,etc,proc,sys,tmp,root,home,var,run,usr/bin,usr/sbin,sbin}
chmod 1777 "$target.tmp/tmp"
cp "$busybox" "$target.tmp/bin/busybox"
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$target.tmp/bin/$applet"
done
cat > "$target.tmp/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat > "$target.tmp/etc/group" <<'GROUP'
root:x:0:
daemon:x:1:
nogroup:x:65534:
GROUP
echo tsrunc > "$target.tmp/etc/hostname"
rm -rf "$target"
mv "$target.tmp" "$target"
