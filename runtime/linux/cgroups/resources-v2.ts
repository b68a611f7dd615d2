/**
 * Pure planner: linux.resources → the cgroup v2 file writes, in runc's order (pids, memory,
 * io, cpu, cpuset, hugetlb, rdma, then linux.resources.unified as given) with runc's
 * conversions from the v1-shaped OCI values:
 *   cpu.shares  → cpu.weight = 1 + ((shares - 2) * 9999) / 262142       (integer division)
 *   quota/period → cpu.max "quota period" ("max" for quota -1 or absent; period 100000 if absent)
 *   memory.swap (memory+swap) → memory.swap.max = swap - limit; -1 → "max"
 *   memory.limit → memory.max, reservation → memory.low; -1 → "max", 0 → unchanged
 *   blockIO.weight → io.bfq.weight as is when the BFQ scheduler offers it, else io.weight =
 *                    1 + ((weight - 10) * 9999) / 990
 *   throttle* → io.max "MAJ:MIN rbps=N" (wbps, riops, wiops)
 * Device rules are not here: on v2 they are an eBPF program (see v2.ts).
 */
import { TsruncError } from '../../errors.js';
import type { OciResources } from '../../spec/config.js';
import type { CgroupPlan, CgroupWrite } from './files.js';
import { hugetlbWrites, int, pidsMax, rdmaLine } from './resources-v1.js';

export interface V2PlanOptions {
  /** io.bfq.weight exists: the BFQ scheduler takes the v1 weight scale as is. */
  bfqWeight?: boolean;
  /** io.bfq.weight also takes "MAJ:MIN WEIGHT" lines (it reads "default N"). */
  bfqDeviceWeight?: boolean;
  /** memory.current now, for memory.checkBeforeUpdate. */
  currentMemoryUsage?: number;
}

const where = (field: string) => `config.json: /linux/resources/${field}`;

/** runc's ConvertCPUSharesToCgroupV2Value; 0 means "not set". */
export function cpuSharesToWeight(shares: number): number {
  if (shares === 0) return 0;
  return 1 + Math.floor(((shares - 2) * 9999) / 262142);
}

/** runc's ConvertBlkIOToIOWeightValue; 0 means "not set". */
export function blkioWeightToIoWeight(weight: number): number {
  if (weight === 0) return 0;
  return 1 + Math.floor(((weight - 10) * 9999) / 990);
}

/** runc's numToStr for the v2 memory files: "" (leave alone) for 0, "max" for -1. */
function memoryValue(value: number | undefined): string {
  if (value === undefined || value === 0) return '';
  if (value === -1) return 'max';
  return int(value);
}

/** runc's ConvertMemorySwapToCgroupV2Value: OCI's memory+swap → v2's swap alone. */
export function memorySwapToV2(swap: number, limit: number): number {
  if (limit === -1 && swap === 0) return -1;
  if (swap === -1 || swap === 0) return swap;
  if (limit === 0 || limit === -1) throw new TsruncError(`${where('memory/swap')}: a swap limit needs a memory limit`);
  if (limit < 0) throw new TsruncError(`${where('memory/limit')}: invalid value ${limit}`);
  if (swap < limit) throw new TsruncError(`${where('memory/swap')}: memory+swap (${swap}) must be at least the memory limit (${limit})`);
  return swap - limit;
}

function planMemory(memory: NonNullable<OciResources['memory']>, options: V2PlanOptions, plan: CgroupPlan): void {
  const limit = memory.limit ?? 0;
  const swap = memory.swap ?? 0;
  const w = (file: string, value: string, extra: Partial<CgroupWrite> = {}) => plan.writes.push({ controller: '', file, value, ...extra });
  if (memory.checkBeforeUpdate && options.currentMemoryUsage !== undefined) {
    const usage = options.currentMemoryUsage;
    if (swap > 0 && swap <= usage) throw new TsruncError(`${where('memory/swap')}: rejecting memory+swap limit ${swap} <= usage ${usage}`);
    if (limit > 0 && limit <= usage) throw new TsruncError(`${where('memory/limit')}: rejecting memory limit ${limit} <= usage ${usage}`);
  }
  if (limit !== 0 || swap !== 0 || (memory.reservation ?? 0) !== 0) {
    const v2Swap = memorySwapToV2(swap, limit);
    // memory and memory+swap equal: no swap at all.
    const swapValue = v2Swap === 0 && swap > 0 ? '0' : memoryValue(v2Swap);
    // Without swap accounting there is no memory.swap.max: "no swap" and "unlimited" are then moot.
    if (swapValue !== '') w('memory.swap.max', swapValue, swapValue === 'max' || swapValue === '0' ? { optional: true } : {});
    const max = memoryValue(limit);
    if (max !== '') w('memory.max', max);
    const low = memoryValue(memory.reservation);
    if (low !== '') w('memory.low', low);
  }
  if (memory.kernel !== undefined && memory.kernel !== 0) plan.warnings.push('linux.resources.memory.kernel is ignored: cgroup v2 has no separate kernel memory limit');
  if (memory.kernelTCP !== undefined && memory.kernelTCP !== 0) plan.warnings.push('linux.resources.memory.kernelTCP is ignored: cgroup v2 has no separate kernel TCP limit');
  if (memory.swappiness !== undefined) plan.warnings.push('linux.resources.memory.swappiness is ignored: cgroup v2 has no per-cgroup swappiness');
  if (memory.disableOOMKiller) plan.warnings.push('linux.resources.memory.disableOOMKiller is ignored: cgroup v2 cannot disable the OOM killer');
}

