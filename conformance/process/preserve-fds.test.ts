/**
 * --preserve-fds N: tsrunc's fds 3..3+N-1 reach the container process at the same numbers;
 * LISTEN_FDS (systemd socket activation, when LISTEN_PID is tsrunc) passes its fds first and
 * tells the process LISTEN_FDS=n, LISTEN_PID=1, as runc does. Nothing else leaks.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import t from 'tap';
import { Sandbox, tsruncMain, type RunResult } from '../lib/harness.js';
import { assertNothingLeft, fields, scriptConfig } from '../lib/container-helpers.js';

/** `command args` with `extra` fds at 3.. of the child; output collected. */
function runWithFds(command: string, args: string[], extra: number[], env: NodeJS.ProcessEnv = process.env): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe', ...extra], env });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr });
    });
  });
}

function file(sandbox: Sandbox, name: string, content: string): number {
  const file = path.join(sandbox.dir, name);
  fs.writeFileSync(file, content);
  return fs.openSync(file, 'r');
}

/** The shell's own open fds below 10, listed with builtins only (a $(...) would add its pipe). */
const listFds = 'printf fds=; for n in 0 1 2 3 4 5 6 7 8 9; do [ -e /proc/$$/fd/$n ] && printf "$n "; done; echo';
const report = listFds + '; echo three=$(cat <&3); echo four=$(cat <&4 2>/dev/null); echo listen=$LISTEN_FDS:$LISTEN_PID';

t.test('run --preserve-fds 2: the files at 3 and 4 are readable inside, nothing more is open', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const a = file(sandbox, 'a', 'first');
  const b = file(sandbox, 'b', 'second');
  t.teardown(() => [a, b].forEach((fd) => fs.closeSync(fd)));
  const bundle = sandbox.bundle(scriptConfig(report));
  const result = await runWithFds(process.execPath, [tsruncMain, '--root', sandbox.root, 'run', '--preserve-fds', '2', '--bundle', bundle, 'pf1'], [a, b]);
  t.equal(result.status, 0, result.stderr);
  const seen = fields(result.stdout);
  t.equal(seen['three'], 'first', 'fd 3 is the first preserved file');
  t.equal(seen['four'], 'second', 'fd 4 the second');
  t.equal(seen['fds'], '0 1 2 3 4 ', 'only stdio and the preserved fds are open');
  t.equal(seen['listen'], ':', 'no LISTEN_FDS without socket activation');
  assertNothingLeft(t, sandbox);
});

t.test('without --preserve-fds the fds tsrunc has are not passed', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const a = file(sandbox, 'a', 'first');
  t.teardown(() => fs.closeSync(a));
  const bundle = sandbox.bundle(scriptConfig(report));
  const result = await runWithFds(process.execPath, [tsruncMain, '--root', sandbox.root, 'run', '--bundle', bundle, 'pf2'], [a]);
  t.equal(result.status, 0, result.stderr);
  t.equal(fields(result.stdout)['fds'], '0 1 2 ', 'stdio only');
  assertNothingLeft(t, sandbox);
});

t.test('create --preserve-fds 1 then start: the fd survives the wait for start', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const a = file(sandbox, 'a', 'kept');
  t.teardown(() => fs.closeSync(a));
  const out = fs.openSync(sandbox.outputOf('pf3'), 'w');
  const bundle = sandbox.bundle(scriptConfig(report));
  const created = await new Promise<number | null>((resolve) => {
    const child = spawn(process.execPath, [tsruncMain, '--root', sandbox.root, 'create', '--preserve-fds', '1', '--bundle', bundle, 'pf3'], {
      stdio: ['ignore', out, out, a],
    });
    child.on('exit', (status) => resolve(status));
  });
  fs.closeSync(out);
  t.equal(created, 0, sandbox.output('pf3'));
  t.equal((await sandbox.tsrunc(['start', 'pf3'])).status, 0);
  const { waitFor } = await import('../lib/harness.js');
  await waitFor(() => sandbox.output('pf3').includes('listen='));
  t.equal(fields(sandbox.output('pf3'))['three'], 'kept');
  await sandbox.tsrunc(['delete', '--force', 'pf3']);
  assertNothingLeft(t, sandbox);
});

t.test('LISTEN_FDS for tsrunc itself go first, LISTEN_PID becomes 1; --preserve-fds follow', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const a = file(sandbox, 'a', 'socket');
  const b = file(sandbox, 'b', 'preserved');
  t.teardown(() => [a, b].forEach((fd) => fs.closeSync(fd)));
  const bundle = sandbox.bundle(scriptConfig(report));
  // exec keeps the shell's pid, so LISTEN_PID=$$ names tsrunc, as systemd would.
  const command = `LISTEN_PID=$$ LISTEN_FDS=1 exec "${process.execPath}" "${tsruncMain}" --root "${sandbox.root}" run --preserve-fds 1 --bundle "${bundle}" pf4`;
  const result = await runWithFds('sh', ['-c', command], [a, b]);
  t.equal(result.status, 0, result.stderr);
  const seen = fields(result.stdout);
  t.equal(seen['three'], 'socket', 'the activation fd at 3');
  t.equal(seen['four'], 'preserved', 'the preserved fd after it');
  t.equal(seen['listen'], '1:1', 'LISTEN_FDS=1 and LISTEN_PID=1');
  assertNothingLeft(t, sandbox);
});

t.test('--preserve-fds reaching past the open fds fails with runc\'s message', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const bundle = sandbox.bundle(scriptConfig('true'));
  const result = await runWithFds(process.execPath, [tsruncMain, '--root', sandbox.root, 'run', '--preserve-fds', '60', '--bundle', bundle, 'pf5'], []);
  t.equal(result.status, 1);
  t.match(result.stderr, /unable to stat preserved-fd \d+ \(of 60\)/);
  assertNothingLeft(t, sandbox);
});
