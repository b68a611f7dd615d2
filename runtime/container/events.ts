/**
 * `tsrunc events`: runc's events, one JSON object per line. With --stats, one stats event.
 * Without, as runc: a stats event every --interval and an oom event at each OOM kill in the
 * container's cgroup, until the container stops or is deleted.
 */
import { TsruncError } from '../errors.js';
import { openContainer, readState, containerDir } from './state-store.js';
import { containerStatus } from './status.js';
import { cgroupOf } from './cgroup-of.js';
import type { OomWatcher } from '../linux/cgroups/manager.js';
import type { TsruncState } from '../spec/state.js';

/** runc's types.Event: "data" only on stats events (omitempty), fields in this order. */
export type ContainerEvent = { type: 'stats'; id: string; data: unknown } | { type: 'oom'; id: string };
export type StatsEvent = Extract<ContainerEvent, { type: 'stats' }>;

/**
 * How often the OOM watcher and the container's status are looked at. Both are nonblocking
 * reads (the v1 eventfd, v2's memory.events, state.json and /proc), so a timer is all that
 * is needed: no thread, nothing that keeps Node from exiting when the container is gone. An
 * oom line comes out at most this late.
 */
const POLL_MS = 100;

export function statsEvent(root: string, id: string): StatsEvent {
  const { lock, state } = openContainer(root, id);
  try {
    if (containerStatus(state, lock.dir) === 'stopped') throw new TsruncError(`container ${id} is not running`);
    return { type: 'stats', id, data: cgroupOf(state, 'events', root).stats() };
  } finally {
    lock.release();
  }
}

/** False once the container has stopped or its directory is gone (deleted meanwhile). */
function stillThere(root: string, id: string): boolean {
  let state: TsruncState;
  try {
    state = readState(containerDir(root, id), id);
  } catch (error) {
    if (error instanceof TsruncError && /does not exist/.test(error.message)) return false;
    throw error;
  }
  return containerStatus(state, containerDir(root, id)) !== 'stopped';
}

/**
 * Calls `emit` with a stats event every `intervalMs` (the first one interval after the start,
 * as runc's ticker), and with an oom event for each OOM kill, until the container stops. An
 * OOM kill that stopped the container (its init killed) is still reported: the watcher is
 * read before the status.
 */
export async function streamEvents(root: string, id: string, intervalMs: number, emit: (event: ContainerEvent) => void): Promise<void> {
  const { lock, state } = openContainer(root, id);
  let watcher: OomWatcher;
  try {
    if (containerStatus(state, lock.dir) === 'stopped') throw new TsruncError(`container ${id} is not running`);
    watcher = cgroupOf(state, 'events', root).watchOom();
  } finally {
    lock.release();
  }
  try {
    let nextStats = Date.now() + intervalMs;
    for (;;) {
      for (let kills = watcher.take(); kills > 0; kills--) emit({ type: 'oom', id });
      if (!stillThere(root, id)) return;
      if (Date.now() >= nextStats) {
        let stats: StatsEvent;
        try {
          stats = statsEvent(root, id);
        } catch (error) {
          // stopped or deleted since stillThere(): the end of the stream, not an error
          if (!stillThere(root, id)) return;
          throw error;
        }
        emit(stats);
        nextStats = Date.now() + intervalMs;
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(POLL_MS, Math.max(0, nextStats - Date.now()))));
    }
  } finally {
    watcher.close();
  }
}
