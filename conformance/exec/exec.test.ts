/**
 * `tsrunc exec`: a new process in every namespace and the cgroup of a running container, with
 * the container's process settings unless the flags (or --process) say otherwise; attached it
 * exits with the process's status; into a stopped or paused container it fails.
 */
import fs from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { Sandbox, processExists, waitFor, type JsonObject } from '../lib/harness.js';
import { assertNothingLeft, capabilityMask, fields, scriptConfig } from '../lib/container-helpers.js';
import { listenForConsole } from '../terminal/console-receiver.js';

const devpts = {
  destination: '/dev/pts',
  type: 'devpts',
  source: 'devpts',
  options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'],
};

/** A running container (sleeping) named `id`; its init's host pid is returned. */
async function running(t: Test, sandbox: Sandbox, id: string, overrides: JsonObject = {}, processFields: JsonObject = {}): Promise<number> {
  const config = scriptConfig('sleep 1000', {
    overrides: {
      hostname: 'exec-host',
      mounts: [
        { destination: '/proc', type: 'proc', source: 'proc' },
        { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
        devpts,
      ],
      ...overrides,
    },
    processFields: { env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'FROM_CONFIG=yes'], ...processFields },
  });
  const created = await sandbox.create(id, sandbox.bundle(config));
  t.equal(created.status, 0, `create ${id}: ${sandbox.output(id)}`);
  const started = await sandbox.tsrunc(['start', id]);
  t.equal(started.status, 0, started.stderr);
  const state = await sandbox.tsrunc(['state', id]);
  t.equal(state.status, 0, `state ${id}: ${state.stderr}`);
  return (JSON.parse(state.stdout || '{"pid":0}') as { pid: number }).pid;
}

t.test("exec joins the container: hostname, pid namespace, env; its exit status comes back", async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  await running(t, sandbox, 'e1');
  const script = [
    'echo host=$(hostname)',
    'echo pid=$$',
    'echo init=$(cat /proc/1/cmdline | tr "\\0" " ")',
    'echo from_config=$FROM_CONFIG',
    'echo extra=$EXTRA',
    'echo cwd=$(pwd)',
    'exit 7',
  ].join('; ');
  const result = await sandbox.tsrunc(['exec', '--env', 'EXTRA=given', '--cwd', '/usr', 'e1', 'sh', '-c', script]);
  t.equal(result.status, 7, `the process's exit status is tsrunc's: ${result.stderr}`);
  const seen = fields(result.stdout);
  t.equal(seen['host'], 'exec-host', "the container's uts namespace");
  t.not(seen['pid'], '1', 'not pid 1...');
  t.equal(seen['init'], 'sleep 1000', "...and pid 1 is the container's process: its pid namespace, its /proc");
  t.equal(seen['from_config'], 'yes', "config.json's env");
  t.equal(seen['extra'], 'given', '--env added');
  t.equal(seen['cwd'], '/usr', '--cwd');
  await sandbox.tsrunc(['delete', '--force', 'e1']);
  assertNothingLeft(t, sandbox);
});

t.test('exec --user, --additional-gids, --no-new-privs, --cap; the container capabilities otherwise', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const caps = ['CAP_KILL', 'CAP_CHOWN'];
  await running(t, sandbox, 'e2', {}, { capabilities: { bounding: caps, effective: caps, permitted: caps } });
  const report = 'echo id=$(id); echo nnp=$(grep ^NoNewPrivs: /proc/self/status | cut -f2); echo eff=$(grep ^CapEff: /proc/self/status | cut -f2)';
  const plain = await sandbox.tsrunc(['exec', 'e2', 'sh', '-c', report]);
  t.equal(plain.status, 0, plain.stderr);
  t.equal(fields(plain.stdout)['eff'], capabilityMask([0, 5]), "the container's capabilities");
  t.equal(fields(plain.stdout)['nnp'], '0');
  const changed = await sandbox.tsrunc(['exec', '-u', '1000:1000', '-g', '10', '--no-new-privs', 'e2', 'sh', '-c', report]);
  t.equal(changed.status, 0, changed.stderr);
  t.match(fields(changed.stdout)['id'], /^uid=1000 gid=1000 groups=.*10/, 'uid, gid and the additional group');
  t.equal(fields(changed.stdout)['nnp'], '1', '--no-new-privs');
  const withCap = await sandbox.tsrunc(['exec', '--cap', 'CAP_NET_RAW', 'e2', 'sh', '-c', report]);
  t.equal(fields(withCap.stdout)['eff'], capabilityMask([0, 5, 13]), '--cap adds to the sets');
  await sandbox.tsrunc(['delete', '--force', 'e2']);
  assertNothingLeft(t, sandbox);
});

