/**
 * The cgroup v1 (and hybrid) manager: one directory per mounted hierarchy, keyed as runc keys
 * them ("cpu", "memory", "name=systemd", and "" for a hybrid host's cgroup2 mount).
 */
import fs from 'node:fs';
import path from 'node:path';
import { TsruncError } from '../../errors.js';
import { logWarning } from '../../log.js';
import type { OciResources } from '../../spec/config.js';
import { sleepSync } from '../wait.js';
import { isFrozenV1 } from './frozen.js';
import type { CgroupManager, CgroupPaths, CgroupStats, OomWatcher, PlannedCgroupWrite } from './manager.js';
import type { DeviceRule } from './devices-v1.js';
import { planDevicesV1 } from './devices-v1.js';
import { planResourcesV1 } from './resources-v1.js';
import { OomWatcherV1 } from './oom-v1.js';
import { noOomWatcher } from './oom-none.js';
import {
  applyWrites, pidsUnder, readCgroupFile, readCgroupNumber, removeCgroupDir, writeCgroupFile, type CgroupWrite,
} from './files.js';
import {
  blkioStatsV1, cpuStatsV1, emptyStats, hugetlbStatsV1, hugetlbStatsV2, memoryStatsV1, pidsStats,
} from './stats.js';

export interface V1ManagerOptions {
  /**
   * The device rules to set, once, at the first apply(): only a manager built from config.json
   * has them. A manager rebuilt from saved paths leaves the device cgroup alone, as `runc
   * update` does (rewriting the rules would briefly deny every device to a running container).
   */
  deviceRules?: DeviceRule[];
  /** Mount point of a hybrid host's cgroup2, where controllers are enabled top-down for hugetlb. */
  unifiedMountPoint?: string;
}

/** The same directory may serve several controllers (cpu,cpuacct co-mounted): each once. */
function uniqueDirs(paths: CgroupPaths): string[] {
  return [...new Set(Object.keys(paths).sort().map((key) => paths[key]!))];
}

/** mkdir -p, returning the directories it made, top first. */
function makeDirs(dir: string): string[] {
  const missing: string[] = [];
  for (let current = dir; !fs.existsSync(current); current = path.dirname(current)) missing.unshift(current);
  for (const created of missing) {
    try {
      fs.mkdirSync(created, { mode: 0o755 });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST') throw new TsruncError(`cgroup: creating ${created}: ${(error as Error).message}`);
    }
  }
  return missing;
}

/**
 * A v1 cpuset cgroup with no cpus or mems takes no process (ENOSPC), and a child's set must fit
 * in its parent's: as runc, every empty level from `dir` up to the nearest non-empty ancestor
 * (existing levels too, e.g. a parent made by hand) gets that ancestor's value, top first.
 */
function fillCpuset(dir: string): void {
  for (const file of ['cpuset.cpus', 'cpuset.mems']) {
    const empty: string[] = [];
    let value = '';
    for (let level = dir; ; level = path.dirname(level)) {
      const content = readCgroupFile(level, file);
      if (content === undefined) break; // above the hierarchy's root
      value = content.trim();
      if (value !== '' || level === '/') break;
      empty.unshift(level);
    }
    if (value === '') continue;
    for (const level of empty) writeCgroupFile(level, file, value);
  }
}

export class CgroupV1Manager implements CgroupManager {
  private devicesDone = false;

  constructor(
    readonly paths: CgroupPaths,
    private readonly options: V1ManagerOptions = {},
  ) {}

  private dirOf(controller: string): string {
    const dir = this.paths[controller];
    if (dir === undefined) {
      const name = controller === '' ? 'cgroup2 (unified)' : controller;
      throw new TsruncError(`config.json: /linux/resources: needs the ${name} cgroup controller, which this host does not mount`);
    }
    return dir;
  }

  create(): void {
    for (const [controller, dir] of Object.entries(this.paths)) {
      makeDirs(dir);
      if (controller === 'cpuset') fillCpuset(dir);
    }
  }

  plan(resources: OciResources): PlannedCgroupWrite[] {
    return this.writesFor(resources).writes.map((w) => ({ dir: this.paths[w.controller] ?? `(no ${w.controller || 'unified'} hierarchy)`, file: w.file, value: w.value }));
  }

  private writesFor(resources: OciResources): { writes: CgroupWrite[]; warnings: string[] } {
    const memory = this.paths['memory'];
    const blkio = this.paths['blkio'];
    const unified = this.paths[''];
    const unifiedHasHugetlb = unified !== undefined && this.paths['hugetlb'] === undefined &&
      (readCgroupFile(this.options.unifiedMountPoint ?? path.dirname(unified), 'cgroup.controllers') ?? '').split(/\s+/).includes('hugetlb');
    const plan = planResourcesV1(resources, {
      currentMemoryLimit: memory ? readCgroupNumber(memory, 'memory.limit_in_bytes') : undefined,
      swapAccounting: memory !== undefined && fs.existsSync(path.join(memory, 'memory.memsw.limit_in_bytes')),
      bfqWeight: blkio !== undefined && !fs.existsSync(path.join(blkio, 'blkio.weight')) && fs.existsSync(path.join(blkio, 'blkio.bfq.weight')),
      hugetlbOnUnified: unifiedHasHugetlb,
    });
    const writes: CgroupWrite[] = [];
    if (this.options.deviceRules && !this.devicesDone) writes.push(...planDevicesV1(this.options.deviceRules));
    writes.push(...plan.writes);
    return { writes, warnings: plan.warnings };
  }

