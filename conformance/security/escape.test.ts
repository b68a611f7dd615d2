/**
 * A hostile rootfs: symlinks (absolute, relative with "..", chained, dangling, appearing
 * through an earlier mount) on the way to mount destinations and device nodes. Whatever they
 * point at, everything lands inside the rootfs and the host is untouched.
 * (conformance/linux/mounts.test.ts has the first, simplest case.)
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import t from 'tap';
import { Sandbox, mountsUnder } from '../lib/harness.js';
import { assertNothingLeft, copyRootfs, expectCreateFailure, fields, scriptConfig } from '../lib/container-helpers.js';
import { forbiddenHostPaths, procMount, withLinux } from './helpers.js';

/** Mount points on the host, exactly. */
function hostMountPoints(): string[] {
  return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((line) => line.split(' ')[4] ?? '');
}

/**
 * Host mount points that appeared since `before` where an escaped mount would land: on the host
 * paths a link points at, or their parents. (Other tests running meanwhile mount in their own
 * sandboxes, which do not count.)
 */
function newHostMounts(before: string[], hostPaths: string[]): string[] {
  const watched = new Set(['/', '/tmp', '/etc', '/var', '/var/tmp', '/dev']);
  return hostMountPoints()
    .filter((p) => !before.includes(p))
    .filter((p) => watched.has(p) || hostPaths.some((h) => p === h || p.startsWith(`${h}/`)));
}

function isDir(p: string): boolean {
  try {
    return fs.lstatSync(p).isDirectory();
  } catch {
    return false;
  }
}

t.test('mount destinations through hostile symlinks land inside the rootfs', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const rootfs = copyRootfs(sandbox);
  const u = `tsrunc-escape-${path.basename(sandbox.dir)}`;
  const hostPaths = [`/${u}`, `/tmp/${u}-up`, `/tmp/${u}-chain`, `/etc/${u}-file`, `/etc/${u}-dir`, `/var/tmp/${u}`];
  forbiddenHostPaths(t, hostPaths);
  const hostMountsBefore = hostMountPoints();

  const link = (target: string, at: string) => fs.symlinkSync(target, path.join(rootfs, at));
  link('/', 'evil'); // absolute, to the root: the nested path below is missing and gets created
  link(`../../../../../../tmp/${u}-up`, 'up'); // relative, climbing far above the root, dangling
  link('/hop', 'chain'); // a chain of dangling links
  link(`../../../../tmp/${u}-chain`, 'hop');
  link(`/../../etc/${u}-file`, 'filelink'); // a file mount onto a dangling link
  link('/var/tmp', 'hostdir'); // to a path the host has and the rootfs lacks
  fs.mkdirSync(path.join(rootfs, 'a', 'b'), { recursive: true });
  link('../../../../../../../etc', 'a/b/way-up'); // to a directory the rootfs has

  const script = [
    `echo evil=$(cat /evil/${u}/deep/dir/hello)`,
    'echo up=$(cat /up/sub/hello)',
    'echo chain.fs=$(stat -f -c %T /chain)',
    'echo file=$(cat /filelink)',
    'echo hostdir.fs=$(stat -f -c %T /hostdir)',
    `echo way-up=$(cat /a/b/way-up/${u}-dir/hello)`,
  ].join('\n');
  const bind = (destination: string, source = 'data') => ({ destination, type: 'bind', source, options: ['rbind', 'ro'] });
  const tmpfs = (destination: string) => ({ destination, type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] });
  const bundle = sandbox.bundle(
    scriptConfig(script, {
      overrides: {
        root: { path: rootfs },
        mounts: [
          procMount,
          bind(`/evil/${u}/deep/dir`),
          bind('/up/sub'),
          tmpfs('/chain'),
          bind('/filelink', 'data/hello'),
          tmpfs('/hostdir'),
          bind(`/a/b/way-up/${u}-dir`),
        ],
      },
    }),
  );
  fs.mkdirSync(path.join(bundle, 'data'));
  fs.writeFileSync(path.join(bundle, 'data', 'hello'), 'bound\n');
  const result = await sandbox.tsrunc(['run', '--bundle', bundle, 'hostile']);
  t.equal(result.status, 0, result.stderr);
  const seen = fields(result.stdout);
  t.equal(seen['evil'], 'bound', 'the mount through /evil -> / is seen at its config path');
  t.equal(seen['up'], 'bound', 'the one through a ../ link');
  t.equal(seen['chain.fs'], 'tmpfs', 'the one through a chain of dangling links');
  t.equal(seen['file'], 'bound', 'the file mount on a dangling link');
  t.equal(seen['hostdir.fs'], 'tmpfs', 'the one on a link to a path only the host has');
  t.equal(seen['way-up'], 'bound', 'the one through a link far above the root');

  for (const hostPath of hostPaths) t.notOk(fs.existsSync(hostPath), `${hostPath} was not made on the host`);
  t.ok(isDir(path.join(rootfs, u, 'deep', 'dir')), 'the /evil mount point was made inside the rootfs');
  t.ok(isDir(path.join(rootfs, 'tmp', `${u}-up`, 'sub')), 'so was the /up one');
  t.ok(isDir(path.join(rootfs, 'tmp', `${u}-chain`)), 'and the /chain one');
  t.ok(fs.lstatSync(path.join(rootfs, 'etc', `${u}-file`)).isFile(), 'and the file for /filelink');
  t.ok(isDir(path.join(rootfs, 'var', 'tmp')), 'and /var/tmp');
  t.ok(isDir(path.join(rootfs, 'etc', `${u}-dir`)), 'and the way-up one, in the rootfs /etc');
  t.same(newHostMounts(hostMountsBefore, hostPaths), [], 'no new mount on the host');
  assertNothingLeft(t, sandbox);
});

