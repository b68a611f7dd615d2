/** Resource limits: pure name → resource planning, applied by the init before it drops privileges. */
import { TsruncError } from '../errors.js';
import * as libc from './libc.js';

const rlimitResources: Record<string, number> = {
  RLIMIT_CPU: 0, RLIMIT_FSIZE: 1, RLIMIT_DATA: 2, RLIMIT_STACK: 3, RLIMIT_CORE: 4,
  RLIMIT_RSS: 5, RLIMIT_NPROC: 6, RLIMIT_NOFILE: 7, RLIMIT_MEMLOCK: 8, RLIMIT_AS: 9,
  RLIMIT_LOCKS: 10, RLIMIT_SIGPENDING: 11, RLIMIT_MSGQUEUE: 12, RLIMIT_NICE: 13,
  RLIMIT_RTPRIO: 14, RLIMIT_RTTIME: 15,
};

/** Decimal strings, because soft/hard are uint64 and JSON numbers lose precision past 2^53. */
export interface RlimitPlan {
  type: string;
  resource: number;
  soft: string;
  hard: string;
}

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

/**
 * Limits on address space and data size would starve the init itself (V8 reserves far more
 * than a typical limit), so those wait until just before execve; the rest go first, while the
 * init still has CAP_SYS_RESOURCE to raise hard limits.
 */
const MEMORY_LIMITS = new Set(['RLIMIT_AS', 'RLIMIT_DATA']);

export function applyRlimits(rlimits: readonly RlimitPlan[], phase: 'early' | 'before-exec'): void {
  for (const rlimit of rlimits) {
    if (MEMORY_LIMITS.has(rlimit.type) !== (phase === 'before-exec')) continue;
    libc.setrlimit(rlimit.resource, BigInt(rlimit.soft), BigInt(rlimit.hard), `setting ${rlimit.type}`);
  }
}
