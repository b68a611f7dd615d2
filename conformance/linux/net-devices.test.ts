/**
 * linux.netDevices (runtime-spec 1.2+, config-linux.md "Network Devices") with real devices and
 * containers: a host device is moved into the container's new network namespace, renamed, up,
 * with its permanent global addresses and only those; the host no longer has it; after delete it
 * is gone with the namespace (a virtual device: the kernel returns only physical ones to the
 * host, and the spec forbids the runtime moving it out). A refused config moves nothing, and a
 * create that fails after the move puts the device back as it was.
 *
 * The devices are dummies where the kernel has the dummy driver; this project's CI kernels do
 * not, so there they are one end of a veth pair (the other end stays on the host, and goes when
 * its peer is destroyed). Every device a test makes is deleted in its teardown if still there.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import t, { type Test } from 'tap';
import { Sandbox, busyboxConfig, waitFor, type JsonObject } from '../lib/harness.js';
import { assertNothingLeft, expectCreateFailure, fields } from '../lib/container-helpers.js';

const ip = (...args: string[]) => execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

function hostHas(name: string): boolean {
  return spawnSync('ip', ['link', 'show', 'dev', name], { stdio: 'ignore' }).status === 0;
}

/** "inet 10.1.2.3/24", "inet6 fd00::2/64" lines of a device on the host. */
function hostAddresses(name: string): string[] {
  return ip('-o', 'addr', 'show', 'dev', name)
    .split('\n')
    .map((line) => /\b(inet6? \S+)/.exec(line)?.[1])
    .filter((found): found is string => found !== undefined);
}

/** `ip` link flags of a host device, e.g. ["BROADCAST", "UP", ...]. */
function hostFlags(name: string): string[] {
  return /<([^>]*)>/.exec(ip('-o', 'link', 'show', 'dev', name))?.[1]?.split(',') ?? [];
}

let devices = 0;
/** A new virtual device on the host, unique to this run, deleted in teardown if still there. */
function makeDevice(t: Test): string {
  const tag = `${process.pid.toString(36).slice(-3)}${++devices}`;
  const name = `tsrtest-${tag}`;
  const peer = `tsrtpeer-${tag}`;
  if (spawnSync('ip', ['link', 'add', name, 'type', 'dummy'], { stdio: 'ignore' }).status !== 0) {
    ip('link', 'add', name, 'type', 'veth', 'peer', 'name', peer);
  }
  t.teardown(() => {
    for (const device of [name, peer]) if (hostHas(device)) spawnSync('ip', ['link', 'del', device], { stdio: 'ignore' });
  });
  return name;
}

const sysfs = { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] };

/** busyboxConfig with /sys mounted (sysfs shows the network namespace of whoever mounts it) and these netDevices. */
function netConfig(args: string[], netDevices: JsonObject, extra: JsonObject = {}): JsonObject {
  const base = busyboxConfig(args);
  return {
    ...base,
    mounts: [...(base['mounts'] as JsonObject[]), sysfs],
    linux: { ...(base['linux'] as JsonObject), netDevices, ...extra },
  };
}

t.test('devices are moved in: renamed (or a template, or as they were named), up, with their permanent global addresses', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const renamed = makeDevice(t);
  const kept = makeDevice(t);
  const templated = makeDevice(t);
  ip('addr', 'add', '10.231.1.2/24', 'dev', renamed);
  ip('-6', 'addr', 'add', 'fd00:231::2/64', 'dev', renamed, 'nodad');
  // Neither is moved: the spec keeps permanent addresses of global scope only.
  ip('addr', 'add', '10.231.2.2/24', 'scope', 'link', 'dev', renamed);
  ip('addr', 'add', '10.231.3.2/24', 'valid_lft', '600', 'preferred_lft', '600', 'dev', renamed);
  ip('link', 'set', renamed, 'mtu', '1400');

  // The devices are there before the init writes its sysctls: one may name them.
  const sysctl = { 'net.ipv4.conf.eth9.forwarding': '1' };
  const bundle = sandbox.bundle(netConfig(['sleep', '600'], { [renamed]: { name: 'eth9' }, [kept]: {}, [templated]: { name: 'net%d' } }, { sysctl }));
  const created = await sandbox.create('moved', bundle);
  t.equal(created.status, 0, sandbox.output('moved'));
  t.notOk(hostHas(renamed), `the host no longer has ${renamed}`);
  t.notOk(hostHas(kept), `nor ${kept}`);
  t.notOk(hostHas(templated), `nor ${templated}`);

  const script = [
    'for d in eth9 net0; do echo $d.flags=$(cat /sys/class/net/$d/flags); echo $d.mtu=$(cat /sys/class/net/$d/mtu); done',
    `echo kept.flags=$(cat /sys/class/net/${kept}/flags)`,
    'ip -o addr show dev eth9 | while read n dev family addr rest; do echo eth9.addr=$family $addr; done',
    'echo devices=$(ls /sys/class/net | sort | tr "\\n" " ")',
    'echo eth9.forwarding=$(cat /proc/sys/net/ipv4/conf/eth9/forwarding)',
  ].join('\n');
  const inside = await sandbox.tsrunc(['exec', 'moved', 'sh', '-c', script]);
  t.equal(inside.status, 0, inside.stderr);
  const seen = fields(inside.stdout);
  t.equal(seen['devices'], ['eth9', 'lo', 'net0', kept].sort().join(' '), 'the container has lo and the three devices ("net%d" became net0)');
  for (const device of ['eth9', 'net0', 'kept']) {
    t.ok(Number(seen[`${device}.flags`]) & 1, `${device} is up (IFF_UP)`);
  }
  t.equal(seen['eth9.mtu'], '1400', 'its attributes (the MTU) are kept');
  t.equal(seen['eth9.forwarding'], '1', 'a sysctl of the moved device was written');
  const addresses = (seen['eth9.addr'] ?? '').split('\n');
  t.ok(addresses.includes('inet 10.231.1.2/24'), `the IPv4 address is kept: ${addresses.join(', ')}`);
  t.ok(addresses.includes('inet6 fd00:231::2/64'), 'the IPv6 address is kept');
  t.notOk(addresses.some((a) => a.startsWith('inet 10.231.2.')), 'a link-scope address is not');
  t.notOk(addresses.some((a) => a.startsWith('inet 10.231.3.')), 'an address with a lifetime (not permanent) is not');

  // The spec: the runtime does not move them out; the namespace dies with the container and the
  // kernel destroys virtual devices (physical ones would go back to the host's initial namespace).
  t.equal((await sandbox.tsrunc(['delete', '--force', 'moved'])).status, 0);
  t.ok(await waitFor(() => !hostHas(renamed) && !hostHas(kept) && !hostHas(templated), 10_000), 'after delete the virtual devices are gone, not back on the host');
  assertNothingLeft(t, sandbox);
});

