/** Device cgroup rules: config order, runc's default allow list, and the v1 writes. */
import t from 'tap';
import type { OciConfig } from '../../runtime/spec/config.js';
import { DEFAULT_DEVICE_RULES, deviceRules, planDevicesV1, ruleLine, type DeviceRule } from '../../runtime/linux/cgroups/devices-v1.js';
import { compileDeviceFilter, describeDeviceState, emulateDeviceRules } from '../../runtime/linux/cgroups/ebpf.js';

const config = (linux: OciConfig['linux']): OciConfig => ({ ociVersion: '1.2.0', linux });

/** runc 1.1.5's devices.list for a container with no rules of its own (checked on this machine). */
const RUNC_DEFAULTS = [
  'c *:* m', 'b *:* m', 'c 1:3 rwm', 'c 1:8 rwm', 'c 1:7 rwm', 'c 5:0 rwm', 'c 1:5 rwm', 'c 1:9 rwm',
  'c 136:* rwm', 'c 5:2 rwm', 'c 10:200 rwm',
];

t.test('the default rules are runc\'s allow list', async (t) => {
  t.same(DEFAULT_DEVICE_RULES.map(ruleLine), RUNC_DEFAULTS);
  t.ok(DEFAULT_DEVICE_RULES.every((r) => r.allow));
  t.notOk(DEFAULT_DEVICE_RULES.map(ruleLine).includes('c 5:1 rwm'), 'not /dev/console: a terminal gets a pts (136:*) instead');
});

t.test('no rules in the config: deny all, then the defaults', async (t) => {
  const writes = planDevicesV1(deviceRules(config({})));
  t.same(writes[0], { controller: 'devices', file: 'devices.deny', value: 'a' });
  t.same(writes.slice(1).map((w) => `${w.file} ${w.value}`), RUNC_DEFAULTS.map((l) => `devices.allow ${l}`));
});

t.test('config rules first, in order, then the defaults', async (t) => {
  const rules = deviceRules(config({
    resources: {
      devices: [
        { allow: false, access: 'rwm' },
        { allow: true, type: 'c', major: 10, minor: 229, access: 'rwm' },
        { allow: true, type: 'b', major: 8, minor: 20, access: 'rw' },
        { allow: false, type: 'c', major: 1, minor: -1, access: 'w' },
      ],
    },
  }));
  t.same(rules.slice(0, 4).map((r) => `${r.allow ? 'allow' : 'deny'} ${ruleLine(r)}`), [
    'deny a *:* rwm',
    'allow c 10:229 rwm',
    'allow b 8:20 rw',
    'deny c 1:* w',
  ], 'type a and wildcards when left out; -1 is a wildcard');
  t.same(rules.slice(4).map(ruleLine), RUNC_DEFAULTS, 'the defaults come after, so the config cannot take them away (runc)');
  const files = planDevicesV1(rules).map((w) => w.file);
  t.same(files.slice(0, 5), ['devices.deny', 'devices.deny', 'devices.allow', 'devices.allow', 'devices.deny']);
});

t.test('a default whose path linux.devices redefines is dropped', async (t) => {
  const rules = deviceRules(config({ devices: [{ path: '/dev/null', type: 'c', major: 1, minor: 3 }, { path: '/dev/fuse', type: 'c', major: 10, minor: 229 }] }));
  const lines = rules.map(ruleLine);
  t.notOk(lines.includes('c 1:3 rwm'), '/dev/null comes from the config, not the defaults');
  t.notOk(lines.includes('c 10:229 rwm'), 'linux.devices get no rule of their own (runc neither)');
  t.equal(lines.length, RUNC_DEFAULTS.length - 1);
});

