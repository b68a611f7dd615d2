/**
 * A cgroupsPath that names a cgroup already there, as runc's cgroups.bats checks: one with
 * processes in it gets a warning (they share the container's fate), a frozen one is refused and
 * left as it was.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { Sandbox, busyboxConfig, processExists, waitFor, type JsonObject } from '../lib/harness.js';
import { assertNothingLeft } from '../lib/container-helpers.js';
import { detectLayout } from '../../runtime/linux/cgroups/layout.js';

const v1 = detectLayout().version === 1;
let serial = 0;
const uniqueName = () => `tsrunc-pre-${process.pid}-${++serial}`;

function configIn(name: string): JsonObject {
  const config = busyboxConfig(['sleep', '100']);
  (config['linux'] as JsonObject)['cgroupsPath'] = `/${name}`;
  return config;
}

t.test('a cgroup with processes in it already: create warns, and goes on', { skip: !v1 && 'made on v1 hierarchies' }, async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const name = uniqueName();
  // A process left in the cgroup, in the hierarchies tsrunc reads and signals through (the
  // hybrid host's cgroup2 among them: SIGKILL goes through its cgroup.kill).
  const hierarchies = ['devices', 'pids', 'freezer', ...(fs.existsSync('/sys/fs/cgroup/unified/cgroup.procs') ? ['unified'] : [])];
  const dirs = hierarchies.map((hierarchy) => path.join('/sys/fs/cgroup', hierarchy, name));
  for (const dir of dirs) fs.mkdirSync(dir);
  const bystander = spawn('sleep', ['1000'], { stdio: 'ignore' });
  t.teardown(async () => {
    bystander.kill('SIGKILL');
    await waitFor(() => !processExists(bystander.pid!));
    for (const dir of dirs) if (fs.existsSync(dir)) fs.rmdirSync(dir);
  });
  for (const dir of dirs) fs.writeFileSync(path.join(dir, 'cgroup.procs'), `${bystander.pid}`);
  const created = await sandbox.create('crowded', sandbox.bundle(configIn(name)));
  t.equal(created.status, 0, sandbox.output('crowded'));
  t.match(sandbox.output('crowded'), new RegExp(`level=warning msg="cgroup: the container's cgroup is not empty: 1 process\\(es\\) already in it \\(${bystander.pid}\\)`));
  // As with runc: they share the container's cgroup, and its end.
  const deleted = await sandbox.tsrunc(['delete', '--force', 'crowded']);
  t.equal(deleted.status, 0, deleted.stderr);
  t.ok(await waitFor(() => !processExists(bystander.pid!)), 'delete --force killed what was in its cgroup');
  assertNothingLeft(t, sandbox);
});

t.test('a frozen cgroup is refused, and left as it was', { skip: !v1 && 'made on a v1 freezer hierarchy' }, async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const name = uniqueName();
  const dir = path.join('/sys/fs/cgroup/freezer', name);
  fs.mkdirSync(dir);
  t.teardown(() => {
    fs.writeFileSync(path.join(dir, 'freezer.state'), 'THAWED');
    fs.rmdirSync(dir);
  });
  fs.writeFileSync(path.join(dir, 'freezer.state'), 'FROZEN');
  const created = await sandbox.tsrunc(['create', '--bundle', sandbox.bundle(configIn(name)), 'frozen']);
  t.equal(created.status, 1);
  t.match(created.stderr.trim(), new RegExp(`^tsrunc: cgroup: ${dir}: container's cgroup unexpectedly frozen: thaw it, or choose another cgroupsPath`));
  t.equal(created.stderr.trim().split('\n').length, 1, 'one error line');
  t.equal(fs.readFileSync(path.join(dir, 'freezer.state'), 'utf8').trim(), 'FROZEN', 'the cgroup is as it was');
  t.notOk(fs.existsSync(path.join('/sys/fs/cgroup/pids', name)), 'no cgroup made elsewhere');
  assertNothingLeft(t, sandbox);
});
