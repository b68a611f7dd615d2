/**
 * runtime-spec config.md "POSIX-platform Hooks" and runtime.md "Lifecycle": every hook kind
 * runs at its step, in the namespace the spec names, with the state on stdin and its own
 * args, env and timeout; failures stop create/start, or only warn for poststart (before
 * runtime-spec 1.3) and poststop.
 *
 * Hooks are `sh -c SCRIPT`: the host's /bin/sh for the runtime-namespace kinds (and for
 * createContainer, whose path resolves in the runtime namespace), the busybox rootfs's /bin/sh
 * for startContainer, which resolves in the container. Each records into $OUT (the sandbox's
 * out/ directory, bind-mounted at /out in the container).
 */
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { Sandbox, busyboxConfig, processExists, waitFor, type JsonObject } from '../lib/harness.js';
import { assertNothingLeft } from '../lib/container-helpers.js';

type Kind = 'prestart' | 'createRuntime' | 'createContainer' | 'startContainer' | 'poststart' | 'poststop';

interface HookState {
  ociVersion: string;
  id: string;
  status: string;
  pid: number;
  bundle: string;
  annotations?: Record<string, string>;
}

/** Saves stdin as $OUT/<name>.json, appends <name> to $OUT/order, and notes what it sees. */
const RECORD = [
  'name=$1',
  'cat > "$OUT/$name.json"',
  'echo "$name" >> "$OUT/order"',
  'pid=$(sed \'s/.*"pid":\\([0-9]*\\).*/\\1/\' "$OUT/$name.json")',
  '{',
  '  echo "argv0=$(tr "\\0" "\\n" < /proc/$$/cmdline | head -n 1)"',
  '  echo "extra=$2"',
  '  echo "foo=$FOO"',
  '  echo "environ=$(tr "\\0" " " < /proc/$$/environ)"',
  '  echo "mnt=$(readlink /proc/self/ns/mnt)"',
  '  echo "pidns=$(readlink /proc/self/ns/pid)"',
  '  echo "target=$(tr "\\0" " " < /proc/$pid/cmdline)"',
  '} > "$OUT/$name.info"',
].join('\n');

/** argv0 'hook-argv0' shows args[0] is argv[0]; busybox's sh (startContainer) needs 'sh' there. */
function hook(name: string, options: { script?: string; out?: string; argv0?: string } = {}): JsonObject {
  return {
    path: '/bin/sh',
    args: [options.argv0 ?? 'hook-argv0', '-c', options.script ?? RECORD, 'sh', name, 'extra argument'],
    env: [`OUT=${options.out ?? '/dev/null'}`, 'FOO=bar baz'],
  };
}

const FAIL = 'echo "hook says no" >&2; exit 3';

class HookSandbox extends Sandbox {
  readonly out: string;
  private ids = 0;
  constructor() {
    super();
    this.out = path.join(this.dir, 'out');
    fs.mkdirSync(this.out);
    fs.chmodSync(this.out, 0o777);
  }
  /** A recording hook of this kind (startContainer writes through the /out bind mount). */
  record(kind: Kind, name: string = kind): JsonObject {
    return kind === 'startContainer' ? hook(name, { out: '/out', argv0: 'sh' }) : hook(name, { out: this.out });
  }
  failing(kind: Kind): JsonObject {
    return hook(kind, { script: FAIL, out: kind === 'startContainer' ? '/out' : this.out, argv0: 'sh' });
  }
  config(hooks: Partial<Record<Kind, JsonObject[]>>, args = ['sh', '-c', 'touch /out/ran; exec sleep 60']): JsonObject {
    const base = busyboxConfig(args, { annotations: { 'org.example.hooks': 'yes' }, hooks });
    const mounts = base['mounts'] as JsonObject[];
    return { ...base, mounts: [...mounts, { destination: '/out', type: 'bind', source: this.out, options: ['rbind'] }] };
  }
  order(): string[] {
    const file = path.join(this.out, 'order');
    return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim().split('\n') : [];
  }
  state(name: string): HookState {
    return JSON.parse(fs.readFileSync(path.join(this.out, `${name}.json`), 'utf8')) as HookState;
  }
  info(name: string): Record<string, string> {
    const found: Record<string, string> = {};
    for (const line of fs.readFileSync(path.join(this.out, `${name}.info`), 'utf8').split('\n')) {
      const equals = line.indexOf('=');
      if (equals > 0) found[line.slice(0, equals)] = line.slice(equals + 1);
    }
    return found;
  }
  nextId(): string {
    return `hk${++this.ids}`;
  }
}

