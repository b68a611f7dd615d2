/**
 * The user namespace planners: which mappings are accepted, the error (with its JSON path) for
 * each one that is not, the text written to uid_map/gid_map, how the namespace plan splits a
 * new user namespace from a joined one, which mounts are idmapped, and the attributes a bind
 * opened by create for an init in a user namespace gets.
 */
import t from 'tap';
import { formatIdMap, planUserNamespace } from '../../runtime/linux/user-namespace.js';
import { CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWUSER, planNamespaces } from '../../runtime/linux/namespaces.js';
import { planIdmap } from '../../runtime/linux/user-namespace-idmap.js';
import { bindAttributes, detachedPropagation } from '../../runtime/linux/user-namespace-mounts.js';
import { MS_PRIVATE, MS_REC, MS_SHARED, MS_SLAVE, parseMountOptions } from '../../runtime/linux/mount-options.js';
import { checkRootlessConfig, rootlessStateRoot } from '../../runtime/linux/user-namespace-rootless.js';
import type { OciConfig } from '../../runtime/spec/config.js';

const root = (hostID: number, size = 65536) => [{ containerID: 0, hostID, size }];

t.test('a new user namespace takes its mappings as given', async (t) => {
  const plan = planUserNamespace({ uidMappings: root(100000), gidMappings: [...root(200000, 10), { containerID: 100, hostID: 300000, size: 5 }] }, 'new');
  t.same(plan, {
    uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
    gidMappings: [{ containerID: 0, hostID: 200000, size: 10 }, { containerID: 100, hostID: 300000, size: 5 }],
  });
  t.equal(formatIdMap(plan!.gidMappings), '0 200000 10\n100 300000 5\n', 'one line per mapping, written at once');
});

t.test('a joined user namespace has its own maps; no user namespace takes none', async (t) => {
  t.equal(planUserNamespace({}, 'joined'), undefined, 'joined: nothing to write');
  t.equal(planUserNamespace({ uidMappings: root(1), gidMappings: root(1) }, 'joined'), undefined, 'joined: given mappings are not written');
  t.equal(planUserNamespace({}, undefined), undefined);
});

t.test('each bad mapping is one error naming its JSON path', async (t) => {
  const cases: [string, Parameters<typeof planUserNamespace>[0], 'new' | undefined, string][] = [
    ['no uid mappings', { gidMappings: root(1) }, 'new', 'config.json: /linux/uidMappings: a new user namespace needs uidMappings (none given)'],
    ['no gid mappings', { uidMappings: root(1) }, 'new', 'config.json: /linux/gidMappings: a new user namespace needs gidMappings (none given)'],
    ['uid mappings, no user namespace', { uidMappings: root(1) }, undefined, 'config.json: /linux/uidMappings: mappings need a user namespace, and /linux/namespaces has none'],
    ['gid mappings, no user namespace', { gidMappings: root(1) }, undefined, 'config.json: /linux/gidMappings: mappings need a user namespace, and /linux/namespaces has none'],
    ['size 0', { uidMappings: root(1, 0), gidMappings: root(1) }, 'new', 'config.json: /linux/uidMappings/0/size: must be at least 1'],
    ['past the last id', { uidMappings: [{ containerID: 0, hostID: 4294967295, size: 2 }], gidMappings: root(1) }, 'new', 'config.json: /linux/uidMappings/0: hostID + size goes past uid 4294967295'],
    ['container range past the last id', { uidMappings: [{ containerID: 4294967290, hostID: 1, size: 10 }], gidMappings: root(1) }, 'new', 'config.json: /linux/uidMappings/0: containerID + size goes past uid 4294967295'],
    [
      'overlapping container ids',
      { uidMappings: [...root(1000, 10), { containerID: 5, hostID: 5000, size: 10 }], gidMappings: root(1) },
      'new',
      'config.json: /linux/uidMappings/1: container uids overlap those of /linux/uidMappings/0',
    ],
    [
      'overlapping host ids',
      { uidMappings: root(1), gidMappings: [...root(1000, 10), { containerID: 50, hostID: 1009, size: 1 }] },
      'new',
      'config.json: /linux/gidMappings/1: host gids overlap those of /linux/gidMappings/0',
    ],
    ['container root unmapped', { uidMappings: [{ containerID: 1, hostID: 1000, size: 10 }], gidMappings: root(1) }, 'new', 'config.json: /linux/uidMappings: container uid 0 must be mapped (the container\'s init runs as root in its user namespace)'],
    ['too many lines', { uidMappings: Array.from({ length: 341 }, (_, i) => ({ containerID: i, hostID: 1000 + i, size: 1 })), gidMappings: root(1) }, 'new', 'config.json: /linux/uidMappings: 341 mappings; the kernel takes at most 340'],
  ];
  for (const [name, linux, kind, message] of cases) t.throws(() => planUserNamespace(linux, kind), { message }, name);
  t.doesNotThrow(() => planUserNamespace({ uidMappings: [...root(1000, 10), { containerID: 10, hostID: 1010, size: 1 }], gidMappings: root(1) }, 'new'), 'adjacent ranges are fine');
});

