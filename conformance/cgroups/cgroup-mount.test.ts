/** A "cgroup" mount shows the container its own cgroup, with or without a cgroup namespace. */
import t from 'tap';
import { Sandbox, busyboxConfig, type JsonObject } from '../lib/harness.js';
import { detectLayout } from '../../runtime/linux/cgroups/layout.js';

const limit = 96 * 1024 * 1024;

/** `base` with a read-only /sys and the cgroup mount under it, as runc's default spec has them. */
function withCgroupMount(base: JsonObject): JsonObject {
  return {
    ...base,
    mounts: [
      ...(base['mounts'] as JsonObject[]),
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
    ],
  };
}

for (const withNamespace of [false, true]) {
  t.test(`the container reads its own memory limit (${withNamespace ? 'with' : 'without'} a cgroup namespace)`, async (t) => {
    const sandbox = new Sandbox();
    t.teardown(() => sandbox.cleanup());
    const base = busyboxConfig(['sh', '-c', 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes; grep memory /proc/self/cgroup']);
    const namespaces = [...((base['linux'] as JsonObject)['namespaces'] as JsonObject[])];
    if (withNamespace) namespaces.push({ type: 'cgroup' });
    const config: JsonObject = { ...withCgroupMount(base), linux: { namespaces, resources: { memory: { limit } } } };
    const result = await sandbox.tsrunc(['run', '--bundle', sandbox.bundle(config), `cgmount${withNamespace ? '-ns' : ''}`]);
    t.equal(result.status, 0, result.stderr);
    const [limitLine, cgroupLine] = result.stdout.trim().split('\n');
    t.equal(limitLine, String(limit), "the mounted memory hierarchy is the container's own cgroup");
    if (withNamespace) t.match(cgroupLine, /:memory:\/$/, 'inside a cgroup namespace the container is at its root');
    t.same(sandbox.leftovers(), []);
  });
}

const layout = detectLayout();
const hybrid = layout.version === 1 && layout.unified !== undefined;

t.test('on a v1 (hybrid) host the container gets the v1 hierarchies only, no cgroup2 mount (as runc 1.1)', { skip: !hybrid && 'needs a hybrid cgroup host' }, async (t) => {
  // systemd in the container takes a cgroup2 mount at /sys/fs/cgroup/unified for a hybrid setup
  // of its own and freezes on the read-only mount.
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const base = busyboxConfig(['sh', '-c', 'ls /sys/fs/cgroup; echo mounts; grep -c " - cgroup2 " /proc/self/mountinfo; true']);
  const result = await sandbox.tsrunc(['run', '--bundle', sandbox.bundle(withCgroupMount(base)), 'no-unified']);
  t.equal(result.status, 0, result.stderr);
  const [listing, count] = result.stdout.split('mounts\n');
  t.match(listing, /^memory$/m, 'the v1 hierarchies are there');
  t.notMatch(listing, /^unified$/m, 'no unified directory');
  t.equal(count?.trim(), '0', 'no cgroup2 mount in the container');
});
