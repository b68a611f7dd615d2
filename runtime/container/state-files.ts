/**
 * Reading the state store without locking: paths, state.json and the list of ids. Kept apart
 * from state-store.ts (which locks, through libc) so that `state`, `list` and `kill` never
 * load koffi: state.json is replaced atomically, so a reader never sees half of one.
 *
 * A container's directory is only ever reached as a real directory: `<root>/<id>` is opened
 * with O_NOFOLLOW, and its files are read through that fd, so a symlink put in its place
 * leads nowhere.
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

const DIRECTORY_NO_FOLLOW = fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW;

/** `dir` opened as a directory itself, never through a symlink; undefined when it is not one. */
export function openContainerDir(dir: string): number | undefined {
  try {
    return fs.openSync(dir, DIRECTORY_NO_FOLLOW);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // ELOOP: a symlink (O_NOFOLLOW); ENOTDIR: a file.
    if (code === 'ENOENT' || code === 'ELOOP' || code === 'ENOTDIR') return undefined;
    throw new TsruncError(`opening state directory ${dir}: ${(error as Error).message}`);
  }
}

/** A path that reaches `name` in the directory open at `fd`, whatever happens to its name meanwhile. */
export function inDirFd(fd: number, name: string): string {
  return `/proc/self/fd/${fd}/${name}`;
}

/** Parses state.json's text; throws the error `state` and `delete` print for a damaged one. */
export function parseState(text: string, id: string): TsruncState {
  try {
    const state: unknown = JSON.parse(text);
    if (typeof state !== 'object' || state === null || Array.isArray(state)) throw new Error('not a JSON object');
    return state as TsruncState;
  } catch (error) {
    throw new TsruncError(`reading the state of container ${id}: ${STATE_FILE}: ${(error as Error).message}`);
  }
}

/** state.json of the container directory open at `fd`. */
export function readStateAt(fd: number, id: string): TsruncState {
  let text: string;
  try {
    text = fs.readFileSync(inDirFd(fd, STATE_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new TsruncError(`container ${id} does not exist`);
    throw new TsruncError(`reading the state of container ${id}: ${(error as Error).message}`);
  }
  return parseState(text, id);
}

export function readState(dir: string, id: string): TsruncState {
  const fd = openContainerDir(dir);
  if (fd === undefined) throw new TsruncError(`container ${id} does not exist`);
  try {
    return readStateAt(fd, id);
  } finally {
    fs.closeSync(fd);
  }
}

/** Every directory under `root` (never a symlink), sorted: ids, whether or not their state.json exists yet. */
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
