/**
 * The pure planners: config.json pieces → what the init will do. No container is started;
 * these pin down the translation so the real-container tests only need to check the kernel side.
 */
import t from 'tap';
import { planLsm } from '../../runtime/linux/lsm.js';
import type { OciConfig } from '../../runtime/spec/config.js';
import {
  MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_PRIVATE, MS_RDONLY, MS_REC, MS_RELATIME, MS_SHARED, MS_SLAVE,
  MS_STRICTATIME, MS_UNBINDABLE, parseMountOptions, rootPropagationFlags,
} from '../../runtime/linux/mount-options.js';
import {
  CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWUTS, planNamespaces,
} from '../../runtime/linux/namespaces.js';
import { planCapabilities } from '../../runtime/linux/capabilities.js';
import { planRlimits, type RlimitConfig } from '../../runtime/linux/rlimits.js';
import { defaultDevices, planDevices } from '../../runtime/linux/devices.js';
import { planContainer, type CreateFlags } from '../../runtime/container/plan-init.js';
import { validateId } from '../../runtime/container/id.js';
import { processEnvironment } from '../../runtime/container/process-env.js';
import { parseSignal } from '../../runtime/container/signals.js';
import { formatTable } from '../../runtime/container/query.js';

t.test('parseMountOptions', async (t) => {
  const nothing = { flags: 0, propagation: [], data: '', recursive: undefined, copyUp: false };
  t.same(parseMountOptions(), nothing, 'no options: nothing');
  t.same(parseMountOptions([]), nothing);
  t.equal(parseMountOptions(['ro']).flags, MS_RDONLY);
  t.equal(parseMountOptions(['nosuid', 'nodev', 'noexec']).flags, MS_NOSUID | MS_NODEV | MS_NOEXEC);
  t.equal(parseMountOptions(['ro', 'rw']).flags, 0, 'a later clearing option wins');
  t.equal(parseMountOptions(['rw', 'ro']).flags, MS_RDONLY, 'a later setting option wins');
  t.equal(parseMountOptions(['bind']).flags, MS_BIND);
  t.equal(parseMountOptions(['rbind']).flags, MS_BIND | MS_REC, 'rbind is recursive');
  t.equal(parseMountOptions(['relatime', 'strictatime']).flags, MS_RELATIME | MS_STRICTATIME);
  t.same(
    parseMountOptions(['nosuid', 'strictatime', 'mode=755', 'size=65536k']),
    { flags: MS_NOSUID | MS_STRICTATIME, propagation: [], data: 'mode=755,size=65536k', recursive: undefined, copyUp: false },
    'filesystem options go to data, in order',
  );
  t.same(
    parseMountOptions(['rbind', 'rprivate', 'shared', 'runbindable']).propagation,
    [MS_PRIVATE | MS_REC, MS_SHARED, MS_UNBINDABLE | MS_REC],
    'propagation changes are kept separate, in order',
  );
  t.equal(parseMountOptions(['rslave']).flags, 0, 'propagation is not a mount flag');
  t.equal(parseMountOptions(['newinstance', 'ptmxmode=0666']).data, 'newinstance,ptmxmode=0666', 'unknown words go to data');
});

t.test('rootPropagationFlags', async (t) => {
  t.equal(rootPropagationFlags(undefined), undefined, 'unset: the default applies');
  t.equal(rootPropagationFlags(''), undefined);
  t.equal(rootPropagationFlags('private'), MS_PRIVATE);
  t.equal(rootPropagationFlags('rprivate'), MS_PRIVATE | MS_REC);
  t.equal(rootPropagationFlags('slave'), MS_SLAVE);
  t.equal(rootPropagationFlags('rslave'), MS_SLAVE | MS_REC);
  t.equal(rootPropagationFlags('rshared'), MS_SHARED | MS_REC);
  t.equal(rootPropagationFlags('runbindable'), MS_UNBINDABLE | MS_REC);
  t.equal(rootPropagationFlags('ro'), undefined, 'a mount flag is not a propagation');
  t.equal(rootPropagationFlags('bogus'), undefined);
});

