/**
 * linux.devices in real containers: each node has the configured type, major:minor, mode and
 * owner; fileMode, uid and gid have their defaults; a node whose mknod is refused is the
 * host's node, bind-mounted; and the host's /dev is never touched.
 */
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { Sandbox } from '../lib/harness.js';
import { assertNothingLeft, copyRootfs, expectCreateFailure, fields, scriptConfig } from '../lib/container-helpers.js';
import { forbiddenHostPaths, procMount, tsruncWithoutCapability, withLinux } from './helpers.js';

/** %F type, %t:%T major:minor in hex, %a mode in octal, %u:%g owner. */
const describe = (p: string, key: string) => `echo ${key}=$(stat -c '%F %t:%T %a %u:%g' ${p})`;

t.test('configured nodes have their type, numbers, mode and owner', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const u = `tsrunc-dev-${path.basename(sandbox.dir)}`;
  forbiddenHostPaths(t, [`/dev/${u}`, `/opt/${u}`]);
  const devices = [
    { path: '/dev/test-char', type: 'c', major: 10, minor: 666, fileMode: 0o660, uid: 1000, gid: 100 },
    { path: '/dev/test-block', type: 'b', major: 8, minor: 666, fileMode: 0o640 },
    { path: '/dev/test-fifo', type: 'p', fileMode: 0o600, uid: 5 },
    { path: '/dev/test-defaults', type: 'c', major: 1, minor: 3 },
    { path: '/dev/test-u', type: 'u', major: 1, minor: 5 },
    // The largest numbers the kernel's dev_t holds: 12-bit major, 20-bit minor.
    { path: '/dev/test-big', type: 'c', major: 4095, minor: 1048575, fileMode: 0o600 },
    // chown clears set-user-ID; the node must keep the mode asked for.
    { path: '/dev/test-suid', type: 'c', major: 1, minor: 7, fileMode: 0o4755, uid: 1000, gid: 1000 },
    // A type bit in fileMode is ignored, as runc does.
    { path: '/dev/test-typebits', type: 'c', major: 1, minor: 9, fileMode: 0o020644 },
    { path: `/dev/sub/dir/${u}`, type: 'c', major: 1, minor: 8 },
    { path: `/opt/${u}/node`, type: 'c', major: 1, minor: 9 },
    // Overriding a default device.
    { path: '/dev/null', type: 'c', major: 1, minor: 3, fileMode: 0o600, uid: 2, gid: 3 },
  ];
  const rootfs = copyRootfs(sandbox);
  const script = [
    ...devices.map((d) => describe(d.path, d.path)),
    describe('/dev/zero', 'zero'),
    // Not 1:3: redefining /dev/null drops its default cgroup rule (as in runc).
    'echo read=$(head -c 4 /dev/test-u | wc -c)',
  ].join('\n');
  const config = withLinux(scriptConfig(script, { overrides: { root: { path: rootfs } } }), { devices });
  const result = await sandbox.tsrunc(['run', '--bundle', sandbox.bundle(config), 'devices']);
  t.equal(result.status, 0, result.stderr);
  const seen = fields(result.stdout);
  t.equal(seen['/dev/test-char'], 'character special file a:29a 660 1000:100', 'a char device, 10:666, 0660, 1000:100');
  t.equal(seen['/dev/test-block'], 'block special file 8:29a 640 0:0', 'a block device; uid and gid default to 0');
  t.equal(seen['/dev/test-fifo'], 'fifo 0:0 600 5:0', 'a fifo; gid defaults to 0');
  t.equal(seen['/dev/test-defaults'], 'character special file 1:3 666 0:0', 'fileMode defaults to 0666');
  t.equal(seen['/dev/test-u'], 'character special file 1:5 666 0:0', 'type u is a character device');
  t.equal(seen['/dev/test-big'], 'character special file fff:fffff 600 0:0', 'the largest major and minor');
  t.equal(seen['/dev/test-suid'], 'character special file 1:7 4755 1000:1000', 'set-user-ID survives the chown');
  t.equal(seen['/dev/test-typebits'], 'character special file 1:9 644 0:0', 'type bits in fileMode are ignored');
  t.equal(seen[`/dev/sub/dir/${u}`], 'character special file 1:8 666 0:0', 'missing directories under /dev are made');
  t.equal(seen[`/opt/${u}/node`], 'character special file 1:9 666 0:0', 'a node outside /dev, its directories made in the rootfs');
  t.equal(seen['/dev/null'], 'character special file 1:3 600 2:3', 'a configured /dev/null replaces the default one');
  t.equal(seen['zero'], 'character special file 1:5 666 0:0', 'the other defaults are there');
  t.equal(seen['read'], '4', 'the nodes work');
  t.notOk(fs.existsSync(`/dev/${u}`) || fs.existsSync('/dev/test-char') || fs.existsSync(`/opt/${u}`), "nothing was made in the host's /dev or /opt");
  t.ok(fs.lstatSync(path.join(rootfs, 'opt', u, 'node')).isCharacterDevice(), 'the node outside /dev is in the rootfs');
  assertNothingLeft(t, sandbox);
});

