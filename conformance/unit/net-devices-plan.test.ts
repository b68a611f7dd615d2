/**
 * linux.netDevices, planned without a host: which names the kernel would take, which configs are
 * refused and with what JSON path, what the plan and `explain` say; and the rtnetlink encoding
 * the move uses. No device is touched.
 */
import t from 'tap';
import { invalidNetDeviceName, planNetDevices, type NetDeviceHost } from '../../runtime/linux/net-devices.js';
import { AF_INET, AF_INET6, IFA_ADDRESS, IFA_LOCAL, formatAddress, ifinfomsg, parseAttributes, rtattr } from '../../runtime/linux/rtnetlink.js';
import { planNamespaces } from '../../runtime/linux/namespaces.js';
import { planContainer, type CreateFlags } from '../../runtime/container/plan-init.js';
import { explainText } from '../../runtime/container/explain-text.js';
import type { OciConfig } from '../../runtime/spec/config.js';

const onHost = new Set(['eth1', 'eth2', 'ens3', 'we~ird']);
const host: NetDeviceHost = { runtimeIsRoot: true, netDeviceExists: (name) => onHost.has(name) };
const newNet = planNamespaces([{ type: 'pid' }, { type: 'network' }]);

t.test('device names: the kernel rules (dev_valid_name), and one "%d" for the name in the container', async (t) => {
  for (const name of ['eth0', 'a', 'fifteen-bytes-x', 'en.p0s3', 'vlan@1']) t.equal(invalidNetDeviceName(name, false), undefined, `${name} is valid`);
  t.equal(invalidNetDeviceName('eth%d', true), undefined, 'a template, for the container');
  t.match(invalidNetDeviceName('', false), /empty/);
  t.match(invalidNetDeviceName('sixteen-bytes-xx', false), /16 bytes long, longer than the kernel's 15/);
  t.match(invalidNetDeviceName('ééééééé€', false), /17 bytes/, 'bytes, not characters');
  for (const name of ['.', '..']) t.match(invalidNetDeviceName(name, false), /not allowed/);
  for (const name of ['a/b', 'a:b', 'a b', 'a\tb', 'a\nb']) t.match(invalidNetDeviceName(name, false), /"\/", ":", white space/, JSON.stringify(name));
  t.match(invalidNetDeviceName('eth%d', false), /holds "%"/, 'no template for the host device');
  t.match(invalidNetDeviceName('e%d%d', true), /"%d" once/);
  t.match(invalidNetDeviceName('eth%s', true), /"%d" once/);
});

t.test('planNetDevices: the devices in config order, renamed or not', async (t) => {
  t.same(planNetDevices(undefined, newNet, host), [], 'none');
  t.same(planNetDevices({}, planNamespaces([]), { runtimeIsRoot: false, netDeviceExists: () => false }), [], 'an empty map asks for nothing');
  t.same(planNetDevices({ eth2: { name: 'eth9' }, eth1: {}, ens3: { name: 'net%d' } }, newNet, host), [
    { hostName: 'eth2', name: 'eth9', path: '/linux/netDevices/eth2' },
    { hostName: 'eth1', name: 'eth1', path: '/linux/netDevices/eth1' },
    { hostName: 'ens3', name: 'net%d', path: '/linux/netDevices/ens3' },
  ]);
  t.same(planNetDevices({ eth1: { name: '' } }, newNet, host)[0]?.name, 'eth1', 'an empty name is the host name');
  t.same(planNetDevices({ eth1: { name: 'eth%d' }, eth2: { name: 'eth%d' } }, newNet, host).map((d) => d.name), ['eth%d', 'eth%d'], 'templates never clash');
  t.same(planNetDevices({ eth1: { name: 'eth2' }, eth2: { name: 'eth1' } }, newNet, host).map((d) => d.name), ['eth2', 'eth1'], 'swapped names are fine: they are taken in another namespace');
  t.equal(planNetDevices({ 'we~ird': {} }, newNet, host)[0]?.path, '/linux/netDevices/we~0ird', 'the JSON path escapes "~" (RFC 6901)');
  t.same(planNetDevices({ eth1: { name: 'net1' } }, planNamespaces([{ type: 'network', path: '/run/netns/x' }]), host).map((d) => d.name), ['net1'],
    "a joined namespace (a pod's) too, as runc");
});

t.test('planNetDevices: refusals name their JSON path', async (t) => {
  const refuse = (netDevices: Record<string, { name?: string }>, message: RegExp, namespaces = newNet, on: NetDeviceHost = host) =>
    t.throws(() => planNetDevices(netDevices, namespaces, on), { message }, message.source);
  refuse({ eth1: {} }, /^config\.json: \/linux\/netDevices: moving network devices needs a new network namespace in \/linux\/namespaces/, planNamespaces([{ type: 'pid' }]));
  refuse({ eth1: {} }, /^config\.json: \/linux\/netDevices: moving network devices needs root/, newNet, { ...host, runtimeIsRoot: false });
  refuse({ eth9: {} }, /^config\.json: \/linux\/netDevices\/eth9: the host has no network device "eth9"$/);
  refuse({ 'a/b': {} }, /^config\.json: \/linux\/netDevices\/a~1b: "a\/b" is not a valid network device name/);
  refuse({ eth1: { name: 'x:y' } }, /^config\.json: \/linux\/netDevices\/eth1\/name: "x:y" is not a valid network device name/);
  refuse({ eth1: { name: 'lo' } }, /^config\.json: \/linux\/netDevices\/eth1\/name: the container's network namespace would already have a device "lo" \(the namespace's loopback\)/);
  refuse({ eth1: { name: 'eth2' }, eth2: {} }, /^config\.json: \/linux\/netDevices\/eth2: the container's network namespace would already have a device "eth2" \(\/linux\/netDevices\/eth1\)/);
  // Names are checked before the host is asked: a bad name is the error even for a missing device.
  refuse({ nosuch: { name: 'a b' } }, /\/linux\/netDevices\/nosuch\/name: "a b"/);
});

t.test('planContainer carries them, and explain lists them', async (t) => {
  const config: OciConfig = {
    ociVersion: '1.2.0',
    process: { args: ['sh'], cwd: '/', user: { uid: 0, gid: 0 } },
    root: { path: 'rootfs' },
    linux: { namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'network' }], netDevices: { eth1: { name: 'eth9' } } },
  };
  const flags: CreateFlags = {
    id: 'c1', bundle: '/bundles/one', stateDir: '/run/tsrunc/c1', noPivot: false,
    host: { runtimeIsRoot: true, sourceKind: () => 'directory', hasSubmounts: () => false, netDeviceExists: (name) => name === 'eth1' },
  };
  const plan = planContainer(config, flags);
  t.same(plan.netDevices, [{ hostName: 'eth1', name: 'eth9', path: '/linux/netDevices/eth1' }]);
  const text = explainText({ plan, config, bundle: '/bundles/one', id: 'c1', cgroup: { paths: {}, onlyIfDelegated: false, writes: [], afterReady: [] } });
  t.match(text, /network devices moved in from the host \(host name -> name in the container\):\n {2}eth1 -> eth9\n/);
  t.same(planContainer({ ...config, linux: { namespaces: [{ type: 'pid' }] } }, flags).netDevices, [], 'none asked, none planned');
});