t.test('malformed rules', async (t) => {
  const warnings: string[] = [];
  const warn = (message: string) => warnings.push(message);
  const first = (devices: NonNullable<NonNullable<OciConfig['linux']>['resources']>['devices']) => deviceRules(config({ resources: { devices } }), warn)[0];
  t.equal(first([{ allow: true, type: 'c', major: 1, minor: 11, access: 'rwa' }])?.access, 'rw', 'runc drops letters other than r, w, m');
  t.match(warnings.pop(), /devices\/0\/access: "rwa": ignoring all but r, w and m/);
  t.equal(first([{ allow: true, type: 'c', major: 1, minor: 11, access: 'x' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'r' }])?.access, 'r', 'a rule left with no access is skipped');
  t.match(warnings, [/devices\/0\/access: "x": ignoring/, /devices\/0\/access: "x" grants or denies nothing/]);
  t.same(first([{ allow: false }]), { allow: false, type: 'a', major: -1, minor: -1, access: '' }, 'type a resets the default whatever its access');
  t.throws(() => deviceRules(config({ resources: { devices: [{ allow: true, access: 'r', major: -2 }] } })), /major: -2 is not a device number/);
});

t.test('v2: the rules replayed on a model of the v1 controller', async (t) => {
  const state = (rules: Parameters<typeof emulateDeviceRules>[0]) => describeDeviceState(emulateDeviceRules(rules));
  const r = (allow: boolean, line: string): DeviceRule => {
    const [type, numbers, access] = line.split(' ') as ['a' | 'c' | 'b', string, string];
    const [major, minor] = numbers.split(':').map((n) => (n === '*' ? -1 : Number(n))) as [number, number];
    return { allow, type, major, minor, access };
  };
  t.same(state(deviceRules(config({}))), ['default deny', ...RUNC_DEFAULTS], 'the defaults: deny all but the list');
  t.same(state([r(true, 'a *:* rwm')]), ['default allow'], 'allow all');
  t.same(state([r(true, 'a *:* rwm'), r(false, 'c 1:3 w')]), ['default allow', 'c 1:3 w'], 'blacklist: a deny adds an exception');
  t.same(state([r(true, 'c 1:3 r'), r(true, 'c 1:3 w')]), ['default deny', 'c 1:3 rw'], 'the same device: access merged');
  t.same(state([r(true, 'c 1:3 rw'), r(false, 'c 1:3 w')]), ['default deny', 'c 1:3 r'], 'a deny takes bits away');
  t.same(state([r(true, 'c 1:3 rw'), r(false, 'c 1:3 rw')]), ['default deny'], 'and drops an emptied exception');
  t.same(state([r(true, 'c 1:3 rw'), r(false, 'a *:* rwm'), r(true, 'b 8:0 r')]), ['default deny', 'b 8:0 r'], 'type a resets');
});

t.test('v2: the compiled eBPF program', async (t) => {
  const program = compileDeviceFilter({ defaultAllow: false, exceptions: [{ type: 'c', major: 1, minor: 3, access: 6 }] });
  t.equal(program.length % 8, 0, 'whole bpf_insn records');
  const codes = [...Array(program.length / 8).keys()].map((i) => program.readUInt8(i * 8));
  t.same(codes, [
    0x61, 0x54, 0x61, 0x74, 0x61, 0x61, // load type, access, major, minor
    0x55, // type != char: next block
    0xbc, 0x54, 0x55, // requested access not within rw: next block
    0x55, 0x55, // major, minor
    0xb4, 0x95, // allow
    0xb4, 0x95, // default: deny
  ]);
  t.equal(program.readInt16LE(6 * 8 + 2), 7, 'the type test jumps past its block (7 instructions)');
  t.equal(program.readInt32LE(14 * 8 + 4), 0, 'the default verdict is deny');
  t.equal(program.readInt32LE(12 * 8 + 4), 1, 'the exception allows');
  const wildcard = compileDeviceFilter({ defaultAllow: false, exceptions: [{ type: 'c', major: 136, minor: -1, access: 7 }] });
  t.equal(wildcard.length / 8, 6 + 4 + 2, 'rwm and a wildcard minor need neither an access nor a minor test');
});
