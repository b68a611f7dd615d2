/**
 * The cgroup v2 manager on a host that is not pure v2: against a private mount of the real
 * cgroup2 hierarchy (here it offers only hugetlb, but cgroup.procs, cgroup.freeze, cgroup.kill,
 * cpu.stat and eBPF device filters all work), and against a plain directory tree standing in
 * for the control files of the controllers this host lacks on v2.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import type { OciConfig } from '../../runtime/spec/config.js';
import { CgroupV2Manager } from '../../runtime/linux/cgroups/v2.js';
import { cgroupManagerFromPaths, signalAllInCgroup } from '../../runtime/linux/cgroups/index.js';
import { deviceRules } from '../../runtime/linux/cgroups/devices-v1.js';
import { waitFor } from '../lib/harness.js';

const config = (linux: OciConfig['linux']): OciConfig => ({ ociVersion: '1.2.0', linux });
const read = (dir: string, file: string) => fs.readFileSync(path.join(dir, file), 'utf8').trim();

/** Mounts the cgroup2 hierarchy at a fresh temp dir; the teardown unmounts and removes it. */
function privateCgroup2(t: Test): string {
  const mountPoint = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-cg2-'));
  execFileSync('mount', ['-t', 'cgroup2', 'none', mountPoint]);
  const enabledBefore = read(mountPoint, 'cgroup.subtree_control').split(/\s+/);
  t.teardown(() => {
    // Controllers the manager enabled at the top are given back, so the host is as it was.
    for (const controller of read(mountPoint, 'cgroup.subtree_control').split(/\s+/)) {
      if (controller !== '' && !enabledBefore.includes(controller)) {
        try {
          fs.writeFileSync(path.join(mountPoint, 'cgroup.subtree_control'), `-${controller}`);
        } catch {
          // another user of the hierarchy needs it now
        }
      }
    }
    execFileSync('umount', [mountPoint]);
    fs.rmdirSync(mountPoint);
  });
  return mountPoint;
}

function removeTree(dir: string): void {
  if (!fs.existsSync(dir)) return;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) removeTree(path.join(dir, entry.name));
  fs.rmdirSync(dir);
}

/** Runs `script` in a shell that first moves itself into `cgroupDir`; its output. */
function runIn(cgroupDir: string, script: string): string {
  return execFileSync('sh', ['-c', `echo $$ > ${cgroupDir}/cgroup.procs && ${script}`], { encoding: 'utf8' });
}

t.test('on a private cgroup2 mount: create, limits, join, device filter, freeze, stats, kill, destroy', async (t) => {
  const mountPoint = privateCgroup2(t);
  const top = path.join(mountPoint, `tsrunc-v2test-${process.pid}`);
  t.teardown(() => removeTree(top));
  const dir = path.join(top, 'c');
  const rules = deviceRules(config({ resources: { devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 11, access: 'r' }] } }));
  const manager = new CgroupV2Manager(dir, { mountPoint, deviceRules: rules });
  t.same(manager.paths, { '': dir });

  manager.create();
  t.ok(fs.existsSync(dir), 'the directory and its parent are made');
  t.match(read(top, 'cgroup.subtree_control'), /hugetlb/, 'the parent hands its controllers down');
  t.ok(fs.existsSync(path.join(dir, 'hugetlb.2MB.max')), 'so the container\'s cgroup has the limit files');

  manager.apply({ hugepageLimits: [{ pageSize: '2MB', limit: 4194304 }] });
  t.equal(read(dir, 'hugetlb.2MB.max'), '4194304');
  t.throws(() => manager.apply({ pids: { limit: 5 } }), /cgroup: writing "5" to \S+\/c\/pids\.max: no such file or directory/, 'a controller this v2 lacks: the file and value are named');
  t.throws(() => manager.apply({ hugepageLimits: [{ pageSize: '3MB', limit: 1 }] }), /hugetlb\.3MB\.max: no such file or directory/, 'a page size the kernel lacks');

  // Device filter (attached by the first apply): device nodes of our own, opened from inside.
  const nodes = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-devnodes-'));
  t.teardown(() => fs.rmSync(nodes, { recursive: true, force: true }));
  execFileSync('mknod', [path.join(nodes, 'kmsg'), 'c', '1', '11']);
  execFileSync('mknod', [path.join(nodes, 'full'), 'c', '1', '7']);
  execFileSync('mknod', [path.join(nodes, 'mem'), 'c', '1', '1']);
  const probe = (node: string) =>
    `if (exec 3<${nodes}/${node}) 2>/dev/null; then echo ${node}-r=ok; else echo ${node}-r=denied; fi; ` +
    `if (exec 3>${nodes}/${node}) 2>/dev/null; then echo ${node}-w=ok; else echo ${node}-w=denied; fi`;
  const verdicts = runIn(dir, ['kmsg', 'full', 'mem'].map(probe).join('; ')).trim().split('\n');
  t.same(verdicts, ['kmsg-r=ok', 'kmsg-w=denied', 'full-r=ok', 'full-w=ok', 'mem-r=denied', 'mem-w=denied'], 'the eBPF program enforces the rules');
  t.match(runIn(dir, `mknod ${nodes}/made c 1 1 && echo made`), /made/, 'mknod of any char device is allowed (c *:* m)');

  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  const exited = new Promise<string | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  t.teardown(() => child.kill('SIGKILL'));
  manager.join(child.pid!);
  t.same(manager.pids(), [child.pid], 'pids() lists the joined process');

  manager.freeze();
  t.match(read(dir, 'cgroup.events'), /frozen 1/);
  t.ok(manager.isFrozen());
  t.ok(cgroupManagerFromPaths({ '': dir }).isFrozen(), 'a manager rebuilt from the saved paths sees it too');
  manager.thaw();
  t.notOk(manager.isFrozen());
  t.match(read(dir, 'cgroup.events'), /frozen 0/);

  const stats = manager.stats();
  t.ok(stats.hugetlb['2MB'] !== undefined, 'stats: hugetlb per page size');
  t.equal(stats.hugetlb['2MB']!.usage, 0);
  t.ok(stats.cpu.usage.total >= 0, 'stats: cpu.stat is read');

  t.same(signalAllInCgroup(manager, 9), [], 'SIGKILL goes through cgroup.kill');
  t.equal(await exited, 'SIGKILL');
  t.ok(await waitFor(() => manager.pids().length === 0));
  manager.destroy();
  t.notOk(fs.existsSync(dir), 'destroy removes the directory');
  manager.destroy();
  t.pass('destroy again is fine');
});

