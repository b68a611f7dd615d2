/**
 * exec's --cgroup (an existing sub-cgroup of the container's), --apparmor and --process-label,
 * as runc has them: checked from what the process sees and from the error a user gets.
 */
import fs from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { Sandbox } from '../lib/harness.js';
import { assertNothingLeft, scriptConfig } from '../lib/container-helpers.js';

/** controller → cgroup path, from /proc/PID/cgroup (v1 lines "N:ctrl[,ctrl]:/path"). */
function cgroupsOf(pid: number | 'self', text?: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const line of (text ?? fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8')).trim().split('\n')) {
    const [, controllers = '', where = ''] = line.split(':');
    for (const controller of controllers.split(',')) result[controller] = where;
  }
  return result;
}

async function sleeping(t: Test, sandbox: Sandbox, id: string): Promise<number> {
  const created = await sandbox.create(id, sandbox.bundle(scriptConfig('sleep 1000')));
  t.equal(created.status, 0, `create ${id}: ${sandbox.output(id)}`);
  t.equal((await sandbox.tsrunc(['start', id])).status, 0);
  return (JSON.parse((await sandbox.tsrunc(['state', id])).stdout) as { pid: number }).pid;
}

t.test('exec --cgroup CONTROLLER:SUB runs the process in that sub-cgroup, only for that controller', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const pid = await sleeping(t, sandbox, 'cg1');
  const container = cgroupsOf(pid);
  const pidsSub = path.join('/sys/fs/cgroup/pids', container['pids']!, 'worker');
  fs.mkdirSync(pidsSub); // delete --force removes it with the container's cgroup

  const result = await sandbox.tsrunc(['exec', '--cgroup', 'pids:worker', 'cg1', 'cat', '/proc/self/cgroup']);
  t.equal(result.status, 0, result.stderr);
  const seen = cgroupsOf('self', result.stdout);
  t.equal(seen['pids'], `${container['pids']}/worker`, 'pids: the sub-cgroup');
  t.equal(seen['memory'], container['memory'], "memory: the container's own cgroup");

  const missing = await sandbox.tsrunc(['exec', '--cgroup', 'nosuch', 'cg1', 'true']);
  t.equal(missing.status, 255, 'a sub-cgroup that does not exist fails');
  t.match(missing.stderr, /--cgroup: adding pid to \S+\/nosuch\/cgroup\.procs: no such file or directory \(the sub-cgroup must be made before exec\)/);
  t.equal(missing.stderr.trim().split('\n').length, 1, 'one error line');

  const escaping = await sandbox.tsrunc(['exec', '--cgroup', 'pids:../..', 'cg1', 'true']);
  t.equal(escaping.status, 255, 'a path out of the container cgroup fails');
  t.match(escaping.stderr, /--cgroup pids:\.\.\/\.\.: the path leaves the container's cgroup: \.\.\/\.\. is not a sub cgroup path/);
  const parent = await sandbox.tsrunc(['exec', '--cgroup', '..', 'cg1', 'true']);
  t.equal(parent.status, 255, 'the parent cgroup is refused');
  t.ok(parent.stderr.includes(' .. is not a sub cgroup path'), "runc's phrase, as runc's exec.bats matches it");

  const unknown = await sandbox.tsrunc(['exec', '--cgroup', 'nosuchctl:worker', 'cg1', 'true']);
  t.equal(unknown.status, 255);
  t.match(unknown.stderr, /unknown controller "nosuchctl": the container has no cgroup for it/);

  t.equal((await sandbox.tsrunc(['delete', '--force', 'cg1'])).status, 0);
  assertNothingLeft(t, sandbox);
});

t.test('exec --apparmor and --process-label', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  await sleeping(t, sandbox, 'lsm1');
  const apparmorEnabled = fs.existsSync('/sys/module/apparmor/parameters/enabled')
    && fs.readFileSync('/sys/module/apparmor/parameters/enabled', 'utf8').trim() === 'Y';
  const apparmor = await sandbox.tsrunc(['exec', '--apparmor', 'tsrunc-test-profile', 'lsm1', 'true']);
  if (apparmorEnabled) {
    t.equal(apparmor.status, 255, 'an unknown profile cannot be applied');
  } else {
    t.equal(apparmor.status, 255, 'without AppArmor a profile is refused, as at create');
    t.match(apparmor.stderr, /--apparmor: AppArmor is not enabled on this host, so profile "tsrunc-test-profile" cannot be applied/);
  }
  const selinuxEnabled = fs.existsSync('/sys/fs/selinux/enforce');
  const label = await sandbox.tsrunc(['exec', '--process-label', 'system_u:system_r:container_t:s0', 'lsm1', 'true']);
  if (!selinuxEnabled) {
    // runc's label calls do nothing without SELinux; so does tsrunc.
    t.equal(label.status, 0, `without SELinux the label is ignored: ${label.stderr}`);
  }
  t.equal((await sandbox.tsrunc(['delete', '--force', 'lsm1'])).status, 0);
  assertNothingLeft(t, sandbox);
});
