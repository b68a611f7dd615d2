/**
 * process.terminal with --console-socket: the manager receives the pty master over the socket
 * (SCM_RIGHTS), the container process has the slave, from the container's own devpts, as its
 * stdio and controlling terminal, sized as process.consoleSize says.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { Sandbox, busyboxConfig, runCommand, tsruncMain, type JsonObject } from '../lib/harness.js';
import { assertNothingLeft, expectCreateFailure, fields, withProcess } from '../lib/container-helpers.js';
import { listenForConsole } from './console-receiver.js';

const devpts = {
  destination: '/dev/pts',
  type: 'devpts',
  source: 'devpts',
  options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'],
};

function terminalConfig(script: string, processFields: JsonObject = {}): JsonObject {
  const base = busyboxConfig(['sh', '-c', script]);
  const config = withProcess(base, { terminal: true, consoleSize: { height: 33, width: 111 }, ...processFields });
  return { ...config, mounts: [...(base['mounts'] as JsonObject[]), devpts] };
}

/** Lines of tty output without the carriage returns the tty adds. */
const clean = (output: string) => output.replace(/\r/g, '');

t.test('create --console-socket: the master arrives, the process has the slave as its terminal', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const socket = path.join(sandbox.dir, 'console.sock');
  const receiver = await listenForConsole(socket);
  t.teardown(() => receiver.stop());
  const script = [
    'echo tty=$(tty)',
    'echo size=$(stty size)',
    'test -t 0 && test -t 1 && test -t 2 && echo stdio=tty',
    "echo session=$(cut -d' ' -f6 /proc/$$/stat)",
    "echo ctty=$(cut -d' ' -f7 /proc/$$/stat)",
    'echo console=$(stat -c %t:%T /dev/console)',
    'echo ptmx=$(ls /dev/pts | tr "\\n" " ")',
  ].join('; ');
  const bundle = sandbox.bundle(terminalConfig(script));
  const created = await sandbox.create('tty1', bundle, ['--console-socket', socket]);
  t.equal(created.status, 0, created.stderr);
  const started = await sandbox.tsrunc(['start', 'tty1']);
  t.equal(started.status, 0, started.stderr);
  const received = await receiver.done;
  t.equal(received.fds, 1, 'one fd arrives');
  t.equal(received.message, '/dev/ptmx', 'with the name runc sends');
  const seen = fields(clean(received.output));
  t.equal(seen['tty'], '/dev/pts/0', "the first pty of the container's own devpts");
  t.equal(seen['size'], '33 111', 'consoleSize applied (rows cols)');
  t.equal(seen['stdio'], 'tty', 'stdin, stdout and stderr are the terminal');
  t.equal(seen['session'], '1', 'the process leads its own session');
  t.equal(seen['ctty'], `${136 << 8}`, 'and /dev/pts/0 (136:0) is its controlling terminal');
  t.equal(seen['console'], '88:0', '/dev/console is the pty too (runc binds it there)');
  t.equal(sandbox.output('tty1'), '', 'nothing went to the stdio tsrunc create had');
  const deleted = await sandbox.tsrunc(['delete', '--force', 'tty1']);
  t.equal(deleted.status, 0, deleted.stderr);
  assertNothingLeft(t, sandbox);
});

t.test('what the manager types reaches the process through the master', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const socket = path.join(sandbox.dir, 'console.sock');
  const receiver = await listenForConsole(socket, 'hello there\n');
  t.teardown(() => receiver.stop());
  const bundle = sandbox.bundle(terminalConfig('read line; echo "got=[$line]"', { user: { uid: 1000, gid: 1000 } }));
  const result = await sandbox.tsrunc(['run', '--detach', '--console-socket', socket, '--bundle', bundle, 'tty2']);
  t.equal(result.status, 0, result.stderr);
  const received = await receiver.done;
  t.equal(fields(clean(received.output))['got'], '[hello there]', 'the line typed is read, also as a non-root user');
  await sandbox.tsrunc(['delete', '--force', 'tty2']);
  assertNothingLeft(t, sandbox);
});

t.test('terminal without --console-socket, and --console-socket without terminal, fail as in runc', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  await expectCreateFailure(t, sandbox, terminalConfig('true'), /cannot allocate tty if tsrunc will detach without setting console socket/);
  const bundle = sandbox.bundle(busyboxConfig(['true']));
  const result = await sandbox.tsrunc(['create', '--console-socket', path.join(sandbox.dir, 'none.sock'), '--bundle', bundle, 'notty']);
  t.equal(result.status, 1);
  t.match(result.stderr, /cannot use console socket if tsrunc will not detach or allocate tty/);
  assertNothingLeft(t, sandbox);
});

