/**
 * A container's status is derived, never trusted from disk: the init's liveness, its cgroup's
 * freezer (paused) and exec.fifo.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { TsruncState } from '../spec/state.js';
import { readProcStat } from '../linux/proc-stat.js';
import { isCgroupFrozen } from '../linux/cgroups/frozen.js';
import { EXEC_FIFO } from './state-files.js';

export type ContainerStatus = 'created' | 'running' | 'stopped' | 'paused';

/** The stage's name until it execs the container's process (runtime/native/run.c). */
const WAITING_INIT_NAME = 'tsrunc:init';

export function containerStatus(state: TsruncState, dir: string): ContainerStatus {
  const init = state.pid ? readProcStat(state.pid) : undefined;
  if (!init || init.startTime !== state.initStartTime || init.state === 'Z' || init.state === 'X') return 'stopped';
  if (state.cgroupPaths && Object.keys(state.cgroupPaths).length > 0 && isCgroupFrozen(state.cgroupPaths)) {
    return 'paused';
  }
  // exec.fifo outlives a `start` that died after releasing the init: then the init has exec'd.
  return init.name === WAITING_INIT_NAME && fs.existsSync(path.join(dir, EXEC_FIFO)) ? 'created' : 'running';
}

/** The OCI state as `tsrunc state` prints it (runc's field order; pid 0 once stopped). */
export function ociStateView(state: TsruncState, dir: string): Record<string, unknown> {
  const status = containerStatus(state, dir);
  const view: Record<string, unknown> = {
    ociVersion: state.ociVersion,
    id: state.id,
    pid: status === 'stopped' ? 0 : state.pid,
    status,
    bundle: state.bundle,
    rootfs: state.rootfs,
    created: state.created,
    owner: state.owner ?? '',
  };
  if (state.annotations && Object.keys(state.annotations).length > 0) view['annotations'] = state.annotations;
  return view;
}
