/**
 * linux.namespaces "user" with uidMappings/gidMappings, made by the native stage: what the
 * container sees, what the host sees, what container root cannot do on the host, joining an
 * existing user namespace (and the namespaces it owns), and exec into such a container.
 */
import fs from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { Sandbox, type JsonObject } from '../lib/harness.js';
import { assertNothingLeft, fields, maskedProcSys, probeCapabilities, procProbe, scriptConfig } from '../lib/container-helpers.js';
import { listenForConsole } from '../terminal/console-receiver.js';

const HOST_UID = 100000;
const HOST_GID = 200000;
const mappings = {
  uidMappings: [{ containerID: 0, hostID: HOST_UID, size: 65536 }],
  gidMappings: [{ containerID: 0, hostID: HOST_GID, size: 65536 }],
};
const allNamespaces = [{ type: 'pid' }, { type: 'mount' }, { type: 'ipc' }, { type: 'uts' }, { type: 'network' }, { type: 'user' }];

/** A busybox container in a new user namespace (and every other namespace) running `script`. */
function usernsConfig(script: string, linux: JsonObject = {}, overrides: JsonObject = {}): JsonObject {
  const config = scriptConfig(script, { overrides });
  return { ...config, linux: { namespaces: allNamespaces, ...mappings, ...linux } };
}

/** The mapped root must reach bind sources under the sandbox (mkdtemp makes it 0700). */
function openSandbox(sandbox: Sandbox): void {
  fs.chmodSync(sandbox.dir, 0o755);
}

function statusIds(pid: number): { uid: string; gid: string } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return { uid: /^Uid:\s*(.*)$/m.exec(status)![1]!.trim(), gid: /^Gid:\s*(.*)$/m.exec(status)![1]!.trim() };
}

async function sleeping(t: Test, sandbox: Sandbox, id: string, config: JsonObject): Promise<number> {
  const created = await sandbox.create(id, sandbox.bundle(config));
  t.equal(created.status, 0, `create ${id}: ${sandbox.output(id)}`);
  t.equal((await sandbox.tsrunc(['start', id])).status, 0, `start ${id}`);
  return (JSON.parse((await sandbox.tsrunc(['state', id])).stdout) as { pid: number }).pid;
}

t.test('inside: the configured maps, uid and gid 0, full capabilities in the namespace', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const script = 'echo "uid_map=$(cat /proc/self/uid_map)"; echo "gid_map=$(cat /proc/self/gid_map)"; echo "uid=$(id -u)"; echo "gid=$(id -g)"; echo "pid=$$"';
  const result = await sandbox.tsrunc(['run', '--bundle', sandbox.bundle(usernsConfig(script)), 'u1']);
  t.equal(result.status, 0, result.stderr);
  const seen = fields(result.stdout);
  t.same(seen['uid_map']?.trim().split(/\s+/), ['0', `${HOST_UID}`, '65536'], 'uid_map as configured');
  t.same(seen['gid_map']?.trim().split(/\s+/), ['0', `${HOST_GID}`, '65536'], 'gid_map as configured');
  t.equal(seen['uid'], '0', 'id -u is 0 inside');
  t.equal(seen['gid'], '0', 'id -g is 0 inside');
  t.equal(seen['pid'], '1', 'PID 1 of its own pid namespace');
  assertNothingLeft(t, sandbox);
});