t.test('exec --process FILE runs that process', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  await running(t, sandbox, 'e3');
  const file = path.join(sandbox.dir, 'process.json');
  fs.writeFileSync(file, JSON.stringify({
    args: ['sh', '-c', 'echo who=$(id -u):$(id -g); echo var=$ONLY_HERE; echo cwd=$(pwd); exit 3'],
    env: ['PATH=/bin:/usr/bin', 'ONLY_HERE=1'],
    cwd: '/etc',
    user: { uid: 123, gid: 456 },
  }));
  const result = await sandbox.tsrunc(['exec', '--process', file, 'e3']);
  t.equal(result.status, 3, result.stderr);
  const seen = fields(result.stdout);
  t.equal(seen['who'], '123:456');
  t.equal(seen['var'], '1');
  t.equal(seen['cwd'], '/etc');
  await sandbox.tsrunc(['delete', '--force', 'e3']);
  assertNothingLeft(t, sandbox);
});

t.test('exec --detach --pid-file: the process runs in the namespaces and cgroup of the init', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const initPid = await running(t, sandbox, 'e4');
  const pidFile = path.join(sandbox.dir, 'exec.pid');
  const out = path.join(sandbox.dir, 'exec.out');
  const result = await sandbox.tsrunc(['exec', '--detach', '--pid-file', pidFile, 'e4', 'sleep', '500'], { outputFile: out });
  t.equal(result.status, 0, result.stdout);
  const pid = Number(fs.readFileSync(pidFile, 'utf8'));
  t.ok(processExists(pid), 'the process runs after tsrunc returned');
  t.equal(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8'), 'sleep\u0000500\u0000', 'it is the program, not the init');
  for (const ns of ['mnt', 'pid', 'net', 'uts', 'ipc']) {
    t.equal(fs.readlinkSync(`/proc/${pid}/ns/${ns}`), fs.readlinkSync(`/proc/${initPid}/ns/${ns}`), `same ${ns} namespace as the init`);
  }
  t.equal(fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8'), fs.readFileSync(`/proc/${initPid}/cgroup`, 'utf8'), 'same cgroups as the init');
  t.equal(fs.readlinkSync(`/proc/${pid}/root`), fs.readlinkSync(`/proc/${initPid}/root`), "the container's root");

  // A pid file that cannot be written: the manager would never learn the pid, so the process must not stay.
  const pidsCgroup = /^\d+:pids:(.*)$/m.exec(fs.readFileSync(`/proc/${initPid}/cgroup`, 'utf8'))?.[1];
  const programsInContainer = () => fs.readFileSync(`/sys/fs/cgroup/pids${pidsCgroup}/cgroup.procs`, 'utf8').trim().split('\n')
    .map((p) => fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ').trim());
  for (const detach of [['--detach'], []]) {
    const unwritable = await sandbox.tsrunc(['exec', ...detach, '--pid-file', '/non-existent/directory', 'e4', 'sleep', '601']);
    t.equal(unwritable.status, 255, `exec ${detach.join('')} with an unwritable --pid-file: runc's status for a failed exec`);
    t.match(unwritable.stderr, /--pid-file \/non-existent\/directory: .*ENOENT/);
    t.notOk(programsInContainer().includes('sleep 601'), 'its process was ended, not left running');
  }
  await sandbox.tsrunc(['delete', '--force', 'e4']);
  t.ok(await waitFor(() => !processExists(pid)), 'delete --force takes the exec process along');
  assertNothingLeft(t, sandbox);
});

t.test('exec --tty --console-socket: the process gets a pty of the container', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  await running(t, sandbox, 'e5');
  const socket = path.join(sandbox.dir, 'console.sock');
  const receiver = await listenForConsole(socket);
  t.teardown(() => receiver.stop());
  const result = await sandbox.tsrunc(['exec', '--tty', '--console-socket', socket, 'e5', 'sh', '-c', "echo tty=$(tty); echo ctty=$(cut -d' ' -f7 /proc/$$/stat)"]);
  t.equal(result.status, 0, result.stderr);
  const received = await receiver.done;
  const seen = fields(received.output.replace(/\r/g, ''));
  t.equal(seen['tty'], '/dev/pts/0', "a pty of the container's devpts");
  t.equal(seen['ctty'], `${136 << 8}`, 'its controlling terminal');
  const noSocket = await sandbox.tsrunc(['exec', '--tty', 'e5', 'sh', '-c', 'read x; echo tty=$(tty) typed=$x; exit 4'], { input: 'hi\n' });
  t.equal(noSocket.status, 4, `--tty without --console-socket in the foreground: tsrunc relays the pty (${noSocket.stderr})`);
  t.match(noSocket.stdout.replace(/\r/g, ''), /tty=\/dev\/pts\/\d+ typed=hi/, 'stdin reaches the process and its output comes back');
  const detached = await sandbox.tsrunc(['exec', '--tty', '--detach', 'e5', 'true']);
  t.equal(detached.status, 255, '--tty --detach without --console-socket fails');
  t.match(detached.stderr, /console socket/);
  await sandbox.tsrunc(['delete', '--force', 'e5']);
  assertNothingLeft(t, sandbox);
});

t.test('exec into a stopped or paused container, or without a command, fails', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  await running(t, sandbox, 'e6');
  t.equal((await sandbox.tsrunc(['pause', 'e6'])).status, 0);
  const paused = await sandbox.tsrunc(['exec', 'e6', 'true']);
  t.equal(paused.status, 255);
  t.match(paused.stderr, /cannot exec in a paused container: e6/);
  // runc's --ignore-paused: the process runs once the container is resumed (runc's cgroups.bats does the same).
  let resumeStarted = 0;
  const resumeLater = new Promise<void>((resolve) => setTimeout(resolve, 1500)).then(() => {
    resumeStarted = Date.now();
    return sandbox.tsrunc(['resume', 'e6']);
  });
  const ignoring = await sandbox.tsrunc(['exec', '--ignore-paused', 'e6', 'echo', 'ok']);
  const execEnded = Date.now();
  t.equal((await resumeLater).status, 0, 'resumed meanwhile');
  t.equal(ignoring.status, 0, `exec --ignore-paused: ${ignoring.stderr}`);
  t.equal(ignoring.stdout, 'ok\n', 'its process ran');
  t.ok(resumeStarted > 0 && execEnded >= resumeStarted, 'only once the container was resumed');
  const noCommand = await sandbox.tsrunc(['exec', 'e6']);
  t.equal(noCommand.status, 1, 'wrong usage: status 1, as runc');
  t.match(noCommand.stderr, /no command/);
  const missing = await sandbox.tsrunc(['exec', 'e6', '/no/such/program']);
  t.equal(missing.status, 255, 'a program that does not exist: status 255, as runc');
  t.match(missing.stderr, /no such executable/);
  t.equal((await sandbox.tsrunc(['kill', 'e6', 'KILL'])).status, 0);
  await waitFor(async () => JSON.parse((await sandbox.tsrunc(['state', 'e6'])).stdout).status === 'stopped');
  const stopped = await sandbox.tsrunc(['exec', 'e6', 'true']);
  t.equal(stopped.status, 255);
  t.match(stopped.stderr, /cannot exec in a stopped container: e6/);
  t.equal(stopped.stderr.trim().split('\n').length, 1, 'one error line');
  const unknown = await sandbox.tsrunc(['exec', 'nosuch', 'true']);
  t.equal(unknown.status, 255);
  await sandbox.tsrunc(['delete', '--force', 'e6']);
  assertNothingLeft(t, sandbox);
});
