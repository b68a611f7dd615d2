/** The cgroup manager of an existing container, rebuilt from the paths saved in state.json. */
import type { TsruncState } from '../spec/state.js';
import { TsruncError } from '../errors.js';
import type { CgroupManager } from '../linux/cgroups/manager.js';
import { cgroupManagerFromPaths } from '../linux/cgroups/index.js';

export function cgroupOf(state: TsruncState, verb: string): CgroupManager {
  const paths = state.cgroupPaths;
  if (!paths || Object.keys(paths).length === 0) {
    throw new TsruncError(`${verb}: container ${state.id} has no cgroup`);
  }
  return cgroupManagerFromPaths(paths);
}