t.test('against a plain directory tree: the files it writes', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-v2tree-'));
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  const dir = path.join(root, 'machine', 'c1');
  const manager = new CgroupV2Manager(dir, { mountPoint: root });
  manager.create();
  t.ok(fs.statSync(dir).isDirectory(), 'the levels are made (no cgroup.controllers: nothing to enable)');
  const files = [
    'pids.max', 'memory.swap.max', 'memory.max', 'memory.low', 'io.weight', 'io.max', 'cpu.weight', 'cpu.max', 'cpu.idle',
    'cpuset.cpus', 'cpuset.mems', 'hugetlb.1GB.max', 'memory.high', 'cgroup.procs', 'cgroup.freeze', 'cgroup.events',
  ];
  for (const file of files) fs.writeFileSync(path.join(dir, file), '');
  manager.apply({
    pids: { limit: 100 },
    memory: { limit: 100 * 1024 * 1024, swap: 300 * 1024 * 1024, reservation: 10 * 1024 * 1024 },
    blockIO: { weight: 500, throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 200 }] },
    cpu: { shares: 1024, quota: 50000, period: 100000, idle: 0, cpus: '0-1', mems: '0' },
    hugepageLimits: [{ pageSize: '1GB', limit: 0 }],
    unified: { 'memory.high': '52428800' },
  });
  const expected: Record<string, string> = {
    'pids.max': '100',
    'memory.swap.max': String(200 * 1024 * 1024),
    'memory.max': String(100 * 1024 * 1024),
    'memory.low': String(10 * 1024 * 1024),
    'io.weight': '4950',
    'io.max': '8:0 wiops=200',
    'cpu.weight': '39',
    'cpu.max': '50000 100000',
    'cpu.idle': '0',
    'cpuset.cpus': '0-1',
    'cpuset.mems': '0',
    'hugetlb.1GB.max': '0',
    'memory.high': '52428800',
  };
  for (const [file, value] of Object.entries(expected)) t.equal(read(dir, file), value, file);
  t.notOk(fs.existsSync(path.join(dir, 'hugetlb.1GB.rsvd.max')), 'an optional file that is missing is skipped, not made');

  t.throws(() => manager.apply({ rdma: { mlx5_0: { hcaHandles: 2 } } }), /writing "mlx5_0 hca_handle=2" to \S+\/rdma\.max: no such file or directory/);

  manager.join(4242);
  t.equal(read(dir, 'cgroup.procs'), '4242');
  fs.writeFileSync(path.join(dir, 'cgroup.events'), 'populated 1\nfrozen 1\n');
  manager.freeze();
  t.equal(read(dir, 'cgroup.freeze'), '1');
  t.ok(manager.isFrozen());
  fs.writeFileSync(path.join(dir, 'cgroup.events'), 'populated 1\nfrozen 0\n');
  manager.thaw();
  t.equal(read(dir, 'cgroup.freeze'), '0');
});