t.test('planNamespaces', async (t) => {
  t.same(planNamespaces(), { unshareFlags: 0, joins: [], newCgroupNamespace: false, types: [] }, 'none: share everything');
  const plan = planNamespaces([{ type: 'pid' }, { type: 'network' }, { type: 'mount' }, { type: 'ipc' }, { type: 'uts' }]);
  t.equal(plan.unshareFlags, CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS);
  t.same(plan.types, ['pid', 'network', 'mount', 'ipc', 'uts']);
  t.same(plan.joins, []);
  t.equal(plan.newCgroupNamespace, false);

  const joined = planNamespaces([{ type: 'mount' }, { type: 'network', path: '/proc/1/ns/net' }]);
  t.equal(joined.unshareFlags, CLONE_NEWNS, 'a joined namespace is not unshared');
  t.same(joined.joins, [{ type: 'network', path: '/proc/1/ns/net' }]);
  t.same(joined.types, ['mount', 'network']);

  const cgroup = planNamespaces([{ type: 'cgroup' }, { type: 'mount' }]);
  t.equal(cgroup.unshareFlags, CLONE_NEWNS, 'a new cgroup namespace is not unshared by the parent');
  t.equal(cgroup.newCgroupNamespace, true, 'the init makes it');
  const cgroupJoin = planNamespaces([{ type: 'cgroup', path: '/proc/1/ns/cgroup' }]);
  t.equal(cgroupJoin.newCgroupNamespace, false, 'a joined cgroup namespace is not made anew');
  t.same(cgroupJoin.joins, [{ type: 'cgroup', path: '/proc/1/ns/cgroup' }]);

  t.throws(() => planNamespaces([{ type: 'mount' }, { type: 'uts' }, { type: 'mount' }]), {
    message: 'config.json: /linux/namespaces/2/type: namespace "mount" is listed more than once',
  });
  t.throws(() => planNamespaces([{ type: 'network', path: '/proc/1/ns/net' }, { type: 'network' }]), {
    message: /\/linux\/namespaces\/1\/type: namespace "network" is listed more than once/,
  }, 'a join and a new one of the same type are duplicates too');
  t.throws(() => planNamespaces([{ type: 'pid' }, { type: 'user' }]), {
    message: 'config.json: /linux/uidMappings: a new user namespace needs uidMappings (none given)',
  }, 'a new user namespace needs id mappings (userns-plan.test.ts has the rest)');
  t.throws(() => planNamespaces([{ type: 'net' }]), {
    message: 'config.json: /linux/namespaces/0/type: unknown namespace type "net"',
  });
});

t.test('planCapabilities', async (t) => {
  t.same(planCapabilities({}), { bounding: [], effective: [], inheritable: [], permitted: [], ambient: [] }, 'absent sets are empty');
  t.same(
    planCapabilities({ bounding: ['CAP_CHOWN', 'CAP_KILL', 'CAP_SYS_ADMIN', 'CAP_CHECKPOINT_RESTORE'], ambient: ['CAP_NET_BIND_SERVICE'] }),
    { bounding: [0, 5, 21, 40], effective: [], inheritable: [], permitted: [], ambient: [10] },
  );
  const warnings: string[] = [];
  const warn = (message: string) => warnings.push(message);
  t.same(planCapabilities({ bounding: ['CAP_KILL'], effective: ['CAP_KILL', 'CAP_NOPE'], permitted: ['kill'] }, warn),
    { bounding: [5], effective: [5], inheritable: [], permitted: [], ambient: [] }, 'unknown names are left out (the spec: a warning, not a failure)');
  t.same(warnings, [
    'config.json: /process/capabilities/effective/1: unknown capability "CAP_NOPE", left out',
    'config.json: /process/capabilities/permitted/0: unknown capability "kill", left out',
  ], 'each named with its JSON path; names are exact, as in the spec');
});