t.test('from the host: the process runs as the mapped ids, and container root is not host root', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  openSandbox(sandbox);
  // Mounted on directories the rootfs has: its root (host root) owns them, and the container's
  // root could not create a mount point there.
  const hostDir = path.join(sandbox.dir, 'host-dir');
  fs.mkdirSync(hostDir, { mode: 0o755 });
  const hostFile = path.join(hostDir, 'host-root-file');
  fs.writeFileSync(hostFile, 'host\n');
  fs.chmodSync(hostFile, 0o644); // owned by host root, writable only by it
  const data = path.join(sandbox.dir, 'data');
  fs.mkdirSync(data, { mode: 0o755 });
  fs.chownSync(data, HOST_UID, HOST_GID); // the container's root owns it
  const mounts = [
    { destination: '/proc', type: 'proc', source: 'proc' },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'mode=755'] },
    { destination: '/home', type: 'bind', source: hostDir, options: ['rbind'] },
    { destination: '/tmp', type: 'bind', source: data, options: ['rbind'] },
  ];
  const script = [
    'if echo owned >> /home/host-root-file; then echo write=yes; else echo write=no; fi',
    'if mknod /dev/mem2 c 1 1 2>/dev/null; then echo mknod=yes; else echo mknod=no; fi',
    'if echo 1 > /proc/sys/vm/drop_caches; then echo sysctl=yes; else echo sysctl=no; fi',
    'touch /tmp/made-inside && mkdir /tmp/dir-inside && touch /tmp/chowned && chown 1000:2000 /tmp/chowned',
    'echo done=1; sleep 1000',
  ].join('; ');
  const pid = await sleeping(t, sandbox, 'u2', usernsConfig(script, {}, { mounts }));
  const ids = statusIds(pid);
  t.equal(ids.uid, `${HOST_UID}\t${HOST_UID}\t${HOST_UID}\t${HOST_UID}`, '/proc/PID/status Uid: the mapped host uid');
  t.equal(ids.gid, `${HOST_GID}\t${HOST_GID}\t${HOST_GID}\t${HOST_GID}`, '/proc/PID/status Gid: the mapped host gid');
  t.ok(await waitForOutput(sandbox, 'u2', /done=1/), sandbox.output('u2'));
  const seen = fields(sandbox.output('u2'));
  t.equal(seen['write'], 'no', 'cannot write a host-root-owned file bind-mounted in');
  t.equal(fs.readFileSync(hostFile, 'utf8'), 'host\n', 'the host file is unchanged');
  t.equal(seen['mknod'], 'no', 'cannot make device nodes');
  t.equal(seen['sysctl'], 'no', 'cannot write a host-wide sysctl');
  t.equal(fs.statSync(path.join(data, 'made-inside')).uid, HOST_UID, 'a file it created is owned by the mapped host uid');
  t.equal(fs.statSync(path.join(data, 'made-inside')).gid, HOST_GID, '... and the mapped host gid');
  t.equal(fs.statSync(path.join(data, 'dir-inside')).uid, HOST_UID, 'a directory too');
  const chowned = fs.statSync(path.join(data, 'chowned'));
  t.same([chowned.uid, chowned.gid], [HOST_UID + 1000, HOST_GID + 2000], 'chown 1000:2000 inside is 101000:202000 on the host');

  t.equal((await sandbox.tsrunc(['delete', '--force', 'u2'])).status, 0);
  assertNothingLeft(t, sandbox);
});

async function waitForOutput(sandbox: Sandbox, id: string, pattern: RegExp): Promise<boolean> {
  for (let i = 0; i < 250; i++) {
    if (pattern.test(sandbox.output(id))) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return false;
}

t.test('exec joins the user namespace first, then the others', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const pid = await sleeping(t, sandbox, 'u3', usernsConfig('sleep 1000'));
  const script = 'echo "uid_map=$(cat /proc/self/uid_map)"; echo "uid=$(id -u)"; echo "user=$(readlink /proc/self/ns/user)"; echo "pid=$(readlink /proc/self/ns/pid)"; echo "mnt=$(readlink /proc/self/ns/mnt)"; echo "status=$(grep ^Uid: /proc/self/status)"';
  const result = await sandbox.tsrunc(['exec', 'u3', 'sh', '-c', script]);
  t.equal(result.status, 0, result.stderr);
  const seen = fields(result.stdout);
  t.same(seen['uid_map']?.trim().split(/\s+/), ['0', `${HOST_UID}`, '65536']);
  t.equal(seen['uid'], '0');
  t.equal(seen['user'], fs.readlinkSync(`/proc/${pid}/ns/user`), "the container's user namespace");
  t.equal(seen['pid'], fs.readlinkSync(`/proc/${pid}/ns/pid`), "the container's pid namespace");
  t.equal(seen['mnt'], fs.readlinkSync(`/proc/${pid}/ns/mnt`), "the container's mount namespace");
  t.match(seen['status'], /^Uid:\s+0\s+0\s+0\s+0$/, 'root inside (its own view of /proc/self/status)');

  const failed = await sandbox.tsrunc(['exec', 'u3', 'no-such-program']);
  t.equal(failed.status, 255, 'a failing exec still fails cleanly, with runc\'s status');
  t.match(failed.stderr, /no-such-program/);
  t.equal((await sandbox.tsrunc(['delete', '--force', 'u3'])).status, 0);
  assertNothingLeft(t, sandbox);
});

