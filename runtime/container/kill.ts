/**
 * `tsrunc kill`: send a signal to the container's init (its PID 1), or with --all to every
 * process of the container: every process in its cgroup. A container saved without cgroup
 * paths (made by an older tsrunc) falls back to the processes of its own PID namespace.
 */
import fs from 'node:fs';
import { TsruncError } from '../errors.js';
import { containerDir, readState } from './state-files.js';
import { containerStatus } from './status.js';

function pidNamespaceOf(pid: number): string | undefined {
  try {
    return fs.readlinkSync(`/proc/${pid}/ns/pid`);
  } catch {
    return undefined;
  }
}

/** Every process in the PID namespace the init leads (the init first). */
function processesInPidNamespace(initPid: number): number[] {
  const namespace = pidNamespaceOf(initPid);
  if (namespace === undefined) return [];
  const pids = fs
    .readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => pid !== initPid && pidNamespaceOf(pid) === namespace);
  return [initPid, ...pids];
}

/**
 * Without the lock, as runc: a signal cannot wait for another command, and the init's start
 * time (containerStatus) keeps a reused pid from being signalled. The cgroup code (and koffi
 * with it) is loaded only for --all.
 */
export async function killContainer(root: string, id: string, signal: number, all: boolean): Promise<void> {
  const dir = containerDir(root, id);
  const state = readState(dir, id);
  const stopped = containerStatus(state, dir) === 'stopped';
  // runc: the init of a stopped container cannot be signalled, but --all still succeeds there,
  // signalling what may be left in its cgroup (nothing, when it had its own PID namespace).
  if (stopped && !all) throw new TsruncError(`cannot kill container ${id}: container not running`);
  let targets = [state.pid];
  if (all && state.cgroupPaths && Object.keys(state.cgroupPaths).length > 0) {
    const { cgroupManagerFromPaths, checkedCgroupPaths, signalAllInCgroup } = await import('../linux/cgroups/index.js');
    const saved = { id, cgroupsPath: state.config?.linux?.cgroupsPath, paths: state.cgroupPaths, systemd: state.systemdScope };
    const paths = checkedCgroupPaths(saved, root)!;
    signalAllInCgroup(cgroupManagerFromPaths(paths, saved.systemd), signal);
    return;
  }
  if (stopped) return;
  if (all) {
    const ownsPidNamespace = (state.config.linux?.namespaces ?? []).some((ns) => ns.type === 'pid' && !ns.path);
    if (!ownsPidNamespace) {
      throw new TsruncError(`kill --all: container ${id} has no saved cgroup and shares its PID namespace: cannot find its processes`);
    }
    targets = processesInPidNamespace(state.pid);
  }
  for (const pid of targets) {
    try {
      process.kill(pid, signal);
    } catch (error) {
      // A process that exits meanwhile is fine; failing to signal the init is not.
      if (pid === state.pid) {
        throw new TsruncError(`sending signal ${signal} to container ${id} (pid ${pid}): ${(error as NodeJS.ErrnoException).code}`);
      }
    }
  }
}