t.test('planRlimits', async (t) => {
  t.same(planRlimits(), []);
  t.same(planRlimits([{ type: 'RLIMIT_NOFILE', soft: 1024, hard: 4096 }, { type: 'RLIMIT_CORE', soft: 0, hard: 0 }]), [
    { type: 'RLIMIT_NOFILE', resource: 7, soft: '1024', hard: '4096' },
    { type: 'RLIMIT_CORE', resource: 4, soft: '0', hard: '0' },
  ]);
  // As config.json delivers it: JSON.parse rounds 2^64-1 up to 2^64.
  const infinite = JSON.parse('[{"type": "RLIMIT_STACK", "soft": 8388608, "hard": 18446744073709551615}]') as RlimitConfig[];
  t.same(planRlimits(infinite), [{ type: 'RLIMIT_STACK', resource: 3, soft: '8388608', hard: '18446744073709551615' }], 'RLIM_INFINITY is exact');
  const both = JSON.parse('[{"type": "RLIMIT_AS", "soft": 18446744073709551615, "hard": 18446744073709551615}]') as RlimitConfig[];
  t.equal(planRlimits(both)[0]!.soft, '18446744073709551615');
  t.throws(() => planRlimits([{ type: 'RLIMIT_NOFILE', soft: 1, hard: 1 }, { type: 'RLIMIT_BOGUS', soft: 1, hard: 1 }]), {
    message: 'config.json: /process/rlimits/1/type: unknown rlimit "RLIMIT_BOGUS"',
  });
  t.throws(() => planRlimits([{ type: 'RLIMIT_NOFILE', soft: 1, hard: 1 }, { type: 'RLIMIT_NOFILE', soft: 2, hard: 2 }]), {
    message: 'config.json: /process/rlimits/1/type: rlimit "RLIMIT_NOFILE" is listed more than once',
  });
  t.throws(() => planRlimits([{ type: 'RLIMIT_NOFILE', soft: 2048, hard: 1024 }]), {
    message: 'config.json: /process/rlimits/0: soft limit 2048 is above hard limit 1024',
  });
});

t.test('planDevices', async (t) => {
  const defaults = planDevices();
  t.same(defaults.map((d) => d.path), ['/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom', '/dev/tty']);
  t.same(defaults, defaultDevices);
  t.ok(defaults.every((d) => d.type === 'c' && d.fileMode === 0o666 && d.uid === 0 && d.gid === 0), 'all char devices, 0666, root');
  t.same(defaults.map((d) => `${d.major}:${d.minor}`), ['1:3', '1:5', '1:7', '1:8', '1:9', '5:0']);

  const planned = planDevices([
    { path: '/dev/null', type: 'c', major: 1, minor: 3, fileMode: 0o600, uid: 5, gid: 6 },
    { path: '/dev/fuse', type: 'c', major: 10, minor: 229 },
  ]);
  t.equal(planned.length, 7, 'an override replaces, a new path adds');
  t.same(planned.find((d) => d.path === '/dev/null'), { path: '/dev/null', type: 'c', major: 1, minor: 3, fileMode: 0o600, uid: 5, gid: 6 });
  t.same(planned.find((d) => d.path === '/dev/fuse'), { path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 });
  t.same(planDevices(), defaultDevices, 'planning does not change the defaults');
});

/** The smallest config planContainer accepts, with namespaces a normal container has. */
function config(overrides: Partial<OciConfig> = {}): OciConfig {
  return {
    ociVersion: '1.2.0',
    process: { args: ['sh'], cwd: '/', user: { uid: 0, gid: 0 } },
    root: { path: 'rootfs' },
    linux: { namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'uts' }] },
    ...overrides,
  };
}
/** A host where every bind source is a directory with nothing mounted below. */
const host = { runtimeIsRoot: true, sourceKind: () => 'directory' as const, hasSubmounts: () => false, netDeviceExists: () => true };
const flags: CreateFlags = { id: 'c1', bundle: '/bundles/one', stateDir: '/run/tsrunc/c1', noPivot: false, host };

t.test('planContainer: mounts', async (t) => {
  const plan = planContainer(
    config({
      mounts: [
        { destination: '/data', type: 'bind', source: 'data', options: ['rbind', 'ro'] },
        { destination: '/abs', type: 'none', source: '/srv/abs', options: ['bind'] },
        { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'mode=1777'] },
        { destination: '/a/../b/./c', type: 'tmpfs', source: 'tmpfs' },
      ],
    }),
    flags,
  );
  const [data, abs, tmp, normalized] = plan.rootfs.mounts;
  t.equal(data!.source, '/bundles/one/data', 'a relative bind source is joined to the bundle');
  t.equal(data!.type, '', 'type "bind" is no filesystem type');
  t.equal(data!.flags, MS_BIND | MS_REC | MS_RDONLY);
  t.equal(abs!.source, '/srv/abs', 'an absolute source stays');
  t.equal(abs!.flags, MS_BIND);
  t.same(tmp, { source: 'tmpfs', destination: '/tmp', type: 'tmpfs', flags: MS_NOSUID, propagation: [], data: 'mode=1777', index: 2 });
  t.equal(normalized!.destination, '/b/c', 'destinations are normalized');

  const relative = planContainer(config({ mounts: [{ destination: 'data/', type: 'tmpfs', source: 'tmpfs' }] }), flags);
  t.equal(relative.rootfs.mounts[0]!.destination, '/data', 'a relative destination is relative to / (runtime-spec 1.2)');
  t.throws(() => planContainer(config({ mounts: [{ destination: '/x', type: 'bind', options: ['rbind'] }] }), flags), {
    message: 'config.json: /mounts/0/source: a bind mount needs a source',
  });
});

