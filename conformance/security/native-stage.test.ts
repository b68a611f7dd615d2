/**
 * What a container process can reach of the runtime (issue 11's findings), attacked for real
 * from inside containers with a static helper (attacker.c) in a copy of the rootfs, never
 * against a real host binary: tsrunc runs under a copy of node, whose bytes are checked after.
 *
 * - /proc/PID/exe of the waiting init (and of the process `exec` starts) cannot be held and
 *   written through once it exec'd (runc CVE-2019-5736): the stage is not dumpable and runs from
 *   a sealed memfd.
 * - No fd of the init leads to a host directory (CVE-2024-21626): /proc/1/fd/N/.. reaches
 *   nothing, a cwd of /proc/self/fd/N is refused, an fd the caller left open goes nowhere.
 * - The process starts as a fresh one would: no signal ignored or blocked, a session of its
 *   own, its stdio its user's, the container's session keyring (exec too).
 * - Time namespaces with offsets.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import t, { type Test } from 'tap';
import { Sandbox, busyboxConfig, repoRoot, runCommand, tsruncMain, waitFor, type JsonObject, type RunResult } from '../lib/harness.js';
import { assertNothingLeft, copyRootfs, fields } from '../lib/container-helpers.js';

const stageBinary = path.join(repoRoot, 'dist', 'native', 'tsrunc-stage');
const attackerSource = path.join(repoRoot, 'conformance', 'security', 'attacker.c');

function sha256(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

interface Setup {
  sandbox: Sandbox;
  rootfs: string;
  /** A copy of node that tsrunc runs under: what an attack on the old Node init would hit. */
  node: string;
  tsrunc(args: string[], options?: { input?: string; outputFile?: string }): Promise<RunResult>;
}

/** A sandbox whose rootfs copy has /bin/attacker, and tsrunc run by a copy of node. */
function setup(t: Test): Setup {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const rootfs = copyRootfs(sandbox);
  execFileSync('gcc', ['-O2', '-static', '-o', path.join(rootfs, 'bin', 'attacker'), attackerSource]);
  const node = path.join(sandbox.dir, 'node');
  fs.copyFileSync(process.execPath, node);
  fs.chmodSync(node, 0o755);
  return {
    sandbox, rootfs, node,
    tsrunc: (args, options = {}) => runCommand(node, [tsruncMain, '--root', sandbox.root, ...args], options),
  };
}

function config(s: Setup, args: string[], extra: JsonObject = {}): JsonObject {
  return { ...busyboxConfig(args), root: { path: s.rootfs }, ...extra };
}

/** Starts `tsrunc <args>` and resolves once its output has a line starting with `marker`; `done` is the whole run. */
function startUntil(s: Setup, args: string[], marker: string): { ready: Promise<void>; done: Promise<RunResult> } {
  const child = spawn(s.node, [tsruncMain, '--root', s.sandbox.root, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let signalReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (signalReady = resolve));
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    if (stdout.split('\n').some((line) => line.startsWith(marker))) signalReady();
  });
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<RunResult>((resolve) => child.on('close', (status, signal) => {
    signalReady();
    resolve({ status, signal, stdout, stderr });
  }));
  return { ready, done };
}

/** Docker's default capability set: no CAP_SYS_PTRACE, as in most containers. */
const dockerCaps = ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE'];

for (const privileged of [false, true]) {
  const who = privileged ? 'a process with every capability (CAP_SYS_PTRACE too)' : 'a process with Docker\'s default capabilities';
  t.test(`the waiting init's /proc/PID/exe, held by ${who}: nothing written through it after the init exec'd`, async (t) => {
    const s = setup(t);
    const nodeBefore = sha256(s.node);
    const stageBefore = sha256(stageBinary);
    const process = busyboxConfig([])['process'] as JsonObject;
    const capabilities = privileged ? undefined : { bounding: dockerCaps, effective: dockerCaps, permitted: dockerCaps };
    const bundle = s.sandbox.bundle(config(s, ['sleep', '30'], { process: { ...process, args: ['sleep', '30'], ...(capabilities ? { capabilities } : {}) } }));
    t.equal((await s.tsrunc(['create', '--bundle', bundle, 'exe'], { outputFile: s.sandbox.outputOf('exe') })).status, 0);
    // A process exec'd into the created container holds the init's executable ...
    const attack = startUntil(s, ['exec', 'exe', '/bin/attacker', 'exe-write', '1'], 'target=');
    await attack.ready;
    // ... the init execs the container's program, and the attacker writes through what it held.
    t.equal((await s.tsrunc(['start', 'exe'])).status, 0, 'start');
    const result = await attack.done;
    const seen = fields(result.stdout);
    if (privileged) {
      // ptrace rights over the init let it open the file, as with runc: a sealed copy, not a host file.
      t.equal(seen['target'], '/memfd:tsrunc-stage (deleted)', 'what it holds is the sealed copy of the stage');
    } else {
      t.not(seen['open'], 'ok', `the init's /proc/1/exe cannot be opened (${seen['open']}): it is not dumpable`);
    }
    t.not(seen['write'], 'ok', `nothing was written through it (${seen['write'] ?? 'no fd to write through'})`);
    t.equal(sha256(s.node), nodeBefore, 'the node that runs tsrunc is untouched');
    t.equal(sha256(stageBinary), stageBefore, 'the native stage binary is untouched');
    t.equal((await s.tsrunc(['delete', '--force', 'exe'])).status, 0);
    assertNothingLeft(t, s.sandbox);
  });
}

