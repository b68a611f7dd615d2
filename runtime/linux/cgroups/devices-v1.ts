/**
 * The device cgroup rules of a container, and their v1 form (devices.deny / devices.allow).
 *
 * Rules = linux.resources.devices in config order, then the default allow list. The defaults
 * are runc's (libcontainer/specconv AllowedDevices), appended after the config's rules as runc
 * does, so the config cannot take them away:
 *   c *:* m, b *:* m          mknod of any device (what may be opened is decided separately)
 *   c 1:3 /dev/null, 1:8 random, 1:7 full, 5:0 tty, 1:5 zero, 1:9 urandom   rwm
 *   c 136:* rwm               /dev/pts/* (the console of a terminal container is one of them)
 *   c 5:2 rwm                 /dev/ptmx
 *   c 10:200 rwm              /dev/net/tun
 * These cover the runtime-spec's "Default Devices" (null, zero, full, random, urandom, tty,
 * console, ptmx). /dev/console itself (c 5:1) is NOT allowed: tsrunc, like runc, gives a
 * terminal container its console as a bind of a pts device (136:*), never the host's 5:1.
 * A default for a path that linux.devices redefines is dropped, as runc does; linux.devices
 * themselves get no rule (runc neither): allowing them is the config's job.
 *
 * Like runc, the list starts from "deny everything" even when the config has no rule at all.
 */
import { TsruncError } from '../../errors.js';
import type { OciConfig } from '../../spec/config.js';
import type { CgroupWrite } from './files.js';

/** -1 is the wildcard "*" for major and minor. */
export interface DeviceRule {
  allow: boolean;
  type: 'a' | 'c' | 'b';
  major: number;
  minor: number;
  access: string;
}

const WILDCARD = -1;

interface DefaultDevice {
  path?: string;
  rule: DeviceRule;
}

const rwm = (major: number, minor: number): DeviceRule => ({ allow: true, type: 'c', major, minor, access: 'rwm' });

const DEFAULT_DEVICES: readonly DefaultDevice[] = [
  { rule: { allow: true, type: 'c', major: WILDCARD, minor: WILDCARD, access: 'm' } },
  { rule: { allow: true, type: 'b', major: WILDCARD, minor: WILDCARD, access: 'm' } },
  { path: '/dev/null', rule: rwm(1, 3) },
  { path: '/dev/random', rule: rwm(1, 8) },
  { path: '/dev/full', rule: rwm(1, 7) },
  { path: '/dev/tty', rule: rwm(5, 0) },
  { path: '/dev/zero', rule: rwm(1, 5) },
  { path: '/dev/urandom', rule: rwm(1, 9) },
  { rule: rwm(136, WILDCARD) },
  { rule: rwm(5, 2) },
  { rule: rwm(10, 200) },
];

/** The default allow rules (when linux.devices redefines none of their paths). */
export const DEFAULT_DEVICE_RULES: readonly DeviceRule[] = DEFAULT_DEVICES.map((d) => d.rule);

/** Pure: the container's rules in the order they apply (config rules, then the defaults). */
export function deviceRules(config: OciConfig): DeviceRule[] {
  const linux = config.linux ?? {};
  const rules: DeviceRule[] = (linux.resources?.devices ?? []).map((d, index) => {
    const where = `config.json: /linux/resources/devices/${index}`;
    const access = d.access ?? '';
    if (access === '' || !/^[rwm]+$/.test(access)) {
      throw new TsruncError(`${where}/access: "${access}" must be one or more of r, w, m`);
    }
    const number = (value: number | undefined, field: string): number => {
      if (value === undefined || value === WILDCARD) return WILDCARD;
      if (value < 0) throw new TsruncError(`${where}/${field}: ${value} is not a device number (-1 or absent means any)`);
      return value;
    };
    return { allow: d.allow, type: d.type ?? 'a', major: number(d.major, 'major'), minor: number(d.minor, 'minor'), access };
  });
  const redefined = new Set((linux.devices ?? []).map((d) => d.path));
  for (const device of DEFAULT_DEVICES) {
    if (device.path === undefined || !redefined.has(device.path)) rules.push({ ...device.rule });
  }
  return rules;
}

/** "c 1:3 rwm", the form devices.allow, devices.deny and devices.list use. */
export function ruleLine(rule: DeviceRule): string {
  const number = (n: number) => (n === WILDCARD ? '*' : String(n));
  return `${rule.type} ${number(rule.major)}:${number(rule.minor)} ${rule.access}`;
}

/** Pure: the v1 writes that leave the devices cgroup with exactly `rules` on top of "deny all". */
export function planDevicesV1(rules: readonly DeviceRule[]): CgroupWrite[] {
  return [
    { controller: 'devices', file: 'devices.deny', value: 'a' },
    ...rules.map((rule) => ({ controller: 'devices', file: rule.allow ? 'devices.allow' : 'devices.deny', value: ruleLine(rule) })),
  ];
}