t.test('planContainer: /dev', async (t) => {
  const devOf = (mounts: OciConfig['mounts']) => {
    const { mountDefaultDev, createDevices } = planContainer(config({ mounts }), flags).rootfs;
    return { mountDefaultDev, createDevices };
  };
  t.same(devOf([]), { mountDefaultDev: true, createDevices: true }, 'no /dev mount: tsrunc mounts one and fills it');
  t.same(devOf([{ destination: '/dev', type: 'tmpfs', source: 'tmpfs' }]), { mountDefaultDev: false, createDevices: true }, 'a tmpfs /dev is filled');
  t.same(devOf([{ destination: '/dev', type: 'bind', source: '/dev', options: ['rbind'] }]), { mountDefaultDev: false, createDevices: false }, "the host's /dev is left alone");
  t.same(devOf([{ destination: '/dev', type: 'none', source: '/dev', options: ['bind'] }]), { mountDefaultDev: false, createDevices: false });
  // Else the nodes would be recreated through the bind, in the host's own /dev.
  t.same(devOf([{ destination: '/dev/', type: 'bind', source: '/dev', options: ['rbind'] }]), { mountDefaultDev: false, createDevices: false }, '"/dev/" is /dev');
  t.same(devOf([{ destination: '/dev/pts', type: 'devpts', source: 'devpts' }]), { mountDefaultDev: true, createDevices: true }, 'a mount under /dev is not /dev');
  t.equal(planContainer(config({ linux: { namespaces: [{ type: 'mount' }], devices: [{ path: '/dev/fuse', type: 'c', major: 10, minor: 229 }] } }), flags).rootfs.devices.length, 7);
});

t.test('planContainer: namespaces, hostname, rootfs', async (t) => {
  t.throws(() => planContainer(config({ hostname: 'box', linux: { namespaces: [{ type: 'mount' }] } }), flags), {
    message: 'config.json: /hostname: setting the hostname needs a uts namespace',
  });
  t.throws(() => planContainer(config({ domainname: 'example.org', linux: { namespaces: [{ type: 'mount' }] } }), flags), {
    message: 'config.json: /domainname: setting the domainname needs a uts namespace',
  });
  const named = planContainer(config({ hostname: 'box', domainname: 'example.org' }), flags);
  t.equal(named.hostname, 'box');
  t.equal(named.domainname, 'example.org');
  const unnamed = planContainer(config({ hostname: '', linux: { namespaces: [{ type: 'mount' }] } }), flags);
  t.equal(unnamed.hostname, undefined, 'an empty hostname needs no uts namespace: nothing is set');

  // Without a mount namespace tsrunc does not refuse: it only chroots (see inherited-namespaces).
  t.equal(planContainer(config({ linux: { namespaces: [{ type: 'pid' }] } }), flags).rootfs.chrootOnly, true);
  t.equal(planContainer(config({ linux: {} }), flags).rootfs.chrootOnly, true, 'no namespaces at all');
  t.equal(planContainer(config(), flags).rootfs.chrootOnly, false);
  t.equal(planContainer(config({ linux: { namespaces: [{ type: 'cgroup' }, { type: 'mount' }] } }), flags).namespaces.newCgroupNamespace, true);

  t.equal(planContainer(config(), flags).rootfs.rootfs, '/bundles/one/rootfs', 'a relative root.path is under the bundle');
  t.equal(planContainer(config({ root: { path: '../shared/rootfs/' } }), flags).rootfs.rootfs, '/bundles/shared/rootfs');
  t.equal(planContainer(config({ root: { path: '/srv/rootfs' } }), flags).rootfs.rootfs, '/srv/rootfs', 'an absolute one stays');
  t.equal(planContainer(config({ root: { path: 'rootfs', readonly: true } }), flags).rootfs.readonly, true);
  t.equal(planContainer(config(), flags).rootfs.readonly, false);
  t.equal(planContainer(config(), { ...flags, noPivot: true }).rootfs.noPivot, true);
  t.throws(() => planContainer(config({ root: { path: '' } }), flags), { message: 'config.json: /root/path: required' });

  t.equal(planContainer(config(), flags).rootfs.propagation, undefined);
  t.equal(planContainer(config({ linux: { namespaces: [{ type: 'mount' }], rootfsPropagation: 'rshared' } }), flags).rootfs.propagation, MS_SHARED | MS_REC);
  // The schema refuses such a name first; the planner must not let one through either.
  const sideways = JSON.parse('{"namespaces": [{"type": "mount"}], "rootfsPropagation": "sideways"}') as OciConfig['linux'];
  t.throws(() => planContainer(config({ linux: sideways }), flags), {
    message: 'config.json: /linux/rootfsPropagation: unknown propagation "sideways"',
  });
});

