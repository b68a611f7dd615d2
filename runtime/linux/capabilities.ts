/**
 * Capabilities: pure name → number planning, and the stage operations that set the five sets
 * before the exec.
 */
import fs from 'node:fs';
import { logWarning } from '../log.js';
import type { CapabilityPlan, CapabilitySetName } from '../plan/types.js';
import type { StageOp } from '../plan/ops.js';

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

export const capabilitySetNames: readonly CapabilitySetName[] = ['bounding', 'effective', 'inheritable', 'permitted', 'ambient'];
export type CapabilityConfig = Partial<Record<CapabilitySetName, readonly string[]>>;

/**
 * Capability names → numbers. An unknown name is left out with a warning naming its JSON path:
 * "Any value which cannot be mapped to a relevant kernel interface [...] MUST be logged as a
 * warning by the runtime. Runtimes SHOULD NOT fail" (runtime-spec config.md), as runc does.
 */
export function planCapabilities(config: CapabilityConfig, warn: (message: string) => void = logWarning): CapabilityPlan {
  const plan = {} as CapabilityPlan;
  for (const set of capabilitySetNames) {
    plan[set] = (config[set] ?? []).flatMap((name, index) => {
      const number = capabilityNumbers[name];
      if (number === undefined) {
        warn(`config.json: /process/capabilities/${set}/${index}: unknown capability "${name}", left out`);
        return [];
      }
      return [number];
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
const PR_CAP_AMBIENT = 47;
const PR_CAP_AMBIENT_RAISE = 2;
const PR_CAP_AMBIENT_CLEAR_ALL = 4;

/** The highest capability this kernel knows (the stage runs on the same kernel). */
export function lastCapability(): number {
  return Number(fs.readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8').trim());
}

/** Step one, while still root: drop what the bounding set does not keep, keep caps across the change of user. */
export function boundingSetOps(plan: CapabilityPlan, lastCap: number, step: string): StageOp[] {
  const keep = new Set(plan.bounding);
  const drop: number[] = [];
  for (let cap = 0; cap <= lastCap; cap++) if (!keep.has(cap)) drop.push(cap);
  return [
    { op: 'capbset-drop', label: `${step}: dropping capabilities from the bounding set`, capabilities: drop },
    { op: 'prctl', label: `${step}: keeping capabilities across the change of user`, option: PR_SET_KEEPCAPS, args: [1] },
  ];
}

/** capset's words for a set: capabilities this kernel does not know are left out. */
export function capabilityWords(numbers: readonly number[], lastCap: number): [number, number] {
  return toWords(numbers.filter((n) => n <= lastCap));
}

/** Step two, after the change of user: effective/permitted/inheritable, then ambient. */
export function capabilitySetOps(plan: CapabilityPlan, lastCap: number, step: string): StageOp[] {
  const ops: StageOp[] = [
    {
      op: 'capset', label: `${step}: setting capabilities`,
      effective: capabilityWords(plan.effective, lastCap),
      permitted: capabilityWords(plan.permitted, lastCap),
      inheritable: capabilityWords(plan.inheritable, lastCap),
    },
    { op: 'prctl', label: `${step}: clearing ambient capabilities`, option: PR_CAP_AMBIENT, args: [PR_CAP_AMBIENT_CLEAR_ALL] },
  ];
  // The kernel refuses an ambient capability that is not both permitted and inheritable;
  // runc warns and goes on, and so does tsrunc (leaving it out).
  const raisable = plan.ambient.filter((cap) => plan.permitted.includes(cap) && plan.inheritable.includes(cap) && cap <= lastCap);
  for (const cap of raisable) {
    ops.push({ op: 'prctl', label: `${step}: raising ambient ${capabilityName(cap)}`, option: PR_CAP_AMBIENT, args: [PR_CAP_AMBIENT_RAISE, cap] });
  }
  return ops;
}
