#!/usr/bin/env bash
# Runs conformance/v2host (or the built test files given as arguments) in a QEMU VM that is a
# cgroup v2 + systemd host: Debian bookworm, software emulation (KVM does not work on these
# machines). Prints the tests' TAP output and exits with their status; non-zero with the tail
# of the console log when the guest does not boot or the run times out.
#
#   tools/vm/run.sh [dist/conformance/v2host/X.test.js ...]
#
# Needs root, a built tree (make build rootfs) and the Debian mirror. The guest's root
# filesystem is built once with debootstrap and cached in $TSRUNC_VM_CACHE (keyed by a hash of
# build-image.sh and the unit it installs); each run makes a fresh disk from it and the project.
# TSRUNC_VM_TIMEOUT: how long the VM may run (timeout(1) syntax, default 20m).
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
here=$repo/tools/vm
cache=${TSRUNC_VM_CACHE:-/var/cache/tsrunc-vm}
vm_timeout=${TSRUNC_VM_TIMEOUT:-20m}
host_packages=(qemu-system-x86 qemu-utils debootstrap e2fsprogs)

die() { echo "tools/vm/run.sh: $*" >&2; exit 2; }

[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, and the guest image holds root-owned files)"
cd "$repo"
for needed in dist/bundle/tsrunc.cjs node_modules/.bin/tap bundle-examples/busybox/rootfs/bin/busybox; do
  [ -e "$needed" ] || die "$needed is missing: run 'make build rootfs' first"
done

