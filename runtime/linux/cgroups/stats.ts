/**
 * runc's `events --stats` figures, read from the cgroup files of either layout. Units are
 * runc's: nanoseconds for CPU time, bytes for memory; a limit of "max" reads as 2^64-1 for
 * memory (runc reports math.MaxUint64) and as 0 for pids (runc's "no limit").
 */
import fs from 'node:fs';
import type { CgroupStats } from './manager.js';
import { readCgroupFile, readCgroupNumber, readKeyValues, UINT64_MAX } from './files.js';

type MemoryEntry = CgroupStats['memory']['usage'];

const NANOSECONDS_PER_TICK = 1e9 / 100; // cpuacct.stat counts USER_HZ (100) ticks

export function emptyStats(): CgroupStats {
  return {
    cpu: { usage: { total: 0, kernel: 0, user: 0 }, throttling: { periods: 0, throttledPeriods: 0, throttledTime: 0 } },
    memory: { cache: 0, usage: { limit: 0, usage: 0, max: 0, failcnt: 0 }, raw: {} },
    pids: { current: 0, limit: 0 },
    blkio: {},
    hugetlb: {},
  };
}

/** Huge page sizes as the cgroup files name them ("2MB", "1GB"), from /sys/kernel/mm/hugepages. */
export function hugePageSizes(): string[] {
  let entries: string[];
  try {
    entries = fs.readdirSync('/sys/kernel/mm/hugepages');
  } catch {
    return [];
  }
  const units = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];
  const sizes: string[] = [];
  for (const entry of entries) {
    const match = /^hugepages-(\d+)kB$/.exec(entry);
    if (!match) continue;
    let size = Number(match[1]) * 1024;
    let unit = 0;
    while (size >= 1024 && unit < units.length - 1) {
      size /= 1024;
      unit++;
    }
    sizes.push(`${size}${units[unit]}`);
  }
  return sizes;
}

// --- v1 ------------------------------------------------------------------------------------

export function cpuStatsV1(cpuacct: string | undefined, cpu: string | undefined, stats: CgroupStats): void {
  if (cpuacct) {
    stats.cpu.usage.total = readCgroupNumber(cpuacct, 'cpuacct.usage') ?? 0;
    const percpu = readCgroupFile(cpuacct, 'cpuacct.usage_percpu')?.trim();
    if (percpu) stats.cpu.usage.percpu = percpu.split(/\s+/).map(Number);
    const ticks = readKeyValues(cpuacct, 'cpuacct.stat');
    stats.cpu.usage.user = (ticks['user'] ?? 0) * NANOSECONDS_PER_TICK;
    stats.cpu.usage.kernel = (ticks['system'] ?? 0) * NANOSECONDS_PER_TICK;
  }
  if (cpu) {
    const stat = readKeyValues(cpu, 'cpu.stat');
    stats.cpu.throttling = {
      periods: stat['nr_periods'] ?? 0,
      throttledPeriods: stat['nr_throttled'] ?? 0,
      throttledTime: stat['throttled_time'] ?? 0,
    };
  }
}

function memoryEntryV1(dir: string, prefix: string): MemoryEntry | undefined {
  const usage = readCgroupNumber(dir, `${prefix}.usage_in_bytes`);
  if (usage === undefined) return undefined;
  return {
    usage,
    max: readCgroupNumber(dir, `${prefix}.max_usage_in_bytes`) ?? 0,
    failcnt: readCgroupNumber(dir, `${prefix}.failcnt`) ?? 0,
    limit: readCgroupNumber(dir, `${prefix}.limit_in_bytes`) ?? 0,
  };
}

export function memoryStatsV1(dir: string, stats: CgroupStats): void {
  stats.memory.raw = readKeyValues(dir, 'memory.stat');
  stats.memory.cache = stats.memory.raw['cache'] ?? 0;
  stats.memory.usage = memoryEntryV1(dir, 'memory') ?? stats.memory.usage;
  const swap = memoryEntryV1(dir, 'memory.memsw');
  if (swap) stats.memory.swap = swap;
}

export function pidsStats(dir: string, stats: CgroupStats): void {
  stats.pids.current = readCgroupNumber(dir, 'pids.current') ?? 0;
  const limit = readCgroupNumber(dir, 'pids.max') ?? 0;
  stats.pids.limit = limit === UINT64_MAX ? 0 : limit;
}

interface BlkioEntry {
  major: number;
  minor: number;
  op: string;
  value: number;
}

/** "8:0 Read 1282048" / "8:0 6792" lines; "Total N" lines are skipped. */
function blkioEntries(dir: string, file: string): BlkioEntry[] | undefined {
  const text = readCgroupFile(dir, file);
  if (text === undefined) return undefined;
  const entries: BlkioEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/[\s:]+/);
    if (fields.length < 3) continue;
    const [major, minor] = fields;
    const op = fields.length === 4 ? fields[2]! : '';
    entries.push({ major: Number(major), minor: Number(minor), op, value: Number(fields[fields.length - 1]) });
  }
  return entries;
}

