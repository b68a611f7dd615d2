/**
 * Pure: the execution attributes a process inherits across execve, from config.json to the
 * numbers the stage passes to the kernel: process.scheduler (sched_setattr), process.ioPriority
 * (ioprio_set), process.execCPUAffinity (sched_setaffinity), linux.personality and, from
 * mempolicy.ts, linux.memoryPolicy.
 */
import { TsruncError } from '../errors.js';
import type { StageOp } from '../plan/ops.js';
import type { ExecAttributesPlan } from '../plan/types.js';
import type { OciConfig, OciProcess } from '../spec/config.js';
import { memoryPolicyOps, planMemoryPolicy } from './mempolicy.js';

const POLICIES: Record<string, number> = {
  SCHED_OTHER: 0, SCHED_FIFO: 1, SCHED_RR: 2, SCHED_BATCH: 3, SCHED_ISO: 4, SCHED_IDLE: 5, SCHED_DEADLINE: 6,
};
const SCHED_FLAGS: Record<string, number> = {
  SCHED_FLAG_RESET_ON_FORK: 0x01, SCHED_FLAG_RECLAIM: 0x02, SCHED_FLAG_DL_OVERRUN: 0x04, SCHED_FLAG_KEEP_POLICY: 0x08,
  SCHED_FLAG_KEEP_PARAMS: 0x10, SCHED_FLAG_UTIL_CLAMP_MIN: 0x20, SCHED_FLAG_UTIL_CLAMP_MAX: 0x40,
};
const IOPRIO_CLASSES: Record<string, number> = { IOPRIO_CLASS_RT: 1, IOPRIO_CLASS_BE: 2, IOPRIO_CLASS_IDLE: 3 };
const IOPRIO_CLASS_SHIFT = 13;
const PERSONAS: Record<string, number> = { LINUX: 0x0000, LINUX32: 0x0008 };

function fail(path: string, message: string): never {
  throw new TsruncError(`config.json: ${path}: ${message}`);
}

/** "0-3,7" → [0, 1, 2, 3, 7]: the kernel's list format, for CPUs and for memory nodes alike. */
export function parseListFormat(text: string, where: string, what = 'CPU'): number[] {
  const cpus = new Set<number>();
  for (const part of text.split(',')) {
    const match = /^\s*(\d+)(?:-(\d+))?\s*$/.exec(part);
    if (!match) fail(where, `"${text}" is not a ${what} list (like "0-3,7")`);
    const first = Number(match[1]);
    const last = match[2] === undefined ? first : Number(match[2]);
    if (last < first || last > 8191) fail(where, `"${part.trim()}" is not a ${what} range this kernel can have`);
    for (let cpu = first; cpu <= last; cpu++) cpus.add(cpu);
  }
  return [...cpus].sort((a, b) => a - b);
}

export function planExecAttributes(proc: OciProcess, linux: OciConfig['linux']): ExecAttributesPlan {
  const plan: ExecAttributesPlan = {};
  const personality = linux?.personality;
  const memoryPolicy = planMemoryPolicy(linux?.memoryPolicy);
  if (memoryPolicy) plan.memoryPolicy = memoryPolicy;
  const scheduler = proc.scheduler;
  if (scheduler) {
    const flags = (scheduler.flags ?? []).reduce((all, name) => all | SCHED_FLAGS[name]!, 0);
    plan.scheduler = {
      policy: POLICIES[scheduler.policy]!, flags, nice: scheduler.nice ?? 0, priority: scheduler.priority ?? 0,
      runtime: scheduler.runtime ?? 0, deadline: scheduler.deadline ?? 0, period: scheduler.period ?? 0,
    };
  }
  if (proc.ioPriority) {
    const level = proc.ioPriority.priority;
    if (level < 0 || level > 7) fail('/process/ioPriority/priority', `${level} is not a priority level (0 to 7)`);
    plan.ioPriority = (IOPRIO_CLASSES[proc.ioPriority.class]! << IOPRIO_CLASS_SHIFT) | level;
  }
  const affinity = proc.execCPUAffinity;
  if (affinity?.initial) plan.initialCpus = parseListFormat(affinity.initial, '/process/execCPUAffinity/initial');
  if (affinity?.final) plan.finalCpus = parseListFormat(affinity.final, '/process/execCPUAffinity/final');
  if (personality) {
    // The flags (ADDR_NO_RANDOMIZE, ...) have no names in the spec yet: refused, not ignored.
    if ((personality.flags ?? []).length > 0) fail('/linux/personality/flags', 'personality flags are not supported');
    plan.personality = PERSONAS[personality.domain]!;
  }
  return plan;
}

/** Before the process's credentials change (a real-time policy needs CAP_SYS_NICE). */
export function execAttributeOps(plan: ExecAttributesPlan): StageOp[] {
  const ops: StageOp[] = [];
  if (plan.initialCpus) ops.push({ op: 'sched-setaffinity', label: 'setting the initial CPU affinity', cpus: plan.initialCpus });
  if (plan.scheduler) ops.push({ op: 'sched-setattr', label: 'setting the scheduler (process.scheduler)', ...plan.scheduler });
  if (plan.ioPriority !== undefined) ops.push({ op: 'ioprio-set', label: 'setting the I/O priority (process.ioPriority)', value: plan.ioPriority });
  if (plan.personality !== undefined) ops.push({ op: 'personality', label: 'setting the personality (linux.personality)', persona: plan.personality });
  ops.push(...memoryPolicyOps(plan.memoryPolicy));
  return ops;
}

/** Right before the exec (and the seccomp filter): the affinity the program starts with. */
export function finalAffinityOps(plan: ExecAttributesPlan): StageOp[] {
  return plan.finalCpus ? [{ op: 'sched-setaffinity', label: 'setting the final CPU affinity', cpus: plan.finalCpus }] : [];
}
