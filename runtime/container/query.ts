/** `tsrunc state` and `tsrunc list`: read-only views of the state store. */
import { TsruncError } from '../errors.js';
import { containerDir, listContainerIds, openContainer, readState } from './state-store.js';
import { ociStateView } from './status.js';
import { validateId } from './id.js';

export function containerState(root: string, id: string): Record<string, unknown> {
  validateId(id);
  const { lock, state } = openContainer(root, id);
  try {
    return ociStateView(state, lock.dir);
  } finally {
    lock.release();
  }
}

export function listContainers(root: string): Record<string, unknown>[] {
  const views: Record<string, unknown>[] = [];
  for (const id of listContainerIds(root)) {
    try {
      views.push(ociStateView(readState(containerDir(root, id), id), containerDir(root, id)));
    } catch (error) {
      // A container deleted while listing is simply no longer there.
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