t.test("a container process racing `tsrunc exec` writes through no executable", async (t) => {
  const s = setup(t);
  const nodeBefore = sha256(s.node);
  // It watches for 12 s, long enough for five execs on a loaded machine, then stays.
  const bundle = s.sandbox.bundle(config(s, ['sh', '-c', '/bin/attacker exe-race 12; sleep 60']));
  t.equal((await s.tsrunc(['create', '--bundle', bundle, 'race'], { outputFile: s.sandbox.outputOf('race') })).status, 0);
  t.equal((await s.tsrunc(['start', 'race'])).status, 0);
  for (let i = 0; i < 5; i++) {
    const exec = await s.tsrunc(['exec', 'race', '/bin/busybox', 'true']);
    t.equal(exec.status, 0, `exec ${i + 1}: ${exec.stderr}`);
  }
  t.ok(await waitFor(() => /written=\d+/.test(s.sandbox.output('race')), 30_000), 'the attacker reported');
  const seen = fields(s.sandbox.output('race'));
  t.equal(seen['written'], '0', `nothing written through an executable it held (${seen['opened']} opened)`);
  t.equal(sha256(s.node), nodeBefore, 'the node that runs tsrunc is untouched');
  t.equal((await s.tsrunc(['delete', '--force', 'race'])).status, 0);
  assertNothingLeft(t, s.sandbox);
});

t.test("no fd of the init leads to the host: /proc/1/fd/N/.. from an exec'd process", async (t) => {
  const s = setup(t);
  const marker = path.join(s.sandbox.dir, 'host-secret');
  fs.writeFileSync(marker, 'HOST-SECRET\n');
  t.equal((await s.tsrunc(['create', '--bundle', s.sandbox.bundle(config(s, ['sleep', '30'])), 'walk'], { outputFile: s.sandbox.outputOf('walk') })).status, 0);
  const ups = Array.from({ length: 12 }, (_, i) => '../'.repeat(i + 1)).join(' ');
  const script = `ls /proc/1/fd; for n in $(seq 0 40); do for up in ${ups}; do cat /proc/1/fd/$n/$up${marker}; (echo x > /proc/1/fd/$n/$up${marker}.written); done; done 2>/dev/null; echo walked=1`;
  const result = await s.tsrunc(['exec', 'walk', 'sh', '-c', script]);
  t.match(result.stdout, /walked=1/, result.stderr);
  t.notMatch(result.stdout, /HOST-SECRET/, 'no host file read through the init\'s fds');
  t.notOk(fs.existsSync(`${marker}.written`), 'no host file written through them');
  t.equal((await s.tsrunc(['delete', '--force', 'walk'])).status, 0);
  assertNothingLeft(t, s.sandbox);
});

t.test('a cwd of /proc/self/fd/N is refused, not followed out of the container', async (t) => {
  const s = setup(t);
  for (const fd of [3, 4, 5]) {
    const cwd = `/proc/self/fd/${fd}`;
    const bundle = s.sandbox.bundle({ ...config(s, ['sh', '-c', 'echo cwd=$(pwd); ls']), process: { ...(busyboxConfig([])['process'] as JsonObject), args: ['sh', '-c', 'echo cwd=$(pwd); ls'], cwd } });
    const result = await s.tsrunc(['run', '--bundle', bundle, `cwd${fd}`]);
    t.equal(result.status, 1, `${cwd}: refused (${result.stdout.trim()})`);
    t.match(result.stderr.trim(), new RegExp(`^tsrunc: entering cwd ${cwd}: resolving ${cwd}: openat2: ELOOP`), 'one line naming it');
  }
  assertNothingLeft(t, s.sandbox);
});