t.test('refused before anything moves: one line with the JSON path, exit 1, nothing left, the device still on the host', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const device = makeDevice(t);
  ip('addr', 'add', '10.231.4.2/24', 'dev', device);
  const cases: [string, JsonObject, RegExp, JsonObject?][] = [
    ['a device the host does not have', { 'tsrtest-none': {} }, /^tsrunc: config\.json: \/linux\/netDevices\/tsrtest-none: the host has no network device "tsrtest-none"$/],
    ['an invalid host name', { 'bad:name': {} }, /^tsrunc: config\.json: \/linux\/netDevices\/bad:name: "bad:name" is not a valid network device name/],
    ['an invalid name in the container', { [device]: { name: 'eth 9' } }, new RegExp(`^tsrunc: config\\.json: /linux/netDevices/${device}/name: "eth 9" is not a valid network device name`)],
    ['a name too long', { [device]: { name: 'a-name-of-16-chr' } }, new RegExp(`/linux/netDevices/${device}/name: .*16 bytes long`)],
    ['the name of the loopback', { [device]: { name: 'lo' } }, new RegExp(`/linux/netDevices/${device}/name: the container's network namespace would already have a device "lo"`)],
    ['two devices under one name', { [device]: { name: 'eth9' }, 'tsrtest-other': { name: 'eth9' } }, /\/linux\/netDevices\/tsrtest-other\/name: .*would already have a device "eth9" \(\/linux\/netDevices\/tsrtest-/],
    ['no network namespace', { [device]: {} }, /^tsrunc: config\.json: \/linux\/netDevices: moving network devices needs a new network namespace/, { namespaces: [{ type: 'pid' }, { type: 'mount' }] }],
    ["the host's own network namespace, joined", { [device]: {} }, /^tsrunc: config\.json: \/linux\/netDevices: the container's network namespace is the host's own .*: there is nowhere to move the devices$/m,
      { namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'network', path: `/proc/${process.pid}/ns/net` }] }],
  ];
  for (const [name, netDevices, expected, linux] of cases) {
    await t.test(name, async (t) => {
      await expectCreateFailure(t, sandbox, netConfig(['true'], netDevices, linux), expected);
      t.ok(hostHas(device), `${device} is still on the host`);
      t.same(hostAddresses(device), ['inet 10.231.4.2/24'], 'with its address');
    });
  }
});

