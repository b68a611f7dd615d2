/**
 * `tsrunc delete`: remove a stopped container; --force kills a created or running one first.
 * runc also deletes a created container without --force; the runtime-spec says deleting a
 * container that is not stopped MUST fail, and we follow the spec. An unknown id is an
 * error, except with --force (runc's behaviour).
 *
 * --force also removes what a crash left: a directory without state.json (a create that died
 * before writing it) or with a damaged one, through the recovery record written before the
 * cgroup and the init existed. Every pid is acted on only while it is still the process that
 * was recorded (its start time, its pidfd), and a saved cgroup only once it checks out as this
 * container's (linux/cgroups/saved.ts).
 */
import type { TsruncState } from '../spec/state.js';
import { TsruncError } from '../errors.js';
import { killAndWait } from '../linux/process-exit.js';
import { pollUntil } from '../linux/wait.js';
import { lockContainerDir, removeContainerDir, removeNonDirectoryEntry, type LockedDir } from './state-store.js';
import { readStateAt } from './state-files.js';
import { RECOVERY_FILE, readRecoveryRecord } from './recovery-record.js';
import {
  cgroupManagerFromPaths, savedCgroupProblem, signalAllInCgroup, type CgroupManager, type SavedCgroup,
} from '../linux/cgroups/index.js';
import { containerStatus } from './status.js';
import { hookState, runHooksWarnOnly } from './hooks.js';
import { logWarning } from '../log.js';
import { step } from '../steps.js';

const KILL_WAIT_MS = 10_000;
const SIGKILL = 9;

export function deleteContainer(root: string, id: string, force: boolean): void {
  const lock = lockContainerDir(root, id);
  if (!lock) {
    if (!force) throw new TsruncError(`container ${id} does not exist`);
    removeNonDirectoryEntry(root, id); // a symlink or file in its place: only that entry goes
    return;
  }
  let deleted: TsruncState | undefined;
  try {
    step('delete:locked');
    let state: TsruncState | undefined;
    try {
      state = readStateAt(lock.fd, id);
    } catch (error) {
      if (!force) {
        const damaged = error instanceof TsruncError && error.message !== `container ${id} does not exist`;
        throw damaged ? new TsruncError(`${error.message} (delete --force removes what is left of it)`) : error;
      }
    }
    if (state) {
      removeRecorded(lock, root, state, force);
      deleted = state;
    } else {
      removeUnrecorded(lock, root, id);
    }
  } finally {
    lock.release();
  }
  // runtime.md Lifecycle step 13: after the container is deleted, before delete returns.
  if (deleted) runHooksWarnOnly('poststop', deleted.config?.hooks?.poststop, hookState(deleted, 'stopped'), logWarning);
}

/** A container with a readable state.json. */
function removeRecorded(lock: LockedDir, root: string, state: TsruncState, force: boolean): void {
  const status = containerStatus(state, lock.dir);
  if (status !== 'stopped' && !force) {
    throw new TsruncError(`cannot delete container ${state.id} that is not stopped: ${status}`);
  }
  const cgroups = recordedCgroups(lock, state, root, force);
  if (status !== 'stopped') {
    // Through the cgroup first: a paused container's processes only die once thawed.
    if (cgroups) signalAllInCgroup(cgroups, SIGKILL);
    killInit(state.id, state.pid, state.initStartTime);
  }
  step('delete:killed');
  if (cgroups) emptyAndRemove(state.id, cgroups);
  step('delete:cgroup-removed');
  removeContainerDir(lock, () => step('delete:state-removed'));
}

/** delete --force of a directory whose state.json is missing or damaged: what the recovery record names. */
function removeUnrecorded(lock: LockedDir, root: string, id: string): void {
  const record = readRecoveryRecord(lock.dir);
  if (record?.init) killInit(id, record.init.pid, record.init.startTime);
  // Without a record no cgroup was made: create writes it before it makes one.
  const cgroups = record ? usableManager({ id, cgroupsPath: record.cgroupsPath, paths: record.cgroupPaths, systemd: record.systemdScope }, root) : undefined;
  if (cgroups) {
    signalAllInCgroup(cgroups, SIGKILL);
    emptyAndRemove(id, cgroups);
  }
  removeContainerDir(lock);
}

/**
 * The cgroup state.json names, once it checks out as this container's. One that does not is
 * refused; with --force it is left alone (with a warning) and the recovery record's, if that
 * one checks out, is removed instead.
 */
function recordedCgroups(lock: LockedDir, state: TsruncState, root: string, force: boolean): CgroupManager | undefined {
  const paths = state.cgroupPaths;
  if (!paths || Object.keys(paths).length === 0) return undefined;
  const saved: SavedCgroup = { id: state.id, cgroupsPath: state.config?.linux?.cgroupsPath, paths, systemd: state.systemdScope };
  const problem = savedCgroupProblem(saved, paths, root);
  if (problem === undefined) return cgroupManagerFromPaths(paths, saved.systemd);
  const message = `container ${state.id}: state.json /cgroupPaths: ${problem}`;
  if (!force) throw new TsruncError(`${message}; refusing to act on it`);
  const record = readRecoveryRecord(lock.dir);
  const fromRecord = record?.id === state.id ? usableManager({ id: state.id, cgroupsPath: record.cgroupsPath, paths: record.cgroupPaths, systemd: record.systemdScope }, root) : undefined;
  logWarning(`${message}; left alone${fromRecord ? `; removing the cgroup ${RECOVERY_FILE} names instead` : ''}`);
  return fromRecord;
}

/** The manager of saved paths that check out as the container's, else undefined. */
function usableManager(saved: SavedCgroup, root: string): CgroupManager | undefined {
  const paths = saved.paths;
  if (!paths || Object.keys(paths).length === 0) return undefined;
  const problem = savedCgroupProblem(saved, paths, root);
  if (problem === undefined) return cgroupManagerFromPaths(paths, saved.systemd);
  logWarning(`container ${saved.id}: ${RECOVERY_FILE} /cgroupPaths: ${problem}; left alone`);
  return undefined;
}

function killInit(id: string, pid: number, startTime: number): void {
  if (!killAndWait(pid, startTime, KILL_WAIT_MS)) {
    throw new TsruncError(`container ${id}: init (pid ${pid}) did not die after SIGKILL`);
  }
}

/** Whatever outlived the init (a shared PID namespace lets its children live on) goes, then the cgroup. */
function emptyAndRemove(id: string, cgroups: CgroupManager): void {
  if (cgroups.pids().length > 0) {
    signalAllInCgroup(cgroups, SIGKILL);
    // Polled: a v1 cgroup tells nobody when it empties (v2's cgroup.events would).
    if (!pollUntil(() => cgroups.pids().length === 0, KILL_WAIT_MS)) {
      throw new TsruncError(`container ${id}: processes ${cgroups.pids().join(' ')} of its cgroup did not die after SIGKILL`);
    }
  }
  cgroups.destroy();
}