t.test('an fd the caller left open (fd 200, a host directory) reaches neither the init, the hooks nor the process', async (t) => {
  const s = setup(t);
  const out = path.join(s.sandbox.dir, 'out');
  fs.mkdirSync(out);
  const listFds = (file: string) => ({ path: '/bin/sh', args: ['sh', '-c', `ls /proc/self/fd > ${file}`] });
  const bundle = s.sandbox.bundle(config(s, ['sh', '-c', 'ls /proc/self/fd > /out/process; sleep 30'], {
    mounts: [...(busyboxConfig([])['mounts'] as JsonObject[]), { destination: '/out', type: 'bind', source: out, options: ['rbind'] }],
    hooks: {
      prestart: [listFds(path.join(out, 'prestart'))],
      createContainer: [listFds(path.join(out, 'createContainer'))],
      startContainer: [listFds('/out/startContainer')],
    },
  }));
  const hostDir = fs.openSync(s.sandbox.dir, 'r');
  const output = fs.openSync(s.sandbox.outputOf('fd200'), 'a');
  const stdio: (number | 'ignore')[] = ['ignore', output, output];
  while (stdio.length < 200) stdio.push('ignore');
  stdio.push(hostDir);
  const created = await new Promise<number | null>((resolve) => {
    spawn(s.node, [tsruncMain, '--root', s.sandbox.root, 'create', '--bundle', bundle, 'fd200'], { stdio }).on('exit', resolve);
  });
  fs.closeSync(hostDir);
  fs.closeSync(output);
  t.equal(created, 0, s.sandbox.output('fd200'));
  const { pid } = JSON.parse((await s.tsrunc(['state', 'fd200'])).stdout) as { pid: number };
  t.notOk(fs.readdirSync(`/proc/${pid}/fd`).includes('200'), 'the waiting init has no fd 200');
  t.equal((await s.tsrunc(['start', 'fd200'])).status, 0);
  t.ok(await waitFor(() => fs.existsSync(path.join(out, 'process'))), 'the process ran');
  for (const name of ['prestart', 'createContainer', 'startContainer', 'process']) {
    const fds = fs.readFileSync(path.join(out, name), 'utf8').split(/\s+/);
    t.notOk(fds.includes('200'), `${name}: no fd 200 (${fds.join(' ').trim()})`);
  }
  t.equal((await s.tsrunc(['delete', '--force', 'fd200'])).status, 0);
  assertNothingLeft(t, s.sandbox);
});

/** What the process reports of its signals, session and stdio. */
const fresh = [
  'grep -E "^Sig(Ign|Blk)" /proc/self/status | tr -d "\\t" | sed "s/:/=/"',
  'read pid comm state ppid pgrp sid rest < /proc/self/stat; echo sid=$sid; echo pid=$pid',
].join('; ');

function assertFresh(t: Test, stdout: string, how: string): void {
  const seen = fields(stdout);
  t.equal(seen['SigIgn'], '0000000000000000', `${how}: no signal ignored`);
  t.equal(seen['SigBlk'], '0000000000000000', `${how}: no signal blocked`);
  t.ok(seen['sid'] && seen['sid'] === seen['pid'], `${how}: a session leader (sid ${seen['sid']}, pid ${seen['pid']})`);
}

t.test('the process starts fresh: no signal ignored or blocked, a session of its own (run, create+start, exec)', async (t) => {
  const s = setup(t);
  const run = await s.tsrunc(['run', '--bundle', s.sandbox.bundle(config(s, ['sh', '-c', fresh])), 'fresh1']);
  t.equal(run.status, 0, run.stderr);
  assertFresh(t, run.stdout, 'run');

  t.equal((await s.tsrunc(['create', '--bundle', s.sandbox.bundle(config(s, ['sh', '-c', `${fresh}; sleep 30`])), 'fresh2'], { outputFile: s.sandbox.outputOf('fresh2') })).status, 0);
  t.equal((await s.tsrunc(['start', 'fresh2'])).status, 0);
  t.ok(await waitFor(() => /pid=\d+/.test(s.sandbox.output('fresh2'))));
  assertFresh(t, s.sandbox.output('fresh2'), 'create + start');

  const exec = await s.tsrunc(['exec', 'fresh2', 'sh', '-c', fresh]);
  t.equal(exec.status, 0, exec.stderr);
  assertFresh(t, exec.stdout, 'exec');
  // A broken pipe ends a writer with SIGPIPE, as it should (status 141 in a shell).
  const pipe = await s.tsrunc(['exec', 'fresh2', 'sh', '-c', '(yes; echo status=$? >&2) | head -n 1 > /dev/null']);
  t.equal(fields(pipe.stderr)['status'], '141', 'SIGPIPE is not ignored: `yes | head -1` ends yes with it (status 141)');
  t.equal((await s.tsrunc(['delete', '--force', 'fresh2'])).status, 0);
  assertNothingLeft(t, s.sandbox);
});

