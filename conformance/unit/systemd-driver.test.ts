/**
 * The systemd cgroup driver's planners (pure): cgroupsPath → unit and cgroup, linux.resources
 * → unit properties, `org.systemd.property.*` annotations, the unit's D-Bus object path.
 * Values are the ones runc sends for the same config, so systemctl shows the same scope.
 */
import t from 'tap';
import { expandSlice, systemdUnitFor } from '../../runtime/linux/systemd/unit-name.js';
import {
  annotationProperties, deviceProperties, listToBitmask, parseVariantText, resourceProperties, scopeProperties, type DeviceLookup,
} from '../../runtime/linux/systemd/unit-properties.js';
import { DBUS_INFINITY, formatDbusValue, type UnitProperty } from '../../runtime/linux/systemd/dbus-value.js';
import { unitObjectPath } from '../../runtime/linux/systemd/systemd-manager.js';

const noDevices: DeviceLookup = { group: () => undefined, exists: () => true };

/** name=value as systemctl would print them. */
function shown(properties: readonly UnitProperty[]): Record<string, string> {
  return Object.fromEntries(properties.map((p) => [p.name, formatDbusValue(p.value)]));
}

t.test('slices expand as systemd nests them', async (t) => {
  t.equal(expandSlice('system.slice'), '/system.slice');
  t.equal(expandSlice('kubepods-besteffort-pod12.slice'), '/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod12.slice');
  t.equal(expandSlice('-.slice'), '/');
  t.equal(expandSlice('a--b.slice'), undefined, 'an empty part');
  t.equal(expandSlice('system.scope'), undefined, 'not a slice');
  t.equal(expandSlice('a/b.slice'), undefined, 'a slash');
});

t.test('cgroupsPath slice:prefix:name → scope and cgroup', async (t) => {
  t.same(systemdUnitFor('kubepods-besteffort.slice:cri-containerd:abc', 'ignored'), {
    slice: 'kubepods-besteffort.slice',
    unit: 'cri-containerd-abc.scope',
    cgroup: '/kubepods.slice/kubepods-besteffort.slice/cri-containerd-abc.scope',
  });
  t.same(systemdUnitFor(':tsrunc:x', 'ignored'), { slice: 'system.slice', unit: 'tsrunc-x.scope', cgroup: '/system.slice/tsrunc-x.scope' }, 'an empty slice is system.slice');
  t.same(systemdUnitFor(undefined, 'c1'), { slice: 'system.slice', unit: 'tsrunc-c1.scope', cgroup: '/system.slice/tsrunc-c1.scope' }, 'no cgroupsPath: the default name');
  t.same(systemdUnitFor('', 'c1').unit, 'tsrunc-c1.scope', 'an empty cgroupsPath too');
  t.same(systemdUnitFor('user.slice::bare', 'x').unit, 'bare.scope', 'an empty prefix');
});

t.test('cgroupsPaths the systemd driver refuses, each naming the JSON path', async (t) => {
  t.throws(() => systemdUnitFor('/abs/path', 'x'), /^config\.json: \/linux\/cgroupsPath: "\/abs\/path": the systemd cgroup driver expects "slice:prefix:name"/);
  t.throws(() => systemdUnitFor('a:b', 'x'), /expects "slice:prefix:name"/);
  t.throws(() => systemdUnitFor('a:b:c:d', 'x'), /expects "slice:prefix:name"/);
  t.throws(() => systemdUnitFor('system:p:n', 'x'), /"system" is not a slice name/);
  t.throws(() => systemdUnitFor('system.slice:p:', 'x'), /the name part is empty/);
  t.throws(() => systemdUnitFor('system.slice:p:sub.slice', 'x'), /"sub\.slice" is a slice; a container needs a scope/);
  t.throws(() => systemdUnitFor('system.slice:p:a b', 'x'), /"p-a b\.scope" is not a valid systemd unit name/);
});

