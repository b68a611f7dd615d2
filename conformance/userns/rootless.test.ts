/**
 * Rootless: tsrunc run by an unprivileged host user (made here with useradd, removed after),
 * with no root help: the container's root is that user, no cgroup is made, and what such a
 * user cannot have is one clear error.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { Sandbox, busyboxRootfs, runCommand, tsruncMain, type JsonObject, type RunResult } from '../lib/harness.js';
import { assertNothingLeft, fields, scriptConfig } from '../lib/container-helpers.js';

const userName = `tsrunc-rl${process.pid % 100000}`;
execFileSync('useradd', ['--no-create-home', '--shell', '/usr/sbin/nologin', userName]);
t.teardown(async () => {
  // userdel refuses (exit 8) while any process runs as the user; one still exiting after a
  // kill is given a moment, one that stays is a leftover and named here.
  for (let tries = 0; tries < 50 && userProcesses().length > 0; tries++) await new Promise((resolve) => setTimeout(resolve, 100));
  const left = userProcesses();
  if (left.length > 0) console.error(`# processes of ${userName} left behind: ${left.join(', ')}`);
  execFileSync('userdel', [userName]);
});

/** The pids of processes running as the test user, with their commands. */
function userProcesses(): string[] {
  const found: string[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = fs.readFileSync(`/proc/${entry}/status`, 'utf8');
      const realUid = /^Uid:\s+(\d+)/m.exec(status)?.[1];
      if (Number(realUid) === uid) found.push(`${entry} (${/^Name:\s+(.*)$/m.exec(status)?.[1] ?? '?'})`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}
const uid = Number(execFileSync('id', ['-u', userName]).toString());
const gid = Number(execFileSync('id', ['-g', userName]).toString());

/** tsrunc as the unprivileged user, with its state under a runtime dir it owns. */
function asUser(sandbox: Sandbox, args: string[], options: { outputFile?: string } = {}): Promise<RunResult> {
  return runCommand('setpriv', [
    '--reuid', `${uid}`, '--regid', `${gid}`, '--clear-groups',
    // A clean environment: the test runner's NODE_OPTIONS hooks would write where the user may not.
    'env', '-i', 'PATH=/usr/sbin:/usr/bin:/sbin:/bin', `XDG_RUNTIME_DIR=${runtimeDir(sandbox)}`, process.execPath, tsruncMain, '--root', sandbox.root, ...args,
  ], options);
}

function runtimeDir(sandbox: Sandbox): string {
  return path.join(sandbox.dir, 'run-user');
}

function userSandbox(): Sandbox {
  const sandbox = new Sandbox();
  fs.chmodSync(sandbox.dir, 0o755); // the user reads its bundles here
  fs.mkdirSync(runtimeDir(sandbox), { mode: 0o700 });
  fs.chownSync(runtimeDir(sandbox), uid, gid);
  fs.mkdirSync(sandbox.root, { mode: 0o700 }); // --root: the user's own
  fs.chownSync(sandbox.root, uid, gid);
  return sandbox;
}

/** runc's rootless spec: a user namespace mapping only the user's own ids to 0. */
function rootlessConfig(script: string, linux: JsonObject = {}): JsonObject {
  const config = scriptConfig(script);
  return {
    ...config,
    linux: {
      namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'ipc' }, { type: 'uts' }, { type: 'network' }, { type: 'user' }],
      uidMappings: [{ containerID: 0, hostID: uid, size: 1 }],
      gidMappings: [{ containerID: 0, hostID: gid, size: 1 }],
      ...linux,
    },
  };
}

function bundleFor(sandbox: Sandbox, config: JsonObject): string {
  const bundle = sandbox.bundle(config);
  fs.chmodSync(bundle, 0o755);
  fs.chmodSync(path.join(bundle, 'config.json'), 0o644);
  return bundle;
}