t.test('a symlink that arrives with an earlier mount is resolved inside the rootfs too', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const rootfs = copyRootfs(sandbox);
  const u = `tsrunc-late-${path.basename(sandbox.dir)}`;
  const hostPaths = [`/${u}`, `/tmp/${u}`];
  forbiddenHostPaths(t, hostPaths);
  const hostMountsBefore = hostMountPoints();
  const script = [`echo root.fs=$(stat -f -c %T /payload/to-root/${u})`, 'echo up.fs=$(stat -f -c %T /payload/up)'].join('\n');
  const bundle = sandbox.bundle(
    scriptConfig(script, {
      overrides: {
        root: { path: rootfs },
        mounts: [
          procMount,
          // The payload is not in the rootfs when tsrunc starts: its links appear with this mount.
          { destination: '/payload', type: 'bind', source: 'payload', options: ['rbind'] },
          { destination: `/payload/to-root/${u}`, type: 'tmpfs', source: 'tmpfs' },
          { destination: '/payload/up', type: 'tmpfs', source: 'tmpfs' },
        ],
      },
    }),
  );
  const payload = path.join(bundle, 'payload');
  fs.mkdirSync(payload);
  fs.symlinkSync('/', path.join(payload, 'to-root'));
  fs.symlinkSync(`../../../../../../tmp/${u}`, path.join(payload, 'up'));
  const result = await sandbox.tsrunc(['run', '--bundle', bundle, 'late']);
  t.equal(result.status, 0, result.stderr);
  const seen = fields(result.stdout);
  t.equal(seen['root.fs'], 'tmpfs', 'the mount through the payload link to / is there');
  t.equal(seen['up.fs'], 'tmpfs', 'and the one through its ../ link');
  for (const hostPath of hostPaths) t.notOk(fs.existsSync(hostPath), `${hostPath} was not made on the host`);
  t.ok(isDir(path.join(rootfs, u)), 'the mount point was made in the rootfs root');
  t.ok(isDir(path.join(rootfs, 'tmp', u)), 'and in the rootfs /tmp');
  t.same(fs.readdirSync(payload).sort(), ['to-root', 'up'], 'nothing was made in the bundle payload');
  t.same(newHostMounts(hostMountsBefore, hostPaths), [], 'no new mount on the host');
  assertNothingLeft(t, sandbox);
});

t.test('device nodes and /dev through hostile symlinks stay inside the rootfs', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const rootfs = copyRootfs(sandbox);
  const u = `tsrunc-devesc-${path.basename(sandbox.dir)}`;
  const hostPaths = [`/${u}`, `/tmp/${u}`, `/tmp/${u}-dev`];
  forbiddenHostPaths(t, hostPaths);
  fs.symlinkSync('/', path.join(rootfs, 'evil'));
  fs.symlinkSync(`../../../../tmp/${u}`, path.join(rootfs, 'devdir'));
  // The rootfs's /dev itself is a link out: the default /dev tmpfs must not land on the host.
  fs.rmdirSync(path.join(rootfs, 'dev'));
  fs.symlinkSync(`/tmp/${u}-dev`, path.join(rootfs, 'dev'));
  const script = [
    `echo evil=$(stat -c '%F %t:%T' /evil/${u})`,
    "echo devdir=$(stat -c '%F %t:%T' /devdir/node)",
    'echo null=$(stat -c "%F %t:%T" /dev/null)',
    'echo dev.fs=$(stat -f -c %T /dev/)',
  ].join('\n');
  const config = withLinux(scriptConfig(script, { overrides: { root: { path: rootfs }, mounts: [procMount] } }), {
    devices: [
      { path: `/evil/${u}`, type: 'c', major: 1, minor: 5 },
      { path: '/devdir/node', type: 'c', major: 1, minor: 7 },
    ],
  });
  const result = await sandbox.tsrunc(['run', '--bundle', sandbox.bundle(config), 'devesc']);
  t.equal(result.status, 0, result.stderr);
  const seen = fields(result.stdout);
  t.equal(seen['evil'], 'character special file 1:5', 'the node made through /evil is there');
  t.equal(seen['devdir'], 'character special file 1:7', 'and the one through ../');
  t.equal(seen['null'], 'character special file 1:3', '/dev/null, in a /dev reached through a link');
  t.equal(seen['dev.fs'], 'tmpfs');
  for (const hostPath of hostPaths) t.notOk(fs.existsSync(hostPath), `${hostPath} was not made on the host`);
  t.ok(fs.lstatSync(path.join(rootfs, u)).isCharacterDevice(), 'the node is in the rootfs root');
  t.ok(fs.lstatSync(path.join(rootfs, 'tmp', u, 'node')).isCharacterDevice(), 'and in the rootfs /tmp');
  t.ok(isDir(path.join(rootfs, 'tmp', `${u}-dev`)), 'the /dev mount point was made in the rootfs /tmp');
  assertNothingLeft(t, sandbox);
});

