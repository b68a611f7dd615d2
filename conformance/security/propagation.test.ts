/**
 * Mount propagation: linux.rootfsPropagation on the container's root, as
 * /proc/self/mountinfo inside shows it and as mounts flow (or not) between host and container,
 * and the propagation options of single mounts. The rootfs sits on a shared tmpfs of the host,
 * so that slave and shared have something to be slave of or shared with.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import t, { type Test } from 'tap';
import { Sandbox, busyboxRootfs, mountsUnder, processExists, waitFor } from '../lib/harness.js';
import { fields, scriptConfig } from '../lib/container-helpers.js';
import { procMount, propagationOf } from './helpers.js';

const sandbox = new Sandbox();
const shared = path.join(sandbox.dir, 'shared');
const rootfs = path.join(shared, 'rootfs');
fs.mkdirSync(shared);
execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tsrunc-test-shared', shared]);
execFileSync('mount', ['--make-shared', shared]);
t.teardown(async () => {
  for (const id of sandbox.leftovers()) await sandbox.tsrunc(['delete', '--force', id]);
  // Deepest first; lazily, should a leaked mount still be busy.
  for (const point of mountsUnder(shared).sort().reverse()) execFileSync('umount', ['-l', point]);
  await sandbox.cleanup();
});
execFileSync('cp', ['-a', busyboxRootfs, rootfs]);
for (const dir of ['late', 'inner', 'target', 'mnt-x']) fs.mkdirSync(path.join(rootfs, dir));

/** Reads `tsrunc state`'s status. */
async function status(id: string): Promise<string> {
  const result = await sandbox.tsrunc(['state', id]);
  return result.status === 0 ? (JSON.parse(result.stdout) as { status: string }).status : 'gone';
}

/** create, `between()` on the host, start, wait for the program to end; its output and delete. */
async function createStartWait(t: Test, id: string, config: object, between: () => void): Promise<string> {
  const created = await sandbox.create(id, sandbox.bundle(config as Record<string, unknown>));
  t.equal(created.status, 0, `create: ${sandbox.output(id)}`);
  between();
  const started = await sandbox.tsrunc(['start', id]);
  t.equal(started.status, 0, started.stderr);
  t.ok(await waitFor(async () => (await status(id)) === 'stopped', 10_000), 'the program ends');
  const deleted = await sandbox.tsrunc(['delete', id]);
  t.equal(deleted.status, 0, deleted.stderr);
  return sandbox.output(id);
}

const rootScript = [
  propagationOf,
  'echo root=$(prop /)',
  'if [ -e /late/hello ]; then echo late=seen; else echo late=unseen; fi',
  'mount -t tmpfs inner /inner && echo inner=mounted',
  // runtime-tools' check: bind / elsewhere, mount under /, look through the bind.
  'if mount -o rbind / /target 2>/dev/null; then',
  '  echo bind=ok; mount -t tmpfs x /mnt-x',
  '  if grep -q " /target/mnt-x " /proc/self/mountinfo; then echo exposed=yes; else echo exposed=no; fi',
  'else echo bind=refused; fi',
].join('\n');

type Expectation = { root: RegExp; late: string; exposed: string };
const cases: [string | undefined, Expectation][] = [
  ['shared', { root: /^shared:\d+$/, late: 'unseen', exposed: 'yes' }],
  ['rshared', { root: /^shared:\d+$/, late: 'unseen', exposed: 'yes' }],
  ['slave', { root: /^master:\d+$/, late: 'seen', exposed: 'no' }],
  ['rslave', { root: /^master:\d+$/, late: 'seen', exposed: 'no' }],
  ['private', { root: /^$/, late: 'unseen', exposed: 'no' }],
  ['rprivate', { root: /^$/, late: 'unseen', exposed: 'no' }],
  ['unbindable', { root: /^unbindable$/, late: 'unseen', exposed: 'refused' }],
  ['runbindable', { root: /^unbindable$/, late: 'unseen', exposed: 'refused' }],
  [undefined, { root: /^$/, late: 'unseen', exposed: 'no' }],
];