  apply(resources: OciResources): void {
    const { writes, warnings } = this.writesFor(resources);
    for (const write of writes) this.dirOf(write.controller); // every controller there before any write
    for (const warning of warnings) logWarning(warning);
    if (writes.some((w) => w.controller === '' && w.file.startsWith('hugetlb.'))) this.enableOnUnified('hugetlb');
    applyWrites(writes, (controller) => this.dirOf(controller));
    this.devicesDone = true;
  }

  /** "+controller" in cgroup.subtree_control of every level above the container's cgroup2 directory. */
  private enableOnUnified(controller: string): void {
    const leaf = this.dirOf('');
    const top = this.options.unifiedMountPoint;
    if (top === undefined || !leaf.startsWith(`${top}/`)) {
      throw new TsruncError(`cgroup: cannot enable ${controller} above ${leaf}: not under the cgroup2 mount`);
    }
    let dir = top;
    const levels = [top];
    for (const part of path.relative(top, path.dirname(leaf)).split('/').filter((p) => p !== '')) {
      dir = path.join(dir, part);
      levels.push(dir);
    }
    for (const dir of levels) {
      const enabled = (readCgroupFile(dir, 'cgroup.subtree_control') ?? '').split(/\s+/);
      if (!enabled.includes(controller)) writeCgroupFile(dir, 'cgroup.subtree_control', `+${controller}`);
    }
  }

  join(pid: number): void {
    for (const dir of uniqueDirs(this.paths)) writeCgroupFile(dir, 'cgroup.procs', String(pid));
  }

  private pidsDir(): string {
    const dir = this.paths['devices'] ?? this.paths['pids'] ?? this.paths['freezer'] ?? uniqueDirs(this.paths)[0];
    if (dir === undefined) throw new TsruncError('cgroup: the container has no cgroup directory');
    return dir;
  }

  pids(): number[] {
    return pidsUnder(this.pidsDir());
  }

  private freezerDir(): string {
    const dir = this.paths['freezer'];
    if (dir === undefined) throw new TsruncError('cgroup: this host does not mount the freezer controller');
    return dir;
  }

  /** runc's loop: FREEZING can stall while tasks sleep in the kernel; thaw and retry now and then. */
  freeze(): void {
    const dir = this.freezerDir();
    try {
      for (let attempt = 0; attempt < 1000; attempt++) {
        if (attempt % 50 === 49) {
          writeCgroupFile(dir, 'freezer.state', 'THAWED');
          sleepSync(10);
        }
        writeCgroupFile(dir, 'freezer.state', 'FROZEN');
        if (attempt % 25 === 24) sleepSync(1);
        const state = (readCgroupFile(dir, 'freezer.state') ?? '').trim();
        if (state === 'FROZEN') return;
        if (state !== 'FREEZING') throw new TsruncError(`cgroup: unexpected freezer state "${state}" in ${dir} while freezing`);
      }
      throw new TsruncError(`cgroup: ${dir} did not freeze`);
    } catch (error) {
      try {
        writeCgroupFile(dir, 'freezer.state', 'THAWED');
      } catch {
        // the error above is the one to report
      }
      throw error;
    }
  }

  thaw(): void {
    writeCgroupFile(this.freezerDir(), 'freezer.state', 'THAWED');
  }

  isFrozen(): boolean {
    const dir = this.paths['freezer'];
    return dir !== undefined && isFrozenV1(dir);
  }

  stats(): CgroupStats {
    const stats = emptyStats();
    cpuStatsV1(this.paths['cpuacct'], this.paths['cpu'], stats);
    if (this.paths['memory']) memoryStatsV1(this.paths['memory'], stats);
    if (this.paths['pids']) pidsStats(this.paths['pids'], stats);
    if (this.paths['blkio']) blkioStatsV1(this.paths['blkio'], stats);
    if (this.paths['hugetlb']) hugetlbStatsV1(this.paths['hugetlb'], stats);
    else if (this.paths['']) hugetlbStatsV2(this.paths[''], stats);
    return stats;
  }

  watchOom(): OomWatcher {
    const memory = this.paths['memory'];
    return memory === undefined ? noOomWatcher : new OomWatcherV1(memory);
  }

  destroy(): void {
    const errors: string[] = [];
    for (const dir of uniqueDirs(this.paths)) {
      try {
        removeCgroupDir(dir);
      } catch (error) {
        errors.push((error as Error).message);
      }
    }
    if (errors.length > 0) throw new TsruncError(errors.join('; '));
  }
}
