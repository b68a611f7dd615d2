/**
 * Checking the cgroup paths a container's state.json keeps before any command acts on them:
 * they must be what tsrunc makes for that id and cgroupsPath (cgroupPathsProblem) and lie on a
 * cgroup filesystem. A forged path would otherwise have a command signal whatever pids a file
 * lists, or remove directories elsewhere.
 */
import fs from 'node:fs';
import path from 'node:path';
import { TsruncError } from '../../errors.js';
import type { CgroupPaths, SystemdScope } from './manager.js';
import { cgroupPathsProblem, defaultCgroupsPath } from './path.js';
import { systemdUnitFor } from '../systemd/unit-name.js';

const CGROUP_SUPER_MAGIC = 0x27e0eb;
const CGROUP2_SUPER_MAGIC = 0x63677270;

/** The systemd scope a container's cgroup is (state.json /systemdScope). */
export type SavedSystemdScope = SystemdScope;

/** What a container's record says of its cgroup. */
export interface SavedCgroup {
  id: string;
  /** config.json's /linux/cgroupsPath, if it had one. */
  cgroupsPath: string | undefined;
  paths: CgroupPaths | undefined;
  /** Set when the systemd driver made the cgroup. */
  systemd?: SavedSystemdScope | undefined;
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

/**
 * The systemd driver's saved scope and path must be the ones cgroupsPath gives: the same unit
 * in the same slice, one cgroup2 directory ending with the slice's path and the unit.
 */
function systemdPathsProblem(paths: CgroupPaths, scope: SavedSystemdScope, cgroupsPath: string | undefined, defaultName: string): string | undefined {
  let expected;
  try {
    expected = systemdUnitFor(cgroupsPath, defaultName);
  } catch (error) {
    return (error as Error).message;
  }
  if (scope.unit !== expected.unit || scope.slice !== expected.slice) return `the scope ${scope.unit} in ${scope.slice} is not ${expected.unit} in ${expected.slice}`;
  const keys = Object.keys(paths);
  const dir = paths[''];
  if (keys.length !== 1 || typeof dir !== 'string') return 'a systemd scope has one cgroup v2 directory';
  if (!dir.startsWith('/') || path.posix.normalize(dir) !== dir || !dir.endsWith(expected.cgroup)) return `${JSON.stringify(dir)} is not the cgroup of ${expected.unit}`;
  return undefined;
}

/** Why the saved paths are not this container's cgroup, or undefined when they may be used. */
export function savedCgroupProblem(saved: SavedCgroup, paths: CgroupPaths, stateRoot: string): string | undefined {
  const problem = saved.systemd
    ? systemdPathsProblem(paths, saved.systemd, saved.cgroupsPath, defaultCgroupsPath(saved.id, stateRoot))
    : cgroupPathsProblem(paths, saved.cgroupsPath || defaultCgroupsPath(saved.id, stateRoot));
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