t.test('planContainer: process', async (t) => {
  const proc = planContainer(
    config({
      process: {
        args: ['sh', '-c', 'id'],
        env: ['A=1'],
        cwd: '/work',
        user: { uid: 1000, gid: 100, additionalGids: [5, 6], umask: 0o077 },
        noNewPrivileges: true,
        oomScoreAdj: 500,
        rlimits: [{ type: 'RLIMIT_NOFILE', soft: 10, hard: 20 }],
        capabilities: { bounding: ['CAP_KILL'] },
      },
    }),
    flags,
  ).process!;
  t.same(proc, {
    args: ['sh', '-c', 'id'],
    env: ['A=1'],
    cwd: '/work',
    uid: 1000,
    gid: 100,
    additionalGids: [5, 6],
    umask: 0o077,
    noNewPrivileges: true,
    oomScoreAdj: 500,
    rlimits: [{ type: 'RLIMIT_NOFILE', resource: 7, soft: '10', hard: '20' }],
    capabilities: { bounding: [5], effective: [], inheritable: [], permitted: [], ambient: [] },
    lsm: planLsm(undefined, undefined),
    seccomp: undefined,
    attributes: {},
  });
  const plain = planContainer(config(), flags).process!;
  t.equal(plain.noNewPrivileges, false);
  t.equal(plain.capabilities, undefined, 'no capabilities in the config: none are changed');
  t.equal(planContainer(config({ process: undefined }), flags).process, undefined, 'a config without process can be planned');
  t.throws(() => planContainer(config({ process: { args: [], cwd: '/' } }), flags), { message: 'config.json: /process/args: must name the program to run' });
  t.throws(() => planContainer(config({ process: { args: ['sh'], cwd: '/', terminal: true } }), flags), {
    message: /^cannot allocate tty if tsrunc will detach without setting console socket/,
  });
  const withConsole = planContainer(config({ process: { args: ['sh'], cwd: '/', terminal: true, consoleSize: { height: 5, width: 7 } } }), {
    ...flags, consoleSocket: 'relative.sock',
  });
  t.same(withConsole.console, { socket: `${process.cwd()}/relative.sock`, rows: 5, cols: 7 }, 'terminal + --console-socket: an absolute socket path and the size');
  t.throws(() => planContainer(config(), { ...flags, consoleSocket: '/c.sock' }), { message: /^cannot use console socket if tsrunc will not detach or allocate tty/ });
});

t.test('validateId', async (t) => {
  for (const id of ['a', 'abc', 'A-b_c.d+e', '0123456789', 'x'.repeat(200), '...']) {
    t.doesNotThrow(() => validateId(id), `"${id.slice(0, 20)}" is valid`);
  }
  t.throws(() => validateId(''), { message: 'container id cannot be empty' });
  for (const id of ['.', '..', 'a/b', '../x', 'a b', 'a:b', 'tab\t', 'new\nline', 'é', '*']) {
    t.throws(() => validateId(id), { message: `invalid container id format: "${id}"` }, JSON.stringify(id));
  }
});

