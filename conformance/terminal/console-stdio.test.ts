/**
 * With a terminal, the container process's stdio is the pty; the process tsrunc leaves
 * behind must not hold the stdio of the `create` (or `exec --detach`) that made it. Managers
 * read those calls' output until EOF: containerd-shim-runc-v2 (go-runc) does, and would wait
 * forever for a created container's init that kept the pipe open until `start`. And a
 * console socket that cannot be reached is one error line naming it.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { Sandbox, busyboxConfig, tsruncMain, type JsonObject } from '../lib/harness.js';
import { assertNothingLeft, withProcess } from '../lib/container-helpers.js';
import { listenForConsole } from './console-receiver.js';

const devpts = {
  destination: '/dev/pts',
  type: 'devpts',
  source: 'devpts',
  options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'],
};

function terminalConfig(args: string[]): JsonObject {
  const base = busyboxConfig(args);
  return { ...withProcess(base, { terminal: true }), mounts: [...(base['mounts'] as JsonObject[]), devpts] };
}

interface PipedResult {
  status: number | null;
  /** Whether stdout and stderr reached EOF within the wait after tsrunc exited. */
  closed: boolean;
  output: string;
}

/** Runs tsrunc with stdout/stderr on pipes, as go-runc does, and waits for EOF on both. */
function tsruncPiped(sandbox: Sandbox, args: string[], waitMs = 10_000): Promise<PipedResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [tsruncMain, '--root', sandbox.root, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let open = 2;
    let status: number | null = null;
    let timer: NodeJS.Timeout | undefined;
    const finish = (closed: boolean) => {
      if (timer) clearTimeout(timer);
      child.stdout.destroy();
      child.stderr.destroy();
      resolve({ status, closed, output });
    };
    for (const stream of [child.stdout, child.stderr]) {
      stream.on('data', (d: Buffer) => (output += d.toString()));
      stream.on('end', () => {
        if (--open === 0 && status !== null) finish(true);
      });
    }
    child.on('error', reject);
    child.on('exit', (code) => {
      status = code;
      if (open === 0) finish(true);
      else timer = setTimeout(() => finish(false), waitMs);
    });
  });
}

t.test('create --console-socket: the waiting init does not hold the caller stdout and stderr', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const socket = path.join(sandbox.dir, 'console.sock');
  const receiver = await listenForConsole(socket);
  t.teardown(() => receiver.stop());
  const bundle = sandbox.bundle(terminalConfig(['sh', '-c', 'echo on-the-tty']));
  const created = await tsruncPiped(sandbox, ['create', '--console-socket', socket, '--bundle', bundle, 'ttyp1']);
  t.equal(created.status, 0, `create: ${created.output}`);
  t.ok(created.closed, 'its stdout and stderr reach EOF before start');
  t.equal(created.output, '', 'and nothing was written to them');
  const started = await sandbox.tsrunc(['start', 'ttyp1']);
  t.equal(started.status, 0, started.stderr);
  const received = await receiver.done;
  t.match(received.output, 'on-the-tty', "the process's output goes to the pty");
  await sandbox.tsrunc(['delete', '--force', 'ttyp1']);
  assertNothingLeft(t, sandbox);
});

t.test('the same in a user namespace (the native stage starts the init)', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const socket = path.join(sandbox.dir, 'console.sock');
  const receiver = await listenForConsole(socket);
  t.teardown(() => receiver.stop());
  // The init connects to the socket as the mapped root (runc connects from the host side).
  fs.chmodSync(sandbox.dir, 0o755);
  fs.chmodSync(socket, 0o777);
  const config = terminalConfig(['sh', '-c', 'echo on-the-tty uid=$(id -u)']);
  const bundle = sandbox.bundle({
    ...config,
    linux: {
      namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'ipc' }, { type: 'uts' }, { type: 'network' }, { type: 'user' }],
      uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
      gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
    },
  });
  const created = await tsruncPiped(sandbox, ['create', '--console-socket', socket, '--bundle', bundle, 'ttyp3']);
  t.equal(created.status, 0, `create: ${created.output}`);
  t.ok(created.closed, 'its stdout and stderr reach EOF before start');
  const started = await sandbox.tsrunc(['start', 'ttyp3']);
  t.equal(started.status, 0, started.stderr);
  t.match((await receiver.done).output, 'on-the-tty uid=0', "the process's output goes to the pty");
  await sandbox.tsrunc(['delete', '--force', 'ttyp3']);
  assertNothingLeft(t, sandbox);
});

t.test('exec --detach --tty --console-socket: the process does not hold the caller stdout and stderr', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const bundle = sandbox.bundle(busyboxConfig(['sleep', '1000'], {
    mounts: [...(busyboxConfig([])['mounts'] as JsonObject[]), devpts],
  }));
  const run = await sandbox.tsrunc(['run', '--detach', '--bundle', bundle, 'ttyp2'], { outputFile: sandbox.outputOf('ttyp2') });
  t.equal(run.status, 0, run.stderr);
  const socket = path.join(sandbox.dir, 'console.sock');
  const receiver = await listenForConsole(socket);
  t.teardown(() => receiver.stop());
  // The process outlives the wait for EOF, so a pipe it held would show.
  const exec = await tsruncPiped(sandbox, ['exec', '--detach', '--tty', '--console-socket', socket, 'ttyp2', 'sh', '-c', 'echo exec-on-the-tty; sleep 3'], 2000);
  t.equal(exec.status, 0, `exec: ${exec.output}`);
  t.ok(exec.closed, 'its stdout and stderr reach EOF while the process runs');
  const received = await receiver.done;
  t.match(received.output, 'exec-on-the-tty', "the process's output goes to the pty");
  await sandbox.tsrunc(['delete', '--force', 'ttyp2']);
  assertNothingLeft(t, sandbox);
});

t.test('a console socket nobody listens on: create fails naming the step and the socket', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const socket = path.join(sandbox.dir, 'nobody.sock');
  const bundle = sandbox.bundle(terminalConfig(['true']));
  const result = await sandbox.tsrunc(['create', '--console-socket', socket, '--bundle', bundle, 'ttyp4']);
  t.equal(result.status, 1, 'create exits with status 1');
  t.equal(
    result.stderr,
    `tsrunc: setting up the terminal: connecting to the console socket ${socket}: connect: ENOENT (no such file or directory)\n`,
    'one line: the step, the socket and why',
  );
  assertNothingLeft(t, sandbox);
});
