/**
 * containerd (Debian's 1.6) drives tsrunc through containerd-shim-runc-v2, for real: the test
 * starts its own containerd (root, state, sockets and plugin dirs in a temp dir; no CRI) and
 * uses ctr with --runc-binary: run --rm, a detached task with task ls/exec/ps/pause/resume/
 * kill/delete, a -t task, and a failing create whose error the shim reads from tsrunc's JSON log.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import t from 'tap';
import { processExists, runCommand, waitFor, type RunResult } from '../lib/harness.js';
import { CgroupParents, ClientSandbox, HostDirs, cgroupDirs, requireCommand, runInPty, writeContainerdConfig } from './client-sandbox.js';

requireCommand('/usr/bin/containerd', 'containerd');
requireCommand('/usr/bin/containerd-shim-runc-v2', 'containerd');
requireCommand('/usr/bin/script', 'bsdutils');

const sandbox = new ClientSandbox('containerd');
const socket = sandbox.path('containerd.sock');
/** A namespace of its own: containerd names the cgroups /<namespace>/<id>. */
const namespace = `tsrunc-test-${process.pid}`;
// The shim's runc root is /run/containerd/runc/<namespace> whatever containerd's own state
// dir is; ctr's --runc-root moves it into the temp dir (the shim adds /<namespace>).
const runcRoot = sandbox.path('runc-root');
const tsruncRoot = `${runcRoot}/${namespace}`;
const tsrunc = sandbox.tsruncWrapper();
// The shim's socket goes to /run/containerd/s/<hash> (fixed in containerd 1.6), and ctr's
// fifos to /run/containerd/fifo unless --fifo-dir says otherwise.
const hostDirs = new HostDirs(['/run/containerd']);
const namespaceCgroups = new CgroupParents(namespace);

writeContainerdConfig(sandbox, socket);

let daemon: ChildProcess | undefined;
const daemonLog = sandbox.path('containerd.log');

function ctr(args: string[], timeoutMs = 60_000): Promise<RunResult> {
  return runCommand('ctr', ['--address', socket, '--namespace', namespace, ...args], { timeoutMs });
}

/** ctr run's options that put tsrunc, its state and ctr's fifos where the test wants them. */
const runOptions = ['--runc-binary', tsrunc, '--runc-root', runcRoot, '--fifo-dir', sandbox.path('fifo'), '--rootfs', sandbox.rootfs];

function daemonOutput(): string {
  return fs.existsSync(daemonLog) ? fs.readFileSync(daemonLog, 'utf8').split('\n').slice(-15).join('\n') : '';
}

/** PID and STATUS of a task, from `ctr task ls`. */
async function task(id: string): Promise<{ pid: number; status: string } | undefined> {
  const listed = await ctr(['task', 'ls']);
  for (const line of listed.stdout.split('\n').slice(1)) {
    const [name, pid, status] = line.trim().split(/\s+/);
    if (name === id) return { pid: Number(pid), status: status ?? '' };
  }
  return undefined;
}

function callsFor(id: string, verb: string): string[] {
  return sandbox.tsruncCalls(verb, id);
}

t.before(async () => {
  const log = fs.openSync(daemonLog, 'a');
  daemon = spawn('containerd', ['--config', sandbox.path('config.toml')], { stdio: ['ignore', log, log] });
  fs.closeSync(log);
  const up = await waitFor(async () => fs.existsSync(socket) && (await ctr(['version'])).status === 0, 20_000);
  if (!up) throw new Error(`containerd did not come up:\n${daemonOutput()}`);
});

