/**
 * The state store under --root: one directory per container holding state.json (written
 * atomically) and, until start, exec.fifo. Commands on one id hold an flock on its directory.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { TsruncState } from '../spec/state.js';
import { TsruncError } from '../errors.js';
import * as libc from '../linux/libc.js';
import { STATE_FILE, containerDir, openContainerDir, readStateAt } from './state-files.js';

// The lock-free readers live in state-files.ts (no koffi); re-exported for the writers' callers.
export { EXEC_FIFO, STATE_FILE, containerDir, readState } from './state-files.js';

export interface LockedDir {
  /** Reaches the directory through its fd (/proc/self/fd/N): no symlink swapped in can redirect it. */
  dir: string;
  /** `<root>/<id>`, for messages and for removing the directory itself. */
  path: string;
  fd: number;
  release(): void;
}

function lockDir(dirPath: string, id: string): LockedDir {
  const fd = openContainerDir(dirPath);
  if (fd === undefined) throw new TsruncError(`container ${id} does not exist`);
  try {
    libc.flock(fd, libc.LOCK_EX, `locking container ${id}`);
  } catch (error) {
    fs.closeSync(fd);
    throw error;
  }
  // Locked, but perhaps after another command removed it and a new create made the id anew:
  // only the directory that is still <root>/<id> is this container's.
  const held = fs.fstatSync(fd);
  const current = fs.lstatSync(dirPath, { throwIfNoEntry: false });
  if (!current || current.ino !== held.ino || current.dev !== held.dev) {
    fs.closeSync(fd);
    throw new TsruncError(`container ${id} does not exist`);
  }
  let released = false;
  return {
    dir: `/proc/self/fd/${fd}`,
    path: dirPath,
    fd,
    release() {
      if (!released) fs.closeSync(fd);
      released = true;
    },
  };
}

/**
 * Makes the directory for a new id, refusing one that exists, and locks it. The directory is
 * 0700 (and --root, when made here): state.json holds the config, environment and all. The
 * init never needs it: it is handed exec.fifo by fd.
 */
export function createContainerDir(root: string, id: string): LockedDir {
  fs.mkdirSync(path.resolve(root), { recursive: true, mode: 0o700 });
  const dir = containerDir(root, id);
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new TsruncError(`container with id exists: ${id}`);
    }
    throw new TsruncError(`creating state directory ${dir}: ${(error as Error).message}`);
  }
  return lockDir(dir, id);
}

export interface OpenedContainer {
  lock: LockedDir;
  state: TsruncState;
}

/** Locks an existing container and reads its state. */
export function openContainer(root: string, id: string): OpenedContainer {
  const lock = lockDir(containerDir(root, id), id);
  try {
    return { lock, state: readStateAt(lock.fd, id) };
  } catch (error) {
    lock.release();
    throw error;
  }
}

/** Locks a container's directory, whatever is (or is not) in it: for delete --force. */
export function lockContainerDir(root: string, id: string): LockedDir | undefined {
  try {
    return lockDir(containerDir(root, id), id);
  } catch (error) {
    if (error instanceof TsruncError && error.message === `container ${id} does not exist`) return undefined;
    throw error;
  }
}

/** temp + rename, so a reader never sees half a file. Private by default: state.json holds the config. */
export function writeFileAtomic(file: string, content: string, mode = 0o600): void {
  const temp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temp, content, { mode });
  fs.renameSync(temp, file);
}

export function writeState(dir: string, state: TsruncState): void {
  writeFileAtomic(path.join(dir, STATE_FILE), JSON.stringify(state));
}

/**
 * Empties the locked directory through its fd, then removes it by name: rmdir(2) does not
 * follow a symlink, so one swapped in meanwhile makes this fail rather than reach elsewhere.
 */
export function removeContainerDir(lock: LockedDir, afterStateFile?: () => void): void {
  let names: string[];
  try {
    names = fs.readdirSync(lock.dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  // state.json first: from then on the container no longer shows in `state` and `list`.
  if (names.includes(STATE_FILE)) {
    fs.unlinkSync(path.join(lock.dir, STATE_FILE));
    names = names.filter((name) => name !== STATE_FILE);
  }
  afterStateFile?.();
  for (const name of names) {
    const entry = path.join(lock.dir, name);
    try {
      fs.unlinkSync(entry);
    } catch {
      fs.rmSync(entry, { recursive: true, force: true }); // something else in it (a directory)
    }
  }
  try {
    fs.rmdirSync(lock.path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new TsruncError(`removing state directory ${lock.path}: ${(error as Error).message}`);
    }
  }
}

/** delete --force of an id whose `<root>/<id>` is not a directory (a symlink, a file): only that entry goes. */
export function removeNonDirectoryEntry(root: string, id: string): void {
  const entry = containerDir(root, id);
  const stat = fs.lstatSync(entry, { throwIfNoEntry: false });
  if (stat && !stat.isDirectory()) fs.unlinkSync(entry);
}
