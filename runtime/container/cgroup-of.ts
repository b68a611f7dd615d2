/** The cgroup manager of an existing container, from the paths saved in state.json once checked. */
import type { TsruncState } from '../spec/state.js';
import { TsruncError } from '../errors.js';
import type { CgroupManager } from '../linux/cgroups/manager.js';
import { cgroupManagerFromPaths, checkedCgroupPaths, type SavedCgroup } from '../linux/cgroups/index.js';

export function savedCgroupOf(state: TsruncState): SavedCgroup {
  return { id: state.id, cgroupsPath: state.config?.linux?.cgroupsPath, paths: state.cgroupPaths, systemd: state.systemdScope };
}

export function cgroupOf(state: TsruncState, verb: string, root: string): CgroupManager {
  const saved = savedCgroupOf(state);
  const paths = checkedCgroupPaths(saved, root);
  if (!paths) throw new TsruncError(`${verb}: container ${state.id} has no cgroup`);
  return cgroupManagerFromPaths(paths, saved.systemd);
}