/** runc's order: the first of BFQ, CFQ, throttle (recursive), throttle files that exists is used. */
const BLKIO_SOURCES: ReadonlyArray<ReadonlyArray<readonly [string, string]>> = [
  [['blkio.bfq.io_serviced_recursive', 'ioServicedRecursive'], ['blkio.bfq.io_service_bytes_recursive', 'ioServiceBytesRecursive']],
  [
    ['blkio.io_serviced_recursive', 'ioServicedRecursive'],
    ['blkio.io_service_bytes_recursive', 'ioServiceBytesRecursive'],
    ['blkio.sectors_recursive', 'sectorsRecursive'],
    ['blkio.io_service_time_recursive', 'ioServiceTimeRecursive'],
    ['blkio.io_wait_time_recursive', 'ioWaitTimeRecursive'],
    ['blkio.io_merged_recursive', 'ioMergedRecursive'],
    ['blkio.io_queued_recursive', 'ioQueueRecursive'],
    ['blkio.time_recursive', 'ioTimeRecursive'],
  ],
  [['blkio.throttle.io_serviced_recursive', 'ioServicedRecursive'], ['blkio.throttle.io_service_bytes_recursive', 'ioServiceBytesRecursive']],
  [['blkio.throttle.io_serviced', 'ioServicedRecursive'], ['blkio.throttle.io_service_bytes', 'ioServiceBytesRecursive']],
];

export function blkioStatsV1(dir: string, stats: CgroupStats): void {
  for (const source of BLKIO_SOURCES) {
    const first = blkioEntries(dir, source[0]![0]);
    if (first === undefined) continue;
    const blkio: Record<string, BlkioEntry[]> = {};
    for (const [file, key] of source) {
      const entries = blkioEntries(dir, file);
      if (entries && entries.length > 0) blkio[key] = entries;
    }
    stats.blkio = blkio;
    return;
  }
}

export function hugetlbStatsV1(dir: string, stats: CgroupStats): void {
  for (const size of hugePageSizes()) {
    const prefix = `hugetlb.${size}`;
    const usage = readCgroupNumber(dir, `${prefix}.usage_in_bytes`);
    if (usage === undefined) continue;
    stats.hugetlb[size] = {
      usage,
      max: readCgroupNumber(dir, `${prefix}.max_usage_in_bytes`) ?? 0,
      failcnt: readCgroupNumber(dir, `${prefix}.failcnt`) ?? 0,
    };
  }
}

// --- v2 ------------------------------------------------------------------------------------

export function cpuStatsV2(dir: string, stats: CgroupStats): void {
  const stat = readKeyValues(dir, 'cpu.stat');
  stats.cpu.usage.total = (stat['usage_usec'] ?? 0) * 1000;
  stats.cpu.usage.user = (stat['user_usec'] ?? 0) * 1000;
  stats.cpu.usage.kernel = (stat['system_usec'] ?? 0) * 1000;
  stats.cpu.throttling = {
    periods: stat['nr_periods'] ?? 0,
    throttledPeriods: stat['nr_throttled'] ?? 0,
    throttledTime: (stat['throttled_usec'] ?? 0) * 1000,
  };
}

export function memoryStatsV2(dir: string, stats: CgroupStats): void {
  stats.memory.raw = readKeyValues(dir, 'memory.stat');
  stats.memory.cache = stats.memory.raw['file'] ?? 0;
  const current = readCgroupNumber(dir, 'memory.current');
  if (current === undefined) return;
  const usage: MemoryEntry = {
    usage: current,
    limit: readCgroupNumber(dir, 'memory.max') ?? UINT64_MAX,
    max: readCgroupNumber(dir, 'memory.peak') ?? 0,
    failcnt: readKeyValues(dir, 'memory.events')['max'] ?? 0,
  };
  stats.memory.usage = usage;
  const swapCurrent = readCgroupNumber(dir, 'memory.swap.current');
  if (swapCurrent !== undefined) {
    // As runc: v1-compatible memory+swap figures.
    const swapLimit = readCgroupNumber(dir, 'memory.swap.max') ?? UINT64_MAX;
    stats.memory.swap = {
      usage: swapCurrent + usage.usage,
      limit: swapLimit === UINT64_MAX || usage.limit === UINT64_MAX ? UINT64_MAX : swapLimit + usage.limit,
      max: 0,
      failcnt: readKeyValues(dir, 'memory.swap.events')['max'] ?? 0,
    };
  }
}

export function ioStatsV2(dir: string, stats: CgroupStats): void {
  const text = readCgroupFile(dir, 'io.stat');
  if (text === undefined) return;
  const bytes: BlkioEntry[] = [];
  const ios: BlkioEntry[] = [];
  for (const line of text.split('\n')) {
    const [device, ...items] = line.trim().split(/\s+/);
    const match = /^(\d+):(\d+)$/.exec(device ?? '');
    if (!match) continue;
    const major = Number(match[1]);
    const minor = Number(match[2]);
    for (const item of items) {
      const [key, value] = item.split('=');
      const entry = (op: string) => ({ major, minor, op, value: Number(value) });
      if (key === 'rbytes') bytes.push(entry('Read'));
      else if (key === 'wbytes') bytes.push(entry('Write'));
      else if (key === 'rios') ios.push(entry('Read'));
      else if (key === 'wios') ios.push(entry('Write'));
    }
  }
  const blkio: Record<string, BlkioEntry[]> = {};
  if (bytes.length > 0) blkio['ioServiceBytesRecursive'] = bytes;
  if (ios.length > 0) blkio['ioServicedRecursive'] = ios;
  stats.blkio = blkio;
}

export function hugetlbStatsV2(dir: string, stats: CgroupStats): void {
  for (const size of hugePageSizes()) {
    const prefix = `hugetlb.${size}`;
    const usage = readCgroupNumber(dir, `${prefix}.rsvd.current`) ?? readCgroupNumber(dir, `${prefix}.current`);
    if (usage === undefined) continue;
    stats.hugetlb[size] = { usage, max: 0, failcnt: readKeyValues(dir, `${prefix}.events`)['max'] ?? 0 };
  }
}
