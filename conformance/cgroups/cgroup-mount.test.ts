/** A "cgroup" mount shows the container its own cgroup, with or without a cgroup namespace. */
import t from 'tap';
import { Sandbox, busyboxConfig, type JsonObject } from '../lib/harness.js';

const limit = 96 * 1024 * 1024;

for (const withNamespace of [false, true]) {
  t.test(`the container reads its own memory limit (${withNamespace ? 'with' : 'without'} a cgroup namespace)`, async (t) => {
    const sandbox = new Sandbox();
    t.teardown(() => sandbox.cleanup());
    const base = busyboxConfig(['sh', '-c', 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes; grep memory /proc/self/cgroup']);
    const namespaces = [...((base['linux'] as JsonObject)['namespaces'] as JsonObject[])];
    if (withNamespace) namespaces.push({ type: 'cgroup' });
    const config: JsonObject = {
      ...base,
      mounts: [
        ...(base['mounts'] as JsonObject[]),
        { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
        { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
      ],
      linux: { namespaces, resources: { memory: { limit } } },
    };
    const result = await sandbox.tsrunc(['run', '--bundle', sandbox.bundle(config), `cgmount${withNamespace ? '-ns' : ''}`]);
    t.equal(result.status, 0, result.stderr);
    const [limitLine, cgroupLine] = result.stdout.trim().split('\n');
    t.equal(limitLine, String(limit), "the mounted memory hierarchy is the container's own cgroup");
    if (withNamespace) t.match(cgroupLine, /:memory:\/$/, 'inside a cgroup namespace the container is at its root');
    t.same(sandbox.leftovers(), []);
  });
}
