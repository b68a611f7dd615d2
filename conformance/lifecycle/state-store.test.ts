/**
 * The state store under --root, as an attacker or a crash would leave it: private modes, no
 * symlink followed, saved cgroup paths checked before anything is killed or removed, and
 * delete --force that cleans up after a missing, empty or corrupt state.json.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { Sandbox, busyboxConfig, processExists, waitFor } from '../lib/harness.js';
import { assertNothingLeft, cgroupsNamed } from '../lib/container-helpers.js';
import { detectLayout } from '../../runtime/linux/cgroups/layout.js';

function mode(file: string): string {
  return (fs.statSync(file).mode & 0o777).toString(8);
}

function savedState(sandbox: Sandbox, id: string): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(path.join(sandbox.root, id, 'state.json'), 'utf8')) as Record<string, unknown>;
}

/** A running container whose process is `sleep <marker>`, its cgroup named after `name`. */
async function running(t: Test, sandbox: Sandbox, id: string, name: string): Promise<number> {
  const config = busyboxConfig(['sleep', '1000']);
  (config['linux'] as Record<string, unknown>)['cgroupsPath'] = `/${name}`;
  const bundle = sandbox.bundle(config);
  t.equal((await sandbox.create(id, bundle)).status, 0, 'created');
  t.equal((await sandbox.tsrunc(['start', id])).status, 0, 'started');
  return Number(savedState(sandbox, id)['pid']);
}

let serial = 0;
function uniqueName(label: string): string {
  return `tsrunc-store-${label}-${process.pid}-${++serial}`;
}

t.test('state is private: --root made 0700, the container directory 0700, its files 0600', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const name = uniqueName('modes');
  await running(t, sandbox, 'modes', name);
  t.equal(mode(sandbox.root), '700', '--root, made by tsrunc');
  t.equal(mode(path.join(sandbox.root, 'modes')), '700', 'the container directory');
  t.equal(mode(path.join(sandbox.root, 'modes', 'state.json')), '600', 'state.json (it holds the environment)');
  t.equal(mode(path.join(sandbox.root, 'modes', 'recovery.json')), '600', 'recovery.json');
  t.equal((await sandbox.tsrunc(['delete', '--force', 'modes'])).status, 0);
  t.same(cgroupsNamed(name), [], 'no cgroup left');
  assertNothingLeft(t, sandbox);
});

t.test('a symlink in place of a container directory is never followed', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const elsewhere = path.join(sandbox.dir, 'elsewhere');
  fs.mkdirSync(elsewhere);
  fs.writeFileSync(path.join(elsewhere, 'precious'), 'keep me');
  fs.writeFileSync(path.join(elsewhere, 'state.json'), JSON.stringify({ ociVersion: '1.2.0', id: 'link', pid: 1, status: 'running', bundle: '/', rootfs: '/' }));
  fs.mkdirSync(sandbox.root, { mode: 0o700 });
  fs.symlinkSync(elsewhere, path.join(sandbox.root, 'link'));

  const state = await sandbox.tsrunc(['state', 'link']);
  t.equal(state.status, 1, 'state: exit status 1');
  t.match(state.stderr, /container link does not exist/);
  const list = await sandbox.tsrunc(['list', '--format', 'json']);
  t.notMatch(list.stdout, /"link"/, 'list does not show it');
  const kill = await sandbox.tsrunc(['kill', 'link', 'KILL']);
  t.equal(kill.status, 1, 'kill refuses it (pid 1 in the target file is never signalled)');
  const plain = await sandbox.tsrunc(['delete', 'link']);
  t.equal(plain.status, 1, 'delete without --force: does not exist');

  const forced = await sandbox.tsrunc(['delete', '--force', 'link']);
  t.equal(forced.status, 0, forced.stderr);
  t.notOk(fs.existsSync(path.join(sandbox.root, 'link')), 'the link itself is removed');
  t.equal(fs.readFileSync(path.join(elsewhere, 'precious'), 'utf8'), 'keep me', 'the directory it pointed to is untouched');
  t.ok(fs.existsSync(path.join(elsewhere, 'state.json')));
});

const v1 = detectLayout().version === 1;

