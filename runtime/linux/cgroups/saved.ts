/**
 * Checking the cgroup paths a container's state.json keeps before any command acts on them:
 * they must be what tsrunc makes for that id and cgroupsPath (cgroupPathsProblem) and lie on a
 * cgroup filesystem. A forged path would otherwise have a command signal whatever pids a file
 * lists, or remove directories elsewhere.
 */
import fs from 'node:fs';
import { TsruncError } from '../../errors.js';
import type { CgroupPaths } from './manager.js';
import { cgroupPathsProblem, defaultCgroupsPath } from './path.js';

const CGROUP_SUPER_MAGIC = 0x27e0eb;
const CGROUP2_SUPER_MAGIC = 0x63677270;

/** What a container's record says of its cgroup. */
export interface SavedCgroup {
  id: string;
  /** config.json's /linux/cgroupsPath, if it had one. */
  cgroupsPath: string | undefined;
  paths: CgroupPaths | undefined;
}

function onCgroupFilesystem(dir: string): boolean {
  try {
    const type = fs.statfsSync(dir).type;
    return type === CGROUP_SUPER_MAGIC || type === CGROUP2_SUPER_MAGIC;
  } catch (error) {
    // Gone already (an earlier delete removed it): nothing there to act on, nothing wrong.
    return (error as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

/** Why the saved paths are not this container's cgroup, or undefined when they may be used. */
export function savedCgroupProblem(saved: SavedCgroup, paths: CgroupPaths, stateRoot: string): string | undefined {
  const problem = cgroupPathsProblem(paths, saved.cgroupsPath || defaultCgroupsPath(saved.id, stateRoot));
  if (problem) return problem;
  const elsewhere = Object.values(paths).find((dir) => !onCgroupFilesystem(dir));
  return elsewhere === undefined ? undefined : `${elsewhere} is not on a cgroup filesystem`;
}

/** The checked paths; undefined when none were saved; a TsruncError when they are not the container's. */
export function checkedCgroupPaths(saved: SavedCgroup, stateRoot: string): CgroupPaths | undefined {
  const paths = saved.paths;
  if (!paths || Object.keys(paths).length === 0) return undefined;
  const problem = savedCgroupProblem(saved, paths, stateRoot);
  if (problem) throw new TsruncError(`container ${saved.id}: state.json /cgroupPaths: ${problem}; refusing to act on it`);
  return paths;
}