t.test('the scope: its slice, first process, delegation and accounting', async (t) => {
  const props = shown(scopeProperties(systemdUnitFor('machine.slice:tsrunc:c', 'x'), 4242, 'c'));
  t.equal(props['Slice'], 'machine.slice');
  t.equal(props['PIDs'], '[4242]');
  t.equal(props['Delegate'], 'true');
  t.equal(props['DefaultDependencies'], 'false');
  for (const accounting of ['MemoryAccounting', 'CPUAccounting', 'IOAccounting', 'TasksAccounting']) t.equal(props[accounting], 'true', accounting);
});

t.test('linux.resources as unit properties, converted as runc converts them', async (t) => {
  const { properties, warnings } = resourceProperties({
    memory: { limit: 64 * 1024 * 1024, reservation: 32 * 1024 * 1024, swap: 128 * 1024 * 1024 },
    cpu: { shares: 1024, quota: 50_000, period: 100_000, cpus: '0-1,9', mems: '0' },
    pids: { limit: 100 },
    blockIO: { weight: 500 },
  }, undefined, noDevices);
  t.same(warnings, []);
  t.same(shown(properties), {
    MemoryMax: String(64 * 1024 * 1024),
    MemoryLow: String(32 * 1024 * 1024),
    MemorySwapMax: String(64 * 1024 * 1024), // v2's swap.max is swap beyond memory
    CPUWeight: '39', // 1 + (1024 - 2) * 9999 / 262142
    CPUQuotaPeriodUSec: '100000',
    CPUQuotaPerSecUSec: '500000',
    AllowedCPUs: '[0x03 0x02]',
    AllowedMemoryNodes: '[0x01]',
    TasksMax: '100',
    IOWeight: '4950', // 1 + (500 - 10) * 9999 / 990
  });
});

t.test('unlimited values are systemd\'s infinity; a quota rounds up to 10 ms', async (t) => {
  const { properties } = resourceProperties({ memory: { limit: -1 }, pids: { limit: -1 }, cpu: { quota: 12_345, period: 100_000 } }, undefined, noDevices);
  const byName = new Map(properties.map((p) => [p.name, p.value]));
  t.same(byName.get('MemoryMax'), { type: 't', value: DBUS_INFINITY });
  t.same(byName.get('TasksMax'), { type: 't', value: DBUS_INFINITY });
  t.same(byName.get('CPUQuotaPerSecUSec'), { type: 't', value: 130_000n }, '123450 µs/s becomes 130000');
  const none = resourceProperties({ cpu: { quota: -1, period: 50_000 } }, undefined, noDevices).properties;
  t.same(shown(none), { CPUQuotaPeriodUSec: '50000', CPUQuotaPerSecUSec: 'infinity' }, 'quota -1: no limit');
  const noSwap = resourceProperties({ memory: { limit: 1000, swap: 1000 } }, undefined, noDevices).properties;
  t.same(shown(noSwap), { MemoryMax: '1000', MemorySwapMax: '0' }, 'memory+swap equal to memory: no swap, said to systemd too');
  const swapUnset = resourceProperties({ memory: { limit: 1000 } }, undefined, noDevices).properties;
  t.same(shown(swapUnset), { MemoryMax: '1000' }, 'no swap field: systemd keeps its own');
});

t.test('unified keys systemd has properties for', async (t) => {
  const { properties } = resourceProperties({ unified: { 'memory.high': '1000000', 'pids.max': 'max', 'cpu.max': '20000 50000', 'io.bfq.weight': '10' } }, undefined, noDevices);
  t.same(shown(properties), { MemoryHigh: '1000000', TasksMax: 'infinity', CPUQuotaPeriodUSec: '50000', CPUQuotaPerSecUSec: '400000' }, 'io.bfq.weight has none: file only');
  t.throws(() => resourceProperties({ unified: { 'memory.max': 'lots' } }, undefined, noDevices), /^config\.json: \/linux\/resources\/unified\/memory\.max: "lots" is not a number or "max"/);
});

t.test('CPU lists become systemd bitmasks', async (t) => {
  t.same([...listToBitmask('0', 'w', 'CPU')], [1]);
  t.same([...listToBitmask('7-8', 'w', 'CPU')], [0x80, 0x01]);
  t.throws(() => listToBitmask('3-1', '/linux/resources/cpu/cpus', 'CPU'), /\/linux\/resources\/cpu\/cpus/);
});

