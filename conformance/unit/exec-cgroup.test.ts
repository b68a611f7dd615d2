import t from 'tap';
import { execCgroupPaths } from '../../runtime/container/exec-cgroup.js';

const v1 = { pids: '/sys/fs/cgroup/pids/c1', memory: '/sys/fs/cgroup/memory/c1', '': '/sys/fs/cgroup/unified/c1' };

t.test('--cgroup on v1: one controller, several, or all (with the hybrid cgroup2 dir)', async (t) => {
  t.same(execCgroupPaths(v1, ['pids:w']), { ...v1, pids: '/sys/fs/cgroup/pids/c1/w' });
  t.same(execCgroupPaths(v1, ['pids,memory:a/b']), { ...v1, pids: '/sys/fs/cgroup/pids/c1/a/b', memory: '/sys/fs/cgroup/memory/c1/a/b' });
  t.same(execCgroupPaths(v1, ['/w']), { pids: '/sys/fs/cgroup/pids/c1/w', memory: '/sys/fs/cgroup/memory/c1/w', '': '/sys/fs/cgroup/unified/c1/w' });
  t.same(execCgroupPaths(v1, ['w', 'memory:m']), { pids: '/sys/fs/cgroup/pids/c1/w', memory: '/sys/fs/cgroup/memory/c1/m', '': '/sys/fs/cgroup/unified/c1/w' }, 'later specs win');
});

t.test('--cgroup on v2: no controller prefix', async (t) => {
  const v2 = { '': '/sys/fs/cgroup/c1' };
  t.same(execCgroupPaths(v2, ['w']), { '': '/sys/fs/cgroup/c1/w' });
  t.throws(() => execCgroupPaths(v2, ['pids:w']), /cgroup v2 \(unified\) cgroup: give the path without a controller/);
});

t.test('--cgroup errors name the spec', async (t) => {
  t.throws(() => execCgroupPaths(v1, ['pids:']), /--cgroup pids:: no sub-cgroup path/);
  t.throws(() => execCgroupPaths(v1, ['cpu:w']), /--cgroup cpu:w: unknown controller "cpu": the container has no cgroup for it/);
  t.throws(() => execCgroupPaths(v1, ['pids:../x']), /the path leaves the container's cgroup/);
  t.throws(() => execCgroupPaths(v1, [':w']), /unknown controller ""/);
});
