/**
 * Cgroup layout detection and linux.cgroupsPath resolution, from other machines' mountinfo and
 * /proc/self/cgroup texts (pure: nothing is read from this host).
 */
import t from 'tap';
import { parseMountinfo, parseProcCgroup } from '../../runtime/linux/cgroups/layout.js';
import {
  DEFAULT_STATE_ROOT, cgroupPathsProblem, cleanCgroupsPath, defaultCgroupsPath, resolveV1Paths, resolveV2Path,
} from '../../runtime/linux/cgroups/path.js';

/** This machine's hybrid layout (cgroup2 with hugetlb only at /sys/fs/cgroup/unified). */
const hybridMountinfo = `25 30 0:23 / /sys rw,nosuid,nodev,noexec,relatime - sysfs sysfs rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
99 20 0:38 / /tmp/private\\040mount rw,relatime - cgroup2 none rw
`;

/** A typical systemd v1 host: cpu and cpuacct co-mounted. */
const comountedMountinfo = `30 25 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
33 30 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,cpu,cpuacct
34 30 0:30 / /sys/fs/cgroup/devices rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,devices
`;

const v2Mountinfo = `30 25 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`;

/** Inside a container: the memory hierarchy shows only /docker/abc. */
const nestedMountinfo = `40 31 0:32 /docker/abc /sys/fs/cgroup/memory ro,nosuid - cgroup cgroup rw,memory
41 31 0:33 /docker/abc /sys/fs/cgroup/devices ro,nosuid - cgroup cgroup rw,devices
`;

t.test('parseMountinfo: hybrid', async (t) => {
  const layout = parseMountinfo(hybridMountinfo);
  t.equal(layout.version, 1, 'hybrid counts as v1');
  t.same(layout.hierarchies.map((h) => h.controllers), [['cpu'], ['cpuacct'], ['cpuset'], ['memory'], ['devices'], ['freezer'], ['name=systemd']]);
  t.same(layout.unified, { mountPoint: '/sys/fs/cgroup/unified', root: '/' }, 'the /sys/fs/cgroup mount wins over a second mount of the same cgroup2');
});

t.test('parseMountinfo: co-mounted, pure v2, nested', async (t) => {
  const comounted = parseMountinfo(comountedMountinfo);
  t.same(comounted.hierarchies[0], { mountPoint: '/sys/fs/cgroup/cpu,cpuacct', root: '/', controllers: ['cpu', 'cpuacct'] });
  t.equal(comounted.unified, undefined);
  t.same(parseMountinfo(v2Mountinfo), { version: 2, hierarchies: [], unified: { mountPoint: '/sys/fs/cgroup', root: '/' } });
  t.same(parseMountinfo(nestedMountinfo).hierarchies[0], { mountPoint: '/sys/fs/cgroup/memory', root: '/docker/abc', controllers: ['memory'] });
  t.same(parseMountinfo(''), { version: 1, hierarchies: [], unified: undefined });
});

t.test('parseProcCgroup', async (t) => {
  const own = parseProcCgroup('9:name=systemd:/user\n4:cpu,cpuacct:/a\n3:memory:/b/c\n0::/x/y\n');
  t.same([...own], [['name=systemd', '/user'], ['cpu', '/a'], ['cpuacct', '/a'], ['memory', '/b/c'], ['', '/x/y']]);
});

t.test('cleanCgroupsPath: runc\'s LexicallyCleanPath', async (t) => {
  t.equal(cleanCgroupsPath(''), '');
  t.equal(cleanCgroupsPath('/a/b/'), '/a/b');
  t.equal(cleanCgroupsPath('/a/../../b'), '/b', 'an absolute path cannot climb above the mount');
  t.equal(cleanCgroupsPath('a//b/./c'), 'a/b/c');
  t.equal(cleanCgroupsPath('../../x'), 'x', 'a relative path cannot climb above where it starts');
  t.equal(cleanCgroupsPath('a/..'), '.');
  t.equal(cleanCgroupsPath('/'), '/');
});

t.test('defaultCgroupsPath', async (t) => {
  t.equal(defaultCgroupsPath('web'), 'web', 'the default root: the id, relative, as runc');
  t.equal(defaultCgroupsPath('web', `${DEFAULT_STATE_ROOT}/`), 'web');
  const other = defaultCgroupsPath('web', '/tmp/some-root');
  t.match(other, /^web-[0-9a-f]{8}$/, 'another root: the id and a tag of the root');
  t.equal(defaultCgroupsPath('web', '/tmp/some-root'), other, 'stable');
  t.not(defaultCgroupsPath('web', '/tmp/other-root'), other, 'two roots never share a cgroup');
});