t.test('a second container joins the first one\'s user namespace and the namespaces it owns', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const first = await sleeping(t, sandbox, 'owner', usernsConfig('sleep 1000'));
  const ns = (type: string) => `/proc/${first}/ns/${type}`;
  const report = 'echo "user=$(readlink /proc/self/ns/user)"; echo "net=$(readlink /proc/self/ns/net)"; echo "pid=$(readlink /proc/self/ns/pid)"; echo "mnt=$(readlink /proc/self/ns/mnt)"; echo "uid=$(id -u)"; echo "self=$$"; echo "uid_map=$(cat /proc/self/uid_map)"';

  // All joined (user listed last on purpose: tsrunc joins it first), with a new mount namespace.
  const joinedAll = usernsConfig(report, {
    namespaces: [
      { type: 'pid', path: ns('pid') }, { type: 'network', path: ns('net') }, { type: 'ipc', path: ns('ipc') },
      { type: 'uts', path: ns('uts') }, { type: 'mount' }, { type: 'user', path: ns('user') },
    ],
    uidMappings: undefined,
    gidMappings: undefined,
  });
  const all = await sandbox.tsrunc(['run', '--bundle', sandbox.bundle(joinedAll), 'joiner']);
  t.equal(all.status, 0, all.stderr);
  const seen = fields(all.stdout);
  for (const type of ['user', 'net', 'pid']) {
    t.equal(seen[type], fs.readlinkSync(ns(type)), `${type}: the first container's`);
  }
  t.not(seen['mnt'], fs.readlinkSync(ns('mnt')), 'mount: a new one');
  t.equal(seen['uid'], '0', 'root inside');
  t.not(seen['self'], '1', 'a joined pid namespace: not PID 1');
  t.same(seen['uid_map']?.trim().split(/\s+/), ['0', `${HOST_UID}`, '65536'], "the joined namespace's maps");

  // The pod shape: user and network joined, new pid and mount namespaces owned by the joined user namespace.
  const pod = usernsConfig(report, {
    namespaces: [{ type: 'user', path: ns('user') }, { type: 'network', path: ns('net') }, { type: 'pid' }, { type: 'mount' }],
    uidMappings: undefined,
    gidMappings: undefined,
  });
  const podRun = await sandbox.tsrunc(['run', '--bundle', sandbox.bundle(pod), 'pod-member']);
  t.equal(podRun.status, 0, podRun.stderr);
  const member = fields(podRun.stdout);
  t.equal(member['user'], fs.readlinkSync(ns('user')));
  t.equal(member['net'], fs.readlinkSync(ns('net')));
  t.not(member['pid'], fs.readlinkSync(ns('pid')), 'a new pid namespace');
  t.equal(member['self'], '1', 'PID 1 of it, with /proc mounted from inside the joined user namespace');

  // From inside that user namespace the host's network namespace is out of reach: a clear error.
  const hostNet = `/proc/${process.pid}/ns/net`;
  const refused = usernsConfig('true', {
    namespaces: [{ type: 'user', path: ns('user') }, { type: 'network', path: hostNet }, { type: 'mount' }],
    uidMappings: undefined,
    gidMappings: undefined,
  });
  const failed = await sandbox.tsrunc(['run', '--bundle', sandbox.bundle(refused), 'refused']);
  t.equal(failed.status, 1, 'joining a namespace the user namespace does not own fails');
  t.equal(failed.stderr.trim(), `tsrunc: joining the network namespace ${hostNet}: setns: EPERM (operation not permitted)`, 'one line naming it');

  t.equal((await sandbox.tsrunc(['delete', '--force', 'owner'])).status, 0);
  assertNothingLeft(t, sandbox);
});

t.test('bad id mappings: one clear error naming the JSON path, nothing left', async (t) => {
  const cases: { name: string; linux: JsonObject; expected: RegExp }[] = [
    {
      name: 'a user namespace without mappings',
      linux: { uidMappings: undefined, gidMappings: undefined },
      expected: /^tsrunc: config\.json: \/linux\/uidMappings: a new user namespace needs uidMappings/,
    },
    {
      name: 'mappings without a user namespace',
      linux: { namespaces: [{ type: 'pid' }, { type: 'mount' }] },
      expected: /^tsrunc: config\.json: \/linux\/uidMappings: mappings need a user namespace/,
    },
    {
      name: 'overlapping host ranges',
      linux: { gidMappings: [{ containerID: 0, hostID: 300000, size: 10 }, { containerID: 10, hostID: 300005, size: 10 }] },
      expected: /^tsrunc: config\.json: \/linux\/gidMappings\/1: host gids overlap those of \/linux\/gidMappings\/0/,
    },
    {
      name: 'container root unmapped',
      linux: { uidMappings: [{ containerID: 1, hostID: 100000, size: 10 }] },
      expected: /^tsrunc: config\.json: \/linux\/uidMappings: container uid 0 must be mapped/,
    },
  ];
  for (const c of cases) {
    const sandbox = new Sandbox();
    const result = await sandbox.tsrunc(['run', '--bundle', sandbox.bundle(usernsConfig('true', c.linux)), 'bad']);
    t.equal(result.status, 1, `${c.name}: exit status 1`);
    t.match(result.stderr, c.expected, c.name);
    t.equal(result.stderr.trim().split('\n').length, 1, `${c.name}: one line`);
    assertNothingLeft(t, sandbox);
    await sandbox.cleanup();
  }
});