t.test('forged cgroupPaths in state.json: nothing is killed or removed outside the container', { skip: v1 ? false : 'the victim cgroup is made on a v1 pids hierarchy' }, async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const name = uniqueName('forged');
  const initPid = await running(t, sandbox, 'forged', name);

  // A victim: a cgroup of the host's with a process of this test's in it.
  const victimName = uniqueName('victim');
  const victim = path.join('/sys/fs/cgroup/pids', victimName);
  fs.mkdirSync(victim);
  const bystander = spawn('sleep', ['1000'], { stdio: 'ignore' });
  t.teardown(() => {
    bystander.kill('SIGKILL');
    // Tolerant: the code before this change removed the victim itself.
    return waitFor(() => !processExists(bystander.pid!)).then(() => {
      if (fs.existsSync(victim)) fs.rmdirSync(victim);
    });
  });
  fs.writeFileSync(path.join(victim, 'cgroup.procs'), `${bystander.pid}`);

  const file = path.join(sandbox.root, 'forged', 'state.json');
  const state = savedState(sandbox, 'forged');
  const forged = Object.fromEntries(Object.keys(state['cgroupPaths'] as Record<string, string>).map((key) => [key, victim]));
  fs.writeFileSync(file, JSON.stringify({ ...state, cgroupPaths: forged }));

  const killAll = await sandbox.tsrunc(['kill', '--all', 'forged', 'KILL']);
  t.equal(killAll.status, 1, 'kill --all refuses the forged cgroup');
  t.match(killAll.stderr, /state\.json \/cgroupPaths: .* is not a cgroup for .*; refusing to act on it/);
  const pause = await sandbox.tsrunc(['pause', 'forged']);
  t.equal(pause.status, 1, 'pause refuses it');
  const exec = await sandbox.tsrunc(['exec', 'forged', 'true']);
  t.equal(exec.status, 255, 'exec refuses to join it (runc\'s status for a failed exec)');
  t.ok(processExists(bystander.pid!), 'the bystander is alive');

  const plain = await sandbox.tsrunc(['delete', 'forged']);
  t.equal(plain.status, 1, 'delete (not --force) refuses: the container runs');
  const deleted = await sandbox.tsrunc(['delete', '--force', 'forged']);
  t.equal(deleted.status, 0, deleted.stderr);
  t.match(deleted.stderr, /left alone; removing the cgroup recovery\.json names instead/, 'one warning');
  t.ok(processExists(bystander.pid!), 'the bystander in the forged cgroup survived delete --force');
  t.ok(fs.existsSync(victim), 'the forged cgroup is still there');
  t.notOk(processExists(initPid), 'the container is gone');
  t.same(cgroupsNamed(name), [], "the container's own cgroup is removed (from recovery.json)");
  assertNothingLeft(t, sandbox);
});

for (const [damage, write] of [
  ['empty', (file: string) => fs.writeFileSync(file, '')],
  ['corrupt', (file: string) => fs.writeFileSync(file, '{"ociVersion": "1.2.0", "id": "dam')],
  ['missing', (file: string) => fs.unlinkSync(file)],
] as const) {
  t.test(`state.json ${damage}: state says so, delete --force still finds the init and the cgroup`, async (t) => {
    const sandbox = new Sandbox();
    t.teardown(() => sandbox.cleanup());
    const name = uniqueName(damage);
    const initPid = await running(t, sandbox, 'damaged', name);
    write(path.join(sandbox.root, 'damaged', 'state.json'));

    const state = await sandbox.tsrunc(['state', 'damaged']);
    t.equal(state.status, 1, 'state: exit status 1');
    t.equal(state.stderr.trim().split('\n').length, 1, `one line: ${state.stderr.trim()}`);
    t.match(state.stderr, damage === 'missing' ? /container damaged does not exist/ : /reading the state of container damaged: state\.json: /);
    if (damage !== 'missing') {
      const plain = await sandbox.tsrunc(['delete', 'damaged']);
      t.equal(plain.status, 1, 'delete without --force: exit status 1');
      t.match(plain.stderr, /delete --force removes what is left of it/);
    }
    t.ok(processExists(initPid), 'the container still runs meanwhile');

    const forced = await sandbox.tsrunc(['delete', '--force', 'damaged']);
    t.equal(forced.status, 0, forced.stderr);
    t.ok(await waitFor(() => !processExists(initPid)), 'the init is killed');
    t.same(cgroupsNamed(name), [], 'the cgroup is removed');
    assertNothingLeft(t, sandbox);
    const again = await sandbox.create('damaged', sandbox.bundle(busyboxConfig(['true'])));
    t.equal(again.status, 0, 'the id can be used again');
  });
}