t.test('a console socket nobody listens on fails create cleanly', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const bundle = sandbox.bundle(terminalConfig('true'));
  const result = await sandbox.tsrunc(['create', '--console-socket', path.join(sandbox.dir, 'none.sock'), '--bundle', bundle, 'nosock']);
  t.equal(result.status, 1);
  t.match(result.stderr, /console socket .*none\.sock.*ENOENT/);
  assertNothingLeft(t, sandbox);
});

t.test('run in the foreground with terminal and no --console-socket: tsrunc relays the pty itself', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const script = 'echo tty=$(tty); echo size=$(stty size); read line; echo typed=$line; exit 7';
  const consoleSocketsBefore = consoleSocketDirs();
  const result = await sandbox.tsrunc(['run', '--bundle', sandbox.bundle(terminalConfig(script)), 'fg'], { input: 'hello pty\n' });
  t.equal(result.status, 7, `the process's exit status: ${result.stderr}`);
  const seen = fields(clean(result.stdout));
  t.equal(seen['tty'], '/dev/pts/0', "the process's stdio is a pty of the container's devpts");
  t.equal(seen['size'], '33 111', "consoleSize applied (tsrunc's own stdout is no terminal here)");
  t.equal(seen['typed'], 'hello pty', "tsrunc's stdin reaches the process through the pty");
  t.notOk(result.stdout.includes('\r'), 'lines end in a bare newline: ONLCR is cleared on the pty, as runc does');
  t.equal(result.stderr, '', 'nothing on stderr');
  t.same(consoleSocketDirs().filter((d) => !consoleSocketsBefore.includes(d)), [], 'the private console socket is gone');
  assertNothingLeft(t, sandbox);
});

t.test('run in the foreground under a real terminal: keys reach the process, the status comes back', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const bundle = sandbox.bundle(terminalConfig('read line; echo typed=$line; exit 3'));
  // script(1) gives tsrunc a pty of the host as its stdin and stdout; tsrunc makes it raw.
  const command = `${process.execPath} ${tsruncMain} --root ${sandbox.root} run --bundle ${bundle} fgtty`;
  const result = await runCommand('script', ['-qec', command, '/dev/null'], { input: 'abc\r' });
  t.equal(result.status, 3, `the process's exit status: ${result.stderr}`);
  t.match(clean(result.stdout), /typed=abc/);
  assertNothingLeft(t, sandbox);
});

t.test('run in the foreground with terminal when the stage waits for start before its root changes: the pty still comes', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  // tty(1) needs the name under the root's /dev/pts, which a rootfs without mounts lacks: ask isatty.
  const script = 'echo tty=$([ -t 0 ] && [ -t 2 ] && echo yes); read line; echo typed=$line; exit 5';
  const base = terminalConfig(script);
  const linux = base['linux'] as JsonObject;
  const cases: [string, JsonObject][] = [
    // The host's devpts: the container shares the host's mount namespace.
    ['no mount namespace', { ...base, linux: { ...linux, namespaces: [{ type: 'pid' }, { type: 'uts' }] } }],
    ['no proc on the new root', { ...base, mounts: [(base['mounts'] as JsonObject[]).find((m) => m['destination'] === '/dev')!, devpts] }],
  ];
  for (const [index, [name, config]] of cases.entries()) {
    // Before the fix run waited for the pty before start, and the stage made it only after: a hang (killed at 20 s).
    const result = await sandbox.tsrunc(['run', '--bundle', sandbox.bundle(config), `early${index}`], { input: 'hi\n', timeoutMs: 20_000 });
    t.equal(result.status, 5, `${name}: the process's exit status (${result.signal ?? ''} ${result.stderr})`);
    const seen = fields(clean(result.stdout));
    t.equal(seen['tty'], 'yes', `${name}: the process's stdin and stderr are a terminal`);
    t.equal(seen['typed'], 'hi', `${name}: stdin reaches it`);
  }
  assertNothingLeft(t, sandbox);
});

/** The private socket dirs of foreground terminals (they must not outlive the command). */
function consoleSocketDirs(): string[] {
  return fs.readdirSync(os.tmpdir()).filter((name) => name.startsWith('tsrunc-console-'));
}
