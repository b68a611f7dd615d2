/**
 * Real containers under this host's cgroup v1 (hybrid) hierarchies: limits reach the kernel
 * and bite (OOM kill, fork refused), the host sees the values, delete and failed creates leave
 * no cgroup, and kill --all / delete reach processes the init did not start.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { Sandbox, busyboxConfig, processExists, waitFor, type JsonObject } from '../lib/harness.js';
import { cgroupManagerFromPaths } from '../../runtime/linux/cgroups/index.js';
import { detectLayout } from '../../runtime/linux/cgroups/layout.js';

let serial = 0;
/** A cgroup name no other test (or parallel test file) uses. */
function uniqueName(label: string): string {
  return `tsrunc-cgtest-${label}-${process.pid}-${++serial}`;
}

/** Cgroup directories anywhere under /sys/fs/cgroup whose name contains `name`. */
function cgroupsNamed(name: string): string[] {
  const out = execFileSync('find', ['/sys/fs/cgroup', '-type', 'd', '-name', `*${name}*`], { encoding: 'utf8' });
  return out.split('\n').filter((line) => line !== '');
}

/** Removes (deepest first) whatever is left of cgroups named `name`; a test's teardown. */
function removeCgroups(name: string): void {
  for (const dir of cgroupsNamed(name).sort((a, b) => b.length - a.length)) {
    try {
      fs.rmdirSync(dir);
    } catch {
      // still busy: the leftover check reports it
    }
  }
}

function withResources(config: JsonObject, cgroupsPath: string | undefined, resources: JsonObject): JsonObject {
  const linux: JsonObject = { ...(config['linux'] as JsonObject), resources };
  if (cgroupsPath !== undefined) linux['cgroupsPath'] = cgroupsPath;
  return { ...config, linux };
}

interface SavedState {
  pid: number;
  cgroupPaths: Record<string, string>;
}

function savedState(sandbox: Sandbox, id: string): SavedState {
  return JSON.parse(fs.readFileSync(path.join(sandbox.root, id, 'state.json'), 'utf8')) as SavedState;
}

function read(dir: string, file: string): string {
  return fs.readFileSync(path.join(dir, file), 'utf8').trim();
}

const v1 = detectLayout().version === 1;
const skip = v1 ? false : 'this file tests a cgroup v1 host';

t.test('a process allocating past memory.limit is OOM-killed: run exits 137', { skip }, async (t) => {
  const sandbox = new Sandbox();
  const name = uniqueName('oom');
  t.teardown(async () => {
    await sandbox.cleanup();
    removeCgroups(name);
  });
  // ash keeps a command substitution's output in memory: 200 MB of it against a 64 MiB limit.
  const config = withResources(busyboxConfig(['sh', '-c', 'x=$(head -c 200000000 /dev/zero | tr "\\0" a); echo survived ${#x}']), `/${name}`, {
    memory: { limit: 64 * 1024 * 1024, swap: 64 * 1024 * 1024 },
  });
  const result = await sandbox.tsrunc(['run', '--bundle', sandbox.bundle(config), 'oom'], { timeoutMs: 60_000 });
  t.equal(result.status, 137, 'killed by SIGKILL (128 + 9)');
  t.notMatch(result.stdout, /survived/);
  t.same(cgroupsNamed(name), [], 'run deleted the cgroup');
});