const IO_MAX_KEYS = [
  ['throttleReadBpsDevice', 'rbps'],
  ['throttleWriteBpsDevice', 'wbps'],
  ['throttleReadIOPSDevice', 'riops'],
  ['throttleWriteIOPSDevice', 'wiops'],
] as const;

function planIo(blockIO: NonNullable<OciResources['blockIO']>, options: V2PlanOptions, plan: CgroupPlan): void {
  const w = (file: string, value: string) => plan.writes.push({ controller: '', file, value });
  if (blockIO.weight !== undefined && blockIO.weight !== 0) {
    if (options.bfqWeight) w('io.bfq.weight', int(blockIO.weight));
    else w('io.weight', int(blkioWeightToIoWeight(blockIO.weight)));
  }
  if (blockIO.leafWeight !== undefined && blockIO.leafWeight !== 0) plan.warnings.push('linux.resources.blockIO.leafWeight is ignored: cgroup v2 has no leaf weights');
  for (const device of blockIO.weightDevice ?? []) {
    if (device.weight === undefined || device.weight === 0) continue;
    if (options.bfqDeviceWeight) w('io.bfq.weight', `${int(device.major)}:${int(device.minor)} ${device.weight}`);
    else plan.warnings.push(`linux.resources.blockIO.weightDevice ${device.major}:${device.minor} is ignored: the I/O scheduler takes no per-device weight`);
  }
  for (const [field, key] of IO_MAX_KEYS) {
    for (const device of blockIO[field] ?? []) w('io.max', `${int(device.major)}:${int(device.minor)} ${key}=${int(device.rate)}`);
  }
}

function planCpu(cpu: NonNullable<OciResources['cpu']>, plan: CgroupPlan): void {
  const w = (file: string, value: string, extra: Partial<CgroupWrite> = {}) => plan.writes.push({ controller: '', file, value, ...extra });
  const quota = cpu.quota ?? 0;
  const period = cpu.period ?? 0;
  if (cpu.idle !== undefined) w('cpu.idle', int(cpu.idle));
  const weight = cpuSharesToWeight(cpu.shares ?? 0);
  if (weight !== 0) w('cpu.weight', int(weight));
  const setsMax = quota !== 0 || period !== 0;
  if (cpu.burst !== undefined) w('cpu.max.burst', int(cpu.burst), setsMax ? { tolerate: 'EINVAL' } : {});
  if (setsMax) {
    w('cpu.max', `${quota > 0 ? int(quota) : 'max'} ${int(period !== 0 ? period : 100000)}`);
    if (cpu.burst !== undefined) w('cpu.max.burst', int(cpu.burst));
  }
  if ((cpu.realtimeRuntime ?? 0) !== 0 || (cpu.realtimePeriod ?? 0) !== 0) {
    plan.warnings.push('linux.resources.cpu.realtimeRuntime/realtimePeriod are ignored: cgroup v2 has no real-time group scheduling');
  }
  if (cpu.cpus) w('cpuset.cpus', cpu.cpus);
  if (cpu.mems) w('cpuset.mems', cpu.mems);
}

/** Files a unified key may not name: they move processes or kill them, not limits. */
const UNIFIED_FORBIDDEN = new Set(['cgroup.procs', 'cgroup.threads', 'cgroup.kill', 'cgroup.freeze']);

/** Pure: every v2 write for `resources` (devices excepted), in order. */
export function planResourcesV2(resources: OciResources, options: V2PlanOptions = {}): CgroupPlan {
  const plan: CgroupPlan = { writes: [], warnings: [] };
  if (resources.pids) plan.writes.push({ controller: '', file: 'pids.max', value: pidsMax(resources.pids.limit) });
  if (resources.memory) planMemory(resources.memory, options, plan);
  if (resources.blockIO) planIo(resources.blockIO, options, plan);
  if (resources.cpu) planCpu(resources.cpu, plan);
  if (resources.hugepageLimits && resources.hugepageLimits.length > 0) plan.writes.push(...hugetlbWrites(resources.hugepageLimits, '', true));
  for (const [device, limits] of Object.entries(resources.rdma ?? {})) {
    plan.writes.push({ controller: '', file: 'rdma.max', value: rdmaLine(device, limits) });
  }
  if (resources.network && (resources.network.classID !== undefined || (resources.network.priorities ?? []).length > 0)) {
    throw new TsruncError(`${where('network')}: cgroup v2 has no net_cls or net_prio controller (use eBPF or nftables cgroup matching instead)`);
  }
  for (const [key, value] of Object.entries(resources.unified ?? {})) {
    if (key.includes('/') || key === '.' || key === '..' || !key.includes('.')) {
      throw new TsruncError(`${where(`unified/${key}`)}: must be a file name of the form <controller>.<parameter>`);
    }
    if (UNIFIED_FORBIDDEN.has(key)) throw new TsruncError(`${where(`unified/${key}`)}: ${key} is managed by the runtime, not a resource`);
    plan.writes.push({ controller: '', file: key, value });
  }
  return plan;
}