t.test('parseSignal', async (t) => {
  for (const text of ['KILL', 'SIGKILL', 'kill', 'sigkill', 'Kill', '9']) t.equal(parseSignal(text), 9, text);
  t.equal(parseSignal('TERM'), 15);
  t.equal(parseSignal('hup'), 1);
  t.equal(parseSignal('SIGUSR1'), 10);
  t.equal(parseSignal('1'), 1);
  t.equal(parseSignal('64'), 64, 'real-time signals by number');
  t.equal(parseSignal('0'), 0, '0: does it exist, as kill(2)');
  for (const text of ['RTMIN+3', 'SIGRTMIN+3', 'rtmin+3', 'sigrtmin+3']) t.equal(parseSignal(text), 37, `${text}: systemd's halt request`);
  t.equal(parseSignal('RTMIN'), 34);
  t.equal(parseSignal('RTMIN+15'), 49);
  t.equal(parseSignal('RTMAX-14'), 50);
  t.equal(parseSignal('SIGRTMAX-1'), 63);
  t.equal(parseSignal('RTMAX'), 64);
  for (const text of ['', '65', '-9', '9x', '1.5', 'NOPE', 'SIG', 'SIGSIGKILL', ' 9', 'KILL ', 'RTMIN+16', 'RTMIN-1', 'RTMAX+1', 'RTMAX-15', 'RTMIN+03', 'RTMIN+']) {
    t.throws(() => parseSignal(text), { message: `invalid signal "${text}"` }, JSON.stringify(text));
  }
});

t.test('formatTable matches runc list (tabwriter: min width 12, padding 3)', async (t) => {
  t.equal(formatTable([]), 'ID          PID         STATUS      BUNDLE      CREATED     OWNER\n', 'header alone');
  // Checked against `runc list` (runc 1.1.5) with a container of these values.
  const row = {
    id: 'ab',
    pid: 30918,
    status: 'created',
    bundle: '/tmp/averyveryverylongbundlename-jAXK',
    created: '2026-11-23T07:18:56.362497159Z',
    owner: 'root',
  };
  t.equal(
    formatTable([row]),
    'ID          PID         STATUS      BUNDLE                                  CREATED                          OWNER\n' +
      'ab          30918       created     /tmp/averyveryverylongbundlename-jAXK   2026-11-23T07:18:56.362497159Z   root\n',
    'a cell wider than 12 gets 3 spaces after it, as in runc',
  );
  const columnStarts = (line: string) => [...line.matchAll(/(?:^|(?<= ))\S/g)].map((m) => m.index);
  const lines = formatTable([{ ...row, id: 'a-much-longer-id' }, { ...row, pid: 0, status: 'stopped' }]).trimEnd().split('\n');
  t.same(columnStarts(lines[1]!), columnStarts(lines[0]!), 'every row lines up with the header');
  t.same(columnStarts(lines[2]!), columnStarts(lines[0]!));
});


t.test('recursive mount options: mount_setattr attributes to set and clear, the last option winning', async (t) => {
  t.equal(parseMountOptions(['rbind', 'ro']).recursive, undefined, 'none without an r-option');
  t.same(parseMountOptions(['rro', 'rnosuid']).recursive, { set: 0x1 | 0x2, clear: 0 });
  t.same(parseMountOptions(['rro', 'rrw']).recursive, { set: 0, clear: 0x1 }, 'rrw undoes rro');
  t.same(parseMountOptions(['rnoatime']).recursive, { set: 0x10, clear: 0x70 }, 'an atime mode clears the whole atime field');
  t.same(parseMountOptions(['rnoatime', 'ratime']).recursive, { set: 0, clear: 0x70 }, 'ratime: back to relatime');
  t.same(parseMountOptions(['rnosymfollow', 'rnodev', 'rnoexec']).recursive, { set: 0x200000 | 0x4 | 0x8, clear: 0 });
  t.equal(parseMountOptions(['rro', 'mode=755']).data, 'mode=755', 'not passed to the filesystem');
  t.equal(parseMountOptions(['tmpcopyup', 'mode=1777']).copyUp, true, 'tmpcopyup: a copy, not a filesystem option');
  t.equal(parseMountOptions(['tmpcopyup', 'mode=1777']).data, 'mode=1777');
});

t.test('processEnvironment: the last value of a variable set twice, at its first place; an empty HOME is unset', async (t) => {
  t.same(processEnvironment(['ONE=two', 'PATH=/bin', 'ONE=', 'TWO=2']), ['ONE=', 'PATH=/bin', 'TWO=2']);
  t.same(processEnvironment(['HOME=', 'PATH=/bin']), ['PATH=/bin'], 'so that the stage fills it from /etc/passwd');
  t.same(processEnvironment(['HOME=/override', 'HOME=']), [], 'the last HOME wins, and is empty');
  t.same(processEnvironment(['HOME=', 'HOME=/x']), ['HOME=/x']);
  t.same(processEnvironment(['A=1=2', 'A']), ['A'], 'an entry without "=" names the variable it replaces');
});