t.test('pids.limit stops a fork loop', { skip }, async (t) => {
  const sandbox = new Sandbox();
  const name = uniqueName('pids');
  t.teardown(async () => {
    await sandbox.cleanup();
    removeCgroups(name);
  });
  // A refused fork ends ash's loop with an error: the loop runs in a subshell.
  const script = '(for i in $(seq 1 40); do sleep 30 & done); echo forked; exec sleep 30';
  const config = withResources(busyboxConfig(['sh', '-c', script]), name, { pids: { limit: 10 } });
  t.equal((await sandbox.create('pids', sandbox.bundle(config))).status, 0, 'create succeeds with a limit below the init\'s thread count');
  t.equal((await sandbox.tsrunc(['start', 'pids'])).status, 0);
  t.ok(await waitFor(() => sandbox.output('pids').includes('forked'), 10_000), 'the loop ends');
  const dir = savedState(sandbox, 'pids').cgroupPaths['pids']!;
  t.equal(read(dir, 'pids.max'), '10');
  t.ok(Number(read(dir, 'pids.current')) <= 10, 'no more than the limit');
  t.match(read(dir, 'pids.events'), /^max [1-9]/, 'forks were refused');
  t.match(sandbox.output('pids'), /can't fork/);
  t.equal((await sandbox.tsrunc(['delete', '--force', 'pids'])).status, 0);
  t.same(cgroupsNamed(name), [], 'delete removed every hierarchy\'s directory, and the relative path\'s own level');
});

t.test('the limits show in the cgroup files from the host; delete removes the directories', { skip }, async (t) => {
  const sandbox = new Sandbox();
  const name = uniqueName('values');
  t.teardown(async () => {
    await sandbox.cleanup();
    removeCgroups(name);
  });
  const block = fs.readFileSync(path.join('/sys/block', fs.readdirSync('/sys/block')[0]!, 'dev'), 'utf8').trim().split(':').map(Number);
  const config = withResources(busyboxConfig(['sleep', '60']), `/${name}/inner`, {
    blockIO: { weight: 300, throttleReadBpsDevice: [{ major: block[0]!, minor: block[1]!, rate: 1048576 }] },
    memory: { limit: 100 * 1024 * 1024, reservation: 50 * 1024 * 1024, swap: 200 * 1024 * 1024, swappiness: 20, disableOOMKiller: false },
    cpu: { shares: 512, quota: 30000, period: 100000, cpus: '0', mems: '0' },
    pids: { limit: 64 },
    devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 10, minor: 229, access: 'rw' }],
  });
  t.equal((await sandbox.create('values', sandbox.bundle(config))).status, 0);
  const { pid, cgroupPaths: paths } = savedState(sandbox, 'values');
  t.equal(paths['memory'], `/sys/fs/cgroup/memory/${name}/inner`, 'an absolute cgroupsPath is relative to the mount point');
  t.equal(read(paths['memory']!, 'memory.limit_in_bytes'), String(100 * 1024 * 1024));
  t.equal(read(paths['memory']!, 'memory.soft_limit_in_bytes'), String(50 * 1024 * 1024));
  t.equal(read(paths['memory']!, 'memory.memsw.limit_in_bytes'), String(200 * 1024 * 1024));
  t.equal(read(paths['memory']!, 'memory.swappiness'), '20');
  t.equal(read(paths['cpu']!, 'cpu.shares'), '512');
  t.equal(read(paths['cpu']!, 'cpu.cfs_quota_us'), '30000', 'the cpu quota shows in cpu.cfs_quota_us');
  t.equal(read(paths['cpu']!, 'cpu.cfs_period_us'), '100000');
  t.equal(read(paths['cpuset']!, 'cpuset.cpus'), '0');
  t.equal(read(path.dirname(paths['cpuset']!), 'cpuset.cpus'), read('/sys/fs/cgroup/cpuset', 'cpuset.cpus'), 'a new intermediate cpuset level got its parent\'s cpus');
  t.equal(read(paths['pids']!, 'pids.max'), '64');
  const weightFile = fs.existsSync(path.join(paths['blkio']!, 'blkio.weight')) ? 'blkio.weight' : 'blkio.bfq.weight';
  t.equal(read(paths['blkio']!, weightFile), '300', `blkio weight in ${weightFile} (CFQ or BFQ, whichever the kernel has)`);
  t.equal(read(paths['blkio']!, 'blkio.throttle.read_bps_device'), `${block[0]}:${block[1]} 1048576`);
  t.same(read(paths['devices']!, 'devices.list').split('\n').slice(0, 2), ['c 10:229 rw', 'c *:* m'], 'device rules in config order, then the defaults');
  for (const [key, dir] of Object.entries(paths)) {
    t.ok(fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').includes(String(pid)), `the init is in ${key || 'the cgroup2 (unified)'} hierarchy`);
  }
  const stats = cgroupManagerFromPaths(paths).stats();
  t.ok(stats.memory.usage.usage > 0, 'stats: memory usage');
  t.equal(stats.memory.usage.limit, 100 * 1024 * 1024, 'stats: memory limit');
  t.ok(stats.pids.current >= 1, 'stats: pids');
  t.equal(stats.pids.limit, 64);
  t.ok(stats.cpu.usage.total > 0, 'stats: cpu time');
  t.ok(stats.memory.raw['rss'] !== undefined, 'stats: raw memory.stat');

  t.equal((await sandbox.tsrunc(['delete', '--force', 'values'])).status, 0);
  for (const dir of Object.values(paths)) t.notOk(fs.existsSync(dir), `${dir} removed`);
  t.same(cgroupsNamed(name).filter((dir) => !dir.endsWith(name)), [], 'only the parent levels are left (as runc leaves them)');
});

