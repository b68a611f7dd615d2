/**
 * The state store under --root: one directory per container holding state.json (written
 * atomically) and, until start, exec.fifo. Commands on one id hold an flock on its directory.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { TsruncState } from '../spec/state.js';
import { TsruncError } from '../errors.js';
import * as libc from '../linux/libc.js';

export const STATE_FILE = 'state.json';
export const EXEC_FIFO = 'exec.fifo';

export interface LockedDir {
  dir: string;
  release(): void;
}

function lockDir(dir: string, id: string): LockedDir {
  const fd = fs.openSync(dir, 'r');
  try {
    libc.flock(fd, libc.LOCK_EX, `locking container ${id}`);
  } catch (error) {
    fs.closeSync(fd);
    throw error;
  }
  let released = false;
  return {
    dir,
    release() {
      if (!released) fs.closeSync(fd);
      released = true;
    },
  };
}

export function containerDir(root: string, id: string): string {
  return path.join(path.resolve(root), id);
}

/** Makes the directory for a new id, refusing one that exists, and locks it. */
export function createContainerDir(root: string, id: string): LockedDir {
  fs.mkdirSync(path.resolve(root), { recursive: true, mode: 0o700 });
  const dir = containerDir(root, id);
  try {
    fs.mkdirSync(dir, { mode: 0o711 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new TsruncError(`container with id exists: ${id}`);
    }
    throw new TsruncError(`creating state directory ${dir}: ${(error as Error).message}`);
  }
  // The init may run as another user and must still reach exec.fifo through this directory.
  fs.chmodSync(dir, 0o711);
  return lockDir(dir, id);
}

export function readState(dir: string, id: string): TsruncState {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, STATE_FILE), 'utf8')) as TsruncState;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new TsruncError(`container ${id} does not exist`);
    throw new TsruncError(`reading the state of container ${id}: ${(error as Error).message}`);
  }
}

export interface OpenedContainer {
  lock: LockedDir;
  state: TsruncState;
}

/** Locks an existing container and reads its state. */
export function openContainer(root: string, id: string): OpenedContainer {
  const dir = containerDir(root, id);
  if (!fs.existsSync(path.join(dir, STATE_FILE))) throw new TsruncError(`container ${id} does not exist`);
  const lock = lockDir(dir, id);
  try {
    return { lock, state: readState(dir, id) };
  } catch (error) {
    lock.release();
    throw error;
  }
}

/** temp + rename, so a reader never sees half a file. */
export function writeFileAtomic(file: string, content: string, mode = 0o644): void {
  const temp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temp, content, { mode });
  fs.renameSync(temp, file);
}

export function writeState(dir: string, state: TsruncState): void {
  writeFileAtomic(path.join(dir, STATE_FILE), JSON.stringify(state));
}

export function removeContainerDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

export function listContainerIds(root: string): string[] {
  try {
    return fs
      .readdirSync(path.resolve(root), { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && fs.existsSync(path.join(path.resolve(root), entry.name, STATE_FILE)))
      .map((entry) => entry.name)
      .sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}