t.test("where mknod is refused, the host's node is bind-mounted", async (t) => {
  // tsrunc run without CAP_MKNOD (as in a user namespace): every mknod fails with EPERM.
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const script = [
    describe('/dev/full', 'full'),
    describe('/dev/null', 'null'),
    "echo full.mount=$(awk '$5==\"/dev/full\" {print $4}' /proc/self/mountinfo)",
    "echo null.mount=$(awk '$5==\"/dev/null\" {print $4}' /proc/self/mountinfo)",
    'echo discarded > /dev/null && echo null.write=ok',
  ].join('\n');
  const config = withLinux(scriptConfig(script), { devices: [{ path: '/dev/full', type: 'c', major: 1, minor: 7, fileMode: 0o600, uid: 1 }] });
  const result = await tsruncWithoutCapability(sandbox, 'mknod', ['run', '--bundle', sandbox.bundle(config), 'fallback']);
  t.equal(result.status, 0, result.stderr);
  const seen = fields(result.stdout);
  const host = (p: string) => {
    const stat = fs.statSync(p);
    return `character special file ${(stat.rdev >> 8).toString(16)}:${(stat.rdev & 0xff).toString(16)} ${(stat.mode & 0o7777).toString(8)} ${stat.uid}:${stat.gid}`;
  };
  t.equal(seen['full'], host('/dev/full'), "/dev/full is the host's node, with the host's mode and owner");
  t.equal(seen['null'], host('/dev/null'), 'so is the default /dev/null');
  t.ok(seen['full.mount'], '/dev/full is a bind mount');
  t.ok(seen['null.mount'], '/dev/null is a bind mount');
  t.equal(seen['null.write'], 'ok', 'and works');
  assertNothingLeft(t, sandbox);

  await t.test('and with no host node to bind, create fails cleanly', async (t) => {
    const inner = new Sandbox();
    t.teardown(() => inner.cleanup());
    const bad = withLinux(scriptConfig('true'), { devices: [{ path: '/dev/tsrunc-no-such-device', type: 'c', major: 1, minor: 7 }] });
    const failed = await tsruncWithoutCapability(inner, 'mknod', ['create', '--bundle', inner.bundle(bad), 'nohost']);
    t.equal(failed.status, 1, 'create exits with status 1');
    t.match(failed.stderr.trim(), /bind-mounting host device \/dev\/tsrunc-no-such-device: mount: ENOENT/);
    t.equal(failed.stderr.trim().split('\n').length, 1, 'one error line');
    assertNothingLeft(t, inner);
  });
});

t.test('bad device paths are refused at create', async (t) => {
  const cases: [object, RegExp][] = [
    [{ path: 'dev/relative', type: 'c', major: 1, minor: 3 }, /config\.json: \/linux\/devices\/0\/path: "dev\/relative" is not an absolute path/],
    [{ path: '/', type: 'c', major: 1, minor: 3 }, /config\.json: \/linux\/devices\/0\/path: "\/" names no file/],
    [{ path: '/dev/x', type: 'c', minor: 3 }, /\/linux\/devices\/0: must have required property 'major'/],
    [{ path: '/dev/x', type: 'z', major: 1, minor: 3 }, /\/linux\/devices\/0\/type: must be equal to one of the allowed values/],
  ];
  for (const [device, expected] of cases) {
    await t.test(JSON.stringify(device), async (t) => {
      const sandbox = new Sandbox();
      t.teardown(() => sandbox.cleanup());
      await expectCreateFailure(t, sandbox, withLinux(scriptConfig('true'), { devices: [device] }), expected);
    });
  }
});

t.test('the default devices and links when /dev is a configured tmpfs', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const script = [
    ...['null', 'zero', 'full', 'random', 'urandom', 'tty'].map((d) => describe(`/dev/${d}`, d)),
    'echo ptmx=$(readlink /dev/ptmx)',
  ].join('\n');
  const mounts = [procMount, { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['mode=755'] }];
  const result = await sandbox.tsrunc(['run', '--bundle', sandbox.bundle(scriptConfig(script, { overrides: { mounts } })), 'defaults']);
  t.equal(result.status, 0, result.stderr);
  const seen = fields(result.stdout);
  const expected: Record<string, string> = { null: '1:3', zero: '1:5', full: '1:7', random: '1:8', urandom: '1:9', tty: '5:0' };
  for (const [name, numbers] of Object.entries(expected)) {
    t.equal(seen[name], `character special file ${numbers} 666 0:0`, `/dev/${name}`);
  }
  t.equal(seen['ptmx'], 'pts/ptmx');
  assertNothingLeft(t, sandbox);
});
