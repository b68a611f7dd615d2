/**
 * Capabilities: pure name → number planning, and applying the five sets on the thread that
 * will call execve (capabilities are per thread).
 */
import fs from 'node:fs';
import { TsruncError } from '../errors.js';
import * as libc from './libc.js';

const capabilityNumbers: Record<string, number> = {
  CAP_CHOWN: 0, CAP_DAC_OVERRIDE: 1, CAP_DAC_READ_SEARCH: 2, CAP_FOWNER: 3, CAP_FSETID: 4,
  CAP_KILL: 5, CAP_SETGID: 6, CAP_SETUID: 7, CAP_SETPCAP: 8, CAP_LINUX_IMMUTABLE: 9,
  CAP_NET_BIND_SERVICE: 10, CAP_NET_BROADCAST: 11, CAP_NET_ADMIN: 12, CAP_NET_RAW: 13,
  CAP_IPC_LOCK: 14, CAP_IPC_OWNER: 15, CAP_SYS_MODULE: 16, CAP_SYS_RAWIO: 17,
  CAP_SYS_CHROOT: 18, CAP_SYS_PTRACE: 19, CAP_SYS_PACCT: 20, CAP_SYS_ADMIN: 21,
  CAP_SYS_BOOT: 22, CAP_SYS_NICE: 23, CAP_SYS_RESOURCE: 24, CAP_SYS_TIME: 25,
  CAP_SYS_TTY_CONFIG: 26, CAP_MKNOD: 27, CAP_LEASE: 28, CAP_AUDIT_WRITE: 29,
  CAP_AUDIT_CONTROL: 30, CAP_SETFCAP: 31, CAP_MAC_OVERRIDE: 32, CAP_MAC_ADMIN: 33,
  CAP_SYSLOG: 34, CAP_WAKE_ALARM: 35, CAP_BLOCK_SUSPEND: 36, CAP_AUDIT_READ: 37,
  CAP_PERFMON: 38, CAP_BPF: 39, CAP_CHECKPOINT_RESTORE: 40,
};

/** Every capability name planCapabilities accepts (`tsrunc features`). */
export const capabilityNames: readonly string[] = Object.keys(capabilityNumbers);

export const capabilitySetNames = ['bounding', 'effective', 'inheritable', 'permitted', 'ambient'] as const;
export type CapabilitySetName = (typeof capabilitySetNames)[number];
export type CapabilityPlan = Record<CapabilitySetName, number[]>;
export type CapabilityConfig = Partial<Record<CapabilitySetName, readonly string[]>>;

/** Pure: capability names → numbers; an unknown name is an error naming its JSON path. */
export function planCapabilities(config: CapabilityConfig): CapabilityPlan {
  const plan = {} as CapabilityPlan;
  for (const set of capabilitySetNames) {
    plan[set] = (config[set] ?? []).map((name, index) => {
      const number = capabilityNumbers[name];
      if (number === undefined) {
        throw new TsruncError(`config.json: /process/capabilities/${set}/${index}: unknown capability "${name}"`);
      }
      return number;
    });
  }
  return plan;
}

export function capabilityName(number: number): string {
  return Object.keys(capabilityNumbers).find((name) => capabilityNumbers[name] === number) ?? `${number}`;
}

function toWords(numbers: readonly number[]): [number, number] {
  const words: [number, number] = [0, 0];
  for (const n of numbers) words[n >> 5] = (words[n >> 5]! | (1 << (n & 31))) >>> 0;
  return words;
}

const PR_SET_KEEPCAPS = 8;
const PR_CAPBSET_DROP = 24;
const PR_CAP_AMBIENT = 47;
const PR_CAP_AMBIENT_RAISE = 2;
const PR_CAP_AMBIENT_CLEAR_ALL = 4;

export function lastCapability(): number {
  return Number(fs.readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8').trim());
}

/** Step one, while still root: drop what the bounding set does not keep, keep caps across setuid. */
export function dropBoundingSet(plan: CapabilityPlan, lastCap: number): void {
  const keep = new Set(plan.bounding);
  for (let cap = 0; cap <= lastCap; cap++) {
    if (!keep.has(cap)) libc.prctl(PR_CAPBSET_DROP, cap, 0, `dropping ${capabilityName(cap)} from the bounding set`);
  }
  libc.prctl(PR_SET_KEEPCAPS, 1, 0, 'keeping capabilities across the change of user');
}

/** Step two, after the change of user: set effective/permitted/inheritable, then ambient. */
export function applyCapabilitySets(plan: CapabilityPlan, lastCap: number): void {
  const supported = (numbers: number[]) => numbers.filter((n) => n <= lastCap);
  libc.capset(
    {
      effective: toWords(supported(plan.effective)),
      permitted: toWords(supported(plan.permitted)),
      inheritable: toWords(supported(plan.inheritable)),
    },
    'setting capabilities',
  );
  libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 'clearing ambient capabilities');
  // The kernel refuses an ambient capability that is not both permitted and inheritable;
  // runc warns and goes on, and so do we (silently: the init has no log of its own yet).
  const raisable = plan.ambient.filter((cap) => plan.permitted.includes(cap) && plan.inheritable.includes(cap));
  for (const cap of supported(raisable)) {
    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, `raising ambient ${capabilityName(cap)}`);
  }
}
