/**
 * Pure: linux.memoryPolicy (runtime-spec 1.3) → the mode and nodes set_mempolicy(2) takes. The
 * stage sets it before the exec; the process and its children keep it.
 */
import { TsruncError } from '../errors.js';
import type { StageOp } from '../plan/ops.js';
import type { OciConfig } from '../spec/config.js';
import { parseListFormat } from './sched.js';

const MODES: Record<string, number> = {
  MPOL_DEFAULT: 0, MPOL_PREFERRED: 1, MPOL_BIND: 2, MPOL_INTERLEAVE: 3, MPOL_LOCAL: 4, MPOL_PREFERRED_MANY: 5, MPOL_WEIGHTED_INTERLEAVE: 6,
};
const FLAGS: Record<string, number> = { MPOL_F_NUMA_BALANCING: 1 << 13, MPOL_F_RELATIVE_NODES: 1 << 14, MPOL_F_STATIC_NODES: 1 << 15 };
const NEEDS_NODES = ['MPOL_BIND', 'MPOL_INTERLEAVE', 'MPOL_WEIGHTED_INTERLEAVE', 'MPOL_PREFERRED_MANY'];
const NO_NODES = ['MPOL_DEFAULT', 'MPOL_LOCAL'];

export interface MemoryPolicyPlan {
  /** The mode with its flags, as set_mempolicy takes it. */
  mode: number;
  nodes: number[];
}

type MemoryPolicy = NonNullable<NonNullable<OciConfig['linux']>['memoryPolicy']>;

function fail(path: string, message: string): never {
  throw new TsruncError(`config.json: /linux/memoryPolicy${path}: ${message}`);
}

export function planMemoryPolicy(policy: MemoryPolicy | undefined): MemoryPolicyPlan | undefined {
  if (!policy) return undefined;
  const nodesText = policy.nodes?.trim() ?? '';
  const nodes = nodesText === '' ? [] : parseListFormat(nodesText, '/linux/memoryPolicy/nodes', 'memory node');
  if (NEEDS_NODES.includes(policy.mode) && nodes.length === 0) fail('/nodes', `${policy.mode} needs at least one memory node`);
  if (NO_NODES.includes(policy.mode) && nodes.length > 0) fail('/nodes', `${policy.mode} takes no memory nodes`);
  const flags = policy.flags ?? [];
  if (flags.includes('MPOL_F_RELATIVE_NODES') && flags.includes('MPOL_F_STATIC_NODES')) {
    fail('/flags', 'MPOL_F_RELATIVE_NODES and MPOL_F_STATIC_NODES exclude each other');
  }
  return { mode: flags.reduce((mode, flag) => mode | FLAGS[flag]!, MODES[policy.mode]!), nodes };
}

export function memoryPolicyOps(plan: MemoryPolicyPlan | undefined): StageOp[] {
  return plan ? [{ op: 'set-mempolicy', label: 'setting the memory policy (linux.memoryPolicy)', ...plan }] : [];
}