t.test('a process user other than root may reopen its stdio (/dev/stdout), as with runc', async (t) => {
  const s = setup(t);
  const user = { uid: 1000, gid: 1000 };
  const script = 'echo through-dev-stdout > /dev/stdout && echo ok=1';
  // stdout a pipe, as under a shell, buildah or docker (Node's own stdio pipes are sockets,
  // which nobody can reopen through /proc).
  const piped = (args: string[]) => runCommand('sh', ['-c', '"$@" | cat', 'sh', s.node, tsruncMain, '--root', s.sandbox.root, ...args]);
  const bundle = s.sandbox.bundle(config(s, ['sh', '-c', script], { process: { ...(busyboxConfig([])['process'] as JsonObject), args: ['sh', '-c', script], user } }));
  const run = await piped(['run', '--bundle', bundle, 'user1']);
  t.equal(run.status, 0, run.stderr);
  t.match(run.stdout, /through-dev-stdout\nok=1/, `run: uid 1000 writes to /dev/stdout ${run.stderr}`);

  t.equal((await s.tsrunc(['create', '--bundle', s.sandbox.bundle(config(s, ['sleep', '30'])), 'user2'], { outputFile: s.sandbox.outputOf('user2') })).status, 0);
  const exec = await piped(['exec', '--user', '1000:1000', 'user2', 'sh', '-c', script]);
  t.equal(exec.status, 0, exec.stderr);
  t.match(exec.stdout, /through-dev-stdout\nok=1/, `exec --user 1000: the same ${exec.stderr}`);
  t.equal((await s.tsrunc(['delete', '--force', 'user2'])).status, 0);
  assertNothingLeft(t, s.sandbox);
});

t.test("a process `tsrunc exec` starts joins the container's session keyring", async (t) => {
  const s = setup(t);
  t.equal((await s.tsrunc(['create', '--bundle', s.sandbox.bundle(config(s, ['sh', '-c', '/bin/attacker session; sleep 30'])), 'keys'], { outputFile: s.sandbox.outputOf('keys') })).status, 0);
  t.equal((await s.tsrunc(['start', 'keys'])).status, 0);
  t.ok(await waitFor(() => /session=/.test(s.sandbox.output('keys'))));
  t.equal(fields(s.sandbox.output('keys'))['session'], '_ses.keys', 'the container process');
  const exec = await s.tsrunc(['exec', 'keys', '/bin/attacker', 'session']);
  t.equal(fields(exec.stdout)['session'], '_ses.keys', `the exec'd process: ${exec.stderr}`);
  t.equal((await s.tsrunc(['delete', '--force', 'keys'])).status, 0);
  assertNothingLeft(t, s.sandbox);
});

t.test('a time namespace with offsets: timens_offsets and the clocks inside', async (t) => {
  const s = setup(t);
  const script = 'cat /proc/self/timens_offsets; /bin/attacker monotonic; echo uptime=$(cut -d. -f1 /proc/uptime); sleep 30';
  const linux = {
    namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'ipc' }, { type: 'uts' }, { type: 'network' }, { type: 'time' }],
    timeOffsets: { monotonic: { secs: 86400, nanosecs: 0 }, boottime: { secs: 3600, nanosecs: 0 } },
  };
  const hostUptime = Number(fs.readFileSync('/proc/uptime', 'utf8').split('.')[0]);
  t.equal((await s.tsrunc(['create', '--bundle', s.sandbox.bundle(config(s, ['sh', '-c', script], { linux })), 'tns'], { outputFile: s.sandbox.outputOf('tns') })).status, 0);
  t.equal((await s.tsrunc(['start', 'tns'])).status, 0);
  t.ok(await waitFor(() => /uptime=/.test(s.sandbox.output('tns'))));
  const output = s.sandbox.output('tns');
  t.match(output, /^monotonic\s+86400\s+0$/m, 'timens_offsets: monotonic');
  t.match(output, /^boottime\s+3600\s+0$/m, 'timens_offsets: boottime');
  const seen = fields(output);
  t.ok(Number(seen['monotonic']) >= 86400, `CLOCK_MONOTONIC is a day ahead (${seen['monotonic']} s)`);
  t.ok(Number(seen['uptime']) >= hostUptime + 3600, `boottime (uptime) an hour ahead (${seen['uptime']} s, host ${hostUptime} s)`);
  const exec = await s.tsrunc(['exec', 'tns', '/bin/attacker', 'monotonic']);
  t.ok(Number(fields(exec.stdout)['monotonic']) >= 86400, `an exec'd process is in it too (${exec.stdout.trim()})`);
  t.equal((await s.tsrunc(['delete', '--force', 'tns'])).status, 0);
  assertNothingLeft(t, s.sandbox);
});