let runs = 0;
for (const [propagation, expected] of cases) {
  t.test(`rootfsPropagation ${propagation ?? 'unset (private, as runc)'}`, async (t) => {
    const id = `prop${++runs}`;
    const linux: Record<string, unknown> = { namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'ipc' }, { type: 'uts' }] };
    if (propagation !== undefined) linux['rootfsPropagation'] = propagation;
    const config = scriptConfig(rootScript, { overrides: { root: { path: rootfs }, mounts: [procMount], linux } });
    const late = path.join(rootfs, 'late');
    const output = await createStartWait(t, id, config, () => {
      // After create: a host mount under the rootfs, which only a slave root receives.
      execFileSync('mount', ['-t', 'tmpfs', 'tsrunc-test-late', late]);
      fs.writeFileSync(path.join(late, 'hello'), 'from the host\n');
    });
    execFileSync('umount', [late]);
    const seen = fields(output);
    t.match(seen['root'] ?? '(missing)', expected.root, `/ in mountinfo: "${seen['root']}"`);
    t.equal(seen['late'], expected.late, `a host mount made after create is ${expected.late} inside`);
    t.equal(seen['inner'], 'mounted', 'the container can mount');
    t.equal(seen['bind'] === 'refused' ? 'refused' : seen['exposed'], expected.exposed, 'a mount under / seen through a bind of / (runtime-tools)');
    t.same(mountsUnder(shared), [shared], "none of the container's mounts reached the host");
    t.same(sandbox.leftovers(), []);
    t.ok(sandbox.processes().every((pid) => !processExists(pid)), 'no process left');
  });
}

for (const rootfsPropagation of ['rprivate', 'rslave']) {
  t.test(`propagation options of single mounts, kept under rootfsPropagation ${rootfsPropagation}`, async (t) => {
    const script = [
      propagationOf,
      ...['p-shared', 'p-rshared', 'p-slave', 'p-private', 'p-unbindable'].map((m) => `echo ${m}=$(prop /${m})`),
      'mkdir /p-shared/a /p-shared/b',
      'mount -t tmpfs a /p-shared/a; mount -t tmpfs b /p-slave/b',
      'if grep -q " /p-slave/a " /proc/self/mountinfo; then echo slave.receives=yes; else echo slave.receives=no; fi',
      'if grep -q " /p-shared/b " /proc/self/mountinfo; then echo slave.sends=yes; else echo slave.sends=no; fi',
    ].join('\n');
    const tmpfs = (destination: string, options: string[]) => ({ destination, type: 'tmpfs', source: 'tmpfs', options: ['size=1m', ...options] });
    const config = scriptConfig(script, {
      overrides: {
        root: { path: rootfs },
        mounts: [
          procMount,
          tmpfs('/p-shared', ['shared']),
          tmpfs('/p-rshared', ['rshared']),
          // The source is read in the init's mount namespace, where /p-shared is mounted by now:
          // a bind of a shared mount joins its peer group, and "slave" makes it receive only.
          { destination: '/p-slave', type: 'bind', source: path.join(rootfs, 'p-shared'), options: ['bind', 'slave'] },
          tmpfs('/p-private', ['rprivate']),
          tmpfs('/p-unbindable', ['unbindable']),
        ],
        linux: { namespaces: [{ type: 'pid' }, { type: 'mount' }], rootfsPropagation },
      },
    });
    const output = await createStartWait(t, `prop${++runs}`, config, () => undefined);
    const seen = fields(output);
    t.match(seen['p-shared'] ?? '', /^shared:\d+$/, 'shared');
    t.match(seen['p-rshared'] ?? '', /^shared:\d+$/, 'rshared');
    t.equal(seen['p-slave'], (seen['p-shared'] ?? '').replace('shared:', 'master:'), 'slave, of the shared mount it binds');
    t.equal(seen['slave.receives'], 'yes', 'the slave receives mounts made in its master');
    t.equal(seen['slave.sends'], 'no', 'and sends none back');
    t.equal(seen['p-private'], '', 'rprivate');
    t.equal(seen['p-unbindable'], 'unbindable', 'unbindable');
    t.same(mountsUnder(shared), [shared], 'nothing reached the host');
  });
}
