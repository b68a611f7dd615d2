/**
 * With each driver on the v2 + systemd VM: the eBPF device filter lets the container read a
 * block device its rules allow for reading and refuses opening it for writing; a cgroup
 * namespace shows the container its cgroup as "/"; a relative, nested cgroupsPath (cgroupfs)
 * lands beside tsrunc's own cgroup. One attached `run` per driver: the VM is slow.
 */
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { cgroupsNamed, limitedConfig, notV2Host, rootDevice, setup, type JsonObject } from './lib.js';

const skip = notV2Host();
const noSystemd = !fs.existsSync('/run/systemd/system') && 'systemd is not this host\'s init';
const slow = { timeoutMs: 180_000 };

// The write test opens the VM's root disk for writing and writes nothing (count=0), so even a
// filter that failed to refuse could not damage the guest.
const script = [
  'cat /proc/self/cgroup',
  'head -c 512 /dev/rootdisk >/dev/null 2>&1 && echo read=ok || echo read=denied',
  'dd if=/dev/zero of=/dev/rootdisk bs=1 count=0 2>/dev/null && echo write=ok || echo write=denied',
  'echo x > /dev/null && echo null=ok',
].join('; ');

function deviceConfig(cgroupsPath: string): JsonObject {
  const [major, minor] = rootDevice().split(':').map(Number);
  const config = limitedConfig(['sh', '-c', script], { devices: [{ allow: true, type: 'b', major, minor, access: 'r' }] }, cgroupsPath);
  const linux = config['linux'] as JsonObject;
  linux['namespaces'] = [...(linux['namespaces'] as JsonObject[]), { type: 'cgroup' }];
  linux['devices'] = [{ path: '/dev/rootdisk', type: 'b', major, minor, fileMode: 0o600, uid: 0, gid: 0 }];
  return config;
}

for (const driver of ['cgroupfs', 'systemd'] as const) {
  t.test(`${driver}: device filter and cgroup namespace`, { skip: skip || (driver === 'systemd' && noSystemd) }, async (t) => {
    const { sandbox, name } = setup(t, `dev${driver}`);
    const cgroupsPath = driver === 'systemd' ? `system.slice:tsrtest:${name}` : `${name}/inner`;
    const flags = driver === 'systemd' ? ['--systemd-cgroup'] : [];
    const result = await sandbox.tsrunc([...flags, 'run', '--bundle', sandbox.bundle(deviceConfig(cgroupsPath)), 'dev'], slow);
    t.equal(result.status, 0, result.stderr);
    t.match(result.stdout, /^0::\/$/m, 'the cgroup namespace shows the container its own cgroup as /');
    t.match(result.stdout, /^read=ok$/m, 'a device allowed for reading reads');
    t.match(result.stdout, /^write=denied$/m, 'and cannot be opened for writing');
    t.match(result.stdout, /^null=ok$/m, 'the default rules allow /dev/null');
    t.same(sandbox.leftovers(), [], 'run removed the container');
    // cgroupsNamed matches the directory named after the test: the scope itself, or the parent of "inner".
    const left = driver === 'systemd' ? cgroupsNamed(name) : cgroupsNamed(name).map((dir) => path.join(dir, 'inner')).filter((dir) => fs.existsSync(dir));
    t.same(left, [], 'and its cgroup');
  });
}

t.test('cgroupfs: a relative nested cgroupsPath lands beside tsrunc\'s own cgroup', { skip }, async (t) => {
  const { sandbox, name } = setup(t, 'nest');
  const created = await sandbox.create('nest', sandbox.bundle(limitedConfig(['sleep', '600'], { pids: { limit: 7 } }, `${name}/inner`)), []);
  t.equal(created.status, 0, sandbox.output('nest'));
  const own = fs.readFileSync('/proc/self/cgroup', 'utf8').trim().replace(/^0::/, '');
  const expected = path.join('/sys/fs/cgroup', path.dirname(own), name, 'inner');
  t.same(cgroupsNamed(name), [path.dirname(expected)], 'relative to the parent of tsrunc\'s cgroup, as runc does on v2');
  t.ok(fs.existsSync(expected), `${expected} is there`);
  t.equal(fs.readFileSync(path.join(expected, 'pids.max'), 'utf8').trim(), '7', 'with the limit');
  t.equal((await sandbox.tsrunc(['delete', '--force', 'nest'], slow)).status, 0);
  t.notOk(fs.existsSync(expected), 'delete removes it');
});