t.test('an unprivileged user runs a container: root inside is that user outside', async (t) => {
  const sandbox = userSandbox();
  t.teardown(() => sandbox.cleanup());
  // A bind source the user owns: the init, that same user, mounts it itself (no root to open it).
  const data = path.join(sandbox.dir, 'user-data');
  fs.mkdirSync(data, { mode: 0o700 });
  fs.writeFileSync(path.join(data, 'f'), 'user data\n');
  fs.chownSync(data, uid, gid);
  const script = 'echo "uid_map=$(cat /proc/self/uid_map)"; echo "gid_map=$(cat /proc/self/gid_map)"; echo "uid=$(id -u)"; echo "pid=$$"; echo "bind=$(cat /home/f)"';
  const base = rootlessConfig(script);
  const config = { ...base, mounts: [...(base['mounts'] as JsonObject[]), { destination: '/home', type: 'bind', source: data, options: ['rbind', 'ro'] }] };
  const result = await asUser(sandbox, ['run', '--bundle', bundleFor(sandbox, config), 'rl1']);
  t.equal(result.status, 0, result.stderr);
  const seen = fields(result.stdout);
  t.equal(seen['bind'], 'user data', 'a bind mount of a directory the user owns');
  t.same(seen['uid_map']?.trim().split(/\s+/), ['0', `${uid}`, '1'], 'uid 0 is the user');
  t.same(seen['gid_map']?.trim().split(/\s+/), ['0', `${gid}`, '1'], 'gid 0 is its group');
  t.equal(seen['uid'], '0');
  t.equal(seen['pid'], '1');
  assertNothingLeft(t, sandbox);
});

t.test('create/start/state/delete as the user: the process runs as the user, in no new cgroup', async (t) => {
  const sandbox = userSandbox();
  t.teardown(() => sandbox.cleanup());
  const output = path.join(sandbox.dir, 'rl2.out');
  const created = await asUser(sandbox, ['create', '--bundle', bundleFor(sandbox, rootlessConfig('sleep 1000')), 'rl2'], { outputFile: output });
  t.equal(created.status, 0, created.stdout);
  t.equal((await asUser(sandbox, ['start', 'rl2'])).status, 0);
  const state = JSON.parse((await asUser(sandbox, ['state', 'rl2'])).stdout) as { pid: number; status: string };
  t.equal(state.status, 'running');
  const status = fs.readFileSync(`/proc/${state.pid}/status`, 'utf8');
  t.match(status, new RegExp(`^Uid:\\s+${uid}\\s+${uid}\\s+${uid}\\s+${uid}$`, 'm'), '/proc/PID/status: the user');
  t.match(status, new RegExp(`^Gid:\\s+${gid}\\s+${gid}\\s+${gid}\\s+${gid}$`, 'm'), '/proc/PID/status: its group');
  t.equal(fs.statSync(path.join(sandbox.root, 'rl2')).uid, uid, 'the state directory is the user\'s');
  const ownPids = fs.readFileSync('/proc/self/cgroup', 'utf8').match(/^\d+:pids:(.*)$/m)?.[1];
  const initPids = fs.readFileSync(`/proc/${state.pid}/cgroup`, 'utf8').match(/^\d+:pids:(.*)$/m)?.[1];
  t.equal(initPids, ownPids, 'no cgroup of its own: it stays where its creator was (no root to make one)');
  const exec = await asUser(sandbox, ['exec', 'rl2', 'sh', '-c', 'echo "uid=$(id -u)"; echo "user=$(readlink /proc/self/ns/user)"']);
  t.equal(exec.status, 0, `exec as the user: ${exec.stderr}`);
  t.equal(fields(exec.stdout)['uid'], '0', 'exec: root inside');
  t.equal(fields(exec.stdout)['user'], fs.readlinkSync(`/proc/${state.pid}/ns/user`), "exec: the container's user namespace");
  t.equal((await asUser(sandbox, ['delete', '--force', 'rl2'])).status, 0, 'delete as the user');
  assertNothingLeft(t, sandbox);
});

t.test('what an unprivileged user cannot have: one clear error, nothing left', async (t) => {
  const cases: { name: string; linux: JsonObject; expected: RegExp }[] = [
    {
      name: 'no user namespace',
      linux: { namespaces: [{ type: 'pid' }, { type: 'mount' }], uidMappings: undefined, gidMappings: undefined },
      expected: /^tsrunc: config\.json: \/linux\/namespaces: without root, tsrunc needs a user namespace/,
    },
    {
      name: 'mapping someone else\'s uid',
      linux: { uidMappings: [{ containerID: 0, hostID: 0, size: 1 }] },
      expected: new RegExp(`^tsrunc: config\\.json: /linux/uidMappings/0: without root, tsrunc can map only your own uid ${uid}`),
    },
    {
      name: 'a range of ids (that needs newuidmap)',
      linux: { gidMappings: [{ containerID: 0, hostID: gid, size: 1000 }] },
      expected: /^tsrunc: config\.json: \/linux\/gidMappings\/0: without root, tsrunc can map only your own gid/,
    },
    {
      name: 'a memory limit without a delegated cgroup',
      linux: { resources: { memory: { limit: 64 * 1024 * 1024 } } },
      expected: /^tsrunc: config\.json: \/linux\/resources: without root, limits need a cgroup delegated to you/,
    },
  ];
  for (const c of cases) {
    const sandbox = userSandbox();
    const result = await asUser(sandbox, ['run', '--bundle', bundleFor(sandbox, rootlessConfig('true', c.linux)), 'bad']);
    t.equal(result.status, 1, `${c.name}: exit status 1`);
    t.match(result.stderr, c.expected, c.name);
    t.equal(result.stderr.trim().split('\n').length, 1, `${c.name}: one line`);
    assertNothingLeft(t, sandbox);
    await sandbox.cleanup();
  }
});

