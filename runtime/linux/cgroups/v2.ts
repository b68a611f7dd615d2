/**
 * The cgroup v2 manager: one directory in the unified hierarchy (paths[""]). `mountPoint` is
 * the top of that hierarchy: /sys/fs/cgroup on a v2 host, or any directory a test chooses (a
 * private cgroup2 mount, or a plain directory tree holding stand-in control files).
 */
import fs from 'node:fs';
import path from 'node:path';
import { TsruncError } from '../../errors.js';
import { logWarning } from '../../log.js';
import type { OciResources } from '../../spec/config.js';
import { pollUntil } from '../wait.js';
import type { CgroupManager, CgroupStats, OomWatcher, PlannedCgroupWrite } from './manager.js';
import type { DeviceRule } from './devices-v1.js';
import { planResourcesV2 } from './resources-v2.js';
import { OomWatcherV2 } from './oom-v2.js';
import { applyWrites, pidsUnder, readCgroupFile, readCgroupNumber, readKeyValues, removeCgroupDir, writeCgroupFile } from './files.js';
import type { CgroupPlan } from './files.js';
import { cpuStatsV2, emptyStats, hugetlbStatsV2, ioStatsV2, memoryStatsV2, pidsStats } from './stats.js';
import { setDeviceFilter } from './ebpf.js';
import { isFrozenV2 } from './frozen.js';

export interface V2ManagerOptions {
  /** Top of the cgroup2 hierarchy; controllers are enabled from here down. */
  mountPoint: string;
  /** As for v1: set once at the first apply(), only by a manager built from config.json. */
  deviceRules?: DeviceRule[];
}

const FREEZE_TIMEOUT_MS = 10_000;

export class CgroupV2Manager implements CgroupManager {
  readonly paths: { '': string };
  private devicesDone = false;

  constructor(
    readonly dir: string,
    private readonly options: V2ManagerOptions,
  ) {
    this.paths = { '': dir };
  }

  /**
   * Makes the directory and every missing level above it, enabling in each level's
   * cgroup.subtree_control every controller it offers (runc does the same), so the container's
   * cgroup gets its limit files. A level that refuses a controller (a threaded subtree, a
   * parent with processes of its own) is left without it: apply() then reports the missing file.
   */
  create(): void {
    const top = path.resolve(this.options.mountPoint);
    const leaf = path.resolve(this.dir);
    if (leaf !== top && !leaf.startsWith(`${top}/`)) throw new TsruncError(`cgroup: ${leaf} is not under the cgroup2 mount ${top}`);
    let current = top;
    for (const part of path.relative(top, leaf).split('/').filter((p) => p !== '')) {
      this.enableControllers(current);
      current = path.join(current, part);
      try {
        fs.mkdirSync(current, { mode: 0o755 });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw new TsruncError(`cgroup: creating ${current}: ${(error as Error).message}`);
      }
    }
  }

  private enableControllers(dir: string): void {
    const available = (readCgroupFile(dir, 'cgroup.controllers') ?? '').split(/\s+/).filter((c) => c !== '');
    const enabled = new Set((readCgroupFile(dir, 'cgroup.subtree_control') ?? '').split(/\s+/));
    const wanted = available.filter((c) => !enabled.has(c));
    if (wanted.length === 0) return;
    try {
      writeCgroupFile(dir, 'cgroup.subtree_control', wanted.map((c) => `+${c}`).join(' '));
    } catch {
      for (const controller of wanted) {
        try {
          writeCgroupFile(dir, 'cgroup.subtree_control', `+${controller}`);
        } catch {
          // see create()
        }
      }
    }
  }

  private planFor(resources: OciResources): CgroupPlan {
    const bfq = readCgroupFile(this.dir, 'io.bfq.weight');
    return planResourcesV2(resources, {
      bfqWeight: bfq !== undefined,
      bfqDeviceWeight: bfq !== undefined && !/^\d+$/.test(bfq.trim()),
      currentMemoryUsage: resources.memory?.checkBeforeUpdate ? readCgroupNumber(this.dir, 'memory.current') : undefined,
    });
  }

  plan(resources: OciResources): PlannedCgroupWrite[] {
    return this.planFor(resources).writes.map((w) => ({ dir: this.dir, file: w.file, value: w.value }));
  }

  apply(resources: OciResources): void {
    const plan = this.planFor(resources);
    for (const warning of plan.warnings) logWarning(warning);
    if (this.options.deviceRules && !this.devicesDone) setDeviceFilter(this.dir, this.options.deviceRules);
    this.devicesDone = true;
    applyWrites(plan.writes, () => this.dir);
  }

  join(pid: number): void {
    writeCgroupFile(this.dir, 'cgroup.procs', String(pid));
  }

  pids(): number[] {
    return pidsUnder(this.dir);
  }

  private frozenEvent(): boolean {
    return readKeyValues(this.dir, 'cgroup.events')['frozen'] === 1;
  }

  freeze(): void {
    writeCgroupFile(this.dir, 'cgroup.freeze', '1');
    if (!pollUntil(() => this.frozenEvent(), FREEZE_TIMEOUT_MS)) {
      writeCgroupFile(this.dir, 'cgroup.freeze', '0');
      throw new TsruncError(`cgroup: ${this.dir} did not freeze within ${FREEZE_TIMEOUT_MS / 1000}s`);
    }
  }

  thaw(): void {
    writeCgroupFile(this.dir, 'cgroup.freeze', '0');
    pollUntil(() => !this.frozenEvent(), FREEZE_TIMEOUT_MS);
  }

  isFrozen(): boolean {
    return isFrozenV2(this.dir);
  }

  stats(): CgroupStats {
    const stats = emptyStats();
    cpuStatsV2(this.dir, stats);
    memoryStatsV2(this.dir, stats);
    pidsStats(this.dir, stats);
    ioStatsV2(this.dir, stats);
    hugetlbStatsV2(this.dir, stats);
    return stats;
  }

  watchOom(): OomWatcher {
    return new OomWatcherV2(this.dir);
  }

  destroy(): void {
    removeCgroupDir(this.dir);
  }
}
