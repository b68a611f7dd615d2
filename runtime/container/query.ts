/** `tsrunc state` and `tsrunc list`: read-only views of the state store. */
import { TsruncError } from '../errors.js';
import { containerDir, listContainerDirs, readState } from './state-files.js';
import { ociStateView } from './status.js';
import { validateId } from './id.js';

/** Without the lock (as runc): state.json is replaced atomically and the status is derived afresh. */
export function containerState(root: string, id: string): Record<string, unknown> {
  validateId(id);
  const dir = containerDir(root, id);
  return ociStateView(readState(dir, id), dir);
}

/**
 * Every container's state, each read once and without the lock: per container one read of
 * state.json, of the init's /proc/PID/stat, of its freezer state and a look for exec.fifo.
 */
export function listContainers(root: string): Record<string, unknown>[] {
  const views: Record<string, unknown>[] = [];
  for (const id of listContainerDirs(root)) {
    const dir = containerDir(root, id);
    try {
      views.push(ociStateView(readState(dir, id), dir));
    } catch (error) {
      // Half made (no state.json yet) or deleted while listing: not there.
      if (!(error instanceof TsruncError)) throw error;
    }
  }
  return views;
}

/** runc's table (Go tabwriter: minwidth 12, padding 3): columns at least 12 wide, 3 spaces after the widest cell. */
export function formatTable(states: Record<string, unknown>[]): string {
  const header = ['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER'];
  const rows = states.map((s) => [s['id'], s['pid'], s['status'], s['bundle'], s['created'], s['owner']].map(String));
  const all = [header, ...rows];
  const widths = header.map((_, column) => Math.max(12, ...all.map((row) => row[column]!.length + 3)));
  return all
    .map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join(''))
    .join('\n')
    .concat('\n');
}