t.test('a terminal: the console socket is reached even where container root could not (a 0700 dir)', async (t) => {
  const sandbox = new Sandbox(); // its directory is 0700 and host root's: the mapped root cannot enter it
  t.teardown(() => sandbox.cleanup());
  const devpts = { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'] };
  const base = usernsConfig('echo "tty=$(tty)"; echo "uid=$(id -u)"; sleep 1000');
  const config = { ...base, process: { ...(base['process'] as JsonObject), terminal: true }, mounts: [...(base['mounts'] as JsonObject[]), devpts] };
  const socket = path.join(sandbox.dir, 'console.sock');
  const receiver = await listenForConsole(socket);
  t.teardown(() => receiver.stop());
  const created = await sandbox.create('tty', sandbox.bundle(config), ['--console-socket', socket]);
  t.equal(created.status, 0, sandbox.output('tty'));
  t.equal((await sandbox.tsrunc(['start', 'tty'])).status, 0);
  const execSocket = path.join(sandbox.dir, 'exec-console.sock');
  const execReceiver = await listenForConsole(execSocket);
  t.teardown(() => execReceiver.stop());
  const exec = await sandbox.tsrunc(['exec', '--tty', '--detach', '--console-socket', execSocket, 'tty', 'sh', '-c', 'echo "exec-tty=$(tty)"']);
  t.equal(exec.status, 0, exec.stderr);
  const execSeen = fields((await execReceiver.done).output.replace(/\r/g, ''));
  t.match(execSeen['exec-tty'], /^\/dev\/pts\/\d+$/, 'exec --tty: the process has a pty of the container');
  t.equal((await sandbox.tsrunc(['delete', '--force', 'tty'])).status, 0);
  const received = await receiver.done;
  t.equal(received.fds, 1, 'the pty master arrived');
  const seen = fields(received.output.replace(/\r/g, ''));
  t.equal(seen['tty'], '/dev/pts/0', "the container's own devpts");
  t.equal(seen['uid'], '0');
  assertNothingLeft(t, sandbox);
});

t.test('--no-pivot in a user namespace: the host /proc, locked there, is covered; mount -t proc is refused', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const mounts = [
    { destination: '/proc', type: 'proc', source: 'proc' },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
  ];
  for (const flags of [['--no-pivot'], []]) {
    const name = flags.length > 0 ? '--no-pivot' : 'pivot_root';
    const config = usernsConfig(procProbe, maskedProcSys, { mounts });
    const result = await sandbox.tsrunc(['run', ...flags, '--bundle', sandbox.bundle({ ...config, process: { ...(config['process'] as JsonObject), capabilities: probeCapabilities } }), `np${flags.length}`]);
    t.equal(result.status, 0, `${name}: ${result.stderr}`);
    t.notMatch(result.stdout, /MOUNTED/, `${name}: no new proc mounted`);
    t.match(result.stdout, /mount: permission denied/, `${name}: mount says permission denied`);
    t.same(fields(result.stdout)['full']?.split('\n').sort(), ['/proc', '/sys'], `${name}: only the container's own proc and sysfs in mountinfo`);
  }
  const control = usernsConfig(procProbe, {}, {});
  const result = await sandbox.tsrunc(['run', '--no-pivot', '--bundle', sandbox.bundle({ ...control, process: { ...(control['process'] as JsonObject), capabilities: probeCapabilities } }), 'npc']);
  t.equal(result.status, 0, result.stderr);
  t.match(result.stdout, /MOUNTED/, 'control: with its own /proc fully visible, the probe mounts one');
  assertNothingLeft(t, sandbox);
});
