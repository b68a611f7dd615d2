/**
 * runtime-spec: a namespace type missing from linux.namespaces is inherited from the runtime.
 * Without a mount namespace tsrunc only chroots: mounting in the host's namespace would leave
 * mounts behind on the host (runc does leave them).
 */
import fs from 'node:fs';
import t from 'tap';
import { Sandbox, busyboxConfig, busyboxRootfs, mountsUnder } from '../lib/harness.js';

t.test('with no namespaces listed the container shares every namespace of the host', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const bundle = sandbox.bundle(busyboxConfig(['sleep', '60'], { linux: { namespaces: [] } }));
  const log = `${sandbox.dir}/log`;
  const created = await sandbox.tsrunc(['--log', log, 'create', '--bundle', bundle, 'shared'], { outputFile: sandbox.outputOf('shared') });
  t.equal(created.status, 0, created.stdout);
  const { pid } = JSON.parse((await sandbox.tsrunc(['state', 'shared'])).stdout) as { pid: number };
  for (const kind of ['ipc', 'mnt', 'net', 'pid', 'uts', 'cgroup']) {
    t.equal(fs.readlinkSync(`/proc/${pid}/ns/${kind}`), fs.readlinkSync(`/proc/self/ns/${kind}`), `${kind} is the host's`);
  }
  t.same(mountsUnder(sandbox.dir), [], 'nothing was mounted on the host');
  // The stage reopens exec.fifo through /proc, which a chroot without mounts has not: it
  // waits for start before it chroots.
  t.equal((await sandbox.tsrunc(['start', 'shared'])).status, 0, 'start');
  t.equal(fs.readlinkSync(`/proc/${pid}/root`), busyboxRootfs, 'the process is chrooted into the rootfs');
  t.match(fs.readFileSync(log, 'utf8'), /no mount namespace: tsrunc only chroots/, 'the skipped mounts are logged');
  t.equal((await sandbox.tsrunc(['delete', '--force', 'shared'])).status, 0);
  t.same(sandbox.leftovers(), []);
});