t.test('resolveV1Paths', async (t) => {
  const layout = parseMountinfo(hybridMountinfo);
  const own = parseProcCgroup('9:name=systemd:/\n5:devices:/\n4:memory:/process_api/1b9e\n3:cpuset:/\n2:cpuacct:/\n1:cpu:/\n6:freezer:/\n0::/\n');
  t.same(resolveV1Paths(layout, own, '/cgrouptest'), {
    cpu: '/sys/fs/cgroup/cpu/cgrouptest',
    cpuacct: '/sys/fs/cgroup/cpuacct/cgrouptest',
    cpuset: '/sys/fs/cgroup/cpuset/cgrouptest',
    memory: '/sys/fs/cgroup/memory/cgrouptest',
    devices: '/sys/fs/cgroup/devices/cgrouptest',
    freezer: '/sys/fs/cgroup/freezer/cgrouptest',
    'name=systemd': '/sys/fs/cgroup/systemd/cgrouptest',
    '': '/sys/fs/cgroup/unified/cgrouptest',
  }, 'absolute: from each mount point');
  const relative = resolveV1Paths(layout, own, 'testdir/cgrouptest/container');
  t.equal(relative['memory'], '/sys/fs/cgroup/memory/process_api/1b9e/testdir/cgrouptest/container', 'relative: under our own cgroup, per hierarchy');
  t.equal(relative['cpu'], '/sys/fs/cgroup/cpu/testdir/cgrouptest/container');
  const comounted = resolveV1Paths(parseMountinfo(comountedMountinfo), parseProcCgroup('4:cpu,cpuacct:/user.slice\n'), 'c1');
  t.same(comounted, { cpu: '/sys/fs/cgroup/cpu,cpuacct/user.slice/c1', cpuacct: '/sys/fs/cgroup/cpu,cpuacct/user.slice/c1', devices: '/sys/fs/cgroup/devices/c1' });
  const nested = resolveV1Paths(parseMountinfo(nestedMountinfo), parseProcCgroup('3:memory:/docker/abc/sub\n'), 'c1');
  t.equal(nested['memory'], '/sys/fs/cgroup/memory/sub/c1', 'our cgroup is found below the mount root');
  t.equal(nested['devices'], '/sys/fs/cgroup/devices/c1', 'unknown own cgroup: from the mount');
  t.throws(() => resolveV1Paths(layout, own, '/'), /names the root cgroup/);
  t.throws(() => resolveV1Paths(layout, own, 'a/..'), /names the runtime's own cgroup/);
});

t.test('resolveV2Path', async (t) => {
  const mount = { mountPoint: '/sys/fs/cgroup', root: '/' };
  t.equal(resolveV2Path(mount, '/user.slice/session-1.scope', '/machine/c1'), '/sys/fs/cgroup/machine/c1');
  t.equal(resolveV2Path(mount, '/user.slice/session-1.scope', 'c1'), '/sys/fs/cgroup/user.slice/c1', 'relative: from the parent of our cgroup');
  t.equal(resolveV2Path(mount, '/', 'c1'), '/sys/fs/cgroup/c1');
  t.equal(resolveV2Path({ mountPoint: '/tmp/cg', root: '/' }, '/a/b', 'x/y'), '/tmp/cg/a/x/y', 'any mount point');
  t.throws(() => resolveV2Path(mount, '/', '/'), /root cgroup/);
});

t.test('saved cgroup paths are checked against the cgroupsPath they were made for', async (t) => {
  const own = { memory: '/sys/fs/cgroup/memory/pods/web', pids: '/sys/fs/cgroup/pids/pods/web' };
  t.equal(cgroupPathsProblem(own, '/pods/web'), undefined, 'the paths tsrunc makes for /pods/web');
  t.equal(cgroupPathsProblem({ '': '/sys/fs/cgroup/user.slice/web' }, 'web'), undefined, 'a relative cgroupsPath under the caller\'s cgroup');
  t.equal(cgroupPathsProblem(own, '/pods//web/'), undefined, 'cgroupsPath compared cleaned');
  t.match(cgroupPathsProblem({ pids: '/sys/fs/cgroup/pids/victim' }, '/pods/web'), /"pids": \/sys\/fs\/cgroup\/pids\/victim is not a cgroup for \/pods\/web/);
  t.match(cgroupPathsProblem({ pids: '/sys/fs/cgroup/pids/pods/web/../../victim' }, '/pods/web'), /not a normalized absolute path/, 'no .. in a saved path');
  t.match(cgroupPathsProblem({ pids: 'pids/pods/web' }, '/pods/web'), /not a normalized absolute path/, 'relative');
  t.match(cgroupPathsProblem({ pids: '/pods/web' }, '/pods/web'), /is not a cgroup for/, 'the cgroupsPath alone is not under a hierarchy');
  t.match(cgroupPathsProblem({ pids: '/sys/fs/cgroup/pids/xweb' }, 'web'), /is not a cgroup for/, 'a name that only ends the same');
  t.match(cgroupPathsProblem({ '': '/sys/fs/cgroup' }, '/'), /names no cgroup of a container's own/, 'a hierarchy root is never a container\'s');
  t.match(cgroupPathsProblem({ '': '/sys/fs/cgroup/web' }, ''), /names no cgroup/);
});
