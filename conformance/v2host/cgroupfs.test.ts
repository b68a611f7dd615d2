/**
 * The cgroupfs driver on a real cgroup v2 + systemd host (the VM of tools/vm/run.sh): limits
 * reach the kernel's files and bite, update rewrites them, pause freezes, kill --all and delete
 * leave no cgroup, events --stats reads the numbers. Kept to a few containers: in the VM every
 * process start costs 10-30 times what it does on the host.
 */
import fs from 'node:fs';
import t from 'tap';
import {
  cgroupOf,
  cgroupsNamed,
  containerStatus,
  eventually,
  limitedConfig,
  notV2Host,
  readCgroup,
  readKeyed,
  rootDevice,
  setup,
  slow,
  startContainer,
} from './lib.js';

const skip = notV2Host();
const MiB = 1024 * 1024;

t.test('limits set at create are in the cgroup files, and update changes them', { skip }, async (t) => {
  const { sandbox, name } = setup(t, 'limits');
  const [major, minor] = rootDevice().split(':').map(Number);
  await startContainer(
    sandbox,
    'limits',
    limitedConfig(
      ['sleep', '600'],
      {
        memory: { limit: 64 * MiB },
        cpu: { shares: 512, quota: 50000, period: 100000, cpus: '1', mems: '0' },
        pids: { limit: 50 },
        blockIO: { weight: 500, throttleReadBpsDevice: [{ major, minor, rate: 10 * MiB }] },
      },
      `/${name}`,
    ),
  );
  const dir = cgroupOf(sandbox, 'limits');
  t.same(cgroupsNamed(name), [dir], 'the cgroup is where cgroupsPath says, at the top of the hierarchy');
  // With BFQ the v1 weight goes in as is; without it, it is scaled to io.weight's 1-10000.
  const bfq = fs.existsSync(`${dir}/io.bfq.weight`);
  const ioWeight = (v1: number, v2: number) => (bfq ? ['io.bfq.weight', `default ${v1}`] : ['io.weight', `default ${v2}`]);
  const checkFiles = (expected: Record<string, string>, when: string) => {
    for (const [file, value] of Object.entries(expected)) t.equal(readCgroup(dir, file), value, `${when}: ${file}`);
  };

  const [weightFile, weight] = ioWeight(500, 4950);
  checkFiles(
    {
      'memory.max': String(64 * MiB),
      'cpu.max': '50000 100000',
      'cpu.weight': '20', // 1 + (512 - 2) * 9999 / 262142, as runc converts shares
      'pids.max': '50',
      'cpuset.cpus': '1',
      'cpuset.mems': '0',
      [weightFile!]: weight!,
      'io.max': `${major}:${minor} rbps=${10 * MiB} wbps=max riops=max wiops=max`,
    },
    'create',
  );
  t.match(readCgroup(dir, 'cgroup.controllers'), /\bcpuset\b.*\bcpu\b.*\bio\b.*\bmemory\b.*\bpids\b/, 'the controllers were enabled down to the cgroup');

  const flags = await sandbox.tsrunc(
    ['update', '--memory', '128m', '--cpu-quota', '20000', '--cpu-period', '50000', '--cpu-share', '1024', '--pids-limit', '30', '--cpuset-cpus', '0', '--blkio-weight', '1000', 'limits'],
    slow,
  );
  t.equal(flags.status, 0, `update with flags ${flags.stderr}`);
  const [weightFile2, weight2] = ioWeight(1000, 10000);
  checkFiles(
    {
      'memory.max': String(128 * MiB),
      'cpu.max': '20000 50000',
      'cpu.weight': '39',
      'pids.max': '30',
      'cpuset.cpus': '0',
      [weightFile2!]: weight2!,
    },
    'update',
  );
  const json = await sandbox.tsrunc(['update', '--resources', '-', 'limits'], {
    ...slow,
    input: JSON.stringify({ memory: { limit: 96 * MiB }, blockIO: { throttleWriteIOPSDevice: [{ major, minor, rate: 300 }] } }),
  });
  t.equal(json.status, 0, `update --resources - ${json.stderr}`);
  checkFiles(
    { 'memory.max': String(96 * MiB), 'pids.max': '30', 'io.max': `${major}:${minor} rbps=${10 * MiB} wbps=max riops=max wiops=300` },
    'update --resources',
  );

  t.equal((await sandbox.tsrunc(['delete', '--force', 'limits'], slow)).status, 0);
  t.same(cgroupsNamed(name), [], 'delete --force removes the cgroup');
});

t.test('an allocation past memory.max is OOM-killed', { skip }, async (t) => {
  const { sandbox, name } = setup(t, 'oom');
  // busybox dd allocates its block (bs) and reading /dev/zero into it touches every page: 256 MiB
  // against a 64 MiB limit without swap. The shell reports dd's fate and stays for the host to look.
  const script = 'dd if=/dev/zero of=/dev/null bs=256M count=1 2>/dev/null; echo dd=$?; sleep 600';
  await startContainer(sandbox, 'oom', limitedConfig(['sh', '-c', script], { memory: { limit: 64 * MiB, swap: 64 * MiB } }, `/${name}`));
  const dir = cgroupOf(sandbox, 'oom');
  t.equal(readCgroup(dir, 'memory.max'), String(64 * MiB));
  t.equal(readCgroup(dir, 'memory.swap.max'), '0', 'swap equal to the limit: no swap on top');
  t.ok(await eventually(() => /dd=/.test(sandbox.output('oom'))), 'dd ended');
  t.match(sandbox.output('oom'), /^dd=137$/m, 'dd was killed by SIGKILL (128 + 9)');
  const events = readKeyed(dir, 'memory.events');
  t.ok((events['oom_kill'] ?? 0) >= 1, `memory.events counts the OOM kill (${JSON.stringify(events)})`);
  t.ok((events['max'] ?? 0) >= 1, 'and the limit being hit');
  t.equal(await containerStatus(sandbox, 'oom'), 'running', 'the container lives on: only the allocating process was killed');
  t.ok(Number(readCgroup(dir, 'memory.peak')) <= 64 * MiB, 'memory.peak never passed memory.max');
  t.equal((await sandbox.tsrunc(['delete', '--force', 'oom'], slow)).status, 0);
  t.same(cgroupsNamed(name), [], 'no cgroup left');
});