t.test('a destination that cannot be resolved fails create cleanly', async (t) => {
  const cases: [string, (rootfs: string) => void, string, RegExp][] = [
    ['a symlink loop', (rootfs) => {
      fs.symlinkSync('loop2', path.join(rootfs, 'loop1'));
      fs.symlinkSync('loop1', path.join(rootfs, 'loop2'));
    }, '/loop1/x', /mount 1 \(tmpfs tmpfs on \/loop1\/x\).*(ELOOP|too many levels of symbolic links)/],
    ['a dangling symlink loop', (rootfs) => {
      fs.symlinkSync('/dangle2/x', path.join(rootfs, 'dangle1'));
      fs.symlinkSync('/dangle1/y', path.join(rootfs, 'dangle2'));
    }, '/dangle1/z', /mount 1 \(tmpfs tmpfs on \/dangle1\/z\).*too many levels of symbolic links/],
    ['a file on the way', () => undefined, '/etc/passwd/x', /mount 1 \(tmpfs tmpfs on \/etc\/passwd\/x\).*ENOTDIR/],
  ];
  for (const [name, prepare, destination, expected] of cases) {
    await t.test(name, async (t) => {
      const sandbox = new Sandbox();
      t.teardown(() => sandbox.cleanup());
      const rootfs = copyRootfs(sandbox);
      prepare(rootfs);
      const config = scriptConfig('true', {
        overrides: { root: { path: rootfs }, mounts: [procMount, { destination, type: 'tmpfs', source: 'tmpfs' }] },
      });
      await expectCreateFailure(t, sandbox, config, expected);
      t.same(mountsUnder(rootfs), [], 'nothing mounted on the rootfs');
    });
  }
});

t.test('a symlink swapped in and out while tsrunc creates the mount point', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const rootfs = copyRootfs(sandbox);
  const host = path.join(sandbox.dir, 'host-target'); // stands for any host directory
  fs.mkdirSync(host);
  fs.mkdirSync(path.join(rootfs, 'a'));
  // A second process keeps replacing the rootfs's /a with a link to the host directory and back.
  const swapper = spawn(process.execPath, ['-e', `
    const fs = require('fs');
    process.chdir(${JSON.stringify(rootfs)});
    for (;;) {
      try { fs.renameSync('a', 'a.dir'); } catch {}
      try { fs.symlinkSync(${JSON.stringify(host)}, 'a'); } catch {}
      try { fs.unlinkSync('a'); } catch {}
      try { fs.renameSync('a.dir', 'a'); } catch {}
    }`], { stdio: 'ignore' });
  t.teardown(() => {
    swapper.kill('SIGKILL');
  });
  const config = scriptConfig('true', {
    overrides: {
      root: { path: rootfs },
      mounts: [procMount, { destination: '/a/b/c', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] }],
    },
  });
  const bundle = sandbox.bundle(config);
  let created = 0;
  for (let i = 0; i < 10; i++) {
    const result = await sandbox.create(`race${i}`, bundle);
    // Failing is fine (the path may vanish midway); landing on the host is not.
    if (result.status === 0) created++;
    await sandbox.tsrunc(['delete', '--force', `race${i}`]);
    t.same(fs.readdirSync(host), [], `round ${i}: nothing was made in the host directory`);
    t.same(mountsUnder(host), [], `round ${i}: nothing is mounted there`);
  }
  t.comment(`${created} of 10 creates succeeded while the link was being swapped`);
  // The swapper's own command line names the sandbox: it must be gone before counting leftovers.
  const swapperExited = new Promise((resolve) => swapper.once('exit', resolve));
  swapper.kill('SIGKILL');
  await swapperExited;
  assertNothingLeft(t, sandbox);
});
