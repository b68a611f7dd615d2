/**
 * The state store under --root: one directory per container holding state.json (written
 * atomically) and, until start, exec.fifo. Commands on one id hold an flock on its directory.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { TsruncState } from '../spec/state.js';
import { TsruncError } from '../errors.js';
import * as libc from '../linux/libc.js';
import { STATE_FILE, containerDir, readState } from './state-files.js';

// The lock-free readers live in state-files.ts (no koffi); re-exported for the writers' callers.
export { EXEC_FIFO, STATE_FILE, containerDir, readState } from './state-files.js';

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

/** The directory holds a few plain files: unlinked one by one (fs.rmSync's walk costs ~1 ms more). */
export function removeContainerDir(dir: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  try {
    for (const name of names) fs.unlinkSync(path.join(dir, name));
    fs.rmdirSync(dir);
  } catch {
    fs.rmSync(dir, { recursive: true, force: true }); // something else in it (a directory)
  }
}