t.test('spec --rootless writes a config the user can run (as runc spec --rootless does)', async (t) => {
  const sandbox = userSandbox();
  t.teardown(() => sandbox.cleanup());
  const bundle = path.join(sandbox.dir, 'rootless-spec');
  fs.mkdirSync(bundle, { mode: 0o755 });
  fs.chownSync(bundle, uid, gid);
  const written = await asUser(sandbox, ['spec', '--rootless', '--bundle', bundle]);
  t.equal(written.status, 0, written.stderr);
  const config = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8')) as JsonObject;
  const linux = config['linux'] as JsonObject;
  t.same(linux['uidMappings'], [{ containerID: 0, hostID: uid, size: 1 }], "the user's uid is root inside");
  t.same(linux['gidMappings'], [{ containerID: 0, hostID: gid, size: 1 }]);
  t.same((linux['namespaces'] as JsonObject[]).map((ns) => ns['type']), ['pid', 'ipc', 'uts', 'mount', 'user'], 'no network namespace; a user namespace');
  t.notOk('resources' in linux, 'no cgroup resources');
  const mounts = config['mounts'] as { destination: string; options?: string[]; source?: string }[];
  t.same(mounts.find((m) => m.destination === '/sys'), { destination: '/sys', type: 'none', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] });
  t.notOk(mounts.some((m) => (m.options ?? []).some((o) => o.startsWith('gid=') || o.startsWith('uid='))), 'no uid=/gid= options');

  // Runnable as it is, but for the rootfs and a process that ends.
  const runnable = { ...config, root: { path: busyboxRootfs }, process: { ...(config['process'] as JsonObject), terminal: false, args: ['sh', '-c', 'id -u; cat /proc/self/uid_map'] } };
  fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(runnable));
  const ran = await asUser(sandbox, ['run', '--bundle', bundle, 'spec-rootless']);
  t.equal(ran.status, 0, ran.stderr);
  t.match(ran.stdout, new RegExp(`^0\n\\s+0\\s+${uid}\\s+1\n$`), 'root inside, the user outside');
  assertNothingLeft(t, sandbox);
});

t.test("without --root the user's state goes under $XDG_RUNTIME_DIR/tsrunc; --rootless false turns the rootless rules off", async (t) => {
  const sandbox = userSandbox();
  t.teardown(() => sandbox.cleanup());
  const bundle = bundleFor(sandbox, rootlessConfig('sleep 1000'));
  const noRoot = (args: string[], options: { outputFile?: string } = {}) => runCommand('setpriv', [
    '--reuid', `${uid}`, '--regid', `${gid}`, '--clear-groups',
    'env', '-i', 'PATH=/usr/sbin:/usr/bin:/sbin:/bin', `XDG_RUNTIME_DIR=${runtimeDir(sandbox)}`, process.execPath, tsruncMain, ...args,
  ], options);
  const created = await noRoot(['create', '--bundle', bundle, 'rl3'], { outputFile: path.join(sandbox.dir, 'rl3.out') });
  t.equal(created.status, 0, created.stdout);
  t.ok(fs.existsSync(path.join(runtimeDir(sandbox), 'tsrunc', 'rl3', 'state.json')), 'state in $XDG_RUNTIME_DIR/tsrunc/rl3');
  const listed = await noRoot(['list', '--quiet']);
  t.equal(listed.stdout.trim(), 'rl3', 'list finds it there without --root');
  t.equal((await noRoot(['delete', '--force', 'rl3'])).status, 0);
  t.same(fs.readdirSync(path.join(runtimeDir(sandbox), 'tsrunc')), [], 'and delete removes it there');

  const forced = await noRoot(['--rootless', 'false', 'run', '--bundle', bundle, 'rl4']);
  t.equal(forced.status, 1, '--rootless false: the cgroup is required, and a user cannot make one');
  t.match(forced.stderr, /^tsrunc: .*cgroup.*(EACCES|EPERM|permission denied)/i);
  t.equal(forced.stderr.trim().split('\n').length, 1, 'one line');
  t.same(fs.readdirSync(path.join(runtimeDir(sandbox), 'tsrunc')), [], 'nothing left');
  assertNothingLeft(t, sandbox);
});