t.test("a joined network namespace (a pod's, as ip netns add makes it) gets the devices and keeps them after the container, as runc", async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const device = makeDevice(t);
  const second = makeDevice(t);
  ip('addr', 'add', '10.231.9.2/24', 'dev', device);
  const netns = `tsrtest-nd-${process.pid.toString(36)}`;
  ip('netns', 'add', netns);
  t.teardown(() => spawnSync('ip', ['netns', 'del', netns], { stdio: 'ignore' }));
  const joined = { namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'network', path: `/run/netns/${netns}` }] };
  const script = 'echo net=$(readlink /proc/self/ns/net); echo flags=$(cat /sys/class/net/eth9/flags); ip -o addr show dev eth9 | while read n dev family addr rest; do echo addr=$family $addr; done';
  const result = await sandbox.tsrunc(['run', '--bundle', sandbox.bundle(netConfig(['sh', '-c', script], { [device]: { name: 'eth9' } }, joined)), 'joined']);
  t.equal(result.status, 0, result.stderr);
  const seen = fields(result.stdout);
  t.equal(seen['net'], `net:[${fs.statSync(`/run/netns/${netns}`).ino}]`, 'the container ran in the joined namespace');
  t.ok(Number(seen['flags']) & 1, 'eth9 is up in it');
  t.equal(seen['addr'], 'inet 10.231.9.2/24', 'with its address');
  t.notOk(hostHas(device), 'the host no longer has it');
  const after = spawnSync('ip', ['-n', netns, '-o', 'addr', 'show', 'dev', 'eth9'], { encoding: 'utf8' });
  t.equal(after.status, 0, 'after the container, eth9 is still in the namespace, for its owner');
  t.match(after.stdout, /inet 10\.231\.9\.2\/24/);

  // A name the joined namespace already has: the kernel's EEXIST, the device left on the host.
  await expectCreateFailure(t, sandbox, netConfig(['true'], { [second]: { name: 'eth9' } }, joined),
    new RegExp(`^tsrunc: config\\.json: /linux/netDevices/${second}: the container's network namespace already has a device named eth9$`, 'm'));
  t.ok(hostHas(second), `${second} is still on the host`);
  assertNothingLeft(t, sandbox);
});

t.test('a create that fails after the move puts the device back as it was', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const device = makeDevice(t);
  ip('addr', 'add', '10.231.5.2/24', 'dev', device);
  ip('-6', 'addr', 'add', 'fd00:231:5::2/64', 'dev', device, 'nodad');
  ip('addr', 'add', '10.231.6.2/24', 'scope', 'link', 'dev', device);
  ip('link', 'set', device, 'up');
  const before = hostAddresses(device).filter((a) => !a.startsWith('inet6 fe80:')).sort();
  const config = netConfig(['true'], { [device]: { name: 'eth9' } });
  // The stage mounts this after the device was moved: its bad option fails the create.
  (config['mounts'] as JsonObject[]).push({ destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['size=abc'] });
  await expectCreateFailure(t, sandbox, config, /mount \d+ \(tmpfs tmpfs on \/tmp\): mount: EINVAL/);
  t.ok(hostHas(device), `${device} is back on the host under its own name`);
  t.same(hostAddresses(device).filter((a) => !a.startsWith('inet6 fe80:')).sort(), before, 'with its permanent addresses, of every scope');
  t.ok(hostFlags(device).includes('UP'), 'and up, as it was');
  t.notOk(hostHas('eth9'), 'no eth9 is left on the host');
});

t.test('a device the kernel will not move fails the create, and the devices moved before it go back', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const first = makeDevice(t);
  ip('addr', 'add', '10.231.8.2/24', 'dev', first);
  // A bridge's network namespace is immutable (NETIF_F_NETNS_LOCAL): the kernel refuses to move it.
  const bridge = `tsrtbr-${process.pid.toString(36).slice(-3)}`;
  ip('link', 'add', bridge, 'type', 'bridge');
  t.teardown(() => {
    if (hostHas(bridge)) spawnSync('ip', ['link', 'del', bridge], { stdio: 'ignore' });
  });
  await expectCreateFailure(t, sandbox, netConfig(['true'], { [first]: { name: 'eth9' }, [bridge]: { name: 'eth10' } }),
    new RegExp(`^tsrunc: config\\.json: /linux/netDevices/${bridge}: moving ${bridge} into the container's network namespace as eth10(?: \\(the kernel says: .*\\))?: netlink RTM_NEWLINK: EINVAL`));
  t.ok(hostHas(first), `${first}, moved before, is back on the host`);
  t.same(hostAddresses(first), ['inet 10.231.8.2/24'], 'with its address');
  t.ok(hostHas(bridge), 'the bridge never left');
});

t.test('in a user namespace too', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const device = makeDevice(t);
  ip('addr', 'add', '10.231.7.2/24', 'dev', device);
  const config = netConfig(['sh', '-c', 'echo flags=$(cat /sys/class/net/eth9/flags); ip -o addr show dev eth9 | while read n dev family addr rest; do echo addr=$family $addr; done'], { [device]: { name: 'eth9' } }, {
    namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'ipc' }, { type: 'uts' }, { type: 'network' }, { type: 'user' }],
    uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
    gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
  });
  const result = await sandbox.tsrunc(['run', '--bundle', sandbox.bundle(config), 'userns']);
  t.equal(result.status, 0, result.stderr);
  const seen = fields(result.stdout);
  t.ok(Number(seen['flags']) & 1, 'eth9 is up in the container');
  t.equal(seen['addr'], 'inet 10.231.7.2/24', 'with its address');
  t.ok(await waitFor(() => !hostHas(device), 10_000), 'and gone with the namespace once the container exited');
  assertNothingLeft(t, sandbox);
});
