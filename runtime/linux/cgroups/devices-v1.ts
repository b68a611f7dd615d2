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
import { logWarning } from '../../log.js';
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

/**
 * Pure but for `warn`: the container's rules in the order they apply (config rules, then the
 * defaults). The spec gives access no pattern, and runc (v1 and eBPF alike, through its device
 * emulator) keeps r, w and m and drops any other letter ("rwa" is "rw"): so do we, saying so.
 */
export function deviceRules(config: OciConfig, warn: (message: string) => void = logWarning): DeviceRule[] {
  const linux = config.linux ?? {};
  const rules: DeviceRule[] = [];
  for (const [index, d] of (linux.resources?.devices ?? []).entries()) {
    const where = `config.json: /linux/resources/devices/${index}`;
    const given = d.access ?? '';
    const access = [...'rwm'].filter((letter) => given.includes(letter)).join('');
    const type = d.type ?? 'a';
    if (/[^rwm]/.test(given)) warn(`${where}/access: "${given}": ignoring all but r, w and m, as runc does`);
    const number = (value: number | undefined, field: string): number => {
      if (value === undefined || value === WILDCARD) return WILDCARD;
      if (value < 0) throw new TsruncError(`${where}/${field}: ${value} is not a device number (-1 or absent means any)`);
      return value;
    };
    const rule: DeviceRule = { allow: d.allow, type, major: number(d.major, 'major'), minor: number(d.minor, 'minor'), access };
    // Type "a" resets the default whatever its access; any other rule without access changes nothing.
    if (access === '' && type !== 'a') {
      warn(`${where}/access: "${given}" grants or denies nothing: rule skipped`);
      continue;
    }
    rules.push(rule);
  }
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
