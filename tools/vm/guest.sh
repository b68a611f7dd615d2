#!/bin/sh
# Inside the VM (started by tsrunc-tests.service): waits for the boot to finish, runs the
# v2-host tests with the host suite's runner, writes their output and then a last line
# "TSRUNC-VM-EXIT <status>" to the second serial port (results.log on the host), powers off.
out=/dev/ttyS1
# Raw: no "\r" added before each "\n", no echo of what the host never sends.
stty -F "$out" raw -echo 2>/dev/null
{
  echo "# guest: $(uname -r), systemd $(systemctl --version | sed -n '1s/^systemd \([0-9]*\).*/\1/p'), boot: $(systemctl is-system-running --wait)"
  echo "# guest: /sys/fs/cgroup is $(stat -f -c %T /sys/fs/cgroup), controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
} >"$out" 2>&1

cd /opt/tsrunc || exit 1
export PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
# run.sh lists the test files to run (all of dist/conformance/v2host unless it was given some).
# shellcheck disable=SC2046 # one file name a line, none with spaces
tools/run-tests.sh $(cat tools/vm/tests.list) >"$out" 2>&1
status=$?
echo "TSRUNC-VM-EXIT $status" >"$out"
sync
systemctl poweroff
