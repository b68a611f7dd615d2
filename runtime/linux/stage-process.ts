/**
 * Starting the native stage (runtime/native/) and talking to it.
 *
 * The stage runs from a sealed copy of its binary: a memfd with every write seal, exec'd
 * through /proc/<tsrunc>/fd/N. A process in the container that gets hold of the stage's
 * /proc/PID/exe can neither reach a file on the host through it nor change the copy (runc's
 * defence against CVE-2019-5736). It is spawned like any program (posix_spawn, through koffi:
 * libuv's spawn would cost loading node:child_process and a fork of Node), so it starts in
 * tsrunc's namespaces with the fds of its table and nothing else; the batches it performs come
 * over its channel (fd 3), and it answers with JSON lines.
 */
import fs from 'node:fs';
import { TsruncError } from '../errors.js';
import { nativeDir } from '../install-paths.js';
import { encodeBatch } from '../plan/encode.js';
import type { StageOp } from '../plan/ops.js';
import * as libc from './libc.js';
import { WatchedProcess } from './watched-process.js';
import { isDebugOn, logDebug } from '../log.js';

export const STAGE_BINARY = `${nativeDir}/tsrunc-stage`;

let sealed: number | undefined;

/** The stage binary copied into a sealed memfd, once per tsrunc process. */
function sealedStage(): number {
  if (sealed !== undefined) return sealed;
  let binary: number;
  try {
    binary = fs.openSync(STAGE_BINARY, 'r');
  } catch (error) {
    throw new TsruncError(`the native stage ${STAGE_BINARY} is not there (run make): ${(error as NodeJS.ErrnoException).code ?? error}`);
  }
  const context = 'copying the native stage into a sealed memfd';
  let fd: number | undefined;
  try {
    fd = libc.memfdCreate('tsrunc-stage', context);
    libc.copyFile(binary, fd, fs.fstatSync(binary).size, context);
    libc.addSeals(fd, libc.F_SEAL_SEAL | libc.F_SEAL_SHRINK | libc.F_SEAL_GROW | libc.F_SEAL_WRITE, context);
  } catch (error) {
    if (fd !== undefined) libc.close(fd);
    throw error;
  } finally {
    fs.closeSync(binary);
  }
  return (sealed = fd);
}

/** A message from the stage (runtime/native/report.c); 'closed' when its channel ended. */
export type StageMessage =
  | { type: 'pid'; pid: number }
  | { type: 'error'; message: string }
  | { type: 'resolved'; check: number; path: string }
  | { type: 'closed' }
  | { type: string; [field: string]: unknown };

/**
 * The conversation with a stage, synchronous: tsrunc has nothing else to do while the stage
 * works, and a blocking read on the channel ends when the stage answers, exits (EOF: its ends
 * of the channel are gone) or execs the program (its ends are close-on-exec).
 */
export class StageSession {
  private pending = Buffer.alloc(0);
  private closed = false;
  private readonly buffer = Buffer.alloc(64 * 1024);

  constructor(readonly child: WatchedProcess, private readonly channel: number) {}

  /** The stage's first process (it exits once it cloned the init). */
  get pid(): number {
    return this.child.pid;
  }

  send(ops: readonly StageOp[]): void {
    if (this.closed) return;
    if (isDebugOn()) {
      if (ops.length === 0) logDebug(`stage ${this.pid}: an empty batch (go on)`);
      for (const op of ops) logDebug(`stage ${this.pid} will: ${describeOp(op)}`);
    }
    try {
      libc.writeAll(this.channel, encodeBatch(ops), 'sending the native stage its next operations');
    } catch {
      // It is gone: its error, or the end of the channel, is what next() reports.
    }
  }

  /** The next message; { type: 'closed' } (again and again) once the channel ended. */
  next(): StageMessage {
    for (;;) {
      const newline = this.pending.indexOf(10);
      if (newline >= 0) {
        const line = this.pending.subarray(0, newline).toString('utf8');
        this.pending = this.pending.subarray(newline + 1);
        if (line === '') continue;
        if (isDebugOn()) logDebug(`stage ${this.pid} says: ${line}`);
        try {
          return JSON.parse(line) as StageMessage;
        } catch {
          return { type: 'error', message: `the native stage said something unreadable: ${line.slice(0, 200)}` };
        }
      }
      if (this.closed) return { type: 'closed' };
      let count: number;
      try {
        count = fs.readSync(this.channel, this.buffer, 0, this.buffer.length, null);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EINTR' || (error as NodeJS.ErrnoException).code === 'EAGAIN') continue;
        count = 0;
      }
      if (count === 0) this.close();
      else this.pending = Buffer.concat([this.pending, this.buffer.subarray(0, count)]);
    }
  }

  /** Ends the conversation: a stage waiting for a batch exits. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    libc.close(this.channel);
  }
}

/** An fd of the stage: a host fd, /dev/null, or its channel. */
export type StageFd = number | 'ignore' | 'pipe';

/**
 * Spawns the stage with these fds (entry i becomes its fd i; 'pipe' is the channel, at 3).
 * `args` are for `ps` readers ("tsrunc init <id> <dir>"); its environment is empty.
 */
export function startStage(fds: readonly StageFd[], args: string[]): StageSession {
  const context = 'starting the native stage';
  const binary = `/proc/self/fd/${sealedStage()}`;
  const [parentEnd, childEnd] = libc.socketpair(`${context}: its channel`);
  let devNull: number | undefined;
  try {
    const sources = fds.map((fd) => {
      if (fd === 'pipe') return childEnd;
      if (fd === 'ignore') return (devNull ??= libc.open('/dev/null', libc.O_RDWR | libc.O_CLOEXEC, 0, `${context}: /dev/null`));
      return fd;
    });
    const pid = libc.spawnWithFds(binary, ['tsrunc', ...args], sources, context);
    return new StageSession(new WatchedProcess(pid), parentEnd);
  } catch (error) {
    libc.close(parentEnd);
    throw error;
  } finally {
    libc.close(childEnd);
    if (devNull !== undefined) libc.close(devNull);
  }
}

/** One operation as a debug line: its name, what it is for, and its arguments. */
function describeOp(op: StageOp): string {
  const { op: name, label, ...fields } = op;
  return `${name} ${JSON.stringify(fields)} (${label})`;
}
