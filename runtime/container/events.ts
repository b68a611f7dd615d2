/**
 * `tsrunc events`: resource statistics in runc's event format, one JSON object per line:
 * once with --stats, else every --interval until the container stops.
 */
import { TsruncError } from '../errors.js';
import { openContainer, readState, containerDir } from './state-store.js';
import { containerStatus } from './status.js';
import { cgroupOf } from './cgroup-of.js';

export interface StatsEvent {
  type: 'stats';
  id: string;
  data: unknown;
}

export function statsEvent(root: string, id: string): StatsEvent {
  const { lock, state } = openContainer(root, id);
  try {
    if (containerStatus(state, lock.dir) === 'stopped') throw new TsruncError(`container ${id} is not running`);
    return { type: 'stats', id, data: cgroupOf(state, 'events', root).stats() };
  } finally {
    lock.release();
  }
}

/** Calls `emit` with a stats event every `intervalMs` until the container stops. */
export async function streamStats(root: string, id: string, intervalMs: number, emit: (event: StatsEvent) => void): Promise<void> {
  for (;;) {
    emit(statsEvent(root, id));
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
    const state = readState(containerDir(root, id), id);
    if (containerStatus(state, containerDir(root, id)) === 'stopped') return;
  }
}
