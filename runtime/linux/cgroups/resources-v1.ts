/**
 * Pure planner: linux.resources → the cgroup v1 file writes, in runc's order (cpuset, memory,
 * cpu, pids, blkio, hugetlb, net_cls, net_prio, rdma) and with runc's value rules: 0 leaves a
 * setting alone, -1 removes a limit. Device rules are planned by devices-v1.ts.
 *
 * The few choices that depend on the cgroup's current state (memory before or after swap,
 * which blkio weight file the I/O scheduler offers) come in as options, read by the manager.
 */
import { TsruncError } from '../../errors.js';
import type { OciResources } from '../../spec/config.js';
import type { CgroupPlan, CgroupWrite } from './files.js';

export interface V1PlanOptions {
  /** memory.limit_in_bytes now; with the new swap it decides which of the two goes first. */
  currentMemoryLimit?: number;
  /** memory.memsw.limit_in_bytes exists (the kernel accounts swap). */
  swapAccounting?: boolean;
  /** CFQ offers blkio.weight, BFQ blkio.bfq.weight (runc picks whichever exists). */
  bfqWeight?: boolean;
  /** Hybrid host whose hugetlb controller lives on the cgroup2 mount, not in a v1 hierarchy. */
  hugetlbOnUnified?: boolean;
}

/** A JSON integer as the kernel wants it (no exponent for big values). */
export function int(value: number): string {
  return BigInt(value).toString();
}

const where = (field: string) => `config.json: /linux/resources/${field}`;

function planMemory(memory: NonNullable<OciResources['memory']>, options: V1PlanOptions, plan: CgroupPlan): void {
  const w = (file: string, value: string, extra: Partial<CgroupWrite> = {}) => plan.writes.push({ controller: 'memory', file, value, ...extra });
  const limit = memory.limit ?? 0;
  let swap = memory.swap ?? 0;
  // runc: an unlimited memory with swap left unset makes swap unlimited too.
  if (limit === -1 && swap === 0 && options.swapAccounting) swap = -1;
  const setLimit = () => limit !== 0 && w('memory.limit_in_bytes', int(limit));
  const setSwap = () => swap !== 0 && w('memory.memsw.limit_in_bytes', int(swap));
  // The kernel wants limit <= memsw at every step: raising both means swap first.
  const current = options.currentMemoryLimit;
  if (limit !== 0 && swap !== 0 && (swap === -1 || current === undefined || current < swap)) {
    setSwap();
    setLimit();
  } else {
    setLimit();
    setSwap();
  }
  if (memory.reservation !== undefined && memory.reservation !== 0) w('memory.soft_limit_in_bytes', int(memory.reservation));
  if (memory.kernel !== undefined && memory.kernel !== 0) {
    // Deprecated by the spec ("runtimes MAY ignore"); runc ignores it too: the kmem limit was
    // unreliable on older kernels, and newer ones accept the write but do nothing with it.
    plan.warnings.push('linux.resources.memory.kernel is deprecated and ignored');
  }
  if (memory.kernelTCP !== undefined && memory.kernelTCP !== 0) {
    w('memory.kmem.tcp.limit_in_bytes', int(memory.kernelTCP), { optional: true });
  }
  if (memory.swappiness !== undefined) {
    if (memory.swappiness > 100) throw new TsruncError(`${where('memory/swappiness')}: ${memory.swappiness} is out of range 0-100`);
    w('memory.swappiness', int(memory.swappiness));
  }
  if (memory.disableOOMKiller !== undefined) w('memory.oom_control', memory.disableOOMKiller ? '1' : '0');
  if (memory.useHierarchy === false) {
    plan.warnings.push('linux.resources.memory.useHierarchy=false is ignored: current kernels are always hierarchical');
  }
}

/** cpu.cfs_period_us / cpu.rt_period_us first, repeated after the quota when the first try is refused. */
function periodAndQuota(
  controller: string,
  periodFile: string,
  quotaFile: string,
  period: number,
  quota: number,
  writes: CgroupWrite[],
): void {
  if (period !== 0) writes.push({ controller, file: periodFile, value: int(period), ...(quota !== 0 ? { tolerate: 'EINVAL' as const } : {}) });
  if (quota !== 0) {
    writes.push({ controller, file: quotaFile, value: int(quota) });
    if (period !== 0) writes.push({ controller, file: periodFile, value: int(period) });
  }
}

function planCpuset(cpu: NonNullable<OciResources['cpu']>, plan: CgroupPlan): void {
  if (cpu.cpus) plan.writes.push({ controller: 'cpuset', file: 'cpuset.cpus', value: cpu.cpus });
  if (cpu.mems) plan.writes.push({ controller: 'cpuset', file: 'cpuset.mems', value: cpu.mems });
}

function planCpuController(cpu: NonNullable<OciResources['cpu']>, plan: CgroupPlan): void {
  const writes = plan.writes;
  const quota = cpu.quota ?? 0;
  if (cpu.shares !== undefined && cpu.shares !== 0) writes.push({ controller: 'cpu', file: 'cpu.shares', value: int(cpu.shares), verify: true });
  if (cpu.burst !== undefined) {
    // Burst must fit under the quota: tried before and after it, like the period.
    writes.push({ controller: 'cpu', file: 'cpu.cfs_burst_us', value: int(cpu.burst), optional: true, ...(quota !== 0 ? { tolerate: 'EINVAL' as const } : {}) });
  }
  periodAndQuota('cpu', 'cpu.cfs_period_us', 'cpu.cfs_quota_us', cpu.period ?? 0, quota, writes);
  if (cpu.burst !== undefined && quota !== 0) writes.push({ controller: 'cpu', file: 'cpu.cfs_burst_us', value: int(cpu.burst), optional: true });
  if (cpu.idle !== undefined) writes.push({ controller: 'cpu', file: 'cpu.idle', value: int(cpu.idle) });
  periodAndQuota('cpu', 'cpu.rt_period_us', 'cpu.rt_runtime_us', cpu.realtimePeriod ?? 0, cpu.realtimeRuntime ?? 0, writes);
}