t.test('a parent cpuset cgroup made with empty cpus and mems: the container still joins', { skip }, async (t) => {
  const sandbox = new Sandbox();
  const name = uniqueName('cpuset');
  t.teardown(async () => {
    await sandbox.cleanup();
    removeCgroups(name);
  });
  const parent = path.join('/sys/fs/cgroup/cpuset', name);
  fs.mkdirSync(parent);
  t.equal(read(parent, 'cpuset.cpus'), '', 'the hand-made parent starts with no cpus');
  const config = withResources(busyboxConfig(['sleep', '60']), `/${name}/inner`, {});
  const created = await sandbox.create('cpuset', sandbox.bundle(config));
  t.equal(created.status, 0, created.stderr);
  const { pid, cgroupPaths: paths } = savedState(sandbox, 'cpuset');
  for (const file of ['cpuset.cpus', 'cpuset.mems']) {
    const top = read('/sys/fs/cgroup/cpuset', file);
    t.equal(read(parent, file), top, `the parent's ${file} is filled from the root`);
    t.equal(read(paths['cpuset']!, file), top, `the container's ${file} too`);
  }
  t.ok(read(paths['cpuset']!, 'cgroup.procs').split('\n').includes(String(pid)), 'the init is in the cpuset cgroup');
  t.equal((await sandbox.tsrunc(['delete', '--force', 'cpuset'])).status, 0);
  t.same(Object.values(paths).filter((dir) => fs.existsSync(dir)), [], 'delete removes the container\'s cgroups');
});

t.test('device rule access as runc takes it: letters other than r, w, m are dropped, with a warning', { skip }, async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  // The rules of runc's "update devices [minimal transition rules]", plus an allow to see.
  const config = withResources(busyboxConfig(['sleep', '60']), undefined, {
    devices: [
      { allow: false, access: 'rwm' },
      { allow: false, type: 'c', major: 1, minor: 11, access: 'rwa' },
      { allow: true, type: 'c', major: 10, minor: 229, access: 'wxr' },
    ],
  });
  const created = await sandbox.create('access', sandbox.bundle(config));
  t.equal(created.status, 0, created.stderr);
  const said = created.stderr + sandbox.output('access');
  t.match(said, /\/linux\/resources\/devices\/1\/access: \\?"rwa\\?": ignoring all but r, w and m/);
  t.match(said, /\/linux\/resources\/devices\/2\/access: \\?"wxr\\?": ignoring/);
  const { cgroupPaths: paths } = savedState(sandbox, 'access');
  t.same(read(paths['devices']!, 'devices.list').split('\n')[0], 'c 10:229 rw', 'the allow rule keeps r and w');
  t.equal((await sandbox.tsrunc(['delete', '--force', 'access'])).status, 0);
});

t.test('without cgroupsPath: the id, tagged with the --root, relative to our own cgroup', { skip }, async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  t.equal((await sandbox.create('dflt', sandbox.bundle(busyboxConfig(['sleep', '60'])))).status, 0);
  const { cgroupPaths: paths } = savedState(sandbox, 'dflt');
  const own = fs.readFileSync('/proc/self/cgroup', 'utf8');
  const ownMemory = /:memory:(.*)/.exec(own)![1]!;
  const leaf = path.basename(paths['memory']!);
  t.match(leaf, /^dflt-[0-9a-f]{8}$/);
  t.equal(paths['memory'], path.join('/sys/fs/cgroup/memory', ownMemory, leaf));
  t.ok(fs.existsSync(paths['devices']!));
  t.equal((await sandbox.tsrunc(['delete', '--force', 'dflt'])).status, 0);
  t.same(cgroupsNamed(leaf), []);
});

