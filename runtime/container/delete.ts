/**
 * `tsrunc delete`: remove a stopped container; --force kills a created or running one first.
 * runc also deletes a created container without --force; the runtime-spec says deleting a
 * container that is not stopped MUST fail, and we follow the spec. An unknown id is an
 * error, except with --force (runc's behaviour).
 */
import fs from 'node:fs';
import path from 'node:path';
import { TsruncError } from '../errors.js';
import { waitForExit } from '../linux/process-exit.js';
import { pollUntil } from '../linux/wait.js';
import { STATE_FILE, containerDir, openContainer, removeContainerDir } from './state-store.js';
import { cgroupManagerFromPaths, signalAllInCgroup } from '../linux/cgroups/index.js';
import { containerStatus } from './status.js';
import { hookState, runHooksWarnOnly } from './hooks.js';
import { logWarning } from '../log.js';

const KILL_WAIT_MS = 10_000;
const SIGKILL = 9;

export function deleteContainer(root: string, id: string, force: boolean): void {
  const dir = containerDir(root, id);
  if (!fs.existsSync(path.join(dir, STATE_FILE))) {
    if (force) {
      removeContainerDir(dir); // a half-made directory, if any
      return;
    }
    throw new TsruncError(`container ${id} does not exist`);
  }
  const { lock, state } = openContainer(root, id);
  try {
    const status = containerStatus(state, lock.dir);
    if (status !== 'stopped' && !force) {
      throw new TsruncError(`cannot delete container ${id} that is not stopped: ${status}`);
    }
    const cgroups = state.cgroupPaths && Object.keys(state.cgroupPaths).length > 0 ? cgroupManagerFromPaths(state.cgroupPaths) : undefined;
    if (status !== 'stopped') {
      // Through the cgroup first: a paused container's processes only die once thawed.
      if (cgroups) signalAllInCgroup(cgroups, SIGKILL);
      try {
        process.kill(state.pid, 'SIGKILL');
      } catch {
        // already gone between the check and the kill
      }
      if (!waitForExit(state.pid, state.initStartTime, KILL_WAIT_MS)) {
        throw new TsruncError(`container ${id}: init (pid ${state.pid}) did not die after SIGKILL`);
      }
    }
    if (cgroups) {
      // Whatever outlived the init (a shared PID namespace lets its children live on) goes too.
      if (cgroups.pids().length > 0) {
        signalAllInCgroup(cgroups, SIGKILL);
        // Polled: a v1 cgroup tells nobody when it empties (v2's cgroup.events would).
        if (!pollUntil(() => cgroups.pids().length === 0, KILL_WAIT_MS)) {
          throw new TsruncError(`container ${id}: processes ${cgroups.pids().join(' ')} of its cgroup did not die after SIGKILL`);
        }
      }
      cgroups.destroy();
    }
    removeContainerDir(lock.dir);
  } finally {
    lock.release();
  }
  // runtime.md Lifecycle step 13: after the container is deleted, before delete returns.
  runHooksWarnOnly('poststop', state.config.hooks?.poststop, hookState(state, 'stopped'), logWarning);
}
