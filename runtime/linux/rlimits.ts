/** Resource limits: pure name → resource planning, and the stage's setrlimit operations. */
import { TsruncError } from '../errors.js';
import type { StageOp } from '../plan/ops.js';
import type { RlimitPlan } from '../plan/types.js';

const rlimitResources: Record<string, number> = {
  RLIMIT_CPU: 0, RLIMIT_FSIZE: 1, RLIMIT_DATA: 2, RLIMIT_STACK: 3, RLIMIT_CORE: 4,
  RLIMIT_RSS: 5, RLIMIT_NPROC: 6, RLIMIT_NOFILE: 7, RLIMIT_MEMLOCK: 8, RLIMIT_AS: 9,
  RLIMIT_LOCKS: 10, RLIMIT_SIGPENDING: 11, RLIMIT_MSGQUEUE: 12, RLIMIT_NICE: 13,
  RLIMIT_RTPRIO: 14, RLIMIT_RTTIME: 15,
};

export interface RlimitConfig {
  type: string;
  soft: number;
  hard: number;
}

const U64_MAX = (1n << 64n) - 1n;
/** JSON.parse rounds 2^64-1 (RLIM_INFINITY) up to 2^64; clamp it back. */
function toUint64(value: number): string {
  const exact = BigInt(Math.trunc(value));
  return (exact > U64_MAX ? U64_MAX : exact).toString();
}

export function planRlimits(rlimits: readonly RlimitConfig[] = []): RlimitPlan[] {
  const seen = new Set<string>();
  return rlimits.map((rlimit, index) => {
    const resource = rlimitResources[rlimit.type];
    if (resource === undefined) {
      throw new TsruncError(`config.json: /process/rlimits/${index}/type: unknown rlimit "${rlimit.type}"`);
    }
    if (seen.has(rlimit.type)) {
      throw new TsruncError(`config.json: /process/rlimits/${index}/type: rlimit "${rlimit.type}" is listed more than once`);
    }
    seen.add(rlimit.type);
    if (rlimit.soft > rlimit.hard) {
      throw new TsruncError(`config.json: /process/rlimits/${index}: soft limit ${rlimit.soft} is above hard limit ${rlimit.hard}`);
    }
    return { type: rlimit.type, resource, soft: toUint64(rlimit.soft), hard: toUint64(rlimit.hard) };
  });
}

/** setrlimit for each, while the init still has CAP_SYS_RESOURCE to raise hard limits. */
export function rlimitOps(rlimits: readonly RlimitPlan[], step: string): StageOp[] {
  return rlimits.map((rlimit) => ({
    op: 'setrlimit', label: `${step}: setting ${rlimit.type}`, resource: rlimit.resource, soft: rlimit.soft, hard: rlimit.hard,
  }));
}