t.test('a failed create leaves no cgroup, and its error names the file and the value', { skip }, async (t) => {
  const sandbox = new Sandbox();
  const name = uniqueName('fail');
  t.teardown(async () => {
    await sandbox.cleanup();
    removeCgroups(name);
  });
  const cases: Array<[string, JsonObject, RegExp]> = [
    ['cpus', { cpu: { cpus: '0-999' } }, /cgroup: writing "0-999" to \/sys\/fs\/cgroup\/cpuset\/\S+\/cpuset\.cpus: numerical result out of range/],
    ['swap', { memory: { limit: 100 * 1024 * 1024, swap: 50 * 1024 * 1024 } }, /cgroup: writing "52428800" to \S+\/memory\.memsw\.limit_in_bytes: invalid argument/],
    ['shares', { cpu: { shares: 1 } }, /cpu\.shares: the kernel keeps "2" instead/],
    ['throttle', { blockIO: { throttleReadBpsDevice: [{ major: 250, minor: 99, rate: 100 }] } }, /cgroup: writing "250:99 100" to \S+\/blkio\.throttle\.read_bps_device: no such device/],
    ['unified', { unified: { 'memory.high': '1' } }, /unified: invalid configuration: needs cgroup v2/],
  ];
  for (const [label, resources, expected] of cases) {
    const bundle = sandbox.bundle(withResources(busyboxConfig(['true']), `${name}-${label}`, resources));
    // Output to a file: should create succeed after all, the container would hold a pipe open.
    const result = await sandbox.create(`fail-${label}`, bundle);
    t.equal(result.status, 1, `${label}: create fails`);
    t.match(result.stderr.trim(), expected, `${label}: ${result.stderr.trim()}`);
    t.same(cgroupsNamed(`${name}-${label}`), [], `${label}: no cgroup left`);
    t.same(sandbox.leftovers(), [], `${label}: no state left`);
  }
});

t.test('kill --all and delete reach processes the init did not start (shared PID namespace)', { skip }, async (t) => {
  const sandbox = new Sandbox();
  const name = uniqueName('shared');
  t.teardown(async () => {
    await sandbox.cleanup();
    removeCgroups(name);
  });
  // No pid namespace: the init is an ordinary process, and its children outlive it.
  const script = [
    'trap "echo init got TERM" TERM',
    'sh -c "trap \\"echo child got TERM; exit 0\\" TERM; echo child ready; while true; do sleep 0.1; done" &',
    'sh -c "trap \\"\\" TERM; exec sleep 1000" &',
    'echo stray=$!',
    'while true; do sleep 0.1; done',
  ].join('\n');
  const base = busyboxConfig(['sh', '-c', script]);
  const namespaces = [{ type: 'mount' }, { type: 'ipc' }, { type: 'uts' }, { type: 'network' }];
  const config = withResources({ ...base, linux: { ...(base['linux'] as JsonObject), namespaces } }, name, {});
  t.equal((await sandbox.create('shared', sandbox.bundle(config))).status, 0);
  t.equal((await sandbox.tsrunc(['start', 'shared'])).status, 0);
  t.ok(await waitFor(() => sandbox.output('shared').includes('child ready') && /stray=\d+/.test(sandbox.output('shared'))));
  const stray = Number(/stray=(\d+)/.exec(sandbox.output('shared'))![1]);
  t.equal((await sandbox.tsrunc(['kill', '--all', 'shared', 'TERM'])).status, 0);
  t.ok(await waitFor(() => sandbox.output('shared').includes('child got TERM')), 'the child got the signal');
  t.ok(await waitFor(() => sandbox.output('shared').includes('init got TERM')), 'and the init');
  t.ok(processExists(stray), 'the process ignoring TERM lives on');

  // The init dies; its children do not (no PID namespace to take them down).
  const { pid } = savedState(sandbox, 'shared');
  process.kill(pid, 'SIGKILL');
  t.ok(await waitFor(async () => (JSON.parse((await sandbox.tsrunc(['state', 'shared'])).stdout) as { status: string }).status === 'stopped'));
  t.ok(processExists(stray), 'the stray outlived the init');
  t.equal((await sandbox.tsrunc(['delete', 'shared'])).status, 0, 'delete of the stopped container');
  t.notOk(processExists(stray), 'delete killed the stray through the cgroup');
  t.same(cgroupsNamed(name), []);
});