t.teardown(async () => {
  if (daemon && daemon.exitCode === null && daemon.signalCode === null) {
    // Whatever a failed subtest left: tasks first (the shims exit with them), then containers.
    for (const line of (await ctr(['task', 'ls', '-q'])).stdout.split('\n').filter(Boolean)) {
      await ctr(['task', 'kill', '-s', 'SIGKILL', line]);
      await waitFor(async () => (await task(line))?.status !== 'RUNNING', 10_000);
      await ctr(['task', 'delete', line]);
    }
    for (const line of (await ctr(['container', 'ls', '-q'])).stdout.split('\n').filter(Boolean)) await ctr(['container', 'delete', line]);
    const exited = new Promise<void>((resolve) => daemon!.once('exit', () => resolve()));
    daemon.kill('SIGTERM');
    const timer = setTimeout(() => daemon!.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
    hostDirs.release();
    namespaceCgroups.release();
  }
  sandbox.remove();
});

t.test('ctr run --rm: the output comes back and tsrunc did the work', async (t) => {
  const result = await ctr(['run', '--rm', ...runOptions, 'c-rm', '/bin/sh', '-c', 'echo hello from $(cat /etc/hostname) pid=$$']);
  t.equal(result.status, 0, `ctr run: ${result.stderr}`);
  t.equal(result.stdout, 'hello from tsrunc pid=1\n', "the container's output, from its own pid namespace");
  const create = callsFor('c-rm', 'create');
  t.equal(create.length, 1, `the shim called tsrunc create once: ${sandbox.tsruncCalls().join('\n')}`);
  t.match(create[0], `--root ${tsruncRoot} --log `, 'with the root ctr gave and a log file');
  t.match(create[0], '--log-format json create', 'asking for JSON logs');
  t.ok(callsFor('c-rm', 'start').length === 1 && callsFor('c-rm', 'delete').length >= 1, 'then start and delete');
  t.notOk(fs.existsSync(`${tsruncRoot}/c-rm`), 'no state left in the tsrunc root');
  t.same(cgroupDirs(`${namespace}/c-rm`), [], "the container's cgroups are gone");
  t.same((await ctr(['container', 'ls', '-q'])).stdout, '', 'no container left in containerd');
});

t.test('a detached task: task ls, exec, ps, pause, resume, kill, delete', async (t) => {
  // A shell as pid 1 has no default SIGTERM action: it says what to do with one.
  const script = 'trap "exit 0" TERM; while :; do sleep 0.1; done';
  const started = await ctr(['run', '-d', '--null-io', ...runOptions, 'c-det', '/bin/sh', '-c', script]);
  t.equal(started.status, 0, `ctr run -d: ${started.stderr}`);
  const running = await task('c-det');
  t.equal(running?.status, 'RUNNING', 'ctr task ls shows it RUNNING');
  const pid = running?.pid ?? 0;
  t.ok(processExists(pid), `its pid ${pid} runs on the host`);
  const state = await runCommand(tsrunc, ['--root', tsruncRoot, 'state', 'c-det']);
  t.match(JSON.parse(state.stdout || '{}'), { status: 'running', pid }, `tsrunc state agrees: ${state.stderr}`);
  t.ok(cgroupDirs(`${namespace}/c-det`).length > 0, 'the task has its cgroup /<namespace>/<id>');

  const execScript = 'echo exec sees $(cat /proc/1/cmdline | tr "\\0" " "); exit 3';
  const exec = await ctr(['task', 'exec', '--exec-id', 'x1', '--fifo-dir', sandbox.path('fifo'), 'c-det', '/bin/sh', '-c', execScript]);
  t.equal(exec.stdout, `exec sees /bin/sh -c ${script}\n`, `the exec'd process runs beside pid 1: ${exec.stderr}`);
  t.equal(exec.status, 3, "ctr task exec exits with the process's status");
  t.equal(callsFor('c-det', 'exec').length, 1, 'through tsrunc exec');

  const ps = await ctr(['task', 'ps', 'c-det']);
  t.match(ps.stdout, new RegExp(`^${pid}\\s`, 'm'), `ctr task ps lists the init (tsrunc ps --format json): ${ps.stderr}`);
  t.equal(callsFor('c-det', 'ps').length, 1, 'through tsrunc ps');

  t.equal((await ctr(['task', 'pause', 'c-det'])).status, 0, 'ctr task pause');
  t.equal((await task('c-det'))?.status, 'PAUSED', 'ctr task ls shows it PAUSED');
  t.equal((await ctr(['task', 'resume', 'c-det'])).status, 0, 'ctr task resume');
  t.equal((await task('c-det'))?.status, 'RUNNING', 'and RUNNING again');
  t.equal(callsFor('c-det', 'pause').length + callsFor('c-det', 'resume').length, 2, 'through tsrunc pause and resume');

  const killed = await ctr(['task', 'kill', 'c-det']);
  t.equal(killed.status, 0, `ctr task kill: ${killed.stderr}`);
  t.ok(await waitFor(async () => (await task('c-det'))?.status === 'STOPPED', 10_000), 'SIGTERM stops it');
  t.match(callsFor('c-det', 'kill')[0], 'kill c-det 15', 'tsrunc kill got SIGTERM');
  const deleted = await ctr(['task', 'delete', 'c-det']);
  t.equal(deleted.status, 0, `ctr task delete: ${deleted.stderr}`);
  const removed = await ctr(['container', 'delete', 'c-det']);
  t.equal(removed.status, 0, `ctr container delete: ${removed.stderr}`);
  t.notOk(processExists(pid), 'the container process is gone');
  t.notOk(fs.existsSync(`${tsruncRoot}/c-det`), 'no state left in the tsrunc root');
  t.same(cgroupDirs(`${namespace}/c-det`), [], "the container's cgroups are gone");
});

t.test('ctr run -t: the process gets a terminal through --console-socket', async (t) => {
  const script = 'tty; test -t 0 && test -t 1 && echo stdio-is-a-tty';
  const result = await runInPty(['ctr', '--address', socket, '--namespace', namespace, 'run', '--rm', '-t', ...runOptions, 'c-tty', '/bin/sh', '-c', script]);
  t.equal(result.status, 0, `ctr run -t: ${result.stdout}${result.stderr}`);
  t.match(result.stdout, /\/dev\/pts\/\d+\s/, 'the process runs on a pty of its own devpts');
  t.match(result.stdout, 'stdio-is-a-tty', 'stdin and stdout are that terminal');
  t.match(callsFor('c-tty', 'create')[0], '--console-socket ', 'the shim passed its console socket');
  t.same(cgroupDirs(`${namespace}/c-tty`), [], "the container's cgroups are gone");
});

t.test("a failing create: ctr reports tsrunc's error from the JSON log", async (t) => {
  const result = await ctr(['run', '--rm', ...runOptions, 'c-bad', '/no/such/program']);
  t.equal(result.status, 1, 'ctr run fails');
  t.match(result.stderr, /OCI runtime create failed: .*\/no\/such\/program/, `the error names the program: ${result.stderr}`);
  t.equal(callsFor('c-bad', 'start').length, 0, 'start is never called');
  t.notOk(fs.existsSync(`${tsruncRoot}/c-bad`), 'no state left in the tsrunc root');
  t.same(cgroupDirs(`${namespace}/c-bad`), [], 'no cgroup left');
  t.same((await ctr(['container', 'ls', '-q'])).stdout, '', 'no container left in containerd');
});

t.test('containerd stops and leaves nothing behind', async (t) => {
  t.same((await ctr(['task', 'ls', '-q'])).stdout, '', 'no task left');
  const exited = new Promise<number | null>((resolve) => daemon!.once('exit', (code) => resolve(code)));
  daemon!.kill('SIGTERM');
  const status = await exited;
  t.equal(status, 0, 'containerd exits cleanly');
  if (status !== 0) t.comment(daemonOutput());
  t.ok(await waitFor(() => sandbox.processes().length === 0, 10_000), 'no containerd, shim or tsrunc process left');
  t.same(sandbox.processes(), []);
  t.same(sandbox.mounts(), [], 'no mount left under the temp dir');
  t.same(fs.existsSync(tsruncRoot) ? fs.readdirSync(tsruncRoot) : [], [], 'the tsrunc root is empty');
  const elsewhere = sandbox.tsruncCalls().filter((call) => !call.startsWith(`--root ${tsruncRoot} `));
  t.same(elsewhere, [], 'every call the shim made used the --runc-root given');
  t.same(hostDirs.release(), [], 'nothing new left under /run/containerd (shim sockets, fifos, runc roots)');
  t.same(namespaceCgroups.release(), [], `the namespace's parent cgroups (made by the runtime, as runc does) go once empty`);
  t.same(cgroupDirs(namespace), []);
});