if [ $# -gt 0 ]; then
  tests=("$@")
else
  mapfile -t tests < <(find dist/conformance/v2host -name '*.test.js' | sort)
fi
[ ${#tests[@]} -gt 0 ] || die "no test files (conformance/v2host built into dist/?)"
for file in "${tests[@]}"; do [ -f "$file" ] || die "$file: no such test file"; done

missing=()
for p in "${host_packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "# installing ${missing[*]}" >&2
  # The lock timeout: another make may be installing its own packages at the same moment.
  apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The Debian mirror this host uses (deb822 or one-line form); TSRUNC_VM_MIRROR overrides it.
mirror=${TSRUNC_VM_MIRROR:-}
if [ -z "$mirror" ]; then
  # Either file may be missing; the first URI of the main archive wins.
  mirror=$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null |
    grep -oE 'https?://[^ ]+/debian/?( |$)' | head -n 1 | tr -d ' ' || true)
fi
[ -n "$mirror" ] || die "no Debian mirror found in /etc/apt (set TSRUNC_VM_MIRROR)"

work=$(mktemp -d /var/tmp/tsrunc-vm.XXXXXX)
vm_pid=
tail_pid=
cleanup() {
  # timeout(1) passes the TERM on to QEMU; wait so that no QEMU outlives us.
  if [ -n "$vm_pid" ] && kill -0 "$vm_pid" 2>/dev/null; then kill "$vm_pid" 2>/dev/null; wait "$vm_pid" 2>/dev/null || true; fi
  if [ -n "$tail_pid" ]; then kill "$tail_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- The cached guest root filesystem -----------------------------------------------------------
key=$(cat "$here/build-image.sh" "$here/tsrunc-tests.service" | sha256sum | cut -c1-16)
image=$cache/rootfs-$key
mkdir -p "$cache"
exec 9>"$cache/.lock"
# Runs from several worktrees share the cache: building (and removing) images takes the lock
# alone, copying one shares it, so that no image goes away while a run copies it.
flock 9
if [ ! -e "$image/.complete" ]; then
  echo "# building the guest image (debootstrap bookworm from $mirror; a few minutes)" >&2
  started=$(date +%s)
  rm -rf "$cache"/building-* # a build that was cut short
  building=$cache/building-$key
  mkdir -p "$cache/debs" # downloaded packages, kept across recipes
  "$here/build-image.sh" "$building" "$mirror" "$cache/debs" >"$work/build.log" 2>&1 || {
    tail -n 30 "$work/build.log" >&2
    rm -rf "$building"
    die "building the guest image failed (the log's tail is above)"
  }
  touch "$building/.complete"
  mv "$building" "$image"
  echo "# guest image built in $(($(date +%s) - started)) s, cached in $image" >&2
fi
# The mtime says when an image was last used: other recipes' images unused for a day go (another
# worktree may still be on its recipe; each image is about 400 MB).
touch "$image"
find "$cache" -mindepth 1 -maxdepth 1 -name 'rootfs-*' ! -name "rootfs-$key" -mtime +0 -exec rm -rf {} +
flock -s 9

# --- This run's disk: the cached rootfs (hard links: nothing here writes to them) + the project --
started=$(date +%s)
stage=$work/stage
cp -al "$image" "$stage"
exec 9>&-
rm -f "$stage/.complete"
install -m 755 "$(command -v node)" "$stage/usr/local/bin/node"
project=$stage/opt/tsrunc
mkdir -p "$project/tools/vm" "$project/bundle-examples"
cp -a dist node_modules package.json "$project/"
cp -a bundle-examples/busybox bundle-examples/make-rootfs.sh "$project/bundle-examples/"
cp -a tools/run-tests.sh "$project/tools/"
cp -a tools/vm/guest.sh "$project/tools/vm/"
printf '%s\n' "${tests[@]}" >"$project/tools/vm/tests.list"
kernel=$(ls "$stage"/boot/vmlinuz-* | sort -V | tail -n 1)
initrd=$(ls "$stage"/boot/initrd.img-* | sort -V | tail -n 1)
cp "$kernel" "$work/vmlinuz"
cp "$initrd" "$work/initrd.img"
# Room for what the tests write (state, logs) on top of what is there.
size_mb=$(($(du -sm "$stage" | cut -f1) * 5 / 4 + 1024))
truncate -s "${size_mb}M" "$work/disk.img"
mkfs.ext4 -q -F -L tsrunc-vm -d "$stage" "$work/disk.img"
rm -rf "$stage"
echo "# disk made in $(($(date +%s) - started)) s; booting the VM (TCG, timeout $vm_timeout)" >&2

# --- Boot, stream the results as they come, collect the status --------------------------------
: >"$work/results.log"
started=$(date +%s)
timeout "$vm_timeout" qemu-system-x86_64 -accel tcg,thread=multi -cpu max -m 2048 -smp 2 \
  -kernel "$work/vmlinuz" -initrd "$work/initrd.img" \
  -append "console=ttyS0 root=/dev/vda rw panic=1 systemd.show_status=false" \
  -drive "file=$work/disk.img,format=raw,if=virtio,cache=unsafe" \
  -display none -no-reboot -monitor none -nic none \
  -serial "file:$work/console.log" -serial "file:$work/results.log" &
vm_pid=$!
# The guest sets its port raw, but a console's "\r" must not reach a TAP parser either way;
# sed -u passes each line on as it comes (tr or grep would hold it in a buffer until the end).
tail -n +1 -f --pid="$vm_pid" "$work/results.log" | sed -u -e 's/\r$//' -e '/^TSRUNC-VM-EXIT /d' &
tail_pid=$!
vm_status=0
wait "$vm_pid" || vm_status=$?
vm_pid=
wait "$tail_pid" 2>/dev/null || true
tail_pid=
elapsed=$(($(date +%s) - started))

status=$(tr -d '\r' <"$work/results.log" | sed -n 's/^TSRUNC-VM-EXIT \([0-9]*\)$/\1/p' | tail -n 1)
if [ -z "$status" ]; then
  if [ "$vm_status" -eq 124 ]; then
    echo "tools/vm/run.sh: the VM did not finish within $vm_timeout (killed); the console log's tail:" >&2
  else
    echo "tools/vm/run.sh: the VM stopped (qemu status $vm_status) without reporting a result: it did not boot or the test unit failed; the console log's tail:" >&2
  fi
  tail -n 40 "$work/console.log" | tr -d '\r' >&2
  exit 1
fi
echo "# VM: tests exited with status $status after $elapsed s in the VM" >&2
exit "$status"