t.test('device rules as DevicePolicy and DeviceAllow', async (t) => {
  const lookup: DeviceLookup = { group: (type, major) => (type === 'c' && major === 136 ? 'char-pts' : undefined), exists: (p) => p !== '/dev/char/99:99' };
  const warnings: string[] = [];
  const props = deviceProperties([
    { allow: false, type: 'a', major: -1, minor: -1, access: 'rwm' },
    { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
    { allow: true, type: 'c', major: 136, minor: -1, access: 'rwm' },
    { allow: true, type: 'c', major: 99, minor: 99, access: 'rwm' },
    { allow: true, type: 'c', major: 5, minor: 1, access: 'rw' },
    { allow: false, type: 'c', major: 5, minor: 1, access: 'rwm' },
  ], lookup, warnings);
  t.same(shown(props), { DevicePolicy: 'strict', DeviceAllow: '[/dev/char/1:3 rwm, char-pts rwm]' }, 'a device not on this host is left out; a later deny removes an allow');
  t.same(warnings, []);
  const open = shown(deviceProperties([{ allow: true, type: 'a', major: -1, minor: -1, access: 'rwm' }], lookup, []));
  t.same(open, { DevicePolicy: 'auto', DeviceAllow: '[]' }, 'allow all: policy auto');
  const unexpressible: string[] = [];
  deviceProperties([{ allow: false, type: 'a', major: -1, minor: -1, access: 'rwm' }, { allow: true, type: 'c', major: -1, minor: 5, access: 'r' }], lookup, unexpressible);
  t.match(unexpressible, [/c \*:5 has no DeviceAllow form/], 'what systemd cannot say is a warning (tsrunc\'s own filter still enforces it)');
});

t.test('org.systemd.property.* annotations', async (t) => {
  const props = annotationProperties({
    'org.systemd.property.CollectMode': "'inactive-or-failed'",
    'org.systemd.property.TimeoutStopSec': '10',
    'org.systemd.property.CPUQuotaPeriodUSec': 'uint64 20000',
    'org.systemd.property.IgnoreOnIsolate': 'true',
    'other.annotation': 'ignored',
  });
  t.same(props, [
    { name: 'CollectMode', value: { type: 's', value: 'inactive-or-failed' } },
    { name: 'TimeoutStopUSec', value: { type: 't', value: 10_000_000n } },
    { name: 'CPUQuotaPeriodUSec', value: { type: 't', value: 20_000n } },
    { name: 'IgnoreOnIsolate', value: { type: 'b', value: true } },
  ]);
  t.throws(() => annotationProperties({ 'org.systemd.property.Bad-Name': '1' }), /^config\.json: \/annotations\/org\.systemd\.property\.Bad-Name: "Bad-Name" is not a systemd property name/);
  t.throws(() => annotationProperties({ 'org.systemd.property.Foo': 'what?' }), /"what\?" is not a value tsrunc can send/);
  t.throws(() => annotationProperties({ 'org.systemd.property.TimeoutSec': "'soon'" }), /must be a number of seconds/);
});

t.test('GVariant text values', async (t) => {
  t.same(parseVariantText('42'), { type: 'i', value: 42 });
  t.same(parseVariantText('5000000000'), { type: 'x', value: 5_000_000_000n });
  t.same(parseVariantText('@u 7'), { type: 'u', value: 7 });
  t.same(parseVariantText("['a', 'b']"), { type: 'as', value: ['a', 'b'] });
  t.same(parseVariantText('1.5'), { type: 'd', value: 1.5 });
  t.equal(parseVariantText('uint64 -1'), undefined, 'a negative uint64');
  t.equal(parseVariantText('@u 4294967296'), undefined, 'too big for uint32');
});

t.test('unit object paths are bus-escaped', async (t) => {
  t.equal(unitObjectPath('tsrunc-c1.scope'), '/org/freedesktop/systemd1/unit/tsrunc_2dc1_2escope');
});
