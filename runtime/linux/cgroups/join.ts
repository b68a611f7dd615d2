/**
 * Moving a process into a container's cgroups, and nothing else: what `tsrunc exec` needs, in a
 * module of its own so that exec does not load the managers (limits, stats, the device filter).
 */
import type { CgroupPaths } from './manager.js';
import { writeCgroupFile } from './files.js';

/** Writes `pid` to cgroup.procs of each directory (v1: one per hierarchy, v2: the one). */
export function joinCgroups(paths: CgroupPaths, pid: number): void {
  for (const dir of new Set(Object.keys(paths).sort().map((key) => paths[key]!))) writeCgroupFile(dir, 'cgroup.procs', String(pid));
}
