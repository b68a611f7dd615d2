/**
 * In a user namespace the init is the mapped root, an unprivileged host user that cannot walk
 * a 0700 root-owned directory (a bundle in one, podman's bind sources under its userdata dir):
 * tsrunc create opens the rootfs and the bind sources for it. The mounts still get their flags
 * (ro), stay apart from the host's propagation, and a failure between the id maps and the init's
 * exec names its step.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { Sandbox, mountsUnder, type JsonObject } from '../lib/harness.js';
import { assertNothingLeft, copyRootfs, fields, scriptConfig } from '../lib/container-helpers.js';

const HOST_UID = 100000;
const HOST_GID = 200000;
const userns = {
  namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'ipc' }, { type: 'uts' }, { type: 'network' }, { type: 'user' }],
  uidMappings: [{ containerID: 0, hostID: HOST_UID, size: 65536 }],
  gidMappings: [{ containerID: 0, hostID: HOST_GID, size: 65536 }],
};

function mkdir(dir: string, owner?: [number, number]): string {
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  if (owner) fs.chownSync(dir, ...owner);
  return dir;
}

t.test('rootfs and bind sources in a 0700 root-owned directory: the container starts and sees them', async (t) => {
  const sandbox = new Sandbox(); // mkdtemp: 0700, host root's; the mapped root cannot enter it
  const shared = mkdir(path.join(sandbox.dir, 'shared'));
  mkdir(path.join(shared, 'inner'));
  // A shared source: mounts made on the container's clone of it must not reach the host.
  execFileSync('mount', ['--bind', shared, shared]);
  execFileSync('mount', ['--make-shared', shared]);
  t.teardown(async () => {
    execFileSync('umount', ['-l', shared]);
    await sandbox.cleanup();
  });
  t.equal(fs.statSync(sandbox.dir).mode & 0o777, 0o700, 'the sandbox is 0700');
  const rootfs = copyRootfs(sandbox);
  // Owned by the container's root, so only the ro flag can stop it writing there.
  const readOnly = mkdir(path.join(sandbox.dir, 'ro-data'), [HOST_UID, HOST_GID]);
  fs.writeFileSync(path.join(readOnly, 'f'), 'host ro data\n');
  mkdir(path.join(readOnly, 'sub'), [HOST_UID, HOST_GID]);
  const writable = mkdir(path.join(sandbox.dir, 'rw-data'), [HOST_UID, HOST_GID]);
  fs.writeFileSync(path.join(writable, 'g'), 'host rw data\n');
  const file = path.join(sandbox.dir, 'hostname-file');
  fs.writeFileSync(file, 'from-the-host\n');

  const base = scriptConfig([
    'echo "uid=$(id -u)"',
    'echo "ro=$(cat /home/f)"',
    'echo "ro-write=$(touch /home/new 2>&1 && echo written)"',
    'echo "rw=$(cat /home/sub/g)"',
    'touch /home/sub/made && echo rw-write=yes',
    'echo "file=$(cat /etc/hostname)"',
    'mount -t tmpfs inner /var/inner && echo inner-mount=yes',
  ].join('; '));
  const config: JsonObject = {
    ...base,
    root: { path: rootfs },
    mounts: [
      ...(base['mounts'] as JsonObject[]),
      { destination: '/home', type: 'bind', source: readOnly, options: ['rbind', 'ro'] },
      { destination: '/home/sub', type: 'bind', source: writable, options: ['bind'] },
      { destination: '/etc/hostname', type: 'bind', source: file, options: ['bind', 'ro'] },
      { destination: '/var', type: 'bind', source: shared, options: ['rbind'] },
    ],
    linux: userns,
  };
  for (const flags of [[], ['--no-pivot']]) {
    const name = flags.length === 0 ? 'pivot_root' : '--no-pivot';
    fs.rmSync(path.join(writable, 'made'), { force: true });
    const result = await sandbox.tsrunc(['run', ...flags, '--bundle', sandbox.bundle(config), `unreach${flags.length}`]);
    t.equal(result.status, 0, `${name}: the container ran: ${result.stderr}`);
    const seen = fields(result.stdout);
    t.equal(seen['uid'], '0', `${name}: root inside`);
    t.equal(seen['ro'], 'host ro data', `${name}: the ro bind's content`);
    t.match(seen['ro-write'], /Read-only file system/, `${name}: the ro bind is read-only`);
    t.notOk(fs.existsSync(path.join(readOnly, 'new')), `${name}: nothing was written through it`);
    t.equal(seen['rw'], 'host rw data', `${name}: a bind on a path inside another bind`);
    t.equal(seen['rw-write'], 'yes', `${name}: the rw bind is writable`);
    t.equal(fs.statSync(path.join(writable, 'made')).uid, HOST_UID, `${name}: written as the mapped uid`);
    t.equal(seen['file'], 'from-the-host', `${name}: a file bind`);
    t.equal(seen['inner-mount'], 'yes', `${name}: the container mounted on its clone of a shared source`);
    t.same(mountsUnder(path.join(shared, 'inner')), [], `${name}: ... and the host does not see that mount`);
  }
  t.same(mountsUnder(sandbox.dir), [shared], 'no mount left but the test\'s own');
  t.same(sandbox.leftovers(), []);
  t.same(sandbox.processes(), []);
});

t.test('a missing bind source in a user namespace: one clear error, nothing left', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const missing = path.join(sandbox.dir, 'no-such-dir');
  const base = scriptConfig('true');
  const config = { ...base, mounts: [...(base['mounts'] as JsonObject[]), { destination: '/home', type: 'bind', source: missing, options: ['rbind'] }], linux: userns };
  const result = await sandbox.tsrunc(['run', '--bundle', sandbox.bundle(config), 'missing']);
  t.equal(result.status, 1);
  t.equal(result.stderr.trim(), `tsrunc: config.json: /mounts/2/source: ${missing} does not exist (bind mount on /home)`);
  assertNothingLeft(t, sandbox);
});

t.test('a failure in the stage after the id maps names its step', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  // The kernel takes hostnames of up to 64 bytes: sethostname fails in the init, after the maps.
  const hostname = 'h'.repeat(65);
  const bundle = sandbox.bundle({ ...scriptConfig('true'), hostname, linux: userns });
  const result = await sandbox.tsrunc(['run', '--bundle', bundle, 'longname']);
  t.equal(result.status, 1);
  t.equal(result.stderr.trim(), `tsrunc: setting the hostname ${hostname}: sethostname: EINVAL (invalid argument)`, 'the step and errno, one line');
  assertNothingLeft(t, sandbox);
});
