/**
 * The native stage's plan, without running a container: every operation encoded by
 * runtime/plan/encode.ts and decoded by runtime/native/plan.c (`tsrunc-stage --print-plan`) comes
 * back with the same fields; the create compiler's first batch is in the kernel's order.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import t from 'tap';
import { encodeBatch } from '../../runtime/plan/encode.js';
import { OP_CODES, type StageOp } from '../../runtime/plan/ops.js';
import { compileCreate } from '../../runtime/container/compile-create.js';
import { planContainer } from '../../runtime/container/plan-init.js';
import type { OciConfig } from '../../runtime/spec/config.js';
import { repoRoot } from '../lib/harness.js';
import { hostProcSysMounts } from '../../runtime/linux/rootfs.js';

const stage = path.join(repoRoot, 'dist', 'native', 'tsrunc-stage');

function printed(ops: StageOp[]): string[] {
  return execFileSync(stage, ['--print-plan'], { input: encodeBatch(ops) }).toString().trim().split('\n');
}

t.test('every operation survives encoding and decoding', async (t) => {
  const all: StageOp[] = [
    { op: 'close-from', label: 'l', first: 7 },
    { op: 'open', label: 'l', dir: null, path: '/x', flags: 0x10000, mode: 0o644, into: 512 },
    { op: 'open-in-root', label: 'l', root: 512, path: '/dev', create: 'file', into: 513, check: null },
    { op: 'mount', label: 'mount 0 (tmpfs tmpfs on /tmp)', source: 'tmpfs', sourceFd: null, target: '', targetFd: 513, fstype: 'tmpfs', flags: 6, data: 'mode=755', ignoreErrno: 1, onlyAfterIgnored: false, modeOfTarget: true },
    { op: 'mount', label: 'l', source: 'tmpfs', sourceFd: null, target: '/proc', targetFd: null, fstype: 'tmpfs', flags: 1, data: null, ignoreErrno: 2, onlyAfterIgnored: true, modeOfTarget: false },
    { op: 'umount', label: 'l', target: '/proc', flags: 2, ignoreErrno: [22, 1, 2] },
    { op: 'setrlimit', label: 'l', resource: 7, soft: '18446744073709551615', hard: '18446744073709551615' },
    { op: 'capset', label: 'l', effective: [0xffffffff, 1], permitted: [2, 3], inheritable: [0, 0] },
    { op: 'hook', label: 'h', path: '/bin/sh', args: ['sh', '-c', 'exit 0'], env: ['A=1'], addHome: false, stdin: '{"id":"x"}', timeoutSeconds: 5 },
    { op: 'seccomp', label: 's', program: Buffer.from([0, 1, 2, 0, 0, 0, 0, 0]), flags: 8, into: null },
    { op: 'exec', label: 'e', path: null, args: ['sh', 'with "quotes"'], env: ['PATH=/bin', 'é=ü'], addHome: true },
    { op: 'send', label: 'l', message: { type: 'ready' } },
    { op: 'place-fds', label: 'l', fds: [0, 1, 2, null, 9] },
    { op: 'capbset-drop', label: 'l', capabilities: [0, 40] },
    { op: 'mount-setattr', label: 'l', target: 514, set: 0x200001, clear: 0x70 },
    { op: 'copy-tree', label: 'l', from: 513, to: 514 },
    { op: 'sched-setattr', label: 'l', policy: 6, flags: 1, nice: -5, priority: 0, runtime: 1000, deadline: 2000, period: 3000 },
    { op: 'ioprio-set', label: 'l', value: (3 << 13) | 0 },
    { op: 'personality', label: 'l', persona: 8 },
    { op: 'sched-setaffinity', label: 'l', cpus: [0, 3] },
    { op: 'set-mempolicy', label: 'l', mode: 2 | (1 << 15), nodes: [0, 1] },
  ];
  const lines = printed(all);
  t.same(lines, [
    'close-from 7 | "l"',
    'open -1 65536 420 512 | "l" "/x"',
    'open-in-root 512 2 513 -1 | "l" "/dev"',
    'mount 6 7 -1 513 1 0 1 | "mount 0 (tmpfs tmpfs on /tmp)" "tmpfs" "" "tmpfs" "mode=755"',
    'mount 1 3 -1 -1 2 1 0 | "l" "tmpfs" "/proc" "tmpfs" ""',
    'umount 2 22 1 2 | "l" "/proc"',
    'setrlimit 7 -1 -1 | "l"',
    'capset 4294967295 1 2 3 0 0 | "l"',
    'hook 5 3 0 | "h" "/bin/sh" "{\\"id\\":\\"x\\"}" "sh" "-c" "exit 0" "A=1"',
    'seccomp 8 -1 | "s" "\\u0000\\u0001\\u0002\\u0000\\u0000\\u0000\\u0000\\u0000"',
    'exec 2 1 1 | "e" "" "sh" "with \\"quotes\\"" "PATH=/bin" "é=ü"',
    'send | "l" "{\\"type\\":\\"ready\\"}"',
    'place-fds 0 1 2 -1 9 | "l"',
    'capbset-drop 0 40 | "l"',
    'mount-setattr 514 2097153 112 | "l"',
    'copy-tree 513 514 | "l"',
    'sched-setattr 6 1 -5 0 1000 2000 3000 | "l"',
    'ioprio-set 24576 | "l"',
    'personality 8 | "l"',
    'sched-setaffinity 0 3 | "l"',
    'set-mempolicy 32770 0 1 | "l"',
  ]);
  t.equal(Object.keys(OP_CODES).length, 56, 'as many codes as the C side knows (stage.h OP_MAX)');
});

t.test('a string with a NUL is refused before anything is sent', async (t) => {
  t.throws(() => encodeBatch([{ op: 'chdir', label: 'cwd', path: '/a\0b' }]), { message: /cwd: a string of the chdir operation contains a NUL byte/ });
});

t.test('a truncated batch is one clear error from the stage', async (t) => {
  const bytes = encodeBatch([{ op: 'chdir', label: 'l', path: '/x' }]);
  let output = '';
  try {
    execFileSync(stage, ['--print-plan'], { input: bytes.subarray(0, bytes.length - 3), stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (error) {
    output = String((error as { stdout: Buffer }).stdout);
  }
  t.match(output, /"type":"error","message":"reading the plan from tsrunc: the channel closed in the middle of a batch"/);
});

const config = (extra: Partial<OciConfig>): OciConfig => ({
  ociVersion: '1.2.0',
  process: { args: ['true'], cwd: '/', env: ['PATH=/bin'] },
  root: { path: 'rootfs' },
  mounts: [{ destination: '/proc', type: 'proc', source: 'proc' }],
  linux: { namespaces: [{ type: 'pid' }, { type: 'mount' }] },
  ...extra,
});
const host = { runtimeIsRoot: true, sourceKind: () => 'directory' as const, hasSubmounts: () => false, netDeviceExists: () => true };
const flags = { id: 'c1', bundle: '/b', stateDir: '/run/tsrunc/c1', noPivot: false, host };

t.test('create: the first batch joins, makes, and clones, in that order', async (t) => {
  const plan = planContainer(config({
    linux: {
      namespaces: [{ type: 'network', path: '/run/netns/x' }, { type: 'user' }, { type: 'mount' }, { type: 'pid' }, { type: 'time' }],
      uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
      gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
      timeOffsets: { monotonic: { secs: 86400, nanosecs: 0 } },
    },
  }), flags);
  const program = compileCreate(plan, undefined, 40);
  t.same(program.fds.map((fd) => fd.kind), ['stdio', 'stdio', 'stdio', 'channel', 'namespace', 'exec-fifo']);
  t.same(program.spawn.map((op) => op.op), [
    'close-from', 'prctl', 'setns', 'chdir', 'unshare', 'send', 'await', 'setgroups', 'setresgid', 'setresuid', 'write-file', 'clone-init',
  ]);
  t.match(program.spawn[4], { op: 'unshare', flags: 0x10000000 | 0x00020000 | 0x20000000 | 0x80 }, 'user, mount, pid and time in one unshare');
  t.match(program.spawn[10], { op: 'write-file', path: '/proc/self/timens_offsets', data: 'monotonic 86400 0\n' });
  const init = program.init({ pid: 4242, mountinfo: '1 0 8:1 / / rw - ext4 /dev/sda1 rw\n', cgroup: '0::/c1\n', setgroupsDenied: false });
  const names = init.ops.map((op) => op.op);
  t.equal(names[0], 'setsid', 'the init starts its own session');
  t.ok(names.indexOf('pivot-root') < names.indexOf('wait-start'), 'pivot_root before waiting for start');
  t.ok(names.indexOf('find-executable') < names.indexOf('wait-start'), 'the executable is looked up at create');
  t.same(names.slice(-3), ['reset-signals', 'place-fds', 'exec'], 'signals reset and fds placed right before the exec');
  t.ok(names.indexOf('reset-signals') > names.indexOf('wait-start'), 'after start');
});

t.test('create: a rootless tsrunc keeps the stage dumpable until the id maps are written', async (t) => {
  const plan = planContainer(config({
    linux: {
      namespaces: [{ type: 'user' }, { type: 'mount' }],
      uidMappings: [{ containerID: 0, hostID: 1000, size: 1 }],
      gidMappings: [{ containerID: 0, hostID: 1000, size: 1 }],
    },
  }), { ...flags, host: { ...host, runtimeIsRoot: false } });
  const names = compileCreate(plan, undefined, 40).spawn.map((op) => op.op);
  t.ok(names.indexOf('prctl') > names.indexOf('await'), 'PR_SET_DUMPABLE 0 after the maps');
});

t.test('create: no proc on the new root: the wait for start comes before pivot_root', async (t) => {
  const plan = planContainer(config({ mounts: [] }), flags);
  const names = compileCreate(plan, undefined, 40).init({ pid: 1, mountinfo: '', cgroup: '', setgroupsDenied: false }).ops.map((op) => op.op);
  t.ok(names.indexOf('wait-start') < names.indexOf('pivot-root'));
});

const hostMountinfo = [
  '1 0 8:1 / / rw - ext4 /dev/sda1 rw',
  '21 1 0:20 / /proc rw,relatime shared:12 - proc proc rw',
  '22 1 0:21 / /sys rw,relatime - sysfs sysfs rw',
  '30 22 0:27 / /sys/fs/cgroup rw - tmpfs tmpfs rw',
  '40 1 0:20 /sys /mnt/proc\\040sys ro - proc proc rw',
  '41 1 0:42 / /mnt/full\\040proc rw - proc proc rw',
  '42 41 0:43 / /mnt/full\\040proc/sysfs rw - sysfs sysfs rw',
  '50 1 0:44 / /b/rootfs/proc rw - proc proc rw',
  '51 1 0:45 / /b/rootfs2/sys rw - sysfs sysfs rw',
  '',
].join('\n');

t.test('--no-pivot: the host\'s full proc and sysfs mounts outside the rootfs, deepest first', async (t) => {
  t.same(hostProcSysMounts('/b/rootfs', hostMountinfo), ['/b/rootfs2/sys', '/mnt/full proc/sysfs', '/mnt/full proc', '/sys', '/proc'],
    'not a proc of a subdirectory, not one inside the rootfs; escapes decoded');
});

t.test('create --no-pivot: each of them made a slave, detached or covered, before the MS_MOVE', async (t) => {
  const plan = planContainer(config({}), { ...flags, noPivot: true });
  const ops = compileCreate(plan, undefined, 40).init({ pid: 1, mountinfo: hostMountinfo, cgroup: '0::/c1\n', setgroupsDenied: false }).ops;
  const hiding = ops.filter((op) => op.label.includes("hiding the host's /proc "));
  t.match(hiding, [
    { op: 'mount', target: '/proc', flags: 0x80000 | 0x4000, ignoreErrno: 2, onlyAfterIgnored: false },
    { op: 'umount', target: '/proc', flags: 2, ignoreErrno: [22, 1, 2] },
    { op: 'mount', target: '/proc', source: 'tmpfs', fstype: 'tmpfs', flags: 1 | 2 | 4 | 8, onlyAfterIgnored: true },
  ]);
  t.equal(hiding.length, 3);
  const move = ops.findIndex((op) => op.op === 'mount' && op.flags === 0x2000 && op.target === '/');
  t.ok(move > ops.indexOf(hiding[2]!), 'the rootfs moves onto / after');
  t.notOk(ops.some((op) => op.label.includes('/b/rootfs/proc (--no-pivot)')), 'not what is inside the rootfs');
  const pivoted = compileCreate(planContainer(config({}), flags), undefined, 40).init({ pid: 1, mountinfo: hostMountinfo, cgroup: '0::/c1\n', setgroupsDenied: false }).ops;
  t.notOk(pivoted.some((op) => op.label.includes('hiding')), 'pivot_root: nothing to hide (the old root goes)');
});

t.test('create: a read-only /dev is mounted writable and remounted read-only after the devices and the console', async (t) => {
  const dev = { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'ro'] };
  const pts = { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['newinstance'] };
  const plan = planContainer(config({ mounts: [{ destination: '/proc', type: 'proc', source: 'proc' }, dev, pts], process: { args: ['true'], cwd: '/', terminal: true } }), { ...flags, consoleSocket: '/tmp/console.sock' });
  const ops = compileCreate(plan, undefined, 40).init({ pid: 1, mountinfo: '1 0 8:1 / / rw - ext4 /dev/sda1 rw\n', cgroup: '0::/c1\n', setgroupsDenied: false }).ops;
  const devMount = ops.find((op) => op.op === 'mount' && op.fstype === 'tmpfs' && op.label.includes('/dev'));
  t.equal(devMount && devMount.op === 'mount' ? devMount.flags & 1 : -1, 0, 'mounted without MS_RDONLY');
  const remount = ops.findIndex((op) => op.label.includes('making /dev read-only'));
  t.match(ops[remount], { op: 'mount', target: '/dev', flags: 0x1000 | 0x20 | 0x2 | 0x1 }, 'MS_BIND | MS_REMOUNT | MS_NOSUID | MS_RDONLY');
  const consoleSteps = ops.flatMap((op, index) => (op.label.includes('setting up the terminal') ? [index] : []));
  const lastConsole = consoleSteps.length > 0 ? consoleSteps[consoleSteps.length - 1]! : -1;
  t.ok(lastConsole >= 0 && remount > lastConsole, 'after the console is set up');
  t.ok(remount > ops.findIndex((op) => op.op === 'pivot-root'), 'after pivot_root and the nodes made before it');
  const writable = compileCreate(planContainer(config({ mounts: [{ ...dev, options: ['nosuid'] }] }), flags), undefined, 40)
    .init({ pid: 1, mountinfo: '', cgroup: '0::/c1\n', setgroupsDenied: false }).ops;
  t.notOk(writable.some((op) => op.label.includes('making /dev read-only')), 'a writable /dev is left so');
});
