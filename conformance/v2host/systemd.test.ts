/**
 * The systemd cgroup driver (--systemd-cgroup) on a real cgroup v2 + systemd host (the VM of
 * tools/vm/run.sh): the container's cgroup is a transient scope systemd knows, with the limits
 * as unit properties (what `systemctl` shows) and in the cgroup files (what the kernel
 * enforces); update, pause/resume, events, kill --all and delete go through it; delete, and a
 * create that fails, leave no unit and no cgroup.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import t from 'tap';
import {
  cgroupOf, cgroupsNamed, containerStatus, eventually, limitedConfig, notV2Host, readCgroup, readKeyed, savedState, setup,
  type JsonObject, type Sandbox,
} from './lib.js';

const skip = notV2Host() || (!fs.existsSync('/run/systemd/system') && 'systemd is not this host\'s init');
const MiB = 1024 * 1024;
const slow = { timeoutMs: 120_000 };
const SD = ['--systemd-cgroup'];

/** `systemctl show UNIT -p A -p B`: the properties as a record. */
function unitProperties(unit: string, names: string[]): Record<string, string> {
  const out = spawnSync('systemctl', ['show', unit, ...names.flatMap((n) => ['-p', n])], { encoding: 'utf8' }).stdout;
  return Object.fromEntries(out.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

/** A unit systemd no longer has: not loaded, or loaded but inactive (dead). */
function unitGone(unit: string): boolean {
  const props = unitProperties(unit, ['LoadState', 'ActiveState']);
  return props['LoadState'] === 'not-found' || props['ActiveState'] === 'inactive';
}

async function startWithSystemd(sandbox: Sandbox, id: string, config: JsonObject): Promise<void> {
  const created = await sandbox.tsrunc([...SD, 'create', '--bundle', sandbox.bundle(config), id], { ...slow, outputFile: sandbox.outputOf(id) });
  if (created.status !== 0) throw new Error(`create ${id}: ${sandbox.output(id)}`);
  const started = await sandbox.tsrunc([...SD, 'start', id], slow);
  if (started.status !== 0) throw new Error(`start ${id}: ${started.stderr}`);
}

t.test('a scope with the limits as properties and files; update, pause, events, kill --all and delete through it', { skip }, async (t) => {
  const { sandbox, name } = setup(t, 'sdscope');
  const unit = `tsrtest-${name}.scope`;
  t.teardown(() => {
    spawnSync('systemctl', ['stop', unit]);
  });
  await startWithSystemd(sandbox, 'scope', limitedConfig(
    ['sh', '-c', 'sleep 600 & sleep 601 & wait'],
    { memory: { limit: 64 * MiB }, cpu: { shares: 512, quota: 50_000, period: 100_000, cpus: '1' }, pids: { limit: 50 }, blockIO: { weight: 500 } },
    `system.slice:tsrtest:${name}`,
  ));
  const dir = cgroupOf(sandbox, 'scope');
  t.equal(dir, `/sys/fs/cgroup/system.slice/${unit}`, 'the cgroup is the scope\'s, in the slice cgroupsPath names');
  t.same((savedState(sandbox, 'scope') as unknown as { systemdScope: unknown }).systemdScope, { unit, slice: 'system.slice' }, 'state.json names the scope');

  const shown = unitProperties(unit, ['ActiveState', 'Delegate', 'MemoryMax', 'TasksMax', 'CPUQuotaPerSecUSec', 'AllowedCPUs', 'IOWeight', 'CPUWeight', 'Slice']);
  t.same(shown, {
    ActiveState: 'active', Delegate: 'yes', MemoryMax: String(64 * MiB), TasksMax: '50', CPUQuotaPerSecUSec: '500ms',
    AllowedCPUs: '1', IOWeight: '4950', CPUWeight: '20', Slice: 'system.slice',
  }, 'systemctl show: the limits are the unit\'s');
  const status = spawnSync('systemctl', ['status', '--no-pager', unit], { encoding: 'utf8' }).stdout;
  t.match(status, new RegExp(`${unit.replace(/\./g, '\\.')} - tsrunc container scope`), 'systemctl status shows the scope');
  t.match(status, /Memory: .*max: 64\.0M/, 'with its MemoryMax');
  for (const [file, value] of Object.entries({ 'memory.max': String(64 * MiB), 'pids.max': '50', 'cpu.max': '50000 100000', 'cpuset.cpus': '1', 'cpu.weight': '20' })) {
    t.equal(readCgroup(dir, file), value, `the kernel's ${file}`);
  }
  const procs = () => readCgroup(dir, 'cgroup.procs').split('\n').filter((line) => line !== '');
  t.ok(await eventually(() => procs().length === 3), 'the shell and its two sleeps are in the scope');

  const update = await sandbox.tsrunc([...SD, 'update', '--memory', '128m', '--pids-limit', '30', '--cpuset-cpus', '0', 'scope'], slow);
  t.equal(update.status, 0, `update ${update.stderr}`);
  t.same(unitProperties(unit, ['MemoryMax', 'TasksMax', 'AllowedCPUs']), { MemoryMax: String(128 * MiB), TasksMax: '30', AllowedCPUs: '0' }, 'update changes the unit\'s properties');
  t.equal(readCgroup(dir, 'memory.max'), String(128 * MiB), 'and the files');
  t.equal(readCgroup(dir, 'pids.max'), '30');

  t.equal((await sandbox.tsrunc([...SD, 'pause', 'scope'], slow)).status, 0);
  t.equal(readKeyed(dir, 'cgroup.events')['frozen'], 1, 'pause freezes the scope');
  t.equal(await containerStatus(sandbox, 'scope'), 'paused');
  t.equal((await sandbox.tsrunc([...SD, 'resume', 'scope'], slow)).status, 0);
  t.equal(readKeyed(dir, 'cgroup.events')['frozen'], 0, 'resume thaws it');

  const events = await sandbox.tsrunc([...SD, 'events', '--stats', 'scope'], slow);
  t.equal(events.status, 0, events.stderr);
  const stats = JSON.parse(events.stdout) as { data: { memory: { usage: { limit: number } }; pids: { current: number } } };
  t.equal(stats.data.memory.usage.limit, 128 * MiB, 'events --stats reads the scope');
  t.equal(stats.data.pids.current, 3);

  t.equal((await sandbox.tsrunc([...SD, 'kill', '--all', 'scope', 'KILL'], slow)).status, 0);
  t.ok(await eventually(() => !fs.existsSync(dir) || procs().length === 0), 'kill --all empties the scope');
  t.ok(await eventually(async () => (await containerStatus(sandbox, 'scope')) === 'stopped'), 'the container is stopped');
  t.equal((await sandbox.tsrunc([...SD, 'delete', 'scope'], slow)).status, 0);
  t.ok(await eventually(() => unitGone(unit)), 'delete leaves no unit');
  t.same(cgroupsNamed(name), [], 'and no cgroup');
  t.same(sandbox.leftovers(), [], 'and no state');
});

t.test('an allocation past MemoryMax is OOM-killed in the scope', { skip }, async (t) => {
  const { sandbox, name } = setup(t, 'sdoom');
  const unit = `tsrtest-${name}.scope`;
  t.teardown(() => {
    spawnSync('systemctl', ['stop', unit]);
  });
  const script = 'dd if=/dev/zero of=/dev/null bs=256M count=1 2>/dev/null; echo dd=$?; sleep 600';
  await startWithSystemd(sandbox, 'oom', limitedConfig(['sh', '-c', script], { memory: { limit: 64 * MiB, swap: 64 * MiB } }, `system.slice:tsrtest:${name}`));
  const dir = cgroupOf(sandbox, 'oom');
  t.same(unitProperties(unit, ['MemoryMax', 'MemorySwapMax']), { MemoryMax: String(64 * MiB), MemorySwapMax: '0' });
  t.ok(await eventually(() => /dd=/.test(sandbox.output('oom'))), 'dd ended');
  t.match(sandbox.output('oom'), /^dd=137$/m, 'dd was killed by SIGKILL');
  t.ok((readKeyed(dir, 'memory.events')['oom_kill'] ?? 0) >= 1, 'memory.events counts the OOM kill');
  t.equal((await sandbox.tsrunc([...SD, 'delete', '--force', 'oom'], slow)).status, 0);
  t.ok(await eventually(() => unitGone(unit)), 'delete --force leaves no unit');
  t.same(cgroupsNamed(name), [], 'and no cgroup');
});

t.test('default scope name, annotations as properties, and a failed create leaves no unit', { skip }, async (t) => {
  const { sandbox } = setup(t, 'sddefault');
  const config = limitedConfig(['sleep', '600'], { pids: { limit: 10 } });
  config['annotations'] = { 'org.systemd.property.CollectMode': "'inactive-or-failed'", 'org.systemd.property.TimeoutStopSec': '7' };
  await startWithSystemd(sandbox, 'dflt', config);
  const dir = cgroupOf(sandbox, 'dflt');
  const unit = dir.split('/').pop()!;
  t.match(unit, /^tsrunc-dflt-[0-9a-f]{8}\.scope$/, 'no cgroupsPath: tsrunc-<id>-<hash of --root>.scope');
  t.equal(dir, `/sys/fs/cgroup/system.slice/${unit}`, 'in system.slice');
  t.same(unitProperties(unit, ['CollectMode', 'TimeoutStopUSec', 'TasksMax']), { CollectMode: 'inactive-or-failed', TimeoutStopUSec: '7s', TasksMax: '10' }, 'org.systemd.property.* annotations reach the unit');
  t.equal((await sandbox.tsrunc([...SD, 'delete', '--force', 'dflt'], slow)).status, 0);
  t.ok(await eventually(() => unitGone(unit)), 'delete --force leaves no unit');

  // The scope exists by the time the rootfs is prepared: a bad mount fails create after it.
  const name = `sdfail-${process.pid}`;
  const failing = limitedConfig(['true'], { memory: { limit: 64 * MiB } }, `system.slice:tsrtest:${name}`, [
    { destination: '/bad', type: 'tmpfs', source: 'tmpfs', options: ['size=abc'] },
  ]);
  const failed = await sandbox.tsrunc([...SD, 'create', '--bundle', sandbox.bundle(failing), 'fail'], slow);
  t.equal(failed.status, 1, 'create fails');
  t.match(failed.stderr, /mount .*EINVAL/, 'naming the mount');
  t.ok(await eventually(() => unitGone(`tsrtest-${name}.scope`)), 'no unit left');
  t.same(cgroupsNamed(name), [], 'no cgroup left');
  t.same(sandbox.leftovers(), [], 'no state left');

  const bad = await sandbox.tsrunc([...SD, 'create', '--bundle', sandbox.bundle(limitedConfig(['true'], {}, '/not/a/slice/path')), 'badpath'], slow);
  t.equal(bad.status, 1);
  t.match(bad.stderr, /^tsrunc: config\.json: \/linux\/cgroupsPath: "\/not\/a\/slice\/path": the systemd cgroup driver expects "slice:prefix:name"/);
  t.same(sandbox.leftovers(), [], 'nothing left');
});
