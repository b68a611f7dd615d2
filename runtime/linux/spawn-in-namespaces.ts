/**
 * Spawning a process inside new or joined namespaces from multithreaded Node (DESIGN.md):
 * move the main thread in, spawn (libuv forks from this thread), move the main thread back.
 * No async work may run in between: libuv's other threads never moved.
 */
import fs from 'node:fs';
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { TsruncError } from '../errors.js';
import * as libc from './libc.js';
import { CLONE_FS, namespaceKinds, checkNamespacePath, type NamespacePlan, type NamespaceType } from './namespaces.js';

export interface SpawnRequest {
  command: string;
  args: string[];
  stdio: StdioOptions;
  env: NodeJS.ProcessEnv;
}

export function spawnInNamespaces(plan: NamespacePlan, request: SpawnRequest): ChildProcess {
  for (const join of plan.joins) checkNamespacePath(join.type, join.path);
  const moved: NamespaceType[] = [...plan.joins.map((j) => j.type)];
  for (const type of plan.types) if (!moved.includes(type) && type !== 'cgroup') moved.push(type);

  const cwd = process.cwd();
  const saved = moved.map((type) => ({
    type,
    fd: fs.openSync(`/proc/self/ns/${namespaceKinds[type].procEntry}`, 'r'),
  }));
  let child: ChildProcess;
  try {
    // A thread sharing its fs attributes with others may not change mount namespace.
    libc.unshare(CLONE_FS, 'unshare(CLONE_FS)');
    for (const join of plan.joins) {
      const fd = fs.openSync(join.path, 'r');
      try {
        libc.setns(fd, namespaceKinds[join.type].flag, `joining ${join.type} namespace ${join.path}`);
      } finally {
        fs.closeSync(fd);
      }
    }
    if (plan.unshareFlags !== 0) libc.unshare(plan.unshareFlags, 'creating namespaces');
    child = spawn(request.command, request.args, { stdio: request.stdio, env: request.env });
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
  return child;
}
