/**
 * `tsrunc features` (runtime-spec features.md, runc's `runc features`): the JSON parses and
 * lists what tsrunc really supports: what it lists, create accepts; what create refuses, it
 * does not list.
 */
import t from 'tap';
import fs from 'node:fs';
import { Sandbox, busyboxConfig } from '../lib/harness.js';
import { planCapabilities } from '../../runtime/linux/capabilities.js';

interface Features {
  ociVersionMin: string;
  ociVersionMax: string;
  hooks: string[];
  mountOptions: string[];
  linux: {
    namespaces: string[];
    capabilities: string[];
    cgroup: Record<string, boolean>;
    seccomp: { enabled: boolean; actions?: string[] };
    apparmor: { enabled: boolean };
    selinux: { enabled: boolean };
    intelRdt: { enabled: boolean };
    netDevices: { enabled: boolean };
    mountExtensions: { idmap: { enabled: boolean } };
  };
  annotations: Record<string, string>;
}

async function features(sandbox: Sandbox): Promise<Features> {
  const result = await sandbox.tsrunc(['features']);
  if (result.status !== 0) throw new Error(`features failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as Features;
}

t.test('features prints the runtime-spec features document', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const f = await features(sandbox);
  t.equal(f.ociVersionMin, '1.0.0');
  t.equal(f.ociVersionMax, '1.3.0');
  t.same(f.hooks, ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop']);
  for (const option of ['ro', 'rw', 'nosuid', 'nodev', 'noexec', 'bind', 'rbind', 'rprivate', 'rslave', 'strictatime']) {
    t.ok(f.mountOptions.includes(option), `mount option ${option} is listed`);
  }
  t.equal(new Set(f.mountOptions).size, f.mountOptions.length, 'no mount option twice');
  t.same(f.linux.cgroup, { v1: true, v2: true, systemd: true, systemdUser: false, rdma: true }, 'the systemd driver: conformance/v2host/systemd.test.ts');
  t.same(f.linux.intelRdt, { enabled: false });
  t.same(f.linux.netDevices, { enabled: true }, 'linux.netDevices is applied (conformance/linux/net-devices.test.ts)');
  t.same(f.linux.mountExtensions, { idmap: { enabled: true } });
  t.type(f.linux.apparmor.enabled, 'boolean');
  t.type(f.linux.selinux.enabled, 'boolean');
  t.type(f.linux.seccomp.enabled, 'boolean');
  t.ok(f.linux.capabilities.includes('CAP_SYS_ADMIN') && f.linux.capabilities.includes('CAP_CHOWN'));
  t.type(f.annotations, 'object');
});

t.test('user namespaces are listed, and create refuses one without id mappings', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const f = await features(sandbox);
  t.ok(f.linux.namespaces.includes('user'));
  const bundle = sandbox.bundle(busyboxConfig(['true'], { linux: { namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'user' }] } }));
  const result = await sandbox.tsrunc(['run', '--bundle', bundle, 'userns']);
  t.equal(result.status, 1);
  t.match(result.stderr, /config\.json: \/linux\/uidMappings: a new user namespace needs uidMappings/);
});

t.test('a container with every listed namespace and every listed capability runs', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const f = await features(sandbox);
  for (const type of ['pid', 'network', 'mount', 'ipc', 'uts', 'cgroup', 'time']) t.ok(f.linux.namespaces.includes(type), `${type} is listed`);
  // Those this host lets root have (here CAP_SYS_RESOURCE is missing from every bounding set).
  const bounding = BigInt(`0x${/CapBnd:\s*([0-9a-f]+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]}`);
  const caps = f.linux.capabilities.filter((name) => (bounding >> BigInt(planCapabilities({ bounding: [name] }).bounding[0]!)) & 1n);
  t.ok(caps.length >= 38, `${caps.length} of ${f.linux.capabilities.length} listed capabilities are in this host's bounding set`);
  const config = busyboxConfig(['sh', '-c', 'grep CapEff /proc/self/status'], {
    linux: {
      namespaces: f.linux.namespaces.map((type) => ({ type })),
      // A user namespace needs its maps: container root is host uid/gid 100000 there.
      uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
      gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
    },
  });
  const processConfig = config['process'] as Record<string, unknown>;
  processConfig['capabilities'] = { bounding: caps, effective: caps, permitted: caps, inheritable: caps, ambient: caps };
  const result = await sandbox.tsrunc(['run', '--bundle', sandbox.bundle(config), 'all']);
  t.equal(result.status, 0, `run succeeds: ${result.stderr}`);
  t.match(result.stdout, /CapEff:\s+[0-9a-f]{16}/);
});

t.test('seccomp is listed as enabled only when create accepts a filter', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const f = await features(sandbox);
  const config = busyboxConfig(['true'], {
    linux: {
      namespaces: [{ type: 'pid' }, { type: 'mount' }],
      seccomp: { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['getcwd'], action: 'SCMP_ACT_ERRNO' }] },
    },
  });
  const result = await sandbox.tsrunc(['run', '--bundle', sandbox.bundle(config), 'sec']);
  if (f.linux.seccomp.enabled) {
    t.equal(result.status, 0, `a filter is accepted: ${result.stderr}`);
    t.ok(f.linux.seccomp.actions?.includes('SCMP_ACT_ERRNO'), 'its actions are listed');
  } else {
    t.equal(result.status, 1, 'a filter is refused');
    t.match(result.stderr, /seccomp/);
  }
});

t.test('features --help works, and features takes no id', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const help = await sandbox.tsrunc(['features', '--help']);
  t.equal(help.status, 0);
  t.match(help.stdout, /tsrunc features/);
  t.equal((await sandbox.tsrunc(['features', 'extra'])).status, 1, 'an extra argument is refused');
});
