/**
 * Reading the state store without locking: paths, state.json and the list of ids. Kept apart
 * from state-store.ts (which locks, through libc) so that `state`, `list` and `kill` never
 * load koffi: state.json is replaced atomically, so a reader never sees half of one.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { TsruncState } from '../spec/state.js';
import { TsruncError } from '../errors.js';

export const STATE_FILE = 'state.json';
export const EXEC_FIFO = 'exec.fifo';

export function containerDir(root: string, id: string): string {
  return path.join(path.resolve(root), id);
}

export function readState(dir: string, id: string): TsruncState {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, STATE_FILE), 'utf8')) as TsruncState;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new TsruncError(`container ${id} does not exist`);
    throw new TsruncError(`reading the state of container ${id}: ${(error as Error).message}`);
  }
}

/** Every directory under `root`, sorted: ids, whether or not their state.json exists yet. */
export function listContainerDirs(root: string): string[] {
  try {
    return fs
      .readdirSync(path.resolve(root), { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name)
      .sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}