t.test('rtnetlink encoding: attributes padded to 4 bytes, ifinfomsg, addresses as text', async (t) => {
  const name = rtattr(3, Buffer.from('eth9\0'));
  t.equal(name.length, 12, '4 header bytes + 5, padded to 12');
  t.equal(name.readUInt16LE(0), 9, 'rta_len counts the value, not the padding');
  t.equal(name.readUInt16LE(2), 3);
  const info = ifinfomsg(7, 1, 1);
  t.same([info.length, info.readInt32LE(4), info.readUInt32LE(8), info.readUInt32LE(12)], [16, 7, 1, 1]);
  const parsed = parseAttributes(Buffer.concat([Buffer.alloc(4), name, rtattr(28 | 0x8000, Buffer.from([5, 0, 0, 0]))]), 4);
  t.equal(parsed.get(3)?.toString(), 'eth9\0');
  t.equal(parsed.get(28)?.readUInt32LE(0), 5, 'the nested flag is masked off');
  t.equal(formatAddress({ family: AF_INET, prefixLength: 24, flags: 0, scope: 0, attributes: new Map([[IFA_LOCAL, Buffer.from([10, 1, 2, 3])]]) }), '10.1.2.3/24');
  const v6 = Buffer.alloc(16);
  v6.writeUInt16BE(0xfd00, 0);
  v6.writeUInt16BE(2, 14);
  t.equal(formatAddress({ family: AF_INET6, prefixLength: 64, flags: 0, scope: 0, attributes: new Map([[IFA_ADDRESS, v6]]) }), 'fd00:0:0:0:0:0:0:2/64');
});