t.test('planNamespaces: a new user namespace is one more clone flag; a joined one is a join', async (t) => {
  const mappings = { uidMappings: root(100000), gidMappings: root(100000) };
  const created = planNamespaces([{ type: 'pid' }, { type: 'mount' }, { type: 'user' }], mappings);
  t.equal(created.unshareFlags, CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUSER);
  t.same(created.user, mappings);
  const joined = planNamespaces([{ type: 'pid' }, { type: 'user', path: '/proc/1/ns/user' }]);
  t.equal(joined.unshareFlags, CLONE_NEWPID);
  t.same(joined.joins, [{ type: 'user', path: '/proc/1/ns/user' }]);
  t.equal(joined.user, undefined, 'no maps to write for a joined one');
  t.throws(() => planNamespaces([{ type: 'pid' }], mappings), { message: /\/linux\/uidMappings: mappings need a user namespace/ });
});

t.test('planIdmap: idmap/ridmap or mount mappings make an idmapped bind mount', async (t) => {
  const own = { uidMappings: root(1000, 1), gidMappings: root(2000, 1) };
  const container = { uidMappings: root(100000), gidMappings: root(100000) };
  t.equal(planIdmap({ options: ['rbind'] }, 0, true, container), undefined, 'a plain bind mount');
  t.same(planIdmap({ options: ['rbind', 'idmap'], ...own }, 3, true, container), { recursive: false, ...own }, 'its own mappings');
  t.same(planIdmap({ options: ['ridmap'] }, 3, true, container), { recursive: true, ...container }, "ridmap, the container's mappings");
  t.same(planIdmap({ options: ['rbind'], ...own }, 3, true, {}), { recursive: false, ...own }, 'mappings alone');
  t.throws(() => planIdmap({ options: ['idmap'], ...own }, 2, false, container), {
    message: 'config.json: /mounts/2/options: idmap and ridmap (and mount uidMappings) need a bind mount',
  });
  t.throws(() => planIdmap({ options: ['idmap'] }, 1, true, {}), {
    message: "config.json: /mounts/1: an idmapped mount needs uidMappings and gidMappings (its own, or the container's user namespace mappings)",
  });
  t.throws(() => planIdmap({ options: ['idmap'], uidMappings: root(1, 0), gidMappings: root(1) }, 4, true, {}), {
    message: 'config.json: /mounts/4/uidMappings/0/size: must be at least 1',
  });
});

t.test('checkRootlessConfig: a user without root maps only its own ids, in a user namespace', async (t) => {
  const linux = (extra: Partial<NonNullable<OciConfig['linux']>>): OciConfig => ({
    ociVersion: '1.2.0',
    linux: { namespaces: [{ type: 'pid' }, { type: 'user' }], uidMappings: root(1000, 1), gidMappings: root(1001, 1), ...extra },
  });
  t.doesNotThrow(() => checkRootlessConfig(linux({}), 1000, 1001), "runc's rootless spec");
  t.doesNotThrow(() => checkRootlessConfig(linux({ namespaces: [{ type: 'user', path: '/proc/1/ns/user' }] }), 1000, 1001), 'a joined user namespace has its maps');
  t.throws(() => checkRootlessConfig(linux({ namespaces: [{ type: 'pid' }] }), 1000, 1001), {
    message: /^config\.json: \/linux\/namespaces: without root, tsrunc needs a user namespace/,
  });
  t.throws(() => checkRootlessConfig(linux({ uidMappings: root(1000, 2) }), 1000, 1001), {
    message: 'config.json: /linux/uidMappings/0: without root, tsrunc can map only your own uid 1000 (hostID 1000, size 1)',
  });
  t.throws(() => checkRootlessConfig(linux({}), 1000, 1002), {
    message: 'config.json: /linux/gidMappings/0: without root, tsrunc can map only your own gid 1002 (hostID 1002, size 1)',
  });
});

t.test('rootlessStateRoot: $XDG_RUNTIME_DIR/tsrunc, or nothing without it', async (t) => {
  t.equal(rootlessStateRoot({ XDG_RUNTIME_DIR: '/run/user/1000' }), '/run/user/1000/tsrunc');
  t.equal(rootlessStateRoot({}), undefined);
});

t.test('bindAttributes: a bind\'s flags as mount_setattr attributes, only ever added', async (t) => {
  const attributes = (...options: string[]) => bindAttributes(parseMountOptions(options).flags);
  t.same(attributes('rbind'), { set: 0, clear: 0 }, 'no flags: nothing to set');
  t.same(attributes('rbind', 'ro', 'nosuid', 'nodev', 'noexec'), { set: 0x1 | 0x2 | 0x4 | 0x8, clear: 0 }, 'ro nosuid nodev noexec');
  t.same(attributes('bind', 'rw', 'suid', 'dev', 'exec'), { set: 0, clear: 0 }, 'rw, suid, dev, exec clear nothing the source has');
  t.same(attributes('bind', 'noatime'), { set: 0x10, clear: 0x70 }, 'an atime mode replaces the source\'s');
  t.same(attributes('bind', 'strictatime', 'nodiratime'), { set: 0x20 | 0x80, clear: 0x70 });
  t.same(attributes('bind', 'relatime'), { set: 0, clear: 0x70 }, 'relatime is atime mode 0');
  t.same(attributes('bind', 'nosymfollow'), { set: 0x200000, clear: 0 });
});

t.test('detachedPropagation: never shared with the host; private when the root is', async (t) => {
  t.equal(detachedPropagation(undefined), MS_SLAVE, 'the default rslave root');
  t.equal(detachedPropagation(MS_SLAVE | MS_REC), MS_SLAVE);
  t.equal(detachedPropagation(MS_SHARED | MS_REC), MS_SLAVE, 'rshared: still no peer of the host');
  t.equal(detachedPropagation(MS_PRIVATE | MS_REC), MS_PRIVATE);
  t.equal(detachedPropagation(MS_PRIVATE), MS_PRIVATE);
});
