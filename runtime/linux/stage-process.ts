/**
 * Starting the native stage (runtime/native/) and talking to it.
 *
 * The stage runs from a sealed copy of its binary: a memfd with every write seal, exec'd
 * through /proc/<tsrunc>/fd/N. A process in the container that gets hold of the stage's
 * /proc/PID/exe can neither reach a file on the host through it nor change the copy (runc's
 * defence against CVE-2019-5736). The stage is spawned like any program (libuv forks and execs
 * it), so it starts in tsrunc's namespaces with the fds of its table and nothing else; the
 * batches it performs come over its channel (fd 3), and it answers with JSON lines.
 */
import fs from 'node:fs';
import type net from 'node:net';
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { TsruncError } from '../errors.js';
import { nativeDir } from '../install-paths.js';
import { encodeBatch } from '../plan/encode.js';
import type { StageOp } from '../plan/ops.js';
import * as libc from './libc.js';

export const STAGE_BINARY = `${nativeDir}/tsrunc-stage`;

let sealed: number | undefined;

/** The stage binary copied into a sealed memfd, once per tsrunc process. */
function sealedStage(): number {
  if (sealed !== undefined) return sealed;
  let binary: Buffer;
  try {
    binary = fs.readFileSync(STAGE_BINARY);
  } catch (error) {
    throw new TsruncError(`the native stage ${STAGE_BINARY} is not there (run make): ${(error as NodeJS.ErrnoException).code ?? error}`);
  }
  const context = 'copying the native stage into a sealed memfd';
  const fd = libc.memfdCreate('tsrunc-stage', context);
  try {
    let offset = 0;
    while (offset < binary.length) offset += fs.writeSync(fd, binary, offset);
    libc.addSeals(fd, libc.F_SEAL_SEAL | libc.F_SEAL_SHRINK | libc.F_SEAL_GROW | libc.F_SEAL_WRITE, context);
  } catch (error) {
    libc.close(fd);
    throw error;
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

export class StageSession {
  private pending = '';
  private readonly queue: StageMessage[] = [];
  private waiting: ((message: StageMessage) => void) | undefined;
  private closed = false;

  constructor(readonly child: ChildProcess, private readonly channel: net.Socket) {
    channel.on('data', (chunk: Buffer) => {
      this.pending += chunk.toString('utf8');
      const lines = this.pending.split('\n');
      this.pending = lines.pop() ?? '';
      for (const line of lines) {
        if (line === '') continue;
        let message: StageMessage;
        try {
          message = JSON.parse(line) as StageMessage;
        } catch {
          message = { type: 'error', message: `the native stage said something unreadable: ${line.slice(0, 200)}` };
        }
        this.deliver(message);
      }
    });
    channel.on('error', () => undefined); // its end is what matters, below
    channel.on('close', () => {
      this.closed = true;
      this.deliver({ type: 'closed' });
    });
    child.on('error', (error) => this.deliver({ type: 'error', message: `starting the native stage: ${error.message}` }));
  }

  private deliver(message: StageMessage): void {
    const waiter = this.waiting;
    if (waiter) {
      this.waiting = undefined;
      waiter(message);
    } else {
      this.queue.push(message);
    }
  }

  /** The stage's first process (it exits once it cloned the init). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  send(ops: readonly StageOp[]): void {
    if (!this.closed) this.channel.write(encodeBatch(ops));
  }

  /** The next message; { type: 'closed' } (again and again) once the channel ended. */
  next(): Promise<StageMessage> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.closed) return Promise.resolve({ type: 'closed' });
    return new Promise((resolve) => (this.waiting = resolve));
  }

  /** Ends the conversation: a stage waiting for a batch exits. */
  close(): void {
    this.channel.destroy();
  }
}

/**
 * Spawns the stage with these fds (entry i becomes its fd i; 'pipe' at 3 is the channel).
 * `args` are for `ps` readers ("tsrunc init <id> <dir>"); its environment is empty.
 */
export function startStage(stdio: StdioOptions, args: string[]): StageSession {
  const binary = `/proc/${process.pid}/fd/${sealedStage()}`;
  const child = spawn(binary, args, { argv0: 'tsrunc', stdio, env: {} });
  const channel = child.stdio[3] as net.Socket | null;
  if (!channel) throw new TsruncError('internal: the native stage was spawned without its channel');
  return new StageSession(child, channel);
}
