/**
 * --systemd-cgroup and colon cgroupsPaths on a host without systemd as its init (this
 * project's CI machines). The driver itself is tested inside the v2 + systemd VM
 * (conformance/v2host/); here: the flag is never silently ignored, and without it a
 * "slice:prefix:name" path is a plain cgroup name, as runc's cgroupfs driver treats it.
 */
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { Sandbox, busyboxConfig, type JsonObject } from '../lib/harness.js';
import { assertNothingLeft, cgroupsNamed } from '../lib/container-helpers.js';

const systemdIsInit = fs.existsSync('/run/systemd/system');

function withCgroup(args: string[], cgroup: JsonObject): JsonObject {
  const config = busyboxConfig(args);
  Object.assign(config['linux'] as JsonObject, cgroup);
  return config;
}

t.test('--systemd-cgroup without systemd: one clear error, nothing left', { skip: systemdIsInit && 'this host runs systemd' }, async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const name = `sdflag-${process.pid}`;
  const bundle = sandbox.bundle(withCgroup(['true'], { cgroupsPath: `system.slice:tsrtest:${name}` }));
  for (const verb of ['create', 'run']) {
    const result = await sandbox.tsrunc(['--systemd-cgroup', verb, '--bundle', bundle, `${verb}-${name}`]);
    t.equal(result.status, 1, `${verb} exits with status 1`);
    t.equal(result.stderr.trim(), 'tsrunc: --systemd-cgroup: systemd is not running on this host (no /run/systemd/system); drop the flag to manage cgroups through the cgroup filesystem');
    assertNothingLeft(t, sandbox);
    t.same(cgroupsNamed(name), [], 'no cgroup left');
  }
});

t.test('without the flag, a colon cgroupsPath names a cgroup directory, as runc\'s cgroupfs driver does', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const name = `colon-${process.pid}`;
  const cgroupsPath = `system.slice:tsrtest:${name}`;
  const bundle = sandbox.bundle(withCgroup(['sleep', '30'], { cgroupsPath, resources: { pids: { limit: 42 } } }));
  const created = await sandbox.create('colon', bundle);
  t.equal(created.status, 0, created.stderr);
  const state = JSON.parse(fs.readFileSync(path.join(sandbox.root, 'colon', 'state.json'), 'utf8')) as { pid: number; cgroupPaths: Record<string, string> };
  const pidsDir = state.cgroupPaths['pids'] ?? state.cgroupPaths[''];
  t.ok(pidsDir, 'a pids cgroup is recorded');
  t.equal(path.basename(pidsDir!), cgroupsPath, 'the whole path, colons and all, is the directory name');
  t.equal(fs.readFileSync(path.join(pidsDir!, 'pids.max'), 'utf8').trim(), '42', 'the limit is in that directory');
  t.ok(fs.readFileSync(path.join(pidsDir!, 'cgroup.procs'), 'utf8').split('\n').includes(String(state.pid)), 'the init is in it');
  t.equal((await sandbox.tsrunc(['delete', '--force', 'colon'])).status, 0);
  t.same(cgroupsNamed(name), [], 'delete removes it');
  assertNothingLeft(t, sandbox);
});