function sandboxFor(t: Test): HookSandbox {
  const sandbox = new HookSandbox();
  t.teardown(() => sandbox.cleanup());
  return sandbox;
}

const ns = (kind: string) => fs.readlinkSync(`/proc/self/ns/${kind}`);

t.test('every hook kind runs at its step, in its namespace, with the state on stdin', async (t) => {
  const sandbox = sandboxFor(t);
  const kinds: Kind[] = ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'];
  const bundle = sandbox.bundle(sandbox.config(Object.fromEntries(kinds.map((kind) => [kind, [sandbox.record(kind)]]))));
  const id = sandbox.nextId();

  const created = await sandbox.create(id, bundle);
  t.equal(created.status, 0, `create succeeds: ${created.stdout}`);
  t.same(sandbox.order(), ['prestart', 'createRuntime', 'createContainer'], 'create runs prestart, createRuntime, createContainer in order');
  const initPid = (JSON.parse((await sandbox.tsrunc(['state', id])).stdout) as HookState).pid;
  for (const kind of ['prestart', 'createRuntime', 'createContainer'] as const) {
    const state = sandbox.state(kind);
    t.same(
      state,
      { ociVersion: '1.2.0', id, status: 'created', pid: initPid, bundle, annotations: { 'org.example.hooks': 'yes' } },
      `${kind} gets the state (status created: lifecycle step 2 is over, the init's host pid) on stdin`,
    );
    const info = sandbox.info(kind);
    t.equal(info['extra'], 'extra argument', `${kind}: the other args reach it`);
    t.equal(info['foo'], 'bar baz', `${kind}: its env reaches it`);
    if (kind !== 'createContainer') {
      // ($$ is a pid of the container's pid namespace for createContainer, while /proc is the host's.)
      t.equal(info['argv0'], 'hook-argv0', `${kind}: args[0] is argv[0]`);
      // tap's process-info loader wraps child_process in tsrunc too and adds its own variables.
      const environ = (info['environ'] ?? '').trim().split(' ').filter((v) => !/^(_TAPJS_|NODE_OPTIONS=)/.test(v));
      t.same(environ, [`OUT=${sandbox.out}`, 'FOO=bar', 'baz'], `${kind}: its env is exactly hook.env`);
    }
    t.match(info['target'], /^tsrunc init /, `${kind}: runs while the init is still the runtime's stage`);
  }
  // Runtime namespace: the runtime's own; container namespace: the init's.
  t.equal(sandbox.info('prestart')['mnt'], ns('mnt'), 'prestart runs in the runtime mount namespace');
  t.equal(sandbox.info('createRuntime')['pidns'], ns('pid'), 'createRuntime runs in the runtime pid namespace');
  t.not(sandbox.info('createContainer')['mnt'], ns('mnt'), 'createContainer runs in the container mount namespace');
  t.not(sandbox.info('createContainer')['pidns'], ns('pid'), 'createContainer runs in the container pid namespace');
  t.equal(sandbox.info('createContainer')['mnt'], fs.readlinkSync(`/proc/${initPid}/ns/mnt`), '... the init\'s');
  t.notOk(fs.existsSync(path.join(sandbox.out, 'ran')), 'the user process has not run');

  const started = await sandbox.tsrunc(['start', id]);
  t.equal(started.status, 0, `start succeeds: ${started.stderr}`);
  t.same(sandbox.order(), ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart'], 'start runs startContainer, then poststart');
  t.same(sandbox.state('startContainer'), { ...sandbox.state('prestart'), status: 'created' }, 'startContainer sees status created');
  t.same(sandbox.state('poststart'), { ...sandbox.state('prestart'), status: 'running' }, 'poststart sees status running');
  t.equal(sandbox.info('startContainer')['mnt'], fs.readlinkSync(`/proc/${initPid}/ns/mnt`), 'startContainer runs in the container mount namespace');
  t.equal(sandbox.info('startContainer')['argv0'], 'sh', 'startContainer: args[0] is argv[0] (busybox picks its applet by it)');
  t.match(sandbox.info('poststart')['target'], /sleep 60|sh -c touch/, 'poststart runs after the user process was executed');
  t.equal(sandbox.info('poststart')['mnt'], ns('mnt'), 'poststart runs in the runtime mount namespace');

  t.equal((await sandbox.tsrunc(['kill', id, 'KILL'])).status, 0);
  t.ok(await waitFor(() => !processExists(initPid)), 'the container stops');
  t.notOk(fs.existsSync(path.join(sandbox.out, 'poststop.json')), 'no poststop before delete');
  const deleted = await sandbox.tsrunc(['delete', id]);
  t.equal(deleted.status, 0, `delete succeeds: ${deleted.stderr}`);
  t.same(sandbox.order().slice(-1), ['poststop'], 'delete runs poststop');
  t.same(sandbox.state('poststop'), { ...sandbox.state('prestart'), status: 'stopped' }, 'poststop sees status stopped');
  t.same(sandbox.leftovers(), [], 'the container was deleted before poststop returned');
});

t.test('hooks of one kind run in order; create without hooks is unaffected', async (t) => {
  const sandbox = sandboxFor(t);
  const bundle = sandbox.bundle(sandbox.config({
    prestart: [sandbox.record('prestart', 'p1'), sandbox.record('prestart', 'p2')],
    createRuntime: [sandbox.record('createRuntime', 'r1')],
    poststart: [sandbox.record('poststart', 's1'), sandbox.record('poststart', 's2')],
  }));
  const id = sandbox.nextId();
  t.equal((await sandbox.create(id, bundle)).status, 0);
  t.equal((await sandbox.tsrunc(['start', id])).status, 0);
  t.same(sandbox.order(), ['p1', 'p2', 'r1', 's1', 's2']);
  t.equal((await sandbox.tsrunc(['delete', '--force', id])).status, 0);
});

/** Create fails with status 1, one line naming the hook, nothing left; poststop still runs. */
async function expectHookFailure(t: Test, sandbox: HookSandbox, hooks: Partial<Record<Kind, JsonObject[]>>, expected: RegExp): Promise<void> {
  const bundle = sandbox.bundle(sandbox.config({ ...hooks, poststop: [sandbox.record('poststop')] }));
  const started = Date.now();
  const result = await sandbox.tsrunc(['create', '--bundle', bundle, sandbox.nextId()]);
  t.equal(result.status, 1, 'create exits with status 1');
  t.match(result.stderr.trim(), expected, 'the error names the hook and how it failed');
  t.equal(result.stderr.trim().split('\n').length, 1, `one error line: ${result.stderr}`);
  t.ok(Date.now() - started < 15_000, 'promptly');
  assertNothingLeft(t, sandbox);
  t.notOk(fs.existsSync(path.join(sandbox.out, 'ran')), 'the user process never ran');
  t.same(sandbox.order().slice(-1), ['poststop'], 'the destroyed container\'s poststop hooks ran (runtime.md steps 12-13)');
  t.equal(sandbox.state('poststop').status, 'stopped');
}

t.test('a failing prestart hook fails create; the hooks after it do not run', async (t) => {
  const sandbox = sandboxFor(t);
  await expectHookFailure(t, sandbox,
    { prestart: [sandbox.failing('prestart'), sandbox.record('prestart', 'after')], createContainer: [sandbox.record('createContainer')] },
    /error running hook #0 \(prestart, \/bin\/sh\): exit status 3 \(stderr: hook says no\)/);
  t.same(sandbox.order(), ['poststop'], 'neither the next prestart hook nor createContainer ran');
});

t.test('a failing createRuntime hook fails create', async (t) => {
  const sandbox = sandboxFor(t);
  await expectHookFailure(t, sandbox,
    { prestart: [sandbox.record('prestart')], createRuntime: [sandbox.record('createRuntime', 'r0'), sandbox.failing('createRuntime')] },
    /error running hook #1 \(createRuntime, \/bin\/sh\): exit status 3/);
  t.same(sandbox.order(), ['prestart', 'r0', 'poststop']);
});

t.test('a failing createContainer hook fails create', async (t) => {
  const sandbox = sandboxFor(t);
  await expectHookFailure(t, sandbox, { createContainer: [sandbox.failing('createContainer')] },
    /error running hook #0 \(createContainer, \/bin\/sh\): exit status 3/);
});

t.test('a hook that outlives its timeout is killed and fails create', async (t) => {
  const sandbox = sandboxFor(t);
  const slow = { path: '/bin/sleep', args: ['sleep', '30'], timeout: 1 };
  const started = Date.now();
  await expectHookFailure(t, sandbox, { createRuntime: [slow] }, /error running hook #0 \(createRuntime, \/bin\/sleep\): timed out after 1s/);
  t.ok(Date.now() - started < 10_000, 'after about a second');
});

t.test('a hook whose path does not exist fails create; a relative path is refused', async (t) => {
  const sandbox = sandboxFor(t);
  await expectHookFailure(t, sandbox, { prestart: [{ path: '/no/such/hook' }] }, /error running hook #0 \(prestart, \/no\/such\/hook\): cannot run it: ENOENT/);
  const bundle = sandbox.bundle(sandbox.config({ poststop: [{ path: 'relative/hook' }] }));
  const result = await sandbox.tsrunc(['create', '--bundle', bundle, sandbox.nextId()]);
  t.equal(result.status, 1);
  t.match(result.stderr, /\/hooks\/poststop\/0\/path: "relative\/hook" is not an absolute path/);
  assertNothingLeft(t, sandbox);
});

t.test('a failing startContainer hook fails start and stops the container', async (t) => {
  const sandbox = sandboxFor(t);
  const bundle = sandbox.bundle(sandbox.config({
    startContainer: [sandbox.failing('startContainer')],
    poststart: [sandbox.record('poststart')],
    poststop: [sandbox.record('poststop')],
  }));
  const id = sandbox.nextId();
  t.equal((await sandbox.create(id, bundle)).status, 0, 'create succeeds');
  const pid = (JSON.parse((await sandbox.tsrunc(['state', id])).stdout) as HookState).pid;
  const result = await sandbox.tsrunc(['start', id]);
  t.equal(result.status, 1, 'start exits with status 1');
  t.match(result.stderr, /error running hook #0 \(startContainer, \/bin\/sh\): exit status 3 \(stderr: hook says no\)/, 'naming the hook');
  t.notOk(processExists(pid), 'the container is stopped');
  t.notOk(fs.existsSync(path.join(sandbox.out, 'ran')), 'the user process never ran');
  t.same(sandbox.order(), [], 'no poststart');
  t.match((await sandbox.tsrunc(['state', id])).stdout, /"status": "stopped"/);
  const deleted = await sandbox.tsrunc(['delete', id]);
  t.equal(deleted.status, 0, `delete of the stopped container succeeds: ${deleted.stderr}`);
  t.same(sandbox.order(), ['poststop']);
  assertNothingLeft(t, sandbox);
});

t.test("a startContainer hook runs under the container's seccomp filter, as runc runs it", async (t) => {
  const sandbox = sandboxFor(t);
  const made = path.join(sandbox.out, 'made-by-hook');
  const base = sandbox.config({ startContainer: [hook('confined', { script: 'mkdir /out/made-by-hook', out: '/out', argv0: 'sh' })] });
  const linux = base['linux'] as JsonObject;
  const seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_KILL' }] };
  const id = sandbox.nextId();
  t.equal((await sandbox.create(id, sandbox.bundle({ ...base, linux: { ...linux, seccomp } }))).status, 0, 'create succeeds');
  const result = await sandbox.tsrunc(['start', id]);
  t.equal(result.status, 1, 'start fails: the hook was killed by the filter');
  t.match(result.stderr, /error running hook #0 \(startContainer, \/bin\/sh\): killed by SIGSYS \(bad system call\)/);
  t.notOk(fs.existsSync(made), 'the hook could not do what the container process may not');
  t.equal((await sandbox.tsrunc(['delete', '--force', id])).status, 0);
  assertNothingLeft(t, sandbox);
});

t.test("a startContainer hook without env gets the process's environment, HOME included, as runc", async (t) => {
  const sandbox = sandboxFor(t);
  const base = sandbox.config({
    startContainer: [{ path: '/bin/sh', args: ['sh', '-c', 'env > /out/hook.env'] }, { path: '/bin/sh', args: ['sh', '-c', 'env > /out/own.env'], env: ['OWN=1', 'PATH=/bin'] }],
  }, ['true']);
  const config = { ...base, process: { ...(base['process'] as JsonObject), env: ['ONE=two', 'FOO=bar', 'PATH=/bin'] } };
  const result = await sandbox.tsrunc(['run', '--bundle', sandbox.bundle(config), sandbox.nextId()]);
  t.equal(result.status, 0, result.stderr);
  const seen = fs.readFileSync(path.join(sandbox.out, 'hook.env'), 'utf8').trim().split('\n').filter((line) => !line.startsWith('PWD=') && !line.startsWith('SHLVL='));
  t.same(seen.sort(), ['FOO=bar', 'HOME=/root', 'ONE=two', 'PATH=/bin'], "the process's variables and HOME");
  const own = fs.readFileSync(path.join(sandbox.out, 'own.env'), 'utf8').trim().split('\n').filter((line) => !line.startsWith('PWD=') && !line.startsWith('SHLVL='));
  t.same(own.sort(), ['OWN=1', 'PATH=/bin'], 'a hook with an env gets exactly that');
  assertNothingLeft(t, sandbox);
});

t.test('failing poststart and poststop hooks are warnings; the rest still runs', async (t) => {
  const sandbox = sandboxFor(t);
  const bundle = sandbox.bundle(sandbox.config({
    poststart: [sandbox.failing('poststart'), sandbox.record('poststart', 'after-poststart')],
    poststop: [sandbox.failing('poststop'), sandbox.record('poststop', 'after-poststop')],
  }));
  const id = sandbox.nextId();
  t.equal((await sandbox.create(id, bundle)).status, 0);
  const started = await sandbox.tsrunc(['start', id]);
  t.equal(started.status, 0, 'start succeeds');
  t.match(started.stderr, /level=warning msg=.*error running hook #0 \(poststart, \/bin\/sh\): exit status 3/, 'with a warning naming the hook');
  t.same(sandbox.order(), ['after-poststart'], 'the next poststart hook ran');
  t.ok(await waitFor(() => fs.existsSync(path.join(sandbox.out, 'ran'))), 'the container runs');
  t.match((await sandbox.tsrunc(['state', id])).stdout, /"status": "running"/);
  const deleted = await sandbox.tsrunc(['delete', '--force', id]);
  t.equal(deleted.status, 0, 'delete succeeds');
  t.match(deleted.stderr, /level=warning msg=.*error running hook #0 \(poststop, \/bin\/sh\): exit status 3/);
  t.same(sandbox.order(), ['after-poststart', 'after-poststop']);
  assertNothingLeft(t, sandbox);
});

t.test('runtime-spec 1.3: a failing poststart hook fails start and stops the container', async (t) => {
  const sandbox = sandboxFor(t);
  const config = sandbox.config({
    poststart: [sandbox.failing('poststart'), sandbox.record('poststart', 'after-poststart')],
    poststop: [sandbox.record('poststop')],
  });
  const bundle = sandbox.bundle({ ...config, ociVersion: '1.3.0' });
  const id = sandbox.nextId();
  t.equal((await sandbox.create(id, bundle)).status, 0);
  const started = await sandbox.tsrunc(['start', id]);
  t.equal(started.status, 1, 'start fails');
  t.match(started.stderr.trim(), /^tsrunc: error running hook #0 \(poststart, \/bin\/sh\): exit status 3 .*; the container was stopped/, 'an error naming the hook');
  t.equal(started.stderr.trim().split('\n').length, 1, 'one line');
  t.same(sandbox.order(), [], 'the hooks after it do not run');
  t.match((await sandbox.tsrunc(['state', id])).stdout, /"status": "stopped"/, 'the container is stopped');
  const deleted = await sandbox.tsrunc(['delete', id]);
  t.equal(deleted.status, 0, `the lifecycle goes on at delete: ${deleted.stderr}`);
  t.same(sandbox.order(), ['poststop'], 'which runs poststop');
  assertNothingLeft(t, sandbox);
});

t.test('tsrunc run runs the hooks too', async (t) => {
  const sandbox = sandboxFor(t);
  const kinds: Kind[] = ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'];
  const bundle = sandbox.bundle(sandbox.config(Object.fromEntries(kinds.map((kind) => [kind, [sandbox.record(kind)]])), ['true']));
  const result = await sandbox.tsrunc(['run', '--bundle', bundle, sandbox.nextId()]);
  t.equal(result.status, 0, result.stderr);
  t.same(sandbox.order(), kinds);
  assertNothingLeft(t, sandbox);
});
