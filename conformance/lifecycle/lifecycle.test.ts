/**
 * runtime-spec "Lifecycle" and "Operations", driven exactly as a manager drives runc:
 * create → state → start → state → kill → state → delete.
 */
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { Sandbox, busyboxConfig, processExists, waitFor } from '../lib/harness.js';

interface StateView {
  ociVersion: string;
  id: string;
  pid: number;
  status: string;
  bundle: string;
  rootfs: string;
  created: string;
  annotations?: Record<string, string>;
}

async function state(sandbox: Sandbox, id: string): Promise<StateView> {
  const result = await sandbox.tsrunc(['state', id]);
  if (result.status !== 0) throw new Error(`state ${id} failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as StateView;
}

t.test('create, start, kill and delete walk through the statuses', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const bundle = sandbox.bundle(
    busyboxConfig(['sh', '-c', 'echo "started as pid $$"; exec sleep 60'], { annotations: { 'org.example.key': 'value' } }),
  );
  const pidFile = path.join(sandbox.dir, 'init.pid');

  const created = await sandbox.create('life', bundle, ['--pid-file', pidFile]);
  t.equal(created.status, 0, `create succeeds: ${created.stdout}`);
  const atCreate = await state(sandbox, 'life');
  t.equal(atCreate.status, 'created');
  t.equal(atCreate.id, 'life');
  t.equal(atCreate.bundle, bundle);
  t.equal(atCreate.ociVersion, '1.2.0');
  t.same(atCreate.annotations, { 'org.example.key': 'value' });
  t.ok(atCreate.pid > 0 && processExists(atCreate.pid), 'the init process exists while created');
  t.equal(fs.readFileSync(pidFile, 'utf8'), `${atCreate.pid}`, '--pid-file holds the init pid');
  t.notMatch(sandbox.output('life'), /started/, 'the user process has not run before start');

  t.equal((await sandbox.tsrunc(['start', 'life'])).status, 0, 'start succeeds');
  t.ok(await waitFor(() => sandbox.output('life').includes('started as pid 1')), 'the process runs as PID 1 after start');
  const running = await state(sandbox, 'life');
  t.equal(running.status, 'running');
  t.equal(running.pid, atCreate.pid, 'the user process replaced the init in place');

  const again = await sandbox.tsrunc(['start', 'life']);
  t.equal(again.status, 1, 'starting a running container fails');
  t.match(again.stderr, /already running/);

  t.equal((await sandbox.tsrunc(['kill', 'life', 'KILL'])).status, 0, 'kill succeeds');
  t.ok(await waitFor(async () => (await state(sandbox, 'life')).status === 'stopped'), 'stopped after SIGKILL');

  const killStopped = await sandbox.tsrunc(['kill', 'life', 'KILL']);
  t.equal(killStopped.status, 1, 'killing a stopped container fails');
  t.match(killStopped.stderr, /^tsrunc: cannot kill container life: container not running$/m, "runc's words, which its kill.bats looks for");
  // runc's kill.bats: --all still succeeds on a stopped container (signal 0 too).
  const killAllStopped = await sandbox.tsrunc(['kill', '--all', 'life', '0']);
  t.equal(killAllStopped.status, 0, `kill --all of a stopped container succeeds: ${killAllStopped.stderr}`);

  t.equal((await sandbox.tsrunc(['delete', 'life'])).status, 0, 'delete of a stopped container succeeds');
  t.same(sandbox.leftovers(), [], 'no state directory is left');
  const gone = await sandbox.tsrunc(['state', 'life']);
  t.equal(gone.status, 1, 'state of a deleted container fails');
  t.match(gone.stderr, /container life does not exist/);
});

t.test('delete refuses a running container unless forced', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const bundle = sandbox.bundle(busyboxConfig(['sleep', '60']));
  t.equal((await sandbox.create('busy', bundle)).status, 0);
  t.equal((await sandbox.tsrunc(['start', 'busy'])).status, 0);
  const { pid } = await state(sandbox, 'busy');

  const refused = await sandbox.tsrunc(['delete', 'busy']);
  t.equal(refused.status, 1);
  t.match(refused.stderr, /cannot delete container busy that is not stopped: running/);
  t.ok(processExists(pid), 'the refused delete left the container running');

  t.equal((await sandbox.tsrunc(['delete', '--force', 'busy'])).status, 0, 'delete --force succeeds');
  t.notOk(processExists(pid), 'delete --force killed the container process');
  t.same(sandbox.leftovers(), []);
});

t.test('delete of a created container needs --force (the spec; runc deletes it anyway)', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const bundle = sandbox.bundle(busyboxConfig(['true']));
  t.equal((await sandbox.create('fresh', bundle)).status, 0);
  const { pid } = await state(sandbox, 'fresh');
  const refused = await sandbox.tsrunc(['delete', 'fresh']);
  t.equal(refused.status, 1);
  t.match(refused.stderr, /cannot delete container fresh that is not stopped: created/);
  t.equal((await state(sandbox, 'fresh')).status, 'created', 'the refused delete changed nothing');
  t.equal((await sandbox.tsrunc(['delete', '--force', 'fresh'])).status, 0);
  t.notOk(processExists(pid), 'the init is gone');
  t.same(sandbox.processes(), [], 'no init process of this sandbox remains');
  t.same(sandbox.leftovers(), []);
});

t.test('kill accepts KILL, SIGKILL and 9, and refuses an unknown signal', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const bundle = sandbox.bundle(busyboxConfig(['sleep', '60']));
  for (const [index, signal] of ['KILL', 'SIGKILL', '9'].entries()) {
    const id = `sig${index}`;
    t.equal((await sandbox.create(id, bundle)).status, 0);
    t.equal((await sandbox.tsrunc(['start', id])).status, 0);
    if (index === 0) {
      const bad = await sandbox.tsrunc(['kill', id, 'NOSUCHSIG']);
      t.equal(bad.status, 1, 'an unknown signal fails');
      t.match(bad.stderr, /invalid signal "NOSUCHSIG"/);
    }
    t.equal((await sandbox.tsrunc(['kill', id, signal])).status, 0, `kill ${signal}`);
    t.ok(await waitFor(async () => (await state(sandbox, id)).status === 'stopped'), `${signal} stops the container`);
    t.equal((await sandbox.tsrunc(['delete', id])).status, 0);
  }
  t.same(sandbox.leftovers(), []);
});

t.test('kill with the default signal delivers SIGTERM', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  // PID 1 ignores signals it has no handler for, so the container traps TERM itself.
  const bundle = sandbox.bundle(busyboxConfig(['sh', '-c', 'trap "echo got TERM; exit 0" TERM; while true; do sleep 0.1; done']));
  t.equal((await sandbox.create('term', bundle)).status, 0);
  t.equal((await sandbox.tsrunc(['start', 'term'])).status, 0);
  t.equal((await sandbox.tsrunc(['kill', 'term'])).status, 0);
  t.ok(await waitFor(() => sandbox.output('term').includes('got TERM')), 'the container saw SIGTERM');
  t.ok(await waitFor(async () => (await state(sandbox, 'term')).status === 'stopped'));
  t.equal((await sandbox.tsrunc(['delete', 'term'])).status, 0);
});

t.test('run waits for the container and exits with its status', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const bundle = sandbox.bundle(busyboxConfig(['sh', '-c', 'echo out; echo err >&2; exit 7']));
  const result = await sandbox.tsrunc(['run', '--bundle', bundle, 'attached']);
  t.equal(result.status, 7, "tsrunc run exits with the container's status");
  t.equal(result.stdout, 'out\n', 'the container writes to the stdout run was given');
  t.equal(result.stderr, 'err\n', 'and to its stderr');
  t.same(sandbox.leftovers(), [], 'run deletes the container after it exits');
});

t.test('run reports a container killed by a signal as 128+N', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  // Killed from outside: PID 1 of a PID namespace cannot be SIGKILLed from inside it.
  const bundle = sandbox.bundle(busyboxConfig(['sleep', '60']));
  const running = sandbox.tsrunc(['run', '--bundle', bundle, 'killed']);
  t.ok(await waitFor(async () => (await sandbox.tsrunc(['state', 'killed'])).stdout.includes('"running"')));
  t.equal((await sandbox.tsrunc(['kill', 'killed', 'KILL'])).status, 0);
  t.equal((await running).status, 137);
  t.same(sandbox.leftovers(), []);
});

t.test('run --detach leaves a running container', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const bundle = sandbox.bundle(busyboxConfig(['sleep', '60']));
  const result = await sandbox.tsrunc(['run', '--detach', '--bundle', bundle, 'bg'], { outputFile: sandbox.outputOf('bg') });
  t.equal(result.status, 0);
  t.equal((await state(sandbox, 'bg')).status, 'running');
  t.equal((await sandbox.tsrunc(['delete', '--force', 'bg'])).status, 0);
  t.same(sandbox.leftovers(), []);
});

t.test('list shows containers as a table, as JSON and as ids', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const empty = await sandbox.tsrunc(['list', '--format', 'json']);
  t.equal(empty.status, 0, 'list works before any container exists');
  t.same(JSON.parse(empty.stdout), []);
  const bundle = sandbox.bundle(busyboxConfig(['sleep', '60']));
  t.equal((await sandbox.create('one', bundle)).status, 0);
  t.equal((await sandbox.create('two', bundle)).status, 0);
  t.equal((await sandbox.tsrunc(['start', 'two'])).status, 0);

  const table = await sandbox.tsrunc(['list']);
  const lines = table.stdout.trim().split('\n');
  t.match(lines[0], /^ID\s+PID\s+STATUS\s+BUNDLE\s+CREATED\s+OWNER$/);
  t.match(lines[1], new RegExp(`^one\\s+\\d+\\s+created\\s+${bundle}\\s`));
  t.match(lines[2], new RegExp(`^two\\s+\\d+\\s+running\\s+${bundle}\\s`));
  const json = JSON.parse((await sandbox.tsrunc(['list', '--format', 'json'])).stdout) as StateView[];
  t.same(json.map((c) => [c.id, c.status]), [['one', 'created'], ['two', 'running']]);
  t.equal((await sandbox.tsrunc(['list', '-q'])).stdout, 'one\ntwo\n');
  for (const id of ['one', 'two']) t.equal((await sandbox.tsrunc(['delete', '--force', id])).status, 0);
  t.same(sandbox.leftovers(), []);
});

t.test('a duplicate id is refused and the first container is untouched', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const bundle = sandbox.bundle(busyboxConfig(['sleep', '60']));
  t.equal((await sandbox.create('dup', bundle)).status, 0);
  const first = await state(sandbox, 'dup');
  const second = await sandbox.create('dup', bundle);
  t.equal(second.status, 1);
  t.match(second.stdout, /container with id exists: dup/);
  const after = await state(sandbox, 'dup');
  t.equal(after.pid, first.pid);
  t.equal(after.status, 'created');
  t.equal((await sandbox.tsrunc(['delete', '--force', 'dup'])).status, 0);
  t.same(sandbox.leftovers(), []);
});

t.test('operations on an unknown id fail with the id named', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  for (const verb of ['state', 'start', 'kill', 'delete']) {
    const result = await sandbox.tsrunc([verb, 'ghost']);
    t.equal(result.status, 1, `${verb} of an unknown id fails`);
    t.match(result.stderr, /container ghost does not exist/, `${verb} names the id`);
  }
  t.equal((await sandbox.tsrunc(['delete', '--force', 'ghost'])).status, 0, 'delete --force of an unknown id succeeds, as in runc');
});

t.test('a config without process can be created but start fails and the container stops', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const config = busyboxConfig(['true']);
  delete config['process'];
  const bundle = sandbox.bundle(config);
  t.equal((await sandbox.create('noproc', bundle)).status, 0, 'create succeeds (runtime-spec: process is optional)');
  t.equal((await state(sandbox, 'noproc')).status, 'created');
  const started = await sandbox.tsrunc(['start', 'noproc']);
  t.equal(started.status, 1, 'start MUST fail without a process');
  t.match(started.stderr, /cannot start container noproc: config.json has no process/);
  t.equal((await state(sandbox, 'noproc')).status, 'stopped');
  t.equal((await sandbox.tsrunc(['delete', 'noproc'])).status, 0);
  t.same(sandbox.leftovers(), []);
});

t.test('start and delete use the config saved at create, not a later config.json', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const bundle = sandbox.bundle(busyboxConfig(['sh', '-c', 'echo original']));
  t.equal((await sandbox.create('saved', bundle)).status, 0);
  fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(busyboxConfig(['sh', '-c', 'echo changed'])));
  t.equal((await sandbox.tsrunc(['start', 'saved'])).status, 0);
  t.ok(await waitFor(async () => (await state(sandbox, 'saved')).status === 'stopped'));
  t.equal(sandbox.output('saved'), 'original\n');
  t.equal((await sandbox.tsrunc(['delete', 'saved'])).status, 0);
});

t.test('kill --all signals every process of the container, not only its init', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  // The init (sh, PID 1) ignores TERM; its child traps it and reports.
  const bundle = sandbox.bundle(
    busyboxConfig(['sh', '-c', 'sh -c "trap \\"echo child got TERM; exit 0\\" TERM; echo child ready; while true; do sleep 0.1; done" & wait']),
  );
  t.equal((await sandbox.create('all', bundle)).status, 0);
  t.equal((await sandbox.tsrunc(['start', 'all'])).status, 0);
  t.ok(await waitFor(() => sandbox.output('all').includes('child ready')));
  t.equal((await sandbox.tsrunc(['kill', '--all', 'all', 'TERM'])).status, 0);
  t.ok(await waitFor(() => sandbox.output('all').includes('child got TERM')), 'the child process got the signal');
  t.equal((await sandbox.tsrunc(['delete', '--force', 'all'])).status, 0);
  t.same(sandbox.leftovers(), []);
});