t.test('pause sets cgroup.freeze and the state paused; resume undoes both', { skip }, async (t) => {
  const { sandbox, name } = setup(t, 'freeze');
  const counter = 'i=0; while :; do i=$((i+1)); echo $i > /tmp/count; sleep 0.1; done';
  const pid = await startContainer(
    sandbox,
    'freeze',
    limitedConfig(['sh', '-c', counter], {}, `/${name}`, [{ destination: '/tmp', type: 'tmpfs', source: 'tmpfs' }]),
  );
  const dir = cgroupOf(sandbox, 'freeze');
  const count = () => {
    try {
      return Number(fs.readFileSync(`/proc/${pid}/root/tmp/count`, 'utf8').trim());
    } catch {
      return 0;
    }
  };
  t.ok(await eventually(() => count() > 2), 'the counter runs');

  t.equal((await sandbox.tsrunc(['pause', 'freeze'], slow)).status, 0);
  t.equal(readCgroup(dir, 'cgroup.freeze'), '1');
  t.equal(readKeyed(dir, 'cgroup.events')['frozen'], 1, 'cgroup.events: frozen 1');
  t.equal(await containerStatus(sandbox, 'freeze'), 'paused');
  const frozenAt = count();
  await new Promise((resolve) => setTimeout(resolve, 1500));
  t.equal(count(), frozenAt, 'the counter stands still');

  t.equal((await sandbox.tsrunc(['resume', 'freeze'], slow)).status, 0);
  t.equal(readCgroup(dir, 'cgroup.freeze'), '0');
  t.equal(readKeyed(dir, 'cgroup.events')['frozen'], 0, 'cgroup.events: frozen 0');
  t.equal(await containerStatus(sandbox, 'freeze'), 'running');
  t.ok(await eventually(() => count() > frozenAt + 2), 'the counter runs again');
  t.equal((await sandbox.tsrunc(['delete', '--force', 'freeze'], slow)).status, 0);
  t.same(cgroupsNamed(name), [], 'no cgroup left');
});

t.test('default cgroupsPath: events --stats reads it, kill --all empties it, delete removes it', { skip }, async (t) => {
  const { sandbox } = setup(t, 'kill');
  // No cgroupsPath: tsrunc picks "<id>-<hash of --root>" next to its own cgroup (a systemd unit's).
  await startContainer(sandbox, 'kill', limitedConfig(['sh', '-c', 'sleep 600 & sleep 601 & wait'], { memory: { limit: 64 * MiB }, pids: { limit: 20 } }));
  const dir = cgroupOf(sandbox, 'kill');
  const own = fs.readFileSync('/proc/self/cgroup', 'utf8').trim().replace(/^0::/, '');
  t.match(dir, new RegExp(`^/sys/fs/cgroup${own.replace(/\/[^/]+$/, '')}/kill-[0-9a-f]{8}$`), 'beside our own cgroup, named after the id');
  const procs = () => readCgroup(dir, 'cgroup.procs').split('\n').filter((line) => line !== '');
  t.ok(await eventually(() => procs().length === 3), 'the shell and its two sleeps are in the cgroup');

  const events = await sandbox.tsrunc(['events', '--stats', 'kill'], slow);
  t.equal(events.status, 0, events.stderr);
  interface Stats {
    type: string;
    id: string;
    data: { memory: { usage: { usage: number; limit: number } }; pids: { current: number; limit: number }; cpu: { usage: { total: number } } };
  }
  const stats = JSON.parse(events.stdout) as Stats;
  t.equal(stats.type, 'stats');
  t.equal(stats.id, 'kill');
  t.ok(stats.data.memory.usage.usage > 0, `memory usage ${stats.data.memory.usage.usage}`);
  t.equal(stats.data.memory.usage.limit, 64 * MiB, 'memory limit is memory.max');
  t.equal(stats.data.pids.current, 3, 'pids.current');
  t.equal(stats.data.pids.limit, 20, 'pids.max');
  t.ok(stats.data.cpu.usage.total > 0, 'cpu usage from cpu.stat');

  t.equal((await sandbox.tsrunc(['kill', '--all', 'kill', 'KILL'], slow)).status, 0);
  t.ok(await eventually(() => procs().length === 0), 'kill --all leaves no process in the cgroup');
  t.ok(await eventually(async () => (await containerStatus(sandbox, 'kill')) === 'stopped'), 'the container is stopped');
  t.equal((await sandbox.tsrunc(['delete', 'kill'], slow)).status, 0);
  t.notOk(fs.existsSync(dir), 'delete removes the cgroup');
  t.same(sandbox.leftovers(), [], 'and the state');
});
