/**
 * containerd (Debian's 1.6) configured for the systemd cgroup driver runs a container through
 * tsrunc on the v2 + systemd VM: ctr's --runc-systemd-cgroup makes the shim call
 * `tsrunc --systemd-cgroup`, the task runs in the transient scope its cgroupsPath names, with
 * the memory limit systemd shows, and nothing is left once the task and container are deleted.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import t from 'tap';
import { runCommand, waitFor, type RunResult } from '../lib/harness.js';
import { ClientSandbox, writeContainerdConfig } from '../clients/client-sandbox.js';
import { notV2Host } from './lib.js';

const skip = notV2Host() || (!fs.existsSync('/run/systemd/system') && 'systemd is not this host\'s init')
  || (!fs.existsSync('/usr/bin/containerd') && 'containerd is not installed in this guest');
const MiB = 1024 * 1024;

t.test('ctr --runc-systemd-cgroup: the task runs in a systemd scope through tsrunc', { skip }, async (t) => {
  const sandbox = new ClientSandbox('containerd-sd');
  const socket = sandbox.path('containerd.sock');
  const namespace = `tsrunc-sd-${process.pid}`;
  const runcRoot = sandbox.path('runc-root');
  const tsrunc = sandbox.tsruncWrapper();
  const id = `ctrsd${process.pid}`;
  const unit = `ctrtest-${id}.scope`;
  writeContainerdConfig(sandbox, socket);
  const ctr = (args: string[]): Promise<RunResult> => runCommand('ctr', ['--address', socket, '--namespace', namespace, ...args], { timeoutMs: 180_000 });
  const log = fs.openSync(sandbox.path('containerd.log'), 'a');
  const daemon: ChildProcess = spawn('containerd', ['--config', sandbox.path('config.toml')], { stdio: ['ignore', log, log] });
  fs.closeSync(log);
  t.teardown(async () => {
    await ctr(['task', 'kill', '-s', 'SIGKILL', id]);
    await ctr(['task', 'delete', '--force', id]);
    await ctr(['container', 'delete', id]);
    const exited = new Promise<void>((resolve) => daemon.once('exit', () => resolve()));
    if (daemon.exitCode === null && daemon.signalCode === null) {
      daemon.kill('SIGTERM');
      await exited;
    }
    spawnSync('systemctl', ['stop', unit]);
    sandbox.remove();
  });
  t.ok(await waitFor(async () => fs.existsSync(socket) && (await ctr(['version'])).status === 0, 120_000), 'containerd is up');

  const started = await ctr([
    'run', '-d', '--null-io', '--runc-binary', tsrunc, '--runc-root', runcRoot, '--fifo-dir', sandbox.path('fifo'),
    '--runc-systemd-cgroup', '--cgroup', `system.slice:ctrtest:${id}`, '--memory-limit', String(64 * MiB),
    '--rootfs', sandbox.rootfs, id, '/bin/sleep', '600',
  ]);
  t.equal(started.status, 0, `ctr run: ${started.stderr}`);
  t.match(sandbox.tsruncCalls('create', id)[0] ?? '', /--systemd-cgroup/, 'the shim called tsrunc create with --systemd-cgroup');
  const show = spawnSync('systemctl', ['show', unit, '-p', 'ActiveState', '-p', 'MemoryMax', '-p', 'Delegate'], { encoding: 'utf8' }).stdout;
  t.match(show, /ActiveState=active/, `systemd has the scope: ${show}`);
  t.match(show, new RegExp(`MemoryMax=${64 * MiB}`), 'with the task\'s memory limit');
  t.match(show, /Delegate=yes/);
  const dir = `/sys/fs/cgroup/system.slice/${unit}`;
  t.equal(fs.readFileSync(`${dir}/memory.max`, 'utf8').trim(), String(64 * MiB), 'memory.max of the scope');
  t.ok(fs.readFileSync(`${dir}/cgroup.procs`, 'utf8').trim().length > 0, 'the task is in the scope');

  t.equal((await ctr(['task', 'kill', '-s', 'SIGKILL', id])).status, 0, 'ctr task kill');
  t.ok(await waitFor(async () => / STOPPED/.test((await ctr(['task', 'ls'])).stdout), 60_000), 'the task stops');
  t.equal((await ctr(['task', 'delete', id])).status, 0, 'ctr task delete');
  t.equal((await ctr(['container', 'delete', id])).status, 0, 'ctr container delete');
  const after = spawnSync('systemctl', ['show', unit, '-p', 'LoadState', '-p', 'ActiveState'], { encoding: 'utf8' }).stdout;
  t.match(after, /LoadState=not-found|ActiveState=inactive/, `no scope left: ${after}`);
  t.notOk(fs.existsSync(dir), 'no cgroup left');
});