/** pids.max: a positive limit as is; 0 or below is "no limit" (the spec's older wording, and CRI-O's use of 0). */
export function pidsMax(limit: number): string {
  return limit > 0 ? int(limit) : 'max';
}

const THROTTLE_FILES = [
  ['throttleReadBpsDevice', 'blkio.throttle.read_bps_device'],
  ['throttleWriteBpsDevice', 'blkio.throttle.write_bps_device'],
  ['throttleReadIOPSDevice', 'blkio.throttle.read_iops_device'],
  ['throttleWriteIOPSDevice', 'blkio.throttle.write_iops_device'],
] as const;

function planBlkio(blockIO: NonNullable<OciResources['blockIO']>, options: V1PlanOptions, plan: CgroupPlan): void {
  const w = (file: string, value: string) => plan.writes.push({ controller: 'blkio', file, value });
  const weightFile = options.bfqWeight ? 'blkio.bfq.weight' : 'blkio.weight';
  const weightDeviceFile = options.bfqWeight ? 'blkio.bfq.weight_device' : 'blkio.weight_device';
  if (blockIO.weight !== undefined && blockIO.weight !== 0) w(weightFile, int(blockIO.weight));
  if (blockIO.leafWeight !== undefined && blockIO.leafWeight !== 0) w('blkio.leaf_weight', int(blockIO.leafWeight));
  for (const device of blockIO.weightDevice ?? []) {
    const id = `${int(device.major)}:${int(device.minor)}`;
    if (device.weight !== undefined && device.weight !== 0) w(weightDeviceFile, `${id} ${device.weight}`);
    if (device.leafWeight !== undefined && device.leafWeight !== 0) w('blkio.leaf_weight_device', `${id} ${device.leafWeight}`);
  }
  for (const [field, file] of THROTTLE_FILES) {
    for (const device of blockIO[field] ?? []) w(file, `${int(device.major)}:${int(device.minor)} ${int(device.rate)}`);
  }
}

/** "hca_handle=N hca_object=M" for one rdma device (shared with v2: same file format). */
export function rdmaLine(device: string, limits: { hcaHandles?: number; hcaObjects?: number }): string {
  const parts = [device];
  if (limits.hcaHandles !== undefined) parts.push(`hca_handle=${limits.hcaHandles}`);
  if (limits.hcaObjects !== undefined) parts.push(`hca_object=${limits.hcaObjects}`);
  return parts.join(' ');
}

/** The hugetlb writes; v2 names the files .max, v1 .limit_in_bytes ("rsvd" twins where the kernel has them). */
export function hugetlbWrites(limits: NonNullable<OciResources['hugepageLimits']>, controller: string, v2: boolean): CgroupWrite[] {
  const suffix = v2 ? 'max' : 'limit_in_bytes';
  const writes: CgroupWrite[] = [];
  for (const { pageSize, limit } of limits) {
    if (!/^\d+[KMGTP]?B$/.test(pageSize)) {
      throw new TsruncError(`config.json: /linux/resources/hugepageLimits: pageSize "${pageSize}" is not of the form <number><unit>B (e.g. 2MB, 1GB)`);
    }
    writes.push({ controller, file: `hugetlb.${pageSize}.${suffix}`, value: int(limit) });
    writes.push({ controller, file: `hugetlb.${pageSize}.rsvd.${suffix}`, value: int(limit), optional: true });
  }
  return writes;
}

/** Pure: every v1 write for `resources` (devices excepted), in order. */
export function planResourcesV1(resources: OciResources, options: V1PlanOptions = {}): CgroupPlan {
  const plan: CgroupPlan = { writes: [], warnings: [] };
  if (resources.unified && Object.keys(resources.unified).length > 0) {
    throw new TsruncError(`${where('unified')}: invalid configuration: needs cgroup v2, and this host uses cgroup v1`);
  }
  if (resources.cpu) planCpuset(resources.cpu, plan);
  if (resources.memory) planMemory(resources.memory, options, plan);
  if (resources.cpu) planCpuController(resources.cpu, plan);
  if (resources.pids) plan.writes.push({ controller: 'pids', file: 'pids.max', value: pidsMax(resources.pids.limit) });
  if (resources.blockIO) planBlkio(resources.blockIO, options, plan);
  if (resources.hugepageLimits && resources.hugepageLimits.length > 0) {
    const onUnified = options.hugetlbOnUnified === true;
    plan.writes.push(...hugetlbWrites(resources.hugepageLimits, onUnified ? '' : 'hugetlb', onUnified));
  }
  if (resources.network) {
    if (resources.network.classID !== undefined) {
      plan.writes.push({ controller: 'net_cls', file: 'net_cls.classid', value: int(resources.network.classID) });
    }
    for (const { name, priority } of resources.network.priorities ?? []) {
      plan.writes.push({ controller: 'net_prio', file: 'net_prio.ifpriomap', value: `${name} ${priority}` });
    }
  }
  for (const [device, limits] of Object.entries(resources.rdma ?? {})) {
    plan.writes.push({ controller: 'rdma', file: 'rdma.max', value: rdmaLine(device, limits) });
  }
  return plan;
}
