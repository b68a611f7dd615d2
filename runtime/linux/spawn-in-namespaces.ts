/**
 * Spawning a process inside new or joined namespaces from multithreaded Node (DESIGN.md):
 * move the main thread in, spawn (libuv forks from this thread), move the main thread back.
 * No async work may run in between: libuv's other threads never moved.
 *
 * A user namespace cannot be entered that way (a multithreaded process may neither unshare nor
 * join one): then the native stage (native-stage.ts) clones the init, and the user namespace,
 * with the namespaces it must own, is made by that clone or joined in its single-threaded child.
 */
import fs from 'node:fs';
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import type { Duplex } from 'node:stream';
import { TsruncError } from '../errors.js';
import * as libc from './libc.js';
import { CLONE_FS, CLONE_NEWPID, namespaceKinds, checkNamespacePath, type NamespacePlan, type NamespaceType } from './namespaces.js';
import { spawnThroughStage } from './native-stage.js';
import { writeIdMaps } from './user-namespace.js';

export interface SpawnRequest {
  command: string;
  args: string[];
  stdio: StdioOptions;
  env: NodeJS.ProcessEnv;
}

/** What create, run and exec use of the init's process: a ChildProcess, or the native stage's child. */
export interface InitChild {
  readonly pid?: number | undefined;
  readonly exitCode: number | null;
  readonly signalCode: NodeJS.Signals | null;
  readonly stdio: readonly (Duplex | object | null | undefined)[];
  kill(signal?: NodeJS.Signals | number): boolean;
  unref(): void;
  on(event: 'exit' | 'close', listener: (code: number | null, signal: NodeJS.Signals | null) => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
  once(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): this;
}

type Join = NamespacePlan['joins'][number];

/**
 * Runs `start` with the main thread in the joined namespaces and new ones from `unshareFlags`,
 * then moves it back, whatever happened.
 */
function withMainThreadIn<T>(joins: readonly Join[], unshareFlags: number, unshared: readonly NamespaceType[], start: () => T): T {
  const moved: NamespaceType[] = joins.map((j) => j.type);
  for (const type of unshared) if (!moved.includes(type) && type !== 'cgroup') moved.push(type);
  if (moved.length === 0) return start();

  const cwd = process.cwd();
  const saved = moved.map((type) => ({
    type,
    fd: fs.openSync(`/proc/self/ns/${namespaceKinds[type].procEntry}`, 'r'),
  }));
  try {
    // A thread sharing its fs attributes with others may not change mount namespace.
    libc.unshare(CLONE_FS, 'unshare(CLONE_FS)');
    for (const join of joins) {
      const fd = fs.openSync(join.path, 'r');
      try {
        libc.setns(fd, namespaceKinds[join.type].flag, `joining ${join.type} namespace ${join.path}`);
      } finally {
        fs.closeSync(fd);
      }
    }
    if (unshareFlags !== 0) libc.unshare(unshareFlags, 'creating namespaces');
    return start();
  } finally {
    for (const { type, fd } of saved) {
      try {
        libc.setns(fd, 0, `returning to the original ${type} namespace`);
      } catch (error) {
        // The runtime itself is now in the wrong place: nothing after this can be trusted.
        throw new TsruncError(`fatal: ${(error as Error).message}`);
      } finally {
        fs.closeSync(fd);
      }
    }
    // setns into a mount namespace moves cwd and root to that namespace's root.
    process.chdir(cwd);
  }
}

export function spawnInNamespaces(plan: NamespacePlan, request: SpawnRequest): InitChild {
  for (const join of plan.joins) checkNamespacePath(join.type, join.path);
  if (plan.types.includes('user')) return spawnWithUserNamespace(plan, request);
  return withMainThreadIn(plan.joins, plan.unshareFlags, plan.types, (): ChildProcess =>
    spawn(request.command, request.args, { stdio: request.stdio, env: request.env }),
  );
}

/** The native stage's fd list from spawn()'s stdio: 'inherit' for 0-2, 'pipe' (the channel) at 3, fds after. */
function stageFds(stdio: StdioOptions): (number | 'channel')[] {
  const list = Array.isArray(stdio) ? stdio : [stdio, stdio, stdio];
  return list.map((entry, index) => {
    if (entry === 'inherit' && index <= 2) return libc.isOpen(index) ? index : -1;
    if (entry === 'pipe' && index === 3) return 'channel';
    if (typeof entry === 'number') return entry;
    throw new TsruncError(`internal: the native stage cannot pass stdio ${String(entry)} at fd ${index}`);
  });
}

function envList(env: NodeJS.ProcessEnv): string[] {
  return Object.entries(env).filter(([, value]) => value !== undefined).map(([key, value]) => `${key}=${value}`);
}

/**
 * New user namespace: the main thread joins the other joined namespaces (as today), and one
 * clone makes the user namespace and every other new one, which it then owns; the parent
 * writes the id maps before the child goes on. Joined user namespace: the child joins it
 * first, then the rest (they may belong to it), then creates the new ones from inside it.
 */
function spawnWithUserNamespace(plan: NamespacePlan, request: SpawnRequest): InitChild {
  const base = { command: request.command, args: request.args, env: envList(request.env), fds: stageFds(request.stdio) };
  const userJoin = plan.joins.find((join) => join.type === 'user');
  if (userJoin === undefined) {
    const started = withMainThreadIn(plan.joins, 0, [], () =>
      spawnThroughStage({ ...base, joins: [], cloneFlags: plan.unshareFlags, unshareFlags: 0, cloneAgain: false, waitForMaps: true }),
    );
    try {
      if (plan.user) writeIdMaps(started.child.pid, plan.user);
    } catch (error) {
      started.release(false);
      throw error;
    }
    started.release(true);
    return started.child;
  }

  const ordered = [userJoin, ...plan.joins.filter((join) => join !== userJoin)];
  const fds: number[] = [];
  try {
    for (const join of ordered) fds.push(libc.open(join.path, libc.O_RDONLY | libc.O_CLOEXEC, 0, `opening ${join.type} namespace ${join.path}`));
    return spawnThroughStage({
      ...base,
      joins: ordered.map((join, index) => ({ fd: fds[index]!, nstype: namespaceKinds[join.type].flag, name: `${join.type} namespace ${join.path}` })),
      cloneFlags: 0,
      unshareFlags: plan.unshareFlags,
      cloneAgain: plan.types.includes('pid') || (plan.unshareFlags & CLONE_NEWPID) !== 0,
      waitForMaps: false,
    }).child;
  } finally {
    for (const fd of fds) libc.close(fd);
  }
}
